//! Signed webhooks against real receivers (small axum servers on 127.0.0.1): receipts of
//! HTTP-submitted messages reach the account's webhook, signed and verifiable; a receiver
//! that fails for a while then recovers gets every event once, in order; a receiver that
//! never answers holds back no other account; the next batch is posted while the last
//! one's acknowledgement is still being written; events queued while a reload removed
//! the URL are posted as soon as a reload gives it back.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use smppgate::config::{Config, HttpConfig};
use smppgate::gateway::Gateway;
use smppgate::http::key_hash;
use support::within;

const SECRET: &str = "a-webhook-secret-of-the-test";

/// A receiver: records every POST (timestamp, signature, body) and the status it gave.
#[derive(Default)]
struct Receiver {
    posts: Mutex<Vec<(String, String, Bytes, u16)>>,
    /// Answer 500 to this many posts first.
    fail_first: AtomicUsize,
    /// Never answer.
    hang: bool,
    /// Posts that arrived (answered or not).
    arrived: AtomicUsize,
    /// When set, the first post is answered only once this is notified.
    first_held: Option<tokio::sync::Notify>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived = receiver.arrived.fetch_add(1, Ordering::SeqCst);
    if let (0, Some(first_held)) = (arrived, &receiver.first_held) {
        first_held.notified().await;
    }
    if receiver.hang {
        std::future::pending::<()>().await;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let failing = receiver
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing { 500 } else { 200 };
    receiver.posts.lock().unwrap().push((
        header("x-smppgate-timestamp"),
        header("x-smppgate-signature"),
        body,
        status,
    ));
    StatusCode::from_u16(status).unwrap()
}

/// The parked items of `queue`, once there are some (bounded by `within`).
async fn parked_in(
    store: &dyn smppgate::store::Store,
    queue: &str,
) -> Vec<smppgate::store::ParkedItem> {
    within("the park", async {
        loop {
            let parked = store.parked(Some(queue), 10).unwrap();
            if !parked.is_empty() {
                return parked;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

async fn receiver(receiver: Receiver) -> (Arc<Receiver>, String) {
    let receiver = Arc::new(receiver);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (receiver, url)
}

impl Receiver {
    /// Events of the posts answered 2xx, in arrival order.
    fn delivered(&self) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|post| post.3 == 200)
            .flat_map(|post| serde_json::from_slice::<Vec<Value>>(&post.2).unwrap())
            .collect()
    }

    async fn wait_for(&self, events: usize) -> Vec<Value> {
        within("the webhook events", async {
            loop {
                let delivered = self.delivered();
                if delivered.len() >= events {
                    return delivered;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

fn config(accounts: &[(&str, &str, &str)]) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    let template = config.accounts[0].clone();
    config.accounts.clear();
    for (name, key, url) in accounts {
        let mut account = template.clone();
        account.system_id = (*name).into();
        account.numbers = Vec::new();
        account.api_keys = vec![key_hash(key)];
        account.webhook_url = Some((*url).into());
        account.webhook_secret = Some(SECRET.into());
        config.accounts.push(account);
    }
    config.http = Some(HttpConfig {
        listen: "127.0.0.1:0".into(),
        webhook_retry_initial: Duration::from_millis(50),
        webhook_retry_max: Duration::from_millis(200),
        ..HttpConfig::default()
    });
    config.validate().expect("valid configuration");
    config
}

async fn submit(gateway: &Gateway, key: &str, to: &[&str]) -> Vec<String> {
    let response = within(
        "POST",
        reqwest::Client::new()
            .post(format!(
                "http://{}/v1/messages",
                gateway.http_addr().unwrap()
            ))
            .bearer_auth(key)
            .body(json!({"to": to, "text": "your code", "client_ref": "order-1842"}).to_string())
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn verify(timestamp: &str, signature: &str, body: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Some(hex_digits) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(bytes) = hex::decode(hex_digits) else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_of_http_messages_reach_the_webhook_signed() {
    let (hook, url) = receiver(Receiver::default()).await;
    let gateway = Gateway::start(config(&[("shop", "key-shop", &url)]))
        .await
        .expect("gateway");
    let ids = submit(
        &gateway,
        "key-shop",
        &["8613800138000", "8613800138001", "8613800138002"],
    )
    .await;
    let events = hook.wait_for(3).await;
    let mut got: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    for event in &events {
        assert_eq!(event["type"], "receipt", "{event}");
        assert_eq!(event["state"], "DELIVRD", "{event}");
        assert_eq!(event["parts"], 1);
        assert_eq!(event["carrier"], "sim");
        assert_eq!(
            event["client_ref"], "order-1842",
            "the request's own reference"
        );
        assert!(event["to"].as_str().unwrap().starts_with("86138001380"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (timestamp, signature, body, _) in hook.posts.lock().unwrap().iter() {
        assert!(verify(timestamp, signature, body), "signature of {body:?}");
        assert!(!verify(timestamp, signature, b"[]"), "a changed body fails");
        let sent: u64 = timestamp.parse().unwrap();
        assert!(now.abs_diff(sent) < 300, "a current timestamp");
    }
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_every_event_once_in_order_when_it_recovers() {
    let (hook, url) = receiver(Receiver {
        fail_first: AtomicUsize::new(4),
        ..Receiver::default()
    })
    .await;
    let gateway = Gateway::start(config(&[("shop", "key-shop", &url)]))
        .await
        .expect("gateway");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.extend(submit(&gateway, "key-shop", &[&format!("861380013810{n}")]).await);
    }
    let events = hook.wait_for(5).await;
    let got: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut distinct = got.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), got.len(), "each event once: {got:?}");
    assert_eq!(got.len(), 5);
    // The failed batch is posted again as it was: nothing overtook it.
    let posts = hook.posts.lock().unwrap().clone();
    assert_eq!(posts.iter().filter(|p| p.3 == 500).count(), 4);
    let first: Vec<Value> = serde_json::from_slice(&posts[0].2).unwrap();
    let first_ids: Vec<&str> = first.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(&got[..first_ids.len()], &first_ids[..], "in order");
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_holds_back_no_other_account() {
    let (hung, hung_url) = receiver(Receiver {
        hang: true,
        ..Receiver::default()
    })
    .await;
    let (hook, url) = receiver(Receiver::default()).await;
    let gateway = Gateway::start(config(&[
        ("slow", "key-slow", &hung_url),
        ("shop", "key-shop", &url),
    ]))
    .await
    .expect("gateway");
    submit(&gateway, "key-slow", &["8613800138200", "8613800138201"]).await;
    within("the slow account's post arrives and hangs", async {
        while hung.arrived.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // While that post hangs (for its 10 s timeout), the other account's events go.
    let ids = submit(&gateway, "key-shop", &["8613800138300"]).await;
    let events = hook.wait_for(1).await;
    assert_eq!(events[0]["id"].as_str().unwrap(), ids[0]);
    assert_eq!(
        hung.arrived.load(Ordering::SeqCst),
        1,
        "delivered while the slow account's first post still hung"
    );
    assert!(hung.posts.lock().unwrap().is_empty());
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_both_sends_receipts_to_the_bind_and_the_webhook() {
    use smppgate::esme::{EsmeClient, EsmeConfig};
    use smppgate_protocol::receipt::DeliveryReceipt;

    let (hook, url) = receiver(Receiver::default()).await;
    let mut config = config(&[("shop", "key-shop", &url)]);
    config.accounts[0].password = Some("pw".into());
    config.accounts[0].webhook_mode = smppgate::config::WebhookMode::Both;
    let gateway = Gateway::start(config).await.expect("gateway");
    let (_client, mut inbound) = within(
        "bind",
        EsmeClient::connect(
            &gateway.local_addr().to_string(),
            EsmeConfig::new("shop", "pw"),
        ),
    )
    .await
    .expect("bind");
    let ids = submit(&gateway, "key-shop", &["8613800138400"]).await;
    let request = within("the receipt on the bind", inbound.recv())
        .await
        .expect("open");
    let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
    assert_eq!(receipt.id().unwrap(), ids[0]);
    let events = hook.wait_for(1).await;
    assert_eq!(events[0]["id"].as_str().unwrap(), ids[0]);
    gateway.stop(Duration::from_secs(5)).await;
}

/// The sink's pipeline: while the store is still writing the acknowledgement of a
/// delivered batch, the next batch is posted (a slow commit does not hold the posts back);
/// every event arrives once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_batch_is_posted_while_the_last_one_is_being_acknowledged() {
    use smppgate::store::Store as _;
    use support::flaky_store::FlakyStore;

    let (hook, url) = receiver(Receiver {
        first_held: Some(tokio::sync::Notify::new()),
        ..Receiver::default()
    })
    .await;
    let store = Arc::new(FlakyStore::default());
    store.hold_acks(true);
    let gateway = Gateway::start_with_store(
        config(&[("shop", "key-shop", &url)]),
        Arc::clone(&store) as Arc<dyn smppgate::store::Store>,
    )
    .await
    .expect("gateway");
    let numbers: Vec<String> = (0..150).map(|n| format!("8613800{n:06}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let ids = submit(&gateway, "key-shop", &numbers).await;
    // Every receipt queued for the webhook (two batches: 100 and 50) before the first
    // post is answered, so that nothing else waits behind the held acknowledgement.
    within("150 receipts queued for the webhook", async {
        while store.inner.outbox("~hook:shop", 1_000).unwrap().len() < 150 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    hook.first_held.as_ref().unwrap().notify_one();
    // (The store holds an acknowledgement for up to 30 s; this waits 10.)
    tokio::time::timeout(Duration::from_secs(10), async {
        while hook.arrived.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the second batch posted while the first one's acknowledgement is held");
    assert_eq!(
        store.acks_waiting.load(Ordering::SeqCst),
        1,
        "the first batch's acknowledgement is being written"
    );
    assert_eq!(
        store.inner.outbox("~hook:shop", 1_000).unwrap().len(),
        150,
        "nothing acknowledged yet"
    );
    store.hold_acks(false);
    let events = hook.wait_for(150).await;
    let got: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let sent: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut sorted_got = got.clone();
    sorted_got.sort_unstable();
    let mut sorted_sent = sent.clone();
    sorted_sent.sort_unstable();
    assert_eq!(sorted_got, sorted_sent, "each event once");
    let posts = hook.posts.lock().unwrap().clone();
    assert_eq!(
        posts
            .iter()
            .map(|p| serde_json::from_slice::<Vec<Value>>(&p.2).unwrap().len())
            .collect::<Vec<_>>(),
        vec![100, 50],
        "two posts, in order"
    );
    gateway.stop(Duration::from_secs(5)).await;
}

/// A batch is parked by its events' own age (kept in the store), not by how long this
/// run has been failing: events an hour past `webhook_park_after` are parked after a few
/// failed posts even on a gateway just started, and younger ones stay queued. (Counted
/// from the first failure in memory, a dead endpoint parked one batch a
/// `webhook_park_after`, and a gateway restarted daily never parked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_past_the_park_age_are_parked_after_a_few_tries_even_after_a_restart() {
    use smppgate::store::{Op, OutboxItem, Store};
    use smppgate_protocol::pdu::{Body, DeliverSm, Pdu};
    let (hook, url) = receiver(Receiver {
        fail_first: AtomicUsize::new(usize::MAX),
        ..Receiver::default()
    })
    .await;
    let store: Arc<dyn Store> = Arc::new(smppgate::store::memory::MemoryStore::new());
    let queue = smppgate::http::webhook::hook_queue("shop");
    let now = smppgate::store::now_millis();
    let mo = |text: &'static [u8], queued: u64| {
        let deliver_sm = DeliverSm {
            short_message: bytes::Bytes::from_static(text),
            ..DeliverSm::default()
        };
        let pdu = Pdu::new(1, Body::DeliverSm(deliver_sm));
        Op::OutboxPush(OutboxItem {
            seq: 0,
            account: queue.clone(),
            deliver_sm: smppgate_protocol::codec::encode_to_bytes(&pdu)
                .unwrap()
                .to_vec(),
            queued,
            attempts: 0,
        })
    };
    let hour = 3_600_000;
    store.commit(&[mo(b"old", now - 2 * hour)]).unwrap();
    let mut config = config(&[("shop", "key-shop", &url)]);
    if let Some(http) = config.http.as_mut() {
        http.webhook_park_after = Duration::from_secs(3600);
    }
    let gateway = Gateway::start_with_store(config, Arc::clone(&store))
        .await
        .expect("gateway");
    let parked = parked_in(&*store, &queue).await;
    assert_eq!(parked.len(), 1);
    assert!(parked[0].item.attempts >= 3, "{:?}", parked[0].item);
    // A young event (a receipt of a message sent now) fails as often and stays queued.
    let tried = hook.arrived.load(Ordering::SeqCst);
    submit(&gateway, "key-shop", &["8613800138000"]).await;
    within("the young batch tried a few times", async {
        while hook.arrived.load(Ordering::SeqCst) < tried + 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(store.parked(Some(&queue), 10).unwrap().len(), 1);
    assert_eq!(store.outbox(&queue, 10).unwrap().len(), 1);
    gateway.stop(Duration::from_secs(5)).await;
}

/// An item of a webhook queue that is not a readable deliver_sm (only a damaged store has
/// one: the gateway writes them) is parked, as the SMPP outbox parks one, and listed; the
/// events behind it are posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_queued_item_is_parked_and_the_rest_are_posted() {
    use smppgate::store::{Op, OutboxItem, Store};
    let (hook, url) = receiver(Receiver::default()).await;
    let store: Arc<dyn Store> = Arc::new(smppgate::store::memory::MemoryStore::new());
    let queue = smppgate::http::webhook::hook_queue("shop");
    store
        .commit(&[Op::OutboxPush(OutboxItem {
            seq: 0,
            account: queue.clone(),
            deliver_sm: b"not a PDU".to_vec(),
            // Now: an item past the store's retention is dropped by housekeeping.
            queued: smppgate::store::now_millis(),
            attempts: 0,
        })])
        .unwrap();
    let gateway =
        Gateway::start_with_store(config(&[("shop", "key-shop", &url)]), Arc::clone(&store))
            .await
            .expect("gateway");
    let ids = submit(&gateway, "key-shop", &["8613800138000"]).await;
    let events = hook.wait_for(1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"], ids[0].as_str(), "{events:?}");
    let parked = parked_in(&*store, &queue).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].item.deliver_sm, b"not a PDU");
    // The posted event's acknowledgement is committed after the receiver has it.
    within("nothing left queued", async {
        while !store.outbox(&queue, 10).unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    gateway.stop(Duration::from_secs(5)).await;
}

/// A webhook whose URL a reload removes keeps its events queued; once a reload gives the
/// URL back they are posted at once (the reload wakes the account's task), not at the
/// account's next event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_kept_while_a_reload_removed_the_url_go_when_it_is_back() {
    let (hook, url) = receiver(Receiver {
        fail_first: AtomicUsize::new(usize::MAX),
        ..Receiver::default()
    })
    .await;
    let with_url = config(&[("shop", "key-shop", &url)]);
    let mut without_url = with_url.clone();
    without_url.accounts[0].webhook_url = None;
    let gateway = Gateway::start(with_url.clone()).await.expect("gateway");
    let source = Arc::new(Mutex::new(without_url));
    let current = Arc::clone(&source);
    gateway.set_config_source(Arc::new(move || Ok(current.lock().unwrap().clone())));
    let ids = submit(&gateway, "key-shop", &["8613800138000"]).await;
    within("a refused post", async {
        while hook.arrived.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    gateway.reload().await.expect("reload without the URL");
    // Its retries stop (the back-off is 50–200 ms here).
    within("the posts stopping", async {
        loop {
            let before = hook.arrived.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(600)).await;
            if hook.arrived.load(Ordering::SeqCst) == before {
                return;
            }
        }
    })
    .await;
    assert!(hook.delivered().is_empty());
    hook.fail_first.store(0, Ordering::SeqCst);
    *source.lock().unwrap() = with_url;
    gateway.reload().await.expect("reload with the URL");
    let events = tokio::time::timeout(Duration::from_secs(10), hook.wait_for(1))
        .await
        .expect("the queued receipt posted once the URL is back");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"].as_str(), Some(ids[0].as_str()));
    gateway.stop(Duration::from_secs(5)).await;
}
