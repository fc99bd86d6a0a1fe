//! A client that submits a run of messages asking for receipts (the cluster and restart
//! tests' load).

use bytes::Bytes;
use futures::StreamExt as _;
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, RegisteredDelivery};
use std::time::Duration;

/// Binds `system_id` / `password` at `addr` as `kind` with a window of 128, within 10 s.
pub(crate) async fn bind(
    addr: &str,
    system_id: &str,
    password: &str,
    kind: BindKind,
) -> (EsmeClient, Inbound) {
    let mut config = EsmeConfig::new(system_id, password);
    config.bind = kind;
    config.window = 128;
    tokio::time::timeout(Duration::from_secs(10), EsmeClient::connect(addr, config))
        .await
        .expect("bind in time")
        .expect("bind")
}

/// Binds `system_id` / `password` at `addr` as a transmitter (window 128), submits
/// `count` messages from 10690000 to 8613800138000 asking for a receipt, message `n`
/// with the text `text(n)`, 128 at a time, asserts each is answered ESME_ROK, unbinds;
/// returns the message ids in the order the answers came.
pub(crate) async fn with_receipts(
    addr: &str,
    system_id: &str,
    password: &str,
    count: usize,
    text: impl Fn(usize) -> Bytes,
) -> Vec<String> {
    let (tx, _none) = bind(addr, system_id, password, BindKind::Transmitter).await;
    let mut sends = futures::stream::iter((0..count).map(|n| {
        let tx = tx.clone();
        let submit = SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international("8613800138000"),
            registered_delivery: RegisteredDelivery(1),
            short_message: text(n),
            ..SubmitSm::default()
        };
        async move {
            let response = tx.submit(submit).await.expect("response");
            assert!(response.is_ok(), "{}", response.status());
            String::from_utf8(response.message_id().expect("message_id").to_vec())
                .expect("an ASCII message id")
        }
    }))
    .buffer_unordered(128);
    let mut ids = Vec::with_capacity(count);
    while let Some(id) = sends.next().await {
        ids.push(id);
    }
    tx.unbind().await;
    ids
}
