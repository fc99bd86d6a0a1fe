//! An SMPP byte stream as a peer could send it: framed, decoded, each PDU encoded again
//! and decoded again, its short message decoded as text and read as a receipt, its TLVs
//! and times parsed. Nothing may panic, and a PDU that decodes must encode to octets that
//! decode to the same PDU (an error response: to the same command, without its body).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::receipt::{DeliveryReceipt, ReceiptTlvs};
use smppgate_protocol::text::coding::{TextConfig, decode_user_data};
use smppgate_protocol::{Body, FrameDecoder, TlvTag};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let mut frames = FrameDecoder::new(64 * 1024);
    while let Ok(Some(decoded)) = frames.decode(&mut buf) {
        let Ok(pdu) = decoded else { continue };
        if let Ok(bytes) = smppgate_protocol::encode_to_bytes(&pdu) {
            let again = smppgate_protocol::decode(bytes).expect("what we encode decodes");
            if pdu.command_status.is_ok() {
                assert_eq!(again, pdu);
            } else {
                // An error response goes without its body (SMPP 3.4 §4.1.2 and the like).
                assert_eq!(again.body.command_id(), pdu.body.command_id());
            }
        }
        let message = match &pdu.body {
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => sm,
            _ => continue,
        };
        for packed in [false, true] {
            let config = TextConfig {
                packed_gsm7: packed,
                ..TextConfig::default()
            };
            let _ = decode_user_data(
                message.data_coding.0,
                message.esm_class.0,
                &message.short_message,
                config,
            );
        }
        let id = message.tlvs.get(TlvTag::RECEIPTED_MESSAGE_ID);
        let error = message.tlvs.get(TlvTag::NETWORK_ERROR_CODE);
        let tlvs = ReceiptTlvs {
            receipted_message_id: id.as_deref(),
            message_state: message
                .tlvs
                .get(TlvTag::MESSAGE_STATE)
                .and_then(|v| v.first().copied()),
            network_error_code: error.as_deref(),
        };
        let _ = DeliveryReceipt::parse(&message.short_message, &tlvs);
        let _ = message.schedule_delivery_time.parse();
        let _ = message.validity_period.parse();
    }
});
