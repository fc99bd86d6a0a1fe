//! smppgate's ESME side (`smppgate send` and the library's `EsmeClient`) against an SMSC
//! written with the npm `smpp` package (`tests/peers/node_server.js`).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, SubmitSm};
use smppgate_protocol::session::CloseReason;
use smppgate_protocol::types::Address;
use support::{NodeServer, Proc, num, smppgate};

/// 150 Chinese characters: three UCS-2 parts of at most 67 characters.
fn chinese_150() -> String {
    "中文长短信互通测试，网关发送。"
        .chars()
        .cycle()
        .take(150)
        .collect()
}

#[test]
fn send_long_ucs2_with_receipts_to_node_smsc() {
    let server = NodeServer::start(&[]);
    let text = chinese_150();
    let mut send = smppgate();
    send.args([
        "send",
        "--connect",
        &server.addr.to_string(),
        "--system-id",
        "sendesme",
        "--password",
        "pw",
        "--from",
        "15550001",
        "--to",
        "15550002",
        "--text",
        &text,
        "--coding",
        "ucs2",
        "--receipt",
        "--timeout",
        "10s",
    ]);
    let out = Proc::spawn("smppgate send", send).finish(Duration::from_secs(20));
    let summary = server.stop();
    let sent = out.success_json();

    // What `smppgate send` saw.
    assert_eq!(sent["ok"], true, "{sent}");
    let parts = sent["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 3, "{sent}");
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part["part"], i + 1, "{part}");
        assert_eq!(part["status"], 0, "{part}");
        assert_eq!(part["status_name"], "ESME_ROK", "{part}");
        assert!(
            part["message_id"]
                .as_str()
                .is_some_and(|id| id.starts_with('n'))
        );
        assert_eq!(
            part["receipt"],
            json!({"stat": "DELIVRD", "err": "000"}),
            "{part}"
        );
    }
    assert_eq!(num(&sent, "/receipts_expected"), 3, "{sent}");
    assert_eq!(num(&sent, "/receipts_received"), 3, "{sent}");

    // What the node SMSC saw.
    assert_eq!(
        summary["binds"],
        json!([{"command": "bind_transceiver", "system_id": "sendesme", "status": 0}]),
        "{summary}"
    );
    let submits = summary["submits"].as_array().expect("submits");
    assert_eq!(submits.len(), 3, "{summary}");
    for (i, s) in submits.iter().enumerate() {
        assert_eq!(s["data_coding"], 8, "{s}");
        assert_eq!(s["esm_class"], 0x40, "{s}");
        assert_eq!(s["registered_delivery"], 1, "{s}");
        assert_eq!(s["source_addr"], "15550001", "{s}");
        assert_eq!(s["destination_addr"], "15550002", "{s}");
        assert_eq!(s["concat"]["total"], 3, "{s}");
        assert_eq!(s["concat"]["seq"], i + 1, "{s}");
        // The ids the node SMSC gave are the ones `send` reports, in part order.
        assert_eq!(s["message_id"], parts[i]["message_id"], "{s}");
    }
    assert_eq!(
        summary["messages"],
        json!([{"parts": 3, "data_coding": 8, "text": text}]),
        "reassembled text: {summary}"
    );
    assert_eq!(num(&summary, "/receipts_sent"), 3, "{summary}");
    let resps = summary["receipt_resps"].as_array().expect("receipt_resps");
    assert_eq!(resps.len(), 3, "{summary}");
    for r in resps {
        assert_eq!(r["command"], "deliver_sm_resp", "{r}");
        assert_eq!(r["status"], 0, "{r}");
    }
    assert_eq!(num(&summary, "/unbinds"), 1, "{summary}");
    assert_eq!(summary["errors"], json!([]), "{summary}");
}

#[test]
fn send_gsm_short_message_without_receipt_to_node_smsc() {
    let server = NodeServer::start(&[]);
    let mut send = smppgate();
    send.args([
        "send",
        "--connect",
        &server.addr.to_string(),
        "--system-id",
        "sendesme",
        "--password",
        "pw",
        "--bind",
        "tx",
        "--from",
        "Gateway",
        "--to",
        "+15550002",
        "--text",
        "Hello from smppgate",
        "--timeout",
        "10s",
    ]);
    let out = Proc::spawn("smppgate send", send).finish(Duration::from_secs(20));
    let summary = server.stop();
    let sent = out.success_json();
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(sent["parts"][0]["status"], 0, "{sent}");
    assert_eq!(sent["parts"][0]["message_id"], "n1", "{sent}");
    assert_eq!(sent["parts"][0]["receipt"], Value::Null, "{sent}");
    assert_eq!(num(&sent, "/receipts_expected"), 0, "{sent}");
    assert_eq!(
        summary["binds"][0]["command"], "bind_transmitter",
        "{summary}"
    );
    assert_eq!(
        summary["messages"],
        json!([{"parts": 1, "data_coding": 0, "text": "Hello from smppgate"}]),
        "{summary}"
    );
    assert_eq!(summary["submits"][0]["registered_delivery"], 0, "{summary}");
    assert_eq!(summary["submits"][0]["source_addr"], "Gateway", "{summary}");
    assert_eq!(
        summary["submits"][0]["destination_addr"], "15550002",
        "{summary}"
    );
    assert_eq!(num(&summary, "/receipts_sent"), 0, "{summary}");
    assert_eq!(num(&summary, "/unbinds"), 1, "{summary}");
    assert_eq!(summary["errors"], json!([]), "{summary}");
}

#[tokio::test]
async fn library_esme_submits_and_answers_an_mo_deliver_sm() {
    let server = NodeServer::start(&["--mo", "MO hello from node"]);
    let mut config = EsmeConfig::new("libesme", "pw");
    config.auto_respond = false;
    let (client, mut inbound) = EsmeClient::connect(&server.addr.to_string(), config)
        .await
        .expect("bind to the node SMSC");
    assert_eq!(&client.bound().system_id[..], b"nodesmsc");

    let response = tokio::time::timeout(
        Duration::from_secs(10),
        client.submit(SubmitSm {
            source_addr: Address::international("15550001"),
            destination_addr: Address::international("15550002"),
            short_message: "library submit".into(),
            ..SubmitSm::default()
        }),
    )
    .await
    .expect("submit_sm_resp in time")
    .expect("submit_sm answered");
    assert_eq!(response.status(), CommandStatus::ESME_ROK);
    assert_eq!(response.message_id().map(|id| &id[..]), Some(&b"n1"[..]));

    let mo = tokio::time::timeout(Duration::from_secs(10), inbound.recv())
        .await
        .expect("MO deliver_sm in time")
        .expect("inbound open");
    assert!(mo.needs_response(), "auto_respond is off");
    let Body::DeliverSm(deliver) = &mo.pdu.body else {
        panic!("expected deliver_sm, got {:?}", mo.pdu);
    };
    assert_eq!(&deliver.short_message[..], b"MO hello from node");
    assert_eq!(&deliver.source_addr.addr[..], b"15550009");
    assert!(!deliver.esm_class.is_delivery_receipt());
    mo.respond(CommandStatus::ESME_ROK, None).await;

    let reason = tokio::time::timeout(Duration::from_secs(10), client.unbind())
        .await
        .expect("unbind in time");
    let summary = tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("stop the node SMSC");
    assert_eq!(reason, CloseReason::Unbound);

    assert_eq!(
        summary["binds"],
        json!([{"command": "bind_transceiver", "system_id": "libesme", "status": 0}]),
        "{summary}"
    );
    assert_eq!(
        summary["messages"],
        json!([{"parts": 1, "data_coding": 0, "text": "library submit"}]),
        "{summary}"
    );
    assert_eq!(num(&summary, "/mo_sent"), 1, "{summary}");
    assert_eq!(
        summary["mo_resps"],
        json!([{"command": "deliver_sm_resp", "status": 0}]),
        "{summary}"
    );
    assert_eq!(num(&summary, "/unbinds"), 1, "{summary}");
    assert_eq!(summary["errors"], json!([]), "{summary}");
}

/// `smppgate send ... --method METHOD` with a 150-character Chinese text, as JSON.
fn send_chinese(server: &NodeServer, method: &str, text: &str) -> Value {
    let mut send = smppgate();
    send.args([
        "send",
        "--connect",
        &server.addr.to_string(),
        "--system-id",
        "sendesme",
        "--password",
        "pw",
        "--from",
        "15550001",
        "--to",
        "15550002",
        "--text",
        text,
        "--method",
        method,
        "--timeout",
        "10s",
    ]);
    Proc::spawn(&format!("smppgate send --method {method}"), send)
        .finish(Duration::from_secs(20))
        .success_json()
}

#[test]
fn send_sar_udh16_and_payload_methods_reassemble_on_node_smsc() {
    let server = NodeServer::start(&[]);
    let text = chinese_150();
    let sar = send_chinese(&server, "sar", &text);
    let udh16 = send_chinese(&server, "udh16", &text);
    let payload = send_chinese(&server, "payload", &text);
    let summary = server.stop();
    assert_eq!(sar["parts"].as_array().map(Vec::len), Some(3), "{sar}");
    assert_eq!(udh16["parts"].as_array().map(Vec::len), Some(3), "{udh16}");
    assert_eq!(
        payload["parts"].as_array().map(Vec::len),
        Some(1),
        "{payload}"
    );
    for doc in [&sar, &udh16, &payload] {
        assert_eq!(doc["ok"], true, "{doc}");
    }

    let submits = summary["submits"].as_array().expect("submits");
    assert_eq!(submits.len(), 7, "{summary}");
    // SAR: TLVs, no UDH, esm_class 0.
    for s in &submits[..3] {
        assert_eq!(s["esm_class"], 0, "{s}");
        assert_eq!(s["udh_ies"], json!([]), "{s}");
        assert_eq!(s["concat"]["total"], 3, "{s}");
    }
    // 16-bit reference UDH (IE 0x08, length 4).
    for (i, s) in submits[3..6].iter().enumerate() {
        assert_eq!(s["esm_class"], 0x40, "{s}");
        let ie = s["udh_ies"][0].as_str().expect("one UDH IE");
        assert!(ie.starts_with("0804"), "{s}");
        assert!(ie.ends_with(&format!("03{:02x}", i + 1)), "{s}");
    }
    // message_payload: one PDU, no concatenation.
    assert!(submits[6]["concat"].is_null(), "{}", submits[6]);
    let expected = json!({"parts": 3, "data_coding": 8, "text": text});
    assert_eq!(
        summary["messages"],
        json!([
            expected,
            expected,
            {"parts": 1, "data_coding": 8, "text": text},
        ]),
        "{summary}"
    );
    assert_eq!(num(&summary, "/unbinds"), 3, "{summary}");
    assert_eq!(summary["errors"], json!([]), "{summary}");
}

#[test]
fn send_with_a_wrong_password_fails_with_rinvpaswd() {
    let server = NodeServer::start(&["--password", "right"]);
    let mut send = smppgate();
    send.args([
        "send",
        "--connect",
        &server.addr.to_string(),
        "--system-id",
        "sendesme",
        "--password",
        "wrong",
        "--from",
        "15550001",
        "--to",
        "15550002",
        "--text",
        "never sent",
    ]);
    let out = Proc::spawn("smppgate send", send).finish(Duration::from_secs(20));
    let summary = server.stop();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("error: ") && out.stderr.contains("ESME_RINVPASWD"),
        "{out:?}"
    );
    assert_eq!(
        summary["binds"],
        json!([{"command": "bind_transceiver", "system_id": "sendesme", "status": 0x0E}]),
        "{summary}"
    );
    assert_eq!(summary["submits"], json!([]), "{summary}");
}
