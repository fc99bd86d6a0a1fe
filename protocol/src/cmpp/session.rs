//! The CMPP [`Dialect`] of the SP session ([`crate::china::session`]): CONNECT with
//! AuthenticatorSource, CONNECT_RESP checked by AuthenticatorISMG, SUBMIT/QUERY/CANCEL
//! through the window, ACTIVE_TEST and TERMINATE.

pub use crate::china::session::{CloseReason, Dialect, Incoming, SessionConfig, State};

use super::pdu::{ActiveTestResp, Body, Connect, DeliverResp, Pdu};
use super::{CommandId, Version, authenticator_source, check_authenticator_ismg};

/// The CMPP dialect: the link's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmpp(pub Version);

/// A CMPP SP session.
pub type Session = crate::china::session::Session<Cmpp>;
/// Its events.
pub type Event = crate::china::session::Event<Pdu, CommandId>;
/// Its refusals.
pub type SessionError = crate::china::session::SessionError<CommandId>;

impl Dialect for Cmpp {
    type Pdu = Pdu;
    type Command = CommandId;
    type MsgId = u64;

    fn login(
        &self,
        login_name: &[u8],
        secret: &[u8],
        timestamp: u32,
        sequence: u32,
    ) -> (Pdu, [u8; 16]) {
        let authenticator = authenticator_source(login_name, secret, timestamp);
        let connect = Connect {
            source_addr: bytes::Bytes::copy_from_slice(login_name),
            authenticator_source: authenticator,
            version: self.0.octet(),
            timestamp,
        };
        (
            Pdu {
                sequence_id: sequence,
                body: Body::Connect(connect),
            },
            authenticator,
        )
    }

    fn login_answer_proves_secret(
        &self,
        pdu: &Pdu,
        authenticator: &[u8; 16],
        secret: &[u8],
    ) -> bool {
        match &pdu.body {
            Body::ConnectResp(resp) => {
                check_authenticator_ismg(self.0, resp, authenticator, secret)
            }
            _ => false,
        }
    }

    fn incoming(&self, pdu: &Pdu) -> Incoming {
        match &pdu.body {
            Body::ConnectResp(resp) => Incoming::LoginResp {
                status: resp.status,
                version: resp.version,
            },
            Body::ActiveTest => Incoming::ActiveTest,
            Body::ActiveTestResp(_) => Incoming::ActiveTestResp,
            Body::Terminate => Incoming::Terminate,
            Body::TerminateResp => Incoming::TerminateResp,
            Body::Deliver(_) => Incoming::Deliver,
            Body::SubmitResp(_) | Body::QueryResp(_) | Body::CancelResp(_) => Incoming::Response,
            _ => Incoming::Other,
        }
    }

    fn sequence_of(pdu: &Pdu) -> u32 {
        pdu.sequence_id
    }

    fn command_of(pdu: &Pdu) -> CommandId {
        pdu.body.command_id()
    }

    fn with_sequence(pdu: Pdu, sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            ..pdu
        }
    }

    fn response_to(command: CommandId) -> Option<CommandId> {
        match command {
            CommandId::Submit => Some(CommandId::SubmitResp),
            CommandId::Query => Some(CommandId::QueryResp),
            CommandId::Cancel => Some(CommandId::CancelResp),
            _ => None,
        }
    }

    fn active_test(sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::ActiveTest,
        }
    }

    fn active_test_resp(sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::ActiveTestResp(ActiveTestResp::default()),
        }
    }

    fn terminate(sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::Terminate,
        }
    }

    fn terminate_resp(sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::TerminateResp,
        }
    }

    fn deliver_resp(sequence: u32, msg_id: u64, result: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::DeliverResp(DeliverResp { msg_id, result }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmpp::{ConnectResp, Deliver, SubmitResp, authenticator_ismg};
    use bytes::Bytes;

    const SECRET: &[u8] = b"secret";

    fn config() -> SessionConfig {
        SessionConfig {
            login_name: Bytes::from_static(b"901234"),
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
        let mut session = Session::new(Cmpp(Version::V3), config());
        session.login(0, 1_206_071_900).unwrap();
        let connect = transmitted(&mut session).remove(0);
        session.handle_pdu(5, connect_resp(&connect, 0, SECRET));
        assert_eq!(events(&mut session), [Event::Connected { version: 0x30 }]);
        session
    }

    /// A windowed request (CANCEL: the smallest of the three).
    fn submit_body() -> Pdu {
        Pdu {
            sequence_id: 0,
            body: Body::Cancel(crate::cmpp::Cancel { msg_id: 1 }),
        }
    }

    #[test]
    fn connect_sends_the_authenticator_and_checks_the_ismg_answer() {
        let mut session = Session::new(Cmpp(Version::V3), config());
        session.login(0, 1_206_071_900).unwrap();
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
            session.login(1, 1),
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
        let mut session = Session::new(Cmpp(Version::V3), config());
        session.login(0, 1_206_071_900).unwrap();
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
        let mut session = Session::new(Cmpp(Version::V3), config());
        session.login(0, 1).unwrap();
        let connect = transmitted(&mut session).remove(0);
        session.handle_pdu(
            5,
            connect_resp(&connect, crate::cmpp::STATUS_AUTH_FAILED, SECRET),
        );
        assert_eq!(
            events(&mut session),
            [Event::Closed(CloseReason::LoginRefused { status: 3 })]
        );

        let mut session = Session::new(Cmpp(Version::V3), config());
        session.login(0, 1).unwrap();
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
            session.send_request(12, Cmpp::active_test(0)),
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

#[cfg(test)]
mod properties {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::cmpp::{Cancel, CancelResp, ConnectResp};

    #[derive(Debug, Clone)]
    enum Action {
        Wait(u16),
        Request,
        Timeout,
        /// A response for the request this many places back in the window (or a stray).
        Respond(u8),
        PeerActiveTest,
        AnswerActiveTest,
        Terminate,
        PeerTerminate,
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            any::<u16>().prop_map(Action::Wait),
            Just(Action::Request),
            Just(Action::Timeout),
            any::<u8>().prop_map(Action::Respond),
            Just(Action::PeerActiveTest),
            Just(Action::AnswerActiveTest),
            Just(Action::Terminate),
            Just(Action::PeerTerminate),
        ]
    }

    proptest! {
        /// Whatever the peer and the clock do: the window never exceeds its size, every
        /// request ends in exactly one Response or TimedOut, and one input queues at most
        /// two packets.
        #[test]
        fn window_and_outcomes_hold(actions in proptest::collection::vec(action(), 0..200)) {
            const WINDOW: usize = 3;
            let mut session = Session::new(Cmpp(Version::V3), SessionConfig {
                login_name: Bytes::from_static(b"901234"),
                secret: Bytes::from_static(b"secret"),
                window: WINDOW,
                response_timeout_ms: 1_000,
                active_test_interval_ms: 5_000,
                active_test_max_missed: 3,
            });
            let mut now = 0;
            session.login(now, 1).unwrap();
            let login = session.poll_transmit().unwrap();
            let Body::Connect(connect) = &login.body else { panic!() };
            let authenticator = crate::cmpp::authenticator_ismg(Version::V3, 0, &connect.authenticator_source, b"secret");
            session.handle_pdu(now, Pdu { sequence_id: login.sequence_id, body: Body::ConnectResp(ConnectResp { status: 0, authenticator_ismg: authenticator, version: 0x30 }) });
            let mut open = std::collections::BTreeSet::new();
            let mut last_active_test = None;
            let mut outcomes = 0usize;
            let mut sent_requests = 0usize;
            for action in actions {
                match action {
                    Action::Wait(ms) => now += u64::from(ms),
                    Action::Request => {
                        if let Ok(sequence) = session.send_request(now, Pdu { sequence_id: 0, body: Body::Cancel(Cancel { msg_id: 1 }) }) {
                            prop_assert!(open.insert(sequence));
                            sent_requests += 1;
                        }
                    }
                    Action::Timeout => session.handle_timeout(now),
                    Action::Respond(back) => {
                        let sequence = open.iter().rev().nth(usize::from(back % 4)).copied().unwrap_or(u32::MAX);
                        session.handle_pdu(now, Pdu { sequence_id: sequence, body: Body::CancelResp(CancelResp { success_id: 0 }) });
                    }
                    Action::PeerActiveTest => session.handle_pdu(now, Pdu { sequence_id: 7, body: Body::ActiveTest }),
                    Action::AnswerActiveTest => {
                        if let Some(sequence) = last_active_test {
                            session.handle_pdu(now, Cmpp::active_test_resp(sequence));
                        }
                    }
                    Action::Terminate => session.terminate(now),
                    Action::PeerTerminate => session.handle_pdu(now, Pdu { sequence_id: 8, body: Body::Terminate }),
                }
                prop_assert!(session.in_flight() <= WINDOW);
                let mut sent = 0;
                while let Some(pdu) = session.poll_transmit() {
                    if pdu.body == Body::ActiveTest {
                        last_active_test = Some(pdu.sequence_id);
                    }
                    sent += 1;
                }
                prop_assert!(sent <= 2, "{} packets from one input", sent);
                while let Some(event) = session.poll_event() {
                    match event {
                        Event::Response { sequence_id, .. } | Event::TimedOut { sequence_id, .. } => {
                            prop_assert!(open.remove(&sequence_id), "two outcomes for {}", sequence_id);
                            outcomes += 1;
                        }
                        _ => {}
                    }
                }
            }
            prop_assert_eq!(open.len(), session.in_flight());
            prop_assert_eq!(outcomes + open.len(), sent_requests);
        }
    }
}
