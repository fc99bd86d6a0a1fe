//! Transcript tests for `protocol::session`: "in this state, at these times, these PDUs
//! arrive → these PDUs leave and these events fire". Time is stepped by the test.
//!
//! PDUs and events are written as short strings (`submit_sm_resp#7 ESME_RINVBNDSTS`,
//! `Response(submit_sm#2: submit_sm_resp)`) so a transcript reads like a capture. Every PDU
//! the session hands out is also encoded and decoded back with the codec, so what leaves is
//! valid on the wire.

use bytes::Bytes;
use smppgate_protocol::codec::{DecodeError, decode, encode_to_bytes};
use smppgate_protocol::command_id::CommandId;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{
    AlertNotification, Bind, BindResp, Body, DataSm, DeliverSm, DeliverSmResp, Outbind, Pdu,
    SubmitSm, SubmitSmResp,
};
use smppgate_protocol::session::{
    BindKind, CloseReason, Event, MAX_SEQUENCE_NUMBER, Role, Session, SessionConfig, SessionError,
    State,
};

// ----- the transcript helper ------------------------------------------------------------

const RESPONSE_TIMEOUT: u64 = 1_000;
const IDLE: u64 = 5_000;
const PING_TIMEOUT: u64 = 500;
const BIND_TIMEOUT: u64 = 2_000;
const UNBIND_TIMEOUT: u64 = 300;

fn config() -> SessionConfig {
    SessionConfig {
        window_size: 4,
        max_owed_responses: 4,
        response_timeout_ms: RESPONSE_TIMEOUT,
        enquire_link_interval_ms: Some(IDLE),
        enquire_link_timeout_ms: PING_TIMEOUT,
        bind_timeout_ms: BIND_TIMEOUT,
        unbind_timeout_ms: UNBIND_TIMEOUT,
        ..SessionConfig::default()
    }
}

struct Transcript {
    session: Session,
    now: u64,
}

impl Transcript {
    fn new(role: Role, config: SessionConfig) -> Self {
        config.validate().unwrap();
        Self {
            session: Session::new(role, config, 0),
            now: 0,
        }
    }

    fn esme() -> Self {
        Self::new(Role::Esme, config())
    }

    fn smsc() -> Self {
        Self::new(Role::Smsc, config())
    }

    /// An ESME bound as `kind` at t=0 (its bind used sequence_number 1); queues drained.
    fn bound_esme(kind: BindKind) -> Self {
        Self::bound_esme_with(kind, config())
    }

    fn bound_esme_with(kind: BindKind, config: SessionConfig) -> Self {
        let mut t = Self::new(Role::Esme, config);
        let seq = t.session.bind(kind, bind("esme"), 0).unwrap();
        t.recv(bind_resp(seq, kind, CommandStatus::ESME_ROK, "SMSC"));
        t.sent();
        assert_eq!(t.events(), [format!("Bound({kind:?}, SMSC)")]);
        t
    }

    /// An SMSC that accepted a bind of `kind` (sequence_number 1) at t=0; queues drained.
    fn bound_smsc(kind: BindKind) -> Self {
        Self::bound_smsc_with(kind, config())
    }

    fn bound_smsc_with(kind: BindKind, config: SessionConfig) -> Self {
        let mut t = Self::new(Role::Smsc, config);
        t.recv(Pdu::new(1, kind.request_body(bind("esme"))));
        assert_eq!(t.events(), [format!("BindRequested({kind:?}, esme)")]);
        t.session.accept_bind(bind_resp_body("SMSC"), 0).unwrap();
        t.sent();
        assert_eq!(t.events(), [format!("Bound({kind:?}, esme)")]);
        t
    }

    /// Steps time to `to`, firing every deadline on the way in order.
    fn at(&mut self, to: u64) -> &mut Self {
        assert!(to >= self.now, "time goes forward");
        while let Some(deadline) = self.session.poll_timeout() {
            if deadline > to {
                break;
            }
            self.now = self.now.max(deadline);
            self.session.handle_timeout(self.now);
        }
        self.now = to;
        self
    }

    fn recv(&mut self, pdu: Pdu) -> &mut Self {
        self.session.handle_pdu(pdu, self.now);
        self
    }

    fn recv_error(&mut self, error: &DecodeError) -> &mut Self {
        self.session.handle_decode_error(error, self.now);
        self
    }

    fn send(&mut self, body: Body) -> u32 {
        self.session.send_request(body, self.now).unwrap()
    }

    fn respond(&mut self, seq: u32, body: Body) {
        self.session
            .respond(seq, CommandStatus::ESME_ROK, body, self.now)
            .unwrap();
    }

    /// Drains `poll_transmit`; each PDU survives encode → decode unchanged.
    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.session.poll_transmit())
            .map(|pdu| {
                let wire = encode_to_bytes(&pdu).unwrap_or_else(|e| panic!("{pdu:?}: {e}"));
                assert_eq!(decode(wire).unwrap(), pdu, "round trip");
                describe_pdu(&pdu)
            })
            .collect()
    }

    fn raw_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    fn events(&mut self) -> Vec<String> {
        self.raw_events().iter().map(describe_event).collect()
    }

    fn quiet(&mut self) {
        assert_eq!(self.sent(), Vec::<String>::new());
        assert_eq!(self.events(), Vec::<String>::new());
    }
}

fn status_name(status: CommandStatus) -> String {
    status
        .name()
        .map_or_else(|| format!("{:#x}", status.0), str::to_string)
}

fn describe_pdu(pdu: &Pdu) -> String {
    let mut text = format!("{}#{}", pdu.command_id(), pdu.sequence_number);
    if !pdu.command_status.is_ok() {
        text = format!("{text} {}", status_name(pdu.command_status));
    }
    text
}

fn text(bytes: &Bytes) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::OutbindReceived { outbind } => {
            format!("OutbindReceived({})", text(&outbind.system_id))
        }
        Event::BindRequested { kind, bind } => {
            format!("BindRequested({kind:?}, {})", text(&bind.system_id))
        }
        Event::Bound { kind, system_id } => format!("Bound({kind:?}, {})", text(system_id)),
        Event::BindFailed { status } => format!("BindFailed({})", status_name(*status)),
        Event::RequestReceived { pdu } => format!("Request({})", describe_pdu(pdu)),
        Event::ResponseReceived {
            sequence_number,
            command_id,
            pdu,
        } => {
            assert_eq!(*sequence_number, pdu.sequence_number);
            let mut text = format!(
                "Response({command_id}#{sequence_number}: {}",
                pdu.command_id()
            );
            if !pdu.command_status.is_ok() {
                text = format!("{text} {}", status_name(pdu.command_status));
            }
            text + ")"
        }
        Event::Throttled {
            sequence_number,
            command_id,
            status,
        } => format!(
            "Throttled({command_id}#{sequence_number} {})",
            status_name(*status)
        ),
        Event::ResponseUndecodable {
            sequence_number,
            command_id,
            ..
        } => format!("Undecodable({command_id}#{sequence_number})"),
        Event::ResponseTimedOut {
            sequence_number,
            command_id,
        } => format!("TimedOut({command_id}#{sequence_number})"),
        Event::RequestAborted {
            sequence_number,
            command_id,
        } => format!("Aborted({command_id}#{sequence_number})"),
        Event::WindowAvailable => "WindowAvailable".into(),
        Event::PeerUnbound => "PeerUnbound".into(),
        Event::Unbound => "Unbound".into(),
        Event::ProtocolViolation(violation) => {
            let command = CommandId::from_u32(violation.command_id).map_or_else(
                || format!("{:#x}", violation.command_id),
                |id| id.to_string(),
            );
            let answered = violation
                .answered
                .map_or_else(|| "none".into(), status_name);
            format!(
                "Violation({:?} {command}#{} -> {answered})",
                violation.kind, violation.sequence_number
            )
        }
        Event::Closed { reason } => format!("Closed({reason:?})"),
        other => format!("{other:?}"),
    }
}

// ----- PDU builders ---------------------------------------------------------------------

fn bind(system_id: &'static str) -> Bind {
    Bind {
        system_id: Bytes::from_static(system_id.as_bytes()),
        password: Bytes::from_static(b"secret"),
        interface_version: 0x34,
        ..Bind::default()
    }
}

fn bind_resp_body(system_id: &'static str) -> BindResp {
    BindResp {
        system_id: Bytes::from_static(system_id.as_bytes()),
        ..BindResp::default()
    }
}

fn bind_resp(seq: u32, kind: BindKind, status: CommandStatus, system_id: &'static str) -> Pdu {
    let body = if status.is_ok() {
        bind_resp_body(system_id)
    } else {
        BindResp::default()
    };
    let body = match kind {
        BindKind::Transmitter => Body::BindTransmitterResp(body),
        BindKind::Receiver => Body::BindReceiverResp(body),
        BindKind::Transceiver => Body::BindTransceiverResp(body),
    };
    Pdu::new(seq, body).with_status(status)
}

fn submit() -> Body {
    Body::SubmitSm(SubmitSm {
        short_message: Bytes::from_static(b"hello"),
        ..SubmitSm::default()
    })
}

fn deliver() -> Body {
    Body::DeliverSm(DeliverSm {
        short_message: Bytes::from_static(b"id:1 stat:DELIVRD"),
        ..DeliverSm::default()
    })
}

/// A request from the peer.
fn req(seq: u32, body: Body) -> Pdu {
    Pdu::new(seq, body)
}

/// A response (empty body) with `status`.
fn resp(seq: u32, command_id: CommandId, status: CommandStatus) -> Pdu {
    Pdu::new(seq, Body::empty(command_id)).with_status(status)
}

fn ok(seq: u32, command_id: CommandId) -> Pdu {
    resp(seq, command_id, CommandStatus::ESME_ROK)
}

fn submit_resp(message_id: &'static str) -> Body {
    Body::SubmitSmResp(SubmitSmResp::new(Bytes::from_static(message_id.as_bytes())))
}

fn deliver_resp() -> Body {
    Body::DeliverSmResp(DeliverSmResp::default())
}

// ----- bind, both roles -----------------------------------------------------------------

#[test]
fn esme_bind_success() {
    let mut t = Transcript::esme();
    assert_eq!(t.session.state(), State::Open);
    assert_eq!(
        t.session.poll_timeout(),
        None,
        "an ESME runs no timer before bind"
    );
    let seq = t
        .session
        .bind(BindKind::Transceiver, bind("esme"), 0)
        .unwrap();
    assert_eq!(t.sent(), ["bind_transceiver#1"]);
    assert_eq!(t.session.state(), State::Binding(BindKind::Transceiver));
    assert_eq!(t.session.poll_timeout(), Some(BIND_TIMEOUT));
    t.at(100).recv(bind_resp(
        seq,
        BindKind::Transceiver,
        CommandStatus::ESME_ROK,
        "SMSC",
    ));
    assert_eq!(t.events(), ["Bound(Transceiver, SMSC)"]);
    assert_eq!(t.session.state(), State::Bound(BindKind::Transceiver));
    assert_eq!(
        t.session.poll_timeout(),
        Some(100 + IDLE),
        "bind timer gone, idle timer on"
    );
    assert!(t.session.window_available());
}

#[test]
fn esme_bind_failure_then_retry_then_timeout() {
    let mut t = Transcript::esme();
    t.session
        .bind(BindKind::Transmitter, bind("esme"), 0)
        .unwrap();
    t.recv(bind_resp(
        1,
        BindKind::Transmitter,
        CommandStatus::ESME_RINVPASWD,
        "",
    ));
    assert_eq!(t.sent(), ["bind_transmitter#1"]);
    assert_eq!(t.events(), ["BindFailed(ESME_RINVPASWD)"]);
    assert_eq!(
        t.session.state(),
        State::Open,
        "a failed bind leaves the session open"
    );
    assert_eq!(t.session.poll_timeout(), None);

    // A generic_nack to the bind is a failure too.
    t.session
        .bind(BindKind::Transceiver, bind("esme"), 10)
        .unwrap();
    t.recv(resp(
        2,
        CommandId::GenericNack,
        CommandStatus::ESME_RINVCMDID,
    ));
    assert_eq!(t.sent(), ["bind_transceiver#2"]);
    assert_eq!(t.events(), ["BindFailed(ESME_RINVCMDID)"]);

    // No answer at all: closed at the bind deadline.
    t.at(1_000);
    t.session
        .bind(BindKind::Receiver, bind("esme"), 1_000)
        .unwrap();
    assert_eq!(t.sent(), ["bind_receiver#3"]);
    t.at(1_000 + BIND_TIMEOUT - 1).quiet();
    t.at(1_000 + BIND_TIMEOUT);
    assert_eq!(t.events(), ["Closed(BindTimeout)"]);
    assert!(t.session.is_closed());
    assert_eq!(t.session.poll_timeout(), None);
}

#[test]
fn esme_bind_is_refused_when_not_open() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    assert_eq!(
        t.session.bind(BindKind::Transmitter, bind("esme"), 0),
        Err(SessionError::InvalidState {
            command_id: CommandId::BindTransmitter,
            state: State::Bound(BindKind::Transmitter)
        })
    );
    let mut smsc = Transcript::smsc();
    assert!(matches!(
        smsc.session.bind(BindKind::Transmitter, bind("x"), 0),
        Err(SessionError::WrongRole { .. })
    ));
    t.quiet();
}

#[test]
fn smsc_accepts_bind_and_serves_requests() {
    let mut t = Transcript::smsc();
    assert_eq!(
        t.session.poll_timeout(),
        Some(BIND_TIMEOUT),
        "session_init_timer"
    );
    t.at(50).recv(req(7, Body::BindTransmitter(bind("esme"))));
    assert_eq!(t.events(), ["BindRequested(Transmitter, esme)"]);
    assert_eq!(t.session.state(), State::Binding(BindKind::Transmitter));
    assert_eq!(
        t.sent(),
        Vec::<String>::new(),
        "nothing until the app decides"
    );
    t.session.accept_bind(bind_resp_body("SMSC"), 60).unwrap();
    assert_eq!(t.sent(), ["bind_transmitter_resp#7"]);
    assert_eq!(t.events(), ["Bound(Transmitter, esme)"]);
    assert_eq!(
        t.session.poll_timeout(),
        Some(60 + IDLE),
        "session_init_timer stopped"
    );

    t.at(100).recv(req(8, Body::EnquireLink));
    assert_eq!(t.sent(), ["enquire_link_resp#8"]);
    assert_eq!(
        t.events(),
        Vec::<String>::new(),
        "enquire_link is answered by the session"
    );
    t.recv(req(9, submit()));
    assert_eq!(t.events(), ["Request(submit_sm#9)"]);
    assert_eq!(t.session.owed(), 1);
    t.respond(9, submit_resp("msg-1"));
    assert_eq!(t.sent(), ["submit_sm_resp#9"]);
    assert_eq!(t.session.owed(), 0);
    assert_eq!(
        t.session
            .respond(9, CommandStatus::ESME_ROK, submit_resp("again"), 100),
        Err(SessionError::NotOwed {
            sequence_number: 9,
            request: CommandId::SubmitSm
        })
    );
    // A response for a request of another type with that number is not owed either.
    assert!(matches!(
        t.session
            .respond(9, CommandStatus::ESME_ROK, deliver_resp(), 100),
        Err(SessionError::NotOwed { .. })
    ));
    assert!(matches!(
        t.session
            .respond(9, CommandStatus::ESME_ROK, Body::GenericNack, 100),
        Err(SessionError::WrongMethod { .. })
    ));
}

#[test]
fn smsc_rejects_bind_then_session_init_closes() {
    let mut t = Transcript::smsc();
    t.recv(req(7, Body::BindTransmitter(bind("esme"))));
    t.events();
    t.session
        .reject_bind(CommandStatus::ESME_RINVPASWD)
        .unwrap();
    assert_eq!(t.sent(), ["bind_transmitter_resp#7 ESME_RINVPASWD"]);
    assert_eq!(t.session.state(), State::Open);
    assert!(
        t.session.accept_bind(bind_resp_body("SMSC"), 0).is_err(),
        "already answered"
    );
    t.recv(req(8, submit()));
    assert_eq!(t.sent(), ["submit_sm_resp#8 ESME_RINVBNDSTS"]);
    t.events();
    t.at(BIND_TIMEOUT - 1).quiet();
    t.at(BIND_TIMEOUT);
    assert_eq!(t.events(), ["Closed(SessionInitTimeout)"]);
}

#[test]
fn smsc_session_init_timeout_without_bind() {
    let mut t = Transcript::smsc();
    t.at(500).recv(req(1, Body::EnquireLink));
    assert_eq!(
        t.sent(),
        ["enquire_link_resp#1"],
        "enquire_link while open is answered"
    );
    t.at(BIND_TIMEOUT - 1).quiet();
    t.at(BIND_TIMEOUT);
    assert_eq!(t.sent(), Vec::<String>::new());
    assert_eq!(t.events(), ["Closed(SessionInitTimeout)"]);
    assert_eq!(t.session.state(), State::Closed);
}

// ----- illegal PDUs per state and role --------------------------------------------------

#[test]
fn esme_answers_illegal_requests_per_state() {
    let mut t = Transcript::esme();
    // Open.
    t.recv(req(5, deliver()));
    t.recv(req(6, Body::EnquireLink));
    t.recv(req(7, Body::Unbind));
    t.recv(req(8, submit()));
    t.recv(req(
        9,
        Body::AlertNotification(AlertNotification::default()),
    ));
    assert_eq!(
        t.sent(),
        [
            "deliver_sm_resp#5 ESME_RINVBNDSTS",
            "enquire_link_resp#6",
            "unbind_resp#7 ESME_RINVBNDSTS",
            "submit_sm_resp#8 ESME_RINVBNDSTS",
            "generic_nack#9 ESME_RINVBNDSTS",
        ]
    );
    assert_eq!(
        t.events(),
        [
            "Violation(InvalidBindState deliver_sm#5 -> ESME_RINVBNDSTS)",
            "Violation(InvalidBindState unbind#7 -> ESME_RINVBNDSTS)",
            "Violation(WrongSender submit_sm#8 -> ESME_RINVBNDSTS)",
            "Violation(InvalidBindState alert_notification#9 -> ESME_RINVBNDSTS)",
        ]
    );
    // Binding.
    t.session
        .bind(BindKind::Transmitter, bind("esme"), 0)
        .unwrap();
    t.recv(req(10, deliver()));
    assert_eq!(
        t.sent(),
        ["bind_transmitter#1", "deliver_sm_resp#10 ESME_RINVBNDSTS"]
    );
    t.recv(bind_resp(
        1,
        BindKind::Transmitter,
        CommandStatus::ESME_ROK,
        "SMSC",
    ));
    t.events();
    // Bound as a transmitter: nothing may be delivered to us.
    t.recv(req(11, deliver()));
    t.recv(req(12, Body::DataSm(DataSm::default())));
    t.recv(req(
        13,
        Body::AlertNotification(AlertNotification::default()),
    ));
    t.recv(req(14, Body::Outbind(Outbind::default())));
    t.recv(req(15, Body::BindTransmitter(bind("x"))));
    assert_eq!(
        t.sent(),
        [
            "deliver_sm_resp#11 ESME_RINVBNDSTS",
            "data_sm_resp#12 ESME_RINVBNDSTS",
            "generic_nack#13 ESME_RINVBNDSTS",
            "generic_nack#14 ESME_RINVBNDSTS",
            "bind_transmitter_resp#15 ESME_RINVBNDSTS",
        ]
    );
    assert_eq!(t.events().len(), 5);
    assert_eq!(
        t.session.state(),
        State::Bound(BindKind::Transmitter),
        "survives"
    );
    assert_eq!(t.session.stats().illegal_requests_answered, 10);

    // Bound as a receiver: the same PDUs are legal.
    let mut t = Transcript::bound_esme(BindKind::Receiver);
    t.recv(req(11, deliver()));
    t.recv(req(12, Body::DataSm(DataSm::default())));
    t.recv(req(
        13,
        Body::AlertNotification(AlertNotification::default()),
    ));
    assert_eq!(t.sent(), Vec::<String>::new());
    assert_eq!(
        t.events(),
        [
            "Request(deliver_sm#11)",
            "Request(data_sm#12)",
            "Request(alert_notification#13)"
        ]
    );
    assert_eq!(
        t.session.owed(),
        2,
        "alert_notification has no response to owe"
    );
}

#[test]
fn smsc_answers_illegal_requests_per_state() {
    let mut t = Transcript::smsc();
    // Open.
    t.recv(req(1, submit()));
    t.recv(req(2, Body::Unbind));
    t.recv(req(3, Body::EnquireLink));
    t.recv(ok(4, CommandId::DeliverSmResp));
    t.recv(req(5, deliver()));
    assert_eq!(
        t.sent(),
        [
            "submit_sm_resp#1 ESME_RINVBNDSTS",
            "unbind_resp#2 ESME_RINVBNDSTS",
            "enquire_link_resp#3",
            "deliver_sm_resp#5 ESME_RINVBNDSTS",
        ]
    );
    assert_eq!(
        t.events(),
        [
            "Violation(InvalidBindState submit_sm#1 -> ESME_RINVBNDSTS)",
            "Violation(InvalidBindState unbind#2 -> ESME_RINVBNDSTS)",
            "Violation(UnknownResponse deliver_sm_resp#4 -> none)",
            "Violation(WrongSender deliver_sm#5 -> ESME_RINVBNDSTS)",
        ]
    );
    // Bind in progress (the app is authenticating): a second bind is refused.
    t.recv(req(6, Body::BindReceiver(bind("esme"))));
    t.recv(req(7, Body::BindTransceiver(bind("esme"))));
    t.recv(req(8, submit()));
    assert_eq!(
        t.sent(),
        [
            "bind_transceiver_resp#7 ESME_RINVBNDSTS",
            "submit_sm_resp#8 ESME_RINVBNDSTS"
        ]
    );
    assert_eq!(t.events()[0], "BindRequested(Receiver, esme)");
    t.session.accept_bind(bind_resp_body("SMSC"), 0).unwrap();
    assert_eq!(t.sent(), ["bind_receiver_resp#6"]);
    t.events();
    // Bound as a receiver: no submissions; a second bind is ESME_RALYBND.
    t.recv(req(9, submit()));
    t.recv(req(10, Body::DataSm(DataSm::default())));
    t.recv(req(11, Body::QuerySm(Default::default())));
    t.recv(req(12, Body::BindReceiver(bind("esme"))));
    assert_eq!(
        t.sent(),
        [
            "submit_sm_resp#9 ESME_RINVBNDSTS",
            "data_sm_resp#10 ESME_RINVBNDSTS",
            "query_sm_resp#11 ESME_RINVBNDSTS",
            "bind_receiver_resp#12 ESME_RALYBND",
        ]
    );
    assert_eq!(
        t.events()[3],
        "Violation(AlreadyBound bind_receiver#12 -> ESME_RALYBND)"
    );
    assert_eq!(t.session.state(), State::Bound(BindKind::Receiver));
    // And the SMSC app may deliver on RX but not submit.
    assert!(t.session.send_request(deliver(), 0).is_ok());
    assert!(matches!(
        t.session.send_request(submit(), 0),
        Err(SessionError::WrongRole {
            role: Role::Smsc,
            ..
        })
    ));

    // Bound as a transmitter: every ESME operation is legal, deliver is not ours to send.
    let roomy = SessionConfig {
        max_owed_responses: 16,
        ..config()
    };
    let mut t = Transcript::bound_smsc_with(BindKind::Transmitter, roomy);
    t.recv(req(2, submit()));
    t.recv(req(3, Body::SubmitMulti(Default::default())));
    t.recv(req(4, Body::QuerySm(Default::default())));
    t.recv(req(5, Body::CancelSm(Default::default())));
    t.recv(req(6, Body::ReplaceSm(Default::default())));
    t.recv(req(7, Body::DataSm(DataSm::default())));
    assert_eq!(t.sent(), Vec::<String>::new());
    assert_eq!(t.events().len(), 6);
    assert!(matches!(
        t.session.send_request(deliver(), 0),
        Err(SessionError::InvalidState { .. })
    ));
    // replace_sm on a transceiver is allowed (as jsmpp does).
    let mut t = Transcript::bound_smsc(BindKind::Transceiver);
    t.recv(req(2, Body::ReplaceSm(Default::default())));
    assert_eq!(t.events(), ["Request(replace_sm#2)"]);
}

#[test]
fn application_requests_in_the_wrong_state_or_role_are_errors() {
    let mut t = Transcript::esme();
    assert_eq!(
        t.session.send_request(submit(), 0),
        Err(SessionError::InvalidState {
            command_id: CommandId::SubmitSm,
            state: State::Open
        })
    );
    let mut t = Transcript::bound_esme(BindKind::Receiver);
    assert!(matches!(
        t.session.send_request(submit(), 0),
        Err(SessionError::InvalidState { .. })
    ));
    assert!(matches!(
        t.session.send_request(deliver(), 0),
        Err(SessionError::WrongRole { .. })
    ));
    assert!(matches!(
        t.session.send_request(Body::Unbind, 0),
        Err(SessionError::WrongMethod {
            method: "unbind",
            ..
        })
    ));
    assert!(matches!(
        t.session.send_request(submit_resp("x"), 0),
        Err(SessionError::WrongMethod {
            method: "respond",
            ..
        })
    ));
    assert!(matches!(
        t.session.send_request(Body::BindReceiver(bind("x")), 0),
        Err(SessionError::WrongMethod { method: "bind", .. })
    ));
    // enquire_link from the application is an ordinary windowed request.
    assert_eq!(t.send(Body::EnquireLink), 2);
    assert_eq!(t.sent(), ["enquire_link#2"]);
    t.quiet();
}

// ----- decode errors --------------------------------------------------------------------

#[test]
fn decode_errors_are_answered_but_responses_never_nacked() {
    let mut t = Transcript::bound_esme(BindKind::Transceiver);
    let seq = t.send(submit());
    t.sent();
    t.recv_error(&DecodeError::UnknownCommandId {
        command_id: 0x111,
        sequence_number: 9,
    });
    t.recv_error(&DecodeError::UnknownCommandId {
        command_id: 0x8000_0111,
        sequence_number: 10,
    });
    t.recv_error(&DecodeError::Truncated {
        command_id: CommandId::DeliverSm.as_u32(),
        sequence_number: 11,
        field: "short_message",
        offset: 40,
    });
    t.recv_error(&DecodeError::Truncated {
        command_id: CommandId::SubmitSmResp.as_u32(),
        sequence_number: seq,
        field: "message_id",
        offset: 16,
    });
    assert_eq!(
        t.sent(),
        [
            "generic_nack#9 ESME_RINVCMDID",
            "deliver_sm_resp#11 ESME_RINVMSGLEN"
        ]
    );
    assert_eq!(
        t.events(),
        [
            "Violation(Undecodable 0x111#9 -> ESME_RINVCMDID)",
            "Violation(Undecodable 0x80000111#10 -> none)",
            "Violation(Undecodable deliver_sm#11 -> ESME_RINVMSGLEN)",
            "Undecodable(submit_sm#2)",
            "Violation(Undecodable submit_sm_resp#2 -> none)",
        ]
    );
    assert_eq!(
        t.session.outstanding(),
        0,
        "the undecodable response finished it"
    );
    assert_eq!(
        t.session.state(),
        State::Bound(BindKind::Transceiver),
        "survives"
    );
    let stats = t.session.stats();
    assert_eq!(
        (
            stats.decode_errors,
            stats.unknown_commands,
            stats.generic_nacks_sent
        ),
        (4, 2, 1)
    );
}

#[test]
fn lost_framing_and_lost_connection_close() {
    use smppgate_protocol::codec::FrameError;
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    t.send(submit());
    t.sent();
    t.session.handle_frame_error(&FrameError::TooLong {
        command_length: 0xF000_0011,
        max_frame: 66_560,
    });
    assert_eq!(t.sent(), ["generic_nack#0 ESME_RINVCMDLEN"]);
    assert_eq!(t.events(), ["Aborted(submit_sm#2)", "Closed(FramingLost)"]);

    let mut t = Transcript::bound_smsc(BindKind::Receiver);
    t.send(deliver());
    t.session.handle_disconnect();
    assert_eq!(
        t.sent(),
        Vec::<String>::new(),
        "nothing to write to a dead connection"
    );
    assert_eq!(
        t.events(),
        ["Aborted(deliver_sm#1)", "Closed(ConnectionLost)"]
    );
}

// ----- sequence numbers -----------------------------------------------------------------

#[test]
fn sequence_numbers_wrap_to_one_and_peer_numbers_are_echoed() {
    let config = SessionConfig {
        first_sequence_number: MAX_SEQUENCE_NUMBER - 1,
        ..config()
    };
    let mut t = Transcript::bound_esme_with(BindKind::Transceiver, config);
    assert_eq!(t.send(submit()), MAX_SEQUENCE_NUMBER);
    assert_eq!(t.send(submit()), 1, "0x7FFFFFFF wraps to 1, never 0");
    assert_eq!(t.send(submit()), 2);
    assert_eq!(
        t.sent(),
        ["submit_sm#2147483647", "submit_sm#1", "submit_sm#2"]
    );
    t.recv(ok(1, CommandId::SubmitSmResp));
    t.recv(ok(MAX_SEQUENCE_NUMBER, CommandId::SubmitSmResp));
    assert_eq!(
        t.events(),
        [
            "Response(submit_sm#1: submit_sm_resp)",
            "Response(submit_sm#2147483647: submit_sm_resp)"
        ],
        "responses out of order are matched"
    );

    // Whatever the peer uses (0, above 0x7FFFFFFF) is accepted and echoed.
    t.recv(req(0, Body::EnquireLink));
    t.recv(req(0x8000_0001, deliver()));
    assert_eq!(t.events(), ["Request(deliver_sm#2147483649)"]);
    t.respond(0x8000_0001, deliver_resp());
    assert_eq!(
        t.sent(),
        ["enquire_link_resp#0", "deliver_sm_resp#2147483649"]
    );
}

// ----- the window -----------------------------------------------------------------------

#[test]
fn full_window_hands_the_body_back_until_a_response_frees_it() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    for expected in 2..=5 {
        assert_eq!(t.send(submit()), expected);
    }
    assert!(!t.session.window_available());
    let refused = t.session.send_request(submit(), 0);
    assert_eq!(refused, Err(SessionError::WindowFull(Box::new(submit()))));
    assert_eq!(t.sent().len(), 4, "the refused request was not queued");
    assert_eq!(t.session.outstanding(), 4);
    t.at(10).recv(ok(3, CommandId::SubmitSmResp));
    assert_eq!(
        t.events(),
        ["Response(submit_sm#3: submit_sm_resp)", "WindowAvailable"]
    );
    assert!(t.session.window_available());
    assert_eq!(t.send(submit()), 6);
    assert!(!t.session.window_available());
    // A timeout frees the window too.
    t.at(RESPONSE_TIMEOUT);
    assert_eq!(
        t.events(),
        [
            "TimedOut(submit_sm#2)",
            "TimedOut(submit_sm#4)",
            "TimedOut(submit_sm#5)",
            "WindowAvailable"
        ]
    );
    assert_eq!(t.session.outstanding(), 1);
}

#[test]
fn response_right_after_the_request_is_matched() {
    // Register before write: the response can arrive before the driver even wrote the PDU.
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    let seq = t.send(submit());
    t.recv(Pdu::new(seq, submit_resp("abc")));
    assert_eq!(t.events(), ["Response(submit_sm#2: submit_sm_resp)"]);
    assert_eq!(t.sent(), ["submit_sm#2"]);
    let seq = t.send(submit());
    assert_eq!(t.sent(), ["submit_sm#3"]);
    t.recv(Pdu::new(seq, submit_resp("def")));
    let events = t.raw_events();
    let [Event::ResponseReceived { pdu, .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(pdu.body, submit_resp("def"));
    assert_eq!(t.session.stats().unknown_responses, 0);
}

#[test]
fn responses_match_by_sequence_number_and_command() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    t.recv(ok(42, CommandId::SubmitSmResp));
    let seq = t.send(Body::EnquireLink);
    t.sent();
    t.recv(ok(seq, CommandId::SubmitSmResp));
    assert_eq!(
        t.events(),
        [
            "Violation(UnknownResponse submit_sm_resp#42 -> none)",
            "Violation(UnknownResponse submit_sm_resp#2 -> none)",
        ]
    );
    assert_eq!(t.session.outstanding(), 1, "the enquire_link still waits");
    // generic_nack matches whatever request had the number.
    t.recv(resp(
        seq,
        CommandId::GenericNack,
        CommandStatus::ESME_RINVCMDID,
    ));
    assert_eq!(
        t.events(),
        ["Response(enquire_link#2: generic_nack ESME_RINVCMDID)"]
    );
    assert_eq!(
        t.sent(),
        Vec::<String>::new(),
        "responses are never answered"
    );
    let stats = t.session.stats();
    assert_eq!(
        (stats.unknown_responses, stats.generic_nacks_received),
        (2, 1)
    );
    assert_eq!(t.session.state(), State::Bound(BindKind::Transmitter));
}

#[test]
fn response_timeout_then_late_response_is_unknown() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    t.at(100);
    let seq = t.send(submit());
    t.sent();
    assert_eq!(t.session.poll_timeout(), Some(100 + RESPONSE_TIMEOUT));
    t.at(100 + RESPONSE_TIMEOUT - 1).quiet();
    t.at(100 + RESPONSE_TIMEOUT);
    assert_eq!(t.events(), ["TimedOut(submit_sm#2)"]);
    t.at(1_500).recv(ok(seq, CommandId::SubmitSmResp));
    assert_eq!(
        t.events(),
        ["Violation(UnknownResponse submit_sm_resp#2 -> none)"]
    );
    assert_eq!(t.sent(), Vec::<String>::new());
    let stats = t.session.stats();
    assert_eq!((stats.response_timeouts, stats.unknown_responses), (1, 1));
}

#[test]
fn throttled_statuses_have_their_own_event() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    let (a, b, c) = (t.send(submit()), t.send(submit()), t.send(submit()));
    t.sent();
    t.recv(resp(
        a,
        CommandId::SubmitSmResp,
        CommandStatus::ESME_RTHROTTLED,
    ));
    t.recv(resp(
        b,
        CommandId::SubmitSmResp,
        CommandStatus::ESME_RMSGQFUL,
    ));
    t.recv(resp(
        c,
        CommandId::SubmitSmResp,
        CommandStatus::ESME_RSUBMITFAIL,
    ));
    assert_eq!(
        t.events(),
        [
            "Throttled(submit_sm#2 ESME_RTHROTTLED)",
            "Throttled(submit_sm#3 ESME_RMSGQFUL)",
            "Response(submit_sm#4: submit_sm_resp ESME_RSUBMITFAIL)",
        ]
    );
    assert_eq!(t.session.stats().throttled, 2);
}

#[test]
fn peer_overrunning_our_owed_limit_is_refused() {
    let mut t = Transcript::bound_esme(BindKind::Receiver);
    for seq in 1..=5 {
        t.recv(req(seq, deliver()));
    }
    assert_eq!(t.sent(), ["deliver_sm_resp#5 ESME_RX_T_APPN"]);
    assert_eq!(t.events().len(), 4);
    let mut t = Transcript::bound_smsc(BindKind::Transmitter);
    for seq in 2..=6 {
        t.recv(req(seq, submit()));
    }
    assert_eq!(t.sent(), ["submit_sm_resp#6 ESME_RTHROTTLED"]);
    assert_eq!(t.session.stats().peer_window_overruns, 1);
}

// ----- keep-alive -----------------------------------------------------------------------

#[test]
fn enquire_link_after_idle_and_dead_peer() {
    let mut t = Transcript::bound_esme(BindKind::Transceiver);
    assert_eq!(t.session.poll_timeout(), Some(IDLE));
    // Traffic resets the idle timer.
    t.at(3_000).recv(req(5, deliver()));
    t.events();
    t.respond(5, deliver_resp());
    t.sent();
    t.at(IDLE).quiet();
    t.at(3_000 + IDLE);
    assert_eq!(t.sent(), ["enquire_link#2"]);
    assert_eq!(t.session.poll_timeout(), Some(3_000 + IDLE + PING_TIMEOUT));
    // Answered: quiet again until the next idle period from the answer.
    t.at(8_100).recv(ok(2, CommandId::EnquireLinkResp));
    t.quiet();
    t.at(8_100 + IDLE);
    assert_eq!(t.sent(), ["enquire_link#3"]);
    // The enquire_link goes out even with a full window (it has its own slot).
    for _ in 0..4 {
        t.send(submit());
    }
    assert!(!t.session.window_available());
    t.sent();
    // Not answered in time: the peer is dead; the outstanding requests are reported.
    t.at(8_100 + IDLE + PING_TIMEOUT - 1).quiet();
    t.at(8_100 + IDLE + PING_TIMEOUT);
    assert_eq!(
        t.events(),
        [
            "Aborted(submit_sm#4)",
            "Aborted(submit_sm#5)",
            "Aborted(submit_sm#6)",
            "Aborted(submit_sm#7)",
            "Closed(PeerDead)",
        ]
    );
    let stats = t.session.stats();
    assert_eq!((stats.enquire_links_sent, stats.requests_aborted), (2, 4));
}

#[test]
fn idle_timer_counts_from_the_last_pdu_received() {
    let mut t = Transcript::bound_smsc(BindKind::Receiver);
    for expected in 1..=4 {
        assert_eq!(t.send(deliver()), expected);
    }
    t.sent();
    // Answer all but one late, keeping the session busy receiving.
    for seq in 1..=3 {
        t.at(400).recv(ok(seq, CommandId::DeliverSmResp));
    }
    assert_eq!(t.events().len(), 4, "three responses and WindowAvailable");
    t.at(400 + IDLE);
    assert_eq!(t.sent(), ["enquire_link#5"]);
    assert_eq!(
        t.events(),
        ["TimedOut(deliver_sm#4)"],
        "timed out at 1000 on the way"
    );
}

// ----- unbind ---------------------------------------------------------------------------

#[test]
fn unbind_waits_for_outstanding_responses() {
    let mut t = Transcript::bound_esme(BindKind::Transceiver);
    t.send(submit());
    t.send(submit());
    assert_eq!(t.sent(), ["submit_sm#2", "submit_sm#3"]);
    t.at(100).session.unbind(100).unwrap();
    assert_eq!(t.session.state(), State::Unbinding);
    assert_eq!(t.sent(), Vec::<String>::new(), "responses first");
    assert_eq!(
        t.session.send_request(submit(), 100),
        Err(SessionError::Unbinding {
            command_id: CommandId::SubmitSm
        })
    );
    // The peer delivers meanwhile: we owe that answer too before unbinding.
    t.recv(req(9, deliver()));
    t.recv(ok(2, CommandId::SubmitSmResp));
    t.recv(ok(3, CommandId::SubmitSmResp));
    assert_eq!(t.sent(), Vec::<String>::new());
    t.respond(9, deliver_resp());
    assert_eq!(t.sent(), ["deliver_sm_resp#9", "unbind#4"]);
    assert_eq!(
        t.events(),
        [
            "Request(deliver_sm#9)",
            "Response(submit_sm#2: submit_sm_resp)",
            "Response(submit_sm#3: submit_sm_resp)",
        ]
    );
    // Crossing traffic after our unbind is refused.
    t.recv(req(10, deliver()));
    assert_eq!(t.sent(), ["deliver_sm_resp#10 ESME_RINVBNDSTS"]);
    t.events();
    t.recv(ok(4, CommandId::UnbindResp));
    assert_eq!(t.events(), ["Unbound", "Closed(Unbound)"]);
    assert!(t.session.is_closed());
}

#[test]
fn unbind_deadlines() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    t.send(submit());
    t.sent();
    t.session.unbind(0).unwrap();
    t.session.unbind(0).unwrap();
    t.at(UNBIND_TIMEOUT - 1).quiet();
    t.at(UNBIND_TIMEOUT);
    assert_eq!(t.sent(), ["unbind#3"], "sent anyway at the drain deadline");
    t.at(2 * UNBIND_TIMEOUT);
    assert_eq!(
        t.events(),
        ["Aborted(submit_sm#2)", "Closed(UnbindTimeout)"]
    );
}

#[test]
fn peer_unbind_flushes_owed_responses_first() {
    let mut t = Transcript::bound_esme(BindKind::Receiver);
    let ping = t.send(Body::EnquireLink);
    t.recv(req(5, deliver()));
    t.recv(req(6, deliver()));
    t.recv(req(7, Body::Unbind));
    assert_eq!(t.sent(), ["enquire_link#2"]);
    assert_eq!(
        t.events(),
        [
            "Request(deliver_sm#5)",
            "Request(deliver_sm#6)",
            "PeerUnbound"
        ]
    );
    assert_eq!(t.session.state(), State::Unbinding);
    assert!(matches!(
        t.session.send_request(Body::EnquireLink, 0),
        Err(SessionError::Unbinding { .. })
    ));
    t.recv(req(8, deliver()));
    assert_eq!(t.sent(), ["deliver_sm_resp#8 ESME_RINVBNDSTS"]);
    t.events();
    t.respond(5, deliver_resp());
    assert_eq!(t.sent(), ["deliver_sm_resp#5"]);
    t.respond(6, deliver_resp());
    assert_eq!(t.sent(), ["deliver_sm_resp#6", "unbind_resp#7"]);
    assert_eq!(
        t.events(),
        [
            format!("Aborted(enquire_link#{ping})"),
            "Closed(PeerUnbound)".into()
        ]
    );
}

#[test]
fn peer_unbind_deadline_sends_unbind_resp_anyway() {
    let mut t = Transcript::bound_smsc(BindKind::Transmitter);
    t.recv(req(5, submit()));
    t.at(10).recv(req(6, Body::Unbind));
    assert_eq!(t.events(), ["Request(submit_sm#5)", "PeerUnbound"]);
    t.at(10 + UNBIND_TIMEOUT);
    assert_eq!(t.sent(), ["unbind_resp#6"]);
    assert_eq!(t.events(), ["Closed(PeerUnbound)"]);
    assert_eq!(t.session.stats().responses_abandoned, 1);
    assert_eq!(
        t.session
            .respond(5, CommandStatus::ESME_ROK, submit_resp("late"), 400),
        Err(SessionError::Closed)
    );
}

#[test]
fn peer_unbind_with_nothing_owed_is_answered_at_once() {
    let mut t = Transcript::bound_smsc(BindKind::Transceiver);
    t.recv(req(2, Body::Unbind));
    assert_eq!(t.sent(), ["unbind_resp#2"]);
    assert_eq!(t.events(), ["PeerUnbound", "Closed(PeerUnbound)"]);
}

#[test]
fn crossing_unbinds() {
    let mut t = Transcript::bound_esme(BindKind::Transceiver);
    t.session.unbind(0).unwrap();
    assert_eq!(t.sent(), ["unbind#2"]);
    t.recv(req(9, Body::Unbind));
    assert_eq!(t.sent(), ["unbind_resp#9"]);
    assert_eq!(t.events(), ["PeerUnbound", "Closed(PeerUnbound)"]);
}

#[test]
fn inactivity_timer_unbinds() {
    let config = SessionConfig {
        inactivity_timeout_ms: Some(3_000),
        ..config()
    };
    let mut t = Transcript::bound_smsc_with(BindKind::Transmitter, config);
    t.at(1_000).recv(req(2, submit()));
    t.events();
    t.respond(2, submit_resp("m"));
    t.at(3_500).recv(req(3, Body::EnquireLink));
    t.at(3_999);
    assert_eq!(t.sent(), ["submit_sm_resp#2", "enquire_link_resp#3"]);
    t.at(4_000);
    assert_eq!(t.sent(), ["unbind#1"], "enquire_link is not a transaction");
    t.recv(ok(1, CommandId::UnbindResp));
    assert_eq!(t.events(), ["Unbound", "Closed(Unbound)"]);
}

#[test]
fn close_reports_outstanding_requests_and_ignores_the_rest() {
    let mut t = Transcript::bound_esme(BindKind::Transmitter);
    t.send(submit());
    t.send(Body::QuerySm(Default::default()));
    t.sent();
    t.session.close();
    assert_eq!(
        t.events(),
        [
            "Aborted(submit_sm#2)",
            "Aborted(query_sm#3)",
            "Closed(Requested)"
        ]
    );
    t.recv(ok(2, CommandId::SubmitSmResp));
    t.recv(req(9, Body::EnquireLink));
    t.quiet();
    assert_eq!(t.session.stats().received_after_close, 2);
    assert_eq!(
        t.session.send_request(submit(), 0),
        Err(SessionError::Closed)
    );
    assert_eq!(t.session.unbind(0), Err(SessionError::Closed));
    assert_eq!(t.session.poll_timeout(), None);
    t.session.close();
    t.quiet();
}

// ----- outbind --------------------------------------------------------------------------

#[test]
fn outbind_smsc_side() {
    let mut t = Transcript::smsc();
    let outbind = Outbind {
        system_id: Bytes::from_static(b"SMSC"),
        password: Bytes::from_static(b"pw"),
    };
    assert_eq!(t.session.outbind(outbind.clone(), 0).unwrap(), 1);
    assert_eq!(t.sent(), ["outbind#1"]);
    assert_eq!(t.session.state(), State::Outbound);
    assert!(t.session.outbind(outbind, 0).is_err());
    t.at(100).recv(req(1, Body::BindTransmitter(bind("esme"))));
    assert_eq!(t.sent(), ["bind_transmitter_resp#1 ESME_RINVBNDSTS"]);
    t.events();
    t.recv(req(2, Body::BindReceiver(bind("esme"))));
    assert_eq!(t.events(), ["BindRequested(Receiver, esme)"]);
    t.session.accept_bind(bind_resp_body("SMSC"), 100).unwrap();
    assert_eq!(t.sent(), ["bind_receiver_resp#2"]);
    assert_eq!(t.events(), ["Bound(Receiver, esme)"]);
    assert_eq!(t.send(deliver()), 2);
}

#[test]
fn outbind_esme_side() {
    let mut t = Transcript::esme();
    t.recv(req(
        1,
        Body::Outbind(Outbind {
            system_id: Bytes::from_static(b"SMSC"),
            password: Bytes::from_static(b"pw"),
        }),
    ));
    assert_eq!(t.events(), ["OutbindReceived(SMSC)"]);
    assert_eq!(t.sent(), Vec::<String>::new(), "outbind has no response");
    assert_eq!(t.session.state(), State::Outbound);
    assert!(matches!(
        t.session.bind(BindKind::Transmitter, bind("esme"), 0),
        Err(SessionError::InvalidState { .. })
    ));
    t.session.bind(BindKind::Receiver, bind("esme"), 0).unwrap();
    assert_eq!(t.sent(), ["bind_receiver#1"]);
    t.recv(bind_resp(
        1,
        BindKind::Receiver,
        CommandStatus::ESME_ROK,
        "SMSC",
    ));
    assert_eq!(t.events(), ["Bound(Receiver, SMSC)"]);
    // A second outbind once bound is refused.
    t.recv(req(2, Body::Outbind(Outbind::default())));
    assert_eq!(t.sent(), ["generic_nack#2 ESME_RINVBNDSTS"]);
}

#[test]
fn outbind_without_bind_closes_at_session_init() {
    let mut t = Transcript::esme();
    t.at(100).recv(req(1, Body::Outbind(Outbind::default())));
    t.events();
    t.at(100 + BIND_TIMEOUT);
    assert_eq!(t.events(), ["Closed(SessionInitTimeout)"]);
}

// ----- both roles, wired together -------------------------------------------------------

/// Moves every PDU `from` wants to send into `to`, through the codec.
fn pipe(from: &mut Session, to: &mut Session, now: u64) -> usize {
    let mut moved = 0;
    while let Some(pdu) = from.poll_transmit() {
        let wire = encode_to_bytes(&pdu).unwrap();
        match decode(wire) {
            Ok(pdu) => to.handle_pdu(pdu, now),
            Err(error) => to.handle_decode_error(&error, now),
        }
        moved += 1;
    }
    moved
}

#[test]
fn esme_and_smsc_sessions_talk_to_each_other() {
    let mut esme = Session::new(Role::Esme, config(), 0);
    let mut smsc = Session::new(Role::Smsc, config(), 0);
    let events =
        |s: &mut Session| -> Vec<Event> { std::iter::from_fn(|| s.poll_event()).collect() };

    esme.bind(BindKind::Transceiver, bind("esme"), 0).unwrap();
    pipe(&mut esme, &mut smsc, 1);
    assert!(matches!(
        events(&mut smsc)[..],
        [Event::BindRequested { .. }]
    ));
    smsc.accept_bind(bind_resp_body("SMSC"), 1).unwrap();
    assert!(matches!(events(&mut smsc)[..], [Event::Bound { .. }]));
    pipe(&mut smsc, &mut esme, 2);
    assert!(matches!(events(&mut esme)[..], [Event::Bound { .. }]));

    let submitted = esme.send_request(submit(), 3).unwrap();
    pipe(&mut esme, &mut smsc, 3);
    let got = events(&mut smsc);
    let [Event::RequestReceived { pdu }] = &got[..] else {
        panic!("{got:?}")
    };
    smsc.respond(
        pdu.sequence_number,
        CommandStatus::ESME_ROK,
        submit_resp("m-1"),
        4,
    )
    .unwrap();
    let delivered = smsc.send_request(deliver(), 4).unwrap();
    pipe(&mut smsc, &mut esme, 5);
    let got = events(&mut esme);
    assert!(matches!(
        &got[..],
        [
            Event::ResponseReceived { sequence_number, .. },
            Event::RequestReceived { pdu },
        ] if *sequence_number == submitted && pdu.sequence_number == delivered
    ));
    esme.respond(delivered, CommandStatus::ESME_ROK, deliver_resp(), 6)
        .unwrap();
    esme.unbind(6).unwrap();
    pipe(&mut esme, &mut smsc, 7);
    assert!(matches!(
        events(&mut smsc)[..],
        [
            Event::ResponseReceived { .. },
            Event::PeerUnbound,
            Event::Closed {
                reason: CloseReason::PeerUnbound
            }
        ]
    ));
    pipe(&mut smsc, &mut esme, 8);
    assert!(matches!(
        events(&mut esme)[..],
        [
            Event::Unbound,
            Event::Closed {
                reason: CloseReason::Unbound
            }
        ]
    ));
    assert_eq!(esme.stats().pdus_sent, smsc.stats().pdus_received);
    assert_eq!(smsc.stats().pdus_sent, esme.stats().pdus_received);
}
