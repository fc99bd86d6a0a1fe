//! The 8 SMPP PDUs of the real capture `/work/shared/smpp-captures/smpp_in_general.pcap`
//! (nDPI test data, commit 3b1286ab; one TCP flow 10.226.202.118:1770 ↔ 10.226.202.53:9000).
//!
//! Extracted by hand from `xxd` of the file: libpcap global header 24 octets, then per
//! record a 16-octet record header, Ethernet 14, IPv4 with IHL 5 (20 octets), TCP with
//! data offset 5 (20 octets; 7 in the SYN). The TCP payload of the records below is one
//! whole PDU each; file offset of the payload and pcap frame number are given per constant.

mod common;

use bytes::{Bytes, BytesMut};
use common::round_trip;
use smppgate_protocol::{Body, CommandId, FrameDecoder, Npi, Ton};

/// Frame 4 (payload at file offset 318), ESME → SMSC: bind_transmitter.
const BIND_TRANSMITTER: &str = concat!(
    "00000028",           // command_length 40
    "00000002",           // bind_transmitter
    "00000000",           // command_status
    "00000001",           // sequence_number 1
    "616268696b00",       // system_id "abhik"
    "70617373776f726400", // password "password" (8 + NUL = C(9) full)
    "534d505000",         // system_type "SMPP"
    "01",                 // interface_version 0x01 (pre-3.4 value, kept)
    "00",                 // addr_ton
    "00",                 // addr_npi
    "00",                 // address_range ""
);
/// Frame 5 (offset 428), SMSC → ESME: bind_transmitter_resp.
const BIND_TRANSMITTER_RESP: &str = concat!(
    "00000015",
    "80000002",
    "00000000",
    "00000001",   // len 21, seq 1
    "534d534300", // system_id "SMSC"
);
/// Frame 7 (offset 589): enquire_link, seq 2.
const ENQUIRE_LINK: &str = "00000010000000150000000000000002";
/// Frame 8 (offset 675): enquire_link_resp, seq 2.
const ENQUIRE_LINK_RESP: &str = "00000010800000150000000000000002";
/// Frame 9 (offset 761): submit_sm.
const SUBMIT_SM: &str = concat!(
    "00000032",
    "00000004",
    "00000000",
    "00000003", // len 50, seq 3
    "00",       // service_type ""
    "00",
    "01",
    "31303000", // source ton 0, npi 1, "100"
    "01",
    "01",
    "3132333435363738393000", // dest ton 1, npi 1, "1234567890"
    "00",
    "00",
    "00", // esm_class, protocol_id, priority_flag
    "00",
    "00", // schedule_delivery_time, validity_period NULL
    "00",
    "00",
    "00",
    "00", // registered_delivery, replace_if_present, data_coding, default
    "04",
    "74657374", // sm_length 4, "test"
);
/// Frame 10 (offset 881): submit_sm_resp.
const SUBMIT_SM_RESP: &str = concat!(
    "00000019",
    "80000004",
    "00000000",
    "00000003",           // len 25, seq 3
    "343763386337376100", // message_id "47c8c77a"
);
/// Frame 12 (offset 1046): unbind, seq 4.
const UNBIND: &str = "00000010000000060000000000000004";
/// Frame 13 (offset 1132): unbind_resp, seq 4.
const UNBIND_RESP: &str = "00000010800000060000000000000004";

fn wire(h: &str) -> Bytes {
    Bytes::from(hex::decode(h).unwrap())
}

#[test]
fn every_captured_pdu_decodes_and_re_encodes_exactly() {
    let pdu = round_trip(&wire(BIND_TRANSMITTER));
    let Body::BindTransmitter(bind) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(bind.system_id, "abhik");
    assert_eq!(bind.password, "password");
    assert_eq!(bind.system_type, "SMPP");
    assert_eq!(bind.interface_version, 0x01);
    assert_eq!((bind.addr_ton, bind.addr_npi), (Ton::UNKNOWN, Npi::UNKNOWN));
    assert!(bind.address_range.is_empty());

    let pdu = round_trip(&wire(BIND_TRANSMITTER_RESP));
    assert!(
        matches!(&pdu.body, Body::BindTransmitterResp(r) if r.system_id == "SMSC" && r.tlvs.is_empty())
    );
    assert_eq!(pdu.sequence_number, 1);

    let pdu = round_trip(&wire(ENQUIRE_LINK));
    assert_eq!(
        (pdu.command_id(), pdu.sequence_number),
        (CommandId::EnquireLink, 2)
    );
    let pdu = round_trip(&wire(ENQUIRE_LINK_RESP));
    assert_eq!(
        (pdu.command_id(), pdu.sequence_number),
        (CommandId::EnquireLinkResp, 2)
    );

    let pdu = round_trip(&wire(SUBMIT_SM));
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(pdu.sequence_number, 3);
    assert_eq!(
        (sm.source_addr.ton, sm.source_addr.npi),
        (Ton::UNKNOWN, Npi::ISDN)
    );
    assert_eq!(sm.source_addr.addr, "100");
    assert_eq!(sm.destination_addr.ton, Ton::INTERNATIONAL);
    assert_eq!(sm.destination_addr.addr, "1234567890");
    assert_eq!(sm.short_message, "test");

    let pdu = round_trip(&wire(SUBMIT_SM_RESP));
    assert!(matches!(&pdu.body, Body::SubmitSmResp(r) if r.message_id == "47c8c77a"));

    let pdu = round_trip(&wire(UNBIND));
    assert_eq!(
        (pdu.command_id(), pdu.sequence_number),
        (CommandId::Unbind, 4)
    );
    let pdu = round_trip(&wire(UNBIND_RESP));
    assert_eq!(
        (pdu.command_id(), pdu.sequence_number),
        (CommandId::UnbindResp, 4)
    );
}

#[test]
fn the_esme_side_of_the_flow_as_one_stream() {
    let mut stream = BytesMut::new();
    for h in [BIND_TRANSMITTER, ENQUIRE_LINK, SUBMIT_SM, UNBIND] {
        stream.extend_from_slice(&wire(h));
    }
    let mut decoder = FrameDecoder::default();
    let mut ids = Vec::new();
    while let Some(item) = decoder.decode(&mut stream).unwrap() {
        ids.push(item.unwrap().command_id());
    }
    assert_eq!(
        ids,
        [
            CommandId::BindTransmitter,
            CommandId::EnquireLink,
            CommandId::SubmitSm,
            CommandId::Unbind
        ]
    );
    assert!(stream.is_empty());
}
