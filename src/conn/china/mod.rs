//! A carrier link in CMPP 2.0/3.0 or SMGP 3.0 that looks like an SMPP bind to the pool.
//!
//! The carrier pool speaks SMPP to its binds: it sends `submit_sm` through a [`Link`] and
//! reads `deliver_sm` from an [`Inbound`]. [`connect`] gives it exactly that for a Chinese
//! carrier: one task per connection owns the socket and a sans-IO
//! [`china::session::Session`](smppgate_protocol::china::session::Session) and translates
//! at the edge ([`Wire`]): submit_sm → SUBMIT, SUBMIT_RESP → submit_sm_resp (the carrier's
//! Msg_Id as the message id, its Result as an SMPP status: flow control is
//! `ESME_RTHROTTLED`), status-report DELIVER → a deliver_sm receipt with the same id and
//! the Stat as the carrier wrote it, MO DELIVER → an MO deliver_sm. Retries, failover,
//! throttle back-off, rate limits and receipt matching stay in the pool and the gateway,
//! which do not know the protocol (docs/adr/0013-china-carriers-translated-at-the-edge.md).
//!
//! The DELIVER is answered (DELIVER_RESP) only when the gateway answers the deliver_sm
//! it was turned into: what the carrier sent is never acknowledged before it is kept.

pub(crate) mod cmpp;
mod driver;
pub(crate) mod sgip;
pub(crate) mod sgip_report;
pub(crate) mod smgp;
mod translate;

use std::fmt::Debug;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate_protocol::china::session::{Dialect, SessionConfig};
use smppgate_protocol::china::{Decoded, EncodeError};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DeliverSm, SubmitSm};

use crate::config::{CarrierConfig, CarrierProtocol, MsgFmt};
use crate::esme::{ConnectError, Inbound};

use super::Link;

/// What SUBMIT takes from the carrier's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SubmitSettings {
    /// The SP's enterprise code / ClientID (CMPP Msg_src).
    pub(crate) sp_id: Bytes,
    /// Service_Id.
    pub(crate) service_id: Bytes,
    /// Src_Id: the SP access number; empty: the upstream source address.
    pub(crate) src_id: Bytes,
    /// FeeType.
    pub(crate) fee_type: Bytes,
    /// FeeCode.
    pub(crate) fee_code: Bytes,
    /// Fee_UserType.
    pub(crate) fee_user_type: u8,
    /// Text that is not ASCII goes as GBK (Msg_Fmt 15) instead of UCS-2.
    pub(crate) gbk: bool,
}

impl SubmitSettings {
    pub(crate) fn from_config(config: &CarrierConfig) -> Self {
        let bytes = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        Self {
            sp_id: bytes(&config.system_id),
            service_id: bytes(&config.service_id),
            src_id: bytes(&config.src_id),
            fee_type: bytes(&config.fee_type),
            fee_code: bytes(&config.fee_code),
            fee_user_type: config.fee_user_type,
            gbk: config.msg_fmt == MsgFmt::Gbk,
        }
    }

    /// The Src_Id of a submit whose upstream source address is `source`: the configured
    /// access number, or the upstream source when it extends it (access number plus an
    /// extension) or when none is configured.
    pub(crate) fn src_id_for(&self, source: &Bytes) -> Bytes {
        if self.src_id.is_empty() || source.starts_with(&self.src_id) {
            source.clone()
        } else {
            self.src_id.clone()
        }
    }
}

/// What a DELIVER becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Delivered<M> {
    /// A deliver_sm for the gateway; its answer becomes the DELIVER_RESP for `msg_id`.
    Request {
        /// The deliver_sm (a receipt or an MO).
        deliver_sm: Box<DeliverSm>,
        /// What DELIVER_RESP echoes.
        msg_id: M,
    },
    /// A DELIVER that cannot be read: answered at once with `result`.
    Refuse {
        /// What DELIVER_RESP echoes.
        msg_id: M,
        /// DELIVER_RESP Result.
        result: u32,
        /// Why, for the log.
        why: String,
    },
}

/// One protocol's codec and its translation from and to SMPP.
pub(crate) trait Wire: Send + 'static {
    /// Its packet.
    type Pdu: Debug + Clone + PartialEq + Send + 'static;
    /// Its command ids.
    type Command: Debug + Copy + PartialEq + Send + 'static;
    /// The id a DELIVER_RESP echoes.
    type MsgId: Debug + Copy + Send + 'static;
    /// Its session dialect.
    type Dialect: Dialect<Pdu = Self::Pdu, Command = Self::Command, MsgId = Self::MsgId>
        + Send
        + 'static;

    /// "CMPP 3.0", for logs.
    fn name(&self) -> &'static str;
    /// The session's dialect.
    fn dialect(&self) -> Self::Dialect;
    /// The next frame of `input`, if whole.
    fn decode(&mut self, input: &mut BytesMut) -> Decoded<Self::Pdu, u32>;
    /// Writes `pdu` to `out`.
    ///
    /// # Errors
    /// A field wider than its slot (nothing written).
    fn encode(&self, pdu: &Self::Pdu, out: &mut BytesMut) -> Result<(), EncodeError>;
    /// The SUBMIT for a submit_sm (the session sets its sequence), or the SMPP status that
    /// refuses it (it cannot be said in this protocol).
    ///
    /// # Errors
    /// The status to answer instead.
    fn submit(&self, submit_sm: &SubmitSm) -> Result<Self::Pdu, CommandStatus>;
    /// A SUBMIT response as submit_sm_resp: its status and message id.
    fn submit_resp(&self, pdu: &Self::Pdu) -> (CommandStatus, Bytes);
    /// A DELIVER as a deliver_sm.
    fn deliver(&self, pdu: &Self::Pdu) -> Delivered<Self::MsgId>;
    /// DELIVER_RESP Result for a DELIVER the gateway could not keep yet (the carrier sends
    /// it again).
    fn retry_later(&self) -> u32;
    /// The SMPP status of a refused login (for the bind-refused alert).
    fn login_refused(&self, status: u32) -> CommandStatus;
}

/// The session settings of a carrier.
pub(crate) fn session_config(config: &CarrierConfig) -> SessionConfig {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    SessionConfig {
        login_name: Bytes::copy_from_slice(config.system_id.as_bytes()),
        secret: Bytes::copy_from_slice(config.password.as_bytes()),
        window: config.window.max(1),
        response_timeout_ms: millis(config.response_timeout),
        active_test_interval_ms: millis(config.enquire_link_interval),
        // CMPP 3.0 §6.1: N = 3.
        active_test_max_missed: 3,
    }
}

/// Connects to a CMPP or SMGP carrier, logs in, and returns the link and its inbound
/// stream once logged in.
///
/// # Errors
/// As [`crate::esme::EsmeClient::connect`]: connection refused or timed out, login
/// refused ([`ConnectError::BindRefused`], with the carrier's status mapped to SMPP and
/// logged as sent), no login answer.
pub(crate) async fn connect(
    addr: &str,
    config: &CarrierConfig,
) -> Result<(Link, Inbound), ConnectError> {
    let session = session_config(config);
    let settings = SubmitSettings::from_config(config);
    match config.protocol {
        CarrierProtocol::Cmpp2 => {
            driver::connect(
                addr,
                cmpp::CmppWire::new(smppgate_protocol::cmpp::Version::V2, settings),
                session,
            )
            .await
        }
        CarrierProtocol::Smgp => {
            driver::connect(addr, smgp::SmgpWire::new(settings), session).await
        }
        CarrierProtocol::Sgip => sgip::connect(addr, config).await,
        // SMPP never comes here.
        _ => {
            driver::connect(
                addr,
                cmpp::CmppWire::new(smppgate_protocol::cmpp::Version::V3, settings),
                session,
            )
            .await
        }
    }
}

/// The wall clock as the MMDDHHMMSS of the login authenticator, in China Standard Time
/// (UTC+8: the carriers' gateways compare it with theirs).
pub(crate) fn login_timestamp() -> u32 {
    let seconds = crate::clock::system_wall_ms() / 1000 + 8 * 3600;
    let date = crate::clock::utc_date(seconds);
    smppgate_protocol::china::auth::timestamp(
        u32::from(date.month),
        u32::from(date.day),
        u32::from(date.hour),
        u32::from(date.minute),
        u32::from(date.second),
    )
}
