//! A load for the gateway process tests (kill -9, SIGTERM): a recording carrier, a
//! configuration with one account and that carrier, and upstream binds that push
//! numbered texts and report which ones were acknowledged.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use smppgate_protocol::types::Address;

use super::{Proc, serve, write_gateway_config};

/// The carrier: records every text it is sent.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) seen: Mutex<HashMap<Vec<u8>, u32>>,
    next: AtomicU64,
}

impl SmscHandler for Recorder {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"recorder"))
    }

    fn submit_sm(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
        submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        *self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(submit_sm.short_message.to_vec())
            .or_insert(0) += 1;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        Reply::Ready(Ok(Bytes::from(format!("{id:x}"))))
    }
}

pub(crate) const BINDS: usize = 4;
pub(crate) const PER_BIND: usize = 5_000;
pub(crate) const UPSTREAM_WINDOW: usize = 64;
pub(crate) const CARRIER_BINDS: usize = 2;
pub(crate) const CARRIER_WINDOW: usize = 64;
/// Most outcomes the gateway's writer commits at once (`gateway::events`).
pub(crate) const WRITER_BATCH: usize = 1024;

pub(crate) fn write_config(
    dir: &std::path::Path,
    carrier: std::net::SocketAddr,
) -> std::path::PathBuf {
    write_config_with(dir, carrier, "")
}

/// [`write_config`] with `extra` sections after it (e.g. `[cluster]`).
pub(crate) fn write_config_with(
    dir: &std::path::Path,
    carrier: std::net::SocketAddr,
    extra: &str,
) -> std::path::PathBuf {
    let rest = format!(
        r#"

[[account]]
system_id = "load"
password = "pw"
max_binds = 8
window = {UPSTREAM_WINDOW}

[[carrier]]
name = "recorder"
address = "{carrier}"
system_id = "gw"
password = "x"
binds = {CARRIER_BINDS}
window = {CARRIER_WINDOW}
tps = 100000

[[route]]
name = "all"
default = true
carriers = ["recorder"]
{extra}"#,
    );
    write_gateway_config(dir, &rest)
}

pub(crate) fn text(bind: usize, n: usize) -> Vec<u8> {
    format!("b{bind}-m{n}").into_bytes()
}

/// Pushes this bind's messages until `stop`; returns the texts acknowledged with ROK and
/// the ones sent (answered or not).
pub(crate) async fn push(
    addr: std::net::SocketAddr,
    bind: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut config = EsmeConfig::new("load", "pw");
    config.window = UPSTREAM_WINDOW;
    let Ok((client, _inbound)) = EsmeClient::connect(&addr.to_string(), config).await else {
        return (Vec::new(), Vec::new());
    };
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(UPSTREAM_WINDOW));
    for n in 0..PER_BIND {
        if stop.load(Ordering::Relaxed) || client.link().is_closed() {
            break;
        }
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let acked = Arc::clone(&acked);
        let sent = Arc::clone(&sent);
        tasks.spawn(async move {
            let body = text(bind, n);
            sent.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(body.clone());
            let submit = SubmitSm {
                source_addr: Address::international("10690000"),
                destination_addr: Address::international("8613800138000"),
                short_message: Bytes::from(body.clone()),
                ..SubmitSm::default()
            };
            if let Ok(response) = client.submit(submit).await
                && response.is_ok()
            {
                acked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(body);
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(PoisonError::into_inner));
    let sent = std::mem::take(&mut *sent.lock().unwrap_or_else(PoisonError::into_inner));
    (acked, sent)
}

impl Recorder {
    /// Texts received so far (distinct).
    pub(crate) fn received(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits (up to a minute) until every text in `acked` reached the carrier; returns the
    /// ones that did not.
    pub(crate) async fn wait_for_all(&self, acked: &HashSet<Vec<u8>>) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let missing: Vec<_> = {
                let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                acked
                    .iter()
                    .filter(|t| !seen.contains_key(*t))
                    .cloned()
                    .collect()
            };
            if missing.is_empty() || Instant::now() > deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to a minute) until about half the load reached the carrier.
    pub(crate) async fn wait_for_half(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.received() < BINDS * PER_BIND / 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// What one bind pushed: the texts acknowledged with ESME_ROK, and the texts sent.
type Pushed = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// A recording carrier, `smppgate serve` in front of it, and [`BINDS`] upstream binds
/// pushing their texts.
pub(crate) struct Load {
    pub(crate) recorder: Arc<Recorder>,
    /// The gateway's configuration (its store is in `_dir`).
    pub(crate) config: PathBuf,
    stop: Arc<AtomicBool>,
    pushers: Vec<tokio::task::JoinHandle<Pushed>>,
    _carrier: SmscServer,
    _dir: tempfile::TempDir,
}

/// A recording carrier on 127.0.0.1 (an ephemeral port) and what it records.
pub(crate) async fn recording_carrier() -> (SmscServer, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let carrier = SmscServer::bind(
        "127.0.0.1:0",
        ServerConfig::default(),
        Arc::clone(&recorder),
    )
    .await
    .expect("carrier listens");
    (carrier, recorder)
}

impl Load {
    /// Starts it all and returns once about half the messages reached the carrier, with
    /// the gateway's process.
    pub(crate) async fn start_half_way() -> (Self, Proc) {
        Self::start_half_way_with("").await
    }

    /// [`Load::start_half_way`] with `extra` configuration sections (e.g. `[cluster]`).
    pub(crate) async fn start_half_way_with(extra: &str) -> (Self, Proc) {
        let (carrier, recorder) = recording_carrier().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config_with(dir.path(), carrier.local_addr(), extra);
        let (gateway, addr) = serve(&config);
        let stop = Arc::new(AtomicBool::new(false));
        let pushers = (0..BINDS)
            .map(|bind| tokio::spawn(push(addr, bind, Arc::clone(&stop))))
            .collect();
        recorder.wait_for_half().await;
        let load = Self {
            recorder,
            config,
            stop,
            pushers,
            _carrier: carrier,
            _dir: dir,
        };
        (load, gateway)
    }

    /// Stops the pushers; the texts acknowledged with ESME_ROK and the texts sent.
    pub(crate) async fn finish_pushing(&mut self) -> (HashSet<Vec<u8>>, HashSet<Vec<u8>>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut acked = HashSet::new();
        let mut sent = HashSet::new();
        for pusher in self.pushers.drain(..) {
            let (a, s) = pusher.await.expect("pusher");
            acked.extend(a);
            sent.extend(s);
        }
        (acked, sent)
    }
}
