//! [`Carriers`]: every carrier's binds, every route's lanes, and one dispatcher task per
//! route that moves a message from the lanes to a bind only when that bind has a free
//! window slot and the carrier's rate limit has a token (no deep per-bind queues, so an
//! OTP waits behind at most the message being sent).
//!
//! The dispatcher also owns its route's requests in flight (a `FuturesUnordered` of
//! response receivers): no task is spawned per request, and the completions that arrive
//! together are handled in one wake-up of the task that sends the next ones.
//!
//! A message taken from the lanes is *held* by its route until its outcome: in flight,
//! waiting to be retried, or waiting to be sent again after a throttle. Each route holds
//! at most a few windows' worth, so with the bounded lanes nothing in the pool grows
//! without bound.
//!
//! A throttle (ESME_RTHROTTLED, ESME_RMSGQFUL) is a slow-down, not a failure: the
//! message goes again to the same carrier once its rate allows, and it is not an attempt.
//! But a carrier that throttles everything would hold its messages for ever, so one that
//! has been on a carrier for longer than its class's `failover_after` (counted from its
//! first attempt there) goes to the route's next carrier instead, when there is one.
//!
//! That alone moves only what the route holds, a few windows per `failover_after`, so
//! a carrier that throttles everything is also *refusing by throttle* as a whole
//! (`refusal.rs`): once it has answered only throttles, no ESME_ROK, for a class's
//! `failover_after`, every message of that class that would go to it next (a new
//! message's first attempt, a retry, a throttled re-send) goes to the route's next
//! carrier that is not refusing, counted as a failover and in
//! `smppgate_carrier_throttle_bypass_total`. A probe, a real message, still goes to it
//! once a second when its (lowered) rate allows; its first ESME_ROK ends the state. When
//! every carrier left refuses, messages stay on the first as before: throttling slows a
//! message down, it never fails it. The rate reaction is untouched.
//!
//! A failover goes only to a carrier that is up or binding (and not paused): with every
//! later one down, a message's attempts on its carrier were its last, as on a route of
//! one, and a throttled one stays where it is. A message failed over to carriers that
//! have all gone down since goes back to the start of the route. So a retry never waits
//! for a carrier that is down, holding the retries behind it (they are sent in order).
//! Attempts count per carrier: a message that moves to another one starts there at 0.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Value, json};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::Body;
use smppgate_protocol::types::RegisteredDelivery;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::bind::{self, BindSlot, Held};
use super::lanes::Lanes;
use super::limiter::{Flow, ThrottlePolicy};
use super::metrics::{CarrierMetrics, RouteMetrics};
use super::refusal::Refusal;
use super::retry::{StatusTable, Verdict, backoff};
use super::route::Router;
use super::share::Share;
use super::{Class, Events, FailReason, Outcome, OutcomeResult, Submission, SubmitError};
use crate::config::{CarrierConfig, Config};
use crate::conn::{PendingResponse, RequestError};
use crate::shutdown::{Shutdown, ShutdownSignal};

/// Messages per class and route waiting to be sent, at most, by default (`[[route]]
/// queue`).
pub const LANE_CAPACITY: usize = 10_000;

/// How long [`Carriers`] drains when the shutdown signal given to [`Carriers::start`]
/// fires.
const SIGNAL_DRAIN: Duration = Duration::from_secs(5);

/// How long a node waits before it opens binds that a join gave it (its first ones
/// included): the other nodes look at the live set once a second and close their
/// surplus binds (at once when idle, within a response when busy) first, so a carrier
/// that limits binds per account does not refuse the newcomer's.
const JOIN_GRACE: Duration = Duration::from_secs(3);

/// Why [`Carriers::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A carrier's status override does not parse.
    #[error("carrier {carrier}: {message}")]
    Status {
        /// The carrier.
        carrier: String,
        /// What is wrong.
        message: String,
    },
    /// A route names a carrier that does not exist.
    #[error("route {route} names carrier {carrier}, which is not configured")]
    UnknownCarrier {
        /// The route.
        route: String,
        /// The missing carrier.
        carrier: String,
    },
    /// An SGIP carrier's report listener cannot listen.
    #[error(
        "carrier {carrier}: cannot listen on report_listen {addr}: {cause}; free the port \
         or write another IP:port this host has (and register it with the carrier)"
    )]
    ReportListen {
        /// The carrier.
        carrier: String,
        /// `report_listen`.
        addr: String,
        /// The error.
        cause: std::io::Error,
    },
}

/// Counters of one carrier (relaxed atomics, for [`Carriers::stats`]).
#[derive(Debug, Default)]
pub(crate) struct CarrierCounters {
    pub(crate) submits: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) failovers: AtomicU64,
    pub(crate) throttle_bypasses: AtomicU64,
    pub(crate) resubmitted_after_loss: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) bind_attempts: AtomicU64,
    pub(crate) bind_failures: AtomicU64,
    pub(crate) bind_rejections: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

/// One carrier: its binds, rate limit and status table.
pub(crate) struct Carrier {
    pub(crate) name: Arc<str>,
    pub(crate) config: CarrierConfig,
    /// `host:port` of its SMSC.
    pub(crate) address: String,
    statuses: StatusTable,
    /// The contracted TPS (the file's, or a reload's): the whole cluster's. The limiter
    /// in `flow` runs at this node's [`Share`] of it.
    contract: AtomicU32,
    flow: Mutex<Flow>,
    /// Whether it is refusing by throttle (only throttles for a `failover_after`).
    refusal: Mutex<Refusal>,
    origin: Instant,
    /// Every slot of its `binds`; this node opens the first [`Held::binds`] of them.
    pub(crate) binds: Vec<BindSlot>,
    /// The slots this node holds now (`None`: not known yet, `[cluster]` start).
    pub(crate) held: watch::Sender<Option<Held>>,
    /// This node's place among the live nodes (`None` before the first look).
    share: Mutex<Option<Share>>,
    /// This node's place among the live nodes with a bind up to this carrier, when it
    /// has one (`[cluster]`): the contract is split among those (docs/cluster.md); `None`
    /// splits it as the binds are, among the live nodes.
    tps_share: Mutex<Option<Share>>,
    /// Where the search for the least loaded bind starts (round robin on ties).
    next_bind: AtomicUsize,
    /// Binds up now.
    pub(crate) live: AtomicUsize,
    /// Bind slots whose first attempt has not ended.
    pub(crate) starting: AtomicUsize,
    /// Paused by the operator (`POST /v1/carriers/{name}/pause`): its binds stay up, it
    /// takes no new submits; its routes go past it as past a carrier that is down.
    paused: AtomicBool,
    /// The dispatchers of the routes using this carrier.
    wakers: Mutex<Vec<Arc<Notify>>>,
    pub(crate) counters: CarrierCounters,
    /// ESME_ROK responses.
    ok_responses: AtomicU64,
    /// Responses by any other status.
    by_status: Mutex<BTreeMap<u32, u64>>,
    pub(crate) metrics: CarrierMetrics,
    pub(crate) events: Arc<dyn Events>,
}

impl Carrier {
    /// Holds this node's `share` of the binds: opens the slots it gained (after
    /// [`JOIN_GRACE`] when `joining`), retires the surplus ones (bind.rs).
    fn hold(&self, share: Share, joining: bool) {
        let binds = self.binds.len();
        let count = share.of_binds(binds);
        *self.share.lock().unwrap_or_else(PoisonError::into_inner) = Some(share);
        self.held.send_if_modified(|held| {
            let grows = held.is_none_or(|h| count > h.binds);
            let next = Held {
                binds: count,
                not_before: (joining && grows).then(|| Instant::now() + JOIN_GRACE),
            };
            let changed = held.is_none_or(|h| h.binds != count);
            if changed {
                *held = Some(next);
            }
            changed
        });
        #[allow(clippy::cast_precision_loss)]
        self.metrics.binds_held.set(count as f64);
        if binds < share.of {
            tracing::warn!(
                carrier = %self.name,
                binds,
                nodes = share.of,
                total = share.total_binds(binds),
                "fewer binds than live nodes: each node keeps one, so the carrier sees more binds than its `binds`"
            );
        }
    }

    /// Whether the binds are split among several live nodes now.
    pub(crate) fn is_split(&self) -> bool {
        self.share
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|share| share.of > 1)
    }

    /// Runs the limiter at this node's part of the contract: its place among the nodes
    /// bound to this carrier when known, else `share` (among the live nodes).
    fn apply_share(&self, share: Share) {
        let share = self
            .tps_share
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(share);
        let tps = share.of_tps(self.contract.load(Ordering::Relaxed));
        let now = self.now_ns();
        self.flow
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_tps(tps, now);
        self.wake_routes();
    }
}

impl std::fmt::Debug for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carrier")
            .field("name", &self.name)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Carrier {
    fn now_ns(&self) -> u64 {
        self.ns_at(Instant::now())
    }

    /// `t` in nanoseconds since the pool started (the limiter's clock).
    fn ns_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Wakes every dispatcher that may send through this carrier.
    pub(crate) fn wake_routes(&self) {
        for waker in self
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            waker.notify_one();
        }
    }

    /// Wakes the dispatchers of the other routes using this carrier (a window slot
    /// freed by `own`'s completions may serve them).
    fn wake_other_routes(&self, own: &Arc<Notify>) {
        for waker in self
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            if !Arc::ptr_eq(waker, own) {
                waker.notify_one();
            }
        }
    }

    fn is_starting(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0 && self.starting.load(Ordering::Acquire) > 0
    }

    fn is_up(&self) -> bool {
        self.live.load(Ordering::Acquire) > 0
    }

    /// The registered_delivery this carrier is sent for a part that asked `asked`: a
    /// receipt on every outcome with `request_receipts` (ADR 0023), else what was asked.
    fn registered_delivery(&self, asked: RegisteredDelivery) -> RegisteredDelivery {
        if self.config.request_receipts {
            asked.with_receipt()
        } else {
            asked
        }
    }

    /// Paused by the operator: sends nothing new (what is in flight is answered).
    fn is_paused_by_operator(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// A window slot on the live bind with the fewest outstanding requests, then a rate
    /// token. `Err(Some(t))`: no token before `t`; `Err(None)`: no window slot free.
    fn reserve(&self, now: Instant) -> Result<usize, Option<Instant>> {
        let count = self.binds.len();
        // Ties go round: at low load every bind has nothing outstanding.
        let start = self.next_bind.fetch_add(1, Ordering::Relaxed) % count;
        let mut index = None;
        for _ in 0..count {
            let best = (0..count)
                .map(|offset| (start + offset) % count)
                .filter(|i| self.binds[*i].is_live())
                .map(|i| (self.binds[i].outstanding.load(Ordering::Acquire), i))
                .filter(|(outstanding, i)| *outstanding < self.binds[*i].window)
                .min_by_key(|(outstanding, _)| *outstanding);
            match best {
                None => break,
                Some((_, i)) if self.binds[i].try_reserve() => {
                    index = Some(i);
                    break;
                }
                // Another route took that slot meanwhile: look again.
                Some(_) => {}
            }
        }
        let index = index.ok_or(None)?;
        let token = self
            .flow
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_take(self.ns_at(now));
        match token {
            Ok(()) => Ok(index),
            Err(wait) => {
                self.binds[index].release();
                Err(Some(now + Duration::from_nanos(wait)))
            }
        }
    }

    fn throttled(&self, sent_at: Instant, now: Instant) {
        self.refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .throttled(self.ns_at(now));
        let sent_ns = self.ns_at(sent_at);
        let mut flow = self.flow.lock().unwrap_or_else(PoisonError::into_inner);
        if flow.on_throttle(self.ns_at(now), sent_ns) {
            self.metrics.throttle_events.increment(1);
            self.metrics.rate.set(flow.rate());
            tracing::info!(carrier = %self.name, rate = flow.rate(), "throttled: pausing, rate lowered");
        }
    }

    /// It accepted a message: it is not refusing by throttle (any more).
    fn accepted(&self, now: Instant) {
        let ended = self
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .accepted(self.ns_at(now));
        if let Some(throttling) = ended {
            tracing::info!(
                carrier = %self.name,
                throttled_for = ?Duration::from_nanos(throttling),
                "accepting again after refusing by throttle: the routes send to it again"
            );
        }
    }

    /// Whether a message of `class` goes past this carrier at `now` because it has
    /// answered only throttles for that class's `failover_after`.
    fn is_refusing(&self, class: Class, now: Instant) -> bool {
        let after = nanos(self.config.failover_after(class));
        self.refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_refusing(self.ns_at(now), after)
    }

    /// Whether a probe (a real message sent to it while it refuses) may go now.
    fn probe_due(&self, now: Instant) -> bool {
        self.refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .probe_due(self.ns_at(now))
    }

    fn probe_sent(&self, now: Instant) {
        self.refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .probe_sent(self.ns_at(now));
    }

    /// A message went past it while it refuses by throttle (a failover).
    fn passed_over(&self, now: Instant) {
        self.counters.failovers.fetch_add(1, Ordering::Relaxed);
        self.metrics.failovers.increment(1);
        self.counters
            .throttle_bypasses
            .fetch_add(1, Ordering::Relaxed);
        self.metrics.throttle_bypasses.increment(1);
        let began = self
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .passed_over(self.ns_at(now));
        if let Some(throttling) = began {
            tracing::info!(
                carrier = %self.name,
                throttled_for = ?Duration::from_nanos(throttling),
                "refusing by throttle (no message accepted): the routes send past it, probing it once a second"
            );
        }
    }

    fn count_status(&self, status: CommandStatus) {
        self.metrics.response(status);
        // The common case without a lock; the rest by status.
        if status.is_ok() {
            self.ok_responses.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *self
            .by_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(status.0)
            .or_default() += 1;
    }

    fn stats(&self) -> Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.counters;
        // Refusing for at least one class (the one with the shortest failover_after).
        let shortest = Class::ALL
            .iter()
            .map(|class| nanos(self.config.failover_after(*class)))
            .min()
            .unwrap_or(u64::MAX);
        let refusing = self
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_refusing(self.now_ns(), shortest);
        let (rate, paused, throttle_events, node_tps) = {
            let flow = self.flow.lock().unwrap_or_else(PoisonError::into_inner);
            let now = self.now_ns();
            (
                flow.rate_at(now),
                flow.is_paused(now),
                flow.reactions(),
                flow.tps(),
            )
        };
        let mut by_status = self
            .by_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let ok = self.ok_responses.load(Ordering::Relaxed);
        if ok > 0 {
            by_status.insert(CommandStatus::ESME_ROK.0, ok);
        }
        let statuses: serde_json::Map<String, Value> = by_status
            .iter()
            .map(|(status, n)| (CommandStatus(*status).name_or_hex().into_owned(), json!(n)))
            .collect();
        let share = *self.share.lock().unwrap_or_else(PoisonError::into_inner);
        let held = (*self.held.borrow()).map(|held| held.binds);
        let binds: Vec<Value> = self
            .binds
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                json!({
                    "bind": index,
                    // Whether this node holds this slot under the split (`[cluster]`).
                    "held": held.is_some_and(|held| index < held),
                    "live": slot.is_live(),
                    "outstanding": slot.outstanding.load(Ordering::Relaxed),
                    "submits": get(&slot.submits),
                    "bind_attempts": get(&slot.attempts),
                    "bind_failures": get(&slot.failures),
                    "reconnects": get(&slot.reconnects),
                })
            })
            .collect();
        json!({
            "name": &*self.name,
            "address": self.address,
            "binds_up": self.live.load(Ordering::Relaxed),
            // The carrier's `binds` (the cluster's total), this node's part of them (all
            // of them on one node; null on a `[cluster]` node before its first look at
            // the live nodes), and its place among the live nodes (docs/cluster.md).
            "binds_total": self.binds.len(),
            "binds_held": held,
            // Route tasks its responses wake (those of its routes, and of routes a reload
            // replaced until they have sent what they held).
            "route_tasks": self.wakers.lock().unwrap_or_else(PoisonError::into_inner).len(),
            "share": share.map(|share| json!({"node": share.index + 1, "of": share.of})),
            // The contract now (a reload may have changed it), whole messages a second.
            "tps": self.contract.load(Ordering::Relaxed),
            // This node's part of it (all of it on one node; `[cluster]` splits it among
            // the live nodes, docs/cluster.md).
            "node_tps": node_tps.round() as u64,
            "rate": (rate * 10.0).round() / 10.0,
            "paused": paused,
            "paused_by_operator": self.is_paused_by_operator(),
            "throttle_events": throttle_events,
            "submits": get(&c.submits),
            "accepted": get(&c.accepted),
            "failed": get(&c.failed),
            "throttled": get(&c.throttled),
            "retries": get(&c.retries),
            "failovers": get(&c.failovers),
            "throttle_bypasses": get(&c.throttle_bypasses),
            "refusing_by_throttle": refusing,
            "resubmitted_after_loss": get(&c.resubmitted_after_loss),
            "timeouts": get(&c.timeouts),
            "bind_attempts": get(&c.bind_attempts),
            "bind_failures": get(&c.bind_failures),
            "bind_rejections": get(&c.bind_rejections),
            "reconnects": get(&c.reconnects),
            "statuses": statuses,
            "binds": binds,
        })
    }
}

/// A duration in nanoseconds (the limiter's and the refusal's unit), saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A submission on its way through the pool.
#[derive(Debug)]
struct Job {
    submission: Submission,
    /// Sends, all carriers (throttled ones included).
    attempts: u32,
    /// Failed attempts on the current carrier (throttles not counted).
    carrier_attempts: u32,
    /// The first position in the route's carrier list it may use.
    min_carrier: usize,
    last_status: CommandStatus,
    /// Times a bind dropped while it was in flight.
    losses: u32,
    /// The position of the carrier it was last sent to, and when it was first sent
    /// there (the start of its `failover_after` on that carrier).
    on_carrier: Option<(usize, Instant)>,
    /// The positions it was sent to or turned back to, one bit each ([`Tried`]).
    tried: Tried,
}

/// The carriers of its route a job has been sent to (or turned back to), by position:
/// a job whose attempts ran out on a later carrier goes back to an earlier one it went
/// past while that one was down, once. Positions past 63 count as tried.
#[derive(Debug, Clone, Copy, Default)]
struct Tried(u64);

impl Tried {
    fn mark(&mut self, position: usize) {
        if let Some(bit) = 1u64.checked_shl(u32::try_from(position).unwrap_or(u32::MAX)) {
            self.0 |= bit;
        }
    }

    fn has(self, position: usize) -> bool {
        1u64.checked_shl(u32::try_from(position).unwrap_or(u32::MAX))
            .is_none_or(|bit| self.0 & bit != 0)
    }
}

/// Bind losses with a message in flight that are not held against it: a link that drops
/// every few seconds must not fail messages that happened to be in its window; only one
/// that keeps going down with the connection (a poison message) uses up its attempts.
const FREE_LOSSES: u32 = 8;

/// How a request in flight ended, reduced to what the pool uses (the full response
/// PDU is a few hundred bytes; this moves through the futures instead).
type Reply = Result<(CommandStatus, Bytes), Box<RequestError>>;

/// A request in flight: where its job is kept, where it went, and how it ended.
struct Sent {
    /// Index of the job in [`InFlight::jobs`].
    index: usize,
    position: usize,
    bind: usize,
    sent_at: Instant,
    reply: Reply,
}

/// The response a request in flight waits for.
struct Waiting {
    index: usize,
    position: usize,
    bind: usize,
    sent_at: Instant,
    response: PendingResponse,
}

impl Future for Waiting {
    type Output = Sent;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Sent> {
        let reply = match Pin::new(&mut self.response).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(Ok(response))) => Ok((
                response.status(),
                response.message_id().cloned().unwrap_or_default(),
            )),
            Poll::Ready(Ok(Err(error))) => Err(Box::new(error)),
            // A dropped reply: the connection task went away without sending it.
            Poll::Ready(Err(_)) => Err(Box::new(RequestError::Closed)),
        };
        Poll::Ready(Sent {
            index: self.index,
            position: self.position,
            bind: self.bind,
            sent_at: self.sent_at,
            reply,
        })
    }
}

/// A route's requests in flight, owned by its dispatcher. The jobs stay in place while
/// their requests are out (moved in once, out once); the futures carry an index.
#[derive(Default)]
struct InFlight {
    pending: FuturesUnordered<Waiting>,
    /// At most the route's windows together: indices are reused.
    jobs: Vec<Option<Job>>,
    free: Vec<usize>,
}

impl InFlight {
    fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn push(&mut self, job: Job, waiting: impl FnOnce(usize) -> Waiting) {
        let index = match self.free.pop() {
            Some(index) => {
                self.jobs[index] = Some(job);
                index
            }
            None => {
                self.jobs.push(Some(job));
                self.jobs.len() - 1
            }
        };
        self.pending.push(waiting(index));
    }

    fn take(&mut self, index: usize) -> Option<Job> {
        let job = self.jobs.get_mut(index)?.take();
        if job.is_some() {
            self.free.push(index);
        }
        job
    }
}

/// What the pool shares between routes, completions and carriers.
struct Shared {
    carriers: Vec<Arc<Carrier>>,
    events: Arc<dyn Events>,
    /// Past the drain deadline: whatever comes back is not sent again.
    closed: AtomicBool,
    /// This node's part of every carrier's binds and contract (`[cluster]`: changed as
    /// nodes come and go; `None` before the first look at the live nodes).
    share: Mutex<Option<Share>>,
}

/// One route: lanes, retries, and the carriers in order of preference.
struct Route {
    name: Arc<str>,
    /// Indices into `Shared::carriers`, preferred first.
    carriers: Vec<usize>,
    /// Its `queue` setting (a reload that changes it or `carriers` starts a new route).
    queue: usize,
    lanes: Mutex<Lanes<Job>>,
    /// Jobs waiting for a retry, by due time.
    retries: Mutex<BTreeMap<(Instant, u64), Job>>,
    /// Throttled jobs waiting to be sent again, by the time they fail over (each is
    /// due at once; the carrier's paused or lowered rate is what holds them back).
    throttled: Mutex<BTreeMap<(Instant, u64), Job>>,
    retry_seq: AtomicU64,
    /// Whether the lanes go before the throttled jobs at the next send (they take turns).
    lanes_turn: AtomicBool,
    /// Jobs taken from the lanes and not ended (in flight or waiting for a retry).
    held: AtomicUsize,
    hold_cap: usize,
    wake: Arc<Notify>,
    /// A reload replaced this route by another of the same name, or removed it: once it
    /// has sent what it held, its task ends (before, every such reload left one running
    /// for good, woken by each response of its carriers).
    retired: AtomicBool,
    /// Its task ended (retired, then idle): the next reload lets the route go.
    ended: AtomicBool,
    metrics: RouteMetrics,
    shared: Arc<Shared>,
}

/// Where a job goes now: a window slot and a rate token already taken.
struct Placement {
    /// The carrier's position in the route.
    position: usize,
    bind: usize,
    /// The positions before it that the job goes past because they refuse by throttle
    /// (empty unless one does: no allocation on the common path).
    past: Vec<usize>,
}

/// The earliest of the times a dispatch step could go on.
#[derive(Debug, Default)]
struct Earliest(Option<Instant>);

impl Earliest {
    fn at(&mut self, t: Option<Instant>) {
        if let Some(t) = t {
            self.0 = Some(self.0.map_or(t, |w| w.min(t)));
        }
    }
}

/// What one dispatch step did.
enum Step {
    Sent,
    Wait(Option<Instant>),
}

impl Route {
    fn carrier(&self, position: usize) -> &Arc<Carrier> {
        &self.shared.carriers[self.carriers[position]]
    }

    /// A carrier for a job of `class` that may use the positions from `min` on, with a
    /// window slot and a token taken: the first one that is up and not refusing by
    /// throttle, waiting for one still making its first bind (so a slow primary does not
    /// send the first messages to the backup). A refusing carrier still takes a probe
    /// once per [`super::refusal::PROBE_INTERVAL`] when it has a slot and a token; when
    /// every carrier up from `min` on refuses, the first of them takes the job, as
    /// throttling never fails a message. `None`: wait (until `wait`, or a wake-up).
    fn place(
        &self,
        min: usize,
        class: Class,
        now: Instant,
        wait: &mut Earliest,
    ) -> Option<Placement> {
        // A job failed over to carriers that are all down (or paused) since goes back to
        // the start of the route rather than wait for them: it must not hold the retries
        // queued behind it (`send_retry` looks at the first only).
        let min = if self.usable_from(min) { min } else { 0 };
        let mut past = Vec::new();
        for position in min..self.carriers.len() {
            let carrier = self.carrier(position);
            // A carrier the operator paused is gone past as one that is down (not waited
            // for as one still starting).
            if carrier.is_paused_by_operator() {
                continue;
            }
            if !carrier.is_up() {
                if carrier.is_starting() {
                    break;
                }
                continue;
            }
            if !carrier.is_refusing(class, now) {
                return match carrier.reserve(now) {
                    Ok(bind) => Some(Placement {
                        position,
                        bind,
                        past,
                    }),
                    Err(t) => {
                        wait.at(t);
                        None
                    }
                };
            }
            if carrier.probe_due(now) {
                match carrier.reserve(now) {
                    Ok(bind) => {
                        carrier.probe_sent(now);
                        return Some(Placement {
                            position,
                            bind,
                            past,
                        });
                    }
                    Err(t) => wait.at(t),
                }
            }
            past.push(position);
        }
        let position = *past.first()?;
        match self.carrier(position).reserve(now) {
            Ok(bind) => Some(Placement {
                position,
                bind,
                past: Vec::new(),
            }),
            Err(t) => {
                wait.at(t);
                None
            }
        }
    }

    /// Whether a carrier at `from` or after it is up or binding (and not paused by the
    /// operator): one a job can fail over to.
    fn usable_from(&self, from: usize) -> bool {
        (from..self.carriers.len()).any(|position| self.usable(position))
    }

    /// Up or binding, and not paused by the operator.
    fn usable(&self, position: usize) -> bool {
        let carrier = self.carrier(position);
        !carrier.is_paused_by_operator() && (carrier.is_up() || carrier.is_starting())
    }

    /// The first carrier before `position` that is usable now and that the job was never
    /// sent or turned back to.
    fn untried_before(&self, position: usize, tried: Tried) -> Option<usize> {
        (0..position.min(self.carriers.len()))
            .find(|&before| !tried.has(before) && self.usable(before))
    }

    /// Sends `job` where [`Route::place`] put it, counting a failover on each carrier it
    /// went past.
    fn send_placed(&self, mut job: Job, placed: Placement, now: Instant, in_flight: &mut InFlight) {
        if !placed.past.is_empty() {
            for position in &placed.past {
                let carrier = self.carrier(*position);
                carrier.passed_over(now);
                tracing::debug!(
                    id = job.submission.id,
                    part = job.submission.part,
                    carrier = %carrier.name,
                    class = job.submission.class.as_str(),
                    "carrier refusing by throttle: going past it"
                );
            }
            job.min_carrier = placed.position;
            job.carrier_attempts = 0;
        }
        job.tried.mark(placed.position);
        self.send(job, placed.position, placed.bind, now, in_flight);
    }

    fn set_depth(&self, lanes: &Lanes<Job>, class: Class) {
        #[allow(clippy::cast_precision_loss)]
        self.metrics.depth[class.index()].set(lanes.len(class) as f64);
    }

    /// Sends one job if a carrier can take it now.
    fn step(&self, now: Instant, in_flight: &mut InFlight) -> Step {
        let mut wait = Earliest::default();
        // Retries first: they are older than anything in the lanes.
        if self.send_retry(now, in_flight, &mut wait) {
            return Step::Sent;
        }
        // Throttled jobs and the lanes take turns: a carrier that throttles everything
        // still gives new messages their first attempt (which starts their
        // `failover_after`) instead of spending its whole rate on the same few.
        let lanes_first = self.lanes_turn.load(Ordering::Relaxed);
        for lanes in [lanes_first, !lanes_first] {
            let sent = if lanes {
                self.send_new(now, in_flight, &mut wait)
            } else {
                self.send_throttled(now, in_flight, &mut wait)
            };
            if sent {
                self.lanes_turn.store(!lanes, Ordering::Relaxed);
                return Step::Sent;
            }
        }
        Step::Wait(wait.0)
    }

    /// Sends the first retry if it is due and a carrier can take it.
    fn send_retry(&self, now: Instant, in_flight: &mut InFlight, wait: &mut Earliest) -> bool {
        let mut retries = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = retries.first_entry() else {
            return false;
        };
        let due = entry.key().0;
        if due > now {
            wait.at(Some(due));
            return false;
        }
        let job = entry.get();
        let Some(placed) = self.place(job.min_carrier, job.submission.class, now, wait) else {
            return false;
        };
        let job = entry.remove();
        drop(retries);
        self.send_placed(job, placed, now, in_flight);
        true
    }

    /// Sends the throttled job nearest its failover deadline again: to the same carrier
    /// while it has time left there, else to the route's next one.
    fn send_throttled(&self, now: Instant, in_flight: &mut InFlight, wait: &mut Earliest) -> bool {
        let mut throttled = self
            .throttled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(mut entry) = throttled.first_entry() else {
            return false;
        };
        let deadline = entry.key().0;
        let job = entry.get_mut();
        if let Some((on, _)) = job.on_carrier {
            // With no next carrier (or none up) it keeps waiting on this one.
            if self.usable_from(on + 1) && job.min_carrier <= on {
                if deadline <= now {
                    self.fail_over_throttled(job, on);
                } else {
                    wait.at(Some(deadline));
                }
            }
        }
        let Some(placed) = self.place(job.min_carrier, job.submission.class, now, wait) else {
            return false;
        };
        let job = entry.remove();
        drop(throttled);
        self.send_placed(job, placed, now, in_flight);
        true
    }

    /// Moves a job throttled for too long on the carrier at `on` to the next one.
    fn fail_over_throttled(&self, job: &mut Job, on: usize) {
        let carrier = self.carrier(on);
        carrier.counters.failovers.fetch_add(1, Ordering::Relaxed);
        carrier.metrics.failovers.increment(1);
        job.min_carrier = on + 1;
        job.carrier_attempts = 0;
        tracing::debug!(
            id = job.submission.id,
            part = job.submission.part,
            carrier = %carrier.name,
            class = job.submission.class.as_str(),
            failover_after = ?carrier.config.failover_after(job.submission.class),
            "throttled for too long: failing over"
        );
    }

    /// Takes a new job from the lanes if there is room to hold it and a carrier can
    /// take it.
    fn send_new(&self, now: Instant, in_flight: &mut InFlight, wait: &mut Earliest) -> bool {
        if self.held.load(Ordering::Acquire) >= self.hold_cap {
            return false;
        }
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(class) = lanes.next_class() else {
            return false;
        };
        let Some(placed) = self.place(0, class, now, wait) else {
            return false;
        };
        let Some((class, job)) = lanes.pop() else {
            self.carrier(placed.position).binds[placed.bind].release();
            return false;
        };
        self.set_depth(&lanes, class);
        drop(lanes);
        self.held.fetch_add(1, Ordering::AcqRel);
        self.send_placed(job, placed, now, in_flight);
        true
    }

    /// Sends `job` through `bind` of the carrier at `position` (window slot and token
    /// already taken).
    fn send(
        &self,
        mut job: Job,
        position: usize,
        bind: usize,
        now: Instant,
        in_flight: &mut InFlight,
    ) {
        let carrier = self.carrier(position);
        let slot = &carrier.binds[bind];
        if job
            .submission
            .deadline
            .is_some_and(|deadline| now >= deadline)
        {
            // Its validity ended while it waited (a carrier down, throttled, retries):
            // the handset must not get it after its client was told it expired.
            slot.release();
            self.finish(
                job,
                position,
                OutcomeResult::Failed {
                    status: CommandStatus::ESME_ROK,
                    reason: FailReason::Expired,
                },
            );
            return;
        }
        // The clone is a few reference counts (the fields are `Bytes`); the job keeps
        // its own for a retry.
        let mut submit_sm = job.submission.submit_sm.clone();
        submit_sm.registered_delivery = carrier.registered_delivery(submit_sm.registered_delivery);
        let Some(response) = slot.try_request(Body::SubmitSm(submit_sm)) else {
            // The bind went down since the reservation (or its task is gone): try again
            // shortly, by which time it is marked down.
            slot.release();
            self.requeue(job, now + Duration::from_millis(1));
            return;
        };
        slot.submits.fetch_add(1, Ordering::Relaxed);
        slot.metrics.submits.increment(1);
        carrier.counters.submits.fetch_add(1, Ordering::Relaxed);
        job.attempts += 1;
        if job.on_carrier.is_none_or(|(on, _)| on != position) {
            // Attempts count per carrier: those on the last one (it went down, or the job
            // went back to the start of the route) are not held against this one.
            if job.on_carrier.is_some() {
                job.carrier_attempts = 0;
            }
            job.on_carrier = Some((position, now));
        }
        // The gateway's message id follows the message into the carrier side's log.
        tracing::trace!(
            id = job.submission.id,
            part = job.submission.part,
            carrier = %carrier.name,
            bind,
            attempt = job.attempts,
            "submit_sm sent"
        );
        in_flight.push(job, |index| Waiting {
            index,
            position,
            bind,
            sent_at: now,
            response,
        });
    }

    /// Handles the end of one send (the window slot is given back first).
    fn complete(&self, sent: Sent, now: Instant, in_flight: &mut InFlight) {
        let Sent {
            index,
            position,
            bind,
            sent_at,
            reply,
        } = sent;
        let carrier = &**self.carrier(position);
        carrier.binds[bind].release();
        let Some(mut job) = in_flight.take(index) else {
            // Every index is pushed once and taken once: cannot happen.
            tracing::error!(route = %self.name, index, "response for an unknown job");
            return;
        };
        match reply.map_err(|error| *error) {
            Ok((status, message_id)) => {
                carrier
                    .metrics
                    .latency
                    .record(now.duration_since(sent_at).as_secs_f64());
                carrier.count_status(status);
                job.last_status = status;
                match carrier.statuses.verdict(status) {
                    Verdict::Done => {
                        carrier.counters.accepted.fetch_add(1, Ordering::Relaxed);
                        carrier.accepted(now);
                        // As `send` asked of this carrier.
                        let notified = carrier
                            .registered_delivery(job.submission.submit_sm.registered_delivery)
                            .asks_for_notification();
                        self.finish(
                            job,
                            position,
                            OutcomeResult::Accepted {
                                message_id,
                                notified,
                            },
                        );
                    }
                    Verdict::Throttled => {
                        // Not an attempt: the carrier pauses and the message goes again.
                        carrier.counters.throttled.fetch_add(1, Ordering::Relaxed);
                        carrier.throttled(sent_at, now);
                        self.requeue_throttled(job, carrier, now);
                    }
                    Verdict::Transient => self.retry_or_fail_over(job, position, carrier, true),
                    Verdict::Permanent => {
                        carrier.counters.failed.fetch_add(1, Ordering::Relaxed);
                        self.finish(
                            job,
                            position,
                            OutcomeResult::Failed {
                                status,
                                reason: FailReason::Permanent,
                            },
                        );
                    }
                }
            }
            // Never sent (the bind closed first or refused it): not an attempt.
            Err(RequestError::Closed | RequestError::Refused(_)) => {
                job.attempts -= 1;
                self.requeue(job, now);
            }
            Err(RequestError::Aborted { .. }) => {
                // Sent, then the bind dropped: the carrier may have taken it. Sent again
                // on another bind (at least once; a duplicate is possible).
                carrier
                    .counters
                    .resubmitted_after_loss
                    .fetch_add(1, Ordering::Relaxed);
                carrier.metrics.resubmitted_after_loss.increment(1);
                job.last_status = CommandStatus::ESME_RSYSERR;
                job.losses += 1;
                if job.losses <= FREE_LOSSES {
                    self.requeue(job, now);
                } else {
                    self.retry_or_fail_over(job, position, carrier, false);
                }
            }
            Err(RequestError::Timeout { .. } | RequestError::Undecodable { .. }) => {
                carrier.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                job.last_status = CommandStatus::ESME_RSYSERR;
                self.retry_or_fail_over(job, position, carrier, true);
            }
            Err(error) => {
                // Cannot be encoded: no carrier will take it.
                tracing::warn!(carrier = %carrier.name, %error, "submission cannot be sent");
                carrier.counters.failed.fetch_add(1, Ordering::Relaxed);
                self.finish(
                    job,
                    position,
                    OutcomeResult::Failed {
                        status: CommandStatus::ESME_RINVMSGLEN,
                        reason: FailReason::Permanent,
                    },
                );
            }
        }
    }

    /// A transient failure: another attempt after a backoff, or the next carrier, or
    /// the end.
    fn retry_or_fail_over(&self, mut job: Job, position: usize, carrier: &Carrier, wait: bool) {
        job.carrier_attempts += 1;
        let now = Instant::now();
        if job.carrier_attempts < carrier.config.retry.max_attempts.max(1) {
            carrier.counters.retries.fetch_add(1, Ordering::Relaxed);
            carrier.metrics.retries.increment(1);
            let delay = if wait {
                backoff(carrier.config.retry.backoff, job.carrier_attempts)
            } else {
                Duration::ZERO
            };
            self.requeue(job, now + delay);
        } else if self.usable_from(position + 1) {
            // (None up after it: the attempts here were its last, as on a route of one.)
            carrier.counters.failovers.fetch_add(1, Ordering::Relaxed);
            carrier.metrics.failovers.increment(1);
            job.min_carrier = position + 1;
            job.carrier_attempts = 0;
            self.requeue(job, now);
        } else if let Some(back) = self.untried_before(position, job.tried) {
            // None up after it, but one before it that was down (or paused) when the job
            // went past it is up again: the job goes back there instead of failing with
            // a carrier of its route never tried. Once per carrier (marked here), so a
            // carrier that throttles it past every time cannot turn it round for ever.
            carrier.counters.failovers.fetch_add(1, Ordering::Relaxed);
            carrier.metrics.failovers.increment(1);
            tracing::debug!(
                id = job.submission.id,
                part = job.submission.part,
                from = %carrier.name,
                to = %self.carrier(back).name,
                "attempts used up: back to a carrier of the route it went past"
            );
            job.tried.mark(back);
            job.min_carrier = back;
            job.carrier_attempts = 0;
            self.requeue(job, now);
        } else {
            carrier.counters.failed.fetch_add(1, Ordering::Relaxed);
            let status = job.last_status;
            self.finish(
                job,
                position,
                OutcomeResult::Failed {
                    status,
                    reason: FailReason::Exhausted,
                },
            );
        }
    }

    /// Puts a held job back, due at `due` (or ends it when the pool has closed).
    fn requeue(&self, job: Job, due: Instant) {
        if self.shared.closed.load(Ordering::Acquire) {
            let position = job.min_carrier;
            self.finish(job, position, shutdown_result());
            return;
        }
        let seq = self.retry_seq.fetch_add(1, Ordering::Relaxed);
        self.retries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((due, seq), job);
        self.wake.notify_one();
    }

    /// Puts a held job back after `carrier` throttled it, ordered by when it fails over
    /// (or ends it when the pool has closed).
    fn requeue_throttled(&self, job: Job, carrier: &Carrier, now: Instant) {
        if self.shared.closed.load(Ordering::Acquire) {
            let position = job.min_carrier;
            self.finish(job, position, shutdown_result());
            return;
        }
        let since = job.on_carrier.map_or(now, |(_, since)| since);
        let deadline = since + carrier.config.failover_after(job.submission.class);
        let seq = self.retry_seq.fetch_add(1, Ordering::Relaxed);
        self.throttled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((deadline, seq), job);
        self.wake.notify_one();
    }

    /// Gives a held job its outcome.
    fn finish(&self, job: Job, position: usize, result: OutcomeResult) {
        self.held.fetch_sub(1, Ordering::AcqRel);
        self.outcome(job, position, result);
    }

    fn outcome(&self, job: Job, position: usize, result: OutcomeResult) {
        let position = position.min(self.carriers.len().saturating_sub(1));
        tracing::debug!(
            id = job.submission.id,
            part = job.submission.part,
            carrier = %self.carrier(position).name,
            attempts = job.attempts,
            ?result,
            "outcome"
        );
        self.shared.events.outcome(Outcome {
            id: job.submission.id,
            part: job.submission.part,
            carrier: Arc::clone(&self.carrier(position).name),
            result,
            attempts: job.attempts,
            failovers: u32::try_from(position).unwrap_or(u32::MAX),
        });
    }

    /// Whether nothing waits or is in flight.
    fn is_idle(&self) -> bool {
        self.held.load(Ordering::Acquire) == 0
            && self
                .lanes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
    }

    /// Ends everything still waiting with [`FailReason::Shutdown`].
    fn abandon(&self) {
        let queued = self
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain_all();
        for job in queued {
            self.outcome(job, 0, shutdown_result());
        }
        for class in Class::ALL {
            self.metrics.depth[class.index()].set(0.0);
        }
        let retries =
            std::mem::take(&mut *self.retries.lock().unwrap_or_else(PoisonError::into_inner));
        let throttled = std::mem::take(
            &mut *self
                .throttled
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for job in retries.into_values().chain(throttled.into_values()) {
            let position = job.min_carrier;
            self.finish(job, position, shutdown_result());
        }
    }

    fn stats(&self) -> Value {
        let lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let queued: serde_json::Map<String, Value> = Class::ALL
            .iter()
            .map(|class| (class.as_str().to_owned(), json!(lanes.len(*class))))
            .collect();
        drop(lanes);
        json!({
            "name": &*self.name,
            "carriers": self.carriers.iter().map(|i| &*self.shared.carriers[*i].name).collect::<Vec<_>>(),
            "queued": queued,
            "held": self.held.load(Ordering::Relaxed),
            "retry_waiting": self.retries.lock().unwrap_or_else(PoisonError::into_inner).len(),
            "throttle_waiting": self.throttled.lock().unwrap_or_else(PoisonError::into_inner).len(),
        })
    }
}

fn shutdown_result() -> OutcomeResult {
    OutcomeResult::Failed {
        status: CommandStatus::ESME_RSYSERR,
        reason: FailReason::Shutdown,
    }
}

/// Sends in a row before the dispatcher lets other tasks run.
const BURST: u32 = 64;

/// The dispatcher of one route: sends what the lanes and retries hold when a carrier
/// can take it, and handles the responses of what it sent. After the pool closes it
/// only waits for what is still in flight (each ends as [`FailReason::Shutdown`]).
async fn dispatch(route: Arc<Route>) {
    let mut in_flight = InFlight::default();
    // Positions of the carriers whose windows the last responses freed.
    let mut freed = Vec::with_capacity(route.carriers.len());
    // Retired and idle since then (see `Route::retired`).
    let mut idle_since: Option<Instant> = None;
    loop {
        let closed = route.shared.closed.load(Ordering::Acquire);
        if closed && in_flight.is_empty() {
            break;
        }
        if route.retired.load(Ordering::Acquire) && in_flight.is_empty() && route.is_idle() {
            // Idle for a while, not only now: a submission that found this route just
            // before the swap has had time to land in its lanes (and wake it).
            let now = Instant::now();
            match idle_since {
                Some(since) if now.duration_since(since) >= RETIRE_AFTER => {
                    route.unregister_wake();
                    route.ended.store(true, Ordering::Release);
                    break;
                }
                Some(_) => {}
                None => idle_since = Some(now),
            }
            let since = idle_since.unwrap_or(now);
            route.wait(&mut in_flight, Some(since + RETIRE_AFTER)).await;
            continue;
        }
        idle_since = None;
        // Every response already in: one pass, one wake of the other routes.
        let now = Instant::now();
        freed.clear();
        while let Some(Some(sent)) = in_flight.pending.next().now_or_never() {
            if !freed.contains(&sent.position) {
                freed.push(sent.position);
            }
            route.complete(sent, now, &mut in_flight);
        }
        for position in freed.drain(..) {
            route.carrier(position).wake_other_routes(&route.wake);
        }
        let mut wait = None;
        if !closed {
            let mut sent = 0_u32;
            loop {
                match route.step(Instant::now(), &mut in_flight) {
                    Step::Sent => {
                        sent += 1;
                        if sent >= BURST {
                            break;
                        }
                    }
                    Step::Wait(until) => {
                        wait = Some(until);
                        break;
                    }
                }
            }
        }
        let Some(until) = wait else {
            // A long burst, or closed: let the connections run, then go on.
            if !closed {
                tokio::task::yield_now().await;
                continue;
            }
            route.wait(&mut in_flight, None).await;
            continue;
        };
        route.wait(&mut in_flight, until).await;
    }
}

/// How long a retired route stays idle before its task ends.
const RETIRE_AFTER: Duration = Duration::from_secs(1);

impl Route {
    /// Its carriers stop waking it (its task is ending).
    fn unregister_wake(&self) {
        for &i in &self.carriers {
            self.shared.carriers[i]
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|waker| !Arc::ptr_eq(waker, &self.wake));
        }
    }

    /// Waits for a response, a wake-up (submission, bind up, freed slot) or `until`.
    async fn wait(&self, in_flight: &mut InFlight, until: Option<Instant>) {
        let sleep = async {
            match until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(sent) = in_flight.pending.next(), if !in_flight.is_empty() => {
                let position = sent.position;
                self.complete(sent, Instant::now(), in_flight);
                self.carrier(position).wake_other_routes(&self.wake);
            }
            () = self.wake.notified() => {}
            () = sleep => {}
        }
    }
}

/// The routes in force and every route started.
struct RouteSet {
    /// By name, the routes in force (a route a reload removed is in `all` only, until
    /// its task has sent what it held).
    by_name: std::collections::HashMap<Arc<str>, Arc<Route>>,
    /// The configuration's routes, in its order (for the stats).
    listed: Vec<Arc<Route>>,
    /// Every route started, replaced ones too: each finishes what it holds, and the
    /// drain waits for all of them.
    all: Vec<Arc<Route>>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The routes, swapped whole by [`Carriers::set_routes`] (a reload); read without a
    /// lock.
    routes: arc_swap::ArcSwap<RouteSet>,
    router: Router,
    /// One [`Carriers::set_routes`] at a time.
    reroute: Mutex<()>,
    stopping: AtomicBool,
    stop: Shutdown,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    drained: tokio::sync::Mutex<bool>,
}

impl Inner {
    async fn drain(&self, deadline: Duration) {
        let mut drained = self.drained.lock().await;
        if *drained {
            return;
        }
        self.stopping.store(true, Ordering::Release);
        // A reload starting routes now either finished (they are in the set read below)
        // or sees `stopping` and starts none.
        drop(self.reroute.lock().unwrap_or_else(PoisonError::into_inner));
        let end = Instant::now() + deadline;
        let routes = self.routes.load_full();
        while Instant::now() < end && !routes.all.iter().all(|r| r.is_idle()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.shared.closed.store(true, Ordering::Release);
        for route in &routes.all {
            route.abandon();
            route.wake.notify_one();
        }
        // Unbind: answers to what is still in flight arrive first (up to the unbind
        // timeout); what then comes back is ended as Shutdown.
        self.stop.trigger();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let _ =
            tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(tasks)).await;
        *drained = true;
    }
}

/// Every carrier pool and route (see the module documentation of [`super`]).
pub struct Carriers {
    inner: Arc<Inner>,
    watcher: JoinHandle<()>,
}

impl std::fmt::Debug for Carriers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carriers")
            .field("carriers", &self.inner.shared.carriers)
            .finish_non_exhaustive()
    }
}

impl Carriers {
    /// Starts a pool per carrier (each connecting to its `address`, `host:port`) and a
    /// dispatcher per route; returns at once, binds come up in the background. When
    /// `shutdown` fires the pool drains for 5 s.
    ///
    /// # Errors
    /// [`StartError`]: a status override that does not parse, a route naming a missing
    /// carrier.
    pub async fn start(
        config: &Config,
        events: Arc<dyn Events>,
        shutdown: ShutdownSignal,
    ) -> Result<Self, StartError> {
        Self::start_with(config, events, shutdown, Some(Share::WHOLE)).await
    }

    /// As [`Carriers::start`] for a node of a `[cluster]`: no bind opens before the first
    /// [`Carriers::set_share`] says which part of each carrier's binds this node holds
    /// (opening all of them first would take the places of the nodes already bound).
    /// Messages wait meanwhile, as for binds still coming up.
    ///
    /// # Errors
    /// As [`Carriers::start`].
    pub async fn start_in_cluster(
        config: &Config,
        events: Arc<dyn Events>,
        shutdown: ShutdownSignal,
    ) -> Result<Self, StartError> {
        Self::start_with(config, events, shutdown, None).await
    }

    async fn start_with(
        config: &Config,
        events: Arc<dyn Events>,
        shutdown: ShutdownSignal,
        share: Option<Share>,
    ) -> Result<Self, StartError> {
        let stop = Shutdown::new();
        let mut carriers = Vec::new();
        for carrier in &config.carriers {
            let statuses =
                StatusTable::new(&carrier.transient_statuses, &carrier.permanent_statuses)
                    .map_err(|message| StartError::Status {
                        carrier: carrier.name.clone(),
                        message,
                    })?;
            let name: Arc<str> = Arc::from(carrier.name.as_str());
            let origin = Instant::now();
            let policy = ThrottlePolicy {
                initial: nanos(carrier.throttle_backoff.initial),
                max: nanos(carrier.throttle_backoff.max),
                rate_decrease: carrier.throttle_backoff.rate_decrease.clamp(0.01, 1.0),
                rate_increase: carrier.throttle_backoff.rate_increase.max(0.0),
            };
            let binds = carrier.binds.max(1);
            let metrics = CarrierMetrics::new(&name);
            metrics.rate.set(f64::from(carrier.tps));
            carriers.push(Arc::new(Carrier {
                binds: (0..binds)
                    .map(|i| BindSlot::new(&name, i, carrier.window))
                    .collect(),
                held: watch::Sender::new(share.map(|share| Held {
                    binds: share.of_binds(binds),
                    not_before: None,
                })),
                share: Mutex::new(share),
                tps_share: Mutex::new(None),
                name,
                config: carrier.clone(),
                address: carrier.address.clone(),
                statuses,
                contract: AtomicU32::new(carrier.tps),
                flow: Mutex::new(Flow::new(carrier.tps, policy, 0)),
                refusal: Mutex::new(Refusal::default()),
                origin,
                next_bind: AtomicUsize::new(0),
                paused: AtomicBool::new(false),
                live: AtomicUsize::new(0),
                starting: AtomicUsize::new(binds),
                wakers: Mutex::new(Vec::new()),
                counters: CarrierCounters::default(),
                ok_responses: AtomicU64::new(0),
                by_status: Mutex::new(BTreeMap::new()),
                metrics,
                events: Arc::clone(&events),
            }));
        }
        let shared = Arc::new(Shared {
            carriers,
            events,
            closed: AtomicBool::new(false),
            share: Mutex::new(share),
        });
        let mut routes = Vec::new();
        for route in &config.routes {
            routes.push(new_route(route, &shared)?);
        }
        let mut tasks = Vec::new();
        for carrier in &shared.carriers {
            for index in 0..carrier.binds.len() {
                tasks.push(tokio::spawn(bind::run(
                    Arc::clone(carrier),
                    index,
                    stop.signal(),
                )));
            }
        }
        for carrier in &shared.carriers {
            if carrier.config.protocol == crate::config::CarrierProtocol::Sgip {
                // The SMG connects back here with reports and MO (docs/pipeline.md).
                let listening =
                    crate::conn::china::sgip_report::listen(&carrier.config, stop.signal()).await;
                let (_, inbound) = listening.map_err(|cause| {
                    // The binds already started end with the pool that never was.
                    stop.trigger();
                    StartError::ReportListen {
                        carrier: carrier.name.to_string(),
                        addr: carrier.config.report_listen.clone().unwrap_or_default(),
                        cause,
                    }
                })?;
                tasks.push(tokio::spawn(super::reports::run(
                    Arc::clone(carrier),
                    inbound,
                    stop.signal(),
                )));
            }
        }
        for route in &routes {
            tasks.push(tokio::spawn(dispatch(Arc::clone(route))));
        }
        let inner = Arc::new(Inner {
            shared,
            routes: arc_swap::ArcSwap::from_pointee(RouteSet {
                by_name: routes
                    .iter()
                    .map(|r| (Arc::clone(&r.name), Arc::clone(r)))
                    .collect(),
                listed: routes.clone(),
                all: routes,
            }),
            router: Router::new(&config.routes),
            reroute: Mutex::new(()),
            stopping: AtomicBool::new(false),
            stop,
            tasks: Mutex::new(tasks),
            drained: tokio::sync::Mutex::new(false),
        });
        let watcher = {
            let inner = Arc::downgrade(&inner);
            let mut shutdown = shutdown;
            tokio::spawn(async move {
                shutdown.wait().await;
                if let Some(inner) = inner.upgrade() {
                    inner.drain(SIGNAL_DRAIN).await;
                }
            })
        };
        Ok(Self { inner, watcher })
    }

    /// Routes and queues one segment; never blocks.
    ///
    /// # Errors
    /// [`SubmitError::NoRoute`] (no prefix matches and no default route, or a named
    /// route that does not exist), [`SubmitError::QueueFull`] (the route's lane for this
    /// class is full; the submission is handed back), [`SubmitError::Stopping`].
    pub fn submit(&self, submission: Submission) -> Result<(), SubmitError> {
        let inner = &self.inner;
        if inner.stopping.load(Ordering::Acquire) {
            return Err(SubmitError::Stopping);
        }
        let destination = std::str::from_utf8(&submission.submit_sm.destination_addr.addr);
        let routes = inner.routes.load();
        let by_destination = || {
            let destination = destination.ok()?;
            let name = inner.router.route(None, destination)?;
            routes.by_name.get(&name)
        };
        // A route a reload removed since the caller chose it: the destination's.
        let route = match &submission.route {
            Some(name) => routes.by_name.get(name).or_else(by_destination),
            None => by_destination(),
        };
        let Some(route) = route else {
            let what = submission.route.as_deref().map_or_else(
                || {
                    String::from_utf8_lossy(&submission.submit_sm.destination_addr.addr)
                        .into_owned()
                },
                |name| format!("(route {name})"),
            );
            return Err(SubmitError::NoRoute(what));
        };
        let class = submission.class;
        let mut lanes = route.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        if lanes.is_full(class) {
            return Err(SubmitError::QueueFull {
                route: Arc::clone(&route.name),
                submission: Box::new(submission),
            });
        }
        // Not boxed: allocated here and freed on a worker thread, a box cost more than
        // the moves it saves (measured, docs/benchmarks/carrier.md).
        let job = Job {
            submission,
            attempts: 0,
            carrier_attempts: 0,
            min_carrier: 0,
            last_status: CommandStatus::ESME_RSYSERR,
            losses: 0,
            on_carrier: None,
            tried: Tried::default(),
        };
        if let Err(job) = lanes.push(class, job) {
            return Err(SubmitError::QueueFull {
                route: Arc::clone(&route.name),
                submission: Box::new(job.submission),
            });
        }
        route.set_depth(&lanes, class);
        drop(lanes);
        route.wake.notify_one();
        Ok(())
    }

    /// Room left in the lane of `class` on the route named `route` (0 for an unknown
    /// route or a stopping pool). The gateway's dispatcher asks before it reads more of a
    /// route's backlog from the store.
    #[must_use]
    pub fn room(&self, route: &str, class: Class) -> usize {
        self.lane_room(route, class).0
    }

    /// [`Carriers::room`], and how many messages a lane of the route holds, read under
    /// one lock ((0, 0) for an unknown route).
    #[must_use]
    pub fn lane_room(&self, route: &str, class: Class) -> (usize, usize) {
        let inner = &self.inner;
        inner
            .routes
            .load()
            .by_name
            .get(route)
            .map_or((0, 0), |route| {
                let lanes = route.lanes.lock().unwrap_or_else(PoisonError::into_inner);
                let room = if inner.stopping.load(Ordering::Acquire) {
                    0
                } else {
                    lanes.room(class)
                };
                (room, lanes.capacity())
            })
    }

    /// Whether this node can send on the route named `route` now: one of its carriers has
    /// a bind up here and is not paused by the operator. A `[cluster]` node pulls a
    /// route's work queue only then, so the messages go to the nodes that can send them.
    #[must_use]
    pub fn can_send(&self, route: &str) -> bool {
        let inner = &self.inner;
        inner.routes.load().by_name.get(route).is_some_and(|route| {
            route.carriers.iter().any(|&index| {
                inner.shared.carriers.get(index).is_some_and(|carrier| {
                    carrier.live.load(Ordering::Acquire) > 0 && !carrier.is_paused_by_operator()
                })
            })
        })
    }

    /// Puts `routes` in force (a configuration reload): a route whose carriers and queue
    /// are unchanged keeps running as it is; a new or changed one starts (lanes and a
    /// dispatcher of its own) and takes the new messages of its name, while the route it
    /// replaces sends what it holds already on its old carriers; a removed route sends
    /// what it holds and takes nothing new (a submission naming it goes by its
    /// destination); both end their tasks once idle. The prefix table is swapped whole.
    /// Answers the names of the routes started.
    ///
    /// # Errors
    /// [`StartError::UnknownCarrier`]: a route names a carrier this pool does not run
    /// (one the file adds needs a restart); nothing is changed.
    pub fn set_routes(
        &self,
        routes: &[crate::config::RouteConfig],
    ) -> Result<Vec<String>, StartError> {
        let inner = &self.inner;
        let _one = inner.reroute.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.stopping.load(Ordering::Acquire) {
            return Ok(Vec::new());
        }
        // Every route checked before any is built: a refusal leaves no trace.
        for config in routes {
            carrier_indices(config, &inner.shared)?;
        }
        let old = inner.routes.load_full();
        let mut listed = Vec::with_capacity(routes.len());
        let mut started = Vec::new();
        for config in routes {
            let kept = old.by_name.get(config.name.as_str()).filter(|route| {
                route.queue == config.queue.max(1)
                    && carrier_indices(config, &inner.shared).is_ok_and(|i| i == route.carriers)
            });
            match kept {
                Some(route) => listed.push(Arc::clone(route)),
                None => {
                    listed.push(new_route(config, &inner.shared)?);
                    started.push(config.name.clone());
                }
            }
        }
        let mut by_name = old.by_name.clone();
        // Routes whose task ended (retired, then idle) go, and so do finished tasks'
        // handles: a reload after reload does not pile them up.
        let mut all: Vec<_> = old
            .all
            .iter()
            .filter(|route| !route.ended.load(Ordering::Acquire))
            .cloned()
            .collect();
        let mut tasks = inner.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.retain(|task| !task.is_finished());
        let mut replaced = Vec::new();
        for route in &listed {
            let before = by_name.insert(Arc::clone(&route.name), Arc::clone(route));
            if before
                .as_ref()
                .is_none_or(|before| !Arc::ptr_eq(before, route))
            {
                replaced.extend(before);
                all.push(Arc::clone(route));
                tasks.push(tokio::spawn(dispatch(Arc::clone(route))));
            }
        }
        drop(tasks);
        // A route the file no longer has: no new message finds it by name either (a
        // submission naming it goes by its destination, see `submit`); it sends what it
        // holds, then its task ends as a replaced route's does.
        by_name.retain(|name, route| {
            let kept = routes.iter().any(|config| *config.name == **name);
            if !kept {
                replaced.push(Arc::clone(route));
            }
            kept
        });
        inner.routes.store(Arc::new(RouteSet {
            by_name,
            listed,
            all,
        }));
        // After the swap: no new submission finds them.
        for route in replaced {
            route.retired.store(true, Ordering::Release);
            route.wake.notify_one();
        }
        inner.router.replace(routes);
        Ok(started)
    }

    /// Stops taking submissions, sends what is queued and waits for what is in flight
    /// until `deadline`, ends the rest with [`FailReason::Shutdown`], then unbinds.
    pub async fn drain(&self, deadline: Duration) {
        self.inner.drain(deadline).await;
    }

    /// Pauses (`true`) or resumes carrier `name`, as Kannel's `suspend`/`resume`: a
    /// paused carrier keeps its binds up (enquire_link goes on) and takes no new submit;
    /// its routes send to their next carrier, or keep the messages queued (and on disk
    /// past the lanes) as for a carrier that is down. What is in flight is answered. Not
    /// kept across a restart: a restarted gateway sends to every configured carrier.
    /// Returns whether it was paused before; `None` for an unknown carrier.
    pub fn set_paused(&self, name: &str, paused: bool) -> Option<bool> {
        let carrier = self
            .inner
            .shared
            .carriers
            .iter()
            .find(|carrier| &*carrier.name == name)?;
        let before = carrier.paused.swap(paused, Ordering::AcqRel);
        if before != paused {
            tracing::warn!(
                carrier = name,
                "{} by the operator",
                if paused { "paused" } else { "resumed" }
            );
        }
        // Its routes look again: past it now, or to it again.
        carrier.wake_routes();
        Some(before)
    }

    /// Gives carrier `name` a new contracted TPS (a configuration reload); `None` for an
    /// unknown carrier. This node sends its [`Share`] of it.
    pub fn set_tps(&self, name: &str, tps: u32) -> Option<()> {
        let shared = &self.inner.shared;
        let carrier = shared
            .carriers
            .iter()
            .find(|carrier| &*carrier.name == name)?;
        carrier.contract.store(tps, Ordering::Relaxed);
        let share = *shared.share.lock().unwrap_or_else(PoisonError::into_inner);
        carrier.apply_share(share.unwrap_or(Share::WHOLE));
        Some(())
    }

    /// Holds this node's `share` of every carrier's binds and sends its share of every
    /// contract from now on (`[cluster]`: the live nodes changed). Binds it gained open
    /// (after a few seconds when nodes joined, so the others close theirs first); surplus
    /// ones stop taking submits, drain their window and unbind; nothing in flight fails.
    /// Each limiter keeps its place in the throttle recovery, as for a reload.
    pub fn set_share(&self, share: Share) {
        let shared = &self.inner.shared;
        let mut current = shared.share.lock().unwrap_or_else(PoisonError::into_inner);
        if *current == Some(share) {
            return;
        }
        // Nodes joined (or this one did): the others must see it and close their
        // surplus binds before this node opens more. Nodes left: their binds are gone.
        let joining = share.of > 1 && current.is_none_or(|before| share.of >= before.of);
        *current = Some(share);
        for carrier in &shared.carriers {
            carrier.hold(share, joining);
            carrier.apply_share(share);
        }
        drop(current);
        tracing::info!(
            node = share.index + 1,
            of = share.of,
            "carrier binds and TPS split among the live nodes"
        );
    }

    /// Splits carrier `name`'s contract among the live nodes that have a bind up to it:
    /// this node is `share` of them (`None`: it has none up, and keeps its part among the
    /// live nodes, which it cannot use meanwhile). So a node whose binds to a carrier are
    /// down leaves its part of the contract to the nodes that can send (`[cluster]`).
    pub fn set_tps_share(&self, name: &str, share: Option<Share>) {
        let shared = &self.inner.shared;
        let Some(carrier) = shared.carriers.iter().find(|c| &*c.name == name) else {
            return;
        };
        {
            let mut current = carrier
                .tps_share
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *current == share {
                return;
            }
            *current = share;
        }
        let live = *shared.share.lock().unwrap_or_else(PoisonError::into_inner);
        carrier.apply_share(live.unwrap_or(Share::WHOLE));
        if let Some(share) = share {
            tracing::info!(
                carrier = name,
                node = share.index + 1,
                of = share.of,
                tps = share.of_tps(carrier.contract.load(Ordering::Relaxed)),
                "carrier TPS split among the nodes with a bind up to it"
            );
        }
    }

    /// Every carrier's name.
    #[must_use]
    pub fn carrier_names(&self) -> Vec<String> {
        self.inner
            .shared
            .carriers
            .iter()
            .map(|carrier| carrier.name.to_string())
            .collect()
    }

    /// The carriers this node has a bind up to now (a `[cluster]` node tells the others
    /// with its heartbeat).
    #[must_use]
    pub fn bound_carriers(&self) -> Vec<String> {
        self.inner
            .shared
            .carriers
            .iter()
            .filter(|carrier| carrier.live.load(Ordering::Acquire) > 0)
            .map(|carrier| carrier.name.to_string())
            .collect()
    }

    /// Whether the operator paused carrier `name` (`None`: no such carrier).
    #[must_use]
    pub fn is_paused(&self, name: &str) -> Option<bool> {
        self.inner
            .shared
            .carriers
            .iter()
            .find(|carrier| &*carrier.name == name)
            .map(|carrier| carrier.is_paused_by_operator())
    }

    /// Counters per carrier and bind, queues per route.
    #[must_use]
    pub fn stats(&self) -> Value {
        let routes = self.inner.routes.load();
        json!({
            "carriers": self.inner.shared.carriers.iter().map(|c| c.stats()).collect::<Vec<_>>(),
            "routes": routes.listed.iter().map(|r| r.stats()).collect::<Vec<_>>(),
            // Routes a reload replaced or removed that the pool still holds: until each
            // has sent what it held, and the next reload after that.
            "routes_retiring": routes.all.iter().filter(|r| r.retired.load(Ordering::Acquire)).count(),
        })
    }
}

/// The most jobs a route keeps taken from its lanes (in flight, or waiting for a retry
/// or a failover) over carriers whose binds' windows add up to `windows`.
pub(crate) const fn hold_cap(windows: usize) -> usize {
    windows.saturating_mul(2).saturating_add(64)
}

/// The positions in the pool of the carriers `route` names, in its order.
fn carrier_indices(
    route: &crate::config::RouteConfig,
    shared: &Shared,
) -> Result<Vec<usize>, StartError> {
    route
        .carriers
        .iter()
        .map(|name| {
            shared
                .carriers
                .iter()
                .position(|c| &*c.name == name.as_str())
                .ok_or_else(|| StartError::UnknownCarrier {
                    route: route.name.clone(),
                    carrier: name.clone(),
                })
        })
        .collect()
}

/// A route's lanes and state (its dispatcher is spawned by the caller).
fn new_route(
    route: &crate::config::RouteConfig,
    shared: &Arc<Shared>,
) -> Result<Arc<Route>, StartError> {
    let indices = carrier_indices(route, shared)?;
    let windows: usize = indices
        .iter()
        .map(|i| {
            shared.carriers[*i]
                .binds
                .iter()
                .map(|b| b.window)
                .sum::<usize>()
        })
        .sum();
    let name: Arc<str> = Arc::from(route.name.as_str());
    let wake = Arc::new(Notify::new());
    for i in &indices {
        shared.carriers[*i]
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&wake));
    }
    Ok(Arc::new(Route {
        metrics: RouteMetrics::new(&name),
        name,
        carriers: indices,
        queue: route.queue.max(1),
        lanes: Mutex::new(Lanes::new(route.queue.max(1))),
        retries: Mutex::new(BTreeMap::new()),
        throttled: Mutex::new(BTreeMap::new()),
        retry_seq: AtomicU64::new(0),
        lanes_turn: AtomicBool::new(false),
        held: AtomicUsize::new(0),
        hold_cap: hold_cap(windows),
        wake,
        retired: AtomicBool::new(false),
        ended: AtomicBool::new(false),
        shared: Arc::clone(shared),
    }))
}

impl Drop for Carriers {
    fn drop(&mut self) {
        self.watcher.abort();
        self.inner.shared.closed.store(true, Ordering::Release);
        for route in &self.inner.routes.load().all {
            route.wake.notify_one();
        }
        self.inner.stop.trigger();
    }
}
