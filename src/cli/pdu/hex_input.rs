//! Hex text → bytes for `smppgate pdu decode`: whitespace anywhere is ignored, and an error
//! names where the bad character is (argument/character or line/column), so an operator can
//! find it in a long paste.

use std::fmt;

/// Where a piece of hex text came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// The Nth command line argument (1-based).
    Argument(usize),
    /// Standard input.
    Stdin,
}

/// Hex text that is not an even number of hex digits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HexError {
    /// A character that is neither a hex digit nor whitespace.
    BadChar {
        /// The offending character.
        found: char,
        /// Human-readable position, e.g. `argument 2, character 7` or `line 3, column 1`.
        position: String,
    },
    /// The digits do not pair up into octets.
    OddDigits {
        /// How many hex digits were read in total.
        digits: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadChar { found, position } => {
                write!(
                    f,
                    "invalid hex input: {found:?} at {position} is not a hex digit"
                )
            }
            Self::OddDigits { digits } => write!(
                f,
                "invalid hex input: odd number of hex digits ({digits}); the last octet is incomplete"
            ),
        }
    }
}

impl std::error::Error for HexError {}

/// Accumulates hex digits from several pieces of text into one byte buffer. A nibble may
/// continue across pieces (e.g. `decode 0 0 0 0 0 0 1 0 …` works), so the odd-digit check
/// happens only in [`HexBuffer::finish`].
#[derive(Debug, Default)]
pub(crate) struct HexBuffer {
    bytes: Vec<u8>,
    high_nibble: Option<u8>,
    digits: usize,
}

impl HexBuffer {
    /// Adds the hex digits of `text`, ignoring whitespace.
    pub(crate) fn push(&mut self, text: &str, source: Source) -> Result<(), HexError> {
        let mut line = 1usize;
        let mut column = 0usize;
        for (index, ch) in text.chars().enumerate() {
            column += 1;
            if ch == '\n' {
                line += 1;
                column = 0;
                continue;
            }
            if ch.is_whitespace() {
                continue;
            }
            let Some(nibble) = ch.to_digit(16) else {
                let position = match source {
                    Source::Argument(n) => format!("argument {n}, character {}", index + 1),
                    Source::Stdin => format!("line {line}, column {column}"),
                };
                return Err(HexError::BadChar {
                    found: ch,
                    position,
                });
            };
            // to_digit(16) is < 16, so the narrowing is exact.
            let nibble = u8::try_from(nibble).unwrap_or_default();
            self.digits += 1;
            match self.high_nibble.take() {
                Some(high) => self.bytes.push(high << 4 | nibble),
                None => self.high_nibble = Some(nibble),
            }
        }
        Ok(())
    }

    /// The octets, or an error when a digit is left over.
    pub(crate) fn finish(self) -> Result<Vec<u8>, HexError> {
        if self.high_nibble.is_some() {
            return Err(HexError::OddDigits {
                digits: self.digits,
            });
        }
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pieces: &[&str]) -> Result<Vec<u8>, HexError> {
        let mut buffer = HexBuffer::default();
        for (i, piece) in pieces.iter().enumerate() {
            buffer.push(piece, Source::Argument(i + 1))?;
        }
        buffer.finish()
    }

    #[test]
    fn whitespace_and_case_are_ignored() {
        assert_eq!(
            parse(&["00 0A\n\tff", "Ab"]).unwrap(),
            vec![0x00, 0x0a, 0xff, 0xab]
        );
        assert_eq!(parse(&["0", "1"]).unwrap(), vec![0x01]);
        assert_eq!(parse(&[]).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn bad_character_position() {
        let error = parse(&["00", "0g"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid hex input: 'g' at argument 2, character 2 is not a hex digit"
        );
        let mut buffer = HexBuffer::default();
        let error = buffer.push("0000\n00x0", Source::Stdin).unwrap_err();
        assert!(error.to_string().contains("line 2, column 3"), "{error}");
    }

    #[test]
    fn odd_digits() {
        assert_eq!(
            parse(&["000"]).unwrap_err(),
            HexError::OddDigits { digits: 3 }
        );
    }
}
