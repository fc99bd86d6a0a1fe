//! Delivery receipts: detection, parsing of the text form and the TLVs, id normalisation
//! for matching, and formatting (reference §6).
//!
//! The text form (SMPP 3.4 Appendix B) is only an example and every SMSC varies it, so the
//! parser is lenient: keys in any case, fields missing or reordered, vendor fields kept,
//! 10/12/14-digit dates, non-numeric `err`, trailing NUL, spaces or garbage. It never fails;
//! it returns what it found.

use std::fmt::Write as _;

/// Whether esm_class marks an SMSC delivery receipt: message type bits 5–2 = 0001
/// (`esm_class & 0x3C == 0x04`; UDHI and reply-path bits may be set too).
#[must_use]
pub const fn is_delivery_receipt(esm_class: u8) -> bool {
    esm_class & 0x3C == 0x04
}

/// message_state values (SMPP 3.4 §5.2.28) and their `stat:` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageState {
    /// `ENROUTE` (1).
    Enroute = 1,
    /// `DELIVRD` (2).
    Delivered = 2,
    /// `EXPIRED` (3).
    Expired = 3,
    /// `DELETED` (4).
    Deleted = 4,
    /// `UNDELIV` (5).
    Undeliverable = 5,
    /// `ACCEPTD` (6).
    Accepted = 6,
    /// `UNKNOWN` (7).
    Unknown = 7,
    /// `REJECTD` (8).
    Rejected = 8,
}

impl MessageState {
    /// All states in value order.
    pub const ALL: [Self; 8] = [
        Self::Enroute,
        Self::Delivered,
        Self::Expired,
        Self::Deleted,
        Self::Undeliverable,
        Self::Accepted,
        Self::Unknown,
        Self::Rejected,
    ];

    /// The state for a message_state value (1–8).
    #[must_use]
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            1..=8 => Some(Self::ALL[value as usize - 1]),
            _ => None,
        }
    }

    /// The message_state value.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The 7-letter `stat:` code.
    #[must_use]
    pub const fn stat(self) -> &'static str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
        }
    }

    /// The state for a `stat:` value, case-insensitively; also accepts the long spellings
    /// some SMSCs use (`DELIVERED`, `UNDELIVERABLE`, `REJECTED`, `ACCEPTED`, `FAILED`…).
    #[must_use]
    pub fn from_stat(stat: &str) -> Option<Self> {
        // Compared in place (no upper-cased copy): this runs for every receipt.
        const NAMES: [(&str, MessageState); 15] = [
            ("DELIVRD", MessageState::Delivered),
            ("UNDELIV", MessageState::Undeliverable),
            ("EXPIRED", MessageState::Expired),
            ("REJECTD", MessageState::Rejected),
            ("ENROUTE", MessageState::Enroute),
            ("DELETED", MessageState::Deleted),
            ("ACCEPTD", MessageState::Accepted),
            ("UNKNOWN", MessageState::Unknown),
            ("EN_ROUTE", MessageState::Enroute),
            ("DELIVERED", MessageState::Delivered),
            ("UNDELIVERABLE", MessageState::Undeliverable),
            ("UNDELIVERED", MessageState::Undeliverable),
            ("FAILED", MessageState::Undeliverable),
            ("ACCEPTED", MessageState::Accepted),
            ("REJECTED", MessageState::Rejected),
        ];
        let stat = stat.trim();
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(stat))
            .map(|(_, state)| *state)
    }

    /// Whether this state is final (everything except `ENROUTE` and `ACCEPTD`).
    #[must_use]
    pub const fn is_final(self) -> bool {
        !matches!(self, Self::Enroute | Self::Accepted)
    }
}

/// A receipt date (`submit date:` / `done date:`), SMSC local time, no zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReceiptDate {
    /// Full year (two-digit years are 20YY).
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59 (0 when the date has no seconds).
    pub second: u8,
}

/// How many digits a formatted receipt date has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateDigits {
    /// `YYMMDDhhmm` (the spec's example).
    #[default]
    Ten,
    /// `YYMMDDhhmmss`.
    Twelve,
    /// `YYYYMMDDhhmmss`.
    Fourteen,
}

impl ReceiptDate {
    /// Parses 10 (`YYMMDDhhmm`), 12 or 14 (`YYYYMMDDhhmmss`) digits. `None` for anything
    /// else, or out-of-range fields (e.g. the all-zero date some SMSCs send).
    ///
    /// Twelve digits are ambiguous: `YYMMDDhhmmss` (cloudhopper-style) or `YYYYMMDDhhmm`
    /// (Jasmin writes `%Y%m%d%H%M`). A value starting `19` or `20` that reads as a valid
    /// `YYYYMMDDhhmm` is taken that way; otherwise `YYMMDDhhmmss`. (Only `YYMMDDhhmmss` dates
    /// from 2019–2020 could be misread.)
    #[must_use]
    pub fn parse(digits: &str) -> Option<Self> {
        let d = digits.trim();
        if !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match d.len() {
            10 => Self::from_fields(d, 2, false),
            12 if d.starts_with("19") || d.starts_with("20") => {
                Self::from_fields(d, 4, false).or_else(|| Self::from_fields(d, 2, true))
            }
            12 => Self::from_fields(d, 2, true),
            14 => Self::from_fields(d, 4, true),
            _ => None,
        }
    }

    /// Reads a year of `year_digits` (2 → 20YY) then month, day, hour, minute and
    /// optionally second, two digits each, and checks the ranges.
    fn from_fields(d: &str, year_digits: usize, seconds: bool) -> Option<Self> {
        let n = |range: std::ops::Range<usize>| d.get(range)?.parse::<u16>().ok();
        let year = n(0..year_digits)?;
        let year = if year_digits == 2 { 2000 + year } else { year };
        let field = |i: usize| {
            n(year_digits + 2 * i..year_digits + 2 * i + 2).and_then(|v| u8::try_from(v).ok())
        };
        let date = Self {
            year,
            month: field(0)?,
            day: field(1)?,
            hour: field(2)?,
            minute: field(3)?,
            second: if seconds { field(4)? } else { 0 },
        };
        let valid = (1..=12).contains(&date.month)
            && (1..=31).contains(&date.day)
            && date.hour < 24
            && date.minute < 60
            && date.second < 60;
        valid.then_some(date)
    }

    /// Formats with the given number of digits.
    #[must_use]
    pub fn format(&self, digits: DateDigits) -> String {
        let mut out = String::with_capacity(14);
        self.write(digits, &mut out);
        out
    }

    /// As [`ReceiptDate::format`], appended to `out` (no allocation of its own).
    pub fn write(&self, digits: DateDigits, out: &mut String) {
        match digits {
            DateDigits::Fourteen => push_padded(out, u64::from(self.year), 4),
            _ => push_padded(out, u64::from(self.year % 100), 2),
        }
        for field in [self.month, self.day, self.hour, self.minute] {
            push_padded(out, u64::from(field), 2);
        }
        if digits != DateDigits::Ten {
            push_padded(out, u64::from(self.second), 2);
        }
    }
}

/// A `key:value` the parser did not recognise (vendor fields such as `IMSI:` or `MCCMNC:`),
/// or a bare word (`key` empty) such as trailing garbage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptField {
    /// The key as written (empty for a bare word).
    pub key: String,
    /// The value.
    pub value: String,
}

/// The fields of a receipt's text form, as written (raw strings; helpers parse them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiptText {
    /// `id:` — the message id as the SMSC wrote it.
    pub id: Option<String>,
    /// `sub:` — messages submitted.
    pub sub: Option<String>,
    /// `dlvrd:` — messages delivered.
    pub dlvrd: Option<String>,
    /// `submit date:`.
    pub submit_date: Option<String>,
    /// `done date:`.
    pub done_date: Option<String>,
    /// `stat:`.
    pub stat: Option<String>,
    /// `err:` — kept raw (`000`, `21b`, `0x0000000B`…).
    pub err: Option<String>,
    /// `text:` — everything after it (trailing NUL and spaces removed).
    pub text: Option<String>,
    /// The octets of `text` as received (for a text in the original message's coding,
    /// e.g. raw UCS-2, which the caller decodes with that data_coding).
    pub text_raw: Option<Vec<u8>>,
    /// Vendor fields and stray words, in order.
    pub unrecognised: Vec<ReceiptField>,
}

/// The standard keys, lower case, in the order they usually appear.
const KEYS: [&str; 8] = [
    "id",
    "sub",
    "dlvrd",
    "submit date",
    "done date",
    "stat",
    "err",
    "text",
];

impl ReceiptText {
    /// Parses the text of short_message or message_payload (pass whichever carries it).
    /// Octets that are not UTF-8 are read as Latin-1. Never fails.
    #[must_use]
    pub fn parse(message: &[u8]) -> Self {
        match std::str::from_utf8(message) {
            Ok(s) => Self::parse_str(s),
            Err(_) => {
                let latin1: String = message.iter().map(|&b| char::from(b)).collect();
                let mut out = Self::parse_str(&latin1);
                // Latin-1 maps each octet to one char below U+0100: map back.
                out.text_raw = out.text.as_ref().map(|t| {
                    t.chars()
                        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                        .collect()
                });
                out
            }
        }
    }

    /// Parses an already decoded receipt text. Never fails.
    ///
    /// `text:` runs to the end of the message (it may contain spaces and colons), except
    /// that a standard key not seen yet (`stat:`, `err:`…) ends it, for SMSCs that put
    /// `text:` before other fields.
    #[must_use]
    pub fn parse_str(message: &str) -> Self {
        let trimmed = message.trim_end_matches(|c: char| c == '\0' || c.is_whitespace());
        let tokens = tokenize(trimmed);
        let mut out = Self::default();
        let mut seen = [false; KEYS.len()];
        let mut i = 0;
        while i < tokens.len() {
            let (start, token) = tokens[i];
            i += 1;
            let Some((key, value, consumed)) = split_key(token, tokens.get(i).map(|t| t.1)) else {
                out.unrecognised.push(ReceiptField {
                    key: String::new(),
                    value: token.to_owned(),
                });
                continue;
            };
            i += consumed;
            let Some(index) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)) else {
                out.unrecognised.push(ReceiptField {
                    key: key.to_owned(),
                    value: value.to_owned(),
                });
                continue;
            };
            if seen[index] {
                out.unrecognised.push(ReceiptField {
                    key: key.to_owned(),
                    value: value.to_owned(),
                });
                continue;
            }
            seen[index] = true;
            if KEYS[index] == "text" {
                // From just after "text:" to the next unseen standard key, or the end.
                let value_start = start + token.find(':').map_or(token.len(), |p| p + 1);
                let mut end = trimmed.len();
                while i < tokens.len() {
                    let next_key = split_key(tokens[i].1, tokens.get(i + 1).map(|t| t.1))
                        .and_then(|(k, _, _)| KEYS.iter().position(|s| s.eq_ignore_ascii_case(k)));
                    if matches!(next_key, Some(k) if !seen[k]) {
                        end = tokens[i].0;
                        break;
                    }
                    i += 1;
                }
                let value = trimmed[value_start..end]
                    .trim_start_matches(' ')
                    .trim_end_matches(|c: char| c == '\0' || c.is_whitespace());
                out.text = Some(value.to_owned());
                out.text_raw = Some(value.as_bytes().to_vec());
                continue;
            }
            let value = Some(value.to_owned());
            match KEYS[index] {
                "id" => out.id = value,
                "sub" => out.sub = value,
                "dlvrd" => out.dlvrd = value,
                "submit date" => out.submit_date = value,
                "done date" => out.done_date = value,
                "stat" => out.stat = value,
                _ => out.err = value,
            }
        }
        out
    }

    /// `stat:` as a [`MessageState`].
    #[must_use]
    pub fn state(&self) -> Option<MessageState> {
        self.stat.as_deref().and_then(MessageState::from_stat)
    }

    /// `submit date:` parsed.
    #[must_use]
    pub fn submit_date(&self) -> Option<ReceiptDate> {
        self.submit_date.as_deref().and_then(ReceiptDate::parse)
    }

    /// `done date:` parsed.
    #[must_use]
    pub fn done_date(&self) -> Option<ReceiptDate> {
        self.done_date.as_deref().and_then(ReceiptDate::parse)
    }

    /// `sub:` as a number.
    #[must_use]
    pub fn sub_count(&self) -> Option<u32> {
        self.sub.as_deref().and_then(|s| s.parse().ok())
    }

    /// `dlvrd:` as a number.
    #[must_use]
    pub fn dlvrd_count(&self) -> Option<u32> {
        self.dlvrd.as_deref().and_then(|s| s.parse().ok())
    }

    /// `err:` as a decimal number, when it is one (`000` → 0; `21b` → `None`).
    #[must_use]
    pub fn err_code(&self) -> Option<u32> {
        self.err.as_deref().and_then(|s| s.parse().ok())
    }
}

/// Splits on whitespace (NUL counts as whitespace), keeping each token's byte offset.
fn tokenize(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::with_capacity(12);
    let mut start = None;
    for (i, c) in s.char_indices() {
        let space = c.is_whitespace() || c == '\0';
        match (space, start) {
            (true, Some(st)) => {
                out.push((st, &s[st..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    out
}

/// Reads `key:value` from a token; `submit` / `done` followed by `date:…` make a two-word
/// key. A standard key with an empty value takes the next token when that token has no
/// colon (`id: 123`). Returns (key, value, extra tokens consumed).
fn split_key<'a>(token: &'a str, next: Option<&'a str>) -> Option<(&'a str, &'a str, usize)> {
    if (token.eq_ignore_ascii_case("submit") || token.eq_ignore_ascii_case("done"))
        && next.is_some_and(|n| n.len() >= 5 && n[..5].eq_ignore_ascii_case("date:"))
    {
        let value = &next?[5..];
        let key = if token.eq_ignore_ascii_case("submit") {
            "submit date"
        } else {
            "done date"
        };
        return Some((key, value, 1));
    }
    let colon = token.find(':')?;
    let key = &token[..colon];
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let value = &token[colon + 1..];
    let is_standard = KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key) && *k != "text");
    if value.is_empty() && is_standard {
        if let Some(n) = next.filter(|n| !n.contains(':')) {
            return Some((key, n, 1));
        }
    }
    Some((key, value, 0))
}

/// How an SMSC writes message ids on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdStyle {
    /// Hexadecimal (optionally `0x`-prefixed, any case, leading zeros allowed).
    Hex,
    /// Decimal (leading zeros allowed).
    Dec,
    /// Unknown: an all-digit id may be either, so both readings are candidates.
    #[default]
    Auto,
}

/// A message id in canonical form for matching: a numeric id becomes lower-case hex with
/// no leading zeros (`0x1A2B`, `1A2B`, `001a2b` and decimal `6699` all become `1a2b`); an
/// id that is not a number (a UUID, or too long for 128 bits) is kept opaque, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalisedId(String);

impl NormalisedId {
    /// The canonical string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical form of a numeric id.
    #[must_use]
    pub fn from_number(value: u128) -> Self {
        Self(format!("{value:x}"))
    }
}

impl std::fmt::Display for NormalisedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The canonical forms an id may have: one, or two when [`IdStyle::Auto`] cannot tell
/// whether an all-digit id is decimal or hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdCandidates {
    /// The preferred reading (decimal for an all-digit id under `Auto`).
    pub primary: NormalisedId,
    /// The other reading, if any.
    pub alternate: Option<NormalisedId>,
}

impl IdCandidates {
    /// Both candidates.
    pub fn iter(&self) -> impl Iterator<Item = &NormalisedId> {
        std::iter::once(&self.primary).chain(self.alternate.as_ref())
    }

    /// Whether any candidate of `self` equals any of `other`.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.iter().any(|a| other.iter().any(|b| a == b))
    }
}

/// Parses a hex id (optional `0x`) into a number.
fn parse_hex(id: &str) -> Option<u128> {
    let digits = id
        .strip_prefix("0x")
        .or_else(|| id.strip_prefix("0X"))
        .unwrap_or(id);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(digits, 16).ok()
}

/// Parses a decimal id into a number.
fn parse_dec(id: &str) -> Option<u128> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// Normalises an id as written in `style` (surrounding spaces and NULs ignored).
#[must_use]
pub fn normalise_id(id: &str, style: IdStyle) -> IdCandidates {
    let id = id.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    let opaque = || NormalisedId(id.to_lowercase());
    let one = |primary| IdCandidates {
        primary,
        alternate: None,
    };
    match style {
        IdStyle::Hex => one(parse_hex(id).map_or_else(opaque, NormalisedId::from_number)),
        IdStyle::Dec => one(parse_dec(id).map_or_else(
            || {
                // "0x…" is unambiguous even on a decimal link.
                let hex = id.starts_with("0x") || id.starts_with("0X");
                hex.then(|| parse_hex(id))
                    .flatten()
                    .map_or_else(opaque, NormalisedId::from_number)
            },
            NormalisedId::from_number,
        )),
        IdStyle::Auto => match (parse_dec(id), parse_hex(id)) {
            (Some(dec), hex) => IdCandidates {
                primary: NormalisedId::from_number(dec),
                alternate: hex.map(NormalisedId::from_number),
            },
            (None, Some(hex)) => one(NormalisedId::from_number(hex)),
            (None, None) => one(opaque()),
        },
    }
}

/// Whether two ids, each written in its own style, denote the same message.
#[must_use]
pub fn ids_match(a: &str, a_style: IdStyle, b: &str, b_style: IdStyle) -> bool {
    normalise_id(a, a_style).matches(&normalise_id(b, b_style))
}

/// The network_error_code TLV (0x0423): network type and error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// 1 ANSI-136, 2 IS-95, 3 GSM, 4 reserved, … (SMPP 3.4 §5.3.2.31).
    pub network_type: u8,
    /// The network's error code.
    pub error_code: u16,
}

impl NetworkErrorCode {
    /// Reads the 3-octet TLV value; `None` for another length.
    #[must_use]
    pub fn parse(value: &[u8]) -> Option<Self> {
        match *value {
            [network_type, hi, lo] => Some(Self {
                network_type,
                error_code: u16::from_be_bytes([hi, lo]),
            }),
            _ => None,
        }
    }

    /// The 3-octet TLV value.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 3] {
        let [hi, lo] = self.error_code.to_be_bytes();
        [self.network_type, hi, lo]
    }
}

/// The receipt TLV values of a deliver_sm / data_sm, as plain octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiptTlvs<'a> {
    /// receipted_message_id (0x001E) value, NUL included or not.
    pub receipted_message_id: Option<&'a [u8]>,
    /// message_state (0x0427).
    pub message_state: Option<u8>,
    /// network_error_code (0x0423) value.
    pub network_error_code: Option<&'a [u8]>,
}

/// A parsed receipt: the text fields and the TLVs side by side. TLVs win where both are
/// present ([`Self::id`], [`Self::state`]); both stay available to report disagreement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryReceipt {
    /// The text form's fields.
    pub text: ReceiptText,
    /// receipted_message_id, up to its first NUL.
    pub tlv_id: Option<String>,
    /// message_state as received (may be outside 1–8).
    pub tlv_state: Option<u8>,
    /// network_error_code, when 3 octets long.
    pub network_error: Option<NetworkErrorCode>,
}

impl DeliveryReceipt {
    /// The delivery receipt a deliver_sm or data_sm carries, or `None` when the PDU is not
    /// one (`esm_class & 0x3C == 0x04`, SMPP 3.4 §5.2.12). The text comes from
    /// `message_payload` when present, else `short_message`; the TLVs from the PDU.
    #[must_use]
    pub fn from_body(body: &crate::pdu::Body) -> Option<Self> {
        use crate::pdu::Body;
        let (esm_class, payload, tlvs) = match body {
            Body::DeliverSm(sm) => (sm.esm_class, sm.payload(), &sm.tlvs),
            Body::DataSm(data) => (
                data.esm_class,
                data.tlvs.message_payload().unwrap_or_default(),
                &data.tlvs,
            ),
            _ => return None,
        };
        if !esm_class.is_delivery_receipt() {
            return None;
        }
        let receipted_message_id = tlvs.receipted_message_id();
        let network_error_code = tlvs.get(crate::tlv::TlvTag::NETWORK_ERROR_CODE);
        Some(Self::parse(
            &payload,
            &ReceiptTlvs {
                receipted_message_id: receipted_message_id.as_deref(),
                message_state: tlvs.message_state(),
                network_error_code: network_error_code.as_deref(),
            },
        ))
    }

    /// Parses a receipt from the message text (short_message, or message_payload when
    /// sm_length is 0) and the TLVs. Never fails.
    #[must_use]
    pub fn parse(message: &[u8], tlvs: &ReceiptTlvs<'_>) -> Self {
        let tlv_id = tlvs.receipted_message_id.map(|v| {
            let v = v.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(v).trim().to_owned()
        });
        Self {
            text: ReceiptText::parse(message),
            tlv_id,
            tlv_state: tlvs.message_state,
            network_error: tlvs.network_error_code.and_then(NetworkErrorCode::parse),
        }
    }

    /// The message id: receipted_message_id when present, else the text `id:`.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.tlv_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.text.id.as_deref())
    }

    /// The state: message_state when present and valid, else the text `stat:`.
    #[must_use]
    pub fn state(&self) -> Option<MessageState> {
        self.tlv_state
            .and_then(MessageState::from_u8)
            .or_else(|| self.text.state())
    }

    /// Id candidates for matching, reading the TLV id in `tlv_style` and the text id in
    /// `text_style` (SMSCs often write hex in the TLV and decimal in the text).
    #[must_use]
    pub fn id_candidates(&self, tlv_style: IdStyle, text_style: IdStyle) -> Option<IdCandidates> {
        match (&self.tlv_id, &self.text.id) {
            (Some(t), _) if !t.is_empty() => Some(normalise_id(t, tlv_style)),
            (_, Some(x)) => Some(normalise_id(x, text_style)),
            _ => None,
        }
    }

    /// Whether the TLV id and the text id are both present and denote different messages.
    #[must_use]
    pub fn id_disagrees(&self, tlv_style: IdStyle, text_style: IdStyle) -> bool {
        match (&self.tlv_id, &self.text.id) {
            (Some(t), Some(x)) => !ids_match(t, tlv_style, x, text_style),
            _ => false,
        }
    }

    /// Whether message_state and `stat:` are both present and differ.
    #[must_use]
    pub fn state_disagrees(&self) -> bool {
        match (
            self.tlv_state.and_then(MessageState::from_u8),
            self.text.state(),
        ) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }
}

/// How an id is written when formatting a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFormat {
    /// As given.
    #[default]
    AsIs,
    /// Decimal, zero-padded to at least `width` digits (the spec example uses 10).
    Decimal {
        /// Minimum digits.
        width: usize,
    },
    /// Lower-case hex without leading zeros.
    HexLower,
    /// Upper-case hex without leading zeros.
    HexUpper,
}

/// Writes `id` (read in `style`) in `format`; a non-numeric id is written as given.
#[must_use]
pub fn format_id(id: &str, style: IdStyle, format: IdFormat) -> String {
    let mut out = String::with_capacity(id.len().max(20));
    write_id(id, style, format, &mut out);
    out
}

/// As [`format_id`], appended to `out`.
fn write_id(id: &str, style: IdStyle, format: IdFormat, out: &mut String) {
    if format == IdFormat::AsIs {
        out.push_str(id);
        return;
    }
    let value = match style {
        IdStyle::Hex => parse_hex(id),
        IdStyle::Dec => parse_dec(id),
        IdStyle::Auto => parse_dec(id).or_else(|| parse_hex(id)),
    };
    let _ = match (format, value) {
        (IdFormat::Decimal { width }, Some(v)) => write!(out, "{v:0width$}"),
        (IdFormat::HexLower, Some(v)) => write!(out, "{v:x}"),
        (IdFormat::HexUpper, Some(v)) => write!(out, "{v:X}"),
        _ => {
            out.push_str(id);
            Ok(())
        }
    };
}

/// Appends `value` in decimal, zero-padded to at least `width` digits (as `{:0width$}`,
/// without the formatting machinery: receipts are built on the simulator's hot path).
fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut digits = [0_u8; 20];
    let mut n = value;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push('0');
    }
    for digit in digits[..len].iter().rev() {
        out.push(char::from(*digit));
    }
}

/// Builds a receipt for the simulator or the gateway: the text form and the TLV values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptBuilder {
    /// The id as issued in submit_sm_resp.
    pub id: String,
    /// How `id` is written.
    pub id_style: IdStyle,
    /// How to write the id in the text.
    pub text_id_format: IdFormat,
    /// How to write the id in receipted_message_id.
    pub tlv_id_format: IdFormat,
    /// `sub:`.
    pub sub: u16,
    /// `dlvrd:`.
    pub dlvrd: u16,
    /// `submit date:` (the caller's clock; the protocol crate has none).
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// Date width.
    pub date_digits: DateDigits,
    /// `stat:` and message_state.
    pub state: MessageState,
    /// The `stat:` text when it is not `state`'s own code: a carrier's code carried
    /// through (the Chinese carriers' `MK:0001`, `DB:0140`, …); message_state stays
    /// `state`.
    pub stat_text: Option<String>,
    /// `err:` (written as three digits at least).
    pub err: u16,
    /// `text:` — the start of the original message; truncated to 20 characters.
    pub text: String,
    /// Key case for `text:` (`Text:` is the spec appendix's spelling).
    pub capitalised_text_key: bool,
}

impl ReceiptBuilder {
    /// A receipt for `id` in `state` with the common defaults (sub/dlvrd 1 when delivered,
    /// err 0, no dates, 10-digit dates, id written as given).
    #[must_use]
    pub fn new(id: impl Into<String>, state: MessageState) -> Self {
        Self {
            id: id.into(),
            id_style: IdStyle::Auto,
            text_id_format: IdFormat::AsIs,
            tlv_id_format: IdFormat::AsIs,
            sub: 1,
            dlvrd: u16::from(state == MessageState::Delivered),
            submit_date: None,
            done_date: None,
            date_digits: DateDigits::Ten,
            state,
            stat_text: None,
            err: 0,
            text: String::new(),
            capitalised_text_key: false,
        }
    }

    /// The text form: `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`.
    #[must_use]
    pub fn format_text(&self) -> String {
        let mut out = String::with_capacity(128);
        let date = |d: Option<ReceiptDate>, out: &mut String| match d {
            Some(d) => d.write(self.date_digits, out),
            None => out.push_str(match self.date_digits {
                DateDigits::Ten => "0000000000",
                _ => "000000000000",
            }),
        };
        out.push_str("id:");
        write_id(&self.id, self.id_style, self.text_id_format, &mut out);
        out.push_str(" sub:");
        push_padded(&mut out, u64::from(self.sub), 3);
        out.push_str(" dlvrd:");
        push_padded(&mut out, u64::from(self.dlvrd), 3);
        out.push_str(" submit date:");
        date(self.submit_date, &mut out);
        out.push_str(" done date:");
        date(self.done_date, &mut out);
        out.push_str(" stat:");
        out.push_str(self.stat_text.as_deref().unwrap_or(self.state.stat()));
        out.push_str(" err:");
        push_padded(&mut out, u64::from(self.err), 3);
        out.push_str(if self.capitalised_text_key {
            " Text:"
        } else {
            " text:"
        });
        out.extend(self.text.chars().take(20));
        out
    }

    /// receipted_message_id TLV value, NUL-terminated (C-Octet String).
    #[must_use]
    pub fn tlv_receipted_message_id(&self) -> Vec<u8> {
        let mut v = format_id(&self.id, self.id_style, self.tlv_id_format).into_bytes();
        v.push(0);
        v
    }

    /// message_state TLV value.
    #[must_use]
    pub const fn tlv_message_state(&self) -> u8 {
        self.state.as_u8()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert!(is_delivery_receipt(0x04));
        assert!(is_delivery_receipt(0x44));
        assert!(is_delivery_receipt(0x84));
        assert!(!is_delivery_receipt(0x00));
        assert!(!is_delivery_receipt(0x08));
        assert!(!is_delivery_receipt(0x40));
    }

    #[test]
    fn state_mapping() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::from_u8(s.as_u8()), Some(s));
            assert_eq!(MessageState::from_stat(s.stat()), Some(s));
        }
        assert_eq!(MessageState::from_u8(0), None);
        assert_eq!(MessageState::from_u8(9), None);
    }

    #[test]
    fn dates() {
        let d = ReceiptDate::parse("1005232039").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2010, 5, 23, 20, 39, 0)
        );
        assert_eq!(ReceiptDate::parse("110206193041").unwrap().second, 41);
        assert_eq!(ReceiptDate::parse("20110314181534").unwrap().year, 2011);
        assert_eq!(ReceiptDate::parse("0000000000"), None);
        assert_eq!(ReceiptDate::parse("10052320"), None);
        assert_eq!(d.format(DateDigits::Ten), "1005232039");
        assert_eq!(d.format(DateDigits::Fourteen), "20100523203900");
    }

    #[test]
    fn ids() {
        let want = NormalisedId::from_number(0x1a2b);
        for (id, style) in [
            ("0x1A2B", IdStyle::Hex),
            ("1A2B", IdStyle::Hex),
            ("001a2b", IdStyle::Hex),
            ("6699", IdStyle::Dec),
            ("0006699", IdStyle::Dec),
            ("1A2B", IdStyle::Auto),
        ] {
            assert_eq!(normalise_id(id, style).primary, want, "{id}");
        }
        let auto = normalise_id("6699", IdStyle::Auto);
        assert_eq!(auto.primary, want);
        assert_eq!(auto.alternate, Some(NormalisedId::from_number(0x6699)));
        assert!(ids_match(
            "0059113978",
            IdStyle::Dec,
            "38601fa",
            IdStyle::Hex
        ));
        assert!(ids_match(
            "0489708364",
            IdStyle::Auto,
            "1d305b4c",
            IdStyle::Hex
        ));
        assert!(ids_match(
            "1891273321",
            IdStyle::Auto,
            "70BA8A69",
            IdStyle::Auto
        ));
        assert!(!ids_match(
            "1891273321",
            IdStyle::Dec,
            "70BA8A68",
            IdStyle::Hex
        ));
        assert!(ids_match(
            "74E02EE1-4E2F-4A6E-A78B-4B247D756A22",
            IdStyle::Auto,
            "74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
            IdStyle::Hex
        ));
    }
}
