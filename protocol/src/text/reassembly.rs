//! Reassembly of concatenated parts received as UDH (8- or 16-bit reference) or SAR TLVs.
//!
//! Sans-IO and bounded: time comes in as `now_ms`, the number of open messages and the
//! octets held are capped, and every part is accounted for in [`ReassemblyStats`].
//! Messages are keyed by (source, destination, reference width, reference, total) as
//! TS 23.040 §9.2.3.24.1 asks.

use std::collections::BTreeMap;

use thiserror::Error;

use super::udh::{Concat, Udh, UdhError};

/// What happens to a message whose parts did not all arrive within the TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryPolicy {
    /// Discard what arrived (counted in [`ReassemblyStats::expired_dropped`]).
    #[default]
    Drop,
    /// Hand what arrived to the caller, marked incomplete.
    DeliverIncomplete,
}

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Most messages waiting for parts at once.
    pub max_open: usize,
    /// Most payload octets held across all open messages.
    pub max_octets: usize,
    /// How long a message may wait for its parts, from its first part, in milliseconds.
    pub ttl_ms: u64,
    /// What to do on expiry.
    pub on_expiry: ExpiryPolicy,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            max_open: 10_000,
            max_octets: 16 * 1024 * 1024,
            ttl_ms: 300_000,
            on_expiry: ExpiryPolicy::Drop,
        }
    }
}

/// One received part, borrowed from the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// source_addr of the PDU.
    pub source: &'a str,
    /// destination_addr of the PDU.
    pub destination: &'a str,
    /// Reference, total and sequence number.
    pub concat: Concat,
    /// Payload after the UDH.
    pub payload: &'a [u8],
    /// Length of the UDH the payload followed (0 for SAR); needed to unpack packed GSM.
    pub udh_octets: usize,
}

impl<'a> Segment<'a> {
    /// The segment carried by user data with a UDH (esm_class UDHI set), or `None` when the
    /// UDH has no concatenation element (a single message with, say, port numbers).
    ///
    /// # Errors
    /// [`UdhError`] when the UDH is malformed.
    pub fn from_udh(
        source: &'a str,
        destination: &'a str,
        user_data: &'a [u8],
    ) -> Result<Option<Self>, UdhError> {
        let (udh, payload) = Udh::split(user_data)?;
        Ok(udh.concat().map(|concat| Self {
            source,
            destination,
            concat,
            payload,
            udh_octets: udh.len(),
        }))
    }

    /// The segment described by the SAR TLVs.
    #[must_use]
    pub const fn from_sar(
        source: &'a str,
        destination: &'a str,
        msg_ref_num: u16,
        total_segments: u8,
        segment_seqnum: u8,
        payload: &'a [u8],
    ) -> Self {
        Self {
            source,
            destination,
            concat: Concat {
                reference: msg_ref_num,
                wide_reference: true,
                total: total_segments,
                seq: segment_seqnum,
            },
            payload,
            udh_octets: 0,
        }
    }
}

/// Why a part was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// Sequence number 0 or above the total: TS 23.040 says to ignore the element.
    #[error("part number {seq} is outside 1..={total}")]
    InvalidSequence {
        /// The part number.
        seq: u8,
        /// The announced total.
        total: u8,
    },
    /// An open message with the same source, destination and reference announced a
    /// different number of parts.
    #[error(
        "part announces {got} parts but earlier parts of reference {reference} announced {expected}"
    )]
    TotalMismatch {
        /// The reference.
        reference: u16,
        /// Total of the open message.
        expected: u8,
        /// Total of this part.
        got: u8,
    },
    /// The limit on open messages is reached.
    #[error("{max} messages already waiting for parts")]
    TooManyOpen {
        /// The limit.
        max: usize,
    },
    /// The limit on octets held is reached.
    #[error("holding this part would exceed {max} octets")]
    TooManyOctets {
        /// The limit.
        max: usize,
    },
}

/// What [`Reassembler::push`] did with a part.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum PushOutcome {
    /// The message is complete (all parts, in order).
    Complete(ReassembledMessage),
    /// Stored; more parts are awaited.
    Stored {
        /// Parts held so far.
        received: u8,
        /// Parts announced.
        total: u8,
    },
    /// A part already held arrived again; the first copy is kept.
    Duplicate,
}

/// A reassembled (or, on expiry, partial) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassembledMessage {
    /// source_addr.
    pub source: String,
    /// destination_addr.
    pub destination: String,
    /// Reference and total (`seq` is the last part received).
    pub concat: Concat,
    /// Payload of each part in order; an empty vector where a part is missing.
    pub parts: Vec<Vec<u8>>,
    /// UDH length each part followed (0 for missing parts and SAR).
    pub udh_octets: Vec<usize>,
    /// Part numbers that never arrived (empty when complete).
    pub missing: Vec<u8>,
}

impl ReassembledMessage {
    /// Whether every part arrived.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The payloads joined in order. For unpacked GSM, UCS-2 and 8-bit data decode this
    /// (it also mends a surrogate pair some senders split across parts); packed GSM must
    /// be unpacked part by part instead.
    #[must_use]
    pub fn concatenated(&self) -> Vec<u8> {
        self.parts.concat()
    }
}

/// Counters; all monotonic except `open` and `octets_held`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblyStats {
    /// Parts offered to [`Reassembler::push`].
    pub parts_received: u64,
    /// Messages completed.
    pub completed: u64,
    /// Duplicate parts ignored.
    pub duplicates: u64,
    /// Parts with seq 0 or seq > total.
    pub invalid_sequence: u64,
    /// Parts whose total disagreed with an open message.
    pub total_mismatches: u64,
    /// Parts refused because a limit was reached.
    pub rejected_full: u64,
    /// Expired messages discarded.
    pub expired_dropped: u64,
    /// Expired messages delivered incomplete.
    pub expired_delivered: u64,
    /// Messages waiting now.
    pub open: usize,
    /// Payload octets held now.
    pub octets_held: usize,
}

/// Key of an open message; `total` last so that one range query finds the same reference
/// with another total.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    source: Box<str>,
    destination: Box<str>,
    wide: bool,
    reference: u16,
    total: u8,
}

/// An open message.
#[derive(Debug)]
struct Pending {
    first_seen_ms: u64,
    parts: Vec<Option<(Vec<u8>, usize)>>,
    received: u8,
    octets: usize,
}

/// Collects parts until messages are complete. Bounded; see [`ReassemblyConfig`].
#[derive(Debug, Default)]
pub struct Reassembler {
    config: ReassemblyConfig,
    open: BTreeMap<Key, Pending>,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// An empty reassembler with these limits.
    #[must_use]
    pub fn new(config: ReassemblyConfig) -> Self {
        Self {
            config,
            open: BTreeMap::new(),
            stats: ReassemblyStats::default(),
        }
    }

    /// Current counters.
    #[must_use]
    pub const fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Offers one part received at `now_ms`.
    ///
    /// # Errors
    /// [`ReassemblyError`] when the part is invalid or a limit is reached; the part is not
    /// stored, nothing else changes, and the caller decides (e.g. deliver it on its own).
    pub fn push(
        &mut self,
        segment: &Segment<'_>,
        now_ms: u64,
    ) -> Result<PushOutcome, ReassemblyError> {
        self.stats.parts_received += 1;
        let Concat {
            reference,
            wide_reference,
            total,
            seq,
        } = segment.concat;
        if seq == 0 || seq > total {
            self.stats.invalid_sequence += 1;
            return Err(ReassemblyError::InvalidSequence { seq, total });
        }
        let key = Key {
            source: segment.source.into(),
            destination: segment.destination.into(),
            wide: wide_reference,
            reference,
            total,
        };
        if !self.open.contains_key(&key) {
            if let Some(expected) = self.other_total(&key) {
                self.stats.total_mismatches += 1;
                return Err(ReassemblyError::TotalMismatch {
                    reference,
                    expected,
                    got: total,
                });
            }
            if total == 1 {
                self.stats.completed += 1;
                return Ok(PushOutcome::Complete(ReassembledMessage {
                    source: segment.source.to_owned(),
                    destination: segment.destination.to_owned(),
                    concat: segment.concat,
                    parts: vec![segment.payload.to_vec()],
                    udh_octets: vec![segment.udh_octets],
                    missing: Vec::new(),
                }));
            }
            if self.open.len() >= self.config.max_open {
                self.stats.rejected_full += 1;
                return Err(ReassemblyError::TooManyOpen {
                    max: self.config.max_open,
                });
            }
        }
        if self.stats.octets_held + segment.payload.len() > self.config.max_octets {
            self.stats.rejected_full += 1;
            return Err(ReassemblyError::TooManyOctets {
                max: self.config.max_octets,
            });
        }
        let pending = self.open.entry(key.clone()).or_insert_with(|| Pending {
            first_seen_ms: now_ms,
            parts: vec![None; usize::from(total)],
            received: 0,
            octets: 0,
        });
        let slot = &mut pending.parts[usize::from(seq - 1)];
        if slot.is_some() {
            self.stats.duplicates += 1;
            return Ok(PushOutcome::Duplicate);
        }
        *slot = Some((segment.payload.to_vec(), segment.udh_octets));
        pending.received += 1;
        pending.octets += segment.payload.len();
        self.stats.octets_held += segment.payload.len();
        if pending.received < total {
            let received = pending.received;
            self.stats.open = self.open.len();
            return Ok(PushOutcome::Stored { received, total });
        }
        let pending = self
            .open
            .remove(&key)
            .unwrap_or_else(|| unreachable!("entry was just filled"));
        self.stats.completed += 1;
        Ok(PushOutcome::Complete(self.finish(key, pending, seq)))
    }

    /// Total of an open message with the same source, destination and reference but
    /// another total.
    fn other_total(&self, key: &Key) -> Option<u8> {
        let low = Key {
            total: 0,
            ..key.clone()
        };
        let high = Key {
            total: u8::MAX,
            ..key.clone()
        };
        self.open
            .range(low..=high)
            .map(|(k, _)| k.total)
            .find(|&t| t != key.total)
    }

    /// Turns a removed entry into a message and releases its octets.
    fn finish(&mut self, key: Key, pending: Pending, last_seq: u8) -> ReassembledMessage {
        self.stats.octets_held -= pending.octets;
        self.stats.open = self.open.len();
        let mut missing = Vec::new();
        let mut parts = Vec::with_capacity(pending.parts.len());
        let mut udh_octets = Vec::with_capacity(pending.parts.len());
        for (index, part) in pending.parts.into_iter().enumerate() {
            match part {
                Some((payload, udh)) => {
                    parts.push(payload);
                    udh_octets.push(udh);
                }
                None => {
                    missing.push(u8::try_from(index + 1).unwrap_or(u8::MAX));
                    parts.push(Vec::new());
                    udh_octets.push(0);
                }
            }
        }
        ReassembledMessage {
            source: key.source.into(),
            destination: key.destination.into(),
            concat: Concat {
                reference: key.reference,
                wide_reference: key.wide,
                total: key.total,
                seq: last_seq,
            },
            parts,
            udh_octets,
            missing,
        }
    }

    /// Removes messages older than the TTL at `now_ms`. With
    /// [`ExpiryPolicy::DeliverIncomplete`] they are returned (incomplete); with
    /// [`ExpiryPolicy::Drop`] the result is empty and they are only counted.
    /// Cost: one pass over the open messages.
    #[must_use]
    pub fn expire(&mut self, now_ms: u64) -> Vec<ReassembledMessage> {
        let ttl = self.config.ttl_ms;
        let expired: Vec<Key> = self
            .open
            .iter()
            .filter(|(_, p)| now_ms.saturating_sub(p.first_seen_ms) >= ttl)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for key in expired {
            if let Some(pending) = self.open.remove(&key) {
                let message = self.finish(key, pending, 0);
                match self.config.on_expiry {
                    ExpiryPolicy::Drop => self.stats.expired_dropped += 1,
                    ExpiryPolicy::DeliverIncomplete => {
                        self.stats.expired_delivered += 1;
                        out.push(message);
                    }
                }
            }
        }
        out
    }

    /// Drops what is held of the message `source` → `destination` with `concat`'s
    /// reference and total (a caller that knows it was delivered already, e.g. parts
    /// replayed after a restart); whether anything was held.
    pub fn discard(&mut self, source: &str, destination: &str, concat: Concat) -> bool {
        let key = Key {
            source: source.into(),
            destination: destination.into(),
            wide: concat.wide_reference,
            reference: concat.reference,
            total: concat.total,
        };
        let Some(pending) = self.open.remove(&key) else {
            return false;
        };
        self.stats.octets_held -= pending.octets;
        self.stats.open = self.open.len();
        true
    }

    /// When the oldest open message expires (for the caller's timer), if any.
    #[must_use]
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.open
            .values()
            .map(|p| p.first_seen_ms.saturating_add(self.config.ttl_ms))
            .min()
    }
}
