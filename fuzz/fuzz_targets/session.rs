//! Drive both session roles with frames and timer ticks taken from the fuzz input, plus
//! application calls: the session must never panic, and its window and owed-response bounds
//! must hold whatever the peer sends.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::codec::FrameDecoder;
use smppgate_protocol::pdu::{Bind, Body, SubmitSm};
use smppgate_protocol::session::{BindKind, Role, Session, SessionConfig};
use smppgate_protocol::CommandStatus;

fn drain(session: &mut Session, config: &SessionConfig) {
    while session.poll_transmit().is_some() {}
    while let Some(_event) = session.poll_event() {}
    assert!(session.outstanding() <= config.window_size + 3);
    assert!(session.owed() <= config.max_owed_responses);
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let role = if control & 1 == 0 { Role::Esme } else { Role::Smsc };
    let config = SessionConfig {
        window_size: 4,
        max_owed_responses: 8,
        ..SessionConfig::default()
    };
    let mut session = Session::new(role, config.clone(), 0);
    let mut now = 0u64;
    if role == Role::Esme {
        let _ = session.bind(BindKind::Transceiver, Bind::default(), now);
    }
    drain(&mut session, &config);

    let mut stream = BytesMut::from(rest);
    let mut frames = FrameDecoder::default();
    let mut step = 0u8;
    loop {
        step = step.wrapping_add(control | 1);
        now += u64::from(step) * 37;
        match frames.decode(&mut stream) {
            Ok(Some(Ok(pdu))) => {
                let sequence_number = pdu.sequence_number;
                let is_request = pdu.body.is_request();
                session.handle_pdu(pdu, now);
                // Answer what the application owes sometimes, sometimes not.
                if is_request && step & 2 == 0 {
                    let _ = session.respond(sequence_number, CommandStatus::ESME_ROK, Body::GenericNack, now);
                }
            }
            Ok(Some(Err(error))) => session.handle_decode_error(&error, now),
            Ok(None) => break,
            Err(error) => {
                session.handle_frame_error(&error);
                break;
            }
        }
        match step % 5 {
            0 => {
                let _ = session.send_request(Body::SubmitSm(SubmitSm::default()), now);
            }
            1 => session.handle_timeout(now),
            2 if step > 200 => {
                let _ = session.unbind(now);
            }
            3 if role == Role::Smsc => {
                let _ = session.accept_bind(Default::default(), now);
            }
            _ => {}
        }
        drain(&mut session, &config);
    }
    session.handle_timeout(now + 3_600_000);
    session.handle_disconnect();
    drain(&mut session, &config);
});
