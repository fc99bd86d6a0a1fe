//! Bearer keys: an account's API keys and the admin token are configured as SHA-256
//! hashes (`smppgate api-key new`); a request's key is hashed and compared with every
//! configured hash in constant time (`subtle`), so neither the timing nor an early exit
//! tells which bytes matched.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::errors::ApiError;
use crate::config::parse_sha256;
use crate::gateway::accounts::{Account, Accounts};

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// An account, by one of its API keys: sees and sends only its own messages.
    Account(Arc<Account>),
    /// The admin token: sees every account's messages, sends none.
    Admin,
}

/// Every configured key hash and whose it is.
#[derive(Debug)]
pub(crate) struct Keys {
    keys: Vec<([u8; 32], Option<Arc<Account>>)>,
}

impl Keys {
    /// From the accounts' `api_keys` and `http.admin_token_hash` (validated already; a bad
    /// entry is skipped).
    pub(crate) fn new(accounts: &Accounts, admin_hash: Option<&str>) -> Self {
        let mut keys: Vec<([u8; 32], Option<Arc<Account>>)> = accounts
            .iter()
            .flat_map(|account| {
                account
                    .config
                    .api_keys
                    .iter()
                    .filter_map(|key| parse_sha256(key))
                    .map(|hash| (hash, Some(Arc::clone(account))))
            })
            .collect();
        if let Some(hash) = admin_hash.and_then(parse_sha256) {
            keys.push((hash, None));
        }
        Self { keys }
    }

    /// The caller named by the `Authorization: Bearer` header.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`]: no header, not Bearer, or no such key.
    pub(crate) fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every entry is compared, whatever matched first.
        let mut found: Option<&Option<Arc<Account>>> = None;
        for (candidate, owner) in &self.keys {
            if bool::from(candidate.ct_eq(&hash)) {
                found = Some(owner);
            }
        }
        match found {
            Some(Some(account)) => Ok(Caller::Account(Arc::clone(account))),
            Some(None) => Ok(Caller::Admin),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// `sha256:<hex>` of a key, as the configuration holds it.
#[must_use]
pub fn key_hash(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}
