//! The market rules (issue #15) through a real `smppgate serve` process and a real
//! client (PyPI `smpplib`): each rule refuses with its own status, the rest passes; and
//! `check-config` names the file, line and field of bad policy input.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::{python, run, smppgate, write_gateway_config};

const SHOP: &str = "【示例商城】";

/// A gateway config with account `shop` under policy `cn` (blacklist with a garbage line,
/// word list, signature, opt-out text, OTP caps), the built-in simulated carrier.
fn write_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(
        dir.join("lists/blacklist.txt"),
        "# blocked\n+86 139 0000 0000\nthis is not a number\n8613900000001\n",
    )
    .unwrap();
    std::fs::write(dir.join("lists/words.txt"), "法轮\nfalun\n").unwrap();
    let rest = r#"
[[account]]
system_id = "shop"
password = "secret"
policy = "cn"
signatures = ["【示例商城】"]

[[policy]]
name = "cn"
blacklists = ["lists/blacklist.txt"]
sensitive_words = "lists/words.txt"
require_signature = true
marketing_opt_out_text = ["回T退订", "拒收请回复R"]
caps = [{ classes = ["otp"], max = 5, per = "1h" }]

[[carrier]]
name = "sim"
address = "sim"
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["sim"]
"#;
    write_gateway_config(dir, rest)
}

fn message(to: &str, class: &str, text: &str) -> Value {
    json!({ "to": to, "service_type": class, "text": text })
}

#[test]
fn each_market_rule_refuses_with_its_status_through_serve_and_smpplib() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (gateway, addr) = support::serve(&config);
    let otp = format!("{SHOP}验证码 1234，5分钟内有效");
    let mut messages = vec![
        // (message, expected status, what it shows)
        (message("+8613900000000", "otp", &otp), 0x401, "blacklisted"),
        (
            message("+8613900000001", "otp", &otp),
            0x401,
            "blacklisted after a garbage line",
        ),
        (
            message(
                "+8613800138001",
                "mkt",
                &format!("{SHOP}ＦＡ＿ＬＵＮ 大促 回T退订"),
            ),
            0x403,
            "full-width letters and separators",
        ),
        (
            message(
                "+8613800138001",
                "mkt",
                &format!("{SHOP}法@@轮大促 回T退订"),
            ),
            0x403,
            "separators inside a word",
        ),
        (
            message("+8613800138001", "mkt", &format!("{SHOP}轮法大促 回T退订")),
            0,
            "the same characters in another order",
        ),
        (
            message("+8613800138001", "notification", "您的订单已发货"),
            0x404,
            "no signature",
        ),
        (
            message("+8613800138001", "notification", "【别家】您的订单已发货"),
            0x404,
            "a signature the account does not have",
        ),
        (
            message("+8613800138001", "mkt", &format!("{SHOP}双十二大促")),
            0x405,
            "marketing without opt-out text",
        ),
    ];
    for n in 0..5 {
        messages.push((
            message("+8613800138002", "otp", &otp),
            0,
            ["1st", "2nd", "3rd", "4th", "5th"][n],
        ));
    }
    messages.push((
        message("+8613800138002", "otp", &otp),
        0x402,
        "6th OTP in an hour",
    ));
    let list: Vec<&Value> = messages.iter().map(|(m, _, _)| m).collect();
    let mut py = python("smpplib_policy.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args(["--system-id", "shop", "--password", "secret"])
        .arg("--messages")
        .arg(serde_json::to_string(&list).unwrap());
    let peer = run("smpplib_policy.py", py).success_json();
    let submits = peer["submits"].as_array().expect("submits");
    assert_eq!(submits.len(), messages.len(), "{peer}");
    for ((sent, status, why), answer) in messages.iter().zip(submits) {
        assert_eq!(answer["status"], *status, "{why}: {sent} → {answer}");
    }
    gateway.terminate();
    let finished = gateway.finish(Duration::from_secs(20));
    let log = without_ansi(&finished.stderr);
    finished.success_json();
    // The refusals are logged with their rule, and content with the word.
    assert!(log.contains("blacklist line skipped"), "{log}");
    assert!(log.contains("this is not a number"), "{log}");
    for rule in ["blacklist", "content", "signature", "opt_out_text", "cap"] {
        assert!(
            log.contains(&format!("rule=\"{rule}\"")) || log.contains(&format!("rule={rule}")),
            "{rule}: {log}"
        );
    }
    assert!(log.contains("法轮") || log.contains("falun"), "{log}");
}

#[test]
fn check_config_names_file_line_and_field_of_bad_policy_input() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // Good: the lists are read as serve reads them; the garbage line is named by line.
    let checked = run("check-config", {
        let mut command = smppgate();
        command.arg("check-config").arg(&config);
        command
    });
    assert!(checked.status.success(), "{checked:?}");
    let out = checked.stdout.join("\n");
    assert!(out.contains("policy cn: blacklist 2 numbers"), "{out}");
    let garbage = format!(
        "{}:3: `this is not a number`",
        dir.path().join("lists/blacklist.txt").display()
    );
    assert!(out.contains(&garbage), "{out}");
    // A missing file, an unknown policy: file, line, field.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("lists/words.txt", "lists/missing.txt")
        .replace("policy = \"cn\"", "policy = \"cn-typo\"");
    std::fs::write(&config, text).unwrap();
    let checked = run("check-config", {
        let mut command = smppgate();
        command.arg("check-config").arg(&config);
        command
    });
    assert!(!checked.status.success());
    let shown = config.display().to_string();
    assert!(
        checked.stderr.contains(&format!(
            "{shown}:10: account[0].policy: no policy is named `cn-typo`"
        )),
        "{}",
        checked.stderr
    );
    assert!(
        checked.stderr.contains(&format!(
            "{shown}:16: policy[0].sensitive_words: cannot read"
        )),
        "{}",
        checked.stderr
    );
}

/// The log without its colour codes (`ESC [ … m`).
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn reject_with_receipt_answers_rok_then_a_rejectd_receipt_with_the_rule_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("caps = [", "reject_with = \"receipt\"\ncaps = [");
    std::fs::write(&config, text).unwrap();
    let (gateway, addr) = support::serve(&config);
    let otp = format!("{SHOP}验证码 1234");
    let mut blacklisted = message("+8613900000000", "otp", &otp);
    blacklisted["receipt"] = json!(true);
    let mut unsigned = message("+8613800138001", "otp", "验证码 1234");
    unsigned["receipt"] = json!(true);
    let mut py = python("smpplib_policy.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args(["--system-id", "shop", "--password", "secret"])
        .arg("--messages")
        .arg(serde_json::to_string(&[blacklisted, unsigned]).unwrap());
    let peer = run("smpplib_policy.py", py).success_json();
    let submits = peer["submits"].as_array().expect("submits");
    let receipts = peer["receipts"].as_array().expect("receipts");
    for (submit, err) in submits.iter().zip(["401", "404"]) {
        assert_eq!(submit["status"], 0, "acknowledged: {peer}");
        let id = submit["message_id"].as_str().expect("id");
        let receipt = receipts
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no receipt for {id}: {peer}"));
        assert_eq!(receipt["stat"], "REJECTD", "{receipt}");
        assert_eq!(receipt["err"], err, "{receipt}");
    }
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();
    // The send log names the rule of each (the store, read with the gateway stopped).
    for (submit, rule) in submits.iter().zip(["blacklist", "signature"]) {
        let id = submit["message_id"].as_str().expect("id");
        let output = smppgate()
            .args(["messages", "show", "--json", "--config"])
            .arg(&config)
            .arg(id)
            .output()
            .expect("run smppgate messages show");
        assert!(output.status.success(), "{output:?}");
        let shown: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(shown["state"], "rejected", "{shown}");
        assert_eq!(shown["refused_by_rule"], rule, "{shown}");
    }
}
