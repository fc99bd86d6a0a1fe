//! Reassembly: UDH 8/16-bit and SAR, out of order, duplicates, bad sequence numbers, a
//! disagreeing total, limits, TTL with both expiry policies, and split → reassemble.

use smppgate_protocol::text::{
    ExpiryPolicy, PushOutcome, ReassembledMessage, Reassembler, ReassemblyConfig, ReassemblyError,
    ReferenceGenerator, Segment, SplitMethod, SplitOptions, TextConfig, decode, split,
};

fn udh8(reference: u8, total: u8, seq: u8, text: &[u8]) -> Vec<u8> {
    let mut v = vec![0x05, 0x00, 0x03, reference, total, seq];
    v.extend_from_slice(text);
    v
}

fn push_udh(r: &mut Reassembler, data: &[u8], now: u64) -> Result<PushOutcome, ReassemblyError> {
    let seg = Segment::from_udh("8613800000000", "10690000", data)
        .unwrap()
        .unwrap();
    r.push(&seg, now)
}

fn complete(outcome: PushOutcome) -> ReassembledMessage {
    match outcome {
        PushOutcome::Complete(m) => m,
        other => panic!("expected Complete, got {other:?}"),
    }
}

#[test]
fn out_of_order_with_duplicate() {
    let mut r = Reassembler::default();
    let (p1, p2, p3) = (
        udh8(9, 3, 1, b"aa"),
        udh8(9, 3, 2, b"bb"),
        udh8(9, 3, 3, b"cc"),
    );
    assert_eq!(
        push_udh(&mut r, &p3, 0),
        Ok(PushOutcome::Stored {
            received: 1,
            total: 3
        })
    );
    assert_eq!(
        push_udh(&mut r, &p1, 1),
        Ok(PushOutcome::Stored {
            received: 2,
            total: 3
        })
    );
    assert_eq!(push_udh(&mut r, &p1, 2), Ok(PushOutcome::Duplicate));
    let m = complete(push_udh(&mut r, &p2, 3).unwrap());
    assert!(m.is_complete());
    assert_eq!(m.concatenated(), b"aabbcc");
    let s = r.stats();
    assert_eq!(
        (
            s.parts_received,
            s.completed,
            s.duplicates,
            s.open,
            s.octets_held
        ),
        (4, 1, 1, 0, 0)
    );
}

/// What is held of a message can be dropped by its key (parts replayed after a restart
/// of a message already delivered): nothing else is touched, and a later part starts it
/// afresh.
#[test]
fn discard_drops_one_message_by_its_key() {
    let mut r = Reassembler::default();
    for data in [udh8(7, 3, 1, b"aa"), udh8(8, 2, 1, b"xx")] {
        assert!(matches!(
            push_udh(&mut r, &data, 0),
            Ok(PushOutcome::Stored { received: 1, .. })
        ));
    }
    let data = udh8(7, 3, 2, b"bb");
    let seg = Segment::from_udh("8613800000000", "10690000", &data)
        .unwrap()
        .unwrap();
    assert!(r.discard(seg.source, seg.destination, seg.concat));
    assert!(!r.discard(seg.source, seg.destination, seg.concat));
    assert_eq!((r.stats().open, r.stats().octets_held), (1, 2));
    assert_eq!(
        push_udh(&mut r, &udh8(7, 3, 2, b"bb"), 1),
        Ok(PushOutcome::Stored {
            received: 1,
            total: 3
        })
    );
    let m = complete(push_udh(&mut r, &udh8(8, 2, 2, b"yy"), 1).unwrap());
    assert_eq!(m.concatenated(), b"xxyy");
}

#[test]
fn other_elements_in_the_udh_and_16_bit_reference() {
    let mut r = Reassembler::default();
    // 16-bit ports (IEI 05) then 16-bit concatenation (IEI 08).
    let part = |seq: u8, text: &[u8]| {
        let mut v = vec![
            0x0C, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x08, 0x04, 0xBE, 0xEF, 2, seq,
        ];
        v.extend_from_slice(text);
        v
    };
    assert!(matches!(
        push_udh(&mut r, &part(2, b"world"), 0).unwrap(),
        PushOutcome::Stored { .. }
    ));
    let m = complete(push_udh(&mut r, &part(1, b"hello "), 0).unwrap());
    assert_eq!(m.concat.reference, 0xBEEF);
    assert!(m.concat.wide_reference);
    assert_eq!(m.concatenated(), b"hello world");
    assert_eq!(m.udh_octets, [13, 13]);
}

#[test]
fn a_udh_without_concatenation_is_not_a_segment() {
    let data = [0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, b'x'];
    assert_eq!(Segment::from_udh("a", "b", &data), Ok(None));
    assert!(Segment::from_udh("a", "b", &[0x09, 0x00]).is_err());
}

#[test]
fn sar_segments() {
    let mut r = Reassembler::default();
    let a = Segment::from_sar("a", "b", 700, 2, 2, b"second");
    let b = Segment::from_sar("a", "b", 700, 2, 1, b"first ");
    assert!(matches!(r.push(&a, 0).unwrap(), PushOutcome::Stored { .. }));
    assert_eq!(
        complete(r.push(&b, 0).unwrap()).concatenated(),
        b"first second"
    );
}

#[test]
fn keys_separate_sources_destinations_and_widths() {
    let mut r = Reassembler::default();
    let p = udh8(1, 2, 1, b"x");
    assert!(matches!(
        r.push(&Segment::from_udh("A", "B", &p).unwrap().unwrap(), 0)
            .unwrap(),
        PushOutcome::Stored { .. }
    ));
    assert!(matches!(
        r.push(&Segment::from_udh("C", "B", &p).unwrap().unwrap(), 0)
            .unwrap(),
        PushOutcome::Stored { .. }
    ));
    assert!(matches!(
        r.push(&Segment::from_sar("A", "B", 1, 2, 1, b"x"), 0)
            .unwrap(),
        PushOutcome::Stored { .. }
    ));
    assert_eq!(r.stats().open, 3);
}

#[test]
fn bad_sequence_numbers_and_total_mismatch() {
    let mut r = Reassembler::default();
    assert_eq!(
        push_udh(&mut r, &udh8(1, 3, 0, b"x"), 0),
        Err(ReassemblyError::InvalidSequence { seq: 0, total: 3 })
    );
    assert_eq!(
        push_udh(&mut r, &udh8(1, 3, 4, b"x"), 0),
        Err(ReassemblyError::InvalidSequence { seq: 4, total: 3 })
    );
    assert_eq!(
        push_udh(&mut r, &udh8(1, 0, 0, b"x"), 0),
        Err(ReassemblyError::InvalidSequence { seq: 0, total: 0 })
    );
    assert!(matches!(
        push_udh(&mut r, &udh8(1, 3, 1, b"x"), 0).unwrap(),
        PushOutcome::Stored { .. }
    ));
    assert_eq!(
        push_udh(&mut r, &udh8(1, 4, 2, b"x"), 0),
        Err(ReassemblyError::TotalMismatch {
            reference: 1,
            expected: 3,
            got: 4
        })
    );
    let s = r.stats();
    assert_eq!((s.invalid_sequence, s.total_mismatches, s.open), (3, 1, 1));
}

#[test]
fn a_single_part_message_completes_at_once() {
    let mut r = Reassembler::default();
    let m = complete(push_udh(&mut r, &udh8(5, 1, 1, b"solo"), 0).unwrap());
    assert_eq!(m.concatenated(), b"solo");
    assert_eq!(r.stats().open, 0);
}

#[test]
fn limits_on_open_messages_and_octets() {
    let mut r = Reassembler::new(ReassemblyConfig {
        max_open: 2,
        max_octets: 10,
        ..ReassemblyConfig::default()
    });
    assert!(matches!(
        push_udh(&mut r, &udh8(1, 2, 1, b"aaaa"), 0).unwrap(),
        PushOutcome::Stored { .. }
    ));
    assert!(matches!(
        push_udh(&mut r, &udh8(2, 2, 1, b"bbbb"), 0).unwrap(),
        PushOutcome::Stored { .. }
    ));
    assert_eq!(
        push_udh(&mut r, &udh8(3, 2, 1, b"c"), 0),
        Err(ReassemblyError::TooManyOpen { max: 2 })
    );
    assert_eq!(
        push_udh(&mut r, &udh8(1, 2, 2, b"aaa"), 0),
        Err(ReassemblyError::TooManyOctets { max: 10 })
    );
    // Completing one frees room.
    complete(push_udh(&mut r, &udh8(2, 2, 2, b"bb"), 0).unwrap());
    assert_eq!(r.stats().octets_held, 4);
    assert_eq!(r.stats().rejected_full, 2);
}

#[test]
fn ttl_drop_and_deliver_incomplete() {
    for policy in [ExpiryPolicy::Drop, ExpiryPolicy::DeliverIncomplete] {
        let mut r = Reassembler::new(ReassemblyConfig {
            ttl_ms: 1_000,
            on_expiry: policy,
            ..ReassemblyConfig::default()
        });
        assert!(matches!(
            push_udh(&mut r, &udh8(1, 3, 2, b"bb"), 500).unwrap(),
            PushOutcome::Stored { .. }
        ));
        assert_eq!(r.next_expiry_ms(), Some(1_500));
        assert!(r.expire(1_499).is_empty());
        let out = r.expire(1_500);
        assert_eq!(r.stats().open, 0);
        assert_eq!(r.stats().octets_held, 0);
        match policy {
            ExpiryPolicy::Drop => {
                assert!(out.is_empty());
                assert_eq!(r.stats().expired_dropped, 1);
            }
            ExpiryPolicy::DeliverIncomplete => {
                assert_eq!(out.len(), 1);
                assert!(!out[0].is_complete());
                assert_eq!(out[0].missing, [1, 3]);
                assert_eq!(out[0].parts[1], b"bb");
                assert_eq!(r.stats().expired_delivered, 1);
            }
        }
    }
}

#[test]
fn split_then_reassemble_in_reverse_order() {
    let text = format!("{} 😀 {}", "中文".repeat(60), "€".repeat(10));
    for packed in [false, true] {
        let opts = SplitOptions {
            method: SplitMethod::Udh16,
            config: TextConfig {
                packed_gsm7: packed,
                ..TextConfig::default()
            },
            ..SplitOptions::default()
        };
        let m = split(&text, &opts, &mut ReferenceGenerator::new(42)).unwrap();
        let mut r = Reassembler::default();
        let mut done = None;
        for part in m.parts.iter().rev() {
            let data = part.user_data();
            let seg = Segment::from_udh("s", "d", &data).unwrap().unwrap();
            if let PushOutcome::Complete(msg) = r.push(&seg, 0).unwrap() {
                done = Some(msg);
            }
        }
        let msg = done.unwrap();
        assert_eq!(
            decode(m.data_coding, &msg.concatenated(), 0, TextConfig::default()),
            text
        );
    }
}
