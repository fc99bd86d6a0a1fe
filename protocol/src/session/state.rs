//! Session states and the per-state legality rules (reference §4.1, §4.2).

use crate::command_id::CommandId;
use crate::pdu::{Bind, Body};

use super::config::Role;

/// The three kinds of bind (reference §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// bind_transmitter: the ESME submits, the SMSC does not deliver.
    Transmitter,
    /// bind_receiver: the SMSC delivers, the ESME does not submit.
    Receiver,
    /// bind_transceiver: both directions (new in 3.4).
    Transceiver,
}

impl BindKind {
    /// The bind request of this kind.
    #[must_use]
    pub const fn command_id(self) -> CommandId {
        match self {
            Self::Transmitter => CommandId::BindTransmitter,
            Self::Receiver => CommandId::BindReceiver,
            Self::Transceiver => CommandId::BindTransceiver,
        }
    }

    /// The kind of a bind request or bind response; `None` for any other operation.
    #[must_use]
    pub const fn from_command_id(command_id: CommandId) -> Option<Self> {
        match command_id {
            CommandId::BindTransmitter | CommandId::BindTransmitterResp => Some(Self::Transmitter),
            CommandId::BindReceiver | CommandId::BindReceiverResp => Some(Self::Receiver),
            CommandId::BindTransceiver | CommandId::BindTransceiverResp => Some(Self::Transceiver),
            _ => None,
        }
    }

    /// Whether the ESME may send messages (submit_sm, data_sm, …) on this bind.
    #[must_use]
    pub const fn esme_sends(self) -> bool {
        matches!(self, Self::Transmitter | Self::Transceiver)
    }

    /// Whether the SMSC may send messages (deliver_sm, data_sm, alert_notification) on this
    /// bind.
    #[must_use]
    pub const fn smsc_sends(self) -> bool {
        matches!(self, Self::Receiver | Self::Transceiver)
    }

    /// Whether `sender` may originate message traffic on this bind.
    #[must_use]
    pub const fn lets(self, sender: Role) -> bool {
        match sender {
            Role::Esme => self.esme_sends(),
            Role::Smsc => self.smsc_sends(),
        }
    }

    /// The bind request body of this kind.
    #[must_use]
    pub fn request_body(self, bind: Bind) -> Body {
        match self {
            Self::Transmitter => Body::BindTransmitter(bind),
            Self::Receiver => Body::BindReceiver(bind),
            Self::Transceiver => Body::BindTransceiver(bind),
        }
    }
}

/// Where a session is (reference §4.1; 5.0's OUTBOUND and UNBOUND included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Connected, not bound, no bind in progress.
    Open,
    /// Outbind sent (SMSC) or received (ESME): the ESME must now bind as a receiver.
    Outbound,
    /// A bind is in progress: ESME waiting for bind_resp, or SMSC waiting for the
    /// application to accept or reject it.
    Binding(BindKind),
    /// Bound.
    Bound(BindKind),
    /// unbind requested by either side; draining, then unbind / unbind_resp.
    Unbinding,
    /// Closed: nothing more is accepted; the driver closes the connection once
    /// `poll_transmit` is drained.
    Closed,
}

/// Whether `sender` may originate `command_id` at all (the core's table, reference §1.2).
#[must_use]
pub const fn may_send(sender: Role, command_id: CommandId) -> bool {
    match sender {
        Role::Esme => command_id.sender().esme(),
        Role::Smsc => command_id.sender().smsc(),
    }
}

/// Whether a request from `sender` is legal on a session bound as `kind` (reference §4.2).
///
/// Session housekeeping (enquire_link, unbind) is legal on every bind; message traffic
/// needs a bind that lets its sender send: ESME → SMSC (submit_sm, submit_multi, query_sm,
/// cancel_sm, replace_sm, data_sm) needs TX/TRX, SMSC → ESME (deliver_sm, data_sm,
/// alert_notification) needs RX/TRX. replace_sm on TRX is allowed, as jsmpp does. Binds and
/// outbind are never legal once bound.
#[must_use]
pub const fn request_allowed_when_bound(
    kind: BindKind,
    sender: Role,
    command_id: CommandId,
) -> bool {
    if !may_send(sender, command_id) {
        return false;
    }
    match command_id {
        CommandId::EnquireLink | CommandId::Unbind => true,
        CommandId::BindReceiver
        | CommandId::BindTransmitter
        | CommandId::BindTransceiver
        | CommandId::Outbind => false,
        _ => kind.lets(sender),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_kinds() {
        for kind in [
            BindKind::Transmitter,
            BindKind::Receiver,
            BindKind::Transceiver,
        ] {
            assert_eq!(BindKind::from_command_id(kind.command_id()), Some(kind));
            assert_eq!(
                BindKind::from_command_id(kind.command_id().response().unwrap()),
                Some(kind)
            );
            assert_eq!(
                kind.request_body(Bind::default()).command_id(),
                kind.command_id()
            );
        }
        assert_eq!(BindKind::from_command_id(CommandId::SubmitSm), None);
    }

    #[test]
    fn table_4_2() {
        use BindKind::{Receiver as Rx, Transceiver as Trx, Transmitter as Tx};
        use CommandId as C;
        use Role::{Esme, Smsc};
        let cases = [
            (C::SubmitSm, Esme, [true, false, true]),
            (C::SubmitMulti, Esme, [true, false, true]),
            (C::QuerySm, Esme, [true, false, true]),
            (C::CancelSm, Esme, [true, false, true]),
            (C::ReplaceSm, Esme, [true, false, true]),
            (C::DataSm, Esme, [true, false, true]),
            (C::DeliverSm, Smsc, [false, true, true]),
            (C::DataSm, Smsc, [false, true, true]),
            (C::AlertNotification, Smsc, [false, true, true]),
            (C::EnquireLink, Esme, [true, true, true]),
            (C::EnquireLink, Smsc, [true, true, true]),
            (C::Unbind, Smsc, [true, true, true]),
            (C::BindTransmitter, Esme, [false, false, false]),
            (C::Outbind, Smsc, [false, false, false]),
            // Wrong side: never legal.
            (C::SubmitSm, Smsc, [false, false, false]),
            (C::DeliverSm, Esme, [false, false, false]),
        ];
        for (command_id, sender, expected) in cases {
            for (kind, legal) in [Tx, Rx, Trx].into_iter().zip(expected) {
                assert_eq!(
                    request_allowed_when_bound(kind, sender, command_id),
                    legal,
                    "{command_id} from {sender:?} on {kind:?}"
                );
            }
        }
    }
}
