//! How fast `smppgate stats` answers over a month (issue #15 §3): a fjall store with a
//! month of per-hour delivery counters for ACCOUNTS × 3 routes × 3 carriers (every key
//! with traffic every hour, latency buckets filled), written as the gateway writes them
//! (`Op::Stats`, one commit per hour), then `smppgate::stats::query` over 30 days, total
//! and grouped each way, timed.
//!
//! ```text
//! cargo run --release --example stats_month -- [ACCOUNTS] [DIR]
//! ```
//!
//! Prints one JSON line: entries, then per grouping the rows and the query's time in ms
//! (the best of 5 runs, and the first, which reads from disk into the cache).

use std::time::Instant;

use smppgate::stats::{By, Query, query};
use smppgate::store::{Counters, FjallStore, HOUR_MS, Op, StatsKey, Store};

const HOURS: u64 = 30 * 24;

fn main() {
    let mut args = std::env::args().skip(1);
    let accounts: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    // Removed at the end unless a DIR is given.
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = args
        .next()
        .map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    let store = FjallStore::open(&dir, false).expect("store");
    let now = smppgate::store::now_millis();
    let first = now / HOUR_MS - HOURS + 1;
    let mut entries = 0;
    for hour in first..=now / HOUR_MS {
        let mut batch = Vec::new();
        for account in 0..accounts {
            for route in 0..3 {
                for carrier in 0..3 {
                    let mut counters = Counters {
                        sent: 1_000,
                        delivered: 950,
                        failed: 30,
                        expired: 20,
                        ..Counters::default()
                    };
                    for ms in [300, 800, 1_500, 4_000, 12_000, 65_000] {
                        counters.latency.record(ms);
                    }
                    counters.rejected.insert("cap".into(), 3);
                    let key = StatsKey::at(
                        hour * HOUR_MS,
                        &format!("account-{account}"),
                        &format!("route-{route}"),
                        &format!("carrier-{carrier}"),
                    );
                    batch.push((key, counters));
                    entries += 1;
                }
            }
        }
        store.commit(&[Op::Stats(batch)]).expect("commit");
    }
    let since = now - HOURS * HOUR_MS;
    let mut results = Vec::new();
    for by in [
        By::Total,
        By::Account,
        By::Route,
        By::Carrier,
        By::Day,
        By::Hour,
    ] {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let start = Instant::now();
            rows = query(&store, &Query { since, by }).expect("query").len();
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        results.push(format!(
            "{{\"by\":\"{by:?}\",\"rows\":{rows},\"first_ms\":{:.2},\"best_ms\":{best:.2}}}",
            times[0]
        ));
    }
    println!(
        "{{\"entries\":{entries},\"hours\":{HOURS},\"queries\":[{}]}}",
        results.join(",")
    );
}
