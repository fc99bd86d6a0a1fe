//! `POST /v1/reload` and SIGHUP: the configuration file is read again and what can change
//! without dropping a bind is put in force; the rest is named in the answer as needing a
//! restart.
//!
//! A file that fails `check-config` (parse, checks, policy lists that cannot be read) is
//! refused whole with the same problems, and nothing is applied. Live now:
//!
//! - each account's `tps` (a fresh limiter swapped in, `ArcSwap`: no lock on the hot path)
//!   and `api_keys`, and `http.admin_token_hash` (the HTTP stage swaps its key table when
//!   the published snapshot changes, a `watch` channel);
//! - each carrier's `tps` (its flow keeps its share of the contract through throttling);
//! - the policies' blacklist files, read again (as `POST /v1/blacklist/reload`).
//!
//! Everything else that differs (listen addresses, the store, carrier host/port/binds,
//! routes, passwords, allow-lists, windows, policies' settings, accounts added or
//! removed …) is listed under `restart_needed` by field path, never with its value (a
//! password stays out of the answer and the log); the running gateway keeps the old value
//! and keeps reporting it until a restart.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use super::accounts::Accounts;
use crate::carrier::Carriers;
use crate::config::{Config, ConfigError};
use crate::policy::engine::{NoSuppressions, PolicyEngine};

/// Reads the configuration again, as `serve` read it (its command-line overrides
/// applied).
pub type ConfigSource = Arc<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

/// What a reload did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// Changes put in force (field paths).
    pub applied: Vec<String>,
    /// Changes found in the file that need a restart (field paths).
    pub restart_needed: Vec<String>,
}

/// Why a reload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The gateway was not started from a file (the demo set-up, a test).
    #[error("the gateway was started without a configuration file: nothing to read again")]
    NoFile,
    /// The file fails `check-config`: nothing applied.
    #[error("the configuration is refused, nothing applied:\n{}", problems.join("\n"))]
    Invalid {
        /// Each problem, as `check-config` prints it.
        problems: Vec<String>,
    },
}

/// The reload state of a running gateway.
pub(crate) struct Reloader {
    source: Mutex<Option<ConfigSource>>,
    /// The configuration in force (the file's live fields as last applied).
    running: ArcSwap<Config>,
    /// Published after each reload that changed something (the HTTP keys follow it).
    published: watch::Sender<Arc<Config>>,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
    accounts: Arc<Accounts>,
    carriers: Arc<Carriers>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    pub(crate) fn new(
        config: Arc<Config>,
        accounts: Arc<Accounts>,
        carriers: Arc<Carriers>,
    ) -> Self {
        Self {
            source: Mutex::new(None),
            running: ArcSwap::new(Arc::clone(&config)),
            published: watch::Sender::new(config),
            busy: tokio::sync::Mutex::new(()),
            accounts,
            carriers,
        }
    }

    /// Where a reload reads the configuration.
    pub(crate) fn set_source(&self, source: ConfigSource) {
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// The configuration in force, changed by each reload.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.published.subscribe()
    }

    /// Reads the file, checks it whole, applies what can change live and names the rest.
    /// The policies' blacklists are read again by the caller ([`super::operations`]).
    ///
    /// # Errors
    /// [`ReloadError`]: no file, or a file `check-config` refuses (nothing applied).
    pub(crate) async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let _one = self.busy.lock().await;
        let source = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(ReloadError::NoFile)?;
        let new = tokio::task::spawn_blocking(move || check(&*source))
            .await
            .map_err(|_| ReloadError::Invalid {
                problems: vec!["reading the configuration was cancelled".to_owned()],
            })??;
        let running = self.running.load_full();
        let (report, next) = self.apply(&running, &new);
        if next != *running {
            let next = Arc::new(next);
            self.running.store(Arc::clone(&next));
            self.published.send_replace(next);
        }
        Ok(report)
    }

    /// Puts the live changes of `new` in force; returns the report and the configuration
    /// now in force (`running` with the live fields of `new`).
    fn apply(&self, running: &Config, new: &Config) -> (ReloadReport, Config) {
        let mut report = ReloadReport::default();
        let mut next = running.clone();
        let (old_json, new_json) = (to_json(running), to_json(new));
        for key in [
            "server", "store", "metrics", "numbers", "receipts", "route", "policy",
        ] {
            diff(
                key,
                &old_json[key],
                &new_json[key],
                &mut report.restart_needed,
            );
        }
        // http: the admin token live, the rest at a restart.
        let (old_http, new_http) = (&old_json["http"], &new_json["http"]);
        if old_http.is_null() != new_http.is_null() {
            report.restart_needed.push("http".to_owned());
        } else if let (Some(now), Some(wanted)) = (&mut next.http, &new.http) {
            if now.admin_token_hash != wanted.admin_token_hash {
                now.admin_token_hash.clone_from(&wanted.admin_token_hash);
                report.applied.push("http.admin_token_hash".to_owned());
            }
            let mut rest = Vec::new();
            diff("http", old_http, new_http, &mut rest);
            report
                .restart_needed
                .extend(rest.into_iter().filter(|p| p != "http.admin_token_hash"));
        }
        // Accounts, by system_id.
        for (index, old) in running.accounts.iter().enumerate() {
            let name = &old.system_id;
            let path = format!("account[{name}]");
            let Some(wanted) = new.accounts.iter().find(|a| a.system_id == *name) else {
                report.restart_needed.push(format!("{path} (removed)"));
                continue;
            };
            let account = &mut next.accounts[index];
            if old.tps != wanted.tps {
                if let Some(live) = self.accounts.get(name.as_bytes()) {
                    live.set_tps(wanted.tps);
                }
                account.tps = wanted.tps;
                report.applied.push(format!("{path}.tps"));
            }
            if old.api_keys != wanted.api_keys {
                account.api_keys.clone_from(&wanted.api_keys);
                report.applied.push(format!("{path}.api_keys"));
            }
            let mut rest = Vec::new();
            diff(&path, &to_json(old), &to_json(wanted), &mut rest);
            report.restart_needed.extend(
                rest.into_iter()
                    .filter(|p| *p != format!("{path}.tps") && *p != format!("{path}.api_keys")),
            );
        }
        for added in &new.accounts {
            if !running
                .accounts
                .iter()
                .any(|a| a.system_id == added.system_id)
            {
                report
                    .restart_needed
                    .push(format!("account[{}] (added)", added.system_id));
            }
        }
        // Carriers, by name.
        for (index, old) in running.carriers.iter().enumerate() {
            let path = format!("carrier[{}]", old.name);
            let Some(wanted) = new.carriers.iter().find(|c| c.name == old.name) else {
                report.restart_needed.push(format!("{path} (removed)"));
                continue;
            };
            if old.tps != wanted.tps && self.carriers.set_tps(&old.name, wanted.tps).is_some() {
                next.carriers[index].tps = wanted.tps;
                report.applied.push(format!("{path}.tps"));
            }
            let mut rest = Vec::new();
            diff(&path, &to_json(old), &to_json(wanted), &mut rest);
            report
                .restart_needed
                .extend(rest.into_iter().filter(|p| *p != format!("{path}.tps")));
        }
        for added in &new.carriers {
            if !running.carriers.iter().any(|c| c.name == added.name) {
                report
                    .restart_needed
                    .push(format!("carrier[{}] (added)", added.name));
            }
        }
        for change in &report.applied {
            tracing::info!(%change, "configuration reloaded: in force");
        }
        for change in &report.restart_needed {
            tracing::warn!(%change, "configuration reloaded: needs a restart to take effect");
        }
        (report, next)
    }
}

/// The file read and checked as `check-config` checks it (its policy lists read too).
fn check(
    source: &(dyn Fn() -> Result<Config, ConfigError> + Send + Sync),
) -> Result<Config, ReloadError> {
    let config = source().map_err(|error| ReloadError::Invalid {
        problems: match error {
            ConfigError::Invalid { problems } => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        },
    })?;
    PolicyEngine::build(&config, Arc::new(NoSuppressions)).map_err(|error| {
        ReloadError::Invalid {
            problems: vec![error.to_string()],
        }
    })?;
    Ok(config)
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The paths under `path` where `old` and `new` differ (objects field by field, anything
/// else whole).
fn diff(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                diff(&format!("{path}.{key}"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

/// The JSON answer of a reload: `applied`, `restart_needed`, and each policy's blacklist
/// outcome.
#[must_use]
pub fn answer(
    report: &ReloadReport,
    lists: &[(
        String,
        Result<
            Option<crate::policy::blacklist::LoadReport>,
            crate::policy::blacklist::BlacklistError,
        >,
    )],
) -> Value {
    let blacklists: Vec<Value> = lists
        .iter()
        .map(|(policy, outcome)| match outcome {
            Ok(Some(list)) => serde_json::json!({
                "policy": policy, "ok": true, "lines": list.lines, "skipped": list.problem_count(),
                "problems": list.problems.iter().take(100).map(ToString::to_string).collect::<Vec<_>>(),
            }),
            Ok(None) => serde_json::json!({"policy": policy, "ok": true, "blacklist": false}),
            Err(error) => serde_json::json!({"policy": policy, "ok": false, "error": error.to_string()}),
        })
        .collect();
    serde_json::json!({
        "applied": report.applied,
        "restart_needed": report.restart_needed,
        "blacklists": blacklists,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_changed_leaf_and_nothing_else() {
        let old = serde_json::json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": true});
        let new = serde_json::json!({"a": 1, "b": {"c": [1, 3], "d": "x"}, "new": 0});
        let mut out = Vec::new();
        diff("root", &old, &new, &mut out);
        assert_eq!(out, ["root.b.c", "root.gone", "root.new"]);
    }
}
