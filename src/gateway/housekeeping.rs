//! Periodic work on the store: validity expiry (the writer marks the messages expired
//! and sends their EXPIRED receipts), retention (final messages removed), the delivery
//! statistics (days that are over rolled up into day rows; hours and days past
//! `stats_hour_retention` / `stats_retention` removed), the frequency-cap counters
//! changed since the last save (every few minutes and at a clean stop; over ones pruned
//! daily, see `policy/caps.rs`), the early receipts an earlier run kept, once their
//! TTL has passed, and the outbox items (queued or parked) no client took within the
//! retention (docs/adr/0024). Reads run off the runtime threads; what changes goes through the
//! writer's queue (awaited: backpressure, never a spawned task).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::policy::Policy;
use super::stats::{Stats, store_error};
use super::writer::{EARLY_MAX, Event, own_early_account, own_partial_account};
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{CapWindow, ExpiryBound, HOUR_MS, Op, Store};

/// Pending messages the expiry scan looks at per store call.
const EXPIRY_PAGE: usize = 4096;

/// What housekeeping needs.
pub(crate) struct HousekeepingParts {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: mpsc::Sender<Event>,
    pub(crate) stats: Arc<Stats>,
    /// Whose frequency-cap counters are saved.
    pub(crate) policy: Arc<dyn Policy>,
    pub(crate) clock: Clock,
    /// Whether this node drops the outbox items past the retention: always alone; in a
    /// `[cluster]` the first of the live nodes (set by the membership stage), so that the
    /// shared queues are swept and counted once.
    pub(crate) sweeps: Arc<AtomicBool>,
    /// The accounts in force (reloads included): whose queues retention sweeps.
    pub(crate) accounts: Arc<super::accounts::Accounts>,
    pub(crate) cancel: CancellationToken,
}

/// Runs until cancelled.
pub(crate) async fn run(parts: HousekeepingParts) {
    let store_config = &parts.config.store;
    let validity = millis(store_config.validity);
    let retention = store_config.retention;
    let early_ttl = millis(parts.config.receipts.early_ttl);
    let early_account = own_early_account(&parts.config);
    let partial_account = own_partial_account(&parts.config);
    let partial_ttl = millis(parts.config.receipts.mo_reassembly_ttl).saturating_add(60_000);
    let stats_retention = (
        millis(store_config.stats_hour_retention),
        millis(store_config.stats_retention),
    );
    // Scan for expiry every minute, or more often when validity is short.
    let every = Duration::from_millis((validity / 4).clamp(1_000, 60_000));
    // Cap counters: saved far more often than the send log drops records (the log keeps
    // them for `retention`), so the two together miss nothing across a restart.
    let cap_save_every = (millis(retention) / 4).clamp(60_000, 600_000);
    let mut caps = CapSaves {
        saved_at: parts.clock.wall_ms(),
        pruned_at: parts.clock.wall_ms(),
    };
    // Served as 0 from the start, not absent until something is dropped (the alert on
    // it must see it).
    for account in &parts.config.accounts {
        metrics::counter!("smppgate_outbox_expired_total", "account" => account.system_id.clone())
            .increment(0);
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = parts.cancel.cancelled() => {
                // A clean stop saves what changed since the last save (the writer stops
                // after housekeeping and commits it): a cap longer than the send log's
                // retention then holds across a restart however soon it comes (issue
                // #15; docs/adr/0016). A `kill -9` loses only unsaved counts, which the
                // send log still holds for `retention`.
                let _ = save_caps(&parts, parts.clock.wall_ms()).await;
                return;
            }
            _ = tick.tick() => {}
        }
        let now = parts.clock.wall_ms();
        if expire_pending(&parts, now, validity).await.is_err() {
            return; // the writer is gone: stopping
        }
        if parts.cancel.is_cancelled() {
            continue; // stopping: the rest of the round waits for the next run
        }
        if now.saturating_sub(caps.saved_at) >= cap_save_every {
            caps.saved_at = now;
            if save_caps(&parts, now).await.is_err() {
                return;
            }
        }
        if now.saturating_sub(caps.pruned_at) >= CAP_PRUNE_EVERY {
            caps.pruned_at = now;
            if prune_caps(&parts, now).await.is_err() {
                return;
            }
        }
        let retention_ms = millis(retention);
        if expire_outboxes(&parts, now.saturating_sub(retention_ms))
            .await
            .is_err()
        {
            return;
        }
        // Refusals counted while the writer had nothing to commit.
        if let Some(op) = parts.stats.delivery.take() {
            if parts.writer.send(Event::Ops(vec![op])).await.is_err() {
                return;
            }
        }
        let store = Arc::clone(&parts.store);
        let early_account = early_account.clone();
        let partial_account = partial_account.clone();
        let cleanup = tokio::task::spawn_blocking(move || {
            let removed = crate::store::expire_once(&*store, retention, now)?;
            stats_upkeep(&*store, stats_retention, now)?;
            // Early receipts kept in the store are done with after the TTL (matched, or
            // kept as unmatched by the writer).
            let mut done = queued_before(
                &*store,
                &early_account,
                now.saturating_sub(early_ttl),
                EARLY_MAX,
            )?;
            // So are kept MO parts (and delivered marks) past the reassembly TTL and a
            // minute: their message was delivered, whole or not, by then.
            done.extend(queued_before(
                &*store,
                &partial_account,
                now.saturating_sub(partial_ttl),
                EARLY_MAX,
            )?);
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

/// Outbox items read per store call when looking for those past the retention.
const OUTBOX_PAGE: usize = 4096;

/// Most outbox items one account drops per round (a client that asks for receipts and
/// never binds a receiver at 1 000 messages a second queues 60 000 a minute: a round a
/// minute keeps up with it).
const OUTBOX_EXPIRE_MAX: usize = 65_536;

/// The removals of `account`'s queued outbox items (receipts and MO not yet delivered,
/// or a pseudo-account's early receipts) queued before `before`, oldest first, at most
/// `max`: past the store's retention (a client that asks for receipts and never binds a
/// receiver must not grow the store without bound), or past the early receipts' TTL.
/// The queue is in queueing order, so the read stops at the first item young enough.
///
/// # Errors
/// The store's reads.
fn queued_before(
    store: &dyn Store,
    account: &str,
    before: u64,
    max: usize,
) -> Result<Vec<Op>, crate::store::StoreError> {
    let mut ops = Vec::new();
    let mut after = 0;
    while ops.len() < max {
        let page = store.outbox_peek(account, after, OUTBOX_PAGE.min(max - ops.len()))?;
        let Some(last) = page.last().map(|item| item.seq) else {
            break;
        };
        let full = page.len() == OUTBOX_PAGE.min(max - ops.len());
        for item in page {
            if item.queued >= before {
                return Ok(ops);
            }
            ops.push(Op::OutboxAck {
                account: account.to_owned(),
                seq: item.seq,
            });
        }
        if !full {
            break;
        }
        after = last;
    }
    Ok(ops)
}

/// The removals of `account`'s parked items (refused too often, see
/// `smppgate receipts parked`) first queued before `before`, at most `max`: parked items
/// are kept for the store's retention, as the messages they tell of.
///
/// # Errors
/// The store's read.
fn parked_before(
    store: &dyn Store,
    account: &str,
    before: u64,
    max: usize,
) -> Result<Vec<Op>, crate::store::StoreError> {
    Ok(store
        .parked(Some(account), max)?
        .into_iter()
        .take_while(|parked| parked.item.queued < before)
        .map(|parked| Op::ParkedDrop {
            account: account.to_owned(),
            seq: parked.item.seq,
        })
        .collect())
}

/// Drops every account's outbox items past the retention (see [`queued_before`]),
/// counted in `smppgate_outbox_expired_total{account}` (the queue's name: the account's,
/// or `~hook:` and it for its webhook queue, as `smppgate_outbox_parked_total`) and logged. `Err` when the writer
/// is gone.
///
/// In a `[cluster]` the queues are shared: only the node that `sweeps` does it (the reads
/// go aside of the consumers the outbox tasks keep, [`Store::outbox_peek`]).
async fn expire_outboxes(parts: &HousekeepingParts, before: u64) -> Result<(), ()> {
    if !parts.sweeps.load(Ordering::Relaxed) {
        return Ok(());
    }
    // Each account's SMPP queue and, with a webhook, its webhook queue (whose items park
    // after `webhook_park_after`, and whose parked items go here).
    // The accounts in force: one a reload added (or gave a webhook) is swept too.
    let queues: Vec<String> = parts
        .accounts
        .iter()
        .flat_map(|account| {
            let account = &account.config;
            let hook = account
                .webhook_url
                .is_some()
                .then(|| crate::http::webhook::hook_queue(&account.system_id));
            std::iter::once(account.system_id.clone()).chain(hook)
        })
        .collect();
    for queue in queues {
        let store = Arc::clone(&parts.store);
        let name = queue.clone();
        let found = tokio::task::spawn_blocking(move || {
            let queued = queued_before(&*store, &name, before, OUTBOX_EXPIRE_MAX)?;
            let parked = parked_before(&*store, &name, before, OUTBOX_EXPIRE_MAX)?;
            Ok::<_, crate::store::StoreError>((queued, parked))
        })
        .await;
        let (queued, parked) = match found {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => {
                store_error(&parts.stats, "outbox retention", &error);
                continue;
            }
            Err(_) => continue,
        };
        if !queued.is_empty() {
            tracing::warn!(
                queue = %queue,
                dropped = queued.len(),
                "outbox items older than the store's retention dropped undelivered: the account's receiver has not taken them (is one bound?)"
            );
        }
        if !parked.is_empty() {
            tracing::warn!(
                queue = %queue,
                dropped = parked.len(),
                "parked outbox items older than the store's retention dropped"
            );
        }
        let mut ops = queued;
        ops.extend(parked);
        if ops.is_empty() {
            continue;
        }
        metrics::counter!("smppgate_outbox_expired_total", "account" => queue)
            .increment(ops.len() as u64);
        parts.writer.send(Event::Ops(ops)).await.map_err(|_| ())?;
    }
    Ok(())
}

/// Saved cap counters are pruned (those whose windows are over) this often.
const CAP_PRUNE_EVERY: u64 = 24 * HOUR_MS;

/// Cap counters written per writer event.
const CAP_CHUNK: usize = 1024;

/// When the cap counters were last saved and pruned.
struct CapSaves {
    saved_at: u64,
    pruned_at: u64,
}

/// Writes the cap counters changed since the last save (read off the runtime threads:
/// the walk visits every entry); `Err` when the writer is gone.
async fn save_caps(parts: &HousekeepingParts, now: u64) -> Result<(), ()> {
    let policy = Arc::clone(&parts.policy);
    let Ok(changes) = tokio::task::spawn_blocking(move || policy.cap_changes(now)).await else {
        return Ok(());
    };
    send_caps(parts, changes).await
}

/// Removes the saved cap counters whose windows are over (those the policy dropped from
/// memory without a save). A removal only takes what was dead by its time, so one
/// queued behind a fresher save leaves that save.
async fn prune_caps(parts: &HousekeepingParts, now: u64) -> Result<(), ()> {
    let store = Arc::clone(&parts.store);
    let dead = tokio::task::spawn_blocking(move || {
        let mut dead = Vec::new();
        store
            .cap_windows(&mut |saved| {
                if saved.dead_after <= now {
                    dead.push(CapWindow {
                        caps: Vec::new(),
                        ..saved
                    });
                }
                true
            })
            .map(|()| dead)
    })
    .await;
    match dead {
        Ok(Ok(dead)) => {
            if !dead.is_empty() {
                tracing::info!(removed = dead.len(), "frequency caps: over counters pruned");
            }
            send_caps(parts, dead).await
        }
        Ok(Err(error)) => {
            store_error(&parts.stats, "cap prune", &error);
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

async fn send_caps(parts: &HousekeepingParts, windows: Vec<CapWindow>) -> Result<(), ()> {
    let mut windows = windows.into_iter().peekable();
    while windows.peek().is_some() {
        let chunk: Vec<CapWindow> = windows.by_ref().take(CAP_CHUNK).collect();
        parts
            .writer
            .send(Event::Ops(vec![Op::CapWindows(chunk)]))
            .await
            .map_err(|_| ())?;
    }
    Ok(())
}

/// Rolls the days before today up and trims hour and day rows past their retention
/// (`(hours, days)` in ms).
fn stats_upkeep(
    store: &dyn Store,
    (hour_retention, day_retention): (u64, u64),
    now: u64,
) -> Result<(), crate::store::StoreError> {
    const DAY_MS: u64 = 24 * HOUR_MS;
    let rolled = store.roll_up_stats(now / DAY_MS)?;
    let trimmed = store.trim_stats(
        now.saturating_sub(hour_retention) / HOUR_MS,
        now.saturating_sub(day_retention) / DAY_MS,
    )?;
    if rolled > 0 || trimmed > 0 {
        tracing::info!(
            rolled,
            trimmed,
            "delivery statistics: days rolled up, rows trimmed"
        );
    }
    Ok(())
}

/// Sends the writer every pending message whose validity is over (see
/// [`super::schedule::expiry_of`]): those whose own expiry passed since the last scan,
/// then those whose store validity has, oldest first, page by page. A store that can
/// tell (fjall) hands over only those two kinds: the scan does not read the records of
/// the millions of messages that may be awaiting their receipts.
async fn expire_pending(parts: &HousekeepingParts, now: u64, validity: u64) -> Result<(), ()> {
    let due = ExpiryBound { now, validity };
    let mut by_store = false;
    let mut cursor = 0;
    loop {
        if parts.cancel.is_cancelled() {
            // Stopping: a long backlog of expiries (after downtime) must not hold the
            // stop past its grace; the next run's scan finds them again.
            return Ok(());
        }
        let store = Arc::clone(&parts.store);
        let page = tokio::task::spawn_blocking(move || {
            if by_store {
                store.expiry_page(cursor, EXPIRY_PAGE, due)
            } else {
                store.own_expiries(due, EXPIRY_PAGE)
            }
        })
        .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(error)) => {
                store_error(&parts.stats, "expiry scan", &error);
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        for record in &page.candidates {
            if now >= super::schedule::expiry_of(record, validity) {
                parts
                    .writer
                    .send(Event::Expire(record.id))
                    .await
                    .map_err(|_| ())?;
            }
        }
        match page.next {
            Some(next) if by_store => cursor = next,
            Some(_) => {}
            None if by_store => return Ok(()),
            None => by_store = true,
        }
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

    /// An account that never takes its receipts: the items queued before the cut are
    /// dropped (oldest first, at most `max` a round), the younger ones and another
    /// account's are kept, and a store with nothing old answers nothing.
    #[test]
    fn outbox_items_past_the_retention_are_dropped_oldest_first() {
        let store = MemoryStore::new();
        let item = |account: &str, queued| {
            Op::OutboxPush(crate::store::OutboxItem {
                seq: 0,
                account: account.to_owned(),
                deliver_sm: vec![1, 2, 3],
                queued,
                attempts: 0,
            })
        };
        let mut ops: Vec<Op> = (0..10_000).map(|n| item("away", T0 + n)).collect();
        ops.push(item("other", T0));
        store.commit(&ops).unwrap();
        let seqs = |ops: &[Op]| -> Vec<u64> {
            ops.iter()
                .map(|op| match op {
                    Op::OutboxAck { account, seq } if account == "away" => *seq,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let all: Vec<u64> = store
            .outbox("away", 20_000)
            .unwrap()
            .iter()
            .map(|i| i.seq)
            .collect();
        // Queued before T0 + 9 000: the first 9 000, over three pages.
        let dropped = queued_before(&store, "away", T0 + 9_000, 65_536).unwrap();
        assert_eq!(seqs(&dropped), all[..9_000]);
        // At most `max` a round.
        let some = queued_before(&store, "away", T0 + 9_000, 5_000).unwrap();
        assert_eq!(seqs(&some), all[..5_000]);
        assert!(
            queued_before(&store, "away", T0, 65_536)
                .unwrap()
                .is_empty()
        );
        store.commit(&dropped).unwrap();
        assert_eq!(store.outbox("away", 20_000).unwrap().len(), 1_000);
        assert!(
            queued_before(&store, "away", T0 + 9_000, 65_536)
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.outbox("other", 10).unwrap().len(), 1);
        // Parked items go by their first queueing too.
        let first = store.outbox("away", 2).unwrap();
        store
            .commit(
                &first
                    .iter()
                    .map(|item| Op::OutboxPark {
                        account: "away".to_owned(),
                        seq: item.seq,
                        attempts: 5,
                        status: 8,
                        at: T0 + 20_000,
                    })
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        assert!(
            parked_before(&store, "away", T0 + 9_000, 10)
                .unwrap()
                .is_empty()
        );
        let parked = parked_before(&store, "away", T0 + 9_001, 10).unwrap();
        assert_eq!(
            parked,
            [Op::ParkedDrop {
                account: "away".to_owned(),
                seq: first[0].seq,
            }]
        );
        store.commit(&parked).unwrap();
        assert_eq!(store.parked(Some("away"), 10).unwrap().len(), 1);
    }

    /// In a cluster the outbox queues are shared: a node that does not sweep (not the
    /// first live one) leaves the old items; the one that sweeps drops them, through the
    /// writer, once. The account is one a reload added (the start's configuration does
    /// not have it): its queue is swept all the same (before, only the start's accounts
    /// were).
    #[tokio::test(start_paused = true)]
    async fn only_the_sweeping_node_drops_outbox_items_past_the_retention() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let week = 7 * 24 * HOUR_MS;
        let ops: Vec<Op> = (0..3)
            .map(|n| {
                Op::OutboxPush(crate::store::OutboxItem {
                    seq: 0,
                    account: "demo".to_owned(),
                    deliver_sm: vec![n],
                    queued: T0 - week - 60_000 + u64::from(n),
                    attempts: 0,
                })
            })
            .collect();
        store.commit(&ops).unwrap();
        let (writer, mut events) = mpsc::channel(16);
        let sweeps = Arc::new(AtomicBool::new(false));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(HousekeepingParts {
            accounts: Arc::new(super::super::accounts::Accounts::new(
                &Config::demo().accounts,
            )),
            config: Arc::new(Config {
                accounts: Vec::new(),
                ..Config::demo()
            }),
            store: Arc::clone(&store),
            writer,
            stats: Arc::new(Stats::default()),
            policy: Arc::new(super::super::policy::PassThrough),
            clock: Clock::starting_at(T0),
            sweeps: Arc::clone(&sweeps),
            cancel: cancel.clone(),
        }));
        let acks = |events: &mut mpsc::Receiver<Event>| {
            let mut seqs = Vec::new();
            while let Ok(event) = events.try_recv() {
                if let Event::Ops(ops) = event {
                    seqs.extend(ops.into_iter().filter_map(|op| match op {
                        Op::OutboxAck { account, seq } if account == "demo" => Some(seq),
                        _ => None,
                    }));
                }
            }
            seqs
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(acks(&mut events).is_empty(), "a node that does not sweep");
        sweeps.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let queued: Vec<u64> = store
            .outbox("demo", 10)
            .unwrap()
            .iter()
            .map(|item| item.seq)
            .collect();
        assert_eq!(acks(&mut events), queued);
        cancel.cancel();
        task.await.unwrap();
    }

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
    async fn statistics_roll_up_and_are_trimmed_by_their_retention_as_the_clock_moves() {
        use crate::store::{Counters, FjallStore, StatsKey};
        const DAY: u64 = 24 * HOUR_MS;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FjallStore::open(dir.path(), false).unwrap());
        // T0 is 2026-12-06 07:00 UTC. One count an hour from 10 days before it.
        let today = T0 / DAY * DAY;
        let sent = |n| Counters {
            sent: n,
            ..Counters::default()
        };
        for hour in (today - 10 * DAY) / HOUR_MS..T0 / HOUR_MS {
            let key = StatsKey::at(hour * HOUR_MS, "demo", "r", "c");
            store.commit(&[Op::Stats(vec![(key, sent(1))])]).unwrap();
        }
        let mut config = Config::demo();
        config.store.stats_hour_retention = Duration::from_millis(3 * DAY);
        config.store.stats_retention = Duration::from_millis(7 * DAY);
        let (writer, _events) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let accounts = Arc::new(super::super::accounts::Accounts::new(&config.accounts));
        let task = tokio::spawn(run(HousekeepingParts {
            accounts,
            config: Arc::new(config),
            store: Arc::clone(&store) as Arc<dyn Store>,
            writer,
            stats: Arc::new(Stats::default()),
            policy: Arc::new(super::super::policy::PassThrough),
            clock: Clock::starting_at(T0),
            sweeps: Arc::new(AtomicBool::new(true)),
            cancel: cancel.clone(),
        }));
        let sum = |rows: Vec<(StatsKey, Counters)>| rows.iter().map(|(_, c)| c.sent).sum::<u64>();
        let oldest_hour = |rows: &[(StatsKey, Counters)]| rows.iter().map(|(k, _)| k.hour).min();
        // The first round runs at once (the tick's first fire).
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Days before today are rolled up; day rows are kept 7 days (from today - 7),
        // hours 3 days back from now (T0 - 72 h), but only of days rolled up.
        let coarse = store.stats_coarse(0).unwrap();
        assert_eq!(
            sum(coarse.clone()),
            7 * 24 + 7,
            "days -7 .. -1, and today's hours"
        );
        assert_eq!(oldest_hour(&coarse), Some((today - 7 * DAY) / HOUR_MS));
        let hours = store.stats(0).unwrap();
        assert_eq!(oldest_hour(&hours), Some((T0 - 3 * DAY) / HOUR_MS));
        assert_eq!(hours.len(), 3 * 24);
        // A day later (the clock injected, moved by tokio's): one more day of each gone,
        // today's hours now a day row.
        tokio::time::sleep(Duration::from_millis(DAY)).await;
        let coarse = store.stats_coarse(0).unwrap();
        assert_eq!(sum(coarse.clone()), 6 * 24 + 7);
        assert_eq!(oldest_hour(&coarse), Some((today - 6 * DAY) / HOUR_MS));
        let hours = store.stats(0).unwrap();
        assert_eq!(oldest_hour(&hours), Some((T0 - 2 * DAY) / HOUR_MS));
        cancel.cancel();
        task.await.unwrap();
    }

    /// Housekeeping on the demo configuration, its clock at `T0`, sweeping.
    fn demo_parts(
        store: Arc<dyn Store>,
        writer: mpsc::Sender<Event>,
        cancel: CancellationToken,
    ) -> HousekeepingParts {
        HousekeepingParts {
            accounts: Arc::new(super::super::accounts::Accounts::new(
                &Config::demo().accounts,
            )),
            config: Arc::new(Config::demo()),
            store,
            writer,
            stats: Arc::new(Stats::default()),
            policy: Arc::new(super::super::policy::PassThrough),
            clock: Clock::starting_at(T0),
            sweeps: Arc::new(AtomicBool::new(true)),
            cancel,
        }
    }

    /// Ids rise with acceptance, as intake gives them.
    async fn expires_each_at_its_own_time(store: Arc<dyn Store>) {
        let hour = crate::store::HOUR_MS;
        store
            .commit(&[
                // Its own time not kept: the store's validity (72 h), 30 s from now.
                pending(1, T0 - 72 * hour + 30_000, 0),
                // Its own validity: one minute.
                pending(2, T0, T0 + 60_000),
                // Its own validity: two hours.
                pending(3, T0, T0 + 2 * hour),
                pending(4, T0, 0),
                // At a carrier already: its receipt may come late; the store's validity.
                sent(5, T0, T0 + 60_000),
            ])
            .unwrap();
        let (writer, mut events) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(demo_parts(store, writer, cancel.clone())));
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
        assert_eq!(expired, [1, 2]);
        cancel.cancel();
        task.await.unwrap();
    }

    /// A stop does not wait for a long expiry backlog (after downtime): the scan checks
    /// its cancellation between pages and leaves the rest for the next run.
    #[tokio::test]
    async fn a_cancelled_expiry_scan_stops_after_the_page_it_is_in() {
        let store = Arc::new(MemoryStore::new());
        let total = 3 * EXPIRY_PAGE as u64 + 10;
        let ops: Vec<Op> = (1..=total).map(|id| pending(id, T0, T0 - 1)).collect();
        store.commit(&ops).unwrap();
        // Room for one event: the scan waits on each send, as on a busy writer.
        let (writer, mut events) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        let parts = demo_parts(store, writer, cancel.clone());
        let validity = millis(Config::demo().store.validity);
        let scan = tokio::spawn(async move { expire_pending(&parts, T0, validity).await });
        let mut expired = 0;
        while let Some(event) = events.recv().await {
            if let Event::Expire(_) = event {
                expired += 1;
                // The stop comes while the first page is being sent.
                cancel.cancel();
            }
        }
        assert_eq!(scan.await.unwrap(), Ok(()));
        assert_eq!(expired, EXPIRY_PAGE, "the first page only, of {total}");
    }

    #[tokio::test(start_paused = true)]
    async fn each_pending_message_expires_at_its_own_time() {
        expires_each_at_its_own_time(Arc::new(MemoryStore::new())).await;
    }

    /// The same on fjall, whose scan reads only the records of messages that may be due.
    #[tokio::test(start_paused = true)]
    async fn each_pending_message_expires_at_its_own_time_on_fjall() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::FjallStore::open(dir.path(), false).unwrap();
        expires_each_at_its_own_time(Arc::new(store)).await;
    }
}
