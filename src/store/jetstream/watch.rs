//! Following the shared suppression list: every node commits its opt-outs to one KV bucket;
//! [`SuppressionWatch`] tells a running node about each change any node makes, so an
//! opt-out received on one node blocks submits on the others within a second (the
//! gateway keeps the list in memory and reads the store only at start).

use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use futures::StreamExt;

use super::names::{self, Bucket, Names};
use crate::config::ClusterConfig;
use crate::store::{OutboxItem, ScopeKey, StoreError, Suppression, keys, suppression};

/// One change of the shared suppression list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuppressionChange {
    /// Added (or replaced).
    Added(Suppression),
    /// Removed.
    Removed {
        /// Whose list.
        scope: ScopeKey,
        /// E.164 digits.
        number: String,
    },
}

/// A watch on the suppression bucket, open: every change from its opening on is seen.
pub struct SuppressionWatch {
    js: async_nats::jetstream::Context,
    bucket: String,
    watch: async_nats::jetstream::kv::Watch,
}

impl SuppressionWatch {
    /// Connects and starts watching at new changes: open it *before* reading the list,
    /// so that a change made in between is in one or the other (a change applied twice
    /// gives the same list), then [`SuppressionWatch::run`] it.
    ///
    /// # Errors
    /// No connection, or the bucket is not there.
    pub async fn open(config: ClusterConfig) -> Result<Self, StoreError> {
        Self::connect(config, false).await
    }

    /// For a node whose first [`SuppressionWatch::open`] failed (it read the list without
    /// a watch): opens one, tried every second until it works, that first replays the
    /// bucket's entries, so that what changed since the list was read is applied too.
    pub async fn open_later(config: ClusterConfig) -> Self {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match Self::connect(config.clone(), true).await {
                Ok(watch) => {
                    tracing::info!("following the shared suppression list now");
                    return watch;
                }
                Err(error) => {
                    tracing::warn!(%error, "shared suppression list: watch not open yet (tried again)");
                }
            }
        }
    }

    async fn connect(config: ClusterConfig, replay: bool) -> Result<Self, StoreError> {
        let names = Names {
            prefix: config.prefix.clone(),
            node: config.node.clone(),
        };
        let js = async_nats::jetstream::new(super::connect(&config, "suppressions").await?);
        let bucket = names.bucket(Bucket::Suppressions);
        let kv = js
            .get_key_value(&bucket)
            .await
            .map_err(|e| StoreError::new(format!("suppression bucket {bucket}: {e}")))?;
        let watch = if replay {
            kv.watch_with_history(">").await
        } else {
            kv.watch_all().await
        }
        .map_err(|e| StoreError::new(format!("watching {bucket}: {e}")))?;
        Ok(Self { js, bucket, watch })
    }

    /// Calls `apply` with each change (this node's own come back too: applying one twice
    /// does nothing). Runs until the process ends: a broken watch is opened again after a
    /// second, replaying the bucket's current entries so that nothing made meanwhile is
    /// missed.
    pub async fn run(self, apply: impl Fn(SuppressionChange) + Send + 'static) {
        let Self {
            js,
            bucket,
            mut watch,
        } = self;
        tracing::debug!(%bucket, "following the shared suppression list");
        loop {
            while let Some(entry) = watch.next().await {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(error) => {
                        tracing::warn!(%error, "suppression watch broken (reopened)");
                        break;
                    }
                };
                match change(&entry.key, entry.operation, &entry.value) {
                    Ok(change) => {
                        tracing::debug!(?change, "suppression change in the shared list");
                        apply(change);
                    }
                    Err(error) => {
                        tracing::warn!(key = %entry.key, %error, "suppression change ignored");
                    }
                }
            }
            watch = loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let reopened = match js.get_key_value(&bucket).await {
                    Ok(kv) => kv.watch_with_history(">").await.map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                match reopened {
                    Ok(watch) => break watch,
                    Err(error) => tracing::warn!(%error, "suppression watch: reopening failed"),
                }
            };
        }
    }
}

/// The change an entry of the bucket stands for.
fn change(key: &str, operation: Operation, value: &[u8]) -> Result<SuppressionChange, StoreError> {
    let key_bytes = names::suppression_key_bytes(key)?;
    match operation {
        Operation::Put => Ok(SuppressionChange::Added(suppression::decode(
            &key_bytes, value,
        )?)),
        Operation::Delete | Operation::Purge => {
            let (scope, number) = suppression::parse_key(&key_bytes)
                .ok_or_else(|| StoreError::new("corrupt suppression key"))?;
            Ok(SuppressionChange::Removed { scope, number })
        }
    }
}

/// How often a node reads its accounts' outboxes even without a notice (a notice missed
/// while its NATS connection was down): one read per account served, bounded in cost.
const OUTBOX_REREAD: Duration = Duration::from_secs(5);

/// One outbox whose items a node takes in as any node queues them (not an account's:
/// the HTTP API's idempotent answers), with what to do with each.
pub struct OutboxFollower {
    /// The outbox (a reserved name).
    pub account: String,
    /// Called with each item queued in it, this node's own included.
    pub on_item: Box<dyn Fn(&OutboxItem) + Send + Sync>,
}

impl std::fmt::Debug for OutboxFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxFollower")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// The outbox stream's notices, subscribed: what any node queues from the subscription
/// on is seen (buffered until [`OutboxWatch::run`]). Opened before the gateway starts, so
/// that an idempotent answer another node stores meanwhile is not missed.
pub struct OutboxWatch {
    names: Names,
    subject: String,
    notices: async_nats::Subscriber,
    /// Kept with the subscription (its connection).
    _client: async_nats::Client,
}

impl std::fmt::Debug for OutboxWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWatch")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl OutboxWatch {
    /// Connects and subscribes to the outbox stream's subjects (a core NATS subscription:
    /// no consumer state on the servers; the items themselves are read from the stream).
    ///
    /// # Errors
    /// The connection or the subscription fails.
    pub async fn open(config: &ClusterConfig) -> Result<Self, StoreError> {
        let names = Names {
            prefix: config.prefix.clone(),
            node: config.node.clone(),
        };
        let client = super::connect(config, "outbox").await?;
        let subject = names.outbox_subjects();
        let notices = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| StoreError::new(format!("subscribing to {subject}: {e}")))?;
        Ok(Self {
            names,
            subject,
            notices,
            _client: client,
        })
    }

    /// For a node whose first [`OutboxWatch::open`] failed: tried every second until it
    /// works; meanwhile every account's outbox is woken at each try (its items may have
    /// come from another node).
    pub async fn open_later(config: ClusterConfig, wake: &impl Fn(Option<&str>)) -> Self {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            wake(None);
            match Self::open(&config).await {
                Ok(watch) => {
                    tracing::info!("following the other nodes' outbox items now");
                    return watch;
                }
                Err(error) => {
                    tracing::warn!(%error, "outbox notices: subscription not made yet (tried again)");
                }
            }
        }
    }

    /// Calls `wake` whenever any node queues an outbox item (a receipt or MO for some
    /// account: with its queue's name), and at least every [`OUTBOX_REREAD`] (without):
    /// the outbox stream is shared, so a receipt that node A matched is queued for the
    /// account's receiver bound on node B, whose outbox task then reads it. The items of
    /// `follower`'s outbox are handed to it instead (they wake nobody). Runs until the
    /// process ends.
    pub async fn run(
        self,
        wake: impl Fn(Option<&str>) + Send + 'static,
        follower: Option<OutboxFollower>,
    ) {
        let Self {
            names,
            subject,
            mut notices,
            _client,
        } = self;
        let followed = follower
            .as_ref()
            .map(|follower| names.outbox_subject(&follower.account));
        let mut reread = tokio::time::interval(OUTBOX_REREAD);
        reread.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                notice = notices.next() => {
                    if notice.is_none() {
                        tracing::warn!(%subject, "outbox notices ended (re-reading every {:?})", OUTBOX_REREAD);
                        loop {
                            reread.tick().await;
                            wake(None);
                        }
                    }
                    if let (Some(notice), Some(follower)) = (&notice, &follower)
                        && followed.as_deref() == Some(notice.subject.as_str())
                    {
                        match keys::decode::<OutboxItem>("outbox item", &notice.payload) {
                            Ok(item) => (follower.on_item)(&item),
                            Err(error) => tracing::warn!(%error, "an item of {} does not decode", follower.account),
                        }
                        continue;
                    }
                    // The account whose queue got the item (its task alone reads).
                    let queue = notice
                        .as_ref()
                        .and_then(|notice| notice.subject.as_str().rsplit('.').next())
                        .and_then(|token| names::untoken(token).ok())
                        .and_then(|bytes| String::from_utf8(bytes).ok());
                    wake(queue.as_deref());
                }
                _ = reread.tick() => wake(None),
            }
        }
    }
}
