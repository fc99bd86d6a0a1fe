//! Frequency caps (issue #15 §1.6): at most `max` messages of some classes to one number
//! from one account in a sliding window, and optionally none within `min_gap` of the
//! previous one.
//!
//! Each (account, number) holds, per cap, the send times of the messages it counted: at
//! most `max` of them (a cap refuses the next one, so the list never grows past it, and
//! `max` is at most [`crate::config::MAX_CAP`]). Times older than the cap's window are
//! dropped whenever the entry is touched, and a sweep drops whole entries whose every
//! time has left its window once the map has doubled since the last sweep (amortised
//! O(1) a message): memory follows the numbers messaged within the longest window, not
//! history.
//!
//! A message is counted when the policy accepts it, at the time it will be sent (a
//! deferred one at the end of its deferral). After a restart the counters are rebuilt
//! from the store's records of the window ([`Caps::rebuild`]), rather than persisted on
//! every acceptance: the records are already durable (the acceptance itself is the
//! write), so a second write per message would cost the hot path for nothing. The
//! store's `retention` bounds what can be rebuilt: a cap window longer than it counts
//! only what the store still holds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

use crate::clock::WallMillis;
use crate::config::{CapConfig, Class};

/// One cap, compiled.
#[derive(Debug, Clone)]
struct Cap {
    classes: [bool; 3],
    max: usize,
    per: u64,
    min_gap: u64,
}

/// The caps of one policy and their counters.
#[derive(Debug)]
pub struct Caps {
    caps: Vec<Cap>,
    /// The longest window or gap: an entry with nothing newer can go.
    longest: u64,
    counters: DashMap<(Arc<str>, u64), Vec<VecDeque<WallMillis>>>,
    /// Entries after the last sweep; the next sweep comes at twice this.
    swept_at: AtomicUsize,
}

/// Which cap refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapHit {
    /// Its index in the policy's `caps`.
    pub index: usize,
    /// Whether `min_gap` refused it (not the count).
    pub gap: bool,
}

impl Caps {
    /// Compiles `caps`.
    #[must_use]
    pub fn new(caps: &[CapConfig]) -> Self {
        let caps: Vec<Cap> = caps
            .iter()
            .map(|cap| {
                let mut classes = [false; 3];
                for class in &cap.classes {
                    classes[class.index()] = true;
                }
                Cap {
                    classes,
                    max: usize::try_from(cap.max).unwrap_or(usize::MAX),
                    per: millis(cap.per),
                    min_gap: cap.min_gap.map_or(0, millis),
                }
            })
            .collect();
        let longest = caps
            .iter()
            .map(|cap| cap.per.max(cap.min_gap))
            .max()
            .unwrap_or(0);
        Self {
            caps,
            longest,
            counters: DashMap::new(),
            swept_at: AtomicUsize::new(1024),
        }
    }

    /// Whether any cap counts `class`.
    #[must_use]
    pub fn applies_to(&self, class: Class) -> bool {
        self.caps.iter().any(|cap| cap.classes[class.index()])
    }

    /// Whether a message of `class` to `number` from `account`, sent at `at`, would pass
    /// every cap; nothing is counted.
    ///
    /// # Errors
    /// The first cap it would break.
    pub fn check(
        &self,
        account: &Arc<str>,
        number: u64,
        class: Class,
        at: WallMillis,
    ) -> Result<(), CapHit> {
        if !self.applies_to(class) {
            return Ok(());
        }
        match self.counters.get(&(Arc::clone(account), number)) {
            None => Ok(()),
            Some(entry) => self.verdict(&entry, class, at),
        }
    }

    /// As [`Caps::check`], and counts the message when it passes (one step, so two
    /// messages at once cannot both take the last place).
    ///
    /// # Errors
    /// The first cap it would break; nothing counted.
    pub fn take(
        &self,
        account: &Arc<str>,
        number: u64,
        class: Class,
        at: WallMillis,
    ) -> Result<(), CapHit> {
        if !self.applies_to(class) {
            return Ok(());
        }
        let mut entry = self
            .counters
            .entry((Arc::clone(account), number))
            .or_insert_with(|| vec![VecDeque::new(); self.caps.len()]);
        self.verdict(&entry, class, at)?;
        self.record(&mut entry, class, at);
        drop(entry);
        self.maybe_sweep(at);
        Ok(())
    }

    /// Counts a message accepted earlier without checking (rebuilding after a restart).
    pub fn count(&self, account: &Arc<str>, number: u64, class: Class, at: WallMillis) {
        if self.applies_to(class) {
            let mut entry = self
                .counters
                .entry((Arc::clone(account), number))
                .or_insert_with(|| vec![VecDeque::new(); self.caps.len()]);
            self.record(&mut entry, class, at);
        }
    }

    /// Adds `at` to the times of every cap counting `class`; each keeps at most its `max`.
    fn record(&self, entry: &mut [VecDeque<WallMillis>], class: Class, at: WallMillis) {
        for (cap, times) in self.caps.iter().zip(entry.iter_mut()) {
            if cap.classes[class.index()] {
                // Kept in time order even when a deferred message is counted ahead.
                let at_index = times.partition_point(|&t| t <= at);
                times.insert(at_index, at);
                while times.len() > cap.max {
                    times.pop_front();
                }
            }
        }
    }

    fn verdict(
        &self,
        entry: &[VecDeque<WallMillis>],
        class: Class,
        at: WallMillis,
    ) -> Result<(), CapHit> {
        for (index, (cap, times)) in self.caps.iter().zip(entry).enumerate() {
            if !cap.classes[class.index()] {
                continue;
            }
            // In the window (at - per, at]; a later time (a deferred message counted ahead)
            // is not, yet.
            let in_window = times
                .iter()
                .filter(|&&t| t <= at && at - t < cap.per)
                .count();
            if in_window >= cap.max {
                return Err(CapHit { index, gap: false });
            }
            if cap.min_gap > 0 && times.iter().any(|&t| t.abs_diff(at) < cap.min_gap) {
                return Err(CapHit { index, gap: true });
            }
        }
        Ok(())
    }

    /// Drops entries with nothing left in any window, once the map has doubled.
    fn maybe_sweep(&self, now: WallMillis) {
        let len = self.counters.len();
        if len < self.swept_at.load(Ordering::Relaxed) {
            return;
        }
        let longest = self.longest;
        self.counters.retain(|_, per_cap| {
            per_cap
                .iter()
                .flatten()
                .any(|&t| t.saturating_add(longest) > now)
        });
        self.swept_at
            .store((self.counters.len() * 2).max(1024), Ordering::Relaxed);
    }

    /// (account, number) entries held now.
    #[must_use]
    pub fn entries(&self) -> usize {
        self.counters.len()
    }

    /// The longest window of any cap, in milliseconds (what a rebuild must read back).
    #[must_use]
    pub const fn longest_ms(&self) -> u64 {
        self.longest
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const H: u64 = 3_600_000;

    fn issue_caps() -> Caps {
        let cap = |classes: &[Class], max, per_h: u64, gap_h: Option<u64>| CapConfig {
            classes: classes.to_vec(),
            max,
            per: Duration::from_millis(per_h * H),
            min_gap: gap_h.map(|h| Duration::from_millis(h * H)),
        };
        Caps::new(&[
            cap(&[Class::Otp], 5, 1, None),
            cap(&[Class::Otp], 10, 24, None),
            cap(&[Class::Marketing], 4, 30 * 24, Some(72)),
        ])
    }

    #[test]
    fn the_sixth_otp_in_an_hour_is_refused_and_the_window_slides() {
        let caps = issue_caps();
        let shop: Arc<str> = Arc::from("shop");
        let start = 1_000 * H;
        for n in 0..5 {
            caps.take(&shop, 8613800138000, Class::Otp, start + n * 60_000)
                .unwrap();
        }
        let sixth = start + 10 * 60_000;
        assert_eq!(
            caps.check(&shop, 8613800138000, Class::Otp, sixth),
            Err(CapHit {
                index: 0,
                gap: false
            })
        );
        assert!(caps.take(&shop, 8613800138000, Class::Otp, sixth).is_err());
        // Another number, another account, another class: not counted together.
        caps.take(&shop, 8613800138001, Class::Otp, sixth).unwrap();
        caps.take(&Arc::from("bank"), 8613800138000, Class::Otp, sixth)
            .unwrap();
        caps.take(&shop, 8613800138000, Class::Notification, sixth)
            .unwrap();
        // An hour after the first, one place is free again (until the day's 10 are used).
        caps.take(&shop, 8613800138000, Class::Otp, start + H + 1)
            .unwrap();
        assert!(
            caps.take(&shop, 8613800138000, Class::Otp, start + H + 2)
                .is_err()
        );
    }

    #[test]
    fn the_daily_otp_cap_holds_across_hours() {
        let caps = issue_caps();
        let shop: Arc<str> = Arc::from("shop");
        for n in 0..10 {
            caps.take(&shop, 1, Class::Otp, n * H).unwrap();
        }
        assert_eq!(
            caps.take(&shop, 1, Class::Otp, 10 * H),
            Err(CapHit {
                index: 1,
                gap: false
            })
        );
        caps.take(&shop, 1, Class::Otp, 24 * H + 1).unwrap();
    }

    #[test]
    fn marketing_min_gap_and_monthly_cap() {
        let caps = issue_caps();
        let shop: Arc<str> = Arc::from("shop");
        caps.take(&shop, 1, Class::Marketing, 0).unwrap();
        assert_eq!(
            caps.take(&shop, 1, Class::Marketing, 71 * H),
            Err(CapHit {
                index: 2,
                gap: true
            })
        );
        for n in 1..4 {
            caps.take(&shop, 1, Class::Marketing, n * 72 * H).unwrap();
        }
        assert_eq!(
            caps.take(&shop, 1, Class::Marketing, 4 * 72 * H),
            Err(CapHit {
                index: 2,
                gap: false
            })
        );
        caps.take(&shop, 1, Class::Marketing, 30 * 24 * H + 1)
            .unwrap();
    }

    #[test]
    fn counters_expire_with_their_window() {
        let caps = issue_caps();
        let shop: Arc<str> = Arc::from("shop");
        for number in 0..5_000 {
            caps.take(&shop, number, Class::Otp, 0).unwrap();
        }
        assert!(caps.entries() >= 4096);
        // 31 days later every window (the longest is 30 days) is over: the next sweep
        // leaves only new ones.
        for number in 10_000..20_000 {
            caps.take(&shop, number, Class::Otp, 31 * 24 * H).unwrap();
        }
        assert!(caps.entries() <= 10_000 + 1, "{}", caps.entries());
        assert!(caps.entries() >= 10_000);
    }

    #[test]
    fn rebuilt_counts_refuse_like_live_ones() {
        let caps = issue_caps();
        let shop: Arc<str> = Arc::from("shop");
        for n in 0..5 {
            caps.count(&shop, 7, Class::Otp, n);
        }
        assert!(caps.check(&shop, 7, Class::Otp, 10).is_err());
    }
}
