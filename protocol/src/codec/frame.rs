//! Framing by `command_length` only (reference §1.1, §0.2).

use bytes::BytesMut;

use super::decode::decode;
use super::error::{DecodeError, FrameError};
use crate::header::HEADER_LEN;
use crate::pdu::Pdu;

/// Default cap on `command_length`: 64 KiB + 1 KiB.
///
/// The spec sets no maximum (OpenSMPP caps at 5000). The largest legitimate PDU we expect is
/// a submit_sm/deliver_sm/data_sm carrying a full 65535-octet `message_payload`: 16 header +
/// ≤ 348 mandatory + 4 + 65535 TLV = 65903 octets, so a cap of exactly 64 KiB + 16 would
/// refuse it; 1 KiB of slack above 64 KiB leaves room for the mandatory part and a few
/// more TLVs.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 + 1024;

/// The length of the frame at the start of `buf`, once it is all there.
///
/// `Ok(None)` until 4 octets of `command_length` and then the whole frame are buffered.
///
/// # Errors
/// [`FrameError`] when `command_length` is below 16 or above `max_frame`: the stream
/// cannot be framed any more.
pub fn frame_length(buf: &[u8], max_frame: usize) -> Result<Option<usize>, FrameError> {
    let Some(&[a, b, c, d]) = buf.get(..4) else {
        return Ok(None);
    };
    let command_length = u32::from_be_bytes([a, b, c, d]);
    let length = usize::try_from(command_length).unwrap_or(usize::MAX);
    if length < HEADER_LEN {
        return Err(FrameError::TooShort { command_length });
    }
    if length > max_frame {
        return Err(FrameError::TooLong {
            command_length,
            max_frame,
        });
    }
    Ok((buf.len() >= length).then_some(length))
}

/// Splits whole frames off a stream buffer and decodes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    /// Largest accepted `command_length`.
    pub max_frame: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder with this cap on `command_length`.
    #[must_use]
    pub const fn new(max_frame: usize) -> Self {
        Self { max_frame }
    }

    /// Takes the next frame off `buf` and decodes it.
    ///
    /// `Ok(None)`: more bytes are needed (room for the rest of a known-length frame is
    /// reserved, never more than the cap). `Ok(Some(Err(_)))`: a frame of exactly
    /// `command_length` octets was consumed but is not a valid PDU; the stream is still in
    /// step, answer it ([`DecodeError::response_command_id`]) and call again.
    ///
    /// # Errors
    /// [`FrameError`]: the stream cannot be framed any more; nothing was consumed.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Result<Pdu, DecodeError>>, FrameError> {
        match frame_length(buf, self.max_frame)? {
            Some(length) => {
                let frame = buf.split_to(length).freeze();
                Ok(Some(decode(frame)))
            }
            None => {
                if let Some(&[a, b, c, d]) = buf.get(..4) {
                    // Bounded: frame_length checked command_length against the cap.
                    let length = u32::from_be_bytes([a, b, c, d]) as usize;
                    buf.reserve(length.saturating_sub(buf.len()));
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(frame_length(&[0, 0, 0], 100), Ok(None));
        assert_eq!(frame_length(&[0, 0, 0, 16, 0], 100), Ok(None));
        assert_eq!(
            frame_length(&[0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 100),
            Ok(Some(16))
        );
        assert_eq!(
            frame_length(&[0, 0, 0, 15], 100),
            Err(FrameError::TooShort { command_length: 15 })
        );
        assert_eq!(
            frame_length(&[0xF0, 0, 0, 0x11], 100),
            Err(FrameError::TooLong {
                command_length: 0xF000_0011,
                max_frame: 100
            })
        );
    }
}
