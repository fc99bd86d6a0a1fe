//! query_sm and query_sm_resp (reference §1.3).

use bytes::Bytes;

use crate::types::{Address, SmppTime};

/// Body of query_sm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct QuerySm {
    /// `message_id` C(65).
    pub message_id: Bytes,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(21).
    pub source_addr: Address,
}

/// Body of query_sm_resp (no TLVs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct QuerySmResp {
    /// `message_id` C(65).
    pub message_id: Bytes,
    /// `final_date` T. Not validated on receive (reference §5.4: ignore bad values).
    pub final_date: SmppTime,
    /// `message_state` I1 (reference §1.4).
    pub message_state: u8,
    /// `error_code` I1.
    pub error_code: u8,
}
