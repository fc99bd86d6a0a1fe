//! CMPP test vectors: hand-written from the CMPP 3.0 / 2.0 field tables (one line per
//! field), the vectors of an independent implementation (bigwhite/gocmpp, commit
//! e6111341341ab94ce81f2949b092dadce82f86b2, files *_test.go), and proptest round trips.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::china::DecodeErrorKind;
use crate::china::test_support::{self, hex, octets, text, zeros};

/// Decodes, re-encodes and compares bytes; returns the packet for field checks.
fn round_trip(bytes: &Bytes, version: Version) -> Pdu {
    test_support::round_trip(
        bytes,
        |frame| decode(frame, version),
        |pdu, out| encode(pdu, version, out),
        |pdu| encoded_len(pdu, version),
    )
}

#[test]
fn connect_v3_hand_written() {
    let bytes = hex(&[
        "00000027",                         // Total_Length 39
        "00000001",                         // Command_Id CMPP_CONNECT
        "00000001",                         // Sequence_Id 1
        "393031323334",                     // Source_Addr "901234"
        "72dd9158719c2b31427baf3b6e11464d", // AuthenticatorSource, secret "secret"
        "30",                               // Version 3.0
        "47e3325c",                         // Timestamp 1206071900 (Dec 6 07:19:00)
    ]);
    let pdu = round_trip(&bytes, Version::V3);
    let Body::Connect(connect) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(&connect.source_addr[..], b"901234");
    assert_eq!(connect.timestamp, 1_206_071_900);
    assert_eq!(connect.version, 0x30);
    assert_eq!(
        authenticator_source(&connect.source_addr, b"secret", connect.timestamp),
        connect.authenticator_source
    );
}

#[test]
fn connect_resp_status_width_follows_the_version() {
    let v2 = hex(&[
        "0000001e",                         // Total_Length 30
        "80000001",                         // CMPP_CONNECT_RESP
        "00000001",                         // Sequence_Id
        "03",                               // Status (1 octet in 2.0): 3 auth failed
        "00000000000000000000000000000000", // AuthenticatorISMG (empty on failure)
        "20",                               // Version
    ]);
    let pdu = round_trip(&v2, Version::V2);
    assert!(matches!(
        pdu.body,
        Body::ConnectResp(ConnectResp {
            status: STATUS_AUTH_FAILED,
            ..
        })
    ));
    let v3 = hex(&[
        "00000021",                         // Total_Length 33
        "80000001",                         // CMPP_CONNECT_RESP
        "00000001",                         // Sequence_Id
        "00000003",                         // Status (4 octets in 3.0)
        "00000000000000000000000000000000", // AuthenticatorISMG
        "30",                               // Version
    ]);
    let pdu = round_trip(&v3, Version::V3);
    assert!(matches!(
        pdu.body,
        Body::ConnectResp(ConnectResp { status: 3, .. })
    ));
    // The 2.0 layout read as 3.0 is cut short: an error naming the field, not a panic.
    assert!(decode(v2, Version::V3).is_err());
}

fn submit_v3_long_part() -> Bytes {
    hex(&[
        "000000f3",               // Total_Length 243
        "00000004",               // CMPP_SUBMIT
        "0000002a",               // Sequence_Id 42
        "0000000000000000",       // Msg_Id (0 from the SP)
        "02",                     // Pk_total 2
        "01",                     // Pk_number 1
        "01",                     // Registered_Delivery: report wanted
        "00",                     // Msg_level
        "4d4a4a30303031",         // Service_Id "MJJ0001"
        "000000",                 //   padding to 10
        "00",                     // Fee_UserType 0
        &zeros(32),               // Fee_terminal_Id (32 in 3.0), empty
        "00",                     // Fee_terminal_type
        "00",                     // TP_pId
        "01",                     // TP_udhi: UDH in Msg_Content
        "08",                     // Msg_Fmt UCS-2
        "393031323334",           // Msg_src "901234"
        "3032",                   // FeeType "02"
        "303030303130",           // FeeCode "000010"
        &zeros(17),               // ValId_Time empty
        &zeros(17),               // At_Time empty
        "3130363930303031",       // Src_Id "10690001"
        &zeros(13),               //   padding to 21
        "02",                     // DestUsr_tl 2
        "3133383030313338303030", // Dest_terminal_Id "13800138000"
        &zeros(21),               //   padding to 32
        "3133393030313339303030", // Dest_terminal_Id "13900139000"
        &zeros(21),               //   padding to 32
        "00",                     // Dest_terminal_type
        "10",                     // Msg_Length 16
        "050003a70201",           // UDH: concatenation ref 0xa7, 2 parts, part 1
        "6d4b8bd5957f77ed4fe1",   // "测试长短信" in UCS-2
        &zeros(20),               // LinkID empty
    ])
}

#[test]
fn submit_v3_long_message_part() {
    let pdu = round_trip(&submit_v3_long_part(), Version::V3);
    assert_eq!(pdu.sequence_id, 42);
    let Body::Submit(submit) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(
        (
            submit.pk_total,
            submit.pk_number,
            submit.tp_udhi,
            submit.msg_fmt
        ),
        (2, 1, 1, 8)
    );
    assert_eq!(&submit.service_id[..], b"MJJ0001");
    assert_eq!(&submit.src_id[..], b"10690001");
    assert_eq!(
        submit.dest_terminal_ids,
        [&b"13800138000"[..], &b"13900139000"[..]]
    );
    assert_eq!(
        crate::china::text::decode_text(8, &submit.msg_content[6..]).unwrap(),
        "测试长短信"
    );
}

#[test]
fn submit_resp_and_deliver_resp_result_widths() {
    let v2 = hex(&[
        "00000015",         // Total_Length 21
        "80000004",         // CMPP_SUBMIT_RESP
        "0000002a",         // Sequence_Id
        "b2b9da8000010000", // Msg_Id: Nov 5 14:29:42, gateway 1, sequence 0
        "08",               // Result (1 octet in 2.0): 8 flow control
    ]);
    let pdu = round_trip(&v2, Version::V2);
    let Body::SubmitResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(resp.result, RESULT_FLOW_CONTROL);
    assert_eq!(
        MsgId::from_u64(resp.msg_id).to_string(),
        "1105 14:29:42 gateway 1 sequence 0"
    );
    let v3 = hex(&[
        "00000018",         // Total_Length 24
        "80000005",         // CMPP_DELIVER_RESP
        "00000007",         // Sequence_Id
        "b2b9da8000010001", // Msg_Id of the DELIVER
        "00000000",         // Result (4 octets in 3.0)
    ]);
    let pdu = round_trip(&v3, Version::V3);
    assert!(matches!(
        pdu.body,
        Body::DeliverResp(DeliverResp { result: 0, .. })
    ));
}

#[test]
fn deliver_v3_status_report() {
    let bytes = hex(&[
        "000000b4",               // Total_Length 180
        "00000005",               // CMPP_DELIVER
        "00000007",               // Sequence_Id
        "b2b9da8000010001",       // Msg_Id of this DELIVER
        "3130363930303031",       // Dest_Id "10690001"
        &zeros(13),               //   padding to 21
        "4d4a4a30303031000000",   // Service_Id "MJJ0001"
        "00",                     // TP_pid
        "00",                     // TP_udhi
        "00",                     // Msg_Fmt
        "3133383030313338303030", // Src_terminal_Id "13800138000"
        &zeros(21),               //   padding to 32
        "00",                     // Src_terminal_type
        "01",                     // Registered_Delivery 1: a status report
        "47",                     // Msg_Length 71
        "b2b9da8000010000",       //   report Msg_Id: the SUBMIT_RESP's
        "44454c49565244",         //   Stat "DELIVRD"
        "32363132303630373139",   //   Submit_time "2612060719"
        "32363132303630373230",   //   Done_time "2612060720"
        "3133383030313338303030", //   Dest_terminal_Id "13800138000"
        &zeros(21),               //     padding to 32
        "00000001",               //   SMSC_sequence 1
        &zeros(20),               // LinkID
    ]);
    let pdu = round_trip(&bytes, Version::V3);
    let Body::Deliver(deliver) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(deliver.registered_delivery, 1);
    let report = StatusReport::parse(&deliver.msg_content, Version::V3).unwrap();
    assert_eq!(report.msg_id, 0xb2b9_da80_0001_0000);
    assert_eq!(&report.stat[..], b"DELIVRD");
    assert_eq!(&report.dest_terminal_id[..], b"13800138000");
    assert_eq!(report.smsc_sequence, 1);
}

#[test]
fn deliver_v2_status_report_has_21_octet_terminals() {
    let bytes = hex(&[
        "00000091",               // Total_Length 145
        "00000005",               // CMPP_DELIVER
        "00000008",               // Sequence_Id
        "b2b9da8000010002",       // Msg_Id
        "3130363930303031",       // Dest_Id "10690001"
        &zeros(13),               //   padding to 21
        &zeros(10),               // Service_Id empty
        "000000",                 // TP_pid TP_udhi Msg_Fmt
        "3133383030313338303030", // Src_terminal_Id "13800138000"
        &zeros(10),               //   padding to 21 (no type octet in 2.0)
        "01",                     // Registered_Delivery 1
        "3c",                     // Msg_Length 60
        "b2b9da8000010000",       //   report Msg_Id
        "4d4b3a30303035",         //   Stat "MK:0005"
        "32363132303630373139",   //   Submit_time
        "32363132303630373230",   //   Done_time
        "3133383030313338303030", //   Dest_terminal_Id
        &zeros(10),               //     padding to 21
        "00000002",               //   SMSC_sequence 2
        &zeros(8),                // Reserve (2.0)
    ]);
    let pdu = round_trip(&bytes, Version::V2);
    let Body::Deliver(deliver) = &pdu.body else {
        panic!("{pdu:?}")
    };
    let report = StatusReport::parse(&deliver.msg_content, Version::V2).unwrap();
    assert_eq!(&report.stat[..], b"MK:0005");
}

#[test]
fn query_cancel_active_test_terminate() {
    let query = hex(&[
        "00000027",             // Total_Length 39
        "00000006",             // CMPP_QUERY
        "00000003",             // Sequence_Id
        "3230323631323036",     // Time "20261206"
        "01",                   // Query_Type 1: by service
        "4d4a4a30303031000000", // Query_Code "MJJ0001"
        &zeros(8),              // Reserve
    ]);
    assert!(matches!(
        round_trip(&query, Version::V3).body,
        Body::Query(Query { query_type: 1, .. })
    ));
    let query_resp = hex(&[
        "0000003f",             // Total_Length 63
        "80000006",             // CMPP_QUERY_RESP
        "00000003",             // Sequence_Id
        "3230323631323036",     // Time
        "01",                   // Query_Type
        "4d4a4a30303031000000", // Query_Code
        "00000064",             // MT_TLMsg 100
        "00000032",             // MT_Tlusr 50
        "0000005f",             // MT_Scs 95
        "00000002",             // MT_WT 2
        "00000003",             // MT_FL 3
        "0000000a",             // MO_Scs 10
        "00000000",             // MO_WT
        "00000001",             // MO_FL 1
    ]);
    let pdu = round_trip(&query_resp, Version::V2);
    assert!(matches!(
        pdu.body,
        Body::QueryResp(QueryResp {
            mt_tlmsg: 100,
            mo_fl: 1,
            ..
        })
    ));
    let cancel = hex(&["00000014", "00000007", "00000004", "b2b9da8000010000"]); // Msg_Id
    assert!(matches!(
        round_trip(&cancel, Version::V3).body,
        Body::Cancel(_)
    ));
    let cancel_v2 = hex(&["0000000d", "80000007", "00000004", "00"]); // Success_Id (1)
    assert!(matches!(
        round_trip(&cancel_v2, Version::V2).body,
        Body::CancelResp(_)
    ));
    let cancel_v3 = hex(&["00000010", "80000007", "00000004", "00000001"]); // Success_Id (4)
    assert!(matches!(
        round_trip(&cancel_v3, Version::V3).body,
        Body::CancelResp(CancelResp { success_id: 1 })
    ));
    let active = hex(&["0000000c", "00000008", "00000005"]);
    assert_eq!(round_trip(&active, Version::V3).body, Body::ActiveTest);
    let active_resp = hex(&["0000000d", "80000008", "00000005", "00"]); // Reserved
    assert!(matches!(
        round_trip(&active_resp, Version::V3).body,
        Body::ActiveTestResp(_)
    ));
    let terminate = hex(&["0000000c", "00000002", "00000006"]);
    assert_eq!(round_trip(&terminate, Version::V2).body, Body::Terminate);
    let terminate_resp = hex(&["0000000c", "80000002", "00000006"]);
    assert_eq!(
        round_trip(&terminate_resp, Version::V2).body,
        Body::TerminateResp
    );
}

/// bigwhite/gocmpp's packets, byte for byte (test name, version, hex).
const GOCMPP: &[(&str, Version, &str)] = &[
    (
        "activetest_test.go TestCmppActiveTestReqPktPack",
        Version::V3,
        "0000000c0000000800000017",
    ),
    (
        "activetest_test.go TestCmppActiveTestRspPktPack",
        Version::V3,
        "0000000d800000080000001700",
    ),
    (
        "connect_test.go TestCmppConnReqPktPack",
        Version::V2,
        "00000027000000010000001739303030303190d00c1d517abd0b4f65f6bcf8535d16213cdc73be",
    ),
    (
        "connect_test.go TestCmpp2ConnRspPktPack",
        Version::V2,
        "0000001e8000000100000017006c0b846e25bab6daa4ed1c466e0f4bd821",
    ),
    (
        "connect_test.go TestCmpp3ConnRspPktPack",
        Version::V3,
        "000000218000000100000017000000007942977274098cf210ab0c16c367bc8d30",
    ),
    (
        "deliver_test.go TestCmpp3DeliverReqPktPack",
        Version::V3,
        "0000007f0000000500000001b4c55300000100003930303030310000000000000000000000000000000000000000000000000000000031333431323334303030300000000000000000000000000000000000000000000000125468697320697320612074657374204d4f2e0000000000000000000000000000000000000000",
    ),
    (
        "deliver_test.go TestCmpp3DeliverRspPktPack",
        Version::V3,
        "000000188000000500000001b4c553000001000000000000",
    ),
    (
        "deliver_test.go TestCmpp2DeliverReqPktPack",
        Version::V2,
        "000000670000000500000005b5256280000100003930303030310000000000000000000000000000000000000000000000000000000031333431323334303030300000000000000000000000125468697320697320612074657374204d4f2e0000000000000000",
    ),
    (
        "deliver_test.go TestCmpp2DeliverRspPktPack",
        Version::V2,
        "000000158000000500000005b52562800001000000",
    ),
    (
        "submit_test.go TestCmpp2SubmitReqPktPack",
        Version::V2,
        "000000bd0000000400000017000000000000000001010101746573740000000000000231333530303030323639360000000000000000000000000839303030303130323130000000003135313130353133313535353130312b000000000000000000000000000000000000393030303031000000000000000000000000000000013133353030303032363936000000000000000000001e6d4b8bd50067006f0063006d007000700020007300750062006d006900740000000000000000",
    ),
    (
        "submit_test.go TestCmpp2SubmitRspPktPack",
        Version::V2,
        "000000158000000400000017b2b9da800001000000",
    ),
    (
        "submit_test.go TestCmpp3SubmitReqPktPack",
        Version::V3,
        "000000e10000000400000017000000000000000001010101746573740000000000000231333530303030323639360000000000000000000000000000000000000000000000000839303030303130323130000000003135313130353133313535353130312b000000000000000000000000000000000000393030303031000000000000000000000000000000013133353030303032363936000000000000000000000000000000000000000000001e6d4b8bd50067006f0063006d007000700020007300750062006d006900740000000000000000000000000000000000000000",
    ),
    (
        "submit_test.go TestCmpp3SubmitRspPktPack",
        Version::V3,
        "000000188000000400000017b2b9da800001000000000000",
    ),
    (
        "terminate_test.go TestCmppTerminateReqPktPack",
        Version::V3,
        "0000000c0000000200000017",
    ),
    (
        "terminate_test.go TestCmppTerminateRspPktPack",
        Version::V3,
        "0000000c8000000200000017",
    ),
];

#[test]
fn gocmpp_vectors_decode_and_re_encode_byte_for_byte() {
    for (name, version, vector) in GOCMPP {
        let bytes = hex(&[vector]);
        let pdu = decode(bytes.clone(), *version).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = BytesMut::new();
        encode(&pdu, *version, &mut out).unwrap();
        assert_eq!(::hex::encode(&out), *vector, "{name}");
    }
}

#[test]
fn gocmpp_field_values() {
    // connect_test.go: Source_Addr 900001, Version 0x21, Timestamp 1021080510, Sequence 0x17.
    let pdu = decode(hex(&[GOCMPP[2].2]), Version::V2).unwrap();
    assert_eq!(pdu.sequence_id, 0x17);
    let Body::Connect(c) = pdu.body else { panic!() };
    assert_eq!(
        (&c.source_addr[..], c.version, c.timestamp),
        (&b"900001"[..], 0x21, 1_021_080_510)
    );
    // submit_test.go: "测试gocmpp submit" in UCS-2 to 13500002696 from 900001.
    let pdu = decode(hex(&[GOCMPP[11].2]), Version::V3).unwrap();
    let Body::Submit(s) = pdu.body else { panic!() };
    assert_eq!(
        crate::china::text::decode_text(s.msg_fmt, &s.msg_content).unwrap(),
        "测试gocmpp submit"
    );
    assert_eq!(s.dest_terminal_ids, [&b"13500002696"[..]]);
    assert_eq!(&s.src_id[..], b"900001");
    assert_eq!(&s.valid_time[..], b"151105131555101+");
    // deliver_test.go: "This is a test MO." from 13412340000 to 900001.
    let pdu = decode(hex(&[GOCMPP[7].2]), Version::V2).unwrap();
    let Body::Deliver(d) = pdu.body else { panic!() };
    assert_eq!(&d.msg_content[..], b"This is a test MO.");
    assert_eq!(&d.src_terminal_id[..], b"13412340000");
    assert_eq!(d.msg_id, 13_052_947_396_898_652_160);
}

#[test]
fn hostile_frames_are_errors_with_the_field() {
    // Msg_Length 255 in a frame that ends after 16 octets of content.
    let mut cut = submit_v3_long_part().to_vec();
    let at = cut.len() - 20 - 16 - 1;
    cut[at] = 0xFF;
    let error = decode(Bytes::from(cut), Version::V3).unwrap_err();
    assert_eq!(error.sequence, 42);
    assert!(
        matches!(
            error.kind,
            DecodeErrorKind::Truncated {
                field: "Msg_Content",
                ..
            }
        ),
        "{error}"
    );
    // DestUsr_tl 0 and 101.
    for count in [0u8, 101] {
        let mut bad = submit_v3_long_part().to_vec();
        bad[12 + 8 + 4 + 10 + 1 + 32 + 1 + 3 + 6 + 2 + 6 + 17 + 17 + 21] = count;
        let error = decode(Bytes::from(bad), Version::V3).unwrap_err();
        assert!(matches!(
            error.kind,
            DecodeErrorKind::InvalidValue {
                field: "DestUsr_tl",
                ..
            }
        ));
    }
    // Unknown command, trailing data, length disagreeing with the frame.
    let unknown = decode(hex(&["0000000c", "00000003", "00000001"]), Version::V3).unwrap_err();
    assert_eq!(unknown.kind, DecodeErrorKind::UnknownCommandId);
    let trailing = decode(
        hex(&["0000000d", "00000008", "00000001", "00"]),
        Version::V3,
    )
    .unwrap_err();
    assert!(matches!(
        trailing.kind,
        DecodeErrorKind::TrailingData {
            offset: 12,
            count: 1
        }
    ));
    let lying = decode(hex(&["00000010", "00000008", "00000001"]), Version::V3).unwrap_err();
    assert!(matches!(lying.kind, DecodeErrorKind::BadLength { .. }));
    assert!(decode(Bytes::new(), Version::V3).is_err());
}

#[test]
fn encode_refuses_what_does_not_fit_and_writes_nothing() {
    let mut pdu = decode(submit_v3_long_part(), Version::V3).unwrap();
    let Body::Submit(s) = &mut pdu.body else {
        panic!()
    };
    s.src_id = Bytes::from(vec![b'1'; 22]);
    let mut out = BytesMut::new();
    assert!(matches!(
        encode(&pdu, Version::V3, &mut out),
        Err(crate::china::EncodeError::TooLong {
            field: "Src_Id",
            len: 22,
            max: 21
        })
    ));
    assert!(out.is_empty());
    // A 3.0 status does not fit the 1-octet 2.0 field.
    let resp = Pdu {
        sequence_id: 1,
        body: Body::SubmitResp(SubmitResp {
            msg_id: 1,
            result: 256,
        }),
    };
    assert!(encode(&resp, Version::V2, &mut out).is_err());
    assert!(out.is_empty());
    // LinkID only exists in 3.0.
    let pdu = decode(submit_v3_long_part(), Version::V3).unwrap();
    let Body::Submit(mut s) = pdu.body else {
        panic!()
    };
    s.link_id = Bytes::from_static(b"link");
    let pdu = Pdu {
        sequence_id: 1,
        body: Body::Submit(s),
    };
    assert!(encode(&pdu, Version::V2, &mut out).is_err());
}

#[test]
fn frame_decoder_splits_a_stream() {
    let mut stream = BytesMut::new();
    stream.extend_from_slice(&hex(&[GOCMPP[0].2]));
    stream.extend_from_slice(&submit_v3_long_part()[..100]);
    let mut decoder = FrameDecoder::new(Version::V3);
    assert_eq!(
        decoder.decode(&mut stream).unwrap().unwrap().unwrap().body,
        Body::ActiveTest
    );
    assert!(decoder.decode(&mut stream).unwrap().is_none());
    stream.extend_from_slice(&submit_v3_long_part()[100..]);
    assert!(matches!(
        decoder.decode(&mut stream).unwrap().unwrap().unwrap().body,
        Body::Submit(_)
    ));
    let mut huge = BytesMut::from(&[0x7F, 0xFF, 0xFF, 0xFF][..]);
    assert!(decoder.decode(&mut huge).is_err());
}

fn any_version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V2), Just(Version::V3)]
}

fn submit(v: Version) -> impl Strategy<Value = Body> {
    let t = v.terminal_id_len();
    let v3 = v == Version::V3;
    (
        (
            any::<u64>(),
            any::<[u8; 4]>(),
            text(10),
            any::<u8>(),
            text(t),
            any::<u8>(),
            any::<[u8; 3]>(),
        ),
        (text(6), text(2), text(6), text(17), text(17), text(21)),
        (
            proptest::collection::vec(text(t), 1..=5),
            any::<u8>(),
            octets(255),
            text(20),
            text(8),
        ),
    )
        .prop_map(
            move |(
                (msg_id, a, service_id, fee_user_type, fee_terminal_id, ftt, b),
                (msg_src, fee_type, fee_code, valid_time, at_time, src_id),
                (dests, dtt, msg_content, link_id, reserve),
            )| {
                Body::Submit(Submit {
                    msg_id,
                    pk_total: a[0],
                    pk_number: a[1],
                    registered_delivery: a[2],
                    msg_level: a[3],
                    service_id,
                    fee_user_type,
                    fee_terminal_id,
                    fee_terminal_type: if v3 { ftt } else { 0 },
                    tp_pid: b[0],
                    tp_udhi: b[1],
                    msg_fmt: b[2],
                    msg_src,
                    fee_type,
                    fee_code,
                    valid_time,
                    at_time,
                    src_id,
                    dest_terminal_ids: dests,
                    dest_terminal_type: if v3 { dtt } else { 0 },
                    msg_content,
                    link_id: if v3 { link_id } else { Bytes::new() },
                    reserve: if v3 { Bytes::new() } else { reserve },
                })
            },
        )
}

fn deliver(v: Version) -> impl Strategy<Value = Body> {
    let t = v.terminal_id_len();
    let v3 = v == Version::V3;
    (
        any::<u64>(),
        text(21),
        text(10),
        any::<[u8; 5]>(),
        text(t),
        octets(255),
        text(20),
        text(8),
    )
        .prop_map(
            move |(msg_id, dest_id, service_id, f, src, msg_content, link_id, reserve)| {
                Body::Deliver(Deliver {
                    msg_id,
                    dest_id,
                    service_id,
                    tp_pid: f[0],
                    tp_udhi: f[1],
                    msg_fmt: f[2],
                    src_terminal_id: src,
                    src_terminal_type: if v3 { f[3] } else { 0 },
                    registered_delivery: f[4],
                    msg_content,
                    link_id: if v3 { link_id } else { Bytes::new() },
                    reserve: if v3 { Bytes::new() } else { reserve },
                })
            },
        )
}

fn body(v: Version) -> impl Strategy<Value = Body> {
    let result = if v == Version::V3 { u32::MAX } else { 255 };
    prop_oneof![
        (text(6), any::<[u8; 16]>(), any::<u8>(), any::<u32>()).prop_map(|(s, a, v, t)| {
            Body::Connect(Connect {
                source_addr: s,
                authenticator_source: a,
                version: v,
                timestamp: t,
            })
        }),
        (0..=result, any::<[u8; 16]>(), any::<u8>()).prop_map(|(s, a, v)| Body::ConnectResp(
            ConnectResp {
                status: s,
                authenticator_ismg: a,
                version: v
            }
        )),
        Just(Body::Terminate),
        Just(Body::TerminateResp),
        submit(v),
        (any::<u64>(), 0..=result).prop_map(|(m, r)| Body::SubmitResp(SubmitResp {
            msg_id: m,
            result: r
        })),
        deliver(v),
        (any::<u64>(), 0..=result).prop_map(|(m, r)| Body::DeliverResp(DeliverResp {
            msg_id: m,
            result: r
        })),
        (text(8), any::<u8>(), text(10), text(8)).prop_map(
            |(time, query_type, query_code, reserve)| {
                Body::Query(Query {
                    time,
                    query_type,
                    query_code,
                    reserve,
                })
            }
        ),
        (text(8), any::<u8>(), text(10), any::<[u32; 8]>()).prop_map(
            |(time, query_type, query_code, c)| {
                Body::QueryResp(QueryResp {
                    time,
                    query_type,
                    query_code,
                    mt_tlmsg: c[0],
                    mt_tlusr: c[1],
                    mt_scs: c[2],
                    mt_wt: c[3],
                    mt_fl: c[4],
                    mo_scs: c[5],
                    mo_wt: c[6],
                    mo_fl: c[7],
                })
            }
        ),
        any::<u64>().prop_map(|m| Body::Cancel(Cancel { msg_id: m })),
        (0..=result).prop_map(|s| Body::CancelResp(CancelResp { success_id: s })),
        Just(Body::ActiveTest),
        any::<u8>().prop_map(|r| Body::ActiveTestResp(ActiveTestResp { reserved: r })),
    ]
}

fn pdu() -> impl Strategy<Value = (Version, Pdu)> {
    any_version().prop_flat_map(|v| {
        (Just(v), any::<u32>(), body(v))
            .prop_map(|(v, sequence_id, body)| (v, Pdu { sequence_id, body }))
    })
}

proptest! {
    #[test]
    fn any_packet_round_trips((version, pdu) in pdu()) {
        let mut out = BytesMut::new();
        encode(&pdu, version, &mut out).unwrap();
        prop_assert_eq!(out.len(), encoded_len(&pdu, version));
        prop_assert_eq!(decode(out.freeze(), version).unwrap(), pdu);
    }

    #[test]
    fn any_bytes_decode_or_fail_without_panic(data in proptest::collection::vec(any::<u8>(), 0..400), version in any_version()) {
        let _ = decode(Bytes::from(data.clone()), version);
        let mut stream = BytesMut::from(&data[..]);
        let mut decoder = FrameDecoder::new(version);
        while let Ok(Some(_)) = decoder.decode(&mut stream) {}
    }
}
