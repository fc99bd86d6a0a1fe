//! The message mix and the submit_sm templates of each kind.

use bytes::Bytes;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::text::{Coding, ReferenceGenerator, SplitMethod, SplitOptions, split};
use smppgate_protocol::types::{Address, DataCoding, EsmClass, RegisteredDelivery};

/// A kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One GSM 7-bit part.
    ShortGsm,
    /// Three GSM 7-bit parts (UDH).
    LongGsm,
    /// Three UCS-2 parts (UDH), Chinese text.
    LongUcs2,
}

impl Kind {
    /// The name used in `--mix`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ShortGsm => "short-gsm",
            Self::LongGsm => "long-gsm",
            Self::LongUcs2 => "long-ucs2",
        }
    }

    fn text(self) -> String {
        match self {
            Self::ShortGsm => {
                "smpp-loadtest: a short GSM 7-bit message of a typical length.".into()
            }
            Self::LongGsm => "smpp-loadtest long GSM message, concatenated with UDH. ".repeat(7),
            Self::LongUcs2 => "负载测试中文长消息分段".repeat(18),
        }
    }
}

/// `--mix`: kinds with weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// Kinds with non-zero weights.
    pub weights: Vec<(Kind, u32)>,
}

impl Mix {
    /// Parses `short-gsm=70,long-gsm=10,long-ucs2=20`.
    ///
    /// # Errors
    /// Unknown kind, bad or zero total weight, a kind twice.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut weights: Vec<(Kind, u32)> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, weight) = item
                .split_once('=')
                .ok_or_else(|| format!("invalid mix item {item:?} (kind=weight)"))?;
            let kind = match name.trim() {
                "short-gsm" => Kind::ShortGsm,
                "long-gsm" => Kind::LongGsm,
                "long-ucs2" => Kind::LongUcs2,
                other => {
                    return Err(format!(
                        "unknown message kind {other:?} (short-gsm, long-gsm, long-ucs2)"
                    ));
                }
            };
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("invalid weight in {item:?}"))?;
            if weights.iter().any(|(k, _)| *k == kind) {
                return Err(format!("{name} given twice"));
            }
            if weight > 0 {
                weights.push((kind, weight));
            }
        }
        if weights.is_empty() {
            return Err("the mix needs at least one kind with a weight above 0".into());
        }
        Ok(Self { weights })
    }

    /// The kind of message number `index` (a hash of the index picks by weight).
    #[must_use]
    pub fn pick(&self, index: u64) -> Kind {
        let total: u64 = self.weights.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut slot = (index.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % total;
        for (kind, weight) in &self.weights {
            if slot < u64::from(*weight) {
                return *kind;
            }
            slot -= u64::from(*weight);
        }
        self.weights[0].0
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self
            .weights
            .iter()
            .map(|(k, w)| format!("{}={w}", k.name()))
            .collect();
        f.write_str(&items.join(","))
    }
}

/// The parts of each kind, ready to clone.
#[derive(Debug, Clone)]
pub struct Templates {
    short_gsm: Vec<SubmitSm>,
    long_gsm: Vec<SubmitSm>,
    long_ucs2: Vec<SubmitSm>,
}

impl Templates {
    /// Builds the parts of every kind.
    ///
    /// # Errors
    /// When a text cannot be split (a bug).
    pub fn new(receipts: bool) -> anyhow::Result<Self> {
        let mut references = ReferenceGenerator::new(1);
        let mut build = |kind: Kind| -> anyhow::Result<Vec<SubmitSm>> {
            let options = SplitOptions {
                coding: Coding::Auto,
                method: SplitMethod::Udh8,
                ..SplitOptions::default()
            };
            let message = split(&kind.text(), &options, &mut references)?;
            Ok(message
                .parts
                .iter()
                .map(|part| SubmitSm {
                    source_addr: Address::international("15550001"),
                    destination_addr: Address::international("15550002"),
                    esm_class: EsmClass(part.esm_class_flags()),
                    registered_delivery: RegisteredDelivery(u8::from(receipts)),
                    data_coding: DataCoding(message.data_coding),
                    short_message: Bytes::from(part.user_data()),
                    ..SubmitSm::default()
                })
                .collect())
        };
        Ok(Self {
            short_gsm: build(Kind::ShortGsm)?,
            long_gsm: build(Kind::LongGsm)?,
            long_ucs2: build(Kind::LongUcs2)?,
        })
    }

    /// The template parts of `kind`.
    #[must_use]
    pub fn parts(&self, kind: Kind) -> &[SubmitSm] {
        match kind {
            Kind::ShortGsm => &self.short_gsm,
            Kind::LongGsm => &self.long_gsm,
            Kind::LongUcs2 => &self.long_ucs2,
        }
    }

    /// The parts of message `index`: a multi-part message gets its own UDH reference.
    pub fn message(&self, kind: Kind, index: u64) -> impl Iterator<Item = SubmitSm> + '_ {
        let parts = self.parts(kind);
        let reference = index.to_le_bytes()[0];
        parts.iter().map(move |part| {
            let mut part = part.clone();
            let data = &part.short_message;
            // UDH8 concatenation IE: 05 00 03 REF TOTAL SEQ.
            if parts.len() > 1 && data.len() > 3 && data[0] == 5 && data[1] == 0 {
                let mut owned = data.to_vec();
                owned[3] = reference;
                part.short_message = Bytes::from(owned);
            }
            part
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_per_kind() {
        let templates = Templates::new(false).unwrap();
        assert_eq!(templates.parts(Kind::ShortGsm).len(), 1);
        assert_eq!(templates.parts(Kind::LongGsm).len(), 3);
        assert_eq!(templates.parts(Kind::LongUcs2).len(), 3);
        assert_eq!(
            templates.parts(Kind::LongUcs2)[0].data_coding,
            DataCoding(8)
        );
        let refs: Vec<u8> = templates
            .message(Kind::LongGsm, 7)
            .map(|p| p.short_message[3])
            .collect();
        assert_eq!(refs, [7, 7, 7]);
    }

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let mix = Mix::parse("short-gsm=70,long-gsm=10,long-ucs2=20").unwrap();
        let short = (0..100_000)
            .filter(|&i| mix.pick(i) == Kind::ShortGsm)
            .count();
        assert!((68_000..72_000).contains(&short), "{short}");
        assert!(Mix::parse("bogus=1").is_err());
        assert!(Mix::parse("short-gsm=0").is_err());
        assert!(Mix::parse("short-gsm").is_err());
        assert_eq!(mix.to_string(), "short-gsm=70,long-gsm=10,long-ucs2=20");
    }
}
