//! CMPP 2.0 and 3.0 (China Mobile Peer to Peer): the protocol between an SP and China
//! Mobile's ISMG. Sans-IO like the SMPP core: [`decode`] borrows from one frame, [`encode`]
//! writes once into a `BytesMut`, nothing here touches a socket or a clock.
//!
//! The two versions share their command ids and most layouts; 3.0 widens the terminal ids
//! from 21 to 32 octets, adds a terminal type after each, widens the 1-octet result/status
//! fields to 4 and replaces the 8-octet Reserve at the end of SUBMIT/DELIVER with a 20-octet
//! LinkID. Every function takes the [`Version`] of the link.

mod auth;
mod codec;
mod command;
pub mod ismg;
mod msg_id;
mod pdu;
mod report;
pub mod session;
#[cfg(test)]
mod tests;

pub use auth::{authenticator_ismg, authenticator_source, check_authenticator_ismg};
pub use codec::{FrameDecoder, HEADER_LEN, decode, encode, encoded_len};
pub use command::{CommandId, Sender};
pub use msg_id::MsgId;
pub use pdu::{
    ActiveTestResp, Body, Cancel, CancelResp, Connect, ConnectResp, Deliver, DeliverResp, Pdu,
    Query, QueryResp, Submit, SubmitResp,
};
pub use report::StatusReport;

/// The error of one undecodable CMPP frame.
pub type DecodeError = crate::china::DecodeError<u32>;

/// CMPP version of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// CMPP 2.0.
    V2,
    /// CMPP 3.0.
    V3,
}

impl Version {
    /// The Version octet of CONNECT: 0x20 or 0x30 (peers also send 0x21 for 2.0; decode
    /// keeps the octet as sent).
    #[must_use]
    pub const fn octet(self) -> u8 {
        match self {
            Self::V2 => 0x20,
            Self::V3 => 0x30,
        }
    }

    /// Width of a terminal id (Fee_terminal_Id, Dest_terminal_Id, Src_terminal_Id).
    #[must_use]
    pub const fn terminal_id_len(self) -> usize {
        match self {
            Self::V2 => 21,
            Self::V3 => 32,
        }
    }

    /// Width of CONNECT_RESP Status, SUBMIT_RESP/DELIVER_RESP Result, CANCEL_RESP
    /// Success_Id.
    #[must_use]
    pub const fn result_len(self) -> usize {
        match self {
            Self::V2 => 1,
            Self::V3 => 4,
        }
    }

    /// "CMPP 2.0" or "CMPP 3.0".
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::V2 => "CMPP 2.0",
            Self::V3 => "CMPP 3.0",
        }
    }
}

/// SUBMIT_RESP Result 8: flow control, the ISMG wants us slower (CMPP 3.0 §7.4.3.2) — the
/// counterpart of SMPP's ESME_RTHROTTLED.
pub const RESULT_FLOW_CONTROL: u32 = 8;
/// CONNECT_RESP Status 3: authentication failed.
pub const STATUS_AUTH_FAILED: u32 = 3;
