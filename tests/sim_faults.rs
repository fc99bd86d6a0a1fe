//! The simulator's faults, one test each: in-process `Sim` with the library `EsmeClient`
//! (or a raw TCP client where the byte order on the wire matters), and `smppgate sim`
//! processes for scenario files, stats lines and the metrics endpoint.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use smppgate::esme::{ConnectError, EsmeClient, EsmeConfig, Inbound};
use smppgate::sim::faults::{self, ReceiptBind, ReceiptFormat, ReceiptIdStyle};
use smppgate::sim::{Faults, IdFormat, Sim, SimConfig};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, Body, DeliverSm, Pdu, QuerySm, SubmitSm};
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::types::{Address, RegisteredDelivery};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sim_with(receipt_delay_ms: u64, faults: Faults) -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        receipt_delay: Duration::from_millis(receipt_delay_ms),
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

async fn try_bind(
    sim: &Sim,
    system_id: &str,
    password: &str,
) -> Result<(EsmeClient, Inbound), ConnectError> {
    let mut config = EsmeConfig::new(system_id, password);
    // Long enough for a loaded 2-core CI machine; the silence tests set their own.
    config.session.response_timeout_ms = 10_000;
    within(
        "bind",
        EsmeClient::connect(&sim.local_addr().to_string(), config),
    )
    .await
}

async fn bind(sim: &Sim) -> (EsmeClient, Inbound) {
    try_bind(sim, "carrier-test", "x").await.expect("bind")
}

fn refused(result: Result<(EsmeClient, Inbound), ConnectError>) -> CommandStatus {
    match result {
        Err(ConnectError::BindRefused { status, .. }) => status,
        Err(other) => panic!("not refused: {other}"),
        Ok(_) => panic!("bind accepted"),
    }
}

fn message(receipt: bool) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("15550001"),
        destination_addr: Address::international("15550002"),
        registered_delivery: RegisteredDelivery(u8::from(receipt)),
        short_message: Bytes::from_static(b"fault test"),
        ..SubmitSm::default()
    }
}

fn deliver_sm(pdu: &Pdu) -> &DeliverSm {
    match &pdu.body {
        Body::DeliverSm(d) => d,
        other => panic!("not a deliver_sm: {other:?}"),
    }
}

/// Submits `n` messages, 64 at a time; returns each response's status.
async fn blast(client: &EsmeClient, n: usize) -> Vec<CommandStatus> {
    futures::stream::iter(0..n)
        .map(|_| async {
            client
                .submit(message(false))
                .await
                .expect("response")
                .status()
        })
        .buffer_unordered(64)
        .collect()
        .await
}

#[tokio::test]
async fn error_rate_injects_the_share_asked_for() {
    let sim = sim_with(
        0,
        Faults {
            error_rate: faults::parse_error_rate("ESME_RTHROTTLED=10").unwrap(),
            ..Faults::default()
        },
    )
    .await;
    let (client, _inbound) = bind(&sim).await;
    let statuses = within("10 000 submits", blast(&client, 10_000)).await;
    let throttled = statuses
        .iter()
        .filter(|s| **s == CommandStatus::ESME_RTHROTTLED)
        .count();
    let ok = statuses.iter().filter(|s| s.is_ok()).count();
    assert_eq!(throttled + ok, 10_000);
    // 10 % ± 1.5 % (five standard deviations).
    assert!((850..=1150).contains(&throttled), "{throttled} of 10 000");
    assert_eq!(
        sim.counters().errors_injected.load(Ordering::Relaxed),
        throttled as u64
    );
}

#[tokio::test]
async fn tps_limits_accepted_submits_across_binds() {
    let sim = sim_with(
        0,
        Faults {
            tps: Some(200),
            throttle_status: CommandStatus(0x14),
            ..Faults::default()
        },
    )
    .await;
    let (a, _ia) = bind(&sim).await;
    let (b, _ib) = bind(&sim).await;
    let start = std::time::Instant::now();
    let mut ok = 0usize;
    let mut throttled = 0usize;
    while start.elapsed() < Duration::from_secs(3) {
        let (sa, sb) = tokio::join!(blast(&a, 64), blast(&b, 64));
        for status in sa.into_iter().chain(sb) {
            if status.is_ok() {
                ok += 1;
            } else {
                assert_eq!(status, CommandStatus(0x14));
                throttled += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = ok as f64 / secs;
    assert!(
        (170.0..=235.0).contains(&rate),
        "{ok} accepted in {secs:.2} s"
    );
    assert!(throttled > ok, "{throttled} throttled, {ok} accepted");
    assert_eq!(
        sim.counters().throttled.load(Ordering::Relaxed),
        throttled as u64
    );
}

/// Reads one PDU from a raw stream.
async fn read_pdu(stream: &mut tokio::net::TcpStream) -> Pdu {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.expect("length");
    let len = u32::from_be_bytes(len) as usize;
    let mut frame = BytesMut::zeroed(len);
    frame[..4].copy_from_slice(&(len as u32).to_be_bytes());
    stream.read_exact(&mut frame[4..]).await.expect("frame");
    smppgate_protocol::decode(frame.freeze()).expect("decode")
}

async fn write_pdu(stream: &mut tokio::net::TcpStream, pdu: &Pdu) {
    let bytes = smppgate_protocol::encode_to_bytes(pdu).unwrap();
    stream.write_all(&bytes).await.unwrap();
}

#[tokio::test]
async fn receipt_before_resp_puts_the_deliver_sm_first_on_the_wire() {
    let sim = sim_with(
        5_000,
        Faults {
            receipt_before_resp: true,
            ..Faults::default()
        },
    )
    .await;
    let mut raw = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    let bind = Bind {
        system_id: Bytes::from_static(b"raw"),
        password: Bytes::from_static(b"x"),
        interface_version: 0x34,
        ..Bind::default()
    };
    write_pdu(&mut raw, &Pdu::new(1, Body::BindTransceiver(bind))).await;
    let bind_resp = within("bind_resp", read_pdu(&mut raw)).await;
    assert!(bind_resp.command_status.is_ok());
    for seq in 2..5 {
        write_pdu(&mut raw, &Pdu::new(seq, Body::SubmitSm(message(true)))).await;
        let first = within("first PDU", read_pdu(&mut raw)).await;
        let receipt = deliver_sm(&first);
        assert_eq!(receipt.esm_class.0, 0x04);
        write_pdu(
            &mut raw,
            &Pdu::response_to(
                &first,
                CommandStatus::ESME_ROK,
                Body::DeliverSmResp(Default::default()),
            ),
        )
        .await;
        let second = within("second PDU", read_pdu(&mut raw)).await;
        assert_eq!(second.sequence_number, seq);
        let Body::SubmitSmResp(resp) = &second.body else {
            panic!("expected submit_sm_resp, got {second:?}");
        };
        let id = receipt.tlvs.receipted_message_id().unwrap();
        assert_eq!(id, resp.message_id);
    }
}

#[tokio::test]
async fn receipt_id_style_writes_text_and_tlv_in_different_bases() {
    let sim = sim_with(
        0,
        Faults {
            receipt_id_style: ReceiptIdStyle::DecInTextHexInTlv,
            id_len: 20,
            ..Faults::default()
        },
    )
    .await;
    let (client, mut inbound) = bind(&sim).await;
    let resp = client.submit(message(true)).await.unwrap();
    let id = std::str::from_utf8(resp.message_id().unwrap())
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 20, "zero-padded: {id}");
    let number = u64::from_str_radix(&id, 16).unwrap();
    let request = within("receipt", inbound.recv()).await.unwrap();
    let deliver = deliver_sm(&request.pdu);
    let text = DeliveryReceipt::parse(&deliver.short_message, &Default::default());
    let text_id = text.text.id.clone().unwrap();
    assert!(text_id.bytes().all(|b| b.is_ascii_digit()), "{text_id}");
    assert_eq!(text_id.parse::<u64>().unwrap(), number);
    let tlv_id = deliver.tlvs.receipted_message_id().unwrap();
    assert_eq!(
        u64::from_str_radix(std::str::from_utf8(&tlv_id).unwrap(), 16).unwrap(),
        number
    );
}

#[tokio::test]
async fn receipt_id_style_hex_in_text_dec_in_tlv() {
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        receipt_delay: Duration::ZERO,
        id_format: IdFormat::Dec,
        faults: Faults {
            receipt_id_style: ReceiptIdStyle::HexInTextDecInTlv,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (client, mut inbound) = bind(&sim).await;
    let resp = client.submit(message(true)).await.unwrap();
    let number: u64 = std::str::from_utf8(resp.message_id().unwrap())
        .unwrap()
        .parse()
        .unwrap();
    let request = within("receipt", inbound.recv()).await.unwrap();
    let deliver = deliver_sm(&request.pdu);
    let text = DeliveryReceipt::parse(&deliver.short_message, &Default::default());
    assert_eq!(text.text.id.unwrap(), format!("{number:x}"));
    let tlv_id = deliver.tlvs.receipted_message_id().unwrap();
    assert_eq!(&tlv_id[..], number.to_string().as_bytes());
}

#[tokio::test]
async fn receipt_bind_same_never_uses_another_bind() {
    let sim = sim_with(
        0,
        Faults {
            receipt_bind: ReceiptBind::Same,
            ..Faults::default()
        },
    )
    .await;
    let mut config = EsmeConfig::new("carrier-test", "x");
    config.bind = smppgate_protocol::session::BindKind::Transmitter;
    let (tx, _tx_inbound) = within(
        "bind",
        EsmeClient::connect(&sim.local_addr().to_string(), config),
    )
    .await
    .unwrap();
    let (_rx, mut rx_inbound) = bind(&sim).await;
    assert!(tx.submit(message(true)).await.unwrap().is_ok());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rx_inbound.try_recv().is_none(),
        "receipt went to another bind"
    );
    assert_eq!(sim.counters().receipts_dropped.load(Ordering::Relaxed), 1);
}

/// Submits `n` messages asking for receipts, 64 at a time; returns their message ids.
async fn submit_with_receipts(client: &EsmeClient, n: usize) -> Vec<Bytes> {
    futures::stream::iter(0..n)
        .map(|_| async {
            let response = client.submit(message(true)).await.expect("response");
            assert!(response.is_ok(), "{:?}", response.status());
            response.message_id().expect("message_id").clone()
        })
        .buffer_unordered(64)
        .collect()
        .await
}

#[tokio::test]
async fn no_receipt_is_lost_when_the_receiver_bind_drops_and_comes_back() {
    let sim = sim_with(20, Faults::default()).await;
    // The first bind takes its receipts but never answers them, then drops: every one of
    // them is on the wire, waiting for room in its window, or still waiting for its delay.
    let mut silent = EsmeConfig::new("carrier-test", "x");
    silent.auto_respond = false;
    let (first, mut first_inbound) = within(
        "bind",
        EsmeClient::connect(&sim.local_addr().to_string(), silent),
    )
    .await
    .unwrap();
    let mut ids = submit_with_receipts(&first, 1_000).await;
    let mut held = Vec::new();
    while held.len() < 64 {
        held.push(
            within("first receipts", first_inbound.recv())
                .await
                .unwrap(),
        );
    }
    first.link().close().await;
    drop(held);
    // Nobody bound for a while: the receipts wait.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (second, mut second_inbound) = bind(&sim).await;
    // The second bind reads its receipts while it submits, as a client must: the first
    // bind's receipts come to it at once, and a client that read nothing until its own
    // submits were answered would stop reading its socket once its inbound queue is
    // full, its submit_sm_resp behind them (a loaded machine got there: a timeout).
    let receipts = tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        while seen.len() < 2_000 {
            let request = second_inbound.recv().await.expect("inbound open");
            let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
            seen.insert(Bytes::copy_from_slice(
                receipt.id().unwrap_or_default().as_bytes(),
            ));
        }
        seen
    });
    ids.extend(submit_with_receipts(&second, 1_000).await);
    let ids: std::collections::HashSet<Bytes> = ids.into_iter().collect();
    assert_eq!(ids.len(), 2_000);
    let seen = within("every receipt", receipts)
        .await
        .expect("receipt reader");
    assert_eq!(seen, ids, "one receipt for each message, none other");
    let counters = sim.counters();
    // The sim counts a receipt once its deliver_sm_resp is back, just after the client
    // has read it.
    within("receipts acked", async {
        while counters.receipts_acked.load(Ordering::Relaxed) < 2_000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(counters.receipts_dropped.load(Ordering::Relaxed), 0);
    // At least the 64 the first bind held unanswered went again (how many more were still
    // waiting for their delay when it dropped depends on the machine's load).
    assert!(counters.receipts_retried.load(Ordering::Relaxed) >= 64);
}

#[tokio::test]
async fn receipt_format_tlv_and_weighted_states() {
    let sim = sim_with(
        0,
        Faults {
            receipt_format: ReceiptFormat::Tlv,
            receipt_states: faults::parse_states("REJECTD=100").unwrap(),
            ..Faults::default()
        },
    )
    .await;
    let (client, mut inbound) = bind(&sim).await;
    assert!(client.submit(message(true)).await.unwrap().is_ok());
    let request = within("receipt", inbound.recv()).await.unwrap();
    let deliver = deliver_sm(&request.pdu);
    assert!(deliver.short_message.is_empty());
    assert_eq!(
        deliver.tlvs.message_state(),
        Some(MessageState::Rejected.as_u8())
    );
}

#[tokio::test]
async fn receipt_delay_range_is_honoured() {
    let faults = Faults {
        receipt_delay_max: Some(Duration::from_millis(400)),
        ..Faults::default()
    };
    let sim = sim_with(200, faults).await;
    let (client, mut inbound) = bind(&sim).await;
    let start = std::time::Instant::now();
    for _ in 0..5 {
        assert!(client.submit(message(true)).await.unwrap().is_ok());
    }
    for _ in 0..5 {
        within("receipt", inbound.recv()).await.unwrap();
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
}

#[tokio::test]
async fn receipt_bind_other_goes_to_another_bind_of_the_system_id() {
    let sim = sim_with(
        0,
        Faults {
            receipt_bind: ReceiptBind::Other,
            ..Faults::default()
        },
    )
    .await;
    let (a, mut inbound_a) = bind(&sim).await;
    let (_b, mut inbound_b) = bind(&sim).await;
    for _ in 0..3 {
        assert!(a.submit(message(true)).await.unwrap().is_ok());
    }
    for _ in 0..3 {
        let request = within("receipt on b", inbound_b.recv()).await.unwrap();
        assert_eq!(deliver_sm(&request.pdu).esm_class.0, 0x04);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        inbound_a.try_recv().is_none(),
        "a receipt came back on the submitting bind"
    );
}

#[tokio::test]
async fn resp_delay_delays_responses() {
    let sim = sim_with(
        0,
        Faults {
            resp_delay: faults::parse_delay("200-300").unwrap(),
            ..Faults::default()
        },
    )
    .await;
    let (client, _inbound) = bind(&sim).await;
    let start = std::time::Instant::now();
    assert!(client.submit(message(false)).await.unwrap().is_ok());
    let elapsed = start.elapsed();
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(800)).contains(&elapsed),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn drop_after_closes_the_connection_at_the_nth_request() {
    let sim = sim_with(
        0,
        Faults {
            drop_after: Some(5),
            ..Faults::default()
        },
    )
    .await;
    for _ in 0..2 {
        // Every connection: four answered, the fifth closes it.
        let (client, _inbound) = bind(&sim).await;
        for _ in 0..4 {
            assert!(client.submit(message(false)).await.unwrap().is_ok());
        }
        assert!(client.submit(message(false)).await.is_err());
        within("closed", client.link().closed()).await;
    }
    // Pipelined: requests behind the fifth are never answered, and it drops once.
    let (client, _inbound) = bind(&sim).await;
    let results: Vec<_> = futures::stream::iter(0..20)
        .map(|_| client.submit(message(false)))
        .buffered(20)
        .collect()
        .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert_eq!(sim.counters().drops.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn silent_after_stops_answering_but_keeps_the_socket() {
    let sim = sim_with(
        0,
        Faults {
            silent_after: Some(3),
            ..Faults::default()
        },
    )
    .await;
    let mut config = EsmeConfig::new("carrier-test", "x");
    config.session.response_timeout_ms = 1_000;
    let (client, _inbound) = within(
        "bind",
        EsmeClient::connect(&sim.local_addr().to_string(), config),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        assert!(client.submit(message(false)).await.unwrap().is_ok());
    }
    let error = client.submit(message(false)).await.unwrap_err();
    assert!(
        matches!(error, smppgate::conn::RequestError::Timeout { .. }),
        "{error:?}"
    );
    assert!(!client.link().is_closed());
    assert_eq!(sim.counters().silent.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn silent_after_leaves_enquire_link_and_unbind_unanswered_too() {
    let sim = sim_with(
        0,
        Faults {
            silent_after: Some(2),
            ..Faults::default()
        },
    )
    .await;
    let mut raw = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    let bind = Bind {
        system_id: Bytes::from_static(b"raw"),
        password: Bytes::from_static(b"x"),
        interface_version: 0x34,
        ..Bind::default()
    };
    write_pdu(&mut raw, &Pdu::new(1, Body::BindTransceiver(bind))).await;
    assert!(
        within("bind_resp", read_pdu(&mut raw))
            .await
            .command_status
            .is_ok()
    );
    // Before the silence: enquire_link and two submits answered.
    write_pdu(&mut raw, &Pdu::new(2, Body::EnquireLink)).await;
    assert_eq!(
        within("enquire_link_resp", read_pdu(&mut raw)).await.body,
        Body::EnquireLinkResp
    );
    for seq in 3..5 {
        write_pdu(&mut raw, &Pdu::new(seq, Body::SubmitSm(message(false)))).await;
        assert_eq!(
            within("submit_sm_resp", read_pdu(&mut raw))
                .await
                .sequence_number,
            seq
        );
    }
    // The third submit starts the silence; then neither enquire_link nor unbind is answered.
    write_pdu(&mut raw, &Pdu::new(5, Body::SubmitSm(message(false)))).await;
    write_pdu(&mut raw, &Pdu::new(6, Body::EnquireLink)).await;
    write_pdu(&mut raw, &Pdu::new(7, Body::Unbind)).await;
    let mut byte = [0_u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), raw.read(&mut byte)).await;
    assert!(read.is_err(), "the silent sim wrote or closed: {read:?}");
    // Still open on both sides.
    write_pdu(&mut raw, &Pdu::new(8, Body::EnquireLink)).await;
    let counters = sim.counters();
    assert_eq!(counters.sessions_active.load(Ordering::Relaxed), 1);
    assert_eq!(counters.connections_closed.load(Ordering::Relaxed), 0);
    assert_eq!(counters.silent.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn disconnect_rate_drops_connections() {
    let sim = sim_with(
        0,
        Faults {
            // 120 per minute on average: about every half second.
            disconnect_rate: Some(faults::parse_percent("12000", 1e6).unwrap()),
            ..Faults::default()
        },
    )
    .await;
    let (a, _ia) = bind(&sim).await;
    let (b, _ib) = bind(&sim).await;
    within("a dropped", a.link().closed()).await;
    within("b dropped", b.link().closed()).await;
    assert_eq!(sim.counters().disconnects.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn max_binds_refuses_one_more() {
    for (status, expected) in [
        (None, CommandStatus::ESME_RALYBND),
        (Some(CommandStatus(0x0D)), CommandStatus::ESME_RBINDFAIL),
    ] {
        let mut faults = Faults {
            max_binds: Some(1),
            ..Faults::default()
        };
        if let Some(status) = status {
            faults.max_binds_status = status;
        }
        let sim = sim_with(0, faults).await;
        // Two binds at once: exactly one gets the place.
        let (x, y) = tokio::join!(try_bind(&sim, "racer", "x"), try_bind(&sim, "racer", "x"));
        assert_eq!(usize::from(x.is_ok()) + usize::from(y.is_ok()), 1);
        let (first, _inbound) = bind(&sim).await;
        assert_eq!(refused(try_bind(&sim, "carrier-test", "x").await), expected);
        // Another system_id has its own allowance; after an unbind there is room again.
        let _other = try_bind(&sim, "someone-else", "x").await.expect("other");
        first.unbind().await;
        let _again = try_bind(&sim, "carrier-test", "x").await.expect("again");
    }
}

#[tokio::test]
async fn reject_bind_after_fails_later_binds() {
    let sim = sim_with(
        0,
        Faults {
            reject_bind_after: Some(2),
            ..Faults::default()
        },
    )
    .await;
    let _a = bind(&sim).await;
    let _b = bind(&sim).await;
    assert_eq!(
        refused(try_bind(&sim, "carrier-test", "x").await),
        CommandStatus::ESME_RBINDFAIL
    );
    assert_eq!(sim.counters().binds_rejected.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn accounts_check_system_id_and_password() {
    let sim = sim_with(
        0,
        Faults {
            accounts: vec![faults::parse_account("alice:secret").unwrap()],
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(
        refused(try_bind(&sim, "alice", "wrong").await),
        CommandStatus::ESME_RINVPASWD
    );
    assert_eq!(
        refused(try_bind(&sim, "mallory", "secret").await),
        CommandStatus::ESME_RINVSYSID
    );
    let _ok = try_bind(&sim, "alice", "secret")
        .await
        .expect("right password");
}

#[tokio::test]
async fn uuid_ids_answer_query_sm() {
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        id_format: IdFormat::Uuid,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (client, _inbound) = bind(&sim).await;
    let id = client
        .submit(message(false))
        .await
        .unwrap()
        .message_id()
        .unwrap()
        .clone();
    let id_text = std::str::from_utf8(&id).unwrap();
    let groups: Vec<usize> = id_text.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{id_text}");
    let answer = client
        .query(QuerySm {
            message_id: id,
            source_addr: Address::international("15550001"),
        })
        .await
        .unwrap();
    assert!(answer.is_ok(), "{answer:?}");
}

#[tokio::test]
async fn mo_rate_delivers_mobile_originated_messages() {
    let sim = sim_with(
        0,
        Faults {
            mo_rate: Some(40),
            ..Faults::default()
        },
    )
    .await;
    let (_client, mut inbound) = bind(&sim).await;
    let (mut gsm, mut ucs2_segments, mut opt_outs) = (0, 0, 0);
    for _ in 0..40 {
        let request = within("MO", inbound.recv()).await.unwrap();
        let deliver = deliver_sm(&request.pdu);
        assert_eq!(deliver.esm_class.0 & 0x3C, 0, "not a receipt");
        match deliver.data_coding.0 {
            0 => gsm += 1,
            8 if deliver.esm_class.udhi() => ucs2_segments += 1,
            _ => {}
        }
        if matches!(&deliver.short_message[..], b"TD" | b"STOP" | b"T") {
            opt_outs += 1;
        }
    }
    assert!(
        gsm > 0 && ucs2_segments >= 2 && opt_outs > 0,
        "{gsm} {ucs2_segments} {opt_outs}"
    );
    // Counted once answered: give the last responses a moment.
    within("mo_sent", async {
        while sim.counters().mo_sent.load(Ordering::Relaxed) < 40 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

mod process {
    //! `smppgate sim` as a process: scenario files, flag overrides, stats, metrics.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Child, Command, Stdio};

    use super::*;

    const BIN: &str = env!("CARGO_BIN_EXE_smppgate");

    struct Proc {
        child: Child,
        stdout: BufReader<std::process::ChildStdout>,
    }

    impl Proc {
        fn start(args: &[&str]) -> Self {
            let mut child = Command::new(BIN)
                .arg("sim")
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn sim");
            let stdout = BufReader::new(child.stdout.take().unwrap());
            Self { child, stdout }
        }

        fn line(&mut self) -> String {
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("line");
            line.trim().to_owned()
        }
    }

    impl Drop for Proc {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test]
    async fn scenario_file_with_flag_override_stats_and_metrics() {
        let dir = std::env::temp_dir().join(format!("sim-faults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scenario.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:0\"\n\
             error-rate = \"ESME_RSYSERR=100\"\n\
             id-format = \"dec\"\n\
             stats-interval = 1\n\
             metrics = \"127.0.0.1:0\"\n",
        )
        .unwrap();
        let mut sim = Proc::start(&[
            "--scenario",
            path.to_str().unwrap(),
            "--error-rate",
            "0x58=100",
        ]);
        let addr = sim.line().strip_prefix("listening on ").unwrap().to_owned();
        let metrics = sim.line().strip_prefix("metrics on ").unwrap().to_owned();

        let (client, _inbound) = within(
            "bind",
            EsmeClient::connect(&addr, EsmeConfig::new("carrier-test", "x")),
        )
        .await
        .unwrap();
        // The flag wins over the file's ESME_RSYSERR.
        let resp = client.submit(message(false)).await.unwrap();
        assert_eq!(resp.status(), CommandStatus::ESME_RTHROTTLED);

        let stats = tokio::task::spawn_blocking(move || {
            let line = sim.line();
            (sim, line)
        });
        let (_sim, line) = within("stats line", stats).await.unwrap();
        let stats: serde_json::Value = serde_json::from_str(&line).expect("JSON stats");
        assert!(stats["t"].as_f64().unwrap() > 0.5, "{line}");
        assert_eq!(stats["errors_injected"], 1, "{line}");
        assert_eq!(stats["submits"], 1);

        let body = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(&metrics).unwrap();
            // HTTP/1.1 keeps the connection open unless asked not to; the body ends at EOF.
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut body = String::new();
            stream.read_to_string(&mut body).unwrap();
            body
        })
        .await
        .unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(
            body.contains("\nsmppgate_sim_errors_injected_total 1\n"),
            "{body}"
        );
        assert!(body.contains("\nsmppgate_sim_submits_total 1\n"), "{body}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_scenario_key_is_named() {
        let dir = std::env::temp_dir().join(format!("sim-faults-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "tps = 5\nerror-ratio = \"0x58=1\"\n").unwrap();
        let output = Command::new(BIN)
            .args(["sim", "--scenario", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error-ratio"), "{stderr}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
