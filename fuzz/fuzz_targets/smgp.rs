//! Decode arbitrary bytes as an SMGP 3.0 stream and as one frame; whatever decodes must
//! encode to `encoded_len` octets and decode again to the same packet; a report in a
//! Deliver must parse or fail without a panic.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::smgp::{Body, FrameDecoder, Pdu, Report, decode, encode, encoded_len};

fn round_trip(pdu: &Pdu) {
    if let Body::Deliver(deliver) = &pdu.body {
        let _ = Report::parse(&deliver.msg_content);
    }
    let mut out = BytesMut::new();
    encode(pdu, &mut out).expect("a decoded packet encodes");
    assert_eq!(out.len(), encoded_len(pdu), "encoded_len disagrees with encode");
    let bytes = out.freeze();
    let again = decode(bytes.clone()).expect("our own encoding must decode");
    assert_eq!(&again, pdu, "decode(encode(pdu)) != pdu");
    let mut twice = BytesMut::new();
    encode(&again, &mut twice).expect("re-encode");
    assert_eq!(&twice[..], &bytes[..], "encoding is not stable");
}

fuzz_target!(|data: &[u8]| {
    let mut stream = BytesMut::from(data);
    let mut frames = FrameDecoder::default();
    while let Ok(Some(item)) = frames.decode(&mut stream) {
        if let Ok(pdu) = item {
            round_trip(&pdu);
        }
    }
    if let Ok(pdu) = decode(Bytes::copy_from_slice(data)) {
        round_trip(&pdu);
    }
    let _ = Report::parse(&Bytes::copy_from_slice(data));
});
