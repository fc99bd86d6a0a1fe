//! submit_multi and submit_multi_resp (reference §1.3).

use bytes::Bytes;

use crate::command_status::CommandStatus;
use crate::tlv::Tlvs;
use crate::types::{Address, DataCoding, EsmClass, RegisteredDelivery, SmppTime};

/// `dest_flag` of an SME address.
pub const DEST_FLAG_SME: u8 = 1;
/// `dest_flag` of a distribution list name.
pub const DEST_FLAG_DISTRIBUTION_LIST: u8 = 2;
/// Largest `number_of_dests` we send.
pub const NUMBER_OF_DESTS_MAX: usize = 254;

/// One destination of a submit_multi.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DestAddress {
    /// `dest_flag` 1: an SME address, `destination_addr` C(21).
    Sme(Address),
    /// `dest_flag` 2: a distribution list, `dl_name` C(21).
    DistributionList(Bytes),
}

/// Body of submit_multi: submit_sm with a list of destinations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SubmitMulti {
    /// `service_type` C(6).
    pub service_type: Bytes,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr` C(21).
    pub source_addr: Address,
    /// `dest_address` × `number_of_dests` (1–254 on send).
    pub dest_addresses: Vec<DestAddress>,
    /// `esm_class` I1.
    pub esm_class: EsmClass,
    /// `protocol_id` I1.
    pub protocol_id: u8,
    /// `priority_flag` I1.
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
    /// `short_message` O(sm_length).
    pub short_message: Bytes,
    /// TLVs.
    pub tlvs: Tlvs,
}

/// One `unsuccess_sme` entry of submit_multi_resp.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnsuccessSme {
    /// `dest_addr_ton`, `dest_addr_npi`, `destination_addr` C(21).
    pub dest_addr: Address,
    /// `error_status_code` I4.
    pub error_status_code: CommandStatus,
}

/// Body of submit_multi_resp.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SubmitMultiResp {
    /// `message_id` C(65).
    pub message_id: Bytes,
    /// `unsuccess_sme` × `no_unsuccess` (≤ 255).
    pub unsuccess_smes: Vec<UnsuccessSme>,
    /// TLVs (none in 3.4; 5.0 peers send some).
    pub tlvs: Tlvs,
}
