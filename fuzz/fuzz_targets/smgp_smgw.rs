//! Drive the sans-IO SMGW side of an SMGP link (what `smppgate sim --protocol smgp` runs)
//! with arbitrary bytes: each action octet picks a step (the next packet from the input
//! stream, sending an owed report or an MO, time passing, a Deliver_Resp), and after every
//! step its invariants must hold: the Deliver window never exceeds its size, one packet
//! asks for at most two writes, what is owed grows by at most 100 reports (one Submit's
//! destinations) per packet, and nothing panics.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::receipt::ReceiptDate;
use smppgate_protocol::smgp::smgw::{Action, OwedReport, Smgw, SmgwConfig};
use smppgate_protocol::smgp::{Body, FrameDecoder, MsgId, MsgIdStatus, Pdu};

const WINDOW: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let split = rest.len().min(usize::from(control) * 4);
    let (steps, packets) = rest.split_at(split);
    let accounts = if control & 2 == 0 {
        Vec::new()
    } else {
        vec![(Bytes::from_static(b"10001"), Bytes::from_static(b"secret"))]
    };
    let mut smgw = Smgw::new(SmgwConfig {
        accounts,
        gateway_code: 590_001,
        window: WINDOW,
        response_timeout_ms: 1_000,
        max_tries: 3,
    });
    let date = ReceiptDate { year: 2026, month: 12, day: 6, hour: 9, minute: 0, second: 0 };
    let mut frames = FrameDecoder::default();
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
                    smgw.handle(pdu, &date, u32::from(step >> 7) * 75, &mut out);
                    let writes = out.iter().filter(|a| matches!(a, Action::Send(_))).count();
                    assert!(writes <= 2, "{writes} writes for one packet");
                    let before = owed.len();
                    for action in out.drain(..) {
                        if let Action::Owe(report) = action {
                            owed.push(report);
                        }
                    }
                    assert!(owed.len() - before <= 100, "one packet owes too much");
                }
                Ok(Some(Err(_))) | Ok(None) => {}
                Err(_) => return,
            },
            4 => {
                if let Some(report) = owed.pop()
                    && let Some(pdu) = smgw.report(&report, b"DELIVRD", b"000", &date, now)
                {
                    assert!(matches!(&pdu.body, Body::Deliver(d) if d.is_report == 1));
                    sent.push(pdu.sequence_id);
                }
            }
            5 => {
                if let Some(pdu) = smgw.mo(b"133", b"1069", 8, Bytes::from_static(&[0x4f, 0x60]), &date, now) {
                    sent.push(pdu.sequence_id);
                }
            }
            6 => {
                let expired = smgw.handle_timeout(now);
                owed.extend(expired.retry.into_iter().map(|(report, _, _)| report));
            }
            _ => {
                let sequence_id = sent.pop().unwrap_or(u32::from(step));
                let resp = Pdu {
                    sequence_id,
                    body: Body::DeliverResp(MsgIdStatus { msg_id: MsgId::default(), status: 0 }),
                };
                smgw.handle(resp, &date, 0, &mut out);
                out.clear();
            }
        }
        assert!(smgw.in_flight() <= WINDOW, "window overflow");
        owed.truncate(1_000);
    }
});
