//! The SMSC side: [`SmscServer`] accepts ESME connections (TCP or TLS, within a
//! connection limit), asks an [`SmscHandler`] to authenticate binds and answer
//! submit_sm / data_sm / submit_multi / query_sm, and keeps a [`Registry`] of bound
//! sessions so the application can send deliver_sm through a session's own window
//! ([`SessionHandle::deliver`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use bytes::Bytes;
//! use smppgate::smsc::{BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer};
//! use smppgate_protocol::command_status::CommandStatus;
//! use smppgate_protocol::pdu::{Pdu, SubmitSm};
//!
//! struct Ids(AtomicU64);
//! impl SmscHandler for Ids {
//!     fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
//!         Ok(Bytes::from_static(b"SMSC"))
//!     }
//!     fn submit_sm(&self, _session: &SessionInfo, _pdu: &Pdu, _submit_sm: &SubmitSm) -> Reply<MessageId> {
//!         Reply::Ready(Ok(Bytes::from(self.0.fetch_add(1, Ordering::Relaxed).to_string())))
//!     }
//! }
//!
//! let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::new(Ids(AtomicU64::new(1)))).await?;
//! println!("listening on {}", server.local_addr());
//! # Ok(()) }
//! ```
//!
//! A complete program: `examples/smsc.rs` (`cargo run --example smsc`).

mod handler;
mod registry;
mod server;

pub use handler::{BindRequest, MessageId, Reply, SessionInfo, SmscHandler};
pub use registry::{Registry, SessionHandle};
pub use server::{ServerConfig, ServerError, SmscServer};
