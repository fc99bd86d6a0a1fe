//! A monthly frequency cap across restarts of a real `smppgate serve` (issue #15 §1.6):
//! `max = 1 per 30days` on marketing, with the send log's `retention` (1 hour) far
//! shorter than the cap, so after the first message's record is gone only the saved cap
//! counters (`cap_windows`, docs/adr/0016 §2) know that the number had its message.
//!
//! The gateway runs on a test clock (`SMPPGATE_TEST_CLOCK`, an offset to the system clock
//! read from a file). Run 1 (day 0) sends one marketing message and stops cleanly; run 2
//! (day 2) trims the send log (the record is older than `retention`) and stops; the
//! record is then checked gone; run 3 (day 3) is refused a second message to the same
//! number with the cap's status (0x402) while another number still gets one.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Proc, python, smppgate, write_gateway_config};

/// 2026-12-06 04:00 UTC: noon in Beijing, outside any quiet hours.
const NOON_CN: u64 = 1_796_515_200_000 + 4 * HOUR;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

const CAPPED: &str = "+8613800138000";
const OTHER: &str = "+8613800138001";

fn write_config(dir: &Path) -> PathBuf {
    // `retention` belongs to the `[store]` table the helper opens.
    let rest = r#"retention = "1h"

[[account]]
system_id = "shop"
password = "secret"
policy = "cn"

[[policy]]
name = "cn"
caps = [{ classes = ["marketing"], max = 1, per = "30days" }]

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
        .env("RUST_LOG", "info")
        .arg("serve")
        .arg("--config")
        .arg(config);
    let mut proc = Proc::spawn("smppgate serve", command);
    let addr = proc.listening();
    (proc, addr)
}

/// Submits marketing messages to `numbers` with smpplib, waiting for the receipts of those
/// accepted; the peer's report.
fn submit(addr: std::net::SocketAddr, numbers: &[&str]) -> Value {
    let messages: Vec<Value> = numbers
        .iter()
        .map(|to| json!({"to": to, "service_type": "mkt", "text": "【示例商城】双十二大促", "receipt": true}))
        .collect();
    let mut py = python("smpplib_policy.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args(["--system-id", "shop", "--password", "secret"])
        .args(["--timeout", "60"])
        .arg("--messages")
        .arg(Value::from(messages).to_string());
    support::run("smpplib_policy.py", py).success_json()
}

fn show(config: &Path, id: &str) -> std::process::Output {
    smppgate()
        .args(["messages", "show", "--json", "--config"])
        .arg(config)
        .arg(id)
        .output()
        .expect("run smppgate messages show")
}

#[test]
fn a_monthly_cap_holds_across_restarts_after_the_send_log_dropped_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let clock = dir.path().join("clock");

    // Day 0: the number's one marketing message of the month goes.
    set_clock(&clock, NOON_CN);
    let (gateway, addr) = serve(&config, &clock);
    let peer = submit(addr, &[CAPPED]);
    let first = &peer["submits"][0];
    assert_eq!(first["status"], 0, "accepted: {peer}");
    let first_id = first["message_id"].as_str().expect("an id").to_owned();
    assert!(
        peer["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == first_id.as_str() && r["stat"] == "DELIVRD"),
        "delivered: {peer}"
    );
    gateway.stop(Duration::from_secs(20));
    assert!(show(&config, &first_id).status.success(), "in the send log");

    // Day 2: the record is past `retention`; housekeeping's first round removes it.
    set_clock(&clock, NOON_CN + 2 * DAY);
    let (gateway, _) = serve(&config, &clock);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gateway
        .stderr()
        .contains("retention: final messages removed")
    {
        assert!(
            Instant::now() < deadline,
            "no retention round within 30 s: {}",
            gateway.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    gateway.stop(Duration::from_secs(20));
    let gone = show(&config, &first_id);
    assert!(
        !gone.status.success(),
        "the send log still holds the first message: {}",
        String::from_utf8_lossy(&gone.stdout)
    );

    // Day 3: only the saved counters know; the number's second message of the month is
    // refused with the cap's status, another number's first still goes.
    set_clock(&clock, NOON_CN + 3 * DAY);
    let (gateway, addr) = serve(&config, &clock);
    let peer = submit(addr, &[CAPPED, OTHER]);
    let submits = peer["submits"].as_array().expect("submits");
    assert_eq!(submits[0]["status"], 0x402, "capped after restarts: {peer}");
    assert_eq!(submits[1]["status"], 0, "another number: {peer}");
    gateway.stop(Duration::from_secs(20));
}
