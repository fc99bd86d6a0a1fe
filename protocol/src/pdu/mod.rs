//! Typed PDUs: [`Pdu`] = header fields + [`Body`], one file per PDU family (reference §1.3).

mod alert_notification;
mod bind;
mod body;
mod cancel_sm;
mod data_sm;
mod message_id_resp;
mod query_sm;
mod replace_sm;
mod short_message;
mod submit_multi;

pub use alert_notification::AlertNotification;
pub use bind::{Bind, BindResp, INTERFACE_VERSION_3_4, Outbind};
pub use body::Body;
pub use cancel_sm::CancelSm;
pub use data_sm::DataSm;
pub use message_id_resp::{DataSmResp, DeliverSmResp, MessageIdResp, SubmitSmResp};
pub use query_sm::{QuerySm, QuerySmResp};
pub use replace_sm::ReplaceSm;
pub use short_message::{DeliverSm, SM_LENGTH_MAX, ShortMessagePdu, SubmitSm};
pub use submit_multi::{
    DEST_FLAG_DISTRIBUTION_LIST, DEST_FLAG_SME, DestAddress, NUMBER_OF_DESTS_MAX, SubmitMulti,
    SubmitMultiResp, UnsuccessSme,
};

use crate::command_id::CommandId;
use crate::command_status::CommandStatus;
use crate::header::Header;

/// A whole PDU: the header fields that are not derived (command_length and command_id come
/// from the body) and the body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pdu {
    /// sequence_number (any u32 is kept; send 1..=0x7FFFFFFF, reference §4.4).
    pub sequence_number: u32,
    /// command_status (0 in requests; peers sometimes break that, and it is kept).
    pub command_status: CommandStatus,
    /// The body.
    pub body: Body,
}

impl Pdu {
    /// A PDU with status `ESME_ROK`.
    #[must_use]
    pub const fn new(sequence_number: u32, body: Body) -> Self {
        Self {
            sequence_number,
            command_status: CommandStatus::ESME_ROK,
            body,
        }
    }

    /// This PDU with another command_status.
    #[must_use]
    pub const fn with_status(mut self, command_status: CommandStatus) -> Self {
        self.command_status = command_status;
        self
    }

    /// A response to `request` (its sequence_number echoed) with this status and body.
    /// Whether `body` matches the request is the caller's business
    /// ([`CommandId::response`] says which it should be).
    #[must_use]
    pub fn response_to(
        request: &impl SequenceNumber,
        command_status: CommandStatus,
        body: Body,
    ) -> Self {
        Self {
            sequence_number: request.sequence_number(),
            command_status,
            body,
        }
    }

    /// The response to `request` carrying only an error `command_status`: the request's
    /// `_resp` with an empty body (the encoder omits it where the spec says so), or `None`
    /// when the request has no response (outbind, alert_notification) or is itself one.
    #[must_use]
    pub fn error_response(
        request: &impl SequenceNumber,
        request_id: CommandId,
        command_status: CommandStatus,
    ) -> Option<Self> {
        let response = request_id.response()?;
        Some(Self::response_to(
            request,
            command_status,
            Body::empty(response),
        ))
    }

    /// A generic_nack with this sequence_number and status.
    #[must_use]
    pub const fn generic_nack(sequence_number: u32, command_status: CommandStatus) -> Self {
        Self {
            sequence_number,
            command_status,
            body: Body::GenericNack,
        }
    }

    /// The operation of the body.
    #[must_use]
    pub const fn command_id(&self) -> CommandId {
        self.body.command_id()
    }
}

/// Anything that carries a sequence_number a response must echo: a [`Pdu`], a [`Header`],
/// or a bare `u32`.
pub trait SequenceNumber {
    /// The sequence_number.
    fn sequence_number(&self) -> u32;
}

impl SequenceNumber for Pdu {
    fn sequence_number(&self) -> u32 {
        self.sequence_number
    }
}

impl SequenceNumber for Header {
    fn sequence_number(&self) -> u32 {
        self.sequence_number
    }
}

impl SequenceNumber for u32 {
    fn sequence_number(&self) -> u32 {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_echo_the_sequence_number() {
        let request = Pdu::new(0x8000_0001, Body::EnquireLink);
        let response = Pdu::response_to(&request, CommandStatus::ESME_ROK, Body::EnquireLinkResp);
        assert_eq!(response.sequence_number, 0x8000_0001);
        let error = Pdu::error_response(
            &request,
            CommandId::SubmitSm,
            CommandStatus::ESME_RTHROTTLED,
        )
        .unwrap();
        assert_eq!(error.command_id(), CommandId::SubmitSmResp);
        assert_eq!(error.command_status, CommandStatus::ESME_RTHROTTLED);
        assert!(
            Pdu::error_response(&7u32, CommandId::Outbind, CommandStatus::ESME_RSYSERR).is_none()
        );
        let nack = Pdu::generic_nack(0, CommandStatus::ESME_RINVCMDLEN);
        assert!(nack.body.is_response());
        assert!(!nack.body.is_request());
        for id in CommandId::ALL {
            assert_eq!(Body::empty(id).command_id(), id);
        }
    }
}
