//! The README's main command: `smppgate serve` with no configuration starts the demo
//! (account demo/demo, store under ./data, a built-in simulated carrier); a client binds,
//! sends, and gets its receipt; the CLI finds the running demo's HTTP API from the store it
//! holds; SIGTERM stops it cleanly. With `--metrics`, Prometheus
//! metrics are served.

mod support;

use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::types::{Address, RegisteredDelivery};
use support::{bind_demo, http_get, serve_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_takes_a_bind_a_message_and_gives_its_receipt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut gateway, addr, metrics) = serve_demo(dir.path());
    let hint = gateway.wait_line(Duration::from_secs(5), |l| l.starts_with("demo set-up"));
    assert!(hint.contains("demo"), "{hint}");
    // Transparent huge pages are off for the gateway (docs/adr/0003-allocator.md), where
    // the kernel says (Linux 5.0+: `THP_enabled` in the process status).
    let status = std::fs::read_to_string(format!("/proc/{}/status", gateway.pid()));
    if let Some(line) = status
        .iter()
        .flat_map(|s| s.lines())
        .find(|l| l.starts_with("THP_enabled"))
    {
        assert!(line.ends_with('0'), "{line}");
    }

    let (client, mut inbound) = bind_demo(addr).await;
    let response = client
        .submit(SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international("8613800138000"),
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(b"hello from the README"),
            ..SubmitSm::default()
        })
        .await
        .expect("response");
    assert!(response.is_ok(), "{}", response.status());
    let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
    let request = tokio::time::timeout(Duration::from_secs(10), inbound.recv())
        .await
        .expect("receipt in time")
        .expect("inbound open");
    let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
    assert_eq!(receipt.id(), Some(id.as_str()));
    assert_eq!(receipt.state(), Some(MessageState::Delivered));

    // The CLI cannot open the store the demo holds: it asks the demo's HTTP API, which
    // the demo recorded beside the store (its port was picked at start), with the admin
    // token the demo printed; without the token it says where to put it.
    let token = gateway.wait_line(Duration::from_secs(5), |l| {
        l.starts_with("demo admin token (this run only): ")
    });
    let token = token.rsplit(' ').next().unwrap().trim().to_owned();
    let cli = |token: Option<&str>| {
        let mut command = support::smppgate();
        command
            .args(["messages", "show", "--json", &id])
            .current_dir(dir.path())
            .env_remove("SMPPGATE_ADMIN_TOKEN");
        if let Some(token) = token {
            command.env("SMPPGATE_ADMIN_TOKEN", token);
        }
        command.output().expect("run smppgate")
    };
    let shown = cli(Some(&token));
    assert!(shown.status.success(), "{shown:?}");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["message_id"], id.as_str(), "{shown}");
    assert_eq!(shown["account"], "demo", "{shown}");
    let refused = cli(None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr.contains("SMPPGATE_ADMIN_TOKEN") && stderr.contains("http://127.0.0.1:"),
        "{stderr}"
    );

    let page = http_get(&metrics, "/metrics");
    assert!(page.contains("200 OK"), "{page}");
    assert!(page.contains("smppgate_upstream_accepted_total"), "{page}");
    // The per-account gauges are set once a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let page = loop {
        let page = http_get(&metrics, "/metrics");
        if page.contains("smppgate_account_binds{account=\"demo\"} 1")
            || std::time::Instant::now() > deadline
        {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        page.contains("smppgate_account_binds{account=\"demo\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("smppgate_account_submits_per_second"),
        "{page}"
    );

    client.unbind().await;
    let finished = gateway.stop(Duration::from_secs(20));
    let stats = finished.json();
    assert_eq!(stats["accepted"], 1, "{stats}");
    assert!(dir.path().join("data").is_dir(), "the demo store is ./data");
    assert!(
        !dir.path().join("data/API").exists(),
        "the API's address is withdrawn at the stop"
    );
}
