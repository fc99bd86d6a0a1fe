//! Rule 7's `sensitive_action = "hold"` (issue #15) through a real `smppgate serve`, a
//! real client (PyPI `smpplib`) and a `smppgate sim` carrier: a held message is
//! acknowledged and not sent, `smppgate review list` shows it, it stays held across a
//! restart, `review release` sends it (the carrier gets it, the client its DELIVRD
//! receipt), `review refuse` ends it with a `stat:REJECTD err:403` receipt.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Sim, num, python, run, smppgate, write_gateway_config};

fn write_config(dir: &Path, sim: &Sim) -> PathBuf {
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(dir.join("lists/words.txt"), "法轮\n").unwrap();
    let rest = format!(
        r#"
[[account]]
system_id = "shop"
password = "secret"
policy = "cn"
signatures = ["【示例商城】"]

[[policy]]
name = "cn"
sensitive_words = "lists/words.txt"
sensitive_action = "hold"
require_signature = true

[[carrier]]
name = "sim"
address = "{sim}"
system_id = "gw"
password = "x"
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["sim"]
"#,
        sim = sim.addr
    );
    write_gateway_config(dir, &rest)
}

/// Runs the smpplib client as `shop`: submits `messages`, waits for the receipts of
/// `wait` (ids of earlier submits) too.
fn client(addr: std::net::SocketAddr, messages: &Value, wait: &[&str]) -> Value {
    let mut py = python("smpplib_policy.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args(["--system-id", "shop", "--password", "secret"])
        .arg("--messages")
        .arg(messages.to_string())
        .arg("--wait-receipts")
        .arg(wait.join(","));
    run("smpplib_policy.py", py).success_json()
}

fn review(config: &Path, args: &[&str]) -> support::Finished {
    run("smppgate review", {
        let mut command = smppgate();
        command.arg("review").args(args).arg("--config").arg(config);
        command
    })
}

#[test]
fn held_messages_wait_for_review_across_a_restart_then_are_released_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, config, gateway, _, ids) = start_and_hold_two(dir.path());
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    // Listed through the running gateway's control socket.
    let listed = review(&config, &["list"]);
    assert!(listed.status.success(), "{listed:?}");
    let rows: Vec<&String> = listed
        .stdout
        .iter()
        .filter(|l| l.contains("\tshop\t"))
        .collect();
    assert_eq!(rows.len(), 2, "{listed:?}");
    assert!(
        rows[0].contains("+8613800138001") && rows[0].contains("法轮"),
        "{rows:?}"
    );
    let decimal: Vec<String> = rows
        .iter()
        .map(|r| r.split('\t').next().unwrap().to_owned())
        .collect();

    // Held survives a restart: the send log shows it and the word.
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();
    let shown = run("smppgate messages show", {
        let mut command = smppgate();
        command
            .args(["messages", "show", "--json", "--config"])
            .arg(&config)
            .arg(ids[0]);
        command
    });
    assert!(shown.status.success(), "{shown:?}");
    let shown: Value = serde_json::from_str(&shown.stdout.join("\n")).expect("JSON");
    assert_eq!(shown["state"], "held", "{shown}");
    assert_eq!(shown["held_for_word"], "法轮", "{shown}");
    let (gateway, addr) = support::serve(&config);
    let listed = review(&config, &["list", "--account", "shop"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(
        listed
            .stdout
            .iter()
            .filter(|l| l.contains("\tshop\t"))
            .count(),
        2,
        "{listed:?}"
    );

    // Release the first, refuse the second; releasing again is refused.
    let released = review(&config, &["release", &decimal[0]]);
    assert!(released.status.success(), "{released:?}");
    let refused = review(&config, &["refuse", &decimal[1]]);
    assert!(refused.status.success(), "{refused:?}");
    let again = review(&config, &["release", &decimal[0]]);
    assert!(!again.status.success(), "{again:?}");
    assert!(again.stderr.contains("not held"), "{again:?}");
    let peer = client(addr, &json!([]), &ids);
    let receipts = peer["receipts"].as_array().expect("receipts");
    let receipt_of = |id: &str| {
        receipts
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no receipt for {id}: {peer}"))
    };
    assert_eq!(receipt_of(ids[0])["stat"], "DELIVRD", "{peer}");
    assert_eq!(receipt_of(ids[1])["stat"], "REJECTD", "{peer}");
    assert_eq!(receipt_of(ids[1])["err"], "403", "{peer}");
    let listed = review(&config, &["list"]);
    assert!(
        !listed.stdout.iter().any(|l| l.contains("\tshop\t")),
        "{listed:?}"
    );
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();
    // The carrier got the released message and only it.
    let counters = sim.stop();
    assert_eq!(num(&counters, "/submits"), 1, "{counters}");
}

/// A sim, a gateway on it with the config in `dir`, and two messages held there.
fn start_and_hold_two(
    dir: &Path,
) -> (
    Sim,
    PathBuf,
    support::Proc,
    std::net::SocketAddr,
    Vec<String>,
) {
    let sim = Sim::start(&[]);
    let config = write_config(dir, &sim);
    let (gateway, addr) = support::serve(&config);
    let ids = submit_two_held(addr);
    (sim, config, gateway, addr, ids)
}

/// Submits two held messages as `shop` (a word with separators inserted); returns their
/// ids as the client got them. Nothing is sent, so no receipt comes.
fn submit_two_held(addr: std::net::SocketAddr) -> Vec<String> {
    let held = |to: &str| {
        json!({ "to": to, "service_type": "notification", "receipt": true, "wait": false,
                "text": "【示例商城】法 轮 功 讲座" })
    };
    let peer = client(
        addr,
        &json!([held("+8613800138001"), held("+8613800138002")]),
        &[],
    );
    assert!(
        peer["receipts"].as_array().unwrap().is_empty(),
        "nothing sent, so no receipt: {peer}"
    );
    peer["submits"]
        .as_array()
        .expect("submits")
        .iter()
        .map(|s| {
            assert_eq!(s["status"], 0, "{peer}");
            s["message_id"].as_str().expect("message_id").to_owned()
        })
        .collect()
}

#[test]
fn with_the_gateway_stopped_review_works_on_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, config, gateway, _, ids) = start_and_hold_two(dir.path());
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();
    let listed = review(&config, &["list"]);
    assert!(listed.status.success(), "{listed:?}");
    let decimal: Vec<String> = listed
        .stdout
        .iter()
        .filter(|l| l.contains("\tshop\t"))
        .map(|r| r.split('\t').next().unwrap().to_owned())
        .collect();
    assert_eq!(decimal.len(), 2, "{listed:?}");
    let released = review(&config, &["release", &decimal[0]]);
    assert!(released.status.success(), "{released:?}");
    let refused = review(&config, &["refuse", &decimal[1]]);
    assert!(refused.status.success(), "{refused:?}");
    // Started again: the released one is sent, the refused one's receipt goes out.
    let (gateway, addr) = support::serve(&config);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let peer = client(addr, &json!([]), &ids);
    let receipts = peer["receipts"].as_array().expect("receipts");
    let stat = |id: &str| {
        receipts
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| (r["stat"].clone(), r["err"].clone()))
    };
    assert_eq!(stat(ids[0]).unwrap().0, "DELIVRD", "{peer}");
    assert_eq!(
        stat(ids[1]),
        Some((json!("REJECTD"), json!("403"))),
        "{peer}"
    );
    gateway.terminate();
    gateway.finish(Duration::from_secs(20)).success_json();
    assert_eq!(num(&sim.stop(), "/submits"), 1);
}
