//! Rough throughput of the session's per-request path (no codec, no I/O): one submit_sm
//! through `send_request` → `poll_transmit` → `handle_pdu(submit_sm_resp)` → `poll_event`,
//! with a full pipeline of `window_size` requests in flight. Ignored by default; run with
//! `cargo test --release -p smppgate-protocol --test session_throughput -- --ignored --nocapture`.
//! It prints a rate and asserts nothing about speed.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use smppgate_protocol::pdu::{Bind, BindResp, Body, Pdu, SubmitSm, SubmitSmResp};
use smppgate_protocol::session::{BindKind, Event, Role, Session, SessionConfig};

#[test]
#[ignore = "measurement, run by hand in release"]
fn submit_round_trips_per_second() {
    let config = SessionConfig {
        window_size: 512,
        ..SessionConfig::default()
    };
    let mut session = Session::new(Role::Esme, config, 0);
    let seq = session
        .bind(BindKind::Transceiver, Bind::default(), 0)
        .unwrap();
    session.handle_pdu(
        Pdu::new(seq, Body::BindTransceiverResp(BindResp::default())),
        0,
    );
    while session.poll_transmit().is_some() {}
    while session.poll_event().is_some() {}

    let body = Body::SubmitSm(SubmitSm {
        short_message: Bytes::from_static(b"hello world"),
        ..SubmitSm::default()
    });
    let response = Body::SubmitSmResp(SubmitSmResp::new(Bytes::from_static(b"msg-id")));
    let total: u64 = 5_000_000;
    let mut in_flight = VecDeque::with_capacity(512);
    let mut answered = 0u64;
    let started = Instant::now();
    let mut now = 0;
    for _ in 0..total {
        now += 1;
        if !session.window_available() {
            let seq = in_flight.pop_front().unwrap();
            session.handle_pdu(Pdu::new(seq, response.clone()), now / 1000);
        }
        let seq = session.send_request(body.clone(), now / 1000).unwrap();
        in_flight.push_back(seq);
        let pdu = session.poll_transmit().unwrap();
        std::hint::black_box(&pdu);
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::ResponseReceived { .. }) {
                answered += 1;
            }
        }
        if now % 1000 == 0 {
            session.handle_timeout(now / 1000);
        }
    }
    let elapsed = started.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / elapsed.as_secs_f64();
    println!("{total} submits, {answered} answered in {elapsed:?}: {rate:.0} submit round trips/s");
    assert!(answered > 0);
}
