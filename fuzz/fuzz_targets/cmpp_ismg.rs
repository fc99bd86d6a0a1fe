//! Drive the sans-IO ISMG side of a CMPP link (what `smppgate sim --protocol cmpp2|cmpp3`
//! runs) with arbitrary bytes: each action octet picks a step (the next packet from the
//! input stream, sending an owed report, time passing, a DELIVER_RESP), and after every step
//! its invariants must hold: the report window never exceeds its size, one packet asks for
//! at most two writes and at most 100 owed reports (one SUBMIT's destinations), and nothing
//! panics.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::cmpp::ismg::{Action, Ismg, IsmgConfig, OwedReport};
use smppgate_protocol::cmpp::{Body, DeliverResp, FrameDecoder, Pdu, Version};
use smppgate_protocol::receipt::ReceiptDate;

const WINDOW: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let split = rest.len().min(usize::from(control) * 4);
    let (steps, packets) = rest.split_at(split);
    let version = if control & 1 == 0 { Version::V2 } else { Version::V3 };
    let accounts = if control & 2 == 0 {
        Vec::new()
    } else {
        vec![(Bytes::from_static(b"901234"), Bytes::from_static(b"secret"))]
    };
    let mut ismg = Ismg::new(IsmgConfig {
        version,
        accounts,
        gateway_id: 7,
        window: WINDOW,
        response_timeout_ms: 1_000,
        max_tries: 3,
    });
    let date = ReceiptDate { year: 2026, month: 12, day: 6, hour: 9, minute: 0, second: 0 };
    let mut frames = FrameDecoder::new(version);
    let mut stream = BytesMut::from(packets);
    let mut owed: Vec<OwedReport> = Vec::new();
    let mut sent: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut now = 0u64;
    for &step in steps {
        now += u64::from(step >> 3) * 37;
        match step & 7 {
            0..=3 => match frames.decode(&mut stream) {
                Ok(Some(Ok(pdu))) => {
                    ismg.handle(pdu, &date, u32::from(step >> 7) * 8, &mut out);
                    let writes = out.iter().filter(|a| matches!(a, Action::Send(_))).count();
                    assert!(writes <= 2, "{writes} writes for one packet");
                    for action in out.drain(..) {
                        if let Action::Owe(report) = action {
                            owed.push(report);
                        }
                    }
                    assert!(owed.len() <= 100 * steps.len(), "owed reports grow without bound");
                }
                Ok(Some(Err(_))) | Ok(None) => {}
                Err(_) => return,
            },
            4 | 5 => {
                if let Some(report) = owed.pop()
                    && let Some(pdu) = ismg.report(&report, b"DELIVRD", &date, now)
                {
                    assert!(matches!(pdu.body, Body::Deliver(_)));
                    sent.push(pdu.sequence_id);
                }
            }
            6 => {
                let expired = ismg.handle_timeout(now);
                owed.extend(expired.retry);
            }
            _ => {
                let sequence_id = sent.pop().unwrap_or(u32::from(step));
                let resp = Pdu {
                    sequence_id,
                    body: Body::DeliverResp(DeliverResp { msg_id: 0, result: 0 }),
                };
                ismg.handle(resp, &date, 0, &mut out);
                out.clear();
            }
        }
        assert!(ismg.in_flight() <= WINDOW, "window overflow");
    }
});
