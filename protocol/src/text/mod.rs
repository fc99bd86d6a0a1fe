//! Text layer: encodings (GSM 03.38 unpacked and packed, UCS-2/UTF-16, Latin-1, ASCII,
//! binary), splitting into concatenated parts, and reassembly of received parts.
//!
//! Everything takes plain inputs (`&str`, `&[u8]`, a `u8` data_coding) and returns plain
//! outputs (UDH octets, payload octets, SAR triple, UDHI flag) so that it does not depend
//! on the PDU types. Reference: `shared/smpp34-reference.md` §5.3 and §7.

pub mod coding;
pub mod gsm7;
pub mod latin1;
pub mod national;
pub mod reassembly;
pub mod reference;
pub mod split;
pub mod ucs2;
pub mod udh;

use thiserror::Error;

pub use coding::{
    Coding, DefaultAlphabet, Encoded, Encoding, TextConfig, data_coding_for, decode,
    decode_user_data, encode, encoding_for_data_coding,
};
pub use national::{NationalLanguage, ShiftTables};
pub use reassembly::{
    ExpiryPolicy, PushOutcome, ReassembledMessage, Reassembler, ReassemblyConfig, ReassemblyError,
    ReassemblyStats, Segment,
};
pub use reference::ReferenceGenerator;
pub use split::{Part, SarInfo, SplitMessage, SplitMethod, SplitOptions, split, split_binary};
pub use udh::{Concat, Udh, UdhBytes, UdhError};

/// Why text could not be encoded or split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TextError {
    /// A character the chosen encoding cannot carry (never silently replaced).
    #[error("character {character:?} (U+{code:04X}) at position {position} cannot be encoded in {encoding}", code = u32::from(*character))]
    Unrepresentable {
        /// The character.
        character: char,
        /// Its position in the text, in characters (0-based).
        position: usize,
        /// The encoding that cannot carry it.
        encoding: &'static str,
    },
    /// The message needs more parts than a UDH or SAR total can count.
    #[error("message needs {parts} parts, more than the maximum of {max}")]
    TooManyParts {
        /// Parts needed.
        parts: usize,
        /// The limit (255).
        max: usize,
    },
    /// A message_payload longer than its 16-bit length allows.
    #[error("message_payload of {octets} octets exceeds the maximum of {max}")]
    PayloadTooLong {
        /// Octets needed.
        octets: usize,
        /// The limit (65 535).
        max: usize,
    },
    /// Text was asked to be encoded as binary.
    #[error("binary data_coding carries octets, not text")]
    NotText,
}
