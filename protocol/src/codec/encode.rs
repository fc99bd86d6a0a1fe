//! Encoding: one traversal written once over a [`Sink`], run first as a counter (exact
//! length, pure arithmetic), then as the validating writer into a buffer sized once.
//!
//! Strict on send (reference §1.3): C-strings within their maxima and free of NUL,
//! sm_length ≤ 254, never short_message and message_payload together, valid times, NULL
//! fields of deliver_sm NULL, 1–254 destinations.

use bytes::{Bytes, BytesMut};

use super::error::EncodeError;
use crate::command_id::CommandId;
use crate::header::HEADER_LEN;
use crate::pdu::{
    AlertNotification, Bind, BindResp, Body, CancelSm, DEST_FLAG_DISTRIBUTION_LIST, DEST_FLAG_SME,
    DataSm, DestAddress, MessageIdResp, NUMBER_OF_DESTS_MAX, Outbind, Pdu, QuerySm, QuerySmResp,
    ReplaceSm, SM_LENGTH_MAX, ShortMessagePdu, SubmitMulti, SubmitMultiResp,
};
use crate::tlv::{TlvTag, Tlvs};
use crate::types::c_octet::{
    ADDR_65_MAX, ADDR_MAX, ADDRESS_RANGE_MAX, DL_NAME_MAX, MESSAGE_ID_MAX, PASSWORD_MAX,
    SERVICE_TYPE_MAX, SYSTEM_ID_MAX, SYSTEM_TYPE_MAX, TIME_MAX,
};
use crate::types::{Address, SmppTime};

/// The exact number of octets [`encode`] writes for `pdu` (header included), whether or not
/// `pdu` passes validation.
#[must_use]
pub fn encoded_len(pdu: &Pdu) -> usize {
    let mut counter = Counter::default();
    write_body(&pdu.body, pdu, &mut counter);
    HEADER_LEN + counter.len
}

/// Appends `pdu` to `buf`: validates and sizes it, reserves once, writes once.
/// Nothing is written when it fails.
///
/// # Errors
/// [`EncodeError`] naming the field, its value or length, and the limit.
pub fn encode(pdu: &Pdu, buf: &mut BytesMut) -> Result<(), EncodeError> {
    let mut counter = Counter::default();
    write_body(&pdu.body, pdu, &mut counter);
    let length = HEADER_LEN + counter.len;
    let command_id = pdu.body.command_id();
    let Ok(command_length) = u32::try_from(length) else {
        return Err(EncodeError::PduTooLong { command_id, length });
    };
    // Size once, then write straight into the slice: no per-field capacity checks.
    let start = buf.len();
    buf.resize(start + length, 0);
    let frame = &mut buf[start..];
    frame[0..4].copy_from_slice(&command_length.to_be_bytes());
    frame[4..8].copy_from_slice(&command_id.as_u32().to_be_bytes());
    frame[8..12].copy_from_slice(&pdu.command_status.0.to_be_bytes());
    frame[12..16].copy_from_slice(&pdu.sequence_number.to_be_bytes());
    let mut writer = Writer {
        dst: &mut frame[HEADER_LEN..],
        pos: 0,
        error: None,
    };
    write_body(&pdu.body, pdu, &mut writer);
    debug_assert_eq!(
        writer.pos,
        length - HEADER_LEN,
        "encoded_len and write disagree"
    );
    if let Some(error) = writer.error {
        // Strict on send: nothing of a refused PDU stays in the buffer.
        buf.truncate(start);
        return Err(error);
    }
    Ok(())
}

/// [`encode`] into a fresh buffer of exactly the right size.
///
/// # Errors
/// As [`encode`].
pub fn encode_to_bytes(pdu: &Pdu) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    encode(pdu, &mut buf)?;
    Ok(buf.freeze())
}

/// Where the traversal goes: a counter that also validates, or the writer.
trait Sink {
    /// Whether this pass checks the strict-on-send rules (only the writer does: the counter
    /// is pure arithmetic, so validation runs once per encode).
    const VALIDATES: bool;
    fn put_u8(&mut self, value: u8);
    fn put_u32(&mut self, value: u32);
    fn put_slice(&mut self, value: &[u8]);
    /// Reports a validation failure; the first one is kept.
    fn fail(&mut self, error: impl FnOnce() -> EncodeError);
}

#[derive(Default)]
struct Counter {
    len: usize,
}

impl Sink for Counter {
    const VALIDATES: bool = false;
    fn put_u8(&mut self, _: u8) {
        self.len += 1;
    }
    fn put_u32(&mut self, _: u32) {
        self.len += 4;
    }
    fn put_slice(&mut self, value: &[u8]) {
        self.len += value.len();
    }
    fn fail(&mut self, _: impl FnOnce() -> EncodeError) {}
}

/// Writes into a slice sized by the counter's pass over the same traversal, so every write
/// fits; `get_mut` keeps a disagreement a (debug-asserted) short write rather than a panic.
struct Writer<'a> {
    dst: &'a mut [u8],
    pos: usize,
    error: Option<EncodeError>,
}

impl Sink for Writer<'_> {
    const VALIDATES: bool = true;
    #[inline]
    fn put_u8(&mut self, value: u8) {
        if let Some(slot) = self.dst.get_mut(self.pos) {
            *slot = value;
        }
        self.pos += 1;
    }
    #[inline]
    fn put_u32(&mut self, value: u32) {
        self.put_slice(&value.to_be_bytes());
    }
    #[inline]
    fn put_slice(&mut self, value: &[u8]) {
        let end = self.pos + value.len();
        if let Some(slot) = self.dst.get_mut(self.pos..end) {
            slot.copy_from_slice(value);
        }
        self.pos = end;
    }
    fn fail(&mut self, error: impl FnOnce() -> EncodeError) {
        if self.error.is_none() {
            self.error = Some(error());
        }
    }
}

/// The traversal, with the operation at hand for error messages.
struct Out<'s, S> {
    sink: &'s mut S,
    command_id: CommandId,
}

impl<S: Sink> Out<'_, S> {
    fn u8(&mut self, value: u8) {
        self.sink.put_u8(value);
    }

    fn c_string(&mut self, field: &'static str, value: &[u8], max: usize) {
        let command_id = self.command_id;
        if S::VALIDATES && value.len() >= max {
            self.sink.fail(|| EncodeError::StringTooLong {
                command_id,
                field,
                length: value.len(),
                max,
            });
        }
        if S::VALIDATES
            && let Some(position) = value.iter().position(|&b| b == 0)
        {
            self.sink.fail(|| EncodeError::StringContainsNul {
                command_id,
                field,
                position,
            });
        }
        self.sink.put_slice(value);
        self.sink.put_u8(0);
    }

    fn address(&mut self, field: &'static str, address: &Address, max: usize) {
        self.u8(address.ton.0);
        self.u8(address.npi.0);
        self.c_string(field, &address.addr, max);
    }

    fn time(&mut self, field: &'static str, time: &SmppTime) {
        if !time.is_set() {
            // NULL time: a lone NUL, nothing to validate.
            self.sink.put_u8(0);
            return;
        }
        if S::VALIDATES
            && let Err(source) = time.parse()
        {
            let command_id = self.command_id;
            self.sink.fail(|| EncodeError::InvalidTime {
                command_id,
                field,
                source,
            });
        }
        self.c_string(field, time.raw(), TIME_MAX);
    }

    fn short_message(&mut self, short_message: &[u8], tlvs: Option<&Tlvs>) {
        let command_id = self.command_id;
        let length = short_message.len();
        if S::VALIDATES && length > SM_LENGTH_MAX {
            self.sink.fail(|| EncodeError::ShortMessageTooLong {
                command_id,
                length,
                max: SM_LENGTH_MAX,
            });
        }
        if S::VALIDATES && length > 0 && tlvs.is_some_and(|t| t.contains(TlvTag::MESSAGE_PAYLOAD)) {
            self.sink
                .fail(|| EncodeError::PayloadConflict { command_id });
        }
        // Truncation only happens on the failing path, which never reaches the writer.
        self.u8(u8::try_from(length).unwrap_or(u8::MAX));
        self.sink.put_slice(short_message);
    }

    fn tlvs(&mut self, tlvs: &Tlvs) {
        self.sink.put_slice(tlvs.raw());
    }

    fn must_be_null(&mut self, field: &'static str, is_null: bool, value: impl FnOnce() -> String) {
        if S::VALIDATES && !is_null {
            let command_id = self.command_id;
            self.sink.fail(|| EncodeError::MustBeNull {
                command_id,
                field,
                value: value(),
            });
        }
    }

    fn count(&mut self, field: &'static str, count: usize, min: usize, max: usize) {
        if S::VALIDATES && !(min..=max).contains(&count) {
            let command_id = self.command_id;
            self.sink.fail(|| EncodeError::CountOutOfRange {
                command_id,
                field,
                count,
                min,
                max,
            });
        }
        self.u8(u8::try_from(count).unwrap_or(u8::MAX));
    }
}

fn write_body<S: Sink>(body: &Body, pdu: &Pdu, sink: &mut S) {
    let command_id = body.command_id();
    let mut out = Out { sink, command_id };
    // bind_*_resp and submit_sm_resp with an error status carry no body (reference §1.3,
    // §4.3); other responses keep theirs (deliver_sm_resp's NUL, submit_multi_resp's list).
    let error = !pdu.command_status.is_ok();
    match body {
        Body::GenericNack
        | Body::Unbind
        | Body::UnbindResp
        | Body::EnquireLink
        | Body::EnquireLinkResp
        | Body::ReplaceSmResp
        | Body::CancelSmResp => {}
        Body::BindReceiverResp(_)
        | Body::BindTransmitterResp(_)
        | Body::BindTransceiverResp(_)
        | Body::SubmitSmResp(_)
            if error => {}
        Body::BindReceiver(bind) | Body::BindTransmitter(bind) | Body::BindTransceiver(bind) => {
            write_bind(&mut out, bind);
        }
        Body::BindReceiverResp(resp)
        | Body::BindTransmitterResp(resp)
        | Body::BindTransceiverResp(resp) => write_bind_resp(&mut out, resp),
        Body::Outbind(outbind) => write_outbind(&mut out, outbind),
        Body::SubmitSm(sm) => write_short_message_pdu(&mut out, sm, false),
        Body::DeliverSm(sm) => write_short_message_pdu(&mut out, sm, true),
        Body::SubmitSmResp(resp) | Body::DeliverSmResp(resp) | Body::DataSmResp(resp) => {
            write_message_id_resp(&mut out, resp);
        }
        Body::SubmitMulti(multi) => write_submit_multi(&mut out, multi),
        Body::SubmitMultiResp(resp) => write_submit_multi_resp(&mut out, resp),
        Body::DataSm(data) => write_data_sm(&mut out, data),
        Body::QuerySm(query) => write_query_sm(&mut out, query),
        Body::QuerySmResp(resp) => write_query_sm_resp(&mut out, resp),
        Body::CancelSm(cancel) => write_cancel_sm(&mut out, cancel),
        Body::ReplaceSm(replace) => write_replace_sm(&mut out, replace),
        Body::AlertNotification(alert) => write_alert_notification(&mut out, alert),
    }
}

fn write_bind<S: Sink>(out: &mut Out<'_, S>, bind: &Bind) {
    out.c_string("system_id", &bind.system_id, SYSTEM_ID_MAX);
    out.c_string("password", &bind.password, PASSWORD_MAX);
    out.c_string("system_type", &bind.system_type, SYSTEM_TYPE_MAX);
    out.u8(bind.interface_version);
    out.u8(bind.addr_ton.0);
    out.u8(bind.addr_npi.0);
    out.c_string("address_range", &bind.address_range, ADDRESS_RANGE_MAX);
}

fn write_bind_resp<S: Sink>(out: &mut Out<'_, S>, resp: &BindResp) {
    out.c_string("system_id", &resp.system_id, SYSTEM_ID_MAX);
    out.tlvs(&resp.tlvs);
}

fn write_outbind<S: Sink>(out: &mut Out<'_, S>, outbind: &Outbind) {
    out.c_string("system_id", &outbind.system_id, SYSTEM_ID_MAX);
    out.c_string("password", &outbind.password, PASSWORD_MAX);
}

fn write_short_message_pdu<S: Sink>(out: &mut Out<'_, S>, sm: &ShortMessagePdu, deliver: bool) {
    out.c_string("service_type", &sm.service_type, SERVICE_TYPE_MAX);
    out.address("source_addr", &sm.source_addr, ADDR_MAX);
    out.address("destination_addr", &sm.destination_addr, ADDR_MAX);
    out.u8(sm.esm_class.0);
    out.u8(sm.protocol_id);
    out.u8(sm.priority_flag);
    if deliver {
        // deliver_sm: unused, must be NULL (reference §1.3).
        out.must_be_null(
            "schedule_delivery_time",
            !sm.schedule_delivery_time.is_set(),
            || sm.schedule_delivery_time.to_string(),
        );
        out.must_be_null("validity_period", !sm.validity_period.is_set(), || {
            sm.validity_period.to_string()
        });
        out.must_be_null(
            "replace_if_present_flag",
            sm.replace_if_present_flag == 0,
            || sm.replace_if_present_flag.to_string(),
        );
        out.must_be_null("sm_default_msg_id", sm.sm_default_msg_id == 0, || {
            sm.sm_default_msg_id.to_string()
        });
    }
    out.time("schedule_delivery_time", &sm.schedule_delivery_time);
    out.time("validity_period", &sm.validity_period);
    out.u8(sm.registered_delivery.0);
    out.u8(sm.replace_if_present_flag);
    out.u8(sm.data_coding.0);
    out.u8(sm.sm_default_msg_id);
    out.short_message(&sm.short_message, Some(&sm.tlvs));
    out.tlvs(&sm.tlvs);
}

fn write_message_id_resp<S: Sink>(out: &mut Out<'_, S>, resp: &MessageIdResp) {
    out.c_string("message_id", &resp.message_id, MESSAGE_ID_MAX);
    out.tlvs(&resp.tlvs);
}

fn write_submit_multi<S: Sink>(out: &mut Out<'_, S>, multi: &SubmitMulti) {
    out.c_string("service_type", &multi.service_type, SERVICE_TYPE_MAX);
    out.address("source_addr", &multi.source_addr, ADDR_MAX);
    out.count(
        "number_of_dests",
        multi.dest_addresses.len(),
        1,
        NUMBER_OF_DESTS_MAX,
    );
    for dest in &multi.dest_addresses {
        match dest {
            DestAddress::Sme(address) => {
                out.u8(DEST_FLAG_SME);
                out.address("destination_addr", address, ADDR_MAX);
            }
            DestAddress::DistributionList(name) => {
                out.u8(DEST_FLAG_DISTRIBUTION_LIST);
                out.c_string("dl_name", name, DL_NAME_MAX);
            }
        }
    }
    out.u8(multi.esm_class.0);
    out.u8(multi.protocol_id);
    out.u8(multi.priority_flag);
    out.time("schedule_delivery_time", &multi.schedule_delivery_time);
    out.time("validity_period", &multi.validity_period);
    out.u8(multi.registered_delivery.0);
    out.u8(multi.replace_if_present_flag);
    out.u8(multi.data_coding.0);
    out.u8(multi.sm_default_msg_id);
    out.short_message(&multi.short_message, Some(&multi.tlvs));
    out.tlvs(&multi.tlvs);
}

fn write_submit_multi_resp<S: Sink>(out: &mut Out<'_, S>, resp: &SubmitMultiResp) {
    out.c_string("message_id", &resp.message_id, MESSAGE_ID_MAX);
    out.count("no_unsuccess", resp.unsuccess_smes.len(), 0, 255);
    for sme in &resp.unsuccess_smes {
        out.address("destination_addr", &sme.dest_addr, ADDR_MAX);
        out.sink.put_u32(sme.error_status_code.0);
    }
    out.tlvs(&resp.tlvs);
}

fn write_data_sm<S: Sink>(out: &mut Out<'_, S>, data: &DataSm) {
    out.c_string("service_type", &data.service_type, SERVICE_TYPE_MAX);
    out.address("source_addr", &data.source_addr, ADDR_65_MAX);
    out.address("destination_addr", &data.destination_addr, ADDR_65_MAX);
    out.u8(data.esm_class.0);
    out.u8(data.registered_delivery.0);
    out.u8(data.data_coding.0);
    out.tlvs(&data.tlvs);
}

fn write_query_sm<S: Sink>(out: &mut Out<'_, S>, query: &QuerySm) {
    out.c_string("message_id", &query.message_id, MESSAGE_ID_MAX);
    out.address("source_addr", &query.source_addr, ADDR_MAX);
}

fn write_query_sm_resp<S: Sink>(out: &mut Out<'_, S>, resp: &QuerySmResp) {
    out.c_string("message_id", &resp.message_id, MESSAGE_ID_MAX);
    out.time("final_date", &resp.final_date);
    out.u8(resp.message_state);
    out.u8(resp.error_code);
}

fn write_cancel_sm<S: Sink>(out: &mut Out<'_, S>, cancel: &CancelSm) {
    out.c_string("service_type", &cancel.service_type, SERVICE_TYPE_MAX);
    out.c_string("message_id", &cancel.message_id, MESSAGE_ID_MAX);
    out.address("source_addr", &cancel.source_addr, ADDR_MAX);
    out.address("destination_addr", &cancel.destination_addr, ADDR_MAX);
}

fn write_replace_sm<S: Sink>(out: &mut Out<'_, S>, replace: &ReplaceSm) {
    out.c_string("message_id", &replace.message_id, MESSAGE_ID_MAX);
    out.address("source_addr", &replace.source_addr, ADDR_MAX);
    out.time("schedule_delivery_time", &replace.schedule_delivery_time);
    out.time("validity_period", &replace.validity_period);
    out.u8(replace.registered_delivery.0);
    out.u8(replace.sm_default_msg_id);
    out.short_message(&replace.short_message, None);
}

fn write_alert_notification<S: Sink>(out: &mut Out<'_, S>, alert: &AlertNotification) {
    out.address("source_addr", &alert.source_addr, ADDR_65_MAX);
    out.address("esme_addr", &alert.esme_addr, ADDR_65_MAX);
    out.tlvs(&alert.tlvs);
}
