//! A store whose commits fail while `failing` is set (a full disk), for the tests of
//! what a store failure is answered with; and whose commits of outbox acknowledgements
//! can be held (a slow disk under the sinks).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use smppgate::store::memory::MemoryStore;
use smppgate::store::{
    ListPage, MessageRecord, Millis, Op, OutboxItem, PageRead, ParkedItem, ScopeKey, Store,
    StoreError, Suppression,
};

/// A store whose commits fail while `failing` is set (a full disk).
#[derive(Default)]
pub(crate) struct FlakyStore {
    pub(crate) inner: MemoryStore,
    pub(crate) failing: AtomicBool,
    /// While true, a commit carrying an outbox acknowledgement waits (at most 30 s), and
    /// `acks_waiting` counts it.
    holding_acks: Mutex<bool>,
    released: Condvar,
    pub(crate) acks_waiting: std::sync::atomic::AtomicUsize,
    /// While set, a commit that writes an HTTP idempotent answer fails (whatever else it
    /// carries): the disk fills at that very commit.
    pub(crate) failing_answers: AtomicBool,
    /// Outbox reads (`outbox`, `outbox_after`) per queue.
    pub(crate) outbox_reads: Mutex<std::collections::HashMap<String, usize>>,
    /// While true, a commit carrying a new message waits (at most 30 s), and
    /// `inserts_waiting` counts it (a slow disk under intake).
    holding_inserts: Mutex<bool>,
    inserts_released: Condvar,
    pub(crate) inserts_waiting: std::sync::atomic::AtomicUsize,
    /// The next this many commits carrying an outbox acknowledgement fail.
    pub(crate) failing_acks: std::sync::atomic::AtomicUsize,
}

impl FlakyStore {
    pub(crate) fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many times queue `account` was read.
    #[allow(dead_code)] // not every test binary reads it
    pub(crate) fn reads_of(&self, account: &str) -> usize {
        self.outbox_reads
            .lock()
            .unwrap()
            .get(account)
            .copied()
            .unwrap_or(0)
    }

    fn count_read(&self, account: &str) {
        *self
            .outbox_reads
            .lock()
            .unwrap()
            .entry(account.to_owned())
            .or_insert(0) += 1;
    }

    /// Holds (true) or lets go (false) the commits of new messages.
    #[allow(dead_code)] // not every test binary holds them
    pub(crate) fn hold_inserts(&self, hold: bool) {
        *self.holding_inserts.lock().unwrap() = hold;
        self.inserts_released.notify_all();
    }

    /// Holds (true) or lets go (false) the commits of outbox acknowledgements.
    pub(crate) fn hold_acks(&self, hold: bool) {
        *self.holding_acks.lock().unwrap() = hold;
        self.released.notify_all();
    }
}

/// Waits (at most 30 s) while `holding` is set, counted in `waiting` meanwhile.
fn wait_while_held(
    holding: &Mutex<bool>,
    released: &Condvar,
    waiting: &std::sync::atomic::AtomicUsize,
) {
    let held = holding.lock().unwrap();
    if *held {
        waiting.fetch_add(1, Ordering::SeqCst);
        let _ = released
            .wait_timeout_while(held, Duration::from_secs(30), |held| *held)
            .unwrap();
        waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Store for FlakyStore {
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst)
            || (self.failing_answers.load(Ordering::SeqCst)
                && ops
                    .iter()
                    .any(|op| matches!(op, Op::OutboxPush(item) if item.account == "~idempotency")))
        {
            return Err(StoreError::new("No space left on device (injected)"));
        }
        if ops.iter().any(|op| matches!(op, Op::Insert(_))) {
            wait_while_held(
                &self.holding_inserts,
                &self.inserts_released,
                &self.inserts_waiting,
            );
        }
        if ops.iter().any(|op| matches!(op, Op::OutboxAck { .. })) {
            if self
                .failing_acks
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(StoreError::new("I/O error (injected, acknowledgements)"));
            }
            wait_while_held(&self.holding_acks, &self.released, &self.acks_waiting);
        }
        self.inner.commit(ops)
    }
    fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        self.inner.get(id)
    }
    fn by_carrier_id(&self, carrier: &str, id: &str) -> Result<Option<(u64, u16)>, StoreError> {
        self.inner.by_carrier_id(carrier, id)
    }
    fn pending_page(&self, after: u64, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        self.inner.pending_page(after, limit)
    }
    fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError> {
        self.inner.list_page(read)
    }
    fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.count_read(account);
        self.inner.outbox(account, limit)
    }
    fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.count_read(account);
        self.inner.outbox_after(account, after, limit)
    }
    fn parked(&self, account: Option<&str>, limit: usize) -> Result<Vec<ParkedItem>, StoreError> {
        self.inner.parked(account, limit)
    }
    fn expire(&self, before: Millis) -> Result<usize, StoreError> {
        self.inner.expire(before)
    }
    fn max_id(&self) -> Result<u64, StoreError> {
        self.inner.max_id()
    }
    fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError> {
        self.inner.suppression(scope, number)
    }
    fn suppressions(
        &self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.suppressions(scope, visit)
    }
    fn stats(
        &self,
        from_hour: u64,
    ) -> Result<Vec<(smppgate::store::StatsKey, smppgate::store::Counters)>, StoreError> {
        self.inner.stats(from_hour)
    }
    fn stats_coarse(
        &self,
        from_hour: u64,
    ) -> Result<Vec<(smppgate::store::StatsKey, smppgate::store::Counters)>, StoreError> {
        self.inner.stats_coarse(from_hour)
    }
    fn cap_windows(
        &self,
        visit: &mut dyn FnMut(smppgate::store::CapWindow) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.cap_windows(visit)
    }
    fn roll_up_stats(&self, before_day: u64) -> Result<u64, StoreError> {
        self.inner.roll_up_stats(before_day)
    }
    fn trim_stats(&self, hours_before: u64, days_before: u64) -> Result<usize, StoreError> {
        self.inner.trim_stats(hours_before, days_before)
    }
}
