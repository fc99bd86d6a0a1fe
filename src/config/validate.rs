//! Loading and validation: every problem names the file, the line, the field and the fix.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::DeTable;

use super::Config;
use super::checks::{self, Findings};
use super::sections;
use super::spans::Locator;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field, as a path (`carrier[1].tps`).
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{line}: {}: {}",
                self.file.display(),
                self.field,
                self.message
            ),
            None => write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.field,
                self.message
            ),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// It is not valid, for these reasons.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Each problem.
        problems: Vec<Problem>,
    },
}

impl Config {
    /// Reads, parses and validates `path`.
    ///
    /// # Errors
    /// [`ConfigError`]: unreadable, or each problem found.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text` (`path` only names it in problems).
    ///
    /// Every problem is reported, not just the first: each section (and each
    /// `[[account]]`, `[[carrier]]`, `[[route]]`) is parsed on its own, so a type error in
    /// one does not hide another's; when all parse, the semantic checks run.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with each problem found.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |problems| ConfigError::Invalid { problems };
        let document = match DeTable::parse(text) {
            Ok(document) => document,
            Err(error) => {
                // Not TOML at all: there is no tree to name a field from.
                let locator = Locator::new(text, &Spanned::new(0..0, DeTable::new()));
                return Err(invalid(vec![Problem {
                    file: path.to_owned(),
                    line: error.span().and_then(|span| locator.line_of(span.start)),
                    field: "syntax".to_owned(),
                    message: error.message().trim_end().to_owned(),
                }]));
            }
        };
        let locator = Locator::new(text, &document);
        let serde_errors = sections::parse_each(&document);
        if !serde_errors.is_empty() {
            let problems = serde_errors
                .iter()
                .map(|(span, message)| serde_problem(path, &locator, span.as_ref(), message))
                .collect();
            return Err(invalid(problems));
        }
        // Each part parsed; the whole is parsed once more as the one source of truth.
        let mut config: Self = toml::from_str(text).map_err(|error| {
            let problem = serde_problem(path, &locator, error.span().as_ref(), error.message());
            invalid(vec![problem])
        })?;
        // Policy files are relative to the configuration file.
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        for policy in &mut config.policies {
            policy.resolve_files(dir);
        }
        let problems = config.problems(path, &locator);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(invalid(problems))
        }
    }

    /// Runs the semantic checks on a configuration built in code (problems have no line).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with each problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems(Path::new("<config>"), &Locator::empty());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    fn problems(&self, path: &Path, locator: &Locator) -> Vec<Problem> {
        let mut findings = Findings::new(locator);
        checks::run(self, &mut findings);
        let mut problems: Vec<Problem> = findings
            .found
            .into_iter()
            .map(|(field, message)| Problem {
                file: path.to_owned(),
                line: locator.line(&field),
                field,
                message,
            })
            .collect();
        // In file order; problems without a line (defaults) first, as they are global.
        problems.sort_by_key(|problem| problem.line);
        problems
    }
}

/// A serde error as a problem: the field it points at, and a message that says what to
/// write.
fn serde_problem(
    path: &Path,
    locator: &Locator,
    span: Option<&std::ops::Range<usize>>,
    message: &str,
) -> Problem {
    let line = span.and_then(|span| locator.line_of(span.start));
    let at = span
        .and_then(|span| locator.path_at(span))
        .unwrap_or_default()
        .to_owned();
    let (field, message) = explain(&at, message.trim_end());
    Problem {
        file: path.to_owned(),
        line,
        field: if field.is_empty() {
            "(top level)".to_owned()
        } else {
            field
        },
        message,
    }
}

/// Rewrites serde's wording into what to write; returns the field path too (a missing
/// field is named in the message, not at the span, which is its table's).
fn explain(at: &str, message: &str) -> (String, String) {
    let join = |parent: &str, name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return (
            join(at, name),
            format!("required but missing: add `{name} = …` to this table"),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let valid = backquoted(expected);
        let field = if at.ends_with(name) {
            at.to_owned()
        } else {
            join(at, name)
        };
        let hint = if valid.is_empty() {
            "no field is allowed here".to_owned()
        } else {
            format!("valid fields here: {}", valid.join(", "))
        };
        return (field, format!("unknown field `{name}`; {hint}"));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
        return (
            at.to_owned(),
            format!(
                "`{value}` is not allowed here; write one of: {}",
                backquoted(expected).join(", ")
            ),
        );
    }
    if let Some((what, expected)) = message.split_once(", expected ") {
        let write = match expected {
            "u8" | "u16" | "u32" | "u64" | "usize" => {
                "a whole number ≥ 0 without quotes, e.g. 64".to_owned()
            }
            "f64" | "f32" => "a number without quotes, e.g. 0.5".to_owned(),
            "a boolean" => "true or false, without quotes".to_owned(),
            "a string" if DURATION_FIELDS.iter().any(|name| at.ends_with(name)) => {
                "a duration in double quotes, e.g. \"30s\", \"200ms\", \"72h\"".to_owned()
            }
            "a string" => "a string in double quotes".to_owned(),
            "a sequence" => "a list in brackets, e.g. [\"a\", \"b\"]".to_owned(),
            other => other.to_owned(),
        };
        return (at.to_owned(), format!("{what}; write {write}"));
    }
    (at.to_owned(), message.to_owned())
}

/// Fields written as durations (`"30s"`), for a better hint than "a string".
const DURATION_FIELDS: &[&str] = &[
    "idle_timeout",
    "lockout_window",
    "lockout_duration",
    "retention",
    "stats_retention",
    "stats_hour_retention",
    "validity",
    "enquire_link_interval",
    "response_timeout",
    "initial",
    "max",
    "backoff",
    "failover_after",
    "failover_after_by_class.otp",
    "failover_after_by_class.notification",
    "failover_after_by_class.marketing",
    "per",
    "min_gap",
];

/// The names between backquotes in "expected one of `a`, `b`".
fn backquoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../docs/smppgate.example.toml");

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn demo_and_example_are_valid() {
        Config::demo().validate().unwrap();
        let example = Config::parse(EXAMPLE, Path::new("example.toml")).unwrap();
        example.validate().unwrap();
        assert_eq!(example.carriers.len(), 2);
        assert_eq!(example.routes[0].operators, ["china-mobile"]);
    }

    #[test]
    fn failover_after_per_class_falls_back_to_the_carrier() {
        use std::time::Duration;

        use crate::config::Class;

        let text = "[[carrier]]\nname = \"a\"\naddress = \"sim\"\ntps = 1\n\
                    failover_after = \"20s\"\nfailover_after_by_class = { otp = \"3s\" }\n\n\
                    [[carrier]]\nname = \"b\"\naddress = \"sim\"\ntps = 1\n";
        let config = Config::parse(text, Path::new("f.toml")).unwrap();
        let [a, b] = &config.carriers[..] else {
            panic!("two carriers")
        };
        assert_eq!(a.failover_after(Class::Otp), Duration::from_secs(3));
        assert_eq!(
            a.failover_after(Class::Notification),
            Duration::from_secs(20)
        );
        assert_eq!(a.failover_after(Class::Marketing), Duration::from_secs(20));
        assert_eq!(b.failover_after(Class::Otp), Duration::from_secs(30));
    }

    #[test]
    fn statistics_retention_names_the_field_and_the_fix() {
        let found =
            problems("[store]\nstats_retention = \"30days\"\nstats_hour_retention = \"35days\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("t.toml:3"), "{found:?}");
        assert!(found[0].contains("store.stats_hour_retention"), "{found:?}");
        assert!(
            found[0].contains("stats_retention = \"400days\""),
            "{found:?}"
        );
        let found = problems("[store]\nstats_retention = \"0s\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("store.stats_retention"), "{found:?}");
        assert!(found[0].contains("zero"), "{found:?}");
    }

    #[test]
    fn empty_file_is_the_defaults() {
        // No carriers, no routes: nothing to check, nothing wrong.
        assert_eq!(
            Config::parse("", Path::new("e.toml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn every_serde_error_is_reported_with_line_and_field() {
        let text = "[[carrier]]\nname = \"a\"\naddress = \"sim\"\ntps = \"x\"\nwindoww = 3\n\n\
                    [[carrier]]\nname = \"b\"\naddress = \"sim\"\ntps = 1\nbind = \"trx\"\n";
        assert_eq!(
            problems(text),
            [
                "t.toml:4: carrier[0].tps: invalid type: string \"x\"; write a whole number ≥ 0 \
                 without quotes, e.g. 64",
                "t.toml:5: carrier[0].windoww: unknown field `windoww`; valid fields here: name, \
                 address, system_id, password, system_type, bind, binds, window, tps, tls, \
                 enquire_link_interval, response_timeout, data_coding_default, message_id_style, \
                 request_receipts, throttle_backoff, retry, transient_statuses, permanent_statuses, \
                 failover_after, failover_after_by_class, protocol, service_id, src_id, fee_type, \
                 fee_code, fee_user_type, msg_fmt, node_id, report_listen, report_system_id, \
                 report_password",
                "t.toml:11: carrier[1].bind: `trx` is not allowed here; write one of: \
                 transceiver, transmitter_receiver, transmitter",
            ]
        );
    }

    #[test]
    fn semantic_problems_name_both_places() {
        let text = "[[carrier]]\nname = \"a\"\naddress = \"sim\"\ntps = 1\n\n\
                    [[route]]\nname = \"r\"\nprefixes = [\"86138\"]\ncarriers = [\"a\"]\n\n\
                    [[route]]\nname = \"r\"\nprefixes = [\"86138\"]\ncarriers = [\"b\"]\n";
        assert_eq!(
            problems(text),
            [
                "t.toml:12: route[1].name: `r` is already the name of route[0] (line 7); give \
                 each route its own",
                "t.toml:13: route[1].prefixes[0]: prefix 86138 is also in route `r` \
                 (route[0].prefixes[0], line 8); a prefix goes to one route: remove it from \
                 one of them",
                "t.toml:14: route[1].carriers[0]: no carrier is named `b`; write one of: a",
            ]
        );
    }

    #[test]
    fn outbox_retry_settings_are_checked() {
        let text = "[receipts]\noutbox_max_attempts = 0\noutbox_retry_initial = \"2s\"\n\
                    outbox_retry_max = \"1s\"\n";
        assert_eq!(
            problems(text),
            [
                "t.toml:2: receipts.outbox_max_attempts: 0 is out of range; write 1 to 100, \
                 e.g. 5",
                "t.toml:4: receipts.outbox_retry_max: shorter than outbox_retry_initial \
                 (receipts.outbox_retry_initial, line 3); write at least 2s, e.g. \"60s\"",
            ]
        );
    }

    #[test]
    fn not_toml_is_one_syntax_problem() {
        assert_eq!(
            problems("a = [1,\n"),
            ["t.toml:1: syntax: unclosed array, expected `]`"]
        );
        assert_eq!(
            problems("x = 1\nx = 2\n"),
            ["t.toml:2: syntax: duplicate key"]
        );
    }

    #[test]
    fn any_text_gives_a_config_or_problems_never_a_panic() {
        // Cut the example everywhere: each prefix parses or is reported, with a line.
        for end in (0..EXAMPLE.len())
            .filter(|end| EXAMPLE.is_char_boundary(*end))
            .step_by(7)
        {
            if let Err(ConfigError::Invalid { problems }) =
                Config::parse(&EXAMPLE[..end], Path::new("cut.toml"))
            {
                assert!(!problems.is_empty());
                assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn edited_examples_never_panic(start in 0usize..4000, len in 0usize..40, insert in "[ -~\n]{0,12}") {
            // Splice random printable text into the example: any outcome but a panic, and
            // every problem has a line.
            let mut text = EXAMPLE.to_owned();
            let start = start.min(text.len());
            let end = (start + len).min(text.len());
            if text.is_char_boundary(start) && text.is_char_boundary(end) {
                text.replace_range(start..end, &insert);
            }
            if let Err(ConfigError::Invalid { problems }) = Config::parse(&text, Path::new("p.toml")) {
                proptest::prop_assert!(problems.iter().all(|p| p.line.is_some()), "{:?}", problems);
            }
        }
    }

    #[test]
    fn explain_rewrites_serde() {
        assert_eq!(
            explain("carrier[0]", "missing field `tps`"),
            (
                "carrier[0].tps".to_owned(),
                "required but missing: add `tps = …` to this table".to_owned()
            )
        );
        assert_eq!(
            explain(
                "server.tls.certt",
                "unknown field `certt`, expected `cert` or `key`"
            )
            .1,
            "unknown field `certt`; valid fields here: cert, key"
        );
        assert_eq!(
            explain(
                "store.retention",
                "invalid type: integer `5`, expected a string"
            )
            .1,
            "invalid type: integer `5`; write a duration in double quotes, e.g. \"30s\", \
             \"200ms\", \"72h\""
        );
        assert_eq!(explain("x", "something else").1, "something else");
    }
}
