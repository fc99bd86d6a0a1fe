//! An in-process carrier that records each submit_sm it is sent and when.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate::config::Config;
use smppgate::esme::EsmeClient;
use smppgate::gateway::Gateway;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};

/// Records each submit_sm with its arrival time; answers at once.
#[derive(Default)]
pub(crate) struct Arrivals {
    arrivals: Mutex<Vec<(SubmitSm, Instant)>>,
    next: AtomicU64,
}

impl SmscHandler for Arrivals {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"carrier"))
    }

    fn submit_sm(&self, _s: &SessionInfo, _p: &Pdu, submit_sm: &SubmitSm) -> Reply<MessageId> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((submit_sm.clone(), Instant::now()));
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        Reply::Ready(Ok(Bytes::from(format!("{id:x}"))))
    }
}

impl Arrivals {
    /// When the first submit_sm with this text arrived, and what it was.
    pub(crate) fn arrived(&self, text: &[u8]) -> Option<(SubmitSm, Instant)> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(sm, _)| sm.short_message == text)
            .cloned()
    }

    /// How many submit_sm with this text arrived.
    pub(crate) fn count(&self, text: &[u8]) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(sm, _)| sm.short_message == text)
            .count()
    }
}

impl Arrivals {
    /// Waits (bounded by [`super::within`]) until each of `texts` has arrived.
    pub(crate) async fn wait_for(&self, texts: &[&[u8]]) {
        super::within("arrivals at the carrier", async {
            while texts.iter().any(|text| self.arrived(text).is_none()) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// The submit_sm of `text`, checked to have arrived once and not before `due`.
    pub(crate) fn once_not_before(&self, text: &[u8], due: Instant) -> SubmitSm {
        let name = String::from_utf8_lossy(text);
        let (submit_sm, at) = self
            .arrived(text)
            .unwrap_or_else(|| panic!("{name} never arrived"));
        assert!(
            at >= due - Duration::from_millis(50),
            "{name} sent {:?} early",
            due - at
        );
        assert_eq!(self.count(text), 1, "{name} sent more than once");
        submit_sm
    }
}

/// Unbinds `client` and stops `gateway`, checking that this happened before `due` (a test
/// that restarts the gateway before its held messages are due).
pub(crate) async fn stop_before(client: &EsmeClient, gateway: Gateway, due: Instant) {
    client.unbind().await;
    let _ = gateway.stop(Duration::from_secs(5)).await;
    assert!(
        Instant::now() < due,
        "the machine was too slow to test the restart"
    );
}

/// An [`Arrivals`] carrier on 127.0.0.1 and the demo configuration sending to it (the
/// gateway listening on a free port).
pub(crate) async fn carrier_and_demo_config() -> (Arc<Arrivals>, SmscServer, Config) {
    let carrier = Arc::new(Arrivals::default());
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.carriers[0].address = server.local_addr().to_string();
    (carrier, server, config)
}
