//! bind_transmitter / bind_receiver / bind_transceiver, their responses, and outbind
//! (reference §1.3).

use bytes::Bytes;

use crate::tlv::Tlvs;
use crate::types::{Npi, Ton};

/// interface_version of SMPP 3.4 (0x34); 0x00–0x33 mean 3.3 or earlier.
pub const INTERFACE_VERSION_3_4: u8 = 0x34;

/// Body of the three bind requests (identical layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bind {
    /// `system_id` C(16).
    pub system_id: Bytes,
    /// `password` C(9).
    pub password: Bytes,
    /// `system_type` C(13).
    pub system_type: Bytes,
    /// `interface_version` I1 (0x34 for 3.4).
    pub interface_version: u8,
    /// `addr_ton` I1.
    pub addr_ton: Ton,
    /// `addr_npi` I1.
    pub addr_npi: Npi,
    /// `address_range` C(41).
    pub address_range: Bytes,
}

/// Body of bind_*_resp: `system_id` C(16) and optional `sc_interface_version`.
///
/// Omitted on the wire when command_status ≠ 0; the decoder accepts it either way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BindResp {
    /// `system_id` C(16) of the SMSC.
    pub system_id: Bytes,
    /// TLVs (3.4: `sc_interface_version`).
    pub tlvs: Tlvs,
}

/// Body of outbind (SMSC → ESME; no response exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Outbind {
    /// `system_id` C(16).
    pub system_id: Bytes,
    /// `password` C(9).
    pub password: Bytes,
}
