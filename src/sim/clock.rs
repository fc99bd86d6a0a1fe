//! Wall-clock dates for receipts and query_sm (UTC, no time-zone database needed).

use smppgate_protocol::receipt::ReceiptDate;

pub use crate::clock::utc_date;

/// Now, UTC.
#[must_use]
pub fn utc_now() -> ReceiptDate {
    crate::clock::Clock::system().utc_date()
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
