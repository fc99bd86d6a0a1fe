//! The market rules end to end through a gateway and a recording carrier.
//!
//! Quiet hours, with an injected clock: a marketing message submitted at 07:59:57
//! Beijing time (inside 21:00–08:00) is acknowledged at once, not sent, and reaches the
//! carrier at 08:00 — also when the gateway is stopped and started again in between; an
//! OTP submitted at the same moment goes at once. (The window arithmetic, 22:00 and the
//! edges included, is unit-tested in `policy::quiet_hours`.)
//!
//! `marketing_opt_out_mode = "append"`: the opt-out text is added before the split, so
//! the carrier gets (and the record counts) the parts of what was sent.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use smppgate::clock::Clock;
use smppgate::config::{Config, PolicyConfig, QuietHours, TimeOfDay};
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::gateway::Gateway;
use smppgate::policy::engine::PolicyEngine;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate::store::{FjallStore, Store};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use smppgate_protocol::types::Address;
use support::within;

/// 2026-12-06 07:59:57 in Beijing (+08:00), as UTC milliseconds.
const BEFORE_EIGHT_CN: u64 = 1_796_515_200_000 - 8 * 3_600_000 + (7 * 3600 + 59 * 60 + 57) * 1000;
/// 08:00:00 the same morning.
const EIGHT_CN: u64 = BEFORE_EIGHT_CN + 3_000;

/// Records the gateway wall time at which each text reached it.
struct Carrier {
    clock: Mutex<Option<Clock>>,
    arrivals: Mutex<Vec<(Vec<u8>, u64)>>,
    next: AtomicU64,
}

impl SmscHandler for Carrier {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"carrier"))
    }

    fn submit_sm(&self, _s: &SessionInfo, _p: &Pdu, submit_sm: &SubmitSm) -> Reply<MessageId> {
        let now = self
            .clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(0, |clock| clock.wall_ms());
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((submit_sm.short_message.to_vec(), now));
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        Reply::Ready(Ok(Bytes::from(format!("{id:x}"))))
    }
}

impl Carrier {
    fn arrivals(&self, text: &[u8]) -> Vec<u64> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(t, _)| t == text)
            .map(|(_, at)| *at)
            .collect()
    }

    async fn wait_for(&self, text: &[u8]) -> u64 {
        within("arrival", async {
            loop {
                if let Some(at) = self.arrivals(text).first() {
                    return *at;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }
}

fn message(service_type: &str, text: &'static str) -> SubmitSm {
    SubmitSm {
        service_type: Bytes::copy_from_slice(service_type.as_bytes()),
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from_static(text.as_bytes()),
        ..SubmitSm::default()
    }
}

fn carrier() -> Arc<Carrier> {
    Arc::new(Carrier {
        clock: Mutex::new(None),
        arrivals: Mutex::new(Vec::new()),
        next: AtomicU64::new(0),
    })
}

/// The demo set-up sending to `server`, the demo account under `policy`.
fn config_with(server: &SmscServer, policy: PolicyConfig) -> Config {
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.carriers[0].address = server.local_addr().to_string();
    config.accounts[0].policy = Some(policy.name.clone());
    config.accounts[0].signatures = vec!["【示例商城】".into()];
    config.policies = vec![policy];
    config
}

async fn start(config: &Config, store: &Arc<dyn Store>, clock: Clock) -> Gateway {
    let engine = PolicyEngine::for_gateway(
        config,
        Arc::clone(store),
        Arc::new(smppgate::policy::engine::NoSuppressions),
        clock.wall_ms(),
    )
    .await
    .expect("policies")
    .expect("the demo account names a policy");
    within(
        "start",
        Gateway::start_with(config.clone(), Arc::clone(store), engine, clock),
    )
    .await
    .expect("gateway")
}

async fn bind(gateway: &Gateway) -> (EsmeClient, smppgate::esme::Inbound) {
    within(
        "bind",
        EsmeClient::connect(
            &gateway.local_addr().to_string(),
            EsmeConfig::new("demo", "demo"),
        ),
    )
    .await
    .expect("bind")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketing_in_quiet_hours_waits_for_eight_even_across_a_restart() {
    let carrier = carrier();
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let mut policy = PolicyConfig::named("cn");
    policy.quiet_hours = Some(QuietHours {
        classes: vec![smppgate::config::Class::Marketing],
        from: TimeOfDay::parse("21:00").unwrap(),
        to: TimeOfDay::parse("08:00").unwrap(),
        utc_offsets: Default::default(),
    });
    let config = config_with(&server, policy);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));

    let clock = Clock::starting_at(BEFORE_EIGHT_CN);
    *carrier.clock.lock().unwrap() = Some(clock);
    let gateway = start(&config, &store, clock).await;
    let (client, _inbound) = bind(&gateway).await;
    for (class, text) in [("mkt", "campaign"), ("otp", "code 1234")] {
        let response = within("submit", client.submit(message(class, text)))
            .await
            .unwrap();
        assert!(response.is_ok(), "{text}: {}", response.status());
    }
    let otp_at = carrier.wait_for(b"code 1234").await;
    assert!(otp_at < EIGHT_CN, "the OTP went at once");
    assert!(
        carrier.arrivals(b"campaign").is_empty(),
        "sent in quiet hours"
    );

    // Stopped and started again before 08:00: the store keeps it deferred.
    client.unbind().await;
    let _ = gateway.stop(Duration::from_secs(5)).await;
    assert!(
        clock.wall_ms() < EIGHT_CN,
        "the machine was too slow to test the restart"
    );
    assert!(
        carrier.arrivals(b"campaign").is_empty(),
        "sent in quiet hours"
    );
    let waiting: Vec<_> = store
        .pending()
        .expect("pending")
        .into_iter()
        .filter(|record| record.not_before > 0)
        .collect();
    assert_eq!(waiting.len(), 1, "only the campaign waits");
    assert_eq!(
        waiting[0].deferred_by.as_deref(),
        Some("quiet_hours"),
        "the record says why it waits (messages show prints it)"
    );
    let clock = Clock::starting_at(clock.wall_ms());
    *carrier.clock.lock().unwrap() = Some(clock);
    let gateway = start(&config, &store, clock).await;
    let campaign_at = carrier.wait_for(b"campaign").await;
    assert!(
        campaign_at >= EIGHT_CN,
        "sent {} ms before 08:00",
        EIGHT_CN - campaign_at
    );
    assert_eq!(carrier.arrivals(b"campaign").len(), 1, "sent twice");
    assert_eq!(carrier.arrivals(b"code 1234").len(), 1, "sent twice");
    let _ = gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_adds_the_opt_out_text_and_the_parts_follow() {
    let carrier = carrier();
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let mut policy = PolicyConfig::named("append");
    policy.marketing_opt_out_text = vec!["回T退订".into()];
    policy.marketing_opt_out_mode = smppgate::config::OptOutTextMode::Append;
    let config = config_with(&server, policy);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let clock = Clock::system();
    let gateway = start(&config, &store, clock).await;
    let (client, _inbound) = bind(&gateway).await;
    // 68 UCS-2 characters: one part as written (70 fit), two with the 4 appended.
    let text = format!("【示例商城】{}", "促".repeat(62));
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let submit_sm = SubmitSm {
        service_type: Bytes::from_static(b"mkt"),
        data_coding: smppgate_protocol::types::DataCoding(8),
        short_message: Bytes::from(ucs2),
        ..message("mkt", "")
    };
    let response = within("submit", client.submit(submit_sm)).await.unwrap();
    assert!(response.is_ok(), "{}", response.status());
    within("two parts", async {
        while carrier.arrivals.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let parts: Vec<Vec<u8>> = carrier
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|(data, _)| data.clone())
        .collect();
    assert_eq!(parts.len(), 2, "the parts of the text as sent");
    // The last part (UDH `05 00 03 ref 02 02`; the parts may arrive in any order), after
    // its 6-octet UDH, ends with the opt-out text.
    let last = parts.iter().find(|p| p[5] == 2).expect("part 2 of 2");
    let tail: Vec<u16> = last[6..]
        .chunks(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    assert!(
        String::from_utf16_lossy(&tail).ends_with("回T退订"),
        "{tail:?}"
    );
    // The stored record counts what was sent.
    let record = store.list(&smppgate::store::ListFilter::default()).unwrap();
    assert_eq!(record[0].part_count, 2);
    client.unbind().await;
    let _ = gateway.stop(Duration::from_secs(5)).await;
}

/// A message refused by a rule answered by receipt is stored not yet final (its parts
/// ended, its receipt to come) and settled by the writer just after. A run that stopped
/// in between left it so: the next start settles it at once (from its backlog read), not
/// at the end of its validity three days later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_receipt_left_unsettled_by_a_crash_is_settled_at_the_next_start() {
    use smppgate::store::{Op, State};
    let carrier = carrier();
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let mut policy = PolicyConfig::named("cn");
    policy.reject_with = smppgate::config::RejectWith::Receipt;
    policy.require_signature = true;
    let config = config_with(&server, policy);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let clock = Clock::starting_at(EIGHT_CN);
    let gateway = start(&config, &store, clock).await;
    let (client, _inbound) = bind(&gateway).await;
    // No signature: refused, answered ESME_ROK then by a REJECTD receipt.
    let mut unsigned = message("otp", "code 1234");
    unsigned.registered_delivery = smppgate_protocol::types::RegisteredDelivery(0);
    let response = within("submit", client.submit(unsigned)).await.unwrap();
    assert!(response.is_ok(), "{}", response.status());
    let id = u64::from_str_radix(
        std::str::from_utf8(response.message_id().unwrap()).unwrap(),
        16,
    )
    .unwrap();
    within("settled", async {
        while store.get(id).unwrap().unwrap().state != State::Rejected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    drop(client);
    gateway.stop(Duration::from_secs(5)).await;
    // As the crash left it: stored, its parts ended, the message not.
    store
        .commit(&[Op::State {
            id,
            state: State::Accepted,
        }])
        .unwrap();
    assert_eq!(store.pending().unwrap().len(), 1);
    let gateway = start(&config, &store, clock).await;
    within("settled at the start", async {
        while store.get(id).unwrap().unwrap().state != State::Rejected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(store.pending().unwrap().is_empty());
    gateway.stop(Duration::from_secs(5)).await;
}
