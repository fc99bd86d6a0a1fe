//! MD5 authenticators (CMPP CONNECT, SMGP Login) and the MMDDHHMMSS timestamp they hash.

use md5::{Digest, Md5};

/// MD5 over the concatenation of `parts`.
#[must_use]
pub fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The timestamp as the ten ASCII digits MMDDHHMMSS that go into the hash (the packet
/// carries it as an integer: 0102030405 travels as 102030405).
#[must_use]
pub fn timestamp_digits(timestamp: u32) -> [u8; 10] {
    let mut digits = [b'0'; 10];
    let mut rest = timestamp;
    for digit in digits.iter_mut().rev() {
        // `rest % 10` is below 10: the cast cannot truncate.
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    digits
}

/// The integer MMDDHHMMSS for a calendar time (the caller's clock: this crate has none).
#[must_use]
pub const fn timestamp(month: u32, day: u32, hour: u32, minute: u32, second: u32) -> u32 {
    month * 100_000_000 + day * 1_000_000 + hour * 10_000 + minute * 100 + second
}

/// Compares two authenticators without an early exit on the first differing octet.
#[must_use]
pub fn same(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_keeps_its_leading_zero() {
        assert_eq!(timestamp(1, 2, 3, 4, 5), 102_030_405);
        assert_eq!(&timestamp_digits(102_030_405), b"0102030405");
        assert_eq!(&timestamp_digits(1_021_080_510), b"1021080510");
    }
}
