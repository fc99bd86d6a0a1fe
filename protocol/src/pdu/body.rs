//! [`Body`]: one variant per SMPP 3.4 operation.

use super::{
    AlertNotification, Bind, BindResp, CancelSm, DataSm, DataSmResp, DeliverSm, DeliverSmResp,
    Outbind, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti, SubmitMultiResp, SubmitSm, SubmitSmResp,
};
use crate::command_id::CommandId;

/// The body of a PDU, one variant per operation; header-only operations are unit variants.
///
/// Variants hold their struct inline (no `Box`): decoding allocates nothing but a
/// submit_multi's destination lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Body {
    /// generic_nack (header only).
    GenericNack,
    /// bind_receiver.
    BindReceiver(Bind),
    /// bind_receiver_resp.
    BindReceiverResp(BindResp),
    /// bind_transmitter.
    BindTransmitter(Bind),
    /// bind_transmitter_resp.
    BindTransmitterResp(BindResp),
    /// query_sm.
    QuerySm(QuerySm),
    /// query_sm_resp.
    QuerySmResp(QuerySmResp),
    /// submit_sm.
    SubmitSm(SubmitSm),
    /// submit_sm_resp.
    SubmitSmResp(SubmitSmResp),
    /// deliver_sm.
    DeliverSm(DeliverSm),
    /// deliver_sm_resp.
    DeliverSmResp(DeliverSmResp),
    /// unbind (header only).
    Unbind,
    /// unbind_resp (header only).
    UnbindResp,
    /// replace_sm.
    ReplaceSm(ReplaceSm),
    /// replace_sm_resp (header only).
    ReplaceSmResp,
    /// cancel_sm.
    CancelSm(CancelSm),
    /// cancel_sm_resp (header only).
    CancelSmResp,
    /// bind_transceiver.
    BindTransceiver(Bind),
    /// bind_transceiver_resp.
    BindTransceiverResp(BindResp),
    /// outbind.
    Outbind(Outbind),
    /// enquire_link (header only).
    EnquireLink,
    /// enquire_link_resp (header only).
    EnquireLinkResp,
    /// submit_multi.
    SubmitMulti(SubmitMulti),
    /// submit_multi_resp.
    SubmitMultiResp(SubmitMultiResp),
    /// alert_notification.
    AlertNotification(AlertNotification),
    /// data_sm.
    DataSm(DataSm),
    /// data_sm_resp.
    DataSmResp(DataSmResp),
}

impl Body {
    /// The operation of this body.
    #[must_use]
    pub const fn command_id(&self) -> CommandId {
        match self {
            Self::GenericNack => CommandId::GenericNack,
            Self::BindReceiver(_) => CommandId::BindReceiver,
            Self::BindReceiverResp(_) => CommandId::BindReceiverResp,
            Self::BindTransmitter(_) => CommandId::BindTransmitter,
            Self::BindTransmitterResp(_) => CommandId::BindTransmitterResp,
            Self::QuerySm(_) => CommandId::QuerySm,
            Self::QuerySmResp(_) => CommandId::QuerySmResp,
            Self::SubmitSm(_) => CommandId::SubmitSm,
            Self::SubmitSmResp(_) => CommandId::SubmitSmResp,
            Self::DeliverSm(_) => CommandId::DeliverSm,
            Self::DeliverSmResp(_) => CommandId::DeliverSmResp,
            Self::Unbind => CommandId::Unbind,
            Self::UnbindResp => CommandId::UnbindResp,
            Self::ReplaceSm(_) => CommandId::ReplaceSm,
            Self::ReplaceSmResp => CommandId::ReplaceSmResp,
            Self::CancelSm(_) => CommandId::CancelSm,
            Self::CancelSmResp => CommandId::CancelSmResp,
            Self::BindTransceiver(_) => CommandId::BindTransceiver,
            Self::BindTransceiverResp(_) => CommandId::BindTransceiverResp,
            Self::Outbind(_) => CommandId::Outbind,
            Self::EnquireLink => CommandId::EnquireLink,
            Self::EnquireLinkResp => CommandId::EnquireLinkResp,
            Self::SubmitMulti(_) => CommandId::SubmitMulti,
            Self::SubmitMultiResp(_) => CommandId::SubmitMultiResp,
            Self::AlertNotification(_) => CommandId::AlertNotification,
            Self::DataSm(_) => CommandId::DataSm,
            Self::DataSmResp(_) => CommandId::DataSmResp,
        }
    }

    /// Whether this is a request.
    #[must_use]
    pub const fn is_request(&self) -> bool {
        self.command_id().is_request()
    }

    /// Whether this is a response (generic_nack included).
    #[must_use]
    pub const fn is_response(&self) -> bool {
        self.command_id().is_response()
    }

    /// The empty body of an operation: header-only variants as they are, structs at their
    /// `Default` (all fields NULL). What the decoder yields for a response received without
    /// a body, and what an error response carries.
    #[must_use]
    pub fn empty(command_id: CommandId) -> Self {
        match command_id {
            CommandId::GenericNack => Self::GenericNack,
            CommandId::BindReceiver => Self::BindReceiver(Bind::default()),
            CommandId::BindReceiverResp => Self::BindReceiverResp(BindResp::default()),
            CommandId::BindTransmitter => Self::BindTransmitter(Bind::default()),
            CommandId::BindTransmitterResp => Self::BindTransmitterResp(BindResp::default()),
            CommandId::QuerySm => Self::QuerySm(QuerySm::default()),
            CommandId::QuerySmResp => Self::QuerySmResp(QuerySmResp::default()),
            CommandId::SubmitSm => Self::SubmitSm(SubmitSm::default()),
            CommandId::SubmitSmResp => Self::SubmitSmResp(SubmitSmResp::default()),
            CommandId::DeliverSm => Self::DeliverSm(DeliverSm::default()),
            CommandId::DeliverSmResp => Self::DeliverSmResp(DeliverSmResp::default()),
            CommandId::Unbind => Self::Unbind,
            CommandId::UnbindResp => Self::UnbindResp,
            CommandId::ReplaceSm => Self::ReplaceSm(ReplaceSm::default()),
            CommandId::ReplaceSmResp => Self::ReplaceSmResp,
            CommandId::CancelSm => Self::CancelSm(CancelSm::default()),
            CommandId::CancelSmResp => Self::CancelSmResp,
            CommandId::BindTransceiver => Self::BindTransceiver(Bind::default()),
            CommandId::BindTransceiverResp => Self::BindTransceiverResp(BindResp::default()),
            CommandId::Outbind => Self::Outbind(Outbind::default()),
            CommandId::EnquireLink => Self::EnquireLink,
            CommandId::EnquireLinkResp => Self::EnquireLinkResp,
            CommandId::SubmitMulti => Self::SubmitMulti(SubmitMulti::default()),
            CommandId::SubmitMultiResp => Self::SubmitMultiResp(SubmitMultiResp::default()),
            CommandId::AlertNotification => Self::AlertNotification(AlertNotification::default()),
            CommandId::DataSm => Self::DataSm(DataSm::default()),
            CommandId::DataSmResp => Self::DataSmResp(DataSmResp::default()),
        }
    }
}
