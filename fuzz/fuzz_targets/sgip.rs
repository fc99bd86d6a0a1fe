//! Decode arbitrary bytes as an SGIP 1.2 stream and as one frame; whatever decodes must
//! encode to `encoded_len` octets and decode again to the same packet.
#![no_main]

#[path = "china_common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use smppgate_protocol::sgip::{FrameDecoder, decode, encode, encoded_len};

fuzz_target!(|data: &[u8]| {
    let mut codec = common::Codec { frames: FrameDecoder::default(), decode, encode, encoded_len };
    codec.run(data, |_| {});
});
