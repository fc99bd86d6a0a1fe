//! Delivery statistics as the store keeps them: one [`Counters`] per (hour, account,
//! route, carrier), added to as outcomes are written ([`super::Op::Stats`], in the same
//! commits as the outcomes) so that a question over a month reads at most
//! 720 × (accounts × routes × carriers) small entries, never the send log.
//!
//! Latency (submit → final receipt) is kept as counts in fixed logarithmic buckets, four
//! per doubling (each bucket's upper bound is 2^¼ ≈ 1.19× its lower one), so counters of
//! any hours and keys merge by addition and a percentile is read to within 19 %.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Millis;

/// One hour in milliseconds.
pub const HOUR_MS: u64 = 3_600_000;

/// Buckets per doubling of the latency.
const PER_DOUBLING: u32 = 4;
/// The last bucket takes everything above 2^(LAST/4) ms (2^30 ms: 12 days).
const LAST_BUCKET: u8 = 120;
/// 2^(k/4) for k = 1..3, times 10 000.
const QUARTER_STEPS: [u128; 3] = [11_892, 14_142, 16_818];

/// Which counters: the hour (since the epoch) the outcome happened in, and whose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatsKey {
    /// Hours since the Unix epoch (UTC).
    pub hour: u64,
    /// The upstream account.
    pub account: String,
    /// The route the message took (empty: not known, e.g. refused before routing).
    pub route: String,
    /// The carrier that took it (empty: none did).
    pub carrier: String,
}

impl StatsKey {
    /// The key of an outcome at `at` (ms since the epoch).
    #[must_use]
    pub fn at(at: Millis, account: &str, route: &str, carrier: &str) -> Self {
        Self {
            hour: at / HOUR_MS,
            account: account.to_owned(),
            route: route.to_owned(),
            carrier: carrier.to_owned(),
        }
    }
}

/// What happened to messages in one hour for one key. Counts are of messages, not parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Taken by a carrier.
    pub sent: u64,
    /// Final: delivered.
    pub delivered: u64,
    /// Final: undeliverable, rejected or unknown (receipt), or failed at the carrier.
    pub failed: u64,
    /// Final: expired (validity over, here or at the carrier).
    pub expired: u64,
    /// Refused by a policy rule, by rule.
    pub rejected: BTreeMap<String, u64>,
    /// Submit → delivered receipt.
    pub latency: Latency,
}

impl Counters {
    /// Adds `other` to these.
    pub fn merge(&mut self, other: &Self) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.expired += other.expired;
        for (rule, count) in &other.rejected {
            *self.rejected.entry(rule.clone()).or_insert(0) += count;
        }
        self.latency.merge(&other.latency);
    }

    /// Refusals by any rule.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Counts in logarithmic buckets (see the module comment); only buckets with a count are
/// kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    buckets: BTreeMap<u8, u64>,
}

impl Latency {
    /// Counts one latency of `ms`.
    pub fn record(&mut self, ms: u64) {
        *self.buckets.entry(bucket_of(ms)).or_insert(0) += 1;
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Self) {
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_insert(0) += count;
        }
    }

    /// How many latencies were counted.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The `q` quantile (0 < q ≤ 1) in ms, as the upper bound of its bucket; `None` when
    /// nothing was counted.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the quantile, 1-based: ceil(q × total), at least 1.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(upper_bound(*bucket));
            }
        }
        self.buckets.keys().next_back().map(|b| upper_bound(*b))
    }
}

/// The bucket of `ms`: 0 for under 1 ms, then four per doubling.
fn bucket_of(ms: u64) -> u8 {
    if ms == 0 {
        return 0;
    }
    let doubling = 63 - ms.leading_zeros();
    let base = 1u128 << doubling;
    let quarter = QUARTER_STEPS
        .iter()
        .take_while(|&&step| u128::from(ms) * 10_000 >= base * step)
        .count();
    let index = doubling * PER_DOUBLING + u32::try_from(quarter).unwrap_or(0) + 1;
    u8::try_from(index).unwrap_or(LAST_BUCKET).min(LAST_BUCKET)
}

/// The largest ms a bucket holds (2^(bucket/4), rounded up).
fn upper_bound(bucket: u8) -> u64 {
    if bucket == 0 {
        return 0;
    }
    let bucket = u32::from(bucket);
    let doubling = bucket / PER_DOUBLING;
    let quarter = bucket % PER_DOUBLING;
    let base = 1u128 << doubling;
    let bound = match quarter {
        0 => base * 10_000,
        q => base * QUARTER_STEPS[usize::try_from(q - 1).unwrap_or(0)],
    };
    u64::try_from(bound.div_ceil(10_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_rise_with_the_latency_and_bound_it_within_a_fifth() {
        let mut last = 0;
        for ms in [1, 2, 3, 5, 10, 99, 100, 101, 1_000, 65_000, 3_600_000] {
            let bucket = bucket_of(ms);
            assert!(bucket >= last, "{ms}");
            last = bucket;
            let upper = upper_bound(bucket);
            assert!(upper >= ms, "{ms} over its bucket's bound {upper}");
            assert!(upper * 10 <= ms * 12 + 10, "{ms}: bound {upper} too loose");
            if bucket > 1 {
                assert!(upper_bound(bucket - 1) <= ms, "{ms} belongs lower");
            }
        }
        assert_eq!(bucket_of(u64::MAX), LAST_BUCKET);
    }

    #[test]
    fn quantiles_of_merged_counters() {
        let mut a = Latency::default();
        let mut b = Latency::default();
        for ms in 1..=90 {
            a.record(ms * 10); // 10 ms .. 900 ms
        }
        for _ in 0..10 {
            b.record(60_000);
        }
        a.merge(&b);
        assert_eq!(a.count(), 100);
        let p50 = a.quantile(0.5).unwrap();
        assert!((500..=600).contains(&p50), "{p50}");
        let p99 = a.quantile(0.99).unwrap();
        assert!((60_000..=72_000).contains(&p99), "{p99}");
        assert_eq!(Latency::default().quantile(0.5), None);
    }

    #[test]
    fn counters_merge_by_addition() {
        let mut a = Counters {
            sent: 3,
            delivered: 2,
            ..Counters::default()
        };
        a.rejected.insert("cap".into(), 1);
        let mut b = Counters {
            sent: 1,
            failed: 1,
            expired: 4,
            ..Counters::default()
        };
        b.rejected.insert("cap".into(), 2);
        b.rejected.insert("blacklist".into(), 5);
        b.latency.record(100);
        a.merge(&b);
        assert_eq!((a.sent, a.delivered, a.failed, a.expired), (4, 2, 1, 4));
        assert_eq!(a.rejected["cap"], 3);
        assert_eq!(a.rejected_total(), 8);
        assert_eq!(a.latency.count(), 1);
    }
}
