//! Third-party clients (PyPI `smpplib`, npm `smpp`) as upstream applications, through
//! `smppgate serve` (a real process, durable store), to a `smppgate sim` carrier: long
//! GSM and UCS-2 messages accepted, delivered, and every receipt back with our ids.

mod support;

use serde_json::Value;
use support::{Proc, Sim, node, num, python, run, write_gateway_config};

/// A config with one carrier (the sim at `sim`) and two accounts for the peers.
fn write_config(dir: &std::path::Path, sim: &Sim) -> std::path::PathBuf {
    let rest = format!(
        r#"

[[account]]
system_id = "pyesme"
password = "secret"

[[account]]
system_id = "nodeesme"
password = "secret"
id_style = "dec"

[[carrier]]
name = "sim"
address = "{sim}"
system_id = "gw"
password = "x"
binds = 2
window = 32
tps = 5000

[[route]]
name = "all"
default = true
carriers = ["sim"]
"#,
        sim = sim.addr,
    );
    write_gateway_config(dir, &rest)
}

struct Gateway {
    proc: Proc,
    addr: std::net::SocketAddr,
}

fn serve(config: &std::path::Path) -> Gateway {
    let (proc, addr) = support::serve(config);
    Gateway { proc, addr }
}

impl Gateway {
    fn host_port(&self) -> [String; 2] {
        [self.addr.ip().to_string(), self.addr.port().to_string()]
    }

    fn stop(self) -> Value {
        self.proc.terminate();
        self.proc
            .finish(std::time::Duration::from_secs(20))
            .success_json()
    }
}

/// Every part accepted with a unique id and one DELIVRD receipt carrying that id.
fn assert_delivered(peer: &Value, parts: u64) {
    assert_eq!(peer["ok"], true, "{peer}");
    let submits = peer["submits"].as_array().expect("submits");
    assert_eq!(submits.len() as u64, parts, "{peer}");
    let ids: Vec<&str> = submits
        .iter()
        .map(|s| {
            assert_eq!(s["status"], 0, "{s}");
            s["message_id"].as_str().expect("message_id")
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids not unique: {ids:?}");
    let receipts = peer["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len() as u64, parts, "one receipt per part: {peer}");
    for r in receipts {
        let id = r["receipted_message_id"].as_str().expect("id");
        assert!(ids.contains(&id), "receipt for an unknown id: {r}");
        assert_eq!(r["stat"], "DELIVRD", "{r}");
    }
}

#[test]
fn smpplib_and_node_clients_through_the_gateway_get_every_receipt() {
    let sim = Sim::start(&["--receipt-delay-ms", "20"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim);
    let gateway = serve(&config);

    let mut py = python("smpplib_client.py");
    py.args(gateway.host_port()).args([
        "--system-id",
        "pyesme",
        "--password",
        "secret",
        "--timeout",
        "20",
    ]);
    let py = run("smpplib_client.py", py).success_json();
    assert_delivered(&py, 6);

    let mut js = node("node_client.js");
    js.args(gateway.host_port()).args([
        "--system-id",
        "nodeesme",
        "--password",
        "secret",
        "--timeout-ms",
        "20000",
    ]);
    let js = run("node_client.js", js).success_json();
    assert_delivered(&js, 6);
    // id_style = "dec" for this account.
    for s in js["submits"].as_array().unwrap() {
        let id = s["message_id"].as_str().unwrap();
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "not decimal: {id}");
    }

    let stats = gateway.stop();
    assert_eq!(num(&stats, "/accepted"), 12, "{stats}");
    assert_eq!(num(&stats, "/receipts_matched"), 12, "{stats}");
    assert_eq!(num(&stats, "/forwarded"), 12, "{stats}");
    let counters = sim.stop();
    assert_eq!(num(&counters, "/submits"), 12, "{counters}");
}

#[test]
fn wrong_password_through_the_gateway_is_refused_with_rinvpaswd() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = serve(&write_config(dir.path(), &sim));
    let mut py = python("smpplib_client.py");
    py.args(gateway.host_port()).args([
        "--system-id",
        "pyesme",
        "--password",
        "wrong",
        "--timeout",
        "10",
    ]);
    let out = run("smpplib_client.py", py);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.json()["bind"]["status"], 0x0E);
    let _ = gateway.stop();
}
