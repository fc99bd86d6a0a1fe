//! The Prometheus exporter as `serve` and `sim` install it: every histogram rendered as a
//! true Prometheus histogram (`_bucket{le=…}`, `_sum`, `_count`), not a summary, because
//! quantiles computed in one process cannot be added up across nodes and a dashboard
//! must aggregate a fleet: `histogram_quantile(0.99, sum by (le) (rate(…_bucket[5m])))`.

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

/// Bounds for every `*_seconds` histogram: 100 µs to 10 s roughly ×2.5 per step, so a
/// 50 ms alert threshold (store commit p99) falls on a bucket bound; then 30 s to 1 h for
/// the slow ones (a receipt can take minutes).
pub(crate) const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Bounds for `smppgate_store_commit_operations` (operations per group commit).
pub(crate) const OPERATIONS_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// A builder with the bucket layout above; the caller adds the listener.
pub(crate) fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full("smppgate_store_commit_operations".to_owned()),
            OPERATIONS_BUCKETS,
        )
}
