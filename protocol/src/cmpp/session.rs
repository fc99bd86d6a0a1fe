//! A sans-IO CMPP session for the SP side (CMPP 3.0 §6): CONNECT with a checked
//! authenticator, a send window, ACTIVE_TEST heartbeats both ways, response timeouts and
//! TERMINATE. No socket, no clock: time comes in as `now` (milliseconds, any origin).
//!
//! Inputs: [`Session::connect`], [`Session::handle_pdu`], [`Session::handle_decode_error`],
//! [`Session::handle_timeout`], [`Session::send_request`], [`Session::respond`],
//! [`Session::terminate`]. Outputs: [`Session::poll_transmit`], [`Session::poll_event`],
//! [`Session::poll_timeout`]. The driver drains the two queues after every input. They stay
//! bounded: requests by the window (a full window is refused with
//! [`SessionError::WindowFull`], the driver waits, nothing grows), the session's own answers
//! (ACTIVE_TEST_RESP, TERMINATE_RESP) by one per packet received, events by one per input.
//! A request enters the window before its packet is queued, so a fast response is never
//! "unknown".

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::pdu::{ActiveTestResp, Body, Connect, DeliverResp, Pdu};
use super::{CommandId, DecodeError, Version, authenticator_source, check_authenticator_ismg};

/// What the session needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The link's version.
    pub version: Version,
    /// Source_Addr: the SP's enterprise code (the `system_id` of a carrier).
    pub source_addr: Bytes,
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
    /// CONNECT sent; waiting for CONNECT_RESP.
    Connecting {
        /// Its Sequence_Id.
        sequence_id: u32,
        /// The AuthenticatorSource sent, to check AuthenticatorISMG against.
        authenticator_source: [u8; 16],
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
    /// CONNECT_RESP Status was not 0 (3: authentication failed).
    LoginRefused {
        /// The Status.
        status: u32,
    },
    /// CONNECT_RESP Status 0 but its AuthenticatorISMG is not MD5(Status +
    /// AuthenticatorSource + secret): the peer does not know the secret.
    BadIsmgAuthenticator,
    /// No CONNECT_RESP in time.
    LoginTimedOut,
    /// `active_test_max_missed` ACTIVE_TESTs went unanswered.
    HeartbeatLost,
    /// The ISMG sent TERMINATE.
    PeerTerminated,
    /// We terminated and the ISMG answered (or did not, in time).
    Terminated,
    /// The stream could not be framed or the peer broke the protocol.
    ProtocolError,
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Logged in; the ISMG's Version octet.
    Connected {
        /// CONNECT_RESP Version.
        version: u8,
    },
    /// The response to a request sent with [`Session::send_request`].
    Response {
        /// The request's Sequence_Id.
        sequence_id: u32,
        /// The response.
        pdu: Pdu,
    },
    /// A request of ours got no response in time; its slot is free again.
    TimedOut {
        /// The request's Sequence_Id.
        sequence_id: u32,
        /// Its command.
        command: CommandId,
    },
    /// A DELIVER (MO or status report): answer it with [`Session::respond`] once it is
    /// safely stored.
    Deliver(Pdu),
    /// A packet the session did not expect (a response to nothing, a request the SP must
    /// not receive); logged, not fatal.
    Unexpected(Pdu),
    /// The session is over.
    Closed(CloseReason),
}

/// Refused inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The window is full: wait for a response or a timeout.
    #[error("the send window of {window} requests is full")]
    WindowFull {
        /// Its size.
        window: usize,
    },
    /// Not logged in (or already terminating/closed).
    #[error("not connected")]
    NotConnected,
    /// Only SUBMIT, QUERY and CANCEL go through the window.
    #[error("{command:?} is not a request the SP sends through the window")]
    NotARequest {
        /// The command given.
        command: CommandId,
    },
    /// [`Session::connect`] twice.
    #[error("connect called in state {state}")]
    AlreadyStarted {
        /// The state's name.
        state: &'static str,
    },
}

/// A sans-IO CMPP SP session. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    next_sequence: u32,
    /// In-flight requests: Sequence_Id → (command, deadline). At most `config.window`.
    window: BTreeMap<u32, (CommandId, u64)>,
    transmit: VecDeque<Pdu>,
    events: VecDeque<Event>,
    /// When we last received anything (the heartbeat measures idleness from here).
    last_heard: u64,
    /// Our unanswered ACTIVE_TEST: (Sequence_Id, deadline).
    active_test: Option<(u32, u64)>,
    missed: u32,
}

impl Session {
    /// A session that has sent nothing yet.
    #[must_use]
    pub fn new(config: SessionConfig) -> Self {
        Self {
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

    /// Sends CONNECT. `timestamp` is the caller's wall clock as MMDDHHMMSS (see
    /// [`crate::china::auth::timestamp`]).
    ///
    /// # Errors
    /// [`SessionError::AlreadyStarted`] unless the session is idle.
    pub fn connect(&mut self, now: u64, timestamp: u32) -> Result<(), SessionError> {
        if self.state != State::Idle {
            return Err(SessionError::AlreadyStarted {
                state: self.state_name(),
            });
        }
        let authenticator =
            authenticator_source(&self.config.source_addr, &self.config.secret, timestamp);
        let sequence_id = self.sequence();
        self.state = State::Connecting {
            sequence_id,
            authenticator_source: authenticator,
            deadline: now.saturating_add(self.config.response_timeout_ms),
        };
        self.last_heard = now;
        self.transmit.push_back(Pdu {
            sequence_id,
            body: Body::Connect(Connect {
                source_addr: self.config.source_addr.clone(),
                authenticator_source: authenticator,
                version: self.config.version.octet(),
                timestamp,
            }),
        });
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

    /// Queues a SUBMIT, QUERY or CANCEL; returns its Sequence_Id (the key of its
    /// [`Event::Response`]).
    ///
    /// # Errors
    /// [`SessionError::NotConnected`], [`SessionError::WindowFull`] (nothing queued: wait),
    /// [`SessionError::NotARequest`].
    pub fn send_request(&mut self, now: u64, body: Body) -> Result<u32, SessionError> {
        let command = body.command_id();
        if !matches!(
            command,
            CommandId::Submit | CommandId::Query | CommandId::Cancel
        ) {
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
        self.transmit.push_back(Pdu { sequence_id, body });
        Ok(sequence_id)
    }

    /// Answers a DELIVER (after storing it): DELIVER_RESP with its Msg_Id and `result`.
    pub fn respond(&mut self, deliver_sequence_id: u32, msg_id: u64, result: u32) {
        if matches!(self.state, State::Connected | State::Terminating { .. }) {
            self.transmit.push_back(Pdu {
                sequence_id: deliver_sequence_id,
                body: Body::DeliverResp(DeliverResp { msg_id, result }),
            });
        }
    }

    /// Sends TERMINATE (§7.4.3.2); the session closes on TERMINATE_RESP or its timeout.
    pub fn terminate(&mut self, now: u64) {
        if matches!(
            self.state,
            State::Idle | State::Closed | State::Terminating { .. }
        ) {
            self.close(CloseReason::Terminated);
            return;
        }
        let sequence_id = self.sequence();
        self.transmit.push_back(Pdu {
            sequence_id,
            body: Body::Terminate,
        });
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

    /// A packet from the ISMG.
    pub fn handle_pdu(&mut self, now: u64, pdu: Pdu) {
        if self.state == State::Closed {
            return;
        }
        self.last_heard = now;
        match (&self.state, &pdu.body) {
            (
                State::Connecting {
                    sequence_id,
                    authenticator_source,
                    ..
                },
                Body::ConnectResp(resp),
            ) if *sequence_id == pdu.sequence_id => {
                if resp.status != 0 {
                    self.close(CloseReason::LoginRefused {
                        status: resp.status,
                    });
                } else if !check_authenticator_ismg(
                    self.config.version,
                    resp,
                    authenticator_source,
                    &self.config.secret,
                ) {
                    self.close(CloseReason::BadIsmgAuthenticator);
                } else {
                    self.state = State::Connected;
                    self.events.push_back(Event::Connected {
                        version: resp.version,
                    });
                }
            }
            (State::Connecting { .. }, _) => {
                self.events.push_back(Event::Unexpected(pdu));
            }
            (_, Body::ActiveTest) => self.transmit.push_back(Pdu {
                sequence_id: pdu.sequence_id,
                body: Body::ActiveTestResp(ActiveTestResp::default()),
            }),
            (_, Body::ActiveTestResp(_)) => {
                if self
                    .active_test
                    .is_some_and(|(sequence_id, _)| sequence_id == pdu.sequence_id)
                {
                    self.active_test = None;
                    self.missed = 0;
                } else {
                    self.events.push_back(Event::Unexpected(pdu));
                }
            }
            (_, Body::Terminate) => {
                self.transmit.push_back(Pdu {
                    sequence_id: pdu.sequence_id,
                    body: Body::TerminateResp,
                });
                self.close(CloseReason::PeerTerminated);
            }
            (State::Terminating { .. }, Body::TerminateResp) => self.close(CloseReason::Terminated),
            (State::Connected | State::Terminating { .. }, Body::Deliver(_)) => {
                self.events.push_back(Event::Deliver(pdu));
            }
            (
                State::Connected | State::Terminating { .. },
                Body::SubmitResp(_) | Body::QueryResp(_) | Body::CancelResp(_),
            ) => {
                match self.window.remove(&pdu.sequence_id) {
                    Some((command, _)) if response_to(command) == Some(pdu.body.command_id()) => {
                        self.events.push_back(Event::Response {
                            sequence_id: pdu.sequence_id,
                            pdu,
                        });
                    }
                    Some(entry) => {
                        // A response of the wrong kind does not free the request's slot.
                        self.window.insert(pdu.sequence_id, entry);
                        self.events.push_back(Event::Unexpected(pdu));
                    }
                    None => self.events.push_back(Event::Unexpected(pdu)),
                }
            }
            _ => self.events.push_back(Event::Unexpected(pdu)),
        }
    }

    /// A frame that did not decode. A CMPP peer gets no NACK (the protocol has none): the
    /// packet is dropped, and an undecodable response leaves its request to time out.
    pub fn handle_decode_error(&mut self, now: u64, _error: &DecodeError) {
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
        self.transmit.push_back(Pdu {
            sequence_id,
            body: Body::ActiveTest,
        });
    }

    /// The next packet to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Pdu> {
        self.transmit.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
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

/// The response command of a windowed request.
const fn response_to(command: CommandId) -> Option<CommandId> {
    match command {
        CommandId::Submit => Some(CommandId::SubmitResp),
        CommandId::Query => Some(CommandId::QueryResp),
        CommandId::Cancel => Some(CommandId::CancelResp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmpp::{ConnectResp, Deliver, SubmitResp, authenticator_ismg};

    const SECRET: &[u8] = b"secret";

    fn config() -> SessionConfig {
        SessionConfig {
            version: Version::V3,
            source_addr: Bytes::from_static(b"901234"),
            secret: Bytes::from_static(SECRET),
            window: 2,
            response_timeout_ms: 1_000,
            active_test_interval_ms: 10_000,
            active_test_max_missed: 3,
        }
    }

    fn transmitted(session: &mut Session) -> Vec<Pdu> {
        std::iter::from_fn(|| session.poll_transmit()).collect()
    }

    fn events(session: &mut Session) -> Vec<Event> {
        std::iter::from_fn(|| session.poll_event()).collect()
    }

    /// The ISMG's answer to the CONNECT the session just sent.
    fn connect_resp(connect: &Pdu, status: u32, secret: &[u8]) -> Pdu {
        let Body::Connect(c) = &connect.body else {
            panic!("{connect:?}")
        };
        Pdu {
            sequence_id: connect.sequence_id,
            body: Body::ConnectResp(ConnectResp {
                status,
                authenticator_ismg: authenticator_ismg(
                    Version::V3,
                    status,
                    &c.authenticator_source,
                    secret,
                ),
                version: 0x30,
            }),
        }
    }

    fn connected() -> Session {
        let mut session = Session::new(config());
        session.connect(0, 1_206_071_900).unwrap();
        let connect = transmitted(&mut session).remove(0);
        session.handle_pdu(5, connect_resp(&connect, 0, SECRET));
        assert_eq!(events(&mut session), [Event::Connected { version: 0x30 }]);
        session
    }

    /// A windowed request (CANCEL: the smallest of the three).
    fn submit_body() -> Body {
        Body::Cancel(crate::cmpp::Cancel { msg_id: 1 })
    }

    #[test]
    fn connect_sends_the_authenticator_and_checks_the_ismg_answer() {
        let mut session = Session::new(config());
        session.connect(0, 1_206_071_900).unwrap();
        let sent = transmitted(&mut session);
        let Body::Connect(c) = &sent[0].body else {
            panic!("{sent:?}")
        };
        assert_eq!(
            c.authenticator_source,
            authenticator_source(b"901234", SECRET, 1_206_071_900)
        );
        assert_eq!((c.version, c.timestamp), (0x30, 1_206_071_900));
        assert_eq!(session.poll_timeout(), Some(1_000));
        assert_eq!(
            session.connect(1, 1),
            Err(SessionError::AlreadyStarted {
                state: "connecting"
            })
        );
        assert_eq!(
            session.send_request(1, submit_body()),
            Err(SessionError::NotConnected)
        );
        session.handle_pdu(5, connect_resp(&sent[0], 0, SECRET));
        assert_eq!(session.state(), &State::Connected);
    }

    #[test]
    fn an_ismg_that_does_not_know_the_secret_is_refused() {
        let mut session = Session::new(config());
        session.connect(0, 1_206_071_900).unwrap();
        let connect = transmitted(&mut session).remove(0);
        session.handle_pdu(5, connect_resp(&connect, 0, b"guess"));
        assert_eq!(
            events(&mut session),
            [Event::Closed(CloseReason::BadIsmgAuthenticator)]
        );
        assert_eq!(session.state(), &State::Closed);
    }

    #[test]
    fn login_refused_and_login_timeout() {
        let mut session = Session::new(config());
        session.connect(0, 1).unwrap();
        let connect = transmitted(&mut session).remove(0);
        session.handle_pdu(
            5,
            connect_resp(&connect, crate::cmpp::STATUS_AUTH_FAILED, SECRET),
        );
        assert_eq!(
            events(&mut session),
            [Event::Closed(CloseReason::LoginRefused { status: 3 })]
        );

        let mut session = Session::new(config());
        session.connect(0, 1).unwrap();
        session.handle_timeout(999);
        assert!(events(&mut session).is_empty());
        session.handle_timeout(1_000);
        assert_eq!(
            events(&mut session),
            [Event::Closed(CloseReason::LoginTimedOut)]
        );
        assert_eq!(session.poll_timeout(), None);
    }

    #[test]
    fn the_window_bounds_requests_and_responses_free_it() {
        let mut session = connected();
        let first = session.send_request(10, submit_body()).unwrap();
        let second = session.send_request(11, submit_body()).unwrap();
        assert_eq!(
            session.send_request(12, submit_body()),
            Err(SessionError::WindowFull { window: 2 })
        );
        assert_eq!(transmitted(&mut session).len(), 2);
        assert_eq!(
            session.send_request(12, Body::ActiveTest),
            Err(SessionError::NotARequest {
                command: CommandId::ActiveTest
            })
        );
        // A response to nothing is reported, and frees nothing.
        let stray = Pdu {
            sequence_id: 999,
            body: Body::CancelResp(crate::cmpp::CancelResp { success_id: 0 }),
        };
        session.handle_pdu(20, stray.clone());
        assert_eq!(events(&mut session), [Event::Unexpected(stray)]);
        // A response of the wrong kind does not free the slot either.
        let wrong = Pdu {
            sequence_id: first,
            body: Body::SubmitResp(SubmitResp {
                msg_id: 1,
                result: 0,
            }),
        };
        session.handle_pdu(21, wrong.clone());
        assert_eq!(events(&mut session), [Event::Unexpected(wrong)]);
        assert_eq!(session.in_flight(), 2);
        let resp = Pdu {
            sequence_id: first,
            body: Body::CancelResp(crate::cmpp::CancelResp { success_id: 0 }),
        };
        session.handle_pdu(22, resp.clone());
        assert_eq!(
            events(&mut session),
            [Event::Response {
                sequence_id: first,
                pdu: resp
            }]
        );
        assert!(session.send_request(23, submit_body()).is_ok());
        assert_ne!(first, second);
    }

    #[test]
    fn unanswered_requests_time_out_and_free_their_slot() {
        let mut session = connected();
        let sequence_id = session.send_request(100, submit_body()).unwrap();
        assert_eq!(session.poll_timeout(), Some(1_100));
        session.handle_timeout(1_099);
        assert!(events(&mut session).is_empty());
        session.handle_timeout(1_100);
        assert_eq!(
            events(&mut session),
            [Event::TimedOut {
                sequence_id,
                command: CommandId::Cancel
            }]
        );
        assert_eq!(session.in_flight(), 0);
    }

    #[test]
    fn heartbeat_when_idle_and_link_dead_after_three_misses() {
        let mut session = connected();
        // Last heard at 5 (the CONNECT_RESP): the first ACTIVE_TEST is due at 10 005.
        assert_eq!(session.poll_timeout(), Some(10_005));
        session.handle_timeout(10_004);
        assert!(transmitted(&mut session).is_empty());
        session.handle_timeout(10_005);
        let sent = transmitted(&mut session);
        assert_eq!(sent[0].body, Body::ActiveTest);
        // Answered: the link is alive, the next one is due after another idle interval.
        session.handle_pdu(
            10_100,
            Pdu {
                sequence_id: sent[0].sequence_id,
                body: Body::ActiveTestResp(ActiveTestResp::default()),
            },
        );
        assert!(events(&mut session).is_empty());
        assert_eq!(session.poll_timeout(), Some(20_100));
        // Three unanswered in a row (each waits response_timeout_ms, then the next goes
        // out): dead at the third deadline.
        for now in [20_100, 21_100, 22_100] {
            assert_eq!(session.poll_timeout(), Some(now));
            session.handle_timeout(now);
            let out = transmitted(&mut session);
            assert_eq!(out.len(), 1, "at {now}");
            assert_eq!(out[0].body, Body::ActiveTest);
            assert!(events(&mut session).is_empty());
        }
        session.handle_timeout(23_099);
        assert_eq!(session.state(), &State::Connected);
        session.handle_timeout(23_100);
        assert!(transmitted(&mut session).is_empty());
        assert_eq!(
            events(&mut session).last(),
            Some(&Event::Closed(CloseReason::HeartbeatLost))
        );
        assert_eq!(session.state(), &State::Closed);
    }

    #[test]
    fn peer_active_test_deliver_and_terminate() {
        let mut session = connected();
        session.handle_pdu(
            50,
            Pdu {
                sequence_id: 77,
                body: Body::ActiveTest,
            },
        );
        assert_eq!(
            transmitted(&mut session),
            [Pdu {
                sequence_id: 77,
                body: Body::ActiveTestResp(ActiveTestResp::default())
            }]
        );
        let deliver = Pdu {
            sequence_id: 78,
            body: Body::Deliver(Deliver {
                msg_id: 42,
                dest_id: Bytes::from_static(b"10690001"),
                service_id: Bytes::new(),
                tp_pid: 0,
                tp_udhi: 0,
                msg_fmt: 0,
                src_terminal_id: Bytes::from_static(b"13800138000"),
                src_terminal_type: 0,
                registered_delivery: 0,
                msg_content: Bytes::from_static(b"hi"),
                link_id: Bytes::new(),
                reserve: Bytes::new(),
            }),
        };
        session.handle_pdu(51, deliver.clone());
        assert_eq!(events(&mut session), [Event::Deliver(deliver)]);
        // Nothing is acknowledged until the application says it is stored.
        assert!(transmitted(&mut session).is_empty());
        session.respond(78, 42, 0);
        assert_eq!(
            transmitted(&mut session),
            [Pdu {
                sequence_id: 78,
                body: Body::DeliverResp(DeliverResp {
                    msg_id: 42,
                    result: 0
                })
            }]
        );
        let in_flight = session.send_request(52, submit_body()).unwrap();
        let _ = transmitted(&mut session);
        session.handle_pdu(
            53,
            Pdu {
                sequence_id: 79,
                body: Body::Terminate,
            },
        );
        assert_eq!(
            transmitted(&mut session),
            [Pdu {
                sequence_id: 79,
                body: Body::TerminateResp
            }]
        );
        assert_eq!(
            events(&mut session),
            [
                Event::TimedOut {
                    sequence_id: in_flight,
                    command: CommandId::Cancel
                },
                Event::Closed(CloseReason::PeerTerminated)
            ]
        );
    }

    #[test]
    fn our_terminate_closes_on_its_response_or_its_timeout() {
        let mut session = connected();
        session.terminate(100);
        let sent = transmitted(&mut session);
        assert_eq!(sent[0].body, Body::Terminate);
        assert_eq!(
            session.send_request(101, submit_body()),
            Err(SessionError::NotConnected)
        );
        session.handle_pdu(
            102,
            Pdu {
                sequence_id: sent[0].sequence_id,
                body: Body::TerminateResp,
            },
        );
        assert_eq!(
            events(&mut session),
            [Event::Closed(CloseReason::Terminated)]
        );

        let mut session = connected();
        session.terminate(100);
        session.handle_timeout(1_100);
        assert_eq!(
            events(&mut session),
            [Event::Closed(CloseReason::Terminated)]
        );
    }
}
