//! `smpp-loadtest` against a third-party SMSC: the npm `smpp` server of the interop tests
//! (`tests/peers/node_server.js`, installed by `scripts/install-peers`). The load tester's
//! counts must agree with what that server counted on its side.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")
}

#[test]
fn counts_agree_with_the_node_smpp_servers_counters() {
    let dir = peers_dir();
    assert!(
        dir.join("node_modules/smpp/package.json").is_file(),
        "the npm `smpp` peer is not installed: run scripts/install-peers"
    );
    // Exits by itself (printing its summary) once both binds have unbound; at the latest
    // after its own timeout, so a stuck run cannot hang the test.
    let mut server = Command::new("node")
        .arg(dir.join("node_server.js"))
        .args(["--port", "0", "--timeout-ms", "60000"])
        .args(["--exit-after-unbinds", "2", "--brief"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(server.stdout.take().expect("piped")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {first:?}"))
        .to_owned();

    let output = Command::new(env!("CARGO_BIN_EXE_smpp-loadtest"))
        .args(["--connect", &addr, "--system-id", "lt", "--password", "pw"])
        .args(["--binds", "2", "--window", "16", "--count", "3000"])
        .args(["--receipts", "--receipt-timeout", "20s"])
        .output()
        .expect("smpp-loadtest runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let last: Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("JSON");

    let summary = lines.last().expect("a summary").expect("utf-8");
    let status = server.wait().expect("node exits");
    let summary: Value = serde_json::from_str(&summary).expect("JSON summary");
    assert!(status.success(), "{summary}");

    assert_eq!(last["sent"], 3000, "{last}");
    assert_eq!(last["sent"], summary["submits"], "{last} vs {summary}");
    assert_eq!(last["resp_ok"], 3000, "{last}");
    assert_eq!(last["resp_err"], 0, "{last}");
    assert_eq!(summary["receipts_sent"], 3000, "{summary}");
    assert_eq!(last["receipts"], summary["receipts_sent"], "{last}");
    assert_eq!(summary["receipt_resps_ok"], 3000, "{summary}");
    assert_eq!(summary["binds"].as_array().map(Vec::len), Some(2));
    assert_eq!(summary["unbinds"], 2);
    assert_eq!(summary["errors"], serde_json::json!([]), "{summary}");
}
