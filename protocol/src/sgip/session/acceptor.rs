//! The side that accepted an SGIP connection: checks the Bind (LoginType, Login Name,
//! Login Password), hands each request to the application and answers it only when told
//! (after the application stored it), and answers Unbind (SGIP 1.2 §5.1).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::{CloseReason, Event, Now, Role, SessionError, resp};
use crate::sgip::{
    Bind, Body, CommandId, Pdu, RESULT_BAD_FORMAT, RESULT_BAD_LOGIN_TYPE, RESULT_ILLEGAL_LOGIN,
    RESULT_NODE_BUSY, RESULT_OK, RESULT_REPEATED_LOGIN, Sequence, Sequencer,
};

/// An acceptor's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptorConfig {
    /// Who opened the connection: [`Role::Smg`] on the SP's report listener (Bind
    /// LoginType 2, Deliver and Report), [`Role::Sp`] on a simulated SMG (LoginType 1,
    /// Submit).
    pub peer: Role,
    /// Our node id (for the Unbind we may send).
    pub node_id: u32,
    /// Who may bind: (Login Name, Login Password). Empty: anyone.
    pub accounts: Vec<(Bytes, Bytes)>,
    /// Requests handed to the application and not answered yet, at most; one more is
    /// answered at once with Result 11 (node busy), which the peer sends again later.
    pub max_unanswered: usize,
    /// How long the peer has to Bind after connecting, and to answer our Unbind.
    pub response_timeout_ms: u64,
    /// Nothing received and nothing unanswered for this long: we send Unbind (the peer
    /// should have released the link itself). 0: never.
    pub idle_timeout_ms: u64,
}

/// Where an acceptor stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptorState {
    /// Connected; waiting for Bind until `deadline`.
    AwaitingBind {
        /// When we give up.
        deadline: u64,
    },
    /// Bound as this Login Name.
    Bound {
        /// The Login Name.
        login_name: Bytes,
    },
    /// Unbind sent; waiting for Unbind_Resp.
    Unbinding {
        /// When we give up waiting.
        deadline: u64,
        /// Why.
        reason: CloseReason,
    },
    /// Over; the driver closes the socket (after writing what is queued).
    Closed(CloseReason),
}

/// The accepting side of one SGIP connection. See the [module docs](super).
#[derive(Debug)]
pub struct Acceptor {
    config: AcceptorConfig,
    state: AcceptorState,
    sequencer: Sequencer,
    /// Requests handed out and not answered: sequence → the response's command.
    unanswered: BTreeMap<Sequence, CommandId>,
    transmit: VecDeque<Pdu>,
    events: VecDeque<Event>,
    last_heard: u64,
}

impl Acceptor {
    /// A connection accepted at `now_ms`, waiting for its Bind.
    #[must_use]
    pub fn new(config: AcceptorConfig, now_ms: u64) -> Self {
        let deadline = now_ms.saturating_add(config.response_timeout_ms);
        let sequencer = Sequencer::new(config.node_id);
        Self {
            config,
            state: AcceptorState::AwaitingBind { deadline },
            sequencer,
            unanswered: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_heard: now_ms,
        }
    }

    /// The current state.
    #[must_use]
    pub const fn state(&self) -> &AcceptorState {
        &self.state
    }

    /// The Login Name bound with, once bound.
    #[must_use]
    pub const fn login_name(&self) -> Option<&Bytes> {
        match &self.state {
            AcceptorState::Bound { login_name } => Some(login_name),
            _ => None,
        }
    }

    /// Requests handed out and not answered.
    #[must_use]
    pub fn unanswered(&self) -> usize {
        self.unanswered.len()
    }

    fn reply(&mut self, sequence: Sequence, body: Body) {
        self.transmit.push_back(Pdu { sequence, body });
    }

    fn close(&mut self, reason: CloseReason) {
        if matches!(self.state, AcceptorState::Closed(_)) {
            return;
        }
        self.state = AcceptorState::Closed(reason);
        // Unanswered requests are the peer's to send again on its next link.
        self.unanswered.clear();
        self.events.push_back(Event::Closed(reason));
    }

    /// The Bind_Resp Result for a Bind.
    fn check_bind(&self, bind: &Bind) -> u8 {
        if bind.login_type != self.config.peer.login_type() {
            return RESULT_BAD_LOGIN_TYPE;
        }
        if self.config.accounts.is_empty() {
            return RESULT_OK;
        }
        let known = self.config.accounts.iter().any(|(name, password)| {
            *name == bind.login_name && same_octets(password, &bind.login_password)
        });
        if known {
            RESULT_OK
        } else {
            RESULT_ILLEGAL_LOGIN
        }
    }

    /// A packet from the peer.
    pub fn handle_pdu(&mut self, now: Now, pdu: Pdu) {
        if matches!(self.state, AcceptorState::Closed(_)) {
            return;
        }
        self.last_heard = now.ms;
        let command = pdu.body.command_id();
        match (&self.state, pdu.body) {
            (AcceptorState::AwaitingBind { .. }, Body::Bind(bind)) => {
                let result = self.check_bind(&bind);
                self.reply(pdu.sequence, Body::BindResp(resp(result)));
                if result == RESULT_OK {
                    self.state = AcceptorState::Bound {
                        login_name: bind.login_name.clone(),
                    };
                    self.events.push_back(Event::Bound {
                        login_name: bind.login_name,
                    });
                } else {
                    self.close(CloseReason::BindRefused { result });
                }
            }
            // §5.1: the first packet on a connection is Bind.
            (AcceptorState::AwaitingBind { .. }, _) => self.close(CloseReason::ProtocolError),
            (_, Body::Bind(_)) => {
                self.reply(pdu.sequence, Body::BindResp(resp(RESULT_REPEATED_LOGIN)));
            }
            (_, Body::Unbind) => {
                self.reply(pdu.sequence, Body::UnbindResp);
                self.close(CloseReason::PeerUnbound);
            }
            (AcceptorState::Unbinding { reason, .. }, Body::UnbindResp) => {
                let reason = *reason;
                self.close(reason);
            }
            (AcceptorState::Bound { .. } | AcceptorState::Unbinding { .. }, body) => {
                match self.config.peer.response_to(command) {
                    Some(response) if self.unanswered.len() < self.config.max_unanswered => {
                        self.unanswered.insert(pdu.sequence, response);
                        self.events.push_back(Event::Request(Pdu {
                            sequence: pdu.sequence,
                            body,
                        }));
                    }
                    Some(response) => {
                        // Full: answered at once; the peer sends it again later.
                        self.reply(pdu.sequence, response_body(response, RESULT_NODE_BUSY));
                    }
                    None => self.events.push_back(Event::Unexpected(Pdu {
                        sequence: pdu.sequence,
                        body,
                    })),
                }
            }
            (AcceptorState::Closed(_), _) => {}
        }
    }

    /// Answers the request with `sequence` (Submit_Resp, Deliver_Resp or Report_Resp) with
    /// `result`, once the application has it safe.
    ///
    /// # Errors
    /// [`SessionError::UnknownRequest`] when no unanswered request has that sequence (the
    /// link closed since, or it was answered already).
    pub fn respond(&mut self, sequence: Sequence, result: u8) -> Result<(), SessionError> {
        let response = self
            .unanswered
            .remove(&sequence)
            .ok_or(SessionError::UnknownRequest { sequence })?;
        self.reply(sequence, response_body(response, result));
        Ok(())
    }

    /// A frame that did not decode. A request we would have accepted is answered Result 5
    /// (parameter format error) so the peer does not wait for it; anything else is dropped.
    pub fn handle_decode_error(&mut self, now: Now, error: &crate::sgip::DecodeError) {
        if matches!(self.state, AcceptorState::Closed(_)) {
            return;
        }
        self.last_heard = now.ms;
        if matches!(self.state, AcceptorState::AwaitingBind { .. }) {
            self.close(CloseReason::ProtocolError);
            return;
        }
        if let Some(response) = CommandId::from_u32(error.command_id)
            .and_then(|command| self.config.peer.response_to(command))
        {
            self.reply(error.sequence, response_body(response, RESULT_BAD_FORMAT));
        }
    }

    /// The stream broke (a length below the header or above the cap): close.
    pub fn handle_frame_error(&mut self) {
        self.close(CloseReason::ProtocolError);
    }

    /// Sends Unbind (shutting down); the link closes on Unbind_Resp or its timeout.
    pub fn unbind(&mut self, now: Now) {
        self.start_unbind(now, CloseReason::Unbound);
    }

    fn start_unbind(&mut self, now: Now, reason: CloseReason) {
        match self.state {
            AcceptorState::Bound { .. } => {
                let sequence = self.sequencer.next(now.stamp);
                self.reply(sequence, Body::Unbind);
                self.state = AcceptorState::Unbinding {
                    deadline: now.ms.saturating_add(self.config.response_timeout_ms),
                    reason,
                };
            }
            AcceptorState::AwaitingBind { .. } => self.close(reason),
            AcceptorState::Unbinding { .. } | AcceptorState::Closed(_) => {}
        }
    }

    /// Time passed: the bind deadline, the idle release, the Unbind deadline.
    pub fn handle_timeout(&mut self, now: Now) {
        match self.state {
            AcceptorState::AwaitingBind { deadline } if now.ms >= deadline => {
                self.close(CloseReason::BindTimedOut);
            }
            AcceptorState::Unbinding { deadline, reason } if now.ms >= deadline => {
                self.close(reason);
            }
            AcceptorState::Bound { .. } if self.idle_deadline().is_some_and(|at| now.ms >= at) => {
                self.start_unbind(now, CloseReason::Idle);
            }
            _ => {}
        }
    }

    fn idle_deadline(&self) -> Option<u64> {
        (matches!(self.state, AcceptorState::Bound { .. })
            && self.unanswered.is_empty()
            && self.config.idle_timeout_ms > 0)
            .then(|| self.last_heard.saturating_add(self.config.idle_timeout_ms))
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

    /// When [`Acceptor::handle_timeout`] must be called next (milliseconds), if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            AcceptorState::AwaitingBind { deadline }
            | AcceptorState::Unbinding { deadline, .. } => Some(deadline),
            AcceptorState::Bound { .. } => self.idle_deadline(),
            AcceptorState::Closed(_) => None,
        }
    }
}

/// The response `command` carrying `result`.
fn response_body(command: CommandId, result: u8) -> Body {
    let body = resp(result);
    match command {
        CommandId::SubmitResp => Body::SubmitResp(body),
        CommandId::DeliverResp => Body::DeliverResp(body),
        _ => Body::ReportResp(body),
    }
}

/// Compares two passwords without an early exit on the first differing octet.
fn same_octets(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
