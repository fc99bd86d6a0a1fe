//! Delivery statistics for operators: sent, delivered, failed, expired, refused by rule,
//! the delivery rate and the submit → receipt p50/p99, over a time range and grouped by
//! account, route, carrier, day or hour. Read from the store's per-hour counters
//! (`store/stats.rs`) and, for every grouping but by hour, its per-day roll-ups of the
//! days that are over: a month is about 30 day rows and today's hours per key.
//!
//! [`query`] is the one function behind `smppgate stats` (and the HTTP API's
//! `GET /v1/stats` next).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::{Counters, HOUR_MS, Millis, StatsKey, Store, StoreError};

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum By {
    /// One row for everything.
    #[default]
    Total,
    /// Per upstream account.
    Account,
    /// Per route.
    Route,
    /// Per carrier (`-`: messages no carrier took, and refusals).
    Carrier,
    /// Per UTC day.
    Day,
    /// Per UTC hour.
    Hour,
}

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// From this time on (the whole hour it falls in counts).
    pub since: Millis,
    /// Grouping.
    pub by: By,
}

/// One row of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The group (account, route, carrier, `YYYY-MM-DD`, `YYYY-MM-DD hh:00`; `total`).
    pub group: String,
    /// Taken by a carrier.
    pub sent: u64,
    /// Delivered (final receipt).
    pub delivered: u64,
    /// Failed: undeliverable, rejected, unknown, or refused by the carrier.
    pub failed: u64,
    /// Expired.
    pub expired: u64,
    /// Refused by a policy rule.
    pub rejected: u64,
    /// Refusals by rule.
    pub rejected_by_rule: BTreeMap<String, u64>,
    /// delivered ÷ (delivered + failed + expired): of the messages that ended, the share
    /// delivered; `None` when none ended.
    pub delivery_rate: Option<f64>,
    /// Submit → delivered receipt, median, ms (upper bound of its bucket: within 19 %).
    pub p50_ms: Option<u64>,
    /// Submit → delivered receipt, 99th percentile, ms.
    pub p99_ms: Option<u64>,
}

impl Row {
    fn new(group: String, counters: &Counters) -> Self {
        let ended = counters.delivered + counters.failed + counters.expired;
        #[allow(clippy::cast_precision_loss)]
        let delivery_rate = (ended > 0).then(|| counters.delivered as f64 / ended as f64);
        Self {
            group,
            sent: counters.sent,
            delivered: counters.delivered,
            failed: counters.failed,
            expired: counters.expired,
            rejected: counters.rejected_total(),
            rejected_by_rule: counters.rejected.clone(),
            delivery_rate,
            p50_ms: counters.latency.quantile(0.5),
            p99_ms: counters.latency.quantile(0.99),
        }
    }
}

/// The rows of `query`, ordered by group (a `total` row alone for [`By::Total`]).
///
/// # Errors
/// The store's read failed.
pub fn query(store: &dyn Store, query: &Query) -> Result<Vec<Row>, StoreError> {
    let from_hour = query.since / HOUR_MS;
    let entries = if query.by == By::Hour {
        store.stats(from_hour)?
    } else {
        // Whole days rolled up: about 30 rows per key for a month, not 720.
        store.stats_coarse(from_hour)?
    };
    Ok(rows(entries, query.by))
}

/// Groups counters by `by` (what [`query`] does with what it read).
#[must_use]
pub fn rows(entries: Vec<(StatsKey, Counters)>, by: By) -> Vec<Row> {
    let mut groups: BTreeMap<String, Counters> = BTreeMap::new();
    for (key, counters) in entries {
        groups
            .entry(group_of(&key, by))
            .or_default()
            .merge(&counters);
    }
    if by == By::Total && groups.is_empty() {
        groups.insert(
            group_of(&StatsKey::at(0, "", "", ""), by),
            Counters::default(),
        );
    }
    groups
        .iter()
        .map(|(group, counters)| Row::new(group.clone(), counters))
        .collect()
}

fn group_of(key: &StatsKey, by: By) -> String {
    let named = |name: &str| {
        if name.is_empty() {
            "-".to_owned()
        } else {
            name.to_owned()
        }
    };
    let date = || crate::clock::utc_date(key.hour * 3600);
    match by {
        By::Total => "total".to_owned(),
        By::Account => named(&key.account),
        By::Route => named(&key.route),
        By::Carrier => named(&key.carrier),
        By::Day => {
            let d = date();
            format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
        }
        By::Hour => {
            let d = date();
            format!("{:04}-{:02}-{:02} {:02}:00", d.year, d.month, d.day, d.hour)
        }
    }
}

/// The rows as a table (one line each, a header first).
#[must_use]
pub fn table(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|r| r.group.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:<width$} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}  rejected by rule\n",
        "group", "sent", "delivered", "failed", "expired", "rejected", "delivery", "p50", "p99"
    );
    for row in rows {
        let rate = row
            .delivery_rate
            .map_or_else(|| "-".to_owned(), |r| format!("{:.2}%", r * 100.0));
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v}ms"));
        let rules: Vec<String> = row
            .rejected_by_rule
            .iter()
            .map(|(rule, n)| format!("{rule}={n}"))
            .collect();
        out.push_str(&format!(
            "{:<width$} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}  {}\n",
            row.group,
            row.sent,
            row.delivered,
            row.failed,
            row.expired,
            row.rejected,
            rate,
            ms(row.p50_ms),
            ms(row.p99_ms),
            rules.join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Op;
    use crate::store::memory::MemoryStore;

    /// 2026-12-06 00:00 UTC.
    const DAY: u64 = 1_796_515_200_000;

    fn counters(sent: u64, delivered: u64, failed: u64, expired: u64) -> Counters {
        let mut c = Counters {
            sent,
            delivered,
            failed,
            expired,
            ..Counters::default()
        };
        for i in 0..delivered {
            c.latency.record(1_000 + i);
        }
        c
    }

    fn fixed_store() -> MemoryStore {
        let store = MemoryStore::new();
        let mut refused = Counters::default();
        refused.rejected.insert("blacklist".into(), 3);
        refused.rejected.insert("cap".into(), 2);
        let entries = vec![
            // Yesterday 23:00: outside a query from today 00:00.
            (
                StatsKey::at(DAY - HOUR_MS, "shop", "cn", "c1"),
                counters(1000, 1000, 0, 0),
            ),
            (
                StatsKey::at(DAY, "shop", "cn", "c1"),
                counters(100, 90, 5, 5),
            ),
            (
                StatsKey::at(DAY + HOUR_MS, "shop", "cn", "c2"),
                counters(100, 100, 0, 0),
            ),
            (
                StatsKey::at(DAY + HOUR_MS + 5, "bank", "intl", "c2"),
                counters(10, 8, 2, 0),
            ),
            (StatsKey::at(DAY + 2 * HOUR_MS, "shop", "cn", ""), refused),
        ];
        store.commit(&[Op::Stats(entries)]).unwrap();
        store
    }

    fn run(by: By) -> Vec<Row> {
        query(&fixed_store(), &Query { since: DAY, by }).unwrap()
    }

    #[test]
    fn the_total_over_a_range() {
        let rows = run(By::Total);
        assert_eq!(rows.len(), 1);
        let total = &rows[0];
        assert_eq!(total.group, "total");
        assert_eq!((total.sent, total.delivered), (210, 198));
        assert_eq!((total.failed, total.expired, total.rejected), (7, 5, 5));
        assert_eq!(total.rejected_by_rule["cap"], 2);
        let rate = total.delivery_rate.unwrap();
        assert!((rate - 198.0 / 210.0).abs() < 1e-9, "{rate}");
        let p50 = total.p50_ms.unwrap();
        assert!((1_050..=1_260).contains(&p50), "{p50}"); // median 1 050, bucket ≤ +19 %
    }

    #[test]
    fn grouped_by_account_route_carrier_day_and_hour() {
        let groups =
            |by| -> Vec<(String, u64)> { run(by).into_iter().map(|r| (r.group, r.sent)).collect() };
        assert_eq!(
            groups(By::Account),
            [("bank".into(), 10), ("shop".into(), 200)]
        );
        assert_eq!(groups(By::Route), [("cn".into(), 200), ("intl".into(), 10)]);
        assert_eq!(
            groups(By::Carrier),
            [("-".into(), 0), ("c1".into(), 100), ("c2".into(), 110)]
        );
        assert_eq!(groups(By::Day), [("2026-12-06".into(), 210)]);
        assert_eq!(
            groups(By::Hour),
            [
                ("2026-12-06 00:00".into(), 100),
                ("2026-12-06 01:00".into(), 110),
                ("2026-12-06 02:00".into(), 0)
            ]
        );
        let by_hour = run(By::Hour);
        assert_eq!(by_hour[2].rejected, 5);
        assert_eq!(by_hour[2].delivery_rate, None);
    }

    #[test]
    fn nothing_counted_is_a_zero_total_and_a_table_prints() {
        let rows = query(
            &MemoryStore::new(),
            &Query {
                since: 0,
                by: By::Total,
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].sent, rows[0].p99_ms), (0, None));
        let text = table(&run(By::Account));
        assert!(text.lines().next().unwrap().starts_with("group"));
        assert!(text.contains("shop"), "{text}");
        assert!(text.contains("95.00%"), "{text}");
    }
}
