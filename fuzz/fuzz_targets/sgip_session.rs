//! Drive both SGIP links (the SP's outgoing Initiator and its report-listener Acceptor)
//! with arbitrary bytes: each action octet picks an input (a packet from the input stream,
//! a Submit, time passing, a respond, a bind or unbind), and after every input the links'
//! bounds must hold: the window and the unanswered set never exceed their sizes, one input
//! queues at most two packets, and nothing panics.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::sgip::session::{
    Acceptor, AcceptorConfig, Event, Initiator, InitiatorConfig, Now, Role,
};
use smppgate_protocol::sgip::{Body, FrameDecoder, Submit};

const WINDOW: usize = 4;
const UNANSWERED: usize = 3;

fn submit() -> Body {
    Body::Submit(Box::new(Submit {
        sp_number: Bytes::from_static(b"10655"),
        charge_number: Bytes::new(),
        user_numbers: vec![Bytes::from_static(b"8613000000000")],
        corp_id: Bytes::new(),
        service_type: Bytes::new(),
        fee_type: 1,
        fee_value: Bytes::new(),
        given_value: Bytes::new(),
        agent_flag: 0,
        morelateto_mt_flag: 2,
        priority: 0,
        expire_time: Bytes::new(),
        schedule_time: Bytes::new(),
        report_flag: 1,
        tp_pid: 0,
        tp_udhi: 0,
        message_coding: 0,
        message_type: 0,
        message_content: Bytes::from_static(b"hi"),
        reserve: Bytes::new(),
    }))
}

fn drain_transmit(sent: &mut usize, mut next: impl FnMut() -> bool) {
    while next() {
        *sent += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let split = rest.len().min(usize::from(control) * 4);
    let (actions, packets) = rest.split_at(split);
    let mut initiator = Initiator::new(InitiatorConfig {
        role: Role::Sp,
        node_id: 3_020_012_345,
        login_name: Bytes::from_static(b"sp"),
        login_password: Bytes::from_static(b"secret"),
        window: WINDOW,
        response_timeout_ms: 1_000,
        idle_timeout_ms: u64::from(control & 0x0F) * 500,
    });
    let mut acceptor = Acceptor::new(
        AcceptorConfig {
            peer: Role::Smg,
            node_id: 3_020_012_345,
            accounts: if control & 0x10 == 0 {
                Vec::new()
            } else {
                vec![(Bytes::from_static(b"smg"), Bytes::from_static(b"pw"))]
            },
            max_unanswered: UNANSWERED,
            response_timeout_ms: 1_000,
            idle_timeout_ms: 5_000,
        },
        0,
    );
    let mut frames = FrameDecoder::default();
    let mut stream = BytesMut::from(packets);
    let mut now = Now::new(0, 1_206_071_900);
    let _ = initiator.bind(now);
    let mut requests = Vec::new();
    for &action in actions {
        now.ms += u64::from(action >> 3) * 37;
        now.stamp = now.stamp.wrapping_add(u32::from(action >> 6));
        match action & 7 {
            0..=2 => match frames.decode(&mut stream) {
                Ok(Some(Ok(pdu))) => {
                    initiator.handle_pdu(now, pdu.clone());
                    acceptor.handle_pdu(now, pdu);
                }
                Ok(Some(Err(error))) => {
                    initiator.handle_decode_error(now);
                    acceptor.handle_decode_error(now, &error);
                }
                Ok(None) => {}
                Err(_) => {
                    initiator.handle_frame_error();
                    acceptor.handle_frame_error();
                }
            },
            3 => {
                let _ = initiator.send_request(now, submit());
            }
            4 => {
                initiator.handle_timeout(now);
                acceptor.handle_timeout(now);
            }
            5 => {
                if let Some(sequence) = requests.pop() {
                    let _ = acceptor.respond(sequence, action >> 5);
                }
            }
            6 => {
                let _ = initiator.bind(now);
            }
            _ => {
                initiator.unbind(now);
                acceptor.unbind(now);
            }
        }
        assert!(initiator.in_flight() <= WINDOW, "window overflow");
        assert!(acceptor.unanswered() <= UNANSWERED, "unanswered overflow");
        let mut sent = 0;
        drain_transmit(&mut sent, || initiator.poll_transmit().is_some());
        assert!(sent <= 2, "initiator queued {sent} packets for one input");
        sent = 0;
        drain_transmit(&mut sent, || acceptor.poll_transmit().is_some());
        assert!(sent <= 2, "acceptor queued {sent} packets for one input");
        let mut events = 0;
        while initiator.poll_event().is_some() {
            events += 1;
        }
        assert!(events <= WINDOW + 2, "{events} initiator events from one input");
        while let Some(event) = acceptor.poll_event() {
            if let Event::Request(pdu) = event {
                requests.push(pdu.sequence);
            }
        }
        requests.truncate(UNANSWERED * 2);
    }
});
