//! Commit throughput and latency of the Store on JetStream (R1 / R3) against the
//! embedded store (fjall, fsync), on the gateway's own write pattern
//! (docs/adr/0008-cluster-backend.md, docs/benchmarks/cluster.md).
//!
//! `cargo run --release --example cluster_commit_bench -- TARGET BATCH MESSAGES`
//! - TARGET: `fjall:DIR`, or `nats:URL[,URL…]:REPLICAS` (e.g.
//!   `nats:nats://127.0.0.1:4222:1`); scripts/bench-cluster starts the servers;
//! - BATCH: messages per commit (the group commit's batch);
//! - MESSAGES: messages in all.
//!
//! Per message, as the gateway writes them: the accept commit (an `Insert`: record +
//! pending key + the node's max id), then, in a later commit, the carrier's answer (a
//! `Put` of the record with the part `Sent` + the carrier-id index entry), then the final
//! receipt (a `Put` of the final record, which takes it off the pending set, + an outbox
//! push). Prints one JSON line: commits, messages/s over the three phases and the
//! commit latency p50 / p99 of each phase.

use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use smppgate::config::{Class, ClusterConfig};
use smppgate::store::{
    FjallStore, JetStreamStore, MessageRecord, Op, OutboxItem, PartRecord, State, Store,
};

fn record(id: u64, state: State, carrier_id: Option<String>) -> MessageRecord {
    MessageRecord {
        id,
        account: "bench".to_owned(),
        accepted: 1_733_000_000_000 + id % 1_000_000,
        class: Class::Otp,
        route: None,
        request: vec![0x42; 160],
        part_count: 1,
        wants_receipt: true,
        state,
        not_before: 0,
        expires: 0,
        route_taken: "all".to_owned(),
        client_ref: None,
        deferred_by: None,
        parts: vec![PartRecord {
            state,
            carrier: carrier_id.as_ref().map(|_| "c".to_owned()),
            carrier_id,
            status: 0,
            attempts: 1,
            error: None,
            updated: 5,
        }],
    }
}

fn open(target: &str) -> Box<dyn Store> {
    if let Some(dir) = target.strip_prefix("fjall:") {
        let _ = std::fs::remove_dir_all(dir);
        return Box::new(FjallStore::open(dir, true).expect("fjall"));
    }
    let rest = target
        .strip_prefix("nats:")
        .expect("TARGET is fjall:DIR or nats:URLS:REPLICAS");
    let (urls, replicas) = rest.rsplit_once(':').expect("nats:URLS:REPLICAS");
    let config = ClusterConfig {
        nats: urls.split(',').map(str::to_owned).collect(),
        node: "bench".to_owned(),
        replicas: replicas.parse().expect("replicas"),
        prefix: format!("bench{}", std::process::id()),
        ..ClusterConfig::default()
    };
    Box::new(JetStreamStore::open(&config).expect("jetstream"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, batch, messages] = &args[..] else {
        eprintln!("usage: cluster_commit_bench TARGET BATCH MESSAGES");
        std::process::exit(2);
    };
    let batch: u64 = batch.parse().expect("BATCH");
    let messages: u64 = messages.parse().expect("MESSAGES");
    let store = open(target);
    let first = store.max_id().expect("max id") + 1;
    let mut phases = Vec::new();
    let started = Instant::now();
    for phase in ["accept", "sent", "final"] {
        let mut latency = Histogram::<u64>::new(3).expect("histogram");
        let phase_start = Instant::now();
        let mut id = first;
        while id < first + messages {
            let end = (id + batch).min(first + messages);
            let ops: Vec<Op> = (id..end)
                .flat_map(|id| {
                    let carrier_id = format!("{id:x}");
                    match phase {
                        "accept" => vec![Op::Insert(Arc::new(record(id, State::Accepted, None)))],
                        "sent" => vec![
                            Op::Put(Arc::new(record(id, State::Sent, Some(carrier_id.clone())))),
                            Op::CarrierId {
                                carrier: "c".to_owned(),
                                carrier_id,
                                id,
                                part: 0,
                            },
                        ],
                        _ => vec![
                            Op::Put(Arc::new(record(id, State::Delivered, Some(carrier_id)))),
                            Op::OutboxPush(OutboxItem {
                                seq: 0,
                                account: "bench".to_owned(),
                                deliver_sm: vec![0x24; 160],
                                queued: 1,
                                attempts: 0,
                            }),
                        ],
                    }
                })
                .collect();
            let commit = Instant::now();
            store.commit(&ops).expect("commit");
            latency
                .record(u64::try_from(commit.elapsed().as_micros()).unwrap_or(u64::MAX))
                .expect("record");
            id = end;
        }
        let secs = phase_start.elapsed().as_secs_f64();
        phases.push(format!(
            "\"{phase}\":{{\"msgs_per_s\":{:.0},\"commit_p50_us\":{},\"commit_p99_us\":{}}}",
            messages as f64 / secs,
            latency.value_at_quantile(0.5),
            latency.value_at_quantile(0.99)
        ));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"target\":\"{target}\",\"batch\":{batch},\"messages\":{messages},\"lifecycles_per_s\":{:.0},{}}}",
        messages as f64 / secs,
        phases.join(",")
    );
}
