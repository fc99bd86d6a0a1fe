//! `smppgate check-config FILE`: validate a configuration file; print a summary when it is
//! good, or each problem as `FILE:LINE: FIELD: message`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use std::sync::Arc;

use crate::config::{CarrierBind, Config, ConfigError};
use crate::policy::engine::{NoSuppressions, PolicyEngine, PolicyReport};

/// Arguments of `smppgate check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file (TOML).
    pub file: PathBuf,
}

/// Runs `smppgate check-config`: exit 0 and a summary on stdout, or exit 1 and each
/// problem on its own line on stderr.
///
/// # Errors
/// When the file cannot be read (one line, printed by the caller).
pub fn run(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    match Config::load(&args.file) {
        Ok(config) => {
            print!("{}", summary(&args.file.display().to_string(), &config));
            // The lists, read as `serve` will read them.
            let reports = match PolicyEngine::build(&config, Arc::new(NoSuppressions)) {
                Ok((_, reports)) => reports,
                Err(error) => {
                    eprintln!("{}: {error}", args.file.display());
                    return Ok(ExitCode::FAILURE);
                }
            };
            print!("{}", policy_summary(&reports));
            Ok(ExitCode::SUCCESS)
        }
        Err(ConfigError::Invalid { problems }) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            let count = problems.len();
            eprintln!(
                "{}: {count} problem{}",
                args.file.display(),
                if count == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}

/// What a valid configuration will do, in a few lines.
#[must_use]
pub fn summary(file: &str, config: &Config) -> String {
    let mut out = String::new();
    let server = &config.server;
    let _ = writeln!(out, "{file}: ok");
    let _ = writeln!(
        out,
        "listener: {} ({}, at most {} connections)",
        server.listen,
        if server.tls.is_some() {
            "TLS"
        } else {
            "plain TCP"
        },
        server.max_connections
    );
    let accounts: Vec<&str> = config
        .accounts
        .iter()
        .map(|a| a.system_id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "accounts: {} ({})",
        accounts.len(),
        accounts.join(", ")
    );
    let _ = writeln!(out, "carriers: {}", config.carriers.len());
    for carrier in &config.carriers {
        let binds = match (carrier.protocol, carrier.bind) {
            (crate::config::CarrierProtocol::Cmpp2, _) => "CMPP 2.0",
            (crate::config::CarrierProtocol::Cmpp3, _) => "CMPP 3.0",
            (crate::config::CarrierProtocol::Smgp, _) => "SMGP 3.0",
            (crate::config::CarrierProtocol::Sgip, _) => "SGIP 1.2",
            (_, CarrierBind::Transceiver) => "transceiver",
            (_, CarrierBind::TransmitterReceiver) => "transmitter+receiver",
            (_, CarrierBind::Transmitter) => "transmitter",
        };
        let _ = writeln!(
            out,
            "  {}: {}, {} {binds} binds × window {}, {} tps{}{}",
            carrier.name,
            carrier.address,
            carrier.binds,
            carrier.window,
            carrier.tps,
            if carrier.tls { ", TLS" } else { "" },
            if carrier.request_receipts {
                ""
            } else {
                ", receipts only where the client asks"
            }
        );
    }
    let _ = writeln!(out, "routes: {}", config.routes.len());
    for route in &config.routes {
        let mut prefixes = route.all_prefixes();
        prefixes.sort_unstable();
        prefixes.dedup();
        let operators = if route.operators.is_empty() {
            String::new()
        } else {
            format!(" (operators: {})", route.operators.join(", "))
        };
        let _ = writeln!(
            out,
            "  {}: {} prefix{}{operators}{}, carriers in order: {}",
            route.name,
            prefixes.len(),
            if prefixes.len() == 1 { "" } else { "es" },
            if route.default { ", default" } else { "" },
            route.carriers.join(" → ")
        );
    }
    let default = config.routes.iter().find(|route| route.default);
    let _ = writeln!(
        out,
        "default route: {}",
        default.map_or("none (numbers no route matches are refused)", |route| route
            .name
            .as_str())
    );
    let store = &config.store;
    let _ = writeln!(
        out,
        "store: {} (retention {}, validity {}, fsync {})",
        store.path.display(),
        humantime::format_duration(store.retention),
        humantime::format_duration(store.validity),
        if store.fsync { "on" } else { "OFF" }
    );
    let _ = writeln!(
        out,
        "metrics: {}",
        config
            .metrics
            .as_ref()
            .map_or("off", |metrics| metrics.listen.as_str())
    );
    out
}

/// What each policy's lists hold; each blacklist line that is not a number as
/// `FILE:LINE: `text`: why (skipped)`.
#[must_use]
pub fn policy_summary(reports: &[PolicyReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let _ = write!(out, "policy {}:", report.policy);
        if let Some(blacklist) = &report.blacklist {
            let _ = write!(
                out,
                " blacklist {} numbers ({} bytes), {} lines skipped;",
                report.blacklisted,
                report.blacklist_bytes,
                blacklist.problem_count()
            );
        }
        if let Some(words) = &report.words {
            let _ = write!(out, " {} sensitive words;", words.words);
        }
        out.push('\n');
        if let Some(blacklist) = &report.blacklist {
            for problem in &blacklist.problems {
                let _ = writeln!(out, "  warning: {problem} (skipped)");
            }
            if blacklist.problems_not_kept > 0 {
                let _ = writeln!(
                    out,
                    "  warning: {} more lines skipped",
                    blacklist.problems_not_kept
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_the_demo() {
        let text = summary("demo", &Config::demo());
        assert!(
            text.starts_with("demo: ok\nlistener: 127.0.0.1:2775 (plain TCP"),
            "{text}"
        );
        assert!(text.contains("accounts: 1 (demo)\n"), "{text}");
        assert!(
            text.contains("  sim: sim, 4 transceiver binds × window 64, 100000 tps\n"),
            "{text}"
        );
        assert!(
            text.contains("  default: 0 prefixes, default, carriers in order: sim\n"),
            "{text}"
        );
        assert!(text.contains("default route: default\n"), "{text}");
        assert!(text.ends_with("metrics: off\n"), "{text}");
    }
}
