//! Which node delivers an account's outbox (issue #17): a lease per account in the KV
//! bucket `<prefix>_outbox_owners` (account → node name). Every node reads the shared
//! outbox stream, but only the node holding the account's lease sends its items, so an
//! account with receiver binds on two nodes gets each item once, not once per node.
//!
//! A node with receivers of the account takes the lease when nobody holds it (a create:
//! compare-and-set), and renews it (an update on the revision it wrote) well within the
//! bucket's `max_age`; it gives it up (a delete on its revision) when its receivers are
//! gone or it stops. A node that dies stops renewing: its entry expires after `max_age`
//! and a node with receivers takes it then. This is the store's half (the KV steps); the
//! gateway's outbox stage decides when (`gateway/outbox/lease.rs`).

use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use bytes::Bytes;

use super::names::token;
use crate::config::ClusterConfig;
use crate::store::StoreError;

/// The leases, connected.
pub struct OutboxLeases {
    kv: kv::Store,
    node: Bytes,
    ttl: Duration,
}

impl std::fmt::Debug for OutboxLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxLeases").finish_non_exhaustive()
    }
}

/// What a lease step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// This node holds it, written at this revision (renew or give it up on it).
    Held(u64),
    /// Another node holds it.
    Elsewhere,
}

impl OutboxLeases {
    /// Connects and opens (or creates) the bucket; a lease lasts `ttl` after its last
    /// renewal.
    ///
    /// # Errors
    /// No connection within `connect_timeout`, or the bucket cannot be made.
    pub async fn open(config: &ClusterConfig, ttl: Duration) -> Result<Self, StoreError> {
        let name = format!("{}_outbox_owners", config.prefix);
        let (_js, kv) = super::side_bucket(config, "outbox leases", &name, ttl).await?;
        Ok(Self {
            kv,
            node: Bytes::from(config.node.clone()),
            ttl,
        })
    }

    /// How long a lease lasts after its last renewal.
    #[must_use]
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes `account`'s lease when nobody holds it, or renews it when this node does
    /// (`held`: the revision this node last wrote).
    ///
    /// # Errors
    /// NATS failed: the caller must not count on the lease.
    pub async fn acquire(&self, account: &str, held: Option<u64>) -> Result<Lease, StoreError> {
        let key = token(account.as_bytes());
        if let Some(revision) = held {
            match self.kv.update(&key, self.node.clone(), revision).await {
                Ok(revision) => return Ok(Lease::Held(revision)),
                // Expired and taken, or gone: try as a newcomer below.
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => {}
                Err(e) => return Err(StoreError::new(format!("renew outbox lease: {e}"))),
            }
        }
        match self.kv.create(&key, self.node.clone()).await {
            Ok(revision) => Ok(Lease::Held(revision)),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                // Ours after all (a renewal whose answer was lost)?
                match self
                    .kv
                    .entry(&key)
                    .await
                    .map_err(|e| StoreError::new(format!("read outbox lease: {e}")))?
                {
                    Some(entry)
                        if entry.operation == Operation::Put && entry.value == self.node =>
                    {
                        Ok(Lease::Held(entry.revision))
                    }
                    _ => Ok(Lease::Elsewhere),
                }
            }
            Err(e) => Err(StoreError::new(format!("take outbox lease: {e}"))),
        }
    }

    /// The node holding the lease of `account` (or of a webhook queue, `~hook:NAME`),
    /// if any (for operators and tests: which node delivers it).
    ///
    /// # Errors
    /// NATS failed.
    pub async fn holder(&self, account: &str) -> Result<Option<String>, StoreError> {
        let entry = self
            .kv
            .entry(token(account.as_bytes()))
            .await
            .map_err(|e| StoreError::new(format!("read outbox lease: {e}")))?;
        Ok(entry
            .filter(|entry| entry.operation == Operation::Put)
            .map(|entry| String::from_utf8_lossy(&entry.value).into_owned()))
    }

    /// Gives `account`'s lease up (written by this node at `revision`), so that a node
    /// with receivers takes it at once rather than after it expires.
    ///
    /// # Errors
    /// NATS failed (the lease then expires by itself).
    pub async fn release(&self, account: &str, revision: u64) -> Result<(), StoreError> {
        let key = token(account.as_bytes());
        match self.kv.delete_expect_revision(&key, Some(revision)).await {
            Ok(()) => Ok(()),
            // Someone else's by now: nothing to give up.
            Err(e) if e.to_string().contains("wrong last sequence") => Ok(()),
            Err(e) => Err(StoreError::new(format!("release outbox lease: {e}"))),
        }
    }
}
