//! The codec: framing ([`frame_length`], [`FrameDecoder`]), [`decode`] (nom, zero-copy
//! slices of the frame) and [`encode`] (exact length first, one reservation, one write).
//!
//! Errors come in two layers: a [`FrameError`] means the stream can no longer be framed
//! (close the connection after a generic_nack); a [`DecodeError`] concerns one frame that
//! has been consumed whole, so the session answers it and goes on.
//!
//! ```
//! use bytes::BytesMut;
//! use smppgate_protocol::{Body, CommandStatus, FrameDecoder, Pdu, encode};
//!
//! let mut stream = BytesMut::new();
//! encode(&Pdu::new(1, Body::EnquireLink), &mut stream)?;
//! // An unknown command_id (0x111, SMPP 5.0 broadcast_sm) with sequence_number 2.
//! stream.extend_from_slice(&[0, 0, 0, 16, 0, 0, 1, 0x11, 0, 0, 0, 0, 0, 0, 0, 2]);
//!
//! let mut frames = FrameDecoder::default();
//! let mut answers = Vec::new();
//! while let Some(item) = frames.decode(&mut stream)? {
//!     match item {
//!         Ok(pdu) => assert_eq!(pdu.body, Body::EnquireLink),
//!         // Recoverable: answer it (here generic_nack/ESME_RINVCMDID, seq 2) and go on.
//!         Err(error) => answers.extend(error.response()),
//!     }
//! }
//! assert_eq!(answers, [Pdu::generic_nack(2, CommandStatus::ESME_RINVCMDID)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod error;
mod frame;

pub use decode::decode;
pub use encode::{encode, encode_to_bytes, encoded_len};
pub use error::{DecodeError, EncodeError, FrameError};
pub use frame::{DEFAULT_MAX_FRAME, FrameDecoder, frame_length};
