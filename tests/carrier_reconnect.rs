//! A carrier that drops the connection every 1 000 PDUs: nothing lost, no bind storm,
//! no ESME_RALYBND.

mod carrier_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use carrier_support::{carrier, config, start, submit_many};
use smppgate::carrier::Class;
use smppgate::sim::{Faults, Sim, SimConfig};
use smppgate_protocol::command_status::CommandStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_every_1000_pdus_lose_nothing() {
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        faults: Faults {
            drop_after: Some(1_000),
            // A fifth bind at once would be refused ESME_RALYBND.
            max_binds: Some(4),
            max_binds_status: CommandStatus::ESME_RALYBND,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let (carriers, recorder) = start(&config(vec![carrier(
        "dropper",
        &sim.local_addr().to_string(),
        100_000,
        4,
        32,
    )]))
    .await;
    let n = 10_000;
    submit_many(&carriers, 0, n, Class::Notification);
    recorder.wait_for(n as usize, Duration::from_secs(60)).await;
    // Every message accepted, each reported once.
    recorder.assert_all_accepted(n as usize);
    let counters = sim.counters();
    let drops = counters.drops.load(Ordering::Relaxed);
    let binds = counters.binds.load(Ordering::Relaxed);
    let refused = counters.bind_failures.load(Ordering::Relaxed);
    let stats = carriers.stats();
    let c = &stats["carriers"][0];
    println!(
        "drops {drops}, sim binds {binds}, refused {refused}, resubmitted_after_loss {}, pool bind attempts {}",
        c["resubmitted_after_loss"], c["bind_attempts"]
    );
    // 10 000 PDUs over 4 connections, each dropped at its 1 000th.
    assert!(drops >= 5, "{drops} drops");
    // One bind per slot, then one per drop: no storm, and never a fifth at once.
    assert_eq!(refused, 0, "binds refused (ESME_RALYBND)");
    assert_eq!(counters.binds_rejected.load(Ordering::Relaxed), 0);
    assert!(binds <= drops + 4, "{binds} binds for {drops} drops");
    assert_eq!(c["bind_attempts"].as_u64().unwrap(), binds);
    assert!(c["resubmitted_after_loss"].as_u64().unwrap() > 0);
    carriers.drain(Duration::from_secs(5)).await;
}
