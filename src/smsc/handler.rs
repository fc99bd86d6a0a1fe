//! [`SmscHandler`]: what the application decides on the SMSC side.

use std::net::SocketAddr;

use bytes::Bytes;
use futures::future::BoxFuture;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{
    Bind, DataSm, Pdu, QuerySm, QuerySmResp, SubmitMulti, SubmitMultiResp, SubmitSm,
};
use smppgate_protocol::session::{BindKind, CloseReason, SessionStats, Violation};

use super::registry::SessionHandle;

/// A message id as returned in submit_sm_resp / data_sm_resp (at most 64 octets).
pub type MessageId = Bytes;

/// A handler's answer: ready now (the fast path, answered inline by the connection
/// task), or a future the connection task polls while it goes on with other PDUs.
pub enum Reply<T> {
    /// The answer.
    Ready(Result<T, CommandStatus>),
    /// The answer, later.
    Later(BoxFuture<'static, Result<T, CommandStatus>>),
    /// No answer, ever: the connection goes silent from this request on (enquire_link and
    /// unbind are not answered either; the socket stays open), as a hung carrier does.
    Silence,
}

impl<T> From<Result<T, CommandStatus>> for Reply<T> {
    fn from(result: Result<T, CommandStatus>) -> Self {
        Self::Ready(result)
    }
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(result) => f
                .debug_tuple("Ready")
                .field(&result.as_ref().map(|_| "…"))
                .finish(),
            Self::Later(_) => f.write_str("Later"),
            Self::Silence => f.write_str("Silence"),
        }
    }
}

/// A bind to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindRequest {
    /// Which bind.
    pub kind: BindKind,
    /// Its fields (system_id, password, system_type, address_range, …).
    pub bind: Bind,
    /// Where the connection comes from.
    pub peer_addr: SocketAddr,
    /// The connection's id in this server.
    pub connection_id: u64,
}

/// A bound session, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The connection's id in this server (unique for its lifetime).
    pub connection_id: u64,
    /// The ESME's system_id.
    pub system_id: Bytes,
    /// Which bind.
    pub kind: BindKind,
    /// Where the connection comes from.
    pub peer_addr: SocketAddr,
}

impl SessionInfo {
    /// Whether we may send deliver_sm on this session (receiver or transceiver).
    #[must_use]
    pub fn can_receive(&self) -> bool {
        matches!(self.kind, BindKind::Receiver | BindKind::Transceiver)
    }
}

/// The SMSC application. Methods are called from connection tasks, so they must be quick;
/// slow work goes in a [`Reply::Later`] future. Every method but `authenticate` and
/// `submit_sm` has a default (operations answered `ESME_RINVCMDID`, notifications
/// ignored).
pub trait SmscHandler: Send + Sync + 'static {
    /// Accepts a bind (the system_id to put in bind_resp) or refuses it with a status
    /// (`ESME_RINVPASWD`, `ESME_RINVSYSID`, `ESME_RBINDFAIL`, …).
    ///
    /// # Errors
    /// The status to refuse the bind with.
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus>;

    /// A session is bound; `session` can send it deliver_sm through its window.
    fn on_bound(&self, _session: &SessionHandle) {}

    /// A connection closed: `session` is `Some` if it was bound.
    fn on_closed(
        &self,
        _session: Option<&SessionInfo>,
        _reason: CloseReason,
        _stats: &SessionStats,
    ) {
    }

    /// `authenticate` accepted a bind but the connection closed before the session was
    /// bound (the bind_resp could not be sent): release what `authenticate` reserved.
    fn on_bind_abandoned(&self, _session: &SessionInfo) {}

    /// The peer broke a rule (the session has answered it as the spec says).
    fn on_violation(&self, _session: Option<&SessionInfo>, _violation: &Violation) {}

    /// submit_sm: a message id, or an error status.
    fn submit_sm(&self, session: &SessionInfo, pdu: &Pdu, submit_sm: &SubmitSm)
    -> Reply<MessageId>;

    /// submit_multi.
    fn submit_multi(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
        _submit_multi: &SubmitMulti,
    ) -> Reply<SubmitMultiResp> {
        Reply::Ready(Err(CommandStatus::ESME_RINVCMDID))
    }

    /// data_sm.
    fn data_sm(&self, _session: &SessionInfo, _pdu: &Pdu, _data_sm: &DataSm) -> Reply<MessageId> {
        Reply::Ready(Err(CommandStatus::ESME_RINVCMDID))
    }

    /// query_sm.
    fn query_sm(&self, _session: &SessionInfo, _query_sm: &QuerySm) -> Reply<QuerySmResp> {
        Reply::Ready(Err(CommandStatus::ESME_RINVCMDID))
    }

    /// Any other request (cancel_sm, replace_sm): the response body, or an error status.
    fn other_request(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
    ) -> Reply<smppgate_protocol::pdu::Body> {
        Reply::Ready(Err(CommandStatus::ESME_RINVCMDID))
    }
}
