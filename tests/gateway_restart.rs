//! Receipts survive restarts and absent clients: `smppgate serve` (a real process, durable
//! store) and a `smppgate sim` carrier with a receipt delay; the upstream client binds as
//! a transmitter only (receipts wait in the store), the gateway is stopped (cleanly, or
//! with SIGKILL) while receipts are arriving, restarted, and a receiver bind then gets a
//! receipt for every message.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use smppgate::esme::EsmeClient;
use smppgate_protocol::receipt::DeliveryReceipt;
use smppgate_protocol::session::BindKind;
use support::{Sim, serve, write_gateway_config};

const COUNT: usize = 2_000;

fn write_config(dir: &std::path::Path, sim: &Sim) -> std::path::PathBuf {
    let rest = format!(
        r#"

[[account]]
system_id = "app"
password = "pw"
window = 128

[[carrier]]
name = "sim"
address = "{sim}"
system_id = "gw"
password = "x"
binds = 2
window = 64
tps = 100000

[[route]]
name = "all"
default = true
carriers = ["sim"]
"#,
        sim = sim.addr,
    );
    write_gateway_config(dir, &rest)
}

async fn client(addr: &str, kind: BindKind) -> (EsmeClient, smppgate::esme::Inbound) {
    support::submit::bind(addr, "app", "pw", kind).await
}

async fn submit_all(addr: &str) -> Vec<String> {
    support::submit::with_receipts(addr, "app", "pw", COUNT, |n| {
        Bytes::from(format!("restart {n}"))
    })
    .await
}

async fn restart_case(kill: bool) {
    // Receipts come 1.5 s after each submit: the stop lands while they arrive.
    let sim = Sim::start(&["--receipt-delay-ms", "1000-2000"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim);
    let (gateway, addr) = serve(&config);
    let addr = addr.to_string();
    let ids = submit_all(&addr).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    if kill {
        gateway.kill9();
    } else {
        gateway.terminate();
        let finished = gateway.finish(Duration::from_secs(20));
        assert!(finished.status.success(), "{finished:?}");
    }
    let (gateway, addr) = serve(&config);
    let addr = addr.to_string();
    let (_rx, mut inbound) = client(&addr, BindKind::Receiver).await;
    let mut seen: HashMap<String, u32> = ids.iter().map(|id| (id.clone(), 0)).collect();
    let mut distinct = 0;
    while distinct < COUNT {
        let request = tokio::time::timeout(Duration::from_secs(30), inbound.recv())
            .await
            .unwrap_or_else(|_| panic!("only {distinct} of {COUNT} receipts after the restart"))
            .expect("inbound open");
        let receipt = DeliveryReceipt::from_body(&request.pdu.body).expect("a receipt");
        let id = receipt.id().expect("id").to_owned();
        let n = seen
            .get_mut(&id)
            .unwrap_or_else(|| panic!("receipt for unknown id {id}"));
        if *n == 0 {
            distinct += 1;
        }
        *n += 1;
    }
    let twice = seen.values().filter(|n| **n > 1).count();
    // A receipt forwarded but not yet acknowledged in the store when stopped may come
    // again (at-least-once); a clean stop flushes, so none.
    if !kill {
        assert_eq!(twice, 0, "duplicates after a clean stop");
    }
    assert!(twice <= 128, "{twice} receipts came twice");
    gateway.terminate();
    let _ = gateway.finish(Duration::from_secs(20));
    let _ = sim.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_survive_a_clean_restart_and_an_absent_client() {
    restart_case(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_survive_kill_9_and_an_absent_client() {
    restart_case(true).await;
}
