//! Crash safety: `smppgate serve` (a real process, durable store) is killed with SIGKILL
//! while 4 upstream binds push 20 000 messages; after a restart, every message that got
//! an ESME_ROK submit_sm_resp reaches the carrier at least once, nothing reaches it that
//! was not submitted, and duplicates stay within what was in flight.

mod support;

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use support::load::{
    BINDS, CARRIER_BINDS, CARRIER_WINDOW, Load, PER_BIND, UPSTREAM_WINDOW, WRITER_BATCH,
};
use support::serve;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_no_acknowledged_message() {
    let (mut load, gateway) = Load::start_half_way().await;
    // Kill once about half the messages reached the carrier.
    gateway.kill9();
    let (acked, sent) = load.finish_pushing().await;
    let recorder = Arc::clone(&load.recorder);
    let config = load.config.clone();
    let before_restart = recorder
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    assert!(
        acked.len() >= BINDS * PER_BIND / 4,
        "too few acknowledged before the kill: {}",
        acked.len()
    );
    assert!(
        acked.len() < BINDS * PER_BIND,
        "the kill came after everything was done"
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
    // Let a late resend show itself before counting duplicates.
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    // Persisted but unanswered when killed: at most what was outstanding upstream.
    let unacked_sent = seen.keys().filter(|t| !acked.contains(*t)).count();
    assert!(
        unacked_sent <= BINDS * UPSTREAM_WINDOW,
        "{unacked_sent} messages sent that were never acknowledged (more than the windows held)"
    );
    // A duplicate is a part the carrier accepted whose outcome was not yet durable when
    // the process died: in a carrier window, or answered and waiting in the writer's
    // current batch (at most WRITER_BATCH outcomes).
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    assert!(
        duplicates as usize <= CARRIER_BINDS * CARRIER_WINDOW + WRITER_BATCH,
        "{duplicates} duplicates: more than the carrier windows and one writer batch held"
    );
    eprintln!(
        "acknowledged {} of {} sent; carrier had {before_restart} before the restart, {} after; {unacked_sent} sent unacknowledged; {duplicates} duplicates",
        acked.len(),
        sent.len(),
        seen.len()
    );
    drop(gateway);
}
