//! Receipt parsing against real-world receipt styles from public SMPP projects' tests, and
//! the carrier variations of reference §6.4. Each case names its source (repo + path).

use smppgate_protocol::receipt::{
    DeliveryReceipt, IdStyle, MessageState, NetworkErrorCode, ReceiptDate, ReceiptField,
    ReceiptText, ReceiptTlvs, ids_match, is_delivery_receipt, normalise_id,
};

fn parse(text: &str) -> ReceiptText {
    ReceiptText::parse(text.as_bytes())
}

fn date(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> Option<ReceiptDate> {
    Some(ReceiptDate {
        year: y,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: s,
    })
}

#[test]
fn style_01_spec_layout_with_20_char_text() {
    // twitter-archive/cloudhopper-smpp src/test/java/com/cloudhopper/smpp/util/DeliveryReceiptTest.java
    let r = parse(
        "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes",
    );
    assert_eq!(r.id.as_deref(), Some("0123456789"));
    assert_eq!((r.sub_count(), r.dlvrd_count()), (Some(2), Some(1)));
    assert_eq!(r.submit_date(), date(2010, 5, 23, 20, 39, 0));
    assert_eq!(r.done_date(), date(2010, 5, 24, 23, 39, 0));
    assert_eq!(r.state(), Some(MessageState::Delivered));
    assert_eq!(r.err.as_deref(), Some("012"));
    assert_eq!(r.err_code(), Some(12));
    assert_eq!(r.text.as_deref(), Some("This is a sample mes"));
    assert!(r.unrecognised.is_empty());
}

#[test]
fn style_02_simulator_capitalised_text_key() {
    // twitter-archive/cloudhopper-smpp src/test/java/com/cloudhopper/smpp/util/DeliveryReceiptTest.java
    // ("example receipt from smsc simulator (checks case sensitivity)")
    let r = parse(
        "id:4 sub:001 dlvrd:001 submit date:1006020051 done date:1006020051 stat:DELIVRD err:000 Text:Hello",
    );
    assert_eq!(r.id.as_deref(), Some("4"));
    assert_eq!(r.text.as_deref(), Some("Hello"));
    assert_eq!(r.done_date(), date(2010, 6, 2, 0, 51, 0));
}

#[test]
fn style_03_real_world_decimal_text_id_hex_tlv_id() {
    // twitter-archive/cloudhopper-smpp DeliveryReceiptTest.parseRealWorldReceipt0 (PDU hex);
    // reference §6.4: text 0059113978 / TLV 38601fa.
    let sm = b"id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 stat:DELIVRD err:000 text:@$#!%&/:";
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some(b"38601fa\0"),
        message_state: Some(2),
        network_error_code: None,
    };
    let r = DeliveryReceipt::parse(sm, &tlvs);
    assert_eq!(
        r.text.text.as_deref(),
        Some("@$#!%&/:"),
        "colons inside text survive"
    );
    assert_eq!(r.id(), Some("38601fa"), "the TLV wins");
    assert_eq!(
        r.text.id.as_deref(),
        Some("0059113978"),
        "the text id is kept"
    );
    assert_eq!(r.state(), Some(MessageState::Delivered));
    assert!(!r.id_disagrees(IdStyle::Hex, IdStyle::Dec));
    assert!(r.id_disagrees(IdStyle::Hex, IdStyle::Hex));
    assert!(!r.state_disagrees());
    let c = r.id_candidates(IdStyle::Hex, IdStyle::Dec).unwrap();
    assert!(c.matches(&normalise_id("0059113978", IdStyle::Dec)));
}

#[test]
fn style_04_uuid_id_and_12_digit_dates() {
    // twitter-archive/cloudhopper-smpp DeliveryReceiptTest.parseReceiptWithTimestampIncludingSeconds
    let r = parse(
        "id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 sub:001 dlvrd:001 submit date:110206193041 done date:110206193110 stat:DELIVRD err:000 text:",
    );
    assert_eq!(
        r.id.as_deref(),
        Some("74e02ee1-4e2f-4a6e-a78b-4b247d756a22")
    );
    assert_eq!(r.submit_date(), date(2011, 2, 6, 19, 30, 41));
    assert_eq!(r.done_date(), date(2011, 2, 6, 19, 31, 10));
    assert_eq!(r.text.as_deref(), Some(""));
    // UUIDs stay opaque and compare case-insensitively.
    assert!(ids_match(
        r.id.as_deref().unwrap(),
        IdStyle::Auto,
        "74E02EE1-4E2F-4A6E-A78B-4B247D756A22",
        IdStyle::Hex
    ));
}

#[test]
fn style_05_fields_out_of_order_with_empty_text_before_stat() {
    // twitter-archive/cloudhopper-smpp DeliveryReceiptTest.parseReceiptWithFieldsOutOfOrder
    let r = parse(
        "sub:001 id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 err:000 dlvrd:001 done date:110206193110 submit date:110206193041 text: stat:DELIVRD",
    );
    assert_eq!(
        r.id.as_deref(),
        Some("74e02ee1-4e2f-4a6e-a78b-4b247d756a22")
    );
    assert_eq!(
        r.state(),
        Some(MessageState::Delivered),
        "stat after text: is a field"
    );
    assert_eq!(r.text.as_deref(), Some(""));
    assert_eq!(r.submit_date(), date(2011, 2, 6, 19, 30, 41));
    assert_eq!(r.err_code(), Some(0));
}

#[test]
fn style_06_hex_id_no_sub_dlvrd_14_digit_dates() {
    // twitter-archive/cloudhopper-smpp DeliveryReceiptTest.parseReceiptWithMissingSubAndDlvrdFields
    let r = parse(
        "id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534 done date:20110314181741 stat:DELIVRD err:0",
    );
    assert_eq!(r.id.as_deref(), Some("2E179B310EDE971B2760C72B7F026E1B"));
    assert_eq!(
        (r.sub.as_deref(), r.dlvrd.as_deref(), r.text.as_deref()),
        (None, None, None)
    );
    assert_eq!(r.submit_date(), date(2011, 3, 14, 18, 15, 34));
    assert_eq!(r.err_code(), Some(0));
    // 32 hex digits fit 128 bits: normalised as a number.
    assert_eq!(
        normalise_id("2E179B310EDE971B2760C72B7F026E1B", IdStyle::Hex)
            .primary
            .as_str(),
        "2e179b310ede971b2760c72b7f026e1b"
    );
}

#[test]
fn style_07_eleven_digit_id_enroute() {
    // twitter-archive/cloudhopper-smpp DeliveryReceiptTest.parseShortMessageWith11DigitLongMessageId
    let r = parse(
        "id:98765432101 sub:000 dlvrd:000 submit date:1001010000 done date:1001010000 stat:ENROUTE err:000 text:",
    );
    assert_eq!(r.state(), Some(MessageState::Enroute));
    assert!(!MessageState::Enroute.is_final());
    // Same test file: 98765432101 == 0x16fee0e525.
    assert!(ids_match(
        "98765432101",
        IdStyle::Dec,
        "16fee0e525",
        IdStyle::Hex
    ));
}

#[test]
fn style_08_non_numeric_err_kept_raw() {
    // cytechmobile/cloudhopper-smpp src/test/java/com/cloudhopper/smpp/util/DeliveryReceiptTest.java
    // (parseShortMessageWithSmpp3_4SpecCompliantErrAsStringValue)
    let r = parse(
        "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:21b text:This is a sample mes",
    );
    assert_eq!(r.err.as_deref(), Some("21b"));
    assert_eq!(r.err_code(), None);
}

#[test]
fn style_09_only_a_submit_date() {
    // cytechmobile/cloudhopper-smpp DeliveryReceiptTest.parseReceiptWithOnlySubmitDate
    let r = parse("submit date:110206193041");
    assert_eq!(r.id, None);
    assert_eq!(r.stat, None);
    assert_eq!(r.submit_date(), date(2011, 2, 6, 19, 30, 41));
}

#[test]
fn style_10_no_text_key_trailing_words() {
    // opentelecoms-org/jsmpp jsmpp/src/test/java/org/jsmpp/util/DeliveryReceiptParserTest.java
    // (parseWithNoTextAttribute)
    let r = parse(
        "id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 stat:DELIVRD err:000 testing jsmpp bow",
    );
    assert_eq!(r.text, None);
    assert_eq!(r.err.as_deref(), Some("000"));
    let words: Vec<&str> = r.unrecognised.iter().map(|f| f.value.as_str()).collect();
    assert_eq!(words, ["testing", "jsmpp", "bow"]);
    assert!(r.unrecognised.iter().all(|f| f.key.is_empty()));
}

#[test]
fn style_11_upper_case_text_key() {
    // opentelecoms-org/jsmpp jsmpp/src/test/java/org/jsmpp/util/DeliveryReceiptParserTest.java
    let r = parse(
        "id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 stat:DELIVRD err:000 Text:testing jsmpp bow",
    );
    assert_eq!(r.text.as_deref(), Some("testing jsmpp bow"));
    assert_eq!(r.submit_date(), date(2008, 9, 1, 11, 30, 0));
}

#[test]
fn style_12_no_err_no_text() {
    // opentelecoms-org/jsmpp jsmpp-examples/src/test/java/org/jsmpp/examples/receipts/ExampleDeliveryReceiptStripperTest.java
    let r = parse(
        "id:123456 sub:234 dlvrd:000 submit date:1604052345 done date:1605021145 stat:DELIVRD",
    );
    assert_eq!(r.sub_count(), Some(234));
    assert_eq!((r.err.as_deref(), r.text.as_deref()), (None, None));
    assert_eq!(r.done_date(), date(2016, 5, 2, 11, 45, 0));
}

#[test]
fn style_13_intermediate_enroute_with_error() {
    // RestComm/smscgateway core/smsc-common-library/src/test/java/org/mobicents/smsc/library/ParseDeliveryReceiptTest.java
    let r = parse(
        "id:0512249005 sub:001 dlvrd:000 submit date:1609051327 done date:1609051337 stat:ENROUTE err:054 text:xxssxx",
    );
    assert_eq!(r.state(), Some(MessageState::Enroute));
    assert_eq!(r.err_code(), Some(54));
    assert_eq!(r.text.as_deref(), Some("xxssxx"));
}

#[test]
fn style_14_message_payload_with_raw_ucs2_text() {
    // python-smpplib/python-smpplib tests/test_command.py (test_parse_deliver_sm): receipt in
    // message_payload, sm_length 0, text: in the original UCS-2; reference §6.4 0489708364/1d305b4c.
    let payload = b"id:0489708364 sub:001 dlvrd:001 submit date:1810151907 done date:1810151907 stat:DELIVRD err:000 text:\x04\x1f\x04@\x048\x042\x045\x04B";
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some(b"1d305b4c\0"),
        message_state: Some(2),
        network_error_code: None,
    };
    let r = DeliveryReceipt::parse(payload, &tlvs);
    assert_eq!(r.id(), Some("1d305b4c"));
    assert_eq!(r.text.id.as_deref(), Some("0489708364"));
    assert!(ids_match(
        "0489708364",
        IdStyle::Auto,
        "1d305b4c",
        IdStyle::Hex
    ));
    let raw = r.text.text_raw.as_deref().unwrap();
    assert_eq!(smppgate_protocol::text::ucs2::decode(raw), "Привет");
}

#[test]
fn style_15_capital_text_trailing_nul_upper_hex_tlv() {
    // mozes/smpp.pdu smpp/pdu/tests/pdu_encoding_test.py (test_DeliverSM_handset_ack_conversion);
    // reference §6.4 1891273321 / 70BA8A69.
    let sm = b"id:1891273321 sub:001 dlvrd:001 submit date:1305050826 done date:1305050826 stat:DELIVRD err:000 Text:DLVRD TO MOBILE\x00";
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some(b"70BA8A69\0"),
        message_state: Some(2),
        network_error_code: None,
    };
    let r = DeliveryReceipt::parse(sm, &tlvs);
    assert_eq!(
        r.text.text.as_deref(),
        Some("DLVRD TO MOBILE"),
        "trailing NUL stripped"
    );
    assert_eq!(r.id(), Some("70BA8A69"));
    assert!(!r.id_disagrees(IdStyle::Hex, IdStyle::Dec));
    assert!(ids_match(
        "1891273321",
        IdStyle::Auto,
        "70ba8a69",
        IdStyle::Auto
    ));
}

#[test]
fn style_16_jasmin_accepted_without_counts_and_yyyymmddhhmm_dates() {
    // jookies/jasmin SMPP server DLR tests: 'id:MSGID submit date:%s done date:%s stat:ACCEPTD
    // err:000' with dates formatted "%Y%m%d%H%M" (12 digits, 4-digit year). File not pinned.
    let r = parse("id:MSGID submit date:201902261755 done date:201902261756 stat:ACCEPTD err:000");
    assert_eq!(r.state(), Some(MessageState::Accepted));
    assert_eq!(r.submit_date(), date(2019, 2, 26, 17, 55, 0));
    assert_eq!(r.done_date(), date(2019, 2, 26, 17, 56, 0));
}

#[test]
fn style_17_vendor_fields_with_empty_values() {
    // A Kannel-fed DLR processing script (public Perl source found via code search; repo not
    // pinned) quoting an operator receipt with vendor fields after err:.
    let r = parse(
        "id:40072910491419819 sub:001 dlvrd:001 submit date:1007291049 done date:1007291049 stat:UNDELIV err:001 IMSI: MSC: ORN:VipNet MCCMNC:",
    );
    assert_eq!(r.state(), Some(MessageState::Undeliverable));
    assert_eq!(r.err_code(), Some(1));
    assert_eq!(
        r.unrecognised,
        [
            ReceiptField {
                key: "IMSI".into(),
                value: String::new()
            },
            ReceiptField {
                key: "MSC".into(),
                value: String::new()
            },
            ReceiptField {
                key: "ORN".into(),
                value: "VipNet".into()
            },
            ReceiptField {
                key: "MCCMNC".into(),
                value: String::new()
            },
        ]
    );
}

#[test]
fn carrier_variations_from_the_reference() {
    // §6.4: trailing spaces and NULs after the text, err:, network_error_code TLV, a TLV
    // state that disagrees with the text.
    let sm = b"id:12345 stat:UNDELIV err:011 text:hello world   \0\0";
    let tlvs = ReceiptTlvs {
        receipted_message_id: None,
        message_state: Some(2),
        network_error_code: Some(&[3, 0x00, 0x0B]),
    };
    let r = DeliveryReceipt::parse(sm, &tlvs);
    assert_eq!(r.text.text.as_deref(), Some("hello world"));
    assert_eq!(r.id(), Some("12345"));
    assert_eq!(r.state(), Some(MessageState::Delivered), "the TLV wins");
    assert_eq!(r.text.state(), Some(MessageState::Undeliverable));
    assert!(r.state_disagrees());
    assert_eq!(
        r.network_error,
        Some(NetworkErrorCode {
            network_type: 3,
            error_code: 11
        })
    );

    // Keys in any case, "id: value" with a space, a Latin-1 octet in the text.
    let r = ReceiptText::parse(b"ID: 77 STAT:delivrd ERR:000 TEXT:caf\xe9");
    assert_eq!(r.id.as_deref(), Some("77"));
    assert_eq!(r.state(), Some(MessageState::Delivered));
    assert_eq!(r.text.as_deref(), Some("café"));
    assert_eq!(r.text_raw.as_deref(), Some(&b"caf\xe9"[..]));

    // Text containing what looks like keys after stat: was seen stays text.
    let r = parse("id:1 stat:DELIVRD err:000 text:your id:42 stat:ok");
    assert_eq!(r.text.as_deref(), Some("your id:42 stat:ok"));
    assert_eq!(r.id.as_deref(), Some("1"));

    // Garbage never panics and yields nothing useful.
    let r = ReceiptText::parse(b"\xff\xfe::: :x: id: \0");
    assert_eq!(r.state(), None);
}

#[test]
fn esm_class_detection() {
    assert!(is_delivery_receipt(0x04));
    assert!(is_delivery_receipt(0x44), "UDHI set");
    assert!(is_delivery_receipt(0xC4));
    assert!(
        !is_delivery_receipt(0x20),
        "intermediate notification is not 0x04"
    );
    assert!(!is_delivery_receipt(0x0C));
}

#[test]
fn id_normalisation_forms_all_match() {
    for (id, style) in [
        ("0x1A2B", IdStyle::Hex),
        ("1A2B", IdStyle::Hex),
        ("001a2b", IdStyle::Hex),
        ("6699", IdStyle::Dec),
        ("6699", IdStyle::Auto),
        ("0x1a2b", IdStyle::Dec),
    ] {
        assert!(ids_match(id, style, "1a2b", IdStyle::Hex), "{id} {style:?}");
    }
    assert!(!ids_match("6699", IdStyle::Hex, "1a2b", IdStyle::Hex));
    // Auto gives both readings of an all-digit id.
    let c = normalise_id("0010", IdStyle::Auto);
    assert_eq!(c.primary.as_str(), "a");
    assert_eq!(c.alternate.unwrap().as_str(), "10");
}
