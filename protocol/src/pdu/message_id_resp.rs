//! submit_sm_resp, deliver_sm_resp and data_sm_resp: `message_id` C(65) + TLVs
//! (reference §1.3).

use bytes::Bytes;

use crate::tlv::Tlvs;

/// Body of submit_sm_resp, deliver_sm_resp and data_sm_resp.
///
/// Received forms accepted: no body at all (error responses, header-only
/// deliver_sm_resp), a lone NUL, an id. submit_sm_resp with command_status ≠ 0 is sent
/// without a body (reference §4.3); deliver_sm_resp always carries `message_id` (a lone NUL).
/// TLVs are 3.4 only for data_sm_resp; kept for the others as 5.0 peers send them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MessageIdResp {
    /// `message_id` C(65).
    pub message_id: Bytes,
    /// TLVs.
    pub tlvs: Tlvs,
}

/// Body of submit_sm_resp.
pub type SubmitSmResp = MessageIdResp;
/// Body of deliver_sm_resp (`message_id` unused: empty).
pub type DeliverSmResp = MessageIdResp;
/// Body of data_sm_resp.
pub type DataSmResp = MessageIdResp;

impl MessageIdResp {
    /// A body with this message_id and no TLVs.
    #[must_use]
    pub fn new(message_id: impl Into<Bytes>) -> Self {
        Self {
            message_id: message_id.into(),
            tlvs: Tlvs::EMPTY,
        }
    }
}
