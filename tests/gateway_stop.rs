//! A clean stop under load: `smppgate serve` (a real process, durable store) gets SIGTERM
//! while 4 upstream binds push 20 000 messages to a recording carrier; after a restart,
//! every message that got an ESME_ROK submit_sm_resp reaches the carrier, and the carrier
//! gets **no** duplicate: what it accepted before the stop was recorded before the stop,
//! and nothing acknowledged was failed for lack of room while the pool drained.

mod support;

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use support::load::{BINDS, Load, PER_BIND};
use support::{num, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_then_restart_sends_every_acknowledged_message_exactly_once() {
    // Stop once about half the messages reached the carrier.
    let (mut load, gateway) = Load::start_half_way().await;
    let recorder = Arc::clone(&load.recorder);
    let config = load.config.clone();
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
    let report = finished.json();
    // Nothing acknowledged was failed because the pool stopped taking work.
    assert_eq!(num(&report, "/parts_failed"), 0, "{report}");
    let (acked, sent) = load.finish_pushing().await;
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
    let missing = recorder.wait_for_all(&acked).await;
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

/// A carrier that binds and never answers a submit_sm.
#[derive(Default)]
struct Silent {
    submits: std::sync::atomic::AtomicUsize,
}

impl smppgate::smsc::SmscHandler for Silent {
    fn authenticate(
        &self,
        _request: &smppgate::smsc::BindRequest,
    ) -> Result<bytes::Bytes, smppgate_protocol::command_status::CommandStatus> {
        Ok(bytes::Bytes::from_static(b"silent"))
    }

    fn submit_sm(
        &self,
        _session: &smppgate::smsc::SessionInfo,
        _pdu: &smppgate_protocol::pdu::Pdu,
        _submit_sm: &smppgate_protocol::pdu::SubmitSm,
    ) -> smppgate::smsc::Reply<smppgate::smsc::MessageId> {
        self.submits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        smppgate::smsc::Reply::Later(Box::pin(std::future::pending()))
    }
}

/// A second SIGTERM while the stop waits for a carrier's answers (up to `--grace`) ends
/// the process at once, exit status 130; before, it was ignored and only SIGKILL ended
/// the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_ends_a_stop_that_waits() {
    let handler = Arc::new(Silent::default());
    let carrier = smppgate::smsc::SmscServer::bind(
        "127.0.0.1:0",
        smppgate::smsc::ServerConfig::default(),
        Arc::clone(&handler),
    )
    .await
    .expect("carrier");
    let dir = tempfile::tempdir().unwrap();
    let rest = format!(
        "\n[[account]]\nsystem_id = \"shop\"\npassword = \"secret\"\n{}",
        support::one_carrier_route("silent", &carrier.local_addr().to_string(), "tps = 100")
    );
    let config = support::write_gateway_config(dir.path(), &rest);
    let mut command = support::smppgate();
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .args(["--grace", "60s"]);
    let mut gateway = support::Proc::spawn("smppgate serve", command);
    let addr = gateway.listening();
    let (client, _inbound) = smppgate::esme::EsmeClient::connect(
        &addr.to_string(),
        smppgate::esme::EsmeConfig::new("shop", "secret"),
    )
    .await
    .expect("bind");
    let response = client
        .submit(smppgate_protocol::pdu::SubmitSm {
            destination_addr: smppgate_protocol::types::Address::international("8613800138000"),
            short_message: bytes::Bytes::from_static(b"in flight for ever"),
            ..smppgate_protocol::pdu::SubmitSm::default()
        })
        .await
        .expect("answered");
    assert!(response.is_ok());
    support::within("the carrier has it", async {
        while handler.submits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    gateway.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.terminate();
    let finished = tokio::task::spawn_blocking(move || gateway.finish(Duration::from_secs(10)))
        .await
        .expect("join");
    assert_eq!(finished.status.code(), Some(130), "{}", finished.stderr);
}
