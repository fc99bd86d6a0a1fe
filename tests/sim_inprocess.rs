//! The simulator in-process: receipts, query_sm, submit_multi, data_sm, counters.

mod support;

use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::sim::{IdFormat, Sim, SimConfig};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, DataSm, DestAddress, QuerySm, SubmitMulti, SubmitSm};
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState, ReceiptTlvs};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::tlv::{TlvTag, Tlvs};
use smppgate_protocol::types::{Address, RegisteredDelivery};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sim(delay_ms: u64, id_format: IdFormat) -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        receipt_delay: Duration::from_millis(delay_ms),
        id_format,
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

async fn bind(sim: &Sim, kind: BindKind) -> (EsmeClient, Inbound) {
    let mut config = EsmeConfig::new("carrier-test", "x");
    config.bind = kind;
    within(
        "bind",
        EsmeClient::connect(&sim.local_addr().to_string(), config),
    )
    .await
    .expect("bind")
}

fn message(to: &str) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("15550001"),
        destination_addr: Address::international(to.to_owned()),
        registered_delivery: RegisteredDelivery(1),
        short_message: Bytes::from_static(b"Hello receipt"),
        ..SubmitSm::default()
    }
}

fn receipt_of(inbound_pdu: &smppgate_protocol::pdu::Pdu) -> (DeliveryReceipt, Address, Address) {
    let Body::DeliverSm(deliver) = &inbound_pdu.body else {
        panic!("not a deliver_sm: {inbound_pdu:?}");
    };
    assert_eq!(deliver.esm_class.0, 0x04);
    let id = deliver.tlvs.receipted_message_id();
    let receipt = DeliveryReceipt::parse(
        &deliver.short_message,
        &ReceiptTlvs {
            receipted_message_id: id.as_deref(),
            message_state: deliver.tlvs.message_state(),
            network_error_code: None,
        },
    );
    (
        receipt,
        deliver.source_addr.clone(),
        deliver.destination_addr.clone(),
    )
}

#[tokio::test]
async fn receipts_go_to_a_receiver_bind_and_query_sm_follows_the_state() {
    let sim = sim(300, IdFormat::Dec).await;
    let (tx, _tx_inbound) = bind(&sim, BindKind::Transmitter).await;
    let (_rx, mut rx_inbound) = bind(&sim, BindKind::Receiver).await;

    let response = tx.submit(message("15550002")).await.unwrap();
    assert!(response.is_ok());
    let id = response.message_id().unwrap().clone();
    assert!(id.iter().all(u8::is_ascii_digit), "decimal id {id:?}");

    // Before the delay: ENROUTE.
    let query = QuerySm {
        message_id: id.clone(),
        source_addr: Address::international("15550001"),
    };
    let answer = tx.query(query.clone()).await.unwrap();
    let Body::QuerySmResp(state) = &answer.pdu.body else {
        panic!("{answer:?}")
    };
    assert_eq!(state.message_state, MessageState::Enroute.as_u8());

    // The receipt arrives on the receiver session, source/destination swapped.
    let request = within("receipt", rx_inbound.recv()).await.unwrap();
    let (receipt, from, to) = receipt_of(&request.pdu);
    assert_eq!(receipt.id(), Some(std::str::from_utf8(&id).unwrap()));
    assert_eq!(receipt.state(), Some(MessageState::Delivered));
    assert_eq!(receipt.text.stat.as_deref(), Some("DELIVRD"));
    assert_eq!(receipt.text.err.as_deref(), Some("000"));
    assert_eq!(receipt.text.text.as_deref(), Some("Hello receipt"));
    assert_eq!(
        (from.addr.as_ref(), to.addr.as_ref()),
        (&b"15550002"[..], &b"15550001"[..])
    );

    let answer = tx.query(query).await.unwrap();
    let Body::QuerySmResp(state) = &answer.pdu.body else {
        panic!("{answer:?}")
    };
    assert_eq!(state.message_state, MessageState::Delivered.as_u8());
    assert!(!state.final_date.raw().is_empty());

    let unknown = tx
        .query(QuerySm {
            message_id: Bytes::from_static(b"12"),
            ..QuerySm::default()
        })
        .await
        .unwrap();
    assert_eq!(unknown.status(), CommandStatus::ESME_RQUERYFAIL);
    assert_eq!(
        sim.counters()
            .query_sm
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[tokio::test]
async fn submit_multi_and_data_sm_get_ids_and_receipts() {
    let sim = sim(0, IdFormat::Hex).await;
    let (trx, mut inbound) = bind(&sim, BindKind::Transceiver).await;
    let multi = SubmitMulti {
        source_addr: Address::international("15550001"),
        dest_addresses: vec![
            DestAddress::Sme(Address::international("15550002")),
            DestAddress::Sme(Address::international("15550003")),
        ],
        registered_delivery: RegisteredDelivery(1),
        short_message: Bytes::from_static(b"to two"),
        ..SubmitMulti::default()
    };
    let response = trx.submit_multi(multi).await.unwrap();
    assert!(response.is_ok());
    let multi_id = response.message_id().unwrap().clone();

    let data = DataSm {
        source_addr: Address::international("15550001"),
        destination_addr: Address::international("15550004"),
        registered_delivery: RegisteredDelivery(1),
        tlvs: Tlvs::builder()
            .push_raw(TlvTag::MESSAGE_PAYLOAD, b"payload text")
            .build()
            .unwrap(),
        ..DataSm::default()
    };
    let response = trx.data_sm(data).await.unwrap();
    assert!(response.is_ok());
    let data_id = response.message_id().unwrap().clone();
    assert_ne!(multi_id, data_id);

    let mut ids = Vec::new();
    for _ in 0..3 {
        let request = within("receipt", inbound.recv()).await.unwrap();
        ids.push(receipt_of(&request.pdu).0.id().unwrap().to_owned());
    }
    ids.sort();
    let mut expected = vec![
        String::from_utf8(multi_id.to_vec()).unwrap(),
        String::from_utf8(multi_id.to_vec()).unwrap(),
        String::from_utf8(data_id.to_vec()).unwrap(),
    ];
    expected.sort();
    assert_eq!(ids, expected);

    trx.unbind().await;
    let counters = sim.shutdown(Duration::from_secs(5)).await;
    assert_eq!(counters["submit_multi"], 1);
    assert_eq!(counters["data_sm"], 1);
    assert_eq!(counters["receipts_sent"], 3);
    assert_eq!(counters["receipts_acked"], 3);
    assert_eq!(counters["unbinds"], 1);
}

#[tokio::test]
async fn garbage_is_counted_and_shutdown_unbinds_live_sessions() {
    let sim = sim(0, IdFormat::Hex).await;
    let (trx, _inbound) = bind(&sim, BindKind::Transceiver).await;
    let mut raw = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    raw.write_all(&[0xF0, 0, 0, 0x11]).await.unwrap();
    let mut rest = Vec::new();
    within("close", raw.read_to_end(&mut rest)).await.unwrap();
    assert_eq!(rest.len(), 16, "one generic_nack, then EOF");
    let counters = sim.shutdown(Duration::from_secs(5)).await;
    assert_eq!(counters["errors"]["frame_errors"], 1);
    assert_eq!(counters["errors"]["generic_nack_sent"], 1);
    assert_eq!(counters["binds"], 1);
    assert_eq!(counters["sessions_active"], 0);
    // The sim unbound the ESME gracefully.
    let reason = within("client closed", trx.link().closed()).await;
    assert_eq!(reason, smppgate_protocol::session::CloseReason::PeerUnbound);
}
