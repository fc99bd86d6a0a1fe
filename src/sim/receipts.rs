//! Delivery receipts: one long-lived [`run`] worker per simulator holds every accepted
//! receipt in a bounded timer queue and sends the due ones through receiver sessions'
//! windows, many at once (a deliver_sm never waits for the previous one's response).
//!
//! Room is reserved when the submit is accepted ([`ReceiptQueue::reserve`]); a submit that
//! finds the queue full is answered `ESME_RMSGQFUL`. An accepted receipt is then never
//! lost: when no receiver session is bound, or its session closes before the
//! deliver_sm_resp, it goes back into the queue and is tried again later, on whatever
//! session is bound then (`receipts_retried`). Only `--receipt-bind same` drops a receipt
//! (`receipts_dropped`), when the submitting bind is gone or cannot receive: no other
//! session may ever take it.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use smppgate_protocol::pdu::DeliverSm;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::counters::{Counters, bump};
use super::faults::ReceiptBind;
use crate::conn::{RequestError, Response};
use crate::smsc::{Registry, SessionHandle};

/// A receipt waiting for its time.
#[derive(Debug)]
pub(crate) struct ReceiptJob {
    pub(crate) due: Instant,
    pub(crate) connection_id: u64,
    pub(crate) system_id: Bytes,
    pub(crate) deliver_sm: DeliverSm,
    /// Tries so far that found no session or lost it.
    pub(crate) retries: u32,
}

/// deliver_sm the worker has sent or is waiting to hand to a session, at most. Each
/// session's own window bounds what is on the wire; this bounds the futures waiting for
/// room in those windows.
const IN_FLIGHT: usize = 4_096;

/// Received jobs moved from the channel into the timer queue per wake-up, at most.
const BATCH: usize = 512;

/// The first retry waits this long; each further one twice as long, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// The submit side of the queue: reserves room, hands receipts to the worker.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptQueue {
    jobs: mpsc::Sender<ReceiptJob>,
    /// Receipts accepted and not finished (waiting, in flight or waiting for a retry).
    pending: Arc<AtomicUsize>,
    capacity: usize,
}

impl ReceiptQueue {
    /// A queue holding at most `capacity` receipts, and the worker's end of it.
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<ReceiptJob>) {
        let capacity = capacity.max(1);
        // Never fuller than `pending`, so a reserved job always fits.
        let (jobs, receiver) = mpsc::channel(capacity);
        let queue = Self {
            jobs,
            pending: Arc::new(AtomicUsize::new(0)),
            capacity,
        };
        (queue, receiver)
    }

    /// Takes room for `n` receipts; `false` (nothing taken) when they do not fit.
    #[must_use]
    pub(crate) fn reserve(&self, n: usize) -> bool {
        self.pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |pending| {
                pending
                    .checked_add(n)
                    .filter(|total| *total <= self.capacity)
            })
            .is_ok()
    }

    /// Hands over a receipt whose room [`ReceiptQueue::reserve`] took; `false` when the
    /// worker is gone (the room is given back).
    #[must_use]
    pub(crate) fn push(&self, job: ReceiptJob) -> bool {
        if self.jobs.try_send(job).is_ok() {
            return true;
        }
        self.release();
        false
    }

    /// Gives back the room of one receipt that is finished.
    fn release(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The session a receipt goes to.
pub(crate) fn receiver(
    registry: &Registry,
    bind: ReceiptBind,
    system_id: &[u8],
    connection_id: u64,
) -> Option<SessionHandle> {
    match bind {
        ReceiptBind::Any => registry.receiver(system_id, Some(connection_id)),
        ReceiptBind::Same => registry
            .receiver(system_id, Some(connection_id))
            .filter(|h| h.info().connection_id == connection_id),
        ReceiptBind::Other => {
            let others: Vec<SessionHandle> = registry
                .sessions(system_id)
                .into_iter()
                .filter(|h| {
                    h.info().connection_id != connection_id
                        && h.info().can_receive()
                        && !h.link().is_closed()
                })
                .collect();
            if others.is_empty() {
                None
            } else {
                Some(others[fastrand::usize(..others.len())].clone())
            }
        }
    }
}

/// What becomes of a receipt after one try.
// Made and consumed at once, once per receipt: boxing the job would allocate per receipt.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    /// Sent and answered (or given up on by the session's response timer): done.
    Done,
    /// No session took it: try again later.
    Retry(ReceiptJob),
    /// It can never be delivered: done, counted as dropped.
    Dropped,
}

/// Counts the result of sending `job` and says what becomes of it.
fn settle(job: ReceiptJob, result: Result<Response, RequestError>, counters: &Counters) -> Outcome {
    match result {
        Ok(response) => {
            bump(&counters.receipts_sent);
            if response.is_ok() {
                bump(&counters.receipts_acked);
            }
            Outcome::Done
        }
        // The session closed (or started closing) before the receipt was answered: it may
        // not have been read, so another session gets it.
        Err(RequestError::Closed | RequestError::Aborted { .. } | RequestError::Refused(_)) => {
            Outcome::Retry(job)
        }
        Err(RequestError::Encode(error)) => {
            tracing::warn!(%error, "receipt not encodable");
            Outcome::Dropped
        }
        // On the wire and not answered (in time, or legibly): the peer had its chance.
        Err(_) => {
            bump(&counters.receipts_sent);
            Outcome::Done
        }
    }
}

/// No receiver session now: with `--receipt-bind same` there will never be one.
fn unroutable(job: ReceiptJob, bind: ReceiptBind) -> Outcome {
    if bind == ReceiptBind::Same {
        tracing::debug!(system_id = ?job.system_id, "the submitting bind cannot take its receipt");
        Outcome::Dropped
    } else {
        Outcome::Retry(job)
    }
}

/// Delivers one receipt now and waits for its response (`--receipt-before-resp`); one
/// that finds no session goes to the worker's queue to be retried (dropped only when
/// that queue is full).
pub(crate) async fn deliver_now(
    job: ReceiptJob,
    registry: &Registry,
    bind: ReceiptBind,
    counters: &Counters,
    queue: &ReceiptQueue,
) {
    let outcome = match receiver(registry, bind, &job.system_id, job.connection_id) {
        Some(session) => {
            let result = session.deliver(job.deliver_sm.clone()).await;
            settle(job, result, counters)
        }
        None => unroutable(job, bind),
    };
    match outcome {
        Outcome::Done => {}
        Outcome::Dropped => bump(&counters.receipts_dropped),
        Outcome::Retry(mut job) => {
            bump(&counters.receipts_retried);
            job.retries += 1;
            job.due = Instant::now() + retry_delay(job.retries);
            if !(queue.reserve(1) && queue.push(job)) {
                bump(&counters.receipts_dropped);
            }
        }
    }
}

fn retry_delay(retries: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << retries.saturating_sub(1).min(8))
        .min(RETRY_MAX)
}

/// A job ordered by due time (earliest first in a max-heap), then by arrival.
struct ByDue {
    key: Reverse<(Instant, u64)>,
    job: ReceiptJob,
}

impl PartialEq for ByDue {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for ByDue {}

impl PartialOrd for ByDue {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByDue {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.key.cmp(&other.key)
    }
}

/// The worker's timer queue.
struct Timers {
    /// With a fixed receipt delay jobs arrive in due order (give or take the microseconds
    /// between two connection tasks' clocks), so a FIFO does: O(1) each way.
    in_order: VecDeque<ReceiptJob>,
    /// Random delays and retries: a heap by due time.
    by_due: BinaryHeap<ByDue>,
    fixed_delay: bool,
    arrivals: u64,
}

impl Timers {
    fn new(fixed_delay: bool) -> Self {
        Self {
            in_order: VecDeque::new(),
            by_due: BinaryHeap::new(),
            fixed_delay,
            arrivals: 0,
        }
    }

    fn push_new(&mut self, job: ReceiptJob) {
        if self.fixed_delay {
            self.in_order.push_back(job);
        } else {
            self.push_by_due(job);
        }
    }

    fn push_by_due(&mut self, job: ReceiptJob) {
        self.arrivals += 1;
        self.by_due.push(ByDue {
            key: Reverse((job.due, self.arrivals)),
            job,
        });
    }

    fn next_due(&self) -> Option<Instant> {
        let fifo = self.in_order.front().map(|job| job.due);
        let heap = self.by_due.peek().map(|entry| entry.job.due);
        match (fifo, heap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pop_due(&mut self, now: Instant) -> Option<ReceiptJob> {
        let fifo = self.in_order.front().map(|job| job.due);
        let heap = self.by_due.peek().map(|entry| entry.job.due);
        match (fifo, heap) {
            (Some(a), Some(b)) if b < a && b <= now => self.by_due.pop().map(|entry| entry.job),
            (Some(a), _) if a <= now => self.in_order.pop_front(),
            (None, Some(b)) if b <= now => self.by_due.pop().map(|entry| entry.job),
            _ => None,
        }
    }
}

type Attempt = BoxFuture<'static, (ReceiptJob, Result<Response, RequestError>)>;

/// The worker: takes accepted receipts from `jobs`, holds them until due, sends them.
pub(crate) async fn run(
    mut jobs: mpsc::Receiver<ReceiptJob>,
    queue: ReceiptQueue,
    registry: Arc<Registry>,
    bind: ReceiptBind,
    fixed_delay: bool,
    counters: Arc<Counters>,
) {
    let mut timers = Timers::new(fixed_delay);
    let mut in_flight: FuturesUnordered<Attempt> = FuturesUnordered::new();
    let mut arrived = Vec::with_capacity(BATCH);
    let mut open = true;
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let now = Instant::now();
        while in_flight.len() < IN_FLIGHT {
            let Some(job) = timers.pop_due(now) else {
                break;
            };
            let outcome = match receiver(&registry, bind, &job.system_id, job.connection_id) {
                Some(session) => {
                    let deliver_sm = job.deliver_sm.clone();
                    in_flight.push(Box::pin(async move {
                        let result = session.deliver(deliver_sm).await;
                        (job, result)
                    }));
                    continue;
                }
                None => unroutable(job, bind),
            };
            finish(outcome, &mut timers, &queue, &counters);
        }
        let next = timers.next_due().filter(|_| in_flight.len() < IN_FLIGHT);
        if let Some(due) = next.filter(|due| armed != Some(*due)) {
            sleep.as_mut().reset(due);
            armed = Some(due);
        }
        tokio::select! {
            received = jobs.recv_many(&mut arrived, BATCH), if open => {
                if received == 0 {
                    // Every sender is gone: deliver what is left, then stop.
                    open = false;
                }
                for job in arrived.drain(..) {
                    timers.push_new(job);
                }
            }
            Some((job, result)) = in_flight.next(), if !in_flight.is_empty() => {
                let outcome = settle(job, result, &counters);
                finish(outcome, &mut timers, &queue, &counters);
                // Settle every attempt that is already done before looking at the timers.
                while let Some(Some((job, result))) = in_flight.next().now_or_never() {
                    let outcome = settle(job, result, &counters);
                    finish(outcome, &mut timers, &queue, &counters);
                }
            }
            () = &mut sleep, if next.is_some() => {}
            else => return,
        }
    }
}

/// Acts on an outcome: frees the room of a finished receipt, re-queues a retry.
fn finish(outcome: Outcome, timers: &mut Timers, queue: &ReceiptQueue, counters: &Counters) {
    match outcome {
        Outcome::Done => queue.release(),
        Outcome::Dropped => {
            bump(&counters.receipts_dropped);
            queue.release();
        }
        Outcome::Retry(mut job) => {
            bump(&counters.receipts_retried);
            job.retries += 1;
            job.due = Instant::now() + retry_delay(job.retries);
            timers.push_by_due(job);
        }
    }
}
