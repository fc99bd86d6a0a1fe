//! What the pool records with the `metrics` crate (the gateway installs the Prometheus
//! exporter; without a recorder every call is a no-op). Handles are registered once so
//! the hot path is an atomic add, never a label lookup.
//!
//! | name | labels | kind |
//! |---|---|---|
//! | `smppgate_carrier_submits_total` | carrier, bind | counter |
//! | `smppgate_carrier_responses_total` | carrier, status | counter |
//! | `smppgate_carrier_window_in_use` | carrier, bind | gauge |
//! | `smppgate_route_queue_depth` | route, class | gauge |
//! | `smppgate_carrier_throttle_events_total` | carrier | counter |
//! | `smppgate_carrier_reconnects_total` | carrier, bind | counter |
//! | `smppgate_carrier_bind_failures_total` | carrier, bind | counter |
//! | `smppgate_carrier_bind_rejected` | carrier | gauge (alert: 1 while the carrier refuses binds) |
//! | `smppgate_carrier_binds_up` | carrier | gauge |
//! | `smppgate_carrier_binds_held` | carrier | gauge (binds this node holds under the split among the live nodes, `[cluster]`; all of `binds` on one node) |
//! | `smppgate_carrier_retries_total` | carrier | counter |
//! | `smppgate_carrier_failovers_total` | carrier | counter |
//! | `smppgate_carrier_throttle_bypass_total` | carrier | counter (messages sent past it while it refused by throttle; also counted as failovers) |
//! | `smppgate_carrier_resubmitted_after_loss_total` | carrier | counter |
//! | `smppgate_carrier_rate_limit_per_second` | carrier | gauge (current rate limit) |
//! | `smppgate_carrier_response_seconds` | carrier | histogram (submit → response) |

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use smppgate_protocol::command_status::CommandStatus;

use super::Class;

/// One carrier's handles.
#[derive(Debug)]
pub(crate) struct CarrierMetrics {
    name: Arc<str>,
    pub(crate) accepted: Counter,
    pub(crate) throttle_events: Counter,
    pub(crate) bind_rejected: Gauge,
    pub(crate) binds_up: Gauge,
    pub(crate) binds_held: Gauge,
    pub(crate) retries: Counter,
    pub(crate) failovers: Counter,
    pub(crate) throttle_bypasses: Counter,
    pub(crate) resubmitted_after_loss: Counter,
    pub(crate) rate: Gauge,
    pub(crate) latency: Histogram,
}

impl CarrierMetrics {
    pub(crate) fn new(name: &Arc<str>) -> Self {
        let carrier = Arc::clone(name);
        Self {
            name: Arc::clone(name),
            accepted: counter!("smppgate_carrier_responses_total", "carrier" => carrier.clone(), "status" => "ESME_ROK"),
            throttle_events: counter!("smppgate_carrier_throttle_events_total", "carrier" => carrier.clone()),
            bind_rejected: gauge!("smppgate_carrier_bind_rejected", "carrier" => carrier.clone()),
            binds_up: gauge!("smppgate_carrier_binds_up", "carrier" => carrier.clone()),
            binds_held: gauge!("smppgate_carrier_binds_held", "carrier" => carrier.clone()),
            retries: counter!("smppgate_carrier_retries_total", "carrier" => carrier.clone()),
            failovers: counter!("smppgate_carrier_failovers_total", "carrier" => carrier.clone()),
            throttle_bypasses: counter!("smppgate_carrier_throttle_bypass_total", "carrier" => carrier.clone()),
            resubmitted_after_loss: counter!("smppgate_carrier_resubmitted_after_loss_total", "carrier" => carrier.clone()),
            rate: gauge!("smppgate_carrier_rate_limit_per_second", "carrier" => carrier.clone()),
            latency: histogram!("smppgate_carrier_response_seconds", "carrier" => carrier),
        }
    }

    /// A response with `status` (the accepted ones through the cached handle).
    pub(crate) fn response(&self, status: CommandStatus) {
        if status.is_ok() {
            self.accepted.increment(1);
        } else {
            let status = status.name_or_hex().into_owned();
            counter!("smppgate_carrier_responses_total", "carrier" => self.name.clone(), "status" => status)
                .increment(1);
        }
    }
}

/// One bind's handles.
#[derive(Debug)]
pub(crate) struct BindMetrics {
    pub(crate) submits: Counter,
    pub(crate) window_in_use: Gauge,
    pub(crate) reconnects: Counter,
    pub(crate) bind_failures: Counter,
}

impl BindMetrics {
    pub(crate) fn new(carrier: &Arc<str>, bind: usize) -> Self {
        let bind = bind.to_string();
        Self {
            submits: counter!("smppgate_carrier_submits_total", "carrier" => carrier.clone(), "bind" => bind.clone()),
            window_in_use: gauge!("smppgate_carrier_window_in_use", "carrier" => carrier.clone(), "bind" => bind.clone()),
            reconnects: counter!("smppgate_carrier_reconnects_total", "carrier" => carrier.clone(), "bind" => bind.clone()),
            bind_failures: counter!("smppgate_carrier_bind_failures_total", "carrier" => carrier.clone(), "bind" => bind),
        }
    }
}

/// Queue depth gauges of one route, by class.
#[derive(Debug)]
pub(crate) struct RouteMetrics {
    pub(crate) depth: [Gauge; 3],
}

impl RouteMetrics {
    pub(crate) fn new(route: &Arc<str>) -> Self {
        let depth = Class::ALL.map(|class| {
            gauge!("smppgate_route_queue_depth", "route" => route.clone(), "class" => class.as_str())
        });
        Self { depth }
    }
}
