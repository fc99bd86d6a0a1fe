//! The policy hook's `Defer`: a message is acknowledged at once, kept in the store with
//! its `not_before`, and reaches the carrier no earlier than that — also when the gateway
//! is stopped and started again in between.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate::clock::Clock;
use smppgate::config::Config;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::gateway::Gateway;
use smppgate::store::{FjallStore, Store};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::Address;
use support::arrivals::{carrier_and_demo_config, stop_before};
use support::defer::DeferPrefix;
use support::within;

fn message(text: &'static str) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from_static(text.as_bytes()),
        ..SubmitSm::default()
    }
}

async fn start(config: &Config, store: &Arc<dyn Store>, until: u64) -> Gateway {
    within(
        "start",
        Gateway::start_with(
            config.clone(),
            Arc::clone(store),
            Arc::new(DeferPrefix {
                prefix: b"later",
                until,
            }),
            Clock::system(),
        ),
    )
    .await
    .expect("gateway")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_message_is_acknowledged_now_and_sent_at_its_time_even_across_a_restart() {
    let (carrier, _server, config) = carrier_and_demo_config().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let due_in = Duration::from_secs(3);
    let until = Clock::system().wall_ms() + u64::try_from(due_in.as_millis()).unwrap();
    let due = Instant::now() + due_in;

    let gateway = start(&config, &store, until).await;
    let (client, _inbound) = within(
        "bind",
        EsmeClient::connect(
            &gateway.local_addr().to_string(),
            EsmeConfig::new("demo", "demo"),
        ),
    )
    .await
    .expect("bind");
    for text in ["later one", "now", "later two"] {
        let response = within("submit", client.submit(message(text)))
            .await
            .unwrap();
        assert!(response.is_ok(), "{text}: {}", response.status());
    }
    // An undeferred message goes at once; the deferred ones wait.
    carrier.wait_for(&[b"now"]).await;
    assert!(
        carrier.arrived(b"later one").is_none(),
        "sent before its time"
    );
    // Stopped and started again before it is due: the store keeps it deferred.
    stop_before(&client, gateway, due).await;
    let gateway = start(&config, &store, until).await;
    carrier.wait_for(&[b"later one", b"later two"]).await;
    for text in [&b"later one"[..], b"later two"] {
        carrier.once_not_before(text, due);
    }
    assert_eq!(carrier.count(b"now"), 1);
    let _ = gateway.stop(Duration::from_secs(5)).await;
}
