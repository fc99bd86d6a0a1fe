//! The message-format codes the three protocols share (CMPP Msg_Fmt, SMGP MsgFormat, SGIP
//! MessageCoding): 0 ASCII, 3 SIM-card write, 4 binary, 8 UCS-2, 15 GBK (GB 18030 subset).

use encoding_rs::GBK;

/// ASCII.
pub const FORMAT_ASCII: u8 = 0;
/// Binary (no text).
pub const FORMAT_BINARY: u8 = 4;
/// UCS-2, big-endian.
pub const FORMAT_UCS2: u8 = 8;
/// GBK (Chinese, one or two octets per character).
pub const FORMAT_GBK: u8 = 15;

/// The text of a message body in `format`, or `None` when the format carries no text
/// (binary, unknown) or the octets are not valid in it.
#[must_use]
pub fn decode_text(format: u8, octets: &[u8]) -> Option<String> {
    match format {
        FORMAT_ASCII => octets
            .is_ascii()
            .then(|| String::from_utf8_lossy(octets).into_owned()),
        FORMAT_UCS2 => {
            if octets.len() % 2 != 0 {
                return None;
            }
            let units = octets
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        FORMAT_GBK => {
            let (text, had_errors) = GBK.decode_without_bom_handling(octets);
            (!had_errors).then(|| text.into_owned())
        }
        _ => None,
    }
}

/// `text` in `format`, or `None` when it cannot be written in it (non-ASCII in format 0,
/// a character outside GBK in format 15, a binary or unknown format).
#[must_use]
pub fn encode_text(format: u8, text: &str) -> Option<Vec<u8>> {
    match format {
        FORMAT_ASCII => text.is_ascii().then(|| text.as_bytes().to_vec()),
        FORMAT_UCS2 => {
            let mut out = Vec::with_capacity(text.len() * 2);
            for unit in text.encode_utf16() {
                out.extend_from_slice(&unit.to_be_bytes());
            }
            Some(out)
        }
        FORMAT_GBK => {
            let (octets, _, had_errors) = GBK.encode(text);
            (!had_errors).then(|| octets.into_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_in_ucs2_and_gbk() {
        // 测试: U+6D4B U+8BD5; GBK B2E2 CAD4.
        assert_eq!(
            encode_text(FORMAT_UCS2, "测试").unwrap(),
            [0x6D, 0x4B, 0x8B, 0xD5]
        );
        assert_eq!(
            encode_text(FORMAT_GBK, "测试").unwrap(),
            [0xB2, 0xE2, 0xCA, 0xD4]
        );
        assert_eq!(
            decode_text(FORMAT_GBK, &[0xB2, 0xE2, 0xCA, 0xD4]).unwrap(),
            "测试"
        );
        assert_eq!(
            decode_text(FORMAT_UCS2, &[0x6D, 0x4B, 0x8B, 0xD5]).unwrap(),
            "测试"
        );
        assert_eq!(encode_text(FORMAT_ASCII, "测试"), None);
        assert_eq!(decode_text(FORMAT_UCS2, &[0x6D]), None);
        assert_eq!(decode_text(FORMAT_BINARY, b"x"), None);
    }
}
