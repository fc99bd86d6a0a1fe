//! The gateway's counters (relaxed atomics, shared by the stages), what `serve` prints on
//! exit, and the process CPU time per accepted message.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the gateway.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages acknowledged upstream.
    pub accepted: AtomicU64,
    /// Submits refused (any status).
    pub rejected: AtomicU64,
    /// Parts accepted by a carrier.
    pub parts_sent: AtomicU64,
    /// Parts failed (permanent or exhausted).
    pub parts_failed: AtomicU64,
    /// Parts sent again after a restart (possible duplicates).
    pub resent_after_restart: AtomicU64,
    /// Parts the dispatcher took from the store's backlog (after a restart, a full route
    /// or a deferral) rather than from intake.
    pub dispatched_from_store: AtomicU64,
    /// Receipts from carriers matched to a part.
    pub receipts_matched: AtomicU64,
    /// Of those, matched by another reading of the id than the carrier style's first
    /// (the other base, or the text id): how often `auto` / mixed styles were needed.
    pub receipts_matched_alternate: AtomicU64,
    /// Receipts held because their submit_sm_resp had not arrived yet.
    pub receipts_early: AtomicU64,
    /// Receipts that matched nothing within the TTL.
    pub receipts_unmatched: AtomicU64,
    /// Receipts / MO delivered upstream (deliver_sm_resp ESME_ROK); shared with the
    /// outbox stage.
    pub forwarded: std::sync::Arc<AtomicU64>,
    /// MO messages received.
    pub mo_received: AtomicU64,
    /// MO messages that are opt-out replies.
    pub mo_opt_out: AtomicU64,
    /// MO messages for numbers no account owns.
    pub mo_unrouted: AtomicU64,
    /// Store commits or reads that failed.
    pub store_errors: AtomicU64,
    /// Delivery statistics not yet written to the store.
    pub(crate) delivery: super::delivery::DeliveryTally,
}

impl Stats {
    /// Every counter with its name: the exit JSON and `/metrics`
    /// (`smppgate_gateway_<name>_total`, published once a second) read these same values.
    #[must_use]
    pub fn counters(&self) -> [(&'static str, u64); 15] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("accepted", get(&self.accepted)),
            ("rejected", get(&self.rejected)),
            ("parts_sent", get(&self.parts_sent)),
            ("parts_failed", get(&self.parts_failed)),
            ("resent_after_restart", get(&self.resent_after_restart)),
            ("dispatched_from_store", get(&self.dispatched_from_store)),
            ("receipts_matched", get(&self.receipts_matched)),
            (
                "receipts_matched_alternate",
                get(&self.receipts_matched_alternate),
            ),
            ("receipts_early", get(&self.receipts_early)),
            ("receipts_unmatched", get(&self.receipts_unmatched)),
            ("forwarded", get(&self.forwarded)),
            ("mo_received", get(&self.mo_received)),
            ("mo_opt_out", get(&self.mo_opt_out)),
            ("mo_unrouted", get(&self.mo_unrouted)),
            ("store_errors", get(&self.store_errors)),
        ]
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .counters()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), serde_json::json!(value)))
            .collect();
        serde_json::Value::Object(map)
    }

    /// Publishes every counter to the metrics recorder (`/metrics`).
    pub(crate) fn publish(&self) {
        for (name, value) in self.counters() {
            metrics::counter!(format!("smppgate_gateway_{name}_total")).absolute(value);
        }
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Counts a store failure: counted, logged, never discarded.
pub(crate) fn store_error(stats: &Stats, what: &str, error: &crate::store::StoreError) {
    bump(&stats.store_errors);
    metrics::counter!("smppgate_store_errors_total", "what" => what.to_owned()).increment(1);
    tracing::error!(%error, what, "store failed");
}

/// The process's CPU time (user + system) in microseconds, from `/proc/self/stat`
/// (Linux; `None` elsewhere). Clock ticks are taken as 100 per second, the value every
/// Linux architecture we run on reports for `sysconf(_SC_CLK_TCK)`.
#[must_use]
pub fn process_cpu_micros() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces: count fields after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 10_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_reads_on_linux() {
        if cfg!(target_os = "linux") {
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            assert!(x != 1);
            assert!(super::process_cpu_micros().is_some());
        }
    }
}
