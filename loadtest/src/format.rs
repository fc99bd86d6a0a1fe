//! Figures as a person reads them: thousands separators, units, sensible precision.

use std::time::Duration;

/// `1234567` → `1,234,567`.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A rate or other non-negative figure rounded to a whole number, with separators.
#[must_use]
pub fn whole(x: f64) -> String {
    if x.is_finite() && x > 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // finite, > 0
        let n = x.round() as u64;
        thousands(n)
    } else {
        "0".to_owned()
    }
}

/// Three significant digits: `12.3`, `1.23`, `123`.
fn significant(x: f64) -> String {
    if x >= 100.0 {
        whole(x)
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A latency in microseconds with its unit: `850 µs`, `12.3 ms`, `1.23 s`.
#[must_use]
pub fn latency(micros: f64) -> String {
    if micros < 1_000.0 {
        format!("{} µs", whole(micros))
    } else if micros < 1_000_000.0 {
        format!("{} ms", significant(micros / 1_000.0))
    } else {
        format!("{} s", significant(micros / 1_000_000.0))
    }
}

/// An axis label: [`latency`] without trailing zeros (`10 ms`, `1 s`, `2.5 ms`).
#[must_use]
pub fn latency_tick(micros: f64) -> String {
    let text = latency(micros);
    let (number, unit) = text.split_once(' ').unwrap_or((&text, ""));
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    format!("{number} {unit}")
}

/// A run's length: `850 ms`, `8.12 s`, `2 min 05 s`, `1 h 02 min`.
#[must_use]
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if secs < 60 && d.subsec_nanos() == 0 {
        format!("{secs} s")
    } else if secs < 60 {
        format!("{} s", significant(d.as_secs_f64()))
    } else if secs < 3_600 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{} h {:02} min", secs / 3_600, secs % 3_600 / 60)
    }
}

/// `part` of `whole` as a percentage with two decimals; never rounds a shortfall up to
/// 100 % nor a single item down to 0 %.
#[must_use]
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub fn percent(part: u64, of: u64) -> String {
    if of == 0 {
        return "–".to_owned();
    }
    if part == of {
        return "100 %".to_owned();
    }
    if part == 0 {
        return "0 %".to_owned();
    }
    let share = part as f64 / of as f64 * 100.0;
    if share >= 99.995 {
        ">99.99 %".to_owned()
    } else if share < 0.005 {
        "<0.01 %".to_owned()
    } else {
        format!("{share:.2} %")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_a_person_writes_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(whole(12_345.6), "12,346");
        assert_eq!(latency(850.0), "850 µs");
        assert_eq!(latency(12_345.0), "12.3 ms");
        assert_eq!(latency(1_234.0), "1.23 ms");
        assert_eq!(latency(2_500_000.0), "2.50 s");
        assert_eq!(duration(Duration::from_millis(8_123)), "8.12 s");
        assert_eq!(duration(Duration::from_secs(30)), "30 s");
        assert_eq!(latency_tick(10_000_000.0), "10 s");
        assert_eq!(latency_tick(1_000.0), "1 ms");
        assert_eq!(latency_tick(2_500.0), "2.5 ms");
        assert_eq!(latency_tick(100.0), "100 µs");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 05 s");
        assert_eq!(percent(9_999, 10_000), "99.99 %");
        assert_eq!(percent(999_999, 1_000_000), ">99.99 %");
        assert_eq!(percent(1, 1_000_000), "<0.01 %");
        assert_eq!(percent(5, 5), "100 %");
        assert_eq!(percent(0, 0), "–");
    }
}
