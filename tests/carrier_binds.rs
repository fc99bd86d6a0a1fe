//! A pool holds its [`Share`] of a carrier's binds (`[cluster]`, docs/cluster.md "Carrier
//! binds and TPS across nodes"): told 1-of-2 with `binds = 4` it holds 2, told 1-of-1
//! again it opens 4; a surplus bind closes gracefully (no new submit, its window answered,
//! then unbind), so a shrink while submits are in flight loses none and sends none twice.
//! In-process: the pool against an SMSC on 127.0.0.1 that counts its bound sessions.

mod carrier_support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use carrier_support::{carrier, config, stamped, start, submit_many};
use serde_json::Value;
use smppgate::carrier::{Carriers, Class, Events, Share};
use smppgate::shutdown::ShutdownSignal;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionHandle, SessionInfo, SmscHandler,
    SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, DeliverSm, Pdu, SubmitSm};
use smppgate_protocol::session::{CloseReason, SessionStats};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// An SMSC that counts bound sessions and submits, and can hold its submit_sm_resp back.
struct Counting {
    /// Bound sessions now.
    active: AtomicUsize,
    /// Sessions that ended with our unbind.
    unbound: AtomicUsize,
    submits: AtomicU64,
    changed: Notify,
    /// While true, submit_sm are answered only when it turns false.
    hold: watch::Sender<bool>,
    /// The bound sessions, to send them deliver_sm.
    sessions: Mutex<Vec<SessionHandle>>,
}

impl Counting {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            active: AtomicUsize::new(0),
            unbound: AtomicUsize::new(0),
            submits: AtomicU64::new(0),
            changed: Notify::new(),
            hold: watch::Sender::new(false),
            sessions: Mutex::new(Vec::new()),
        })
    }

    /// Waits until `check` holds (panics after 10 s).
    async fn wait(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if check(self) {
                return;
            }
            assert!(
                tokio::time::timeout_at(deadline, changed).await.is_ok() || check(self),
                "{what}: not within 10 s ({} bound, {} submits)",
                self.active.load(Ordering::SeqCst),
                self.submits.load(Ordering::SeqCst)
            );
        }
    }

    async fn bound(&self, n: usize) {
        self.wait(&format!("{n} binds"), |s| {
            s.active.load(Ordering::SeqCst) == n
        })
        .await;
    }
}

impl SmscHandler for Counting {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"counting"))
    }

    fn on_bound(&self, session: &SessionHandle) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(session.clone());
        self.active.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    fn on_closed(&self, session: Option<&SessionInfo>, reason: CloseReason, _: &SessionStats) {
        if session.is_some() {
            self.active.fetch_sub(1, Ordering::SeqCst);
            if reason == CloseReason::PeerUnbound {
                self.unbound.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.changed.notify_waiters();
    }

    fn submit_sm(&self, _s: &SessionInfo, _p: &Pdu, submit_sm: &SubmitSm) -> Reply<MessageId> {
        self.submits.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        let id = submit_sm.short_message.clone();
        let mut hold = self.hold.subscribe();
        if !*hold.borrow_and_update() {
            return Reply::Ready(Ok(id));
        }
        Reply::Later(Box::pin(async move {
            let _ = hold.wait_for(|held| !held).await;
            Ok(id)
        }))
    }
}

async fn counting_smsc() -> (SmscServer, Arc<Counting>) {
    let handler = Counting::new();
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&handler))
        .await
        .expect("SMSC listens");
    (server, handler)
}

fn carrier_stats(carriers: &Carriers) -> Value {
    carriers.stats()["carriers"][0].clone()
}

/// Waits until the pool counts `n` binds up (the SMSC may count a closing one a moment
/// longer, or a new one a moment sooner).
async fn pool_binds_up(carriers: &Carriers, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while carrier_stats(carriers)["binds_up"] != n {
        assert!(
            Instant::now() < deadline,
            "pool: not {n} binds up within 10 s: {}",
            carrier_stats(carriers)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_pool_holds_its_share_of_the_binds_and_opens_them_again() {
    let (server, smsc) = counting_smsc().await;
    let address = server.local_addr().to_string();
    let (carriers, recorder) = start(&config(vec![carrier("c", &address, 10_000, 4, 10)])).await;
    smsc.bound(4).await;
    pool_binds_up(&carriers, 4).await;

    carriers.set_share(Share { index: 0, of: 2 });
    smsc.bound(2).await;
    pool_binds_up(&carriers, 2).await;
    let stats = carrier_stats(&carriers);
    assert_eq!(stats["binds_total"], 4, "{stats}");
    assert_eq!(stats["binds_held"], 2, "{stats}");
    assert_eq!(stats["share"]["node"], 1, "{stats}");
    assert_eq!(stats["share"]["of"], 2, "{stats}");
    let held: Vec<bool> = stats["binds"]
        .as_array()
        .expect("binds")
        .iter()
        .map(|bind| bind["held"] == true)
        .collect();
    assert_eq!(held, [true, true, false, false], "{stats}");
    assert_eq!(
        smsc.unbound.load(Ordering::SeqCst),
        2,
        "the surplus binds unbind"
    );
    // The two it holds send.
    submit_many(&carriers, 1, 20, Class::Marketing);
    recorder.wait_for(20, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(20);

    // Three nodes, this one second: 2 + 1 + 1.
    carriers.set_share(Share { index: 1, of: 3 });
    smsc.bound(1).await;
    pool_binds_up(&carriers, 1).await;

    // Alone again: all 4, at once (nodes left, their binds are gone).
    carriers.set_share(Share::WHOLE);
    smsc.bound(4).await;
    pool_binds_up(&carriers, 4).await;
    let stats = carrier_stats(&carriers);
    assert_eq!(stats["binds_held"], 4, "{stats}");
    carriers.drain(Duration::from_secs(5)).await;
}

/// Holds the SMSC's answers back and submits marketing messages `0..count`; returns once
/// all of them are in flight on the binds.
async fn fill_unanswered(carriers: &Carriers, smsc: &Counting, count: u64) {
    smsc.hold.send_replace(true);
    for id in 0..count {
        carriers
            .submit(stamped(id, 0, Class::Marketing))
            .expect("queued");
    }
    smsc.wait(&format!("{count} submits in flight"), |s| {
        s.submits.load(Ordering::SeqCst) == count
    })
    .await;
}

#[tokio::test]
async fn a_shrink_with_submits_in_flight_loses_none_and_sends_none_twice() {
    let (server, smsc) = counting_smsc().await;
    let address = server.local_addr().to_string();
    let (carriers, recorder) = start(&config(vec![carrier("c", &address, 10_000, 4, 10)])).await;
    smsc.bound(4).await;
    pool_binds_up(&carriers, 4).await;

    // Every window full, the answers held back.
    fill_unanswered(&carriers, &smsc, 40).await;

    carriers.set_share(Share { index: 0, of: 2 });
    // The surplus binds take nothing new and wait for their windows.
    pool_binds_up(&carriers, 2).await;
    for id in 40..50 {
        carriers
            .submit(stamped(id, 0, Class::Marketing))
            .expect("queued");
    }
    assert_eq!(
        smsc.active.load(Ordering::SeqCst),
        4,
        "a surplus bind closed before its window was answered"
    );
    assert_eq!(recorder.count(), 0);
    // A receipt arriving on any bind, a surplus one included, is read and answered.
    let sessions = smsc
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(sessions.len(), 4);
    for session in &sessions {
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            session
                .link()
                .request(Body::DeliverSm(DeliverSm::default())),
        )
        .await
        .expect("deliver_sm answered within 5 s")
        .expect("deliver_sm answered");
        assert_eq!(response.status(), CommandStatus::ESME_ROK);
    }

    smsc.hold.send_replace(false);
    recorder.wait_for(50, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(50);
    smsc.bound(2).await;
    assert_eq!(
        smsc.unbound.load(Ordering::SeqCst),
        2,
        "unbound, not dropped"
    );
    // Nothing was aborted and sent again.
    assert_eq!(smsc.submits.load(Ordering::SeqCst), 50);
    assert_eq!(carrier_stats(&carriers)["resubmitted_after_loss"], 0);
    carriers.drain(Duration::from_secs(5)).await;
}

/// Records nothing (the pool's events are not looked at).
struct Quiet;

impl Events for Quiet {
    fn outcome(&self, _outcome: smppgate::carrier::Outcome) {}

    fn inbound(
        &self,
        _carrier: &Arc<str>,
        request: smppgate::conn::InboundRequest,
    ) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(request.respond(CommandStatus::ESME_ROK, None))
    }
}

#[tokio::test]
async fn a_cluster_node_opens_no_bind_before_its_share_and_a_joiner_waits_for_the_others() {
    let (server, smsc) = counting_smsc().await;
    let address = server.local_addr().to_string();
    let carriers = Carriers::start_in_cluster(
        &config(vec![carrier("c", &address, 10_000, 4, 10)]),
        Arc::new(Quiet),
        ShutdownSignal::never(),
    )
    .await
    .expect("start");
    // A bind opened before the share would be bound within this: the SMSC is local.
    let early = tokio::time::timeout(
        Duration::from_millis(500),
        smsc.wait("a bind", |s| s.active.load(Ordering::SeqCst) > 0),
    )
    .await;
    assert!(early.is_err(), "a bind opened before the share was known");
    assert_eq!(carrier_stats(&carriers)["binds_held"], Value::Null);

    // It joins a node already there: its 2 binds open after the grace, not at once.
    let told = Instant::now();
    carriers.set_share(Share { index: 1, of: 2 });
    smsc.bound(2).await;
    let took = told.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "the joiner's binds opened {took:?} after the share: the others had no time to close theirs"
    );
    carriers.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_surplus_bind_whose_window_is_not_answered_closes_after_the_response_timeout() {
    let (server, smsc) = counting_smsc().await;
    let address = server.local_addr().to_string();
    let mut slow = carrier("c", &address, 10_000, 4, 1);
    slow.response_timeout = Duration::from_secs(1);
    // Every bind times out while the SMSC holds its answers: enough attempts to outlast it.
    slow.retry.max_attempts = 30;
    let (carriers, recorder) = start(&config(vec![slow])).await;
    smsc.bound(4).await;
    pool_binds_up(&carriers, 4).await;

    // One unanswered submit on each bind.
    fill_unanswered(&carriers, &smsc, 4).await;
    let told = Instant::now();
    carriers.set_share(Share { index: 0, of: 2 });
    smsc.bound(2).await;
    // The window waits for the response timeout (1 s), then the unbind; this SMSC still
    // owes the answers, so it answers the unbind only when our session's unbind timeout
    // (5 s) closes it: bounded, not for ever.
    let took = told.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "the surplus binds closed {took:?} after the split (window 1 s + unbind 5 s)"
    );
    // The unanswered submits were timed out and go again: each ends accepted (a timeout
    // is an attempt, as on any bind).
    smsc.hold.send_replace(false);
    recorder.wait_for(4, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(4);
    carriers.drain(Duration::from_secs(5)).await;
}
