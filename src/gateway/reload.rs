//! `POST /v1/reload` and SIGHUP: the configuration file is read again and what can change
//! without dropping a bind is put in force; the rest is named in the answer as needing a
//! restart (docs/adr/0014).
//!
//! A file that fails `check-config` (parse, checks, policy lists that cannot be read) is
//! refused whole with the same problems, and nothing is applied. Live:
//!
//! - accounts (`account[…]`), the table swapped whole (`ArcSwap`): an added account binds
//!   at once; a removed one takes no new bind and its sessions are unbound (an unbind
//!   sent, what is in flight answered first); a changed one is a new version sharing its
//!   bind and submit counts: password, allow-list and `max_binds` apply to the next bind,
//!   `window` to the binds made after the reload (a session keeps the window it bound
//!   with), everything read per message (sender ids, class, route, receipts, id style,
//!   TPS, signatures, policy, webhook url/secret/mode) to the next message; API keys and
//!   the admin token (the HTTP stage swaps its key table on the published configuration);
//! - routes (`route[…]`): the prefix table swapped whole; a new or changed route starts
//!   in the pool beside the one it replaces, which sends what it already holds; the
//!   messages waiting on disk are routed again by the new table;
//! - policies (`policy[…]`): every policy built again from the file (word lists and
//!   blacklists read again), counts of unchanged caps kept;
//! - each carrier's `tps`.
//!
//! Everything else that differs (listen addresses, the store, carriers added, removed or
//! with changed links, opt-out keywords, MO numbers …) is listed under `restart_needed` by
//! field path, never with its value (a password stays out of the answer and the log); the
//! running gateway keeps the old value and keeps reporting it until a restart.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use super::accounts::Accounts;
use super::backlog::Backlog;
use super::intake::Missed;
use crate::carrier::{Carriers, Router};
use crate::config::{Class, Config, ConfigError};
use crate::policy::engine::{NoSuppressions, PolicyEngine};
use crate::smsc::Registry;

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
    live: LiveParts,
}

/// The parts of a running gateway a reload changes.
pub(crate) struct LiveParts {
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) carriers: Arc<Carriers>,
    /// Each account's backlog count (an added account gets one).
    pub(crate) backlog: Arc<Backlog>,
    /// Intake's, the dispatcher's and the review's router (clones share one table).
    pub(crate) router: Router,
    /// Tells the dispatcher to read routes from the store again.
    pub(crate) missed: Arc<Missed>,
    /// The market rules, when the gateway started with some.
    pub(crate) engine: Option<Arc<PolicyEngine>>,
    /// The largest account `window` at start: the listener's sessions owe no more
    /// responses than that.
    pub(crate) max_window: usize,
    /// The in-pool cap at start (`in_pool_cap`): routes that need more wait for a restart.
    pub(crate) in_pool_cap: usize,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    pub(crate) fn new(config: Arc<Config>, live: LiveParts) -> Self {
        Self {
            source: Mutex::new(None),
            running: ArcSwap::new(Arc::clone(&config)),
            published: watch::Sender::new(config),
            busy: tokio::sync::Mutex::new(()),
            live,
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
        let (new, built) = tokio::task::spawn_blocking(move || check(&*source))
            .await
            .map_err(|_| ReloadError::Invalid {
                problems: vec!["reading the configuration was cancelled".to_owned()],
            })??;
        let running = self.running.load_full();
        let (report, next) = self.apply(&running, &new, built);
        if next != *running {
            let next = Arc::new(next);
            self.running.store(Arc::clone(&next));
            self.published.send_replace(next);
        }
        Ok(report)
    }

    /// Puts the live changes of `new` in force; returns the report and the configuration
    /// now in force (`new`, with the restart-only parts of `running`).
    fn apply(&self, running: &Config, new: &Config, built: PolicyEngine) -> (ReloadReport, Config) {
        let mut report = ReloadReport::default();
        let mut next = new.clone();
        let (old_json, new_json) = (to_json(running), to_json(new));
        for key in [
            "server", "store", "metrics", "numbers", "receipts", "cluster",
        ] {
            diff(
                key,
                &old_json[key],
                &new_json[key],
                &mut report.restart_needed,
            );
        }
        next.server.clone_from(&running.server);
        next.store.clone_from(&running.store);
        next.metrics.clone_from(&running.metrics);
        next.numbers.clone_from(&running.numbers);
        next.receipts.clone_from(&running.receipts);
        next.cluster.clone_from(&running.cluster);
        // http: the admin token live, the rest at a restart.
        let (old_http, new_http) = (&old_json["http"], &new_json["http"]);
        next.http.clone_from(&running.http);
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
        self.carriers(running, new, &mut next, &mut report);
        self.routes(running, new, &mut next, &mut report);
        self.policies(running, new, built, &mut next, &mut report);
        self.accounts(running, new, &mut next, &mut report);
        for change in &report.applied {
            tracing::info!(%change, "configuration reloaded: in force");
        }
        for change in &report.restart_needed {
            tracing::warn!(%change, "configuration reloaded: needs a restart to take effect");
        }
        (report, next)
    }

    /// Carriers, by name: `tps` live; added, removed or otherwise changed ones at a
    /// restart (`next` keeps the running ones).
    fn carriers(
        &self,
        running: &Config,
        new: &Config,
        next: &mut Config,
        report: &mut ReloadReport,
    ) {
        next.carriers.clone_from(&running.carriers);
        for (index, old) in running.carriers.iter().enumerate() {
            let path = format!("carrier[{}]", old.name);
            let Some(wanted) = new.carriers.iter().find(|c| c.name == old.name) else {
                report.restart_needed.push(format!("{path} (removed)"));
                continue;
            };
            if old.tps != wanted.tps && self.live.carriers.set_tps(&old.name, wanted.tps).is_some()
            {
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
    }

    /// Routes: the pool's routes and the prefix table swapped whole; what is waiting on
    /// disk is routed again by the new table. A route naming a carrier that is not
    /// running (one the file adds) keeps every route as it is until a restart.
    fn routes(&self, running: &Config, new: &Config, next: &mut Config, report: &mut ReloadReport) {
        let mut changed = Vec::new();
        diff_named(
            "route",
            &running.routes,
            &new.routes,
            |r| r.name.as_str(),
            &mut changed,
        );
        if changed.is_empty() {
            return;
        }
        let need = super::in_pool_need(new);
        if need > self.live.in_pool_cap {
            // Their lanes and windows could fill the pool and stop every other route
            // while a carrier is down: the cap is sized at start.
            tracing::warn!(
                need,
                cap = self.live.in_pool_cap,
                "routes not changed: their queues and windows need more room in the carrier pool than this process started with; restart to put them in force"
            );
            next.routes.clone_from(&running.routes);
            report.restart_needed.extend(
                changed
                    .into_iter()
                    .map(|path| format!("{path} (the routes' queues need {need} places in the carrier pool, started with {})", self.live.in_pool_cap)),
            );
            return;
        }
        match self.live.carriers.set_routes(&new.routes) {
            Ok(_) => {
                self.live.router.replace(&new.routes);
                // What waits on disk (spilled or deferred) is read again by the new
                // table; parts already handed to a carrier are not sent twice.
                for route in self.live.router.names() {
                    for class in Class::ALL {
                        self.live.missed.add(&route, class, 0);
                    }
                }
                report.applied.extend(changed);
            }
            Err(error) => {
                tracing::warn!(%error, "routes not changed: a route names a carrier that is not running");
                next.routes.clone_from(&running.routes);
                report.restart_needed.extend(changed);
            }
        }
    }

    /// Policies: built again from the file, every one (their lists may have changed
    /// without the file); `changed` names the settings that differ.
    fn policies(
        &self,
        running: &Config,
        new: &Config,
        built: PolicyEngine,
        next: &mut Config,
        report: &mut ReloadReport,
    ) {
        let mut changed = Vec::new();
        diff_named(
            "policy",
            &running.policies,
            &new.policies,
            |p| p.name.as_str(),
            &mut changed,
        );
        let Some(engine) = &self.live.engine else {
            // Started without market rules: the pass-through stays until a restart.
            next.policies.clone_from(&running.policies);
            report.restart_needed.extend(changed);
            for account in new.accounts.iter().filter(|a| a.policy.is_some()) {
                report.restart_needed.push(format!(
                    "account[{}].policy (no policy in force since the start)",
                    account.system_id
                ));
            }
            return;
        };
        engine.adopt(built);
        // The MO side (opt-out replies) reads these once, at start: they stay as they
        // were in `next`, so a later reload names them again.
        for policy in &mut next.policies {
            if let Some(was) = running.policies.iter().find(|p| p.name == policy.name) {
                policy.opt_out_keywords.clone_from(&was.opt_out_keywords);
                policy.opt_in_keywords.clone_from(&was.opt_in_keywords);
                policy.opt_out_scope = was.opt_out_scope;
            } else if !policy.opt_out_keywords.is_empty() || !policy.opt_in_keywords.is_empty() {
                // An added policy's keywords are not in force either.
                report
                    .restart_needed
                    .push(format!("policy[{}].opt_out_keywords", policy.name));
                policy.opt_out_keywords.clear();
                policy.opt_in_keywords.clear();
            }
        }
        let mo_side = |path: &String| {
            path.ends_with(".opt_out_keywords")
                || path.ends_with(".opt_in_keywords")
                || path.ends_with(".opt_out_scope")
        };
        let (restart, live): (Vec<String>, Vec<String>) = changed.into_iter().partition(mo_side);
        report.applied.extend(live);
        report.restart_needed.extend(restart);
    }

    /// Accounts, by system_id: the table swapped whole (see the module documentation).
    fn accounts(
        &self,
        running: &Config,
        new: &Config,
        next: &mut Config,
        report: &mut ReloadReport,
    ) {
        let live = &self.live;
        // An account may name only a route in force: one the file adds over a carrier
        // that is not running yet is not (`routes` kept the old set), and the account's
        // submits would all be refused until a restart.
        let in_force: HashSet<&str> = next.routes.iter().map(|r| r.name.as_str()).collect();
        let mut held_back = Vec::new();
        for wanted in &mut next.accounts {
            let Some(route) = wanted.route.clone() else {
                continue;
            };
            if in_force.contains(route.as_str()) {
                continue;
            }
            match running
                .accounts
                .iter()
                .find(|a| a.system_id == wanted.system_id)
            {
                Some(old) => {
                    wanted.route.clone_from(&old.route);
                    report.restart_needed.push(format!(
                        "account[{}].route (route {route} is not in force until a restart)",
                        wanted.system_id
                    ));
                }
                None => {
                    held_back.push(wanted.system_id.clone());
                    report.restart_needed.push(format!(
                        "account[{}] (added; its route {route} is not in force until a restart)",
                        wanted.system_id
                    ));
                }
            }
        }
        next.accounts.retain(|a| !held_back.contains(&a.system_id));
        let changes = live.accounts.replace(&next.accounts);
        for added in &changes.added {
            live.backlog.add_account(&added.name);
            report
                .applied
                .push(format!("account[{}] (added)", added.name));
        }
        for removed in &changes.removed {
            report.applied.push(format!(
                "account[{}] (removed: its binds are unbound)",
                removed.name
            ));
        }
        for index in 0..next.accounts.len() {
            let wanted = next.accounts[index].clone();
            let path = format!("account[{}]", wanted.system_id);
            let Some(old) = running
                .accounts
                .iter()
                .find(|a| a.system_id == wanted.system_id)
            else {
                continue;
            };
            let mut fields = Vec::new();
            diff(&path, &to_json(old), &to_json(&wanted), &mut fields);
            for field in fields {
                if field == format!("{path}.numbers") {
                    // The MO routing table is built once, at start.
                    next.accounts[index].numbers.clone_from(&old.numbers);
                    report.restart_needed.push(field);
                } else if field == format!("{path}.window") && wanted.window > live.max_window {
                    report.applied.push(format!(
                        "{field} (new binds; above the largest window at start, {}, until a restart)",
                        live.max_window
                    ));
                } else if field == format!("{path}.window") || field == format!("{path}.max_binds")
                {
                    report.applied.push(format!("{field} (new binds)"));
                } else if [".password", ".password_hash", ".allowed_ips"]
                    .iter()
                    .any(|f| field == format!("{path}{f}"))
                {
                    report.applied.push(format!("{field} (next bind)"));
                } else {
                    report.applied.push(field);
                }
            }
        }
        if new.accounts.iter().any(|a| a.policy.is_some()) && live.engine.is_none() {
            // Named under `policies`; the accounts' policy field cannot take effect.
            report.applied.retain(|p| !p.ends_with(".policy"));
        }
    }
}

/// The sessions of accounts a reload removed are unbound: an unbind is sent, the client
/// answers what it has in flight first (the session closes when the unbind_resp comes
/// or its timeout runs out). Runs until `cancel`, one reload at a time.
pub(crate) async fn unbind_removed(
    registry: Arc<Registry>,
    accounts: Arc<Accounts>,
    mut reloads: watch::Receiver<Arc<Config>>,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = reloads.changed() => if changed.is_err() { return },
        }
        reloads.borrow_and_update();
        let gone: Vec<_> = registry
            .all()
            .into_iter()
            .filter(|session| accounts.get(&session.info().system_id).is_none())
            .collect();
        if gone.is_empty() {
            continue;
        }
        tracing::info!(
            sessions = gone.len(),
            "unbinding the sessions of removed accounts"
        );
        let unbinds =
            futures::future::join_all(gone.iter().map(crate::smsc::SessionHandle::unbind));
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = unbinds => {}
        }
    }
}

/// The paths where two lists of named sections differ: `kind[name] (added)`,
/// `kind[name] (removed)`, `kind[name].field`.
fn diff_named<T: Serialize>(
    kind: &str,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &str,
    out: &mut Vec<String>,
) {
    for before in old {
        let path = format!("{kind}[{}]", name(before));
        match new.iter().find(|n| name(n) == name(before)) {
            Some(after) => diff(&path, &to_json(before), &to_json(after), out),
            None => out.push(format!("{path} (removed)")),
        }
    }
    for after in new {
        if !old.iter().any(|o| name(o) == name(after)) {
            out.push(format!("{kind}[{}] (added)", name(after)));
        }
    }
}

/// The file read and checked as `check-config` checks it (its policy lists read too).
fn check(
    source: &(dyn Fn() -> Result<Config, ConfigError> + Send + Sync),
) -> Result<(Config, PolicyEngine), ReloadError> {
    let config = source().map_err(|error| ReloadError::Invalid {
        problems: match error {
            ConfigError::Invalid { problems } => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        },
    })?;
    let (built, _) = PolicyEngine::build(&config, Arc::new(NoSuppressions)).map_err(|error| {
        ReloadError::Invalid {
            problems: vec![error.to_string()],
        }
    })?;
    Ok((config, built))
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
