//! The webhook sink: an account with a `webhook_url` gets its receipts and MO messages as
//! signed JSON POSTs instead of (`webhook_mode = "both"`: as well as) deliver_sm on its
//! SMPP binds.
//!
//! Durable like the SMPP sink: the receipt writer queues each item in the store under the
//! account's webhook queue [`hook_queue`] (`~hook:NAME`, see [`route_to_webhooks`]) in
//! the same commit that produced it; this sink reads the oldest items (at most
//! [`BATCH`], waiting up to [`LINGER_MS`] for a batch to fill), posts them as one JSON
//! array, and removes them from the store only after a 2xx (reading the next batches and
//! acknowledging the last while it posts: see [`run_account`]). Anything else — another
//! status, no answer within 10 s, a refused connection — posts the same batch again after
//! a back-off that doubles with jitter (`http.webhook_retry_initial` …
//! `webhook_retry_max`); a batch failing for `webhook_park_after` is parked (listed and
//! replayed like SMPP items). So events arrive at least once and in order per account.
//!
//! One task per account: a slow or dead endpoint holds back only its own account.
//! Signature: `X-Smppgate-Timestamp: <unix seconds>` and `X-Smppgate-Signature:
//! v1=<hex HMAC-SHA256("<timestamp>.<body>", webhook_secret)>` (the Stripe/Slack scheme:
//! receivers check it and refuse old timestamps, so a replayed request is refused).
//!
//! With `[cluster]` every node runs the task and one posts: the node holding the lease of
//! the account's webhook queue (`gateway/outbox/lease.rs`, kept by the SMPP outbox's
//! lease keeper). A post started under the lease and finished after it moved may be
//! posted again by the new holder, and so may the batch before it when its
//! acknowledgement was still being written: at most two batches per move.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, DeliverSm};
use smppgate_protocol::receipt::ReceiptText;
use smppgate_protocol::text::TextConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::{HttpConfig, IdStyle, WebhookMode};
use crate::gateway::accounts::Accounts;
use crate::gateway::ids::{format_id, parse_id};
use crate::store::{GroupCommit, Op, OutboxItem, Store};

/// Most events in one POST.
pub const BATCH: usize = 100;
/// Longest an event waits for its batch to fill.
pub const LINGER_MS: u64 = 1_000;
/// How long a POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// What an account's webhook queue is named: this and the account's name.
const HOOK_PREFIX: &str = "~hook:";

/// Whether `queue` is an account's webhook queue.
#[must_use]
pub fn is_hook_queue(queue: &str) -> bool {
    hook_account(queue).is_some()
}

/// The account of a webhook queue (`None`: not one).
#[must_use]
pub fn hook_account(queue: &str) -> Option<&str> {
    queue.strip_prefix(HOOK_PREFIX)
}

/// The store queue of an account's webhook events.
#[must_use]
pub fn hook_queue(account: &str) -> String {
    format!("{HOOK_PREFIX}{account}")
}

/// Moves (or, `webhook_mode = "both"`, copies) the outbox items of webhook accounts to
/// their webhook queue; the receipt writer calls it on each batch before committing.
pub(crate) fn route_to_webhooks(ops: &mut Vec<Op>, accounts: &Accounts) {
    let mut copies = Vec::new();
    for op in ops.iter_mut() {
        let Op::OutboxPush(item) = op else { continue };
        let Some(account) = accounts.get(item.account.as_bytes()) else {
            continue;
        };
        if account.config.webhook_url.is_none() {
            continue;
        }
        let queue = hook_queue(&item.account);
        match account.config.webhook_mode {
            WebhookMode::Webhook => item.account = queue,
            WebhookMode::Both => copies.push(Op::OutboxPush(OutboxItem {
                account: queue,
                ..item.clone()
            })),
        }
    }
    ops.extend(copies);
}

/// `v1=<hex HMAC-SHA256("timestamp.body")>`.
#[must_use]
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the sink needs.
pub(crate) struct WebhookParts {
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) http: HttpConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) group: Arc<GroupCommit>,
    pub(crate) clock: Clock,
    pub(crate) cancel: CancellationToken,
    /// Notified by the receipt writer after a commit that queued webhook events (and by
    /// a replay of parked ones): an idle account's task waits for it, it does not poll.
    pub(crate) wake: Arc<crate::gateway::wakes::Wakes>,
    /// The configuration each reload puts in force: an account that gains a
    /// `webhook_url` gets its task (url, secret and mode are read per batch).
    pub(crate) reloads: tokio::sync::watch::Receiver<Arc<crate::config::Config>>,
    /// With `[cluster]`: an account's events are posted only while this node holds its
    /// webhook queue's lease.
    pub(crate) leases: Option<Arc<crate::gateway::outbox::lease::Leases>>,
}

struct Shared {
    http: HttpConfig,
    store: Arc<dyn Store>,
    group: Arc<GroupCommit>,
    clock: Clock,
    cancel: CancellationToken,
    client: reqwest::Client,
    leases: Option<Arc<crate::gateway::outbox::lease::Leases>>,
}

impl Shared {
    /// Whether this node posts `queue`'s events now: always on one node; with
    /// `[cluster]` while it holds the queue's lease.
    fn may_post(&self, queue: &str) -> bool {
        self.leases
            .as_ref()
            .is_none_or(|leases| leases.holds(queue, tokio::time::Instant::now()).0)
    }
}

/// Runs one task per webhook account until `cancel`.
///
/// # Errors
/// The HTTP client cannot be built (TLS roots).
pub(crate) fn start(parts: WebhookParts) -> anyhow::Result<TaskTracker> {
    let tracker = TaskTracker::new();
    let client = reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .connect_timeout(POST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let shared = Arc::new(Shared {
        http: parts.http,
        store: parts.store,
        group: parts.group,
        clock: parts.clock,
        cancel: parts.cancel,
        client,
        leases: parts.leases,
    });
    let mut served = std::collections::HashSet::new();
    for account in parts.accounts.iter() {
        if account.config.webhook_url.is_some() {
            let wake = parts.wake.register(&account.name);
            served.insert(Arc::clone(&account.name));
            tracker.spawn(run_account(
                Arc::clone(&shared),
                Arc::clone(&parts.accounts),
                Arc::clone(&account.name),
                wake,
            ));
        }
    }
    // Fans a wake of every account out, as the SMPP outbox does (this task is its only
    // waiter); a wake of one account goes to its task directly. A reload that gives an
    // account a `webhook_url` starts its task here.
    let (wake, cancel) = (parts.wake, shared.cancel.clone());
    let (accounts, mut reloads, spawner) = (parts.accounts, parts.reloads, tracker.clone());
    tracker.spawn(async move {
        let mut reloading = true;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = wake.fan_out() => {}
                changed = reloads.changed(), if reloading => {
                    if changed.is_err() {
                        reloading = false;
                        continue;
                    }
                    reloads.borrow_and_update();
                    // A task already running whose URL a reload removed waits for a wake:
                    // with its URL back, what is queued goes now, not at the next event.
                    wake.every();
                    for account in accounts.iter() {
                        if account.config.webhook_url.is_some() && !served.contains(&account.name) {
                            served.insert(Arc::clone(&account.name));
                            let wake = wake.register(&account.name);
                            wake.notify_one();
                            spawner.spawn(run_account(
                                Arc::clone(&shared),
                                Arc::clone(&accounts),
                                Arc::clone(&account.name),
                                wake,
                            ));
                        }
                    }
                }
            }
        }
    });
    tracker.close();
    Ok(tracker)
}

async fn pause(cancel: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// Batches read and built ahead of the one being posted (each is signed when posted:
/// the signature covers the time of the post).
const READ_AHEAD: usize = 2;

/// A batch read from the account's webhook queue, its body built.
struct Batch {
    /// The items' seqs, oldest first (what a 2xx acknowledges, or a park moves).
    seqs: Vec<u64>,
    body: Bytes,
    /// When its oldest item was first queued (its park clock: kept in the store, so a
    /// restart does not start it again).
    queued: u64,
}

/// Failed posts of a batch before it may be parked, however old its events: events
/// replayed after a long outage get a few tries, not one.
const PARK_MIN_ATTEMPTS: u32 = 3;

/// How posting a batch ended.
enum Posted {
    /// A 2xx: the batch is to be acknowledged.
    Delivered,
    /// Failing for `webhook_park_after`: parked.
    Parked,
    /// Not posted and not to be: the account lost its URL, this node the queue's lease,
    /// or the parking could not be recorded. Read the queue again from its oldest item.
    Again,
    /// Stopping.
    Stop,
}

/// One webhook account's task: a pipeline of three steps, so that a batch's POST is not
/// held up by the store. A reader reads the queue ahead of the posts (at most
/// [`READ_AHEAD`] batches, from the oldest item, then on from the last it read) and
/// builds each batch's body; this task posts the batches one at a time, in order (a
/// batch is posted only after the one before it was answered 2xx or parked), and has
/// each delivered batch acknowledged in the store while it posts the next (one
/// acknowledgement under way at a time). Anything that breaks the sequence — an
/// acknowledgement that failed, a lost lease, a removed URL — starts the pipeline again
/// from the queue's oldest item: at least once, in order.
///
/// The account is looked up per batch: a reload's `webhook_url`, `webhook_secret` and
/// id style apply to the next post; while it has no URL (a reload removed it, or the
/// account) its queued events wait in the store.
async fn run_account(
    shared: Arc<Shared>,
    accounts: Arc<Accounts>,
    name: Arc<str>,
    wake: Arc<tokio::sync::Notify>,
) {
    let queue: Arc<str> = hook_queue(&name).into();
    let delivered = metrics::counter!("smppgate_webhook_events_total", "account" => name.to_string(), "outcome" => "delivered");
    let mut failures = Failures {
        attempts: 0,
        since: None,
        failed: metrics::counter!("smppgate_webhook_posts_failed_total", "account" => name.to_string()),
        parked: metrics::counter!("smppgate_outbox_parked_total", "account" => queue.to_string()),
    };
    while !shared.cancel.is_cancelled() {
        if accounts
            .get(name.as_bytes())
            .and_then(|account| account.config.webhook_url.clone())
            .is_none()
        {
            tokio::select! {
                () = shared.cancel.cancelled() => return,
                () = wake.notified() => {}
            }
            continue;
        }
        if !shared.may_post(&queue) {
            // Another node posts (or nobody holds the lease yet): the lease keeper wakes
            // this task when it takes the lease; a round's time at the latest.
            let round = shared
                .leases
                .as_ref()
                .map_or(Duration::from_secs(1), |leases| leases.every());
            tokio::select! {
                () = shared.cancel.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(round) => {}
            }
            continue;
        }
        let (ahead, mut batches) = tokio::sync::mpsc::channel(READ_AHEAD);
        let reader = tokio::spawn(read_ahead(
            Arc::clone(&shared),
            Arc::clone(&accounts),
            Arc::clone(&name),
            Arc::clone(&queue),
            Arc::clone(&wake),
            ahead,
        ));
        let mut acking: Option<tokio::task::JoinHandle<bool>> = None;
        let stop = loop {
            let batch = tokio::select! {
                () = shared.cancel.cancelled() => break true,
                batch = batches.recv() => batch,
            };
            // None: the reader stopped (cancelled, or the store failed): again.
            let Some(batch) = batch else { break false };
            match post(&shared, &accounts, &name, &queue, &batch, &mut failures).await {
                Posted::Delivered => {
                    if let Some(previous) = acking.take() {
                        if !previous.await.unwrap_or(false) {
                            break false;
                        }
                    }
                    let (shared, queue, delivered) =
                        (Arc::clone(&shared), Arc::clone(&queue), delivered.clone());
                    acking = Some(tokio::spawn(async move {
                        let count = batch.seqs.len() as u64;
                        let acks = batch
                            .seqs
                            .into_iter()
                            .map(|seq| Op::OutboxAck {
                                account: queue.to_string(),
                                seq,
                            })
                            .collect();
                        match shared.group.commit_bulk(acks).await {
                            Ok(()) => {
                                delivered.increment(count);
                                true
                            }
                            Err(error) => {
                                // Posted, not recorded: the batch goes again (at least once).
                                tracing::warn!(%error, account = %queue, "webhook: recording the delivery failed");
                                false
                            }
                        }
                    }));
                }
                Posted::Parked => {}
                Posted::Again => break false,
                Posted::Stop => break true,
            }
        };
        reader.abort();
        if let Some(acking) = acking {
            let _ = acking.await;
        }
        if stop {
            return;
        }
    }
}

/// Reads `queue` ahead of the posts: from its oldest item, then on from the last item
/// read; waits for the writer's wake when it is empty and lets a small batch fill for up
/// to [`LINGER_MS`]. Ends when the poster is gone, on `cancel`, or when the store fails
/// (after a second: the poster starts again from the oldest item).
async fn read_ahead(
    shared: Arc<Shared>,
    accounts: Arc<Accounts>,
    name: Arc<str>,
    queue: Arc<str>,
    wake: Arc<tokio::sync::Notify>,
    batches: tokio::sync::mpsc::Sender<Batch>,
) {
    let mut after: Option<u64> = None;
    loop {
        let items = {
            let store = Arc::clone(&shared.store);
            let queue = Arc::clone(&queue);
            let read = tokio::task::spawn_blocking(move || match after {
                None => store.outbox(&queue, BATCH),
                Some(after) => store.outbox_after(&queue, after, BATCH),
            });
            match read.await {
                Ok(Ok(items)) => items,
                Ok(Err(error)) => {
                    tracing::warn!(%error, account = %name, "webhook: reading the queue failed");
                    let _ = pause(&shared.cancel, Duration::from_secs(1)).await;
                    return;
                }
                Err(_) => return,
            }
        };
        let Some(oldest) = items.first().map(|item| item.queued) else {
            // Nothing queued: wait for the writer's wake (a permit stored since the read
            // above is taken at once).
            tokio::select! {
                () = shared.cancel.cancelled() => return,
                () = batches.closed() => return,
                () = wake.notified() => {}
            }
            continue;
        };
        let age = shared.clock.wall_ms().saturating_sub(oldest);
        if items.len() < BATCH && age < LINGER_MS {
            // Let the batch fill, no longer than the linger.
            let wait = Duration::from_millis((LINGER_MS - age).min(250));
            if !pause(&shared.cancel, wait).await {
                return;
            }
            continue;
        }
        let style = accounts
            .get(name.as_bytes())
            .map(|account| account.config.id_style)
            .unwrap_or_default();
        let store = Arc::clone(&shared.store);
        let built = tokio::task::spawn_blocking(move || {
            let mut events = Vec::with_capacity(items.len());
            let mut seqs = Vec::with_capacity(items.len());
            let mut broken = Vec::new();
            for item in &items {
                match event(&*store, item, style) {
                    Some(event) => {
                        events.push(event);
                        seqs.push(item.seq);
                    }
                    None => broken.push((item.seq, item.attempts)),
                }
            }
            let last = items.last().map(|item| item.seq);
            let batch = Batch {
                seqs,
                body: Bytes::from(Value::Array(events).to_string()),
                queued: oldest,
            };
            (batch, broken, last)
        });
        let Ok((batch, broken, last)) = built.await else {
            return;
        };
        if !broken.is_empty() && !park_broken(&shared, &name, &queue, broken).await {
            return;
        }
        after = last.or(after);
        if batch.seqs.is_empty() {
            continue;
        }
        if batches.send(batch).await.is_err() {
            return;
        }
    }
}

/// Parks queued items that are not a deliver_sm this gateway can read (written by it, so
/// only a damaged store has them), as the SMPP outbox does: listed with `receipts parked`,
/// never posted nor dropped in silence. `false` when the store refused (the reader then
/// starts again).
async fn park_broken(shared: &Shared, name: &str, queue: &str, broken: Vec<(u64, u32)>) -> bool {
    let now = shared.clock.wall_ms();
    for &(seq, _) in &broken {
        tracing::error!(account = %name, seq, "webhook: a queued item is not a deliver_sm this gateway can read: parked");
    }
    let park = broken
        .into_iter()
        .map(|(seq, attempts)| Op::OutboxPark {
            account: queue.to_owned(),
            seq,
            attempts,
            status: CommandStatus::ESME_RSYSERR.0,
            at: now,
        })
        .collect();
    match shared.group.commit_bulk(park).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, account = %name, "webhook: parking unreadable items failed");
            let _ = pause(&shared.cancel, Duration::from_secs(1)).await;
            false
        }
    }
}

/// A webhook account's run of failed posts.
struct Failures {
    attempts: u32,
    since: Option<u64>,
    failed: metrics::Counter,
    parked: metrics::Counter,
}

/// Posts `batch` until a 2xx, retrying after a back-off, and parks it once its oldest
/// event is `webhook_park_after` old and it failed [`PARK_MIN_ATTEMPTS`] times.
async fn post(
    shared: &Shared,
    accounts: &Accounts,
    name: &str,
    queue: &str,
    batch: &Batch,
    failures: &mut Failures,
) -> Posted {
    loop {
        let Some((url, secret)) = accounts.get(name.as_bytes()).and_then(|account| {
            Some((
                account.config.webhook_url.clone()?,
                account.config.webhook_secret.clone()?,
            ))
        }) else {
            return Posted::Again;
        };
        if !shared.may_post(queue) {
            // The lease moved: the new holder posts this batch.
            return Posted::Again;
        }
        let timestamp = shared.clock.wall_ms() / 1000;
        let outcome = shared
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-smppgate-timestamp", timestamp.to_string())
            .header(
                "x-smppgate-signature",
                signature(secret.as_bytes(), timestamp, &batch.body),
            )
            .body(batch.body.clone())
            .send()
            .await;
        let status = match &outcome {
            Ok(response) if response.status().is_success() => {
                failures.attempts = 0;
                failures.since = None;
                return Posted::Delivered;
            }
            Ok(response) => u32::from(response.status().as_u16()),
            Err(_) => 0,
        };
        let now = shared.clock.wall_ms();
        failures.failed.increment(1);
        failures.attempts = failures.attempts.saturating_add(1);
        // The park clock is the events' own age (from the store), not this run's:
        // counted from the first failure in memory, a dead endpoint parked one batch a
        // `webhook_park_after` and a gateway restarted daily never parked, while the
        // backlog grew to the store's retention (then dropped unlisted).
        let since = (*failures.since.get_or_insert(now)).min(batch.queued);
        let park_after =
            u64::try_from(shared.http.webhook_park_after.as_millis()).unwrap_or(u64::MAX);
        if failures.attempts >= PARK_MIN_ATTEMPTS && now.saturating_sub(since) >= park_after {
            tracing::warn!(account = %name, items = batch.seqs.len(), status, "webhook: failing too long, batch parked");
            let park: Vec<Op> = batch
                .seqs
                .iter()
                .map(|&seq| Op::OutboxPark {
                    account: queue.to_owned(),
                    seq,
                    attempts: failures.attempts,
                    status,
                    at: now,
                })
                .collect();
            if shared.group.commit_bulk(park).await.is_err() {
                return Posted::Again;
            }
            failures.parked.increment(batch.seqs.len() as u64);
            failures.attempts = 0;
            failures.since = None;
            return Posted::Parked;
        }
        let wait = backoff(&shared.http, failures.attempts);
        tracing::info!(account = %name, status, attempts = failures.attempts, ?wait, "webhook: post failed, retrying");
        if !pause(&shared.cancel, wait).await {
            return Posted::Stop;
        }
    }
}

/// `initial × 2^(attempts-1)`, at most `max`, then a random half to all of it (jitter:
/// many accounts failing at once do not retry in step).
fn backoff(http: &HttpConfig, attempts: u32) -> Duration {
    let doubled = http
        .webhook_retry_initial
        .saturating_mul(1_u32 << attempts.saturating_sub(1).min(20));
    let capped = doubled.min(http.webhook_retry_max);
    capped.mul_f64(0.5 + fastrand::f64() * 0.5)
}

fn rfc3339(millis: u64) -> String {
    crate::cli::messages::time(millis)
}

/// The JSON event of an outbox item: a receipt or an MO message.
fn event(store: &dyn Store, item: &OutboxItem, style: IdStyle) -> Option<Value> {
    let Body::DeliverSm(deliver_sm) =
        smppgate_protocol::codec::decode(Bytes::copy_from_slice(&item.deliver_sm))
            .ok()?
            .body
    else {
        return None;
    };
    Some(if deliver_sm.esm_class.is_delivery_receipt() {
        receipt_event(store, &deliver_sm, item, style)
    } else {
        mo_event(&deliver_sm, item)
    })
}

fn receipt_event(
    store: &dyn Store,
    deliver_sm: &DeliverSm,
    item: &OutboxItem,
    style: IdStyle,
) -> Value {
    let receipt = ReceiptText::parse(&deliver_sm.short_message);
    let id = receipt.id.clone().unwrap_or_default();
    let record = parse_id(id.as_bytes(), style).and_then(|n| store.get_latest(n).ok().flatten());
    let carrier = record
        .as_ref()
        .and_then(|r| r.parts.iter().find_map(|p| p.carrier.clone()));
    let done_at = record
        .as_ref()
        .and_then(|r| r.parts.iter().map(|p| p.updated).max())
        .unwrap_or(item.queued);
    json!({
        "type": "receipt",
        "id": record.as_ref().map_or(id, |r| format_id(r.id, style)),
        "client_ref": record.as_ref().and_then(|r| r.client_ref.clone()),
        "to": String::from_utf8_lossy(&deliver_sm.source_addr.addr),
        "state": receipt.stat,
        "err": receipt.err,
        "carrier": carrier,
        "parts": record.as_ref().map(|r| r.part_count),
        "submitted_at": record.as_ref().map(|r| rfc3339(r.accepted)),
        "done_at": rfc3339(done_at),
    })
}

fn mo_event(deliver_sm: &DeliverSm, item: &OutboxItem) -> Value {
    let data = crate::gateway::pipeline::user_data(deliver_sm);
    let text =
        smppgate_protocol::text::decode(deliver_sm.data_coding.0, &data, 0, TextConfig::default());
    json!({
        "type": "mo",
        "from": String::from_utf8_lossy(&deliver_sm.source_addr.addr),
        "to": String::from_utf8_lossy(&deliver_sm.destination_addr.addr),
        "opt_out": crate::gateway::is_opt_out(&text),
        "text": text,
        "received_at": rfc3339(item.queued),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231-style check against an independent computation of the same input.
        let sig = signature(b"secret", 1_700_000_000, b"[]");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"1700000000.[]");
        assert_eq!(
            sig,
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(sig, signature(b"secret", 1_700_000_001, b"[]"));
    }

    #[test]
    fn an_mo_item_becomes_an_mo_event() {
        use smppgate_protocol::types::Address;
        let mo = DeliverSm {
            source_addr: Address::international("8613900001111"),
            destination_addr: Address::international("10690000"),
            short_message: Bytes::from_static(b"TD"),
            ..DeliverSm::default()
        };
        let pdu = smppgate_protocol::pdu::Pdu::new(1, Body::DeliverSm(mo));
        let item = OutboxItem {
            seq: 1,
            account: "shop".into(),
            deliver_sm: smppgate_protocol::codec::encode_to_bytes(&pdu)
                .unwrap()
                .to_vec(),
            queued: 1_000,
            attempts: 0,
        };
        let store = crate::store::memory::MemoryStore::new();
        let event = event(&store, &item, IdStyle::Hex).unwrap();
        assert_eq!(event["type"], "mo");
        assert_eq!(event["from"], "8613900001111");
        assert_eq!(event["to"], "10690000");
        assert_eq!(event["text"], "TD");
        assert_eq!(event["opt_out"], true);
        assert_eq!(event["received_at"], "1970-01-01T00:00:01.000Z");
    }

    #[test]
    fn backoff_doubles_up_to_the_max_with_jitter() {
        let http = HttpConfig::default();
        for (attempts, full) in [(1, 1), (2, 2), (4, 8), (11, 600), (40, 600)] {
            let wait = backoff(&http, attempts).as_secs_f64();
            let full = f64::from(full);
            assert!(wait >= full * 0.5 && wait <= full, "{attempts}: {wait}");
        }
    }

    #[test]
    fn webhook_accounts_items_move_or_are_copied() {
        let mut config = crate::config::Config::demo();
        let mut hook = config.accounts[0].clone();
        hook.system_id = "hook".into();
        hook.webhook_url = Some("http://127.0.0.1:9/".into());
        let mut both = hook.clone();
        both.system_id = "both".into();
        both.webhook_mode = WebhookMode::Both;
        config.accounts.extend([hook, both]);
        let accounts = Accounts::new(&config.accounts);
        let item = |account: &str| {
            Op::OutboxPush(OutboxItem {
                seq: 0,
                account: account.into(),
                deliver_sm: Vec::new(),
                queued: 0,
                attempts: 0,
            })
        };
        let mut ops = vec![item("demo"), item("hook"), item("both")];
        route_to_webhooks(&mut ops, &accounts);
        let queues: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                Op::OutboxPush(item) => Some(item.account.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(queues, ["demo", "~hook:hook", "both", "~hook:both"]);
    }
}
