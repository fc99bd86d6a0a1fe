//! What CMPP and SMGP translation share: the message body of a submit_sm as a Chinese
//! Msg_Fmt and content, and the deliver_sm a status report or an MO becomes.

use bytes::{BufMut, Bytes, BytesMut};
use smppgate_protocol::china::text::{FORMAT_ASCII, FORMAT_BINARY, FORMAT_GBK, FORMAT_UCS2};
use smppgate_protocol::china::text::{decode_text, encode_text};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DeliverSm, SM_LENGTH_MAX, SubmitSm};
use smppgate_protocol::receipt::MessageState;
use smppgate_protocol::text::{Concat, Udh, UdhBytes};
use smppgate_protocol::tlv::{Tlv, Tlvs};
use smppgate_protocol::types::{Address, DataCoding, EsmClass, Npi, Ton};

/// 0x104: SMPP 5.0's ESME_RINVDCS (3.4 has no status for a data_coding that cannot go);
/// permanent in the pool's table, as it should be: no carrier of this kind can take it.
pub(crate) const INVALID_DATA_CODING: CommandStatus = CommandStatus(0x0104);

/// A submit_sm's body as a Chinese SUBMIT carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    /// TP_udhi: the content starts with a user data header.
    pub(crate) udhi: bool,
    /// Pk_total, Pk_number (1, 1 for a message of one part).
    pub(crate) total: u8,
    /// Pk_number.
    pub(crate) number: u8,
    /// Msg_Fmt.
    pub(crate) format: u8,
    /// Msg_Content (UDH included).
    pub(crate) content: Bytes,
}

/// The Msg_Fmt and content of a submit_sm: UCS-2 stays UCS-2 (or becomes GBK when the
/// carrier wants it), ASCII in data_coding 0/1/3 goes as 0, binary as 4; the UDH the
/// splitter put in front is kept and its concatenation element gives Pk_total/Pk_number
/// (a SAR-split part gets a UDH built from its TLVs: the Chinese protocols have no SAR).
///
/// # Errors
/// [`INVALID_DATA_CODING`] for text these protocols cannot carry as split (GSM or Latin-1 text that
/// is not ASCII: re-encoding it would break the parts' lengths), `ESME_RINVESMCLASS` for a
/// UDH that does not parse, `ESME_RINVMSGLEN` for content over 255 octets.
pub(crate) fn submit_body(submit_sm: &SubmitSm, gbk: bool) -> Result<Body, CommandStatus> {
    let payload = submit_sm.payload();
    let (udh_len, mut concat) = if submit_sm.esm_class.udhi() {
        let (udh, _) = Udh::split(&payload).map_err(|_| CommandStatus::ESME_RINVESMCLASS)?;
        (udh.len(), udh.concat())
    } else {
        (0, None)
    };
    // A SAR-split part: the Chinese protocols carry concatenation in a UDH only.
    let mut sar_udh = None;
    if udh_len == 0
        && let Some(sar) = submit_sm.tlvs.sar()
    {
        let sar = Concat {
            reference: sar.msg_ref_num,
            wide_reference: true,
            total: sar.total_segments,
            seq: sar.segment_seqnum,
        };
        sar_udh = Some(UdhBytes::concat(sar));
        concat = Some(sar);
    }
    let text = &payload[udh_len..];
    // What replaces the text, when it must be re-encoded (UCS-2 to a GBK link).
    let (format, transcoded): (u8, Option<Vec<u8>>) = match submit_sm.data_coding {
        DataCoding::UCS2 if gbk => {
            let text = decode_text(FORMAT_UCS2, text).ok_or(INVALID_DATA_CODING)?;
            let gbk = encode_text(FORMAT_GBK, &text).ok_or(INVALID_DATA_CODING)?;
            (FORMAT_GBK, Some(gbk))
        }
        DataCoding::UCS2 => (FORMAT_UCS2, None),
        DataCoding::SMSC_DEFAULT | DataCoding::IA5 | DataCoding::LATIN1 if text.is_ascii() => {
            (FORMAT_ASCII, None)
        }
        DataCoding::BINARY | DataCoding::BINARY_2 => (FORMAT_BINARY, None),
        // GSM class group with 8-bit data (bit 2).
        DataCoding(c) if c & 0xF4 == 0xF4 => (FORMAT_BINARY, None),
        DataCoding(c) if c & 0xF4 == 0xF0 && text.is_ascii() => (FORMAT_ASCII, None),
        _ => return Err(INVALID_DATA_CODING),
    };
    let content = match (&sar_udh, transcoded) {
        // The common case: the payload as it is, UDH included (no copy).
        (None, None) => payload.clone(),
        (sar_udh, transcoded) => {
            let udh = sar_udh
                .as_ref()
                .map_or(&payload[..udh_len], UdhBytes::as_bytes);
            let text = transcoded.as_deref().unwrap_or(text);
            let mut out = BytesMut::with_capacity(udh.len() + text.len());
            out.put_slice(udh);
            out.put_slice(text);
            out.freeze()
        }
    };
    if content.len() > usize::from(u8::MAX) {
        return Err(CommandStatus::ESME_RINVMSGLEN);
    }
    let (total, number) = concat.map_or((1, 1), |c| (c.total.max(1), c.seq.max(1)));
    Ok(Body {
        udhi: udh_len > 0 || sar_udh.is_some(),
        total,
        number,
        format,
        content,
    })
}

fn address(octets: &Bytes) -> Address {
    Address::new(Ton::UNKNOWN, Npi::ISDN, trim(octets))
}

/// A fixed-width field without its 0x00 padding (and surrounding spaces some gateways
/// add).
pub(crate) fn trim(octets: &Bytes) -> Bytes {
    let end = octets
        .iter()
        .rposition(|b| *b != 0 && *b != b' ')
        .map_or(0, |i| i + 1);
    let start = octets[..end].iter().position(|b| *b != b' ').unwrap_or(end);
    octets.slice(start..end)
}

/// What a status report says, the protocols' fields as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// The carrier's id of the part, written as its submit response's was.
    pub(crate) id: String,
    /// Stat as the carrier wrote it (DELIVRD, UNDELIV, MK:0001, …).
    pub(crate) stat: String,
    /// Submit_time (YYMMDDHHMM).
    pub(crate) submit_time: String,
    /// Done_time.
    pub(crate) done_time: String,
    /// err: as written, or derived from the Stat's number.
    pub(crate) err: String,
    /// The handset.
    pub(crate) handset: Bytes,
    /// The SP number it was sent from.
    pub(crate) sp_number: Bytes,
}

/// The message_state of a Stat: the SMPP names, and every carrier-specific code
/// (MK:xxxx, DB:xxxx, ID:xxxx, …, which carriers send for failures) as UNDELIV.
pub(crate) fn state_of_stat(stat: &str) -> MessageState {
    MessageState::from_stat(stat).unwrap_or(MessageState::Undeliverable)
}

/// A status report as a deliver_sm receipt: `id:<id> sub:001 dlvrd:00N submit date:…
/// done date:… stat:<Stat as given> err:…`, receipted_message_id = the same id and
/// message_state (a carrier code such as MK:0001 is UNDELIV there).
pub(crate) fn receipt(report: &Report) -> DeliverSm {
    let state = state_of_stat(&report.stat);
    let dlvrd = u8::from(state == MessageState::Delivered);
    let text = format!(
        "id:{} sub:001 dlvrd:{dlvrd:03} submit date:{} done date:{} stat:{} err:{} text:",
        report.id, report.submit_time, report.done_time, report.stat, report.err
    );
    let tlvs = Tlvs::builder()
        .push(Tlv::ReceiptedMessageId(Bytes::from(report.id.clone())))
        .push(Tlv::MessageState(state.as_u8()))
        .build()
        .unwrap_or_default();
    DeliverSm {
        source_addr: address(&report.handset),
        destination_addr: address(&report.sp_number),
        esm_class: EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT),
        short_message: Bytes::from(text),
        tlvs,
        ..DeliverSm::default()
    }
}

/// `err:` for a Stat: DELIVRD is 000; a carrier code's number (MK:0001 → 001, its last
/// three digits); anything else 000.
pub(crate) fn err_of_stat(stat: &str) -> String {
    let digits: String = stat
        .rsplit(':')
        .next()
        .filter(|tail| stat.contains(':') && tail.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("0")
        .to_owned();
    let tail = &digits[digits.len().saturating_sub(3)..];
    format!("{tail:0>3}")
}

/// An MO as a deliver_sm: UCS-2 as data_coding 8, ASCII as 1 (IA5), GBK decoded and sent
/// on as UCS-2, anything else as binary (4); a UDH (TP_udhi) kept in front with esm_class
/// UDHI, so the gateway's MO reassembly joins the parts. Over 254 octets (GBK that grew
/// as UCS-2) the body goes in message_payload.
pub(crate) fn mo(
    source: &Bytes,
    destination: &Bytes,
    tp_pid: u8,
    udhi: bool,
    format: u8,
    content: &Bytes,
) -> DeliverSm {
    let (udh, text) = if udhi {
        match Udh::split(content) {
            Ok((udh, text)) => (&content[..udh.len()], text),
            Err(_) => (&content[..0], &content[..]),
        }
    } else {
        (&content[..0], &content[..])
    };
    let udhi = !udh.is_empty();
    let (coding, body): (DataCoding, Bytes) = match format {
        FORMAT_UCS2 => (DataCoding::UCS2, content.clone()),
        FORMAT_ASCII if text.is_ascii() => (DataCoding::IA5, content.clone()),
        FORMAT_GBK | FORMAT_ASCII => {
            match decode_text(FORMAT_GBK, text).and_then(|text| encode_text(FORMAT_UCS2, &text)) {
                Some(ucs2) => {
                    let mut out = BytesMut::with_capacity(udh.len() + ucs2.len());
                    out.put_slice(udh);
                    out.put_slice(&ucs2);
                    (DataCoding::UCS2, out.freeze())
                }
                None => (DataCoding::BINARY_2, content.clone()),
            }
        }
        _ => (DataCoding::BINARY_2, content.clone()),
    };
    let (short_message, tlvs) = if body.len() > SM_LENGTH_MAX {
        (
            Bytes::new(),
            Tlvs::builder()
                .push(Tlv::MessagePayload(body))
                .build()
                .unwrap_or_default(),
        )
    } else {
        (body, Tlvs::default())
    };
    DeliverSm {
        source_addr: address(source),
        destination_addr: address(destination),
        esm_class: EsmClass(0).with_udhi(udhi),
        protocol_id: tp_pid,
        data_coding: coding,
        short_message,
        tlvs,
        ..DeliverSm::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smppgate_protocol::types::RegisteredDelivery;

    fn submit(coding: DataCoding, esm: u8, message: &[u8]) -> SubmitSm {
        SubmitSm {
            source_addr: Address::international("10690001"),
            destination_addr: Address::international("13800138000"),
            esm_class: EsmClass(esm),
            data_coding: coding,
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::copy_from_slice(message),
            ..SubmitSm::default()
        }
    }

    #[test]
    fn a_udh_part_keeps_its_header_and_gives_pk_total_and_pk_number() {
        // 05 00 03 ref=0x2a total=3 seq=2, then 测试 in UCS-2.
        let message = [0x05, 0x00, 0x03, 0x2a, 0x03, 0x02, 0x6D, 0x4B, 0x8B, 0xD5];
        let body = submit_body(&submit(DataCoding::UCS2, 0x40, &message), false).unwrap();
        assert_eq!(
            (body.udhi, body.total, body.number, body.format),
            (true, 3, 2, 8)
        );
        assert_eq!(&body.content[..], &message);
        // The same part to a GBK link: the header stays, the text becomes GBK.
        let body = submit_body(&submit(DataCoding::UCS2, 0x40, &message), true).unwrap();
        assert_eq!(body.format, 15);
        assert_eq!(
            &body.content[..],
            &[0x05, 0x00, 0x03, 0x2a, 0x03, 0x02, 0xB2, 0xE2, 0xCA, 0xD4]
        );
    }

    #[test]
    fn ascii_binary_and_what_cannot_go() {
        let body = submit_body(&submit(DataCoding::SMSC_DEFAULT, 0, b"hello"), false).unwrap();
        assert_eq!(
            (body.udhi, body.total, body.number, body.format),
            (false, 1, 1, 0)
        );
        let body = submit_body(&submit(DataCoding::BINARY_2, 0, &[0xff, 0]), false).unwrap();
        assert_eq!(body.format, 4);
        assert_eq!(
            submit_body(&submit(DataCoding::LATIN1, 0, &[0xe9]), false),
            Err(INVALID_DATA_CODING)
        );
        assert_eq!(
            submit_body(&submit(DataCoding::UCS2, 0x40, &[0x09, 0x00]), false),
            Err(CommandStatus::ESME_RINVESMCLASS)
        );
    }

    #[test]
    fn a_sar_part_gets_a_udh() {
        let mut sm = submit(DataCoding::IA5, 0, b"part");
        sm.tlvs = Tlvs::builder()
            .push(Tlv::SarMsgRefNum(0x0102))
            .push(Tlv::SarTotalSegments(2))
            .push(Tlv::SarSegmentSeqnum(1))
            .build()
            .unwrap();
        let body = submit_body(&sm, false).unwrap();
        assert_eq!((body.udhi, body.total, body.number), (true, 2, 1));
        assert_eq!(
            &body.content[..],
            &[
                0x06, 0x08, 0x04, 0x01, 0x02, 0x02, 0x01, b'p', b'a', b'r', b't'
            ]
        );
    }

    #[test]
    fn a_report_becomes_a_receipt_with_the_stat_as_given() {
        let report = Report {
            id: "12878564852733378560".to_owned(),
            stat: "MK:0001".to_owned(),
            submit_time: "2612060719".to_owned(),
            done_time: "2612060720".to_owned(),
            err: err_of_stat("MK:0001"),
            handset: Bytes::from_static(b"13800138000\0\0\0"),
            sp_number: Bytes::from_static(b"10690001"),
        };
        let sm = receipt(&report);
        assert_eq!(
            &sm.short_message[..],
            b"id:12878564852733378560 sub:001 dlvrd:000 submit date:2612060719 \
              done date:2612060720 stat:MK:0001 err:001 text:"
        );
        assert_eq!(&sm.source_addr.addr[..], b"13800138000");
        let parsed = smppgate_protocol::receipt::DeliveryReceipt::from_body(
            &smppgate_protocol::pdu::Body::DeliverSm(sm),
        )
        .unwrap();
        assert_eq!(parsed.id(), Some("12878564852733378560"));
        assert_eq!(parsed.state(), Some(MessageState::Undeliverable));
        assert_eq!(err_of_stat("DELIVRD"), "000");
        assert_eq!(state_of_stat("DELIVRD"), MessageState::Delivered);
        assert_eq!(state_of_stat("EXPIRED"), MessageState::Expired);
    }

    #[test]
    fn mo_in_gbk_arrives_as_ucs2_and_a_udh_is_kept() {
        // 退订 in GBK: CDCB B6A9.
        let sm = mo(
            &Bytes::from_static(b"13800138000"),
            &Bytes::from_static(b"10690001"),
            0,
            false,
            15,
            &Bytes::from_static(&[0xCD, 0xCB, 0xB6, 0xA9]),
        );
        assert_eq!(sm.data_coding, DataCoding::UCS2);
        assert_eq!(&sm.short_message[..], &[0x90, 0x00, 0x8B, 0xA2]);
        let content = Bytes::from_static(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0x6D, 0x4B]);
        let sm = mo(
            &Bytes::from_static(b"13800138000"),
            &Bytes::from_static(b"10690001"),
            0,
            true,
            8,
            &content,
        );
        assert!(sm.esm_class.udhi());
        assert_eq!(sm.short_message, content);
    }
}
