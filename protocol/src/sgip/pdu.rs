//! Typed SGIP 1.2 packets (§4.2.3).

use bytes::Bytes;

use super::Sequence;

/// One SGIP packet: the header's sequence triple and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pdu {
    /// Sequence Number (12).
    pub sequence: Sequence,
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
    /// Bind.
    Bind(Bind),
    /// Bind_Resp.
    BindResp(Resp),
    /// Unbind (no body).
    Unbind,
    /// Unbind_Resp (no body).
    UnbindResp,
    /// Submit (boxed: four times the size of the other bodies).
    Submit(Box<Submit>),
    /// Submit_Resp.
    SubmitResp(Resp),
    /// Deliver.
    Deliver(Deliver),
    /// Deliver_Resp.
    DeliverResp(Resp),
    /// Report.
    Report(Report),
    /// Report_Resp.
    ReportResp(Resp),
}

/// Bind (§4.2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Bind {
    /// Login Type (1): 1 SP→SMG, 2 SMG→SP.
    pub login_type: u8,
    /// Login Name (16).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub login_name: Bytes,
    /// Login Password (16), in clear: SGIP has no authenticator.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub login_password: Bytes,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// Every response with a body: Result(1) Reserve(8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Resp {
    /// Result (1): 0 ok, 1 illegal login, …
    pub result: u8,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// Submit (§4.2.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Submit {
    /// SPNumber (21): the source number.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub sp_number: Bytes,
    /// ChargeNumber (21).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub charge_number: Bytes,
    /// UserNumber (21 each), UserCount (1) of them, at most 100.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::latin1_list")
    )]
    pub user_numbers: Vec<Bytes>,
    /// CorpId (5).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub corp_id: Bytes,
    /// ServiceType (10).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub service_type: Bytes,
    /// FeeType (1).
    pub fee_type: u8,
    /// FeeValue (6).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub fee_value: Bytes,
    /// GivenValue (6).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub given_value: Bytes,
    /// AgentFlag (1).
    pub agent_flag: u8,
    /// MorelatetoMTFlag (1).
    pub morelateto_mt_flag: u8,
    /// Priority (1).
    pub priority: u8,
    /// ExpireTime (16).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub expire_time: Bytes,
    /// ScheduleTime (16).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub schedule_time: Bytes,
    /// ReportFlag (1): 0 on error only, 1 always, 2 never, 3 charge only.
    pub report_flag: u8,
    /// TP_pid (1).
    pub tp_pid: u8,
    /// TP_udhi (1).
    pub tp_udhi: u8,
    /// MessageCoding (1): 0 ASCII, 8 UCS-2, 15 GBK, …
    pub message_coding: u8,
    /// MessageType (1): 0 SMS.
    pub message_type: u8,
    /// MessageContent, MessageLength (4) octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub message_content: Bytes,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// Deliver (§4.2.3.4): MO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Deliver {
    /// UserNumber (21): the handset.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub user_number: Bytes,
    /// SPNumber (21): the number it sent to.
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub sp_number: Bytes,
    /// TP_pid (1).
    pub tp_pid: u8,
    /// TP_udhi (1).
    pub tp_udhi: u8,
    /// MessageCoding (1).
    pub message_coding: u8,
    /// MessageContent, MessageLength (4) octets.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub message_content: Bytes,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

/// Report (§4.2.3.5): the outcome of a Submit, on the connection the SMG opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Report {
    /// SubmitSequenceNumber (12): the Submit's header sequence.
    pub submit_sequence: Sequence,
    /// ReportType (1): 0 about an earlier Submit, 1 about an earlier MO.
    pub report_type: u8,
    /// UserNumber (21).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub user_number: Bytes,
    /// State (1): 0 delivered, 1 waiting, 2 failed.
    pub state: u8,
    /// ErrorCode (1).
    pub error_code: u8,
    /// Reserve (8).
    #[cfg_attr(feature = "serde", serde(with = "crate::china::serde_octets::latin1"))]
    pub reserve: Bytes,
}

impl Body {
    /// The command of this body.
    #[must_use]
    pub const fn command_id(&self) -> super::CommandId {
        use super::CommandId as C;
        match self {
            Self::Bind(_) => C::Bind,
            Self::BindResp(_) => C::BindResp,
            Self::Unbind => C::Unbind,
            Self::UnbindResp => C::UnbindResp,
            Self::Submit(_) => C::Submit,
            Self::SubmitResp(_) => C::SubmitResp,
            Self::Deliver(_) => C::Deliver,
            Self::DeliverResp(_) => C::DeliverResp,
            Self::Report(_) => C::Report,
            Self::ReportResp(_) => C::ReportResp,
        }
    }
}
