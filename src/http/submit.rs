//! `POST /v1/messages`: JSON in, one `submit_sm` per destination built from it, through
//! intake as an SMPP client's would go (the same checks, policy, per-account TPS,
//! durable backlog and group commit), answered 202 once every accepted message is
//! durable.

use std::time::UNIX_EPOCH;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{SM_LENGTH_MAX, SubmitSm};
use smppgate_protocol::text::{Coding, TextConfig, encode};
use smppgate_protocol::tlv::{TlvTag, Tlvs};
use smppgate_protocol::types::time::{AbsoluteTime, RelativeTime, SmppTime, UtcOffsetSign};
use smppgate_protocol::types::{DataCoding, RegisteredDelivery};

use super::errors::ApiError;
use crate::config::Class;
use crate::gateway::accounts::Account;
use crate::numbers::address;

/// Most destinations in one request.
pub(crate) const MAX_DESTINATIONS: usize = 1_000;

/// The request body. Unknown fields are refused (a misspelt `schedule_at` must not send
/// at once).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitRequest {
    /// One number (`+8613800138000`), or up to 1 000.
    to: To,
    /// The sender (source_addr): digits, or a name.
    #[serde(default)]
    from: Option<String>,
    /// The text: GSM 7-bit when it fits, else UCS-2; long texts are split.
    text: String,
    /// `otp`, `notification` or `marketing` (default: the account's class).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "otp")]
    class: Option<Class>,
    /// Echoed in the answer.
    #[serde(default)]
    client_ref: Option<String>,
    /// RFC 3339: not sent before this time.
    #[serde(default)]
    schedule_at: Option<String>,
    /// How long it may wait for delivery (`1h`, `30m`).
    #[serde(default)]
    validity: Option<String>,
    /// `auto` (default), `gsm7` or `ucs2`.
    #[serde(default)]
    coding: Option<CodingField>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged, expecting = "a phone number or an array of phone numbers")]
enum To {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum CodingField {
    Auto,
    Gsm7,
    Ucs2,
}

/// Parses the body; a malformed body or a wrong type names the field's JSON path.
///
/// # Errors
/// [`ApiError::BadRequest`].
pub(crate) fn parse(body: &[u8]) -> Result<SubmitRequest, ApiError> {
    parse_json(body)
}

/// A JSON body as `T`, or a 400 naming the field path (serde_json's recursion limit
/// refuses deeply nested input with an error, never a stack overflow).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // The common case, a good body, without tracking the path; a bad one is parsed again
    // with it, to name the field.
    if let Ok(request) = serde_json::from_slice(body) {
        return Ok(request);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let request: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        ApiError::BadRequest {
            field: (path != ".").then_some(path),
            message,
        }
    })?;
    deserializer.end().map_err(|error| ApiError::BadRequest {
        field: None,
        message: error.to_string(),
    })?;
    Ok(request)
}

/// A request checked and turned into one submit_sm per destination (same order).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) destinations: Vec<String>,
    pub(crate) submit_sm: Vec<SubmitSm>,
    pub(crate) client_ref: Option<String>,
}

/// Builds the submit_sm of each destination.
///
/// # Errors
/// [`ApiError::BadRequest`] naming the field that cannot be carried.
pub(crate) fn prepare(
    request: SubmitRequest,
    account: &Account,
    now_ms: u64,
) -> Result<Prepared, ApiError> {
    let destinations = match request.to {
        To::One(one) => vec![one],
        To::Many(many) => many,
    };
    if destinations.is_empty() {
        return Err(ApiError::bad(
            "to",
            "no destination; give one number or up to 1000",
        ));
    }
    if destinations.len() > MAX_DESTINATIONS {
        return Err(ApiError::bad(
            "to",
            format!(
                "{} destinations; at most {MAX_DESTINATIONS} in one request",
                destinations.len()
            ),
        ));
    }
    for (index, to) in destinations.iter().enumerate() {
        // §5.2.9: destination_addr is at most 21 octets with its NUL.
        if to.is_empty() || to.len() > 20 || !to.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ApiError::bad(
                format!("to[{index}]"),
                format!(
                    "`{to}` is not a phone number (at most 20 characters, e.g. \"+8613800138000\")"
                ),
            ));
        }
    }
    let from = request.from.unwrap_or_default();
    if from.len() > 20 || !from.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ApiError::bad(
            "from",
            "a sender is at most 20 printable ASCII characters, e.g. \"10690001\"",
        ));
    }
    if let Some(client_ref) = &request.client_ref {
        if client_ref.len() > 64 {
            return Err(ApiError::bad("client_ref", "at most 64 bytes"));
        }
    }
    let coding = match request.coding.unwrap_or(CodingField::Auto) {
        CodingField::Auto => Coding::Auto,
        CodingField::Gsm7 => Coding::Gsm7,
        CodingField::Ucs2 => Coding::Ucs2,
    };
    if request.text.is_empty() {
        return Err(ApiError::bad("text", "empty; write the message text"));
    }
    let encoded = encode(&request.text, coding, TextConfig::default()).map_err(|error| {
        ApiError::bad("text", format!("cannot be sent in this coding: {error}"))
    })?;
    // Long texts go whole in message_payload; intake splits them as it does for SMPP.
    let (short_message, tlvs) = if encoded.octets.len() <= SM_LENGTH_MAX {
        (Bytes::from(encoded.octets), Tlvs::default())
    } else if u16::try_from(encoded.octets.len()).is_ok() {
        let tlvs = Tlvs::builder()
            .push_raw(TlvTag::MESSAGE_PAYLOAD, &encoded.octets)
            .build()
            .map_err(|error| ApiError::bad("text", error.to_string()))?;
        (Bytes::new(), tlvs)
    } else {
        return Err(ApiError::bad(
            "text",
            "too long for one message (at most 65 535 octets encoded)",
        ));
    };
    let schedule_delivery_time = match &request.schedule_at {
        Some(text) => absolute_time(text, now_ms)?,
        None => SmppTime::default(),
    };
    let validity_period = match &request.validity {
        Some(text) => relative_time(text)?,
        None => SmppTime::default(),
    };
    // A webhook account gets every receipt: the carrier is asked for one.
    let registered_delivery = RegisteredDelivery(u8::from(account.config.webhook_url.is_some()));
    let template = SubmitSm {
        // service_type is at most 5 characters (SMPP 3.4 §5.2.11): the short names that
        // `Class::parse` reads back ("notification" and "marketing" would not encode).
        service_type: request.class.map_or_else(Bytes::new, |class| {
            Bytes::from_static(match class {
                Class::Otp => b"otp",
                Class::Notification => b"ntf",
                Class::Marketing => b"mkt",
            })
        }),
        source_addr: address(&from),
        registered_delivery,
        data_coding: DataCoding(encoded.data_coding),
        schedule_delivery_time,
        validity_period,
        short_message,
        tlvs,
        ..SubmitSm::default()
    };
    let submit_sm = destinations
        .iter()
        .map(|to| SubmitSm {
            destination_addr: address(to),
            ..template.clone()
        })
        .collect();
    Ok(Prepared {
        destinations,
        submit_sm,
        client_ref: request.client_ref,
    })
}

/// RFC 3339 → an SMPP absolute time in UTC (§7.1.1), not in the past.
fn absolute_time(text: &str, now_ms: u64) -> Result<SmppTime, ApiError> {
    let bad = |why: &str| ApiError::bad("schedule_at", format!("`{text}` {why}"));
    let time = humantime::parse_rfc3339_weak(text)
        .map_err(|_| bad("is not an RFC 3339 time; write e.g. \"2026-12-24T09:00:00Z\""))?;
    let millis = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    if millis < u128::from(now_ms) {
        return Err(bad("is in the past"));
    }
    // Back to text in UTC: YYYY-MM-DDThh:mm:ssZ.
    let utc = humantime::format_rfc3339_seconds(time).to_string();
    let field = |range: std::ops::Range<usize>| utc.get(range).and_then(|s| s.parse::<u16>().ok());
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        field(0..4),
        field(5..7),
        field(8..10),
        field(11..13),
        field(14..16),
        field(17..19),
    ) else {
        return Err(bad("cannot be written as an SMPP time"));
    };
    if !(2000..2100).contains(&year) {
        return Err(bad("is outside 2000–2099"));
    }
    let byte = |v: u16| u8::try_from(v).unwrap_or(0);
    SmppTime::absolute(&AbsoluteTime {
        year: byte(year % 100),
        month: byte(month),
        day: byte(day),
        hour: byte(hour),
        minute: byte(minute),
        second: byte(second),
        tenths: 0,
        quarter_hours: 0,
        sign: UtcOffsetSign::Ahead,
    })
    .map_err(|error| bad(&error.to_string()))
}

/// `"1h"`, `"30m"`, `"2days"` → an SMPP relative time (§7.1.1.2), at most 99 days.
fn relative_time(text: &str) -> Result<SmppTime, ApiError> {
    let bad = |why: &str| ApiError::bad("validity", format!("`{text}` {why}"));
    let duration = humantime::parse_duration(text)
        .map_err(|_| bad("is not a duration; write e.g. \"1h\", \"30m\", \"2days\""))?;
    let mut seconds = duration.as_secs();
    if seconds == 0 || seconds >= 100 * 86_400 {
        return Err(bad("is out of range; write 1s to 99days"));
    }
    let take = |seconds: &mut u64, unit: u64| {
        let n = *seconds / unit;
        *seconds %= unit;
        u8::try_from(n).unwrap_or(0)
    };
    let days = take(&mut seconds, 86_400);
    let hours = take(&mut seconds, 3_600);
    let minutes = take(&mut seconds, 60);
    SmppTime::relative(&RelativeTime {
        days,
        hours,
        minutes,
        seconds: u8::try_from(seconds).unwrap_or(0),
        ..RelativeTime::default()
    })
    .map_err(|error| bad(&error.to_string()))
}

/// One destination's result.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Accepted {
        id: String,
        parts: usize,
    },
    Rejected {
        status: CommandStatus,
        rule: Option<String>,
    },
}

/// One destination's entry in the 202 body.
#[derive(Serialize)]
struct AnswerItem<'a> {
    to: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parts: Option<usize>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ref: Option<&'a str>,
}

/// The 202 body, serialised straight from the outcomes (no `serde_json::Value` tree in
/// between: one allocation for the text).
pub(crate) fn answer(prepared: &Prepared, outcomes: &[Outcome]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Answer<'a> {
        messages: Vec<AnswerItem<'a>>,
    }
    let client_ref = prepared.client_ref.as_deref();
    let messages = prepared
        .destinations
        .iter()
        .zip(outcomes)
        .map(|(to, outcome)| match outcome {
            Outcome::Accepted { id, parts } => AnswerItem {
                to,
                id: Some(id),
                parts: Some(*parts),
                status: "accepted",
                code: None,
                reason: None,
                client_ref,
            },
            Outcome::Rejected { status, rule } => AnswerItem {
                to,
                id: None,
                parts: None,
                status: "rejected",
                code: Some(
                    rule.as_deref()
                        .map_or_else(|| status.name_or_hex(), Into::into),
                ),
                reason: Some(status.description()),
                client_ref,
            },
        })
        .collect();
    // Strings and numbers only: serialising cannot fail.
    serde_json::to_vec(&Answer { messages }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn the_answer_names_each_destination_s_outcome() {
        let prepared = prepare(
            parse(br#"{"to": ["+8613800138000", "x"], "text": "hi", "client_ref": "r1"}"#).unwrap(),
            &account(false),
            0,
        )
        .unwrap();
        let outcomes = [
            Outcome::Accepted {
                id: "42".to_owned(),
                parts: 1,
            },
            Outcome::Rejected {
                status: CommandStatus::ESME_RINVDSTADR,
                rule: None,
            },
        ];
        let answer: Value = serde_json::from_slice(&answer(&prepared, &outcomes)).unwrap();
        assert_eq!(
            answer,
            json!({"messages": [
                {"to": "+8613800138000", "id": "42", "parts": 1, "status": "accepted", "client_ref": "r1"},
                {"to": "x", "status": "rejected", "code": "ESME_RINVDSTADR",
                 "reason": CommandStatus::ESME_RINVDSTADR.description(), "client_ref": "r1"},
            ]})
        );
    }

    fn account(webhook: bool) -> Account {
        let mut config = crate::config::Config::demo().accounts[0].clone();
        if webhook {
            config.webhook_url = Some("http://127.0.0.1:9/hook".to_owned());
        }
        Account::new(config)
    }

    mod any_request {
        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::super::*;

        /// A field's value: mostly one of `good`, sometimes one of `bad`, any text or the
        /// wrong type.
        fn field(
            good: &'static [&'static str],
            bad: &'static [&'static str],
        ) -> impl Strategy<Value = Value> {
            prop_oneof![
                16 => proptest::sample::select(good).prop_map(|s| json!(s)),
                1 => proptest::sample::select(bad).prop_map(|s| json!(s)),
                1 => "\\PC{0,30}".prop_map(|s| json!(s)),
                1 => any::<i64>().prop_map(|n| json!(n)),
            ]
        }

        /// An optional field: absent, null, or [`field`].
        fn optional(
            good: &'static [&'static str],
            bad: &'static [&'static str],
        ) -> impl Strategy<Value = Option<Value>> {
            prop_oneof![
                2 => Just(None),
                1 => Just(Some(Value::Null)),
                4 => field(good, bad).prop_map(Some),
            ]
        }

        fn request() -> impl Strategy<Value = Value> {
            let to = prop_oneof![
                4 => field(&["+8613800138000", "8613800138000", "10086"], &["", "123456789012345678901"]),
                1 => proptest::collection::vec("[+0-9]{1,20}", 0..4).prop_map(|v| json!(v)),
            ];
            let text = prop_oneof![
                "\\PC{1,400}",
                "[a-z€{}\\[\\]~^|\\\\ ]{150,170}",
                "[验证码😀a]{60,80}",
            ];
            (
                to,
                text,
                optional(
                    &["10690001", "MyShop", ""],
                    &["a sender far too long to send"],
                ),
                optional(&["otp", "notification", "marketing"], &["spam"]),
                optional(
                    &["2030-01-01T00:00:00Z", "2099-12-31T23:59:59+08:00"],
                    &["2001-01-01T00:00:00Z", "2999-12-31T23:59:59Z"],
                ),
                optional(
                    &["1h", "30m", "99days", "1s"],
                    &["100days", "0s", "forever"],
                ),
                optional(&["auto", "gsm7", "ucs2"], &["latin1"]),
            )
                .prop_map(|(to, text, from, class, schedule_at, validity, coding)| {
                    let mut body = json!({"to": to, "text": text});
                    for (name, value) in [
                        ("from", from),
                        ("class", class),
                        ("schedule_at", schedule_at),
                        ("validity", validity),
                        ("coding", coding),
                    ] {
                        if let Some(value) = value {
                            body[name] = value;
                        }
                    }
                    body
                })
        }

        proptest! {
            /// Whatever a client sends, the request is refused with a 400 or becomes
            /// submit_sm that encode and decode back unchanged: nothing accepted here can
            /// fail later in intake (which encodes it for the store), and nothing panics.
            #[test]
            fn a_request_is_refused_or_becomes_sendable_submit_sm(
                body in request(),
                noise in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                let _ = parse(&noise);
                let Ok(request) = parse(&serde_json::to_vec(&body).unwrap()) else {
                    return Ok(());
                };
                // 2026-12-07: the schedule_at values before it are in the past.
                let Ok(prepared) = prepare(request, &super::account(false), 1_796_630_400_000)
                else {
                    return Ok(());
                };
                prop_assert_eq!(prepared.destinations.len(), prepared.submit_sm.len());
                for submit_sm in &prepared.submit_sm {
                    let pdu = smppgate_protocol::pdu::Pdu::new(
                        1,
                        smppgate_protocol::pdu::Body::SubmitSm(submit_sm.clone()),
                    );
                    let mut buf = bytes::BytesMut::new();
                    smppgate_protocol::codec::encode(&pdu, &mut buf)
                        .map_err(|e| TestCaseError::fail(format!("{e:?}: {body}")))?;
                    let decoded = smppgate_protocol::codec::decode(buf.clone().freeze())
                        .map_err(|e| TestCaseError::fail(format!("{e:?}: {body}")))?;
                    prop_assert_eq!(decoded.body, pdu.body);
                }
            }
        }
    }

    #[test]
    fn field_paths_in_errors() {
        let error = parse(br#"{"to": ["+86138", 5], "text": "hi"}"#).unwrap_err();
        assert!(
            matches!(&error, ApiError::BadRequest { field: Some(f), .. } if f == "to"),
            "{error:?}"
        );
        let error = parse(br#"{"to": "1", "text": 7}"#).unwrap_err();
        assert!(matches!(&error, ApiError::BadRequest { field: Some(f), .. } if f == "text"));
        let error = parse(br#"{"to": "1", "text": "x", "sender": "a"}"#).unwrap_err();
        assert!(
            matches!(&error, ApiError::BadRequest { message, .. } if message.contains("unknown field `sender`")),
            "{error:?}"
        );
        let error = parse(br#"{"to": "1", "text": "x", "class": "spam"}"#).unwrap_err();
        assert!(matches!(&error, ApiError::BadRequest { field: Some(f), .. } if f == "class"));
        assert!(parse(b"{\"to\": \"1\", \"text\": \"x\"} trailing").is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn coding_is_gsm7_when_it_fits_else_ucs2() {
        let gsm = prepare(
            parse(br#"{"to": "+8613800138000", "text": "code 1234"}"#).unwrap(),
            &account(false),
            0,
        )
        .unwrap();
        assert_eq!(gsm.submit_sm[0].data_coding.0, 0);
        assert_eq!(&gsm.submit_sm[0].short_message[..], b"code 1234");
        assert_eq!(
            gsm.submit_sm[0].destination_addr.addr,
            Bytes::from_static(b"8613800138000")
        );
        assert!(!gsm.submit_sm[0].registered_delivery.wants_receipt());
        let ucs2 = prepare(
            parse("{\"to\": \"1\", \"text\": \"验证码\"}".as_bytes()).unwrap(),
            &account(true),
            0,
        )
        .unwrap();
        assert_eq!(ucs2.submit_sm[0].data_coding.0, 8);
        assert_eq!(ucs2.submit_sm[0].short_message.len(), 6);
        assert!(ucs2.submit_sm[0].registered_delivery.wants_receipt());
        let forced = prepare(
            parse(br#"{"to": "1", "text": "hi", "coding": "ucs2"}"#).unwrap(),
            &account(false),
            0,
        )
        .unwrap();
        assert_eq!(forced.submit_sm[0].data_coding.0, 8);
        let error = prepare(
            parse("{\"to\": \"1\", \"text\": \"验\", \"coding\": \"gsm7\"}".as_bytes()).unwrap(),
            &account(false),
            0,
        )
        .unwrap_err();
        assert!(matches!(&error, ApiError::BadRequest { field: Some(f), .. } if f == "text"));
    }

    #[test]
    fn long_text_goes_in_message_payload() {
        let text = "a".repeat(400);
        let body = json!({"to": ["1", "2"], "text": text}).to_string();
        let prepared = prepare(parse(body.as_bytes()).unwrap(), &account(false), 0).unwrap();
        assert_eq!(prepared.submit_sm.len(), 2);
        assert!(prepared.submit_sm[0].short_message.is_empty());
        assert_eq!(
            prepared.submit_sm[0].tlvs.message_payload().unwrap().len(),
            400
        );
    }

    #[test]
    fn times() {
        let prepared = prepare(
            parse(br#"{"to": "1", "text": "x", "schedule_at": "2030-01-02T03:04:05Z", "validity": "1h"}"#).unwrap(),
            &account(false),
            0,
        )
        .unwrap();
        assert_eq!(
            &prepared.submit_sm[0].schedule_delivery_time.raw()[..],
            b"300102030405000+"
        );
        assert_eq!(
            &prepared.submit_sm[0].validity_period.raw()[..],
            b"000000010000000R"
        );
        let past =
            parse(br#"{"to": "1", "text": "x", "schedule_at": "2001-01-01T00:00:00Z"}"#).unwrap();
        assert!(prepare(past, &account(false), 1_700_000_000_000).is_err());
        let forever = parse(br#"{"to": "1", "text": "x", "validity": "1000days"}"#).unwrap();
        assert!(
            matches!(prepare(forever, &account(false), 0), Err(ApiError::BadRequest { field: Some(f), .. }) if f == "validity")
        );
    }

    #[test]
    fn too_many_destinations() {
        let many: Vec<String> = (0..1001).map(|i| format!("86138{i:08}")).collect();
        let body = json!({"to": many, "text": "x"}).to_string();
        let error = prepare(parse(body.as_bytes()).unwrap(), &account(false), 0).unwrap_err();
        assert!(matches!(&error, ApiError::BadRequest { field: Some(f), .. } if f == "to"));
    }
}
