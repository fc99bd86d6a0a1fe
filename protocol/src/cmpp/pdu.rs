//! Typed CMPP packets (CMPP 3.0 §7.4; 2.0 differences noted per field). Text fields are
//! zero-copy slices of the frame with their 0x00 padding trimmed; [`super::encode`] pads
//! them back and refuses values wider than the field.

use bytes::Bytes;

/// One CMPP packet: the header's Sequence_Id and the body (the Command_Id follows from the
/// body, Total_Length from the encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pdu {
    /// Sequence_Id.
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
    /// CMPP_CONNECT.
    Connect(Connect),
    /// CMPP_CONNECT_RESP.
    ConnectResp(ConnectResp),
    /// CMPP_TERMINATE (no body).
    Terminate,
    /// CMPP_TERMINATE_RESP (no body).
    TerminateResp,
    /// CMPP_SUBMIT.
    Submit(Submit),
    /// CMPP_SUBMIT_RESP.
    SubmitResp(SubmitResp),
    /// CMPP_DELIVER.
    Deliver(Deliver),
    /// CMPP_DELIVER_RESP.
    DeliverResp(DeliverResp),
    /// CMPP_QUERY.
    Query(Query),
    /// CMPP_QUERY_RESP.
    QueryResp(QueryResp),
    /// CMPP_CANCEL.
    Cancel(Cancel),
    /// CMPP_CANCEL_RESP.
    CancelResp(CancelResp),
    /// CMPP_ACTIVE_TEST (no body).
    ActiveTest,
    /// CMPP_ACTIVE_TEST_RESP.
    ActiveTestResp(ActiveTestResp),
}

/// CMPP_CONNECT (§7.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Connect {
    /// Source_Addr (6): the SP's enterprise code.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub source_addr: Bytes,
    /// AuthenticatorSource (16) = MD5(Source_Addr + 9 × 0x00 + secret + MMDDHHMMSS).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_array")
    )]
    pub authenticator_source: [u8; 16],
    /// Version (1): 0x20 (some peers 0x21) or 0x30.
    pub version: u8,
    /// Timestamp (4): MMDDHHMMSS as an integer.
    pub timestamp: u32,
}

/// CMPP_CONNECT_RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConnectResp {
    /// Status (1 in 2.0, 4 in 3.0): 0 ok, 1 bad structure, 2 bad Source_Addr, 3
    /// authentication failed, 4 version too high.
    pub status: u32,
    /// AuthenticatorISMG (16) = MD5(Status + AuthenticatorSource + secret).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_array")
    )]
    pub authenticator_ismg: [u8; 16],
    /// Version (1): the highest the ISMG supports.
    pub version: u8,
}

/// CMPP_SUBMIT (§7.4.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Submit {
    /// Msg_Id (8): 0 from the SP; the ISMG assigns it in the response.
    pub msg_id: u64,
    /// Pk_total (1): parts of this message.
    pub pk_total: u8,
    /// Pk_number (1): this part, from 1.
    pub pk_number: u8,
    /// Registered_Delivery (1): 1 asks for a status report.
    pub registered_delivery: u8,
    /// Msg_level (1).
    pub msg_level: u8,
    /// Service_Id (10).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub service_id: Bytes,
    /// Fee_UserType (1): 0 destination, 1 source, 2 SP, 3 Fee_terminal_Id.
    pub fee_user_type: u8,
    /// Fee_terminal_Id (21 in 2.0, 32 in 3.0).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fee_terminal_id: Bytes,
    /// Fee_terminal_type (1, 3.0 only): 0 real number, 1 pseudo-code.
    pub fee_terminal_type: u8,
    /// TP_pId (1).
    pub tp_pid: u8,
    /// TP_udhi (1): 1 when Msg_Content starts with a user data header.
    pub tp_udhi: u8,
    /// Msg_Fmt (1): 0 ASCII, 3 write-card, 4 binary, 8 UCS-2, 15 GBK.
    pub msg_fmt: u8,
    /// Msg_src (6): the SP's enterprise code.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub msg_src: Bytes,
    /// FeeType (2): "01" free, "02" per message, "03" monthly, …
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fee_type: Bytes,
    /// FeeCode (6): fee in fen.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fee_code: Bytes,
    /// ValId_Time (17): SMPP-style time, empty for the default.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub valid_time: Bytes,
    /// At_Time (17): scheduled delivery, empty for now.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub at_time: Bytes,
    /// Src_Id (21): the source number the handset sees.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub src_id: Bytes,
    /// Dest_terminal_Id (21 or 32 each), DestUsr_tl (1) of them, at most 100.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::latin1_list")
    )]
    pub dest_terminal_ids: Vec<Bytes>,
    /// Dest_terminal_type (1, 3.0 only).
    pub dest_terminal_type: u8,
    /// Msg_Content, Msg_Length (1) octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub msg_content: Bytes,
    /// LinkID (20, 3.0 only).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub link_id: Bytes,
    /// Reserve (8, 2.0 only).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// CMPP_SUBMIT_RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SubmitResp {
    /// Msg_Id (8): the ISMG's id, which the status report will carry.
    pub msg_id: u64,
    /// Result (1 in 2.0, 4 in 3.0): 0 ok, 8 flow control, …
    pub result: u32,
}

/// CMPP_DELIVER (§7.4.3.5): MO, or a status report when Registered_Delivery is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Deliver {
    /// Msg_Id (8): the ISMG's id of this DELIVER.
    pub msg_id: u64,
    /// Dest_Id (21): the SP number the user sent to.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub dest_id: Bytes,
    /// Service_Id (10).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub service_id: Bytes,
    /// TP_pid (1).
    pub tp_pid: u8,
    /// TP_udhi (1).
    pub tp_udhi: u8,
    /// Msg_Fmt (1).
    pub msg_fmt: u8,
    /// Src_terminal_Id (21 in 2.0, 32 in 3.0).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub src_terminal_id: Bytes,
    /// Src_terminal_type (1, 3.0 only).
    pub src_terminal_type: u8,
    /// Registered_Delivery (1): 1 = Msg_Content is a [`super::StatusReport`].
    pub registered_delivery: u8,
    /// Msg_Content, Msg_Length (1) octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub msg_content: Bytes,
    /// LinkID (20, 3.0 only).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub link_id: Bytes,
    /// Reserved (8, 2.0 only).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// CMPP_DELIVER_RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeliverResp {
    /// Msg_Id (8) of the DELIVER.
    pub msg_id: u64,
    /// Result (1 in 2.0, 4 in 3.0).
    pub result: u32,
}

/// CMPP_QUERY (§7.4.3.7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Query {
    /// Time (8): YYYYMMDD.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub time: Bytes,
    /// Query_Type (1): 0 totals, 1 by service.
    pub query_type: u8,
    /// Query_Code (10): the Service_Id when Query_Type is 1.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub query_code: Bytes,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// CMPP_QUERY_RESP: the day's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QueryResp {
    /// Time (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub time: Bytes,
    /// Query_Type (1).
    pub query_type: u8,
    /// Query_Code (10).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub query_code: Bytes,
    /// MT_TLMsg (4): MT messages received from the SP.
    pub mt_tlmsg: u32,
    /// MT_Tlusr (4): MT users.
    pub mt_tlusr: u32,
    /// MT_Scs (4): MT forwarded.
    pub mt_scs: u32,
    /// MT_WT (4): MT waiting.
    pub mt_wt: u32,
    /// MT_FL (4): MT failed.
    pub mt_fl: u32,
    /// MO_Scs (4): MO delivered.
    pub mo_scs: u32,
    /// MO_WT (4): MO waiting.
    pub mo_wt: u32,
    /// MO_FL (4): MO failed.
    pub mo_fl: u32,
}

/// CMPP_CANCEL (§7.4.3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Cancel {
    /// Msg_Id (8) of the SUBMIT to cancel.
    pub msg_id: u64,
}

/// CMPP_CANCEL_RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CancelResp {
    /// Success_Id (1 in 2.0, 4 in 3.0): 0 ok, 1 failed.
    pub success_id: u32,
}

/// CMPP_ACTIVE_TEST_RESP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActiveTestResp {
    /// Reserved (1).
    pub reserved: u8,
}

impl Body {
    /// The command of this body.
    #[must_use]
    pub const fn command_id(&self) -> super::CommandId {
        use super::CommandId as C;
        match self {
            Self::Connect(_) => C::Connect,
            Self::ConnectResp(_) => C::ConnectResp,
            Self::Terminate => C::Terminate,
            Self::TerminateResp => C::TerminateResp,
            Self::Submit(_) => C::Submit,
            Self::SubmitResp(_) => C::SubmitResp,
            Self::Deliver(_) => C::Deliver,
            Self::DeliverResp(_) => C::DeliverResp,
            Self::Query(_) => C::Query,
            Self::QueryResp(_) => C::QueryResp,
            Self::Cancel(_) => C::Cancel,
            Self::CancelResp(_) => C::CancelResp,
            Self::ActiveTest => C::ActiveTest,
            Self::ActiveTestResp(_) => C::ActiveTestResp,
        }
    }
}
