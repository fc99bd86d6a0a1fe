//! [`Core`]: what the upstream handler, the carrier events and the outbox share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dashmap::DashMap;
use smppgate_protocol::codec::{decode, encode_to_bytes};
use smppgate_protocol::pdu::{Body, Pdu, SubmitSm};
use smppgate_protocol::text::ReferenceGenerator;
use tokio::sync::{Notify, mpsc};

use super::accounts::{Accounts, Lockout};
use crate::carrier::{Carriers, Class, Submission, SubmitError};
use crate::config::{Config, IdStyle};
use crate::store::{GroupCommit, MessageRecord, Millis, Op, State, Store, StoreError};

/// Counters of the gateway (relaxed atomics; also exported as metrics).
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages acknowledged upstream.
    pub accepted: AtomicU64,
    /// Submits refused (any status).
    pub rejected: AtomicU64,
    /// Parts accepted by a carrier.
    pub parts_sent: AtomicU64,
    /// Parts failed (permanent or exhausted).
    pub parts_failed: AtomicU64,
    /// Parts sent again after a restart (possible duplicates).
    pub resent_after_restart: AtomicU64,
    /// Receipts from carriers matched to a part.
    pub receipts_matched: AtomicU64,
    /// Of those, matched by another reading of the id than the carrier style's first
    /// (the other base, or the text id): how often `auto` / mixed styles were needed.
    pub receipts_matched_alternate: AtomicU64,
    /// Receipts held because their submit_sm_resp had not arrived yet.
    pub receipts_early: AtomicU64,
    /// Receipts that matched nothing within the TTL.
    pub receipts_unmatched: AtomicU64,
    /// Receipts / MO delivered upstream (deliver_sm_resp ESME_ROK); shared with the
    /// outbox stage.
    pub forwarded: Arc<AtomicU64>,
    /// MO messages received.
    pub mo_received: AtomicU64,
    /// MO messages that are opt-out replies.
    pub mo_opt_out: AtomicU64,
    /// MO messages for numbers no account owns.
    pub mo_unrouted: AtomicU64,
    /// Store commits that failed.
    pub store_errors: AtomicU64,
}

impl Stats {
    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "accepted": get(&self.accepted),
            "rejected": get(&self.rejected),
            "parts_sent": get(&self.parts_sent),
            "parts_failed": get(&self.parts_failed),
            "resent_after_restart": get(&self.resent_after_restart),
            "receipts_matched": get(&self.receipts_matched),
            "receipts_matched_alternate": get(&self.receipts_matched_alternate),
            "receipts_early": get(&self.receipts_early),
            "receipts_unmatched": get(&self.receipts_unmatched),
            "forwarded": get(&self.forwarded),
            "mo_received": get(&self.mo_received),
            "mo_opt_out": get(&self.mo_opt_out),
            "mo_unrouted": get(&self.mo_unrouted),
            "store_errors": get(&self.store_errors),
        })
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The gateway's shared state.
pub struct Core {
    config: Config,
    pub(crate) accounts: Accounts,
    pub(crate) lockout: Lockout,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) group: Arc<GroupCommit>,
    carriers: OnceLock<Arc<Carriers>>,
    next_id: AtomicU64,
    references: Mutex<ReferenceGenerator>,
    /// Requests being processed per upstream connection (its window).
    pub(crate) outstanding: DashMap<u64, Arc<AtomicU64>>,
    /// Outcomes, receipts, MO and expiries for the single writer.
    pub(crate) events: mpsc::Sender<super::events::Event>,
    /// Store writes that need not be awaited (part states, index entries).
    pub(crate) updates: mpsc::Sender<Update>,
    /// Wakes the outbox when something was queued or an account bound.
    pub(crate) outbox_wake: Arc<Notify>,
    pub(crate) receipts: super::events::EarlyReceipts,
    /// Set when stopping (background re-sending gives up).
    pub(crate) stopping: std::sync::atomic::AtomicBool,
    /// Counters.
    pub stats: Stats,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch.
#[must_use]
pub(crate) fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Capacity of the queue of store updates that are not awaited.
const UPDATE_QUEUE: usize = 65_536;
/// Capacity of the writer's queue (outcomes, receipts, MO).
const EVENT_QUEUE: usize = 65_536;

impl Core {
    pub(crate) fn new(
        config: Config,
        store: Arc<dyn Store>,
        group: GroupCommit,
    ) -> Result<(Self, mpsc::Receiver<super::events::Event>), StoreError> {
        // Ids continue above everything stored, and above the clock (×1000) so that even
        // a lost store does not make ids repeat.
        let first_id = store.max_id()?.saturating_add(1).max(now_ms() * 1000);
        let (updates, rx) = mpsc::channel(UPDATE_QUEUE);
        let group = Arc::new(group);
        tokio::spawn(write_updates(rx, Arc::clone(&group)));
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
        let core = Self {
            accounts: Accounts::new(&config.accounts),
            lockout: Lockout::new(&config.server),
            store,
            group,
            carriers: OnceLock::new(),
            next_id: AtomicU64::new(first_id),
            references: Mutex::new(ReferenceGenerator::new(
                u16::try_from(now_ms() % 65_536).unwrap_or(1),
            )),
            outstanding: DashMap::new(),
            events,
            updates,
            outbox_wake: Arc::new(Notify::new()),
            receipts: super::events::EarlyReceipts::default(),
            stats: Stats::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            config,
        };
        Ok((core, events_rx))
    }

    /// The store (read-only use: lookups, listings).
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The counters and the group commit's figures (commits, ops and callers per
    /// commit, commit time) as JSON: what `serve` prints on exit.
    #[must_use]
    pub fn report_json(&self) -> serde_json::Value {
        let mut json = self.stats.to_json();
        let group = self.group.stats();
        let summary = |h: &hdrhistogram::Histogram<u64>| {
            serde_json::json!({
                "mean": (h.mean() * 10.0).round() / 10.0,
                "p50": h.value_at_quantile(0.5),
                "p99": h.value_at_quantile(0.99),
                "max": h.max(),
            })
        };
        json["store"] = serde_json::json!({
            "commits": group.commits,
            "failed_commits": group.failed_commits,
            "ops": group.ops,
            "requests": group.requests,
            "ops_per_commit": summary(&group.batch_size),
            "requests_per_commit": summary(&group.batch_requests),
            "commit_micros": summary(&group.commit_micros),
        });
        json
    }

    /// The configuration it runs with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn set_carriers(&self, carriers: Arc<Carriers>) {
        let _ = self.carriers.set(carriers);
    }

    pub(crate) fn carriers(&self) -> Option<&Arc<Carriers>> {
        self.carriers.get()
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn split(
        &self,
        submit_sm: &SubmitSm,
    ) -> Result<Vec<SubmitSm>, smppgate_protocol::command_status::CommandStatus> {
        let mut references = self
            .references
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        super::pipeline::parts(submit_sm, &mut references)
    }

    /// Queues a store update without waiting for it (bounded; under overload the write
    /// goes through a task so the caller never blocks).
    pub(crate) fn update(&self, ops: Vec<Op>) {
        match self.updates.try_send(Update::Ops(ops)) {
            Err(mpsc::error::TrySendError::Full(update)) => {
                let updates = self.updates.clone();
                tokio::spawn(async move {
                    let _ = updates.send(update).await;
                });
            }
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Waits until every update queued before the call is committed.
    pub(crate) async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.updates.send(Update::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The route a message takes: the account's override, else by its destination
    /// normalised to E.164 (the pool gets the route by name, so its own lookup never sees
    /// a national-format number).
    pub(crate) fn route_of(
        &self,
        account_route: Option<&str>,
        destination: &[u8],
    ) -> Option<Arc<str>> {
        let carriers = self.carriers()?;
        if account_route.is_some() {
            return carriers.route(account_route, "");
        }
        let destination = String::from_utf8_lossy(destination);
        let e164 =
            crate::numbers::normalise(&destination, &self.config.numbers.default_country).ok()?;
        carriers.route(None, &e164)
    }

    /// Whether the route's lane for `class` has room for `parts` more (checked before a
    /// message is acknowledged: a full route is answered ESME_RMSGQFUL, not queued
    /// without bound).
    pub(crate) fn has_room(&self, route: &str, class: Class, parts: usize) -> bool {
        self.carriers()
            .is_some_and(|carriers| carriers.room(route, class) >= parts)
    }

    /// Sends the parts of an accepted message to the carriers. A part the pool refuses
    /// because its lane filled since [`Core::has_room`] (another connection got there
    /// first) is offered again in the background until it fits: it is acknowledged, so it
    /// must not fail for that.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        id: u64,
        class: Class,
        route: &Arc<str>,
        parts: Vec<SubmitSm>,
        skip: &[bool],
    ) -> usize {
        let Some(carriers) = self.carriers() else {
            return 0;
        };
        let mut sent = 0;
        for (part, submit_sm) in parts.into_iter().enumerate() {
            if skip.get(part).copied().unwrap_or(false) {
                continue;
            }
            let submission = Submission {
                id,
                part: u16::try_from(part).unwrap_or(u16::MAX),
                class,
                route: Some(Arc::clone(route)),
                submit_sm,
            };
            sent += 1;
            match carriers.submit(submission) {
                Ok(()) => {}
                Err(SubmitError::QueueFull { submission, .. }) => {
                    tokio::spawn(Arc::clone(self).offer_until_taken(*submission));
                }
                Err(error) => {
                    sent -= 1;
                    tracing::warn!(id, part, %error, "carrier pool refused a part");
                    self.part_failed_at_intake(id, part, &error);
                }
            }
        }
        sent
    }

    async fn offer_until_taken(self: Arc<Self>, mut submission: Submission) {
        let Some(carriers) = self.carriers() else {
            return;
        };
        let mut delay = Duration::from_millis(10);
        loop {
            let (id, part) = (submission.id, submission.part);
            match carriers.submit(submission) {
                Ok(()) => return,
                Err(SubmitError::QueueFull {
                    submission: back, ..
                }) => {
                    submission = *back;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                Err(error) => {
                    self.part_failed_at_intake(id, usize::from(part), &error);
                    return;
                }
            }
        }
    }

    /// After a restart: every part of a pending message that no carrier accepted is sent
    /// again (at-least-once; counted in `resent_after_restart`). Runs in the background
    /// and waits for room in each route, so a large backlog streams out instead of
    /// overflowing the queues.
    pub(crate) async fn recover(self: Arc<Self>) {
        let store = Arc::clone(&self.store);
        let pending = match tokio::task::spawn_blocking(move || store.pending()).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot read pending messages: none re-sent");
                return;
            }
            Err(_) => return,
        };
        let mut resent = 0u64;
        for record in pending {
            let Some(submit_sm) = request_of(&record) else {
                tracing::error!(id = record.id, "stored request does not decode: failing it");
                self.update(vec![Op::State {
                    id: record.id,
                    state: State::Failed,
                }]);
                continue;
            };
            let Ok(parts) = self.split(&submit_sm) else {
                continue;
            };
            let Some(route) =
                self.route_of(record.route.as_deref(), &submit_sm.destination_addr.addr)
            else {
                continue;
            };
            let skip: Vec<bool> = (0..parts.len())
                .map(|i| {
                    record
                        .parts
                        .get(i)
                        .is_some_and(|p| p.state != State::Accepted)
                })
                .collect();
            while !self.has_room(&route, record.class, parts.len()) {
                if self.stopping() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let n = self.dispatch(record.id, record.class, &route, parts, &skip);
            self.stats
                .resent_after_restart
                .fetch_add(n as u64, Ordering::Relaxed);
            resent += n as u64;
        }
        if resent > 0 {
            tracing::info!(resent, "re-sent parts accepted before the last stop");
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    fn part_failed_at_intake(&self, id: u64, part: usize, error: &crate::carrier::SubmitError) {
        let status = match error {
            crate::carrier::SubmitError::NoRoute(_) => {
                smppgate_protocol::command_status::CommandStatus::ESME_RINVDSTADR
            }
            _ => smppgate_protocol::command_status::CommandStatus::ESME_RMSGQFUL,
        };
        self.part_outcome(
            id,
            u16::try_from(part).unwrap_or(u16::MAX),
            None,
            Err(status),
            0,
        );
    }

    /// Formats our id for an account.
    #[must_use]
    pub fn format_id(id: u64, style: IdStyle) -> String {
        match style {
            IdStyle::Dec => id.to_string(),
            IdStyle::Hex | IdStyle::Auto => format!("{id:x}"),
        }
    }

    /// Parses an id an account sends back (query_sm), in its style.
    #[must_use]
    pub fn parse_id(text: &[u8], style: IdStyle) -> Option<u64> {
        let text = std::str::from_utf8(text).ok()?.trim_end_matches('\0');
        match style {
            IdStyle::Dec => text.parse().ok(),
            IdStyle::Hex | IdStyle::Auto => u64::from_str_radix(text, 16).ok(),
        }
    }
}

/// The upstream submit_sm a record was accepted with.
pub(crate) fn request_of(record: &MessageRecord) -> Option<SubmitSm> {
    match decode(Bytes::copy_from_slice(&record.request)).ok()?.body {
        Body::SubmitSm(submit_sm) => Some(submit_sm),
        _ => None,
    }
}

/// The bytes a record keeps of its upstream request.
pub(crate) fn request_bytes(submit_sm: &SubmitSm) -> Option<Vec<u8>> {
    let pdu = Pdu::new(1, Body::SubmitSm(submit_sm.clone()));
    encode_to_bytes(&pdu).ok().map(|b| b.to_vec())
}

/// A store update that is not awaited by its producer.
#[derive(Debug)]
pub(crate) enum Update {
    /// Writes.
    Ops(Vec<Op>),
    /// Answer once everything before is committed.
    Flush(tokio::sync::oneshot::Sender<()>),
}

async fn write_updates(mut rx: mpsc::Receiver<Update>, group: Arc<GroupCommit>) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(update) = next.take() {
            match update {
                Update::Ops(ops) => batch.extend(ops),
                Update::Flush(done) => flushes.push(done),
            }
            if batch.len() < 4096 {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            // A failed write is retried (the store may recover, e.g. disk space returns);
            // meanwhile new updates wait behind it (bounded queue: backpressure).
            let ops = std::mem::take(&mut batch);
            let mut delay = std::time::Duration::from_millis(100);
            while let Err(error) = group.commit(ops.clone()).await {
                tracing::error!(%error, "store update failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}
