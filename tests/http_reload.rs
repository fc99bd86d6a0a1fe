//! `POST /v1/reload` against a real gateway (in process, started from a file, recording
//! carriers on 127.0.0.1, real SMPP binds): accounts (added, removed, changed), routes,
//! policy lists, API keys, the admin token and carrier TPS change live without dropping
//! the other binds; the rest is named as needing a restart; a file `check-config`
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

    // New key, unlimited TPS, carrier TPS 50, a password: live; binds: restart.
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
        "account[shop].password (next bind)",
        "carrier[sim].tps",
    ] {
        assert!(
            applied.iter().any(|a| a == change),
            "{change} applied: {body}"
        );
    }
    let restart = strings(&body["restart_needed"]);
    assert!(
        restart.iter().any(|a| a == "carrier[sim].binds"),
        "carrier[sim].binds needs a restart: {body}"
    );
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

/// A configuration of accounts `shop` (and `gone` when `with_gone`, `fresh` when
/// `with_fresh`), shop's password `shop_password`, two recording carriers `a` and `b`
/// and the default route `all` to `route_to`; with `words`, a policy `cn` refusing the
/// words of that file, passed by `shop`.
struct Setup<'a> {
    carrier_a: &'a str,
    carrier_b: &'a str,
    route_to: &'a str,
    shop_password: &'a str,
    with_gone: bool,
    with_fresh: bool,
    words: Option<&'a Path>,
}

fn write_setup(dir: &Path, setup: &Setup<'_>) -> std::path::PathBuf {
    let account = |name: &str, password: &str| {
        format!(
            "\n[[account]]\nsystem_id = \"{name}\"\npassword = \"{password}\"\napi_keys = [\"{key}\"]\n{policy}",
            key = key_hash(&format!("sgk_reload_{name}")),
            policy = if name == "shop" && setup.words.is_some() {
                "policy = \"cn\"\n"
            } else {
                ""
            },
        )
    };
    let mut rest = format!(
        "\n[http]\nlisten = \"127.0.0.1:0\"\nadmin_token_hash = \"{}\"\n",
        key_hash(ADMIN)
    );
    rest += &account("shop", setup.shop_password);
    if setup.with_gone {
        rest += &account("gone", "pw");
    }
    if setup.with_fresh {
        rest += &account("fresh", "pw");
    }
    for (name, address) in [("a", setup.carrier_a), ("b", setup.carrier_b)] {
        rest += &format!(
            "\n[[carrier]]\nname = \"{name}\"\naddress = \"{address}\"\nsystem_id = \"gw\"\npassword = \"x\"\ntps = 1000\n"
        );
    }
    rest += &format!(
        "\n[[route]]\nname = \"all\"\ndefault = true\ncarriers = [\"{}\"]\n",
        setup.route_to
    );
    if let Some(words) = setup.words {
        rest += &format!(
            "\n[[policy]]\nname = \"cn\"\nsensitive_words = \"{}\"\n",
            words.display()
        );
    }
    write_gateway_config(dir, &rest)
}

async fn start_from(path: &Path) -> (Gateway, String) {
    let gateway = Gateway::start(Config::load(path).expect("valid"))
        .await
        .expect("gateway");
    let source = path.to_path_buf();
    gateway.set_config_source(Arc::new(move || Config::load(&source)));
    let base = format!("http://{}", gateway.http_addr().expect("HTTP listener"));
    (gateway, base)
}

async fn bind(
    addr: std::net::SocketAddr,
    system_id: &str,
    password: &str,
) -> Result<(smppgate::esme::EsmeClient, smppgate::esme::Inbound), smppgate::esme::ConnectError> {
    use smppgate::esme::{EsmeClient, EsmeConfig};
    within(
        "a bind",
        EsmeClient::connect(&addr.to_string(), EsmeConfig::new(system_id, password)),
    )
    .await
}

fn submit_sm(text: &str) -> smppgate_protocol::pdu::SubmitSm {
    use smppgate_protocol::types::Address;
    smppgate_protocol::pdu::SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: bytes::Bytes::from(text.to_owned()),
        ..smppgate_protocol::pdu::SubmitSm::default()
    }
}

fn seen(recorder: &support::load::Recorder, text: &str) -> bool {
    recorder
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains_key(text.as_bytes())
}

async fn reload(base: &str) -> Value {
    let (status, body) = call(base, ADMIN, reqwest::Method::POST, "/v1/reload", None).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_added_removed_and_changed_live_and_the_other_binds_keep_submitting() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (carrier_a, recorder) = recording_carrier().await;
    let (carrier_b, _) = recording_carrier().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        carrier_a.local_addr().to_string(),
        carrier_b.local_addr().to_string(),
    );
    let mut setup = Setup {
        carrier_a: &a,
        carrier_b: &b,
        route_to: "a",
        shop_password: "pw",
        with_gone: true,
        with_fresh: false,
        words: None,
    };
    let path = write_setup(dir.path(), &setup);
    let (gateway, base) = start_from(&path).await;
    let addr = gateway.local_addr();
    assert!(
        bind(addr, "fresh", "pw").await.is_err(),
        "no such account yet"
    );
    let (shop, _shop_inbound) = bind(addr, "shop", "pw").await.expect("shop binds");
    let (gone, _gone_inbound) = bind(addr, "gone", "pw").await.expect("gone binds");
    assert!(gone.submit(submit_sm("gone before")).await.unwrap().is_ok());

    // shop keeps submitting, one at a time, all through the reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let pusher = {
        let (shop, stop, ok, errors) = (
            shop.clone(),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&errors),
        );
        tokio::spawn(async move {
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match shop.submit(submit_sm(&format!("shop {n}"))).await {
                    Ok(response) if response.is_ok() => ok.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    within("shop submits", async {
        while ok.load(Ordering::Relaxed) < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    // fresh added, gone removed, shop's password changed.
    setup.with_gone = false;
    setup.with_fresh = true;
    setup.shop_password = "changed";
    write_setup(dir.path(), &setup);
    let body = reload(&base).await;
    let applied = strings(&body["applied"]);
    for change in [
        "account[fresh] (added)",
        "account[gone] (removed: its binds are unbound)",
        "account[shop].password (next bind)",
    ] {
        assert!(applied.iter().any(|a| a == change), "{change}: {body}");
    }
    assert!(
        strings(&body["restart_needed"]).is_empty(),
        "nothing waits for a restart: {body}"
    );
    assert!(!body.to_string().contains("changed"), "no value: {body}");

    // The added account binds at once and sends.
    let (fresh, _fresh_inbound) = bind(addr, "fresh", "pw").await.expect("fresh binds");
    assert!(fresh.submit(submit_sm("fresh 1")).await.unwrap().is_ok());
    // The removed account's bind is unbound by the gateway; it cannot bind again.
    within("gone is unbound", gone.link().closed()).await;
    assert!(bind(addr, "gone", "pw").await.is_err());
    // The new password from the next bind on; the old one no longer.
    assert!(bind(addr, "shop", "pw").await.is_err());
    let (shop2, _shop2_inbound) = bind(addr, "shop", "changed")
        .await
        .expect("the new password binds");

    // shop's first bind stayed up and went on submitting, without a single error.
    let before = ok.load(Ordering::Relaxed);
    within("shop goes on after the reload", async {
        while ok.load(Ordering::Relaxed) < before + 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    within("the pusher stops", pusher).await.unwrap();
    assert!(!shop.link().is_closed(), "shop's bind was not dropped");
    assert_eq!(errors.load(Ordering::Relaxed), 0, "no submit failed");
    assert!(shop2.submit(submit_sm("shop2")).await.unwrap().is_ok());
    within("fresh's message reaches the carrier", async {
        while !seen(&recorder, "fresh 1") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    gateway.stop(Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_change_sends_the_next_message_by_the_other_carrier() {
    use reqwest::Method;
    let (carrier_a, recorder_a) = recording_carrier().await;
    let (carrier_b, recorder_b) = recording_carrier().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        carrier_a.local_addr().to_string(),
        carrier_b.local_addr().to_string(),
    );
    let mut setup = Setup {
        carrier_a: &a,
        carrier_b: &b,
        route_to: "a",
        shop_password: "pw",
        with_gone: false,
        with_fresh: false,
        words: None,
    };
    let path = write_setup(dir.path(), &setup);
    let (gateway, base) = start_from(&path).await;
    let (shop, _inbound) = bind(gateway.local_addr(), "shop", "pw")
        .await
        .expect("shop binds");
    let sent_to = |text: &'static str| {
        let (recorder_a, recorder_b) = (Arc::clone(&recorder_a), Arc::clone(&recorder_b));
        async move {
            within(text, async {
                loop {
                    match (seen(&recorder_a, text), seen(&recorder_b, text)) {
                        (true, _) => return "a",
                        (_, true) => return "b",
                        _ => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
            })
            .await
        }
    };
    assert!(shop.submit(submit_sm("before")).await.unwrap().is_ok());
    assert_eq!(sent_to("before").await, "a");

    setup.route_to = "b";
    write_setup(dir.path(), &setup);
    let body = reload(&base).await;
    assert!(
        strings(&body["applied"]).contains(&"route[all].carriers".to_owned()),
        "{body}"
    );
    assert!(shop.submit(submit_sm("after")).await.unwrap().is_ok());
    assert_eq!(sent_to("after").await, "b");

    // A route queue larger than the carrier pool's room sized at start (its lanes could
    // fill the pool while a carrier is down, and stop every other route): valid, but it
    // waits for a restart, and the route stays as it is.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("carriers = [\"b\"]", "carriers = [\"b\"]\nqueue = 1000000"),
    )
    .unwrap();
    let body = reload(&base).await;
    let restart = strings(&body["restart_needed"]);
    assert!(
        restart
            .iter()
            .any(|r| r.starts_with("route[all].queue (the routes' queues need ")),
        "{body}"
    );
    assert!(
        !strings(&body["applied"])
            .iter()
            .any(|a| a.contains("route")),
        "{body}"
    );
    assert!(shop.submit(submit_sm("queue kept")).await.unwrap().is_ok());
    assert_eq!(sent_to("queue kept").await, "b");

    // A route naming a carrier that does not exist: refused by the checks, nothing
    // applied.
    std::fs::write(
        &path,
        text.replace("carriers = [\"b\"]", "carriers = [\"nowhere\"]"),
    )
    .unwrap();
    let (status, body) = call(&base, ADMIN, Method::POST, "/v1/reload", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("nowhere"), "{body}");
    assert!(shop.submit(submit_sm("still b")).await.unwrap().is_ok());
    assert_eq!(sent_to("still b").await, "b");

    // A route to a carrier the same file adds: a valid file, but the carrier waits for a
    // restart and so does the route; the running routes are unchanged. An account the
    // file points at a new route over that carrier keeps its route too (before, it took
    // the new name at once and every submit was refused until a restart).
    std::fs::write(
        &path,
        text.replace("carriers = [\"b\"]", "carriers = [\"c\"]")
            .replace(
                "system_id = \"shop\"\n",
                "system_id = \"shop\"\nroute = \"via-c\"\n",
            )
            + &format!(
                "\n[[carrier]]\nname = \"c\"\naddress = \"{a}\"\nsystem_id = \"gw\"\npassword = \"x\"\ntps = 1000\n\n[[route]]\nname = \"via-c\"\nprefixes = [\"999\"]\ncarriers = [\"c\"]\n"
            ),
    )
    .unwrap();
    let body = reload(&base).await;
    let restart = strings(&body["restart_needed"]);
    for change in [
        "carrier[c] (added)",
        "route[all].carriers",
        "account[shop].route (route via-c is not in force until a restart)",
    ] {
        assert!(restart.iter().any(|r| r == change), "{change}: {body}");
    }
    assert!(
        !strings(&body["applied"])
            .iter()
            .any(|a| a.contains("route")),
        "{body}"
    );
    assert!(shop.submit(submit_sm("b again")).await.unwrap().is_ok());
    assert_eq!(sent_to("b again").await, "b");
    gateway.stop(Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sensitive_word_list_read_again_refuses_the_next_message() {
    let (carrier_a, _recorder) = recording_carrier().await;
    let dir = tempfile::tempdir().unwrap();
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "casino\n").unwrap();
    let a = carrier_a.local_addr().to_string();
    let setup = Setup {
        carrier_a: &a,
        carrier_b: &a,
        route_to: "a",
        shop_password: "pw",
        with_gone: false,
        with_fresh: false,
        words: Some(&words),
    };
    let path = write_setup(dir.path(), &setup);
    let (gateway, base) = start_from(&path).await;
    let (shop, _inbound) = bind(gateway.local_addr(), "shop", "pw")
        .await
        .expect("shop binds");
    let promo = "a promo for you";
    assert!(shop.submit(submit_sm(promo)).await.unwrap().is_ok());
    assert!(!shop.submit(submit_sm("casino")).await.unwrap().is_ok());

    // The list changes, the file does not: a reload reads the list again.
    std::fs::write(&words, "casino\npromo\n").unwrap();
    reload(&base).await;
    let refused = shop.submit(submit_sm(promo)).await.unwrap();
    assert!(!refused.is_ok(), "refused after the reload");
    assert!(!shop.link().is_closed());
    gateway.stop(Duration::from_secs(4)).await;
}
