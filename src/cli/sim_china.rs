//! `smppgate sim --protocol smgp|sgip`: the China Telecom and China Unicom simulators'
//! settings from the flags (a flag they do not take is an error naming it) and their run
//! until SIGINT / SIGTERM, printing `listening on ADDR` and, at exit, one JSON object of
//! counters.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;

use super::sim::SimArgs;
use crate::sim::china::CarrierFaults;
use crate::sim::sgip::{SgipSim, SgipSimConfig};
use crate::sim::smgp::{SmgpSim, SmgpSimConfig};

/// Which of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum China {
    /// SMGP 3.0.
    Smgp,
    /// SGIP 1.2.
    Sgip,
}

impl China {
    const fn name(self) -> &'static str {
        match self {
            Self::Smgp => "smgp",
            Self::Sgip => "sgip",
        }
    }
}

/// The flags both take.
const TAKES: &str = "--listen, --account, --receipt-delay-ms, --receipt-states, --error-rate, \
                     --tps, --throttle-status, --disconnect-rate, --mo-rate, --window and \
                     --max-connections";

fn refuse_smpp_flags(protocol: China, args: &SimArgs) -> anyhow::Result<()> {
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
    ];
    if let Some((flag, _)) = smpp_only.iter().find(|(_, set)| *set) {
        anyhow::bail!(
            "{flag} is an SMPP simulator flag; --protocol {} takes {TAKES}{}",
            protocol.name(),
            if protocol == China::Sgip {
                ", --report-to and --report-account"
            } else {
                ""
            }
        );
    }
    if protocol == China::Smgp {
        for (flag, set) in [
            ("--report-to", args.report_to.is_some()),
            ("--report-account", args.report_account.is_some()),
        ] {
            if set {
                anyhow::bail!(
                    "{flag} is for --protocol sgip (SMGP delivers reports on the SP's own \
                     link); --protocol smgp takes {TAKES}"
                );
            }
        }
    }
    Ok(())
}

fn number(flag: &str, value: Option<&str>, min: u64) -> anyhow::Result<Option<u64>> {
    value
        .map(|v| match v.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(anyhow::anyhow!(
                "{flag} {v}: expected a whole number of at least {min}"
            )),
        })
        .transpose()
}

/// `NAME:SECRET`, each part within the protocol's field width.
fn account(flag: &str, value: &str, protocol: China) -> anyhow::Result<(Bytes, Bytes)> {
    let (name_field, name_max, secret_max, example) = match protocol {
        China::Smgp => ("ClientID", 8, usize::MAX, "10001:secret"),
        China::Sgip => ("Login Name", 16, 16, "sp:secret"),
    };
    let Some((name, secret)) = value.split_once(':') else {
        anyhow::bail!("{flag} {value}: expected NAME:SECRET, e.g. {example}");
    };
    if name.is_empty() || name.len() > name_max || !name.is_ascii() {
        anyhow::bail!(
            "{flag} {value}: the name ({name_field}) is 1 to {name_max} ASCII characters, \
             e.g. {example}"
        );
    }
    if secret.len() > secret_max {
        anyhow::bail!("{flag} {value}: the Login Password is at most {secret_max} octets");
    }
    Ok((
        Bytes::copy_from_slice(name.as_bytes()),
        Bytes::copy_from_slice(secret.as_bytes()),
    ))
}

/// The fault flags the Chinese-carrier simulators share (CMPP takes them too).
pub(super) fn faults(args: &SimArgs) -> anyhow::Result<CarrierFaults> {
    let mut faults = CarrierFaults::default();
    if let Some(rates) = &args.error_rate {
        faults.error_rate = crate::sim::faults::parse_result_rate(rates)
            .map_err(|e| anyhow::anyhow!("--error-rate {rates}: {e}"))?;
    }
    if let Some(states) = &args.receipt_states {
        faults.receipt_states = crate::sim::faults::parse_states(states)
            .map_err(|e| anyhow::anyhow!("--receipt-states {states}: {e}"))?;
    }
    if let Some(tps) = &args.tps {
        faults.tps = Some(
            crate::sim::faults::parse_rate(tps).map_err(|e| anyhow::anyhow!("--tps {tps}: {e}"))?,
        );
    }
    if let Some(status) = number("--throttle-status", args.throttle_status.as_deref(), 1)? {
        faults.throttle_result = Some(u32::try_from(status).unwrap_or(u32::MAX));
    }
    if let Some(rate) = &args.disconnect_rate {
        faults.disconnect_rate = Some(
            crate::sim::faults::parse_percent(rate, 1e6)
                .map_err(|e| anyhow::anyhow!("--disconnect-rate {rate}: {e}"))?,
        );
    }
    if let Some(rate) = &args.mo_rate {
        faults.mo_rate = Some(
            crate::sim::faults::parse_rate(rate)
                .map_err(|e| anyhow::anyhow!("--mo-rate {rate}: {e}"))?,
        );
    }
    Ok(faults)
}

/// The SMGP simulator's settings from the flags.
///
/// # Errors
/// A flag it does not take, or a bad value, named.
pub fn smgp_config(args: &SimArgs) -> anyhow::Result<SmgpSimConfig> {
    refuse_smpp_flags(China::Smgp, args)?;
    let mut config = SmgpSimConfig {
        faults: faults(args)?,
        ..SmgpSimConfig::default()
    };
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    for value in &args.account {
        config
            .accounts
            .push(account("--account", value, China::Smgp)?);
    }
    if let Some(ms) = number("--receipt-delay-ms", args.receipt_delay_ms.as_deref(), 0)? {
        config.receipt_delay = Duration::from_millis(ms);
    }
    if let Some(window) = number("--window", args.window.as_deref(), 1)? {
        config.window = usize::try_from(window).unwrap_or(usize::MAX);
    }
    if let Some(max) = number("--max-connections", args.max_connections.as_deref(), 1)? {
        config.max_connections = usize::try_from(max).unwrap_or(usize::MAX);
    }
    Ok(config)
}

/// The SGIP simulator's settings from the flags.
///
/// # Errors
/// A flag it does not take, or a bad value, named.
pub fn sgip_config(args: &SimArgs) -> anyhow::Result<SgipSimConfig> {
    refuse_smpp_flags(China::Sgip, args)?;
    let mut config = SgipSimConfig {
        faults: faults(args)?,
        ..SgipSimConfig::default()
    };
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    for value in &args.account {
        config
            .accounts
            .push(account("--account", value, China::Sgip)?);
    }
    config.report_account = match &args.report_account {
        Some(value) => account("--report-account", value, China::Sgip)?,
        // The usual arrangement: the SMG binds to the SP with the SP's own account.
        None => config.accounts.first().cloned().unwrap_or_default(),
    };
    if let Some(to) = &args.report_to {
        if to.parse::<std::net::SocketAddr>().is_err() && !to.contains(':') {
            anyhow::bail!("--report-to {to}: expected HOST:PORT of the SP's report listener");
        }
        config.report_to = Some(to.clone());
    }
    if let Some(ms) = number("--receipt-delay-ms", args.receipt_delay_ms.as_deref(), 0)? {
        config.receipt_delay = Duration::from_millis(ms);
    }
    if let Some(window) = number("--window", args.window.as_deref(), 1)? {
        config.window = usize::try_from(window).unwrap_or(usize::MAX);
    }
    if let Some(max) = number("--max-connections", args.max_connections.as_deref(), 1)? {
        config.max_connections = usize::try_from(max).unwrap_or(usize::MAX);
    }
    if config.report_to.is_none() {
        tracing::warn!("--protocol sgip without --report-to: Reports and MO are not sent");
    }
    Ok(config)
}

/// Runs the SMGP simulator until a signal.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve_smgp(config: SmgpSimConfig) -> anyhow::Result<ExitCode> {
    let listen = config.listen.clone();
    let sim = SmgpSim::start(config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let signal = crate::shutdown::terminate_signal().context("installing signal handlers")?;
    super::sim::print_line(&format!("listening on {}", sim.local_addr()))?;
    signal.await;
    tracing::info!("signal received: sending Exit on SMGP links");
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    super::sim::print_line(&counters.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the SGIP simulator until a signal.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve_sgip(config: SgipSimConfig) -> anyhow::Result<ExitCode> {
    let listen = config.listen.clone();
    let sim = SgipSim::start(config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let signal = crate::shutdown::terminate_signal().context("installing signal handlers")?;
    super::sim::print_line(&format!("listening on {}", sim.local_addr()))?;
    signal.await;
    tracing::info!("signal received: unbinding SGIP links");
    let counters = sim.shutdown(Duration::from_secs(2)).await;
    super::sim::print_line(&counters.to_string())?;
    Ok(ExitCode::SUCCESS)
}
