//! End-to-end tests of `smppgate pdu` (decode / encode / --pcap), running the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/smpp-captures/smpp_in_general.pcap"
);
const VECTORS: &str = include_str!("data/pdu_vectors.txt");

/// Runs `smppgate pdu <args>` with `stdin` and returns its output.
fn smppgate(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppgate"))
        .arg("pdu")
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start smppgate");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("run smppgate")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Succeeds with exit 0 and an empty stderr.
fn assert_ok(output: &Output) {
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

/// Fails with exit 1 and exactly one stderr line starting `error:` that contains every
/// `needle`; never a panic or a backtrace. Returns the line.
fn assert_error(output: &Output, needles: &[&str]) -> String {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        stdout(output)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line, got: {err}");
    assert!(lines[0].starts_with("error:"), "{err}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in {err}");
    }
    assert!(
        !err.contains("panicked") && !err.to_lowercase().contains("backtrace"),
        "{err}"
    );
    lines[0].to_owned()
}

fn vectors() -> Vec<(&'static str, &'static str)> {
    VECTORS
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.split_once(' ').expect("name hex"))
        .collect()
}

fn vector(name: &str) -> &'static str {
    vectors()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .1
}

#[test]
fn pcap_capture_decodes_eight_pdus_with_addresses() {
    let output = smppgate(&["decode", "--pcap", CAPTURE], "");
    assert_ok(&output);
    let pdus = json_lines(&output);
    let commands: Vec<&str> = pdus
        .iter()
        .map(|p| p["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "bind_transmitter",
            "bind_transmitter_resp",
            "enquire_link",
            "enquire_link_resp",
            "submit_sm",
            "submit_sm_resp",
            "unbind",
            "unbind_resp"
        ]
    );
    let esme = "10.226.202.118:1770";
    let smsc = "10.226.202.53:9000";
    for (i, pdu) in pdus.iter().enumerate() {
        let (src, dst) = if i % 2 == 0 {
            (esme, smsc)
        } else {
            (smsc, esme)
        };
        assert_eq!(pdu["src"], src, "{pdu}");
        assert_eq!(pdu["dst"], dst, "{pdu}");
        assert!(
            pdu["frame"].as_u64().is_some_and(|f| (1..=17).contains(&f)),
            "{pdu}"
        );
        assert_eq!(pdu["command_status"], 0);
        assert_eq!(pdu["command_status_name"], "ESME_ROK");
    }
    let bind = &pdus[0];
    assert_eq!(bind["command_id"], "0x00000002");
    assert_eq!(bind["system_id"], "abhik");
    assert_eq!(bind["password"], "password");
    assert_eq!(bind["system_type"], "SMPP");
    assert_eq!(bind["interface_version"], 1);
    assert_eq!(pdus[1]["system_id"], "SMSC");
    assert_eq!(pdus[1]["command_id"], "0x80000002");
    let submit = &pdus[4];
    assert_eq!(submit["source_addr"], "100");
    assert_eq!(submit["destination_addr"], "1234567890");
    assert_eq!(submit["short_message"], hex::encode("test"));
    assert_eq!(submit["sm_length"], 4);
    assert_eq!(pdus[5]["message_id"], "47c8c77a");
    assert_eq!(pdus[5]["sequence_number"], submit["sequence_number"]);
    // Frames are in capture order within each direction.
    assert!(pdus[0]["frame"].as_u64() < pdus[2]["frame"].as_u64());
}

#[test]
fn pcap_output_encodes_back_to_the_wire_bytes() {
    let decoded = smppgate(&["decode", "--pcap", CAPTURE], "");
    assert_ok(&decoded);
    let encoded = smppgate(&["encode"], &stdout(&decoded));
    assert_ok(&encoded);
    let hex_lines: Vec<String> = stdout(&encoded).lines().map(str::to_owned).collect();
    assert_eq!(hex_lines.len(), 8);
    // Each re-encoded PDU decodes to the same JSON (minus the capture-only keys).
    for (hex_line, original) in hex_lines.iter().zip(json_lines(&decoded)) {
        let again = smppgate(&["decode", hex_line], "");
        assert_ok(&again);
        let mut original = original.as_object().unwrap().clone();
        for key in ["src", "dst", "frame"] {
            original.remove(key);
        }
        assert_eq!(json_lines(&again)[0], Value::Object(original));
    }
}

#[test]
fn decode_then_encode_is_byte_exact_for_every_vector() {
    for (name, hex) in vectors() {
        let decoded = smppgate(&["decode", hex], "");
        assert_ok(&decoded);
        let lines = json_lines(&decoded);
        assert_eq!(lines.len(), 1, "{name}");
        let length = u64::try_from(hex.len() / 2).unwrap();
        assert_eq!(lines[0]["command_length"], length, "{name}");
        let encoded = smppgate(&["encode"], &stdout(&decoded));
        assert_ok(&encoded);
        assert_eq!(
            stdout(&encoded).trim_end(),
            hex,
            "{name}: {}",
            stdout(&decoded)
        );
    }
}

#[test]
fn all_vectors_in_one_buffer_from_stdin() {
    let all: Vec<&str> = vectors().into_iter().map(|(_, hex)| hex).collect();
    // Spaces and newlines in the hex are ignored.
    let decoded = smppgate(&["decode"], &all.join("\n "));
    assert_ok(&decoded);
    assert_eq!(json_lines(&decoded).len(), all.len());
    let encoded = smppgate(&["encode"], &stdout(&decoded));
    assert_ok(&encoded);
    assert_eq!(stdout(&encoded), all.join("\n") + "\n");
}

#[test]
fn submit_sm_fields_and_tlvs() {
    let pdu = &json_lines(&smppgate(&["decode", vector("submit_sm_tlvs")], ""))[0];
    assert_eq!(pdu["command"], "submit_sm");
    assert_eq!(pdu["command_id"], "0x00000004");
    assert_eq!(pdu["sequence_number"], 0x11);
    assert_eq!(pdu["service_type"], "CMT");
    assert_eq!(pdu["source_addr_ton"], 1);
    assert_eq!(pdu["esm_class"], 0x40);
    assert_eq!(pdu["schedule_delivery_time"], "");
    assert_eq!(pdu["validity_period"], "000001000000000R");
    assert_eq!(pdu["data_coding"], 8);
    assert_eq!(pdu["short_message"], "0500030a020100480069");
    let tlvs = pdu["tlvs"].as_array().unwrap();
    let tags: Vec<(&str, &str, &str)> = tlvs
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap(),
                t["name"].as_str().unwrap(),
                t["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tags,
        [
            ("0x020a", "source_port", "04d2"),
            ("0x1403", "unknown", "010203"),
            ("0x0204", "user_message_reference", "0007"),
            ("0x130c", "alert_on_message_delivery", ""),
        ]
    );
}

#[test]
fn latin1_strings_and_structured_bodies() {
    let deliver = &json_lines(&smppgate(&["decode", vector("deliver_sm_receipt")], ""))[0];
    assert_eq!(deliver["source_addr"], "Caf\u{e9}");
    assert_eq!(deliver["esm_class"], 4);
    assert_eq!(deliver["tlvs"][0]["name"], "receipted_message_id");
    assert_eq!(deliver["tlvs"][0]["value"], hex::encode("12345\0"));

    let multi = &json_lines(&smppgate(&["decode", vector("submit_multi_dl")], ""))[0];
    assert_eq!(multi["number_of_dests"], 2);
    let dests = multi["dest_address"]
        .as_array()
        .expect("dest_address array");
    assert_eq!(dests[0]["dest_flag"], 1);
    assert_eq!(dests[0]["destination_addr"], "447700900003");
    assert_eq!(dests[1]["dest_flag"], 2);
    assert_eq!(dests[1]["dl_name"], "friends");

    let resp = &json_lines(&smppgate(&["decode", vector("submit_multi_resp")], ""))[0];
    assert_eq!(resp["no_unsuccess"], 1);
    assert_eq!(resp["unsuccess_sme"][0]["error_status_code"], 0x0b);

    let nack = &json_lines(&smppgate(&["decode", vector("generic_nack")], ""))[0];
    assert_eq!(nack["command_status"], 3);
    assert_eq!(nack["command_status_name"], "ESME_RINVCMDID");

    let error = &json_lines(&smppgate(&["decode", vector("submit_sm_resp_error")], ""))[0];
    assert_eq!(error["command_status"], 0x45);
    assert_eq!(error["command_length"], 16);
    assert!(
        error.get("message_id").is_none_or(Value::is_null),
        "{error}"
    );

    let bind = &json_lines(&smppgate(&["decode", vector("bind_transceiver_resp")], ""))[0];
    assert_eq!(bind["tlvs"][0]["name"], "sc_interface_version");
    assert_eq!(bind["tlvs"][0]["value"], "34");
}

#[test]
fn unknown_status_has_null_name() {
    let pdu = &json_lines(&smppgate(
        &["decode", "00000010 80000015 00000499 00000001"],
        "",
    ))[0];
    assert_eq!(pdu["command_status"], 0x499);
    assert!(pdu["command_status_name"].is_null(), "{pdu}");
}

#[test]
fn stream_reports_unknown_command_and_goes_on() {
    let input = format!(
        "00000014 00000111 00000000 00000007 deadbeef {}",
        vector("enquire_link")
    );
    let output = smppgate(&["decode", "--stream", &input], "");
    assert_ok(&output);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2, "{}", stdout(&output));
    assert!(
        lines[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["command_id"], "0x00000111");
    assert_eq!(lines[0]["sequence_number"], 7);
    assert_eq!(lines[1]["command"], "enquire_link");
}

#[test]
fn stream_reports_bad_body_and_goes_on() {
    // submit_sm whose service_type has no NUL within command_length, then a good PDU.
    let input = format!(
        "00000014 00000004 00000000 00000009 41424344 {}",
        vector("unbind_resp")
    );
    let output = smppgate(&["decode", "--stream", &input], "");
    assert_ok(&output);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0]["error"].as_str().unwrap().contains("service_type"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["sequence_number"], 9);
    assert_eq!(lines[1]["command"], "unbind_resp");
}

#[test]
fn stream_framing_errors_stop() {
    let output = smppgate(
        &["decode", "--stream", "00000008 00000015 00000000 00000001"],
        "",
    );
    assert_error(&output, &["command_length"]);
    let output = smppgate(
        &["decode", "--stream", "7fffffff 00000015 00000000 00000001"],
        "",
    );
    assert_error(&output, &["command_length"]);
}

#[test]
fn truncated_final_frame_says_how_much_is_missing() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["decode", "00000014 00000015 00000000 00000001"],
            "4 octets missing",
        ),
        (
            &["decode", "--stream", "0000001400000015"],
            "12 octets missing",
        ),
        // A good PDU, then 3 stray octets: not even a command_length.
        (
            &[
                "decode",
                "--stream",
                "00000010000000150000000000000001 000000",
            ],
            "at least 13 octets missing",
        ),
    ];
    for (args, missing) in cases {
        let output = smppgate(args, "");
        assert_error(&output, &[missing]);
    }
}

#[test]
fn malformed_input_without_stream_is_one_error_line() {
    // C-string without its NUL: bind_transmitter's system_id runs to the end of the PDU.
    let output = smppgate(
        &["decode", "00000014 00000002 00000000 00000001 61626364"],
        "",
    );
    assert_error(&output, &["system_id", "offset 16"]);
    // sm_length 200 with 2 octets left.
    let body = "00 0101 3100 0101 3200 00 00 00 00 00 01 00 00 00 c8 6869";
    let length = 16 + body.split_whitespace().map(|s| s.len() / 2).sum::<usize>();
    let output = smppgate(
        &[
            "decode",
            &format!("{length:08x} 00000004 00000000 00000001 {body}"),
        ],
        "",
    );
    assert_error(&output, &["short_message", "offset 35"]);
    // Unknown command_id is an error without --stream.
    let output = smppgate(&["decode", "00000010 00000111 00000000 00000001"], "");
    assert_error(&output, &["0x00000111"]);
    // Invalid hex names the position.
    let output = smppgate(&["decode", "0000 0010 zz"], "");
    assert_error(&output, &["character 11"]);
    let output = smppgate(&["decode"], "00000010\n0000001x");
    assert_error(&output, &["line 2, column 8"]);
    let output = smppgate(&["decode", "000"], "");
    assert_error(&output, &["odd"]);
}

#[test]
fn encode_names_missing_and_invalid_fields() {
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"bind_transmitter","sequence_number":1,"system_id":"a"}"#,
        ],
        "",
    );
    assert_error(&output, &["password"]);
    let output = smppgate(&["encode", r#"{"sequence_number":1}"#], "");
    assert_error(&output, &["command"]);
    let output = smppgate(&["encode", r#"{"command":"no_such_thing"}"#], "");
    assert_error(&output, &["no_such_thing"]);
    let output = smppgate(
        &["encode"],
        "{\"command\":\"enquire_link\"}\n{\"command\":\"submit_sm_resp\",\"message_id\":7}\n",
    );
    assert_error(&output, &["message_id"]);
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"submit_sm_resp","message_id":"x","tlvs":[{"tag":"0x1403","value":"0g"}]}"#,
        ],
        "",
    );
    assert_error(&output, &["tlvs"]);
    let output = smppgate(&["encode", "{not json"], "");
    assert_error(&output, &["JSON"]);
}

#[test]
fn encode_defaults_and_ignores_command_length() {
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"enquire_link","command_length":99}"#,
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "00000010000000150000000000000001\n");
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"generic_nack","command_status":3,"sequence_number":5}"#,
        ],
        "",
    );
    assert_ok(&output);
    assert_eq!(stdout(&output), "00000010800000000000000300000005\n");
}

#[test]
fn help_has_examples() {
    for args in [
        &["--help"][..],
        &["decode", "--help"],
        &["encode", "--help"],
    ] {
        let output = smppgate(args, "");
        assert_ok(&output);
        assert!(stdout(&output).contains("Examples:"), "{}", stdout(&output));
    }
}
