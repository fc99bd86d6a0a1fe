//! The SGIP report listener: where China Unicom's SMG connects back (Bind LoginType 2) to
//! send Reports and MO (Deliver). One listener per SGIP carrier (`report_listen`), started
//! and stopped with the carrier's pool.
//!
//! Each connection drives an [`Acceptor`] that checks the Bind (LoginType 2,
//! `report_system_id`/`report_password`, by default the carrier's `system_id`/`password`).
//! A Report becomes a deliver_sm receipt (id the Submit's triple, as its submit_sm_resp
//! said), a Deliver an MO deliver_sm; both go to the carrier's inbound path as an
//! [`InboundRequest`], and the Report_Resp / Deliver_Resp is sent only when the gateway
//! answered it (after its commit): Result 0, or 11 (node busy: the SMG sends it again)
//! when it could not keep it.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections (more are closed at once), at most
//! [`MAX_UNANSWERED`] unanswered requests per connection (one more is answered Result 11
//! at once by the acceptor), one request waiting for room in the carrier's inbound
//! channel per connection (the socket is not read meanwhile).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate_protocol::command_id::CommandId as SmppCommand;
use smppgate_protocol::pdu::{Body as SmppBody, Pdu as SmppPdu};
use smppgate_protocol::sgip::session::{Acceptor, AcceptorConfig, Event, Now, Role};
use smppgate_protocol::sgip::{Body, FrameDecoder, RESULT_NODE_BUSY, Sequence, encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::login_timestamp;
use super::sgip::{receipt, receipt_date};
use super::translate;
use crate::config::CarrierConfig;
use crate::conn::InboundRequest;
use crate::conn::link::{Answer, Responder};
use crate::esme::Inbound;
use crate::shutdown::ShutdownSignal;

/// SMG connections at once, at most.
pub(crate) const MAX_CONNECTIONS: usize = 16;
/// Requests handed to the gateway and not answered, per connection.
pub(crate) const MAX_UNANSWERED: usize = 256;
/// Requests waiting for the carrier task, all connections together.
const INBOUND_CAPACITY: usize = 64;
/// Unwritten output past which the socket is not read.
const HARD_LIMIT: usize = 1024 * 1024;
/// A bound connection silent this long is unbound (the SMG should have released it).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a stopping connection may take to unbind and write its last packets.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Binds `report_listen` and starts accepting; the requests arrive on the returned
/// stream, which ends when `stop` fires and every connection is closed.
///
/// # Errors
/// The address cannot be bound (in use, not this host's).
pub(crate) async fn listen(
    config: &CarrierConfig,
    stop: ShutdownSignal,
) -> std::io::Result<(SocketAddr, Inbound)> {
    let addr = config.report_listen.as_deref().unwrap_or("127.0.0.1:0");
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let name = config
        .report_system_id
        .clone()
        .unwrap_or_else(|| config.system_id.clone());
    let password = config
        .report_password
        .clone()
        .unwrap_or_else(|| config.password.clone());
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    let acceptor = AcceptorConfig {
        peer: Role::Smg,
        node_id: config.node_id.unwrap_or(0),
        accounts: vec![(Bytes::from(name), Bytes::from(password))],
        max_unanswered: MAX_UNANSWERED,
        response_timeout_ms: millis(config.response_timeout),
        idle_timeout_ms: millis(IDLE_TIMEOUT),
    };
    let sp_number = Bytes::copy_from_slice(config.src_id.as_bytes());
    let (tx, rx) = mpsc::channel(INBOUND_CAPACITY);
    let carrier = config.name.clone();
    tracing::info!(carrier = %carrier, listen = %local, "SGIP report listener started");
    tokio::spawn(accept_loop(
        listener, carrier, acceptor, sp_number, tx, stop,
    ));
    Ok((local, Inbound::from_receiver(rx)))
}

async fn accept_loop(
    listener: TcpListener,
    carrier: String,
    acceptor: AcceptorConfig,
    sp_number: Bytes,
    inbound: mpsc::Sender<InboundRequest>,
    mut stop: ShutdownSignal,
) {
    let mut links = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(carrier = %carrier, "SGIP report listener: accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                while links.try_join_next().is_some() {}
                if links.len() >= MAX_CONNECTIONS {
                    tracing::warn!(carrier = %carrier, %peer, "SGIP report connection closed: {MAX_CONNECTIONS} open already");
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let connection = Connection {
                    carrier: carrier.clone(),
                    peer,
                    sp_number: sp_number.clone(),
                    origin: Instant::now(),
                    session: Acceptor::new(acceptor.clone(), 0),
                    decoder: FrameDecoder::default(),
                    input: BytesMut::with_capacity(8192),
                    out: BytesMut::new(),
                    asked: HashMap::new(),
                    next_id: 0,
                    held: None,
                    inbound: inbound.clone(),
                    closed: false,
                };
                links.spawn(connection.run(stream, stop.clone()));
            }
            () = stop.wait() => break,
        }
    }
    drop(listener);
    while links.join_next().await.is_some() {}
}

struct Connection {
    carrier: String,
    peer: SocketAddr,
    sp_number: Bytes,
    origin: Instant,
    session: Acceptor,
    decoder: FrameDecoder,
    input: BytesMut,
    out: BytesMut,
    /// Handed to the gateway, not answered: our id → the SGIP sequence.
    asked: HashMap<u32, Sequence>,
    next_id: u32,
    /// A request waiting for room in the inbound channel.
    held: Option<InboundRequest>,
    inbound: mpsc::Sender<InboundRequest>,
    closed: bool,
}

impl Connection {
    fn now(&self) -> Now {
        Now::new(
            u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX),
            login_timestamp(),
        )
    }

    async fn run(mut self, stream: TcpStream, mut stop: ShutdownSignal) {
        let (mut reader, mut writer) = stream.into_split();
        let (answers_tx, mut answers) = mpsc::channel::<Answer>(MAX_UNANSWERED);
        let sleep = tokio::time::sleep_until(self.origin);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        let mut stopping: Option<Instant> = None;
        let mut lost = false;
        loop {
            self.drain(&answers_tx);
            if self.closed {
                break;
            }
            let timeout = self
                .session
                .poll_timeout()
                .map(|ms| self.origin + Duration::from_millis(ms));
            let timeout = match (timeout, stopping) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if timeout != armed {
                if let Some(at) = timeout {
                    sleep.as_mut().reset(at);
                }
                armed = timeout;
            }
            let can_read = self.held.is_none() && self.out.len() < HARD_LIMIT;
            tokio::select! {
                written = writer.write_buf(&mut self.out), if !self.out.is_empty() => {
                    if written.is_err() {
                        lost = true;
                        self.session.handle_frame_error();
                    }
                }
                read = reader.read_buf(&mut self.input), if can_read => match read {
                    Ok(0) | Err(_) => {
                        lost = true;
                        self.session.handle_frame_error();
                    }
                    Ok(_) => self.read_frames(),
                },
                permit = self.inbound.clone().reserve_owned(), if self.held.is_some() => match permit {
                    Ok(permit) => {
                        if let Some(request) = self.held.take() {
                            permit.send(request);
                        }
                    }
                    // The carrier stopped reading: unanswered, the SMG sends it again.
                    Err(_) => {
                        self.held = None;
                        let now = self.now();
                        self.session.unbind(now);
                    }
                },
                Some(answer) = answers.recv() => {
                    if let Some(sequence) = self.asked.remove(&answer.sequence_number) {
                        let result = if answer.status.is_ok() { 0 } else { RESULT_NODE_BUSY };
                        let _ = self.session.respond(sequence, result);
                    }
                }
                () = stop.wait(), if stopping.is_none() => {
                    stopping = Some(Instant::now() + STOP_GRACE);
                    let now = self.now();
                    self.session.unbind(now);
                }
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    if stopping.is_some_and(|at| Instant::now() >= at) {
                        break;
                    }
                    let now = self.now();
                    self.session.handle_timeout(now);
                }
            }
        }
        if !lost && !self.out.is_empty() {
            let _ = tokio::time::timeout(STOP_GRACE, writer.write_all(&self.out)).await;
        }
        let _ = writer.shutdown().await;
        tracing::debug!(carrier = %self.carrier, peer = %self.peer, "SGIP report connection closed");
    }

    fn read_frames(&mut self) {
        loop {
            match self.decoder.decode(&mut self.input) {
                Ok(None) => return,
                Ok(Some(Ok(pdu))) => {
                    let now = self.now();
                    self.session.handle_pdu(now, pdu);
                }
                Ok(Some(Err(error))) => {
                    tracing::warn!(carrier = %self.carrier, peer = %self.peer, %error, "undecodable SGIP packet");
                    let now = self.now();
                    self.session.handle_decode_error(now, &error);
                }
                Err(error) => {
                    tracing::warn!(carrier = %self.carrier, peer = %self.peer, %error, "SGIP stream cannot be framed; closing");
                    self.session.handle_frame_error();
                    return;
                }
            }
        }
    }

    fn drain(&mut self, answers: &mpsc::Sender<Answer>) {
        loop {
            while let Some(pdu) = self.session.poll_transmit() {
                if let Err(error) = encode(&pdu, &mut self.out) {
                    tracing::error!(carrier = %self.carrier, %error, "cannot encode {pdu:?}");
                    self.session.handle_frame_error();
                }
            }
            let Some(event) = self.session.poll_event() else {
                return;
            };
            match event {
                Event::Bound { login_name } => {
                    tracing::info!(carrier = %self.carrier, peer = %self.peer, login = %String::from_utf8_lossy(&login_name), "SGIP report link bound");
                }
                Event::Request(pdu) => self.request(pdu.sequence, pdu.body, answers),
                Event::Closed(reason) => {
                    if matches!(
                        reason,
                        smppgate_protocol::sgip::session::CloseReason::BindRefused { .. }
                    ) {
                        tracing::warn!(carrier = %self.carrier, peer = %self.peer, ?reason, "SGIP report link Bind refused");
                    }
                    self.closed = true;
                }
                other => {
                    tracing::debug!(carrier = %self.carrier, peer = %self.peer, ?other, "SGIP report link");
                }
            }
        }
    }

    /// A Report or Deliver: to the gateway as a deliver_sm.
    fn request(&mut self, sequence: Sequence, body: Body, answers: &mpsc::Sender<Answer>) {
        let deliver_sm = match &body {
            Body::Report(report) => receipt(report, &self.sp_number, &receipt_date()),
            Body::Deliver(deliver) => translate::mo(
                &deliver.user_number,
                &deliver.sp_number,
                deliver.tp_pid,
                deliver.tp_udhi & 1 == 1,
                deliver.message_coding,
                &deliver.message_content,
            ),
            _ => return,
        };
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        self.asked.insert(id, sequence);
        let request = InboundRequest {
            pdu: SmppPdu::new(id, SmppBody::DeliverSm(deliver_sm)),
            responder: Some(Responder {
                request: SmppCommand::DeliverSm,
                answers: answers.clone(),
            }),
        };
        // Closed: the carrier is stopping; the dropped request is answered node busy and
        // the SMG sends it again later.
        if let Err(mpsc::error::TrySendError::Full(request)) = self.inbound.try_send(request) {
            self.held = Some(request);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use smppgate_protocol::command_status::CommandStatus;
    use smppgate_protocol::pdu::Body as SmppBody;
    use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
    use smppgate_protocol::sgip::{Bind, Body, FrameDecoder, Pdu, Report, Sequence, encode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::config::{CarrierConfig, CarrierProtocol};
    use crate::shutdown::Shutdown;

    struct Smg {
        stream: TcpStream,
        decoder: FrameDecoder,
        input: BytesMut,
        counter: u32,
    }

    impl Smg {
        async fn send(&mut self, body: Body) -> Sequence {
            self.counter += 1;
            let sequence = Sequence {
                node_id: 2_000,
                time: 1_206_112_233,
                counter: self.counter,
            };
            let mut out = BytesMut::new();
            encode(&Pdu { sequence, body }, &mut out).unwrap();
            self.stream.write_all(&out).await.unwrap();
            sequence
        }

        async fn next(&mut self) -> Option<Pdu> {
            loop {
                if let Some(pdu) = self.decoder.decode(&mut self.input).expect("framing") {
                    return Some(pdu.expect("decodes"));
                }
                let read = self.stream.read_buf(&mut self.input).await.ok()?;
                if read == 0 {
                    return None;
                }
            }
        }
    }

    async fn smg(
        addr: std::net::SocketAddr,
        name: &'static [u8],
        password: &'static [u8],
    ) -> (Smg, u8) {
        let mut smg = Smg {
            stream: TcpStream::connect(addr).await.unwrap(),
            decoder: FrameDecoder::default(),
            input: BytesMut::new(),
            counter: 0,
        };
        smg.send(Body::Bind(Bind {
            login_type: 2,
            login_name: Bytes::from_static(name),
            login_password: Bytes::from_static(password),
            reserve: Bytes::new(),
        }))
        .await;
        let Some(Pdu {
            body: Body::BindResp(resp),
            ..
        }) = smg.next().await
        else {
            panic!("no Bind_Resp")
        };
        (smg, resp.result)
    }

    fn report(counter: u32) -> Body {
        Body::Report(Report {
            submit_sequence: Sequence {
                node_id: 3_020_012_345,
                time: 1_206_112_233,
                counter,
            },
            report_type: 0,
            user_number: Bytes::from_static(b"13000000000"),
            state: 0,
            error_code: 0,
            reserve: Bytes::new(),
        })
    }

    #[tokio::test]
    async fn a_report_is_answered_only_after_the_gateway_answers_and_a_refusal_is_node_busy() {
        let mut config = CarrierConfig::smpp_defaults();
        config.name = "cu".to_owned();
        config.protocol = CarrierProtocol::Sgip;
        config.system_id = "sp01".to_owned();
        config.password = "secret".to_owned();
        config.node_id = Some(3_020_012_345);
        config.report_listen = Some("127.0.0.1:0".to_owned());
        let stop = Shutdown::new();
        let (addr, mut inbound) = super::listen(&config, stop.signal()).await.unwrap();

        // Wrong password: Bind_Resp 1 and the connection closes.
        let (mut wrong, result) = smg(addr, b"sp01", b"nope").await;
        assert_eq!(result, 1);
        assert!(wrong.next().await.is_none(), "closed after a refused Bind");

        // The report credentials default to the SP's.
        let (mut smg, result) = smg(addr, b"sp01", b"secret").await;
        assert_eq!(result, 0);
        let first = smg.send(report(7)).await;
        let request = inbound.recv().await.expect("the receipt");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).unwrap();
        assert_eq!(receipt.id(), Some("3020012345-1206112233-7"));
        assert_eq!(receipt.state(), Some(MessageState::Delivered));
        assert!(matches!(request.pdu.body, SmppBody::DeliverSm(_)));
        // Not answered yet: a second Report is handed on, and no Report_Resp came first.
        let second = smg.send(report(8)).await;
        let refused = inbound.recv().await.expect("the second receipt");
        refused.respond(CommandStatus::ESME_RX_T_APPN, None).await;
        let answer = smg.next().await.unwrap();
        assert_eq!(answer.sequence, second);
        assert!(
            matches!(answer.body, Body::ReportResp(ref r) if r.result == 11),
            "{answer:?}"
        );
        request.respond(CommandStatus::ESME_ROK, None).await;
        let answer = smg.next().await.unwrap();
        assert_eq!(answer.sequence, first);
        assert!(
            matches!(answer.body, Body::ReportResp(ref r) if r.result == 0),
            "{answer:?}"
        );

        // Stopping unbinds the SMG's connection and ends the stream.
        stop.trigger();
        let unbind = smg.next().await.unwrap();
        assert!(matches!(unbind.body, Body::Unbind), "{unbind:?}");
        drop(smg);
        assert!(inbound.recv().await.is_none());
    }
}
