//! submit_sm and deliver_sm: one layout, one struct (reference §1.3).

use bytes::Bytes;

use crate::tlv::Tlvs;
use crate::types::{Address, DataCoding, EsmClass, RegisteredDelivery, SmppTime};

/// Largest `sm_length` we send (reference §1.3). 255 is accepted on receive.
pub const SM_LENGTH_MAX: usize = 254;

/// Body of submit_sm and deliver_sm (same wire layout).
///
/// In deliver_sm, `schedule_delivery_time`, `validity_period`, `replace_if_present_flag` and
/// `sm_default_msg_id` are unused and must be NULL: the encoder refuses other values there;
/// the decoder accepts them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ShortMessagePdu {
    /// `service_type` C(6).
    pub service_type: Bytes,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(21).
    pub source_addr: Address,
    /// `dest_addr_ton`, `dest_addr_npi`, `destination_addr` C(21).
    pub destination_addr: Address,
    /// `esm_class` I1.
    pub esm_class: EsmClass,
    /// `protocol_id` I1 (GSM TP-PID).
    pub protocol_id: u8,
    /// `priority_flag` I1 (0–3).
    pub priority_flag: u8,
    /// `schedule_delivery_time` T.
    pub schedule_delivery_time: SmppTime,
    /// `validity_period` T.
    pub validity_period: SmppTime,
    /// `registered_delivery` I1.
    pub registered_delivery: RegisteredDelivery,
    /// `replace_if_present_flag` I1.
    pub replace_if_present_flag: u8,
    /// `data_coding` I1.
    pub data_coding: DataCoding,
    /// `sm_default_msg_id` I1.
    pub sm_default_msg_id: u8,
    /// `short_message` O(sm_length); `sm_length` is its length (≤ 254 on send).
    pub short_message: Bytes,
    /// TLVs.
    pub tlvs: Tlvs,
}

/// Body of submit_sm.
pub type SubmitSm = ShortMessagePdu;
/// Body of deliver_sm.
pub type DeliverSm = ShortMessagePdu;

impl ShortMessagePdu {
    /// The message content: the `message_payload` TLV when present, else `short_message`.
    #[must_use]
    pub fn payload(&self) -> Bytes {
        self.tlvs
            .message_payload()
            .unwrap_or_else(|| self.short_message.clone())
    }
}
