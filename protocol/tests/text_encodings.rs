//! Encodings: the full GSM 03.38 table both ways (written here independently of the code),
//! the extension table, packing, UCS-2 over the whole BMP, Latin-1 and ASCII.

use smppgate_protocol::text::{
    Coding, DefaultAlphabet, Encoding, TextConfig, TextError, decode, encode, gsm7, latin1, ucs2,
};

/// 3GPP TS 23.038 §6.2.1 basic table, row by row, copied from the reference §7.6 grid.
/// `\u{1b}` stands for ESC (0x1B), which is not a character.
const GSM_BASIC: &str = concat!(
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
);

/// Extension table (after ESC), from the reference §7.6.
const GSM_EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

#[test]
fn every_basic_character_both_ways() {
    let chars: Vec<char> = GSM_BASIC.chars().collect();
    assert_eq!(chars.len(), 128);
    for (code, &c) in chars.iter().enumerate() {
        if code == 0x1B {
            continue;
        }
        let code = u8::try_from(code).unwrap();
        assert_eq!(
            gsm7::encode_unpacked(&c.to_string()).unwrap(),
            [code],
            "encode {c:?}"
        );
        assert_eq!(
            gsm7::decode_unpacked(&[code]),
            c.to_string(),
            "decode 0x{code:02X}"
        );
    }
}

#[test]
fn every_extension_character_both_ways() {
    for (code, c) in GSM_EXTENSION {
        assert_eq!(
            gsm7::encode_unpacked(&c.to_string()).unwrap(),
            [0x1B, code],
            "{c:?}"
        );
        assert_eq!(gsm7::decode_unpacked(&[0x1B, code]), c.to_string());
    }
}

#[test]
fn spec_pitfalls_of_the_table() {
    assert_eq!(gsm7::encode_unpacked("$").unwrap(), [0x02]);
    assert_eq!(gsm7::encode_unpacked("¤").unwrap(), [0x24]);
    assert_eq!(gsm7::encode_unpacked("@").unwrap(), [0x00]);
    assert_eq!(gsm7::encode_unpacked("¡").unwrap(), [0x40]);
    assert_eq!(gsm7::encode_unpacked("§").unwrap(), [0x5F]);
    assert_eq!(gsm7::encode_unpacked("Ç").unwrap(), [0x09]);
    for c in ['`', 'ç', 'ê', '中', '😀', '\u{1b}', '\t'] {
        assert!(
            gsm7::encode_unpacked(&c.to_string()).is_err(),
            "{c:?} must not encode"
        );
    }
}

#[test]
fn unrepresentable_names_character_and_position() {
    let err = gsm7::encode_unpacked("abc`d").unwrap_err();
    assert_eq!(
        err,
        TextError::Unrepresentable {
            character: '`',
            position: 3,
            encoding: "GSM 03.38"
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("'`'") && message.contains("position 3"),
        "{message}"
    );
}

#[test]
fn decoder_is_total() {
    // ESC + an unlisted code shows the basic character; ESC ESC and a trailing ESC a space.
    assert_eq!(gsm7::decode_unpacked(&[0x1B, 0x41]), "A");
    assert_eq!(gsm7::decode_unpacked(&[0x1B, 0x1B]), " ");
    assert_eq!(gsm7::decode_unpacked(&[0x41, 0x1B]), "A ");
    // Octets >= 0x80 are masked to 7 bits.
    assert_eq!(gsm7::decode_unpacked(&[0xC1, 0x80]), "A@");
    let all: Vec<u8> = (0..=255).collect();
    // 256 octets, two of which (0x1B, 0x9B) are escapes that swallow the next octet.
    assert_eq!(gsm7::decode_unpacked(&all).chars().count(), 254);
}

#[test]
fn packing_with_udh_fill_bits() {
    // Full 8-bit-ref part: 6-octet UDH, 1 fill bit, 153 septets = 134 octets.
    let septets = vec![0x41; 153];
    let packed = gsm7::pack_septets(&septets, gsm7::fill_bits(6));
    assert_eq!(packed.len(), 134);
    assert_eq!(packed[0] & 1, 0, "fill bit is zero");
    assert_eq!(gsm7::unpack_septets(&packed, 1, Some(153)), septets);
    // 16-bit ref: 7-octet UDH, no fill, 152 septets = 133 octets.
    let packed = gsm7::pack_septets(&septets[..152], gsm7::fill_bits(7));
    assert_eq!(packed.len(), 133);
    // Single message: 160 septets = 140 octets.
    assert_eq!(gsm7::pack_septets(&[0x20; 160], 0).len(), 140);
    for n in 0..40 {
        for fill in 0..7 {
            let s: Vec<u8> = (0..n).map(|i| (i * 37 % 128) as u8).collect();
            let p = gsm7::pack_septets(&s, fill);
            assert_eq!(
                gsm7::unpack_septets(&p, fill, Some(n)),
                s,
                "n={n} fill={fill}"
            );
        }
    }
}

#[test]
fn ucs2_round_trips_every_bmp_character() {
    let mut text = String::new();
    for code in (0..=0xFFFFu32).filter(|c| !(0xD800..=0xDFFF).contains(c)) {
        text.push(char::from_u32(code).unwrap());
    }
    let octets = ucs2::encode(&text);
    assert_eq!(octets.len(), 2 * (0x10000 - 0x800));
    assert_eq!(ucs2::decode(&octets), text);
}

#[test]
fn ucs2_round_trips_astral_characters() {
    for c in ['😀', '𝄞', '𠀀', '🇨', '\u{10FFFF}', '\u{10000}'] {
        let octets = ucs2::encode(&c.to_string());
        assert_eq!(octets.len(), 4);
        assert!((0xD8..=0xDB).contains(&octets[0]), "high surrogate first");
        assert_eq!(ucs2::decode(&octets), c.to_string());
    }
}

#[test]
fn latin1_and_ascii() {
    let all: String = (0..=255u8).map(char::from).collect();
    assert_eq!(latin1::decode(&latin1::encode(&all).unwrap()), all);
    assert!(matches!(
        latin1::encode("a€"),
        Err(TextError::Unrepresentable {
            character: '€',
            position: 1,
            ..
        })
    ));
    assert_eq!(latin1::encode_ascii("hi").unwrap(), b"hi");
    assert!(latin1::encode_ascii("é").is_err());
    assert_eq!(latin1::decode_ascii(&[0x41, 0xE9]), "A\u{fffd}");
}

#[test]
fn whole_message_encode_decode_per_link() {
    let gsm = TextConfig::default();
    let e = encode("Price: 5€", Coding::Auto, gsm).unwrap();
    assert_eq!((e.data_coding, e.encoding), (0, Encoding::Gsm7));
    assert_eq!(decode(0, &e.octets, 0, gsm), "Price: 5€");

    let e = encode("你好", Coding::Auto, gsm).unwrap();
    assert_eq!(
        (e.data_coding, e.octets.as_slice()),
        (8, &[0x4F, 0x60, 0x59, 0x7D][..])
    );

    let packed = TextConfig {
        packed_gsm7: true,
        ..gsm
    };
    let e = encode("hellohello", Coding::Gsm7, packed).unwrap();
    assert_eq!(
        e.octets,
        [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
    );
    assert_eq!(decode(0, &e.octets, 0, packed), "hellohello");

    // A link whose data_coding 0 is Latin-1 (reference vector mz-deliver_sm-dc0-latin1-bytes).
    let latin = TextConfig {
        default_alphabet: DefaultAlphabet::Latin1,
        ..gsm
    };
    assert_eq!(decode(0, &[0xA7, 0xA8], 0, latin), "§¨");
    let e = encode("Hello", Coding::Auto, latin).unwrap();
    assert_eq!((e.data_coding, e.encoding), (0, Encoding::Latin1));
    assert_eq!(encode("Hello", Coding::Latin1, gsm).unwrap().data_coding, 3);
    assert_eq!(encode("Hello", Coding::Ascii, gsm).unwrap().data_coding, 1);
    // Binary and unknown codings come back as Latin-1 (nothing lost).
    assert_eq!(decode(4, &[0x00, 0xFF], 0, gsm), "\u{0}ÿ");
    assert!(matches!(
        encode("中", Coding::Gsm7, gsm),
        Err(TextError::Unrepresentable {
            character: '中',
            position: 0,
            ..
        })
    ));
}
