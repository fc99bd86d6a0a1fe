//! tokio-util framing over the protocol codec: [`SmppCodec`] turns a byte stream into
//! `Result<Pdu, DecodeError>` items and `Pdu`s into bytes.
//!
//! A bad frame is an *item* (`Err(DecodeError)`), not a stream error: its octets were
//! consumed, so the connection answers it (`DecodeError::response`) and carries on. Only a
//! [`FrameError`] (command_length < 16 or over the cap) ends the stream.

use std::io;

use bytes::BytesMut;
use smppgate_protocol::codec::{
    DEFAULT_MAX_FRAME, DecodeError, EncodeError, FrameDecoder, FrameError,
};
use smppgate_protocol::{Pdu, encode};
use tokio_util::codec::{Decoder, Encoder};

/// Errors that end a framed SMPP stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The stream can no longer be framed (answer generic_nack/ESME_RINVCMDLEN, close).
    #[error("SMPP framing lost: {0}")]
    Frame(#[from] FrameError),
    /// We were asked to send a PDU that breaks the spec.
    #[error("refusing to encode PDU: {0}")]
    Encode(#[from] EncodeError),
    /// The underlying transport failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<CodecError> for io::Error {
    fn from(error: CodecError) -> Self {
        match error {
            CodecError::Io(io) => io,
            CodecError::Frame(_) | CodecError::Encode(_) => {
                Self::new(io::ErrorKind::InvalidData, error)
            }
        }
    }
}

/// The SMPP codec for `tokio_util::codec::Framed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmppCodec {
    frames: FrameDecoder,
}

impl Default for SmppCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl SmppCodec {
    /// A codec refusing frames whose command_length exceeds `max_frame` octets
    /// (default [`DEFAULT_MAX_FRAME`]).
    #[must_use]
    pub const fn new(max_frame: usize) -> Self {
        Self {
            frames: FrameDecoder::new(max_frame),
        }
    }

    /// The cap on command_length in force.
    #[must_use]
    pub const fn max_frame(&self) -> usize {
        self.frames.max_frame
    }
}

impl Decoder for SmppCodec {
    type Item = Result<Pdu, DecodeError>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        Ok(self.frames.decode(src)?)
    }
}

impl Encoder<Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        Encoder::<&Pdu>::encode(self, &item, dst)
    }
}

impl Encoder<&Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode(item, dst)?)
    }
}

#[cfg(test)]
mod tests {
    use smppgate_protocol::{Body, CommandId, CommandStatus};

    use super::*;

    #[test]
    fn two_pdus_and_a_partial_one() {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::new();
        codec
            .encode(Pdu::new(1, Body::EnquireLink), &mut buf)
            .unwrap();
        // An unknown command_id (5.0 broadcast_sm): an item, not a stream error.
        buf.extend_from_slice(&[0, 0, 0, 16, 0, 0, 1, 0x11, 0, 0, 0, 0, 0, 0, 0, 2]);
        let unbind = Pdu::new(3, Body::Unbind);
        let mut whole = BytesMut::new();
        codec.encode(&unbind, &mut whole).unwrap();
        buf.extend_from_slice(&whole[..10]);

        let first = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(first, Pdu::new(1, Body::EnquireLink));
        let second = codec.decode(&mut buf).unwrap().unwrap().unwrap_err();
        assert_eq!(second.sequence_number(), 2);
        assert_eq!(second.status(), CommandStatus::ESME_RINVCMDID);
        assert_eq!(second.response_command_id(), Some(CommandId::GenericNack));
        assert!(
            codec.decode(&mut buf).unwrap().is_none(),
            "partial frame waits"
        );
        buf.extend_from_slice(&whole[10..]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().unwrap(), unbind);
        assert!(buf.is_empty());
    }

    #[test]
    fn wild_length_ends_the_stream() {
        let mut codec = SmppCodec::new(1024);
        assert_eq!(codec.max_frame(), 1024);
        let mut buf = BytesMut::from(&[0xF0, 0, 0, 0x11][..]);
        let error = codec.decode(&mut buf).unwrap_err();
        assert!(matches!(
            error,
            CodecError::Frame(FrameError::TooLong { .. })
        ));
        let io: io::Error = error.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
    }
}
