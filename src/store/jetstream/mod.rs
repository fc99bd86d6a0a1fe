//! [`JetStreamStore`]: the [`Store`] on NATS JetStream, for `[cluster]`
//! (docs/adr/0008-cluster-backend.md says why JetStream, docs/cluster.md how to run it).
//!
//! A commit publishes every write of its batch at once and returns when JetStream has
//! acknowledged each (with `replicas = 3`, stored by a quorum of servers): one round of
//! acks per batch, never one round trip per message. The layout is in `backend.rs`.
//!
//! The [`Store`] trait is synchronous (the group-commit thread and blocking tasks call
//! it); async-nats is async. The client lives on a runtime of its own, on a thread of its
//! own: each call spawns its future there and waits on a channel. So the gateway's
//! runtime never runs the NATS connection: even if every one of its threads waited on the
//! store, the connection would still make progress, and a call cannot deadlock it
//! (`Handle::block_on` on the gateway's runtime could: the connection task would need a
//! worker that the waiting callers hold). Dropping the store stops that runtime on its
//! own thread (a runtime may not be dropped inside another's context).
//!
//! What a commit does not give: atomicity across its writes. JetStream (2.9) has no
//! transaction over several subjects; each write is idempotent (puts, purges, deletes;
//! outbox pushes carry a `Nats-Msg-Id` so a retried commit does not queue twice), and a
//! failed commit is tried again until `commit_timeout`.

mod backend;
mod caps;
mod dispatch;
mod liveness;
mod merge;
mod names;
mod outbox_lease;
mod watch;

pub use caps::SharedCaps;
pub use liveness::{Bound, Membership, follow_liveness};
pub use outbox_lease::{Lease, OutboxLeases};
pub use watch::{OutboxFollower, OutboxWatch, SuppressionChange, SuppressionWatch};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use self::backend::Backend;
use super::{
    Counters, ListFilter, ListPage, MessageRecord, Millis, Op, OutboxItem, PageRead, ParkedItem,
    QueueItem, Room, ScopeKey, Settle, StatsKey, Store, StoreError, Suppression, Work, WorkQueue,
    WorkToken,
};
use crate::config::{Class, ClusterConfig};

/// Time a read may take before it fails (a commit has `commit_timeout`, plus this).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The store on JetStream.
pub struct JetStreamStore {
    backend: Arc<Backend>,
    handle: tokio::runtime::Handle,
    /// Dropped with the store: the runtime's thread then ends (and drops the runtime).
    _stop: tokio::sync::oneshot::Sender<()>,
    commit_timeout: Duration,
    node: String,
}

impl JetStreamStore {
    /// Connects to the cluster, creating the streams and buckets that are missing, and
    /// claims this node's id range.
    ///
    /// # Errors
    /// No server answers within `connect_timeout`, JetStream is not enabled, a stream
    /// cannot be created (e.g. more replicas than servers), or no node slot is free.
    pub fn open(config: &ClusterConfig) -> Result<Self, StoreError> {
        let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("jetstream".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("jetstream-io")
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = handle_tx.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = stop_rx.await;
                        });
                    }
                    Err(error) => {
                        let _ = handle_tx.send(Err(error.to_string()));
                    }
                }
            })
            .map_err(|e| StoreError::new(format!("jetstream thread: {e}")))?;
        let handle = handle_rx
            .recv()
            .map_err(|_| StoreError::new("jetstream runtime did not start"))?
            .map_err(|e| StoreError::new(format!("jetstream runtime: {e}")))?;
        let connect_config = config.clone();
        let backend = wait(&handle, config.connect_timeout * 3, async move {
            Backend::connect(&connect_config).await
        })?;
        Ok(Self {
            backend: Arc::new(backend),
            handle,
            _stop: stop_tx,
            commit_timeout: config.commit_timeout,
            node: config.node.clone(),
        })
    }

    fn run<T, F>(
        &self,
        timeout: Duration,
        call: impl FnOnce(Arc<Backend>) -> F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        wait(&self.handle, timeout, call(Arc::clone(&self.backend)))
    }
}

/// Runs `future` on the store's runtime and waits for it (at most `timeout`).
fn wait<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    timeout: Duration,
    future: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let result = tokio::time::timeout(timeout, future)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(format!(
                    "jetstream did not answer within {}",
                    humantime::format_duration(timeout)
                )))
            });
        let _ = tx.send(result);
    });
    rx.recv()
        .map_err(|_| StoreError::new("jetstream runtime stopped"))?
}

/// The dispatch work queues of a [`JetStreamStore`] (`dispatch.rs`), run on its runtime.
struct Queue {
    backend: Arc<Backend>,
    handle: tokio::runtime::Handle,
}

impl WorkQueue for Queue {
    fn follow(
        &self,
        route: Arc<str>,
        class: Class,
        room: Room,
        into: tokio::sync::mpsc::Sender<Work>,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        let backend = Arc::clone(&self.backend);
        self.handle.spawn(async move {
            backend.follow(route, class, room, into, cancel).await;
        });
    }

    fn enqueue(&self, items: &[QueueItem]) -> Result<(), StoreError> {
        let items = items.to_vec();
        wait(&self.handle, READ_TIMEOUT, {
            let backend = Arc::clone(&self.backend);
            async move { backend.enqueue(&items).await }
        })
    }

    fn settle(&self, answers: Vec<(WorkToken, Settle)>) {
        if answers.is_empty() {
            return;
        }
        let backend = Arc::clone(&self.backend);
        self.handle
            .spawn(async move { backend.settle(answers).await });
    }

    fn ack_wait(&self) -> Duration {
        self.backend.ack_wait
    }

    fn open(&self, routes: &[Arc<str>]) -> Result<(), StoreError> {
        let routes = routes.to_vec();
        let backend = Arc::clone(&self.backend);
        let until = std::time::Instant::now() + READ_TIMEOUT;
        wait(
            &self.handle,
            READ_TIMEOUT + Duration::from_secs(5),
            async move { backend.open_routes(&routes, until).await },
        )
    }
}

impl Store for JetStreamStore {
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let ops = ops.to_vec();
        self.run(self.commit_timeout + READ_TIMEOUT, move |b| async move {
            b.commit(&ops).await
        })
    }

    fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        if let Some(record) = self.backend.recent_record(id) {
            return Ok(Some(record));
        }
        self.run(READ_TIMEOUT, move |b| async move { b.get(id).await })
    }

    fn get_latest(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        self.run(READ_TIMEOUT, move |b| async move { b.get_latest(id).await })
    }

    fn get_many(&self, ids: &[u64]) -> Result<Vec<Option<MessageRecord>>, StoreError> {
        let ids = ids.to_vec();
        self.run(READ_TIMEOUT, move |b| async move {
            futures::future::try_join_all(ids.iter().map(|id| b.get(*id))).await
        })
    }

    fn get_latest_many(&self, ids: &[u64]) -> Result<Vec<Option<MessageRecord>>, StoreError> {
        let ids = ids.to_vec();
        self.run(READ_TIMEOUT, move |b| async move {
            futures::future::try_join_all(ids.iter().map(|id| b.get_latest(*id))).await
        })
    }

    fn by_carrier_id(
        &self,
        carrier: &str,
        carrier_id: &str,
    ) -> Result<Option<(u64, u16)>, StoreError> {
        let (carrier, carrier_id) = (carrier.to_owned(), carrier_id.to_owned());
        self.run(READ_TIMEOUT, move |b| async move {
            b.by_carrier_id(&carrier, &carrier_id).await
        })
    }

    fn pending_page(&self, after: u64, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        self.run(READ_TIMEOUT, move |b| async move {
            b.pending_page(after, limit).await
        })
    }

    fn owned_messages_changed(&self) {
        self.backend.owned_slots_changed();
    }

    fn work_queue(&self) -> Option<Arc<dyn WorkQueue>> {
        Some(Arc::new(Queue {
            backend: Arc::clone(&self.backend),
            handle: self.handle.clone(),
        }))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<MessageRecord>, StoreError> {
        let filter = filter.clone();
        self.run(READ_TIMEOUT, move |b| async move { b.list(&filter).await })
    }

    fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError> {
        let (scan, before, max_scan) = (read.filter.clone(), read.before, read.max_scan);
        let records = self.run(READ_TIMEOUT, move |b| async move {
            b.list_below(&scan, before, max_scan).await
        })?;
        // Filtered by time in the scan: by id, acceptance times are not in order across
        // the nodes, so `since` must not end the page.
        let rest = ListFilter {
            since: None,
            ..read.filter.clone()
        };
        super::page_of(
            records.into_iter().map(Ok),
            &PageRead {
                filter: &rest,
                ..*read
            },
        )
    }

    fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_peek(account, 0, limit)
    }

    fn outbox_peek(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let account = account.to_owned();
        self.run(READ_TIMEOUT, move |b| async move {
            b.outbox_peek(&account, after, limit).await
        })
    }

    fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let account = account.to_owned();
        self.run(READ_TIMEOUT, move |b| async move {
            b.outbox_after(&account, after, limit).await
        })
    }

    fn parked(&self, account: Option<&str>, limit: usize) -> Result<Vec<ParkedItem>, StoreError> {
        let account = account.map(str::to_owned);
        self.run(READ_TIMEOUT, move |b| async move {
            b.parked(account.as_deref(), limit).await
        })
    }

    fn expire(&self, before: Millis) -> Result<usize, StoreError> {
        self.run(
            READ_TIMEOUT * 10,
            move |b| async move { b.expire(before).await },
        )
    }

    fn stats(&self, from_hour: u64) -> Result<Vec<(StatsKey, Counters)>, StoreError> {
        self.run(
            READ_TIMEOUT,
            move |b| async move { b.stats(from_hour).await },
        )
    }

    fn max_id(&self) -> Result<u64, StoreError> {
        Ok(self.backend.max_id())
    }

    fn take_merged(&self) -> Vec<u64> {
        self.backend.take_merged()
    }

    fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError> {
        let (scope, number) = (scope.clone(), number.to_owned());
        self.run(READ_TIMEOUT, move |b| async move {
            b.suppression(&scope, &number).await
        })
    }

    fn suppressions(
        &self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> bool,
    ) -> Result<(), StoreError> {
        // The keys are listed (small), then the entries read a page at a time and visited
        // here (the visitor is not `Send`, and nothing waits inside the runtime).
        const PAGE: usize = 256;
        let scope = scope.cloned();
        let keys = self.run(READ_TIMEOUT, move |b| async move {
            b.suppression_keys(scope.as_ref()).await
        })?;
        for page in keys.chunks(PAGE) {
            let page = page.to_vec();
            let entries = self.run(READ_TIMEOUT, move |b| async move {
                b.suppressions_of(&page).await
            })?;
            for entry in entries {
                if !visit(entry) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for JetStreamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamStore")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

/// A connection of this node to NATS for one `purpose` (named so in the server's
/// connection list: `smppgate gw-1 outbox`).
pub(super) async fn connect(
    config: &ClusterConfig,
    purpose: &str,
) -> Result<async_nats::Client, StoreError> {
    async_nats::ConnectOptions::new()
        .name(format!("smppgate {} {purpose}", config.node))
        .connection_timeout(config.connect_timeout)
        .connect(config.nats.clone())
        .await
        .map_err(|e| StoreError::new(format!("connecting to NATS: {e}")))
}

/// A NATS connection of its own for one of the store's side parts (`purpose` names it in
/// the server's connection list) and its KV bucket `bucket`, created with `max_age` and
/// the cluster's replicas when missing; a bucket another node made is used as it is, with
/// its settings.
async fn side_bucket(
    config: &ClusterConfig,
    purpose: &str,
    bucket: &str,
    max_age: Duration,
) -> Result<
    (
        async_nats::jetstream::Context,
        async_nats::jetstream::kv::Store,
    ),
    StoreError,
> {
    let js = async_nats::jetstream::new(connect(config, purpose).await?);
    let kv_config = async_nats::jetstream::kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        max_age,
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: config.replicas,
        ..Default::default()
    };
    // As the store's own buckets: a cluster still placing replicas ("no suitable peers",
    // "peer offline") is waited for, bounded, rather than failing the start.
    let forming_until = std::time::Instant::now() + config.connect_timeout * 2;
    let kv = backend::create_or_open_bucket(&js, kv_config, forming_until)
        .await
        .map_err(|e| StoreError::new(format!("{purpose} bucket {bucket}: {e}")))?;
    Ok((js, kv))
}
