//! UCS-2 / UTF-16BE (data_coding 8). Characters outside the BMP are written as surrogate
//! pairs: handsets decode UTF-16 even though SMPP 3.4 says UCS-2.

/// Number of UTF-16 code units `c` takes (1, or 2 for a surrogate pair).
#[must_use]
pub const fn units(c: char) -> usize {
    c.len_utf16()
}

/// Appends `text` as UTF-16 big-endian to `out`. Every Rust string is representable.
pub fn encode_into(text: &str, out: &mut Vec<u8>) {
    out.reserve(2 * text.len());
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Encodes `text` as UTF-16 big-endian.
#[must_use]
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * text.len());
    encode_into(text, &mut out);
    out
}

/// Decodes UTF-16 big-endian, appending to `out`. Total: a lone surrogate or an odd final
/// octet becomes U+FFFD (never an error, never a panic).
pub fn decode_into(octets: &[u8], out: &mut String) {
    out.reserve(octets.len());
    let units = octets.chunks(2).map(|pair| match *pair {
        [hi, lo] => u16::from_be_bytes([hi, lo]),
        // Odd length: a unit that is not a character, so it decodes to U+FFFD.
        _ => 0xDC00,
    });
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
}

/// Decodes UTF-16 big-endian. See [`decode_into`].
#[must_use]
pub fn decode(octets: &[u8]) -> String {
    let mut out = String::with_capacity(octets.len());
    decode_into(octets, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pair() {
        assert_eq!(encode("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]), "😀");
        assert_eq!(decode(&[0xD8, 0x3D]), "\u{fffd}");
        assert_eq!(decode(&[0x00, 0x41, 0x00]), "A\u{fffd}");
    }
}
