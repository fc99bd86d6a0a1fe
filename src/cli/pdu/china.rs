//! `smppgate pdu decode|encode --protocol cmpp2|cmpp3|smgp|sgip`: the Chinese carrier
//! protocols through the same JSON-lines interface as SMPP.
//!
//! The JSON of a packet is its serde form from the protocol crate (spec field names in
//! wire order; fixed-width text fields as Latin-1 strings without their 0x00 padding;
//! message bodies and authenticators as hex), after a header of `protocol`, `command_id`,
//! `command_name` and `total_length`. Decode adds read-only helpers that encode ignores:
//! `msg_id_parts` (the CMPP Msg_Id taken apart, the SMGP MsgID's gateway/time/sequence),
//! `sequence_text` (SGIP), `text` (the message in its Msg_Fmt, after any UDH, shown as
//! `udh`) and `report` (a status report carried in a DELIVER).

use std::fmt::Debug;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::BytesMut;
use clap::ValueEnum;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use smppgate_protocol::china::text::decode_text;
use smppgate_protocol::china::{DecodeError, Decoded, EncodeError};
use smppgate_protocol::{cmpp, sgip, smgp};

/// Which protocol `pdu decode`/`encode` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Protocol {
    /// SMPP 3.4.
    #[default]
    Smpp,
    /// CMPP 2.0 (China Mobile).
    Cmpp2,
    /// CMPP 3.0 (China Mobile).
    Cmpp3,
    /// SMGP 3.0 (China Telecom).
    Smgp,
    /// SGIP 1.2 (China Unicom).
    Sgip,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Self::Smpp => "smpp",
            Self::Cmpp2 => "cmpp2",
            Self::Cmpp3 => "cmpp3",
            Self::Smgp => "smgp",
            Self::Sgip => "sgip",
        }
    }
}

/// What the CLI needs of each codec.
trait Codec {
    type Pdu: Serialize + DeserializeOwned;
    type Sequence: Debug;
    fn next(&mut self, buf: &mut BytesMut) -> Decoded<Self::Pdu, Self::Sequence>;
    fn encode(&self, pdu: &Self::Pdu, out: &mut BytesMut) -> Result<(), EncodeError>;
    /// (command_id, spec name).
    fn command(pdu: &Self::Pdu) -> (u32, &'static str);
    /// Decode-only helpers.
    fn extras(&self, pdu: &Self::Pdu, out: &mut Map<String, Value>);
    /// The header sequence a JSON object may omit.
    fn default_sequence() -> (&'static str, Value);
}

/// The message text after any UDH, and the UDH, for a body with this format and udhi.
fn text_extras(format: u8, udhi: u8, content: &[u8], out: &mut Map<String, Value>) {
    let mut body = content;
    if udhi != 0 {
        let Some(&udh_len) = content.first() else {
            return;
        };
        let Some(udh) = content.get(..=usize::from(udh_len)) else {
            return;
        };
        out.insert("udh".into(), Value::String(hex::encode(udh)));
        body = &content[udh.len()..];
    }
    if let Some(text) = decode_text(format, body) {
        out.insert("text".into(), Value::String(text));
    }
}

fn latin1(octets: &[u8]) -> Value {
    Value::String(octets.iter().copied().map(char::from).collect())
}

struct Cmpp(cmpp::FrameDecoder, cmpp::Version);

impl Cmpp {
    const fn new(version: cmpp::Version) -> Self {
        Self(cmpp::FrameDecoder::new(version), version)
    }

    fn msg_id(id: u64) -> Value {
        Value::String(cmpp::MsgId::from_u64(id).to_string())
    }
}

impl Codec for Cmpp {
    type Pdu = cmpp::Pdu;
    type Sequence = u32;

    fn next(&mut self, buf: &mut BytesMut) -> Decoded<cmpp::Pdu, u32> {
        self.0.decode(buf)
    }

    fn encode(&self, pdu: &cmpp::Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
        cmpp::encode(pdu, self.1, out)
    }

    fn command(pdu: &cmpp::Pdu) -> (u32, &'static str) {
        let command = pdu.body.command_id();
        (command.to_u32(), command.name())
    }

    fn extras(&self, pdu: &cmpp::Pdu, out: &mut Map<String, Value>) {
        use cmpp::Body;
        match &pdu.body {
            Body::SubmitResp(cmpp::SubmitResp { msg_id, .. })
            | Body::DeliverResp(cmpp::DeliverResp { msg_id, .. })
            | Body::Cancel(cmpp::Cancel { msg_id }) => {
                out.insert("msg_id_parts".into(), Self::msg_id(*msg_id));
            }
            Body::Submit(s) => text_extras(s.msg_fmt, s.tp_udhi, &s.msg_content, out),
            Body::Deliver(d) => {
                out.insert("msg_id_parts".into(), Self::msg_id(d.msg_id));
                if d.registered_delivery == 1 {
                    if let Ok(r) = cmpp::StatusReport::parse(&d.msg_content, self.1) {
                        out.insert(
                            "report".into(),
                            json!({
                                "msg_id": r.msg_id,
                                "msg_id_parts": Self::msg_id(r.msg_id),
                                "stat": latin1(&r.stat),
                                "submit_time": latin1(&r.submit_time),
                                "done_time": latin1(&r.done_time),
                                "dest_terminal_id": latin1(&r.dest_terminal_id),
                                "smsc_sequence": r.smsc_sequence,
                            }),
                        );
                    }
                } else {
                    text_extras(d.msg_fmt, d.tp_udhi, &d.msg_content, out);
                }
            }
            _ => {}
        }
    }

    fn default_sequence() -> (&'static str, Value) {
        ("sequence_id", json!(1))
    }
}

struct Smgp(smgp::FrameDecoder);

fn smgp_msg_id(id: &smgp::MsgId) -> Value {
    json!({ "gateway": id.gateway(), "time": id.time(), "sequence": id.sequence() })
}

impl Codec for Smgp {
    type Pdu = smgp::Pdu;
    type Sequence = u32;

    fn next(&mut self, buf: &mut BytesMut) -> Decoded<smgp::Pdu, u32> {
        self.0.decode(buf)
    }

    fn encode(&self, pdu: &smgp::Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
        smgp::encode(pdu, out)
    }

    fn command(pdu: &smgp::Pdu) -> (u32, &'static str) {
        let command = pdu.body.command_id();
        (command.to_u32(), command.name())
    }

    fn extras(&self, pdu: &smgp::Pdu, out: &mut Map<String, Value>) {
        use smgp::Body;
        let tlv_names = |tlvs: &[smgp::Tlv]| {
            Value::Array(
                tlvs.iter()
                    .map(|t| smgp::tag_name(t.tag).map_or(Value::Null, |n| Value::String(n.into())))
                    .collect(),
            )
        };
        let udhi = |tlvs: &[smgp::Tlv]| {
            smgp::tlv::find(tlvs, smgp::tlv::TP_UDHI)
                .and_then(smgp::Tlv::as_u8)
                .unwrap_or(0)
        };
        match &pdu.body {
            Body::SubmitResp(r) | Body::DeliverResp(r) => {
                out.insert("msg_id_parts".into(), smgp_msg_id(&r.msg_id));
            }
            Body::Submit(s) => {
                out.insert("tlv_names".into(), tlv_names(&s.tlvs));
                text_extras(s.msg_format, udhi(&s.tlvs), &s.msg_content, out);
            }
            Body::Deliver(d) => {
                out.insert("msg_id_parts".into(), smgp_msg_id(&d.msg_id));
                out.insert("tlv_names".into(), tlv_names(&d.tlvs));
                if d.is_report == 1 {
                    if let Ok(r) = smgp::Report::parse(&d.msg_content) {
                        out.insert(
                            "report".into(),
                            json!({
                                "id": r.id.to_string(),
                                "id_parts": smgp_msg_id(&r.id),
                                "sub": latin1(&r.sub),
                                "dlvrd": latin1(&r.dlvrd),
                                "submit_date": latin1(&r.submit_date),
                                "done_date": latin1(&r.done_date),
                                "stat": latin1(&r.stat),
                                "err": latin1(&r.err),
                                "text": latin1(&r.text),
                            }),
                        );
                    }
                } else {
                    text_extras(d.msg_format, udhi(&d.tlvs), &d.msg_content, out);
                }
            }
            _ => {}
        }
    }

    fn default_sequence() -> (&'static str, Value) {
        ("sequence_id", json!(1))
    }
}

struct Sgip(sgip::FrameDecoder);

impl Codec for Sgip {
    type Pdu = sgip::Pdu;
    type Sequence = sgip::Sequence;

    fn next(&mut self, buf: &mut BytesMut) -> Decoded<sgip::Pdu, sgip::Sequence> {
        self.0.decode(buf)
    }

    fn encode(&self, pdu: &sgip::Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
        sgip::encode(pdu, out)
    }

    fn command(pdu: &sgip::Pdu) -> (u32, &'static str) {
        let command = pdu.body.command_id();
        (command.to_u32(), command.name())
    }

    fn extras(&self, pdu: &sgip::Pdu, out: &mut Map<String, Value>) {
        use sgip::Body;
        out.insert(
            "sequence_text".into(),
            Value::String(pdu.sequence.to_string()),
        );
        match &pdu.body {
            Body::Submit(s) => text_extras(s.message_coding, s.tp_udhi, &s.message_content, out),
            Body::Deliver(d) => text_extras(d.message_coding, d.tp_udhi, &d.message_content, out),
            Body::Report(r) => {
                out.insert(
                    "submit_sequence_text".into(),
                    Value::String(r.submit_sequence.to_string()),
                );
            }
            _ => {}
        }
    }

    fn default_sequence() -> (&'static str, Value) {
        ("sequence", json!({ "node_id": 0, "time": 0, "counter": 1 }))
    }
}

/// One JSON line for a packet: header, the serde fields in wire order, the helpers.
fn packet_line<C: Codec>(codec: &C, protocol: Protocol, pdu: &C::Pdu, len: usize) -> String {
    let (command_id, name) = C::command(pdu);
    // Built as text: a serde_json Map would sort the keys.
    let head = format!(
        "\"protocol\":\"{}\",\"command_id\":\"{command_id:#010x}\",\"command_name\":\"{name}\",\"total_length\":{len}",
        protocol.label()
    );
    let mut extras = Map::new();
    codec.extras(pdu, &mut extras);
    // serde_json writes a struct's fields in declaration (wire) order; a Map would sort them.
    let fields = serde_json::to_string(pdu).unwrap_or_else(|_| "{}".into());
    let mut parts = vec![head];
    parts.push(fields[1..fields.len().saturating_sub(1)].to_owned());
    if !extras.is_empty() {
        parts.push(object_inner(&Value::Object(extras)));
    }
    format!(
        "{{{}}}",
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn object_inner(value: &Value) -> String {
    let text = value.to_string();
    text[1..text.len() - 1].to_owned()
}

fn error_line<S: Debug>(protocol: Protocol, error: &DecodeError<S>) -> String {
    json!({
        "protocol": protocol.label(),
        "error": error.to_string(),
        "command_id": format!("{:#010x}", error.command_id),
        "sequence": format!("{:?}", error.sequence),
    })
    .to_string()
}

fn decode_with<C: Codec>(
    mut codec: C,
    protocol: Protocol,
    bytes: &[u8],
    stream: bool,
) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut buf = BytesMut::from(bytes);
    let mut offset = 0;
    loop {
        let before = buf.len();
        let item = match codec.next(&mut buf) {
            Ok(Some(item)) => item,
            Ok(None) if buf.is_empty() => break,
            Ok(None) => {
                out.flush()?;
                bail!(
                    "truncated packet at input offset {offset}: {} octets left, the length field wants more",
                    buf.len()
                );
            }
            Err(error) => {
                out.flush()?;
                bail!("framing error at input offset {offset}: {error}");
            }
        };
        let len = before - buf.len();
        match item {
            Ok(pdu) => writeln!(out, "{}", packet_line(&codec, protocol, &pdu, len))?,
            Err(error) if stream => writeln!(out, "{}", error_line(protocol, &error))?,
            Err(error) => {
                out.flush()?;
                bail!("packet at input offset {offset}: {error}");
            }
        }
        offset += len;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `pdu decode --protocol …` of a hex buffer.
pub(super) fn decode(protocol: Protocol, bytes: &[u8], stream: bool) -> anyhow::Result<ExitCode> {
    match protocol {
        Protocol::Smpp => super::decode::buffer(bytes, stream),
        Protocol::Cmpp2 => decode_with(Cmpp::new(cmpp::Version::V2), protocol, bytes, stream),
        Protocol::Cmpp3 => decode_with(Cmpp::new(cmpp::Version::V3), protocol, bytes, stream),
        Protocol::Smgp => decode_with(Smgp(smgp::FrameDecoder::default()), protocol, bytes, stream),
        Protocol::Sgip => decode_with(Sgip(sgip::FrameDecoder::default()), protocol, bytes, stream),
    }
}

fn encode_with<C: Codec>(codec: &C, value: &Value) -> anyhow::Result<Vec<u8>> {
    let Value::Object(object) = value else {
        bail!("expected a JSON object, got {value}")
    };
    if !object.contains_key("command") {
        bail!("missing field `command` (e.g. \"submit\", \"active_test\")");
    }
    let mut object = object.clone();
    let (name, default) = C::default_sequence();
    object.entry(name).or_insert(default);
    let pdu: C::Pdu = serde_json::from_value(Value::Object(object)).context("invalid packet")?;
    let mut out = BytesMut::new();
    codec.encode(&pdu, &mut out).context("cannot encode")?;
    Ok(out.to_vec())
}

/// `pdu encode --protocol …` of one JSON object (not SMPP: that has its own mapping).
pub(super) fn encode(protocol: Protocol, value: &Value) -> anyhow::Result<Vec<u8>> {
    match protocol {
        Protocol::Smpp => bail!("SMPP is encoded by the SMPP mapping"),
        Protocol::Cmpp2 => encode_with(&Cmpp::new(cmpp::Version::V2), value),
        Protocol::Cmpp3 => encode_with(&Cmpp::new(cmpp::Version::V3), value),
        Protocol::Smgp => encode_with(&Smgp(smgp::FrameDecoder::default()), value),
        Protocol::Sgip => encode_with(&Sgip(sgip::FrameDecoder::default()), value),
    }
}
