//! `smppgate blacklist check NUMBER` and `smppgate blacklist reload`.
//!
//! `reload` reaches a running gateway by SIGHUP to the pid in its store directory's
//! `LOCK` file (the store writes it there and holds the lock while it runs): the
//! gateway already owns the lists, and a signal needs no listener, credentials or
//! protocol of its own; the HTTP admin API of the next issue will call the same reload
//! function. Before signalling, the files are read here, so a file the gateway could not
//! read (it would keep its old list) is reported to the operator at once, with each line
//! that is not a number.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::policy::engine::{NoSuppressions, PolicyEngine};

/// `smppgate blacklist` arguments.
#[derive(Debug, Args)]
pub struct BlacklistArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BlacklistCommand,
}

/// The blacklist subcommands.
#[derive(Debug, Subcommand)]
pub enum BlacklistCommand {
    /// Which policies' blacklists hold NUMBER (in any form the gateway accepts).
    Check {
        /// The number.
        number: String,
        /// The gateway's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check every blacklist file, then make the running gateway read them again
    /// (SIGHUP to the pid in the store's LOCK file); binds stay up.
    Reload {
        /// The gateway's configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The store directory instead of the configured `store.path`.
        #[arg(long)]
        store: Option<PathBuf>,
    },
}

/// Runs `smppgate blacklist`.
///
/// # Errors
/// Unreadable configuration or list, no running gateway.
pub fn run(args: BlacklistArgs) -> anyhow::Result<ExitCode> {
    super::init_logging();
    match args.command {
        BlacklistCommand::Check { number, config } => check(&number, &config),
        BlacklistCommand::Reload { config, store } => reload(&config, store),
    }
}

fn engine(
    path: &Path,
) -> anyhow::Result<(
    Config,
    PolicyEngine,
    Vec<crate::policy::engine::PolicyReport>,
)> {
    let config = Config::load(path)?;
    let (engine, reports) = PolicyEngine::build(&config, Arc::new(NoSuppressions))?;
    Ok((config, engine, reports))
}

fn check(number: &str, path: &Path) -> anyhow::Result<ExitCode> {
    let (config, engine, _) = engine(path)?;
    let e164 = crate::numbers::normalise(number, &config.numbers.default_country)
        .with_context(|| format!("`{number}` is not a phone number"))?;
    let mut listed: Vec<String> = engine
        .policies()
        .into_iter()
        .filter(|policy| policy.blacklisted(&e164))
        .map(|policy| policy.name().to_owned())
        .collect();
    listed.sort_unstable();
    if listed.is_empty() {
        println!("{e164}: not blacklisted");
        // Exit 1 like grep: scripts can test it.
        Ok(ExitCode::FAILURE)
    } else {
        println!("{e164}: blacklisted by policy {}", listed.join(", "));
        Ok(ExitCode::SUCCESS)
    }
}

fn reload(path: &Path, store: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (config, _, reports) = engine(path)?;
    for report in &reports {
        if let Some(blacklist) = &report.blacklist {
            println!(
                "policy {}: {} numbers from {} lines, {} lines skipped",
                report.policy,
                report.blacklisted,
                blacklist.lines,
                blacklist.problem_count()
            );
            for problem in &blacklist.problems {
                println!("  skipped {problem}");
            }
        }
    }
    let dir = store.unwrap_or(config.store.path);
    let lock = dir.join("LOCK");
    let pid = std::fs::read_to_string(&lock)
        .with_context(|| format!("no running gateway: cannot read {}", lock.display()))?;
    let pid: i32 = pid
        .trim()
        .parse()
        .ok()
        .filter(|pid| *pid > 0)
        .with_context(|| format!("{} holds no pid; is a gateway running?", lock.display()))?;
    let target = rustix::process::Pid::from_raw(pid)
        .with_context(|| format!("{} holds no valid pid", lock.display()))?;
    rustix::process::kill_process(target, rustix::process::Signal::HUP)
        .with_context(|| format!("signalling the gateway (pid {pid})"))?;
    println!(
        "sent SIGHUP to the gateway (pid {pid}): it reads its configuration and blacklists again and logs the outcome (POST /v1/reload answers it)"
    );
    Ok(ExitCode::SUCCESS)
}
