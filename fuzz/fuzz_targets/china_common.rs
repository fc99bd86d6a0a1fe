//! What the CMPP, SMGP and SGIP fuzz targets share: every packet that decodes from the
//! input (as a stream and as one frame) must encode to `encoded_len` octets, decode again to
//! itself, and encode again to the same octets.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use smppgate_protocol::china::{DecodeError, EncodeError, FrameDecoder};

/// The codec under test.
pub struct Codec<P, S, D, E, L> {
    pub frames: FrameDecoder<P, S>,
    pub decode: D,
    pub encode: E,
    pub encoded_len: L,
}

impl<P, S, D, E, L> Codec<P, S, D, E, L>
where
    P: PartialEq + Debug,
    S: Debug,
    D: Fn(Bytes) -> Result<P, DecodeError<S>>,
    E: Fn(&P, &mut BytesMut) -> Result<(), EncodeError>,
    L: Fn(&P) -> usize,
{
    /// Runs `data` through as a stream and as one frame; `inspect` sees every packet.
    pub fn run(&mut self, data: &[u8], mut inspect: impl FnMut(&P)) {
        let mut stream = BytesMut::from(data);
        while let Ok(Some(item)) = self.frames.decode(&mut stream) {
            if let Ok(pdu) = item {
                inspect(&pdu);
                self.round_trip(&pdu);
            }
        }
        if let Ok(pdu) = (self.decode)(Bytes::copy_from_slice(data)) {
            inspect(&pdu);
            self.round_trip(&pdu);
        }
    }

    fn round_trip(&self, pdu: &P) {
        let mut out = BytesMut::new();
        (self.encode)(pdu, &mut out).expect("a decoded packet encodes");
        assert_eq!(out.len(), (self.encoded_len)(pdu), "encoded_len disagrees with encode");
        let bytes = out.freeze();
        let again = (self.decode)(bytes.clone()).expect("our own encoding must decode");
        assert_eq!(&again, pdu, "decode(encode(pdu)) != pdu");
        let mut twice = BytesMut::new();
        (self.encode)(&again, &mut twice).expect("re-encode");
        assert_eq!(&twice[..], &bytes[..], "encoding is not stable");
    }
}
