//! The 10-octet MsgID (SMGP 3.0 §5.2.3): SMGW code (3 octets, BCD), time MMDDHHMM (4,
//! BCD), sequence (3, BCD). Shown as 20 hex digits, which for BCD reads as the decimal
//! digits; matched on all ten octets.

use std::fmt;

/// An SMGP MsgID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct MsgId(
    /// The ten octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_array")
    )]
    pub [u8; 10],
);

impl MsgId {
    /// SMGW code: the 6 digits of the first three octets.
    #[must_use]
    pub fn gateway(&self) -> String {
        digits(&self.0[..3])
    }

    /// MMDDHHMM: the 8 digits of octets 4–7.
    #[must_use]
    pub fn time(&self) -> String {
        digits(&self.0[3..7])
    }

    /// Sequence: the 6 digits of the last three octets.
    #[must_use]
    pub fn sequence(&self) -> String {
        digits(&self.0[7..])
    }

    /// Parses 20 hex digits.
    #[must_use]
    pub fn from_hex(text: &[u8]) -> Option<Self> {
        if text.len() != 20 {
            return None;
        }
        let mut out = [0u8; 10];
        for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            // Two hex digits: at most 0xFF.
            *slot = u8::try_from(high * 16 + low).ok()?;
        }
        Some(Self(out))
    }
}

fn digits(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for MsgId {
    /// 20 hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&digits(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_parts() {
        let id = MsgId([0x59, 0x01, 0x23, 0x12, 0x06, 0x07, 0x19, 0x00, 0x00, 0x42]);
        assert_eq!(id.gateway(), "590123");
        assert_eq!(id.time(), "12060719");
        assert_eq!(id.sequence(), "000042");
        assert_eq!(id.to_string(), "59012312060719000042");
        assert_eq!(MsgId::from_hex(b"59012312060719000042"), Some(id));
        assert_eq!(MsgId::from_hex(b"5901231206071900004"), None);
        assert_eq!(MsgId::from_hex(b"5901231206071900004g"), None);
    }
}
