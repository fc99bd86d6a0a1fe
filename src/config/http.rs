//! `[http]`: the HTTP submit API (and where an account's webhook events go: the account
//! fields `api_keys`, `webhook_url`, `webhook_secret`, `webhook_mode`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The HTTP listener.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// `sha256:<64 hex digits>` of the admin bearer token (`smppgate api-key new
    /// --admin`); no admin access when absent.
    pub admin_token_hash: Option<String>,
    /// Largest request body (`"1MiB"`, `"64KiB"`, `"1000000"`); larger ones get 413.
    #[serde(with = "byte_size")]
    pub max_body: u64,
    /// Most connections at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// A connection that has not sent a request's headers within this time is closed
    /// (slow clients cannot hold connections open).
    #[serde(with = "super::duration")]
    pub header_timeout: Duration,
    /// The longest one request may take, its body included: a client that sends its
    /// body too slowly (or a request that cannot be answered in time) gets `408`.
    #[serde(with = "super::duration")]
    pub request_timeout: Duration,
    /// Requests with a wrong or missing key answered `401` per second from one source
    /// address (an IPv6 /64); past that (and `auth_failure_burst`) they get `429` and
    /// their connection is closed. A good key is served whatever its address did.
    pub auth_failures_per_second: u32,
    /// How many wrong keys one address may send at once before the per-second limit
    /// applies.
    pub auth_failure_burst: u32,
    /// The first wait before a webhook batch that failed (not 2xx, timeout, refused) is
    /// posted again; it doubles (with jitter) up to `webhook_retry_max`.
    #[serde(with = "super::duration")]
    pub webhook_retry_initial: Duration,
    /// The longest wait between two posts of a failing webhook batch.
    #[serde(with = "super::duration")]
    pub webhook_retry_max: Duration,
    /// A failing batch whose oldest event was queued this long ago is parked (after 3
    /// posts at least; `smppgate receipts parked --account '~hook:NAME'`, replayable).
    #[serde(with = "super::duration")]
    pub webhook_park_after: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            admin_token_hash: None,
            max_body: 1 << 20,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            auth_failures_per_second: 10,
            auth_failure_burst: 100,
            webhook_retry_initial: Duration::from_secs(1),
            webhook_retry_max: Duration::from_secs(600),
            webhook_park_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// Where an account with a `webhook_url` gets its receipts and MO messages.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    /// To the webhook only.
    #[default]
    Webhook,
    /// To the webhook and to its SMPP receiver binds.
    Both,
}

/// Parses `"1MiB"`, `"64KiB"`, `"2MB"`, `"1000"` (bytes).
///
/// # Errors
/// What is wrong with `text`, and what to write.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. \"1MiB\", \"64KiB\""))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{other}` is not a size unit; write B, KiB, MiB, GiB, kB, MB or GB, e.g. \"1MiB\""
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A byte size as text (serde `with`).
mod byte_size {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Size {
            Number(u64),
            Text(String),
        }
        match Size::deserialize(deserializer)? {
            Size::Number(n) => Ok(n),
            Size::Text(text) => super::parse_byte_size(&text).map_err(serde::de::Error::custom),
        }
    }
}

/// Whether `text` is `sha256:` and 64 hex digits; the 32 bytes when it is.
#[must_use]
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let hex_digits = text.strip_prefix("sha256:")?;
    let mut out = [0_u8; 32];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_byte_size("64KiB"), Ok(65_536));
        assert_eq!(parse_byte_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_byte_size("100"), Ok(100));
        assert!(parse_byte_size("MiB").is_err());
        assert!(parse_byte_size("1 parsec").is_err());
        assert!(parse_byte_size("99999999999999GiB").is_err());
    }

    #[test]
    fn check_config_names_line_and_field() {
        let key = format!("sha256:{}", "ab".repeat(32));
        let text = format!(
            r#"[http]
listen = "localhost"
admin_token_hash = "{key}"
max_body = "100MiB"

[[account]]
system_id = "~shop"
password = "pw"
api_keys = ["{key}", "plain-key"]
webhook_url = "ftp://x"
webhook_secret = "short"
"#
        );
        let problems = match crate::config::Config::parse(&text, std::path::Path::new("t.toml")) {
            Err(crate::config::ConfigError::Invalid { problems }) => problems,
            other => panic!("{other:?}"),
        };
        let found: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        for expected in [
            (Some(2), "http.listen"),
            (Some(4), "http.max_body"),
            (Some(7), "account[0].system_id"),
            (Some(9), "account[0].api_keys[0]"),
            (Some(9), "account[0].api_keys[1]"),
            (Some(10), "account[0].webhook_url"),
            (Some(11), "account[0].webhook_secret"),
        ] {
            assert!(found.contains(&expected), "{expected:?} in {problems:#?}");
        }
        let max_body = problems
            .iter()
            .find(|p| p.field == "http.max_body")
            .unwrap();
        assert!(max_body.message.contains("1MiB"), "{max_body}");
        let admin = problems
            .iter()
            .find(|p| p.field == "account[0].api_keys[0]")
            .unwrap();
        assert!(admin.message.contains("admin_token_hash"), "{admin}");
    }

    #[test]
    fn hashes() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(parse_sha256(&good), Some([0xab; 32]));
        assert_eq!(parse_sha256(&"ab".repeat(32)), None);
        assert_eq!(parse_sha256("sha256:abc"), None);
    }
}
