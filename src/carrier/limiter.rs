//! The carrier-wide rate limit: a GCRA whose rate can change in place (AIMD after a
//! throttle), and the throttle reaction around it. Sans-IO: every call takes `now` in
//! nanoseconds since the pool started, so the rules are tested with exact times.
//!
//! Why our own GCRA and not `governor`: docs/adr/0001-rate-limiter.md.

/// Nanoseconds per second.
const SECOND: u64 = 1_000_000_000;

/// Smallest burst: the parts of an 8-part message (1 224 GSM characters) go back-to-back.
pub(crate) const MIN_BURST: u32 = 8;

/// The burst for a contracted `tps`: 1 % of a second's worth, at least [`MIN_BURST`].
///
/// Any window of length `T` holds at most `T·rate + burst` sends, so 1 % keeps every
/// 1-second window within the ±2 % a carrier contract allows with room to spare for
/// the network's jitter, which the carrier counts too (508 sent at most in any second at
/// 500 TPS); below 800 TPS the floor of 8 wins and a window after an idle period may
/// hold 8 more.
#[must_use]
pub(crate) fn burst_for(tps: u32) -> u32 {
    (tps / 100).max(MIN_BURST)
}

/// Generic cell rate algorithm (virtual scheduling form): a cell conforms when the
/// theoretical arrival time is at most `tolerance` ahead of now.
#[derive(Debug, Clone)]
pub(crate) struct Gcra {
    /// Nanoseconds between cells at the current rate.
    interval: u64,
    /// Cells that may go back-to-back.
    burst: u32,
    /// Theoretical arrival time of the next cell.
    tat: u64,
}

impl Gcra {
    /// `rate` cells per second, `burst` back-to-back; starts with the whole burst
    /// available (the first message's parts go together).
    pub(crate) fn new(rate: f64, burst: u32, now: u64) -> Self {
        Self {
            interval: interval_of(rate),
            burst: burst.max(1),
            tat: now,
        }
    }

    fn tolerance(&self) -> u64 {
        self.interval * u64::from(self.burst - 1)
    }

    /// Takes one cell if it conforms now; otherwise how long until one does.
    pub(crate) fn check(&mut self, now: u64) -> Result<(), u64> {
        let tat = self.tat.max(now);
        let ahead = tat - now;
        if ahead > self.tolerance() {
            return Err(ahead - self.tolerance());
        }
        self.tat = tat + self.interval;
        Ok(())
    }

    /// Changes the rate, keeping what was already scheduled (no burst is re-granted).
    pub(crate) fn set_rate(&mut self, rate: f64) {
        self.interval = interval_of(rate);
    }

    /// No cell before `until`, and then only one (no burst saved up while paused).
    pub(crate) fn hold_until(&mut self, until: u64) {
        self.tat = self.tat.max(until + self.tolerance());
    }
}

fn interval_of(rate: f64) -> u64 {
    // Rates are between a floor of 1/s and u32::MAX: the cast cannot overflow.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let interval = (SECOND as f64 / rate.max(1.0)).round() as u64;
    interval.max(1)
}

/// How a carrier reacts to ESME_RTHROTTLED / ESME_RMSGQFUL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ThrottlePolicy {
    /// First pause, ns.
    pub(crate) initial: u64,
    /// Longest pause, ns.
    pub(crate) max: u64,
    /// Rate multiplied by this on each reaction.
    pub(crate) rate_decrease: f64,
    /// Rate added back per second, as a fraction of `tps`.
    pub(crate) rate_increase: f64,
}

/// Throttles arriving within this time of the last reaction do not react again: the
/// rate already went down, and the responses now arriving mostly left before it did. A
/// carrier that throttles at random (a share of everything, whatever the rate) then
/// costs one decrease per window, which the additive increase partly wins back, instead
/// of driving the rate to its floor.
pub(crate) const REACTION_WINDOW: u64 = SECOND;

/// The rate limit of one carrier with its throttle state.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    tps: f64,
    policy: ThrottlePolicy,
    gcra: Gcra,
    /// Current rate (≤ tps).
    rate: f64,
    /// When `rate` was last brought up to date.
    updated: u64,
    /// No sends before this.
    paused_until: u64,
    /// The pause the next reaction uses.
    next_pause: u64,
    /// When the pool last reacted to a throttle.
    reacted_at: Option<u64>,
    /// Sends since the last pause ended.
    sent_since_pause: u64,
    /// Throttles of those sends.
    throttled_since_pause: u64,
    /// Reactions so far.
    reactions: u64,
}

impl Flow {
    pub(crate) fn new(tps: u32, policy: ThrottlePolicy, now: u64) -> Self {
        let burst = burst_for(tps);
        let tps = f64::from(tps.max(1));
        Self {
            tps,
            policy,
            gcra: Gcra::new(tps, burst, now),
            rate: tps,
            updated: now,
            paused_until: 0,
            next_pause: policy.initial,
            reacted_at: None,
            sent_since_pause: 0,
            throttled_since_pause: 0,
            reactions: 0,
        }
    }

    /// The lowest rate a reaction leaves: a tenth of the contract (at least 1/s).
    fn floor(&self) -> f64 {
        (self.tps / 10.0).max(1.0)
    }

    /// Additive increase since the last update.
    fn recover(&mut self, now: u64) {
        if self.rate < self.tps && now > self.updated {
            #[allow(clippy::cast_precision_loss)]
            let seconds = (now - self.updated) as f64 / SECOND as f64;
            self.rate = (self.rate + self.policy.rate_increase * self.tps * seconds).min(self.tps);
            self.gcra.set_rate(self.rate);
        }
        self.updated = now;
    }

    /// Takes a send slot if one is free now; otherwise how long (ns) until one may be.
    pub(crate) fn try_take(&mut self, now: u64) -> Result<(), u64> {
        if now < self.paused_until {
            return Err(self.paused_until - now);
        }
        self.recover(now);
        self.gcra.check(now)?;
        self.sent_since_pause += 1;
        Ok(())
    }

    /// A request sent at `sent_at` was throttled. Reacts (pause, lower the rate) at most
    /// once per [`REACTION_WINDOW`], and not for a request that left before the last
    /// reaction (those responses say nothing new). The pause doubles only while the
    /// carrier throttles most of what was sent since the last pause (it is refusing
    /// everything); throttles of a smaller share start the pauses over at `initial`.
    /// Returns whether it reacted.
    pub(crate) fn on_throttle(&mut self, now: u64, sent_at: u64) -> bool {
        if let Some(at) = self.reacted_at {
            if sent_at < at {
                return false;
            }
            self.throttled_since_pause += 1;
            if now < at.saturating_add(REACTION_WINDOW) {
                return false;
            }
        }
        self.recover(now);
        let refusing_all = self.throttled_since_pause.saturating_mul(2) >= self.sent_since_pause;
        // A throttle long after the last one starts the pauses over too.
        let quiet = self
            .reacted_at
            .is_none_or(|at| now.saturating_sub(at) > self.policy.max.saturating_mul(2));
        if quiet || !refusing_all {
            self.next_pause = self.policy.initial;
        }
        let pause = self.next_pause;
        self.next_pause = pause.saturating_mul(2).min(self.policy.max).max(1);
        self.rate = (self.rate * self.policy.rate_decrease).max(self.floor());
        self.gcra.set_rate(self.rate);
        self.paused_until = now + pause;
        self.gcra.hold_until(self.paused_until);
        // Recovery starts after the pause.
        self.updated = self.paused_until;
        self.reacted_at = Some(now);
        self.sent_since_pause = 0;
        self.throttled_since_pause = 0;
        self.reactions += 1;
        true
    }

    /// The rate as last brought up to date (by a send or a throttle), per second.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The rate at `now`, with the recovery since the last update (no send needed).
    pub(crate) fn rate_at(&self, now: u64) -> f64 {
        if now <= self.updated {
            return self.rate;
        }
        #[allow(clippy::cast_precision_loss)]
        let seconds = (now - self.updated) as f64 / SECOND as f64;
        (self.rate + self.policy.rate_increase * self.tps * seconds).min(self.tps)
    }

    /// The contracted rate now (`tps`, changed by a reload).
    pub(crate) fn tps(&self) -> f64 {
        self.tps
    }

    /// A new contracted rate (a configuration reload): the current rate keeps its share
    /// of the contract (a carrier recovering from throttles stays as far below it), and
    /// what is already scheduled stays scheduled.
    pub(crate) fn set_tps(&mut self, tps: u32, now: u64) {
        self.recover(now);
        let share = self.rate / self.tps;
        self.tps = f64::from(tps.max(1));
        self.rate = (share * self.tps).clamp(self.floor(), self.tps);
        self.gcra.set_rate(self.rate);
    }

    /// Whether the carrier is paused at `now`.
    pub(crate) fn is_paused(&self, now: u64) -> bool {
        now < self.paused_until
    }

    /// Throttle reactions so far.
    pub(crate) fn reactions(&self) -> u64 {
        self.reactions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn sends_in(gcra: &mut Gcra, from: u64, to: u64, step: u64) -> Vec<u64> {
        let mut sent = Vec::new();
        let mut now = from;
        while now < to {
            if gcra.check(now).is_ok() {
                sent.push(now);
            } else {
                now += step;
            }
        }
        sent
    }

    #[test]
    fn burst_then_rate() {
        let mut gcra = Gcra::new(500.0, 10, 0);
        let sent = sends_in(&mut gcra, 0, 10 * SECOND, 100_000);
        // 10 at once, then one every 2 ms.
        assert_eq!(sent[..10], [0; 10]);
        assert_eq!(sent[10], 2 * MS);
        // Every 1-second window: at most 510 (500 + burst).
        for start in (0..9 * SECOND).step_by(50 * MS as usize) {
            let n = sent
                .iter()
                .filter(|t| (start..start + SECOND).contains(t))
                .count();
            assert!(n <= 510, "{n} in the window at {start}");
        }
        assert!((5_005..=5_010).contains(&sent.len()), "{}", sent.len());
    }

    #[test]
    fn wait_is_exact() {
        let mut gcra = Gcra::new(100.0, 1, 0);
        assert_eq!(gcra.check(0), Ok(()));
        assert_eq!(gcra.check(0), Err(10 * MS));
        assert_eq!(gcra.check(4 * MS), Err(6 * MS));
        assert_eq!(gcra.check(10 * MS), Ok(()));
    }

    #[test]
    fn burst_sizes() {
        assert_eq!(burst_for(10), MIN_BURST);
        assert_eq!(burst_for(500), MIN_BURST);
        assert_eq!(burst_for(2_000), 20);
        assert_eq!(burst_for(100_000), 1_000);
    }

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            initial: 200 * MS,
            max: 2 * SECOND,
            rate_decrease: 0.5,
            rate_increase: 0.1,
        }
    }

    #[test]
    fn a_new_contract_keeps_the_share_a_throttled_carrier_is_at() {
        let mut flow = Flow::new(500, policy(), 0);
        flow.set_tps(1_000, 0);
        assert!((flow.tps() - 1_000.0).abs() < 1e-9);
        assert!(
            (flow.rate() - 1_000.0).abs() < 1e-9,
            "unthrottled: the whole contract"
        );
        // Halved by a throttle, then the contract is cut to 400: half of it.
        assert!(flow.on_throttle(SECOND, SECOND - MS));
        flow.set_tps(400, SECOND);
        assert!((flow.rate() - 200.0).abs() < 1e-9, "{}", flow.rate());
        // Recovery climbs to the new contract, not the old one.
        assert!((flow.rate_at(60 * SECOND) - 400.0).abs() < 1e-9);
    }

    #[test]
    fn throttle_pauses_halves_and_recovers() {
        let mut flow = Flow::new(500, policy(), 0);
        assert!(flow.on_throttle(SECOND, SECOND - MS));
        assert!((flow.rate() - 250.0).abs() < 1e-9);
        assert_eq!(flow.try_take(SECOND + 100 * MS), Err(100 * MS));
        // Requests already in flight at the reaction do not react again.
        assert!(!flow.on_throttle(SECOND + 10 * MS, SECOND - MS / 2));
        assert_eq!(flow.reactions(), 1);
        // After the pause: one send, no saved-up burst.
        let resume = SECOND + 200 * MS;
        assert_eq!(flow.try_take(resume), Ok(()));
        assert!(flow.try_take(resume).is_err());
        // +50/s: back to 500 five seconds after the pause.
        let _ = flow.try_take(resume + 2 * SECOND);
        assert!((flow.rate() - 350.0).abs() < 1.0, "{}", flow.rate());
        let _ = flow.try_take(resume + 6 * SECOND);
        assert!((flow.rate() - 500.0).abs() < 1e-9);
    }

    #[test]
    fn pauses_double_while_everything_is_throttled_then_start_over() {
        let mut flow = Flow::new(100, policy(), 0);
        let mut now = SECOND;
        let mut pauses = Vec::new();
        for _ in 0..6 {
            assert!(flow.on_throttle(now, now));
            pauses.push(flow.paused_until - now);
            // One send after the pause, throttled too, one reaction window later.
            let resume = flow.paused_until;
            assert_eq!(flow.try_take(resume), Ok(()));
            now = resume.max(now + REACTION_WINDOW);
        }
        assert_eq!(
            pauses,
            [
                200 * MS,
                400 * MS,
                800 * MS,
                1600 * MS,
                2 * SECOND,
                2 * SECOND
            ]
        );
        // The floor holds the rate at a tenth of tps.
        assert!((flow.rate() - 10.0).abs() < 1e-9, "{}", flow.rate());
        now += 10 * SECOND;
        assert!(flow.on_throttle(now, now));
        assert_eq!(flow.paused_until - now, 200 * MS);
        assert!(flow.is_paused(now));
    }

    #[test]
    fn random_throttles_react_once_per_window_without_growing_the_pause() {
        let mut flow = Flow::new(500, policy(), 0);
        assert!(flow.on_throttle(SECOND, SECOND));
        assert!((flow.rate() - 250.0).abs() < 1e-9);
        // After the pause, 10 sends at the lowered rate; 2 of them throttled within the
        // reaction window: counted, no reaction.
        let mut now = SECOND + 200 * MS;
        let mut sent = Vec::new();
        while sent.len() < 10 {
            match flow.try_take(now) {
                Ok(()) => sent.push(now),
                Err(wait) => now += wait,
            }
        }
        assert!(!flow.on_throttle(sent[3] + MS, sent[3]));
        assert!(!flow.on_throttle(sent[7] + MS, sent[7]));
        assert_eq!(flow.reactions(), 1);
        // A throttle past the window reacts; 3 of 10 is no refusal: the pause stays.
        let later = 2 * SECOND + 100 * MS;
        assert!(flow.on_throttle(later, sent[9]));
        assert_eq!(flow.reactions(), 2);
        assert_eq!(flow.paused_until - later, 200 * MS);
        // Lowered, then back to tps additively (+50/s) without further throttles.
        assert!(flow.rate() < 250.0, "{}", flow.rate());
        assert!((flow.rate_at(later + 200 * MS + 10 * SECOND) - 500.0).abs() < 1e-9);
        let _ = flow.try_take(later + 200 * MS + 10 * SECOND);
        assert!((flow.rate() - 500.0).abs() < 1e-9);
    }
}
