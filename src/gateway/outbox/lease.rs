//! With `[cluster]`, one node at a time delivers an account's outbox (issue #17): the
//! node holding the account's lease (`store/jetstream/outbox_lease.rs`). Every node's
//! account task reads the shared outbox stream; only the holder's sends. Without it, an
//! account with receiver binds on two nodes got every item from both.
//!
//! [`run`] keeps the leases: every [`Leases::every`] it takes (or renews) the lease of
//! each account with a receiver bound here and gives up those of accounts without one
//! (so a node where the client is bound takes over within one round). A node counts on
//! its lease only for half its TTL after the renewal began ([`Leases::holds`]): a node
//! that cannot renew (NATS away, the node stalled) stops sending well before the entry
//! expires and another node may take it. A node killed stops renewing; its leases expire
//! after the TTL and the nodes with receivers take them.
//!
//! Items that were in flight when a lease moved may be delivered by both nodes (at most a
//! window of them); a node that takes a lease again reads the account's queue afresh
//! from the store (what it read before may have been delivered by the other node since).
//!
//! The webhook sink (`http/webhook.rs`) is under a lease of its own, one per webhook
//! queue (`~hook:NAME`, the key [`crate::http::webhook::hook_queue`]): every node running
//! the account's webhook task wants it (a webhook has no bind to follow), the first to
//! create it posts, and another takes it when the holder stops (given up) or dies
//! (expired). With `webhook_mode = "both"` the two leases are independent: the SMPP part
//! goes from the node holding the account's lease (where a receiver is bound), the
//! webhook part from whichever node holds the queue's lease; each once across the cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::gateway::accounts::Accounts;
use crate::http::webhook::hook_queue;
use crate::smsc::Registry;
use crate::store::{Lease, OutboxLeases};

/// This node's leases.
#[derive(Debug)]
pub(crate) struct Leases {
    store: OutboxLeases,
    /// Held: account → (revision written, when that renewal began, how many times this
    /// node has taken it).
    held: Mutex<HashMap<Arc<str>, Held>>,
    /// Times taken per account (also after losing it): a change tells the account task
    /// to read its queue afresh.
    taken: Mutex<HashMap<Arc<str>, u64>>,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    revision: u64,
    renewed: Instant,
}

impl Leases {
    pub(crate) fn new(store: OutboxLeases) -> Self {
        Self {
            store,
            held: Mutex::new(HashMap::new()),
            taken: Mutex::new(HashMap::new()),
        }
    }

    /// How often leases are taken, renewed and given up.
    pub(crate) fn every(&self) -> Duration {
        self.store.ttl() / 5
    }

    /// Whether this node may send `account`'s items now, and how many times it has
    /// taken the lease so far.
    pub(crate) fn holds(&self, account: &str, now: Instant) -> (bool, u64) {
        let held = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .is_some_and(|held| now < held.renewed + self.store.ttl() / 2);
        let taken = self
            .taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .copied()
            .unwrap_or(0);
        (held, taken)
    }

    fn held(&self, account: &str) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .copied()
    }

    fn set(&self, account: &Arc<str>, held: Option<Held>) {
        let mut map = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held {
            Some(held) => {
                if map.insert(Arc::clone(account), held).is_none() {
                    *self
                        .taken
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(Arc::clone(account))
                        .or_insert(0) += 1;
                }
            }
            None => {
                map.remove(account);
            }
        }
    }

    /// One round over the SMPP queues of `accounts` (those in force, reloads included:
    /// wanted while a receiver is bound here) and the webhook queues of its accounts
    /// with a `webhook_url` (always wanted); answers whether a lease was taken or held
    /// again after it lapsed (the tasks are then woken: before, an account added by a
    /// reload never got one, and a lease renewed after a lapse woke nobody).
    async fn round(&self, registry: &Registry, accounts: &Accounts) -> bool {
        let live: Vec<Arc<str>> = accounts.iter().map(|a| Arc::clone(&a.name)).collect();
        let mut wanted: Vec<(Arc<str>, bool)> = live
            .iter()
            .map(|account| {
                let receiving = registry
                    .sessions(account.as_bytes())
                    .iter()
                    .any(|s| s.info().can_receive() && !s.link().is_closed());
                (Arc::clone(account), receiving)
            })
            .collect();
        let hooked: Vec<Arc<str>> = accounts
            .iter()
            .filter(|account| account.config.webhook_url.is_some())
            .map(|account| Arc::from(hook_queue(&account.name)))
            .collect();
        // Queues this node held and no longer serves (a reload removed the account or its
        // URL): given up below.
        let dropped: Vec<Arc<str>> = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .filter(|key| {
                if crate::http::webhook::is_hook_queue(key) {
                    !hooked.contains(key)
                } else {
                    !live.contains(key)
                }
            })
            .cloned()
            .collect();
        wanted.extend(hooked.into_iter().map(|queue| (queue, true)));
        wanted.extend(dropped.into_iter().map(|queue| (queue, false)));
        let mut taken = false;
        for (account, receiving) in &wanted {
            let receiving = *receiving;
            let held = self.held(account);
            if receiving {
                let started = Instant::now();
                let lapsed = !self.holds(account, started).0;
                match self.store.acquire(account, held.map(|h| h.revision)).await {
                    Ok(Lease::Held(revision)) => {
                        taken |= lapsed;
                        self.set(
                            account,
                            Some(Held {
                                revision,
                                renewed: started,
                            }),
                        );
                    }
                    Ok(Lease::Elsewhere) => self.set(account, None),
                    Err(error) => {
                        // Not renewed: `holds` lapses by itself.
                        tracing::warn!(%account, %error, "outbox lease not renewed");
                    }
                }
            } else if let Some(held) = held {
                self.set(account, None);
                if let Err(error) = self.store.release(account, held.revision).await {
                    tracing::warn!(%account, %error, "outbox lease not given up (it expires)");
                }
            }
        }
        taken
    }

    /// Gives every lease held up (stopping: another node takes over at once).
    async fn release_all(&self) {
        let held: Vec<(Arc<str>, Held)> = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        for (account, held) in held {
            let _ = self.store.release(&account, held.revision).await;
        }
    }
}

/// What [`run`] keeps leases for.
pub(crate) struct LeaseParts {
    pub(crate) leases: Arc<Leases>,
    /// The bound sessions: an account's SMPP lease is wanted while a receiver is here.
    pub(crate) registry: Arc<Registry>,
    /// The accounts in force (reloads included): those with a `webhook_url` want their
    /// webhook queue's lease.
    pub(crate) hooks: Arc<Accounts>,
    /// Notified when a lease was taken: the SMPP outbox stage and the webhook sink.
    pub(crate) wakes: [Arc<crate::gateway::wakes::Wakes>; 2],
    pub(crate) cancel: CancellationToken,
}

/// Keeps this node's leases until `cancel`, then gives them up. The `wakes` are notified
/// when a lease was taken (the tasks then send).
pub(crate) async fn run(parts: LeaseParts) {
    let LeaseParts {
        leases,
        registry,
        hooks,
        wakes,
        cancel,
    } = parts;
    loop {
        if leases.round(&registry, &hooks).await {
            for wake in &wakes {
                wake.every();
            }
        }
        tokio::select! {
            () = tokio::time::sleep(leases.every()) => {}
            () = cancel.cancelled() => break,
        }
    }
    leases.release_all().await;
}
