//! Text-layer benchmarks: split a 600-character Chinese message and a 600-character GSM
//! message, parse a receipt, reassemble a 4-part message.
//!
//! Run: `cargo bench -p smppgate-protocol --bench text -- --warm-up-time 1 --measurement-time 3`
//!
//! Allocations per operation are counted in-process with `stats_alloc` (its global
//! allocator wrapper holds the only `unsafe`, outside our crates) over 1 000 runs each, and
//! printed before criterion starts.

use std::alloc::System;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use smppgate_protocol::receipt::{DeliveryReceipt, ReceiptTlvs};
use smppgate_protocol::text::{
    PushOutcome, Reassembler, ReferenceGenerator, Segment, SplitMessage, SplitOptions, split,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// 600 Chinese characters (UCS-2, 9 parts of 67).
fn chinese() -> String {
    "短信网关测试消息，包含中文字符和标点。"
        .chars()
        .cycle()
        .take(600)
        .collect()
}

/// 600 GSM characters with some extension characters (GSM 7-bit, 4 parts of 153 septets).
fn gsm() -> String {
    "Your code is 123456 [valid 5 min] - total: 9.99€ {ok} "
        .chars()
        .cycle()
        .take(600)
        .collect()
}

const RECEIPT: &[u8] = b"id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 stat:DELIVRD err:000 text:@$#!%&/:";

fn split_once(text: &str, refs: &mut ReferenceGenerator) -> SplitMessage {
    split(text, &SplitOptions::default(), refs).expect("splits")
}

fn parse_receipt() -> DeliveryReceipt {
    DeliveryReceipt::parse(
        RECEIPT,
        &ReceiptTlvs {
            receipted_message_id: Some(b"38601fa\0"),
            message_state: Some(2),
            network_error_code: None,
        },
    )
}

/// Pushes every part of `user_data` into a fresh reassembler; returns whether it completed.
fn reassemble(user_data: &[Vec<u8>]) -> bool {
    let mut r = Reassembler::default();
    let mut done = false;
    for data in user_data {
        let seg = Segment::from_udh("8613800000000", "10690000", data)
            .expect("valid UDH")
            .expect("concatenated");
        done = matches!(r.push(&seg, 0), Ok(PushOutcome::Complete(_)));
    }
    done
}

fn gsm_parts() -> Vec<Vec<u8>> {
    split_once(&gsm(), &mut ReferenceGenerator::new(1))
        .parts
        .iter()
        .map(smppgate_protocol::text::Part::user_data)
        .collect()
}

fn benches(c: &mut Criterion) {
    let (zh, en) = (chinese(), gsm());
    let mut refs = ReferenceGenerator::new(0);
    let mut group = c.benchmark_group("text");
    group.throughput(Throughput::Elements(1));
    group.bench_function("split_chinese_600", |b| {
        b.iter(|| split_once(black_box(&zh), &mut refs));
    });
    group.bench_function("split_gsm_600", |b| {
        b.iter(|| split_once(black_box(&en), &mut refs));
    });
    group.bench_function("parse_receipt", |b| b.iter(|| black_box(parse_receipt())));
    let parts = gsm_parts();
    group.bench_function("reassemble_4_parts", |b| {
        b.iter(|| reassemble(black_box(&parts)));
    });
    group.finish();
}

criterion_group!(text, benches);

/// Allocations per operation over 1 000 runs, for the note and the README.
fn report_allocations() {
    const N: u32 = 1_000;
    let (zh, en, parts) = (chinese(), gsm(), gsm_parts());
    let mut refs = ReferenceGenerator::new(0);
    let count = |name: &str, op: &mut dyn FnMut()| {
        let region = Region::new(GLOBAL);
        for _ in 0..N {
            op();
        }
        let allocations = region.change().allocations;
        println!(
            "  {name:20} {:.1} allocations/op",
            allocations as f64 / f64::from(N)
        );
    };
    println!("allocations per operation ({N} runs each):");
    count("split_chinese_600", &mut || {
        drop(black_box(split_once(&zh, &mut refs)));
    });
    let mut refs = ReferenceGenerator::new(0);
    count("split_gsm_600", &mut || {
        drop(black_box(split_once(&en, &mut refs)));
    });
    count("parse_receipt", &mut || drop(black_box(parse_receipt())));
    count("reassemble_4_parts", &mut || {
        black_box(reassemble(&parts));
    });
}

fn main() {
    report_allocations();
    text();
    Criterion::default().configure_from_args().final_summary();
}
