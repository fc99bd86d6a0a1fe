//! National language shift tables (3GPP TS 23.038 Annex A): table spot checks against the
//! spec grids, automatic table choice, UDH IEs 0x24 / 0x25, capacities, and round trips
//! through `decode_user_data`.

use proptest::prelude::*;
use smppgate_protocol::text::{
    Coding, Encoding, NationalLanguage, ReferenceGenerator, ShiftTables, SplitMethod, SplitOptions,
    TextConfig, decode_user_data, split,
};

fn options(language: NationalLanguage, method: SplitMethod, packed: bool) -> SplitOptions {
    SplitOptions {
        coding: Coding::Auto,
        method,
        config: TextConfig {
            packed_gsm7: packed,
            ..TextConfig::default()
        },
        national_language: Some(language),
    }
}

fn round_trip(text: &str, language: NationalLanguage, method: SplitMethod, packed: bool) -> usize {
    let opts = options(language, method, packed);
    let config = opts.config;
    let m = split(text, &opts, &mut ReferenceGenerator::new(5)).unwrap();
    assert_eq!(m.encoding, Encoding::Gsm7, "{text}");
    let mut joined = String::new();
    for part in &m.parts {
        let data = part.user_data();
        assert!(data.len() <= if packed { 140 } else { 160 });
        let esm_class = part.esm_class_flags();
        joined.push_str(&decode_user_data(m.data_coding, esm_class, &data, config).unwrap());
    }
    assert_eq!(joined, text);
    m.parts.len()
}

#[test]
fn spot_checks_against_the_spec_grids() {
    let turkish_locking = ShiftTables {
        locking: Some(NationalLanguage::Turkish),
        single: None,
    };
    assert_eq!(turkish_locking.basic_char(0x07), 'ı');
    assert_eq!(turkish_locking.basic_char(0x40), 'İ');
    assert_eq!(turkish_locking.basic_char(0x60), 'ç');
    assert_eq!(turkish_locking.basic_char(0x41), 'A');
    let portuguese_locking = ShiftTables {
        locking: Some(NationalLanguage::Portuguese),
        single: None,
    };
    assert_eq!(portuguese_locking.basic_char(0x15), '∞');
    assert_eq!(portuguese_locking.basic_char(0x24), 'º');
    assert_eq!(portuguese_locking.basic_char(0x7D), '`');
    let spanish_single = ShiftTables {
        locking: None,
        single: Some(NationalLanguage::Spanish),
    };
    assert_eq!(spanish_single.shifted_char(0x41), 'Á');
    assert_eq!(spanish_single.shifted_char(0x65), '€');
    // ESC + a code missing from the shift table shows the basic character.
    assert_eq!(spanish_single.shifted_char(0x42), 'B');
    let portuguese_single = ShiftTables {
        locking: None,
        single: Some(NationalLanguage::Portuguese),
    };
    assert_eq!(portuguese_single.shifted_char(0x7F), 'â');
}

#[test]
fn spanish_single_shift_single_part() {
    let text = "Buenos días, ¿cómo está? Ú";
    let m = split(
        text,
        &options(NationalLanguage::Spanish, SplitMethod::Udh8, false),
        &mut ReferenceGenerator::new(1),
    )
    .unwrap();
    assert_eq!(m.parts.len(), 1);
    let udh = m.parts[0].udh.unwrap();
    assert_eq!(udh.as_bytes(), [0x03, 0x24, 0x01, 0x02]);
    assert!(m.parts[0].udhi());
    round_trip(text, NationalLanguage::Spanish, SplitMethod::Udh8, false);
}

#[test]
fn turkish_uses_locking_and_single_shift() {
    let text = "Şişli'de İstanbul ğüzel çok ı";
    let m = split(
        text,
        &options(NationalLanguage::Turkish, SplitMethod::Udh8, false),
        &mut ReferenceGenerator::new(1),
    )
    .unwrap();
    let udh = m.parts[0].udh.unwrap();
    // The locking table holds every Turkish letter here; the single shift is not needed.
    assert_eq!(udh.as_bytes(), [0x03, 0x25, 0x01, 0x01]);
    round_trip(text, NationalLanguage::Turkish, SplitMethod::Udh8, false);
    round_trip(text, NationalLanguage::Turkish, SplitMethod::Udh16, true);
}

#[test]
fn portuguese_long_message_capacity() {
    // 4-octet shift UDH: 155 septets in one message; concatenated 8-bit ref + one shift IE:
    // 9-octet UDH → 149 septets per part.
    let one = "ã".repeat(155);
    assert_eq!(
        round_trip(&one, NationalLanguage::Portuguese, SplitMethod::Udh8, false),
        1
    );
    let two = "ã".repeat(156);
    let m = split(
        &two,
        &options(NationalLanguage::Portuguese, SplitMethod::Udh8, false),
        &mut ReferenceGenerator::new(9),
    )
    .unwrap();
    assert_eq!(m.parts.len(), 2);
    assert_eq!(m.parts[0].payload.len(), 149);
    assert_eq!(
        m.parts[0].udh.unwrap().as_bytes(),
        [0x08, 0x00, 0x03, 9, 2, 1, 0x25, 0x01, 0x03]
    );
    round_trip(
        &"ção são ô ê ".repeat(40),
        NationalLanguage::Portuguese,
        SplitMethod::Udh8,
        true,
    );
}

#[test]
fn default_text_does_not_pay_for_shift_tables() {
    let m = split(
        "plain text",
        &options(NationalLanguage::Turkish, SplitMethod::Udh8, false),
        &mut ReferenceGenerator::new(1),
    )
    .unwrap();
    assert!(m.parts[0].udh.is_none());
    // Text no national table covers still goes UCS-2.
    let m = split(
        "Ş 中",
        &options(NationalLanguage::Turkish, SplitMethod::Udh8, false),
        &mut ReferenceGenerator::new(1),
    )
    .unwrap();
    assert_eq!(m.encoding, Encoding::Ucs2);
    // SAR cannot announce shift tables: UCS-2.
    let m = split(
        "Şişli",
        &options(NationalLanguage::Turkish, SplitMethod::Sar, false),
        &mut ReferenceGenerator::new(1),
    )
    .unwrap();
    assert_eq!(m.encoding, Encoding::Ucs2);
}

fn turkish_text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "aZ09 .,ŞşİıĞğçÇÖöÜü€[]{}|~^\\".chars().collect();
    prop::collection::vec(prop::sample::select(alphabet), 1..500)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn turkish_round_trips(text in turkish_text(), packed in any::<bool>(), wide in any::<bool>()) {
        let method = if wide { SplitMethod::Udh16 } else { SplitMethod::Udh8 };
        round_trip(&text, NationalLanguage::Turkish, method, packed);
    }
}

#[test]
fn every_table_cell_round_trips() {
    let languages = [
        NationalLanguage::Turkish,
        NationalLanguage::Spanish,
        NationalLanguage::Portuguese,
    ];
    for locking in std::iter::once(None).chain(languages.map(Some)) {
        for single in std::iter::once(None).chain(languages.map(Some)) {
            let tables = ShiftTables {
                locking: locking.filter(|l| l.has_locking_table()),
                single,
            };
            for septet in (0u8..128).filter(|&s| s != 0x1B) {
                let c = tables.basic_char(septet);
                let mut out = Vec::new();
                tables.encode_into(&c.to_string(), &mut out).unwrap();
                assert_eq!(
                    tables.decode(&out),
                    c.to_string(),
                    "{tables:?} basic 0x{septet:02X}"
                );
                let shifted = tables.shifted_char(septet);
                let mut out = Vec::new();
                tables.encode_into(&shifted.to_string(), &mut out).unwrap();
                assert_eq!(
                    tables.decode(&out),
                    shifted.to_string(),
                    "{tables:?} shifted 0x{septet:02X}"
                );
            }
        }
    }
}
