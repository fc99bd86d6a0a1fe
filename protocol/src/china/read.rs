//! A cursor over one frame: every read is bounds-checked and names its field, every slice
//! is a zero-copy `Bytes` of the frame.

use bytes::Bytes;

use super::error::DecodeErrorKind;

/// Reads fields in order from one frame.
#[derive(Debug)]
pub struct Reader<'a> {
    frame: &'a Bytes,
    offset: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `frame` at `offset` (the end of the header).
    #[must_use]
    pub const fn new(frame: &'a Bytes, offset: usize) -> Self {
        Self { frame, offset }
    }

    /// Offset of the next octet in the frame.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Octets left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.frame.len().saturating_sub(self.offset)
    }

    /// Claims the next `len` octets: their range in the frame.
    fn take(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<std::ops::Range<usize>, DecodeErrorKind> {
        let start = self.offset;
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.frame.len())
            .ok_or(DecodeErrorKind::Truncated {
                field,
                offset: start,
            })?;
        self.offset = end;
        Ok(start..end)
    }

    /// The next `len` octets as a slice of the frame.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn octets(&mut self, len: usize, field: &'static str) -> Result<Bytes, DecodeErrorKind> {
        let range = self.take(len, field)?;
        Ok(self.frame.slice(range))
    }

    /// A fixed-width text field, its trailing 0x00 padding trimmed.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn fixed(&mut self, width: usize, field: &'static str) -> Result<Bytes, DecodeErrorKind> {
        let range = self.take(width, field)?;
        let raw = &self.frame[range.clone()];
        let used = raw.iter().rposition(|b| *b != 0).map_or(0, |last| last + 1);
        // An empty field is the common case (padding only): no reference-count traffic.
        if used == 0 {
            return Ok(Bytes::new());
        }
        Ok(self.frame.slice(range.start..range.start + used))
    }

    /// A fixed-size array (authenticators, SMGP MsgID).
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeErrorKind> {
        // Integers and ids are copied out of the frame, not sliced: no reference counting.
        let range = self.take(N, field)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.frame[range]);
        Ok(out)
    }

    /// One octet.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeErrorKind> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A big-endian 16-bit integer.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeErrorKind> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// A big-endian 32-bit integer.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeErrorKind> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// A big-endian 64-bit integer.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeErrorKind> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// An unsigned integer of `width` octets (1 or 4: the fields that changed width between
    /// CMPP 2.0 and 3.0).
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] naming `field`.
    pub fn uint(&mut self, width: usize, field: &'static str) -> Result<u32, DecodeErrorKind> {
        if width == 1 {
            self.u8(field).map(u32::from)
        } else {
            self.u32(field)
        }
    }

    /// The rest of the frame.
    pub fn rest(&mut self) -> Bytes {
        let rest = self.frame.slice(self.offset.min(self.frame.len())..);
        self.offset = self.frame.len();
        rest
    }

    /// Refuses octets after the last field.
    ///
    /// # Errors
    /// [`DecodeErrorKind::TrailingData`].
    pub fn finish(&self) -> Result<(), DecodeErrorKind> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeErrorKind::TrailingData {
                offset: self.offset,
                count,
            }),
        }
    }
}
