//! What an operator deploys with (`deploy/`) matches the gateway it deploys:
//! - every metric the Grafana dashboard and the Prometheus alerts query is served on
//!   `/metrics` of a running `smppgate serve` that has taken a little traffic;
//! - the alerts pass `promtool check rules` and their unit tests (`promtool test rules`);
//! - the systemd unit passes `systemd-analyze verify` with no warning, its sandbox rates
//!   under 2 in `systemd-analyze security`, and the SIGHUP its `ExecReload` sends does
//!   not stop the gateway.
//!
//! `promtool` (Debian `prometheus`) and `systemd-analyze` (Debian `systemd`) are installed
//! by `scripts/install-tools`; where one is absent the test that needs it says so and
//! passes without checking.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::{Address, RegisteredDelivery};
use support::{bind_demo, http_get, serve_demo};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

/// Every `smppgate_…` identifier in a PromQL expression (`_bucket`, `_sum`, `_count`
/// included: the exporter serves those names as such).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("smppgate_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        // Not the end of a longer identifier (`foo_smppgate_x`).
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.push(tail[..len].to_owned());
        }
        rest = &tail[len..];
    }
    names
}

/// The `expr` of every dashboard target.
fn dashboard_exprs() -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                        _ => walk(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(deploy("grafana/smppgate.json")).expect("dashboard");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    walk(&json, &mut exprs);
    exprs
}

/// The `expr:` of every rule in the alerts file: inline, or a block scalar (`expr: |`)
/// made of the lines indented deeper than the key.
fn alert_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(deploy("prometheus/alerts.yml")).expect("alerts");
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let indent = line.len() - line.trim_start().len();
            let mut block = String::new();
            while i < lines.len()
                && (lines[i].trim().is_empty()
                    || lines[i].len() - lines[i].trim_start().len() > indent)
            {
                block.push_str(lines[i].trim());
                block.push('\n');
                i += 1;
            }
            exprs.push(block);
        } else {
            exprs.push(value.to_owned());
        }
    }
    exprs
}

#[test]
fn the_promql_scanner_finds_metric_names() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le) (rate(smppgate_store_commit_seconds_bucket{instance=~"$instance"}[5m]))) / x_smppgate_no"#
        ),
        ["smppgate_store_commit_seconds_bucket"]
    );
    let alerts = alert_exprs();
    assert_eq!(alerts.len(), 6, "{alerts:?}");
    assert!(
        alerts
            .iter()
            .any(|e| e.contains("smppgate_store_commit_seconds_bucket")),
        "the block scalars are read: {alerts:?}"
    );
    assert!(dashboard_exprs().len() > 20);
}

#[test]
fn the_dashboard_is_importable() {
    let text = std::fs::read_to_string(deploy("grafana/smppgate.json")).expect("dashboard");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(json["uid"], "smppgate");
    let panels = json["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("id")),
            "{title}: id twice"
        );
        let grid = &panel["gridPos"];
        let at = |key: &str| grid[key].as_u64().expect("gridPos");
        assert!(at("x") + at("w") <= 24, "{title}: wider than the dashboard");
        for x in at("x")..at("x") + at("w") {
            for y in at("y")..at("y") + at("h") {
                assert!(cells.insert((x, y)), "{title} overlaps another panel");
            }
        }
        if panel["type"] != "row" {
            // The data source is the dashboard's variable: importable anywhere.
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{title}: no query");
        }
    }
}

fn wanted_metrics() -> BTreeSet<String> {
    dashboard_exprs()
        .iter()
        .chain(alert_exprs().iter())
        .flat_map(|expr| metric_names(expr))
        .collect()
}

/// The names in `wanted` that `page` (Prometheus text) does not serve.
fn missing<'a>(wanted: &'a BTreeSet<String>, page: &str) -> Vec<&'a String> {
    let served: BTreeSet<&str> = page
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    wanted
        .iter()
        .filter(|name| !served.contains(name.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_alerts_query_is_served_by_a_running_gateway() {
    let wanted = wanted_metrics();
    assert!(wanted.len() > 20, "{wanted:?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let (gateway, addr, metrics) = serve_demo(dir.path());

    // A little traffic: messages that get receipts (through the outbox), and one the
    // gateway refuses (the rejection counters).
    let (client, mut inbound) = bind_demo(addr).await;
    const MESSAGES: usize = 10;
    for n in 0..MESSAGES {
        let response = client
            .submit(SubmitSm {
                source_addr: Address::international("10690000"),
                destination_addr: Address::international("8613800138000"),
                registered_delivery: RegisteredDelivery(1),
                short_message: Bytes::from(format!("dashboard {n}")),
                ..SubmitSm::default()
            })
            .await
            .expect("response");
        assert!(response.is_ok(), "{}", response.status());
    }
    let refused = client
        .submit(SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international(""),
            short_message: Bytes::from_static(b"nowhere"),
            ..SubmitSm::default()
        })
        .await
        .expect("response");
    assert!(!refused.is_ok(), "an empty destination is refused");
    // And the HTTP API answers once (its answers counter), at the address the demo
    // records beside its store.
    let api = std::fs::read_to_string(dir.path().join("data").join("API")).expect("API file");
    let api = api.trim().trim_start_matches("http://").to_owned();
    let answer = http_get(&api, "/openapi.json");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for _ in 0..MESSAGES {
        tokio::time::timeout(Duration::from_secs(10), inbound.recv())
            .await
            .expect("receipt in time")
            .expect("inbound open");
    }

    // Gauges and the gateway counters are published once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (page, absent) = loop {
        let page = http_get(&metrics, "/metrics");
        let absent: Vec<String> = missing(&wanted, &page).into_iter().cloned().collect();
        if absent.is_empty() || Instant::now() > deadline {
            break (page, absent);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        absent.is_empty(),
        "queried by deploy/ but not on /metrics: {absent:?}\n{page}"
    );
    // Histograms, not summaries: Grafana aggregates them across nodes.
    assert!(
        page.contains("smppgate_store_commit_seconds_bucket{le=\"0.05\"}"),
        "{page}"
    );
    assert!(
        !page.contains("quantile="),
        "no client-side summaries: {page}"
    );

    // systemd's ExecReload: SIGHUP is logged, the gateway keeps serving.
    gateway.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gateway.stderr().contains("SIGHUP") {
        assert!(
            Instant::now() < deadline,
            "no SIGHUP log line: {}",
            gateway.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = http_get(&metrics, "/metrics");
    assert!(
        page.contains("200 OK"),
        "still serving after SIGHUP: {page}"
    );

    client.unbind().await;
    let finished = gateway.stop(Duration::from_secs(20));
    assert_eq!(finished.json()["accepted"], MESSAGES, "{finished:?}");
}

/// Runs `tool args…` in `dir` when the tool is installed; `None` (with a message) when not.
fn run_tool(tool: &str, args: &[&str], dir: &Path) -> Option<std::process::Output> {
    match Command::new(tool).args(args).current_dir(dir).output() {
        Ok(output) => Some(output),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: `{tool}` is not installed (scripts/install-tools installs it)");
            None
        }
        Err(error) => panic!("{tool}: {error}"),
    }
}

#[test]
fn the_alerts_pass_promtool_and_their_unit_tests() {
    let dir = deploy("prometheus");
    let Some(check) = run_tool("promtool", &["check", "rules", "alerts.yml"], &dir) else {
        return;
    };
    assert!(check.status.success(), "{check:?}");
    let tests = run_tool("promtool", &["test", "rules", "alerts.test.yml"], &dir)
        .expect("promtool was there a moment ago");
    assert!(tests.status.success(), "{tests:?}");
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(deploy("systemd/smppgate.service")).expect("unit");
    for directive in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=smppgate",
        "LimitNOFILE=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(directive), "{directive} missing");
    }
    // `verify` checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("smppgate.service");
    let unit = unit.replace("/usr/local/bin/smppgate", env!("CARGO_BIN_EXE_smppgate"));
    std::fs::write(&path, unit).expect("write the unit");
    let Some(output) = run_tool(
        "systemd-analyze",
        &["verify", path.to_str().expect("utf-8 path")],
        dir.path(),
    ) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // An unknown or misspelt directive is only a warning (exit 0), naming the file.
    assert!(
        !stderr.contains("smppgate.service"),
        "systemd-analyze warns about the unit:\n{stderr}"
    );
    // The sandbox: systemd's exposure score (0 best, 10 worst) stays "OK" (< 2).
    let path = path.to_str().expect("utf-8 path");
    let security = run_tool(
        "systemd-analyze",
        &["security", "--offline=yes", path],
        dir.path(),
    )
    .expect("systemd-analyze was there a moment ago");
    let text = String::from_utf8_lossy(&security.stdout);
    let Some(score) = text
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for "))
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|score| score.parse::<f64>().ok())
    else {
        eprintln!(
            "SKIPPED: this systemd-analyze has no `security --offline` (systemd < 252): {}",
            String::from_utf8_lossy(&security.stderr)
        );
        return;
    };
    assert!(score < 2.0, "exposure {score}:\n{text}");
}
