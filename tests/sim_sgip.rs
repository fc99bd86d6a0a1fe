//! The SGIP simulator, driven over real loopback sockets by our own sans-IO links
//! (`sgip::session`): the SP's outgoing link (an `Initiator`: Bind LoginType 1, Submit,
//! idle Unbind and a new Bind on demand) and the SP's report listener (an `Acceptor` for
//! the SMG: its Bind with LoginType 2 checked, each Report and MO answered only once
//! taken). Long message parts, Reports matched by the Submit's sequence triple in the
//! states asked for, MO, injected and throttling Results, a refused report link, the
//! command line.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate::sim::china::CarrierFaults;
use smppgate::sim::faults::BASIS;
use smppgate::sim::sgip::{SgipSim, SgipSimConfig};
use smppgate_protocol::receipt::MessageState;
use smppgate_protocol::sgip::session::{
    Acceptor, AcceptorConfig, CloseReason, Event, Initiator, InitiatorConfig, Now, Role,
};
use smppgate_protocol::sgip::{
    Body, FrameDecoder, Pdu, RESULT_ILLEGAL_LOGIN, RESULT_NODE_BUSY, Sequence, Submit, encode,
    report_state,
};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const NAME: &[u8] = b"sp";
const PASSWORD: &[u8] = b"secret";
/// Our node id: 3 + area code 020 + corp code 12345.
const NODE: u32 = 3_020_012_345;

/// A sim whose SP account is sp:secret and which reports to `report_to`.
async fn sim_with(report_to: Option<SocketAddr>, config: SgipSimConfig) -> SgipSim {
    SgipSim::start(SgipSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        accounts: vec![(Bytes::from_static(NAME), Bytes::from_static(PASSWORD))],
        report_account: (Bytes::from_static(NAME), Bytes::from_static(PASSWORD)),
        report_to: report_to.map(|a| a.to_string()),
        receipt_delay: Duration::from_millis(10),
        ..config
    })
    .await
    .expect("sim")
}

/// One socket: frames in and out.
struct Wire {
    stream: TcpStream,
    decoder: FrameDecoder,
    input: BytesMut,
}

impl Wire {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            decoder: FrameDecoder::default(),
            input: BytesMut::new(),
        }
    }

    async fn write(&mut self, pdus: impl Iterator<Item = Pdu>) {
        let mut out = BytesMut::new();
        for pdu in pdus {
            encode(&pdu, &mut out).expect("encode");
        }
        // A write to a link the sim dropped fails; the next read says so (end of stream).
        if !out.is_empty() {
            let _ = self.stream.write_all(&out).await;
        }
    }

    /// What one read brought; `None` when the peer closed.
    async fn read(&mut self) -> Option<Vec<Pdu>> {
        // A reset link (the sim dropped it) ends the stream as a close does.
        if self.stream.read_buf(&mut self.input).await.unwrap_or(0) == 0 {
            return None;
        }
        let mut pdus = Vec::new();
        while let Some(frame) = self.decoder.decode(&mut self.input).expect("framing") {
            pdus.push(frame.expect("decode"));
        }
        Some(pdus)
    }
}

fn now(start: Instant) -> Now {
    Now::new(
        u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        1_206_071_900,
    )
}

/// The SP's outgoing link.
struct SpLink {
    wire: Wire,
    link: Initiator,
    start: Instant,
}

impl SpLink {
    async fn bind(sim: &SgipSim, password: &'static [u8], idle_timeout_ms: u64) -> Self {
        Self::bind_to(sim.local_addr(), password, idle_timeout_ms).await
    }

    async fn bind_to(addr: SocketAddr, password: &'static [u8], idle_timeout_ms: u64) -> Self {
        let start = Instant::now();
        let mut link = Initiator::new(InitiatorConfig {
            role: Role::Sp,
            node_id: NODE,
            login_name: Bytes::from_static(NAME),
            login_password: Bytes::from_static(password),
            window: 16,
            response_timeout_ms: 5_000,
            idle_timeout_ms,
        });
        link.bind(now(start)).expect("bind");
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self {
            wire: Wire::new(stream),
            link,
            start,
        }
    }

    /// Binds again on a new connection (after the link closed).
    async fn rebind(&mut self, sim: &SgipSim) {
        self.link.bind(now(self.start)).expect("bind again");
        self.wire = Wire::new(TcpStream::connect(sim.local_addr()).await.expect("connect"));
    }

    async fn event(&mut self) -> Event {
        within("an SGIP SP link event", async {
            loop {
                let out: Vec<Pdu> = std::iter::from_fn(|| self.link.poll_transmit()).collect();
                self.wire.write(out.into_iter()).await;
                if let Some(event) = self.link.poll_event() {
                    return event;
                }
                let deadline = self
                    .link
                    .poll_timeout()
                    .map(|ms| self.start + Duration::from_millis(ms));
                tokio::select! {
                    read = self.wire.read() => match read {
                        Some(pdus) => for pdu in pdus {
                            self.link.handle_pdu(now(self.start), pdu);
                        },
                        None => self.link.handle_frame_error(),
                    },
                    () = tokio::time::sleep_until(deadline.unwrap_or(self.start)), if deadline.is_some() => {
                        self.link.handle_timeout(now(self.start));
                    }
                }
            }
        })
        .await
    }

    async fn submit(&mut self, submit: Submit) -> Sequence {
        self.link
            .send_request(now(self.start), Body::Submit(Box::new(submit)))
            .expect("window has room")
    }

    /// The Result of the Submit with `sequence` (the next event must be its response).
    async fn result(&mut self, sequence: Sequence) -> u8 {
        match self.event().await {
            Event::Response { sequence: s, pdu } if s == sequence => match pdu.body {
                Body::SubmitResp(resp) => resp.result,
                other => panic!("{other:?}"),
            },
            other => panic!("expected the Submit_Resp of {sequence}: {other:?}"),
        }
    }
}

/// The SP's report listener and the connection the SMG opened to it.
struct ReportListener {
    listener: TcpListener,
    accounts: Vec<(Bytes, Bytes)>,
}

struct ReportLink {
    wire: Wire,
    link: Acceptor,
    start: Instant,
}

impl ReportListener {
    async fn new(accounts: Vec<(Bytes, Bytes)>) -> Self {
        Self {
            listener: TcpListener::bind("127.0.0.1:0").await.expect("listen"),
            accounts,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("addr")
    }

    async fn accept(&self) -> ReportLink {
        let (stream, _) = within("the SMG's report connection", self.listener.accept())
            .await
            .expect("accept");
        ReportLink {
            wire: Wire::new(stream),
            link: Acceptor::new(
                AcceptorConfig {
                    peer: Role::Smg,
                    node_id: NODE,
                    accounts: self.accounts.clone(),
                    max_unanswered: 16,
                    response_timeout_ms: 5_000,
                    idle_timeout_ms: 60_000,
                },
                0,
            ),
            start: Instant::now(),
        }
    }
}

impl ReportLink {
    async fn event(&mut self) -> Event {
        within("an SGIP report link event", async {
            loop {
                let out: Vec<Pdu> = std::iter::from_fn(|| self.link.poll_transmit()).collect();
                self.wire.write(out.into_iter()).await;
                if let Some(event) = self.link.poll_event() {
                    return event;
                }
                match self.wire.read().await {
                    Some(pdus) => {
                        for pdu in pdus {
                            self.link.handle_pdu(now(self.start), pdu);
                        }
                    }
                    None => self.link.handle_frame_error(),
                }
            }
        })
        .await
    }
}

fn submit(content: Bytes, udhi: u8, report_flag: u8) -> Submit {
    Submit {
        sp_number: Bytes::from_static(b"10655"),
        charge_number: Bytes::from_static(b"000000000000000000000"),
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
        report_flag,
        tp_pid: 0,
        tp_udhi: udhi,
        message_coding: 8,
        message_type: 0,
        message_content: content,
        reserve: Bytes::new(),
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

fn account() -> Vec<(Bytes, Bytes)> {
    vec![(Bytes::from_static(NAME), Bytes::from_static(PASSWORD))]
}

#[tokio::test]
async fn bind_is_checked_and_a_wrong_password_gets_result_1() {
    let sim = sim_with(None, SgipSimConfig::default()).await;
    let mut ok = SpLink::bind(&sim, PASSWORD, 0).await;
    assert!(matches!(ok.event().await, Event::Bound { .. }));
    let mut wrong = SpLink::bind(&sim, b"wrong", 0).await;
    assert_eq!(
        wrong.event().await,
        Event::Closed(CloseReason::BindRefused {
            result: RESULT_ILLEGAL_LOGIN
        })
    );
    ok.link.unbind(now(ok.start));
    assert_eq!(ok.event().await, Event::Closed(CloseReason::Unbound));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["logins"], 1, "{counters}");
    assert_eq!(counters["logins_refused"], 1, "{counters}");
    assert_eq!(counters["exits"], 1, "{counters}");
}

#[tokio::test]
async fn long_message_parts_get_reports_by_sequence_on_the_report_link_which_is_reopened() {
    let reports = ReportListener::new(account()).await;
    let sim = sim_with(
        Some(reports.addr()),
        SgipSimConfig {
            report_idle_timeout: Duration::from_millis(200),
            faults: CarrierFaults {
                receipt_states: vec![(MessageState::Undeliverable, 1)],
                ..CarrierFaults::default()
            },
            ..SgipSimConfig::default()
        },
    )
    .await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let text = "中国联通短信网关模拟器：这是一条很长的中文短信，".repeat(6);
    let parts = long_message_parts(&text, 0x2b);
    assert_eq!(parts.len(), 3);
    let mut sequences = HashSet::new();
    for part in parts {
        let sequence = sp.submit(submit(part, 1, 1)).await;
        assert_eq!(sp.result(sequence).await, 0);
        assert_eq!((sequence.node_id, sequence.time), (NODE, 1_206_071_900));
        sequences.insert(sequence);
    }
    assert_eq!(sequences.len(), 3);

    // The SMG connects to our listener, binds with LoginType 2, and reports each part by
    // its Submit's triple.
    let mut link = reports.accept().await;
    assert_eq!(
        link.event().await,
        Event::Bound {
            login_name: Bytes::from_static(NAME)
        }
    );
    let mut reported = HashSet::new();
    while reported.len() < 3 {
        let Event::Request(pdu) = link.event().await else {
            panic!("expected a Report")
        };
        let Body::Report(report) = &pdu.body else {
            panic!("{pdu:?}")
        };
        assert_eq!(report.report_type, 0);
        assert_eq!(&report.user_number[..], b"8613000000000");
        assert_eq!(
            (report.state, report.error_code),
            (report_state::FAILED, 21),
            "UNDELIV"
        );
        reported.insert(report.submit_sequence);
        link.link.respond(pdu.sequence, 0).expect("answer");
    }
    assert_eq!(reported, sequences, "every part's Report quotes its Submit");
    // Idle: the SMG unbinds its report link...
    assert_eq!(link.event().await, Event::Closed(CloseReason::PeerUnbound));
    // ...and opens a new one for the next Report.
    let sequence = sp
        .submit(submit(Bytes::from_static(&[0x4f, 0x60]), 0, 1))
        .await;
    assert_eq!(sp.result(sequence).await, 0);
    let mut again = reports.accept().await;
    assert!(matches!(again.event().await, Event::Bound { .. }));
    let Event::Request(pdu) = again.event().await else {
        panic!("expected a Report")
    };
    assert!(matches!(&pdu.body, Body::Report(r) if r.submit_sequence == sequence));
    again.link.respond(pdu.sequence, 0).expect("answer");
    let out: Vec<Pdu> = std::iter::from_fn(|| again.link.poll_transmit()).collect();
    again.wire.write(out.into_iter()).await;
    // Both links close from our side: the sim need not wait for Unbind_Resps.
    drop((sp, again));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["submits"], 4, "{counters}");
    assert_eq!(counters["reports_sent"], 4, "{counters}");
    assert_eq!(counters["report_links"], 2, "{counters}");
}

#[tokio::test]
async fn report_flag_2_owes_nothing_and_mo_arrives_on_the_report_link() {
    let reports = ReportListener::new(account()).await;
    let sim = sim_with(
        Some(reports.addr()),
        SgipSimConfig {
            faults: CarrierFaults {
                mo_rate: Some(20),
                ..CarrierFaults::default()
            },
            ..SgipSimConfig::default()
        },
    )
    .await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let sequence = sp.submit(submit(Bytes::from_static(b"hi"), 0, 2)).await;
    assert_eq!(sp.result(sequence).await, 0);
    let mut link = reports.accept().await;
    assert!(matches!(link.event().await, Event::Bound { .. }));
    let mut codings = HashSet::new();
    while codings.len() < 3 {
        let Event::Request(pdu) = link.event().await else {
            panic!("expected MO")
        };
        let Body::Deliver(deliver) = &pdu.body else {
            panic!("only MO: report flag 2 owes no Report: {pdu:?}")
        };
        assert_eq!(&deliver.sp_number[..], b"10655");
        codings.insert(deliver.message_coding);
        link.link.respond(pdu.sequence, 0).expect("answer");
    }
    assert_eq!(codings, HashSet::from([0, 8, 15]), "ASCII, UCS-2 and GBK");
    drop((sp, link));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["reports_sent"], 0, "{counters}");
}

#[tokio::test]
async fn injected_and_throttling_results() {
    let injected = sim_with(
        None,
        SgipSimConfig {
            faults: CarrierFaults {
                error_rate: vec![(33, BASIS)],
                ..CarrierFaults::default()
            },
            ..SgipSimConfig::default()
        },
    )
    .await;
    let mut sp = SpLink::bind(&injected, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let sequence = sp.submit(submit(Bytes::from_static(b"hi"), 0, 1)).await;
    assert_eq!(sp.result(sequence).await, 33);
    drop(sp);

    let throttled = sim_with(
        None,
        SgipSimConfig {
            faults: CarrierFaults {
                tps: Some(1),
                ..CarrierFaults::default()
            },
            ..SgipSimConfig::default()
        },
    )
    .await;
    let mut sp = SpLink::bind(&throttled, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let mut results = Vec::new();
    let sequences: Vec<Sequence> = {
        let mut out = Vec::new();
        for _ in 0..10 {
            out.push(sp.submit(submit(Bytes::from_static(b"hi"), 0, 2)).await);
        }
        out
    };
    for sequence in sequences {
        results.push(sp.result(sequence).await);
    }
    assert_eq!(results[0], 0, "{results:?}");
    assert!(
        results[1..].iter().all(|r| *r == RESULT_NODE_BUSY),
        "{results:?}"
    );
    // A malformed Submit gets its own Result: 6, a number with letters.
    let mut bad = submit(Bytes::from_static(b"hi"), 0, 2);
    bad.user_numbers = vec![Bytes::from_static(b"86130abc")];
    let sequence = sp.submit(bad).await;
    assert_eq!(sp.result(sequence).await, 6);
    drop(sp);
    let counters = throttled.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["throttled"], 9, "{counters}");
    injected.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_idle_sp_link_unbinds_and_binds_again_on_demand() {
    let sim = sim_with(None, SgipSimConfig::default()).await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 100).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    assert_eq!(sp.event().await, Event::Closed(CloseReason::Idle));
    sp.rebind(&sim).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let sequence = sp.submit(submit(Bytes::from_static(b"hi"), 0, 2)).await;
    assert_eq!(sp.result(sequence).await, 0);
    // Bind 1, Unbind 2, Bind 3, Submit 4: the counter ran on across connections.
    assert_eq!(sequence.counter, 4);
    drop(sp);
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["logins"], 2, "{counters}");
}

#[tokio::test]
async fn a_report_link_refused_by_the_sp_is_counted_and_retried() {
    // Our listener knows another password: the SMG's Bind is refused, it backs off and
    // tries again (the Reports wait in its bounded queue).
    let reports = ReportListener::new(vec![(
        Bytes::from_static(NAME),
        Bytes::from_static(b"other"),
    )])
    .await;
    let sim = sim_with(Some(reports.addr()), SgipSimConfig::default()).await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let sequence = sp.submit(submit(Bytes::from_static(b"hi"), 0, 1)).await;
    assert_eq!(sp.result(sequence).await, 0);
    for _ in 0..2 {
        let mut link = reports.accept().await;
        assert_eq!(
            link.event().await,
            Event::Closed(CloseReason::BindRefused {
                result: RESULT_ILLEGAL_LOGIN
            })
        );
        // Write the Bind_Resp, then hang up.
        let out: Vec<Pdu> = std::iter::from_fn(|| link.link.poll_transmit()).collect();
        link.wire.write(out.into_iter()).await;
    }
    drop(sp);
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert!(
        counters["report_link_failures"].as_u64() >= Some(2),
        "{counters}"
    );
    assert_eq!(counters["reports_dropped"], 1, "{counters}");
}

#[tokio::test]
async fn sp_links_are_dropped_at_the_disconnect_rate() {
    // 10 000 % a minute: a link lives 0.6 s on average.
    let sim = sim_with(
        None,
        SgipSimConfig {
            faults: CarrierFaults {
                disconnect_rate: Some(100 * BASIS),
                ..CarrierFaults::default()
            },
            ..SgipSimConfig::default()
        },
    )
    .await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 0).await;
    loop {
        match sp.event().await {
            Event::Closed(reason) => {
                assert_eq!(reason, CloseReason::ProtocolError, "the socket was closed");
                break;
            }
            Event::Bound { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["disconnects"], 1, "{counters}");
}

#[tokio::test]
async fn the_command_line_sim_reports_to_the_listener_it_is_given() {
    let reports = ReportListener::new(account()).await;
    let sim = support::Sim::start(&[
        "--protocol",
        "sgip",
        "--account",
        "sp:secret",
        "--report-to",
        &reports.addr().to_string(),
        "--receipt-delay-ms",
        "5",
        "--receipt-states",
        "EXPIRED=1",
    ]);
    let mut sp = SpLink::bind_to(sim.addr, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let sequence = sp.submit(submit(Bytes::from_static(b"hi"), 0, 0)).await;
    assert_eq!(sp.result(sequence).await, 0);
    // Bound with the first --account (no --report-account given).
    let mut link = reports.accept().await;
    assert_eq!(
        link.event().await,
        Event::Bound {
            login_name: Bytes::from_static(NAME)
        }
    );
    let Event::Request(pdu) = link.event().await else {
        panic!("expected a Report")
    };
    // ReportFlag 0 reports failures: EXPIRED is State 2, ErrorCode 28.
    assert!(
        matches!(&pdu.body, Body::Report(r) if r.submit_sequence == sequence && (r.state, r.error_code) == (2, 28)),
        "{pdu:?}"
    );
    link.link.respond(pdu.sequence, 0).expect("answer");
    let out: Vec<Pdu> = std::iter::from_fn(|| link.link.poll_transmit()).collect();
    link.wire.write(out.into_iter()).await;
    drop((sp, link));
    let counters = sim.stop();
    assert_eq!(counters["reports_sent"], 1, "{counters}");
    assert_eq!(counters["submits"], 1, "{counters}");
}

#[tokio::test]
async fn hostile_frames_are_answered_or_closed() {
    let sim = sim_with(None, SgipSimConfig::default()).await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    // A Submit cut short after ten octets: answered Result 5 (format error) under its own
    // sequence, which our link never sent.
    let mut cut = Vec::new();
    cut.extend_from_slice(&30u32.to_be_bytes());
    cut.extend_from_slice(&3u32.to_be_bytes());
    for word in [1u32, 2, 3] {
        cut.extend_from_slice(&word.to_be_bytes());
    }
    cut.extend_from_slice(&[0; 10]);
    sp.wire.stream.write_all(&cut).await.expect("write");
    let Event::Unexpected(pdu) = sp.event().await else {
        panic!("expected the answer to a Submit we did not send")
    };
    assert_eq!(
        pdu.sequence,
        Sequence {
            node_id: 1,
            time: 2,
            counter: 3
        }
    );
    assert!(
        matches!(&pdu.body, Body::SubmitResp(r) if r.result == 5),
        "{pdu:?}"
    );
    // A length above the cap: the stream cannot be framed, the link is closed.
    sp.wire
        .stream
        .write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3])
        .await
        .expect("write");
    assert_eq!(sp.event().await, Event::Closed(CloseReason::ProtocolError));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["decode_errors"], 1, "{counters}");
    assert_eq!(counters["frame_errors"], 1, "{counters}");
}

#[tokio::test]
async fn an_unanswered_report_is_sent_again() {
    let reports = ReportListener::new(account()).await;
    let sim = sim_with(
        Some(reports.addr()),
        SgipSimConfig {
            response_timeout: Duration::from_millis(200),
            ..SgipSimConfig::default()
        },
    )
    .await;
    let mut sp = SpLink::bind(&sim, PASSWORD, 0).await;
    assert!(matches!(sp.event().await, Event::Bound { .. }));
    let sequence = sp.submit(submit(Bytes::from_static(b"hi"), 0, 1)).await;
    assert_eq!(sp.result(sequence).await, 0);
    let mut link = reports.accept().await;
    assert!(matches!(link.event().await, Event::Bound { .. }));
    // The first Report is taken but not answered; the SMG sends it again (a new header
    // sequence, the same SubmitSequenceNumber).
    let Event::Request(first) = link.event().await else {
        panic!("expected a Report")
    };
    let Event::Request(again) = link.event().await else {
        panic!("expected the Report again")
    };
    assert_ne!(first.sequence, again.sequence);
    for pdu in [&first, &again] {
        assert!(
            matches!(&pdu.body, Body::Report(r) if r.submit_sequence == sequence),
            "{pdu:?}"
        );
    }
    link.link.respond(again.sequence, 0).expect("answer");
    let out: Vec<Pdu> = std::iter::from_fn(|| link.link.poll_transmit()).collect();
    link.wire.write(out.into_iter()).await;
    drop((sp, link));
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert!(
        counters["response_timeouts"].as_u64() >= Some(1),
        "{counters}"
    );
    assert_eq!(
        counters["reports_sent"], 1,
        "sends again are not new reports: {counters}"
    );
}

#[test]
fn cli_runs_it_and_refuses_what_it_does_not_take() {
    let sim = support::Sim::start(&[
        "--protocol",
        "sgip",
        "--account",
        "sp:secret",
        "--report-to",
        "127.0.0.1:9",
    ]);
    let counters = sim.stop();
    assert_eq!(counters["connections"], 0, "{counters}");
    for (args, says) in [
        (
            &["--protocol", "sgip", "--id-format", "dec"][..],
            "--id-format is an SMPP simulator flag",
        ),
        (
            &["--protocol", "sgip", "--account", "spx"][..],
            "expected NAME:SECRET",
        ),
        (
            &["--protocol", "sgip", "--account", "sp:12345678901234567"][..],
            "at most 16 octets",
        ),
        (
            &["--report-to", "127.0.0.1:9"][..],
            "--report-to is for --protocol sgip",
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
