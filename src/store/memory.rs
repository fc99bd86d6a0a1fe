//! [`MemoryStore`]: the [`Store`] contract in memory (tests, and `store.path =
//! ":memory:"` for benchmarks without durability).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use super::{
    CapWindow, Counters, ListPage, MessageRecord, Millis, Op, OutboxItem, PageRead, ParkedItem,
    ScopeKey, StatsKey, Store, StoreError, Suppression, SuppressionSource,
};

#[derive(Debug, Default)]
struct Inner {
    /// Shared with `Op::Put` (no copy per update; a later in-place update copies it).
    messages: BTreeMap<u64, Arc<MessageRecord>>,
    carrier_ids: HashMap<(String, String), (u64, u16)>,
    outbox: BTreeMap<(String, u64), OutboxItem>,
    parked: BTreeMap<(String, u64), ParkedItem>,
    next_seq: HashMap<String, u64>,
    pending: BTreeSet<u64>,
    /// (scope, number) → (since, source), in the fjall store's order.
    suppressions: BTreeMap<(ScopeKey, String), (Millis, SuppressionSource)>,
    stats: BTreeMap<StatsKey, Counters>,
    cap_windows: BTreeMap<(String, u64), CapWindow>,
    max_id: u64,
}

/// Everything in memory, lost on exit.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// Empty.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl Inner {
    /// Queues `item` at the end of its account's outbox.
    fn push(&mut self, mut item: OutboxItem) {
        let seq = self.next_seq.entry(item.account.clone()).or_insert(1);
        item.seq = *seq;
        *seq += 1;
        self.outbox.insert((item.account.clone(), item.seq), item);
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Insert(record) => {
                self.max_id = self.max_id.max(record.id);
                if !record.state.is_final() {
                    self.pending.insert(record.id);
                }
                self.messages.insert(record.id, Arc::clone(record));
            }
            Op::Put(record) => {
                if record.state.is_final() {
                    self.pending.remove(&record.id);
                }
                self.messages.insert(record.id, Arc::clone(record));
            }
            Op::Part { id, part, record } => {
                if let Some(message) = self.messages.get_mut(id)
                    && let Some(slot) = Arc::make_mut(message).parts.get_mut(usize::from(*part))
                {
                    *slot = record.clone();
                }
            }
            Op::CarrierId {
                carrier,
                carrier_id,
                id,
                part,
            } => {
                self.carrier_ids
                    .insert((carrier.clone(), carrier_id.clone()), (*id, *part));
            }
            Op::State { id, state } => {
                if let Some(message) = self.messages.get_mut(id) {
                    Arc::make_mut(message).state = *state;
                    if state.is_final() {
                        self.pending.remove(id);
                    } else {
                        self.pending.insert(*id);
                    }
                }
            }
            Op::OutboxPush(item) => self.push(item.clone()),
            Op::OutboxAck { account, seq } => {
                self.outbox.remove(&(account.clone(), *seq));
            }
            Op::OutboxPark {
                account,
                seq,
                attempts,
                status,
                at,
            } => {
                let key = (account.clone(), *seq);
                if let Some(mut item) = self.outbox.remove(&key) {
                    item.attempts = *attempts;
                    let parked = ParkedItem {
                        item,
                        status: *status,
                        parked: *at,
                    };
                    self.parked.insert(key, parked);
                }
            }
            Op::Stats(entries) => {
                for (key, counters) in entries {
                    self.stats.entry(key.clone()).or_default().merge(counters);
                }
            }
            Op::CapWindows(windows) => {
                for window in windows {
                    let key = (window.account.clone(), window.number);
                    if window.caps.is_empty() {
                        if self
                            .cap_windows
                            .get(&key)
                            .is_some_and(|stored| stored.dead_after <= window.dead_after)
                        {
                            self.cap_windows.remove(&key);
                        }
                    } else {
                        self.cap_windows.insert(key, window.clone());
                    }
                }
            }
            Op::ParkedDrop { account, seq } => {
                self.parked.remove(&(account.clone(), *seq));
            }
            Op::OutboxReplay { account } => {
                let range = (account.clone(), 0)..=(account.clone(), u64::MAX);
                let keys: Vec<_> = self.parked.range(range).map(|(k, _)| k.clone()).collect();
                for key in keys {
                    if let Some(parked) = self.parked.remove(&key) {
                        self.push(OutboxItem {
                            attempts: 0,
                            ..parked.item
                        });
                    }
                }
            }
            Op::Suppress(entry) => {
                self.suppressions.insert(
                    (entry.scope.clone(), entry.number.clone()),
                    (entry.since, entry.source.clone()),
                );
            }
            Op::Unsuppress { scope, number } => {
                self.suppressions.remove(&(scope.clone(), number.clone()));
            }
        }
    }
}

impl Store for MemoryStore {
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for op in ops {
            inner.apply(op);
        }
        Ok(())
    }

    fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner.messages.get(&id).map(|m| MessageRecord::clone(m)))
    }

    fn by_carrier_id(
        &self,
        carrier: &str,
        carrier_id: &str,
    ) -> Result<Option<(u64, u16)>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner
            .carrier_ids
            .get(&(carrier.to_owned(), carrier_id.to_owned()))
            .copied())
    }

    fn pending_page(&self, after: u64, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner
            .pending
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .filter_map(|id| inner.messages.get(id).map(|m| MessageRecord::clone(m)))
            .filter(|m| !m.state.is_final())
            .take(limit)
            .collect())
    }

    fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let records = inner
            .messages
            .range((
                std::ops::Bound::Unbounded,
                read.before
                    .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
            ))
            .rev()
            .map(|(_, m)| Ok(MessageRecord::clone(m)));
        super::page_of(records, read)
    }

    fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner
            .outbox
            .range((account.to_owned(), 0)..=(account.to_owned(), u64::MAX))
            .take(limit)
            .map(|(_, item)| item.clone())
            .collect())
    }

    fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(inner
            .outbox
            .range((account.to_owned(), first)..=(account.to_owned(), u64::MAX))
            .take(limit)
            .map(|(_, item)| item.clone())
            .collect())
    }

    fn parked(&self, account: Option<&str>, limit: usize) -> Result<Vec<ParkedItem>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner
            .parked
            .iter()
            .filter(|((name, _), _)| account.is_none_or(|a| a == name))
            .take(limit)
            .map(|(_, parked)| parked.clone())
            .collect())
    }

    fn expire(&self, before: Millis) -> Result<usize, StoreError> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let old: Vec<u64> = inner
            .messages
            .values()
            .filter(|m| m.state.is_final() && m.accepted < before)
            .map(|m| m.id)
            .collect();
        for id in &old {
            inner.messages.remove(id);
        }
        inner.carrier_ids.retain(|_, (id, _)| !old.contains(id));
        Ok(old.len())
    }

    fn stats(&self, from_hour: u64) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner
            .stats
            .iter()
            .filter(|(key, _)| key.hour >= from_hour)
            .map(|(key, counters)| (key.clone(), counters.clone()))
            .collect())
    }

    fn cap_windows(&self, visit: &mut dyn FnMut(CapWindow) -> bool) -> Result<(), StoreError> {
        let windows: Vec<CapWindow> = {
            let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            inner.cap_windows.values().cloned().collect()
        };
        for window in windows {
            if !visit(window) {
                break;
            }
        }
        Ok(())
    }

    /// No day rows here: hours are what every grouping reads, so they are kept as long
    /// as days would be.
    fn trim_stats(&self, _hours_before: u64, days_before: u64) -> Result<usize, StoreError> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let before = inner.stats.len();
        inner.stats.retain(|key, _| key.hour >= days_before * 24);
        Ok(before - inner.stats.len())
    }

    fn max_id(&self) -> Result<u64, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner.max_id)
    }

    fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner
            .suppressions
            .get(&(scope.clone(), number.to_owned()))
            .map(|(since, source)| Suppression {
                scope: scope.clone(),
                number: number.to_owned(),
                since: *since,
                source: source.clone(),
            }))
    }

    fn suppressions(
        &self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> bool,
    ) -> Result<(), StoreError> {
        // Copied out first: `visit` may be slow (an export writing a file) and must not
        // hold the store's lock.
        let entries: Vec<Suppression> = {
            let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            inner
                .suppressions
                .iter()
                .filter(|((s, _), _)| scope.is_none_or(|scope| scope == s))
                .map(|((scope, number), (since, source))| Suppression {
                    scope: scope.clone(),
                    number: number.clone(),
                    since: *since,
                    source: source.clone(),
                })
                .collect()
        };
        for entry in entries {
            if !visit(entry) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::State;

    #[test]
    fn pending_follows_state_and_outbox_keeps_order() {
        let store = MemoryStore::new();
        let record = MessageRecord {
            id: 7,
            account: "a".into(),
            accepted: 1,
            class: crate::config::Class::Otp,
            route: None,
            request: Vec::new(),
            part_count: 1,
            wants_receipt: true,
            state: State::Accepted,
            not_before: 0,
            expires: 0,
            route_taken: String::new(),
            client_ref: None,
            deferred_by: None,
            parts: vec![super::super::PartRecord::default()],
        };
        store
            .commit(&[Op::Insert(std::sync::Arc::new(record))])
            .unwrap();
        assert_eq!(store.pending().unwrap().len(), 1);
        store
            .commit(&[Op::State {
                id: 7,
                state: State::Delivered,
            }])
            .unwrap();
        assert!(store.pending().unwrap().is_empty());
        for n in 0..3u8 {
            let item = OutboxItem {
                seq: 0,
                account: "a".into(),
                deliver_sm: vec![n],
                queued: 0,
                attempts: 0,
            };
            store.commit(&[Op::OutboxPush(item)]).unwrap();
        }
        let items = store.outbox("a", 10).unwrap();
        assert_eq!(
            items.iter().map(|i| i.deliver_sm[0]).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(store.max_id().unwrap(), 7);
    }
}
