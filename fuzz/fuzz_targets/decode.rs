//! Decode arbitrary bytes as an SMPP stream and as one frame; whatever decodes and encodes
//! must decode again to the same PDU, with `encoded_len` equal to the bytes written.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::codec::{FrameDecoder, decode, encode, encoded_len};
use smppgate_protocol::Pdu;

fn round_trip(pdu: &Pdu) {
    let mut out = BytesMut::new();
    if encode(pdu, &mut out).is_err() {
        // Lenient decodes (sm_length 255, NULs where the spec wants none, …) may be refused
        // on send: strict on send is the rule. Nothing must have been written then.
        assert!(out.is_empty(), "encode wrote octets and then failed");
        return;
    }
    assert_eq!(out.len(), encoded_len(pdu), "encoded_len disagrees with encode");
    let bytes = out.freeze();
    let again = decode(bytes.clone()).expect("our own encoding must decode");
    if pdu.command_status.is_ok() || !pdu.body.is_response() {
        assert_eq!(&again, pdu, "decode(encode(pdu)) != pdu");
    } else {
        // An error response is sent header-only (SMPP 3.4 §4.1.2 and friends) even when the
        // peer's copy carried a body: only the header survives, by design.
        assert_eq!(again.sequence_number, pdu.sequence_number);
        assert_eq!(again.command_status, pdu.command_status);
        assert_eq!(again.command_id(), pdu.command_id());
    }
    let mut twice = BytesMut::new();
    encode(&again, &mut twice).expect("re-encode of a decoded PDU");
    assert_eq!(&twice[..], &bytes[..], "encoding is not stable");
}

fuzz_target!(|data: &[u8]| {
    // As a stream: every frame, until the framing breaks or the input ends.
    let mut stream = BytesMut::from(data);
    let mut frames = FrameDecoder::default();
    while let Ok(Some(item)) = frames.decode(&mut stream) {
        if let Ok(pdu) = item {
            round_trip(&pdu);
        }
    }
    // As one frame handed over by a framer (the length field may lie).
    if let Ok(pdu) = decode(Bytes::copy_from_slice(data)) {
        round_trip(&pdu);
    }
});
