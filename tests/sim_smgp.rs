//! The SMGP simulator, driven over real loopback sockets by our own sans-IO SP session
//! (`smgp::session`): Login checked both ways (AuthenticatorServer proves the secret; a
//! wrong secret or unknown ClientID gets Status 21), a long Chinese message in parts with
//! TP_udhi / PkTotal / PkNumber and one IsReport Deliver per part carrying the part's
//! MsgID and the state asked for, MO, injected and throttling Statuses, Active_Test both
//! ways, Exit; and the command line.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate::sim::china::CarrierFaults;
use smppgate::sim::faults::BASIS;
use smppgate::sim::smgp::{SmgpSim, SmgpSimConfig};
use smppgate_protocol::receipt::MessageState;
use smppgate_protocol::smgp::session::{CloseReason, Event, Session, SessionConfig, Smgp};
use smppgate_protocol::smgp::{
    Body, FrameDecoder, MsgId, Pdu, Report, STATUS_AUTH_FAILED, STATUS_FLOW_CONTROL, Submit, Tlv,
    encode, login_mode, tlv,
};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const CLIENT_ID: &[u8] = b"10001";
const SECRET: &[u8] = b"secret";

async fn sim_with(config: SmgpSimConfig) -> SmgpSim {
    SmgpSim::start(SmgpSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        accounts: vec![(Bytes::from_static(CLIENT_ID), Bytes::from_static(SECRET))],
        receipt_delay: Duration::from_millis(10),
        ..config
    })
    .await
    .expect("sim")
}

/// Our SP session over a socket.
struct Sp {
    stream: TcpStream,
    session: Session,
    decoder: FrameDecoder,
    input: BytesMut,
    start: Instant,
}

impl Sp {
    async fn connect(addr: SocketAddr, name: &'static [u8], secret: &'static [u8]) -> Self {
        Self::connect_with(addr, name, secret, 16, 60_000).await
    }

    async fn connect_with(
        addr: SocketAddr,
        name: &'static [u8],
        secret: &'static [u8],
        window: usize,
        active_test_interval_ms: u64,
    ) -> Self {
        let mut sp = Self {
            stream: TcpStream::connect(addr).await.expect("connect"),
            session: Session::new(
                Smgp {
                    login_mode: login_mode::TRANSMIT,
                },
                SessionConfig {
                    login_name: Bytes::from_static(name),
                    secret: Bytes::from_static(secret),
                    window,
                    response_timeout_ms: 5_000,
                    active_test_interval_ms,
                    active_test_max_missed: 3,
                },
            ),
            decoder: FrameDecoder::default(),
            input: BytesMut::new(),
            start: Instant::now(),
        };
        sp.session.login(0, 1_206_090_507).expect("login");
        sp
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn flush(&mut self) {
        let mut out = BytesMut::new();
        while let Some(pdu) = self.session.poll_transmit() {
            encode(&pdu, &mut out).expect("encode");
        }
        // A write to a link the sim dropped fails; the next read says so (end of stream).
        if !out.is_empty() {
            let _ = self.stream.write_all(&out).await;
        }
    }

    /// The next event, feeding the session what arrives and its timeouts meanwhile.
    async fn event(&mut self) -> Event {
        within("an SMGP session event", async {
            loop {
                self.flush().await;
                if let Some(event) = self.session.poll_event() {
                    return event;
                }
                let deadline = self
                    .session
                    .poll_timeout()
                    .map(|ms| self.start + Duration::from_millis(ms));
                tokio::select! {
                    read = self.stream.read_buf(&mut self.input) => {
                        // A reset link (the sim dropped it) ends as a close does.
                        if read.unwrap_or(0) == 0 {
                            self.session.handle_frame_error();
                        }
                        while let Some(frame) = self.decoder.decode(&mut self.input).expect("framing") {
                            let now = self.now();
                            self.session.handle_pdu(now, frame.expect("decode"));
                        }
                    }
                    () = tokio::time::sleep_until(deadline.unwrap_or(self.start)), if deadline.is_some() => {
                        let now = self.now();
                        self.session.handle_timeout(now);
                    }
                }
            }
        })
        .await
    }

    /// Logs in; the Login_Resp's AuthenticatorServer is checked by the session.
    async fn connected(addr: SocketAddr) -> Self {
        let mut sp = Self::connect(addr, CLIENT_ID, SECRET).await;
        assert_eq!(sp.event().await, Event::Connected { version: 0x30 });
        sp
    }

    async fn submit(&mut self, submit: Submit) -> u32 {
        let now = self.now();
        let sequence = self
            .session
            .send_request(
                now,
                Pdu {
                    sequence_id: 0,
                    body: Body::Submit(submit),
                },
            )
            .expect("window has room");
        self.flush().await;
        sequence
    }
}

fn submit(content: Bytes, tlvs: Vec<Tlv>) -> Submit {
    Submit {
        msg_type: 6,
        need_report: 1,
        priority: 0,
        service_id: Bytes::from_static(b"TEST"),
        fee_type: Bytes::from_static(b"00"),
        fee_code: Bytes::from_static(b"000000"),
        fixed_fee: Bytes::from_static(b"000000"),
        msg_format: 8,
        valid_time: Bytes::new(),
        at_time: Bytes::new(),
        src_term_id: Bytes::from_static(b"10690001"),
        charge_term_id: Bytes::new(),
        dest_term_ids: vec![Bytes::from_static(b"13300000000")],
        msg_content: content,
        reserve: Bytes::new(),
        tlvs,
    }
}

/// UCS-2 `text` cut into parts of at most 134 octets behind a 6-octet UDH.
fn long_message_parts(text: &str, reference: u8) -> Vec<Bytes> {
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let chunks: Vec<&[u8]> = ucs2.chunks(134).collect();
    let total = u8::try_from(chunks.len()).expect("parts");
    chunks
        .iter()
        .zip(1..)
        .map(|(chunk, number)| {
            let mut part = vec![0x05, 0x00, 0x03, reference, total, number];
            part.extend_from_slice(chunk);
            Bytes::from(part)
        })
        .collect()
}

#[tokio::test]
async fn login_is_checked_both_ways_and_a_wrong_secret_gets_status_21() {
    let sim = sim_with(SmgpSimConfig::default()).await;
    let _ok = Sp::connected(sim.local_addr()).await;
    for (name, secret) in [(CLIENT_ID, &b"wrong"[..]), (&b"10002"[..], SECRET)] {
        let name: &'static [u8] = Box::leak(name.to_vec().into_boxed_slice());
        let secret: &'static [u8] = Box::leak(secret.to_vec().into_boxed_slice());
        let mut sp = Sp::connect(sim.local_addr(), name, secret).await;
        assert_eq!(
            sp.event().await,
            Event::Closed(CloseReason::LoginRefused {
                status: STATUS_AUTH_FAILED
            })
        );
    }
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["logins"], 1, "{counters}");
    assert_eq!(counters["logins_refused"], 2, "{counters}");
}

#[tokio::test]
async fn long_chinese_message_gets_a_report_per_part_in_the_state_asked_for() {
    let sim = sim_with(SmgpSimConfig {
        faults: CarrierFaults {
            receipt_states: vec![(MessageState::Undeliverable, 1)],
            ..CarrierFaults::default()
        },
        ..SmgpSimConfig::default()
    })
    .await;
    let mut sp = Sp::connected(sim.local_addr()).await;
    let text = "中国电信短信网关模拟器：这是一条很长的中文短信，".repeat(6);
    let parts = long_message_parts(&text, 0x2a);
    assert_eq!(parts.len(), 3);
    let mut sequences = Vec::new();
    for (part, number) in parts.into_iter().zip(1u8..) {
        let tlvs = vec![
            Tlv::u8(tlv::TP_UDHI, 1),
            Tlv::u8(tlv::PK_TOTAL, 3),
            Tlv::u8(tlv::PK_NUMBER, number),
        ];
        sequences.push(sp.submit(submit(part, tlvs)).await);
    }
    let mut accepted: Vec<MsgId> = Vec::new();
    let mut reported: Vec<MsgId> = Vec::new();
    while accepted.len() < 3 || reported.len() < 3 {
        match sp.event().await {
            Event::Response { sequence_id, pdu } => {
                assert!(sequences.contains(&sequence_id));
                let Body::SubmitResp(resp) = pdu.body else {
                    panic!("{pdu:?}")
                };
                assert_eq!(resp.status, 0, "{resp:?}");
                accepted.push(resp.msg_id);
            }
            Event::Deliver(pdu) => {
                let Body::Deliver(deliver) = &pdu.body else {
                    panic!("{pdu:?}")
                };
                assert_eq!(deliver.is_report, 1, "{deliver:?}");
                assert_eq!(&deliver.src_term_id[..], b"13300000000");
                assert_eq!(&deliver.dest_term_id[..], b"10690001");
                let report = Report::parse(&deliver.msg_content).expect("report");
                assert_eq!(&report.stat[..], b"UNDELIV");
                assert_ne!(&report.err[..], b"000");
                reported.push(report.id);
                sp.session.respond(pdu.sequence_id, deliver.msg_id, 0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let unique: HashSet<MsgId> = accepted.iter().copied().collect();
    assert_eq!(unique.len(), 3, "MsgIDs not unique: {accepted:?}");
    assert_eq!(
        reported.into_iter().collect::<HashSet<_>>(),
        unique,
        "every part's report carries its MsgID"
    );
    sp.session.terminate(sp.now());
    assert_eq!(sp.event().await, Event::Closed(CloseReason::Terminated));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["submits"], 3, "{counters}");
    assert_eq!(counters["reports_sent"], 3, "{counters}");
    assert_eq!(counters["deliver_resps"], 3, "{counters}");
    assert_eq!(counters["exits"], 1, "{counters}");
}

#[tokio::test]
async fn injected_and_throttling_statuses() {
    let injected = sim_with(SmgpSimConfig {
        faults: CarrierFaults {
            error_rate: vec![(88, BASIS)],
            ..CarrierFaults::default()
        },
        ..SmgpSimConfig::default()
    })
    .await;
    let mut sp = Sp::connected(injected.local_addr()).await;
    sp.submit(submit(Bytes::from_static(b"hi"), Vec::new()))
        .await;
    let Event::Response { pdu, .. } = sp.event().await else {
        panic!("no Submit_Resp")
    };
    assert!(matches!(pdu.body, Body::SubmitResp(r) if r.status == 88));

    // 1 per second: of a burst of 10, the first passes and the rest are throttled.
    let throttled = sim_with(SmgpSimConfig {
        faults: CarrierFaults {
            tps: Some(1),
            ..CarrierFaults::default()
        },
        ..SmgpSimConfig::default()
    })
    .await;
    let mut sp = Sp::connected(throttled.local_addr()).await;
    for _ in 0..10 {
        sp.submit(submit(Bytes::from_static(b"hi"), Vec::new()))
            .await;
    }
    let mut statuses = Vec::new();
    while statuses.len() < 10 {
        match sp.event().await {
            Event::Response { pdu, .. } => {
                let Body::SubmitResp(resp) = pdu.body else {
                    panic!("{pdu:?}")
                };
                statuses.push(resp.status);
            }
            Event::Deliver(pdu) => {
                let Body::Deliver(d) = &pdu.body else {
                    panic!()
                };
                sp.session.respond(pdu.sequence_id, d.msg_id, 0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(statuses[0], 0, "{statuses:?}");
    assert!(
        statuses[1..].iter().all(|s| *s == STATUS_FLOW_CONTROL),
        "{statuses:?}"
    );
    let counters = throttled.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["throttled"], 9, "{counters}");
    let counters = injected.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["errors_injected"], 1, "{counters}");
}

#[tokio::test]
async fn mo_arrives_in_ascii_ucs2_and_gbk() {
    let sim = sim_with(SmgpSimConfig {
        faults: CarrierFaults {
            mo_rate: Some(20),
            ..CarrierFaults::default()
        },
        ..SmgpSimConfig::default()
    })
    .await;
    let mut sp = Sp::connected(sim.local_addr()).await;
    let mut codings = HashSet::new();
    while codings.len() < 3 {
        let Event::Deliver(pdu) = sp.event().await else {
            continue;
        };
        let Body::Deliver(d) = &pdu.body else {
            panic!("{pdu:?}")
        };
        assert_eq!(d.is_report, 0, "MO, not a report: {d:?}");
        assert_eq!(&d.dest_term_id[..], CLIENT_ID);
        if d.msg_format == 8 {
            // UCS-2: a whole number of characters.
            assert_eq!(d.msg_content.len() % 2, 0);
        }
        codings.insert(d.msg_format);
        sp.session.respond(pdu.sequence_id, d.msg_id, 0);
    }
    assert_eq!(codings, HashSet::from([0, 8, 15]), "ASCII, UCS-2 and GBK");
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert!(counters["mo_sent"].as_u64() >= Some(3), "{counters}");
}

#[tokio::test]
async fn active_test_goes_both_ways_on_a_quiet_link() {
    let sim = sim_with(SmgpSimConfig {
        active_test_interval: Duration::from_millis(150),
        ..SmgpSimConfig::default()
    })
    .await;
    let sent = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    // Each side sends Active_Test when it has heard nothing for its interval, so the side
    // with the shorter one does. First the sim's (150 ms; ours 60 s): the session answers.
    let mut quiet = Sp::connected(sim.local_addr()).await;
    // Then ours (100 ms) on a second link, which the sim answers.
    let mut chatty = Sp::connect_with(sim.local_addr(), CLIENT_ID, SECRET, 4, 100).await;
    assert!(matches!(chatty.event().await, Event::Connected { .. }));
    within("Active_Test both ways", async {
        while sent(&sim.counters().active_tests_sent) == 0
            || sent(&sim.counters().active_tests) == 0
        {
            tokio::select! {
                event = quiet.event() => panic!("unexpected {event:?}"),
                event = chatty.event() => panic!("unexpected {event:?}"),
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    })
    .await;
    for sp in [&quiet, &chatty] {
        assert_eq!(
            sp.session.state(),
            &smppgate_protocol::smgp::session::State::Connected
        );
    }
    sim.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn links_are_dropped_at_the_disconnect_rate() {
    // 10 000 % a minute: a link lives 0.6 s on average.
    let sim = sim_with(SmgpSimConfig {
        faults: CarrierFaults {
            disconnect_rate: Some(100 * BASIS),
            ..CarrierFaults::default()
        },
        ..SmgpSimConfig::default()
    })
    .await;
    let mut sp = Sp::connect(sim.local_addr(), CLIENT_ID, SECRET).await;
    loop {
        match sp.event().await {
            Event::Closed(reason) => {
                assert_eq!(reason, CloseReason::ProtocolError, "the socket was closed");
                break;
            }
            Event::Connected { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["disconnects"], 1, "{counters}");
}

#[tokio::test]
async fn hostile_frames_are_answered_or_closed() {
    let sim = sim_with(SmgpSimConfig::default()).await;
    let mut sp = Sp::connected(sim.local_addr()).await;
    // A Submit cut short after ten octets: answered Status 10 (bad structure) under its own
    // SequenceID, which our session never sent.
    let mut cut = Vec::new();
    cut.extend_from_slice(&22u32.to_be_bytes());
    cut.extend_from_slice(&2u32.to_be_bytes());
    cut.extend_from_slice(&777u32.to_be_bytes());
    cut.extend_from_slice(&[0; 10]);
    sp.stream.write_all(&cut).await.expect("write");
    let Event::Unexpected(pdu) = sp.event().await else {
        panic!("expected the answer to a Submit we did not send")
    };
    assert_eq!(pdu.sequence_id, 777);
    assert!(
        matches!(&pdu.body, Body::SubmitResp(r) if r.status == 10),
        "{pdu:?}"
    );
    // A length above the cap: the stream cannot be framed, the link is closed.
    sp.stream
        .write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2])
        .await
        .expect("write");
    assert_eq!(sp.event().await, Event::Closed(CloseReason::ProtocolError));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["decode_errors"], 1, "{counters}");
    assert_eq!(counters["frame_errors"], 1, "{counters}");
}

#[test]
fn cli_runs_it_and_refuses_what_it_does_not_take() {
    let sim = support::Sim::start(&["--protocol", "smgp", "--account", "10001:secret"]);
    let counters = sim.stop();
    assert_eq!(counters["connections"], 0, "{counters}");
    for (args, says) in [
        (
            &["--protocol", "smgp", "--receipt-bind", "same"][..],
            "--receipt-bind is an SMPP simulator flag",
        ),
        (
            &["--protocol", "smgp", "--report-to", "127.0.0.1:1"][..],
            "--report-to is for --protocol sgip",
        ),
        (
            &["--protocol", "smgp", "--account", "123456789:x"][..],
            "1 to 8 ASCII characters",
        ),
    ] {
        let output = support::smppgate()
            .arg("sim")
            .args(args)
            .output()
            .expect("run smppgate");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} accepted");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
