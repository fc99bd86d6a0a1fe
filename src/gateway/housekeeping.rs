//! Periodic work on the store: validity expiry (the writer marks the messages expired
//! and sends their EXPIRED receipts), retention (final messages removed), and the early
//! receipts an earlier run kept, once their TTL has passed. Reads run off the runtime
//! threads; what changes goes through the writer's queue (awaited: backpressure, never a
//! spawned task).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::stats::{Stats, store_error};
use super::writer::{EARLY, EARLY_MAX, Event};
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{Op, Store};

/// Pending records read per page while looking for expired ones.
const PAGE: usize = 1024;

/// What housekeeping needs.
pub(crate) struct HousekeepingParts {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: mpsc::Sender<Event>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) clock: Clock,
    pub(crate) cancel: CancellationToken,
}

/// Runs until cancelled.
pub(crate) async fn run(parts: HousekeepingParts) {
    let store_config = &parts.config.store;
    let validity = millis(store_config.validity);
    let retention = store_config.retention;
    let early_ttl = millis(parts.config.receipts.early_ttl);
    // Scan for expiry every minute, or more often when validity is short.
    let every = Duration::from_millis((validity / 4).clamp(1_000, 60_000));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = parts.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = parts.clock.wall_ms();
        if expire_pending(&parts, now, validity).await.is_err() {
            return; // the writer is gone: stopping
        }
        // Refusals counted while the writer had nothing to commit.
        if let Some(op) = parts.stats.delivery.take() {
            if parts.writer.send(Event::Ops(vec![op])).await.is_err() {
                return;
            }
        }
        let store = Arc::clone(&parts.store);
        let cleanup = tokio::task::spawn_blocking(move || {
            let removed = crate::store::expire_once(&*store, retention, now)?;
            // Early receipts kept in the store are done with after the TTL (matched, or
            // kept as unmatched by the writer).
            let done: Vec<Op> = store
                .outbox(EARLY, EARLY_MAX)?
                .into_iter()
                .filter(|item| now.saturating_sub(item.queued) > early_ttl)
                .map(|item| Op::OutboxAck {
                    account: EARLY.to_owned(),
                    seq: item.seq,
                })
                .collect();
            Ok::<_, crate::store::StoreError>((removed, done))
        })
        .await;
        match cleanup {
            Ok(Ok((removed, done))) => {
                if removed > 0 {
                    tracing::info!(removed, "retention: final messages removed");
                }
                if !done.is_empty() && parts.writer.send(Event::Ops(done)).await.is_err() {
                    return;
                }
            }
            Ok(Err(error)) => store_error(&parts.stats, "housekeeping", &error),
            Err(_) => {}
        }
    }
}

/// Sends the writer every pending message whose validity is over (see
/// [`super::schedule::expiry_of`]), page by page.
async fn expire_pending(parts: &HousekeepingParts, now: u64, validity: u64) -> Result<(), ()> {
    let mut cursor = 0;
    loop {
        let store = Arc::clone(&parts.store);
        let page = tokio::task::spawn_blocking(move || store.pending_page(cursor, PAGE)).await;
        let records = match page {
            Ok(Ok(records)) => records,
            Ok(Err(error)) => {
                store_error(&parts.stats, "expiry scan", &error);
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        let Some(last) = records.last().map(|r| r.id) else {
            return Ok(());
        };
        for record in &records {
            if now >= super::schedule::expiry_of(record, validity) {
                parts
                    .writer
                    .send(Event::Expire(record.id))
                    .await
                    .map_err(|_| ())?;
            }
        }
        if records.len() < PAGE {
            return Ok(());
        }
        cursor = last;
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Class;
    use crate::store::memory::MemoryStore;
    use crate::store::{MessageRecord, PartRecord, State};

    const T0: u64 = 1_796_540_400_000;

    fn pending(id: u64, accepted: u64, expires: u64) -> Op {
        Op::Insert(Arc::new(MessageRecord {
            id,
            account: "demo".into(),
            accepted,
            class: Class::Notification,
            route: None,
            request: Vec::new(),
            part_count: 1,
            wants_receipt: true,
            state: State::Accepted,
            parts: vec![PartRecord::default()],
            not_before: 0,
            expires,
            route_taken: String::new(),
            client_ref: None,
            deferred_by: None,
        }))
    }

    fn sent(id: u64, accepted: u64, expires: u64) -> Op {
        let Op::Insert(record) = pending(id, accepted, expires) else {
            unreachable!()
        };
        let mut record = Arc::unwrap_or_clone(record);
        record.state = State::Sent;
        record.parts[0].state = State::Sent;
        Op::Insert(Arc::new(record))
    }

    #[tokio::test(start_paused = true)]
    async fn each_pending_message_expires_at_its_own_time() {
        let store = Arc::new(MemoryStore::new());
        let hour = crate::store::HOUR_MS;
        store
            .commit(&[
                // Its own validity: one minute.
                pending(1, T0, T0 + 60_000),
                // Its own validity: two hours.
                pending(2, T0, T0 + 2 * hour),
                // Written before records had their own: the store's validity (72 h).
                pending(3, T0 - 72 * hour + 30_000, 0),
                pending(4, T0, 0),
                // At a carrier already: its receipt may come late; the store's validity.
                sent(5, T0, T0 + 60_000),
            ])
            .unwrap();
        let (writer, mut events) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(HousekeepingParts {
            config: Arc::new(Config::demo()),
            store,
            writer,
            stats: Arc::new(Stats::default()),
            clock: Clock::starting_at(T0),
            cancel: cancel.clone(),
        }));
        // Rounds run every minute (72 h / 4, at most a minute): after the first two,
        // only those whose time has come.
        tokio::time::sleep(Duration::from_secs(61)).await;
        let mut expired = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let Event::Expire(id) = event {
                expired.push(id);
            }
        }
        expired.sort_unstable();
        expired.dedup();
        assert_eq!(expired, [1, 3]);
        cancel.cancel();
        task.await.unwrap();
    }
}
