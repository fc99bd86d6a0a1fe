//! The status report carried in a DELIVER's Msg_Content when Registered_Delivery is 1
//! (CMPP 3.0 §7.4.3.5): Msg_Id(8) Stat(7) Submit_time(10) Done_time(10)
//! Dest_terminal_Id(21 or 32) SMSC_sequence(4).

use bytes::{BufMut, Bytes, BytesMut};

use super::Version;
use crate::china::read::Reader;
use crate::china::write::{check_fixed, put_fixed};
use crate::china::{DecodeErrorKind, EncodeError};

/// A decoded status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Msg_Id (8): the SUBMIT_RESP's Msg_Id of the part this report is about.
    pub msg_id: u64,
    /// Stat (7): DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, MK:xxxx, …
    pub stat: Bytes,
    /// Submit_time (10): YYMMDDHHMM.
    pub submit_time: Bytes,
    /// Done_time (10): YYMMDDHHMM.
    pub done_time: Bytes,
    /// Dest_terminal_Id (21 in 2.0, 32 in 3.0).
    pub dest_terminal_id: Bytes,
    /// SMSC_sequence (4).
    pub smsc_sequence: u32,
}

impl StatusReport {
    /// Octets of a report in `version`: 60 in 2.0, 71 in 3.0.
    #[must_use]
    pub const fn len(version: Version) -> usize {
        8 + 7 + 10 + 10 + version.terminal_id_len() + 4
    }

    /// Parses a DELIVER's Msg_Content (a slice of the frame: the fields stay zero-copy).
    /// Octets after the report are ignored (some ISMGs pad it).
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] with offsets counted from the start of the content.
    pub fn parse(content: &Bytes, version: Version) -> Result<Self, DecodeErrorKind> {
        let mut r = Reader::new(content, 0);
        Ok(Self {
            msg_id: r.u64("Msg_Id")?,
            stat: r.fixed(7, "Stat")?,
            submit_time: r.fixed(10, "Submit_time")?,
            done_time: r.fixed(10, "Done_time")?,
            dest_terminal_id: r.fixed(version.terminal_id_len(), "Dest_terminal_Id")?,
            smsc_sequence: r.u32("SMSC_sequence")?,
        })
    }

    /// The report as Msg_Content.
    ///
    /// # Errors
    /// [`EncodeError::TooLong`] when a field is wider than its slot.
    pub fn to_bytes(&self, version: Version) -> Result<Bytes, EncodeError> {
        let terminal = version.terminal_id_len();
        check_fixed(&self.stat, 7, "Stat")?;
        check_fixed(&self.submit_time, 10, "Submit_time")?;
        check_fixed(&self.done_time, 10, "Done_time")?;
        check_fixed(&self.dest_terminal_id, terminal, "Dest_terminal_Id")?;
        let mut out = BytesMut::with_capacity(Self::len(version));
        out.put_u64(self.msg_id);
        put_fixed(&mut out, &self.stat, 7);
        put_fixed(&mut out, &self.submit_time, 10);
        put_fixed(&mut out, &self.done_time, 10);
        put_fixed(&mut out, &self.dest_terminal_id, terminal);
        out.put_u32(self.smsc_sequence);
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip_in_both_versions() {
        for version in [Version::V2, Version::V3] {
            let report = StatusReport {
                msg_id: 0xb2b9_da80_0001_0000,
                stat: Bytes::from_static(b"DELIVRD"),
                submit_time: Bytes::from_static(b"2612060719"),
                done_time: Bytes::from_static(b"2612060720"),
                dest_terminal_id: Bytes::from_static(b"13500002696"),
                smsc_sequence: 7,
            };
            let bytes = report.to_bytes(version).unwrap();
            assert_eq!(bytes.len(), StatusReport::len(version));
            assert_eq!(StatusReport::parse(&bytes, version).unwrap(), report);
        }
        assert_eq!(StatusReport::len(Version::V2), 60);
        assert_eq!(StatusReport::len(Version::V3), 71);
    }

    #[test]
    fn short_content_is_an_error_not_a_panic() {
        let cut = Bytes::from_static(&[0; 20]);
        assert_eq!(
            StatusReport::parse(&cut, Version::V3),
            Err(DecodeErrorKind::Truncated {
                field: "Submit_time",
                offset: 15
            })
        );
    }
}
