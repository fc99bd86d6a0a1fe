//! The simulator's counters: relaxed atomics, one cache line each would be overkill; the
//! hot path touches two or three per PDU.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde_json::{Value, json};

/// Everything the simulator counts; printed as one JSON line at exit.
#[derive(Debug, Default)]
pub struct Counters {
    /// Successful binds.
    pub binds: AtomicU64,
    /// Refused binds.
    pub bind_failures: AtomicU64,
    /// Bound sessions now.
    pub sessions_active: AtomicI64,
    /// submit_sm received (accepted or not).
    pub submits: AtomicU64,
    /// submit_multi received.
    pub submit_multi: AtomicU64,
    /// data_sm received.
    pub data_sm: AtomicU64,
    /// Message PDUs that are a segment of a concatenated message (UDHI set or SAR TLVs).
    pub segments: AtomicU64,
    /// Delivery receipts sent (deliver_sm handed to a session).
    pub receipts_sent: AtomicU64,
    /// Delivery receipts answered with ESME_ROK.
    pub receipts_acked: AtomicU64,
    /// Receipts given up: refused at submit time because the receipt queue was full
    /// (the submit got `ESME_RMSGQFUL`), or with `--receipt-bind same` whose submitting
    /// bind is gone or cannot receive.
    pub receipts_dropped: AtomicU64,
    /// Tries that found no receiver session or lost it before the deliver_sm_resp; the
    /// receipt went back into the queue (one receipt can count several times).
    pub receipts_retried: AtomicU64,
    /// enquire_link answered.
    pub enquire_links: AtomicU64,
    /// query_sm received.
    pub query_sm: AtomicU64,
    /// unbind received from ESMEs.
    pub unbinds: AtomicU64,
    /// Connections accepted and closed.
    pub connections_closed: AtomicU64,
    /// generic_nack sent.
    pub generic_nack_sent: AtomicU64,
    /// Requests answered ESME_RINVBNDSTS / ESME_RALYBND.
    pub invalid_bind_status: AtomicU64,
    /// Frames that could not be decoded.
    pub decode_errors: AtomicU64,
    /// Unknown command_id.
    pub unknown_command: AtomicU64,
    /// Framing lost (command_length out of range).
    pub frame_errors: AtomicU64,
    /// Our requests (receipts) with no response in time.
    pub response_timeouts: AtomicU64,
    /// Submit responses given an injected error status (`--error-rate`).
    pub errors_injected: AtomicU64,
    /// Submits over `--tps`.
    pub throttled: AtomicU64,
    /// Connections closed by `--drop-after`.
    pub drops: AtomicU64,
    /// Requests left unanswered by `--silent-after`.
    pub silent: AtomicU64,
    /// Connections closed by `--disconnect-rate`.
    pub disconnects: AtomicU64,
    /// Binds refused by `--reject-bind-after`, `--max-binds` or `--account`.
    pub binds_rejected: AtomicU64,
    /// Mobile-originated deliver_sm sent (each segment counts).
    pub mo_sent: AtomicU64,
}

/// Adds one.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n`.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    if n > 0 {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl Counters {
    /// The JSON object printed at exit (keys fixed: scripts read them).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "binds": get(&self.binds),
            "bind_failures": get(&self.bind_failures),
            "sessions_active": self.sessions_active.load(Ordering::Relaxed).max(0),
            "submits": get(&self.submits),
            "submit_multi": get(&self.submit_multi),
            "data_sm": get(&self.data_sm),
            "segments": get(&self.segments),
            "receipts_sent": get(&self.receipts_sent),
            "receipts_acked": get(&self.receipts_acked),
            "receipts_dropped": get(&self.receipts_dropped),
            "receipts_retried": get(&self.receipts_retried),
            "enquire_links": get(&self.enquire_links),
            "query_sm": get(&self.query_sm),
            "unbinds": get(&self.unbinds),
            "connections_closed": get(&self.connections_closed),
            "errors_injected": get(&self.errors_injected),
            "throttled": get(&self.throttled),
            "drops": get(&self.drops),
            "silent": get(&self.silent),
            "disconnects": get(&self.disconnects),
            "binds_rejected": get(&self.binds_rejected),
            "mo_sent": get(&self.mo_sent),
            "errors": {
                "generic_nack_sent": get(&self.generic_nack_sent),
                "invalid_bind_status": get(&self.invalid_bind_status),
                "decode_errors": get(&self.decode_errors),
                "unknown_command": get(&self.unknown_command),
                "frame_errors": get(&self.frame_errors),
                "response_timeouts": get(&self.response_timeouts),
            },
        })
    }

    /// Mirrors the counters into the `metrics` recorder (the Prometheus exporter of
    /// `smppgate sim --metrics`) as `smppgate_sim_<key>`, nested keys joined with `_`:
    /// `*_active` as a gauge, the rest as counters set to their absolute value and named
    /// `smppgate_sim_<key>_total` (the Prometheus unit suffix of a counter). Called
    /// on a tick, not where things are counted: the hot path stays one relaxed add, and
    /// walking these ~30 keys once a second costs nothing worth measuring.
    pub fn export_metrics(&self) {
        fn walk(name: &str, value: &Value) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        walk(&format!("{name}_{key}"), value);
                    }
                }
                Value::Number(n) => {
                    if name.ends_with("_active") {
                        metrics::gauge!(name.to_owned()).set(n.as_f64().unwrap_or(0.0));
                    } else {
                        metrics::counter!(format!("{name}_total"))
                            .absolute(n.as_u64().unwrap_or(0));
                    }
                }
                _ => {}
            }
        }
        walk("smppgate_sim", &self.to_json());
    }
}
