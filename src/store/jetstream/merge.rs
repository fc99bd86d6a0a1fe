//! Merging two nodes' versions of one message record.
//!
//! Each node's receipt writer holds the records it works on and writes them whole. Two
//! nodes may hold one message at once: the node that dispatched it (its carrier outcomes)
//! and a node whose carrier bind a receipt came in on. Every record write is therefore
//! conditional on the KV revision this node last saw (`backend.rs`); when another node
//! wrote since, the stored record is read again and merged with ours here, and the merge
//! is written under the new revision.
//!
//! The merge is correct because a part only moves forward: `Accepted`/`Held` → `Sent` →
//! final (a `Failed` part may still get a receipt; a held part goes back to `Accepted` on
//! release, which ranks the same). Per part, the further-along version wins, the later
//! `updated` between two of one rank, ours when they tie; fields the winner lacks (the
//! carrier id that a receipt applied on a stale copy never saw) are taken from the other.
//! A message state that is final wins (the node that made it final queued its receipt).

use crate::store::{MessageRecord, PartRecord, State};

/// How far along a state is: parts and messages only move up.
const fn rank(state: State) -> u8 {
    match state {
        State::Accepted | State::Held => 0,
        State::Sent => 1,
        _ => 2,
    }
}

/// One part from the stored version and ours.
fn merge_part(stored: &PartRecord, ours: &PartRecord) -> PartRecord {
    let ours_wins = (rank(ours.state), ours.updated) >= (rank(stored.state), stored.updated);
    let (winner, other) = if ours_wins {
        (ours, stored)
    } else {
        (stored, ours)
    };
    let mut part = winner.clone();
    if part.carrier.is_none() {
        part.carrier.clone_from(&other.carrier);
    }
    if part.carrier_id.is_none() {
        part.carrier_id.clone_from(&other.carrier_id);
    }
    if part.error.is_none() {
        part.error.clone_from(&other.error);
    }
    part.attempts = part.attempts.max(other.attempts);
    part
}

/// The record to write in place of `stored` (what another node wrote last) when `ours`
/// was changed from an older version of it.
pub(super) fn merge_record(stored: &MessageRecord, ours: &MessageRecord) -> MessageRecord {
    let mut merged = ours.clone();
    let parts = stored.parts.len().max(ours.parts.len());
    merged.parts = (0..parts)
        .map(
            |index| match (stored.parts.get(index), ours.parts.get(index)) {
                (Some(stored), Some(ours)) => merge_part(stored, ours),
                (Some(only), None) | (None, Some(only)) => only.clone(),
                (None, None) => PartRecord::default(),
            },
        )
        .collect();
    if stored.state.is_final() {
        merged.state = stored.state;
        merged.wants_receipt = stored.wants_receipt;
    } else if !ours.state.is_final() && rank(stored.state) > rank(ours.state) {
        merged.state = stored.state;
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every part final, the message not yet: the gateway's writer settles it again.
    fn needs_settle(record: &MessageRecord) -> bool {
        !record.state.is_final() && record.parts.iter().all(|part| part.state.is_final())
    }

    fn part(state: State, carrier_id: Option<&str>, updated: u64) -> PartRecord {
        PartRecord {
            state,
            carrier: carrier_id.map(|_| "c".to_owned()),
            carrier_id: carrier_id.map(str::to_owned),
            status: 0,
            attempts: u32::from(carrier_id.is_some()),
            error: None,
            updated,
        }
    }

    fn record(state: State, parts: Vec<PartRecord>) -> MessageRecord {
        let mut record = crate::store::tests::message(1, "acme", 0);
        record.state = state;
        record.part_count = u16::try_from(parts.len()).unwrap();
        record.parts = parts;
        record
    }

    #[test]
    fn a_receipt_from_another_node_survives_a_stale_outcome_write() {
        // Another node applied part 0's receipt; we applied part 1's outcome to a copy
        // from before it.
        let stored = record(
            State::Sent,
            vec![
                part(State::Delivered, Some("a"), 20),
                part(State::Accepted, None, 0),
            ],
        );
        let ours = record(
            State::Sent,
            vec![
                part(State::Sent, Some("a"), 10),
                part(State::Sent, Some("b"), 30),
            ],
        );
        let merged = merge_record(&stored, &ours);
        assert_eq!(merged.parts[0].state, State::Delivered);
        assert_eq!(merged.parts[1].state, State::Sent);
        assert_eq!(merged.parts[1].carrier_id.as_deref(), Some("b"));
        assert!(!needs_settle(&merged));
    }

    #[test]
    fn a_receipt_applied_to_a_copy_without_the_carrier_id_keeps_the_id() {
        let stored = record(
            State::Sent,
            vec![
                part(State::Delivered, Some("a"), 20),
                part(State::Sent, Some("b"), 30),
            ],
        );
        let ours = record(
            State::Sent,
            vec![
                part(State::Sent, Some("a"), 10),
                part(State::Delivered, None, 40),
            ],
        );
        let merged = merge_record(&stored, &ours);
        assert_eq!(merged.parts[1].state, State::Delivered);
        assert_eq!(merged.parts[1].carrier_id.as_deref(), Some("b"));
        assert!(
            needs_settle(&merged),
            "every part final, the message not yet"
        );
    }

    #[test]
    fn a_final_message_state_stays_final() {
        let stored = record(
            State::Delivered,
            vec![part(State::Delivered, Some("a"), 20)],
        );
        let ours = record(State::Sent, vec![part(State::Sent, Some("a"), 10)]);
        let merged = merge_record(&stored, &ours);
        assert_eq!(merged.state, State::Delivered);
        assert_eq!(merged.parts[0].state, State::Delivered);
        assert!(!needs_settle(&merged));
    }
}
