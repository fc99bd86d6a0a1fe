//! The dispatch work queues on JetStream (`store/work_queue.rs` says what they promise).
//!
//! Per route a stream `<prefix>_route_x<hex>` with work-queue retention (an item is gone
//! once a consumer acknowledged it), one subject per message and at most one message per
//! subject, new ones refused (`discard_new_per_subject`): queueing a message that is
//! queued already is refused by the servers, which [`Backend::enqueue`] counts as done.
//! Per class of the route a durable pull consumer named after the class, shared by every
//! node: JetStream hands each item to one puller and, when that puller does not answer
//! within `ack_wait`, to the next one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy, pull};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backend::{Backend, nats_error};
use super::names;
use crate::config::Class;
use crate::store::{MessageRecord, QueueItem, Room, Settle, State, StoreError, Work, WorkToken};

/// The header of an item queued by [`Backend::enqueue`] (a sweep, a move to another
/// route) rather than with its message's insert (`Work::verify`).
const SWEPT: &str = "Smppgate-Swept";

/// Most messages one pull asks for.
const PULL_BATCH: usize = 256;
/// How long a pull waits on the servers for its messages (then the next pull asks again,
/// with the room there is then).
const PULL_WAIT: Duration = Duration::from_secs(1);
/// How often a puller without room looks again.
const ROOM_RETRY: Duration = Duration::from_millis(20);
/// The pause after a failed pull or a queue that could not be opened.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Most deliveries one consumer may have out without an answer, over all nodes (each
/// node's is bounded by its carrier lanes; this only must not be the limit).
const MAX_ACK_PENDING: i64 = 1_000_000;

/// The consumers of one route, by class index.
type Consumers = Arc<[Consumer<pull::Config>; 3]>;

/// The routes whose queue this node has opened.
#[derive(Default)]
pub(super) struct Routes {
    /// Looked up for every message queued (a plain lock, held for the lookup only).
    open: std::sync::Mutex<HashMap<String, Consumers>>,
    /// Held while a route's streams are created (one creation at a time, no lock held
    /// on the lookups meanwhile).
    creating: tokio::sync::Mutex<()>,
}

/// Whether a record is stored ready to go (queued with its insert): not held for
/// review, not awaiting its other parts, not refused.
pub(super) fn ready(record: &MessageRecord) -> bool {
    record.state == State::Accepted
        && !record.route_taken.is_empty()
        && record.parts.iter().any(|p| p.state == State::Accepted)
}

/// Waits `wait`; false when cancelled first.
async fn pause(cancel: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// Whether a publish was refused because the message is queued already.
fn queued_already(error: &impl std::fmt::Display) -> bool {
    error
        .to_string()
        .contains("maximum messages per subject exceeded")
}

impl Backend {
    /// The consumers of `route`'s queue, the stream and consumers created when missing.
    pub(super) async fn route_consumers(&self, route: &str) -> Result<Consumers, StoreError> {
        let opened = |routes: &Routes| {
            routes
                .open
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(route)
                .cloned()
        };
        if let Some(consumers) = opened(&self.routes) {
            return Ok(consumers);
        }
        let _creating = self.routes.creating.lock().await;
        if let Some(consumers) = opened(&self.routes) {
            return Ok(consumers);
        }
        let names = &self.names;
        // The three classes' streams and consumers are made at once (each a round of the
        // servers' placement, seconds on a loaded machine with a fresh cluster).
        let consumers =
            futures::future::try_join_all(Class::ALL.into_iter().map(|class| async move {
                // A stream per class, its one consumer unfiltered: no filter for the server
                // to match against the queued subjects (one per message) on each delivery.
                let stream_name = names.route_stream(route, class.as_str());
                let config = stream::Config {
                    name: stream_name.clone(),
                    subjects: vec![names.route_subjects(route, class.as_str())],
                    retention: RetentionPolicy::WorkQueue,
                    storage: StorageType::File,
                    num_replicas: self.replicas,
                    max_messages_per_subject: 1,
                    discard: DiscardPolicy::New,
                    discard_new_per_subject: true,
                    ..Default::default()
                };
                let stream = self
                    .js
                    .get_or_create_stream(config)
                    .await
                    .map_err(|e| nats_error(&format!("stream {stream_name}"), e))?;
                let consumer = stream
                    .get_or_create_consumer(
                        "dispatch",
                        pull::Config {
                            durable_name: Some("dispatch".to_owned()),
                            ack_policy: AckPolicy::Explicit,
                            ack_wait: self.ack_wait,
                            deliver_policy: DeliverPolicy::All,
                            max_ack_pending: MAX_ACK_PENDING,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| nats_error(&format!("consumer dispatch of {stream_name}"), e))?;
                Ok::<_, StoreError>(consumer)
            }))
            .await?;
        let consumers: [Consumer<pull::Config>; 3] = consumers
            .try_into()
            .map_err(|_| StoreError::new("one consumer per class"))?;
        let consumers = Arc::new(consumers);
        self.routes
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(route.to_owned(), Arc::clone(&consumers));
        Ok(consumers)
    }

    /// Opens the queues of `routes` (created when missing) before any message is queued,
    /// trying again while the cluster is still placing them, up to `until`: a queue
    /// created by the first commit that needs it would make that commit wait for the
    /// servers to place three streams (seconds on a loaded machine, a fresh cluster).
    pub(super) async fn open_routes(
        &self,
        routes: &[Arc<str>],
        until: std::time::Instant,
    ) -> Result<(), StoreError> {
        for route in routes {
            loop {
                match self.route_consumers(route).await {
                    Ok(_) => break,
                    Err(error)
                        if super::backend::starting_up(&error)
                            && std::time::Instant::now() < until =>
                    {
                        tokio::time::sleep(super::backend::FORMING_RETRY).await;
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(())
    }

    /// Publishes the item of message `id` (its route's queue opened first); the ack says
    /// whether it is queued (a message queued already counts as queued).
    pub(super) async fn publish_item(
        &self,
        route: &str,
        class: Class,
        id: u64,
        swept: bool,
    ) -> Result<impl Future<Output = Result<(), StoreError>> + use<>, StoreError> {
        self.route_consumers(route).await?;
        let subject = self.names.route_item(route, class.as_str(), id);
        let ack: PublishAckFuture = if swept {
            let mut headers = HeaderMap::new();
            headers.insert(SWEPT, "1");
            self.js
                .publish_with_headers(subject, headers, Bytes::new())
                .await
        } else {
            self.js.publish(subject, Bytes::new()).await
        }
        .map_err(|e| nats_error("queue", e))?;
        Ok(async move {
            match ack.await {
                Ok(_) => Ok(()),
                Err(e) if queued_already(&e) => Ok(()),
                Err(e) => Err(nats_error("queue ack", e)),
            }
        })
    }

    /// Queues each (route, class, id) not queued already, every publish in flight at once.
    pub(super) async fn enqueue(&self, items: &[QueueItem]) -> Result<(), StoreError> {
        let mut acks = Vec::with_capacity(items.len());
        for (route, class, id) in items {
            acks.push(self.publish_item(route, *class, *id, true).await?);
        }
        futures::future::try_join_all(acks).await?;
        Ok(())
    }

    /// Pulls (route, class) into `into` while `room` says so, until `cancel`.
    pub(super) async fn follow(
        &self,
        route: Arc<str>,
        class: Class,
        room: Room,
        into: mpsc::Sender<Work>,
        cancel: CancellationToken,
    ) {
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let wanted = room().min(PULL_BATCH);
            if wanted == 0 {
                if pause(&cancel, ROOM_RETRY).await {
                    continue;
                }
                return;
            }
            let consumer = match self.route_consumers(&route).await {
                Ok(consumers) => consumers[class.index()].clone(),
                Err(error) => {
                    tracing::warn!(%route, %error, "route queue not open; trying again");
                    if pause(&cancel, ERROR_PAUSE).await {
                        continue;
                    }
                    return;
                }
            };
            let batch = consumer
                .batch()
                .max_messages(wanted)
                .expires(PULL_WAIT)
                .messages()
                .await;
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%route, %error, "pull failed; trying again");
                    if pause(&cancel, ERROR_PAUSE).await {
                        continue;
                    }
                    return;
                }
            };
            loop {
                let next = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = batch.next() => next,
                };
                let message = match next {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        tracing::debug!(%route, %error, "pull ended");
                        break;
                    }
                    None => break,
                };
                let id = message
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|key| names::parse_id_key(key).ok());
                let (Some(id), Some(reply)) = (id, message.reply.as_ref()) else {
                    tracing::error!(subject = %message.subject, "not a queue item: dropped");
                    let _ = message.ack().await;
                    continue;
                };
                let delivered = message
                    .info()
                    .map_or(1, |info| u64::try_from(info.delivered).unwrap_or(1));
                let swept = message
                    .headers
                    .as_ref()
                    .is_some_and(|headers| headers.get(SWEPT).is_some());
                let work = Work {
                    id,
                    route: Arc::clone(&route),
                    class,
                    delivered,
                    verify: swept || delivered > 1,
                    token: WorkToken(Arc::from(reply.as_str())),
                };
                if into.send(work).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Answers deliveries (core publishes to their reply subjects, not awaited).
    pub(super) async fn settle(&self, answers: Vec<(WorkToken, Settle)>) {
        for (token, how) in answers {
            let kind = match how {
                Settle::Done => AckKind::Ack,
                Settle::Later(delay) if delay.is_zero() => AckKind::Nak(None),
                Settle::Later(delay) => AckKind::Nak(Some(delay)),
                Settle::Working => AckKind::Progress,
            };
            if let Err(error) = self
                .client
                .publish(token.0.to_string(), Bytes::from(kind))
                .await
            {
                tracing::warn!(%error, "queue answer not sent (the item comes back after ack_wait)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_record_ready_to_go_is_queued_with_its_insert() {
        use crate::store::{PartRecord, State};
        let mut record = crate::store::tests::message(1, "a", 0);
        record.route_taken = "cn".to_owned();
        record.parts = vec![PartRecord::default()];
        assert!(super::ready(&record));
        record.state = State::Held;
        record.parts[0].state = State::Held;
        assert!(
            !super::ready(&record),
            "held for review: queued when released"
        );
        record.state = State::Accepted;
        record.parts[0].state = State::Rejected;
        assert!(
            !super::ready(&record),
            "refused by receipt: nothing to send"
        );
        record.parts[0].state = State::Accepted;
        record.route_taken.clear();
        assert!(!super::ready(&record), "no route");
    }
}
