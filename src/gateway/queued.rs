//! The dispatcher of a `[cluster]` node: it pulls the route work queues its store keeps
//! ([`WorkQueue`], docs/cluster.md "Dispatch") instead of reading a pending set.
//!
//! Per route and class a puller asks the queue for as many messages as this node has
//! room for: none while no carrier of the route has a bind up here, or while the route's
//! lane or the [`InPool`] set is full. Every node with binds to a route's carriers pulls
//! from the same durable consumer, so a message goes to one node, and to another one
//! when that node dies holding it (after `ack_wait`).
//!
//! A pulled message is read again: as stored (the leader's copy) when a node may have
//! sent it already (a redelivery, a sweep's item: [`Work::verify`]), else from this
//! node's copy when it has one (the message it accepted itself); its parts still `Accepted` are
//! claimed ([`InPool::claim`]) and handed to the pool. The delivery is answered done
//! only when the writer has committed the outcome of each of them, and its hold is
//! extended every third of `ack_wait` until then. A message with nothing left to send is
//! answered done at once; one that is not due yet is handed back until it is; one whose
//! route changed (a reload) is queued on the new route and answered done.
//!
//! Intake does not hand messages over directly here: the store queues each message with
//! its insert. What becomes ready later (released from review, its parts all arrived)
//! and whatever an earlier run left pending is queued by a **sweep** of the pending set
//! this node owns (at start, when it takes a dead node's slot over, after a reload, on a
//! release); the queue keeps a message once, so a sweep never makes a second copy.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use smppgate_protocol::pdu::SubmitSm;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backlog::InPool;
use super::dispatcher::{DispatcherParts, Placed, batch_room, place, request_of, route_of};
use super::intake::references_for;
use super::stats::store_error;
use super::writer::Event;
use crate::carrier::{Carriers, Class};
use crate::store::{
    Membership, MessageRecord, QueueItem, Room, Settle, State, Store, Work, WorkQueue, WorkToken,
};

/// Deliveries between the pullers and the dispatcher.
const WORK_QUEUE: usize = 1024;
/// Deliveries handled together (one store read for all of them).
const BATCH: usize = 256;
/// Pending records read per page of a sweep.
const SWEEP_PAGE: usize = 4096;
/// A message whose record is not there yet (its item overtook the record's write) is
/// handed back this many times before it is dropped from the queue.
const MISSING_TRIES: u64 = 10;
/// How long a message handed back for lack of a record, a route, or the writer's room
/// waits.
const BACK_OFF: Duration = Duration::from_secs(1);
/// The longest a message not due yet is handed back for (it is looked at again then).
const LONGEST_DEFERRAL: Duration = Duration::from_secs(3600);

/// Runs until cancelled. What is not sent stays on the queue (and pending in the store).
pub(crate) async fn run(
    mut parts: DispatcherParts,
    queue: Arc<dyn WorkQueue>,
    routes: Vec<Arc<str>>,
) {
    // Intake's direct hand-off is closed (its sends fail at once): the store queues each
    // message intake stores.
    parts.rx.close();
    let (work_tx, mut work_rx) = mpsc::channel(WORK_QUEUE);
    let mut followed: Vec<Arc<str>> = Vec::new();
    follow_new(&parts, &queue, &routes, &mut followed, &work_tx);
    tokio::spawn(extend_holds(
        Arc::clone(&parts.in_pool),
        Arc::clone(&queue),
        parts.stopped.clone(),
    ));
    // A sweep at start: what an earlier run (or an older version) left pending.
    let mut sweep_wanted = true;
    let sweeping = Arc::new(AtomicBool::new(false));
    let cancel = parts.cancel.clone();
    loop {
        if !parts.missed.take().is_empty() {
            // Released messages, a reload, a slot taken over: the pending set is swept.
            sweep_wanted = true;
            follow_new(
                &parts,
                &queue,
                &parts.router.names(),
                &mut followed,
                &work_tx,
            );
        }
        if sweep_wanted && !sweeping.swap(true, Ordering::AcqRel) {
            sweep_wanted = false;
            let (store, in_pool, queue) = (
                Arc::clone(&parts.store),
                Arc::clone(&parts.in_pool),
                Arc::clone(&queue),
            );
            let (router, country) = (parts.router.clone(), parts.default_country.clone());
            let (stats, missed, sweeping) = (
                Arc::clone(&parts.stats),
                Arc::clone(&parts.missed),
                Arc::clone(&sweeping),
            );
            tokio::spawn(async move {
                sweep(store, in_pool, queue, router, country, stats).await;
                sweeping.store(false, Ordering::Release);
                // Another sweep may have been asked for meanwhile.
                missed.notify.notify_one();
            });
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            work = work_rx.recv() => {
                let Some(work) = work else { return };
                let mut batch = vec![work];
                while batch.len() < BATCH {
                    match work_rx.try_recv() {
                        Ok(work) => batch.push(work),
                        Err(_) => break,
                    }
                }
                handle(&parts, &queue, batch).await;
            }
            () = parts.missed.notify.notified() => {}
        }
    }
}

/// Extends the hold on every delivery this node is sending, every third of `ack_wait`
/// (a task of its own: a busy dispatcher must not let a hold lapse, or another node
/// would send the message too).
async fn extend_holds(in_pool: Arc<InPool>, queue: Arc<dyn WorkQueue>, cancel: CancellationToken) {
    let every = (queue.ack_wait() / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let held: Vec<(WorkToken, Settle)> = in_pool
            .claim_tokens()
            .into_iter()
            .map(|token| (token, Settle::Working))
            .collect();
        queue.settle(held);
    }
}

/// Starts a puller for each class of each route in `routes` not followed yet.
fn follow_new(
    parts: &DispatcherParts,
    queue: &Arc<dyn WorkQueue>,
    routes: &[Arc<str>],
    followed: &mut Vec<Arc<str>>,
    into: &mpsc::Sender<Work>,
) {
    for route in routes {
        if followed.contains(route) {
            continue;
        }
        followed.push(Arc::clone(route));
        for class in Class::ALL {
            queue.follow(
                Arc::clone(route),
                class,
                room(&parts.pool, &parts.in_pool, route, class),
                into.clone(),
                parts.cancel.clone(),
            );
        }
    }
}

/// How many messages of (route, class) this node takes now: none while it cannot send
/// on the route, and none until its lane has room for a batch ([`batch_room`]).
fn room(pool: &Arc<Carriers>, in_pool: &Arc<InPool>, route: &Arc<str>, class: Class) -> Room {
    let (pool, in_pool, route) = (Arc::clone(pool), Arc::clone(in_pool), Arc::clone(route));
    Arc::new(move || {
        if !pool.can_send(&route) {
            return 0;
        }
        batch_room(&pool, &in_pool, &route, class)
    })
}

/// What to do with one delivery, decided from the record read after the pull.
enum Plan {
    /// Answer it now.
    Answer(Settle),
    /// Expired before it could go: the writer expires it, then it is done.
    Expire,
    /// Its route is another one now: queued there, then done here.
    Move(Arc<str>),
    /// Send these parts (the end of its validity goes with them).
    Send(Vec<(u16, SubmitSm)>, u64),
}

/// Handles a batch of deliveries: one read of their records, then each is sent, handed
/// back or answered.
async fn handle(parts: &DispatcherParts, queue: &Arc<dyn WorkQueue>, batch: Vec<Work>) {
    // A message this node is sending already (the hold lapsed and it came back): the
    // new delivery takes the claim's place. Checked before the read: a claim that ends
    // after it has its outcome committed before, so the read then shows it.
    let fresh: Vec<Work> = batch
        .into_iter()
        .filter(|work| !parts.in_pool.renew(work.id, &work.token))
        .collect();
    if fresh.is_empty() {
        return;
    }
    // What a node may have sent already is read as stored; the rest (a first delivery of
    // an item queued with its insert) from this node's copy when it has one.
    let (mut verify, mut plain) = (Vec::new(), Vec::new());
    for work in &fresh {
        if work.verify { &mut verify } else { &mut plain }.push(work.id);
    }
    let store = Arc::clone(&parts.store);
    let read = tokio::task::spawn_blocking(move || {
        let mut records: HashMap<u64, MessageRecord> = HashMap::new();
        for record in store.get_latest_many(&verify)?.into_iter().flatten() {
            records.insert(record.id, record);
        }
        for record in store.get_many(&plain)?.into_iter().flatten() {
            records.insert(record.id, record);
        }
        Ok::<_, crate::store::StoreError>(records)
    });
    let mut records = match read.await {
        Ok(Ok(records)) => records,
        Ok(Err(error)) => {
            store_error(&parts.stats, "dispatcher read", &error);
            back_all(queue, fresh);
            return;
        }
        Err(_) => {
            back_all(queue, fresh);
            return;
        }
    };
    let again = fresh.iter().filter(|work| work.delivered > 1).count();
    if again > 0 {
        // Handed back (not due yet, no room, record not written yet) or not answered
        // within ack_wait by the node that took them (it died, or was cut off): the
        // queue's delivery count does not say which, so this is not a warning (a
        // deferred campaign is handed back every hour).
        metrics::counter!("smppgate_dispatch_redelivered_total").increment(again as u64);
        tracing::info!(
            messages = again,
            "messages delivered again (handed back, or not answered in time by the node that took them)"
        );
    }
    let now = parts.clock.wall_ms();
    let mut answers = Vec::new();
    let mut moves: Vec<(WorkToken, QueueItem)> = Vec::new();
    for work in fresh {
        let record = records.remove(&work.id);
        match plan(parts, &work, record.as_ref(), now) {
            Plan::Answer(how) => answers.push((work.token, how)),
            Plan::Expire => {
                tracing::debug!(id = work.id, "validity over before it could go: expired");
                let how = match parts.writer.try_send(Event::Expire(work.id)) {
                    Ok(()) => Settle::Done,
                    Err(_) => Settle::Later(BACK_OFF),
                };
                answers.push((work.token, how));
            }
            Plan::Move(route) => moves.push((work.token, (route, work.class, work.id))),
            Plan::Send(todo, expires) => send(parts, work, todo, expires).await,
        }
    }
    queue.settle(answers);
    if !moves.is_empty() {
        let queue = Arc::clone(queue);
        tokio::task::spawn_blocking(move || {
            let items: Vec<_> = moves.iter().map(|(_, item)| item.clone()).collect();
            let how = match queue.enqueue(&items) {
                Ok(()) => Settle::Done,
                Err(error) => {
                    tracing::warn!(%error, "messages whose route changed not queued there yet");
                    Settle::Later(BACK_OFF)
                }
            };
            queue.settle(moves.into_iter().map(|(token, _)| (token, how)).collect());
        });
    }
}

fn back_all(queue: &Arc<dyn WorkQueue>, batch: Vec<Work>) {
    queue.settle(
        batch
            .into_iter()
            .map(|work| (work.token, Settle::Later(BACK_OFF)))
            .collect(),
    );
}

/// What one delivery comes to, given its record as stored now.
fn plan(parts: &DispatcherParts, work: &Work, record: Option<&MessageRecord>, now: u64) -> Plan {
    let Some(record) = record else {
        if work.delivered < MISSING_TRIES {
            return Plan::Answer(Settle::Later(BACK_OFF));
        }
        tracing::warn!(
            id = work.id,
            "queued message not in the store: dropped from the queue"
        );
        return Plan::Answer(Settle::Done);
    };
    if record.state == State::Held || !record.parts.iter().any(|p| p.state == State::Accepted) {
        // Sent or ended already (by a node before this one), or held again for review.
        return Plan::Answer(Settle::Done);
    }
    if super::schedule::is_over(record.expires, now) {
        return Plan::Expire;
    }
    if record.not_before > now {
        let wait = Duration::from_millis(record.not_before - now);
        return Plan::Answer(Settle::Later(wait.min(LONGEST_DEFERRAL)));
    }
    let Some(request) = request_of(record) else {
        tracing::error!(
            id = record.id,
            "stored request does not decode: left pending"
        );
        return Plan::Answer(Settle::Done);
    };
    match route_of(&parts.router, &parts.default_country, record, &request) {
        Some(route) if route == work.route => {}
        Some(route) => return Plan::Move(route),
        None => {
            tracing::warn!(
                id = record.id,
                "no route takes this message now: handed back"
            );
            return Plan::Answer(Settle::Later(BACK_OFF * 60));
        }
    }
    let Ok(split) = super::pipeline::parts(&request, &mut references_for(record.id)) else {
        tracing::error!(
            id = record.id,
            "stored request does not split: left pending"
        );
        return Plan::Answer(Settle::Done);
    };
    let todo: Vec<(u16, SubmitSm)> = parts.in_pool.with(|set| {
        split
            .into_iter()
            .enumerate()
            .filter_map(|(i, sm)| Some((u16::try_from(i).ok()?, sm)))
            .filter(|(i, _)| {
                record
                    .parts
                    .get(usize::from(*i))
                    .is_some_and(|p| p.state == State::Accepted)
                    && !set.contains(&(record.id, *i))
            })
            .collect()
    });
    if todo.is_empty() {
        // Its parts are with the carrier here under no claim (not expected): back later.
        return Plan::Answer(Settle::Later(BACK_OFF));
    }
    Plan::Send(todo, record.expires)
}

/// Claims the delivery for `todo` and hands each part to the pool; the parts that find
/// no room end the claim's count with the message handed back for them.
async fn send(parts: &DispatcherParts, work: Work, todo: Vec<(u16, SubmitSm)>, expires: u64) {
    let in_pool = &parts.in_pool;
    in_pool.claim(work.id, work.token, todo.len());
    let mut room = true;
    for (part, submit_sm) in todo {
        if !room {
            in_pool.not_placed(work.id, true);
            continue;
        }
        match place(
            parts,
            work.id,
            part,
            work.class,
            &work.route,
            submit_sm,
            expires,
        )
        .await
        {
            Placed::Yes => {
                // Accepted here by an earlier run (not another node's message).
                if work.id < parts.first_id
                    && Membership::slot_of(work.id) == Membership::slot_of(parts.first_id)
                {
                    parts
                        .stats
                        .resent_after_restart
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            Placed::Already => in_pool.not_placed(work.id, false),
            Placed::NoRoom => {
                room = false;
                in_pool.not_placed(work.id, true);
            }
        }
    }
}

/// Queues every message of the pending set this node owns that has a part to send and
/// is not being sent here (the queue refuses what it holds already). Logged, not
/// returned: a failed sweep leaves the messages pending for the next one.
async fn sweep(
    store: Arc<dyn Store>,
    in_pool: Arc<InPool>,
    queue: Arc<dyn WorkQueue>,
    router: crate::carrier::Router,
    country: String,
    stats: Arc<super::stats::Stats>,
) {
    let swept = tokio::task::spawn_blocking(move || {
        let mut cursor = 0;
        let mut queued = 0;
        loop {
            let page = store.pending_page(cursor, SWEEP_PAGE)?;
            let Some(last) = page.last().map(|record| record.id) else {
                break;
            };
            let items: Vec<QueueItem> = page
                .iter()
                .filter(|record| {
                    record.state == State::Accepted
                        && record.parts.iter().any(|p| p.state == State::Accepted)
                        && !in_pool.claimed(record.id)
                })
                .filter_map(|record| {
                    let request = request_of(record)?;
                    let route = route_of(&router, &country, record, &request)?;
                    Some((route, record.class, record.id))
                })
                .collect();
            queue.enqueue(&items)?;
            queued += items.len();
            if page.len() < SWEEP_PAGE {
                break;
            }
            cursor = last;
        }
        Ok::<_, crate::store::StoreError>(queued)
    })
    .await;
    match swept {
        Ok(Ok(queued)) => tracing::info!(queued, "pending messages swept onto the route queues"),
        Ok(Err(error)) => store_error(&stats, "dispatch sweep", &error),
        Err(error) => tracing::error!(%error, "dispatch sweep task failed"),
    }
}
