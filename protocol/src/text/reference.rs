//! Concatenation reference numbers.

/// Hands out concatenation references (the RR / RRRR of the UDH, or `sar_msg_ref_num`).
///
/// The caller owns one per link (or per destination): consecutive long messages then get
/// consecutive references, so two messages in flight to one phone share a reference only
/// after 256 (8-bit) or 65 536 (16-bit) further long messages on the same generator. When
/// the caller tracks which references are still in flight, [`Self::next_free`] skips them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferenceGenerator {
    next: u16,
}

impl ReferenceGenerator {
    /// A generator whose first reference is `start` (seed it, e.g. from the link id, so
    /// that a restart does not replay the same references).
    #[must_use]
    pub const fn new(start: u16) -> Self {
        Self { next: start }
    }

    /// Next 8-bit reference (wraps 255 → 0).
    pub fn next_8bit(&mut self) -> u8 {
        let [_, lo] = self.next_16bit().to_be_bytes();
        lo
    }

    /// Next 16-bit reference (wraps 65535 → 0).
    pub fn next_16bit(&mut self) -> u16 {
        let reference = self.next;
        self.next = self.next.wrapping_add(1);
        reference
    }

    /// Next reference of the given width for which `in_use` is false, or `None` when every
    /// value is in use.
    pub fn next_free(&mut self, wide: bool, in_use: impl Fn(u16) -> bool) -> Option<u16> {
        let span: u32 = if wide { 0x1_0000 } else { 0x100 };
        for _ in 0..span {
            let candidate = if wide {
                self.next_16bit()
            } else {
                u16::from(self.next_8bit())
            };
            if !in_use(candidate) {
                return Some(candidate);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps() {
        let mut g = ReferenceGenerator::new(255);
        assert_eq!(g.next_8bit(), 255);
        assert_eq!(g.next_8bit(), 0);
        let mut g = ReferenceGenerator::new(u16::MAX);
        assert_eq!(g.next_16bit(), u16::MAX);
        assert_eq!(g.next_16bit(), 0);
        assert_eq!(g.next_free(false, |r| r < 3), Some(3));
        assert_eq!(g.next_free(false, |_| true), None);
    }
}
