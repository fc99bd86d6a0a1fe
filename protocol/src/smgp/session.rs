//! The SMGP [`Dialect`] of the SP session ([`crate::china::session`]): Login with
//! AuthenticatorClient and a LoginMode, Login_Resp checked by AuthenticatorServer, Submit
//! through the window, Active_Test and Exit.

pub use crate::china::session::{CloseReason, Dialect, Incoming, SessionConfig, State};

use super::pdu::{Body, Login, MsgIdStatus, Pdu};
use super::{CommandId, MsgId, VERSION, authenticator_client, authenticator_server};
use crate::china::auth::same;

/// The SMGP dialect: the LoginMode to ask for ([`super::login_mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smgp {
    /// LoginMode: 0 send, 1 receive, 2 both.
    pub login_mode: u8,
}

/// An SMGP SP session.
pub type Session = crate::china::session::Session<Smgp>;
/// Its events.
pub type Event = crate::china::session::Event<Pdu, CommandId>;
/// Its refusals.
pub type SessionError = crate::china::session::SessionError<CommandId>;

impl Dialect for Smgp {
    type Pdu = Pdu;
    type Command = CommandId;
    type MsgId = MsgId;

    fn login(
        &self,
        login_name: &[u8],
        secret: &[u8],
        timestamp: u32,
        sequence: u32,
    ) -> (Pdu, [u8; 16]) {
        let authenticator = authenticator_client(login_name, secret, timestamp);
        let login = Login {
            client_id: bytes::Bytes::copy_from_slice(login_name),
            authenticator_client: authenticator,
            login_mode: self.login_mode,
            timestamp,
            client_version: VERSION,
        };
        (
            Pdu {
                sequence_id: sequence,
                body: Body::Login(login),
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
            Body::LoginResp(resp) => same(
                &authenticator_server(resp.status, authenticator, secret),
                &resp.authenticator_server,
            ),
            _ => false,
        }
    }

    fn incoming(&self, pdu: &Pdu) -> Incoming {
        match &pdu.body {
            Body::LoginResp(resp) => Incoming::LoginResp {
                status: resp.status,
                version: resp.server_version,
            },
            Body::ActiveTest => Incoming::ActiveTest,
            Body::ActiveTestResp => Incoming::ActiveTestResp,
            Body::Exit => Incoming::Terminate,
            Body::ExitResp => Incoming::TerminateResp,
            Body::Deliver(_) => Incoming::Deliver,
            Body::SubmitResp(_) => Incoming::Response,
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
        (command == CommandId::Submit).then_some(CommandId::SubmitResp)
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
            body: Body::ActiveTestResp,
        }
    }

    fn terminate(sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::Exit,
        }
    }

    fn terminate_resp(sequence: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::ExitResp,
        }
    }

    fn deliver_resp(sequence: u32, msg_id: MsgId, status: u32) -> Pdu {
        Pdu {
            sequence_id: sequence,
            body: Body::DeliverResp(MsgIdStatus { msg_id, status }),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::smgp::{LoginResp, login_mode};

    const SECRET: &[u8] = b"secret";

    fn session() -> Session {
        Session::new(
            Smgp {
                login_mode: login_mode::TRANSMIT,
            },
            SessionConfig {
                login_name: Bytes::from_static(b"12345678"),
                secret: Bytes::from_static(SECRET),
                window: 1,
                response_timeout_ms: 1_000,
                active_test_interval_ms: 10_000,
                active_test_max_missed: 3,
            },
        )
    }

    fn login_resp(login: &Pdu, status: u32, secret: &[u8]) -> Pdu {
        let Body::Login(l) = &login.body else {
            panic!("{login:?}")
        };
        Pdu {
            sequence_id: login.sequence_id,
            body: Body::LoginResp(LoginResp {
                status,
                authenticator_server: authenticator_server(status, &l.authenticator_client, secret),
                server_version: 0x30,
            }),
        }
    }

    fn submit() -> Pdu {
        let frame = crate::china::test_support::hex(&[
            "00000095",
            "00000002",
            "00000000",
            "060101",
            "4d4a4a30303031000000",
            "3030",
            "303030303030",
            "303030303030",
            "00",
            &crate::china::test_support::zeros(34),
            "3130363930303031",
            &crate::china::test_support::zeros(13),
            &crate::china::test_support::zeros(21),
            "01",
            "3137373030303030303030",
            &crate::china::test_support::zeros(10),
            "02",
            "6869",
            &crate::china::test_support::zeros(8),
        ]);
        crate::smgp::decode(frame).unwrap()
    }

    #[test]
    fn login_exchange_window_deliver_and_exit() {
        let mut session = session();
        session.login(0, 1_206_071_900).unwrap();
        let login = session.poll_transmit().unwrap();
        let Body::Login(l) = &login.body else {
            panic!("{login:?}")
        };
        assert_eq!(
            l.authenticator_client,
            authenticator_client(b"12345678", SECRET, 1_206_071_900)
        );
        assert_eq!(l.login_mode, login_mode::TRANSMIT);
        session.handle_pdu(3, login_resp(&login, 0, SECRET));
        assert_eq!(
            session.poll_event(),
            Some(Event::Connected { version: 0x30 })
        );

        let sequence_id = session.send_request(4, submit()).unwrap();
        assert_eq!(
            session.send_request(4, submit()),
            Err(SessionError::WindowFull { window: 1 })
        );
        assert_eq!(
            session.poll_transmit().map(|p| p.sequence_id),
            Some(sequence_id)
        );
        let resp = Pdu {
            sequence_id,
            body: Body::SubmitResp(MsgIdStatus {
                msg_id: MsgId([1; 10]),
                status: 0,
            }),
        };
        session.handle_pdu(5, resp.clone());
        assert_eq!(
            session.poll_event(),
            Some(Event::Response {
                sequence_id,
                pdu: resp
            })
        );

        session.respond(9, MsgId([2; 10]), 0);
        assert_eq!(
            session.poll_transmit(),
            Some(Pdu {
                sequence_id: 9,
                body: Body::DeliverResp(MsgIdStatus {
                    msg_id: MsgId([2; 10]),
                    status: 0
                })
            })
        );
        session.handle_pdu(
            6,
            Pdu {
                sequence_id: 10,
                body: Body::Exit,
            },
        );
        assert_eq!(
            session.poll_transmit(),
            Some(Pdu {
                sequence_id: 10,
                body: Body::ExitResp
            })
        );
        assert_eq!(
            session.poll_event(),
            Some(Event::Closed(CloseReason::PeerTerminated))
        );
    }

    #[test]
    fn login_refused_or_answered_without_the_secret() {
        let mut refused = session();
        refused.login(0, 1).unwrap();
        let login = refused.poll_transmit().unwrap();
        refused.handle_pdu(
            1,
            login_resp(&login, crate::smgp::STATUS_AUTH_FAILED, SECRET),
        );
        assert_eq!(
            refused.poll_event(),
            Some(Event::Closed(CloseReason::LoginRefused { status: 21 }))
        );

        let mut impostor = session();
        impostor.login(0, 1).unwrap();
        let login = impostor.poll_transmit().unwrap();
        impostor.handle_pdu(1, login_resp(&login, 0, b"wrong"));
        assert_eq!(
            impostor.poll_event(),
            Some(Event::Closed(CloseReason::BadIsmgAuthenticator))
        );
    }
}
