//! What a request sent through a connection can end in, besides a response.

use smppgate_protocol::codec::{DecodeError, EncodeError};
use smppgate_protocol::session::{CloseReason, SessionError};

/// A request got no (usable) response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The connection was closed before the request could be sent; it never left.
    #[error("connection closed before the request was sent")]
    Closed,
    /// The request was sent, then the connection closed before its response arrived
    /// (the session's `RequestAborted`): whether the peer acted on it is unknown.
    #[error("request {sequence_number} aborted: connection closed ({reason:?})")]
    Aborted {
        /// The request's sequence_number.
        sequence_number: u32,
        /// Why the connection closed, when known.
        reason: Option<CloseReason>,
    },
    /// No response within the response timeout.
    #[error("no response to request {sequence_number} within the response timeout")]
    Timeout {
        /// The request's sequence_number.
        sequence_number: u32,
    },
    /// The response arrived but could not be decoded.
    #[error("response to request {sequence_number} undecodable: {error}")]
    Undecodable {
        /// The request's sequence_number.
        sequence_number: u32,
        /// What the codec found wrong.
        error: DecodeError,
    },
    /// The session refused the request (wrong bind, unbinding, …); nothing was sent.
    #[error("request refused by the session: {0}")]
    Refused(SessionError),
    /// The request breaks an encoding rule (a field too long, …); nothing was sent.
    #[error("request cannot be encoded: {0}")]
    Encode(EncodeError),
}
