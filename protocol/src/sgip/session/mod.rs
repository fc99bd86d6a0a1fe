//! Sans-IO SGIP 1.2 links (§4.3, §5). SGIP differs from CMPP and SMGP in three ways that
//! shape these sessions, which is why they are siblings of [`crate::china::session`] rather
//! than a dialect of it (same inputs, outputs and window rules, other states):
//!
//! - **Two connections, each bound by the side that opened it.** The SP opens one to the
//!   SMG (Bind LoginType 1) and submits on it; the SMG opens one to the SP's listener (Bind
//!   LoginType 2) and sends Deliver (MO) and Report on it. So there are two roles per
//!   connection: the side that opened it ([`Initiator`]: Bind, requests through a window,
//!   Unbind) and the side that accepted it ([`Acceptor`]: checks the Bind, answers each
//!   request when the application says so). The SP's outgoing link is an `Initiator` with
//!   [`Role::Sp`], its report listener an `Acceptor` for [`Role::Smg`]; a simulated SMG
//!   uses the mirror pair.
//! - **No heartbeat.** SGIP has no ACTIVE_TEST: a link idle for a while is released with
//!   Unbind by the side that opened it (§5.1), and bound again when there is work. An
//!   `Initiator` can be bound again after it closed: its sequence counter runs on.
//! - **A 12-octet sequence** (node id, MMDDhhmmss, counter) that a Report quotes back, so
//!   every input that may send takes [`Now`]: monotonic milliseconds for the timers and the
//!   caller's wall clock for the triple. Neither is read here.
//!
//! Inputs: `handle_pdu`, `handle_decode_error`, `handle_frame_error`, `handle_timeout`,
//! and per role `bind` / `send_request` / `unbind` or `respond` / `unbind`. Outputs:
//! `poll_transmit`, `poll_event`, `poll_timeout`, drained by the driver after every input.
//! The queues stay bounded: an `Initiator`'s requests by its window (a full window is
//! refused with [`SessionError::WindowFull`]: the driver waits), an `Acceptor`'s unanswered
//! requests by `max_unanswered` (beyond it a request is answered at once with Result 11,
//! node busy, and the peer sends it again later), and each input queues at most a couple of
//! packets and events besides.

mod acceptor;
mod initiator;
#[cfg(test)]
mod tests;

pub use acceptor::{Acceptor, AcceptorConfig, AcceptorState};
pub use initiator::{Initiator, InitiatorConfig, InitiatorState};

use bytes::Bytes;

use super::{CommandId, Pdu, Sequence};

/// The time of an input: `ms` is monotonic milliseconds (any origin) for the timers,
/// `stamp` the wall clock as MMDDhhmmss (see [`crate::china::auth::timestamp`]) for the
/// sequence triples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Monotonic milliseconds.
    pub ms: u64,
    /// MMDDhhmmss.
    pub stamp: u32,
}

impl Now {
    /// `ms` milliseconds, wall clock `stamp`.
    #[must_use]
    pub const fn new(ms: u64, stamp: u32) -> Self {
        Self { ms, stamp }
    }
}

/// Which side of SGIP opened a connection: what it binds as and what it may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The SP: binds with LoginType 1, sends Submit.
    Sp,
    /// The SMG: binds with LoginType 2, sends Deliver and Report.
    Smg,
}

impl Role {
    /// The Bind LoginType of a connection this role opens.
    #[must_use]
    pub const fn login_type(self) -> u8 {
        match self {
            Self::Sp => super::login_type::SP_TO_SMG,
            Self::Smg => super::login_type::SMG_TO_SP,
        }
    }

    /// The response to a request this role sends on the connection it opened; `None` for
    /// what it may not send there.
    #[must_use]
    pub const fn response_to(self, command: CommandId) -> Option<CommandId> {
        match (self, command) {
            (Self::Sp, CommandId::Submit) => Some(CommandId::SubmitResp),
            (Self::Smg, CommandId::Deliver) => Some(CommandId::DeliverResp),
            (Self::Smg, CommandId::Report) => Some(CommandId::ReportResp),
            _ => None,
        }
    }
}

/// Why a link closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Bind_Resp with this Result (1 illegal login, 2 repeated, 3 too many connections,
    /// 4 wrong LoginType).
    BindRefused {
        /// The Result.
        result: u8,
    },
    /// No Bind_Resp in time (initiator), or no Bind in time (acceptor).
    BindTimedOut,
    /// Idle for the configured time: released with Unbind (§5.1). Bind again for more.
    Idle,
    /// The peer sent Unbind.
    PeerUnbound,
    /// We unbound on request, and the peer answered (or did not, in time).
    Unbound,
    /// The stream could not be framed, or the peer broke the protocol (a packet before
    /// Bind).
    ProtocolError,
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The link is bound: for an acceptor, as this Login Name.
    Bound {
        /// The Login Name the peer bound with (empty for an initiator).
        login_name: Bytes,
    },
    /// The response to a request sent with [`Initiator::send_request`].
    Response {
        /// The request's sequence (the receipt key for a Submit).
        sequence: Sequence,
        /// The response.
        pdu: Pdu,
    },
    /// A request got no response in time, or the link closed before it did; its slot is
    /// free again. Whether it arrived is unknown: send it again on a new link.
    TimedOut {
        /// The request's sequence.
        sequence: Sequence,
        /// Its command.
        command: CommandId,
    },
    /// A request to an acceptor (Submit; Deliver or Report): store it, then answer with
    /// [`Acceptor::respond`].
    Request(Pdu),
    /// A packet the link did not expect (a response to nothing, a request this side must
    /// not receive); logged, not fatal.
    Unexpected(Pdu),
    /// The link is over; the driver closes the socket.
    Closed(CloseReason),
}

/// Refused inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The window is full: wait for a response or a timeout.
    #[error("the send window of {window} requests is full")]
    WindowFull {
        /// Its size.
        window: usize,
    },
    /// Not bound (binding, unbinding or closed).
    #[error("the SGIP link is not bound")]
    NotBound,
    /// This role does not send this command through the window.
    #[error("{command:?} is not a request this side sends")]
    NotARequest {
        /// The command given.
        command: CommandId,
    },
    /// `bind` while binding, bound or unbinding.
    #[error("bind called while the link is {state}")]
    AlreadyBound {
        /// The state's name.
        state: &'static str,
    },
    /// `respond` for a sequence with no unanswered request.
    #[error("no unanswered request has sequence {sequence}")]
    UnknownRequest {
        /// The sequence given.
        sequence: Sequence,
    },
}

/// A response body with `result` (Reserve empty: written as eight zero octets).
fn resp(result: u8) -> super::Resp {
    super::Resp {
        result,
        reserve: Bytes::new(),
    }
}
