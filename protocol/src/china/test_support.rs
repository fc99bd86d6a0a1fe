//! What the CMPP, SMGP and SGIP tests share: hex vectors, a decode → encode → compare
//! check, and proptest strategies for field values.

use std::fmt::{Debug, Display};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::EncodeError;

/// Hex with spaces allowed, from parts (one per field in the vectors).
pub(crate) fn hex(parts: &[&str]) -> Bytes {
    let joined: String = parts.concat().split_whitespace().collect();
    Bytes::from(::hex::decode(joined).expect("test vector hex"))
}

/// `n` zero octets as hex (padding in the vectors).
pub(crate) fn zeros(n: usize) -> String {
    "00".repeat(n)
}

/// Decodes `bytes`, re-encodes the packet, checks `encoded_len` and the octets; returns the
/// packet for field checks.
pub(crate) fn round_trip<P: Debug, E: Display>(
    bytes: &Bytes,
    decode: impl Fn(Bytes) -> Result<P, E>,
    encode: impl Fn(&P, &mut BytesMut) -> Result<(), EncodeError>,
    encoded_len: impl Fn(&P) -> usize,
) -> P {
    let pdu = decode(bytes.clone()).unwrap_or_else(|e| panic!("{e}"));
    let mut out = BytesMut::new();
    encode(&pdu, &mut out).unwrap();
    assert_eq!(out.len(), encoded_len(&pdu));
    assert_eq!(
        ::hex::encode(&out),
        ::hex::encode(bytes),
        "re-encoding differs"
    );
    pdu
}

/// A text field value: trailing 0x00 are padding on the wire, so a value has none.
pub(crate) fn text(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(1u8..=255, 0..=max).prop_map(Bytes::from)
}

/// Any octets (message bodies, TLV values).
pub(crate) fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}
