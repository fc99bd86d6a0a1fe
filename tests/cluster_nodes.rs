//! Two gateway nodes active at once on one 3-node NATS JetStream cluster (`replicas = 3`),
//! real processes (docs/cluster.md "Several active nodes"):
//!
//! - A transmitter submits 1 000 messages through node A (`gw-1`, its carrier a `smppgate
//!   sim` sending a receipt for each) while the same account is bound as a receiver on
//!   node B (`gw-2`): B's client gets every receipt (A matches them and queues them in the
//!   shared outbox stream; B's outbox task is woken by the stream's subjects).
//! - An opt-out MO ("退订") that the carrier sends to node A blocks a marketing submit to
//!   that number on node B within one second (the shared suppression bucket, followed by a
//!   KV watch on each node).
//!
//! Both nodes start on an empty cluster and both send (each pulls from the route's work
//! queue; the carrier's binds are split between them).
//! Without a nats-server 2.10+ (scripts/install-peers) each test says it skipped.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate::esme::EsmeClient;
use smppgate_protocol::pdu::{DeliverSm, SubmitSm};
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, DataCoding};
use support::mo_carrier::{carrier_session, quiet_carrier};
use support::nats::NatsCluster;
use support::submit::bind as client;
use support::{Sim, serve_node, write_gateway_config};

const COUNT: usize = 1_000;

/// A node's configuration in a directory of its own (each node its control socket).
fn node_config(dir: &Path, rest: &str, cluster: &NatsCluster, node: &str) -> PathBuf {
    let text = format!("{rest}{}", cluster.gateway_section(node, 3));
    write_gateway_config(dir, &text)
}

fn receipts_rest(carrier: &str) -> String {
    format!(
        r#"

[[account]]
system_id = "app"
password = "pw"
window = 128

[[carrier]]
name = "sim"
address = "{carrier}"
system_id = "gw"
password = "x"
binds = 2
window = 64
tps = 100000

[[route]]
name = "all"
default = true
carriers = ["sim"]
"#
    )
}

/// Text of message `n`: one part, or (`long`) two parts of GSM text (250 > 160 septets).
fn text(n: usize, long: bool) -> Bytes {
    if long {
        Bytes::from(format!("two nodes {n} ").repeat(30).into_bytes()[..250].to_vec())
    } else {
        Bytes::from(format!("two nodes {n}"))
    }
}

async fn submit_all(addr: &str, long: bool) -> Vec<String> {
    support::submit::with_receipts(addr, "app", "pw", COUNT, |n| text(n, long)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_of_submits_on_node_a_reach_a_receiver_on_node_b() {
    receipts_across_nodes(&["--receipt-delay-ms", "100-500"], false, false).await;
}

/// The carrier sends each receipt on another of its binds than the submitting one: some
/// arrive on node B's carrier binds and are matched there (the shared carrier-id bucket).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_sent_on_another_nodes_carrier_bind_are_matched_there() {
    receipts_across_nodes(
        &["--receipt-delay-ms", "100-500", "--receipt-bind", "other"],
        true,
        false,
    )
    .await;
}

/// Issue #17 (record-cache coherence): two-part messages dispatched by node A whose
/// receipts come in on either node's carrier binds. Each node writes the parts' receipts
/// it matched; node A its outcomes, from its cached copy. Every part ends delivered in the
/// send log and every message's receipt reaches the client: none lost to a write from a
/// stale copy (before the conditional writes, a message whose receipts were split between
/// the nodes stayed `sent`, its receipt never queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_receipts_split_between_nodes_are_all_recorded_and_sent() {
    receipts_across_nodes(
        &["--receipt-delay-ms", "100-500", "--receipt-bind", "other"],
        true,
        true,
    )
    .await;
}

/// How long a node may take to start and bind to the carrier.
const STARTUP: Duration = Duration::from_secs(60);

async fn receipts_across_nodes(sim_args: &[&str], receipts_on_b: bool, long: bool) {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let sim_args: Vec<&str> = sim_args
        .iter()
        .copied()
        .chain(["--stats-interval", "0.2"])
        .collect();
    let mut sim = Sim::start(&sim_args);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rest = receipts_rest(&sim.addr.to_string());
    let config_a = node_config(dir_a.path(), &rest, &cluster, "gw-1");
    let config_b = node_config(dir_b.path(), &rest, &cluster, "gw-2");
    let (node_a, addr_a) = serve_node(&config_a);
    // The carrier's 2 binds: both on A alone, then one each (docs/cluster.md "Carrier
    // binds and TPS across nodes"); B's opens a few seconds after it starts.
    let active = |s: &serde_json::Value| s["sessions_active"].as_u64().unwrap_or(0);
    let made = |s: &serde_json::Value| s["binds"].as_u64().unwrap_or(0);
    // Generous: a node on a 3-server JetStream cluster creates its replicated streams and
    // buckets before it binds (seconds, more in a loaded full run); what is asserted is
    // that the binds come, not how fast. A timeout prints the nodes' logs.
    sim.stats_until(STARTUP, &[&node_a], |s| active(s) == 2);
    let (node_b, addr_b) = serve_node(&config_b);
    sim.stats_until(STARTUP, &[&node_a, &node_b], |s| {
        made(s) >= 3 && active(s) == 2
    });

    // The receiver binds on B before anything is submitted on A.
    let (_rx, mut inbound) = client(&addr_b.to_string(), "app", "pw", BindKind::Receiver).await;
    let ids = submit_all(&addr_a.to_string(), long).await;
    let mut seen: HashMap<String, u32> = ids.iter().map(|id| (id.clone(), 0)).collect();
    assert_eq!(seen.len(), COUNT, "message ids are distinct");
    let mut distinct = 0;
    while distinct < COUNT {
        let request = tokio::time::timeout(Duration::from_secs(30), inbound.recv())
            .await
            .unwrap_or_else(|_| panic!("only {distinct} of {COUNT} receipts on node B"))
            .expect("inbound open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        let id = receipt.id().expect("id").to_owned();
        let n = seen
            .get_mut(&id)
            .unwrap_or_else(|| panic!("receipt for unknown id {id}"));
        if *n == 0 {
            distinct += 1;
        }
        *n += 1;
    }
    // Nothing was lost or in flight across a failure: each receipt once.
    let twice = seen.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "{twice} receipts came twice");
    eprintln!("{COUNT} submits on gw-1, {COUNT} receipts on gw-2");
    let (mut matched, mut forwarded) = (Vec::new(), Vec::new());
    for node in [node_a, node_b] {
        node.terminate();
        let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
        let report = finished.success_json();
        matched.push(report["receipts_matched"].as_u64().unwrap_or(0));
        forwarded.push(report["forwarded"].as_u64().unwrap_or(0));
        eprintln!(
            "receipts early {}, unmatched {}",
            report["receipts_early"], report["receipts_unmatched"]
        );
    }
    eprintln!("receipts matched per node {matched:?}, forwarded per node {forwarded:?}");
    // Node B (the receiver's) forwarded them; node A, with no receiver, none.
    assert_eq!(forwarded, [0, COUNT as u64], "forwarded per node");
    // Every receipt was matched once, by whichever node its carrier bind belongs to.
    let parts = if long { 2 } else { 1 };
    assert_eq!(
        matched.iter().sum::<u64>(),
        (COUNT * parts) as u64,
        "matched per node: {matched:?}"
    );
    if long {
        // The send log, as `messages list` reads it from the cluster: every part delivered.
        let listed = support::smppgate()
            .args(["messages", "list", "--json", "--limit", "5000", "--config"])
            .arg(&config_a)
            .output()
            .expect("run smppgate messages list");
        assert!(listed.status.success(), "{listed:?}");
        let records: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).expect("JSON");
        assert_eq!(records.len(), COUNT, "messages in the send log");
        for record in &records {
            let parts = record["parts"].as_array().expect("parts");
            assert_eq!(parts.len(), 2, "{record}");
            assert!(
                record["state"] == "delivered"
                    && parts
                        .iter()
                        .all(|p| p["state"] == "delivered" && !p["carrier_id"].is_null()),
                "not every part delivered: {record}"
            );
        }
    }
    if receipts_on_b {
        assert!(
            matched[1] > 0,
            "no receipt came in on node B's binds: {matched:?}"
        );
    }
    let _ = sim.stop();
}

const SUBSCRIBER: &str = "8613900001111";

fn opt_out_rest(carrier: std::net::SocketAddr) -> String {
    format!(
        r#"
[[account]]
system_id = "shop"
password = "secret"
numbers = ["10690000"]
policy = "cn-marketing"

[[policy]]
name = "cn-marketing"

[[carrier]]
name = "mo"
address = "{carrier}"
system_id = "gw"
password = "x"
binds = 1
tps = 1000

[[route]]
name = "all"
default = true
carriers = ["mo"]
"#
    )
}

/// The status of a marketing submit to the subscriber through `tx`.
async fn marketing(tx: &EsmeClient) -> u32 {
    let submit = SubmitSm {
        // service_type "mkt": the marketing class (the opt-out list applies to it).
        service_type: Bytes::from_static(b"mkt"),
        source_addr: Address::international("10690000"),
        destination_addr: Address::international(SUBSCRIBER),
        short_message: Bytes::from_static(b"20% off this week"),
        ..SubmitSm::default()
    };
    let response = support::within("submit answered", tx.submit(submit))
        .await
        .expect("response");
    response.status().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_on_node_a_blocks_marketing_on_node_b_within_a_second() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    // Each node its own carrier: the MO reaches node A only.
    let (carrier_a, server_a) = quiet_carrier().await;
    let (_carrier_b, server_b) = quiet_carrier().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config_a = node_config(
        dir_a.path(),
        &opt_out_rest(server_a.local_addr()),
        &cluster,
        "gw-1",
    );
    let config_b = node_config(
        dir_b.path(),
        &opt_out_rest(server_b.local_addr()),
        &cluster,
        "gw-2",
    );
    let (node_a, _addr_a) = tokio::task::block_in_place(|| serve_node(&config_a));
    let (node_b, addr_b) = tokio::task::block_in_place(|| serve_node(&config_b));
    let session_a = carrier_session(&carrier_a).await;
    let (tx, _none) = client(&addr_b.to_string(), "shop", "secret", BindKind::Transmitter).await;
    assert_eq!(marketing(&tx).await, 0, "marketing goes before the reply");

    let mo = DeliverSm {
        source_addr: Address::international(SUBSCRIBER),
        destination_addr: Address::international("10690000"),
        data_coding: DataCoding(8),
        short_message: Bytes::from(
            "退订"
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect::<Vec<u8>>(),
        ),
        ..DeliverSm::default()
    };
    let answer = support::within("deliver_sm answered", session_a.deliver(mo)).await;
    assert!(answer.unwrap().is_ok(), "node A refused the MO");
    // Node A answered the MO: the opt-out is committed. Node B refuses within a second.
    let answered = Instant::now();
    let mut tries = 0;
    let status = loop {
        tries += 1;
        let status = marketing(&tx).await;
        if status == 0x400 || answered.elapsed() > Duration::from_secs(1) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = answered.elapsed();
    assert_eq!(
        status, 0x400,
        "node B still sends marketing {took:?} after node A took the opt-out ({tries} tries)"
    );
    assert!(took <= Duration::from_millis(1_100), "{took:?}");
    eprintln!("node B refused marketing {took:?} after the opt-out on node A ({tries} tries)");
    tx.unbind().await;
    for node in [node_a, node_b] {
        node.terminate();
        let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
        assert!(finished.status.success(), "{}", finished.stderr);
    }
}

/// Issue #16's `Idempotency-Key` on a cluster: a client whose request was answered by node
/// A retries through node B (its load balancer moved it, or A died after answering). B
/// answers with A's first answer and sends nothing (each node takes in the answers the
/// others store, from the shared outbox stream). Before, B knew only its own keys and
/// accepted the retry as a new request: the message went twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_through_the_other_node_gets_the_first_answer() {
    const KEY: &str = "sgk_cluster_idempotency_key";
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let sim = Sim::start(&[]);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut apis = Vec::new();
    let mut nodes = Vec::new();
    for (dir, node) in dirs.iter().zip(["gw-1", "gw-2"]) {
        let rest = format!(
            "\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[[account]]\nsystem_id = \"app\"\n\
             password = \"pw\"\napi_keys = [\"{key}\"]\n{route}",
            port = support::free_port(),
            key = smppgate::http::key_hash(KEY),
            route = support::one_carrier_route("sim", &sim.addr.to_string(), "tps = 1000"),
        );
        let config = node_config(dir.path(), &rest, &cluster, node);
        let (mut proc, _) = tokio::task::block_in_place(|| serve_node(&config));
        let line = tokio::task::block_in_place(|| {
            proc.wait_line(Duration::from_secs(10), |l| l.starts_with("http: "))
        });
        apis.push(line["http: ".len()..].trim().to_owned());
        nodes.push(proc);
    }
    let http = reqwest::Client::new();
    let post = |api: &str, body: String| {
        http.post(format!("{api}/v1/messages"))
            .bearer_auth(KEY)
            .header("Idempotency-Key", "order-4711")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let request = serde_json::json!({"to": "+8613800138000", "text": "your code is 4711"});
    let first = support::within("node A answers", post(&apis[0], request.to_string()))
        .await
        .expect("node A");
    assert_eq!(first.status(), 202);
    let first = first.text().await.expect("body");
    // Node B takes the answer in within a second. Probed with a body that is not JSON:
    // while B does not know the key the probe is new there and refused as malformed
    // (400, nothing kept); once B knows it, the key's first body differs (422).
    let started = Instant::now();
    loop {
        let probe = support::within("node B answers", post(&apis[1], "{".to_owned()))
            .await
            .expect("node B");
        if probe.status() == 422 {
            break;
        }
        assert_eq!(probe.status(), 400, "a probe was taken as a request");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "node B does not know node A's key after {:?} (answered {})",
            started.elapsed(),
            probe.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("node B knew node A's key {:?} after", started.elapsed());
    let retry = support::within("node B answers", post(&apis[1], request.to_string()))
        .await
        .expect("node B");
    assert_eq!(retry.status(), 202);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(retry.text().await.expect("body"), first, "the first answer");
    for node in nodes {
        node.terminate();
        let _ = node.finish(Duration::from_secs(20));
    }
    let _ = sim.stop();
}
