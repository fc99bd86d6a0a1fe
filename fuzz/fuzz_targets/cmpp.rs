//! Decode arbitrary bytes as a CMPP 2.0 and a CMPP 3.0 stream and as one frame; whatever
//! decodes must encode to `encoded_len` octets and decode again to the same packet, and a
//! status report inside a DELIVER must parse or fail without a panic.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::cmpp::{
    Body, FrameDecoder, Pdu, StatusReport, Version, decode, encode, encoded_len,
};

fn round_trip(pdu: &Pdu, version: Version) {
    if let Body::Deliver(deliver) = &pdu.body {
        let _ = StatusReport::parse(&deliver.msg_content, version);
    }
    let mut out = BytesMut::new();
    encode(pdu, version, &mut out).expect("a decoded packet encodes in its own version");
    assert_eq!(out.len(), encoded_len(pdu, version), "encoded_len disagrees with encode");
    let bytes = out.freeze();
    let again = decode(bytes.clone(), version).expect("our own encoding must decode");
    assert_eq!(&again, pdu, "decode(encode(pdu)) != pdu");
    let mut twice = BytesMut::new();
    encode(&again, version, &mut twice).expect("re-encode");
    assert_eq!(&twice[..], &bytes[..], "encoding is not stable");
}

fuzz_target!(|data: &[u8]| {
    for version in [Version::V2, Version::V3] {
        let mut stream = BytesMut::from(data);
        let mut frames = FrameDecoder::new(version);
        while let Ok(Some(item)) = frames.decode(&mut stream) {
            if let Ok(pdu) = item {
                round_trip(&pdu, version);
            }
        }
        if let Ok(pdu) = decode(Bytes::copy_from_slice(data), version) {
            round_trip(&pdu, version);
        }
    }
});
