//! Node liveness on a `[cluster]`, and taking a dead node's backlog over
//! (docs/cluster.md "Node liveness and takeover", ADR 0008 addendum).
//!
//! - **Heartbeats.** Each node puts its name into the KV bucket `<prefix>_live` every
//!   `heartbeat`; the bucket's max age is `node_ttl`, so a dead node's entry goes by itself.
//! - **The live set.** Each node watches that bucket and counts a node live while it saw a
//!   heartbeat of it (by its own clock: no clocks are compared across machines) within
//!   `node_ttl`. [`Membership`] publishes the sorted live names: the gateway splits each
//!   carrier's TPS by it (`carrier::Share`).
//! - **Takeover.** A node's message ids, and so its pending messages, belong to its slot
//!   in `<prefix>_nodes` (`slot.<n>` → owner). When a slot's owner has been dead for
//!   `node_ttl`, a live node rewrites the slot to `"<itself> (taken from <owner>)"` with a
//!   compare-and-set on the revision it read: one survivor wins, and from its next listing
//!   on it reads that slot's pending messages as its own (the store's pending listing
//!   takes every slot whose owner is the node, [`owned_slots`]). Parts whose carrier
//!   answer the dead node had not committed are sent again (at-least-once).
//! - **The dead node comes back** under its name: its slot is no longer its (the value is
//!   not its bare name), so it claims a fresh slot and a fresh id range; the survivor keeps
//!   sending the old range. Nothing is sent by both.
//! - **A node that was only slow** (no heartbeat for `node_ttl`, but running) finds its
//!   slot taken: it is *fenced* ([`Membership::fenced`]): its store listing already leaves
//!   the slot out, and `serve` exits so that it starts again on a fresh slot instead of
//!   sending, from memory, messages that the survivor now sends.
//!
//! A node does not take anything over before it has watched for `node_ttl` (a node that
//! is just starting may not have heartbeated yet) nor while its own heartbeat is not seen
//! (its connection to NATS may be the broken thing).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, Operation};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use super::names::{Bucket, Names};
use crate::config::ClusterConfig;
use crate::store::StoreError;

/// The live nodes as one node sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// This node's name.
    pub me: String,
    /// The live nodes' names, sorted, this node included.
    pub live: Vec<String>,
    /// The slots this node took over from dead nodes since it started, in that order:
    /// each time one is added, this node counts its pending messages into its backlog and
    /// the dispatcher reads the backlog again (the slot's messages are in it now).
    pub taken: Vec<u64>,
    /// The dead nodes whose slots this node took over, each once: the early receipts
    /// they held are this node's to match now (`gateway::membership`).
    pub adopted: Vec<String>,
    /// Another node took this node's slot (it counted this node as dead): this node must
    /// stop sending and start again (docs/cluster.md).
    pub fenced: bool,
    /// The carriers each live node has a bind up to, as its last heartbeat said: each
    /// carrier's contract is split among the nodes bound to it.
    pub bound: std::collections::BTreeMap<String, Vec<String>>,
}

impl Membership {
    /// This node alone (before the first look at the bucket).
    #[must_use]
    pub fn alone(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            live: vec![me.to_owned()],
            taken: Vec::new(),
            adopted: Vec::new(),
            fenced: false,
            bound: std::collections::BTreeMap::new(),
        }
    }

    /// The node slot message `id` was given by.
    #[must_use]
    pub const fn slot_of(id: u64) -> u64 {
        id >> super::backend::SLOT_SHIFT
    }

    /// The message ids of node slot `slot` (a slot in [`Membership::taken`]). The last
    /// slot's range ends at `u64::MAX` (it does not wrap to 0); a number past the last
    /// slot (a corrupt `slot.<n>` key) has none.
    #[must_use]
    pub fn slot_ids(slot: u64) -> std::ops::Range<u64> {
        let size = 1u64 << super::backend::SLOT_SHIFT;
        let start = slot.saturating_mul(size);
        start..start.saturating_add(size)
    }

    /// This node's place among the live nodes (sorted by name, from 0) and their count:
    /// every node computes the same split of a carrier's TPS from the same set.
    #[must_use]
    pub fn place(&self) -> (usize, usize) {
        let index = self
            .live
            .iter()
            .position(|name| *name == self.me)
            .unwrap_or(0);
        (index, self.live.len().max(1))
    }

    /// Whether this node is the first live one by name (and not fenced): it does the
    /// sweeps of what all nodes share (the outbox items past the retention), so that each
    /// is done, and counted, once. Alone before the first look, a node is first.
    #[must_use]
    pub fn first(&self) -> bool {
        !self.fenced && self.live.first() == Some(&self.me)
    }

    /// This node's place among the live nodes bound to `carrier` (sorted by name, from 0)
    /// and their count; `None` when this node has no bind up to it (its binds are still
    /// opening, or the carrier refuses them): it then sends nothing there, and the nodes
    /// that can share the whole contract.
    #[must_use]
    pub fn tps_place(&self, carrier: &str) -> Option<(usize, usize)> {
        let bound: Vec<&String> = self
            .live
            .iter()
            .filter(|node| {
                self.bound
                    .get(*node)
                    .is_some_and(|carriers| carriers.iter().any(|c| c == carrier))
            })
            .collect();
        let index = bound.iter().position(|node| **node == self.me)?;
        Some((index, bound.len()))
    }
}

/// The owner named by a slot's value: `gw-1`, or `gw-2 (taken from gw-1)`.
pub(super) fn slot_owner(value: &[u8]) -> &[u8] {
    value
        .iter()
        .position(|&b| b == b' ')
        .map_or(value, |end| &value[..end])
}

/// The value of a slot that `me` took over from `from`.
fn taken_value(me: &str, from: &[u8]) -> Bytes {
    Bytes::from(format!(
        "{me} (taken from {})",
        String::from_utf8_lossy(from)
    ))
}

/// The slot number of a `slot.<n>` key.
fn slot_number(key: &str) -> Option<u64> {
    key.strip_prefix("slot.")?.parse().ok()
}

/// One slot as read, with its revision (for the compare-and-set).
#[derive(Debug, Clone)]
struct Slot {
    key: String,
    owner: String,
    /// The value is the owner's bare name: its own id range (not one it took over).
    own: bool,
    revision: u64,
}

/// Longest one look at the node slots may take before the look goes on without it.
const LOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// Every `slot.<n>` of the nodes bucket.
async fn read_slots(nodes: &kv::Store) -> Result<Vec<Slot>, StoreError> {
    let keys: Vec<String> = nodes
        .keys()
        .await
        .map_err(|e| StoreError::new(format!("listing node slots: {e}")))?
        .filter_map(|key| async move { key.ok().filter(|k| slot_number(k).is_some()) })
        .collect()
        .await;
    let mut slots = Vec::with_capacity(keys.len());
    for key in keys {
        let entry = nodes
            .entry(key.clone())
            .await
            .map_err(|e| StoreError::new(format!("reading node slot {key}: {e}")))?;
        if let Some(entry) = entry.filter(|e| e.operation == Operation::Put) {
            slots.push(Slot {
                owner: String::from_utf8_lossy(slot_owner(&entry.value)).into_owned(),
                own: slot_owner(&entry.value) == &entry.value[..],
                key,
                revision: entry.revision,
            });
        }
    }
    Ok(slots)
}

/// The slots whose pending messages node `me` sends: its own and those it took over.
pub(super) async fn owned_slots(nodes: &kv::Store, me: &str) -> Result<Vec<u64>, StoreError> {
    Ok(read_slots(nodes)
        .await?
        .iter()
        .filter(|slot| slot.owner == me)
        .filter_map(|slot| slot_number(&slot.key))
        .collect())
}

/// Who is live, from the heartbeats seen (sans-IO: times are passed in).
#[derive(Debug)]
struct Tracker {
    me: String,
    ttl: Duration,
    /// When this node started watching.
    started: Instant,
    /// Each node's last heartbeat seen here; entries older than `ttl` are dropped.
    seen: HashMap<String, Instant>,
    /// What each node's last heartbeat said: the carriers it has a bind up to.
    bound: HashMap<String, Vec<String>>,
}

impl Tracker {
    fn new(me: &str, ttl: Duration, now: Instant) -> Self {
        Self {
            me: me.to_owned(),
            ttl,
            started: now,
            seen: HashMap::new(),
            bound: HashMap::new(),
        }
    }

    fn saw(&mut self, node: &str, now: Instant) {
        self.seen.insert(node.to_owned(), now);
    }

    /// A heartbeat of `node` with its value (the carriers it is bound to, one per line).
    fn heard(&mut self, node: &str, value: &[u8], now: Instant) {
        self.saw(node, now);
        let carriers = String::from_utf8_lossy(value)
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        self.bound.insert(node.to_owned(), carriers);
    }

    fn gone(&mut self, node: &str) {
        self.seen.remove(node);
        self.bound.remove(node);
    }

    /// The carriers each of `live` last said it is bound to.
    fn bound_of(&self, live: &[String]) -> std::collections::BTreeMap<String, Vec<String>> {
        live.iter()
            .filter_map(|node| Some((node.clone(), self.bound.get(node)?.clone())))
            .collect()
    }

    fn alive(&self, node: &str, now: Instant) -> bool {
        self.seen
            .get(node)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.ttl)
    }

    /// The live nodes, sorted, this one included (it runs: it sends its share whatever
    /// its heartbeat does); forgets the dead.
    fn live(&mut self, now: Instant) -> Vec<String> {
        let ttl = self.ttl;
        self.seen
            .retain(|_, at| now.saturating_duration_since(*at) < ttl);
        let seen = &self.seen;
        self.bound.retain(|node, _| seen.contains_key(node));
        let mut live: Vec<String> = self.seen.keys().cloned().collect();
        if !self.seen.contains_key(&self.me) {
            live.push(self.me.clone());
        }
        live.sort_unstable();
        live
    }

    /// Whether this node may take slots over: it watched for a whole `ttl` (every live
    /// node heartbeated meanwhile) and its own heartbeat comes through.
    fn may_take_over(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= self.ttl && self.alive(&self.me, now)
    }

    /// Whether `owner`'s slot is to be taken over (by someone: the compare-and-set says
    /// who).
    fn is_dead(&self, owner: &str, now: Instant) -> bool {
        owner != self.me && !self.alive(owner, now)
    }
}

/// The carriers this node has a bind up to now (its heartbeat tells the other nodes).
pub type Bound = std::sync::Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// The liveness bucket's name.
fn live_bucket(prefix: &str) -> String {
    format!("{prefix}_live")
}

/// Heartbeats this node, follows the others and takes dead nodes' slots over, publishing
/// the [`Membership`] on `membership` whenever it changes. Runs until the process ends;
/// a broken watch is opened again (its current entries replayed).
///
/// # Errors
/// The first connection, bucket or watch fails.
pub async fn follow_liveness(
    config: ClusterConfig,
    membership: watch::Sender<Membership>,
    bound: Bound,
) -> Result<(), StoreError> {
    let names = Names {
        prefix: config.prefix.clone(),
        node: config.node.clone(),
    };
    let bucket = live_bucket(&config.prefix);
    // A bucket made by another node keeps its `node_ttl`: each node still expires by its own.
    let (js, live) = super::side_bucket(&config, "liveness", &bucket, config.node_ttl).await?;
    let nodes_bucket = names.bucket(Bucket::Nodes);
    let nodes = js
        .get_key_value(&nodes_bucket)
        .await
        .map_err(|e| StoreError::new(format!("node bucket {nodes_bucket}: {e}")))?;
    let mut watch = live
        .watch_with_history(">")
        .await
        .map_err(|e| StoreError::new(format!("watching {bucket}: {e}")))?;
    let heartbeat = Heartbeat::start(live.clone(), &config, bound);

    let me = config.node.clone();
    let mut tracker = Tracker::new(&me, config.node_ttl, Instant::now());
    let mut state = Membership::alone(&me);
    // The slots this node owned at its last look: one gone to another node = fenced.
    let mut owned: HashSet<String> = HashSet::new();
    // The first look comes after this node's own first heartbeat is read back: the
    // history (the nodes already live) comes before it in the watch, so the first
    // membership published already counts them (the pool opens its binds on it).
    let history = async {
        // An old heartbeat of this node (a restart within `node_ttl`) may come early in
        // the history: the look waits until the history is read (`delta` 0) too.
        let mut saw_me = false;
        while let Some(Ok(entry)) = watch.next().await {
            match entry.operation {
                Operation::Put => tracker.heard(&entry.key, &entry.value, Instant::now()),
                Operation::Delete | Operation::Purge => tracker.gone(&entry.key),
            }
            saw_me |= entry.key == me;
            if saw_me && entry.delta == 0 {
                break;
            }
        }
    };
    if tokio::time::timeout(config.node_ttl, history)
        .await
        .is_err()
    {
        tracing::warn!(
            "own heartbeat not read back within node_ttl: the first look may miss live nodes"
        );
    }
    let mut first = true;
    let mut check = tokio::time::interval(config.heartbeat.min(Duration::from_secs(1)));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(%bucket, heartbeat = ?config.heartbeat, node_ttl = ?config.node_ttl, "following node liveness");
    loop {
        tokio::select! {
            entry = watch.next() => match entry {
                Some(Ok(entry)) => match entry.operation {
                    Operation::Put => tracker.heard(&entry.key, &entry.value, Instant::now()),
                    Operation::Delete | Operation::Purge => tracker.gone(&entry.key),
                },
                Some(Err(error)) => {
                    tracing::warn!(%error, "liveness watch broken (reopened)");
                    watch = reopen(&live).await;
                }
                None => {
                    tracing::warn!("liveness watch ended (reopened)");
                    watch = reopen(&live).await;
                }
            },
            _ = check.tick() => {
                let now = Instant::now();
                let mut next = state.clone();
                next.live = tracker.live(now);
                next.bound = tracker.bound_of(&next.live);
                // Bounded: a slot listing that hangs must not hold the look (the first
                // one opens the carrier binds) nor the next ones.
                match tokio::time::timeout(LOOK_TIMEOUT, look_at_slots(&nodes, &tracker, &mut owned, now)).await {
                    Ok(Ok(SlotsSeen { taken, fenced, from })) => {
                        next.taken.extend(taken);
                        next.fenced |= fenced;
                        for owner in from {
                            if !next.adopted.contains(&owner) {
                                next.adopted.push(owner);
                            }
                        }
                    }
                    Ok(Err(error)) => tracing::warn!(%error, "node slots not read (tried again)"),
                    Err(_) => tracing::warn!(timeout = ?LOOK_TIMEOUT, "node slots not read in time (tried again)"),
                }
                // The first look is published even when it is "alone": the gateway waits
                // for it before opening carrier binds.
                if next != state || std::mem::take(&mut first) {
                    if next.live != state.live {
                        tracing::info!(live = ?next.live, "live nodes changed");
                    }
                    state = next;
                    membership.send_replace(state.clone());
                }
                if state.fenced {
                    // Nothing more to do here: `serve` stops.
                    heartbeat.abort();
                    return Ok(());
                }
            }
        }
    }
}

/// What one look at the slots did.
struct SlotsSeen {
    /// The numbers of the slots taken over.
    taken: Vec<u64>,
    /// One of this node's slots is another's now.
    fenced: bool,
    /// The owners of the slots taken over.
    from: Vec<String>,
}

/// Takes over the slots of dead owners (when this node may), and notices a slot of its
/// own taken by another.
async fn look_at_slots(
    nodes: &kv::Store,
    tracker: &Tracker,
    owned: &mut HashSet<String>,
    now: Instant,
) -> Result<SlotsSeen, StoreError> {
    let slots = read_slots(nodes).await?;
    let me = tracker.me.as_str();
    let mut seen = SlotsSeen {
        taken: Vec::new(),
        fenced: false,
        from: Vec::new(),
    };
    // The store claimed a slot under this node's bare name before liveness started: none
    // now means another node took it over in between (this node restarted just after it
    // was counted dead).
    if !slots.iter().any(|slot| slot.own && slot.owner == me) {
        tracing::error!(
            "this node's own slot was taken over (the others saw no heartbeat for node_ttl): \
             it stops sending; start it again"
        );
        seen.fenced = true;
    }
    for slot in &slots {
        if owned.contains(&slot.key) && slot.owner != me {
            tracing::error!(
                slot = %slot.key,
                owner = %slot.owner,
                "this node's slot was taken over (the others saw no heartbeat for node_ttl): \
                 it stops sending; start it again"
            );
            seen.fenced = true;
        }
    }
    owned.clear();
    owned.extend(
        slots
            .iter()
            .filter(|slot| slot.owner == me)
            .map(|slot| slot.key.clone()),
    );
    if seen.fenced || !tracker.may_take_over(now) {
        return Ok(seen);
    }
    for slot in slots
        .iter()
        .filter(|slot| tracker.is_dead(&slot.owner, now))
    {
        match nodes
            .update(
                &slot.key,
                taken_value(me, slot.owner.as_bytes()),
                slot.revision,
            )
            .await
        {
            Ok(_) => {
                tracing::warn!(
                    slot = %slot.key,
                    dead = %slot.owner,
                    "took over a dead node's slot: its pending messages are sent from here"
                );
                owned.insert(slot.key.clone());
                seen.taken.extend(slot_number(&slot.key));
                seen.from.push(slot.owner.clone());
            }
            // Another survivor was first (or the owner came back and rewrote it).
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                tracing::debug!(slot = %slot.key, "slot taken over by another node");
            }
            Err(error) => {
                tracing::warn!(slot = %slot.key, %error, "taking a slot over failed (tried again)");
            }
        }
    }
    Ok(seen)
}

/// A watch on the liveness bucket again, after a second, with its current entries.
async fn reopen(live: &kv::Store) -> kv::Watch {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match live.watch_with_history(">").await {
            Ok(watch) => return watch,
            Err(error) => tracing::warn!(%error, "liveness watch: reopening failed"),
        }
    }
}

/// The heartbeat task (aborted on drop).
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn start(live: kv::Store, config: &ClusterConfig, bound: Bound) -> Self {
        let (node, every) = (config.node.clone(), config.heartbeat);
        Self(tokio::spawn(async move {
            let mut beat = tokio::time::interval(every);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                beat.tick().await;
                // The put is the heartbeat; its value the carriers this node is bound to.
                let value = Bytes::from(bound().join("\n"));
                match tokio::time::timeout(every, live.put(&node, value)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "heartbeat not written"),
                    Err(_) => tracing::warn!("heartbeat not written within {every:?}"),
                }
            }
        }))
    }

    fn abort(&self) {
        self.0.abort();
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(6);

    #[test]
    fn a_node_is_live_until_ttl_after_its_last_heartbeat() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new("gw-2", TTL, t0);
        // Before any heartbeat: this node alone (it runs).
        assert_eq!(tracker.live(t0), ["gw-2"]);
        tracker.saw("gw-1", t0);
        tracker.saw("gw-2", t0);
        tracker.saw("gw-3", t0 + Duration::from_secs(2));
        assert_eq!(
            tracker.live(t0 + Duration::from_secs(5)),
            ["gw-1", "gw-2", "gw-3"]
        );
        // gw-1 and gw-2's heartbeats are 6 s old: gw-1 is dead, gw-2 (this node) is not
        // left out of its own split.
        assert_eq!(tracker.live(t0 + TTL), ["gw-2", "gw-3"]);
        tracker.gone("gw-3");
        assert_eq!(tracker.live(t0 + TTL), ["gw-2"]);
    }

    #[test]
    fn takeover_waits_for_a_whole_ttl_of_watching_and_an_own_heartbeat() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new("gw-2", TTL, t0);
        tracker.saw("gw-2", t0);
        // gw-1 has not heartbeated, but this node only just started watching.
        assert!(!tracker.may_take_over(t0 + Duration::from_secs(5)));
        assert!(tracker.is_dead("gw-1", t0 + Duration::from_secs(5)));
        // Its own heartbeat is older than the TTL: its connection may be what is broken.
        assert!(!tracker.may_take_over(t0 + TTL));
        tracker.saw("gw-2", t0 + Duration::from_secs(5));
        assert!(tracker.may_take_over(t0 + TTL));
        // A live owner, and this node itself, are never taken over.
        tracker.saw("gw-1", t0 + Duration::from_secs(4));
        assert!(!tracker.is_dead("gw-1", t0 + TTL));
        assert!(tracker.is_dead("gw-1", t0 + Duration::from_secs(10)));
        assert!(!tracker.is_dead("gw-2", t0 + Duration::from_secs(60)));
    }

    #[test]
    fn slot_values_name_their_owner() {
        assert_eq!(slot_owner(b"gw-1"), b"gw-1");
        let taken = taken_value("gw-2", b"gw-1");
        assert_eq!(&taken[..], b"gw-2 (taken from gw-1)");
        assert_eq!(slot_owner(&taken), b"gw-2");
        assert_eq!(slot_number("slot.12"), Some(12));
        assert_eq!(slot_number("max.gw-1"), None);
    }

    #[test]
    fn slot_ranges_follow_each_other_and_never_wrap() {
        assert_eq!(Membership::slot_ids(1), 1 << 56..2 << 56);
        assert_eq!(Membership::slot_ids(2).start, Membership::slot_ids(1).end);
        assert_eq!(Membership::slot_ids(255), 255 << 56..u64::MAX);
        assert!(Membership::slot_ids(256).is_empty());
        assert!(Membership::slot_ids(u64::MAX).is_empty());
    }

    #[test]
    fn the_split_place_is_the_sorted_index() {
        let membership = Membership {
            me: "gw-2".into(),
            live: vec!["gw-1".into(), "gw-2".into(), "gw-3".into()],
            taken: Vec::new(),
            adopted: Vec::new(),
            fenced: false,
            bound: std::collections::BTreeMap::new(),
        };
        assert_eq!(membership.place(), (1, 3));
        assert_eq!(Membership::alone("gw-9").place(), (0, 1));
        assert!(!membership.first());
        let first = Membership {
            me: "gw-1".into(),
            ..membership.clone()
        };
        assert!(first.first());
        assert!(
            !Membership {
                fenced: true,
                ..first
            }
            .first()
        );
        // Not among the live ones (its own heartbeat not seen yet): not first.
        assert!(
            !Membership {
                me: "gw-0".into(),
                ..membership
            }
            .first()
        );
        assert!(Membership::alone("gw-9").first());
    }

    /// Two nodes on one server: each sees both; one stops heartbeating, the other counts
    /// it dead within `node_ttl`, takes its slot over (its pending message is listed by
    /// the survivor from then on), and the dead node, back under its name, gets a fresh
    /// slot. A node whose slot is taken while it runs is fenced.
    #[test]
    fn a_dead_nodes_slot_is_taken_over_once_and_it_comes_back_on_a_fresh_one() {
        use crate::store::tests::message;
        use crate::store::{Op, Store};
        use std::sync::Arc;

        let Some(server) = super::super::tests::Server::start("js-live") else {
            return;
        };
        let config = |node: &str| ClusterConfig {
            heartbeat: Duration::from_millis(200),
            node_ttl: Duration::from_millis(800),
            ..server.config(node)
        };
        let (one, two) = (server.open("gw-1"), server.open("gw-2"));
        let first = one.max_id().unwrap() + 1;
        assert_eq!(first >> 56, 1, "gw-1 has slot 1");
        one.commit(&[Op::Insert(Arc::new(message(first, "acme", 1)))])
            .unwrap();
        assert!(
            two.pending().unwrap().is_empty(),
            "gw-1's message is not gw-2's"
        );

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx_one, mut rx_one) = watch::channel(Membership::alone("gw-1"));
        let (tx_two, mut rx_two) = watch::channel(Membership::alone("gw-2"));
        // gw-1 has a bind up to carrier `c`, gw-2 to `d` and, later, to `c` too.
        let two_bound_c = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let bound_two: Bound = {
            let two_bound_c = Arc::clone(&two_bound_c);
            Arc::new(move || {
                let mut carriers = vec!["d".to_owned()];
                if two_bound_c.load(std::sync::atomic::Ordering::Relaxed) {
                    carriers.push("c".to_owned());
                }
                carriers
            })
        };
        let node_one = runtime.spawn(follow_liveness(
            config("gw-1"),
            tx_one,
            Arc::new(|| vec!["c".to_owned()]),
        ));
        runtime.spawn(follow_liveness(config("gw-2"), tx_two, bound_two));
        let wait =
            |rx: &mut watch::Receiver<Membership>, what: &str, f: &dyn Fn(&Membership) -> bool| {
                runtime.block_on(async {
                    let seen = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|m| f(m)))
                        .await
                        .map(|m| m.map(|m| m.clone()));
                    match seen {
                        Ok(Ok(membership)) => membership,
                        _ => panic!("{what}: {:?}", *rx.borrow()),
                    }
                })
            };
        let both = wait(&mut rx_two, "gw-2 sees both", &|m| {
            m.live.len() == 2 && m.bound.len() == 2
        });
        assert_eq!(both.live, ["gw-1", "gw-2"]);
        assert_eq!(both.place(), (1, 2));
        assert!(rx_one.borrow().taken.is_empty());
        // Each carrier's contract goes to the nodes bound to it: `c` all to gw-1, `d` all
        // to gw-2, until gw-2's bind to `c` is up too (its next heartbeat says so).
        assert_eq!(both.tps_place("c"), None, "gw-2 has no bind to c");
        assert_eq!(both.tps_place("d"), Some((0, 1)));
        let one_sees = wait(&mut rx_one, "gw-1 hears its own heartbeat", &|m| {
            m.tps_place("c").is_some()
        });
        assert_eq!(one_sees.tps_place("c"), Some((0, 1)));
        two_bound_c.store(true, std::sync::atomic::Ordering::Relaxed);
        let shared = wait(&mut rx_two, "gw-2's bind to c heard", &|m| {
            m.tps_place("c").is_some()
        });
        assert_eq!(shared.tps_place("c"), Some((1, 2)));

        // gw-1 dies (its heartbeats stop).
        node_one.abort();
        let died = Instant::now();
        let after = wait(&mut rx_two, "gw-2 takes gw-1 over", &|m| {
            !m.taken.is_empty()
        });
        assert_eq!(after.live, ["gw-2"]);
        assert_eq!(after.taken, [1], "gw-1's slot, once");
        assert_eq!(
            after.adopted,
            ["gw-1"],
            "whose early receipts gw-2 now matches"
        );
        assert!(
            died.elapsed() < Duration::from_secs(5),
            "{:?}",
            died.elapsed()
        );
        let listed: Vec<u64> = two.pending().unwrap().iter().map(|r| r.id).collect();
        assert_eq!(
            listed,
            [first],
            "the survivor lists the dead node's backlog"
        );
        assert!(
            one.pending().unwrap().is_empty(),
            "the old gw-1 store lists nothing of it"
        );

        // gw-1 comes back under its name: a fresh slot, ids from its start.
        drop(one);
        let back = server.open("gw-1");
        let next = back.max_id().unwrap() + 1;
        assert_eq!(next, (3 << 56) + 1, "gw-1 is back on slot 3");
        assert!(back.pending().unwrap().is_empty());
        assert_eq!(two.pending().unwrap().len(), 1);

        // A node that runs while another takes its slot: fenced.
        let (tx_back, mut rx_back) = watch::channel(Membership::alone("gw-1"));
        runtime.spawn(follow_liveness(config("gw-1"), tx_back, Arc::new(Vec::new)));
        wait(&mut rx_back, "gw-1 sees both again", &|m| m.live.len() == 2);
        runtime.block_on(async {
            let js = async_nats::jetstream::new(
                async_nats::connect(server.config("x").nats[0].as_str())
                    .await
                    .unwrap(),
            );
            let nodes = js.get_key_value("smppgate_nodes").await.unwrap();
            nodes
                .put("slot.3", Bytes::from_static(b"gw-2 (taken from gw-1)"))
                .await
                .unwrap();
        });
        wait(&mut rx_back, "gw-1 fenced", &|m| m.fenced);

        // A node whose slot is taken after its store claimed it and before its liveness
        // started (it came back just as it was counted dead): fenced at the first look.
        let late = server.open("gw-4");
        assert_eq!((late.max_id().unwrap() + 1) >> 56, 4);
        runtime.block_on(async {
            let js = async_nats::jetstream::new(
                async_nats::connect(server.config("x").nats[0].as_str())
                    .await
                    .unwrap(),
            );
            let nodes = js.get_key_value("smppgate_nodes").await.unwrap();
            nodes
                .put("slot.4", Bytes::from_static(b"gw-2 (taken from gw-4)"))
                .await
                .unwrap();
        });
        let (tx_late, mut rx_late) = watch::channel(Membership::alone("gw-4"));
        runtime.spawn(follow_liveness(config("gw-4"), tx_late, Arc::new(Vec::new)));
        wait(&mut rx_late, "gw-4 fenced at once", &|m| m.fenced);
    }
}
