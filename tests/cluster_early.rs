//! An early receipt on `[cluster]`, with real processes: node gw-1 gets a receipt on its
//! carrier bind for a carrier id no message has yet (kept in the store under gw-1's own
//! early account before the deliver_sm is answered), then is killed with SIGKILL. The
//! submit that carrier id belongs to goes through gw-2, which was running all along; once
//! gw-2 takes gw-1's slot over it replays gw-1's early receipts and the client gets its
//! receipt. Before, the early receipts were read only at a node's own start: a running
//! survivor never saw them.
//!
//! Each node has a carrier of its own (in-process, `support::mo_carrier`), under the same
//! carrier name, so the test chooses which node a receipt comes in on.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use smppgate::smsc::SmscServer;
use smppgate_protocol::pdu::{DeliverSm, SubmitSm};
use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, EsmClass, RegisteredDelivery};
use support::mo_carrier::{MoCarrier, carrier_session, mo_part, quiet_carrier};
use support::nats::NatsCluster;
use support::{Proc, serve_node, within, write_gateway_config};

fn node_config(dir: &Path, carrier: SocketAddr, cluster: &str) -> PathBuf {
    let rest = format!(
        r#"
[[account]]
system_id = "app"
password = "pw"
numbers = ["10690000"]

[[carrier]]
name = "mo"
address = "{carrier}"
system_id = "gw"
password = "x"
binds = 1
tps = 1000

[[route]]
name = "all"
default = true
carriers = ["mo"]
{cluster}"#
    );
    write_gateway_config(dir, &rest)
}

/// Two nodes, gw-1 and gw-2, each with a carrier of its own (under the same name).
struct Nodes {
    carriers: [(std::sync::Arc<MoCarrier>, SmscServer); 2],
    nodes: [(Proc, SocketAddr); 2],
    _dirs: [tempfile::TempDir; 2],
}

async fn two_nodes(cluster: &NatsCluster) -> Nodes {
    let carriers = [quiet_carrier().await, quiet_carrier().await];
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let nodes = [0, 1].map(|i| {
        let config = node_config(
            dirs[i].path(),
            carriers[i].1.local_addr(),
            &cluster.gateway_section(&format!("gw-{}", i + 1), 1),
        );
        tokio::task::block_in_place(|| serve_node(&config))
    });
    Nodes {
        carriers,
        nodes,
        _dirs: dirs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_receipt_held_by_a_killed_node_matches_on_the_survivor() {
    let Some(cluster) = NatsCluster::start_single() else {
        return;
    };
    let Nodes {
        carriers: [(carrier_one, server_one), (carrier_two, server_two)],
        nodes: [(node_one, _), (node_two, addr_two)],
        _dirs,
    } = two_nodes(&cluster).await;
    // gw-2's carrier answers the submit with the id of the receipt gw-1 got first.
    carrier_two
        .answer_abc
        .store(true, std::sync::atomic::Ordering::SeqCst);

    // The receipt comes in on gw-1's carrier bind before any response carried "abc".
    let session = carrier_session(&carrier_one).await;
    let receipt = DeliverSm {
        source_addr: Address::international("8613800138000"),
        destination_addr: Address::international("10690000"),
        esm_class: EsmClass(0x04),
        short_message: Bytes::from_static(
            b"id:abc sub:001 dlvrd:001 submit date:2612061200 done date:2612061200 stat:DELIVRD err:000 text:",
        ),
        ..DeliverSm::default()
    };
    let answer = within("the early receipt answered", session.deliver(receipt))
        .await
        .expect("answered");
    assert!(answer.is_ok(), "{}", answer.status());
    node_one.kill9();

    // The submit goes through gw-2; its carrier answers "abc".
    let (client, mut inbound) =
        support::submit::bind(&addr_two.to_string(), "app", "pw", BindKind::Transceiver).await;
    let response = within(
        "submit",
        client.submit(SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international("8613800138000"),
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(b"your code is 4711"),
            ..SubmitSm::default()
        }),
    )
    .await
    .expect("answered");
    assert!(response.is_ok(), "{}", response.status());
    let id = String::from_utf8(response.message_id().expect("an id").to_vec()).unwrap();

    // gw-2 counts gw-1 dead after node_ttl, takes its slot, and matches what it held.
    let request = tokio::time::timeout(Duration::from_secs(30), inbound.recv())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no receipt 30 s after gw-1 died\ngw-2:\n{}",
                node_two.stderr()
            )
        })
        .expect("bound");
    let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
    assert_eq!(receipt.id(), Some(id.as_str()));
    assert_eq!(receipt.state(), Some(MessageState::Delivered));
    assert!(
        node_two
            .stderr()
            .contains("early receipts of a node taken over"),
        "{}",
        node_two.stderr()
    );

    client.unbind().await;
    node_two.terminate();
    let finished = tokio::task::block_in_place(|| node_two.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    drop((server_one, server_two));
}

/// The first half of a two-part MO comes in on gw-1's carrier bind (kept under gw-1's own
/// account before it is answered), then gw-1 is killed; the second half comes in on
/// gw-2's. Once gw-2 takes gw-1's slot over it adopts the kept half, and the account
/// bound to gw-2 gets the whole message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_an_mo_held_by_a_killed_node_is_completed_on_the_survivor() {
    use smppgate_protocol::pdu::Body;
    let Some(cluster) = NatsCluster::start_single() else {
        return;
    };
    let Nodes {
        carriers: [(carrier_one, server_one), (carrier_two, server_two)],
        nodes: [(node_one, _), (node_two, addr_two)],
        _dirs,
    } = two_nodes(&cluster).await;
    let part = |seq: u8, text: &[u8]| mo_part(0x5a, 2, seq, text);
    let session_one = carrier_session(&carrier_one).await;
    let answer = within(
        "the first half answered",
        session_one.deliver(part(1, b"first ")),
    )
    .await
    .expect("answered");
    assert!(answer.is_ok(), "{}", answer.status());
    node_one.kill9();

    let (client, mut inbound) =
        support::submit::bind(&addr_two.to_string(), "app", "pw", BindKind::Transceiver).await;
    let session_two = carrier_session(&carrier_two).await;
    let answer = within(
        "the second half answered",
        session_two.deliver(part(2, b"second")),
    )
    .await
    .expect("answered");
    assert!(answer.is_ok(), "{}", answer.status());

    let request = tokio::time::timeout(Duration::from_secs(30), inbound.recv())
        .await
        .unwrap_or_else(|_| panic!("no MO 30 s after gw-1 died\ngw-2:\n{}", node_two.stderr()))
        .expect("bound");
    let Body::DeliverSm(mo) = &request.pdu.body else {
        panic!("not a deliver_sm")
    };
    assert_eq!(&mo.payload()[..], b"first second");

    client.unbind().await;
    node_two.terminate();
    let finished = tokio::task::block_in_place(|| node_two.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    drop((server_one, server_two));
}
