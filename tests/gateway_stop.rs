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
