//! Hostile HTTP input against a real gateway (in process, a recording carrier on
//! 127.0.0.1): 100 000 nested `[` is a 400, not a stack overflow; a body over
//! `http.max_body` is a 413 (submit and admin import); 10 000 requests with wrong keys
//! from one address are answered 401, then 429 once over the address's limit, while a
//! good client on another address has all its submits served; an HTTP/2 rapid-reset
//! flood is sent away with GOAWAY. How much the
//! wrong keys slow the good client is measured in `scripts/bench-http` (not here: no
//! timing is asserted in a test).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use smppgate::config::{Config, HttpConfig};
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use smppgate::smsc::SmscServer;
use support::load::recording_carrier;
use support::within;

const KEY: &str = "sgk_test_key_of_the_demo_account";
const ADMIN: &str = "sga_test_admin_token";
const MAX_BODY: u64 = 1 << 20;

fn config(carrier: &SmscServer) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    config.carriers[0].address = carrier.local_addr().to_string();
    config.accounts[0].api_keys = vec![key_hash(KEY)];
    config.accounts[0].tps = 0;
    config.http = Some(HttpConfig {
        listen: "127.0.0.1:0".into(),
        admin_token_hash: Some(key_hash(ADMIN)),
        max_body: MAX_BODY,
        ..HttpConfig::default()
    });
    config.validate().expect("valid configuration");
    config
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = within(
        "POST",
        client
            .post(url)
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send(),
    )
    .await
    .expect("answer");
    let status = response.status().as_u16();
    let body = within("body", response.bytes()).await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_is_400_and_oversized_bodies_413() {
    let (carrier, _recorder) = recording_carrier().await;
    let gateway = Gateway::start(config(&carrier)).await.expect("gateway");
    let base = format!("http://{}", gateway.http_addr().expect("HTTP listener"));
    let client = reqwest::Client::new();

    // 100 000 `[` (within max_body): refused by the parser's depth limit, answered.
    let deep = format!(
        "{{\"to\": {}1{}, \"text\": \"x\"}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(deep.len() < MAX_BODY as usize);
    let url = format!("{base}/v1/messages");
    let (status, body) = post(&client, &url, KEY, "application/json", deep.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("recursion"),
        "{body}"
    );
    let unclosed = "[".repeat(100_000);
    let (status, _) = post(&client, &url, KEY, "application/json", unclosed).await;
    assert_eq!(status, 400);
    let admin_url = format!("{base}/v1/suppressions");
    let (status, _) = post(&client, &admin_url, ADMIN, "application/json", deep).await;
    assert_eq!(status, 400);

    // Over max_body: 413, on submit and on the admin import.
    let big = json!({"to": "1", "text": "x".repeat(MAX_BODY as usize + 1)}).to_string();
    let (status, body) = post(&client, &url, KEY, "application/json", big).await;
    assert_eq!(status, 413, "{body}");
    let csv = "8613800000001,global\n".repeat(60_000);
    assert!(csv.len() > MAX_BODY as usize);
    let import = format!("{base}/v1/suppressions/import");
    let (status, body) = post(&client, &import, ADMIN, "text/csv", csv).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(gateway.suppressions().len(), 0, "nothing imported");

    // The gateway still serves.
    let good = json!({"to": "+8613800138000", "text": "still here"}).to_string();
    assert_eq!(
        post(&client, &url, KEY, "application/json", good).await.0,
        202
    );
    gateway.stop(Duration::from_secs(4)).await;
}

/// A body sent too slowly is cut off with `408` after `http.request_timeout`: on the
/// submit endpoint (which the listener serves without the router) as on a routed one
/// (the admin import); a good client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_is_answered_408_on_every_route() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let (carrier, _recorder) = recording_carrier().await;
    let mut config = config(&carrier);
    if let Some(http) = config.http.as_mut() {
        http.request_timeout = Duration::from_millis(500);
    }
    let gateway = Gateway::start(config).await.expect("gateway");
    let addr = gateway.http_addr().expect("HTTP listener");
    let mut slow = Vec::new();
    for (path, key, content_type) in [
        ("/v1/messages", KEY, "application/json"),
        ("/v1/suppressions/import", ADMIN, "text/csv"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // The headers promise 100 bytes; 10 come, then nothing.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{{\"to\": \"1\""
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push((path, stream));
    }
    // Served meanwhile.
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/v1/messages");
    let good = json!({"to": "+8613800138000", "text": "not held up"}).to_string();
    assert_eq!(
        post(&client, &url, KEY, "application/json", good).await.0,
        202
    );
    for (path, mut stream) in slow {
        let mut answer = vec![0; 1024];
        let n = within(path, stream.read(&mut answer))
            .await
            .expect("answered");
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }
    assert_eq!(gateway.suppressions().len(), 0, "nothing imported");
    gateway.stop(Duration::from_secs(4)).await;
}

/// Issue #16: 10 000 requests with wrong keys from one address (127.0.0.2) while a good
/// client on another (127.0.0.1) submits. The first `auth_failure_burst` wrong keys are
/// answered 401; past the limit the flooder gets 429 and its connection is closed; the
/// good client gets every one of its 202s. A wrong key is refused before its body is
/// read: a request that announces a body and never sends it is still answered 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_wrong_keys_are_limited_while_a_good_client_is_served() {
    const WRONG: usize = 10_000;
    const GOOD: usize = 200;
    const BURST: u32 = 100;
    let (carrier, recorder) = recording_carrier().await;
    let mut config = config(&carrier);
    if let Some(http) = config.http.as_mut() {
        // Slow enough that the limit stays engaged for the whole flood on a slow machine.
        http.auth_failures_per_second = 1;
        http.auth_failure_burst = BURST;
    }
    let gateway = Gateway::start(config).await.expect("gateway");
    let http_addr = gateway.http_addr().expect("HTTP listener");
    let url = format!("http://{http_addr}/v1/messages");
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .expect("client")
    };
    let (good_client, flooder) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let body = json!({"to": "+8613800138000", "text": "good"}).to_string();

    // Refused before the body is read: 10 bytes announced, none sent, answered at once.
    let mut stream = tokio::net::TcpStream::connect(http_addr)
        .await
        .expect("connect");
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sgk_wrong\r\n\
          Content-Length: 10\r\n\r\n",
    )
    .await
    .expect("write");
    let mut answer = [0u8; 12];
    within(
        "a 401 without the body",
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut answer),
    )
    .await
    .expect("read");
    assert_eq!(&answer, b"HTTP/1.1 401");
    drop(stream);

    let flood_started = std::time::Instant::now();
    let unauthorized = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..16)
        .map(|worker| {
            let (client, url, body) = (flooder.clone(), url.clone(), body.clone());
            let (unauthorized, limited) = (Arc::clone(&unauthorized), Arc::clone(&limited));
            tokio::spawn(async move {
                for n in (worker..WRONG).step_by(16) {
                    let key = format!("sgk_wrong_{n}");
                    let (status, answer) =
                        post(&client, &url, &key, "application/json", body.clone()).await;
                    match status {
                        401 => unauthorized.fetch_add(1, Ordering::Relaxed),
                        429 => limited.fetch_add(1, Ordering::Relaxed),
                        other => panic!("wrong key {n}: {other} {answer}"),
                    };
                }
            })
        })
        .collect();
    let mut served = 0;
    for _ in 0..GOOD {
        let (status, answer) =
            post(&good_client, &url, KEY, "application/json", body.clone()).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["messages"][0]["status"], "accepted", "{answer}");
        served += 1;
    }
    for attacker in attackers {
        within("the wrong keys are answered", attacker)
            .await
            .expect("no attacker panicked");
    }
    let flood_seconds = flood_started.elapsed().as_secs();
    let (unauthorized, limited) = (
        unauthorized.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
    );
    assert_eq!(unauthorized + limited, WRONG);
    // The burst (the raw request above took one of it), then one a second: an upper
    // bound from the flood's duration, not a timing assertion.
    let allowed = BURST as usize + usize::try_from(flood_seconds).unwrap_or(usize::MAX) + 1;
    assert!(
        unauthorized <= allowed,
        "{unauthorized} answered 401 (at most {allowed}), {limited} 429"
    );
    assert_eq!(served, GOOD);
    within("the good client's messages reach the carrier", async {
        loop {
            let n = recorder
                .seen
                .lock()
                .unwrap()
                .get(&b"good"[..])
                .copied()
                .unwrap_or(0);
            if n as usize >= GOOD {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    gateway.stop(Duration::from_secs(4)).await;
}

/// An HTTP/2 (prior knowledge) connection to `addr`: its request handle and its driver
/// task, which ends with the connection.
async fn h2_connection(
    addr: std::net::SocketAddr,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(stream).await.expect("handshake");
    (client, tokio::spawn(connection))
}

/// A good key's submit over HTTP/1.1 on a new connection is accepted.
async fn a_good_client_is_served(addr: std::net::SocketAddr, to: &str) {
    let (status, body) = post(
        &reqwest::Client::new(),
        &format!("http://{addr}/v1/messages"),
        KEY,
        "application/json",
        json!({"to": to, "text": "a good client"}).to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}

/// HTTP/2's rapid reset (CVE-2023-44487): a client that opens streams and cancels each
/// at once is sent away (GOAWAY) before it has opened 10 000, and a client on HTTP/1.1
/// is served meanwhile and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_rapid_reset_flood_is_sent_away_and_others_are_served() {
    let (carrier, _recorder) = recording_carrier().await;
    let gateway = Gateway::start(config(&carrier)).await.expect("gateway");
    let addr = gateway.http_addr().expect("HTTP listener");
    let (client, driver) = h2_connection(addr).await;
    let flood = async move {
        let mut client = client;
        for n in 0..10_000_u32 {
            client = match client.ready().await {
                Ok(ready) => ready,
                Err(_) => return n,
            };
            let request = http::Request::post(format!("http://{addr}/v1/messages"))
                .header("authorization", format!("Bearer {KEY}"))
                .header("content-type", "application/json")
                .body(())
                .unwrap();
            match client.send_request(request, false) {
                Ok((_, mut body)) => body.send_reset(h2::Reason::CANCEL),
                Err(_) => return n,
            }
            if n % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        10_000
    };
    let opened = within("the flood ends", flood).await;
    let ended = within("the connection ends", driver)
        .await
        .unwrap()
        .expect_err("sent away");
    // The GOAWAY, or (when the flooder was still writing as the server closed) the
    // broken pipe that follows it.
    assert!(
        (ended.is_go_away() && ended.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM))
            || ended.is_io(),
        "{ended:?}"
    );
    assert!(opened < 10_000, "a flood of {opened} resets went on");
    a_good_client_is_served(addr, "8613800138111").await;
    gateway.stop(Duration::from_secs(5)).await;
}

/// Wrong keys on one HTTP/2 connection: past the address's limit the answer is a `429`
/// and the connection ends with a GOAWAY (HTTP/2 has no `Connection: close`), so the
/// flooder pays a new connection for its next tries as on HTTP/1.1; a good key is served
/// on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_over_the_limit_end_their_http2_connection() {
    let (carrier, _recorder) = recording_carrier().await;
    let gateway = Gateway::start(config(&carrier)).await.expect("gateway");
    let addr = gateway.http_addr().expect("HTTP listener");
    let (client, driver) = h2_connection(addr).await;
    let tries = async move {
        let mut client = client;
        let mut statuses = Vec::new();
        for _ in 0..1_000 {
            let Ok(ready) = client.ready().await else {
                break;
            };
            client = ready;
            let request = http::Request::get(format!("http://{addr}/v1/messages"))
                .header("authorization", "Bearer sgk_wrong")
                .body(())
                .unwrap();
            let Ok((answer, _)) = client.send_request(request, true) else {
                break;
            };
            match answer.await {
                Ok(answer) => statuses.push(answer.status().as_u16()),
                Err(_) => break,
            }
        }
        statuses
    };
    let statuses = within("the wrong keys", tries).await;
    assert!(
        statuses.len() < 1_000,
        "{} tries on one connection",
        statuses.len()
    );
    // 401s, then 429: the first 429 sends the GOAWAY; a request the client sent before it
    // arrived (hyper's graceful GOAWAY still serves those) gets a 429 as well.
    let first = statuses
        .iter()
        .position(|s| *s == 429)
        .expect("a 429 at the limit");
    assert!(statuses[..first].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[first..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(statuses.len() - first <= 10, "{statuses:?}");
    within("the connection ends", driver)
        .await
        .unwrap()
        .expect("a graceful GOAWAY");
    a_good_client_is_served(addr, "8613800138112").await;
    gateway.stop(Duration::from_secs(5)).await;
}
