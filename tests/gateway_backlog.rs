//! The backlog is on disk: when a route's carrier holds its window and the route's
//! in-memory queue is full, acknowledged messages wait in the store and the dispatcher
//! reads them back as room frees up — each sent exactly once, OTP first.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use smppgate::config::Config;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::gateway::Gateway;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use smppgate_protocol::types::Address;
use support::within;
use tokio::sync::watch;

/// A carrier that records the order texts arrive in and answers only while its gate
/// is open.
struct GatedCarrier {
    arrivals: Mutex<Vec<Vec<u8>>>,
    gate: watch::Receiver<bool>,
    next: AtomicU64,
}

impl SmscHandler for GatedCarrier {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"gated"))
    }

    fn submit_sm(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
        submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(submit_sm.short_message.to_vec());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut gate = self.gate.clone();
        Reply::Later(Box::pin(async move {
            let _ = gate.wait_for(|open| *open).await;
            Ok(Bytes::from(format!("{id:x}")))
        }))
    }
}

const CARRIER_WINDOW: usize = 8;
const QUEUE: usize = 50;
const CAMPAIGN: usize = 1_500;
const OTP: usize = 20;

fn config(carrier: std::net::SocketAddr) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = ":memory:".into();
    let account = &mut config.accounts[0];
    account.window = 256;
    account.tps = 0;
    let sim = &mut config.carriers[0];
    sim.address = carrier.to_string();
    sim.binds = 1;
    sim.window = CARRIER_WINDOW;
    sim.tps = 100_000;
    config.routes[0].queue = QUEUE;
    config
}

fn message(text: String, class: &str) -> SubmitSm {
    SubmitSm {
        service_type: Bytes::from(class.to_owned()),
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from(text),
        ..SubmitSm::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_beyond_the_queue_waits_on_disk_and_goes_once_each_otp_first() {
    let (open, gate) = watch::channel(false);
    let carrier = Arc::new(GatedCarrier {
        arrivals: Mutex::new(Vec::new()),
        gate,
        next: AtomicU64::new(1),
    });
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let gateway = within("start", Gateway::start(config(server.local_addr())))
        .await
        .expect("gateway");
    let mut client_config = EsmeConfig::new("demo", "demo");
    client_config.window = 256;
    let (client, _inbound) = within(
        "bind",
        EsmeClient::connect(&gateway.local_addr().to_string(), client_config),
    )
    .await
    .expect("bind");
    // The carrier's bind is up once it holds its first request.
    let first = within("first", client.submit(message("m-first".into(), "mkt")))
        .await
        .expect("submit");
    assert!(first.is_ok());

    // A campaign far larger than the carrier's window plus the route's queue: all of it
    // is acknowledged (durable), most of it waits in the store.
    let acked: Vec<String> = futures::stream::iter((0..CAMPAIGN).map(|n| {
        let client = client.clone();
        async move {
            let text = format!("m-{n}");
            let response = client
                .submit(message(text.clone(), "mkt"))
                .await
                .expect("submit");
            assert!(response.is_ok(), "{}", response.status());
            text
        }
    }))
    .buffer_unordered(128)
    .collect()
    .await;
    assert_eq!(acked.len(), CAMPAIGN);
    for n in 0..OTP {
        let response = within("otp", client.submit(message(format!("otp-{n}"), "otp")))
            .await
            .expect("submit");
        assert!(response.is_ok());
    }
    let held = carrier
        .arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    assert!(
        held <= CARRIER_WINDOW + 1,
        "{held} at the carrier while it held its window"
    );

    open.send_replace(true);
    let total = CAMPAIGN + OTP + 1;
    within("everything at the carrier", async {
        loop {
            let distinct = {
                let arrivals = carrier
                    .arrivals
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                arrivals
                    .iter()
                    .collect::<std::collections::HashSet<_>>()
                    .len()
            };
            if distinct >= total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Let a stray second copy show itself before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let arrivals = carrier
        .arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for text in &arrivals {
        *counts.entry(text.as_slice()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {:?}", twice.first());
    for text in &acked {
        assert!(
            counts.contains_key(text.as_bytes()),
            "{text} never reached the carrier"
        );
    }
    // OTP first: each OTP arrived right after what the carrier held when the gate
    // opened, ahead of the campaign waiting in the queue and on disk.
    let last_otp = arrivals
        .iter()
        .rposition(|t| t.starts_with(b"otp-"))
        .expect("otp arrived");
    assert!(
        last_otp < CARRIER_WINDOW + 1 + OTP + CARRIER_WINDOW,
        "the last OTP arrived {last_otp}th of {total}"
    );
    let stats = gateway.stats().to_json();
    assert!(
        stats["dispatched_from_store"].as_u64().unwrap_or(0) > 0,
        "nothing was read back from the store: {stats}"
    );
    assert_eq!(stats["parts_failed"], 0, "{stats}");
    let report = gateway.stop(Duration::from_secs(5)).await;
    eprintln!("{report}");
}
