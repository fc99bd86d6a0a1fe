//! Decode arbitrary bytes as an SMGP 3.0 stream and as one frame; whatever decodes must
//! encode to `encoded_len` octets and decode again to the same packet; a report in a
//! Deliver (or the raw input as one) must parse or fail without a panic.
#![no_main]

#[path = "china_common.rs"]
mod common;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::smgp::{Body, FrameDecoder, Report, decode, encode, encoded_len};

fuzz_target!(|data: &[u8]| {
    let mut codec = common::Codec { frames: FrameDecoder::default(), decode, encode, encoded_len };
    codec.run(data, |pdu| {
        if let Body::Deliver(deliver) = &pdu.body {
            let _ = Report::parse(&deliver.msg_content);
        }
    });
    let _ = Report::parse(&Bytes::copy_from_slice(data));
});
