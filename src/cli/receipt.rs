//! `smppgate receipt`: parse delivery receipt text, printed as JSON.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use smppgate_protocol::receipt::{IdStyle, MessageState, ReceiptText, normalise_id};

/// Arguments of `smppgate receipt`.
#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ReceiptCommand,
}

/// `smppgate receipt` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Parse the text form of a receipt (`id:… sub:… dlvrd:… … stat:… err:… text:…`).
    Parse(ParseArgs),
    /// List the carrier receipts the gateway could not match (kept in its store), or with
    /// `--mo` the MO messages for numbers no account owns.
    Unmatched(UnmatchedArgs),
    /// List the receipts and MO messages parked because their account kept refusing them.
    Parked(ParkedArgs),
    /// Queue an account's parked items again, at the end of its outbox (the store of a
    /// stopped gateway, or a running one with --api).
    Replay(ReplayArgs),
}

/// Arguments of `smppgate receipts parked`.
#[derive(Debug, Args)]
pub struct ParkedArgs {
    /// Which store.
    #[command(flatten)]
    pub store: super::messages::StoreArgs,
    /// Or which running gateway.
    #[command(flatten)]
    pub api: super::remote::ApiArgs,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// At most this many, by account, oldest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// Arguments of `smppgate receipts replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Which store.
    #[command(flatten)]
    pub store: super::messages::StoreArgs,
    /// Or which running gateway (its outbox sends the items at once).
    #[command(flatten)]
    pub api: super::remote::ApiArgs,
    /// The account whose parked items go back to its outbox.
    #[arg(long)]
    pub account: String,
}

/// Arguments of `smppgate receipt unmatched`.
#[derive(Debug, Args)]
pub struct UnmatchedArgs {
    /// Which store.
    #[command(flatten)]
    pub store: super::messages::StoreArgs,
    /// Or which running gateway.
    #[command(flatten)]
    pub api: super::remote::ApiArgs,
    /// At most this many, oldest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// List the MO messages for numbers no account owns instead.
    #[arg(long)]
    pub mo: bool,
}

/// Arguments of `smppgate receipt parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// How the SMSC writes ids (for `id_normalised`).
    #[arg(long, value_enum, default_value_t = IdStyleArg::Auto)]
    pub id_style: IdStyleArg,
    /// The receipt text.
    pub text: String,
}

/// `--id-style` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdStyleArg {
    /// Hexadecimal.
    Hex,
    /// Decimal.
    Dec,
    /// Either; an all-digit id gets both readings.
    Auto,
}

/// Runs `smppgate receipt`.
///
/// # Errors
/// Only when writing JSON fails; parsing itself never fails.
pub fn run(args: ReceiptArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ReceiptCommand::Parse(parse_args) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&parse_json(&parse_args))?
            );
            Ok(ExitCode::SUCCESS)
        }
        ReceiptCommand::Unmatched(args) => unmatched(&args),
        ReceiptCommand::Parked(args) => parked(&args),
        ReceiptCommand::Replay(args) => replay(&args),
    }
}

/// One JSON line per parked item (see [`parked_json`]).
fn parked(args: &ParkedArgs) -> anyhow::Result<ExitCode> {
    let remote = super::remote::Remote::choose(&args.api, &args.store)?;
    if let Some(remote) = remote {
        let mut query = vec![("limit", args.limit.clamp(1, 1_000).to_string())];
        if let Some(account) = &args.account {
            query.push(("account", account.clone()));
        }
        let answer = remote.get("/v1/parked", &query)?;
        return Ok(print_lines(&answer["parked"], "parked items"));
    }
    let store = super::messages::open_any(&args.store)?;
    let items = store.parked(args.account.as_deref(), args.limit)?;
    for item in &items {
        println!("{}", parked_json(item));
    }
    eprintln!("{} parked items", items.len());
    Ok(ExitCode::SUCCESS)
}

fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let remote = super::remote::Remote::choose(&args.api, &args.store)?;
    if let Some(remote) = remote {
        let answer = remote.post("/v1/parked/replay", &[("account", args.account.clone())])?;
        eprintln!(
            "{} parked items of {} queued again (the running gateway sends them now)",
            answer["replayed"], args.account
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = super::messages::open_any(&args.store)?;
    let count = replay_parked(&*store, &args.account)?;
    eprintln!(
        "{count} parked items of {} queued again (delivered when the gateway runs)",
        args.account
    );
    Ok(ExitCode::SUCCESS)
}

/// Moves every parked item of `account` back to the end of its outbox; returns how many.
/// What `smppgate receipts replay` does, on a store no gateway is running on.
///
/// # Errors
/// Read or write failure.
pub fn replay_parked(
    store: &dyn crate::store::Store,
    account: &str,
) -> Result<usize, crate::store::StoreError> {
    let count = store.parked(Some(account), usize::MAX)?.len();
    if count > 0 {
        store.commit(&[crate::store::Op::OutboxReplay {
            account: account.to_owned(),
        }])?;
    }
    Ok(count)
}

/// A parked item as `smppgate receipts parked` prints it: account, seq, when queued and
/// parked, attempts, the last status by name, and what the deliver_sm is (a receipt's id
/// and stat, or an MO's addresses).
#[must_use]
pub fn parked_json(parked: &crate::store::ParkedItem) -> Value {
    use smppgate_protocol::command_status::CommandStatus;
    let status = CommandStatus(parked.status);
    let deliver_sm = match smppgate_protocol::codec::decode(bytes::Bytes::from(
        parked.item.deliver_sm.clone(),
    )) {
        Ok(pdu) => match pdu.body {
            smppgate_protocol::pdu::Body::DeliverSm(deliver_sm) => Some(deliver_sm),
            _ => None,
        },
        Err(_) => None,
    };
    let what = match &deliver_sm {
        Some(d) if d.esm_class.0 & 0x3c == 0x04 => {
            let receipt = ReceiptText::parse(&d.short_message);
            json!({"receipt": {"id": receipt.id, "stat": receipt.stat}})
        }
        Some(d) => json!({"mo": {
            "source": String::from_utf8_lossy(&d.source_addr.addr),
            "destination": String::from_utf8_lossy(&d.destination_addr.addr),
        }}),
        None => json!({"undecodable": parked.item.deliver_sm.len()}),
    };
    let mut line = json!({
        "account": parked.item.account,
        "seq": parked.item.seq,
        "queued": super::messages::time(parked.item.queued),
        "parked": super::messages::time(parked.parked),
        "attempts": parked.item.attempts,
        "last_status": status.name_or_hex(),
    });
    if let (Some(line), Some(what)) = (line.as_object_mut(), what.as_object()) {
        line.extend(what.clone());
    }
    line
}

/// Prints each element of the API's array `items` as a JSON line, and how many there were
/// (`N what`) on standard error.
fn print_lines(items: &Value, what: &str) -> ExitCode {
    let items = items.as_array().map_or(&[][..], Vec::as_slice);
    for item in items {
        println!("{item}");
    }
    eprintln!("{} {what}", items.len());
    ExitCode::SUCCESS
}

/// One JSON line per unmatched receipt: carrier, its text, when it was given up on (or,
/// `--mo`, per MO for a number no account owns).
fn unmatched(args: &UnmatchedArgs) -> anyhow::Result<ExitCode> {
    let what = if args.mo {
        "unrouted MO messages"
    } else {
        "unmatched receipts"
    };
    if let Some(remote) = super::remote::Remote::choose(&args.api, &args.store)? {
        let answer = remote.get(
            "/v1/unmatched",
            &[
                ("mo", args.mo.to_string()),
                ("limit", args.limit.clamp(1, 1_000).to_string()),
            ],
        )?;
        return Ok(print_lines(&answer["unmatched"], what));
    }
    let store = super::messages::open_any(&args.store)?;
    let lines = unmatched_lines(&*store, args.mo, args.limit)?;
    Ok(print_lines(&Value::Array(lines), what))
}

/// The oldest `limit` carrier receipts that matched no message (`mo`: MO messages for
/// numbers no account owns), as `smppgate receipts unmatched` prints them and `GET
/// /v1/unmatched` answers them.
///
/// # Errors
/// Read failure.
pub fn unmatched_lines(
    store: &dyn crate::store::Store,
    mo: bool,
    limit: usize,
) -> Result<Vec<Value>, crate::store::StoreError> {
    let which = if mo {
        crate::gateway::UNROUTED_MO
    } else {
        crate::gateway::UNMATCHED
    };
    let items = store.outbox(which, limit)?;
    Ok(items
        .into_iter()
        .map(|item| {
            let (octets, queued) = (item.deliver_sm.len(), item.queued);
            let decoded = smppgate_protocol::codec::decode(bytes::Bytes::from(item.deliver_sm))
                .map(|pdu| pdu.body);
            let Ok(smppgate_protocol::pdu::Body::DeliverSm(deliver_sm)) = decoded else {
                // Listed as such (as `receipts parked` lists one), not left out.
                return json!({
                    "undecodable": octets,
                    "queued_at_ms": queued,
                });
            };
            if mo {
                let text = smppgate_protocol::text::decode(
                    deliver_sm.data_coding.0,
                    &deliver_sm.payload(),
                    0,
                    smppgate_protocol::text::TextConfig::default(),
                );
                json!({
                    "source": String::from_utf8_lossy(&deliver_sm.source_addr.addr),
                    "destination": String::from_utf8_lossy(&deliver_sm.destination_addr.addr),
                    "text": text,
                    "received_at_ms": queued,
                })
            } else {
                json!({
                    "carrier": String::from_utf8_lossy(&deliver_sm.source_addr.addr),
                    "receipt": String::from_utf8_lossy(&deliver_sm.short_message),
                    "unmatched_at_ms": queued,
                })
            }
        })
        .collect())
}

/// The JSON document `receipt parse` prints.
#[must_use]
pub fn parse_json(args: &ParseArgs) -> Value {
    let style = match args.id_style {
        IdStyleArg::Hex => IdStyle::Hex,
        IdStyleArg::Dec => IdStyle::Dec,
        IdStyleArg::Auto => IdStyle::Auto,
    };
    let receipt = ReceiptText::parse(args.text.as_bytes());
    let normalised = receipt.id.as_deref().map(|id| normalise_id(id, style));
    let date = |raw: &Option<String>, parsed: Option<smppgate_protocol::receipt::ReceiptDate>| {
        raw.as_ref().map(|raw| {
            json!({
                "raw": raw,
                "parsed": parsed.map(|d| format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    d.year, d.month, d.day, d.hour, d.minute, d.second
                )),
            })
        })
    };
    json!({
        "id": receipt.id,
        "id_normalised": normalised.as_ref().map(|c| c.primary.to_string()),
        "id_normalised_alternate": normalised.as_ref().and_then(|c| c.alternate.as_ref().map(ToString::to_string)),
        "stat": receipt.stat,
        "message_state": receipt.state().map(MessageState::as_u8),
        "err": receipt.err,
        "submit_date": date(&receipt.submit_date, receipt.submit_date()),
        "done_date": date(&receipt.done_date, receipt.done_date()),
        "sub": receipt.sub,
        "dlvrd": receipt.dlvrd,
        "text": receipt.text,
        "unrecognised": receipt.unrecognised.iter().map(|f| json!({"key": f.key, "value": f.value})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Op, OutboxItem, Store as _};

    /// An unmatched receipt is listed with its carrier and text; a stored item that does
    /// not decode is listed as undecodable, not left out.
    #[test]
    fn unmatched_lines_list_every_item() {
        let store = crate::store::memory::MemoryStore::new();
        let deliver_sm = smppgate_protocol::pdu::DeliverSm {
            source_addr: smppgate_protocol::types::Address::international("sim"),
            short_message: bytes::Bytes::from_static(b"id:7 stat:DELIVRD"),
            ..smppgate_protocol::pdu::DeliverSm::default()
        };
        let pdu = smppgate_protocol::pdu::Pdu::new(
            1,
            smppgate_protocol::pdu::Body::DeliverSm(deliver_sm),
        );
        let item = |deliver_sm: Vec<u8>, queued| {
            Op::OutboxPush(OutboxItem {
                seq: 0,
                account: crate::gateway::UNMATCHED.to_owned(),
                deliver_sm,
                queued,
                attempts: 0,
            })
        };
        store
            .commit(&[
                item(
                    smppgate_protocol::codec::encode_to_bytes(&pdu)
                        .unwrap()
                        .to_vec(),
                    10,
                ),
                item(b"not a PDU".to_vec(), 20),
            ])
            .unwrap();
        let lines = unmatched_lines(&store, false, 10).unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["carrier"], "sim");
        assert_eq!(lines[0]["receipt"], "id:7 stat:DELIVRD");
        assert_eq!(lines[0]["unmatched_at_ms"], 10);
        assert_eq!(lines[1]["undecodable"], 9);
        assert_eq!(lines[1]["queued_at_ms"], 20);
    }
}
