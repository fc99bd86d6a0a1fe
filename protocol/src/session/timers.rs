//! The session's own timers (reference §4.5), as absolute deadlines in milliseconds.
//!
//! A fixed array of one optional deadline per [`Timer`]: no allocation, and finding the next
//! deadline is a scan of six slots. Per-request response timers live in the window
//! (`window.rs`), not here.

/// One of the session's timers (SMPP 3.4 §7.2 names where the spec has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// SMSC: from accept (or outbind, ESME side) until a successful bind; on expiry, close
    /// (`session_init_timer`).
    SessionInit,
    /// ESME: waiting for the bind response; on expiry, the bind failed and the session closes.
    BindResponse,
    /// No PDU received for the idle interval: send an enquire_link (`enquire_link_timer`).
    EnquireLinkIdle,
    /// Our enquire_link is not answered in time: the peer is dead, close.
    EnquireLinkResponse,
    /// No transaction (any request other than enquire_link) for a while: unbind
    /// (`inactivity_timer`).
    Inactivity,
    /// Unbinding: the last moment to wait for outstanding responses or for unbind_resp.
    Unbind,
}

impl Timer {
    /// Every timer, in the order ties are reported.
    pub const ALL: [Self; 6] = [
        Self::SessionInit,
        Self::BindResponse,
        Self::EnquireLinkResponse,
        Self::Unbind,
        Self::Inactivity,
        Self::EnquireLinkIdle,
    ];

    const fn index(self) -> usize {
        match self {
            Self::SessionInit => 0,
            Self::BindResponse => 1,
            Self::EnquireLinkResponse => 2,
            Self::Unbind => 3,
            Self::Inactivity => 4,
            Self::EnquireLinkIdle => 5,
        }
    }
}

/// The armed deadlines of the session's timers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timers {
    deadlines: [Option<u64>; 6],
}

impl Timers {
    /// No timer armed.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms `timer` to fire at `deadline` (replacing any earlier setting).
    pub fn set(&mut self, timer: Timer, deadline: u64) {
        self.deadlines[timer.index()] = Some(deadline);
    }

    /// Arms `timer` to fire `period` ms after `now` when a period is configured; disarms it
    /// when `period` is `None` (the timer is switched off).
    pub fn restart(&mut self, timer: Timer, now: u64, period: Option<u64>) {
        self.deadlines[timer.index()] = period.map(|period| now.saturating_add(period));
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = [None; 6];
    }

    /// When `timer` fires, if armed.
    #[must_use]
    pub fn get(&self, timer: Timer) -> Option<u64> {
        self.deadlines[timer.index()]
    }

    /// Whether `timer` is armed.
    #[must_use]
    pub fn is_armed(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// The earliest armed deadline.
    #[must_use]
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.iter().flatten().copied().min()
    }

    /// Disarms and returns the earliest timer whose deadline is `<= now` (ties in
    /// [`Timer::ALL`] order); call until `None`.
    pub fn pop_expired(&mut self, now: u64) -> Option<Timer> {
        let timer = Timer::ALL
            .into_iter()
            .filter_map(|timer| self.get(timer).map(|deadline| (deadline, timer)))
            .filter(|&(deadline, _)| deadline <= now)
            .min_by_key(|&(deadline, timer)| (deadline, timer.index()))?
            .1;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_armed() {
        let mut timers = Timers::new();
        assert_eq!(timers.next_deadline(), None);
        assert_eq!(timers.pop_expired(u64::MAX), None);
    }

    #[test]
    fn next_deadline_is_the_minimum() {
        let mut timers = Timers::new();
        timers.set(Timer::EnquireLinkIdle, 30_000);
        timers.set(Timer::SessionInit, 10_000);
        timers.restart(Timer::Inactivity, 1_000, Some(60_000));
        assert_eq!(timers.next_deadline(), Some(10_000));
        timers.stop(Timer::SessionInit);
        assert_eq!(timers.next_deadline(), Some(30_000));
        assert_eq!(timers.get(Timer::Inactivity), Some(61_000));
        timers.restart(Timer::Inactivity, 1_000, None);
        assert!(!timers.is_armed(Timer::Inactivity));
    }

    #[test]
    fn expired_timers_pop_earliest_first_and_disarm() {
        let mut timers = Timers::new();
        timers.set(Timer::EnquireLinkIdle, 300);
        timers.set(Timer::EnquireLinkResponse, 200);
        timers.set(Timer::Unbind, 200);
        timers.set(Timer::BindResponse, 900);
        assert_eq!(timers.pop_expired(199), None);
        // Tie at 200: reported in ALL order.
        assert_eq!(timers.pop_expired(500), Some(Timer::EnquireLinkResponse));
        assert_eq!(timers.pop_expired(500), Some(Timer::Unbind));
        assert_eq!(timers.pop_expired(500), Some(Timer::EnquireLinkIdle));
        assert_eq!(timers.pop_expired(500), None);
        assert_eq!(timers.next_deadline(), Some(900));
        timers.stop_all();
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn restart_saturates() {
        let mut timers = Timers::new();
        timers.restart(Timer::EnquireLinkIdle, u64::MAX - 1, Some(10));
        assert_eq!(timers.get(Timer::EnquireLinkIdle), Some(u64::MAX));
    }
}
