//! The status report in a Deliver with IsReport 1 (SMGP 3.0 §5.2.5 note):
//! `id:IIIIIIIIII sub:SSS dlvrd:DDD Submit date:YYMMDDhhmm done date:YYMMDDhhmm
//! stat:DDDDDDD err:EEE Text:…`, 122 octets, where the id is the Submit_Resp's 10-octet
//! MsgID in binary. Some gateways write the id as 20 hex digits instead; both are read.
//! The other fields are found by name, so a gateway's spacing or capitalisation does not
//! matter.

use bytes::{BufMut, Bytes, BytesMut};

use super::MsgId;
use crate::china::DecodeErrorKind;

/// A decoded report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The MsgID of the Submit this report is about.
    pub id: MsgId,
    /// sub: submitted count.
    pub sub: Bytes,
    /// dlvrd: delivered count.
    pub dlvrd: Bytes,
    /// Submit date (YYMMDDhhmm).
    pub submit_date: Bytes,
    /// done date (YYMMDDhhmm).
    pub done_date: Bytes,
    /// stat: DELIVRD, EXPIRED, UNDELIV, …
    pub stat: Bytes,
    /// err: the carrier's error code.
    pub err: Bytes,
    /// Text: the start of the message.
    pub text: Bytes,
}

const KEYS: [&[u8]; 7] = [
    b"sub:",
    b"dlvrd:",
    b"submit date:",
    b"done date:",
    b"stat:",
    b"err:",
    b"text:",
];

impl Report {
    /// Parses MsgContent.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] or [`DecodeErrorKind::InvalidValue`] when there is no
    /// `id:` with ten octets (or twenty hex digits) at the start.
    pub fn parse(content: &Bytes) -> Result<Self, DecodeErrorKind> {
        if !content
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"id:"))
        {
            return Err(DecodeErrorKind::InvalidValue {
                field: "id",
                offset: 0,
                value: content.first().copied().map_or(0, u32::from),
            });
        }
        let hex_id = content.get(3..23).and_then(MsgId::from_hex);
        let hex_is_whole = content.get(23).is_none_or(|b| *b == b' ');
        let (id, rest_at) = match hex_id {
            Some(id) if hex_is_whole => (id, 23),
            _ => {
                let raw = content.get(3..13).ok_or(DecodeErrorKind::Truncated {
                    field: "id",
                    offset: 3,
                })?;
                let mut id = [0u8; 10];
                id.copy_from_slice(raw);
                (MsgId(id), 13)
            }
        };
        let rest = content.slice(rest_at..);
        let mut values: [Bytes; 7] = Default::default();
        for (slot, key) in values.iter_mut().zip(KEYS) {
            *slot = field(&rest, key);
        }
        let [sub, dlvrd, submit_date, done_date, stat, err, text] = values;
        Ok(Self {
            id,
            sub,
            dlvrd,
            submit_date,
            done_date,
            stat,
            err,
            text,
        })
    }

    /// The report as MsgContent in the spec's layout.
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(122);
        out.put_slice(b"id:");
        out.put_slice(&self.id.0);
        for (name, value) in [
            (&b" sub:"[..], &self.sub),
            (b" dlvrd:", &self.dlvrd),
            (b" Submit date:", &self.submit_date),
            (b" done date:", &self.done_date),
            (b" stat:", &self.stat),
            (b" err:", &self.err),
            (b" Text:", &self.text),
        ] {
            out.put_slice(name);
            out.put_slice(value);
        }
        out.freeze()
    }
}

/// The value after `key` (case-insensitive), up to the next space (the text: to the end).
fn field(rest: &Bytes, key: &[u8]) -> Bytes {
    let Some(start) = rest
        .windows(key.len())
        .position(|window| window.eq_ignore_ascii_case(key))
        .map(|at| at + key.len())
    else {
        return Bytes::new();
    };
    let end = if key == b"text:" {
        rest.len()
    } else {
        rest[start..]
            .iter()
            .position(|b| *b == b' ')
            .map_or(rest.len(), |len| start + len)
    };
    rest.slice(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            id: MsgId([0x59, 0x01, 0x23, 0x12, 0x06, 0x07, 0x19, 0x00, 0x00, 0x42]),
            sub: Bytes::from_static(b"001"),
            dlvrd: Bytes::from_static(b"001"),
            submit_date: Bytes::from_static(b"2612060719"),
            done_date: Bytes::from_static(b"2612060720"),
            stat: Bytes::from_static(b"DELIVRD"),
            err: Bytes::from_static(b"000"),
            text: Bytes::from_static(b"hello test msg\0\0\0\0\0\0"),
        }
    }

    #[test]
    fn spec_layout_is_122_octets_and_round_trips() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 122);
        assert_eq!(Report::parse(&bytes).unwrap(), sample());
    }

    #[test]
    fn a_hex_id_and_other_spacing_are_read_too() {
        let text = Bytes::from_static(
            b"id:59012312060719000042 sub:001 dlvrd:000 submit date:2612060719 done date:2612060720 stat:UNDELIV err:006 text:",
        );
        let report = Report::parse(&text).unwrap();
        assert_eq!(report.id, sample().id);
        assert_eq!(&report.stat[..], b"UNDELIV");
        assert_eq!(&report.err[..], b"006");
        assert!(report.text.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Report::parse(&Bytes::from_static(b"")).is_err());
        assert!(Report::parse(&Bytes::from_static(b"id:12")).is_err());
        assert!(Report::parse(&Bytes::from_static(b"xx:0123456789")).is_err());
        // Ten octets and nothing else: an id with empty fields.
        assert!(Report::parse(&Bytes::from_static(b"id:0123456789")).is_ok());
    }
}
