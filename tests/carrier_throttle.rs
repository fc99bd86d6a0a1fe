//! A carrier that throttles what goes over its real limit: everything is delivered, the
//! pool's rate backs off and then recovers.

mod carrier_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use carrier_support::{carrier, config, start, submit_many};
use smppgate::carrier::Class;
use smppgate::sim::{Faults, Sim, SimConfig};
use smppgate_protocol::command_status::CommandStatus;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_messages_are_all_delivered_and_the_rate_recovers() {
    // The contract says 200 TPS; the carrier really takes 160: about 20 % throttled at
    // full speed.
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        faults: Faults {
            tps: Some(160),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let (carriers, recorder) = start(&config(vec![carrier(
        "throttler",
        &sim.local_addr().to_string(),
        200,
        2,
        16,
    )]))
    .await;
    let n = 1_000;
    submit_many(&carriers, 0, n, Class::Notification);
    let mut lowest = f64::MAX;
    let sampler = async {
        loop {
            let rate = carriers.stats()["carriers"][0]["rate"].as_f64().unwrap();
            lowest = lowest.min(rate);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        () = recorder.wait_for(n as usize, Duration::from_secs(30)) => {}
        () = sampler => {}
    }
    recorder.assert_all_accepted(n as usize);
    let throttled = sim.counters().throttled.load(Ordering::Relaxed);
    let submits = sim.counters().submits.load(Ordering::Relaxed);
    let stats = carriers.stats();
    let c = &stats["carriers"][0];
    println!(
        "sim: {submits} submits, {throttled} throttled; pool: {} throttle events, lowest rate {lowest}",
        c["throttle_events"]
    );
    // No loss, no duplicate: every throttled one was sent again, once accepted.
    assert_eq!(submits - throttled, n);
    assert!(throttled > 0);
    assert!(c["throttle_events"].as_u64().unwrap() >= 1);
    assert_eq!(c["throttled"].as_u64().unwrap(), throttled);
    // Backed off…
    assert!(lowest <= 100.0, "lowest rate {lowest}");
    // …and recovers to the contracted rate (+100/s) once the carrier stops throttling.
    tokio::time::timeout(Duration::from_secs(5), async {
        while carriers.stats()["carriers"][0]["rate"].as_f64().unwrap() < 200.0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            // The rate is brought up to date when a send is attempted.
            let _ = carriers.submit(carrier_support::submission(1_000_000, 0, Class::Otp));
        }
    })
    .await
    .expect("rate back to 200");
    carriers.drain(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_throttling_backs_off_recovers_and_loses_nothing() {
    // Issue #8 §4: a carrier that throttles 20 % of submits at random, whatever the rate.
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        faults: Faults {
            error_rate: vec![(CommandStatus::ESME_RTHROTTLED, 2_000)],
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let tps = 500;
    let (carriers, recorder) = start(&config(vec![carrier(
        "random",
        &sim.local_addr().to_string(),
        tps,
        2,
        16,
    )]))
    .await;
    let n = 2_000;
    let started = Instant::now();
    submit_many(&carriers, 0, n, Class::Notification);
    let mut lowest = f64::MAX;
    let sampler = async {
        loop {
            let rate = carriers.stats()["carriers"][0]["rate"].as_f64().unwrap();
            lowest = lowest.min(rate);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        () = recorder.wait_for(n as usize, Duration::from_secs(30)) => {}
        () = sampler => {}
    }
    let elapsed = started.elapsed();
    recorder.assert_all_accepted(n as usize);
    let counters = sim.counters();
    let submits = counters.submits.load(Ordering::Relaxed);
    let throttled = counters.errors_injected.load(Ordering::Relaxed);
    let stats = carriers.stats();
    let c = &stats["carriers"][0];
    let reactions = c["throttle_events"].as_u64().unwrap();
    println!(
        "sim: {submits} submits, {throttled} throttled; pool: {reactions} throttle reactions, \
         lowest rate {lowest}, {n} accepted in {elapsed:?}"
    );
    // Every message accepted exactly once at the sim: what it did not throttle.
    assert_eq!(submits - throttled, n);
    assert!(throttled >= n / 10, "{throttled} throttled");
    assert_eq!(c["throttled"].as_u64().unwrap(), throttled);
    // Backed off, once per reaction window rather than once per throttle…
    assert!(reactions >= 1);
    assert!(reactions * 10 < throttled, "{reactions} reactions");
    assert!(lowest < f64::from(tps), "lowest rate {lowest}");
    // …never down to the floor for long: 2 500 sends at 500/s would take 5 s.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    // …and back near the contract once the throttles stop.
    tokio::time::timeout(Duration::from_secs(5), async {
        while carriers.stats()["carriers"][0]["rate"].as_f64().unwrap() < f64::from(tps) * 0.95 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("rate back near tps");
    carriers.drain(Duration::from_secs(5)).await;
}
