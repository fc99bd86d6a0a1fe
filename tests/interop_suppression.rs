//! Opt-out replies through real processes: `smppgate serve --config` (durable store, the
//! account under a `[[policy]]`), a PyPI `smpplib` client bound as the account, and a
//! carrier the test drives. The subscriber's "退订" reaches the client as an MO, and the
//! client's next marketing submit to that number is refused 0x400; the number is on the
//! running gateway's list (`smppgate suppress check` through its control socket). "订阅"
//! takes it off and marketing goes again; after the stop the CLI reads the store itself.

mod support;

use std::process::Output;
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::pdu::DeliverSm;
use smppgate_protocol::types::{Address, DataCoding};
use support::mo_carrier::{carrier_session, quiet_carrier};
use support::{Proc, python, smppgate, write_gateway_config};

const SUBSCRIBER: &str = "+8613900001111";

fn write_config(dir: &std::path::Path, carrier: std::net::SocketAddr) -> std::path::PathBuf {
    let rest = format!(
        r#"
[[account]]
system_id = "pyesme"
password = "secret"
numbers = ["10690000"]
policy = "cn-marketing"

[[policy]]
name = "cn-marketing"

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
"#
    );
    write_gateway_config(dir, &rest)
}

/// `smppgate suppress ARGS --config CONFIG` (off the runtime's workers).
fn suppress(config: &std::path::Path, args: &[&str]) -> Output {
    tokio::task::block_in_place(|| {
        smppgate()
            .arg("suppress")
            .args(args)
            .arg("--config")
            .arg(config)
            .output()
            .expect("run smppgate suppress")
    })
}

/// The subscriber sends `text` (UCS-2); returns when the gateway answered it.
async fn reply(session: &smppgate::smsc::SessionHandle, text: &str) {
    let mo = DeliverSm {
        source_addr: Address::international("8613900001111"),
        destination_addr: Address::international("10690000"),
        data_coding: DataCoding(8),
        short_message: Bytes::from(
            text.encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect::<Vec<u8>>(),
        ),
        ..DeliverSm::default()
    };
    let answer = support::within("deliver_sm answered", session.deliver(mo)).await;
    assert!(answer.unwrap().is_ok(), "the MO was refused");
}

fn wait_mo(peer: &mut Proc, text: &str) {
    let expected = format!(r#"{{"event": "mo", "text": "{text}"}}"#);
    tokio::task::block_in_place(|| {
        peer.wait_line(Duration::from_secs(20), |line| line == expected)
    });
}

/// The status of the client's next marketing submit.
fn submit_status(peer: &mut Proc) -> u64 {
    let line = tokio::task::block_in_place(|| {
        peer.wait_line(Duration::from_secs(20), |l| l.contains(r#""submit""#))
    });
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    value["status"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_reply_through_serve_and_smpplib_changes_the_running_list() {
    let dir = tempfile::tempdir().unwrap();
    let (carrier, server) = quiet_carrier().await;
    let config = write_config(dir.path(), server.local_addr());
    let (gateway, addr) = tokio::task::block_in_place(|| support::serve(&config));
    let session = carrier_session(&carrier).await;
    let mut peer = python("smpplib_mo.py");
    peer.args([
        &addr.ip().to_string(),
        &addr.port().to_string(),
        "--system-id",
        "pyesme",
        "--password",
        "secret",
        "--mos",
        "2",
        "--submit-to",
        SUBSCRIBER,
    ]);
    let mut peer = Proc::spawn("smpplib_mo.py", peer);
    tokio::task::block_in_place(|| {
        peer.wait_line(Duration::from_secs(20), |l| l.contains(r#""bound""#))
    });
    let check = ["check", "--account", "pyesme", SUBSCRIBER];
    assert_eq!(
        submit_status(&mut peer),
        0,
        "marketing goes before the reply"
    );

    let out = suppress(&config, &check);
    assert_eq!(
        out.status.code(),
        Some(1),
        "not suppressed before the reply"
    );
    reply(&session, "退订").await;
    wait_mo(&mut peer, "退订");
    assert_eq!(submit_status(&mut peer), 0x400, "refused once opted out");
    let out = suppress(&config, &check);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("8613900001111 suppressed for account:pyesme")
            && stdout.contains("(mo:mo:退订)"),
        "{stdout}"
    );

    reply(&session, "订阅").await;
    wait_mo(&mut peer, "订阅");
    assert_eq!(
        submit_status(&mut peer),
        0,
        "marketing goes again after the opt-in"
    );
    let out = suppress(&config, &check);
    assert_eq!(out.status.code(), Some(1), "the opt-in took it off");
    let out = suppress(&config, &["add", "--global", "+447700900123"]);
    assert!(out.status.success());
    tokio::task::block_in_place(|| {
        peer.wait_line(Duration::from_secs(20), |l| l.contains(r#""done""#))
    });

    gateway.terminate();
    let finished = tokio::task::block_in_place(|| gateway.finish(Duration::from_secs(20)));
    assert!(finished.status.success(), "{}", finished.stderr);
    // Stopped: read from the store directly.
    let out = suppress(&config, &["list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{listed}");
    assert!(rows[0].starts_with("447700900123,global,"), "{listed}");
}
