//! A minimal ESME: binds as transceiver, submits one message, prints what the SMSC
//! delivers for a second, unbinds.
//!
//! `cargo run --example esme -- 127.0.0.1:2775 [SYSTEM_ID PASSWORD]` (against
//! `cargo run --example smsc` or `smppgate sim`).

use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::{Address, RegisteredDelivery};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2775".to_owned());
    let system_id = args.next().unwrap_or_else(|| "esme".to_owned());
    let password = args.next().unwrap_or_else(|| "secret".to_owned());

    let (client, mut inbound) =
        EsmeClient::connect(&addr, EsmeConfig::new(system_id, password)).await?;
    println!("bound to {:?}", client.bound().system_id);

    let submit = SubmitSm {
        source_addr: Address::international("15550001"),
        destination_addr: Address::international("15550002"),
        registered_delivery: RegisteredDelivery(1),
        short_message: Bytes::from_static(b"hello from the ESME"),
        ..SubmitSm::default()
    };
    let response = client.submit(submit).await?;
    println!(
        "submit_sm: {} id {:?}",
        response.status(),
        response.message_id()
    );

    // deliver_sm are answered ESME_ROK automatically (EsmeConfig::auto_respond).
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(request)) = tokio::time::timeout_at(until, inbound.recv()).await {
        println!(
            "received {}: {:?}",
            request.pdu.command_id(),
            request.pdu.body
        );
    }
    println!("closed: {:?}", client.unbind().await);
    Ok(())
}
