//! Phone numbers: normalisation to E.164 digits (no `+`) and the built-in prefix table of
//! the Chinese operators, which a route can name instead of listing prefixes; and
//! [`PrefixTable`], the longest-prefix matcher routes are looked up in.

mod prefix_table;

pub use prefix_table::{PrefixError, PrefixTable};

/// An SMPP address from a number or sender as a user writes it: `+digits` and digits are
/// international/ISDN, anything else alphanumeric (a sender name).
#[must_use]
pub fn address(text: &str) -> smppgate_protocol::types::Address {
    use smppgate_protocol::types::{Address, Npi, Ton};
    let digits = text.strip_prefix('+').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        Address::new(
            Ton::INTERNATIONAL,
            Npi::ISDN,
            bytes::Bytes::copy_from_slice(digits.as_bytes()),
        )
    } else {
        Address::new(
            Ton::ALPHANUMERIC,
            Npi::UNKNOWN,
            bytes::Bytes::copy_from_slice(text.as_bytes()),
        )
    }
}

/// Why a number cannot be normalised (answered `ESME_RINVDSTADR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// Empty.
    #[error("empty number")]
    Empty,
    /// A character that is not a digit (after removing spaces, dashes, dots, brackets
    /// and one leading `+`).
    #[error("`{0}` contains a character that is not a digit")]
    NotDigits(String),
    /// Too short or too long for E.164 (3 to 15 digits with the country code).
    #[error("`{0}` has a length E.164 does not allow")]
    Length(String),
    /// After `+` or `00` comes a `0`: no country code starts with 0.
    #[error("`{0}` does not start with a country code")]
    CountryCode(String),
}

/// Normalises `number` to E.164 digits without `+`: `+86 138-0013-8000`,
/// `008613800138000` and (with `default_country` `86`) `13800138000` all give
/// `8613800138000`.
///
/// A number without `+` or `00` gets `default_country` in front when it looks national
/// (for `86`: an 11-digit mobile number starting with 1, or a trunk-prefixed `0…` fixed
/// line; elsewhere: a `0…` number or one of at most 10 digits); otherwise it is taken as
/// already international. A `default_country` that is not 1 to 3 digits is ignored.
///
/// # Errors
/// [`NumberError`] when it is not a phone number.
pub fn normalise(number: &str, default_country: &str) -> Result<String, NumberError> {
    let trimmed = number.trim();
    if trimmed.is_empty() {
        return Err(NumberError::Empty);
    }
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len() + default_country.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(NumberError::NotDigits(number.to_owned())),
        }
    }
    let default_country = if is_country_code(default_country) {
        default_country
    } else {
        ""
    };
    let e164 = if plus {
        digits
    } else if let Some(international) = digits.strip_prefix("00") {
        international.to_owned()
    } else if !default_country.is_empty()
        && !digits.starts_with(default_country)
        && national_length(default_country, &digits)
    {
        format!("{default_country}{}", digits.trim_start_matches('0'))
    } else {
        digits
    };
    if !(3..=15).contains(&e164.len()) {
        return Err(NumberError::Length(number.to_owned()));
    }
    if e164.starts_with('0') {
        return Err(NumberError::CountryCode(number.to_owned()));
    }
    Ok(e164)
}

/// Whether `text` can be a country code: 1 to 3 digits, the first not 0 (ITU-T E.164).
#[must_use]
pub fn is_country_code(text: &str) -> bool {
    (1..=3).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
}

/// Whether `digits` looks like a national number of `country` (China: 11-digit mobiles
/// starting with 1, or trunk-prefixed 0… numbers).
fn national_length(country: &str, digits: &str) -> bool {
    match country {
        "86" => {
            (digits.len() == 11 && digits.starts_with('1'))
                || (digits.starts_with('0') && (10..=12).contains(&digits.len()))
        }
        _ => digits.starts_with('0') || digits.len() <= 10,
    }
}

// The operator tables follow the MIIT allocations as published by libphonenumber
// (resources/carrier/en/86.txt) and the Chinese Wikipedia table of mobile number ranges:
// - 134 is China Mobile only for 1340–1348; 1349 was China Satcom's satellite service,
//   so it is left out of every table (it goes to the default route).
// - 170 is split by its fourth digit between the three operators' virtual-operator
//   (MVNO) resellers; 171 is wholly China Unicom's MVNO range; 162 / 165 / 167 are the
//   later MVNO ranges of Telecom / Mobile / Unicom.
// - 145/146 (Unicom), 147/148 (Mobile) and 149 (Telecom) are data-card / IoT ranges with
//   11-digit numbers that can receive SMS; the 13-digit IoT ranges (140–144) are not here.
// - 192 is China Broadnet (CBN), the fourth operator licensed in 2019.
// Mobile number portability (nationwide since 2019) means a prefix names the operator
// that issued the number, not necessarily the one serving it today.

/// China Mobile (incl. its MVNO ranges 1703/1705/1706 and 165), E.164 without `+`.
pub const CHINA_MOBILE: &[&str] = &[
    "861340", "861341", "861342", "861343", "861344", "861345", "861346", "861347", "861348",
    "86135", "86136", "86137", "86138", "86139", "86147", "86148", "86150", "86151", "86152",
    "86157", "86158", "86159", "86165", "86172", "86178", "86182", "86183", "86184", "86187",
    "86188", "86195", "86197", "86198", "861703", "861705", "861706",
];

/// China Unicom (incl. its MVNO ranges 1704/1707–1709, 171 and 167).
pub const CHINA_UNICOM: &[&str] = &[
    "86130", "86131", "86132", "86145", "86146", "86155", "86156", "86166", "86167", "86171",
    "86175", "86176", "86185", "86186", "86196", "861704", "861707", "861708", "861709",
];

/// China Telecom (incl. its MVNO ranges 1700–1702 and 162).
pub const CHINA_TELECOM: &[&str] = &[
    "86133", "86149", "86153", "86162", "86173", "86174", "86177", "86180", "86181", "86189",
    "86190", "86191", "86193", "86199", "861700", "861701", "861702",
];

/// China Broadnet (CBN).
pub const CHINA_BROADNET: &[&str] = &["86192"];

/// The names a route's `operators` may use.
pub const OPERATOR_NAMES: &[&str] = &[
    "china-mobile",
    "china-unicom",
    "china-telecom",
    "china-broadnet",
];

/// The prefixes of a built-in operator name.
#[must_use]
pub fn operator_prefixes(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "china-mobile" | "cmcc" => Some(CHINA_MOBILE),
        "china-unicom" | "cucc" => Some(CHINA_UNICOM),
        "china-telecom" | "ctcc" => Some(CHINA_TELECOM),
        "china-broadnet" | "cbn" => Some(CHINA_BROADNET),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_ways_of_writing_a_chinese_mobile() {
        for written in [
            "+86 138 0013 8000",
            "+86-138-0013-8000",
            "+8613800138000",
            "008613800138000",
            "0086 138 0013 8000",
            "13800138000",
            "138 0013 8000",
            "(138) 0013.8000",
            "  13800138000  ",
        ] {
            assert_eq!(
                normalise(written, "86").as_deref(),
                Ok("8613800138000"),
                "{written}"
            );
        }
        // Already international without `+`: kept.
        assert_eq!(
            normalise("8613800138000", "86").as_deref(),
            Ok("8613800138000")
        );
        // Fixed line with the trunk prefix.
        assert_eq!(
            normalise("010 1234 5678", "86").as_deref(),
            Ok("861012345678")
        );
        // No default country: taken as it is.
        assert_eq!(normalise("13800138000", "").as_deref(), Ok("13800138000"));
        // Another country's national numbers.
        assert_eq!(
            normalise("07911 123456", "44").as_deref(),
            Ok("447911123456")
        );
        assert_eq!(normalise("202 555 0123", "1").as_deref(), Ok("12025550123"));
        // A foreign number is not touched by the default country.
        assert_eq!(
            normalise("+44 7911 123456", "86").as_deref(),
            Ok("447911123456")
        );
    }

    #[test]
    fn invalid_numbers_are_errors() {
        assert_eq!(normalise("", "86"), Err(NumberError::Empty));
        assert_eq!(normalise("   ", "86"), Err(NumberError::Empty));
        for bad in [
            "138abc",
            "+86+138",
            "++8613800138000",
            "138\t0013",
            "１３８",
            "138_0013",
        ] {
            assert_eq!(
                normalise(bad, "86"),
                Err(NumberError::NotDigits(bad.to_owned())),
                "{bad}"
            );
        }
        for bad in [
            "+",
            "+1",
            "00",
            "0012",
            "+8613800138000123",
            "0086138001380001234",
        ] {
            assert_eq!(
                normalise(bad, "86"),
                Err(NumberError::Length(bad.to_owned())),
                "{bad}"
            );
        }
        for bad in ["+086 138", "000861380013"] {
            assert_eq!(
                normalise(bad, "86"),
                Err(NumberError::CountryCode(bad.to_owned())),
                "{bad}"
            );
        }
        // A default country that is not one is ignored rather than pasted in.
        assert_eq!(normalise("13800138000", "x8").as_deref(), Ok("13800138000"));
    }

    #[test]
    fn country_codes() {
        for good in ["1", "44", "86", "852"] {
            assert!(is_country_code(good), "{good}");
        }
        for bad in ["", "0", "086", "1234", "8a", "+86"] {
            assert!(!is_country_code(bad), "{bad}");
        }
    }

    #[test]
    fn operator_tables_are_digits_and_disjoint() {
        let mut table = PrefixTable::new();
        for name in OPERATOR_NAMES {
            let prefixes = operator_prefixes(name).unwrap();
            for prefix in prefixes {
                assert!(prefix.starts_with("861"), "{name} {prefix}");
                assert_eq!(table.insert(prefix, *name), Ok(None), "{prefix} twice");
            }
        }
        let operator = |number: &str| table.lookup(&normalise(number, "86").unwrap()).copied();
        assert_eq!(operator("13800138000"), Some("china-mobile"));
        assert_eq!(operator("13412345678"), Some("china-mobile"));
        // 1349 was satellite, not China Mobile.
        assert_eq!(operator("13491234567"), None);
        assert_eq!(operator("17031234567"), Some("china-mobile"));
        assert_eq!(operator("17041234567"), Some("china-unicom"));
        assert_eq!(operator("17001234567"), Some("china-telecom"));
        assert_eq!(operator("17112345678"), Some("china-unicom"));
        assert_eq!(operator("19212345678"), Some("china-broadnet"));
        assert_eq!(operator("19912345678"), Some("china-telecom"));
        assert_eq!(operator("19612345678"), Some("china-unicom"));
        assert_eq!(operator("19812345678"), Some("china-mobile"));
        assert_eq!(operator("+44 7911 123456"), None);
        assert_eq!(operator_prefixes("cmcc"), Some(CHINA_MOBILE));
        assert_eq!(operator_prefixes("vodafone"), None);
    }
}
