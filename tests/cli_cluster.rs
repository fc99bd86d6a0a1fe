//! The operator commands on a `[cluster]` configuration (issue #17): `smppgate suppress`,
//! `review list`, `stats` and `receipts parked|unmatched` work on JetStream (one NATS
//! server, `replicas = 1`) while a node runs; `review release|refuse` say in one line
//! which HTTP admin call does it. Before, each opened the embedded store's directory
//! (`no store at …`) and saw nothing of the cluster.
//!
//! - `suppress add` on the CLI is in force on the running node within a second (its
//!   marketing submit to the number refused 0x400), `check` and `list` see the entry,
//!   `remove` lifts it within a second;
//! - `review list` lists the message the node holds for review;
//! - `stats --json` counts what the node sent and got receipts for;
//! - receipts a client refused are parked in JetStream, `receipt parked` lists them, and
//!   `receipt replay` queues them again: the running node's receiver gets them.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::Body;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, DataCoding, RegisteredDelivery};
use support::nats::NatsCluster;
use support::{Sim, serve_node, smppgate, write_gateway_config};

const SUBSCRIBER: &str = "8613900001111";

fn node_config(dir: &Path, carrier: &str, nats: &NatsCluster, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(dir.join("lists/words.txt"), "法轮\n").unwrap();
    let rest = format!(
        r#"
[[account]]
system_id = "shop"
password = "secret"
policy = "cn"

[[policy]]
name = "cn"
sensitive_words = "lists/words.txt"
sensitive_action = "hold"

[[carrier]]
name = "sim"
address = "{carrier}"
system_id = "gw"
password = "x"
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["sim"]
{extra}
{}"#,
        nats.gateway_section("gw-1", 1)
    );
    write_gateway_config(dir, &rest)
}

/// `smppgate ARGS… --config CONFIG` (blocking: called in `block_in_place`).
fn cli(args: &[&str], config: &Path) -> Output {
    tokio::task::block_in_place(|| {
        smppgate()
            .args(args)
            .arg("--config")
            .arg(config)
            .output()
            .expect("run smppgate")
    })
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn submit(tx: &EsmeClient, service_type: &'static [u8], text: &str) -> (u32, String) {
    let ucs2 = !text.is_ascii();
    let submit = SubmitSm {
        service_type: Bytes::from_static(service_type),
        source_addr: Address::international("10690000"),
        destination_addr: Address::international(SUBSCRIBER),
        registered_delivery: RegisteredDelivery(1),
        data_coding: DataCoding(if ucs2 { 8 } else { 0 }),
        short_message: if ucs2 {
            Bytes::from(
                text.encode_utf16()
                    .flat_map(u16::to_be_bytes)
                    .collect::<Vec<u8>>(),
            )
        } else {
            Bytes::from(text.to_owned())
        },
        ..SubmitSm::default()
    };
    let response = support::within("submit answered", tx.submit(submit))
        .await
        .expect("response");
    let id = response
        .message_id()
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .unwrap_or_default();
    (response.status().0, id)
}

/// Submits marketing to the subscriber until its status is `want`, for at most a second
/// from `from`; the time it took.
async fn marketing_becomes(tx: &EsmeClient, want: u32, from: Instant) -> Duration {
    loop {
        let (status, _) = submit(tx, b"mkt", "20% off this week").await;
        if status == want {
            return from.elapsed();
        }
        assert!(
            from.elapsed() < Duration::from_secs(1),
            "marketing still answered {status:#x}, not {want:#x}, {:?} after the CLI",
            from.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_work_on_jetstream_beside_a_running_node() {
    let Some(nats) = NatsCluster::start_single() else {
        return;
    };
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), &sim.addr.to_string(), &nats, "");
    let (node, addr) = tokio::task::block_in_place(|| serve_node(&config));
    let mut esme = EsmeConfig::new("shop", "secret");
    esme.bind = BindKind::Transceiver;
    let (tx, _inbound) = support::within("bind", EsmeClient::connect(&addr.to_string(), esme))
        .await
        .expect("bind");
    assert_eq!(
        submit(&tx, b"mkt", "20% off").await.0,
        0,
        "before the opt-out"
    );

    // suppress add → in force on the running node within a second.
    let output = cli(
        &["suppress", "add", "--account", "shop", SUBSCRIBER],
        &config,
    );
    ok(&output);
    let took = marketing_becomes(&tx, 0x400, Instant::now()).await;
    eprintln!("suppress add in force on the node {took:?} after the CLI exited");
    let checked = ok(&cli(
        &["suppress", "check", "--account", "shop", SUBSCRIBER],
        &config,
    ));
    assert!(checked.contains("suppressed for"), "{checked}");
    assert!(checked.contains("cli"), "{checked}");
    let listed = ok(&cli(&["suppress", "list"], &config));
    assert!(listed.contains(SUBSCRIBER), "{listed}");
    ok(&cli(
        &["suppress", "remove", "--account", "shop", SUBSCRIBER],
        &config,
    ));
    let took = marketing_becomes(&tx, 0, Instant::now()).await;
    eprintln!("suppress remove in force {took:?} after the CLI exited");

    // review list: the message the node holds.
    let (status, _) = submit(&tx, b"", "法轮 news").await;
    assert_eq!(status, 0, "held, acknowledged");
    let listed = cli(&["review", "list"], &config);
    let stdout = ok(&listed);
    let held: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(held.len(), 1, "{stdout}");
    assert!(
        held[0].contains("shop") && held[0].contains("法轮"),
        "{stdout}"
    );
    let id = held[0].split('\t').next().unwrap();
    let release = cli(&["review", "release", id], &config);
    assert!(!release.status.success(), "{release:?}");
    let stderr = String::from_utf8_lossy(&release.stderr);
    assert!(
        stderr.contains(&format!("POST /v1/review/{id}/release")),
        "{stderr}"
    );

    // stats: the cluster's counters (the marketing messages that went, each with its
    // receipt; the refused ones by rule).
    let deadline = Instant::now() + Duration::from_secs(20);
    let row = loop {
        let rows: Value =
            serde_json::from_str(&ok(&cli(&["stats", "--json"], &config))).expect("stats JSON");
        let row = rows[0].clone();
        let sent = row["sent"].as_u64().unwrap_or(0);
        if sent >= 2 && row["delivered"].as_u64() == Some(sent) {
            break row;
        }
        assert!(Instant::now() < deadline, "stats: {rows}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("stats: {row}");
    assert!(
        row["rejected_by_rule"]["opt_out"].as_u64() >= Some(1),
        "{row}"
    );

    // receipts parked / unmatched read JetStream (nothing parked, nothing unmatched).
    let parked = cli(&["receipt", "parked"], &config);
    ok(&parked);
    assert!(
        String::from_utf8_lossy(&parked.stderr).contains("0 parked items"),
        "{parked:?}"
    );
    ok(&cli(&["receipt", "unmatched"], &config));

    tx.unbind().await;
    node.terminate();
    let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    let _ = sim.stop();
}

/// The ids of the first `count` receipts on `inbound` (each answered `status`).
async fn receipts(
    inbound: &mut smppgate::esme::Inbound,
    count: usize,
    status: Option<CommandStatus>,
) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < count {
        let request = support::within("a receipt", inbound.recv())
            .await
            .expect("bound");
        let Body::DeliverSm(_) = &request.pdu.body else {
            continue;
        };
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        ids.push(receipt.id().expect("an id").to_owned());
        if let Some(status) = status {
            request.respond(status, None).await;
        }
    }
    ids
}

/// Receipts a client refuses are parked on JetStream after `outbox_max_attempts`;
/// `receipt parked` lists them and `receipt replay` (the CLI, beside the running node)
/// puts them back: the node's new receiver gets each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_receipts_are_parked_and_replayed_on_jetstream() {
    const COUNT: usize = 3;
    let Some(nats) = NatsCluster::start_single() else {
        return;
    };
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(
        dir.path(),
        &sim.addr.to_string(),
        &nats,
        "[receipts]\noutbox_max_attempts = 2\noutbox_retry_initial = \"100ms\"\noutbox_retry_max = \"200ms\"\n",
    );
    let (node, addr) = tokio::task::block_in_place(|| serve_node(&config));

    // A client that refuses every receipt (ESME_RX_T_APPN): each is tried twice, then
    // parked.
    let mut esme = EsmeConfig::new("shop", "secret");
    esme.bind = BindKind::Transceiver;
    esme.auto_respond = false;
    let (tx, mut inbound) = support::within("bind", EsmeClient::connect(&addr.to_string(), esme))
        .await
        .expect("bind");
    let mut submitted = Vec::new();
    for n in 0..COUNT {
        let (status, id) = submit(&tx, b"", &format!("code {n}")).await;
        assert_eq!(status, 0);
        submitted.push(id);
    }
    let refused = receipts(&mut inbound, COUNT * 2, Some(CommandStatus::ESME_RX_T_APPN)).await;
    let mut refused_once: Vec<String> = refused.clone();
    refused_once.sort();
    refused_once.dedup();
    submitted.sort();
    assert_eq!(
        refused_once, submitted,
        "each receipt offered, and refused, twice"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let parked = loop {
        let output = cli(&["receipt", "parked", "--account", "shop"], &config);
        let stdout = ok(&output);
        if stdout.lines().count() == COUNT {
            break stdout;
        }
        assert!(Instant::now() < deadline, "parked: {stdout}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for id in &submitted {
        assert!(parked.contains(id.as_str()), "{id} not in {parked}");
    }
    assert!(parked.contains("ESME_RX_T_APPN"), "{parked}");
    tx.unbind().await;
    drop(inbound);

    // A receiver that takes them; replay from the CLI.
    let mut esme = EsmeConfig::new("shop", "secret");
    esme.bind = BindKind::Receiver;
    let (rx, mut inbound) = support::within("bind", EsmeClient::connect(&addr.to_string(), esme))
        .await
        .expect("bind");
    let replay = cli(&["receipt", "replay", "--account", "shop"], &config);
    ok(&replay);
    assert!(
        String::from_utf8_lossy(&replay.stderr).contains(&format!("{COUNT} parked items")),
        "{replay:?}"
    );
    let mut delivered = receipts(&mut inbound, COUNT, None).await;
    delivered.sort();
    assert_eq!(delivered, submitted);
    let after = cli(&["receipt", "parked", "--account", "shop"], &config);
    assert_eq!(ok(&after).lines().count(), 0, "{after:?}");

    rx.unbind().await;
    node.terminate();
    let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    let _ = sim.stop();
}
