//! CMPP carriers in the carrier pool, end to end on loopback: an SMPP client submits
//! through the gateway to a route whose carrier is the CMPP simulator (3.0 and 2.0); the
//! messages arrive (a long Chinese one as parts with Pk_total/Pk_number), every receipt
//! comes back to the client in its account's id style with the simulator's Stat; a wrong
//! shared secret is a refused bind (alerted, backed off, traffic to the backup); CMPP
//! flow control (SUBMIT_RESP Result 8) is throttling: back-off, then failover to a backup
//! SMPP carrier.

mod carrier_support;
mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use smppgate::carrier::{Class, OutcomeResult};
use smppgate::config::{CarrierConfig, CarrierProtocol, Config};
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::Gateway;
use smppgate::sim::cmpp::{CmppSim, CmppSimConfig};
use smppgate::sim::{Sim, SimConfig};
use smppgate_protocol::cmpp::Version;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::tlv::{Tlv, Tlvs};
use smppgate_protocol::types::{Address, DataCoding, RegisteredDelivery};
use support::within;

const SP_ID: &str = "900001";
const SECRET: &str = "888888";

async fn cmpp_sim(version: Version, states: Vec<(MessageState, u32)>) -> CmppSim {
    CmppSim::start(CmppSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        version,
        accounts: vec![(Bytes::from_static(b"900001"), Bytes::from_static(b"888888"))],
        receipt_delay: Duration::from_millis(10),
        receipt_states: states,
        ..CmppSimConfig::default()
    })
    .await
    .expect("cmpp sim")
}

fn cmpp_carrier(name: &str, version: Version, sim: &CmppSim) -> CarrierConfig {
    let mut carrier = carrier_support::carrier(name, &sim.local_addr().to_string(), 1_000, 1, 16);
    carrier.protocol = match version {
        Version::V2 => CarrierProtocol::Cmpp2,
        Version::V3 => CarrierProtocol::Cmpp3,
    };
    carrier.system_id = SP_ID.to_owned();
    carrier.password = SECRET.to_owned();
    carrier.src_id = "10690001".to_owned();
    carrier.service_id = "MI0001".to_owned();
    carrier
}

fn gateway_config(carrier: CarrierConfig) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    config.routes[0].carriers = vec![carrier.name.clone()];
    config.carriers = vec![carrier];
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

/// A message to a China Mobile number from an extension of the SP's access number.
fn submit(text: &str) -> SubmitSm {
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut submit = SubmitSm {
        source_addr: Address::international("1069000123"),
        destination_addr: Address::international("13800138000"),
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
        submit.tlvs = Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from(ucs2)))
            .build()
            .unwrap();
    }
    submit
}

/// Submits the messages, waits for one receipt each, checks ids and states; returns the
/// gateway's stats.
async fn receipts_come_back(
    version: Version,
    states: Vec<(MessageState, u32)>,
    expected: MessageState,
) {
    let sim = cmpp_sim(version, states).await;
    let gateway = Gateway::start(gateway_config(cmpp_carrier("cmpp", version, &sim)))
        .await
        .expect("gateway");
    let (client, mut inbound) = upstream(&gateway).await;
    // 150 Chinese characters: 3 UCS-2 parts of at most 67.
    let long = "中国移动短信网关测试消息，".repeat(13)[..]
        .chars()
        .take(150)
        .collect::<String>();
    let texts = ["hello 1", "hello 2", "你好", long.as_str()];
    let mut ids = HashMap::new();
    for text in texts {
        let response = within("submit", client.submit(submit(text)))
            .await
            .expect("submit");
        assert!(response.is_ok(), "{}", response.status());
        let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
        ids.insert(id, None);
    }
    for _ in 0..texts.len() {
        let request = within("receipt upstream", inbound.recv())
            .await
            .expect("open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        let id = receipt.id().unwrap().to_owned();
        let known: Vec<String> = ids.keys().cloned().collect();
        let slot = ids
            .get_mut(&id)
            .unwrap_or_else(|| panic!("unknown id {id} (ids {known:?})"));
        assert!(slot.is_none(), "second receipt for {id}");
        *slot = receipt.state();
    }
    for (id, state) in &ids {
        assert_eq!(*state, Some(expected), "{id}");
    }
    // 1 + 1 + 1 + 3 SUBMITs, each with its own report, all matched.
    let counters = sim.counters();
    assert_eq!(counters.submits.load(Ordering::Relaxed), 6);
    assert_eq!(counters.submits_refused.load(Ordering::Relaxed), 0);
    assert_eq!(counters.reports_sent.load(Ordering::Relaxed), 6);
    let stats = gateway.stats().to_json();
    assert_eq!(stats["receipts_matched"], 6, "{stats}");
    assert_eq!(stats["receipts_unmatched"], 0, "{stats}");
    within("reports answered", async {
        while counters.deliver_resps.load(Ordering::Relaxed) < 6 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    drop(client);
    gateway.stop(Duration::from_secs(2)).await;
    let _ = sim.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cmpp3_messages_arrive_and_delivrd_receipts_return_in_the_account_id_style() {
    receipts_come_back(Version::V3, Vec::new(), MessageState::Delivered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cmpp2_undeliv_reports_return_as_undeliv_receipts() {
    receipts_come_back(
        Version::V2,
        vec![(MessageState::Undeliverable, 1)],
        MessageState::Undeliverable,
    )
    .await;
}

async fn smpp_sim() -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_a_refused_bind_and_traffic_goes_to_the_backup() {
    let sim = cmpp_sim(Version::V3, Vec::new()).await;
    let backup = smpp_sim().await;
    let mut primary = cmpp_carrier("cmpp", Version::V3, &sim);
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
    // One refused login per slot, then the long back-off: no loop.
    assert_eq!(p["bind_rejections"], 2, "{p}");
    assert_eq!(p["bind_attempts"], 2, "{p}");
    assert_eq!(sim.counters().logins_refused.load(Ordering::Relaxed), 2);
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), 0);
    carriers.drain(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_control_is_throttling_then_failover_to_the_smpp_backup() {
    let sim = CmppSim::start(CmppSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        version: Version::V3,
        accounts: vec![(Bytes::from_static(b"900001"), Bytes::from_static(b"888888"))],
        // Result 8 (flow control) to every SUBMIT.
        error_rate: vec![(8, 10_000)],
        ..CmppSimConfig::default()
    })
    .await
    .expect("cmpp sim");
    let backup = smpp_sim().await;
    let mut primary = cmpp_carrier("cmpp", Version::V3, &sim);
    primary.failover_after = Duration::from_secs(1);
    let (carriers, recorder) = carrier_support::start(&carrier_support::config(vec![
        primary,
        carrier_support::carrier("backup", &backup.local_addr().to_string(), 1_000, 1, 16),
    ]))
    .await;
    carrier_support::submit_many(&carriers, 0, 20, Class::Notification);
    recorder.wait_for(20, Duration::from_secs(20)).await;
    recorder.assert_all_accepted(20);
    for (_, outcome) in recorder.all() {
        assert_eq!(&*outcome.carrier, "backup", "{outcome:?}");
        assert_eq!(outcome.failovers, 1, "{outcome:?}");
        assert!(matches!(outcome.result, OutcomeResult::Accepted { .. }));
    }
    let stats = carriers.stats();
    let p = &stats["carriers"][0];
    assert_eq!(p["binds_up"], 1, "{p}");
    // Throttled, never failed: Result 8 is not an attempt.
    assert!(p["throttled"].as_u64().unwrap() >= 20, "{p}");
    assert_eq!(p["failed"], 0, "{p}");
    assert!(sim.counters().errors_injected.load(Ordering::Relaxed) >= 20);
    carriers.drain(Duration::from_secs(2)).await;
}

/// An ISMG the test scripts: logs the gateway in (the sans-IO `Ismg` checks the
/// authenticator and signs its answer), then sends `delivers` and returns each
/// DELIVER_RESP's (Msg_Id, Result) in order.
async fn scripted_ismg(
    listener: tokio::net::TcpListener,
    delivers: Vec<smppgate_protocol::cmpp::Deliver>,
) -> Vec<(u64, u32)> {
    use smppgate_protocol::cmpp::ismg::{Action, Ismg, IsmgConfig};
    use smppgate_protocol::cmpp::{ActiveTestResp, Body, FrameDecoder, Pdu, encode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (mut stream, _) = listener.accept().await.expect("accept");
    let mut ismg = Ismg::new(IsmgConfig {
        version: Version::V3,
        accounts: vec![(Bytes::from_static(b"900001"), Bytes::from_static(b"888888"))],
        gateway_id: 7,
        window: 16,
        response_timeout_ms: 60_000,
        max_tries: 1,
    });
    let mut decoder = FrameDecoder::new(Version::V3);
    let mut input = bytes::BytesMut::new();
    let mut answers = Vec::new();
    let mut sent = false;
    while answers.len() < delivers.len() {
        let Some(pdu) = decoder.decode(&mut input).expect("framing") else {
            assert!(
                stream.read_buf(&mut input).await.expect("read") > 0,
                "closed"
            );
            continue;
        };
        let pdu = pdu.expect("decodes");
        let mut out = bytes::BytesMut::new();
        match pdu.body {
            Body::Connect(_) => {
                let mut actions = Vec::new();
                ismg.handle(pdu, &smppgate::sim::utc_now(), 0, &mut actions);
                for action in actions {
                    if let Action::Send(pdu) = action {
                        encode(&pdu, Version::V3, &mut out).unwrap();
                    }
                }
            }
            Body::ActiveTest => encode(
                &Pdu {
                    sequence_id: pdu.sequence_id,
                    body: Body::ActiveTestResp(ActiveTestResp::default()),
                },
                Version::V3,
                &mut out,
            )
            .unwrap(),
            Body::DeliverResp(resp) => answers.push((resp.msg_id, resp.result)),
            other => panic!("unexpected {other:?}"),
        }
        if !sent && ismg.login().is_some() {
            sent = true;
            for (n, deliver) in delivers.iter().enumerate() {
                let pdu = Pdu {
                    sequence_id: 100 + u32::try_from(n).unwrap(),
                    body: Body::Deliver(deliver.clone()),
                };
                encode(&pdu, Version::V3, &mut out).unwrap();
            }
        }
        stream.write_all(&out).await.expect("write");
    }
    answers
}

fn mo(msg_id: u64, tp_udhi: u8, msg_fmt: u8, content: Vec<u8>) -> smppgate_protocol::cmpp::Deliver {
    smppgate_protocol::cmpp::Deliver {
        msg_id,
        // The demo account's number.
        dest_id: Bytes::from_static(b"10690000"),
        service_id: Bytes::from_static(b"MI0001"),
        tp_pid: 0,
        tp_udhi,
        msg_fmt,
        src_terminal_id: Bytes::from_static(b"8613900001111"),
        src_terminal_type: 0,
        registered_delivery: 0,
        msg_content: Bytes::from(content),
        link_id: Bytes::new(),
        reserve: Bytes::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cmpp_mo_is_reassembled_for_the_account_and_a_gbk_opt_out_counts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut carrier = carrier_support::carrier(
        "cmpp",
        &listener.local_addr().unwrap().to_string(),
        1_000,
        1,
        16,
    );
    carrier.protocol = CarrierProtocol::Cmpp3;
    carrier.system_id = SP_ID.to_owned();
    carrier.password = SECRET.to_owned();
    // A long MO in two UCS-2 parts (TP_udhi, UDH 05 00 03), then 退订 in GBK.
    let text = "您好，这是一条很长的中文上行短信，用来测试两段重组是否正确。".repeat(3);
    let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let chunks: Vec<&[u8]> = units.chunks(134).collect();
    assert_eq!(chunks.len(), 2);
    let mut delivers = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut content = vec![5, 0, 3, 0x42, 2, u8::try_from(i + 1).unwrap()];
        content.extend_from_slice(chunk);
        delivers.push(mo(1000 + i as u64, 1, 8, content));
    }
    delivers.push(mo(2000, 0, 15, vec![0xCD, 0xCB, 0xB6, 0xA9]));
    let ismg = tokio::spawn(scripted_ismg(listener, delivers));
    let gateway = Gateway::start(gateway_config(carrier))
        .await
        .expect("gateway");
    let (_client, mut inbound) = upstream(&gateway).await;

    let request = within("MO upstream", inbound.recv()).await.unwrap();
    let smppgate_protocol::pdu::Body::DeliverSm(sm) = &request.pdu.body else {
        panic!("not deliver_sm")
    };
    assert_eq!(sm.esm_class.0 & 0x3C, 0, "an MO, not a receipt");
    let payload = sm.payload();
    let units: Vec<u16> = payload
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&units).unwrap(), text);
    let request = within("opt-out upstream", inbound.recv()).await.unwrap();
    let smppgate_protocol::pdu::Body::DeliverSm(sm) = &request.pdu.body else {
        panic!("not deliver_sm")
    };
    assert_eq!(
        &sm.payload()[..],
        &[0x90, 0x00, 0x8B, 0xA2],
        "退订 as UCS-2"
    );
    // Every DELIVER answered Result 0 with its own Msg_Id, after the gateway kept it.
    let mut answers = within("DELIVER_RESPs", ismg).await.unwrap();
    answers.sort_unstable();
    assert_eq!(answers, [(1000, 0), (1001, 0), (2000, 0)]);
    assert_eq!(gateway.stats().to_json()["mo_opt_out"], 1);
    gateway.stop(Duration::from_secs(2)).await;
}

/// What the scripted SMGW saw.
#[derive(Debug, Default)]
struct SmgwLog {
    submits: Vec<smppgate_protocol::smgp::Submit>,
    deliver_resps: Vec<(smppgate_protocol::smgp::MsgId, u32)>,
}

/// A China Telecom SMGW the test scripts: checks the Login's authenticator and signs its
/// answer, gives each Submit a MsgID (…00, …01, …) and sends its status report
/// (`stat`) at once; returns when `expected` reports are answered.
async fn scripted_smgw(
    listener: tokio::net::TcpListener,
    expected: usize,
    stat: &'static [u8],
) -> SmgwLog {
    use smppgate_protocol::smgp::{
        Body, Deliver, FrameDecoder, LoginResp, MsgId, MsgIdStatus, Pdu, Report,
        authenticator_client, authenticator_server, encode,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (mut stream, _) = listener.accept().await.expect("accept");
    let mut decoder = FrameDecoder::default();
    let mut input = bytes::BytesMut::new();
    let mut log = SmgwLog::default();
    let mut sequence = 1000;
    while log.deliver_resps.len() < expected {
        let Some(pdu) = decoder.decode(&mut input).expect("framing") else {
            assert!(
                stream.read_buf(&mut input).await.expect("read") > 0,
                "closed"
            );
            continue;
        };
        let pdu = pdu.expect("decodes");
        let mut out = bytes::BytesMut::new();
        let mut send = |body| {
            encode(
                &Pdu {
                    sequence_id: pdu.sequence_id,
                    body,
                },
                &mut out,
            )
            .unwrap();
        };
        match &pdu.body {
            Body::Login(login) => {
                assert_eq!(&login.client_id[..], b"10000001");
                assert_eq!(
                    login.authenticator_client,
                    authenticator_client(b"10000001", SECRET.as_bytes(), login.timestamp),
                    "the Login proves the secret"
                );
                send(Body::LoginResp(LoginResp {
                    status: 0,
                    authenticator_server: authenticator_server(
                        0,
                        &login.authenticator_client,
                        SECRET.as_bytes(),
                    ),
                    server_version: 0x30,
                }));
            }
            Body::Submit(submit) => {
                let n = u8::try_from(log.submits.len()).unwrap();
                let id = MsgId([0x59, 0x01, 0x23, 0x12, 0x06, 0x07, 0x19, 0, 0, n]);
                send(Body::SubmitResp(MsgIdStatus {
                    msg_id: id,
                    status: 0,
                }));
                let report = Report {
                    id,
                    sub: Bytes::from_static(b"001"),
                    dlvrd: Bytes::from_static(b"001"),
                    submit_date: Bytes::from_static(b"2612060719"),
                    done_date: Bytes::from_static(b"2612060720"),
                    stat: Bytes::from_static(stat),
                    err: Bytes::from_static(b"000"),
                    text: Bytes::new(),
                };
                sequence += 1;
                encode(
                    &Pdu {
                        sequence_id: sequence,
                        body: Body::Deliver(Deliver {
                            msg_id: MsgId([0x59, 0, 0, 0, 0, 0, 0, 0, 1, n]),
                            is_report: 1,
                            msg_format: 0,
                            recv_time: Bytes::from_static(b"20261206072000"),
                            src_term_id: submit.dest_term_ids[0].clone(),
                            dest_term_id: submit.src_term_id.clone(),
                            msg_content: report.to_bytes(),
                            reserve: Bytes::new(),
                            tlvs: Vec::new(),
                        }),
                    },
                    &mut out,
                )
                .unwrap();
                log.submits.push(submit.clone());
            }
            Body::DeliverResp(resp) => log.deliver_resps.push((resp.msg_id, resp.status)),
            Body::ActiveTest => send(Body::ActiveTestResp),
            other => panic!("unexpected {other:?}"),
        }
        stream.write_all(&out).await.expect("write");
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smgp_parts_go_with_pk_tlvs_and_reports_return_as_receipts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut carrier = carrier_support::carrier(
        "ctcc",
        &listener.local_addr().unwrap().to_string(),
        1_000,
        1,
        16,
    );
    carrier.protocol = CarrierProtocol::Smgp;
    carrier.system_id = "10000001".to_owned();
    carrier.password = SECRET.to_owned();
    carrier.src_id = "1065900".to_owned();
    // The carrier's own code (not an SMPP state): carried through to the upstream.
    let smgw = tokio::spawn(scripted_smgw(listener, 3, b"MK:0001"));
    let gateway = Gateway::start(gateway_config(carrier))
        .await
        .expect("gateway");
    let (client, mut inbound) = upstream(&gateway).await;
    // 100 Chinese characters: 2 UCS-2 parts; and one short message.
    let long: String = "中国电信短信网关测试。".repeat(10);
    let mut ids = Vec::new();
    for text in [long.as_str(), "hello"] {
        let response = within("submit", client.submit(submit(text)))
            .await
            .expect("submit");
        assert!(response.is_ok(), "{}", response.status());
        ids.push(String::from_utf8(response.message_id().unwrap().to_vec()).unwrap());
    }
    let mut states = HashMap::new();
    for _ in 0..2 {
        let request = within("receipt upstream", inbound.recv())
            .await
            .expect("open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        assert_eq!(receipt.text.stat.as_deref(), Some("MK:0001"), "{receipt:?}");
        assert_eq!(receipt.text.err_code(), Some(1), "{receipt:?}");
        states.insert(receipt.id().unwrap().to_owned(), receipt.state());
    }
    for id in &ids {
        // message_state: the SMPP state of a carrier code.
        assert_eq!(states[id], Some(MessageState::Undeliverable), "{id}");
    }
    let log = within("SMGW done", smgw).await.unwrap();
    assert_eq!(log.submits.len(), 3);
    // The long message's two parts carry PkTotal 2 and PkNumber 1, 2 and TP_udhi.
    let pk = |submit: &smppgate_protocol::smgp::Submit, tag: u16| {
        submit
            .tlvs
            .iter()
            .find(|t| t.tag == tag)
            .map(|t| t.value[0])
    };
    use smppgate_protocol::smgp::tlv::{PK_NUMBER, PK_TOTAL, TP_UDHI};
    let mut parts: Vec<(Option<u8>, Option<u8>, Option<u8>)> = log
        .submits
        .iter()
        .map(|s| (pk(s, PK_TOTAL), pk(s, PK_NUMBER), pk(s, TP_UDHI)))
        .collect();
    parts.sort_unstable();
    assert_eq!(
        parts,
        [
            (None, None, None),
            (Some(2), Some(1), Some(1)),
            (Some(2), Some(2), Some(1)),
        ]
    );
    for submit in &log.submits {
        assert_eq!(&submit.src_term_id[..], b"1065900");
        assert_eq!(submit.need_report, 1);
    }
    // Every report answered Status 0 with its own MsgID.
    assert!(log.deliver_resps.iter().all(|(_, status)| *status == 0));
    assert_eq!(gateway.stats().to_json()["receipts_matched"], 3);
    drop(client);
    gateway.stop(Duration::from_secs(2)).await;
}

/// Real processes: PyPI `smpplib` as the upstream application, through `smppgate serve
/// --config` to `smppgate sim --protocol cmpp3`: its long GSM and UCS-2 messages (parts
/// it split itself, with UDH) are accepted, go as CMPP SUBMITs, and every part's receipt
/// comes back with the id the client was given and stat DELIVRD.
#[test]
fn smpplib_through_serve_to_the_cmpp3_simulator_gets_every_receipt() {
    let sim = support::Sim::start(&[
        "--protocol",
        "cmpp3",
        "--account",
        "900001:888888",
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
address = "{sim}"
system_id = "900001"
password = "888888"
src_id = "1555"
binds = 2
window = 16
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["cmcc"]
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
}
