//! `smppgate send --config FILE`: the parts go through [`Carriers`] (routing, rate
//! limits, throttle back-off, retries, failover) instead of a direct bind.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use smppgate_protocol::command_status::CommandStatus;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{ClassArg, Rate, SendArgs, build_parts};
use crate::carrier::{
    Carriers, Class, Events, FailReason, LANE_CAPACITY, Outcome, OutcomeResult, Submission,
    SubmitError,
};
use crate::config::Config;
use crate::conn::InboundRequest;
use crate::shutdown::Shutdown;

/// What came back, tallied.
#[derive(Debug, Default)]
struct Tally {
    done: u64,
    accepted: u64,
    failed: u64,
    retried: u64,
    failed_over: u64,
    inbound: u64,
    by_carrier: HashMap<Arc<str>, u64>,
    /// By status and, for failures, why.
    by_status: HashMap<(u32, Option<FailReason>), u64>,
    /// Per part, when one message is sent.
    parts: Vec<Outcome>,
    last_at: Option<Instant>,
}

#[derive(Debug)]
struct Collector {
    tally: Mutex<Tally>,
    /// Notified when `done` reaches `wake_at`: a wake-up of the sending thread per
    /// outcome would cost more than the pool itself at `--rate max`.
    progress: Notify,
    wake_at: AtomicU64,
    keep_parts: bool,
}

impl Events for Collector {
    fn outcome(&self, outcome: Outcome) {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        tally.done += 1;
        let status = match &outcome.result {
            OutcomeResult::Accepted { .. } => {
                tally.accepted += 1;
                (0, None)
            }
            OutcomeResult::Failed { status, reason } => {
                tally.failed += 1;
                (status.0, Some(*reason))
            }
        };
        tally.retried += u64::from(outcome.attempts > 1);
        tally.failed_over += u64::from(outcome.failovers > 0);
        match tally.by_carrier.get_mut(&outcome.carrier) {
            Some(n) => *n += 1,
            None => {
                tally.by_carrier.insert(Arc::clone(&outcome.carrier), 1);
            }
        }
        *tally.by_status.entry(status).or_default() += 1;
        tally.last_at = Some(Instant::now());
        if self.keep_parts {
            tally.parts.push(outcome);
        }
        let wake = tally.done >= self.wake_at.load(Ordering::Acquire);
        drop(tally);
        if wake {
            self.progress.notify_waiters();
        }
    }

    fn inbound(&self, _carrier: &Arc<str>, request: InboundRequest) -> BoxFuture<'static, ()> {
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .inbound += 1;
        Box::pin(request.respond(CommandStatus::ESME_ROK, None))
    }
}

impl Collector {
    /// Asks for a notification once `done` reaches `at` (create the
    /// `progress.notified()` future first, so none is missed).
    fn wake_at(&self, at: u64) {
        self.wake_at.store(at, Ordering::Release);
    }

    fn done(&self) -> u64 {
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .done
    }
}

fn class_of(arg: ClassArg) -> Class {
    match arg {
        ClassArg::Otp => Class::Otp,
        ClassArg::Notification => Class::Notification,
        ClassArg::Marketing => Class::Marketing,
    }
}

/// Runs `send --config`.
pub(super) async fn send(args: SendArgs, path: PathBuf) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(&path)?;
    let parts = build_parts(&args)?;
    let count = args.count.unwrap_or(1);
    let total = count
        .checked_mul(parts.len() as u64)
        .context("--count too large")?;
    let collector = Arc::new(Collector {
        tally: Mutex::new(Tally::default()),
        progress: Notify::new(),
        wake_at: AtomicU64::new(u64::MAX),
        keep_parts: args.count.is_none(),
    });
    let shutdown = Shutdown::new();
    let events: Arc<dyn Events> = collector.clone();
    // `address = "sim"`: in-process simulated carriers, for as long as this runs (on an
    // early return, dropping them stops them).
    let sims = crate::sim::start_builtin(&mut config).await?;
    let carriers = Carriers::start(&config, events, shutdown.signal())
        .await
        .context("starting the carrier pools")?;
    let class = class_of(args.class);
    let started = Instant::now();
    let interval = match args.rate {
        Rate::Max => None,
        Rate::PerSecond(rate) => Some(Duration::from_secs_f64(1.0 / rate)),
    };
    let mut next_at = started;
    let mut submitted = 0_u64;
    let mut last_progress = (Instant::now(), 0_u64);
    for id in 0..count {
        for (part, submit_sm) in parts.iter().enumerate() {
            if let Some(interval) = interval {
                next_at += interval;
                if next_at > Instant::now() + Duration::from_millis(1) {
                    tokio::time::sleep_until(next_at).await;
                }
            }
            let mut submission = Submission {
                id,
                part: u16::try_from(part).unwrap_or(u16::MAX),
                class,
                route: None,
                submit_sm: submit_sm.clone(),
                deadline: None,
            };
            loop {
                match carriers.submit(submission) {
                    Ok(()) => break,
                    Err(SubmitError::QueueFull {
                        submission: back, ..
                    }) => {
                        // The route's lane is full: wait for outcomes to make room.
                        submission = *back;
                        let progress = collector.progress.notified();
                        // Room for a good batch before waking up again.
                        let done = collector.done();
                        collector.wake_at(done + (LANE_CAPACITY / 4) as u64);
                        if done != last_progress.1 {
                            last_progress = (Instant::now(), done);
                        } else if last_progress.0.elapsed() > args.timeout {
                            carriers.drain(Duration::ZERO).await;
                            bail!("no progress for {:?} with the queue full", args.timeout);
                        }
                        let _ = tokio::time::timeout(Duration::from_millis(5), progress).await;
                    }
                    Err(error) => {
                        carriers.drain(Duration::ZERO).await;
                        bail!("{error}");
                    }
                }
            }
            submitted += 1;
        }
    }
    // Wait for every outcome; give up when nothing happens for --timeout.
    loop {
        let progress = collector.progress.notified();
        collector.wake_at(total);
        let done = collector.done();
        if done >= total {
            break;
        }
        if done != last_progress.1 {
            last_progress = (Instant::now(), done);
        }
        let quiet_until = last_progress.0 + args.timeout;
        if Instant::now() >= quiet_until {
            break;
        }
        // Woken at the end; meanwhile a look every 50 ms keeps the quiet timer honest.
        let look = quiet_until.min(Instant::now() + Duration::from_millis(50));
        let _ = tokio::time::timeout_at(look, progress).await;
    }
    let stats = carriers.stats();
    carriers.drain(Duration::from_secs(5)).await;
    sims.shutdown(Duration::from_secs(1)).await;
    let tally = std::mem::take(
        &mut *collector
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    let elapsed = tally
        .last_at
        .map_or(Duration::ZERO, |at| at.duration_since(started))
        .as_secs_f64();
    let ok = tally.accepted == total;
    let mut document = json!({
        "ok": ok,
        "config": path.display().to_string(),
        "class": class.as_str(),
        "submitted": submitted,
        "accepted": tally.accepted,
        "failed": tally.failed,
        "missing": total - tally.done.min(total),
        "retried": tally.retried,
        "failed_over": tally.failed_over,
        "carriers": tally.by_carrier.iter().map(|(c, n)| (c.to_string(), *n)).collect::<BTreeMap<_, _>>(),
        "statuses": tally.by_status.iter().map(|((status, reason), n)| {
            let name = CommandStatus(*status).name_or_hex().into_owned();
            (reason.map_or(name.clone(), |r| format!("{name} ({r:?})")), *n)
        }).collect::<BTreeMap<_, _>>(),
        "inbound": tally.inbound,
    });
    if args.count.is_some() {
        #[allow(clippy::cast_precision_loss)]
        let rate = if elapsed > 0.0 {
            tally.accepted as f64 / elapsed
        } else {
            0.0
        };
        document["elapsed_s"] = json!((elapsed * 1000.0).round() / 1000.0);
        document["rate"] = json!(rate.round());
        document["pool"] = stats;
    } else {
        let mut parts = tally.parts;
        parts.sort_by_key(|o| (o.id, o.part));
        document["parts"] = Value::Array(parts.iter().map(part_json).collect());
    }
    println!("{document}");
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: {} of {total} parts not accepted",
            total - tally.accepted
        );
        Ok(ExitCode::FAILURE)
    }
}

fn part_json(outcome: &Outcome) -> Value {
    let (status, reason, message_id) = match &outcome.result {
        OutcomeResult::Accepted { message_id, .. } => (
            CommandStatus::ESME_ROK,
            None,
            Some(String::from_utf8_lossy(message_id).into_owned()),
        ),
        OutcomeResult::Failed { status, reason } => (*status, Some(format!("{reason:?}")), None),
    };
    json!({
        "part": outcome.part + 1,
        "carrier": &*outcome.carrier,
        "status": status.0,
        "status_name": status.name_or_hex(),
        "message_id": message_id,
        "failure": reason,
        "attempts": outcome.attempts,
        "failovers": outcome.failovers,
    })
}
