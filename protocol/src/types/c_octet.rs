//! C-octet string limits (reference §0.1, §1.3).
//!
//! Strings are stored as [`bytes::Bytes`] **without** their NUL, as a zero-copy slice of the
//! received frame. Every maximum below **includes** the NUL, as the spec tables write it
//! (`C(16)` = at most 15 characters). The encoder refuses longer values and values holding
//! a NUL; the decoder reports which field broke the limit.

/// `system_id` (bind, bind_resp, outbind): C(16).
pub const SYSTEM_ID_MAX: usize = 16;
/// `password` (bind, outbind): C(9).
pub const PASSWORD_MAX: usize = 9;
/// `system_type` (bind): C(13).
pub const SYSTEM_TYPE_MAX: usize = 13;
/// `address_range` (bind): C(41).
pub const ADDRESS_RANGE_MAX: usize = 41;
/// `service_type`: C(6).
pub const SERVICE_TYPE_MAX: usize = 6;
/// source/destination address in submit_sm, deliver_sm, submit_multi, query_sm, cancel_sm,
/// replace_sm: C(21).
pub const ADDR_MAX: usize = 21;
/// source/destination address in data_sm and alert_notification: C(65).
pub const ADDR_65_MAX: usize = 65;
/// `dl_name` (submit_multi): C(21).
pub const DL_NAME_MAX: usize = 21;
/// `message_id`: C(65).
pub const MESSAGE_ID_MAX: usize = 65;
/// Time strings: `0x00` or 16 characters + NUL (reference §5.4).
pub const TIME_MAX: usize = 17;

/// Whether `value` can be sent as a C-octet string of at most `max` octets with its NUL:
/// shorter than `max` and free of NUL octets.
#[must_use]
pub fn fits(value: &[u8], max: usize) -> bool {
    value.len() < max && !value.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_includes_the_nul() {
        assert!(fits(b"123456789012345", SYSTEM_ID_MAX));
        assert!(!fits(b"1234567890123456", SYSTEM_ID_MAX));
        assert!(fits(b"", PASSWORD_MAX));
        assert!(!fits(b"a\0b", PASSWORD_MAX));
    }
}
