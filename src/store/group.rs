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

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};

use super::{Op, Store, StoreError};

type Reply = oneshot::Sender<Result<(), StoreError>>;

struct Request {
    ops: Vec<Op>,
    reply: Option<Reply>,
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
    stats: Arc<Mutex<GroupCommitStats>>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
        let stats = Arc::new(Mutex::new(GroupCommitStats::new()));
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("store-commit".to_owned())
            .spawn(move || run(&*store, receiver, max_batch, &thread_stats))
            .unwrap_or_else(|e| panic!("cannot spawn the store commit thread: {e}"));
        Self {
            sender,
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
        let (reply, done) = oneshot::channel();
        self.sender
            .send(Request {
                ops,
                reply: Some(reply),
            })
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Queues `ops` without waiting for the commit (state updates that a crash may lose
    /// and that are then redone). Waits only while the queue is full. An `async fn`, not
    /// a blocking one: blocking there would stall a runtime thread and every connection on
    /// it.
    ///
    /// # Errors
    /// The commit thread has stopped.
    pub async fn commit_nowait(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.sender
            .send(Request { ops, reply: None })
            .await
            .map_err(|_| stopped())
    }

    /// Like [`GroupCommit::commit_nowait`] for code that cannot wait: gives `ops` back
    /// when the queue is full.
    ///
    /// # Errors
    /// The queue is full or the commit thread has stopped; `ops` come back.
    pub fn try_commit_nowait(&self, ops: Vec<Op>) -> Result<(), Vec<Op>> {
        self.sender
            .try_send(Request { ops, reply: None })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(request)
                | mpsc::error::TrySendError::Closed(request) => request.ops,
            })
    }

    /// Requests waiting for the commit thread.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
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
        let Self { sender, thread, .. } = self;
        drop(sender);
        if let Some(thread) = thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = thread.join();
        }
    }
}

fn stopped() -> StoreError {
    StoreError::new("the store's commit thread has stopped")
}

/// The commit thread: until every sender is gone and the queue is empty.
fn run(
    store: &dyn Store,
    mut receiver: mpsc::Receiver<Request>,
    max_batch: usize,
    stats: &Mutex<GroupCommitStats>,
) {
    let mut ops: Vec<Op> = Vec::with_capacity(max_batch);
    let mut replies: Vec<Reply> = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.blocking_recv() {
        let mut requests = 1u64;
        take(first, &mut ops, &mut replies);
        while ops.len() < max_batch {
            match receiver.try_recv() {
                Ok(request) => {
                    requests += 1;
                    take(request, &mut ops, &mut replies);
                }
                Err(_) => break,
            }
        }
        metrics::gauge!("smppgate_store_pending_commits").set(receiver.len() as f64);
        let started = Instant::now();
        let outcome = store.commit(&ops);
        let took = started.elapsed();
        record(stats, &outcome, ops.len(), requests, took);
        if let Err(error) = &outcome {
            tracing::error!(%error, ops = ops.len(), requests, "store commit failed");
        }
        // Dropped before the callers resume: they may change what the ops shared with them.
        ops.clear();
        for reply in replies.drain(..) {
            // A caller that went away does not need its answer.
            let _ = reply.send(outcome.clone());
        }
    }
}

fn take(request: Request, ops: &mut Vec<Op>, replies: &mut Vec<Reply>) {
    ops.extend(request.ops);
    replies.extend(request.reply);
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
