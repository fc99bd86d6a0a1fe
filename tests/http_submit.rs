//! The HTTP submit API against a real gateway (in process, a recording carrier on
//! 127.0.0.1) with a real HTTP client: single and batch submits reach the carrier, an
//! idempotent retry sends nothing again (also after a restart), and every error answer
//! has its status: 400 with the field, 401, 413, 429 with Retry-After, 503; HTTP/2 clients
//! are served on the same port.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use smppgate::config::{Config, HttpConfig, StoreConfig};
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use smppgate::smsc::{ServerConfig, SmscServer};
use smppgate::store::Store;
use support::flaky_store::FlakyStore;
use support::load::Recorder;
use support::within;

const KEY: &str = "sgk_test_key_of_the_shop_account";
const ADMIN: &str = "sga_test_admin_token";
const OTHER_KEY: &str = "sgk_test_key_of_another_account";

struct Carrier {
    recorder: Arc<Recorder>,
    _server: SmscServer,
    addr: String,
}

async fn carrier() -> Carrier {
    let recorder = Arc::new(Recorder::default());
    let server = SmscServer::bind(
        "127.0.0.1:0",
        ServerConfig::default(),
        Arc::clone(&recorder),
    )
    .await
    .expect("carrier listens");
    let addr = server.local_addr().to_string();
    Carrier {
        recorder,
        _server: server,
        addr,
    }
}

fn config(carrier: &Carrier, store: &str) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = store.into();
    config.carriers[0].address = carrier.addr.clone();
    config.carriers[0].binds = 1;
    config.accounts[0].api_keys = vec![key_hash(KEY)];
    let mut other = config.accounts[0].clone();
    other.system_id = "other".into();
    other.numbers = Vec::new();
    other.api_keys = vec![key_hash(OTHER_KEY)];
    config.accounts.push(other);
    config.http = Some(HttpConfig {
        listen: "127.0.0.1:0".into(),
        admin_token_hash: Some(key_hash(ADMIN)),
        max_body: 64 * 1024,
        ..HttpConfig::default()
    });
    config.validate().expect("valid configuration");
    config
}

/// `config` with this `http.header_timeout`; the HTTP settings, for more changes.
fn with_header_timeout(config: &mut Config, timeout: Duration) -> &mut HttpConfig {
    let http = config
        .http
        .as_mut()
        .expect("the test configuration has [http]");
    http.header_timeout = timeout;
    http
}

struct Api {
    base: String,
    client: reqwest::Client,
}

/// A loopback address nothing listens on (a carrier that is down; it may come up there).
fn closed_address() -> std::net::SocketAddr {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    closed.local_addr().unwrap()
}

impl Api {
    /// Posts one message to `to` and asserts it was answered 202.
    async fn accepted(&self, to: &str, text: &str) -> Value {
        let (status, _, body) = self
            .post(Some(KEY), None, json!({"to": to, "text": text}).to_string())
            .await;
        assert_eq!(status, 202, "{body}");
        body
    }

    fn of(gateway: &Gateway) -> Self {
        Self {
            base: format!("http://{}", gateway.http_addr().expect("HTTP listener")),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    async fn post(
        &self,
        key: Option<&str>,
        idempotency: Option<&str>,
        body: String,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .client
            .post(format!("{}/v1/messages", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(idempotency) = idempotency {
            request = request.header("Idempotency-Key", idempotency);
        }
        let response = within("POST /v1/messages", request.send())
            .await
            .expect("answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }

    async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let response = within(
            "GET",
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(key)
                .send(),
        )
        .await
        .expect("answer");
        let status = response.status().as_u16();
        let value =
            serde_json::from_slice(&response.bytes().await.expect("body")).unwrap_or(Value::Null);
        (status, value)
    }
}

/// Waits until the carrier saw `text` (bounded), then returns how often.
async fn seen(carrier: &Carrier, text: &str, at_least: u32) -> u32 {
    within("the carrier receives it", async {
        loop {
            let n = carrier
                .recorder
                .seen
                .lock()
                .unwrap()
                .get(text.as_bytes())
                .copied()
                .unwrap_or(0);
            if n >= at_least {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_batch_submits_are_accepted_and_reach_the_carrier() {
    let carrier = carrier().await;
    let gateway = Gateway::start(config(&carrier, ":memory:"))
        .await
        .expect("gateway");
    let api = Api::of(&gateway);

    let (status, _, body) = api
        .post(
            Some(KEY),
            None,
            json!({"to": "+8613800138000", "text": "single one", "client_ref": "r1"}).to_string(),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let one = &body["messages"][0];
    assert_eq!(one["status"], "accepted", "{body}");
    assert_eq!(one["parts"], 1);
    assert_eq!(one["client_ref"], "r1");
    let id = one["id"].as_str().expect("id").to_owned();
    assert_eq!(seen(&carrier, "single one", 1).await, 1);

    let (status, _, body) = api
        .post(
            Some(KEY),
            None,
            json!({"to": ["+8613800138001", "not a number", "8613800138002"], "text": "batch one", "class": "otp"}).to_string(),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["status"], "accepted");
    assert_eq!(messages[1]["status"], "rejected");
    assert_eq!(messages[1]["code"], "ESME_RINVDSTADR");
    assert_eq!(messages[2]["status"], "accepted");
    assert_eq!(seen(&carrier, "batch one", 2).await, 2);

    // A long text goes as several parts.
    let long = "x".repeat(300);
    let (status, _, body) = api
        .post(
            Some(KEY),
            None,
            json!({"to": "8613800138003", "text": long}).to_string(),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(body["messages"][0]["parts"], 2, "{body}");

    // The message's life, by the id the client got; another account does not see it.
    let (status, shown) = api.get(KEY, &format!("/v1/messages/{id}")).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["message_id"], id.as_str());
    assert_eq!(shown["account"], "demo");
    assert_eq!(shown["to"], "8613800138000");
    let (status, other) = api.get(OTHER_KEY, &format!("/v1/messages/{id}")).await;
    assert_eq!(status, 404);
    // An id never stored gets the same answer: an account cannot tell which ids other
    // accounts' messages have (ids rise: that would show their volumes).
    let (status, never) = api.get(OTHER_KEY, "/v1/messages/7FFFFFFFFF").await;
    assert_eq!(status, 404);
    assert_eq!(other, never);
    assert_eq!(api.get(ADMIN, &format!("/v1/messages/{id}")).await.0, 200);

    // Listing: filtered by destination, paged by cursor.
    let (status, list) = api.get(KEY, "/v1/messages?to=%2B8613800138001").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["messages"].as_array().unwrap().len(), 1);
    let (_, page) = api.get(KEY, "/v1/messages?limit=2").await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_u64().expect("a next page");
    let (_, rest) = api
        .get(KEY, &format!("/v1/messages?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["messages"].as_array().unwrap().len(), 2, "{rest}");
    assert!(rest["next_cursor"].is_null());
    let (_, theirs) = api.get(OTHER_KEY, "/v1/messages").await;
    assert_eq!(theirs["messages"].as_array().unwrap().len(), 0);
    let (_, all) = api.get(ADMIN, "/v1/messages").await;
    assert_eq!(all["messages"].as_array().unwrap().len(), 4);
    assert_eq!(api.get(KEY, "/v1/messages?state=lost").await.0, 400);
    // Every state the store has can be asked for (held: the review queue's).
    let (status, held) = api.get(KEY, "/v1/messages?state=held").await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["messages"].as_array().unwrap().len(), 0);
    // A bad time names the field and what to write, not a CLI flag.
    let (status, bad) = api.get(KEY, "/v1/messages?since=yesterday").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["field"], "since", "{bad}");
    let message = bad["message"].as_str().unwrap();
    assert!(
        message.contains("RFC 3339") && !message.contains("--"),
        "{message}"
    );
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_sends_once_even_after_a_restart() {
    let carrier = carrier().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The same durable store for both runs (an in-process restart: the second gateway
    // reads what the first committed).
    let store = smppgate::store::open(&StoreConfig {
        path: dir.path().join("store"),
        ..StoreConfig::default()
    })
    .expect("store");
    let gateway = Gateway::start_with_store(config(&carrier, ":memory:"), Arc::clone(&store))
        .await
        .expect("gateway");
    let api = Api::of(&gateway);
    let body = json!({"to": ["8613800138010", "8613800138011"], "text": "once only"}).to_string();
    let (status, headers, first) = api.post(Some(KEY), Some("order-1"), body.clone()).await;
    assert_eq!(status, 202, "{first}");
    assert!(headers.get("idempotent-replayed").is_none());
    let (status, headers, again) = api.post(Some(KEY), Some("order-1"), body.clone()).await;
    assert_eq!(status, 202);
    assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again, first);
    // The same key with another body is refused; another account's same key is its own.
    let (status, _, _) = api
        .post(
            Some(KEY),
            Some("order-1"),
            json!({"to": "8613800138010", "text": "changed"}).to_string(),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(seen(&carrier, "once only", 2).await, 2);
    let (_, listed) = api.get(KEY, "/v1/messages").await;
    assert_eq!(
        listed["messages"].as_array().unwrap().len(),
        2,
        "nothing stored twice"
    );
    gateway.stop(Duration::from_secs(5)).await;

    // After a restart the answer is still the first one, and nothing more is sent.
    let gateway = Gateway::start_with_store(config(&carrier, ":memory:"), Arc::clone(&store))
        .await
        .expect("gateway again");
    let api = Api::of(&gateway);
    let (status, headers, after) = api.post(Some(KEY), Some("order-1"), body).await;
    assert_eq!(status, 202);
    assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(after, first);
    let (_, listed) = api.get(KEY, "/v1/messages").await;
    assert_eq!(listed["messages"].as_array().unwrap().len(), 2);
    gateway.stop(Duration::from_secs(5)).await;
    assert_eq!(seen(&carrier, "once only", 2).await, 2);
}

/// A client that goes while its submit is being committed (its own timeout, a dropped
/// connection) does not leave its message stored and unsent, nor its key forgotten: the
/// message reaches the carrier without a restart, and the retry with the same key gets
/// the first answer and sends nothing again. (Before, the handler was dropped with the
/// connection: the message waited on disk for a restart, and the retry sent it again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_during_the_commit_leaves_its_message_sent_and_its_key_answered() {
    use tokio::io::AsyncWriteExt;
    let carrier = carrier().await;
    let store = Arc::new(FlakyStore::default());
    let gateway = Gateway::start_with_store(
        config(&carrier, ":memory:"),
        Arc::clone(&store) as Arc<dyn Store>,
    )
    .await
    .expect("gateway");
    let api = Api::of(&gateway);
    let body = json!({"to": "8613800138030", "text": "client gone"}).to_string();
    store.hold_inserts(true);
    let mut gone = tokio::net::TcpStream::connect(gateway.http_addr().unwrap())
        .await
        .unwrap();
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\
         idempotency-key: gone-1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    gone.write_all(request.as_bytes()).await.unwrap();
    within("its commit under way", async {
        while store
            .inserts_waiting
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(gone);
    // The server sees the connection end (and drops the request's handler).
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.hold_inserts(false);
    assert_eq!(seen(&carrier, "client gone", 1).await, 1);
    let (status, headers, answer) = api.post(Some(KEY), Some("gone-1"), body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(answer["messages"][0]["status"], "accepted");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen(&carrier, "client gone", 1).await, 1, "sent once");
    gateway.stop(Duration::from_secs(5)).await;
}

/// A batch some of whose destinations find the account's durable backlog full
/// (`[store] max_pending`) answers each in its place: the first ones accepted and sent,
/// the rest refused ESME_RMSGQFUL, nothing of them stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_past_the_backlog_limit_answers_each_destination_in_its_place() {
    let carrier = carrier().await;
    let store = Arc::new(FlakyStore::default());
    let mut config = config(&carrier, ":memory:");
    config.store.max_pending = 2;
    let gateway = Gateway::start_with_store(config, Arc::clone(&store) as Arc<dyn Store>)
        .await
        .expect("gateway");
    let api = Api::of(&gateway);
    let (status, _, body) = api
        .post(
            Some(KEY),
            None,
            json!({"to": ["8613800138041", "not a number", "8613800138042", "8613800138043"], "text": "past the limit"}).to_string(),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let messages = body["messages"].as_array().expect("messages");
    let codes: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["status"].as_str().unwrap_or_default(),
                m["code"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("accepted", ""),
            ("rejected", "ESME_RINVDSTADR"),
            ("accepted", ""),
            ("rejected", "ESME_RMSGQFUL"),
        ],
        "{body}"
    );
    assert_eq!(messages[3]["to"], "8613800138043", "{body}");
    let (_, listed) = api.get(KEY, "/v1/messages").await;
    assert_eq!(listed["messages"].as_array().unwrap().len(), 2, "{listed}");
    gateway.stop(Duration::from_secs(5)).await;
}

/// A request refused whole for a full backlog is a 429 with Retry-After (before: a 202
/// saying "rejected"), and its Idempotency-Key keeps nothing: asked again, it is tried
/// again (before, the rejection was replayed for that key for good, and the message was
/// never sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_for_a_full_backlog_is_a_429_that_its_key_does_not_keep() {
    let carrier = carrier().await;
    let mut config = config(&carrier, ":memory:");
    // No carrier takes anything (nothing listens there): the first message fills the
    // backlog of one.
    config.carriers[0].address = closed_address().to_string();
    config.store.max_pending = 1;
    let gateway =
        Gateway::start_with_store(config, Arc::new(FlakyStore::default()) as Arc<dyn Store>)
            .await
            .expect("gateway");
    let api = Api::of(&gateway);
    api.accepted("8613800138045", "fills it").await;
    for _ in 0..2 {
        let (status, headers, body) = api
            .post(
                Some(KEY),
                Some("full-backlog"),
                json!({"to": "8613800138044", "text": "full"}).to_string(),
            )
            .await;
        assert_eq!(status, 429, "{body}");
        assert!(headers.contains_key("retry-after"), "{headers:?}");
    }
    gateway.stop(Duration::from_secs(5)).await;
}

/// A message refused for a full backlog has not used up its number's place in a
/// frequency cap: once the backlog drains, the same number gets its message (before, the
/// policy counted it first, and the client's retry was refused by the cap for the day).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_refused_for_a_full_backlog_leaves_its_cap_place() {
    let recorder = Arc::new(Recorder::default());
    // The carrier's address, with nothing listening there until the backlog is full.
    let address = closed_address();
    let mut config = config(
        &Carrier {
            recorder: Arc::clone(&recorder),
            _server: SmscServer::bind(
                "127.0.0.1:0",
                ServerConfig::default(),
                Arc::clone(&recorder),
            )
            .await
            .unwrap(),
            addr: address.to_string(),
        },
        ":memory:",
    );
    config.store.max_pending = 1;
    config.policies.push(
        toml::from_str(
            "name = \"capped\"\ncaps = [{ classes = [\"otp\", \"notification\", \"marketing\"], max = 1, per = \"30days\" }]",
        )
        .unwrap(),
    );
    config.accounts[0].policy = Some("capped".into());
    let gateway =
        Gateway::start_with_store(config, Arc::new(FlakyStore::default()) as Arc<dyn Store>)
            .await
            .expect("gateway");
    let api = Api::of(&gateway);
    let post = |to: &'static str| {
        let api = &api;
        async move {
            api.post(
                Some(KEY),
                None,
                json!({"to": to, "text": "capped"}).to_string(),
            )
            .await
        }
    };
    let (status, _, body) = post("8613800138046").await;
    assert_eq!(status, 202, "{body}");
    let (status, _, body) = post("8613800138047").await;
    assert_eq!(status, 429, "backlog full: {body}");
    // The carrier comes up; the first message goes and the backlog has room again.
    let _carrier = SmscServer::bind(
        &address.to_string(),
        ServerConfig::default(),
        Arc::clone(&recorder),
    )
    .await
    .expect("the carrier's port is still free");
    within("the backlog drains", async {
        loop {
            let (status, _, body) = post("8613800138047").await;
            if status != 429 {
                assert_eq!(status, 202, "{body}");
                assert_eq!(body["messages"][0]["status"], "accepted", "{body}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    gateway.stop(Duration::from_secs(5)).await;
}

/// A request's messages and its idempotent answer are one commit: when the commit that
/// would keep the answer fails, its messages are not kept either (503, nothing sent), so
/// the client's retry with the same key, after a restart, sends each message once. (Were
/// they two commits, the messages would be kept without the answer and the retry would
/// send them again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_messages_and_their_idempotent_answer_are_kept_together_or_not_at_all() {
    let carrier = carrier().await;
    let store = Arc::new(FlakyStore::default());
    let answers_fail = |failing: bool| {
        store
            .failing_answers
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    };
    let start = || {
        Gateway::start_with_store(
            config(&carrier, ":memory:"),
            Arc::clone(&store) as Arc<dyn Store>,
        )
    };
    answers_fail(true);
    let gateway = start().await.expect("gateway");
    let api = Api::of(&gateway);
    let body =
        json!({"to": ["8613800138020", "8613800138021"], "text": "kept together"}).to_string();
    let (status, _, answer) = api.post(Some(KEY), Some("order-7"), body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        store.inner.list(&Default::default()).unwrap().is_empty(),
        "no message kept without its answer"
    );
    gateway.stop(Duration::from_secs(5)).await;

    // The disk has room again; the client retries after the restart.
    answers_fail(false);
    let gateway = start().await.expect("gateway again");
    let api = Api::of(&gateway);
    let (status, _, answer) = api.post(Some(KEY), Some("order-7"), body.clone()).await;
    assert_eq!(status, 202, "{answer}");
    let (status, headers, again) = api.post(Some(KEY), Some("order-7"), body).await;
    assert_eq!(status, 202);
    assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again, answer);
    assert_eq!(store.inner.list(&Default::default()).unwrap().len(), 2);
    assert_eq!(seen(&carrier, "kept together", 2).await, 2);
    gateway.stop(Duration::from_secs(5)).await;
    assert_eq!(
        seen(&carrier, "kept together", 2).await,
        2,
        "each sent once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_its_status() {
    let carrier = carrier().await;
    let mut config = config(&carrier, ":memory:");
    config.accounts[1].tps = 1;
    let store = Arc::new(FlakyStore::default());
    let gateway = Gateway::start_with_store(config, Arc::clone(&store) as Arc<dyn Store>)
        .await
        .expect("gateway");
    let api = Api::of(&gateway);
    let good = json!({"to": "8613800138020", "text": "errors"}).to_string();

    // 401: no key, a wrong key; 403: the admin token does not send.
    let (status, headers, _) = api.post(None, None, good.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
    assert_eq!(api.post(Some("sgk_wrong"), None, good.clone()).await.0, 401);
    assert_eq!(api.post(Some(ADMIN), None, good.clone()).await.0, 403);

    // 400: malformed JSON, wrong types (named by path), unknown fields, deep nesting.
    let (status, _, body) = api.post(Some(KEY), None, "{\"to\": ".to_owned()).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = api
        .post(Some(KEY), None, json!({"to": "1", "text": 5}).to_string())
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("text")),
        "{body}"
    );
    let (status, _, body) = api
        .post(
            Some(KEY),
            None,
            json!({"to": "1", "text": "x", "validity": "forever"}).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("validity")),
        "{body}"
    );
    let (status, _, body) = api
        .post(
            Some(KEY),
            None,
            json!({"to": "1", "text": "x", "senderid": "A"}).to_string(),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `senderid`"),
        "{body}"
    );
    let deep = format!(
        "{{\"to\": {}1{}, \"text\": \"x\"}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert_eq!(api.post(Some(KEY), None, deep).await.0, 400);

    // 413: over max_body (64 KiB here).
    let big = json!({"to": "1", "text": "x".repeat(70_000)}).to_string();
    let (status, _, body) = api.post(Some(KEY), None, big).await;
    assert_eq!(status, 413, "{body}");

    // 429 with Retry-After: the account's TPS (1) is used up.
    let (first, _, _) = api.post(Some(OTHER_KEY), None, good.clone()).await;
    assert_eq!(first, 202);
    let (status, headers, _) = api.post(Some(OTHER_KEY), None, good.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "1");

    // 503: the store fails; nothing was accepted.
    let before = store.inner.list(&Default::default()).unwrap().len();
    store.fail(true);
    let (status, _, body) = api.post(Some(KEY), None, good.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(store.inner.list(&Default::default()).unwrap().len(), before);
    store.fail(false);
    assert_eq!(api.post(Some(KEY), None, good).await.0, 202);
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_header_flooding_clients_are_cut_off_and_others_go_on() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let carrier = carrier().await;
    let mut config = config(&carrier, ":memory:");
    with_header_timeout(&mut config, Duration::from_millis(300)).max_connections = 4;
    let gateway = Gateway::start(config).await.expect("gateway");
    let addr = gateway.http_addr().unwrap();
    // Slow headers: half a request, then nothing. The connection is closed.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    within("the slow client is cut off", slow.read_to_end(&mut answer))
        .await
        .expect("closed, not reset");
    // A header flood: far more headers than any client needs.
    let mut flood = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = b"GET /v1/messages HTTP/1.1\r\nHost: x\r\n".to_vec();
    for n in 0..500 {
        request.extend_from_slice(format!("X-Flood-{n}: {}\r\n", "y".repeat(100)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let _ = flood.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = within("the flood is refused", flood.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    // More idle connections than max_connections: those over the bound wait; once the
    // idle ones are cut off, a real client is served.
    let mut idle = Vec::new();
    for _ in 0..6 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    Api::of(&gateway)
        .accepted("8613800138030", "after the flood")
        .await;
    drop(idle);
    gateway.stop(Duration::from_secs(5)).await;
}

/// An account's HTTP requests in flight are bounded as its binds' are over SMPP
/// (`window` × `max_binds`): past that a request is answered 429 `window_full` with
/// Retry-After at once, and a place is free again when a request is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_requests_in_flight_are_bounded_by_its_window() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let carrier = carrier().await;
    let mut config = config(&carrier, ":memory:");
    config.accounts[0].window = 1;
    config.accounts[0].max_binds = 2;
    let gateway = Gateway::start(config).await.expect("gateway");
    let addr = gateway.http_addr().unwrap();
    let api = Api::of(&gateway);
    // Two requests whose bodies are still coming: the window (1 × 2) is full.
    let body = json!({"to": "8613800138061", "text": "slow"}).to_string();
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body.as_bytes()[..5]).await.unwrap();
        slow.push(stream);
    }
    let (status, headers, answer) = within("the third request", async {
        loop {
            let answer = api
                .post(
                    Some(KEY),
                    None,
                    json!({"to": "8613800138062", "text": "third"}).to_string(),
                )
                .await;
            if answer.0 != 202 {
                return answer;
            }
            // The slow ones had not reached the handler yet: try again.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"], "window_full", "{answer}");
    assert_eq!(headers["retry-after"], "1");
    // One slow request finishes: answered, and its place is free again.
    let mut first = slow.remove(0);
    first.write_all(&body.as_bytes()[5..]).await.unwrap();
    let mut read = vec![0; 4096];
    let n = within("the slow one is answered", first.read(&mut read))
        .await
        .unwrap();
    assert!(
        read[..n].starts_with(b"HTTP/1.1 202"),
        "{}",
        String::from_utf8_lossy(&read[..n])
    );
    api.accepted("8613800138063", "after").await;
    drop(slow);
    gateway.stop(Duration::from_secs(5)).await;
}

/// A client connected that has sent nothing yet (the listener waits up to the header
/// timeout for its first bytes) does not hold the gateway's stop up: the stop ends it at
/// once instead of waiting for its timeout or the HTTP grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_does_not_hold_the_stop_up() {
    let carrier = carrier().await;
    let mut config = config(&carrier, ":memory:");
    with_header_timeout(&mut config, Duration::from_secs(120));
    let gateway = Gateway::start(config).await.expect("gateway");
    let addr = gateway.http_addr().unwrap();
    Api::of(&gateway).accepted("8613800138064", "before").await;
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The HTTP side's share of a 60 s grace is 20 s: a stop that waited for the silent
    // client would take that long.
    let started = std::time::Instant::now();
    gateway.stop(Duration::from_secs(60)).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the stop took {:?}",
        started.elapsed()
    );
}

/// HTTP/2 with prior knowledge (h2c: what a TLS-terminating proxy sends upstream, or a
/// client that multiplexes) on the same port as HTTP/1.1: submits multiplexed on one
/// connection are each accepted and reach the carrier; the server offers 128 streams a
/// connection, no more; an idle connection is closed after the header timeout; a client
/// that sends part of the preface and stops is cut off like a slow header, and HTTP/1.1
/// clients go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_multiplex_submits_on_the_same_port_with_bounded_streams() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let carrier = carrier().await;
    let mut config = config(&carrier, ":memory:");
    with_header_timeout(&mut config, Duration::from_millis(300));
    let gateway = Gateway::start(config).await.expect("gateway");
    let addr = gateway.http_addr().unwrap();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let posts = (0..20).map(|i| {
        client
            .post(format!("http://{addr}/v1/messages"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(json!({"to": format!("86138001381{i:02}"), "text": "over h2"}).to_string())
            .send()
    });
    for answer in within(
        "20 submits on one connection",
        futures::future::join_all(posts),
    )
    .await
    {
        let answer = answer.expect("answered");
        assert_eq!(answer.version(), reqwest::Version::HTTP_2);
        assert_eq!(answer.status(), 202);
        let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        assert_eq!(body["messages"][0]["status"], "accepted", "{body}");
    }
    assert_eq!(seen(&carrier, "over h2", 20).await, 20);

    // The stream bound, as the server's SETTINGS state it (they come before its first
    // answer).
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (h2, connection) = h2::client::handshake(stream).await.expect("h2 handshake");
    let driver = tokio::spawn(connection);
    let mut h2 = within("ready", h2.ready()).await.expect("ready");
    let request = http::Request::get(format!("http://{addr}/openapi.json"))
        .body(())
        .unwrap();
    let (answer, _) = h2.send_request(request, true).expect("sent");
    let answer = within("GET /openapi.json over h2", answer)
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(h2.current_max_send_streams(), 128);
    // Then idle: closed by the server (a GOAWAY) after the header timeout, as an idle
    // HTTP/1.1 connection is, so idle connections do not hold the connection bound.
    within("the idle connection is closed", driver)
        .await
        .unwrap()
        .expect("a graceful close");
    assert!(
        h2.ready().await.is_err(),
        "no new stream on a closed connection"
    );

    // Half the preface, then nothing: closed after the header timeout.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut rest = Vec::new();
    within("the half preface is cut off", slow.read_to_end(&mut rest))
        .await
        .expect("closed, not reset");
    assert!(rest.is_empty(), "{rest:?}");
    Api::of(&gateway)
        .accepted("8613800138198", "over HTTP/1.1")
        .await;
    assert_eq!(seen(&carrier, "over HTTP/1.1", 1).await, 1);
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_names_every_route_and_each_is_served() {
    let carrier = carrier().await;
    let gateway = Gateway::start(config(&carrier, ":memory:"))
        .await
        .expect("gateway");
    let base = format!("http://{}", gateway.http_addr().unwrap());
    let client = reqwest::Client::new();
    let response = within(
        "GET /openapi.json",
        client.get(format!("{base}/openapi.json")).send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200, "served without a key");
    let document: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().expect("paths");
    let mut operations: Vec<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|method| {
                    ["get", "post", "put", "delete", "patch"].contains(&method.as_str())
                })
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /v1/suppressions/{scope}/{number}",
            "GET /",
            "GET /openapi.json",
            "GET /v1/blacklist/{number}",
            "GET /v1/carriers",
            "GET /v1/messages",
            "GET /v1/messages/{id}",
            "GET /v1/parked",
            "GET /v1/review",
            "GET /v1/stats",
            "GET /v1/suppressions",
            "GET /v1/suppressions/export",
            "GET /v1/unmatched",
            "POST /v1/blacklist/reload",
            "POST /v1/carriers/{name}/pause",
            "POST /v1/carriers/{name}/resume",
            "POST /v1/messages",
            "POST /v1/parked/replay",
            "POST /v1/reload",
            "POST /v1/review/{id}/refuse",
            "POST /v1/review/{id}/release",
            "POST /v1/suppressions",
            "POST /v1/suppressions/import",
        ]
    );
    // Each documented operation is served (whatever it answers, not "no such route").
    for operation in &operations {
        let (method, path) = operation.split_once(' ').unwrap();
        let url = format!(
            "{base}{}",
            path.replace("{id}", "1")
                .replace("{scope}", "global")
                .replace("{number}", "8613800138000")
                .replace("{name}", "sim")
        );
        let request = match method {
            "GET" => client.get(url),
            "DELETE" => client.delete(url),
            _ => client.post(url).body("{}"),
        };
        let response = within(operation, request.bearer_auth(KEY).send())
            .await
            .unwrap();
        // Our handlers answer JSON, whatever the status; the router's fallback does not.
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{operation}: {}",
            response.status()
        );
    }
    let response = within(
        "an unknown route",
        client.get(format!("{base}/v1/nothing")).send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().get("content-type").is_none());
    assert!(document["components"]["schemas"]["SubmitRequest"].is_object());
    gateway.stop(Duration::from_secs(5)).await;
}
