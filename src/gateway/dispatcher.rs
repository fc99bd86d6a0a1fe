//! The dispatcher: the only stage that hands parts to the carrier pool.
//!
//! Messages come from intake through a bounded queue, already durable. The pool's lanes
//! are only a window onto the backlog: when a route's lane is full (a carrier down, a
//! campaign larger than the window), when the queue from intake was full, when a message
//! is deferred, and after a restart, that (route, class) is *spilled*: what is on disk is
//! read back in pages, oldest first, and handed over as the lane has room. The backlog
//! is the store; memory holds a window of it.
//!
//! No part goes twice: a part is in [`InPool`] from just before it is handed over until
//! its outcome is durable, and a part read from the store is taken only when it is not in
//! that set *and* still reads `Accepted` when read again after the check. A message that
//! intake queued and a scan already took is recognised by its id ([`Recent`]). Nothing
//! acknowledged is ever failed for lack of room: it waits on disk.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::codec::decode;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, SubmitSm};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backlog::{InPool, Taken};
use super::intake::{Dispatch, Missed, references_for};
use super::stats::{Stats, store_error};
use super::writer::Event;
use crate::carrier::{
    Carriers, Class, FailReason, Outcome, OutcomeResult, Router, Submission, SubmitError,
};
use crate::clock::Clock;
use crate::store::{MessageRecord, State, Store};

/// Records read from the store per page.
const PAGE: usize = 256;
/// Ids the scans took recently (so the same message queued by intake is not sent again).
const RECENT: usize = 65_536;
/// Pages one (route, class) may read in a row before the others get their turn.
const PAGES_PER_TURN: usize = 16;
/// The most room a lane waits for before its backlog is read again (see [`batch_room`]).
const PULL_AT: usize = 128;
/// How often spilled routes are looked at when nothing else wakes the dispatcher.
const RETRY: Duration = Duration::from_millis(200);

/// What the dispatcher needs, handed over by [`super::Gateway::start`].
pub(crate) struct DispatcherParts {
    pub(crate) rx: mpsc::Receiver<Dispatch>,
    pub(crate) missed: Arc<Missed>,
    pub(crate) pool: Arc<Carriers>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) router: Router,
    pub(crate) default_country: String,
    pub(crate) in_pool: Arc<InPool>,
    /// For parts no route takes (they fail at once).
    pub(crate) outcomes: mpsc::Sender<Outcome>,
    /// For messages whose validity ran out before they could go (expired there, EXPIRED
    /// receipt; when the queue is full housekeeping finds them later).
    pub(crate) writer: mpsc::Sender<Event>,
    /// Ids below were accepted by an earlier run.
    pub(crate) first_id: u64,
    pub(crate) stats: Arc<Stats>,
    pub(crate) clock: Clock,
    pub(crate) cancel: CancellationToken,
    /// The end of the whole stop (after the writer committed the pool's last outcomes):
    /// with `[cluster]`, the work queue's holds on the messages in the pool are renewed
    /// until then, so the drain does not let another node take and send them again.
    pub(crate) stopped: CancellationToken,
}

/// Ids taken from the store lately, oldest forgotten first.
#[derive(Debug, Default)]
struct Recent {
    order: VecDeque<u64>,
    set: HashSet<u64>,
}

impl Recent {
    fn insert(&mut self, id: u64) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > RECENT {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn take(&mut self, id: u64) -> bool {
        self.set.remove(&id)
    }
}

/// A (route, class) read from the store; OTP sorts first.
type Spill = (usize, Arc<str>);

/// How handing a part over went.
pub(super) enum Placed {
    Yes,
    /// It was in the pool already (a scan took it): nothing to do.
    Already,
    /// No room (lane full, in-pool cap, or the pool is stopping): it stays on disk.
    NoRoom,
}

struct Dispatcher {
    parts: DispatcherParts,
    /// Spilled (route, class) → the id the next page starts after.
    spilled: BTreeMap<Spill, u64>,
    /// Deferred messages: when to look at each (route, class) again, and from where.
    wakeups: Wakeups,
    recent: Recent,
}

/// A message read back from the store, with the parts still to send.
struct Candidate {
    id: u64,
    parts: Vec<(u16, SubmitSm)>,
    expires: u64,
}

/// One page of a scan.
struct Page {
    candidates: Vec<Candidate>,
    /// Messages of this (route, class) whose validity is over: expired, not sent.
    expired: Vec<u64>,
    /// Messages whose every part has ended but which are not final themselves: stored
    /// final-to-be (refused by a rule answered by receipt) by a run that stopped before
    /// the writer settled them. Settled now, not at the end of their validity.
    unsettled: Vec<u64>,
    last: u64,
    read: usize,
    /// The earliest time a deferred message of the page is due, and the first such
    /// message's id (the page is in id order).
    earliest_deferred: Option<(u64, u64)>,
}

/// When to read the backlog of a (route, class) again for its deferred messages, and
/// from which id: the lowest of the deferred messages it has seen. Reading from the
/// start instead read every pending record, the millions awaiting their receipts
/// included, each time a deferral fell due (a quiet-hours window ending, each scheduled
/// time).
#[derive(Debug, Default)]
struct Wakeups {
    by_key: HashMap<Spill, Wakeup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wakeup {
    /// When the first of them is due.
    at: u64,
    /// The lowest id among them.
    from: u64,
}

impl Wakeups {
    /// Message `id` of `key` waits until `until`.
    fn defer(&mut self, key: Spill, until: u64, id: u64) {
        let wakeup = self.by_key.entry(key).or_insert(Wakeup {
            at: until,
            from: id,
        });
        wakeup.at = wakeup.at.min(until);
        wakeup.from = wakeup.from.min(id);
    }

    /// The keys due at `now`, each with the cursor its read starts after; forgotten
    /// here (the read finds those still waiting and defers them again).
    fn due(&mut self, now: u64) -> Vec<(Spill, u64)> {
        let mut due = Vec::new();
        self.by_key.retain(|key, wakeup| {
            let waits = wakeup.at > now;
            if !waits {
                due.push((key.clone(), wakeup.from.saturating_sub(1)));
            }
            waits
        });
        due
    }

    /// When the next one is due.
    fn next(&self) -> Option<u64> {
        self.by_key.values().map(|wakeup| wakeup.at).min()
    }
}

fn spill_key(route: &Arc<str>, class: Class) -> Spill {
    (class.index(), Arc::clone(route))
}

fn class_of(index: usize) -> Class {
    Class::ALL.get(index).copied().unwrap_or(Class::Marketing)
}

/// Runs until cancelled. Parts not handed over stay pending in the store.
pub(crate) async fn run(parts: DispatcherParts, routes: Vec<Arc<str>>) {
    let mut dispatcher = Dispatcher {
        parts,
        spilled: BTreeMap::new(),
        wakeups: Wakeups::default(),
        recent: Recent::default(),
    };
    // After a restart everything pending is on disk only: read every route from there.
    for route in &routes {
        for class in Class::ALL {
            dispatcher.spilled.insert(spill_key(route, class), 0);
        }
    }
    dispatcher.run().await;
}

impl Dispatcher {
    async fn run(&mut self) {
        let cancel = self.parts.cancel.clone();
        let missed = Arc::clone(&self.parts.missed);
        let in_pool = Arc::clone(&self.parts.in_pool);
        loop {
            for ((route, class), id) in missed.take() {
                self.spill(&route, class, id);
            }
            self.due_wakeups();
            self.scan_spilled().await;
            if cancel.is_cancelled() {
                return;
            }
            let wait = self.next_wait();
            let spilled = !self.spilled.is_empty();
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                message = self.parts.rx.recv() => match message {
                    Some(message) => {
                        self.take(message).await;
                        // Whatever else is queued, without waking again per message.
                        self.take_queued().await;
                    }
                    None => return,
                },
                () = missed.notify.notified() => {}
                () = in_pool.room.notified(), if spilled => {}
                () = sleep(wait) => {}
            }
        }
    }

    /// How long to wait for nothing: the next deferral, or a retry while spilled.
    fn next_wait(&self) -> Option<Duration> {
        let now = self.parts.clock.wall_ms();
        let deferred = self.wakeups.next().map(|at| {
            self.parts
                .clock
                .recheck(Duration::from_millis(at.saturating_sub(now)))
        });
        let retry = (!self.spilled.is_empty()).then_some(RETRY);
        match (deferred, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn due_wakeups(&mut self) {
        let now = self.parts.clock.wall_ms();
        for (key, from) in self.wakeups.due(now) {
            // From the first deferred message on (or from where a read already is).
            let cursor = self.spilled.entry(key).or_insert(from);
            *cursor = (*cursor).min(from);
        }
    }

    /// Reads (route, class) from the store from `id` on (rewinding an existing cursor).
    fn spill(&mut self, route: &Arc<str>, class: Class, id: u64) {
        let cursor = self
            .spilled
            .entry(spill_key(route, class))
            .or_insert(u64::MAX);
        *cursor = (*cursor).min(id.saturating_sub(1));
    }

    /// A message from intake.
    async fn take(&mut self, message: Dispatch) {
        let key = spill_key(&message.route, message.class);
        if super::schedule::is_over(message.expires, self.parts.clock.wall_ms()) {
            self.expire(message.id);
            return;
        }
        if message.not_before > self.parts.clock.wall_ms() {
            // It waits on disk; the route is read again when it is due.
            self.wakeups.defer(key, message.not_before, message.id);
            return;
        }
        if let Some(cursor) = self.spilled.get_mut(&key) {
            // Read from the store in order with the rest; a message committed out of id
            // order moves the cursor back so it is not skipped.
            *cursor = (*cursor).min(message.id.saturating_sub(1));
            return;
        }
        if self.recent.take(message.id) {
            return; // a scan took it already
        }
        for (part, submit_sm) in message.parts.into_iter().enumerate() {
            let part = u16::try_from(part).unwrap_or(u16::MAX);
            match place(
                &self.parts,
                message.id,
                part,
                message.class,
                &message.route,
                submit_sm,
                message.expires,
            )
            .await
            {
                Placed::Yes | Placed::Already => {}
                Placed::NoRoom => {
                    self.spill(&message.route, message.class, message.id);
                    return;
                }
            }
        }
    }

    /// A message whose validity is over is not sent: the writer expires it. When its
    /// queue is full the message stays pending and housekeeping's next scan expires it.
    fn expire(&self, id: u64) {
        tracing::debug!(id, "validity over before it could go: expired");
        let _ = self.parts.writer.try_send(Event::Expire(id));
    }

    /// Takes what intake has queued (up to a batch), without waiting.
    async fn take_queued(&mut self) {
        for _ in 0..1024 {
            match self.parts.rx.try_recv() {
                Ok(message) => self.take(message).await,
                Err(_) => break,
            }
        }
    }

    /// One page for each spilled (route, class) that has room, OTP first.
    async fn scan_spilled(&mut self) {
        let keys: Vec<Spill> = self.spilled.keys().cloned().collect();
        for key in keys {
            // Pages of other routes' or classes' messages are walked past without waiting
            // for the next wake-up, up to a budget per turn.
            for _ in 0..PAGES_PER_TURN {
                // What intake queued meanwhile goes first: an OTP must not wait while a
                // campaign's backlog is read back page after page (each page is a store
                // read, a decode and a split of up to PAGE messages).
                self.take_queued().await;
                if !self.scan_page(&key).await {
                    break;
                }
            }
        }
    }

    /// One page of a spilled (route, class). Returns whether to read the next page now
    /// (the page was full and all of it was handed over).
    async fn scan_page(&mut self, key: &Spill) -> bool {
        if self.parts.cancel.is_cancelled() {
            return false;
        }
        let class = class_of(key.0);
        if batch_room(&self.parts.pool, &self.parts.in_pool, &key.1, class) == 0 {
            return false;
        }
        let Some(&cursor) = self.spilled.get(key) else {
            return false;
        };
        let Ok(page) = self.read_page(key, cursor).await else {
            return false;
        };
        if let Some((at, first)) = page.earliest_deferred {
            self.wakeups.defer(key.clone(), at, first);
        }
        for id in page.expired {
            self.expire(id);
        }
        for id in page.unsettled {
            // A full queue leaves it to the next read, or to the validity's end.
            let _ = self.parts.writer.try_send(Event::Settle(id));
        }
        let mut refused_at = None;
        'candidates: for candidate in page.candidates {
            for (part, submit_sm) in candidate.parts {
                match place(
                    &self.parts,
                    candidate.id,
                    part,
                    class,
                    &key.1,
                    submit_sm,
                    candidate.expires,
                )
                .await
                {
                    Placed::Yes => {
                        self.parts
                            .stats
                            .dispatched_from_store
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if candidate.id < self.parts.first_id {
                            self.parts
                                .stats
                                .resent_after_restart
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    // Filtered out by the read; only the dispatcher inserts.
                    Placed::Already => {}
                    Placed::NoRoom => {
                        refused_at = Some(candidate.id);
                        break 'candidates;
                    }
                }
            }
            self.recent.insert(candidate.id);
        }
        match refused_at {
            Some(id) => {
                self.spilled.insert(key.clone(), id.saturating_sub(1));
                false
            }
            None if page.read < PAGE => {
                // The end of the backlog, all of it handed over: back to intake's queue
                // (a message that is on disk and queued too is in `recent`).
                self.spilled.remove(key);
                false
            }
            None => {
                self.spilled.insert(key.clone(), page.last);
                true
            }
        }
    }

    /// The next page of (route, class) after `cursor`: the parts still to send.
    async fn read_page(&self, key: &Spill, cursor: u64) -> Result<Page, ()> {
        let store = Arc::clone(&self.parts.store);
        let in_pool = Arc::clone(&self.parts.in_pool);
        let router = self.parts.router.clone();
        let country = self.parts.default_country.clone();
        let (class_index, route) = key.clone();
        let now = self.parts.clock.wall_ms();
        let read = tokio::task::spawn_blocking(move || {
            let records = store.pending_page(cursor, PAGE)?;
            let mut page = Page {
                candidates: Vec::new(),
                expired: Vec::new(),
                unsettled: Vec::new(),
                last: cursor,
                read: records.len(),
                earliest_deferred: None,
            };
            for record in records {
                page.last = record.id;
                if record.class.index() != class_index {
                    continue;
                }
                let Some(request) = request_of(&record) else {
                    tracing::error!(
                        id = record.id,
                        "stored request does not decode: left pending"
                    );
                    continue;
                };
                if route_of(&router, &country, &record, &request).as_deref() != Some(&*route) {
                    continue;
                }
                if record.parts.iter().all(|part| part.state.is_final()) {
                    page.unsettled.push(record.id);
                    continue;
                }
                if !record
                    .parts
                    .iter()
                    .any(|part| part.state == State::Accepted)
                {
                    // Every open part is with a carrier, its receipt to come: not this
                    // scan's to expire (before, a restart's scan expired such a message
                    // at its own validity, and the DELIVRD that came later was dropped).
                    continue;
                }
                if super::schedule::is_over(record.expires, now) {
                    page.expired.push(record.id);
                    continue;
                }
                if record.not_before > now {
                    let (at, _) = page
                        .earliest_deferred
                        .get_or_insert((record.not_before, record.id));
                    *at = (*at).min(record.not_before);
                    continue;
                }
                // Checked against the set, then read again: see the module comment.
                let todo: Vec<u16> = in_pool.with(|set| {
                    (0..record.parts.len())
                        .filter_map(|i| u16::try_from(i).ok())
                        .filter(|&i| {
                            record.parts[usize::from(i)].state == State::Accepted
                                && !set.contains(&(record.id, i))
                        })
                        .collect()
                });
                if todo.is_empty() {
                    continue;
                }
                let Some(fresh) = store.get(record.id)? else {
                    continue;
                };
                let Ok(split) = super::pipeline::parts(&request, &mut references_for(record.id))
                else {
                    continue;
                };
                let parts: Vec<(u16, SubmitSm)> = split
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, sm)| Some((u16::try_from(i).ok()?, sm)))
                    .filter(|(i, _)| {
                        todo.contains(i)
                            && fresh
                                .parts
                                .get(usize::from(*i))
                                .is_some_and(|p| p.state == State::Accepted)
                    })
                    .collect();
                if !parts.is_empty() {
                    page.candidates.push(Candidate {
                        id: record.id,
                        parts,
                        expires: record.expires,
                    });
                }
            }
            Ok::<_, crate::store::StoreError>(page)
        })
        .await;
        match read {
            Ok(Ok(page)) => Ok(page),
            Ok(Err(error)) => {
                store_error(&self.parts.stats, "dispatcher read", &error);
                Err(())
            }
            Err(_) => Err(()),
        }
    }
}

/// The room of (route, class) for the backlog read from the store, or 0 until its lane
/// (and the in-pool set) has room for a batch: a quarter of the lane, at most
/// [`PULL_AT`]. A lane drained one message at a time at the carrier's rate was otherwise
/// refilled by a read per message placed (a page of records read, decoded and split;
/// measured on the cluster's pullers: twice the CPU per message).
pub(super) fn batch_room(pool: &Carriers, in_pool: &InPool, route: &str, class: Class) -> usize {
    let (room, capacity) = pool.lane_room(route, class);
    let room = room.min(in_pool.free());
    if room >= (capacity / 4).clamp(1, PULL_AT) {
        room
    } else {
        0
    }
}

/// Hands one part to the pool (the [`InPool`] place taken first).
pub(super) async fn place(
    parts: &DispatcherParts,
    id: u64,
    part: u16,
    class: Class,
    route: &Arc<str>,
    submit_sm: SubmitSm,
    expires: u64,
) -> Placed {
    let in_pool = &parts.in_pool;
    // In the set before the pool has it: its outcome may come at once.
    match in_pool.insert((id, part)) {
        Taken::Now => {}
        Taken::Already => return Placed::Already,
        Taken::Full => return Placed::NoRoom,
    }
    let submission = Submission {
        id,
        part,
        class,
        route: Some(Arc::clone(route)),
        submit_sm,
        // The pool's clock from the wall clock's: past it the part is not sent.
        deadline: (expires != 0).then(|| {
            let left = expires.saturating_sub(parts.clock.wall_ms());
            tokio::time::Instant::now() + Duration::from_millis(left)
        }),
    };
    match parts.pool.submit(submission) {
        Ok(()) => Placed::Yes,
        Err(SubmitError::QueueFull { .. } | SubmitError::Stopping) => {
            in_pool.remove(&[(id, part)]);
            Placed::NoRoom
        }
        Err(SubmitError::NoRoute(what)) => {
            in_pool.remove(&[(id, part)]);
            tracing::warn!(id, part, %what, "no route takes this part: failed");
            let outcome = Outcome {
                id,
                part,
                carrier: Arc::from(""),
                result: OutcomeResult::Failed {
                    status: CommandStatus::ESME_RINVDSTADR,
                    reason: FailReason::Permanent,
                },
                attempts: 0,
                failovers: 0,
            };
            let _ = parts.outcomes.send(outcome).await;
            Placed::Yes
        }
    }
}

/// The route a stored message takes now: the one its account named when it was accepted
/// or, when a reload has since removed or renamed that route, the destination's (prefix
/// table, then the default route), counted in `smppgate_route_gone_total`. Before, such
/// a message matched no route: never sent, it expired at the end of its validity.
pub(crate) fn route_of(
    router: &Router,
    country: &str,
    record: &MessageRecord,
    request: &SubmitSm,
) -> Option<Arc<str>> {
    let destination = String::from_utf8_lossy(&request.destination_addr.addr);
    let e164 = crate::numbers::normalise(&destination, country).ok()?;
    let named = record.route.as_deref();
    router.route(named, &e164).or_else(|| {
        let gone = named?;
        let route = router.route(None, &e164)?;
        metrics::counter!("smppgate_route_gone_total", "route" => gone.to_owned()).increment(1);
        tracing::debug!(id = record.id, gone, %route, "the message's route is gone: routed by its destination");
        Some(route)
    })
}

/// The upstream submit_sm a record was accepted with.
pub(crate) fn request_of(record: &MessageRecord) -> Option<SubmitSm> {
    match decode(Bytes::copy_from_slice(&record.request)).ok()?.body {
        Body::SubmitSm(submit_sm) => Some(submit_sm),
        _ => None,
    }
}

async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(route: &str, class: Class) -> Spill {
        spill_key(&Arc::from(route), class)
    }

    /// A deferral's read starts at the lowest deferred id of its (route, class), not at
    /// the start of the backlog; it falls due at the earliest time; other keys keep
    /// theirs; a due key is forgotten until deferred again.
    #[test]
    fn a_deferral_is_read_from_its_first_deferred_message() {
        let mut wakeups = Wakeups::default();
        let otp = key("cn", Class::Otp);
        let marketing = key("cn", Class::Marketing);
        wakeups.defer(otp.clone(), 5_000, 900);
        wakeups.defer(otp.clone(), 3_000, 1_200);
        wakeups.defer(otp.clone(), 9_000, 700);
        wakeups.defer(marketing.clone(), 4_000, 50);
        assert_eq!(wakeups.next(), Some(3_000));
        assert!(wakeups.due(2_999).is_empty());
        assert_eq!(wakeups.due(3_000), [(otp.clone(), 699)]);
        assert_eq!(wakeups.next(), Some(4_000));
        assert!(wakeups.due(3_999).is_empty());
        assert_eq!(wakeups.due(10_000), [(marketing, 49)]);
        assert_eq!(wakeups.next(), None);
        // Id 1 (ids start at 1): read from the start.
        wakeups.defer(otp.clone(), 1, 1);
        assert_eq!(wakeups.due(1), [(otp, 0)]);
    }

    /// A stored message whose account named a route that a reload renamed since goes by
    /// its destination: before, it matched no route, was never sent, and expired.
    #[test]
    fn a_message_whose_route_is_gone_goes_by_its_destination() {
        let route = |name: &str, prefixes: &[&str], default: bool| crate::config::RouteConfig {
            name: name.to_owned(),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            operators: Vec::new(),
            default,
            carriers: vec!["c".to_owned()],
            queue: 10,
        };
        let router = Router::new(&[route("cn", &["86"], false), route("rest", &[], true)]);
        let mut request = SubmitSm::default();
        request.destination_addr.addr = Bytes::from_static(b"8613800138000");
        let record = |named: Option<&str>| MessageRecord {
            route: named.map(str::to_owned),
            ..crate::store::tests::message(1, "a", 0)
        };
        let of = |named| route_of(&router, "CN", &record(named), &request);
        assert_eq!(
            of(Some("rest")).as_deref(),
            Some("rest"),
            "named and in force"
        );
        assert_eq!(of(None).as_deref(), Some("cn"), "by prefix");
        router.replace(&[route("cn-main", &["86"], false), route("rest", &[], true)]);
        assert_eq!(
            of(Some("cn")).as_deref(),
            Some("cn-main"),
            "renamed: by prefix"
        );
        router.replace(&[route("rest", &[], true)]);
        assert_eq!(
            of(Some("cn")).as_deref(),
            Some("rest"),
            "removed: the default"
        );
    }
}
