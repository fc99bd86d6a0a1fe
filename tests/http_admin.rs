//! The admin token's read endpoints against a real gateway (in process, a recording
//! carrier on 127.0.0.1) with a real HTTP client: `GET /v1/stats`, `GET /v1/carriers`,
//! `GET /v1/parked` answer the admin token, 403 an account's key, 401 no key or a wrong
//! one; each is in the OpenAPI document.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use smppgate::config::{Config, HttpConfig};
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use smppgate::smsc::{ServerConfig, SmscServer};
use smppgate::store::{Op, OutboxItem};
use support::load::Recorder;
use support::within;

const KEY: &str = "sgk_test_key_of_the_demo_account";
const ADMIN: &str = "sga_test_admin_token";

async fn carrier() -> (SmscServer, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let server = SmscServer::bind(
        "127.0.0.1:0",
        ServerConfig::default(),
        Arc::clone(&recorder),
    )
    .await
    .expect("carrier listens");
    (server, recorder)
}

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
            queued: 1_000,
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
            at: 2_000,
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
    let (carrier, recorder) = carrier().await;
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
    for path in ["/v1/stats", "/v1/carriers", "/v1/parked"] {
        assert!(
            document["paths"][path]["get"].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}
