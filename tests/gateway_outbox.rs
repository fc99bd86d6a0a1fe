//! The outbox stage end to end, in-process: a gateway on a fjall store, a simulated
//! carrier, and an upstream client that refuses some receipts. Refused receipts are
//! retried, then parked, without holding up the receipts behind them; `receipts replay`
//! puts them back and a restarted gateway delivers them.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use smppgate::config::Config;
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::Gateway;
use smppgate::sim::{Sim, SimConfig};
use smppgate::store::{FjallStore, Store};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, SubmitSm};
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, RegisteredDelivery};
use support::flaky_store::FlakyStore;
use support::within;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Receipts the client refuses (all of them, every time).
const REFUSED: usize = 2_000;
/// Receipts it accepts, sent after the refused ones.
const ACCEPTED: usize = 200;
const MAX_ATTEMPTS: u32 = 2;

fn config(carrier: std::net::SocketAddr) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.carriers[0].address = carrier.to_string();
    config.carriers[0].window = 256;
    config.receipts.outbox_max_attempts = MAX_ATTEMPTS;
    config.receipts.outbox_retry_initial = Duration::from_millis(200);
    config.receipts.outbox_retry_max = Duration::from_millis(400);
    config
}

/// A simulated carrier that sends each receipt 1 ms after its submit.
async fn fast_sim() -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".into(),
        receipt_delay: Duration::from_millis(1),
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

/// A message whose receipt's `text:` (its first 20 characters) says what the client does.
fn message(text: String) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        registered_delivery: RegisteredDelivery(1),
        short_message: Bytes::from(text),
        ..SubmitSm::default()
    }
}

async fn bind(gateway: &Gateway, kind: BindKind, auto_respond: bool) -> (EsmeClient, Inbound) {
    let mut config = EsmeConfig::new("demo", "demo");
    config.bind = kind;
    config.auto_respond = auto_respond;
    within(
        "bind upstream",
        EsmeClient::connect(&gateway.local_addr().to_string(), config),
    )
    .await
    .expect("bind")
}

fn receipt_id(pdu: &smppgate_protocol::pdu::Pdu) -> String {
    DeliveryReceipt::from_body(&pdu.body)
        .expect("a receipt")
        .id()
        .expect("an id")
        .to_owned()
}

/// Answers `text:refuse…` receipts ESME_RX_T_APPN (counted on `refusals`) and the others
/// ESME_ROK (their ids and arrival on `accepted`).
async fn respond(
    mut inbound: Inbound,
    refusals: watch::Sender<usize>,
    accepted: mpsc::Sender<(String, Instant)>,
) {
    while let Some(request) = inbound.recv().await {
        let refuse = match &request.pdu.body {
            Body::DeliverSm(deliver_sm) => deliver_sm
                .short_message
                .windows(11)
                .any(|w| w == b"text:refuse"),
            _ => false,
        };
        if refuse {
            request.respond(CommandStatus::ESME_RX_T_APPN, None).await;
            refusals.send_modify(|n| *n += 1);
        } else {
            let id = receipt_id(&request.pdu);
            request.respond(CommandStatus::ESME_ROK, None).await;
            let _ = accepted.send((id, Instant::now())).await;
        }
    }
}

async fn submit_id(client: &EsmeClient, text: String) -> String {
    let response = within("submit", client.submit(message(text)))
        .await
        .expect("submit");
    assert!(response.is_ok(), "{}", response.status());
    String::from_utf8(response.message_id().expect("id").to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_receipts_are_parked_without_holding_up_the_rest_and_replay_delivers_them() {
    let sim = fast_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let config = config(sim.local_addr());
    let gateway = Gateway::start_with_store(config.clone(), Arc::clone(&store))
        .await
        .expect("gateway");

    let (client, inbound) = bind(&gateway, BindKind::Transceiver, false).await;
    let (refusals_tx, mut refusals) = watch::channel(0);
    let (accepted_tx, mut accepted) = mpsc::channel(ACCEPTED);
    let responder = tokio::spawn(respond(inbound, refusals_tx, accepted_tx));

    // The receipts of these are refused every time.
    let mut refused_ids = HashSet::new();
    let mut sends = FuturesUnordered::new();
    for n in 0..REFUSED {
        sends.push(submit_id(&client, format!("refuse {n}")));
        if sends.len() >= 64 {
            refused_ids.insert(sends.next().await.unwrap());
        }
    }
    while let Some(id) = sends.next().await {
        refused_ids.insert(id);
    }
    drop(sends);
    // These come after: each receipt reaches the client within seconds of its submit,
    // while the refused ones are tried again and parked.
    let mut submitted = HashMap::new();
    for n in 0..ACCEPTED {
        let id = submit_id(&client, format!("accept {n}")).await;
        submitted.insert(id, Instant::now());
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..ACCEPTED {
        let (id, at) = within("an accepted receipt", accepted.recv())
            .await
            .expect("responder running");
        let sent = submitted
            .remove(&id)
            .unwrap_or_else(|| panic!("unknown or repeated receipt {id}"));
        slowest = slowest.max(at.saturating_duration_since(sent));
    }
    assert!(
        slowest < Duration::from_secs(5),
        "a receipt took {slowest:?} after its submit"
    );
    // Each refused receipt is refused MAX_ATTEMPTS times, then parked.
    within(
        "every refused receipt tried MAX_ATTEMPTS times",
        refusals.wait_for(|n| *n >= REFUSED * MAX_ATTEMPTS as usize),
    )
    .await
    .unwrap();
    gateway.stop(Duration::from_secs(4)).await;
    drop(client);
    let _ = within("responder ends", responder).await;
    assert_eq!(*refusals.borrow(), REFUSED * MAX_ATTEMPTS as usize);

    let parked = store.parked(Some("demo"), usize::MAX).unwrap();
    assert_eq!(parked.len(), REFUSED);
    let mut parked_ids = HashSet::new();
    for item in &parked {
        assert_eq!(item.item.attempts, MAX_ATTEMPTS);
        assert_eq!(item.status, CommandStatus::ESME_RX_T_APPN.0);
        let line = smppgate::cli::receipt::parked_json(item);
        assert_eq!(line["last_status"], "ESME_RX_T_APPN", "{line}");
        assert_eq!(line["receipt"]["stat"], "DELIVRD", "{line}");
        parked_ids.insert(
            line["receipt"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(parked_ids, refused_ids);
    assert!(store.parked(Some("other"), 10).unwrap().is_empty());
    assert!(
        store.outbox_after("demo", 0, 10).unwrap().is_empty(),
        "every accepted receipt acknowledged"
    );

    // Replay on the stopped gateway's store, restart on it: the parked receipts arrive.
    let replayed = smppgate::cli::receipt::replay_parked(&*store, "demo").unwrap();
    assert_eq!(replayed, REFUSED);
    assert!(store.parked(None, 10).unwrap().is_empty());
    let gateway = Gateway::start_with_store(config, Arc::clone(&store))
        .await
        .expect("gateway after replay");
    let (_receiver, mut inbound) = bind(&gateway, BindKind::Receiver, true).await;
    let mut delivered = HashSet::new();
    while delivered.len() < REFUSED {
        let request = within("a replayed receipt", inbound.recv())
            .await
            .expect("open");
        let id = receipt_id(&request.pdu);
        assert!(refused_ids.contains(&id), "unexpected receipt {id}");
        delivered.insert(id);
    }
    gateway.stop(Duration::from_secs(4)).await;
    assert!(store.outbox_after("demo", 0, 10).unwrap().is_empty());
    assert!(store.parked(None, 10).unwrap().is_empty());
    let _ = sim.shutdown(Duration::from_secs(1)).await;
}

/// Two receiver binds of one account share its receipts: each gets some, together they
/// get every one, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receiver_binds_of_an_account_share_its_receipts() {
    const COUNT: usize = 400;
    let sim = fast_sim().await;
    let mut config = config(sim.local_addr());
    config.store.path = ":memory:".into();
    let gateway = Gateway::start(config).await.expect("gateway");
    let (transmitter, _tx_inbound) = bind(&gateway, BindKind::Transmitter, true).await;
    let (_first, first) = bind(&gateway, BindKind::Receiver, false).await;
    let (_second, second) = bind(&gateway, BindKind::Receiver, false).await;
    let (ids_tx, mut ids) = mpsc::channel(COUNT * 2);
    for (n, mut inbound) in [first, second].into_iter().enumerate() {
        let ids_tx = ids_tx.clone();
        tokio::spawn(async move {
            while let Some(request) = inbound.recv().await {
                let id = receipt_id(&request.pdu);
                // A slow client: each bind has several receipts in flight at once.
                tokio::time::sleep(Duration::from_millis(2)).await;
                request.respond(CommandStatus::ESME_ROK, None).await;
                let _ = ids_tx.send((n, id)).await;
            }
        });
    }
    drop(ids_tx);
    let mut sent: HashSet<String> = HashSet::new();
    let mut submits: FuturesUnordered<_> = (0..COUNT)
        .map(|n| submit_id(&transmitter, format!("share {n}")))
        .collect();
    while let Some(id) = submits.next().await {
        sent.insert(id);
    }
    let mut per_bind = [0usize; 2];
    let mut seen: HashMap<String, usize> = HashMap::new();
    while seen.len() < COUNT {
        let (n, id) = within("receipts", ids.recv()).await.expect("receipt");
        per_bind[n] += 1;
        *seen.entry(id).or_default() += 1;
    }
    assert!(
        seen.keys().all(|id| sent.contains(id)),
        "a receipt for nothing sent"
    );
    assert!(seen.values().all(|n| *n == 1), "a receipt arrived twice");
    assert!(
        per_bind[0] >= COUNT / 10 && per_bind[1] >= COUNT / 10,
        "one bind carried (almost) everything: {per_bind:?}"
    );
    let _ = gateway.stop(Duration::from_secs(5)).await;
}

/// Receipts queued for one account wake that account's outbox task only: another
/// account's task, bound and idle, does not read its (empty) queue for each batch the
/// receipt writer commits. (Before, every queued batch woke every account: N accounts,
/// N reads per batch; on a cluster each read is a round trip to NATS.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_for_one_account_wake_only_that_accounts_outbox() {
    const COUNT: usize = 300;
    let sim = fast_sim().await;
    let store = Arc::new(FlakyStore::default());
    let mut config = config(sim.local_addr());
    let demo = config.accounts[0].clone();
    config.accounts.push(smppgate::config::AccountConfig {
        system_id: "quiet".into(),
        password: Some("pw".into()),
        ..demo
    });
    let gateway = Gateway::start_with_store(config, Arc::clone(&store) as Arc<dyn Store>)
        .await
        .expect("gateway");
    let mut quiet = EsmeConfig::new("quiet", "pw");
    quiet.bind = BindKind::Receiver;
    let (_quiet, _quiet_inbound) = within(
        "bind quiet",
        EsmeClient::connect(&gateway.local_addr().to_string(), quiet),
    )
    .await
    .expect("bind quiet");
    let (client, mut inbound) = bind(&gateway, BindKind::Transceiver, true).await;
    // Settled: the start's and the binds' reads are done.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quiet_before = store.reads_of("quiet");
    let demo_before = store.reads_of("demo");
    let mut sends = FuturesUnordered::new();
    for n in 0..COUNT {
        sends.push(submit_id(&client, format!("ok {n}")));
        if sends.len() >= 64 {
            sends.next().await;
        }
    }
    while sends.next().await.is_some() {}
    for _ in 0..COUNT {
        within("a receipt", inbound.recv()).await.expect("receipt");
    }
    let (quiet_reads, demo_reads) = (
        store.reads_of("quiet") - quiet_before,
        store.reads_of("demo") - demo_before,
    );
    eprintln!("{COUNT} receipts: demo's queue read {demo_reads} times, quiet's {quiet_reads}");
    assert!(demo_reads >= 2, "demo read {demo_reads} times");
    assert_eq!(
        quiet_reads, 0,
        "quiet's empty queue was read for demo's receipts"
    );
    gateway.stop(Duration::from_secs(5)).await;
}

/// A client that answers ESME_RTHROTTLED (more times than `outbox_max_attempts`) gets
/// its receipts once it takes them again: the outbox pauses, and nothing is parked
/// (before, each throttle counted as a refusal and the receipts were parked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_client_gets_its_receipts_later_none_parked() {
    const MESSAGES: usize = 20;
    let sim = fast_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let gateway = Gateway::start_with_store(config(sim.local_addr()), Arc::clone(&store))
        .await
        .expect("gateway");
    let (client, mut inbound) = bind(&gateway, BindKind::Transceiver, false).await;
    // Throttles the first 2 × MAX_ATTEMPTS deliver_sm per message (each receipt is
    // throttled more than MAX_ATTEMPTS times), then takes everything.
    let responder = tokio::spawn(async move {
        let mut throttled = 0;
        let mut delivered = HashSet::new();
        while delivered.len() < MESSAGES {
            let Some(request) = inbound.recv().await else {
                break;
            };
            if throttled < 2 * MAX_ATTEMPTS as usize * MESSAGES {
                throttled += 1;
                request.respond(CommandStatus::ESME_RTHROTTLED, None).await;
            } else {
                delivered.insert(receipt_id(&request.pdu));
                request.respond(CommandStatus::ESME_ROK, None).await;
            }
        }
        delivered
    });
    let mut ids = HashSet::new();
    for n in 0..MESSAGES {
        ids.insert(submit_id(&client, format!("throttled {n}")).await);
    }
    let delivered = within("every receipt delivered", responder)
        .await
        .expect("responder");
    assert_eq!(delivered, ids);
    gateway.stop(Duration::from_secs(4)).await;
    assert!(store.parked(Some("demo"), usize::MAX).unwrap().is_empty());
}

/// An acknowledgement whose commit fails (a store error) is committed again: the
/// receipt the client took is not left queued, to be sent again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_acknowledgement_commit_is_tried_again() {
    let sim = fast_sim().await;
    let store = Arc::new(FlakyStore::default());
    store
        .failing_acks
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let gateway = Gateway::start_with_store(
        config(sim.local_addr()),
        Arc::clone(&store) as Arc<dyn Store>,
    )
    .await
    .expect("gateway");
    let (client, mut inbound) = bind(&gateway, BindKind::Transceiver, true).await;
    let id = submit_id(&client, "acked once".to_owned()).await;
    let request = within("the receipt", inbound.recv()).await.expect("open");
    assert_eq!(receipt_id(&request.pdu), id);
    within("the acknowledgement stored", async {
        while !store.inner.outbox("demo", 16).unwrap().is_empty()
            || store.failing_acks.load(std::sync::atomic::Ordering::SeqCst) > 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    gateway.stop(Duration::from_secs(4)).await;
    assert!(store.inner.outbox("demo", 16).unwrap().is_empty());
}
