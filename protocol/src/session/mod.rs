//! A sans-IO SMPP 3.4 session for both roles (ESME and SMSC), in the style of quinn-proto:
//! `handle_*` feeds it what arrived (PDUs, decode errors, the time), `poll_*` drains what it
//! wants done (PDUs to write, the next deadline, events for the application). No socket, no
//! clock: time is a `u64` count of milliseconds passed in by the driver.
//!
//! ```text
//!  driver ──handle_pdu / handle_decode_error / handle_timeout──▶ Session
//!  app    ──bind / send_request / respond / accept_bind / unbind / close──▶ Session
//!  Session ──poll_transmit (Pdu) / poll_timeout (ms) / poll_event (Event)──▶ driver, app
//! ```
//!
//! A driver's loop, in short (time in ms from any monotonic origin):
//!
//! ```
//! use smppgate_protocol::pdu::{Bind, BindResp, Body, Pdu, SubmitSm};
//! use smppgate_protocol::session::{BindKind, Event, Role, Session, SessionConfig};
//!
//! let mut session = Session::new(Role::Esme, SessionConfig::default(), 0);
//! session.bind(BindKind::Transceiver, Bind::default(), 0)?;
//! // Write everything the session wants written (encode with `codec::encode`).
//! let bind = session.poll_transmit().expect("the bind");
//! // ... a frame arrives and decodes to a Pdu (or a DecodeError: handle_decode_error) ...
//! let answer = Pdu::new(bind.sequence_number, Body::BindTransceiverResp(BindResp::default()));
//! session.handle_pdu(answer, 15);
//! assert!(matches!(session.poll_event(), Some(Event::Bound { .. })));
//!
//! // The application sends; a full window hands the body back (SessionError::WindowFull).
//! if session.window_available() {
//!     let sequence_number = session.send_request(Body::SubmitSm(SubmitSm::default()), 20)?;
//!     assert_eq!(session.poll_transmit().unwrap().sequence_number, sequence_number);
//! }
//! // Sleep until the next deadline or the next frame, whichever comes first.
//! let wake_at = session.poll_timeout().expect("response timer and keep-alive");
//! session.handle_timeout(wake_at);
//! while let Some(event) = session.poll_event() {
//!     println!("{event:?}"); // ResponseTimedOut for the submit_sm
//! }
//! # Ok::<(), smppgate_protocol::session::SessionError>(())
//! ```
//!
//! Files: [`state`] (states, legality table), [`window`] (sequence numbers, outstanding
//! requests, response deadlines), [`timers`] (enquire_link, bind, inactivity, unbind),
//! [`config`], [`event`], [`error`], [`stats`], `machine` (the [`Session`] itself).

pub mod config;
pub mod error;
pub mod event;
mod machine;
pub mod state;
pub mod stats;
pub mod timers;
pub mod window;

pub use config::{ConfigError, Role, SessionConfig};
pub use error::SessionError;
pub use event::{CloseReason, Event, Violation, ViolationKind};
pub use machine::Session;
pub use state::{BindKind, State};
pub use stats::SessionStats;
pub use timers::{Timer, Timers};
pub use window::{MAX_SEQUENCE_NUMBER, Outstanding, Window, WindowFull};
