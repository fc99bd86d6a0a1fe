//! Hex vectors for every SMPP 3.4 operation, written by hand from the field tables of
//! `/work/shared/smpp34-reference.md` §1.3 (not produced by our encoder). Each is decoded,
//! every field checked, re-encoded and compared byte for byte.

mod common;

use bytes::Bytes;
use common::{P, encode_bytes, frame, round_trip};
use smppgate_protocol::codec::EncodeError;
use smppgate_protocol::tlv::{NetworkErrorCode, Sar};
use smppgate_protocol::types::{TimeValue, UtcOffsetSign};
use smppgate_protocol::{
    Body, CommandId, CommandStatus, DataCoding, DestAddress, EsmClass, Npi, Pdu,
    RegisteredDelivery, Tlv, TlvTag, Ton, decode, encode,
};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn bind_receiver() {
    let wire = frame(&[
        P::H("0000002E 00000001 00000000 00000001"), // len 46, bind_receiver, ok, seq 1
        P::A("smppclient1"),
        P::H("00"), // system_id C(16)
        P::A("secret"),
        P::H("00"), // password C(9)
        P::A("VMA"),
        P::H("00"),       // system_type C(13)
        P::H("34 01 01"), // interface_version 3.4, addr_ton 1, addr_npi 1
        P::A("^44"),
        P::H("00"), // address_range C(41)
    ]);
    let pdu = round_trip(&wire);
    assert_eq!(pdu.sequence_number, 1);
    let Body::BindReceiver(bind) = pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(bind.system_id, b("smppclient1"));
    assert_eq!(bind.password, b("secret"));
    assert_eq!(bind.system_type, b("VMA"));
    assert_eq!(bind.interface_version, 0x34);
    assert_eq!(
        (bind.addr_ton, bind.addr_npi),
        (Ton::INTERNATIONAL, Npi::ISDN)
    );
    assert_eq!(bind.address_range, b("^44"));
}

#[test]
fn bind_transceiver_and_its_responses() {
    // bind_transceiver, all strings empty but system_id.
    let wire = frame(&[
        P::H("0000001B 00000009 00000000 00000002"), // len 27
        P::A("esme"),
        P::H("00"),                // system_id
        P::H("00 00 34 00 00 00"), // password "", system_type "", 0x34, ton 0, npi 0, range ""
    ]);
    let pdu = round_trip(&wire);
    assert!(matches!(&pdu.body, Body::BindTransceiver(b) if b.system_id == "esme"));

    // bind_transceiver_resp ok, with sc_interface_version.
    let wire = frame(&[
        P::H("0000001C 80000009 00000000 00000002"), // len 28
        P::A("SMSC-1"),
        P::H("00"),           // system_id
        P::H("0210 0001 34"), // sc_interface_version = 0x34
    ]);
    let pdu = round_trip(&wire);
    let Body::BindTransceiverResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(resp.system_id, b("SMSC-1"));
    assert_eq!(resp.tlvs.sc_interface_version(), Some(0x34));
}

#[test]
fn bind_transceiver_resp_error_with_body_is_accepted_and_sent_without() {
    // ch-bind_transceiver_resp-error-with-body style: status ESME_RBINDFAIL and a body.
    let wire = frame(&[
        P::H("00000015 80000009 0000000D 00000003"), // len 21, status 0x0D
        P::A("SMSC"),
        P::H("00"),
    ]);
    let pdu = decode(wire).unwrap();
    assert_eq!(pdu.command_status, CommandStatus::ESME_RBINDFAIL);
    assert!(matches!(&pdu.body, Body::BindTransceiverResp(r) if r.system_id == "SMSC"));
    // We send error bind responses without a body (reference §1.3).
    let sent = encode_bytes(&pdu);
    assert_eq!(hex::encode(sent), "00000010800000090000000d00000003");
}

#[test]
fn error_responses_without_body() {
    for hex_frame in [
        "00000010 80000002 0000000E 00000004", // bind_transmitter_resp ESME_RINVPASWD
        "00000010 80000001 0000000F 00000004", // bind_receiver_resp ESME_RINVSYSID
        "00000010 80000004 00000058 00000005", // submit_sm_resp ESME_RTHROTTLED
    ] {
        let pdu = round_trip(&frame(&[P::H(hex_frame)]));
        assert!(!pdu.command_status.is_ok());
    }
    // submit_sm_resp error with a body: accepted, sent without.
    let wire = frame(&[
        P::H("00000014 80000004 00000045 00000006"),
        P::A("abc"),
        P::H("00"),
    ]);
    let pdu = decode(wire).unwrap();
    assert!(matches!(&pdu.body, Body::SubmitSmResp(r) if r.message_id == "abc"));
    assert_eq!(encode_bytes(&pdu).len(), 16);
}

#[test]
fn outbind() {
    let wire = frame(&[
        P::H("00000018 0000000B 00000000 00000001"), // len 24, outbind
        P::A("SMSC"),
        P::H("00"),
        P::A("pw"),
        P::H("00"),
    ]);
    let pdu = round_trip(&wire);
    let Body::Outbind(outbind) = pdu.body else {
        panic!()
    };
    assert_eq!((outbind.system_id, outbind.password), (b("SMSC"), b("pw")));
}

#[test]
fn header_only_operations_and_odd_sequence_numbers() {
    let cases = [
        ("00000010 00000006 00000000 00000005", CommandId::Unbind, 5),
        (
            "00000010 80000006 00000000 00000005",
            CommandId::UnbindResp,
            5,
        ),
        (
            "00000010 00000015 00000000 80000001",
            CommandId::EnquireLink,
            0x8000_0001,
        ),
        (
            "00000010 80000015 00000000 00000000",
            CommandId::EnquireLinkResp,
            0,
        ),
        (
            "00000010 80000000 00000003 00000007",
            CommandId::GenericNack,
            7,
        ),
        (
            "00000010 80000008 00000000 00000008",
            CommandId::CancelSmResp,
            8,
        ),
        (
            "00000010 80000007 00000000 00000009",
            CommandId::ReplaceSmResp,
            9,
        ),
        // A request with a non-zero status: kept, echoed.
        (
            "00000010 00000015 00000401 0000000A",
            CommandId::EnquireLink,
            10,
        ),
    ];
    for (hex_frame, id, seq) in cases {
        let pdu = round_trip(&frame(&[P::H(hex_frame)]));
        assert_eq!(pdu.command_id(), id);
        assert_eq!(pdu.sequence_number, seq);
    }
    let nack = decode(frame(&[P::H(cases[4].0)])).unwrap();
    assert_eq!(nack, Pdu::generic_nack(7, CommandStatus::ESME_RINVCMDID));
}

#[test]
fn submit_sm_with_udh() {
    let wire = frame(&[
        P::H("0000004D 00000004 00000000 00000010"), // len 77, submit_sm, seq 16
        P::H("00"),                                  // service_type ""
        P::H("05 00"),
        P::A("Brand"),
        P::H("00"), // source: alphanumeric
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),       // destination
        P::H("40 00 01"), // esm_class UDHI, protocol_id 0, priority 1
        P::H("00"),       // schedule_delivery_time NULL
        P::A("000001000000000R"),
        P::H("00"),                // validity_period: 1 day, relative
        P::H("01 00 00 00"),       // registered_delivery 1, replace 0, data_coding 0, default 0
        P::H("0B"),                // sm_length 11
        P::H("05 00 03 CC 02 01"), // UDH: concat 8-bit ref 0xCC, 2 parts, part 1
        P::A("Hello"),
    ]);
    let pdu = round_trip(&wire);
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!()
    };
    assert_eq!(sm.service_type, b(""));
    assert_eq!(sm.source_addr.ton, Ton::ALPHANUMERIC);
    assert_eq!(sm.source_addr.addr, b("Brand"));
    assert_eq!(sm.destination_addr.addr, b("447700900123"));
    assert!(sm.esm_class.udhi());
    assert_eq!(sm.priority_flag, 1);
    assert!(!sm.schedule_delivery_time.is_set());
    let Ok(Some(TimeValue::Relative(validity))) = sm.validity_period.parse() else {
        panic!()
    };
    assert_eq!(validity.days, 1);
    assert!(sm.registered_delivery.wants_receipt());
    assert_eq!(sm.data_coding, DataCoding::SMSC_DEFAULT);
    assert_eq!(
        &sm.short_message[..6],
        &[0x05, 0x00, 0x03, 0xCC, 0x02, 0x01]
    );
    assert_eq!(&sm.short_message[6..], b"Hello");
    assert!(sm.tlvs.is_empty());
}

#[test]
fn submit_sm_ucs2_with_absolute_schedule() {
    let wire = frame(&[
        P::H("00000050 00000004 00000000 00000011"), // len 80
        P::A("CMT"),
        P::H("00"), // service_type
        P::H("01 01"),
        P::A("8613800138000"),
        P::H("00"),
        P::H("02 01"),
        P::A("13900139000"),
        P::H("00"),
        P::H("00 00 00"),
        P::A("260101120000032+"),
        P::H("00"),           // 2026-01-01 12:00:00.0 UTC+08:00
        P::H("00"),           // validity_period NULL
        P::H("00 00 08 00"),  // data_coding UCS-2
        P::H("04 4F60 597D"), // sm_length 4: "你好"
    ]);
    let pdu = round_trip(&wire);
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!()
    };
    assert_eq!(sm.service_type, b("CMT"));
    assert_eq!(sm.destination_addr.ton, Ton::NATIONAL);
    assert_eq!(sm.data_coding, DataCoding::UCS2);
    let Ok(Some(TimeValue::Absolute(at))) = sm.schedule_delivery_time.parse() else {
        panic!()
    };
    assert_eq!(
        (at.full_year(), at.month, at.day, at.hour),
        (2026, 1, 1, 12)
    );
    assert_eq!(at.sign, UtcOffsetSign::Ahead);
    assert_eq!(at.utc_offset_minutes(), 480);
    let text: Vec<u16> = sm
        .short_message
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&text).unwrap(), "你好");
}

const RECEIPT: &str = "id:1234567890 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:Hello";

#[test]
fn deliver_sm_receipt_in_short_message() {
    let wire = frame(&[
        P::H("0000009D 00000005 00000000 80000001"), // len 157, seq above 0x7FFFFFFF
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::H("05 00"),
        P::A("Brand"),
        P::H("00"),
        P::H("04 00 00"),    // esm_class: SMSC delivery receipt
        P::H("00 00"),       // times NULL
        P::H("00 00 00 00"), // registered_delivery .. sm_default_msg_id
        P::H("6B"),          // sm_length 107
        P::A(RECEIPT),
    ]);
    let pdu = round_trip(&wire);
    assert_eq!(pdu.sequence_number, 0x8000_0001);
    let Body::DeliverSm(sm) = &pdu.body else {
        panic!()
    };
    assert!(sm.esm_class.is_delivery_receipt());
    assert_eq!(sm.short_message, b(RECEIPT));
    assert_eq!(sm.payload(), b(RECEIPT));
}

#[test]
fn deliver_sm_receipt_in_message_payload() {
    let text = "id:4f2a9c sub:001 dlvrd:000 submit date:2601011200 done date:2601011300 stat:UNDELIV err:001 text:";
    let wire = frame(&[
        P::H("0000009D 00000005 00000000 00000002"), // len 157
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::H("00 00"),
        P::A("12345"),
        P::H("00"),
        P::H("44 00 00"), // esm_class 0x44: receipt with UDHI bit (still a receipt)
        P::H("00 00 00 00 00 00"),
        P::H("00"),        // sm_length 0
        P::H("0424 0062"), // message_payload, 98 octets
        P::A(text),
        P::H("0426 0001 01"), // more_messages_to_send: not a deliver_sm TLV → ignored
    ]);
    let pdu = round_trip(&wire);
    let Body::DeliverSm(sm) = &pdu.body else {
        panic!()
    };
    assert!(sm.esm_class.is_delivery_receipt());
    assert!(sm.short_message.is_empty());
    assert_eq!(sm.tlvs.message_payload(), Some(b(text)));
    assert_eq!(sm.payload(), b(text));
    assert!(!TlvTag::MORE_MESSAGES_TO_SEND.is_allowed_in(CommandId::DeliverSm));
    assert_eq!(
        sm.tlvs.more_messages_to_send(),
        None,
        "not a deliver_sm TLV: ignored"
    );
    assert_eq!(
        sm.tlvs.get(TlvTag::MORE_MESSAGES_TO_SEND),
        Some(Bytes::from_static(&[1]))
    );
    assert_eq!(sm.tlvs.iter().count(), 2);
}

#[test]
fn deliver_sm_receipt_in_tlvs() {
    let wire = frame(&[
        P::H("0000004B 00000005 00000000 00000003"), // len 75
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::H("00 00"),
        P::A("12345"),
        P::H("00"),
        P::H("04 00 00 00 00 00 00 00 00 00"), // esm 0x04 .. sm_length 0
        P::H("001E 0009"),
        P::A("4f2a9c01"),
        P::H("00"),                // receipted_message_id (NUL inside the value)
        P::H("0427 0001 02"),      // message_state DELIVERED
        P::H("0423 0003 03 0000"), // network_error_code GSM 0
    ]);
    let pdu = round_trip(&wire);
    let Body::DeliverSm(sm) = &pdu.body else {
        panic!()
    };
    assert_eq!(sm.tlvs.receipted_message_id(), Some(b("4f2a9c01")));
    assert_eq!(sm.tlvs.message_state(), Some(2));
    assert_eq!(
        sm.tlvs.network_error_code(),
        Some(NetworkErrorCode {
            network_type: 3,
            error_code: 0
        })
    );
}

#[test]
fn deliver_sm_vendor_tlvs_kept_in_order() {
    let wire = frame(&[
        P::H("0000004F 00000005 00000000 00000004"), // len 79
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::H("00 00"),
        P::A("12345"),
        P::H("00"),
        P::H("04 00 00 00 00 00 00 00 00 00"),
        P::H("1403 0002 0001"), // vendor
        P::H("1402 0003"),
        P::A("abc"), // vendor
        P::H("001E 0007"),
        P::A("123456"),
        P::H("00"),
        P::H("0427 0001 05"), // UNDELIVERABLE
    ]);
    let pdu = round_trip(&wire);
    let Body::DeliverSm(sm) = &pdu.body else {
        panic!()
    };
    let tags: Vec<u16> = sm.tlvs.iter().map(|(tag, _)| tag.0).collect();
    assert_eq!(tags, [0x1403, 0x1402, 0x001E, 0x0427]);
    let typed: Vec<Tlv> = sm.tlvs.typed().collect();
    assert_eq!(
        typed[1],
        Tlv::Unknown {
            tag: TlvTag(0x1402),
            value: b("abc")
        }
    );
    assert_eq!(typed[2], Tlv::ReceiptedMessageId(b("123456")));
    assert_eq!(sm.tlvs.message_state(), Some(5));
    assert_eq!(
        sm.tlvs.get(TlvTag(0x1403)),
        Some(Bytes::from_static(&[0, 1]))
    );
}

#[test]
fn deliver_sm_resp_forms() {
    // 17 octets: message_id a lone NUL (the spec form).
    let pdu = round_trip(&frame(&[P::H("00000011 80000005 00000000 00000004 00")]));
    assert!(matches!(&pdu.body, Body::DeliverSmResp(r) if r.message_id.is_empty()));
    // 16 octets: accepted; we send the 17-octet form.
    let short = decode(frame(&[P::H("00000010 80000005 00000000 00000004")])).unwrap();
    assert_eq!(short, pdu);
    // With an id.
    let pdu = round_trip(&frame(&[
        P::H("00000014 80000005 00000000 00000004"),
        P::A("abc"),
        P::H("00"),
    ]));
    assert!(matches!(&pdu.body, Body::DeliverSmResp(r) if r.message_id == "abc"));
}

#[test]
fn submit_multi_and_resp() {
    let wire = frame(&[
        P::H("00000046 00000021 00000000 00000005"), // len 70
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::H("02"), // number_of_dests
        P::H("01 01 01"),
        P::A("447700900124"),
        P::H("00"), // dest_flag 1: SME
        P::H("02"),
        P::A("friends"),
        P::H("00"),          // dest_flag 2: distribution list
        P::H("00 00 00"),    // esm_class, protocol_id, priority
        P::H("00 00"),       // times
        P::H("01 00 00 00"), // registered_delivery 1
        P::H("02"),
        P::A("Hi"),
    ]);
    let pdu = round_trip(&wire);
    let Body::SubmitMulti(multi) = &pdu.body else {
        panic!()
    };
    assert_eq!(multi.dest_addresses.len(), 2);
    assert!(matches!(&multi.dest_addresses[0], DestAddress::Sme(a) if a.addr == "447700900124"));
    assert_eq!(
        multi.dest_addresses[1],
        DestAddress::DistributionList(b("friends"))
    );
    assert_eq!(multi.short_message, b("Hi"));

    let wire = frame(&[
        P::H("0000002A 80000021 00000000 00000005"), // len 42
        P::A("mid-1"),
        P::H("00"),
        P::H("01"), // no_unsuccess
        P::H("01 01"),
        P::A("447700900124"),
        P::H("00"),
        P::H("0000000B"), // error_status_code ESME_RINVDSTADR
    ]);
    let pdu = round_trip(&wire);
    let Body::SubmitMultiResp(resp) = &pdu.body else {
        panic!()
    };
    assert_eq!(resp.message_id, b("mid-1"));
    assert_eq!(resp.unsuccess_smes.len(), 1);
    assert_eq!(resp.unsuccess_smes[0].dest_addr.addr, b("447700900124"));
    assert_eq!(
        resp.unsuccess_smes[0].error_status_code,
        CommandStatus::ESME_RINVDSTADR
    );
}

#[test]
fn data_sm_with_65_octet_addresses_and_resp() {
    let long_alpha = "A".repeat(64);
    let long_digits = "1234567890".repeat(6) + "1234";
    let wire = frame(&[
        P::H("000000AA 00000103 00000000 00000000"), // len 170, seq 0
        P::A("WAP"),
        P::H("00"),
        P::H("05 00"),
        P::A(&long_alpha),
        P::H("00"), // source_addr C(65), full
        P::H("01 01"),
        P::A(&long_digits),
        P::H("00"),                 // destination_addr C(65), full
        P::H("00 00 04"),           // esm_class, registered_delivery, data_coding 8-bit
        P::H("0424 0004 DEADBEEF"), // message_payload
        P::H("0010 0001 07"),       // source_telematics_id, 1-octet form
    ]);
    let pdu = round_trip(&wire);
    assert_eq!(pdu.sequence_number, 0);
    let Body::DataSm(data) = &pdu.body else {
        panic!()
    };
    assert_eq!(data.service_type, b("WAP"));
    assert_eq!(data.source_addr.addr.len(), 64);
    assert_eq!(data.destination_addr.addr, b(&long_digits));
    assert_eq!(
        data.tlvs.message_payload(),
        Some(Bytes::from_static(&[0xDE, 0xAD, 0xBE, 0xEF]))
    );
    assert_eq!(data.tlvs.typed().nth(1), Some(Tlv::SourceTelematicsId(7)));

    // data_sm_resp with an error status keeps its body and TLVs.
    let wire = frame(&[
        P::H("00000027 80000103 000000FE 00000000"), // len 39, ESME_RDELIVERYFAILURE
        P::A("dm1"),
        P::H("00"),
        P::H("0425 0001 00"), // delivery_failure_reason
        P::H("001D 0005"),
        P::A("busy"),
        P::H("00"),           // additional_status_info_text
        P::H("0420 0001 00"), // dpf_result
    ]);
    let pdu = round_trip(&wire);
    let Body::DataSmResp(resp) = &pdu.body else {
        panic!()
    };
    assert_eq!(resp.message_id, b("dm1"));
    assert_eq!(resp.tlvs.delivery_failure_reason(), Some(0));
    assert_eq!(resp.tlvs.additional_status_info_text(), Some(b("busy")));
    assert_eq!(resp.tlvs.dpf_result(), Some(0));
}

#[test]
fn query_sm_and_resp() {
    let wire = frame(&[
        P::H("00000025 00000003 00000000 00000006"), // len 37
        P::A("mid-1"),
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
    ]);
    let pdu = round_trip(&wire);
    assert!(
        matches!(&pdu.body, Body::QuerySm(q) if q.message_id == "mid-1" && q.source_addr.addr == "447700900123")
    );

    let wire = frame(&[
        P::H("00000029 80000003 00000000 00000006"), // len 41
        P::A("mid-1"),
        P::H("00"),
        P::A("260102030405000+"),
        P::H("00"),    // final_date
        P::H("02 00"), // message_state DELIVERED, error_code 0
    ]);
    let pdu = round_trip(&wire);
    let Body::QuerySmResp(resp) = &pdu.body else {
        panic!()
    };
    assert_eq!(resp.message_id, b("mid-1"));
    assert_eq!(resp.final_date.raw(), &b("260102030405000+"));
    assert_eq!((resp.message_state, resp.error_code), (2, 0));
}

#[test]
fn cancel_sm() {
    let wire = frame(&[
        P::H("00000035 00000008 00000000 00000007"), // len 53
        P::H("00"),
        P::A("mid-1"),
        P::H("00"),
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::H("01 01"),
        P::A("447700900124"),
        P::H("00"),
    ]);
    let pdu = round_trip(&wire);
    let Body::CancelSm(cancel) = &pdu.body else {
        panic!()
    };
    assert_eq!(cancel.message_id, b("mid-1"));
    assert_eq!(cancel.destination_addr.addr, b("447700900124"));
}

#[test]
fn replace_sm_has_no_service_type() {
    let wire = frame(&[
        P::H("0000003D 00000007 00000000 00000008"), // len 61
        P::A("mid-1"),
        P::H("00"), // message_id first: no service_type
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"),
        P::A("150203040506708+"),
        P::H("00"),    // schedule_delivery_time (vector ch-replace_sm)
        P::H("00"),    // validity_period NULL
        P::H("01 00"), // registered_delivery, sm_default_msg_id
        P::H("03"),
        P::A("new"),
    ]);
    let pdu = round_trip(&wire);
    let Body::ReplaceSm(replace) = &pdu.body else {
        panic!()
    };
    assert_eq!(replace.message_id, b("mid-1"));
    let Ok(Some(TimeValue::Absolute(at))) = replace.schedule_delivery_time.parse() else {
        panic!()
    };
    assert_eq!((at.full_year(), at.tenths, at.quarter_hours), (2015, 7, 8));
    assert_eq!(replace.registered_delivery, RegisteredDelivery(1));
    assert_eq!(replace.short_message, b("new"));
}

#[test]
fn alert_notification() {
    let wire = frame(&[
        P::H("0000002C 00000102 00000000 00000009"), // len 44
        P::H("01 01"),
        P::A("447700900123"),
        P::H("00"), // source_addr C(65)
        P::H("01 01"),
        P::A("12345"),
        P::H("00"),           // esme_addr C(65)
        P::H("0422 0001 00"), // ms_availability_status available
    ]);
    let pdu = round_trip(&wire);
    let Body::AlertNotification(alert) = &pdu.body else {
        panic!()
    };
    assert_eq!(alert.source_addr.addr, b("447700900123"));
    assert_eq!(alert.esme_addr.addr, b("12345"));
    assert_eq!(alert.tlvs.ms_availability_status(), Some(0));
}

#[test]
fn sm_length_255_decodes_but_is_never_sent() {
    let wire = frame(&[
        P::H("0000012C 00000004 00000000 0000000A"), // len 300
        P::H("00"),
        P::H("00 00 00"), // source: ton 0, npi 0, ""
        P::H("01 01"),
        P::A("447700900124"),
        P::H("00"),
        P::H("00 00 00 00 00 00 00 02 00"), // .. data_coding 2
        P::H("FF"),                         // sm_length 255
        P::R(0x41, 255),
    ]);
    let pdu = decode(wire).unwrap();
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!()
    };
    assert_eq!(sm.short_message.len(), 255);
    let mut buf = bytes::BytesMut::new();
    assert_eq!(
        encode(&pdu, &mut buf),
        Err(EncodeError::ShortMessageTooLong {
            command_id: CommandId::SubmitSm,
            length: 255,
            max: 254
        })
    );
    assert!(buf.is_empty(), "nothing written on error");
}

#[test]
fn sar_tlvs() {
    let wire = frame(&[
        P::H("00000033 00000004 00000000 0000000B"), // len 51
        P::H("00 00 00 00 01 01"),
        P::A("1"),
        P::H("00"),
        P::H("00 00 00 00 00 00 00 00 00"),
        P::H("01"),
        P::A("x"),              // sm_length 1
        P::H("020C 0002 0102"), // sar_msg_ref_num 0x0102
        P::H("020E 0001 03"),   // sar_total_segments 3
        P::H("020F 0001 02"),   // sar_segment_seqnum 2
    ]);
    let pdu = round_trip(&wire);
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!()
    };
    assert_eq!(
        sm.tlvs.sar(),
        Some(Sar {
            msg_ref_num: 0x0102,
            total_segments: 3,
            segment_seqnum: 2
        })
    );
    assert_eq!(sm.esm_class, EsmClass(0));
}
