//! Property tests: every valid PDU we can build survives encode → decode unchanged (and
//! re-encodes to the same octets); arbitrary octets never make the framer or decoder panic.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use smppgate_protocol::tlv::NetworkErrorCode;
use smppgate_protocol::types::{AbsoluteTime, RelativeTime, UtcOffsetSign};
use smppgate_protocol::{
    Address, AlertNotification, Bind, BindResp, Body, CancelSm, CommandId, CommandStatus,
    DataCoding, DataSm, DestAddress, EsmClass, FrameDecoder, MessageIdResp, Npi, Outbind, Pdu,
    QuerySm, QuerySmResp, RegisteredDelivery, ReplaceSm, ShortMessagePdu, SmppTime, SubmitMulti,
    SubmitMultiResp, Tlv, TlvTag, Tlvs, Ton, UnsuccessSme, decode, encode, encoded_len,
};

/// A C-octet string value of at most `max` octets with its NUL.
fn c_string(max: usize) -> impl Strategy<Value = Bytes> {
    vec(1u8..=255, 0..max).prop_map(Bytes::from)
}

fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn address(max: usize) -> impl Strategy<Value = Address> {
    (any::<u8>(), any::<u8>(), c_string(max)).prop_map(|(ton, npi, addr)| Address {
        ton: Ton(ton),
        npi: Npi(npi),
        addr,
    })
}

fn time() -> impl Strategy<Value = SmppTime> {
    let absolute = (
        0u8..=99,
        1u8..=12,
        1u8..=31,
        0u8..=23,
        0u8..=59,
        0u8..=59,
        0u8..=9,
        0u8..=48,
        any::<bool>(),
    )
        .prop_map(
            |(year, month, day, hour, minute, second, tenths, quarter_hours, ahead)| {
                SmppTime::absolute(&AbsoluteTime {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    tenths,
                    quarter_hours,
                    sign: if ahead {
                        UtcOffsetSign::Ahead
                    } else {
                        UtcOffsetSign::Behind
                    },
                })
                .unwrap()
            },
        );
    let relative = (0u8..=99, 0u8..=99, 0u8..=99, 0u8..=99, 0u8..=99, 0u8..=99).prop_map(
        |(years, months, days, hours, minutes, seconds)| {
            SmppTime::relative(&RelativeTime {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            })
            .unwrap()
        },
    );
    prop_oneof![Just(SmppTime::NONE), absolute, relative]
}

/// One TLV that is valid anywhere (typed values have their fixed length; unknown tags are
/// vendor ones). `message_payload` is left out: it conflicts with short_message.
fn tlv() -> impl Strategy<Value = Tlv> {
    prop_oneof![
        any::<u16>().prop_map(Tlv::SarMsgRefNum),
        any::<u8>().prop_map(Tlv::SarTotalSegments),
        any::<u8>().prop_map(Tlv::SarSegmentSeqnum),
        any::<u8>().prop_map(Tlv::MessageState),
        any::<u16>().prop_map(Tlv::SourcePort),
        any::<u32>().prop_map(Tlv::QosTimeToLive),
        c_string(65).prop_map(Tlv::ReceiptedMessageId),
        octets(23).prop_map(Tlv::SourceSubaddress),
        (any::<u8>(), any::<u16>()).prop_map(|(network_type, error_code)| {
            Tlv::NetworkErrorCode(NetworkErrorCode {
                network_type,
                error_code,
            })
        }),
        Just(Tlv::AlertOnMessageDelivery(())),
        any::<u8>().prop_map(Tlv::ScInterfaceVersion),
        any::<u16>().prop_map(Tlv::SourceTelematicsId),
        (0x1400u16..=0x3FFF, octets(16)).prop_map(|(tag, value)| Tlv::Unknown {
            tag: TlvTag(tag),
            value
        }),
    ]
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    vec(tlv(), 0..5).prop_map(|list| {
        list.into_iter()
            .fold(Tlvs::builder(), smppgate_protocol::tlv::TlvsBuilder::push)
            .build()
            .unwrap()
    })
}

fn bind() -> impl Strategy<Value = Bind> {
    (
        c_string(16),
        c_string(9),
        c_string(13),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        c_string(41),
    )
        .prop_map(
            |(system_id, password, system_type, interface_version, ton, npi, address_range)| Bind {
                system_id,
                password,
                system_type,
                interface_version,
                addr_ton: Ton(ton),
                addr_npi: Npi(npi),
                address_range,
            },
        )
}

fn bind_resp() -> impl Strategy<Value = BindResp> {
    (c_string(16), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs })
}

/// short_message and TLVs, with message_payload only when short_message is empty.
fn content() -> impl Strategy<Value = (Bytes, Tlvs)> {
    prop_oneof![
        (octets(254), tlvs()),
        (octets(300), tlvs()).prop_map(|(payload, rest)| {
            let tlvs = Tlvs::builder()
                .push(Tlv::MessagePayload(payload))
                .push_raw(TlvTag(0x1400), rest.raw())
                .build()
                .unwrap();
            (Bytes::new(), tlvs)
        }),
    ]
}

fn short_message_pdu(deliver: bool) -> impl Strategy<Value = ShortMessagePdu> {
    (
        (
            c_string(6),
            address(21),
            address(21),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        (
            time(),
            time(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        content(),
    )
        .prop_map(
            move |(
                (service_type, source_addr, destination_addr, esm, pid, prio),
                (sched, validity, rd, replace, dc, default),
                (short_message, tlvs),
            )| {
                let null = |time: SmppTime| if deliver { SmppTime::NONE } else { time };
                ShortMessagePdu {
                    service_type,
                    source_addr,
                    destination_addr,
                    esm_class: EsmClass(esm),
                    protocol_id: pid,
                    priority_flag: prio,
                    schedule_delivery_time: null(sched),
                    validity_period: null(validity),
                    registered_delivery: RegisteredDelivery(rd),
                    replace_if_present_flag: if deliver { 0 } else { replace },
                    data_coding: DataCoding(dc),
                    sm_default_msg_id: if deliver { 0 } else { default },
                    short_message,
                    tlvs,
                }
            },
        )
}

fn message_id_resp() -> impl Strategy<Value = MessageIdResp> {
    (c_string(65), tlvs()).prop_map(|(message_id, tlvs)| MessageIdResp { message_id, tlvs })
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    let dest = prop_oneof![
        address(21).prop_map(DestAddress::Sme),
        c_string(21).prop_map(DestAddress::DistributionList),
    ];
    (short_message_pdu(false), vec(dest, 1..6)).prop_map(|(sm, dest_addresses)| SubmitMulti {
        service_type: sm.service_type,
        source_addr: sm.source_addr,
        dest_addresses,
        esm_class: sm.esm_class,
        protocol_id: sm.protocol_id,
        priority_flag: sm.priority_flag,
        schedule_delivery_time: sm.schedule_delivery_time,
        validity_period: sm.validity_period,
        registered_delivery: sm.registered_delivery,
        replace_if_present_flag: sm.replace_if_present_flag,
        data_coding: sm.data_coding,
        sm_default_msg_id: sm.sm_default_msg_id,
        short_message: sm.short_message,
        tlvs: sm.tlvs,
    })
}

fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp> {
    let sme = (address(21), any::<u32>()).prop_map(|(dest_addr, code)| UnsuccessSme {
        dest_addr,
        error_status_code: CommandStatus(code),
    });
    (c_string(65), vec(sme, 0..5), tlvs()).prop_map(|(message_id, unsuccess_smes, tlvs)| {
        SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs,
        }
    })
}

fn data_sm() -> impl Strategy<Value = DataSm> {
    (
        c_string(6),
        address(65),
        address(65),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        content(),
    )
        .prop_map(
            |(service_type, source_addr, destination_addr, esm, rd, dc, (_, tlvs))| DataSm {
                service_type,
                source_addr,
                destination_addr,
                esm_class: EsmClass(esm),
                registered_delivery: RegisteredDelivery(rd),
                data_coding: DataCoding(dc),
                tlvs,
            },
        )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::GenericNack),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        Just(Body::ReplaceSmResp),
        Just(Body::CancelSmResp),
        bind().prop_map(Body::BindReceiver),
        bind().prop_map(Body::BindTransmitter),
        bind().prop_map(Body::BindTransceiver),
        bind_resp().prop_map(Body::BindReceiverResp),
        bind_resp().prop_map(Body::BindTransmitterResp),
        bind_resp().prop_map(Body::BindTransceiverResp),
        (c_string(16), c_string(9)).prop_map(|(system_id, password)| Body::Outbind(Outbind {
            system_id,
            password
        })),
        short_message_pdu(false).prop_map(Body::SubmitSm),
        short_message_pdu(true).prop_map(Body::DeliverSm),
        message_id_resp().prop_map(Body::SubmitSmResp),
        message_id_resp().prop_map(Body::DeliverSmResp),
        message_id_resp().prop_map(Body::DataSmResp),
        submit_multi().prop_map(Body::SubmitMulti),
        submit_multi_resp().prop_map(Body::SubmitMultiResp),
        data_sm().prop_map(Body::DataSm),
        (c_string(65), address(21)).prop_map(|(message_id, source_addr)| Body::QuerySm(QuerySm {
            message_id,
            source_addr
        })),
        (c_string(65), time(), any::<u8>(), any::<u8>()).prop_map(
            |(message_id, final_date, message_state, error_code)| {
                Body::QuerySmResp(QuerySmResp {
                    message_id,
                    final_date,
                    message_state,
                    error_code,
                })
            }
        ),
        (c_string(6), c_string(65), address(21), address(21)).prop_map(
            |(service_type, message_id, source_addr, destination_addr)| {
                Body::CancelSm(CancelSm {
                    service_type,
                    message_id,
                    source_addr,
                    destination_addr,
                })
            }
        ),
        (
            c_string(65),
            address(21),
            time(),
            time(),
            any::<u8>(),
            any::<u8>(),
            octets(254)
        )
            .prop_map(
                |(
                    message_id,
                    source_addr,
                    schedule_delivery_time,
                    validity_period,
                    rd,
                    default,
                    short_message,
                )| {
                    Body::ReplaceSm(ReplaceSm {
                        message_id,
                        source_addr,
                        schedule_delivery_time,
                        validity_period,
                        registered_delivery: RegisteredDelivery(rd),
                        sm_default_msg_id: default,
                        short_message,
                    })
                }
            ),
        (address(65), address(65), tlvs()).prop_map(|(source_addr, esme_addr, tlvs)| {
            Body::AlertNotification(AlertNotification {
                source_addr,
                esme_addr,
                tlvs,
            })
        }),
    ]
}

fn pdu() -> impl Strategy<Value = Pdu> {
    (any::<u32>(), prop_oneof![Just(0u32), any::<u32>()], body()).prop_map(|(seq, status, body)| {
        // Error bind_*_resp / submit_sm_resp go without a body: build them empty.
        let body = match body.command_id() {
            CommandId::BindReceiverResp
            | CommandId::BindTransmitterResp
            | CommandId::BindTransceiverResp
            | CommandId::SubmitSmResp
                if status != 0 =>
            {
                Body::empty(body.command_id())
            }
            _ => body,
        };
        Pdu::new(seq, body).with_status(CommandStatus(status))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trip(pdu in pdu()) {
        let mut buf = BytesMut::new();
        encode(&pdu, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), encoded_len(&pdu));
        let wire = buf.freeze();
        let decoded = decode(wire.clone()).unwrap();
        prop_assert_eq!(&decoded, &pdu);
        let mut again = BytesMut::new();
        encode(&decoded, &mut again).unwrap();
        prop_assert_eq!(&again[..], &wire[..]);
    }

    #[test]
    fn frame_decoder_never_panics(data in vec(any::<u8>(), 0..512), cap in 16usize..1024) {
        let mut buf = BytesMut::from(&data[..]);
        let mut decoder = FrameDecoder::new(cap);
        while let Ok(Some(_)) = decoder.decode(&mut buf) {}
        prop_assert!(buf.capacity() <= data.len().max(cap) + 64);
    }

    #[test]
    fn decode_never_panics_and_re_encoding_is_a_fixpoint(
        id in prop_oneof![
            proptest::sample::select(CommandId::ALL.to_vec()).prop_map(CommandId::as_u32),
            any::<u32>(),
        ],
        status in prop_oneof![Just(0u32), any::<u32>()],
        seq in any::<u32>(),
        body in vec(any::<u8>(), 0..300),
    ) {
        let mut frame = Vec::with_capacity(16 + body.len());
        frame.extend_from_slice(&u32::try_from(16 + body.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&status.to_be_bytes());
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&body);
        match decode(Bytes::from(frame)) {
            Ok(pdu) => {
                prop_assert_eq!(pdu.sequence_number, seq);
                let mut buf = BytesMut::new();
                if encode(&pdu, &mut buf).is_ok() {
                    let wire = buf.freeze();
                    let again = decode(wire.clone()).unwrap();
                    let mut buf2 = BytesMut::new();
                    encode(&again, &mut buf2).unwrap();
                    prop_assert_eq!(&buf2[..], &wire[..]);
                }
            }
            Err(error) => {
                prop_assert_eq!(error.sequence_number(), seq);
                prop_assert_eq!(error.command_id(), id);
                let _ = error.status();
                let _ = error.response_command_id();
                let _ = error.to_string();
            }
        }
    }

    #[test]
    fn decoding_structured_bodies_never_panics(
        id in proptest::sample::select(CommandId::ALL.to_vec()),
        head in vec(prop_oneof![Just(0u8), any::<u8>()], 0..80),
        tail in vec(any::<u8>(), 0..40),
    ) {
        // NUL-rich bodies reach deeper into the field parsers than uniform noise.
        let mut frame = Vec::new();
        frame.extend_from_slice(&u32::try_from(16 + head.len() + tail.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(&id.as_u32().to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        frame.extend_from_slice(&head);
        frame.extend_from_slice(&tail);
        let _ = decode(Bytes::from(frame));
    }
}
