//! The review queue of rule 7's `sensitive_action = "hold"` (issue #15).
//!
//! A held message is accepted (durable before the answer, like any accepted message)
//! and stored with the state [`State::Held`], overall and for each part: not final, so it
//! stays in the store's pending set, survives a restart and keeps its place in the
//! account's durable backlog (`[store] max_pending`); the dispatcher takes only parts in
//! `Accepted`, so it never sends one. The matched word is kept in the parts' `error`
//! while the message is held (no new store field: records written before this existed
//! still decode).
//!
//! `smppgate review list|release|refuse` works on the store when the gateway is stopped
//! and through its control socket when it runs (`src/gateway/control.rs`): a running
//! gateway changes the record in its receipt writer, the only task that changes records,
//! and a released message is then handed to the dispatcher at once.

use serde::{Deserialize, Serialize};

use super::dispatcher::request_of;
use super::policy::Whole;
use crate::policy::engine::Rule;
use crate::store::{MessageRecord, Millis, State, Store, StoreError};

/// What an operator does with a held message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Send it.
    Release,
    /// End it: `stat:REJECTD err:403` receipt when the client asked for one.
    Refuse,
}

impl Action {
    /// `released` / `refused`.
    #[must_use]
    pub const fn done(self) -> &'static str {
        match self {
            Self::Release => "released",
            Self::Refuse => "refused",
        }
    }
}

/// One held message, as `review list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldEntry {
    /// Our message id.
    pub id: u64,
    /// The account.
    pub account: String,
    /// The destination as the client wrote it.
    pub destination: String,
    /// The sensitive word that matched.
    pub word: String,
    /// When it was accepted (wall ms).
    pub since: Millis,
}

impl HeldEntry {
    /// The entry of a held record (`None` when it is not held).
    #[must_use]
    pub fn of(record: &MessageRecord) -> Option<Self> {
        let word = held_word(record)?;
        let destination = request_of(record)
            .map(|r| String::from_utf8_lossy(&r.destination_addr.addr).into_owned())
            .unwrap_or_default();
        Some(Self {
            id: record.id,
            account: record.account.clone(),
            destination,
            word: word.to_owned(),
            since: record.accepted,
        })
    }
}

/// What the parts' `error` says of a part stored awaiting the rest of its
/// client-segmented message (`gateway/assembly.rs`): held, but not for review.
pub const AWAITING_PARTS: &str = "awaiting parts";

/// Marks a just-checked part of a client-segmented message as awaiting the rest of it:
/// durable and pending like a held message, never dispatched, not in `review list`.
pub(crate) fn await_parts(record: &mut MessageRecord) {
    hold(record, AWAITING_PARTS);
}

/// Whether `record` is a part awaiting the rest of its message.
#[must_use]
pub fn awaits_parts(record: &MessageRecord) -> bool {
    record.state == State::Held
        && record.parts.first().and_then(|p| p.error.as_deref()) == Some(AWAITING_PARTS)
}

/// Ends the wait of a part whose message was judged whole: released, its parts are
/// `Accepted`; refused, final `Rejected` with `status` (the caller settles the record);
/// held, held for review for the word. Answers whether it was awaiting (else unchanged).
pub(crate) fn assembled(record: &mut MessageRecord, whole: &Whole, now: Millis) -> bool {
    if !awaits_parts(record) {
        return false;
    }
    match whole {
        Whole::Release => {
            for part in &mut record.parts {
                part.state = State::Accepted;
                part.error = None;
                part.updated = now;
            }
            record.state = State::Accepted;
        }
        Whole::Refuse { status, .. } => {
            for part in &mut record.parts {
                part.state = State::Rejected;
                part.status = status.0;
                part.error = Some(format!("{:03x}", status.0 & 0xFFF));
                part.updated = now;
            }
        }
        Whole::Hold { word } => hold(record, word),
    }
    true
}

/// Marks a just-checked record held for `word`.
pub(crate) fn hold(record: &mut MessageRecord, word: &str) {
    record.state = State::Held;
    for part in &mut record.parts {
        part.state = State::Held;
        part.error = Some(word.to_owned());
    }
}

/// The word a held record was held for (`None` when it is not held for review).
#[must_use]
pub fn held_word(record: &MessageRecord) -> Option<&str> {
    if record.state != State::Held || awaits_parts(record) {
        return None;
    }
    Some(
        record
            .parts
            .first()
            .and_then(|p| p.error.as_deref())
            .unwrap_or(""),
    )
}

/// Applies `action` to a held record: released, its parts are `Accepted` (to be sent);
/// refused, they are final `Rejected` with the content rule's status and `err:` code
/// (the record's overall state is for the caller to settle, as for a refusal by receipt).
///
/// # Errors
/// The record is not held for review (never held, already released or refused, or a
/// part awaiting the rest of its message).
pub fn apply(record: &mut MessageRecord, action: Action, now: Millis) -> Result<(), String> {
    if held_word(record).is_none() {
        return Err(format!(
            "message {} is not held for review (it is {:?})",
            record.id, record.state
        ));
    }
    let status = Rule::Content.status();
    for part in &mut record.parts {
        part.updated = now;
        match action {
            Action::Release => {
                part.state = State::Accepted;
                part.error = None;
            }
            Action::Refuse => {
                part.state = State::Rejected;
                part.status = status.0;
                part.error = Some(format!("{:03x}", status.0 & 0xFFF));
            }
        }
    }
    if action == Action::Release {
        record.state = State::Accepted;
    }
    Ok(())
}

/// Settles a refused record without the gateway (`smppgate review refuse` on the store):
/// final `Rejected`, and the receipt the receipt writer would queue for it per
/// `account`'s receipt settings (`None` when none is due).
#[must_use]
pub fn settle_refused(
    record: &mut MessageRecord,
    account: &crate::config::AccountConfig,
    clock: &crate::clock::Clock,
) -> Option<crate::store::OutboxItem> {
    record.state = State::Rejected;
    super::writer::refusal_receipt(record, account, clock)
}

/// Calls `visit` with each held message (of `account`, when given), oldest first, until
/// it returns `false`. Reads the pending set only, a page at a time.
///
/// # Errors
/// Read failure.
pub fn scan_held(
    store: &dyn Store,
    account: Option<&str>,
    visit: &mut dyn FnMut(HeldEntry) -> bool,
) -> Result<(), StoreError> {
    scan_pending(store, 0, &mut |record| {
        if account.is_some_and(|a| a != record.account) {
            return true;
        }
        HeldEntry::of(record).is_none_or(&mut *visit)
    })
}

/// The held messages (of `account`) with ids above `after`, oldest first: at most `limit`
/// of them, from at most `max_scan` pending records read (however few are held: the
/// pending set holds every message awaiting its receipt too), and where the next page
/// starts (`None`: nothing more).
///
/// # Errors
/// Read failure.
pub(crate) fn held_page(
    store: &dyn Store,
    account: Option<&str>,
    after: u64,
    limit: usize,
    max_scan: usize,
) -> Result<(Vec<HeldEntry>, Option<u64>), StoreError> {
    let mut held: Vec<HeldEntry> = Vec::new();
    let mut next = None;
    let mut read = 0;
    scan_pending(store, after, &mut |record| {
        read += 1;
        if account.is_none_or(|a| a == record.account) {
            if let Some(entry) = HeldEntry::of(record) {
                if held.len() >= limit.max(1) {
                    next = held.last().map(|e| e.id);
                    return false;
                }
                held.push(entry);
            }
        }
        if read >= max_scan.max(1) {
            next = Some(record.id);
            return false;
        }
        true
    })?;
    Ok((held, next))
}

/// Calls `visit` with each pending record with an id above `after`, oldest first, until
/// it returns `false`; a page of the store at a time.
fn scan_pending(
    store: &dyn Store,
    after: u64,
    visit: &mut dyn FnMut(&MessageRecord) -> bool,
) -> Result<(), StoreError> {
    let mut cursor = after;
    loop {
        let page = store.pending_page(cursor, 1024)?;
        let Some(last) = page.last().map(|r| r.id) else {
            return Ok(());
        };
        for record in &page {
            if !visit(record) {
                return Ok(());
            }
        }
        cursor = last;
    }
}

/// Counts an operator's decision: `smppgate_review_{released,refused}_total{account}`
/// and the held gauge.
pub(crate) fn counted(account: &str, action: Action) {
    let name = match action {
        Action::Release => "smppgate_review_released_total",
        Action::Refuse => "smppgate_review_refused_total",
    };
    metrics::counter!(name, "account" => account.to_owned()).increment(1);
    metrics::gauge!("smppgate_review_held").decrement(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PartRecord;

    fn record() -> MessageRecord {
        MessageRecord {
            id: 7,
            account: "shop".into(),
            accepted: 1,
            class: crate::config::Class::Marketing,
            route: None,
            request: Vec::new(),
            part_count: 2,
            wants_receipt: true,
            state: State::Accepted,
            parts: vec![PartRecord::default(); 2],
            not_before: 0,
            expires: 0,
            route_taken: String::new(),
            client_ref: None,
            deferred_by: None,
        }
    }

    /// `GET /v1/review`'s pages: none reads more than `max_scan` pending records, and
    /// together they list every held message once, oldest first.
    #[test]
    fn held_pages_read_a_bounded_part_of_the_pending_set() {
        use crate::store::Op;
        let store = crate::store::memory::MemoryStore::new();
        let ops: Vec<Op> = (1..=30)
            .map(|id| {
                let mut r = MessageRecord { id, ..record() };
                if [5, 25, 26].contains(&id) {
                    hold(&mut r, "word");
                }
                Op::Insert(std::sync::Arc::new(r))
            })
            .collect();
        store.commit(&ops).unwrap();
        let mut pages = Vec::new();
        let mut after = 0;
        loop {
            let (held, next) = held_page(&store, None, after, 1, 10).unwrap();
            let ids: Vec<u64> = held.iter().map(|e| e.id).collect();
            // Read from just after `after`: at most ten records on.
            assert!(
                ids.iter().all(|&id| id > after && id <= after + 10),
                "{ids:?}"
            );
            pages.push(ids);
            match next {
                Some(next) => after = next,
                None => break,
            }
            assert!(pages.len() < 10, "{pages:?}");
        }
        assert_eq!(pages.concat(), [5, 25, 26]);
        assert!(pages.iter().any(Vec::is_empty), "{pages:?}");
        // Another account's are left out.
        let (none, _) = held_page(&store, Some("other"), 0, 10, 100).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn a_held_record_is_pending_and_not_dispatchable() {
        let mut r = record();
        hold(&mut r, "法轮");
        assert_eq!(r.state, State::Held);
        assert!(!r.state.is_final());
        assert!(r.parts.iter().all(|p| p.state == State::Held));
        assert_eq!(held_word(&r), Some("法轮"));
    }

    #[test]
    fn release_makes_the_parts_sendable_once() {
        let mut r = record();
        hold(&mut r, "w");
        apply(&mut r, Action::Release, 5).unwrap();
        assert_eq!(r.state, State::Accepted);
        assert!(
            r.parts
                .iter()
                .all(|p| p.state == State::Accepted && p.error.is_none() && p.updated == 5)
        );
        assert_eq!(held_word(&r), None);
        assert!(apply(&mut r, Action::Refuse, 6).is_err());
    }

    #[test]
    fn refuse_makes_the_parts_rejected_with_the_content_code() {
        let mut r = record();
        hold(&mut r, "w");
        apply(&mut r, Action::Refuse, 5).unwrap();
        assert!(r.parts.iter().all(|p| p.state == State::Rejected
            && p.status == 0x403
            && p.error.as_deref() == Some("403")));
        // Settled by the caller.
        assert_eq!(r.state, State::Held);
    }

    #[test]
    fn a_part_awaiting_its_message_is_not_for_review_and_ends_with_its_message() {
        let mut r = record();
        await_parts(&mut r);
        assert!(awaits_parts(&r) && r.state == State::Held && !r.state.is_final());
        assert_eq!(held_word(&r), None, "not in review list");
        assert!(
            apply(&mut r, Action::Release, 5).is_err(),
            "not an operator's"
        );
        let mut released = r.clone();
        assert!(assembled(&mut released, &Whole::Release, 6));
        assert_eq!(released.state, State::Accepted);
        assert!(
            released
                .parts
                .iter()
                .all(|p| p.state == State::Accepted && p.error.is_none())
        );
        assert!(!assembled(&mut released, &Whole::Release, 7), "once");
        let mut refused = r.clone();
        let status = smppgate_protocol::command_status::CommandStatus(0x403);
        let whole = Whole::Refuse {
            status,
            rule: "content".into(),
            word: "w".into(),
        };
        assert!(assembled(&mut refused, &whole, 6));
        assert!(
            refused
                .parts
                .iter()
                .all(|p| p.state == State::Rejected && p.error.as_deref() == Some("403"))
        );
        let mut held = r;
        assert!(assembled(
            &mut held,
            &Whole::Hold {
                word: "法轮".into()
            },
            6
        ));
        assert_eq!(held_word(&held), Some("法轮"));
    }

    #[test]
    fn a_record_never_held_is_left_alone() {
        let mut r = record();
        assert!(apply(&mut r, Action::Release, 5).is_err());
        assert_eq!(r, record());
    }
}
