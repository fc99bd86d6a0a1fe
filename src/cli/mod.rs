//! Command line: `clap` parsing and dispatch to one module per subcommand.
//!
//! Every subcommand returns `anyhow::Result`; an error is printed as one line beginning
//! `error:` on stderr and the process exits 1. Argument errors are clap's (exit 2).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod pdu;
pub mod receipt;
pub mod send;
pub mod sim;
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
    /// Parse delivery receipts.
    Receipt(receipt::ReceiptArgs),
    /// Run a simulated carrier SMSC until SIGINT/SIGTERM.
    Sim(Box<sim::SimArgs>),
    /// Bind as an ESME and send a message (or --count copies of it).
    Send(Box<send::SendArgs>),
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
