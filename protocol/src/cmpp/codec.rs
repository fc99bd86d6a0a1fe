//! Decoding one CMPP frame and encoding one packet.
//!
//! Framing first ([`FrameDecoder`]: Total_Length checked against the 12-octet header and the
//! cap before anything is buffered), then [`decode`] parses exactly that frame: every field
//! is read through a bounds-checked [`Reader`], every text field is a slice of the frame, and
//! the only allocation is the Dest_terminal_Id list (at most 100 entries, each checked to be
//! in the frame before it is pushed). [`encode`] checks every field first, so a refused
//! packet writes nothing, then writes once.

use bytes::{BufMut, Bytes, BytesMut};

use super::command::CommandId;
use super::pdu::{
    ActiveTestResp, Body, Cancel, CancelResp, Connect, ConnectResp, Deliver, DeliverResp, Pdu,
    Query, QueryResp, Submit, SubmitResp,
};
use super::{DecodeError, Version};
use crate::china::frame::{be_u32, decode_frame};
use crate::china::read::Reader;
use crate::china::write::{check_fixed, check_uint, put_fixed, put_uint};
use crate::china::{DecodeErrorKind, EncodeError};

/// Total_Length(4) Command_Id(4) Sequence_Id(4).
pub const HEADER_LEN: usize = 12;

/// DestUsr_tl: at most 100 destinations per SUBMIT (CMPP 3.0 §7.4.3.3).
const MAX_DESTINATIONS: usize = 100;

/// Splits whole CMPP frames off a stream buffer and decodes them in the link's version.
pub type FrameDecoder = crate::china::FrameDecoder<Pdu, u32>;

impl FrameDecoder {
    /// A decoder for `version` with the default cap.
    #[must_use]
    pub const fn new(version: Version) -> Self {
        match version {
            Version::V2 => Self::with_decoder(HEADER_LEN, |frame| decode(frame, Version::V2)),
            Version::V3 => Self::with_decoder(HEADER_LEN, |frame| decode(frame, Version::V3)),
        }
    }
}

/// Decodes exactly one frame.
///
/// # Errors
/// [`DecodeError`] with the command id, Sequence_Id, field and offset.
pub fn decode(frame: Bytes, version: Version) -> Result<Pdu, DecodeError> {
    let (sequence_id, body) = decode_frame(
        &frame,
        HEADER_LEN,
        version.name(),
        be_u32,
        CommandId::from_u32,
        |reader, command| read_body(reader, command, version),
    )?;
    Ok(Pdu { sequence_id, body })
}

fn read_body(r: &mut Reader<'_>, command: CommandId, v: Version) -> Result<Body, DecodeErrorKind> {
    let terminal = v.terminal_id_len();
    let v3 = v == Version::V3;
    Ok(match command {
        CommandId::Connect => Body::Connect(Connect {
            source_addr: r.fixed(6, "Source_Addr")?,
            authenticator_source: r.array("AuthenticatorSource")?,
            version: r.u8("Version")?,
            timestamp: r.u32("Timestamp")?,
        }),
        CommandId::ConnectResp => Body::ConnectResp(ConnectResp {
            status: r.uint(v.result_len(), "Status")?,
            authenticator_ismg: r.array("AuthenticatorISMG")?,
            version: r.u8("Version")?,
        }),
        CommandId::Terminate => Body::Terminate,
        CommandId::TerminateResp => Body::TerminateResp,
        CommandId::Submit => {
            let msg_id = r.u64("Msg_Id")?;
            let pk_total = r.u8("Pk_total")?;
            let pk_number = r.u8("Pk_number")?;
            let registered_delivery = r.u8("Registered_Delivery")?;
            let msg_level = r.u8("Msg_level")?;
            let service_id = r.fixed(10, "Service_Id")?;
            let fee_user_type = r.u8("Fee_UserType")?;
            let fee_terminal_id = r.fixed(terminal, "Fee_terminal_Id")?;
            let fee_terminal_type = if v3 { r.u8("Fee_terminal_type")? } else { 0 };
            let tp_pid = r.u8("TP_pId")?;
            let tp_udhi = r.u8("TP_udhi")?;
            let msg_fmt = r.u8("Msg_Fmt")?;
            let msg_src = r.fixed(6, "Msg_src")?;
            let fee_type = r.fixed(2, "FeeType")?;
            let fee_code = r.fixed(6, "FeeCode")?;
            let valid_time = r.fixed(17, "ValId_Time")?;
            let at_time = r.fixed(17, "At_Time")?;
            let src_id = r.fixed(21, "Src_Id")?;
            let count_offset = r.offset();
            let count = r.u8("DestUsr_tl")?;
            if count == 0 || usize::from(count) > MAX_DESTINATIONS {
                return Err(DecodeErrorKind::InvalidValue {
                    field: "DestUsr_tl",
                    offset: count_offset,
                    value: u32::from(count),
                });
            }
            let mut dest_terminal_ids = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                dest_terminal_ids.push(r.fixed(terminal, "Dest_terminal_Id")?);
            }
            let dest_terminal_type = if v3 { r.u8("Dest_terminal_type")? } else { 0 };
            let length = r.u8("Msg_Length")?;
            let msg_content = r.octets(usize::from(length), "Msg_Content")?;
            let (link_id, reserve) = read_tail(r, v)?;
            Body::Submit(Submit {
                msg_id,
                pk_total,
                pk_number,
                registered_delivery,
                msg_level,
                service_id,
                fee_user_type,
                fee_terminal_id,
                fee_terminal_type,
                tp_pid,
                tp_udhi,
                msg_fmt,
                msg_src,
                fee_type,
                fee_code,
                valid_time,
                at_time,
                src_id,
                dest_terminal_ids,
                dest_terminal_type,
                msg_content,
                link_id,
                reserve,
            })
        }
        CommandId::SubmitResp => Body::SubmitResp(SubmitResp {
            msg_id: r.u64("Msg_Id")?,
            result: r.uint(v.result_len(), "Result")?,
        }),
        CommandId::Deliver => {
            let msg_id = r.u64("Msg_Id")?;
            let dest_id = r.fixed(21, "Dest_Id")?;
            let service_id = r.fixed(10, "Service_Id")?;
            let tp_pid = r.u8("TP_pid")?;
            let tp_udhi = r.u8("TP_udhi")?;
            let msg_fmt = r.u8("Msg_Fmt")?;
            let src_terminal_id = r.fixed(terminal, "Src_terminal_Id")?;
            let src_terminal_type = if v3 { r.u8("Src_terminal_type")? } else { 0 };
            let registered_delivery = r.u8("Registered_Delivery")?;
            let length = r.u8("Msg_Length")?;
            let msg_content = r.octets(usize::from(length), "Msg_Content")?;
            let (link_id, reserve) = read_tail(r, v)?;
            Body::Deliver(Deliver {
                msg_id,
                dest_id,
                service_id,
                tp_pid,
                tp_udhi,
                msg_fmt,
                src_terminal_id,
                src_terminal_type,
                registered_delivery,
                msg_content,
                link_id,
                reserve,
            })
        }
        CommandId::DeliverResp => Body::DeliverResp(DeliverResp {
            msg_id: r.u64("Msg_Id")?,
            result: r.uint(v.result_len(), "Result")?,
        }),
        CommandId::Query => Body::Query(Query {
            time: r.fixed(8, "Time")?,
            query_type: r.u8("Query_Type")?,
            query_code: r.fixed(10, "Query_Code")?,
            reserve: r.fixed(8, "Reserve")?,
        }),
        CommandId::QueryResp => Body::QueryResp(QueryResp {
            time: r.fixed(8, "Time")?,
            query_type: r.u8("Query_Type")?,
            query_code: r.fixed(10, "Query_Code")?,
            mt_tlmsg: r.u32("MT_TLMsg")?,
            mt_tlusr: r.u32("MT_Tlusr")?,
            mt_scs: r.u32("MT_Scs")?,
            mt_wt: r.u32("MT_WT")?,
            mt_fl: r.u32("MT_FL")?,
            mo_scs: r.u32("MO_Scs")?,
            mo_wt: r.u32("MO_WT")?,
            mo_fl: r.u32("MO_FL")?,
        }),
        CommandId::Cancel => Body::Cancel(Cancel {
            msg_id: r.u64("Msg_Id")?,
        }),
        CommandId::CancelResp => Body::CancelResp(CancelResp {
            success_id: r.uint(v.result_len(), "Success_Id")?,
        }),
        CommandId::ActiveTest => Body::ActiveTest,
        // Some ISMGs answer with a bare header: accepted, Reserved taken as 0.
        CommandId::ActiveTestResp if r.remaining() == 0 => {
            Body::ActiveTestResp(ActiveTestResp::default())
        }
        CommandId::ActiveTestResp => Body::ActiveTestResp(ActiveTestResp {
            reserved: r.u8("Reserved")?,
        }),
    })
}

/// LinkID(20) in 3.0, Reserve(8) in 2.0: `(link_id, reserve)`.
fn read_tail(r: &mut Reader<'_>, v: Version) -> Result<(Bytes, Bytes), DecodeErrorKind> {
    Ok(match v {
        Version::V3 => (r.fixed(20, "LinkID")?, Bytes::new()),
        Version::V2 => (Bytes::new(), r.fixed(8, "Reserve")?),
    })
}

/// Octets `encode` writes for `pdu` (header included).
#[must_use]
#[allow(
    clippy::match_same_arms,
    reason = "each arm is one packet's field table; equal sums are a coincidence"
)]
pub fn encoded_len(pdu: &Pdu, version: Version) -> usize {
    let terminal = version.terminal_id_len();
    let result = version.result_len();
    let v3 = usize::from(version == Version::V3);
    let tail = if v3 == 1 { 20 } else { 8 };
    HEADER_LEN
        + match &pdu.body {
            Body::Connect(_) => 6 + 16 + 1 + 4,
            Body::ConnectResp(_) => result + 16 + 1,
            Body::Terminate | Body::TerminateResp | Body::ActiveTest => 0,
            Body::Submit(s) => {
                8 + 4
                    + 10
                    + 1
                    + terminal
                    + v3
                    + 3
                    + 6
                    + 2
                    + 6
                    + 17
                    + 17
                    + 21
                    + 1
                    + s.dest_terminal_ids.len() * terminal
                    + v3
                    + 1
                    + s.msg_content.len()
                    + tail
            }
            Body::SubmitResp(_) | Body::DeliverResp(_) => 8 + result,
            Body::Deliver(d) => {
                8 + 21 + 10 + 3 + terminal + v3 + 1 + 1 + d.msg_content.len() + tail
            }
            Body::Query(_) => 8 + 1 + 10 + 8,
            Body::QueryResp(_) => 8 + 1 + 10 + 8 * 4,
            Body::Cancel(_) => 8,
            Body::CancelResp(_) => result,
            Body::ActiveTestResp(_) => 1,
        }
}

/// Appends `pdu` to `out`.
///
/// # Errors
/// [`EncodeError`] when a field does not fit; nothing is written then.
pub fn encode(pdu: &Pdu, version: Version, out: &mut BytesMut) -> Result<(), EncodeError> {
    check(&pdu.body, version)?;
    let length = encoded_len(pdu, version);
    out.reserve(length);
    // The cap on every variable part (255 octets of content, 100 destinations) keeps the
    // length far below u32::MAX.
    out.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    out.put_u32(pdu.body.command_id().to_u32());
    out.put_u32(pdu.sequence_id);
    write_body(&pdu.body, version, out);
    Ok(())
}

fn check(body: &Body, v: Version) -> Result<(), EncodeError> {
    let terminal = v.terminal_id_len();
    let result = v.result_len();
    match body {
        Body::Connect(c) => check_fixed(&c.source_addr, 6, "Source_Addr"),
        Body::ConnectResp(c) => check_uint(c.status, result, "Status"),
        Body::Submit(s) => {
            check_fixed(&s.service_id, 10, "Service_Id")?;
            check_fixed(&s.fee_terminal_id, terminal, "Fee_terminal_Id")?;
            check_fixed(&s.msg_src, 6, "Msg_src")?;
            check_fixed(&s.fee_type, 2, "FeeType")?;
            check_fixed(&s.fee_code, 6, "FeeCode")?;
            check_fixed(&s.valid_time, 17, "ValId_Time")?;
            check_fixed(&s.at_time, 17, "At_Time")?;
            check_fixed(&s.src_id, 21, "Src_Id")?;
            let count = s.dest_terminal_ids.len();
            if count == 0 || count > MAX_DESTINATIONS {
                return Err(EncodeError::BadCount {
                    field: "Dest_terminal_Id",
                    count,
                    min: 1,
                    max: MAX_DESTINATIONS,
                });
            }
            for id in &s.dest_terminal_ids {
                check_fixed(id, terminal, "Dest_terminal_Id")?;
            }
            check_fixed(&s.msg_content, 255, "Msg_Content")?;
            check_tail(&s.link_id, &s.reserve, v)
        }
        Body::SubmitResp(s) => check_uint(s.result, result, "Result"),
        Body::Deliver(d) => {
            check_fixed(&d.dest_id, 21, "Dest_Id")?;
            check_fixed(&d.service_id, 10, "Service_Id")?;
            check_fixed(&d.src_terminal_id, terminal, "Src_terminal_Id")?;
            check_fixed(&d.msg_content, 255, "Msg_Content")?;
            check_tail(&d.link_id, &d.reserve, v)
        }
        Body::DeliverResp(d) => check_uint(d.result, result, "Result"),
        Body::Query(q) => {
            check_fixed(&q.time, 8, "Time")?;
            check_fixed(&q.query_code, 10, "Query_Code")?;
            check_fixed(&q.reserve, 8, "Reserve")
        }
        Body::QueryResp(q) => {
            check_fixed(&q.time, 8, "Time")?;
            check_fixed(&q.query_code, 10, "Query_Code")
        }
        Body::CancelResp(c) => check_uint(c.success_id, result, "Success_Id"),
        Body::Terminate
        | Body::TerminateResp
        | Body::ActiveTest
        | Body::Cancel(_)
        | Body::ActiveTestResp(_) => Ok(()),
    }
}

/// Strict on send: a 3.0 field set on a 2.0 packet (or the reverse) would be dropped
/// silently, so it is refused.
fn check_tail(link_id: &[u8], reserve: &[u8], v: Version) -> Result<(), EncodeError> {
    match v {
        Version::V3 => {
            check_fixed(link_id, 20, "LinkID")?;
            check_fixed(reserve, 0, "Reserve (CMPP 2.0 only)")
        }
        Version::V2 => {
            check_fixed(reserve, 8, "Reserve")?;
            check_fixed(link_id, 0, "LinkID (CMPP 3.0 only)")
        }
    }
}

fn write_body(body: &Body, v: Version, out: &mut BytesMut) {
    let terminal = v.terminal_id_len();
    let result = v.result_len();
    let v3 = v == Version::V3;
    match body {
        Body::Connect(c) => {
            put_fixed(out, &c.source_addr, 6);
            out.put_slice(&c.authenticator_source);
            out.put_u8(c.version);
            out.put_u32(c.timestamp);
        }
        Body::ConnectResp(c) => {
            put_uint(out, c.status, result);
            out.put_slice(&c.authenticator_ismg);
            out.put_u8(c.version);
        }
        Body::Terminate | Body::TerminateResp | Body::ActiveTest => {}
        Body::Submit(s) => {
            out.put_u64(s.msg_id);
            out.put_slice(&[s.pk_total, s.pk_number, s.registered_delivery, s.msg_level]);
            put_fixed(out, &s.service_id, 10);
            out.put_u8(s.fee_user_type);
            put_fixed(out, &s.fee_terminal_id, terminal);
            if v3 {
                out.put_u8(s.fee_terminal_type);
            }
            out.put_slice(&[s.tp_pid, s.tp_udhi, s.msg_fmt]);
            put_fixed(out, &s.msg_src, 6);
            put_fixed(out, &s.fee_type, 2);
            put_fixed(out, &s.fee_code, 6);
            put_fixed(out, &s.valid_time, 17);
            put_fixed(out, &s.at_time, 17);
            put_fixed(out, &s.src_id, 21);
            // Checked: 1..=100 entries.
            out.put_u8(u8::try_from(s.dest_terminal_ids.len()).unwrap_or(u8::MAX));
            for id in &s.dest_terminal_ids {
                put_fixed(out, id, terminal);
            }
            if v3 {
                out.put_u8(s.dest_terminal_type);
            }
            put_content(out, &s.msg_content);
            write_tail(out, &s.link_id, &s.reserve, v);
        }
        Body::SubmitResp(s) => {
            out.put_u64(s.msg_id);
            put_uint(out, s.result, result);
        }
        Body::Deliver(d) => {
            out.put_u64(d.msg_id);
            put_fixed(out, &d.dest_id, 21);
            put_fixed(out, &d.service_id, 10);
            out.put_slice(&[d.tp_pid, d.tp_udhi, d.msg_fmt]);
            put_fixed(out, &d.src_terminal_id, terminal);
            if v3 {
                out.put_u8(d.src_terminal_type);
            }
            out.put_u8(d.registered_delivery);
            put_content(out, &d.msg_content);
            write_tail(out, &d.link_id, &d.reserve, v);
        }
        Body::DeliverResp(d) => {
            out.put_u64(d.msg_id);
            put_uint(out, d.result, result);
        }
        Body::Query(q) => {
            put_fixed(out, &q.time, 8);
            out.put_u8(q.query_type);
            put_fixed(out, &q.query_code, 10);
            put_fixed(out, &q.reserve, 8);
        }
        Body::QueryResp(q) => {
            put_fixed(out, &q.time, 8);
            out.put_u8(q.query_type);
            put_fixed(out, &q.query_code, 10);
            for counter in [
                q.mt_tlmsg, q.mt_tlusr, q.mt_scs, q.mt_wt, q.mt_fl, q.mo_scs, q.mo_wt, q.mo_fl,
            ] {
                out.put_u32(counter);
            }
        }
        Body::Cancel(c) => out.put_u64(c.msg_id),
        Body::CancelResp(c) => put_uint(out, c.success_id, result),
        Body::ActiveTestResp(a) => out.put_u8(a.reserved),
    }
}

/// Msg_Length(1) and Msg_Content (checked: at most 255 octets).
fn put_content(out: &mut BytesMut, content: &[u8]) {
    out.put_u8(u8::try_from(content.len()).unwrap_or(u8::MAX));
    out.put_slice(content);
}

fn write_tail(out: &mut BytesMut, link_id: &[u8], reserve: &[u8], v: Version) {
    match v {
        Version::V3 => put_fixed(out, link_id, 20),
        Version::V2 => put_fixed(out, reserve, 8),
    }
}
