//! GSM 03.38 default alphabet and its extension table (3GPP TS 23.038 §6.2.1), in the two
//! wire forms SMPP peers use: unpacked (one septet per octet, the usual SMPP form) and
//! packed 7-bit (the air-interface form, with fill bits after a UDH).

use super::TextError;

/// The escape septet that introduces a character of the extension table.
pub const ESCAPE: u8 = 0x1B;

/// GSM 03.38 basic table, indexed by septet. 0x1B (ESC) is mapped to a non-breaking space:
/// it is never produced by the encoder and only reached by the decoder for `ESC ESC`.
pub(crate) const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{a0}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// GSM 03.38 extension table: (septet after ESC, character).
pub(crate) const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Marker bit in [`ASCII_TO_GSM`] for "extension table, needs ESC".
const EXT_FLAG: u8 = 0x80;
/// Marker in [`ASCII_TO_GSM`] for "not representable".
const NONE: u8 = 0xFF;

/// ASCII fast path: code point → septet, `EXT_FLAG | septet` for extension characters, or
/// `NONE`. Built at compile time from the two tables above so they cannot disagree.
const ASCII_TO_GSM: [u8; 128] = {
    let mut table = [NONE; 128];
    let mut septet = 0;
    while septet < 128 {
        let c = BASIC[septet] as u32;
        if c < 128 && septet != ESCAPE as usize {
            table[c as usize] = septet as u8;
        }
        septet += 1;
    }
    let mut i = 0;
    while i < EXTENSION.len() {
        let (code, c) = EXTENSION[i];
        if (c as u32) < 128 {
            table[c as usize] = EXT_FLAG | code;
        }
        i += 1;
    }
    table
};

/// How one character is written in GSM 03.38.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsmChar {
    /// One septet of the basic table.
    Basic(u8),
    /// `ESC` followed by this septet of the extension table (costs two septets).
    Extension(u8),
}

impl GsmChar {
    /// Number of septets this character takes (1 or 2).
    #[must_use]
    pub const fn septets(self) -> usize {
        match self {
            Self::Basic(_) => 1,
            Self::Extension(_) => 2,
        }
    }
}

/// Looks a character up in the basic and extension tables.
#[must_use]
pub fn lookup(c: char) -> Option<GsmChar> {
    let code = c as u32;
    if code < 128 {
        let entry = ASCII_TO_GSM[code as usize];
        return match entry {
            NONE => None,
            e if e & EXT_FLAG != 0 => Some(GsmChar::Extension(e & !EXT_FLAG)),
            e => Some(GsmChar::Basic(e)),
        };
    }
    if c == '€' {
        return Some(GsmChar::Extension(0x65));
    }
    // Non-ASCII characters of the basic table: 36 of them, a linear scan over the
    // upper half is cheap and keeps one source of truth.
    BASIC
        .iter()
        .position(|&b| b == c && b != '\u{a0}')
        .map(|septet| GsmChar::Basic(septet as u8))
}

/// Whether `c` can be written in GSM 03.38 (basic or extension table).
#[must_use]
pub fn is_gsm7(c: char) -> bool {
    lookup(c).is_some()
}

/// Number of septets `text` takes in GSM 03.38, or the first character that does not fit.
///
/// # Errors
/// [`TextError::Unrepresentable`] naming the character and its char position.
pub fn septet_count(text: &str) -> Result<usize, TextError> {
    let mut count = 0;
    for (position, c) in text.chars().enumerate() {
        let g = lookup(c).ok_or(TextError::Unrepresentable {
            character: c,
            position,
            encoding: "GSM 03.38",
        })?;
        count += g.septets();
    }
    Ok(count)
}

/// Appends the unpacked septets (one per octet, 0x00–0x7F) of `text` to `out`.
///
/// # Errors
/// [`TextError::Unrepresentable`] on the first character outside the GSM 03.38 basic and
/// extension tables; nothing is silently replaced. `out` may hold a prefix on error.
pub fn encode_unpacked_into(text: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
    out.reserve(text.len());
    for (position, c) in text.chars().enumerate() {
        match lookup(c) {
            Some(GsmChar::Basic(s)) => out.push(s),
            Some(GsmChar::Extension(s)) => out.extend_from_slice(&[ESCAPE, s]),
            None => {
                return Err(TextError::Unrepresentable {
                    character: c,
                    position,
                    encoding: "GSM 03.38",
                });
            }
        }
    }
    Ok(())
}

/// Encodes `text` as unpacked GSM 03.38 septets (one per octet).
///
/// # Errors
/// See [`encode_unpacked_into`].
pub fn encode_unpacked(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    encode_unpacked_into(text, &mut out)?;
    Ok(out)
}

/// Decodes unpacked GSM 03.38 septets, appending to `out`. Total: never fails or panics.
///
/// * An octet ≥ 0x80 is masked to its low 7 bits (some SMSCs set the top bit; a link that
///   really sends Latin-1 for data_coding 0 should be configured as such, see
///   [`super::DefaultAlphabet`]).
/// * `ESC` + a code missing from the extension table decodes as the basic-table character
///   for that code (TS 23.038 §6.2.1.1); `ESC ESC` and a trailing lone `ESC` decode as a
///   space, as the spec asks for the reserved escape-to-another-table code.
pub fn decode_unpacked_into(septets: &[u8], out: &mut String) {
    out.reserve(septets.len());
    let mut iter = septets.iter().map(|&b| b & 0x7F);
    while let Some(s) = iter.next() {
        if s == ESCAPE {
            match iter.next() {
                Some(next) => out.push(extension_char(next)),
                None => out.push(' '),
            }
        } else {
            out.push(BASIC[usize::from(s)]);
        }
    }
}

/// Decodes unpacked GSM 03.38 septets. See [`decode_unpacked_into`].
#[must_use]
pub fn decode_unpacked(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    decode_unpacked_into(septets, &mut out);
    out
}

/// Character for `ESC code`.
fn extension_char(code: u8) -> char {
    if code == ESCAPE {
        return ' ';
    }
    EXTENSION
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(BASIC[usize::from(code & 0x7F)], |(_, ch)| *ch)
}

/// Number of fill bits after a UDH of `udh_octets` octets so that the first septet starts
/// on a septet boundary: `(7 − (8U mod 7)) mod 7` (TS 23.040 §9.2.3.24).
#[must_use]
pub const fn fill_bits(udh_octets: usize) -> usize {
    (7 - (8 * udh_octets) % 7) % 7
}

/// Number of septets a part can carry after a UDH of `udh_octets` octets when packed into
/// the 140-octet user data.
#[must_use]
pub const fn packed_capacity(udh_octets: usize) -> usize {
    if udh_octets == 0 {
        return 160;
    }
    (8 * (140 - udh_octets) - fill_bits(udh_octets)) / 7
}

/// Packs septets (values 0x00–0x7F; the top bit is ignored) LSB first, starting after
/// `fill` zero bits, appending to `out`.
///
/// When the last octet would end with 7 unused bits, they are set to `CR` (0x0D) as TS
/// 23.038 §6.1.2.3.1 asks, so that a receiver does not read a spurious `@`;
/// [`unpack_septets`] drops that padding again when it is not told the septet count.
pub fn pack_septets_into(septets: &[u8], fill: usize, out: &mut Vec<u8>) {
    let total_bits = fill + 7 * septets.len();
    let start = out.len();
    out.resize(start + total_bits.div_ceil(8), 0);
    let buf = &mut out[start..];
    let mut bit = fill;
    for &s in septets {
        put_septet(buf, bit, s & 0x7F);
        bit += 7;
    }
    if total_bits % 8 == 1 && !septets.is_empty() {
        // 7 spare bits left in the last octet.
        put_septet(buf, bit, 0x0D);
    }
}

/// Writes one septet at bit offset `bit`.
fn put_septet(buf: &mut [u8], bit: usize, s: u8) {
    let (index, shift) = (bit / 8, bit % 8);
    buf[index] |= s << shift;
    if shift > 1 {
        buf[index + 1] |= s >> (8 - shift);
    }
}

/// Packs septets. See [`pack_septets_into`].
#[must_use]
pub fn pack_septets(septets: &[u8], fill: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((fill + 7 * septets.len()).div_ceil(8));
    pack_septets_into(septets, fill, &mut out);
    out
}

/// Unpacks packed 7-bit data that starts after `fill` bits into one septet per octet.
///
/// `septets` is the septet count when the caller knows it (the air interface's UDL; our
/// splitter reports it per part). SMPP's `sm_length` counts octets, so without it the
/// count is derived from the octet count and the spec's receiver rule applies: when the
/// septets end exactly on the last octet boundary and the last one is `CR`, that `CR` is
/// the padding of 7 spare bits and is dropped (TS 23.038 §6.1.2.3.1). A message that
/// really ends in `CR` on an octet boundary is therefore ambiguous on the SMPP wire; pass
/// the count when you have it. Total: never panics.
#[must_use]
pub fn unpack_septets(octets: &[u8], fill: usize, septets: Option<usize>) -> Vec<u8> {
    let total_bits = 8 * octets.len();
    if total_bits <= fill {
        return Vec::new();
    }
    let available = (total_bits - fill) / 7;
    let count = septets.map_or(available, |n| n.min(available));
    let mut out = Vec::with_capacity(count);
    let mut bit = fill;
    for _ in 0..count {
        let (index, shift) = (bit / 8, bit % 8);
        let mut s = octets[index] >> shift;
        if shift > 1 {
            s |= octets[index + 1] << (8 - shift);
        }
        out.push(s & 0x7F);
        bit += 7;
    }
    if septets.is_none() && (total_bits - fill) % 7 == 0 && out.last() == Some(&0x0D) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_extension_round_trip() {
        for (septet, &c) in BASIC.iter().enumerate() {
            if septet == usize::from(ESCAPE) {
                continue;
            }
            assert_eq!(lookup(c), Some(GsmChar::Basic(septet as u8)), "{c:?}");
        }
        for &(code, c) in &EXTENSION {
            assert_eq!(lookup(c), Some(GsmChar::Extension(code)));
        }
        assert_eq!(lookup('`'), None);
        assert_eq!(lookup('\u{a0}'), None);
    }

    #[test]
    fn fill_bits_and_capacities() {
        assert_eq!(fill_bits(6), 1);
        assert_eq!(fill_bits(7), 0);
        assert_eq!(packed_capacity(0), 160);
        assert_eq!(packed_capacity(6), 153);
        assert_eq!(packed_capacity(7), 152);
    }

    #[test]
    fn pack_hello() {
        // "hellohello" → E8 32 9B FD 46 97 D9 EC 37 (TS 23.038 worked example).
        let septets = encode_unpacked("hellohello").unwrap();
        assert_eq!(
            pack_septets(&septets, 0),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(unpack_septets(&pack_septets(&septets, 0), 0, None), septets);
    }

    #[test]
    fn seven_septets_get_cr_padding() {
        let septets = encode_unpacked("1234567").unwrap();
        let packed = pack_septets(&septets, 0);
        assert_eq!(packed.len(), 7);
        assert_eq!(packed[6] >> 1, 0x0D);
        assert_eq!(unpack_septets(&packed, 0, None), septets);
        assert_eq!(unpack_septets(&packed, 0, Some(7)), septets);
    }
}
