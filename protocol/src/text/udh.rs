//! User Data Header (3GPP TS 23.040 §9.2.3.24): parsed as a list of information elements
//! so that concatenation can share the header with ports, shift tables or anything else.

use thiserror::Error;

/// IEI of concatenation with an 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of 8-bit application port addressing.
pub const IEI_PORTS_8: u8 = 0x04;
/// IEI of 16-bit application port addressing.
pub const IEI_PORTS_16: u8 = 0x05;
/// IEI of concatenation with a 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI of the national language single shift.
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// IEI of the national language locking shift.
pub const IEI_LOCKING_SHIFT: u8 = 0x25;

/// Why a UDH could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UdhError {
    /// The message is empty, so there is no UDHL octet.
    #[error("UDHI is set but the user data is empty")]
    Empty,
    /// UDHL points past the end of the user data.
    #[error("UDH length {udhl} exceeds the {available} octets that follow it")]
    TooLong {
        /// The UDHL octet.
        udhl: usize,
        /// Octets after UDHL.
        available: usize,
    },
    /// An information element's length runs past the end of the header.
    #[error("information element 0x{iei:02X} at offset {offset} overruns the UDH")]
    TruncatedElement {
        /// The element's identifier.
        iei: u8,
        /// Its offset inside the header (after UDHL).
        offset: usize,
    },
}

/// A concatenation element (IEI 0x00 or 0x08), or the SAR TLV triple expressed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by all parts of one message (8-bit values fit in the low byte).
    pub reference: u16,
    /// Whether the reference is 16 bits wide (IEI 0x08, or SAR).
    pub wide_reference: bool,
    /// Total number of parts, 1–255.
    pub total: u8,
    /// This part's number, 1..=total.
    pub seq: u8,
}

/// One information element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InformationElement<'a> {
    /// Identifier (IEI).
    pub iei: u8,
    /// Data (IEDa), without IEI and length.
    pub data: &'a [u8],
}

impl InformationElement<'_> {
    /// The element as concatenation data, when it is a well-formed IEI 0x00 / 0x08.
    #[must_use]
    pub fn concat(&self) -> Option<Concat> {
        match (self.iei, self.data) {
            (IEI_CONCAT_8, &[reference, total, seq]) => Some(Concat {
                reference: u16::from(reference),
                wide_reference: false,
                total,
                seq,
            }),
            (IEI_CONCAT_16, &[hi, lo, total, seq]) => Some(Concat {
                reference: u16::from_be_bytes([hi, lo]),
                wide_reference: true,
                total,
                seq,
            }),
            _ => None,
        }
    }
}

/// A parsed UDH borrowed from the user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udh<'a> {
    /// The whole header including the UDHL octet.
    pub raw: &'a [u8],
}

impl<'a> Udh<'a> {
    /// Splits user data that starts with a UDH (esm_class UDHI set) into the header and the
    /// payload after it, checking every element's length.
    ///
    /// # Errors
    /// [`UdhError`] when the lengths do not add up. Never panics.
    pub fn split(user_data: &'a [u8]) -> Result<(Self, &'a [u8]), UdhError> {
        let (&udhl, rest) = user_data.split_first().ok_or(UdhError::Empty)?;
        let udhl = usize::from(udhl);
        if udhl > rest.len() {
            return Err(UdhError::TooLong {
                udhl,
                available: rest.len(),
            });
        }
        let udh = Self {
            raw: &user_data[..=udhl],
        };
        let mut offset = 0;
        let body = udh.body();
        while offset < body.len() {
            let iei = body[offset];
            let len = body.get(offset + 1).map(|&l| usize::from(l));
            match len {
                Some(len) if offset + 2 + len <= body.len() => offset += 2 + len,
                _ => return Err(UdhError::TruncatedElement { iei, offset }),
            }
        }
        Ok((udh, &rest[udhl..]))
    }

    /// Header octets after UDHL.
    fn body(&self) -> &'a [u8] {
        &self.raw[1..]
    }

    /// Total header length in octets, UDHL included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the header has no elements (UDHL = 0).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.len() <= 1
    }

    /// The information elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = InformationElement<'a>> + 'a {
        let body = self.body();
        let mut offset = 0;
        std::iter::from_fn(move || {
            let iei = *body.get(offset)?;
            let len = usize::from(*body.get(offset + 1)?);
            let data = body.get(offset + 2..offset + 2 + len)?;
            offset += 2 + len;
            Some(InformationElement { iei, data })
        })
    }

    /// The concatenation element, if any. When several are present the last one wins
    /// (TS 23.040 §9.2.3.24: a repeated element supersedes the earlier one).
    #[must_use]
    pub fn concat(&self) -> Option<Concat> {
        self.elements().filter_map(|ie| ie.concat()).last()
    }
}

/// A UDH built for sending (concatenation and/or national language shift elements), held
/// inline without allocation. At most 16 octets, UDHL included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdhBytes {
    bytes: [u8; 16],
    len: u8,
}

impl Default for UdhBytes {
    fn default() -> Self {
        Self::new()
    }
}

impl UdhBytes {
    /// An empty header (just UDHL = 0).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: [0; 16],
            len: 1,
        }
    }

    /// `05 00 03 RR TT SS` or `06 08 04 RRRR TT SS` for `concat` (width per
    /// `concat.wide_reference`).
    #[must_use]
    pub fn concat(concat: Concat) -> Self {
        let [hi, lo] = concat.reference.to_be_bytes();
        let mut udh = Self::new();
        if concat.wide_reference {
            udh.push_element(IEI_CONCAT_16, &[hi, lo, concat.total, concat.seq]);
        } else {
            udh.push_element(IEI_CONCAT_8, &[lo, concat.total, concat.seq]);
        }
        udh
    }

    /// Appends an information element and updates UDHL.
    ///
    /// # Panics
    /// When the header would exceed 16 octets (a programming error: the elements this
    /// crate writes take at most 13).
    pub fn push_element(&mut self, iei: u8, data: &[u8]) {
        let start = usize::from(self.len);
        let end = start + 2 + data.len();
        assert!(end <= self.bytes.len(), "UDH longer than 16 octets");
        self.bytes[start] = iei;
        self.bytes[start + 1] = u8::try_from(data.len()).unwrap_or(u8::MAX);
        self.bytes[start + 2..end].copy_from_slice(data);
        self.len = u8::try_from(end).unwrap_or(u8::MAX);
        self.bytes[0] = self.len - 1;
    }

    /// The header octets, UDHL first.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports_and_concat() {
        let data = [
            0x0B, 0x05, 0x04, 0x15, 0x81, 0x00, 0x00, 0x00, 0x03, 0x2A, 0x02, 0x01, b'h', b'i',
        ];
        let (udh, payload) = Udh::split(&data).unwrap();
        assert_eq!(payload, b"hi");
        assert_eq!(udh.elements().count(), 2);
        assert_eq!(
            udh.concat(),
            Some(Concat {
                reference: 0x2A,
                wide_reference: false,
                total: 2,
                seq: 1
            })
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(Udh::split(&[]), Err(UdhError::Empty));
        assert!(matches!(
            Udh::split(&[0x05, 0x00]),
            Err(UdhError::TooLong { .. })
        ));
        assert!(matches!(
            Udh::split(&[0x03, 0x00, 0x03, 0x01]),
            Err(UdhError::TruncatedElement { iei: 0, offset: 0 })
        ));
    }

    #[test]
    fn builds_both_widths() {
        let c = Concat {
            reference: 0x1234,
            wide_reference: true,
            total: 3,
            seq: 2,
        };
        assert_eq!(
            UdhBytes::concat(c).as_bytes(),
            [0x06, 0x08, 0x04, 0x12, 0x34, 3, 2]
        );
        let c = Concat {
            wide_reference: false,
            ..c
        };
        assert_eq!(
            UdhBytes::concat(c).as_bytes(),
            [0x05, 0x00, 0x03, 0x34, 3, 2]
        );
    }
}
