//! The carrier-wide rate limit, counted where the carrier sees it: when each submit_sm
//! arrives at a stamping SMSC.

mod carrier_support;

use std::time::Duration;

use carrier_support::{carrier, config, stamped, stamper, start};
use smppgate::carrier::Class;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tps_500_on_4_binds_holds_within_2_percent() {
    let (server, stamps) = stamper().await;
    let address = server.local_addr().to_string();
    let (carriers, recorder) = start(&config(vec![carrier("c", &address, 500, 4, 64)])).await;
    for id in 0..5_000 {
        carriers
            .submit(stamped(id, 0, Class::Notification))
            .unwrap();
    }
    recorder.wait_for(5_000, Duration::from_secs(30)).await;
    recorder.assert_all_accepted(5_000);
    let mut arrivals: Vec<_> = stamps
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _, _)| *t)
        .collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 5_000);
    let first = arrivals[0];
    let total = arrivals[4_999].duration_since(first).as_secs_f64();
    // The most in any 1-second window, sliding from each arrival.
    let mut busiest = 0;
    let mut end = 0;
    for start in 0..arrivals.len() {
        while end < arrivals.len()
            && arrivals[end].duration_since(arrivals[start]) < Duration::from_secs(1)
        {
            end += 1;
        }
        busiest = busiest.max(end - start);
    }
    let per_bind: Vec<u64> = carriers.stats()["carriers"][0]["binds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["submits"].as_u64().unwrap())
        .collect();
    println!("5 000 at 500 TPS: {total:.3} s; busiest 1-s window {busiest}; per bind {per_bind:?}");
    assert!((9.8..=10.2).contains(&total), "total {total:.3} s");
    assert!(busiest <= 510, "busiest 1-s window {busiest}");
    // All four binds carried traffic.
    assert!(per_bind.iter().all(|n| *n > 0), "{per_bind:?}");
    carriers.drain(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parts_of_a_message_go_back_to_back_at_the_limit() {
    // 50 TPS (20 ms apart) and a 5-part message every 100 ms: the route runs at its
    // limit, and each message's parts still go together.
    let (server, stamps) = stamper().await;
    let address = server.local_addr().to_string();
    let (carriers, recorder) = start(&config(vec![carrier("c", &address, 50, 2, 16)])).await;
    // Wait for the binds so the first message is not held up by them.
    tokio::time::timeout(Duration::from_secs(5), async {
        while carriers.stats()["carriers"][0]["binds_up"] != 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("binds up");
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    for id in 0..10 {
        ticker.tick().await;
        for part in 0..5 {
            carriers
                .submit(stamped(id, part, Class::Notification))
                .unwrap();
        }
    }
    recorder.wait_for(50, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(50);
    let arrivals = stamps.arrivals.lock().unwrap().clone();
    let mut worst = Duration::ZERO;
    for id in 0..10 {
        let times: Vec<_> = arrivals
            .iter()
            .filter(|(_, i, _)| *i == id)
            .map(|(t, _, _)| *t)
            .collect();
        assert_eq!(times.len(), 5);
        let spread = *times.iter().max().unwrap() - *times.iter().min().unwrap();
        worst = worst.max(spread);
    }
    println!("5 parts at 50 TPS: widest spread {worst:?} (the interval is 20 ms)");
    // Without a burst the parts would be 80 ms apart from first to last.
    assert!(
        worst < Duration::from_millis(20),
        "parts spread over {worst:?}"
    );
    carriers.drain(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(1)).await;
}
