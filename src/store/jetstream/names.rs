//! Stream, bucket, subject and key names of the JetStream store.
//!
//! Everything is named from the configured prefix, never from the node, so every gateway
//! node of a cluster shares the same streams and buckets; what is one node's own (its id
//! range's high-water mark, its share of the statistics) carries the node's name in the
//! key instead.
//!
//! Names from outside (accounts, carriers, carrier ids, numbers) are hex-encoded into one
//! subject token behind an `x` (NATS tokens may not be empty, nor hold `.`, `*`, `>` or
//! spaces; hex keeps byte order, so sorted keys group as the embedded store's do).

use super::super::{StatsKey, StoreError, keys, suppression};
use crate::store::ScopeKey;

/// The bucket names, one per kind of state.
#[derive(Debug, Clone)]
pub(super) struct Names {
    /// Prefix of streams and buckets.
    pub(super) prefix: String,
    /// This node's name.
    pub(super) node: String,
}

/// One kind of state kept in a key-value bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bucket {
    /// id → message record.
    Messages,
    /// id → nothing, for every message not final.
    Pending,
    /// (carrier, carrier id) → (id, part), with a TTL.
    Carrier,
    /// (account, seq) → parked outbox item.
    Parked,
    /// (scope, number) → suppression.
    Suppressions,
    /// (hour, account, route, carrier, node) → counters.
    Stats,
    /// Node slots and each node's highest id.
    Nodes,
}

impl Bucket {
    /// Every bucket (opened at start).
    pub(super) const ALL: [Self; 7] = [
        Self::Messages,
        Self::Pending,
        Self::Carrier,
        Self::Parked,
        Self::Suppressions,
        Self::Stats,
        Self::Nodes,
    ];

    const fn suffix(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Pending => "pending",
            Self::Carrier => "carrier",
            Self::Parked => "parked",
            Self::Suppressions => "suppressions",
            Self::Stats => "stats",
            Self::Nodes => "nodes",
        }
    }
}

impl Names {
    /// The bucket's name (`<prefix>_messages`).
    pub(super) fn bucket(&self, bucket: Bucket) -> String {
        format!("{}_{}", self.prefix, bucket.suffix())
    }

    /// The subject a key of `bucket` is stored under (`$KV.<bucket>.<key>`).
    pub(super) fn kv_subject(&self, bucket: Bucket, key: &str) -> String {
        format!("$KV.{}.{key}", self.bucket(bucket))
    }

    /// The dispatch work-queue stream of one class of a route
    /// (`<prefix>_route_x<hex>_<class>`).
    pub(super) fn route_stream(&self, route: &str, class: &str) -> String {
        format!("{}_route_{}_{class}", self.prefix, token(route.as_bytes()))
    }

    /// The subjects of that stream (`<prefix>.route.x<hex>.<class>.*`).
    pub(super) fn route_subjects(&self, route: &str, class: &str) -> String {
        format!(
            "{}.route.{}.{class}.*",
            self.prefix,
            token(route.as_bytes())
        )
    }

    /// A message's item: one subject per message, so the stream's limit of one message
    /// per subject keeps a message queued at most once.
    pub(super) fn route_item(&self, route: &str, class: &str, id: u64) -> String {
        format!(
            "{}.route.{}.{class}.{}",
            self.prefix,
            token(route.as_bytes()),
            id_key(id)
        )
    }

    /// The outbox stream (`<prefix>_outbox`).
    pub(super) fn outbox_stream(&self) -> String {
        format!("{}_outbox", self.prefix)
    }

    /// The subjects of the outbox stream.
    pub(super) fn outbox_subjects(&self) -> String {
        format!("{}.outbox.*", self.prefix)
    }

    /// The subject of one account's outbox.
    pub(super) fn outbox_subject(&self, account: &str) -> String {
        format!("{}.outbox.{}", self.prefix, token(account.as_bytes()))
    }

    /// This node's highest-id key in [`Bucket::Nodes`].
    pub(super) fn max_id_key(&self) -> String {
        format!("max.{}", self.node)
    }

    /// This node's share of the statistics of `key`.
    pub(super) fn stats_key(&self, key: &StatsKey) -> Result<String, StoreError> {
        let bytes = keys::stats(key)?;
        Ok(format!("{}.{}", token(&bytes), self.node))
    }
}

/// `x` and the hex digits of `bytes`: one subject token for any bytes.
pub(super) fn token(bytes: &[u8]) -> String {
    format!("x{}", hex::encode(bytes))
}

/// The bytes of a [`token`].
pub(super) fn untoken(token: &str) -> Result<Vec<u8>, StoreError> {
    token
        .strip_prefix('x')
        .and_then(|digits| hex::decode(digits).ok())
        .ok_or_else(|| StoreError::new(format!("corrupt key token `{token}`")))
}

/// [`Bucket::Messages`] / [`Bucket::Pending`] key of an id (fixed width, so keys sort
/// as ids).
pub(super) fn id_key(id: u64) -> String {
    format!("{id:016x}")
}

/// The id of an [`id_key`].
pub(super) fn parse_id_key(key: &str) -> Result<u64, StoreError> {
    u64::from_str_radix(key, 16).map_err(|_| StoreError::new(format!("corrupt id key `{key}`")))
}

/// [`Bucket::Carrier`] key.
pub(super) fn carrier_key(carrier: &str, carrier_id: &str) -> String {
    format!(
        "{}.{}",
        token(carrier.as_bytes()),
        token(carrier_id.as_bytes())
    )
}

/// [`Bucket::Parked`] key prefix token of an account (keys are `<account>.<seq>`).
pub(super) fn parked_account(account: &str) -> String {
    token(account.as_bytes())
}

/// [`Bucket::Parked`] key.
pub(super) fn parked_key(account: &str, seq: u64) -> String {
    format!("{}.{seq:016x}", parked_account(account))
}

/// [`Bucket::Suppressions`] scope token (keys are `<scope>.<number>`).
pub(super) fn suppression_scope(scope: &ScopeKey) -> Result<String, StoreError> {
    Ok(token(&suppression::scope_prefix(scope)?))
}

/// [`Bucket::Suppressions`] key.
pub(super) fn suppression_key(scope: &ScopeKey, number: &str) -> Result<String, StoreError> {
    let scope = suppression_scope(scope)?;
    let mut number_part = Vec::with_capacity(2 + number.len());
    keys::push_str(&mut number_part, number)?;
    Ok(format!("{scope}.{}", token(&number_part)))
}

/// The embedded store's key bytes of a [`suppression_key`] (what `suppression::decode`
/// reads).
pub(super) fn suppression_key_bytes(key: &str) -> Result<Vec<u8>, StoreError> {
    let (scope, number) = key
        .split_once('.')
        .ok_or_else(|| StoreError::new(format!("corrupt suppression key `{key}`")))?;
    let mut bytes = untoken(scope)?;
    bytes.extend_from_slice(&untoken(number)?);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_never_empty() {
        for bytes in [&b""[..], b"a.b*c>", "名".as_bytes()] {
            let token = token(bytes);
            assert!(token.starts_with('x'));
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(untoken(&token).unwrap(), bytes);
        }
        assert!(untoken("zz").is_err());
        assert!(untoken("xzz").is_err());
    }

    #[test]
    fn suppression_keys_read_back_as_the_embedded_layout() {
        let scope = ScopeKey::Sender {
            account: "acme".into(),
            sender: "Shop.Co".into(),
        };
        let key = suppression_key(&scope, "4915112345678").unwrap();
        assert!(key.starts_with(&suppression_scope(&scope).unwrap()));
        assert_eq!(
            suppression_key_bytes(&key).unwrap(),
            suppression::key(&scope, "4915112345678").unwrap()
        );
    }

    #[test]
    fn id_keys_sort_as_ids() {
        assert!(id_key(9) < id_key(10));
        assert!(id_key(u64::MAX - 1) < id_key(u64::MAX));
        assert_eq!(parse_id_key(&id_key(1 << 56)).unwrap(), 1 << 56);
    }
}
