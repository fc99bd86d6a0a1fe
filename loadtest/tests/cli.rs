//! `smpp-loadtest` (the binary) against the in-process simulator.

use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use smppgate::sim::{Sim, SimConfig};

async fn sim(credentials: bool) -> Sim {
    let mut config = SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        receipt_delay: Duration::from_millis(20),
        ..SimConfig::default()
    };
    if credentials {
        config.system_id = Some("lt".to_owned());
        config.password = Some("secret".to_owned());
    }
    Sim::start(config).await.expect("sim starts")
}

async fn loadtest(args: &[&str]) -> Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_smpp-loadtest"))
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("smpp-loadtest finishes within 2 minutes")
        .expect("smpp-loadtest runs")
}

fn last_json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().expect("some stdout");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line {line:?} is not JSON: {e}"))
}

fn run_args<'a>(addr: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--connect",
        addr,
        "--system-id",
        "lt",
        "--password",
        "secret",
    ];
    args.extend_from_slice(extra);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_matches_the_sims_counters() {
    let sim = sim(true).await;
    let addr = sim.local_addr().to_string();
    let output = loadtest(&run_args(
        &addr,
        &["--count", "5000", "--binds", "2", "--window", "32"],
    ))
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let last = last_json(&output);
    assert_eq!(last["sent"], 5000);
    assert_eq!(last["resp_ok"], 5000);
    assert_eq!(last["resp_err"], 0);
    for key in [
        "receipts",
        "elapsed_s",
        "rate",
        "p50_ms",
        "p99_ms",
        "p999_ms",
    ] {
        assert!(last[key].is_number(), "{key} in {last}");
    }
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), 5000);
    assert_eq!(sim.counters().binds.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_all_matched_with_a_mix() {
    let sim = sim(false).await;
    let addr = sim.local_addr().to_string();
    let dir = std::env::temp_dir().join(format!("smpp-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("run.json");
    let html_path = dir.join("run.html");
    let output = loadtest(&run_args(
        &addr,
        &[
            "--count",
            "2000",
            "--binds",
            "2",
            "--receipts",
            "--receipt-timeout",
            "20s",
            "--mix",
            "short-gsm=70,long-gsm=10,long-ucs2=20",
            "--json",
            json_path.to_str().unwrap(),
            "--html",
            html_path.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let last = last_json(&output);
    let sent = last["sent"].as_u64().unwrap();
    assert!(sent > 2000, "long messages add parts: {sent}");
    assert_eq!(last["receipts"], sent);
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), sent);

    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).expect("--json parses");
    assert_eq!(document["messages"], 2000);
    assert_eq!(document["sent"], sent);
    assert_eq!(document["receipts"]["matched"], sent);
    assert_eq!(document["receipts"]["unmatched"], 0);
    assert_eq!(document["receipts"]["missing"], 0);
    for section in ["submit_resp", "receipts"] {
        let latency = if section == "receipts" {
            &document[section]["latency"]
        } else {
            &document[section]
        };
        for key in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"] {
            assert!(latency[key].as_f64().unwrap() > 0.0, "{section}.{key}");
        }
    }
    assert!(
        document["throughput_per_s"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    let over_time = document["latency_over_time"]
        .as_array()
        .expect("latency over time");
    let counted: u64 = over_time.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, sent, "every response in one slot");
    assert!(
        over_time
            .iter()
            .all(|s| s["p99_ms"].as_f64().unwrap() > 0.0)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg"));
    // The mix in words, the receipts as formatted figures.
    assert!(html.contains("20 % long UCS-2 Chinese texts"), "{html}");
    let matched = format!(
        "<th>Matched</th><td class=\"n\">{}</td>",
        smppgate_loadtest::format::thousands(sent)
    );
    assert!(html.contains(&matched), "{html}");
    std::fs::remove_dir_all(&dir).ok();
}

async fn open_loop(rate: &str, duration: &str, expected: f64) {
    let sim = sim(false).await;
    let addr = sim.local_addr().to_string();
    let output = loadtest(&run_args(
        &addr,
        &["--rate", rate, "--duration", duration, "--binds", "2"],
    ))
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let last = last_json(&output);
    #[allow(clippy::cast_precision_loss)]
    let sent = last["sent"].as_u64().unwrap() as f64;
    assert!(
        (sent - expected).abs() <= expected * 0.02,
        "sent {sent}, expected {expected} ± 2 %"
    );
    let elapsed = last["elapsed_s"].as_f64().unwrap();
    let nominal: f64 = duration.trim_end_matches('s').parse().unwrap();
    assert!(elapsed < nominal * 1.3, "elapsed {elapsed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_2000_per_second_for_10s() {
    open_loop("2000", "10s", 20_000.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_500_per_second_for_2s() {
    open_loop("500", "2s", 1000.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bind_exits_1_with_error() {
    let sim = sim(true).await;
    let addr = sim.local_addr().to_string();
    let output = loadtest(&[
        "--connect",
        &addr,
        "--system-id",
        "lt",
        "--password",
        "wrong",
        "--count",
        "10",
    ])
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
    // Nothing listening.
    let output = loadtest(&run_args("127.0.0.1:1", &["--count", "1"])).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
}

#[tokio::test]
async fn bad_arguments_exit_2() {
    for extra in [
        &["--count", "1", "--mix", "bogus=3"][..],
        &["--count", "1", "--mix", "short-gsm=0"],
        &["--count", "1", "--rate", "-5"],
        &["--count", "1", "--duration", "soon"],
        &[],
        &["--count", "1", "--receipts", "--bind", "tx"],
        &["--count", "1", "--window", "0"],
    ] {
        let output = loadtest(&run_args("127.0.0.1:1", extra)).await;
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {output:?}");
    }
}
