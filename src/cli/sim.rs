//! `smppgate sim`: run the simulated carrier SMSC until SIGINT / SIGTERM.
//!
//! stdout carries exactly two lines: `listening on ADDR` once ready, and one JSON object of
//! counters at exit. Logs go to stderr (`RUST_LOG`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::sim::{IdFormat, Sim, SimConfig};

/// Arguments of `smppgate sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0: any free port; the one chosen is printed).
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: String,
    /// Accept only this system_id (others get ESME_RINVSYSID).
    #[arg(long)]
    pub system_id: Option<String>,
    /// Accept only this password (others get ESME_RINVPASWD).
    #[arg(long)]
    pub password: Option<String>,
    /// Delay before a delivery receipt is sent, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub receipt_delay_ms: u64,
    /// How message ids are written.
    #[arg(long, value_enum, default_value_t = IdFormatArg::Hex)]
    pub id_format: IdFormatArg,
    /// Most connections at once.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Window for deliver_sm (receipts) per session.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// `--id-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdFormatArg {
    /// Lower-case hexadecimal.
    Hex,
    /// Decimal.
    Dec,
}

/// Runs `smppgate sim`.
///
/// # Errors
/// When the address cannot be bound or the runtime cannot start.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    super::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: SimArgs) -> anyhow::Result<ExitCode> {
    let mut config = SimConfig {
        listen: args.listen,
        system_id: args.system_id,
        password: args.password,
        receipt_delay: Duration::from_millis(args.receipt_delay_ms),
        id_format: match args.id_format {
            IdFormatArg::Hex => IdFormat::Hex,
            IdFormatArg::Dec => IdFormat::Dec,
        },
        ..SimConfig::default()
    };
    config.server.max_connections = args.max_connections;
    config.server.conn.session.window_size = args.window;
    if let (Some(cert_pem), Some(key_pem)) = (args.tls_cert, args.tls_key) {
        config.server.tls = Some(crate::conn::TlsServerConfig { cert_pem, key_pem });
    }
    let unbind_ms = config.server.conn.session.unbind_timeout_ms;
    let sim = Sim::start(config).await?;
    let signal = crate::shutdown::terminate_signal().context("installing signal handlers")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", sim.local_addr())?;
        stdout.flush()?;
    }
    signal.await;
    tracing::info!("signal received: unbinding sessions");
    let counters = sim
        .shutdown(Duration::from_millis(2 * unbind_ms + 1000))
        .await;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{counters}")?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
