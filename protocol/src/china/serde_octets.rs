//! JSON shapes for octet fields (feature `serde`, used by `smppgate pdu`): text fields as
//! Latin-1 strings (every octet one character, so any octets survive the round trip, as
//! SMPP C-strings do in `pdu decode`), message bodies and authenticators as hex.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serializer};

/// `Bytes` as a Latin-1 string.
pub mod latin1 {
    use super::{Bytes, Deserialize, Deserializer, Serializer};

    /// Serializes.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(value: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        let text: String = value.iter().map(|b| char::from(*b)).collect();
        serializer.serialize_str(&text)
    }

    /// Deserializes; a character above U+00FF is an error.
    ///
    /// # Errors
    /// Not a string, or not Latin-1.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::latin1_octets(&text)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// `Vec<Bytes>` as a list of Latin-1 strings.
pub mod latin1_list {
    use super::{Bytes, Deserialize, Deserializer, Serializer};
    use serde::ser::SerializeSeq;

    /// Serializes.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(value: &[Bytes], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(value.len()))?;
        for item in value {
            let text: String = item.iter().map(|b| char::from(*b)).collect();
            seq.serialize_element(&text)?;
        }
        seq.end()
    }

    /// Deserializes.
    ///
    /// # Errors
    /// Not a list of Latin-1 strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Bytes>, D::Error> {
        let items = Vec::<String>::deserialize(deserializer)?;
        items
            .iter()
            .map(|text| {
                super::latin1_octets(text)
                    .map(Bytes::from)
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

fn latin1_octets(text: &str) -> Result<Vec<u8>, String> {
    text.chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .map_err(|_| format!("character {c:?} is not Latin-1 (one octet)"))
        })
        .collect()
}

/// `Bytes` as hex.
pub mod hex_bytes {
    use super::{Bytes, Deserialize, Deserializer, Serializer};

    /// Serializes.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(value: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::to_hex(value))
    }

    /// Deserializes.
    ///
    /// # Errors
    /// Not a string of hex digit pairs.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::from_hex(&text)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// `[u8; N]` as hex of exactly `2 N` digits.
pub mod hex_array {
    use super::{Deserialize, Deserializer, Serializer};

    /// Serializes.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer, const N: usize>(
        value: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::to_hex(value))
    }

    /// Deserializes.
    ///
    /// # Errors
    /// Not hex, or not `N` octets.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(deserializer)?;
        let octets = super::from_hex(&text).map_err(serde::de::Error::custom)?;
        <[u8; N]>::try_from(octets.as_slice()).map_err(|_| {
            serde::de::Error::custom(format!(
                "{} octets of hex where {N} are needed",
                octets.len()
            ))
        })
    }
}

fn to_hex(octets: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(octets.len() * 2);
    for b in octets {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    out
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).map_err(|_| "not hex".to_owned())?;
            u8::from_str_radix(text, 16).map_err(|_| format!("{text:?} is not a hex octet"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(to_hex(&[0, 0xAB, 0x10]), "00ab10");
        assert_eq!(from_hex("00ab10").unwrap(), [0, 0xAB, 0x10]);
        assert!(from_hex("0").is_err());
        assert!(from_hex("zz").is_err());
    }
}
