//! One bind slot of a carrier: a task that keeps a session bound, reconnecting with
//! backoff and jitter, and hands deliver_sm / data_sm to [`super::Events::inbound`].
//!
//! The old session is always closed (socket shut) before the next bind is attempted, so
//! the carrier never sees two binds for one slot (no ESME_RALYBND storm). A refused bind
//! (bad password, already bound, too many binds) waits 30 s to 5 minutes and raises the
//! carrier's `bind_rejected` alert instead of looping.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::SelectAll;
use futures::{FutureExt, StreamExt};
use smppgate_protocol::pdu::Body;
use smppgate_protocol::session::BindKind;

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
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
        self.metrics.window_in_use.decrement(1.0);
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

impl Session {
    /// Waits until either session closes, handing inbound requests on meanwhile, or
    /// until `stop` (then unbinds gracefully).
    ///
    /// One inbound request is handed on at a time: the next is read only when
    /// [`super::Events::inbound`]'s future for the last has finished, so a gateway with
    /// no room holds the carrier back (our inbound queue, then the carrier's window,
    /// fill; nothing grows).
    async fn serve(&mut self, carrier: &Carrier, stop: &mut ShutdownSignal) {
        let Self {
            transmitter,
            receiver,
            inbound,
        } = self;
        let receiver = &*receiver;
        let transmitter = &*transmitter;
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
        // The request being kept by the gateway, if any.
        let mut keeping: Option<BoxFuture<'static, ()>> = None;
        loop {
            tokio::select! {
                _ = &mut transmitter_closed => return,
                _ = &mut receiver_closed => return,
                () = async {
                    match keeping.as_mut() {
                        Some(kept) => kept.await,
                        None => std::future::pending().await,
                    }
                }, if keeping.is_some() => keeping = None,
                request = inbound.next(), if keeping.is_none() => match request {
                    Some(request) => {
                        if !hand_on(carrier, inbound, request, &mut keeping) {
                            return;
                        }
                    }
                    None => return,
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
                    return;
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

/// Keeps slot `index` of `carrier` bound until `stop`.
pub(crate) async fn run(carrier: Arc<Carrier>, index: usize, mut stop: ShutdownSignal) {
    let slot = &carrier.binds[index];
    let mut failures = 0_u32;
    let mut rejections = 0_u32;
    let mut first = true;
    let mut bound_before = false;
    while !stop.is_triggered() {
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
                session.serve(&carrier, &mut stop).await;
                carrier.bind_down(index);
                // The old session is gone before the next bind is attempted.
                session.close().await;
                tracing::info!(carrier = %carrier.name, bind = index, "session closed");
                reconnect_delay(0)
            }
            Err(ConnectError::BindRefused { status, .. }) => {
                rejections += 1;
                slot.failures.fetch_add(1, Ordering::Relaxed);
                slot.metrics.bind_failures.increment(1);
                carrier.bind_refused();
                let delay = rejected_bind_delay(rejections);
                tracing::warn!(
                    carrier = %carrier.name, bind = index, %status, ?delay,
                    "bind refused; waiting before trying again"
                );
                delay
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
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
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
        self.live.fetch_add(1, Ordering::AcqRel);
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
