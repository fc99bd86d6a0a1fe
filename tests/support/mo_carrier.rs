//! A carrier for in-process gateway tests: it accepts every submit (message id `1`, or
//! `abc` once told to) and lets the test send deliver_sm (MO, receipts) through the
//! session the gateway bound.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionHandle, SessionInfo, SmscHandler,
    SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DeliverSm, Pdu, SubmitSm};
use smppgate_protocol::types::{Address, EsmClass};

use super::within;

/// See the module documentation.
#[derive(Default)]
pub(crate) struct MoCarrier {
    pub(crate) session: Mutex<Option<SessionHandle>>,
    /// Answer submits with the id `abc` (an id whose receipt the test sent first).
    pub(crate) answer_abc: AtomicBool,
}

impl SmscHandler for MoCarrier {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"mo"))
    }
    fn on_bound(&self, session: &SessionHandle) {
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.clone());
    }
    fn submit_sm(&self, _s: &SessionInfo, _p: &Pdu, _m: &SubmitSm) -> Reply<MessageId> {
        let early = self.answer_abc.load(std::sync::atomic::Ordering::SeqCst);
        Reply::Ready(Ok(Bytes::from_static(if early { b"abc" } else { b"1" })))
    }
}

/// The carrier, listening on 127.0.0.1.
pub(crate) async fn quiet_carrier() -> (Arc<MoCarrier>, SmscServer) {
    let carrier = Arc::new(MoCarrier::default());
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .unwrap();
    (carrier, server)
}

/// The session the gateway bound (waits for the bind, bounded by `within`).
pub(crate) async fn carrier_session(carrier: &MoCarrier) -> SessionHandle {
    within("carrier bound", async {
        loop {
            if let Some(s) = carrier
                .session
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Part `seq` of `total` of an MO from 8613900001111 to 10690000 (8-bit concatenation
/// reference `reference`, UDH), carrying `data`.
#[allow(dead_code)] // not every test binary sends multipart MO
pub(crate) fn mo_part(reference: u8, total: u8, seq: u8, data: &[u8]) -> DeliverSm {
    let mut user_data = vec![5, 0, 3, reference, total, seq];
    user_data.extend_from_slice(data);
    DeliverSm {
        source_addr: Address::international("8613900001111"),
        destination_addr: Address::international("10690000"),
        esm_class: EsmClass(0x40),
        short_message: Bytes::from(user_data),
        ..DeliverSm::default()
    }
}
