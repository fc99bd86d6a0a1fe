//! The codec: framing ([`frame_length`], [`FrameDecoder`]), [`decode`] (nom, zero-copy
//! slices of the frame) and [`encode`] (exact length first, one reservation, one write).
//!
//! Errors come in two layers: a [`FrameError`] means the stream can no longer be framed
//! (close the connection after a generic_nack); a [`DecodeError`] concerns one frame that
//! has been consumed whole, so the session answers it and goes on.

mod decode;
mod encode;
mod error;
mod frame;

pub use decode::decode;
pub use encode::{encode, encode_to_bytes, encoded_len};
pub use error::{DecodeError, EncodeError, FrameError};
pub use frame::{DEFAULT_MAX_FRAME, FrameDecoder, frame_length};
