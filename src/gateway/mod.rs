//! `smppgate serve`: upstream accounts bind here, messages are persisted before they are
//! acknowledged, then routed over the carrier pools; receipts and MO messages come back
//! through a durable per-account outbox.
//!
//! The gateway is a pipeline of stages, each a task that owns its input and its state,
//! wired once in [`Gateway::start_with_store`]; data flows down, completions come back on
//! queues, and every queue is bounded.
//!
//! ```text
//!  SMPP client ──submit_sm──▶ upstream (bind, window) ──▶ intake ─────────────┐
//!      ▲                      checks → policy → backlog place → id            │
//!      │                        → group commit (fsync) → submit_sm_resp        │
//!      │                                   │ Dispatch (bounded; full: on disk) │
//!      │                                   ▼                                   │
//!      │                    dispatcher ◀── store backlog (pages, when spilled)  │
//!      │                        │ parts, only while the route's lane has room   │
//!      │                        ▼                                               │
//!      │                    carrier pool ──submit_sm──▶ carriers                │
//!      │                        │ outcomes (never full)   │ deliver_sm         │
//!      │                        ▼                          ▼ (awaited: window)  │
//!      │                    receipt writer ◀── Accepted records ───────────────┘
//!      │                  outcomes, receipts, MO, expiry → one commit per batch
//!      │                        │ → deliver_sm_resp to the carrier
//!      │                        ▼
//!      └──deliver_sm──────  outbox (per account; store-backed, parked items aside)
//!
//!  housekeeping: validity expiry, retention, kept early receipts → writer
//! ```
//!
//! Stopping is the same graph drained from the top: no new submits (clients unbound,
//! what was committed answered), the outbox records what clients acknowledged, the
//! dispatcher stops handing parts over, the pool drains its windows (what it did not
//! send comes back unsent and stays pending), the writer applies and commits every
//! outcome, then the store is left consistent. Nothing acknowledged is failed for a
//! stop; it is sent after the restart.

pub mod accounts;
mod assembly;
mod backlog;
mod control;
mod delivery;
mod dispatcher;
mod gauges;
mod housekeeping;
pub mod ids;
pub(crate) mod intake;
mod membership;
pub(crate) mod operations;
pub(crate) mod outbox;
pub mod pipeline;
pub mod policy;
mod queued;
pub mod reload;
pub mod review;
mod schedule;
mod stats;
mod upstream;
pub(crate) mod wakes;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::accounts::{Accounts, Lockout};
use self::backlog::{Backlog, InPool};
use self::ids::MessageIds;
use self::intake::{Intake, IntakeParts, Missed};
use self::policy::{PassThrough, Policy};
pub use self::stats::{Stats, process_cpu_micros};
use self::upstream::Upstream;
use self::writer::{PoolEvents, WriterParts};
pub use self::writer::{UNMATCHED, UNROUTED_MO, WRITER_BATCH, is_opt_out};
use crate::carrier::{Carriers, Router};
use crate::clock::Clock;
use crate::config::Config;
use crate::policy::engine::PolicyEngine;
use crate::policy::suppression::{OptOutReplies, Suppressions};
use crate::shutdown::ShutdownSignal;
use crate::smsc::{ServerConfig, SmscServer};
use crate::store::{GroupCommit, Store};

/// Most parts in the carrier pool whose outcome is not durable yet, at least; the outcome
/// queue is larger, so an outcome never finds it full. See [`in_pool_cap`].
const IN_POOL_CAP: usize = 65_536;

/// The in-pool cap for `config`: at least what every route can hold at once (its lanes,
/// `queue` per class, and the jobs it keeps in flight or waiting to retry, twice its
/// carriers' windows), so that routes whose carriers are down, their lanes full, leave
/// room for the others. With a fixed 65 536, three routes over one carrier that went
/// down filled it and every other route, OTPs included, stopped until it came back.
fn in_pool_cap(config: &Config) -> usize {
    // Room for routes a reload adds, and for what the dispatcher places meanwhile.
    in_pool_need(config).saturating_mul(2).max(IN_POOL_CAP)
}

/// What every route of `config` can hold in the pool at once (see [`in_pool_cap`]): a
/// reload whose routes need more than the cap this process started with is named as
/// needing a restart.
pub(crate) fn in_pool_need(config: &Config) -> usize {
    config
        .routes
        .iter()
        .map(|route| {
            let windows: usize = route
                .carriers
                .iter()
                .filter_map(|name| config.carriers.iter().find(|c| &c.name == name))
                .map(|carrier| carrier.binds.saturating_mul(carrier.window))
                .sum();
            route
                .queue
                .max(1)
                .saturating_mul(crate::config::Class::ALL.len())
                .saturating_add(crate::carrier::hold_cap(windows))
        })
        .fold(0, usize::saturating_add)
}

/// With `[cluster]`: how long an account's outbox lease outlives its holder's last
/// renewal (a dead node's accounts are delivered by another node after this).
const OUTBOX_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
/// The writer's queue of everything but outcomes (deliver_sm from carriers wait here).
const EVENT_QUEUE: usize = 16_384;
/// Messages between intake and the dispatcher (beyond: read from the store).
const DISPATCH_QUEUE: usize = 8_192;

/// A running gateway.
pub struct Gateway {
    server: SmscServer,
    carriers: Arc<Carriers>,
    store: Arc<dyn Store>,
    group: Arc<GroupCommit>,
    stats: Arc<Stats>,
    cpu_at_start: Option<u64>,
    /// The root of every stage's token; the children are cancelled in order by `stop`.
    cancel: CancellationToken,
    dispatcher_stop: CancellationToken,
    housekeeping_stop: CancellationToken,
    writer_finish: CancellationToken,
    outbox_stop: CancellationToken,
    /// The control socket (`smppgate suppress`): closed first on stop.
    control_stop: CancellationToken,
    dispatcher: JoinHandle<()>,
    housekeeping: JoinHandle<()>,
    writer: JoinHandle<()>,
    outbox: JoinHandle<()>,
    tracker: TaskTracker,
    /// The built-in simulated carriers (`address = "sim"`), stopped after the pools.
    sims: crate::sim::BuiltinSims,
    /// The HTTP API (`[http]`), stopped with the upstream listener.
    http: Option<crate::http::HttpServer>,
    /// The webhook sink (accounts with a `webhook_url`), stopped with the outbox.
    webhooks: TaskTracker,
    webhooks_stop: CancellationToken,
    /// The opt-out suppression list in force (MO replies and the CLI change it).
    suppressions: Arc<Suppressions>,
    /// The operator's actions (control socket, admin API, SIGHUP).
    ops: Arc<operations::Operations>,
    /// Counted up when this node takes a dead node's slot over (its backlog is ours).
    backlog: Arc<Backlog>,
    /// Whether housekeeping here sweeps the shared outbox queues (`[cluster]`: the first
    /// live node, set by the membership stage).
    sweeps: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.server.local_addr())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Reloads a running gateway's configuration ([`Gateway::reload`]).
#[derive(Debug, Clone)]
pub struct ReloadHandle(Arc<operations::Operations>);

impl ReloadHandle {
    /// As [`Gateway::reload`].
    ///
    /// # Errors
    /// No file, or a file `check-config` refuses: nothing applied.
    pub async fn reload(&self) -> Result<serde_json::Value, reload::ReloadError> {
        let (report, lists) = self.0.reload_config().await?;
        Ok(reload::answer(&report, &lists))
    }

    /// Reads the policies' blacklist files again only (a gateway started without a
    /// configuration file still reloads its lists on SIGHUP).
    pub async fn reload_blacklists(&self) -> serde_json::Value {
        let lists = self.0.reload_blacklists().await;
        reload::answer(&reload::ReloadReport::default(), &lists)["blacklists"].take()
    }
}

/// Opens the store named by the configuration (`:memory:` keeps it in memory; with
/// `[cluster]` it is the JetStream store).
///
/// # Errors
/// The store cannot be opened (path, permissions, corruption).
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(cluster) = &config.cluster {
        // docs/cluster.md: the replicated backend; `[store] path` is not used. Opening
        // waits for the connection on this thread (once, at start); the store's own
        // runtime does the I/O, so this cannot deadlock the caller's runtime.
        return Ok(Arc::new(
            crate::store::JetStreamStore::open(cluster).with_context(|| {
                format!(
                    "opening the JetStream store ([cluster] node {})",
                    cluster.node
                )
            })?,
        ));
    }
    if config.store.path.as_os_str() == ":memory:" {
        return Ok(Arc::new(crate::store::memory::MemoryStore::new()));
    }
    crate::store::open(&config.store)
        .with_context(|| format!("opening the store at {}", config.store.path.display()))
}

impl Gateway {
    /// Opens the store, starts the stages and the carrier pools, and listens for
    /// upstream binds. What was pending before the last stop is sent from the store.
    ///
    /// # Errors
    /// Store, carrier or listener failures, each naming what failed.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let store = open_store(&config)?;
        Self::start_with_store(config, store).await
    }

    /// As [`Gateway::start`], on a store opened by the caller (tests inject faults here;
    /// a networked backend would come in this way).
    ///
    /// # Errors
    /// As [`Gateway::start`].
    pub async fn start_with_store(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let clock = Clock::system();
        let suppressions = load_suppressions(&store).await?;
        // The market rules of the accounts that name a [[policy]]; none: a pass-through.
        let engine = PolicyEngine::for_gateway(
            &config,
            Arc::clone(&store),
            Arc::clone(&suppressions) as _,
            clock.wall_ms(),
        )
        .await?;
        let policy: Arc<dyn Policy> = match engine {
            Some(engine) => engine,
            None => Arc::new(PassThrough),
        };
        Self::start_with_suppressions(config, store, policy, clock, suppressions).await
    }

    /// As [`Gateway::start_with_store`], with a policy hook and a clock.
    ///
    /// # Errors
    /// As [`Gateway::start`].
    pub async fn start_with(
        config: Config,
        store: Arc<dyn Store>,
        policy: Arc<dyn Policy>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let suppressions = load_suppressions(&store).await?;
        Self::start_with_suppressions(config, store, policy, clock, suppressions).await
    }

    /// As [`Gateway::start_with`], with the suppression list already loaded (by
    /// [`load_suppressions`]): the policy that looks numbers up in it is built before the
    /// gateway starts, and MO replies change the same set.
    ///
    /// # Errors
    /// As [`Gateway::start`].
    pub async fn start_with_suppressions(
        config: Config,
        store: Arc<dyn Store>,
        policy: Arc<dyn Policy>,
        clock: Clock,
        suppressions: Arc<Suppressions>,
    ) -> anyhow::Result<Self> {
        let cpu_at_start = process_cpu_micros();
        // With `[cluster]` the caps count in counters every node shares, and one node at
        // a time delivers an account's outbox (issue #17): both opened at once (each a
        // connection and a bucket to create or find).
        let (shared_caps, outbox_leases) = match &config.cluster {
            Some(cluster) => {
                let any_caps = config.policies.iter().any(|p| !p.caps.is_empty());
                let caps = async {
                    if any_caps {
                        crate::store::SharedCaps::open(cluster).await.map(Some)
                    } else {
                        Ok(None)
                    }
                };
                let leases = crate::store::OutboxLeases::open(cluster, OUTBOX_LEASE_TTL);
                let (caps, leases) = tokio::join!(caps, leases);
                (
                    caps.context("opening the shared cap counters")?
                        .map(Arc::new),
                    Some(Arc::new(outbox::lease::Leases::new(
                        leases.context("opening the outbox leases")?,
                    ))),
                )
            }
            None => (None, None),
        };
        let config = Arc::new(config);
        let stats = Arc::new(Stats::default());
        let group = Arc::new(GroupCommit::start(
            Arc::clone(&store),
            config.store.max_batch.max(1),
        ));
        let accounts = Arc::new(Accounts::new(&config.accounts));
        let router = Router::new(&config.routes);
        let backlog = Arc::new(Backlog::new(
            accounts.iter().map(|a| Arc::clone(&a.name)),
            config.store.max_pending,
        ));
        let max_id = {
            let (store, backlog) = (Arc::clone(&store), Arc::clone(&backlog));
            tokio::task::spawn_blocking(move || {
                let (_, held) = backlog.count_existing(&*store, 0..u64::MAX)?;
                metrics::gauge!("smppgate_review_held").set(held as f64);
                store.max_id()
            })
            .await
            .context("reading the store")?
            .context("reading the store")?
        };
        let ids = Arc::new(MessageIds::new(max_id, clock.wall_ms()));
        // A `[cluster]` store keeps per-route work queues that every node pulls from
        // (`queued.rs`); one node reads its own backlog (`dispatcher.rs`).
        let work_queue = store.work_queue();
        let routes: Vec<Arc<str>> = config
            .routes
            .iter()
            .map(|r| Arc::from(r.name.as_str()))
            .collect();
        if let Some(queue) = &work_queue {
            let (queue, routes) = (Arc::clone(queue), routes.clone());
            tokio::task::spawn_blocking(move || queue.open(&routes))
                .await
                .context("opening the route work queues")?
                .context("opening the route work queues")?;
        }
        let in_pool_cap = in_pool_cap(&config);
        let in_pool = Arc::new(InPool::with_queue(in_pool_cap, work_queue.clone()));
        let (outcome_tx, outcome_rx) = mpsc::channel(in_pool_cap.saturating_add(1024));
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let (dispatch_tx, dispatch_rx) = mpsc::channel(DISPATCH_QUEUE);
        let missed = Arc::new(Missed::default());
        let outbox_wake = wakes::Wakes::new();
        let webhook_wake = wakes::Wakes::new();
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();

        let writer_finish = cancel.child_token();
        let writer = tracker.spawn(writer::run(WriterParts {
            outcomes: outcome_rx,
            events: event_rx,
            config: Arc::clone(&config),
            accounts: Arc::clone(&accounts),
            store: Arc::clone(&store),
            group: Arc::clone(&group),
            in_pool: Arc::clone(&in_pool),
            backlog: Arc::clone(&backlog),
            outbox_wake: Arc::clone(&outbox_wake),
            webhook_wake: Arc::clone(&webhook_wake),
            stats: Arc::clone(&stats),
            clock,
            finish: writer_finish.clone(),
            opt_out: Arc::new(OptOutReplies::new(
                crate::policy::suppression::reply_rules(&config),
                &config.numbers.default_country,
                Arc::clone(&suppressions),
            )),
        }));
        // Early receipts and MO parts an earlier run kept go first, before any new event.
        let kept = {
            let store = Arc::clone(&store);
            let early = writer::own_early_account(&config);
            let partial = writer::own_partial_account(&config);
            tokio::task::spawn_blocking(move || {
                let mut kept = writer::kept_early(&*store, &early)?;
                kept.extend(writer::kept_partials(&*store, &partial, false)?);
                Ok::<_, crate::store::StoreError>(kept)
            })
            .await
            .context("reading kept receipts and MO parts")?
            .context("reading kept receipts and MO parts")?
        };
        for event in kept {
            let _ = event_tx.send(event).await;
        }

        // The pools get the simulated carriers' real addresses; the rest keeps the file's.
        let mut carrier_config = Config::clone(&config);
        let sims = crate::sim::start_builtin(&mut carrier_config)
            .await
            .context("starting the built-in simulated carriers")?;
        let pool_events = Arc::new(PoolEvents {
            outcomes: outcome_tx.clone(),
            events: event_tx.clone(),
        });
        // A `[cluster]` node opens its binds once it knows its part of them
        // (`follow_membership`, docs/cluster.md "Carrier binds and TPS across nodes").
        let carriers = if config.cluster.is_some() {
            Carriers::start_in_cluster(&carrier_config, pool_events, ShutdownSignal::never()).await
        } else {
            Carriers::start(&carrier_config, pool_events, ShutdownSignal::never()).await
        };
        let carriers = Arc::new(carriers.context("starting the carrier pools")?);

        let dispatcher_stop = cancel.child_token();
        let dispatcher_parts = dispatcher::DispatcherParts {
            rx: dispatch_rx,
            missed: Arc::clone(&missed),
            pool: Arc::clone(&carriers),
            store: Arc::clone(&store),
            router: router.clone(),
            default_country: config.numbers.default_country.clone(),
            in_pool: Arc::clone(&in_pool),
            outcomes: outcome_tx,
            writer: event_tx.clone(),
            first_id: ids.peek(),
            stats: Arc::clone(&stats),
            clock,
            cancel: dispatcher_stop.clone(),
            stopped: cancel.clone(),
        };
        let dispatcher = match work_queue {
            // Intake's direct hand-off is closed: the store queues what intake stores.
            Some(queue) => tracker.spawn(queued::run(dispatcher_parts, queue, routes)),
            None => tracker.spawn(dispatcher::run(dispatcher_parts, routes)),
        };

        // Client-segmented messages held until complete (policies with sensitive words).
        let waiting = Arc::new(assembly::Waiting::default());
        tracker.spawn(assembly::run(assembly::AssemblyParts {
            waiting: Arc::clone(&waiting),
            policy: Arc::clone(&policy),
            accounts: Arc::clone(&accounts),
            store: Arc::clone(&store),
            writer: event_tx.clone(),
            missed: Arc::clone(&missed),
            router: router.clone(),
            default_country: config.numbers.default_country.clone(),
            clock,
            cancel: dispatcher_stop.clone(),
        }));

        // The operator's actions, for the control socket and the admin HTTP API.
        let ops = Arc::new(operations::Operations {
            store: Arc::clone(&store),
            group: Arc::clone(&group),
            suppressions: Arc::clone(&suppressions),
            engine: Arc::clone(&policy).engine(),
            writer: event_tx.clone(),
            missed: Arc::clone(&missed),
            router: router.clone(),
            default_country: config.numbers.default_country.clone(),
            outbox_wake: Arc::clone(&outbox_wake),
            webhook_wake: Arc::clone(&webhook_wake),
            reload: reload::Reloader::new(
                Arc::clone(&config),
                reload::LiveParts {
                    accounts: Arc::clone(&accounts),
                    carriers: Arc::clone(&carriers),
                    backlog: Arc::clone(&backlog),
                    router: router.clone(),
                    missed: Arc::clone(&missed),
                    engine: Arc::clone(&policy).engine(),
                    max_window: max_window(&config),
                    in_pool_cap,
                },
            ),
        });
        let intake = Arc::new(Intake::new(IntakeParts {
            accounts: Arc::clone(&accounts),
            router,
            default_country: config.numbers.default_country.clone(),
            ids,
            group: Arc::clone(&group),
            policy: Arc::clone(&policy),
            backlog: Arc::clone(&backlog),
            dispatch: dispatch_tx,
            missed: Arc::clone(&missed),
            writer: event_tx.clone(),
            waiting,
            stats: Arc::clone(&stats),
            clock,
            validity: u64::try_from(config.store.validity.as_millis()).unwrap_or(u64::MAX),
            shared_caps,
        }));
        let http = match &config.http {
            Some(http) => Some(
                crate::http::HttpServer::start(crate::http::HttpParts {
                    config: Arc::clone(&config),
                    http: http.clone(),
                    intake: Arc::clone(&intake),
                    store: Arc::clone(&store),
                    group: Arc::clone(&group),
                    clock,
                    carriers: Arc::clone(&carriers),
                    stats: Arc::clone(&stats),
                    ops: Arc::clone(&ops),
                })
                .await
                .context("starting the HTTP listener")?,
            ),
            None => None,
        };
        let upstream = Arc::new(Upstream {
            intake,
            lockout: Lockout::new(&config.server),
            windows: dashmap::DashMap::new(),
            outbox_wake: Arc::clone(&outbox_wake),
            store: Arc::clone(&store),
            stats: Arc::clone(&stats),
        });
        let unbind_stop = cancel.child_token();
        let server_config = server_config(&config);
        let outbox_window = server_config.conn.session.window_size;
        let server = SmscServer::bind(&config.server.listen, server_config, upstream)
            .await
            .context("starting the upstream listener")?;

        // Sessions of the accounts a reload removes are unbound (first on stop: the
        // listener's shutdown unbinds the rest).
        tracker.spawn(reload::unbind_removed(
            Arc::clone(server.registry()),
            Arc::clone(&accounts),
            ops.reload.subscribe(),
            unbind_stop.clone(),
        ));
        let outbox_stop = cancel.child_token();
        let receipts = &config.receipts;
        let outbox = tracker.spawn(outbox::run(outbox::OutboxDeps {
            store: Arc::clone(&store),
            group: Arc::clone(&group),
            registry: Arc::clone(server.registry()),
            wake: outbox_wake,
            accounts: accounts.iter().map(|a| Arc::clone(&a.name)).collect(),
            forwarded: Arc::clone(&stats.forwarded),
            reloads: ops.reload.subscribe(),
            clock,
            cancel: outbox_stop.clone(),
            retry: outbox::RetryPolicy {
                max_attempts: receipts.outbox_max_attempts,
                initial: receipts.outbox_retry_initial,
                max: receipts.outbox_retry_max,
            },
            window: outbox_window,
            leases: outbox_leases.clone(),
            hooks: Arc::clone(&accounts),
            hook_wake: Arc::clone(&webhook_wake),
        }));
        let webhooks_stop = cancel.child_token();
        let webhooks = crate::http::webhook::start(crate::http::webhook::WebhookParts {
            accounts: Arc::clone(&accounts),
            http: config.http.clone().unwrap_or_default(),
            store: Arc::clone(&store),
            group: Arc::clone(&group),
            clock,
            cancel: webhooks_stop.clone(),
            wake: webhook_wake,
            reloads: ops.reload.subscribe(),
            leases: outbox_leases,
        })
        .context("starting the webhook sink")?;
        // `smppgate suppress` reaches the running gateway here (a store on disk only).
        let control_stop = cancel.child_token();
        if config.store.path.as_os_str() != ":memory:" {
            let path = crate::policy::suppression_control::socket_path(&config.store.path);
            match control::bind(&path) {
                Ok(listener) => {
                    tracker.spawn(control::run(
                        listener,
                        control::ControlParts {
                            path,
                            ops: Arc::clone(&ops),
                            tracker: tracker.clone(),
                            cancel: control_stop.clone(),
                        },
                    ));
                }
                // Not fatal: the gateway runs; `smppgate suppress` then says the store is
                // in use (a socket path is limited to 107 bytes).
                Err(error) => tracing::warn!(path = %path.display(), %error, "no control socket"),
            }
        }
        let housekeeping_stop = cancel.child_token();
        // Alone, this node sweeps; in a cluster only once the membership stage has seen
        // it is the first live node.
        let sweeps = Arc::new(std::sync::atomic::AtomicBool::new(config.cluster.is_none()));
        let housekeeping = tracker.spawn(housekeeping::run(housekeeping::HousekeepingParts {
            config: Arc::clone(&config),
            store: Arc::clone(&store),
            writer: event_tx,
            stats: Arc::clone(&stats),
            policy,
            clock,
            sweeps: Arc::clone(&sweeps),
            accounts: Arc::clone(&accounts),
            cancel: housekeeping_stop.clone(),
        }));
        tracker.spawn(gauges::run(
            accounts,
            Arc::clone(&backlog),
            Arc::clone(&stats),
            cancel.child_token(),
        ));
        Ok(Self {
            server,
            carriers,
            store,
            group,
            stats,
            cpu_at_start,
            cancel,
            dispatcher_stop,
            housekeeping_stop,
            writer_finish,
            outbox_stop,
            control_stop,
            dispatcher,
            housekeeping,
            writer,
            outbox,
            tracker,
            sims,
            http,
            webhooks,
            webhooks_stop,
            suppressions,
            ops,
            backlog,
            sweeps,
        })
    }

    /// Where `POST /v1/reload` and [`Gateway::reload`] read the configuration again (as
    /// `serve` read it, its command-line overrides applied). Without one a reload is
    /// refused.
    pub fn set_config_source(&self, source: reload::ConfigSource) {
        self.ops.reload.set_source(source);
    }

    /// Reads the configuration again (SIGHUP): applies what can change live, reads the
    /// policies' blacklists again, and returns the answer `POST /v1/reload` gives.
    ///
    /// # Errors
    /// No file, or a file `check-config` refuses: nothing applied.
    pub async fn reload(&self) -> Result<serde_json::Value, reload::ReloadError> {
        self.reload_handle().reload().await
    }

    /// A handle that reloads while the gateway runs (SIGHUP's task holds one).
    #[must_use]
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle(Arc::clone(&self.ops))
    }

    /// The HTTP API's address, when `[http]` is configured.
    #[must_use]
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().map(crate::http::HttpServer::local_addr)
    }

    /// The opt-out suppression list in force.
    #[must_use]
    pub fn suppressions(&self) -> &Arc<Suppressions> {
        &self.suppressions
    }

    /// The carriers this node has a bind up to, for its heartbeat (`[cluster]`: each
    /// carrier's contract is split among the nodes bound to it).
    #[must_use]
    pub fn bound_carriers(&self) -> crate::store::Bound {
        let carriers = Arc::clone(&self.carriers);
        Arc::new(move || carriers.bound_carriers())
    }

    /// Follows the live nodes of a `[cluster]` (`store::follow_liveness`): splits each
    /// carrier's binds and TPS among them and reads the backlog again when this node took a dead
    /// node's messages over (docs/cluster.md "Node liveness and takeover").
    pub fn follow_membership(
        &self,
        membership: tokio::sync::watch::Receiver<crate::store::Membership>,
    ) {
        let routes = self
            .ops
            .reload
            .subscribe()
            .borrow()
            .routes
            .iter()
            .map(|route| Arc::from(route.name.as_str()))
            .collect();
        self.tracker
            .spawn(membership::run(membership::MembershipParts {
                membership,
                carriers: Arc::clone(&self.carriers),
                missed: Arc::clone(&self.ops.missed),
                routes,
                backlog: Arc::clone(&self.backlog),
                sweeps: Arc::clone(&self.sweeps),
                store: Arc::clone(&self.ops.store),
                writer: self.ops.writer.clone(),
                // Stops with the dispatcher (what it does matters to no later stage).
                cancel: self.dispatcher_stop.child_token(),
            }));
    }

    /// Wakes the outbox stages (SMPP and webhook): items were queued in the store by
    /// someone else (another node of a `[cluster]`, docs/cluster.md), in the named store
    /// queue (that account's task is woken) or anywhere (`None`: every account's).
    pub fn outbox_waker(&self) -> impl Fn(Option<&str>) + Send + Sync + 'static {
        let (smpp, webhook) = (
            Arc::clone(&self.ops.outbox_wake),
            Arc::clone(&self.ops.webhook_wake),
        );
        move |queue| match queue {
            Some(queue) => wakes::Wakes::queued(&smpp, &webhook, queue),
            None => {
                smpp.every();
                webhook.every();
            }
        }
    }

    /// The HTTP API's follower of the idempotent answers other `[cluster]` nodes store
    /// (`store::watch_outbox`), when `[http]` is configured.
    #[must_use]
    pub fn idempotency_follower(&self) -> Option<crate::store::OutboxFollower> {
        self.http
            .as_ref()
            .map(crate::http::HttpServer::idempotency_follower)
    }

    /// The upstream listener's address.
    #[must_use]
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The store (read-only use: lookups, listings).
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The counters, the group commit's figures (commits, ops and callers per commit,
    /// commit time) and the process CPU time per accepted message, as JSON: what `serve`
    /// prints on exit.
    #[must_use]
    pub fn report_json(&self) -> serde_json::Value {
        report(&self.stats, &self.group, self.cpu_at_start)
    }

    /// Stops, draining the stages in order (see the module documentation): no new
    /// submits, clients unbound; the outbox records what they acknowledged; the
    /// dispatcher stops; the pool drains its windows until `grace` is used up; the
    /// writer commits every outcome. Returns the final report ([`Gateway::report_json`]).
    pub async fn stop(self, grace: Duration) -> serde_json::Value {
        let end = tokio::time::Instant::now() + grace;
        let left = || end.saturating_duration_since(tokio::time::Instant::now());
        self.control_stop.cancel();
        // The outbox sends nothing new; what is in flight is answered (or aborted) as the
        // sessions unbind, and what the clients acknowledged is recorded.
        self.outbox_stop.cancel();
        // A post in flight is cut off: its batch stays queued and goes after the restart.
        self.webhooks_stop.cancel();
        if let Some(http) = self.http {
            http.shutdown(grace / 3).await;
        }
        if !self.server.shutdown(grace / 3).await {
            tracing::warn!("some upstream sessions did not close in time");
        }
        drop(self.server);
        if tokio::time::timeout(left().max(Duration::from_secs(1)), self.outbox)
            .await
            .is_err()
        {
            tracing::warn!("the outbox did not finish in time");
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.webhooks.wait()).await;
        self.dispatcher_stop.cancel();
        if tokio::time::timeout(left().max(Duration::from_secs(1)), self.dispatcher)
            .await
            .is_err()
        {
            tracing::warn!("the dispatcher did not finish in time");
        }
        // What the pool holds is sent or comes back unsent (pending, sent after the
        // restart); every outcome reaches the writer's queue.
        self.carriers.drain(left()).await;
        drop(self.carriers);
        self.housekeeping_stop.cancel();
        if tokio::time::timeout(left().max(Duration::from_secs(1)), self.housekeeping)
            .await
            .is_err()
        {
            tracing::warn!("housekeeping did not finish in time");
        }
        self.writer_finish.cancel();
        if tokio::time::timeout(left().max(Duration::from_secs(5)), self.writer)
            .await
            .is_err()
        {
            tracing::error!("the receipt writer did not finish in time");
        }
        // After the pools drained: their last answers and unbinds came from these.
        self.sims.shutdown(Duration::from_secs(1)).await;
        self.stats.publish();
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tracker.wait()).await;
        report(&self.stats, &self.group, self.cpu_at_start)
    }
}

fn report(stats: &Stats, group: &GroupCommit, cpu_at_start: Option<u64>) -> serde_json::Value {
    let mut json = stats.to_json();
    let group = group.stats();
    let summary = |h: &hdrhistogram::Histogram<u64>| {
        serde_json::json!({
            "mean": (h.mean() * 10.0).round() / 10.0,
            "p50": h.value_at_quantile(0.5),
            "p99": h.value_at_quantile(0.99),
            "max": h.max(),
        })
    };
    json["store"] = serde_json::json!({
        "commits": group.commits,
        "failed_commits": group.failed_commits,
        "ops": group.ops,
        "requests": group.requests,
        "ops_per_commit": summary(&group.batch_size),
        "requests_per_commit": summary(&group.batch_requests),
        "commit_micros": summary(&group.commit_micros),
    });
    let accepted = stats.accepted.load(std::sync::atomic::Ordering::Relaxed);
    if let (Some(start), Some(now)) = (cpu_at_start, process_cpu_micros()) {
        let used = now.saturating_sub(start);
        json["cpu_us"] = serde_json::json!(used);
        if accepted > 0 {
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            let per = used as f64 / accepted as f64;
            json["cpu_us_per_message"] = serde_json::json!((per * 100.0).round() / 100.0);
        }
    }
    json
}

/// The suppression list as `store` holds it, read off the runtime threads.
///
/// # Errors
/// The store cannot be read.
pub async fn load_suppressions(store: &Arc<dyn Store>) -> anyhow::Result<Arc<Suppressions>> {
    let store = Arc::clone(store);
    let set = tokio::task::spawn_blocking(move || Suppressions::load(&*store))
        .await
        .context("reading the suppression list")?
        .context("reading the suppression list")?;
    Ok(Arc::new(set))
}

/// The listener's most owed responses per session: the largest account window at start.
fn max_window(config: &Config) -> usize {
    config
        .accounts
        .iter()
        .map(|a| a.window)
        .max()
        .unwrap_or(64)
        .max(1)
}

fn server_config(config: &Config) -> ServerConfig {
    let mut server = ServerConfig {
        max_connections: config.server.max_connections,
        ..ServerConfig::default()
    };
    server.conn.session.max_owed_responses = max_window(config);
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
    server
}

#[cfg(test)]
mod cap_tests {
    use super::*;

    /// Three routes over one carrier, each with full lanes while the carrier is down,
    /// still leave the cap room for a fourth route's messages.
    #[test]
    fn the_in_pool_cap_holds_every_routes_lanes() {
        let mut config = Config::demo();
        let template = config.routes[0].clone();
        config.routes = (0..4)
            .map(|i| crate::config::RouteConfig {
                name: format!("r{i}"),
                queue: 10_000,
                ..template.clone()
            })
            .collect();
        let lanes_of_three = 3 * 10_000 * crate::config::Class::ALL.len();
        assert!(
            in_pool_cap(&config) > lanes_of_three + 10_000,
            "{}",
            in_pool_cap(&config)
        );
        assert!(in_pool_cap(&Config::demo()) >= IN_POOL_CAP);
    }
}
