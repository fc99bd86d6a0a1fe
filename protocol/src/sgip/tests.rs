//! SGIP 1.2 test vectors hand-written from the SGIP 1.2 field tables (one line per field;
//! layouts cross-checked against yedamao/go_sgip sgip/protocol/op_*.go, commit
//! de76d023200a232b81989d9e742bd9910a56b660, which has no byte vectors of its own), and
//! proptest round trips.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::china::DecodeErrorKind;
use crate::china::test_support::{self, hex, octets, text, zeros};

fn round_trip(bytes: &Bytes) -> Pdu {
    test_support::round_trip(bytes, decode, encode, encoded_len)
}

/// Node 3020012345, Dec 6 07:19:00, counter 1.
const SEQUENCE: &str = "b401bb39 47e3325c 00000001";

#[test]
fn bind_both_login_types_and_resp() {
    for login_type in ["01", "02"] {
        let bytes = hex(&[
            "0000003d", // Message Length 61
            "00000001", // Command ID Bind
            SEQUENCE,   // Sequence Number
            login_type, // Login Type 1 (SP→SMG) or 2 (SMG→SP)
            "7370",
            &zeros(14), // Login Name "sp"
            "736563726574",
            &zeros(10), // Login Password "secret"
            &zeros(8),  // Reserve
        ]);
        let pdu = round_trip(&bytes);
        assert_eq!(
            pdu.sequence,
            Sequence {
                node_id: 3_020_012_345,
                time: 1_206_071_900,
                counter: 1
            }
        );
        let Body::Bind(b) = &pdu.body else {
            panic!("{pdu:?}")
        };
        assert!(b.login_type == login_type::SP_TO_SMG || b.login_type == login_type::SMG_TO_SP);
        assert_eq!(
            (&b.login_name[..], &b.login_password[..]),
            (&b"sp"[..], &b"secret"[..])
        );
    }
    let resp = hex(&[
        "0000001d", // Message Length 29
        "80000001", // Bind_Resp
        SEQUENCE,   // the Bind's sequence
        "01",       // Result 1: illegal login
        &zeros(8),  // Reserve
    ]);
    assert!(matches!(
        round_trip(&resp).body,
        Body::BindResp(Resp {
            result: RESULT_ILLEGAL_LOGIN,
            ..
        })
    ));
    for id in ["00000002", "80000002"] {
        let bytes = hex(&["00000014", id, SEQUENCE]); // Unbind / Unbind_Resp: header only
        assert!(matches!(
            round_trip(&bytes).body,
            Body::Unbind | Body::UnbindResp
        ));
    }
}

fn submit() -> Bytes {
    hex(&[
        "000000bd", // Message Length 189
        "00000003", // Submit
        SEQUENCE,   // Sequence Number: the key its Report will quote
        "3130363535",
        &zeros(16), // SPNumber "10655"
        "3030303030303030303030303030303030303030",
        "30", // ChargeNumber "000…0" (21): the SP pays
        "02", // UserCount 2
        "38363133303030303030303030",
        &zeros(8), // UserNumber "8613000000000"
        "38363133313131313131313131",
        &zeros(8),              // UserNumber "8613111111111"
        "3132333435",           // CorpId "12345"
        "4d4a4a30303031000000", // ServiceType "MJJ0001"
        "00",                   // FeeType
        "303030303030",         // FeeValue "000000"
        "303030303030",         // GivenValue "000000"
        "00",                   // AgentFlag
        "00",                   // MorelatetoMTFlag
        "00",                   // Priority
        &zeros(16),             // ExpireTime
        &zeros(16),             // ScheduleTime
        "01",                   // ReportFlag 1: always
        "00",                   // TP_pid
        "00",                   // TP_udhi
        "08",                   // MessageCoding UCS-2
        "00",                   // MessageType 0: SMS
        "00000004",             // MessageLength 4 (four octets in SGIP)
        "6d4b8bd5",             // "测试"
        &zeros(8),              // Reserve
    ])
}

#[test]
fn submit_and_resp() {
    let pdu = round_trip(&submit());
    let Body::Submit(s) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(
        s.user_numbers,
        [&b"8613000000000"[..], &b"8613111111111"[..]]
    );
    assert_eq!(&s.charge_number[..], &[b'0'; 21][..]);
    assert_eq!(
        crate::china::text::decode_text(s.message_coding, &s.message_content).unwrap(),
        "测试"
    );
    let resp = hex(&["0000001d", "80000003", SEQUENCE, "00", &zeros(8)]); // Result, Reserve
    assert!(matches!(
        round_trip(&resp).body,
        Body::SubmitResp(Resp {
            result: RESULT_OK,
            ..
        })
    ));
}

#[test]
fn deliver_report_and_their_resps() {
    let deliver = hex(&[
        "00000051",                 // Message Length 81
        "00000004",                 // Deliver
        "b401bb3a47e3326000000009", // the SMG's sequence
        "38363133303030303030303030",
        &zeros(8), // UserNumber "8613000000000"
        "3130363535",
        &zeros(16), // SPNumber "10655"
        "00",       // TP_pid
        "00",       // TP_udhi
        "0f",       // MessageCoding 15: GBK
        "00000004", // MessageLength 4
        "b2e2cad4", // "测试" in GBK
        &zeros(8),  // Reserve
    ]);
    let pdu = round_trip(&deliver);
    let Body::Deliver(d) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(
        crate::china::text::decode_text(d.message_coding, &d.message_content).unwrap(),
        "测试"
    );
    let report = hex(&[
        "00000040",                 // Message Length 64
        "00000005",                 // Report
        "b401bb3a47e332600000000a", // the SMG's sequence
        SEQUENCE,                   // SubmitSequenceNumber: our Submit's
        "00",                       // ReportType 0: about a Submit
        "38363133303030303030303030",
        &zeros(8), // UserNumber
        "02",      // State 2: failed
        "0a",      // ErrorCode 10
        &zeros(8), // Reserve
    ]);
    let pdu = round_trip(&report);
    let Body::Report(r) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(r.submit_sequence, decode(submit()).unwrap().sequence);
    assert_eq!((r.state, r.error_code), (report_state::FAILED, 10));
    for id in ["80000004", "80000005"] {
        let bytes = hex(&["0000001d", id, SEQUENCE, "00", &zeros(8)]);
        assert!(matches!(
            round_trip(&bytes).body,
            Body::DeliverResp(_) | Body::ReportResp(_)
        ));
    }
}

#[test]
fn hostile_frames() {
    // MessageLength 0xFFFFFFFF: checked against the frame, nothing allocated.
    let mut bad = submit().to_vec();
    let at = bad.len() - 8 - 4 - 4;
    bad[at..at + 4].copy_from_slice(&[0xFF; 4]);
    let error = decode(Bytes::from(bad)).unwrap_err();
    assert_eq!(error.sequence.counter, 1);
    assert!(
        matches!(
            error.kind,
            DecodeErrorKind::Truncated {
                field: "MessageContent",
                ..
            }
        ),
        "{error}"
    );
    // UserCount 0.
    let mut none = submit().to_vec();
    none[20 + 42] = 0;
    assert!(matches!(
        decode(Bytes::from(none)).unwrap_err().kind,
        DecodeErrorKind::InvalidValue {
            field: "UserCount",
            value: 0,
            ..
        }
    ));
    // A 12-octet CMPP-sized header is below SGIP's 20.
    let mut stream = BytesMut::from(&hex(&["0000000c", "00000002", "00000001"])[..]);
    assert!(FrameDecoder::default().decode(&mut stream).is_err());
    assert_eq!(
        decode(hex(&["00000014", "00001000", SEQUENCE]))
            .unwrap_err()
            .kind,
        DecodeErrorKind::UnknownCommandId
    );
}

fn sequence() -> impl Strategy<Value = Sequence> {
    any::<[u32; 3]>().prop_map(|[node_id, time, counter]| Sequence {
        node_id,
        time,
        counter,
    })
}

fn resp() -> impl Strategy<Value = Resp> {
    (any::<u8>(), text(8)).prop_map(|(result, reserve)| Resp { result, reserve })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (any::<u8>(), text(16), text(16), text(8)).prop_map(|(t, n, p, r)| Body::Bind(Bind {
            login_type: t,
            login_name: n,
            login_password: p,
            reserve: r
        })),
        resp().prop_map(Body::BindResp),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        (
            (
                text(21),
                text(21),
                proptest::collection::vec(text(21), 1..4),
                text(5),
                text(10),
                any::<u8>()
            ),
            (
                text(6),
                text(6),
                any::<[u8; 3]>(),
                text(16),
                text(16),
                any::<[u8; 5]>(),
                octets(300),
                text(8)
            ),
        )
            .prop_map(
                |(
                    (sp, charge, users, corp, service, fee_type),
                    (fee, given, f, expire, schedule, g, content, reserve),
                )| {
                    Body::Submit(Box::new(Submit {
                        sp_number: sp,
                        charge_number: charge,
                        user_numbers: users,
                        corp_id: corp,
                        service_type: service,
                        fee_type,
                        fee_value: fee,
                        given_value: given,
                        agent_flag: f[0],
                        morelateto_mt_flag: f[1],
                        priority: f[2],
                        expire_time: expire,
                        schedule_time: schedule,
                        report_flag: g[0],
                        tp_pid: g[1],
                        tp_udhi: g[2],
                        message_coding: g[3],
                        message_type: g[4],
                        message_content: content,
                        reserve,
                    }))
                }
            ),
        resp().prop_map(Body::SubmitResp),
        (text(21), text(21), any::<[u8; 3]>(), octets(300), text(8)).prop_map(
            |(user, sp, f, content, reserve)| {
                Body::Deliver(Deliver {
                    user_number: user,
                    sp_number: sp,
                    tp_pid: f[0],
                    tp_udhi: f[1],
                    message_coding: f[2],
                    message_content: content,
                    reserve,
                })
            }
        ),
        resp().prop_map(Body::DeliverResp),
        (sequence(), any::<[u8; 3]>(), text(21), text(8)).prop_map(|(s, f, user, reserve)| {
            Body::Report(Report {
                submit_sequence: s,
                report_type: f[0],
                user_number: user,
                state: f[1],
                error_code: f[2],
                reserve,
            })
        }),
        resp().prop_map(Body::ReportResp),
    ]
}

proptest! {
    #[test]
    fn any_packet_round_trips(sequence in sequence(), body in body()) {
        let pdu = Pdu { sequence, body };
        let mut out = BytesMut::new();
        encode(&pdu, &mut out).unwrap();
        prop_assert_eq!(out.len(), encoded_len(&pdu));
        prop_assert_eq!(decode(out.freeze()).unwrap(), pdu);
    }

    #[test]
    fn any_bytes_decode_or_fail_without_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode(Bytes::from(data.clone()));
        let mut stream = BytesMut::from(&data[..]);
        let mut decoder = FrameDecoder::default();
        while let Ok(Some(_)) = decoder.decode(&mut stream) {}
    }
}
