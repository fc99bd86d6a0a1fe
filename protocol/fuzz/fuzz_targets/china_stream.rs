//! A CMPP 2.0 / CMPP 3.0 / SMGP / SGIP byte stream (the first octet picks which):
//! framed and decoded; what decodes is encoded again and must decode again to the same
//! packet. Nothing may panic.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::china::FrameDecoder;
use smppgate_protocol::{cmpp, sgip, smgp};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let buf = BytesMut::from(stream);
    match pick % 4 {
        0 => {
            let v2 = cmpp::Version::V2;
            round_trips(buf, cmpp::FrameDecoder::new(v2), |p, out| {
                cmpp::encode(p, v2, out).is_ok()
            });
        }
        1 => {
            let v3 = cmpp::Version::V3;
            round_trips(buf, cmpp::FrameDecoder::new(v3), |p, out| {
                cmpp::encode(p, v3, out).is_ok()
            });
        }
        2 => round_trips(buf, smgp::FrameDecoder::default(), |p, out| {
            smgp::encode(p, out).is_ok()
        }),
        _ => round_trips(buf, sgip::FrameDecoder::default(), |p, out| {
            sgip::encode(p, out).is_ok()
        }),
    }
});

/// Every packet `frames` takes off `buf` that `encode` writes again is read back by the
/// same decoder as one frame, equal to it.
fn round_trips<P: PartialEq + std::fmt::Debug, S>(
    mut buf: BytesMut,
    mut frames: FrameDecoder<P, S>,
    encode: impl Fn(&P, &mut BytesMut) -> bool,
) {
    while let Ok(Some(decoded)) = frames.decode(&mut buf) {
        let Ok(packet) = decoded else { continue };
        let mut out = BytesMut::new();
        if encode(&packet, &mut out) {
            let Ok(Some(Ok(again))) = frames.decode(&mut out) else {
                panic!("what we encode does not decode: {packet:?}");
            };
            assert_eq!(again, packet);
            assert!(out.is_empty(), "one frame: {packet:?}");
        }
    }
}
