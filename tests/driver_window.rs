//! Driver: batching, window, backpressure, keep-alive, dead peer, graceful unbind.

mod driver_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use driver_support::{Ids, Raw, client, server, submit, within};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use smppgate::conn::RequestError;
use smppgate::smsc::ServerConfig;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, BindResp, Body, MessageIdResp, Pdu, SubmitSm};
use smppgate_protocol::session::CloseReason;
use smppgate_protocol::tlv::{TlvTag, Tlvs};
use tokio::net::TcpListener;

#[tokio::test]
async fn many_pdus_in_one_read_are_all_answered() {
    let (server, handler) = server(Ids::default(), ServerConfig::default()).await;
    let mut raw = Raw::connect(server.local_addr()).await;
    raw.send(&[Pdu::new(1, Body::BindTransceiver(Bind::default()))])
        .await;
    let bound = within(5, "bind_resp", raw.recv()).await.expect("bind_resp");
    assert_eq!(bound.command_status, CommandStatus::ESME_ROK);
    // 200 PDUs in one write: the server must decode every frame of each read.
    let batch: Vec<Pdu> = (2..202)
        .map(|seq| {
            if seq % 2 == 0 {
                Pdu::new(seq, Body::SubmitSm(submit("batch")))
            } else {
                Pdu::new(seq, Body::EnquireLink)
            }
        })
        .collect();
    raw.send(&batch).await;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 200 {
        let pdu = within(5, "responses", raw.recv()).await.expect("response");
        assert_eq!(pdu.command_status, CommandStatus::ESME_ROK);
        seen.insert(pdu.sequence_number);
    }
    assert_eq!(seen.first(), Some(&2));
    assert_eq!(seen.last(), Some(&201));
    assert_eq!(handler.submits.load(Ordering::Relaxed), 100);
}

#[tokio::test]
async fn window_of_four_is_never_exceeded() {
    let handler = Ids {
        delay: Some(Duration::from_millis(2)),
        ..Ids::default()
    };
    let (server, handler) = server(handler, ServerConfig::default()).await;
    let (client, _inbound) = client(server.local_addr(), |c| c.window = 4).await;
    let mut calls: FuturesUnordered<_> = (0..100).map(|_| client.submit(submit("w"))).collect();
    let mut ok = 0;
    while let Some(outcome) = within(30, "100 submits", calls.next()).await {
        assert!(outcome.expect("response").is_ok());
        ok += 1;
    }
    assert_eq!(ok, 100);
    let max = handler.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 4, "server saw {max} outstanding");
    assert!(max >= 2, "the window was used ({max})");
}

/// A peer that binds the client and then reads nothing until told to.
async fn stalling_peer(listener: TcpListener, resume: tokio::sync::oneshot::Receiver<()>) -> usize {
    let (stream, _) = listener.accept().await.expect("accept");
    let mut raw = Raw::new(stream);
    let bind = raw.recv().await.expect("bind");
    raw.send(&[Pdu::new(
        bind.sequence_number,
        Body::BindTransceiverResp(BindResp::default()),
    )])
    .await;
    let _ = resume.await;
    let mut answered = 0;
    while let Some(pdu) = raw.recv().await {
        match pdu.body {
            Body::SubmitSm(_) => {
                raw.send(&[Pdu::new(
                    pdu.sequence_number,
                    Body::SubmitSmResp(MessageIdResp::new(answered.to_string())),
                )])
                .await;
                answered += 1;
            }
            Body::Unbind => {
                raw.send(&[Pdu::new(pdu.sequence_number, Body::UnbindResp)])
                    .await;
            }
            Body::EnquireLink => {
                raw.send(&[Pdu::new(pdu.sequence_number, Body::EnquireLinkResp)])
                    .await;
            }
            _ => {}
        }
    }
    answered
}

#[tokio::test]
async fn a_peer_that_stops_reading_makes_submit_wait_and_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (resume_tx, resume) = tokio::sync::oneshot::channel();
    let peer = tokio::spawn(stalling_peer(listener, resume));
    // A huge window, so only the socket and the driver's output limit hold requests back.
    let (client, _inbound) = client(addr, |c| {
        c.window = 100_000;
        c.session.enquire_link_interval_ms = None;
    })
    .await;
    // 60 KB per request: 300 of them (18 MB) cannot all fit in the socket buffers.
    let payload = vec![b'x'; 60_000];
    let big = SubmitSm {
        tlvs: Tlvs::builder()
            .push_raw(TlvTag::MESSAGE_PAYLOAD, &payload)
            .build()
            .unwrap(),
        ..submit("")
    };
    let total = 300;
    let client = Arc::new(client);
    let mut calls: FuturesUnordered<_> = (0..total)
        .map(|_| {
            let client = Arc::clone(&client);
            let big = big.clone();
            tokio::spawn(async move { client.submit(big).await })
        })
        .collect();
    // While the peer does not read, requests wait in the bounded channel: nothing fails,
    // nothing completes, and the driver stops taking them (its output is capped).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!client.link().is_closed());
    let queued = client.link().queued();
    assert!(queued > 0 && queued <= total, "{queued} requests queued");
    assert!(calls.iter().all(|call| !call.is_finished()));
    resume_tx.send(()).unwrap();
    let mut ok = 0;
    while let Some(outcome) = within(60, "all submits after resume", calls.next()).await {
        assert!(outcome.unwrap().expect("response").is_ok());
        ok += 1;
    }
    assert_eq!(ok, total);
    assert_eq!(client.unbind().await, CloseReason::Unbound);
    assert_eq!(within(10, "peer end", peer).await.unwrap(), total);
}

#[tokio::test]
async fn a_response_written_right_after_the_request_is_matched() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_resume_tx, resume) = tokio::sync::oneshot::channel::<()>();
    drop(_resume_tx); // answer at once
    tokio::spawn(stalling_peer(listener, resume));
    let (client, _inbound) = client(addr, |_| {}).await;
    for n in 0..50 {
        let response = within(5, "submit", client.submit(submit("fast")))
            .await
            .unwrap();
        assert_eq!(response.message_id(), Some(&Bytes::from(n.to_string())));
    }
}

#[tokio::test]
async fn enquire_link_keeps_alive_and_a_dead_peer_aborts_outstanding_requests() {
    // Keep-alive against a peer that answers: several enquire_links, session stays up.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_addr = listener.local_addr().unwrap();
    let (answered_tx, mut answered) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut raw = Raw::new(stream);
        while let Some(pdu) = raw.recv().await {
            let answer = match pdu.body {
                Body::BindTransceiver(_) => Body::BindTransceiverResp(BindResp::default()),
                Body::EnquireLink => {
                    let _ = answered_tx.try_send(());
                    Body::EnquireLinkResp
                }
                Body::SubmitSm(_) => Body::SubmitSmResp(MessageIdResp::new("1")),
                _ => continue,
            };
            raw.send(&[Pdu::new(pdu.sequence_number, answer)]).await;
        }
    });
    let (live, _inbound) = client(live_addr, |c| {
        c.session.enquire_link_interval_ms = Some(20);
        c.session.enquire_link_timeout_ms = 200;
    })
    .await;
    for _ in 0..3 {
        within(5, "enquire_link on an idle session", answered.recv())
            .await
            .unwrap();
    }

    // A peer that binds the client, then reads but never answers anything.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (pings_tx, mut pings) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut raw = Raw::new(stream);
        let bind = raw.recv().await.unwrap();
        raw.send(&[Pdu::new(
            bind.sequence_number,
            Body::BindTransceiverResp(BindResp::default()),
        )])
        .await;
        while let Some(pdu) = raw.recv().await {
            if pdu.body == Body::EnquireLink {
                let _ = pings_tx.send(()).await;
            }
        }
    });
    let (dead, _inbound) = client(addr, |c| {
        c.session.enquire_link_interval_ms = Some(50);
        c.session.enquire_link_timeout_ms = 100;
        c.session.response_timeout_ms = 60_000;
    })
    .await;
    let dead = Arc::new(dead);
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let dead = Arc::clone(&dead);
            tokio::spawn(async move { dead.submit(submit("lost")).await })
        })
        .collect();
    within(5, "enquire_link sent to the silent peer", pings.recv())
        .await
        .unwrap();
    assert_eq!(
        within(5, "dead peer detected", dead.link().closed()).await,
        CloseReason::PeerDead
    );
    for call in calls {
        let outcome = within(5, "aborted", call).await.unwrap();
        assert!(
            matches!(
                outcome,
                Err(RequestError::Aborted {
                    reason: Some(CloseReason::PeerDead),
                    ..
                })
            ),
            "{outcome:?}"
        );
    }
    // The live session answered its enquire_links all along.
    assert!(!live.link().is_closed());
    assert!(
        within(5, "submit on live", live.submit(submit("x")))
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn graceful_unbind_waits_for_requests_in_flight() {
    let handler = Ids {
        delay: Some(Duration::from_millis(50)),
        ..Ids::default()
    };
    let (server, handler) = server(handler, ServerConfig::default()).await;
    let (client, _inbound) = client(server.local_addr(), |c| c.window = 16).await;
    let client = Arc::new(client);
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.submit(submit("in flight")).await })
        })
        .collect();
    // Wait until the server holds all ten, then unbind.
    within(5, "requests at the server", async {
        while handler.in_flight.load(Ordering::SeqCst) < 10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let reason = within(10, "unbind", client.unbind()).await;
    assert_eq!(reason, CloseReason::Unbound);
    for call in calls {
        assert!(call.await.unwrap().expect("answered before unbind").is_ok());
    }
    // After the unbind, requests fail at once.
    assert_eq!(
        client.submit(submit("late")).await,
        Err(RequestError::Closed)
    );
    assert!(server.shutdown(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn throttling_is_a_visible_status_and_a_missing_response_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut raw = Raw::new(stream);
        while let Some(pdu) = raw.recv().await {
            let answer = match &pdu.body {
                Body::BindTransceiver(_) => Pdu::new(
                    pdu.sequence_number,
                    Body::BindTransceiverResp(BindResp::default()),
                ),
                // "throttle me": ESME_RTHROTTLED with no body; "ignore me": no answer.
                Body::SubmitSm(s) if s.short_message.as_ref() == b"throttle me" => Pdu::new(
                    pdu.sequence_number,
                    Body::SubmitSmResp(MessageIdResp::default()),
                )
                .with_status(CommandStatus::ESME_RTHROTTLED),
                Body::EnquireLink => Pdu::new(pdu.sequence_number, Body::EnquireLinkResp),
                Body::Unbind => Pdu::new(pdu.sequence_number, Body::UnbindResp),
                _ => continue,
            };
            raw.send(&[answer]).await;
        }
    });
    let (client, _inbound) = client(addr, |c| c.session.response_timeout_ms = 100).await;
    let throttled = within(5, "throttled", client.submit(submit("throttle me")))
        .await
        .unwrap();
    assert!(throttled.is_throttled());
    assert_eq!(throttled.status(), CommandStatus::ESME_RTHROTTLED);
    let timed_out = within(5, "timeout", client.submit(submit("ignore me"))).await;
    assert!(
        matches!(timed_out, Err(RequestError::Timeout { .. })),
        "{timed_out:?}"
    );
    // The session survives both.
    assert!(!client.link().is_closed());
    assert_eq!(
        within(5, "unbind", client.unbind()).await,
        CloseReason::Unbound
    );
}
