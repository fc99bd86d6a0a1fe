//! The send window: sequence-number allocation and the requests we sent that still wait for
//! a response (reference §4.4).
//!
//! Costs and bounds, because the driver pushes ≥300k requests per second through here:
//! * the outstanding map is pre-sized to the window and never grows past it (`capacity`
//!   application slots + `internal_slots` for the session's own bind/enquire_link/unbind);
//! * deadlines live in a deque in registration order. Every timed request gets the same
//!   response timeout and time never goes backwards, so the deque is sorted; a request
//!   that is answered is removed from the map only and its deque entry is dropped lazily
//!   (when it reaches the front, or when the deque is compacted on growing past twice the
//!   window). Memory is therefore bounded by `2 × capacity` deque entries and each
//!   operation is amortised O(1): a compaction of `n` entries happens only after `n`
//!   pushes since the previous one.
//! * a sequence number still outstanding is never handed out again, even after the
//!   0x7FFFFFFF → 1 wrap.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

/// Highest sequence number we send (reference §4.4); the next one after it is 1.
pub const MAX_SEQUENCE_NUMBER: u32 = 0x7FFF_FFFF;

/// A request we sent that has no response yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding<K> {
    /// The sequence_number it was sent with.
    pub sequence_number: u32,
    /// What the caller stored with it (the session stores the request's command id).
    pub kind: K,
    /// When it times out, in ms; `None` for entries whose timer the session keeps itself.
    pub deadline: Option<u64>,
    /// Registered with [`Window::register_internal`] (the session's own request).
    pub internal: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot<K> {
    kind: K,
    deadline: Option<u64>,
    /// Unique per registration, so a stale deque entry never matches a reused number.
    serial: u64,
    internal: bool,
}

/// The window is full: the request was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowFull;

/// Outstanding requests of one session, keyed by sequence_number.
#[derive(Debug)]
pub struct Window<K> {
    capacity: usize,
    internal_slots: usize,
    next_sequence_number: u32,
    next_serial: u64,
    application: usize,
    internal: usize,
    outstanding: HashMap<u32, Slot<K>, SequenceHash>,
    /// (deadline, sequence_number, serial), sorted by deadline; may hold stale entries.
    deadlines: VecDeque<(u64, u32, u64)>,
}

impl<K: Copy> Window<K> {
    /// A window of `capacity` application requests plus `internal_slots` for the session's
    /// own requests, so a keep-alive can still go out while the application filled the
    /// window. Everything is allocated here; nothing grows later.
    ///
    /// A `capacity` of 0 is raised to 1.
    #[must_use]
    pub fn new(capacity: usize, internal_slots: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            internal_slots,
            next_sequence_number: 1,
            next_serial: 0,
            application: 0,
            internal: 0,
            outstanding: HashMap::with_capacity_and_hasher(capacity + internal_slots, SequenceHash),
            deadlines: VecDeque::with_capacity(2 * capacity + 1),
        }
    }

    /// How many application requests may be outstanding at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Application requests outstanding now.
    #[must_use]
    pub fn application_len(&self) -> usize {
        self.application
    }

    /// Whether nothing at all (application or internal) is outstanding.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.outstanding.is_empty()
    }

    /// Whether another application request can be registered now.
    #[must_use]
    pub fn is_available(&self) -> bool {
        self.application < self.capacity
    }

    /// How many more application requests can be registered now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.capacity - self.application
    }

    /// Registers an application request that times out at `deadline` and returns the
    /// sequence_number to send it with.
    ///
    /// `deadline` must not be earlier than that of the previous timed registration (one
    /// response timeout per window, time passed in never goes backwards); if it is, it is
    /// raised to that one so the deque stays sorted.
    ///
    /// # Errors
    /// [`WindowFull`] when `capacity` application requests are outstanding already.
    pub fn register(&mut self, kind: K, deadline: u64) -> Result<u32, WindowFull> {
        if !self.is_available() {
            return Err(WindowFull);
        }
        let deadline = match self.deadlines.back() {
            Some(&(last, _, _)) if last > deadline => last,
            _ => deadline,
        };
        let (sequence_number, serial) = self.insert(kind, Some(deadline), false);
        self.compact_if_needed();
        self.deadlines
            .push_back((deadline, sequence_number, serial));
        self.application += 1;
        Ok(sequence_number)
    }

    /// Registers one of the session's own requests (bind, enquire_link, unbind), whose timer
    /// the session keeps itself, in one of the `internal_slots`.
    ///
    /// # Errors
    /// [`WindowFull`] when every internal slot is taken.
    pub fn register_internal(&mut self, kind: K) -> Result<u32, WindowFull> {
        if self.internal >= self.internal_slots {
            return Err(WindowFull);
        }
        let (sequence_number, _) = self.insert(kind, None, true);
        self.internal += 1;
        Ok(sequence_number)
    }

    /// A sequence_number for a request that has no response (outbind, alert_notification)
    /// and so is not registered: the next free number, as [`Window::register`] would pick.
    pub fn allocate(&mut self) -> u32 {
        // Terminates: at most `capacity + internal_slots` numbers are taken, far fewer than
        // the 2^31 - 1 candidates; in practice the first candidate is free.
        let mut sequence_number = self.next_sequence_number;
        while self.outstanding.contains_key(&sequence_number) {
            sequence_number = following(sequence_number);
        }
        self.next_sequence_number = following(sequence_number);
        sequence_number
    }

    fn insert(&mut self, kind: K, deadline: Option<u64>, internal: bool) -> (u32, u64) {
        let sequence_number = self.allocate();
        let serial = self.next_serial;
        self.next_serial += 1;
        self.outstanding.insert(
            sequence_number,
            Slot {
                kind,
                deadline,
                serial,
                internal,
            },
        );
        (sequence_number, serial)
    }

    /// The entry registered with `sequence_number`, if any, without removing it.
    #[must_use]
    pub fn get(&self, sequence_number: u32) -> Option<Outstanding<K>> {
        self.outstanding
            .get(&sequence_number)
            .map(|slot| Outstanding {
                sequence_number,
                kind: slot.kind,
                deadline: slot.deadline,
                internal: slot.internal,
            })
    }

    /// Removes and returns the entry for `sequence_number` when `matches(kind)` holds (the
    /// response is of the right type); otherwise leaves the window untouched.
    pub fn remove_if(
        &mut self,
        sequence_number: u32,
        matches: impl FnOnce(K) -> bool,
    ) -> Option<Outstanding<K>> {
        let slot = *self.outstanding.get(&sequence_number)?;
        if !matches(slot.kind) {
            return None;
        }
        self.outstanding.remove(&sequence_number);
        if slot.internal {
            self.internal -= 1;
        } else {
            self.application -= 1;
        }
        // The deque entry stays; it is recognised as stale by its serial.
        Some(Outstanding {
            sequence_number,
            kind: slot.kind,
            deadline: slot.deadline,
            internal: slot.internal,
        })
    }

    fn is_live(&self, sequence_number: u32, serial: u64) -> bool {
        self.outstanding
            .get(&sequence_number)
            .is_some_and(|slot| slot.serial == serial)
    }

    fn drop_stale_front(&mut self) {
        while let Some(&(_, sequence_number, serial)) = self.deadlines.front() {
            if self.is_live(sequence_number, serial) {
                break;
            }
            self.deadlines.pop_front();
        }
    }

    fn compact_if_needed(&mut self) {
        if self.deadlines.len() < 2 * self.capacity {
            return;
        }
        let outstanding = &self.outstanding;
        self.deadlines.retain(|&(_, sequence_number, serial)| {
            outstanding
                .get(&sequence_number)
                .is_some_and(|slot| slot.serial == serial)
        });
    }

    /// The earliest deadline of an application request still outstanding.
    #[must_use]
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.drop_stale_front();
        self.deadlines.front().map(|&(deadline, _, _)| deadline)
    }

    /// Removes and returns one application request whose deadline is `<= now`, earliest
    /// first; call until `None`.
    pub fn pop_expired(&mut self, now: u64) -> Option<Outstanding<K>> {
        self.drop_stale_front();
        let &(deadline, sequence_number, _) = self.deadlines.front()?;
        if deadline > now {
            return None;
        }
        self.deadlines.pop_front();
        self.remove_if(sequence_number, |_| true)
    }

    /// Removes and returns one outstanding entry (application or internal), in no particular
    /// order; used at close to report every request that will never be answered.
    pub fn pop_any(&mut self) -> Option<Outstanding<K>> {
        let sequence_number = *self.outstanding.keys().next()?;
        let taken = self.remove_if(sequence_number, |_| true);
        if self.outstanding.is_empty() {
            self.deadlines.clear();
        }
        taken
    }

    /// Number of deque entries held, stale ones included (for tests of the memory bound).
    #[must_use]
    pub fn deadline_entries(&self) -> usize {
        self.deadlines.len()
    }

    /// Makes the next allocation start at `sequence_number` (tests of the wrap-around).
    pub fn set_next_sequence_number(&mut self, sequence_number: u32) {
        self.next_sequence_number = sequence_number.clamp(1, MAX_SEQUENCE_NUMBER);
    }
}

/// The number after `sequence_number`, wrapping 0x7FFFFFFF → 1 (reference §4.4).
#[must_use]
pub const fn following(sequence_number: u32) -> u32 {
    if sequence_number >= MAX_SEQUENCE_NUMBER {
        1
    } else {
        sequence_number + 1
    }
}

/// A fast hash for sequence numbers *we* allocate: the window map is on the per-PDU path and
/// its keys are chosen by us, so a DoS-resistant hash buys nothing. (Keys the peer chooses
/// go in a map with the standard, randomly keyed hasher instead.)
///
/// The input is mixed with the splitmix64 finaliser, so both the low bits (bucket index)
/// and the high bits (control tag) of the table's hash vary with every input bit.
#[derive(Debug, Clone, Copy, Default)]
pub struct SequenceHash;

impl BuildHasher for SequenceHash {
    type Hasher = SequenceHasher;

    fn build_hasher(&self) -> SequenceHasher {
        SequenceHasher(0)
    }
}

/// The [`Hasher`] built by [`SequenceHash`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SequenceHasher(u64);

impl Hasher for SequenceHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = self.0.rotate_left(32) ^ u64::from(value);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(32) ^ value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_from_one_and_matches_by_kind() {
        let mut window: Window<u8> = Window::new(4, 1);
        assert_eq!(window.register(7, 100), Ok(1));
        assert_eq!(window.register(8, 100), Ok(2));
        assert_eq!(window.application_len(), 2);
        // Wrong kind: untouched.
        assert_eq!(window.remove_if(1, |kind| kind == 8), None);
        assert_eq!(window.application_len(), 2);
        let got = window.remove_if(1, |kind| kind == 7).unwrap();
        assert_eq!(got.sequence_number, 1);
        assert_eq!(got.deadline, Some(100));
        assert_eq!(window.remove_if(1, |_| true), None, "already answered");
        assert_eq!(window.remove_if(99, |_| true), None, "never sent");
        assert_eq!(window.application_len(), 1);
    }

    #[test]
    fn full_window_refuses_and_frees_on_response() {
        let mut window: Window<()> = Window::new(2, 1);
        assert!(window.register((), 10).is_ok());
        assert!(window.register((), 10).is_ok());
        assert!(!window.is_available());
        assert_eq!(window.register((), 10), Err(WindowFull));
        // Internal slots are separate from the application's.
        let internal = window.register_internal(()).unwrap();
        assert_eq!(window.register_internal(()), Err(WindowFull));
        assert_eq!(window.application_len(), 2);
        assert!(window.remove_if(1, |()| true).is_some());
        assert_eq!(window.available(), 1);
        assert_eq!(window.register((), 10), Ok(internal + 1));
        assert!(window.get(internal).unwrap().internal);
        assert!(window.remove_if(internal, |()| true).unwrap().internal);
        assert!(window.register_internal(()).is_ok());
    }

    #[test]
    fn wraps_and_skips_outstanding_numbers() {
        let mut window: Window<()> = Window::new(8, 0);
        window.set_next_sequence_number(1);
        let one = window.register((), 0).unwrap();
        let two = window.register((), 0).unwrap();
        assert_eq!((one, two), (1, 2));
        window.set_next_sequence_number(MAX_SEQUENCE_NUMBER - 1);
        assert_eq!(window.register((), 0), Ok(MAX_SEQUENCE_NUMBER - 1));
        assert_eq!(window.register((), 0), Ok(MAX_SEQUENCE_NUMBER));
        // Wrap: 1 and 2 are still outstanding, so the next is 3; 0 is never used.
        assert_eq!(window.register((), 0), Ok(3));
        window.remove_if(1, |()| true).unwrap();
        window.set_next_sequence_number(MAX_SEQUENCE_NUMBER);
        // MAX is outstanding; wrap to 1, which is free again.
        assert_eq!(window.register((), 0), Ok(1));
        assert_eq!(following(MAX_SEQUENCE_NUMBER), 1);
        // Unregistered allocation skips outstanding numbers too and does not hold them.
        window.set_next_sequence_number(2);
        assert_eq!(window.allocate(), 4);
        assert_eq!(window.register((), 0), Ok(5));
        assert_eq!(following(0x8000_0000), 1);
    }

    #[test]
    fn expires_in_deadline_order_and_ignores_answered() {
        let mut window: Window<u8> = Window::new(8, 1);
        let a = window.register(1, 100).unwrap();
        let b = window.register(2, 150).unwrap();
        let c = window.register(3, 200).unwrap();
        window.register_internal(9).unwrap();
        assert_eq!(window.next_deadline(), Some(100));
        window.remove_if(a, |_| true).unwrap();
        assert_eq!(window.next_deadline(), Some(150), "answered one is skipped");
        assert_eq!(window.pop_expired(149), None);
        assert_eq!(window.pop_expired(160).map(|o| o.sequence_number), Some(b));
        assert_eq!(window.pop_expired(160), None);
        assert_eq!(window.pop_expired(500).map(|o| o.kind), Some(3));
        assert_eq!(
            window.next_deadline(),
            None,
            "internal entries have no deadline here"
        );
        assert_eq!(window.application_len(), 0);
        assert!(!window.is_empty());
        assert_eq!(c, 3);
    }

    #[test]
    fn earlier_deadline_is_raised_to_keep_order() {
        let mut window: Window<()> = Window::new(4, 0);
        window.register((), 100).unwrap();
        let late = window.register((), 50).unwrap();
        assert_eq!(window.get(late).unwrap().deadline, Some(100));
    }

    #[test]
    fn deadline_memory_stays_bounded_under_churn() {
        let capacity = 16;
        let mut window: Window<()> = Window::new(capacity, 1);
        let mut now = 0;
        // One request stays outstanding forever at the front; the rest are answered at once.
        let pinned = window.register((), u64::MAX / 2).unwrap();
        for _ in 0..100_000 {
            now += 1;
            let seq = window.register((), now + u64::MAX / 2).unwrap();
            window.remove_if(seq, |()| true).unwrap();
            assert!(window.deadline_entries() <= 2 * capacity + 1);
        }
        assert_eq!(window.next_deadline(), Some(u64::MAX / 2));
        assert!(window.get(pinned).is_some());
    }

    #[test]
    fn long_run_never_reuses_outstanding_numbers() {
        let mut window: Window<()> = Window::new(3, 0);
        window.set_next_sequence_number(MAX_SEQUENCE_NUMBER - 5);
        let keep = window.register((), 0).unwrap();
        let mut seen = Vec::new();
        for _ in 0..20 {
            let seq = window.register((), 0).unwrap();
            assert_ne!(seq, keep);
            assert!((1..=MAX_SEQUENCE_NUMBER).contains(&seq));
            seen.push(seq);
            window.remove_if(seq, |()| true).unwrap();
        }
        assert!(seen.contains(&1), "wrapped: {seen:?}");
    }

    #[test]
    fn sequence_hash_spreads_low_and_high_bits() {
        let hash = |value: u64| SequenceHash.hash_one(value);
        // Keys that differ only above bit 32 must not share a bucket index (low bits).
        let low: std::collections::HashSet<u64> = (0..1024u64)
            .map(|seq| hash((seq << 32) | 4) & 0x3FF)
            .collect();
        assert!(low.len() > 600, "{} distinct buckets of 1024", low.len());
        let high: std::collections::HashSet<u64> =
            (1..=1024u64).map(|seq| hash(seq) >> 57).collect();
        assert_eq!(high.len(), 128, "every control tag used");
    }

    #[test]
    fn pop_any_drains_everything() {
        let mut window: Window<u8> = Window::new(4, 2);
        window.register(1, 10).unwrap();
        window.register(2, 10).unwrap();
        window.register_internal(3).unwrap();
        let mut kinds: Vec<u8> = std::iter::from_fn(|| window.pop_any().map(|o| o.kind)).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, [1, 2, 3]);
        assert!(window.is_empty());
        assert_eq!(window.deadline_entries(), 0);
        assert_eq!(window.next_deadline(), None);
    }
}
