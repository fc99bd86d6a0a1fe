//! `smppgate sim` and `smppgate send` as processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_smppgate");

/// A running sim, killed on drop.
struct Sim {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Sim {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["sim", "--listen", "127.0.0.1:0", "--receipt-delay-ms", "20"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sim");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self {
            child,
            addr,
            stdout,
        }
    }

    /// SIGTERM, then the JSON counters line and the exit status (bounded wait).
    fn terminate(mut self) -> (Value, std::process::ExitStatus) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("counters line");
        let deadline = Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "sim did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        (serde_json::from_str(&line).expect("JSON counters"), exit)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(addr: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "send",
            "--connect",
            addr,
            "--from",
            "15550001",
            "--to",
            "15550002",
            "--timeout",
            "10s",
        ])
        .args(args)
        .output()
        .expect("run send")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn assert_parts_with_receipts(output: &Output, parts: usize) {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc = json(output);
    assert_eq!(doc["ok"], true);
    let list = doc["parts"].as_array().unwrap();
    assert_eq!(list.len(), parts);
    for (i, part) in list.iter().enumerate() {
        assert_eq!(part["part"], i + 1);
        assert_eq!(part["status"], 0);
        assert_eq!(part["status_name"], "ESME_ROK");
        assert!(part["message_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(part["receipt"]["stat"], "DELIVRD");
        assert_eq!(part["receipt"]["err"], "000");
    }
    assert_eq!(doc["receipts_expected"], parts);
    assert_eq!(doc["receipts_received"], parts);
}

#[test]
fn long_gsm_and_ucs2_texts_get_a_receipt_per_part_and_sigterm_prints_counters() {
    let sim = Sim::start(&["--system-id", "esme", "--password", "pw"]);
    let gsm = "GSM 7-bit text that is long enough to need three parts. ".repeat(7);
    let output = send(
        &sim.addr,
        &[
            "--system-id",
            "esme",
            "--password",
            "pw",
            "--text",
            &gsm,
            "--receipt",
        ],
    );
    assert_parts_with_receipts(&output, 3);

    let ucs2 = "Привет, мир! Длинное сообщение в UCS-2. ".repeat(4);
    let output = send(
        &sim.addr,
        &[
            "--system-id",
            "esme",
            "--password",
            "pw",
            "--text",
            &ucs2,
            "--receipt",
            "--method",
            "sar",
        ],
    );
    assert_parts_with_receipts(&output, 3);

    let output = send(
        &sim.addr,
        &[
            "--system-id",
            "esme",
            "--password",
            "pw",
            "--text",
            "many",
            "--count",
            "200",
            "--window",
            "16",
        ],
    );
    assert!(output.status.success());
    let doc = json(&output);
    assert_eq!(doc["sent"], 200);
    assert_eq!(doc["accepted"], 200);
    assert_eq!(doc["statuses"]["ESME_ROK"], 200);

    let (counters, exit) = sim.terminate();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(counters["submits"], 206);
    assert_eq!(counters["segments"], 6);
    assert_eq!(counters["binds"], 3);
    assert_eq!(counters["unbinds"], 3);
    assert_eq!(counters["receipts_sent"], 6);
    assert_eq!(counters["receipts_acked"], 6);
    assert_eq!(counters["sessions_active"], 0);
    assert_eq!(counters["errors"]["frame_errors"], 0);
}

#[test]
fn wrong_password_and_unknown_system_id_fail_with_one_error_line() {
    let sim = Sim::start(&["--system-id", "esme", "--password", "pw"]);
    let output = send(
        &sim.addr,
        &["--system-id", "esme", "--password", "nope", "--text", "x"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: bind refused by {}: ESME_RINVPASWD (0x0000000e): invalid password",
            sim.addr
        )
    );
    let output = send(
        &sim.addr,
        &["--system-id", "other", "--password", "pw", "--text", "x"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ESME_RINVSYSID"));
    let (counters, exit) = sim.terminate();
    assert!(exit.success());
    assert_eq!(counters["bind_failures"], 2);
}

#[test]
fn a_refused_connection_fails_with_one_error_line() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = send(
        &format!("127.0.0.1:{port}"),
        &["--system-id", "e", "--password", "p", "--text", "x"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn tls_between_sim_and_send() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("smppgate-sim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let sim = Sim::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let output = send(
        &sim.addr,
        &[
            "--system-id",
            "e",
            "--password",
            "p",
            "--text",
            "over TLS",
            "--receipt",
            "--tls-ca",
            cert.to_str().unwrap(),
        ],
    );
    assert_parts_with_receipts(&output, 1);
    let (counters, exit) = sim.terminate();
    assert!(exit.success());
    assert_eq!(counters["receipts_acked"], 1);
    let _ = std::fs::remove_dir_all(dir);
}
