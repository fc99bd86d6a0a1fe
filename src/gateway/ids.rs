//! Our message ids: unique across restarts, formatted in each account's style, and read
//! back from whatever a client or an operator hands us.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::IdStyle;

/// The next id to hand out.
#[derive(Debug)]
pub(crate) struct MessageIds {
    next: AtomicU64,
}

impl MessageIds {
    /// Ids continue above everything stored, and above the clock (×1000) so that even a
    /// lost store does not make ids repeat.
    pub(crate) fn new(max_stored: u64, wall_ms: u64) -> Self {
        Self {
            next: AtomicU64::new(max_stored.saturating_add(1).max(wall_ms * 1000)),
        }
    }

    pub(crate) fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The first id this run handed out or will hand out (ids below were accepted by an
    /// earlier run).
    pub(crate) fn peek(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

/// Formats our id for an account.
#[must_use]
pub fn format_id(id: u64, style: IdStyle) -> String {
    IdText::new(id, style).as_str().to_owned()
}

/// Our id as an account reads it, formatted on the stack (it goes into every
/// submit_sm_resp: `format!` grew a heap string for it, twice on most ids).
#[derive(Clone, Copy)]
pub(crate) struct IdText {
    digits: [u8; 20],
    start: usize,
}

impl IdText {
    /// `id` in `style`: decimal, or lower-case hexadecimal without `0x`.
    pub(crate) fn new(id: u64, style: IdStyle) -> Self {
        let radix = match style {
            IdStyle::Dec => 10,
            IdStyle::Hex | IdStyle::Auto => 16,
        };
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = id;
        loop {
            start -= 1;
            let digit = u8::try_from(rest % radix).unwrap_or(0);
            digits[start] = if digit < 10 {
                b'0' + digit
            } else {
                b'a' + digit - 10
            };
            rest /= radix;
            if rest == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    /// The digits.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }

    /// The digits, as text.
    pub(crate) fn as_str(&self) -> &str {
        // ASCII digits only.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Parses an id an account sends back (query_sm), in its style.
#[must_use]
pub fn parse_id(text: &[u8], style: IdStyle) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?.trim_end_matches('\0');
    match style {
        IdStyle::Dec => text.parse().ok(),
        IdStyle::Hex | IdStyle::Auto => u64::from_str_radix(text, 16).ok(),
    }
}

/// Every reading of an id as a person may paste it: `0x…` is hex; otherwise the decimal
/// and the hex reading, each where it parses (an id of decimal digits reads both ways,
/// and both candidates are returned, decimal first).
#[must_use]
pub fn readings(text: &str) -> Vec<(IdStyle, u64)> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16)
            .map(|id| vec![(IdStyle::Hex, id)])
            .unwrap_or_default();
    }
    let mut out = Vec::new();
    if let Ok(id) = text.parse::<u64>() {
        out.push((IdStyle::Dec, id));
    }
    if let Ok(id) = u64::from_str_radix(text, 16) {
        out.push((IdStyle::Hex, id));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_each_style() {
        for style in [IdStyle::Dec, IdStyle::Hex, IdStyle::Auto] {
            let text = format_id(1_733_000_000_123_456, style);
            assert_eq!(
                parse_id(text.as_bytes(), style),
                Some(1_733_000_000_123_456)
            );
        }
    }

    #[test]
    fn ids_are_written_as_the_standard_formatting_writes_them() {
        for id in [0, 9, 10, 15, 16, 255, 1_733_000_000_123_456, u64::MAX] {
            assert_eq!(IdText::new(id, IdStyle::Dec).as_str(), id.to_string());
            for style in [IdStyle::Hex, IdStyle::Auto] {
                assert_eq!(IdText::new(id, style).as_str(), format!("{id:x}"));
            }
        }
    }

    #[test]
    fn readings_of_ambiguous_and_clear_ids() {
        assert_eq!(readings("0x2a"), vec![(IdStyle::Hex, 42)]);
        assert_eq!(readings("6b03fd0f"), vec![(IdStyle::Hex, 0x6b03_fd0f)]);
        assert_eq!(
            readings("42"),
            vec![(IdStyle::Dec, 42), (IdStyle::Hex, 0x42)]
        );
        assert!(readings("forty").is_empty());
    }

    #[test]
    fn ids_continue_above_the_store_and_the_clock() {
        let ids = MessageIds::new(5, 0);
        assert_eq!(ids.next(), 6);
        let ids = MessageIds::new(5, 1_000);
        assert_eq!(ids.next(), 1_000_000);
    }
}
