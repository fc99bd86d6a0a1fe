//! [`GroupCommit`]: many connections' writes in one commit + fsync.
//!
//! A dedicated thread takes the first waiting request, then every request already queued
//! (up to `max_batch` ops), commits them as one batch and answers each caller. There is no
//! timer: while one fsync runs the next requests queue up, so the batch grows with the
//! load by itself and a lone request is committed at once.
//!
//! The queue is bounded (`max_batch` requests). When it is full, [`GroupCommit::commit`]
//! and [`GroupCommit::commit_nowait`] wait for room: the store's speed is the gateway's
//! speed, and memory does not grow.
//!
//! Two lanes share the thread and its fsync. The *intake* lane ([`GroupCommit::commit`])
//! carries writes a client is waiting on (a submit_sm_resp is held until its message is
//! durable, OTPs among them); the *bulk* lane ([`GroupCommit::commit_bulk`]) carries the
//! receipt writer's outcomes, the outbox's acknowledgements and the like, which nobody
//! upstream waits on. Each commit takes the intake lane's requests first and fills up to
//! `max_batch` ops from the bulk lane, so an intake write never queues behind bulk
//! requests (issue #15 §4: an OTP's commit waited behind the writer's carrier outcomes);
//! it waits at most for the one commit already under way, and the bulk writes still ride
//! the same fsync. A commit that carries intake requests takes bulk ops only up to
//! [`BULK_BESIDE_INTAKE`] beyond them (at least one bulk request), so the commit a client
//! waits on is not lengthened by a backlog of outcomes; a commit without intake requests
//! takes up to `max_batch`. Each lane is bounded by itself (`max_batch` requests).

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};

use super::{Op, Store, StoreError};

type Reply = oneshot::Sender<Result<(), Refused>>;

/// A failed commit's answer: the error, and the ops of the request when its caller asked
/// for them back ([`GroupCommit::commit_bulk_or_back`]) to try again without a copy.
struct Refused {
    error: StoreError,
    ops: Vec<Op>,
}

/// Bulk ops a commit carrying intake requests takes beyond them (issue #15 §4: each op
/// lengthens the write an OTP's submit_sm_resp waits for); the rest go in the next one.
const BULK_BESIDE_INTAKE: usize = 256;

struct Request {
    ops: Vec<Op>,
    reply: Option<Reply>,
    /// Whether a failed commit hands `ops` back (else they are dropped with it).
    wants_back: bool,
}

/// Counters and histograms of the commits so far.
#[derive(Debug, Clone)]
pub struct GroupCommitStats {
    /// Commits attempted.
    pub commits: u64,
    /// Commits that failed.
    pub failed_commits: u64,
    /// Ops committed (failed ones not counted).
    pub ops: u64,
    /// Requests (callers) answered.
    pub requests: u64,
    /// Ops per commit.
    pub batch_size: Histogram<u64>,
    /// Requests (callers) per commit.
    pub batch_requests: Histogram<u64>,
    /// Commit duration, microseconds.
    pub commit_micros: Histogram<u64>,
}

impl GroupCommitStats {
    fn new() -> Self {
        // Explicit bounds: values above are clamped by `saturating_record`.
        let histogram = || {
            Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid bounds"))
        };
        Self {
            commits: 0,
            failed_commits: 0,
            ops: 0,
            requests: 0,
            batch_size: histogram(),
            batch_requests: histogram(),
            commit_micros: histogram(),
        }
    }
}

/// Group commit in front of a [`Store`].
#[derive(Debug)]
pub struct GroupCommit {
    sender: mpsc::Sender<Request>,
    bulk: mpsc::Sender<Request>,
    stats: Arc<Mutex<GroupCommitStats>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Ops handed to the commit thread ([`GroupCommit::submit`]): their commit's outcome.
pub struct Submitted(oneshot::Receiver<Result<(), Refused>>);

impl std::fmt::Debug for Submitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitted").finish_non_exhaustive()
    }
}

impl Submitted {
    /// Resolves once the ops are durable. Cancel-safe: a wait dropped half way can be
    /// taken up again.
    ///
    /// # Errors
    /// As [`GroupCommit::commit`].
    pub async fn wait(&mut self) -> Result<(), StoreError> {
        (&mut self.0)
            .await
            .map_err(|_| stopped())?
            .map_err(|r| r.error)
    }
}

impl GroupCommit {
    /// Starts the commit thread; at most `max_batch` ops go into one commit (a single
    /// larger request is committed alone, whole) and at most `max_batch` requests wait.
    ///
    /// # Panics
    /// When the thread cannot be spawned.
    #[must_use]
    pub fn start(store: Arc<dyn Store>, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let (sender, receiver) = mpsc::channel(max_batch);
        let (bulk, bulk_receiver) = mpsc::channel(max_batch);
        let stats = Arc::new(Mutex::new(GroupCommitStats::new()));
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("store-commit".to_owned())
            .spawn(move || {
                let lanes = Lanes {
                    intake: receiver,
                    bulk: bulk_receiver,
                };
                run(&*store, lanes, max_batch, &thread_stats);
            })
            .unwrap_or_else(|e| panic!("cannot spawn the store commit thread: {e}"));
        Self {
            sender,
            bulk,
            stats,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Commits `ops` (atomically, together with other callers' ops) and resolves once
    /// they are durable.
    ///
    /// # Errors
    /// The batch's commit failed (nothing of it is applied; the next batch tries again),
    /// or the commit thread has stopped.
    pub async fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.submit(ops).await?.wait().await
    }

    /// [`GroupCommit::commit`] in two steps: hands `ops` to the commit thread (waiting
    /// only for room in its queue), and the commit's outcome to wait for. Once handed
    /// over they are committed (or fail) whether or not anyone waits: a caller that may
    /// be cancelled keeps the [`Submitted`] to learn the outcome all the same.
    ///
    /// # Errors
    /// The commit thread has stopped.
    pub async fn submit(&self, ops: Vec<Op>) -> Result<Submitted, StoreError> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send(Request {
                ops,
                reply: Some(reply),
                wants_back: false,
            })
            .await
            .map_err(|_| stopped())?;
        Ok(Submitted(done))
    }

    /// Like [`GroupCommit::commit`] on the bulk lane: for writes no client is waiting on
    /// (carrier outcomes, receipts, outbox acknowledgements). A commit takes the intake
    /// lane's requests before these, and fills the rest of its batch with them.
    ///
    /// # Errors
    /// As [`GroupCommit::commit`].
    pub async fn commit_bulk(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.bulk
            .send(Request {
                ops,
                reply: Some(reply),
                wants_back: false,
            })
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?.map_err(|r| r.error)
    }

    /// Like [`GroupCommit::commit_bulk`], giving `ops` back when the commit fails, so a
    /// caller that tries again needs no copy of every batch for the rare failure.
    ///
    /// # Errors
    /// As [`GroupCommit::commit`], with `ops` (empty when the commit thread has stopped
    /// with them).
    pub async fn commit_bulk_or_back(&self, ops: Vec<Op>) -> Result<(), (StoreError, Vec<Op>)> {
        let (reply, done) = oneshot::channel();
        if let Err(refused) = self
            .bulk
            .send(Request {
                ops,
                reply: Some(reply),
                wants_back: true,
            })
            .await
        {
            return Err((stopped(), refused.0.ops));
        }
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Refused { error, ops })) => Err((error, ops)),
            Err(_) => Err((stopped(), Vec::new())),
        }
    }

    /// [`GroupCommit::commit_bulk_or_back`], tried again after a failure with the ops it
    /// hands back, `tries` times in all (50 ms between, doubling): a store error, maybe
    /// another caller's in the same group commit, does not lose a batch of outcomes or
    /// acknowledgements at once. Ops that went with a stopped commit thread are not
    /// tried again (an empty commit would pass for theirs).
    ///
    /// # Errors
    /// The last try's.
    pub async fn commit_bulk_retrying(&self, ops: Vec<Op>, tries: u32) -> Result<(), StoreError> {
        let mut delay = Duration::from_millis(50);
        let mut result = self.commit_bulk_or_back(ops).await;
        for _ in 1..tries {
            match result {
                Err((_, back)) if !back.is_empty() => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    result = self.commit_bulk_or_back(back).await;
                }
                _ => break,
            }
        }
        result.map_err(|(error, _)| error)
    }

    /// Queues `ops` on the bulk lane without waiting for the commit (state updates that a
    /// crash may lose and that are then redone). Waits only while the queue is full. An
    /// `async fn`, not a blocking one: blocking there would stall a runtime thread and
    /// every connection on it.
    ///
    /// # Errors
    /// The commit thread has stopped.
    pub async fn commit_nowait(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.bulk
            .send(Request {
                ops,
                reply: None,
                wants_back: false,
            })
            .await
            .map_err(|_| stopped())
    }

    /// Like [`GroupCommit::commit_nowait`] for code that cannot wait: gives `ops` back
    /// when the queue is full.
    ///
    /// # Errors
    /// The queue is full or the commit thread has stopped; `ops` come back.
    pub fn try_commit_nowait(&self, ops: Vec<Op>) -> Result<(), Vec<Op>> {
        self.bulk
            .try_send(Request {
                ops,
                reply: None,
                wants_back: false,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(request)
                | mpsc::error::TrySendError::Closed(request) => request.ops,
            })
    }

    /// Requests waiting for the commit thread (both lanes).
    #[must_use]
    pub fn queued(&self) -> usize {
        (self.sender.max_capacity() - self.sender.capacity())
            + (self.bulk.max_capacity() - self.bulk.capacity())
    }

    /// A copy of the statistics so far.
    #[must_use]
    pub fn stats(&self) -> GroupCommitStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Commits everything queued, then stops the thread. Other handles' later requests
    /// fail with "stopped".
    pub fn shutdown(self) {
        let Self {
            sender,
            bulk,
            thread,
            ..
        } = self;
        drop(sender);
        drop(bulk);
        if let Some(thread) = thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = thread.join();
        }
    }
}

fn stopped() -> StoreError {
    StoreError::new("the store's commit thread has stopped")
}

/// The commit thread's two queues.
struct Lanes {
    intake: mpsc::Receiver<Request>,
    bulk: mpsc::Receiver<Request>,
}

impl Lanes {
    /// The next request, the intake lane's first, and whether it is the intake lane's;
    /// `None` once both lanes are closed and empty.
    fn wait(&mut self) -> Option<(Request, bool)> {
        futures::executor::block_on(async {
            tokio::select! {
                biased;
                Some(request) = self.intake.recv() => Some((request, true)),
                Some(request) = self.bulk.recv() => Some((request, false)),
                else => None,
            }
        })
    }

    fn len(&self) -> usize {
        self.intake.len() + self.bulk.len()
    }
}

/// The commit thread: until every sender of both lanes is gone and both are empty.
fn run(store: &dyn Store, mut lanes: Lanes, max_batch: usize, stats: &Mutex<GroupCommitStats>) {
    let mut ops: Vec<Op> = Vec::with_capacity(max_batch);
    // Every request's reply (none for the no-wait ones), where its ops start in `ops`,
    // and whether it wants them back on a failure.
    let mut replies: Vec<(Option<Reply>, usize, bool)> = Vec::with_capacity(max_batch);
    while let Some((first, mut carries_intake)) = lanes.wait() {
        let mut requests = 1u64;
        take(first, &mut ops, &mut replies);
        // The intake lane first: a client waits on each of those.
        while ops.len() < max_batch {
            match lanes.intake.try_recv() {
                Ok(request) => {
                    requests += 1;
                    carries_intake = true;
                    take(request, &mut ops, &mut replies);
                }
                Err(_) => break,
            }
        }
        let bulk_limit = if carries_intake {
            (ops.len() + BULK_BESIDE_INTAKE).min(max_batch)
        } else {
            max_batch
        };
        while ops.len() < bulk_limit {
            match lanes.bulk.try_recv() {
                Ok(request) => {
                    requests += 1;
                    take(request, &mut ops, &mut replies);
                }
                Err(_) => break,
            }
        }
        metrics::gauge!("smppgate_store_pending_commits").set(lanes.len() as f64);
        let started = Instant::now();
        let outcome = store.commit(&ops);
        let took = started.elapsed();
        record(stats, &outcome, ops.len(), requests, took);
        if let Err(error) = &outcome {
            tracing::error!(%error, ops = ops.len(), requests, "store commit failed");
        }
        match outcome {
            Ok(()) => {
                // Dropped before the callers resume: they may change what the ops shared
                // with them.
                ops.clear();
                for (reply, _, _) in replies.drain(..) {
                    // A caller that went away does not need its answer.
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(()));
                    }
                }
            }
            Err(error) => {
                // Last request first: each takes the tail of `ops` from its start.
                for (reply, start, wants_back) in replies.drain(..).rev() {
                    let tail = ops.split_off(start.min(ops.len()));
                    if let Some(reply) = reply {
                        let ops = if wants_back { tail } else { Vec::new() };
                        let _ = reply.send(Err(Refused {
                            error: error.clone(),
                            ops,
                        }));
                    }
                }
                ops.clear();
            }
        }
    }
}

fn take(request: Request, ops: &mut Vec<Op>, replies: &mut Vec<(Option<Reply>, usize, bool)>) {
    replies.push((request.reply, ops.len(), request.wants_back));
    ops.extend(request.ops);
}

#[allow(clippy::cast_precision_loss)] // batch sizes are far below 2^52
fn record(
    stats: &Mutex<GroupCommitStats>,
    outcome: &Result<(), StoreError>,
    ops: usize,
    requests: u64,
    took: Duration,
) {
    metrics::histogram!("smppgate_store_commit_operations").record(ops as f64);
    metrics::histogram!("smppgate_store_commit_seconds").record(took.as_secs_f64());
    if outcome.is_err() {
        metrics::counter!("smppgate_store_commit_errors_total").increment(1);
    }
    let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
    stats.commits += 1;
    stats.requests += requests;
    let ops = u64::try_from(ops).unwrap_or(u64::MAX);
    if outcome.is_ok() {
        stats.ops += ops;
    } else {
        stats.failed_commits += 1;
    }
    stats.batch_size.saturating_record(ops);
    stats.batch_requests.saturating_record(requests);
    stats
        .commit_micros
        .saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::tests::message;
    use crate::store::{
        ListPage, MessageRecord, Millis, OutboxItem, PageRead, ParkedItem, ScopeKey, Suppression,
    };

    /// Holds its first commit until the test opens the gate; records each commit's ids.
    struct GatedStore {
        inner: MemoryStore,
        started: Mutex<Option<std_mpsc::Sender<()>>>,
        gate: Mutex<Option<std_mpsc::Receiver<()>>>,
        batches: Mutex<Vec<Vec<u64>>>,
        /// Fails the commits while set (after the gate).
        failing: Mutex<bool>,
    }

    impl Store for GatedStore {
        fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
            if let Some(started) = self.started.lock().unwrap().take() {
                started.send(()).unwrap();
                let gate = self.gate.lock().unwrap().take().unwrap();
                gate.recv_timeout(Duration::from_secs(10)).unwrap();
            }
            if *self.failing.lock().unwrap() {
                return Err(StoreError::new("disk full"));
            }
            let ids = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Insert(record) => Some(record.id),
                    _ => None,
                })
                .collect();
            self.batches.lock().unwrap().push(ids);
            self.inner.commit(ops)
        }
        fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
            self.inner.get(id)
        }
        fn by_carrier_id(&self, c: &str, i: &str) -> Result<Option<(u64, u16)>, StoreError> {
            self.inner.by_carrier_id(c, i)
        }
        fn pending_page(&self, a: u64, l: usize) -> Result<Vec<MessageRecord>, StoreError> {
            self.inner.pending_page(a, l)
        }
        fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError> {
            self.inner.list_page(read)
        }
        fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
            self.inner.outbox(account, limit)
        }
        fn outbox_after(&self, a: &str, s: u64, l: usize) -> Result<Vec<OutboxItem>, StoreError> {
            self.inner.outbox_after(a, s, l)
        }
        fn parked(&self, a: Option<&str>, l: usize) -> Result<Vec<ParkedItem>, StoreError> {
            self.inner.parked(a, l)
        }
        fn expire(&self, before: Millis) -> Result<usize, StoreError> {
            self.inner.expire(before)
        }
        fn max_id(&self) -> Result<u64, StoreError> {
            self.inner.max_id()
        }
        fn suppression(&self, s: &ScopeKey, n: &str) -> Result<Option<Suppression>, StoreError> {
            self.inner.suppression(s, n)
        }
        fn suppressions(
            &self,
            scope: Option<&ScopeKey>,
            visit: &mut dyn FnMut(Suppression) -> bool,
        ) -> Result<(), StoreError> {
            self.inner.suppressions(scope, visit)
        }
    }

    impl GatedStore {
        /// A store whose first commit waits for the returned sender (it says on the
        /// returned receiver when that commit has begun), failing every commit while
        /// `failing`.
        fn new(failing: bool) -> (Arc<Self>, std_mpsc::Receiver<()>, std_mpsc::Sender<()>) {
            let (started_tx, started) = std_mpsc::channel();
            let (open, gate) = std_mpsc::channel();
            let store = Arc::new(Self {
                inner: MemoryStore::new(),
                started: Mutex::new(Some(started_tx)),
                gate: Mutex::new(Some(gate)),
                batches: Mutex::new(Vec::new()),
                failing: Mutex::new(failing),
            });
            (store, started, open)
        }
    }

    /// A bulk commit of message 1, returned once the store holds it (so what the test
    /// queues next waits behind it).
    async fn hold_first_commit(
        group: &Arc<GroupCommit>,
        started: std_mpsc::Receiver<()>,
    ) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let g = Arc::clone(group);
        let first = tokio::spawn(async move { g.commit_bulk(insert(1)).await });
        tokio::task::spawn_blocking(move || started.recv_timeout(Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
        first
    }

    fn insert(id: u64) -> Vec<Op> {
        vec![Op::Insert(Arc::new(message(id, "a", id)))]
    }

    async fn until_queued(group: &GroupCommit, n: usize) {
        for _ in 0..10_000 {
            if group.queued() == n {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("{} requests queued, expected {n}", group.queued());
    }

    /// Issue #15 §4: an intake write (an OTP's submit_sm_resp waits on it) is taken before
    /// bulk writes queued ahead of it, and still shares their commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_intake_lane_goes_before_queued_bulk_writes() {
        let (store, started, open) = GatedStore::new(false);
        // Two ops a commit at most.
        let group = Arc::new(GroupCommit::start(Arc::clone(&store) as Arc<dyn Store>, 2));
        let first = hold_first_commit(&group, started).await;
        let mut tasks = tokio::task::JoinSet::new();
        // While the first commit runs: two bulk writes, then an intake write.
        for (n, id) in [(1, 2), (2, 3)] {
            let g = Arc::clone(&group);
            tasks.spawn(async move { g.commit_bulk(insert(id)).await });
            until_queued(&group, n).await;
        }
        let g = Arc::clone(&group);
        tasks.spawn(async move { g.commit(insert(4)).await });
        until_queued(&group, 3).await;
        open.send(()).unwrap();
        first.await.unwrap().unwrap();
        while let Some(outcome) = tasks.join_next().await {
            outcome.unwrap().unwrap();
        }
        // FIFO would have committed [2, 3] then [4].
        assert_eq!(
            *store.batches.lock().unwrap(),
            vec![vec![1], vec![4, 2], vec![3]]
        );
        Arc::into_inner(group).unwrap().shutdown();
    }

    /// A commit that carries an intake write takes at most `BULK_BESIDE_INTAKE` bulk ops
    /// beside it, however many are queued and however large `max_batch` is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_carrying_intake_takes_a_bounded_share_of_bulk_writes() {
        let (store, started, open) = GatedStore::new(false);
        let queued = BULK_BESIDE_INTAKE + 100;
        let group = Arc::new(GroupCommit::start(
            Arc::clone(&store) as Arc<dyn Store>,
            4 * queued,
        ));
        let first = hold_first_commit(&group, started).await;
        let mut tasks = tokio::task::JoinSet::new();
        for id in 0..queued {
            let g = Arc::clone(&group);
            let id = 10 + u64::try_from(id).unwrap();
            tasks.spawn(async move { g.commit_bulk(insert(id)).await });
        }
        until_queued(&group, queued).await;
        let g = Arc::clone(&group);
        tasks.spawn(async move { g.commit(insert(2)).await });
        until_queued(&group, queued + 1).await;
        open.send(()).unwrap();
        first.await.unwrap().unwrap();
        while let Some(outcome) = tasks.join_next().await {
            outcome.unwrap().unwrap();
        }
        let batches = store.batches.lock().unwrap().clone();
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 1 + BULK_BESIDE_INTAKE, 100], "{batches:?}");
        assert_eq!(batches[1][0], 2, "the intake write first");
        Arc::into_inner(group).unwrap().shutdown();
    }

    /// A failed commit hands each `commit_bulk_or_back` caller exactly its own ops (the
    /// writer tries them again without having copied them), whatever else shared the
    /// commit; the other callers get the error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_hands_each_caller_its_own_ops_back() {
        let (store, started, open) = GatedStore::new(true);
        let group = Arc::new(GroupCommit::start(Arc::clone(&store) as Arc<dyn Store>, 64));
        let first = hold_first_commit(&group, started).await;
        // Queued while the first commit is held, so they share the next one: a caller
        // wanting its ops back, a no-wait one, another wanting them back, a plain one.
        let g = Arc::clone(&group);
        let two = tokio::spawn(async move {
            g.commit_bulk_or_back(vec![
                Op::Insert(Arc::new(message(2, "a", 2))),
                Op::Insert(Arc::new(message(3, "a", 3))),
            ])
            .await
        });
        until_queued(&group, 1).await;
        group.commit_nowait(insert(4)).await.unwrap();
        until_queued(&group, 2).await;
        let g = Arc::clone(&group);
        let five = tokio::spawn(async move { g.commit_bulk_or_back(insert(5)).await });
        until_queued(&group, 3).await;
        let g = Arc::clone(&group);
        let six = tokio::spawn(async move { g.commit_bulk(insert(6)).await });
        until_queued(&group, 4).await;
        open.send(()).unwrap();
        assert!(first.await.unwrap().is_err());
        let ids = |ops: &[Op]| -> Vec<u64> {
            ops.iter()
                .filter_map(|op| match op {
                    Op::Insert(record) => Some(record.id),
                    _ => None,
                })
                .collect()
        };
        let (error, back) = two.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("disk full"), "{error}");
        assert_eq!(ids(&back), [2, 3]);
        let (_, back) = five.await.unwrap().unwrap_err();
        assert_eq!(ids(&back), [5]);
        assert!(six.await.unwrap().is_err());
        // The store works again: the handed-back ops commit as they are.
        *store.failing.lock().unwrap() = false;
        group.commit_bulk_or_back(back).await.unwrap();
        assert!(store.get(5).unwrap().is_some());
        Arc::into_inner(group).unwrap().shutdown();
    }
}
