//! replace_sm (reference §1.3): **no service_type**; replace_sm_resp is header only.

use bytes::Bytes;

use crate::types::{Address, RegisteredDelivery, SmppTime};

/// Body of replace_sm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ReplaceSm {
    /// `message_id` C(65).
    pub message_id: Bytes,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(21).
    pub source_addr: Address,
    /// `schedule_delivery_time` T.
    pub schedule_delivery_time: SmppTime,
    /// `validity_period` T.
    pub validity_period: SmppTime,
    /// `registered_delivery` I1.
    pub registered_delivery: RegisteredDelivery,
    /// `sm_default_msg_id` I1.
    pub sm_default_msg_id: u8,
    /// `short_message` O(sm_length).
    pub short_message: Bytes,
}
