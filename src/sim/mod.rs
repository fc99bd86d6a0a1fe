//! `smppgate sim`: an in-process simulated carrier SMSC.
//!
//! Accepts binds (any credentials, or the one pair configured), answers submit_sm /
//! submit_multi / data_sm with fresh unique message ids, sends a delivery receipt after a
//! delay when registered_delivery asks for one, answers query_sm, enquire_link and
//! unbind, and counts everything in [`Counters`] (relaxed atomics: the hot path stays
//! cheap). Settings live in [`SimConfig`], which later fault-injection flags extend.

mod builtin;
pub mod china;
mod clock;
pub mod cmpp;
mod counters;
pub mod faults;
mod gcra;
mod handler;
mod mo;
mod receipts;
pub mod scenario;
pub mod sgip;
pub mod smgp;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use builtin::{BUILTIN_ADDRESS, BuiltinSimError, BuiltinSims, start_builtin};
pub use clock::{smpp_absolute, utc_date, utc_now};
pub use counters::Counters;
pub use faults::Faults;
pub use handler::SimHandler;
pub use scenario::Scenario;

use crate::smsc::{ServerConfig, ServerError, SmscServer};

/// How message ids are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFormat {
    /// Lower-case hexadecimal.
    #[default]
    Hex,
    /// Decimal.
    Dec,
    /// UUID-shaped (the counter in the last 16 hex digits).
    Uuid,
}

/// The simulator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Where to listen (`host:port`, port 0 allowed).
    pub listen: String,
    /// Only this system_id may bind (others: `ESME_RINVSYSID`); `None`: any.
    pub system_id: Option<String>,
    /// Only this password is accepted (`ESME_RINVPASWD`); `None`: any.
    pub password: Option<String>,
    /// Delay between a submit and its delivery receipt.
    pub receipt_delay: Duration,
    /// How message ids are written.
    pub id_format: IdFormat,
    /// Receipts accepted and not delivered yet at most: waiting for their delay, in
    /// flight, or waiting to be retried (beyond: submits answered `ESME_RMSGQFUL`).
    pub receipt_queue: usize,
    /// Listener and session settings.
    pub server: ServerConfig,
    /// Faults and carrier quirks (default: none).
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:2775".to_owned(),
            system_id: None,
            password: None,
            receipt_delay: Duration::from_millis(100),
            id_format: IdFormat::Hex,
            receipt_queue: 100_000,
            server: Self::default_server(),
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// Receipts go out through a window of 256 per session: a polite carrier keeps up with
    /// a client's full submit rate (with 64, a 1 M-message run fills the receipt queue and
    /// submits get ESME_RMSGQFUL; `--window 64` restores it).
    fn default_server() -> ServerConfig {
        let mut server = ServerConfig::default();
        server.conn.session.window_size = 256;
        server
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct Sim {
    server: SmscServer,
    handler: Arc<SimHandler>,
    receipts: JoinHandle<()>,
    mo: Option<JoinHandle<()>>,
}

impl Sim {
    /// Starts listening.
    ///
    /// # Errors
    /// [`ServerError`] when the address cannot be bound.
    pub async fn start(config: SimConfig) -> Result<Self, ServerError> {
        let (queue, jobs) = receipts::ReceiptQueue::new(config.receipt_queue);
        let handler = Arc::new(SimHandler::new(&config, queue.clone()));
        let server =
            SmscServer::bind(&config.listen, config.server.clone(), Arc::clone(&handler)).await?;
        handler.set_registry(Arc::clone(server.registry()));
        let receipts = tokio::spawn(receipts::run(
            jobs,
            queue,
            Arc::clone(server.registry()),
            handler.faults().receipt_bind,
            handler.faults().receipt_delay_max.is_none(),
            handler.counters_arc(),
        ));
        let mo = handler.faults().mo_rate.filter(|r| *r > 0).map(|rate| {
            tokio::spawn(mo::run(
                rate,
                Arc::clone(server.registry()),
                handler.counters_arc(),
            ))
        });
        Ok(Self {
            server,
            handler,
            receipts,
            mo,
        })
    }

    /// The address listened on.
    #[must_use]
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// The counters, live.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        self.handler.counters()
    }

    /// The counters, shared (for reporting tasks).
    #[must_use]
    pub fn counters_arc(&self) -> Arc<Counters> {
        self.handler.counters_arc()
    }

    /// Stops accepting, unbinds every session (waiting up to `grace`), and returns the
    /// final counters as JSON.
    pub async fn shutdown(self, grace: Duration) -> Value {
        self.receipts.abort();
        if let Some(mo) = &self.mo {
            mo.abort();
        }
        if !self.server.shutdown(grace).await {
            tracing::warn!("some sessions did not close within {grace:?}");
        }
        self.handler.counters().to_json()
    }
}
