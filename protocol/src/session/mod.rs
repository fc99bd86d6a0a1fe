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
