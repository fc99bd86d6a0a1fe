//! A sans-IO SMPP 3.4 session for both roles (ESME and SMSC), in the style of quinn-proto:
//! `handle_*` feeds it what arrived (PDUs, decode errors, the time), `poll_*` drains what it
//! wants done (PDUs to write, the next deadline, events for the application). No socket, no
//! clock: time is a `u64` count of milliseconds passed in by the driver.

pub mod timers;
pub mod window;

pub use timers::{Timer, Timers};
pub use window::{MAX_SEQUENCE_NUMBER, Outstanding, Window, WindowFull};
