//! The opt-out suppression list as stored (issue #15 rule 3): which numbers must not get
//! a scope's messages any more, since when and why. The in-memory set the gateway looks
//! up is `crate::policy::suppression`; this is its durable form and its key layout.

use serde::{Deserialize, Serialize};

use super::keys::push_str;
use super::{Millis, StoreError};

/// Whose messages a suppressed number no longer gets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScopeKey {
    /// Every message of this account.
    Account(String),
    /// The messages of this account sent from this sender id (source_addr as the
    /// account writes it: a short code, a long number or an alphanumeric name).
    Sender {
        /// The account.
        account: String,
        /// The sender id.
        sender: String,
    },
    /// Everyone's messages.
    Global,
}

impl std::fmt::Display for ScopeKey {
    /// `account:NAME`, `sender:NAME/SENDER`, `global` (the CSV's scope column).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Account(account) => write!(f, "account:{account}"),
            Self::Sender { account, sender } => write!(f, "sender:{account}/{sender}"),
            Self::Global => f.write_str("global"),
        }
    }
}

impl std::str::FromStr for ScopeKey {
    type Err = String;

    /// The form [`Display`](std::fmt::Display) writes.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "global" {
            return Ok(Self::Global);
        }
        if let Some(account) = text.strip_prefix("account:")
            && !account.is_empty()
        {
            return Ok(Self::Account(account.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("sender:")
            && let Some((account, sender)) = rest.split_once('/')
            && !account.is_empty()
            && !sender.is_empty()
        {
            return Ok(Self::Sender {
                account: account.to_owned(),
                sender: sender.to_owned(),
            });
        }
        Err(format!(
            "scope `{text}` is not `account:NAME`, `sender:NAME/SENDER` or `global`"
        ))
    }
}

/// How a number came on the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SuppressionSource {
    /// The number replied an opt-out keyword.
    Mo {
        /// The carrier the reply came from.
        carrier: String,
        /// The keyword as the number wrote it.
        keyword: String,
    },
    /// A `smppgate suppress import` file.
    Import,
    /// `smppgate suppress add`.
    Cli,
}

impl std::fmt::Display for SuppressionSource {
    /// `mo:CARRIER:KEYWORD`, `import`, `cli` (the CSV's source column).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mo { carrier, keyword } => write!(f, "mo:{carrier}:{keyword}"),
            Self::Import => f.write_str("import"),
            Self::Cli => f.write_str("cli"),
        }
    }
}

impl std::str::FromStr for SuppressionSource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "import" => Ok(Self::Import),
            "cli" => Ok(Self::Cli),
            other => match other.strip_prefix("mo:").and_then(|r| r.split_once(':')) {
                Some((carrier, keyword)) => Ok(Self::Mo {
                    carrier: carrier.to_owned(),
                    keyword: keyword.to_owned(),
                }),
                None => Err(format!(
                    "source `{other}` is not `mo:CARRIER:KEYWORD`, `import` or `cli`"
                )),
            },
        }
    }
}

/// One suppressed (scope, number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Whose messages it stops.
    pub scope: ScopeKey,
    /// E.164 digits, no `+`.
    pub number: String,
    /// When it was added (wall ms).
    pub since: Millis,
    /// How.
    pub source: SuppressionSource,
}

/// The stored value: what the key does not say.
#[derive(Serialize, Deserialize)]
struct Value {
    since: Millis,
    source: SuppressionSource,
}

/// The key prefix of a scope: a tag byte, then its names length-prefixed.
pub(super) fn scope_prefix(scope: &ScopeKey) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(32);
    match scope {
        ScopeKey::Account(account) => {
            key.push(b'a');
            push_str(&mut key, account)?;
        }
        ScopeKey::Sender { account, sender } => {
            key.push(b's');
            push_str(&mut key, account)?;
            push_str(&mut key, sender)?;
        }
        ScopeKey::Global => key.push(b'g'),
    }
    Ok(key)
}

/// The key of (scope, number).
pub(super) fn key(scope: &ScopeKey, number: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = scope_prefix(scope)?;
    push_str(&mut key, number)?;
    Ok(key)
}

/// Reads a length-prefixed string at the start of `bytes`; returns it and the rest.
fn take_str(bytes: &[u8]) -> Option<(String, &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    let text = rest.get(..len)?;
    Some((String::from_utf8(text.to_vec()).ok()?, &rest[len..]))
}

/// Reads a key written by [`key`].
pub(super) fn parse_key(bytes: &[u8]) -> Option<(ScopeKey, String)> {
    let (&tag, rest) = bytes.split_first()?;
    let (scope, rest) = match tag {
        b'a' => {
            let (account, rest) = take_str(rest)?;
            (ScopeKey::Account(account), rest)
        }
        b's' => {
            let (account, rest) = take_str(rest)?;
            let (sender, rest) = take_str(rest)?;
            (ScopeKey::Sender { account, sender }, rest)
        }
        b'g' => (ScopeKey::Global, rest),
        _ => return None,
    };
    let (number, rest) = take_str(rest)?;
    rest.is_empty().then_some((scope, number))
}

/// The stored value of an entry.
pub(super) fn encode_value(entry: &Suppression) -> Result<Vec<u8>, StoreError> {
    super::keys::encode(&Value {
        since: entry.since,
        source: entry.source.clone(),
    })
}

/// An entry from its key and value; corrupt bytes are an error, never a panic.
pub(super) fn decode(key: &[u8], value: &[u8]) -> Result<Suppression, StoreError> {
    let (scope, number) =
        parse_key(key).ok_or_else(|| StoreError::new("corrupt suppression key"))?;
    let value: Value = super::keys::decode("suppression", value)?;
    Ok(Suppression {
        scope,
        number,
        since: value.since,
        source: value.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_texts_round_trip() {
        let scopes = [
            ScopeKey::Account("shop".into()),
            ScopeKey::Sender {
                account: "shop".into(),
                sender: "10690001".into(),
            },
            ScopeKey::Global,
        ];
        for scope in scopes {
            let key = key(&scope, "8613800138000").unwrap();
            assert!(key.starts_with(&scope_prefix(&scope).unwrap()));
            assert_eq!(
                parse_key(&key),
                Some((scope.clone(), "8613800138000".into()))
            );
            assert_eq!(scope.to_string().parse::<ScopeKey>(), Ok(scope));
        }
        // "ab" + "c" and "a" + "bc" differ; one account's prefix is not another's.
        let sender = |a: &str, s: &str| ScopeKey::Sender {
            account: a.into(),
            sender: s.into(),
        };
        assert_ne!(
            key(&sender("ab", "c"), "1").unwrap(),
            key(&sender("a", "bc"), "1").unwrap()
        );
        assert!(
            !key(&ScopeKey::Account("ab".into()), "1")
                .unwrap()
                .starts_with(&scope_prefix(&ScopeKey::Account("a".into())).unwrap())
        );
        assert!(parse_key(b"x").is_none());
        assert!(parse_key(b"a\x00\x05ab").is_none());
        for source in [
            SuppressionSource::Cli,
            SuppressionSource::Import,
            SuppressionSource::Mo {
                carrier: "cmcc".into(),
                keyword: "退订".into(),
            },
        ] {
            assert_eq!(source.to_string().parse::<SuppressionSource>(), Ok(source));
        }
        assert!("account:".parse::<ScopeKey>().is_err());
        assert!("sender:shop".parse::<ScopeKey>().is_err());
        assert!("mo:x".parse::<SuppressionSource>().is_err());
    }
}
