//! `smppgate serve`: the gateway. Without `--config`, a complete demo: account
//! `demo`/`demo` on 127.0.0.1:2775, a store under `./data`, one route to a built-in
//! simulated carrier.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::config::Config;
use crate::gateway::Gateway;
use crate::policy::engine::PolicyEngine;
use crate::shutdown::terminate_signal;

/// `smppgate serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (see docs/smppgate.example.toml); without it, the demo set-up.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Listen here instead of the configured `server.listen`.
    #[arg(long)]
    pub listen: Option<String>,
    /// Store directory instead of the configured `store.path` (`:memory:`: no durability).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Serve the HTTP API here instead of the configured `http.listen` (the demo's is
    /// 127.0.0.1:8080; `127.0.0.1:0` picks a free port).
    #[arg(long)]
    pub http_listen: Option<String>,
    /// Serve Prometheus metrics on this address (`host:port`).
    #[arg(long)]
    pub metrics: Option<String>,
    /// How long stopping may take (drain carrier requests, flush the store).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
}

/// Runs until SIGINT / SIGTERM.
///
/// # Errors
/// Bad configuration, store or listener failures.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    super::init_logging_at("info");
    let demo = args.config.is_none();
    // The file as `serve` reads it, the command line's overrides applied: read again by
    // `POST /v1/reload` and SIGHUP.
    let source: Option<crate::gateway::reload::ConfigSource> = args.config.clone().map(|path| {
        let (listen, store, http_listen, metrics) = (
            args.listen.clone(),
            args.store.clone(),
            args.http_listen.clone(),
            args.metrics.clone(),
        );
        let source: crate::gateway::reload::ConfigSource = std::sync::Arc::new(move || {
            let mut config = Config::load(&path)?;
            override_with(
                &mut config,
                listen.as_deref(),
                store.as_deref(),
                http_listen.as_deref(),
                metrics.as_deref(),
            );
            Ok(config)
        });
        source
    });
    let mut config = match &source {
        Some(source) => source()?,
        None => Config::demo(),
    };
    if demo {
        override_with(
            &mut config,
            args.listen.as_deref(),
            args.store.as_deref(),
            None,
            args.metrics.as_deref(),
        );
    }
    // The demo serves the HTTP API too, with an account key and an admin token made for
    // this run.
    let demo_key = demo.then(|| {
        let key = super::api_key::new_key(false);
        let admin = super::api_key::new_key(true);
        config.accounts[0]
            .api_keys
            .push(crate::http::key_hash(&key));
        config.http = Some(crate::config::HttpConfig {
            admin_token_hash: Some(crate::http::key_hash(&admin)),
            ..crate::config::HttpConfig::default()
        });
        DemoKeys { key, admin }
    });
    if demo {
        if let Some(listen) = &args.http_listen {
            config
                .http
                .get_or_insert_with(crate::config::HttpConfig::default)
                .listen
                .clone_from(listen);
        }
    }
    no_transparent_huge_pages();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(config, source, demo_key, args.grace))
}

/// The demo's credentials, made for one run and printed once.
struct DemoKeys {
    /// The demo account's API key.
    key: String,
    /// The admin token.
    admin: String,
}

/// Transparent huge pages off for this process (docs/adr/0003-allocator.md, 2026-12-07):
/// the allocator asks the kernel for them, and each first touch of one then zeroes 2 MiB
/// on the hot path (~140 such faults in a 200 k submit_sm run; the gateway used ~9 % less
/// CPU per submit_sm without). Nothing depends on it: a kernel that refuses is logged.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::info!(%error, "transparent huge pages left as they are");
    }
}

/// The command line's overrides of the file's settings.
fn override_with(
    config: &mut Config,
    listen: Option<&str>,
    store: Option<&std::path::Path>,
    http_listen: Option<&str>,
    metrics: Option<&str>,
) {
    if let Some(listen) = listen {
        config.server.listen = listen.to_owned();
    }
    if let Some(store) = store {
        config.store.path = store.to_owned();
    }
    if let Some(listen) = http_listen {
        config
            .http
            .get_or_insert_with(crate::config::HttpConfig::default)
            .listen = listen.to_owned();
    }
    if let Some(metrics) = metrics {
        config.metrics = Some(crate::config::MetricsConfig {
            listen: metrics.to_owned(),
        });
    }
}

async fn serve(
    config: Config,
    source: Option<crate::gateway::reload::ConfigSource>,
    demo_key: Option<DemoKeys>,
    grace: Duration,
) -> anyhow::Result<ExitCode> {
    if let Some(metrics) = &config.metrics {
        let addr: std::net::SocketAddr = metrics
            .listen
            .parse()
            .with_context(|| format!("metrics.listen `{}` is not host:port", metrics.listen))?;
        super::exporter::builder()
            .with_context(|| format!("serving metrics on {addr}"))?
            .with_http_listener(addr)
            .install()
            .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("metrics: http://{addr}/metrics");
    }
    let terminate = terminate_signal().context("installing signal handlers")?;
    // With the others, before the store is opened: a SIGHUP during the start (a
    // blacklist reload, systemd's ExecReload) would otherwise kill the process. It waits
    // in the stream until the gateway is up.
    let hangup = hangup_signal().context("installing the SIGHUP handler")?;
    let store = crate::gateway::open_store(&config)?;
    // Test-only: a clock offset from a file (tests/serve_quiet_hours.rs).
    let clock = match crate::clock::TestClock::from_env().map_err(anyhow::Error::msg)? {
        Some(test_clock) => {
            let clock = test_clock.clock();
            tracing::warn!(
                wall_ms = clock.wall_ms(),
                "{} is set: the gateway runs on a test clock, not for production",
                crate::clock::TEST_CLOCK_ENV
            );
            tokio::spawn(test_clock.follow());
            clock
        }
        None => crate::clock::Clock::system(),
    };
    // Other nodes' opt-outs (docs/cluster.md): the shared list's changes, as they come.
    // The watch is open before the list is read, so a change made in between is in the
    // list or in the watch (applied twice it is the same); opened after, an opt-out
    // another node took while this one started was missed until its next start.
    // A first open that fails is tried again in the background (that watch replays the
    // bucket, for what changed since the list was read): a node must not go on without
    // the other nodes' opt-outs.
    let watch = match config.cluster.clone() {
        Some(cluster) => Some(
            crate::store::SuppressionWatch::open(cluster.clone())
                .await
                .map_err(|error| {
                    tracing::error!(%error, "the shared suppression list is not followed yet (tried again every second)");
                    cluster
                }),
        ),
        None => None,
    };
    // The opt-out list: the engine looks numbers up in it, MO replies and
    // `smppgate suppress` change it.
    let suppressions = crate::gateway::load_suppressions(&store).await?;
    if let Some(watch) = watch {
        let set = std::sync::Arc::clone(&suppressions);
        tokio::spawn(async move {
            let watch = match watch {
                Ok(watch) => watch,
                Err(cluster) => crate::store::SuppressionWatch::open_later(cluster).await,
            };
            watch
                .run(move |change| match change {
                    crate::store::SuppressionChange::Added(entry) => {
                        set.insert(&entry.scope, &entry.number);
                    }
                    crate::store::SuppressionChange::Removed { scope, number } => {
                        set.remove(&scope, &number);
                    }
                })
                .await;
        });
    }
    let policies = PolicyEngine::for_gateway(
        &config,
        std::sync::Arc::clone(&store),
        std::sync::Arc::clone(&suppressions) as _,
        clock.wall_ms(),
    )
    .await?;
    let hook: std::sync::Arc<dyn crate::gateway::policy::Policy> = match &policies {
        Some(engine) => engine.clone(),
        None => std::sync::Arc::new(crate::gateway::policy::PassThrough),
    };
    // Other nodes' outbox items (docs/cluster.md), subscribed before the gateway starts:
    // an idempotent answer another node stores while this one starts is buffered, not
    // missed; the items wake this node's outbox tasks once it runs (below).
    // A first subscription that fails is tried again in the background (meanwhile the
    // outboxes are read every second).
    let outbox_watch = match &config.cluster {
        Some(cluster) => Some(crate::store::OutboxWatch::open(cluster).await.map_err(|error| {
            tracing::error!(%error, "the other nodes' outbox items are not followed yet (tried again every second)");
            cluster.clone()
        })),
        None => None,
    };
    let gateway =
        Gateway::start_with_suppressions(config.clone(), store, hook, clock, suppressions).await?;
    drop(policies);
    if let Some(source) = source {
        gateway.set_config_source(source);
    }
    if let Some(cluster) = config.cluster.clone() {
        // The live nodes (docs/cluster.md "Node liveness and takeover"): the carrier binds
        // and TPS split, dead nodes' backlogs taken over; a node whose slot another took
        // stops.
        let (membership, live) =
            tokio::sync::watch::channel(crate::store::Membership::alone(&cluster.node));
        gateway.follow_membership(live.clone());
        let bound = gateway.bound_carriers();
        tokio::spawn(async move {
            if let Err(error) = crate::store::follow_liveness(cluster, membership, bound).await {
                tracing::error!(%error, "not following node liveness: no split of the carrier binds and TPS (this node holds them all), no takeover");
            }
        });
        tokio::spawn(fenced_exit(live));
    }
    if let Some(watch) = outbox_watch {
        // Receipts and MO that other nodes queue for accounts bound here, and the HTTP
        // API's idempotent answers other nodes store (a retry that lands here gets the
        // first answer).
        let (wake, follower) = (gateway.outbox_waker(), gateway.idempotency_follower());
        tokio::spawn(async move {
            let watch = match watch {
                Ok(watch) => watch,
                Err(cluster) => crate::store::OutboxWatch::open_later(cluster, &wake).await,
            };
            watch.run(wake, follower).await;
        });
    }
    on_hangup(hangup, gateway.reload_handle());
    let addr = gateway.local_addr();
    println!("listening on {addr}");
    if let Some(http) = gateway.http_addr() {
        println!("http: http://{http}");
    }
    // Beside the store it holds: where the CLI asks instead of opening it.
    let api_url = gateway.http_addr().map(|http| format!("http://{http}"));
    let own_store = config.cluster.is_none() && config.store.path.is_dir();
    if own_store {
        crate::store::announce_api(&config.store.path, api_url.as_deref());
    }
    if let Some(DemoKeys { key, admin }) = demo_key {
        tracing::warn!(
            "demo set-up: account demo/demo with a clear-text password; use --config for anything real"
        );
        println!(
            "demo set-up: system_id demo, password demo; carrier: built-in simulator; store: {}",
            config.store.path.display()
        );
        println!(
            "try: cargo run --release -p smppgate-loadtest -- --connect {addr} --system-id demo --password demo --count 1000 --receipts"
        );
        if let Some(http) = gateway.http_addr() {
            println!("demo API key (this run only): {key}");
            println!(
                "try: curl -H 'Authorization: Bearer {key}' -d '{{\"to\":\"+8613800138000\",\"text\":\"hello\"}}' http://{http}/v1/messages"
            );
            println!("demo admin token (this run only): {admin}");
            println!(
                "try: {}={admin} cargo run --release -- messages list --since 10m",
                super::remote::TOKEN_ENV
            );
        }
    } else {
        println!(
            "{} accounts, {} carriers, store {}",
            config.accounts.len(),
            config.carriers.len(),
            config.store.path.display()
        );
    }
    terminate.await;
    eprintln!("stopping: unbinding clients, draining carriers (up to {grace:?})");
    // A second SIGTERM / SIGINT does not wait for the drain: everything acknowledged is
    // in the store already (each answer waited for its commit), and what was in flight
    // is sent again after the restart.
    if let Ok(again) = terminate_signal() {
        tokio::spawn(async move {
            again.await;
            eprintln!("smppgate: second signal: exiting now, without finishing the stop");
            std::process::exit(SECOND_SIGNAL_EXIT);
        });
    }
    if own_store && api_url.is_some() {
        // Withdrawn while the store is still held: a gateway started on it after this
        // one lets go records its own.
        crate::store::announce_api(&config.store.path, None);
    }
    let stats = gateway.stop(grace).await;
    println!("{stats}");
    Ok(ExitCode::SUCCESS)
}

/// SIGHUP (systemd's `ExecReload`, `smppgate blacklist reload`, or `kill -HUP`) must not
/// stop the gateway, as its default action would, without draining. It reads the
/// configuration file again as `POST /v1/reload` does: what can change live is put in
/// force (account and carrier TPS, API keys, the admin token, the policies' blacklist
/// files), the rest is logged as needing a restart; a file `check-config` refuses is
/// refused whole (logged), nothing applied. Binds stay up; lookups never wait.
fn on_hangup(hangup: Hangup, reload: crate::gateway::ReloadHandle) {
    #[cfg(unix)]
    {
        let mut hangup = hangup;
        // Ends with the runtime; one reload at a time (a burst of signals coalesces).
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match reload.reload().await {
                    Ok(answer) => tracing::info!(%answer, "SIGHUP: configuration reloaded"),
                    Err(crate::gateway::reload::ReloadError::NoFile) => {
                        let lists = reload.reload_blacklists().await;
                        tracing::info!(%lists, "SIGHUP: no configuration file; blacklists reloaded");
                    }
                    Err(error) => tracing::error!(%error, "SIGHUP: reload refused"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop((hangup, reload));
}

/// The exit status after a second SIGTERM / SIGINT cut the stop short (128 + SIGINT,
/// as a shell reports an interrupted command).
const SECOND_SIGNAL_EXIT: i32 = 130;

#[cfg(unix)]
type Hangup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangup = ();

/// The SIGHUP stream, installed now (the default action, ending the process, is gone
/// from then on).
fn hangup_signal() -> std::io::Result<Hangup> {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    }
    #[cfg(not(unix))]
    {
        Ok(())
    }
}

/// Ends the process when another node took this node's slot over (it counted this node
/// as dead): what this node still holds in memory is the survivor's to send now. Started
/// again, the node claims a fresh slot (docs/cluster.md "Node liveness and takeover").
async fn fenced_exit(mut live: tokio::sync::watch::Receiver<crate::store::Membership>) {
    if live.wait_for(|membership| membership.fenced).await.is_ok() {
        tracing::error!(
            "another node took this node's slot over (no heartbeat seen for node_ttl): exiting; start it again"
        );
        eprintln!("smppgate: fenced: another node took this node's messages over; exiting");
        std::process::exit(FENCED_EXIT);
    }
}

/// `serve`'s exit status when fenced (EX_TEMPFAIL: start it again).
const FENCED_EXIT: i32 = 75;
