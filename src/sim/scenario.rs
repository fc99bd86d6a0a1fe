//! Scenario files: the `sim` flags as TOML keys (same names, without the dashes in
//! front), e.g.
//!
//! ```toml
//! listen = "127.0.0.1:0"
//! error-rate = "ESME_RTHROTTLED=10,0x14=2"
//! tps = 200
//! receipt-delay-ms = "100-2000"
//! receipt-states = "DELIVRD=90,UNDELIV=5,EXPIRED=3,REJECTD=2"
//! receipt-before-resp = true
//! account = ["alice:secret", "bob:hunter2"]
//! ```
//!
//! Flags given on the command line override the file; an unknown key is an error naming
//! it.

use std::time::Duration;

use serde::Deserialize;
use smppgate_protocol::command_status::CommandStatus;

use super::faults::{self, ReceiptBind, ReceiptFormat, ReceiptIdStyle};
use super::{IdFormat, SimConfig};

/// A scalar from a file or a flag.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Str(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Str(s) => f.write_str(s),
        }
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

macro_rules! scenario {
    ($($field:ident),* $(,)?) => {
        /// Every setting of `smppgate sim`, each optional.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct Scenario {
            $(
                #[doc = concat!("`", stringify!($field), "`")]
                pub $field: Option<Value>,
            )*
            /// `account`: `SYSTEM_ID:PASSWORD`, repeatable.
            #[serde(default)]
            pub account: Vec<String>,
        }

        impl Scenario {
            /// `self` where set, else `base`.
            #[must_use]
            pub fn over(self, base: Self) -> Self {
                Self {
                    $($field: self.$field.or(base.$field),)*
                    account: if self.account.is_empty() { base.account } else { self.account },
                }
            }
        }
    };
}

scenario!(
    listen,
    system_id,
    password,
    receipt_delay_ms,
    id_format,
    id_len,
    max_connections,
    window,
    error_rate,
    tps,
    throttle_status,
    receipt_id_style,
    receipt_format,
    receipt_states,
    receipt_bind,
    receipt_before_resp,
    resp_delay_ms,
    drop_after,
    silent_after,
    disconnect_rate,
    reject_bind_after,
    max_binds,
    max_binds_status,
    mo_rate,
    stats_interval,
    metrics,
);

/// Settings outside the simulator proper (the CLI's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reporting {
    /// Print the counters every so often.
    pub stats_interval: Option<Duration>,
    /// Serve Prometheus metrics here.
    pub metrics: Option<String>,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.map(ToString::to_string)
}

fn number<T: std::str::FromStr>(key: &str, v: Option<&Value>) -> Result<Option<T>, String> {
    text(v)
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("{key}: expected a number, got {s:?}"))
        })
        .transpose()
}

fn with_key<T>(key: &str, r: Result<T, String>) -> Result<T, String> {
    r.map_err(|e| format!("{key}: {e}"))
}

impl Scenario {
    /// Reads a TOML file.
    ///
    /// # Errors
    /// Unreadable, not TOML, or an unknown key (named in the message).
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("scenario {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("scenario {}: {e}", path.display()))
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// Not TOML, or an unknown key (named in the message).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The simulator settings and the reporting ones.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn to_config(&self) -> Result<(SimConfig, Reporting), String> {
        let mut c = SimConfig::default();
        let f = &mut c.faults;
        if let Some(v) = text(self.listen.as_ref()) {
            c.listen = v;
        }
        c.system_id = text(self.system_id.as_ref());
        c.password = text(self.password.as_ref());
        if let Some(v) = text(self.receipt_delay_ms.as_ref()) {
            let range = with_key("receipt-delay-ms", faults::parse_delay(&v))?;
            c.receipt_delay = range.min;
            f.receipt_delay_max = (range.max > range.min).then_some(range.max);
        }
        if let Some(v) = text(self.id_format.as_ref()) {
            c.id_format = match v.as_str() {
                "hex" => IdFormat::Hex,
                "dec" => IdFormat::Dec,
                "uuid" => IdFormat::Uuid,
                _ => return Err(format!("id-format: {v:?} is not hex, dec or uuid")),
            };
        }
        if let Some(v) = number("id-len", self.id_len.as_ref())? {
            f.id_len = v;
        }
        if let Some(v) = number("max-connections", self.max_connections.as_ref())? {
            c.server.max_connections = v;
        }
        if let Some(v) = number("window", self.window.as_ref())? {
            c.server.conn.session.window_size = v;
        }
        if let Some(v) = text(self.error_rate.as_ref()) {
            f.error_rate = with_key("error-rate", faults::parse_error_rate(&v))?;
        }
        f.tps = number("tps", self.tps.as_ref())?;
        if let Some(v) = text(self.throttle_status.as_ref()) {
            f.throttle_status = with_key(
                "throttle-status",
                CommandStatus::parse(&v).ok_or_else(|| faults::unknown_status(&v)),
            )?;
        }
        if let Some(v) = text(self.receipt_id_style.as_ref()) {
            f.receipt_id_style = match v.as_str() {
                "same" => ReceiptIdStyle::Same,
                "dec-in-text-hex-in-tlv" => ReceiptIdStyle::DecInTextHexInTlv,
                "hex-in-text-dec-in-tlv" => ReceiptIdStyle::HexInTextDecInTlv,
                _ => return Err(format!("receipt-id-style: unknown {v:?}")),
            };
        }
        if let Some(v) = text(self.receipt_format.as_ref()) {
            f.receipt_format = match v.as_str() {
                "text" => ReceiptFormat::Text,
                "tlv" => ReceiptFormat::Tlv,
                "both" => ReceiptFormat::Both,
                _ => return Err(format!("receipt-format: {v:?} is not text, tlv or both")),
            };
        }
        if let Some(v) = text(self.receipt_states.as_ref()) {
            f.receipt_states = with_key("receipt-states", faults::parse_states(&v))?;
        }
        if let Some(v) = text(self.receipt_bind.as_ref()) {
            f.receipt_bind = match v.as_str() {
                "any" => ReceiptBind::Any,
                "same" => ReceiptBind::Same,
                "other" => ReceiptBind::Other,
                _ => return Err(format!("receipt-bind: {v:?} is not any, same or other")),
            };
        }
        match &self.receipt_before_resp {
            None => {}
            Some(Value::Bool(b)) => f.receipt_before_resp = *b,
            Some(v) => return Err(format!("receipt-before-resp: expected true/false, got {v}")),
        }
        if let Some(v) = text(self.resp_delay_ms.as_ref()) {
            f.resp_delay = with_key("resp-delay-ms", faults::parse_delay(&v))?;
        }
        f.drop_after = number("drop-after", self.drop_after.as_ref())?;
        f.silent_after = number("silent-after", self.silent_after.as_ref())?;
        if let Some(v) = text(self.disconnect_rate.as_ref()) {
            f.disconnect_rate = Some(with_key("disconnect-rate", faults::parse_percent(&v, 1e6))?);
        }
        f.reject_bind_after = number("reject-bind-after", self.reject_bind_after.as_ref())?;
        f.max_binds = number("max-binds", self.max_binds.as_ref())?;
        if let Some(v) = text(self.max_binds_status.as_ref()) {
            f.max_binds_status = with_key(
                "max-binds-status",
                CommandStatus::parse(&v).ok_or_else(|| faults::unknown_status(&v)),
            )?;
        }
        if let Some(v) = text(self.mo_rate.as_ref()) {
            f.mo_rate = Some(with_key("mo-rate", faults::parse_rate(&v))?);
        }
        f.accounts = self
            .account
            .iter()
            .map(|a| faults::parse_account(a))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("account: {e}"))?;
        let stats_interval = number::<f64>("stats-interval", self.stats_interval.as_ref())?
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64);
        let reporting = Reporting {
            stats_interval,
            metrics: text(self.metrics.as_ref()),
        };
        Ok((c, reporting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let err = Scenario::from_toml("tps = 5\nerror-ratio = \"x\"\n").unwrap_err();
        assert!(err.contains("error-ratio"), "{err}");
    }

    #[test]
    fn flags_override_the_file() {
        let file = Scenario::from_toml(
            "tps = 5\nreceipt-delay-ms = \"10-20\"\naccount = [\"a:b\"]\nreceipt-before-resp = true\n",
        )
        .unwrap();
        let flags = Scenario {
            tps: Some(Value::Str("7".to_owned())),
            ..Scenario::default()
        };
        let (config, _) = flags.over(file).to_config().unwrap();
        assert_eq!(config.faults.tps, Some(7));
        assert_eq!(config.receipt_delay, Duration::from_millis(10));
        assert_eq!(
            config.faults.receipt_delay_max,
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            config.faults.accounts,
            vec![("a".to_owned(), "b".to_owned())]
        );
        assert!(config.faults.receipt_before_resp);
    }
}
