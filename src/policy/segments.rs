//! A sensitive word the client's own split cut in two (issue #15 §1.7, docs/adr/0016 §3):
//! each part of a UDH-concatenated message reaches intake as its own submit_sm, so the
//! content rule sees `…法` in one and `轮…` in the next and finds neither in either.
//!
//! Held until complete: while such a message is incomplete, and its account's policy has
//! sensitive words, each part that passes the rules alone is accepted durably (ESME_ROK
//! after its commit, as any part) but stored *awaiting its message* (`State::Held`, not
//! dispatched, `gateway/review.rs`). [`Assembly`] keeps, per message being received
//! (account, destination, reference, total), the ids and texts of its parts; the
//! gateway's assembly stage (`gateway/assembly.rs`) takes what is [`Ready`] and has the
//! whole judged:
//!
//! - all parts in: the joined text is judged; pass → every part released to the
//!   dispatcher at once; a word → every part refused (`stat:REJECTD err:403` receipts) or
//!   held for review, as `sensitive_action` says; no part has reached the carrier.
//! - a part refused or held by a rule on its own ([`Assembly::settle`]): the parts
//!   waiting get the same end, and so do the message's parts that come later (for
//!   [`TTL_MS`]).
//! - [`TTL_MS`] after its first part with parts still missing, or pushed out by the
//!   bounds: judged on what came (each run of consecutive parts joined and searched
//!   alone, so a gap does not join two fragments into a word), then sent or refused.
//!
//! Bounded: at most [`MAX_MESSAGES`] messages and [`MAX_PARTS`] parts held at once; over
//! either, the oldest message is judged early (as at its TTL), never forgotten. A part
//! number seen twice (the client reused the reference) judges the first message as it is
//! and starts a new one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use crate::clock::WallMillis;
use crate::config::Class;

/// Messages followed at once, per gateway.
pub const MAX_MESSAGES: usize = 100_000;
/// Parts held at once, per gateway (each keeps its text: at most a short_message's).
pub const MAX_PARTS: usize = 200_000;
/// A message with parts missing is judged on what came this long after its first part.
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

/// A part of a client-segmented message that waits for the rest of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOf {
    /// Its message.
    pub key: MessageKey,
    /// Its number in the message, from 1.
    pub seq: u8,
    /// Its text.
    pub text: String,
}

/// How a message whose part was refused or held on its own ends for its other parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Refused: final, `stat:REJECTD` with `err:` the status's code.
    Refused {
        /// The status whose code the receipts carry.
        status: u32,
        /// The rule, for the log.
        rule: String,
    },
    /// Held for review for this word.
    Held {
        /// The word.
        word: String,
    },
}

/// Parts to be judged together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// Their message.
    pub key: MessageKey,
    /// The class of its first part seen.
    pub class: Class,
    /// The parts' ids, in part order.
    pub ids: Vec<u64>,
    /// What to judge: the text of each run of consecutive parts (one when complete).
    /// Empty when `settled` decides.
    pub texts: Vec<String>,
    /// Already decided by a part on its own.
    pub settled: Option<Settled>,
    /// Whether every part came.
    pub complete: bool,
}

#[derive(Debug)]
struct Message {
    first_seen: WallMillis,
    class: Class,
    /// (seq, id, text), in arrival order.
    parts: Vec<(u8, u64, String)>,
    settled: Option<Settled>,
}

/// The client-segmented messages being received (see the module comment).
#[derive(Debug, Default)]
pub struct Assembly {
    inner: Mutex<Messages>,
}

#[derive(Debug, Default)]
struct Messages {
    messages: HashMap<MessageKey, Message>,
    /// Keys in the order their first part came (TTL and eviction); a key may be stale
    /// (its message ended) until it comes up.
    order: VecDeque<(MessageKey, WallMillis)>,
    parts: usize,
    /// Judged, waiting to be taken by [`Assembly::take_ready`].
    ready: Vec<Ready>,
}

impl Assembly {
    /// Part `part`, durable as awaiting under `id`, has come. Answers whether something
    /// became ready (take it with [`Assembly::take_ready`]).
    pub fn arrived(&self, part: PartOf, id: u64, class: Class, now: WallMillis) -> bool {
        let mut m = self.lock();
        let PartOf { key, seq, text } = part;
        let again = m
            .messages
            .get(&key)
            .is_some_and(|message| message.parts.iter().any(|(s, _, _)| *s == seq));
        if again {
            // The reference is being used for another message: the first one is judged
            // as it is.
            m.finish(&key);
        }
        if !m.messages.contains_key(&key) {
            m.make_room(1);
            m.order.push_back((key.clone(), now));
            m.messages.insert(
                key.clone(),
                Message {
                    first_seen: now,
                    class,
                    parts: Vec::new(),
                    settled: None,
                },
            );
        } else {
            m.make_room_keeping(&key);
        }
        let total = usize::from(key.total);
        let Some(message) = m.messages.get_mut(&key) else {
            return false;
        };
        message.parts.push((seq, id, text));
        let settled = message.settled.is_some();
        let complete = message.parts.len() >= total;
        m.parts += 1;
        if settled {
            m.drain_settled(&key);
        } else if complete {
            m.finish(&key);
        }
        !m.ready.is_empty()
    }

    /// A part of `key` was refused or held on its own (it is not stored as awaiting):
    /// the parts waiting, and those that come later, end the same way.
    pub fn settle(&self, key: &MessageKey, class: Class, settled: Settled, now: WallMillis) {
        let mut m = self.lock();
        if !m.messages.contains_key(key) {
            m.make_room(0);
            m.order.push_back((key.clone(), now));
            m.messages.insert(
                key.clone(),
                Message {
                    first_seen: now,
                    class,
                    parts: Vec::new(),
                    settled: None,
                },
            );
        }
        if let Some(message) = m.messages.get_mut(key) {
            if message.settled.is_none() {
                message.settled = Some(settled);
            }
        }
        m.drain_settled(key);
    }

    /// What is ready to be judged at `now`: complete messages, settled parts, and the
    /// messages over their TTL.
    pub fn take_ready(&self, now: WallMillis) -> Vec<Ready> {
        let mut m = self.lock();
        while let Some((key, first_seen)) = m.order.front().cloned() {
            if now.saturating_sub(first_seen) <= TTL_MS {
                break;
            }
            m.order.pop_front();
            if m.messages
                .get(&key)
                .is_some_and(|message| message.first_seen == first_seen)
            {
                m.finish(&key);
            }
        }
        std::mem::take(&mut m.ready)
    }

    /// Messages followed now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether none is followed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parts held now.
    #[must_use]
    pub fn parts(&self) -> usize {
        self.lock().parts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Messages> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Messages {
    /// Ends `key`'s message: its parts are judged as they are (or as settled).
    fn finish(&mut self, key: &MessageKey) {
        let Some(mut message) = self.messages.remove(key) else {
            return;
        };
        self.parts = self.parts.saturating_sub(message.parts.len());
        if message.parts.is_empty() {
            return;
        }
        message.parts.sort_by_key(|(seq, _, _)| *seq);
        let complete = message.parts.len() >= usize::from(key.total);
        let ids = message.parts.iter().map(|(_, id, _)| *id).collect();
        let texts = if message.settled.is_some() {
            Vec::new()
        } else {
            runs(&message.parts)
        };
        self.ready.push(Ready {
            key: key.clone(),
            class: message.class,
            ids,
            texts,
            settled: message.settled,
            complete,
        });
    }

    /// Hands a settled message's waiting parts over; the message stays (for the parts
    /// still to come) until its TTL.
    fn drain_settled(&mut self, key: &MessageKey) {
        let Some(message) = self.messages.get_mut(key) else {
            return;
        };
        if message.parts.is_empty() {
            return;
        }
        let parts = std::mem::take(&mut message.parts);
        self.parts = self.parts.saturating_sub(parts.len());
        self.ready.push(Ready {
            key: key.clone(),
            class: message.class,
            ids: parts.iter().map(|(_, id, _)| *id).collect(),
            texts: Vec::new(),
            settled: message.settled.clone(),
            complete: false,
        });
    }

    /// Makes room for a new message with `parts` parts: the oldest are judged early.
    fn make_room(&mut self, parts: usize) {
        while self.messages.len() >= MAX_MESSAGES || self.parts + parts > MAX_PARTS {
            if !self.finish_oldest(None) {
                break;
            }
        }
    }

    /// Makes room for one more part of `keep`'s message.
    fn make_room_keeping(&mut self, keep: &MessageKey) {
        while self.parts >= MAX_PARTS {
            if !self.finish_oldest(Some(keep)) {
                break;
            }
        }
    }

    /// Judges the oldest message other than `keep`; `false` when there is none.
    fn finish_oldest(&mut self, keep: Option<&MessageKey>) -> bool {
        let mut skipped = Vec::new();
        let mut done = false;
        while let Some((key, first_seen)) = self.order.pop_front() {
            let live = self
                .messages
                .get(&key)
                .is_some_and(|message| message.first_seen == first_seen);
            if !live {
                continue;
            }
            if Some(&key) == keep {
                skipped.push((key, first_seen));
                continue;
            }
            self.finish(&key);
            done = true;
            break;
        }
        for entry in skipped.into_iter().rev() {
            self.order.push_front(entry);
        }
        done
    }
}

/// The text of each run of consecutive part numbers, in order (`parts` sorted by seq).
fn runs(parts: &[(u8, u64, String)]) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut last = None;
    for (seq, _, text) in parts {
        match (last, texts.last_mut()) {
            (Some(previous), Some(run)) if u16::from(previous) + 1 == u16::from(*seq) => {
                run.push_str(text);
            }
            _ => texts.push(text.clone()),
        }
        last = Some(*seq);
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reference: u16, total: u8) -> MessageKey {
        MessageKey {
            account: Arc::from("shop"),
            destination: "8613800138000".into(),
            reference,
            total,
        }
    }

    fn part(key: &MessageKey, seq: u8, text: &str) -> PartOf {
        PartOf {
            key: key.clone(),
            seq,
            text: text.into(),
        }
    }

    #[test]
    fn a_complete_message_is_ready_once_with_its_text_joined_in_part_order() {
        let a = Assembly::default();
        let k = key(1, 3);
        assert!(!a.arrived(part(&k, 2, "轮 二"), 11, Class::Marketing, 0));
        assert!(!a.arrived(part(&k, 1, "大促 法"), 10, Class::Marketing, 1));
        assert!(a.take_ready(2).is_empty(), "incomplete: nothing ready");
        assert!(a.arrived(part(&k, 3, " 三"), 12, Class::Marketing, 2));
        let ready = a.take_ready(3);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].ids, vec![10, 11, 12]);
        assert_eq!(ready[0].texts, vec!["大促 法轮 二 三".to_owned()]);
        assert!(ready[0].complete && ready[0].settled.is_none());
        assert!(a.is_empty() && a.parts() == 0);
        assert!(a.take_ready(4).is_empty());
    }

    #[test]
    fn an_incomplete_message_is_judged_on_what_came_after_its_ttl_runs_apart() {
        let a = Assembly::default();
        let k = key(2, 3);
        a.arrived(part(&k, 1, "法"), 20, Class::Otp, 0);
        a.arrived(part(&k, 3, "轮"), 22, Class::Otp, 5);
        assert!(a.take_ready(TTL_MS).is_empty(), "not over yet");
        let ready = a.take_ready(TTL_MS + 1);
        assert_eq!(ready.len(), 1);
        // Parts 1 and 3 are not neighbours: judged apart, never as "法轮".
        assert_eq!(ready[0].texts, vec!["法".to_owned(), "轮".to_owned()]);
        assert_eq!(ready[0].class, Class::Otp);
        assert!(!ready[0].complete);
        assert!(a.is_empty());
    }

    #[test]
    fn a_part_refused_alone_settles_the_waiting_parts_and_those_that_come_later() {
        let a = Assembly::default();
        let k = key(3, 3);
        let refused = Settled::Refused {
            status: 0x403,
            rule: "content".into(),
        };
        a.arrived(part(&k, 1, "a"), 30, Class::Marketing, 0);
        a.settle(&k, Class::Marketing, refused.clone(), 1);
        let ready = a.take_ready(1);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].ids, vec![30]);
        assert_eq!(ready[0].settled, Some(refused.clone()));
        // Part 3 comes after the refusal of part 2: refused too, at once.
        assert!(a.arrived(part(&k, 3, "c"), 32, Class::Marketing, 2));
        let ready = a.take_ready(2);
        assert_eq!(ready[0].ids, vec![32]);
        assert_eq!(ready[0].settled, Some(refused));
        // Forgotten after the TTL.
        assert!(a.take_ready(TTL_MS + 10).is_empty());
        assert!(a.is_empty());
    }

    #[test]
    fn a_reused_reference_judges_the_first_message_as_it_is() {
        let a = Assembly::default();
        let k = key(4, 2);
        a.arrived(part(&k, 1, "x"), 40, Class::Marketing, 0);
        assert!(a.arrived(part(&k, 1, "y"), 41, Class::Marketing, 1));
        let ready = a.take_ready(1);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].ids, vec![40]);
        assert!(!ready[0].complete);
        assert_eq!(a.len(), 1, "the second message waits");
    }

    #[test]
    fn bounded_the_oldest_messages_are_judged_early_never_dropped() {
        let a = Assembly::default();
        let extra = 1_000;
        for n in 0..MAX_MESSAGES + extra {
            let mut k = key(1, 2);
            k.destination = format!("86139{n:08}");
            a.arrived(part(&k, 1, "x"), n as u64, Class::Marketing, 0);
        }
        assert!(a.len() <= MAX_MESSAGES, "{}", a.len());
        let ready = a.take_ready(0);
        assert_eq!(ready.len(), extra, "every message pushed out is judged");
        assert_eq!(ready[0].ids, vec![0], "oldest first");
        assert_eq!(a.parts() + ready.len(), MAX_MESSAGES + extra);
    }
}
