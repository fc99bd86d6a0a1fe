//! The 12-octet Sequence Number of every SGIP header (SGIP 1.2 §4.2.1): source node id,
//! time MMDDhhmmss, counter. A Submit's triple is what its Report quotes in
//! SubmitSequenceNumber, so it is the receipt key.

use std::fmt;

/// A sequence triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sequence {
    /// The sender's node id (3 + area code + corp code for an SP, assigned by the carrier).
    pub node_id: u32,
    /// MMDDhhmmss as an integer.
    pub time: u32,
    /// Counter, wrapping.
    pub counter: u32,
}

impl Sequence {
    /// The twelve octets.
    #[must_use]
    pub fn to_bytes(self) -> [u8; 12] {
        let mut out = [0; 12];
        out[..4].copy_from_slice(&self.node_id.to_be_bytes());
        out[4..8].copy_from_slice(&self.time.to_be_bytes());
        out[8..].copy_from_slice(&self.counter.to_be_bytes());
        out
    }

    /// From twelve octets.
    #[must_use]
    pub fn from_bytes(octets: [u8; 12]) -> Self {
        let word = |at: usize| {
            u32::from_be_bytes([octets[at], octets[at + 1], octets[at + 2], octets[at + 3]])
        };
        Self {
            node_id: word(0),
            time: word(4),
            counter: word(8),
        }
    }
}

impl fmt::Display for Sequence {
    /// `node-MMDDhhmmss-counter`, the time with its leading zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:010}-{}", self.node_id, self.time, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octets_and_display() {
        let sequence = Sequence {
            node_id: 3_020_012_345,
            time: 102_030_405,
            counter: 7,
        };
        assert_eq!(Sequence::from_bytes(sequence.to_bytes()), sequence);
        assert_eq!(sequence.to_string(), "3020012345-0102030405-7");
    }
}
