//! One node at a time delivers an account's outbox (issue #17, docs/cluster.md "Several
//! active nodes"): the account's receivers are bound on `gw-1` and on `gw-2` at once;
//! 1 000 submits through `gw-1`, a receipt for each from the simulator → every receipt
//! reaches the account exactly once across the two binds (before the per-account lease,
//! each node's outbox task sent every item: each receipt twice). And an account a reload
//! adds gets its receipts (its lease is taken like any other's).
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::{EsmeClient, Inbound};
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use support::nats::NatsCluster;
use support::{Sim, serve_node, write_gateway_config};

const COUNT: usize = 1_000;

fn node_config(dir: &Path, carrier: &str, cluster: &NatsCluster, node: &str) -> PathBuf {
    let rest = format!(
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
{}"#,
        cluster.gateway_section(node, 3)
    );
    write_gateway_config(dir, &rest)
}

async fn client(addr: &str, kind: BindKind) -> (EsmeClient, Inbound) {
    support::submit::bind(addr, "app", "pw", kind).await
}

async fn submit_all(addr: &str) -> Vec<String> {
    support::submit::with_receipts(addr, "app", "pw", COUNT, |n| {
        Bytes::from(format!("one outbox {n}"))
    })
    .await
}

/// The receipt id of one deliver_sm from either receiver, or `None` after `wait`.
async fn next_receipt(a: &mut Inbound, b: &mut Inbound, wait: Duration) -> Option<(usize, String)> {
    let request = tokio::time::timeout(wait, async {
        tokio::select! {
            request = a.recv() => (0, request),
            request = b.recv() => (1, request),
        }
    })
    .await
    .ok()?;
    let (node, request) = request;
    let request = request.expect("inbound open");
    let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
    Some((node, receipt.id().expect("id").to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_on_two_nodes_get_each_receipt_once() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let sim = Sim::start(&["--receipt-delay-ms", "100-500"]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let carrier = sim.addr.to_string();
    let config_a = node_config(dir_a.path(), &carrier, &cluster, "gw-1");
    let config_b = node_config(dir_b.path(), &carrier, &cluster, "gw-2");
    let (node_a, addr_a) = serve_node(&config_a);
    let (node_b, addr_b) = serve_node(&config_b);

    let (_rx_a, mut inbound_a) = client(&addr_a.to_string(), BindKind::Receiver).await;
    let (_rx_b, mut inbound_b) = client(&addr_b.to_string(), BindKind::Receiver).await;
    let ids = submit_all(&addr_a.to_string()).await;
    let mut seen: HashMap<String, u32> = ids.iter().map(|id| (id.clone(), 0)).collect();
    assert_eq!(seen.len(), COUNT, "message ids are distinct");
    let (mut distinct, mut per_node) = (0, [0u32; 2]);
    while distinct < COUNT {
        let (node, id) = next_receipt(&mut inbound_a, &mut inbound_b, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("only {distinct} of {COUNT} receipts"));
        let n = seen
            .get_mut(&id)
            .unwrap_or_else(|| panic!("receipt for unknown id {id}"));
        if *n == 0 {
            distinct += 1;
        }
        *n += 1;
        per_node[node] += 1;
    }
    // A second copy would come from the other node's outbox at about the same time.
    while let Some((node, id)) =
        next_receipt(&mut inbound_a, &mut inbound_b, Duration::from_secs(2)).await
    {
        *seen.get_mut(&id).expect("known id") += 1;
        per_node[node] += 1;
    }
    let twice = seen.values().filter(|n| **n > 1).count();
    eprintln!("{COUNT} receipts; per receiver (gw-1, gw-2) {per_node:?}; {twice} twice");
    assert_eq!(twice, 0, "{twice} receipts came twice: {per_node:?}");
    for node in [node_a, node_b] {
        node.terminate();
        let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
        assert!(finished.status.success(), "{}", finished.stderr);
    }
    let _ = sim.stop();
}

/// An account a reload adds gets its receipts on a cluster node: the lease keeper reads
/// the accounts in force at each round, so the new account's receiver takes its lease.
/// Before, the keeper kept the accounts of the start: the new account's receipts were
/// queued and never sent until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_a_reload_adds_gets_its_receipts() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let sim = Sim::start(&["--receipt-delay-ms", "10"]);
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), &sim.addr.to_string(), &cluster, "gw-1");
    let (node, addr) = serve_node(&config);
    let addr = addr.to_string();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text + "\n[[account]]\nsystem_id = \"late\"\npassword = \"pw\"\nwindow = 16\n",
    )
    .unwrap();
    node.signal("HUP");
    // It binds once the reload is in force.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (_rx, mut inbound) = loop {
        let mut config = smppgate::esme::EsmeConfig::new("late", "pw");
        config.bind = BindKind::Receiver;
        if let Ok(Ok(bound)) =
            tokio::time::timeout(Duration::from_secs(5), EsmeClient::connect(&addr, config)).await
        {
            break bound;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "account late not in force after the reload: {}",
            node.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ids = support::submit::with_receipts(&addr, "late", "pw", 10, |n| {
        Bytes::from(format!("late {n}"))
    })
    .await;
    let mut missing: std::collections::HashSet<String> = ids.into_iter().collect();
    while !missing.is_empty() {
        let request = tokio::time::timeout(Duration::from_secs(20), inbound.recv())
            .await
            .unwrap_or_else(|_| panic!("{} receipts never came", missing.len()))
            .expect("inbound open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        missing.remove(receipt.id().expect("id"));
    }
    node.terminate();
    let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    let _ = sim.stop();
}
