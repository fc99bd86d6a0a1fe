//! `registered_delivery` (reference §5.2): which receipts and acknowledgements to send.

/// The `registered_delivery` octet. Any value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RegisteredDelivery(pub u8);

/// What bits 1–0 ask of the SMSC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmscReceipt {
    /// 00: no receipt.
    None,
    /// 01: a receipt on final success or failure.
    OnSuccessOrFailure,
    /// 10: a receipt on failure only.
    OnFailure,
    /// 11: reserved in 3.4 ("success only" in 5.0).
    Reserved,
}

impl RegisteredDelivery {
    /// Bits 1–0 = 01: receipt on final success or failure.
    pub const RECEIPT_ON_SUCCESS_OR_FAILURE: u8 = 0x01;
    /// Bits 1–0 = 10: receipt on failure only.
    pub const RECEIPT_ON_FAILURE: u8 = 0x02;
    /// Bit 2: SME delivery acknowledgement requested.
    pub const SME_DELIVERY_ACK: u8 = 0x04;
    /// Bit 3: SME manual/user acknowledgement requested.
    pub const SME_USER_ACK: u8 = 0x08;
    /// Bit 4: intermediate notification requested.
    pub const INTERMEDIATE_NOTIFICATION: u8 = 0x10;

    /// The SMSC receipt request, bits 1–0.
    #[must_use]
    pub const fn smsc_receipt(self) -> SmscReceipt {
        match self.0 & 0x03 {
            0 => SmscReceipt::None,
            1 => SmscReceipt::OnSuccessOrFailure,
            2 => SmscReceipt::OnFailure,
            _ => SmscReceipt::Reserved,
        }
    }

    /// Whether any SMSC receipt is requested (bits 1–0 = 01 or 10).
    #[must_use]
    pub const fn wants_receipt(self) -> bool {
        matches!(self.0 & 0x03, 1 | 2)
    }

    /// Whether anything is asked that comes back as a deliver_sm about this message: a
    /// receipt (bits 1–0 01, 10, or the reserved 11 that SMPP 5.0 reads as "success
    /// only"), an SME acknowledgement (bits 3–2) or an intermediate notification (bit 4).
    #[must_use]
    pub const fn asks_for_notification(self) -> bool {
        self.0 & (0x0F | Self::INTERMEDIATE_NOTIFICATION) != 0
    }

    /// The same request with an SMSC receipt on final success or failure (bits 1–0 set
    /// to 01), whatever it asked (none, failure only, the reserved 11): a gateway that
    /// must learn every outcome asks for them all and passes on what its client asked
    /// for. Bits 7–2 are kept.
    #[must_use]
    pub const fn with_receipt(self) -> Self {
        Self(self.0 & !0x03 | Self::RECEIPT_ON_SUCCESS_OR_FAILURE)
    }

    /// Whether a receipt of final state `delivered` (or not) is one this request asks
    /// for: any with 01, failures only with 10, none with 00 or 11.
    #[must_use]
    pub const fn wants_receipt_for(self, delivered: bool) -> bool {
        match self.smsc_receipt() {
            SmscReceipt::OnSuccessOrFailure => true,
            SmscReceipt::OnFailure => !delivered,
            SmscReceipt::None | SmscReceipt::Reserved => false,
        }
    }

    /// The SME acknowledgement bits 3–2, in place (0x04 delivery, 0x08 user, 0x0C both).
    #[must_use]
    pub const fn sme_ack(self) -> u8 {
        self.0 & 0x0C
    }

    /// Whether an intermediate notification is requested (bit 4).
    #[must_use]
    pub const fn intermediate_notification(self) -> bool {
        self.0 & Self::INTERMEDIATE_NOTIFICATION != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_asked_for_whatever_was_asked() {
        // (asked, sent): the SME acknowledgements and the intermediate notification stay;
        // failure only becomes any outcome (the gateway must learn each one).
        for (asked, sent) in [
            (0x00, 0x01),
            (0x03, 0x01),
            (0x1C, 0x1D),
            (0x01, 0x01),
            (0x02, 0x01),
            (0x12, 0x11),
        ] {
            assert_eq!(
                RegisteredDelivery(asked).with_receipt(),
                RegisteredDelivery(sent),
                "{asked:#04x}"
            );
        }
    }

    #[test]
    fn bits() {
        // 0x1D = intermediate + both acks + receipt on any outcome (reference §5.2).
        let rd = RegisteredDelivery(0x1D);
        assert_eq!(rd.smsc_receipt(), SmscReceipt::OnSuccessOrFailure);
        assert_eq!(rd.sme_ack(), 0x0C);
        assert!(rd.intermediate_notification());
        assert!(rd.wants_receipt());
        assert_eq!(
            RegisteredDelivery(0x03).smsc_receipt(),
            SmscReceipt::Reserved
        );
        assert!(!RegisteredDelivery(0x03).wants_receipt());
        assert_eq!(
            RegisteredDelivery(0x02).smsc_receipt(),
            SmscReceipt::OnFailure
        );
    }

    #[test]
    fn which_outcomes_a_request_wants() {
        // (value, delivered wanted, failed wanted)
        for (value, delivered, failed) in [
            (0x00, false, false),
            (0x01, true, true),
            (0x02, false, true),
            (0x03, false, false),
            (0x1E, false, true),
        ] {
            let rd = RegisteredDelivery(value);
            assert_eq!(rd.wants_receipt_for(true), delivered, "{value:#04x}");
            assert_eq!(rd.wants_receipt_for(false), failed, "{value:#04x}");
        }
    }

    #[test]
    fn what_asks_the_smsc_to_report_back() {
        for (value, asks) in [
            (0x00, false),
            (0x04, true),
            (0x08, true),
            (0xE0, false), // bits 7–5 are reserved
            (0x01, true),
            (0x02, true),
            (0x03, true),
            (0x10, true),
            (0x1C, true),
        ] {
            assert_eq!(
                RegisteredDelivery(value).asks_for_notification(),
                asks,
                "{value:#04x}"
            );
        }
    }
}
