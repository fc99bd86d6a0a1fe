//! Framing by the 4-octet length prefix that opens every CMPP, SMGP and SGIP packet.
//!
//! Check-then-parse, as for SMPP: the length is refused at once when it is below the
//! protocol's header or above the cap, nothing is allocated from it, and a frame is handed
//! on only once all of it is buffered.

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, DecodeErrorKind};
use super::read::Reader;

/// Default cap on a packet's length: 8 KiB.
///
/// The largest legitimate packet is a CMPP 3.0 SUBMIT to 100 terminals (100 × 32 octets of
/// Dest_terminal_Id, 255 of content, ~200 of fixed fields: under 4 KiB); SGIP's
/// MessageLength is four octets but carriers cap content at 160 octets. 8 KiB leaves room for
/// SMGP TLVs and SGIP's larger user lists without letting a peer make us buffer megabytes.
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024;

/// The stream cannot be framed any more: the peer's length field is impossible. Close the
/// connection (the protocols have no generic NACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Below the header length.
    #[error("packet length {length} is below the {header_len}-octet header")]
    TooShort {
        /// The value read.
        length: u32,
        /// The protocol's header length.
        header_len: usize,
    },
    /// Above the cap.
    #[error("packet length {length} exceeds the cap of {max_frame} octets")]
    TooLong {
        /// The value read.
        length: u32,
        /// The cap in force.
        max_frame: usize,
    },
}

/// What a frame decoder hands back for a stream: `Ok(None)` while more bytes are needed,
/// `Ok(Some(Err(_)))` for a frame consumed whole that is not a valid packet (the stream is
/// still in step), [`FrameError`] when the stream cannot be framed any more.
pub type Decoded<P, S> = Result<Option<Result<P, DecodeError<S>>>, FrameError>;

/// The length of the frame at the start of `buf`, once it is all there.
///
/// `Ok(None)` until the 4-octet length and then the whole frame are buffered.
///
/// # Errors
/// [`FrameError`] when the length is below `header_len` or above `max_frame`.
pub fn frame_length(
    buf: &[u8],
    header_len: usize,
    max_frame: usize,
) -> Result<Option<usize>, FrameError> {
    let Some(&[a, b, c, d]) = buf.get(..4) else {
        return Ok(None);
    };
    let length = u32::from_be_bytes([a, b, c, d]);
    let size = usize::try_from(length).unwrap_or(usize::MAX);
    if size < header_len {
        return Err(FrameError::TooShort { length, header_len });
    }
    if size > max_frame {
        return Err(FrameError::TooLong { length, max_frame });
    }
    Ok((buf.len() >= size).then_some(size))
}

/// Splits the next whole frame off `buf`: `Ok(None)` while more bytes are needed (room for
/// the rest of a known, capped frame is reserved).
///
/// # Errors
/// [`FrameError`]: the stream cannot be framed any more; nothing was consumed.
pub fn split_frame(
    buf: &mut BytesMut,
    header_len: usize,
    max_frame: usize,
) -> Result<Option<Bytes>, FrameError> {
    match frame_length(buf, header_len, max_frame)? {
        Some(size) => Ok(Some(buf.split_to(size).freeze())),
        None => {
            if let Some(&[a, b, c, d]) = buf.get(..4) {
                // Bounded: frame_length checked the length against the cap.
                let size = u32::from_be_bytes([a, b, c, d]) as usize;
                buf.reserve(size.saturating_sub(buf.len()));
            }
            Ok(None)
        }
    }
}

/// Splits whole frames of one protocol off a stream buffer and decodes them with that
/// protocol's `decode`.
#[derive(Debug)]
pub struct FrameDecoder<P, S> {
    header_len: usize,
    /// Largest accepted length field.
    pub max_frame: usize,
    decode: fn(Bytes) -> Result<P, DecodeError<S>>,
}

impl<P, S> FrameDecoder<P, S> {
    /// A decoder for a protocol whose header is `header_len` octets, with the default cap.
    #[must_use]
    pub const fn with_decoder(
        header_len: usize,
        decode: fn(Bytes) -> Result<P, DecodeError<S>>,
    ) -> Self {
        Self {
            header_len,
            max_frame: DEFAULT_MAX_FRAME,
            decode,
        }
    }

    /// Takes the next frame off `buf` and decodes it: `Ok(None)` while more bytes are
    /// needed; `Ok(Some(Err(_)))` for a frame consumed whole that is not a valid packet (the
    /// stream is still in step, answer it and go on).
    ///
    /// # Errors
    /// [`FrameError`]: the stream cannot be framed any more; close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Decoded<P, S> {
        Ok(split_frame(buf, self.header_len, self.max_frame)?.map(self.decode))
    }
}

/// The longest header of the three protocols (SGIP's).
const MAX_HEADER_LEN: usize = 20;

/// The decode steps every protocol shares: the length field must equal the frame's size,
/// the command id must be known (`command`), then `body` reads the rest and nothing may be
/// left over. Every error carries the header's command id and `sequence` (read by the
/// protocol from the octets after the command id; zeros when the header is cut).
///
/// # Errors
/// [`DecodeError`] naming what is wrong.
pub fn decode_frame<S: Copy, C, B>(
    frame: &Bytes,
    header_len: usize,
    protocol: &'static str,
    sequence: impl FnOnce(&[u8]) -> S,
    command: impl FnOnce(u32) -> Option<C>,
    body: impl FnOnce(&mut Reader<'_>, C) -> Result<B, DecodeErrorKind>,
) -> Result<(S, B), DecodeError<S>> {
    let header_len = header_len.clamp(8, MAX_HEADER_LEN);
    let mut header = [0u8; MAX_HEADER_LEN];
    let present = frame.len().min(header_len);
    header[..present].copy_from_slice(&frame[..present]);
    let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let command_id = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let sequence = sequence(&header[8..header_len]);
    let error = |kind| DecodeError {
        protocol,
        command_id,
        sequence,
        kind,
    };
    if frame.len() < header_len || usize::try_from(length).ok() != Some(frame.len()) {
        return Err(error(DecodeErrorKind::BadLength {
            length,
            frame_len: frame.len(),
        }));
    }
    let command = command(command_id).ok_or(error(DecodeErrorKind::UnknownCommandId))?;
    let mut reader = Reader::new(frame, header_len);
    let body = body(&mut reader, command).map_err(error)?;
    reader.finish().map_err(error)?;
    Ok((sequence, body))
}

/// The 4-octet big-endian integer at the start of `octets` (0 when shorter).
#[must_use]
pub fn be_u32(octets: &[u8]) -> u32 {
    octets
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_before_anything_is_buffered() {
        assert_eq!(frame_length(&[0, 0, 0], 12, 100), Ok(None));
        assert_eq!(frame_length(&[0, 0, 0, 12, 0], 12, 100), Ok(None));
        assert_eq!(
            frame_length(&[0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0], 12, 100),
            Ok(Some(12))
        );
        assert_eq!(
            frame_length(&[0, 0, 0, 11], 12, 100),
            Err(FrameError::TooShort {
                length: 11,
                header_len: 12
            })
        );
        assert_eq!(
            frame_length(&[0, 0, 0, 19], 20, 100),
            Err(FrameError::TooShort {
                length: 19,
                header_len: 20
            })
        );
        assert_eq!(
            frame_length(&[0xFF, 0xFF, 0xFF, 0xFF], 12, 100),
            Err(FrameError::TooLong {
                length: u32::MAX,
                max_frame: 100
            })
        );
    }

    #[test]
    fn split_frame_takes_exactly_one_frame() {
        let mut buf = BytesMut::from(&[0, 0, 0, 12, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0][..]);
        let frame = split_frame(&mut buf, 12, 100).unwrap().unwrap();
        assert_eq!(frame.len(), 12);
        assert_eq!(&buf[..], &[0, 0]);
        assert_eq!(split_frame(&mut buf, 12, 100), Ok(None));
    }
}
