//! SGIP carriers in the carrier pool, end to end on loopback: an SMPP client submits
//! through the gateway to a route whose carrier is the SGIP simulator; the simulator
//! connects back to the gateway's `report_listen` (Bind LoginType 2, the report
//! credentials checked) with its Reports and MO; every receipt returns to the client
//! with the state carried, a long Chinese message goes in parts, MO reaches the account.
//! And issue #18's end to end: a CMPP 3.0 carrier that throttles everything with an SGIP
//! carrier as backup: every message reaches the SGIP simulator after `failover_after`,
//! every receipt comes back.

mod carrier_support;
mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use smppgate::carrier::Class;
use smppgate::config::{CarrierConfig, CarrierProtocol, Config};
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::Gateway;
use smppgate::sim::china::CarrierFaults;
use smppgate::sim::cmpp::{CmppSim, CmppSimConfig};
use smppgate::sim::sgip::{SgipSim, SgipSimConfig};
use smppgate::sim::{Sim, SimConfig};
use smppgate_protocol::cmpp::Version;
use smppgate_protocol::pdu::{Body, SubmitSm};
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::tlv::{Tlv, Tlvs};
use smppgate_protocol::types::{Address, DataCoding, RegisteredDelivery};
use support::within;

/// A loopback port free now (the gateway's report listener takes it next).
fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

async fn sgip_sim(
    report_to: &str,
    states: Vec<(MessageState, u32)>,
    mo_rate: Option<u32>,
) -> SgipSim {
    SgipSim::start(SgipSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        accounts: vec![(Bytes::from_static(b"sp01"), Bytes::from_static(b"secret"))],
        report_to: Some(report_to.to_owned()),
        report_account: (Bytes::from_static(b"smg01"), Bytes::from_static(b"rsecret")),
        receipt_delay: Duration::from_millis(10),
        faults: CarrierFaults {
            receipt_states: states,
            mo_rate,
            ..CarrierFaults::default()
        },
        ..SgipSimConfig::default()
    })
    .await
    .expect("sgip sim")
}

fn sgip_carrier(name: &str, sim: &SgipSim, report_listen: &str) -> CarrierConfig {
    let mut carrier = carrier_support::carrier(name, &sim.local_addr().to_string(), 1_000, 1, 16);
    carrier.protocol = CarrierProtocol::Sgip;
    carrier.system_id = "sp01".to_owned();
    carrier.password = "secret".to_owned();
    carrier.node_id = Some(3_020_012_345);
    carrier.report_listen = Some(report_listen.to_owned());
    carrier.report_system_id = Some("smg01".to_owned());
    carrier.report_password = Some("rsecret".to_owned());
    carrier.src_id = "10655".to_owned();
    carrier.service_id = "MI0001".to_owned();
    carrier
}

fn gateway_config(carriers: Vec<CarrierConfig>) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    config.routes[0].carriers = carriers.iter().map(|c| c.name.clone()).collect();
    config.carriers = carriers;
    // The simulator's MO go to 10655.
    config.accounts[0].numbers = vec!["10655".to_owned()];
    config
}

async fn upstream(gateway: &Gateway) -> (EsmeClient, Inbound) {
    let mut config = EsmeConfig::new("demo", "demo");
    config.bind = BindKind::Transceiver;
    within(
        "bind upstream",
        EsmeClient::connect(&gateway.local_addr().to_string(), config),
    )
    .await
    .expect("bind")
}

fn submit(text: &str) -> SubmitSm {
    let mut submit = SubmitSm {
        source_addr: Address::international("1065500123"),
        destination_addr: Address::international("13000000000"),
        registered_delivery: RegisteredDelivery(1),
        data_coding: if text.is_ascii() {
            DataCoding::SMSC_DEFAULT
        } else {
            DataCoding::UCS2
        },
        ..SubmitSm::default()
    };
    if text.is_ascii() {
        submit.short_message = Bytes::from(text.as_bytes().to_vec());
    } else {
        let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        submit.tlvs = Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from(ucs2)))
            .build()
            .unwrap();
    }
    submit
}

/// Submits `texts`, then reads the client's inbound stream until every submitted id has
/// its receipt; returns the states by id and how many MO arrived meanwhile.
async fn submit_and_collect(
    client: &EsmeClient,
    inbound: &mut Inbound,
    texts: &[&str],
    want_mo: usize,
) -> (HashMap<String, Option<MessageState>>, usize) {
    let mut ids = HashMap::new();
    for text in texts {
        let response = within("submit", client.submit(submit(text)))
            .await
            .expect("submit");
        assert!(response.is_ok(), "{}", response.status());
        let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
        ids.insert(id, None);
    }
    let mut receipts = 0;
    let mut mo = 0;
    while receipts < texts.len() || mo < want_mo {
        let request = within("receipt or MO upstream", inbound.recv())
            .await
            .expect("open");
        let Body::DeliverSm(sm) = &request.pdu.body else {
            panic!("{request:?}")
        };
        if sm.esm_class.is_delivery_receipt() {
            let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
            let id = receipt.id().unwrap().to_owned();
            let known: Vec<String> = ids.keys().cloned().collect();
            let slot = ids
                .get_mut(&id)
                .unwrap_or_else(|| panic!("unknown id {id} (ids {known:?})"));
            assert!(slot.is_none(), "second receipt for {id}");
            *slot = receipt.state();
            receipts += 1;
        } else {
            assert_eq!(&sm.destination_addr.addr[..], b"10655");
            assert!(!sm.payload().is_empty());
            mo += 1;
        }
    }
    (ids, mo)
}

async fn receipts_come_back(states: Vec<(MessageState, u32)>, expected: MessageState) {
    let report_listen = free_port();
    let sim = sgip_sim(&report_listen, states, Some(5)).await;
    let gateway = Gateway::start(gateway_config(vec![sgip_carrier(
        "cu",
        &sim,
        &report_listen,
    )]))
    .await
    .expect("gateway");
    let (client, mut inbound) = upstream(&gateway).await;
    // 150 Chinese characters: 3 UCS-2 parts of at most 67.
    let long: String = "中国联通短信网关测试消息，"
        .repeat(13)
        .chars()
        .take(150)
        .collect();
    let texts = ["hello 1", "hello 2", "你好", long.as_str()];
    let (ids, mo) = submit_and_collect(&client, &mut inbound, &texts, 1).await;
    for (id, state) in &ids {
        assert_eq!(*state, Some(expected), "{id}");
    }
    assert!(mo >= 1);
    // 1 + 1 + 1 + 3 Submits, each reported on the report link, every one matched.
    let counters = sim.counters();
    assert_eq!(counters.submits.load(Ordering::Relaxed), 6);
    assert_eq!(counters.submits_refused.load(Ordering::Relaxed), 0);
    assert_eq!(counters.reports_sent.load(Ordering::Relaxed), 6);
    let stats = gateway.stats().to_json();
    assert_eq!(stats["receipts_matched"], 6, "{stats}");
    assert_eq!(stats["receipts_unmatched"], 0, "{stats}");
    // Reports and MO were answered (Result 0) by the gateway, after it kept them.
    within("reports answered", async {
        while counters.deliver_resps.load(Ordering::Relaxed) < 7 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    drop(client);
    gateway.stop(Duration::from_secs(2)).await;
    let _ = sim.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sgip_messages_arrive_receipts_return_and_mo_reaches_the_account() {
    receipts_come_back(Vec::new(), MessageState::Delivered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sgip_failed_reports_return_as_undeliv_receipts() {
    receipts_come_back(
        vec![(MessageState::Undeliverable, 1)],
        MessageState::Undeliverable,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_report_password_is_refused_and_no_receipt_is_kept() {
    let report_listen = free_port();
    let sim = sgip_sim(&report_listen, Vec::new(), None).await;
    let mut carrier = sgip_carrier("cu", &sim, &report_listen);
    carrier.report_password = Some("other".to_owned());
    let gateway = Gateway::start(gateway_config(vec![carrier]))
        .await
        .expect("gateway");
    let (client, _inbound) = upstream(&gateway).await;
    let response = within("submit", client.submit(submit("hello")))
        .await
        .expect("submit");
    assert!(response.is_ok(), "{}", response.status());
    // The simulator's report link Bind is refused (Result 1): it counts failures and the
    // report is never acknowledged.
    let counters = sim.counters();
    within("report link refused", async {
        while counters.report_link_failures.load(Ordering::Relaxed) < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(counters.deliver_resps.load(Ordering::Relaxed), 0);
    assert_eq!(gateway.stats().to_json()["receipts_matched"], 0);
    drop(client);
    gateway.stop(Duration::from_secs(2)).await;
    let _ = sim.shutdown(Duration::from_secs(1)).await;
}

/// Issue #18: a route whose carriers are a CMPP 3.0 simulator (primary) and an SGIP
/// simulator (backup). The CMPP simulator answers every SUBMIT with Result 8 (flow
/// control): the pool backs off, and after `failover_after` every message goes to the
/// SGIP carrier; every receipt comes back to the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cmpp3_primary_throttles_and_messages_fail_over_to_the_sgip_backup_with_receipts() {
    let cmpp = CmppSim::start(CmppSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        version: Version::V3,
        accounts: vec![(Bytes::from_static(b"900001"), Bytes::from_static(b"888888"))],
        error_rate: vec![(8, 10_000)],
        ..CmppSimConfig::default()
    })
    .await
    .expect("cmpp sim");
    let report_listen = free_port();
    let sgip = sgip_sim(&report_listen, Vec::new(), None).await;
    let mut primary =
        carrier_support::carrier("cmcc", &cmpp.local_addr().to_string(), 1_000, 1, 16);
    primary.protocol = CarrierProtocol::Cmpp3;
    primary.system_id = "900001".to_owned();
    primary.password = "888888".to_owned();
    primary.src_id = "10655".to_owned();
    primary.failover_after = Duration::from_secs(1);
    let backup = sgip_carrier("cu", &sgip, &report_listen);
    let gateway = Gateway::start(gateway_config(vec![primary, backup]))
        .await
        .expect("gateway");
    let (client, mut inbound) = upstream(&gateway).await;
    let texts: Vec<String> = (0..10).map(|i| format!("failover {i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let (ids, _) = submit_and_collect(&client, &mut inbound, &texts, 0).await;
    for (id, state) in &ids {
        assert_eq!(*state, Some(MessageState::Delivered), "{id}");
    }
    // Every message went out on the SGIP backup, after the CMPP primary throttled it.
    assert_eq!(sgip.counters().submits.load(Ordering::Relaxed), 10);
    assert!(cmpp.counters().errors_injected.load(Ordering::Relaxed) >= 10);
    assert_eq!(cmpp.counters().reports_sent.load(Ordering::Relaxed), 0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "failover_after waited"
    );
    let stats = gateway.stats().to_json();
    assert_eq!(stats["receipts_matched"], 10, "{stats}");
    drop(client);
    gateway.stop(Duration::from_secs(2)).await;
    let _ = sgip.shutdown(Duration::from_secs(1)).await;
    let _ = cmpp.shutdown(Duration::from_secs(1)).await;
}

/// Real processes: PyPI `smpplib` as the upstream application, through `smppgate serve
/// --config` to `smppgate sim --protocol sgip --report-to <report_listen>`: its long GSM
/// and UCS-2 messages (parts it split itself, with UDH) go as SGIP Submits, the simulator
/// binds back to the gateway's report listener (LoginType 2, the report account) and
/// every part's receipt comes back with the id the client was given and stat DELIVRD.
#[test]
fn smpplib_through_serve_to_the_sgip_simulator_gets_every_receipt() {
    let report_listen = free_port();
    let sim = support::Sim::start(&[
        "--protocol",
        "sgip",
        "--account",
        "sp01:secret",
        "--report-to",
        &report_listen,
        "--report-account",
        "smg01:rsecret",
        "--receipt-delay-ms",
        "20",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rest = format!(
        r#"

[[account]]
system_id = "pyesme"
password = "secret"

[[carrier]]
name = "cu"
protocol = "sgip"
address = "{sim}"
system_id = "sp01"
password = "secret"
node_id = 3020012345
report_listen = "{report_listen}"
report_system_id = "smg01"
report_password = "rsecret"
src_id = "1555"
binds = 2
window = 16
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["cu"]
"#,
        sim = sim.addr,
    );
    let config = support::write_gateway_config(dir.path(), &rest);
    let (gateway, addr) = support::serve(&config);
    let ids = support::smpplib_all_delivered(addr);
    gateway.terminate();
    let stats = gateway.finish(Duration::from_secs(20)).success_json();
    assert_eq!(
        stats["receipts_matched"].as_u64(),
        Some(ids.len() as u64),
        "{stats}"
    );
    let counters = sim.stop();
    assert_eq!(
        counters["submits"].as_u64(),
        Some(ids.len() as u64),
        "{counters}"
    );
    assert_eq!(counters["logins"], 2, "{counters}");
    assert_eq!(
        counters["reports_sent"].as_u64(),
        Some(ids.len() as u64),
        "{counters}"
    );
}

/// The SMG releases an idle Submit link with Unbind (SGIP 1.2 §5.1): the bind slot goes
/// down and binds again at once, and the next messages go and come back as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smg_unbind_of_an_idle_link_is_a_rebind_and_nothing_is_lost() {
    let report_listen = free_port();
    let sim = SgipSim::start(SgipSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        accounts: vec![(Bytes::from_static(b"sp01"), Bytes::from_static(b"secret"))],
        report_to: Some(report_listen.clone()),
        report_account: (Bytes::from_static(b"smg01"), Bytes::from_static(b"rsecret")),
        receipt_delay: Duration::from_millis(10),
        idle_timeout: Duration::from_millis(300),
        ..SgipSimConfig::default()
    })
    .await
    .expect("sgip sim");
    let gateway = Gateway::start(gateway_config(vec![sgip_carrier(
        "cu",
        &sim,
        &report_listen,
    )]))
    .await
    .expect("gateway");
    let (client, mut inbound) = upstream(&gateway).await;
    let (first, _) = submit_and_collect(&client, &mut inbound, &["before"], 0).await;
    let counters = sim.counters();
    within(
        "the SMG unbinds the idle link, the gateway binds again",
        async {
            while counters.idle_closed.load(Ordering::Relaxed) < 1
                || counters.logins.load(Ordering::Relaxed) < 2
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await;
    let (second, _) = submit_and_collect(&client, &mut inbound, &["after 1", "after 2"], 0).await;
    for (id, state) in first.iter().chain(&second) {
        assert_eq!(*state, Some(MessageState::Delivered), "{id}");
    }
    assert_eq!(counters.submits.load(Ordering::Relaxed), 3);
    assert_eq!(gateway.stats().to_json()["receipts_matched"], 3);
    drop(client);
    gateway.stop(Duration::from_secs(2)).await;
    let _ = sim.shutdown(Duration::from_secs(1)).await;
}

/// Issue #18's end to end as real processes: PyPI `smpplib` through `smppgate serve
/// --config` to a route of `sim --protocol cmpp3 --error-rate 8=100` (CMPP flow control
/// to every SUBMIT) with `sim --protocol sgip` as backup: every part goes out on the SGIP
/// simulator after `failover_after`, and every receipt returns with the client's id.
#[test]
fn smpplib_through_serve_fails_over_from_a_throttling_cmpp3_sim_to_the_sgip_sim() {
    let cmpp = support::Sim::start(&[
        "--protocol",
        "cmpp3",
        "--account",
        "900001:888888",
        "--error-rate",
        "8=100",
    ]);
    let report_listen = free_port();
    let sgip = support::Sim::start(&[
        "--protocol",
        "sgip",
        "--account",
        "sp01:secret",
        "--report-to",
        &report_listen,
        "--receipt-delay-ms",
        "20",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rest = format!(
        r#"

[[account]]
system_id = "pyesme"
password = "secret"

[[carrier]]
name = "cmcc"
protocol = "cmpp3"
address = "{cmpp}"
system_id = "900001"
password = "888888"
src_id = "1555"
tps = 5000
failover_after = "1s"

[[carrier]]
name = "cu"
protocol = "sgip"
address = "{sgip}"
system_id = "sp01"
password = "secret"
node_id = 3020012345
report_listen = "{report_listen}"
src_id = "1555"
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["cmcc", "cu"]
"#,
        cmpp = cmpp.addr,
        sgip = sgip.addr,
    );
    let config = support::write_gateway_config(dir.path(), &rest);
    let (gateway, addr) = support::serve(&config);
    let ids = support::smpplib_all_delivered(addr);
    gateway.terminate();
    let stats = gateway.finish(Duration::from_secs(20)).success_json();
    assert_eq!(
        stats["receipts_matched"].as_u64(),
        Some(ids.len() as u64),
        "{stats}"
    );
    let sgip = sgip.stop();
    assert_eq!(sgip["submits"].as_u64(), Some(ids.len() as u64), "{sgip}");
    let cmpp = cmpp.stop();
    assert!(
        cmpp["errors_injected"].as_u64().unwrap_or(0) >= ids.len() as u64,
        "every part was throttled on CMPP first: {cmpp}"
    );
    assert_eq!(cmpp["reports_sent"], 0, "{cmpp}");
}

/// A wrong SP password is a refused Bind (Result 1): the carrier's `bind_rejected` alert
/// and long back-off, not a reconnect loop, and the traffic goes to the SMPP backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sp_password_is_a_refused_bind_and_traffic_goes_to_the_backup() {
    let report_listen = free_port();
    let sim = sgip_sim(&report_listen, Vec::new(), None).await;
    let backup = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut primary = sgip_carrier("cu", &sim, &report_listen);
    primary.password = "wrong".to_owned();
    primary.binds = 2;
    let (carriers, recorder) = carrier_support::start(&carrier_support::config(vec![
        primary,
        carrier_support::carrier("backup", &backup.local_addr().to_string(), 1_000, 1, 16),
    ]))
    .await;
    carrier_support::submit_many(&carriers, 0, 20, Class::Notification);
    recorder.wait_for(20, Duration::from_secs(20)).await;
    recorder.assert_all_accepted(20);
    for (_, outcome) in recorder.all() {
        assert_eq!(&*outcome.carrier, "backup");
    }
    let stats = carriers.stats();
    let p = &stats["carriers"][0];
    assert_eq!(p["binds_up"], 0, "{p}");
    assert_eq!(p["bind_rejections"], 2, "{p}");
    assert_eq!(p["bind_attempts"], 2, "{p}");
    assert_eq!(sim.counters().logins_refused.load(Ordering::Relaxed), 2);
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), 0);
    carriers.drain(Duration::from_secs(2)).await;
}
