//! A submit_sm's own times: `schedule_delivery_time` (absolute with a UTC offset, and
//! relative) holds the message in the store until its time, also across a restart, and
//! the carrier gets it without a schedule of its own; `validity_period` expires a message
//! that could not go in time (EXPIRED receipt to the client, nothing to the carrier);
//! values that are not times, or that cannot be met, are refused with ESME_RINVSCHED /
//! ESME_RINVEXPIRY. The gateway's wall clock is injected: it reads 2026-12-06 07:00:00
//! UTC at the start and moves with real time.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate::clock::Clock;
use smppgate::config::Config;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::gateway::Gateway;
use smppgate::gateway::policy::{PassThrough, Policy};
use smppgate::store::{FjallStore, Store};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::types::{Address, RegisteredDelivery, SmppTime};
use support::arrivals::{carrier_and_demo_config, stop_before};
use support::defer::DeferPrefix;
use support::within;

/// 2026-12-06 07:00:00 UTC.
const T0: u64 = 1_796_540_400_000;
/// The scheduled messages are due this long after T0.
const DUE: Duration = Duration::from_secs(3);

fn message(text: &str, schedule: &str, validity: &str) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from(text.to_owned()),
        schedule_delivery_time: SmppTime::from_raw(schedule.to_owned()).unwrap(),
        validity_period: SmppTime::from_raw(validity.to_owned()).unwrap(),
        registered_delivery: RegisteredDelivery(1),
        ..SubmitSm::default()
    }
}

async fn start(
    config: &Config,
    store: &Arc<dyn Store>,
    policy: Arc<dyn Policy>,
    wall: u64,
) -> Gateway {
    within(
        "start",
        Gateway::start_with(
            config.clone(),
            Arc::clone(store),
            policy,
            Clock::starting_at(wall),
        ),
    )
    .await
    .expect("gateway")
}

async fn bind(gateway: &Gateway) -> (EsmeClient, smppgate::esme::Inbound) {
    within(
        "bind",
        EsmeClient::connect(
            &gateway.local_addr().to_string(),
            EsmeConfig::new("demo", "demo"),
        ),
    )
    .await
    .expect("bind")
}

async fn submit(client: &EsmeClient, submit_sm: SubmitSm) -> (CommandStatus, String) {
    let response = within("submit", client.submit(submit_sm)).await.unwrap();
    let id = response
        .message_id()
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .unwrap_or_default();
    (response.status(), id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_messages_wait_for_their_time_even_across_a_restart() {
    let (carrier, _server, config) = carrier_and_demo_config().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let started = Instant::now();
    let due = started + DUE;
    let gateway = start(&config, &store, Arc::new(PassThrough), T0).await;
    let (client, _inbound) = bind(&gateway).await;
    // 15:00:03 at UTC+08:00 (32 quarter hours) is T0 + 3 s; so is "in 3 s".
    for (text, schedule) in [
        ("absolute", "261206150003032+"),
        ("relative", "000000000003000R"),
        ("now", ""),
        ("past", "261206060000000+"),
    ] {
        let (status, _) = submit(&client, message(text, schedule, "")).await;
        assert_eq!(status, CommandStatus::ESME_ROK, "{text}");
    }
    carrier.wait_for(&[b"now", b"past"]).await;
    assert!(
        carrier.arrived(b"absolute").is_none(),
        "sent before its time"
    );
    assert!(
        carrier.arrived(b"relative").is_none(),
        "sent before its time"
    );

    // Stopped and started again before they are due: the store keeps them scheduled.
    stop_before(&client, gateway, due).await;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap();
    let gateway = start(&config, &store, Arc::new(PassThrough), T0 + elapsed).await;
    carrier.wait_for(&[b"absolute", b"relative"]).await;
    for text in [&b"absolute"[..], b"relative"] {
        let submit_sm = carrier.once_not_before(text, due);
        // The gateway held it: the carrier must not hold it again.
        assert!(!submit_sm.schedule_delivery_time.is_set());
    }
    let _ = gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_that_cannot_be_met_are_refused() {
    let (carrier, _server, config) = carrier_and_demo_config().await;
    let store: Arc<dyn Store> = Arc::new(smppgate::store::memory::MemoryStore::new());
    let gateway = start(&config, &store, Arc::new(PassThrough), T0).await;
    let (client, _inbound) = bind(&gateway).await;
    for (what, schedule, validity, expected) in [
        (
            "31 November",
            "261131120000000+",
            "",
            CommandStatus::ESME_RINVSCHED,
        ),
        (
            "in a year",
            "010000000000000R",
            "",
            CommandStatus::ESME_RINVSCHED,
        ),
        (
            "validity over",
            "",
            "261206065959000+",
            CommandStatus::ESME_RINVEXPIRY,
        ),
        (
            "validity before the schedule",
            "000000020000000R",
            "000000010000000R",
            CommandStatus::ESME_RINVEXPIRY,
        ),
    ] {
        let (status, _) = submit(&client, message(what, schedule, validity)).await;
        assert_eq!(status, expected, "{what}");
    }
    let (status, _) = submit(&client, message("fine", "", "000000010000000R")).await;
    assert_eq!(status, CommandStatus::ESME_ROK);
    carrier.wait_for(&[b"fine"]).await;
    assert_eq!(carrier.count(b"31 November"), 0);
    let _ = gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_validity_runs_out_before_it_can_go_is_expired_not_sent() {
    let (carrier, _server, config) = carrier_and_demo_config().await;
    let store: Arc<dyn Store> = Arc::new(smppgate::store::memory::MemoryStore::new());
    // Held until T0 + 2 s; valid for 1 s (the store's validity is 72 h).
    let gateway = start(
        &config,
        &store,
        Arc::new(DeferPrefix {
            prefix: b"held",
            until: T0 + 2_000,
        }),
        T0,
    )
    .await;
    let (client, mut inbound) = bind(&gateway).await;
    let (status, expired_id) = submit(&client, message("held short", "", "000000000001000R")).await;
    assert_eq!(status, CommandStatus::ESME_ROK);
    let (status, kept_id) = submit(&client, message("held long", "", "000000000010000R")).await;
    assert_eq!(status, CommandStatus::ESME_ROK);
    // The long one goes when it is due; the short one is expired then and its client
    // gets an EXPIRED receipt (this carrier sends no receipts: that is the only one).
    let request = within("receipt", inbound.recv()).await.expect("open");
    let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
    assert_eq!(receipt.id(), Some(expired_id.as_str()));
    assert_eq!(receipt.state(), Some(MessageState::Expired));
    carrier.wait_for(&[b"held long"]).await;
    assert!(
        carrier.arrived(b"held short").is_none(),
        "sent after expiry"
    );
    // Stopped: every outcome is recorded.
    let _ = gateway.stop(Duration::from_secs(5)).await;
    let record = store.get(parse_id(&kept_id)).unwrap().expect("kept");
    assert_eq!(record.state, smppgate::store::State::Sent);
    let record = store.get(parse_id(&expired_id)).unwrap().expect("expired");
    assert_eq!(record.state, smppgate::store::State::Expired);

    // Restarted past the sent one's validity: the restart's store scan leaves it to its
    // receipt (before, the scan expired it and the DELIVRD that came later was dropped;
    // a message a carrier took is expired locally only at `[store] validity`).
    let gateway = start(
        &config,
        &store,
        Arc::new(DeferPrefix {
            prefix: b"held",
            until: 0,
        }),
        T0 + 60_000,
    )
    .await;
    let (client, _inbound) = bind(&gateway).await;
    // Behind it in the same route and class: when this one is at the carrier, the scan
    // has passed the sent one.
    let (status, _) = submit(&client, message("after the restart", "", "")).await;
    assert_eq!(status, CommandStatus::ESME_ROK);
    carrier.wait_for(&[b"after the restart"]).await;
    let _ = gateway.stop(Duration::from_secs(5)).await;
    let record = store.get(parse_id(&kept_id)).unwrap().expect("kept");
    assert_eq!(record.state, smppgate::store::State::Sent, "{record:?}");
}

/// The demo account hands out hex ids.
fn parse_id(id: &str) -> u64 {
    u64::from_str_radix(id, 16).expect("hex id")
}
