//! The admin token's write endpoints against a real gateway (in process, a recording
//! carrier on 127.0.0.1) with a real HTTP client: the suppression list (add, check,
//! list, remove, CSV import naming bad lines, CSV export), the blacklist (lookup,
//! reload), the review queue (list, release, refuse) and the replay of parked items.
//! Each answers 401 without the token and 403 to an account's key, and is in the
//! OpenAPI document.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use smppgate::config::{Config, HttpConfig, PolicyConfig, SensitiveAction};
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use smppgate::smsc::SmscServer;
use smppgate::store::{Op, OutboxItem};
use support::load::recording_carrier;
use support::within;

const KEY: &str = "sgk_test_key_of_the_demo_account";
const ADMIN: &str = "sga_test_admin_token";

fn config(carrier: &SmscServer, dir: &std::path::Path) -> Config {
    std::fs::write(dir.join("words.txt"), "forbidden\n").unwrap();
    std::fs::write(dir.join("black.txt"), "8613900000001\n").unwrap();
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = dir.join("store");
    config.carriers[0].address = carrier.local_addr().to_string();
    config.accounts[0].api_keys = vec![key_hash(KEY)];
    let mut policy = PolicyConfig::named("cn");
    policy.sensitive_words = Some(dir.join("words.txt"));
    policy.sensitive_action = SensitiveAction::Hold;
    policy.blacklists = vec![dir.join("black.txt")];
    config.accounts[0].policy = Some("cn".into());
    config.policies = vec![policy];
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
            // A well-formed receipt: replayed, it waits in the outbox for a receiver
            // (an undecodable one would be parked again at once, racing the check).
            deliver_sm: smppgate_protocol::codec::encode_to_bytes(
                &smppgate_protocol::pdu::Pdu::new(
                    1,
                    smppgate_protocol::pdu::Body::DeliverSm(
                        smppgate_protocol::pdu::DeliverSm::default(),
                    ),
                ),
            )
            .expect("encodes")
            .to_vec(),
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

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (u16, Vec<u8>) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = within(path, request.send()).await.expect("answer");
        let status = response.status().as_u16();
        let body = within(path, response.bytes()).await.expect("body");
        (status, body.to_vec())
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, body) = self
            .call(
                method,
                path,
                Some(ADMIN),
                body.map(|b| ("application/json", b.to_string())),
            )
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_writes_change_the_running_gateway() {
    use reqwest::Method;
    let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    let (carrier, recorder) = recording_carrier().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&carrier, dir.path());
    park_one(&config, "demo");
    let gateway = Gateway::start(config).await.expect("gateway");
    let api = Api {
        base: format!("http://{}", gateway.http_addr().expect("HTTP listener")),
        client: reqwest::Client::new(),
    };

    // Only the admin token.
    for (method, path) in [
        (Method::GET, "/v1/suppressions"),
        (Method::POST, "/v1/suppressions"),
        (Method::DELETE, "/v1/suppressions/global/8613800000001"),
        (Method::POST, "/v1/suppressions/import"),
        (Method::GET, "/v1/suppressions/export"),
        (Method::GET, "/v1/blacklist/8613900000001"),
        (Method::POST, "/v1/blacklist/reload"),
        (Method::GET, "/v1/review"),
        (Method::POST, "/v1/review/1/release"),
        (Method::POST, "/v1/review/1/refuse"),
        (Method::POST, "/v1/parked/replay?account=demo"),
    ] {
        let (status, _) = api.call(method.clone(), path, None, None).await;
        assert_eq!(status, 401, "{method} {path} without a key");
        let (status, _) = api.call(method.clone(), path, Some("wrong"), None).await;
        assert_eq!(status, 401, "{method} {path} with a wrong key");
        let (status, _) = api.call(method.clone(), path, Some(KEY), None).await;
        assert_eq!(status, 403, "{method} {path} with an account's key");
    }

    // Add, then a submit to that number is refused by the same list the SMPP side uses.
    let (status, body) = api
        .json(
            Method::POST,
            "/v1/suppressions",
            Some(json!({"scope": "account:demo", "number": "+8613800000001"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["added"]["number"], "8613800000001", "{body}");
    assert_eq!(body["added"]["source"], "cli", "{body}");
    // Opt-out lists apply to marketing (the policy's default opt_out_classes).
    let submit = |to: &str, text: &str| {
        api.call(
            Method::POST,
            "/v1/messages",
            Some(KEY),
            Some((
                "application/json",
                json!({"to": to, "text": text, "class": "marketing"}).to_string(),
            )),
        )
    };
    let (status, body) = submit("+8613800000001", "hello").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["messages"][0]["status"], "rejected", "{body}");
    // A bad scope and a bad number are named.
    let (status, body) = api
        .json(
            Method::POST,
            "/v1/suppressions",
            Some(json!({"scope": "planet:mars", "number": "+8613800000001"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("scope")),
        "{body}"
    );
    let (status, body) = api
        .json(
            Method::POST,
            "/v1/suppressions",
            Some(json!({"scope": "global", "number": "not a number"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("number")),
        "{body}"
    );

    // Import: good lines in, bad lines named by line number.
    let csv = "number,scope,since,source\n\
               8613800000002,global,,\n\
               not-a-number,global,,\n\
               8613800000003,,,\n\
               8613800000004,account:demo,5,import\n";
    let (status, body) = api
        .call(
            Method::POST,
            "/v1/suppressions/import",
            Some(ADMIN),
            Some(("text/csv", csv.to_owned())),
        )
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2, "{body}");
    assert_eq!(body["refused"], 2, "{body}");
    let problems: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(problems[0].starts_with("3:"), "{body}");
    assert!(problems[1].starts_with("4:"), "{body}");
    // With a default scope, line 4 goes in too.
    let (status, body) = api
        .call(
            Method::POST,
            "/v1/suppressions/import?scope=global",
            Some(ADMIN),
            Some(("text/csv", "8613800000003\n".to_owned())),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // Check: one number, in one scope or in every scope; list: paged.
    let (status, body) = api
        .json(Method::GET, "/v1/suppressions?number=8613800000004", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entries"][0]["scope"], "account:demo", "{body}");
    assert_eq!(body["entries"][0]["since"], 5, "{body}");
    let (_, body) = api
        .json(
            Method::GET,
            "/v1/suppressions?scope=global&number=8613800000004",
            None,
        )
        .await;
    assert_eq!(body["entries"], json!([]), "{body}");
    let (status, body) = api
        .json(Method::GET, "/v1/suppressions?limit=2", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entries"].as_array().unwrap().len(), 2, "{body}");
    let cursor = body["next_cursor"].as_u64().expect("a next page");
    let (_, body) = api
        .json(
            Method::GET,
            &format!("/v1/suppressions?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(body["entries"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["next_cursor"], Value::Null, "{body}");

    // Export: the four entries as CSV, which the import reads.
    let (status, csv) = api
        .call(Method::GET, "/v1/suppressions/export", Some(ADMIN), None)
        .await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "number,scope,since,source", "{csv}");
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(csv.contains("8613800000004,account:demo,5,import"), "{csv}");

    // Remove: off the list, and the number is served again.
    let (status, body) = api
        .json(
            Method::DELETE,
            "/v1/suppressions/account:demo/8613800000001",
            None,
        )
        .await;
    assert_eq!((status, &body["removed"]), (200, &json!(true)), "{body}");
    let (_, body) = api
        .json(
            Method::DELETE,
            "/v1/suppressions/account:demo/8613800000001",
            None,
        )
        .await;
    assert_eq!(body["removed"], false, "{body}");
    let (status, body) = submit("+8613800000001", "hello again").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["messages"][0]["status"], "accepted", "{body}");

    // Blacklist: which policy lists a number; reload reads the file again.
    let (status, body) = api
        .json(Method::GET, "/v1/blacklist/+8613900000001", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["policies"], json!(["cn"]), "{body}");
    let (_, body) = api
        .json(Method::GET, "/v1/blacklist/8613900000002", None)
        .await;
    assert_eq!(body["blacklisted"], false, "{body}");
    std::fs::write(dir.path().join("black.txt"), "8613900000002\nbad line\n").unwrap();
    let (status, body) = api.json(Method::POST, "/v1/blacklist/reload", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["policies"][0]["policy"], "cn", "{body}");
    assert_eq!(body["policies"][0]["ok"], true, "{body}");
    assert_eq!(body["policies"][0]["skipped"], 1, "{body}");
    let (_, body) = api
        .json(Method::GET, "/v1/blacklist/8613900000002", None)
        .await;
    assert_eq!(body["policies"], json!(["cn"]), "{body}");
    let (_, body) = api
        .json(Method::GET, "/v1/blacklist/8613900000001", None)
        .await;
    assert_eq!(body["blacklisted"], false, "{body}");

    // Review: two held messages; one released (reaches the carrier), one refused.
    for text in ["forbidden one", "forbidden two"] {
        let (status, body) = submit("+8613800000010", text).await;
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    }
    let (status, body) = api.json(Method::GET, "/v1/review", None).await;
    assert_eq!(status, 200, "{body}");
    let held = body["held"].as_array().expect("held");
    assert_eq!(held.len(), 2, "{body}");
    assert_eq!(body["next_cursor"], Value::Null, "{body}");
    assert_eq!(held[0]["word"], "forbidden", "{body}");
    // A page at a time: the second page starts after the first's last.
    let (_, page) = api.json(Method::GET, "/v1/review?limit=1", None).await;
    assert_eq!(page["held"].as_array().unwrap().len(), 1, "{page}");
    let cursor = page["next_cursor"].as_u64().expect("a next page");
    let (_, rest) = api
        .json(
            Method::GET,
            &format!("/v1/review?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["held"][0]["id"], held[1]["id"], "{rest}");
    assert_eq!(rest["next_cursor"], Value::Null, "{rest}");
    let (first, second) = (
        held[0]["id"].as_u64().unwrap(),
        held[1]["id"].as_u64().unwrap(),
    );
    let (status, body) = api
        .json(Method::POST, &format!("/v1/review/{first}/release"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["done"], "released", "{body}");
    within("the released message reaches the carrier", async {
        while recorder
            .seen
            .lock()
            .unwrap()
            .get(&b"forbidden one"[..])
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let (status, body) = api
        .json(Method::POST, &format!("/v1/review/{second}/refuse"), None)
        .await;
    assert_eq!((status, &body["done"]), (200, &json!("refused")), "{body}");
    // Decided once: a second decision is a conflict.
    let (status, _) = api
        .json(Method::POST, &format!("/v1/review/{second}/release"), None)
        .await;
    assert_eq!(status, 409);
    let (status, _) = api.json(Method::POST, "/v1/review/x1/release", None).await;
    assert_eq!(status, 400);
    let (_, body) = api.json(Method::GET, "/v1/review", None).await;
    assert_eq!(body["held"], json!([]), "{body}");
    assert!(
        recorder
            .seen
            .lock()
            .unwrap()
            .get(&b"forbidden two"[..])
            .is_none(),
        "a refused message is not sent"
    );

    // Parked: replayed back to the outbox, so no longer parked.
    let (_, body) = api.json(Method::GET, "/v1/parked?account=demo", None).await;
    assert_eq!(body["parked"].as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = api
        .json(Method::POST, "/v1/parked/replay?account=demo", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replayed"], 1, "{body}");
    let (_, body) = api.json(Method::GET, "/v1/parked?account=demo", None).await;
    assert_eq!(body["parked"], json!([]), "{body}");
    let (status, body) = api
        .json(Method::POST, "/v1/parked/replay?account=nobody", None)
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("account")),
        "{body}"
    );

    gateway.stop(Duration::from_secs(4)).await;
}

#[test]
fn admin_write_routes_are_in_the_openapi_document() {
    let document: Value = serde_json::from_str(&smppgate::http::openapi_document()).expect("JSON");
    for (method, path) in [
        ("get", "/v1/suppressions"),
        ("post", "/v1/suppressions"),
        ("delete", "/v1/suppressions/{scope}/{number}"),
        ("post", "/v1/suppressions/import"),
        ("get", "/v1/suppressions/export"),
        ("get", "/v1/blacklist/{number}"),
        ("post", "/v1/blacklist/reload"),
        ("get", "/v1/review"),
        ("post", "/v1/review/{id}/release"),
        ("post", "/v1/review/{id}/refuse"),
        ("post", "/v1/parked/replay"),
        ("post", "/v1/carriers/{name}/pause"),
        ("post", "/v1/carriers/{name}/resume"),
        ("post", "/v1/reload"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
}

/// Waits until `recorder` has seen a message with `text`.
async fn seen(recorder: &support::load::Recorder, text: &str) -> bool {
    recorder.seen.lock().unwrap().get(text.as_bytes()).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_carrier_keeps_its_binds_and_its_route_goes_past_it_until_resumed() {
    use reqwest::Method;
    let (first, first_seen) = recording_carrier().await;
    let (second, second_seen) = recording_carrier().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config(&first, dir.path());
    config.accounts[0].policy = None;
    config.policies.clear();
    let mut backup = config.carriers[0].clone();
    backup.name = "backup".into();
    backup.address = second.local_addr().to_string();
    let primary = config.carriers[0].name.clone();
    config.carriers.push(backup);
    config.routes[0].carriers = vec![primary.clone(), "backup".into()];
    config.validate().expect("valid configuration");
    let gateway = Gateway::start(config).await.expect("gateway");
    let api = Api {
        base: format!("http://{}", gateway.http_addr().expect("HTTP listener")),
        client: reqwest::Client::new(),
    };
    let carrier_state = |body: &Value, name: &str| {
        body["carriers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("carrier {name} in {body}"))
    };
    within("both carriers bound", async {
        loop {
            let (_, body) = api.json(Method::GET, "/v1/carriers", None).await;
            if carrier_state(&body, &primary)["binds_up"].as_u64() >= Some(1)
                && carrier_state(&body, "backup")["binds_up"].as_u64() >= Some(1)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let submit = |text: &str| {
        api.call(
            Method::POST,
            "/v1/messages",
            Some(KEY),
            Some((
                "application/json",
                json!({"to": "+8613800000001", "text": text}).to_string(),
            )),
        )
    };

    let (status, body) = api
        .json(Method::POST, &format!("/v1/carriers/{primary}/pause"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true, "{body}");
    let (_, body) = api.json(Method::GET, "/v1/carriers", None).await;
    let state = carrier_state(&body, &primary);
    assert_eq!(state["paused_by_operator"], true, "{body}");
    assert!(
        state["binds_up"].as_u64() >= Some(1),
        "binds stay up: {body}"
    );
    let (_, page) = api.call(Method::GET, "/", Some(ADMIN), None).await;
    assert!(
        String::from_utf8_lossy(&page).contains("paused by operator"),
        "the status page shows it"
    );

    assert_eq!(submit("while paused").await.0, 202);
    within("the backup carrier takes it", async {
        while !seen(&second_seen, "while paused").await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(!seen(&first_seen, "while paused").await);

    let (status, body) = api
        .json(
            Method::POST,
            &format!("/v1/carriers/{primary}/resume"),
            None,
        )
        .await;
    assert_eq!((status, &body["changed"]), (200, &json!(true)), "{body}");
    assert_eq!(submit("after resume").await.0, 202);
    within("the primary takes it again", async {
        while !seen(&first_seen, "after resume").await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let (status, _) = api
        .json(Method::POST, "/v1/carriers/nowhere/pause", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call(
            Method::POST,
            &format!("/v1/carriers/{primary}/pause"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(status, 403);
    gateway.stop(Duration::from_secs(4)).await;
}
