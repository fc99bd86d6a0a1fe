//! Decoding one SGIP frame and encoding one packet: the CMPP scheme (see
//! [`crate::cmpp`]'s codec) with a 20-octet header and a 4-octet MessageLength, checked
//! against the frame before the content is sliced.

use bytes::{BufMut, Bytes, BytesMut};

use super::command::CommandId;
use super::pdu::{Bind, Body, Deliver, Pdu, Report, Resp, Submit};
use super::{DecodeError, PROTOCOL, Sequence};
use crate::china::frame::{be_u32, decode_frame};
use crate::china::read::Reader;
use crate::china::write::{check_fixed, put_fixed};
use crate::china::{DecodeErrorKind, EncodeError};

/// Message Length(4) Command ID(4) Sequence Number(12).
pub const HEADER_LEN: usize = 20;

/// UserCount: at most 100.
const MAX_USERS: usize = 100;

/// Splits whole SGIP frames off a stream buffer and decodes them.
pub type FrameDecoder = crate::china::FrameDecoder<Pdu, Sequence>;

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::with_decoder(HEADER_LEN, decode)
    }
}

/// Decodes exactly one frame.
///
/// # Errors
/// [`DecodeError`] with the command id, sequence, field and offset.
pub fn decode(frame: Bytes) -> Result<Pdu, DecodeError> {
    let (sequence, body) = decode_frame(
        &frame,
        HEADER_LEN,
        PROTOCOL,
        sequence_of,
        CommandId::from_u32,
        read_body,
    )?;
    Ok(Pdu { sequence, body })
}

/// The header's 12-octet sequence triple.
fn sequence_of(octets: &[u8]) -> Sequence {
    let word = |at: usize| be_u32(&octets[at.min(octets.len())..]);
    Sequence {
        node_id: word(0),
        time: word(4),
        counter: word(8),
    }
}

fn read_resp(r: &mut Reader<'_>) -> Result<Resp, DecodeErrorKind> {
    Ok(Resp {
        result: r.u8("Result")?,
        reserve: r.fixed(8, "Reserve")?,
    })
}

/// MessageLength(4) and MessageContent: the length is checked against the frame by the
/// reader before anything is sliced; nothing is allocated from it.
fn read_content(r: &mut Reader<'_>) -> Result<Bytes, DecodeErrorKind> {
    let length = r.u32("MessageLength")?;
    r.octets(
        usize::try_from(length).unwrap_or(usize::MAX),
        "MessageContent",
    )
}

fn read_body(r: &mut Reader<'_>, command: CommandId) -> Result<Body, DecodeErrorKind> {
    Ok(match command {
        CommandId::Bind => Body::Bind(Bind {
            login_type: r.u8("Login Type")?,
            login_name: r.fixed(16, "Login Name")?,
            login_password: r.fixed(16, "Login Password")?,
            reserve: r.fixed(8, "Reserve")?,
        }),
        CommandId::BindResp => Body::BindResp(read_resp(r)?),
        CommandId::Unbind => Body::Unbind,
        CommandId::UnbindResp => Body::UnbindResp,
        CommandId::Submit => {
            let sp_number = r.fixed(21, "SPNumber")?;
            let charge_number = r.fixed(21, "ChargeNumber")?;
            let count_offset = r.offset();
            let count = r.u8("UserCount")?;
            if count == 0 || usize::from(count) > MAX_USERS {
                return Err(DecodeErrorKind::InvalidValue {
                    field: "UserCount",
                    offset: count_offset,
                    value: u32::from(count),
                });
            }
            let mut user_numbers = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                user_numbers.push(r.fixed(21, "UserNumber")?);
            }
            Body::Submit(Box::new(Submit {
                sp_number,
                charge_number,
                user_numbers,
                corp_id: r.fixed(5, "CorpId")?,
                service_type: r.fixed(10, "ServiceType")?,
                fee_type: r.u8("FeeType")?,
                fee_value: r.fixed(6, "FeeValue")?,
                given_value: r.fixed(6, "GivenValue")?,
                agent_flag: r.u8("AgentFlag")?,
                morelateto_mt_flag: r.u8("MorelatetoMTFlag")?,
                priority: r.u8("Priority")?,
                expire_time: r.fixed(16, "ExpireTime")?,
                schedule_time: r.fixed(16, "ScheduleTime")?,
                report_flag: r.u8("ReportFlag")?,
                tp_pid: r.u8("TP_pid")?,
                tp_udhi: r.u8("TP_udhi")?,
                message_coding: r.u8("MessageCoding")?,
                message_type: r.u8("MessageType")?,
                message_content: read_content(r)?,
                reserve: r.fixed(8, "Reserve")?,
            }))
        }
        CommandId::SubmitResp => Body::SubmitResp(read_resp(r)?),
        CommandId::Deliver => Body::Deliver(Deliver {
            user_number: r.fixed(21, "UserNumber")?,
            sp_number: r.fixed(21, "SPNumber")?,
            tp_pid: r.u8("TP_pid")?,
            tp_udhi: r.u8("TP_udhi")?,
            message_coding: r.u8("MessageCoding")?,
            message_content: read_content(r)?,
            reserve: r.fixed(8, "Reserve")?,
        }),
        CommandId::DeliverResp => Body::DeliverResp(read_resp(r)?),
        CommandId::Report => Body::Report(Report {
            submit_sequence: Sequence::from_bytes(r.array("SubmitSequenceNumber")?),
            report_type: r.u8("ReportType")?,
            user_number: r.fixed(21, "UserNumber")?,
            state: r.u8("State")?,
            error_code: r.u8("ErrorCode")?,
            reserve: r.fixed(8, "Reserve")?,
        }),
        CommandId::ReportResp => Body::ReportResp(read_resp(r)?),
    })
}

/// Octets `encode` writes for `pdu` (header included).
#[must_use]
pub fn encoded_len(pdu: &Pdu) -> usize {
    HEADER_LEN
        + match &pdu.body {
            Body::Bind(_) => 1 + 16 + 16 + 8,
            Body::BindResp(_)
            | Body::SubmitResp(_)
            | Body::DeliverResp(_)
            | Body::ReportResp(_) => 1 + 8,
            Body::Unbind | Body::UnbindResp => 0,
            Body::Submit(s) => {
                21 + 21
                    + 1
                    + 21 * s.user_numbers.len()
                    + 5
                    + 10
                    + 1
                    + 6
                    + 6
                    + 3
                    + 16
                    + 16
                    + 5
                    + 4
                    + s.message_content.len()
                    + 8
            }
            Body::Deliver(d) => 21 + 21 + 3 + 4 + d.message_content.len() + 8,
            Body::Report(_) => 12 + 1 + 21 + 1 + 1 + 8,
        }
}

/// Appends `pdu` to `out`.
///
/// # Errors
/// [`EncodeError`] when a field does not fit; nothing is written then.
pub fn encode(pdu: &Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
    check(&pdu.body)?;
    let length = encoded_len(pdu);
    let wire_length = u32::try_from(length).map_err(|_| EncodeError::ValueTooLarge {
        field: "Message Length",
        value: u64::try_from(length).unwrap_or(u64::MAX),
        width: 4,
    })?;
    out.reserve(length);
    out.put_u32(wire_length);
    out.put_u32(pdu.body.command_id().to_u32());
    out.put_slice(&pdu.sequence.to_bytes());
    write_body(&pdu.body, out);
    Ok(())
}

fn check(body: &Body) -> Result<(), EncodeError> {
    match body {
        Body::Bind(b) => {
            check_fixed(&b.login_name, 16, "Login Name")?;
            check_fixed(&b.login_password, 16, "Login Password")?;
            check_fixed(&b.reserve, 8, "Reserve")
        }
        Body::BindResp(r) | Body::SubmitResp(r) | Body::DeliverResp(r) | Body::ReportResp(r) => {
            check_fixed(&r.reserve, 8, "Reserve")
        }
        Body::Unbind | Body::UnbindResp => Ok(()),
        Body::Submit(s) => {
            check_fixed(&s.sp_number, 21, "SPNumber")?;
            check_fixed(&s.charge_number, 21, "ChargeNumber")?;
            let count = s.user_numbers.len();
            if count == 0 || count > MAX_USERS {
                return Err(EncodeError::BadCount {
                    field: "UserNumber",
                    count,
                    min: 1,
                    max: MAX_USERS,
                });
            }
            for number in &s.user_numbers {
                check_fixed(number, 21, "UserNumber")?;
            }
            check_fixed(&s.corp_id, 5, "CorpId")?;
            check_fixed(&s.service_type, 10, "ServiceType")?;
            check_fixed(&s.fee_value, 6, "FeeValue")?;
            check_fixed(&s.given_value, 6, "GivenValue")?;
            check_fixed(&s.expire_time, 16, "ExpireTime")?;
            check_fixed(&s.schedule_time, 16, "ScheduleTime")?;
            check_fixed(&s.reserve, 8, "Reserve")
        }
        Body::Deliver(d) => {
            check_fixed(&d.user_number, 21, "UserNumber")?;
            check_fixed(&d.sp_number, 21, "SPNumber")?;
            check_fixed(&d.reserve, 8, "Reserve")
        }
        Body::Report(r) => {
            check_fixed(&r.user_number, 21, "UserNumber")?;
            check_fixed(&r.reserve, 8, "Reserve")
        }
    }
}

fn put_content(out: &mut BytesMut, content: &[u8]) {
    // The whole packet's length fits u32 (checked in `encode`), so the content's does.
    out.put_u32(u32::try_from(content.len()).unwrap_or(u32::MAX));
    out.put_slice(content);
}

fn write_body(body: &Body, out: &mut BytesMut) {
    match body {
        Body::Bind(b) => {
            out.put_u8(b.login_type);
            put_fixed(out, &b.login_name, 16);
            put_fixed(out, &b.login_password, 16);
            put_fixed(out, &b.reserve, 8);
        }
        Body::BindResp(r) | Body::SubmitResp(r) | Body::DeliverResp(r) | Body::ReportResp(r) => {
            out.put_u8(r.result);
            put_fixed(out, &r.reserve, 8);
        }
        Body::Unbind | Body::UnbindResp => {}
        Body::Submit(s) => {
            put_fixed(out, &s.sp_number, 21);
            put_fixed(out, &s.charge_number, 21);
            out.put_u8(u8::try_from(s.user_numbers.len()).unwrap_or(u8::MAX));
            for number in &s.user_numbers {
                put_fixed(out, number, 21);
            }
            put_fixed(out, &s.corp_id, 5);
            put_fixed(out, &s.service_type, 10);
            out.put_u8(s.fee_type);
            put_fixed(out, &s.fee_value, 6);
            put_fixed(out, &s.given_value, 6);
            out.put_slice(&[s.agent_flag, s.morelateto_mt_flag, s.priority]);
            put_fixed(out, &s.expire_time, 16);
            put_fixed(out, &s.schedule_time, 16);
            out.put_slice(&[
                s.report_flag,
                s.tp_pid,
                s.tp_udhi,
                s.message_coding,
                s.message_type,
            ]);
            put_content(out, &s.message_content);
            put_fixed(out, &s.reserve, 8);
        }
        Body::Deliver(d) => {
            put_fixed(out, &d.user_number, 21);
            put_fixed(out, &d.sp_number, 21);
            out.put_slice(&[d.tp_pid, d.tp_udhi, d.message_coding]);
            put_content(out, &d.message_content);
            put_fixed(out, &d.reserve, 8);
        }
        Body::Report(r) => {
            out.put_slice(&r.submit_sequence.to_bytes());
            out.put_u8(r.report_type);
            put_fixed(out, &r.user_number, 21);
            out.put_slice(&[r.state, r.error_code]);
            put_fixed(out, &r.reserve, 8);
        }
    }
}
