//! SMGP 3.0 TLVs (§5.3): Tag(2) Length(2) Value after the fixed body of Submit and Deliver.

use bytes::Bytes;

use crate::china::DecodeErrorKind;
use crate::china::read::Reader;

/// One optional parameter; the value is a slice of the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tlv {
    /// Tag.
    pub tag: u16,
    /// Value.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::china::serde_octets::hex_bytes")
    )]
    pub value: Bytes,
}

/// TP_pid (1).
pub const TP_PID: u16 = 0x0001;
/// TP_udhi (1).
pub const TP_UDHI: u16 = 0x0002;
/// LinkID (20).
pub const LINK_ID: u16 = 0x0003;
/// PkTotal (1).
pub const PK_TOTAL: u16 = 0x0009;
/// PkNumber (1).
pub const PK_NUMBER: u16 = 0x000A;
/// SubmitMsgType (1).
pub const SUBMIT_MSG_TYPE: u16 = 0x000B;
/// SPDealResult (1).
pub const SP_DEAL_RESULT: u16 = 0x000C;

/// Spec name of a tag.
#[must_use]
pub const fn tag_name(tag: u16) -> Option<&'static str> {
    Some(match tag {
        0x0001 => "TP_pid",
        0x0002 => "TP_udhi",
        0x0003 => "LinkID",
        0x0004 => "ChargeUserType",
        0x0005 => "ChargeTermType",
        0x0006 => "ChargeTermPseudo",
        0x0007 => "DestTermType",
        0x0008 => "DestTermPseudo",
        0x0009 => "PkTotal",
        0x000A => "PkNumber",
        0x000B => "SubmitMsgType",
        0x000C => "SPDealResult",
        0x000D => "SrcTermType",
        0x000E => "SrcTermPseudo",
        0x000F => "NodesCount",
        0x0010 => "MsgSrc",
        0x0011 => "SrcType",
        0x0012 => "MServiceID",
        _ => return None,
    })
}

impl Tlv {
    /// A one-octet TLV (TP_pid, TP_udhi, PkTotal, PkNumber, …).
    #[must_use]
    pub fn u8(tag: u16, value: u8) -> Self {
        Self {
            tag,
            value: Bytes::copy_from_slice(&[value]),
        }
    }

    /// The value as one octet, when it is one.
    #[must_use]
    pub fn as_u8(&self) -> Option<u8> {
        match self.value[..] {
            [value] => Some(value),
            _ => None,
        }
    }

    /// Octets on the wire.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        4 + self.value.len()
    }
}

/// Reads TLVs to the end of the frame. Each is checked to fit before its value is sliced;
/// the list grows by one entry per four or more octets of the (capped) frame.
pub(crate) fn read_all(r: &mut Reader<'_>) -> Result<Vec<Tlv>, DecodeErrorKind> {
    let mut tlvs = Vec::new();
    while r.remaining() > 0 {
        let offset = r.offset();
        let tag = r.u16("TLV tag")?;
        let length = r.u16("TLV length")?;
        let value =
            r.octets(usize::from(length), "TLV value")
                .map_err(|_| DecodeErrorKind::Tlv {
                    offset,
                    tag,
                    length,
                })?;
        tlvs.push(Tlv { tag, value });
    }
    Ok(tlvs)
}

/// The first TLV with `tag`.
#[must_use]
pub fn find(tlvs: &[Tlv], tag: u16) -> Option<&Tlv> {
    tlvs.iter().find(|tlv| tlv.tag == tag)
}
