//! The 16-octet PDU header (reference §1.1).

use crate::command_id::CommandId;
use crate::command_status::CommandStatus;

/// Length of the PDU header in octets; also the smallest legal `command_length`.
pub const HEADER_LEN: usize = 16;

/// The PDU header, as read from the wire (command_id kept raw so unknown ids survive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Total PDU length in octets, these 16 included.
    pub command_length: u32,
    /// Raw command_id; see [`Header::command`] for the typed operation.
    pub command_id: u32,
    /// command_status (meaningful in responses; requests should carry 0).
    pub command_status: CommandStatus,
    /// sequence_number, echoed unchanged in the response (reference §4.4).
    pub sequence_number: u32,
}

impl Header {
    /// Reads a header from the first 16 octets of `buf`; `None` when fewer are present.
    ///
    /// No value is checked: framing rules live in [`crate::codec::frame_length`].
    #[must_use]
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let word = |i: usize| -> Option<u32> {
            let bytes: [u8; 4] = buf.get(i..i + 4)?.try_into().ok()?;
            Some(u32::from_be_bytes(bytes))
        };
        Some(Self {
            command_length: word(0)?,
            command_id: word(4)?,
            command_status: CommandStatus(word(8)?),
            sequence_number: word(12)?,
        })
    }

    /// The typed operation, or `None` when the command_id is not a 3.4 one.
    #[must_use]
    pub const fn command(&self) -> Option<CommandId> {
        CommandId::from_u32(self.command_id)
    }

    /// The 16 wire octets.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.command_length.to_be_bytes());
        out[4..8].copy_from_slice(&self.command_id.to_be_bytes());
        out[8..12].copy_from_slice(&self.command_status.0.to_be_bytes());
        out[12..16].copy_from_slice(&self.sequence_number.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_back() {
        let raw = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7];
        let header = Header::parse(&raw).unwrap();
        assert_eq!(header.command_length, 16);
        assert_eq!(header.command(), Some(CommandId::EnquireLink));
        assert_eq!(header.sequence_number, 7);
        assert_eq!(header.to_bytes(), raw);
        assert_eq!(Header::parse(&raw[..15]), None);
    }
}
