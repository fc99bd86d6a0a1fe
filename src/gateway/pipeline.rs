//! Upstream submit_sm → validated parts ready for the carrier pool.
//!
//! A message that fits one SMS goes as it came. A longer one (message_payload, or a
//! short_message longer than one part) is split on character boundaries (never an
//! escape pair or a surrogate pair) into UDH-concatenated parts in the same encoding.
//! A message that already carries a UDH (esm_class UDHI) is passed through as it is:
//! the client segmented it.

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::text::{
    Coding, DefaultAlphabet, Encoding, ReferenceGenerator, SplitMethod, SplitOptions, TextConfig,
    encoding_for_data_coding, split, split_binary,
};
use smppgate_protocol::tlv::{TlvTag, Tlvs};
use smppgate_protocol::types::SmppTime;

/// SMPP 5.0's ESME_RINVDCS (0x104): 3.4 has no status for an unsupported data_coding.
pub const ESME_RINVDCS: CommandStatus = CommandStatus(0x0000_0104);

/// The user data of a submit_sm (short_message, or message_payload when sm_length is 0).
#[must_use]
pub fn user_data(submit_sm: &SubmitSm) -> Bytes {
    if submit_sm.short_message.is_empty() {
        submit_sm.tlvs.message_payload().unwrap_or_default()
    } else {
        submit_sm.short_message.clone()
    }
}

/// The encoding of `data_coding`, or [`ESME_RINVDCS`] for values we cannot carry.
///
/// # Errors
/// [`ESME_RINVDCS`] for reserved / compressed / national codings we do not support.
pub fn encoding(data_coding: u8) -> Result<Encoding, CommandStatus> {
    match encoding_for_data_coding(data_coding, DefaultAlphabet::Gsm7) {
        Encoding::Binary if !matches!(data_coding, 0x02 | 0x04 | 0xF4..=0xF7) => Err(ESME_RINVDCS),
        encoding => Ok(encoding),
    }
}

/// Splits `submit_sm` into the parts to send (one when it fits).
///
/// # Errors
/// `ESME_RINVDCS` for an unsupported data_coding, `ESME_RINVMSGLEN` when it needs more
/// than 255 parts or both short_message and message_payload are set.
pub fn parts(
    submit_sm: &SubmitSm,
    references: &mut ReferenceGenerator,
) -> Result<Vec<SubmitSm>, CommandStatus> {
    let mut parts = split_parts(submit_sm, references)?;
    // The gateway holds a scheduled message until its time (gateway::schedule): the
    // carrier must not delay it again.
    for part in &mut parts {
        part.schedule_delivery_time = SmppTime::NONE;
    }
    Ok(parts)
}

fn split_parts(
    submit_sm: &SubmitSm,
    references: &mut ReferenceGenerator,
) -> Result<Vec<SubmitSm>, CommandStatus> {
    let data_coding = submit_sm.data_coding.0;
    let encoding = encoding(data_coding)?;
    if !submit_sm.short_message.is_empty() && submit_sm.tlvs.contains(TlvTag::MESSAGE_PAYLOAD) {
        return Err(CommandStatus::ESME_RINVMSGLEN);
    }
    let data = user_data(submit_sm);
    let single_capacity = match encoding {
        // Unpacked GSM 7-bit: one septet per octet (a UDH takes its octets' worth of
        // septets: 6 octets + 153 septets = 159).
        Encoding::Gsm7 => 160,
        _ => 140,
    };
    if submit_sm.esm_class.udhi() {
        // Segmented by the client: each segment is a message of its own to us.
        return if data.len() > single_capacity {
            Err(CommandStatus::ESME_RINVMSGLEN)
        } else {
            Ok(vec![single(submit_sm, data)])
        };
    }
    if data.len() <= single_capacity {
        return Ok(vec![single(submit_sm, data)]);
    }
    let split_message = match encoding {
        Encoding::Binary => split_binary(&data, data_coding, SplitMethod::Udh8, references),
        _ => {
            let config = TextConfig::default();
            let text = smppgate_protocol::text::decode(data_coding, &data, 0, config);
            let coding = match encoding {
                Encoding::Gsm7 => Coding::Gsm7,
                Encoding::Ucs2 => Coding::Ucs2,
                Encoding::Latin1 => Coding::Latin1,
                _ => Coding::Ascii,
            };
            let options = SplitOptions {
                coding,
                method: SplitMethod::Udh8,
                config,
                national_language: None,
            };
            split(&text, &options, references)
        }
    }
    .map_err(|_| CommandStatus::ESME_RINVMSGLEN)?;
    let tlvs = without_payload(&submit_sm.tlvs);
    Ok(split_message
        .parts
        .iter()
        .map(|part| {
            let mut pdu = submit_sm.clone();
            pdu.short_message = Bytes::from(part.user_data());
            pdu.esm_class = pdu.esm_class.with_udhi(part.udhi());
            // The client's data_coding: the parts are in the encoding it chose.
            pdu.data_coding.0 = data_coding;
            pdu.tlvs = tlvs.clone();
            pdu
        })
        .collect())
}

/// The message as one part: short_message carries the data (message_payload moved into
/// it when it fits, since many carriers do not take message_payload).
fn single(submit_sm: &SubmitSm, data: Bytes) -> SubmitSm {
    let mut pdu = submit_sm.clone();
    if pdu.short_message.is_empty() && pdu.tlvs.contains(TlvTag::MESSAGE_PAYLOAD) {
        pdu.tlvs = without_payload(&pdu.tlvs);
        pdu.short_message = data;
    }
    pdu
}

fn without_payload(tlvs: &Tlvs) -> Tlvs {
    let mut builder = Tlvs::builder();
    for (tag, value) in tlvs {
        if tag != TlvTag::MESSAGE_PAYLOAD {
            builder = builder.push_raw(tag, &value);
        }
    }
    builder.build().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use smppgate_protocol::tlv::Tlv;
    use smppgate_protocol::types::{DataCoding, EsmClass};

    use super::*;

    fn submit(data_coding: u8, short_message: &[u8]) -> SubmitSm {
        SubmitSm {
            data_coding: DataCoding(data_coding),
            short_message: Bytes::copy_from_slice(short_message),
            ..SubmitSm::default()
        }
    }

    #[test]
    fn the_carrier_gets_no_schedule() {
        let mut submit_sm = submit(0, &[b'a'; 200]);
        submit_sm.schedule_delivery_time = SmppTime::from_raw("000000010000000R").unwrap();
        submit_sm.validity_period = SmppTime::from_raw("000001000000000R").unwrap();
        let parts = parts(&submit_sm, &mut ReferenceGenerator::new(1)).unwrap();
        assert_eq!(parts.len(), 2);
        for part in parts {
            assert!(!part.schedule_delivery_time.is_set());
            assert_eq!(part.validity_period, submit_sm.validity_period);
        }
    }

    #[test]
    fn short_gsm_goes_as_it_came() {
        let parts = parts(&submit(0, b"hello"), &mut ReferenceGenerator::new(1)).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(&parts[0].short_message[..], b"hello");
    }

    #[test]
    fn long_gsm_short_message_is_split_with_udh() {
        let text = vec![b'a'; 200];
        let parts = parts(&submit(0, &text), &mut ReferenceGenerator::new(1)).unwrap();
        assert_eq!(parts.len(), 2);
        for (i, part) in parts.iter().enumerate() {
            assert!(part.esm_class.udhi());
            let udh = &part.short_message[..6];
            assert_eq!(udh[..3], [5, 0, 3]);
            assert_eq!(udh[4], 2);
            assert_eq!(usize::from(udh[5]), i + 1);
        }
        assert_eq!(parts[0].short_message.len() - 6, 153);
    }

    #[test]
    fn long_ucs2_payload_is_split_on_surrogate_boundaries() {
        let text: String = "退订😀".repeat(30);
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut pdu = submit(8, b"");
        pdu.tlvs = Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from(utf16)))
            .build()
            .unwrap();
        let parts = parts(&pdu, &mut ReferenceGenerator::new(1)).unwrap();
        assert!(parts.len() >= 2);
        let mut joined = Vec::new();
        for part in &parts {
            assert!(!part.tlvs.contains(TlvTag::MESSAGE_PAYLOAD));
            assert_eq!(part.data_coding.0, 8);
            let body = &part.short_message[6..];
            assert!(body.len() <= 134);
            // No part ends with a high surrogate.
            let last = u16::from_be_bytes([body[body.len() - 2], body[body.len() - 1]]);
            assert!(!(0xD800..0xDC00).contains(&last));
            joined.extend_from_slice(body);
        }
        let units: Vec<u16> = joined
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), text);
    }

    #[test]
    fn short_payload_moves_into_short_message() {
        let mut pdu = submit(0, b"");
        pdu.tlvs = Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from_static(b"hi")))
            .build()
            .unwrap();
        let parts = parts(&pdu, &mut ReferenceGenerator::new(1)).unwrap();
        assert_eq!(&parts[0].short_message[..], b"hi");
        assert!(!parts[0].tlvs.contains(TlvTag::MESSAGE_PAYLOAD));
    }

    #[test]
    fn client_segments_pass_through_and_bad_codings_are_refused() {
        let mut pdu = submit(0, &[5, 0, 3, 9, 2, 1, b'a']);
        pdu.esm_class = EsmClass(0x40);
        assert_eq!(
            parts(&pdu, &mut ReferenceGenerator::new(1)).unwrap()[0],
            pdu
        );
        assert_eq!(
            parts(&submit(0x0D, b"x"), &mut ReferenceGenerator::new(1)),
            Err(ESME_RINVDCS)
        );
        let mut both = submit(0, b"x");
        both.tlvs = Tlvs::builder()
            .push(Tlv::MessagePayload(Bytes::from_static(b"y")))
            .build()
            .unwrap();
        assert_eq!(
            parts(&both, &mut ReferenceGenerator::new(1)),
            Err(CommandStatus::ESME_RINVMSGLEN)
        );
    }
}
