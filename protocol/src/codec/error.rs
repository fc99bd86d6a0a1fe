//! Codec errors: [`FrameError`] (stream broken), [`DecodeError`] (one frame bad, stream
//! fine), [`EncodeError`] (we refuse to send something out of spec).

use crate::command_id::{CommandId, RESPONSE_BIT};
use crate::command_status::CommandStatus;
use crate::tlv::TlvError;
use crate::types::TimeError;

/// The stream cannot be framed any more (reference §4.3): answer generic_nack with
/// `ESME_RINVCMDLEN` and sequence_number 0, then close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// `command_length` below the 16-octet header.
    #[error("command_length {command_length} is below the 16-octet header")]
    TooShort {
        /// The value read.
        command_length: u32,
    },
    /// `command_length` above the configured cap.
    #[error("command_length {command_length} exceeds the cap of {max_frame} octets")]
    TooLong {
        /// The value read.
        command_length: u32,
        /// The cap in force.
        max_frame: usize,
    },
}

impl FrameError {
    /// `ESME_RINVCMDLEN`.
    #[must_use]
    pub const fn status(&self) -> CommandStatus {
        CommandStatus::ESME_RINVCMDLEN
    }

    /// Always `false`: framing is lost.
    #[must_use]
    pub const fn is_recoverable(&self) -> bool {
        false
    }
}

/// One frame (exactly `command_length` octets, already consumed) is not a valid PDU.
///
/// Every variant carries the raw `command_id` and the `sequence_number` of the offending
/// header, so the answer can be built: [`DecodeError::status`],
/// [`DecodeError::response_command_id`]. Offsets count from the start of the frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The command_id is not a 3.4 operation.
    #[error("unknown command_id {command_id:#010x} (sequence_number {sequence_number})")]
    UnknownCommandId {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
    },
    /// The frame handed to [`decode`](super::decode) is shorter than a header or its
    /// length disagrees with `command_length`.
    #[error("frame of {frame_len} octets but command_length {command_length}")]
    BadLength {
        /// Raw command_id (0 if the header was cut).
        command_id: u32,
        /// sequence_number (0 if the header was cut).
        sequence_number: u32,
        /// command_length read (0 if the header was cut).
        command_length: u32,
        /// Octets actually handed over.
        frame_len: usize,
    },
    /// The body ends inside a mandatory field.
    #[error("{}: body ends inside `{field}` at offset {offset}", name(*command_id))]
    Truncated {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
    },
    /// A C-octet string has no NUL before the body ends.
    #[error("{}: `{field}` at offset {offset} has no NUL before the end of the body", name(*command_id))]
    Unterminated {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
    },
    /// A C-octet string has no NUL within its maximum length.
    #[error("{}: `{field}` at offset {offset} is longer than its {max} octets (NUL included)", name(*command_id))]
    StringTooLong {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
        /// The spec maximum, NUL included.
        max: usize,
    },
    /// A time string is neither empty nor a valid absolute/relative time.
    #[error("{}: `{field}` at offset {offset}: {source}", name(*command_id))]
    InvalidTime {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
        /// What is wrong with it.
        source: TimeError,
    },
    /// A field whose value decides the layout has an impossible value
    /// (`dest_flag` not 1 or 2, `number_of_dests` 0).
    #[error("{}: `{field}` at offset {offset} has invalid value {value}", name(*command_id))]
    InvalidValue {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Spec name of the field.
        field: &'static str,
        /// Offset of the field in the frame.
        offset: usize,
        /// The value read.
        value: u32,
    },
    /// The TLV region is malformed.
    #[error("{}: TLV at offset {offset}: {source}", name(*command_id))]
    Tlv {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Offset in the frame of the offending TLV.
        offset: usize,
        /// What is wrong.
        source: TlvError,
    },
    /// Octets after the last field of a PDU that has no TLVs (only NULs are tolerated).
    #[error("{}: {count} unexpected octets after the body at offset {offset}", name(*command_id))]
    TrailingData {
        /// Raw command_id.
        command_id: u32,
        /// sequence_number of the header.
        sequence_number: u32,
        /// Offset of the first extra octet.
        offset: usize,
        /// Number of extra octets.
        count: usize,
    },
}

fn name(command_id: u32) -> &'static str {
    CommandId::from_u32(command_id).map_or("unknown command", CommandId::name)
}

/// The command_status for a field-level problem (reference §4.3: ESME_RINVMSGLEN or a
/// field-specific code).
fn field_status(field: &str) -> CommandStatus {
    match field {
        "system_id" => CommandStatus::ESME_RINVSYSID,
        "password" => CommandStatus::ESME_RINVPASWD,
        "system_type" => CommandStatus::ESME_RINVSYSTYP,
        "service_type" => CommandStatus::ESME_RINVSERTYP,
        "source_addr" => CommandStatus::ESME_RINVSRCADR,
        "destination_addr" => CommandStatus::ESME_RINVDSTADR,
        "message_id" => CommandStatus::ESME_RINVMSGID,
        "dl_name" => CommandStatus::ESME_RINVDLNAME,
        "schedule_delivery_time" => CommandStatus::ESME_RINVSCHED,
        "validity_period" => CommandStatus::ESME_RINVEXPIRY,
        "dest_flag" => CommandStatus::ESME_RINVDESTFLAG,
        "number_of_dests" => CommandStatus::ESME_RINVNUMDESTS,
        _ => CommandStatus::ESME_RINVMSGLEN,
    }
}

impl DecodeError {
    /// Raw command_id of the offending header.
    #[must_use]
    pub const fn command_id(&self) -> u32 {
        match self {
            Self::UnknownCommandId { command_id, .. }
            | Self::BadLength { command_id, .. }
            | Self::Truncated { command_id, .. }
            | Self::Unterminated { command_id, .. }
            | Self::StringTooLong { command_id, .. }
            | Self::InvalidTime { command_id, .. }
            | Self::InvalidValue { command_id, .. }
            | Self::Tlv { command_id, .. }
            | Self::TrailingData { command_id, .. } => *command_id,
        }
    }

    /// sequence_number of the offending header (echo it in the answer).
    #[must_use]
    pub const fn sequence_number(&self) -> u32 {
        match self {
            Self::UnknownCommandId {
                sequence_number, ..
            }
            | Self::BadLength {
                sequence_number, ..
            }
            | Self::Truncated {
                sequence_number, ..
            }
            | Self::Unterminated {
                sequence_number, ..
            }
            | Self::StringTooLong {
                sequence_number, ..
            }
            | Self::InvalidTime {
                sequence_number, ..
            }
            | Self::InvalidValue {
                sequence_number, ..
            }
            | Self::Tlv {
                sequence_number, ..
            }
            | Self::TrailingData {
                sequence_number, ..
            } => *sequence_number,
        }
    }

    /// The command_status to answer with (reference §4.3, §2.1).
    #[must_use]
    pub fn status(&self) -> CommandStatus {
        match self {
            Self::UnknownCommandId { .. } => CommandStatus::ESME_RINVCMDID,
            Self::BadLength { .. } | Self::TrailingData { .. } => CommandStatus::ESME_RINVCMDLEN,
            Self::Truncated { .. } | Self::Unterminated { .. } => CommandStatus::ESME_RINVMSGLEN,
            Self::StringTooLong { field, .. }
            | Self::InvalidTime { field, .. }
            | Self::InvalidValue { field, .. } => field_status(field),
            Self::Tlv { source, .. } => source.status(),
        }
    }

    /// The operation to answer with, or `None` when nothing must be sent: the offending
    /// PDU was a response (never nack a response: loops, reference §4.3).
    ///
    /// Unknown request ids and length disagreements get `generic_nack`; a bad body of a
    /// known request gets that request's `_resp` (`generic_nack` for outbind and
    /// alert_notification, which have none).
    #[must_use]
    pub fn response_command_id(&self) -> Option<CommandId> {
        let raw = self.command_id();
        if raw & RESPONSE_BIT != 0 {
            return None;
        }
        match self {
            Self::UnknownCommandId { .. } | Self::BadLength { .. } | Self::TrailingData { .. } => {
                Some(CommandId::GenericNack)
            }
            _ => Some(
                CommandId::from_u32(raw)
                    .and_then(CommandId::response)
                    .unwrap_or(CommandId::GenericNack),
            ),
        }
    }

    /// The whole answer: [`Self::response_command_id`] with an empty body,
    /// [`Self::status`] and the offending sequence_number.
    #[must_use]
    pub fn response(&self) -> Option<crate::pdu::Pdu> {
        let id = self.response_command_id()?;
        Some(crate::pdu::Pdu {
            sequence_number: self.sequence_number(),
            command_status: self.status(),
            body: crate::pdu::Body::empty(id),
        })
    }

    /// Always `true`: the frame was consumed whole, the stream is still in step.
    #[must_use]
    pub const fn is_recoverable(&self) -> bool {
        true
    }
}

/// We refuse to send something out of spec (reference §1.3: strict on send).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A C-octet string does not fit its maximum (NUL included).
    #[error("{command_id}: `{field}` is {length} octets, max {max} including the NUL")]
    StringTooLong {
        /// The operation.
        command_id: CommandId,
        /// Spec name of the field.
        field: &'static str,
        /// Its length (without NUL).
        length: usize,
        /// The spec maximum, NUL included.
        max: usize,
    },
    /// A C-octet string holds a NUL octet.
    #[error("{command_id}: `{field}` contains a NUL octet at {position}")]
    StringContainsNul {
        /// The operation.
        command_id: CommandId,
        /// Spec name of the field.
        field: &'static str,
        /// Position of the NUL.
        position: usize,
    },
    /// `short_message` longer than 254 octets.
    #[error("{command_id}: short_message is {length} octets, max {max}")]
    ShortMessageTooLong {
        /// The operation.
        command_id: CommandId,
        /// Its length.
        length: usize,
        /// 254.
        max: usize,
    },
    /// `short_message` and the `message_payload` TLV are both set.
    #[error("{command_id}: short_message and message_payload are both set")]
    PayloadConflict {
        /// The operation.
        command_id: CommandId,
    },
    /// A time field is not a valid time string.
    #[error("{command_id}: `{field}`: {source}")]
    InvalidTime {
        /// The operation.
        command_id: CommandId,
        /// Spec name of the field.
        field: &'static str,
        /// What is wrong with it.
        source: TimeError,
    },
    /// A field the spec says must be NULL here is set (deliver_sm times and flags).
    #[error("{command_id}: `{field}` must be NULL, got {value}")]
    MustBeNull {
        /// The operation.
        command_id: CommandId,
        /// Spec name of the field.
        field: &'static str,
        /// What was set, as text.
        value: String,
    },
    /// A list count out of range (`number_of_dests` 1–254, `no_unsuccess` ≤ 255).
    #[error("{command_id}: `{field}` is {count}, allowed {min}..={max}")]
    CountOutOfRange {
        /// The operation.
        command_id: CommandId,
        /// Spec name of the count field.
        field: &'static str,
        /// The count.
        count: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// The whole PDU would not fit a u32 command_length.
    #[error("{command_id}: PDU of {length} octets does not fit command_length")]
    PduTooLong {
        /// The operation.
        command_id: CommandId,
        /// The length.
        length: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let unknown = DecodeError::UnknownCommandId {
            command_id: 0x111,
            sequence_number: 9,
        };
        assert_eq!(unknown.status(), CommandStatus::ESME_RINVCMDID);
        assert_eq!(unknown.response_command_id(), Some(CommandId::GenericNack));
        let unknown_resp = DecodeError::UnknownCommandId {
            command_id: 0x8000_0111,
            sequence_number: 9,
        };
        assert_eq!(unknown_resp.response_command_id(), None);
        let bad_time = DecodeError::InvalidTime {
            command_id: 4,
            sequence_number: 1,
            field: "validity_period",
            offset: 60,
            source: TimeError::Length { len: 3 },
        };
        assert_eq!(bad_time.status(), CommandStatus::ESME_RINVEXPIRY);
        assert_eq!(
            bad_time.response_command_id(),
            Some(CommandId::SubmitSmResp)
        );
        let response = bad_time.response().unwrap();
        assert_eq!(response.sequence_number, 1);
        assert_eq!(
            bad_time.to_string(),
            "submit_sm: `validity_period` at offset 60: time string must be empty or 16 characters, got 3"
        );
        let alert = DecodeError::Truncated {
            command_id: 0x102,
            sequence_number: 1,
            field: "esme_addr",
            offset: 20,
        };
        assert_eq!(alert.response_command_id(), Some(CommandId::GenericNack));
        assert!(alert.is_recoverable());
    }
}
