//! alert_notification (reference §1.3): SMSC → ESME, no response exists.

use crate::tlv::Tlvs;
use crate::types::Address;

/// Body of alert_notification (65-octet addresses).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AlertNotification {
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(65).
    pub source_addr: Address,
    /// `esme_addr_ton`, `esme_addr_npi`, `esme_addr` C(65).
    pub esme_addr: Address,
    /// TLVs (3.4: `ms_availability_status`).
    pub tlvs: Tlvs,
}
