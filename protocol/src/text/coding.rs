//! data_coding values, the per-link meaning of data_coding 0, and whole-message encode /
//! decode with coding selection (SMPP 3.4 §5.2.19, GSM 03.38 DCS groups).

use super::national::ShiftTables;
use super::udh::{Udh, UdhError};
use super::{TextError, gsm7, latin1, ucs2};

/// What data_coding 0 ("SMSC default alphabet") means on a link. SMSC-specific, so it is a
/// per-link setting (reference §7.4: some SMSCs treat 0 as Latin-1 or ASCII).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultAlphabet {
    /// GSM 03.38 (the usual case).
    #[default]
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
}

/// Per-link text settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextConfig {
    /// What data_coding 0 means.
    pub default_alphabet: DefaultAlphabet,
    /// Whether GSM 7-bit text travels packed (8 septets in 7 octets) instead of the usual
    /// SMPP form of one septet per octet.
    pub packed_gsm7: bool,
}

/// A concrete character encoding on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 default alphabet + extension table (unpacked or packed per [`TextConfig`]).
    Gsm7,
    /// UCS-2 / UTF-16 big-endian.
    Ucs2,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
    /// Octets that are not text (8-bit binary, and data_coding values we do not decode).
    Binary,
}

impl Encoding {
    /// Short lower-case name (`gsm7`, `ucs2`, `latin1`, `ascii`, `binary`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Gsm7 => "gsm7",
            Self::Ucs2 => "ucs2",
            Self::Latin1 => "latin1",
            Self::Ascii => "ascii",
            Self::Binary => "binary",
        }
    }
}

/// The coding a caller asks for when sending text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coding {
    /// The link's data_coding 0 alphabet when every character fits both it and GSM 03.38
    /// (so the SMSC can convert it losslessly), else UCS-2. On a GSM link: GSM 7-bit when
    /// every character is in the basic or extension table, else UCS-2.
    #[default]
    Auto,
    /// GSM 03.38; an unrepresentable character is an error.
    Gsm7,
    /// UCS-2 / UTF-16BE.
    Ucs2,
    /// Latin-1; an unrepresentable character is an error.
    Latin1,
    /// ASCII; an unrepresentable character is an error.
    Ascii,
}

/// Which encoding a received data_coding value means.
///
/// 0 follows the link's [`DefaultAlphabet`]; 1 ASCII; 3 Latin-1; 8 UCS-2; 2 and 4 binary.
/// Raw GSM DCS values some SMSCs pass through are honoured: the general data coding groups
/// 0x10–0x1F and 0x50–0x5F (uncompressed, with class) by their alphabet bits, 0xC0–0xDF GSM 7-bit, 0xE0–0xEF UCS-2,
/// 0xF0–0xFF bit 2. Everything else (JIS, Cyrillic, Hebrew, KS C 5601, reserved, compressed)
/// is returned as [`Encoding::Binary`] for the caller to handle.
#[must_use]
pub const fn encoding_for_data_coding(data_coding: u8, default: DefaultAlphabet) -> Encoding {
    match data_coding {
        0x00 => match default {
            DefaultAlphabet::Gsm7 => Encoding::Gsm7,
            DefaultAlphabet::Latin1 => Encoding::Latin1,
            DefaultAlphabet::Ascii => Encoding::Ascii,
        },
        0x01 => Encoding::Ascii,
        0x03 => Encoding::Latin1,
        0x08 | 0xE0..=0xEF => Encoding::Ucs2,
        // General data coding and automatic-deletion groups with a message class and no
        // compression (00x1 xxxx with bit 5 clear, 0101 xxxx): bits 3-2 give the alphabet.
        0x10..=0x1F | 0x50..=0x5F => match (data_coding >> 2) & 0x03 {
            0 => Encoding::Gsm7,
            2 => Encoding::Ucs2,
            _ => Encoding::Binary,
        },
        0xC0..=0xDF => Encoding::Gsm7,
        0xF0..=0xFF if data_coding & 0x04 == 0 => Encoding::Gsm7,
        _ => Encoding::Binary,
    }
}

/// The data_coding value to send for `encoding` on a link whose data_coding 0 is `default`.
/// An encoding equal to the link's default alphabet is sent as 0.
#[must_use]
pub const fn data_coding_for(encoding: Encoding, default: DefaultAlphabet) -> u8 {
    match (encoding, default) {
        (Encoding::Gsm7, _)
        | (Encoding::Latin1, DefaultAlphabet::Latin1)
        | (Encoding::Ascii, DefaultAlphabet::Ascii) => 0,
        (Encoding::Ucs2, _) => 8,
        (Encoding::Latin1, _) => 3,
        (Encoding::Ascii, _) => 1,
        (Encoding::Binary, _) => 4,
    }
}

/// Resolves a requested [`Coding`] for `text` to a concrete [`Encoding`], checking that
/// every character fits when the coding is forced.
///
/// # Errors
/// [`TextError::Unrepresentable`] naming the first character (and its position) that the
/// forced coding cannot carry.
pub fn resolve_coding(
    text: &str,
    coding: Coding,
    default: DefaultAlphabet,
) -> Result<Encoding, TextError> {
    let check = |encoding: Encoding| -> Result<Encoding, TextError> {
        match first_unrepresentable(text, encoding) {
            Some((position, character)) => Err(TextError::Unrepresentable {
                character,
                position,
                encoding: encoding_label(encoding),
            }),
            None => Ok(encoding),
        }
    };
    match coding {
        Coding::Auto => {
            let link = encoding_for_data_coding(0, default);
            let fits = text
                .chars()
                .all(|c| gsm7::is_gsm7(c) && fits_encoding(c, link));
            Ok(if fits { link } else { Encoding::Ucs2 })
        }
        Coding::Gsm7 => check(Encoding::Gsm7),
        Coding::Ucs2 => Ok(Encoding::Ucs2),
        Coding::Latin1 => check(Encoding::Latin1),
        Coding::Ascii => check(Encoding::Ascii),
    }
}

/// Human name used in errors.
const fn encoding_label(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Gsm7 => "GSM 03.38",
        Encoding::Ucs2 => "UCS-2",
        Encoding::Latin1 => "Latin-1",
        Encoding::Ascii => "ASCII",
        Encoding::Binary => "binary",
    }
}

/// Whether one character can be written in `encoding`.
#[must_use]
pub fn fits_encoding(c: char, encoding: Encoding) -> bool {
    match encoding {
        Encoding::Gsm7 => gsm7::is_gsm7(c),
        Encoding::Ucs2 => true,
        Encoding::Latin1 => u32::from(c) <= 0xFF,
        Encoding::Ascii => c.is_ascii(),
        Encoding::Binary => false,
    }
}

/// Position and value of the first character of `text` that `encoding` cannot carry.
fn first_unrepresentable(text: &str, encoding: Encoding) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|&(_, c)| !fits_encoding(c, encoding))
}

/// Cost of one character in the units [`super::split`] counts: septets for GSM 7-bit,
/// UTF-16 code units for UCS-2, octets for Latin-1 and ASCII.
#[must_use]
pub fn char_units(c: char, encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7 => gsm7::lookup(c).map_or(1, gsm7::GsmChar::septets),
        Encoding::Ucs2 => ucs2::units(c),
        Encoding::Latin1 | Encoding::Ascii | Encoding::Binary => 1,
    }
}

/// Appends `text` encoded in `encoding` to `out` (unpacked for GSM 7-bit).
///
/// # Errors
/// [`TextError::Unrepresentable`] for a character `encoding` cannot carry;
/// [`TextError::NotText`] for [`Encoding::Binary`].
pub fn encode_into(text: &str, encoding: Encoding, out: &mut Vec<u8>) -> Result<(), TextError> {
    match encoding {
        Encoding::Gsm7 => gsm7::encode_unpacked_into(text, out),
        Encoding::Ucs2 => {
            ucs2::encode_into(text, out);
            Ok(())
        }
        Encoding::Latin1 => latin1::encode_into(text, out),
        Encoding::Ascii => latin1::encode_ascii_into(text, out),
        Encoding::Binary => Err(TextError::NotText),
    }
}

/// Text encoded for one PDU, with the data_coding to send it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// data_coding to put in the PDU.
    pub data_coding: u8,
    /// The encoding chosen.
    pub encoding: Encoding,
    /// The short_message / message_payload octets (packed when the link packs GSM 7-bit).
    pub octets: Vec<u8>,
}

/// Encodes a whole message (no splitting; see [`super::split`] for that).
///
/// # Errors
/// [`TextError::Unrepresentable`] when a forced coding cannot carry a character.
pub fn encode(text: &str, coding: Coding, config: TextConfig) -> Result<Encoded, TextError> {
    let encoding = resolve_coding(text, coding, config.default_alphabet)?;
    let mut octets = Vec::with_capacity(text.len());
    encode_into(text, encoding, &mut octets)?;
    if encoding == Encoding::Gsm7 && config.packed_gsm7 {
        octets = gsm7::pack_septets(&octets, 0);
    }
    Ok(Encoded {
        data_coding: data_coding_for(encoding, config.default_alphabet),
        encoding,
        octets,
    })
}

/// Decodes the text of a short_message or message_payload (after any UDH).
///
/// `udh_octets` is the length of the UDH that preceded `payload` (0 when none): packed
/// GSM 7-bit starts after fill bits that depend on it. Total: never fails; binary and
/// unknown codings are shown as Latin-1 so nothing is lost silently.
#[must_use]
pub fn decode(data_coding: u8, payload: &[u8], udh_octets: usize, config: TextConfig) -> String {
    match encoding_for_data_coding(data_coding, config.default_alphabet) {
        Encoding::Gsm7 if config.packed_gsm7 => {
            let septets = gsm7::unpack_septets(payload, gsm7::fill_bits(udh_octets), None);
            gsm7::decode_unpacked(&septets)
        }
        Encoding::Gsm7 => gsm7::decode_unpacked(payload),
        Encoding::Ucs2 => ucs2::decode(payload),
        Encoding::Ascii => latin1::decode_ascii(payload),
        Encoding::Latin1 | Encoding::Binary => latin1::decode(payload),
    }
}

/// Decodes a received short_message (or message_payload) as a whole: when esm_class has
/// UDHI (0x40) the UDH is parsed and skipped, national language shift tables it announces
/// (IEs 0x24 / 0x25) are applied, and packed GSM 7-bit starts after the UDH's fill bits.
///
/// # Errors
/// [`UdhError`] when UDHI is set and the UDH is malformed.
pub fn decode_user_data(
    data_coding: u8,
    esm_class: u8,
    user_data: &[u8],
    config: TextConfig,
) -> Result<String, UdhError> {
    let (udh, payload) = if esm_class & 0x40 != 0 {
        let (udh, payload) = Udh::split(user_data)?;
        (Some(udh), payload)
    } else {
        (None, user_data)
    };
    let udh_octets = udh.map_or(0, |u| u.len());
    let tables = udh.map_or(ShiftTables::DEFAULT, |u| ShiftTables::from_udh(&u));
    let gsm = encoding_for_data_coding(data_coding, config.default_alphabet) == Encoding::Gsm7;
    if !gsm || tables.is_default() {
        return Ok(decode(data_coding, payload, udh_octets, config));
    }
    let septets = if config.packed_gsm7 {
        std::borrow::Cow::Owned(gsm7::unpack_septets(
            payload,
            gsm7::fill_bits(udh_octets),
            None,
        ))
    } else {
        std::borrow::Cow::Borrowed(payload)
    };
    Ok(tables.decode(&septets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_coding_table() {
        let g = DefaultAlphabet::Gsm7;
        assert_eq!(encoding_for_data_coding(0, g), Encoding::Gsm7);
        assert_eq!(
            encoding_for_data_coding(0, DefaultAlphabet::Latin1),
            Encoding::Latin1
        );
        assert_eq!(encoding_for_data_coding(1, g), Encoding::Ascii);
        assert_eq!(encoding_for_data_coding(2, g), Encoding::Binary);
        assert_eq!(encoding_for_data_coding(3, g), Encoding::Latin1);
        assert_eq!(encoding_for_data_coding(4, g), Encoding::Binary);
        assert_eq!(encoding_for_data_coding(8, g), Encoding::Ucs2);
        assert_eq!(encoding_for_data_coding(0x10, g), Encoding::Gsm7);
        assert_eq!(encoding_for_data_coding(0x18, g), Encoding::Ucs2);
        assert_eq!(encoding_for_data_coding(0x14, g), Encoding::Binary);
        assert_eq!(encoding_for_data_coding(0x30, g), Encoding::Binary);
        assert_eq!(encoding_for_data_coding(0xF2, g), Encoding::Gsm7);
        assert_eq!(encoding_for_data_coding(0xF5, g), Encoding::Binary);
        assert_eq!(encoding_for_data_coding(0x0F, g), Encoding::Binary);
    }

    #[test]
    fn auto_picks_gsm_or_ucs2() {
        let g = DefaultAlphabet::Gsm7;
        assert_eq!(
            resolve_coding("Hi €[]", Coding::Auto, g),
            Ok(Encoding::Gsm7)
        );
        assert_eq!(resolve_coding("Hi ç", Coding::Auto, g), Ok(Encoding::Ucs2));
        assert_eq!(
            resolve_coding("Hi", Coding::Auto, DefaultAlphabet::Latin1),
            Ok(Encoding::Latin1)
        );
        assert_eq!(
            resolve_coding("€", Coding::Auto, DefaultAlphabet::Latin1),
            Ok(Encoding::Ucs2)
        );
        assert_eq!(
            resolve_coding("ab中", Coding::Gsm7, g),
            Err(TextError::Unrepresentable {
                character: '中',
                position: 2,
                encoding: "GSM 03.38"
            })
        );
    }
}
