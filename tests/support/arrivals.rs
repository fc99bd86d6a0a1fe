//! An in-process carrier that records each submit_sm it is sent and when.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use smppgate::smsc::{BindRequest, MessageId, Reply, SessionInfo, SmscHandler};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};

/// Records each submit_sm with its arrival time; answers at once.
#[derive(Default)]
pub(crate) struct Arrivals {
    arrivals: Mutex<Vec<(SubmitSm, Instant)>>,
    next: AtomicU64,
}

impl SmscHandler for Arrivals {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"carrier"))
    }

    fn submit_sm(&self, _s: &SessionInfo, _p: &Pdu, submit_sm: &SubmitSm) -> Reply<MessageId> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((submit_sm.clone(), Instant::now()));
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        Reply::Ready(Ok(Bytes::from(format!("{id:x}"))))
    }
}

impl Arrivals {
    /// When the first submit_sm with this text arrived, and what it was.
    pub(crate) fn arrived(&self, text: &[u8]) -> Option<(SubmitSm, Instant)> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(sm, _)| sm.short_message == text)
            .cloned()
    }

    /// How many submit_sm with this text arrived.
    pub(crate) fn count(&self, text: &[u8]) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(sm, _)| sm.short_message == text)
            .count()
    }
}
