//! A sans-IO session for the SP side of CMPP and SMGP (CMPP 3.0 §6, SMGP 3.0 §6): login
//! with a checked authenticator, a send window, ACTIVE_TEST heartbeats both ways, response
//! timeouts and TERMINATE/Exit. No socket, no clock: time comes in as `now` (milliseconds,
//! any origin). What differs between the protocols (packet types, the authenticators) is a
//! [`Dialect`]: `cmpp::session` and `smgp::session` supply theirs.
//!
//! Inputs: [`Session::login`], [`Session::handle_pdu`], [`Session::handle_decode_error`],
//! [`Session::handle_timeout`], [`Session::send_request`], [`Session::respond`],
//! [`Session::terminate`]. Outputs: [`Session::poll_transmit`], [`Session::poll_event`],
//! [`Session::poll_timeout`]. The driver drains the two queues after every input. They stay
//! bounded: requests by the window (a full window is refused with
//! [`SessionError::WindowFull`], the driver waits, nothing grows), the session's own answers
//! (ACTIVE_TEST_RESP, TERMINATE_RESP) by one per packet received, events by one per input.
//! A request enters the window before its packet is queued, so a fast response is never
//! "unknown".

use std::collections::{BTreeMap, VecDeque};

use std::fmt::Debug;

use bytes::Bytes;

/// What a protocol supplies to the session.
pub trait Dialect {
    /// Its packet.
    type Pdu: Debug + Clone + PartialEq;
    /// Its command ids.
    type Command: Debug + Copy + PartialEq;
    /// The id a DELIVER_RESP echoes.
    type MsgId: Debug + Copy;
    /// The login request (Sequence_Id `sequence`) and the authenticator its answer must be
    /// checked against.
    fn login(
        &self,
        login_name: &[u8],
        secret: &[u8],
        timestamp: u32,
        sequence: u32,
    ) -> (Self::Pdu, [u8; 16]);
    /// Whether a login answer with status 0 proves the gateway knows the secret.
    fn login_answer_proves_secret(
        &self,
        pdu: &Self::Pdu,
        authenticator: &[u8; 16],
        secret: &[u8],
    ) -> bool;
    /// What a received packet is to the session.
    fn incoming(&self, pdu: &Self::Pdu) -> Incoming;
    /// The header sequence of a packet.
    fn sequence_of(pdu: &Self::Pdu) -> u32;
    /// The command of a packet.
    fn command_of(pdu: &Self::Pdu) -> Self::Command;
    /// The packet with this header sequence.
    fn with_sequence(pdu: Self::Pdu, sequence: u32) -> Self::Pdu;
    /// For a request the SP sends through the window, the command of its response.
    fn response_to(command: Self::Command) -> Option<Self::Command>;
    /// ACTIVE_TEST with this sequence.
    fn active_test(sequence: u32) -> Self::Pdu;
    /// ACTIVE_TEST_RESP with this sequence.
    fn active_test_resp(sequence: u32) -> Self::Pdu;
    /// TERMINATE / Exit with this sequence.
    fn terminate(sequence: u32) -> Self::Pdu;
    /// TERMINATE_RESP / Exit_Resp with this sequence.
    fn terminate_resp(sequence: u32) -> Self::Pdu;
    /// DELIVER_RESP.
    fn deliver_resp(sequence: u32, msg_id: Self::MsgId, result: u32) -> Self::Pdu;
}

/// What a received packet is, as far as the session cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// The login answer: its status and the gateway's version octet.
    LoginResp {
        /// Status.
        status: u32,
        /// The gateway's version.
        version: u8,
    },
    /// ACTIVE_TEST.
    ActiveTest,
    /// ACTIVE_TEST_RESP.
    ActiveTestResp,
    /// TERMINATE / Exit.
    Terminate,
    /// TERMINATE_RESP / Exit_Resp.
    TerminateResp,
    /// DELIVER (MO or report).
    Deliver,
    /// The response to a windowed request.
    Response,
    /// Anything else.
    Other,
}

/// What the session needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The login name: CMPP Source_Addr (the SP's enterprise code), SMGP ClientID (the
    /// `system_id` of a carrier).
    pub login_name: Bytes,
    /// The shared secret (the `password` of a carrier).
    pub secret: Bytes,
    /// Most requests in flight (CMPP 3.0 §6.1 suggests 16).
    pub window: usize,
    /// How long a request may wait for its response.
    pub response_timeout_ms: u64,
    /// Idle time after which we send ACTIVE_TEST (§6.1: C = 3 minutes).
    pub active_test_interval_ms: u64,
    /// Unanswered ACTIVE_TESTs after which the link is dead (§6.1: N = 3).
    pub active_test_max_missed: u32,
}

/// Where the session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Nothing sent yet.
    Idle,
    /// Login sent; waiting for its answer.
    Connecting {
        /// Its Sequence_Id.
        sequence_id: u32,
        /// The authenticator to check the answer against.
        authenticator: [u8; 16],
        /// When it times out.
        deadline: u64,
    },
    /// Logged in: requests may be sent.
    Connected,
    /// TERMINATE sent; waiting for TERMINATE_RESP.
    Terminating {
        /// When we give up waiting.
        deadline: u64,
    },
    /// Over; the driver closes the socket.
    Closed,
}

/// Why the session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The login answer's Status was not 0 (CMPP 3, SMGP 21: authentication failed).
    LoginRefused {
        /// The Status.
        status: u32,
    },
    /// Status 0 but the answer's authenticator is not the one the secret gives: the peer
    /// does not know the secret.
    BadIsmgAuthenticator,
    /// No login answer in time.
    LoginTimedOut,
    /// `active_test_max_missed` ACTIVE_TESTs went unanswered.
    HeartbeatLost,
    /// The gateway sent TERMINATE / Exit.
    PeerTerminated,
    /// We terminated and the gateway answered (or did not, in time).
    Terminated,
    /// The stream could not be framed or the peer broke the protocol.
    ProtocolError,
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<P, C> {
    /// Logged in; the gateway's version octet.
    Connected {
        /// The login answer's version.
        version: u8,
    },
    /// The response to a request sent with [`Session::send_request`].
    Response {
        /// The request's Sequence_Id.
        sequence_id: u32,
        /// The response.
        pdu: P,
    },
    /// A request of ours got no response in time; its slot is free again.
    TimedOut {
        /// The request's Sequence_Id.
        sequence_id: u32,
        /// Its command.
        command: C,
    },
    /// A DELIVER (MO or status report): answer it with [`Session::respond`] once it is
    /// safely stored.
    Deliver(P),
    /// A packet the session did not expect (a response to nothing, a request the SP must
    /// not receive); logged, not fatal.
    Unexpected(P),
    /// The session is over.
    Closed(CloseReason),
}

/// Refused inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError<C: Debug> {
    /// The window is full: wait for a response or a timeout.
    #[error("the send window of {window} requests is full")]
    WindowFull {
        /// Its size.
        window: usize,
    },
    /// Not logged in (or already terminating/closed).
    #[error("not connected")]
    NotConnected,
    /// Only requests with a response (SUBMIT, QUERY, CANCEL) go through the window.
    #[error("{command:?} is not a request the SP sends through the window")]
    NotARequest {
        /// The command given.
        command: C,
    },
    /// [`Session::login`] twice.
    #[error("login called in state {state}")]
    AlreadyStarted {
        /// The state's name.
        state: &'static str,
    },
}

/// A sans-IO SP session. See the [module docs](self).
#[derive(Debug)]
pub struct Session<D: Dialect> {
    dialect: D,
    config: SessionConfig,
    state: State,
    next_sequence: u32,
    /// In-flight requests: Sequence_Id → (command, deadline). At most `config.window`.
    window: BTreeMap<u32, (D::Command, u64)>,
    transmit: VecDeque<D::Pdu>,
    events: VecDeque<Event<D::Pdu, D::Command>>,
    /// When we last received anything (the heartbeat measures idleness from here).
    last_heard: u64,
    /// Our unanswered ACTIVE_TEST: (Sequence_Id, deadline).
    active_test: Option<(u32, u64)>,
    missed: u32,
}

impl<D: Dialect> Session<D> {
    /// A session that has sent nothing yet.
    #[must_use]
    pub fn new(dialect: D, config: SessionConfig) -> Self {
        Self {
            dialect,
            config,
            state: State::Idle,
            next_sequence: 1,
            window: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_heard: 0,
            active_test: None,
            missed: 0,
        }
    }

    /// The current state.
    #[must_use]
    pub const fn state(&self) -> &State {
        &self.state
    }

    /// Requests in flight.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    fn sequence(&mut self) -> u32 {
        let sequence = self.next_sequence;
        // Sequence_Id cycles through 1..=u32::MAX; 0 is never used.
        self.next_sequence = self.next_sequence.checked_add(1).unwrap_or(1);
        sequence
    }

    /// Sends the login (CMPP CONNECT, SMGP Login). `timestamp` is the caller's wall clock
    /// as MMDDHHMMSS (see [`crate::china::auth::timestamp`]).
    ///
    /// # Errors
    /// [`SessionError::AlreadyStarted`] unless the session is idle.
    pub fn login(&mut self, now: u64, timestamp: u32) -> Result<(), SessionError<D::Command>> {
        if self.state != State::Idle {
            return Err(SessionError::AlreadyStarted {
                state: self.state_name(),
            });
        }
        let sequence_id = self.sequence();
        let (pdu, authenticator) = self.dialect.login(
            &self.config.login_name,
            &self.config.secret,
            timestamp,
            sequence_id,
        );
        self.state = State::Connecting {
            sequence_id,
            authenticator,
            deadline: now.saturating_add(self.config.response_timeout_ms),
        };
        self.last_heard = now;
        self.transmit.push_back(pdu);
        Ok(())
    }

    const fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle => "idle",
            State::Connecting { .. } => "connecting",
            State::Connected => "connected",
            State::Terminating { .. } => "terminating",
            State::Closed => "closed",
        }
    }

    /// Queues a windowed request (CMPP SUBMIT, QUERY, CANCEL; SMGP Submit); returns its
    /// sequence (the key of its [`Event::Response`]).
    ///
    /// # Errors
    /// [`SessionError::NotConnected`], [`SessionError::WindowFull`] (nothing queued: wait),
    /// [`SessionError::NotARequest`].
    pub fn send_request(&mut self, now: u64, pdu: D::Pdu) -> Result<u32, SessionError<D::Command>> {
        let command = D::command_of(&pdu);
        if D::response_to(command).is_none() {
            return Err(SessionError::NotARequest { command });
        }
        if self.state != State::Connected {
            return Err(SessionError::NotConnected);
        }
        if self.window.len() >= self.config.window {
            return Err(SessionError::WindowFull {
                window: self.config.window,
            });
        }
        let sequence_id = self.sequence();
        // Register before the bytes go out: a fast response always finds its slot.
        self.window.insert(
            sequence_id,
            (command, now.saturating_add(self.config.response_timeout_ms)),
        );
        self.transmit.push_back(D::with_sequence(pdu, sequence_id));
        Ok(sequence_id)
    }

    /// Answers a DELIVER (after storing it): DELIVER_RESP with its id and `result`.
    pub fn respond(&mut self, deliver_sequence_id: u32, msg_id: D::MsgId, result: u32) {
        if matches!(self.state, State::Connected | State::Terminating { .. }) {
            self.transmit
                .push_back(D::deliver_resp(deliver_sequence_id, msg_id, result));
        }
    }

    /// Sends TERMINATE / Exit; the session closes on its response or its timeout.
    pub fn terminate(&mut self, now: u64) {
        if matches!(
            self.state,
            State::Idle | State::Closed | State::Terminating { .. }
        ) {
            self.close(CloseReason::Terminated);
            return;
        }
        let sequence_id = self.sequence();
        self.transmit.push_back(D::terminate(sequence_id));
        self.state = State::Terminating {
            deadline: now.saturating_add(self.config.response_timeout_ms),
        };
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        for (sequence_id, (command, _)) in std::mem::take(&mut self.window) {
            self.events.push_back(Event::TimedOut {
                sequence_id,
                command,
            });
        }
        self.active_test = None;
        self.events.push_back(Event::Closed(reason));
    }

    /// A packet from the gateway.
    pub fn handle_pdu(&mut self, now: u64, pdu: D::Pdu) {
        if self.state == State::Closed {
            return;
        }
        self.last_heard = now;
        let sequence = D::sequence_of(&pdu);
        match (&self.state, self.dialect.incoming(&pdu)) {
            (
                State::Connecting {
                    sequence_id,
                    authenticator,
                    ..
                },
                Incoming::LoginResp { status, version },
            ) if *sequence_id == sequence => {
                let authenticator = *authenticator;
                if status != 0 {
                    self.close(CloseReason::LoginRefused { status });
                } else if !self.dialect.login_answer_proves_secret(
                    &pdu,
                    &authenticator,
                    &self.config.secret,
                ) {
                    self.close(CloseReason::BadIsmgAuthenticator);
                } else {
                    self.state = State::Connected;
                    self.events.push_back(Event::Connected { version });
                }
            }
            (State::Connecting { .. }, _) => self.events.push_back(Event::Unexpected(pdu)),
            (_, Incoming::ActiveTest) => self.transmit.push_back(D::active_test_resp(sequence)),
            (_, Incoming::ActiveTestResp) => {
                if self.active_test.is_some_and(|(ours, _)| ours == sequence) {
                    self.active_test = None;
                    self.missed = 0;
                } else {
                    self.events.push_back(Event::Unexpected(pdu));
                }
            }
            (_, Incoming::Terminate) => {
                self.transmit.push_back(D::terminate_resp(sequence));
                self.close(CloseReason::PeerTerminated);
            }
            (State::Terminating { .. }, Incoming::TerminateResp) => {
                self.close(CloseReason::Terminated);
            }
            (State::Connected | State::Terminating { .. }, Incoming::Deliver) => {
                self.events.push_back(Event::Deliver(pdu));
            }
            (State::Connected | State::Terminating { .. }, Incoming::Response) => {
                let command = D::command_of(&pdu);
                match self.window.remove(&sequence) {
                    Some((request, _)) if D::response_to(request) == Some(command) => {
                        self.events.push_back(Event::Response {
                            sequence_id: sequence,
                            pdu,
                        });
                    }
                    Some(entry) => {
                        // A response of the wrong kind does not free the request's slot.
                        self.window.insert(sequence, entry);
                        self.events.push_back(Event::Unexpected(pdu));
                    }
                    None => self.events.push_back(Event::Unexpected(pdu)),
                }
            }
            _ => self.events.push_back(Event::Unexpected(pdu)),
        }
    }

    /// A frame that did not decode. Neither protocol has a NACK: the packet is dropped, and
    /// an undecodable response leaves its request to time out.
    pub fn handle_decode_error(&mut self, now: u64) {
        self.last_heard = now;
    }

    /// The stream broke (a length field below the header or above the cap): close.
    pub fn handle_frame_error(&mut self) {
        self.close(CloseReason::ProtocolError);
    }

    /// Time passed: response timeouts, heartbeat, login and terminate deadlines.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.state {
            State::Connecting { deadline, .. } if now >= deadline => {
                self.close(CloseReason::LoginTimedOut);
                return;
            }
            State::Terminating { deadline } if now >= deadline => {
                self.close(CloseReason::Terminated);
                return;
            }
            State::Connected | State::Terminating { .. } => {}
            _ => return,
        }
        let expired: Vec<u32> = self
            .window
            .iter()
            .filter(|(_, (_, deadline))| now >= *deadline)
            .map(|(sequence_id, _)| *sequence_id)
            .collect();
        for sequence_id in expired {
            if let Some((command, _)) = self.window.remove(&sequence_id) {
                self.events.push_back(Event::TimedOut {
                    sequence_id,
                    command,
                });
            }
        }
        if self.state != State::Connected {
            return;
        }
        if let Some((_, deadline)) = self.active_test {
            if now >= deadline {
                self.active_test = None;
                self.missed += 1;
                if self.missed >= self.config.active_test_max_missed {
                    self.close(CloseReason::HeartbeatLost);
                    return;
                }
                self.send_active_test(now);
            }
        } else if now
            >= self
                .last_heard
                .saturating_add(self.config.active_test_interval_ms)
        {
            self.send_active_test(now);
        }
    }

    fn send_active_test(&mut self, now: u64) {
        let sequence_id = self.sequence();
        self.active_test = Some((
            sequence_id,
            now.saturating_add(self.config.response_timeout_ms),
        ));
        self.transmit.push_back(D::active_test(sequence_id));
    }

    /// The next packet to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<D::Pdu> {
        self.transmit.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<D::Pdu, D::Command>> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let window = self.window.values().map(|(_, deadline)| *deadline).min();
        let state = match self.state {
            State::Connecting { deadline, .. } | State::Terminating { deadline } => Some(deadline),
            State::Connected => Some(match self.active_test {
                Some((_, deadline)) => deadline,
                None => self
                    .last_heard
                    .saturating_add(self.config.active_test_interval_ms),
            }),
            State::Idle | State::Closed => None,
        };
        [window, state].into_iter().flatten().min()
    }
}
