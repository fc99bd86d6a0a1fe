//! Drive the sans-IO SP session in its CMPP dialect with arbitrary bytes: each input octet picks an action
//! (a packet from the input stream, a request, time passing, a terminate), and after every
//! input the session's invariants must hold: the window never exceeds its size, what it
//! queues per input is bounded, and nothing panics.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::cmpp::session::{Cmpp, Session, SessionConfig};
use smppgate_protocol::cmpp::{Body, Cancel, FrameDecoder, Pdu, Version};

const WINDOW: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let split = rest.len().min(usize::from(control) * 4);
    let (actions, packets) = rest.split_at(split);
    let version = if control & 1 == 0 { Version::V2 } else { Version::V3 };
    let mut session = Session::new(Cmpp(version), SessionConfig {
        login_name: Bytes::from_static(b"901234"),
        secret: Bytes::from_static(b"secret"),
        window: WINDOW,
        response_timeout_ms: 1_000,
        active_test_interval_ms: 5_000,
        active_test_max_missed: 3,
    });
    let mut frames = FrameDecoder::new(version);
    let mut stream = BytesMut::from(packets);
    let mut now = 0u64;
    let _ = session.login(now, 1_206_071_900);
    for &action in actions {
        now += u64::from(action >> 3) * 37;
        match action & 7 {
            0..=2 => match frames.decode(&mut stream) {
                Ok(Some(Ok(pdu))) => session.handle_pdu(now, pdu),
                Ok(Some(Err(_))) => session.handle_decode_error(now),
                Ok(None) => {}
                Err(_) => session.handle_frame_error(),
            },
            3 | 4 => {
                let cancel = Body::Cancel(Cancel { msg_id: u64::from(action) });
                let _ = session.send_request(now, Pdu { sequence_id: 0, body: cancel });
            }
            5 => session.handle_timeout(now),
            6 => session.respond(u32::from(action), 1, 0),
            _ => session.terminate(now),
        }
        assert!(session.in_flight() <= WINDOW, "window overflow");
        let mut sent = 0;
        while session.poll_transmit().is_some() {
            sent += 1;
        }
        assert!(sent <= 2, "{sent} packets queued by one input");
        let mut events = 0;
        while session.poll_event().is_some() {
            events += 1;
        }
        assert!(events <= WINDOW + 2, "{events} events from one input");
    }
});
