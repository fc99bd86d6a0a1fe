//! The status report in a Deliver with IsReport 1 (SMGP 3.0 §5.2.5 note):
//! `id:IIIIIIIIII sub:SSS dlvrd:DDD Submit date:YYMMDDhhmm done date:YYMMDDhhmm
//! stat:DDDDDDD err:EEE Text:…`, 122 octets, where the id is the Submit_Resp's 10-octet
//! MsgID in binary. Some gateways write the id as 20 hex digits instead; both are read.
//! The other fields are found by name, so a gateway's spacing or capitalisation does not
//! matter, nor the spellings seen in the field: `submit_date:`/`done_date:` for the dates
//! and `txt:` for the text (Lihuanghe/SMSGate writes those).

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

/// Each field's names, the spec's first; the last field (the text) runs to the end.
const KEYS: [&[&[u8]]; 7] = [
    &[b"sub:"],
    &[b"dlvrd:"],
    &[b"submit date:", b"submit_date:"],
    &[b"done date:", b"done_date:"],
    &[b"stat:"],
    &[b"err:"],
    &[b"text:", b"txt:"],
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
        for (index, (slot, names)) in values.iter_mut().zip(KEYS).enumerate() {
            let to_end = index == KEYS.len() - 1;
            *slot = names
                .iter()
                .find_map(|name| field(&rest, name, to_end))
                .unwrap_or_default();
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

/// The value after `key` (case-insensitive), up to the next space (`to_end`: to the end);
/// `None` when `key` is not there.
fn field(rest: &Bytes, key: &[u8], to_end: bool) -> Option<Bytes> {
    let start = rest
        .windows(key.len())
        .position(|window| window.eq_ignore_ascii_case(key))
        .map(|at| at + key.len())?;
    let end = if to_end {
        rest.len()
    } else {
        rest[start..]
            .iter()
            .position(|b| *b == b' ')
            .map_or(rest.len(), |len| start + len)
    };
    Some(rest.slice(start..end))
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

    /// A report taken from an independent implementation's tests: Lihuanghe/SMSGate,
    /// src/test/java/com/zx/sms/codec/smgp/TestSMGPMsgIdUtil.java (`testMsgid`): binary id,
    /// `submit_date:`/`done_date:` with underscores, `txt:` with GBK text.
    #[test]
    fn smsgate_report_with_underscored_dates_and_txt() {
        let hex = "69643a6495c36ac4ea6b00000b7375623a30303120646c7672643a303031207375626d69745f\
                   646174653a3138303730353232303720646f6e655f646174653a313830373035323230372073\
                   7461743a44454c49565244206572723a303030207478743ad6d0b9fa306138616535";
        let hex: String = hex.split_whitespace().collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let report = Report::parse(&Bytes::from(bytes)).unwrap();
        assert_eq!(
            report.id,
            MsgId([0x64, 0x95, 0xc3, 0x6a, 0xc4, 0xea, 0x6b, 0x00, 0x00, 0x0b])
        );
        assert_eq!(&report.sub[..], b"001");
        assert_eq!(&report.dlvrd[..], b"001");
        assert_eq!(&report.submit_date[..], b"1807052207");
        assert_eq!(&report.done_date[..], b"1807052207");
        assert_eq!(&report.stat[..], b"DELIVRD");
        assert_eq!(&report.err[..], b"000");
        // "中国" in GBK, then ASCII.
        assert_eq!(&report.text[..], b"\xd6\xd0\xb9\xfa0a8ae5");
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
