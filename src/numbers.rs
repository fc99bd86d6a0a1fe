//! Phone numbers: normalisation to E.164 digits (no `+`) and the built-in prefix table of
//! the Chinese operators, which a route can name instead of listing prefixes.

/// Why a number cannot be normalised (answered `ESME_RINVDSTADR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}

/// Normalises `number` to E.164 digits without `+`: `+86 138-0013-8000`,
/// `008613800138000` and (with `default_country` `86`) `13800138000` all give
/// `8613800138000`.
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
    Ok(e164)
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

/// China Mobile (incl. its virtual-operator ranges), E.164 without `+`.
pub const CHINA_MOBILE: &[&str] = &[
    "86134", "86135", "86136", "86137", "86138", "86139", "86147", "86148", "86150", "86151",
    "86152", "86157", "86158", "86159", "86165", "86172", "86178", "86182", "86183", "86184",
    "86187", "86188", "86195", "86197", "86198", "861703", "861705", "861706",
];

/// China Unicom (incl. virtual-operator ranges 1704/1707–1709 and 171).
pub const CHINA_UNICOM: &[&str] = &[
    "86130", "86131", "86132", "86145", "86146", "86155", "86156", "86166", "86167", "86171",
    "86175", "86176", "86185", "86186", "86196", "861704", "861707", "861708", "861709",
];

/// China Telecom (incl. virtual-operator ranges 1700–1702 and 162).
pub const CHINA_TELECOM: &[&str] = &[
    "86133", "86149", "86153", "86162", "86173", "86174", "86177", "86180", "86181", "86189",
    "86190", "86191", "86193", "86199", "861700", "861701", "861702",
];

/// The names a route's `operators` may use.
pub const OPERATOR_NAMES: &[&str] = &["china-mobile", "china-unicom", "china-telecom"];

/// The prefixes of a built-in operator name.
#[must_use]
pub fn operator_prefixes(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "china-mobile" | "cmcc" => Some(CHINA_MOBILE),
        "china-unicom" | "cucc" => Some(CHINA_UNICOM),
        "china-telecom" | "ctcc" => Some(CHINA_TELECOM),
        _ => None,
    }
}
