//! Address triplets (`ton`, `npi`, `addr`) and their TON/NPI value sets (reference §1.4).

use bytes::Bytes;

/// Type of number (reference §1.4). Any octet is kept; the consts name the 3.4 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ton(pub u8);

impl Ton {
    /// 0: unknown.
    pub const UNKNOWN: Self = Self(0);
    /// 1: international.
    pub const INTERNATIONAL: Self = Self(1);
    /// 2: national.
    pub const NATIONAL: Self = Self(2);
    /// 3: network specific.
    pub const NETWORK_SPECIFIC: Self = Self(3);
    /// 4: subscriber number.
    pub const SUBSCRIBER_NUMBER: Self = Self(4);
    /// 5: alphanumeric.
    pub const ALPHANUMERIC: Self = Self(5);
    /// 6: abbreviated.
    pub const ABBREVIATED: Self = Self(6);
}

/// Numbering plan indicator (reference §1.4). Any octet is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Npi(pub u8);

impl Npi {
    /// 0: unknown.
    pub const UNKNOWN: Self = Self(0);
    /// 1: ISDN (E.163/E.164).
    pub const ISDN: Self = Self(1);
    /// 3: data (X.121).
    pub const DATA: Self = Self(3);
    /// 4: telex (F.69).
    pub const TELEX: Self = Self(4);
    /// 6: land mobile (E.212).
    pub const LAND_MOBILE: Self = Self(6);
    /// 8: national.
    pub const NATIONAL: Self = Self(8);
    /// 9: private.
    pub const PRIVATE: Self = Self(9);
    /// 10: ERMES.
    pub const ERMES: Self = Self(10);
    /// 14: Internet (IP).
    pub const INTERNET: Self = Self(14);
    /// 18: WAP client id.
    pub const WAP_CLIENT_ID: Self = Self(18);
}

/// An address triplet `ton I1, npi I1, addr C(n)`; `n` (21 or 65) depends on the PDU
/// and is enforced by the codec.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address {
    /// Type of number.
    pub ton: Ton,
    /// Numbering plan indicator.
    pub npi: Npi,
    /// The address digits/characters, without the NUL.
    pub addr: Bytes,
}

impl Address {
    /// An address from its three parts.
    #[must_use]
    pub fn new(ton: Ton, npi: Npi, addr: impl Into<Bytes>) -> Self {
        Self {
            ton,
            npi,
            addr: addr.into(),
        }
    }

    /// An international E.164 number (TON 1, NPI 1), digits only.
    #[must_use]
    pub fn international(digits: impl Into<Bytes>) -> Self {
        Self::new(Ton::INTERNATIONAL, Npi::ISDN, digits)
    }
}
