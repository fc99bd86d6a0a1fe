//! The tokio side of a connection: one task per connection owns a sans-IO
//! [`Session`](smppgate_protocol::session::Session) and moves bytes between it and the
//! socket ([`driver`]). The ESME client ([`crate::esme`]) and the SMSC server
//! ([`crate::smsc`]) are thin layers over it.
//!
//! * Reading decodes every complete frame of a read before reading again.
//! * Writing is batched: everything the session queued while handling one wake-up (every
//!   answer ready at that moment included) is encoded into one buffer and written with one
//!   `write` when the socket takes it; a write the socket cannot take yet stays pending as
//!   one arm of the task's `select!`, so a peer that does not read never stops us from
//!   reading its responses. Past a high-water mark of unwritten output the driver stops
//!   taking application requests (backpressure); past a hard limit it stops reading too.
//! * Application requests arrive on a bounded channel that the driver only takes from
//!   while the session's window has room: callers wait for window space.
//! * Timers: `sleep_until(poll_timeout())`, in ms since the connection's start.

pub(crate) mod china;
pub mod driver;
mod error;
mod link;
pub mod tls;

pub use driver::ConnConfig;
pub use error::RequestError;
#[cfg(test)]
pub(crate) use link::{Answer, Responder};
pub use link::{InboundRequest, Link, LinkState, Response};
pub(crate) use link::{PendingResponse, Tagged, TryRequestError, empty_response};
pub use tls::{TlsClientConfig, TlsServerConfig, TlsSetupError};
