//! `smppgate stats` after a small run through a real `smppgate serve` and `smppgate sim`:
//! the messages sent and delivered (every receipt reached the client first) are the
//! numbers it prints, by account, with a delivery rate and latency percentiles.

mod support;

use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::types::{Address, RegisteredDelivery};
use support::{Sim, one_carrier_route, serve, smppgate, within, write_gateway_config};

const COUNT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_after_a_run_show_what_was_sent_and_delivered() {
    let sim = Sim::start(&["--receipt-states", "DELIVRD=100"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rest = "\n[[account]]\nsystem_id = \"shop\"\npassword = \"pw\"\n".to_owned()
        + &one_carrier_route("sim", &sim.addr.to_string(), "tps = 1000");
    let config = write_gateway_config(dir.path(), &rest);
    let (gateway, addr) = serve(&config);
    let (client, mut inbound) = within(
        "bind",
        EsmeClient::connect(&addr.to_string(), EsmeConfig::new("shop", "pw")),
    )
    .await
    .expect("bind");
    for n in 0..COUNT {
        let submit = SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international("8613800138000"),
            short_message: Bytes::from(format!("message {n}")),
            registered_delivery: RegisteredDelivery(1),
            ..SubmitSm::default()
        };
        let response = within("submit", client.submit(submit)).await.unwrap();
        assert!(response.is_ok(), "{}", response.status());
    }
    for _ in 0..COUNT {
        let request = within("receipt", inbound.recv()).await.expect("open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        assert_eq!(receipt.state(), Some(MessageState::Delivered));
    }
    client.unbind().await;
    gateway.terminate();
    let finished = gateway.finish(Duration::from_secs(20));
    assert!(finished.status.success(), "{finished:?}");
    let _ = sim.stop();

    let output = smppgate()
        .args([
            "stats", "--json", "--by", "account", "--since", "1h", "--config",
        ])
        .arg(&config)
        .output()
        .expect("run smppgate stats");
    assert!(output.status.success(), "{output:?}");
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let shop = &rows[0];
    assert_eq!(shop["group"], "shop");
    assert_eq!(shop["sent"], COUNT, "{shop}");
    assert_eq!(shop["delivered"], COUNT, "{shop}");
    assert_eq!((&shop["failed"], &shop["expired"]), (&0.into(), &0.into()));
    assert_eq!(shop["delivery_rate"], 1.0);
    assert!(shop["p50_ms"].as_u64().is_some(), "{shop}");
    assert!(shop["p99_ms"].as_u64() >= shop["p50_ms"].as_u64(), "{shop}");

    // The text form, by carrier.
    let output = smppgate()
        .args(["stats", "--by", "carrier", "--config"])
        .arg(&config)
        .output()
        .expect("run smppgate stats");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let sim_line = text
        .lines()
        .find(|l| l.starts_with("sim "))
        .unwrap_or_else(|| panic!("no carrier row: {text}"));
    assert!(sim_line.contains("100.00%"), "{text}");
}
