//! SGIP 1.2 (China Unicom): sans-IO like the SMPP core. The header is 20 octets, its
//! sequence a (node id, MMDDhhmmss, counter) triple ([`Sequence`]) that a Report refers
//! back to. Two connections: the SP binds to the SMG (LoginType 1) to Submit; the SMG binds
//! to the SP's listener (LoginType 2) to Deliver MO and Report.

mod codec;
mod command;
mod pdu;
mod sequence;
pub mod session;
pub mod smg;
#[cfg(test)]
mod tests;

pub use codec::{FrameDecoder, HEADER_LEN, decode, encode, encoded_len};
pub use command::{CommandId, Sender};
pub use pdu::{Bind, Body, Deliver, Pdu, Report, Resp, Submit};
pub use sequence::{Sequence, Sequencer};

/// The error of one undecodable SGIP frame.
pub type DecodeError = crate::china::DecodeError<Sequence>;

/// "SGIP 1.2", for messages.
pub const PROTOCOL: &str = "SGIP 1.2";

/// Bind LoginType.
pub mod login_type {
    /// The SP connects to the SMG (to submit).
    pub const SP_TO_SMG: u8 = 1;
    /// The SMG connects to the SP (to deliver MO and reports).
    pub const SMG_TO_SP: u8 = 2;
}

/// Result 0: success.
pub const RESULT_OK: u8 = 0;
/// Result 1: illegal login (wrong name or password).
pub const RESULT_ILLEGAL_LOGIN: u8 = 1;
/// Result 2: repeated login (a second Bind on a bound connection).
pub const RESULT_REPEATED_LOGIN: u8 = 2;
/// Result 3: too many connections.
pub const RESULT_TOO_MANY_CONNECTIONS: u8 = 3;
/// Result 4: wrong LoginType.
pub const RESULT_BAD_LOGIN_TYPE: u8 = 4;
/// Result 5: parameter format error.
pub const RESULT_BAD_FORMAT: u8 = 5;
/// Result 6: illegal mobile number.
pub const RESULT_BAD_NUMBER: u8 = 6;
/// Result 8: message length error.
pub const RESULT_BAD_LENGTH: u8 = 8;
/// Result 11: node busy. No SGIP Result means "too fast"; carriers use this one (and
/// province-specific codes) for flow control, so treat it as throttling, not failure.
pub const RESULT_NODE_BUSY: u8 = 11;
/// Result 32: system failure.
pub const RESULT_SYSTEM_FAILURE: u8 = 32;
/// Result 33: SMSC queue full.
pub const RESULT_QUEUE_FULL: u8 = 33;

/// Report State (SGIP 1.2 §4.2.3.5).
pub mod report_state {
    /// Delivered.
    pub const DELIVERED: u8 = 0;
    /// Waiting to be sent.
    pub const WAITING: u8 = 1;
    /// Failed.
    pub const FAILED: u8 = 2;
}
