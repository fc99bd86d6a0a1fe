//! SMGP 3.0 (Short Message Gateway Protocol, China Telecom): sans-IO like the SMPP core.
//! [`decode`] borrows from one frame, [`encode`] writes once; Submit and Deliver end in
//! TLVs ([`Tlv`]), reports arrive as Deliver with IsReport 1 carrying a [`Report`].

mod auth;
mod codec;
mod command;
mod msg_id;
mod pdu;
mod report;
pub mod session;
pub mod smgw;
#[cfg(test)]
mod tests;
pub mod tlv;

pub use auth::{authenticator_client, authenticator_server};
pub use codec::{FrameDecoder, HEADER_LEN, decode, encode, encoded_len};
pub use command::{CommandId, Sender};
pub use msg_id::MsgId;
pub use pdu::{Body, Deliver, Login, LoginResp, MsgIdStatus, Pdu, Submit};
pub use report::Report;
pub use tlv::{Tlv, tag_name};

/// The error of one undecodable SMGP frame.
pub type DecodeError = crate::china::DecodeError<u32>;

/// "SMGP 3.0", for messages.
pub const PROTOCOL: &str = "SMGP 3.0";
/// ClientVersion / ServerVersion 0x30.
pub const VERSION: u8 = 0x30;

/// LoginMode (SMGP 3.0 §5.2.1).
pub mod login_mode {
    /// Send only (the SP submits).
    pub const SEND: u8 = 0;
    /// Receive only (the gateway delivers MO and reports).
    pub const RECEIVE: u8 = 1;
    /// Both.
    pub const TRANSMIT: u8 = 2;
}

/// Status 0: success.
pub const STATUS_OK: u32 = 0;
/// Login_Resp Status 21: authentication failed (SMGP 3.0 appendix, "认证错").
pub const STATUS_AUTH_FAILED: u32 = 21;
/// Status 75: flow control, too fast ("超过流量限制"; provinces vary, see the reference).
pub const STATUS_FLOW_CONTROL: u32 = 75;
