//! A receipt's text and TLVs as a carrier could send them, and the China protocols'
//! status reports. Nothing may panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::receipt::{DeliveryReceipt, IdStyle, ReceiptTlvs};
use smppgate_protocol::{cmpp, smgp};

fuzz_target!(|data: &[u8]| {
    let [state, split, rest @ ..] = data else {
        return;
    };
    let split = usize::from(*split).min(rest.len());
    let (id, message) = rest.split_at(split);
    let tlvs = ReceiptTlvs {
        receipted_message_id: (!id.is_empty()).then_some(id),
        message_state: (*state != 0).then_some(*state),
        network_error_code: id.get(..3),
    };
    let receipt = DeliveryReceipt::parse(message, &tlvs);
    let _ = receipt.id();
    let _ = receipt.state();
    let styles = [IdStyle::Hex, IdStyle::Dec, IdStyle::Auto];
    for tlv_style in styles {
        for text_style in styles {
            let _ = receipt.id_candidates(tlv_style, text_style);
            let _ = receipt.id_disagrees(tlv_style, text_style);
        }
    }
    let _ = receipt.state_disagrees();
    let content = Bytes::copy_from_slice(message);
    let _ = cmpp::StatusReport::parse(&content, cmpp::Version::V2);
    let _ = cmpp::StatusReport::parse(&content, cmpp::Version::V3);
    let _ = smgp::Report::parse(&content);
});
