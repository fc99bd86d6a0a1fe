//! A carrier's binds spread over the live nodes of a `[cluster]`, real processes
//! (docs/cluster.md "Carrier binds and TPS across nodes"): a 3-node NATS JetStream
//! cluster, two `smppgate serve` nodes and `smppgate sim --max-binds 4` (a carrier that
//! refuses a fifth bind of the account), carrier `binds = 4`:
//!
//! - `gw-1` alone holds the 4; once `gw-2` runs, each holds 2: the simulator counts 4
//!   sessions (6 binds made: 4, then 2 of `gw-2` after `gw-1` closed 2) and refuses none;
//! - `gw-1` is killed with SIGKILL: within 10 s `gw-2` holds all 4.
//!
//! Without a nats-server 2.10+ (scripts/install-peers) the test says it skipped.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::nats::NatsCluster;
use support::{Proc, write_gateway_config};

/// The carrier's `binds`, and the simulator's `--max-binds`.
const BINDS: u64 = 4;

/// One node's configuration in `dir`: carrier `c` at `carrier`, the cluster section.
fn node_config(dir: &Path, carrier: std::net::SocketAddr, cluster: &str) -> PathBuf {
    let rest = format!(
        r#"

[[account]]
system_id = "load"
password = "pw"

[[carrier]]
name = "c"
address = "{carrier}"
system_id = "gw"
password = "x"
binds = {BINDS}
window = 10
tps = 200

[[route]]
name = "all"
default = true
carriers = ["c"]
{cluster}"#
    );
    write_gateway_config(dir, &rest)
}

/// `smppgate serve` as a cluster node, logging the pool's bind changes (info).
fn serve(config: &Path) -> Proc {
    let mut command = support::smppgate();
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn,smppgate::carrier=info");
    let mut proc = Proc::spawn("smppgate serve", command);
    proc.listening_within(support::CLUSTER_START_TIMEOUT);
    proc
}

fn count(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or(0)
}

#[test]
fn the_binds_are_spread_over_the_live_nodes_and_the_survivor_takes_them_all() {
    let Some(cluster) = NatsCluster::start() else {
        return;
    };
    let mut command = support::smppgate();
    command.args([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--max-binds",
        "4",
        "--stats-interval",
        "0.2",
    ]);
    let mut sim = Proc::spawn("smppgate sim", command);
    let carrier = sim.listening();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];

    // gw-1 alone: all 4 binds.
    let one = serve(&node_config(
        dirs[0].path(),
        carrier,
        &cluster.gateway_section("gw-1", 3),
    ));
    let alone = support::counters_until(&mut sim, Duration::from_secs(30), &[&one], |s| {
        count(s, "sessions_active") == BINDS
    });
    assert_eq!(count(&alone, "binds_rejected"), 0, "{alone}");

    // gw-2 joins: gw-1 closes 2, gw-2 opens 2 (after gw-1 has closed its).
    let two = serve(&node_config(
        dirs[1].path(),
        carrier,
        &cluster.gateway_section("gw-2", 3),
    ));
    let both = support::counters_until(&mut sim, Duration::from_secs(30), &[&one, &two], |s| {
        count(s, "binds") >= BINDS + 2 && count(s, "sessions_active") == BINDS
            || count(s, "binds_rejected") > 0
            || count(s, "sessions_active") > BINDS
    });
    assert_eq!(
        count(&both, "binds_rejected"),
        0,
        "the carrier refused binds: {both}\ngw-1:\n{}\ngw-2:\n{}",
        one.stderr(),
        two.stderr()
    );
    assert_eq!(
        count(&both, "binds"),
        BINDS + 2,
        "{both}\ngw-1:\n{}\ngw-2:\n{}",
        one.stderr(),
        two.stderr()
    );
    assert_eq!(count(&both, "sessions_active"), BINDS, "{both}");
    assert!(
        one.stderr().contains("surplus bind closed"),
        "{}",
        one.stderr()
    );
    // And it stays so (a second of counter lines).
    let settled = Instant::now() + Duration::from_secs(1);
    let later = support::counters_until(&mut sim, Duration::from_secs(5), &[&one, &two], |_| {
        Instant::now() >= settled
    });
    assert_eq!(count(&later, "sessions_active"), BINDS, "{later}");
    assert_eq!(count(&later, "binds"), BINDS + 2, "{later}");
    assert_eq!(count(&later, "binds_rejected"), 0, "{later}");

    // gw-1 dies: gw-2 counts it dead after node_ttl (6 s) and opens the other 2.
    one.kill9();
    let killed = Instant::now();
    let survivor = support::counters_until(&mut sim, Duration::from_secs(20), &[&two], |s| {
        count(s, "binds") >= BINDS + 4 && count(s, "sessions_active") == BINDS
    });
    let took = killed.elapsed();
    eprintln!("the survivor held all {BINDS} binds {took:?} after the kill: {survivor}");
    assert!(
        took <= Duration::from_secs(10),
        "the survivor took {took:?} to hold all the binds\ngw-2:\n{}",
        two.stderr()
    );
    assert_eq!(count(&survivor, "binds_rejected"), 0, "{survivor}");
    two.kill9();
    sim.kill9();
}
