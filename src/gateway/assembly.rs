//! The assembly stage: client-segmented messages held until complete (issue #15 §1.7,
//! docs/adr/0016 §3).
//!
//! ```text
//! intake: a part of a UDH-concatenated message whose policy has sensitive words,
//!   passing the rules alone → stored awaiting (State::Held, `review::AWAITING_PARTS`)
//!   → commit → ESME_ROK → `Assembly::arrived` (policy/segments.rs) ─┐
//!   a part refused or held alone → `Assembly::settle` ──────────────┤ wake
//!                                                                    ▼
//! this task: `take_ready` (complete, settled, or over the TTL) → the policy judges the
//!   joined text → writer `Event::Assembled` (every part released, refused with
//!   REJECTD receipts, or held for review, in one commit) → released ones to the
//!   dispatcher
//! ```
//!
//! No part of such a message reaches a carrier before the whole was judged. After a
//! restart the parts still awaiting are found in the pending set and followed again
//! ([`rebuild`]), their TTL counted from their acceptance. Bounded by the tracker's
//! limits (`policy/segments.rs`); this task awaits the writer (backpressure), never
//! spawns.

use std::sync::Arc;
use std::time::Duration;

use smppgate_protocol::command_status::CommandStatus;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::accounts::Accounts;
use super::dispatcher::{request_of, route_of};
use super::intake::Missed;
use super::policy::{Policy, PolicyRequest, Whole};
use super::writer::Event;
use crate::carrier::Router;
use crate::clock::Clock;
use crate::policy::segments::{Assembly, Ready, Settled};
use crate::store::{Store, StoreError};

/// How often the tracker is looked at for messages over their TTL when nothing wakes it.
const TICK: Duration = Duration::from_secs(1);

/// The tracker and the wake-up of its stage, shared with intake.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    pub(crate) parts: Assembly,
    pub(crate) wake: Notify,
}

/// What the stage needs, handed over by [`super::Gateway::start`].
pub(crate) struct AssemblyParts {
    pub(crate) waiting: Arc<Waiting>,
    pub(crate) policy: Arc<dyn Policy>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: mpsc::Sender<Event>,
    pub(crate) missed: Arc<Missed>,
    pub(crate) router: Router,
    pub(crate) default_country: String,
    pub(crate) clock: Clock,
    pub(crate) cancel: CancellationToken,
}

/// Runs until cancelled; what is still awaiting then stays so in the store (followed
/// again after the restart).
pub(crate) async fn run(parts: AssemblyParts) {
    match rebuild(&parts).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(parts = n, "parts awaiting their message followed again"),
        Err(error) => tracing::error!(%error, "parts awaiting their message not read back"),
    }
    loop {
        for ready in parts.waiting.parts.take_ready(parts.clock.wall_ms()) {
            if judge(&parts, ready).await.is_err() {
                return; // the writer is gone: stopping
            }
        }
        tokio::select! {
            () = parts.cancel.cancelled() => return,
            () = parts.waiting.wake.notified() => {}
            () = tokio::time::sleep(parts.clock.recheck(TICK)) => {}
        }
    }
}

/// Judges one message's parts and has the writer end their wait; the released ones go
/// to the dispatcher. `Err` when the writer is gone.
async fn judge(parts: &AssemblyParts, ready: Ready) -> Result<(), ()> {
    let whole = match ready.settled {
        Some(Settled::Refused { status, rule }) => Whole::Refuse {
            status: CommandStatus(status),
            rule,
            word: String::new(),
        },
        Some(Settled::Held { word }) => Whole::Hold { word },
        None => match parts.accounts.get(ready.key.account.as_bytes()) {
            Some(account) => parts.policy.judge_whole(&account, &ready.texts),
            // The account is gone from the configuration: sent as it came.
            None => Whole::Release,
        },
    };
    tracing::debug!(
        account = %ready.key.account,
        parts = ready.ids.len(),
        complete = ready.complete,
        ?whole,
        "client-segmented message judged whole"
    );
    end(parts, ready.ids, whole).await
}

/// Has the writer end the wait of `ids` as `whole` says; the released ones go to the
/// dispatcher once committed. `Err` when the writer is gone.
async fn end(parts: &AssemblyParts, ids: Vec<u64>, whole: Whole) -> Result<(), ()> {
    let (done, answer) = oneshot::channel();
    parts
        .writer
        .send(Event::Assembled { ids, whole, done })
        .await
        .map_err(|_| ())?;
    let released = answer.await.map_err(|_| ())?;
    for record in released {
        let route = request_of(&record)
            .and_then(|request| route_of(&parts.router, &parts.default_country, &record, &request));
        match route {
            Some(route) => parts.missed.add(&route, record.class, record.id),
            None => tracing::warn!(
                id = record.id,
                "released part has no route now: left pending"
            ),
        }
    }
    Ok(())
}

/// Follows again the parts awaiting their message that an earlier run left in the
/// store; answers how many.
async fn rebuild(parts: &AssemblyParts) -> Result<usize, StoreError> {
    let store = Arc::clone(&parts.store);
    let awaiting = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store.pending_page(cursor, 1024)?;
            let Some(last) = page.last().map(|r| r.id) else {
                return Ok(found);
            };
            found.extend(
                page.into_iter()
                    .filter(super::review::awaits_parts)
                    .map(Arc::new),
            );
            cursor = last;
        }
    })
    .await
    .map_err(|e| StoreError::new(e.to_string()))??;
    let n = awaiting.len();
    for record in awaiting {
        let Some(submit_sm) = request_of(&record) else {
            continue;
        };
        let Some(account) = parts.accounts.get(record.account.as_bytes()) else {
            continue;
        };
        let destination = String::from_utf8_lossy(&submit_sm.destination_addr.addr);
        let Ok(e164) = crate::numbers::normalise(&destination, &parts.default_country) else {
            continue;
        };
        let request = PolicyRequest {
            account: &account,
            class: record.class,
            destination: &e164,
            submit_sm: &submit_sm,
            parts: usize::from(record.part_count),
            now: record.accepted,
        };
        match parts.policy.part_of(&request) {
            Some(part) => {
                parts
                    .waiting
                    .parts
                    .arrived(part, record.id, record.class, record.accepted);
            }
            // The policy no longer judges such messages whole: it goes as it came.
            None => {
                if end(parts, vec![record.id], Whole::Release).await.is_err() {
                    break; // stopping
                }
            }
        }
    }
    Ok(n)
}
