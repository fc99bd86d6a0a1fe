//! ISO-8859-1 (data_coding 3) and IA5 / ASCII (data_coding 1).

use super::TextError;

/// Appends `text` as Latin-1 octets to `out`.
///
/// # Errors
/// [`TextError::Unrepresentable`] on the first character above U+00FF.
pub fn encode_into(text: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
    encode_limited(text, 0xFF, "Latin-1", out)
}

/// Encodes `text` as Latin-1.
///
/// # Errors
/// See [`encode_into`].
pub fn encode(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    encode_into(text, &mut out)?;
    Ok(out)
}

/// Decodes Latin-1 (every octet is a character; total).
#[must_use]
pub fn decode(octets: &[u8]) -> String {
    octets.iter().map(|&b| char::from(b)).collect()
}

/// Appends `text` as ASCII octets to `out`.
///
/// # Errors
/// [`TextError::Unrepresentable`] on the first character above U+007F.
pub fn encode_ascii_into(text: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
    encode_limited(text, 0x7F, "ASCII", out)
}

/// Encodes `text` as ASCII.
///
/// # Errors
/// See [`encode_ascii_into`].
pub fn encode_ascii(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    encode_ascii_into(text, &mut out)?;
    Ok(out)
}

/// Decodes IA5 / ASCII. Total: an octet ≥ 0x80 becomes U+FFFD.
#[must_use]
pub fn decode_ascii(octets: &[u8]) -> String {
    octets
        .iter()
        .map(|&b| {
            if b.is_ascii() {
                char::from(b)
            } else {
                char::REPLACEMENT_CHARACTER
            }
        })
        .collect()
}

/// Shared strict encoder for the one-octet-per-character alphabets.
fn encode_limited(
    text: &str,
    max: u32,
    encoding: &'static str,
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    out.reserve(text.len());
    for (position, c) in text.chars().enumerate() {
        match u8::try_from(u32::from(c)) {
            Ok(b) if u32::from(b) <= max => out.push(b),
            _ => {
                return Err(TextError::Unrepresentable {
                    character: c,
                    position,
                    encoding,
                });
            }
        }
    }
    Ok(())
}
