//! `POST /v1/reload` against a real gateway (in process, started from a file, a
//! recording carrier on 127.0.0.1): account TPS and API keys, the admin token and carrier
//! TPS change live, the rest is named as needing a restart; a file `check-config`
//! refuses is refused whole (422 with the problems), nothing applied; a gateway started
//! without a file answers 409.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use smppgate::config::Config;
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use support::load::recording_carrier;
use support::{one_carrier_route, within, write_gateway_config};

const OLD_KEY: &str = "sgk_reload_old_key";
const NEW_KEY: &str = "sgk_reload_new_key";
const ADMIN: &str = "sga_reload_admin_token";

fn write(
    dir: &Path,
    carrier: &str,
    key: &str,
    account_tps: u32,
    extra: &str,
) -> std::path::PathBuf {
    let rest = format!(
        r#"
[http]
listen = "127.0.0.1:0"
admin_token_hash = "{admin}"

[[account]]
system_id = "shop"
password = "{password}"
api_keys = ["{key}"]
tps = {account_tps}
"#,
        admin = key_hash(ADMIN),
        key = key_hash(key),
        password = if extra.contains("new password") {
            "changed"
        } else {
            "pw"
        },
    ) + &one_carrier_route(
        "sim",
        carrier,
        &format!(
            "tps = {}\n{}",
            if extra.contains("carrier 50") {
                50
            } else {
                100
            },
            if extra.contains("binds 2") {
                "binds = 2"
            } else {
                ""
            }
        ),
    );
    write_gateway_config(dir, &rest)
}

async fn call(
    base: &str,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = within(path, request.send()).await.expect("answer");
    let status = response.status().as_u16();
    let bytes = within(path, response.bytes()).await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_what_it_can_live_names_the_rest_and_refuses_a_bad_file_whole() {
    use reqwest::Method;
    let (carrier, _recorder) = recording_carrier().await;
    let dir = tempfile::tempdir().unwrap();
    let address = carrier.local_addr().to_string();
    let path = write(dir.path(), &address, OLD_KEY, 1, "");
    let gateway = Gateway::start(Config::load(&path).expect("valid"))
        .await
        .expect("gateway");
    let source_path = path.clone();
    gateway.set_config_source(Arc::new(move || Config::load(&source_path)));
    let base = format!("http://{}", gateway.http_addr().expect("HTTP listener"));
    let message = json!({"to": "+8613800138000", "text": "reload"});
    let submit = |key: &'static str| {
        call(
            &base,
            key,
            Method::POST,
            "/v1/messages",
            Some(message.clone()),
        )
    };

    // Unchanged: nothing to do.
    let (status, body) = call(&base, ADMIN, Method::POST, "/v1/reload", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["applied"], json!([]), "{body}");
    assert_eq!(body["restart_needed"], json!([]), "{body}");
    // tps = 1 (burst 1): the second submit at once is throttled.
    assert_eq!(submit(OLD_KEY).await.0, 202);
    assert_eq!(submit(OLD_KEY).await.0, 429);

    // New key, unlimited TPS, carrier TPS 50: live; a password and binds: restart.
    write(
        dir.path(),
        &address,
        NEW_KEY,
        0,
        "carrier 50 binds 2 new password",
    );
    let (status, body) = call(&base, ADMIN, Method::POST, "/v1/reload", None).await;
    assert_eq!(status, 200, "{body}");
    let applied = strings(&body["applied"]);
    for change in [
        "account[shop].tps",
        "account[shop].api_keys",
        "carrier[sim].tps",
    ] {
        assert!(
            applied.iter().any(|a| a == change),
            "{change} applied: {body}"
        );
    }
    let restart = strings(&body["restart_needed"]);
    for change in ["account[shop].password", "carrier[sim].binds"] {
        assert!(
            restart.iter().any(|a| a == change),
            "{change} needs a restart: {body}"
        );
    }
    assert!(
        !body.to_string().contains("changed"),
        "no value in the answer: {body}"
    );
    // In force: the old key is gone, the new one sends without a TPS limit.
    within("the HTTP keys follow the reload", async {
        while submit(OLD_KEY).await.0 != 401 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for _ in 0..5 {
        let (status, body) = submit(NEW_KEY).await;
        assert_eq!(status, 202, "{body}");
    }
    let (_, carriers) = call(&base, ADMIN, Method::GET, "/v1/carriers", None).await;
    assert_eq!(carriers["carriers"][0]["tps"], 50, "{carriers}");
    // The same file again: only the restart-needing changes are left to report.
    let (_, body) = call(&base, ADMIN, Method::POST, "/v1/reload", None).await;
    assert_eq!(body["applied"], json!([]), "{body}");
    assert!(!strings(&body["restart_needed"]).is_empty(), "{body}");

    // A file check-config refuses: 422 with its problems, nothing applied.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("tps = 0", "tps = \"fast\"")
            .replace(&key_hash(NEW_KEY), &key_hash(OLD_KEY)),
    )
    .unwrap();
    let (status, body) = call(&base, ADMIN, Method::POST, "/v1/reload", None).await;
    assert_eq!(status, 422, "{body}");
    let problems = strings(&body["problems"]);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("smppgate.toml") && p.contains("tps")),
        "{body}"
    );
    assert_eq!(
        submit(NEW_KEY).await.0,
        202,
        "the running keys are unchanged"
    );
    assert_eq!(submit(OLD_KEY).await.0, 401);
    // Only the admin token.
    assert_eq!(
        call(&base, NEW_KEY, Method::POST, "/v1/reload", None)
            .await
            .0,
        403
    );
    gateway.stop(Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_started_without_a_file_refuses_a_reload() {
    let (carrier, _recorder) = recording_carrier().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        &carrier.local_addr().to_string(),
        OLD_KEY,
        0,
        "",
    );
    let gateway = Gateway::start(Config::load(&path).expect("valid"))
        .await
        .expect("gateway");
    let base = format!("http://{}", gateway.http_addr().expect("HTTP listener"));
    let (status, body) = call(&base, ADMIN, reqwest::Method::POST, "/v1/reload", None).await;
    assert_eq!(status, 409, "{body}");
    gateway.stop(Duration::from_secs(4)).await;
}
