//! The side that opened an SGIP connection: Bind, requests through a window, Unbind when
//! idle or asked (SGIP 1.2 §5.1).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::{CloseReason, Event, Now, Role, SessionError};
use crate::sgip::{Bind, Body, CommandId, Pdu, RESULT_OK, Sequence, Sequencer};

/// An initiator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatorConfig {
    /// SP or SMG: the LoginType and what may be sent.
    pub role: Role,
    /// Our node id, the first word of every sequence triple (an SP's is `3` + area code +
    /// corp code, assigned by the carrier).
    pub node_id: u32,
    /// Login Name (at most 16 octets).
    pub login_name: Bytes,
    /// Login Password (at most 16 octets).
    pub login_password: Bytes,
    /// Most requests in flight.
    pub window: usize,
    /// How long Bind, a request or Unbind may wait for its response.
    pub response_timeout_ms: u64,
    /// Idle time (nothing in flight, nothing sent or received) after which the link is
    /// released with Unbind. 0: never.
    pub idle_timeout_ms: u64,
}

/// Where an initiator stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitiatorState {
    /// Nothing sent yet.
    Idle,
    /// Bind sent; waiting for Bind_Resp.
    Binding {
        /// The Bind's sequence.
        sequence: Sequence,
        /// When it times out.
        deadline: u64,
    },
    /// Bound: requests may be sent.
    Bound,
    /// Unbind sent; waiting for Unbind_Resp.
    Unbinding {
        /// When we give up waiting.
        deadline: u64,
        /// Why we unbound.
        reason: CloseReason,
    },
    /// Over; the driver closes the socket. [`Initiator::bind`] starts again (on a new
    /// connection).
    Closed(CloseReason),
}

/// The opening side of one SGIP connection. See the [module docs](super).
#[derive(Debug)]
pub struct Initiator {
    config: InitiatorConfig,
    state: InitiatorState,
    sequencer: Sequencer,
    /// In flight: sequence → (command, deadline). At most `config.window`.
    window: BTreeMap<Sequence, (CommandId, u64)>,
    transmit: VecDeque<Pdu>,
    events: VecDeque<Event>,
    /// When we last sent or received anything.
    last_activity: u64,
}

impl Initiator {
    /// A link that has sent nothing yet.
    #[must_use]
    pub fn new(config: InitiatorConfig) -> Self {
        let sequencer = Sequencer::new(config.node_id);
        Self::with_sequencer(config, sequencer)
    }

    /// A link that has sent nothing yet, numbering with `sequencer` (whose node id wins
    /// over `config.node_id`): several links of one node (bind slots, a re-bound link)
    /// must not hand out the same triple, since a Report is matched by it.
    #[must_use]
    pub fn with_sequencer(config: InitiatorConfig, sequencer: Sequencer) -> Self {
        Self {
            config,
            state: InitiatorState::Idle,
            sequencer,
            window: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_activity: 0,
        }
    }

    /// The current state.
    #[must_use]
    pub const fn state(&self) -> &InitiatorState {
        &self.state
    }

    /// Whether requests may be sent.
    #[must_use]
    pub const fn is_bound(&self) -> bool {
        matches!(self.state, InitiatorState::Bound)
    }

    /// Requests in flight.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    const fn state_name(&self) -> &'static str {
        match self.state {
            InitiatorState::Idle => "idle",
            InitiatorState::Binding { .. } => "binding",
            InitiatorState::Bound => "bound",
            InitiatorState::Unbinding { .. } => "unbinding",
            InitiatorState::Closed(_) => "closed",
        }
    }

    fn send(&mut self, now: Now, body: Body) -> Sequence {
        let sequence = self.sequencer.next(now.stamp);
        self.transmit.push_back(Pdu { sequence, body });
        self.last_activity = now.ms;
        sequence
    }

    /// Sends Bind with the role's LoginType, on a fresh connection: at first, or again
    /// after the link closed (re-bound on demand after an idle Unbind).
    ///
    /// # Errors
    /// [`SessionError::AlreadyBound`] while binding, bound or unbinding.
    pub fn bind(&mut self, now: Now) -> Result<(), SessionError> {
        if !matches!(self.state, InitiatorState::Idle | InitiatorState::Closed(_)) {
            return Err(SessionError::AlreadyBound {
                state: self.state_name(),
            });
        }
        // A previous connection's leftovers are not for this one.
        self.transmit.clear();
        let bind = Body::Bind(Bind {
            login_type: self.config.role.login_type(),
            login_name: self.config.login_name.clone(),
            login_password: self.config.login_password.clone(),
            reserve: Bytes::new(),
        });
        let sequence = self.send(now, bind);
        self.state = InitiatorState::Binding {
            sequence,
            deadline: now.ms.saturating_add(self.config.response_timeout_ms),
        };
        Ok(())
    }

    /// Queues a request (SP: Submit; SMG: Deliver, Report) with a fresh sequence, which is
    /// returned: the key of its [`Event::Response`] and, for a Submit, of its Report.
    ///
    /// # Errors
    /// [`SessionError::NotARequest`], [`SessionError::NotBound`],
    /// [`SessionError::WindowFull`] (nothing queued: wait).
    pub fn send_request(&mut self, now: Now, body: Body) -> Result<Sequence, SessionError> {
        let command = body.command_id();
        if self.config.role.response_to(command).is_none() {
            return Err(SessionError::NotARequest { command });
        }
        if !self.is_bound() {
            return Err(SessionError::NotBound);
        }
        if self.window.len() >= self.config.window {
            return Err(SessionError::WindowFull {
                window: self.config.window,
            });
        }
        // Register before the bytes go out: a fast response always finds its slot.
        let sequence = self.sequencer.next(now.stamp);
        self.window.insert(
            sequence,
            (
                command,
                now.ms.saturating_add(self.config.response_timeout_ms),
            ),
        );
        self.transmit.push_back(Pdu { sequence, body });
        self.last_activity = now.ms;
        Ok(sequence)
    }

    /// Sends Unbind; the link closes on Unbind_Resp or its timeout. Before a bind or after
    /// the close it just closes.
    pub fn unbind(&mut self, now: Now) {
        self.start_unbind(now, CloseReason::Unbound);
    }

    fn start_unbind(&mut self, now: Now, reason: CloseReason) {
        match self.state {
            InitiatorState::Bound | InitiatorState::Binding { .. } => {
                self.send(now, Body::Unbind);
                self.state = InitiatorState::Unbinding {
                    deadline: now.ms.saturating_add(self.config.response_timeout_ms),
                    reason,
                };
            }
            InitiatorState::Unbinding { .. } | InitiatorState::Closed(_) => {}
            InitiatorState::Idle => self.close(reason),
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if matches!(self.state, InitiatorState::Closed(_)) {
            return;
        }
        self.state = InitiatorState::Closed(reason);
        for (sequence, (command, _)) in std::mem::take(&mut self.window) {
            self.events.push_back(Event::TimedOut { sequence, command });
        }
        self.events.push_back(Event::Closed(reason));
    }

    /// A packet from the peer.
    pub fn handle_pdu(&mut self, now: Now, pdu: Pdu) {
        if matches!(self.state, InitiatorState::Closed(_) | InitiatorState::Idle) {
            return;
        }
        self.last_activity = now.ms;
        let command = pdu.body.command_id();
        match (&self.state, &pdu.body) {
            (InitiatorState::Binding { sequence, .. }, Body::BindResp(resp))
                if *sequence == pdu.sequence =>
            {
                if resp.result == RESULT_OK {
                    self.state = InitiatorState::Bound;
                    self.events.push_back(Event::Bound {
                        login_name: Bytes::new(),
                    });
                } else {
                    self.close(CloseReason::BindRefused {
                        result: resp.result,
                    });
                }
            }
            (_, Body::Unbind) => {
                self.transmit.push_back(Pdu {
                    sequence: pdu.sequence,
                    body: Body::UnbindResp,
                });
                self.close(CloseReason::PeerUnbound);
            }
            (InitiatorState::Unbinding { reason, .. }, Body::UnbindResp) => {
                let reason = *reason;
                self.close(reason);
            }
            (InitiatorState::Bound | InitiatorState::Unbinding { .. }, _)
                if command.is_response() && command != CommandId::BindResp =>
            {
                match self.window.remove(&pdu.sequence) {
                    Some((request, _))
                        if self.config.role.response_to(request) == Some(command) =>
                    {
                        self.events.push_back(Event::Response {
                            sequence: pdu.sequence,
                            pdu,
                        });
                    }
                    Some(entry) => {
                        // A response of the wrong kind does not free the request's slot.
                        self.window.insert(pdu.sequence, entry);
                        self.events.push_back(Event::Unexpected(pdu));
                    }
                    None => self.events.push_back(Event::Unexpected(pdu)),
                }
            }
            _ => self.events.push_back(Event::Unexpected(pdu)),
        }
    }

    /// A frame that did not decode: SGIP has no NACK, so it is dropped (an undecodable
    /// response leaves its request to time out).
    pub fn handle_decode_error(&mut self, now: Now) {
        if !matches!(self.state, InitiatorState::Closed(_)) {
            self.last_activity = now.ms;
        }
    }

    /// The stream broke (a length below the header or above the cap): close.
    pub fn handle_frame_error(&mut self) {
        self.close(CloseReason::ProtocolError);
    }

    /// Time passed: response, bind and unbind deadlines, and the idle release.
    pub fn handle_timeout(&mut self, now: Now) {
        match self.state {
            InitiatorState::Binding { deadline, .. } if now.ms >= deadline => {
                self.close(CloseReason::BindTimedOut);
                return;
            }
            InitiatorState::Unbinding { deadline, reason } if now.ms >= deadline => {
                self.close(reason);
                return;
            }
            InitiatorState::Bound | InitiatorState::Unbinding { .. } => {}
            _ => return,
        }
        let expired: Vec<Sequence> = self
            .window
            .iter()
            .filter(|(_, (_, deadline))| now.ms >= *deadline)
            .map(|(sequence, _)| *sequence)
            .collect();
        for sequence in expired {
            if let Some((command, _)) = self.window.remove(&sequence) {
                self.events.push_back(Event::TimedOut { sequence, command });
            }
        }
        if let Some(idle_at) = self.idle_deadline()
            && now.ms >= idle_at
        {
            self.start_unbind(now, CloseReason::Idle);
        }
    }

    /// When the link counts as idle, if it can: bound, nothing in flight, a timeout set.
    fn idle_deadline(&self) -> Option<u64> {
        (self.is_bound() && self.window.is_empty() && self.config.idle_timeout_ms > 0).then(|| {
            self.last_activity
                .saturating_add(self.config.idle_timeout_ms)
        })
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

    /// When [`Initiator::handle_timeout`] must be called next (milliseconds), if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let window = self.window.values().map(|(_, deadline)| *deadline).min();
        let state = match self.state {
            InitiatorState::Binding { deadline, .. }
            | InitiatorState::Unbinding { deadline, .. } => Some(deadline),
            _ => None,
        };
        [window, state, self.idle_deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}
