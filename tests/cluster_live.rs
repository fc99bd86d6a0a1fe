//! Node liveness on `[cluster]`, real processes: a 3-node NATS JetStream cluster
//! (`replicas = 3`), two `smppgate serve` nodes (`gw-1`, `gw-2`, default `heartbeat` 2 s
//! and `node_ttl` 6 s) and one in-process carrier that both nodes bind
//! (docs/cluster.md "Node liveness and takeover"):
//!
//! - the carrier's TPS across both nodes stays within ±5 % of its contract (200/s: each
//!   node sends 100/s), and when `gw-1` is killed with SIGKILL `gw-2` sends the whole
//!   contract within 10 s;
//! - `gw-1` is killed with SIGKILL with a backlog (a carrier contract slower than intake):
//!   `gw-2` takes its slot over and sends that backlog, no restart under `gw-1`'s name:
//!   every message either node acknowledged with ESME_ROK reaches the carrier, duplicates
//!   within what the dead node had in its carrier windows and writer batch.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) each test says it skipped.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use support::load::{CARRIER_BINDS, CARRIER_WINDOW, UPSTREAM_WINDOW, WRITER_BATCH, push};
use support::nats::NatsCluster;
use support::{Proc, write_gateway_config};

/// The carrier's contract in the TPS test.
const CONTRACT: u32 = 200;

/// A carrier that notes when each submit_sm arrived.
#[derive(Default)]
struct Stamps {
    at: Mutex<Vec<Instant>>,
}

impl SmscHandler for Stamps {
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus> {
        // A node configured with system_id "refused" never gets a bind.
        if &request.bind.system_id[..] == b"refused" {
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        Ok(Bytes::from_static(b"carrier"))
    }

    fn submit_sm(&self, _s: &SessionInfo, _p: &Pdu, _submit_sm: &SubmitSm) -> Reply<MessageId> {
        let mut at = self.at.lock().unwrap_or_else(PoisonError::into_inner);
        at.push(Instant::now());
        Reply::Ready(Ok(Bytes::from(format!("{:x}", at.len()))))
    }
}

impl Stamps {
    /// A carrier on loopback that stamps each submit.
    async fn carrier() -> (Arc<Self>, SmscServer) {
        let stamps = Arc::new(Self::default());
        let carrier = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&stamps))
            .await
            .expect("carrier listens");
        (stamps, carrier)
    }

    /// Once submits arrive: 2 s of ramp-up, then the submits of the next 10 s and their
    /// share of [`CONTRACT`] × 10.
    async fn ten_seconds_after_ramp_up(&self) -> (usize, f64) {
        while self.count() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let from = Instant::now();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let sent = self.between(from, from + Duration::from_secs(10));
        #[allow(clippy::cast_precision_loss)]
        let ratio = sent as f64 / (f64::from(CONTRACT) * 10.0);
        (sent, ratio)
    }

    /// Submits so far.
    fn count(&self) -> usize {
        self.at.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Submits that arrived in `[from, to)`.
    fn between(&self, from: Instant, to: Instant) -> usize {
        self.at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|t| (from..to).contains(*t))
            .count()
    }
}

/// One node's configuration in `dir`: the account `load`, carrier `c` at `carrier` with
/// `tps`, the cluster section.
fn node_config(dir: &Path, carrier: std::net::SocketAddr, tps: u32, cluster: &str) -> PathBuf {
    node_config_as(dir, carrier, tps, cluster, "gw")
}

/// [`node_config`] binding to the carrier as `system_id`.
fn node_config_as(
    dir: &Path,
    carrier: std::net::SocketAddr,
    tps: u32,
    cluster: &str,
    system_id: &str,
) -> PathBuf {
    let rest = format!(
        r#"

[[account]]
system_id = "load"
password = "pw"
max_binds = 8
window = {UPSTREAM_WINDOW}

[[carrier]]
name = "c"
address = "{carrier}"
system_id = "{system_id}"
password = "x"
binds = {CARRIER_BINDS}
window = {CARRIER_WINDOW}
tps = {tps}

[[route]]
name = "all"
default = true
carriers = ["c"]
{cluster}"#
    );
    write_gateway_config(dir, &rest)
}

/// `smppgate serve`, logging the carrier binds and TPS split (info) besides warnings.
fn serve(config: &Path) -> (Proc, std::net::SocketAddr) {
    let mut command = support::smppgate();
    command.arg("serve").arg("--config").arg(config).env(
        "RUST_LOG",
        "warn,smppgate::carrier=info,smppgate::gateway::queued=info",
    );
    let mut proc = Proc::spawn("smppgate serve", command);
    let addr = proc.listening_within(support::CLUSTER_START_TIMEOUT);
    (proc, addr)
}

/// `node`'s log so far, without colours.
fn log(node: &Proc) -> String {
    let mut plain = String::new();
    let mut rest = node.stderr();
    while let Some(start) = rest.find('\u{1b}') {
        plain.push_str(&rest[..start]);
        let end = rest[start..]
            .find('m')
            .map_or(rest.len(), |m| start + m + 1);
        rest = rest.split_off(end);
    }
    plain.push_str(&rest);
    plain
}

/// Waits (at most 30 s) until `node`'s log has `text`.
async fn logged(node: &Proc, text: &str) {
    logged_line(node, &[text]).await;
}

/// Waits (at most 30 s) until one line of `node`'s log has every one of `parts`.
async fn logged_line(node: &Proc, parts: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log(node)
        .lines()
        .any(|line| parts.iter().all(|part| line.contains(part)))
    {
        assert!(
            Instant::now() < deadline,
            "no line with {parts:?} in the log within 30 s:\n{}",
            node.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two nodes on `cluster` in front of `carrier` with contract `tps`, each seeing the other.
async fn two_nodes(
    cluster: &NatsCluster,
    carrier: std::net::SocketAddr,
    tps: u32,
    dirs: &[tempfile::TempDir; 2],
) -> [(Proc, std::net::SocketAddr); 2] {
    let one = serve(&node_config(
        dirs[0].path(),
        carrier,
        tps,
        &cluster.gateway_section("gw-1", 3),
    ));
    let two = serve(&node_config(
        dirs[1].path(),
        carrier,
        tps,
        &cluster.gateway_section("gw-2", 3),
    ));
    // Each runs at its half of the contract once it sees the other's heartbeat; gw-2
    // holds its half of the binds a few seconds after it started (gw-1 closes its
    // surplus first).
    logged(&one.0, "of=2").await;
    logged(&two.0, "of=2").await;
    logged(&two.0, "this node's part of the carrier's binds is up").await;
    // … and each knows from the other's heartbeat that both have a bind up to the
    // carrier: until then the first holds the whole contract (it was the only one bound),
    // and the two together send more than it for a heartbeat or so.
    for node in [&one.0, &two.0] {
        logged_line(
            node,
            &[
                "carrier TPS split among the nodes with a bind up to it",
                "of=2",
            ],
        )
        .await;
    }
    [one, two]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_tps_is_split_across_two_nodes_and_the_survivor_takes_the_whole_contract() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (stamps, carrier) = Stamps::carrier().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let [(one, addr_one), (two, addr_two)] =
        two_nodes(&cluster, carrier.local_addr(), CONTRACT, &dirs).await;

    // A backlog on both nodes, far more than 200/s for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let pushers: Vec<_> = [(addr_one, 0), (addr_one, 1), (addr_two, 2), (addr_two, 3)]
        .into_iter()
        .map(|(addr, bind)| tokio::spawn(push(addr, bind, Arc::clone(&stop))))
        .collect();
    // Both nodes send at their share.
    let (both, ratio) = stamps.ten_seconds_after_ramp_up().await;
    let contract_10s = f64::from(CONTRACT) * 10.0;
    eprintln!("two nodes: {both} submits in 10 s at a {CONTRACT}/s contract ({ratio:.3} of it)");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "two nodes sent {both} in 10 s: not within 5 % of {contract_10s}"
    );

    // gw-1 dies; gw-2 counts it dead after node_ttl and sends the whole contract.
    one.kill9();
    let killed = Instant::now();
    let mut whole_at = None;
    let deadline = killed + Duration::from_secs(20);
    while Instant::now() < deadline && whole_at.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        // Over the last 2 s, at least 95 % of the contract.
        let recent = stamps.between(now - Duration::from_secs(2), now);
        if now >= killed + Duration::from_secs(2) && recent as f64 >= f64::from(CONTRACT) * 1.9 {
            whole_at = Some(now - Duration::from_secs(2));
        }
    }
    let whole_at = whole_at.unwrap_or_else(|| {
        panic!(
            "gw-2 did not reach the whole contract within 20 s of the kill:\n{}",
            two.stderr()
        )
    });
    let took = whole_at.saturating_duration_since(killed);
    eprintln!("the survivor sent the whole contract {took:?} after the kill");
    assert!(
        took <= Duration::from_secs(10),
        "the survivor took {took:?} to send the whole contract"
    );
    // And not more than it: 5 s at the contract on one node.
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let alone = stamps.between(from, from + Duration::from_secs(5));
    #[allow(clippy::cast_precision_loss)]
    let ratio = alone as f64 / (f64::from(CONTRACT) * 5.0);
    eprintln!("the survivor alone: {alone} submits in 5 s ({ratio:.3} of the contract)");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "the survivor sent {alone} in 5 s: not within 5 % of {}",
        CONTRACT * 5
    );
    stop.store(true, Ordering::Relaxed);
    for pusher in pushers {
        let _ = pusher.await;
    }
    two.kill9();
}

/// A live node whose binds to the carrier are refused leaves it the nodes that can send:
/// the bound node sends the whole contract (each heartbeat says which carriers its node
/// is bound to; the contract is split among those), and the messages accepted by the
/// node that cannot send go through the other (it does not pull the route's queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_carrier_bind_leaves_the_whole_contract_to_the_bound_one() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (stamps, carrier) = Stamps::carrier().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (one, addr_one) = serve(&node_config(
        dirs[0].path(),
        carrier.local_addr(),
        CONTRACT,
        &cluster.gateway_section("gw-1", 3),
    ));
    let (two, addr_two) = serve(&node_config_as(
        dirs[1].path(),
        carrier.local_addr(),
        CONTRACT,
        &cluster.gateway_section("gw-2", 3),
        "refused",
    ));
    logged(&one, "of=2").await;
    logged(&two, "of=2").await;
    // gw-1 learns from the heartbeats that it is the only node bound to `c`.
    logged(
        &one,
        "carrier TPS split among the nodes with a bind up to it",
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let pushers: Vec<_> = [(addr_one, 0), (addr_two, 1)]
        .into_iter()
        .map(|(addr, bind)| tokio::spawn(push(addr, bind, Arc::clone(&stop))))
        .collect();
    let (sent, ratio) = stamps.ten_seconds_after_ramp_up().await;
    let contract_10s = f64::from(CONTRACT) * 10.0;
    eprintln!(
        "one of two nodes bound: {sent} submits in 10 s at a {CONTRACT}/s contract ({ratio:.3} of it)"
    );
    assert!(
        (0.95..=1.05).contains(&ratio),
        "the bound node sent {sent} in 10 s: not within 5 % of the whole {contract_10s} \
         (half of it: the unbound node's part unused)"
    );
    stop.store(true, Ordering::Relaxed);
    for pusher in pushers {
        let _ = pusher.await;
    }
    one.kill9();
    two.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_backlog_is_sent_by_the_survivor_without_a_restart() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let (carrier, recorder) = support::load::recording_carrier().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // 1 000/s for the cluster: intake runs ahead and each node builds a backlog.
    let [(one, addr_one), (two, addr_two)] =
        two_nodes(&cluster, carrier.local_addr(), 1_000, &dirs).await;
    let stop = Arc::new(AtomicBool::new(false));
    let pushers: Vec<_> = [(addr_one, 0), (addr_one, 1), (addr_two, 2), (addr_two, 3)]
        .into_iter()
        .map(|(addr, bind)| tokio::spawn(push(addr, bind, Arc::clone(&stop))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorder.received() < 3_000 {
        assert!(Instant::now() < deadline, "the load did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    one.kill9();
    let at_kill = recorder.received();
    stop.store(true, Ordering::Relaxed);
    let (mut acked, mut sent) = (HashSet::new(), HashSet::new());
    for pusher in pushers {
        let (a, s) = pusher.await.expect("pusher");
        acked.extend(a);
        sent.extend(s);
    }
    assert!(
        acked.len() > at_kill + 1_000,
        "no backlog at the kill: {} acknowledged, {at_kill} at the carrier",
        acked.len()
    );
    let missing = recorder.wait_for_all(&acked).await;
    assert!(
        missing.is_empty(),
        "{} acknowledged messages never reached the carrier (e.g. {:?}); gw-2:\n{}",
        missing.len(),
        String::from_utf8_lossy(&missing[0]),
        two.stderr()
    );
    // What gw-1 had pulled from the route's work queue and not answered came to gw-2
    // after ack_wait (the queue's redelivery, not a listing of gw-1's pending set).
    assert!(
        log(&two).contains("messages delivered again"),
        "no redelivery from the work queue on the survivor:\n{}",
        log(&two)
    );
    // gw-2 takes gw-1's slot over after node_ttl (its expiry and review listings, its
    // early receipts) and counts what of gw-1's backlog is still pending into its own
    // (its `max_pending` bound and backlog gauge): by then the queues may have sent it
    // all (sending no longer waits for the takeover), so the count may be 0.
    logged(&two, "took over a dead node's slot").await;
    logged(&two, "the backlog of a slot taken over").await;
    let counted: u64 = log(&two)
        .lines()
        .find(|line| line.contains("the backlog of a slot taken over"))
        .and_then(|line| line.split("counted=").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of the slot taken over:\n{}", log(&two)));
    eprintln!("gw-2 counted {counted} messages of gw-1's backlog as its own");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = recorder
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(
        seen.keys().all(|text| sent.contains(text)),
        "the carrier got messages nobody sent"
    );
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "acknowledged {} of {} sent; {at_kill} at the carrier at the kill; {duplicates} duplicates",
        acked.len(),
        sent.len()
    );
    // A duplicate is a part the dead node had sent whose answer it had not committed:
    // in its carrier windows or its writer's batch.
    assert!(
        duplicates as usize <= CARRIER_BINDS * CARRIER_WINDOW + WRITER_BATCH,
        "{duplicates} duplicates: more than the dead node's windows and one writer batch"
    );
    two.kill9();
}
