//! What an operator does to a running gateway, one implementation for both ways in: the
//! control socket (`smppgate suppress|review`, `control.rs`) and the admin HTTP API
//! (`src/http/admin_write.rs`).
//!
//! Every change is durable before it is in force and before the caller is told it was
//! done: suppression changes go through the group commit and then into the in-memory
//! set; a review decision is made by the receipt writer (the only task that changes
//! records) and answered after its commit; a replay of parked items is one store op, and
//! the outbox and webhook tasks are then woken to read it.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::intake::Missed;
use super::review::Action;
use super::writer::Event;
use crate::carrier::Router;
use crate::policy::blacklist::{BlacklistError, LoadReport, key as pack};
use crate::policy::engine::PolicyEngine;
use crate::policy::suppression::Suppressions;
use crate::store::{GroupCommit, Op, Store};

/// Most parked items a replay counts per queue (it moves them all).
pub(crate) const COUNT_LIMIT: usize = 10_000;

/// The running gateway's handles that the operator's actions need.
pub(crate) struct Operations {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) group: Arc<GroupCommit>,
    pub(crate) suppressions: Arc<Suppressions>,
    /// The market rules, when any account names a `[[policy]]`: blacklist lookups and
    /// reloads.
    pub(crate) engine: Option<Arc<PolicyEngine>>,
    /// Review decisions go to the receipt writer …
    pub(crate) writer: mpsc::Sender<Event>,
    /// … and released messages to the dispatcher (read from the store on `router`).
    pub(crate) missed: Arc<Missed>,
    pub(crate) router: Router,
    pub(crate) default_country: String,
    /// Wakes the SMPP outbox (replayed items).
    pub(crate) outbox_wake: Arc<super::wakes::Wakes>,
    /// Wakes the webhook sink (replayed items).
    pub(crate) webhook_wake: Arc<super::wakes::Wakes>,
    /// `POST /v1/reload`, SIGHUP.
    pub(crate) reload: super::reload::Reloader,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

/// Why an operation was not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OpError {
    /// The request itself is wrong (a number, a scope): nothing was done.
    #[error("{0}")]
    Invalid(String),
    /// The message is not held (unknown, final, or not held).
    #[error("{0}")]
    NotHeld(String),
    /// The store failed, or the gateway is stopping: nothing was done.
    #[error("{0}")]
    Unavailable(String),
}

impl Operations {
    /// Checks `ops` (suppression changes only: numbers of 1 to 15 E.164 digits).
    ///
    /// # Errors
    /// [`OpError::Invalid`] naming the first bad one.
    pub(crate) fn check_suppression_ops(ops: &[Op]) -> Result<(), OpError> {
        for op in ops {
            let number = match op {
                Op::Suppress(entry) => &entry.number,
                Op::Unsuppress { number, .. } => number,
                _ => return Err(OpError::Invalid("not a suppression change".into())),
            };
            if pack(number.as_bytes()).is_none() {
                return Err(OpError::Invalid(format!(
                    "`{number}` is not 1 to 15 E.164 digits"
                )));
            }
        }
        Ok(())
    }

    /// Commits suppression changes, then puts them in force; returns how many.
    ///
    /// # Errors
    /// A bad op (nothing done) or the commit failed (nothing in force).
    pub(crate) async fn apply_suppressions(&self, ops: Vec<Op>) -> Result<usize, OpError> {
        Self::check_suppression_ops(&ops)?;
        let n = ops.len();
        if n == 0 {
            return Ok(0);
        }
        self.group
            .commit(ops.clone())
            .await
            .map_err(|error| OpError::Unavailable(error.to_string()))?;
        for op in &ops {
            self.suppressions.apply(op);
        }
        Ok(n)
    }

    /// Has the receipt writer release or refuse held message `id` (answered after the
    /// commit); a released one then goes to the dispatcher.
    ///
    /// # Errors
    /// Not held, or the gateway is stopping.
    pub(crate) async fn review(&self, id: u64, action: Action, by: &str) -> Result<(), OpError> {
        let stopping = || OpError::Unavailable("the gateway is stopping".into());
        let (done, answer) = tokio::sync::oneshot::channel();
        self.writer
            .send(Event::Review { id, action, done })
            .await
            .map_err(|_| stopping())?;
        let record = answer
            .await
            .map_err(|_| stopping())?
            .map_err(OpError::NotHeld)?;
        super::review::counted(&record.account, action);
        tracing::info!(id, account = %record.account, "held message {} by {by}", action.done());
        if action == Action::Release {
            let route = super::dispatcher::request_of(&record).and_then(|request| {
                super::dispatcher::route_of(&self.router, &self.default_country, &record, &request)
            });
            match route {
                Some(route) => self.missed.add(&route, record.class, record.id),
                None => tracing::warn!(id, "released message has no route now: left pending"),
            }
        }
        Ok(())
    }

    /// Moves every parked item of `account` (its SMPP items and its webhook events) back
    /// to the end of its queues and wakes the sinks; returns how many (counted up to
    /// [`COUNT_LIMIT`] a queue: the count reads the items, the move is one store op
    /// whatever their number).
    ///
    /// # Errors
    /// The store failed.
    pub(crate) async fn replay_parked(&self, account: &str) -> Result<usize, OpError> {
        let queues = [
            account.to_owned(),
            crate::http::webhook::hook_queue(account),
        ];
        let store = Arc::clone(&self.store);
        let counts = {
            let queues = queues.clone();
            tokio::task::spawn_blocking(move || {
                queues
                    .iter()
                    .map(|queue| {
                        store
                            .parked(Some(queue), COUNT_LIMIT)
                            .map(|items| items.len())
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|_| OpError::Unavailable("the store read was cancelled".into()))?
            .map_err(|error| OpError::Unavailable(error.to_string()))?
        };
        let ops: Vec<Op> = queues
            .iter()
            .zip(&counts)
            .filter(|(_, n)| **n > 0)
            .map(|(queue, _)| Op::OutboxReplay {
                account: queue.clone(),
            })
            .collect();
        let total = counts.iter().sum();
        if ops.is_empty() {
            return Ok(0);
        }
        self.group
            .commit(ops)
            .await
            .map_err(|error| OpError::Unavailable(error.to_string()))?;
        // The account's SMPP queue and its webhook queue (both may have had parked items).
        self.outbox_wake.account(account);
        self.webhook_wake.account(account);
        tracing::info!(account, items = total, "parked items queued again");
        Ok(total)
    }

    /// Every policy reads its blacklist files again (as SIGHUP does); each outcome is
    /// logged and answered. None without market rules.
    pub(crate) async fn reload_blacklists(
        &self,
    ) -> Vec<(String, Result<Option<LoadReport>, BlacklistError>)> {
        let Some(engine) = self.engine.clone() else {
            return Vec::new();
        };
        let reloaded = tokio::task::spawn_blocking(move || engine.reload_blacklists())
            .await
            .unwrap_or_default();
        for (policy, outcome) in &reloaded {
            log_reload(policy, outcome);
        }
        reloaded
    }

    /// Reads the configuration file again (see [`super::reload`]) and the policies'
    /// blacklists; answers what was applied, what needs a restart, and each list's
    /// outcome.
    ///
    /// # Errors
    /// No file, or a file `check-config` refuses: nothing applied.
    pub(crate) async fn reload_config(
        &self,
    ) -> Result<
        (
            super::reload::ReloadReport,
            Vec<(String, Result<Option<LoadReport>, BlacklistError>)>,
        ),
        super::reload::ReloadError,
    > {
        let report = self.reload.reload().await?;
        let lists = self.reload_blacklists().await;
        Ok((report, lists))
    }

    /// The policies whose blacklist holds `e164` (sorted).
    #[must_use]
    pub(crate) fn blacklisted_by(&self, e164: &str) -> Vec<String> {
        let Some(engine) = &self.engine else {
            return Vec::new();
        };
        let mut names: Vec<String> = engine
            .policies()
            .into_iter()
            .filter(|policy| policy.blacklisted(e164))
            .map(|policy| policy.name().to_owned())
            .collect();
        names.sort_unstable();
        names
    }
}

/// Logs one policy's blacklist reload (SIGHUP, the admin API).
pub(crate) fn log_reload(policy: &str, outcome: &Result<Option<LoadReport>, BlacklistError>) {
    match outcome {
        Ok(Some(report)) => {
            tracing::info!(%policy, lines = report.lines, skipped = report.problem_count(), "blacklist reloaded");
            for problem in &report.problems {
                tracing::warn!(%policy, "blacklist line skipped: {problem}");
            }
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%policy, %error, "blacklist reload failed; the previous list stays");
        }
    }
}
