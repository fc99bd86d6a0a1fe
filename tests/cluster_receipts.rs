//! Receipts on `[cluster]` with real processes: a 3-node NATS JetStream cluster
//! (`replicas = 3`), `smppgate serve` on it and a `smppgate sim` carrier sending a receipt
//! 1–2 s after each submit. A transmitter submits 2 000 messages; the gateway is killed
//! with SIGKILL while the receipts arrive and another node (`gw-2`, same file otherwise)
//! starts on the same cluster; a receiver bound to it gets a receipt for every message
//! (matched through the shared carrier-id bucket, queued in the shared outbox stream), and
//! `smppgate messages show` on gw-2's file finds a message gw-1 accepted.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::EsmeClient;
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use support::nats::NatsCluster;
use support::{Sim, serve_node, write_gateway_config};

const COUNT: usize = 2_000;

fn write_config(dir: &std::path::Path, sim: &Sim, cluster: &str) -> std::path::PathBuf {
    let rest = format!(
        r#"

[[account]]
system_id = "app"
password = "pw"
window = 128

[[carrier]]
name = "sim"
address = "{sim}"
system_id = "gw"
password = "x"
binds = 2
window = 64
tps = 100000

[[route]]
name = "all"
default = true
carriers = ["sim"]
{cluster}"#,
        sim = sim.addr,
    );
    write_gateway_config(dir, &rest)
}

async fn client(addr: &str, kind: BindKind) -> (EsmeClient, smppgate::esme::Inbound) {
    support::submit::bind(addr, "app", "pw", kind).await
}

async fn submit_all(addr: &str) -> Vec<String> {
    support::submit::with_receipts(addr, "app", "pw", COUNT, |n| {
        Bytes::from(format!("cluster {n}"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_reach_a_receiver_on_another_node_after_kill_9() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    // Receipts come 1–2 s after each submit: the kill lands while they arrive.
    let sim = Sim::start(&["--receipt-delay-ms", "1000-2000"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, &cluster.gateway_section("gw-1", 3));
    let (gateway, addr) = serve_node(&config);
    let ids = submit_all(&addr.to_string()).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    gateway.kill9();

    let second = dir.path().join("gw-2.toml");
    let text = std::fs::read_to_string(&config).expect("read config");
    std::fs::write(&second, text.replace("node = \"gw-1\"", "node = \"gw-2\"")).unwrap();
    let (gateway, addr) = serve_node(&second);
    let (_rx, mut inbound) = client(&addr.to_string(), BindKind::Receiver).await;
    let mut seen: HashMap<String, u32> = ids.iter().map(|id| (id.clone(), 0)).collect();
    let mut distinct = 0;
    while distinct < COUNT {
        let request = tokio::time::timeout(Duration::from_secs(30), inbound.recv())
            .await
            .unwrap_or_else(|_| panic!("only {distinct} of {COUNT} receipts on the second node"))
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
    // A receipt the dead node kept but had not yet answered to the carrier comes again
    // (the carrier re-sends it to gw-2): at most what was in flight on the carrier binds,
    // 2 binds x the simulator's deliver_sm window of 256.
    let twice = seen.values().filter(|n| **n > 1).count();
    assert!(twice <= 2 * 256, "{twice} receipts came twice");
    eprintln!("{COUNT} receipts on gw-2, {twice} twice");
    // The send log answers from any node: `messages show` on gw-2's file reads JetStream,
    // a message that gw-1 accepted included.
    let out = tokio::task::block_in_place(|| {
        support::smppgate()
            .args(["messages", "show", "--json", &ids[0], "--config"])
            .arg(&second)
            .output()
            .expect("run smppgate messages show")
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["message_id"], ids[0].as_str(), "{shown}");
    assert_eq!(shown["account"], "app", "{shown}");
    assert_eq!(shown["state"], "delivered", "{shown}");
    gateway.terminate();
    let _ = gateway.finish(Duration::from_secs(20));
    let _ = sim.stop();
}
