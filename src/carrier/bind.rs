//! One bind slot of a carrier: a task that keeps a session bound, reconnecting with
//! backoff and jitter, and hands deliver_sm / data_sm to [`super::Events::inbound`].
//!
//! The old session is always closed (socket shut) before the next bind is attempted, so
//! the carrier never sees two binds for one slot (no ESME_RALYBND storm). A refused bind
//! (bad password, already bound, too many binds) waits 30 s to 5 minutes and raises the
//! carrier's `bind_rejected` alert instead of looping.
//!
//! On a `[cluster]` a node holds only its [`super::Share`] of the carrier's binds: slot
//! `index` is open while `index` is below [`Held::binds`] and parked otherwise. A slot that
//! becomes surplus while bound *retires*: it takes no new submit at once (its link is
//! withdrawn, as when it goes down), waits until its window has drained (bounded by the
//! carrier's `response_timeout`; a request still unanswered then is timed out by the
//! session and retried by the pool as any timeout), then unbinds; deliver_sm arriving
//! meanwhile are read and kept until the session closes. Nothing in flight is failed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::SelectAll;
use futures::{FutureExt, StreamExt};
use smppgate_protocol::pdu::Body;
use smppgate_protocol::session::BindKind;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::metrics::BindMetrics;
use super::pool::Carrier;
use super::retry::{reconnect_delay, rejected_bind_delay};
use crate::config::{CarrierBind, CarrierConfig};
use crate::conn::{Link, PendingResponse, TlsClientConfig};
use crate::esme::{ConnectError, EsmeClient, EsmeConfig, Inbound};
use crate::shutdown::ShutdownSignal;

/// How long a stopping bind waits for the gateway to keep the inbound request it is
/// keeping before it unbinds (unanswered, the carrier sends it again later).
const KEEP_GRACE: Duration = Duration::from_secs(5);

/// A bind refused soon after its slot was opened by a change of the split is most likely
/// refused because another node's surplus bind is still closing (a carrier that limits
/// binds per account): the first [`SPLIT_RETRIES`] refusals within [`SPLIT_SETTLE`] of the
/// opening are tried again after this, not after the 30 s of a refused bind.
const SPLIT_RETRY: Duration = Duration::from_secs(2);
/// See [`SPLIT_RETRY`].
const SPLIT_RETRIES: u32 = 5;
/// See [`SPLIT_RETRY`].
const SPLIT_SETTLE: Duration = Duration::from_secs(30);

/// How many of a carrier's bind slots this node holds now ([`super::Share::of_binds`]);
/// `None` in a `[cluster]` before the first look at the live nodes (no slot opens yet: a
/// node that opened every bind at start would take the places of the nodes already there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// Slots `0..binds` are open; the others are parked or retiring.
    pub(crate) binds: usize,
    /// Slots newly opened by this change wait until then: a node that joins lets the
    /// others see it and close their surplus binds first.
    pub(crate) not_before: Option<Instant>,
}

/// Whether slot `index` is to be open under `held`.
fn wanted(held: Option<&Held>, index: usize) -> bool {
    held.is_some_and(|held| index < held.binds)
}

/// A bind slot's state, shared with the dispatchers.
#[derive(Debug)]
pub(crate) struct BindSlot {
    /// The link submits go through while bound.
    link: Mutex<Option<Link>>,
    /// Whether `link` is set (read on every dispatch without the lock).
    live: AtomicBool,
    /// Requests sent and not answered (≤ window).
    pub(crate) outstanding: AtomicUsize,
    /// Most outstanding requests.
    pub(crate) window: usize,
    /// Submits sent.
    pub(crate) submits: AtomicU64,
    /// Bind attempts.
    pub(crate) attempts: AtomicU64,
    /// Failed bind attempts.
    pub(crate) failures: AtomicU64,
    /// Binds after the first.
    pub(crate) reconnects: AtomicU64,
    /// Set while the slot retires: [`BindSlot::release`] then wakes `idle` when the
    /// window becomes empty.
    draining: AtomicBool,
    idle: Notify,
    pub(crate) metrics: BindMetrics,
}

impl BindSlot {
    pub(crate) fn new(carrier: &Arc<str>, index: usize, window: usize) -> Self {
        Self {
            link: Mutex::new(None),
            live: AtomicBool::new(false),
            outstanding: AtomicUsize::new(0),
            window: window.max(1),
            submits: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            idle: Notify::new(),
            metrics: BindMetrics::new(carrier, index),
        }
    }

    /// Hands `body` to the bound session without waiting (the caller holds a window
    /// slot, so its channel has room); `None` when not bound: nothing was sent.
    pub(crate) fn try_request(&self, body: Body) -> Option<PendingResponse> {
        self.link
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|link| link.try_request(body))
    }

    fn set_link(&self, link: Option<Link>) {
        let mut slot = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        self.live.store(link.is_some(), Ordering::Release);
        *slot = link;
    }

    /// Whether a session is bound.
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Takes a window slot if the bind is live and has one free.
    pub(crate) fn try_reserve(&self) -> bool {
        let reserved = self
            .outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.window).then_some(n + 1)
            })
            .is_ok();
        if reserved {
            self.metrics.window_in_use.increment(1.0);
        }
        reserved
    }

    /// Gives a window slot back.
    pub(crate) fn release(&self) {
        // SeqCst with `drained`: either this sees `draining` or `drained` sees the zero.
        let before = self.outstanding.fetch_sub(1, Ordering::SeqCst);
        self.metrics.window_in_use.decrement(1.0);
        if before == 1 && self.draining.load(Ordering::SeqCst) {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no request is outstanding (the link is withdrawn first, so none can
    /// be added: a reservation made before is either sent, and counted, or given back);
    /// `false` when `limit` passed first.
    async fn drained(&self, limit: Duration) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + limit;
        let empty = loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.outstanding.load(Ordering::SeqCst) == 0 {
                break true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                break self.outstanding.load(Ordering::SeqCst) == 0;
            }
        };
        self.draining.store(false, Ordering::SeqCst);
        empty
    }
}

/// The sessions of one slot: a transceiver, or a transmitter with its receiver (SMPP),
/// or one CMPP/SMGP link translated to SMPP at its edge ([`crate::conn::china`]).
struct Session {
    transmitter: Link,
    receiver: Option<Link>,
    inbound: SelectAll<Inbound>,
}

/// Hands `request` to the gateway, then, while the gateway keeps each at once (room in
/// its queue), the further requests already read, up to [`HAND_ON_PER_WAKE`]: a burst of
/// receipts goes on in one wake-up instead of one `select!` round each. Leaves in
/// `keeping` the one the gateway has no room for yet. `false` when the inbound stream
/// ended.
fn hand_on(
    carrier: &Carrier,
    inbound: &mut SelectAll<Inbound>,
    request: crate::conn::InboundRequest,
    keeping: &mut Option<BoxFuture<'static, ()>>,
) -> bool {
    let mut kept = carrier.events.inbound(&carrier.name, request);
    for _ in 0..HAND_ON_PER_WAKE {
        // A no-op waker is fine for both polls: a pending one is polled again by the
        // caller's `select!` with the task's waker before the task sleeps.
        if kept.as_mut().now_or_never().is_none() {
            *keeping = Some(kept);
            return true;
        }
        match inbound.next().now_or_never() {
            Some(Some(request)) => kept = carrier.events.inbound(&carrier.name, request),
            Some(None) => return false,
            None => return true,
        }
    }
    *keeping = Some(kept);
    true
}

/// Most inbound requests [`hand_on`] passes on in one go.
const HAND_ON_PER_WAKE: usize = 256;

/// How [`Session::serve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// A session closed (the peer, the network, a timeout) or the pool stopped.
    Closed,
    /// The slot became surplus and retired: it is down already and unbound.
    Retired,
}

/// Where a bound session is in its life.
enum Phase {
    Serving,
    /// Surplus: withdrawn from the pool, waiting for its window to drain.
    Draining,
    /// Surplus and drained (or out of time): unbinding.
    Unbinding,
}

impl Session {
    /// Waits until either session closes, handing inbound requests on meanwhile, or
    /// until `stop` (then unbinds gracefully), or until the slot is surplus under `held`
    /// (then retires, see the module documentation).
    ///
    /// One inbound request is handed on at a time: the next is read only when
    /// [`super::Events::inbound`]'s future for the last has finished, so a gateway with
    /// no room holds the carrier back (our inbound queue, then the carrier's window,
    /// fill; nothing grows).
    async fn serve(
        &mut self,
        carrier: &Carrier,
        index: usize,
        stop: &mut ShutdownSignal,
        held: &mut watch::Receiver<Option<Held>>,
    ) -> Ended {
        let Self {
            transmitter,
            receiver,
            inbound,
        } = self;
        let receiver = &*receiver;
        let transmitter = &*transmitter;
        let slot = &carrier.binds[index];
        // Pinned once: `Link::closed` registers a waiter on the link's state, and a new one
        // per loop round would cost two locks per deliver_sm.
        let transmitter_closed = transmitter.closed();
        tokio::pin!(transmitter_closed);
        let receiver_closed = async {
            match receiver {
                Some(receiver) => receiver.closed().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(receiver_closed);
        let surplus = async {
            // A closed sender (the pool is gone) is not a reason to retire: `stop` is.
            if held.wait_for(|h| !wanted(h.as_ref(), index)).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::pin!(surplus);
        let drained = slot.drained(carrier.config.response_timeout);
        tokio::pin!(drained);
        let unbound = async {
            futures::join!(transmitter.unbind(), async {
                if let Some(receiver) = receiver {
                    receiver.unbind().await;
                }
            });
        };
        tokio::pin!(unbound);
        let mut phase = Phase::Serving;
        // The request being kept by the gateway, if any.
        let mut keeping: Option<BoxFuture<'static, ()>> = None;
        loop {
            let serving = matches!(phase, Phase::Serving);
            let draining = matches!(phase, Phase::Draining);
            let unbinding = matches!(phase, Phase::Unbinding);
            tokio::select! {
                _ = &mut transmitter_closed, if !unbinding => return ended(&phase),
                _ = &mut receiver_closed, if !unbinding => return ended(&phase),
                () = &mut unbound, if unbinding => return Ended::Retired,
                () = &mut surplus, if serving => {
                    // No new submit from now on; what is in flight is answered here.
                    carrier.bind_down(index);
                    tracing::info!(
                        carrier = %carrier.name, bind = index,
                        outstanding = slot.outstanding.load(Ordering::Relaxed),
                        "bind surplus under the split among the live nodes: closing it once its window drained"
                    );
                    phase = Phase::Draining;
                }
                empty = &mut drained, if draining => {
                    if !empty {
                        tracing::warn!(
                            carrier = %carrier.name, bind = index,
                            outstanding = slot.outstanding.load(Ordering::Relaxed),
                            "surplus bind: window not drained within the response timeout; unbinding (what is unanswered is sent again)"
                        );
                    }
                    phase = Phase::Unbinding;
                }
                () = async {
                    match keeping.as_mut() {
                        Some(kept) => kept.await,
                        None => std::future::pending().await,
                    }
                }, if keeping.is_some() => keeping = None,
                request = inbound.next(), if keeping.is_none() => match request {
                    Some(request) => {
                        if !hand_on(carrier, inbound, request, &mut keeping) {
                            return ended(&phase);
                        }
                    }
                    None => return ended(&phase),
                },
                () = stop.wait() => {
                    // What the gateway is keeping is answered before the unbind (bounded:
                    // a stuck gateway must not hold the stop up).
                    if let Some(kept) = keeping.take() {
                        if tokio::time::timeout(KEEP_GRACE, kept).await.is_err() {
                            tracing::warn!(
                                carrier = %carrier.name,
                                "an inbound request was not kept within {KEEP_GRACE:?} of the stop"
                            );
                        }
                    }
                    transmitter.unbind().await;
                    if let Some(receiver) = receiver.as_ref() {
                        receiver.unbind().await;
                    }
                    return ended(&phase);
                }
            }
        }
    }

    /// Shuts both sessions (at once; requests still in flight are aborted and resubmitted
    /// elsewhere by the pool) and waits until they are closed.
    async fn close(self) {
        self.transmitter.close().await;
        if let Some(receiver) = &self.receiver {
            receiver.close().await;
        }
    }
}

/// How a session that ended in `phase` counts: once it retired (is down already), it is
/// [`Ended::Retired`].
fn ended(phase: &Phase) -> Ended {
    match phase {
        Phase::Serving => Ended::Closed,
        Phase::Draining | Phase::Unbinding => Ended::Retired,
    }
}

fn esme_config(config: &CarrierConfig, kind: BindKind) -> EsmeConfig {
    let mut esme = EsmeConfig::new(config.system_id.clone(), config.password.clone());
    esme.system_type.clone_from(&config.system_type);
    esme.bind = kind;
    esme.window = config.window.max(1);
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    esme.session.response_timeout_ms = millis(config.response_timeout);
    esme.session.enquire_link_interval_ms = Some(millis(config.enquire_link_interval));
    esme.tls = config.tls.then(|| TlsClientConfig {
        system_roots: true,
        ..TlsClientConfig::default()
    });
    // The gateway answers deliver_sm once it has stored what it needs.
    esme.auto_respond = false;
    esme
}

async fn connect(carrier: &Carrier, stop: &ShutdownSignal) -> Result<Session, ConnectError> {
    let config = &carrier.config;
    if config.protocol.is_china() {
        let (link, inbound) = crate::conn::china::connect(&carrier.address, config).await?;
        return Ok(Session {
            transmitter: link,
            receiver: None,
            inbound: futures::stream::select_all([inbound]),
        });
    }
    let open = |kind| {
        EsmeClient::connect_with_shutdown(&carrier.address, esme_config(config, kind), stop.clone())
    };
    match config.bind {
        CarrierBind::Transceiver | CarrierBind::Transmitter => {
            let kind = if config.bind == CarrierBind::Transceiver {
                BindKind::Transceiver
            } else {
                BindKind::Transmitter
            };
            let (transmitter, inbound) = open(kind).await?;
            Ok(Session {
                transmitter: transmitter.link().clone(),
                receiver: None,
                inbound: futures::stream::select_all([inbound]),
            })
        }
        CarrierBind::TransmitterReceiver => {
            let (transmitter, tx_inbound) = open(BindKind::Transmitter).await?;
            match open(BindKind::Receiver).await {
                Ok((receiver, rx_inbound)) => Ok(Session {
                    transmitter: transmitter.link().clone(),
                    receiver: Some(receiver.link().clone()),
                    inbound: futures::stream::select_all([tx_inbound, rx_inbound]),
                }),
                Err(error) => {
                    transmitter.link().close().await;
                    Err(error)
                }
            }
        }
    }
}

/// Keeps slot `index` of `carrier` bound until `stop` while this node holds it (see
/// [`Held`]).
pub(crate) async fn run(carrier: Arc<Carrier>, index: usize, mut stop: ShutdownSignal) {
    let slot = &carrier.binds[index];
    let mut held = carrier.held.subscribe();
    let mut failures = 0_u32;
    let mut rejections = 0_u32;
    let mut first = true;
    let mut bound_before = false;
    // When the slot was last opened by the split (for `SPLIT_RETRY`).
    let mut opened_at: Option<Instant> = None;
    while !stop.is_triggered() {
        // Parked while this node does not hold the slot.
        let now = *held.borrow_and_update();
        if !wanted(now.as_ref(), index) {
            if now.is_some() && std::mem::take(&mut first) {
                // Not held from the start: no first bind to wait for.
                carrier.starting.fetch_sub(1, Ordering::AcqRel);
            }
            opened_at = None;
            tokio::select! {
                changed = held.changed() => if changed.is_err() { break },
                () = stop.wait() => break,
            }
            continue;
        }
        if opened_at.is_none() {
            opened_at = Some(Instant::now());
            bound_before = false;
            if let Some(at) = now.and_then(|h| h.not_before) {
                // A joining node: the others close their surplus binds first.
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    changed = held.changed() => if changed.is_err() { break },
                    () = stop.wait() => break,
                }
                continue;
            }
        }
        slot.attempts.fetch_add(1, Ordering::Relaxed);
        carrier
            .counters
            .bind_attempts
            .fetch_add(1, Ordering::Relaxed);
        let mut stopped = stop.clone();
        let result = tokio::select! {
            result = connect(&carrier, &stop) => result,
            () = stopped.wait() => break,
        };
        if std::mem::take(&mut first) {
            carrier.starting.fetch_sub(1, Ordering::AcqRel);
        }
        let delay = match result {
            Ok(mut session) => {
                failures = 0;
                rejections = 0;
                if std::mem::replace(&mut bound_before, true) {
                    slot.reconnects.fetch_add(1, Ordering::Relaxed);
                    slot.metrics.reconnects.increment(1);
                    carrier.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                carrier.bind_up(index, session.transmitter.clone());
                let ended = session.serve(&carrier, index, &mut stop, &mut held).await;
                if ended == Ended::Closed {
                    carrier.bind_down(index);
                }
                // The old session is gone before the next bind is attempted.
                session.close().await;
                if ended == Ended::Retired {
                    tracing::info!(carrier = %carrier.name, bind = index, "surplus bind closed");
                    continue;
                }
                tracing::info!(carrier = %carrier.name, bind = index, "session closed");
                reconnect_delay(0)
            }
            Err(ConnectError::BindRefused { status, .. }) => {
                rejections += 1;
                slot.failures.fetch_add(1, Ordering::Relaxed);
                slot.metrics.bind_failures.increment(1);
                let after_split = carrier.is_split()
                    && rejections <= SPLIT_RETRIES
                    && opened_at.is_some_and(|at| at.elapsed() < SPLIT_SETTLE);
                if after_split {
                    // Most likely another node's surplus bind still closing: no alert yet.
                    carrier
                        .counters
                        .bind_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        carrier = %carrier.name, bind = index, %status, delay = ?SPLIT_RETRY,
                        "bind refused just after the split among the live nodes changed; trying again shortly"
                    );
                    SPLIT_RETRY
                } else {
                    carrier.bind_refused();
                    let delay = rejected_bind_delay(rejections);
                    tracing::warn!(
                        carrier = %carrier.name, bind = index, %status, ?delay,
                        "bind refused; waiting before trying again"
                    );
                    delay
                }
            }
            Err(error) => {
                failures += 1;
                slot.failures.fetch_add(1, Ordering::Relaxed);
                slot.metrics.bind_failures.increment(1);
                carrier.bind_failed();
                let delay = reconnect_delay(failures);
                tracing::warn!(carrier = %carrier.name, bind = index, %error, ?delay, "bind failed");
                delay
            }
        };
        // The wait ends early when the slot is no longer held (it parks at once).
        let surplus = held.wait_for(|h| !wanted(h.as_ref(), index));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = surplus => {}
            () = stop.wait() => break,
        }
    }
    if first {
        carrier.starting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Carrier {
    fn bind_up(&self, index: usize, link: Link) {
        self.binds[index].set_link(Some(link));
        let live = self.live.fetch_add(1, Ordering::AcqRel) + 1;
        if (*self.held.borrow()).is_some_and(|held| held.binds == live) {
            tracing::info!(
                carrier = %self.name,
                binds = live,
                of = self.binds.len(),
                "this node's part of the carrier's binds is up"
            );
        }
        self.metrics.binds_up.increment(1.0);
        self.metrics.bind_rejected.set(0.0);
        self.wake_routes();
    }

    fn bind_down(&self, index: usize) {
        self.binds[index].set_link(None);
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.metrics.binds_up.decrement(1.0);
        self.wake_routes();
    }

    fn bind_refused(&self) {
        self.counters.bind_failures.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bind_rejections
            .fetch_add(1, Ordering::Relaxed);
        self.metrics.bind_rejected.set(1.0);
        self.wake_routes();
    }

    fn bind_failed(&self) {
        self.counters.bind_failures.fetch_add(1, Ordering::Relaxed);
        self.wake_routes();
    }
}
