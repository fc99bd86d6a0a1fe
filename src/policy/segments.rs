//! A sensitive word the client's own split cut in two (issue #15 §1.7): each part of a
//! UDH-concatenated message reaches intake as its own submit_sm, so the content rule
//! sees `…法` in one and `轮…` in the next and finds neither.
//!
//! Here the policy keeps, per message being received (account, destination, reference,
//! total), the first and last [`EDGE`] characters of each part that passed, and checks
//! every boundary a new part makes with a neighbour already seen: the text across the
//! boundary (the neighbour's edge joined to this part's) is searched as a whole. The part
//! that completes a forbidden word — whichever arrives second — is refused (or held) like
//! a part containing it, so the word never reaches a handset whole; the parts before it
//! may have gone already (they carry a fragment; the handset shows an incomplete message).
//! Holding every part until the message is complete, then judging the joined text, is
//! the stronger answer and docs/adr/0016 describes it; this check is what fits the hook
//! as it is (one decision per submit_sm, at once).
//!
//! Bounded: at most [`MAX_MESSAGES`] messages (the oldest forgotten first), each at most
//! 255 parts of `2 × EDGE` characters, and forgotten [`TTL_MS`] after its first part. A
//! word whose characters are spread (separators between them) over more than `EDGE`
//! characters on either side of a boundary is not seen.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use super::content::{Match, SensitiveWords};
use crate::clock::WallMillis;

/// Characters kept from each end of a part.
pub const EDGE: usize = 64;
/// Messages followed at once, per policy.
pub const MAX_MESSAGES: usize = 100_000;
/// A message's parts are forgotten this long after its first arrived.
pub const TTL_MS: u64 = 10 * 60 * 1000;

/// Which message a part belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    /// The submitting account.
    pub account: Arc<str>,
    /// The destination, E.164 digits.
    pub destination: String,
    /// The concatenation reference.
    pub reference: u16,
    /// How many parts the message has.
    pub total: u8,
}

#[derive(Debug)]
struct Parts {
    first_seen: WallMillis,
    /// (seq, first EDGE chars, last EDGE chars).
    edges: Vec<(u8, String, String)>,
}

/// The parts' edges of the messages being received.
#[derive(Debug, Default)]
pub struct SegmentJoins {
    inner: Mutex<Joins>,
}

#[derive(Debug, Default)]
struct Joins {
    messages: HashMap<MessageKey, Parts>,
    /// Keys in the order their first part came (eviction).
    order: VecDeque<MessageKey>,
}

impl SegmentJoins {
    /// Checks the boundaries part `seq` of `key`, with `text`, makes with the parts seen
    /// before; answers the word found across one. Remembers the part's edges when
    /// `keep` (it passed the content rule, or was held).
    pub fn check(
        &self,
        key: &MessageKey,
        seq: u8,
        text: &str,
        words: &SensitiveWords,
        now: WallMillis,
        keep: bool,
    ) -> Option<Match> {
        let head: String = text.chars().take(EDGE).collect();
        let tail = last_chars(text, EDGE);
        let mut joins = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let found = joins.messages.get(key).and_then(|parts| {
            if now.saturating_sub(parts.first_seen) > TTL_MS {
                return None;
            }
            parts
                .edges
                .iter()
                .find_map(|(other, other_head, other_tail)| {
                    let across = if other.checked_add(1) == Some(seq) {
                        format!("{other_tail}{head}")
                    } else if seq.checked_add(1) == Some(*other) {
                        format!("{tail}{other_head}")
                    } else {
                        return None;
                    };
                    words.find(&across)
                })
        });
        if keep {
            joins.remember(key, seq, head, tail, now);
        }
        found
    }

    /// Messages followed now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .messages
            .len()
    }

    /// Whether none is followed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Joins {
    fn remember(&mut self, key: &MessageKey, seq: u8, head: String, tail: String, now: WallMillis) {
        let stale = self.messages.get(key).is_some_and(|parts| {
            // Over its time, or a part seen again: the reference was used for another
            // message since.
            now.saturating_sub(parts.first_seen) > TTL_MS
                || parts.edges.iter().any(|(other, _, _)| *other == seq)
        });
        if stale {
            self.messages.remove(key);
        }
        if !self.messages.contains_key(key) {
            while self.messages.len() >= MAX_MESSAGES {
                let Some(oldest) = self.order.pop_front() else {
                    break;
                };
                self.messages.remove(&oldest);
            }
            self.order.push_back(key.clone());
            self.messages.insert(
                key.clone(),
                Parts {
                    first_seen: now,
                    edges: Vec::new(),
                },
            );
        }
        if let Some(parts) = self.messages.get_mut(key) {
            parts.edges.push((seq, head, tail));
            if parts.edges.len() >= usize::from(key.total) {
                // Complete: nothing more to join.
                self.messages.remove(key);
            }
        }
        // Keys of messages removed above stay in `order` until they come up; bound it too.
        if self.order.len() > 2 * MAX_MESSAGES {
            let messages = &self.messages;
            self.order.retain(|key| messages.contains_key(key));
        }
    }
}

fn last_chars(text: &str, count: usize) -> String {
    let skip = text.chars().count().saturating_sub(count);
    text.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reference: u16) -> MessageKey {
        MessageKey {
            account: Arc::from("shop"),
            destination: "8613800138000".into(),
            reference,
            total: 3,
        }
    }

    #[test]
    fn a_word_across_two_parts_is_found_in_either_order_and_bounded() {
        let words = SensitiveWords::new(["法轮", "falun"]);
        let joins = SegmentJoins::default();
        // In order: part 2 completes the word.
        assert!(
            joins
                .check(&key(1), 1, "【示例商城】大促 法", &words, 0, true)
                .is_none()
        );
        let found = joins
            .check(&key(1), 2, "轮 第二段", &words, 1, true)
            .unwrap();
        assert_eq!(found.word, "法轮");
        // Out of order, with separators and full-width letters across the boundary.
        assert!(
            joins
                .check(&key(2), 2, "ｌｕｎ 第二段", &words, 0, true)
                .is_none()
        );
        let found = joins
            .check(&key(2), 1, "大促 FA@@", &words, 1, true)
            .unwrap();
        assert_eq!(found.word, "falun");
        // Not neighbours (1 and 3), other references, harmless joins: nothing.
        assert!(joins.check(&key(3), 1, "法", &words, 0, true).is_none());
        assert!(joins.check(&key(3), 3, "轮", &words, 0, true).is_none());
        assert!(joins.check(&key(4), 2, "轮", &words, 0, true).is_none());
        assert!(joins.check(&key(5), 1, "轮", &words, 0, true).is_none());
        assert!(
            joins.check(&key(5), 2, "法", &words, 0, true).is_none(),
            "轮|法 is not 法轮"
        );
        // Over its TTL the first part is forgotten.
        assert!(joins.check(&key(6), 1, "法", &words, 0, true).is_none());
        assert!(
            joins
                .check(&key(6), 2, "轮", &words, TTL_MS + 1, true)
                .is_none()
        );
        // A complete message is forgotten at once.
        let before = joins.len();
        joins.check(&key(7), 1, "a", &words, 0, true);
        joins.check(&key(7), 2, "b", &words, 0, true);
        joins.check(&key(7), 3, "c", &words, 0, true);
        assert_eq!(joins.len(), before);
        // Bounded: many more messages than the limit, never more held.
        for n in 0..MAX_MESSAGES + 1_000 {
            let mut k = key(1);
            k.destination = format!("86139{n:08}");
            joins.check(&k, 1, "x", &words, 0, true);
        }
        assert!(joins.len() <= MAX_MESSAGES, "{}", joins.len());
    }
}
