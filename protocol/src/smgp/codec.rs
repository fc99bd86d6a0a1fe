//! Decoding one SMGP frame and encoding one packet: the CMPP scheme (see
//! [`crate::cmpp`]'s codec) with TLVs after Submit and Deliver.

use bytes::{BufMut, Bytes, BytesMut};

use super::command::CommandId;
use super::pdu::{Body, Deliver, Login, LoginResp, MsgIdStatus, Pdu, Submit};
use super::tlv::{Tlv, read_all};
use super::{DecodeError, MsgId, PROTOCOL};
use crate::china::frame::{be_u32, decode_frame};
use crate::china::read::Reader;
use crate::china::write::{check_fixed, put_fixed};
use crate::china::{DecodeErrorKind, EncodeError};

/// PacketLength(4) RequestID(4) SequenceID(4).
pub const HEADER_LEN: usize = 12;

/// DestTermIDCount: at most 100.
const MAX_DESTINATIONS: usize = 100;

/// Splits whole SMGP frames off a stream buffer and decodes them.
pub type FrameDecoder = crate::china::FrameDecoder<Pdu, u32>;

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
    let (sequence_id, body) = decode_frame(
        &frame,
        HEADER_LEN,
        PROTOCOL,
        be_u32,
        CommandId::from_u32,
        read_body,
    )?;
    Ok(Pdu { sequence_id, body })
}

fn read_body(r: &mut Reader<'_>, command: CommandId) -> Result<Body, DecodeErrorKind> {
    Ok(match command {
        CommandId::Login => Body::Login(Login {
            client_id: r.fixed(8, "ClientID")?,
            authenticator_client: r.array("AuthenticatorClient")?,
            login_mode: r.u8("LoginMode")?,
            timestamp: r.u32("TimeStamp")?,
            client_version: r.u8("ClientVersion")?,
        }),
        CommandId::LoginResp => Body::LoginResp(LoginResp {
            status: r.u32("Status")?,
            authenticator_server: r.array("AuthenticatorServer")?,
            server_version: r.u8("ServerVersion")?,
        }),
        CommandId::Submit => {
            let msg_type = r.u8("MsgType")?;
            let need_report = r.u8("NeedReport")?;
            let priority = r.u8("Priority")?;
            let service_id = r.fixed(10, "ServiceID")?;
            let fee_type = r.fixed(2, "FeeType")?;
            let fee_code = r.fixed(6, "FeeCode")?;
            let fixed_fee = r.fixed(6, "FixedFee")?;
            let msg_format = r.u8("MsgFormat")?;
            let valid_time = r.fixed(17, "ValidTime")?;
            let at_time = r.fixed(17, "AtTime")?;
            let src_term_id = r.fixed(21, "SrcTermID")?;
            let charge_term_id = r.fixed(21, "ChargeTermID")?;
            let count_offset = r.offset();
            let count = r.u8("DestTermIDCount")?;
            if count == 0 || usize::from(count) > MAX_DESTINATIONS {
                return Err(DecodeErrorKind::InvalidValue {
                    field: "DestTermIDCount",
                    offset: count_offset,
                    value: u32::from(count),
                });
            }
            let mut dest_term_ids = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                dest_term_ids.push(r.fixed(21, "DestTermID")?);
            }
            let length = r.u8("MsgLength")?;
            let msg_content = r.octets(usize::from(length), "MsgContent")?;
            let reserve = r.fixed(8, "Reserve")?;
            let tlvs = read_all(r)?;
            Body::Submit(Submit {
                msg_type,
                need_report,
                priority,
                service_id,
                fee_type,
                fee_code,
                fixed_fee,
                msg_format,
                valid_time,
                at_time,
                src_term_id,
                charge_term_id,
                dest_term_ids,
                msg_content,
                reserve,
                tlvs,
            })
        }
        CommandId::SubmitResp => Body::SubmitResp(read_msg_id_status(r)?),
        CommandId::Deliver => {
            let msg_id = MsgId(r.array("MsgID")?);
            let is_report = r.u8("IsReport")?;
            let msg_format = r.u8("MsgFormat")?;
            let recv_time = r.fixed(14, "RecvTime")?;
            let src_term_id = r.fixed(21, "SrcTermID")?;
            let dest_term_id = r.fixed(21, "DestTermID")?;
            let length = r.u8("MsgLength")?;
            let msg_content = r.octets(usize::from(length), "MsgContent")?;
            let reserve = r.fixed(8, "Reserve")?;
            let tlvs = read_all(r)?;
            Body::Deliver(Deliver {
                msg_id,
                is_report,
                msg_format,
                recv_time,
                src_term_id,
                dest_term_id,
                msg_content,
                reserve,
                tlvs,
            })
        }
        CommandId::DeliverResp => Body::DeliverResp(read_msg_id_status(r)?),
        CommandId::ActiveTest => Body::ActiveTest,
        CommandId::ActiveTestResp => Body::ActiveTestResp,
        CommandId::Exit => Body::Exit,
        CommandId::ExitResp => Body::ExitResp,
    })
}

fn read_msg_id_status(r: &mut Reader<'_>) -> Result<MsgIdStatus, DecodeErrorKind> {
    Ok(MsgIdStatus {
        msg_id: MsgId(r.array("MsgID")?),
        status: r.u32("Status")?,
    })
}

fn tlvs_len(tlvs: &[Tlv]) -> usize {
    tlvs.iter().map(Tlv::encoded_len).sum()
}

/// Octets `encode` writes for `pdu` (header included).
#[must_use]
pub fn encoded_len(pdu: &Pdu) -> usize {
    HEADER_LEN
        + match &pdu.body {
            Body::Login(_) => 8 + 16 + 1 + 4 + 1,
            Body::LoginResp(_) => 4 + 16 + 1,
            Body::Submit(s) => {
                3 + 10
                    + 2
                    + 6
                    + 6
                    + 1
                    + 17
                    + 17
                    + 21
                    + 21
                    + 1
                    + 21 * s.dest_term_ids.len()
                    + 1
                    + s.msg_content.len()
                    + 8
                    + tlvs_len(&s.tlvs)
            }
            Body::SubmitResp(_) | Body::DeliverResp(_) => 10 + 4,
            Body::Deliver(d) => {
                10 + 1 + 1 + 14 + 21 + 21 + 1 + d.msg_content.len() + 8 + tlvs_len(&d.tlvs)
            }
            Body::ActiveTest | Body::ActiveTestResp | Body::Exit | Body::ExitResp => 0,
        }
}

/// Appends `pdu` to `out`.
///
/// # Errors
/// [`EncodeError`] when a field does not fit; nothing is written then.
pub fn encode(pdu: &Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
    check(&pdu.body)?;
    let length = encoded_len(pdu);
    out.reserve(length);
    out.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    out.put_u32(pdu.body.command_id().to_u32());
    out.put_u32(pdu.sequence_id);
    write_body(&pdu.body, out);
    Ok(())
}

fn check_tlvs(tlvs: &[Tlv]) -> Result<(), EncodeError> {
    for tlv in tlvs {
        check_fixed(&tlv.value, usize::from(u16::MAX), "TLV value")?;
    }
    Ok(())
}

fn check(body: &Body) -> Result<(), EncodeError> {
    match body {
        Body::Login(l) => check_fixed(&l.client_id, 8, "ClientID"),
        Body::Submit(s) => {
            check_fixed(&s.service_id, 10, "ServiceID")?;
            check_fixed(&s.fee_type, 2, "FeeType")?;
            check_fixed(&s.fee_code, 6, "FeeCode")?;
            check_fixed(&s.fixed_fee, 6, "FixedFee")?;
            check_fixed(&s.valid_time, 17, "ValidTime")?;
            check_fixed(&s.at_time, 17, "AtTime")?;
            check_fixed(&s.src_term_id, 21, "SrcTermID")?;
            check_fixed(&s.charge_term_id, 21, "ChargeTermID")?;
            let count = s.dest_term_ids.len();
            if count == 0 || count > MAX_DESTINATIONS {
                return Err(EncodeError::BadCount {
                    field: "DestTermID",
                    count,
                    min: 1,
                    max: MAX_DESTINATIONS,
                });
            }
            for id in &s.dest_term_ids {
                check_fixed(id, 21, "DestTermID")?;
            }
            check_fixed(&s.msg_content, 255, "MsgContent")?;
            check_fixed(&s.reserve, 8, "Reserve")?;
            check_tlvs(&s.tlvs)
        }
        Body::Deliver(d) => {
            check_fixed(&d.recv_time, 14, "RecvTime")?;
            check_fixed(&d.src_term_id, 21, "SrcTermID")?;
            check_fixed(&d.dest_term_id, 21, "DestTermID")?;
            check_fixed(&d.msg_content, 255, "MsgContent")?;
            check_fixed(&d.reserve, 8, "Reserve")?;
            check_tlvs(&d.tlvs)
        }
        Body::LoginResp(_)
        | Body::SubmitResp(_)
        | Body::DeliverResp(_)
        | Body::ActiveTest
        | Body::ActiveTestResp
        | Body::Exit
        | Body::ExitResp => Ok(()),
    }
}

fn put_tlvs(out: &mut BytesMut, tlvs: &[Tlv]) {
    for tlv in tlvs {
        out.put_u16(tlv.tag);
        // Checked: at most u16::MAX octets.
        out.put_u16(u16::try_from(tlv.value.len()).unwrap_or(u16::MAX));
        out.put_slice(&tlv.value);
    }
}

fn put_content(out: &mut BytesMut, content: &[u8]) {
    // Checked: at most 255 octets.
    out.put_u8(u8::try_from(content.len()).unwrap_or(u8::MAX));
    out.put_slice(content);
}

fn write_body(body: &Body, out: &mut BytesMut) {
    match body {
        Body::Login(l) => {
            put_fixed(out, &l.client_id, 8);
            out.put_slice(&l.authenticator_client);
            out.put_u8(l.login_mode);
            out.put_u32(l.timestamp);
            out.put_u8(l.client_version);
        }
        Body::LoginResp(l) => {
            out.put_u32(l.status);
            out.put_slice(&l.authenticator_server);
            out.put_u8(l.server_version);
        }
        Body::Submit(s) => {
            out.put_slice(&[s.msg_type, s.need_report, s.priority]);
            put_fixed(out, &s.service_id, 10);
            put_fixed(out, &s.fee_type, 2);
            put_fixed(out, &s.fee_code, 6);
            put_fixed(out, &s.fixed_fee, 6);
            out.put_u8(s.msg_format);
            put_fixed(out, &s.valid_time, 17);
            put_fixed(out, &s.at_time, 17);
            put_fixed(out, &s.src_term_id, 21);
            put_fixed(out, &s.charge_term_id, 21);
            out.put_u8(u8::try_from(s.dest_term_ids.len()).unwrap_or(u8::MAX));
            for id in &s.dest_term_ids {
                put_fixed(out, id, 21);
            }
            put_content(out, &s.msg_content);
            put_fixed(out, &s.reserve, 8);
            put_tlvs(out, &s.tlvs);
        }
        Body::SubmitResp(r) | Body::DeliverResp(r) => {
            out.put_slice(&r.msg_id.0);
            out.put_u32(r.status);
        }
        Body::Deliver(d) => {
            out.put_slice(&d.msg_id.0);
            out.put_slice(&[d.is_report, d.msg_format]);
            put_fixed(out, &d.recv_time, 14);
            put_fixed(out, &d.src_term_id, 21);
            put_fixed(out, &d.dest_term_id, 21);
            put_content(out, &d.msg_content);
            put_fixed(out, &d.reserve, 8);
            put_tlvs(out, &d.tlvs);
        }
        Body::ActiveTest | Body::ActiveTestResp | Body::Exit | Body::ExitResp => {}
    }
}
