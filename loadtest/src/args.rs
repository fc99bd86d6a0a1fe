//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser, ValueEnum};

use crate::mix::Mix;

/// `smpp-loadtest`: load-tests an SMPP 3.4 server.
#[derive(Debug, Clone, Parser)]
#[command(name = "smpp-loadtest", version, about)]
#[command(group(ArgGroup::new("length").args(["count", "duration"]).required(true)))]
pub struct Args {
    /// SMSC address, HOST:PORT.
    #[arg(long)]
    pub connect: String,
    /// system_id to bind with.
    #[arg(long)]
    pub system_id: String,
    /// password to bind with.
    #[arg(long)]
    pub password: String,
    /// Number of binds (connections).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub binds: u32,
    /// Bind type (receipts need trx).
    #[arg(long, value_enum, default_value_t = BindArg::Trx)]
    pub bind: BindArg,
    /// Window (outstanding submit_sm) per bind.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub window: u32,
    /// Messages to send (a long message is several submit_sm).
    #[arg(long)]
    pub count: Option<u64>,
    /// How long to send (`30s`, `2m`, `500ms`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Messages per second (`max`: closed loop, as fast as the windows allow).
    #[arg(long, default_value = "max", value_parser = parse_rate)]
    pub rate: Rate,
    /// Message mix by weight: short-gsm (1 part), long-gsm (3 parts), long-ucs2 (3 parts).
    #[arg(long, default_value = "short-gsm=100", value_parser = Mix::parse)]
    pub mix: Mix,
    /// Ask for delivery receipts and match them to the submits.
    #[arg(long)]
    pub receipts: bool,
    /// How long to wait for the last receipts after the last response.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub receipt_timeout: Duration,
    /// Runtime worker threads (1: a single-threaded runtime; default: one per bind, at
    /// most one per CPU).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Write every figure as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (SVG charts) to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// `--bind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BindArg {
    /// bind_transceiver.
    Trx,
    /// bind_transmitter.
    Tx,
}

/// `--rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Closed loop.
    Max,
    /// Open loop, messages per second.
    PerSecond(f64),
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Max => f.write_str("max"),
            Self::PerSecond(r) => write!(f, "{r}"),
        }
    }
}

/// Parses `max` or a positive number of messages per second.
///
/// # Errors
/// Anything else.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate::PerSecond(r)),
        _ => Err(format!("invalid rate {text:?} (a positive number, or max)")),
    }
}
