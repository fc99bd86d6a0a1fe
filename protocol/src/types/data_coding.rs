//! `data_coding` (reference §5.3).

/// The `data_coding` octet. Any value is kept; the consts name the 3.4 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataCoding(pub u8);

impl DataCoding {
    /// 0x00: SMSC default alphabet (usually GSM 03.38 unpacked; SMSC-specific).
    pub const SMSC_DEFAULT: Self = Self(0x00);
    /// 0x01: IA5 / ASCII.
    pub const IA5: Self = Self(0x01);
    /// 0x02: 8-bit binary.
    pub const BINARY: Self = Self(0x02);
    /// 0x03: Latin-1 (ISO-8859-1).
    pub const LATIN1: Self = Self(0x03);
    /// 0x04: 8-bit binary.
    pub const BINARY_2: Self = Self(0x04);
    /// 0x05: JIS (X 0208-1990).
    pub const JIS: Self = Self(0x05);
    /// 0x06: Cyrillic (ISO-8859-5).
    pub const CYRILLIC: Self = Self(0x06);
    /// 0x07: Latin/Hebrew (ISO-8859-8).
    pub const LATIN_HEBREW: Self = Self(0x07);
    /// 0x08: UCS-2, big-endian.
    pub const UCS2: Self = Self(0x08);
    /// 0x09: pictogram encoding.
    pub const PICTOGRAM: Self = Self(0x09);
    /// 0x0A: ISO-2022-JP (music codes).
    pub const ISO_2022_JP: Self = Self(0x0A);
    /// 0x0D: extended Kanji JIS (X 0212-1990).
    pub const EXTENDED_KANJI_JIS: Self = Self(0x0D);
    /// 0x0E: KS C 5601.
    pub const KS_C_5601: Self = Self(0x0E);

    /// Whether the value is in the GSM "data coding/message class" group 0xF0–0xFF.
    #[must_use]
    pub const fn is_gsm_message_class_group(self) -> bool {
        self.0 >= 0xF0
    }

    /// Whether the value is in the GSM message-waiting groups 0xC0–0xEF.
    #[must_use]
    pub const fn is_gsm_message_waiting_group(self) -> bool {
        matches!(self.0, 0xC0..=0xEF)
    }

    /// The message class (0–3) for the 0xF0–0xFF group, else `None`.
    #[must_use]
    pub const fn message_class(self) -> Option<u8> {
        if self.is_gsm_message_class_group() {
            Some(self.0 & 0x03)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert_eq!(DataCoding(0xF2).message_class(), Some(2));
        assert_eq!(DataCoding::UCS2.message_class(), None);
        assert!(DataCoding(0xC8).is_gsm_message_waiting_group());
        assert!(!DataCoding(0xF0).is_gsm_message_waiting_group());
    }
}
