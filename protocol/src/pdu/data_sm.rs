//! data_sm (reference §1.3): 65-octet addresses, no short_message.

use bytes::Bytes;

use crate::tlv::Tlvs;
use crate::types::{Address, DataCoding, EsmClass, RegisteredDelivery};

/// Body of data_sm. The content travels in the `message_payload` TLV.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DataSm {
    /// `service_type` C(6).
    pub service_type: Bytes,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(65).
    pub source_addr: Address,
    /// `dest_addr_ton`, `dest_addr_npi`, `destination_addr` C(65).
    pub destination_addr: Address,
    /// `esm_class` I1.
    pub esm_class: EsmClass,
    /// `registered_delivery` I1.
    pub registered_delivery: RegisteredDelivery,
    /// `data_coding` I1.
    pub data_coding: DataCoding,
    /// TLVs.
    pub tlvs: Tlvs,
}
