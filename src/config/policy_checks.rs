//! The checks of `[[policy]]` and of the accounts' `policy` / `signatures`.

use std::time::Duration;

use smppgate_protocol::CommandStatus;

use super::checks::{Findings, not_zero_time, one_of, unique};
use super::{Config, OptOutTextMode, PolicyConfig};
use crate::numbers;

/// Most messages a cap may allow in its window: the engine keeps one timestamp per
/// message counted, so this bounds its memory per (account, number, cap).
pub const MAX_CAP: u32 = 1000;

/// Longest cap window: counters live as long as their window.
pub const MAX_CAP_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

pub(super) fn run(config: &Config, findings: &mut Findings<'_>) {
    let names = config.policies.iter().map(|p| p.name.as_str());
    unique(findings, "policy", "name", names);
    for (index, policy) in config.policies.iter().enumerate() {
        policy_fields(&format!("policy[{index}]"), policy, findings);
    }
    for (index, account) in config.accounts.iter().enumerate() {
        let path = format!("account[{index}]");
        for (at, signature) in account.signatures.iter().enumerate() {
            if signature.trim().is_empty() {
                findings.add(
                    format!("{path}.signatures[{at}]"),
                    "empty; write a signature, e.g. \"【示例商城】\"",
                );
            }
        }
        let Some(name) = &account.policy else {
            continue;
        };
        match config.policy(name) {
            None => findings.add(
                format!("{path}.policy"),
                format!(
                    "no policy is named `{name}`; {}",
                    one_of("policy", config.policies.iter().map(|p| p.name.as_str()))
                ),
            ),
            Some(policy) if policy.require_signature && account.signatures.is_empty() => {
                let at = config
                    .policies
                    .iter()
                    .position(|p| p.name == *name)
                    .map(|i| findings.at(&format!("policy[{i}].require_signature")))
                    .unwrap_or_default();
                findings.add(
                    format!("{path}.signatures"),
                    format!(
                        "policy `{name}` requires a signature ({at}) but this account has \
                         none, so every message would be refused; add e.g. \
                         `signatures = [\"【示例商城】\"]`"
                    ),
                );
            }
            Some(_) => {}
        }
    }
}

fn policy_fields(path: &str, policy: &PolicyConfig, findings: &mut Findings<'_>) {
    if policy.name.trim().is_empty() {
        findings.add(
            format!("{path}.name"),
            "empty; write a name, e.g. \"cn-marketing\"",
        );
    }
    for (field, list) in [
        ("opt_out_keywords", &policy.opt_out_keywords),
        ("opt_in_keywords", &policy.opt_in_keywords),
        ("marketing_opt_out_text", &policy.marketing_opt_out_text),
    ] {
        for (index, word) in list.iter().enumerate() {
            if word.trim().is_empty() {
                findings.add(format!("{path}.{field}[{index}]"), "empty; remove it");
            }
        }
    }
    for (index, word) in policy.opt_in_keywords.iter().enumerate() {
        let same = |other: &String| other.trim().eq_ignore_ascii_case(word.trim());
        if let Some(other) = policy.opt_out_keywords.iter().position(same) {
            let other = findings.at(&format!("{path}.opt_out_keywords[{other}]"));
            findings.add(
                format!("{path}.opt_in_keywords[{index}]"),
                format!("`{word}` is also an opt-out keyword ({other}); keep it in one list"),
            );
        }
    }
    for (field, classes) in [
        ("opt_out_classes", &policy.opt_out_classes),
        ("blacklist_classes", &policy.blacklist_classes),
        ("signature_classes", &policy.signature_classes),
    ] {
        if classes.is_empty() {
            findings.add(
                format!("{path}.{field}"),
                "empty: the rule would apply to nothing; write e.g. [\"marketing\"] \
                 (classes: otp, notification, marketing), or leave the key out for the default",
            );
        }
    }
    for (index, file) in policy.blacklists.iter().enumerate() {
        readable_file(
            findings,
            &format!("{path}.blacklists[{index}]"),
            file,
            "numbers",
        );
    }
    if let Some(file) = &policy.sensitive_words {
        readable_file(findings, &format!("{path}.sensitive_words"), file, "words");
    }
    if let Some(quiet) = &policy.quiet_hours {
        let at = format!("{path}.quiet_hours");
        if quiet.from == quiet.to {
            findings.add(
                format!("{at}.to"),
                format!(
                    "the window from {} to {} is empty; write the end of the quiet hours, \
                     e.g. \"08:00\" (or remove quiet_hours)",
                    quiet.from, quiet.to
                ),
            );
        }
        if quiet.classes.is_empty() {
            findings.add(
                format!("{at}.classes"),
                "empty: nothing would be deferred; write e.g. [\"marketing\"]",
            );
        }
        for code in quiet.utc_offsets.keys() {
            if !numbers::is_country_code(code) {
                findings.add(
                    format!("{at}.utc_offsets.{code}"),
                    format!(
                        "`{code}` is not a country calling code; write 1 to 3 digits without \
                         `+`, e.g. \"1\" = \"-05:00\""
                    ),
                );
            }
        }
    }
    for (index, cap) in policy.caps.iter().enumerate() {
        let at = format!("{path}.caps[{index}]");
        if cap.classes.is_empty() {
            findings.add(
                format!("{at}.classes"),
                "empty: the cap would count nothing; write e.g. [\"otp\"]",
            );
        }
        if cap.max == 0 || cap.max > MAX_CAP {
            findings.add(
                format!("{at}.max"),
                format!("{} is out of range; write 1 to {MAX_CAP}, e.g. 5", cap.max),
            );
        }
        not_zero_time(findings, &format!("{at}.per"), cap.per, "1h");
        if cap.per > MAX_CAP_WINDOW {
            findings.add(
                format!("{at}.per"),
                "longer than a year; write at most \"366days\", e.g. \"30days\"",
            );
        }
        if let Some(gap) = cap.min_gap {
            not_zero_time(findings, &format!("{at}.min_gap"), gap, "72h");
            if gap > MAX_CAP_WINDOW {
                findings.add(
                    format!("{at}.min_gap"),
                    "longer than a year; write at most \"366days\", e.g. \"72h\"",
                );
            }
        }
    }
    if policy.marketing_opt_out_mode == OptOutTextMode::Append
        && policy.marketing_opt_out_text.is_empty()
    {
        findings.add(
            format!("{path}.marketing_opt_out_mode"),
            "\"append\" needs a text to append; write e.g. \
             [\"回T退订\"]",
        );
    }
    for (key, value) in policy.statuses.written() {
        let field = format!("{path}.statuses.{key}");
        match CommandStatus::parse(value) {
            Some(CommandStatus::ESME_ROK) => findings.add(
                field,
                "ESME_ROK would accept what the rule refuses; write an error status, e.g. \
                 \"ESME_RINVDSTADR\"",
            ),
            Some(_) => {}
            None => findings.add(
                field,
                format!(
                    "`{value}` is not a command_status; write an SMPP 3.4 name such as \
                     \"ESME_RTHROTTLED\" or a number such as \"0x58\""
                ),
            ),
        }
    }
}

/// A list file the policy loads at start: it must be there now.
fn readable_file(findings: &mut Findings<'_>, field: &str, file: &std::path::Path, what: &str) {
    let problem = match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() => return,
        Ok(_) => "not a file".to_owned(),
        Err(error) => error.to_string(),
    };
    findings.add(
        field,
        format!(
            "cannot read `{}`: {problem}; write the path of a file of {what}, one per line \
             (relative paths are relative to this configuration file)",
            file.display()
        ),
    );
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Class, ConfigError, OptOutScope, RejectWith, SensitiveAction};
    use super::*;

    const ISSUE_POLICY: &str = r#"
[[account]]
system_id = "shop"
password = "pw"
policy = "cn-marketing"
signatures = ["【示例商城】", "【示例会员】"]

[[policy]]
name = "cn-marketing"
opt_out_keywords = ["TD", "T", "N", "R", "退订", "STOP", "UNSUBSCRIBE"]
opt_in_keywords = ["订阅", "START"]
opt_out_scope = "account"
opt_out_classes = ["marketing"]
blacklists = ["lists/blacklist.txt"]
blacklist_classes = ["otp", "notification", "marketing"]
quiet_hours = { classes = ["marketing"], from = "21:00", to = "08:00" }
caps = [
  { classes = ["otp"], max = 5, per = "1h" },
  { classes = ["otp"], max = 10, per = "24h" },
  { classes = ["marketing"], max = 4, per = "30days", min_gap = "72h" },
]
sensitive_words = "lists/words.txt"
sensitive_action = "reject"
require_signature = true
marketing_opt_out_text = ["回T退订", "回TD退订", "拒收请回复R"]
marketing_opt_out_mode = "require"
reject_with = "status"
statuses = { blacklist = "ESME_RINVDSTADR", cap = "ESME_RTHROTTLED" }
"#;

    fn with_lists() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lists")).unwrap();
        std::fs::write(dir.path().join("lists/blacklist.txt"), "8613800000000\n").unwrap();
        std::fs::write(dir.path().join("lists/words.txt"), "法轮\n").unwrap();
        dir
    }

    fn problems(text: &str, file: &Path) -> Vec<String> {
        match Config::parse(text, file) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn the_issue_policy_parses_with_files_relative_to_the_config() {
        let dir = with_lists();
        let file = dir.path().join("gw.toml");
        let config = Config::parse(ISSUE_POLICY, &file).unwrap();
        let policy = config.policy("cn-marketing").unwrap();
        assert_eq!(policy.opt_out_keywords.len(), 7);
        assert_eq!(policy.opt_out_scope, OptOutScope::Account);
        assert_eq!(policy.opt_out_classes, [Class::Marketing]);
        assert_eq!(policy.blacklists, [dir.path().join("lists/blacklist.txt")]);
        assert_eq!(
            policy.sensitive_words.as_deref(),
            Some(dir.path().join("lists/words.txt").as_path())
        );
        let quiet = policy.quiet_hours.as_ref().unwrap();
        assert_eq!((quiet.from.minutes, quiet.to.minutes), (21 * 60, 8 * 60));
        assert_eq!(policy.caps[2].per, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(policy.caps[2].min_gap, Some(Duration::from_secs(72 * 3600)));
        assert_eq!(policy.sensitive_action, SensitiveAction::Reject);
        assert_eq!(policy.reject_with, RejectWith::Status);
        assert_eq!(policy.statuses.cap.as_deref(), Some("ESME_RTHROTTLED"));
        assert_eq!(config.accounts[0].signatures.len(), 2);
    }

    #[test]
    fn an_empty_policy_has_the_defaults() {
        let config = Config::parse("[[policy]]\nname = \"p\"\n", Path::new("p.toml")).unwrap();
        assert_eq!(config.policies[0], PolicyConfig::named("p"));
    }

    #[test]
    fn missing_files_unknown_names_and_bad_values_name_file_line_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        let text = ISSUE_POLICY.replace("cn-marketing\"\nsignatures", "nope\"\nsignatures");
        let found = problems(&text, &file);
        let shown = file.display().to_string();
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].starts_with(&format!("{shown}:5: account[0].policy: no policy is named `nope`; write one of: cn-marketing")),
            "{}",
            found[0]
        );
        assert!(
            found[1].starts_with(&format!(
                "{shown}:14: policy[0].blacklists[0]: cannot read `{}`",
                dir.path().join("lists/blacklist.txt").display()
            )),
            "{}",
            found[1]
        );
        assert!(
            found[2].starts_with(&format!(
                "{shown}:22: policy[0].sensitive_words: cannot read"
            )),
            "{}",
            found[2]
        );
    }

    #[test]
    fn serde_errors_in_a_policy_name_the_field() {
        let text = "[[policy]]\nname = \"p\"\nquiet_hours = { from = \"25:00\", to = \"08:00\" }\n\
                    caps = [{ classes = [\"otpp\"], max = 5, per = \"1 hour\" }]\n";
        let found = problems(text, Path::new("p.toml"));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0]
                .starts_with("p.toml:3: policy[0].quiet_hours.from: `25:00` is not a time of day"),
            "{}",
            found[0]
        );
        assert!(found[1].starts_with("p.toml:4: policy[0].caps[0].classes[0]: `otpp` is not allowed here; write one of: otp, notification, marketing"), "{}", found[1]);
        let found = problems(
            "[[policy]]\nname = \"p\"\n\nsensitive_action = \"drop\"\n",
            Path::new("p.toml"),
        );
        assert!(found[0].starts_with("p.toml:4: policy[0].sensitive_action: `drop` is not allowed here; write one of: reject, hold"), "{found:?}");
        let text =
            "[[policy]]\nname = \"p\"\ncaps = [{ classes = [\"otp\"], max = 5, per = \"soon\" }]\n";
        let found = problems(text, Path::new("p.toml"));
        assert!(
            found[0].starts_with("p.toml:3: policy[0].caps[0].per: `soon` is not a duration"),
            "{found:?}"
        );
    }

    #[test]
    fn semantic_policy_problems() {
        let text = "[[account]]\nsystem_id = \"a\"\npassword = \"pw\"\npolicy = \"p\"\n\n\
                    [[policy]]\nname = \"p\"\nrequire_signature = true\n\
                    opt_in_keywords = [\"stop\"]\n\
                    quiet_hours = { from = \"21:00\", to = \"21:00\", utc_offsets = { \"x1\" = \"+01:00\" } }\n\
                    caps = [{ classes = [], max = 0, per = \"0s\", min_gap = \"400days\" }]\n\
                    marketing_opt_out_mode = \"append\"\n\
                    sensitive_action = \"hold\"\n\
                    statuses = { cap = \"ESME_ROK\", blacklist = \"nonsense\" }\n\n\
                    [[policy]]\nname = \"p\"\n";
        let found = problems(text, Path::new("s.toml"));
        let expected = [
            "s.toml:1: account[0].signatures: policy `p` requires a signature (policy[0].require_signature, line 8)",
            "s.toml:9: policy[0].opt_in_keywords[0]: `stop` is also an opt-out keyword",
            "s.toml:10: policy[0].quiet_hours.to: the window from 21:00 to 21:00 is empty",
            "s.toml:10: policy[0].quiet_hours.utc_offsets.x1: `x1` is not a country calling code",
            "s.toml:11: policy[0].caps[0].classes: empty",
            "s.toml:11: policy[0].caps[0].max: 0 is out of range; write 1 to 1000",
            "s.toml:11: policy[0].caps[0].per: a zero duration is not allowed",
            "s.toml:11: policy[0].caps[0].min_gap: longer than a year",
            "s.toml:12: policy[0].marketing_opt_out_mode: \"append\" needs a text",
            "s.toml:14: policy[0].statuses.cap: ESME_ROK would accept",
            "s.toml:14: policy[0].statuses.blacklist: `nonsense` is not a command_status",
            "s.toml:17: policy[1].name: `p` is already the name of policy[0] (line 7)",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        // `hold` (the review queue) is accepted.
        assert!(
            !found.iter().any(|f| f.contains("sensitive_action")),
            "{found:#?}"
        );
        for want in expected {
            assert!(
                found.iter().any(|f| f.starts_with(want)),
                "{want}\n{found:#?}"
            );
        }
    }
}
