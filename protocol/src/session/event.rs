//! What the session tells the application ([`Event`]), and why it closed ([`CloseReason`]).

use bytes::Bytes;

use crate::codec::DecodeError;
use crate::command_id::CommandId;
use crate::command_status::CommandStatus;
use crate::pdu::{Bind, Outbind, Pdu};

use super::state::BindKind;

/// Something the application must know or act on, drained with
/// [`Session::poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// ESME: the SMSC sent outbind; answer with [`Session::bind`](super::Session::bind)
    /// (`BindKind::Receiver`) or close.
    OutbindReceived {
        /// The outbind's system_id and password, to check.
        outbind: Outbind,
    },
    /// SMSC: an ESME asks to bind; authenticate it, then call
    /// [`Session::accept_bind`](super::Session::accept_bind) or
    /// [`Session::reject_bind`](super::Session::reject_bind).
    BindRequested {
        /// Which bind.
        kind: BindKind,
        /// The bind's fields (system_id, password, …).
        bind: Bind,
    },
    /// The session is bound.
    Bound {
        /// Which bind.
        kind: BindKind,
        /// The peer's system_id (ESME: from bind_resp; SMSC: from the bind).
        system_id: Bytes,
    },
    /// ESME: the bind was refused (bind_resp or generic_nack with an error status). The
    /// session is `Open` again: bind again or close.
    BindFailed {
        /// The peer's status.
        status: CommandStatus,
    },
    /// A request from the peer. If it has a response (all but alert_notification), answer
    /// it with [`Session::respond`](super::Session::respond). enquire_link and unbind never
    /// arrive here: the session answers them.
    RequestReceived {
        /// The request.
        pdu: Pdu,
    },
    /// The response to one of our requests (any status except throttling, see
    /// [`Event::Throttled`]).
    ResponseReceived {
        /// The request's sequence_number.
        sequence_number: u32,
        /// The request's operation.
        command_id: CommandId,
        /// The response (`generic_nack` possible).
        pdu: Pdu,
    },
    /// The peer refused one of our requests with `ESME_RTHROTTLED` (0x58) or
    /// `ESME_RMSGQFUL` (0x14): slow down and retry it later. Replaces `ResponseReceived`.
    Throttled {
        /// The request's sequence_number.
        sequence_number: u32,
        /// The request's operation.
        command_id: CommandId,
        /// Which of the two statuses.
        status: CommandStatus,
    },
    /// A response to one of our requests arrived but could not be decoded. The request is
    /// finished (out of the window); whether the peer acted on it is unknown.
    ResponseUndecodable {
        /// The request's sequence_number.
        sequence_number: u32,
        /// The request's operation.
        command_id: CommandId,
        /// What the codec found wrong.
        error: DecodeError,
    },
    /// One of our requests got no response within the response timeout; it left the window.
    ResponseTimedOut {
        /// The request's sequence_number.
        sequence_number: u32,
        /// The request's operation.
        command_id: CommandId,
    },
    /// One of our requests was still outstanding when the session closed; it will never be
    /// answered here (retry it elsewhere).
    RequestAborted {
        /// The request's sequence_number.
        sequence_number: u32,
        /// The request's operation.
        command_id: CommandId,
    },
    /// The window was full and has room again.
    WindowAvailable,
    /// The peer sent unbind: stop sending, answer what you owe; the session sends
    /// unbind_resp once that is done (or at the unbind deadline) and closes.
    PeerUnbound,
    /// Our unbind was answered.
    Unbound,
    /// The peer broke a rule; what was answered, if anything, is in `answered`.
    ProtocolViolation(Violation),
    /// The session is closed. Flush `poll_transmit`, then close the connection.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// A rule the peer broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// What kind of rule.
    pub kind: ViolationKind,
    /// Raw command_id of the offending PDU.
    pub command_id: u32,
    /// Its sequence_number.
    pub sequence_number: u32,
    /// The status we answered with, or `None` when nothing was sent (responses, and PDUs
    /// after the session closed).
    pub answered: Option<CommandStatus>,
}

/// The kinds of [`Violation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A request not allowed in this state or on this bind (`ESME_RINVBNDSTS`).
    InvalidBindState,
    /// A bind on a bound session (`ESME_RALYBND`).
    AlreadyBound,
    /// A request this side never receives (e.g. deliver_sm sent to an SMSC).
    WrongSender,
    /// A frame the codec could not decode (unknown command_id included).
    Undecodable,
    /// A response that matches no outstanding request (dropped, never nacked).
    UnknownResponse,
}

/// Why a session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The application called [`Session::close`](super::Session::close).
    Requested,
    /// We unbound and the peer answered.
    Unbound,
    /// We unbound and the peer did not answer by the unbind deadline.
    UnbindTimeout,
    /// The peer unbound; unbind_resp is queued.
    PeerUnbound,
    /// No successful bind within the session-init time.
    SessionInitTimeout,
    /// ESME: no bind response in time.
    BindTimeout,
    /// Our enquire_link got no answer in time: the peer is dead.
    PeerDead,
    /// The byte stream could not be framed any more (`command_length` out of range); a
    /// generic_nack `ESME_RINVCMDLEN` with sequence_number 0 is queued (reference §4.3).
    FramingLost,
    /// The driver reported that the connection went away.
    ConnectionLost,
}
