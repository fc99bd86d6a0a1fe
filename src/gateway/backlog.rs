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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

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

    /// Counts messages found pending at start.
    pub(crate) fn add_existing(&self, account: &str, n: u64) {
        if let Some(counter) = self.pending.load().get(account) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
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

/// Parts in the carrier pool whose outcome is not durable yet.
#[derive(Debug)]
pub(crate) struct InPool {
    parts: Mutex<HashSet<PartKey>>,
    cap: usize,
    /// Notified when parts leave (room for the dispatcher).
    pub(crate) room: Notify,
}

impl InPool {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            parts: Mutex::new(HashSet::new()),
            cap,
            room: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<PartKey>> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for `key` (one lock: the check and the insert together).
    pub(crate) fn insert(&self, key: PartKey) -> Taken {
        let mut parts = self.lock();
        if parts.contains(&key) {
            Taken::Already
        } else if parts.len() >= self.cap {
            Taken::Full
        } else {
            parts.insert(key);
            Taken::Now
        }
    }

    /// Whether another part fits.
    pub(crate) fn has_room(&self) -> bool {
        self.lock().len() < self.cap
    }

    /// Parts whose outcome is now durable (or that were handed back unsent).
    pub(crate) fn remove(&self, keys: &[PartKey]) {
        if keys.is_empty() {
            return;
        }
        let mut parts = self.lock();
        for key in keys {
            parts.remove(key);
        }
        drop(parts);
        self.room.notify_one();
    }

    /// Runs `f` with the set locked (the dispatcher checks and re-reads under it).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&HashSet<PartKey>) -> R) -> R {
        f(&self.lock())
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
