//! Typed SMGP 3.0 packets (§5.2). Text fields are slices of the frame with their 0x00
//! padding trimmed.

use bytes::Bytes;

use super::MsgId;
use super::tlv::Tlv;

/// One SMGP packet: the header's SequenceID and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pdu {
    /// SequenceID.
    pub sequence_id: u32,
    /// The command and its fields.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub body: Body,
}

/// The body of each command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "command", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Body {
    /// Login.
    Login(Login),
    /// Login_Resp.
    LoginResp(LoginResp),
    /// Submit.
    Submit(Submit),
    /// Submit_Resp.
    SubmitResp(MsgIdStatus),
    /// Deliver.
    Deliver(Deliver),
    /// Deliver_Resp.
    DeliverResp(MsgIdStatus),
    /// Active_Test (no body).
    ActiveTest,
    /// Active_Test_Resp (no body).
    ActiveTestResp,
    /// Exit (no body).
    Exit,
    /// Exit_Resp (no body).
    ExitResp,
}

/// Login (§5.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Login {
    /// ClientID (8): the SP's login name.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub client_id: Bytes,
    /// AuthenticatorClient (16) = MD5(ClientID + 7 × 0x00 + secret + MMDDHHMMSS).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_array")
    )]
    pub authenticator_client: [u8; 16],
    /// LoginMode (1): 0 send, 1 receive, 2 both.
    pub login_mode: u8,
    /// TimeStamp (4): MMDDHHMMSS as an integer.
    pub timestamp: u32,
    /// ClientVersion (1): 0x30.
    pub client_version: u8,
}

/// Login_Resp.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LoginResp {
    /// Status (4).
    pub status: u32,
    /// AuthenticatorServer (16) = MD5(Status + AuthenticatorClient + secret).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_array")
    )]
    pub authenticator_server: [u8; 16],
    /// ServerVersion (1).
    pub server_version: u8,
}

/// Submit (§5.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Submit {
    /// MsgType (1): 6 MT, 7 free on-demand, …
    pub msg_type: u8,
    /// NeedReport (1): 1 asks for a status report.
    pub need_report: u8,
    /// Priority (1): 0–3.
    pub priority: u8,
    /// ServiceID (10).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub service_id: Bytes,
    /// FeeType (2).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fee_type: Bytes,
    /// FeeCode (6).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fee_code: Bytes,
    /// FixedFee (6).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fixed_fee: Bytes,
    /// MsgFormat (1): 0 ASCII, 8 UCS-2, 15 GBK, …
    pub msg_format: u8,
    /// ValidTime (17).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub valid_time: Bytes,
    /// AtTime (17).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub at_time: Bytes,
    /// SrcTermID (21).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub src_term_id: Bytes,
    /// ChargeTermID (21).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub charge_term_id: Bytes,
    /// DestTermID (21 each), DestTermIDCount (1) of them, at most 100.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::latin1_list")
    )]
    pub dest_term_ids: Vec<Bytes>,
    /// MsgContent, MsgLength (1) octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub msg_content: Bytes,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
    /// Optional parameters (TP_pid, TP_udhi, LinkID, PkTotal, PkNumber, …).
    pub tlvs: Vec<Tlv>,
}

/// Deliver (§5.2.5): MO, or a status report when IsReport is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Deliver {
    /// MsgID (10): the gateway's id of this Deliver.
    pub msg_id: MsgId,
    /// IsReport (1): 1 = MsgContent is a [`super::Report`].
    pub is_report: u8,
    /// MsgFormat (1).
    pub msg_format: u8,
    /// RecvTime (14): YYYYMMDDhhmmss.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub recv_time: Bytes,
    /// SrcTermID (21).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub src_term_id: Bytes,
    /// DestTermID (21).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub dest_term_id: Bytes,
    /// MsgContent, MsgLength (1) octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub msg_content: Bytes,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
    /// Optional parameters.
    pub tlvs: Vec<Tlv>,
}

/// Submit_Resp and Deliver_Resp: MsgID(10) Status(4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MsgIdStatus {
    /// MsgID (10).
    pub msg_id: MsgId,
    /// Status (4).
    pub status: u32,
}

impl Body {
    /// The command of this body.
    #[must_use]
    pub const fn command_id(&self) -> super::CommandId {
        use super::CommandId as C;
        match self {
            Self::Login(_) => C::Login,
            Self::LoginResp(_) => C::LoginResp,
            Self::Submit(_) => C::Submit,
            Self::SubmitResp(_) => C::SubmitResp,
            Self::Deliver(_) => C::Deliver,
            Self::DeliverResp(_) => C::DeliverResp,
            Self::ActiveTest => C::ActiveTest,
            Self::ActiveTestResp => C::ActiveTestResp,
            Self::Exit => C::Exit,
            Self::ExitResp => C::ExitResp,
        }
    }
}
