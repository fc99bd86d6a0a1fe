//! CMPP 2.0/3.0 on the SMPP edge: submit_sm → CMPP_SUBMIT, SUBMIT_RESP → submit_sm_resp
//! (message id: the 64-bit Msg_Id in decimal, the same string the receipts carry),
//! DELIVER → deliver_sm.

use bytes::{Bytes, BytesMut};
use smppgate_protocol::china::{Decoded, EncodeError};
use smppgate_protocol::cmpp::session::Cmpp;
use smppgate_protocol::cmpp::{
    Body, CommandId, FrameDecoder, Pdu, RESULT_FLOW_CONTROL, STATUS_AUTH_FAILED, StatusReport,
    Submit, Version, encode,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;

use super::translate::{self, Report, trim};
use super::{Delivered, SubmitSettings, Wire};

/// CONNECT_RESP Status 2: unknown Source_Addr.
const STATUS_BAD_SOURCE_ADDR: u32 = 2;
/// DELIVER_RESP Result 1: bad message structure.
const RESULT_BAD_STRUCTURE: u32 = 1;

/// A CMPP link's codec and translation.
#[derive(Debug)]
pub(crate) struct CmppWire {
    version: Version,
    decoder: FrameDecoder,
    settings: SubmitSettings,
}

impl CmppWire {
    pub(crate) const fn new(version: Version, settings: SubmitSettings) -> Self {
        Self {
            version,
            decoder: FrameDecoder::new(version),
            settings,
        }
    }
}

/// SUBMIT_RESP Result as an SMPP status (CMPP 3.0 §7.4.3.4; 2.0 the same for 0–8).
/// Flow control is throttling; the message's own faults are permanent; the rest is
/// the gateway's trouble (`ESME_RSUBMITFAIL`, retried by the default table).
pub(crate) const fn status_of_result(result: u32) -> CommandStatus {
    match result {
        0 => CommandStatus::ESME_ROK,
        // 1 bad structure, 2 bad command.
        1 => CommandStatus::ESME_RINVCMDLEN,
        2 => CommandStatus::ESME_RINVCMDID,
        // 3 duplicate sequence: a retry with a new one can pass.
        3 => CommandStatus::ESME_RSYSERR,
        // 4 bad length, 6 longer than the maximum.
        4 | 6 => CommandStatus::ESME_RINVMSGLEN,
        // 5 bad fee code, 12 bad Fee_terminal_Id.
        5 | 12 => CommandStatus::ESME_RINVPARLEN,
        // 7 bad Service_Id.
        7 => CommandStatus::ESME_RINVSERTYP,
        RESULT_FLOW_CONTROL => CommandStatus::ESME_RTHROTTLED,
        // 9 this gateway does not serve the number (2.0); 13 bad Dest_terminal_Id.
        9 | 13 => CommandStatus::ESME_RINVDSTADR,
        // 10 bad Src_Id, 11 bad Msg_src.
        10 | 11 => CommandStatus::ESME_RINVSRCADR,
        _ => CommandStatus::ESME_RSUBMITFAIL,
    }
}

impl Wire for CmppWire {
    type Pdu = Pdu;
    type Command = CommandId;
    type MsgId = u64;
    type Dialect = Cmpp;

    fn name(&self) -> &'static str {
        self.version.name()
    }

    fn dialect(&self) -> Cmpp {
        Cmpp(self.version)
    }

    fn decode(&mut self, input: &mut BytesMut) -> Decoded<Pdu, u32> {
        self.decoder.decode(input)
    }

    fn encode(&self, pdu: &Pdu, out: &mut BytesMut) -> Result<(), EncodeError> {
        encode(pdu, self.version, out)
    }

    fn submit(&self, submit_sm: &SubmitSm) -> Result<Pdu, CommandStatus> {
        let body = translate::submit_body(submit_sm, self.settings.gbk)?;
        let terminal = self.version.terminal_id_len();
        let destination = trim(&submit_sm.destination_addr.addr);
        if destination.is_empty() || destination.len() > terminal {
            return Err(CommandStatus::ESME_RINVDSTADR);
        }
        let src_id = self.settings.src_id_for(&trim(&submit_sm.source_addr.addr));
        if src_id.len() > 21 {
            return Err(CommandStatus::ESME_RINVSRCADR);
        }
        Ok(Pdu {
            sequence_id: 0,
            body: Body::Submit(Submit {
                msg_id: 0,
                pk_total: body.total,
                pk_number: body.number,
                // CMPP has one bit: a report or none. Ask on every part (some gateways
                // report only the parts that ask).
                registered_delivery: u8::from(submit_sm.registered_delivery.wants_receipt()),
                msg_level: submit_sm.priority_flag.min(9),
                service_id: self.settings.service_id.clone(),
                fee_user_type: self.settings.fee_user_type,
                fee_terminal_id: Bytes::new(),
                fee_terminal_type: 0,
                tp_pid: submit_sm.protocol_id,
                tp_udhi: u8::from(body.udhi),
                msg_fmt: body.format,
                msg_src: self.settings.sp_id.clone(),
                fee_type: self.settings.fee_type.clone(),
                fee_code: self.settings.fee_code.clone(),
                valid_time: Bytes::new(),
                at_time: Bytes::new(),
                src_id,
                dest_terminal_ids: vec![destination],
                dest_terminal_type: 0,
                msg_content: body.content,
                link_id: Bytes::new(),
                reserve: Bytes::new(),
            }),
        })
    }

    fn submit_resp(&self, pdu: &Pdu) -> (CommandStatus, Bytes) {
        match &pdu.body {
            Body::SubmitResp(resp) => {
                let status = status_of_result(resp.result);
                let id = if status.is_ok() {
                    Bytes::from(resp.msg_id.to_string())
                } else {
                    Bytes::new()
                };
                (status, id)
            }
            // The session pairs responses with requests by kind: cannot happen.
            _ => (CommandStatus::ESME_RSYSERR, Bytes::new()),
        }
    }

    fn deliver(&self, pdu: &Pdu) -> Delivered<u64> {
        let Body::Deliver(deliver) = &pdu.body else {
            return Delivered::Refuse {
                msg_id: 0,
                result: RESULT_BAD_STRUCTURE,
                why: "not a DELIVER".to_owned(),
            };
        };
        if deliver.registered_delivery == 1 {
            let report = match StatusReport::parse(&deliver.msg_content, self.version) {
                Ok(report) => report,
                Err(error) => {
                    return Delivered::Refuse {
                        msg_id: deliver.msg_id,
                        result: RESULT_BAD_STRUCTURE,
                        why: format!("status report does not parse: {error:?}"),
                    };
                }
            };
            let text = |b: &Bytes| String::from_utf8_lossy(&trim(b)).into_owned();
            let stat = text(&report.stat);
            let report = Report {
                id: report.msg_id.to_string(),
                err: translate::err_of_stat(&stat),
                stat,
                submit_time: text(&report.submit_time),
                done_time: text(&report.done_time),
                handset: report.dest_terminal_id,
                sp_number: deliver.dest_id.clone(),
            };
            return Delivered::Request {
                deliver_sm: Box::new(translate::receipt(&report)),
                msg_id: deliver.msg_id,
            };
        }
        Delivered::Request {
            deliver_sm: Box::new(translate::mo(
                &deliver.src_terminal_id,
                &deliver.dest_id,
                deliver.tp_pid,
                deliver.tp_udhi & 1 == 1,
                deliver.msg_fmt,
                &deliver.msg_content,
            )),
            msg_id: deliver.msg_id,
        }
    }

    fn retry_later(&self) -> u32 {
        // "Flow control": the ISMG sends the DELIVER again later.
        RESULT_FLOW_CONTROL
    }

    fn login_refused(&self, status: u32) -> CommandStatus {
        match status {
            STATUS_AUTH_FAILED => CommandStatus::ESME_RINVPASWD,
            STATUS_BAD_SOURCE_ADDR => CommandStatus::ESME_RINVSYSID,
            _ => CommandStatus::ESME_RBINDFAIL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smppgate_protocol::cmpp::{Deliver, SubmitResp};
    use smppgate_protocol::pdu::DeliverSm;
    use smppgate_protocol::receipt::{DeliveryReceipt, MessageState};
    use smppgate_protocol::types::{Address, DataCoding, EsmClass, RegisteredDelivery};

    fn wire(version: Version) -> CmppWire {
        CmppWire::new(
            version,
            SubmitSettings {
                sp_id: Bytes::from_static(b"900001"),
                service_id: Bytes::from_static(b"MI"),
                src_id: Bytes::from_static(b"10690001"),
                fee_type: Bytes::from_static(b"01"),
                fee_code: Bytes::new(),
                fee_user_type: 2,
                gbk: false,
            },
        )
    }

    #[test]
    fn a_submit_sm_part_becomes_a_cmpp_submit_that_encodes() {
        let wire = wire(Version::V3);
        let submit_sm = SubmitSm {
            source_addr: Address::international("106900018"),
            destination_addr: Address::international("13800138000"),
            esm_class: EsmClass(EsmClass::UDHI),
            data_coding: DataCoding::UCS2,
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(&[5, 0, 3, 7, 2, 2, 0x6D, 0x4B]),
            ..SubmitSm::default()
        };
        let pdu = wire.submit(&submit_sm).unwrap();
        let Body::Submit(submit) = &pdu.body else {
            panic!("{pdu:?}")
        };
        assert_eq!(
            (submit.pk_total, submit.pk_number, submit.tp_udhi),
            (2, 2, 1)
        );
        assert_eq!((submit.msg_fmt, submit.registered_delivery), (8, 1));
        // The upstream source extends the access number: kept.
        assert_eq!(&submit.src_id[..], b"106900018");
        assert_eq!(&submit.msg_src[..], b"900001");
        assert_eq!(
            submit.dest_terminal_ids,
            [Bytes::from_static(b"13800138000")]
        );
        let mut out = BytesMut::new();
        wire.encode(&pdu, &mut out).unwrap();
        let decoded = smppgate_protocol::cmpp::decode(out.freeze(), Version::V3).unwrap();
        assert_eq!(decoded, pdu);
        // Another source is replaced by the access number.
        let mut other = submit_sm;
        other.source_addr = Address::international("12345");
        let Body::Submit(submit) = wire.submit(&other).unwrap().body else {
            panic!()
        };
        assert_eq!(&submit.src_id[..], b"10690001");
        // A destination wider than the field is refused before it goes.
        other.destination_addr = Address::international("1".repeat(33));
        assert_eq!(wire.submit(&other), Err(CommandStatus::ESME_RINVDSTADR));
    }

    #[test]
    fn results_map_to_smpp_statuses() {
        let wire = wire(Version::V2);
        let resp = |result| Pdu {
            sequence_id: 1,
            body: Body::SubmitResp(SubmitResp {
                msg_id: 12_878_564_852_733_378_560,
                result,
            }),
        };
        assert_eq!(
            wire.submit_resp(&resp(0)),
            (
                CommandStatus::ESME_ROK,
                Bytes::from_static(b"12878564852733378560")
            )
        );
        assert_eq!(wire.submit_resp(&resp(8)).0, CommandStatus::ESME_RTHROTTLED);
        assert_eq!(
            wire.submit_resp(&resp(13)).0,
            CommandStatus::ESME_RINVDSTADR
        );
        assert_eq!(
            wire.submit_resp(&resp(77)).0,
            CommandStatus::ESME_RSUBMITFAIL
        );
        assert_eq!(wire.login_refused(3), CommandStatus::ESME_RINVPASWD);
    }

    fn deliver(registered_delivery: u8, content: Bytes) -> Pdu {
        Pdu {
            sequence_id: 9,
            body: Body::Deliver(Deliver {
                msg_id: 42,
                dest_id: Bytes::from_static(b"10690001"),
                service_id: Bytes::from_static(b"MI"),
                tp_pid: 0,
                tp_udhi: 0,
                msg_fmt: 8,
                src_terminal_id: Bytes::from_static(b"13800138000"),
                src_terminal_type: 0,
                registered_delivery,
                msg_content: content,
                link_id: Bytes::new(),
                reserve: Bytes::new(),
            }),
        }
    }

    fn request(delivered: Delivered<u64>) -> (DeliverSm, u64) {
        match delivered {
            Delivered::Request { deliver_sm, msg_id } => (*deliver_sm, msg_id),
            other @ Delivered::Refuse { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_status_report_becomes_a_receipt_with_the_submit_resp_id() {
        for version in [Version::V2, Version::V3] {
            let report = StatusReport {
                msg_id: 12_878_564_852_733_378_560,
                stat: Bytes::from_static(b"UNDELIV"),
                submit_time: Bytes::from_static(b"2612060719"),
                done_time: Bytes::from_static(b"2612060720"),
                dest_terminal_id: Bytes::from_static(b"13800138000"),
                smsc_sequence: 1,
            };
            let wire = wire(version);
            let pdu = deliver(1, report.to_bytes(version).unwrap());
            let (sm, msg_id) = request(wire.deliver(&pdu));
            assert_eq!(msg_id, 42);
            let receipt =
                DeliveryReceipt::from_body(&smppgate_protocol::pdu::Body::DeliverSm(sm)).unwrap();
            // The same string as submit_sm_resp's message_id for that Msg_Id.
            assert_eq!(receipt.id(), Some("12878564852733378560"));
            assert_eq!(receipt.state(), Some(MessageState::Undeliverable));
            assert_eq!(receipt.text.stat.as_deref(), Some("UNDELIV"));
            // A cut report is answered Result 1, not handed on.
            let cut = deliver(1, Bytes::from_static(&[0; 20]));
            assert!(matches!(
                wire.deliver(&cut),
                Delivered::Refuse {
                    msg_id: 42,
                    result: 1,
                    ..
                }
            ));
        }
    }

    #[test]
    fn an_mo_becomes_an_mo_deliver_sm() {
        let wire = wire(Version::V3);
        // 退订 in UCS-2.
        let pdu = deliver(0, Bytes::from_static(&[0x90, 0x00, 0x8B, 0xA2]));
        let (sm, _) = request(wire.deliver(&pdu));
        assert_eq!(sm.data_coding, DataCoding::UCS2);
        assert!(!sm.esm_class.is_delivery_receipt());
        assert_eq!(&sm.source_addr.addr[..], b"13800138000");
        assert_eq!(&sm.destination_addr.addr[..], b"10690001");
    }
}
