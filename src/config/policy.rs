//! `[[policy]]`: the market rules of issue #15 (opt-out, blacklists, quiet hours, caps,
//! content, signature and opt-out text), one named set per policy; an account names the
//! one its messages pass (`policy = "cn-marketing"`).
//!
//! Files (`blacklists`, `sensitive_words`) written as relative paths are relative to the
//! directory of the configuration file, so a configuration and its lists move together;
//! [`Config::parse`](super::Config::parse) resolves them once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Class, duration};

/// One `[[policy]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Unique name; accounts refer to it.
    pub name: String,
    /// Whole MO texts that opt the sender out (matched case-, width- and
    /// punctuation-insensitively).
    #[serde(default = "default_opt_out_keywords")]
    pub opt_out_keywords: Vec<String>,
    /// Whole MO texts that undo an opt-out.
    #[serde(default = "default_opt_in_keywords")]
    pub opt_in_keywords: Vec<String>,
    /// Whose messages an opted-out number stops getting.
    #[serde(default)]
    pub opt_out_scope: OptOutScope,
    /// Classes an opt-out blocks.
    #[serde(default = "marketing_only")]
    pub opt_out_classes: Vec<Class>,
    /// Blacklist files: one number per line, `#` comments.
    #[serde(default)]
    pub blacklists: Vec<PathBuf>,
    /// Classes the blacklist applies to.
    #[serde(default = "all_classes")]
    pub blacklist_classes: Vec<Class>,
    /// Quiet hours in the recipient's local time: messages are deferred, not refused.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Frequency caps per (account, number).
    #[serde(default)]
    pub caps: Vec<CapConfig>,
    /// Sensitive word list: one word or phrase per line.
    #[serde(default)]
    pub sensitive_words: Option<PathBuf>,
    /// What a message with a sensitive word gets.
    #[serde(default)]
    pub sensitive_action: SensitiveAction,
    /// The text must begin or end with one of the account's `signatures`.
    #[serde(default)]
    pub require_signature: bool,
    /// Classes the signature rule applies to.
    #[serde(default = "all_classes")]
    pub signature_classes: Vec<Class>,
    /// Marketing must contain one of these.
    #[serde(default)]
    pub marketing_opt_out_text: Vec<String>,
    /// `require`: refuse marketing without an opt-out text; `append`: add the first one.
    #[serde(default)]
    pub marketing_opt_out_mode: OptOutTextMode,
    /// How a refusal is answered.
    #[serde(default)]
    pub reject_with: RejectWith,
    /// Standard statuses instead of the vendor ones, per rule
    /// (`{ blacklist = "ESME_RINVDSTADR", cap = "ESME_RTHROTTLED" }`).
    #[serde(default)]
    pub statuses: RuleStatuses,
}

/// Whose messages an opt-out stops.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum OptOutScope {
    /// The account's.
    #[default]
    Account,
    /// The sender id's (source_addr).
    Sender,
    /// Everyone's.
    Global,
}

/// `sensitive_action`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SensitiveAction {
    /// Refuse.
    #[default]
    Reject,
    /// Keep for review (`smppgate review`): not available yet; `check-config` refuses it.
    Hold,
}

/// `marketing_opt_out_mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OptOutTextMode {
    /// Refuse marketing without one of the texts.
    #[default]
    Require,
    /// Append the first text when none is there.
    Append,
}

/// `reject_with`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RejectWith {
    /// submit_sm_resp carries the rule's status.
    #[default]
    Status,
    /// ESME_ROK, then a `stat:REJECTD` receipt.
    Receipt,
}

/// `quiet_hours = { classes = ["marketing"], from = "21:00", to = "08:00" }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Classes deferred during the window (OTP only if listed).
    #[serde(default = "marketing_only")]
    pub classes: Vec<Class>,
    /// Start of the window, recipient's local time.
    pub from: TimeOfDay,
    /// End of the window (the window crosses midnight when `to` ≤ `from`).
    pub to: TimeOfDay,
    /// UTC offsets by country calling code, over the built-in table
    /// (`{ "1" = "-05:00", "7" = "+03:00" }`).
    #[serde(default)]
    pub utc_offsets: BTreeMap<String, UtcOffset>,
}

/// One cap: at most `max` messages of `classes` per `per` to a number from an account,
/// and (optionally) none within `min_gap` of the previous one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    /// Classes counted (together).
    pub classes: Vec<Class>,
    /// Most messages in the window.
    pub max: u32,
    /// The sliding window.
    #[serde(with = "duration")]
    pub per: Duration,
    /// Least time between two messages.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_gap: Option<Duration>,
}

/// Per-rule status overrides (names like `ESME_RINVDSTADR` or numbers like `0x58`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleStatuses {
    /// Instead of 0x400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<String>,
    /// Instead of 0x401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blacklist: Option<String>,
    /// Instead of 0x402.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
    /// Instead of 0x403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Instead of 0x404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Instead of 0x405.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_text: Option<String>,
}

impl RuleStatuses {
    /// `(key, value)` of each override written.
    #[must_use]
    pub fn written(&self) -> Vec<(&'static str, &str)> {
        [
            ("opt_out", &self.opt_out),
            ("blacklist", &self.blacklist),
            ("cap", &self.cap),
            ("content", &self.content),
            ("signature", &self.signature),
            ("opt_out_text", &self.opt_out_text),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|value| (key, value)))
        .collect()
    }
}

/// A time of day, `"HH:MM"` (00:00 to 23:59; `"24:00"` is midnight at the end of a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    /// Minutes since midnight, 0 to 1440.
    pub minutes: u16,
}

impl TimeOfDay {
    /// From `"HH:MM"`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (hours, minutes) = text.trim().split_once(':')?;
        if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
            return None;
        }
        let hours: u16 = hours.parse().ok()?;
        let minutes: u16 = minutes.parse().ok()?;
        let total = hours * 60 + minutes;
        (minutes < 60 && total <= 24 * 60).then_some(Self { minutes: total })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a time of day; write \"HH:MM\" in 24-hour time, e.g. \"21:00\""
            ))
        })
    }
}

/// A UTC offset, `"+08:00"`, `"-05:00"`, `"+05:30"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset {
    /// Minutes east of UTC (-12:00 to +14:00).
    pub minutes: i16,
}

impl UtcOffset {
    /// From `"+HH:MM"` / `"-HH:MM"`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let time = TimeOfDay::parse(rest)?;
        let minutes = sign * i16::try_from(time.minutes).ok()?;
        (-12 * 60..=14 * 60)
            .contains(&minutes)
            .then_some(Self { minutes })
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let abs = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
    }
}

impl Serialize for UtcOffset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcOffset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a UTC offset; write \"+HH:MM\" or \"-HH:MM\" between \
                 -12:00 and +14:00, e.g. \"+08:00\""
            ))
        })
    }
}

/// The default opt-out keywords (issue #15).
#[must_use]
pub fn default_opt_out_keywords() -> Vec<String> {
    ["TD", "T", "N", "R", "退订", "STOP", "UNSUBSCRIBE"]
        .map(str::to_owned)
        .to_vec()
}

/// The default opt-in keywords.
#[must_use]
pub fn default_opt_in_keywords() -> Vec<String> {
    ["订阅", "START"].map(str::to_owned).to_vec()
}

fn marketing_only() -> Vec<Class> {
    vec![Class::Marketing]
}

fn all_classes() -> Vec<Class> {
    Class::ALL.to_vec()
}

impl PolicyConfig {
    /// A policy with this name and every rule off (the defaults of an empty `[[policy]]`).
    #[must_use]
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            opt_out_keywords: default_opt_out_keywords(),
            opt_in_keywords: default_opt_in_keywords(),
            opt_out_scope: OptOutScope::default(),
            opt_out_classes: marketing_only(),
            blacklists: Vec::new(),
            blacklist_classes: all_classes(),
            quiet_hours: None,
            caps: Vec::new(),
            sensitive_words: None,
            sensitive_action: SensitiveAction::default(),
            require_signature: false,
            signature_classes: all_classes(),
            marketing_opt_out_text: Vec::new(),
            marketing_opt_out_mode: OptOutTextMode::default(),
            reject_with: RejectWith::default(),
            statuses: RuleStatuses::default(),
        }
    }

    /// Makes relative file names relative to `dir` (the configuration file's directory).
    pub(super) fn resolve_files(&mut self, dir: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() && !path.as_os_str().is_empty() {
                *path = dir.join(&*path);
            }
        };
        self.blacklists.iter_mut().for_each(resolve);
        self.sensitive_words.iter_mut().for_each(resolve);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("21:00").unwrap().minutes, 21 * 60);
        assert_eq!(TimeOfDay::parse("8:05").unwrap().minutes, 8 * 60 + 5);
        assert_eq!(TimeOfDay::parse("24:00").unwrap().minutes, 1440);
        for bad in [
            "24:01", "21", "21:0", "21:60", "-1:00", "ab:cd", "", "123:00",
        ] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad}");
        }
        assert_eq!(TimeOfDay { minutes: 485 }.to_string(), "08:05");
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(UtcOffset::parse("+08:00").unwrap().minutes, 480);
        assert_eq!(UtcOffset::parse("-05:00").unwrap().minutes, -300);
        assert_eq!(UtcOffset::parse("+05:30").unwrap().minutes, 330);
        assert_eq!(UtcOffset::parse("+14:00").unwrap().minutes, 840);
        for bad in ["08:00", "+15:00", "-13:00", "+8", "+"] {
            assert_eq!(UtcOffset::parse(bad), None, "{bad}");
        }
        assert_eq!(UtcOffset { minutes: -330 }.to_string(), "-05:30");
    }
}
