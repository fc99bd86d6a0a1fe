//! fjall vs redb on smppgate's own access pattern (docs/adr/0002-storage-engine.md).
//!
//! `cargo bench --bench store [fjall|redb|group]` (env: `STORE_BENCH_SECS` seconds per small-batch phase,
//! default 4; `STORE_BENCH_MESSAGES` messages in the large-batch phase, default 100 000;
//! `STORE_BENCH_DIR` where the stores are created, default `target/store-bench`).
//!
//! Both engines get the same keys and values and the same batches. A message's life is
//! four logical operations, interleaved as they are in the gateway (accept of message n
//! next to the carrier answer for n-64, the receipt for n-128 and the outbox ack for
//! n-192):
//! - accept: message record (300 B) + pending key + max id;
//! - sent: message record rewritten + carrier-id index entry (random carrier id);
//! - final: message record rewritten + pending key removed + outbox push (160 B);
//! - ack: outbox entry removed.
//!
//! Every commit is durable (redb `Durability::Immediate`, fjall `PersistMode::SyncData`).
//! After the write phases: random carrier-id look-ups, then close, reopen and scan the
//! pending set (what a restart does). Bytes written come from `/proc/self/io`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use redb::ReadableTable;

#[derive(Clone, Copy)]
enum Table {
    Messages,
    Carrier,
    Pending,
    Outbox,
    Meta,
}

impl Table {
    const ALL: [Self; 5] = [
        Self::Messages,
        Self::Carrier,
        Self::Pending,
        Self::Outbox,
        Self::Meta,
    ];

    const fn name(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Carrier => "carrier",
            Self::Pending => "pending",
            Self::Outbox => "outbox",
            Self::Meta => "meta",
        }
    }
}

enum KvOp {
    Put(Table, Vec<u8>, Vec<u8>),
    Del(Table, Vec<u8>),
}

trait Engine {
    fn commit(&mut self, ops: &[KvOp]);
    fn get(&self, table: Table, key: &[u8]) -> Option<Vec<u8>>;
    /// Number of keys in the first `limit` of `table`, reading each value.
    fn scan(&self, table: Table, limit: usize) -> usize;
}

// ---- redb ----

struct Redb {
    db: redb::Database,
}

fn redb_table(table: Table) -> redb::TableDefinition<'static, &'static [u8], &'static [u8]> {
    redb::TableDefinition::new(table.name())
}

impl Redb {
    fn open(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("dir");
        let db = redb::Database::create(dir.join("store.redb")).expect("redb open");
        let tx = db.begin_write().expect("begin");
        for table in Table::ALL {
            tx.open_table(redb_table(table)).expect("table");
        }
        tx.commit().expect("commit");
        Self { db }
    }
}

impl Engine for Redb {
    fn commit(&mut self, ops: &[KvOp]) {
        let mut tx = self.db.begin_write().expect("begin");
        tx.set_durability(redb::Durability::Immediate);
        {
            let mut tables: Vec<_> = Table::ALL
                .iter()
                .map(|&t| tx.open_table(redb_table(t)).expect("table"))
                .collect();
            for op in ops {
                match op {
                    KvOp::Put(t, k, v) => {
                        tables[*t as usize]
                            .insert(k.as_slice(), v.as_slice())
                            .expect("insert");
                    }
                    KvOp::Del(t, k) => {
                        tables[*t as usize].remove(k.as_slice()).expect("remove");
                    }
                }
            }
        }
        tx.commit().expect("commit");
    }

    fn get(&self, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        let tx = self.db.begin_read().expect("read");
        let t = tx.open_table(redb_table(table)).expect("table");
        t.get(key).expect("get").map(|v| v.value().to_vec())
    }

    fn scan(&self, table: Table, limit: usize) -> usize {
        let tx = self.db.begin_read().expect("read");
        let t = tx.open_table(redb_table(table)).expect("table");
        let mut n = 0;
        for entry in t.iter().expect("iter").take(limit) {
            let (_, value) = entry.expect("entry");
            std::hint::black_box(value.value());
            n += 1;
        }
        n
    }
}

// ---- fjall ----

struct Fjall {
    keyspace: fjall::Keyspace,
    tables: Vec<fjall::PartitionHandle>,
}

impl Fjall {
    fn open(dir: &Path) -> Self {
        let keyspace = fjall::Config::new(dir)
            .manual_journal_persist(true)
            .open()
            .expect("fjall open");
        let tables = Table::ALL
            .iter()
            .map(|t| {
                keyspace
                    .open_partition(t.name(), fjall::PartitionCreateOptions::default())
                    .expect("partition")
            })
            .collect();
        Self { keyspace, tables }
    }
}

impl Engine for Fjall {
    fn commit(&mut self, ops: &[KvOp]) {
        let mut batch = self
            .keyspace
            .batch()
            .durability(Some(fjall::PersistMode::SyncData));
        for op in ops {
            match op {
                KvOp::Put(t, k, v) => batch.insert(&self.tables[*t as usize], k.clone(), v.clone()),
                KvOp::Del(t, k) => batch.remove(&self.tables[*t as usize], k.clone()),
            }
        }
        batch.commit().expect("commit");
    }

    fn get(&self, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        self.tables[table as usize]
            .get(key)
            .expect("get")
            .map(|v| v.to_vec())
    }

    fn scan(&self, table: Table, limit: usize) -> usize {
        let mut n = 0;
        for entry in self.tables[table as usize].iter().take(limit) {
            std::hint::black_box(entry.expect("entry"));
            n += 1;
        }
        n
    }
}

// ---- workload ----

fn carrier_key(n: u64) -> Vec<u8> {
    // Carrier ids look random (hex of a hash), so index inserts land all over the tree.
    let id = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    format!("carrier-a\0{id:016x}").into_bytes()
}

fn outbox_key(n: u64) -> Vec<u8> {
    let mut key = format!("acct{}\0", n % 4).into_bytes();
    key.extend_from_slice(&n.to_be_bytes());
    key
}

fn record(n: u64, stage: u8) -> Vec<u8> {
    let mut v = vec![stage; 300];
    v[..8].copy_from_slice(&n.to_be_bytes());
    v
}

/// The logical operation `i` of the interleaved stream, as key-value writes.
fn logical_op(i: u64, out: &mut Vec<KvOp>) {
    let n = i / 4;
    match i % 4 {
        0 => {
            out.push(KvOp::Put(
                Table::Messages,
                n.to_be_bytes().to_vec(),
                record(n, 0),
            ));
            out.push(KvOp::Put(
                Table::Pending,
                n.to_be_bytes().to_vec(),
                Vec::new(),
            ));
            out.push(KvOp::Put(
                Table::Meta,
                b"max_id".to_vec(),
                n.to_be_bytes().to_vec(),
            ));
        }
        1 if n >= 64 => {
            let m = n - 64;
            out.push(KvOp::Put(
                Table::Messages,
                m.to_be_bytes().to_vec(),
                record(m, 1),
            ));
            let mut v = m.to_be_bytes().to_vec();
            v.extend_from_slice(&0u16.to_be_bytes());
            out.push(KvOp::Put(Table::Carrier, carrier_key(m), v));
        }
        2 if n >= 128 => {
            let m = n - 128;
            out.push(KvOp::Put(
                Table::Messages,
                m.to_be_bytes().to_vec(),
                record(m, 2),
            ));
            out.push(KvOp::Del(Table::Pending, m.to_be_bytes().to_vec()));
            out.push(KvOp::Put(Table::Outbox, outbox_key(m), vec![7; 160]));
        }
        3 if n >= 192 => out.push(KvOp::Del(Table::Outbox, outbox_key(n - 192))),
        _ => {}
    }
}

fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes: ").map(str::to_owned))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                total += dir_size(&path);
            } else if let Ok(meta) = entry.metadata() {
                total += meta.len();
            }
        }
    }
    total
}

struct Phase {
    commits: u64,
    ops: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
    disk_bytes: u64,
}

/// Commits batches of `batch` logical ops until `max_ops` or `max_time`; `next` is the
/// stream position, carried over between phases.
fn write_phase(
    engine: &mut dyn Engine,
    next: &mut u64,
    batch: u64,
    max_ops: u64,
    max_time: Duration,
) -> Phase {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("histogram");
    let written = written_bytes();
    let start = Instant::now();
    let mut commits = 0;
    let mut ops = 0;
    let mut kv = Vec::new();
    while ops < max_ops && start.elapsed() < max_time {
        kv.clear();
        for _ in 0..batch {
            logical_op(*next, &mut kv);
            *next += 1;
        }
        let t = Instant::now();
        engine.commit(&kv);
        latency.saturating_record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        commits += 1;
        ops += batch;
    }
    Phase {
        commits,
        ops,
        elapsed: start.elapsed(),
        latency,
        disk_bytes: written_bytes().saturating_sub(written),
    }
}

fn report(engine: &str, batch: u64, p: &Phase) {
    let secs = p.elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_op = p.disk_bytes as f64 / p.ops.max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let (cps, ops) = (p.commits as f64 / secs, p.ops as f64 / secs);
    println!(
        "| {engine} | {batch} | {cps:.0} | {ops:.0} | {:.2} | {:.2} | {per_op:.0} |",
        p.latency.value_at_quantile(0.5) as f64 / 1000.0,
        p.latency.value_at_quantile(0.99) as f64 / 1000.0,
    );
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(name: &str, dir: &Path, open: fn(&Path) -> Box<dyn Engine>) {
    let secs = Duration::from_secs(env_u64("STORE_BENCH_SECS", 4));
    let messages = env_u64("STORE_BENCH_MESSAGES", 100_000);
    let _ = std::fs::remove_dir_all(dir);
    let mut engine = open(dir);
    let mut next = 0;
    for batch in [1, 64] {
        let phase = write_phase(engine.as_mut(), &mut next, batch, u64::MAX, secs);
        report(name, batch, &phase);
    }
    let phase = write_phase(
        engine.as_mut(),
        &mut next,
        1024,
        messages * 4,
        Duration::from_secs(600),
    );
    report(name, 1024, &phase);
    let total_messages = next / 4;

    // Random carrier-id look-ups among the messages that have one.
    let sent = total_messages.saturating_sub(64).max(1);
    let lookups = 20_000;
    let mut rng = fastrand::Rng::with_seed(7);
    let start = Instant::now();
    let mut found = 0;
    for _ in 0..lookups {
        found += usize::from(
            engine
                .get(Table::Carrier, &carrier_key(rng.u64(..sent)))
                .is_some(),
        );
    }
    let lookup_secs = start.elapsed().as_secs_f64();
    let outbox_start = Instant::now();
    let outbox = engine.scan(Table::Outbox, 100);
    let outbox_ms = outbox_start.elapsed().as_secs_f64() * 1000.0;
    drop(engine);
    let disk = dir_size(dir);

    let start = Instant::now();
    let engine = open(dir);
    let reopen_ms = start.elapsed().as_secs_f64() * 1000.0;
    let start = Instant::now();
    let pending = engine.scan(Table::Pending, usize::MAX);
    let pending_ms = start.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{name}: {total_messages} messages, {:.0} carrier-id look-ups/s ({found}/{lookups} found), \
         first {outbox} outbox items in {outbox_ms:.2} ms, on disk {:.1} MiB, reopen {reopen_ms:.1} ms, \
         pending scan {pending} keys in {pending_ms:.1} ms",
        f64::from(lookups) / lookup_secs,
        disk as f64 / (1024.0 * 1024.0),
    );
}

/// Group commit under load: `tasks` × `callers` concurrent `GroupCommit::commit` callers,
/// one message insert each, for `secs` on a fresh `FjallStore` with fsync.
fn group(dir: &Path, tasks: usize, callers: usize, secs: u64) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use smppgate::config::Class;
    use smppgate::store::{FjallStore, GroupCommit, MessageRecord, Op, PartRecord, State, Store};

    let _ = std::fs::remove_dir_all(dir);
    let store: Arc<dyn Store> = Arc::new(FjallStore::open(dir, true).expect("open"));
    let group = Arc::new(GroupCommit::start(store, 4096));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(tasks)
        .enable_all()
        .build()
        .expect("runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicU64::new(1));
    let start = Instant::now();
    runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks * callers {
            let (group, stop, next_id) = (group.clone(), stop.clone(), next_id.clone());
            set.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let record = MessageRecord {
                        id,
                        account: "bench".to_owned(),
                        accepted: id,
                        class: Class::Otp,
                        route: None,
                        request: vec![0x41; 200],
                        part_count: 1,
                        wants_receipt: true,
                        state: State::Accepted,
                        not_before: 0,
                        expires: 0,
                        route_taken: String::new(),
                        client_ref: None,
                        deferred_by: None,
                        parts: vec![PartRecord::default()],
                    };
                    group
                        .commit(vec![Op::Insert(std::sync::Arc::new(record))])
                        .await
                        .expect("commit");
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        while set.join_next().await.is_some() {}
    });
    let elapsed = start.elapsed().as_secs_f64();
    drop(runtime);
    let stats = group.stats();
    // Commits what is queued and closes the store before the next run.
    Arc::into_inner(group).expect("callers gone").shutdown();
    #[allow(clippy::cast_precision_loss)]
    let (cps, ops) = (stats.commits as f64 / elapsed, stats.ops as f64 / elapsed);
    println!(
        "group commit, {tasks} tasks x {callers} callers, {secs} s: {cps:.0} commits/s, \
         {ops:.0} acknowledged inserts/s; batch size p50 {} p99 {} max {} (mean {:.1}); \
         commit p50 {:.2} ms p99 {:.2} ms",
        stats.batch_size.value_at_quantile(0.5),
        stats.batch_size.value_at_quantile(0.99),
        stats.batch_size.max(),
        stats.batch_size.mean(),
        stats.commit_micros.value_at_quantile(0.5) as f64 / 1000.0,
        stats.commit_micros.value_at_quantile(0.99) as f64 / 1000.0,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let dir = std::env::var_os("STORE_BENCH_DIR")
        .map_or_else(|| PathBuf::from("target/store-bench"), PathBuf::from);
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if only.as_deref() == Some("group") {
        let secs = env_u64("STORE_BENCH_SECS", 4);
        group(&dir.join("group-1x1"), 1, 1, secs);
        group(&dir.join("group-4x64"), 4, 64, secs);
        return;
    }
    println!(
        "| engine | ops/commit | commits/s | ops/s | p50 ms | p99 ms | disk bytes written/op |"
    );
    println!("|---|---|---|---|---|---|---|");
    if only.as_deref().is_none_or(|o| o == "fjall") {
        run("fjall", &dir.join("fjall"), |d| Box::new(Fjall::open(d)));
    }
    if only.as_deref().is_none_or(|o| o == "redb") {
        run("redb", &dir.join("redb"), |d| Box::new(Redb::open(d)));
    }
}
