//! `smppgate sim`: run the simulated carrier SMSC until SIGINT / SIGTERM.
//!
//! stdout carries `listening on ADDR` once ready (then `metrics on ADDR` with
//! `--metrics`), one JSON object of counters per `--stats-interval` (with `"t"`, seconds
//! since start), and one JSON object of counters at exit. Logs go to stderr (`RUST_LOG`).
//!
//! Every setting can also come from a TOML `--scenario` file (same names as the flags);
//! flags override the file.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use metrics_exporter_prometheus::BuildError;

use crate::sim::cmpp::{CmppSim, CmppSimConfig};
use crate::sim::scenario::Value;
use crate::sim::{Counters, Scenario, Sim};
use smppgate_protocol::cmpp::Version;

/// Arguments of `smppgate sim`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct SimArgs {
    /// Protocol the simulated carrier speaks: smpp, cmpp2 or cmpp3 (China Mobile ISMG),
    /// smgp (China Telecom SMGW) or sgip (China Unicom SMG) [default: smpp]. CMPP takes
    /// --listen, --account SP_ID:SECRET, --receipt-delay-ms MS, --receipt-states,
    /// --error-rate RESULT=PERCENT (CMPP Results, e.g. 8=10), --tps, --throttle-status
    /// RESULT [default: 8], --disconnect-rate, --mo-rate, --window and --max-connections;
    /// SMGP and SGIP take the same; SGIP also --report-to and --report-account.
    #[arg(long)]
    pub protocol: Option<String>,
    /// TOML file with any of these settings (keys as the flag names); flags override it.
    #[arg(long)]
    pub scenario: Option<std::path::PathBuf>,
    /// Address to listen on [default: 127.0.0.1:2775] (port 0: any free port; the one
    /// chosen is printed).
    #[arg(long)]
    pub listen: Option<String>,
    /// Accept only this system_id (others get ESME_RINVSYSID).
    #[arg(long)]
    pub system_id: Option<String>,
    /// Accept only this password (others get ESME_RINVPASWD).
    #[arg(long)]
    pub password: Option<String>,
    /// Accounts SYSTEM_ID:PASSWORD (repeatable): only these may bind; unknown system_id
    /// → ESME_RINVSYSID, wrong password → ESME_RINVPASWD.
    #[arg(long)]
    pub account: Vec<String>,
    /// Delay before a delivery receipt, ms: MIN or MIN-MAX (uniform) [default: 100].
    #[arg(long)]
    pub receipt_delay_ms: Option<String>,
    /// How message ids are written: hex, dec or uuid [default: hex].
    #[arg(long)]
    pub id_format: Option<String>,
    /// Zero-pad message ids (hex/dec) to this many characters.
    #[arg(long)]
    pub id_len: Option<String>,
    /// Most connections at once [default: 1024].
    #[arg(long)]
    pub max_connections: Option<String>,
    /// Window for deliver_sm (receipts) per session [default: 256].
    #[arg(long)]
    pub window: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Inject statuses into submit responses: STATUS=PERCENT,… (STATUS a name such as
    /// ESME_RTHROTTLED or hex such as 0x58).
    #[arg(long)]
    pub error_rate: Option<String>,
    /// Accepted submits per second per system_id, across its binds (GCRA); the excess
    /// gets --throttle-status.
    #[arg(long)]
    pub tps: Option<String>,
    /// Status for submits over --tps [default: ESME_RTHROTTLED].
    #[arg(long)]
    pub throttle_status: Option<String>,
    /// Receipt id bases: same, dec-in-text-hex-in-tlv or hex-in-text-dec-in-tlv.
    #[arg(long)]
    pub receipt_id_style: Option<String>,
    /// Receipt carries: text, tlv or both [default: both].
    #[arg(long)]
    pub receipt_format: Option<String>,
    /// Final receipt states by weight, e.g. DELIVRD=90,UNDELIV=5,EXPIRED=3,REJECTD=2.
    #[arg(long)]
    pub receipt_states: Option<String>,
    /// Which bind a receipt goes to: any (the submitting one first), same, or other.
    #[arg(long)]
    pub receipt_bind: Option<String>,
    /// Write the receipt on the wire before the submit_sm_resp (ignores the receipt delay).
    #[arg(long)]
    pub receipt_before_resp: bool,
    /// Delay before each submit response, ms: MIN or MIN-MAX.
    #[arg(long)]
    pub resp_delay_ms: Option<String>,
    /// Close a connection at the Nth request after its bind (that one unanswered).
    #[arg(long)]
    pub drop_after: Option<String>,
    /// Answer N message requests per connection, then nothing at all, enquire_link and
    /// unbind included (the socket stays open).
    #[arg(long)]
    pub silent_after: Option<String>,
    /// Drop each connection at random, PERCENT per minute on average (200 = twice a
    /// minute).
    #[arg(long)]
    pub disconnect_rate: Option<String>,
    /// Binds after the Nth successful one get ESME_RBINDFAIL.
    #[arg(long)]
    pub reject_bind_after: Option<String>,
    /// Binds at once per system_id; one more gets --max-binds-status.
    #[arg(long)]
    pub max_binds: Option<String>,
    /// Status for a bind over --max-binds [default: ESME_RALYBND].
    #[arg(long)]
    pub max_binds_status: Option<String>,
    /// Mobile-originated messages per second (N/s) to bound receivers.
    #[arg(long)]
    pub mo_rate: Option<String>,
    /// SGIP: the SP's report listener (HOST:PORT) the simulated SMG connects to (Bind
    /// LoginType 2) to send Reports and MO.
    #[arg(long)]
    pub report_to: Option<String>,
    /// SGIP: NAME:PASSWORD of the report link's Bind [default: the first --account].
    #[arg(long)]
    pub report_account: Option<String>,
    /// Print the counters as a JSON line every S seconds.
    #[arg(long)]
    pub stats_interval: Option<String>,
    /// Serve Prometheus metrics on this address (GET any path but `/health`).
    #[arg(long)]
    pub metrics: Option<String>,
}

impl SimArgs {
    fn flags(&self) -> Scenario {
        let v = |o: &Option<String>| o.clone().map(Value::from);
        Scenario {
            listen: v(&self.listen),
            system_id: v(&self.system_id),
            password: v(&self.password),
            receipt_delay_ms: v(&self.receipt_delay_ms),
            id_format: v(&self.id_format),
            id_len: v(&self.id_len),
            max_connections: v(&self.max_connections),
            window: v(&self.window),
            error_rate: v(&self.error_rate),
            tps: v(&self.tps),
            throttle_status: v(&self.throttle_status),
            receipt_id_style: v(&self.receipt_id_style),
            receipt_format: v(&self.receipt_format),
            receipt_states: v(&self.receipt_states),
            receipt_bind: v(&self.receipt_bind),
            receipt_before_resp: self.receipt_before_resp.then_some(Value::Bool(true)),
            resp_delay_ms: v(&self.resp_delay_ms),
            drop_after: v(&self.drop_after),
            silent_after: v(&self.silent_after),
            disconnect_rate: v(&self.disconnect_rate),
            reject_bind_after: v(&self.reject_bind_after),
            max_binds: v(&self.max_binds),
            max_binds_status: v(&self.max_binds_status),
            mo_rate: v(&self.mo_rate),
            stats_interval: v(&self.stats_interval),
            metrics: v(&self.metrics),
            account: self.account.clone(),
        }
    }
}

/// Runs `smppgate sim`.
///
/// # Errors
/// When the settings are wrong, the address cannot be bound or the runtime cannot start.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    super::init_logging();
    enum China {
        Cmpp(CmppSimConfig),
        Smgp(crate::sim::smgp::SmgpSimConfig),
        Sgip(crate::sim::sgip::SgipSimConfig),
    }
    let china = match args.protocol.as_deref() {
        None | Some("smpp") => None,
        Some("smgp") => Some(China::Smgp(super::sim_china::smgp_config(&args)?)),
        Some("sgip") => Some(China::Sgip(super::sim_china::sgip_config(&args)?)),
        Some(other) => Some(China::Cmpp(cmpp_config(other, &args)?)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match china {
        Some(China::Cmpp(config)) => runtime.block_on(serve_cmpp(config)),
        Some(China::Smgp(config)) => runtime.block_on(super::sim_china::serve_smgp(config)),
        Some(China::Sgip(config)) => runtime.block_on(super::sim_china::serve_sgip(config)),
        None => runtime.block_on(serve(args)),
    }
}

/// The CMPP simulator's settings from the flags; a flag it does not take is an error
/// naming it.
fn cmpp_config(protocol: &str, args: &SimArgs) -> anyhow::Result<CmppSimConfig> {
    let version = match protocol {
        "cmpp2" => Version::V2,
        "cmpp3" => Version::V3,
        other => anyhow::bail!("--protocol {other}: expected smpp, cmpp2, cmpp3, smgp or sgip"),
    };
    let smpp_only = [
        ("--scenario", args.scenario.is_some()),
        ("--system-id", args.system_id.is_some()),
        ("--password", args.password.is_some()),
        ("--id-format", args.id_format.is_some()),
        ("--id-len", args.id_len.is_some()),
        ("--tls-cert", args.tls_cert.is_some()),
        ("--receipt-id-style", args.receipt_id_style.is_some()),
        ("--receipt-format", args.receipt_format.is_some()),
        ("--receipt-bind", args.receipt_bind.is_some()),
        ("--receipt-before-resp", args.receipt_before_resp),
        ("--resp-delay-ms", args.resp_delay_ms.is_some()),
        ("--drop-after", args.drop_after.is_some()),
        ("--silent-after", args.silent_after.is_some()),
        ("--reject-bind-after", args.reject_bind_after.is_some()),
        ("--max-binds", args.max_binds.is_some()),
        ("--max-binds-status", args.max_binds_status.is_some()),
        ("--stats-interval", args.stats_interval.is_some()),
        ("--metrics", args.metrics.is_some()),
        ("--report-to", args.report_to.is_some()),
        ("--report-account", args.report_account.is_some()),
    ];
    if let Some((flag, _)) = smpp_only.iter().find(|(_, set)| *set) {
        anyhow::bail!(
            "{flag} is not a CMPP simulator flag; --protocol {protocol} takes --listen, \
             --account, --receipt-delay-ms, --receipt-states, --error-rate, --tps, \
             --throttle-status, --disconnect-rate, --mo-rate, --window and --max-connections"
        );
    }
    let mut config = CmppSimConfig {
        version,
        ..CmppSimConfig::default()
    };
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    for account in &args.account {
        let Some((sp_id, secret)) = account.split_once(':') else {
            anyhow::bail!("--account {account}: expected SP_ID:SECRET, e.g. 900001:888888");
        };
        if sp_id.is_empty() || sp_id.len() > 6 || !sp_id.is_ascii() {
            anyhow::bail!(
                "--account {account}: the SP id (CMPP Source_Addr) is 1 to 6 ASCII \
                 characters, e.g. 900001"
            );
        }
        config.accounts.push((
            bytes::Bytes::copy_from_slice(sp_id.as_bytes()),
            bytes::Bytes::copy_from_slice(secret.as_bytes()),
        ));
    }
    let number = |flag: &str, value: &Option<String>, min: u64| -> anyhow::Result<Option<u64>> {
        value
            .as_deref()
            .map(|v| match v.trim().parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(anyhow::anyhow!(
                    "{flag} {v}: expected a whole number of at least {min}"
                )),
            })
            .transpose()
    };
    if let Some(ms) = number("--receipt-delay-ms", &args.receipt_delay_ms, 0)? {
        config.receipt_delay = Duration::from_millis(ms);
    }
    // Parsed as for SMGP and SGIP (the same flags, the same errors).
    let faults = super::sim_china::faults(args)?;
    config.error_rate = faults.error_rate;
    config.receipt_states = faults.receipt_states;
    config.tps = faults.tps;
    config.throttle_result = faults.throttle_result;
    config.disconnect_rate = faults.disconnect_rate;
    config.mo_rate = faults.mo_rate;
    if let Some(window) = number("--window", &args.window, 1)? {
        config.window = usize::try_from(window).unwrap_or(usize::MAX);
    }
    if let Some(max) = number("--max-connections", &args.max_connections, 1)? {
        config.max_connections = usize::try_from(max).unwrap_or(usize::MAX);
    }
    Ok(config)
}

async fn serve_cmpp(config: CmppSimConfig) -> anyhow::Result<ExitCode> {
    let listen = config.listen.clone();
    let sim = CmppSim::start(config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let signal = crate::shutdown::terminate_signal().context("installing signal handlers")?;
    print_line(&format!("listening on {}", sim.local_addr()))?;
    signal.await;
    tracing::info!("signal received: terminating CMPP links");
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    print_line(&counters.to_string())?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn print_line(line: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

async fn serve(args: SimArgs) -> anyhow::Result<ExitCode> {
    if let Some(flag) = [
        ("--report-to", args.report_to.is_some()),
        ("--report-account", args.report_account.is_some()),
    ]
    .iter()
    .find_map(|(flag, set)| set.then_some(flag))
    {
        anyhow::bail!("{flag} is for --protocol sgip, not the SMPP simulator");
    }
    let file = match &args.scenario {
        Some(path) => Scenario::from_file(path).map_err(anyhow::Error::msg)?,
        None => Scenario::default(),
    };
    let (mut config, reporting) = args
        .flags()
        .over(file)
        .to_config()
        .map_err(anyhow::Error::msg)?;
    if let (Some(cert_pem), Some(key_pem)) = (args.tls_cert, args.tls_key) {
        config.server.tls = Some(crate::conn::TlsServerConfig { cert_pem, key_pem });
    }
    let unbind_ms = config.server.conn.session.unbind_timeout_ms;
    let sim = Sim::start(config).await?;
    let signal = crate::shutdown::terminate_signal().context("installing signal handlers")?;
    print_line(&format!("listening on {}", sim.local_addr()))?;
    let mut background = Vec::new();
    if let Some(addr) = &reporting.metrics {
        let addr = install_metrics(addr)?;
        print_line(&format!("metrics on {addr}"))?;
        background.push(tokio::spawn(export_metrics(sim.counters_arc())));
    }
    if let Some(every) = reporting.stats_interval {
        background.push(tokio::spawn(print_stats(every, sim.counters_arc())));
    }
    signal.await;
    tracing::info!("signal received: unbinding sessions");
    for task in &background {
        task.abort();
    }
    let counters = sim
        .shutdown(Duration::from_millis(2 * unbind_ms + 1000))
        .await;
    print_line(&counters.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// One counters line every `every`, with `"t"`: seconds since start.
async fn print_stats(every: Duration, counters: Arc<Counters>) {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(start + every, every);
    loop {
        tick.tick().await;
        let mut json = counters.to_json();
        if let Some(object) = json.as_object_mut() {
            let t = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
            object.insert("t".to_owned(), serde_json::json!(t));
        }
        if print_line(&json.to_string()).is_err() {
            return;
        }
    }
}

/// Starts the Prometheus exporter on `addr` (must run inside the runtime); returns the
/// address it listens on.
fn install_metrics(addr: &str) -> anyhow::Result<SocketAddr> {
    let wanted = addr
        .to_socket_addrs()
        .with_context(|| format!("metrics: {addr} is not host:port"))?
        .next()
        .with_context(|| format!("metrics: {addr} resolves to no address"))?;
    // The exporter binds inside `install` and does not say which port it got, so for
    // port 0 (tests, ad-hoc runs) we take a free port first: bind, read it, let go. In
    // that moment another process may take it; then the exporter's bind fails and we
    // try another.
    let mut tries = 0;
    loop {
        tries += 1;
        let addr = if wanted.port() == 0 {
            std::net::TcpListener::bind(wanted)
                .and_then(|probe| probe.local_addr())
                .with_context(|| format!("metrics: cannot listen on {wanted}"))?
        } else {
            wanted
        };
        let builder = super::exporter::builder()
            .with_context(|| format!("metrics: cannot listen on {addr}"))?;
        match builder.with_http_listener(addr).install() {
            Ok(()) => return Ok(addr),
            Err(BuildError::FailedToCreateHTTPListener(_)) if wanted.port() == 0 && tries < 3 => {}
            Err(error) => {
                return Err(error).with_context(|| format!("metrics: cannot listen on {addr}"));
            }
        }
    }
}

/// Copies the counters into the exporter now and then once a second: a scrape sees
/// them at most a second old.
async fn export_metrics(counters: Arc<Counters>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        counters.export_metrics();
    }
}
