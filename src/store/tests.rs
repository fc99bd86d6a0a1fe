//! The [`Store`] contract, checked on [`FjallStore`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;

/// A directory removed on drop (no `tempfile` dependency for one helper).
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "smppgate-store-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn message(id: u64, account: &str, accepted: Millis) -> MessageRecord {
    MessageRecord {
        id,
        account: account.to_owned(),
        accepted,
        class: Class::Otp,
        route: None,
        request: vec![0x42; 200],
        part_count: 2,
        wants_receipt: true,
        state: State::Accepted,
        not_before: 0,
        expires: 0,
        route_taken: String::new(),
        client_ref: None,
        deferred_by: None,
        parts: vec![PartRecord::default(), PartRecord::default()],
    }
}

fn sent_part(carrier: &str, carrier_id: &str) -> PartRecord {
    PartRecord {
        state: State::Sent,
        carrier: Some(carrier.to_owned()),
        carrier_id: Some(carrier_id.to_owned()),
        status: 0,
        attempts: 1,
        error: None,
        updated: 5,
    }
}

fn push(account: &str, body: u8) -> Op {
    Op::OutboxPush(OutboxItem {
        seq: 0,
        account: account.to_owned(),
        deliver_sm: vec![body],
        queued: 1,
        attempts: 0,
    })
}

fn open(dir: &TempDir) -> FjallStore {
    FjallStore::open(dir.path(), true).unwrap()
}

#[test]
fn insert_get_and_reopen() {
    let dir = TempDir::new("reopen");
    let record = message(7, "acme", 1000);
    {
        let store = open(&dir);
        assert_eq!(store.get(7).unwrap(), None);
        assert_eq!(store.max_id().unwrap(), 0);
        store
            .commit(&[Op::Insert(std::sync::Arc::new(record.clone()))])
            .unwrap();
        assert_eq!(store.get(7).unwrap(), Some(record.clone()));
        assert_eq!(store.max_id().unwrap(), 7);
    }
    let store = open(&dir);
    assert_eq!(store.get(7).unwrap(), Some(record));
    assert_eq!(store.max_id().unwrap(), 7);
}

#[test]
fn second_open_is_refused_with_the_pid() {
    let dir = TempDir::new("lock");
    let _store = open(&dir);
    let error = FjallStore::open(dir.path(), true).unwrap_err().to_string();
    assert!(error.contains("in use by a running gateway"), "{error}");
    assert!(
        error.contains(&format!("pid {}", std::process::id())),
        "{error}"
    );
}

#[test]
fn parts_carrier_index_and_state() {
    let dir = TempDir::new("parts");
    let store = open(&dir);
    store
        .commit(&[Op::Insert(std::sync::Arc::new(message(1, "acme", 10)))])
        .unwrap();
    store
        .commit(&[
            Op::Part {
                id: 1,
                part: 1,
                record: sent_part("cmcc", "ab12"),
            },
            Op::CarrierId {
                carrier: "cmcc".to_owned(),
                carrier_id: "ab12".to_owned(),
                id: 1,
                part: 1,
            },
            Op::State {
                id: 1,
                state: State::Sent,
            },
        ])
        .unwrap();
    let record = store.get(1).unwrap().unwrap();
    assert_eq!(record.state, State::Sent);
    assert_eq!(record.parts[1], sent_part("cmcc", "ab12"));
    assert_eq!(record.parts[0], PartRecord::default());
    assert_eq!(store.by_carrier_id("cmcc", "ab12").unwrap(), Some((1, 1)));
    assert_eq!(store.by_carrier_id("cucc", "ab12").unwrap(), None);
    assert_eq!(store.by_carrier_id("cmcc", "ab1").unwrap(), None);
    // Updates for a message that is gone (a late receipt after expiry) change nothing.
    store
        .commit(&[Op::State {
            id: 99,
            state: State::Delivered,
        }])
        .unwrap();
    assert_eq!(store.get(99).unwrap(), None);
}

#[test]
fn a_batch_is_applied_together_and_ops_see_earlier_ones() {
    let dir = TempDir::new("batch");
    let store = open(&dir);
    // Insert and update the same message in one batch.
    store
        .commit(&[
            Op::Insert(std::sync::Arc::new(message(1, "acme", 10))),
            Op::Part {
                id: 1,
                part: 0,
                record: sent_part("cmcc", "x"),
            },
            Op::State {
                id: 1,
                state: State::Delivered,
            },
            Op::Insert(std::sync::Arc::new(message(2, "acme", 11))),
        ])
        .unwrap();
    let one = store.get(1).unwrap().unwrap();
    assert_eq!(one.state, State::Delivered);
    assert_eq!(one.parts[0].carrier_id.as_deref(), Some("x"));
    assert!(store.get(2).unwrap().is_some());
    assert_eq!(
        store
            .pending()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [2]
    );
    // A batch that fails while it is planned leaves nothing behind: the second op's key
    // is too long, so the first insert must not appear either.
    let error = store
        .commit(&[
            Op::Insert(std::sync::Arc::new(message(3, "acme", 12))),
            Op::CarrierId {
                carrier: "c".repeat(70_000),
                carrier_id: "x".to_owned(),
                id: 3,
                part: 0,
            },
        ])
        .unwrap_err();
    assert!(error.to_string().contains("65535"), "{error}");
    assert_eq!(store.get(3).unwrap(), None);
    assert_eq!(store.max_id().unwrap(), 2);
}

#[test]
fn pending_follows_state_and_survives_reopen() {
    let dir = TempDir::new("pending");
    {
        let store = open(&dir);
        let inserts: Vec<Op> = (1..=5)
            .map(|id| Op::Insert(std::sync::Arc::new(message(id, "a", id))))
            .collect();
        store.commit(&inserts).unwrap();
        store
            .commit(&[
                Op::State {
                    id: 2,
                    state: State::Sent,
                },
                Op::State {
                    id: 3,
                    state: State::Delivered,
                },
                Op::State {
                    id: 5,
                    state: State::Failed,
                },
            ])
            .unwrap();
    }
    let store = open(&dir);
    let pending: Vec<(u64, State)> = store
        .pending()
        .unwrap()
        .iter()
        .map(|r| (r.id, r.state))
        .collect();
    assert_eq!(
        pending,
        [(1, State::Accepted), (2, State::Sent), (4, State::Accepted)]
    );
}

#[test]
fn outbox_order_and_seq_across_reopen() {
    let dir = TempDir::new("outbox");
    {
        let store = open(&dir);
        store
            .commit(&[push("a", 1), push("b", 10), push("a", 2)])
            .unwrap();
        store.commit(&[push("a", 3)]).unwrap();
        let items = store.outbox("a", 10).unwrap();
        assert_eq!(
            items
                .iter()
                .map(|i| (i.seq, i.deliver_sm[0]))
                .collect::<Vec<_>>(),
            [(1, 1), (2, 2), (3, 3)]
        );
        assert_eq!(store.outbox("a", 2).unwrap().len(), 2);
        assert_eq!(store.outbox("b", 10).unwrap()[0].seq, 1);
        // Acknowledge everything of "a": its seq must still go on rising.
        store
            .commit(&[
                Op::OutboxAck {
                    account: "a".to_owned(),
                    seq: 1,
                },
                Op::OutboxAck {
                    account: "a".to_owned(),
                    seq: 2,
                },
                Op::OutboxAck {
                    account: "a".to_owned(),
                    seq: 3,
                },
            ])
            .unwrap();
        assert!(store.outbox("a", 10).unwrap().is_empty());
    }
    let store = open(&dir);
    store.commit(&[push("a", 4)]).unwrap();
    let items = store.outbox("a", 10).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].seq, 4);
    assert_eq!(items[0].account, "a");
    assert_eq!(store.outbox("b", 10).unwrap().len(), 1);
    assert!(store.outbox("", 10).unwrap().is_empty());
}

#[test]
fn list_filters_newest_first() {
    let dir = TempDir::new("list");
    let store = open(&dir);
    let mut ops = Vec::new();
    for id in 1..=10 {
        let account = if id % 2 == 0 { "even" } else { "odd" };
        ops.push(Op::Insert(std::sync::Arc::new(message(
            id,
            account,
            id * 100,
        ))));
    }
    ops.push(Op::State {
        id: 9,
        state: State::Delivered,
    });
    store.commit(&ops).unwrap();
    let ids = |filter: ListFilter| -> Vec<u64> {
        store.list(&filter).unwrap().iter().map(|r| r.id).collect()
    };
    assert_eq!(
        ids(ListFilter::default()),
        (1..=10).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        ids(ListFilter {
            limit: 3,
            ..ListFilter::default()
        }),
        [10, 9, 8]
    );
    assert_eq!(
        ids(ListFilter {
            account: Some("odd".to_owned()),
            limit: 2,
            ..ListFilter::default()
        }),
        [9, 7]
    );
    assert_eq!(
        ids(ListFilter {
            since: Some(800),
            ..ListFilter::default()
        }),
        [10, 9, 8]
    );
    assert_eq!(
        ids(ListFilter {
            state: Some(State::Delivered),
            ..ListFilter::default()
        }),
        [9]
    );
}

/// Every page of `filter` from the newest on, through `next`, each read from at most
/// `max_scan` records.
fn pages(
    store: &dyn Store,
    filter: &ListFilter,
    max_scan: usize,
    keep: &dyn Fn(&MessageRecord) -> bool,
) -> Vec<Vec<u64>> {
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_page(&PageRead {
                filter,
                before,
                max_scan,
                keep,
            })
            .unwrap();
        pages.push(page.records.iter().map(|r| r.id).collect());
        match page.next {
            Some(next) => before = Some(next),
            None => return pages,
        }
        assert!(pages.len() <= 200, "pages without end");
    }
}

/// `list_page` (the HTTP API's listing): pages follow each other without a gap or an
/// overlap, none reads more than `max_scan` records (a narrow filter gives short or empty
/// pages that still go on), and `since` ends the listing.
fn list_pages(store: &dyn Store) {
    let ops: Vec<Op> = (1..=100)
        .map(|id| {
            let account = if id % 2 == 0 { "even" } else { "odd" };
            Op::Insert(Arc::new(message(id, account, id * 100)))
        })
        .collect();
    store.commit(&ops).unwrap();
    let all = |_: &MessageRecord| true;
    let odd = ListFilter {
        account: Some("odd".to_owned()),
        limit: 7,
        ..ListFilter::default()
    };
    let odd_pages = pages(store, &odd, 10, &all);
    for page in &odd_pages {
        assert!(page.len() <= 5, "{page:?}: more than 10 records read");
    }
    let listed: Vec<u64> = odd_pages.concat();
    assert_eq!(
        listed,
        (1..=100).rev().filter(|id| id % 2 == 1).collect::<Vec<_>>()
    );
    // Full pages where the scan allows: limit 7 of 50 odd messages in 100 records read.
    let full = pages(store, &odd, 1_000, &all);
    assert_eq!(
        full.iter().map(Vec::len).collect::<Vec<_>>(),
        [7, 7, 7, 7, 7, 7, 7, 1]
    );
    // Nothing matches: ten empty pages of ten records read each, then the end.
    let none = ListFilter {
        state: Some(State::Delivered),
        limit: 50,
        ..ListFilter::default()
    };
    let empty = pages(store, &none, 10, &all);
    assert!(empty.iter().all(Vec::is_empty));
    assert!((10..=11).contains(&empty.len()), "{} pages", empty.len());
    // `keep` (the API's destination filter) and `since`.
    let fifths = |r: &MessageRecord| r.id % 5 == 0;
    let recent = ListFilter {
        since: Some(5_000),
        limit: 3,
        ..ListFilter::default()
    };
    assert_eq!(
        pages(store, &recent, 1_000, &fifths),
        [
            vec![100, 95, 90],
            vec![85, 80, 75],
            vec![70, 65, 60],
            vec![55, 50]
        ]
    );
}

#[test]
fn list_pages_in_fjall() {
    let dir = TempDir::new("list-pages");
    list_pages(&open(&dir));
}

#[test]
fn list_pages_in_memory() {
    list_pages(&memory::MemoryStore::new());
}

#[test]
fn expire_removes_old_final_messages_and_their_index() {
    let dir = TempDir::new("expire");
    let store = open(&dir);
    let mut ops = Vec::new();
    // 1..=3000 old: odd ones delivered (with a carrier id), even ones still pending;
    // 3001..=3010 new and delivered.
    for id in 1..=3010u64 {
        let accepted = if id <= 3000 { 1_000 } else { 50_000 };
        ops.push(Op::Insert(std::sync::Arc::new(message(id, "a", accepted))));
        if id % 2 == 1 || id > 3000 {
            let carrier_id = format!("c{id}");
            ops.push(Op::Part {
                id,
                part: 0,
                record: sent_part("cmcc", &carrier_id),
            });
            ops.push(Op::CarrierId {
                carrier: "cmcc".to_owned(),
                carrier_id,
                id,
                part: 0,
            });
            ops.push(Op::State {
                id,
                state: State::Delivered,
            });
        }
    }
    store.commit(&ops).unwrap();
    assert_eq!(store.expire(10_000).unwrap(), 1500);
    assert_eq!(store.get(1).unwrap(), None);
    assert_eq!(store.by_carrier_id("cmcc", "c1").unwrap(), None);
    assert!(store.get(2).unwrap().is_some());
    assert_eq!(
        store.by_carrier_id("cmcc", "c3001").unwrap(),
        Some((3001, 0))
    );
    assert!(store.get(3010).unwrap().is_some());
    assert_eq!(store.pending().unwrap().len(), 1500);
    // Nothing more to do; max_id is not lowered.
    assert_eq!(store.expire(10_000).unwrap(), 0);
    assert_eq!(store.max_id().unwrap(), 3010);
}

/// Retention removes a message's carrier-id index entries under the readings the writer
/// indexed (a decimal id "12345" as "3039" and, read as hex too, "12345"; an upper-case
/// hex id as lower case), not only under the id as the carrier wrote it: before, those
/// entries stayed for ever, one per part. An entry a newer message took over (a carrier
/// that reuses ids) stays.
#[test]
fn expire_removes_the_carrier_index_under_every_reading() {
    let dir = TempDir::new("expire-readings");
    let store = open(&dir);
    let index = |carrier_id: &str, id: u64| Op::CarrierId {
        carrier: "cmcc".to_owned(),
        carrier_id: carrier_id.to_owned(),
        id,
        part: 0,
    };
    let mut ops = Vec::new();
    for (id, raw) in [(1u64, "12345"), (2, "00FF")] {
        ops.push(Op::Insert(std::sync::Arc::new(message(id, "a", 1_000))));
        ops.push(Op::Part {
            id,
            part: 0,
            record: sent_part("cmcc", raw),
        });
        ops.push(Op::State {
            id,
            state: State::Delivered,
        });
    }
    // As the writer indexes them: "12345" on an `auto` link, "00FF" on a hex one.
    ops.extend([index("3039", 1), index("12345", 1), index("ff", 2)]);
    // A newer message the carrier gave "3039" again.
    ops.push(Op::Insert(std::sync::Arc::new(message(3, "a", 50_000))));
    store.commit(&ops).unwrap();
    store.commit(&[index("3039", 3)]).unwrap();
    assert_eq!(store.expire(10_000).unwrap(), 2);
    assert_eq!(store.by_carrier_id("cmcc", "12345").unwrap(), None);
    assert_eq!(store.by_carrier_id("cmcc", "ff").unwrap(), None);
    assert_eq!(store.by_carrier_id("cmcc", "3039").unwrap(), Some((3, 0)));
}

/// The first byte of an `updates` value of the first layout.
const UPDATE_V1_FOR_TESTS: u8 = 1;

/// The record as the layout before `updates` wrote it (the whole record under `messages`
/// at every change): postcard of the record, then its two tails.
fn previous_layout(record: &MessageRecord) -> Vec<u8> {
    let tail = RecordTail {
        expires: record.expires,
        route_taken: record.route_taken.clone(),
    };
    let tail2 = RecordTail2 {
        client_ref: record.client_ref.clone(),
        deferred_by: record.deferred_by.clone(),
    };
    let bytes = postcard::to_allocvec(record).unwrap();
    let bytes = postcard::to_extend(&tail, bytes).unwrap();
    postcard::to_extend(&tail2, bytes).unwrap()
}

fn full_record(id: u64) -> MessageRecord {
    MessageRecord {
        route: Some("r".to_owned()),
        expires: 99,
        route_taken: "all".to_owned(),
        client_ref: Some("ref".to_owned()),
        deferred_by: Some("quiet_hours".to_owned()),
        ..message(id, "a", 1_000)
    }
}

/// A store written by the previous layout (whole records under `messages`, no `updates`)
/// reads the same, and takes updates on top: the encoding of a record has not changed.
#[test]
fn a_record_of_the_previous_layout_still_reads_and_updates() {
    let dir = TempDir::new("previous-layout");
    let mut sent = full_record(1);
    sent.state = State::Sent;
    sent.parts[0] = sent_part("cmcc", "x1");
    assert_eq!(keys::encode_message(&sent).unwrap(), previous_layout(&sent));
    {
        let store = open(&dir);
        let open = store.handles().unwrap();
        open.messages
            .insert(keys::message(1), previous_layout(&sent))
            .unwrap();
        open.pending.insert(keys::message(1), Vec::new()).unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.get(1).unwrap().as_ref(), Some(&sent));
    assert_eq!(store.pending().unwrap(), vec![sent.clone()]);
    assert_eq!(
        store.list(&ListFilter::default()).unwrap(),
        vec![sent.clone()]
    );
    assert_eq!(store.max_id().unwrap(), 1);
    let mut delivered = sent.clone();
    delivered.state = State::Delivered;
    delivered.parts[0].state = State::Delivered;
    store
        .commit(&[Op::Put(Arc::new(delivered.clone()))])
        .unwrap();
    assert_eq!(store.get(1).unwrap(), Some(delivered));
    assert!(store.pending().unwrap().is_empty());
}

/// A change after acceptance is written as an update without the request (about half a
/// record), and the record read back after a restart is the accepted one with the update
/// applied: request from the first write, everything else from the update.
#[test]
fn updates_leave_out_the_request_and_apply_after_a_restart() {
    let dir = TempDir::new("updates");
    let accepted = full_record(7);
    let mut sent = accepted.clone();
    sent.state = State::Sent;
    sent.parts[1] = sent_part("cmcc", "x7");
    sent.not_before = 5;
    {
        let store = open(&dir);
        store
            .commit(&[Op::Insert(Arc::new(accepted.clone()))])
            .unwrap();
        store.commit(&[Op::Put(Arc::new(sent.clone()))]).unwrap();
        let open = store.handles().unwrap();
        let whole = open.messages.get(keys::message(7)).unwrap().unwrap();
        let update = open.updates.get(keys::message(7)).unwrap().unwrap();
        assert_eq!(keys::decode_message(&whole).unwrap(), accepted);
        assert!(
            update.len() + accepted.request.len() <= whole.len() + 8,
            "update of {} bytes for a record of {}",
            update.len(),
            whole.len()
        );
    }
    let store = open(&dir);
    assert_eq!(store.get(7).unwrap().as_ref(), Some(&sent));
    assert_eq!(store.pending().unwrap(), vec![sent.clone()]);
    assert_eq!(
        store.list(&ListFilter::default()).unwrap(),
        vec![sent.clone()]
    );
    // A part update after the restart reads the merged record and writes an update.
    store
        .commit(&[
            Op::Part {
                id: 7,
                part: 0,
                record: sent_part("cmcc", "x8"),
            },
            Op::State {
                id: 7,
                state: State::Delivered,
            },
        ])
        .unwrap();
    let mut delivered = sent;
    delivered.parts[0] = sent_part("cmcc", "x8");
    delivered.state = State::Delivered;
    assert_eq!(store.get(7).unwrap(), Some(delivered));
    assert!(store.pending().unwrap().is_empty());
    // An Insert and a Put of the same message in one commit: one whole record, no update.
    let mut other = full_record(8);
    store
        .commit(&[Op::Insert(Arc::new(other.clone())), {
            other.state = State::Sent;
            Op::Put(Arc::new(other.clone()))
        }])
        .unwrap();
    let open = store.handles().unwrap();
    assert!(open.updates.get(keys::message(8)).unwrap().is_none());
    assert_eq!(store.get(8).unwrap(), Some(other));
}

/// Expiry removes a message's update with it, keeps the highest id across a restart once
/// the newest messages are gone, and an update of an unknown layout is an error.
#[test]
fn retention_removes_updates_too_and_keeps_the_highest_id() {
    let dir = TempDir::new("expire-updates");
    {
        let store = open(&dir);
        let mut ops = Vec::new();
        for id in 1..=20u64 {
            ops.push(Op::Insert(Arc::new(message(id, "a", 1_000))));
        }
        store.commit(&ops).unwrap();
        let mut ops = Vec::new();
        for id in 1..=20u64 {
            let mut record = message(id, "a", 1_000);
            // Even ids delivered, odd ones sent and still waiting for a receipt.
            record.state = if id % 2 == 0 {
                State::Delivered
            } else {
                State::Sent
            };
            ops.push(Op::Put(Arc::new(record)));
        }
        store.commit(&ops).unwrap();
        assert_eq!(store.expire(10_000).unwrap(), 10);
        let open = store.handles().unwrap();
        let left: Vec<u64> = open
            .updates
            .iter()
            .map(|entry| keys::message_id(&entry.unwrap().0).unwrap())
            .collect();
        assert_eq!(left, (1..=19).step_by(2).collect::<Vec<_>>());
        // An update left behind without its message (a write that raced an expiry) goes
        // with the next expiry that passes its id.
        let mut orphan = Vec::from([UPDATE_V1_FOR_TESTS]);
        orphan.extend(keys::encode_message(&message(2, "a", 1_000)).unwrap());
        open.updates.insert(keys::message(2), orphan).unwrap();
        // The last message goes too: the highest id must survive it.
        let mut last = message(19, "a", 1_000);
        last.state = State::Failed;
        store.commit(&[Op::Put(Arc::new(last))]).unwrap();
        let mut ops = Vec::new();
        for id in (1..=17u64).step_by(2) {
            ops.push(Op::State {
                id,
                state: State::Delivered,
            });
        }
        store.commit(&ops).unwrap();
        assert_eq!(store.expire(10_000).unwrap(), 10);
        assert_eq!(open.updates.iter().count(), 0);
        assert_eq!(open.messages.iter().count(), 0);
    }
    let store = open(&dir);
    assert_eq!(store.max_id().unwrap(), 20);
    store
        .commit(&[Op::Insert(Arc::new(message(21, "a", 1_000)))])
        .unwrap();
    let open = store.handles().unwrap();
    open.updates.insert(keys::message(21), vec![9, 1]).unwrap();
    assert!(store.get(21).is_err());
}

#[test]
fn corrupt_record_is_an_error_not_a_panic() {
    let dir = TempDir::new("corrupt");
    let store = open(&dir);
    store
        .commit(&[Op::Insert(std::sync::Arc::new(message(1, "a", 1)))])
        .unwrap();
    // Overwrite the record with garbage through the engine itself.
    let open = store.handles().unwrap();
    open.messages
        .insert(keys::message(1), vec![0xff, 0xff, 0xff])
        .unwrap();
    open.pending.insert(keys::message(1), Vec::new()).unwrap();
    assert!(store.get(1).is_err());
    assert!(store.pending().is_err());
    assert!(store.list(&ListFilter::default()).is_err());
    open.carrier
        .insert(keys::carrier("c", "x").unwrap(), vec![1, 2])
        .unwrap();
    assert!(store.by_carrier_id("c", "x").is_err());
}

/// Fails every commit while `failing` is set, every read of a record while
/// `failing_reads` is; counts commits.
pub(crate) struct FlakyStore {
    pub(crate) inner: Arc<dyn Store>,
    pub(crate) failing: AtomicBool,
    pub(crate) failing_reads: AtomicBool,
    pub(crate) commits: AtomicUsize,
}

impl Store for FlakyStore {
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        if self.failing.load(Ordering::Acquire) {
            return Err(StoreError::new("injected: no space left on device"));
        }
        self.inner.commit(ops)
    }
    fn get(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        if self.failing_reads.load(Ordering::Acquire) {
            return Err(StoreError::new("injected: I/O error"));
        }
        self.inner.get(id)
    }
    fn by_carrier_id(&self, c: &str, i: &str) -> Result<Option<(u64, u16)>, StoreError> {
        self.inner.by_carrier_id(c, i)
    }
    fn pending_page(&self, after: u64, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        self.inner.pending_page(after, limit)
    }
    fn list_page(&self, read: &PageRead<'_>) -> Result<ListPage, StoreError> {
        self.inner.list_page(read)
    }
    fn outbox(&self, account: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.outbox(account, limit)
    }
    fn outbox_after(
        &self,
        account: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.outbox_after(account, after, limit)
    }
    fn parked(&self, account: Option<&str>, limit: usize) -> Result<Vec<ParkedItem>, StoreError> {
        self.inner.parked(account, limit)
    }
    fn expire(&self, before: Millis) -> Result<usize, StoreError> {
        self.inner.expire(before)
    }
    fn max_id(&self) -> Result<u64, StoreError> {
        self.inner.max_id()
    }
    fn suppression(
        &self,
        scope: &ScopeKey,
        number: &str,
    ) -> Result<Option<Suppression>, StoreError> {
        self.inner.suppression(scope, number)
    }
    fn suppressions(
        &self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.suppressions(scope, visit)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_ten_thousand_concurrent_callers() {
    let dir = TempDir::new("group");
    let store: Arc<dyn Store> = Arc::new(open(&dir));
    let group = Arc::new(GroupCommit::start(Arc::clone(&store), 4096));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 1..=10_000u64 {
        let group = Arc::clone(&group);
        tasks.spawn(async move {
            group
                .commit(vec![Op::Insert(std::sync::Arc::new(message(id, "a", id)))])
                .await
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        outcome.unwrap().unwrap();
    }
    let stats = group.stats();
    assert_eq!(stats.ops, 10_000);
    assert_eq!(stats.requests, 10_000);
    assert_eq!(stats.failed_commits, 0);
    assert!(stats.batch_size.max() > 1, "no batching: {}", stats.commits);
    assert!(stats.commits < 10_000);
    assert_eq!(store.max_id().unwrap(), 10_000);
    assert!(store.get(5_000).unwrap().is_some());
    // commit_nowait is applied by shutdown at the latest.
    group
        .commit_nowait(vec![Op::State {
            id: 1,
            state: State::Delivered,
        }])
        .await
        .unwrap();
    Arc::into_inner(group).unwrap().shutdown();
    assert_eq!(store.get(1).unwrap().unwrap().state, State::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_fails_the_whole_batch_then_recovers() {
    let dir = TempDir::new("flaky");
    let flaky = Arc::new(FlakyStore {
        failing_reads: AtomicBool::new(false),
        inner: Arc::new(open(&dir)),
        failing: AtomicBool::new(true),
        commits: AtomicUsize::new(0),
    });
    let group = Arc::new(GroupCommit::start(flaky.clone(), 64));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 1..=200u64 {
        let group = Arc::clone(&group);
        tasks.spawn(async move {
            group
                .commit(vec![Op::Insert(std::sync::Arc::new(message(id, "a", id)))])
                .await
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        let error = outcome.unwrap().unwrap_err();
        assert!(error.to_string().contains("no space left"), "{error}");
    }
    assert!(flaky.commits.load(Ordering::Relaxed) >= 4); // ≤ 64 ops a batch
    assert_eq!(flaky.get(1).unwrap(), None);
    // The disk has room again: the next batch goes through.
    flaky.failing.store(false, Ordering::Release);
    group
        .commit(vec![Op::Insert(std::sync::Arc::new(message(1, "a", 1)))])
        .await
        .unwrap();
    assert!(flaky.get(1).unwrap().is_some());
    let stats = group.stats();
    assert_eq!(stats.ops, 1);
    assert_eq!(stats.requests, 201);
    assert!(stats.failed_commits >= 4);
}

#[test]
fn retention_removes_only_old_final_messages() {
    let dir = TempDir::new("retention");
    let store = open(&dir);
    let day = 24 * 3600 * 1000;
    let now = 10 * day;
    store
        .commit(&[
            Op::Insert(std::sync::Arc::new(message(1, "a", now - 8 * day))),
            Op::State {
                id: 1,
                state: State::Delivered,
            },
            Op::Insert(std::sync::Arc::new(message(2, "a", now - 8 * day))),
            Op::Insert(std::sync::Arc::new(message(3, "a", now - day))),
            Op::State {
                id: 3,
                state: State::Failed,
            },
        ])
        .unwrap();
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    assert_eq!(expire_once(&store, week, now).unwrap(), 1);
    assert_eq!(store.get(1).unwrap(), None);
    assert!(store.get(2).unwrap().is_some()); // not final: validity handles it
    assert!(store.get(3).unwrap().is_some()); // too recent
}

#[test]
fn outbox_reads_resume_after_acknowledged_items() {
    let dir = TempDir::new("outbox-low");
    let store = open(&dir);
    let ack = |seq| Op::OutboxAck {
        account: "a".to_owned(),
        seq,
    };
    let seqs = |store: &FjallStore, limit| -> Vec<u64> {
        store
            .outbox("a", limit)
            .unwrap()
            .iter()
            .map(|i| i.seq)
            .collect()
    };
    assert!(seqs(&store, 10).is_empty());
    store
        .commit(&[push("a", 1), push("a", 2), push("a", 3)])
        .unwrap();
    assert!(seqs(&store, 0).is_empty());
    assert_eq!(seqs(&store, 1), [1]);
    // Out of order: 2 first, then 1.
    store.commit(&[ack(2)]).unwrap();
    assert_eq!(seqs(&store, 10), [1, 3]);
    store.commit(&[ack(1)]).unwrap();
    assert_eq!(seqs(&store, 10), [3]);
    store.commit(&[ack(3)]).unwrap();
    assert!(seqs(&store, 10).is_empty());
    store.commit(&[push("a", 4)]).unwrap();
    assert_eq!(seqs(&store, 10), [4]);
    store.commit(&[push("a", 5), ack(4)]).unwrap();
    assert_eq!(seqs(&store, 10), [5]);
}

/// `Op::Put` on both stores: a blind whole-record write; the pending set follows a final
/// state; a Put after a Part in one batch wins, a Part after a Put applies on top of it.
#[test]
fn put_replaces_the_record_and_keeps_pending_in_step() {
    let dir = TempDir::new("put");
    let fjall = open(&dir);
    let memory = memory::MemoryStore::new();
    for store in [&fjall as &dyn Store, &memory] {
        store
            .commit(&[
                Op::Insert(std::sync::Arc::new(message(1, "acme", 10))),
                Op::Insert(std::sync::Arc::new(message(2, "acme", 11))),
            ])
            .unwrap();
        let mut sent = message(1, "acme", 10);
        sent.state = State::Sent;
        sent.parts[0] = sent_part("cmcc", "a1");
        sent.parts[1] = sent_part("cmcc", "a2");
        store.commit(&[Op::Put(Arc::new(sent.clone()))]).unwrap();
        assert_eq!(store.get(1).unwrap(), Some(sent.clone()));
        let pending: Vec<u64> = store.pending().unwrap().iter().map(|r| r.id).collect();
        assert_eq!(pending, [1, 2]);

        // A Part after a Put in the same batch applies to the Put's record.
        let mut delivered = sent.clone();
        delivered.parts[0].state = State::Delivered;
        delivered.state = State::Sent;
        store
            .commit(&[
                Op::Put(Arc::new(delivered.clone())),
                Op::Part {
                    id: 1,
                    part: 1,
                    record: PartRecord {
                        state: State::Delivered,
                        ..sent_part("cmcc", "a2")
                    },
                },
                Op::State {
                    id: 1,
                    state: State::Delivered,
                },
            ])
            .unwrap();
        let record = store.get(1).unwrap().unwrap();
        assert_eq!(record.state, State::Delivered);
        assert_eq!(record.parts[0].state, State::Delivered);
        assert_eq!(record.parts[1].state, State::Delivered);
        let pending: Vec<u64> = store.pending().unwrap().iter().map(|r| r.id).collect();
        assert_eq!(pending, [2]);

        // A final Put takes the message off the pending set.
        let mut failed = message(2, "acme", 11);
        failed.state = State::Failed;
        store.commit(&[Op::Put(Arc::new(failed.clone()))]).unwrap();
        assert!(store.pending().unwrap().is_empty());
        assert_eq!(store.get(2).unwrap(), Some(failed));
    }
    // What fjall wrote survives a reopen.
    drop(fjall);
    let fjall = open(&dir);
    assert_eq!(fjall.get(1).unwrap().unwrap().state, State::Delivered);
    assert!(fjall.pending().unwrap().is_empty());
}

fn ack(account: &str, seq: u64) -> Op {
    Op::OutboxAck {
        account: account.to_owned(),
        seq,
    }
}

fn park(account: &str, seq: u64, attempts: u32) -> Op {
    Op::OutboxPark {
        account: account.to_owned(),
        seq,
        attempts,
        status: 0x64,
        at: 77,
    }
}

/// The cursor read, parking and replay, on both engines (fjall across a reopen).
fn outbox_cursor_park_and_replay(store: &dyn Store) {
    store
        .commit(&[push("a", 1), push("a", 2), push("a", 3), push("b", 9)])
        .unwrap();
    store.commit(&[push("a", 4)]).unwrap();
    let bodies = |items: &[OutboxItem]| items.iter().map(|i| i.deliver_sm[0]).collect::<Vec<_>>();
    assert_eq!(
        bodies(&store.outbox_after("a", 0, 10).unwrap()),
        [1, 2, 3, 4]
    );
    assert_eq!(bodies(&store.outbox_after("a", 2, 10).unwrap()), [3, 4]);
    assert_eq!(bodies(&store.outbox_after("a", 1, 2).unwrap()), [2, 3]);
    assert!(store.outbox_after("a", 4, 10).unwrap().is_empty());
    assert!(store.outbox_after("a", u64::MAX, 10).unwrap().is_empty());

    // Parking moves the item out of the outbox, with its attempts and status; parking an
    // item already acknowledged does nothing.
    store
        .commit(&[
            park("a", 2, 3),
            ack("a", 1),
            park("a", 3, 5),
            park("a", 1, 1),
        ])
        .unwrap();
    assert_eq!(bodies(&store.outbox_after("a", 0, 10).unwrap()), [4]);
    let parked = store.parked(Some("a"), 10).unwrap();
    assert_eq!(
        parked
            .iter()
            .map(|p| (
                p.item.seq,
                p.item.deliver_sm[0],
                p.item.attempts,
                p.status,
                p.parked
            ))
            .collect::<Vec<_>>(),
        [(2, 2, 3, 0x64, 77), (3, 3, 5, 0x64, 77)]
    );
    assert!(store.parked(Some("b"), 10).unwrap().is_empty());
    assert!(store.parked(Some(""), 10).unwrap().is_empty());
    store.commit(&[push("b", 10)]).unwrap();
    store.commit(&[park("b", 2, 1)]).unwrap();
    assert_eq!(store.parked(None, 10).unwrap().len(), 3);
    assert_eq!(store.parked(None, 2).unwrap().len(), 2);

    // Replay: to the end of the queue, fresh seqs, attempts from zero; "b" untouched.
    store
        .commit(&[Op::OutboxReplay {
            account: "a".to_owned(),
        }])
        .unwrap();
    assert!(store.parked(Some("a"), 10).unwrap().is_empty());
    assert_eq!(store.parked(Some("b"), 10).unwrap().len(), 1);
    let items = store.outbox_after("a", 4, 10).unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| (i.seq, i.deliver_sm[0], i.attempts))
            .collect::<Vec<_>>(),
        [(5, 2, 0), (6, 3, 0)]
    );
    assert!(items.iter().all(|i| i.account == "a" && i.queued == 1));
    // A parked item dropped (past the retention); dropping one not there changes nothing.
    store.commit(&[push("c", 20)]).unwrap();
    let seq = store.outbox_after("c", 0, 1).unwrap()[0].seq;
    store.commit(&[park("c", seq, 1)]).unwrap();
    assert_eq!(store.parked(Some("c"), 10).unwrap().len(), 1);
    let drop = |seq| Op::ParkedDrop {
        account: "c".to_owned(),
        seq,
    };
    store.commit(&[drop(seq), drop(99)]).unwrap();
    assert!(store.parked(Some("c"), 10).unwrap().is_empty());
    assert_eq!(store.parked(Some("b"), 10).unwrap().len(), 1);
}

#[test]
fn outbox_cursor_park_and_replay_in_memory() {
    outbox_cursor_park_and_replay(&memory::MemoryStore::new());
}

#[test]
fn outbox_cursor_park_and_replay_on_fjall_survive_reopen() {
    let dir = TempDir::new("parked");
    {
        let store = open(&dir);
        outbox_cursor_park_and_replay(&store);
        store.commit(&[park("a", 5, 2)]).unwrap();
    }
    let store = open(&dir);
    let parked = store.parked(None, 10).unwrap();
    assert_eq!(
        parked
            .iter()
            .map(|p| (p.item.account.as_str(), p.item.seq, p.item.deliver_sm[0]))
            .collect::<Vec<_>>(),
        [("a", 5, 2), ("b", 2, 10)]
    );
    assert_eq!(
        store
            .outbox_after("a", 0, 10)
            .unwrap()
            .iter()
            .map(|i| i.seq)
            .collect::<Vec<_>>(),
        [4, 6]
    );
    // Seqs go on rising after a replay and a reopen.
    store
        .commit(&[Op::OutboxReplay {
            account: "a".to_owned(),
        }])
        .unwrap();
    assert_eq!(store.outbox_after("a", 6, 10).unwrap()[0].seq, 7);
}

fn suppressed(scope: ScopeKey, number: &str, since: Millis) -> Suppression {
    Suppression {
        scope,
        number: number.to_owned(),
        since,
        source: SuppressionSource::Mo {
            carrier: "cmcc".to_owned(),
            keyword: "退订".to_owned(),
        },
    }
}

fn all_suppressions(store: &dyn Store, scope: Option<&ScopeKey>) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    store
        .suppressions(scope, &mut |entry| {
            seen.push((entry.scope.to_string(), entry.number));
            true
        })
        .unwrap();
    seen
}

/// Add, replace, remove, look up and list per scope; one scope's entries never show in
/// another's (not even an account whose name starts another's).
pub(super) fn suppression_list(store: &dyn Store) {
    let shop = ScopeKey::Account("shop".to_owned());
    let shop2 = ScopeKey::Account("shop2".to_owned());
    let sender = ScopeKey::Sender {
        account: "shop".to_owned(),
        sender: "10690001".to_owned(),
    };
    store
        .commit(&[
            Op::Suppress(suppressed(shop.clone(), "8613800138000", 5)),
            Op::Suppress(suppressed(shop2.clone(), "8613800138001", 6)),
            Op::Suppress(suppressed(sender.clone(), "8613800138000", 7)),
            Op::Suppress(suppressed(ScopeKey::Global, "447700900123", 8)),
        ])
        .unwrap();
    let entry = store.suppression(&shop, "8613800138000").unwrap().unwrap();
    assert_eq!(entry, suppressed(shop.clone(), "8613800138000", 5));
    assert!(store.suppression(&shop, "8613800138001").unwrap().is_none());
    assert!(
        store
            .suppression(&shop2, "8613800138000")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        all_suppressions(store, Some(&shop)),
        [("account:shop".to_owned(), "8613800138000".to_owned())]
    );
    assert_eq!(all_suppressions(store, None).len(), 4);
    // A second add replaces (newer since, other source); a remove of a missing entry is
    // nothing; removing takes it off that scope only.
    store
        .commit(&[
            Op::Suppress(Suppression {
                source: SuppressionSource::Cli,
                ..suppressed(shop.clone(), "8613800138000", 9)
            }),
            Op::Unsuppress {
                scope: shop2.clone(),
                number: "1".to_owned(),
            },
        ])
        .unwrap();
    let entry = store.suppression(&shop, "8613800138000").unwrap().unwrap();
    assert_eq!((entry.since, entry.source), (9, SuppressionSource::Cli));
    store
        .commit(&[Op::Unsuppress {
            scope: shop.clone(),
            number: "8613800138000".to_owned(),
        }])
        .unwrap();
    assert!(store.suppression(&shop, "8613800138000").unwrap().is_none());
    assert!(
        store
            .suppression(&sender, "8613800138000")
            .unwrap()
            .is_some()
    );
    // The visitor stops when told.
    let mut calls = 0;
    store
        .suppressions(None, &mut |_| {
            calls += 1;
            false
        })
        .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn suppression_list_in_memory() {
    suppression_list(&memory::MemoryStore::new());
}

#[test]
fn suppression_list_on_fjall_survives_reopen() {
    let dir = TempDir::new("suppressions");
    {
        let store = open(&dir);
        suppression_list(&store);
    }
    let store = open(&dir);
    assert_eq!(
        all_suppressions(&store, None),
        [
            ("account:shop2".to_owned(), "8613800138001".to_owned()),
            ("global".to_owned(), "447700900123".to_owned()),
            (
                "sender:shop/10690001".to_owned(),
                "8613800138000".to_owned()
            ),
        ]
    );
    // A corrupt value is an error, not a panic.
    let open = store.handles().unwrap();
    open.suppressions
        .insert(
            suppression::key(&ScopeKey::Global, "1").unwrap(),
            vec![0xff; 3],
        )
        .unwrap();
    assert!(store.suppression(&ScopeKey::Global, "1").is_err());
    assert!(store.suppressions(None, &mut |_| true).is_err());
}

/// The record as the first encoding wrote it (frozen: do not change this copy).
#[derive(serde::Serialize)]
struct FirstEncoding {
    id: u64,
    account: String,
    accepted: Millis,
    class: Class,
    route: Option<String>,
    #[serde(with = "super::raw_bytes")]
    request: Vec<u8>,
    part_count: u16,
    wants_receipt: bool,
    state: State,
    parts: Vec<PartRecord>,
    not_before: Millis,
}

#[test]
fn a_record_of_the_first_encoding_still_decodes_and_the_tail_round_trips() {
    let old = FirstEncoding {
        id: 9,
        account: "old".to_owned(),
        accepted: 1_700_000_000_000,
        class: Class::Marketing,
        route: Some("cn".to_owned()),
        request: vec![1, 2, 3],
        part_count: 1,
        wants_receipt: true,
        state: State::Sent,
        parts: vec![sent_part("c1", "X1")],
        not_before: 5,
    };
    let bytes = postcard::to_stdvec(&old).unwrap();
    let read = keys::decode_message(&bytes).unwrap();
    assert_eq!((read.id, read.account.as_str()), (9, "old"));
    assert_eq!((read.state, read.not_before), (State::Sent, 5));
    assert_eq!(read.parts, old.parts);
    assert_eq!((read.expires, read.route_taken.as_str()), (0, ""));

    let mut new = message(10, "new", 1_000);
    new.expires = 99_000;
    new.route_taken = "cn-mobile".to_owned();
    let bytes = keys::encode_message(&new).unwrap();
    assert_eq!(keys::decode_message(&bytes).unwrap(), new);
    // The first encoding is a prefix of the new one: an older build reads it too.
    assert!(bytes.starts_with(&keys::encode(&new).unwrap()));
    // A tail cut inside a field is an error, never a panic (the last two octets here
    // two are the whole second tail, both `None`: cut there, it reads as a record written
    // before that tail existed).
    assert!(keys::decode_message(&bytes[..bytes.len() - 3]).is_err());

    // A record with only the first tail (written before `client_ref`) still decodes.
    let first_tail = postcard::to_extend(
        &super::RecordTail {
            expires: 7,
            route_taken: "r".to_owned(),
        },
        keys::encode(&new).unwrap(),
    )
    .unwrap();
    let read = keys::decode_message(&first_tail).unwrap();
    assert_eq!((read.expires, read.client_ref), (7, None));
    new.client_ref = Some("order-1842".to_owned());
    new.deferred_by = Some("quiet_hours".to_owned());
    let bytes = keys::encode_message(&new).unwrap();
    assert_eq!(keys::decode_message(&bytes).unwrap(), new);
}

#[test]
fn expiry_and_route_survive_a_reopen() {
    let dir = TempDir::new("tail-reopen");
    let mut record = message(1, "a", 10);
    record.expires = 20_000;
    record.route_taken = "r1".to_owned();
    {
        let store = open(&dir);
        store
            .commit(&[Op::Insert(Arc::new(record.clone()))])
            .unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.get(1).unwrap(), Some(record.clone()));
    assert_eq!(store.pending().unwrap(), vec![record]);
}

#[test]
fn stats_add_up_across_commits_and_a_reopen_and_read_from_an_hour_on() {
    let dir = TempDir::new("stats");
    let key = |hour: u64, account: &str| StatsKey::at(hour * HOUR_MS, account, "r", "c");
    let sent = |n: u64| Counters {
        sent: n,
        ..Counters::default()
    };
    {
        let store = open(&dir);
        store
            .commit(&[
                Op::Stats(vec![(key(10, "a"), sent(1)), (key(11, "a"), sent(2))]),
                // The same key twice in one commit.
                Op::Stats(vec![(key(11, "a"), sent(3))]),
            ])
            .unwrap();
    }
    let store = open(&dir);
    store
        .commit(&[Op::Stats(vec![
            (key(11, "a"), sent(4)),
            (key(11, "b"), sent(5)),
        ])])
        .unwrap();
    let read = store.stats(11).unwrap();
    assert_eq!(
        read,
        vec![(key(11, "a"), sent(9)), (key(11, "b"), sent(5))],
        "hour 10 is before the range"
    );
    assert_eq!(store.stats(10).unwrap().len(), 3);
    assert!(store.stats(12).unwrap().is_empty());
}

#[test]
fn stats_roll_up_into_days_read_coarse_and_trim() {
    let dir = TempDir::new("stats-days");
    let key = |hour: u64, account: &str| StatsKey::at(hour * HOUR_MS, account, "r", "c");
    let sent = |n: u64| Counters {
        sent: n,
        ..Counters::default()
    };
    let total = |rows: &[(StatsKey, Counters)]| rows.iter().map(|(_, c)| c.sent).sum::<u64>();
    // Day 100 (hours 2400..2424) and day 101, one count an hour; a quiet day 102; 103.
    let day = |d: u64| d * 24;
    {
        let store = open(&dir);
        for hour in day(100)..day(102) {
            store
                .commit(&[Op::Stats(vec![
                    (key(hour, "a"), sent(1)),
                    (key(hour, "b"), sent(2)),
                ])])
                .unwrap();
        }
        store
            .commit(&[Op::Stats(vec![(key(day(103) + 5, "a"), sent(7))])])
            .unwrap();
        // Before any roll-up the coarse read is the hours.
        assert_eq!(store.stats_coarse(day(100)).unwrap().len(), 2 * 48 + 1);
        // Days 100 and 101 had rows; 102 none; 103 is "today".
        assert_eq!(store.roll_up_stats(103).unwrap(), 2);
        assert_eq!(store.roll_up_stats(103).unwrap(), 0, "once");
    }
    let store = open(&dir);
    let coarse = store.stats_coarse(day(100)).unwrap();
    assert_eq!(
        coarse,
        vec![
            (key(day(100), "a"), sent(24)),
            (key(day(100), "b"), sent(48)),
            (key(day(101), "a"), sent(24)),
            (key(day(101), "b"), sent(48)),
            (key(day(103) + 5, "a"), sent(7)),
        ]
    );
    // By hour is still by hour; the sums agree.
    assert_eq!(total(&store.stats(day(100)).unwrap()), total(&coarse));
    // A partial first day reads its hours, then the whole days.
    let from_noon = store.stats_coarse(day(100) + 12).unwrap();
    assert_eq!(total(&from_noon), 12 * 3 + 72 + 7);
    assert_eq!(from_noon[0].0, key(day(100) + 12, "a"));
    // An outcome counted late, in an hour of a day rolled up: its day row follows.
    store
        .commit(&[Op::Stats(vec![(key(day(101) + 23, "b"), sent(100))])])
        .unwrap();
    assert_eq!(total(&store.stats_coarse(day(101)).unwrap()), 72 + 100 + 7);
    assert_eq!(total(&store.stats(day(101)).unwrap()), 72 + 100 + 7);
    // Trim: hours before day 101, days before day 101. Hours of day 103 (not rolled
    // up) are never trimmed, whatever is asked.
    let removed = store.trim_stats(day(101), 101).unwrap();
    assert_eq!(removed, 48 + 2);
    assert!(
        store
            .stats(0)
            .unwrap()
            .iter()
            .all(|(k, _)| k.hour >= day(101))
    );
    assert_eq!(total(&store.stats_coarse(0).unwrap()), 72 + 100 + 7);
    assert_eq!(
        store.trim_stats(day(104), 0).unwrap(),
        48,
        "day 101's hours, not 103's"
    );
    assert_eq!(
        store.stats(0).unwrap(),
        vec![(key(day(103) + 5, "a"), sent(7))]
    );
    // Day 101's hours are gone: a query from its noon counts the whole day row.
    assert_eq!(
        total(&store.stats_coarse(day(101) + 12).unwrap()),
        72 + 100 + 7
    );
    assert_eq!(
        store.trim_stats(day(104), 0).unwrap(),
        0,
        "nothing left to trim"
    );
}

/// The bytes a change after acceptance writes, before (the whole record) and now (the
/// update), for records shaped like `smpp-loadtest --mix short-gsm=50,long-gsm=50`'s
/// messages through `serve` (one part each: a long text comes as three submit_sm with a
/// UDH): the update is well under half of the record for a long one. Not timed; run with
/// `--nocapture` for the sizes (docs/benchmarks/gateway.md quotes them).
#[test]
fn an_update_is_a_fraction_of_a_loadtest_record() {
    // Header 16 + the submit_sm's fields for "12345" -> "447700900123" (34) + the text.
    // (text bytes, most percent of the record the update may be)
    for (text, most) in [(62usize, 55usize), (159, 30)] {
        let mut record = MessageRecord {
            account: "lt".to_owned(),
            class: Class::Notification,
            request: vec![0x41; 16 + 34 + text],
            part_count: 1,
            wants_receipt: true,
            state: State::Delivered,
            route_taken: "all".to_owned(),
            expires: 1_765_000_000_000,
            parts: vec![PartRecord {
                state: State::Delivered,
                carrier: Some("sim".to_owned()),
                carrier_id: Some("0001e240".to_owned()),
                status: 0,
                attempts: 1,
                error: Some("000".to_owned()),
                updated: 1_765_000_000_123,
            }],
            ..message(123_456, "lt", 1_765_000_000_000)
        };
        record.accepted = 1_765_000_000_000;
        let whole = keys::encode_message(&record).unwrap().len();
        let mut update = Vec::new();
        keys::encode_update_into(&record, &mut update).unwrap();
        println!(
            "text {text} B: record {whole} B, update {} B ({} %)",
            update.len(),
            update.len() * 100 / whole
        );
        assert!(update.len() * 100 < whole * most);
    }
}

/// The expiry scan's candidates at `now`, as housekeeping gathers them: own expiries
/// page after page of `limit`, then by acceptance.
fn expiry_candidates(store: &dyn Store, limit: usize, now: Millis) -> (Vec<u64>, Vec<u64>) {
    let due = ExpiryBound {
        now,
        validity: EXPIRY_VALIDITY,
    };
    let mut own = Vec::new();
    loop {
        let page = store.own_expiries(due, limit).unwrap();
        own.extend(page.candidates.iter().map(|r| r.id));
        if page.next.is_none() {
            break;
        }
    }
    let mut by_store = Vec::new();
    let mut after = 0;
    loop {
        let page = store.expiry_page(after, limit, due).unwrap();
        by_store.extend(page.candidates.iter().map(|r| r.id));
        match page.next {
            Some(next) => after = next,
            None => return (own, by_store),
        }
    }
}

const EXPIRY_VALIDITY: Millis = 72 * 60 * MINUTE;
const MINUTE: Millis = 60_000;
const T: Millis = 1_800_000_000_000;

/// Pending: 1 (from an older store: no time kept), 2 (no own expiry), 3 (own, in 10
/// minutes), 5 (own, later than the store's validity), 6 (accepted an hour later); 4 is
/// final (its own expiry in 5 minutes).
fn expiry_scan_store(dir: &TempDir) -> (FjallStore, Vec<Op>) {
    let store = open(dir);
    let own = |id, expires| MessageRecord {
        expires,
        ..message(id, "a", T)
    };
    let inserts: Vec<Op> = [
        message(2, "a", T),
        own(3, T + 10 * MINUTE),
        own(4, T + 5 * MINUTE),
        own(5, T + EXPIRY_VALIDITY + 120 * MINUTE),
        message(6, "a", T + 60 * MINUTE),
    ]
    .into_iter()
    .map(|r| Op::Insert(Arc::new(r)))
    .collect();
    store.commit(&inserts).unwrap();
    let mut delivered = own(4, T + 5 * MINUTE);
    delivered.state = State::Delivered;
    store.commit(&[Op::Put(Arc::new(delivered))]).unwrap();
    {
        let open = store.handles().unwrap();
        let legacy = message(1, "a", T - 60 * MINUTE);
        open.messages
            .insert(keys::message(1), keys::encode_message(&legacy).unwrap())
            .unwrap();
        open.pending.insert(keys::message(1), Vec::new()).unwrap();
    }
    (store, inserts)
}

/// The expiry scan hands over the messages whose own expiry passed since its last
/// call, by time, and those whose store validity passed, stopping at the first that
/// is not (ids rise with acceptance), without reading any other record; a pending
/// entry of an older store (no time kept) hands its message over to be checked from
/// the record; final messages never; pages of any size add up to the same; where it
/// got survives a restart; retention removes a message's own-expiry entry with it.
#[test]
fn the_expiry_scan_reads_only_messages_that_may_be_due() {
    for limit in [1, 2, 4096] {
        let dir = TempDir::new("expiry-scan");
        let (store, _) = expiry_scan_store(&dir);
        let scan = |now| expiry_candidates(&store, limit, now);
        assert_eq!(scan(T), (vec![], vec![1]), "limit {limit}");
        assert_eq!(scan(T + 10 * MINUTE), (vec![3], vec![1]), "limit {limit}");
        // Handed over once.
        assert_eq!(scan(T + 10 * MINUTE), (vec![], vec![1]), "limit {limit}");
        assert_eq!(
            scan(T + EXPIRY_VALIDITY),
            (vec![], vec![1, 2, 3, 5]),
            "limit {limit}"
        );
        assert_eq!(
            scan(T + 60 * MINUTE + EXPIRY_VALIDITY),
            (vec![], vec![1, 2, 3, 5, 6]),
            "limit {limit}"
        );
    }
    let dir = TempDir::new("expiry-scan-reopen");
    {
        let (store, _) = expiry_scan_store(&dir);
        assert_eq!(expiry_candidates(&store, 8, T + 10 * MINUTE).0, [3]);
    }
    let store = open(&dir);
    assert_eq!(
        expiry_candidates(&store, 8, T + 10 * MINUTE).0,
        [] as [u64; 0]
    );
    let late = MessageRecord {
        expires: T + 61 * MINUTE,
        ..message(7, "a", T + 60 * MINUTE)
    };
    store.commit(&[Op::Insert(Arc::new(late))]).unwrap();
    assert_eq!(expiry_candidates(&store, 8, T + 61 * MINUTE).0, [7]);
    // Retention takes the final message 4 and its own-expiry entry.
    let open = store.handles().unwrap();
    assert!(
        open.expiry
            .get(keys::expiry(T + 5 * MINUTE, 4))
            .unwrap()
            .is_some()
    );
    assert_eq!(store.expire(T + 1).unwrap(), 1);
    assert!(
        open.expiry
            .get(keys::expiry(T + 5 * MINUTE, 4))
            .unwrap()
            .is_none()
    );
    assert!(
        open.expiry
            .get(keys::expiry(T + 10 * MINUTE, 3))
            .unwrap()
            .is_some()
    );

    // The default reads every pending record and has no own expiries.
    let memory = crate::store::memory::MemoryStore::default();
    memory
        .commit(&expiry_scan_store(&TempDir::new("x")).1)
        .unwrap();
    assert_eq!(
        expiry_candidates(&memory, 2, T),
        (vec![], vec![2, 3, 4, 5, 6])
    );
}

/// After the wall clock stepped back (scanned up to a time still ahead), a message
/// accepted since whose own expiry falls before that time is found: before, the scan
/// went on from its cursor and it expired only at the store's validity (72 h late).
#[test]
fn the_expiry_scan_finds_what_expires_after_the_clock_stepped_back() {
    let dir = TempDir::new("expiry-scan-step");
    let (store, _) = expiry_scan_store(&dir);
    // Scanned with the clock an hour ahead: 3 (own expiry T + 10 min) handed over.
    assert_eq!(expiry_candidates(&store, 8, T + 60 * MINUTE).0, [3]);
    // The clock is put back to T + 1 min; a message expiring at T + 5 min comes in.
    let stepped = MessageRecord {
        expires: T + 5 * MINUTE + 1,
        ..message(8, "a", T + MINUTE)
    };
    store.commit(&[Op::Insert(Arc::new(stepped))]).unwrap();
    assert_eq!(
        expiry_candidates(&store, 8, T + 2 * MINUTE).0,
        [] as [u64; 0]
    );
    assert_eq!(expiry_candidates(&store, 8, T + 6 * MINUTE).0, [8]);
}
