//! The CLI against a running gateway's admin HTTP API (`--api URL`): the store is held
//! by the running gateway (single process, docs/adr/0002-storage-engine.md), so
//! `messages show|list` and `receipts parked|replay` ask it instead of opening the store.
//!
//! The admin token comes from `--token` or the environment (`SMPPGATE_ADMIN_TOKEN`, which
//! keeps it out of the shell history and `ps`). Every request has a timeout; an error
//! answer is shown with the API's own message.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::Value;

/// The environment variable holding the admin token.
pub const TOKEN_ENV: &str = "SMPPGATE_ADMIN_TOKEN";
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `--api` and `--token`.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Ask the running gateway's HTTP API at this URL (`http://127.0.0.1:8080`, or its
    /// address alone: `127.0.0.1:8080`) instead of opening the store (which a running
    /// gateway holds).
    #[arg(long, visible_alias = "http", value_name = "URL", conflicts_with_all = ["store", "config"])]
    pub api: Option<String>,
    /// The admin token for `--api` (default: the SMPPGATE_ADMIN_TOKEN environment
    /// variable).
    #[arg(long, requires = "api")]
    pub token: Option<String>,
}

/// A client of one gateway's admin API.
#[derive(Debug)]
pub struct Remote {
    base: String,
    token: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// The client `args` name, or `None` without `--api`.
    ///
    /// # Errors
    /// No token, or a URL that is not http(s).
    pub fn of(args: &ApiArgs) -> anyhow::Result<Option<Self>> {
        let Some(api) = &args.api else {
            return Ok(None);
        };
        let token = match &args.token {
            Some(token) => token.clone(),
            None => std::env::var(TOKEN_ENV).with_context(|| {
                format!(
                    "--api needs the admin token: --token or the {TOKEN_ENV} environment variable"
                )
            })?,
        };
        if reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            bail!(
                "the admin token ({TOKEN_ENV} or --token) has characters an HTTP header cannot \
                 carry (a line break, a control character): give the token alone"
            );
        }
        let base = api.trim_end_matches('/');
        let base = if base.starts_with("http://") || base.starts_with("https://") {
            base.to_owned()
        } else if !base.contains("://") && reqwest::Url::parse(&format!("http://{base}")).is_ok() {
            // An address alone (`127.0.0.1:8080`, `gw1:8080`): plain HTTP.
            format!("http://{base}")
        } else {
            bail!(
                "--api {api}: write the URL with http:// or https://, or the address alone (127.0.0.1:8080)"
            );
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        Ok(Some(Self {
            base,
            token,
            client,
            runtime,
        }))
    }

    /// The client for `api` (`--api`), else for the gateway running on the store `store`
    /// names (the store cannot be read while it runs), else `None`: read the store.
    ///
    /// # Errors
    /// See [`Self::of`]; and a running gateway whose API is known while the admin token
    /// is not (the error says where to put it).
    pub fn choose(
        api: &ApiArgs,
        store: &super::messages::StoreArgs,
    ) -> anyhow::Result<Option<Self>> {
        match Self::of(api)? {
            Some(remote) => Ok(Some(remote)),
            None => Self::for_running(store),
        }
    }

    /// Without `--api`: the gateway holding the store `store` names, asked at its
    /// configuration's `[http]` listener or at the address it recorded beside the store
    /// (the demo `serve`, a port picked at start), with the admin token from the
    /// environment. `None` when no gateway holds the store or none of them says where its
    /// API is.
    fn for_running(store: &super::messages::StoreArgs) -> anyhow::Result<Option<Self>> {
        let Ok((path, config)) = super::messages::locate(store) else {
            // The caller's own reading of the configuration names what is wrong.
            return Ok(None);
        };
        if !crate::store::in_use(&path) {
            return Ok(None);
        }
        // (Without `--config`, `config` is the demo's, which names no listener.)
        let configured = config
            .as_ref()
            .and_then(|config| config.http.as_ref())
            .and_then(|http| listener_url(&http.listen));
        let Some(api) = configured.or_else(|| crate::store::announced_api(&path)) else {
            return Ok(None);
        };
        let Ok(token) = std::env::var(TOKEN_ENV) else {
            bail!(
                "the store {} is held by a running gateway, whose HTTP API is at {api}: put its \
                 admin token in {TOKEN_ENV} (or pass --api {api} --token TOKEN)",
                path.display()
            );
        };
        eprintln!("the gateway is running: asking its HTTP API at {api}");
        Self::of(&ApiArgs {
            api: Some(api),
            token: Some(token),
        })
    }

    /// `GET path` as JSON.
    ///
    /// # Errors
    /// No answer, or an error answer (its message).
    pub fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, query)
    }

    /// `POST path` (no body) as JSON.
    ///
    /// # Errors
    /// No answer, or an error answer (its message).
    pub fn post(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, query)
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let request = self
            .client
            .request(method.clone(), &url)
            .query(query)
            .bearer_auth(&self.token);
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .with_context(|| format!("{method} {url}: is the gateway running there?"))?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .with_context(|| format!("{method} {url}: reading the answer"))?;
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if !status.is_success() {
                let message = body["message"].as_str().map_or_else(
                    || String::from_utf8_lossy(&bytes).into_owned(),
                    str::to_owned,
                );
                bail!("{method} {url}: {status}: {message}");
            }
            Ok(body)
        })
    }
}

/// Percent-encodes one path segment.
#[must_use]
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The URL to reach an `[http] listen` address at: an unspecified address is asked on
/// loopback; `None` for a port picked at start (only the gateway's output names it).
fn listener_url(listen: &str) -> Option<String> {
    let listen: std::net::SocketAddr = listen.parse().ok()?;
    if listen.port() == 0 {
        return None;
    }
    let ip = match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    Some(format!(
        "http://{}",
        std::net::SocketAddr::new(ip, listen.port())
    ))
}
