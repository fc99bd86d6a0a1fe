//! What CMPP, SMGP and SGIP share: big-endian integers, a length-prefixed frame with a cap,
//! fixed-width NUL-padded text fields, one decode error shape, MD5 authenticators and the
//! message-format codes (0 ASCII, 8 UCS-2, 15 GBK).
//!
//! The three Chinese carrier protocols differ from SMPP in the same ways: a shorter header
//! (12 octets; SGIP 20), fixed-width fields padded with 0x00 instead of NUL-terminated
//! C-strings, and one-octet or four-octet length fields in front of the message. The code
//! here is what the three codecs ([`crate::cmpp`], [`crate::smgp`], [`crate::sgip`]) have in
//! common; each protocol's module owns its header, its PDUs and its rules.

pub mod auth;
pub mod error;
pub mod frame;
pub mod read;
#[cfg(feature = "serde")]
pub mod serde_octets;
pub mod session;
#[cfg(test)]
pub(crate) mod test_support;
pub mod text;
pub mod write;

pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use frame::{DEFAULT_MAX_FRAME, Decoded, FrameDecoder, FrameError, decode_frame, frame_length};
