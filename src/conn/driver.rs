//! The connection task: socket ↔ [`Session`], one task per connection.
//!
//! Per wake-up the task: handles one input (a read with all its complete frames, a batch
//! of application requests, an answer, a timer), drains the session's events (dispatching
//! them to waiting requests, the application, or the role's `Hooks`), encodes every PDU
//! the session wants sent into one buffer, and writes it (one `write` call per wake-up when
//! the socket takes it all). A write the socket cannot take yet stays pending as one arm of
//! the task's `select!`, so reading goes on meanwhile (responses keep being drained); only
//! past `write_hard_limit` octets of unwritten output does reading stop.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use smppgate_protocol::codec::{DEFAULT_MAX_FRAME, FrameDecoder, encode};
use smppgate_protocol::command_id::CommandId;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, BindResp, Body, Pdu};
use smppgate_protocol::session::{
    BindKind, CloseReason, Event, Session, SessionConfig, SessionStats, Violation,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::RequestError;
use super::link::{
    Answer, Control, InboundRequest, Link, LinkState, Reply, Request, Responder, Response,
    empty_response,
};
use crate::shutdown::ShutdownSignal;

/// Most answers taken in one wake-up before the task writes and looks at its other inputs.
const MAX_ANSWERS_PER_WAKE: usize = 1024;

/// Settings of one connection besides the session's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnConfig {
    /// Window, timers (all in ms).
    pub session: SessionConfig,
    /// Set TCP_NODELAY (on by default: SMPP is request/response, Nagle only adds delay).
    pub nodelay: bool,
    /// Largest accepted command_length.
    pub max_frame: usize,
    /// Unwritten output above which no new application request is taken.
    pub write_high_water: usize,
    /// Unwritten output above which the socket is not read any more (the peer is not
    /// reading what we send; its requests would only make more output).
    pub write_hard_limit: usize,
    /// How many requests from the peer may wait for the application (ESME inbound).
    pub inbound_capacity: usize,
    /// How long closing may take to flush the last PDUs to a peer that does not read.
    pub flush_timeout: Duration,
}

impl Default for ConnConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            nodelay: true,
            max_frame: DEFAULT_MAX_FRAME,
            write_high_water: 256 * 1024,
            write_hard_limit: 4 * 1024 * 1024,
            inbound_capacity: 1024,
            flush_timeout: Duration::from_secs(2),
        }
    }
}

/// How a role handles a request from the peer.
// Returned and consumed at once, once per request: boxing `Answer` would allocate per PDU.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Handling {
    /// Answer now.
    Answer(CommandStatus, Body),
    /// Answer when this resolves.
    Later(BoxFuture<'static, (CommandStatus, Body)>),
    /// Hand it to the application's inbound channel (it answers through its responder,
    /// or the connection answers `ESME_ROK` once it is handed over when `auto`).
    Forward {
        /// Answer `ESME_ROK` on hand-over.
        auto: bool,
    },
    /// Never answer it, nor anything after it: the session is muted
    /// ([`Session::mute`]), enquire_link and unbind included, and the socket stays open.
    Silence,
}

/// What differs between the ESME and the SMSC side.
pub(crate) trait Hooks: Send + 'static {
    /// SMSC: authenticate a bind.
    fn bind_requested(&mut self, _kind: BindKind, _bind: &Bind) -> Result<BindResp, CommandStatus> {
        Err(CommandStatus::ESME_RINVCMDID)
    }
    /// The session is bound.
    fn bound(&mut self, _kind: BindKind, _system_id: &Bytes) {}
    /// ESME: the bind was refused.
    fn bind_failed(&mut self, _status: CommandStatus) {}
    /// A request from the peer.
    fn request(&mut self, pdu: &Pdu) -> Handling;
    /// The peer broke a rule.
    fn violation(&mut self, _violation: &Violation) {}
    /// The session closed (called once, last).
    fn closed(&mut self, _reason: CloseReason, _stats: &SessionStats) {}
}

/// The channels a connection task is built with; [`Channels::link`] is the handle.
pub(crate) struct Channels {
    requests: mpsc::Receiver<Request>,
    control: mpsc::Receiver<Control>,
    state: watch::Sender<LinkState>,
    link: Link,
}

impl Channels {
    pub(crate) fn new(window: usize) -> Self {
        let (requests_tx, requests) = mpsc::channel(window.clamp(1, 4096));
        let (control_tx, control) = mpsc::channel(4);
        let (state, state_rx) = watch::channel(LinkState::Opening);
        Self {
            requests,
            control,
            state,
            link: Link {
                requests: requests_tx,
                control: control_tx,
                state: state_rx,
            },
        }
    }

    pub(crate) fn link(&self) -> Link {
        self.link.clone()
    }
}

/// Everything a connection task is made of besides the transport.
pub(crate) struct Setup<H> {
    /// The session, fresh (an ESME's bind already queued).
    pub(crate) session: Session,
    /// Time 0 of the session's clock.
    pub(crate) origin: Instant,
    /// The channels; the caller keeps their [`Link`].
    pub(crate) channels: Channels,
    /// ESME: where requests from the peer go.
    pub(crate) inbound: Option<mpsc::Sender<InboundRequest>>,
    /// The role's behaviour.
    pub(crate) hooks: H,
    /// Unbind when this fires.
    pub(crate) shutdown: ShutdownSignal,
}

/// Starts the connection task on an already set-up transport.
pub(crate) fn spawn<R, W, H>(
    reader: R,
    writer: W,
    config: &ConnConfig,
    setup: Setup<H>,
) -> JoinHandle<CloseReason>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    H: Hooks,
{
    let Setup {
        session,
        origin,
        channels,
        inbound,
        hooks,
        shutdown,
    } = setup;
    let (answers_tx, answers) = mpsc::channel(config.session.max_owed_responses.clamp(1, 4096));
    let Channels {
        requests,
        control,
        state,
        link,
    } = channels;
    drop(link);
    let driver = Driver {
        session,
        origin,
        reader,
        in_buf: BytesMut::with_capacity(64 * 1024),
        frames: FrameDecoder::new(config.max_frame),
        out: BytesMut::with_capacity(64 * 1024),
        writer,
        writing: Bytes::new(),
        flushed: true,
        writer_alive: true,
        requests,
        requests_open: true,
        control,
        control_open: true,
        answers,
        answers_tx,
        later: FuturesUnordered::new(),
        pending: HashMap::with_capacity(config.session.window_size.min(1 << 16)),
        inbound,
        stalled: VecDeque::new(),
        hooks,
        shutdown,
        shutting_down: false,
        state,
        close_reason: None,
        clock: 0,
        write_high_water: config.write_high_water,
        write_hard_limit: config.write_hard_limit,
        flush_timeout: config.flush_timeout,
    };
    tokio::spawn(driver.run())
}

struct Driver<R, W, H> {
    session: Session,
    origin: Instant,
    reader: R,
    in_buf: BytesMut,
    frames: FrameDecoder,
    /// Encoded output not yet being written.
    out: BytesMut,
    writer: W,
    /// The part of an earlier `out` the socket has not taken yet.
    writing: Bytes,
    /// Whether everything written was flushed (TLS buffers; a no-op for TCP).
    flushed: bool,
    writer_alive: bool,
    requests: mpsc::Receiver<Request>,
    requests_open: bool,
    control: mpsc::Receiver<Control>,
    control_open: bool,
    answers: mpsc::Receiver<Answer>,
    answers_tx: mpsc::Sender<Answer>,
    later: FuturesUnordered<BoxFuture<'static, Answer>>,
    /// Our requests in the window, by sequence_number.
    pending: HashMap<u32, Reply>,
    inbound: Option<mpsc::Sender<InboundRequest>>,
    /// Requests from the peer waiting for room in `inbound` (the socket is not read
    /// meanwhile: at most one read's worth).
    stalled: VecDeque<(Pdu, bool)>,
    hooks: H,
    shutdown: ShutdownSignal,
    shutting_down: bool,
    state: watch::Sender<LinkState>,
    close_reason: Option<CloseReason>,
    /// ms at the last read (events dispatched from that read use it).
    clock: u64,
    write_high_water: usize,
    write_hard_limit: usize,
    flush_timeout: Duration,
}

impl<R, W, H> Driver<R, W, H>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    H: Hooks,
{
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(mut self) -> CloseReason {
        let far = self.origin + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far);
        tokio::pin!(sleep);
        let mut armed: Option<u64> = None;
        loop {
            self.drain_events();
            self.drain_transmit();
            if let Some(reason) = self.close_reason {
                self.finish(reason).await;
                return reason;
            }
            // Re-arming takes a lock on tokio's timer wheel, and the earliest deadline moves
            // with nearly every response: the timer is moved only when the deadline comes
            // earlier. One that fires before the session's deadline finds nothing due and is
            // armed again from `poll_timeout`; with no deadline left it stays as it is.
            if let Some(ms) = self.session.poll_timeout()
                && armed.is_none_or(|at| ms < at)
            {
                sleep
                    .as_mut()
                    .reset(self.origin + Duration::from_millis(ms));
                armed = Some(ms);
            }
            let unwritten = self.out.len() + self.writing.len();
            let can_read = unwritten < self.write_hard_limit && self.stalled.is_empty();
            let can_take = self.requests_open
                && self.session.window_available()
                && unwritten < self.write_high_water;
            let must_write = self.writer_alive && (unwritten > 0 || !self.flushed);
            tokio::select! {
                biased;
                () = self.shutdown.wait(), if !self.shutting_down => {
                    self.shutting_down = true;
                    self.end(Control::Unbind);
                }
                written = poll_fn(|cx| poll_write_out(cx, &mut self.writer, &mut self.writing, &mut self.out, &mut self.flushed)), if must_write => {
                    if let Err(error) = written {
                        tracing::debug!(%error, "write failed");
                        self.writer_alive = false;
                        self.session.handle_disconnect();
                    }
                }
                request = self.requests.recv(), if can_take => match request {
                    Some(request) => self.take_requests(request),
                    None => {
                        // Every handle is gone: nobody can use the session any more.
                        self.requests_open = false;
                        self.end(Control::Unbind);
                    }
                },
                Some(answer) = self.answers.recv() => self.take_answers(answer),
                Some(answer) = self.later.next(), if !self.later.is_empty() => self.take_answers(answer),
                read = self.reader.read_buf(&mut self.in_buf), if can_read => match read {
                    Ok(0) => self.session.handle_disconnect(),
                    Ok(_) => self.handle_input(),
                    Err(error) => {
                        tracing::debug!(%error, "read failed");
                        self.session.handle_disconnect();
                    }
                },
                () = &mut sleep, if armed.is_some() => {
                    let now = self.now();
                    self.session.handle_timeout(now);
                    armed = None; // re-arm from poll_timeout, whatever it says now
                }
                control = self.control.recv(), if self.control_open => match control {
                    Some(control) => self.end(control),
                    None => self.control_open = false,
                },
                ready = has_room(self.inbound.as_ref()), if !self.stalled.is_empty() => match ready {
                    true => {
                        if let Some((pdu, auto)) = self.stalled.pop_front() {
                            self.hand_over(pdu, auto);
                        }
                    }
                    false => {
                        // The application dropped its receiver: refuse what waits.
                        while let Some((pdu, _)) = self.stalled.pop_front() {
                            self.respond(pdu.sequence_number, CommandStatus::ESME_RX_T_APPN, empty_response(pdu.command_id()));
                        }
                        self.inbound = None;
                    }
                },
            }
        }
    }

    /// Decodes every complete frame in the read buffer.
    fn handle_input(&mut self) {
        let now = self.now();
        self.clock = now;
        loop {
            match self.frames.decode(&mut self.in_buf) {
                Ok(Some(Ok(pdu))) => self.session.handle_pdu(pdu, now),
                Ok(Some(Err(error))) => {
                    tracing::debug!(%error, "undecodable PDU");
                    self.session.handle_decode_error(&error, now);
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "framing lost");
                    self.session.handle_frame_error(&error);
                    self.in_buf.clear();
                    break;
                }
            }
        }
        if self.in_buf.capacity() - self.in_buf.len() < 4096 {
            self.in_buf.reserve(64 * 1024);
        }
    }

    /// Takes `first` and as many more requests as the window has room for.
    fn take_requests(&mut self, first: Request) {
        let now = self.now();
        self.send_request(first, now);
        // Encode as we go, so the output limit counts what this batch adds.
        self.drain_transmit();
        while self.session.window_available()
            && self.out.len() + self.writing.len() < self.write_high_water
        {
            match self.requests.try_recv() {
                Ok(request) => {
                    self.send_request(request, now);
                    self.drain_transmit();
                }
                Err(_) => break,
            }
        }
    }

    fn send_request(&mut self, request: Request, now: u64) {
        let Request { body, reply } = request;
        if reply.is_closed() {
            return; // The caller gave up before it was sent.
        }
        match self.session.send_request(body, now) {
            Ok(sequence_number) => {
                self.pending.insert(sequence_number, reply);
            }
            Err(error) => reply.send(Err(RequestError::Refused(error))),
        }
    }

    /// Answers `first` and every other answer that is ready now (from the application's
    /// channel or a finished [`Handling::Later`]), so that the responses a wake-up finds
    /// go out in one write: a group commit finishes tens of submit_sm at once, and the
    /// receipt writer answers a batch of deliver_sm together. At most `MAX_ANSWERS_PER_WAKE`
    /// (both sources are bounded anyway), so timers and reads get their turn.
    fn take_answers(&mut self, first: Answer) {
        let now = self.now();
        self.answer_at(first, now);
        for _ in 1..MAX_ANSWERS_PER_WAKE {
            if let Ok(answer) = self.answers.try_recv() {
                self.answer_at(answer, now);
                continue;
            }
            if self.later.is_empty() {
                break;
            }
            // Polling with a no-op waker is fine: the `select!` polls `later` again with the
            // task's waker before the task sleeps, and a future woken meanwhile stays in
            // FuturesUnordered's ready queue.
            match self.later.next().now_or_never() {
                Some(Some(answer)) => self.answer_at(answer, now),
                _ => break,
            }
        }
    }

    fn answer_at(&mut self, answer: Answer, now: u64) {
        self.respond_at(answer.sequence_number, answer.status, answer.body, now);
    }

    fn respond(&mut self, sequence_number: u32, status: CommandStatus, body: Body) {
        let now = self.now();
        self.respond_at(sequence_number, status, body, now);
    }

    /// As `respond`, at a time already read (one clock read per read, not per PDU).
    fn respond_at(&mut self, sequence_number: u32, status: CommandStatus, body: Body, now: u64) {
        if let Err(error) = self.session.respond(sequence_number, status, body, now) {
            tracing::debug!(%error, sequence_number, "answer not sent");
        }
    }

    fn end(&mut self, control: Control) {
        let now = self.now();
        match control {
            Control::Unbind => {
                if self.session.unbind(now).is_err() {
                    // Not bound (yet): nothing to unbind.
                    self.session.close();
                }
            }
            Control::Close => self.session.close(),
        }
    }

    fn reply(&mut self, sequence_number: u32, outcome: Result<Response, RequestError>) {
        if let Some(reply) = self.pending.remove(&sequence_number) {
            reply.send(outcome);
        }
    }

    fn drain_events(&mut self) {
        let mut aborted = Vec::new();
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::ResponseReceived {
                    sequence_number,
                    pdu,
                    ..
                } => self.reply(sequence_number, Ok(Response { pdu })),
                Event::Throttled {
                    sequence_number,
                    command_id,
                    status,
                } => {
                    let pdu = Pdu {
                        sequence_number,
                        command_status: status,
                        body: empty_response(command_id),
                    };
                    self.reply(sequence_number, Ok(Response { pdu }));
                }
                Event::ResponseTimedOut {
                    sequence_number, ..
                } => self.reply(
                    sequence_number,
                    Err(RequestError::Timeout { sequence_number }),
                ),
                Event::ResponseUndecodable {
                    sequence_number,
                    error,
                    ..
                } => self.reply(
                    sequence_number,
                    Err(RequestError::Undecodable {
                        sequence_number,
                        error,
                    }),
                ),
                Event::RequestAborted {
                    sequence_number, ..
                } => aborted.push(sequence_number),
                Event::RequestReceived { pdu } => self.dispatch(pdu),
                Event::BindRequested { kind, bind } => {
                    let now = self.now();
                    let outcome = match self.hooks.bind_requested(kind, &bind) {
                        Ok(response) => self.session.accept_bind(response, now),
                        Err(status) => self.session.reject_bind(status),
                    };
                    if let Err(error) = outcome {
                        tracing::warn!(%error, "bind answer refused by the session");
                    }
                }
                Event::Bound { kind, system_id } => {
                    self.hooks.bound(kind, &system_id);
                    self.state.send_replace(LinkState::Bound);
                }
                Event::BindFailed { status } => {
                    self.hooks.bind_failed(status);
                    self.session.close();
                }
                Event::OutbindReceived { .. } => {
                    // Outbind connections are not accepted by this driver.
                    self.session.close();
                }
                Event::ProtocolViolation(violation) => {
                    tracing::debug!(?violation, "peer broke a rule");
                    self.hooks.violation(&violation);
                }
                Event::Closed { reason } => self.close_reason = Some(reason),
                _ => {}
            }
        }
        // The Closed event follows the aborts: answer them once the reason is known.
        for sequence_number in aborted {
            let reason = self.close_reason;
            self.reply(
                sequence_number,
                Err(RequestError::Aborted {
                    sequence_number,
                    reason,
                }),
            );
        }
    }

    fn dispatch(&mut self, pdu: Pdu) {
        match self.hooks.request(&pdu) {
            Handling::Answer(status, body) => {
                let now = self.clock;
                self.respond_at(pdu.sequence_number, status, body, now);
            }
            Handling::Later(future) => {
                let sequence_number = pdu.sequence_number;
                self.later.push(Box::pin(async move {
                    let (status, body) = future.await;
                    Answer {
                        sequence_number,
                        status,
                        body,
                    }
                }));
            }
            Handling::Silence => self.session.mute(),
            Handling::Forward { auto } => {
                if self.inbound.is_none() {
                    self.respond(
                        pdu.sequence_number,
                        CommandStatus::ESME_RX_T_APPN,
                        empty_response(pdu.command_id()),
                    );
                } else if self.stalled.is_empty()
                    && self.inbound.as_ref().is_some_and(|s| s.capacity() > 0)
                {
                    self.hand_over(pdu, auto);
                } else {
                    self.stalled.push_back((pdu, auto));
                }
            }
        }
    }

    /// Hands a request to the application (there is room: the driver is the only sender).
    fn hand_over(&mut self, pdu: Pdu, auto: bool) {
        let request = self.inbound_request(pdu, auto);
        if let Some(inbound) = &self.inbound {
            // On failure the request is dropped, which answers it ESME_RX_T_APPN.
            let _ = inbound.try_send(request);
        }
    }

    /// Wraps a request for the application, answering it now when `auto`.
    fn inbound_request(&mut self, pdu: Pdu, auto: bool) -> InboundRequest {
        let request = pdu.command_id();
        let responder = if auto || request.response().is_none() {
            if request.response().is_some() {
                self.respond(
                    pdu.sequence_number,
                    CommandStatus::ESME_ROK,
                    empty_response(request),
                );
            }
            None
        } else {
            Some(Responder {
                request,
                answers: self.answers_tx.clone(),
            })
        };
        InboundRequest { pdu, responder }
    }

    /// Encodes everything the session queued into `out`.
    fn drain_transmit(&mut self) {
        while let Some(pdu) = self.session.poll_transmit() {
            if let Err(error) = encode(&pdu, &mut self.out) {
                tracing::warn!(%error, command = %pdu.command_id(), "PDU not encodable");
                if pdu.body.is_request() {
                    // Registered in the window already; it times out there. Tell the caller now.
                    self.reply(pdu.sequence_number, Err(RequestError::Encode(error)));
                } else if let Some(fallback) = Pdu::error_response(
                    &pdu.sequence_number,
                    request_of(&pdu),
                    CommandStatus::ESME_RSYSERR,
                ) {
                    // An answer we could not encode (e.g. a message_id too long): answer
                    // with a system error instead, so the peer is not left waiting.
                    let _ = encode(&fallback, &mut self.out);
                }
            }
        }
    }

    /// Last steps after the session closed: answer what waits, flush, stop the writer.
    async fn finish(&mut self, reason: CloseReason) {
        self.state.send_replace(LinkState::Closed(reason));
        self.requests.close();
        while let Ok(request) = self.requests.try_recv() {
            request.reply.send(Err(RequestError::Closed));
        }
        for (sequence_number, reply) in self.pending.drain() {
            reply.send(Err(RequestError::Aborted {
                sequence_number,
                reason: Some(reason),
            }));
        }
        self.stalled.clear();
        let stats = self.session.stats();
        self.hooks.closed(reason, &stats);
        if self.writer_alive {
            let flush = async {
                let writing = std::mem::take(&mut self.writing);
                self.writer.write_all(&writing).await?;
                self.writer.write_all(&self.out).await?;
                self.writer.flush().await?;
                self.writer.shutdown().await
            };
            match tokio::time::timeout(self.flush_timeout, flush).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "last write failed"),
                Err(_) => tracing::debug!("peer did not take the last PDUs in time"),
            }
        }
    }
}

/// The request a response answers (generic_nack for anything else).
fn request_of(pdu: &Pdu) -> CommandId {
    pdu.command_id().request().unwrap_or(CommandId::GenericNack)
}

/// Writes `writing`, then all of `out`, then flushes: `Ready(Ok)` once everything is
/// written and flushed, `Pending` while the socket cannot take more (progress is kept in
/// `writing`, so dropping this future between polls loses nothing).
fn poll_write_out<W: AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    writer: &mut W,
    writing: &mut Bytes,
    out: &mut BytesMut,
    flushed: &mut bool,
) -> Poll<io::Result<()>> {
    loop {
        if writing.is_empty() {
            if out.is_empty() {
                break;
            }
            *writing = out.split().freeze();
        }
        match Pin::new(&mut *writer).poll_write(cx, writing) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                writing.advance(n);
                *flushed = false;
            }
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => return Poll::Pending,
        }
    }
    if !*flushed {
        match Pin::new(&mut *writer).poll_flush(cx) {
            Poll::Ready(Ok(())) => *flushed = true,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(Ok(()))
}

/// Resolves once `sender` has room (`true`) or is closed or absent (`false`).
async fn has_room(sender: Option<&mpsc::Sender<InboundRequest>>) -> bool {
    match sender {
        Some(sender) => sender.reserve().await.is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use smppgate_protocol::pdu::{SubmitSm, SubmitSmResp};
    use smppgate_protocol::session::Role;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    /// Counts the `poll_write` calls that took bytes (each one a `write` syscall on a
    /// socket) and passes the bytes on.
    struct CountingWriter {
        inner: DuplexStream,
        writes: Arc<Mutex<usize>>,
    }

    impl AsyncWrite for CountingWriter {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
            if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
                *self.writes.lock().unwrap() += 1;
            }
            polled
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// An SMSC that answers each submit_sm later, when `gate` opens; tells `seen` of each.
    struct Gated {
        gate: watch::Receiver<bool>,
        seen: mpsc::Sender<u32>,
    }

    impl Hooks for Gated {
        fn bind_requested(&mut self, _: BindKind, _: &Bind) -> Result<BindResp, CommandStatus> {
            Ok(BindResp {
                system_id: Bytes::from_static(b"test"),
                ..BindResp::default()
            })
        }

        fn request(&mut self, pdu: &Pdu) -> Handling {
            let _ = self.seen.try_send(pdu.sequence_number);
            let mut gate = self.gate.clone();
            let id = Bytes::from(pdu.sequence_number.to_string());
            Handling::Later(Box::pin(async move {
                let _ = gate.wait_for(|open| *open).await;
                let body = Body::SubmitSmResp(SubmitSmResp {
                    message_id: id,
                    ..SubmitSmResp::default()
                });
                (CommandStatus::ESME_ROK, body)
            }))
        }
    }

    fn frame(pdu: &Pdu) -> BytesMut {
        let mut out = BytesMut::new();
        encode(pdu, &mut out).unwrap();
        out
    }

    /// Reads PDUs from `peer` until `count` arrived.
    async fn read_pdus(peer: &mut DuplexStream, buf: &mut BytesMut, count: usize) -> Vec<Pdu> {
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
        let mut pdus = Vec::new();
        while pdus.len() < count {
            while let Some(pdu) = decoder.decode(buf).unwrap() {
                pdus.push(pdu.unwrap());
            }
            if pdus.len() < count {
                assert_ne!(peer.read_buf(buf).await.unwrap(), 0, "connection closed");
            }
        }
        pdus
    }

    /// The answers a wake-up finds ready (here: 64 submit_sm whose commit finished at once)
    /// leave in one write, not one write per response.
    #[tokio::test]
    async fn answers_ready_together_go_out_in_one_write() {
        const SUBMITS: u32 = 64;
        let (driver_in, mut peer_out) = tokio::io::duplex(1 << 20);
        let (mut peer_in, driver_out) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(Mutex::new(0));
        let (open, gate) = watch::channel(false);
        let (seen_tx, mut seen) = mpsc::channel(SUBMITS as usize);
        let shutdown = crate::shutdown::Shutdown::new();
        let signal = shutdown.signal();
        let config = ConnConfig::default();
        let channels = Channels::new(config.session.window_size);
        // Held: without a handle the task unbinds at once.
        let _link = channels.link();
        let setup = Setup {
            session: Session::new(Role::Smsc, config.session.clone(), 0),
            origin: Instant::now(),
            channels,
            inbound: None,
            hooks: Gated {
                gate,
                seen: seen_tx,
            },
            shutdown: signal,
        };
        let writer = CountingWriter {
            inner: driver_out,
            writes: Arc::clone(&writes),
        };
        let task = spawn(driver_in, writer, &config, setup);

        let bind = Pdu::new(
            1,
            Body::BindTransceiver(Bind {
                system_id: Bytes::from_static(b"client"),
                password: Bytes::from_static(b"x"),
                interface_version: 0x34,
                ..Bind::default()
            }),
        );
        peer_out.write_all(&frame(&bind)).await.unwrap();
        let mut buf = BytesMut::new();
        let answer = read_pdus(&mut peer_in, &mut buf, 1).await;
        assert_eq!(answer[0].command_id(), CommandId::BindTransceiverResp);
        assert!(answer[0].command_status.is_ok());

        let mut submits = BytesMut::new();
        for sequence_number in 2..2 + SUBMITS {
            submits.extend_from_slice(&frame(&Pdu::new(
                sequence_number,
                Body::SubmitSm(SubmitSm::default()),
            )));
        }
        peer_out.write_all(&submits).await.unwrap();
        for _ in 0..SUBMITS {
            seen.recv().await.unwrap();
        }
        let before = *writes.lock().unwrap();
        open.send_replace(true);
        let responses = read_pdus(&mut peer_in, &mut buf, SUBMITS as usize).await;
        assert!(
            responses
                .iter()
                .all(|p| p.command_id() == CommandId::SubmitSmResp && p.command_status.is_ok())
        );
        let written = *writes.lock().unwrap() - before;
        assert_eq!(
            written, 1,
            "{SUBMITS} responses ready together took {written} writes"
        );

        shutdown.trigger();
        drop(peer_out);
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}
