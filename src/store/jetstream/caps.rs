//! Frequency-cap counters shared by every node of a cluster (issue #17): one KV entry per
//! (policy, account, number) in `<prefix>_caps`, holding each cap's counted send times
//! (the layout of the saved counters, [`CapTimes`]). A message is counted by a
//! compare-and-set: the entry is read, the policy's caps judge it and add the time, and
//! the entry is written back conditional on the revision read; when another node wrote
//! in between, the whole step is done again on what it wrote. So a number's cap holds
//! whichever nodes its messages come through, and two messages at once never both take
//! the last place.
//!
//! This is the store's half: it knows the counters, not the caps (`policy/caps.rs` judges
//! and changes them through the closure given to [`SharedCaps::take`]).
//!
//! Its cost: two round trips to the bucket's leader for each message a cap counts (one
//! read, one conditional write), more under contention for one number. Only messages of
//! a class some cap counts pay it. An entry expires with the bucket's `max_age` (the
//! longest cap window allowed) after its last write.

use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use bytes::Bytes;

use super::backend::no_responders;
use super::names::token;
use crate::config::ClusterConfig;
use crate::store::{CapTimes, StoreError, keys};

/// Rounds of compare-and-set on one entry before a take fails (each lost round means
/// another node counted a message to this number in between).
const ROUNDS: usize = 32;

/// How long a take waits before asking again when no server answered.
const NOT_YET: Duration = Duration::from_millis(100);

/// The shared counters, connected.
pub struct SharedCaps {
    kv: kv::Store,
    timeout: Duration,
}

impl std::fmt::Debug for SharedCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCaps").finish_non_exhaustive()
    }
}

/// The bucket's name.
fn bucket(config: &ClusterConfig) -> String {
    format!("{}_caps", config.prefix)
}

/// An entry's key: policy, account and number, each one subject token.
fn key(policy: &str, account: &str, number: u64) -> String {
    format!(
        "{}.{}.{number:x}",
        token(policy.as_bytes()),
        token(account.as_bytes())
    )
}

impl SharedCaps {
    /// Connects and opens (or creates) the bucket, with the cluster's replicas.
    ///
    /// # Errors
    /// No connection within `connect_timeout`, or the bucket cannot be made.
    pub async fn open(config: &ClusterConfig) -> Result<Self, StoreError> {
        let name = bucket(config);
        let (_js, kv) =
            super::side_bucket(config, "caps", &name, crate::config::MAX_CAP_WINDOW).await?;
        Ok(Self {
            kv,
            timeout: config.commit_timeout,
        })
    }

    /// Counts a message to `number` from `account` under `policy`: `apply` judges the
    /// stored counters and adds the message to them (an `Err` refuses it: nothing is
    /// written). Answers `apply`'s verdict once it is stored.
    ///
    /// # Errors
    /// NATS failed or did not answer within `commit_timeout`, or the entry stayed
    /// contended for [`ROUNDS`] rounds: the message is not counted (the caller refuses it).
    pub async fn take<E>(
        &self,
        policy: &str,
        account: &str,
        number: u64,
        mut apply: impl FnMut(&mut Vec<CapTimes>) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        let key = key(policy, account, number);
        let rounds = async {
            let mut round = 0;
            while round < ROUNDS {
                let entry = match self.kv.entry(&key).await {
                    Ok(entry) => entry,
                    Err(e) if no_responders(&e) => {
                        // The bucket's servers do not answer yet (just created, its
                        // leader being elected): again, within the timeout.
                        tokio::time::sleep(NOT_YET).await;
                        continue;
                    }
                    Err(e) => return Err(StoreError::new(format!("read cap counters: {e}"))),
                };
                round += 1;
                let (mut counted, revision) = match entry {
                    Some(entry) if entry.operation == Operation::Put => (
                        keys::decode::<Vec<CapTimes>>("cap counters", &entry.value)?,
                        Some(entry.revision),
                    ),
                    Some(entry) => (Vec::new(), Some(entry.revision)),
                    None => (Vec::new(), None),
                };
                if let Err(refused) = apply(&mut counted) {
                    return Ok(Err(refused));
                }
                let value = Bytes::from(keys::encode(&counted)?);
                // A write nobody received (no responders) was not applied: read again.
                let lost = match revision {
                    Some(revision) => match self.kv.update(&key, value, revision).await {
                        Ok(_) => false,
                        Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => true,
                        Err(e) if no_responders(&e) => {
                            tokio::time::sleep(NOT_YET).await;
                            true
                        }
                        Err(e) => {
                            return Err(StoreError::new(format!("write cap counters: {e}")));
                        }
                    },
                    None => match self.kv.create(&key, value).await {
                        Ok(_) => false,
                        Err(e) if e.kind() == CreateErrorKind::AlreadyExists => true,
                        Err(e) if no_responders(&e) => {
                            tokio::time::sleep(NOT_YET).await;
                            true
                        }
                        Err(e) => {
                            return Err(StoreError::new(format!("write cap counters: {e}")));
                        }
                    },
                };
                if !lost {
                    return Ok(Ok(()));
                }
            }
            Err(StoreError::new(format!(
                "cap counters of one number still contended after {ROUNDS} rounds"
            )))
        };
        tokio::time::timeout(self.timeout, rounds)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(format!(
                    "cap counters: no answer within {}",
                    humantime::format_duration(self.timeout)
                )))
            })
    }
}
