//! `smppgate send`: bind as an ESME, send a message (split into parts) or `--count`
//! copies of it, wait for the responses and, with `--receipt`, the delivery receipts;
//! print one JSON object on stdout; exit 0 only when everything was accepted (and every
//! receipt arrived).
//!
//! With `--config FILE` it binds nothing itself: the parts go through the carrier pool
//! of that configuration (routing, rate limits, retries, failover), see [`pool`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::receipt::{DeliveryReceipt, IdStyle, normalise_id};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::text::{Coding, ReferenceGenerator, SplitMethod, SplitOptions, split};
use smppgate_protocol::tlv::{TlvTag, Tlvs};
use smppgate_protocol::types::{DataCoding, EsmClass, RegisteredDelivery};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::text::{CodingArg, MethodArg};
use crate::conn::{RequestError, Response, TlsClientConfig};
use crate::esme::{EsmeClient, EsmeConfig, Inbound};
use crate::numbers::address;

mod pool;

/// Arguments of `smppgate send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Send through the carrier pools and routes of this configuration file instead of
    /// binding directly (`--connect`, `--system-id`, `--password` then unused).
    #[arg(long, conflicts_with_all = ["connect", "system_id", "password", "bind", "tls_ca", "receipt"])]
    pub config: Option<PathBuf>,
    /// SMSC address, HOST:PORT.
    #[arg(long, required_unless_present = "config")]
    pub connect: Option<String>,
    /// system_id to bind with.
    #[arg(long, required_unless_present = "config")]
    pub system_id: Option<String>,
    /// password to bind with.
    #[arg(long, required_unless_present = "config")]
    pub password: Option<String>,
    /// system_type to bind with.
    #[arg(long, default_value = "")]
    pub system_type: String,
    /// Bind type (receipts need trx).
    #[arg(long, value_enum, default_value_t = BindArg::Trx)]
    pub bind: BindArg,
    /// Source address (digits, `+digits`, or alphanumeric).
    #[arg(
        long,
        required_unless_present = "config",
        default_value_if("config", clap::builder::ArgPredicate::IsPresent, "10690000")
    )]
    pub from: Option<String>,
    /// Destination address.
    #[arg(long)]
    pub to: String,
    /// The message text.
    #[arg(long)]
    pub text: String,
    /// Coding.
    #[arg(long, value_enum, default_value_t = CodingArg::Auto)]
    pub coding: CodingArg,
    /// How long messages are carried.
    #[arg(long, value_enum, default_value_t = MethodArg::Udh8)]
    pub method: MethodArg,
    /// Ask for delivery receipts (registered_delivery 1) and wait for them.
    #[arg(long)]
    pub receipt: bool,
    /// Send this many copies of the message and print totals instead of parts.
    #[arg(long)]
    pub count: Option<u64>,
    /// Most requests outstanding at once.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Bound on connecting, each response, and waiting for receipts (`30s`, `500ms`, `2m`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Connect with TLS, trusting the CA certificates in this PEM file.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Traffic class (with `--config`: the priority lane).
    #[arg(long, value_enum, default_value_t = ClassArg::Notification)]
    pub class: ClassArg,
    /// With `--config`: parts submitted per second (`max`: as fast as the pool takes
    /// them).
    #[arg(long, default_value = "max", value_parser = parse_rate)]
    pub rate: Rate,
}

/// `--class` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassArg {
    /// One-time passwords.
    Otp,
    /// Notifications.
    Notification,
    /// Marketing.
    Marketing,
}

/// `--rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the pool takes them.
    Max,
    /// Parts per second.
    PerSecond(f64),
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    match text.trim_end_matches("/s").parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(Rate::PerSecond(rate)),
        _ => Err(format!(
            "invalid rate {text:?} (a number per second, or max)"
        )),
    }
}

/// `--bind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BindArg {
    /// bind_transceiver.
    Trx,
    /// bind_transmitter.
    Tx,
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a plain number of seconds.
///
/// # Errors
/// When the text is none of those.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |i| text.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (try 30s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit {unit:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// The submit_sm of every part.
pub(crate) fn build_parts(args: &SendArgs) -> anyhow::Result<Vec<SubmitSm>> {
    let options = SplitOptions {
        coding: match args.coding {
            CodingArg::Auto => Coding::Auto,
            CodingArg::Gsm7 => Coding::Gsm7,
            CodingArg::Ucs2 => Coding::Ucs2,
            CodingArg::Latin1 => Coding::Latin1,
            CodingArg::Ascii => Coding::Ascii,
        },
        method: match args.method {
            MethodArg::Udh8 => SplitMethod::Udh8,
            MethodArg::Udh16 => SplitMethod::Udh16,
            MethodArg::Sar => SplitMethod::Sar,
            MethodArg::Payload => SplitMethod::MessagePayload,
        },
        ..SplitOptions::default()
    };
    // A reference that differs between runs, so the recipient does not mix two messages.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos() ^ std::process::id());
    let mut references = ReferenceGenerator::new((start & 0xFFFF) as u16);
    let message = split(&args.text, &options, &mut references).context("splitting the text")?;
    let registered_delivery = RegisteredDelivery(u8::from(args.receipt));
    let source_addr = address(args.from.as_deref().unwrap_or("10690000"));
    let destination_addr = address(&args.to);
    message
        .parts
        .iter()
        .map(|part| {
            let mut tlvs = Tlvs::builder();
            let mut short_message = Bytes::from(part.user_data());
            if options.method == SplitMethod::MessagePayload {
                tlvs = tlvs.push_raw(TlvTag::MESSAGE_PAYLOAD, &short_message);
                short_message = Bytes::new();
            }
            if let Some(sar) = part.sar {
                tlvs = tlvs
                    .push_raw(TlvTag::SAR_MSG_REF_NUM, &sar.msg_ref_num.to_be_bytes())
                    .push_raw(TlvTag::SAR_TOTAL_SEGMENTS, &[sar.total_segments])
                    .push_raw(TlvTag::SAR_SEGMENT_SEQNUM, &[sar.segment_seqnum]);
            }
            Ok(SubmitSm {
                source_addr: source_addr.clone(),
                destination_addr: destination_addr.clone(),
                esm_class: EsmClass(part.esm_class_flags()),
                registered_delivery,
                data_coding: DataCoding(message.data_coding),
                short_message,
                tlvs: tlvs.build()?,
                ..SubmitSm::default()
            })
        })
        .collect()
}

/// A receipt as the JSON shows it.
#[derive(Debug, Clone)]
struct Seen {
    stat: Option<String>,
    err: Option<String>,
}

/// Receipts received, by every normalised reading of their id.
#[derive(Debug, Default)]
struct ReceiptBook {
    by_id: Mutex<HashMap<String, Seen>>,
    arrived: Notify,
}

fn id_keys(id: &str) -> Vec<String> {
    normalise_id(id, IdStyle::Auto)
        .iter()
        .map(|n| n.as_str().to_owned())
        .collect()
}

impl ReceiptBook {
    fn record(&self, id: &str, seen: Seen) {
        let mut by_id = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        for key in id_keys(id) {
            by_id.insert(key, seen.clone());
        }
        drop(by_id);
        self.arrived.notify_waiters();
    }

    fn find(&self, id: &str) -> Option<Seen> {
        let by_id = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        id_keys(id).iter().find_map(|key| by_id.get(key).cloned())
    }

    /// Waits until every id in `ids` has a receipt or `deadline` passes; returns how many did.
    async fn wait_for(&self, ids: &[String], deadline: Instant) -> usize {
        loop {
            let arrived = self.arrived.notified();
            let found = ids.iter().filter(|id| self.find(id).is_some()).count();
            if found == ids.len() || Instant::now() >= deadline {
                return found;
            }
            let _ = tokio::time::timeout_at(deadline, arrived).await;
        }
    }
}

/// Reads deliver_sm / data_sm and records the receipts among them (answered ESME_ROK
/// automatically by the connection).
async fn collect_receipts(mut inbound: Inbound, book: Arc<ReceiptBook>) {
    while let Some(request) = inbound.recv().await {
        let Some(receipt) = DeliveryReceipt::from_body(&request.pdu.body) else {
            continue;
        };
        if let Some(id) = receipt.id() {
            let seen = Seen {
                stat: receipt
                    .text
                    .stat
                    .clone()
                    .or_else(|| receipt.state().map(|s| s.stat().to_owned())),
                err: receipt.text.err.clone(),
            };
            book.record(id, seen);
        }
    }
}

fn message_id(response: &Response) -> Option<String> {
    response
        .message_id()
        .filter(|id| !id.is_empty())
        .map(|id| String::from_utf8_lossy(id).into_owned())
}

/// Runs `smppgate send`.
///
/// # Errors
/// Connection, TLS, bind failures, or a text that cannot be split.
pub fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    super::init_logging();
    if let Some(path) = args.config.clone() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        return runtime.block_on(pool::send(args, path));
    }
    if args.receipt && args.bind != BindArg::Trx {
        bail!("--receipt needs --bind trx (a transmitter bind cannot receive receipts)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(send(args))
}

async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let parts = build_parts(&args)?;
    let (Some(connect), Some(system_id), Some(password)) =
        (&args.connect, &args.system_id, &args.password)
    else {
        bail!("--connect, --system-id and --password are needed without --config");
    };
    let mut config = EsmeConfig::new(system_id.clone(), password.clone());
    config.system_type.clone_from(&args.system_type);
    config.bind = match args.bind {
        BindArg::Trx => BindKind::Transceiver,
        BindArg::Tx => BindKind::Transmitter,
    };
    config.window = args.window.max(1);
    let timeout_ms = u64::try_from(args.timeout.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    config.session.response_timeout_ms = timeout_ms;
    config.session.bind_timeout_ms = timeout_ms;
    config.connect_timeout = args.timeout;
    config.tls = args.tls_ca.clone().map(|ca| TlsClientConfig {
        ca_pem: Some(ca),
        ..TlsClientConfig::default()
    });
    let (client, inbound) = EsmeClient::connect(connect, config).await?;
    let book = Arc::new(ReceiptBook::default());
    let collector = tokio::spawn(collect_receipts(inbound, Arc::clone(&book)));

    let (document, failure) = match args.count {
        None => send_once(&client, &parts, &book, &args).await,
        Some(count) => send_many(&client, &parts, count, &book, &args).await,
    };
    let reason = tokio::time::timeout(Duration::from_secs(10), client.unbind()).await;
    tracing::debug!(?reason, "unbound");
    collector.abort();
    println!("{document}");
    match failure {
        None => Ok(ExitCode::SUCCESS),
        Some(reason) => {
            eprintln!("error: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn send_once(
    client: &EsmeClient,
    parts: &[SubmitSm],
    book: &ReceiptBook,
    args: &SendArgs,
) -> (Value, Option<String>) {
    let outcomes: Vec<Result<Response, RequestError>> =
        futures::future::join_all(parts.iter().cloned().map(|part| client.submit(part))).await;
    let mut failure = None;
    let mut expected = Vec::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(response) if response.is_ok() => {
                if let Some(id) = message_id(response) {
                    expected.push(id);
                }
            }
            Ok(response) => {
                failure.get_or_insert_with(|| {
                    format!("part {} rejected: {}", index + 1, response.status())
                });
            }
            Err(error) => {
                failure.get_or_insert_with(|| format!("part {}: {error}", index + 1));
            }
        }
    }
    let received = if args.receipt {
        book.wait_for(&expected, Instant::now() + args.timeout)
            .await
    } else {
        0
    };
    let expected_count = if args.receipt { expected.len() } else { 0 };
    if failure.is_none() && received < expected_count {
        failure = Some(format!(
            "{} of {expected_count} receipts did not arrive within {:?}",
            expected_count - received,
            args.timeout
        ));
    }
    let parts_json: Vec<Value> = outcomes
        .iter()
        .enumerate()
        .map(|(index, outcome)| match outcome {
            Ok(response) => {
                let id = message_id(response);
                let receipt = if args.receipt {
                    id.as_deref()
                        .and_then(|id| book.find(id))
                        .map(|seen| json!({"stat": seen.stat, "err": seen.err}))
                } else {
                    None
                };
                json!({
                    "part": index + 1,
                    "sequence_number": response.sequence_number(),
                    "status": response.status().0,
                    "status_name": response.status().name_or_hex().into_owned(),
                    "message_id": id,
                    "receipt": receipt,
                })
            }
            Err(error) => json!({
                "part": index + 1,
                "sequence_number": Value::Null,
                "status": Value::Null,
                "status_name": Value::Null,
                "message_id": Value::Null,
                "receipt": Value::Null,
                "error": error.to_string(),
            }),
        })
        .collect();
    let document = json!({
        "ok": failure.is_none(),
        "parts": parts_json,
        "receipts_expected": expected_count,
        "receipts_received": received,
    });
    (document, failure)
}

async fn send_many(
    client: &EsmeClient,
    parts: &[SubmitSm],
    count: u64,
    book: &ReceiptBook,
    args: &SendArgs,
) -> (Value, Option<String>) {
    let started = Instant::now();
    let copies = (0..count).flat_map(|_| parts.iter().cloned());
    let mut outcomes = stream::iter(copies)
        .map(|part| client.submit(part))
        .buffer_unordered(args.window.max(1) * 2);
    let (mut sent, mut accepted, mut rejected) = (0_u64, 0_u64, 0_u64);
    let mut statuses: HashMap<String, u64> = HashMap::new();
    let mut errors: HashMap<&'static str, u64> = HashMap::new();
    let mut expected = Vec::new();
    let mut first_failure = None;
    while let Some(outcome) = outcomes.next().await {
        sent += 1;
        match outcome {
            Ok(response) => {
                *statuses
                    .entry(response.status().name_or_hex().into_owned())
                    .or_default() += 1;
                if response.is_ok() {
                    accepted += 1;
                    if args.receipt {
                        expected.extend(message_id(&response));
                    }
                } else {
                    rejected += 1;
                    first_failure.get_or_insert_with(|| format!("rejected: {}", response.status()));
                }
            }
            Err(error) => {
                rejected += 1;
                let kind = match error {
                    RequestError::Timeout { .. } => "timeout",
                    RequestError::Aborted { .. } => "aborted",
                    RequestError::Closed => "closed",
                    _ => "other",
                };
                *errors.entry(kind).or_default() += 1;
                first_failure.get_or_insert_with(|| error.to_string());
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let received = if args.receipt {
        book.wait_for(&expected, Instant::now() + args.timeout)
            .await
    } else {
        0
    };
    let mut failure =
        first_failure.map(|first| format!("{rejected} of {sent} not accepted (first: {first})"));
    if failure.is_none() && received < expected.len() {
        failure = Some(format!(
            "{} of {} receipts did not arrive within {:?}",
            expected.len() - received,
            expected.len(),
            args.timeout
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = if elapsed > 0.0 {
        accepted as f64 / elapsed
    } else {
        0.0
    };
    let document = json!({
        "ok": failure.is_none(),
        "sent": sent,
        "accepted": accepted,
        "rejected": rejected,
        "statuses": statuses,
        "errors": errors,
        "receipts_expected": expected.len(),
        "receipts_received": received,
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "rate": rate.round(),
    });
    (document, failure)
}
