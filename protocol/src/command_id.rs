//! `command_id`: the SMPP 3.4 operations (reference §1.2) and who may send each (§4.2).

use std::fmt;

/// Bit 31 of a command_id: set on every response (reference §1.1).
pub const RESPONSE_BIT: u32 = 0x8000_0000;

/// Which side of a session may send an operation (reference §1.2 "issued by", §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// Only the ESME (the client) sends it.
    Esme,
    /// Only the SMSC (the server) sends it.
    Smsc,
    /// Either side may send it.
    Both,
}

impl Sender {
    /// Whether an ESME may send the operation.
    #[must_use]
    pub const fn esme(self) -> bool {
        matches!(self, Self::Esme | Self::Both)
    }

    /// Whether an SMSC may send the operation.
    #[must_use]
    pub const fn smsc(self) -> bool {
        matches!(self, Self::Smsc | Self::Both)
    }
}

/// Every SMPP 3.4 operation, requests and responses (reference §1.2).
///
/// The discriminant is the wire value. Anything else (5.0 broadcast operations, vendor
/// extensions) is unknown: [`CommandId::from_u32`] returns `None` and the codec answers a
/// request with `generic_nack`/`ESME_RINVCMDID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum CommandId {
    /// `generic_nack` (0x80000000): header only; itself a response.
    GenericNack = 0x8000_0000,
    /// `bind_receiver` (0x00000001).
    BindReceiver = 0x0000_0001,
    /// `bind_receiver_resp` (0x80000001).
    BindReceiverResp = 0x8000_0001,
    /// `bind_transmitter` (0x00000002).
    BindTransmitter = 0x0000_0002,
    /// `bind_transmitter_resp` (0x80000002).
    BindTransmitterResp = 0x8000_0002,
    /// `query_sm` (0x00000003).
    QuerySm = 0x0000_0003,
    /// `query_sm_resp` (0x80000003).
    QuerySmResp = 0x8000_0003,
    /// `submit_sm` (0x00000004).
    SubmitSm = 0x0000_0004,
    /// `submit_sm_resp` (0x80000004).
    SubmitSmResp = 0x8000_0004,
    /// `deliver_sm` (0x00000005).
    DeliverSm = 0x0000_0005,
    /// `deliver_sm_resp` (0x80000005).
    DeliverSmResp = 0x8000_0005,
    /// `unbind` (0x00000006).
    Unbind = 0x0000_0006,
    /// `unbind_resp` (0x80000006).
    UnbindResp = 0x8000_0006,
    /// `replace_sm` (0x00000007).
    ReplaceSm = 0x0000_0007,
    /// `replace_sm_resp` (0x80000007).
    ReplaceSmResp = 0x8000_0007,
    /// `cancel_sm` (0x00000008).
    CancelSm = 0x0000_0008,
    /// `cancel_sm_resp` (0x80000008).
    CancelSmResp = 0x8000_0008,
    /// `bind_transceiver` (0x00000009).
    BindTransceiver = 0x0000_0009,
    /// `bind_transceiver_resp` (0x80000009).
    BindTransceiverResp = 0x8000_0009,
    /// `outbind` (0x0000000B): no response exists.
    Outbind = 0x0000_000B,
    /// `enquire_link` (0x00000015).
    EnquireLink = 0x0000_0015,
    /// `enquire_link_resp` (0x80000015).
    EnquireLinkResp = 0x8000_0015,
    /// `submit_multi` (0x00000021).
    SubmitMulti = 0x0000_0021,
    /// `submit_multi_resp` (0x80000021).
    SubmitMultiResp = 0x8000_0021,
    /// `alert_notification` (0x00000102): no response exists.
    AlertNotification = 0x0000_0102,
    /// `data_sm` (0x00000103).
    DataSm = 0x0000_0103,
    /// `data_sm_resp` (0x80000103).
    DataSmResp = 0x8000_0103,
}

impl CommandId {
    /// All 3.4 operations, in wire-value order of the request (responses follow their request).
    pub const ALL: [Self; 27] = [
        Self::GenericNack,
        Self::BindReceiver,
        Self::BindReceiverResp,
        Self::BindTransmitter,
        Self::BindTransmitterResp,
        Self::QuerySm,
        Self::QuerySmResp,
        Self::SubmitSm,
        Self::SubmitSmResp,
        Self::DeliverSm,
        Self::DeliverSmResp,
        Self::Unbind,
        Self::UnbindResp,
        Self::ReplaceSm,
        Self::ReplaceSmResp,
        Self::CancelSm,
        Self::CancelSmResp,
        Self::BindTransceiver,
        Self::BindTransceiverResp,
        Self::Outbind,
        Self::EnquireLink,
        Self::EnquireLinkResp,
        Self::SubmitMulti,
        Self::SubmitMultiResp,
        Self::AlertNotification,
        Self::DataSm,
        Self::DataSmResp,
    ];

    /// The operation with this wire value, or `None` when it is not a 3.4 operation.
    #[must_use]
    pub const fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0x8000_0000 => Self::GenericNack,
            0x0000_0001 => Self::BindReceiver,
            0x8000_0001 => Self::BindReceiverResp,
            0x0000_0002 => Self::BindTransmitter,
            0x8000_0002 => Self::BindTransmitterResp,
            0x0000_0003 => Self::QuerySm,
            0x8000_0003 => Self::QuerySmResp,
            0x0000_0004 => Self::SubmitSm,
            0x8000_0004 => Self::SubmitSmResp,
            0x0000_0005 => Self::DeliverSm,
            0x8000_0005 => Self::DeliverSmResp,
            0x0000_0006 => Self::Unbind,
            0x8000_0006 => Self::UnbindResp,
            0x0000_0007 => Self::ReplaceSm,
            0x8000_0007 => Self::ReplaceSmResp,
            0x0000_0008 => Self::CancelSm,
            0x8000_0008 => Self::CancelSmResp,
            0x0000_0009 => Self::BindTransceiver,
            0x8000_0009 => Self::BindTransceiverResp,
            0x0000_000B => Self::Outbind,
            0x0000_0015 => Self::EnquireLink,
            0x8000_0015 => Self::EnquireLinkResp,
            0x0000_0021 => Self::SubmitMulti,
            0x8000_0021 => Self::SubmitMultiResp,
            0x0000_0102 => Self::AlertNotification,
            0x0000_0103 => Self::DataSm,
            0x8000_0103 => Self::DataSmResp,
            _ => return None,
        })
    }

    /// The wire value.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// Whether this is a response (bit 31 set; `generic_nack` counts as one).
    #[must_use]
    pub const fn is_response(self) -> bool {
        self.as_u32() & RESPONSE_BIT != 0
    }

    /// Whether this is a request (the opposite of [`CommandId::is_response`]).
    #[must_use]
    pub const fn is_request(self) -> bool {
        !self.is_response()
    }

    /// The response to this request (`id | 0x80000000`).
    ///
    /// `None` for responses and for the requests that have none: `outbind`,
    /// `alert_notification` (reference §1.2); `generic_nack` is itself a response.
    #[must_use]
    pub const fn response(self) -> Option<Self> {
        match self {
            Self::Outbind | Self::AlertNotification => None,
            _ if self.is_response() => None,
            _ => Self::from_u32(self.as_u32() | RESPONSE_BIT),
        }
    }

    /// The request this response answers; `None` for requests and `generic_nack`.
    #[must_use]
    pub const fn request(self) -> Option<Self> {
        match self {
            Self::GenericNack => None,
            _ if self.is_request() => None,
            _ => Self::from_u32(self.as_u32() & !RESPONSE_BIT),
        }
    }

    /// Who may send this operation (reference §1.2 "issued by", §4.2).
    #[must_use]
    pub const fn sender(self) -> Sender {
        match self {
            Self::BindReceiver
            | Self::BindTransmitter
            | Self::BindTransceiver
            | Self::SubmitSm
            | Self::SubmitMulti
            | Self::QuerySm
            | Self::CancelSm
            | Self::ReplaceSm
            | Self::DeliverSmResp => Sender::Esme,
            Self::BindReceiverResp
            | Self::BindTransmitterResp
            | Self::BindTransceiverResp
            | Self::Outbind
            | Self::SubmitSmResp
            | Self::SubmitMultiResp
            | Self::QuerySmResp
            | Self::CancelSmResp
            | Self::ReplaceSmResp
            | Self::DeliverSm
            | Self::AlertNotification => Sender::Smsc,
            Self::GenericNack
            | Self::Unbind
            | Self::UnbindResp
            | Self::EnquireLink
            | Self::EnquireLinkResp
            | Self::DataSm
            | Self::DataSmResp => Sender::Both,
        }
    }

    /// The spec's snake_case name, e.g. `"submit_sm_resp"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::GenericNack => "generic_nack",
            Self::BindReceiver => "bind_receiver",
            Self::BindReceiverResp => "bind_receiver_resp",
            Self::BindTransmitter => "bind_transmitter",
            Self::BindTransmitterResp => "bind_transmitter_resp",
            Self::QuerySm => "query_sm",
            Self::QuerySmResp => "query_sm_resp",
            Self::SubmitSm => "submit_sm",
            Self::SubmitSmResp => "submit_sm_resp",
            Self::DeliverSm => "deliver_sm",
            Self::DeliverSmResp => "deliver_sm_resp",
            Self::Unbind => "unbind",
            Self::UnbindResp => "unbind_resp",
            Self::ReplaceSm => "replace_sm",
            Self::ReplaceSmResp => "replace_sm_resp",
            Self::CancelSm => "cancel_sm",
            Self::CancelSmResp => "cancel_sm_resp",
            Self::BindTransceiver => "bind_transceiver",
            Self::BindTransceiverResp => "bind_transceiver_resp",
            Self::Outbind => "outbind",
            Self::EnquireLink => "enquire_link",
            Self::EnquireLinkResp => "enquire_link_resp",
            Self::SubmitMulti => "submit_multi",
            Self::SubmitMultiResp => "submit_multi_resp",
            Self::AlertNotification => "alert_notification",
            Self::DataSm => "data_sm",
            Self::DataSmResp => "data_sm_resp",
        }
    }

    /// The operation with this spec name (exact, snake_case), e.g. `"deliver_sm"`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.name() == name)
    }

    /// Whether the operation is one of the three binds.
    #[must_use]
    pub const fn is_bind(self) -> bool {
        matches!(
            self,
            Self::BindReceiver | Self::BindTransmitter | Self::BindTransceiver
        )
    }
}

impl From<CommandId> for u32 {
    fn from(id: CommandId) -> Self {
        id.as_u32()
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        for id in CommandId::ALL {
            assert_eq!(CommandId::from_u32(id.as_u32()), Some(id));
            assert_eq!(CommandId::from_name(id.name()), Some(id));
            assert_eq!(id.to_string(), id.name());
        }
        assert_eq!(
            CommandId::from_u32(0x111),
            None,
            "5.0 broadcast_sm is not 3.4"
        );
        assert_eq!(CommandId::from_u32(0x0100_0001), None);
        assert_eq!(
            CommandId::from_name("submit_sm_resp"),
            Some(CommandId::SubmitSmResp)
        );
        assert_eq!(CommandId::from_name("SUBMIT_SM"), None);
    }

    #[test]
    fn requests_pair_with_responses() {
        for id in CommandId::ALL {
            if let Some(resp) = id.response() {
                assert!(id.is_request());
                assert!(resp.is_response());
                assert_eq!(resp.as_u32(), id.as_u32() | RESPONSE_BIT);
                assert_eq!(resp.request(), Some(id));
                assert_eq!(resp.name(), format!("{}_resp", id.name()));
            }
        }
        assert_eq!(CommandId::Outbind.response(), None);
        assert_eq!(CommandId::AlertNotification.response(), None);
        assert_eq!(CommandId::GenericNack.response(), None);
        assert_eq!(CommandId::GenericNack.request(), None);
        assert!(CommandId::GenericNack.is_response());
        assert_eq!(
            CommandId::SubmitSm.response(),
            Some(CommandId::SubmitSmResp)
        );
        assert_eq!(CommandId::SubmitSmResp.response(), None);
        let requests = CommandId::ALL.iter().filter(|id| id.is_request()).count();
        assert_eq!(requests, 14);
    }

    #[test]
    fn sender_table() {
        assert_eq!(CommandId::SubmitSm.sender(), Sender::Esme);
        assert_eq!(CommandId::SubmitSmResp.sender(), Sender::Smsc);
        assert_eq!(CommandId::DeliverSm.sender(), Sender::Smsc);
        assert_eq!(CommandId::DeliverSmResp.sender(), Sender::Esme);
        assert_eq!(CommandId::Outbind.sender(), Sender::Smsc);
        assert_eq!(CommandId::AlertNotification.sender(), Sender::Smsc);
        assert_eq!(CommandId::DataSm.sender(), Sender::Both);
        assert_eq!(CommandId::EnquireLink.sender(), Sender::Both);
        assert_eq!(CommandId::GenericNack.sender(), Sender::Both);
        // A response is sent by the side that receives the request, except where both may.
        for id in CommandId::ALL {
            if let Some(resp) = id.response() {
                match id.sender() {
                    Sender::Esme => assert_eq!(resp.sender(), Sender::Smsc, "{id}"),
                    Sender::Smsc => assert_eq!(resp.sender(), Sender::Esme, "{id}"),
                    Sender::Both => assert_eq!(resp.sender(), Sender::Both, "{id}"),
                }
            }
        }
        // Usable in const context (the session engine builds tables from it).
        const { assert!(CommandId::SubmitSm.sender().esme()) };
        assert!(!CommandId::SubmitSm.sender().smsc());
    }
}
