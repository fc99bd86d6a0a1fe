//! Delivery receipts: one long-lived [`run`] worker per simulator holds every accepted
//! receipt in a bounded timer queue and sends the due ones through receiver sessions'
//! windows, many at once: each deliver_sm is handed to its connection without waiting
//! ([`Link::try_request_tagged`](crate::conn::Link)), and the outcomes come back tagged
//! on one channel, whose size bounds the receipts in flight. No task, future or oneshot
//! per receipt.
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
use smppgate_protocol::pdu::{Body, DeliverSm};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::counters::{Counters, bump};
use super::faults::ReceiptBind;
use crate::conn::{RequestError, Response, Tagged, TryRequestError};
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

/// deliver_sm handed to sessions and not answered yet, at most (the size of the outcome
/// channel: each one holds a slot of it). Each session's own window bounds what is on
/// the wire; the rest wait in the sessions' request queues.
const IN_FLIGHT: usize = 4_096;

/// How many sessions with a full request queue one round of sending may meet before it
/// waits for answers.
const FULL_PER_ROUND: usize = 4;

/// How long a receipt whose session's queue was full waits at most before another try
/// (answers usually free room sooner).
const FULL_WAIT: Duration = Duration::from_millis(1);

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

/// The receipts in flight, by tag (a slab: tags are reused slots).
#[derive(Default)]
struct InFlight {
    slots: Vec<Option<ReceiptJob>>,
    free: Vec<usize>,
}

impl InFlight {
    fn insert(&mut self, job: ReceiptJob) -> u64 {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(job);
                slot
            }
            None => {
                self.slots.push(Some(job));
                self.slots.len() - 1
            }
        };
        slot as u64
    }

    fn take(&mut self, tag: u64) -> Option<ReceiptJob> {
        let slot = usize::try_from(tag).ok()?;
        let job = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(job)
    }

    fn is_empty(&self) -> bool {
        self.free.len() == self.slots.len()
    }
}

/// What became of handing a receipt to a session.
enum Handed {
    Sent,
    /// The session's request queue is full: try again soon.
    Full(ReceiptJob),
    Finished(Outcome),
}

/// The worker's state.
struct Worker {
    registry: Arc<Registry>,
    bind: ReceiptBind,
    counters: Arc<Counters>,
    queue: ReceiptQueue,
    timers: Timers,
    /// Due receipts whose session's request queue was full.
    waiting: VecDeque<ReceiptJob>,
    in_flight: InFlight,
    outcomes: mpsc::Sender<Tagged>,
}

impl Worker {
    /// Hands a due receipt to its session.
    fn hand(&mut self, job: ReceiptJob) -> Handed {
        let Some(session) = receiver(&self.registry, self.bind, &job.system_id, job.connection_id)
        else {
            return Handed::Finished(unroutable(job, self.bind));
        };
        let Ok(permit) = self.outcomes.clone().try_reserve_owned() else {
            // The caller checks for room first; should it be gone, wait like a full queue.
            return Handed::Full(job);
        };
        let body = Body::DeliverSm(job.deliver_sm.clone());
        let tag = self.in_flight.insert(job);
        match session.link().try_request_tagged(body, tag, permit) {
            Ok(()) => Handed::Sent,
            Err(error) => match self.in_flight.take(tag) {
                Some(job) if error == TryRequestError::Full => Handed::Full(job),
                Some(job) => Handed::Finished(Outcome::Retry(job)),
                None => Handed::Sent, // unreachable: the tag was just inserted
            },
        }
    }

    /// Sends what is due, as far as the outcome channel and the sessions' queues take it.
    fn send_due(&mut self) {
        let now = Instant::now();
        let mut full = 0;
        let mut retry_full = VecDeque::new();
        while full < FULL_PER_ROUND && self.outcomes.capacity() > 0 {
            let Some(job) = self
                .waiting
                .pop_front()
                .or_else(|| self.timers.pop_due(now))
            else {
                break;
            };
            match self.hand(job) {
                Handed::Sent => {}
                Handed::Full(job) => {
                    full += 1;
                    retry_full.push_back(job);
                }
                Handed::Finished(outcome) => self.finish(outcome),
            }
        }
        // Those met full go first next round, in their order.
        while let Some(job) = retry_full.pop_back() {
            self.waiting.push_front(job);
        }
    }

    fn answered(&mut self, tagged: Tagged) {
        if let Some(job) = self.in_flight.take(tagged.tag) {
            let outcome = settle(job, tagged.result, &self.counters);
            self.finish(outcome);
        }
    }

    /// Acts on an outcome: frees the room of a finished receipt, re-queues a retry.
    fn finish(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Done => self.queue.release(),
            Outcome::Dropped => {
                bump(&self.counters.receipts_dropped);
                self.queue.release();
            }
            Outcome::Retry(mut job) => {
                bump(&self.counters.receipts_retried);
                job.retries += 1;
                job.due = Instant::now() + retry_delay(job.retries);
                self.timers.push_by_due(job);
            }
        }
    }

    /// When to look at the timers again (`None`: only when something arrives).
    fn next_wake(&self) -> Option<Instant> {
        if !self.waiting.is_empty() {
            return Some(Instant::now() + FULL_WAIT);
        }
        if self.outcomes.capacity() == 0 {
            return None; // an answer will wake us
        }
        self.timers.next_due()
    }

    fn idle(&self) -> bool {
        self.waiting.is_empty() && self.in_flight.is_empty() && self.timers.next_due().is_none()
    }
}

/// The worker: takes accepted receipts from `jobs`, holds them until due, sends them.
pub(crate) async fn run(
    mut jobs: mpsc::Receiver<ReceiptJob>,
    queue: ReceiptQueue,
    registry: Arc<Registry>,
    bind: ReceiptBind,
    fixed_delay: bool,
    counters: Arc<Counters>,
) {
    let (outcomes, mut answers) = mpsc::channel(IN_FLIGHT);
    let mut worker = Worker {
        registry,
        bind,
        counters,
        queue,
        timers: Timers::new(fixed_delay),
        waiting: VecDeque::new(),
        in_flight: InFlight::default(),
        outcomes,
    };
    let mut arrived = Vec::with_capacity(BATCH);
    let mut answered = Vec::with_capacity(BATCH);
    let mut open = true;
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        worker.send_due();
        if !open && worker.idle() {
            return;
        }
        let next = worker.next_wake();
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
                    worker.timers.push_new(job);
                }
            }
            // Never closed: the worker holds a sender.
            _ = answers.recv_many(&mut answered, BATCH) => {
                for tagged in answered.drain(..) {
                    worker.answered(tagged);
                }
            }
            () = &mut sleep, if next.is_some() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(due: Instant, connection_id: u64) -> ReceiptJob {
        ReceiptJob {
            due,
            connection_id,
            system_id: Bytes::from_static(b"s"),
            deliver_sm: DeliverSm::default(),
            retries: 0,
        }
    }

    #[test]
    fn timers_hand_out_jobs_in_due_order_across_the_fifo_and_the_heap() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = Timers::new(true);
        timers.push_new(job(t0 + ms(10), 1));
        timers.push_new(job(t0 + ms(30), 2));
        timers.push_by_due(job(t0 + ms(20), 3));
        timers.push_by_due(job(t0 + ms(5), 4));
        assert_eq!(timers.next_due(), Some(t0 + ms(5)));
        assert!(timers.pop_due(t0).is_none());
        let order: Vec<u64> = std::iter::from_fn(|| timers.pop_due(t0 + ms(100)))
            .map(|job| job.connection_id)
            .collect();
        assert_eq!(order, [4, 1, 3, 2]);
        assert_eq!(timers.next_due(), None);
    }

    #[test]
    fn the_queue_refuses_what_does_not_fit_and_gets_room_back() {
        let (queue, _jobs) = ReceiptQueue::new(3);
        assert!(queue.reserve(2));
        assert!(!queue.reserve(2));
        assert!(queue.reserve(1));
        assert!(!queue.reserve(1));
        queue.release();
        assert!(queue.reserve(1));
    }

    #[test]
    fn retries_back_off_up_to_a_second() {
        assert_eq!(retry_delay(1), Duration::from_millis(50));
        assert_eq!(retry_delay(2), Duration::from_millis(100));
        assert_eq!(retry_delay(5), Duration::from_millis(800));
        assert_eq!(retry_delay(6), RETRY_MAX);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
    }

    #[test]
    fn in_flight_reuses_tags_and_takes_each_once() {
        let mut in_flight = InFlight::default();
        let a = in_flight.insert(job(Instant::now(), 1));
        let b = in_flight.insert(job(Instant::now(), 2));
        assert_ne!(a, b);
        assert_eq!(in_flight.take(a).map(|j| j.connection_id), Some(1));
        assert!(in_flight.take(a).is_none());
        assert!(in_flight.take(99).is_none());
        assert_eq!(in_flight.insert(job(Instant::now(), 3)), a);
        in_flight.take(a);
        in_flight.take(b);
        assert!(in_flight.is_empty());
    }
}
