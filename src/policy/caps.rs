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
//! deferred one at the end of its deferral). Across a restart the counters come back
//! from two sources, neither written on the hot path:
//! - the send log: the records of the window still held are counted again
//!   (`PolicyEngine::rebuild_caps`); the acceptance itself is that write;
//! - the saved counters: entries changed since the last save are written to the store
//!   every few minutes ([`Caps::changes`], the gateway's housekeeping), so a window longer
//!   than the log's `retention` (4 marketing messages in 30 days, records kept 7) keeps
//!   what the log has dropped. A save is minutes old at most, far younger than anything
//!   the log drops, so the two together miss nothing.
//!
//! Both hold the same recent messages: a time already counted is not counted again
//! ([`Caps::count`] skips it), so nothing counts twice (two messages to one number in
//! the same millisecond count as one after a restart).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

use crate::clock::WallMillis;
use crate::config::{CapConfig, Class};
use crate::store::{CapSignature, CapTimes, CapWindow};

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
    counters: DashMap<(Arc<str>, u64), Counted>,
    /// Entries after the last sweep; the next sweep comes at twice this.
    swept_at: AtomicUsize,
}

/// The times of one (account, number), per cap, and whether they changed since the last
/// save.
#[derive(Debug, Clone)]
struct Counted {
    times: Vec<VecDeque<WallMillis>>,
    dirty: bool,
}

impl Counted {
    fn new(caps: usize) -> Self {
        Self {
            times: vec![VecDeque::new(); caps],
            dirty: false,
        }
    }
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
            Some(entry) => self.verdict(&entry.times, class, at),
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
            .or_insert_with(|| Counted::new(self.caps.len()));
        self.verdict(&entry.times, class, at)?;
        self.record(&mut entry.times, class, at, false);
        entry.dirty = true;
        drop(entry);
        self.maybe_sweep(at);
        Ok(())
    }

    /// Counts a message accepted earlier without checking (rebuilding after a restart);
    /// a cap that holds `at` already (from the saved counters) does not count it again.
    pub fn count(&self, account: &Arc<str>, number: u64, class: Class, at: WallMillis) {
        if self.applies_to(class) {
            let mut entry = self
                .counters
                .entry((Arc::clone(account), number))
                .or_insert_with(|| Counted::new(self.caps.len()));
            self.record(&mut entry.times, class, at, true);
            entry.dirty = true;
        }
    }

    /// As [`Caps::take`] on counters kept elsewhere (the cluster's shared ones, see
    /// `store/jetstream/caps.rs`): `stored` holds each cap's times by its definition;
    /// when the message passes they are changed in place (its time added, times out of
    /// every window dropped; a cap whose definition changed starts afresh).
    ///
    /// # Errors
    /// The first cap it would break; `stored` is left as it was.
    pub fn take_stored(
        &self,
        stored: &mut Vec<CapTimes>,
        class: Class,
        at: WallMillis,
    ) -> Result<(), CapHit> {
        if !self.applies_to(class) {
            return Ok(());
        }
        let mut times: Vec<VecDeque<WallMillis>> = self
            .caps
            .iter()
            .map(|cap| {
                let signature = cap.signature();
                let reach = cap.per.max(cap.min_gap);
                stored
                    .iter()
                    .find(|c| c.cap == signature)
                    .map(|c| {
                        c.times
                            .iter()
                            .copied()
                            .filter(|&t| t.saturating_add(reach) > at)
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        self.verdict(&times, class, at)?;
        self.record(&mut times, class, at, false);
        *stored = self
            .caps
            .iter()
            .zip(times)
            .filter(|(_, times)| !times.is_empty())
            .map(|(cap, times)| CapTimes {
                cap: cap.signature(),
                times: times.into(),
            })
            .collect();
        Ok(())
    }

    /// Adds `at` to the times of every cap counting `class` (not where it is already,
    /// when `once`); each keeps at most its `max`.
    fn record(&self, entry: &mut [VecDeque<WallMillis>], class: Class, at: WallMillis, once: bool) {
        for (cap, times) in self.caps.iter().zip(entry.iter_mut()) {
            if cap.classes[class.index()] && !(once && times.contains(&at)) {
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
        // An entry dropped here may still be saved in the store: it is dead there too
        // (its `dead_after` has passed), and goes with the store's next prune.
        self.counters.retain(|_, counted| {
            counted
                .times
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

    /// The entries changed since the last call, as the store keeps them (an entry with
    /// nothing left in any window as a removal); marks them saved. An entry changed
    /// while this runs is either taken now or stays marked for the next call.
    #[must_use]
    pub fn changes(&self, now: WallMillis) -> Vec<CapWindow> {
        let mut changed = Vec::new();
        for mut entry in self.counters.iter_mut() {
            if !entry.dirty {
                continue;
            }
            entry.dirty = false;
            let (account, number) = entry.key();
            // A removal (nothing live) removes what was saved up to now.
            let mut window = CapWindow {
                account: account.to_string(),
                number: *number,
                dead_after: now,
                caps: Vec::new(),
            };
            for (cap, times) in self.caps.iter().zip(&entry.times) {
                let reach = cap.per.max(cap.min_gap);
                let live: Vec<WallMillis> = times
                    .iter()
                    .copied()
                    .filter(|&t| t.saturating_add(reach) > now)
                    .collect();
                if let Some(&last) = live.last() {
                    if window.caps.is_empty() {
                        window.dead_after = 0;
                    }
                    window.dead_after = window.dead_after.max(last.saturating_add(reach));
                    window.caps.push(CapTimes {
                        cap: cap.signature(),
                        times: live,
                    });
                }
            }
            changed.push(window);
        }
        changed
    }

    /// Takes back saved counters (before the send log is counted again, at start);
    /// answers whether any of its caps is still one of these (a cap whose definition
    /// changed starts afresh).
    pub fn restore(&self, saved: &CapWindow, now: WallMillis) -> bool {
        let mut restored = false;
        let mut entry = self
            .counters
            .entry((Arc::from(saved.account.as_str()), saved.number))
            .or_insert_with(|| Counted::new(self.caps.len()));
        for (cap, times) in self.caps.iter().zip(entry.times.iter_mut()) {
            let signature = cap.signature();
            let reach = cap.per.max(cap.min_gap);
            for stored in saved.caps.iter().filter(|c| c.cap == signature) {
                for &at in &stored.times {
                    if at.saturating_add(reach) > now && !times.contains(&at) {
                        let at_index = times.partition_point(|&t| t <= at);
                        times.insert(at_index, at);
                        restored = true;
                    }
                }
                while times.len() > cap.max {
                    times.pop_front();
                }
            }
        }
        restored
    }
}

impl Cap {
    fn signature(&self) -> CapSignature {
        let classes = self
            .classes
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .fold(0u8, |bits, (index, _)| bits | (1 << index));
        CapSignature {
            classes,
            max: u32::try_from(self.max).unwrap_or(u32::MAX),
            per: self.per,
            min_gap: self.min_gap,
        }
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

    /// The cluster's shared counters (issue #17): two nodes' caps judge one stored entry;
    /// the sixth OTP in the hour is refused whichever judges it, and nothing is written
    /// for it; once the hour has slid the next one passes and the old times are dropped.
    #[test]
    fn stored_counters_are_judged_and_changed_like_the_local_ones() {
        let (one, two) = (issue_caps(), issue_caps());
        let start = 1_000 * H;
        let mut stored = Vec::new();
        for n in 0..5 {
            let caps = if n % 2 == 0 { &one } else { &two };
            caps.take_stored(&mut stored, Class::Otp, start + n * 60_000)
                .unwrap();
        }
        let before = stored.clone();
        let hit = two
            .take_stored(&mut stored, Class::Otp, start + 10 * 60_000)
            .unwrap_err();
        assert_eq!(
            hit,
            CapHit {
                index: 0,
                gap: false
            }
        );
        assert_eq!(stored, before, "a refused message is not counted");
        // Marketing is not counted by the OTP caps: nothing changes for it either way.
        one.take_stored(&mut stored, Class::Marketing, start + 11 * 60_000)
            .unwrap();
        one.take_stored(&mut stored, Class::Otp, start + H + 60_000)
            .unwrap();
        let hourly = stored
            .iter()
            .find(|c| c.cap.per == H && c.cap.classes == 1)
            .unwrap();
        // The two first times (start, start + 1 min) have left the window.
        assert_eq!(hourly.times.len(), 4, "{hourly:?}");
        assert!(hourly.times.iter().all(|&t| t > start + 60_000));
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

    #[test]
    fn saved_counters_come_back_once_and_a_changed_cap_starts_afresh() {
        let caps = issue_caps();
        let shop: Arc<str> = Arc::from("shop");
        let day = 24 * H;
        // Two marketing messages 10 and 5 days ago, and OTPs an hour ago.
        let now = 100 * day;
        caps.take(&shop, 1, Class::Marketing, now - 10 * day)
            .unwrap();
        caps.take(&shop, 1, Class::Marketing, now - 5 * day)
            .unwrap();
        caps.take(&shop, 2, Class::Otp, now - 2 * H).unwrap();
        let saved = caps.changes(now);
        assert_eq!(saved.len(), 2);
        assert!(caps.changes(now).is_empty(), "saved: nothing changed since");
        let marketing = saved.iter().find(|w| w.number == 1).unwrap();
        assert_eq!(marketing.caps.len(), 1);
        assert_eq!(marketing.caps[0].times, [now - 10 * day, now - 5 * day]);
        assert_eq!(marketing.dead_after, now - 5 * day + 30 * day);
        // The OTP ones are out of their windows (1 h, 24 h): only the day cap's is left;
        // once that is over too, the entry is saved as a removal.
        let otp = saved.iter().find(|w| w.number == 2).unwrap();
        assert_eq!(otp.caps.len(), 1);
        caps.take(&shop, 2, Class::Otp, now - 2 * H + 1).unwrap();
        let gone = caps.changes(now + 2 * day);
        assert!(gone[0].caps.is_empty(), "{gone:?}");

        // After a restart: the saved counters, then the send log's records of the last
        // 7 days (the one 5 days ago again, and one new): counted once each.
        let restarted = issue_caps();
        assert!(restarted.restore(marketing, now));
        restarted.count(&shop, 1, Class::Marketing, now - 5 * day);
        assert_eq!(
            restarted.take(&shop, 1, Class::Marketing, now),
            Ok(()),
            "3 of 4, none within 72 h"
        );
        restarted
            .take(&shop, 1, Class::Marketing, now + 4 * day)
            .unwrap();
        assert_eq!(
            restarted.take(&shop, 1, Class::Marketing, now + 8 * day),
            Err(CapHit {
                index: 2,
                gap: false
            }),
            "the fifth in 30 days, two of them from before the restart"
        );
        // The cap redefined (5 a month): the saved times are another cap's.
        let changed = Caps::new(&[CapConfig {
            classes: vec![Class::Marketing],
            max: 5,
            per: Duration::from_millis(30 * day),
            min_gap: Some(Duration::from_millis(72 * H)),
        }]);
        assert!(!changed.restore(marketing, now));
        // Times out of their window by now are not restored.
        assert!(!issue_caps().restore(marketing, now + 40 * day));
    }
}
