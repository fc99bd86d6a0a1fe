//! [`SessionError`]: what the application asked that the session refuses.

use crate::command_id::CommandId;
use crate::pdu::Body;

use super::config::Role;
use super::state::State;

/// An application request the session refuses. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The send window is full; here is the body back. Wait for
    /// [`Event::WindowAvailable`](super::Event::WindowAvailable) (or a response) and retry.
    /// Boxed to keep every `Result` small; check
    /// [`Session::window_available`](super::Session::window_available) first and this
    /// allocation never happens on the hot path.
    #[error("send window full: {} not sent", .0.command_id())]
    WindowFull(Box<Body>),
    /// The operation is not allowed in the session's state (or on its bind).
    #[error("{command_id} is not allowed in state {state:?}")]
    InvalidState {
        /// The operation refused.
        command_id: CommandId,
        /// The state the session is in.
        state: State,
    },
    /// Our side never sends this operation (reference §1.2).
    #[error("{command_id} is never sent by the {role:?}")]
    WrongRole {
        /// The operation refused.
        command_id: CommandId,
        /// Our role.
        role: Role,
    },
    /// `send_request` was given something that is not a request, or a request that has a
    /// method of its own (bind, unbind, outbind).
    #[error("{command_id} cannot be sent with {method}")]
    WrongMethod {
        /// The operation refused.
        command_id: CommandId,
        /// The method to use instead, or `respond` for responses.
        method: &'static str,
    },
    /// `respond` for a request we did not receive or already answered.
    #[error("no {request} with sequence_number {sequence_number} awaits a response")]
    NotOwed {
        /// The sequence_number given.
        sequence_number: u32,
        /// The request the response would answer.
        request: CommandId,
    },
    /// unbind is in progress (either side): no new requests.
    #[error("unbinding: {command_id} refused")]
    Unbinding {
        /// The operation refused.
        command_id: CommandId,
    },
    /// The session is closed.
    #[error("session closed")]
    Closed,
}
