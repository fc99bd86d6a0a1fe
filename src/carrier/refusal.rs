//! Whether a carrier is *refusing by throttle*: it has answered nothing but throttles
//! (ESME_RTHROTTLED / ESME_RMSGQFUL, no ESME_ROK) for at least a class's
//! `failover_after`. Sans-IO like the limiter: times are nanoseconds since the pool
//! started, passed in.
//!
//! Why a carrier-level state on top of each message's `failover_after`: a route holds
//! only a few windows of messages, so when a carrier throttles everything each held
//! message sits out its whole `failover_after` there and the backup gets about
//! hold / failover_after messages a second while the rest waits in the lanes. Once the
//! carrier itself is known to refuse, the route's messages go past it at once.
//!
//! The state is per class because `failover_after` is: an OTP (3 s) goes past a carrier
//! that has refused for 3 s while marketing (30 s) still waits there, exactly as each
//! message's own `failover_after` would have it. Other statuses (errors, rejections)
//! neither start nor end it; only an acceptance ends it. A carrier refusing is still sent
//! a real message (a probe) every [`PROBE_INTERVAL`] when its rate allows, so it is
//! noticed as soon as it accepts again.

/// Nanoseconds per second.
const SECOND: u64 = 1_000_000_000;

/// At most one probe per carrier this often while it refuses: a refused probe costs its
/// message one round trip (its re-send goes past the carrier like any other), so this
/// is the price of noticing a recovery within about a second.
pub(crate) const PROBE_INTERVAL: u64 = SECOND;

/// The refusal state of one carrier.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refusal {
    /// The first throttle since the carrier last accepted a message (`None`: its last
    /// verdict was an acceptance, or it has not throttled anything yet).
    throttling_since: Option<u64>,
    /// Whether messages went past it since it started throttling (the state was entered
    /// and logged; it is logged again when it ends).
    passed_over: bool,
    /// No probe before this.
    next_probe: u64,
}

impl Refusal {
    /// A response said ESME_RTHROTTLED / ESME_RMSGQFUL.
    pub(crate) fn throttled(&mut self, now: u64) {
        self.throttling_since.get_or_insert(now);
    }

    /// A response said ESME_ROK. Returns how long it had been throttling when messages
    /// had been going past it (the state ends: log it), else `None`.
    pub(crate) fn accepted(&mut self, now: u64) -> Option<u64> {
        let since = self.throttling_since.take();
        let was_passed_over = std::mem::take(&mut self.passed_over);
        self.next_probe = 0;
        since
            .filter(|_| was_passed_over)
            .map(|since| now.saturating_sub(since))
    }

    /// Whether a message whose `failover_after` is `after` ns should go past this
    /// carrier at `now`.
    pub(crate) fn is_refusing(&self, now: u64, after: u64) -> bool {
        self.throttling_since
            .is_some_and(|since| now.saturating_sub(since) >= after)
    }

    /// Whether a probe may go now.
    pub(crate) fn probe_due(&self, now: u64) -> bool {
        now >= self.next_probe
    }

    /// A probe went at `now`.
    pub(crate) fn probe_sent(&mut self, now: u64) {
        self.next_probe = now.saturating_add(PROBE_INTERVAL);
    }

    /// A message went past the carrier. Returns how long it has been throttling when this
    /// is the first since it started (the state begins: log it), else `None`.
    pub(crate) fn passed_over(&mut self, now: u64) -> Option<u64> {
        if std::mem::replace(&mut self.passed_over, true) {
            return None;
        }
        Some(now.saturating_sub(self.throttling_since.unwrap_or(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn refusing_after_only_throttles_for_failover_after() {
        let mut refusal = Refusal::default();
        assert!(!refusal.is_refusing(0, 0), "nothing answered yet");
        refusal.throttled(100 * MS);
        refusal.throttled(900 * MS);
        // From the first throttle, per class.
        assert!(!refusal.is_refusing(2_099 * MS, 2_000 * MS));
        assert!(refusal.is_refusing(2_100 * MS, 2_000 * MS));
        assert!(refusal.is_refusing(600 * MS, 500 * MS));
        assert!(!refusal.is_refusing(600 * MS, 30_000 * MS));
    }

    #[test]
    fn an_acceptance_ends_it_at_once() {
        let mut refusal = Refusal::default();
        refusal.throttled(0);
        assert!(refusal.is_refusing(3_000 * MS, 2_000 * MS));
        assert_eq!(refusal.passed_over(3_000 * MS), Some(3_000 * MS), "entered");
        assert_eq!(refusal.passed_over(3_001 * MS), None, "logged once");
        assert_eq!(refusal.accepted(3_500 * MS), Some(3_500 * MS), "left");
        assert!(!refusal.is_refusing(3_500 * MS, 0));
        // The next throttle starts a new run.
        refusal.throttled(4_000 * MS);
        assert!(!refusal.is_refusing(5_999 * MS, 2_000 * MS));
        assert!(refusal.is_refusing(6_000 * MS, 2_000 * MS));
        // An acceptance that ends no state (nothing went past it) is not logged.
        assert_eq!(refusal.accepted(6_100 * MS), None);
        // A new state is logged again.
        refusal.throttled(7_000 * MS);
        assert_eq!(refusal.passed_over(9_500 * MS), Some(2_500 * MS));
    }

    #[test]
    fn probes_at_most_once_per_interval() {
        let mut refusal = Refusal::default();
        refusal.throttled(0);
        assert!(refusal.probe_due(2_000 * MS));
        refusal.probe_sent(2_000 * MS);
        assert!(!refusal.probe_due(2_999 * MS));
        assert!(refusal.probe_due(3_000 * MS));
        refusal.probe_sent(3_000 * MS);
        // After an acceptance the next refusal may probe at once.
        let _ = refusal.accepted(3_100 * MS);
        assert!(refusal.probe_due(3_100 * MS));
    }
}
