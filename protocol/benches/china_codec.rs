//! The same message part through each carrier codec: an SMPP submit_sm against a CMPP 3.0
//! SUBMIT, an SMGP Submit and an SGIP Submit carrying the same 140-octet UCS-2 part with
//! its UDH, decode and encode, in one run, with allocations per operation. The CMPP/SMGP/
//! SGIP codecs must not be what makes a carrier slower than an SMPP one: the figures to read
//! are the ratios against `smpp` in the same run.
//!
//! Run: `cargo bench -p smppgate-protocol --bench china_codec -- --warm-up-time 1 --measurement-time 3`

use std::alloc::System;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smppgate_protocol::pdu::ShortMessagePdu;
use smppgate_protocol::types::{Address, DataCoding, EsmClass, Npi, Ton};
use smppgate_protocol::{Body, Pdu, cmpp, codec, sgip, smgp};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A 140-octet part: UDH (6) + 67 UCS-2 characters (134).
fn part() -> Bytes {
    let mut octets = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
    for unit in "测试长短信".encode_utf16().cycle().take(67) {
        octets.extend_from_slice(&unit.to_be_bytes());
    }
    Bytes::from(octets)
}

fn smpp() -> Bytes {
    let pdu = Pdu::new(
        7,
        Body::SubmitSm(ShortMessagePdu {
            source_addr: Address {
                ton: Ton::NATIONAL,
                npi: Npi::ISDN,
                addr: Bytes::from_static(b"10690001"),
            },
            destination_addr: Address {
                ton: Ton::INTERNATIONAL,
                npi: Npi::ISDN,
                addr: Bytes::from_static(b"8613800138000"),
            },
            esm_class: EsmClass(0x40),
            data_coding: DataCoding(8),
            short_message: part(),
            ..ShortMessagePdu::default()
        }),
    );
    codec::encode_to_bytes(&pdu).expect("smpp encode")
}

fn cmpp3() -> Bytes {
    let pdu = cmpp::Pdu {
        sequence_id: 7,
        body: cmpp::Body::Submit(cmpp::Submit {
            msg_id: 0,
            pk_total: 2,
            pk_number: 1,
            registered_delivery: 1,
            msg_level: 0,
            service_id: Bytes::from_static(b"MJJ0001"),
            fee_user_type: 0,
            fee_terminal_id: Bytes::new(),
            fee_terminal_type: 0,
            tp_pid: 0,
            tp_udhi: 1,
            msg_fmt: 8,
            msg_src: Bytes::from_static(b"901234"),
            fee_type: Bytes::from_static(b"02"),
            fee_code: Bytes::from_static(b"000010"),
            valid_time: Bytes::new(),
            at_time: Bytes::new(),
            src_id: Bytes::from_static(b"10690001"),
            dest_terminal_ids: vec![Bytes::from_static(b"13800138000")],
            dest_terminal_type: 0,
            msg_content: part(),
            link_id: Bytes::new(),
            reserve: Bytes::new(),
        }),
    };
    let mut out = BytesMut::new();
    cmpp::encode(&pdu, cmpp::Version::V3, &mut out).expect("cmpp encode");
    out.freeze()
}

fn smgp() -> Bytes {
    let pdu = smgp::Pdu {
        sequence_id: 7,
        body: smgp::Body::Submit(smgp::Submit {
            msg_type: 6,
            need_report: 1,
            priority: 1,
            service_id: Bytes::from_static(b"MJJ0001"),
            fee_type: Bytes::from_static(b"00"),
            fee_code: Bytes::from_static(b"000000"),
            fixed_fee: Bytes::from_static(b"000000"),
            msg_format: 8,
            valid_time: Bytes::new(),
            at_time: Bytes::new(),
            src_term_id: Bytes::from_static(b"10690001"),
            charge_term_id: Bytes::new(),
            dest_term_ids: vec![Bytes::from_static(b"17700000000")],
            msg_content: part(),
            reserve: Bytes::new(),
            tlvs: vec![
                smgp::Tlv::u8(smgp::tlv::TP_UDHI, 1),
                smgp::Tlv::u8(smgp::tlv::PK_TOTAL, 2),
                smgp::Tlv::u8(smgp::tlv::PK_NUMBER, 1),
            ],
        }),
    };
    let mut out = BytesMut::new();
    smgp::encode(&pdu, &mut out).expect("smgp encode");
    out.freeze()
}

fn sgip() -> Bytes {
    let pdu = sgip::Pdu {
        sequence: sgip::Sequence {
            node_id: 3_020_012_345,
            time: 1_206_071_900,
            counter: 7,
        },
        body: sgip::Body::Submit(Box::new(sgip::Submit {
            sp_number: Bytes::from_static(b"10655"),
            charge_number: Bytes::from_static(b"000000000000000000000"),
            user_numbers: vec![Bytes::from_static(b"8613000000000")],
            corp_id: Bytes::from_static(b"12345"),
            service_type: Bytes::from_static(b"MJJ0001"),
            fee_type: 0,
            fee_value: Bytes::from_static(b"000000"),
            given_value: Bytes::from_static(b"000000"),
            agent_flag: 0,
            morelateto_mt_flag: 0,
            priority: 0,
            expire_time: Bytes::new(),
            schedule_time: Bytes::new(),
            report_flag: 1,
            tp_pid: 0,
            tp_udhi: 1,
            message_coding: 8,
            message_type: 0,
            message_content: part(),
            reserve: Bytes::new(),
        })),
    };
    let mut out = BytesMut::new();
    sgip::encode(&pdu, &mut out).expect("sgip encode");
    out.freeze()
}

/// One codec: decode a frame, encode the decoded packet into a reused buffer.
struct Case {
    name: &'static str,
    frame: Bytes,
    decode: fn(Bytes),
    round_trip: fn(Bytes, &mut BytesMut),
}

fn smpp_decode(frame: Bytes) {
    drop(black_box(codec::decode(frame).expect("decode")));
}

fn smpp_round_trip(frame: Bytes, out: &mut BytesMut) {
    let pdu = codec::decode(frame).expect("decode");
    out.clear();
    codec::encode(&pdu, out).expect("encode");
}

fn cmpp_decode(frame: Bytes) {
    drop(black_box(
        cmpp::decode(frame, cmpp::Version::V3).expect("decode"),
    ));
}

fn cmpp_round_trip(frame: Bytes, out: &mut BytesMut) {
    let pdu = cmpp::decode(frame, cmpp::Version::V3).expect("decode");
    out.clear();
    cmpp::encode(&pdu, cmpp::Version::V3, out).expect("encode");
}

fn smgp_decode(frame: Bytes) {
    drop(black_box(smgp::decode(frame).expect("decode")));
}

fn smgp_round_trip(frame: Bytes, out: &mut BytesMut) {
    let pdu = smgp::decode(frame).expect("decode");
    out.clear();
    smgp::encode(&pdu, out).expect("encode");
}

fn sgip_decode(frame: Bytes) {
    drop(black_box(sgip::decode(frame).expect("decode")));
}

fn sgip_round_trip(frame: Bytes, out: &mut BytesMut) {
    let pdu = sgip::decode(frame).expect("decode");
    out.clear();
    sgip::encode(&pdu, out).expect("encode");
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "smpp",
            frame: smpp(),
            decode: smpp_decode,
            round_trip: smpp_round_trip,
        },
        Case {
            name: "cmpp3",
            frame: cmpp3(),
            decode: cmpp_decode,
            round_trip: cmpp_round_trip,
        },
        Case {
            name: "smgp",
            frame: smgp(),
            decode: smgp_decode,
            round_trip: smgp_round_trip,
        },
        Case {
            name: "sgip",
            frame: sgip(),
            decode: sgip_decode,
            round_trip: sgip_round_trip,
        },
    ]
}

/// Allocations per operation over `n` runs of `op`.
fn allocations(n: u32, mut op: impl FnMut()) -> f64 {
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        op();
    }
    f64::from(u32::try_from(region.change().allocations).unwrap_or(u32::MAX)) / f64::from(n)
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    println!("allocations per operation (10 000 runs each; frame octets):");
    for case in &cases {
        let mut out = BytesMut::with_capacity(case.frame.len());
        let decode = allocations(10_000, || (case.decode)(case.frame.clone()));
        let round_trip = allocations(10_000, || (case.round_trip)(case.frame.clone(), &mut out));
        println!(
            "  {:6} {:4} octets: decode {decode:.2} decode+encode {round_trip:.2}",
            case.name,
            case.frame.len()
        );
    }
    let mut group = c.benchmark_group("submit_part");
    group.throughput(Throughput::Elements(1));
    for case in &cases {
        group.bench_function(format!("decode/{}", case.name), |b| {
            b.iter(|| (case.decode)(black_box(case.frame.clone())));
        });
        let mut out = BytesMut::with_capacity(case.frame.len());
        group.bench_function(format!("decode+encode/{}", case.name), |b| {
            b.iter(|| (case.round_trip)(black_box(case.frame.clone()), &mut out));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
