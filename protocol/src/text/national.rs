//! National language single-shift and locking-shift tables (3GPP TS 23.038 §6.2.1.2 and
//! Annex A) for Turkish, Spanish and Portuguese, announced with UDH IEs 0x24 (single
//! shift) and 0x25 (locking shift) carrying the national language identifier.
//!
//! A locking-shift table replaces the whole basic table; a single-shift table replaces the
//! extension table reached with `ESC`. Spanish has only a single-shift table.

use super::TextError;
use super::gsm7::{BASIC, ESCAPE, EXTENSION, GsmChar};

/// A national language with shift tables we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalLanguage {
    /// Identifier 1: locking shift A.3.1, single shift A.2.1.
    Turkish,
    /// Identifier 2: single shift A.2.2 only.
    Spanish,
    /// Identifier 3: locking shift A.3.3, single shift A.2.3.
    Portuguese,
}

impl NationalLanguage {
    /// The national language identifier carried in IE 0x24 / 0x25.
    #[must_use]
    pub const fn id(self) -> u8 {
        match self {
            Self::Turkish => 1,
            Self::Spanish => 2,
            Self::Portuguese => 3,
        }
    }

    /// The language for an identifier, when we have its tables.
    #[must_use]
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Turkish),
            2 => Some(Self::Spanish),
            3 => Some(Self::Portuguese),
            _ => None,
        }
    }

    /// Whether the language has a locking-shift table.
    #[must_use]
    pub const fn has_locking_table(self) -> bool {
        !matches!(self, Self::Spanish)
    }
}

/// Basic-table cells that differ in the Turkish locking-shift table (A.3.1).
const TURKISH_LOCKING: [(u8, char); 8] = [
    (0x04, '€'),
    (0x07, 'ı'),
    (0x0B, 'Ğ'),
    (0x0C, 'ğ'),
    (0x1C, 'Ş'),
    (0x1D, 'ş'),
    (0x40, 'İ'),
    (0x60, 'ç'),
];

/// Basic-table cells that differ in the Portuguese locking-shift table (A.3.3).
const PORTUGUESE_LOCKING: [(u8, char); 30] = [
    (0x04, 'ê'),
    (0x06, 'ú'),
    (0x07, 'í'),
    (0x08, 'ó'),
    (0x09, 'ç'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'ª'),
    (0x13, 'Ç'),
    (0x14, 'À'),
    (0x15, '∞'),
    (0x16, '^'),
    (0x17, '\\'),
    (0x18, '€'),
    (0x19, 'Ó'),
    (0x1A, '|'),
    (0x1C, 'Â'),
    (0x1D, 'â'),
    (0x1E, 'Ê'),
    (0x24, 'º'),
    (0x40, 'Í'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x5D, 'Ú'),
    (0x60, '~'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7D, '`'),
];

/// Turkish single-shift table (A.2.1): septet after ESC → character.
const TURKISH_SINGLE: [(u8, char); 16] = [
    (0x0A, '\u{c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
];

/// Spanish single-shift table (A.2.2).
const SPANISH_SINGLE: [(u8, char); 19] = [
    (0x09, 'ç'),
    (0x0A, '\u{c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// Portuguese single-shift table (A.2.3).
const PORTUGUESE_SINGLE: [(u8, char); 36] = [
    (0x09, 'ç'),
    (0x0A, '\u{c}'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x14, '^'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
];

/// Which tables a message uses: `None` means the default basic / extension table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShiftTables {
    /// Locking shift (replaces the basic table; IE 0x25).
    pub locking: Option<NationalLanguage>,
    /// Single shift (replaces the extension table; IE 0x24).
    pub single: Option<NationalLanguage>,
}

impl ShiftTables {
    /// The default tables (no shift).
    pub const DEFAULT: Self = Self {
        locking: None,
        single: None,
    };

    /// Whether these are the default tables.
    #[must_use]
    pub const fn is_default(&self) -> bool {
        self.locking.is_none() && self.single.is_none()
    }

    /// The tables announced by UDH IEs 0x24 / 0x25 (unknown languages fall back to the
    /// default tables, as TS 23.038 asks of a receiver).
    #[must_use]
    pub fn from_udh(udh: &super::udh::Udh<'_>) -> Self {
        let mut tables = Self::DEFAULT;
        for ie in udh.elements() {
            match (ie.iei, ie.data) {
                (super::udh::IEI_SINGLE_SHIFT, &[id]) => {
                    tables.single = NationalLanguage::from_id(id);
                }
                (super::udh::IEI_LOCKING_SHIFT, &[id]) => {
                    tables.locking =
                        NationalLanguage::from_id(id).filter(|l| l.has_locking_table());
                }
                _ => {}
            }
        }
        tables
    }

    /// The UDH information elements announcing these tables (3 octets each).
    pub fn elements(&self) -> impl Iterator<Item = [u8; 3]> {
        let single = self
            .single
            .map(|l| [super::udh::IEI_SINGLE_SHIFT, 1, l.id()]);
        let locking = self
            .locking
            .filter(|l| l.has_locking_table())
            .map(|l| [super::udh::IEI_LOCKING_SHIFT, 1, l.id()]);
        single.into_iter().chain(locking)
    }

    /// Octets these IEs add to a UDH.
    #[must_use]
    pub fn udh_octets(&self) -> usize {
        3 * self.elements().count()
    }

    /// Cells of the locking-shift table that differ from the default basic table.
    fn locking_diff(&self) -> &'static [(u8, char)] {
        match self.locking {
            Some(NationalLanguage::Turkish) => &TURKISH_LOCKING,
            Some(NationalLanguage::Portuguese) => &PORTUGUESE_LOCKING,
            Some(NationalLanguage::Spanish) | None => &[],
        }
    }

    /// Character at `septet` of the basic (or locking-shift) table.
    #[must_use]
    pub fn basic_char(&self, septet: u8) -> char {
        let septet = septet & 0x7F;
        self.locking_diff()
            .iter()
            .find(|(s, _)| *s == septet)
            .map_or(BASIC[usize::from(septet)], |(_, c)| *c)
    }

    /// The single-shift (extension) table in use.
    fn shift_table(&self) -> &'static [(u8, char)] {
        match self.single {
            Some(NationalLanguage::Turkish) => &TURKISH_SINGLE,
            Some(NationalLanguage::Spanish) => &SPANISH_SINGLE,
            Some(NationalLanguage::Portuguese) => &PORTUGUESE_SINGLE,
            None => &EXTENSION,
        }
    }

    /// Character for `ESC septet`: the shift table's, else the basic table's (§6.2.1.1).
    #[must_use]
    pub fn shifted_char(&self, septet: u8) -> char {
        let septet = septet & 0x7F;
        if septet == ESCAPE {
            return ' ';
        }
        self.shift_table()
            .iter()
            .find(|(s, _)| *s == septet)
            .map_or_else(|| self.basic_char(septet), |(_, c)| *c)
    }

    /// How `c` is written with these tables (basic first, then the shift table).
    #[must_use]
    pub fn lookup(&self, c: char) -> Option<GsmChar> {
        let diff = self.locking_diff();
        if let Some((s, _)) = diff.iter().find(|(_, ch)| *ch == c) {
            return Some(GsmChar::Basic(*s));
        }
        if let Some(GsmChar::Basic(s)) = super::gsm7::lookup(c) {
            if !diff.iter().any(|(d, _)| *d == s) {
                return Some(GsmChar::Basic(s));
            }
        }
        self.shift_table()
            .iter()
            .find(|(_, ch)| *ch == c)
            .map(|(s, _)| GsmChar::Extension(*s))
    }

    /// Appends unpacked septets for `text` to `out`.
    ///
    /// # Errors
    /// [`TextError::Unrepresentable`] for a character outside these tables.
    pub fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
        for (position, c) in text.chars().enumerate() {
            match self.lookup(c) {
                Some(GsmChar::Basic(s)) => out.push(s),
                Some(GsmChar::Extension(s)) => out.extend_from_slice(&[ESCAPE, s]),
                None => {
                    return Err(TextError::Unrepresentable {
                        character: c,
                        position,
                        encoding: "GSM 03.38 with national shift tables",
                    });
                }
            }
        }
        Ok(())
    }

    /// Decodes unpacked septets with these tables (total; top bit masked, like
    /// [`super::gsm7::decode_unpacked`]).
    #[must_use]
    pub fn decode(&self, septets: &[u8]) -> String {
        let mut out = String::with_capacity(septets.len());
        let mut iter = septets.iter().map(|&b| b & 0x7F);
        while let Some(s) = iter.next() {
            if s == ESCAPE {
                out.push(iter.next().map_or(' ', |n| self.shifted_char(n)));
            } else {
                out.push(self.basic_char(s));
            }
        }
        out
    }

    /// The cheapest tables (fewest UDH octets) among the default and those of `languages`
    /// that can write every character of `text`; `None` if none can.
    #[must_use]
    pub fn choose(text: &str, languages: &[NationalLanguage]) -> Option<Self> {
        let mut candidates = vec![Self::DEFAULT];
        for &l in languages {
            candidates.push(Self {
                locking: None,
                single: Some(l),
            });
            if l.has_locking_table() {
                candidates.push(Self {
                    locking: Some(l),
                    single: None,
                });
                candidates.push(Self {
                    locking: Some(l),
                    single: Some(l),
                });
            }
        }
        candidates
            .into_iter()
            .filter(|t| text.chars().all(|c| t.lookup(c).is_some()))
            .min_by_key(|t| {
                let septets: usize = text
                    .chars()
                    .map(|c| t.lookup(c).map_or(2, GsmChar::septets))
                    .sum();
                // Cost in octets of header plus text, roughly: what fits more text wins.
                8 * t.udh_octets() + 7 * septets
            })
    }
}
