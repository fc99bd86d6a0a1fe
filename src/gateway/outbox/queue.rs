//! One account's outbox as a state machine without I/O and without a clock: which item
//! goes next, what an outcome means, when a refused item may go again, when to read the
//! store. The driver (`super`) reads the store, sends, commits, and passes `now` in.
//!
//! Who holds an item: the store, always, until its ack or park is committed. In memory,
//! at most [`MAX_HELD`] items of the account are `ready` (read, not sent), `in_flight`
//! (sent, no outcome yet) or `waiting` (refused, until their retry time). The store is
//! read on from `cursor`, the highest seq read so far, so an item is read once per run
//! and a refused or unanswered item never holds up the ones behind it: they are read and
//! sent while it waits. Items go oldest first: `ready` is ordered by seq, and a retry that
//! falls due joins it in its place.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, DeliverSm};
use tokio::time::Instant;

use crate::store::{Millis, Op, OutboxItem};

/// Items read from the store at once.
pub(super) const PAGE: usize = 256;
/// Most items of one account in memory (ready + in flight + waiting to retry). Only
/// refused items waiting for their retry can fill it (each is parked after
/// `max_attempts` refusals, which frees its place); the rest move at the window's pace.
pub(super) const MAX_HELD: usize = 4096;
/// The wait before the store is read again after a failed read.
const READ_RETRY: Duration = Duration::from_secs(1);

/// When a refused item goes again, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Error statuses before the item is parked.
    pub max_attempts: u32,
    /// The wait after the first error status; doubled after each further one.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `refusals`-th error status (1: `initial`).
    #[must_use]
    pub(crate) fn delay(&self, refusals: u32) -> Duration {
        let doublings = refusals.saturating_sub(1).min(31);
        self.initial
            .saturating_mul(1 << doublings)
            .min(self.max.max(self.initial))
    }
}

/// What became of a deliver_sm sent to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// deliver_sm_resp ESME_ROK.
    Accepted,
    /// deliver_sm_resp with an error status.
    Refused(CommandStatus),
    /// deliver_sm_resp ESME_RTHROTTLED or ESME_RMSGQFUL: the account asks us to slow
    /// down. Not held against the item: it waits, and the whole account pauses, for the
    /// retry wait (doubled while the throttling goes on, up to the longest).
    Throttled,
    /// It never left (the connection was closing or closed): it goes again at once.
    Unsent,
    /// Sent, then the connection was lost before the response: the account may have it
    /// (a possible duplicate); it goes again at once.
    Lost,
    /// Sent, no usable response in time: a possible duplicate; it goes again after the
    /// first retry wait (not counted as a refusal).
    NoAnswer,
    /// It cannot be encoded: it is parked at once.
    Broken,
}

/// What the driver must do after an outcome or a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Done {
    /// Delivered: commit the ack.
    Delivered(Op),
    /// Given up: commit the park (and say so).
    Parked {
        /// The park.
        op: Op,
        /// Its seq.
        seq: u64,
        /// The last status.
        status: CommandStatus,
        /// Error statuses it got.
        attempts: u32,
    },
    /// Nothing to write: it goes again.
    Again,
}

/// A held item.
#[derive(Debug, Clone)]
struct Entry {
    deliver_sm: DeliverSm,
    /// Error statuses so far (starting from the stored attempts).
    refusals: u32,
    /// Sends in a row with no usable answer (a timeout, a response that does not
    /// decode): past `2 × max_attempts` the item is parked, so that one deliver_sm a
    /// client cannot take (its parser chokes on it) is not sent to it for ever.
    unanswered: u32,
}

/// One account's outbox.
#[derive(Debug)]
pub(super) struct Queue {
    account: Arc<str>,
    retry: RetryPolicy,
    /// Highest seq read.
    cursor: u64,
    /// The last read found fewer items than asked: nothing more until woken.
    at_end: bool,
    /// A read is under way.
    reading: bool,
    /// Woken while a read was under way: that read may have missed what was queued.
    woken_while_reading: bool,
    /// After a failed read: when to try again.
    read_again_at: Option<Instant>,
    ready: BTreeMap<u64, Entry>,
    in_flight: HashMap<u64, Entry>,
    waiting: BTreeMap<(Instant, u64), Entry>,
    /// Throttled responses in a row (the pause grows with them; a delivery resets it).
    throttles: u32,
    /// Nothing is sent before then (the account throttled us); cleared by
    /// [`Queue::promote`] once it has passed.
    paused_until: Option<Instant>,
}

impl Queue {
    pub(super) fn new(account: Arc<str>, retry: RetryPolicy) -> Self {
        Self {
            account,
            retry,
            cursor: 0,
            at_end: false,
            reading: false,
            woken_while_reading: false,
            read_again_at: None,
            ready: BTreeMap::new(),
            in_flight: HashMap::new(),
            waiting: BTreeMap::new(),
            throttles: 0,
            paused_until: None,
        }
    }

    /// Items in memory.
    pub(super) fn held(&self) -> usize {
        self.ready.len() + self.in_flight.len() + self.waiting.len()
    }

    /// Items sent and not answered.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Something was queued or a receiver bound: the store may have more.
    pub(super) fn handle_wake(&mut self) {
        self.at_end = false;
        self.woken_while_reading = self.reading;
    }

    /// A read to start now, as (after seq, at most): when fewer than a page are ready to
    /// go, the store may have more, and there is room.
    #[must_use]
    pub(super) fn begin_read(&mut self, now: Instant) -> Option<(u64, usize)> {
        if self.read_again_at.is_some_and(|at| at <= now) {
            self.read_again_at = None;
            self.at_end = false;
        }
        let room = MAX_HELD.saturating_sub(self.held()).min(PAGE);
        if self.reading || self.at_end || self.ready.len() >= PAGE || room == 0 {
            return None;
        }
        self.reading = true;
        Some((self.cursor, room))
    }

    /// The read asked for `asked` items and got `items`. Returns the parks of items that
    /// do not decode (kept for inspection rather than sent for ever).
    pub(super) fn handle_read(
        &mut self,
        items: Vec<OutboxItem>,
        asked: usize,
        wall: Millis,
    ) -> Vec<Done> {
        self.reading = false;
        self.at_end = items.len() < asked && !self.woken_while_reading;
        self.woken_while_reading = false;
        let mut broken = Vec::new();
        for item in items {
            if item.seq <= self.cursor {
                continue;
            }
            self.cursor = item.seq;
            match decode(item.deliver_sm) {
                Some(deliver_sm) => {
                    let entry = Entry {
                        deliver_sm,
                        refusals: item.attempts,
                        unanswered: 0,
                    };
                    self.ready.insert(item.seq, entry);
                }
                None => broken.push(self.park(
                    item.seq,
                    item.attempts,
                    CommandStatus::ESME_RSYSERR,
                    wall,
                )),
            }
        }
        broken
    }

    /// The read failed: try again a little later.
    pub(super) fn read_failed(&mut self, now: Instant) {
        self.reading = false;
        self.woken_while_reading = false;
        self.at_end = true;
        self.read_again_at = Some(now + READ_RETRY);
    }

    /// Moves retries whose time has come into `ready`, and ends a pause that is over.
    pub(super) fn promote(&mut self, now: Instant) {
        if self.paused_until.is_some_and(|until| until <= now) {
            self.paused_until = None;
        }
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, seq), item) = entry.remove_entry();
            self.ready.insert(seq, item);
        }
    }

    /// Whether an item is ready to go (after [`Queue::promote`]): none while the account
    /// has us paused.
    pub(super) fn has_ready(&self) -> bool {
        self.paused_until.is_none() && !self.ready.is_empty()
    }

    /// The oldest ready item, now in flight: its seq and the deliver_sm to send.
    #[must_use]
    pub(super) fn next(&mut self) -> Option<(u64, DeliverSm)> {
        let (seq, entry) = self.ready.pop_first()?;
        let deliver_sm = entry.deliver_sm.clone();
        self.in_flight.insert(seq, entry);
        Some((seq, deliver_sm))
    }

    /// When the driver must look again without any other event: the next retry, or the
    /// next read after a failed one.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let retry = self.waiting.first_key_value().map(|((at, _), _)| *at);
        [retry, self.read_again_at, self.paused_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// The outcome of the item `seq` sent earlier.
    pub(super) fn handle_outcome(
        &mut self,
        seq: u64,
        outcome: Outcome,
        now: Instant,
        wall: Millis,
    ) -> Done {
        let Some(mut entry) = self.in_flight.remove(&seq) else {
            return Done::Again;
        };
        match outcome {
            Outcome::Accepted => {
                self.throttles = 0;
                Done::Delivered(Op::OutboxAck {
                    account: self.account.to_string(),
                    seq,
                })
            }
            Outcome::Throttled => {
                self.throttles = self.throttles.saturating_add(1);
                let until = now + self.retry.delay(self.throttles);
                self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
                self.waiting.insert((until, seq), entry);
                Done::Again
            }
            Outcome::Refused(status) if is_permanent(status) => {
                let refusals = entry.refusals.saturating_add(1);
                self.park(seq, refusals, status, wall)
            }
            Outcome::Refused(status) => {
                entry.unanswered = 0;
                entry.refusals = entry.refusals.saturating_add(1);
                if entry.refusals >= self.retry.max_attempts {
                    return self.park(seq, entry.refusals, status, wall);
                }
                let at = now + self.retry.delay(entry.refusals);
                self.waiting.insert((at, seq), entry);
                Done::Again
            }
            Outcome::Unsent | Outcome::Lost => {
                self.ready.insert(seq, entry);
                Done::Again
            }
            Outcome::NoAnswer => {
                entry.unanswered = entry.unanswered.saturating_add(1);
                if entry.unanswered >= self.retry.max_attempts.saturating_mul(2) {
                    return self.park(seq, entry.refusals, CommandStatus::ESME_RSYSERR, wall);
                }
                self.waiting.insert((now + self.retry.initial, seq), entry);
                Done::Again
            }
            Outcome::Broken => self.park(seq, entry.refusals, CommandStatus::ESME_RSYSERR, wall),
        }
    }

    fn park(&self, seq: u64, attempts: u32, status: CommandStatus, wall: Millis) -> Done {
        Done::Parked {
            op: Op::OutboxPark {
                account: self.account.to_string(),
                seq,
                attempts,
                status: status.0,
                at: wall,
            },
            seq,
            status,
            attempts,
        }
    }
}

/// A deliver_sm_resp status that says the account will never take this item: it is
/// parked at once (ESME_RX_P_APPN "permanent application error", ESME_RX_R_APPN "reject
/// message"); the others are tried again up to `max_attempts`.
fn is_permanent(status: CommandStatus) -> bool {
    status == CommandStatus::ESME_RX_P_APPN || status == CommandStatus::ESME_RX_R_APPN
}

/// The deliver_sm of a stored item (encoded as a whole PDU).
fn decode(bytes: Vec<u8>) -> Option<DeliverSm> {
    match smppgate_protocol::codec::decode(Bytes::from(bytes))
        .ok()?
        .body
    {
        Body::DeliverSm(deliver_sm) => Some(deliver_sm),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: u64) -> OutboxItem {
        let deliver_sm = DeliverSm {
            short_message: Bytes::from(format!("item {seq}")),
            ..DeliverSm::default()
        };
        let pdu = smppgate_protocol::pdu::Pdu::new(1, Body::DeliverSm(deliver_sm));
        OutboxItem {
            seq,
            account: "a".into(),
            deliver_sm: smppgate_protocol::codec::encode_to_bytes(&pdu)
                .unwrap()
                .to_vec(),
            queued: 0,
            attempts: 0,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(3),
        }
    }

    fn filled(count: u64) -> Queue {
        let mut queue = Queue::new("a".into(), policy());
        let now = Instant::now();
        let (after, limit) = queue.begin_read(now).unwrap();
        assert_eq!((after, limit), (0, PAGE));
        let parks = queue.handle_read((1..=count).map(item).collect(), limit, 0);
        assert!(parks.is_empty());
        queue
    }

    fn ack(seq: u64) -> Done {
        Done::Delivered(Op::OutboxAck {
            account: "a".into(),
            seq,
        })
    }

    #[test]
    fn the_delay_doubles_up_to_the_maximum() {
        let p = policy();
        let secs: Vec<u64> = (1..=5).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 3, 3, 3]);
        assert_eq!(RetryPolicy::default().delay(40), Duration::from_secs(60));
    }

    #[test]
    fn a_refused_item_waits_while_the_ones_behind_it_go_then_is_parked() {
        let mut queue = filled(3);
        let t0 = Instant::now();
        assert_eq!(queue.next().unwrap().0, 1);
        assert_eq!(queue.next().unwrap().0, 2);
        let refused = Outcome::Refused(CommandStatus::ESME_RX_T_APPN);
        assert_eq!(queue.handle_outcome(1, refused, t0, 0), Done::Again);
        assert_eq!(queue.next_deadline(), Some(t0 + Duration::from_secs(1)));
        // Item 1 waits; 3 goes meanwhile.
        queue.promote(t0 + Duration::from_millis(999));
        assert_eq!(queue.next().unwrap().0, 3);
        assert_eq!(
            queue.handle_outcome(2, Outcome::Accepted, t0, 0),
            ack(2),
            "an item behind a refused one is delivered"
        );
        // Due: 1 goes again, before anything newer.
        let t1 = t0 + Duration::from_secs(1);
        queue.promote(t1);
        assert_eq!(queue.next().unwrap().0, 1);
        assert_eq!(queue.handle_outcome(1, refused, t1, 0), Done::Again);
        assert_eq!(queue.next_deadline(), Some(t1 + Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        queue.promote(t2);
        assert_eq!(queue.next().unwrap().0, 1);
        let done = queue.handle_outcome(1, refused, t2, 42);
        assert_eq!(
            done,
            Done::Parked {
                op: Op::OutboxPark {
                    account: "a".into(),
                    seq: 1,
                    attempts: 3,
                    status: CommandStatus::ESME_RX_T_APPN.0,
                    at: 42,
                },
                seq: 1,
                status: CommandStatus::ESME_RX_T_APPN,
                attempts: 3,
            }
        );
        assert_eq!(queue.next_deadline(), None);
        assert_eq!(queue.held(), 1, "3 is still in flight");
    }

    /// An account that answers ESME_RTHROTTLED is not sent anything for the retry wait
    /// (doubling while it goes on), and however often it throttles, no item is parked
    /// for it (before, each throttle counted as a refusal: a slow client got its
    /// receipts parked after a few seconds while the window kept sending at full pace).
    #[test]
    fn a_throttling_account_pauses_the_queue_and_parks_nothing() {
        let mut queue = filled(3);
        let mut now = Instant::now();
        queue.promote(now);
        assert_eq!(queue.next().unwrap().0, 1);
        assert_eq!(queue.next().unwrap().0, 2);
        for round in 1..=6_u32 {
            let done = queue.handle_outcome(1, Outcome::Throttled, now, 0);
            assert_eq!(done, Done::Again, "round {round}: never parked");
            let pause = policy().delay(round);
            assert_eq!(queue.next_deadline(), Some(now + pause), "round {round}");
            // Paused: item 3 (ready) does not go either.
            queue.promote(now + pause - Duration::from_millis(1));
            assert!(!queue.has_ready(), "round {round}: paused");
            now += pause;
            queue.promote(now);
            assert!(queue.has_ready());
            assert_eq!(queue.next().unwrap().0, 1, "round {round}: oldest first");
        }
        // A delivery ends the streak: the next throttle pauses for the first wait again.
        assert_eq!(queue.handle_outcome(2, Outcome::Accepted, now, 0), ack(2));
        assert_eq!(
            queue.handle_outcome(1, Outcome::Throttled, now, 0),
            Done::Again
        );
        assert_eq!(queue.next_deadline(), Some(now + policy().initial));
    }

    /// ESME_RX_P_APPN / ESME_RX_R_APPN say the account will never take the item: parked
    /// at once, not tried `max_attempts` times.
    #[test]
    fn a_permanent_refusal_parks_at_once() {
        let mut queue = filled(1);
        let now = Instant::now();
        assert_eq!(queue.next().unwrap().0, 1);
        let done = queue.handle_outcome(1, Outcome::Refused(CommandStatus::ESME_RX_R_APPN), now, 7);
        assert!(
            matches!(done, Done::Parked { seq: 1, attempts: 1, status, .. } if status == CommandStatus::ESME_RX_R_APPN),
            "{done:?}"
        );
    }

    /// An item the client never answers (its parser chokes on it) is sent again after
    /// each timeout, then parked after 2 × max_attempts of them, instead of for ever.
    #[test]
    fn an_item_never_answered_is_parked_in_the_end() {
        let mut queue = filled(1);
        let mut now = Instant::now();
        for round in 1..=6 {
            queue.promote(now);
            assert_eq!(queue.next().unwrap().0, 1, "round {round}");
            let done = queue.handle_outcome(1, Outcome::NoAnswer, now, 9);
            if round < 6 {
                assert_eq!(done, Done::Again, "round {round}");
            } else {
                assert!(
                    matches!(done, Done::Parked { seq: 1, status, .. } if status == CommandStatus::ESME_RSYSERR),
                    "{done:?}"
                );
            }
            now += policy().initial;
        }
        assert_eq!(queue.held(), 0);
    }

    #[test]
    fn a_lost_connection_sends_again_at_once_in_order() {
        let mut queue = filled(3);
        let now = Instant::now();
        for seq in 1..=3 {
            assert_eq!(queue.next().unwrap().0, seq);
        }
        assert_eq!(queue.handle_outcome(2, Outcome::Lost, now, 0), Done::Again);
        assert_eq!(
            queue.handle_outcome(1, Outcome::Unsent, now, 0),
            Done::Again
        );
        assert_eq!(queue.in_flight(), 1);
        assert_eq!(queue.next().unwrap().0, 1);
        assert_eq!(queue.next().unwrap().0, 2);
        assert!(queue.next().is_none());
        // No answer: again after the first wait, and no refusal counted.
        assert_eq!(
            queue.handle_outcome(3, Outcome::NoAnswer, now, 0),
            Done::Again
        );
        assert_eq!(queue.next_deadline(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn reads_go_on_from_the_cursor_and_stop_at_the_end_until_woken() {
        let now = Instant::now();
        let mut queue = Queue::new("a".into(), policy());
        let (after, limit) = queue.begin_read(now).unwrap();
        assert!(queue.begin_read(now).is_none(), "one read at a time");
        queue.handle_read(vec![item(1), item(2)], limit, 0);
        assert_eq!(after, 0);
        assert!(queue.begin_read(now).is_none(), "at the end");
        // A wake during a read: that read may have missed the new items.
        queue.handle_wake();
        let (_, limit) = queue.begin_read(now).unwrap();
        queue.handle_wake();
        queue.handle_read(Vec::new(), limit, 0);
        let (_, limit) = queue
            .begin_read(now)
            .expect("read again after a wake mid-read");
        queue.handle_read(Vec::new(), limit, 0);
        assert!(queue.begin_read(now).is_none(), "at the end");
        queue.handle_wake();
        let (after, limit) = queue.begin_read(now).unwrap();
        assert_eq!(after, 2);
        // A full page ready: no read until some of it goes.
        queue.handle_read((3..3 + PAGE as u64).map(item).collect(), limit, 0);
        queue.handle_wake();
        assert!(queue.begin_read(now).is_none());
        for _ in 0..3 {
            let _ = queue.next().unwrap();
        }
        assert_eq!(queue.begin_read(now).unwrap().0, 2 + PAGE as u64);
        // A failed read: again after a second.
        queue.read_failed(now);
        assert!(queue.begin_read(now).is_none());
        assert_eq!(queue.next_deadline(), Some(now + READ_RETRY));
        assert!(queue.begin_read(now + READ_RETRY).is_some());
    }

    #[test]
    fn memory_is_bounded_by_held_items() {
        let now = Instant::now();
        let mut queue = Queue::new("a".into(), policy());
        let mut next = 1;
        // Every item is refused: they all wait, and reading stops at MAX_HELD.
        while let Some((_, limit)) = queue.begin_read(now) {
            let items: Vec<_> = (next..next + limit as u64).map(item).collect();
            next += limit as u64;
            queue.handle_read(items, limit, 0);
            while let Some((seq, _)) = queue.next() {
                let refused = Outcome::Refused(CommandStatus::ESME_RX_T_APPN);
                let _ = queue.handle_outcome(seq, refused, now, 0);
            }
        }
        assert_eq!(queue.held(), MAX_HELD);
    }

    #[test]
    fn an_item_that_does_not_decode_is_parked() {
        let mut queue = Queue::new("a".into(), policy());
        let (_, limit) = queue.begin_read(Instant::now()).unwrap();
        let mut bad = item(1);
        bad.deliver_sm = vec![0, 0, 0, 1];
        let parks = queue.handle_read(vec![bad, item(2)], limit, 5);
        assert!(matches!(
            parks.as_slice(),
            [Done::Parked {
                seq: 1,
                attempts: 0,
                ..
            }]
        ));
        assert_eq!(queue.next().unwrap().0, 2);
    }
}
