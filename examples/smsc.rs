//! A minimal SMSC: accepts any bind, answers submit_sm with sequential ids, and sends a
//! deliver_sm (a fake MO message) to every session that binds as receiver/transceiver.
//!
//! `cargo run --example smsc -- 127.0.0.1:2775` then, in another terminal,
//! `cargo run --example esme -- 127.0.0.1:2775`. Stops on Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionHandle, SessionInfo, SmscHandler,
    SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DeliverSm, Pdu, SubmitSm};
use smppgate_protocol::types::Address;

struct Example {
    next_id: AtomicU64,
}

impl SmscHandler for Example {
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus> {
        println!(
            "bind {:?} from {}",
            request.bind.system_id, request.peer_addr
        );
        Ok(Bytes::from_static(b"example-smsc"))
    }

    fn on_bound(&self, session: &SessionHandle) {
        if !session.info().can_receive() {
            return;
        }
        let session = session.clone();
        // deliver() waits for room in this session's window, so it runs in its own task.
        tokio::spawn(async move {
            let mo = DeliverSm {
                source_addr: Address::international("15550009"),
                destination_addr: Address::international("15550001"),
                short_message: Bytes::from_static(b"hello from the SMSC"),
                ..DeliverSm::default()
            };
            match session.deliver(mo).await {
                Ok(response) => println!("deliver_sm answered {}", response.status()),
                Err(error) => println!("deliver_sm failed: {error}"),
            }
        });
    }

    fn submit_sm(
        &self,
        session: &SessionInfo,
        _pdu: &Pdu,
        submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        println!(
            "submit_sm from {:?} to {:?}: id {id}",
            session.system_id, submit_sm.destination_addr.addr
        );
        Reply::Ready(Ok(Bytes::from(id.to_string())))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2775".to_owned());
    let handler = Arc::new(Example {
        next_id: AtomicU64::new(1),
    });
    let server = SmscServer::bind(&addr, ServerConfig::default(), handler).await?;
    println!("listening on {}", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
