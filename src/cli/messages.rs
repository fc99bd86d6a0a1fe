//! `smppgate messages show|list`: the send log, read from the store.
//!
//! The store is single-process (docs/adr/0002-storage-engine.md): while a gateway holds
//! it, these commands stop with "the store … is in use by a running gateway (pid …)"
//! instead of reading a store that is being written.
//!
//! Ids are read and printed the way the account's clients got them (its `id_style`):
//! `show` looks up every reading of the id it is given and keeps only those that the
//! record's account could have handed out, so the same digits never name a message of
//! an account that writes ids in the other style.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::config::{Config, IdStyle, StoreConfig};
use smppgate_protocol::command_status::CommandStatus;

use crate::gateway::ids::{format_id, readings};
use crate::policy::engine::Rule;
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
    /// Or which running gateway.
    #[command(flatten)]
    pub api: super::remote::ApiArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The message id as the client received it (in its account's `id_style`; `0x…` is
    /// always hexadecimal).
    pub id: String,
}

/// Arguments of `smppgate messages list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Or which running gateway.
    #[command(flatten)]
    pub api: super::remote::ApiArgs,
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
    /// Held for review (`smppgate review`).
    Held,
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
            StateArg::Held => Self::Held,
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

/// The store directory and, where known, the configuration that names its accounts
/// (no `--store` and no `--config`: the demo set-up's, as `smppgate serve` runs it).
pub(crate) fn locate(args: &StoreArgs) -> anyhow::Result<(PathBuf, Option<Config>)> {
    Ok(match (&args.store, &args.config) {
        (Some(path), _) => (path.clone(), None),
        (None, Some(config)) => {
            let config = Config::load(config)?;
            (config.store.path.clone(), Some(config))
        }
        (None, None) => (StoreConfig::default().path, Some(Config::demo())),
    })
}

fn open_at(path: &Path) -> anyhow::Result<FjallStore> {
    if !path.is_dir() {
        bail!(
            "no store at {} (use --store DIR or --config FILE)",
            path.display()
        );
    }
    // Reads only: no fsync.
    Ok(FjallStore::open(path, false)?)
}

/// The store a command reads: with `[cluster]` in the configuration the JetStream store
/// (every node's messages, statistics, outboxes), else the embedded store (read-only use).
pub(crate) fn open_any(args: &StoreArgs) -> anyhow::Result<Box<dyn Store>> {
    let (path, config) = locate(args)?;
    Ok(open_log(&path, config.as_ref())?.0)
}

/// The `[cluster]` section of the configuration `args` names, if it has one: commands
/// then work on JetStream, not on a store directory.
pub(crate) fn cluster_of(args: &StoreArgs) -> anyhow::Result<Option<crate::config::ClusterConfig>> {
    if args.store.is_some() {
        return Ok(None);
    }
    Ok(locate(args)?.1.and_then(|config| config.cluster))
}

/// Opens the JetStream store of `cluster` for a command.
pub(crate) fn open_cluster(
    cluster: &crate::config::ClusterConfig,
) -> anyhow::Result<crate::store::JetStreamStore> {
    crate::store::JetStreamStore::open(cluster).with_context(|| {
        format!(
            "opening the JetStream store ([cluster] node {})",
            cluster.node
        )
    })
}

/// The send log to read: with `[cluster]` in the configuration the JetStream store (any
/// node's messages: docs/cluster.md), else the embedded store at `path` (returned, for
/// messages that name it).
fn open_log(
    path: &Path,
    config: Option<&Config>,
) -> anyhow::Result<(Box<dyn Store>, Option<PathBuf>)> {
    if let Some(cluster) = config.and_then(|c| c.cluster.as_ref()) {
        return Ok((Box::new(open_cluster(cluster)?), None));
    }
    let store = open_at(path)?;
    let path = store.path().to_path_buf();
    Ok((Box::new(store), Some(path)))
}

/// The id style of each account the configuration names; empty without one.
#[derive(Debug, Default)]
pub(crate) struct AccountStyles(HashMap<String, IdStyle>);

impl AccountStyles {
    pub(crate) fn of(config: Option<&Config>) -> Self {
        Self(
            config
                .map(|config| {
                    config
                        .accounts
                        .iter()
                        .map(|account| (account.system_id.clone(), account.id_style))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// How this account's clients got their ids: `auto` writes hex, as `format_id` does;
    /// `None` for an account the configuration does not name.
    fn written(&self, account: &str) -> Option<IdStyle> {
        self.0.get(account).map(|style| match style {
            IdStyle::Dec => IdStyle::Dec,
            IdStyle::Hex | IdStyle::Auto => IdStyle::Hex,
        })
    }

    /// Whether reading an id in `reading` style can name a message of `account`: only in
    /// the style its clients got (any, when the account is not configured, e.g. with
    /// `--store` alone; the output then says which reading found what).
    fn counts(&self, reading: IdStyle, account: &str) -> bool {
        self.written(account).is_none_or(|style| style == reading)
    }

    /// The id as the account's clients got it (decimal for an unknown account).
    pub(crate) fn display(&self, record: &MessageRecord) -> String {
        self.written(&record.account).map_or_else(
            || record.id.to_string(),
            |style| format_id(record.id, style),
        )
    }
}

pub(crate) const fn reading_name(style: IdStyle) -> &'static str {
    match style {
        IdStyle::Dec => "decimal",
        IdStyle::Hex | IdStyle::Auto => "hex",
    }
}

/// The messages `text` names: each reading looked up, kept where it counts for the
/// record's account, a record found by two readings (`0`…`9`) kept once.
pub(crate) fn resolve(
    store: &dyn Store,
    styles: &AccountStyles,
    text: &str,
    location: Option<&Path>,
) -> anyhow::Result<Vec<(IdStyle, MessageRecord)>> {
    let candidates = readings(text);
    if candidates.is_empty() {
        bail!("message id {text:?}: decimal digits, hex digits, or 0x and hex digits");
    }
    let mut found: Vec<(IdStyle, MessageRecord)> = Vec::new();
    for &(reading, id) in &candidates {
        let Some(record) = store.get_latest(id)? else {
            continue;
        };
        if styles.counts(reading, &record.account) && found.iter().all(|(_, r)| r.id != id) {
            found.push((reading, record));
        }
    }
    if found.is_empty() {
        let tried: Vec<String> = candidates
            .iter()
            .map(|&(reading, id)| format!("{} {id}", reading_name(reading)))
            .collect();
        let location = location.map_or_else(String::new, |path| format!(" in {}", path.display()));
        bail!(
            "no message with id {text} (read as {}){location}: never stored, expired by \
             retention, or not an id its account's clients got",
            tried.join(" and as "),
        );
    }
    Ok(found)
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let remote = super::remote::Remote::choose(&args.api, &args.store)?;
    if let Some(remote) = remote {
        let value = remote.get(
            &format!("/v1/messages/{}", super::remote::segment(&args.id)),
            &[],
        )?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            let all = value.as_array().cloned().unwrap_or_else(|| vec![value]);
            for (index, one) in all.iter().enumerate() {
                if index > 0 {
                    println!();
                }
                print!("{}", show_text_json(one));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (path, config) = locate(&args.store)?;
    let styles = AccountStyles::of(config.as_ref());
    let (store, location) = open_log(&path, config.as_ref())?;
    let found = resolve(&*store, &styles, &args.id, location.as_deref())?;
    if args.json {
        let value = match found.as_slice() {
            [(_, record)] => record_json(record, &styles.display(record)),
            _ => Value::Array(
                found
                    .iter()
                    .map(|(reading, record)| {
                        let mut value = record_json(record, &styles.display(record));
                        value["read_as"] = json!(reading_name(*reading));
                        value
                    })
                    .collect(),
            ),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if let [(_, record)] = found.as_slice() {
        print!("{}", show_text(record, &styles.display(record)));
    } else {
        // Two accounts of different styles: the same digits are one's decimal id and
        // the other's hex id; show both and say which is which.
        for (index, (reading, record)) in found.iter().enumerate() {
            if index > 0 {
                println!();
            }
            println!("{} read as {}:", args.id, reading_name(*reading));
            print!("{}", show_text(record, &styles.display(record)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `since` as milliseconds: a duration back from `now`, or an RFC 3339 time.
pub(crate) fn parse_since(since: &str, now: Millis) -> anyhow::Result<Millis> {
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
    let remote = super::remote::Remote::choose(&args.api, &args.store)?;
    if let Some(remote) = remote {
        return list_remote(&remote, args);
    }
    let (path, config) = locate(&args.store)?;
    let styles = AccountStyles::of(config.as_ref());
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
    let (store, _) = open_log(&path, config.as_ref())?;
    let records = store.list(&filter)?;
    if args.json {
        let all: Vec<Value> = records
            .iter()
            .map(|record| record_json(record, &styles.display(record)))
            .collect();
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
                styles.display(record),
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

/// `messages list --api`: the same filters, asked of the running gateway (pages of at
/// most 1 000 until `--limit`).
fn list_remote(remote: &super::remote::Remote, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(since) = &args.since {
        query.push(("since", since.clone()));
    }
    if let Some(account) = &args.account {
        query.push(("account", account.clone()));
    }
    if let Some(state) = args.state {
        query.push(("state", state_name(State::from(state)).to_owned()));
    }
    let mut messages: Vec<Value> = Vec::new();
    let mut cursor: Option<u64> = None;
    while messages.len() < args.limit.max(1) {
        let mut page_query = query.clone();
        page_query.push((
            "limit",
            (args.limit.max(1) - messages.len()).min(1_000).to_string(),
        ));
        if let Some(cursor) = cursor {
            page_query.push(("cursor", cursor.to_string()));
        }
        let page = remote.get("/v1/messages", &page_query)?;
        if let Some(items) = page["messages"].as_array() {
            messages.extend(items.iter().cloned());
        }
        match page["next_cursor"].as_u64() {
            Some(next) if cursor != Some(next) => cursor = Some(next),
            _ => break,
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&messages)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<24} {:<16} {:<12} {:<9} {:>5}  carriers",
        "id", "accepted", "account", "class", "state", "parts"
    );
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    for message in &messages {
        println!(
            "{:<20} {:<24} {:<16} {:<12} {:<9} {:>5}  {}",
            text(&message["message_id"]),
            text(&message["accepted"]),
            text(&message["account"]),
            text(&message["class"]),
            text(&message["state"]),
            message["part_count"],
            carriers_json(message).join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `carrier:carrier_id` of each part of a message's JSON form.
fn carriers_json(message: &Value) -> Vec<String> {
    message["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(
                    |part| match (part["carrier"].as_str(), part["carrier_id"].as_str()) {
                        (Some(carrier), Some(id)) => format!("{carrier}:{id}"),
                        (Some(carrier), None) => carrier.to_owned(),
                        _ => "-".to_owned(),
                    },
                )
                .collect()
        })
        .unwrap_or_default()
}

/// A message's JSON form (`GET /v1/messages/{id}`) as `show` prints a record.
fn show_text_json(message: &Value) -> String {
    use std::fmt::Write as _;
    let text = |value: &Value| match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for (label, key) in [
        ("id", "message_id"),
        ("account", "account"),
        ("accepted", "accepted"),
        ("class", "class"),
        ("state", "state"),
        ("route", "route_taken"),
        ("not before", "not_before"),
        ("expires", "expires"),
        ("refused by", "refused_by_rule"),
        ("held for", "held_for_word"),
    ] {
        if !message[key].is_null() {
            let _ = writeln!(out, "{label:<11} {}", text(&message[key]));
        }
    }
    for part in message["parts"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "part {:<6} {:<9} carrier {} id {} attempts {} {}",
            text(&part["part"]),
            text(&part["state"]),
            text(&part["carrier"]),
            text(&part["carrier_id"]),
            text(&part["attempts"]),
            text(&part["error"]),
        );
    }
    out
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
        State::Held => "held",
    }
}

/// The JSON form of a record (the upstream request as hex); `message_id` is the id as
/// the client got it, `id` the number.
#[must_use]
pub fn record_json(record: &MessageRecord, message_id: &str) -> Value {
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
        "message_id": message_id,
        "account": record.account,
        "accepted": time(record.accepted),
        "class": record.class.as_str(),
        "route": record.route,
        "state": state_name(record.state),
        "not_before": (record.not_before > 0).then(|| time(record.not_before)),
        "deferred_by": record.deferred_by,
        "expires": (record.expires > 0).then(|| time(record.expires)),
        "route_taken": record.route_taken,
        "part_count": record.part_count,
        "wants_receipt": record.wants_receipt,
        "parts": parts,
        "refused_by_rule": refused_by(record).map(Rule::name),
        "held_for_word": crate::gateway::review::held_word(record),
        "request": hex::encode(&record.request),
    })
}

/// The market rule that refused a message answered by receipt (`reject_with =
/// "receipt"`): intake stores its parts `Rejected`, with no carrier, and the rule's
/// vendor status.
fn refused_by(record: &MessageRecord) -> Option<Rule> {
    let part = record.parts.first()?;
    if record.state != State::Rejected || part.carrier.is_some() {
        return None;
    }
    Rule::from_status(CommandStatus(part.status))
}

/// The text form of `messages show`; `message_id` is the id as the client got it.
#[must_use]
pub fn show_text(record: &MessageRecord, message_id: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if message_id == record.id.to_string() {
        let _ = writeln!(out, "message   {message_id}");
    } else {
        let _ = writeln!(out, "message   {message_id} ({} decimal)", record.id);
    }
    let _ = writeln!(out, "account   {}", record.account);
    let _ = writeln!(out, "accepted  {}", time(record.accepted));
    let _ = writeln!(out, "class     {}", record.class.as_str());
    let _ = writeln!(out, "route     {}", record.route.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "state     {}", state_name(record.state));
    if record.not_before > 0 {
        match &record.deferred_by {
            Some(by) => {
                let _ = writeln!(out, "not before {} ({by})", time(record.not_before));
            }
            None => {
                let _ = writeln!(out, "not before {}", time(record.not_before));
            }
        }
    }
    if record.expires > 0 {
        let _ = writeln!(out, "expires   {}", time(record.expires));
    }
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
    if let Some(word) = crate::gateway::review::held_word(record) {
        let _ = writeln!(
            out,
            "held      for review by market rule content: matched `{word}` (smppgate review release|refuse {})",
            record.id
        );
    }
    if let Some(rule) = refused_by(record) {
        let _ = writeln!(
            out,
            "refused   by market rule {} ({}), answered by receipt",
            rule.name(),
            rule.status().any_name().unwrap_or("-")
        );
    }
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
    fn a_reading_counts_only_in_the_style_of_the_records_account() {
        let mut config = Config::demo();
        let mut dec = config.accounts[0].clone();
        dec.system_id = "dec".to_owned();
        dec.id_style = IdStyle::Dec;
        let mut auto = config.accounts[0].clone();
        auto.system_id = "auto".to_owned();
        auto.id_style = IdStyle::Auto;
        config.accounts.extend([dec, auto]);
        let styles = AccountStyles::of(Some(&config));
        assert!(styles.counts(IdStyle::Hex, "demo"));
        assert!(!styles.counts(IdStyle::Dec, "demo"));
        assert!(styles.counts(IdStyle::Dec, "dec"));
        assert!(!styles.counts(IdStyle::Hex, "dec"));
        assert!(styles.counts(IdStyle::Hex, "auto"));
        assert!(!styles.counts(IdStyle::Dec, "auto"));
        // Not configured (or no configuration): every reading counts.
        assert!(styles.counts(IdStyle::Dec, "gone"));
        assert!(AccountStyles::of(None).counts(IdStyle::Hex, "demo"));
    }

    #[test]
    fn since() {
        assert_eq!(parse_since("10m", 1_000_000).unwrap(), 400_000);
        assert_eq!(parse_since("1970-01-01T00:00:01Z", 5).unwrap(), 1000);
        assert!(parse_since("yesterday", 5).is_err());
    }
}
