//! SMGP 3.0 on the SMPP edge: submit_sm → Submit (PkTotal/PkNumber/TP_udhi as TLVs),
//! Submit_Resp → submit_sm_resp (message id: the 10-octet MsgID as 20 hex digits, as the
//! report's `id:` is printed), Deliver → deliver_sm.

use bytes::{Bytes, BytesMut};
use smppgate_protocol::china::{Decoded, EncodeError};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::smgp::session::Smgp;
use smppgate_protocol::smgp::tlv::{PK_NUMBER, PK_TOTAL, TP_PID, TP_UDHI};
use smppgate_protocol::smgp::{
    Body, CommandId, FrameDecoder, MsgId, Pdu, Report, STATUS_AUTH_FAILED, STATUS_FLOW_CONTROL,
    Submit, Tlv, encode, login_mode,
};

use super::translate::{self, trim};
use super::{Delivered, SubmitSettings, Wire};

/// MsgType 6: an MT message (SMGP 3.0 §5.2.3).
const MSG_TYPE_MT: u8 = 6;
/// Status 1: system busy.
const STATUS_BUSY: u32 = 1;
/// Status 10: bad message structure.
const STATUS_BAD_STRUCTURE: u32 = 10;
/// SrcTermID / DestTermID: 21 octets.
const TERM_ID_MAX: usize = 21;

/// An SMGP link's codec and translation.
#[derive(Debug)]
pub(crate) struct SmgpWire {
    decoder: FrameDecoder,
    settings: SubmitSettings,
}

impl SmgpWire {
    pub(crate) fn new(settings: SubmitSettings) -> Self {
        Self {
            decoder: FrameDecoder::default(),
            settings,
        }
    }
}

/// Submit_Resp Status as an SMPP status (SMGP 3.0 appendix: error codes). Busy and flow
/// control are throttling; the message's faults are permanent; the rest transient.
pub(crate) const fn status_of(status: u32) -> CommandStatus {
    match status {
        0 => CommandStatus::ESME_ROK,
        STATUS_BUSY | STATUS_FLOW_CONTROL => CommandStatus::ESME_RTHROTTLED,
        STATUS_BAD_STRUCTURE => CommandStatus::ESME_RINVCMDLEN,
        11 => CommandStatus::ESME_RINVCMDID,
        12 => CommandStatus::ESME_RSYSERR,
        // 34 bad MsgFormat.
        34 => translate::INVALID_DATA_CODING,
        // 36 bad MsgLength.
        36 => CommandStatus::ESME_RINVMSGLEN,
        // 43 bad ServiceID.
        43 => CommandStatus::ESME_RINVSERTYP,
        // 46 bad SrcTermID.
        46 => CommandStatus::ESME_RINVSRCADR,
        // 47 bad DestTermID.
        47 => CommandStatus::ESME_RINVDSTADR,
        // 30–49: other fields of the message.
        30..=49 => CommandStatus::ESME_RINVPARLEN,
        _ => CommandStatus::ESME_RSUBMITFAIL,
    }
}

fn tlv(tag: u16, value: u8) -> Tlv {
    Tlv {
        tag,
        value: Bytes::copy_from_slice(&[value]),
    }
}

impl Wire for SmgpWire {
    type Pdu = Pdu;
    type Command = CommandId;
    type MsgId = MsgId;
    type Dialect = Smgp;

    fn name(&self) -> &'static str {
        smppgate_protocol::smgp::PROTOCOL
    }

    fn dialect(&self) -> Smgp {
        Smgp {
            login_mode: login_mode::TRANSMIT,
        }
    }

    fn decode(&mut self, input: &mut BytesMut) -> Decoded<Pdu, u32> {
        self.decoder.decode(input)
    }

    fn encode(&self, pdu: &Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
        encode(pdu, out)
    }

    fn submit(&self, submit_sm: &SubmitSm) -> Result<Pdu, CommandStatus> {
        let body = translate::submit_body(submit_sm, self.settings.gbk)?;
        let destination = trim(&submit_sm.destination_addr.addr);
        if destination.is_empty() || destination.len() > TERM_ID_MAX {
            return Err(CommandStatus::ESME_RINVDSTADR);
        }
        let src_id = self.settings.src_id_for(&trim(&submit_sm.source_addr.addr));
        if src_id.len() > TERM_ID_MAX {
            return Err(CommandStatus::ESME_RINVSRCADR);
        }
        let mut tlvs = vec![tlv(TP_PID, submit_sm.protocol_id)];
        if body.udhi {
            tlvs.push(tlv(TP_UDHI, 1));
        }
        if body.total > 1 {
            tlvs.push(tlv(PK_TOTAL, body.total));
            tlvs.push(tlv(PK_NUMBER, body.number));
        }
        Ok(Pdu {
            sequence_id: 0,
            body: Body::Submit(Submit {
                msg_type: MSG_TYPE_MT,
                need_report: u8::from(submit_sm.registered_delivery.wants_receipt()),
                priority: submit_sm.priority_flag.min(3),
                service_id: self.settings.service_id.clone(),
                fee_type: self.settings.fee_type.clone(),
                fee_code: self.settings.fee_code.clone(),
                fixed_fee: Bytes::new(),
                msg_format: body.format,
                valid_time: Bytes::new(),
                at_time: Bytes::new(),
                src_term_id: src_id,
                charge_term_id: Bytes::new(),
                dest_term_ids: vec![destination],
                msg_content: body.content,
                reserve: Bytes::new(),
                tlvs,
            }),
        })
    }

    fn submit_resp(&self, pdu: &Pdu) -> (CommandStatus, Bytes) {
        match &pdu.body {
            Body::SubmitResp(resp) => {
                let status = status_of(resp.status);
                let id = if status.is_ok() {
                    Bytes::from(resp.msg_id.to_string())
                } else {
                    Bytes::new()
                };
                (status, id)
            }
            _ => (CommandStatus::ESME_RSYSERR, Bytes::new()),
        }
    }

    fn deliver(&self, pdu: &Pdu) -> Delivered<MsgId> {
        let Body::Deliver(deliver) = &pdu.body else {
            return Delivered::Refuse {
                msg_id: MsgId::default(),
                result: STATUS_BAD_STRUCTURE,
                why: "not a Deliver".to_owned(),
            };
        };
        if deliver.is_report == 1 {
            let report = match Report::parse(&deliver.msg_content) {
                Ok(report) => report,
                Err(error) => {
                    return Delivered::Refuse {
                        msg_id: deliver.msg_id,
                        result: STATUS_BAD_STRUCTURE,
                        why: format!("status report does not parse: {error:?}"),
                    };
                }
            };
            let text = |b: &Bytes| String::from_utf8_lossy(&trim(b)).into_owned();
            let stat = text(&report.stat);
            let err = text(&report.err);
            let report = translate::Report {
                id: report.id.to_string(),
                err: if err.is_empty() {
                    translate::err_of_stat(&stat)
                } else {
                    err
                },
                stat,
                submit_time: text(&report.submit_date),
                done_time: text(&report.done_date),
                handset: deliver.src_term_id.clone(),
                sp_number: deliver.dest_term_id.clone(),
            };
            return Delivered::Request {
                deliver_sm: Box::new(translate::receipt(&report)),
                msg_id: deliver.msg_id,
            };
        }
        let one = |tag: u16| {
            deliver
                .tlvs
                .iter()
                .find(|t| t.tag == tag)
                .and_then(|t| t.value.first().copied())
                .unwrap_or(0)
        };
        Delivered::Request {
            deliver_sm: Box::new(translate::mo(
                &deliver.src_term_id,
                &deliver.dest_term_id,
                one(TP_PID),
                one(TP_UDHI) & 1 == 1,
                deliver.msg_format,
                &deliver.msg_content,
            )),
            msg_id: deliver.msg_id,
        }
    }

    fn retry_later(&self) -> u32 {
        STATUS_BUSY
    }

    fn login_refused(&self, status: u32) -> CommandStatus {
        match status {
            STATUS_AUTH_FAILED => CommandStatus::ESME_RINVPASWD,
            _ => CommandStatus::ESME_RBINDFAIL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
    use smppgate_protocol::smgp::{Deliver, MsgIdStatus};
    use smppgate_protocol::types::{Address, DataCoding, EsmClass, RegisteredDelivery};

    fn wire() -> SmgpWire {
        SmgpWire::new(SubmitSettings {
            sp_id: Bytes::from_static(b"10000001"),
            src_id: Bytes::from_static(b"1065900"),
            fee_type: Bytes::from_static(b"01"),
            ..SubmitSettings::default()
        })
    }

    const ID: MsgId = MsgId([0x59, 0x01, 0x23, 0x12, 0x06, 0x07, 0x19, 0x00, 0x00, 0x42]);

    #[test]
    fn a_long_message_part_goes_with_pk_tlvs_and_its_id_comes_back_as_hex() {
        let wire = wire();
        let submit_sm = SubmitSm {
            source_addr: Address::international("1065900"),
            destination_addr: Address::international("13300000000"),
            esm_class: EsmClass(EsmClass::UDHI),
            data_coding: DataCoding::UCS2,
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(&[5, 0, 3, 7, 2, 1, 0x6D, 0x4B]),
            ..SubmitSm::default()
        };
        let pdu = wire.submit(&submit_sm).unwrap();
        let mut out = BytesMut::new();
        wire.encode(&pdu, &mut out).unwrap();
        let decoded = smppgate_protocol::smgp::decode(out.freeze()).unwrap();
        assert_eq!(decoded, pdu);
        let Body::Submit(submit) = &pdu.body else {
            panic!()
        };
        assert_eq!((submit.msg_format, submit.need_report), (8, 1));
        let tags: Vec<(u16, u8)> = submit.tlvs.iter().map(|t| (t.tag, t.value[0])).collect();
        assert_eq!(
            tags,
            [(TP_PID, 0), (TP_UDHI, 1), (PK_TOTAL, 2), (PK_NUMBER, 1)]
        );
        let resp = Pdu {
            sequence_id: 1,
            body: Body::SubmitResp(MsgIdStatus {
                msg_id: ID,
                status: 0,
            }),
        };
        assert_eq!(
            wire.submit_resp(&resp),
            (
                CommandStatus::ESME_ROK,
                Bytes::from_static(b"59012312060719000042")
            )
        );
        let busy = Pdu {
            sequence_id: 1,
            body: Body::SubmitResp(MsgIdStatus {
                msg_id: ID,
                status: STATUS_FLOW_CONTROL,
            }),
        };
        assert_eq!(wire.submit_resp(&busy).0, CommandStatus::ESME_RTHROTTLED);
    }

    #[test]
    fn a_report_carries_the_submit_resp_id_and_its_stat() {
        let wire = wire();
        let report = Report {
            id: ID,
            sub: Bytes::from_static(b"001"),
            dlvrd: Bytes::from_static(b"001"),
            submit_date: Bytes::from_static(b"2612060719"),
            done_date: Bytes::from_static(b"2612060720"),
            stat: Bytes::from_static(b"DELIVRD"),
            err: Bytes::from_static(b"000"),
            text: Bytes::new(),
        };
        let pdu = Pdu {
            sequence_id: 5,
            body: Body::Deliver(Deliver {
                msg_id: MsgId([1; 10]),
                is_report: 1,
                msg_format: 0,
                recv_time: Bytes::from_static(b"20261206072000"),
                src_term_id: Bytes::from_static(b"13300000000"),
                dest_term_id: Bytes::from_static(b"1065900"),
                msg_content: report.to_bytes(),
                reserve: Bytes::new(),
                tlvs: Vec::new(),
            }),
        };
        let Delivered::Request { deliver_sm, msg_id } = wire.deliver(&pdu) else {
            panic!()
        };
        assert_eq!(msg_id, MsgId([1; 10]));
        let receipt =
            DeliveryReceipt::from_body(&smppgate_protocol::pdu::Body::DeliverSm(*deliver_sm))
                .unwrap();
        assert_eq!(receipt.id(), Some("59012312060719000042"));
        assert_eq!(receipt.state(), Some(MessageState::Delivered));
    }
}
