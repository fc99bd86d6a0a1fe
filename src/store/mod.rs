//! The durable store: every message we acknowledge, its parts' carrier ids and states,
//! and the outbox of receipts / MO messages waiting for their upstream.
//!
//! [`Store`] is the storage engine behind a trait (so a networked backend can be added);
//! [`GroupCommit`] batches writes from many connections into one commit + fsync and
//! resolves each caller once its write is durable.
//!
//! API contract (the gateway and receipts depend on it; internals are free).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod memory;
use crate::config::{Class, StoreConfig};

mod cap_windows;
mod fjall;
mod group;
mod jetstream;
mod keys;
mod lock;
mod raw_bytes;
mod retention;
mod stats;
mod suppression;
#[cfg(test)]
pub(crate) mod tests;
mod work_queue;

pub use self::fjall::FjallStore;
pub use cap_windows::{CapSignature, CapTimes, CapWindow};
pub use group::{GroupCommit, GroupCommitStats, Submitted};
pub use jetstream::{
    Bound, JetStreamStore, Lease, Membership, OutboxFollower, OutboxLeases, OutboxWatch,
    SharedCaps, SuppressionChange, SuppressionWatch, follow_liveness,
};
pub use lock::{announce_api, announced_api, in_use};
pub use retention::{expire_once, now_millis};
pub use stats::{Counters, HOUR_MS, Latency, StatsKey};
pub use suppression::{ScopeKey, Suppression, SuppressionSource};
pub use work_queue::{QueueItem, Room, Settle, Work, WorkQueue, WorkToken};

/// Opens the configured store (the engine is fjall: docs/adr/0002-storage-engine.md).
///
/// # Errors
/// See [`FjallStore::open`].
pub fn open(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(FjallStore::open(&config.path, config.fsync)?))
}

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// A message's state (and a part's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum State {
    /// Acknowledged upstream, not yet accepted by a carrier.
    #[default]
    Accepted,
    /// Accepted by a carrier (has its message id), no final receipt yet.
    Sent,
    /// Final: delivered.
    Delivered,
    /// Final: undeliverable (receipt) or failed (permanent status, retries exhausted).
    Failed,
    /// Final: expired (receipt or validity).
    Expired,
    /// Final: rejected (receipt).
    Rejected,
    /// Final: deleted / unknown (receipt).
    Unknown,
    /// Accepted, kept out of dispatch for an operator's review (`sensitive_action =
    /// "hold"`): not final, so it stays pending and counts against the account's backlog;
    /// `smppgate review release` makes it `Accepted`, `review refuse` `Rejected`. The
    /// matched word is the parts' `error` while held. (Last, so records stored before it
    /// existed still decode.)
    Held,
}

impl State {
    /// Whether no further change is expected.
    #[must_use]
    pub const fn is_final(self) -> bool {
        !matches!(self, Self::Accepted | Self::Sent | Self::Held)
    }
}

/// One part (segment) of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PartRecord {
    /// State.
    pub state: State,
    /// Carrier that accepted it.
    pub carrier: Option<String>,
    /// Its message id there.
    pub carrier_id: Option<String>,
    /// Last command_status from the carrier (0 when none).
    pub status: u32,
    /// Attempts so far.
    pub attempts: u32,
    /// Receipt `err:` code, when a receipt came.
    pub error: Option<String>,
    /// When it was last updated.
    pub updated: Millis,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Our message id.
    pub id: u64,
    /// The upstream account's system_id.
    pub account: String,
    /// When it was acknowledged.
    pub accepted: Millis,
    /// Priority lane.
    pub class: Class,
    /// Route override.
    pub route: Option<String>,
    /// The upstream request as received (encoded submit_sm body, so it can be re-split
    /// and re-sent after a restart).
    #[serde(with = "raw_bytes")]
    pub request: Vec<u8>,
    /// Number of parts it is sent as.
    pub part_count: u16,
    /// Whether the upstream asked for a receipt.
    pub wants_receipt: bool,
    /// Overall state.
    pub state: State,
    /// Each part.
    pub parts: Vec<PartRecord>,
    /// Not sent before this time (a deferred or scheduled message; 0: at once).
    pub not_before: Millis,
    /// Expired (EXPIRED receipt, never sent) if not sent by then: the submit_sm's
    /// `validity_period`, or the store's `validity`. 0: the store's `validity` from
    /// `accepted` (records written before this field existed).
    ///
    /// This field and the next are not in the record's first encoding: they follow it as
    /// a [`RecordTail`] (see `keys::encode_message`), so older records still decode.
    #[serde(skip)]
    pub expires: Millis,
    /// The route intake chose for it (empty for records written before this field): the
    /// delivery statistics count by it.
    #[serde(skip)]
    pub route_taken: String,
    /// The client's own reference for the message (`client_ref` of the HTTP API), handed
    /// back in its webhook receipt events. In the record's second tail.
    #[serde(skip)]
    pub client_ref: Option<String>,
    /// What set `not_before`: a market rule (`quiet_hours`) or `schedule_delivery_time`
    /// (`messages show` says why a message waits). In the record's second tail.
    #[serde(skip)]
    pub deferred_by: Option<String>,
}

/// The fields of a [`MessageRecord`] added after its first encoding, written after it
/// (postcard is not self-describing: a record is its first encoding followed by this;
/// a record without a tail reads with the defaults). A later field goes at the end of
/// this struct the same way: a tail that ends early reads the missing fields as their
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct RecordTail {
    /// [`MessageRecord::expires`].
    pub(crate) expires: Millis,
    /// [`MessageRecord::route_taken`].
    pub(crate) route_taken: String,
}

/// The fields a record carries after its [`RecordTail`] (see `keys::encode_message`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RecordTail2 {
    /// [`MessageRecord::client_ref`].
    pub(crate) client_ref: Option<String>,
    /// [`MessageRecord::deferred_by`].
    pub(crate) deferred_by: Option<String>,
}

/// Something waiting for an upstream account (receipt or MO), as a deliver_sm body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Order within the account (assigned by the store).
    pub seq: u64,
    /// The account.
    pub account: String,
    /// Encoded deliver_sm body.
    #[serde(with = "raw_bytes")]
    pub deliver_sm: Vec<u8>,
    /// When queued.
    pub queued: Millis,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// An outbox item its account refused too often, kept in the account's dead-letter area
/// (`smppgate receipts parked` lists them, `smppgate receipts replay` queues them again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedItem {
    /// The item as it was queued, with the attempts it got.
    pub item: OutboxItem,
    /// The last command_status the account answered.
    pub status: u32,
    /// When it was parked.
    pub parked: Millis,
}

/// One write; a commit applies a batch of them atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A new message (shared with whoever keeps it in memory: intake hands the same
    /// record to the receipt writer, no copy is made).
    Insert(Arc<MessageRecord>),
    /// A message's whole record, replacing the stored one without reading it (the
    /// gateway's single writer holds the current record and writes it once per batch).
    /// For a record first written by [`Op::Insert`]: a final state takes the message off
    /// the pending set; a state that is not final leaves the set as it is (the Insert put
    /// it there, and states never go back from final), which saves a write per update.
    Put(Arc<MessageRecord>),
    /// A part changed (state, carrier, carrier id, status, attempts).
    Part {
        /// Message.
        id: u64,
        /// Part index.
        part: u16,
        /// New contents.
        record: PartRecord,
    },
    /// The carrier id → (message, part) index entry (written with the Part update that
    /// records the carrier id).
    CarrierId {
        /// Carrier name.
        carrier: String,
        /// Normalised carrier message id.
        carrier_id: String,
        /// Message.
        id: u64,
        /// Part.
        part: u16,
    },
    /// The message's overall state.
    State {
        /// Message.
        id: u64,
        /// State.
        state: State,
    },
    /// Queue an item for an account (its `seq` is assigned at commit).
    OutboxPush(OutboxItem),
    /// Remove a delivered item.
    OutboxAck {
        /// Account.
        account: String,
        /// Its seq.
        seq: u64,
    },
    /// Move an item from the account's outbox to its dead-letter area (see [`ParkedItem`]).
    /// An item no longer in the outbox (acknowledged meanwhile) is left alone; the item
    /// must have been committed by an earlier batch.
    OutboxPark {
        /// Account.
        account: String,
        /// Its seq.
        seq: u64,
        /// Attempts it got.
        attempts: u32,
        /// The last command_status the account answered.
        status: u32,
        /// When.
        at: Millis,
    },
    /// Remove a parked item (nothing when it is not there): past the store's retention.
    ParkedDrop {
        /// Account.
        account: String,
        /// Its seq.
        seq: u64,
    },
    /// Move every parked item of the account back to the end of its outbox, oldest first,
    /// with fresh seqs and no attempts.
    OutboxReplay {
        /// Account.
        account: String,
    },
    /// Put a number on a scope's suppression list (replacing an entry already there).
    Suppress(Suppression),
    /// Take a number off a scope's suppression list (nothing when it is not there).
    Unsuppress {
        /// Whose list.
        scope: ScopeKey,
        /// E.164 digits.
        number: String,
    },
    /// Adds each entry to the stored delivery statistics of its key (the writer sends one
    /// per key and batch, in the batch's commit).
    Stats(Vec<(StatsKey, Counters)>),
    /// Replaces the stored frequency-cap counters of each entry's (account, number); an
    /// entry without caps removes them if they were dead by its `dead_after` (so a
    /// removal queued behind a fresher save leaves that save).
    CapWindows(Vec<CapWindow>),
}

/// Filter of [`Store::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Accepted at or after.
    pub since: Option<Millis>,
    /// Account.
    pub account: Option<String>,
    /// State.
    pub state: Option<State>,
    /// At most this many (newest first; 0: no limit).
    pub limit: usize,
}

impl ListFilter {
    /// Whether `record` passes the account and state filters (`since` ends a scan
    /// instead: see [`page_of`]).
    fn matches(&self, record: &MessageRecord) -> bool {
        self.account.as_ref().is_none_or(|a| *a == record.account)
            && self.state.is_none_or(|s| s == record.state)
    }
}

/// What [`Store::list_page`] reads: the messages with ids below `before` (from the
/// newest with `None`), newest first, that match `filter` and `keep`.
#[derive(Clone, Copy)]
pub struct PageRead<'a> {
    /// Time, account, state; `limit` is the page's size.
    pub filter: &'a ListFilter,
    /// Where the page starts (the previous page's [`ListPage::next`]).
    pub before: Option<u64>,
    /// Most records read for the page.
    pub max_scan: usize,
    /// A further test of each record (the API's destination).
    pub keep: &'a dyn Fn(&MessageRecord) -> bool,
}

impl std::fmt::Debug for PageRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRead")
            .field("filter", self.filter)
            .field("before", &self.before)
            .field("max_scan", &self.max_scan)
            .finish_non_exhaustive()
    }
}

/// A page of [`Store::list_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    /// Newest first.
    pub records: Vec<MessageRecord>,
    /// Where the next page starts (the ids below this one), or `None`: nothing more.
    pub next: Option<u64>,
}

/// The page of `records` (newest first, each below the page's start) that pass the
/// read's `filter` and `keep`: at most `filter.limit` (at least 1) of them, from at most
/// `max_scan` read (at least 1). A page cut by either has `next`; a record accepted before
/// `filter.since` ends it (nothing older can be newer than `since`).
///
/// # Errors
/// The first read failure among `records`.
pub(crate) fn page_of(
    records: impl Iterator<Item = Result<MessageRecord, StoreError>>,
    read: &PageRead<'_>,
) -> Result<ListPage, StoreError> {
    let PageRead {
        filter,
        max_scan,
        keep,
        ..
    } = *read;
    let limit = filter.limit.max(1);
    let mut page = ListPage::default();
    for (read, record) in records.enumerate() {
        let record = record?;
        if filter.since.is_some_and(|since| record.accepted < since) {
            break;
        }
        let id = record.id;
        if filter.matches(&record) && keep(&record) {
            if page.records.len() == limit {
                page.next = page.records.last().map(|r| r.id);
                break;
            }
            page.records.push(record);
        }
        if read + 1 >= max_scan.max(1) {
            page.next = Some(id);
            break;
        }
    }
    Ok(page)
}

/// Why the store failed (the gateway answers ESME_RSYSERR and acknowledges nothing).
#[derive(Debug, Clone, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub Arc<str>);

impl StoreError {
    /// An error with this message.
    #[must_use]
    pub fn new(message: impl AsRef<str>) -> Self {
        Self(Arc::from(message.as_ref()))
    }
}

/// What the expiry scan asks of the store ([`Store::own_expiries`],
/// [`Store::expiry_page`]): the time and the store's default validity.
///
/// A message is due for expiry (`gateway::schedule::expiry_of`) no sooner than the
/// earlier of its own `expires` (when it has one) and `accepted + validity`; so the
/// scan finds every due message by looking at those whose own expiry has passed and
/// at those whose store validity has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryBound {
    /// The scan's wall time.
    pub now: Millis,
    /// The store's validity (ms).
    pub validity: Millis,
}

impl ExpiryBound {
    /// Whether the store's validity alone has run out for a message accepted at
    /// `accepted`.
    #[must_use]
    pub const fn by_store(&self, accepted: Millis) -> bool {
        self.now >= accepted.saturating_add(self.validity)
    }

    /// Whether a message's own expiry (0: none) has passed.
    #[must_use]
    pub const fn own(&self, expires: Millis) -> bool {
        expires != 0 && self.now >= expires
    }
}

/// A page of the expiry scan ([`Store::expiry_page`], [`Store::own_expiries`]).
#[derive(Debug, Default)]
pub struct ExpiryPage {
    /// Pending messages that may be due (the caller checks each).
    pub candidates: Vec<MessageRecord>,
    /// The page was full: the next starts after this id ([`Store::expiry_page`]), or
    /// where this one stopped ([`Store::own_expiries`]). `None`: the scan is over.
    pub next: Option<u64>,
}

/// A storage engine. Synchronous: called from the group-commit thread and from
/// blocking tasks.
pub trait Store: Send + Sync + 'static {
    /// Applies `ops` atomically and makes them durable (fsync when configured).
    ///
    /// # Errors
    /// Nothing of the batch is applied.
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError>;

    /// A message by id.
    ///
    /// # Errors
    /// Read failure.
    fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError>;

    /// A message by id as stored now, for readers who show it (`messages show`, the HTTP
    /// lookup, webhook events): on a `[cluster]` [`Store::get`] may answer from the
    /// copy this node last wrote, older than what another node wrote since (a receipt
    /// that came in on its carrier bind). The same as `get` for a store that keeps no
    /// such copies.
    ///
    /// # Errors
    /// Read failure.
    fn get_latest(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        self.get(id)
    }

    /// [`Store::get`] of each of `ids`, in order (a networked store reads them all at
    /// once): the receipt writer reads the records a batch needs.
    ///
    /// # Errors
    /// Read failure.
    fn get_many(&self, ids: &[u64]) -> Result<Vec<Option<MessageRecord>>, StoreError> {
        ids.iter().map(|id| self.get(*id)).collect()
    }

    /// [`Store::get_latest`] of each of `ids`, in order (a networked store reads them all
    /// at once): the dispatcher of a `[cluster]` node reads what it pulled.
    ///
    /// # Errors
    /// Read failure.
    fn get_latest_many(&self, ids: &[u64]) -> Result<Vec<Option<MessageRecord>>, StoreError> {
        ids.iter().map(|id| self.get_latest(*id)).collect()
    }

    /// Ids of the records whose write another node's write overtook since the last call
    /// (the clustered store writes conditionally and merges, docs/cluster.md): the
    /// caller's copies of them are stale, and a merged one may have every part final
    /// while the message is not yet. A store with one writer never merges.
    fn take_merged(&self) -> Vec<u64> {
        Vec::new()
    }

    /// The (message, part) a carrier's id belongs to.
    ///
    /// # Errors
    /// Read failure.
    fn by_carrier_id(
        &self,
        carrier: &str,
        carrier_id: &str,
    ) -> Result<Option<(u64, u16)>, StoreError>;

    /// Every message not final, oldest first (all of [`Store::pending_page`] at once; ids
    /// start at 1, so none is below the first page). For tools and tests: the gateway reads
    /// its backlog in pages.
    ///
    /// # Errors
    /// Read failure.
    fn pending(&self) -> Result<Vec<MessageRecord>, StoreError> {
        self.pending_page(0, usize::MAX)
    }

    /// Up to `limit` messages not final with ids above `after`, oldest first: the
    /// dispatcher reads its backlog in pages from here.
    ///
    /// # Errors
    /// Read failure.
    fn pending_page(&self, after: u64, limit: usize) -> Result<Vec<MessageRecord>, StoreError>;

    /// One page of the expiry scan by acceptance: pending messages with ids above
    /// `after` that may be due at `due.now`, up to `limit` looked at, and where the next
    /// page starts. With [`Store::own_expiries`] it finds every due message.
    ///
    /// This default reads every pending record and [`Store::own_expiries`]' default
    /// finds nothing. A store that keeps each pending message's acceptance time beside its
    /// pending entry (fjall) stops at the first message the store's validity does not
    /// make due (ids rise with acceptance), and finds the ones with their own, earlier
    /// expiry by time: the scan runs every minute over every message awaiting a
    /// receipt, millions with a carrier that sends none, and reading all their records
    /// took seconds of CPU and ~80 MB of memory a minute in long runs (issue #14).
    ///
    /// # Errors
    /// Read failure.
    fn expiry_page(
        &self,
        after: u64,
        limit: usize,
        due: ExpiryBound,
    ) -> Result<ExpiryPage, StoreError> {
        let _ = due;
        let records = self.pending_page(after, limit)?;
        let next = if records.len() < limit {
            None
        } else {
            records.last().map(|record| record.id)
        };
        Ok(ExpiryPage {
            candidates: records,
            next,
        })
    }

    /// Pending messages whose own `expires` passed since the last call (or in the
    /// store's validity before `due.now`, the first time), up to `limit` looked at;
    /// `next` is `Some` when there are more. The store remembers how far it got (a call
    /// again after a crash may hand some over twice). Only the scan calls it, one call
    /// at a time. The default finds nothing (its [`Store::expiry_page`] reads all).
    ///
    /// # Errors
    /// Read or write failure.
    fn own_expiries(&self, due: ExpiryBound, limit: usize) -> Result<ExpiryPage, StoreError> {
        let _ = (due, limit);
        Ok(ExpiryPage::default())
    }

    /// The messages this node owns grew by a dead node's (a `[cluster]` node took a slot
    /// over): what [`Store::pending_page`] kept of earlier listings is stale. Nothing to
    /// do for a store that reads ranges.
    fn owned_messages_changed(&self) {}

    /// The dispatch work queue, for a store shared by several nodes (`[cluster]`): the
    /// dispatcher then pulls from it instead of reading the pending set
    /// ([`WorkQueue`]). `None` (the default): one node, which reads its backlog itself.
    fn work_queue(&self) -> Option<Arc<dyn WorkQueue>> {
        None
    }

    /// Messages matching `filter`, newest first (`limit` 0: all of them). One
    /// [`Store::list_page`] without a bound on what it reads, unless a store orders its
    /// listing otherwise.
    ///
    /// # Errors
    /// Read failure.
    fn list(&self, filter: &ListFilter) -> Result<Vec<MessageRecord>, StoreError> {
        let all = ListFilter {
            limit: if filter.limit == 0 {
                usize::MAX
            } else {
                filter.limit
            },
            ..filter.clone()
        };
        Ok(self
            .list_page(&PageRead {
                filter: &all,
                before: None,
                max_scan: usize::MAX,
                keep: &|_| true,
            })?
            .records)
    }

    /// A page of messages ([`PageRead`], [`page_of`]): the HTTP API's listing, whose
    /// pages follow each other through [`ListPage::next`] and never read more than
    /// `max_scan` records each, however few match.
    ///
    /// # Errors
    /// Read failure.
    fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError>;

    /// Up to `limit` outbox items of `account`, oldest first.
    ///
    /// # Errors
    /// Read failure.
    fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;

    /// Up to `limit` outbox items of `account` with a seq above `after`, oldest first (the
    /// outbox reads on from the last seq it has seen).
    ///
    /// # Errors
    /// Read failure.
    fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// As [`Store::outbox_after`], for a reader other than the queue's own outbox task
    /// (housekeeping's retention, the kept MO parts at start): a store that keeps a read
    /// position per queue (JetStream keeps a consumer for the outbox task) leaves that one
    /// as it is. From the start (`after` 0) it is [`Store::outbox`], which starts past the
    /// acknowledged items (fjall: a range from seq 1 walked every acknowledged item's
    /// tombstone until compaction, once a minute per queue).
    ///
    /// # Errors
    /// Read failure.
    fn outbox_peek(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        if after == 0 {
            self.outbox(account, limit)
        } else {
            self.outbox_after(account, after, limit)
        }
    }

    /// Up to `limit` parked items of `account` (all accounts: `None`), by account, then
    /// oldest first.
    ///
    /// # Errors
    /// Read failure.
    fn parked(&self, account: Option<&str>, limit: usize) -> Result<Vec<ParkedItem>, StoreError>;

    /// Removes final messages (and their index entries) accepted before `before`;
    /// returns how many.
    ///
    /// # Errors
    /// Write failure.
    fn expire(&self, before: Millis) -> Result<usize, StoreError>;

    /// The delivery statistics of every key from hour `from_hour` (hours since the epoch)
    /// on, by hour. A store that keeps none answers none.
    ///
    /// # Errors
    /// Read failure.
    fn stats(&self, from_hour: u64) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        let _ = from_hour;
        Ok(Vec::new())
    }

    /// The delivery statistics from hour `from_hour` on, as few rows as the store can:
    /// each whole day it has rolled up ([`Store::roll_up_stats`]) as one entry per key
    /// whose `hour` is the day's first, the rest by hour. For every grouping but by hour.
    /// A partial first day whose hours were trimmed counts whole. The default reads by
    /// hour.
    ///
    /// # Errors
    /// Read failure.
    fn stats_coarse(&self, from_hour: u64) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        self.stats(from_hour)
    }

    /// Rolls the hour counters of every day (UTC, since the epoch) before `before_day`
    /// up into day rows, once; answers how many days had counters. A store without day
    /// rows answers 0.
    ///
    /// # Errors
    /// Read or write failure.
    fn roll_up_stats(&self, before_day: u64) -> Result<u64, StoreError> {
        let _ = before_day;
        Ok(0)
    }

    /// Removes hour counters before hour `hours_before` (those of days rolled up only)
    /// and day rows of days before `days_before`; answers how many rows went.
    ///
    /// # Errors
    /// Write failure.
    fn trim_stats(&self, hours_before: u64, days_before: u64) -> Result<usize, StoreError> {
        let _ = (hours_before, days_before);
        Ok(0)
    }

    /// Calls `visit` with each stored frequency-cap entry ([`Op::CapWindows`]), by
    /// account and number, until it returns `false`. A store that keeps none visits none.
    ///
    /// # Errors
    /// Read failure (corrupt entries included).
    fn cap_windows(&self, visit: &mut dyn FnMut(CapWindow) -> bool) -> Result<(), StoreError> {
        let _ = visit;
        Ok(())
    }

    /// The highest message id ever stored (ids continue above it after a restart).
    ///
    /// # Errors
    /// Read failure.
    fn max_id(&self) -> Result<u64, StoreError>;

    /// The suppression entry of (`scope`, `number`), if any.
    ///
    /// # Errors
    /// Read failure.
    fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError>;

    /// Calls `visit` with each suppression entry (of `scope` only, when given), each
    /// scope's entries together, until it returns `false`. Streams: nothing is collected
    /// here.
    ///
    /// # Errors
    /// Read failure (corrupt entries included).
    fn suppressions(
        &self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> bool,
    ) -> Result<(), StoreError>;
}
