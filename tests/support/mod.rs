//! Shared helpers of the interop tests: child processes that are killed on drop, waiting
//! for an output line with a timeout (never sleeping), and the paths of the third-party
//! peers that `scripts/install-peers` puts under `tests/peers/`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) mod arrivals;
pub(crate) mod defer;
pub(crate) mod flaky_store;
pub(crate) mod load;
pub(crate) mod mo_carrier;
pub(crate) mod nats;
pub(crate) mod submit;

/// `future`, or a panic naming `what` after 60 s (tests wait on events, never on sleeps;
/// this bounds the wait).
pub(crate) async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// How long a server gets to print its `listening on` line.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);
/// As [`START_TIMEOUT`], for a gateway node on a freshly started three-server NATS
/// cluster: its first start creates every bucket as a replicated group, each waiting for
/// a leader election, which on a loaded two-core CI machine took more than 10 s.
pub(crate) const CLUSTER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a peer script may run (each script also has its own, shorter, timeout).
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(25);

/// `tests/peers/`.
pub(crate) fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// `node tests/peers/SCRIPT`, after checking that the npm peers are installed.
pub(crate) fn node(script: &str) -> Command {
    let dir = peers_dir();
    assert!(
        dir.join("node_modules/smpp/package.json").is_file(),
        "the npm `smpp` peer is not installed: run scripts/install-peers"
    );
    let mut command = Command::new("node");
    command.arg(dir.join(script)).current_dir(&dir);
    command
}

/// `tests/peers/.venv/bin/python tests/peers/SCRIPT`, after checking the venv exists.
pub(crate) fn python(script: &str) -> Command {
    let dir = peers_dir();
    let python = dir.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "the PyPI `smpplib` peer is not installed: run scripts/install-peers"
    );
    let mut command = Command::new(python);
    command.arg(dir.join(script)).current_dir(&dir);
    command
}

/// The built `smppgate` binary.
pub(crate) fn smppgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smppgate"))
}

/// What a finished process left.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) name: String,
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: String,
}

impl Finished {
    /// The last stdout line as JSON (panics with the whole output when it is not).
    pub(crate) fn json(&self) -> Value {
        let last = self.stdout.last().map_or("", String::as_str);
        serde_json::from_str(last).unwrap_or_else(|e| {
            panic!(
                "{}: last stdout line is not JSON ({e}): {:?}\nstderr:\n{}",
                self.name, self.stdout, self.stderr
            )
        })
    }

    /// Asserts exit status 0 and returns the JSON summary.
    pub(crate) fn success_json(&self) -> Value {
        assert!(
            self.status.success(),
            "{} exited with {}\nstdout: {:?}\nstderr:\n{}",
            self.name,
            self.status,
            self.stdout,
            self.stderr
        );
        self.json()
    }
}

/// A child process with its stdout read line by line; killed (SIGKILL) and reaped on drop.
pub(crate) struct Proc {
    name: String,
    child: Option<Child>,
    pid: u32,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Receiver<()>,
}

impl Proc {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Spawns `command` with stdin closed and stdout / stderr captured.
    pub(crate) fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let (done, stderr_done) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0_u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let _ = done.send(());
        });
        Self {
            name: name.to_owned(),
            pid: child.id(),
            child: Some(child),
            lines,
            seen: Vec::new(),
            stderr,
            stderr_done,
        }
    }

    /// What the process wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last stdout line read.
    #[allow(dead_code)] // not every test binary uses it
    pub(crate) fn last_seen(&self) -> Option<&str> {
        self.seen.last().map(String::as_str)
    }

    /// The first stdout line `accept` takes within `timeout`, or `None` (timed out, or
    /// stdout closed first).
    #[allow(dead_code)] // not every test binary uses it
    pub(crate) fn try_wait_line(
        &mut self,
        timeout: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if accept(&line) {
                return Some(line);
            }
        }
    }

    /// Waits for the first stdout line `accept` takes, up to `timeout`; panics (with the
    /// output so far) on timeout or when stdout closes first.
    pub(crate) fn wait_line(&mut self, timeout: Duration, accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if accept(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no expected line within {timeout:?}; stdout: {:?}\nstderr:\n{}",
                    self.name,
                    self.seen,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: stdout closed before the expected line; stdout: {:?}\nstderr:\n{}",
                    self.name,
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for `listening on ADDR` and returns ADDR.
    pub(crate) fn listening(&mut self) -> SocketAddr {
        self.listening_within(START_TIMEOUT)
    }

    /// As [`Proc::listening`], waiting up to `timeout`.
    pub(crate) fn listening_within(&mut self, timeout: Duration) -> SocketAddr {
        let line = self.wait_line(timeout, |l| l.starts_with("listening on "));
        let addr = line["listening on ".len()..].trim();
        let addr: SocketAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("{}: bad address in {line:?}: {e}", self.name));
        assert!(
            addr.ip().is_loopback(),
            "{}: listening off loopback: {addr}",
            self.name
        );
        addr
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and reaps it.
    pub(crate) fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM (through `kill(1)`: the tests forbid `unsafe`).
    pub(crate) fn terminate(&self) {
        self.signal("TERM");
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit (status 0); the finished
    /// process for its output.
    pub(crate) fn stop(self, timeout: Duration) -> Finished {
        self.terminate();
        let finished = self.finish(timeout);
        assert!(finished.status.success(), "{finished:?}");
        finished
    }

    /// Sends the signal `name` (`TERM`, `HUP`, …) through `kill(1)`.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "{}: kill -{name} failed", self.name);
    }

    /// Waits up to `timeout` for stdout to close and the process to exit; panics (after
    /// killing it) when it does not.
    pub(crate) fn finish(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: still running after {timeout:?}; stdout: {:?}\nstderr:\n{}",
                    self.name,
                    self.seen,
                    self.stderr()
                ),
            }
        }
        // stdout is closed: the process is exiting. Reap it on a thread so a process that
        // closed stdout but hangs still times out here.
        let mut child = self.child.take().expect("child not yet reaped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(2);
        let status = match rx.recv_timeout(left) {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("{}: wait failed: {e}", self.name),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &self.pid.to_string()])
                    .status();
                panic!("{}: closed stdout but did not exit", self.name);
            }
        };
        // The process exited: its stderr pipe closes, and the reader thread has it all.
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(2));
        Finished {
            name: self.name.clone(),
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a peer script to completion (bounded by [`RUN_TIMEOUT`]).
pub(crate) fn run(name: &str, command: Command) -> Finished {
    Proc::spawn(name, command).finish(RUN_TIMEOUT)
}

/// Runs PyPI smpplib's client (`smpplib_client.py`) as `pyesme`/`secret` against `addr`,
/// asserts every submit was answered ESME_ROK and every part got one DELIVRD receipt naming
/// its id; returns the ids.
pub(crate) fn smpplib_all_delivered(addr: SocketAddr) -> Vec<String> {
    let mut py = python("smpplib_client.py");
    py.args([addr.ip().to_string(), addr.port().to_string()])
        .args([
            "--system-id",
            "pyesme",
            "--password",
            "secret",
            "--timeout",
            "20",
        ]);
    let py = run("smpplib_client.py", py).success_json();
    assert_eq!(py["ok"], true, "{py}");
    let submits = py["submits"].as_array().expect("submits");
    let ids: Vec<String> = submits
        .iter()
        .map(|s| {
            assert_eq!(s["status"], 0, "{s}");
            s["message_id"].as_str().expect("message_id").to_owned()
        })
        .collect();
    let receipts = py["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), ids.len(), "one receipt per part: {py}");
    for r in receipts {
        let id = r["receipted_message_id"].as_str().expect("id");
        assert!(
            ids.iter().any(|i| i == id),
            "receipt for an unknown id: {r}"
        );
        assert_eq!(r["stat"], "DELIVRD", "{r}");
    }
    ids
}

/// A running `smppgate sim`.
pub(crate) struct Sim {
    proc: Proc,
    pub(crate) addr: SocketAddr,
}

impl Sim {
    /// Starts `smppgate sim --listen 127.0.0.1:0 EXTRA...` and waits until it listens.
    pub(crate) fn start(extra: &[&str]) -> Self {
        let mut command = smppgate();
        command.args(["sim", "--listen", "127.0.0.1:0"]).args(extra);
        let mut proc = Proc::spawn("smppgate sim", command);
        let addr = proc.listening();
        Self { proc, addr }
    }

    /// Reads the counter lines (started with `--stats-interval`) until one satisfies
    /// `done`, within `limit`; that line. See [`counters_until`].
    pub(crate) fn stats_until(
        &mut self,
        limit: Duration,
        nodes: &[&Proc],
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        counters_until(&mut self.proc, limit, nodes, done)
    }

    /// `HOST` and `PORT` as two arguments.
    pub(crate) fn host_port(&self) -> [String; 2] {
        [self.addr.ip().to_string(), self.addr.port().to_string()]
    }

    /// SIGTERM; asserts exit 0 and returns the counters JSON.
    pub(crate) fn stop(self) -> Value {
        self.proc.terminate();
        self.proc.finish(Duration::from_secs(15)).success_json()
    }

    /// Sends SIGTERM without waiting.
    pub(crate) fn terminate(&self) {
        self.proc.terminate();
    }

    /// Waits for the exit after [`Sim::terminate`]; asserts exit 0, returns the counters.
    pub(crate) fn finish(self) -> Value {
        self.proc.finish(Duration::from_secs(15)).success_json()
    }
}

/// A running `node tests/peers/node_server.js`.
pub(crate) struct NodeServer {
    proc: Proc,
    pub(crate) addr: SocketAddr,
}

impl NodeServer {
    /// Starts it on a free loopback port with `extra` options.
    pub(crate) fn start(extra: &[&str]) -> Self {
        let mut command = node("node_server.js");
        command
            .args(["--port", "0", "--timeout-ms", "25000"])
            .args(extra);
        let mut proc = Proc::spawn("node_server.js", command);
        let addr = proc.listening();
        Self { proc, addr }
    }

    /// SIGTERM; asserts exit 0 and returns the summary JSON.
    pub(crate) fn stop(self) -> Value {
        self.proc.terminate();
        self.proc.finish(Duration::from_secs(10)).success_json()
    }
}

/// `value[key]` as u64 (panics with the document when it is not a number).
pub(crate) fn num(value: &Value, key: &str) -> u64 {
    value
        .pointer(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{key} is not a number in {value}"))
}

/// Writes `DIR/smppgate.toml`: a listener on a free loopback port, the store under
/// `DIR/store`, then `rest` (accounts, carriers, routes).
pub(crate) fn write_gateway_config(dir: &Path, rest: &str) -> PathBuf {
    let path = dir.join("smppgate.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[store]\npath = \"{}\"\n{rest}",
        dir.join("store").display()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// The TOML of one carrier `name` at `address` (with `extra` lines, e.g. `tps = 200`) and
/// the default route `all` to it.
pub(crate) fn one_carrier_route(name: &str, address: &str, extra: &str) -> String {
    format!(
        r#"
[[carrier]]
name = "{name}"
address = "{address}"
system_id = "gw"
password = "x"
{extra}

[[route]]
name = "all"
default = true
carriers = ["{name}"]
"#
    )
}

/// Starts `smppgate serve --config CONFIG` and waits until it listens.
pub(crate) fn serve(config: &Path) -> (Proc, SocketAddr) {
    let mut command = smppgate();
    command.arg("serve").arg("--config").arg(config);
    let mut proc = Proc::spawn("smppgate serve", command);
    let addr = proc.listening();
    (proc, addr)
}

/// As [`serve`], for a node of a NATS cluster (waits up to [`CLUSTER_START_TIMEOUT`]).
pub(crate) fn serve_node(config: &Path) -> (Proc, SocketAddr) {
    let mut command = smppgate();
    command.arg("serve").arg("--config").arg(config);
    let mut proc = Proc::spawn("smppgate serve", command);
    let addr = proc.listening_within(CLUSTER_START_TIMEOUT);
    (proc, addr)
}

/// Reads a simulator's counter lines (`smppgate sim --stats-interval`) until one satisfies
/// `done`, within `limit`; that line. On a timeout (or when its output ends) panics with
/// the last counters and the end of `nodes`' logs: the gateways that were to bind to it,
/// whose logs tell why they did not.
#[allow(dead_code)] // not every test binary uses it
pub(crate) fn counters_until(
    sim: &mut Proc,
    limit: Duration,
    nodes: &[&Proc],
    done: impl Fn(&Value) -> bool,
) -> Value {
    let line = sim.try_wait_line(limit, |line| {
        serde_json::from_str::<Value>(line).is_ok_and(|stats| done(&stats))
    });
    let Some(line) = line else {
        let logs: Vec<String> = nodes
            .iter()
            .map(|node| {
                let all = node.stderr();
                // The end, where it stopped; on a char boundary.
                let mut from = all.len().saturating_sub(16_384);
                while !all.is_char_boundary(from) {
                    from += 1;
                }
                format!("--- {} stderr (end):\n{}", node.name, &all[from..])
            })
            .collect();
        panic!(
            "the carrier's counters did not get there within {limit:?}; last: {:?}\n{}",
            sim.last_seen(),
            logs.join("\n")
        );
    };
    serde_json::from_str(&line).expect("a counters line")
}

/// A free TCP port on 127.0.0.1 (bound, read, let go: another process may take it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local address")
        .port()
}

/// One HTTP/1.1 GET with `Connection: close`; the whole answer (status line, headers,
/// body), bounded by a 5 s read timeout. Blocking: call it from a test thread.
pub(crate) fn http_get(addr: &str, path: &str) -> String {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect(addr).expect("HTTP listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// `smppgate serve` without configuration (the demo: account demo/demo, store ./data,
/// a built-in simulated carrier) in `dir`, with Prometheus metrics on a free port: the
/// process (its `listening on` line read), and the metrics address.
pub(crate) fn serve_demo(dir: &Path) -> (Proc, SocketAddr, String) {
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut command = smppgate();
    command
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--http-listen", "127.0.0.1:0"])
        .args(["--metrics", &metrics])
        .current_dir(dir);
    let mut gateway = Proc::spawn("smppgate serve (demo)", command);
    let addr = gateway.listening();
    (gateway, addr, metrics)
}

/// Binds demo/demo (transceiver) to `addr` within 10 s.
pub(crate) async fn bind_demo(
    addr: SocketAddr,
) -> (smppgate::esme::EsmeClient, smppgate::esme::Inbound) {
    use smppgate::esme::{EsmeClient, EsmeConfig};
    tokio::time::timeout(
        Duration::from_secs(10),
        EsmeClient::connect(&addr.to_string(), EsmeConfig::new("demo", "demo")),
    )
    .await
    .expect("bind in time")
    .expect("demo/demo binds")
}
