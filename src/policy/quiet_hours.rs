//! Quiet hours (issue #15 §1.4): a message of a quiet class is not sent between `from`
//! and `to` in the recipient's local time; it is accepted and deferred to the end of the
//! window.
//!
//! The recipient's local time comes from the number's country calling code: a built-in
//! table code → UTC offset (standard time, no daylight saving: a rule that errs by an hour
//! in summer in a few countries, against a time-zone database and a per-number zone we do
//! not have). A country that spans zones is mapped to its most populous one (the United
//! States and Canada to Eastern, Russia to Moscow, Brazil to Brasília, Australia to
//! Sydney, Indonesia to Jakarta, Mexico to Mexico City); `quiet_hours.utc_offsets` in the
//! policy overrides or adds codes. A number whose code is in neither table is taken to be
//! in the default country (`[numbers] default_country`).

use std::collections::BTreeMap;

use crate::clock::WallMillis;
use crate::config::{QuietHours, TimeOfDay, UtcOffset};
use crate::numbers::PrefixTable;

const MINUTE_MS: u64 = 60_000;
const DAY_MINUTES: u64 = 24 * 60;

/// Country calling code → minutes east of UTC (standard time).
const OFFSETS: &[(&str, i16)] = &[
    ("1", -300),  // US/Canada: Eastern
    ("7", 180),   // Russia: Moscow; Kazakhstan shares +7 (Almaty +5, close enough)
    ("20", 120),  // Egypt
    ("27", 120),  // South Africa
    ("30", 120),  // Greece
    ("31", 60),   // Netherlands
    ("32", 60),   // Belgium
    ("33", 60),   // France
    ("34", 60),   // Spain
    ("36", 60),   // Hungary
    ("39", 60),   // Italy
    ("40", 120),  // Romania
    ("41", 60),   // Switzerland
    ("43", 60),   // Austria
    ("44", 0),    // United Kingdom
    ("45", 60),   // Denmark
    ("46", 60),   // Sweden
    ("47", 60),   // Norway
    ("48", 60),   // Poland
    ("49", 60),   // Germany
    ("51", -300), // Peru
    ("52", -360), // Mexico: Mexico City
    ("53", -300), // Cuba
    ("54", -180), // Argentina
    ("55", -180), // Brazil: Brasília
    ("56", -240), // Chile
    ("57", -300), // Colombia
    ("58", -240), // Venezuela
    ("60", 480),  // Malaysia
    ("61", 600),  // Australia: Sydney
    ("62", 420),  // Indonesia: Jakarta
    ("63", 480),  // Philippines
    ("64", 720),  // New Zealand
    ("65", 480),  // Singapore
    ("66", 420),  // Thailand
    ("81", 540),  // Japan
    ("82", 540),  // South Korea
    ("84", 420),  // Viet Nam
    ("86", 480),  // China
    ("90", 180),  // Türkiye
    ("91", 330),  // India
    ("92", 300),  // Pakistan
    ("93", 270),  // Afghanistan
    ("94", 330),  // Sri Lanka
    ("95", 390),  // Myanmar
    ("98", 210),  // Iran
    ("212", 60),  // Morocco
    ("213", 60),  // Algeria
    ("234", 60),  // Nigeria
    ("254", 180), // Kenya
    ("351", 0),   // Portugal
    ("353", 0),   // Ireland
    ("380", 120), // Ukraine
    ("852", 480), // Hong Kong
    ("853", 480), // Macao
    ("855", 420), // Cambodia
    ("856", 420), // Laos
    ("880", 360), // Bangladesh
    ("886", 480), // Taiwan
    ("960", 300), // Maldives
    ("966", 180), // Saudi Arabia
    ("971", 240), // United Arab Emirates
    ("972", 120), // Israel
    ("974", 180), // Qatar
    ("976", 480), // Mongolia
    ("977", 345), // Nepal
];

/// A policy's quiet window, ready to answer "when may this number get it".
#[derive(Debug, Clone)]
pub struct QuietWindow {
    from: u16,
    to: u16,
    offsets: PrefixTable<i16>,
    /// For numbers whose code is in no table.
    fallback: i16,
}

impl QuietWindow {
    /// From the policy's `quiet_hours`; `default_country` gives the fallback offset.
    #[must_use]
    pub fn new(quiet: &QuietHours, default_country: &str) -> Self {
        Self::from_parts(quiet.from, quiet.to, &quiet.utc_offsets, default_country)
    }

    /// From its parts (tests).
    #[must_use]
    pub fn from_parts(
        from: TimeOfDay,
        to: TimeOfDay,
        overrides: &BTreeMap<String, UtcOffset>,
        default_country: &str,
    ) -> Self {
        let pairs = OFFSETS
            .iter()
            .map(|(code, minutes)| ((*code).to_owned(), *minutes))
            .chain(
                overrides
                    .iter()
                    .map(|(code, offset)| (code.clone(), offset.minutes)),
            )
            // Codes are checked as digits by the configuration; the built-in ones are.
            .filter(|(code, _)| !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()));
        let offsets = PrefixTable::build(pairs).unwrap_or_default();
        let fallback = offsets.lookup(default_country).copied().unwrap_or(0);
        Self {
            from: from.minutes % 1440,
            to: to.minutes % 1440,
            offsets,
            fallback,
        }
    }

    /// The UTC offset (minutes) of `e164`.
    #[must_use]
    pub fn offset_of(&self, e164: &str) -> i16 {
        self.offsets.lookup(e164).copied().unwrap_or(self.fallback)
    }

    /// `None` when `e164` may get a message at `now`; otherwise the first moment after the
    /// window (the `to` minute, recipient's local time).
    #[must_use]
    pub fn deferred_until(&self, e164: &str, now: WallMillis) -> Option<WallMillis> {
        let offset_ms = i64::from(self.offset_of(e164)) * 60_000;
        let local = i64::try_from(now).ok()?.checked_add(offset_ms)?;
        let local = u64::try_from(local).ok()?;
        let minute = (local / MINUTE_MS) % DAY_MINUTES;
        let (from, to) = (u64::from(self.from), u64::from(self.to));
        let inside = if from < to {
            (from..to).contains(&minute)
        } else {
            // Across midnight (21:00 → 08:00).
            minute >= from || minute < to
        };
        if !inside {
            return None;
        }
        // Minutes until `to`, from the start of the current minute.
        let wait = (to + DAY_MINUTES - minute) % DAY_MINUTES;
        let start_of_minute = local - local % MINUTE_MS;
        let local_until = start_of_minute + wait * MINUTE_MS;
        let until = i64::try_from(local_until).ok()?.checked_sub(offset_ms)?;
        u64::try_from(until).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06 00:00 UTC.
    const DAY: u64 = 1_796_515_200_000;
    const H: u64 = 3_600_000;
    const M: u64 = 60_000;

    fn window(from: &str, to: &str) -> QuietWindow {
        QuietWindow::from_parts(
            TimeOfDay::parse(from).unwrap(),
            TimeOfDay::parse(to).unwrap(),
            &BTreeMap::new(),
            "86",
        )
    }

    /// UTC millis of `hh:mm` Beijing time (+08:00) on DAY's date.
    fn beijing(hours: u64, minutes: u64) -> u64 {
        DAY + hours * H + minutes * M - 8 * H
    }

    #[test]
    fn across_midnight_in_china() {
        let quiet = window("21:00", "08:00");
        let cn = "8613800138000";
        // Before the window, at its edges, inside before and after midnight.
        assert_eq!(quiet.deferred_until(cn, beijing(20, 59)), None);
        assert_eq!(
            quiet.deferred_until(cn, beijing(21, 0)),
            Some(beijing(32, 0)),
            "21:00 is inside: deferred to 08:00 the next day"
        );
        assert_eq!(
            quiet.deferred_until(cn, beijing(22, 0)),
            Some(beijing(32, 0))
        );
        assert_eq!(
            quiet.deferred_until(cn, beijing(23, 59) + 59_999),
            Some(beijing(32, 0))
        );
        assert_eq!(
            quiet.deferred_until(cn, beijing(24, 0)),
            Some(beijing(32, 0))
        );
        assert_eq!(
            quiet.deferred_until(cn, beijing(31, 59) + 30_000),
            Some(beijing(32, 0))
        );
        assert_eq!(
            quiet.deferred_until(cn, beijing(32, 0)),
            None,
            "08:00 is out"
        );
        assert_eq!(quiet.deferred_until(cn, beijing(12, 0)), None);
    }

    #[test]
    fn the_same_instant_is_night_in_one_country_and_day_in_another() {
        let quiet = window("21:00", "08:00");
        // 14:00 UTC: 22:00 in Beijing, 09:00 in New York (Eastern standard), 15:00 in Paris.
        let now = DAY + 14 * H;
        assert_eq!(
            quiet.deferred_until("8613800138000", now),
            Some(DAY + 24 * H)
        );
        assert_eq!(quiet.deferred_until("12125550100", now), None);
        assert_eq!(quiet.deferred_until("33612345678", now), None);
        // 03:00 UTC: 22:00 in New York, deferred to 08:00 there = 13:00 UTC.
        assert_eq!(
            quiet.deferred_until("12125550100", DAY + 3 * H),
            Some(DAY + 13 * H)
        );
        // India, +05:30: 16:00 UTC is 21:30 there; 08:00 there is 02:30 UTC.
        assert_eq!(
            quiet.deferred_until("919876543210", DAY + 16 * H),
            Some(DAY + 26 * H + 30 * M)
        );
        // Hong Kong (852) is matched before any shorter code.
        assert_eq!(quiet.offset_of("85291234567"), 480);
    }

    #[test]
    fn a_window_within_one_day_and_overrides() {
        let quiet = window("12:00", "14:00");
        let cn = "8613800138000";
        assert_eq!(quiet.deferred_until(cn, beijing(11, 59)), None);
        assert_eq!(
            quiet.deferred_until(cn, beijing(12, 0)),
            Some(beijing(14, 0))
        );
        assert_eq!(
            quiet.deferred_until(cn, beijing(13, 59)),
            Some(beijing(14, 0))
        );
        assert_eq!(quiet.deferred_until(cn, beijing(14, 0)), None);
        let mut overrides = BTreeMap::new();
        overrides.insert("1".to_owned(), UtcOffset::parse("-08:00").unwrap());
        let quiet = QuietWindow::from_parts(
            TimeOfDay::parse("21:00").unwrap(),
            TimeOfDay::parse("08:00").unwrap(),
            &overrides,
            "86",
        );
        assert_eq!(quiet.offset_of("14155550100"), -480);
        // Unknown code: the default country's offset.
        assert_eq!(quiet.offset_of("99912345"), 480);
    }
}
