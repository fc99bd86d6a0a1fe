//! `esm_class` (reference §5.1): messaging mode, message type and GSM feature bits.

/// The `esm_class` octet. Any value is kept; the helpers test its bit fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EsmClass(pub u8);

impl EsmClass {
    /// Mask of the messaging mode, bits 1–0.
    pub const MODE_MASK: u8 = 0x03;
    /// Mask of the message type, bits 5–2.
    pub const TYPE_MASK: u8 = 0x3C;
    /// Mask of the GSM network features, bits 7–6.
    pub const GSM_MASK: u8 = 0xC0;

    /// Mode 00: SMSC default.
    pub const MODE_DEFAULT: u8 = 0x00;
    /// Mode 01: datagram.
    pub const MODE_DATAGRAM: u8 = 0x01;
    /// Mode 10: forward (transaction).
    pub const MODE_FORWARD: u8 = 0x02;
    /// Mode 11: store and forward.
    pub const MODE_STORE_AND_FORWARD: u8 = 0x03;

    /// Type 0000: default message type.
    pub const TYPE_DEFAULT: u8 = 0x00;
    /// Type 0001 (SMSC → ESME): SMSC delivery receipt.
    pub const TYPE_DELIVERY_RECEIPT: u8 = 0x04;
    /// Type 0010: (ESME/SME) delivery acknowledgement.
    pub const TYPE_DELIVERY_ACK: u8 = 0x08;
    /// Type 0100: (ESME/SME) manual/user acknowledgement.
    pub const TYPE_USER_ACK: u8 = 0x10;
    /// Type 0110 (SMSC → ESME): conversation abort (Korean CDMA).
    pub const TYPE_CONVERSATION_ABORT: u8 = 0x18;
    /// Type 1000 (SMSC → ESME): intermediate delivery notification.
    pub const TYPE_INTERMEDIATE_NOTIFICATION: u8 = 0x20;

    /// Bit 6: UDH indicator, the message starts with a user data header.
    pub const UDHI: u8 = 0x40;
    /// Bit 7: reply path.
    pub const REPLY_PATH: u8 = 0x80;

    /// The messaging mode, bits 1–0 (one of the `MODE_*` consts).
    #[must_use]
    pub const fn messaging_mode(self) -> u8 {
        self.0 & Self::MODE_MASK
    }

    /// The message type, bits 5–2 in place (one of the `TYPE_*` consts).
    #[must_use]
    pub const fn message_type(self) -> u8 {
        self.0 & Self::TYPE_MASK
    }

    /// Whether this flags an SMSC delivery receipt: `esm_class & 0x3C == 0x04`
    /// (reference §5.1; never `== 0x04`, UDHI/reply path may be set).
    #[must_use]
    pub const fn is_delivery_receipt(self) -> bool {
        self.message_type() == Self::TYPE_DELIVERY_RECEIPT
    }

    /// Whether this flags an intermediate delivery notification.
    #[must_use]
    pub const fn is_intermediate_notification(self) -> bool {
        self.message_type() == Self::TYPE_INTERMEDIATE_NOTIFICATION
    }

    /// Whether the UDH indicator (0x40) is set.
    #[must_use]
    pub const fn udhi(self) -> bool {
        self.0 & Self::UDHI != 0
    }

    /// Whether reply path (0x80) is set.
    #[must_use]
    pub const fn reply_path(self) -> bool {
        self.0 & Self::REPLY_PATH != 0
    }

    /// This value with the UDH indicator set or cleared.
    #[must_use]
    pub const fn with_udhi(self, on: bool) -> Self {
        if on {
            Self(self.0 | Self::UDHI)
        } else {
            Self(self.0 & !Self::UDHI)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_is_a_bit_test() {
        assert!(EsmClass(0x04).is_delivery_receipt());
        assert!(EsmClass(0x44).is_delivery_receipt(), "UDHI set");
        assert!(EsmClass(0xC7).is_delivery_receipt(), "all other bits set");
        assert!(!EsmClass(0x00).is_delivery_receipt());
        assert!(!EsmClass(0x08).is_delivery_receipt());
        assert!(!EsmClass(0x0C).is_delivery_receipt());
        assert!(EsmClass(0x20).is_intermediate_notification());
    }

    #[test]
    fn bit_fields() {
        // 0xA1 = reply path + intermediate notification + datagram (reference §5.1).
        let esm = EsmClass(0xA1);
        assert!(esm.reply_path());
        assert!(!esm.udhi());
        assert!(esm.is_intermediate_notification());
        assert_eq!(esm.messaging_mode(), EsmClass::MODE_DATAGRAM);
        assert!(EsmClass(0x40).udhi());
        assert_eq!(EsmClass(0x03).with_udhi(true), EsmClass(0x43));
        assert_eq!(EsmClass(0x43).with_udhi(false), EsmClass(0x03));
    }
}
