//! `Idempotency-Key`: the same key from the same account within 24 h gets the first
//! answer again, and nothing is sent again.
//!
//! The answers are durable: each is committed to the store (in the outbox of the
//! reserved name [`IDEMPOTENCY`], which no account can have: check-config refuses a
//! system_id starting with `~`, the names `~early` and `~unmatched` use too) before the
//! client gets it, and read
//! back at start, so a retry after a restart is still recognised. Memory is bounded:
//! at most [`MAX_KEYS`] answers and [`MAX_BYTES`] of them are held (an answer to 1 000
//! destinations is some 100 KiB); past that the oldest answer of the account holding the
//! most is forgotten first (and counted), as one that is over 24 h old is, so one
//! account's keyed traffic does not shorten another's 24 h.
//!
//! A request's messages and its answer are written in one commit
//! ([`Idempotency::stored`] goes with the messages' inserts through
//! `Intake::persist_with`): on the embedded store, whose commits are atomic, a crash
//! leaves both or neither, so a retry after it either gets the first answer or is the
//! first request. (On JetStream a commit's publishes are not one transaction: a node
//! that dies in the middle of one may leave the messages without their answer.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::store::{Op, OutboxItem, Store, StoreError};

/// The reserved outbox name the answers are kept under.
pub(crate) const IDEMPOTENCY: &str = "~idempotency";
/// How long a key is remembered.
pub(crate) const KEEP_MS: u64 = 24 * 3600 * 1000;
/// Most answers held (in memory and in the store).
pub(crate) const MAX_KEYS: usize = 100_000;
/// Most octets of answers (and their keys) held in memory (1 MiB in the tests).
pub(crate) const MAX_BYTES: usize = if cfg!(test) { 1 << 20 } else { 256 << 20 };
/// Longest key accepted.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// One remembered answer, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    account: String,
    key: String,
    body_hash: [u8; 32],
    status: u16,
    answer: Vec<u8>,
    at: u64,
}

#[derive(Debug)]
enum Entry {
    /// Being served now.
    InFlight { body_hash: [u8; 32] },
    /// Answered.
    Done {
        body_hash: [u8; 32],
        status: u16,
        answer: Arc<[u8]>,
        at: u64,
    },
}

type Key = (Arc<str>, String);

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Each account's answered keys, oldest first (for expiry and the bound).
    accounts: HashMap<Arc<str>, Held>,
    /// Answered keys queued, all accounts.
    keys: usize,
    /// What the answers held take ([`cost`]), all accounts.
    bytes: usize,
}

/// One account's answered keys.
#[derive(Debug, Default)]
struct Held {
    order: VecDeque<(u64, Key)>,
    bytes: usize,
}

impl Held {
    /// Forgets this account's oldest answer from `entries`, unless answered again since
    /// (a newer entry under the same key); the octets freed, `None` when it had none.
    fn forget_oldest(&mut self, entries: &mut HashMap<Key, Entry>) -> Option<usize> {
        let (at, key) = self.order.pop_front()?;
        let freed = if matches!(entries.get(&key), Some(Entry::Done { at: stored, .. }) if *stored == at)
            && let Some(Entry::Done { answer, .. }) = entries.remove(&key)
        {
            cost(&key, &answer)
        } else {
            0
        };
        self.bytes -= freed;
        Some(freed)
    }
}

/// What an answer held under `key` takes, about.
fn cost(key: &Key, answer: &[u8]) -> usize {
    key.0.len() + key.1.len() + answer.len() + 96
}

impl Inner {
    /// Holds an answer (replacing what the key held: its claim, or an older answer).
    fn put_done(&mut self, key: Key, body_hash: [u8; 32], status: u16, answer: Arc<[u8]>, at: u64) {
        let added = cost(&key, &answer);
        let held = self.accounts.entry(Arc::clone(&key.0)).or_default();
        held.order.push_back((at, key.clone()));
        held.bytes += added;
        self.keys += 1;
        self.bytes += added;
        let done = Entry::Done {
            body_hash,
            status,
            answer,
            at,
        };
        if let Some(Entry::Done { answer, .. }) = self.entries.insert(key.clone(), done) {
            self.release(&key, cost(&key, &answer));
        }
    }

    fn release(&mut self, key: &Key, cost: usize) {
        self.bytes -= cost;
        if let Some(held) = self.accounts.get_mut(&key.0) {
            held.bytes -= cost;
        }
    }

    /// Forgets `account`'s oldest answer; whether it had one.
    fn forget_oldest(&mut self, account: &Arc<str>) -> bool {
        let Some(freed) = self
            .accounts
            .get_mut(account)
            .and_then(|held| held.forget_oldest(&mut self.entries))
        else {
            return false;
        };
        self.keys -= 1;
        self.bytes -= freed;
        true
    }

    /// Forgets answers past [`MAX_KEYS`] or [`MAX_BYTES`]; how many. Each comes from the
    /// account holding the most (keys, or octets when those are over), oldest first: one
    /// account's keyed traffic shortens its own 24 h, not every account's.
    fn evict_past_bound(&mut self) -> u64 {
        let mut evicted = 0;
        while self.keys > MAX_KEYS || self.bytes > MAX_BYTES {
            let by_bytes = self.bytes > MAX_BYTES;
            let Some(account) = self
                .accounts
                .iter()
                .max_by_key(|(_, held)| {
                    if by_bytes {
                        held.bytes
                    } else {
                        held.order.len()
                    }
                })
                .map(|(account, _)| Arc::clone(account))
            else {
                break;
            };
            if !self.forget_oldest(&account) {
                break;
            }
            evicted += 1;
        }
        evicted
    }

    /// An answer read back (at start, or another node's): known from now on.
    fn insert_stored(&mut self, stored: Stored) {
        let key: Key = (Arc::from(stored.account.as_str()), stored.key);
        self.put_done(
            key,
            stored.body_hash,
            stored.status,
            Arc::from(stored.answer),
            stored.at,
        );
    }
}

/// What a request with a key does.
#[derive(Debug)]
pub(crate) enum Begin {
    /// First use: serve it, then [`Idempotency::finish`].
    New(Claim),
    /// Answered before: this answer again.
    Replay { status: u16, answer: Arc<[u8]> },
    /// The same key is being served now.
    InFlight,
    /// The key was used for another body.
    Mismatch,
}

/// A key being served; dropped without [`Idempotency::finish`], it is released.
#[derive(Debug)]
pub(crate) struct Claim {
    key: Key,
    body_hash: [u8; 32],
    owner: Arc<Idempotency>,
    done: bool,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.owner.lock();
            if matches!(inner.entries.get(&self.key), Some(Entry::InFlight { .. })) {
                inner.entries.remove(&self.key);
            }
        }
    }
}

/// The remembered answers.
#[derive(Debug)]
pub(crate) struct Idempotency {
    inner: Mutex<Inner>,
}

impl Idempotency {
    /// Reads the answers kept in the store; those over 24 h old are removed.
    ///
    /// # Errors
    /// Store read or write failures.
    pub(crate) fn load(store: &dyn Store, now: u64) -> Result<(Self, Vec<Op>), StoreError> {
        let mut inner = Inner::default();
        let mut stale = Vec::new();
        let mut after = 0;
        loop {
            let page = store.outbox_after(IDEMPOTENCY, after, 4096)?;
            let Some(last) = page.last().map(|item| item.seq) else {
                break;
            };
            after = last;
            for item in page {
                match postcard::from_bytes::<Stored>(&item.deliver_sm) {
                    Ok(stored) if now.saturating_sub(stored.at) < KEEP_MS => {
                        inner.insert_stored(stored);
                    }
                    _ => stale.push(Op::OutboxAck {
                        account: IDEMPOTENCY.to_owned(),
                        seq: item.seq,
                    }),
                }
            }
        }
        // Over the bound (a smaller MAX_KEYS than the last run's): the oldest go.
        inner.evict_past_bound();
        Ok((
            Self {
                inner: Mutex::new(inner),
            },
            stale,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `key` of `account` for a request with this body, or says what to answer.
    pub(crate) fn begin(
        self: &Arc<Self>,
        account: &Arc<str>,
        key: &str,
        body: &[u8],
        now: u64,
    ) -> Begin {
        let body_hash: [u8; 32] = Sha256::digest(body).into();
        let key: Key = (Arc::clone(account), key.to_owned());
        let mut inner = self.lock();
        forget_expired(&mut inner, now);
        match inner.entries.get(&key) {
            Some(
                Entry::InFlight { body_hash: first }
                | Entry::Done {
                    body_hash: first, ..
                },
            ) if *first != body_hash => Begin::Mismatch,
            Some(Entry::InFlight { .. }) => Begin::InFlight,
            Some(Entry::Done { status, answer, .. }) => Begin::Replay {
                status: *status,
                answer: Arc::clone(answer),
            },
            None => {
                inner
                    .entries
                    .insert(key.clone(), Entry::InFlight { body_hash });
                Begin::New(Claim {
                    key,
                    body_hash,
                    owner: Arc::clone(self),
                    done: false,
                })
            }
        }
    }

    /// The store op that keeps a claimed key's answer: the caller commits it with the
    /// messages it answers (one commit: a crash leaves both or neither), then calls
    /// [`Idempotency::remember`].
    ///
    /// # Errors
    /// The answer cannot be encoded.
    pub(crate) fn stored(
        claim: &Claim,
        status: u16,
        answer: &[u8],
        now: u64,
    ) -> Result<Op, StoreError> {
        let stored = Stored {
            account: claim.key.0.to_string(),
            key: claim.key.1.clone(),
            body_hash: claim.body_hash,
            status,
            answer: answer.to_vec(),
            at: now,
        };
        let bytes = postcard::to_allocvec(&stored).map_err(|e| StoreError::new(e.to_string()))?;
        Ok(Op::OutboxPush(OutboxItem {
            seq: 0,
            account: IDEMPOTENCY.to_owned(),
            deliver_sm: bytes,
            queued: now,
            attempts: 0,
        }))
    }

    /// Remembers the answer of a claimed key whose [`Idempotency::stored`] op is
    /// committed: a retry gets it from now on.
    pub(crate) fn remember(&self, mut claim: Claim, status: u16, answer: &[u8], now: u64) {
        claim.done = true;
        let answer: Arc<[u8]> = Arc::from(answer);
        let mut inner = self.lock();
        inner.put_done(claim.key.clone(), claim.body_hash, status, answer, now);
        let evicted = inner.evict_past_bound();
        if evicted > 0 {
            metrics::counter!("smppgate_http_idempotency_evicted_total").increment(evicted);
        }
    }

    /// An answer another node stored (its outbox item, seen on the shared stream of a
    /// `[cluster]`): a retry that reaches this node gets it too. A key this node knows
    /// already (its own answer, a request it is serving) is left as it is.
    pub(crate) fn learn(&self, item: &[u8], now: u64) {
        let Ok(stored) = postcard::from_bytes::<Stored>(item) else {
            tracing::warn!("an idempotent answer from another node does not decode: ignored");
            return;
        };
        if now.saturating_sub(stored.at) >= KEEP_MS {
            return;
        }
        let mut inner = self.lock();
        if inner
            .entries
            .contains_key(&(Arc::from(stored.account.as_str()), stored.key.clone()))
        {
            return;
        }
        inner.insert_stored(stored);
        let evicted = inner.evict_past_bound();
        if evicted > 0 {
            metrics::counter!("smppgate_http_idempotency_evicted_total").increment(evicted);
        }
    }

    /// How many answers are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().keys
    }
}

/// Drops answers over 24 h old from memory (the store's copies go at the next start or
/// by [`stale_in_store`]).
/// Runs at every keyed request, under the lock: walks the accounts in place (no copy of
/// their names).
fn forget_expired(inner: &mut Inner, now: u64) {
    let Inner {
        entries,
        accounts,
        keys,
        bytes,
    } = inner;
    for held in accounts.values_mut() {
        while held
            .order
            .front()
            .is_some_and(|(at, _)| now.saturating_sub(*at) >= KEEP_MS)
        {
            let Some(freed) = held.forget_oldest(entries) else {
                break;
            };
            *keys -= 1;
            *bytes -= freed;
        }
    }
}

/// The store's answers over 24 h old (or past the bound), oldest first, at most `limit`:
/// acknowledgements to commit.
///
/// # Errors
/// Store read failure.
pub(crate) fn stale_in_store(
    store: &dyn Store,
    now: u64,
    limit: usize,
) -> Result<Vec<Op>, StoreError> {
    let items = store.outbox(IDEMPOTENCY, limit)?;
    Ok(items
        .into_iter()
        .take_while(|item| now.saturating_sub(item.queued) >= KEEP_MS)
        .map(|item| Op::OutboxAck {
            account: IDEMPOTENCY.to_owned(),
            seq: item.seq,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn setup(store: &Arc<MemoryStore>) -> Arc<Idempotency> {
        let (idempotency, stale) = Idempotency::load(&**store, 0).unwrap();
        assert!(stale.is_empty());
        Arc::new(idempotency)
    }

    #[tokio::test]
    async fn the_first_answer_comes_back_and_survives_a_restart() {
        let store = Arc::new(MemoryStore::new());
        let idempotency = setup(&store);
        let shop: Arc<str> = Arc::from("shop");
        let Begin::New(claim) = idempotency.begin(&shop, "k1", b"body", 10) else {
            panic!("first use")
        };
        assert!(matches!(
            idempotency.begin(&shop, "k1", b"body", 11),
            Begin::InFlight
        ));
        // Committed (with the messages, in the gateway), then remembered.
        let op = Idempotency::stored(&claim, 202, b"answer", 12).unwrap();
        store.commit(&[op]).unwrap();
        idempotency.remember(claim, 202, b"answer", 12);
        assert!(matches!(
            idempotency.begin(&shop, "k1", b"body", 13),
            Begin::Replay { status: 202, ref answer } if &answer[..] == b"answer"
        ));
        assert!(matches!(
            idempotency.begin(&shop, "k1", b"other", 13),
            Begin::Mismatch
        ));
        // Another account's same key is its own.
        let other: Arc<str> = Arc::from("other");
        assert!(matches!(
            idempotency.begin(&other, "k1", b"body", 13),
            Begin::New(_)
        ));

        // A restart: read back from the store.
        let dyn_store: Arc<dyn Store> = Arc::clone(&store) as Arc<dyn Store>;
        let (again, stale) = Idempotency::load(&*dyn_store, 1000).unwrap();
        assert!(stale.is_empty());
        let again = Arc::new(again);
        assert!(matches!(
            again.begin(&shop, "k1", b"body", 1001),
            Begin::Replay { status: 202, .. }
        ));
        // 24 h later it is forgotten, and the store's copy is stale.
        assert!(matches!(
            again.begin(&shop, "k1", b"body", 12 + KEEP_MS),
            Begin::New(_)
        ));
        assert_eq!(
            stale_in_store(&*dyn_store, 12 + KEEP_MS, 10).unwrap().len(),
            1
        );
        assert_eq!(
            stale_in_store(&*dyn_store, 11 + KEEP_MS, 10).unwrap().len(),
            0
        );
    }

    /// On a `[cluster]` each node takes in the answers the others store (the outbox
    /// items it sees on the shared stream): a retry that reaches another node is answered
    /// as the first time. A key the node is serving itself is not overwritten; an answer
    /// over 24 h old or that does not decode is not taken.
    #[tokio::test]
    async fn an_answer_stored_by_another_node_is_taken_in() {
        let shop: Arc<str> = Arc::from("shop");
        let first = setup(&Arc::new(MemoryStore::new()));
        let Begin::New(claim) = first.begin(&shop, "k1", b"body", 10) else {
            panic!("first use")
        };
        let Op::OutboxPush(item) = Idempotency::stored(&claim, 202, b"answer", 12).unwrap() else {
            panic!("an outbox item")
        };
        let other = setup(&Arc::new(MemoryStore::new()));
        other.learn(b"\xff not postcard", 13);
        other.learn(&item.deliver_sm, 12 + KEEP_MS);
        assert!(matches!(
            other.begin(&shop, "k1", b"body", 12 + KEEP_MS),
            Begin::New(_)
        ));
        let other = setup(&Arc::new(MemoryStore::new()));
        other.learn(&item.deliver_sm, 13);
        assert!(matches!(
            other.begin(&shop, "k1", b"body", 14),
            Begin::Replay { status: 202, ref answer } if &answer[..] == b"answer"
        ));
        assert!(matches!(
            other.begin(&shop, "k1", b"other body", 14),
            Begin::Mismatch
        ));
        // The node that serves the key sees its own item come back: it stays its own.
        first.learn(&item.deliver_sm, 13);
        assert!(matches!(
            first.begin(&shop, "k1", b"body", 14),
            Begin::InFlight
        ));
    }

    /// Large answers (a batch of 1 000 destinations answers some 100 KiB) are bounded by
    /// their size, not only by their count: the oldest go first, the newest are kept.
    #[tokio::test]
    async fn the_answers_held_are_bounded_by_their_size() {
        let store = Arc::new(MemoryStore::new());
        let idempotency = setup(&store);
        let shop: Arc<str> = Arc::from("shop");
        let answer = vec![b'x'; 64 << 10];
        for n in 0..40u64 {
            let Begin::New(claim) = idempotency.begin(&shop, &format!("k{n}"), b"b", n) else {
                panic!("first use")
            };
            idempotency.remember(claim, 202, &answer, n);
        }
        let held = idempotency.len();
        assert!((8..40).contains(&held), "{held}");
        assert!(idempotency.lock().bytes <= MAX_BYTES);
        assert!(matches!(
            idempotency.begin(&shop, "k39", b"b", 50),
            Begin::Replay { .. }
        ));
        assert!(matches!(
            idempotency.begin(&shop, "k0", b"b", 50),
            Begin::New(_)
        ));
    }

    /// One account's keyed traffic past the bound forgets its own oldest answers, not
    /// another account's (which are older): each keeps its 24 h unless it is the one
    /// holding the most.
    #[tokio::test]
    async fn one_accounts_answers_do_not_push_out_anothers() {
        let store = Arc::new(MemoryStore::new());
        let idempotency = setup(&store);
        let (quiet, busy): (Arc<str>, Arc<str>) = (Arc::from("quiet"), Arc::from("busy"));
        let remember = |account: &Arc<str>, key: &str, size: usize, at: u64| {
            let Begin::New(claim) = idempotency.begin(account, key, b"b", at) else {
                panic!("first use of {key}")
            };
            idempotency.remember(claim, 202, &vec![b'x'; size], at);
        };
        remember(&quiet, "q1", 1024, 0);
        remember(&quiet, "q2", 1024, 1);
        for n in 0..40u64 {
            remember(&busy, &format!("b{n}"), 64 << 10, 2 + n);
        }
        assert!(idempotency.lock().bytes <= MAX_BYTES);
        for key in ["q1", "q2"] {
            assert!(
                matches!(
                    idempotency.begin(&quiet, key, b"b", 100),
                    Begin::Replay { .. }
                ),
                "{key}"
            );
        }
        assert!(matches!(
            idempotency.begin(&busy, "b0", b"b", 100),
            Begin::New(_)
        ));
    }

    #[tokio::test]
    async fn a_dropped_claim_releases_the_key() {
        let store = Arc::new(MemoryStore::new());
        let idempotency = setup(&store);
        let shop: Arc<str> = Arc::from("shop");
        let Begin::New(claim) = idempotency.begin(&shop, "k", b"b", 1) else {
            panic!("first use")
        };
        drop(claim);
        assert!(matches!(
            idempotency.begin(&shop, "k", b"b", 2),
            Begin::New(_)
        ));
        assert_eq!(idempotency.len(), 0);
    }
}
