//! A clean stop under load: `smppgate serve` (a real process, durable store) gets SIGTERM
//! while 4 upstream binds push 20 000 messages to a recording carrier; after a restart,
//! every message that got an ESME_ROK submit_sm_resp reaches the carrier, and the carrier
//! gets **no** duplicate: what it accepted before the stop was recorded before the stop,
//! and nothing acknowledged was failed for lack of room while the pool drained.

mod support;

use std::collections::{HashMap, HashSet};
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
use support::{num, serve, write_gateway_config};

/// The carrier: records every text it is sent.
#[derive(Default)]
struct Recorder {
    seen: Mutex<HashMap<Vec<u8>, u32>>,
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

const BINDS: usize = 4;
const PER_BIND: usize = 5_000;
const UPSTREAM_WINDOW: usize = 64;
const CARRIER_BINDS: usize = 2;
const CARRIER_WINDOW: usize = 64;

fn write_config(dir: &std::path::Path, carrier: std::net::SocketAddr) -> std::path::PathBuf {
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
"#,
    );
    write_gateway_config(dir, &rest)
}

fn text(bind: usize, n: usize) -> Vec<u8> {
    format!("b{bind}-m{n}").into_bytes()
}

/// Pushes this bind's messages until `stop`; returns the texts acknowledged with ROK and
/// the ones sent (answered or not).
async fn push(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_then_restart_sends_every_acknowledged_message_exactly_once() {
    let recorder = Arc::new(Recorder::default());
    let carrier = SmscServer::bind(
        "127.0.0.1:0",
        ServerConfig::default(),
        Arc::clone(&recorder),
    )
    .await
    .expect("carrier");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), carrier.local_addr());
    let (gateway, addr) = serve(&config);

    let stop = Arc::new(AtomicBool::new(false));
    let pushers: Vec<_> = (0..BINDS)
        .map(|bind| tokio::spawn(push(addr, bind, Arc::clone(&stop))))
        .collect();
    // Stop once about half the messages reached the carrier.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = recorder
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        if received >= BINDS * PER_BIND / 2 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gateway.terminate();
    let finished = tokio::task::spawn_blocking(move || gateway.finish(Duration::from_secs(60)))
        .await
        .expect("join");
    assert!(
        finished.status.success(),
        "serve exited {:?}: {}",
        finished.status,
        finished.stderr
    );
    stop.store(true, Ordering::Relaxed);
    let report = finished.json();
    // Nothing acknowledged was failed because the pool stopped taking work.
    assert_eq!(num(&report, "/parts_failed"), 0, "{report}");
    let mut acked = HashSet::new();
    let mut sent = HashSet::new();
    for pusher in pushers {
        let (a, s) = pusher.await.expect("pusher");
        acked.extend(a);
        sent.extend(s);
    }
    let before_restart = recorder
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    assert!(
        acked.len() >= BINDS * PER_BIND / 4,
        "too few acknowledged before the stop: {}",
        acked.len()
    );

    // Restart on the same store: what was acknowledged and not yet sent goes out now.
    let (gateway, _addr) = serve(&config);
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let missing: Vec<_> = {
            let seen = recorder.seen.lock().unwrap_or_else(PoisonError::into_inner);
            acked
                .iter()
                .filter(|t| !seen.contains_key(*t))
                .cloned()
                .collect()
        };
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        missing.is_empty(),
        "{} acknowledged messages never reached the carrier, e.g. {:?}",
        missing.len(),
        String::from_utf8_lossy(&missing[0])
    );
    // Let the restarted gateway finish its backlog before counting duplicates: its own
    // clean stop reports what it sent.
    gateway.terminate();
    let second = tokio::task::spawn_blocking(move || gateway.finish(Duration::from_secs(60)))
        .await
        .expect("join");
    assert!(second.status.success(), "{}", second.stderr);
    let seen = recorder
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let unknown: Vec<_> = seen.keys().filter(|t| !sent.contains(*t)).collect();
    assert!(
        unknown.is_empty(),
        "the carrier got messages nobody sent: {unknown:?}"
    );
    let duplicates: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(t, n)| (String::from_utf8_lossy(t).into_owned(), *n))
        .collect();
    assert!(
        duplicates.is_empty(),
        "{} messages reached the carrier more than once after a clean stop, e.g. {:?}",
        duplicates.len(),
        duplicates.first()
    );
    eprintln!(
        "acknowledged {} of {} sent; carrier had {before_restart} before the restart, {} after; 0 duplicates; first run: {report}",
        acked.len(),
        sent.len(),
        seen.len()
    );
}
