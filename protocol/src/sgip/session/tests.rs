//! Transcripts of the SGIP links, in bytes: "the peer sends X, we must answer Y", with the
//! times given; and a proptest that no input sequence breaks the bounds.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::china::test_support::{hex, zeros};
use crate::sgip::{Body, Deliver, Report, Submit, decode, encode};

/// Our node id 3020012345 = 0xb401bb39.
const NODE: u32 = 3_020_012_345;
/// Dec 6 07:19:00.
const STAMP: u32 = 1_206_071_900;

fn at(ms: u64) -> Now {
    Now::new(ms, STAMP)
}

fn bytes_of(pdu: &Pdu) -> String {
    let mut out = BytesMut::new();
    encode(pdu, &mut out).expect("encode");
    ::hex::encode(out)
}

fn pdu(parts: &[&str]) -> Pdu {
    decode(hex(parts)).expect("test vector decodes")
}

fn sp(window: usize, idle_timeout_ms: u64) -> Initiator {
    Initiator::new(InitiatorConfig {
        role: Role::Sp,
        node_id: NODE,
        login_name: Bytes::from_static(b"sp"),
        login_password: Bytes::from_static(b"secret"),
        window,
        response_timeout_ms: 1_000,
        idle_timeout_ms,
    })
}

fn listener(max_unanswered: usize) -> Acceptor {
    Acceptor::new(
        AcceptorConfig {
            peer: Role::Smg,
            node_id: NODE,
            accounts: vec![(Bytes::from_static(b"smg"), Bytes::from_static(b"pw"))],
            max_unanswered,
            response_timeout_ms: 1_000,
            idle_timeout_ms: 30_000,
        },
        0,
    )
}

/// The sequence triple (NODE, STAMP, counter) as hex.
fn ours(counter: u32) -> String {
    format!("b401bb39 47e3325c {counter:08x}")
}

/// The SMG's triples: node 2000 = 0x7d0, Dec 6 07:20:00 = 0x47e33298.
fn theirs(counter: u32) -> String {
    format!("000007d0 47e33298 {counter:08x}")
}

fn submit_body() -> Body {
    Body::Submit(Box::new(Submit {
        sp_number: Bytes::from_static(b"10655"),
        charge_number: Bytes::new(),
        user_numbers: vec![Bytes::from_static(b"8613000000000")],
        corp_id: Bytes::from_static(b"12345"),
        service_type: Bytes::from_static(b"TEST"),
        fee_type: 1,
        fee_value: Bytes::from_static(b"0"),
        given_value: Bytes::from_static(b"0"),
        agent_flag: 0,
        morelateto_mt_flag: 2,
        priority: 0,
        expire_time: Bytes::new(),
        schedule_time: Bytes::new(),
        report_flag: 1,
        tp_pid: 0,
        tp_udhi: 0,
        message_coding: 8,
        message_type: 0,
        message_content: Bytes::from_static(&[0x4f, 0x60, 0x59, 0x7d]),
        reserve: Bytes::new(),
    }))
}

#[test]
fn sp_link_binds_submits_and_unbinds_in_bytes() {
    let mut link = sp(2, 0);
    link.bind(at(0)).unwrap();
    assert_eq!(
        bytes_of(&link.poll_transmit().unwrap()),
        ::hex::encode(hex(&[
            "0000003d",
            "00000001", // Bind
            &ours(1),
            "01", // LoginType 1: SP → SMG
            "7370",
            &zeros(14), // "sp"
            "736563726574",
            &zeros(10), // "secret"
            &zeros(8),
        ]))
    );
    // The SMG answers Result 0 with the Bind's own sequence.
    link.handle_pdu(
        at(5),
        pdu(&["0000001d", "80000001", &ours(1), "00", &zeros(8)]),
    );
    assert_eq!(
        link.poll_event(),
        Some(Event::Bound {
            login_name: Bytes::new()
        })
    );

    let sequence = link.send_request(at(6), submit_body()).unwrap();
    assert_eq!(
        sequence,
        Sequence {
            node_id: NODE,
            time: STAMP,
            counter: 2
        }
    );
    let submit = link.poll_transmit().unwrap();
    let written = bytes_of(&submit);
    assert_eq!(&written[8..16], "00000003", "Submit");
    assert_eq!(&written[16..40], ours(2).replace(' ', ""), "its sequence");
    let resp = pdu(&["0000001d", "80000003", &ours(2), "00", &zeros(8)]);
    link.handle_pdu(at(7), resp.clone());
    assert_eq!(
        link.poll_event(),
        Some(Event::Response {
            sequence,
            pdu: resp
        })
    );

    link.unbind(at(8));
    assert_eq!(
        bytes_of(&link.poll_transmit().unwrap()),
        ::hex::encode(hex(&["00000014", "00000002", &ours(3)]))
    );
    link.handle_pdu(at(9), pdu(&["00000014", "80000002", &ours(3)]));
    assert_eq!(link.poll_event(), Some(Event::Closed(CloseReason::Unbound)));
}

#[test]
fn sp_link_bind_refused_or_unanswered() {
    let mut refused = sp(1, 0);
    refused.bind(at(0)).unwrap();
    let _ = refused.poll_transmit();
    refused.handle_pdu(
        at(1),
        pdu(&["0000001d", "80000001", &ours(1), "01", &zeros(8)]),
    );
    assert_eq!(
        refused.poll_event(),
        Some(Event::Closed(CloseReason::BindRefused { result: 1 }))
    );
    assert_eq!(
        refused.send_request(at(2), submit_body()),
        Err(SessionError::NotBound)
    );

    let mut silent = sp(1, 0);
    silent.bind(at(0)).unwrap();
    assert_eq!(silent.poll_timeout(), Some(1_000));
    silent.handle_timeout(at(999));
    assert_eq!(silent.poll_event(), None);
    silent.handle_timeout(at(1_000));
    assert_eq!(
        silent.poll_event(),
        Some(Event::Closed(CloseReason::BindTimedOut))
    );
}

fn bound_sp(window: usize, idle_timeout_ms: u64) -> Initiator {
    let mut link = sp(window, idle_timeout_ms);
    link.bind(at(0)).unwrap();
    let bind = link.poll_transmit().unwrap();
    link.handle_pdu(
        at(0),
        Pdu {
            sequence: bind.sequence,
            body: Body::BindResp(super::resp(0)),
        },
    );
    assert!(matches!(link.poll_event(), Some(Event::Bound { .. })));
    link
}

#[test]
fn window_is_bounded_and_timeouts_free_it() {
    let mut link = bound_sp(1, 0);
    let first = link.send_request(at(10), submit_body()).unwrap();
    assert_eq!(
        link.send_request(at(10), submit_body()),
        Err(SessionError::WindowFull { window: 1 })
    );
    assert_eq!(
        link.send_request(at(10), Body::Unbind),
        Err(SessionError::NotARequest {
            command: CommandId::Unbind
        })
    );
    assert_eq!(link.poll_timeout(), Some(1_010));
    link.handle_timeout(at(1_010));
    assert_eq!(
        link.poll_event(),
        Some(Event::TimedOut {
            sequence: first,
            command: CommandId::Submit
        })
    );
    // A late answer is a response to nothing now.
    link.handle_pdu(
        at(1_011),
        Pdu {
            sequence: first,
            body: Body::SubmitResp(super::resp(0)),
        },
    );
    assert!(matches!(link.poll_event(), Some(Event::Unexpected(_))));
    assert!(link.send_request(at(1_012), submit_body()).is_ok());
}

#[test]
fn an_idle_link_unbinds_and_binds_again_on_demand_with_the_counter_running_on() {
    let mut link = bound_sp(4, 5_000);
    let _ = link.poll_transmit();
    assert_eq!(link.poll_timeout(), Some(5_000));
    link.handle_timeout(at(4_999));
    assert_eq!(link.poll_transmit(), None);
    link.handle_timeout(at(5_000));
    // Unbind with the next counter.
    assert_eq!(
        bytes_of(&link.poll_transmit().unwrap()),
        ::hex::encode(hex(&["00000014", "00000002", &ours(2)]))
    );
    link.handle_pdu(at(5_001), pdu(&["00000014", "80000002", &ours(2)]));
    assert_eq!(link.poll_event(), Some(Event::Closed(CloseReason::Idle)));
    // New work: a new connection, bound again; the triples keep counting.
    link.bind(at(9_000)).unwrap();
    let bind = link.poll_transmit().unwrap();
    assert_eq!(bind.sequence.counter, 3);
    link.handle_pdu(
        at(9_001),
        Pdu {
            sequence: bind.sequence,
            body: Body::BindResp(super::resp(0)),
        },
    );
    assert!(link.is_bound());
}

#[test]
fn peer_unbind_is_answered_and_in_flight_requests_come_back() {
    let mut link = bound_sp(4, 0);
    let sequence = link.send_request(at(1), submit_body()).unwrap();
    let _ = link.poll_transmit();
    let _ = link.poll_transmit();
    link.handle_pdu(at(2), pdu(&["00000014", "00000002", &theirs(9)]));
    assert_eq!(
        bytes_of(&link.poll_transmit().unwrap()),
        ::hex::encode(hex(&["00000014", "80000002", &theirs(9)]))
    );
    assert_eq!(
        link.poll_event(),
        Some(Event::TimedOut {
            sequence,
            command: CommandId::Submit
        })
    );
    assert_eq!(
        link.poll_event(),
        Some(Event::Closed(CloseReason::PeerUnbound))
    );
}

fn smg_bind(login_type: &str, password: &str) -> Pdu {
    let password = ::hex::encode(password);
    pdu(&[
        "0000003d",
        "00000001",
        &theirs(1),
        login_type,
        "736d67",
        &zeros(13), // "smg"
        &password,
        &zeros(16 - password.len() / 2),
        &zeros(8),
    ])
}

#[test]
fn report_listener_checks_the_bind_in_bytes() {
    for (login_type, password, result) in
        [("02", "pw", "00"), ("02", "px", "01"), ("01", "pw", "04")]
    {
        let mut link = listener(4);
        link.handle_pdu(at(3), smg_bind(login_type, password));
        assert_eq!(
            bytes_of(&link.poll_transmit().unwrap()),
            ::hex::encode(hex(&[
                "0000001d",
                "80000001",
                &theirs(1),
                result,
                &zeros(8)
            ])),
            "LoginType {login_type}, password {password}"
        );
        if result == "00" {
            assert_eq!(
                link.poll_event(),
                Some(Event::Bound {
                    login_name: Bytes::from_static(b"smg")
                })
            );
        } else {
            assert!(matches!(
                link.poll_event(),
                Some(Event::Closed(CloseReason::BindRefused { .. }))
            ));
        }
    }
}

#[test]
fn report_listener_answers_only_when_told() {
    let mut link = listener(1);
    link.handle_pdu(at(0), smg_bind("02", "pw"));
    let _ = link.poll_transmit();
    let _ = link.poll_event();
    // A Report about our Submit (NODE, STAMP, 2): delivered.
    let report = pdu(&[
        "00000040",
        "00000005",
        &theirs(2),
        &ours(2), // SubmitSequenceNumber
        "00",     // ReportType 0: about a Submit
        "38363133303030303030303030",
        &zeros(8), // UserNumber 8613000000000
        "00",      // State 0: delivered
        "00",      // ErrorCode
        &zeros(8),
    ]);
    link.handle_pdu(at(1), report.clone());
    assert_eq!(link.poll_event(), Some(Event::Request(report.clone())));
    assert_eq!(
        link.poll_transmit(),
        None,
        "not answered before it is stored"
    );
    // Beyond max_unanswered: answered at once, node busy, not handed out.
    let deliver = Pdu {
        sequence: Sequence {
            node_id: 2_000,
            time: STAMP,
            counter: 3,
        },
        body: Body::Deliver(Deliver {
            user_number: Bytes::from_static(b"8613000000000"),
            sp_number: Bytes::from_static(b"10655"),
            tp_pid: 0,
            tp_udhi: 0,
            message_coding: 15,
            message_content: Bytes::from_static(b"TD"),
            reserve: Bytes::new(),
        }),
    };
    link.handle_pdu(at(2), deliver.clone());
    assert_eq!(link.poll_event(), None);
    assert_eq!(
        link.poll_transmit(),
        Some(Pdu {
            sequence: deliver.sequence,
            body: Body::DeliverResp(super::resp(crate::sgip::RESULT_NODE_BUSY))
        })
    );
    link.respond(report.sequence, 0).unwrap();
    assert_eq!(
        bytes_of(&link.poll_transmit().unwrap()),
        ::hex::encode(hex(&["0000001d", "80000005", &theirs(2), "00", &zeros(8)]))
    );
    assert_eq!(
        link.respond(report.sequence, 0),
        Err(SessionError::UnknownRequest {
            sequence: report.sequence
        })
    );
    // Now there is room: the Deliver sent again is handed out.
    link.handle_pdu(at(3), deliver.clone());
    assert_eq!(link.poll_event(), Some(Event::Request(deliver)));
}

#[test]
fn report_listener_refuses_what_comes_before_bind_and_times_out() {
    let mut early = listener(1);
    early.handle_pdu(at(1), pdu(&["00000014", "00000002", &theirs(1)]));
    assert_eq!(
        early.poll_event(),
        Some(Event::Closed(CloseReason::ProtocolError))
    );
    let mut silent = listener(1);
    assert_eq!(silent.poll_timeout(), Some(1_000));
    silent.handle_timeout(at(1_000));
    assert_eq!(
        silent.poll_event(),
        Some(Event::Closed(CloseReason::BindTimedOut))
    );
}

#[test]
fn an_undecodable_report_is_answered_format_error() {
    let mut link = listener(4);
    link.handle_pdu(at(0), smg_bind("02", "pw"));
    let _ = link.poll_transmit();
    // A Report one octet short.
    let frame = hex(&["0000003f", "00000005", &theirs(4), &zeros(43)]);
    let error = decode(frame).unwrap_err();
    link.handle_decode_error(at(1), &error);
    assert_eq!(
        bytes_of(&link.poll_transmit().unwrap()),
        ::hex::encode(hex(&["0000001d", "80000005", &theirs(4), "05", &zeros(8)]))
    );
}

#[test]
fn smg_initiator_sends_reports_and_the_sp_cannot() {
    let mut smg = Initiator::new(InitiatorConfig {
        role: Role::Smg,
        node_id: 2_000,
        login_name: Bytes::from_static(b"smg"),
        login_password: Bytes::from_static(b"pw"),
        window: 2,
        response_timeout_ms: 1_000,
        idle_timeout_ms: 0,
    });
    smg.bind(at(0)).unwrap();
    let bind = smg.poll_transmit().unwrap();
    let Body::Bind(b) = &bind.body else {
        panic!("{bind:?}")
    };
    assert_eq!(b.login_type, 2);
    smg.handle_pdu(
        at(1),
        Pdu {
            sequence: bind.sequence,
            body: Body::BindResp(super::resp(0)),
        },
    );
    let report = Body::Report(Report {
        submit_sequence: Sequence::default(),
        report_type: 0,
        user_number: Bytes::from_static(b"1"),
        state: 0,
        error_code: 0,
        reserve: Bytes::new(),
    });
    assert!(smg.send_request(at(2), report.clone()).is_ok());
    assert_eq!(
        sp(1, 0).send_request(at(0), report),
        Err(SessionError::NotARequest {
            command: CommandId::Report
        })
    );
}

/// Any packet the peer may send, as bytes of one frame.
fn any_frame() -> impl Strategy<Value = Bytes> {
    let command = prop::sample::select(CommandId::ALL.to_vec());
    (
        command,
        any::<u32>(),
        0u32..4,
        proptest::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(command, counter, node, body)| {
            let mut out = BytesMut::new();
            let length = u32::try_from(20 + body.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(&command.to_u32().to_be_bytes());
            out.extend_from_slice(&node.to_be_bytes());
            out.extend_from_slice(&STAMP.to_be_bytes());
            out.extend_from_slice(&counter.to_be_bytes());
            out.extend_from_slice(&body);
            out.freeze()
        })
}

proptest! {
    /// Whatever the peer sends and whenever: the window and the unanswered set stay within
    /// their bounds, each input queues at most two packets, nothing panics.
    #[test]
    fn no_input_breaks_the_bounds(
        inputs in proptest::collection::vec((any_frame(), 0u64..3_000, 0u8..6), 0..40)
    ) {
        let mut initiator = bound_sp(3, 2_000);
        let mut acceptor = listener(3);
        let mut now = 0;
        for (frame, step, action) in inputs {
            now += step;
            let t = at(now);
            match action {
                0 | 1 => match decode(frame) {
                    Ok(pdu) => {
                        initiator.handle_pdu(t, pdu.clone());
                        acceptor.handle_pdu(t, pdu);
                    }
                    Err(error) => {
                        initiator.handle_decode_error(t);
                        acceptor.handle_decode_error(t, &error);
                    }
                },
                2 => {
                    let _ = initiator.send_request(t, submit_body());
                }
                3 => {
                    initiator.handle_timeout(t);
                    acceptor.handle_timeout(t);
                }
                4 => {
                    if let Some(Event::Request(pdu)) = acceptor.poll_event() {
                        prop_assert!(acceptor.respond(pdu.sequence, 0).is_ok());
                    }
                }
                _ => {
                    if !initiator.is_bound() {
                        let _ = initiator.bind(t);
                    }
                }
            }
            prop_assert!(initiator.in_flight() <= 3);
            prop_assert!(acceptor.unanswered() <= 3);
            let mut sent = 0;
            while initiator.poll_transmit().is_some() { sent += 1; }
            prop_assert!(sent <= 2);
            sent = 0;
            while acceptor.poll_transmit().is_some() { sent += 1; }
            prop_assert!(sent <= 2);
            while initiator.poll_event().is_some() {}
            if action != 4 {
                // Leave the acceptor's requests to be answered by action 4.
                let mut events = 0;
                while acceptor.poll_event().is_some() { events += 1; }
                prop_assert!(events <= 3 + 1);
            }
        }
    }
}
