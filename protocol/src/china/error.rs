//! One decode error shape for the three protocols: the header's command id and sequence (so
//! the answer can be built) and what is wrong, with the field and offset.

use std::fmt;

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The frame is shorter than the header, or its length field disagrees with its size.
    BadLength {
        /// The length field (0 if cut).
        length: u32,
        /// Octets handed over.
        frame_len: usize,
    },
    /// The command id is not one this codec knows.
    UnknownCommandId,
    /// The body ends inside a field.
    Truncated {
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
    },
    /// A field has a value the layout cannot accept (a count of 0, a length past the end).
    InvalidValue {
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
        /// The value read.
        value: u32,
    },
    /// Octets after the last field of a packet that has no optional part.
    TrailingData {
        /// Offset of the first extra octet.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// An SMGP TLV runs past the end of the packet.
    Tlv {
        /// Offset of the TLV in the frame.
        offset: usize,
        /// Its tag.
        tag: u16,
        /// Its declared length.
        length: u16,
    },
}

/// One frame (already consumed whole) is not a valid packet; the stream is still in step.
///
/// `S` is the protocol's sequence: `u32` for CMPP and SMGP, the 12-octet
/// [`crate::sgip::Sequence`] for SGIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError<S> {
    /// The protocol, for messages: "CMPP 3.0", "SMGP 3.0", "SGIP 1.2".
    pub protocol: &'static str,
    /// The header's command id (0 if the header was cut).
    pub command_id: u32,
    /// The header's sequence (default if the header was cut).
    pub sequence: S,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

impl<S: fmt::Debug> fmt::Display for DecodeError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} command_id {:#010x} (sequence {:?}): ",
            self.protocol, self.command_id, self.sequence
        )?;
        match &self.kind {
            DecodeErrorKind::BadLength { length, frame_len } => {
                write!(f, "frame of {frame_len} octets but length field {length}")
            }
            DecodeErrorKind::UnknownCommandId => write!(f, "unknown command id"),
            DecodeErrorKind::Truncated { field, offset } => {
                write!(f, "packet ends inside `{field}` at offset {offset}")
            }
            DecodeErrorKind::InvalidValue {
                field,
                offset,
                value,
            } => {
                write!(f, "`{field}` at offset {offset} has invalid value {value}")
            }
            DecodeErrorKind::TrailingData { offset, count } => {
                write!(
                    f,
                    "{count} unexpected octets after the body at offset {offset}"
                )
            }
            DecodeErrorKind::Tlv {
                offset,
                tag,
                length,
            } => write!(
                f,
                "TLV {tag:#06x} at offset {offset} declares {length} octets past the end"
            ),
        }
    }
}

impl<S: fmt::Debug> std::error::Error for DecodeError<S> {}

/// We refuse to send a packet that does not fit its fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A fixed-width field's value is longer than the field.
    #[error("`{field}` is {len} octets; the field holds {max}")]
    TooLong {
        /// Spec name of the field.
        field: &'static str,
        /// Octets given.
        len: usize,
        /// Width of the field.
        max: usize,
    },
    /// A number does not fit the field's width in this protocol version.
    #[error("`{field}` = {value} does not fit {width} octet(s)")]
    ValueTooLarge {
        /// Spec name of the field.
        field: &'static str,
        /// The value.
        value: u64,
        /// Width in octets.
        width: usize,
    },
    /// A list has fewer or more entries than its count field allows.
    #[error("`{field}` has {count} entries; {min} to {max} are allowed")]
    BadCount {
        /// Spec name of the list.
        field: &'static str,
        /// Entries given.
        count: usize,
        /// Fewest allowed.
        min: usize,
        /// Most allowed.
        max: usize,
    },
    /// The command cannot be sent in this protocol version.
    #[error("{command} does not exist in {protocol}")]
    NotInVersion {
        /// Command name.
        command: &'static str,
        /// Protocol and version.
        protocol: &'static str,
    },
}
