//! PDU ↔ JSON mapping: one object per PDU, fields under their SMPP 3.4 spec names
//! (reference §1.3), in wire order. See [`super::json_fields`] for how each wire type is
//! represented.
//!
//! Decode writes every mandatory field, computed counts included (`sm_length`,
//! `number_of_dests`, `no_unsuccess`), and `tlvs` for every body that can carry TLVs.
//! Encode recomputes those counts from the data (a differing value in the input is ignored
//! with a warning, like `command_length`) and uses these defaults when a key is absent:
//! `command_status` 0, `sequence_number` 1, `tlvs` none. Every other mandatory field is
//! required. `command` may be replaced by `command_id`; extra keys (`src`, `dst`, `frame`,
//! `command_status_name`, a TLV's `name`) are ignored.
//!
//! A response received as a bare 16-octet header (error responses, header-only
//! deliver_sm_resp) is printed without body fields, and a response object without body
//! fields is encoded as a bare header, so such PDUs also round-trip byte for byte.

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use serde_json::Value;

use smppgate_protocol::codec::encode_to_bytes;
use smppgate_protocol::pdu::{DEST_FLAG_DISTRIBUTION_LIST, DEST_FLAG_SME};
use smppgate_protocol::{
    Address, AlertNotification, Bind, BindResp, Body, CancelSm, CommandId, CommandStatus,
    DataCoding, DataSm, DestAddress, EsmClass, HEADER_LEN, MessageIdResp, Npi, Outbind, Pdu,
    QuerySm, QuerySmResp, RegisteredDelivery, ReplaceSm, ShortMessagePdu, SmppTime, SubmitMulti,
    SubmitMultiResp, Tlvs, Ton, UnsuccessSme,
};

use super::json_fields::{Reader, Writer};

/// Keys of the header (and of the capture context) — anything else is a body field.
const HEADER_KEYS: [&str; 9] = [
    "command",
    "command_id",
    "command_length",
    "command_status",
    "command_status_name",
    "sequence_number",
    "src",
    "dst",
    "frame",
];

// ---------------------------------------------------------------------------------------
// Whole PDUs.

/// The JSON object of a decoded PDU that was `command_length` octets on the wire.
///
/// A response received as a bare header (error responses, header-only deliver_sm_resp)
/// gets no body fields at all, which is also how [`encode`] knows to send it bare.
pub(crate) fn pdu_to_json(pdu: &Pdu, command_length: usize) -> Writer {
    let command = pdu.command_id();
    let mut out = Writer::default();
    out.value("command", Value::String(command.name().to_owned()));
    out.value(
        "command_id",
        Value::String(format!("{:#010x}", command.as_u32())),
    );
    out.int("command_length", command_length as u64);
    out.int("command_status", pdu.command_status.0);
    out.value(
        "command_status_name",
        pdu.command_status
            .any_name()
            .map_or(Value::Null, |name| Value::String(name.to_owned())),
    );
    out.int("sequence_number", pdu.sequence_number);
    if command.is_response() && command_length == HEADER_LEN {
        return out;
    }
    match &pdu.body {
        Body::GenericNack
        | Body::Unbind
        | Body::UnbindResp
        | Body::EnquireLink
        | Body::EnquireLinkResp
        | Body::ReplaceSmResp
        | Body::CancelSmResp => {}
        Body::BindReceiver(body) | Body::BindTransmitter(body) | Body::BindTransceiver(body) => {
            write_bind(&mut out, body);
        }
        Body::BindReceiverResp(body)
        | Body::BindTransmitterResp(body)
        | Body::BindTransceiverResp(body) => {
            write_bind_resp(&mut out, body);
        }
        Body::Outbind(body) => write_outbind(&mut out, body),
        Body::SubmitSm(body) | Body::DeliverSm(body) => write_short_message_pdu(&mut out, body),
        Body::SubmitSmResp(body) | Body::DeliverSmResp(body) | Body::DataSmResp(body) => {
            write_message_id_resp(&mut out, body);
        }
        Body::SubmitMulti(body) => write_submit_multi(&mut out, body),
        Body::SubmitMultiResp(body) => write_submit_multi_resp(&mut out, body),
        Body::DataSm(body) => write_data_sm(&mut out, body),
        Body::QuerySm(body) => write_query_sm(&mut out, body),
        Body::QuerySmResp(body) => write_query_sm_resp(&mut out, body),
        Body::CancelSm(body) => write_cancel_sm(&mut out, body),
        Body::ReplaceSm(body) => write_replace_sm(&mut out, body),
        Body::AlertNotification(body) => write_alert_notification(&mut out, body),
    }
    out
}

/// Encodes one JSON PDU object. Problems that do not stop the encoding (a stale
/// `command_length` or count) are pushed to `warnings`.
pub(crate) fn encode(value: &Value, warnings: &mut Vec<String>) -> anyhow::Result<Vec<u8>> {
    let input = Reader::new(value, "")?;
    let command = command_of(&input)?;
    let command_status = CommandStatus(input.int_or("command_status", 0)?);
    let sequence_number = input.int_or("sequence_number", 1)?;
    // A response with no body field at all is sent as a bare header, as received.
    let bare = command.is_response()
        && value
            .as_object()
            .is_some_and(|map| map.keys().all(|key| HEADER_KEYS.contains(&key.as_str())));
    let body = if bare {
        Body::empty(command)
    } else {
        read_body(command, &input, warnings)?
    };
    let pdu = Pdu {
        sequence_number,
        command_status,
        body,
    };
    let mut octets = encode_to_bytes(&pdu)
        .map_err(|error| anyhow!("{error}"))?
        .to_vec();
    if bare && octets.len() > HEADER_LEN {
        octets.truncate(HEADER_LEN);
        octets[..4].copy_from_slice(&(HEADER_LEN as u32).to_be_bytes());
    }
    if input.optional("command_length").is_some() {
        let given: u64 = input.int("command_length")?;
        if usize::try_from(given).ok() != Some(octets.len()) {
            warnings.push(format!(
                "command_length {given} ignored; the encoded PDU is {} octets",
                octets.len()
            ));
        }
    }
    Ok(octets)
}

/// The operation, from `command` (spec name) or, when absent, `command_id` (hex string or
/// number); when both are given they must agree.
fn command_of(input: &Reader<'_>) -> anyhow::Result<CommandId> {
    let by_id = match input.optional("command_id") {
        None => None,
        Some(Value::String(text)) => {
            let digits = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            let raw = u32::from_str_radix(digits, 16).map_err(|_| {
                anyhow!("field `command_id`: {text:?} is not a hex command_id like \"0x00000004\"")
            })?;
            Some(CommandId::from_u32(raw).ok_or_else(|| {
                anyhow!("field `command_id`: {raw:#010x} is not an SMPP 3.4 operation")
            })?)
        }
        Some(_) => {
            let raw: u32 = input.int("command_id")?;
            Some(CommandId::from_u32(raw).ok_or_else(|| {
                anyhow!("field `command_id`: {raw:#010x} is not an SMPP 3.4 operation")
            })?)
        }
    };
    let Some(name) = input.optional("command") else {
        return by_id.ok_or_else(|| anyhow!("field `command`: missing (e.g. \"submit_sm\")"));
    };
    let name = name
        .as_str()
        .ok_or_else(|| anyhow!("field `command`: expected a string, got {name}"))?;
    let command = CommandId::from_name(name).ok_or_else(|| {
        anyhow!("field `command`: {name:?} is not an SMPP 3.4 operation name (e.g. \"submit_sm\")")
    })?;
    if let Some(id) = by_id.filter(|id| *id != command) {
        bail!(
            "field `command_id`: {:#010x} is {}, but `command` says {name}",
            id.as_u32(),
            id.name()
        );
    }
    Ok(command)
}

/// The body of `command` from the JSON fields.
fn read_body(
    command: CommandId,
    input: &Reader<'_>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Body> {
    Ok(match command {
        CommandId::GenericNack => Body::GenericNack,
        CommandId::Unbind => Body::Unbind,
        CommandId::UnbindResp => Body::UnbindResp,
        CommandId::EnquireLink => Body::EnquireLink,
        CommandId::EnquireLinkResp => Body::EnquireLinkResp,
        CommandId::ReplaceSmResp => Body::ReplaceSmResp,
        CommandId::CancelSmResp => Body::CancelSmResp,
        CommandId::BindReceiver => Body::BindReceiver(read_bind(input)?),
        CommandId::BindTransmitter => Body::BindTransmitter(read_bind(input)?),
        CommandId::BindTransceiver => Body::BindTransceiver(read_bind(input)?),
        CommandId::BindReceiverResp => Body::BindReceiverResp(read_bind_resp(input)?),
        CommandId::BindTransmitterResp => Body::BindTransmitterResp(read_bind_resp(input)?),
        CommandId::BindTransceiverResp => Body::BindTransceiverResp(read_bind_resp(input)?),
        CommandId::Outbind => Body::Outbind(read_outbind(input)?),
        CommandId::SubmitSm => Body::SubmitSm(read_short_message_pdu(input, warnings)?),
        CommandId::DeliverSm => Body::DeliverSm(read_short_message_pdu(input, warnings)?),
        CommandId::SubmitSmResp => Body::SubmitSmResp(read_message_id_resp(input)?),
        CommandId::DeliverSmResp => Body::DeliverSmResp(read_message_id_resp(input)?),
        CommandId::DataSmResp => Body::DataSmResp(read_message_id_resp(input)?),
        CommandId::SubmitMulti => Body::SubmitMulti(read_submit_multi(input, warnings)?),
        CommandId::SubmitMultiResp => {
            Body::SubmitMultiResp(read_submit_multi_resp(input, warnings)?)
        }
        CommandId::DataSm => Body::DataSm(read_data_sm(input)?),
        CommandId::QuerySm => Body::QuerySm(read_query_sm(input)?),
        CommandId::QuerySmResp => Body::QuerySmResp(read_query_sm_resp(input)?),
        CommandId::CancelSm => Body::CancelSm(read_cancel_sm(input)?),
        CommandId::ReplaceSm => Body::ReplaceSm(read_replace_sm(input, warnings)?),
        CommandId::AlertNotification => Body::AlertNotification(read_alert_notification(input)?),
    })
}

// ---------------------------------------------------------------------------------------
// Addresses and TLVs, shared by many bodies.

/// JSON names of an address triplet (ton, npi, address).
type AddressNames = (&'static str, &'static str, &'static str);

const SOURCE: AddressNames = ("source_addr_ton", "source_addr_npi", "source_addr");
const DESTINATION: AddressNames = ("dest_addr_ton", "dest_addr_npi", "destination_addr");
const ESME: AddressNames = ("esme_addr_ton", "esme_addr_npi", "esme_addr");

fn write_address(out: &mut Writer, (ton, npi, addr): AddressNames, address: &Address) {
    out.int(ton, address.ton.0);
    out.int(npi, address.npi.0);
    out.text(addr, &address.addr);
}

fn read_address(input: &Reader<'_>, (ton, npi, addr): AddressNames) -> anyhow::Result<Address> {
    Ok(Address {
        ton: Ton(input.int(ton)?),
        npi: Npi(input.int(npi)?),
        addr: input.text(addr)?,
    })
}

/// `tlvs`: `[{tag: "0x0424", name: "message_payload", value: "<hex>"}, …]` in wire order;
/// `name` is `unknown` for tags the core does not name (vendor tags included).
fn write_tlvs(out: &mut Writer, tlvs: &Tlvs) {
    let list = tlvs
        .iter()
        .map(|(tag, value)| {
            let mut tlv = Writer::default();
            tlv.value("tag", Value::String(format!("{:#06x}", tag.0)));
            tlv.value(
                "name",
                Value::String(tag.name().unwrap_or("unknown").to_owned()),
            );
            tlv.octets("value", &value);
            tlv
        })
        .collect();
    out.objects("tlvs", list);
}

/// Builds the raw TLV region from the JSON list, in the given order (so unknown and vendor
/// tags and their order survive), and lets the core validate it. `name` is ignored.
fn read_tlvs(input: &Reader<'_>) -> anyhow::Result<Tlvs> {
    if input.optional("tlvs").is_none() {
        return Ok(Tlvs::default());
    }
    let mut raw = Vec::new();
    for (index, item) in input.array("tlvs")?.iter().enumerate() {
        let tlv = Reader::new(item, &format!("{}[{index}]", input.name("tlvs")))?;
        let tag = parse_tag(&tlv)?;
        let value = tlv.octets("value")?;
        let length = u16::try_from(value.len())
            .map_err(|_| anyhow!("field `{}`: longer than 65535 octets", tlv.name("value")))?;
        raw.extend_from_slice(&tag.to_be_bytes());
        raw.extend_from_slice(&length.to_be_bytes());
        raw.extend_from_slice(&value);
    }
    Tlvs::from_raw(Bytes::from(raw)).with_context(|| format!("field `{}`", input.name("tlvs")))
}

/// `tag` as `"0x0424"` (hex string) or a number.
fn parse_tag(tlv: &Reader<'_>) -> anyhow::Result<u16> {
    let value = tlv.required("tag")?;
    if let Some(text) = value.as_str() {
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        return u16::from_str_radix(digits, 16).map_err(|_| {
            anyhow!(
                "field `{}`: {text:?} is not a 16-bit hex tag like \"0x0424\"",
                tlv.name("tag")
            )
        });
    }
    tlv.int("tag")
}

fn time(input: &Reader<'_>, name: &str) -> anyhow::Result<SmppTime> {
    let raw = input.text(name)?;
    SmppTime::from_raw(raw).with_context(|| format!("field `{}`", input.name(name)))
}

/// `sm_length` is derived from `short_message`; a different value in the input is only
/// warned about (the encoder writes the real length).
fn short_message(input: &Reader<'_>, warnings: &mut Vec<String>) -> anyhow::Result<Bytes> {
    let message = input.octets("short_message")?;
    check_count(input, "sm_length", message.len(), warnings)?;
    Ok(message)
}

/// Warns when a count field present in the input differs from the count of the data.
fn check_count(
    input: &Reader<'_>,
    name: &str,
    actual: usize,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    if input.optional(name).is_some() {
        let given: u64 = input.int(name)?;
        if usize::try_from(given).ok() != Some(actual) {
            warnings.push(format!(
                "{} {given} ignored; the data has {actual}",
                input.name(name)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Bodies, one writer and one reader per core struct.

fn write_bind(out: &mut Writer, body: &Bind) {
    out.text("system_id", &body.system_id);
    out.text("password", &body.password);
    out.text("system_type", &body.system_type);
    out.int("interface_version", body.interface_version);
    out.int("addr_ton", body.addr_ton.0);
    out.int("addr_npi", body.addr_npi.0);
    out.text("address_range", &body.address_range);
}

fn read_bind(input: &Reader<'_>) -> anyhow::Result<Bind> {
    Ok(Bind {
        system_id: input.text("system_id")?,
        password: input.text("password")?,
        system_type: input.text("system_type")?,
        interface_version: input.int("interface_version")?,
        addr_ton: Ton(input.int("addr_ton")?),
        addr_npi: Npi(input.int("addr_npi")?),
        address_range: input.text("address_range")?,
    })
}

fn write_bind_resp(out: &mut Writer, body: &BindResp) {
    out.text("system_id", &body.system_id);
    write_tlvs(out, &body.tlvs);
}

fn read_bind_resp(input: &Reader<'_>) -> anyhow::Result<BindResp> {
    Ok(BindResp {
        system_id: input.text("system_id")?,
        tlvs: read_tlvs(input)?,
    })
}

fn write_outbind(out: &mut Writer, body: &Outbind) {
    out.text("system_id", &body.system_id);
    out.text("password", &body.password);
}

fn read_outbind(input: &Reader<'_>) -> anyhow::Result<Outbind> {
    Ok(Outbind {
        system_id: input.text("system_id")?,
        password: input.text("password")?,
    })
}

fn write_short_message_pdu(out: &mut Writer, body: &ShortMessagePdu) {
    out.text("service_type", &body.service_type);
    write_address(out, SOURCE, &body.source_addr);
    write_address(out, DESTINATION, &body.destination_addr);
    out.int("esm_class", body.esm_class.0);
    out.int("protocol_id", body.protocol_id);
    out.int("priority_flag", body.priority_flag);
    out.text("schedule_delivery_time", body.schedule_delivery_time.raw());
    out.text("validity_period", body.validity_period.raw());
    out.int("registered_delivery", body.registered_delivery.0);
    out.int("replace_if_present_flag", body.replace_if_present_flag);
    out.int("data_coding", body.data_coding.0);
    out.int("sm_default_msg_id", body.sm_default_msg_id);
    out.int("sm_length", len_u64(&body.short_message));
    out.octets("short_message", &body.short_message);
    write_tlvs(out, &body.tlvs);
}

fn read_short_message_pdu(
    input: &Reader<'_>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<ShortMessagePdu> {
    Ok(ShortMessagePdu {
        service_type: input.text("service_type")?,
        source_addr: read_address(input, SOURCE)?,
        destination_addr: read_address(input, DESTINATION)?,
        esm_class: EsmClass(input.int("esm_class")?),
        protocol_id: input.int("protocol_id")?,
        priority_flag: input.int("priority_flag")?,
        schedule_delivery_time: time(input, "schedule_delivery_time")?,
        validity_period: time(input, "validity_period")?,
        registered_delivery: RegisteredDelivery(input.int("registered_delivery")?),
        replace_if_present_flag: input.int("replace_if_present_flag")?,
        data_coding: DataCoding(input.int("data_coding")?),
        sm_default_msg_id: input.int("sm_default_msg_id")?,
        short_message: short_message(input, warnings)?,
        tlvs: read_tlvs(input)?,
    })
}

fn write_submit_multi(out: &mut Writer, body: &SubmitMulti) {
    out.text("service_type", &body.service_type);
    write_address(out, SOURCE, &body.source_addr);
    out.int("number_of_dests", len_u64(&body.dest_addresses));
    let destinations = body
        .dest_addresses
        .iter()
        .map(|destination| {
            let mut item = Writer::default();
            match destination {
                DestAddress::Sme(address) => {
                    item.int("dest_flag", DEST_FLAG_SME);
                    write_address(&mut item, DESTINATION, address);
                }
                DestAddress::DistributionList(name) => {
                    item.int("dest_flag", DEST_FLAG_DISTRIBUTION_LIST);
                    item.text("dl_name", name);
                }
            }
            item
        })
        .collect();
    out.objects("dest_address", destinations);
    out.int("esm_class", body.esm_class.0);
    out.int("protocol_id", body.protocol_id);
    out.int("priority_flag", body.priority_flag);
    out.text("schedule_delivery_time", body.schedule_delivery_time.raw());
    out.text("validity_period", body.validity_period.raw());
    out.int("registered_delivery", body.registered_delivery.0);
    out.int("replace_if_present_flag", body.replace_if_present_flag);
    out.int("data_coding", body.data_coding.0);
    out.int("sm_default_msg_id", body.sm_default_msg_id);
    out.int("sm_length", len_u64(&body.short_message));
    out.octets("short_message", &body.short_message);
    write_tlvs(out, &body.tlvs);
}

fn read_submit_multi(
    input: &Reader<'_>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<SubmitMulti> {
    let items = input.array("dest_address")?;
    check_count(input, "number_of_dests", items.len(), warnings)?;
    let mut dest_addresses = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item = Reader::new(item, &format!("{}[{index}]", input.name("dest_address")))?;
        dest_addresses.push(match item.int::<u8>("dest_flag")? {
            DEST_FLAG_SME => DestAddress::Sme(read_address(&item, DESTINATION)?),
            DEST_FLAG_DISTRIBUTION_LIST => DestAddress::DistributionList(item.text("dl_name")?),
            other => bail!(
                "field `{}`: {other} is neither 1 (SME address) nor 2 (distribution list)",
                item.name("dest_flag")
            ),
        });
    }
    Ok(SubmitMulti {
        service_type: input.text("service_type")?,
        source_addr: read_address(input, SOURCE)?,
        dest_addresses,
        esm_class: EsmClass(input.int("esm_class")?),
        protocol_id: input.int("protocol_id")?,
        priority_flag: input.int("priority_flag")?,
        schedule_delivery_time: time(input, "schedule_delivery_time")?,
        validity_period: time(input, "validity_period")?,
        registered_delivery: RegisteredDelivery(input.int("registered_delivery")?),
        replace_if_present_flag: input.int("replace_if_present_flag")?,
        data_coding: DataCoding(input.int("data_coding")?),
        sm_default_msg_id: input.int("sm_default_msg_id")?,
        short_message: short_message(input, warnings)?,
        tlvs: read_tlvs(input)?,
    })
}

fn write_submit_multi_resp(out: &mut Writer, body: &SubmitMultiResp) {
    out.text("message_id", &body.message_id);
    out.int("no_unsuccess", len_u64(&body.unsuccess_smes));
    let entries = body
        .unsuccess_smes
        .iter()
        .map(|entry| {
            let mut item = Writer::default();
            write_address(&mut item, DESTINATION, &entry.dest_addr);
            item.int("error_status_code", entry.error_status_code.0);
            item
        })
        .collect();
    out.objects("unsuccess_sme", entries);
    write_tlvs(out, &body.tlvs);
}

fn read_submit_multi_resp(
    input: &Reader<'_>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<SubmitMultiResp> {
    let message_id = input.text("message_id")?;
    let items = input.array("unsuccess_sme")?;
    check_count(input, "no_unsuccess", items.len(), warnings)?;
    let mut unsuccess_smes = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item = Reader::new(item, &format!("{}[{index}]", input.name("unsuccess_sme")))?;
        unsuccess_smes.push(UnsuccessSme {
            dest_addr: read_address(&item, DESTINATION)?,
            error_status_code: CommandStatus(item.int("error_status_code")?),
        });
    }
    Ok(SubmitMultiResp {
        message_id,
        unsuccess_smes,
        tlvs: read_tlvs(input)?,
    })
}

fn write_data_sm(out: &mut Writer, body: &DataSm) {
    out.text("service_type", &body.service_type);
    write_address(out, SOURCE, &body.source_addr);
    write_address(out, DESTINATION, &body.destination_addr);
    out.int("esm_class", body.esm_class.0);
    out.int("registered_delivery", body.registered_delivery.0);
    out.int("data_coding", body.data_coding.0);
    write_tlvs(out, &body.tlvs);
}

fn read_data_sm(input: &Reader<'_>) -> anyhow::Result<DataSm> {
    Ok(DataSm {
        service_type: input.text("service_type")?,
        source_addr: read_address(input, SOURCE)?,
        destination_addr: read_address(input, DESTINATION)?,
        esm_class: EsmClass(input.int("esm_class")?),
        registered_delivery: RegisteredDelivery(input.int("registered_delivery")?),
        data_coding: DataCoding(input.int("data_coding")?),
        tlvs: read_tlvs(input)?,
    })
}

fn write_message_id_resp(out: &mut Writer, body: &MessageIdResp) {
    out.text("message_id", &body.message_id);
    write_tlvs(out, &body.tlvs);
}

fn read_message_id_resp(input: &Reader<'_>) -> anyhow::Result<MessageIdResp> {
    Ok(MessageIdResp {
        message_id: input.text("message_id")?,
        tlvs: read_tlvs(input)?,
    })
}

fn write_query_sm(out: &mut Writer, body: &QuerySm) {
    out.text("message_id", &body.message_id);
    write_address(out, SOURCE, &body.source_addr);
}

fn read_query_sm(input: &Reader<'_>) -> anyhow::Result<QuerySm> {
    Ok(QuerySm {
        message_id: input.text("message_id")?,
        source_addr: read_address(input, SOURCE)?,
    })
}

fn write_query_sm_resp(out: &mut Writer, body: &QuerySmResp) {
    out.text("message_id", &body.message_id);
    out.text("final_date", body.final_date.raw());
    out.int("message_state", body.message_state);
    out.int("error_code", body.error_code);
}

fn read_query_sm_resp(input: &Reader<'_>) -> anyhow::Result<QuerySmResp> {
    Ok(QuerySmResp {
        message_id: input.text("message_id")?,
        final_date: time(input, "final_date")?,
        message_state: input.int("message_state")?,
        error_code: input.int("error_code")?,
    })
}

fn write_cancel_sm(out: &mut Writer, body: &CancelSm) {
    out.text("service_type", &body.service_type);
    out.text("message_id", &body.message_id);
    write_address(out, SOURCE, &body.source_addr);
    write_address(out, DESTINATION, &body.destination_addr);
}

fn read_cancel_sm(input: &Reader<'_>) -> anyhow::Result<CancelSm> {
    Ok(CancelSm {
        service_type: input.text("service_type")?,
        message_id: input.text("message_id")?,
        source_addr: read_address(input, SOURCE)?,
        destination_addr: read_address(input, DESTINATION)?,
    })
}

fn write_replace_sm(out: &mut Writer, body: &ReplaceSm) {
    out.text("message_id", &body.message_id);
    write_address(out, SOURCE, &body.source_addr);
    out.text("schedule_delivery_time", body.schedule_delivery_time.raw());
    out.text("validity_period", body.validity_period.raw());
    out.int("registered_delivery", body.registered_delivery.0);
    out.int("sm_default_msg_id", body.sm_default_msg_id);
    out.int("sm_length", len_u64(&body.short_message));
    out.octets("short_message", &body.short_message);
}

fn read_replace_sm(input: &Reader<'_>, warnings: &mut Vec<String>) -> anyhow::Result<ReplaceSm> {
    Ok(ReplaceSm {
        message_id: input.text("message_id")?,
        source_addr: read_address(input, SOURCE)?,
        schedule_delivery_time: time(input, "schedule_delivery_time")?,
        validity_period: time(input, "validity_period")?,
        registered_delivery: RegisteredDelivery(input.int("registered_delivery")?),
        sm_default_msg_id: input.int("sm_default_msg_id")?,
        short_message: short_message(input, warnings)?,
    })
}

fn write_alert_notification(out: &mut Writer, body: &AlertNotification) {
    write_address(out, SOURCE, &body.source_addr);
    write_address(out, ESME, &body.esme_addr);
    write_tlvs(out, &body.tlvs);
}

fn read_alert_notification(input: &Reader<'_>) -> anyhow::Result<AlertNotification> {
    Ok(AlertNotification {
        source_addr: read_address(input, SOURCE)?,
        esme_addr: read_address(input, ESME)?,
        tlvs: read_tlvs(input)?,
    })
}

/// A length as a JSON number.
fn len_u64<T>(items: &[T]) -> u64 {
    items.len() as u64
}
