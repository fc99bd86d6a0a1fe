//! `smppgate stats`: delivery statistics from the store's per-hour counters
//! ([`crate::stats::query`]). Reads the store, so the gateway must be stopped (the store
//! is single-process); a running gateway publishes the same counts on `/metrics`
//! (`smppgate_delivery_total`, `smppgate_submit_to_receipt_seconds`). With `[cluster]`
//! in the configuration it reads JetStream's counters, nodes running or not: the
//! cluster's totals (every node's counts).

use std::process::ExitCode;

use clap::Args;

use super::messages::{StoreArgs, open_any, parse_since};
use crate::stats::{By, Query, query, table};
use crate::store::now_millis;

/// Arguments of `smppgate stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Outcomes within this long (`24h`, `30days`) or since this time (RFC 3339); whole
    /// hours are counted.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// One row per account, route, carrier, UTC day or UTC hour (default: one total).
    #[arg(long, value_enum, default_value_t = By::Total)]
    pub by: By,
    /// Print JSON (one array of rows).
    #[arg(long)]
    pub json: bool,
}

/// Runs `smppgate stats`.
///
/// # Errors
/// A bad `--since`, or the store cannot be opened or read.
pub fn run(args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let since = parse_since(&args.since, now_millis())?;
    let store = open_any(&args.store)?;
    let rows = query(&*store, &Query { since, by: args.by })?;
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}
