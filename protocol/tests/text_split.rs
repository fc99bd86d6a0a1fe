//! Splitting: capacities, boundaries, methods, and property tests (split then join gives
//! the original, no part over its limit, no escape or surrogate pair cut in two).

use proptest::prelude::*;
use smppgate_protocol::text::{
    Coding, Encoding, ReferenceGenerator, SplitMethod, SplitOptions, TextConfig, TextError, gsm7,
    split, split_binary, ucs2,
};

fn options(coding: Coding, method: SplitMethod, packed: bool) -> SplitOptions {
    SplitOptions {
        coding,
        method,
        config: TextConfig {
            packed_gsm7: packed,
            ..TextConfig::default()
        },
        national_language: None,
    }
}

fn split_auto(text: &str) -> smppgate_protocol::text::SplitMessage {
    split(
        text,
        &SplitOptions::default(),
        &mut ReferenceGenerator::new(7),
    )
    .unwrap()
}

fn part_lengths(text: &str) -> Vec<usize> {
    split_auto(text)
        .parts
        .iter()
        .map(|p| p.text.chars().count())
        .collect()
}

#[test]
fn gsm_160_is_one_part_161_is_two() {
    let m = split_auto(&"a".repeat(160));
    assert_eq!(m.parts.len(), 1);
    assert_eq!((m.data_coding, m.encoding), (0, Encoding::Gsm7));
    assert!(m.parts[0].udh.is_none() && m.parts[0].sar.is_none() && !m.parts[0].udhi());
    assert_eq!(m.parts[0].payload.len(), 160);

    let m = split_auto(&"a".repeat(161));
    assert_eq!(m.parts.len(), 2);
    assert_eq!(m.parts[0].payload.len(), 153);
    assert_eq!(m.parts[1].payload.len(), 8);
    let udh = m.parts[0].udh.unwrap();
    assert_eq!(udh.as_bytes(), [0x05, 0x00, 0x03, 7, 2, 1]);
    assert_eq!(
        m.parts[1].udh.unwrap().as_bytes(),
        [0x05, 0x00, 0x03, 7, 2, 2]
    );
    assert_eq!(m.parts[0].esm_class_flags(), 0x40);
    // Unpacked on the SMPP wire: 6 + 153 = 159 octets of short_message.
    assert_eq!(m.parts[0].user_data().len(), 159);
}

#[test]
fn ucs2_70_is_one_part_71_is_two() {
    let m = split_auto(&"中".repeat(70));
    assert_eq!((m.parts.len(), m.data_coding), (1, 8));
    assert_eq!(m.parts[0].payload.len(), 140);
    assert_eq!(part_lengths(&"中".repeat(71)), [67, 4]);
}

#[test]
fn extension_char_at_153_moves_to_next_part() {
    // 152 basic chars then '€' (2 septets): 154 septets do not fit in 153.
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
    let m = split_auto(&text);
    assert_eq!(m.parts[0].text, "a".repeat(152));
    assert_eq!(m.parts[0].payload.len(), 152);
    assert!(m.parts[1].text.starts_with('€'));
    assert_eq!(&m.parts[1].payload[..2], [0x1B, 0x65]);
    // '€' fits exactly at 152-153.
    let text = format!("{}€{}", "a".repeat(151), "b".repeat(20));
    assert_eq!(split_auto(&text).parts[0].payload.len(), 153);
    // Extension chars count two septets for the single-part limit too.
    assert_eq!(split_auto(&"€".repeat(80)).parts.len(), 1);
    assert_eq!(split_auto(&"€".repeat(81)).parts.len(), 2);
}

#[test]
fn emoji_at_67_moves_to_next_part() {
    let text = format!("{}😀{}", "中".repeat(66), "中".repeat(10));
    let m = split_auto(&text);
    assert_eq!(m.parts[0].text, "中".repeat(66));
    assert_eq!(m.parts[0].payload.len(), 132);
    assert_eq!(&m.parts[1].payload[..4], [0xD8, 0x3D, 0xDE, 0x00]);
    // Emoji count two units for the single-part limit: 35 fit, 36 do not.
    assert_eq!(split_auto(&"😀".repeat(35)).parts.len(), 1);
    assert_eq!(split_auto(&"😀".repeat(36)).parts.len(), 2);
}

#[test]
fn mixed_chinese_and_ascii_is_ucs2_for_the_whole_message() {
    let text = format!("Order 12345 已发货 {}", "x".repeat(100));
    let m = split_auto(&text);
    assert_eq!(m.encoding, Encoding::Ucs2);
    assert_eq!(part_lengths(&text), [67, text.chars().count() - 67]);
}

#[test]
fn sixteen_bit_reference_and_sar_and_payload() {
    let text = "a".repeat(400);
    let mut refs = ReferenceGenerator::new(0x1234);
    let m = split(
        &text,
        &options(Coding::Auto, SplitMethod::Udh16, false),
        &mut refs,
    )
    .unwrap();
    assert_eq!(m.parts.len(), 3);
    assert_eq!(m.parts[0].payload.len(), 152);
    assert_eq!(
        m.parts[2].udh.unwrap().as_bytes(),
        [0x06, 0x08, 0x04, 0x12, 0x34, 3, 3]
    );

    let m = split(
        &text,
        &options(Coding::Auto, SplitMethod::Sar, false),
        &mut refs,
    )
    .unwrap();
    assert_eq!(m.parts.len(), 3);
    assert!(m.parts.iter().all(|p| p.udh.is_none() && !p.udhi()));
    let sar = m.parts[1].sar.unwrap();
    assert_eq!(
        (sar.msg_ref_num, sar.total_segments, sar.segment_seqnum),
        (0x1235, 3, 2)
    );

    let m = split(
        &text,
        &options(Coding::Auto, SplitMethod::MessagePayload, false),
        &mut refs,
    )
    .unwrap();
    assert_eq!(m.parts.len(), 1);
    assert_eq!(m.parts[0].payload.len(), 400);
    assert!(m.parts[0].udh.is_none() && m.parts[0].sar.is_none());
}

#[test]
fn references_advance_only_for_long_messages() {
    let mut refs = ReferenceGenerator::new(255);
    let opts = SplitOptions::default();
    split("short", &opts, &mut refs).unwrap();
    let a = split(&"a".repeat(200), &opts, &mut refs).unwrap();
    let b = split(&"a".repeat(200), &opts, &mut refs).unwrap();
    assert_eq!(a.parts[0].udh.unwrap().as_bytes()[3], 255);
    assert_eq!(
        b.parts[0].udh.unwrap().as_bytes()[3],
        0,
        "8-bit reference wraps"
    );
}

#[test]
fn packed_parts_fit_140_octets() {
    let text = "a".repeat(400);
    let m = split(
        &text,
        &options(Coding::Gsm7, SplitMethod::Udh8, true),
        &mut ReferenceGenerator::new(1),
    )
    .unwrap();
    assert_eq!(m.parts.len(), 3);
    assert_eq!(m.parts[0].user_data().len(), 140);
    assert_eq!(m.parts[0].septets, Some(153));
}

#[test]
fn too_many_parts_is_an_error() {
    let text = "中".repeat(67 * 255);
    assert_eq!(split_auto(&text).parts.len(), 255);
    let err = split(
        &format!("{text}中"),
        &SplitOptions::default(),
        &mut ReferenceGenerator::new(0),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TextError::TooManyParts {
            parts: 256,
            max: 255
        }
    );
}

#[test]
fn forced_coding_reports_the_character() {
    let err = split(
        "Hello 世界",
        &options(Coding::Gsm7, SplitMethod::Udh8, false),
        &mut ReferenceGenerator::new(0),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TextError::Unrepresentable {
            character: '世',
            position: 6,
            encoding: "GSM 03.38"
        }
    );
}

#[test]
fn binary_split() {
    let data = vec![0xAB; 300];
    let m = split_binary(&data, 4, SplitMethod::Udh8, &mut ReferenceGenerator::new(9)).unwrap();
    let sizes: Vec<usize> = m.parts.iter().map(|p| p.payload.len()).collect();
    assert_eq!(sizes, [134, 134, 32]);
    assert_eq!(
        m.parts
            .iter()
            .map(|p| p.payload.clone())
            .collect::<Vec<_>>()
            .concat(),
        data
    );
}

/// Decodes one part's payload on its own, as a receiver would.
fn decode_part(encoding: Encoding, part: &smppgate_protocol::text::Part, packed: bool) -> String {
    match encoding {
        Encoding::Gsm7 if packed => {
            let fill = gsm7::fill_bits(part.udh.map_or(0, |u| u.as_bytes().len()));
            gsm7::decode_unpacked(&gsm7::unpack_septets(&part.payload, fill, part.septets))
        }
        Encoding::Gsm7 => gsm7::decode_unpacked(&part.payload),
        Encoding::Ucs2 => ucs2::decode(&part.payload),
        _ => part.payload.iter().map(|&b| char::from(b)).collect(),
    }
}

fn gsm_heavy() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "aZ09 @£$€[]{}|~^\\\n\rΔ_ÇéüÄ§¡¿".chars().collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..700)
        .prop_map(|v| v.into_iter().collect())
}

fn ucs2_heavy() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "a中文😀🎉𝄞é€ x".chars().collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..400)
        .prop_map(|v| v.into_iter().collect())
}

fn any_unicode() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..400).prop_map(|v| v.into_iter().collect())
}

fn method() -> impl Strategy<Value = SplitMethod> {
    prop::sample::select(vec![
        SplitMethod::Udh8,
        SplitMethod::Udh16,
        SplitMethod::Sar,
        SplitMethod::MessagePayload,
    ])
}

fn check(text: &str, method: SplitMethod, packed: bool) -> Result<(), TestCaseError> {
    let opts = options(Coding::Auto, method, packed);
    let m = match split(text, &opts, &mut ReferenceGenerator::new(3)) {
        Ok(m) => m,
        Err(TextError::TooManyParts { .. }) => return Ok(()),
        Err(e) => return Err(TestCaseError::fail(e.to_string())),
    };
    let packed = packed && m.encoding == Encoding::Gsm7;
    let mut joined = String::new();
    for part in &m.parts {
        let decoded = decode_part(m.encoding, part, packed);
        prop_assert_eq!(&decoded, &part.text, "part decodes to its own text");
        joined.push_str(&decoded);
        let udh = part.udh.map_or(0, |u| u.as_bytes().len());
        if m.parts.len() > 1 {
            if m.encoding == Encoding::Gsm7 && !packed {
                // UDH septets (rounded up with fill bits) + payload septets.
                prop_assert!((udh * 8).div_ceil(7) + part.payload.len() <= 160);
            } else {
                prop_assert!(
                    udh + part.payload.len() <= 140,
                    "{} + {}",
                    udh,
                    part.payload.len()
                );
            }
        }
        if m.encoding == Encoding::Ucs2 && part.payload.len() >= 2 {
            let first = u16::from_be_bytes([part.payload[0], part.payload[1]]);
            prop_assert!(
                !(0xDC00..=0xDFFF).contains(&first),
                "part starts with a low surrogate"
            );
            let n = part.payload.len();
            let last = u16::from_be_bytes([part.payload[n - 2], part.payload[n - 1]]);
            prop_assert!(
                !(0xD800..=0xDBFF).contains(&last),
                "part ends with a high surrogate"
            );
        }
        if m.encoding == Encoding::Gsm7 && !packed {
            let escapes_at_end = part
                .payload
                .iter()
                .rev()
                .take_while(|&&b| b == 0x1B)
                .count();
            prop_assert!(
                escapes_at_end % 2 == 0,
                "dangling escape at the end of a part"
            );
        }
    }
    prop_assert_eq!(joined, text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_unicode_splits_and_joins(text in any_unicode(), method in method(), packed in any::<bool>()) {
        check(&text, method, packed)?;
    }

    #[test]
    fn gsm_text_splits_and_joins(text in gsm_heavy(), method in method(), packed in any::<bool>()) {
        check(&text, method, packed)?;
    }

    #[test]
    fn ucs2_text_splits_and_joins(text in ucs2_heavy(), method in method()) {
        check(&text, method, false)?;
    }
}
