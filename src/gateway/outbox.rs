//! The outbox stage: each account's receipts and MO messages, from the store to the
//! account's receiver / transceiver binds, oldest first, through each session's window.
//!
//! One task per account (a slow client holds back no other account). Items stream: the
//! task reads the store on from the last seq it read ([`Store::outbox_after`]), sends each
//! item as soon as a session has room (the one with the fewest outstanding, so several
//! binds share the load), and commits acks as responses come (one commit at a time,
//! carrying every ack that arrived meanwhile). An item leaves the store only after
//! deliver_sm_resp ESME_ROK. An error status sends the item again after a back-off
//! (doubling) without holding up the items behind it; after `max_attempts` error statuses
//! the item is parked in the store's dead-letter area. A lost connection sends its items
//! in flight again (possible duplicates, counted). At the end of the queue a task waits
//! for `wake`, its next retry, or cancellation: it does not poll.
//!
//! The decisions are [`queue::Queue`]'s (no I/O, no clock); this file does the I/O.
//!
//! Bounds: per account at most [`queue::MAX_HELD`] items in memory, at most `window` in
//! flight per session, one store read and one commit at a time.

pub(crate) mod lease;
mod queue;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use smppgate_protocol::pdu::DeliverSm;
use tokio::sync::Notify;

use super::wakes::Wakes;
use super::writer::COMMIT_TRIES;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use self::queue::RetryPolicy;
use self::queue::{Done, Outcome, Queue};
use crate::clock::Clock;
use crate::conn::{RequestError, Response};
use crate::smsc::{Registry, SessionHandle};
use crate::store::{GroupCommit, Op, OutboxItem, Store, StoreError};

/// What the outbox stage needs.
pub(crate) struct OutboxDeps {
    /// Reads (on blocking threads).
    pub store: Arc<dyn Store>,
    /// Commits acks and parks.
    pub group: Arc<GroupCommit>,
    /// The bound sessions, by system_id.
    pub registry: Arc<Registry>,
    /// Woken when items were queued for an account or its receiver / transceiver bound
    /// (that account's task), or for every account.
    pub wake: Arc<Wakes>,
    /// The accounts served.
    pub accounts: Vec<Arc<str>>,
    /// The configuration each reload puts in force: an account it adds gets its task.
    pub reloads: tokio::sync::watch::Receiver<Arc<crate::config::Config>>,
    /// Items delivered (acks committed), for the exit report.
    pub forwarded: Arc<AtomicU64>,
    /// Back-off timing and park times.
    pub clock: Clock,
    /// Stops the stage: nothing new is sent, what is in flight is answered and committed.
    pub cancel: CancellationToken,
    /// Back-off and parking.
    pub retry: RetryPolicy,
    /// Most deliver_sm outstanding per session (the server's window for them).
    pub window: usize,
    /// With `[cluster]`: an account's items are sent only while this node holds its
    /// lease (`outbox/lease.rs`).
    pub leases: Option<Arc<lease::Leases>>,
    /// With leases: the accounts in force, whose webhook queues' leases are kept here too
    /// (the webhook sink sends under them), and the sink's wake.
    pub hooks: Arc<crate::gateway::accounts::Accounts>,
    pub hook_wake: Arc<Wakes>,
}

/// What every account task shares.
struct Shared {
    store: Arc<dyn Store>,
    group: Arc<GroupCommit>,
    registry: Arc<Registry>,
    forwarded: Arc<AtomicU64>,
    clock: Clock,
    cancel: CancellationToken,
    window: usize,
    leases: Option<Arc<lease::Leases>>,
    retry: RetryPolicy,
}

/// Runs the stage until `cancel`, then until every account task has its items in flight
/// answered and their acks committed.
pub(crate) async fn run(deps: OutboxDeps) {
    let shared = Arc::new(Shared {
        store: deps.store,
        group: deps.group,
        registry: deps.registry,
        forwarded: deps.forwarded,
        clock: deps.clock,
        cancel: deps.cancel.clone(),
        window: deps.window.max(1),
        leases: deps.leases.clone(),
        retry: deps.retry,
    });
    let tracker = TaskTracker::new();
    if let Some(leases) = deps.leases {
        tracker.spawn(lease::run(lease::LeaseParts {
            leases,
            registry: Arc::clone(&shared.registry),
            hooks: deps.hooks,
            wakes: [Arc::clone(&deps.wake), deps.hook_wake],
            cancel: deps.cancel.clone(),
        }));
    }
    let mut served = HashSet::new();
    let start = |account: Arc<str>| {
        let wake = deps.wake.register(&account);
        let queue = Queue::new(Arc::clone(&account), deps.retry);
        tracker.spawn(Account::new(Arc::clone(&shared), account, wake, queue).run());
    };
    for account in deps.accounts {
        served.insert(Arc::clone(&account));
        start(account);
    }
    let mut reloads = deps.reloads;
    let mut reloading = true;
    // Fans a wake of every account out (this task is its only waiter); a wake of one
    // account goes to its task directly (`Wakes::account`).
    let mut fan_out = pin!(deps.wake.fan_out());
    loop {
        tokio::select! {
            () = &mut fan_out => fan_out.set(deps.wake.fan_out()),
            changed = reloads.changed(), if reloading => {
                if changed.is_err() {
                    reloading = false;
                    continue;
                }
                // An account a reload added: its task from now on (a removed account's
                // task stays: what is queued for it waits in the store, listed).
                let config = Arc::clone(&reloads.borrow_and_update());
                for added in &config.accounts {
                    if !served.contains(added.system_id.as_str()) {
                        let name: Arc<str> = Arc::from(added.system_id.as_str());
                        served.insert(Arc::clone(&name));
                        start(Arc::clone(&name));
                        deps.wake.account(&name);
                    }
                }
            }
            () = deps.cancel.cancelled() => break,
        }
    }
    tracker.close();
    tracker.wait().await;
}

type Sending = Pin<Box<dyn Future<Output = (u64, u64, Result<Response, RequestError>)> + Send>>;
/// A store read: the items, and how many were asked for.
type Read = (Result<Vec<OutboxItem>, StoreError>, usize);
type Commit = Pin<Box<dyn Future<Output = (Result<(), StoreError>, u64)> + Send>>;

/// One account's task: the I/O around its [`Queue`].
struct Account {
    shared: Arc<Shared>,
    account: Arc<str>,
    wake: Arc<Notify>,
    queue: Queue,
    /// Outstanding deliver_sm per session (connection id).
    outstanding: HashMap<u64, usize>,
    /// Sessions that refused to send (closing): not used again.
    refusing: HashSet<u64>,
    sends: FuturesUnordered<Sending>,
    read: Option<JoinHandle<Read>>,
    commit: Option<Commit>,
    /// Acks and parks waiting for the commit under way to finish.
    ops: Vec<Op>,
    /// Of `ops`, the acks.
    acks: u64,
    /// `smppgate_outbox_held_items{account}`: items read from the store and not yet
    /// acknowledged or parked (at most `queue::MAX_HELD`; at the cap more wait on disk).
    held: metrics::Gauge,
    /// `smppgate_outbox_parked_total{account}`, registered at start so it reads 0, not
    /// absent, until something is parked (alerts and dashboards query it).
    parked: metrics::Counter,
    /// `smppgate_outbox_maybe_duplicate_total`: items sent again after a lost answer.
    maybe_duplicate: metrics::Counter,
    /// With leases: how many times this node had taken the account's lease when the
    /// queue was last read afresh.
    lease_taken: u64,
}

impl Account {
    fn new(shared: Arc<Shared>, account: Arc<str>, wake: Arc<Notify>, queue: Queue) -> Self {
        let held = metrics::gauge!("smppgate_outbox_held_items", "account" => account.to_string());
        let parked =
            metrics::counter!("smppgate_outbox_parked_total", "account" => account.to_string());
        let maybe_duplicate = metrics::counter!("smppgate_outbox_maybe_duplicate_total");
        Self {
            shared,
            account,
            wake,
            queue,
            outstanding: HashMap::new(),
            refusing: HashSet::new(),
            sends: FuturesUnordered::new(),
            read: None,
            commit: None,
            ops: Vec::new(),
            acks: 0,
            held,
            parked,
            maybe_duplicate,
            lease_taken: 0,
        }
    }

    /// Whether this node sends the account's items now: always on one node; with
    /// `[cluster]` while it holds the account's lease. A lease taken again (the other
    /// node delivered meanwhile) reads the queue afresh once nothing is in flight.
    fn may_send(&mut self, now: tokio::time::Instant) -> bool {
        let Some(leases) = &self.shared.leases else {
            return true;
        };
        let (holds, taken) = leases.holds(&self.account, now);
        if !holds {
            return false;
        }
        if taken != self.lease_taken {
            // Afresh only once what this node did is stored: acks still to commit would
            // otherwise be read back as queued and sent again.
            if !self.sends.is_empty()
                || self.read.is_some()
                || self.commit.is_some()
                || !self.ops.is_empty()
            {
                return false;
            }
            self.lease_taken = taken;
            self.queue = Queue::new(Arc::clone(&self.account), self.shared.retry);
        }
        true
    }

    async fn run(mut self) {
        let cancel = self.shared.cancel.clone();
        let mut cancelled = false;
        loop {
            let now = self.shared.clock.now();
            let sending = !cancelled && self.may_send(now);
            if sending {
                self.queue.promote(now);
                self.start_read(now);
                self.send_ready();
            }
            self.start_commit();
            #[allow(clippy::cast_precision_loss)] // at most MAX_HELD
            self.held.set(self.queue.held() as f64);
            if cancelled && self.sends.is_empty() && self.commit.is_none() {
                return;
            }
            let deadline = if sending {
                self.queue.next_deadline()
            } else if cancelled {
                None
            } else {
                // Another node holds the lease (or ours lapsed): its retry times are not
                // this loop's to wake for (they were past: it spun); the lease keeper
                // wakes it when the lease comes back, and it looks again meanwhile.
                self.shared
                    .leases
                    .as_ref()
                    .map(|leases| now + leases.every())
            };
            tokio::select! {
                Some((seq, connection, result)) = self.sends.next(), if !self.sends.is_empty() => {
                    self.handle_outcome(seq, connection, result);
                }
                read = maybe(&mut self.read) => {
                    self.read = None;
                    self.handle_read(read);
                }
                (result, acks) = maybe(&mut self.commit) => {
                    self.commit = None;
                    self.committed(result, acks);
                }
                () = cancel.cancelled(), if !cancelled => cancelled = true,
                () = self.wake.notified(), if !cancelled => self.queue.handle_wake(),
                () = tokio::time::sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {}
            }
        }
    }

    fn start_read(&mut self, now: tokio::time::Instant) {
        if self.read.is_some() {
            return;
        }
        let Some((after, limit)) = self.queue.begin_read(now) else {
            return;
        };
        let store = Arc::clone(&self.shared.store);
        let account = Arc::clone(&self.account);
        self.read = Some(tokio::task::spawn_blocking(move || {
            (store.outbox_after(&account, after, limit), limit)
        }));
    }

    fn handle_read(&mut self, read: Result<Read, tokio::task::JoinError>) {
        let now = self.shared.clock.now();
        match read {
            Ok((Ok(items), asked)) => {
                let wall = self.shared.clock.wall_ms();
                for done in self.queue.handle_read(items, asked, wall) {
                    self.record(done);
                }
            }
            Ok((Err(error), _)) => {
                tracing::error!(account = %self.account, %error, "outbox read failed (tried again)");
                self.queue.read_failed(now);
            }
            Err(error) => {
                tracing::error!(account = %self.account, %error, "outbox read task failed");
                self.queue.read_failed(now);
            }
        }
    }

    /// Sends ready items, oldest first, while a session has room.
    fn send_ready(&mut self) {
        if !self.queue.has_ready() {
            return;
        }
        let sessions: Vec<SessionHandle> = self
            .shared
            .registry
            .sessions(self.account.as_bytes())
            .into_iter()
            .filter(|s| s.info().can_receive() && !s.link().is_closed())
            .collect();
        // Forget what concerns sessions that are gone (bounded by the binds).
        self.refusing
            .retain(|id| sessions.iter().any(|s| s.info().connection_id == *id));
        while self.queue.has_ready() {
            let Some(session) = self.least_busy(&sessions) else {
                return;
            };
            let Some((seq, deliver_sm)) = self.queue.next() else {
                return;
            };
            self.send(session, seq, deliver_sm);
        }
    }

    fn least_busy<'s>(&self, sessions: &'s [SessionHandle]) -> Option<&'s SessionHandle> {
        sessions
            .iter()
            .filter(|s| !self.refusing.contains(&s.info().connection_id))
            .map(|s| (self.outstanding_on(s.info().connection_id), s))
            .filter(|(outstanding, _)| *outstanding < self.shared.window)
            .min_by_key(|(outstanding, _)| *outstanding)
            .map(|(_, s)| s)
    }

    fn outstanding_on(&self, connection: u64) -> usize {
        self.outstanding.get(&connection).copied().unwrap_or(0)
    }

    fn send(&mut self, session: &SessionHandle, seq: u64, deliver_sm: DeliverSm) {
        let connection = session.info().connection_id;
        *self.outstanding.entry(connection).or_insert(0) += 1;
        let session = session.clone();
        // Requests enter the connection's queue in this order: oldest first on the wire.
        self.sends.push(Box::pin(async move {
            (seq, connection, session.deliver(deliver_sm).await)
        }));
    }

    fn handle_outcome(
        &mut self,
        seq: u64,
        connection: u64,
        result: Result<Response, RequestError>,
    ) {
        if let Some(outstanding) = self.outstanding.get_mut(&connection) {
            *outstanding -= 1;
            if *outstanding == 0 {
                self.outstanding.remove(&connection);
            }
        }
        let outcome = match result {
            Ok(response) if response.is_ok() => Outcome::Accepted,
            Ok(response) if response.is_throttled() => Outcome::Throttled,
            Ok(response) => Outcome::Refused(response.status()),
            Err(RequestError::Closed | RequestError::Refused(_)) => {
                self.refusing.insert(connection);
                Outcome::Unsent
            }
            Err(error @ RequestError::Aborted { .. }) => {
                tracing::debug!(account = %self.account, seq, %error, "forward interrupted");
                self.maybe_duplicate.increment(1);
                Outcome::Lost
            }
            Err(error @ (RequestError::Timeout { .. } | RequestError::Undecodable { .. })) => {
                tracing::debug!(account = %self.account, seq, %error, "forward unanswered");
                self.maybe_duplicate.increment(1);
                Outcome::NoAnswer
            }
            Err(error @ RequestError::Encode(_)) => {
                tracing::error!(account = %self.account, seq, %error, "outbox item cannot be sent");
                Outcome::Broken
            }
        };
        let done = self.queue.handle_outcome(
            seq,
            outcome,
            self.shared.clock.now(),
            self.shared.clock.wall_ms(),
        );
        self.record(done);
    }

    fn record(&mut self, done: Done) {
        match done {
            Done::Delivered(op) => {
                self.ops.push(op);
                self.acks += 1;
            }
            Done::Parked {
                op,
                seq,
                status,
                attempts,
            } => {
                tracing::warn!(account = %self.account, seq, %status, attempts, "outbox item parked (smppgate receipts parked / replay)");
                self.parked.increment(1);
                self.ops.push(op);
            }
            Done::Again => {}
        }
    }

    fn start_commit(&mut self) {
        if self.commit.is_some() || self.ops.is_empty() {
            return;
        }
        let ops = std::mem::take(&mut self.ops);
        let acks = std::mem::take(&mut self.acks);
        let group = Arc::clone(&self.shared.group);
        self.commit = Some(Box::pin(async move {
            // A failed commit (a store error, maybe another caller's in the same group
            // commit) is tried again with the ops it hands back, as the writer does:
            // before, the acks were lost for the run (their items sent again after the
            // next restart) and a lost park left its item neither retried nor parked.
            (group.commit_bulk_retrying(ops, COMMIT_TRIES).await, acks)
        }));
    }

    fn committed(&self, result: Result<(), StoreError>, acks: u64) {
        match result {
            Ok(()) => {
                self.shared.forwarded.fetch_add(acks, Ordering::Relaxed);
            }
            Err(error) => {
                // The items stay in the store: they go again after a restart.
                tracing::error!(account = %self.account, %error, "outbox acks / parks not stored");
            }
        }
    }
}

/// The output of `slot`'s future, or never when there is none (a `select!` branch that
/// stays quiet while nothing is under way).
async fn maybe<F: Future + Unpin>(slot: &mut Option<F>) -> F::Output {
    match slot {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
