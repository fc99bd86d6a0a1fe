//! With marketing filling a route at its TPS, an OTP waits for about one send slot, not
//! behind the campaign.

mod carrier_support;

use std::collections::HashMap;
use std::time::Duration;

use carrier_support::{carrier, config, local_sim, start, submission, submit_many};
use smppgate::carrier::Class;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_overtakes_a_saturating_campaign() {
    let tps = 200;
    let slot = Duration::from_secs(1) / tps;
    let sim = local_sim().await;
    let (carriers, recorder) = start(&config(vec![carrier(
        "c",
        &sim.local_addr().to_string(),
        tps,
        2,
        16,
    )]))
    .await;
    let mut submitted: HashMap<u64, Instant> = HashMap::new();
    // Baseline: OTPs on an idle route.
    for id in 0..20 {
        submitted.insert(id, Instant::now());
        carriers.submit(submission(id, 0, Class::Otp)).unwrap();
        recorder
            .wait_for(id as usize + 1, Duration::from_secs(5))
            .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A campaign of 1 000 (5 s at 200 TPS), and OTPs every 23 ms meanwhile.
    submit_many(&carriers, 10_000, 1_000, Class::Marketing);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in 100..250 {
        submitted.insert(id, Instant::now());
        carriers.submit(submission(id, 0, Class::Otp)).unwrap();
        tokio::time::sleep(Duration::from_millis(23)).await;
    }
    recorder.wait_for(1_170, Duration::from_secs(20)).await;
    recorder.assert_all_accepted(1_170);
    let latency = |range: std::ops::Range<u64>| {
        let mut waits: Vec<Duration> = recorder
            .all()
            .iter()
            .filter(|(_, o)| range.contains(&o.id))
            .map(|(at, o)| at.duration_since(submitted[&o.id]))
            .collect();
        waits.sort();
        waits
    };
    let idle = latency(0..20);
    let busy = latency(100..250);
    let marketing_left = recorder
        .all()
        .iter()
        .filter(|(at, o)| o.id >= 10_000 && *at > submitted[&249])
        .count();
    let base = idle[idle.len() / 2];
    let p99 = busy[busy.len() * 99 / 100];
    let added = p99.saturating_sub(base);
    println!(
        "OTP submit→accepted: idle median {base:?}; under a saturating campaign p50 {:?}, p99 {p99:?}, max {:?}; added wait p99 {added:?} = {:.2} send slots of {slot:?} ({marketing_left} marketing still queued after the last OTP)",
        busy[busy.len() / 2],
        busy[busy.len() - 1],
        added.as_secs_f64() / slot.as_secs_f64(),
    );
    // The campaign was still running when the last OTP went.
    assert!(marketing_left > 0);
    // How many campaign messages were answered while each OTP waited: at most what was
    // already in the windows (2 binds × 16) plus the limiter's burst; behind the queue (a
    // FIFO) it would be hundreds. Counted, not timed, so a loaded machine does not fail it.
    let all = recorder.all();
    let marketing_at: Vec<Instant> = all
        .iter()
        .filter(|(_, o)| o.id >= 10_000)
        .map(|(at, _)| *at)
        .collect();
    let mut ahead: Vec<usize> = all
        .iter()
        .filter(|(_, o)| (100..250).contains(&o.id))
        .map(|(done, o)| {
            let from = submitted[&o.id];
            marketing_at
                .iter()
                .filter(|t| **t > from && **t < *done)
                .count()
        })
        .collect();
    ahead.sort_unstable();
    let ahead_p99 = ahead[ahead.len() * 99 / 100];
    println!(
        "campaign messages answered while an OTP waited: p99 {ahead_p99}, max {}",
        ahead[ahead.len() - 1]
    );
    assert!(
        ahead_p99 <= 2 * 16 + 8,
        "p99 {ahead_p99} campaign messages went ahead of an OTP"
    );
    // And in time: a few slots, with room for scheduling noise (a FIFO adds seconds).
    assert!(added <= slot * 20, "added wait p99 {added:?}");
    carriers.drain(Duration::from_secs(5)).await;
}

/// A part whose validity ends while it waits in its lane (the carrier's TPS is the
/// bottleneck) is not sent after it: it ends `FailReason::Expired`, and what was sent
/// went before the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_past_its_validity_is_not_sent() {
    use smppgate::carrier::{FailReason, OutcomeResult};
    let sim = local_sim().await;
    let (carriers, recorder) = start(&config(vec![carrier(
        "c",
        &sim.local_addr().to_string(),
        5,
        1,
        4,
    )]))
    .await;
    let deadline = Instant::now() + Duration::from_millis(500);
    for id in 0..30 {
        let mut part = submission(id, 0, Class::Marketing);
        part.deadline = Some(deadline);
        carriers.submit(part).unwrap();
    }
    recorder.wait_for(30, Duration::from_secs(10)).await;
    let all = recorder.all();
    let accepted: Vec<_> = all
        .iter()
        .filter(|(_, o)| matches!(o.result, OutcomeResult::Accepted { .. }))
        .collect();
    let expired = all
        .iter()
        .filter(|(_, o)| {
            matches!(
                o.result,
                OutcomeResult::Failed {
                    reason: FailReason::Expired,
                    ..
                }
            )
        })
        .count();
    assert_eq!(accepted.len() + expired, 30, "{all:?}");
    // The limiter lets a burst through at once; at 5 TPS the rest wait past 500 ms.
    assert!(expired >= 15, "{all:?}");
    for (at, outcome) in &accepted {
        // Sent before the deadline (answered within a moment of it).
        assert!(*at < deadline + Duration::from_millis(200), "{outcome:?}");
    }
}

/// A route a reload replaced (its queue changed) ends its task once it has nothing left:
/// the carrier wakes one route task again, not one more per reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_route_ends_its_task() {
    let sim = local_sim().await;
    let config = config(vec![carrier("c", &sim.local_addr().to_string(), 100, 1, 4)]);
    let (carriers, recorder) = start(&config).await;
    assert_eq!(route_tasks(&carriers), 1);
    carriers.submit(submission(1, 0, Class::Otp)).unwrap();
    recorder.wait_for(1, Duration::from_secs(5)).await;
    for round in 0..3 {
        let mut routes = config.routes.clone();
        routes[0].queue += round + 1;
        carriers.set_routes(&routes).expect("same carriers");
    }
    assert!(
        route_tasks(&carriers) > 1,
        "the replaced ones still run at first"
    );
    support_wait(|| route_tasks(&carriers) == 1).await;
    // The route in force still sends.
    carriers.submit(submission(2, 0, Class::Otp)).unwrap();
    recorder.wait_for(2, Duration::from_secs(5)).await;
    recorder.assert_all_accepted(2);
}

/// A route a reload removes ends its task once it has nothing left, and a submission
/// that still names it (chosen before the reload) goes by its destination instead of
/// failing for want of a route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_route_ends_its_task_and_its_name_goes_by_destination() {
    let sim = local_sim().await;
    let mut config = config(vec![carrier("c", &sim.local_addr().to_string(), 100, 1, 4)]);
    let mut extra = config.routes[0].clone();
    extra.name = "extra".to_owned();
    extra.default = false;
    extra.prefixes = vec!["86".to_owned()];
    config.routes.push(extra);
    let (carriers, recorder) = start(&config).await;
    assert_eq!(route_tasks(&carriers), 2);
    let named = |id, route: &str| {
        let mut part = submission(id, 0, Class::Otp);
        part.route = Some(route.into());
        part
    };
    carriers.submit(named(1, "extra")).unwrap();
    recorder.wait_for(1, Duration::from_secs(5)).await;
    carriers
        .set_routes(&config.routes[..1])
        .expect("same carriers");
    support_wait(|| route_tasks(&carriers) == 1).await;
    carriers
        .submit(named(2, "extra"))
        .expect("sent by its destination");
    recorder.wait_for(2, Duration::from_secs(5)).await;
    recorder.assert_all_accepted(2);
    // Held until the next reload, which lets it go: reloads do not pile routes up.
    assert_eq!(carriers.stats()["routes_retiring"], 1);
    for _ in 0..3 {
        carriers.set_routes(&config.routes[..1]).expect("same");
    }
    assert_eq!(carriers.stats()["routes_retiring"], 0);
}

/// The first carrier's route tasks running.
fn route_tasks(carriers: &smppgate::carrier::Carriers) -> u64 {
    carriers.stats()["carriers"][0]["route_tasks"]
        .as_u64()
        .unwrap()
}

async fn support_wait(done: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < end, "not within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
