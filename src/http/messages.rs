//! `GET /v1/messages/{id}` (a message's life, the JSON of `smppgate messages show`) and
//! `GET /v1/messages` (a filtered page, newest first), read from the store while the
//! gateway runs. An account sees only its own messages; the admin token sees all.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use smppgate_protocol::pdu::Body;

use super::auth::Caller;
use super::errors::ApiError;
use crate::cli::messages::{AccountStyles, reading_name, record_json, resolve};
use crate::store::{ListFilter, MessageRecord, PageRead, State, Store};

/// Most records one listing reads from the store before filtering by `to` and `cursor`
/// (the work of one request is bounded; narrow with `since` or `state` to go further).
pub(crate) const MAX_SCAN: usize = 10_000;
/// Most records in one page.
pub(crate) const MAX_LIMIT: usize = 1_000;

/// What an account's key is told of an id it may not see, stored or not.
const NOT_VISIBLE: &str = "no message with this id that this key may see";

/// One message, as `messages show --json` prints it; several when the id reads two
/// ways and each names a message the caller may see.
///
/// # Errors
/// 404 when there is none the caller may see; 503 on a store failure.
pub(crate) async fn show(
    store: Arc<dyn Store>,
    styles: Arc<AccountStyles>,
    caller: Caller,
    id: String,
) -> Result<Value, ApiError> {
    let admin = matches!(caller, Caller::Admin);
    let found = tokio::task::spawn_blocking(move || {
        resolve(&*store, &styles, &id, None).map(|found| {
            let visible: Vec<Value> = found
                .iter()
                .filter(|(_, record)| visible(&caller, record))
                .map(|(reading, record)| {
                    let mut value = with_to(record_json(record, &styles.display(record)), record);
                    value["read_as"] = json!(reading_name(*reading));
                    value
                })
                .collect();
            visible
        })
    })
    .await
    .map_err(|_| ApiError::Unavailable("the store read was cancelled".to_owned()))?
    .map_err(|error| {
        if error.downcast_ref::<crate::store::StoreError>().is_some() {
            ApiError::Unavailable(format!("the store failed: {error:#}"))
        } else if admin {
            ApiError::NotFound(error.to_string())
        } else {
            // The same answer as for another account's message: ids rise, and telling
            // "never stored" from "not yours" would show other accounts' volumes.
            ApiError::NotFound(NOT_VISIBLE.to_owned())
        }
    })?;
    match <[Value; 1]>::try_from(found) {
        Ok([one]) => Ok(one),
        Err(found) if found.is_empty() => Err(ApiError::NotFound(NOT_VISIBLE.to_owned())),
        Err(found) => Ok(Value::Array(found)),
    }
}

fn visible(caller: &Caller, record: &MessageRecord) -> bool {
    match caller {
        Caller::Admin => true,
        Caller::Account(account) => *account.name == *record.account,
    }
}

/// The destination a record was sent to, from its stored request.
fn destination(record: &MessageRecord) -> Option<String> {
    match smppgate_protocol::codec::decode(Bytes::copy_from_slice(&record.request))
        .ok()?
        .body
    {
        Body::SubmitSm(submit_sm) => {
            Some(String::from_utf8_lossy(&submit_sm.destination_addr.addr).into_owned())
        }
        _ => None,
    }
}

fn with_to(mut value: Value, record: &MessageRecord) -> Value {
    value["to"] = json!(destination(record));
    value
}

/// `GET /v1/messages` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Accepted within this long (`10m`) or since this RFC 3339 time.
    since: Option<String>,
    /// `accepted`, `sent`, `delivered`, `failed`, `expired`, `rejected`, `unknown`, `held`.
    state: Option<String>,
    /// Only this destination (digits, with or without `+`).
    to: Option<String>,
    /// Only this account (admin only; an account always sees its own).
    account: Option<String>,
    /// At most this many (default 50, at most 1 000).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page. A page reads at most 10 000 messages, so
    /// with a narrow filter it may hold fewer than `limit` (even none) and still have a
    /// `next_cursor`: follow it until it is `null`.
    cursor: Option<u64>,
}

/// A `since` parameter (`10m`, an RFC 3339 time) as wall ms, or a 400 naming it.
pub(crate) fn since_param(since: &str, now_ms: u64) -> Result<u64, ApiError> {
    crate::cli::messages::parse_since(since, now_ms).map_err(|error| {
        ApiError::bad(
            "since",
            format!(
                "`{since}`: write a duration (10m, 2h) or an RFC 3339 time ({})",
                error.root_cause()
            ),
        )
    })
}

fn parse_state(text: &str) -> Option<State> {
    Some(match text {
        "accepted" => State::Accepted,
        "sent" => State::Sent,
        "delivered" => State::Delivered,
        "failed" => State::Failed,
        "expired" => State::Expired,
        "rejected" => State::Rejected,
        "unknown" => State::Unknown,
        "held" => State::Held,
        _ => return None,
    })
}

/// A page of messages, newest first, and the cursor of the next page (`null` at the end).
///
/// # Errors
/// 400 for a bad parameter; 503 on a store failure.
pub(crate) async fn list(
    store: Arc<dyn Store>,
    styles: Arc<AccountStyles>,
    caller: Caller,
    query: ListQuery,
    now_ms: u64,
) -> Result<Value, ApiError> {
    let since = query
        .since
        .as_deref()
        .map(|since| since_param(since, now_ms))
        .transpose()?;
    let state = query
        .state
        .as_deref()
        .map(|text| {
            parse_state(text).ok_or_else(|| {
                ApiError::bad(
                    "state",
                    format!("`{text}`: write accepted, sent, delivered, failed, expired, rejected, unknown or held"),
                )
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let account = match &caller {
        Caller::Account(account) => Some(account.name.to_string()),
        Caller::Admin => query.account.clone(),
    };
    let to = query.to.map(|to| to.trim_start_matches('+').to_owned());
    let cursor = query.cursor;
    super::store_read(&store, move |store| {
        let filter = ListFilter {
            since,
            account,
            state,
            limit,
        };
        let keep = |record: &MessageRecord| {
            to.as_deref().is_none_or(|to| {
                destination(record).is_some_and(|d| d.trim_start_matches('+') == to)
            })
        };
        // At most MAX_SCAN records read per page, however few match: a page may then
        // hold fewer than `limit`, with a `next_cursor` to go on from.
        let page = store.list_page(&PageRead {
            filter: &filter,
            before: cursor,
            max_scan: MAX_SCAN,
            keep: &keep,
        })?;
        let messages: Vec<Value> = page
            .records
            .iter()
            .map(|record| with_to(record_json(record, &styles.display(record)), record))
            .collect();
        Ok(json!({ "messages": messages, "next_cursor": page.next }))
    })
    .await
}
