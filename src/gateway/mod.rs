//! `smppgate serve`: upstream accounts bind here, messages are persisted before they are
//! acknowledged, then routed over the carrier pools; receipts and MO messages come back
//! through a durable per-account outbox.
//!
//! ```text
//! upstream submit_sm ─▶ checks (bind, window, TPS, sender, destination, coding, length)
//!   ─▶ id ─▶ group commit (fsync) ─▶ submit_sm_resp ─▶ split ─▶ Carriers::submit
//! carrier outcome ─▶ part state + carrier-id index (store)
//! carrier deliver_sm ─▶ receipt: match by carrier id ─▶ state ─▶ outbox ─▶ upstream
//!                    └▶ MO: reassemble ─▶ account by number ─▶ outbox ─▶ upstream
//! ```

pub mod accounts;
mod core;
mod events;
mod gauges;
mod outbox;
pub mod pipeline;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

pub use self::core::{Core, Stats};
pub use self::events::{UNMATCHED, UNROUTED_MO, WRITER_BATCH, is_opt_out};
use crate::carrier::Carriers;
use crate::config::Config;
use crate::shutdown::ShutdownSignal;
use crate::smsc::{ServerConfig, SmscServer};
use crate::store::{GroupCommit, Store};

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    core: Arc<Core>,
    server: SmscServer,
    carriers: Arc<Carriers>,
    outbox: tokio::task::JoinHandle<()>,
    outbox_cancel: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Opens the store named by the configuration (`:memory:` keeps it in memory).
///
/// # Errors
/// The store cannot be opened (path, permissions, corruption).
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.store.path.as_os_str() == ":memory:" {
        return Ok(Arc::new(crate::store::memory::MemoryStore::new()));
    }
    crate::store::open(&config.store)
        .with_context(|| format!("opening the store at {}", config.store.path.display()))
}

impl Gateway {
    /// Opens the store, starts the carrier pools, re-queues what was not sent before the
    /// last stop, and listens for upstream binds.
    ///
    /// # Errors
    /// Store, carrier or listener failures, each naming what failed.
    pub async fn start(config: Config, shutdown: ShutdownSignal) -> anyhow::Result<Self> {
        let store = open_store(&config)?;
        Self::start_with_store(config, store, shutdown).await
    }

    /// As [`Gateway::start`], on a store opened by the caller (tests inject faults here;
    /// a networked backend would come in this way).
    ///
    /// # Errors
    /// As [`Gateway::start`].
    pub async fn start_with_store(
        config: Config,
        store: Arc<dyn Store>,
        shutdown: ShutdownSignal,
    ) -> anyhow::Result<Self> {
        let group = GroupCommit::start(Arc::clone(&store), config.store.max_batch.max(1));
        let (core, events) = Core::new(config, Arc::clone(&store), group)?;
        let core = Arc::new(core);
        // Early receipts an earlier run kept go first, before any new event.
        for event in events::kept_early(&core) {
            core.send_event(event);
        }
        let writer = tokio::spawn(events::run_writer(Arc::clone(&core), events));
        // The pool holds its events sink for its life; a weak one keeps the pool (which
        // the core holds) from keeping the core, and so the store, alive for ever.
        let events: Arc<dyn crate::carrier::Events> =
            Arc::new(events::WeakEvents(Arc::downgrade(&core)));
        let carriers = Arc::new(
            Carriers::start(core.config(), events, shutdown.clone())
                .await
                .context("starting the carrier pools")?,
        );
        core.set_carriers(Arc::clone(&carriers));
        let server_config = server_config(core.config())?;
        let outbox_window = server_config.conn.session.window_size;
        let server = SmscServer::bind(
            &core.config().server.listen,
            server_config,
            Arc::new(Arc::clone(&core)),
        )
        .await
        .context("starting the upstream listener")?;
        let outbox_cancel = tokio_util::sync::CancellationToken::new();
        let outbox = tokio::spawn(outbox::run(outbox_deps(
            &core,
            Arc::clone(server.registry()),
            outbox_window,
            outbox_cancel.clone(),
        )));
        let mut tasks = vec![writer, tokio::spawn(Arc::clone(&core).recover())];
        tasks.push(tokio::spawn(gauges::run(
            Arc::clone(&core),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(events::run_housekeeping(
            Arc::clone(&core),
            shutdown,
        )));
        Ok(Self {
            core,
            server,
            carriers,
            outbox,
            outbox_cancel,
            tasks,
        })
    }

    /// The upstream listener's address.
    #[must_use]
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// The shared state (stats, store).
    #[must_use]
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Stops: no new binds, upstream sessions unbound, carrier requests drained up to
    /// `grace`, the store flushed.
    pub async fn stop(self, grace: Duration) {
        self.core
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // The outbox sends nothing new; what is in flight is answered (or aborted) as the
        // sessions unbind, and recorded.
        self.outbox_cancel.cancel();
        if !self.server.shutdown(grace / 2).await {
            tracing::warn!("some upstream sessions did not close in time");
        }
        // What the clients acknowledged is recorded, so it is not sent again after a
        // restart.
        let outbox = self.outbox;
        if tokio::time::timeout(grace / 4, outbox).await.is_err() {
            tracing::warn!("the outbox did not record its last acks in time");
        }
        self.carriers.drain(grace / 4).await;
        self.core.flush().await;
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The outbox stage's dependencies, from the core (the pipeline rebuild will hand them
/// out directly).
fn outbox_deps(
    core: &Core,
    registry: Arc<crate::smsc::Registry>,
    window: usize,
    cancel: tokio_util::sync::CancellationToken,
) -> outbox::OutboxDeps {
    let receipts = &core.config().receipts;
    outbox::OutboxDeps {
        store: Arc::clone(&core.store),
        group: Arc::clone(&core.group),
        registry,
        wake: Arc::clone(&core.outbox_wake),
        accounts: core.accounts.iter().map(|a| Arc::clone(&a.name)).collect(),
        forwarded: Arc::clone(&core.stats.forwarded),
        clock: crate::clock::Clock::system(),
        cancel,
        retry: outbox::RetryPolicy {
            max_attempts: receipts.outbox_max_attempts,
            initial: receipts.outbox_retry_initial,
            max: receipts.outbox_retry_max,
        },
        window,
    }
}

fn server_config(config: &Config) -> anyhow::Result<ServerConfig> {
    let mut server = ServerConfig {
        max_connections: config.server.max_connections,
        ..ServerConfig::default()
    };
    let max_window = config.accounts.iter().map(|a| a.window).max().unwrap_or(64);
    server.conn.session.max_owed_responses = max_window.max(1);
    let idle_ms = u64::try_from(config.server.idle_timeout.as_millis()).unwrap_or(u64::MAX);
    // An unbound connection gets idle_timeout to bind; a bound one is probed with
    // enquire_link and closed when it does not answer (half-open sockets).
    server.conn.session.bind_timeout_ms = idle_ms.clamp(1_000, 600_000);
    server.conn.session.enquire_link_interval_ms = Some((idle_ms / 3).clamp(1_000, 60_000));
    if let Some(tls) = &config.server.tls {
        server.tls = Some(crate::conn::TlsServerConfig {
            cert_pem: tls.cert.clone(),
            key_pem: tls.key.clone(),
        });
    }
    Ok(server)
}
