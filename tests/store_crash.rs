//! Crash safety of the store: a child process (this test binary, re-invoked) commits
//! batches in a loop and is killed with SIGKILL; after reopening, every batch whose commit
//! returned Ok is there, and no batch is there in part.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use smppgate::config::Class;
use smppgate::store::{
    FjallStore, ListFilter, MessageRecord, Op, OutboxItem, PartRecord, State, Store,
};

const CHILD_ENV: &str = "SMPPGATE_STORE_CRASH_CHILD";
const BATCH: u64 = 16;

fn message(id: u64) -> MessageRecord {
    MessageRecord {
        id,
        account: "crash".to_owned(),
        accepted: id,
        class: Class::Notification,
        route: None,
        request: vec![7; 250],
        part_count: 1,
        wants_receipt: true,
        state: State::Accepted,
        not_before: 0,
        expires: 0,
        route_taken: String::new(),
        client_ref: None,
        deferred_by: None,
        parts: vec![PartRecord::default()],
    }
}

/// Batch `k`: messages `k*16+1 ..= k*16+16` and one outbox item.
fn batch(k: u64) -> Vec<Op> {
    let mut ops: Vec<Op> = (1..=BATCH)
        .map(|i| Op::Insert(std::sync::Arc::new(message(k * BATCH + i))))
        .collect();
    ops.push(Op::OutboxPush(OutboxItem {
        seq: 0,
        account: "crash".to_owned(),
        deliver_sm: k.to_be_bytes().to_vec(),
        queued: k,
        attempts: 0,
    }));
    ops
}

/// The child: runs only when re-invoked by `killed_writer_loses_no_acknowledged_batch`.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = FjallStore::open(PathBuf::from(dir), true).unwrap();
    let started = Instant::now();
    let mut k = 0;
    // Bounded: the parent kills it long before this.
    while started.elapsed() < Duration::from_secs(60) {
        store.commit(&batch(k)).unwrap();
        println!("committed {k}");
        k += 1;
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the child, lets it commit at least `at_least` batches, kills it; returns the
/// highest batch it reported committed.
fn run_and_kill(dir: &Path, at_least: u64, extra_delay: Duration) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in lines.by_ref() {
        if let Some(k) = line.unwrap().strip_prefix("committed ") {
            let k: u64 = k.parse().unwrap();
            last = Some(k);
            if k + 1 >= at_least || Instant::now() > deadline {
                break;
            }
        }
    }
    std::thread::sleep(extra_delay);
    child.kill().unwrap(); // SIGKILL
    // Lines written before the kill are still in the pipe.
    for line in lines {
        if let Some(k) = line.unwrap().strip_prefix("committed ") {
            last = Some(k.parse().unwrap());
        }
    }
    child.wait().unwrap();
    last
}

#[test]
fn killed_writer_loses_no_acknowledged_batch() {
    for (round, delay_ms) in [0u64, 3, 17].into_iter().enumerate() {
        let dir = TempDir(std::env::temp_dir().join(format!(
            "smppgate-store-crash-{}-{round}",
            std::process::id()
        )));
        let _ = std::fs::remove_dir_all(&dir.0);
        let last = run_and_kill(&dir.0, 40, Duration::from_millis(delay_ms))
            .expect("the child committed nothing");

        let store = FjallStore::open(&dir.0, true).unwrap();
        let all = store.list(&ListFilter::default()).unwrap();
        let mut per_batch = std::collections::BTreeMap::<u64, u64>::new();
        for record in &all {
            assert_eq!(record, &message(record.id), "record {} damaged", record.id);
            *per_batch.entry((record.id - 1) / BATCH).or_default() += 1;
        }
        for k in 0..=last {
            assert_eq!(
                per_batch.get(&k),
                Some(&BATCH),
                "round {round}: batch {k} was acknowledged but is not (all) there"
            );
        }
        for (k, count) in &per_batch {
            assert_eq!(*count, BATCH, "round {round}: batch {k} is there in part");
        }
        // At most the batch in flight at the kill is there without its acknowledgement.
        let present = u64::try_from(per_batch.len()).unwrap();
        assert!(
            present == last + 1 || present == last + 2,
            "{present} vs {last}"
        );
        let outbox = store.outbox("crash", usize::MAX).unwrap();
        assert_eq!(u64::try_from(outbox.len()).unwrap(), present);
        for (i, item) in outbox.iter().enumerate() {
            assert_eq!(item.seq, u64::try_from(i).unwrap() + 1);
        }
        assert_eq!(store.max_id().unwrap(), present * BATCH);
        // And it goes on from there.
        store.commit(&batch(present)).unwrap();
        assert!(store.get((present + 1) * BATCH).unwrap().is_some());
    }
}
