//! Property tests for `protocol::session`: any interleaving of peer PDUs, decode errors,
//! application calls and time keeps the session's promises.
//!
//! * no panic;
//! * the window never exceeds its size, owed responses never exceed their limit;
//! * one input makes at most two PDUs leave (the queues stay bounded);
//! * a response from the peer is never answered;
//! * a sequence_number we send is in 1..=0x7FFFFFFF and never one still outstanding;
//! * every request the application sent is finished exactly once (response, throttled,
//!   undecodable, timed out or aborted at close): nothing silently dropped;
//! * after `handle_timeout(now)`, the next deadline is in the future.

use std::collections::HashSet;

use bytes::Bytes;
use proptest::prelude::*;
use smppgate_protocol::codec::{DecodeError, encode_to_bytes};
use smppgate_protocol::command_id::CommandId;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, BindResp, Body, Outbind, Pdu};
use smppgate_protocol::session::{
    BindKind, Event, MAX_SEQUENCE_NUMBER, Role, Session, SessionConfig,
};

#[derive(Debug, Clone)]
enum Op {
    /// A PDU from the peer: operation index, sequence_number choice, status choice.
    Recv(usize, SeqPick, u8),
    /// A frame the codec could not decode: raw command_id index, sequence_number choice.
    Undecodable(usize, SeqPick),
    /// The application sends a request (operation index).
    Send(usize),
    /// The application answers the n-th request it received (if still owed).
    Respond(usize, u8),
    Bind(u8),
    Accept,
    Reject,
    Outbind,
    Unbind,
    Close,
    /// Time passes (ms).
    Advance(u16),
}

#[derive(Debug, Clone, Copy)]
enum SeqPick {
    /// One of the numbers we sent (index modulo how many).
    Ours(usize),
    /// Any value, the odd ones included (0, ≥ 0x80000000).
    Raw(u32),
}

const PEER_BODIES: usize = 22;

fn peer_body(index: usize) -> Body {
    match index % PEER_BODIES {
        0 => Body::EnquireLink,
        1 => Body::empty(CommandId::SubmitSm),
        2 => Body::empty(CommandId::DeliverSm),
        3 => Body::empty(CommandId::DataSm),
        4 => Body::Unbind,
        5 => Body::BindTransmitter(Bind::default()),
        6 => Body::BindReceiver(Bind::default()),
        7 => Body::BindTransceiver(Bind::default()),
        8 => Body::Outbind(Outbind::default()),
        9 => Body::empty(CommandId::AlertNotification),
        10 => Body::empty(CommandId::QuerySm),
        11 => Body::empty(CommandId::SubmitSmResp),
        12 => Body::empty(CommandId::DeliverSmResp),
        13 => Body::EnquireLinkResp,
        14 => Body::GenericNack,
        15 => Body::BindTransmitterResp(BindResp::default()),
        16 => Body::BindReceiverResp(BindResp::default()),
        17 => Body::BindTransceiverResp(BindResp::default()),
        18 => Body::UnbindResp,
        19 => Body::empty(CommandId::DataSmResp),
        20 => Body::empty(CommandId::QuerySmResp),
        _ => Body::empty(CommandId::CancelSm),
    }
}

fn app_body(index: usize) -> Body {
    match index % 6 {
        0 => Body::EnquireLink,
        1 => Body::empty(CommandId::SubmitSm),
        2 => Body::empty(CommandId::DeliverSm),
        3 => Body::empty(CommandId::DataSm),
        4 => Body::empty(CommandId::QuerySm),
        _ => Body::empty(CommandId::AlertNotification),
    }
}

fn status(pick: u8) -> CommandStatus {
    match pick % 5 {
        0 | 1 => CommandStatus::ESME_ROK,
        2 => CommandStatus::ESME_RTHROTTLED,
        3 => CommandStatus::ESME_RMSGQFUL,
        _ => CommandStatus::ESME_RSYSERR,
    }
}

fn kind(pick: u8) -> BindKind {
    match pick % 3 {
        0 => BindKind::Transmitter,
        1 => BindKind::Receiver,
        _ => BindKind::Transceiver,
    }
}

const RAW_IDS: [u32; 5] = [0x111, 0x8000_0111, 0x4, 0x8000_0004, 0x8000_0015];

fn seq_pick() -> impl Strategy<Value = SeqPick> {
    prop_oneof![
        3 => any::<usize>().prop_map(SeqPick::Ours),
        1 => any::<u32>().prop_map(SeqPick::Raw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<usize>(), seq_pick(), any::<u8>()).prop_map(|(a, b, c)| Op::Recv(a, b, c)),
        1 => (any::<usize>(), seq_pick()).prop_map(|(a, b)| Op::Undecodable(a, b)),
        6 => any::<usize>().prop_map(Op::Send),
        4 => (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Op::Respond(a, b)),
        1 => any::<u8>().prop_map(Op::Bind),
        1 => Just(Op::Accept),
        1 => Just(Op::Reject),
        1 => Just(Op::Outbind),
        1 => Just(Op::Unbind),
        1 => Just(Op::Close),
        3 => any::<u16>().prop_map(Op::Advance),
    ]
}

struct Model {
    session: Session,
    config: SessionConfig,
    now: u64,
    /// Every sequence_number we sent a request with (for the peer to answer).
    sent_numbers: Vec<u32>,
    /// Application requests not finished yet.
    unfinished: HashSet<u32>,
    /// Requests received from the peer (sequence_number, operation).
    received: Vec<(u32, CommandId)>,
}

impl Model {
    fn new(role: Role, first_sequence_number: u32) -> Self {
        let config = SessionConfig {
            window_size: 3,
            max_owed_responses: 3,
            response_timeout_ms: 2_000,
            enquire_link_interval_ms: Some(5_000),
            enquire_link_timeout_ms: 1_000,
            bind_timeout_ms: 10_000,
            inactivity_timeout_ms: Some(20_000),
            unbind_timeout_ms: 1_000,
            first_sequence_number,
            ..SessionConfig::default()
        };
        Self {
            session: Session::new(role, config.clone(), 0),
            config,
            now: 0,
            sent_numbers: Vec::new(),
            unfinished: HashSet::new(),
            received: Vec::new(),
        }
    }

    fn pick(&self, pick: SeqPick) -> u32 {
        match pick {
            SeqPick::Ours(i) if !self.sent_numbers.is_empty() => {
                self.sent_numbers[i % self.sent_numbers.len()]
            }
            SeqPick::Ours(i) => i as u32,
            SeqPick::Raw(raw) => raw,
        }
    }

    fn apply(&mut self, op: &Op) {
        let mut peer_response = false;
        match *op {
            Op::Recv(body, seq, st) => {
                let body = peer_body(body);
                peer_response = body.is_response();
                let pdu = Pdu::new(self.pick(seq), body).with_status(if peer_response {
                    status(st)
                } else {
                    CommandStatus::ESME_ROK
                });
                self.session.handle_pdu(pdu, self.now);
            }
            Op::Undecodable(id, seq) => {
                let command_id = RAW_IDS[id % RAW_IDS.len()];
                peer_response = command_id & 0x8000_0000 != 0;
                let error = DecodeError::UnknownCommandId {
                    command_id,
                    sequence_number: self.pick(seq),
                };
                self.session.handle_decode_error(&error, self.now);
            }
            Op::Send(body) => {
                if let Ok(seq) = self.session.send_request(app_body(body), self.now) {
                    assert!((1..=MAX_SEQUENCE_NUMBER).contains(&seq));
                    let has_response = app_body(body).command_id().response().is_some();
                    if has_response {
                        assert!(
                            self.unfinished.insert(seq),
                            "{seq} reused while outstanding"
                        );
                    }
                }
            }
            Op::Respond(i, st) => {
                if !self.received.is_empty() {
                    let (seq, request) = self.received[i % self.received.len()];
                    let body = Body::empty(request.response().unwrap());
                    let _ = self.session.respond(seq, status(st), body, self.now);
                }
            }
            Op::Bind(k) => {
                let _ = self.session.bind(kind(k), Bind::default(), self.now);
            }
            Op::Accept => {
                let _ = self.session.accept_bind(BindResp::default(), self.now);
            }
            Op::Reject => {
                let _ = self.session.reject_bind(CommandStatus::ESME_RBINDFAIL);
            }
            Op::Outbind => {
                let _ = self.session.outbind(
                    Outbind {
                        system_id: Bytes::from_static(b"smsc"),
                        password: Bytes::new(),
                    },
                    self.now,
                );
            }
            Op::Unbind => {
                let _ = self.session.unbind(self.now);
            }
            Op::Close => self.session.close(),
            Op::Advance(ms) => {
                self.now += u64::from(ms);
                self.session.handle_timeout(self.now);
                if let Some(next) = self.session.poll_timeout() {
                    assert!(
                        next > self.now,
                        "deadline {next} left behind at {}",
                        self.now
                    );
                }
            }
        }
        self.drain(peer_response);
        assert!(self.session.outstanding() <= self.config.window_size);
        assert!(self.session.owed() <= self.config.max_owed_responses);
    }

    fn drain(&mut self, peer_response: bool) {
        let mut count = 0;
        let mut responses = 0;
        while let Some(pdu) = self.session.poll_transmit() {
            count += 1;
            responses += usize::from(pdu.body.is_response());
            encode_to_bytes(&pdu).unwrap();
            if pdu.body.is_request() {
                assert!((1..=MAX_SEQUENCE_NUMBER).contains(&pdu.sequence_number));
                self.sent_numbers.push(pdu.sequence_number);
            }
        }
        assert!(count <= 2, "{count} PDUs for one input");
        if peer_response {
            // (A response may complete a drain and let our unbind go out: a request.)
            assert_eq!(responses, 0, "a response was answered");
        }
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::RequestReceived { pdu } if pdu.command_id().response().is_some() => {
                    self.received.push((pdu.sequence_number, pdu.command_id()));
                }
                Event::ResponseReceived {
                    sequence_number, ..
                }
                | Event::Throttled {
                    sequence_number, ..
                }
                | Event::ResponseUndecodable {
                    sequence_number, ..
                }
                | Event::ResponseTimedOut {
                    sequence_number, ..
                }
                | Event::RequestAborted {
                    sequence_number, ..
                } => {
                    assert!(
                        self.unfinished.remove(&sequence_number),
                        "{sequence_number} finished twice or never sent"
                    );
                }
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn session_keeps_its_promises(
        smsc in any::<bool>(),
        near_wrap in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let role = if smsc { Role::Smsc } else { Role::Esme };
        let first = if near_wrap { MAX_SEQUENCE_NUMBER - 3 } else { 1 };
        let mut model = Model::new(role, first);
        // Start bound most of the time, so the interesting rules are reached.
        if !smsc {
            let seq = model.session.bind(BindKind::Transceiver, Bind::default(), 0).unwrap();
            model.session.handle_pdu(
                Pdu::new(seq, Body::BindTransceiverResp(BindResp::default())),
                0,
            );
        } else {
            model.session.handle_pdu(Pdu::new(1, Body::BindTransceiver(Bind::default())), 0);
            model.session.accept_bind(BindResp::default(), 0).unwrap();
        }
        model.drain(false);
        for op in &ops {
            model.apply(op);
        }
        model.session.close();
        model.drain(false);
        prop_assert!(model.unfinished.is_empty(), "never finished: {:?}", model.unfinished);
        prop_assert!(model.session.is_closed());
    }
}
