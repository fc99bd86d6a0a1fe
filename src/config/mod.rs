//! The configuration file (TOML, one family for `serve`, `send --config` and
//! `check-config`): upstream listener, accounts, carriers, routes, store, metrics.
//!
//! Parsing is strict (`deny_unknown_fields`); [`Config::load`] parses and then validates,
//! and every problem is a [`Problem`] naming the file, the line, the field and what to
//! write instead.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod checks;
mod china;
mod duration;
mod http;
mod policy;
mod policy_checks;
mod sections;
mod spans;
pub mod validate;

pub use checks::{DATA_CODINGS, MAX_WINDOW};
pub use china::{CarrierProtocol, MsgFmt, sgip_fee_type};
pub use policy::{
    CapConfig, OptOutScope, OptOutTextMode, PolicyConfig, QuietHours, RejectWith, RuleStatuses,
    SensitiveAction, TimeOfDay, UtcOffset, default_opt_in_keywords, default_opt_out_keywords,
};
pub use policy_checks::{MAX_CAP, MAX_CAP_WINDOW};

pub use validate::{ConfigError, Problem};

// `[cluster]` (docs/cluster.md).
mod cluster;
pub use cluster::{ClusterConfig, MAX_NODES};

pub use http::{HttpConfig, WebhookMode, parse_byte_size, parse_sha256};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The upstream listener (applications bind here).
    #[serde(default)]
    pub server: ServerConfig,
    /// The embedded store.
    #[serde(default)]
    pub store: StoreConfig,
    /// The Prometheus endpoint (off when absent).
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// Number normalisation.
    #[serde(default)]
    pub numbers: NumbersConfig,
    /// Receipt matching and MO reassembly.
    #[serde(default)]
    pub receipts: ReceiptsConfig,
    /// Upstream accounts.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountConfig>,
    /// Carrier links.
    #[serde(default, rename = "carrier")]
    pub carriers: Vec<CarrierConfig>,
    /// Routes: destination prefixes to carriers.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// The HTTP submit API (off when absent).
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// Market rules (`[[policy]]`), named by accounts.
    #[serde(default, rename = "policy")]
    pub policies: Vec<PolicyConfig>,
    /// The replicated backend on NATS JetStream (one node on the embedded store when
    /// absent).
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
}

/// The upstream listener.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// TLS certificate and key (PEM files); plain TCP when absent.
    pub tls: Option<TlsFiles>,
    /// Most connections at once.
    pub max_connections: usize,
    /// A connection that has not bound within this time is closed; a bound one that sends
    /// nothing (not even enquire_link) for this long too.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Bind failures from one IP address within `lockout_window` that lock it out.
    pub lockout_failures: u32,
    /// The window in which failures are counted.
    #[serde(with = "duration")]
    pub lockout_window: Duration,
    /// How long a locked-out address is refused.
    #[serde(with = "duration")]
    pub lockout_duration: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:2775".to_owned(),
            tls: None,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(90),
            lockout_failures: 10,
            lockout_window: Duration::from_secs(60),
            lockout_duration: Duration::from_secs(300),
        }
    }
}

/// PEM files for TLS.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// The embedded store.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory of the store (created when missing).
    pub path: PathBuf,
    /// Final (delivered, failed, expired) messages are removed after this long.
    #[serde(with = "duration")]
    pub retention: Duration,
    /// A message with no final state after this long is expired.
    #[serde(with = "duration")]
    pub validity: Duration,
    /// Most messages in one commit (group commit).
    pub max_batch: usize,
    /// Most messages one account may have acknowledged that no carrier has taken yet
    /// (the durable backlog, kept in the store); past it submits are answered
    /// ESME_RMSGQFUL.
    pub max_pending: u64,
    /// fsync each commit (turn off only for benchmarks: an acknowledged message may then
    /// be lost on power failure).
    pub fsync: bool,
    /// Delivery statistics (`smppgate stats`) are kept per day this long.
    #[serde(with = "duration")]
    pub stats_retention: Duration,
    /// ... and per hour this long (`--by hour`); older hours live on in their day's row.
    #[serde(with = "duration")]
    pub stats_hour_retention: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("./data"),
            retention: Duration::from_secs(7 * 24 * 3600),
            validity: Duration::from_secs(72 * 3600),
            max_batch: 4096,
            max_pending: 1_000_000,
            fsync: true,
            stats_retention: Duration::from_secs(400 * 24 * 3600),
            stats_hour_retention: Duration::from_secs(35 * 24 * 3600),
        }
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` serving `/metrics`.
    pub listen: String,
}

/// Receipt matching.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptsConfig {
    /// How long a receipt that matches no message waits for its submit_sm_resp (it may
    /// arrive first); after that it is counted unmatched and kept for
    /// `smppgate receipt unmatched`.
    #[serde(with = "duration")]
    pub early_ttl: Duration,
    /// How long the parts of a multipart MO message may take to arrive; after that what
    /// arrived goes to the account, incomplete.
    #[serde(with = "duration")]
    pub mo_reassembly_ttl: Duration,
    /// Error statuses an account may answer to one outbox item (receipt or MO) before the
    /// item is parked (`smppgate receipts parked`, `smppgate receipts replay`). Throttling
    /// (`ESME_RTHROTTLED`, `ESME_RMSGQFUL`) pauses the queue and does not count;
    /// `ESME_RX_P_APPN` / `ESME_RX_R_APPN` park at once; twice this many sends without a
    /// usable answer park too.
    pub outbox_max_attempts: u32,
    /// The wait before an outbox item an account refused goes again; it doubles with each
    /// refusal, up to `outbox_retry_max`.
    #[serde(with = "duration")]
    pub outbox_retry_initial: Duration,
    /// The longest wait between two tries of a refused outbox item.
    #[serde(with = "duration")]
    pub outbox_retry_max: Duration,
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        Self {
            early_ttl: Duration::from_secs(120),
            mo_reassembly_ttl: Duration::from_secs(300),
            outbox_max_attempts: 5,
            outbox_retry_initial: Duration::from_secs(1),
            outbox_retry_max: Duration::from_secs(60),
        }
    }
}

/// Number normalisation.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NumbersConfig {
    /// Country code added to national numbers (`138…` → `86138…`).
    pub default_country: String,
}

impl Default for NumbersConfig {
    fn default() -> Self {
        Self {
            default_country: "86".to_owned(),
        }
    }
}

/// A message's traffic class: the pool sends OTP first, then notifications, then
/// marketing.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// One-time passwords: never wait behind a campaign.
    Otp,
    /// Transactional notifications.
    #[default]
    Notification,
    /// Campaigns.
    Marketing,
}

impl Class {
    /// All classes, highest priority first.
    pub const ALL: [Self; 3] = [Self::Otp, Self::Notification, Self::Marketing];

    /// Lower-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Otp => "otp",
            Self::Notification => "notification",
            Self::Marketing => "marketing",
        }
    }

    /// 0 for OTP, 1 for notification, 2 for marketing.
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// From a service_type or name (`otp`, `notification`/`notify`, `marketing`/`mkt`),
    /// case-insensitive.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "otp" => Some(Self::Otp),
            "notification" | "notify" | "ntf" => Some(Self::Notification),
            "marketing" | "mkt" => Some(Self::Marketing),
            _ => None,
        }
    }
}

/// How message ids are written.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IdStyle {
    /// Lower-case hexadecimal.
    #[default]
    Hex,
    /// Decimal.
    Dec,
    /// Either (receipt matching tries both).
    Auto,
}

/// When an upstream gets receipts of a multipart message.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptMode {
    /// One receipt when every part is final, the worst state winning.
    #[default]
    PerMessage,
    /// One receipt per part.
    PerPart,
    /// One receipt, at the first part's final state.
    FirstFinal,
    /// One receipt, at the last part's final state.
    LastFinal,
}

/// The status an upstream gets when its window is full.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WindowFullStatus {
    /// ESME_RMSGQFUL.
    #[default]
    MsgQFull,
    /// ESME_RTHROTTLED.
    Throttled,
}

/// An upstream account.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The system_id it binds with.
    pub system_id: String,
    /// Argon2 PHC hash of the password (`smppgate hash-password`).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The password in clear (demo and tests only; a warning says so).
    #[serde(default)]
    pub password: Option<String>,
    /// Source addresses allowed (`10.0.0.0/8`, `192.0.2.7`); empty: any.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// Most binds at once.
    #[serde(default = "default_max_binds")]
    pub max_binds: usize,
    /// Most outstanding requests per bind.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Submits per second, all binds together (0: unlimited).
    #[serde(default)]
    pub tps: u32,
    /// Sender ids (source_addr) allowed; empty: any.
    #[serde(default)]
    pub sender_ids: Vec<String>,
    /// Class of its messages unless service_type names one.
    #[serde(default)]
    pub class: Class,
    /// Route for all its messages (instead of routing by prefix).
    #[serde(default)]
    pub route: Option<String>,
    /// How our message ids are written to it.
    #[serde(default)]
    pub id_style: IdStyle,
    /// Receipts of multipart messages.
    #[serde(default)]
    pub receipts: ReceiptMode,
    /// Send an EXPIRED receipt when a message's validity runs out.
    #[serde(default = "default_true")]
    pub expired_receipts: bool,
    /// Status for a full window.
    #[serde(default)]
    pub window_full_status: WindowFullStatus,
    /// Numbers (short codes, long numbers) whose mobile-originated messages go to it.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// `sha256:<64 hex digits>` of each HTTP API key (`smppgate api-key new --account`).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Receipts and MO messages go here as signed JSON POSTs, when set.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the webhook signature (required with `webhook_url`).
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// The webhook only, or the webhook and the SMPP binds.
    #[serde(default)]
    pub webhook_mode: WebhookMode,
    /// The `[[policy]]` its messages pass; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Signatures (`【示例商城】`) its texts may begin or end with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<String>,
}

/// How a carrier link binds.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CarrierBind {
    /// Transceiver binds.
    #[default]
    Transceiver,
    /// A transmitter and a receiver per bind slot.
    TransmitterReceiver,
    /// Transmitters only (receipts come some other way).
    Transmitter,
}

/// Reaction to ESME_RTHROTTLED / ESME_RMSGQFUL.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleBackoff {
    /// First pause.
    #[serde(with = "duration")]
    pub initial: Duration,
    /// Longest pause.
    #[serde(with = "duration")]
    pub max: Duration,
    /// Rate multiplied by this on each throttle (1.0: pause only).
    pub rate_decrease: f64,
    /// Rate added back per second without a throttle, as a fraction of `tps` (AIMD).
    pub rate_increase: f64,
}

impl Default for ThrottleBackoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
            rate_decrease: 0.5,
            rate_increase: 0.1,
        }
    }
}

/// Retries of transient failures.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts on one carrier before failing over (1: no retry).
    pub max_attempts: u32,
    /// First backoff (doubles each attempt, with jitter).
    #[serde(with = "duration")]
    pub backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// A carrier link: a pool of binds to one SMSC.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CarrierConfig {
    /// Unique name (metrics, logs, routes).
    pub name: String,
    /// `host:port` of the SMSC. `sim` starts a built-in simulated carrier in-process
    /// (demo and tests).
    pub address: String,
    /// Bind credentials.
    #[serde(default)]
    pub system_id: String,
    /// Bind credentials.
    #[serde(default)]
    pub password: String,
    /// Bind system_type.
    #[serde(default)]
    pub system_type: String,
    /// How it binds.
    #[serde(default)]
    pub bind: CarrierBind,
    /// Binds kept open.
    #[serde(default = "default_binds")]
    pub binds: usize,
    /// Outstanding requests per bind.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Contracted submits per second, all binds together.
    pub tps: u32,
    /// TLS to the SMSC.
    #[serde(default)]
    pub tls: bool,
    /// enquire_link interval.
    #[serde(default = "default_enquire_link", with = "duration")]
    pub enquire_link_interval: Duration,
    /// How long a submit may wait for its response.
    #[serde(default = "default_response_timeout", with = "duration")]
    pub response_timeout: Duration,
    /// What data_coding 0 means on this link (`gsm7`, `latin1`, `ascii`).
    #[serde(default = "default_coding")]
    pub data_coding_default: String,
    /// How its message ids are written (receipt matching).
    #[serde(default = "default_auto")]
    pub message_id_style: IdStyle,
    /// Ask this carrier for a delivery receipt on every part, whatever the client asked
    /// (a client that asked for none gets none: the receipt only settles the message, for
    /// its state, `messages show`, `GET /v1/messages/{id}` and the delivery statistics).
    /// `false`: the client's `registered_delivery` goes to the carrier as it is.
    #[serde(default = "default_true")]
    pub request_receipts: bool,
    /// Reaction to throttling.
    #[serde(default)]
    pub throttle_backoff: ThrottleBackoff,
    /// Retries.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Statuses (names like `ESME_RSYSERR` or numbers like `0x58`) treated as transient
    /// on this carrier, added to the built-in table.
    #[serde(default)]
    pub transient_statuses: Vec<String>,
    /// Statuses treated as permanent on this carrier, overriding the built-in table.
    #[serde(default)]
    pub permanent_statuses: Vec<String>,
    /// A message throttled here (ESME_RTHROTTLED / ESME_RMSGQFUL) longer than this
    /// since its first attempt here goes to the route's next carrier, if it has one.
    #[serde(default = "default_failover_after", with = "duration")]
    pub failover_after: Duration,
    /// `failover_after` for some classes (`{ otp = "3s" }`).
    #[serde(default)]
    pub failover_after_by_class: FailoverByClass,
    /// The protocol the carrier speaks: `smpp` (default), `cmpp2`, `cmpp3`, `smgp`
    /// or `sgip`. For the others `system_id` is the login name (CMPP Source_Addr, SMGP
    /// ClientID, SGIP Login Name) and `password` the shared secret.
    #[serde(default)]
    pub protocol: CarrierProtocol,
    /// CMPP Service_Id / SMGP ServiceID (empty by default).
    #[serde(default)]
    pub service_id: String,
    /// CMPP Src_Id / SMGP SrcTermID: the SP access number. Default: the upstream source
    /// address; when set, an upstream source that starts with it (the access number
    /// plus an extension) is kept, any other is replaced by it.
    #[serde(default)]
    pub src_id: String,
    /// CMPP FeeType / SMGP FeeType (default "01", free).
    #[serde(default = "china::default_fee_type")]
    pub fee_type: String,
    /// CMPP FeeCode / SMGP FeeCode, in fen (default "000000").
    #[serde(default = "china::default_fee_code")]
    pub fee_code: String,
    /// CMPP Fee_UserType (default 2, the SP pays).
    #[serde(default = "china::default_fee_user_type")]
    pub fee_user_type: u8,
    /// How text that is not ASCII is sent: `ucs2` (Msg_Fmt 8, default) or `gbk` (15).
    #[serde(default)]
    pub msg_fmt: MsgFmt,
    /// SGIP: the SP's node id, the first word of every sequence triple (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u32>,
    /// SGIP: where the carrier connects back with reports and MO (`IP:port`, required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_listen: Option<String>,
    /// SGIP: the Login Name the SMG binds to `report_listen` with (default `system_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_system_id: Option<String>,
    /// SGIP: the Login Password of that Bind (default `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_password: Option<String>,
}

impl CarrierConfig {
    /// A carrier with every optional field at its default (`protocol = "smpp"`); struct
    /// literals in code end with `..CarrierConfig::smpp_defaults()` so that a new field
    /// does not touch them.
    #[must_use]
    pub fn smpp_defaults() -> Self {
        Self {
            name: String::new(),
            address: String::new(),
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            bind: CarrierBind::default(),
            binds: default_binds(),
            window: default_window(),
            tps: 1,
            tls: false,
            enquire_link_interval: default_enquire_link(),
            response_timeout: default_response_timeout(),
            data_coding_default: default_coding(),
            message_id_style: default_auto(),
            request_receipts: true,
            throttle_backoff: ThrottleBackoff::default(),
            retry: RetryConfig::default(),
            transient_statuses: Vec::new(),
            permanent_statuses: Vec::new(),
            failover_after: default_failover_after(),
            failover_after_by_class: FailoverByClass::default(),
            protocol: CarrierProtocol::Smpp,
            service_id: String::new(),
            src_id: String::new(),
            fee_type: china::default_fee_type(),
            fee_code: china::default_fee_code(),
            fee_user_type: china::default_fee_user_type(),
            msg_fmt: MsgFmt::default(),
            node_id: None,
            report_listen: None,
            report_system_id: None,
            report_password: None,
        }
    }

    /// How long a message of `class` may stay throttled on this carrier before it fails
    /// over.
    #[must_use]
    pub fn failover_after(&self, class: Class) -> Duration {
        self.failover_after_by_class
            .get(class)
            .unwrap_or(self.failover_after)
    }
}

/// Per-class overrides of a carrier's `failover_after`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FailoverByClass {
    /// For OTP.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub otp: Option<Duration>,
    /// For notifications.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub notification: Option<Duration>,
    /// For marketing.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub marketing: Option<Duration>,
}

impl FailoverByClass {
    /// The override for `class`, if one is set.
    #[must_use]
    pub const fn get(&self, class: Class) -> Option<Duration> {
        match class {
            Class::Otp => self.otp,
            Class::Notification => self.notification,
            Class::Marketing => self.marketing,
        }
    }
}

/// A route: destinations (by prefix or operator) to carriers, in order of preference.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Unique name.
    pub name: String,
    /// E.164 prefixes without `+` (`86138`).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Built-in prefix sets: `china-mobile`, `china-unicom`, `china-telecom`.
    #[serde(default)]
    pub operators: Vec<String>,
    /// Catch-all: destinations no other route matches.
    #[serde(default)]
    pub default: bool,
    /// Carriers, first preferred; the next ones are backups.
    pub carriers: Vec<String>,
    /// Messages per class held in memory, ready for the carriers' windows (the rest of
    /// the backlog waits in the store and is read back as room frees up).
    #[serde(default = "default_route_queue")]
    pub queue: usize,
}

const fn default_route_queue() -> usize {
    10_000
}
const fn default_max_binds() -> usize {
    4
}
const fn default_window() -> usize {
    64
}
const fn default_binds() -> usize {
    1
}
const fn default_true() -> bool {
    true
}
const fn default_enquire_link() -> Duration {
    Duration::from_secs(30)
}
const fn default_response_timeout() -> Duration {
    Duration::from_secs(30)
}
const fn default_failover_after() -> Duration {
    Duration::from_secs(30)
}
fn default_coding() -> String {
    "gsm7".to_owned()
}
const fn default_auto() -> IdStyle {
    IdStyle::Auto
}

impl Config {
    /// The demo configuration of `smppgate serve` without a file: one account
    /// `demo`/`demo`, one route to a built-in simulated carrier, store under `./data`.
    #[must_use]
    pub fn demo() -> Self {
        Self {
            accounts: vec![AccountConfig {
                system_id: "demo".to_owned(),
                password_hash: None,
                password: Some("demo".to_owned()),
                allowed_ips: Vec::new(),
                max_binds: 8,
                window: 256,
                tps: 0,
                sender_ids: Vec::new(),
                class: Class::Notification,
                route: None,
                id_style: IdStyle::Hex,
                receipts: ReceiptMode::PerMessage,
                expired_receipts: true,
                window_full_status: WindowFullStatus::MsgQFull,
                numbers: vec!["10690000".to_owned()],
                api_keys: Vec::new(),
                webhook_url: None,
                webhook_secret: None,
                webhook_mode: WebhookMode::Webhook,
                policy: None,
                signatures: Vec::new(),
            }],
            carriers: vec![CarrierConfig {
                name: "sim".to_owned(),
                address: "sim".to_owned(),
                system_id: "smppgate".to_owned(),
                password: "sim".to_owned(),
                system_type: String::new(),
                bind: CarrierBind::Transceiver,
                binds: 4,
                window: 64,
                tps: 100_000,
                tls: false,
                enquire_link_interval: default_enquire_link(),
                response_timeout: default_response_timeout(),
                data_coding_default: default_coding(),
                message_id_style: IdStyle::Auto,
                throttle_backoff: ThrottleBackoff::default(),
                retry: RetryConfig::default(),
                transient_statuses: Vec::new(),
                permanent_statuses: Vec::new(),
                failover_after: default_failover_after(),
                failover_after_by_class: FailoverByClass::default(),
                ..CarrierConfig::smpp_defaults()
            }],
            routes: vec![RouteConfig {
                name: "default".to_owned(),
                prefixes: Vec::new(),
                operators: Vec::new(),
                default: true,
                carriers: vec!["sim".to_owned()],
                queue: default_route_queue(),
            }],
            ..Self::default()
        }
    }
}

impl Config {
    /// The `[[policy]]` named `name`.
    #[must_use]
    pub fn policy(&self, name: &str) -> Option<&PolicyConfig> {
        self.policies.iter().find(|policy| policy.name == name)
    }
}

impl RouteConfig {
    /// Its prefixes: the listed ones plus those of its named operators (unknown operator
    /// names are a validation error, skipped here).
    #[must_use]
    pub fn all_prefixes(&self) -> Vec<String> {
        let mut all = self.prefixes.clone();
        for name in &self.operators {
            if let Some(prefixes) = crate::numbers::operator_prefixes(name) {
                all.extend(prefixes.iter().map(|p| (*p).to_owned()));
            }
        }
        all
    }
}
