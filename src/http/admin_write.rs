//! The admin token's operations on a running gateway: the suppression list (check, list,
//! add, remove, CSV import and export), the policies' blacklists (which lists a number,
//! reload), the review queue (list, release, refuse) and the replay of parked items.
//!
//! Each calls the same function the control socket calls ([`Operations`]), so the CLI
//! and the API cannot disagree: a change is committed before it is in force and before
//! the answer. Bounds: a list answers at most [`MAX_PAGE`] entries a page; an import is
//! at most `http.max_body` bytes (the body limit, 413) and is applied in chunks of
//! `MAX_OPS`; an export streams from the store through a bounded queue at the pace the
//! client reads.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::admin::admin;
use super::errors::ApiError;
use super::{Shared, json_or_error, openapi, query_params, store_read};
use crate::gateway::operations::OpError;
use crate::gateway::review::{Action, held_page};
use crate::policy::suppression_control::WireEntry;
use crate::store::{Op, ScopeKey, Suppression, SuppressionSource};

/// Most entries (suppressions, held messages) in one answer.
pub(crate) const MAX_PAGE: usize = 1_000;

impl From<OpError> for ApiError {
    fn from(error: OpError) -> Self {
        match error {
            OpError::Invalid(message) => Self::BadRequest {
                field: None,
                message,
            },
            OpError::NotHeld(message) => Self::Conflict(message),
            OpError::Unavailable(message) => Self::Unavailable(message),
        }
    }
}

fn scope_of(field: &str, text: &str) -> Result<ScopeKey, ApiError> {
    text.parse::<ScopeKey>()
        .map_err(|error| ApiError::bad(field, error))
}

fn number_of(shared: &Shared, field: &str, text: &str) -> Result<String, ApiError> {
    crate::numbers::normalise(text, &shared.ops.default_country)
        .map_err(|error| ApiError::bad(field, format!("`{text}`: {error}")))
}

/// `GET /v1/suppressions` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressionQuery {
    scope: Option<String>,
    number: Option<String>,
    limit: Option<usize>,
    cursor: Option<usize>,
}

/// Checks a number (with `number`: its entries, in `scope` or in every scope) or lists
/// the entries (of `scope`), a page at a time.
#[utoipa::path(
    get,
    path = "/v1/suppressions",
    params(
        ("scope" = Option<String>, Query, description = "`account:NAME`, `sender:NAME/SENDER` or `global`; none: every scope"),
        ("number" = Option<String>, Query, description = "Only this number (E.164, or national in the default country): is it suppressed, and where"),
        ("limit" = Option<usize>, Query, description = "At most this many (default and most 1 000)"),
        ("cursor" = Option<usize>, Query, description = "The previous page's next_cursor"),
    ),
    responses(
        (status = 200, description = "`{\"entries\": [{scope, number, since, source}], \"next_cursor\": n | null}`", body = Object),
        (status = 400, description = "A bad scope or number", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn suppressions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<SuppressionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        let scope = query
            .scope
            .as_deref()
            .map(|s| scope_of("scope", s))
            .transpose()?;
        let number = query
            .number
            .as_deref()
            .map(|n| number_of(&shared, "number", n))
            .transpose()?;
        let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let skip = query.cursor.unwrap_or(0);
        let (entries, more) = store_read(&shared.ops.store, move |store| {
            if let (Some(scope), Some(number)) = (&scope, &number) {
                let entry = store.suppression(scope, number)?;
                return Ok((entry.into_iter().collect::<Vec<_>>(), false));
            }
            // The store streams in key order; a page skips the earlier pages' entries
            // (an export is the way to read a whole large list).
            let mut seen = 0usize;
            let mut entries = Vec::new();
            let mut more = false;
            store.suppressions(scope.as_ref(), &mut |entry: Suppression| {
                if number.as_ref().is_some_and(|n| *n != entry.number) {
                    return true;
                }
                seen += 1;
                if seen <= skip {
                    return true;
                }
                if entries.len() == limit {
                    more = true;
                    return false;
                }
                entries.push(entry);
                true
            })?;
            Ok((entries, more))
        })
        .await?;
        let next = more.then(|| skip + entries.len());
        let entries: Vec<WireEntry> = entries.iter().map(WireEntry::from).collect();
        Ok(json!({ "entries": entries, "next_cursor": next }))
    }
    .await;
    json_or_error(result)
}

/// `POST /v1/suppressions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddSuppression {
    /// `account:NAME`, `sender:NAME/SENDER` or `global`.
    scope: String,
    /// E.164, or national in the default country.
    number: String,
}

/// Puts a number on a scope's list (source `cli`: an operator's change), durable and in
/// force before the answer.
#[utoipa::path(
    post,
    path = "/v1/suppressions",
    request_body = AddSuppression,
    responses(
        (status = 200, description = "`{\"added\": {scope, number, since, source}}`", body = Object),
        (status = 400, description = "A bad body, scope or number", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 413, description = "The body is over http.max_body", body = openapi::ErrorBody),
        (status = 503, description = "The store failed; nothing changed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn add_suppression(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let body = body_of(&shared, body)?;
        let add: AddSuppression = super::submit::parse_json(&body)?;
        let entry = Suppression {
            scope: scope_of("scope", &add.scope)?,
            number: number_of(&shared, "number", &add.number)?,
            since: shared.clock.wall_ms(),
            source: SuppressionSource::Cli,
        };
        let wire = WireEntry::from(&entry);
        shared
            .ops
            .apply_suppressions(vec![Op::Suppress(entry)])
            .await?;
        tracing::info!(scope = %wire.scope, number = %wire.number, "suppressed by the admin API");
        Ok(json!({ "added": wire }))
    }
    .await;
    json_or_error(result)
}

/// Takes a number off a scope's list (nothing when it is not there).
#[utoipa::path(
    delete,
    path = "/v1/suppressions/{scope}/{number}",
    params(
        ("scope" = String, Path, description = "`account:NAME`, `sender:NAME%2FSENDER` (the `/` percent-encoded) or `global`"),
        ("number" = String, Path, description = "E.164, or national in the default country"),
    ),
    responses(
        (status = 200, description = "`{\"removed\": bool}`: whether it was listed", body = Object),
        (status = 400, description = "A bad scope or number", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed; nothing changed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn remove_suppression(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((scope, number)): Path<(String, String)>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let scope = scope_of("scope", &scope)?;
        let number = number_of(&shared, "number", &number)?;
        let (lookup_scope, lookup_number) = (scope.clone(), number.clone());
        let listed = store_read(&shared.ops.store, move |store| {
            store.suppression(&lookup_scope, &lookup_number)
        })
        .await?
        .is_some();
        let text = format!("{scope} {number}");
        shared
            .ops
            .apply_suppressions(vec![Op::Unsuppress { scope, number }])
            .await?;
        tracing::info!(entry = %text, listed, "unsuppressed by the admin API");
        Ok(json!({ "removed": listed }))
    }
    .await;
    json_or_error(result)
}

/// `POST /v1/suppressions/import` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// The scope of lines without one.
    scope: Option<String>,
}

/// Imports a CSV (`number,scope,since,source`, as `smppgate suppress import` reads and
/// the export writes): the good lines are applied, each bad one is named by its line
/// number in the answer.
#[utoipa::path(
    post,
    path = "/v1/suppressions/import",
    params(("scope" = Option<String>, Query, description = "The scope of lines without one")),
    request_body(content = String, content_type = "text/csv", description = "`number,scope,since,source` lines (a header line is skipped)"),
    responses(
        (status = 200, description = "`{\"imported\": n, \"refused\": n, \"problems\": [\"LINE: why\", …]}` (the first 100 problems)", body = Object),
        (status = 400, description = "A bad scope", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 413, description = "The body is over http.max_body", body = openapi::ErrorBody),
        (status = 503, description = "The store failed (the chunks before stay applied; `imported` says how many)", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn import(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        let scope = query
            .scope
            .as_deref()
            .map(|s| scope_of("scope", s))
            .transpose()?;
        let body = body_of(&shared, body)?;
        let (now, country) = (shared.clock.wall_ms(), shared.ops.default_country.clone());
        // Parsed off the async threads; the chunks (at most the body's size) are then
        // applied in order.
        let (chunks, report) = tokio::task::spawn_blocking(move || {
            let mut chunks: Vec<Vec<Op>> = Vec::new();
            let report = crate::cli::suppress::import_from(
                &body[..],
                &crate::cli::suppress::ImportDefaults {
                    scope: scope.as_ref(),
                    country: &country,
                    now,
                },
                &mut |ops| {
                    chunks.push(ops.to_vec());
                    Ok(())
                },
            );
            (chunks, report)
        })
        .await
        .map_err(|_| ApiError::Unavailable("the import was cancelled".to_owned()))?;
        let report = report.map_err(|error| ApiError::BadRequest {
            field: None,
            message: format!("{error:#}"),
        })?;
        let mut imported = 0;
        for chunk in chunks {
            match shared.ops.apply_suppressions(chunk).await {
                Ok(n) => imported += n,
                Err(error) => {
                    return Err(ApiError::Unavailable(format!(
                        "{error} ({imported} imported before)"
                    )));
                }
            }
        }
        tracing::info!(
            imported,
            refused = report.refused,
            "suppressions imported by the admin API"
        );
        Ok(json!({
            "imported": imported,
            "refused": report.refused,
            "problems": report.problems,
        }))
    }
    .await;
    json_or_error(result)
}

/// `GET /v1/suppressions/export` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    scope: Option<String>,
}

/// The list (of `scope`) as CSV, streamed from the store.
#[utoipa::path(
    get,
    path = "/v1/suppressions/export",
    params(("scope" = Option<String>, Query, description = "Only this scope")),
    responses(
        (status = 200, description = "`number,scope,since,source` lines after a header (what the import reads)", content_type = "text/csv", body = String),
        (status = 400, description = "A bad scope", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn export(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let scope = match admin(&shared, &headers)
        .and_then(|()| query_params(query))
        .and_then(|q| q.scope.as_deref().map(|s| scope_of("scope", s)).transpose())
    {
        Ok(scope) => scope,
        Err(error) => return error.into_response(),
    };
    // A blocking scan writes CSV chunks into a bounded queue; a client that stops
    // reading stops the scan (the send fails once the body is dropped).
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let store = Arc::clone(&shared.ops.store);
    tokio::task::spawn_blocking(move || {
        let fresh = || csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
        let take = |writer: &mut csv::Writer<Vec<u8>>| {
            std::mem::replace(writer, fresh())
                .into_inner()
                .map(Bytes::from)
                .unwrap_or_default()
        };
        let mut buffer = fresh();
        let mut open = buffer
            .write_record(["number", "scope", "since", "source"])
            .is_ok();
        let result = store.suppressions(scope.as_ref(), &mut |entry| {
            let since = entry.since.to_string();
            let row = [
                entry.number.as_str(),
                &entry.scope.to_string(),
                &since,
                &entry.source.to_string(),
            ];
            if buffer.write_record(row).is_err() || buffer.flush().is_err() {
                open = false;
                return false;
            }
            if buffer.get_ref().len() >= 60 * 1024 {
                open = tx.blocking_send(Ok(take(&mut buffer))).is_ok();
            }
            open
        });
        if !open {
            return;
        }
        let last = match result {
            Ok(()) => Ok(take(&mut buffer)),
            // Cut the body short: the client sees a broken transfer, not a short list.
            Err(error) => {
                tracing::warn!(%error, "suppression export failed");
                Err(std::io::Error::other(error.to_string()))
            }
        };
        let _ = tx.blocking_send(last);
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"suppressions.csv\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Which policies' blacklists hold a number.
#[utoipa::path(
    get,
    path = "/v1/blacklist/{number}",
    params(("number" = String, Path, description = "E.164, or national in the default country")),
    responses(
        (status = 200, description = "`{\"number\": e164, \"blacklisted\": bool, \"policies\": [names]}`", body = Object),
        (status = 400, description = "A bad number", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn blacklisted(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let result = (|| {
        admin(&shared, &headers)?;
        let e164 = number_of(&shared, "number", &number)?;
        let policies = shared.ops.blacklisted_by(&e164);
        Ok(json!({
            "number": e164,
            "blacklisted": !policies.is_empty(),
            "policies": policies,
        }))
    })();
    json_or_error(result)
}

/// Every policy reads its blacklist files again and swaps the new list in (as SIGHUP
/// does); a policy whose files cannot be read keeps its list.
#[utoipa::path(
    post,
    path = "/v1/blacklist/reload",
    responses(
        (status = 200, description = "`{\"policies\": [{policy, ok, lines, skipped, problems | error}]}`", body = Object),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn reload_blacklists(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let reloaded = shared.ops.reload_blacklists().await;
        let answer = crate::gateway::reload::answer(&Default::default(), &reloaded);
        Ok(json!({ "policies": answer["blacklists"] }))
    }
    .await;
    json_or_error(result)
}

/// `GET /v1/review` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewQuery {
    account: Option<String>,
    limit: Option<usize>,
    cursor: Option<u64>,
}

/// Most pending records one `GET /v1/review` reads (the pending set holds every message
/// awaiting its receipt, of which few are held).
const REVIEW_SCAN: usize = 10_000;

/// The messages held for review (rule 7's `sensitive_action = "hold"`), oldest first.
#[utoipa::path(
    get,
    path = "/v1/review",
    params(
        ("account" = Option<String>, Query, description = "Only this account"),
        ("limit" = Option<usize>, Query, description = "At most this many (default and most 1 000)"),
        ("cursor" = Option<u64>, Query, description = "The previous page's next_cursor. A request reads at most 10 000 pending messages (most of them awaiting their receipts, not held): a page may hold fewer than `limit`, even none, and still have a next_cursor; follow it until it is null"),
    ),
    responses(
        (status = 200, description = "`{\"held\": [{id, account, destination, word, since}], \"next_cursor\": n | null}` (ids decimal, as `smppgate review list`)", body = Object),
        (status = 400, description = "A bad parameter", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn review_list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let (held, next) = store_read(&shared.ops.store, move |store| {
            held_page(
                store,
                query.account.as_deref(),
                query.cursor.unwrap_or(0),
                limit,
                REVIEW_SCAN,
            )
        })
        .await?;
        Ok(json!({ "held": held, "next_cursor": next }))
    }
    .await;
    json_or_error(result)
}

async fn decide(shared: &Shared, headers: &HeaderMap, id: &str, action: Action) -> Response {
    let result = async {
        admin(shared, headers)?;
        let id: u64 = id
            .parse()
            .map_err(|_| ApiError::bad("id", "the decimal id `GET /v1/review` lists"))?;
        shared.ops.review(id, action, "the admin API").await?;
        Ok(json!({ "id": id, "done": action.done() }))
    }
    .await;
    json_or_error(result)
}

/// Sends a held message (committed, then handed to the dispatcher).
#[utoipa::path(
    post,
    path = "/v1/review/{id}/release",
    params(("id" = String, Path, description = "The decimal id `GET /v1/review` lists")),
    responses(
        (status = 200, description = "`{\"id\": n, \"done\": \"released\"}`", body = Object),
        (status = 400, description = "Not a decimal id", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 409, description = "Not held (unknown, final, or not held)", body = openapi::ErrorBody),
        (status = 503, description = "The gateway is stopping", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn review_release(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    decide(&shared, &headers, &id, Action::Release).await
}

/// Ends a held message (`stat:REJECTD err:403` receipt when the client asked for one).
#[utoipa::path(
    post,
    path = "/v1/review/{id}/refuse",
    params(("id" = String, Path, description = "The decimal id `GET /v1/review` lists")),
    responses(
        (status = 200, description = "`{\"id\": n, \"done\": \"refused\"}`", body = Object),
        (status = 400, description = "Not a decimal id", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 409, description = "Not held (unknown, final, or not held)", body = openapi::ErrorBody),
        (status = 503, description = "The gateway is stopping", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn review_refuse(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    decide(&shared, &headers, &id, Action::Refuse).await
}

/// `POST /v1/parked/replay` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayQuery {
    account: String,
}

/// Queues an account's parked items again (SMPP items and webhook events), at the end of
/// its queues, as `smppgate receipts replay` does; the sinks send them at once.
#[utoipa::path(
    post,
    path = "/v1/parked/replay",
    params(("account" = String, Query, description = "The account whose parked items go back to its outbox")),
    responses(
        (status = 200, description = "`{\"account\": name, \"replayed\": n}`", body = Object),
        (status = 400, description = "No account, or an unknown one", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 503, description = "The store failed; nothing changed", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn replay(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ReplayQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        admin(&shared, &headers)?;
        let query = query_params(query)?;
        if shared
            .intake
            .accounts()
            .get(query.account.as_bytes())
            .is_none()
        {
            return Err(ApiError::bad(
                "account",
                format!("no account `{}` is configured", query.account),
            ));
        }
        let replayed = shared.ops.replay_parked(&query.account).await?;
        Ok(json!({
            "account": query.account,
            "replayed": replayed,
            // Counted up to a limit a queue; all of them were moved.
            "at_least": replayed >= crate::gateway::operations::COUNT_LIMIT,
        }))
    }
    .await;
    json_or_error(result)
}

fn set_paused(shared: &Shared, headers: &HeaderMap, name: &str, paused: bool) -> Response {
    let result = (|| {
        admin(shared, headers)?;
        let before = shared
            .carriers
            .set_paused(name, paused)
            .ok_or_else(|| ApiError::NotFound(format!("no carrier `{name}` is configured")))?;
        Ok(json!({ "carrier": name, "paused": paused, "changed": before != paused }))
    })();
    json_or_error(result)
}

/// Pauses a carrier, as Kannel's `suspend`: its binds stay up, it takes no new submit;
/// its routes send to their next carrier or keep the messages queued (on disk past the
/// lanes) as for a carrier that is down. Not kept across a restart.
#[utoipa::path(
    post,
    path = "/v1/carriers/{name}/pause",
    params(("name" = String, Path, description = "The carrier's name")),
    responses(
        (status = 200, description = "`{\"carrier\": name, \"paused\": true, \"changed\": bool}`", body = Object),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 404, description = "No such carrier", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn pause_carrier(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    set_paused(&shared, &headers, &name, true)
}

/// Resumes a paused carrier: its routes send to it again at once.
#[utoipa::path(
    post,
    path = "/v1/carriers/{name}/resume",
    params(("name" = String, Path, description = "The carrier's name")),
    responses(
        (status = 200, description = "`{\"carrier\": name, \"paused\": false, \"changed\": bool}`", body = Object),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 404, description = "No such carrier", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn resume_carrier(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    set_paused(&shared, &headers, &name, false)
}

/// Reads the configuration file again: what can change without dropping a bind is put
/// in force (accounts added, removed and changed, routes, policies and their lists, the
/// admin token, carrier TPS; see `gateway/reload.rs`), the rest is named as needing a
/// restart. A file `check-config` refuses is refused whole, nothing applied.
#[utoipa::path(
    post,
    path = "/v1/reload",
    responses(
        (status = 200, description = "`{\"applied\": [paths], \"restart_needed\": [paths], \"blacklists\": [...]}`", body = Object),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "An account's key", body = openapi::ErrorBody),
        (status = 409, description = "Started without a configuration file", body = openapi::ErrorBody),
        (status = 422, description = "The file fails check-config (`problems` lists each); nothing applied", body = openapi::ErrorBody),
    )
)]
pub(crate) async fn reload(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(error) = admin(&shared, &headers) {
        return error.into_response();
    }
    match shared.ops.reload_config().await {
        Ok((report, lists)) => {
            axum::Json(crate::gateway::reload::answer(&report, &lists)).into_response()
        }
        Err(crate::gateway::reload::ReloadError::Invalid { problems }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({
                "error": "invalid_configuration",
                "message": "the configuration fails check-config; nothing was applied",
                "problems": problems,
            })),
        )
            .into_response(),
        Err(error) => ApiError::Conflict(error.to_string()).into_response(),
    }
}

/// The body, or 413 / 400.
fn body_of(shared: &Shared, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(shared.max_body)
        } else {
            ApiError::BadRequest {
                field: None,
                message: rejection.body_text(),
            }
        }
    })
}
