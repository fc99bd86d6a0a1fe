//! Quiet hours end to end through a real `smppgate serve` process and a real client (PyPI
//! `smpplib`), the issue's words (#15): a marketing message at 22:00 recipient time is
//! accepted, not sent, and sent at 08:00 — clock injected, and across a restart.
//!
//! The gateway runs on a test clock (`SMPPGATE_TEST_CLOCK`: an offset to the system
//! clock, read from a file): it starts at 22:00 Beijing time and moves with real time; a
//! rewrite of the file jumps it. No sleeps: each step waits for an event (a process's
//! output, a receipt) with a bound.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Proc, python, smppgate, write_gateway_config};

/// 2026-12-06 00:00 UTC.
const DAY: u64 = 1_796_515_200_000;
const HOUR: u64 = 3_600_000;
/// 22:00 in Beijing (UTC+8) on 2026-12-06.
const TEN_PM_CN: u64 = DAY + 14 * HOUR;
/// 08:00 in Beijing the next morning.
const EIGHT_CN: u64 = DAY + 24 * HOUR;

fn write_config(dir: &Path) -> PathBuf {
    let rest = r#"
[[account]]
system_id = "shop"
password = "secret"
policy = "cn"

[[policy]]
name = "cn"
quiet_hours = { classes = ["marketing"], from = "21:00", to = "08:00" }

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

/// Puts the test clock at `wanted` (ms since the epoch) now.
fn set_clock(file: &Path, wanted: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let offset = i128::from(wanted) - i128::try_from(now).unwrap();
    std::fs::write(file, offset.to_string()).unwrap();
}

fn serve(config: &Path, clock: &Path) -> (Proc, std::net::SocketAddr) {
    let mut command = smppgate();
    command
        .env(smppgate::clock::TEST_CLOCK_ENV, clock)
        .arg("serve")
        .arg("--config")
        .arg(config);
    let mut proc = Proc::spawn("smppgate serve", command);
    let addr = proc.listening();
    (proc, addr)
}

fn client(
    addr: std::net::SocketAddr,
    messages: &Value,
    wait_receipts: &str,
) -> std::process::Command {
    let mut py = python("smpplib_policy.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args(["--system-id", "shop", "--password", "secret"])
        .args(["--timeout", "60"])
        .arg("--messages")
        .arg(messages.to_string())
        .args(["--wait-receipts", wait_receipts]);
    py
}

fn show(config: &Path, id: &str) -> Value {
    let output = smppgate()
        .args(["messages", "show", "--json", "--config"])
        .arg(config)
        .arg(id)
        .output()
        .expect("run smppgate messages show");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn millis(rfc3339: &Value) -> u64 {
    let time = humantime::parse_rfc3339(rfc3339.as_str().expect("a time")).expect("RFC 3339");
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

#[test]
fn marketing_at_22_is_accepted_not_sent_and_sent_at_8_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let clock = dir.path().join("clock");
    set_clock(&clock, TEN_PM_CN);

    // 22:00: the campaign is acknowledged; an OTP submitted with it goes at once (its
    // receipt comes back), the campaign's does not.
    let (gateway, addr) = serve(&config, &clock);
    let messages = json!([
        {"to": "+8613800138000", "service_type": "mkt", "text": "双十二大促", "receipt": true, "wait": false},
        {"to": "+8613800138000", "service_type": "otp", "text": "验证码 1234", "receipt": true},
    ]);
    let peer = support::run("smpplib_policy.py", client(addr, &messages, "")).success_json();
    let submits = peer["submits"].as_array().expect("submits");
    assert_eq!(submits[0]["status"], 0, "accepted: {peer}");
    assert_eq!(submits[1]["status"], 0, "accepted: {peer}");
    let campaign = submits[0]["message_id"].as_str().expect("id").to_owned();
    let receipts: Vec<&Value> = peer["receipts"].as_array().unwrap().iter().collect();
    assert!(
        receipts
            .iter()
            .any(|r| r["id"] == submits[1]["message_id"] && r["stat"] == "DELIVRD"),
        "the OTP went at once: {peer}"
    );
    assert!(
        receipts.iter().all(|r| r["id"] != campaign.as_str()),
        "the campaign was sent at 22:00: {peer}"
    );
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();

    // Stopped: the send log holds it, accepted, waiting for 08:00 because of quiet hours.
    let shown = show(&config, &campaign);
    assert_eq!(shown["state"], "accepted", "{shown}");
    assert_eq!(shown["deferred_by"], "quiet_hours", "{shown}");
    assert_eq!(millis(&shown["not_before"]), EIGHT_CN, "{shown}");

    // Started again at 23:30, still quiet; a client waits for the campaign's receipt.
    set_clock(&clock, TEN_PM_CN + 90 * 60_000);
    let (gateway, addr) = serve(&config, &clock);
    let mut waiter = client(addr, &json!([]), &campaign);
    waiter.stdout(Stdio::piped()).stderr(Stdio::piped());
    let waiter = waiter.spawn().expect("spawn smpplib_policy.py");
    // The night passes: the clock jumps to two seconds before 08:00.
    set_clock(&clock, EIGHT_CN - 2_000);
    let output = waiter.wait_with_output().expect("smpplib_policy.py");
    let peer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "smpplib_policy.py: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success(), "{peer}");
    let receipt = peer["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == campaign.as_str())
        .unwrap_or_else(|| panic!("no receipt for the campaign: {peer}"));
    assert_eq!(receipt["stat"], "DELIVRD", "{receipt}");
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();

    // Sent at 08:00 (its part's last change is the receipt, within seconds of sending).
    let shown = show(&config, &campaign);
    assert_eq!(shown["state"], "delivered", "{shown}");
    let updated = millis(&shown["parts"][0]["updated"]);
    assert!(
        (EIGHT_CN..EIGHT_CN + 10_000).contains(&updated),
        "sent {} ms from 08:00: {shown}",
        i128::from(updated) - i128::from(EIGHT_CN)
    );
}
