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
                let hashes: Vec<[u8; 32]> = account
                    .config
                    .api_keys
                    .iter()
                    .filter_map(|key| parse_sha256(key))
                    .collect();
                hashes
                    .into_iter()
                    .map(move |hash| (hash, Some(Arc::clone(&account))))
            })
            .collect();
        if let Some(hash) = admin_hash.and_then(parse_sha256) {
            keys.push((hash, None));
        }
        Self { keys }
    }

    /// From a reloaded configuration: each account's `api_keys` as `configs` lists them,
    /// for the running account of the same name (accounts added by the file wait for a
    /// restart), and the admin token's hash.
    pub(crate) fn of_config(
        accounts: &Accounts,
        configs: &[crate::config::AccountConfig],
        admin_hash: Option<&str>,
    ) -> Self {
        let mut keys: Vec<([u8; 32], Option<Arc<Account>>)> = configs
            .iter()
            .filter_map(|config| Some((config, accounts.get(config.system_id.as_bytes())?)))
            .flat_map(|(config, account)| {
                config
                    .api_keys
                    .iter()
                    .filter_map(|key| parse_sha256(key))
                    .map(move |hash| (hash, Some(Arc::clone(&account))))
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
        self.of_token(token)
    }

    /// The caller named by `Authorization: Bearer`, or by the password of
    /// `Authorization: Basic` (any user name): how a browser sends the admin token.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`]: neither header, or no such key.
    pub(crate) fn admin_or_basic(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        use base64::Engine as _;
        let Some(basic) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
        else {
            return self.caller(headers);
        };
        // A header is at most a few KiB (hyper's limit): the decoded copy is as small.
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .map_err(|_| ApiError::Unauthorized)?;
        let text = std::str::from_utf8(&decoded).map_err(|_| ApiError::Unauthorized)?;
        let (_, password) = text.split_once(':').ok_or(ApiError::Unauthorized)?;
        if password.is_empty() {
            return Err(ApiError::Unauthorized);
        }
        self.of_token(password)
    }

    fn of_token(&self, token: &str) -> Result<Caller, ApiError> {
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
