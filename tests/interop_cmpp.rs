//! A CMPP 2.0 SP we did not write — PyPI `pycmpp` 2.0.2, driven by
//! tests/peers/pycmpp_client.py — against `smppgate sim --protocol cmpp2`: a wrong secret
//! refused with Status 3, a login whose AuthenticatorISMG the peer checks, a long Chinese
//! message split by pycmpp (UDH, TP_udhi, Pk_total / Pk_number), one DELIVRD status
//! report per part carrying that part's Msg_Id, ACTIVE_TEST and TERMINATE; checked from
//! both ends (what the peer saw, the sim's counters).

mod support;

use std::collections::HashSet;

use support::{Sim, num, python, run};

#[test]
fn pycmpp_long_chinese_message_with_receipts() {
    let sim = Sim::start(&[
        "--protocol",
        "cmpp2",
        "--account",
        "900001:888888",
        "--receipt-delay-ms",
        "20",
    ]);
    let mut client = python("pycmpp_client.py");
    client
        .args(sim.host_port())
        .args(["900001", "888888", "--timeout", "15"]);
    let peer = run("pycmpp_client.py", client).success_json();
    let counters = sim.stop();

    assert_eq!(peer["ok"], true, "{peer}");
    assert_eq!(peer["wrong_secret"]["status"], 3, "{peer}");
    assert_eq!(peer["wrong_secret"]["closed"], true, "{peer}");
    assert_eq!(peer["connect"]["status"], 0, "{peer}");
    assert_eq!(peer["connect"]["authenticator_ismg_ok"], true, "{peer}");
    assert_eq!(peer["connect"]["version"], 0x20, "{peer}");
    let parts = num(&peer, "/parts");
    assert_eq!(parts, 3, "{peer}");

    let submits = peer["submits"].as_array().expect("submits");
    assert_eq!(submits.len() as u64, parts, "{peer}");
    let mut ids = HashSet::new();
    for s in submits {
        assert_eq!(s["result"], 0, "{s}");
        ids.insert(s["msg_id"].as_u64().expect("msg_id"));
    }
    assert_eq!(ids.len() as u64, parts, "Msg_Ids not unique: {peer}");
    let receipts = peer["receipts"].as_array().expect("receipts");
    let reported: HashSet<u64> = receipts
        .iter()
        .map(|r| {
            assert_eq!(r["stat"], "DELIVRD", "{r}");
            assert_eq!(r["dest_terminal_id"], "13800138000", "{r}");
            assert_eq!(r["submit_time"].as_str().map(str::len), Some(10), "{r}");
            r["msg_id"].as_u64().expect("msg_id")
        })
        .collect();
    assert_eq!(
        reported, ids,
        "one report per part, with its Msg_Id: {peer}"
    );
    assert_eq!(peer["active_test"], true, "{peer}");
    assert_eq!(peer["terminate"], true, "{peer}");
    assert_eq!(peer["closed_after_terminate"], true, "{peer}");

    assert_eq!(num(&counters, "/logins"), 1, "{counters}");
    assert_eq!(num(&counters, "/logins_refused"), 1, "{counters}");
    assert_eq!(num(&counters, "/submits"), parts, "{counters}");
    assert_eq!(num(&counters, "/reports_sent"), parts, "{counters}");
    assert_eq!(num(&counters, "/deliver_resps"), parts, "{counters}");
    assert_eq!(num(&counters, "/decode_errors"), 0, "{counters}");
    assert_eq!(num(&counters, "/frame_errors"), 0, "{counters}");
}
