//! Malformed input: what the decoder refuses, what it answers, and that the stream stays in
//! step (reference §4.3). Vectors written by hand.

mod common;

use bytes::{Bytes, BytesMut};
use common::{P, frame};
use smppgate_protocol::codec::{EncodeError, FrameError, frame_length};
use smppgate_protocol::tlv::TlvError;
use smppgate_protocol::{
    Address, Bind, Body, CommandId, CommandStatus, DecodeError, FrameDecoder, Pdu, SubmitSm, Tlv,
    TlvTag, Tlvs, decode, encode,
};

fn buffer(parts: &[P<'_>]) -> BytesMut {
    BytesMut::from(&frame(parts)[..])
}

#[test]
fn command_length_below_16_is_fatal() {
    let mut buf = buffer(&[P::H("0000000F 00000015 00000000 00000001")]);
    let err = FrameDecoder::default().decode(&mut buf).unwrap_err();
    assert_eq!(err, FrameError::TooShort { command_length: 15 });
    assert_eq!(err.status(), CommandStatus::ESME_RINVCMDLEN);
    assert!(!err.is_recoverable());
    assert_eq!(buf.len(), 16, "nothing consumed");
}

#[test]
fn command_length_over_the_cap_is_fatal_before_buffering() {
    // 0xF0000011: the reference's example of a length that ends framing.
    let mut buf = buffer(&[P::H("F0000011 00000004")]);
    let err = FrameDecoder::new(4096).decode(&mut buf).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLong {
            command_length: 0xF000_0011,
            max_frame: 4096
        }
    );
    assert!(buf.capacity() < 4096, "no allocation from the length field");
    assert_eq!(
        frame_length(&[0, 0, 0x10, 0x11], 4096),
        Err(FrameError::TooLong {
            command_length: 0x1011,
            max_frame: 4096
        })
    );
}

#[test]
fn partial_frames_wait() {
    let whole = frame(&[P::H("00000010 00000015 00000000 00000001")]);
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    for (i, byte) in whole.iter().enumerate() {
        assert_eq!(decoder.decode(&mut buf).unwrap(), None, "after {i} octets");
        buf.extend_from_slice(&[*byte]);
    }
    let pdu = decoder.decode(&mut buf).unwrap().unwrap().unwrap();
    assert_eq!(pdu.command_id(), CommandId::EnquireLink);
}

#[test]
fn frame_shorter_than_its_mandatory_fields() {
    // submit_sm whose body stops after the source address.
    let wire = frame(&[
        P::H("00000016 00000004 00000000 00000021"), // len 22
        P::H("00 01 01"),
        P::A("12"),
        P::H("00"),
    ]);
    let err = decode(wire).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Truncated {
            command_id: 4,
            sequence_number: 0x21,
            field: "dest_addr_ton",
            offset: 22
        }
    );
    assert_eq!(err.status(), CommandStatus::ESME_RINVMSGLEN);
    assert_eq!(err.response_command_id(), Some(CommandId::SubmitSmResp));
    let answer = err.response().unwrap();
    assert_eq!(answer.sequence_number, 0x21);
    assert_eq!(answer.command_status, CommandStatus::ESME_RINVMSGLEN);
    // A request with an empty body is truncated too.
    let err = decode(frame(&[P::H("00000010 00000002 00000000 00000001")])).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Truncated {
            field: "system_id",
            offset: 16,
            ..
        }
    ));
}

#[test]
fn c_string_without_nul() {
    // bind_transmitter whose address_range runs to the end of the body.
    let wire = frame(&[
        P::H("00000017 00000002 00000000 00000001"), // len 23
        P::H("00 00 00 34 00 00"),
        P::A("x"),
    ]);
    let err = decode(wire).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Unterminated {
            command_id: 2,
            sequence_number: 1,
            field: "address_range",
            offset: 22
        }
    );
    assert_eq!(err.status(), CommandStatus::ESME_RINVMSGLEN);
}

#[test]
fn c_string_over_its_maximum() {
    // system_id of 16 characters + NUL: one over C(16).
    let wire = frame(&[
        P::H("00000027 00000002 00000000 00000001"), // len 39
        P::A("ABCDEFGHIJKLMNOP"),
        P::H("00"),
        P::H("00 00 34 00 00 00"),
    ]);
    let err = decode(wire).unwrap_err();
    assert_eq!(
        err,
        DecodeError::StringTooLong {
            command_id: 2,
            sequence_number: 1,
            field: "system_id",
            offset: 16,
            max: 16
        }
    );
    assert_eq!(err.status(), CommandStatus::ESME_RINVSYSID);
    assert_eq!(
        err.response_command_id(),
        Some(CommandId::BindTransmitterResp)
    );

    // And on encode: refused, naming the field, length and limit.
    let pdu = Pdu::new(
        1,
        Body::BindTransmitter(Bind {
            system_id: Bytes::from_static(b"ABCDEFGHIJKLMNOP"),
            ..Bind::default()
        }),
    );
    let mut buf = BytesMut::new();
    assert_eq!(
        encode(&pdu, &mut buf),
        Err(EncodeError::StringTooLong {
            command_id: CommandId::BindTransmitter,
            field: "system_id",
            length: 16,
            max: 16
        })
    );
    let nul = Pdu::new(
        1,
        Body::BindTransmitter(Bind {
            password: Bytes::from_static(b"a\0b"),
            ..Bind::default()
        }),
    );
    assert!(matches!(
        encode(&nul, &mut buf),
        Err(EncodeError::StringContainsNul {
            field: "password",
            position: 1,
            ..
        })
    ));
    assert!(buf.is_empty());
}

fn deliver_sm_with_tlvs(len: &str, tlvs: &str) -> Bytes {
    frame(&[
        P::H(len),
        P::H("00 00 00 00 00 00 00"), // service_type, source ton/npi/"" , dest ton/npi/""
        P::H("04 00 00 00 00 00 00 00 00 00"), // esm .. sm_length 0
        P::H(tlvs),
    ])
}

#[test]
fn tlv_cut_in_the_middle() {
    // message_state announcing 1 octet, none left.
    let wire = deliver_sm_with_tlvs("00000025 00000005 00000000 00000030", "0427 0001");
    let err = decode(wire).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Tlv {
            command_id: 5,
            sequence_number: 0x30,
            offset: 33,
            source: TlvError::Stream { offset: 0, .. }
        }
    ));
    assert_eq!(err.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    assert_eq!(err.response_command_id(), Some(CommandId::DeliverSmResp));
    // A TLV header cut after 2 octets.
    let wire = deliver_sm_with_tlvs(
        "00000029 00000005 00000000 00000031",
        "0427 0001 02 0424 00",
    );
    let err = decode(wire).unwrap_err();
    assert_eq!(err.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
}

#[test]
fn fixed_size_tlv_with_wrong_length() {
    let wire = deliver_sm_with_tlvs("00000027 00000005 00000000 00000032", "0427 0002 0002");
    let err = decode(wire).unwrap_err();
    assert_eq!(err.status(), CommandStatus::ESME_RINVPARLEN);
    // The same TLV where 3.4 does not expect it (submit_sm): ignored, not fatal.
    let mut raw =
        deliver_sm_with_tlvs("00000027 00000004 00000000 00000032", "0427 0002 0002").to_vec();
    raw[23] = 0; // clear esm_class
    let pdu = decode(Bytes::from(raw)).unwrap();
    let Body::SubmitSm(sm) = pdu.body else {
        panic!()
    };
    assert_eq!(sm.tlvs.message_state(), None);
    assert_eq!(sm.tlvs.iter().count(), 1);
}

#[test]
fn sm_length_past_the_end_of_the_body() {
    let wire = frame(&[
        P::H("00000023 00000004 00000000 00000040"), // len 35
        P::H("00 00 00 00 00 00 00"),
        P::H("00 00 00 00 00 00 00 00 00"),
        P::H("05"),
        P::A("ab"), // 2 of 5 octets
    ]);
    let err = decode(wire).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Truncated {
            command_id: 4,
            sequence_number: 0x40,
            field: "short_message",
            offset: 33
        }
    );
}

#[test]
fn invalid_times_map_to_their_statuses() {
    let make = |sched: &str, validity: &str| {
        let body_len = 7 + 3 + sched.len() + 1 + validity.len() + 1 + 4 + 1;
        let len = format!("{:08X}", 16 + body_len);
        frame(&[
            P::H(&len),
            P::H("00000004 00000000 00000050"),
            P::H("00 00 00 00 00 00 00 00 00 00"),
            P::A(sched),
            P::H("00"),
            P::A(validity),
            P::H("00"),
            P::H("00 00 00 00 00"),
        ])
    };
    let err = decode(make("151303040506708+", "")).unwrap_err();
    assert_eq!(err.status(), CommandStatus::ESME_RINVSCHED);
    assert!(matches!(
        err,
        DecodeError::InvalidTime {
            field: "schedule_delivery_time",
            offset: 26,
            ..
        }
    ));
    let err = decode(make("", "000000001000000X")).unwrap_err();
    assert_eq!(err.status(), CommandStatus::ESME_RINVEXPIRY);
    let err = decode(make("", "12345")).unwrap_err();
    assert_eq!(err.status(), CommandStatus::ESME_RINVEXPIRY);
    let err = decode(make("1503040506708+000", "")).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::StringTooLong {
            field: "schedule_delivery_time",
            max: 17,
            ..
        }
    ));
    assert_eq!(err.status(), CommandStatus::ESME_RINVSCHED);
}

#[test]
fn unknown_command_id_then_a_good_pdu() {
    // 5.0 broadcast_sm (not 3.4) with a 4-octet body, then enquire_link, in one buffer.
    let mut buf = buffer(&[
        P::H("00000014 00000111 00000000 0000002A DEADBEEF"),
        P::H("00000010 00000015 00000000 0000002B"),
    ]);
    let mut decoder = FrameDecoder::default();
    let err = decoder.decode(&mut buf).unwrap().unwrap().unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnknownCommandId {
            command_id: 0x111,
            sequence_number: 0x2A
        }
    );
    assert_eq!(err.status(), CommandStatus::ESME_RINVCMDID);
    assert_eq!(err.response_command_id(), Some(CommandId::GenericNack));
    assert_eq!(
        err.response(),
        Some(Pdu::generic_nack(0x2A, CommandStatus::ESME_RINVCMDID))
    );
    let pdu = decoder.decode(&mut buf).unwrap().unwrap().unwrap();
    assert_eq!(
        (pdu.command_id(), pdu.sequence_number),
        (CommandId::EnquireLink, 0x2B)
    );
    assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    // An unknown *response* is never answered.
    let err = decode(frame(&[P::H("00000010 80000111 00000000 00000001")])).unwrap_err();
    assert_eq!(err.response_command_id(), None);
}

#[test]
fn garbage_body_then_a_good_pdu() {
    let mut buf = buffer(&[
        // submit_sm whose body is 8 octets of 0xFF: service_type has no NUL within C(6).
        P::H("00000018 00000004 00000000 00000050 FFFFFFFF FFFFFFFF"),
        P::H("00000010 00000006 00000000 00000051"),
    ]);
    let mut decoder = FrameDecoder::default();
    let err = decoder.decode(&mut buf).unwrap().unwrap().unwrap_err();
    assert!(matches!(
        err,
        DecodeError::StringTooLong {
            field: "service_type",
            sequence_number: 0x50,
            ..
        }
    ));
    assert_eq!(err.status(), CommandStatus::ESME_RINVSERTYP);
    let pdu = decoder.decode(&mut buf).unwrap().unwrap().unwrap();
    assert_eq!(
        (pdu.command_id(), pdu.sequence_number),
        (CommandId::Unbind, 0x51)
    );
}

/// A successful submit_sm_resp whose body does not decode still says the carrier took
/// the message (reference §4.3: the status is what matters): read as an answer with the
/// id before the first NUL (at most 64 octets), never as a lost answer that would send
/// the message again. Other successful responses stay strict.
#[test]
fn a_successful_submit_resp_with_a_bad_body_keeps_its_id() {
    // message_id "abc" without its NUL.
    let pdu = decode(frame(&[P::H("00000013 80000004 00000000 00000007 616263")])).unwrap();
    assert_eq!(pdu.command_status, CommandStatus::ESME_ROK);
    let Body::SubmitSmResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(&resp.message_id[..], b"abc");
    // "ab", NUL, then a TLV cut short: the id, and no TLVs.
    let pdu = decode(frame(&[P::H(
        "00000016 80000004 00000000 00000008 616200 0204 00",
    )]))
    .unwrap();
    let Body::SubmitSmResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(&resp.message_id[..], b"ab");
    assert!(resp.tlvs.is_empty());
    // 70 octets, no NUL: the first 64.
    let long = "61".repeat(70);
    let pdu = decode(frame(&[P::H(&format!(
        "00000056 80000103 00000000 00000009 {long}"
    ))]))
    .unwrap();
    let Body::DataSmResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(resp.message_id.len(), 64);
    // A query_sm_resp that does not decode is still an error.
    assert!(decode(frame(&[P::H("00000013 80000003 00000000 0000000A 616263")])).is_err());
}

#[test]
fn trailing_data() {
    // enquire_link with 2 NULs after the header: tolerated.
    let pdu = decode(frame(&[P::H("00000012 00000015 00000000 00000001 0000")])).unwrap();
    assert_eq!(pdu.body, Body::EnquireLink);
    // … with other octets: ESME_RINVCMDLEN, answered with generic_nack.
    let err = decode(frame(&[P::H("00000012 00000015 00000000 00000001 0102")])).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::TrailingData {
            offset: 16,
            count: 2,
            ..
        }
    ));
    assert_eq!(err.status(), CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(err.response_command_id(), Some(CommandId::GenericNack));
}

#[test]
fn decode_checks_the_frame_length() {
    let err = decode(frame(&[P::H("00000011 00000015 00000000 00000001")])).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::BadLength {
            command_length: 17,
            frame_len: 16,
            ..
        }
    ));
    let err = decode(Bytes::from_static(&[0, 0, 0])).unwrap_err();
    assert!(matches!(err, DecodeError::BadLength { frame_len: 3, .. }));
}

#[test]
fn invalid_submit_multi_lists() {
    // dest_flag 3.
    let wire = frame(&[
        P::H("00000018 00000021 00000000 00000001"),
        P::H("00 00 00 00 01 03 00 00"),
    ]);
    let err = decode(wire).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::InvalidValue {
            field: "dest_flag",
            value: 3,
            offset: 21,
            ..
        }
    ));
    assert_eq!(err.status(), CommandStatus::ESME_RINVDESTFLAG);
    // number_of_dests 0.
    let wire = frame(&[
        P::H("00000015 00000021 00000000 00000001"),
        P::H("00 00 00 00 00"),
    ]);
    assert_eq!(
        decode(wire).unwrap_err().status(),
        CommandStatus::ESME_RINVNUMDESTS
    );
}

#[test]
fn strict_on_send() {
    let mut buf = BytesMut::new();
    // short_message and message_payload together.
    let sm = SubmitSm {
        short_message: Bytes::from_static(b"hi"),
        tlvs: Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from_static(b"hello")))
            .build()
            .unwrap(),
        ..SubmitSm::default()
    };
    let err = encode(&Pdu::new(1, Body::SubmitSm(sm)), &mut buf).unwrap_err();
    assert_eq!(
        err,
        EncodeError::PayloadConflict {
            command_id: CommandId::SubmitSm
        }
    );
    // deliver_sm with a validity_period.
    let sm = SubmitSm {
        validity_period: smppgate_protocol::SmppTime::from_raw(&b"000000001000000R"[..]).unwrap(),
        ..SubmitSm::default()
    };
    let err = encode(&Pdu::new(1, Body::DeliverSm(sm)), &mut buf).unwrap_err();
    assert!(matches!(
        err,
        EncodeError::MustBeNull {
            field: "validity_period",
            ..
        }
    ));
    // submit_sm destination over C(21).
    let sm = SubmitSm {
        destination_addr: Address::international("1".repeat(21)),
        ..SubmitSm::default()
    };
    let err = encode(&Pdu::new(1, Body::SubmitSm(sm)), &mut buf).unwrap_err();
    assert_eq!(
        err,
        EncodeError::StringTooLong {
            command_id: CommandId::SubmitSm,
            field: "destination_addr",
            length: 21,
            max: 21
        }
    );
    // submit_multi with no destination.
    let err = encode(
        &Pdu::new(1, Body::SubmitMulti(Default::default())),
        &mut buf,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        EncodeError::CountOutOfRange {
            field: "number_of_dests",
            count: 0,
            ..
        }
    ));
    // An invalid time built unchecked.
    let query = smppgate_protocol::QuerySmResp {
        final_date: smppgate_protocol::SmppTime::from_raw_unchecked(Bytes::from_static(b"bad")),
        ..Default::default()
    };
    let err = encode(&Pdu::new(1, Body::QuerySmResp(query)), &mut buf).unwrap_err();
    assert!(matches!(
        err,
        EncodeError::InvalidTime {
            field: "final_date",
            ..
        }
    ));
    assert!(buf.is_empty());
    assert_eq!(TlvTag::MESSAGE_PAYLOAD.name(), Some("message_payload"));
}
