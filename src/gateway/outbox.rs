//! Forwarding to upstream: each account's outbox (receipts, MO) is delivered oldest
//! first to one of its receiver / transceiver binds, through the session window. An item
//! leaves the store only after deliver_sm_resp ESME_ROK. While the account is not bound,
//! items wait in the store. An error status is retried with back-off, then the item is
//! parked (left in the store, counted) so it does not block the ones behind it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use smppgate_protocol::pdu::Body;

use tokio_util::sync::CancellationToken;

use crate::smsc::Registry;
use crate::store::{GroupCommit, Op, OutboxItem, Store};

/// What the outbox needs.
pub(crate) struct OutboxDeps {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) group: Arc<GroupCommit>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
    pub(crate) accounts: Vec<Arc<str>>,
    pub(crate) stats: Arc<super::stats::Stats>,
    pub(crate) cancel: CancellationToken,
}

/// Items read from the store per round.
const ROUND: usize = 1024;
/// Error statuses before an item is parked.
const MAX_ATTEMPTS: u32 = 5;

/// One task per account, so a slow client does not hold another account back.
pub(crate) async fn run(deps: OutboxDeps) {
    let core = Arc::new(deps);
    let tasks: Vec<_> = core
        .accounts
        .clone()
        .into_iter()
        .map(|account| tokio::spawn(run_account(Arc::clone(&core), account)))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

async fn run_account(core: Arc<OutboxDeps>, account: Arc<str>) {
    // Items with error statuses: seq → attempts (parked ones stay here, skipped).
    let mut failures: HashMap<u64, u32> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        let delivered = round(&core, &account, &mut failures).await;
        if core.cancel.is_cancelled() {
            return;
        }
        match delivered {
            Some(n) if n > 0 => {
                backoff = Duration::from_millis(100);
                continue;
            }
            Some(_) => {}
            None => backoff = (backoff * 2).min(Duration::from_secs(5)),
        }
        tokio::select! {
            () = core.cancel.cancelled() => return,
            () = core.wake.notified() => {}
            () = tokio::time::sleep(backoff) => {}
        }
    }
}

/// One round: up to [`ROUND`] items, sent in order through the window. `Some(n)`: n
/// delivered; `None`: a failure (no session, errors) — back off.
async fn round(
    core: &Arc<OutboxDeps>,
    account: &Arc<str>,
    failures: &mut HashMap<u64, u32>,
) -> Option<usize> {
    let session = core.registry.receiver(account.as_bytes(), None)?;
    let store = Arc::clone(&core.store);
    let name = account.to_string();
    let items: Vec<OutboxItem> =
        tokio::task::spawn_blocking(move || store.outbox(&name, ROUND + 64))
            .await
            .ok()?
            .ok()?;
    let items: Vec<OutboxItem> = items
        .into_iter()
        .filter(|item| failures.get(&item.seq).is_none_or(|n| *n < MAX_ATTEMPTS))
        .take(ROUND)
        .collect();
    if items.is_empty() {
        return Some(0);
    }
    let mut sends = FuturesUnordered::new();
    for item in items {
        let Ok(pdu) = smppgate_protocol::codec::decode(Bytes::from(item.deliver_sm)) else {
            tracing::error!(%account, seq = item.seq, "outbox item does not decode: dropped");
            sends.push(Box::pin(ack_only(item.seq)) as futures::future::BoxFuture<'_, _>);
            continue;
        };
        let Body::DeliverSm(deliver_sm) = pdu.body else {
            continue;
        };
        let session = session.clone();
        let seq = item.seq;
        // Requests are queued to the connection in this order, so they go out oldest
        // first; the window bounds how many are outstanding.
        sends.push(Box::pin(async move {
            (seq, session.deliver(deliver_sm).await.map(|r| r.status()))
        }));
    }
    let mut acks = Vec::new();
    let mut errors = 0usize;
    while let Some((seq, result)) = sends.next().await {
        match result {
            Ok(status) if status.is_ok() => {
                failures.remove(&seq);
                acks.push(Op::OutboxAck {
                    account: account.to_string(),
                    seq,
                });
            }
            Ok(status) => {
                errors += 1;
                let attempts = failures.entry(seq).or_insert(0);
                *attempts += 1;
                if *attempts == MAX_ATTEMPTS {
                    tracing::warn!(%account, seq, %status, "receipt refused {MAX_ATTEMPTS} times: parked");
                    metrics::counter!("smppgate_outbox_parked_total", "account" => account.to_string()).increment(1);
                }
            }
            Err(error) => {
                // Connection lost: the item stays and goes again (the peer may have got
                // it: a possible duplicate, counted).
                tracing::debug!(%account, seq, %error, "forward interrupted");
                metrics::counter!("smppgate_outbox_maybe_duplicate_total").increment(1);
                errors += 1;
            }
        }
    }
    let delivered = acks.len();
    if !acks.is_empty() {
        if let Err(error) = core.group.commit(acks).await {
            tracing::error!(%error, "outbox ack not stored (items will be sent again)");
        }
        core.stats
            .forwarded
            .fetch_add(delivered as u64, Ordering::Relaxed);
    }
    if errors > 0 && delivered == 0 {
        return None;
    }
    Some(delivered)
}

async fn ack_only(
    seq: u64,
) -> (
    u64,
    Result<smppgate_protocol::command_status::CommandStatus, crate::conn::RequestError>,
) {
    (
        seq,
        Ok(smppgate_protocol::command_status::CommandStatus::ESME_ROK),
    )
}
