//! SMGP 3.0 test vectors hand-written from the SMGP 3.0 field tables (one line per field;
//! layouts cross-checked against yedamao/go_smgp smgp/protocol/op_*.go, commit
//! 76117fff98b8c2e0747f4a10b181a3a3b6b32afd, which has no byte vectors of its own), and
//! proptest round trips.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::tlv::{LINK_ID, PK_NUMBER, PK_TOTAL, TP_PID, TP_UDHI, find};
use super::*;
use crate::china::DecodeErrorKind;
use crate::china::test_support::{self, hex, octets, text, zeros};

fn round_trip(bytes: &Bytes) -> Pdu {
    test_support::round_trip(bytes, decode, encode, encoded_len)
}

#[test]
fn login_and_login_resp() {
    let login = hex(&[
        "0000002a",                         // PacketLength 42
        "00000001",                         // RequestID Login
        "00000001",                         // SequenceID 1
        "3132333435363738",                 // ClientID "12345678"
        "6cbe113492deaf199a02cdfa1bb1d622", // AuthenticatorClient, secret "secret"
        "02",                               // LoginMode 2: send and receive
        "47e3325c",                         // TimeStamp 1206071900
        "30",                               // ClientVersion 3.0
    ]);
    let pdu = round_trip(&login);
    let Body::Login(l) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(l.login_mode, login_mode::TRANSMIT);
    assert_eq!(
        authenticator_client(&l.client_id, b"secret", l.timestamp),
        l.authenticator_client
    );
    let resp = hex(&[
        "00000021",                         // PacketLength 33
        "80000001",                         // Login_Resp
        "00000001",                         // SequenceID
        "00000000",                         // Status 0
        "93cbb088ca75c0379402f7bb79a323f9", // AuthenticatorServer = MD5(Status+Client+secret)
        "30",                               // ServerVersion
    ]);
    let pdu = round_trip(&resp);
    let Body::LoginResp(r) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(
        authenticator_server(r.status, &l.authenticator_client, b"secret"),
        r.authenticator_server
    );
}

fn submit_long_gbk_part() -> Bytes {
    hex(&[
        "000000b4",               // PacketLength 180
        "00000002",               // Submit
        "00000009",               // SequenceID 9
        "06",                     // MsgType 6: MT
        "01",                     // NeedReport
        "01",                     // Priority
        "4d4a4a30303031000000",   // ServiceID "MJJ0001"
        "3030",                   // FeeType "00"
        "303030303030",           // FeeCode "000000"
        "303030303030",           // FixedFee "000000"
        "0f",                     // MsgFormat 15: GBK
        &zeros(17),               // ValidTime
        &zeros(17),               // AtTime
        "3130363930303031",       // SrcTermID "10690001"
        &zeros(13),               //   padding to 21
        &zeros(21),               // ChargeTermID empty
        "01",                     // DestTermIDCount 1
        "3137373030303030303030", // DestTermID "17700000000"
        &zeros(10),               //   padding to 21
        "0a",                     // MsgLength 10
        "0500035a0201",           // UDH: ref 0x5a, 2 parts, part 1
        "b2e2cad4",               // "测试" in GBK
        &zeros(8),                // Reserve
        "0002",
        "0001",
        "01", // TLV TP_udhi = 1
        "0009",
        "0001",
        "02", // TLV PkTotal = 2
        "000a",
        "0001",
        "01", // TLV PkNumber = 1
        "0003",
        "0004",
        "6c696e6b", // TLV LinkID "link"
    ])
}

#[test]
fn submit_with_tlvs() {
    let pdu = round_trip(&submit_long_gbk_part());
    let Body::Submit(s) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(s.dest_term_ids, [&b"17700000000"[..]]);
    assert_eq!(
        crate::china::text::decode_text(s.msg_format, &s.msg_content[6..]).unwrap(),
        "测试"
    );
    assert_eq!(find(&s.tlvs, TP_UDHI).and_then(Tlv::as_u8), Some(1));
    assert_eq!(find(&s.tlvs, PK_TOTAL).and_then(Tlv::as_u8), Some(2));
    assert_eq!(find(&s.tlvs, PK_NUMBER).and_then(Tlv::as_u8), Some(1));
    assert_eq!(&find(&s.tlvs, LINK_ID).unwrap().value[..], b"link");
    assert_eq!(find(&s.tlvs, TP_PID), None);
    assert_eq!(tag_name(LINK_ID), Some("LinkID"));
}

#[test]
fn submit_resp_and_deliver_resp() {
    let bytes = hex(&[
        "0000001a",             // PacketLength 26
        "80000002",             // Submit_Resp
        "00000009",             // SequenceID
        "59012312060719000042", // MsgID: gateway 590123, 12060719, sequence 000042
        "0000004b",             // Status 75: flow control
    ]);
    let pdu = round_trip(&bytes);
    let Body::SubmitResp(r) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(r.status, STATUS_FLOW_CONTROL);
    assert_eq!(r.msg_id.to_string(), "59012312060719000042");
    let bytes = hex(&[
        "0000001a",
        "80000003",
        "0000000a",
        "59012312060720000001",
        "00000000",
    ]);
    assert!(matches!(
        round_trip(&bytes).body,
        Body::DeliverResp(MsgIdStatus { status: 0, .. })
    ));
}

#[test]
fn deliver_report_and_mo() {
    let content = hex(&[
        "69643a",                                         // "id:"
        "59012312060719000042",                           // the Submit_Resp's MsgID, binary
        "207375623a303031",                               // " sub:001"
        "20646c7672643a303031",                           // " dlvrd:001"
        "205375626d697420646174653a32363132303630373139", // " Submit date:2612060719"
        "20646f6e6520646174653a32363132303630373230",     // " done date:2612060720"
        "20737461743a44454c49565244",                     // " stat:DELIVRD"
        "206572723a303030",                               // " err:000"
        "20546578743a",                                   // " Text:"
        "68656c6c6f2074657374206d7367000000000000",       // "hello test msg" + 6 NUL (20)
    ]);
    assert_eq!(content.len(), 122);
    let bytes = hex(&[
        "000000d3",                     // PacketLength 211
        "00000003",                     // Deliver
        "0000000a",                     // SequenceID
        "59012312060720000001",         // MsgID of this Deliver
        "01",                           // IsReport 1
        "00",                           // MsgFormat
        "3230323631323036303732303030", // RecvTime "20261206072000"
        "3137373030303030303030",       // SrcTermID "17700000000"
        &zeros(10),                     //   padding to 21
        "3130363930303031",             // DestTermID "10690001"
        &zeros(13),                     //   padding to 21
        "7a",                           // MsgLength 122
        &::hex::encode(&content),       // MsgContent: the report
        &zeros(8),                      // Reserve
    ]);
    let pdu = round_trip(&bytes);
    let Body::Deliver(d) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(d.is_report, 1);
    let report = Report::parse(&d.msg_content).unwrap();
    assert_eq!(report.id.to_string(), "59012312060719000042");
    assert_eq!(&report.stat[..], b"DELIVRD");
    assert_eq!(&report.err[..], b"000");
    assert_eq!(report.to_bytes(), content);

    let mo = hex(&[
        "00000062",                     // PacketLength 98
        "00000003",                     // Deliver
        "0000000b",                     // SequenceID
        "59012312060721000002",         // MsgID
        "00",                           // IsReport 0: MO
        "08",                           // MsgFormat UCS-2
        "3230323631323036303732313030", // RecvTime
        "3137373030303030303030",       // SrcTermID
        &zeros(10),
        "3130363930303031", // DestTermID
        &zeros(13),
        "04",       // MsgLength 4
        "6d4b8bd5", // "测试"
        &zeros(8),  // Reserve
        "0001",
        "0001",
        "00", // TLV TP_pid 0
    ]);
    let pdu = round_trip(&mo);
    let Body::Deliver(d) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(
        crate::china::text::decode_text(d.msg_format, &d.msg_content).unwrap(),
        "测试"
    );
    assert_eq!(d.tlvs.len(), 1);
}

#[test]
fn active_test_and_exit() {
    for (hex_id, body) in [
        ("00000004", Body::ActiveTest),
        ("80000004", Body::ActiveTestResp),
        ("00000006", Body::Exit),
        ("80000006", Body::ExitResp),
    ] {
        let bytes = hex(&["0000000c", hex_id, "00000002"]); // header only
        assert_eq!(round_trip(&bytes).body, body);
    }
}

#[test]
fn hostile_frames() {
    // A TLV that claims more octets than are left.
    let mut bad = submit_long_gbk_part().to_vec();
    let last = bad.len() - 5;
    bad[last] = 0xFF;
    let error = decode(Bytes::from(bad)).unwrap_err();
    assert!(
        matches!(
            error.kind,
            DecodeErrorKind::Tlv {
                tag: 0x0003,
                length: 0x00FF,
                ..
            }
        ),
        "{error}"
    );
    // A TLV header cut in half.
    let mut cut = submit_long_gbk_part().to_vec();
    cut.truncate(cut.len() - 6);
    let len = u32::try_from(cut.len()).unwrap().to_be_bytes();
    cut[..4].copy_from_slice(&len);
    assert!(decode(Bytes::from(cut)).is_err());
    // Exit with a body.
    let trailing = decode(hex(&["0000000d", "00000006", "00000001", "00"])).unwrap_err();
    assert!(matches!(
        trailing.kind,
        DecodeErrorKind::TrailingData { .. }
    ));
    assert_eq!(
        decode(hex(&["0000000c", "00000005", "00000001"]))
            .unwrap_err()
            .kind,
        DecodeErrorKind::UnknownCommandId
    );
}

fn tlvs() -> impl Strategy<Value = Vec<Tlv>> {
    proptest::collection::vec(
        (any::<u16>(), octets(30)).prop_map(|(tag, value)| Tlv { tag, value }),
        0..4,
    )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (
            text(8),
            any::<[u8; 16]>(),
            any::<u8>(),
            any::<u32>(),
            any::<u8>()
        )
            .prop_map(|(c, a, m, t, v)| {
                Body::Login(Login {
                    client_id: c,
                    authenticator_client: a,
                    login_mode: m,
                    timestamp: t,
                    client_version: v,
                })
            }),
        (any::<u32>(), any::<[u8; 16]>(), any::<u8>()).prop_map(|(s, a, v)| Body::LoginResp(
            LoginResp {
                status: s,
                authenticator_server: a,
                server_version: v
            }
        )),
        (
            (
                any::<[u8; 4]>(),
                text(10),
                text(2),
                text(6),
                text(6),
                text(17),
                text(17)
            ),
            (
                text(21),
                text(21),
                proptest::collection::vec(text(21), 1..4),
                octets(255),
                text(8),
                tlvs()
            ),
        )
            .prop_map(
                |(
                    (f, service_id, fee_type, fee_code, fixed_fee, valid_time, at_time),
                    (src, charge, dests, content, reserve, tlvs),
                )| {
                    Body::Submit(Submit {
                        msg_type: f[0],
                        need_report: f[1],
                        priority: f[2],
                        service_id,
                        fee_type,
                        fee_code,
                        fixed_fee,
                        msg_format: f[3],
                        valid_time,
                        at_time,
                        src_term_id: src,
                        charge_term_id: charge,
                        dest_term_ids: dests,
                        msg_content: content,
                        reserve,
                        tlvs,
                    })
                }
            ),
        (any::<[u8; 10]>(), any::<u32>()).prop_map(|(m, s)| Body::SubmitResp(MsgIdStatus {
            msg_id: MsgId(m),
            status: s
        })),
        (
            any::<[u8; 10]>(),
            any::<[u8; 2]>(),
            text(14),
            text(21),
            text(21),
            octets(255),
            text(8),
            tlvs()
        )
            .prop_map(
                |(m, f, recv_time, src, dest, content, reserve, tlvs)| Body::Deliver(Deliver {
                    msg_id: MsgId(m),
                    is_report: f[0],
                    msg_format: f[1],
                    recv_time,
                    src_term_id: src,
                    dest_term_id: dest,
                    msg_content: content,
                    reserve,
                    tlvs,
                })
            ),
        (any::<[u8; 10]>(), any::<u32>()).prop_map(|(m, s)| Body::DeliverResp(MsgIdStatus {
            msg_id: MsgId(m),
            status: s
        })),
        Just(Body::ActiveTest),
        Just(Body::ActiveTestResp),
        Just(Body::Exit),
        Just(Body::ExitResp),
    ]
}

proptest! {
    #[test]
    fn any_packet_round_trips(sequence_id in any::<u32>(), body in body()) {
        let pdu = Pdu { sequence_id, body };
        let mut out = BytesMut::new();
        encode(&pdu, &mut out).unwrap();
        prop_assert_eq!(out.len(), encoded_len(&pdu));
        prop_assert_eq!(decode(out.freeze()).unwrap(), pdu);
    }

    #[test]
    fn any_bytes_decode_or_fail_without_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(Pdu { body: Body::Deliver(d), .. }) = decode(Bytes::from(data.clone())) {
            let _ = Report::parse(&d.msg_content);
        }
        let mut stream = BytesMut::from(&data[..]);
        let mut decoder = FrameDecoder::default();
        while let Ok(Some(_)) = decoder.decode(&mut stream) {}
        let _ = Report::parse(&Bytes::from(data));
    }
}
