//! `smppgate stats`: delivery statistics from the store's per-hour counters
//! ([`crate::stats::query`]). Reads the store when the gateway is stopped (the store is
//! single-process); a running one is asked over its HTTP API (`GET /v1/stats`, the same
//! query: `--api`, or found from the store it holds as `messages` finds it). With
//! `[cluster]` in the configuration it reads JetStream's counters, nodes running or not:
//! the cluster's totals (every node's counts).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::messages::{StoreArgs, open_any, parse_since};
use crate::stats::{By, Query, Row, query, table};
use crate::store::now_millis;

/// Arguments of `smppgate stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Or which running gateway.
    #[command(flatten)]
    pub api: super::remote::ApiArgs,
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
    let rows = match super::remote::Remote::choose(&args.api, &args.store)? {
        Some(remote) => {
            let by = clap::ValueEnum::to_possible_value(&args.by)
                .map(|value| value.get_name().to_owned())
                .unwrap_or_default();
            let answer = remote.get("/v1/stats", &[("since", args.since.clone()), ("by", by)])?;
            serde_json::from_value::<Vec<Row>>(answer["rows"].clone())
                .context("the gateway's /v1/stats answer")?
        }
        None => {
            let store = open_any(&args.store)?;
            query(&*store, &Query { since, by: args.by })?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}
