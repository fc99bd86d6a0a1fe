//! Decode arbitrary bytes as a CMPP 2.0 and a CMPP 3.0 stream and as one frame; whatever
//! decodes must encode to `encoded_len` octets and decode again to the same packet, and a
//! status report inside a DELIVER must parse or fail without a panic.
#![no_main]

#[path = "china_common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use smppgate_protocol::cmpp::{Body, FrameDecoder, StatusReport, Version, decode, encode, encoded_len};

fuzz_target!(|data: &[u8]| {
    for version in [Version::V2, Version::V3] {
        let mut codec = common::Codec {
            frames: FrameDecoder::new(version),
            decode: |frame| decode(frame, version),
            encode: |pdu: &_, out: &mut _| encode(pdu, version, out),
            encoded_len: |pdu: &_| encoded_len(pdu, version),
        };
        codec.run(data, |pdu| {
            if let Body::Deliver(deliver) = &pdu.body {
                let _ = StatusReport::parse(&deliver.msg_content, version);
            }
        });
    }
});
