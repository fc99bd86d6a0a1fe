//! The carrier side: for each `[[carrier]]`, a pool of binds to its SMSC; for each
//! `[[route]]`, destinations to carriers in order of preference.
//!
//! The gateway hands [`Submission`]s (one segment each, ready to send) to
//! [`Carriers::submit`], which never blocks: it routes, queues by [`Class`] (bounded;
//! full → [`SubmitError::QueueFull`] at once), and the pool sends each through a bind's
//! window under the route's rate limit, with retries, throttle back-off and failover.
//! Every submission ends in exactly one [`Outcome`] given to [`Events::outcome`];
//! deliver_sm / data_sm from carriers (receipts, MO) go to [`Events::inbound`].
//!
//! API contract (the gateway and `send --config` depend on it; internals are free):
//! - `Carriers::start(&Config, Arc<dyn Events>, ShutdownSignal)` starts every pool and
//!   returns at once; binds come up in the background. Every carrier's `address` is a
//!   `host:port` by then (the caller starts the built-in simulated carriers that
//!   `address = "sim"` asks for, and writes their addresses in).
//! - `submit` is synchronous and cheap.
//! - `drain(deadline)` stops taking submissions and waits for in-flight ones.

mod bind;
mod lanes;
mod limiter;
mod metrics;
mod pool;
mod refusal;
mod reports;
mod retry;
mod route;
mod share;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;

pub use crate::config::Class;
use crate::conn::InboundRequest;
pub(crate) use pool::hold_cap;
pub use pool::{Carriers, LANE_CAPACITY, StartError};
pub use route::Router;
pub use share::Share;

/// One segment to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Our message id.
    pub id: u64,
    /// Segment index, 0-based.
    pub part: u16,
    /// Priority lane.
    pub class: Class,
    /// A named route instead of routing by destination prefix.
    pub route: Option<Arc<str>>,
    /// The PDU to send (segmented, encoded text, registered_delivery set).
    pub submit_sm: SubmitSm,
    /// The end of its validity, in the pool's clock: past it the part is not sent (it
    /// ends [`FailReason::Expired`]), however long it waited in a lane or between
    /// retries. `None`: no end.
    pub deadline: Option<tokio::time::Instant>,
}

/// How a submission ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeResult {
    /// A carrier accepted it with this message id.
    Accepted {
        /// The carrier's message id, as in its submit_sm_resp.
        message_id: Bytes,
        /// Whether the submit_sm it accepted asked for a receipt or an intermediate
        /// notification ([`RegisteredDelivery::asks_for_notification`]): only then can
        /// a deliver_sm about it be expected, and its id is worth keeping for matching.
        ///
        /// [`RegisteredDelivery::asks_for_notification`]: smppgate_protocol::types::RegisteredDelivery::asks_for_notification
        notified: bool,
    },
    /// Every attempt failed; `status` is the last status seen.
    Failed {
        /// Last status (ESME_RSYSERR when none, e.g. no bind came up).
        status: CommandStatus,
        /// Why it stopped.
        reason: FailReason,
    },
}

/// Why a submission failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The carrier answered a permanent status.
    Permanent,
    /// Transient failures on every carrier of the route, `max_attempts` each.
    Exhausted,
    /// The gateway is stopping (the store still holds it; it is sent after restart).
    Shutdown,
    /// Its validity ended before it could go (never sent).
    Expired,
}

/// The end of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Our message id.
    pub id: u64,
    /// Segment index.
    pub part: u16,
    /// The carrier that answered last.
    pub carrier: Arc<str>,
    /// Accepted or failed.
    pub result: OutcomeResult,
    /// Attempts made in all.
    pub attempts: u32,
    /// Carriers failed over to.
    pub failovers: u32,
}

/// What the pool tells the gateway. Called from pool tasks: must be quick.
pub trait Events: Send + Sync + 'static {
    /// A submission ended.
    fn outcome(&self, outcome: Outcome);

    /// A carrier sent a deliver_sm / data_sm (receipt or MO). The implementation answers
    /// it (`request.respond`) once it has kept what it needs.
    ///
    /// The bind that received it awaits the returned future before it reads the next
    /// request from that carrier: an implementation with no room yet for what it must
    /// keep returns a future that waits for room (never a spawned task). While it waits,
    /// further deliver_sm of that bind are held back, and the carrier's own window then
    /// stops it sending more: backpressure reaches the carrier instead of growing a
    /// queue here.
    fn inbound(&self, carrier: &Arc<str>, request: InboundRequest) -> BoxFuture<'static, ()>;
}

/// Why [`Carriers::submit`] refused a submission.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// No route matches the destination.
    #[error("no route for destination {0}")]
    NoRoute(String),
    /// The route's queue for this class is full (the submission is handed back; the
    /// gateway leaves it in its store backlog).
    #[error("route {route} queue full")]
    QueueFull {
        /// The route.
        route: Arc<str>,
        /// The submission, handed back.
        submission: Box<Submission>,
    },
    /// The pool is draining.
    #[error("stopping")]
    Stopping,
}
