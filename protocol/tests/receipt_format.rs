//! Receipt formatting (simulator / gateway side) and format → parse round trips.

use proptest::prelude::*;
use smppgate_protocol::receipt::{
    DateDigits, DeliveryReceipt, IdFormat, IdStyle, MessageState, ReceiptBuilder, ReceiptDate,
    ReceiptText, ReceiptTlvs, format_id, ids_match,
};

fn when(minute: u8, second: u8) -> Option<ReceiptDate> {
    Some(ReceiptDate {
        year: 2010,
        month: 5,
        day: 23,
        hour: 20,
        minute,
        second,
    })
}

#[test]
fn formats_the_spec_layout() {
    // Same expectation as cloudhopper-smpp DeliveryReceiptTest.toShortMessage.
    let mut b = ReceiptBuilder::new("0123456789", MessageState::Delivered);
    b.submit_date = when(39, 0);
    b.done_date = Some(ReceiptDate {
        day: 24,
        hour: 23,
        ..when(39, 0).unwrap()
    });
    b.err = 12;
    b.text = "This is a sample message that I want to have added to the delivery receipt".into();
    assert_eq!(
        b.format_text(),
        "id:0123456789 sub:001 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes"
    );
    assert_eq!(b.tlv_message_state(), 2);
    assert_eq!(b.tlv_receipted_message_id(), b"0123456789\0");
}

#[test]
fn id_styles_for_text_and_tlv() {
    // The gateway issued hex id 38601fa; this SMSC writes decimal in the text (reference §6.4).
    let mut b = ReceiptBuilder::new("38601fa", MessageState::Undeliverable);
    b.id_style = IdStyle::Hex;
    b.text_id_format = IdFormat::Decimal { width: 10 };
    b.tlv_id_format = IdFormat::HexLower;
    b.date_digits = DateDigits::Twelve;
    b.submit_date = when(30, 41);
    b.done_date = when(31, 10);
    let text = b.format_text();
    assert!(text.starts_with("id:0059113978 sub:001 dlvrd:000 submit date:100523203041 done date:100523203110 stat:UNDELIV"), "{text}");
    let r = DeliveryReceipt::parse(
        text.as_bytes(),
        &ReceiptTlvs {
            receipted_message_id: Some(&b.tlv_receipted_message_id()),
            message_state: Some(b.tlv_message_state()),
            network_error_code: None,
        },
    );
    assert_eq!(r.id(), Some("38601fa"));
    assert!(!r.id_disagrees(IdStyle::Hex, IdStyle::Dec));
    assert_eq!(r.state(), Some(MessageState::Undeliverable));
    assert_eq!(r.text.submit_date(), when(30, 41));

    assert_eq!(format_id("6699", IdStyle::Dec, IdFormat::HexUpper), "1A2B");
    assert_eq!(
        format_id("uuid-x", IdStyle::Hex, IdFormat::Decimal { width: 10 }),
        "uuid-x"
    );
}

#[test]
fn every_state_round_trips_through_text() {
    for state in MessageState::ALL {
        let b = ReceiptBuilder::new("1", state);
        let r = ReceiptText::parse(b.format_text().as_bytes());
        assert_eq!(r.state(), Some(state));
        assert_eq!(MessageState::from_u8(b.tlv_message_state()), Some(state));
    }
}

proptest! {
    #[test]
    fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = ReceiptText::parse(&bytes);
        let _ = DeliveryReceipt::parse(&bytes, &ReceiptTlvs {
            receipted_message_id: Some(&bytes),
            message_state: bytes.first().copied(),
            network_error_code: Some(&bytes),
        });
    }

    #[test]
    fn formatted_receipts_parse_back(id in 0u64..u64::MAX, text in "[ -~]{0,30}", err in 0u16..1000) {
        let mut b = ReceiptBuilder::new(id.to_string(), MessageState::Delivered);
        b.id_style = IdStyle::Dec;
        b.text_id_format = IdFormat::Decimal { width: 10 };
        b.tlv_id_format = IdFormat::HexLower;
        b.err = err;
        b.text = text.clone();
        let r = ReceiptText::parse(b.format_text().as_bytes());
        let want: String = text.chars().take(20).collect();
        // Leading and trailing spaces of the text are not significant to the parser.
        prop_assert_eq!(r.text.as_deref(), Some(want.trim_matches(' ')));
        prop_assert_eq!(r.err_code(), Some(u32::from(err)));
        let tlv = String::from_utf8(b.tlv_receipted_message_id()).unwrap();
        prop_assert!(ids_match(r.id.as_deref().unwrap(), IdStyle::Dec, tlv.trim_end_matches('\0'), IdStyle::Hex));
    }
}
