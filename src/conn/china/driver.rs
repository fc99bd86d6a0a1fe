//! The connection task of a CMPP/SMGP link: socket ⇄ [`Session`] ⇄ the pool's SMPP-shaped
//! [`Link`] and [`Inbound`].
//!
//! Bounded like the SMPP driver: requests are taken from the link's channel only while
//! the session's window has room and less than [`HIGH_WATER`] octets wait to be written;
//! the socket is read only while that output is under [`HARD_LIMIT`], no DELIVER is
//! waiting for room in the inbound channel, and fewer than [`MAX_UNANSWERED`] DELIVERs
//! wait for the gateway's answer. A carrier that sends faster than the gateway keeps is
//! held back by its own window, never by a growing queue here. Writing is a branch of
//! the same `select!`, so a carrier that does not read never stops us reading.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate_protocol::china::session::{CloseReason as ChinaClose, Event, Session, SessionConfig};
use smppgate_protocol::command_id::CommandId as SmppCommand;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, MessageIdResp, Pdu as SmppPdu};
use smppgate_protocol::session::CloseReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{Delivered, Wire, login_timestamp};
use crate::conn::error::RequestError;
use crate::conn::link::{Answer, Control, Reply, Request, Responder};
use crate::conn::{InboundRequest, Link, LinkState, Response};
use crate::esme::{ConnectError, Inbound};

/// Unwritten output past which no new request is taken.
const HIGH_WATER: usize = 256 * 1024;
/// Unwritten output past which the socket is not read either.
const HARD_LIMIT: usize = 1024 * 1024;
/// DELIVERs handed to the gateway and not answered yet, at most.
const MAX_UNANSWERED: usize = 1024;
/// DELIVERs waiting in the inbound channel, at most.
const INBOUND_CAPACITY: usize = 64;
/// How long a closing link may take to write its last packets.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// TCP connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the login ended.
enum Login {
    Ok,
    Refused(u32),
    Closed(CloseReason),
}

/// Connects, logs in, and hands back the link once logged in.
pub(super) async fn connect<W: Wire>(
    addr: &str,
    wire: W,
    config: SessionConfig,
) -> Result<(Link, Inbound), ConnectError> {
    let connect_error = |cause| ConnectError::Connect {
        addr: addr.to_owned(),
        cause,
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| connect_error(std::io::ErrorKind::TimedOut.into()))?
        .map_err(connect_error)?;
    tcp.set_nodelay(true).map_err(connect_error)?;
    let window = config.window.max(1);
    let (requests_tx, requests) = mpsc::channel(window.clamp(1, 4096));
    let (control_tx, control) = mpsc::channel(4);
    let (state, state_rx) = watch::channel(LinkState::Opening);
    let link = Link {
        requests: requests_tx,
        control: control_tx,
        state: state_rx,
    };
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_CAPACITY);
    let (answers_tx, answers) = mpsc::channel(MAX_UNANSWERED);
    let (login_tx, login_rx) = oneshot::channel();
    let mut session = Session::new(wire.dialect(), config);
    // The session's clock starts at 0 now; the login cannot be refused in state Idle.
    let _ = session.login(0, login_timestamp());
    let (reader, writer) = tcp.into_split();
    let task = Task {
        name: wire.name(),
        addr: addr.to_owned(),
        wire,
        session,
        origin: Instant::now(),
        reader,
        writer,
        input: BytesMut::with_capacity(8192),
        out: BytesMut::new(),
        probe: BytesMut::new(),
        pending: HashMap::new(),
        delivers: HashMap::new(),
        held: None,
        inbound: inbound_tx,
        answers_tx,
        answers,
        requests,
        control,
        state,
        login: Some(login_tx),
        window,
        lost: false,
        closed: None,
    };
    tokio::spawn(task.run());
    match login_rx.await {
        Ok(Login::Ok) => Ok((link, Inbound::from_receiver(inbound_rx))),
        Ok(Login::Refused(status)) => Err(ConnectError::BindRefused {
            addr: addr.to_owned(),
            status: CommandStatus(status),
        }),
        Ok(Login::Closed(reason)) => Err(ConnectError::Closed {
            addr: addr.to_owned(),
            reason,
        }),
        Err(_) => Err(ConnectError::Closed {
            addr: addr.to_owned(),
            reason: CloseReason::ConnectionLost,
        }),
    }
}

/// What woke the task.
enum Wake {
    Written(std::io::Result<usize>),
    Read(std::io::Result<usize>),
    Room(Option<mpsc::OwnedPermit<InboundRequest>>),
    Answer(Answer),
    Request(Option<Request>),
    Control(Option<Control>),
    Timer,
}

struct Task<W: Wire> {
    name: &'static str,
    addr: String,
    wire: W,
    session: Session<W::Dialect>,
    origin: Instant,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    input: BytesMut,
    out: BytesMut,
    /// Where a SUBMIT is encoded once before it enters the window (reused).
    probe: BytesMut,
    /// Our requests in the window: Sequence_Id → where the answer goes.
    pending: HashMap<u32, Reply>,
    /// DELIVERs handed on and not answered: Sequence_Id → the id DELIVER_RESP echoes.
    delivers: HashMap<u32, W::MsgId>,
    /// A DELIVER waiting for room in the inbound channel.
    held: Option<InboundRequest>,
    inbound: mpsc::Sender<InboundRequest>,
    answers_tx: mpsc::Sender<Answer>,
    answers: mpsc::Receiver<Answer>,
    requests: mpsc::Receiver<Request>,
    control: mpsc::Receiver<Control>,
    state: watch::Sender<LinkState>,
    login: Option<oneshot::Sender<Login>>,
    /// Most requests in flight.
    window: usize,
    /// The socket failed (read EOF or error, write error).
    lost: bool,
    /// Why the session closed, once it has.
    closed: Option<CloseReason>,
}

impl<W: Wire> Task<W> {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(mut self) {
        let mut requests_open = true;
        let mut control_open = true;
        // One timer, moved when the session's next deadline moves (a fresh timer per
        // wake-up would be registered and dropped for every packet).
        let sleep = tokio::time::sleep_until(self.origin);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            self.drain();
            if self.closed.is_some() {
                break;
            }
            let timeout = self
                .session
                .poll_timeout()
                .map(|ms| self.origin + Duration::from_millis(ms));
            if timeout != armed {
                if let Some(at) = timeout {
                    sleep.as_mut().reset(at);
                }
                armed = timeout;
            }
            let connected = matches!(
                self.session.state(),
                smppgate_protocol::china::session::State::Connected
            );
            let can_request = requests_open
                && connected
                && self.pending.len() < self.window
                && self.out.len() < HIGH_WATER;
            let can_read = self.held.is_none()
                && self.delivers.len() < MAX_UNANSWERED
                && self.out.len() < HARD_LIMIT;
            let wake = tokio::select! {
                written = self.writer.write_buf(&mut self.out), if !self.out.is_empty() => Wake::Written(written),
                read = self.reader.read_buf(&mut self.input), if can_read => Wake::Read(read),
                permit = self.inbound.clone().reserve_owned(), if self.held.is_some() => Wake::Room(permit.ok()),
                Some(answer) = self.answers.recv() => Wake::Answer(answer),
                request = self.requests.recv(), if can_request => Wake::Request(request),
                control = self.control.recv(), if control_open => Wake::Control(control),
                () = &mut sleep, if armed.is_some() => Wake::Timer,
            };
            match wake {
                Wake::Written(Ok(_)) => {}
                Wake::Written(Err(error)) => {
                    tracing::info!(carrier = %self.addr, protocol = self.name, %error, "write failed");
                    self.connection_lost();
                }
                // The carrier closed the connection, or we close it at once.
                Wake::Read(Ok(0)) | Wake::Control(Some(Control::Close)) => self.connection_lost(),
                Wake::Read(Ok(_)) => self.read_frames(),
                Wake::Read(Err(error)) => {
                    tracing::info!(carrier = %self.addr, protocol = self.name, %error, "read failed");
                    self.connection_lost();
                }
                Wake::Room(Some(permit)) => {
                    if let Some(request) = self.held.take() {
                        permit.send(request);
                    }
                }
                // Nobody reads the inbound stream any more: end the link.
                Wake::Room(None) => {
                    self.held = None;
                    self.terminate();
                }
                Wake::Answer(answer) => self.answer(answer),
                Wake::Request(Some(request)) => {
                    self.request(request);
                    // Everything else already waiting and fitting the window goes in the
                    // same write (one syscall for a burst, as the SMPP driver does).
                    while self.pending.len() < self.window && self.out.len() < HIGH_WATER {
                        let Ok(request) = self.requests.try_recv() else {
                            break;
                        };
                        self.request(request);
                        self.drain();
                    }
                }
                Wake::Request(None) => {
                    // Every handle is gone: end the session.
                    requests_open = false;
                    self.terminate();
                }
                Wake::Control(Some(Control::Unbind)) => self.terminate(),
                Wake::Control(None) => control_open = false,
                Wake::Timer => {
                    // Re-armed on the next turn, even for the same deadline.
                    armed = None;
                    let now = self.now();
                    self.session.handle_timeout(now);
                }
            }
        }
        self.finish().await;
    }

    fn terminate(&mut self) {
        // Terminating already: wait for its answer (a second terminate would close at
        // once); closed: nothing to do.
        if !matches!(
            self.session.state(),
            smppgate_protocol::china::session::State::Terminating { .. }
                | smppgate_protocol::china::session::State::Closed
        ) {
            self.session.terminate(self.now());
        }
    }

    fn connection_lost(&mut self) {
        self.lost = true;
        // The session has no "socket gone" input: a frame error closes it the same way.
        self.session.handle_frame_error();
    }

    fn read_frames(&mut self) {
        loop {
            match self.wire.decode(&mut self.input) {
                Ok(None) => return,
                Ok(Some(Ok(pdu))) => {
                    let now = self.now();
                    self.session.handle_pdu(now, pdu);
                }
                Ok(Some(Err(error))) => {
                    tracing::warn!(carrier = %self.addr, protocol = self.name, %error, "undecodable packet dropped");
                    let now = self.now();
                    self.session.handle_decode_error(now);
                }
                Err(error) => {
                    tracing::warn!(carrier = %self.addr, protocol = self.name, %error, "stream cannot be framed; closing");
                    self.session.handle_frame_error();
                    return;
                }
            }
        }
    }

    /// A submit_sm from the pool.
    fn request(&mut self, request: Request) {
        let Request { body, reply } = request;
        if reply.is_closed() {
            return;
        }
        let Body::SubmitSm(submit_sm) = &body else {
            // The pool sends submit_sm only; anything else has no translation.
            reply.send(Ok(response(0, CommandStatus::ESME_RINVCMDID, Bytes::new())));
            return;
        };
        let pdu = match self.wire.submit(submit_sm) {
            Ok(pdu) => pdu,
            Err(status) => {
                tracing::debug!(carrier = %self.addr, protocol = self.name, %status, "submit_sm cannot be said in this protocol");
                reply.send(Ok(response(0, status, Bytes::new())));
                return;
            }
        };
        // Checked before it enters the window: a packet that cannot be written is
        // answered, never sent half.
        self.probe.clear();
        if let Err(error) = self.wire.encode(&pdu, &mut self.probe) {
            tracing::debug!(carrier = %self.addr, protocol = self.name, %error, "SUBMIT cannot be encoded");
            reply.send(Ok(response(
                0,
                CommandStatus::ESME_RINVPARLEN,
                Bytes::new(),
            )));
            return;
        }
        let now = self.now();
        match self.session.send_request(now, pdu) {
            Ok(sequence) => {
                self.pending.insert(sequence, reply);
            }
            Err(error) => {
                // Not connected any more: never sent, the pool sends it elsewhere.
                tracing::debug!(carrier = %self.addr, protocol = self.name, %error, "request refused by the session");
                reply.send(Err(RequestError::Closed));
            }
        }
    }

    /// The gateway answered a deliver_sm: DELIVER_RESP.
    fn answer(&mut self, answer: Answer) {
        let Some(msg_id) = self.delivers.remove(&answer.sequence_number) else {
            return;
        };
        let result = if answer.status.is_ok() {
            0
        } else {
            self.wire.retry_later()
        };
        self.session.respond(answer.sequence_number, msg_id, result);
    }

    /// Moves what the session produced: packets to the output buffer, events to their
    /// owners.
    fn drain(&mut self) {
        // Events can queue packets (a refused DELIVER is answered at once): go round
        // until both queues are empty.
        loop {
            while let Some(pdu) = self.session.poll_transmit() {
                if let Err(error) = self.wire.encode(&pdu, &mut self.out) {
                    // Our own packets (login, heartbeat, answers, checked submits) always
                    // fit; if one does not, the link is broken.
                    tracing::error!(carrier = %self.addr, protocol = self.name, %error, "cannot encode {pdu:?}");
                    self.session.handle_frame_error();
                }
            }
            let Some(event) = self.session.poll_event() else {
                return;
            };
            self.event(event);
        }
    }

    fn event(&mut self, event: Event<W::Pdu, W::Command>) {
        match event {
            Event::Connected { version } => {
                tracing::info!(carrier = %self.addr, protocol = self.name, version, "logged in");
                self.state.send_replace(LinkState::Bound);
                if let Some(login) = self.login.take() {
                    let _ = login.send(Login::Ok);
                }
            }
            Event::Response { sequence_id, pdu } => {
                if let Some(reply) = self.pending.remove(&sequence_id) {
                    let (status, message_id) = self.wire.submit_resp(&pdu);
                    reply.send(Ok(response(sequence_id, status, message_id)));
                }
            }
            Event::TimedOut { sequence_id, .. } => {
                if let Some(reply) = self.pending.remove(&sequence_id) {
                    let closed = matches!(
                        self.session.state(),
                        smppgate_protocol::china::session::State::Closed
                    );
                    reply.send(Err(if closed {
                        RequestError::Aborted {
                            sequence_number: sequence_id,
                            reason: Some(CloseReason::ConnectionLost),
                        }
                    } else {
                        RequestError::Timeout {
                            sequence_number: sequence_id,
                        }
                    }));
                }
            }
            Event::Deliver(pdu) => self.deliver(&pdu),
            Event::Unexpected(pdu) => {
                tracing::debug!(carrier = %self.addr, protocol = self.name, ?pdu, "unexpected packet");
            }
            Event::Closed(reason) => {
                let smpp = self.close_reason(reason);
                match reason {
                    ChinaClose::LoginRefused { status } => {
                        tracing::warn!(carrier = %self.addr, protocol = self.name, status, "login refused");
                        if let Some(login) = self.login.take() {
                            let refused = self.wire.login_refused(status);
                            let _ = login.send(Login::Refused(refused.0));
                        }
                    }
                    ChinaClose::BadIsmgAuthenticator => {
                        tracing::error!(
                            carrier = %self.addr, protocol = self.name,
                            "the gateway's login answer does not prove it knows the shared \
                             secret (wrong secret, or not the carrier): refused"
                        );
                        if let Some(login) = self.login.take() {
                            let _ = login.send(Login::Refused(CommandStatus::ESME_RBINDFAIL.0));
                        }
                    }
                    _ => {
                        tracing::info!(carrier = %self.addr, protocol = self.name, ?reason, "session closed");
                    }
                }
                if let Some(login) = self.login.take() {
                    let _ = login.send(Login::Closed(smpp));
                }
                self.closed = Some(smpp);
            }
        }
    }

    fn close_reason(&self, reason: ChinaClose) -> CloseReason {
        if self.lost {
            return CloseReason::ConnectionLost;
        }
        match reason {
            ChinaClose::LoginRefused { .. } | ChinaClose::BadIsmgAuthenticator => {
                CloseReason::Requested
            }
            ChinaClose::LoginTimedOut => CloseReason::BindTimeout,
            ChinaClose::HeartbeatLost => CloseReason::PeerDead,
            ChinaClose::PeerTerminated => CloseReason::PeerUnbound,
            ChinaClose::Terminated => CloseReason::Unbound,
            ChinaClose::ProtocolError => CloseReason::FramingLost,
        }
    }

    fn deliver(&mut self, pdu: &W::Pdu) {
        let sequence = <W::Dialect as smppgate_protocol::china::session::Dialect>::sequence_of(pdu);
        match self.wire.deliver(pdu) {
            Delivered::Request { deliver_sm, msg_id } => {
                if self.delivers.insert(sequence, msg_id).is_some() {
                    // The carrier reused a Sequence_Id of a DELIVER we hold: the later
                    // one is what its answer will be for.
                    tracing::debug!(carrier = %self.addr, protocol = self.name, sequence, "DELIVER sequence reused");
                }
                let request = InboundRequest {
                    pdu: SmppPdu::new(sequence, Body::DeliverSm(*deliver_sm)),
                    responder: Some(Responder {
                        request: SmppCommand::DeliverSm,
                        answers: self.answers_tx.clone(),
                    }),
                };
                match self.inbound.try_send(request) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(request)) => self.held = Some(request),
                    Err(mpsc::error::TrySendError::Closed(request)) => {
                        // Nobody keeps it: let the carrier send it again later.
                        drop(request);
                    }
                }
            }
            Delivered::Refuse {
                msg_id,
                result,
                why,
            } => {
                tracing::warn!(carrier = %self.addr, protocol = self.name, %why, result, "DELIVER refused");
                self.session.respond(sequence, msg_id, result);
            }
        }
    }

    /// After the session closed: requests still waiting fail, the last packets go out
    /// (bounded), the socket is shut.
    async fn finish(mut self) {
        self.drain();
        for (sequence_number, reply) in self.pending.drain() {
            reply.send(Err(RequestError::Aborted {
                sequence_number,
                reason: self.closed,
            }));
        }
        let reason = self.closed.unwrap_or(CloseReason::ConnectionLost);
        self.state.send_replace(LinkState::Closed(reason));
        if !self.lost && !self.out.is_empty() {
            let _ = tokio::time::timeout(FLUSH_GRACE, self.writer.write_all(&self.out)).await;
        }
        let _ = self.writer.shutdown().await;
        // Requests still in the channel are dropped with it: their callers see Closed.
    }
}

/// A submit_sm_resp with `status` and `message_id`.
fn response(sequence_number: u32, status: CommandStatus, message_id: Bytes) -> Response {
    Response {
        pdu: SmppPdu {
            sequence_number,
            command_status: status,
            body: Body::SubmitSmResp(MessageIdResp {
                message_id,
                ..MessageIdResp::default()
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use smppgate_protocol::cmpp::ismg::{Action, Ismg, IsmgConfig};
    use smppgate_protocol::cmpp::{Body as Cmpp, Deliver, FrameDecoder, Pdu, Version, encode};
    use smppgate_protocol::command_status::CommandStatus;
    use smppgate_protocol::pdu::{Body, SubmitSm};
    use smppgate_protocol::types::Address;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::super::cmpp::CmppWire;
    use super::super::{SubmitSettings, session_config};
    use crate::config::{CarrierConfig, CarrierProtocol};

    /// The ISMG end of a test: our codec over a socket.
    struct Peer {
        stream: TcpStream,
        decoder: FrameDecoder,
        input: BytesMut,
    }

    impl Peer {
        async fn next(&mut self) -> Pdu {
            loop {
                if let Some(pdu) = self.decoder.decode(&mut self.input).expect("framing") {
                    return pdu.expect("decodes");
                }
                let read = self.stream.read_buf(&mut self.input).await.expect("read");
                assert!(read > 0, "the link closed");
            }
        }

        async fn send(&mut self, pdu: &Pdu) {
            let mut out = BytesMut::new();
            encode(pdu, Version::V3, &mut out).unwrap();
            self.stream.write_all(&out).await.unwrap();
        }
    }

    fn carrier() -> CarrierConfig {
        let mut carrier = CarrierConfig::smpp_defaults();
        carrier.protocol = CarrierProtocol::Cmpp3;
        carrier.system_id = "900001".to_owned();
        carrier.password = "888888".to_owned();
        carrier
    }

    /// Logs the link in on a scripted ISMG; returns the link, its inbound stream and the
    /// ISMG's end.
    async fn logged_in() -> (crate::conn::Link, crate::esme::Inbound, Peer) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let config = carrier();
        let connecting = tokio::spawn(async move {
            super::connect(
                &addr,
                CmppWire::new(Version::V3, SubmitSettings::from_config(&config)),
                session_config(&config),
            )
            .await
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = Peer {
            stream,
            decoder: FrameDecoder::new(Version::V3),
            input: BytesMut::new(),
        };
        let mut ismg = Ismg::new(IsmgConfig {
            version: Version::V3,
            accounts: vec![(Bytes::from_static(b"900001"), Bytes::from_static(b"888888"))],
            gateway_id: 1,
            window: 16,
            response_timeout_ms: 60_000,
            max_tries: 1,
        });
        let connect = peer.next().await;
        let mut actions = Vec::new();
        ismg.handle(connect, &crate::sim::utc_now(), 0, &mut actions);
        for action in actions {
            if let Action::Send(pdu) = action {
                peer.send(&pdu).await;
            }
        }
        let (link, inbound) = connecting.await.unwrap().expect("logged in");
        (link, inbound, peer)
    }

    #[tokio::test]
    async fn a_deliver_is_answered_only_when_the_gateway_answers_it() {
        let (_link, mut inbound, mut peer) = logged_in().await;
        // An MO, then an ACTIVE_TEST: the link answers the heartbeat at once, the MO only
        // when the gateway has kept it — so the ACTIVE_TEST_RESP comes first.
        let mo = Deliver {
            msg_id: 77,
            dest_id: Bytes::from_static(b"10690001"),
            service_id: Bytes::new(),
            tp_pid: 0,
            tp_udhi: 0,
            msg_fmt: 0,
            src_terminal_id: Bytes::from_static(b"13800138000"),
            src_terminal_type: 0,
            registered_delivery: 0,
            msg_content: Bytes::from_static(b"TD"),
            link_id: Bytes::new(),
            reserve: Bytes::new(),
        };
        peer.send(&Pdu {
            sequence_id: 5,
            body: Cmpp::Deliver(mo),
        })
        .await;
        peer.send(&Pdu {
            sequence_id: 6,
            body: Cmpp::ActiveTest,
        })
        .await;
        let request = inbound.recv().await.expect("the MO");
        let Body::DeliverSm(sm) = &request.pdu.body else {
            panic!("{request:?}")
        };
        assert_eq!(&sm.short_message[..], b"TD");
        assert_eq!(&sm.source_addr.addr[..], b"13800138000");
        let first = peer.next().await;
        assert_eq!(
            (first.sequence_id, first.body.command_id()),
            (6, smppgate_protocol::cmpp::CommandId::ActiveTestResp)
        );
        request.respond(CommandStatus::ESME_ROK, None).await;
        let second = peer.next().await;
        assert_eq!(second.sequence_id, 5);
        let Cmpp::DeliverResp(resp) = second.body else {
            panic!("{second:?}")
        };
        assert_eq!((resp.msg_id, resp.result), (77, 0));
    }

    #[tokio::test]
    async fn a_submit_gets_the_msg_id_and_a_lost_connection_aborts_the_rest() {
        let (link, _inbound, mut peer) = logged_in().await;
        let submit = SubmitSm {
            source_addr: Address::international("10690001"),
            destination_addr: Address::international("13800138000"),
            short_message: Bytes::from_static(b"hi"),
            ..SubmitSm::default()
        };
        let first = link.try_request(Body::SubmitSm(submit.clone())).unwrap();
        let second = link.try_request(Body::SubmitSm(submit)).unwrap();
        let a = peer.next().await;
        let b = peer.next().await;
        assert!(matches!(a.body, Cmpp::Submit(_)) && matches!(b.body, Cmpp::Submit(_)));
        peer.send(&Pdu {
            sequence_id: a.sequence_id,
            body: Cmpp::SubmitResp(smppgate_protocol::cmpp::SubmitResp {
                msg_id: 12_878_564_852_733_378_560,
                result: 0,
            }),
        })
        .await;
        let response = first.await.unwrap().unwrap();
        assert!(response.is_ok());
        assert_eq!(
            response.message_id().unwrap(),
            &Bytes::from_static(b"12878564852733378560")
        );
        // The carrier goes away with the second SUBMIT unanswered: aborted (the pool
        // sends it again elsewhere), and the link is closed.
        drop(peer);
        let lost = second.await.unwrap();
        assert!(
            matches!(lost, Err(crate::conn::RequestError::Aborted { .. })),
            "{lost:?}"
        );
        assert_eq!(
            link.closed().await,
            smppgate_protocol::session::CloseReason::ConnectionLost
        );
    }

    #[tokio::test]
    async fn hostile_bytes_from_the_carrier_close_the_link_and_a_bad_report_is_refused() {
        let (link, mut inbound, mut peer) = logged_in().await;
        // A status report whose content is cut: answered Result 1 at once, never handed
        // to the gateway.
        let cut = Deliver {
            msg_id: 9,
            dest_id: Bytes::from_static(b"10690001"),
            service_id: Bytes::new(),
            tp_pid: 0,
            tp_udhi: 0,
            msg_fmt: 0,
            src_terminal_id: Bytes::from_static(b"13800138000"),
            src_terminal_type: 0,
            registered_delivery: 1,
            msg_content: Bytes::from_static(&[0; 20]),
            link_id: Bytes::new(),
            reserve: Bytes::new(),
        };
        peer.send(&Pdu {
            sequence_id: 3,
            body: Cmpp::Deliver(cut),
        })
        .await;
        let answer = peer.next().await;
        let Cmpp::DeliverResp(resp) = answer.body else {
            panic!("{answer:?}")
        };
        assert_eq!((answer.sequence_id, resp.msg_id, resp.result), (3, 9, 1));
        assert!(inbound.try_recv().is_none());
        // A Total_Length below the header: the stream cannot be framed, the link closes.
        peer.stream
            .write_all(&[0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 1])
            .await
            .unwrap();
        assert_eq!(
            link.closed().await,
            smppgate_protocol::session::CloseReason::FramingLost
        );
        assert!(inbound.recv().await.is_none(), "the inbound stream ends");
    }
}
