//! The admin token's read endpoints against a real gateway (in process, a recording
//! carrier on 127.0.0.1) with a real HTTP client: `GET /v1/stats`, `GET /v1/carriers`,
//! `GET /v1/parked` answer the admin token, 403 an account's key, 401 no key or a wrong
//! one; each is in the OpenAPI document.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use smppgate::config::{Config, HttpConfig};
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use smppgate::smsc::SmscServer;
use smppgate::store::{Op, OutboxItem};
use support::load::recording_carrier;
use support::within;

const KEY: &str = "sgk_test_key_of_the_demo_account";
const ADMIN: &str = "sga_test_admin_token";

fn config(carrier: &SmscServer, store: &std::path::Path) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = store.into();
    config.carriers[0].address = carrier.local_addr().to_string();
    config.carriers[0].binds = 2;
    config.accounts[0].api_keys = vec![key_hash(KEY)];
    config.http = Some(HttpConfig {
        listen: "127.0.0.1:0".into(),
        admin_token_hash: Some(key_hash(ADMIN)),
        ..HttpConfig::default()
    });
    config.validate().expect("valid configuration");
    config
}

/// Parks one outbox item of `account` in the store before the gateway opens it.
fn park_one(config: &Config, account: &str) {
    let store = smppgate::store::open(&config.store).expect("store opens");
    store
        .commit(&[Op::OutboxPush(OutboxItem {
            seq: 0,
            account: account.to_owned(),
            deliver_sm: b"not a deliver_sm".to_vec(),
            // Now: an item past the store's retention is dropped by housekeeping.
            queued: smppgate::store::now_millis(),
            attempts: 0,
        })])
        .expect("pushed");
    let seq = store.outbox(account, 10).expect("outbox")[0].seq;
    store
        .commit(&[Op::OutboxPark {
            account: account.to_owned(),
            seq,
            attempts: 5,
            status: 0x58,
            at: smppgate::store::now_millis(),
        }])
        .expect("parked");
}

async fn get(base: &str, key: Option<&str>, path: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("{base}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = within(path, request.send()).await.expect("answer");
    let status = response.status().as_u16();
    let body = within(path, response.bytes()).await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reads_answer_the_admin_token_only() {
    let (carrier, recorder) = recording_carrier().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&carrier, &dir.path().join("store"));
    park_one(&config, "demo");
    let gateway = Gateway::start(config).await.expect("gateway");
    let base = format!("http://{}", gateway.http_addr().expect("HTTP listener"));

    // One message through, so the statistics and the carrier counters have something.
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(json!({"to": "+8613800138000", "text": "counted"}).to_string())
        .send()
        .await
        .expect("submit answered");
    assert_eq!(response.status().as_u16(), 202);
    within("the carrier receives it", async {
        while recorder.seen.lock().unwrap().get(&b"counted"[..]).is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    for path in ["/v1/stats", "/v1/carriers", "/v1/parked"] {
        assert_eq!(get(&base, None, path).await.0, 401, "{path} without a key");
        assert_eq!(
            get(&base, Some("wrong"), path).await.0,
            401,
            "{path} wrong key"
        );
        let (status, body) = get(&base, Some(KEY), path).await;
        assert_eq!(status, 403, "{path} with an account's key: {body}");
        assert_eq!(body["error"], "forbidden");
    }

    // Statistics: one sent message on the demo account, by account and by carrier.
    let (status, body) = get(&base, Some(ADMIN), "/v1/stats?since=24h&by=account").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["by"], "account");
    let rows = body["rows"].as_array().expect("rows");
    let demo = rows
        .iter()
        .find(|row| row["group"] == "demo")
        .unwrap_or_else(|| panic!("a demo row: {body}"));
    assert_eq!(demo["sent"], 1, "{body}");
    let (status, body) = get(&base, Some(ADMIN), "/v1/stats").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0]["group"], "total", "{body}");
    let (status, body) = get(&base, Some(ADMIN), "/v1/stats?by=planet").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("by")),
        "{body}"
    );
    let (status, body) = get(&base, Some(ADMIN), "/v1/stats?since=yesterday-ish").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("since")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("RFC 3339") && !message.contains("--"),
        "{body}"
    );
    let (status, _) = get(&base, Some(ADMIN), "/v1/stats?bogus=1").await;
    assert_eq!(status, 400);

    // Carriers: the demo carrier with its two binds, their windows and its throttle state.
    let (status, body) = get(&base, Some(ADMIN), "/v1/carriers").await;
    assert_eq!(status, 200, "{body}");
    let carriers = body["carriers"].as_array().expect("carriers");
    assert_eq!(carriers.len(), 1, "{body}");
    let first = &carriers[0];
    assert_eq!(first["binds"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(first["binds"][0]["outstanding"].is_u64(), "{body}");
    assert!(first["paused"].is_boolean(), "{body}");
    assert!(first["refusing_by_throttle"].is_boolean(), "{body}");
    assert!(first["submits"].as_u64() >= Some(1), "{body}");
    assert!(body["routes"].is_array(), "{body}");

    // Parked: the one item parked before the start, filtered by account.
    let (status, body) = get(&base, Some(ADMIN), "/v1/parked").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["parked"].as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = get(&base, Some(ADMIN), "/v1/parked?account=demo").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["parked"].as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = get(&base, Some(ADMIN), "/v1/parked?account=nobody").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["parked"].as_array().map(Vec::len), Some(0), "{body}");

    gateway.stop(Duration::from_secs(4)).await;
}

#[test]
fn admin_routes_are_in_the_openapi_document() {
    let document: Value = serde_json::from_str(&smppgate::http::openapi_document()).expect("JSON");
    for path in ["/v1/stats", "/v1/carriers", "/v1/parked", "/"] {
        assert!(
            document["paths"][path]["get"].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

/// Runs headless Chromium with `args`; `None` when it is not installed (the test is then
/// skipped: Debian's `chromium` package provides it).
fn chromium(args: &[&str]) -> Option<std::process::Output> {
    use std::process::{Command, Stdio};
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let child = Command::new(name)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            // Nothing may be fetched: every host name fails to resolve.
            .arg("--host-resolver-rules=MAP * ~NOTFOUND")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while child.try_wait().expect("wait for chromium").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("{name} did not finish in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        return Some(child.wait_with_output().expect("chromium output"));
    }
    eprintln!("no chromium: the browser check is skipped");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_opens_with_the_admin_token_and_renders_in_headless_chromium() {
    let (carrier, _recorder) = recording_carrier().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config(&carrier, &dir.path().join("store"));
    // A name with markup in it: the page shows it as text.
    let marked = "<b>sim</b>&co";
    config.carriers[0].name = marked.into();
    config.routes[0].carriers = vec![marked.into()];
    config.validate().expect("valid configuration");
    let gateway = Gateway::start(config).await.expect("gateway");
    let base = format!("http://{}", gateway.http_addr().expect("HTTP listener"));
    let client = reqwest::Client::new();
    // Both binds up before the page is read.
    within("binds up", async {
        loop {
            let (_, body) = get(&base, Some(ADMIN), "/v1/carriers").await;
            if body["carriers"][0]["binds_up"] == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    for n in 0..3 {
        let response = client
            .post(format!("{base}/v1/messages"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(json!({"to": format!("+861380013800{n}"), "text": "page"}).to_string())
            .send()
            .await
            .expect("submit answered");
        assert_eq!(response.status().as_u16(), 202);
    }

    // No token: a Basic challenge, so a browser asks for it.
    let response = within("GET /", client.get(&base).send())
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic "), "{challenge}");
    for (user, password) in [("admin", "wrong"), ("admin", "")] {
        let response = within(
            "GET /",
            client.get(&base).basic_auth(user, Some(password)).send(),
        )
        .await
        .expect("answer");
        assert_eq!(response.status().as_u16(), 401, "{user}:{password}");
    }
    let response = within("GET /", client.get(&base).bearer_auth(KEY).send())
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 403, "an account's key");
    // The admin token as a bearer or as the Basic password.
    let response = within("GET /", client.get(&base).bearer_auth(ADMIN).send())
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let response = within(
        "GET /",
        client.get(&base).basic_auth("anyone", Some(ADMIN)).send(),
    )
    .await
    .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = within("body", response.text()).await.expect("body");
    assert!(html.contains("2/2"), "both binds up: {html}");
    assert!(
        html.contains("&lt;b&gt;sim&lt;/b&gt;&amp;co"),
        "escaped: {html}"
    );
    assert!(!html.contains(marked), "not as markup: {html}");
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched"
    );
    gateway.stop(Duration::from_secs(4)).await;

    // As a browser renders it.
    let page = dir.path().join("status.html");
    std::fs::write(&page, &html).expect("page written");
    let url = format!("file://{}", page.display());
    let Some(dom) = chromium(&["--dump-dom", &url]) else {
        return;
    };
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("smppgate status</h1>"), "{dom}");
    // One bind-state chart per carrier and per account row set: the carrier's two binds.
    assert_eq!(dom.matches("<circle").count(), 2, "{dom}");
    assert!(
        dom.contains("Delivery rate per carrier, last hour"),
        "{dom}"
    );
    let png = dir.path().join("status.png");
    let shot = chromium(&[
        "--window-size=1100,1000",
        &format!("--screenshot={}", png.display()),
        &url,
    ])
    .expect("chromium was there a moment ago");
    assert!(shot.status.success(), "{shot:?}");
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert_eq!(&bytes[1..4], b"PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    assert_eq!(width, 1100);
    // A blank page compresses to a few KiB; text and charts do not.
    assert!(
        bytes.len() > 20_000,
        "{} bytes: is the page blank?",
        bytes.len()
    );
    // `SMPPGATE_SCREENSHOT=docs/images/status-page.png` keeps it (for the docs).
    if let Some(keep) = std::env::var_os("SMPPGATE_SCREENSHOT") {
        std::fs::copy(&png, keep).expect("screenshot kept");
    }
}
