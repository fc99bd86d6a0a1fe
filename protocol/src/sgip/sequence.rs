//! The 12-octet Sequence Number of every SGIP header (SGIP 1.2 §4.2.1): source node id,
//! time MMDDhhmmss, counter. A Submit's triple is what its Report quotes in
//! SubmitSequenceNumber, so it is the receipt key.

use std::fmt;

/// A sequence triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
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

/// Hands out the sequence triples of one sender: its node id, the caller's wall clock as
/// MMDDhhmmss (this crate has no clock), and a counter that wraps. The counter never
/// restarts while the sequencer lives, so a link that is re-bound keeps numbering on and
/// the triples of two Submits in the same second never meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequencer {
    node_id: u32,
    counter: u32,
}

impl Sequencer {
    /// A sequencer for `node_id` whose first counter is 1.
    #[must_use]
    pub const fn new(node_id: u32) -> Self {
        Self {
            node_id,
            counter: 0,
        }
    }

    /// A sequencer for `node_id` whose first counter is `after + 1`: to go on from where
    /// another left off, or to give each of several links of one node its own range.
    #[must_use]
    pub const fn resume(node_id: u32, after: u32) -> Self {
        Self {
            node_id,
            counter: after,
        }
    }

    /// The node id written into every triple.
    #[must_use]
    pub const fn node_id(&self) -> u32 {
        self.node_id
    }

    /// The next triple, stamped with `time` (MMDDhhmmss, see
    /// [`crate::china::auth::timestamp`]).
    pub const fn next(&mut self, time: u32) -> Sequence {
        self.counter = self.counter.wrapping_add(1);
        Sequence {
            node_id: self.node_id,
            time,
            counter: self.counter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_sequencer_goes_on_after_the_given_counter() {
        let mut sequencer = Sequencer::resume(7, 1 << 22);
        assert_eq!(sequencer.next(1).counter, (1 << 22) + 1);
        let mut wrapped = Sequencer::resume(7, u32::MAX);
        assert_eq!(wrapped.next(1).counter, 0);
    }

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

    #[test]
    fn sequencer_counts_on_with_the_time_given() {
        let mut sequencer = Sequencer::new(3_020_012_345);
        let first = sequencer.next(1_206_071_900);
        let second = sequencer.next(1_206_071_901);
        assert_eq!(
            (first.node_id, first.time, first.counter),
            (3_020_012_345, 1_206_071_900, 1)
        );
        assert_eq!((second.time, second.counter), (1_206_071_901, 2));
    }
}
