//! Wake-ups of the per-account tasks that deliver queued items (the SMPP outbox's
//! accounts, the webhook sink's): the account whose items were queued, or every account.
//!
//! Each task waits on its own `Notify` and reads the store when woken (a JetStream read is
//! a round trip). Waking every account for every queued item made each of N accounts read
//! on each writer batch and, on a `[cluster]`, on each item any node queued: N reads where
//! one was needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The tasks of one stage, by account, and a wake for all of them.
#[derive(Debug, Default)]
pub(crate) struct Wakes {
    /// Waited on by the stage's fan-out, which wakes every account.
    all: Notify,
    each: Mutex<HashMap<Arc<str>, Arc<Notify>>>,
}

impl Wakes {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Items were queued for `account` (or it can take them now). An account with no
    /// task (yet) needs no wake: a task reads its queue when it starts.
    pub(crate) fn account(&self, account: &str) {
        if let Some(wake) = self
            .each
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
        {
            wake.notify_one();
        }
    }

    /// Items were queued in store queue `queue`: `outbox` wakes its account's SMPP task,
    /// `webhook` the webhook task of the account a webhook queue is for.
    pub(crate) fn queued(outbox: &Self, webhook: &Self, queue: &str) {
        match crate::http::webhook::hook_account(queue) {
            Some(account) => webhook.account(account),
            None => outbox.account(queue),
        }
    }

    /// Every account (its queue may have changed in a way nobody named).
    pub(crate) fn every(&self) {
        self.all.notify_one();
    }

    /// The wake of `account`'s task, made here (before the task starts).
    pub(crate) fn register(&self, account: &Arc<str>) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.each
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(Arc::clone(account), Arc::clone(&wake));
        wake
    }

    /// Waits for [`Wakes::every`], then wakes each account's task. The stage's fan-out
    /// is the only waiter; each task's own `Notify` keeps the permit while it is busy, so
    /// no wake is lost.
    pub(crate) async fn fan_out(&self) {
        self.all.notified().await;
        let each: Vec<Arc<Notify>> = self
            .each
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for wake in each {
            wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(wake: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wake.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn an_account_wake_reaches_its_task_only_and_every_reaches_all() {
        let wakes = Wakes::new();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let (wake_a, wake_b) = (wakes.register(&a), wakes.register(&b));
        wakes.account("a");
        wakes.account("nobody");
        assert!(woken(&wake_a).await);
        assert!(!woken(&wake_b).await, "b was not named");
        wakes.every();
        wakes.fan_out().await;
        assert!(woken(&wake_a).await && woken(&wake_b).await);
    }
}
