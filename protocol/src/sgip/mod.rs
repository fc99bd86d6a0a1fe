//! SGIP 1.2 (China Unicom): sans-IO like the SMPP core. The header is 20 octets, its
//! sequence a (node id, MMDDhhmmss, counter) triple ([`Sequence`]) that a Report refers
//! back to. Two connections: the SP binds to the SMG (LoginType 1) to Submit; the SMG binds
//! to the SP's listener (LoginType 2) to Deliver MO and Report.

mod codec;
mod command;
mod pdu;
mod sequence;
#[cfg(test)]
mod tests;

pub use codec::{FrameDecoder, HEADER_LEN, decode, encode, encoded_len};
pub use command::{CommandId, Sender};
pub use pdu::{Bind, Body, Deliver, Pdu, Report, Resp, Submit};
pub use sequence::Sequence;

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
/// Result 1: illegal login (wrong name, password or LoginType).
pub const RESULT_ILLEGAL_LOGIN: u8 = 1;

/// Report State (SGIP 1.2 §4.2.3.5).
pub mod report_state {
    /// Delivered.
    pub const DELIVERED: u8 = 0;
    /// Waiting to be sent.
    pub const WAITING: u8 = 1;
    /// Failed.
    pub const FAILED: u8 = 2;
}
