//! Shared by the `carrier_*` tests: an [`Events`] that records outcomes, configuration
//! builders, a stamping SMSC that records when each submit_sm arrived.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use smppgate::carrier::{Carriers, Class, Events, Outcome, OutcomeResult, Submission};
use smppgate::config::{CarrierConfig, Config, RetryConfig, RouteConfig, ThrottleBackoff};
use smppgate::conn::InboundRequest;
use smppgate::shutdown::ShutdownSignal;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use smppgate_protocol::types::Address;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Records every outcome with the instant it arrived.
#[derive(Debug, Default)]
pub struct Recorder {
    pub outcomes: Mutex<Vec<(Instant, Outcome)>>,
    changed: Notify,
}

impl Events for Recorder {
    fn outcome(&self, outcome: Outcome) {
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Instant::now(), outcome));
        self.changed.notify_waiters();
    }

    fn inbound(&self, _carrier: &Arc<str>, request: InboundRequest) -> BoxFuture<'static, ()> {
        Box::pin(request.respond(CommandStatus::ESME_ROK, None))
    }
}

impl Recorder {
    pub fn count(&self) -> usize {
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits until `n` outcomes arrived (panics after `limit`).
    pub async fn wait_for(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if self.count() >= n {
                return;
            }
            assert!(
                tokio::time::timeout_at(deadline, changed).await.is_ok() || self.count() >= n,
                "{} of {n} outcomes after {limit:?}",
                self.count()
            );
        }
    }

    /// Waits until the outcomes so far satisfy `done` (panics after `limit`).
    pub async fn wait_until(&self, done: impl Fn(&[(Instant, Outcome)]) -> bool, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            let met = || done(&self.outcomes.lock().unwrap_or_else(PoisonError::into_inner));
            if met() {
                return;
            }
            assert!(
                tokio::time::timeout_at(deadline, changed).await.is_ok() || met(),
                "not met after {limit:?} ({} outcomes)",
                self.count()
            );
        }
    }

    pub fn all(&self) -> Vec<(Instant, Outcome)> {
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every outcome is Accepted, and each (id, part) exactly once.
    pub fn assert_all_accepted(&self, n: usize) {
        let all = self.all();
        assert_eq!(all.len(), n, "outcomes");
        let mut seen = HashMap::new();
        for (_, outcome) in &all {
            assert!(
                matches!(outcome.result, OutcomeResult::Accepted { .. }),
                "{outcome:?}"
            );
            *seen.entry((outcome.id, outcome.part)).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), n, "distinct submissions");
    }
}

pub fn carrier(name: &str, address: &str, tps: u32, binds: usize, window: usize) -> CarrierConfig {
    let mut config = Config::demo().carriers.remove(0);
    config.name = name.to_owned();
    config.address = address.to_owned();
    config.system_id = "pool".to_owned();
    config.password = "secret".to_owned();
    config.tps = tps;
    config.binds = binds;
    config.window = window;
    config.response_timeout = Duration::from_secs(5);
    config.retry = RetryConfig {
        max_attempts: 3,
        backoff: Duration::from_millis(10),
    };
    config.throttle_backoff = ThrottleBackoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        rate_decrease: 0.5,
        rate_increase: 0.5,
    };
    config
}

pub fn config(carriers: Vec<CarrierConfig>) -> Config {
    let names = carriers.iter().map(|c| c.name.clone()).collect();
    Config {
        carriers,
        routes: vec![RouteConfig {
            name: "all".to_owned(),
            prefixes: Vec::new(),
            operators: Vec::new(),
            default: true,
            carriers: names,
            queue: 10_000,
        }],
        ..Config::default()
    }
}

pub async fn start(config: &Config) -> (Carriers, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let events: Arc<dyn Events> = recorder.clone();
    let carriers = Carriers::start(config, events, ShutdownSignal::never())
        .await
        .expect("start");
    (carriers, recorder)
}

pub fn submission(id: u64, part: u16, class: Class) -> Submission {
    Submission {
        id,
        part,
        class,
        route: None,
        submit_sm: SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international("8613800138000"),
            short_message: Bytes::from_static(b"carrier test"),
            ..SubmitSm::default()
        },
        deadline: None,
    }
}

/// Submits `n` messages of one part, ids `first..first + n`.
pub fn submit_many(carriers: &Carriers, first: u64, n: u64, class: Class) {
    for id in first..first + n {
        carriers.submit(submission(id, 0, class)).expect("queued");
    }
}

/// An SMSC that accepts everything and records when each submit_sm arrived.
#[derive(Debug, Default)]
pub struct Stamper {
    pub arrivals: Mutex<Vec<(Instant, u64, u16)>>,
    next: std::sync::atomic::AtomicU64,
}

impl SmscHandler for Stamper {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"stamper"))
    }

    fn submit_sm(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
        submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        // The test puts "id/part" in the text.
        let text = String::from_utf8_lossy(&submit_sm.short_message).into_owned();
        let (id, part) = text
            .split_once('/')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .unwrap_or((0, 0));
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Instant::now(), id, part));
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Reply::Ready(Ok(Bytes::from(format!("{n:x}"))))
    }
}

pub async fn stamper() -> (SmscServer, Arc<Stamper>) {
    let handler = Arc::new(Stamper::default());
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&handler))
        .await
        .expect("stamper");
    (server, handler)
}

/// A submission whose text is "id/part" (read back by [`Stamper`]).
pub fn stamped(id: u64, part: u16, class: Class) -> Submission {
    let mut s = submission(id, part, class);
    s.submit_sm.short_message = Bytes::from(format!("{id}/{part}"));
    s
}

/// A simulated carrier on a free loopback port, with its defaults.
#[allow(dead_code)] // not every test binary starts one
pub async fn local_sim() -> smppgate::sim::Sim {
    smppgate::sim::Sim::start(smppgate::sim::SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..smppgate::sim::SimConfig::default()
    })
    .await
    .expect("sim")
}
