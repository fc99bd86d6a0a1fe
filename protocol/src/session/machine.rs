//! [`Session`]: the state machine itself.
//!
//! Inputs: [`Session::handle_pdu`], [`Session::handle_decode_error`],
//! [`Session::handle_timeout`] and the application's requests ([`Session::bind`],
//! [`Session::send_request`], [`Session::respond`], …). Outputs:
//! [`Session::poll_transmit`], [`Session::poll_timeout`], [`Session::poll_event`].
//!
//! The driver must drain `poll_transmit` and `poll_event` after every input (as with
//! quinn-proto). What the session queues per input is bounded: application requests by
//! the window, responses by `max_owed_responses`, and the session's own answers by one per
//! PDU received, so a driver that reads the next frame only after draining keeps both
//! queues bounded.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::codec::{DecodeError, FrameError};
use crate::command_id::CommandId;
use crate::command_status::CommandStatus;
use crate::pdu::{Bind, BindResp, Body, Outbind, Pdu};

use super::config::{Role, SessionConfig};
use super::error::SessionError;
use super::event::{CloseReason, Event, Violation, ViolationKind};
use super::state::{BindKind, State, may_send, request_allowed_when_bound};
use super::stats::SessionStats;
use super::timers::{Timer, Timers};
use super::window::Window;

/// Internal slots of the window: bind, our enquire_link and unbind, never more than one
/// each at a time.
const INTERNAL_SLOTS: usize = 3;

/// The precise state, with what each state needs to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Open,
    Outbound,
    /// ESME: bind sent with this sequence_number.
    BindSent {
        kind: BindKind,
        sequence_number: u32,
    },
    /// SMSC: bind received; the application authenticates it.
    BindReceived {
        kind: BindKind,
        sequence_number: u32,
        system_id: Bytes,
    },
    Bound(BindKind),
    /// We asked to unbind: waiting for our outstanding responses (and the ones we owe)
    /// before sending unbind. Still bound as far as the peer knows.
    UnbindPending(BindKind),
    /// Our unbind is sent; waiting for unbind_resp.
    UnbindSent,
    /// The peer sent unbind (this sequence_number); waiting for the application to answer
    /// what it owes before unbind_resp goes out.
    PeerUnbinding {
        sequence_number: u32,
    },
    Closed,
}

/// A sans-IO SMPP 3.4 session, ESME or SMSC. See the [module docs](super).
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    phase: Phase,
    window: Window<CommandId>,
    /// Requests received and not answered yet, keyed by `owed_key`, valued by how many
    /// (a peer may reuse a sequence_number). Bounded by `max_owed_responses` in total. The
    /// peer picks these keys, so the map keeps the standard randomly keyed hasher.
    owed: HashMap<u64, u32>,
    owed_len: usize,
    transmit: VecDeque<Pdu>,
    events: VecDeque<Event>,
    timers: Timers,
    /// Sequence number of the enquire_link the session sent itself, while unanswered.
    ping: Option<u32>,
    /// [`Session::mute`]: no response goes out any more.
    muted: bool,
    stats: SessionStats,
}

const fn owed_key(sequence_number: u32, request: CommandId) -> u64 {
    ((sequence_number as u64) << 32) | request.as_u32() as u64
}

impl Session {
    /// A session on a connection that has just been set up, at time `now`.
    ///
    /// * `Role::Esme`: we connected to an SMSC (call [`Session::bind`]), or accepted its
    ///   outbind connection (it sends outbind; [`Event::OutbindReceived`]). No timer runs
    ///   until then.
    /// * `Role::Smsc`: we accepted an ESME's connection (it binds; [`Event::BindRequested`]),
    ///   or connected to an ESME to send [`Session::outbind`]. The session-init timer
    ///   (`bind_timeout_ms`) runs from now.
    ///
    /// `config` should have passed [`SessionConfig::validate`]; sizes of 0 are raised to 1.
    #[must_use]
    pub fn new(role: Role, config: SessionConfig, now: u64) -> Self {
        let mut window = Window::new(config.window_size, INTERNAL_SLOTS);
        window.set_next_sequence_number(config.first_sequence_number);
        let owed_capacity = config.max_owed_responses.max(1);
        let queue_capacity = config.window_size.max(1) + 16;
        let mut session = Self {
            role,
            phase: Phase::Open,
            window,
            owed: HashMap::with_capacity(owed_capacity),
            owed_len: 0,
            transmit: VecDeque::with_capacity(queue_capacity),
            events: VecDeque::with_capacity(queue_capacity),
            timers: Timers::new(),
            ping: None,
            muted: false,
            stats: SessionStats::default(),
            config,
        };
        if role == Role::Smsc {
            session.timers.restart(
                Timer::SessionInit,
                now,
                Some(session.config.bind_timeout_ms),
            );
        }
        session
    }

    // ----- accessors -------------------------------------------------------------------

    /// Our role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings in force.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Where the session is.
    #[must_use]
    pub fn state(&self) -> State {
        match &self.phase {
            Phase::Open => State::Open,
            Phase::Outbound => State::Outbound,
            Phase::BindSent { kind, .. } | Phase::BindReceived { kind, .. } => {
                State::Binding(*kind)
            }
            Phase::Bound(kind) => State::Bound(*kind),
            Phase::UnbindPending(_) | Phase::UnbindSent | Phase::PeerUnbinding { .. } => {
                State::Unbinding
            }
            Phase::Closed => State::Closed,
        }
    }

    /// Whether the session is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether [`Session::send_request`] would find room in the window now (and the session
    /// is bound).
    #[must_use]
    pub fn window_available(&self) -> bool {
        matches!(self.phase, Phase::Bound(_)) && self.window.is_available()
    }

    /// Our application requests awaiting a response.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.window.application_len()
    }

    /// Requests received that the application has not answered yet.
    #[must_use]
    pub fn owed(&self) -> usize {
        self.owed_len
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    // ----- outputs ---------------------------------------------------------------------

    /// The next PDU to write, in order. Keep calling after the session closed: the last
    /// answers (unbind_resp, generic_nack) are still to be written.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Pdu> {
        loop {
            let pdu = self.transmit.pop_front()?;
            if self.muted && pdu.body.is_response() {
                self.stats.responses_withheld += 1;
                continue;
            }
            self.stats.pdus_sent += 1;
            return Some(pdu);
        }
    }

    /// When to call [`Session::handle_timeout`] next, in ms; `None` when nothing is timed.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<u64> {
        if self.is_closed() {
            return None;
        }
        match (self.window.next_deadline(), self.timers.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Mutes the session for good: from now on no response goes out (the application's
    /// answers, the session's own refusals and generic_nacks are dropped unsent), and
    /// enquire_link and unbind from the peer are ignored, so the connection stays open and
    /// the peer hears nothing back: a hung peer, for simulators. Requests still reach the
    /// application, timers run, and our own requests still go out. Requests left
    /// unanswered stay owed (the peer's window, `max_owed_responses`, bounds them).
    pub fn mute(&mut self) {
        self.muted = true;
    }

    /// Whether [`Session::mute`] was called.
    #[must_use]
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    // ----- application requests --------------------------------------------------------

    /// ESME: sends a bind of `kind`. Legal while `Open`, and after an outbind (receiver or
    /// transceiver only). The bind timer runs from `now`.
    ///
    /// # Errors
    /// [`SessionError::WrongRole`] as an SMSC, [`SessionError::InvalidState`] elsewhere.
    pub fn bind(&mut self, kind: BindKind, bind: Bind, now: u64) -> Result<u32, SessionError> {
        let command_id = kind.command_id();
        if self.role != Role::Esme {
            return Err(self.wrong_role(command_id));
        }
        let legal = match self.phase {
            Phase::Open => true,
            // reference §4.1: 3.4 answers outbind with bind_receiver, 5.0 also transceiver.
            Phase::Outbound => kind != BindKind::Transmitter,
            _ => false,
        };
        if !legal {
            return Err(self.invalid_state(command_id));
        }
        let sequence_number = self
            .window
            .register_internal(command_id)
            .map_err(|_| self.invalid_state(command_id))?;
        self.transmit
            .push_back(Pdu::new(sequence_number, kind.request_body(bind)));
        self.phase = Phase::BindSent {
            kind,
            sequence_number,
        };
        self.timers.stop(Timer::SessionInit);
        self.timers
            .restart(Timer::BindResponse, now, Some(self.config.bind_timeout_ms));
        Ok(sequence_number)
    }

    /// SMSC: connected to an ESME, asks it to bind (outbind has no response). The ESME must
    /// answer with bind_receiver before the session-init timer runs out.
    ///
    /// # Errors
    /// [`SessionError::WrongRole`] as an ESME, [`SessionError::InvalidState`] unless `Open`.
    pub fn outbind(&mut self, outbind: Outbind, now: u64) -> Result<u32, SessionError> {
        if self.role != Role::Smsc {
            return Err(self.wrong_role(CommandId::Outbind));
        }
        if self.phase != Phase::Open {
            return Err(self.invalid_state(CommandId::Outbind));
        }
        let sequence_number = self.window.allocate();
        self.transmit
            .push_back(Pdu::new(sequence_number, Body::Outbind(outbind)));
        self.phase = Phase::Outbound;
        self.timers
            .restart(Timer::SessionInit, now, Some(self.config.bind_timeout_ms));
        Ok(sequence_number)
    }

    /// SMSC: the application authenticated the bind of [`Event::BindRequested`]; answers
    /// it with `response` (our system_id, TLVs) and status 0. The session is bound.
    ///
    /// # Errors
    /// [`SessionError::InvalidState`] when no bind awaits an answer.
    pub fn accept_bind(&mut self, response: BindResp, now: u64) -> Result<(), SessionError> {
        let Phase::BindReceived {
            kind,
            sequence_number,
            system_id,
        } = &self.phase
        else {
            return Err(self.invalid_state(CommandId::BindTransceiverResp));
        };
        let (kind, sequence_number, system_id) = (*kind, *sequence_number, system_id.clone());
        let body = match kind {
            BindKind::Transmitter => Body::BindTransmitterResp(response),
            BindKind::Receiver => Body::BindReceiverResp(response),
            BindKind::Transceiver => Body::BindTransceiverResp(response),
        };
        self.transmit.push_back(Pdu::new(sequence_number, body));
        self.enter_bound(kind, system_id, now);
        Ok(())
    }

    /// SMSC: refuses the bind of [`Event::BindRequested`] with `status` (e.g.
    /// `ESME_RINVPASWD`, `ESME_RBINDFAIL`). The session is `Open` again; the session-init
    /// timer still runs, so an ESME that does not retry is closed at its deadline.
    ///
    /// # Errors
    /// [`SessionError::InvalidState`] when no bind awaits an answer.
    pub fn reject_bind(&mut self, status: CommandStatus) -> Result<(), SessionError> {
        let Phase::BindReceived {
            kind,
            sequence_number,
            ..
        } = self.phase
        else {
            return Err(self.invalid_state(CommandId::BindTransceiverResp));
        };
        // An error bind_resp carries no body (reference §4.3); status 0 here would be a
        // lie, so it becomes ESME_RBINDFAIL.
        let status = if status.is_ok() {
            CommandStatus::ESME_RBINDFAIL
        } else {
            status
        };
        let response = Pdu::error_response(&sequence_number, kind.command_id(), status);
        self.transmit.extend(response);
        self.phase = Phase::Open;
        Ok(())
    }

    /// Sends a request (submit_sm, deliver_sm, data_sm, query_sm, enquire_link, …) and
    /// returns its sequence_number. It is in the window before this returns, so its response
    /// is matched however fast it comes.
    ///
    /// # Errors
    /// [`SessionError::WindowFull`] with the body handed back; [`SessionError::WrongMethod`]
    /// for responses, binds, unbind and outbind; [`SessionError::WrongRole`];
    /// [`SessionError::InvalidState`] when not bound or the bind does not allow it;
    /// [`SessionError::Unbinding`]; [`SessionError::Closed`].
    pub fn send_request(&mut self, body: Body, now: u64) -> Result<u32, SessionError> {
        let command_id = body.command_id();
        let method = match command_id {
            _ if command_id.is_response() => Some("respond"),
            CommandId::BindReceiver | CommandId::BindTransmitter | CommandId::BindTransceiver => {
                Some("bind")
            }
            CommandId::Unbind => Some("unbind"),
            CommandId::Outbind => Some("outbind"),
            _ => None,
        };
        if let Some(method) = method {
            return Err(SessionError::WrongMethod { command_id, method });
        }
        if !may_send(self.role, command_id) {
            return Err(self.wrong_role(command_id));
        }
        let kind = match self.phase {
            Phase::Bound(kind) => kind,
            Phase::UnbindPending(_) | Phase::UnbindSent | Phase::PeerUnbinding { .. } => {
                return Err(SessionError::Unbinding { command_id });
            }
            Phase::Closed => return Err(SessionError::Closed),
            _ => return Err(self.invalid_state(command_id)),
        };
        if !request_allowed_when_bound(kind, self.role, command_id) {
            return Err(self.invalid_state(command_id));
        }
        let sequence_number = if command_id.response().is_some() {
            let deadline = now.saturating_add(self.config.response_timeout_ms);
            match self.window.register(command_id, deadline) {
                Ok(sequence_number) => sequence_number,
                Err(_) => return Err(SessionError::WindowFull(Box::new(body))),
            }
        } else {
            // alert_notification: nothing comes back, nothing to track.
            self.window.allocate()
        };
        self.transmit.push_back(Pdu::new(sequence_number, body));
        self.stats.requests_sent += 1;
        if command_id != CommandId::EnquireLink {
            self.restart_inactivity(now);
        }
        Ok(sequence_number)
    }

    /// Answers a request the application received ([`Event::RequestReceived`]) with its
    /// `_resp` (e.g. submit_sm_resp with a message_id) and `status`.
    ///
    /// # Errors
    /// [`SessionError::WrongMethod`] unless `body` is a `_resp` (generic_nack included:
    /// answer with the operation's own `_resp` and an error status instead);
    /// [`SessionError::NotOwed`] when no such request awaits an answer;
    /// [`SessionError::Closed`].
    pub fn respond(
        &mut self,
        sequence_number: u32,
        status: CommandStatus,
        body: Body,
        now: u64,
    ) -> Result<(), SessionError> {
        let command_id = body.command_id();
        let Some(request) = command_id.request() else {
            return Err(SessionError::WrongMethod {
                command_id,
                method: "send_request",
            });
        };
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        if !self.take_owed(sequence_number, request) {
            return Err(SessionError::NotOwed {
                sequence_number,
                request,
            });
        }
        self.transmit.push_back(Pdu {
            sequence_number,
            command_status: status,
            body,
        });
        self.after_owed_answered(now);
        Ok(())
    }

    /// Starts a graceful unbind: no new requests from now on; waits (up to
    /// `unbind_timeout_ms`) for the responses to our outstanding requests and for the
    /// application to answer what it owes, then sends unbind; closes on unbind_resp (or
    /// after another `unbind_timeout_ms`). Calling it again while unbinding does nothing.
    ///
    /// # Errors
    /// [`SessionError::InvalidState`] when not bound (use [`Session::close`]);
    /// [`SessionError::Closed`].
    pub fn unbind(&mut self, now: u64) -> Result<(), SessionError> {
        match self.phase {
            Phase::Bound(kind) => {
                self.phase = Phase::UnbindPending(kind);
                self.timers.stop(Timer::Inactivity);
                self.timers
                    .restart(Timer::Unbind, now, Some(self.config.unbind_timeout_ms));
                self.maybe_send_unbind(now);
                Ok(())
            }
            Phase::UnbindPending(_) | Phase::UnbindSent | Phase::PeerUnbinding { .. } => Ok(()),
            Phase::Closed => Err(SessionError::Closed),
            _ => Err(self.invalid_state(CommandId::Unbind)),
        }
    }

    /// Closes at once, without unbind (the connection is going away, or must). Our
    /// outstanding requests are reported as [`Event::RequestAborted`]. Does nothing when
    /// already closed.
    pub fn close(&mut self) {
        self.close_with(CloseReason::Requested);
    }

    // ----- inputs from the connection --------------------------------------------------

    /// A PDU arrived at `now`.
    pub fn handle_pdu(&mut self, pdu: Pdu, now: u64) {
        self.stats.pdus_received += 1;
        if self.is_closed() {
            self.stats.received_after_close += 1;
            return;
        }
        self.note_traffic(now);
        if pdu.body.is_response() {
            self.handle_response(pdu, now);
        } else {
            self.handle_request(pdu, now);
        }
    }

    /// The codec consumed a frame at `now` that it could not decode. A request is answered
    /// (generic_nack `ESME_RINVCMDID` for an unknown command_id, otherwise its `_resp` or
    /// generic_nack with the error's status, the sequence_number echoed); a response is never
    /// answered, but if it matches one of our requests that request is finished with
    /// [`Event::ResponseUndecodable`].
    pub fn handle_decode_error(&mut self, error: &DecodeError, now: u64) {
        self.stats.decode_errors += 1;
        if matches!(error, DecodeError::UnknownCommandId { .. }) {
            self.stats.unknown_commands += 1;
        }
        let sequence_number = error.sequence_number();
        if self.is_closed() {
            self.stats.received_after_close += 1;
            return;
        }
        self.note_traffic(now);
        let answer = error.response();
        let answered = answer.as_ref().map(|pdu| pdu.command_status);
        if let Some(answer) = answer {
            if answer.body == Body::GenericNack {
                self.stats.generic_nacks_sent += 1;
            }
            self.transmit.push_back(answer);
        } else if let Some(response) = CommandId::from_u32(error.command_id()) {
            let matched = if response == CommandId::GenericNack {
                self.window.remove_if(sequence_number, |_| true)
            } else {
                self.window.remove_if(sequence_number, |request| {
                    request.response() == Some(response)
                })
            };
            if let Some(outstanding) = matched {
                let was_full = self.window.application_len() + 1 == self.window.capacity();
                self.finish_internal_or(outstanding.internal, outstanding.kind, now, |session| {
                    session.events.push_back(Event::ResponseUndecodable {
                        sequence_number,
                        command_id: outstanding.kind,
                        error: error.clone(),
                    });
                    session.after_window_freed(was_full, now);
                });
            }
        }
        self.violation(
            ViolationKind::Undecodable,
            error.command_id(),
            sequence_number,
            answered,
        );
    }

    /// The codec lost framing (`command_length` below 16 or above its cap): queues the
    /// generic_nack `ESME_RINVCMDLEN` with sequence_number 0 that reference §4.3 asks for and
    /// closes ([`CloseReason::FramingLost`]). Write it, then drop the connection.
    pub fn handle_frame_error(&mut self, error: &FrameError) {
        self.stats.decode_errors += 1;
        if self.is_closed() {
            return;
        }
        self.stats.generic_nacks_sent += 1;
        self.transmit
            .push_back(Pdu::generic_nack(0, error.status()));
        self.close_with(CloseReason::FramingLost);
    }

    /// The connection went away (EOF, reset, write error): closes at once
    /// ([`CloseReason::ConnectionLost`]), reporting our outstanding requests as
    /// [`Event::RequestAborted`]. Nothing queued for the peer matters any more.
    pub fn handle_disconnect(&mut self) {
        self.transmit.clear();
        self.close_with(CloseReason::ConnectionLost);
    }

    /// Time passed; call at (or after) the instant [`Session::poll_timeout`] gave.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.is_closed() {
            return;
        }
        let was_full = !self.window.is_available();
        let mut freed = false;
        while let Some(expired) = self.window.pop_expired(now) {
            self.stats.response_timeouts += 1;
            freed = true;
            self.events.push_back(Event::ResponseTimedOut {
                sequence_number: expired.sequence_number,
                command_id: expired.kind,
            });
        }
        if freed {
            self.after_window_freed(was_full, now);
        }
        while let Some(timer) = self.timers.pop_expired(now) {
            self.on_timer(timer, now);
            if self.is_closed() {
                break;
            }
        }
    }

    // ----- internals -------------------------------------------------------------------

    /// Any frame received shows the peer is alive: restart the idle timer (reference §4.5
    /// enquire_link_timer).
    fn note_traffic(&mut self, now: u64) {
        if matches!(self.phase, Phase::Bound(_) | Phase::UnbindPending(_)) {
            self.timers.restart(
                Timer::EnquireLinkIdle,
                now,
                self.config.enquire_link_interval_ms,
            );
        }
    }

    fn on_timer(&mut self, timer: Timer, now: u64) {
        match timer {
            Timer::SessionInit => {
                if !matches!(self.phase, Phase::Bound(_)) {
                    self.close_with(CloseReason::SessionInitTimeout);
                }
            }
            Timer::BindResponse => {
                if let Phase::BindSent {
                    sequence_number, ..
                } = self.phase
                {
                    let _ = self.window.remove_if(sequence_number, |_| true);
                    self.stats.response_timeouts += 1;
                    self.close_with(CloseReason::BindTimeout);
                }
            }
            Timer::EnquireLinkIdle => self.on_idle(now),
            Timer::EnquireLinkResponse => {
                if self.ping.is_some() {
                    self.stats.response_timeouts += 1;
                    self.close_with(CloseReason::PeerDead);
                }
            }
            Timer::Inactivity => {
                if matches!(self.phase, Phase::Bound(_)) {
                    let _ = self.unbind(now);
                }
            }
            Timer::Unbind => match self.phase {
                Phase::UnbindPending(_) => self.send_unbind(now),
                Phase::UnbindSent => self.close_with(CloseReason::UnbindTimeout),
                Phase::PeerUnbinding { sequence_number } => {
                    self.stats.responses_abandoned += self.owed_len as u64;
                    self.finish_peer_unbind(sequence_number);
                }
                _ => {}
            },
        }
    }

    /// No PDU received for the idle interval: send our enquire_link (unless one is out).
    fn on_idle(&mut self, now: u64) {
        if !matches!(self.phase, Phase::Bound(_) | Phase::UnbindPending(_)) {
            return;
        }
        self.timers.restart(
            Timer::EnquireLinkIdle,
            now,
            self.config.enquire_link_interval_ms,
        );
        if self.ping.is_some() {
            return;
        }
        let Ok(sequence_number) = self.window.register_internal(CommandId::EnquireLink) else {
            return;
        };
        self.ping = Some(sequence_number);
        self.transmit
            .push_back(Pdu::new(sequence_number, Body::EnquireLink));
        self.stats.enquire_links_sent += 1;
        self.timers.restart(
            Timer::EnquireLinkResponse,
            now,
            Some(self.config.enquire_link_timeout_ms),
        );
    }

    fn handle_response(&mut self, pdu: Pdu, now: u64) {
        let command_id = pdu.command_id();
        let sequence_number = pdu.sequence_number;
        let matched = if command_id == CommandId::GenericNack {
            self.stats.generic_nacks_received += 1;
            // A generic_nack answers whatever request had that number.
            self.window.remove_if(sequence_number, |_| true)
        } else {
            // Correlation key = (sequence_number, response type), reference §4.4.
            self.window.remove_if(sequence_number, |request| {
                request.response() == Some(command_id)
            })
        };
        let Some(outstanding) = matched else {
            // Never nack a response (reference §4.3): count it and drop it.
            self.stats.unknown_responses += 1;
            self.violation(
                ViolationKind::UnknownResponse,
                command_id.as_u32(),
                sequence_number,
                None,
            );
            return;
        };
        if outstanding.internal {
            self.on_internal_response(outstanding.kind, pdu, now);
            return;
        }
        self.stats.responses_matched += 1;
        let was_full = self.window.application_len() + 1 == self.window.capacity();
        let status = pdu.command_status;
        if status == CommandStatus::ESME_RTHROTTLED || status == CommandStatus::ESME_RMSGQFUL {
            self.stats.throttled += 1;
            self.events.push_back(Event::Throttled {
                sequence_number,
                command_id: outstanding.kind,
                status,
            });
        } else {
            self.events.push_back(Event::ResponseReceived {
                sequence_number,
                command_id: outstanding.kind,
                pdu,
            });
        }
        self.after_window_freed(was_full, now);
    }

    fn after_window_freed(&mut self, was_full: bool, now: u64) {
        if was_full && matches!(self.phase, Phase::Bound(_)) {
            self.events.push_back(Event::WindowAvailable);
        }
        self.maybe_send_unbind(now);
    }

    /// Runs `app` for an application request; handles the session's own requests (bind,
    /// enquire_link, unbind) whose response could not be decoded as failed.
    fn finish_internal_or(
        &mut self,
        internal: bool,
        request: CommandId,
        now: u64,
        app: impl FnOnce(&mut Self),
    ) {
        if !internal {
            self.stats.responses_matched += 1;
            app(self);
            return;
        }
        let failed = Pdu::generic_nack(0, CommandStatus::ESME_RSYSERR);
        self.on_internal_response(request, failed, now);
    }

    fn on_internal_response(&mut self, request: CommandId, pdu: Pdu, now: u64) {
        match request {
            CommandId::EnquireLink => {
                self.ping = None;
                self.timers.stop(Timer::EnquireLinkResponse);
            }
            CommandId::Unbind => {
                self.events.push_back(Event::Unbound);
                self.close_with(CloseReason::Unbound);
            }
            _ => {
                let Phase::BindSent { kind, .. } = self.phase else {
                    return;
                };
                self.timers.stop(Timer::BindResponse);
                let system_id = match pdu.body {
                    Body::BindReceiverResp(resp)
                    | Body::BindTransmitterResp(resp)
                    | Body::BindTransceiverResp(resp)
                        if pdu.command_status.is_ok() =>
                    {
                        resp.system_id
                    }
                    _ => {
                        self.phase = Phase::Open;
                        self.events.push_back(Event::BindFailed {
                            status: pdu.command_status,
                        });
                        return;
                    }
                };
                self.enter_bound(kind, system_id, now);
            }
        }
    }

    fn enter_bound(&mut self, kind: BindKind, system_id: Bytes, now: u64) {
        self.phase = Phase::Bound(kind);
        self.timers.stop(Timer::SessionInit);
        self.timers.stop(Timer::BindResponse);
        self.timers.restart(
            Timer::EnquireLinkIdle,
            now,
            self.config.enquire_link_interval_ms,
        );
        self.restart_inactivity(now);
        self.events.push_back(Event::Bound { kind, system_id });
    }

    fn handle_request(&mut self, pdu: Pdu, now: u64) {
        let command_id = pdu.command_id();
        let peer = self.role.peer();
        if !may_send(peer, command_id) {
            return self.refuse(
                &pdu,
                CommandStatus::ESME_RINVBNDSTS,
                ViolationKind::WrongSender,
            );
        }
        if self.muted && matches!(command_id, CommandId::EnquireLink | CommandId::Unbind) {
            // A muted session neither answers nor acts on these: the peer's own timers
            // decide what happens to the connection.
            self.stats.requests_ignored += 1;
            return;
        }
        match command_id {
            // Answered in every state, Open included (as jsmpp does, reference §4.2).
            CommandId::EnquireLink => {
                self.stats.enquire_links_answered += 1;
                self.transmit
                    .push_back(Pdu::new(pdu.sequence_number, Body::EnquireLinkResp));
            }
            CommandId::BindReceiver | CommandId::BindTransmitter | CommandId::BindTransceiver => {
                self.on_bind_request(pdu);
            }
            CommandId::Outbind => self.on_outbind(pdu, now),
            CommandId::Unbind => self.on_peer_unbind(&pdu, now),
            _ => {
                let (Phase::Bound(kind) | Phase::UnbindPending(kind)) = self.phase else {
                    return self.refuse(
                        &pdu,
                        CommandStatus::ESME_RINVBNDSTS,
                        ViolationKind::InvalidBindState,
                    );
                };
                if !request_allowed_when_bound(kind, peer, command_id) {
                    return self.refuse(
                        &pdu,
                        CommandStatus::ESME_RINVBNDSTS,
                        ViolationKind::InvalidBindState,
                    );
                }
                self.deliver_request(pdu, now);
            }
        }
    }

    fn on_bind_request(&mut self, pdu: Pdu) {
        let Some(kind) = BindKind::from_command_id(pdu.command_id()) else {
            return;
        };
        let legal = match self.phase {
            Phase::Open => true,
            Phase::Outbound => kind != BindKind::Transmitter,
            Phase::Bound(_) | Phase::UnbindPending(_) => {
                return self.refuse(
                    &pdu,
                    CommandStatus::ESME_RALYBND,
                    ViolationKind::AlreadyBound,
                );
            }
            _ => false,
        };
        if !legal {
            return self.refuse(
                &pdu,
                CommandStatus::ESME_RINVBNDSTS,
                ViolationKind::InvalidBindState,
            );
        }
        let (Body::BindReceiver(bind) | Body::BindTransmitter(bind) | Body::BindTransceiver(bind)) =
            pdu.body
        else {
            return;
        };
        self.phase = Phase::BindReceived {
            kind,
            sequence_number: pdu.sequence_number,
            system_id: bind.system_id.clone(),
        };
        self.events.push_back(Event::BindRequested { kind, bind });
    }

    fn on_outbind(&mut self, pdu: Pdu, now: u64) {
        if self.phase != Phase::Open {
            return self.refuse(
                &pdu,
                CommandStatus::ESME_RINVBNDSTS,
                ViolationKind::InvalidBindState,
            );
        }
        let Body::Outbind(outbind) = pdu.body else {
            return;
        };
        self.phase = Phase::Outbound;
        // The SMSC waits for our bind; don't sit on the connection forever either.
        self.timers
            .restart(Timer::SessionInit, now, Some(self.config.bind_timeout_ms));
        self.events.push_back(Event::OutbindReceived { outbind });
    }

    fn on_peer_unbind(&mut self, pdu: &Pdu, now: u64) {
        match self.phase {
            Phase::Bound(_) | Phase::UnbindPending(_) => {
                let sequence_number = pdu.sequence_number;
                self.phase = Phase::PeerUnbinding { sequence_number };
                self.timers.stop(Timer::Inactivity);
                self.timers.stop(Timer::EnquireLinkIdle);
                self.timers
                    .restart(Timer::Unbind, now, Some(self.config.unbind_timeout_ms));
                self.events.push_back(Event::PeerUnbound);
                if self.owed_len == 0 {
                    self.finish_peer_unbind(sequence_number);
                }
            }
            Phase::UnbindSent => {
                // Both sides unbound at once: answer, and count the crossing unbinds as done.
                self.transmit
                    .push_back(Pdu::new(pdu.sequence_number, Body::UnbindResp));
                self.events.push_back(Event::PeerUnbound);
                self.close_with(CloseReason::PeerUnbound);
            }
            _ => self.refuse(
                pdu,
                CommandStatus::ESME_RINVBNDSTS,
                ViolationKind::InvalidBindState,
            ),
        }
    }

    fn finish_peer_unbind(&mut self, sequence_number: u32) {
        self.transmit
            .push_back(Pdu::new(sequence_number, Body::UnbindResp));
        self.close_with(CloseReason::PeerUnbound);
    }

    /// A legal request from the peer: hand it to the application and remember we owe it
    /// an answer, within `max_owed_responses`.
    fn deliver_request(&mut self, pdu: Pdu, now: u64) {
        let command_id = pdu.command_id();
        if command_id != CommandId::EnquireLink {
            self.restart_inactivity(now);
        }
        if command_id.response().is_some() {
            if self.owed_len >= self.config.max_owed_responses.max(1) {
                // The peer overran its window (reference §4.4).
                self.stats.peer_window_overruns += 1;
                let status = self.config.peer_window_status.unwrap_or(match self.role {
                    Role::Smsc => CommandStatus::ESME_RTHROTTLED,
                    Role::Esme => CommandStatus::ESME_RX_T_APPN,
                });
                self.transmit
                    .extend(Pdu::error_response(&pdu, command_id, status));
                return;
            }
            *self
                .owed
                .entry(owed_key(pdu.sequence_number, command_id))
                .or_insert(0) += 1;
            self.owed_len += 1;
        }
        self.stats.requests_received += 1;
        self.events.push_back(Event::RequestReceived { pdu });
    }

    fn take_owed(&mut self, sequence_number: u32, request: CommandId) -> bool {
        let key = owed_key(sequence_number, request);
        let Some(count) = self.owed.get_mut(&key) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            self.owed.remove(&key);
        }
        self.owed_len -= 1;
        true
    }

    fn after_owed_answered(&mut self, now: u64) {
        match self.phase {
            Phase::PeerUnbinding { sequence_number } if self.owed_len == 0 => {
                self.finish_peer_unbind(sequence_number);
            }
            Phase::UnbindPending(_) => self.maybe_send_unbind(now),
            _ => {}
        }
    }

    /// Answers an illegal request with its `_resp` (generic_nack when it has none) carrying
    /// `status`, the sequence_number echoed (reference §4.3); the session goes on.
    fn refuse(&mut self, pdu: &Pdu, status: CommandStatus, kind: ViolationKind) {
        let command_id = pdu.command_id();
        let answer = Pdu::error_response(pdu, command_id, status).unwrap_or_else(|| {
            self.stats.generic_nacks_sent += 1;
            Pdu::generic_nack(pdu.sequence_number, status)
        });
        self.transmit.push_back(answer);
        self.stats.illegal_requests_answered += 1;
        self.violation(kind, command_id.as_u32(), pdu.sequence_number, Some(status));
    }

    fn violation(
        &mut self,
        kind: ViolationKind,
        command_id: u32,
        sequence_number: u32,
        answered: Option<CommandStatus>,
    ) {
        self.events.push_back(Event::ProtocolViolation(Violation {
            kind,
            command_id,
            sequence_number,
            answered,
        }));
    }

    fn maybe_send_unbind(&mut self, now: u64) {
        if matches!(self.phase, Phase::UnbindPending(_))
            && self.window.application_len() == 0
            && self.owed_len == 0
        {
            self.send_unbind(now);
        }
    }

    fn send_unbind(&mut self, now: u64) {
        let Ok(sequence_number) = self.window.register_internal(CommandId::Unbind) else {
            // Unreachable (one unbind at a time), but never hang: close.
            return self.close_with(CloseReason::UnbindTimeout);
        };
        self.transmit
            .push_back(Pdu::new(sequence_number, Body::Unbind));
        self.phase = Phase::UnbindSent;
        self.timers.stop(Timer::EnquireLinkIdle);
        self.timers.stop(Timer::Inactivity);
        self.timers
            .restart(Timer::Unbind, now, Some(self.config.unbind_timeout_ms));
    }

    fn restart_inactivity(&mut self, now: u64) {
        if matches!(self.phase, Phase::Bound(_)) {
            self.timers
                .restart(Timer::Inactivity, now, self.config.inactivity_timeout_ms);
        }
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        self.phase = Phase::Closed;
        self.timers.stop_all();
        self.ping = None;
        // Nothing silently dropped: every application request still out is reported, in
        // sequence_number order (bounded by the window; this allocation is once per session).
        let mut aborted: Vec<_> = std::iter::from_fn(|| self.window.pop_any())
            .filter(|outstanding| !outstanding.internal)
            .collect();
        aborted.sort_unstable_by_key(|outstanding| outstanding.sequence_number);
        self.stats.requests_aborted += aborted.len() as u64;
        self.events.extend(
            aborted
                .into_iter()
                .map(|outstanding| Event::RequestAborted {
                    sequence_number: outstanding.sequence_number,
                    command_id: outstanding.kind,
                }),
        );
        self.owed.clear();
        self.owed_len = 0;
        self.events.push_back(Event::Closed { reason });
    }

    fn invalid_state(&self, command_id: CommandId) -> SessionError {
        SessionError::InvalidState {
            command_id,
            state: self.state(),
        }
    }

    fn wrong_role(&self, command_id: CommandId) -> SessionError {
        SessionError::WrongRole {
            command_id,
            role: self.role,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::window::MAX_SEQUENCE_NUMBER;

    fn bound_esme() -> Session {
        let mut session = Session::new(Role::Esme, SessionConfig::default(), 0);
        let seq = session
            .bind(BindKind::Transceiver, Bind::default(), 0)
            .unwrap();
        session.handle_pdu(
            Pdu::new(seq, Body::BindTransceiverResp(BindResp::default())),
            0,
        );
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}
        session
    }

    #[test]
    fn wrapped_allocation_skips_numbers_still_outstanding() {
        let mut session = bound_esme();
        let one = session.send_request(Body::EnquireLink, 0).unwrap();
        let two = session.send_request(Body::EnquireLink, 0).unwrap();
        assert_eq!((one, two), (2, 3));
        // Pretend 2^31 - 4 requests went by: the counter is about to wrap onto 2 and 3.
        session.window.set_next_sequence_number(MAX_SEQUENCE_NUMBER);
        assert_eq!(
            session.send_request(Body::EnquireLink, 0),
            Ok(MAX_SEQUENCE_NUMBER)
        );
        assert_eq!(session.send_request(Body::EnquireLink, 0), Ok(1));
        assert_eq!(
            session.send_request(Body::EnquireLink, 0),
            Ok(4),
            "2 and 3 are outstanding"
        );
        // The responses still find the right requests.
        session.handle_pdu(Pdu::new(2, Body::EnquireLinkResp), 1);
        assert!(matches!(
            session.poll_event(),
            Some(Event::ResponseReceived {
                sequence_number: 2,
                ..
            })
        ));
    }

    #[test]
    fn internal_requests_do_not_use_application_slots() {
        let mut session = bound_esme();
        while session.window_available() {
            session.send_request(Body::EnquireLink, 0).unwrap();
        }
        session.on_idle(30_000);
        let ping = session
            .ping
            .expect("keep-alive sent despite the full window");
        assert_eq!(session.outstanding(), session.config.window_size);
        session.unbind(30_000).unwrap();
        // Unbind waits for the application's requests, not for our keep-alive.
        assert_eq!(session.state(), State::Unbinding);
        session.handle_pdu(Pdu::new(ping, Body::EnquireLinkResp), 30_001);
        assert_eq!(session.ping, None);
    }

    #[test]
    fn a_muted_session_answers_nothing_and_stays_open() {
        let mut session = Session::new(Role::Smsc, SessionConfig::default(), 0);
        session.handle_pdu(Pdu::new(1, Body::BindTransceiver(Bind::default())), 0);
        while session.poll_event().is_some() {}
        session.accept_bind(BindResp::default(), 0).unwrap();
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}

        session.mute();
        session.handle_pdu(Pdu::new(2, Body::EnquireLink), 1);
        session.handle_pdu(Pdu::new(3, Body::SubmitSm(Default::default())), 1);
        assert!(matches!(
            session.poll_event(),
            Some(Event::RequestReceived { .. })
        ));
        session
            .respond(
                3,
                CommandStatus::ESME_ROK,
                Body::SubmitSmResp(Default::default()),
                2,
            )
            .unwrap();
        session.handle_pdu(Pdu::new(4, Body::Unbind), 3);
        assert_eq!(session.poll_transmit(), None);
        assert_eq!(session.state(), State::Bound(BindKind::Transceiver));
        // Our own requests still go out.
        let sequence_number = session
            .send_request(Body::DeliverSm(Default::default()), 4)
            .unwrap();
        let sent = session.poll_transmit().expect("deliver_sm sent");
        assert_eq!(sent.sequence_number, sequence_number);
        let stats = session.stats();
        assert_eq!((stats.requests_ignored, stats.responses_withheld), (2, 1));
    }
}
