//! What is owed to the carriers, counted and bounded.
//!
//! - [`Backlog`]: messages acknowledged that no carrier has taken yet, per account.
//!   Intake reserves a place before it persists a message and refuses `ESME_RMSGQFUL`
//!   past `[store] max_pending`; the receipt writer releases it when every part has left
//!   the gateway (accepted by a carrier, or ended). A message waiting for its receipt does
//!   not count. The messages themselves are in the store (the backlog is on disk); this
//!   is a count.
//! - [`InPool`]: the parts handed to the carrier pool whose outcome is not durable yet.
//!   The dispatcher inserts a part before it hands it over; the writer removes it only
//!   after the outcome is committed. So a part that is not in the set and reads
//!   `Accepted` in the store, read *after* the check, was never handed over or came back
//!   unsent: the dispatcher may take it from the store without sending it twice. The set
//!   is capped; the outcome queue to the writer is at least as large, which is why an
//!   outcome never finds that queue full.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use std::time::Duration;

use crate::store::{Settle, State, Store, StoreError, WorkQueue, WorkToken};

/// Messages per account that no carrier has taken yet.
#[derive(Debug)]
pub(crate) struct Backlog {
    /// Per account; a reload that adds accounts swaps in a larger table (the counters of
    /// the others are the same `Arc`s).
    pending: arc_swap::ArcSwap<HashMap<Arc<str>, Arc<AtomicU64>>>,
    max_pending: u64,
}

impl Backlog {
    pub(crate) fn new(accounts: impl Iterator<Item = Arc<str>>, max_pending: u64) -> Self {
        Self {
            pending: arc_swap::ArcSwap::from_pointee(
                accounts.map(|a| (a, Arc::new(AtomicU64::new(0)))).collect(),
            ),
            max_pending: max_pending.max(1),
        }
    }

    /// Counts the messages of `account` from now on (an account a reload added; one
    /// counted already keeps its count). Only the reloader calls it, one at a time.
    pub(crate) fn add_account(&self, account: &Arc<str>) {
        let table = self.pending.load();
        if table.contains_key(account) {
            return;
        }
        let mut next = HashMap::clone(&table);
        next.insert(Arc::clone(account), Arc::new(AtomicU64::new(0)));
        self.pending.store(Arc::new(next));
    }

    /// Counts the messages the store holds pending with ids in `ids` that no carrier has
    /// taken yet (held for review included: they keep their place until an operator
    /// decides): the whole backlog at start, a dead node's slot when this node took it
    /// over. Answers how many it counted, and how many of them are held. Blocking (store
    /// reads from the range's start: every page holds ids at or above it).
    ///
    /// # Errors
    /// A store read failed (nothing is counted then).
    pub(crate) fn count_existing(
        &self,
        store: &dyn Store,
        ids: Range<u64>,
    ) -> Result<(u64, u64), StoreError> {
        let (counts, held) = pending_counts(store, ids)?;
        let table = self.pending.load();
        let mut counted = 0;
        for (account, n) in counts {
            if let Some(counter) = table.get(account.as_str()) {
                counter.fetch_add(n, Ordering::Relaxed);
                counted += n;
            }
        }
        Ok((counted, held))
    }

    /// Sets each account's count to what the store holds pending of this node's messages
    /// (`[cluster]` with work queues: a message this node accepted may be sent, and its
    /// place released, by another node, so the counts are taken again from the store
    /// now and then). Blocking; returns the total.
    ///
    /// # Errors
    /// A store read failed (the counts stay as they were).
    pub(crate) fn recount(&self, store: &dyn Store) -> Result<u64, StoreError> {
        let (counts, _) = pending_counts(store, 0..u64::MAX)?;
        let table = self.pending.load();
        let mut total = 0;
        for (account, counter) in table.iter() {
            let n = counts.get(&**account).copied().unwrap_or(0);
            counter.store(n, Ordering::Relaxed);
            total += n;
        }
        Ok(total)
    }

    /// A place for one more message of `account`, or `false` past the limit.
    pub(crate) fn reserve(&self, account: &str) -> bool {
        let table = self.pending.load();
        let Some(counter) = table.get(account) else {
            return true;
        };
        if counter.fetch_add(1, Ordering::AcqRel) >= self.max_pending {
            counter.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Whether `account`'s backlog is at its limit now: intake refuses before the policy
    /// counts the message in a frequency cap (a refused message must not use up a place
    /// there). [`Backlog::reserve`] still decides; this is the early answer.
    pub(crate) fn is_full(&self, account: &str) -> bool {
        self.pending
            .load()
            .get(account)
            .is_some_and(|counter| counter.load(Ordering::Acquire) >= self.max_pending)
    }

    /// A message left the backlog (final, or never persisted).
    pub(crate) fn release(&self, account: &str) {
        if let Some(counter) = self.pending.load().get(account) {
            let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        }
    }

    /// Pending messages of `account`.
    pub(crate) fn pending(&self, account: &str) -> u64 {
        self.pending
            .load()
            .get(account)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Pending messages of every account.
    pub(crate) fn total(&self) -> u64 {
        self.pending
            .load()
            .values()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// The messages pending in the store with ids in `ids` that no carrier has taken yet,
/// per account, and how many of them are held.
fn pending_counts(
    store: &dyn Store,
    ids: Range<u64>,
) -> Result<(HashMap<String, u64>, u64), StoreError> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut held = 0;
    let mut cursor = ids.start.saturating_sub(1);
    'pages: loop {
        let page = store.pending_page(cursor, 4096)?;
        let Some(last) = page.last().map(|r| r.id) else {
            break;
        };
        for record in &page {
            if record.id >= ids.end {
                break 'pages;
            }
            if !matches!(record.state, State::Accepted | State::Held) {
                continue;
            }
            *counts.entry(record.account.clone()).or_insert(0) += 1;
            held += u64::from(record.state == State::Held);
        }
        cursor = last;
    }
    Ok((counts, held))
}

/// What [`InPool::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// The part has its place now.
    Now,
    /// It was in the pool already (handed over before).
    Already,
    /// The set is at its cap.
    Full,
}

/// (message id, part index).
pub(crate) type PartKey = (u64, u16);

/// Parts in the carrier pool whose outcome is not durable yet; on a `[cluster]` node also
/// the work-queue deliveries they came with ([`Claim`]), answered once every part of
/// theirs is settled.
pub(crate) struct InPool {
    inner: Mutex<Inner>,
    cap: usize,
    /// Notified when parts leave (room for the dispatcher).
    pub(crate) room: Notify,
    /// Where claims are answered (`[cluster]`).
    queue: Option<Arc<dyn WorkQueue>>,
}

impl std::fmt::Debug for InPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InPool")
            .field("cap", &self.cap)
            .field("queue", &self.queue.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Inner {
    parts: HashSet<PartKey>,
    claims: HashMap<u64, Claim>,
}

/// A work-queue delivery of a message this node is sending: answered
/// [`Settle::Done`] once each part it placed is settled, or handed back
/// ([`Settle::Later`]) when some found no room.
#[derive(Debug)]
struct Claim {
    token: WorkToken,
    /// Parts placed and not settled yet.
    left: usize,
    /// Some part found no room: the message goes back to the queue for the rest.
    rest: bool,
}

/// How soon a message handed back with parts still to send is delivered again.
pub(crate) const REST_DELAY: Duration = Duration::from_millis(100);

impl Claim {
    fn answer(self) -> (WorkToken, Settle) {
        let how = if self.rest {
            Settle::Later(REST_DELAY)
        } else {
            Settle::Done
        };
        (self.token, how)
    }
}

impl InPool {
    #[cfg(test)]
    pub(crate) fn new(cap: usize) -> Self {
        Self::with_queue(cap, None)
    }

    /// A set whose claims are answered on `queue` (a `[cluster]` node).
    pub(crate) fn with_queue(cap: usize, queue: Option<Arc<dyn WorkQueue>>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            cap,
            room: Notify::new(),
            queue,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for `key` (one lock: the check and the insert together).
    pub(crate) fn insert(&self, key: PartKey) -> Taken {
        let mut inner = self.lock();
        if inner.parts.contains(&key) {
            Taken::Already
        } else if inner.parts.len() >= self.cap {
            Taken::Full
        } else {
            inner.parts.insert(key);
            Taken::Now
        }
    }

    /// How many more parts fit.
    pub(crate) fn free(&self) -> usize {
        self.cap.saturating_sub(self.lock().parts.len())
    }

    /// Parts handed back unsent (the pool had no room): no outcome, no claim answered.
    pub(crate) fn remove(&self, keys: &[PartKey]) {
        if keys.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for key in keys {
            inner.parts.remove(key);
        }
        drop(inner);
        self.room.notify_one();
    }

    /// Parts whose outcome is now durable (the writer, after its commit): they leave the
    /// set, and the claims they end are answered.
    pub(crate) fn settled(&self, keys: &[PartKey]) {
        if keys.is_empty() {
            return;
        }
        let mut inner = self.lock();
        let mut answers = Vec::new();
        for key in keys {
            inner.parts.remove(key);
            if let Some(answer) = inner.end_part(key.0, false) {
                answers.push(answer);
            }
        }
        drop(inner);
        self.answer(answers);
        self.room.notify_one();
    }

    /// Runs `f` with the set locked (the dispatcher checks and re-reads under it).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&HashSet<PartKey>) -> R) -> R {
        f(&self.lock().parts)
    }

    /// Registers a delivery of message `id` whose `parts` the dispatcher is about to
    /// place; each then ends by [`InPool::settled`] or [`InPool::not_placed`].
    pub(crate) fn claim(&self, id: u64, token: WorkToken, parts: usize) {
        if parts == 0 {
            self.answer(vec![(token, Settle::Done)]);
            return;
        }
        let claim = Claim {
            token,
            left: parts,
            rest: false,
        };
        if let Some(old) = self.lock().claims.insert(id, claim) {
            // Not expected (a delivery of a claimed message renews it instead).
            tracing::warn!(id, "a claimed message was claimed again");
            self.answer(vec![(old.token, Settle::Working)]);
        }
    }

    /// A claimed part that will not be settled: it found no room (`rest`: the message
    /// goes back to the queue for it), or it was settled already.
    pub(crate) fn not_placed(&self, id: u64, rest: bool) {
        let answer = self.lock().end_part(id, rest);
        self.answer(answer.into_iter().collect());
    }

    /// A new delivery of message `id` while this node still sends it (JetStream thought
    /// the hold had lapsed): the claim is answered on the new delivery from now on.
    /// False when `id` is not claimed here.
    pub(crate) fn renew(&self, id: u64, token: &WorkToken) -> bool {
        match self.lock().claims.get_mut(&id) {
            Some(claim) => {
                claim.token = token.clone();
                true
            }
            None => false,
        }
    }

    /// Whether message `id` is claimed here.
    pub(crate) fn claimed(&self, id: u64) -> bool {
        self.lock().claims.contains_key(&id)
    }

    /// The deliveries held now (their hold is extended while the carrier has them).
    pub(crate) fn claim_tokens(&self) -> Vec<WorkToken> {
        self.lock()
            .claims
            .values()
            .map(|claim| claim.token.clone())
            .collect()
    }

    fn answer(&self, answers: Vec<(WorkToken, Settle)>) {
        if let (Some(queue), false) = (&self.queue, answers.is_empty()) {
            queue.settle(answers);
        }
    }
}

impl Inner {
    /// One part of claim `id` ended; its answer when it was the last.
    fn end_part(&mut self, id: u64, rest: bool) -> Option<(WorkToken, Settle)> {
        let claim = self.claims.get_mut(&id)?;
        claim.rest |= rest;
        claim.left = claim.left.saturating_sub(1);
        if claim.left > 0 {
            return None;
        }
        self.claims.remove(&id).map(Claim::answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_refuses_past_the_limit_and_frees_on_release() {
        let backlog = Backlog::new([Arc::from("a")].into_iter(), 2);
        assert!(backlog.reserve("a"));
        assert!(backlog.reserve("a"));
        assert!(!backlog.reserve("a"));
        backlog.release("a");
        assert!(backlog.reserve("a"));
        assert_eq!(backlog.pending("a"), 2);
    }

    /// What a node owes at start, and what it owes more when it takes a dead node's id
    /// range over: the messages no carrier took yet (held for review included), per
    /// account, only those in the range.
    #[test]
    fn existing_messages_are_counted_per_account_within_a_range() {
        use crate::store::memory::MemoryStore;
        use crate::store::tests::message;
        use crate::store::{Op, State};

        let store = MemoryStore::new();
        let (own, dead) = (1 << 56, 2 << 56);
        let with = |id: u64, account: &str, state: State| {
            let mut record = message(id, account, 1);
            record.state = state;
            Op::Insert(Arc::new(record))
        };
        store
            .commit(&[
                with(own + 1, "a", State::Accepted),
                with(dead + 1, "a", State::Accepted),
                with(dead + 2, "b", State::Held),
                with(dead + 3, "b", State::Sent),
                with(dead + 4, "c", State::Accepted),
                with((3 << 56) + 1, "a", State::Accepted),
            ])
            .unwrap();
        let backlog = Backlog::new(["a", "b"].into_iter().map(Arc::from), 100);
        assert_eq!(backlog.count_existing(&store, 0..dead).unwrap(), (1, 0));
        assert_eq!((backlog.pending("a"), backlog.pending("b")), (1, 0));
        let (counted, held) = backlog.count_existing(&store, dead..3 << 56).unwrap();
        assert_eq!(
            (counted, held),
            (2, 1),
            "the accepted one of a known account, the held one"
        );
        assert_eq!(
            (backlog.pending("a"), backlog.pending("b"), backlog.total()),
            (2, 1, 3),
            "the sent one and the next range's are not owed; an unknown account is not counted"
        );
        // A recount replaces the counts by what is pending (another node sent some of
        // this node's messages and released their places there): a has 3 pending in
        // the store (ranges 1 to 3), b 1 held; the places reserved since are not kept.
        for _ in 0..5 {
            assert!(backlog.reserve("a"));
        }
        assert_eq!(backlog.recount(&store).unwrap(), 4);
        assert_eq!((backlog.pending("a"), backlog.pending("b")), (3, 1));
    }

    #[test]
    fn in_pool_is_capped() {
        let pool = InPool::new(2);
        assert_eq!(pool.insert((1, 0)), Taken::Now);
        assert_eq!(pool.insert((1, 0)), Taken::Already, "twice");
        assert_eq!(pool.insert((1, 1)), Taken::Now);
        assert_eq!(pool.insert((2, 0)), Taken::Full, "cap");
        pool.remove(&[(1, 0)]);
        assert_eq!(pool.insert((2, 0)), Taken::Now);
    }
}
