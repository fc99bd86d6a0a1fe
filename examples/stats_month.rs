//! How fast `smppgate stats` answers over a month (issue #15 §3): a fjall store with a
//! month of per-hour delivery counters for ACCOUNTS × 3 routes × 3 carriers (every key
//! with traffic every hour, latency buckets filled), written as the gateway writes them
//! (`Op::Stats`, one commit per hour), then `smppgate::stats::query` over 30 days, total
//! and grouped each way, timed: first as written (by hour), then after rolling the days
//! before today up into day rows (`Store::roll_up_stats`, what housekeeping does), in the
//! same run.
//!
//! ```text
//! cargo run --release --example stats_month -- [ACCOUNTS] [DIR]
//! ```
//!
//! Prints one JSON line: entries, then per grouping the rows and the query's time in ms
//! by hour and rolled up (the best of 5 runs, and the first, which reads from disk into
//! the cache), and their ratio.

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
    // The same store read twice: by hour (as before day roll-ups), then after rolling up
    // every day before today, so the two are compared in one run on one machine.
    let hourly = time_queries(&store, since);
    let rolled_days = store.roll_up_stats(now / HOUR_MS / 24).expect("roll up");
    let rolled = time_queries(&store, since);
    let results: Vec<String> = hourly
        .iter()
        .zip(&rolled)
        .map(
            |((by, rows_h, first_h, best_h), (_, rows_d, first_d, best_d))| {
                assert_eq!(rows_h, rows_d, "{by}: same rows either way");
                format!(
                    "{{\"by\":\"{by}\",\"rows\":{rows_h},\"hourly_first_ms\":{first_h:.2},\
                 \"hourly_best_ms\":{best_h:.2},\"rolled_first_ms\":{first_d:.2},\
                 \"rolled_best_ms\":{best_d:.2},\"speedup\":{:.1}}}",
                    best_h / best_d
                )
            },
        )
        .collect();
    println!(
        "{{\"entries\":{entries},\"hours\":{HOURS},\"rolled_days\":{rolled_days},\"queries\":[{}]}}",
        results.join(",")
    );
}

/// Per grouping: (name, rows, first run ms, best of 5 ms).
fn time_queries(store: &FjallStore, since: u64) -> Vec<(String, usize, f64, f64)> {
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
            rows = query(store, &Query { since, by }).expect("query").len();
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        results.push((format!("{by:?}"), rows, times[0], best));
    }
    results
}
