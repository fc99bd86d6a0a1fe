//! Frequency caps across two active gateway nodes on one 3-node NATS JetStream cluster
//! (issue #17, docs/cluster.md "Several active nodes"): an OTP cap of 5 an hour for one
//! number holds whichever node the messages come through. Submits alternate between
//! `gw-1` and `gw-2`: five are accepted, the sixth is refused 0x402 (whichever node gets
//! it), and so is a seventh on the other node. Before the shared counters each node
//! counted its own: the sixth and several after it went out.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::Address;
use support::mo_carrier::quiet_carrier;
use support::nats::NatsCluster;
use support::{serve_node, write_gateway_config};

const NUMBER: &str = "8613800138000";

fn node_config(
    dir: &Path,
    carrier: std::net::SocketAddr,
    cluster: &NatsCluster,
    node: &str,
) -> PathBuf {
    let rest = format!(
        r#"
[[account]]
system_id = "app"
password = "pw"
policy = "otp"

[[policy]]
name = "otp"
caps = [{{ classes = ["otp"], max = 5, per = "1h" }}]

[[carrier]]
name = "quiet"
address = "{carrier}"
system_id = "gw"
password = "x"
binds = 1
tps = 1000

[[route]]
name = "all"
default = true
carriers = ["quiet"]
{}"#,
        cluster.gateway_section(node, 3)
    );
    write_gateway_config(dir, &rest)
}

async fn transmitter(addr: &str) -> EsmeClient {
    let mut config = EsmeConfig::new("app", "pw");
    config.bind = BindKind::Transmitter;
    let (client, _inbound) =
        tokio::time::timeout(Duration::from_secs(10), EsmeClient::connect(addr, config))
            .await
            .expect("bind in time")
            .expect("bind");
    client
}

/// The status of an OTP submit to [`NUMBER`].
async fn otp(client: &EsmeClient, n: usize) -> u32 {
    let submit = SubmitSm {
        service_type: Bytes::from_static(b"otp"),
        source_addr: Address::international("10690000"),
        destination_addr: Address::international(NUMBER),
        short_message: Bytes::from(format!("code {n}")),
        ..SubmitSm::default()
    };
    let response = support::within("submit answered", client.submit(submit))
        .await
        .expect("response");
    response.status().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otp_cap_holds_across_two_nodes() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (_carrier_a, server_a) = quiet_carrier().await;
    let (_carrier_b, server_b) = quiet_carrier().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config_a = node_config(dir_a.path(), server_a.local_addr(), &cluster, "gw-1");
    let config_b = node_config(dir_b.path(), server_b.local_addr(), &cluster, "gw-2");
    let (node_a, addr_a) = tokio::task::block_in_place(|| serve_node(&config_a));
    let (node_b, addr_b) = tokio::task::block_in_place(|| serve_node(&config_b));
    let nodes = [
        transmitter(&addr_a.to_string()).await,
        transmitter(&addr_b.to_string()).await,
    ];
    let mut statuses = Vec::new();
    for n in 0..7 {
        statuses.push(otp(&nodes[n % 2], n).await);
    }
    eprintln!("statuses, alternating gw-1 / gw-2: {statuses:x?}");
    assert_eq!(&statuses[..5], [0; 5], "the first five pass: {statuses:x?}");
    assert_eq!(
        &statuses[5..],
        [0x402, 0x402],
        "the sixth (on gw-2) and the seventh (on gw-1) are refused: {statuses:x?}"
    );
    for client in nodes {
        client.unbind().await;
    }
    for node in [node_a, node_b] {
        node.terminate();
        let finished = tokio::task::block_in_place(|| node.finish(Duration::from_secs(20)));
        assert!(finished.status.success(), "{}", finished.stderr);
    }
}
