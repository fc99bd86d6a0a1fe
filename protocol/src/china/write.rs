//! Writing fields: fixed-width text padded with 0x00, integers of a version-dependent width.
//! Every check happens in [`check_fixed`]/[`check_uint`] before the first octet is written,
//! so a refused packet leaves the buffer untouched.

use bytes::{BufMut, BytesMut};

use super::error::EncodeError;

/// Refuses a value longer than its field.
///
/// # Errors
/// [`EncodeError::TooLong`].
pub fn check_fixed(value: &[u8], width: usize, field: &'static str) -> Result<(), EncodeError> {
    if value.len() > width {
        return Err(EncodeError::TooLong {
            field,
            len: value.len(),
            max: width,
        });
    }
    Ok(())
}

/// Refuses a number that does not fit `width` octets (1 or 4).
///
/// # Errors
/// [`EncodeError::ValueTooLarge`].
pub fn check_uint(value: u32, width: usize, field: &'static str) -> Result<(), EncodeError> {
    if width == 1 && value > u32::from(u8::MAX) {
        return Err(EncodeError::ValueTooLarge {
            field,
            value: u64::from(value),
            width,
        });
    }
    Ok(())
}

/// Writes `value` padded with 0x00 to `width` (checked by [`check_fixed`] first; a longer
/// value is cut, never overflows the field).
pub fn put_fixed(out: &mut BytesMut, value: &[u8], width: usize) {
    let used = value.len().min(width);
    out.put_slice(&value[..used]);
    out.put_bytes(0, width - used);
}

/// Writes `value` in `width` octets (1 or 4; checked by [`check_uint`] first).
pub fn put_uint(out: &mut BytesMut, value: u32, width: usize) {
    if width == 1 {
        out.put_u8(u8::try_from(value).unwrap_or(u8::MAX));
    } else {
        out.put_u32(value);
    }
}
