//! Command line: `clap` parsing and dispatch to one module per subcommand.
//!
//! Every subcommand returns `anyhow::Result`; an error is printed as one line beginning
//! `error:` on stderr and the process exits 1. Argument errors are clap's (exit 2).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod api_key;
pub mod blacklist;
pub mod check_config;
mod exporter;
pub mod hash_password;
pub mod messages;
pub mod pdu;
pub mod receipt;
pub mod remote;
pub mod review;
pub mod send;
pub mod serve;
pub mod sim;
pub mod sim_china;
pub mod stats;
pub mod suppress;
pub mod text;

/// smppgate — a carrier-grade SMPP 3.4 gateway.
#[derive(Debug, Parser)]
#[command(name = "smppgate", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode and encode SMPP PDUs (hex, JSON, pcap).
    Pdu(pdu::PduArgs),
    /// Encode and split text into SMS segments.
    Text(text::TextArgs),
    /// Parse delivery receipts; list the ones the gateway could not match.
    #[command(alias = "receipts")]
    Receipt(receipt::ReceiptArgs),
    /// Run a simulated carrier SMSC until SIGINT/SIGTERM.
    Sim(Box<sim::SimArgs>),
    /// Bind as an ESME and send a message (or --count copies of it).
    Send(Box<send::SendArgs>),
    /// Run the gateway until SIGINT/SIGTERM (no --config: the demo set-up).
    Serve(serve::ServeArgs),
    /// Print the Argon2id hash of a password for an account's `password_hash`.
    HashPassword(hash_password::HashPasswordArgs),
    /// Validate a configuration file: a summary, or each problem with its line.
    CheckConfig(check_config::CheckConfigArgs),
    /// The send log: one message's life, or a list (reads the store).
    Messages(messages::MessagesArgs),
    /// HTTP API keys: `api-key new --account NAME` or `--admin`.
    ApiKey(api_key::ApiKeyArgs),
    /// The opt-out suppression list: add, remove, check, list, import, export (on the
    /// store, or through the running gateway).
    Suppress(suppress::SuppressArgs),
    /// Look a number up in the policies' blacklists; reload a running gateway's.
    Blacklist(blacklist::BlacklistArgs),
    /// Messages held for review (`sensitive_action = "hold"`): list, release, refuse (on
    /// the store, or through the running gateway).
    Review(review::ReviewArgs),
    /// Delivery statistics: sent, delivered, failed, expired, refused by rule, delivery
    /// rate, p50/p99 submit → receipt (reads the store).
    Stats(stats::StatsArgs),
}

/// Parses the command line, runs the subcommand, and turns its outcome into an exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Pdu(args) => pdu::run(args),
        Command::Text(args) => text::run(args),
        Command::Receipt(args) => receipt::run(args),
        Command::Sim(args) => sim::run(*args),
        Command::Send(args) => send::run(*args),
        Command::Serve(args) => serve::run(args),
        Command::HashPassword(args) => hash_password::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::Messages(args) => messages::run(args),
        Command::ApiKey(args) => api_key::run(args),
        Command::Suppress(args) => suppress::run(args),
        Command::Blacklist(args) => blacklist::run(args),
        Command::Review(args) => review::run(args),
        Command::Stats(args) => stats::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`); stdout stays for results.
pub(crate) fn init_logging() {
    init_logging_at("warn");
}

/// Logs to stderr, filtered by `RUST_LOG` (default `default`).
pub(crate) fn init_logging_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
