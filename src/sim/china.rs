//! What the SMGP and SGIP simulators share: their fault settings (error rates by Result,
//! throttling, receipt states, random disconnects, MO), their counters, and the MO texts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use smppgate_protocol::china::text::{FORMAT_ASCII, FORMAT_GBK, FORMAT_UCS2, encode_text};
use smppgate_protocol::receipt::MessageState;
use tokio::time::Instant;

use super::faults::{BASIS, draw_error, pick};
use super::gcra::Gcra;

/// Faults of a Chinese-carrier simulator; the default is a polite carrier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CarrierFaults {
    /// Submit Results (SMGP Status, SGIP Result) to inject and their share in basis
    /// points (`--error-rate 75=10`).
    pub error_rate: Vec<(u32, u32)>,
    /// Accepted Submits per second per login name, across its links (GCRA); the excess
    /// gets `throttle_result`.
    pub tps: Option<u32>,
    /// The Result for a Submit over `tps` (and for one that finds the report queue full);
    /// `None`: the protocol's flow-control code (SMGP 75, SGIP 11).
    pub throttle_result: Option<u32>,
    /// Final report states by weight (`--receipt-states DELIVRD=90,UNDELIV=10`); empty:
    /// all DELIVRD.
    pub receipt_states: Vec<(MessageState, u32)>,
    /// Expected disconnects per link per minute, in basis points (10 000 = one a minute on
    /// average, Poisson).
    pub disconnect_rate: Option<u32>,
    /// MO messages per second per link that may receive them.
    pub mo_rate: Option<u32>,
}

impl CarrierFaults {
    /// The final state of the next report.
    #[must_use]
    pub fn draw_state(&self) -> MessageState {
        pick(&self.receipt_states).unwrap_or(MessageState::Delivered)
    }

    /// An injected Result for the next Submit, if one is drawn.
    #[must_use]
    pub fn draw_error(&self) -> Option<u32> {
        draw_error(&self.error_rate)
    }

    /// When a link opened now is dropped at random, if ever.
    #[must_use]
    pub fn next_disconnect(&self, now: Instant) -> Option<Instant> {
        let rate = self.disconnect_rate.filter(|r| *r > 0)?;
        // Exponential with mean BASIS / rate minutes.
        let mean_s = 60.0 * f64::from(BASIS) / f64::from(rate);
        let uniform = fastrand::f64().max(f64::MIN_POSITIVE);
        Some(now + Duration::from_secs_f64((-uniform.ln() * mean_s).min(86_400.0)))
    }
}

/// One GCRA limiter per login name, shared by that name's links.
#[derive(Debug)]
pub struct Throttles {
    rate: Option<u32>,
    origin: Instant,
    by_login: Mutex<HashMap<Bytes, Arc<Gcra>>>,
}

impl Throttles {
    /// Limiters at `rate` per second per login name (none: no limit).
    #[must_use]
    pub fn new(rate: Option<u32>) -> Self {
        Self {
            rate: rate.filter(|r| *r > 0),
            origin: Instant::now(),
            by_login: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more Submit of `login` conforms now (taking it if so).
    #[must_use]
    pub fn allow(&self, login: &Bytes) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        let origin = self.origin;
        let limiter = {
            let mut map = self.by_login.lock().unwrap_or_else(PoisonError::into_inner);
            // Bounded by the accounts that can log in (or, with none configured, by the
            // login names seen: the simulator is a test tool).
            Arc::clone(
                map.entry(login.clone())
                    .or_insert_with(|| Arc::new(Gcra::new(rate, origin))),
            )
        };
        limiter.check()
    }
}

/// What an SMGP or SGIP simulator counts; printed as one JSON line at exit.
#[derive(Debug, Default)]
pub struct CarrierCounters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections closed at once because `max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Logins (SMGP Login, SGIP Bind) accepted.
    pub logins: AtomicU64,
    /// Logins refused.
    pub logins_refused: AtomicU64,
    /// Submits answered with success.
    pub submits: AtomicU64,
    /// Submits answered with another Result.
    pub submits_refused: AtomicU64,
    /// Submits given an injected Result (`--error-rate`).
    pub errors_injected: AtomicU64,
    /// Submits over `--tps` (or finding the report queue full): the throttle Result.
    pub throttled: AtomicU64,
    /// Status reports sent.
    pub reports_sent: AtomicU64,
    /// MO messages sent.
    pub mo_sent: AtomicU64,
    /// Answers to our reports and MO.
    pub deliver_resps: AtomicU64,
    /// Heartbeats answered (SMGP Active_Test).
    pub active_tests: AtomicU64,
    /// Heartbeats we sent on an idle link (SMGP).
    pub active_tests_sent: AtomicU64,
    /// Exits / Unbinds received.
    pub exits: AtomicU64,
    /// Frames that were not valid packets.
    pub decode_errors: AtomicU64,
    /// Streams that could not be framed any more (closed).
    pub frame_errors: AtomicU64,
    /// Links closed after the idle timeout.
    pub idle_closed: AtomicU64,
    /// Links dropped at random (`--disconnect-rate`).
    pub disconnects: AtomicU64,
    /// Reports and MO unanswered in time (sent again, or dropped).
    pub response_timeouts: AtomicU64,
    /// Reports given up: owed on a link that closed, unanswered too often, or (SGIP) the
    /// report connection could not be made.
    pub reports_dropped: AtomicU64,
    /// SGIP: report connections opened to `--report-to`.
    pub report_links: AtomicU64,
    /// SGIP: report connections that failed (connect, Bind refused).
    pub report_link_failures: AtomicU64,
}

/// Adds one.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n`.
pub fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl CarrierCounters {
    /// The counters as a JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "connections": n(&self.connections),
            "connections_refused": n(&self.connections_refused),
            "logins": n(&self.logins),
            "logins_refused": n(&self.logins_refused),
            "submits": n(&self.submits),
            "submits_refused": n(&self.submits_refused),
            "errors_injected": n(&self.errors_injected),
            "throttled": n(&self.throttled),
            "reports_sent": n(&self.reports_sent),
            "mo_sent": n(&self.mo_sent),
            "deliver_resps": n(&self.deliver_resps),
            "active_tests": n(&self.active_tests),
            "active_tests_sent": n(&self.active_tests_sent),
            "exits": n(&self.exits),
            "decode_errors": n(&self.decode_errors),
            "frame_errors": n(&self.frame_errors),
            "idle_closed": n(&self.idle_closed),
            "disconnects": n(&self.disconnects),
            "response_timeouts": n(&self.response_timeouts),
            "reports_dropped": n(&self.reports_dropped),
            "report_links": n(&self.report_links),
            "report_link_failures": n(&self.report_link_failures),
        })
    }
}

/// The MO texts, cycled through, and the message format each goes in: English (0,
/// ASCII), an opt-out in pinyin initials (0) and in Chinese (8, UCS-2), a greeting in GBK
/// (15, which some provinces still send).
const MO_TEXTS: &[(&str, u8)] = &[
    ("Hello, is this the pizza place?", FORMAT_ASCII),
    ("TD", FORMAT_ASCII),
    ("退订", FORMAT_UCS2),
    ("你好", FORMAT_GBK),
];

/// Subscribers MO comes from.
const MO_NUMBERS: &[&str] = &["13300000001", "13300000002", "8613000000003"];

/// The `n`th MO: (from, message format, content).
#[must_use]
pub fn mo_message(n: usize) -> (&'static str, u8, Bytes) {
    let (text, format) = MO_TEXTS[n % MO_TEXTS.len()];
    let from = MO_NUMBERS[n % MO_NUMBERS.len()];
    // Every text is written in a format that can carry it (checked by the tests).
    let content = encode_text(format, text).unwrap_or_default();
    (from, format, Bytes::from(content))
}

/// Milliseconds, saturating.
#[must_use]
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mo_messages_cycle_through_ascii_ucs2_and_gbk() {
        for n in 0..MO_TEXTS.len() {
            assert!(!mo_message(n).2.is_empty(), "text {n} fits its format");
        }
        assert_eq!(mo_message(1).1, 0);
        let (_, coding, content) = mo_message(2);
        assert_eq!((coding, &content[..]), (8, &[0x90, 0x00, 0x8b, 0xa2][..]));
        let (_, coding, content) = mo_message(3);
        assert_eq!((coding, &content[..]), (15, &[0xc4, 0xe3, 0xba, 0xc3][..]));
    }

    #[test]
    fn no_disconnects_unless_asked() {
        let now = Instant::now();
        assert_eq!(CarrierFaults::default().next_disconnect(now), None);
        let faults = CarrierFaults {
            disconnect_rate: Some(BASIS),
            ..CarrierFaults::default()
        };
        assert!(faults.next_disconnect(now).is_some_and(|at| at >= now));
    }
}
