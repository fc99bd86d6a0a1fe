//! [`FjallStore`]: the [`Store`] on fjall, an LSM-tree with a write-ahead journal
//! (docs/adr/0002-storage-engine.md says why).
//!
//! Partitions (fjall's column families, committed together atomically):
//! - `messages`: id → postcard [`MessageRecord`] as accepted (written once, request and
//!   all);
//! - `updates`: id → the record's later state, everything but its request (a version byte,
//!   then the record's encoding with an empty request; `keys::encode_update_into`). A
//!   message's record is its `messages` value overlaid with its `updates` value when there
//!   is one: the carrier's answer and the receipt rewrite about half the bytes they did
//!   when each wrote the whole record (docs/adr/0018-record-updates.md). Stores written
//!   before this partition existed have none, and read as before;
//! - `carrier`: (carrier, carrier id) → (id, part);
//! - `pending`: id → accepted, for every message not final, so a restart reads only
//!   those, and the expiry scan stops at the first one the store's validity does not make
//!   due (stores written before kept nothing there: those records are read);
//! - `expiry`: (expires, id) → nothing, for every message with its own `expires`, so the
//!   expiry scan finds those whose own expiry passed by time; removed with the message
//!   by retention;
//! - `outbox`: (account, seq) → postcard [`OutboxItem`];
//! - `parked`: (account, seq) → postcard [`ParkedItem`], the dead-letter area: items an
//!   account refused too often, out of its outbox's way until replayed;
//! - `suppressions`: (scope, number) → postcard (since, source), the opt-out list
//!   (`store/suppression.rs` has the layout);
//! - `stats`: (hour, account, route, carrier) → postcard ([`StatsKey`], [`Counters`]), the
//!   delivery statistics (`store/stats.rs`), added to in the commits of the outcomes;
//! - `stats_days`: the same per day (the key's hour is the day's first), rolled up from
//!   `stats` once a day is over (`fjall/stats_days.rs`);
//! - `cap_windows`: (account, number) → postcard [`CapWindow`], the frequency-cap
//!   counters (`store/cap_windows.rs`), written by the policy's periodic save;
//! - `meta`: the highest id and each account's last outbox seq (so seqs keep rising
//!   after the items are acknowledged and the process restarts). The highest id is written
//!   only by expiry, before it removes messages: until then the last key of `messages` is
//!   the highest id, so commits need not write it.
//!
//! One process at a time: fjall does not guard against a second one, so the directory
//! holds a `LOCK` file with the owner's pid, locked while the store is open.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use ::fjall::{Batch, Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use super::lock::LockFile;
use super::{
    CapWindow, Counters, ExpiryBound, ExpiryPage, ListPage, MessageRecord, Millis, Op, OutboxItem,
    PageRead, ParkedItem, PartRecord, ScopeKey, StatsKey, Store, StoreError, Suppression,
    cap_windows, keys, suppression,
};

mod stats_days;

/// Messages removed per [`Store::expire`] commit (so commits from the gateway interleave).
const EXPIRE_CHUNK: usize = 1024;

/// The store on fjall.
pub struct FjallStore {
    path: PathBuf,
    fsync: bool,
    /// The open keyspace; `None` after a failed write (fjall refuses writes after a failed
    /// journal write or fsync), reopened by the next call.
    open: RwLock<Option<Arc<Open>>>,
    /// Serialises the read-modify-write of commits and expiry.
    writer: Mutex<Writer>,
    max_id: AtomicU64,
    /// The first day (since the epoch) not rolled up into `stats_days`.
    stats_rolled: AtomicU64,
    _lock: LockFile,
}

pub(super) struct Open {
    keyspace: Keyspace,
    pub(super) messages: PartitionHandle,
    pub(super) updates: PartitionHandle,
    pub(super) carrier: PartitionHandle,
    pub(super) pending: PartitionHandle,
    pub(super) expiry: PartitionHandle,
    pub(super) outbox: PartitionHandle,
    pub(super) parked: PartitionHandle,
    pub(super) suppressions: PartitionHandle,
    pub(super) stats: PartitionHandle,
    pub(super) stats_days: PartitionHandle,
    pub(super) cap_windows: PartitionHandle,
    pub(super) meta: PartitionHandle,
}

/// What the writer caches of committed state.
#[derive(Default)]
struct Writer {
    /// Last outbox seq per account (loaded from `meta` on first use).
    outbox_seq: HashMap<String, u64>,
    /// Per account, a seq below which no outbox item is left: scans start there. An
    /// acknowledged item leaves a tombstone that an LSM scan must step over until
    /// compaction drops it; a queue that is pushed and acknowledged all day would make
    /// every scan from the start walk them all (measured: 280 ms to read the head of an
    /// outbox after 150 000 acks). Seeking to the first live key skips them.
    outbox_low: HashMap<String, u64>,
}

fn engine_error(what: &str, error: &::fjall::Error) -> StoreError {
    StoreError::new(format!("{what}: {error}"))
}

impl Open {
    fn new(path: &Path) -> Result<Self, StoreError> {
        // Journal writes are flushed to the OS by each commit (`PersistMode::Buffer` at
        // least), so a killed process loses nothing that a commit returned for.
        let keyspace = Config::new(path)
            .manual_journal_persist(true)
            .open()
            .map_err(|e| engine_error("open", &e))?;
        // Bloom filters live in memory for every segment (10 bits a key), so they grow
        // with the send log. The partitions are read by range or by keys that exist; the
        // carrier-id index is read by point lookups that may miss (a receipt's other
        // readings of its id), but only for receipts older than the writer's in-memory
        // index of recent ids, so it goes without as well.
        let partition = |name: &str| {
            keyspace
                .open_partition(
                    name,
                    PartitionCreateOptions::default().bloom_filter_bits(None),
                )
                .map_err(|e| engine_error("open partition", &e))
        };
        Ok(Self {
            messages: partition("messages")?,
            updates: partition("updates")?,
            carrier: partition("carrier")?,
            pending: partition("pending")?,
            expiry: partition("expiry")?,
            outbox: partition("outbox")?,
            parked: partition("parked")?,
            suppressions: partition("suppressions")?,
            stats: partition("stats")?,
            stats_days: partition("stats_days")?,
            cap_windows: partition("cap_windows")?,
            meta: partition("meta")?,
            keyspace,
        })
    }

    fn get_message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        let key = keys::message(id);
        let Some(bytes) = self
            .messages
            .get(key)
            .map_err(|e| engine_error("read message", &e))?
        else {
            return Ok(None);
        };
        self.with_update(keys::decode_message(&bytes)?).map(Some)
    }

    /// `record` (as accepted) with its `updates` value applied, when it has one.
    fn with_update(&self, record: MessageRecord) -> Result<MessageRecord, StoreError> {
        match self
            .updates
            .get(keys::message(record.id))
            .map_err(|e| engine_error("read update", &e))?
        {
            Some(update) => keys::apply_update(record, &update),
            None => Ok(record),
        }
    }

    /// Message `id`'s record when it is not final (a pending key left by an expiry, or a
    /// message gone, reads `None`).
    fn get_pending(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .get_message(id)?
            .filter(|record| !record.state.is_final()))
    }

    fn meta_u64(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        self.meta
            .get(key)
            .map_err(|e| engine_error("read meta", &e))?
            .map(|bytes| keys::parse_u64(&bytes))
            .transpose()
    }
}

impl FjallStore {
    /// Opens (creating when missing) the store in `path`.
    ///
    /// # Errors
    /// The directory cannot be created, another process holds it (the error names its
    /// pid), or the engine fails to recover.
    pub fn open(path: impl AsRef<Path>, fsync: bool) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)
            .map_err(|e| StoreError::new(format!("create {}: {e}", path.display())))?;
        let lock = LockFile::acquire(&path)?;
        let open = Open::new(&path)?;
        let last_key = open
            .messages
            .last_key_value()
            .map_err(|e| engine_error("read messages", &e))?
            .map(|(key, _)| keys::message_id(&key))
            .transpose()?
            .unwrap_or(0);
        let max_id = open.meta_u64(keys::MAX_ID)?.unwrap_or(0).max(last_key);
        let stats_rolled = open.meta_u64(keys::STATS_ROLLED)?.unwrap_or(0);
        Ok(Self {
            path,
            fsync,
            open: RwLock::new(Some(Arc::new(open))),
            writer: Mutex::new(Writer::default()),
            max_id: AtomicU64::new(max_id),
            stats_rolled: AtomicU64::new(stats_rolled),
            _lock: lock,
        })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open keyspace, reopening it after a failed write.
    pub(super) fn handles(&self) -> Result<Arc<Open>, StoreError> {
        if let Some(open) = self
            .open
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(Arc::clone(open));
        }
        let mut slot = self.open.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = slot.as_ref() {
            return Ok(Arc::clone(open));
        }
        let open = Arc::new(Open::new(&self.path)?);
        tracing::warn!(path = %self.path.display(), "store reopened after a failed write");
        *slot = Some(Arc::clone(&open));
        Ok(open)
    }

    /// Drops the keyspace after a failed write so that the next call reopens it (fjall
    /// refuses writes once a journal write or fsync failed: the journal's state on disk
    /// is unknown until recovery reads it again).
    fn discard(&self) {
        self.open
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn durability(&self) -> PersistMode {
        if self.fsync {
            // fdatasync: the journal's data and its size, which is all recovery reads.
            PersistMode::SyncData
        } else {
            PersistMode::Buffer
        }
    }

    fn commit_batch(&self, batch: Batch) -> Result<(), StoreError> {
        batch.commit().map_err(|e| {
            self.discard();
            engine_error("commit", &e)
        })
    }
}

/// Builds the batch for `ops`: records are read once, changed in memory, written once.
/// Records of `Insert` / `Put` are borrowed from the ops (encoded straight from there);
/// a `Part` / `State` update reads and copies the record first.
struct Planner<'a> {
    open: &'a Open,
    batch: Batch,
    records: HashMap<u64, Planned<'a>>,
    /// Every record is encoded here, then copied into the batch (one allocation each).
    buf: Vec<u8>,
    seqs: HashMap<String, u64>,
    /// Outbox keys acknowledged earlier in this batch (a park after them finds nothing).
    acked: HashSet<Vec<u8>>,
    /// Statistics this batch adds to, read once and written once.
    stats: HashMap<StatsKey, Counters>,
    /// Day rows this batch adds to: outcomes counted in an hour of a day already rolled up
    /// (rare: a clock stepped back, a tally flushed after midnight).
    late_days: stats_days::LateDays,
    max_id: u64,
}

/// A record to write, and whether its pending entry must be written too (always after an
/// `Insert` or a read-modify-write; after a blind `Put` only when it became final). Small
/// (the record is borrowed or boxed): the map moves it around as it grows.
struct Planned<'a> {
    record: Held<'a>,
    sync_pending: bool,
    /// Whether this batch writes the message's `messages` value (it was inserted in it):
    /// later changes in the batch go into that value, not into an update.
    whole: bool,
}

/// A planned record: the op's own, or a copy being changed.
enum Held<'a> {
    Borrowed(&'a MessageRecord),
    Owned(Box<MessageRecord>),
}

impl Held<'_> {
    fn get(&self) -> &MessageRecord {
        match self {
            Self::Borrowed(record) => record,
            Self::Owned(record) => record,
        }
    }

    fn to_mut(&mut self) -> &mut MessageRecord {
        if let Self::Borrowed(record) = *self {
            *self = Self::Owned(Box::new(record.clone()));
        }
        match self {
            Self::Owned(record) => record,
            Self::Borrowed(_) => unreachable!("made owned above"),
        }
    }
}

impl<'a> Planner<'a> {
    fn record(&mut self, id: u64) -> Result<Option<&mut MessageRecord>, StoreError> {
        match self.records.entry(id) {
            Entry::Occupied(entry) => {
                let planned = entry.into_mut();
                planned.sync_pending = true;
                Ok(Some(planned.record.to_mut()))
            }
            Entry::Vacant(entry) => match self.open.get_message(id)? {
                Some(record) => Ok(Some(
                    entry
                        .insert(Planned {
                            record: Held::Owned(Box::new(record)),
                            sync_pending: true,
                            whole: false,
                        })
                        .record
                        .to_mut(),
                )),
                None => Ok(None),
            },
        }
    }

    fn next_seq(&mut self, writer: &Writer, account: &str) -> Result<u64, StoreError> {
        let last = match self.seqs.get(account) {
            Some(&seq) => seq,
            None => match writer.outbox_seq.get(account) {
                Some(&seq) => seq,
                None => self
                    .open
                    .meta_u64(&keys::outbox_seq(account)?)?
                    .unwrap_or(0),
            },
        };
        let seq = last + 1;
        match self.seqs.get_mut(account) {
            Some(stored) => *stored = seq,
            None => {
                self.seqs.insert(account.to_owned(), seq);
            }
        }
        Ok(seq)
    }

    fn apply(&mut self, writer: &Writer, op: &'a Op) -> Result<(), StoreError> {
        match op {
            Op::Insert(record) => {
                self.max_id = self.max_id.max(record.id);
                self.records.insert(
                    record.id,
                    Planned {
                        record: Held::Borrowed(record),
                        sync_pending: true,
                        whole: true,
                    },
                );
            }
            Op::Put(record) => {
                self.max_id = self.max_id.max(record.id);
                let earlier = self.records.get(&record.id);
                let sync_pending =
                    earlier.is_some_and(|p| p.sync_pending) || record.state.is_final();
                let whole = earlier.is_some_and(|p| p.whole);
                self.records.insert(
                    record.id,
                    Planned {
                        record: Held::Borrowed(record),
                        sync_pending,
                        whole,
                    },
                );
            }
            Op::Part { id, part, record } => {
                let Some(message) = self.record(*id)? else {
                    // Already expired (a late receipt): nothing to update.
                    tracing::warn!(id, part, "part update for an unknown message ignored");
                    return Ok(());
                };
                let index = usize::from(*part);
                if message.parts.len() <= index {
                    message.parts.resize_with(index + 1, PartRecord::default);
                }
                message.parts[index] = record.clone();
            }
            Op::CarrierId {
                carrier,
                carrier_id,
                id,
                part,
            } => {
                self.batch.insert(
                    &self.open.carrier,
                    &keys::carrier(carrier, carrier_id)?[..],
                    &keys::carrier_value(*id, *part)[..],
                );
            }
            Op::State { id, state } => {
                let Some(message) = self.record(*id)? else {
                    tracing::warn!(id, ?state, "state update for an unknown message ignored");
                    return Ok(());
                };
                message.state = *state;
            }
            Op::OutboxPush(item) => {
                let seq = self.next_seq(writer, &item.account)?;
                keys::encode_outbox_into(item, seq, &mut self.buf)?;
                self.batch.insert(
                    &self.open.outbox,
                    &keys::outbox(&item.account, seq)?[..],
                    &self.buf[..],
                );
            }
            Op::OutboxAck { account, seq } => {
                let key = keys::outbox(account, *seq)?;
                self.batch.remove(&self.open.outbox, &key[..]);
                self.acked.insert(key);
            }
            Op::OutboxPark {
                account,
                seq,
                attempts,
                status,
                at,
            } => {
                let key = keys::outbox(account, *seq)?;
                let value = if self.acked.contains(&key) {
                    None
                } else {
                    self.open
                        .outbox
                        .get(&key)
                        .map_err(|e| engine_error("read outbox", &e))?
                };
                let Some(value) = value else {
                    tracing::warn!(account, seq, "park of an item no longer queued ignored");
                    return Ok(());
                };
                let mut item: OutboxItem = keys::decode("outbox item", &value)?;
                item.attempts = *attempts;
                let parked = ParkedItem {
                    item,
                    status: *status,
                    parked: *at,
                };
                self.batch
                    .insert(&self.open.parked, key.clone(), keys::encode(&parked)?);
                self.batch.remove(&self.open.outbox, key);
            }
            Op::Stats(entries) => {
                for (key, counters) in entries {
                    let stored = match self.stats.entry(key.clone()) {
                        Entry::Occupied(entry) => entry.into_mut(),
                        Entry::Vacant(entry) => {
                            let stored = self
                                .open
                                .stats
                                .get(keys::stats(key)?)
                                .map_err(|e| engine_error("read stats", &e))?
                                .map(|value| keys::decode::<(StatsKey, Counters)>("stats", &value))
                                .transpose()?
                                .map(|(_, counters)| counters)
                                .unwrap_or_default();
                            entry.insert(stored)
                        }
                    };
                    stored.merge(counters);
                    self.late_days.add(self.open, key, counters)?;
                }
            }
            Op::ParkedDrop { account, seq } => {
                self.batch
                    .remove(&self.open.parked, keys::outbox(account, *seq)?);
            }
            Op::OutboxReplay { account } => {
                for entry in self.open.parked.prefix(keys::outbox_prefix(account)?) {
                    let (key, value) = entry.map_err(|e| engine_error("read parked", &e))?;
                    let parked: ParkedItem = keys::decode("parked item", &value)?;
                    let seq = self.next_seq(writer, account)?;
                    let item = OutboxItem {
                        seq,
                        attempts: 0,
                        ..parked.item
                    };
                    self.batch.insert(
                        &self.open.outbox,
                        keys::outbox(account, seq)?,
                        keys::encode(&item)?,
                    );
                    self.batch.remove(&self.open.parked, key);
                }
            }
            Op::Suppress(entry) => {
                self.batch.insert(
                    &self.open.suppressions,
                    suppression::key(&entry.scope, &entry.number)?,
                    suppression::encode_value(entry)?,
                );
            }
            Op::Unsuppress { scope, number } => {
                self.batch
                    .remove(&self.open.suppressions, suppression::key(scope, number)?);
            }
            Op::CapWindows(windows) => {
                for window in windows {
                    let key = cap_windows::key(&window.account, window.number)?;
                    if window.caps.is_empty() {
                        // Only what was dead by then: a fresher save stays.
                        let stored = self
                            .open
                            .cap_windows
                            .get(&key)
                            .map_err(|e| engine_error("read cap windows", &e))?
                            .map(|value| keys::decode::<CapWindow>("cap window", &value))
                            .transpose()?;
                        if stored.is_some_and(|s| s.dead_after <= window.dead_after) {
                            self.batch.remove(&self.open.cap_windows, key);
                        }
                    } else {
                        self.batch
                            .insert(&self.open.cap_windows, key, keys::encode(window)?);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the changed records, the pending set and the counters into the batch.
    fn finish(mut self) -> Result<(Batch, HashMap<String, u64>), StoreError> {
        for (id, planned) in &self.records {
            let key = keys::message(*id);
            let record = planned.record.get();
            if planned.whole {
                keys::encode_message_into(record, &[], true, &mut self.buf)?;
                self.batch
                    .insert(&self.open.messages, &key[..], &self.buf[..]);
            } else {
                keys::encode_update_into(record, &mut self.buf)?;
                self.batch
                    .insert(&self.open.updates, &key[..], &self.buf[..]);
            }
            if !planned.sync_pending {
                // A blind Put that is not final: the pending entry is already there.
            } else if record.state.is_final() {
                self.batch.remove(&self.open.pending, &key[..]);
            } else {
                self.batch
                    .insert(&self.open.pending, &key[..], keys::pending_value(record));
                // With its pending entry, its own expiry's (written again with each
                // change of a message not final: one accepted before the store kept them
                // is found by time from then on).
                if record.expires != 0 {
                    self.batch.insert(
                        &self.open.expiry,
                        keys::expiry(record.expires, *id),
                        &[][..],
                    );
                }
            }
        }
        for (key, counters) in &self.stats {
            self.batch.insert(
                &self.open.stats,
                keys::stats(key)?,
                keys::encode(&(key, counters))?,
            );
        }
        self.late_days.write(self.open, &mut self.batch)?;
        for (account, seq) in &self.seqs {
            self.batch.insert(
                &self.open.meta,
                keys::outbox_seq(account)?,
                seq.to_be_bytes().to_vec(),
            );
        }
        Ok((self.batch, self.seqs))
    }
}

impl Store for FjallStore {
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut writer = self.lock_writer();
        let open = self.handles()?;
        let old_max_id = self.max_id.load(Ordering::Acquire);
        let mut planner = Planner {
            // Sized up front (an op writes one to three items): grown from empty, a large
            // batch was re-copied at each doubling, onto fresh pages the kernel zeroes.
            batch: Batch::with_capacity(open.keyspace.clone(), ops.len() * 2 + 8)
                .durability(Some(self.durability())),
            open: &open,
            records: HashMap::with_capacity(ops.len()),
            buf: Vec::with_capacity(512),
            seqs: HashMap::new(),
            acked: HashSet::new(),
            stats: HashMap::new(),
            late_days: stats_days::LateDays::new(self.stats_rolled.load(Ordering::Acquire)),
            max_id: old_max_id,
        };
        for op in ops {
            planner.apply(&writer, op)?;
        }
        let max_id = planner.max_id;
        let (batch, seqs) = planner.finish()?;
        self.commit_batch(batch)?;
        // Only what is durable is cached.
        self.max_id.store(max_id, Ordering::Release);
        writer.outbox_seq.extend(seqs);
        Ok(())
    }

    fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        self.handles()?.get_message(id)
    }

    fn by_carrier_id(
        &self,
        carrier: &str,
        carrier_id: &str,
    ) -> Result<Option<(u64, u16)>, StoreError> {
        self.handles()?
            .carrier
            .get(keys::carrier(carrier, carrier_id)?)
            .map_err(|e| engine_error("read carrier index", &e))?
            .map(|value| keys::parse_carrier_value(&value))
            .transpose()
    }

    fn pending_page(&self, after: u64, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        let open = self.handles()?;
        let mut records = Vec::new();
        let Some(start) = after.checked_add(1) else {
            return Ok(records);
        };
        for entry in open.pending.range(keys::message(start)..) {
            if records.len() >= limit {
                break;
            }
            let (key, _) = entry.map_err(|e| engine_error("read pending", &e))?;
            let id = keys::message_id(&key)?;
            // A pending key without its message (or a final one) is left over from an
            // expiry; the message itself is what counts.
            records.extend(open.get_pending(id)?);
        }
        Ok(records)
    }

    fn expiry_page(
        &self,
        after: u64,
        limit: usize,
        due: ExpiryBound,
    ) -> Result<ExpiryPage, StoreError> {
        let open = self.handles()?;
        let mut page = ExpiryPage::default();
        let Some(start) = after.checked_add(1) else {
            return Ok(page);
        };
        for (seen, entry) in open.pending.range(keys::message(start)..).enumerate() {
            if seen >= limit {
                return Ok(page);
            }
            let (key, value) = entry.map_err(|e| engine_error("read pending", &e))?;
            let id = keys::message_id(&key)?;
            page.next = Some(id);
            // Ids rise with acceptance: the first message whose store validity has not
            // run out ends the scan (a wall clock stepped back delays expiry by the
            // step). An empty value is from a store written before the time was kept
            // there: its record is read, and those all come first.
            if keys::parse_pending_value(&value).is_some_and(|accepted| !due.by_store(accepted)) {
                break;
            }
            page.candidates.extend(open.get_pending(id)?);
        }
        page.next = None;
        Ok(page)
    }

    fn own_expiries(&self, due: ExpiryBound, limit: usize) -> Result<ExpiryPage, StoreError> {
        let open = self.handles()?;
        let mut page = ExpiryPage::default();
        // An own expiry older than the store's validity is also past the store's (a
        // message expires no later than it was accepted): `expiry_page` finds those.
        let floor = keys::expiry(due.now.saturating_sub(due.validity), 0);
        let start = match open
            .meta
            .get(keys::EXPIRY_SCANNED)
            .map_err(|e| engine_error("read meta", &e))?
        {
            Some(scanned) if scanned[..] > floor[..] => {
                let (expires, id) = keys::parse_expiry(&scanned)?;
                if expires > due.now {
                    // Scanned up to a time still ahead: the wall clock stepped back. A
                    // message accepted since, expiring before that time, would never be
                    // read: scanned again from the floor (once; the cursor is set back).
                    floor
                } else {
                    match id.checked_add(1) {
                        Some(id) => keys::expiry(expires, id),
                        None => keys::expiry(expires.saturating_add(1), 0),
                    }
                }
            }
            _ => floor,
        };
        let end = keys::expiry(due.now, u64::MAX);
        if start > end {
            return Ok(page);
        }
        let mut last = None;
        for (seen, entry) in open.expiry.range(start..=end).enumerate() {
            let (key, _) = entry.map_err(|e| engine_error("read expiry", &e))?;
            let (_, id) = keys::parse_expiry(&key)?;
            if seen >= limit {
                page.next = Some(id);
                break;
            }
            last = Some(key);
            // Most messages are final by their expiry: the small pending entry says so
            // without reading the record.
            if open
                .pending
                .get(keys::message(id))
                .map_err(|e| engine_error("read pending", &e))?
                .is_none()
            {
                continue;
            }
            page.candidates.extend(open.get_pending(id)?);
        }
        if let Some(last) = last {
            // Losing this to a power cut only hands some messages over again: no fsync.
            let mut batch = open.keyspace.batch().durability(Some(PersistMode::Buffer));
            batch.insert(&open.meta, keys::EXPIRY_SCANNED, &*last);
            self.commit_batch(batch)?;
        }
        Ok(page)
    }

    fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError> {
        let open = self.handles()?;
        let end = read.before.map_or(std::ops::Bound::Unbounded, |before| {
            std::ops::Bound::Excluded(keys::message(before))
        });
        // Newest first from the page's start; the update is read only for a record in
        // range (`accepted` never changes).
        let records = open
            .messages
            .range((std::ops::Bound::Unbounded, end))
            .rev()
            .map(|entry| {
                let (_, value) = entry.map_err(|e| engine_error("read messages", &e))?;
                let record = keys::decode_message(&value)?;
                if read
                    .filter
                    .since
                    .is_some_and(|since| record.accepted < since)
                {
                    return Ok(record);
                }
                open.with_update(record)
            });
        super::page_of(records, read)
    }

    fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        // Under the writer lock: no batch is half applied, so what the scan does not see
        // below the last committed seq is acknowledged for good.
        let mut writer = self.lock_writer();
        let open = self.handles()?;
        let last = match writer.outbox_seq.get(account) {
            Some(&seq) => seq,
            None => open.meta_u64(&keys::outbox_seq(account)?)?.unwrap_or(0),
        };
        let low = writer.outbox_low.get(account).copied().unwrap_or(0);
        let range = keys::outbox(account, low)?..=keys::outbox(account, u64::MAX)?;
        let items = open
            .outbox
            .range(range)
            .take(limit)
            .map(|entry| {
                let (_, value) = entry.map_err(|e| engine_error("read outbox", &e))?;
                keys::decode::<OutboxItem>("outbox item", &value)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if limit > 0 {
            let new_low = items
                .first()
                .map_or(last.saturating_add(1), |item| item.seq);
            writer
                .outbox_low
                .insert(account.to_owned(), new_low.max(low));
        }
        Ok(items)
    }

    fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        // Under the writer lock, as `outbox`: no batch is half applied, so a seq the scan
        // does not see below the last one it sees will never appear (the caller's cursor
        // can move past it).
        let _writer = self.lock_writer();
        let open = self.handles()?;
        let range = keys::outbox(account, first)?..=keys::outbox(account, u64::MAX)?;
        open.outbox
            .range(range)
            .take(limit)
            .map(|entry| {
                let (_, value) = entry.map_err(|e| engine_error("read outbox", &e))?;
                keys::decode::<OutboxItem>("outbox item", &value)
            })
            .collect()
    }

    fn parked(&self, account: Option<&str>, limit: usize) -> Result<Vec<ParkedItem>, StoreError> {
        let open = self.handles()?;
        let entries: Box<dyn Iterator<Item = _>> = match account {
            Some(account) => Box::new(open.parked.prefix(keys::outbox_prefix(account)?)),
            None => Box::new(open.parked.iter()),
        };
        entries
            .take(limit)
            .map(|entry| {
                let (_, value) = entry.map_err(|e| engine_error("read parked", &e))?;
                keys::decode::<ParkedItem>("parked item", &value)
            })
            .collect()
    }

    fn expire(&self, before: Millis) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut from = 0u64;
        loop {
            let _writer = self.lock_writer();
            let open = self.handles()?;
            // Losing an expiry to a power cut only means doing it again: no fsync.
            let mut batch = open.keyspace.batch().durability(Some(PersistMode::Buffer));
            let mut scanned = 0;
            let mut done = true;
            let mut max_id_kept = false;
            // The updates of the same ids, read alongside (both partitions are in id order).
            let mut updates = open.updates.range(keys::message(from)..).peekable();
            for entry in open.messages.range(keys::message(from)..) {
                let (key, value) = entry.map_err(|e| engine_error("read messages", &e))?;
                let id = keys::message_id(&key)?;
                let mut record = keys::decode_message(&value)?;
                if record.accepted >= before {
                    break;
                }
                from = id.saturating_add(1);
                scanned += 1;
                let mut updated = false;
                while let Some(next) = updates.peek() {
                    let next_id = match next {
                        Ok((key, _)) => keys::message_id(key)?,
                        Err(e) => return Err(engine_error("read updates", e)),
                    };
                    if next_id > id {
                        break;
                    }
                    if let Some(Ok((update_key, update))) = updates.next() {
                        if next_id == id {
                            record = keys::apply_update(record, &update)?;
                            updated = true;
                        } else {
                            // An update whose message is gone (a write that raced an
                            // earlier expiry): nothing reads it.
                            batch.remove(&open.updates, update_key);
                        }
                    }
                }
                if record.state.is_final() {
                    if !max_id_kept {
                        max_id_kept = true;
                        // The highest id outlives the messages that held it (ids keep
                        // rising after a restart): commits leave it to the last key.
                        batch.insert(
                            &open.meta,
                            keys::MAX_ID,
                            &self.max_id.load(Ordering::Acquire).to_be_bytes()[..],
                        );
                    }
                    batch.remove(&open.messages, key);
                    if updated {
                        batch.remove(&open.updates, &keys::message(id)[..]);
                    }
                    batch.remove(&open.pending, keys::message(id).to_vec());
                    if record.expires != 0 {
                        batch.remove(&open.expiry, keys::expiry(record.expires, id));
                    }
                    // Its carrier-id index entries, under whichever reading the writer
                    // used; only those that still point at it (a carrier that reuses ids
                    // may have given this one to a newer message).
                    for (index, part) in record.parts.iter().enumerate() {
                        let (Some(carrier), Some(carrier_id)) = (&part.carrier, &part.carrier_id)
                        else {
                            continue;
                        };
                        for reading in keys::carrier_readings(carrier_id) {
                            let key = keys::carrier(carrier, &reading)?;
                            let points_here = open
                                .carrier
                                .get(&key)
                                .map_err(|e| engine_error("read carrier index", &e))?
                                .map(|value| keys::parse_carrier_value(&value))
                                .transpose()?
                                .is_some_and(|(owner, at)| owner == id && usize::from(at) == index);
                            if points_here {
                                batch.remove(&open.carrier, key);
                            }
                        }
                    }
                    removed += 1;
                }
                if scanned >= EXPIRE_CHUNK {
                    done = false;
                    break;
                }
            }
            if !batch.is_empty() {
                self.commit_batch(batch)?;
            }
            if done {
                return Ok(removed);
            }
        }
    }

    fn stats(&self, from_hour: u64) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        let open = self.handles()?;
        open.stats
            .range(from_hour.to_be_bytes().to_vec()..)
            .map(|entry| {
                let (_, value) = entry.map_err(|e| engine_error("read stats", &e))?;
                keys::decode("stats", &value)
            })
            .collect()
    }

    fn cap_windows(&self, visit: &mut dyn FnMut(CapWindow) -> bool) -> Result<(), StoreError> {
        let open = self.handles()?;
        for entry in open.cap_windows.iter() {
            let (_, value) = entry.map_err(|e| engine_error("read cap windows", &e))?;
            if !visit(keys::decode("cap window", &value)?) {
                break;
            }
        }
        Ok(())
    }

    fn stats_coarse(&self, from_hour: u64) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        stats_days::read_coarse(&*self.handles()?, from_hour)
    }

    fn roll_up_stats(&self, before_day: u64) -> Result<u64, StoreError> {
        self.roll_up_days(before_day)
    }

    fn trim_stats(&self, hours_before: u64, days_before: u64) -> Result<usize, StoreError> {
        self.trim_stats_rows(hours_before, days_before)
    }

    fn max_id(&self) -> Result<u64, StoreError> {
        Ok(self.max_id.load(Ordering::Acquire))
    }

    fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError> {
        let key = suppression::key(scope, number)?;
        self.handles()?
            .suppressions
            .get(&key)
            .map_err(|e| engine_error("read suppressions", &e))?
            .map(|value| suppression::decode(&key, &value))
            .transpose()
    }

    fn suppressions(
        &self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> bool,
    ) -> Result<(), StoreError> {
        let open = self.handles()?;
        let entries: Box<dyn Iterator<Item = _>> = match scope {
            Some(scope) => Box::new(open.suppressions.prefix(suppression::scope_prefix(scope)?)),
            None => Box::new(open.suppressions.iter()),
        };
        for entry in entries {
            let (key, value) = entry.map_err(|e| engine_error("read suppressions", &e))?;
            if !visit(suppression::decode(&key, &value)?) {
                break;
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore")
            .field("path", &self.path)
            .field("fsync", &self.fsync)
            .finish_non_exhaustive()
    }
}
