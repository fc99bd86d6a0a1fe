//! A sensitive word cut across the parts of a message the client segmented itself (UDH),
//! through a real `smppgate serve`, a real client (PyPI `smpplib`, which splits long texts
//! itself) and a separate `smppgate sim` carrier (issue #15 §1.7, docs/adr/0016 §3): the
//! parts wait until the message is complete, so when the joined text holds a word no
//! part reaches the carrier (the sim's count) and the client gets `stat:REJECTD err:403`
//! for every part; an innocent long message still arrives in full.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Proc, one_carrier_route, python, smppgate, write_gateway_config};

#[test]
fn a_word_split_across_parts_sends_no_part_and_an_innocent_long_message_goes_whole() {
    let dir = tempfile::tempdir().unwrap();
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "法轮\n").unwrap();

    let mut sim = smppgate();
    sim.args(["sim", "--listen", "127.0.0.1:0"]);
    let mut sim = Proc::spawn("smppgate sim", sim);
    let carrier = sim.listening();

    let rest = format!(
        r#"
[[account]]
system_id = "shop"
password = "secret"
policy = "cn"

[[policy]]
name = "cn"
sensitive_words = "{}"
{}"#,
        words.display(),
        one_carrier_route("sim", &carrier.to_string(), "tps = 5000")
    );
    let config = write_gateway_config(dir.path(), &rest);
    let mut gateway = smppgate();
    gateway.arg("serve").arg("--config").arg(&config);
    let mut gateway = Proc::spawn("smppgate serve", gateway);
    let addr = gateway.listening();

    // smpplib cuts UCS-2 text every 67 characters: "法" ends part 1, "轮" begins part 2.
    let split = format!(
        "【示例商城】{}法轮 回T退订 {}",
        "促".repeat(60),
        "惠".repeat(20)
    );
    let innocent = format!("【示例商城】{}", "好".repeat(150));
    let messages = json!([
        {"to": "+8613800138000", "text": split, "receipt": true, "split": true},
        {"to": "+8613800138000", "text": innocent, "receipt": true, "split": true},
    ]);
    let mut py = python("smpplib_policy.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args(["--system-id", "shop", "--password", "secret"])
        .args(["--timeout", "60"])
        .arg("--messages")
        .arg(messages.to_string());
    let peer = support::run("smpplib_policy.py", py).success_json();

    let submits = peer["submits"].as_array().expect("submits");
    let receipts = peer["receipts"].as_array().expect("receipts");
    let receipt_of = |submit: &Value| {
        receipts
            .iter()
            .find(|r| r["id"] == submit["message_id"])
            .unwrap_or_else(|| panic!("no receipt for {submit}: {peer}"))
            .clone()
    };
    let (refused, sent): (Vec<&Value>, Vec<&Value>) = submits.iter().partition(|s| s["parts"] == 2);
    assert_eq!(refused.len(), 2, "the split message is two parts: {peer}");
    assert_eq!(sent.len(), 3, "the innocent one is three: {peer}");
    for part in &refused {
        assert_eq!(part["status"], 0, "each part is acknowledged: {peer}");
        let receipt = receipt_of(part);
        assert_eq!(receipt["stat"], "REJECTD", "{receipt}");
        assert_eq!(receipt["err"], "403", "{receipt}");
    }
    for part in &sent {
        assert_eq!(part["status"], 0, "{peer}");
        assert_eq!(receipt_of(part)["stat"], "DELIVRD", "{peer}");
    }
    gateway.stop(Duration::from_secs(20));

    // The carrier got the innocent message's three parts and nothing of the other.
    let counters = sim.stop(Duration::from_secs(20)).json();
    assert_eq!(counters["submits"], 3, "{counters}");
}
