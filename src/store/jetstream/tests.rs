//! The [`Store`] contract on [`JetStreamStore`], against a real `nats-server` (one
//! JetStream server on a free loopback port, in a temporary directory). Without
//! `nats-server` on the PATH (`scripts/install-tools` installs it) each test says so and
//! passes without checking: the store cannot be checked without a server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::store::tests::{TempDir, message};
use crate::store::{OutboxItem, PartRecord, State, SuppressionSource};

/// The nats-server to run: `$SMPPGATE_NATS_SERVER`, tests/peers/.venv/bin/nats-server
/// (scripts/install-peers), or the PATH's, if it is 2.10 or later.
fn nats_server() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SMPPGATE_NATS_SERVER").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/.venv/bin/nats-server")),
        Some(PathBuf::from("nats-server")),
    ];
    candidates.into_iter().flatten().find(|binary| {
        Command::new(binary)
            .arg("--version")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().rsplit('v').next().map(str::to_owned))
            .is_some_and(|version| super::backend::supported_server(&version))
    })
}

/// One `nats-server -js`, killed on drop.
pub(super) struct Server {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Server {
    /// Starts one, or `None` (with a message) when `nats-server` is not installed.
    pub(super) fn start(name: &str) -> Option<Self> {
        let Some(binary) = nats_server() else {
            eprintln!(
                "SKIPPED: no nats-server 2.10+ (scripts/install-peers installs one in tests/peers/.venv)"
            );
            return None;
        };
        let dir = TempDir::new(name);
        std::fs::create_dir_all(dir.path()).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { child, port, dir })
    }

    pub(super) fn config(&self, node: &str) -> ClusterConfig {
        ClusterConfig {
            nats: vec![format!("nats://127.0.0.1:{}", self.port)],
            node: node.to_owned(),
            replicas: 1,
            ..ClusterConfig::default()
        }
    }

    pub(super) fn open(&self, node: &str) -> JetStreamStore {
        JetStreamStore::open(&self.config(node)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

#[test]
fn messages_parts_carrier_index_pending_and_list() {
    let Some(server) = Server::start("js-messages") else {
        return;
    };
    let store = server.open("gw-1");
    let first = store.max_id().unwrap() + 1;
    let (a, b) = (first, first + 1);
    store
        .commit(&[
            Op::Insert(Arc::new(message(a, "acme", 100))),
            Op::Insert(Arc::new(message(b, "other", 200))),
        ])
        .unwrap();
    assert_eq!(store.get(a).unwrap().unwrap(), message(a, "acme", 100));
    assert_eq!(store.max_id().unwrap(), b);
    assert_eq!(
        store
            .pending()
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [a, b]
    );
    assert_eq!(store.pending_page(a, 10).unwrap().len(), 1);

    // A part update reads the stored record; the index entry comes with it.
    store
        .commit(&[
            Op::Part {
                id: a,
                part: 1,
                record: sent_part("cmcc", "C-1"),
            },
            Op::CarrierId {
                carrier: "cmcc".into(),
                carrier_id: "C-1".into(),
                id: a,
                part: 1,
            },
            Op::State {
                id: a,
                state: State::Delivered,
            },
        ])
        .unwrap();
    let stored = store.get(a).unwrap().unwrap();
    assert_eq!(stored.parts[1], sent_part("cmcc", "C-1"));
    assert_eq!(stored.state, State::Delivered);
    assert_eq!(store.by_carrier_id("cmcc", "C-1").unwrap(), Some((a, 1)));
    assert_eq!(store.by_carrier_id("cmcc", "C-2").unwrap(), None);
    // Final: off the pending set.
    assert_eq!(
        store
            .pending()
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [b]
    );

    // Newest first, filtered.
    let all = store.list(&ListFilter::default()).unwrap();
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), [b, a]);
    let acme = store
        .list(&ListFilter {
            account: Some("acme".into()),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(acme.len(), 1);
    assert_eq!(
        store
            .list(&ListFilter {
                limit: 1,
                ..ListFilter::default()
            })
            .unwrap()[0]
            .id,
        b
    );

    // Pages by id (the HTTP API's listing), one message each: b, then a, then the end.
    let all = |_: &MessageRecord| true;
    let one = ListFilter {
        limit: 1,
        ..ListFilter::default()
    };
    let read = |before, keep: &dyn Fn(&MessageRecord) -> bool| {
        store
            .list_page(&PageRead {
                filter: &one,
                before,
                max_scan: 10,
                keep,
            })
            .unwrap()
    };
    let first = read(None, &all);
    assert_eq!(first.records.iter().map(|m| m.id).collect::<Vec<_>>(), [b]);
    let second = read(first.next, &all);
    assert_eq!(second.records.iter().map(|m| m.id).collect::<Vec<_>>(), [a]);
    assert_eq!(second.next, None);
    let only_a = read(None, &|m| m.id == a);
    assert_eq!(only_a.records.len(), 1);
    assert_eq!(only_a.records[0].id, a);

    // Expiry removes final messages accepted before the cut, with their index entries.
    assert_eq!(store.expire(150).unwrap(), 1);
    assert!(store.get(a).unwrap().is_none());
    assert_eq!(store.by_carrier_id("cmcc", "C-1").unwrap(), None);
    assert!(store.get(b).unwrap().is_some());
}

#[test]
fn nodes_get_disjoint_id_ranges_and_share_what_they_store() {
    let Some(server) = Server::start("js-nodes") else {
        return;
    };
    let one = server.open("gw-1");
    let two = server.open("gw-2");
    let (max_one, max_two) = (one.max_id().unwrap(), two.max_id().unwrap());
    assert_ne!(
        max_one >> 56,
        max_two >> 56,
        "each node has its own id range"
    );
    one.commit(&[Op::Insert(Arc::new(message(max_one + 1, "acme", 1)))])
        .unwrap();
    two.commit(&[Op::Insert(Arc::new(message(max_two + 1, "acme", 2)))])
        .unwrap();
    // Either node reads the other's messages; each dispatches only its own pending set
    // (two active nodes never both send one message).
    assert!(two.get(max_one + 1).unwrap().is_some());
    let ids = |store: &super::JetStreamStore| {
        store
            .pending()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&one), [max_one + 1]);
    assert_eq!(ids(&two), [max_two + 1]);
    // A suppression added through one node is seen by the other.
    let entry = Suppression {
        scope: ScopeKey::Global,
        number: "4915112345678".into(),
        since: 9,
        source: SuppressionSource::Cli,
    };
    one.commit(&[Op::Suppress(entry.clone())]).unwrap();
    assert_eq!(
        two.suppression(&ScopeKey::Global, "4915112345678").unwrap(),
        Some(entry)
    );
    drop((one, two));
    // The same name gets its range back, above what it stored.
    let again = server.open("gw-1");
    assert_eq!(again.max_id().unwrap(), max_one + 1);
    // … and its backlog: a dead node's messages are sent by a node with its name.
    assert_eq!(ids(&again), [max_one + 1]);
}

#[test]
fn outbox_order_cursor_park_and_replay() {
    let Some(server) = Server::start("js-outbox") else {
        return;
    };
    let store = server.open("gw-1");
    store
        .commit(&[push("a", 1), push("a", 2), push("a", 3), push("b", 9)])
        .unwrap();
    store.commit(&[push("a", 4)]).unwrap();
    let bodies = |items: &[OutboxItem]| items.iter().map(|i| i.deliver_sm[0]).collect::<Vec<_>>();
    let items = store.outbox_after("a", 0, 10).unwrap();
    assert_eq!(bodies(&items), [1, 2, 3, 4]);
    // Seqs rise within the account (they are the stream's sequence: shared by accounts,
    // so not dense: the contract asks only that they rise).
    let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        bodies(&store.outbox_after("a", seqs[1], 10).unwrap()),
        [3, 4]
    );
    assert_eq!(
        bodies(&store.outbox_after("a", seqs[0], 2).unwrap()),
        [2, 3]
    );
    assert!(store.outbox_after("a", seqs[3], 10).unwrap().is_empty());
    assert!(store.outbox_after("a", u64::MAX, 10).unwrap().is_empty());
    assert_eq!(bodies(&store.outbox("b", 10).unwrap()), [9]);

    let park = |seq: u64, attempts: u32| Op::OutboxPark {
        account: "a".into(),
        seq,
        attempts,
        status: 0x64,
        at: 77,
    };
    let ack = |seq: u64| Op::OutboxAck {
        account: "a".into(),
        seq,
    };
    // Parking moves an item out with its attempts and status; parking one acknowledged
    // earlier in the batch does nothing.
    store
        .commit(&[
            park(seqs[1], 3),
            ack(seqs[0]),
            park(seqs[2], 5),
            park(seqs[0], 1),
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
        [(seqs[1], 2, 3, 0x64, 77), (seqs[2], 3, 5, 0x64, 77)]
    );
    assert!(store.parked(Some("b"), 10).unwrap().is_empty());
    assert_eq!(store.parked(None, 10).unwrap().len(), 2);
    // A parked item dropped (past the retention); the other stays.
    let kept = parked[1].item.seq;
    store
        .commit(&[Op::ParkedDrop {
            account: "a".into(),
            seq: parked[0].item.seq,
        }])
        .unwrap();
    let left = store.parked(Some("a"), 10).unwrap();
    assert_eq!(left.iter().map(|p| p.item.seq).collect::<Vec<_>>(), [kept]);

    // Replay: to the end of the queue, attempts from zero, new rising seqs.
    store
        .commit(&[Op::OutboxReplay {
            account: "a".into(),
        }])
        .unwrap();
    assert!(store.parked(Some("a"), 10).unwrap().is_empty());
    let items = store.outbox_after("a", seqs[3], 10).unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| (i.deliver_sm[0], i.attempts))
            .collect::<Vec<_>>(),
        [(3, 0)]
    );
    assert!(items.iter().all(|i| i.seq > seqs[3] && i.account == "a"));
    // Another node reads the same queue.
    let two = server.open("gw-2");
    assert_eq!(bodies(&two.outbox("a", 10).unwrap()), [4, 3]);
}

/// An outbox read asks the servers for no more than its limit, and the next read from
/// where it stopped goes on from there: past an item another node acknowledged meanwhile,
/// through items queued since; a read from anywhere else starts there.
#[test]
fn an_outbox_read_moves_no_more_than_its_limit_and_pages_on_from_where_it_stopped() {
    let Some(server) = Server::start("js-outbox-pages") else {
        return;
    };
    let store = server.open("gw-1");
    let ops: Vec<Op> = (0..100).map(|body| push("a", body)).collect();
    store.commit(&ops).unwrap();
    let bodies = |items: &[OutboxItem]| items.iter().map(|i| i.deliver_sm[0]).collect::<Vec<_>>();
    let first = store.outbox_after("a", 0, 10).unwrap();
    assert_eq!(bodies(&first), (0..10).collect::<Vec<u8>>());
    // The servers sent the reader these ten, not the ninety behind them.
    let sent = store
        .run(READ_TIMEOUT, |b| async move { b.outbox_sent_up_to().await })
        .unwrap();
    assert_eq!(sent, first[9].seq);

    // Another node acknowledges an item ahead of the reader; two more are queued.
    let two = server.open("gw-2");
    let ahead = two.outbox_after("a", first[9].seq, 3).unwrap();
    assert_eq!(bodies(&ahead), [10, 11, 12]);
    two.commit(&[Op::OutboxAck {
        account: "a".into(),
        seq: ahead[2].seq,
    }])
    .unwrap();
    store.commit(&[push("a", 100), push("a", 101)]).unwrap();
    let mut read = Vec::new();
    let mut after = first[9].seq;
    loop {
        let page = store.outbox_after("a", after, 10).unwrap();
        assert!(page.len() <= 10);
        let Some(last) = page.last() else { break };
        after = last.seq;
        read.extend(bodies(&page));
    }
    let expected: Vec<u8> = (10..=101).filter(|&body| body != 12).collect();
    assert_eq!(read, expected);

    // A read from an earlier place (a sink that starts over) gets what is there.
    assert_eq!(
        bodies(&store.outbox_after("a", first[4].seq, 3).unwrap()),
        [5, 6, 7]
    );
    assert_eq!(bodies(&store.outbox_after("a", 0, 2).unwrap()), [0, 1]);
}

/// A read aside (housekeeping's retention, a listing) leaves the reader the outbox task
/// pages with where it was: before, a read from the start replaced it, and the task's next
/// read made a new consumer.
#[test]
fn a_read_aside_leaves_the_outbox_tasks_reader_alone() {
    let Some(server) = Server::start("js-outbox-peek") else {
        return;
    };
    let store = server.open("gw-1");
    let ops: Vec<Op> = (0..10).map(|body| push("a", body)).collect();
    store.commit(&ops).unwrap();
    let bodies = |items: &[OutboxItem]| items.iter().map(|i| i.deliver_sm[0]).collect::<Vec<_>>();
    let kept = || {
        store
            .run(READ_TIMEOUT, |b| async move { Ok(b.kept_reader("a")) })
            .unwrap()
    };
    let first = store.outbox_after("a", 0, 5).unwrap();
    assert_eq!(bodies(&first), [0, 1, 2, 3, 4]);
    let reader = kept().unwrap();
    assert_eq!(reader.1, first[4].seq + 1);

    assert_eq!(bodies(&store.outbox_peek("a", 0, 3).unwrap()), [0, 1, 2]);
    let all = store.outbox("a", 20).unwrap();
    assert_eq!(bodies(&all), (0..10).collect::<Vec<u8>>());
    assert_eq!(
        bodies(&store.outbox_peek("a", all[6].seq, 10).unwrap()),
        [7, 8, 9]
    );
    assert_eq!(kept(), Some(reader.clone()));
    // The task reads on through the same consumer.
    assert_eq!(
        bodies(&store.outbox_after("a", first[4].seq, 10).unwrap()),
        [5, 6, 7, 8, 9]
    );
    assert_eq!(kept().unwrap().0, reader.0);
}

/// An acknowledged outbox item is deleted, not erased: the servers erase by rewriting the
/// item's whole block file (with an fsync) per item, which with receipts cost a
/// millisecond of server CPU per message and took JetStream to a few hundred a second
/// (docs/benchmarks/cluster.md). A deleted item's bytes stay in the block file until it
/// is compacted; an erased one's are overwritten at once.
#[test]
fn an_acknowledged_outbox_item_is_deleted_not_erased() {
    const CANARY: &[u8] = b"outbox-canary-7f3a9c";
    let Some(server) = Server::start("js-no-erase") else {
        return;
    };
    let store = server.open("gw-1");
    let item = |text: &[u8]| {
        Op::OutboxPush(OutboxItem {
            seq: 0,
            account: "a".to_owned(),
            deliver_sm: text.to_vec(),
            queued: 1,
            attempts: 0,
        })
    };
    store.commit(&[item(CANARY), item(b"another")]).unwrap();
    let items = store.outbox_after("a", 0, 10).unwrap();
    assert_eq!(items.len(), 2);
    store
        .commit(&[Op::OutboxAck {
            account: "a".into(),
            seq: items[0].seq,
        }])
        .unwrap();
    assert_eq!(store.outbox_after("a", 0, 10).unwrap().len(), 1);
    // The stream's block files (the server writes them within moments).
    let found = |dir: &Path| -> bool {
        fn walk(dir: &Path, hit: &mut bool) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, hit);
                } else if path.extension().is_some_and(|e| e == "blk") {
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    *hit |= bytes.windows(CANARY.len()).any(|w| w == CANARY);
                }
            }
        }
        let mut hit = false;
        walk(dir, &mut hit);
        hit
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !found(server.dir.path()) {
        assert!(
            Instant::now() < deadline,
            "the acknowledged item's bytes are gone from the block files: it was erased"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn suppression_list_on_jetstream() {
    let Some(server) = Server::start("js-suppress") else {
        return;
    };
    crate::store::tests::suppression_list(&server.open("gw-1"));
}

#[test]
fn stats_add_up_per_node_and_sum_across_nodes() {
    let Some(server) = Server::start("js-stats") else {
        return;
    };
    let key = StatsKey::at(3 * crate::store::HOUR_MS, "acme", "default", "cmcc");
    let counters = |n: u64| Counters {
        sent: n,
        ..Counters::default()
    };
    let one = server.open("gw-1");
    one.commit(&[Op::Stats(vec![(key.clone(), counters(2))])])
        .unwrap();
    one.commit(&[Op::Stats(vec![(key.clone(), counters(3))])])
        .unwrap();
    let two = server.open("gw-2");
    two.commit(&[Op::Stats(vec![(key.clone(), counters(10))])])
        .unwrap();
    let rows = two.stats(0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, key);
    assert_eq!(rows[0].1.sent, 15);
    assert!(one.stats(4).unwrap().is_empty());
}

#[test]
fn a_commit_fails_cleanly_when_the_server_is_gone() {
    let Some(mut server) = Server::start("js-gone") else {
        return;
    };
    let mut config = server.config("gw-1");
    config.commit_timeout = Duration::from_millis(500);
    let store = JetStreamStore::open(&config).unwrap();
    let _ = server.child.kill();
    let _ = server.child.wait();
    let record = message(store.max_id().unwrap() + 1, "acme", 1);
    let started = Instant::now();
    let error = store.commit(&[Op::Insert(Arc::new(record))]).unwrap_err();
    assert!(error.to_string().contains("jetstream"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_put_after_an_insert_is_what_reads_see() {
    let Some(server) = Server::start("js-put") else {
        return;
    };
    let store = server.open("gw-1");
    let id = store.max_id().unwrap() + 1;
    store
        .commit(&[Op::Insert(Arc::new(message(id, "acme", 1)))])
        .unwrap();
    let mut sent = message(id, "acme", 1);
    sent.state = State::Sent;
    sent.parts[0] = sent_part("cmcc", "C-9");
    store.commit(&[Op::Put(Arc::new(sent.clone()))]).unwrap();
    assert_eq!(store.get(id).unwrap().unwrap(), sent);
    assert_eq!(store.pending().unwrap(), [sent]);
}

#[test]
fn a_suppression_committed_by_one_node_reaches_another_nodes_watch_within_a_second() {
    let Some(server) = Server::start("js-watch") else {
        return;
    };
    let one = server.open("gw-1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Open (subscribed) before the first change: the watch starts at new changes.
    let watch = runtime
        .block_on(super::SuppressionWatch::open(server.config("gw-2")))
        .unwrap();
    let entry = Suppression {
        scope: ScopeKey::Account("acme".into()),
        number: "4915112345678".into(),
        since: 9,
        source: SuppressionSource::Cli,
    };
    let started = Instant::now();
    // A change made after the watch opened and before it runs (while `serve` reads the
    // list) is delivered when it runs.
    one.commit(&[Op::Suppress(entry.clone())]).unwrap();
    runtime.spawn(watch.run(move |change| {
        let _ = tx.send(change);
    }));
    let seen = rx
        .recv_timeout(Duration::from_secs(1))
        .expect("seen within 1 s");
    assert_eq!(seen, super::SuppressionChange::Added(entry.clone()));
    assert!(started.elapsed() < Duration::from_secs(1));
    one.commit(&[Op::Unsuppress {
        scope: entry.scope.clone(),
        number: entry.number.clone(),
    }])
    .unwrap();
    let seen = rx
        .recv_timeout(Duration::from_secs(1))
        .expect("removal within 1 s");
    assert_eq!(
        seen,
        super::SuppressionChange::Removed {
            scope: entry.scope.clone(),
            number: entry.number.clone(),
        }
    );
    // Gone for reads too (the purge marker is not an entry).
    assert_eq!(one.suppression(&entry.scope, &entry.number).unwrap(), None);
    let mut listed = 0;
    one.suppressions(None, &mut |_| {
        listed += 1;
        true
    })
    .unwrap();
    assert_eq!(listed, 0);
}

/// Issue #17 (record-cache coherence): node 1 dispatched a two-part message; the receipt
/// of part 0 came in on node 2's carrier bind, and node 2 wrote it; node 1 then records
/// part 1's outcome on its own copy, from before that receipt. The receipt stays, and so
/// does every carrier id; the last receipt (node 2, on its stale copy) completes it.
#[test]
fn a_receipt_written_by_another_node_is_not_overwritten_by_a_stale_copy() {
    let Some(server) = Server::start("js-coherence") else {
        return;
    };
    let one = server.open("gw-1");
    let two = server.open("gw-2");
    let id = one.max_id().unwrap() + 1;
    let mut held_by_one = message(id, "acme", 1);
    one.commit(&[Op::Insert(Arc::new(held_by_one.clone()))])
        .unwrap();
    held_by_one.parts[0] = sent_part("cmcc", "C-0");
    held_by_one.state = State::Sent;
    one.commit(&[Op::Put(Arc::new(held_by_one.clone()))])
        .unwrap();

    // Node 2 reads it (its writer's prefetch) and applies part 0's receipt.
    let mut held_by_two = two.get(id).unwrap().unwrap();
    held_by_two.parts[0].state = State::Delivered;
    held_by_two.parts[0].updated = 7;
    two.commit(&[Op::Put(Arc::new(held_by_two.clone()))])
        .unwrap();
    assert!(two.take_merged().is_empty(), "nothing to merge yet");

    // Node 1, from its copy: part 1 accepted by the carrier.
    held_by_one.parts[1] = sent_part("cmcc", "C-1");
    held_by_one.parts[1].updated = 8;
    one.commit(&[Op::Put(Arc::new(held_by_one.clone()))])
        .unwrap();
    let stored = one.get(id).unwrap().unwrap();
    assert_eq!(stored.parts[0].state, State::Delivered, "{stored:?}");
    assert_eq!(stored.parts[1].state, State::Sent, "{stored:?}");
    assert_eq!(stored.parts[1].carrier_id.as_deref(), Some("C-1"));
    assert_eq!(one.take_merged(), [id], "node 1 is told its copy was stale");

    // Node 2, from its copy (part 1 still `Accepted`, no carrier id): part 1's receipt.
    held_by_two.parts[1].state = State::Delivered;
    held_by_two.parts[1].updated = 9;
    two.commit(&[Op::Put(Arc::new(held_by_two))]).unwrap();
    assert_eq!(two.take_merged(), [id]);
    // Node 1's copy is older than what node 2 wrote: its lookups (`messages show`, the
    // HTTP API) read what is stored.
    let shown = one.get_latest(id).unwrap().unwrap();
    assert!(
        shown.parts.iter().all(|p| p.state == State::Delivered),
        "node 1 shows its stale copy: {shown:?}"
    );
    // What any node reads now (a third store: nothing cached).
    let three = server.open("gw-3");
    let stored = three.get(id).unwrap().unwrap();
    assert!(
        stored.parts.iter().all(|p| p.state == State::Delivered),
        "{stored:?}"
    );
    assert_eq!(stored.parts[0].carrier_id.as_deref(), Some("C-0"));
    assert_eq!(stored.parts[1].carrier_id.as_deref(), Some("C-1"));
}

/// The dispatcher reads a spilled route in pages and takes a short page for the end of
/// the backlog. A message accepted between two pages of one pass (a listing reused for
/// the next page) is in that pass: it is not left behind until the next listing from
/// the start.
#[test]
fn a_message_inserted_between_two_pages_is_in_the_next_one() {
    let Some(server) = Server::start("js-pages") else {
        return;
    };
    let store = server.open("gw-1");
    let first = store.max_id().unwrap() + 1;
    let insert = |id: u64| {
        store
            .commit(&[Op::Insert(Arc::new(message(id, "acme", 1)))])
            .unwrap();
    };
    insert(first);
    insert(first + 1);
    let ids = |page: Vec<MessageRecord>| page.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(store.pending_page(0, 1).unwrap()), [first]);
    insert(first + 2);
    assert_eq!(
        ids(store.pending_page(first, 256).unwrap()),
        [first + 1, first + 2],
        "the page after the first (same listing) has the message inserted since"
    );
    // A pass that starts inside the set after the node's slots changed lists again.
    store.owned_messages_changed();
    assert_eq!(
        ids(store.pending_page(first + 1, 256).unwrap()),
        [first + 2]
    );
}

/// A node whose first watch on the suppression bucket failed opens one later that first
/// replays the bucket: an opt-out taken before that (while the node read its list
/// without a watch) is applied.
#[test]
fn a_suppression_watch_opened_later_replays_the_list() {
    let Some(server) = Server::start("js-watch-later") else {
        return;
    };
    let one = server.open("gw-1");
    let entry = Suppression {
        scope: ScopeKey::Global,
        number: "8613800138000".into(),
        since: 3,
        source: SuppressionSource::Cli,
    };
    one.commit(&[Op::Suppress(entry.clone())]).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let watch = runtime.block_on(super::SuppressionWatch::open_later(server.config("gw-2")));
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn(watch.run(move |change| {
        let _ = tx.send(change);
    }));
    let seen = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the entry replayed");
    assert_eq!(seen, super::SuppressionChange::Added(entry));
}

/// The dispatch work queue (`dispatch.rs`): a message ready to go is queued with its
/// insert and at most once; a delivery nobody answers goes to another node after
/// `ack_wait`; one answered done is off the queue; one handed back comes back.
#[test]
fn the_route_queue_holds_a_message_once_and_gives_an_unanswered_one_to_another_node() {
    use crate::store::{Settle, Work};
    let Some(server) = Server::start("js-queue") else {
        return;
    };
    let config = |node: &str| ClusterConfig {
        ack_wait: Duration::from_secs(1),
        ..server.config(node)
    };
    let a = JetStreamStore::open(&config("gw-1")).unwrap();
    let b = JetStreamStore::open(&config("gw-2")).unwrap();
    let (queue_a, queue_b) = (a.work_queue().unwrap(), b.work_queue().unwrap());
    let ready = |id: u64| {
        let mut record = message(id, "acme", 1);
        record.route_taken = "cn".to_owned();
        record
    };
    let first = (1 << 56) + 1;
    let mut held = ready(first + 1);
    crate::gateway::review::hold(&mut held, "word");
    a.commit(&[
        Op::Insert(Arc::new(ready(first))),
        Op::Insert(Arc::new(held)),
    ])
    .unwrap();
    // Queued again (a sweep): refused by the stream as queued already, not an error.
    let route: Arc<str> = Arc::from("cn");
    queue_a
        .enqueue(&[(Arc::clone(&route), Class::Otp, first)])
        .unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx_a, mut rx_a) = tokio::sync::mpsc::channel::<Work>(16);
    let (tx_b, mut rx_b) = tokio::sync::mpsc::channel::<Work>(16);
    queue_a.follow(
        Arc::clone(&route),
        Class::Otp,
        Arc::new(|| 10),
        tx_a,
        cancel.clone(),
    );
    let next = |rx: &mut tokio::sync::mpsc::Receiver<Work>, within_ms: u64| {
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(within_ms), rx.recv())
                .await
                .ok()
                .flatten()
        })
    };
    let work = next(&mut rx_a, 5000).expect("node A pulls the queued message");
    assert_eq!(
        (work.id, work.class, work.delivered),
        (first, Class::Otp, 1)
    );
    assert!(
        !work.verify,
        "queued with its insert, delivered first: no node had it"
    );
    // (Less than ack_wait: a copy would have come with the first.)
    assert!(
        next(&mut rx_a, 500).is_none(),
        "queued once: the held message is not queued, the second enqueue made no copy"
    );
    // Node A goes quiet without an answer (as if killed): node B gets it after ack_wait.
    cancel.cancel();
    let cancel_b = tokio_util::sync::CancellationToken::new();
    queue_b.follow(
        Arc::clone(&route),
        Class::Otp,
        Arc::new(|| 10),
        tx_b,
        cancel_b.clone(),
    );
    let again = next(&mut rx_b, 5000).expect("node B gets what node A did not answer");
    assert_eq!((again.id, again.delivered), (first, 2));
    assert!(again.verify, "a redelivery: node A may have sent it");
    // Handed back: it comes again after the delay.
    queue_b.settle(vec![(
        again.token,
        Settle::Later(Duration::from_millis(300)),
    )]);
    let back = next(&mut rx_b, 5000).expect("handed back, delivered again");
    assert_eq!(back.id, first);
    // Kept with progress answers past ack_wait, then done: off the queue for good.
    for _ in 0..3 {
        queue_b.settle(vec![(back.token.clone(), Settle::Working)]);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(next(&mut rx_b, 0).is_none(), "held by progress answers");
    queue_b.settle(vec![(back.token, Settle::Done)]);
    assert!(
        next(&mut rx_b, 1500).is_none(),
        "answered done: not delivered again"
    );
    // Done means off the queue: the same message may be queued again (released later).
    queue_b
        .enqueue(&[(Arc::clone(&route), Class::Otp, first)])
        .unwrap();
    let requeued = next(&mut rx_b, 5000).expect("queued again after done");
    assert_eq!((requeued.id, requeued.delivered), (first, 1));
    assert!(requeued.verify, "queued by a sweep: read as stored");
    cancel_b.cancel();
}
