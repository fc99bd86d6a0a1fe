//! `[cluster]`: the replicated backend on NATS JetStream (docs/cluster.md,
//! docs/adr/0008-cluster-backend.md). Absent: one node on the embedded store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checks::{Findings, not_zero_time};

/// The JetStream cluster the store lives on.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The NATS servers (`nats://host:port`); the client connects to one and moves to
    /// another when it goes away. List every server of the cluster.
    pub nats: Vec<String>,
    /// This gateway node's name: unique in the cluster (its message ids and statistics
    /// are kept apart from the other nodes' by it).
    pub node: String,
    /// Copies of every stream and bucket (1, 3 or 5; 3 survives the loss of one server).
    /// Streams that already exist keep the count they were created with.
    pub replicas: usize,
    /// Streams and buckets are named `<prefix>_…` (several gateways can share one NATS
    /// cluster under different prefixes).
    pub prefix: String,
    /// How long a commit may take, retries included (a new stream leader is elected in
    /// a few seconds after a server dies); past it the batch fails and its submits are
    /// answered ESME_RSYSERR.
    #[serde(with = "super::duration")]
    pub commit_timeout: Duration,
    /// How long the first connection may take before `serve` gives up.
    #[serde(with = "super::duration")]
    pub connect_timeout: Duration,
    /// How long a carrier id → message entry is kept (receipts arriving later match
    /// nothing): at least the longest validity.
    #[serde(with = "super::duration")]
    pub carrier_id_ttl: Duration,
    /// How often this node writes its heartbeat to `<prefix>_live` (docs/cluster.md
    /// "Node liveness").
    #[serde(with = "super::duration")]
    pub heartbeat: Duration,
    /// How long after its last heartbeat a node counts as dead: the other nodes then
    /// split its carrier binds and TPS among themselves and one of them takes its backlog over.
    /// At least 2 × `heartbeat` (one late heartbeat is not a death).
    #[serde(with = "super::duration")]
    pub node_ttl: Duration,
    /// How long a node may hold a message it pulled from a route's work queue without a
    /// word before JetStream hands it to another node (docs/cluster.md "Dispatch"): a node
    /// that died mid-send has its messages sent by the others after this. The node
    /// extends it every third of it while the carrier has the message, so a slow carrier
    /// or a long retry does not count.
    #[serde(with = "super::duration")]
    pub ack_wait: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats: vec!["nats://127.0.0.1:4222".to_owned()],
            node: String::new(),
            replicas: 3,
            prefix: "smppgate".to_owned(),
            commit_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            carrier_id_ttl: Duration::from_secs(7 * 24 * 3600),
            heartbeat: Duration::from_secs(2),
            node_ttl: Duration::from_secs(6),
            ack_wait: Duration::from_secs(30),
        }
    }
}

/// Most nodes (a node's message ids are its slot in the top byte).
pub const MAX_NODES: usize = 255;

/// Whether `text` is a name NATS takes in a stream, bucket or key: letters, digits, `-`
/// and `_`.
fn plain_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The checks of `[cluster]`.
pub(super) fn check(cluster: Option<&ClusterConfig>, findings: &mut Findings<'_>) {
    let Some(cluster) = cluster else {
        return;
    };
    if cluster.nats.is_empty() {
        findings.add(
            "cluster.nats",
            "no server; list the NATS servers, e.g. [\"nats://10.0.0.1:4222\", \"nats://10.0.0.2:4222\", \"nats://10.0.0.3:4222\"]",
        );
    }
    for (index, url) in cluster.nats.iter().enumerate() {
        let rest = url
            .strip_prefix("nats://")
            .or_else(|| url.strip_prefix("tls://"));
        let ok = rest.is_some_and(|rest| {
            let host_port = rest.rsplit('@').next().unwrap_or(rest);
            host_port.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            })
        });
        if !ok {
            findings.add(
                format!("cluster.nats[{index}]"),
                format!(
                    "`{url}` is not a NATS server address; write e.g. \"nats://10.0.0.1:4222\""
                ),
            );
        }
    }
    if !plain_name(&cluster.node) {
        findings.add(
            "cluster.node",
            format!(
                "`{}`: each gateway node needs its own name of 1 to 32 letters, digits, `-` or `_`; write e.g. node = \"gw-1\"",
                cluster.node
            ),
        );
    }
    if !plain_name(&cluster.prefix) {
        findings.add(
            "cluster.prefix",
            format!(
                "`{}`: 1 to 32 letters, digits, `-` or `_` (it names streams and buckets); write e.g. \"smppgate\"",
                cluster.prefix
            ),
        );
    }
    if !matches!(cluster.replicas, 1 | 3 | 5) {
        findings.add(
            "cluster.replicas",
            format!(
                "{} copies: write 1 (no redundancy), 3 (survives one server) or 5 (survives two)",
                cluster.replicas
            ),
        );
    }
    not_zero_time(
        findings,
        "cluster.commit_timeout",
        cluster.commit_timeout,
        "10s",
    );
    not_zero_time(
        findings,
        "cluster.connect_timeout",
        cluster.connect_timeout,
        "10s",
    );
    not_zero_time(
        findings,
        "cluster.carrier_id_ttl",
        cluster.carrier_id_ttl,
        "7d",
    );
    not_zero_time(findings, "cluster.heartbeat", cluster.heartbeat, "2s");
    if cluster.ack_wait < Duration::from_secs(1) {
        findings.add(
            "cluster.ack_wait",
            format!(
                "{}: a node extends its hold on the messages it sends every third of it, so \
                 it needs at least 1s; write e.g. ack_wait = \"30s\"",
                humantime::format_duration(cluster.ack_wait)
            ),
        );
    }
    if !cluster.heartbeat.is_zero() && cluster.node_ttl < cluster.heartbeat * 2 {
        findings.add(
            "cluster.node_ttl",
            format!(
                "{} is less than twice `heartbeat` ({}): one late heartbeat would count the node \
                 as dead and another would take its messages over; write at least {}, e.g. 3 × heartbeat",
                humantime::format_duration(cluster.node_ttl),
                humantime::format_duration(cluster.heartbeat),
                humantime::format_duration(cluster.heartbeat * 2),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn problems(text: &str) -> Vec<crate::config::Problem> {
        match Config::parse(text, Path::new("c.toml")) {
            Err(ConfigError::Invalid { problems }) => problems,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_good_cluster_section_parses_and_none_means_one_node() {
        let config = Config::parse(
            r#"[cluster]
nats = ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222", "tls://user:pw@nats3:4222"]
node = "gw-1"
replicas = 3
commit_timeout = "5s"
"#,
            Path::new("c.toml"),
        )
        .unwrap();
        let cluster = config.cluster.unwrap();
        assert_eq!(cluster.node, "gw-1");
        assert_eq!(cluster.nats.len(), 3);
        assert_eq!(cluster.prefix, "smppgate");
        assert!(
            Config::parse("", Path::new("c.toml"))
                .unwrap()
                .cluster
                .is_none()
        );
    }

    #[test]
    fn check_config_names_line_field_and_fix() {
        let found = problems(
            r#"[cluster]
nats = ["10.0.0.1:4222", "nats://ok:4222"]
node = "gw 1"
replicas = 2
prefix = "a.b"
commit_timeout = "0s"
"#,
        );
        let at: Vec<(Option<usize>, &str)> =
            found.iter().map(|p| (p.line, p.field.as_str())).collect();
        for expected in [
            (Some(2), "cluster.nats[0]"),
            (Some(3), "cluster.node"),
            (Some(4), "cluster.replicas"),
            (Some(5), "cluster.prefix"),
            (Some(6), "cluster.commit_timeout"),
        ] {
            assert!(at.contains(&expected), "{expected:?} in {found:#?}");
        }
        assert!(!at.iter().any(|(_, f)| *f == "cluster.nats[1]"));
        // A node TTL that one late heartbeat would run out.
        let ttl = problems("[cluster]\nnode = \"gw-1\"\nheartbeat = \"2s\"\nnode_ttl = \"3s\"\n");
        let ttl = ttl
            .iter()
            .find(|p| p.field == "cluster.node_ttl")
            .expect("node_ttl refused");
        assert_eq!(ttl.line, Some(4), "{ttl}");
        assert!(ttl.message.contains("at least 4s"), "{ttl}");
        let wait = problems("[cluster]\nnode = \"gw-1\"\nack_wait = \"500ms\"\n");
        let wait = wait
            .iter()
            .find(|p| p.field == "cluster.ack_wait")
            .expect("an ack_wait under a second refused");
        assert_eq!(wait.line, Some(3), "{wait}");
        assert!(wait.message.contains("ack_wait = \"30s\""), "{wait}");
        let zero = problems("[cluster]\nnode = \"gw-1\"\nheartbeat = \"0s\"\n");
        assert!(
            zero.iter()
                .any(|p| p.field == "cluster.heartbeat" && p.line == Some(3)),
            "{zero:#?}"
        );
        let node = found.iter().find(|p| p.field == "cluster.node").unwrap();
        assert!(node.message.contains("node = \"gw-1\""), "{node}");
        // No node name at all: each node must be told apart.
        let missing = problems("[cluster]\nnats = [\"nats://127.0.0.1:4222\"]\n");
        assert!(
            missing.iter().any(|p| p.field == "cluster.node"),
            "{missing:#?}"
        );
        // Unknown fields are named.
        let unknown = problems("[cluster]\nnode = \"a\"\nreplica = 3\n");
        assert!(
            unknown.iter().any(|p| p.message.contains("replica")),
            "{unknown:#?}"
        );
    }
}
