//! What a `[cluster]` node does when the live nodes change (docs/cluster.md "Node
//! liveness and takeover"): the membership itself is followed by the store
//! (`store::follow_liveness`), and this stage puts it in force here.
//!
//! - This node holds its [`Share`] of each carrier's binds (among the live nodes) and its
//!   limiter runs at its share of the contract among the live nodes *bound to that
//!   carrier* (their heartbeats say which), so the live nodes together open the
//!   carrier's `binds` and send its contract, and a node whose binds are down leaves its
//!   part to the others (re-applied at each change, as a reload would). The first share
//!   is the first one the store publishes (the pool opens no bind before it); when the
//!   store stops following the live nodes before that, this node takes the whole.
//! - When this node took a dead node's slot over, the slot's pending messages are part of
//!   this node's backlog now: they are counted into it per account (so `[store]
//!   max_pending` bounds what this node owes, theirs included, and the backlog gauge shows
//!   them), then every route is read from the store again from the start and the
//!   dispatcher finds them as it finds a backlog after a restart. And the
//!   early receipts the dead node held (kept under its own early account) are replayed
//!   through this node's writer: a receipt that came in on the dead node's carrier bind
//!   before the response to its submit was recorded (possibly here) still matches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use tokio::sync::mpsc;

use super::backlog::Backlog;
use super::intake::Missed;
use super::writer::{self, Event};
use crate::carrier::{Carriers, Class, Share};
use crate::store::{Membership, Store};

/// What the stage acts on.
pub(crate) struct MembershipParts {
    pub(crate) membership: watch::Receiver<Membership>,
    pub(crate) carriers: Arc<Carriers>,
    pub(crate) missed: Arc<Missed>,
    pub(crate) routes: Vec<Arc<str>>,
    /// What this node owes per account: a slot taken over adds its pending messages.
    pub(crate) backlog: Arc<Backlog>,
    /// Set while this node is the first live one: its housekeeping sweeps the shared
    /// outbox queues (the others leave them, so each item is dropped and counted once).
    pub(crate) sweeps: Arc<AtomicBool>,
    /// Where the dead nodes' early receipts are read from, and whom they go to.
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: mpsc::Sender<Event>,
    pub(crate) cancel: CancellationToken,
}

/// How often a node on work queues counts its backlog again (see `run`).
const RECOUNT: std::time::Duration = std::time::Duration::from_secs(30);

/// A recount reads every pending record (one JetStream read each: seconds for a large
/// backlog after an outage). The next waits this many times as long as the last took, when
/// that is longer than [`RECOUNT`] (at most [`RECOUNT_MAX`]): counting takes at most a
/// twentieth of the time.
const RECOUNT_SHARE: u32 = 20;
const RECOUNT_MAX: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// How long after a recount that took `took` the next one starts.
fn next_recount(took: std::time::Duration) -> std::time::Duration {
    took.saturating_mul(RECOUNT_SHARE)
        .clamp(RECOUNT, RECOUNT_MAX)
}

/// How long the pool waits for the store's first look at the live nodes before it opens
/// every bind of this node's own accord.
const FIRST_LOOK_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs until cancelled or until the membership's sender is gone.
pub(crate) async fn run(parts: MembershipParts) {
    let MembershipParts {
        mut membership,
        carriers,
        missed,
        routes,
        backlog,
        sweeps,
        store,
        writer,
        cancel,
    } = parts;
    // The watch's initial value is this node alone, before anyone looked: wait for the
    // store's first look (the pool holds no bind until then).
    // Bounded: a node that cannot look (its liveness bucket not answering) would send
    // nothing at all; after FIRST_LOOK_WAIT it holds the whole share (the watch's value
    // is this node alone) until a look comes.
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep(FIRST_LOOK_WAIT) => {
            tracing::warn!(
                wait = ?FIRST_LOOK_WAIT,
                "no look at the live nodes yet: this node holds every carrier's binds until one comes"
            );
        }
        changed = membership.changed() => {
            if changed.is_err() {
                tracing::warn!("node liveness not followed: this node holds every carrier's binds");
                carriers.set_share(Share::WHOLE);
                sweeps.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
    let mut taken = 0;
    let mut adopted = 0;
    // With work queues another node may send (and release) what this node accepted:
    // the backlog counts are taken from the store again now and then.
    let queued = store.work_queue().is_some();
    let mut recount_at = tokio::time::Instant::now() + RECOUNT;
    loop {
        let now = membership.borrow_and_update().clone();
        sweeps.store(now.first(), Ordering::Relaxed);
        let (index, of) = now.place();
        carriers.set_share(Share { index, of });
        // Each carrier's contract among the nodes bound to it (a node whose binds to it
        // are down leaves its part to the others).
        for name in carriers.carrier_names() {
            let place = now.tps_place(&name);
            carriers.set_tps_share(&name, place.map(|(index, of)| Share { index, of }));
        }
        if now.taken.len() > taken {
            // What of the dead node's backlog is still pending counts here now (the
            // work queues may have sent some already; the recount below keeps it true).
            for &slot in &now.taken[taken..] {
                count_slot(&store, &backlog, slot).await;
            }
            taken = now.taken.len();
            for route in &routes {
                for class in Class::ALL {
                    missed.add(route, class, 0);
                }
            }
        }
        for dead in now.adopted.iter().skip(adopted) {
            adopt_early_receipts(&store, &writer, dead).await;
        }
        adopted = adopted.max(now.adopted.len());
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                changed = membership.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                () = tokio::time::sleep_until(recount_at), if queued => {
                    let (store, backlog) = (Arc::clone(&store), Arc::clone(&backlog));
                    let started = tokio::time::Instant::now();
                    match blocking(move || backlog.recount(&*store)).await {
                        Ok(total) => tracing::debug!(total, took = ?started.elapsed(), "backlog counted again"),
                        Err(error) => tracing::warn!(%error, "backlog not counted again"),
                    }
                    recount_at = tokio::time::Instant::now() + next_recount(started.elapsed());
                }
            }
        }
    }
}

/// A store call run off the runtime's threads; its failure (or the task's) as text.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(call).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// Adds the pending messages of node slot `slot` (taken over) to this node's backlog.
/// A read that fails is logged and leaves the count as it was: the messages are still
/// sent; only the bound of `max_pending` is looser until a restart counts them.
async fn count_slot(store: &Arc<dyn Store>, backlog: &Arc<Backlog>, slot: u64) {
    let (store, counter) = (Arc::clone(store), Arc::clone(backlog));
    match blocking(move || {
        store.owned_messages_changed();
        counter.count_existing(&*store, Membership::slot_ids(slot))
    })
    .await
    {
        Ok((counted, held)) => {
            if held > 0 {
                metrics::gauge!("smppgate_review_held").increment(held as f64);
            }
            tracing::warn!(
                slot,
                counted,
                backlog = backlog.total(),
                "the backlog of a slot taken over is this node's now"
            );
        }
        Err(error) => {
            tracing::error!(slot, %error, "the backlog of a slot taken over not counted (its messages are still sent)");
        }
    }
}

/// Replays the early receipts node `dead` kept through this node's writer (each acked
/// under the dead node's account, matched or held again under this node's own), then
/// the parts of multipart MO it held for reassembly (moved under this node's own, so the
/// rest of each message, coming in here, completes it). A read that fails is logged: the
/// items stay in the store (`smppgate receipt unmatched` shows what never matched).
async fn adopt_early_receipts(store: &Arc<dyn Store>, writer: &mpsc::Sender<Event>, dead: &str) {
    let account = writer::early_account(Some(dead));
    let partial = writer::partial_account(Some(dead));
    let read = {
        let (store, account) = (Arc::clone(store), account.clone());
        blocking(move || {
            let mut events = writer::kept_early(&*store, &account)?;
            events.extend(writer::kept_partials(&*store, &partial, true)?);
            Ok(events)
        })
        .await
    };
    let events = match read {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(dead, %account, %error, "early receipts of a node taken over not read");
            return;
        }
    };
    if !events.is_empty() {
        let mo_parts = events
            .iter()
            .filter(|event| matches!(event, Event::KeptMo { .. }))
            .count();
        tracing::warn!(
            dead,
            receipts = events.len() - mo_parts,
            mo_parts,
            "early receipts of a node taken over (and its MO parts held for reassembly): matched here now"
        );
    }
    for event in events {
        if writer.send(event).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{RECOUNT, RECOUNT_MAX, next_recount};

    #[test]
    fn a_slow_recount_is_repeated_less_often() {
        assert_eq!(next_recount(Duration::from_millis(40)), RECOUNT);
        assert_eq!(next_recount(Duration::from_millis(1_500)), RECOUNT);
        // 500 000 pending records read in 6 s: the next count in 2 minutes, not 30 s.
        assert_eq!(
            next_recount(Duration::from_secs(6)),
            Duration::from_secs(120)
        );
        assert_eq!(next_recount(Duration::MAX), RECOUNT_MAX);
    }
}
