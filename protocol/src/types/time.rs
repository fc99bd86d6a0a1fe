//! Time strings (reference §5.4): `schedule_delivery_time`, `validity_period`, `final_date`.
//!
//! On the wire a time is a lone NUL (not set) or 16 ASCII characters + NUL:
//! absolute `YYMMDDhhmmsstnnp` or relative `YYMMDDhhmmss000R`. [`SmppTime`] keeps the raw
//! 16 octets so a decoded PDU re-encodes byte for byte; [`SmppTime::parse`] gives the typed
//! view.

use std::fmt;

use bytes::Bytes;

/// Number of characters of a set time string (the NUL not counted).
pub const TIME_LEN: usize = 16;

/// Why a time string is invalid. The codec maps it to `ESME_RINVSCHED` for
/// schedule_delivery_time and `ESME_RINVEXPIRY` for validity_period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Neither empty nor 16 characters.
    #[error("time string must be empty or 16 characters, got {len}")]
    Length {
        /// Octets found (NUL not counted).
        len: usize,
    },
    /// A position that must hold a decimal digit does not.
    #[error("time string: octet {found:#04x} at position {position} is not a digit")]
    NotDigit {
        /// 0-based position in the 16 characters.
        position: usize,
        /// The octet found.
        found: u8,
    },
    /// The last character is not `+`, `-` or `R`.
    #[error("time string: last character {found:#04x} is not '+', '-' or 'R'")]
    BadSuffix {
        /// The octet found.
        found: u8,
    },
    /// A component is out of its range (month 13, nn > 48, relative `tnn` ≠ `000`…).
    #[error("time string: {component} {value} out of range")]
    OutOfRange {
        /// Which component: `"month"`, `"day"`, `"hour"`, `"minute"`, `"second"`,
        /// `"utc_offset"`, `"relative_tnn"`.
        component: &'static str,
        /// Its value.
        value: u8,
    },
}

/// Direction of the UTC offset of an absolute time (`p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UtcOffsetSign {
    /// `+`: local time is ahead of UTC.
    Ahead,
    /// `-`: local time is behind UTC.
    Behind,
}

/// An absolute time `YYMMDDhhmmsstnnp`, fields as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsoluteTime {
    /// Two-digit year 0–99 (see [`AbsoluteTime::full_year`]).
    pub year: u8,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
    /// Tenths of a second 0–9.
    pub tenths: u8,
    /// Offset from UTC in quarter hours, 0–48.
    pub quarter_hours: u8,
    /// Direction of the offset.
    pub sign: UtcOffsetSign,
}

impl AbsoluteTime {
    /// The four-digit year, pivoting like Wireshark: YY < 38 → 20YY, else 19YY.
    #[must_use]
    pub fn full_year(&self) -> u16 {
        let yy = u16::from(self.year);
        if yy < 38 { 2000 + yy } else { 1900 + yy }
    }

    /// The UTC offset in minutes, negative when behind UTC.
    #[must_use]
    pub fn utc_offset_minutes(&self) -> i16 {
        let minutes = i16::from(self.quarter_hours) * 15;
        match self.sign {
            UtcOffsetSign::Ahead => minutes,
            UtcOffsetSign::Behind => -minutes,
        }
    }

    fn validate(&self) -> Result<(), TimeError> {
        let checks: [(&'static str, u8, u8, u8); 8] = [
            ("year", self.year, 0, 99),
            ("month", self.month, 1, 12),
            ("day", self.day, 1, 31),
            ("hour", self.hour, 0, 23),
            ("minute", self.minute, 0, 59),
            ("second", self.second, 0, 59),
            ("tenths", self.tenths, 0, 9),
            ("utc_offset", self.quarter_hours, 0, 48),
        ];
        for (component, value, low, high) in checks {
            if value < low || value > high {
                return Err(TimeError::OutOfRange { component, value });
            }
        }
        Ok(())
    }
}

/// A relative time `YYMMDDhhmmss000R`: an interval, not a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelativeTime {
    /// Years 0–99.
    pub years: u8,
    /// Months 0–99.
    pub months: u8,
    /// Days 0–99.
    pub days: u8,
    /// Hours 0–99.
    pub hours: u8,
    /// Minutes 0–99.
    pub minutes: u8,
    /// Seconds 0–99.
    pub seconds: u8,
}

impl RelativeTime {
    /// The interval in seconds, counting a year as 365 days and a month as 30 (the spec
    /// does not define them; SMSCs differ).
    #[must_use]
    pub fn approx_seconds(&self) -> u64 {
        let days = u64::from(self.years) * 365 + u64::from(self.months) * 30 + u64::from(self.days);
        ((days * 24 + u64::from(self.hours)) * 60 + u64::from(self.minutes)) * 60
            + u64::from(self.seconds)
    }
}

/// The typed view of a set time string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeValue {
    /// `YYMMDDhhmmsstnnp`.
    Absolute(AbsoluteTime),
    /// `YYMMDDhhmmss000R`.
    Relative(RelativeTime),
}

/// A time field as carried on the wire: empty (not set) or 16 characters, NUL not stored.
///
/// Built from a typed value ([`SmppTime::absolute`], [`SmppTime::relative`]) or from raw
/// octets ([`SmppTime::from_raw`], validated). The decoder keeps the received octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SmppTime {
    raw: Bytes,
}

impl SmppTime {
    /// Not set (a lone NUL on the wire, "SMSC default").
    pub const NONE: Self = Self { raw: Bytes::new() };

    /// Validates `raw` (empty, or 16 characters of a valid absolute/relative time).
    ///
    /// # Errors
    /// [`TimeError`] naming what is wrong.
    pub fn from_raw(raw: impl Into<Bytes>) -> Result<Self, TimeError> {
        let time = Self { raw: raw.into() };
        time.parse()?;
        Ok(time)
    }

    /// Wraps octets without validating them (used for `final_date`, where the reference
    /// says to ignore bad values rather than fail). [`SmppTime::parse`] still reports them.
    #[must_use]
    pub fn from_raw_unchecked(raw: Bytes) -> Self {
        Self { raw }
    }

    /// An absolute time.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] when a component is out of its range.
    pub fn absolute(time: &AbsoluteTime) -> Result<Self, TimeError> {
        time.validate()?;
        let sign = match time.sign {
            UtcOffsetSign::Ahead => '+',
            UtcOffsetSign::Behind => '-',
        };
        let text = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}{}{:02}{sign}",
            time.year,
            time.month,
            time.day,
            time.hour,
            time.minute,
            time.second,
            time.tenths,
            time.quarter_hours
        );
        Ok(Self {
            raw: Bytes::from(text),
        })
    }

    /// A relative time.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] when a component is over 99.
    pub fn relative(time: &RelativeTime) -> Result<Self, TimeError> {
        let parts = [
            ("years", time.years),
            ("months", time.months),
            ("days", time.days),
            ("hours", time.hours),
            ("minutes", time.minutes),
            ("seconds", time.seconds),
        ];
        let mut text = String::with_capacity(TIME_LEN);
        for (component, value) in parts {
            if value > 99 {
                return Err(TimeError::OutOfRange { component, value });
            }
            text.push_str(&format!("{value:02}"));
        }
        text.push_str("000R");
        Ok(Self {
            raw: Bytes::from(text),
        })
    }

    /// Whether a time is set (not a lone NUL).
    #[must_use]
    pub fn is_set(&self) -> bool {
        !self.raw.is_empty()
    }

    /// The raw characters, NUL not included (empty when not set).
    #[must_use]
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The typed view: `Ok(None)` when not set.
    ///
    /// # Errors
    /// [`TimeError`] when the characters are not a valid absolute or relative time.
    pub fn parse(&self) -> Result<Option<TimeValue>, TimeError> {
        parse_time(&self.raw)
    }
}

impl fmt::Display for SmppTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.raw))
    }
}

fn parse_time(raw: &[u8]) -> Result<Option<TimeValue>, TimeError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let Ok(chars) = <&[u8; TIME_LEN]>::try_from(raw) else {
        return Err(TimeError::Length { len: raw.len() });
    };
    for (position, &found) in chars[..15].iter().enumerate() {
        if !found.is_ascii_digit() {
            return Err(TimeError::NotDigit { position, found });
        }
    }
    let pair = |i: usize| (chars[i] - b'0') * 10 + (chars[i + 1] - b'0');
    match chars[15] {
        b'R' => {
            // The `tnn` of a relative time is always "000".
            if let Some(&digit) = chars[12..15].iter().find(|&&c| c != b'0') {
                return Err(TimeError::OutOfRange {
                    component: "relative_tnn",
                    value: digit - b'0',
                });
            }
            Ok(Some(TimeValue::Relative(RelativeTime {
                years: pair(0),
                months: pair(2),
                days: pair(4),
                hours: pair(6),
                minutes: pair(8),
                seconds: pair(10),
            })))
        }
        sign @ (b'+' | b'-') => {
            let time = AbsoluteTime {
                year: pair(0),
                month: pair(2),
                day: pair(4),
                hour: pair(6),
                minute: pair(8),
                second: pair(10),
                tenths: chars[12] - b'0',
                quarter_hours: pair(13),
                sign: if sign == b'+' {
                    UtcOffsetSign::Ahead
                } else {
                    UtcOffsetSign::Behind
                },
            };
            time.validate()?;
            Ok(Some(TimeValue::Absolute(time)))
        }
        found => Err(TimeError::BadSuffix { found }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_example_from_reference() {
        let time = SmppTime::from_raw(&b"150203040506708+"[..]).unwrap();
        let Some(TimeValue::Absolute(abs)) = time.parse().unwrap() else {
            panic!("absolute expected");
        };
        assert_eq!(abs.full_year(), 2015);
        assert_eq!(
            (abs.month, abs.day, abs.hour, abs.minute, abs.second),
            (2, 3, 4, 5, 6)
        );
        assert_eq!(abs.tenths, 7);
        assert_eq!(abs.utc_offset_minutes(), 120);
        assert_eq!(SmppTime::absolute(&abs).unwrap(), time);
    }

    #[test]
    fn relative_example_from_reference() {
        let time = SmppTime::from_raw(&b"000000001000000R"[..]).unwrap();
        let Some(TimeValue::Relative(rel)) = time.parse().unwrap() else {
            panic!("relative expected");
        };
        assert_eq!(rel.minutes, 10);
        assert_eq!(rel.approx_seconds(), 600);
        assert_eq!(SmppTime::relative(&rel).unwrap(), time);
    }

    #[test]
    fn empty_is_not_set() {
        assert_eq!(SmppTime::NONE.parse(), Ok(None));
        assert!(!SmppTime::from_raw(Bytes::new()).unwrap().is_set());
    }

    #[test]
    fn invalid_values() {
        let err = |s: &[u8]| SmppTime::from_raw(Bytes::copy_from_slice(s)).unwrap_err();
        assert_eq!(err(b"1502030405067+"), TimeError::Length { len: 14 });
        assert_eq!(
            err(b"151303040506708+"),
            TimeError::OutOfRange {
                component: "month",
                value: 13
            }
        );
        assert_eq!(
            err(b"150003040506708+"),
            TimeError::OutOfRange {
                component: "month",
                value: 0
            }
        );
        assert_eq!(
            err(b"150232040506708+"),
            TimeError::OutOfRange {
                component: "day",
                value: 32
            }
        );
        assert_eq!(
            err(b"150203240506708+"),
            TimeError::OutOfRange {
                component: "hour",
                value: 24
            }
        );
        assert_eq!(
            err(b"150203046006708+"),
            TimeError::OutOfRange {
                component: "minute",
                value: 60
            }
        );
        assert_eq!(
            err(b"150203040506749-"),
            TimeError::OutOfRange {
                component: "utc_offset",
                value: 49
            }
        );
        assert!(
            SmppTime::from_raw(&b"150203040506748-"[..]).is_ok(),
            "nn = 48 is the maximum"
        );
        assert_eq!(
            err(b"150203040506708X"),
            TimeError::BadSuffix { found: b'X' }
        );
        assert_eq!(
            err(b"15020304050a708+"),
            TimeError::NotDigit {
                position: 11,
                found: b'a'
            }
        );
        assert_eq!(
            err(b"000000001000100R"),
            TimeError::OutOfRange {
                component: "relative_tnn",
                value: 1
            }
        );
    }
}
