//! Concatenated parts as peers could send them (any reference, total, sequence, payload,
//! from a few sources), into a reassembler with small limits, with time moving on: its
//! limits hold, everything expires in the end with every octet given back, and nothing
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smppgate_protocol::text::reassembly::{ExpiryPolicy, Reassembler, ReassemblyConfig, Segment};
use smppgate_protocol::text::udh::Concat;

const MAX_OPEN: usize = 8;
const MAX_OCTETS: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let mut reassembler = Reassembler::new(ReassemblyConfig {
        max_open: MAX_OPEN,
        max_octets: MAX_OCTETS,
        ttl_ms: 1_000,
        on_expiry: if data.first().is_some_and(|b| b & 1 == 0) {
            ExpiryPolicy::Drop
        } else {
            ExpiryPolicy::DeliverIncomplete
        },
    });
    let sources = ["a", "b", "c"];
    let mut now = 0u64;
    // Each part: source, reference (2), total, seq, time step, payload length, payload.
    let mut rest = data;
    while let [source, r0, r1, total, seq, step, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        now += u64::from(*step) * 10;
        let reference = u16::from_be_bytes([*r0, *r1]);
        let segment = Segment {
            source: sources[usize::from(*source) % sources.len()],
            destination: "d",
            concat: Concat {
                reference,
                wide_reference: source & 0x80 != 0,
                total: *total,
                seq: *seq,
            },
            payload,
            udh_octets: usize::from(*source & 0x0F),
        };
        let _ = reassembler.push(&segment, now);
        let _ = reassembler.expire(now);
        let _ = reassembler.next_expiry_ms();
        let stats = reassembler.stats();
        assert!(stats.open <= MAX_OPEN, "{stats:?}");
        assert!(stats.octets_held <= MAX_OCTETS, "{stats:?}");
    }
    // Past every message's time to live: nothing left, every octet given back.
    let _ = reassembler.expire(now + 1_001);
    let stats = reassembler.stats();
    assert_eq!((stats.open, stats.octets_held), (0, 0), "{stats:?}");
});
