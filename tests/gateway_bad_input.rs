//! Hostile and faulty conditions around `smppgate serve`: idle and excess connections,
//! password guessing, per-account TPS, submit before bind, a failing store — each with
//! the exact status, and bound clients keep working.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use smppgate::config::{AccountConfig, Config};
use smppgate::esme::{ConnectError, EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::Gateway;
use smppgate::store::{ListFilter, Store};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, Pdu, SubmitSm};
use smppgate_protocol::types::Address;
use support::flaky_store::FlakyStore;
use support::within;

fn config() -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    config
}

async fn start(config: Config) -> Gateway {
    Gateway::start(config).await.expect("gateway starts")
}

async fn bind(
    gateway: &Gateway,
    id: &str,
    pw: &str,
) -> Result<(EsmeClient, Inbound), ConnectError> {
    within(
        "bind",
        EsmeClient::connect(&gateway.local_addr().to_string(), EsmeConfig::new(id, pw)),
    )
    .await
}

fn message() -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from_static(b"hello"),
        ..SubmitSm::default()
    }
}

/// Reads until EOF or `limit`; returns whether the peer closed.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0) | Err(_)) && {
        // Err on timeout means not closed.
        stream
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        matches!(stream.read(&mut buf), Ok(0))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_excess_connections_are_closed_and_bound_clients_keep_working() {
    let mut config = config();
    config.server.idle_timeout = Duration::from_secs(1);
    config.server.max_connections = 4;
    let gateway = start(config).await;
    let addr = gateway.local_addr();
    let (client, _inbound) = bind(&gateway, "demo", "demo").await.expect("bind");
    // Three idle sockets fill the limit; a fourth is closed at once.
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut excess = TcpStream::connect(addr).unwrap();
    assert!(
        closed_within(&mut excess, Duration::from_millis(500)),
        "a connection over max_connections stayed open"
    );
    // The idle ones are closed after idle_timeout (never bound).
    let started = Instant::now();
    for mut socket in idle {
        assert!(
            closed_within(&mut socket, Duration::from_secs(5)),
            "an idle socket stayed open"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        within("submit", client.submit(message()))
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_locks_the_address_out() {
    let mut config = config();
    config.server.lockout_failures = 3;
    let gateway = start(config).await;
    let (client, _inbound) = bind(&gateway, "demo", "demo").await.expect("bind");
    for _ in 0..3 {
        match bind(&gateway, "demo", "guess").await {
            Err(ConnectError::BindRefused { status, .. }) => {
                assert_eq!(status, CommandStatus::ESME_RINVPASWD);
            }
            other => panic!("expected RINVPASWD, got {:?}", other.map(|_| ())),
        }
    }
    // Locked out: even the right password is refused now.
    match bind(&gateway, "demo", "demo").await {
        Err(ConnectError::BindRefused { status, .. }) => {
            assert_eq!(status, CommandStatus::ESME_RBINDFAIL);
        }
        other => panic!("expected RBINDFAIL, got {:?}", other.map(|_| ())),
    }
    // The client bound before the flood is not hurt.
    assert!(
        within("submit", client.submit(message()))
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_tps_above_the_limit_is_throttled() {
    let mut config = config();
    config.accounts.push(AccountConfig {
        system_id: "slow".into(),
        tps: 20,
        ..config.accounts[0].clone()
    });
    let gateway = start(config).await;
    let (client, _inbound) = bind(&gateway, "slow", "demo").await.expect("bind");
    let results = futures::future::join_all((0..60).map(|_| client.submit(message()))).await;
    let statuses: Vec<CommandStatus> = results.into_iter().map(|r| r.unwrap().status()).collect();
    let ok = statuses.iter().filter(|s| s.is_ok()).count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == CommandStatus::ESME_RTHROTTLED)
        .count();
    assert_eq!(ok + throttled, 60, "{statuses:?}");
    assert!((1..=25).contains(&ok), "{ok} accepted in a burst at 20 TPS");
    assert!(throttled >= 35);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_before_bind_gets_rinvbndsts() {
    let gateway = start(config()).await;
    let mut socket = TcpStream::connect(gateway.local_addr()).unwrap();
    let pdu = Pdu::new(7, Body::SubmitSm(message()));
    let bytes = smppgate_protocol::codec::encode_to_bytes(&pdu).unwrap();
    socket.write_all(&bytes).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut header = [0u8; 16];
    socket.read_exact(&mut header).unwrap();
    let command_id = u32::from_be_bytes(header[4..8].try_into().unwrap());
    let status = u32::from_be_bytes(header[8..12].try_into().unwrap());
    let sequence = u32::from_be_bytes(header[12..16].try_into().unwrap());
    assert_eq!(command_id, 0x8000_0004, "submit_sm_resp");
    assert_eq!(CommandStatus(status), CommandStatus::ESME_RINVBNDSTS);
    assert_eq!(sequence, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_answers_rsyserr_acknowledges_nothing_and_recovers() {
    let store = Arc::new(FlakyStore::default());
    let gateway = Gateway::start_with_store(config(), Arc::clone(&store) as _)
        .await
        .expect("gateway");
    let (client, _inbound) = bind(&gateway, "demo", "demo").await.expect("bind");
    assert!(
        within("submit", client.submit(message()))
            .await
            .unwrap()
            .is_ok()
    );
    store.failing.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        let response = within("submit while failing", client.submit(message()))
            .await
            .unwrap();
        assert_eq!(response.status(), CommandStatus::ESME_RSYSERR);
    }
    // Nothing acknowledged was lost; nothing refused was stored.
    assert_eq!(store.inner.list(&ListFilter::default()).unwrap().len(), 1);
    store.failing.store(false, Ordering::SeqCst);
    let response = within("submit after recovery", client.submit(message()))
        .await
        .unwrap();
    assert!(response.is_ok(), "{}", response.status());
    assert_eq!(store.inner.list(&ListFilter::default()).unwrap().len(), 2);
    assert_eq!(gateway.stats().to_json()["accepted"], 2);
}

/// A client whose connection drops while its submit_sm is being committed got no
/// answer, but its message is stored: it is sent all the same, without a restart (before,
/// the connection's pending answer was dropped with the hand-off to the dispatcher, and
/// the message waited on disk until the next start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_client_drops_during_its_commit_is_sent() {
    use smppgate_protocol::codec::encode_to_bytes;
    use smppgate_protocol::pdu::Bind;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let store = Arc::new(FlakyStore::default());
    let gateway = Gateway::start_with_store(config(), Arc::clone(&store) as _)
        .await
        .expect("gateway");
    let mut tcp = tokio::net::TcpStream::connect(gateway.local_addr())
        .await
        .unwrap();
    let bind = Pdu::new(
        1,
        Body::BindTransmitter(Bind {
            system_id: Bytes::from_static(b"demo"),
            password: Bytes::from_static(b"demo"),
            interface_version: 0x34,
            ..Bind::default()
        }),
    );
    tcp.write_all(&encode_to_bytes(&bind).unwrap())
        .await
        .unwrap();
    let mut head = [0u8; 16];
    within("bind_transmitter_resp", tcp.read_exact(&mut head))
        .await
        .unwrap();
    assert_eq!(&head[8..12], &[0, 0, 0, 0], "bound");
    let length = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
    let mut rest = vec![0u8; length - 16];
    tcp.read_exact(&mut rest).await.unwrap();
    store.hold_inserts(true);
    let submit = Pdu::new(2, Body::SubmitSm(message()));
    tcp.write_all(&encode_to_bytes(&submit).unwrap())
        .await
        .unwrap();
    within("its commit under way", async {
        while store.inserts_waiting.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(tcp);
    // The server sees the connection end (and drops the answer it owed).
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.hold_inserts(false);
    within("the message sent", async {
        loop {
            let stored = store.inner.list(&ListFilter::default()).unwrap();
            if stored
                .iter()
                .any(|record| record.state != smppgate::store::State::Accepted)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    gateway.stop(Duration::from_secs(5)).await;
}

/// The backlog is on disk: a route whose carrier takes one message a second keeps
/// accepting past its in-memory lane (10 000 per class), up to the account's
/// `[store] max_pending`, and only then answers ESME_RMSGQFUL — before acknowledging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_route_backs_up_on_disk_and_refuses_only_past_max_pending() {
    const MAX_PENDING: usize = smppgate::carrier::LANE_CAPACITY + 2_000;
    let mut config = config();
    config.carriers[0].tps = 1;
    config.accounts[0].window = 512;
    config.accounts[0].tps = 0;
    config.store.max_pending = MAX_PENDING as u64;
    let gateway = start(config).await;
    let mut client_config = EsmeConfig::new("demo", "demo");
    client_config.window = 512;
    let (client, _inbound) = within(
        "bind",
        EsmeClient::connect(&gateway.local_addr().to_string(), client_config),
    )
    .await
    .unwrap();
    let total = MAX_PENDING + 1_000;
    let mut sends =
        futures::stream::iter((0..total).map(|_| client.submit(message()))).buffer_unordered(256);
    let (mut ok, mut full) = (0usize, 0usize);
    while let Some(result) = futures::StreamExt::next(&mut sends).await {
        match result.unwrap().status() {
            s if s.is_ok() => ok += 1,
            CommandStatus::ESME_RMSGQFUL => full += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok + full, total);
    // A message leaves the backlog when final (its receipt): at one a second, a few.
    assert!(ok >= MAX_PENDING, "{ok} accepted");
    assert!(ok <= MAX_PENDING + 64, "{ok} accepted");
    let stats = gateway.stats().to_json();
    assert_eq!(stats["accepted"], ok as u64, "{stats}");
    // Nothing acknowledged was failed for lack of room; what did not fit the lane is
    // read back from the store.
    assert_eq!(stats["parts_failed"], 0, "{stats}");
    let pending = gateway
        .store()
        .pending_page(0, usize::MAX)
        .expect("pending");
    assert!(
        pending.len() + 64 >= ok,
        "{} pending of {ok}",
        pending.len()
    );
}

/// `[store] max_pending` bounds what no carrier has taken yet: messages the carrier
/// accepted (and that wait for a receipt, or want none) do not count against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_a_carrier_took_do_not_count_against_max_pending() {
    const MAX_PENDING: u64 = 20;
    let mut config = config();
    config.accounts[0].tps = 0;
    config.store.max_pending = MAX_PENDING;
    let gateway = start(config).await;
    let (client, _inbound) = bind(&gateway, "demo", "demo").await.expect("bind");
    for n in 0..MAX_PENDING * 10 {
        // One at a time, each waiting until the carrier took the one before.
        let response = within("submit", client.submit(message())).await.unwrap();
        assert!(response.is_ok(), "message {n}: {}", response.status());
        within("taken by the carrier", async {
            while gateway.stats().to_json()["parts_sent"].as_u64() < Some(n + 1) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
    }
    assert_eq!(gateway.stats().to_json()["accepted"], MAX_PENDING * 10);
}
