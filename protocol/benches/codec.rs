//! Codec benchmark: decode and encode of four PDUs that dominate gateway traffic, ours against
//! the `rusmpp` crate on the same bytes, in the same run, with allocations per operation.
//!
//! Run: `cargo bench -p smppgate-protocol --bench codec -- --warm-up-time 1 --measurement-time 3`
//!
//! Allocations are counted with `stats_alloc` (its global allocator wrapper holds the only
//! `unsafe`, outside our crates), over 10 000 operations each, and printed before criterion
//! starts.

use std::alloc::System;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rusmpp::decode::DecodeWithLength as _;
use rusmpp::encode::{Encode as _, Length as _};
use rusmpp_core::decode::borrowed::DecodeWithLength as _;
use smppgate_protocol::pdu::{MessageIdResp, ShortMessagePdu};
use smppgate_protocol::tlv::{Tlv, TlvTag, Tlvs};
use smppgate_protocol::types::{Address, DataCoding, EsmClass, Npi, Ton};
use smppgate_protocol::{Body, CommandStatus, Pdu, codec};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// How many TLVs rusmpp's borrowed decoder may hold inline.
const RUSMPP_TLVS: usize = 8;
type RusmppBorrowed<'a> = rusmpp_core::command::borrowed::Command<'a, RUSMPP_TLVS>;

fn address(ton: Ton, addr: &'static str) -> Address {
    Address {
        ton,
        npi: Npi::ISDN,
        addr: Bytes::from_static(addr.as_bytes()),
    }
}

fn submit_sm(short_message: Vec<u8>, esm_class: u8, tlvs: Tlvs) -> Pdu {
    Pdu::new(
        7,
        Body::SubmitSm(ShortMessagePdu {
            source_addr: address(Ton::ALPHANUMERIC, "SMPPGATE"),
            destination_addr: address(Ton::INTERNATIONAL, "8613800138000"),
            esm_class: EsmClass(esm_class),
            data_coding: DataCoding(0),
            short_message: Bytes::from(short_message),
            tlvs,
            ..ShortMessagePdu::default()
        }),
    )
}

/// The four PDUs, as (name, wire bytes).
fn cases() -> Vec<(&'static str, Bytes)> {
    let gsm160 = submit_sm(b"0123456789".repeat(16), 0, Tlvs::EMPTY);

    let mut udh_text = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
    udh_text.extend_from_slice(&b"Long message part one, GSM 7-bit, unpacked. ".repeat(3));
    let tlvs = Tlvs::builder()
        .push(Tlv::UserMessageReference(4242))
        .push(Tlv::SourcePort(9200))
        .push_raw(TlvTag(0x1402), b"vendor")
        .build()
        .expect("tlvs");
    let udh = submit_sm(udh_text, 0x40, tlvs);

    let receipt_text = b"id:0059113978 sub:001 dlvrd:001 submit date:2311231530 \
        done date:2311231531 stat:DELIVRD err:000 text:Hello from smppgate";
    let receipt_tlvs = Tlvs::builder()
        .push(Tlv::ReceiptedMessageId(Bytes::from_static(b"38601fa")))
        .push(Tlv::MessageState(2))
        .build()
        .expect("tlvs");
    let receipt = Pdu::new(
        9,
        Body::DeliverSm(ShortMessagePdu {
            source_addr: address(Ton::INTERNATIONAL, "8613800138000"),
            destination_addr: address(Ton::ALPHANUMERIC, "SMPPGATE"),
            esm_class: EsmClass(0x04),
            short_message: Bytes::from_static(receipt_text),
            tlvs: receipt_tlvs,
            ..ShortMessagePdu::default()
        }),
    );

    let resp = Pdu::response_to(
        &7u32,
        CommandStatus::ESME_ROK,
        Body::SubmitSmResp(MessageIdResp {
            message_id: Bytes::from_static(b"47c8c77a0001"),
            tlvs: Tlvs::EMPTY,
        }),
    );

    [
        ("submit_sm_gsm160", gsm160),
        ("submit_sm_udh_3tlv", udh),
        ("deliver_sm_receipt", receipt),
        ("submit_sm_resp", resp),
    ]
    .into_iter()
    .map(|(name, pdu)| (name, codec::encode_to_bytes(&pdu).expect("encode")))
    .collect()
}

fn rusmpp_borrowed(frame: &[u8]) -> RusmppBorrowed<'_> {
    RusmppBorrowed::decode(&frame[4..], frame.len() - 4)
        .expect("rusmpp borrowed decode")
        .0
}

fn rusmpp_owned(frame: &[u8]) -> rusmpp::Command {
    let mut buf = BytesMut::from(&frame[4..]);
    rusmpp::Command::decode(&mut buf, frame.len() - 4)
        .expect("rusmpp owned decode")
        .0
}

/// Allocations per operation over `n` runs of `op`.
fn allocations(n: u32, mut op: impl FnMut()) -> f64 {
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        op();
    }
    f64::from(u32::try_from(region.change().allocations).unwrap_or(u32::MAX)) / f64::from(n)
}

fn report_allocations(cases: &[(&'static str, Bytes)]) {
    const N: u32 = 10_000;
    println!("allocations per operation ({N} runs each):");
    for (name, frame) in cases {
        let pdu = codec::decode(frame.clone()).expect("decode");
        let mut out = BytesMut::with_capacity(frame.len());
        let ours_decode = allocations(N, || drop(black_box(codec::decode(frame.clone()))));
        let ours_encode = allocations(N, || {
            out.clear();
            codec::encode(&pdu, &mut out).expect("encode");
        });
        let ours_to_bytes = allocations(N, || drop(black_box(codec::encode_to_bytes(&pdu))));
        let borrowed = allocations(N, || drop(black_box(rusmpp_borrowed(frame))));
        let owned = allocations(N, || drop(black_box(rusmpp_owned(frame))));
        let command = rusmpp_owned(frame);
        let mut dst = vec![0u8; frame.len()];
        let rusmpp_encode = allocations(N, || {
            black_box(command.encode(&mut dst));
        });
        println!(
            "  {name:20} ours: decode {ours_decode:.2} encode(reused buf) {ours_encode:.2} \
             encode_to_bytes {ours_to_bytes:.2} | rusmpp: decode borrowed {borrowed:.2} \
             decode owned {owned:.2} encode {rusmpp_encode:.2}"
        );
    }
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    // Both decoders must accept every frame, and rusmpp must re-encode it byte for byte, or
    // the comparison means nothing.
    for (name, frame) in &cases {
        let command = rusmpp_owned(frame);
        let length = 4 + command.length();
        let mut dst = vec![0u8; length];
        dst[..4].copy_from_slice(&u32::try_from(length).expect("len").to_be_bytes());
        command.encode(&mut dst[4..]);
        assert_eq!(
            &dst[..],
            &frame[..],
            "{name}: rusmpp does not reproduce the frame"
        );
        let _ = rusmpp_borrowed(frame);
    }
    report_allocations(&cases);

    for (name, frame) in &cases {
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("decode/smppgate", |b| {
            b.iter(|| black_box(codec::decode(black_box(frame.clone())).expect("decode")));
        });
        group.bench_function("decode/rusmpp_borrowed", |b| {
            b.iter(|| black_box(rusmpp_borrowed(black_box(frame))));
        });
        group.bench_function("decode/rusmpp_owned", |b| {
            b.iter(|| black_box(rusmpp_owned(black_box(frame))));
        });
        let pdu = codec::decode(frame.clone()).expect("decode");
        let mut out = BytesMut::with_capacity(frame.len());
        group.bench_function("encode/smppgate", |b| {
            b.iter(|| {
                out.clear();
                codec::encode(black_box(&pdu), &mut out).expect("encode");
                black_box(&out);
            });
        });
        let command = rusmpp_owned(frame);
        let mut dst = vec![0u8; frame.len()];
        group.bench_function("encode/rusmpp", |b| {
            b.iter(|| {
                let length = 4 + black_box(&command).length();
                dst[..4].copy_from_slice(&u32::try_from(length).expect("len").to_be_bytes());
                black_box(command.encode(&mut dst[4..length]));
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
