//! Third-party SMPP clients (PyPI `smpplib`, npm `smpp`, a raw misbehaving socket) against
//! `smppgate sim`, checked from both ends: what the peer saw, and the sim's counters.

mod support;

use serde_json::{Value, json};
use support::{Proc, RUN_TIMEOUT, Sim, node, num, python, run};

/// The sim's `errors` object with nothing counted.
fn no_errors() -> Value {
    json!({
        "generic_nack_sent": 0,
        "invalid_bind_status": 0,
        "decode_errors": 0,
        "unknown_command": 0,
        "frame_errors": 0,
        "response_timeouts": 0,
    })
}

/// What every client script reports after a clean run of `parts` parts: all accepted, one
/// matched receipt (DELIVRD, err 000, message_state 2) per part.
fn assert_client_run(peer: &Value, parts: u64) {
    assert_eq!(peer["ok"], true, "{peer}");
    assert_eq!(peer["parts"], json!({"gsm": 3, "ucs2": 3}), "{peer}");
    let submits = peer["submits"].as_array().expect("submits");
    assert_eq!(submits.len() as u64, parts, "{peer}");
    let mut ids: Vec<&str> = Vec::new();
    for s in submits {
        assert_eq!(s["command"], "submit_sm_resp", "{s}");
        assert_eq!(s["status"], 0, "{s}");
        let id = s["message_id"].as_str().expect("message_id");
        assert!(!id.is_empty());
        ids.push(id);
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "message ids not unique: {ids:?}");
    assert_eq!(num(peer, "/receipts_matched"), parts, "{peer}");
    let receipts = peer["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len() as u64, parts, "one receipt per part: {peer}");
    for r in receipts {
        let id = r["receipted_message_id"]
            .as_str()
            .expect("receipted_message_id");
        assert!(ids.contains(&id), "receipt for an unknown id: {r}");
        assert_eq!(r["id"], r["receipted_message_id"], "{r}");
        assert_eq!(r["stat"], "DELIVRD", "{r}");
        assert_eq!(r["err"], "000", "{r}");
        assert_eq!(r["message_state"], 2, "{r}");
    }
    assert!(peer["mo"].as_array().unwrap().is_empty(), "{peer}");
}

#[test]
fn smpplib_transceiver_long_gsm_and_ucs2_with_receipts() {
    let sim = Sim::start(&["--receipt-delay-ms", "20"]);
    let mut client = python("smpplib_client.py");
    client.args(sim.host_port()).args(["--timeout", "15"]);
    let peer = run("smpplib_client.py", client).success_json();
    let counters = sim.stop();

    assert_client_run(&peer, 6);
    assert_eq!(peer["bind"]["status"], 0, "{peer}");
    assert_eq!(peer["bind"]["system_id"], "smppgate-sim", "{peer}");
    assert_eq!(
        peer["enquire_link"],
        json!({"command": "enquire_link_resp", "status": 0})
    );
    assert_eq!(
        peer["unbind"],
        json!({"command": "unbind_resp", "status": 0})
    );

    assert_eq!(num(&counters, "/binds"), 1, "{counters}");
    assert_eq!(num(&counters, "/bind_failures"), 0, "{counters}");
    assert_eq!(num(&counters, "/sessions_active"), 0, "{counters}");
    assert_eq!(num(&counters, "/submits"), 6, "{counters}");
    assert_eq!(num(&counters, "/segments"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_sent"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_acked"), 6, "{counters}");
    assert_eq!(num(&counters, "/enquire_links"), 1, "{counters}");
    assert_eq!(num(&counters, "/unbinds"), 1, "{counters}");
    assert_eq!(counters["errors"], no_errors(), "{counters}");
}

#[test]
fn smpplib_wrong_password_is_refused_with_rinvpaswd() {
    let sim = Sim::start(&["--system-id", "pyesme", "--password", "right"]);
    let mut client = python("smpplib_client.py");
    client
        .args(sim.host_port())
        .args(["--password", "wrong", "--timeout", "10"]);
    let out = run("smpplib_client.py", client);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let peer = out.json();
    assert_eq!(
        peer["bind"],
        json!({"command": "bind_transceiver_resp", "status": 0x0E})
    );
    let counters = sim.stop();
    assert_eq!(num(&counters, "/binds"), 0, "{counters}");
    assert_eq!(num(&counters, "/bind_failures"), 1, "{counters}");
}

#[test]
fn node_transceiver_long_gsm_and_ucs2_with_receipts_then_query_data_sm_submit_multi() {
    let sim = Sim::start(&["--receipt-delay-ms", "20"]);
    let mut client = node("node_client.js");
    client
        .args(sim.host_port())
        .args(["--mode", "trx", "--extras", "--timeout-ms", "15000"]);
    let peer = run("node_client.js trx", client).success_json();
    let counters = sim.stop();

    assert_client_run(&peer, 6);
    assert_eq!(peer["binds"]["trx"]["status"], 0, "{peer}");
    assert!(
        peer["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["session"] == "trx")
    );
    assert_eq!(
        peer["enquire_link"]["trx"],
        json!({"command": "enquire_link_resp", "status": 0})
    );
    assert_eq!(
        peer["unbind"]["trx"],
        json!({"command": "unbind_resp", "status": 0})
    );
    // query_sm for the first part, delivered by now (its receipt arrived).
    let extras = &peer["extras"];
    assert_eq!(
        extras["query_sm"],
        json!({
            "command": "query_sm_resp",
            "status": 0,
            "message_id": peer["submits"][0]["message_id"],
            "message_state": 2,
            "error_code": 0,
            "has_final_date": true,
        }),
        "{extras}"
    );
    assert_eq!(extras["data_sm"]["command"], "data_sm_resp", "{extras}");
    assert_eq!(extras["data_sm"]["status"], 0, "{extras}");
    assert!(
        extras["data_sm"]["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(
        extras["submit_multi"]["command"], "submit_multi_resp",
        "{extras}"
    );
    assert_eq!(extras["submit_multi"]["status"], 0, "{extras}");
    assert_eq!(extras["submit_multi"]["unsuccess"], 0, "{extras}");
    assert!(
        extras["submit_multi"]["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    assert_eq!(num(&counters, "/binds"), 1, "{counters}");
    assert_eq!(num(&counters, "/submits"), 6, "{counters}");
    assert_eq!(num(&counters, "/query_sm"), 1, "{counters}");
    assert_eq!(num(&counters, "/data_sm"), 1, "{counters}");
    assert_eq!(num(&counters, "/submit_multi"), 1, "{counters}");
    assert_eq!(num(&counters, "/segments"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_sent"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_acked"), 6, "{counters}");
    assert_eq!(num(&counters, "/enquire_links"), 1, "{counters}");
    assert_eq!(num(&counters, "/unbinds"), 1, "{counters}");
    assert_eq!(num(&counters, "/sessions_active"), 0, "{counters}");
    assert_eq!(counters["errors"], no_errors(), "{counters}");
}

#[test]
fn node_transmitter_and_receiver_get_receipts_on_the_receiver() {
    let sim = Sim::start(&["--receipt-delay-ms", "20"]);
    let mut client = node("node_client.js");
    client
        .args(sim.host_port())
        .args(["--mode", "tx-rx", "--timeout-ms", "15000"]);
    let peer = run("node_client.js tx-rx", client).success_json();
    let counters = sim.stop();

    assert_client_run(&peer, 6);
    assert_eq!(peer["binds"]["rx"]["command"], "bind_receiver");
    assert_eq!(peer["binds"]["rx"]["status"], 0, "{peer}");
    assert_eq!(peer["binds"]["tx"]["command"], "bind_transmitter");
    assert_eq!(peer["binds"]["tx"]["status"], 0, "{peer}");
    for r in peer["receipts"].as_array().unwrap() {
        assert_eq!(r["session"], "rx", "receipt not on the receiver: {r}");
    }
    for session in ["rx", "tx"] {
        assert_eq!(
            peer["enquire_link"][session],
            json!({"command": "enquire_link_resp", "status": 0})
        );
        assert_eq!(
            peer["unbind"][session],
            json!({"command": "unbind_resp", "status": 0})
        );
    }

    assert_eq!(num(&counters, "/binds"), 2, "{counters}");
    assert_eq!(num(&counters, "/submits"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_sent"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_acked"), 6, "{counters}");
    assert_eq!(num(&counters, "/receipts_dropped"), 0, "{counters}");
    assert_eq!(num(&counters, "/enquire_links"), 2, "{counters}");
    assert_eq!(num(&counters, "/unbinds"), 2, "{counters}");
    assert_eq!(num(&counters, "/sessions_active"), 0, "{counters}");
    assert_eq!(counters["errors"], no_errors(), "{counters}");
}

const GENERIC_NACK: u64 = 0x8000_0000;
const BIND_RECEIVER_RESP: u64 = 0x8000_0001;
const BIND_TRANSCEIVER_RESP: u64 = 0x8000_0009;
const SUBMIT_SM_RESP: u64 = 0x8000_0004;
const ENQUIRE_LINK_RESP: u64 = 0x8000_0015;
const UNBIND_RESP: u64 = 0x8000_0006;

/// `(command_id, command_status, sequence_number)` of every PDU a raw scenario got back.
fn responses(report: &Value) -> Vec<(u64, u64, u64)> {
    report["responses"]
        .as_array()
        .unwrap_or_else(|| panic!("no responses in {report}"))
        .iter()
        .map(|r| {
            (
                num(r, "/command_id"),
                num(r, "/command_status"),
                num(r, "/sequence_number"),
            )
        })
        .collect()
}

/// A well-behaved client on the same sim still binds, submits and gets its receipts.
fn assert_sim_still_serves(sim: &Sim) {
    let mut client = node("node_client.js");
    client.args(sim.host_port()).args([
        "--mode",
        "trx",
        "--gsm-len",
        "100",
        "--ucs2-len",
        "30",
        "--timeout-ms",
        "10000",
    ]);
    let peer = run("node_client.js after abuse", client).success_json();
    assert_eq!(peer["ok"], true, "{peer}");
    assert_eq!(peer["parts"], json!({"gsm": 1, "ucs2": 1}), "{peer}");
    assert_eq!(num(&peer, "/receipts_matched"), 2, "{peer}");
}

fn raw(sim: &Sim, scenario: &str) -> Value {
    let mut peer = python("raw_peer.py");
    peer.args(sim.host_port())
        .args([scenario, "--timeout", "5"]);
    let out = run(&format!("raw_peer.py {scenario}"), peer).success_json();
    out[scenario].clone()
}

#[test]
fn garbage_gets_generic_nack_rinvcmdlen_and_close() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let report = raw(&sim, "garbage");
    assert_eq!(
        responses(&report),
        vec![(GENERIC_NACK, 0x02, 0)],
        "{report}"
    );
    assert_eq!(report["closed"], true, "{report}");
    assert_sim_still_serves(&sim);
    let counters = sim.stop();
    assert_eq!(num(&counters, "/errors/frame_errors"), 1, "{counters}");
    assert_eq!(
        num(&counters, "/errors/decode_errors"),
        0,
        "a lost framing is not also a decode error: {counters}"
    );
    assert_eq!(num(&counters, "/errors/generic_nack_sent"), 1, "{counters}");
    assert_eq!(num(&counters, "/binds"), 1, "{counters}");
}

#[test]
fn command_length_8_gets_generic_nack_rinvcmdlen_and_close() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let report = raw(&sim, "len8");
    assert_eq!(
        responses(&report),
        vec![(GENERIC_NACK, 0x02, 0)],
        "{report}"
    );
    assert_eq!(report["closed"], true, "{report}");
    assert_sim_still_serves(&sim);
    let counters = sim.stop();
    assert_eq!(num(&counters, "/errors/frame_errors"), 1, "{counters}");
    assert_eq!(num(&counters, "/errors/generic_nack_sent"), 1, "{counters}");
}

#[test]
fn unknown_command_gets_generic_nack_rinvcmdid_and_session_stays_usable() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let report = raw(&sim, "unknown_command");
    assert_eq!(
        responses(&report),
        vec![
            (BIND_TRANSCEIVER_RESP, 0, 1),
            (GENERIC_NACK, 0x03, 7),
            (ENQUIRE_LINK_RESP, 0, 8),
            (SUBMIT_SM_RESP, 0, 9),
            (UNBIND_RESP, 0, 10),
        ],
        "{report}"
    );
    assert_eq!(report["closed"], true, "closed after unbind: {report}");
    assert_sim_still_serves(&sim);
    let counters = sim.stop();
    assert_eq!(num(&counters, "/errors/unknown_command"), 1, "{counters}");
    assert_eq!(
        num(&counters, "/errors/decode_errors"),
        0,
        "an unknown command is not also a decode error: {counters}"
    );
    assert_eq!(num(&counters, "/errors/generic_nack_sent"), 1, "{counters}");
    assert_eq!(num(&counters, "/errors/frame_errors"), 0, "{counters}");
    assert_eq!(num(&counters, "/submits"), 3, "{counters}");
    assert_eq!(num(&counters, "/unbinds"), 2, "{counters}");
}

#[test]
fn submit_before_bind_gets_rinvbndsts() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let report = raw(&sim, "submit_unbound");
    assert_eq!(
        responses(&report),
        vec![(SUBMIT_SM_RESP, 0x04, 1), (ENQUIRE_LINK_RESP, 0, 2)],
        "{report}"
    );
    assert_sim_still_serves(&sim);
    let counters = sim.stop();
    assert_eq!(
        num(&counters, "/errors/invalid_bind_status"),
        1,
        "{counters}"
    );
    assert_eq!(num(&counters, "/errors/generic_nack_sent"), 0, "{counters}");
    assert_eq!(num(&counters, "/binds"), 1, "{counters}");
}

#[test]
fn close_mid_pdu_does_not_hurt_the_sim() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let report = raw(&sim, "cut");
    assert!(responses(&report).is_empty(), "{report}");
    assert_sim_still_serves(&sim);
    let counters = sim.stop();
    assert_eq!(num(&counters, "/binds"), 1, "{counters}");
    assert_eq!(num(&counters, "/sessions_active"), 0, "{counters}");
    assert_eq!(num(&counters, "/errors/generic_nack_sent"), 0, "{counters}");
}

#[test]
fn sigterm_unbinds_bound_node_sessions_before_exiting() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let mut client = node("node_client.js");
    client.args(sim.host_port()).args([
        "--mode",
        "tx-rx",
        "--gsm-len",
        "100",
        "--ucs2-len",
        "30",
        "--wait-unbind",
        "--timeout-ms",
        "15000",
    ]);
    let mut client = Proc::spawn("node_client.js --wait-unbind", client);
    client.wait_line(RUN_TIMEOUT, |l| l == "waiting for unbind");
    sim.terminate();
    let peer = client.finish(RUN_TIMEOUT).success_json();
    let counters = sim.finish();

    assert_eq!(num(&peer, "/receipts_matched"), 2, "{peer}");
    for session in ["rx", "tx"] {
        assert_eq!(
            peer["server_unbinds"][session]["closed"], true,
            "{session}: {peer}"
        );
    }
    assert_eq!(num(&counters, "/binds"), 2, "{counters}");
    assert_eq!(num(&counters, "/sessions_active"), 0, "{counters}");
    // The ESMEs did not unbind: the sim did.
    assert_eq!(num(&counters, "/unbinds"), 0, "{counters}");
    assert_eq!(num(&counters, "/receipts_acked"), 2, "{counters}");
    assert_eq!(counters["errors"], no_errors(), "{counters}");
}

#[test]
fn receiver_submit_gets_rinvbndsts_and_second_bind_gets_ralybnd() {
    let sim = Sim::start(&["--receipt-delay-ms", "0"]);
    let receiver = raw(&sim, "receiver_submit");
    assert_eq!(
        responses(&receiver),
        vec![(BIND_RECEIVER_RESP, 0, 1), (SUBMIT_SM_RESP, 0x04, 2)],
        "{receiver}"
    );
    let double = raw(&sim, "double_bind");
    assert_eq!(
        responses(&double),
        vec![
            (BIND_TRANSCEIVER_RESP, 0, 1),
            (BIND_TRANSCEIVER_RESP, 0x05, 2),
            (ENQUIRE_LINK_RESP, 0, 3),
        ],
        "{double}"
    );
    assert_sim_still_serves(&sim);
    let counters = sim.stop();
    assert_eq!(
        num(&counters, "/errors/invalid_bind_status"),
        2,
        "{counters}"
    );
    assert_eq!(num(&counters, "/binds"), 3, "{counters}");
    assert_eq!(
        num(&counters, "/submits"),
        2,
        "only the good client's: {counters}"
    );
}
