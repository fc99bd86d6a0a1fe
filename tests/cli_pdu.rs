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

// ---------------------------------------------------------------------------------------
// Synthetic captures: TCP reassembly, several flows, pcap and pcapng.

mod capture {
    use std::borrow::Cow;
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    use etherparse::PacketBuilder;
    use pcap_file::DataLink;
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;

    /// One TCP segment (or, with `udp`, a UDP datagram) between two endpoints.
    pub(super) struct Segment {
        pub(super) src: (IpAddr, u16),
        pub(super) dst: (IpAddr, u16),
        pub(super) seq: u32,
        pub(super) syn: bool,
        pub(super) udp: bool,
        pub(super) payload: Vec<u8>,
    }

    impl Segment {
        pub(super) fn tcp(src: (&str, u16), dst: (&str, u16), seq: u32, payload: &[u8]) -> Self {
            Self {
                src: (src.0.parse().unwrap(), src.1),
                dst: (dst.0.parse().unwrap(), dst.1),
                seq,
                syn: false,
                udp: false,
                payload: payload.to_vec(),
            }
        }

        pub(super) fn syn(mut self) -> Self {
            self.syn = true;
            self
        }

        pub(super) fn udp(mut self) -> Self {
            self.udp = true;
            self
        }

        /// The Ethernet frame.
        fn frame(&self) -> Vec<u8> {
            let ethernet = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
            let ip = match (self.src.0, self.dst.0) {
                (IpAddr::V4(src), IpAddr::V4(dst)) => ethernet.ipv4(src.octets(), dst.octets(), 64),
                (IpAddr::V6(src), IpAddr::V6(dst)) => ethernet.ipv6(src.octets(), dst.octets(), 64),
                _ => panic!("mixed address families"),
            };
            let mut frame = Vec::new();
            if self.udp {
                ip.udp(self.src.1, self.dst.1)
                    .write(&mut frame, &self.payload)
                    .unwrap();
            } else {
                let mut tcp = ip.tcp(self.src.1, self.dst.1, self.seq, 65535).ack(1);
                if self.syn {
                    tcp = tcp.syn();
                }
                tcp.write(&mut frame, &self.payload).unwrap();
            }
            frame
        }
    }

    fn path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("smppgate-cli-pdu-{}-{name}", std::process::id()))
    }

    /// Writes the segments as a libpcap file (Ethernet), frame 1 first.
    pub(super) fn write_pcap(name: &str, segments: &[Segment]) -> PathBuf {
        let path = path(name);
        let mut writer = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
        for (i, segment) in segments.iter().enumerate() {
            let data = segment.frame();
            let time = Duration::from_millis(u64::try_from(i).unwrap());
            let len = u32::try_from(data.len()).unwrap();
            writer
                .write_packet(&PcapPacket::new(time, len, &data))
                .unwrap();
        }
        path
    }

    /// Writes the segments as a pcapng file with one Ethernet interface.
    pub(super) fn write_pcapng(name: &str, segments: &[Segment]) -> PathBuf {
        let path = path(name);
        let mut writer = PcapNgWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
        let interface = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![],
        };
        writer.write_pcapng_block(interface).unwrap();
        for (i, segment) in segments.iter().enumerate() {
            let data = segment.frame();
            writer
                .write_pcapng_block(EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: Duration::from_millis(u64::try_from(i).unwrap()),
                    original_len: u32::try_from(data.len()).unwrap(),
                    data: Cow::Owned(data),
                    options: vec![],
                })
                .unwrap();
        }
        path
    }
}

fn octets(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text.split_whitespace().collect::<String>()).unwrap()
}

/// ESME A ↔ SMSC B with reordering, a retransmission, an overlap and sequence numbers
/// wrapping past 2^32; an HTTP flow; a flow with a lost segment; an IPv6 flow cut short;
/// a UDP datagram.
fn reassembly_segments() -> (Vec<capture::Segment>, Vec<u8>) {
    use capture::Segment;
    let esme = ("10.0.0.1", 40000);
    let smsc = ("10.0.0.2", 2775);
    let isn_a: u32 = 0xFFFF_FFF0; // data crosses the 2^32 wrap after 15 octets
    let isn_b: u32 = 1000;
    let mut a = octets(vector("bind_receiver"));
    a.extend(octets(vector("submit_sm_tlvs")));
    a.extend(octets(vector("enquire_link")));
    let mut b = octets(vector("bind_transceiver_resp"));
    b.extend(octets(vector("submit_sm_resp_error")));
    let b_tail = octets(vector("unbind_resp"));
    let seq_a = |offset: usize| {
        isn_a
            .wrapping_add(1)
            .wrapping_add(u32::try_from(offset).unwrap())
    };
    let seq_b = |offset: usize| isn_b + 1 + u32::try_from(offset).unwrap();
    let segments = vec![
        Segment::tcp(esme, smsc, isn_a, b"").syn(),      // 1
        Segment::tcp(smsc, esme, isn_b, b"").syn(),      // 2
        Segment::tcp(esme, smsc, seq_a(0), &a[..10]),    // 3
        Segment::tcp(esme, smsc, seq_a(50), &a[50..]),   // 4: early
        Segment::tcp(esme, smsc, seq_a(0), &a[..10]),    // 5: retransmission
        Segment::tcp(esme, smsc, seq_a(10), &a[10..50]), // 6: fills the gap
        Segment::tcp(smsc, esme, seq_b(0), &b),          // 7: two PDUs
        Segment::tcp(
            smsc,
            esme,
            seq_b(b.len() - 5),
            &[&b[b.len() - 5..], &b_tail[..]].concat(),
        ), // 8: overlap
        Segment::tcp(
            ("10.0.0.3", 50000),
            ("10.0.0.4", 80),
            7,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ), // 9
        Segment::tcp(
            ("10.0.0.5", 1234),
            smsc,
            100,
            &octets(vector("enquire_link")),
        ), // 10
        Segment::tcp(
            ("10.0.0.5", 1234),
            smsc,
            136,
            &octets(vector("unbind_resp")),
        ), // 11: 20 octets lost before
        Segment::tcp(
            ("2001:db8::1", 3000),
            ("2001:db8::2", 2775),
            5,
            &octets(vector("outbind"))[..20],
        ), // 12
        Segment::tcp(("10.0.0.7", 9), ("10.0.0.8", 9), 0, b"not tcp").udp(), // 13
    ];
    (segments, a)
}

#[test]
fn pcap_reassembly_reorders_dedups_and_reports_broken_flows() {
    let (segments, a) = reassembly_segments();
    let path = capture::write_pcap("reassembly.pcap", &segments);
    let output = smppgate(&["decode", "--pcap", path.to_str().unwrap()], "");
    assert_ok(&output);
    let lines = json_lines(&output);
    let summary: Vec<String> = lines
        .iter()
        .map(|l| {
            let what = l["command"]
                .as_str()
                .map_or_else(|| "error".to_owned(), str::to_owned);
            format!(
                "{} {} {} {}",
                l["src"].as_str().unwrap(),
                l["dst"].as_str().unwrap(),
                l["frame"],
                what
            )
        })
        .collect();
    let bind_len = octets(vector("bind_receiver")).len();
    // The submit_sm starts at offset 41 of flow A, inside segment 6 (10..50); the
    // enquire_link at 41 + 109 = 150, inside segment 4 (50..).
    assert_eq!((bind_len, a.len()), (41, 166));
    assert_eq!(
        summary,
        [
            "10.0.0.1:40000 10.0.0.2:2775 3 bind_receiver",
            "10.0.0.1:40000 10.0.0.2:2775 6 submit_sm",
            "10.0.0.1:40000 10.0.0.2:2775 4 enquire_link",
            "10.0.0.2:2775 10.0.0.1:40000 7 bind_transceiver_resp",
            "10.0.0.2:2775 10.0.0.1:40000 7 submit_sm_resp",
            "10.0.0.2:2775 10.0.0.1:40000 8 unbind_resp",
            "10.0.0.3:50000 10.0.0.4:80 9 error",
            "10.0.0.5:1234 10.0.0.2:2775 10 enquire_link",
            "10.0.0.5:1234 10.0.0.2:2775 11 error",
            "[2001:db8::1]:3000 [2001:db8::2]:2775 12 error",
        ],
        "{}",
        stdout(&output)
    );
    assert!(
        lines[6]["error"]
            .as_str()
            .unwrap()
            .contains("command_length 1195725856"),
        "{}",
        lines[6]
    );
    assert!(
        lines[8]["error"]
            .as_str()
            .unwrap()
            .contains("20 octets missing"),
        "{}",
        lines[8]
    );
    assert!(
        lines[9]["error"]
            .as_str()
            .unwrap()
            .contains("4 octets missing"),
        "{}",
        lines[9]
    );
    assert_eq!(lines[1]["short_message"], "0500030a020100480069");

    // The same capture as pcapng decodes the same.
    let path_ng = capture::write_pcapng("reassembly.pcapng", &segments);
    let output_ng = smppgate(&["decode", "--pcap", path_ng.to_str().unwrap()], "");
    assert_ok(&output_ng);
    assert_eq!(stdout(&output_ng), stdout(&output));
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path_ng);
}

#[test]
fn pcap_errors_are_one_line() {
    let output = smppgate(&["decode", "--pcap", "/nonexistent/capture.pcap"], "");
    assert_error(&output, &["/nonexistent/capture.pcap"]);
    let output = smppgate(
        &[
            "decode",
            "--pcap",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ],
        "",
    );
    assert_error(&output, &["not a pcap or pcapng file"]);
}

#[test]
fn bare_responses_stay_bare() {
    for name in [
        "deliver_sm_resp_bare",
        "bind_transmitter_resp_error",
        "data_sm_resp_error",
    ] {
        let pdu = &json_lines(&smppgate(&["decode", vector(name)], ""))[0];
        let keys: Vec<&str> = pdu
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter()
                .all(|key| key.starts_with("command") || *key == "sequence_number"),
            "{name}: {pdu}"
        );
    }
    // A deliver_sm_resp with its message_id (17 octets) keeps it.
    let pdu = &json_lines(&smppgate(&["decode", vector("deliver_sm_resp")], ""))[0];
    assert_eq!(pdu["message_id"], "");
}

#[test]
fn encode_warns_about_stale_counts_and_accepts_command_id() {
    let json = r#"{"command_id":"0x00000004","service_type":"","source_addr_ton":0,"source_addr_npi":0,
        "source_addr":"","dest_addr_ton":0,"dest_addr_npi":0,"destination_addr":"1","esm_class":0,
        "protocol_id":0,"priority_flag":0,"schedule_delivery_time":"","validity_period":"",
        "registered_delivery":0,"replace_if_present_flag":0,"data_coding":0,"sm_default_msg_id":0,
        "sm_length":9,"short_message":"6869","sequence_number":2}"#;
    let output = smppgate(&["encode", json], "");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with("warning: argument 1: sm_length 9 ignored"),
        "{}",
        stderr(&output)
    );
    let decoded = &json_lines(&smppgate(&["decode", stdout(&output).trim()], ""))[0];
    assert_eq!(decoded["command"], "submit_sm");
    assert_eq!(decoded["sm_length"], 2);
    assert_eq!(decoded["sequence_number"], 2);
}

#[test]
fn encode_refuses_what_it_cannot_send() {
    // Not Latin-1.
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"outbind","system_id":"\u0101","password":""}"#,
        ],
        "",
    );
    assert_error(&output, &["system_id", "U+0101"]);
    // Over the C-string maximum (the core's encoder says so).
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"outbind","system_id":"1234567890123456","password":""}"#,
        ],
        "",
    );
    assert_error(&output, &["system_id", "16"]);
    // command and command_id disagree.
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"unbind","command_id":"0x80000006"}"#,
        ],
        "",
    );
    assert_error(&output, &["command_id", "unbind_resp"]);
    // A bad submit_multi destination.
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"submit_multi_resp","message_id":"","unsuccess_sme":[{"dest_addr_ton":1}]}"#,
        ],
        "",
    );
    assert_error(&output, &["unsuccess_sme[0].dest_addr_npi", "missing"]);
    // An 8-bit field out of range.
    let output = smppgate(
        &[
            "encode",
            r#"{"command":"query_sm","message_id":"1","source_addr_ton":256,"source_addr_npi":0,"source_addr":""}"#,
        ],
        "",
    );
    assert_error(&output, &["source_addr_ton", "256"]);
}

// --- CMPP 2.0/3.0, SMGP 3.0, SGIP 1.2 (`--protocol`) -------------------------------------

const CHINA_VECTORS: &str = include_str!("data/china_pdu_vectors.txt");

/// (protocol, name, hex) of every CMPP/SMGP/SGIP vector.
fn china_vectors() -> Vec<(&'static str, &'static str, &'static str)> {
    CHINA_VECTORS
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split(' ');
            let (Some(protocol), Some(name), Some(hex)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("protocol name hex: {line}")
            };
            (protocol, name, hex)
        })
        .collect()
}

fn china_vector(name: &str) -> (&'static str, &'static str) {
    china_vectors()
        .into_iter()
        .find(|(_, n, _)| *n == name)
        .map(|(protocol, _, hex)| (protocol, hex))
        .unwrap_or_else(|| panic!("no vector {name}"))
}

#[test]
fn china_protocols_decode_then_encode_byte_exact() {
    let vectors = china_vectors();
    for protocol in ["cmpp2", "cmpp3", "smgp", "sgip"] {
        let mine: Vec<_> = vectors.iter().filter(|(p, _, _)| *p == protocol).collect();
        assert!(mine.len() >= 8, "{protocol}: {} vectors", mine.len());
        let all: String = mine.iter().map(|(_, _, hex)| *hex).collect();
        let decoded = smppgate(&["decode", "--protocol", protocol], &all);
        assert_ok(&decoded);
        let lines = json_lines(&decoded);
        assert_eq!(lines.len(), mine.len(), "{protocol}");
        for (line, (_, name, _)) in lines.iter().zip(&mine) {
            assert_eq!(line["protocol"], *protocol, "{name}");
            assert!(
                name.ends_with(line["command"].as_str().unwrap()),
                "{name}: {line}"
            );
        }
        let encoded = smppgate(&["encode", "--protocol", protocol], &stdout(&decoded));
        assert_ok(&encoded);
        let hex_lines: Vec<String> = stdout(&encoded).lines().map(str::to_owned).collect();
        for (hex, (_, name, want)) in hex_lines.iter().zip(&mine) {
            assert_eq!(hex, want, "{protocol} {name}");
        }
    }
}

#[test]
fn cmpp_fields_msg_id_text_and_status_report() {
    let (protocol, hex) = china_vector("gocmpp9_submit");
    let submit = &json_lines(&smppgate(&["decode", "--protocol", protocol, hex], ""))[0];
    assert_eq!(submit["command_name"], "CMPP_SUBMIT");
    assert_eq!(submit["total_length"], 189);
    assert_eq!(submit["dest_terminal_ids"][0], "13500002696");
    assert_eq!(submit["msg_fmt"], 8);
    assert_eq!(submit["text"], "测试gocmpp submit");

    let (protocol, hex) = china_vector("hand3_submit");
    let long = &json_lines(&smppgate(&["decode", "--protocol", protocol, hex], ""))[0];
    assert_eq!(long["udh"], "050003a70201");
    assert_eq!(long["text"], "测试长短信");
    assert_eq!(
        (long["pk_total"].as_u64(), long["pk_number"].as_u64()),
        (Some(2), Some(1))
    );

    let (protocol, hex) = china_vector("hand6_deliver");
    let report = &json_lines(&smppgate(&["decode", "--protocol", protocol, hex], ""))[0];
    assert_eq!(report["registered_delivery"], 1);
    assert_eq!(report["report"]["stat"], "DELIVRD");
    assert_eq!(report["report"]["msg_id"], 0xb2b9_da80_0001_0000_u64);
    assert_eq!(
        report["report"]["msg_id_parts"],
        "1105 14:29:42 gateway 1 sequence 0"
    );
    assert_eq!(report["report"]["dest_terminal_id"], "13800138000");

    // The same 2.0 report read as 3.0 is cut short: one error line, not a panic.
    let (_, v2) = china_vector("hand7_deliver");
    assert_error(
        &smppgate(&["decode", "--protocol", "cmpp3", v2], ""),
        &["CMPP 3.0", "packet ends inside"],
    );
}

#[test]
fn smgp_and_sgip_fields() {
    let (_, hex) = china_vector("hand5_deliver");
    let report = &json_lines(&smppgate(&["decode", "--protocol", "smgp", hex], ""))[0];
    assert_eq!(report["is_report"], 1);
    assert_eq!(report["msg_id"], "59012312060720000001");
    assert_eq!(report["report"]["id"], "59012312060719000042");
    assert_eq!(report["report"]["stat"], "DELIVRD");
    assert_eq!(report["report"]["err"], "000");
    let (_, hex) = china_vector("hand2_submit");
    let submit = &json_lines(&smppgate(&["decode", "--protocol", "smgp", hex], ""))[0];
    assert_eq!(
        submit["tlv_names"],
        serde_json::json!(["TP_udhi", "PkTotal", "PkNumber", "LinkID"])
    );
    assert_eq!(submit["text"], "测试");
    let (_, hex) = china_vector("hand4_report");
    let report = &json_lines(&smppgate(&["decode", "--protocol", "sgip", hex], ""))[0];
    assert_eq!(report["submit_sequence_text"], "3020012345-1206071900-1");
    assert_eq!(report["state"], 2);
    let (_, hex) = china_vector("hand6_bind");
    let bind = &json_lines(&smppgate(&["decode", "--protocol", "sgip", hex], ""))[0];
    assert_eq!(
        (bind["login_type"].as_u64(), bind["login_name"].as_str()),
        (Some(2), Some("sp"))
    );
}

#[test]
fn china_encode_defaults_sequence_and_names_missing_fields() {
    let unbind = smppgate(
        &["encode", "--protocol", "sgip", r#"{"command":"unbind"}"#],
        "",
    );
    assert_ok(&unbind);
    assert_eq!(
        stdout(&unbind).trim(),
        "0000001400000002000000000000000000000001"
    );
    let active = smppgate(
        &[
            "encode",
            "--protocol",
            "cmpp3",
            r#"{"command":"active_test"}"#,
        ],
        "",
    );
    assert_eq!(stdout(&active).trim(), "0000000c0000000800000001");
    assert_error(
        &smppgate(
            &[
                "encode",
                "--protocol",
                "smgp",
                r#"{"command":"submit","sequence_id":2}"#,
            ],
            "",
        ),
        &["argument 1", "missing field `msg_type`"],
    );
    assert_error(
        &smppgate(
            &["encode", "--protocol", "cmpp2", r#"{"sequence_id":2}"#],
            "",
        ),
        &["missing field `command`"],
    );
    // A 3.0 Result does not fit CMPP 2.0's one octet.
    assert_error(
        &smppgate(
            &[
                "encode",
                "--protocol",
                "cmpp2",
                r#"{"command":"submit_resp","msg_id":1,"result":300}"#,
            ],
            "",
        ),
        &["`Result` = 300 does not fit 1 octet"],
    );
}

#[test]
fn china_stream_errors_and_framing() {
    // An unknown command between two good packets: an error line, then decoding goes on.
    let input = "0000000c00000008000000010000000c00000003000000020000000c0000000800000003";
    let output = smppgate(&["decode", "--protocol", "cmpp3", "--stream", input], "");
    assert_ok(&output);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("unknown command id"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["sequence_id"], 3);
    // Without --stream the same input stops at the bad packet.
    assert_error(
        &smppgate(&["decode", "--protocol", "cmpp3", input], ""),
        &["input offset 12", "unknown command id"],
    );
    // A length below SGIP's 20-octet header cannot be framed.
    assert_error(
        &smppgate(
            &["decode", "--protocol", "sgip", "0000000c0000000200000001"],
            "",
        ),
        &["framing error", "below the 20-octet header"],
    );
    // A cut packet says so.
    assert_error(
        &smppgate(&["decode", "--protocol", "smgp", "0000002a00000001"], ""),
        &["truncated packet"],
    );
    // --pcap reads SMPP only.
    let output = smppgate(&["decode", "--protocol", "cmpp3", "--pcap", "x.pcap"], "");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}
