//! `smppgate text split` and `smppgate receipt parse`, run as the built binary.

use std::process::{Command, Output};

use serde_json::Value;

fn smppgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smppgate"))
        .args(args)
        .output()
        .expect("run smppgate")
}

fn json(args: &[&str]) -> Value {
    let out = smppgate(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn short_gsm_text_is_one_part_without_udh() {
    let v = json(&["text", "split", "Hello €"]);
    assert_eq!(v["data_coding"], 0);
    assert_eq!(v["encoding"], "gsm7");
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert!(parts[0]["udh"].is_null() && parts[0]["sar"].is_null());
    assert_eq!(parts[0]["payload"], "48656c6c6f201b65");
    assert_eq!(parts[0]["text"], "Hello €");
}

#[test]
fn long_gsm_text_gets_udh_parts() {
    let text = "a".repeat(161);
    let v = json(&["text", "split", "--ref", "42", &text]);
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["udh"], "0500032a0201");
    assert_eq!(parts[1]["udh"], "0500032a0202");
    assert_eq!(parts[0]["payload"].as_str().unwrap().len(), 2 * 153);
    assert_eq!(parts[0]["udhi"], true);
}

#[test]
fn chinese_with_sar_and_udh16() {
    let text = "中".repeat(71);
    let v = json(&["text", "split", "--method", "sar", &text]);
    assert_eq!(v["data_coding"], 8);
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts[1]["sar"]["total"], 2);
    assert_eq!(parts[1]["sar"]["seq"], 2);
    assert!(parts[1]["udh"].is_null());

    let v = json(&[
        "text", "split", "--method", "udh16", "--coding", "ucs2", &text,
    ]);
    assert_eq!(v["parts"][0]["udh"], "06080400010201");
}

#[test]
fn packed_gsm7() {
    let v = json(&[
        "text",
        "split",
        "--coding",
        "gsm7",
        "--packed",
        "hellohello",
    ]);
    assert_eq!(v["parts"][0]["payload"], "e8329bfd4697d9ec37");
}

#[test]
fn unrepresentable_character_is_an_error_naming_it() {
    let out = smppgate(&["text", "split", "--coding", "gsm7", "Hello 世界"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(
        stderr.contains('世') && stderr.contains("position 6"),
        "{stderr}"
    );
}

#[test]
fn receipt_parse() {
    let v = json(&[
        "receipt",
        "parse",
        "id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 stat:DELIVRD err:000 IMSI:123 text:@$#!%&/:",
    ]);
    assert_eq!(v["id"], "0059113978");
    assert_eq!(v["id_normalised"], "38601fa");
    assert_eq!(v["stat"], "DELIVRD");
    assert_eq!(v["message_state"], 2);
    assert_eq!(v["err"], "000");
    assert_eq!(v["submit_date"]["parsed"], "2010-02-10T17:30:00");
    assert_eq!(v["text"], "@$#!%&/:");
    assert_eq!(v["unrecognised"][0]["key"], "IMSI");
}
