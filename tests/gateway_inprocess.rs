//! `smppgate serve` in-process: upstream checks with their exact statuses, persist then
//! answer, long messages split, receipts matched and forwarded once per message.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use smppgate::config::{AccountConfig, Config};
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::Gateway;
use smppgate::shutdown::Shutdown;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, SubmitSm};
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::tlv::{Tlv, Tlvs};
use smppgate_protocol::types::{Address, DataCoding, RegisteredDelivery};
use support::within;

fn config() -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    let demo = config.accounts[0].clone();
    config.accounts.push(AccountConfig {
        system_id: "limited".into(),
        password: Some("pw".into()),
        max_binds: 1,
        window: 2,
        tps: 0,
        sender_ids: vec!["ACME".into()],
        allowed_ips: vec!["127.0.0.0/8".into()],
        ..demo.clone()
    });
    config.accounts.push(AccountConfig {
        system_id: "elsewhere".into(),
        password: Some("pw".into()),
        allowed_ips: vec!["192.0.2.0/24".into()],
        ..demo
    });
    config
}

async fn start(config: Config) -> (Gateway, Shutdown) {
    let shutdown = Shutdown::new();
    let gateway = within("start", Gateway::start(config))
        .await
        .expect("gateway starts");
    (gateway, shutdown)
}

async fn bind(
    gateway: &Gateway,
    id: &str,
    pw: &str,
) -> Result<(EsmeClient, Inbound), smppgate::esme::ConnectError> {
    let mut config = EsmeConfig::new(id, pw);
    config.auto_respond = true;
    within(
        "bind",
        EsmeClient::connect(&gateway.local_addr().to_string(), config),
    )
    .await
}

fn refused(result: Result<(EsmeClient, Inbound), smppgate::esme::ConnectError>) -> CommandStatus {
    match result {
        Err(smppgate::esme::ConnectError::BindRefused { status, .. }) => status,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, bind succeeded"),
    }
}

fn message(to: &str, text: &[u8]) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("ACME"),
        destination_addr: Address::international(to.to_owned()),
        registered_delivery: RegisteredDelivery(1),
        short_message: Bytes::copy_from_slice(text),
        ..SubmitSm::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_checks_answer_the_spec_statuses() {
    let (gateway, _shutdown) = start(config()).await;
    assert_eq!(
        refused(bind(&gateway, "nobody", "x").await),
        CommandStatus::ESME_RINVSYSID
    );
    assert_eq!(
        refused(bind(&gateway, "demo", "wrong").await),
        CommandStatus::ESME_RINVPASWD
    );
    assert_eq!(
        refused(bind(&gateway, "elsewhere", "pw").await),
        CommandStatus::ESME_RBINDFAIL
    );
    let (first, _in) = bind(&gateway, "limited", "pw").await.expect("first bind");
    assert_eq!(
        refused(bind(&gateway, "limited", "pw").await),
        CommandStatus::ESME_RALYBND
    );
    // The bound client is unaffected, and its slot comes back after unbind.
    let response = within("submit", first.submit(message("8613800138000", b"hi")))
        .await
        .unwrap();
    assert!(response.is_ok(), "{}", response.status());
    first.unbind().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    bind(&gateway, "limited", "pw")
        .await
        .expect("slot released after unbind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_checks_answer_the_spec_statuses_and_others_keep_working() {
    let (gateway, _shutdown) = start(config()).await;
    let (limited, _in) = bind(&gateway, "limited", "pw").await.unwrap();
    let (demo, _in2) = bind(&gateway, "demo", "demo").await.unwrap();
    let status = |r: Result<smppgate::conn::Response, _>| {
        r.map(|r: smppgate::conn::Response| r.status()).unwrap()
    };

    let mut bad_sender = message("8613800138000", b"x");
    bad_sender.source_addr = Address::international("EVIL");
    assert_eq!(
        status(limited.submit(bad_sender).await),
        CommandStatus::ESME_RINVSRCADR
    );
    assert_eq!(
        status(limited.submit(message("not-a-number", b"x")).await),
        CommandStatus::ESME_RINVDSTADR
    );
    let mut bad_coding = message("8613800138000", b"x");
    bad_coding.data_coding = DataCoding(0x0D);
    assert_eq!(
        status(limited.submit(bad_coding).await),
        CommandStatus(0x104)
    );
    let too_long = vec![b'a'; 160 * 256];
    let mut huge = message("8613800138000", b"");
    huge.tlvs = Tlvs::builder()
        .push(Tlv::MessagePayload(Bytes::from(too_long)))
        .build()
        .unwrap();
    assert_eq!(
        status(limited.submit(huge).await),
        CommandStatus::ESME_RINVMSGLEN
    );

    // Window 2: a third outstanding request is refused with ESME_RMSGQFUL.
    let statuses =
        futures::future::join_all((0..8).map(|_| limited.submit(message("8613800138000", b"w"))))
            .await;
    let full = statuses
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == CommandStatus::ESME_RMSGQFUL)
        .count();
    let ok = statuses
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert!(ok >= 2, "ok {ok}");
    assert!(full >= 1, "window 2 never refused: {statuses:?}");

    // Another account is not affected by any of this.
    for _ in 0..20 {
        assert!(
            demo.submit(message("8613800138000", b"fine"))
                .await
                .unwrap()
                .is_ok()
        );
    }
    let _ = gateway;
}

fn receipt_of(pdu: &smppgate_protocol::pdu::Pdu) -> Option<DeliveryReceipt> {
    DeliveryReceipt::from_body(&pdu.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_are_split_and_each_message_gets_one_receipt() {
    let (gateway, _shutdown) = start(config()).await;
    let (client, mut inbound) = bind(&gateway, "demo", "demo").await.unwrap();
    let mut ids = HashMap::new();
    for n in 0..50u32 {
        let text: Vec<u8> = if n % 2 == 0 {
            format!("short {n}").into_bytes()
        } else {
            // 2 parts of GSM text in short_message (250 > 160 septets).
            format!("long {n} ").repeat(60).into_bytes()[..250].to_vec()
        };
        let mut submit = message("8613800138000", &text);
        if n % 5 == 0 {
            // UCS-2, in message_payload, 3 parts.
            let utf16: Vec<u8> = "退订请回复TD"
                .repeat(20)
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect();
            submit.short_message = Bytes::new();
            submit.data_coding = DataCoding(8);
            submit.tlvs = Tlvs::builder()
                .push(Tlv::MessagePayload(Bytes::from(utf16)))
                .build()
                .unwrap();
        }
        let response = within("submit", client.submit(submit)).await.unwrap();
        assert!(response.is_ok(), "{}", response.status());
        let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
        ids.insert(id, 0u32);
    }
    let mut received = 0;
    while received < ids.len() {
        let request = within("receipts", inbound.recv())
            .await
            .expect("inbound open");
        let receipt = receipt_of(&request.pdu).expect("a receipt");
        let id = receipt.id().unwrap().to_owned();
        *ids.get_mut(&id)
            .unwrap_or_else(|| panic!("receipt for unknown id {id}")) += 1;
        assert_eq!(receipt.state(), Some(MessageState::Delivered));
        received += 1;
    }
    // No second receipt for any message.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(inbound.try_recv().is_none(), "a message got two receipts");
    assert!(ids.values().all(|n| *n == 1));
    let stats = gateway.stats().to_json();
    assert_eq!(stats["accepted"], 50);
    // 20 short + 20 long GSM (2 parts) + 10 UCS-2 (n % 5 == 0, 3 parts).
    assert_eq!(stats["parts_sent"], 20 + 40 + 30, "{stats}");
    assert_eq!(stats["receipts_matched"], 90, "{stats}");
    let _ = Body::Unbind;
}
