//! `smppgate send --config`: through the pool to the configuration's built-in simulator.

use std::process::Command;

use serde_json::Value;

const CONFIG: &str = r#"
[[carrier]]
name = "sim-a"
address = "sim"
system_id = "smppgate"
password = "sim"
binds = 2
window = 32
tps = 1000

[[route]]
name = "cn"
prefixes = ["86"]
carriers = ["sim-a"]
"#;

fn send(args: &[&str]) -> (i32, Value) {
    let dir = std::env::temp_dir().join(format!("carrier-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("pool.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_smppgate"))
        .arg("send")
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .expect("run smppgate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let document = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), document)
}

#[test]
fn a_long_message_goes_through_the_pool_part_by_part() {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(8);
    let (code, document) = send(&["--to", "+8613800138000", "--text", &text, "--class", "otp"]);
    assert_eq!(code, 0, "{document}");
    let parts = document["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 3);
    for (index, part) in parts.iter().enumerate() {
        assert_eq!(part["part"], index + 1);
        assert_eq!(part["status_name"], "ESME_ROK");
        assert_eq!(part["carrier"], "sim-a");
        assert!(part["message_id"].as_str().is_some_and(|id| !id.is_empty()));
    }
    assert_eq!(document["class"], "otp");
}

#[test]
fn count_reports_rate_carriers_and_statuses() {
    let (code, document) = send(&[
        "--to",
        "8613800138000",
        "--text",
        "hi",
        "--count",
        "500",
        "--rate",
        "2000",
    ]);
    assert_eq!(code, 0, "{document}");
    assert_eq!(document["accepted"], 500);
    assert_eq!(document["carriers"]["sim-a"], 500);
    assert_eq!(document["statuses"]["ESME_ROK"], 500);
    assert_eq!(document["retried"], 0);
    assert_eq!(document["failed_over"], 0);
    assert!(document["rate"].as_f64().unwrap() > 0.0);
    assert_eq!(document["pool"]["carriers"][0]["submits"], 500);
}

#[test]
fn a_destination_without_a_route_fails() {
    let (code, _) = send(&["--to", "+4479460000", "--text", "hi"]);
    assert_eq!(code, 1);
}
