//! A CMPP 2.0 / CMPP 3.0 / SMGP / SGIP byte stream (the first octet picks which):
//! framed and decoded; what decodes is encoded again and must decode again to the same
//! packet. Nothing may panic.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smppgate_protocol::{cmpp, sgip, smgp};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let mut buf = BytesMut::from(stream);
    match pick % 4 {
        0 | 1 => {
            let version = if pick % 4 == 0 {
                cmpp::Version::V2
            } else {
                cmpp::Version::V3
            };
            let mut frames = cmpp::FrameDecoder::new(version);
            while let Ok(Some(decoded)) = frames.decode(&mut buf) {
                let Ok(pdu) = decoded else { continue };
                let mut out = BytesMut::new();
                if cmpp::encode(&pdu, version, &mut out).is_ok() {
                    let again =
                        cmpp::decode(out.freeze(), version).expect("what we encode decodes");
                    assert_eq!(again, pdu);
                }
            }
        }
        2 => {
            let mut frames = smgp::FrameDecoder::default();
            while let Ok(Some(decoded)) = frames.decode(&mut buf) {
                let Ok(pdu) = decoded else { continue };
                let mut out = BytesMut::new();
                if smgp::encode(&pdu, &mut out).is_ok() {
                    let again = smgp::decode(out.freeze()).expect("what we encode decodes");
                    assert_eq!(again, pdu);
                }
            }
        }
        _ => {
            let mut frames = sgip::FrameDecoder::default();
            while let Ok(Some(decoded)) = frames.decode(&mut buf) {
                let Ok(pdu) = decoded else { continue };
                let mut out = BytesMut::new();
                if sgip::encode(&pdu, &mut out).is_ok() {
                    let again = sgip::decode(out.freeze()).expect("what we encode decodes");
                    assert_eq!(again, pdu);
                }
            }
        }
    }
});
