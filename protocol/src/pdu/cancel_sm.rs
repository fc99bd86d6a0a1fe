//! cancel_sm (reference §1.3); cancel_sm_resp is header only.

use bytes::Bytes;

use crate::types::Address;

/// Body of cancel_sm. An empty `message_id` with service_type and addresses cancels all
/// matching messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CancelSm {
    /// `service_type` C(6).
    pub service_type: Bytes,
    /// `message_id` C(65).
    pub message_id: Bytes,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(21).
    pub source_addr: Address,
    /// `dest_addr_ton`, `dest_addr_npi`, `destination_addr` C(21).
    pub destination_addr: Address,
}
