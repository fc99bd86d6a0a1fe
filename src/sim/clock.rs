//! Wall-clock dates for receipts and query_sm (UTC, no time-zone database needed).

use std::time::{SystemTime, UNIX_EPOCH};

use smppgate_protocol::receipt::ReceiptDate;

/// The date of `unix_seconds`, UTC (Howard Hinnant's `civil_from_days`).
#[must_use]
pub fn utc_date(unix_seconds: u64) -> ReceiptDate {
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(0);
    let secs = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // All values are in range by construction.
    ReceiptDate {
        year: u16::try_from(year).unwrap_or(2000),
        month: u8::try_from(month).unwrap_or(1),
        day: u8::try_from(day).unwrap_or(1),
        hour: u8::try_from(secs / 3600).unwrap_or(0),
        minute: u8::try_from(secs % 3600 / 60).unwrap_or(0),
        second: u8::try_from(secs % 60).unwrap_or(0),
    }
}

/// Now, UTC.
#[must_use]
pub fn utc_now() -> ReceiptDate {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_date(secs)
}

/// An SMPP absolute time `YYMMDDhhmmss000+` (UTC) for `date`.
#[must_use]
pub fn smpp_absolute(date: &ReceiptDate) -> String {
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}000+",
        date.year % 100,
        date.month,
        date.day,
        date.hour,
        date.minute,
        date.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let d = utc_date(0);
        assert_eq!((d.year, d.month, d.day, d.hour), (1970, 1, 1, 0));
        // 2024-02-29T12:34:56Z
        let d = utc_date(1_709_210_096);
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2024, 2, 29, 12, 34, 56)
        );
        assert_eq!(smpp_absolute(&d), "240229123456000+");
    }
}
