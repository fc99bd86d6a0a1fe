//! Memory per pending entry (issue #10 §1/§5): N messages accepted and sent (each a
//! record, its pending entry and its carrier-id index entry, written through the
//! [`Store`] as the gateway writes them: `Insert`, then `Put` + `CarrierId`), then the
//! process's resident memory is read.
//!
//! ```text
//! cargo run --release --example store_pending_memory -- [COUNT] [DIR]
//! ```
//!
//! Prints one JSON line: RSS before, after, the delta per entry at half and at all of
//! COUNT, and the slope between the two (what each further entry costs in memory; the
//! rest of the delta is fjall's bounded memtables and block cache).

use std::sync::Arc;
use std::time::Instant;

use smppgate::config::Class;
use smppgate::store::{FjallStore, MessageRecord, Op, PartRecord, State, Store};

const BATCH: u64 = 2_000;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn record(id: u64) -> MessageRecord {
    // An encoded one-part submit_sm of a typical size (header + addresses + 40 octets).
    let request = vec![0x41; 96];
    MessageRecord {
        id,
        account: "acme".to_owned(),
        accepted: 1_700_000_000_000 + id / 100,
        class: Class::Notification,
        route: None,
        request,
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

fn insert(store: &dyn Store, from: u64, to: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut id = from;
    while id < to {
        let end = (id + BATCH).min(to);
        let inserts: Vec<Op> = (id..end)
            .map(|i| Op::Insert(std::sync::Arc::new(record(i))))
            .collect();
        store.commit(&inserts)?;
        let mut updates = Vec::with_capacity(2 * usize::try_from(BATCH)?);
        for i in id..end {
            let carrier_id = format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut sent = record(i);
            sent.state = State::Sent;
            sent.parts[0].state = State::Sent;
            sent.parts[0].carrier = Some("carrier-a".to_owned());
            sent.parts[0].carrier_id = Some(carrier_id.clone());
            updates.push(Op::Put(Arc::new(sent)));
            updates.push(Op::CarrierId {
                carrier: "carrier-a".to_owned(),
                carrier_id,
                id: i,
                part: 0,
            });
        }
        store.commit(&updates)?;
        id = end;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let dir = args.next().map_or_else(
        || std::env::temp_dir().join(format!("smppgate-pending-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&dir);
    // fsync off: the durability mode does not change what stays in memory.
    let store = FjallStore::open(&dir, false)?;
    let before = rss_bytes();
    let started = Instant::now();
    let half = count / 2;
    insert(&store, 1, half + 1)?;
    let at_half = rss_bytes();
    insert(&store, half + 1, count + 1)?;
    let at_full = rss_bytes();
    let seconds = started.elapsed().as_secs_f64();
    // Every entry is findable and pending.
    let probe = count / 3 + 1;
    let carrier_id = format!("{:016x}", probe.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let found = store.by_carrier_id("carrier-a", &carrier_id)?;
    let per = |bytes: u64, n: u64| bytes.checked_div(n).unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "entries": count,
            "rss_before_bytes": before,
            "rss_after_bytes": at_full,
            "rss_delta_per_entry_half": per(at_half.saturating_sub(before), half),
            "rss_delta_per_entry": per(at_full.saturating_sub(before), count),
            "rss_slope_per_entry": per(at_full.saturating_sub(at_half), count - half),
            "index_lookup_ok": found == Some((probe, 0)),
            "insert_seconds": (seconds * 10.0).round() / 10.0,
            "fjall_cache_bytes": 32 * 1024 * 1024,
            "fjall_write_buffer_bytes": 64 * 1024 * 1024,
        })
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
