//! The CLI against a running gateway (`--api URL`, the admin token from `--token` or
//! `SMPPGATE_ADMIN_TOKEN`): a real `smppgate serve` holds its store, so `messages show`
//! without `--api` and without a token is refused ("in use"); with `--api`, or with
//! `--config` and the token in the environment (the file's `[http]` listener is asked),
//! the message is shown as the gateway has it; `messages list`, `receipts parked` and `receipts replay` go the same
//! way; a wrong token is named.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use smppgate::http::key_hash;
use support::{Sim, free_port, one_carrier_route, serve, smppgate, write_gateway_config};

const KEY: &str = "sgk_cli_remote_test_key";
const ADMIN: &str = "sga_cli_remote_admin_token";

fn write_config(dir: &Path, carrier: &str) -> std::path::PathBuf {
    let rest = format!(
        r#"
[http]
listen = "127.0.0.1:{port}"
admin_token_hash = "{admin}"

[[account]]
system_id = "shop"
password = "pw"
api_keys = ["{key}"]
"#,
        admin = key_hash(ADMIN),
        key = key_hash(KEY),
        port = free_port(),
    ) + &one_carrier_route("sim", carrier, "tps = 1000");
    write_gateway_config(dir, &rest)
}

fn cli(args: &[&str], env_token: Option<&str>) -> Output {
    let mut command = smppgate();
    command.args(args).env_remove("SMPPGATE_ADMIN_TOKEN");
    if let Some(token) = env_token {
        command.env("SMPPGATE_ADMIN_TOKEN", token);
    }
    command.output().expect("run smppgate")
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

#[test]
fn messages_show_and_receipts_go_to_a_running_gateway_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(&[]);
    let config = write_config(dir.path(), &sim.addr.to_string());
    let (mut gateway, _) = serve(&config);
    let line = gateway.wait_line(Duration::from_secs(10), |l| l.starts_with("http: "));
    let api = line["http: ".len()..].trim().to_owned();

    // One message through the HTTP API.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answer: Value = runtime.block_on(async {
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            reqwest::Client::new()
                .post(format!("{api}/v1/messages"))
                .bearer_auth(KEY)
                .header("content-type", "application/json")
                .body(json!({"to": "+8613800138000", "text": "over http"}).to_string())
                .send(),
        )
        .await
        .expect("in time")
        .expect("answer");
        assert_eq!(response.status().as_u16(), 202);
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON")
    });
    let id = answer["messages"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // The store is the running gateway's: reading it directly is refused …
    let direct = cli(
        &[
            "messages",
            "show",
            "--config",
            config.to_str().unwrap(),
            &id,
        ],
        None,
    );
    assert!(!direct.status.success(), "{direct:?}");
    let said = String::from_utf8_lossy(&direct.stderr);
    assert!(
        said.contains("SMPPGATE_ADMIN_TOKEN") && said.contains(&api),
        "the refusal names the token's place and the API: {said}"
    );
    // With `--store`, the address the gateway recorded beside its store is asked.
    let by_store = cli(
        &[
            "messages",
            "show",
            "--json",
            "--store",
            dir.path().join("store").to_str().unwrap(),
            &id,
        ],
        Some(ADMIN),
    );
    let by_store: Value = serde_json::from_str(&ok(&by_store)).expect("JSON");
    assert_eq!(by_store["message_id"], id.as_str(), "{by_store}");
    // … unless the admin token is in the environment: then the configuration's [http]
    // listener is asked.
    let auto = cli(
        &[
            "messages",
            "show",
            "--json",
            "--config",
            config.to_str().unwrap(),
            &id,
        ],
        Some(ADMIN),
    );
    let auto: Value = serde_json::from_str(&ok(&auto)).expect("JSON");
    assert_eq!(auto["message_id"], id.as_str(), "{auto}");
    // … and through the API the message is there, as the gateway has it.
    let shown: Value = serde_json::from_str(&ok(&cli(
        &[
            "messages", "show", "--json", "--api", &api, "--token", ADMIN, &id,
        ],
        None,
    )))
    .expect("JSON");
    assert_eq!(shown["message_id"], id.as_str(), "{shown}");
    assert_eq!(shown["account"], "shop", "{shown}");
    // `--http` with the address alone, as the issue spells it.
    let bare = ok(&cli(
        &[
            "messages",
            "show",
            "--http",
            api.trim_start_matches("http://"),
            &id,
        ],
        Some(ADMIN),
    ));
    assert!(bare.contains(&id), "{bare}");
    let bad = cli(&["messages", "show", "--api", "ftp://x", &id], Some(ADMIN));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("http:// or https://"),
        "{bad:?}"
    );
    // The token from the environment; the text form.
    let text = ok(&cli(&["messages", "show", "--api", &api, &id], Some(ADMIN)));
    assert!(text.contains(&id) && text.contains("shop"), "{text}");
    // A wrong token is named; no token at all too.
    let wrong = cli(&["messages", "show", "--api", &api, &id], Some("nope"));
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("401"),
        "{wrong:?}"
    );
    let broken = cli(
        &["messages", "show", "--api", &api, &id],
        Some(&format!("{ADMIN}\n{ADMIN}")),
    );
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("a line break"),
        "{broken:?}"
    );
    let none = cli(&["messages", "show", "--api", &api, &id], None);
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("SMPPGATE_ADMIN_TOKEN"),
        "{none:?}"
    );
    let missing = cli(
        &["messages", "show", "--api", &api, "ffffffffff"],
        Some(ADMIN),
    );
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{missing:?}"
    );

    // The delivery statistics, asked of the running gateway (found from --config).
    let stats: Value = serde_json::from_str(&ok(&cli(
        &[
            "stats",
            "--json",
            "--by",
            "account",
            "--config",
            config.to_str().unwrap(),
        ],
        Some(ADMIN),
    )))
    .expect("JSON");
    assert!(stats.is_array(), "{stats}");
    let table = ok(&cli(&["stats", "--api", &api], Some(ADMIN)));
    assert!(table.contains("delivered"), "{table}");

    // The receipts that matched nothing, and the MO no account owns.
    for mo in [false, true] {
        let mut args = vec!["receipts", "unmatched", "--api", &api];
        if mo {
            args.push("--mo");
        }
        let unmatched = cli(&args, Some(ADMIN));
        assert!(unmatched.status.success(), "{unmatched:?}");
        let said = String::from_utf8_lossy(&unmatched.stderr);
        assert!(
            said.contains(if mo {
                "0 unrouted MO"
            } else {
                "0 unmatched receipts"
            }),
            "{said}"
        );
    }

    // The list, the parked items, a replay.
    let listed: Value = serde_json::from_str(&ok(&cli(
        &[
            "messages",
            "list",
            "--json",
            "--api",
            &api,
            "--account",
            "shop",
        ],
        Some(ADMIN),
    )))
    .expect("JSON");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["message_id"] == id.as_str()),
        "{listed}"
    );
    let parked = cli(&["receipts", "parked", "--api", &api], Some(ADMIN));
    assert!(parked.status.success(), "{parked:?}");
    assert!(
        String::from_utf8_lossy(&parked.stderr).contains("0 parked items"),
        "{parked:?}"
    );
    let replay = cli(
        &["receipts", "replay", "--api", &api, "--account", "shop"],
        Some(ADMIN),
    );
    assert!(replay.status.success(), "{replay:?}");

    // SIGHUP reads the file again: a new API key is in force without a restart.
    const NEW_KEY: &str = "sgk_cli_remote_rotated_key";
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(&key_hash(KEY), &key_hash(NEW_KEY))).unwrap();
    gateway.signal("HUP");
    let status_with = |key: &'static str| {
        runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("{api}/v1/messages"))
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(json!({"to": "+8613800138000", "text": "rotated"}).to_string())
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status_with(NEW_KEY) != 202 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new key is not in force after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status_with(KEY), 401, "the old key is gone");

    gateway.terminate();
    let _ = gateway.finish(Duration::from_secs(15));
    drop(sim);
}
