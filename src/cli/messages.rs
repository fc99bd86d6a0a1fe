//! `smppgate messages show|list`: the send log, read from the store.
//!
//! The store is single-process (docs/adr/0002-storage-engine.md): while a gateway holds
//! it, these commands stop with "the store … is in use by a running gateway (pid …)"
//! instead of reading a store that is being written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::config::{Config, StoreConfig};
use crate::store::{FjallStore, ListFilter, MessageRecord, Millis, State, Store, now_millis};

/// Arguments of `smppgate messages`.
#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: MessagesCommand,
}

/// `smppgate messages` subcommands.
#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// One message's life: account, acceptance, parts with carrier ids, states.
    Show(ShowArgs),
    /// Messages, newest first.
    List(ListArgs),
}

/// Which store to read.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store directory.
    #[arg(long, conflicts_with = "config")]
    pub store: Option<PathBuf>,
    /// The gateway's configuration file (its `[store] path`).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Arguments of `smppgate messages show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The message id (decimal, or hexadecimal with `0x`).
    pub id: String,
}

/// Arguments of `smppgate messages list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Accepted within this long (`10m`, `2h`) or since this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// Only messages in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON (one array).
    #[arg(long)]
    pub json: bool,
}

/// `--state` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// Acknowledged, not yet accepted by a carrier.
    Accepted,
    /// Accepted by a carrier, no final receipt yet.
    Sent,
    /// Delivered.
    Delivered,
    /// Undeliverable or failed.
    Failed,
    /// Expired.
    Expired,
    /// Rejected.
    Rejected,
    /// Deleted or unknown.
    Unknown,
}

impl From<StateArg> for State {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Accepted => Self::Accepted,
            StateArg::Sent => Self::Sent,
            StateArg::Delivered => Self::Delivered,
            StateArg::Failed => Self::Failed,
            StateArg::Expired => Self::Expired,
            StateArg::Rejected => Self::Rejected,
            StateArg::Unknown => Self::Unknown,
        }
    }
}

/// Runs `smppgate messages`.
///
/// # Errors
/// Bad arguments, a missing store, a store in use by a gateway, a read failure.
pub fn run(args: MessagesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MessagesCommand::Show(args) => show(&args),
        MessagesCommand::List(args) => list(&args),
    }
}

pub(crate) fn open(args: &StoreArgs) -> anyhow::Result<FjallStore> {
    let path = match (&args.store, &args.config) {
        (Some(path), _) => path.clone(),
        (None, Some(config)) => Config::load(config)?.store.path,
        (None, None) => StoreConfig::default().path,
    };
    if !path.is_dir() {
        bail!(
            "no store at {} (use --store DIR or --config FILE)",
            path.display()
        );
    }
    // Reads only: no fsync.
    Ok(FjallStore::open(&path, false)?)
}

fn parse_id(id: &str) -> anyhow::Result<u64> {
    let parsed = match id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => id.parse(),
    };
    parsed.with_context(|| format!("message id {id:?}: a decimal number or 0x and hex digits"))
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let id = parse_id(&args.id)?;
    let store = open(&args.store)?;
    let Some(record) = store.get(id)? else {
        bail!(
            "no message {id} in {} (never stored, or expired by retention)",
            store.path().display()
        );
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&record_json(&record))?);
    } else {
        print!("{}", show_text(&record));
    }
    Ok(ExitCode::SUCCESS)
}

/// `since` as milliseconds: a duration back from `now`, or an RFC 3339 time.
fn parse_since(since: &str, now: Millis) -> anyhow::Result<Millis> {
    if let Ok(ago) = humantime::parse_duration(since) {
        let ago = u64::try_from(ago.as_millis()).unwrap_or(u64::MAX);
        return Ok(now.saturating_sub(ago));
    }
    let time = humantime::parse_rfc3339_weak(since)
        .with_context(|| format!("--since {since:?}: a duration (10m, 2h) or an RFC 3339 time"))?;
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Ok(u64::try_from(millis).unwrap_or(u64::MAX))
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let filter = ListFilter {
        since: args
            .since
            .as_deref()
            .map(|since| parse_since(since, now_millis()))
            .transpose()?,
        account: args.account.clone(),
        state: args.state.map(State::from),
        limit: args.limit.max(1),
    };
    let store = open(&args.store)?;
    let records = store.list(&filter)?;
    if args.json {
        let all: Vec<Value> = records.iter().map(record_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        println!(
            "{:<20} {:<24} {:<16} {:<12} {:<9} {:>5}  carriers",
            "id", "accepted", "account", "class", "state", "parts"
        );
        for record in &records {
            let carriers: Vec<String> = record
                .parts
                .iter()
                .map(|part| match (&part.carrier, &part.carrier_id) {
                    (Some(carrier), Some(id)) => format!("{carrier}:{id}"),
                    (Some(carrier), None) => carrier.clone(),
                    _ => "-".to_owned(),
                })
                .collect();
            println!(
                "{:<20} {:<24} {:<16} {:<12} {:<9} {:>5}  {}",
                record.id,
                time(record.accepted),
                record.account,
                record.class.as_str(),
                state_name(record.state),
                record.part_count,
                carriers.join(" ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn time(millis: Millis) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis)).to_string()
}

const fn state_name(state: State) -> &'static str {
    match state {
        State::Accepted => "accepted",
        State::Sent => "sent",
        State::Delivered => "delivered",
        State::Failed => "failed",
        State::Expired => "expired",
        State::Rejected => "rejected",
        State::Unknown => "unknown",
    }
}

/// The JSON form of a record (the upstream request as hex).
#[must_use]
pub fn record_json(record: &MessageRecord) -> Value {
    let parts: Vec<Value> = record
        .parts
        .iter()
        .enumerate()
        .map(|(index, part)| {
            json!({
                "part": index,
                "state": state_name(part.state),
                "carrier": part.carrier,
                "carrier_id": part.carrier_id,
                "status": part.status,
                "attempts": part.attempts,
                "error": part.error,
                "updated": time(part.updated),
            })
        })
        .collect();
    json!({
        "id": record.id,
        "account": record.account,
        "accepted": time(record.accepted),
        "class": record.class.as_str(),
        "route": record.route,
        "state": state_name(record.state),
        "part_count": record.part_count,
        "wants_receipt": record.wants_receipt,
        "parts": parts,
        "request": hex::encode(&record.request),
    })
}

/// The text form of `messages show`.
#[must_use]
pub fn show_text(record: &MessageRecord) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "message   {}", record.id);
    let _ = writeln!(out, "account   {}", record.account);
    let _ = writeln!(out, "accepted  {}", time(record.accepted));
    let _ = writeln!(out, "class     {}", record.class.as_str());
    let _ = writeln!(out, "route     {}", record.route.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "state     {}", state_name(record.state));
    let _ = writeln!(
        out,
        "receipt   {}",
        if record.wants_receipt {
            "requested"
        } else {
            "not requested"
        }
    );
    let _ = writeln!(out, "parts     {}", record.part_count);
    for (index, part) in record.parts.iter().enumerate() {
        let _ = writeln!(
            out,
            "  part {index}: {:<9} carrier {} id {} status 0x{:08X} attempts {} error {} updated {}",
            state_name(part.state),
            part.carrier.as_deref().unwrap_or("-"),
            part.carrier_id.as_deref().unwrap_or("-"),
            part.status,
            part.attempts,
            part.error.as_deref().unwrap_or("-"),
            time(part.updated),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_since() {
        assert_eq!(parse_id("42").unwrap(), 42);
        assert_eq!(parse_id("0x2a").unwrap(), 42);
        assert!(parse_id("forty").is_err());
        assert_eq!(parse_since("10m", 1_000_000).unwrap(), 400_000);
        assert_eq!(parse_since("1970-01-01T00:00:01Z", 5).unwrap(), 1000);
        assert!(parse_since("yesterday", 5).is_err());
    }
}
