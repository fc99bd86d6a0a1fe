//! `smppgate check-config` as a real process: the documented example passes with its
//! summary; each kind of mistake, one file each, fails with `FILE:LINE: FIELD: message`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_smppgate");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/smppgate.example.toml");

fn check(path: &Path) -> Output {
    Command::new(BIN)
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run smppgate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A valid base every case adds one section to; its lines are 1–10, so a case's line
/// `n` is line `BASE_LINES + n` of the file.
const BASE: &str = r#"[[carrier]]
name = "c1"
address = "sim"
tps = 10

[[route]]
name = "all"
default = true
carriers = ["c1"]

"#;
const BASE_LINES: usize = 10;

fn write_case(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config_check");
    std::fs::create_dir_all(&dir).expect("create the case directory");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, contents).expect("write the case");
    path
}

#[test]
fn example_passes_with_a_summary() {
    let output = check(Path::new(EXAMPLE));
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    for line in [
        "smppgate.example.toml: ok\n",
        "listener: 0.0.0.0:2775 (plain TCP, at most 1024 connections)\n",
        "accounts: 2 (otp-app, campaigns)\n",
        "carriers: 2\n",
        "  cmcc-gd: 10.0.0.1:7890, 4 transceiver binds × window 64, 500 tps\n",
        "  aggregator: smpp.aggregator.example:2775, 2 transceiver binds × window 32, 200 tps, TLS\n",
        "routes: 3\n",
        "  china-mobile: 36 prefixes (operators: china-mobile), carriers in order: cmcc-gd → aggregator\n",
        "  special: 1 prefix, carriers in order: aggregator\n",
        "  rest: 0 prefixes, default, carriers in order: aggregator\n",
        "default route: rest\n",
        "metrics: 127.0.0.1:9100\n",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn base_of_the_cases_passes() {
    let output = check(&write_case("base", BASE));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn missing_file_is_one_clear_line() {
    let output = check(Path::new("/nonexistent/smppgate.toml"));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr.trim_end(),
        "error: cannot read /nonexistent/smppgate.toml: No such file or directory (os error 2)"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn not_toml_names_the_line() {
    let path = write_case("syntax", "[server]\nlisten = \"0.0.0.0:2775\n");
    let stderr = text(&check(&path).stderr);
    assert!(
        stderr.starts_with(&format!("{}:2: syntax: ", path.display())),
        "{stderr}"
    );
    let binary = write_case("binary", "\u{0}\u{1}\u{2}garbage = = =\n");
    let output = check(&binary);
    assert_eq!(output.status.code(), Some(1));
    assert!(!text(&output.stderr).contains("panicked"));
}

/// (case name, section added to BASE, line within the section, field, part of the message)
const CASES: &[(&str, &str, usize, &str, &str)] = &[
    // serde: unknown field, wrong type, bad duration, bad enum, missing field, unknown section
    (
        "unknown-field",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\ntpss = 2\n",
        5,
        "carrier[1].tpss",
        "unknown field `tpss`; valid fields here: name, address, system_id, password",
    ),
    (
        "wrong-type",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = \"fast\"\n",
        4,
        "carrier[1].tps",
        "invalid type: string \"fast\"; write a whole number ≥ 0 without quotes",
    ),
    (
        "bad-duration",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nenquire_link_interval = \"30 parsecs\"\n",
        5,
        "carrier[1].enquire_link_interval",
        "`30 parsecs` is not a duration",
    ),
    (
        "duration-as-number",
        "[store]\nretention = 7\n",
        2,
        "store.retention",
        "write a duration in double quotes, e.g. \"30s\"",
    ),
    (
        "bad-bind-kind",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nbind = \"trx\"\n",
        5,
        "carrier[1].bind",
        "`trx` is not allowed here; write one of: transceiver, transmitter_receiver, transmitter",
    ),
    (
        "missing-field",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\n",
        1,
        "carrier[1].tps",
        "required but missing: add `tps = …`",
    ),
    (
        "unknown-section",
        "[carriers]\nname = \"x\"\n",
        1,
        "carriers",
        "unknown field `carriers`; valid fields here: server, store, metrics, numbers, receipts, account, carrier, route",
    ),
    (
        "unknown-field-inline",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nretry = { attempts = 3 }\n",
        5,
        "carrier[1].retry.attempts",
        "valid fields here: max_attempts, backoff",
    ),
    // names
    (
        "duplicate-carrier",
        "[[carrier]]\nname = \"c1\"\naddress = \"sim\"\ntps = 1\n",
        2,
        "carrier[1].name",
        "`c1` is already the name of carrier[0] (line 2)",
    ),
    (
        "duplicate-route",
        "[[route]]\nname = \"all\"\nprefixes = [\"44\"]\ncarriers = [\"c1\"]\n",
        2,
        "route[1].name",
        "`all` is already the name of route[0] (line 7)",
    ),
    (
        "duplicate-account",
        "[[account]]\nsystem_id = \"app\"\npassword = \"pw\"\n\n[[account]]\nsystem_id = \"app\"\npassword = \"pw\"\n",
        6,
        "account[1].system_id",
        "`app` is already the system_id of account[0] (line 12)",
    ),
    // routes
    (
        "route-missing-carrier",
        "[[route]]\nname = \"r\"\nprefixes = [\"44\"]\ncarriers = [\"c1\", \"nope\"]\n",
        4,
        "route[1].carriers[1]",
        "no carrier is named `nope`; write one of: c1",
    ),
    (
        "route-no-carriers",
        "[[route]]\nname = \"r\"\nprefixes = [\"44\"]\ncarriers = []\n",
        4,
        "route[1].carriers",
        "no carrier: messages of this route could not be sent; write e.g. `carriers = [\"c1\"]`",
    ),
    (
        "prefix-in-two-routes",
        "[[route]]\nname = \"uk\"\nprefixes = [\"44\"]\ncarriers = [\"c1\"]\n\n[[route]]\nname = \"uk2\"\nprefixes = [\"447\", \"44\"]\ncarriers = [\"c1\"]\n",
        8,
        "route[2].prefixes[1]",
        "prefix 44 is also in route `uk` (route[1].prefixes[0], line 13); a prefix goes to one route",
    ),
    (
        "operator-in-two-routes",
        "[[route]]\nname = \"cm\"\noperators = [\"china-mobile\"]\ncarriers = [\"c1\"]\n\n[[route]]\nname = \"cm2\"\nprefixes = [\"86138\"]\ncarriers = [\"c1\"]\n",
        8,
        "route[2].prefixes[0]",
        "prefix 86138 is also in route `cm` (route[1].operators[0], line 13)",
    ),
    (
        "prefix-not-digits",
        "[[route]]\nname = \"r\"\nprefixes = [\"86-138\"]\ncarriers = [\"c1\"]\n",
        3,
        "route[1].prefixes[0]",
        "`86-138` is not a prefix; write E.164 digits with the country code",
    ),
    (
        "prefix-with-plus",
        "[[route]]\nname = \"r\"\nprefixes = [\n  \"44\",\n  \"+86138\",\n]\ncarriers = [\"c1\"]\n",
        5,
        "route[1].prefixes[1]",
        "write prefixes without `+`: \"86138\"",
    ),
    (
        "unknown-operator",
        "[[route]]\nname = \"r\"\noperators = [\"vodafone\"]\ncarriers = [\"c1\"]\n",
        3,
        "route[1].operators[0]",
        "no built-in operator is named `vodafone`; write one of: china-mobile, china-unicom, china-telecom, china-broadnet",
    ),
    (
        "two-default-routes",
        "[[route]]\nname = \"other\"\ndefault = true\ncarriers = [\"c1\"]\n",
        3,
        "route[1].default",
        "route `all` is already the default route (route[0].default, line 8); only one route can be default",
    ),
    (
        "route-queue-too-big",
        "[[route]]\nname = \"r\"\nprefixes = [\"86\"]\ncarriers = [\"c1\"]\nqueue = 4611686018427387904\n",
        5,
        "route[1].queue",
        "4611686018427387904 is over 1000000: the route holds this many messages per class in memory",
    ),
    (
        "route-matches-nothing",
        "[[route]]\nname = \"r\"\ncarriers = [\"c1\"]\n",
        1,
        "route[1]",
        "matches no number",
    ),
    // carriers
    (
        "tps-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 0\n",
        4,
        "carrier[1].tps",
        "0 would send nothing; write the rate agreed with the carrier",
    ),
    (
        "window-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nwindow = 0\n",
        5,
        "carrier[1].window",
        "0 would never send a request",
    ),
    (
        "window-too-big",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nwindow = 5000\n",
        5,
        "carrier[1].window",
        "5000 is over 1024: SMSCs rarely accept more than a few hundred outstanding requests per bind",
    ),
    (
        "binds-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nbinds = 0\n",
        5,
        "carrier[1].binds",
        "0 is not allowed; write at least 1",
    ),
    (
        "binds-too-many",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nbinds = 100000\n",
        5,
        "carrier[1].binds",
        "100000 is over 256: each bind is a connection and a login at the carrier",
    ),
    (
        "address-not-host-port",
        "[[carrier]]\nname = \"c2\"\naddress = \"10.0.0.1\"\ntps = 1\n",
        3,
        "carrier[1].address",
        "`10.0.0.1` has no port; write host:port",
    ),
    (
        "max-attempts-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\n\n[carrier.retry]\nmax_attempts = 0\n",
        7,
        "carrier[1].retry.max_attempts",
        "0 would never send; write 1 for a single attempt",
    ),
    (
        "rate-decrease-out-of-range",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nthrottle_backoff = { rate_decrease = 1.5 }\n",
        5,
        "carrier[1].throttle_backoff.rate_decrease",
        "1.5 is outside (0, 1]",
    ),
    (
        "rate-decrease-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nthrottle_backoff = { rate_decrease = 0.0 }\n",
        5,
        "carrier[1].throttle_backoff.rate_decrease",
        "0 is outside (0, 1]",
    ),
    (
        "rate-increase-negative",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\n[carrier.throttle_backoff]\nrate_increase = -0.1\n",
        6,
        "carrier[1].throttle_backoff.rate_increase",
        "-0.1 is not a fraction of tps ≥ 0",
    ),
    (
        "data-coding",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\ndata_coding_default = \"utf8\"\n",
        5,
        "carrier[1].data_coding_default",
        "`utf8` is not a coding; write one of: gsm7, latin1, ascii, ia5",
    ),
    (
        "unknown-status-name",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\ntransient_statuses = [\"ESME_RTHROTTLED\", \"ESME_RTHROTLED\"]\n",
        5,
        "carrier[1].transient_statuses[1]",
        "`ESME_RTHROTLED` is not a command_status; write an SMPP 3.4 name such as \"ESME_RTHROTTLED\" or a number such as \"0x58\"",
    ),
    (
        "bad-status-number",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\npermanent_statuses = [\"0x58\", \"0xZZ\"]\n",
        5,
        "carrier[1].permanent_statuses[1]",
        "`0xZZ` is not a command_status",
    ),
    (
        "status-both-lists",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\ntransient_statuses = [\"88\"]\npermanent_statuses = [\"ESME_RTHROTTLED\"]\n",
        6,
        "carrier[1].permanent_statuses[0]",
        "ESME_RTHROTTLED is also listed as transient (carrier[1].transient_statuses[0], line 15)",
    ),
    (
        "failover-after-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nfailover_after = \"0s\"\n",
        5,
        "carrier[1].failover_after",
        "a zero duration is not allowed; write e.g. \"30s\"",
    ),
    (
        "failover-after-class-zero",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nfailover_after_by_class = { otp = \"0ms\" }\n",
        5,
        "carrier[1].failover_after_by_class.otp",
        "a zero duration is not allowed; write e.g. \"3s\"",
    ),
    (
        "failover-after-unknown-class",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\n\n[carrier.failover_after_by_class]\notp = \"3s\"\nsms = \"5s\"\n",
        8,
        "carrier[1].failover_after_by_class.sms",
        "unknown field `sms`; valid fields here: otp, notification, marketing",
    ),
    (
        "failover-after-class-not-a-duration",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nfailover_after_by_class = { marketing = 10 }\n",
        5,
        "carrier[1].failover_after_by_class.marketing",
        "write a duration in double quotes, e.g. \"30s\"",
    ),
    (
        "carrier-system-id-too-long",
        "[[carrier]]\nname = \"c2\"\naddress = \"sim\"\ntps = 1\nsystem_id = \"abcdefghijklmnopq\"\n",
        5,
        "carrier[1].system_id",
        "is 17 characters; SMPP 3.4 allows at most 15 here",
    ),
    // accounts
    (
        "account-no-password",
        "[[account]]\nsystem_id = \"app\"\n",
        1,
        "account[0]",
        "no password: add `password_hash = \"$argon2id$…\"`",
    ),
    (
        "account-bad-hash",
        "[[account]]\nsystem_id = \"app\"\npassword_hash = \"5f4dcc3b5aa765d61d8327deb882cf99\"\n",
        3,
        "account[0].password_hash",
        "not an Argon2 hash (a PHC string starts with `$`); write the PHC string of an Argon2 hash",
    ),
    (
        "account-bad-ip",
        "[[account]]\nsystem_id = \"app\"\npassword = \"pw\"\nallowed_ips = [\"10.0.0.0/8\", \"10.0.0.300\"]\n",
        4,
        "account[0].allowed_ips[1]",
        "`10.0.0.300` is not an IP address or network",
    ),
    (
        "account-missing-route",
        "[[account]]\nsystem_id = \"app\"\npassword = \"pw\"\nroute = \"vip\"\n",
        4,
        "account[0].route",
        "no route is named `vip`; write one of: all",
    ),
    (
        "account-number-not-digits",
        "[[account]]\nsystem_id = \"app\"\npassword = \"pw\"\nnumbers = [\"1069-0000\"]\n",
        4,
        "account[0].numbers[0]",
        "`1069-0000` is not digits only",
    ),
    (
        "account-number-twice",
        "[[account]]\nsystem_id = \"a1\"\npassword = \"pw\"\nnumbers = [\"10690000\"]\n\n[[account]]\nsystem_id = \"a2\"\npassword = \"pw\"\nnumbers = [\"10690000\"]\n",
        9,
        "account[1].numbers[0]",
        "number 10690000 is also claimed by account[0].numbers[0], line 14",
    ),
    // server, metrics, store, numbers
    (
        "server-listen",
        "[server]\nlisten = \"localhost\"\n",
        2,
        "server.listen",
        "`localhost` is not an IP address and port; write e.g. \"0.0.0.0:2775\"",
    ),
    (
        "metrics-listen",
        "[metrics]\nlisten = \"127.0.0.1\"\n",
        2,
        "metrics.listen",
        "`127.0.0.1` is not an IP address and port",
    ),
    (
        "store-max-batch",
        "[store]\nmax_batch = 0\n",
        2,
        "store.max_batch",
        "0 is not allowed; write at least 1",
    ),
    (
        "store-validity-zero",
        "[store]\nvalidity = \"0s\"\n",
        2,
        "store.validity",
        "a zero duration is not allowed",
    ),
    (
        "store-retention-zero",
        "[store]\nretention = \"0s\"\n",
        2,
        "store.retention",
        "a zero duration is not allowed",
    ),
    (
        "default-country",
        "[numbers]\ndefault_country = \"+86\"\n",
        2,
        "numbers.default_country",
        "`+86` is not a country code; write 1 to 3 digits",
    ),
];

#[test]
fn each_kind_of_problem_names_file_line_and_field() {
    let mut failures = Vec::new();
    for (name, section, line, field, message) in CASES {
        let path = write_case(name, &format!("{BASE}{section}"));
        let output = check(&path);
        let stderr = text(&output.stderr);
        let expected = format!("{}:{}: {field}: ", path.display(), BASE_LINES + line);
        let found = stderr
            .lines()
            .any(|l| l.starts_with(&expected) && l.contains(message));
        if output.status.code() != Some(1) || !found || !output.stdout.is_empty() {
            failures.push(format!(
                "{name}: exit {:?}, expected a line `{expected}…{message}…`, got:\n{stderr}",
                output.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    // Two serde errors in one table, one in another, and semantic problems are not
    // checked until the file parses.
    let path = write_case(
        "many-serde",
        "[[carrier]]\nname = \"c\"\naddress = \"sim\"\ntps = \"x\"\nwindoww = 1\n\n[server]\nidle_timeout = 5\n",
    );
    let stderr = text(&check(&path).stderr);
    let file = path.display();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{file}:4: carrier[0].tps: ")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("{file}:5: carrier[0].windoww: ")),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(&format!("{file}:8: server.idle_timeout: ")),
        "{stderr}"
    );
    assert_eq!(lines[3], format!("{file}: 3 problems"));

    let path = write_case(
        "many-semantic",
        &format!("{BASE}[[carrier]]\nname = \"c1\"\naddress = \"x\"\ntps = 0\nwindow = 0\n"),
    );
    let stderr = text(&check(&path).stderr);
    for field in [
        "carrier[1].name",
        "carrier[1].address",
        "carrier[1].tps",
        "carrier[1].window",
    ] {
        assert!(
            stderr.contains(&format!(": {field}: ")),
            "{field} in:\n{stderr}"
        );
    }
    assert!(stderr.ends_with(": 4 problems\n"), "{stderr}");
}

#[test]
fn readme_configuration_example_is_valid() {
    let readme = include_str!("../README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Configuration"))
        .expect("README has a Configuration section");
    assert!(section.contains("docs/smppgate.example.toml"));
    assert!(section.contains("smppgate check-config"));
    let blocks: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default())
        .collect();
    assert!(
        !blocks.is_empty(),
        "no toml block in the Configuration section"
    );
    for block in blocks {
        let config = smppgate::config::Config::parse(block, Path::new("README.md"));
        assert!(
            config.is_ok(),
            "{}",
            config.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }
    // The summary shown in the README is what the command prints.
    let output = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check-config", "docs/smppgate.example.toml"])
        .output()
        .expect("run smppgate");
    let summary = text(&output.stdout);
    assert!(
        section.contains(&summary),
        "the README's check-config output is stale; it prints:\n{summary}"
    );
}
