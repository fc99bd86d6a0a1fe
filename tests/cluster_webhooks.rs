//! One node at a time posts an account's webhook events (issue #17, docs/cluster.md
//! "Several active nodes"): two gateway nodes on a 3-node NATS JetStream cluster, one
//! account with a `webhook_url` (a small receiver in the test counting the events by
//! message id).
//!
//! 1. 200 submits through `gw-1` and 200 through `gw-2` (the receipts are matched on the
//!    node that sent each message, so on both): every receipt is posted exactly once.
//!    Before the webhook queue had its lease, each node's webhook task posted every
//!    event: each twice.
//! 2. 600 more through the node *not* holding the webhook lease, the simulator spreading
//!    the receipts over 6 s; the lease holder is killed (`kill -9`) once 50 of them were
//!    posted: the survivor takes the lease when it expires (10 s after its last
//!    renewal) and posts the rest. Duplicates: at most what the dead node had in flight,
//!    one batch (`webhook::BATCH`, 100 events) posted and not yet recorded as delivered.
//!
//! 3. `webhook_mode = "both"`, the account's receiver bound on `gw-2` only: 150 submits
//!    through each node; every receipt reaches the receiver once (the account's SMPP
//!    lease, on `gw-2`) and the webhook once (the webhook queue's lease, on either node).
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes as Body;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::Value;
use smppgate::config::ClusterConfig;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::store::OutboxLeases;
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use support::nats::NatsCluster;
use support::{Sim, serve_node, write_gateway_config};

const FIRST: usize = 200;
const SECOND: usize = 600;
/// The gateway's outbox lease TTL (src/gateway/mod.rs `OUTBOX_LEASE_TTL`).
const LEASE_TTL: Duration = Duration::from_secs(10);

/// Events posted, by message id (every post answered 200).
#[derive(Default)]
struct Hook {
    seen: Mutex<HashMap<String, u32>>,
}

impl Hook {
    fn distinct(&self, ids: &[String]) -> usize {
        let seen = self.seen.lock().unwrap();
        ids.iter().filter(|id| seen.contains_key(*id)).count()
    }

    fn count(&self, id: &str) -> u32 {
        self.seen.lock().unwrap().get(id).copied().unwrap_or(0)
    }

    async fn wait_all(&self, ids: &[String], wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while self.distinct(ids) < ids.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {} receipts posted within {wait:?}",
                self.distinct(ids),
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(State(hook): State<Arc<Hook>>, body: Body) -> StatusCode {
    let events: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array");
    let mut seen = hook.seen.lock().unwrap();
    for event in events {
        assert_eq!(event["type"], "receipt", "{event}");
        *seen
            .entry(event["id"].as_str().expect("id").to_owned())
            .or_insert(0) += 1;
    }
    StatusCode::OK
}

async fn hook() -> (Arc<Hook>, String) {
    let hook = Arc::new(Hook::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Arc::clone(&hook));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hook, url)
}

fn node_config(
    dir: &Path,
    carrier: &str,
    url: &str,
    cluster: &NatsCluster,
    node: &str,
    mode: &str,
) -> PathBuf {
    let rest = format!(
        r#"
[[account]]
system_id = "app"
password = "pw"
window = 128
webhook_url = "{url}"
webhook_secret = "a-webhook-secret-of-the-test"
webhook_mode = "{mode}"

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
{}"#,
        cluster.gateway_section(node, 3)
    );
    write_gateway_config(dir, &rest)
}

async fn submit(addr: String, count: usize, tag: &'static str) -> Vec<String> {
    support::submit::with_receipts(&addr, "app", "pw", count, |n| {
        Bytes::from(format!("webhook {tag} {n}"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_are_posted_once_across_nodes_and_follow_a_kill() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (hook, url) = hook().await;
    let sim = Sim::start(&["--receipt-delay-ms", "200-6000"]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let carrier = sim.addr.to_string();
    let config_a = node_config(dir_a.path(), &carrier, &url, &cluster, "gw-1", "webhook");
    let config_b = node_config(dir_b.path(), &carrier, &url, &cluster, "gw-2", "webhook");
    let (node_a, addr_a) = serve_node(&config_a);
    let (node_b, addr_b) = serve_node(&config_b);

    // 1. Receipts matched on both nodes, each posted once.
    let (ids_a, ids_b) = tokio::join!(
        submit(addr_a.to_string(), FIRST, "a"),
        submit(addr_b.to_string(), FIRST, "b"),
    );
    let first: Vec<String> = ids_a.into_iter().chain(ids_b).collect();
    hook.wait_all(&first, Duration::from_secs(60)).await;
    // A second copy would come from the other node's sink within its linger (1 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let twice = first.iter().filter(|id| hook.count(id) > 1).count();
    eprintln!("phase 1: {} receipts posted, {twice} twice", first.len());
    assert_eq!(twice, 0, "{twice} of {} receipts posted twice", first.len());

    // 2. Kill the webhook lease holder while receipts come in on the other node.
    let observer = ClusterConfig {
        nats: cluster.urls(),
        node: "test-observer".into(),
        replicas: 3,
        ..ClusterConfig::default()
    };
    let leases = OutboxLeases::open(&observer, LEASE_TTL)
        .await
        .expect("lease bucket");
    let holder = leases
        .holder("~hook:app")
        .await
        .expect("read the lease")
        .expect("a node holds the webhook lease");
    eprintln!("webhook lease held by {holder}");
    let (holder_proc, survivor_proc, survivor_addr) = match holder.as_str() {
        "gw-1" => (node_a, node_b, addr_b),
        "gw-2" => (node_b, node_a, addr_a),
        other => panic!("unexpected holder {other}"),
    };
    let second = submit(survivor_addr.to_string(), SECOND, "c").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while hook.distinct(&second) < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "phase 2: nothing posted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_kill = hook.distinct(&second);
    tokio::task::block_in_place(|| holder_proc.kill9());
    eprintln!("killed {holder} with {at_kill} of {SECOND} posted");
    // The lease expires 10 s after its last renewal; the survivor takes it within a
    // round (2 s) and posts the rest.
    hook.wait_all(&second, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let duplicates: u32 = first
        .iter()
        .chain(&second)
        .map(|id| hook.count(id).saturating_sub(1))
        .sum();
    let after = leases.holder("~hook:app").await.expect("read the lease");
    eprintln!(
        "phase 2: {SECOND} receipts posted ({at_kill} before the kill), {duplicates} duplicates; lease now {after:?}"
    );
    assert!(
        duplicates as usize <= smppgate::http::webhook::BATCH,
        "{duplicates} duplicates: more than one batch in flight"
    );
    assert_ne!(after.as_deref(), Some(holder.as_str()), "the lease moved");
    survivor_proc.terminate();
    let finished = tokio::task::block_in_place(|| survivor_proc.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    let _ = sim.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mode_both_the_bind_and_the_webhook_each_get_every_receipt_once() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (hook, url) = hook().await;
    let sim = Sim::start(&["--receipt-delay-ms", "100-500"]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let carrier = sim.addr.to_string();
    let config_a = node_config(dir_a.path(), &carrier, &url, &cluster, "gw-1", "both");
    let config_b = node_config(dir_b.path(), &carrier, &url, &cluster, "gw-2", "both");
    let (node_a, addr_a) = serve_node(&config_a);
    let (node_b, addr_b) = serve_node(&config_b);
    let mut config = EsmeConfig::new("app", "pw");
    config.bind = BindKind::Receiver;
    config.window = 128;
    let (_rx, mut inbound) = tokio::time::timeout(
        Duration::from_secs(10),
        EsmeClient::connect(&addr_b.to_string(), config),
    )
    .await
    .expect("bind in time")
    .expect("bind");
    let (ids_a, ids_b) = tokio::join!(
        submit(addr_a.to_string(), FIRST / 4 * 3, "a"),
        submit(addr_b.to_string(), FIRST / 4 * 3, "b"),
    );
    let ids: Vec<String> = ids_a.into_iter().chain(ids_b).collect();
    let mut at_bind: HashMap<String, u32> = HashMap::new();
    let distinct_at_bind =
        |at_bind: &HashMap<String, u32>| ids.iter().filter(|id| at_bind.contains_key(*id)).count();
    while distinct_at_bind(&at_bind) < ids.len() {
        let request = tokio::time::timeout(Duration::from_secs(30), inbound.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {} receipts at the bind",
                    distinct_at_bind(&at_bind),
                    ids.len()
                )
            })
            .expect("inbound open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        *at_bind
            .entry(receipt.id().expect("id").to_owned())
            .or_insert(0) += 1;
    }
    hook.wait_all(&ids, Duration::from_secs(60)).await;
    // Second copies would come within a linger (1 s) or a lease round (2 s).
    while let Ok(Some(request)) = tokio::time::timeout(Duration::from_secs(3), inbound.recv()).await
    {
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        *at_bind
            .entry(receipt.id().expect("id").to_owned())
            .or_insert(0) += 1;
    }
    let bind_twice = at_bind.values().filter(|n| **n > 1).count();
    let hook_twice = ids.iter().filter(|id| hook.count(id) > 1).count();
    let observer = ClusterConfig {
        nats: cluster.urls(),
        node: "test-observer".into(),
        replicas: 3,
        ..ClusterConfig::default()
    };
    let leases = OutboxLeases::open(&observer, LEASE_TTL)
        .await
        .expect("lease bucket");
    let (smpp, webhook) = (
        leases.holder("app").await.expect("read the lease"),
        leases.holder("~hook:app").await.expect("read the lease"),
    );
    eprintln!(
        "{} receipts: at the bind {bind_twice} twice, at the webhook {hook_twice} twice; \
         SMPP lease {smpp:?}, webhook lease {webhook:?}",
        ids.len()
    );
    assert_eq!(smpp.as_deref(), Some("gw-2"), "the node with the receiver");
    assert_eq!(bind_twice, 0, "receipts twice at the bind");
    assert_eq!(hook_twice, 0, "receipts twice at the webhook");
    for node in [node_a, node_b] {
        node.terminate();
        let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
        assert!(finished.status.success(), "{}", finished.stderr);
    }
    let _ = sim.stop();
}
