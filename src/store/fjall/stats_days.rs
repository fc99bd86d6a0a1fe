//! Day roll-ups of the delivery statistics, so that `smppgate stats` over a month reads
//! about 30 rows per key instead of 720.
//!
//! Hour rows (`stats`) are written as outcomes are committed. Once a day is over,
//! [`FjallStore::roll_up_days`] sums its hours per (account, route, carrier) into
//! `stats_days` and moves the watermark `meta:stats_rolled` (the first day not rolled up)
//! past it, in one batch and under the writer's lock: a commit either came before (its
//! hours are in the sum) or after, and then sees the watermark and adds what it counts in
//! a rolled-up day to the day row as well ([`LateDays`]). So a day row is always the sum
//! of its hours, even for an outcome counted after midnight in the hour before it; the
//! normal commit pays one comparison per key for this.
//!
//! [`read_coarse`] reads at one instant of the keyspace: hours of a partial first day,
//! day rows up to the watermark, hours after it. Trimming ([`FjallStore::trim_stats_rows`])
//! removes hours only of rolled-up days, and remembers where the kept hours and days
//! begin (`meta:stats_hours_from`, `meta:stats_days_from`) so that scans start at the
//! first live key rather than stepping over tombstones.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::Ordering;

use ::fjall::{Batch, PartitionHandle};

use super::{FjallStore, Open, engine_error};
use crate::store::{Counters, StatsKey, StoreError, keys};

/// Hours in a day.
const DAY_HOURS: u64 = 24;

/// Keys removed per batch while trimming.
const TRIM_CHUNK: usize = 1024;

/// The day rows one commit adds to (see the module comment).
pub(super) struct LateDays {
    /// The first day not rolled up when the commit began (it holds the writer's lock, so
    /// this does not move under it).
    rolled: u64,
    rows: HashMap<StatsKey, Counters>,
}

impl LateDays {
    pub(super) fn new(rolled: u64) -> Self {
        Self {
            rolled,
            rows: HashMap::new(),
        }
    }

    /// Adds `counters`, counted in `key`'s hour, to its day row when that day is rolled up.
    pub(super) fn add(
        &mut self,
        open: &Open,
        key: &StatsKey,
        counters: &Counters,
    ) -> Result<(), StoreError> {
        if key.hour / DAY_HOURS >= self.rolled {
            return Ok(());
        }
        let day = day_key(key);
        let row = match self.rows.entry(day) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let stored = read_row(&open.stats_days, entry.key())?.unwrap_or_default();
                entry.insert(stored)
            }
        };
        row.merge(counters);
        Ok(())
    }

    /// Writes the day rows added to.
    pub(super) fn write(&self, open: &Open, batch: &mut Batch) -> Result<(), StoreError> {
        for (key, counters) in &self.rows {
            batch.insert(
                &open.stats_days,
                keys::stats(key)?,
                keys::encode(&(key, counters))?,
            );
        }
        Ok(())
    }
}

/// The day row's key of an hour's key.
fn day_key(key: &StatsKey) -> StatsKey {
    StatsKey {
        hour: key.hour / DAY_HOURS * DAY_HOURS,
        ..key.clone()
    }
}

fn read_row(partition: &PartitionHandle, key: &StatsKey) -> Result<Option<Counters>, StoreError> {
    partition
        .get(keys::stats(key)?)
        .map_err(|e| engine_error("read stats", &e))?
        .map(|value| keys::decode::<(StatsKey, Counters)>("stats", &value).map(|(_, c)| c))
        .transpose()
}

fn hour_bound(hour: u64) -> Vec<u8> {
    hour.to_be_bytes().to_vec()
}

/// Delivery statistics from `from_hour` on: whole rolled-up days as day rows, the rest
/// by hour (see [`crate::store::Store::stats_coarse`]).
pub(super) fn read_coarse(
    open: &Open,
    from_hour: u64,
) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
    // One instant for the three partitions: a roll-up committed meanwhile is either
    // wholly seen or not at all.
    let instant = open.keyspace.instant();
    let meta = open.meta.snapshot_at(instant);
    let hours = open.stats.snapshot_at(instant);
    let days = open.stats_days.snapshot_at(instant);
    let meta_u64 = |key: &[u8]| -> Result<u64, StoreError> {
        meta.get(key)
            .map_err(|e| StoreError::new(format!("read meta: {e}")))?
            .map_or(Ok(0), |value| keys::parse_u64(&value))
    };
    let rolled = meta_u64(keys::STATS_ROLLED)?;
    let hours_from = meta_u64(keys::STATS_HOURS_FROM)?;
    // Snapshots iterate with the tree's error type, not fjall's.
    let decode = |entry: Result<(::fjall::Slice, ::fjall::Slice), ::fjall::LsmError>| {
        let (_, value) = entry.map_err(|e| StoreError::new(format!("read stats: {e}")))?;
        keys::decode::<(StatsKey, Counters)>("stats", &value)
    };
    let mut rows = Vec::new();
    let mut next_hour = from_hour;
    let from_day = from_hour / DAY_HOURS;
    if from_day < rolled {
        let mut first_whole_day = from_day;
        if from_hour % DAY_HOURS != 0 && from_hour >= hours_from {
            // A partial first day whose hours are kept: those hours.
            let end = (from_day + 1) * DAY_HOURS;
            for entry in hours.range(hour_bound(from_hour)..hour_bound(end)) {
                rows.push(decode(entry)?);
            }
            first_whole_day += 1;
        }
        // (A partial first day whose hours were trimmed counts whole: the day row is
        // all that is left of it.)
        for entry in
            days.range(hour_bound(first_whole_day * DAY_HOURS)..hour_bound(rolled * DAY_HOURS))
        {
            rows.push(decode(entry)?);
        }
        next_hour = rolled * DAY_HOURS;
    }
    for entry in hours.range(hour_bound(next_hour)..) {
        rows.push(decode(entry)?);
    }
    Ok(rows)
}

impl FjallStore {
    /// Rolls every day before `before_day` into day rows (see the module comment), one
    /// day per batch, taking the writer's lock for each; answers how many days had rows.
    pub(super) fn roll_up_days(&self, before_day: u64) -> Result<u64, StoreError> {
        let mut rolled_days = 0;
        // Housekeeping asks every round; nearly always there is nothing to do, and then
        // the writer's lock is not taken.
        if self.stats_rolled.load(Ordering::Acquire) >= before_day {
            return Ok(0);
        }
        loop {
            let _writer = self.lock_writer();
            let open = self.handles()?;
            let rolled = self.stats_rolled.load(Ordering::Acquire);
            if rolled >= before_day {
                return Ok(rolled_days);
            }
            // Skip the days without rows in one step (a new store, a quiet week).
            let first_hour = open
                .stats
                .range(hour_bound(rolled * DAY_HOURS)..)
                .next()
                .transpose()
                .map_err(|e| engine_error("read stats", &e))?
                .map(|(key, _)| first_u64(&key))
                .transpose()?;
            let day = first_hour.map_or(before_day, |hour| (hour / DAY_HOURS).max(rolled));
            let mut batch = open.keyspace.batch().durability(Some(self.durability()));
            if day < before_day {
                let mut sums: HashMap<StatsKey, Counters> = HashMap::new();
                let range = hour_bound(day * DAY_HOURS)..hour_bound((day + 1) * DAY_HOURS);
                for entry in open.stats.range(range) {
                    let (_, value) = entry.map_err(|e| engine_error("read stats", &e))?;
                    let (key, counters) = keys::decode::<(StatsKey, Counters)>("stats", &value)?;
                    sums.entry(day_key(&key)).or_default().merge(&counters);
                }
                for (key, counters) in &sums {
                    batch.insert(
                        &open.stats_days,
                        keys::stats(key)?,
                        keys::encode(&(key, counters))?,
                    );
                }
                rolled_days += 1;
            }
            let next = (day + 1).min(before_day);
            batch.insert(
                &open.meta,
                keys::STATS_ROLLED.to_vec(),
                next.to_be_bytes().to_vec(),
            );
            self.commit_batch(batch)?;
            self.stats_rolled.store(next, Ordering::Release);
        }
    }

    /// Removes hour rows before `hours_before` (of rolled-up days only: the others are
    /// all there is of their day) and day rows of days before `days_before`; answers how
    /// many rows went.
    pub(super) fn trim_stats_rows(
        &self,
        hours_before: u64,
        days_before: u64,
    ) -> Result<usize, StoreError> {
        let rolled = self.stats_rolled.load(Ordering::Acquire);
        let hours_before = hours_before.min(rolled * DAY_HOURS);
        let open = self.handles()?;
        let hours =
            self.trim_partition(&open, &open.stats, keys::STATS_HOURS_FROM, hours_before)?;
        let days = self.trim_partition(
            &open,
            &open.stats_days,
            keys::STATS_DAYS_FROM,
            days_before * DAY_HOURS,
        )?;
        Ok(hours + days)
    }

    /// Removes the rows of `partition` before hour `before`, from where the last trim
    /// stopped (`from_key` in `meta`) on.
    fn trim_partition(
        &self,
        open: &Open,
        partition: &PartitionHandle,
        from_key: &[u8],
        before: u64,
    ) -> Result<usize, StoreError> {
        let from = open.meta_u64(from_key)?.unwrap_or(0);
        if before <= from {
            return Ok(0);
        }
        let mut removed = 0;
        let mut start = hour_bound(from);
        loop {
            let doomed: Vec<::fjall::Slice> = partition
                .range(start.clone()..hour_bound(before))
                .take(TRIM_CHUNK)
                .map(|entry| entry.map(|(key, _)| key))
                .collect::<Result<_, _>>()
                .map_err(|e| engine_error("read stats", &e))?;
            let done = doomed.len() < TRIM_CHUNK;
            if let Some(last) = doomed.last() {
                // The next chunk starts just after this one (not over its tombstones).
                start = last.to_vec();
                start.push(0);
            }
            let mut batch = open.keyspace.batch().durability(Some(self.durability()));
            removed += doomed.len();
            for key in doomed {
                batch.remove(partition, key);
            }
            if done {
                batch.insert(&open.meta, from_key.to_vec(), before.to_be_bytes().to_vec());
            }
            self.commit_batch(batch)?;
            if done {
                return Ok(removed);
            }
        }
    }
}

/// The hour a `stats` key begins with.
fn first_u64(key: &[u8]) -> Result<u64, StoreError> {
    key.get(..8)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::new(format!("corrupt stats key ({} bytes)", key.len())))
}
