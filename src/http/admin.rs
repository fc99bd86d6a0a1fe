//! The admin token's read endpoints: `GET /v1/stats` (the delivery statistics of
//! [`crate::stats::query`]), `GET /v1/carriers` (each carrier and its binds as the pool
//! sees them now) and `GET /v1/parked` (outbox items parked after their retries). An
//! account's key gets 403, no key or a wrong one 401.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::errors::ApiError;
use super::{Shared, json_or_error, openapi, query_params, store_read};

/// Most parked items one answer lists.
pub(crate) const MAX_PARKED: usize = 1_000;

/// Only the admin token passes.
pub(crate) fn admin(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    match shared.keys.load().caller(headers)? {
        Caller::Admin => Ok(()),
        Caller::Account(_) => Err(ApiError::Forbidden(
            "this is for the admin token (`smppgate api-key new --admin`), not an account's key"
                .to_owned(),
        )),
    }
}

/// `GET /v1/stats` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    /// Within this long (`24h`) or since this RFC 3339 time; default 24h.
    since: Option<String>,
    /// `total` (default), `account`, `route`, `carrier`, `day` or `hour`.
    by: Option<String>,
}

/// Reads `stats::query` off the async threads.
pub(crate) async fn stats_rows(
    shared: &Shared,
    since: u64,
    by: crate::stats::By,
) -> Result<Vec<crate::stats::Row>, ApiError> {
    store_read(&shared.store, move |store| {
        crate::stats::query(store, &crate::stats::Query { since, by })
    })
    .await
}

/// Delivery statistics: sent, delivered, failed, expired, refused by rule, delivery
/// rate, submit → receipt p50/p99, grouped.
#[utoipa::path(
    get,
    path = "/v1/stats",
    params(
        ("since" = Option<String>, Query, description = "Within this long (`24h`, the default) or since this RFC 3339 time"),
        ("by" = Option<String>, Query, description = "total (default), account, route, carrier, day or hour"),
    ),
    responses(
        (status = 200, description = "`{\"since\": ms, \"by\": …, \"rows\": [...]}`, rows ordered by group", body = Object),
        (status = 400, description = "A bad parameter", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn stats(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        let since_text = query.since.as_deref().unwrap_or("24h");
        let since = super::messages::since_param(since_text, shared.clock.wall_ms())?;
        let by_text = query.by.as_deref().unwrap_or("total");
        let by = <crate::stats::By as clap::ValueEnum>::from_str(by_text, false).map_err(|_| {
            ApiError::bad(
                "by",
                format!("`{by_text}`: write total, account, route, carrier, day or hour"),
            )
        })?;
        let rows = stats_rows(&shared, since, by).await?;
        Ok(json!({ "since": since, "by": by_text, "rows": rows }))
    }
    .await;
    json_or_error(result)
}

/// Each carrier and its binds now: binds up, TPS configured and allowed now, throttle state
/// (paused, refusing), window in use per bind, counters; and each route's queues.
#[utoipa::path(
    get,
    path = "/v1/carriers",
    responses(
        (status = 200, description = "`{\"carriers\": [...], \"routes\": [...]}`", body = Object),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn carriers(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    json_or_error(admin(&shared, &headers).map(|()| shared.carriers.stats()))
}

/// `GET /v1/parked` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParkedQuery {
    /// Only this account.
    account: Option<String>,
    /// At most this many (default and most: 1 000).
    limit: Option<usize>,
}

/// Receipts and MO parked after the outbox's retries, as `smppgate receipts parked`
/// lists them.
#[utoipa::path(
    get,
    path = "/v1/parked",
    params(
        ("account" = Option<String>, Query, description = "Only this account"),
        ("limit" = Option<usize>, Query, description = "At most this many (default and most 1 000)"),
    ),
    responses(
        (status = 200, description = "`{\"parked\": [...]}`", body = Object),
        (status = 400, description = "A bad parameter", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn parked(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ParkedQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        let limit = query.limit.unwrap_or(MAX_PARKED).clamp(1, MAX_PARKED);
        let items = store_read(&shared.store, move |store| {
            store.parked(query.account.as_deref(), limit)
        })
        .await?;
        let parked: Vec<Value> = items.iter().map(crate::cli::receipt::parked_json).collect();
        Ok(json!({ "parked": parked }))
    }
    .await;
    json_or_error(result)
}

/// `GET /v1/unmatched` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnmatchedQuery {
    /// The MO messages for numbers no account owns instead of the receipts.
    mo: Option<bool>,
    /// At most this many (default and most: 1 000).
    limit: Option<usize>,
}

/// Carrier receipts that matched no message (kept in the store), or (`mo=true`) the MO
/// messages for numbers no account owns, oldest first, as `smppgate receipts unmatched`
/// lists them.
#[utoipa::path(
    get,
    path = "/v1/unmatched",
    params(
        ("mo" = Option<bool>, Query, description = "The MO messages for numbers no account owns instead"),
        ("limit" = Option<usize>, Query, description = "At most this many (default and most 1 000)"),
    ),
    responses(
        (status = 200, description = "`{\"unmatched\": [...]}`", body = Object),
        (status = 400, description = "A bad parameter", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn unmatched(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<UnmatchedQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        let limit = query.limit.unwrap_or(MAX_PARKED).clamp(1, MAX_PARKED);
        let mo = query.mo.unwrap_or(false);
        let lines = store_read(&shared.store, move |store| {
            crate::cli::receipt::unmatched_lines(store, mo, limit)
        })
        .await?;
        Ok(json!({ "unmatched": lines }))
    }
    .await;
    json_or_error(result)
}
