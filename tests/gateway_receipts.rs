//! Receipts and MO end to end, in-process: `Gateway` with a durable-or-memory store, a
//! simulated carrier with each receipt quirk it offers, an upstream client. Every receipt
//! is matched, and each message gets exactly one receipt upstream with the right state.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smppgate::config::{Config, IdStyle};
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::Gateway;
use smppgate::sim::faults::{ReceiptBind, ReceiptIdStyle};
use smppgate::sim::{Faults, IdFormat, Sim, SimConfig};
use smppgate::store::State;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, DeliverSm, SubmitSm};
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, DataCoding, EsmClass, RegisteredDelivery};
use support::mo_carrier::{MoCarrier, carrier_session, mo_part, quiet_carrier};
use support::within;

fn gateway_config(carrier: std::net::SocketAddr, style: IdStyle, binds: usize) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    config.carriers[0].address = carrier.to_string();
    config.carriers[0].binds = binds;
    config.carriers[0].message_id_style = style;
    config
}

async fn upstream(gateway: &Gateway, kind: BindKind) -> (EsmeClient, Inbound) {
    let mut config = EsmeConfig::new("demo", "demo");
    config.bind = kind;
    within(
        "bind upstream",
        EsmeClient::connect(&gateway.local_addr().to_string(), config),
    )
    .await
    .expect("bind")
}

/// A simulated carrier that sends each receipt asked for after `delay`.
async fn receipting_sim(delay: Duration) -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".into(),
        receipt_delay: delay,
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

/// Nothing more comes upstream in the next 300 ms (an absence: there is no event to wait
/// for).
async fn nothing_more(inbound: &mut Inbound, what: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(inbound.try_recv().is_none(), "{what}");
}

fn submit(n: usize) -> SubmitSm {
    // Every third message is 3 GSM parts long.
    let text = if n % 3 == 0 {
        format!("{n:04} ").repeat(80)[..400].to_owned()
    } else {
        format!("message {n}")
    };
    let mut submit = SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        registered_delivery: RegisteredDelivery(1),
        ..SubmitSm::default()
    };
    submit.tlvs = smppgate_protocol::tlv::Tlvs::builder()
        .push(smppgate_protocol::tlv::Tlv::MessagePayload(Bytes::from(
            text.into_bytes(),
        )))
        .build()
        .unwrap();
    submit
}

/// Sends `count` messages, collects one receipt each, checks each is the worst state of
/// its parts in the store, and that nothing comes twice.
async fn run_case(
    faults: Faults,
    id_format: IdFormat,
    style: IdStyle,
    binds: usize,
) -> serde_json::Value {
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".into(),
        receipt_delay: Duration::from_millis(5),
        id_format,
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let gateway = Gateway::start(gateway_config(sim.local_addr(), style, binds))
        .await
        .expect("gateway");
    let (client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
    let count = 30;
    let mut ids = HashMap::new();
    for n in 0..count {
        let response = within("submit", client.submit(submit(n))).await.unwrap();
        assert!(response.is_ok(), "{}", response.status());
        let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
        ids.insert(id, None);
    }
    for _ in 0..count {
        let request = within("receipt upstream", inbound.recv())
            .await
            .expect("open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        let id = receipt.id().unwrap().to_owned();
        let slot = ids
            .get_mut(&id)
            .unwrap_or_else(|| panic!("unknown id {id}"));
        assert!(slot.is_none(), "second receipt for {id}");
        *slot = receipt.state();
    }
    nothing_more(&mut inbound, "more receipts than messages").await;
    let stats = gateway.stats().to_json();
    assert_eq!(stats["receipts_matched"], 10 * 3 + 20, "{stats}");
    assert_eq!(stats["receipts_unmatched"], 0, "{stats}");
    for (id, state) in ids {
        let record = gateway
            .store()
            .get(u64::from_str_radix(&id, 16).unwrap())
            .unwrap()
            .unwrap();
        let worst = record
            .parts
            .iter()
            .map(|p| p.state)
            .max_by_key(|s| match s {
                State::Delivered => 1,
                State::Unknown => 2,
                State::Expired => 3,
                State::Failed => 4,
                State::Rejected => 5,
                _ => 0,
            })
            .unwrap();
        let expected = match worst {
            State::Delivered => MessageState::Delivered,
            State::Expired => MessageState::Expired,
            State::Failed => MessageState::Undeliverable,
            State::Rejected => MessageState::Rejected,
            other => panic!("part not final: {other:?}"),
        };
        assert_eq!(state, Some(expected), "{record:?}");
        assert_eq!(record.state, worst);
    }
    drop(gateway);
    let _ = sim.shutdown(Duration::from_secs(1)).await;
    stats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_ids() {
    run_case(Faults::default(), IdFormat::Hex, IdStyle::Hex, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_in_text_hex_in_tlv_with_auto_style() {
    let faults = Faults {
        receipt_id_style: ReceiptIdStyle::DecInTextHexInTlv,
        ..Faults::default()
    };
    run_case(faults, IdFormat::Hex, IdStyle::Auto, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_id_style_still_matches_by_the_other_reading() {
    // The carrier answers decimal ids (hex 0x… in receipted_message_id, decimal in the
    // text) but is configured `hex`: the TLV id read as hex matches nothing, the text id
    // read both ways does — and the counter says how often that was needed.
    let faults = Faults {
        receipt_id_style: ReceiptIdStyle::DecInTextHexInTlv,
        ..Faults::default()
    };
    let stats = run_case(faults, IdFormat::Dec, IdStyle::Hex, 1).await;
    assert_eq!(stats["receipts_matched_alternate"], 50, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_ids_with_hex_in_the_tlv() {
    let faults = Faults {
        receipt_id_style: ReceiptIdStyle::DecInTextHexInTlv,
        ..Faults::default()
    };
    let stats = run_case(faults, IdFormat::Dec, IdStyle::Dec, 1).await;
    assert_eq!(stats["receipts_matched_alternate"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_ids() {
    run_case(Faults::default(), IdFormat::Dec, IdStyle::Dec, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_before_response() {
    let faults = Faults {
        receipt_before_resp: true,
        ..Faults::default()
    };
    run_case(faults, IdFormat::Hex, IdStyle::Hex, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_on_another_bind() {
    let faults = Faults {
        receipt_bind: ReceiptBind::Other,
        ..Faults::default()
    };
    run_case(faults, IdFormat::Hex, IdStyle::Hex, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_final_states_worst_part_wins() {
    let faults = Faults {
        receipt_states: vec![
            (MessageState::Delivered, 6000),
            (MessageState::Undeliverable, 2000),
            (MessageState::Expired, 1000),
            (MessageState::Rejected, 1000),
        ],
        ..Faults::default()
    };
    run_case(faults, IdFormat::Hex, IdStyle::Hex, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_wait_for_an_absent_client_and_arrive_once() {
    let sim = receipting_sim(Duration::from_millis(1)).await;
    let mut config = gateway_config(sim.local_addr(), IdStyle::Hex, 1);
    config.carriers[0].window = 256;
    let gateway = Gateway::start(config).await.expect("gateway");
    // A transmitter cannot take receipts: they wait in the store.
    let (tx, _none) = upstream(&gateway, BindKind::Transmitter).await;
    let count = 10_000u64;
    let mut sends = futures::stream::FuturesUnordered::new();
    let mut ids = std::collections::HashSet::new();
    for n in 0..count {
        let mut message = submit(1);
        message.tlvs = smppgate_protocol::tlv::Tlvs::default();
        message.short_message = Bytes::from(format!("n{n}"));
        sends.push(tx.submit(message));
        if sends.len() >= 64 {
            use futures::StreamExt as _;
            let r = sends.next().await.unwrap().unwrap();
            ids.insert(r.message_id().unwrap().clone());
        }
    }
    use futures::StreamExt as _;
    while let Some(r) = sends.next().await {
        ids.insert(r.unwrap().message_id().unwrap().clone());
    }
    tx.unbind().await;
    within("all receipts matched", async {
        while gateway.stats().to_json()["receipts_matched"] != count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(gateway.stats().to_json()["forwarded"], 0);
    let (_rx, mut inbound) = upstream(&gateway, BindKind::Receiver).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..count {
        let request = within("forwarded receipt", inbound.recv())
            .await
            .expect("open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("receipt");
        let id = Bytes::from(receipt.id().unwrap().to_owned());
        assert!(ids.contains(&id), "unknown id");
        assert!(seen.insert(id), "a receipt came twice");
    }
    nothing_more(&mut inbound, "more receipts than messages").await;
    drop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_part_ucs2_mo_reaches_its_account_as_one_message_and_opt_out_is_flagged() {
    let (carrier, server) = quiet_carrier().await;
    let gateway = Gateway::start(gateway_config(server.local_addr(), IdStyle::Hex, 1))
        .await
        .unwrap();
    let (_client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
    let session = carrier_session(&carrier).await;
    let text = "您好，这是一条很长的中文上行短信，用来测试三段重组是否正确无误。".repeat(5);
    let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let chunks: Vec<&[u8]> = units.chunks(134).collect();
    assert_eq!(chunks.len(), 3);
    for (i, chunk) in chunks.iter().enumerate() {
        let mo = DeliverSm {
            data_coding: DataCoding(8),
            ..mo_part(0x42, 3, u8::try_from(i + 1).unwrap(), chunk)
        };
        assert!(session.deliver(mo).await.unwrap().is_ok());
    }
    let request = within("MO upstream", inbound.recv()).await.unwrap();
    let Body::DeliverSm(mo) = &request.pdu.body else {
        panic!("not deliver_sm")
    };
    assert_eq!(mo.esm_class.0 & 0x3C, 0, "an MO, not a receipt");
    let payload = mo.payload();
    let units: Vec<u16> = payload
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&units).unwrap(), text);
    assert_eq!(gateway.stats().to_json()["mo_opt_out"], 0);

    let stop = "退订"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect::<Vec<u8>>();
    let mo = DeliverSm {
        source_addr: Address::international("8613900001111"),
        destination_addr: Address::international("10690000"),
        data_coding: DataCoding(8),
        short_message: Bytes::from(stop),
        ..DeliverSm::default()
    };
    assert!(session.deliver(mo).await.unwrap().is_ok());
    let _ = within("opt-out upstream", inbound.recv()).await.unwrap();
    assert_eq!(gateway.stats().to_json()["mo_opt_out"], 1);

    // An MO for a number nobody owns is kept, not dropped.
    let stray = DeliverSm {
        source_addr: Address::international("8613900001111"),
        destination_addr: Address::international("10699999"),
        short_message: Bytes::from_static(b"who gets this?"),
        ..DeliverSm::default()
    };
    assert!(session.deliver(stray).await.unwrap().is_ok());
    within("kept as unrouted", async {
        while gateway
            .store()
            .outbox(smppgate::gateway::UNROUTED_MO, 10)
            .unwrap()
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(gateway.stats().to_json()["mo_unrouted"], 1);
}

#[test]
fn an_unmatched_receipt_is_counted_and_kept_for_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (carrier, server) = quiet_carrier().await;
        let mut config = gateway_config(server.local_addr(), IdStyle::Hex, 1);
        config.store.path = dir.path().join("store");
        config.receipts.early_ttl = Duration::from_millis(500);
        let gateway = Gateway::start(config).await.unwrap();
        let session = carrier_session(&carrier).await;
        let receipt = DeliverSm {
            source_addr: Address::international("8613800138000"),
            destination_addr: Address::international("10690000"),
            esm_class: EsmClass(0x04),
            short_message: Bytes::from_static(
                b"id:deadbeef sub:001 dlvrd:001 submit date:2611231200 done date:2611231200 stat:DELIVRD err:000 text:",
            ),
            ..DeliverSm::default()
        };
        assert!(session.deliver(receipt).await.unwrap().is_ok());
        within("unmatched after the TTL", async {
            while gateway.stats().to_json()["receipts_unmatched"] != 1 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        within("kept in the store", async {
            while gateway.store().outbox(smppgate::gateway::UNMATCHED, 10).unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        gateway.stop(Duration::from_secs(1)).await;
    });
    drop(runtime);
    // With the gateway gone (its commit thread lets go of the store lock just after), the
    // CLI reads the store.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smppgate"))
            .args(["receipts", "unmatched", "--store"])
            .arg(dir.path().join("store"))
            .output()
            .unwrap();
        let busy = String::from_utf8_lossy(&out.stderr).contains("in use");
        if !busy || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["carrier"], "sim", "{line}");
    assert!(
        line["receipt"]
            .as_str()
            .unwrap()
            .starts_with("id:deadbeef stat:DELIVRD"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_its_validity_gets_an_expired_receipt_upstream() {
    let (_carrier, server) = quiet_carrier().await;
    let mut config = gateway_config(server.local_addr(), IdStyle::Hex, 1);
    config.store.validity = Duration::from_secs(1);
    let gateway = Gateway::start(config).await.unwrap();
    let (client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
    let response = within("submit", client.submit(submit(1))).await.unwrap();
    let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
    let request = within("expired receipt", inbound.recv()).await.unwrap();
    let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("receipt");
    assert_eq!(receipt.id(), Some(id.as_str()));
    assert_eq!(receipt.state(), Some(MessageState::Expired));
    let record = gateway
        .store()
        .get(u64::from_str_radix(&id, 16).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(record.state, State::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_receipt_is_retried_and_a_slow_account_does_not_hold_up_another() {
    let sim = receipting_sim(Duration::from_millis(5)).await;
    let mut config = gateway_config(sim.local_addr(), IdStyle::Hex, 1);
    let mut other = config.accounts[0].clone();
    other.system_id = "other".into();
    other.numbers = Vec::new();
    config.accounts.push(other);
    let gateway = Gateway::start(config).await.expect("gateway");

    // "demo" answers its first two deliver_sm with ESME_RX_T_APPN, then never answers.
    let mut demo_config = EsmeConfig::new("demo", "demo");
    demo_config.auto_respond = false;
    let (demo, mut demo_in) = within(
        "bind demo",
        EsmeClient::connect(&gateway.local_addr().to_string(), demo_config),
    )
    .await
    .unwrap();
    let (other, mut other_in) = {
        let config = EsmeConfig::new("other", "demo");
        within(
            "bind other",
            EsmeClient::connect(&gateway.local_addr().to_string(), config),
        )
        .await
        .unwrap()
    };
    let response = within("submit demo", demo.submit(submit(1))).await.unwrap();
    let demo_id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
    let mut refusals = 0;
    let accepted = loop {
        let request = within("demo receipt", demo_in.recv()).await.unwrap();
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("receipt");
        assert_eq!(receipt.id(), Some(demo_id.as_str()));
        if refusals < 2 {
            refusals += 1;
            request.respond(CommandStatus::ESME_RX_T_APPN, None).await;
        } else {
            break request;
        }
    };
    // Hold the third delivery unanswered: the demo account is now stuck; "other" is not.
    for n in 0..20 {
        let response = within("submit other", other.submit(submit(n)))
            .await
            .unwrap();
        assert!(response.is_ok());
    }
    for _ in 0..20 {
        let request = within("other's receipts flow", other_in.recv())
            .await
            .unwrap();
        assert!(DeliveryReceipt::from_body(&request.pdu.body).is_some());
    }
    accepted.respond(CommandStatus::ESME_ROK, None).await;
    within("demo's receipt acknowledged", async {
        while gateway.stats().to_json()["forwarded"] != 21 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    nothing_more(&mut demo_in, "acknowledged receipt sent again").await;
}

/// A carrier that sends a part's UNDELIV receipt again (carriers re-send unanswered or
/// unsure ones) does not make the gateway send its client a second receipt, in the
/// per-part mode too; a later DELIVRD for a failed part still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_the_carrier_sends_twice_reaches_the_client_once() {
    let (carrier, server) = quiet_carrier().await;
    let mut config = gateway_config(server.local_addr(), IdStyle::Hex, 1);
    config.accounts[0].receipts = smppgate::config::ReceiptMode::PerPart;
    let gateway = Gateway::start(config).await.unwrap();
    let session = carrier_session(&carrier).await;
    let (client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
    let response = within("submit", client.submit(submit(1))).await.unwrap();
    let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
    let receipt = |stat: &str| DeliverSm {
        source_addr: Address::international("8613800138000"),
        destination_addr: Address::international("10690000"),
        esm_class: EsmClass(0x04),
        short_message: Bytes::from(format!(
            "id:1 sub:001 dlvrd:000 submit date:2611231200 done date:2611231200 stat:{stat} err:001 text:"
        )),
        ..DeliverSm::default()
    };
    let store = gateway.store();
    let numeric = u64::from_str_radix(&id, 16).unwrap();
    within("the part sent", async {
        while store.get(numeric).unwrap().unwrap().state != State::Sent {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for _ in 0..2 {
        assert!(session.deliver(receipt("UNDELIV")).await.unwrap().is_ok());
    }
    let request = within("the receipt", inbound.recv()).await.unwrap();
    let forwarded = DeliveryReceipt::from_body(&request.pdu.body).expect("receipt");
    assert_eq!(forwarded.id(), Some(id.as_str()));
    assert_eq!(forwarded.state(), Some(MessageState::Undeliverable));
    nothing_more(&mut inbound, "the same receipt again").await;
    // Delivered after all: that is news.
    assert!(session.deliver(receipt("DELIVRD")).await.unwrap().is_ok());
    let request = within("the later receipt", inbound.recv()).await.unwrap();
    let forwarded = DeliveryReceipt::from_body(&request.pdu.body).expect("receipt");
    assert_eq!(forwarded.state(), Some(MessageState::Delivered));
    drop((client, gateway, server));
}

/// What a run of [`run_then_crash`] does with its gateway and carrier.
type CrashRun<'a> = dyn Fn(Gateway, Arc<MoCarrier>) -> futures::future::BoxFuture<'static, ()> + 'a;

/// Runs `f` against a gateway on the fjall store at `store` (MO reassembly TTL `ttl`) and
/// a quiet carrier, in a runtime of its own that is then dropped: the process "dies",
/// nothing flushed by hand.
fn run_then_crash(store: &std::path::Path, ttl: Duration, f: &CrashRun<'_>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (carrier, server) = quiet_carrier().await;
        let mut config = gateway_config(server.local_addr(), IdStyle::Hex, 1);
        config.store.path = store.to_path_buf();
        config.receipts.mo_reassembly_ttl = ttl;
        // The last run's commit thread lets go of the store lock just after its runtime
        // is gone.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let gateway = loop {
            match Gateway::start(config.clone()).await {
                Ok(gateway) => break gateway,
                Err(error) if std::time::Instant::now() < deadline => {
                    assert!(format!("{error:#}").contains("in use"), "{error:#}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("{error:#}"),
            }
        };
        f(gateway, carrier).await;
        drop(server);
    });
}

#[test]
fn an_early_receipt_survives_a_crash_and_matches_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let receipt = DeliverSm {
        source_addr: Address::international("8613800138000"),
        destination_addr: Address::international("10690000"),
        esm_class: EsmClass(0x04),
        short_message: Bytes::from_static(
            b"id:abc sub:001 dlvrd:001 submit date:2611231200 done date:2611231200 stat:DELIVRD err:000 text:",
        ),
        ..DeliverSm::default()
    };
    // Run 1: the receipt for carrier id "abc" arrives before any submit_sm_resp with it,
    // is answered, then the process "dies" (its runtime dropped, nothing flushed by hand).
    let run = |f: &CrashRun<'_>| run_then_crash(&store, Duration::from_secs(300), f);
    run(&|gateway, carrier| {
        let receipt = receipt.clone();
        Box::pin(async move {
            let session = carrier_session(&carrier).await;
            assert!(session.deliver(receipt).await.unwrap().is_ok());
            assert_eq!(gateway.stats().to_json()["receipts_early"], 1);
        })
    });
    // Run 2, same store: the carrier now answers a submit with "abc"; the kept receipt
    // matches it and the client gets its receipt.
    run(&|gateway, carrier| {
        Box::pin(async move {
            carrier
                .answer_abc
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let _session = carrier_session(&carrier).await;
            let (client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
            let response = within("submit", client.submit(submit(1))).await.unwrap();
            let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
            let request = within("the early receipt, after the restart", inbound.recv())
                .await
                .unwrap();
            let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("receipt");
            assert_eq!(receipt.id(), Some(id.as_str()));
            assert_eq!(receipt.state(), Some(MessageState::Delivered));
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_mo_missing_a_part_reaches_its_account_incomplete_after_the_ttl() {
    let (carrier, server) = quiet_carrier().await;
    let mut config = gateway_config(server.local_addr(), IdStyle::Hex, 1);
    config.receipts.mo_reassembly_ttl = Duration::from_millis(300);
    let gateway = Gateway::start(config).await.unwrap();
    let (_client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
    let session = carrier_session(&carrier).await;
    // Parts 1 and 3 of 3; part 2 never comes.
    for (seq, text) in [(1u8, &b"first "[..]), (3, &b"third"[..])] {
        let mo = mo_part(0x77, 3, seq, text);
        assert!(session.deliver(mo).await.unwrap().is_ok());
    }
    // Nothing until the TTL, then what arrived, in order.
    let request = within("incomplete MO upstream", inbound.recv())
        .await
        .unwrap();
    let Body::DeliverSm(mo) = &request.pdu.body else {
        panic!("not deliver_sm")
    };
    assert_eq!(&mo.payload()[..], b"first third");
    assert_eq!(&mo.destination_addr.addr[..], b"10690000");
}

/// A part of a multipart MO is answered once it is kept in the store, so a crash loses
/// none: after a restart the rest of the message completes it and the account gets it
/// whole, and a message delivered before the crash is not delivered again.
#[test]
fn a_multipart_mo_half_received_before_a_crash_is_completed_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let part = |reference: u8, seq: u8, text: &[u8]| mo_part(reference, 2, seq, text);
    let run = |ttl: Duration, f: &CrashRun<'_>| run_then_crash(&store, ttl, f);
    let payload = |request: &smppgate::conn::InboundRequest| {
        let Body::DeliverSm(mo) = &request.pdu.body else {
            panic!("not deliver_sm")
        };
        mo.payload().to_vec()
    };
    // Run 1: message 0x31 whole (delivered, and its delivery acknowledged), and the first
    // half of 0x32; then the process "dies".
    run(Duration::from_secs(300), &|gateway, carrier| {
        Box::pin(async move {
            let session = carrier_session(&carrier).await;
            let (_client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
            for mo in [
                part(0x31, 1, b"one "),
                part(0x32, 1, b"first "),
                part(0x31, 2, b"two"),
            ] {
                assert!(session.deliver(mo).await.unwrap().is_ok());
            }
            let request = within("0x31 upstream", inbound.recv()).await.unwrap();
            assert_eq!(payload(&request), b"one two");
            let store = gateway.store();
            within("its delivery acknowledged", async {
                while !store.outbox("demo", 10).unwrap().is_empty() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        })
    });
    // Run 2: the second half of 0x32 completes it; 0x31 does not come again, not even
    // incomplete once the (short) TTL has passed: its kept part is dropped at the mark.
    run(Duration::from_secs(3), &|gateway, carrier| {
        Box::pin(async move {
            let session = carrier_session(&carrier).await;
            let (_client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
            assert!(
                session
                    .deliver(part(0x32, 2, b"second"))
                    .await
                    .unwrap()
                    .is_ok()
            );
            let request = within("0x32 upstream, whole", inbound.recv())
                .await
                .unwrap();
            assert_eq!(payload(&request), b"first second");
            tokio::time::sleep(Duration::from_secs(4)).await;
            nothing_more(&mut inbound, "a message delivered before the crash").await;
        })
    });
}

/// A client that asks for no receipt: the gateway still asks the carrier for one on every
/// part (`carrier.request_receipts`, on by default), so the message ends delivered in the
/// store (its state, `messages show`, the delivery statistics) and the client gets no
/// deliver_sm. With the setting off the carrier is asked for none and the message stays
/// `sent`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carrier_is_asked_for_receipts_the_client_did_not_want() {
    for request_receipts in [true, false] {
        let sim = receipting_sim(Duration::from_millis(5)).await;
        let mut config = gateway_config(sim.local_addr(), IdStyle::Hex, 1);
        config.carriers[0].request_receipts = request_receipts;
        let gateway = Gateway::start(config).await.expect("gateway");
        let (client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
        // Messages 0 and 3 are 3 parts long: 2 × 3 + 3 = 9 parts.
        let mut ids = Vec::new();
        for n in 0..5 {
            let mut pdu = submit(n);
            pdu.registered_delivery = RegisteredDelivery(0);
            let response = within("submit", client.submit(pdu)).await.unwrap();
            assert!(response.is_ok(), "{}", response.status());
            let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
            ids.push(u64::from_str_radix(&id, 16).unwrap());
        }
        let expected = if request_receipts {
            State::Delivered
        } else {
            State::Sent
        };
        let store = gateway.store();
        within("every message settled", async {
            loop {
                let states: Vec<_> = ids
                    .iter()
                    .map(|&id| store.get(id).unwrap().map(|r| r.state))
                    .collect();
                if states.iter().all(|s| *s == Some(expected)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        // The client asked for none: none comes (and, with the setting off, the carrier
        // sends none either).
        nothing_more(&mut inbound, "a receipt the client did not ask for").await;
        let counters = sim.counters().to_json();
        let receipts = if request_receipts { 9 } else { 0 };
        assert_eq!(counters["receipts_sent"], receipts, "{counters}");
        let stats = gateway.stats().to_json();
        assert_eq!(stats["receipts_matched"], receipts, "{stats}");
        drop((client, gateway));
        let _ = sim.shutdown(Duration::from_secs(1)).await;
    }
}

/// A client that asks for receipts on failure only (registered_delivery 0x02, reference
/// §5.2.17) gets a receipt for each message that failed and none for those delivered.
/// With `request_receipts` (the default) the carrier is asked for every outcome, so every
/// message ends delivered or failed in the store. Without it the carrier gets the
/// client's 0x02 and reports failures only; the others stay `sent` until their validity
/// ends, and then the client gets no EXPIRED receipt: no failure is known.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_asking_for_failure_receipts_gets_only_those() {
    for request_receipts in [true, false] {
        let sim = Sim::start(SimConfig {
            listen: "127.0.0.1:0".into(),
            receipt_delay: Duration::from_millis(5),
            faults: Faults {
                receipt_states: vec![
                    (MessageState::Delivered, 1),
                    (MessageState::Undeliverable, 1),
                ],
                ..Faults::default()
            },
            ..SimConfig::default()
        })
        .await
        .expect("sim");
        let mut config = gateway_config(sim.local_addr(), IdStyle::Hex, 1);
        config.carriers[0].request_receipts = request_receipts;
        // Housekeeping looks every second.
        config.store.validity = Duration::from_secs(4);
        let gateway = Gateway::start(config).await.expect("gateway");
        let (client, mut inbound) = upstream(&gateway, BindKind::Transceiver).await;
        // 7 messages of 3 parts, 13 of one: 34 parts, each delivered or not at random.
        let mut ids = Vec::new();
        for n in 0..20 {
            let mut pdu = submit(n);
            pdu.registered_delivery = RegisteredDelivery(0x02);
            let response = within("submit", client.submit(pdu)).await.unwrap();
            assert!(response.is_ok(), "{}", response.status());
            let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
            ids.push((u64::from_str_radix(&id, 16).unwrap(), id));
        }
        let store = gateway.store();
        within("every message final", async {
            while !ids
                .iter()
                .all(|(id, _)| store.get(*id).unwrap().is_some_and(|r| r.state.is_final()))
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let states: Vec<(State, &String)> = ids
            .iter()
            .map(|(id, text)| (store.get(*id).unwrap().unwrap().state, text))
            .collect();
        let failed: Vec<String> = states
            .iter()
            .filter(|(state, _)| *state == State::Failed)
            .map(|(_, text)| (*text).clone())
            .collect();
        let others: Vec<State> = states
            .iter()
            .map(|(state, _)| *state)
            .filter(|s| *s != State::Failed)
            .collect();
        let settled = if request_receipts {
            State::Delivered
        } else {
            State::Expired
        };
        assert!(others.iter().all(|s| *s == settled), "{others:?}");
        assert!(
            !failed.is_empty() && !others.is_empty(),
            "both outcomes: {failed:?} {others:?}"
        );
        let mut received = Vec::new();
        for _ in 0..failed.len() {
            let request = within("a failure receipt", inbound.recv())
                .await
                .expect("open");
            let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
            assert_eq!(receipt.state(), Some(MessageState::Undeliverable));
            received.push(receipt.id().unwrap().to_owned());
        }
        received.sort();
        let mut expected = failed.clone();
        expected.sort();
        assert_eq!(received, expected);
        nothing_more(
            &mut inbound,
            "a receipt for a message not known to have failed",
        )
        .await;
        let sent = sim.counters().to_json()["receipts_sent"].as_u64().unwrap();
        if request_receipts {
            assert_eq!(sent, 34, "every outcome asked of the carrier");
        } else {
            assert!(sent < 34, "failures only: {sent}");
        }
        drop((client, gateway));
        let _ = sim.shutdown(Duration::from_secs(1)).await;
    }
}

/// A client that asks for receipts and binds no receiver: its receipts wait in the outbox
/// for the store's retention, then are dropped, so such a client cannot fill the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_no_receiver_takes_are_dropped_after_the_retention() {
    let sim = receipting_sim(Duration::from_millis(1)).await;
    let mut config = gateway_config(sim.local_addr(), IdStyle::Hex, 1);
    // Housekeeping looks every second with a short validity.
    config.store.validity = Duration::from_secs(4);
    config.store.retention = Duration::from_secs(2);
    let gateway = Gateway::start(config).await.expect("gateway");
    let (client, _inbound) = upstream(&gateway, BindKind::Transmitter).await;
    for n in 1..=5 {
        let response = within("submit", client.submit(submit(n))).await.unwrap();
        assert!(response.is_ok(), "{}", response.status());
    }
    let store = gateway.store();
    within("the receipts queued", async {
        while store.outbox("demo", 10).unwrap().len() < 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    within("the receipts dropped after the retention", async {
        while !store.outbox("demo", 10).unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(gateway.stats().to_json()["forwarded"], 0);
    drop((client, gateway));
    let _ = sim.shutdown(Duration::from_secs(1)).await;
}
