//! Received user data: decoded under any data_coding, with or without UDHI, packed or
//! not, under each default alphabet; packed septets unpacked at any fill; China's
//! Msg_Fmt decoding. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smppgate_protocol::text::coding::{DefaultAlphabet, TextConfig, decode_user_data};
use smppgate_protocol::text::{gsm7, udh::Udh};

fuzz_target!(|data: &[u8]| {
    let [data_coding, esm_class, flags, user_data @ ..] = data else {
        return;
    };
    let default_alphabet = match flags % 3 {
        0 => DefaultAlphabet::Gsm7,
        1 => DefaultAlphabet::Latin1,
        _ => DefaultAlphabet::Ascii,
    };
    let config = TextConfig {
        default_alphabet,
        packed_gsm7: flags & 0x80 != 0,
    };
    let _ = decode_user_data(*data_coding, *esm_class, user_data, config);
    let fill = usize::from(flags & 0x07);
    let septets = (flags & 0x40 != 0).then_some(usize::from(*esm_class));
    let _ = gsm7::unpack_septets(user_data, fill, septets);
    if let Ok((udh, _)) = Udh::split(user_data) {
        let _ = udh.concat();
    }
    let _ = smppgate_protocol::china::text::decode_text(*data_coding, user_data);
});
