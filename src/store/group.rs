//! Interim group commit (replaced by the store branch's): callers' ops are batched by a
//! dedicated thread into one [`Store::commit`] each; callers wake when theirs is durable.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Op, Store, StoreError};

struct Job {
    ops: Vec<Op>,
    done: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// Batches commits.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl GroupCommit {
    /// Starts the commit thread.
    #[must_use]
    pub fn start(store: Arc<dyn Store>, max_batch: usize) -> Self {
        let (jobs, mut rx) = mpsc::channel::<Job>(max_batch.max(1) * 4);
        std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || {
                let mut batch = Vec::new();
                while let Some(first) = rx.blocking_recv() {
                    batch.push(first);
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let ops: Vec<Op> = batch.iter_mut().flat_map(|j| j.ops.drain(..)).collect();
                    let result = store.commit(&ops);
                    for job in batch.drain(..) {
                        if let Some(done) = job.done {
                            let _ = done.send(result.clone());
                        }
                    }
                }
            })
            .expect("spawn store thread");
        Self { jobs }
    }

    /// Commits `ops` and waits until they are durable.
    ///
    /// # Errors
    /// The store's error, for every caller of the failed batch.
    pub async fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job {
                ops,
                done: Some(done),
            })
            .await
            .map_err(|_| StoreError(Arc::from("store stopped")))?;
        wait.await
            .map_err(|_| StoreError(Arc::from("store stopped")))?
    }

    /// Queues `ops` without waiting for durability (waits only for channel space).
    pub async fn commit_nowait(&self, ops: Vec<Op>) {
        let _ = self.jobs.send(Job { ops, done: None }).await;
    }
}
