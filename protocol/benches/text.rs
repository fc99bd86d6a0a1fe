//! Text-layer benchmarks: split a 600-character Chinese message and a 600-character GSM
//! message, parse a receipt, reassemble a 4-part message.
//!
//! Run: `cargo bench -p smppgate-protocol --bench text -- --warm-up-time 1 --measurement-time 3`
//!
//! Allocations per operation. A counting `#[global_allocator]` needs `unsafe impl
//! GlobalAlloc`, and the workspace sets `unsafe_code = "forbid"` on the command line
//! (`-F unsafe_code`), which an `#![allow]` in this file cannot override (E0453) and Cargo
//! has no per-target lint levels. So this binary counts allocations from outside instead:
//! with `TEXT_BENCH_ALLOC=<operation>:<iterations>` it runs just that operation that many
//! times and exits, and a heap profiler counts the calls. Per-operation allocations are
//! `(allocs(N) - allocs(0)) / N`, e.g. with valgrind:
//!
//! ```text
//! B=$(ls -t target/release/deps/text-* | grep -v '\.d$' | head -1)
//! for op in split_chinese split_gsm parse_receipt reassemble; do
//!   a0=$(TEXT_BENCH_ALLOC=$op:0 valgrind $B 2>&1 | grep -o '[0-9,]* allocs' | tr -d ,)
//!   a1=$(TEXT_BENCH_ALLOC=$op:1000 valgrind $B 2>&1 | grep -o '[0-9,]* allocs' | tr -d ,)
//!   echo "$op $(( (${a1% *} - ${a0% *}) / 1000 )) allocs/op"
//! done
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use smppgate_protocol::receipt::{DeliveryReceipt, ReceiptTlvs};
use smppgate_protocol::text::{
    PushOutcome, Reassembler, ReferenceGenerator, Segment, SplitMessage, SplitOptions, split,
};

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

/// Runs one operation `iterations` times for an external allocation counter.
fn alloc_mode(spec: &str) {
    let (op, n) = spec.split_once(':').unwrap_or((spec, "1000"));
    let n: usize = n.parse().unwrap_or(1000);
    // Inputs are built before the loop in every mode so that N = 0 measures them too.
    let (zh, en, parts) = (chinese(), gsm(), gsm_parts());
    let mut refs = ReferenceGenerator::new(0);
    for _ in 0..n {
        match op {
            "split_chinese" => drop(black_box(split_once(&zh, &mut refs))),
            "split_gsm" => drop(black_box(split_once(&en, &mut refs))),
            "parse_receipt" => drop(black_box(parse_receipt())),
            "reassemble" => {
                black_box(reassemble(&parts));
            }
            other => panic!("unknown operation {other}"),
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("TEXT_BENCH_ALLOC") {
        alloc_mode(&spec);
        return;
    }
    text();
    Criterion::default().configure_from_args().final_summary();
}
