//! `[cluster]` with real processes: a 3-node NATS JetStream cluster (`replicas = 3`),
//! `smppgate serve` on it, a recording carrier, and 4 upstream binds pushing 20 000
//! numbered messages.
//!
//! - One NATS server is killed with SIGKILL half way: intake goes on, and every message
//!   that got ESME_ROK reaches the carrier.
//! - The gateway is killed with SIGKILL half way and started again under its node name (a
//!   replacement node sends the backlog of the name it runs as): every acknowledged
//!   message reaches the carrier, duplicates stay within what was in flight at the
//!   carrier.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) each test says it skipped.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use support::load::{
    BINDS, CARRIER_BINDS, CARRIER_WINDOW, Load, PER_BIND, Recorder, UPSTREAM_WINDOW, WRITER_BATCH,
};
use support::nats::NatsCluster;
use support::serve_node;

/// Waits (at most a minute) until the carrier has `n` distinct texts.
async fn wait_received(recorder: &Recorder, n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorder.received() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Every acknowledged text reached the carrier, nothing unknown did; the duplicates.
async fn check_delivered(
    recorder: &Recorder,
    acked: &HashSet<Vec<u8>>,
    sent: &HashSet<Vec<u8>>,
) -> u32 {
    let missing = recorder.wait_for_all(acked).await;
    assert!(
        missing.is_empty(),
        "{} acknowledged messages never reached the carrier, e.g. {:?}",
        missing.len(),
        String::from_utf8_lossy(&missing[0])
    );
    // Let a late resend show itself before counting.
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
    let unacked_sent = seen.keys().filter(|t| !acked.contains(*t)).count();
    assert!(
        unacked_sent <= BINDS * UPSTREAM_WINDOW,
        "{unacked_sent} messages sent that were never acknowledged (more than the windows held)"
    );
    seen.values().map(|n| n - 1).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_killed_mid_load_loses_no_acknowledged_message() {
    let Some(mut cluster) = NatsCluster::start() else {
        return;
    };
    let (mut load, gateway) = Load::start_half_way_with(&cluster.gateway_section("gw-1", 3)).await;
    let at_kill = load.recorder.received();
    cluster.kill9(0);
    // Intake goes on with two of three servers: more messages reach the carrier.
    let more = (BINDS * PER_BIND - at_kill).min(2_000);
    assert!(
        wait_received(&load.recorder, at_kill + more).await,
        "intake stopped after a NATS server died: {} at the kill, {} a minute later",
        at_kill,
        load.recorder.received()
    );
    let (acked, sent) = load.finish_pushing().await;
    assert!(acked.len() > at_kill, "nothing acknowledged after the kill");
    let duplicates = check_delivered(&load.recorder, &acked, &sent).await;
    // The gateway never died: its carrier outcomes were all recorded once.
    assert!(
        duplicates as usize <= CARRIER_BINDS * CARRIER_WINDOW,
        "{duplicates} duplicates with a live gateway"
    );
    eprintln!(
        "acknowledged {} of {} sent; {at_kill} at the kill; {duplicates} duplicates",
        acked.len(),
        sent.len()
    );
    drop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_killed_mid_load_is_replaced_under_its_name_and_sends_everything() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (mut load, gateway) = Load::start_half_way_with(&cluster.gateway_section("gw-1", 3)).await;
    gateway.kill9();
    let (acked, sent) = load.finish_pushing().await;
    let recorder = Arc::clone(&load.recorder);
    let before_restart = recorder.received();
    assert!(
        acked.len() >= BINDS * PER_BIND / 4,
        "too few acknowledged before the kill: {}",
        acked.len()
    );
    assert!(
        acked.len() < BINDS * PER_BIND,
        "the kill came after everything was done"
    );

    // A node takes over under the dead node's name (docs/cluster.md: a node sends the
    // backlog of its own name; on another machine this is the same file).
    let (gateway, _addr) = serve_node(&load.config);
    let duplicates = check_delivered(&recorder, &acked, &sent).await;
    // A duplicate is a part the carrier accepted whose outcome was not yet committed when
    // the process died: in a carrier window, or in the writer's current batch.
    assert!(
        duplicates as usize <= CARRIER_BINDS * CARRIER_WINDOW + WRITER_BATCH,
        "{duplicates} duplicates: more than the carrier windows and one writer batch held"
    );
    eprintln!(
        "acknowledged {} of {} sent; carrier had {before_restart} before the restart, {} after; {duplicates} duplicates",
        acked.len(),
        sent.len(),
        recorder.received()
    );
    drop(gateway);
}
