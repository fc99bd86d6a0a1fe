//! The 64-bit Msg_Id (CMPP 3.0 §7.4.3.1 note): month(4) day(5) hour(5) minute(6) second(6)
//! gateway id(22) sequence(16), most significant first. Carriers print it in decimal or in
//! hex; receipts are matched on the 64-bit value.

use std::fmt;

/// A Msg_Id taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgId {
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// The ISMG's gateway code (22 bits).
    pub gateway_id: u32,
    /// Sequence within the second (16 bits).
    pub sequence: u16,
}

impl MsgId {
    /// Takes a Msg_Id apart (any 64-bit value: out-of-range months and days are kept as
    /// they are, for display).
    #[must_use]
    pub const fn from_u64(value: u64) -> Self {
        // Each field is masked to its width before the cast: nothing is truncated.
        Self {
            month: ((value >> 60) & 0xF) as u8,
            day: ((value >> 55) & 0x1F) as u8,
            hour: ((value >> 50) & 0x1F) as u8,
            minute: ((value >> 44) & 0x3F) as u8,
            second: ((value >> 38) & 0x3F) as u8,
            gateway_id: ((value >> 16) & 0x3F_FFFF) as u32,
            sequence: (value & 0xFFFF) as u16,
        }
    }

    /// Puts a Msg_Id together; each field is cut to its width.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        ((self.month as u64 & 0xF) << 60)
            | ((self.day as u64 & 0x1F) << 55)
            | ((self.hour as u64 & 0x1F) << 50)
            | ((self.minute as u64 & 0x3F) << 44)
            | ((self.second as u64 & 0x3F) << 38)
            | ((self.gateway_id as u64 & 0x3F_FFFF) << 16)
            | self.sequence as u64
    }
}

impl fmt::Display for MsgId {
    /// `MMDD hh:mm:ss gateway G sequence S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}{:02} {:02}:{:02}:{:02} gateway {} sequence {}",
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.gateway_id,
            self.sequence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gocmpp_submit_resp_msg_id() {
        // bigwhite/gocmpp submit_test.go: MsgId 12878564852733378560 =
        // b2 b9 da 80 00 01 00 00 = 1011 00101 01110 011101 101010 0000000000000000000001 0.
        let id = MsgId::from_u64(12_878_564_852_733_378_560);
        assert_eq!(
            id,
            MsgId {
                month: 11,
                day: 5,
                hour: 14,
                minute: 29,
                second: 42,
                gateway_id: 1,
                sequence: 0
            }
        );
        assert_eq!(id.to_string(), "1105 14:29:42 gateway 1 sequence 0");
        assert_eq!(id.to_u64(), 12_878_564_852_733_378_560);
    }

    proptest! {
        #[test]
        fn parts_round_trip(value in any::<u64>()) {
            prop_assert_eq!(MsgId::from_u64(value).to_u64(), value);
        }
    }
}
