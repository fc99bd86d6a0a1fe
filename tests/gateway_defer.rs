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
use smppgate::gateway::policy::{Decision, Policy, PolicyRequest};
use smppgate::smsc::{ServerConfig, SmscServer};
use smppgate::store::{FjallStore, Store};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::Address;
use support::arrivals::Arrivals;
use support::within;

/// Defers texts starting `later` until a fixed wall time; accepts the rest.
struct DeferUntil(u64);

impl Policy for DeferUntil {
    fn check(&self, request: &PolicyRequest<'_>) -> Decision {
        if request.submit_sm.short_message.starts_with(b"later") {
            Decision::Defer {
                until: self.0,
                rule: "test".into(),
            }
        } else {
            Decision::Accept
        }
    }
}

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
            Arc::new(DeferUntil(until)),
            Clock::system(),
        ),
    )
    .await
    .expect("gateway")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_message_is_acknowledged_now_and_sent_at_its_time_even_across_a_restart() {
    let carrier = Arc::new(Arrivals::default());
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.carriers[0].address = server.local_addr().to_string();
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
    within("now", async {
        while carrier.arrived(b"now").is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        carrier.arrived(b"later one").is_none(),
        "sent before its time"
    );
    // Stopped and started again before it is due: the store keeps it deferred.
    client.unbind().await;
    let _ = gateway.stop(Duration::from_secs(5)).await;
    assert!(
        Instant::now() < due,
        "the machine was too slow to test the restart"
    );
    let gateway = start(&config, &store, until).await;
    within("deferred ones", async {
        while carrier.arrived(b"later one").is_none() || carrier.arrived(b"later two").is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    for text in [&b"later one"[..], b"later two"] {
        let (_, at) = carrier.arrived(text).unwrap();
        assert!(
            at >= due - Duration::from_millis(50),
            "sent {:?} early",
            due - at
        );
        assert_eq!(carrier.count(text), 1, "sent twice");
    }
    assert_eq!(carrier.count(b"now"), 1);
    let _ = gateway.stop(Duration::from_secs(5)).await;
}
