//! Helpers shared by the integration tests: hand-written vectors and round trips.
#![allow(dead_code, unreachable_pub)] // each test binary uses a subset

use bytes::{Bytes, BytesMut};
use smppgate_protocol::{Pdu, decode, encode, encoded_len};

/// One piece of a hand-written vector.
pub enum P<'a> {
    /// Hex digits, spaces ignored.
    H(&'a str),
    /// ASCII text, copied as is (no NUL added).
    A(&'a str),
    /// An octet repeated n times.
    R(u8, usize),
}

/// Concatenates the pieces into a frame.
pub fn frame(parts: &[P<'_>]) -> Bytes {
    let mut out = Vec::new();
    for part in parts {
        match part {
            P::H(h) => out.extend(hex::decode(h.replace(' ', "")).expect("bad hex in vector")),
            P::A(a) => out.extend_from_slice(a.as_bytes()),
            P::R(b, n) => out.extend(std::iter::repeat_n(*b, *n)),
        }
    }
    Bytes::from(out)
}

/// Encodes a PDU into fresh bytes, checking `encoded_len` agrees.
pub fn encode_bytes(pdu: &Pdu) -> Bytes {
    let mut buf = BytesMut::new();
    encode(pdu, &mut buf).expect("encode");
    assert_eq!(
        buf.len(),
        encoded_len(pdu),
        "encoded_len disagrees with encode"
    );
    buf.freeze()
}

/// Decodes `wire`, re-encodes it and checks the bytes are identical.
pub fn round_trip(wire: &Bytes) -> Pdu {
    let pdu = decode(wire.clone()).unwrap_or_else(|e| panic!("decode failed: {e}"));
    let again = encode_bytes(&pdu);
    assert_eq!(
        hex::encode(&again),
        hex::encode(wire),
        "re-encode is not byte-exact"
    );
    pdu
}
