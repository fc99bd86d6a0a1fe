//! `smppgate messages show` takes a message id exactly as the client received it, in its
//! account's `id_style`: a real `smppgate serve` with a hex and a decimal account, each
//! id looked up after the gateway stopped; and a store written directly where the same
//! digits are one account's decimal id and the other's hex id.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use bytes::Bytes;
use smppgate::config::Class;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::store::{FjallStore, MessageRecord, Op, State, Store};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::Address;
use support::{Sim, one_carrier_route, serve, smppgate, write_gateway_config};

/// Two accounts, `hexapp` (the default style, hex) and `decapp` (decimal).
fn write_config(dir: &Path, carrier: &str) -> std::path::PathBuf {
    let rest = r#"
[[account]]
system_id = "hexapp"
password = "pw"

[[account]]
system_id = "decapp"
password = "pw"
id_style = "dec"
"#
    .to_owned()
        + &one_carrier_route("sim", carrier, "tps = 1000");
    write_gateway_config(dir, &rest)
}

fn show(config: &Path, id: &str) -> Output {
    smppgate()
        .args(["messages", "show", "--json", "--config"])
        .arg(config)
        .arg(id)
        .output()
        .expect("run smppgate messages show")
}

fn shown(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// Submits one message as `account`; returns the message id the client received.
async fn submit_as(addr: &str, account: &str, text: &str) -> String {
    let (client, _inbound) = tokio::time::timeout(
        Duration::from_secs(10),
        EsmeClient::connect(addr, EsmeConfig::new(account, "pw")),
    )
    .await
    .expect("bind in time")
    .expect("bind");
    let submit = SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from(text.to_owned()),
        ..SubmitSm::default()
    };
    let response = tokio::time::timeout(Duration::from_secs(10), client.submit(submit))
        .await
        .expect("response in time")
        .expect("response");
    assert!(response.is_ok(), "{}", response.status());
    let id = String::from_utf8(response.message_id().unwrap().to_vec()).unwrap();
    client.unbind().await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_id_as_its_client_received_it_shows_that_clients_message() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim.addr.to_string());
    let (gateway, addr) = serve(&config);
    let addr = addr.to_string();
    let hex_id = submit_as(&addr, "hexapp", "to hex").await;
    let dec_id = submit_as(&addr, "decapp", "to dec").await;
    gateway.terminate();
    let finished = gateway.finish(Duration::from_secs(20));
    assert!(finished.status.success(), "{finished:?}");
    let _ = sim.stop();

    assert!(
        dec_id.bytes().all(|b| b.is_ascii_digit()),
        "decimal id {dec_id}"
    );
    let hex_record = shown(&show(&config, &hex_id));
    assert_eq!(hex_record["account"], "hexapp", "{hex_record}");
    assert_eq!(hex_record["message_id"], hex_id.as_str(), "{hex_record}");
    assert_eq!(
        hex_record["id"],
        u64::from_str_radix(&hex_id, 16).unwrap(),
        "{hex_record}"
    );
    let dec_record = shown(&show(&config, &dec_id));
    assert_eq!(dec_record["account"], "decapp", "{dec_record}");
    assert_eq!(dec_record["message_id"], dec_id.as_str(), "{dec_record}");

    // The decimal form of the hex account's id is not an id its client got.
    let decimal_of_hex = u64::from_str_radix(&hex_id, 16).unwrap().to_string();
    let output = show(&config, &decimal_of_hex);
    assert_eq!(output.status.code(), Some(1), "{output:?}");

    // The text form names the id as the client got it.
    let text = smppgate()
        .args(["messages", "show", "--config"])
        .arg(&config)
        .arg(&hex_id)
        .output()
        .unwrap();
    assert!(text.status.success(), "{text:?}");
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.starts_with(&format!("message   {hex_id} ({decimal_of_hex} decimal)\n")),
        "{stdout}"
    );
}

fn record(id: u64, account: &str) -> MessageRecord {
    MessageRecord {
        id,
        account: account.to_owned(),
        accepted: 1_733_000_000_000,
        class: Class::Notification,
        route: None,
        request: Vec::new(),
        part_count: 1,
        wants_receipt: false,
        state: State::Accepted,
        parts: Vec::new(),
        not_before: 0,
        expires: 0,
        route_taken: String::new(),
        client_ref: None,
        deferred_by: None,
    }
}

#[test]
fn the_same_digits_name_a_decimal_and_a_hex_accounts_message_and_both_are_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "sim");
    {
        let store = FjallStore::open(dir.path().join("store"), true).expect("store");
        // "4660" is decapp's id 4660 and hexapp's id 0x4660; "1234" reads as decimal
        // 1234 (nothing) and as hex 0x1234 = 4660, which is decapp's, whose client never
        // got "1234".
        store
            .commit(&[
                Op::Insert(std::sync::Arc::new(record(4660, "decapp"))),
                Op::Insert(std::sync::Arc::new(record(0x4660, "hexapp"))),
            ])
            .expect("commit");
    }

    let both = shown(&show(&config, "4660"));
    let both = both.as_array().expect("two matches: an array");
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[0]["read_as"], "decimal");
    assert_eq!(both[0]["account"], "decapp");
    assert_eq!(both[0]["id"], 4660);
    assert_eq!(both[1]["read_as"], "hex");
    assert_eq!(both[1]["account"], "hexapp");
    assert_eq!(both[1]["id"], 0x4660);

    let text = smppgate()
        .args(["messages", "show", "--config"])
        .arg(&config)
        .arg("4660")
        .output()
        .unwrap();
    assert!(text.status.success(), "{text:?}");
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("4660 read as decimal:\nmessage   4660\naccount   decapp\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("4660 read as hex:\nmessage   4660 (18016 decimal)\naccount   hexapp\n"),
        "{stdout}"
    );

    let hex_only = shown(&show(&config, "0x4660"));
    assert_eq!(hex_only["account"], "hexapp", "{hex_only}");

    let none = show(&config, "1234");
    assert_eq!(none.status.code(), Some(1), "{none:?}");
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stderr.starts_with("error: no message with id 1234 (read as decimal 1234 and as hex 4660)"),
        "{stderr}"
    );
}
