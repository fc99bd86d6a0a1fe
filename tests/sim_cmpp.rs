//! The CMPP simulator in-process, driven by our own codec as the SP: login with a checked
//! authenticator both ways, a long Chinese message split with TP_udhi / Pk_total /
//! Pk_number, one status report per part with the part's Msg_Id, ACTIVE_TEST, TERMINATE,
//! and the refusals (wrong secret 3, unknown SP id 2, wrong version 4).

mod support;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate::sim::cmpp::{CmppSim, CmppSimConfig};
use smppgate_protocol::cmpp::{
    ActiveTestResp, Body, Connect, DeliverResp, FrameDecoder, MsgId, Pdu, StatusReport, Submit,
    Version, authenticator_source, check_authenticator_ismg, encode,
};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SP_ID: &[u8] = b"900001";
const SECRET: &[u8] = b"888888";
const TIMESTAMP: u32 = 1_206_090_507;

async fn sim(version: Version) -> CmppSim {
    sim_with(CmppSimConfig {
        version,
        accounts: vec![(Bytes::from_static(SP_ID), Bytes::from_static(SECRET))],
        receipt_delay: Duration::from_millis(10),
        ..CmppSimConfig::default()
    })
    .await
}

/// A sim on a free loopback port with `config` otherwise.
async fn sim_with(config: CmppSimConfig) -> CmppSim {
    CmppSim::start(CmppSimConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..config
    })
    .await
    .expect("sim")
}

/// A client of `version` logged in on `sim` (which takes any SP), with one short SUBMIT
/// asking for a report sent.
async fn logged_in_with_a_submit(sim: &CmppSim, version: Version) -> Client {
    let mut client = Client::connect(sim, version).await;
    // No accounts: any SP logs in (unchecked), still signed.
    assert_eq!(client.login(b"123456", b"", version.octet()).await, 0);
    client
        .send(3, submit(version, Bytes::from_static(b"hi"), 1, 1))
        .await;
    client
}

/// Our codec over a socket.
struct Client {
    stream: TcpStream,
    version: Version,
    decoder: FrameDecoder,
    input: BytesMut,
}

impl Client {
    async fn connect(sim: &CmppSim, version: Version) -> Self {
        Self {
            stream: TcpStream::connect(sim.local_addr()).await.expect("connect"),
            version,
            decoder: FrameDecoder::new(version),
            input: BytesMut::new(),
        }
    }

    async fn send(&mut self, sequence_id: u32, body: Body) {
        let mut out = BytesMut::new();
        encode(&Pdu { sequence_id, body }, self.version, &mut out).expect("encode");
        self.stream.write_all(&out).await.expect("write");
    }

    /// The next packet, or `None` when the sim closed the connection.
    async fn next(&mut self) -> Option<Pdu> {
        loop {
            if let Some(pdu) = self.decoder.decode(&mut self.input).expect("framing") {
                return Some(pdu.expect("decode"));
            }
            if within("a CMPP packet", self.stream.read_buf(&mut self.input))
                .await
                .expect("read")
                == 0
            {
                return None;
            }
        }
    }

    /// CONNECT as `name` with `secret` and `version_octet`; the CONNECT_RESP's Status, with
    /// its AuthenticatorISMG checked against `secret` when it is 0 (a refusal is signed
    /// with the account's secret, which a wrong one cannot check).
    async fn login(&mut self, name: &'static [u8], secret: &[u8], version_octet: u8) -> u32 {
        let authenticator = authenticator_source(name, secret, TIMESTAMP);
        self.send(
            1,
            Body::Connect(Connect {
                source_addr: Bytes::from_static(name),
                authenticator_source: authenticator,
                version: version_octet,
                timestamp: TIMESTAMP,
            }),
        )
        .await;
        let pdu = self.next().await.expect("CONNECT_RESP");
        assert_eq!(pdu.sequence_id, 1);
        let Body::ConnectResp(resp) = pdu.body else {
            panic!("not a CONNECT_RESP: {pdu:?}")
        };
        assert!(
            resp.status != 0
                || check_authenticator_ismg(self.version, &resp, &authenticator, secret),
            "AuthenticatorISMG does not prove the secret: {resp:?}"
        );
        resp.status
    }
}

/// UCS-2 `text` cut into parts of at most 134 octets behind a 6-octet UDH (reference `id`).
fn long_message_parts(text: &str, id: u8) -> Vec<Bytes> {
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let chunks: Vec<&[u8]> = ucs2.chunks(134).collect();
    let total = u8::try_from(chunks.len()).expect("parts");
    chunks
        .iter()
        .zip(1..)
        .map(|(chunk, number)| {
            let mut part = vec![0x05, 0x00, 0x03, id, total, number];
            part.extend_from_slice(chunk);
            Bytes::from(part)
        })
        .collect()
}

fn submit(version: Version, content: Bytes, pk_total: u8, pk_number: u8) -> Body {
    Body::Submit(Submit {
        msg_id: 0,
        pk_total,
        pk_number,
        registered_delivery: 1,
        msg_level: 0,
        service_id: Bytes::from_static(b"TEST"),
        fee_user_type: 2,
        fee_terminal_id: Bytes::new(),
        fee_terminal_type: 0,
        tp_pid: 0,
        tp_udhi: u8::from(pk_total > 1),
        msg_fmt: 8,
        msg_src: Bytes::from_static(SP_ID),
        fee_type: Bytes::from_static(b"01"),
        fee_code: Bytes::from_static(b"000000"),
        valid_time: Bytes::new(),
        at_time: Bytes::new(),
        src_id: Bytes::from_static(b"10690001"),
        dest_terminal_ids: vec![Bytes::from_static(b"13800138000")],
        dest_terminal_type: 0,
        msg_content: content,
        link_id: if version == Version::V3 {
            Bytes::from_static(b"LINK")
        } else {
            Bytes::new()
        },
        reserve: Bytes::new(),
    })
}

async fn long_message_with_receipts(version: Version) {
    let sim = sim(version).await;
    let mut client = Client::connect(&sim, version).await;
    assert_eq!(client.login(SP_ID, SECRET, version.octet()).await, 0);

    let text = "中国移动短信网关模拟器：这是一条很长的中文短信，".repeat(6);
    let parts = long_message_parts(&text, 0x2a);
    assert_eq!(
        parts.len(),
        3,
        "a message of {} characters",
        text.chars().count()
    );
    let total = u8::try_from(parts.len()).unwrap();
    for (part, number) in parts.into_iter().zip(1..) {
        client
            .send(10 + u32::from(number), submit(version, part, total, number))
            .await;
    }

    let mut accepted = Vec::new();
    let mut reported = Vec::new();
    while accepted.len() < 3 || reported.len() < 3 {
        let pdu = client.next().await.expect("the sim closed the link");
        match pdu.body {
            Body::SubmitResp(resp) => {
                assert_eq!(resp.result, 0, "{resp:?}");
                assert_eq!(pdu.sequence_id, 11 + u32::try_from(accepted.len()).unwrap());
                accepted.push(resp.msg_id);
            }
            Body::Deliver(deliver) => {
                assert_eq!(deliver.registered_delivery, 1, "{deliver:?}");
                assert_eq!(&deliver.dest_id[..], b"10690001");
                let report = StatusReport::parse(&deliver.msg_content, version).expect("report");
                assert_eq!(&report.stat[..], b"DELIVRD");
                assert_eq!(&report.dest_terminal_id[..], b"13800138000");
                assert_eq!(report.submit_time.len(), 10);
                assert_eq!(report.done_time.len(), 10);
                assert!(report.submit_time[..] <= report.done_time[..]);
                reported.push(report.msg_id);
                client
                    .send(
                        pdu.sequence_id,
                        Body::DeliverResp(DeliverResp {
                            msg_id: deliver.msg_id,
                            result: 0,
                        }),
                    )
                    .await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let unique: HashSet<u64> = accepted.iter().copied().collect();
    assert_eq!(unique.len(), 3, "Msg_Ids not unique: {accepted:?}");
    let reported: HashSet<u64> = reported.into_iter().collect();
    assert_eq!(reported, unique, "every part's report carries its Msg_Id");
    let id = MsgId::from_u64(accepted[0]);
    assert!(
        (1..=12).contains(&id.month) && (1..=31).contains(&id.day),
        "{id}"
    );

    client.send(20, Body::ActiveTest).await;
    let pdu = client.next().await.expect("ACTIVE_TEST_RESP");
    assert_eq!(
        pdu,
        Pdu {
            sequence_id: 20,
            body: Body::ActiveTestResp(ActiveTestResp::default())
        }
    );
    client.send(21, Body::Terminate).await;
    let pdu = client.next().await.expect("TERMINATE_RESP");
    assert_eq!(
        pdu,
        Pdu {
            sequence_id: 21,
            body: Body::TerminateResp
        }
    );
    assert_eq!(client.next().await, None, "closed after TERMINATE");

    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["logins"], 1, "{counters}");
    assert_eq!(counters["submits"], 3, "{counters}");
    assert_eq!(counters["reports_sent"], 3, "{counters}");
    assert_eq!(counters["deliver_resps"], 3, "{counters}");
    assert_eq!(counters["decode_errors"], 0, "{counters}");
}

#[tokio::test]
async fn cmpp2_long_chinese_message_gets_a_report_per_part() {
    long_message_with_receipts(Version::V2).await;
}

#[tokio::test]
async fn cmpp3_long_chinese_message_gets_a_report_per_part() {
    long_message_with_receipts(Version::V3).await;
}

#[tokio::test]
async fn refused_logins_get_the_status_and_the_link_closes() {
    let sim = sim(Version::V2).await;
    for (name, secret, version, status) in [
        (SP_ID, &b"wrong"[..], 0x20, 3),
        (&b"900002"[..], SECRET, 0x21, 2),
        (SP_ID, SECRET, 0x30, 4),
    ] {
        let mut client = Client::connect(&sim, Version::V2).await;
        assert_eq!(client.login(name, secret, version).await, status);
        assert_eq!(client.next().await, None, "closed after status {status}");
    }
    // A SUBMIT before CONNECT is not answered: the link is closed.
    let mut client = Client::connect(&sim, Version::V2).await;
    client
        .send(5, submit(Version::V2, Bytes::from_static(b"hi"), 1, 1))
        .await;
    assert_eq!(client.next().await, None);
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["logins"], 0, "{counters}");
    assert_eq!(counters["logins_refused"], 3, "{counters}");
    assert_eq!(counters["submits"], 0, "{counters}");
}

#[tokio::test]
async fn shutdown_terminates_open_links() {
    let sim = sim(Version::V3).await;
    let mut client = Client::connect(&sim, Version::V3).await;
    assert_eq!(client.login(SP_ID, SECRET, 0x30).await, 0);
    let stopping = tokio::spawn(sim.shutdown(Duration::from_secs(2)));
    let pdu = client.next().await.expect("TERMINATE");
    assert_eq!(pdu.body, Body::Terminate);
    assert_eq!(client.next().await, None);
    let counters = within("shutdown", stopping).await.expect("join");
    assert_eq!(counters["logins"], 1, "{counters}");
}

#[tokio::test]
async fn injected_results_and_report_states() {
    let sim = sim_with(CmppSimConfig {
        version: Version::V3,
        receipt_delay: Duration::from_millis(1),
        // 100 % (in basis points) of SUBMITs answered Result 8, flow control.
        error_rate: vec![(8, 10_000)],
        ..CmppSimConfig::default()
    })
    .await;
    let mut client = logged_in_with_a_submit(&sim, Version::V3).await;
    let pdu = client.next().await.expect("SUBMIT_RESP");
    let Body::SubmitResp(resp) = pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!((resp.result, resp.msg_id), (8, 0), "refused, no Msg_Id");
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["errors_injected"], 1, "{counters}");
    assert_eq!(counters["submits_refused"], 1, "{counters}");
    assert_eq!(
        counters["reports_sent"], 0,
        "no report for a refused SUBMIT"
    );

    let sim = sim_with(CmppSimConfig {
        version: Version::V2,
        receipt_delay: Duration::from_millis(1),
        receipt_states: vec![(smppgate_protocol::receipt::MessageState::Undeliverable, 1)],
        ..CmppSimConfig::default()
    })
    .await;
    let mut client = logged_in_with_a_submit(&sim, Version::V2).await;
    let mut stat = None;
    while stat.is_none() {
        let pdu = client.next().await.expect("packet");
        if let Body::Deliver(deliver) = pdu.body {
            let report = StatusReport::parse(&deliver.msg_content, Version::V2).unwrap();
            stat = Some(report.stat);
        }
    }
    assert_eq!(stat.as_deref(), Some(&b"UNDELIV"[..]));
    sim.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn hostile_frames_are_answered_or_closed() {
    let sim = sim(Version::V3).await;
    let mut client = Client::connect(&sim, Version::V3).await;
    assert_eq!(client.login(SP_ID, SECRET, 0x30).await, 0);
    // A SUBMIT cut after 8 body octets: answered Result 1 (bad structure), link kept.
    let mut cut = vec![0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 9];
    cut.extend_from_slice(&[0; 8]);
    client.stream.write_all(&cut).await.unwrap();
    let pdu = client.next().await.expect("SUBMIT_RESP");
    assert_eq!(pdu.sequence_id, 9);
    let Body::SubmitResp(resp) = pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(resp.result, 1);
    client.send(10, Body::ActiveTest).await;
    assert!(matches!(
        client.next().await.map(|p| p.body),
        Some(Body::ActiveTestResp(_))
    ));
    // A Total_Length of 4 GiB: closed before anything is buffered.
    client
        .stream
        .write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 4, 0, 0, 0, 11])
        .await
        .unwrap();
    assert_eq!(client.next().await, None);
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["decode_errors"], 1, "{counters}");
    assert_eq!(counters["frame_errors"], 1, "{counters}");
    assert_eq!(counters["submits_refused"], 0, "{counters}");
}

#[test]
fn cli_refuses_flags_it_does_not_take_naming_them() {
    for (args, says) in [
        (
            &["--protocol", "cmpp2", "--system-id", "x"][..],
            "--system-id is not a CMPP simulator flag",
        ),
        (
            &["--protocol", "smtp"][..],
            "expected smpp, cmpp2, cmpp3, smgp or sgip",
        ),
        (
            &["--protocol", "cmpp3", "--account", "9000011:x"][..],
            "1 to 6 ASCII characters",
        ),
        (
            &["--protocol", "cmpp3", "--account", "900001"][..],
            "SP_ID:SECRET",
        ),
        (
            &["--protocol", "cmpp2", "--error-rate", "0=5"][..],
            "a number from 1 to 255",
        ),
        (&["--protocol", "cmpp2", "--window", "0"][..], "--window 0"),
        (&["--protocol", "cmpp3", "--tps", "fast"][..], "--tps fast"),
        (
            &["--protocol", "cmpp3", "--mo-rate", "lots"][..],
            "--mo-rate lots",
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
        assert!(output.stdout.is_empty(), "{args:?} listened");
    }
}

// Real time, short timeouts: a paused clock may jump past the sim's timers while a
// loopback packet is still on its way. The tests wait on the event, never on a duration.
#[tokio::test]
async fn a_silent_link_is_closed_after_the_idle_timeout() {
    let sim = sim_with(CmppSimConfig {
        idle_timeout: Duration::from_millis(50),
        ..CmppSimConfig::default()
    })
    .await;
    // Never logs in, never sends: closed, its slot freed.
    let mut client = Client::connect(&sim, Version::V3).await;
    assert_eq!(client.next().await, None);
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["idle_closed"], 1, "{counters}");
}

#[tokio::test]
async fn an_unanswered_report_is_sent_again_then_dropped() {
    let sim = sim_with(CmppSimConfig {
        version: Version::V2,
        receipt_delay: Duration::from_millis(1),
        response_timeout: Duration::from_millis(50),
        max_tries: 2,
        ..CmppSimConfig::default()
    })
    .await;
    let mut client = logged_in_with_a_submit(&sim, Version::V2).await;
    let mut reports = Vec::new();
    while reports.len() < 2 {
        let pdu = client.next().await.expect("packet");
        if let Body::Deliver(deliver) = pdu.body {
            // Never answered.
            let report = StatusReport::parse(&deliver.msg_content, Version::V2).unwrap();
            reports.push((pdu.sequence_id, report.msg_id));
        }
    }
    assert_ne!(
        reports[0].0, reports[1].0,
        "sent again with a new Sequence_Id"
    );
    assert_eq!(reports[0].1, reports[1].1, "the same report");
    // Dropped after the second send times out.
    within("the report dropped", async {
        while sim.counters().reports_dropped.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["reports_sent"], 2, "{counters}");
    assert_eq!(counters["response_timeouts"], 2, "{counters}");
    assert_eq!(counters["reports_dropped"], 1, "{counters}");
}

#[tokio::test]
async fn over_the_tps_submits_get_result_8() {
    // 1 per second: of a burst of 10, the first passes and the rest get Result 8.
    let sim = sim_with(CmppSimConfig {
        version: Version::V3,
        tps: Some(1),
        ..CmppSimConfig::default()
    })
    .await;
    let mut client = Client::connect(&sim, Version::V3).await;
    assert_eq!(client.login(b"123456", b"", 0x30).await, 0);
    for sequence_id in 10..20 {
        client
            .send(
                sequence_id,
                submit(Version::V3, Bytes::from_static(b"hi"), 1, 1),
            )
            .await;
    }
    let mut results = Vec::new();
    while results.len() < 10 {
        let pdu = client.next().await.expect("packet");
        match pdu.body {
            Body::SubmitResp(resp) => results.push(resp.result),
            Body::Deliver(deliver) => {
                client
                    .send(
                        pdu.sequence_id,
                        Body::DeliverResp(DeliverResp {
                            msg_id: deliver.msg_id,
                            result: 0,
                        }),
                    )
                    .await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(results[0], 0, "{results:?}");
    assert!(results[1..].iter().all(|r| *r == 8), "{results:?}");
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["throttled"], 9, "{counters}");
    assert_eq!(counters["submits"], 1, "{counters}");

    // Another Result asked for with --throttle-status.
    let sim = sim_with(CmppSimConfig {
        version: Version::V2,
        tps: Some(1),
        throttle_result: Some(9),
        ..CmppSimConfig::default()
    })
    .await;
    let mut client = Client::connect(&sim, Version::V2).await;
    assert_eq!(client.login(b"123456", b"", 0x20).await, 0);
    for sequence_id in 10..12 {
        client
            .send(
                sequence_id,
                submit(Version::V2, Bytes::from_static(b"hi"), 1, 1),
            )
            .await;
    }
    let mut results = Vec::new();
    while results.len() < 2 {
        if let Body::SubmitResp(resp) = client.next().await.expect("packet").body {
            results.push(resp.result);
        }
    }
    assert_eq!(results, [0, 9]);
    sim.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn mo_arrives_in_ascii_ucs2_and_gbk() {
    for version in [Version::V2, Version::V3] {
        let sim = sim_with(CmppSimConfig {
            version,
            mo_rate: Some(100),
            // One MO in flight at a time: the next waits for our DELIVER_RESP.
            window: 1,
            ..CmppSimConfig::default()
        })
        .await;
        let mut client = Client::connect(&sim, version).await;
        assert_eq!(client.login(b"123456", b"", version.octet()).await, 0);
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let pdu = client.next().await.expect("MO");
            let Body::Deliver(deliver) = pdu.body else {
                panic!("{pdu:?}")
            };
            assert_eq!(deliver.registered_delivery, 0, "an MO, not a report");
            assert_eq!(&deliver.dest_id[..], b"123456", "to the SP logged in");
            assert!(!deliver.src_terminal_id.is_empty());
            seen.push((deliver.msg_fmt, deliver.msg_content.clone()));
            client
                .send(
                    pdu.sequence_id,
                    Body::DeliverResp(DeliverResp {
                        msg_id: deliver.msg_id,
                        result: 0,
                    }),
                )
                .await;
        }
        assert_eq!(
            seen[0],
            (0, Bytes::from_static(b"Hello, is this the pizza place?"))
        );
        assert_eq!(seen[1], (0, Bytes::from_static(b"TD")));
        assert_eq!(
            seen[2],
            (8, Bytes::from_static(&[0x90, 0x00, 0x8b, 0xa2])),
            "退订 in UCS-2"
        );
        assert_eq!(
            seen[3],
            (15, Bytes::from_static(&[0xc4, 0xe3, 0xba, 0xc3])),
            "你好 in GBK"
        );
        // Our answers free the window (and are counted) once the sim has read them.
        within("the DELIVER_RESPs read", async {
            while sim.counters().deliver_resps.load(Ordering::Relaxed) < 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let counters = sim.shutdown(Duration::from_secs(2)).await;
        assert!(counters["mo_sent"].as_u64() >= Some(4), "{counters}");
        assert_eq!(counters["response_timeouts"], 0, "{counters}");
    }
}

#[tokio::test]
async fn no_mo_before_login_nor_past_the_window() {
    let sim = sim_with(CmppSimConfig {
        mo_rate: Some(1000),
        window: 2,
        ..CmppSimConfig::default()
    })
    .await;
    let mut client = Client::connect(&sim, Version::V3).await;
    // Nothing arrives before the CONNECT: the first packet is its answer.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(client.login(b"123456", b"", 0x30).await, 0);
    // Two MO unanswered fill the window; then nothing more until one is answered.
    let mut first = None;
    for _ in 0..2 {
        let pdu = client.next().await.expect("MO");
        assert!(matches!(pdu.body, Body::Deliver(_)), "{pdu:?}");
        first.get_or_insert(pdu);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sim.counters().mo_sent.load(Ordering::Relaxed), 2);
    let first = first.expect("an MO");
    let Body::Deliver(deliver) = first.body else {
        unreachable!()
    };
    client
        .send(
            first.sequence_id,
            Body::DeliverResp(DeliverResp {
                msg_id: deliver.msg_id,
                result: 0,
            }),
        )
        .await;
    let pdu = client.next().await.expect("the next MO");
    assert!(matches!(pdu.body, Body::Deliver(_)), "{pdu:?}");
    sim.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn links_are_dropped_at_the_disconnect_rate() {
    // 10 000 % a minute: a link lives 0.6 s on average.
    let sim = sim_with(CmppSimConfig {
        disconnect_rate: Some(1_000_000),
        ..CmppSimConfig::default()
    })
    .await;
    // Not logged in (a drop may come before any answer): the idle timeout is 180 s, so
    // only the random disconnect closes it; without a TERMINATE.
    let mut client = Client::connect(&sim, Version::V3).await;
    assert_eq!(client.next().await, None);
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    assert_eq!(counters["disconnects"], 1, "{counters}");
    assert_eq!(counters["terminates"], 0, "{counters}");
}
