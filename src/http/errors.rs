//! The API's error answers: one JSON shape, `{"error": code, "message": text, "field":
//! path}`, with the HTTP status each case gets.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

/// The `401` body, the same for every wrong key: built once, nothing formatted per
/// request (a flood of wrong keys costs no JSON work).
const UNAUTHORIZED_BODY: &[u8] = br#"{"error":"unauthorized","message":"send `Authorization: Bearer <key>` with a key of this gateway"}"#;
/// The `429` of an address over its failed-authentication limit.
const TOO_MANY_FAILURES_BODY: &[u8] = br#"{"error":"too_many_auth_failures","message":"too many requests with a wrong key from this address; retry later"}"#;

/// A JSON answer with a static body and these extra headers.
fn static_json(
    status: StatusCode,
    body: &'static [u8],
    headers: &[(header::HeaderName, &'static str)],
) -> Response {
    let mut response = Response::new(Body::from(Bytes::from_static(body)));
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.reserve(3);
    map.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        map.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `429`, `Retry-After: 1` and `Connection: close`: an address over its limit of failed
/// authentications (`http.auth_failures_per_second`).
pub(crate) fn too_many_failures() -> Response {
    static_json(
        StatusCode::TOO_MANY_REQUESTS,
        TOO_MANY_FAILURES_BODY,
        &[(header::RETRY_AFTER, "1"), (header::CONNECTION, "close")],
    )
}

/// Why a request was not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// 400: malformed JSON, a wrong type, an unknown field, a bad value; `field` is the
    /// JSON path (`to[3]`, `schedule_at`) when one is to blame.
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// 401: no key, or a key no account has.
    Unauthorized,
    /// 403: the key may not do this (the admin token does not send).
    Forbidden(String),
    /// 404: no such message (or not this account's).
    NotFound(String),
    /// 409: a request with this Idempotency-Key is being served now.
    Conflict(String),
    /// 413: the body is over `http.max_body`.
    TooLarge(u64),
    /// 422: the Idempotency-Key was used before for another request body.
    Unprocessable(String),
    /// 429: the account's TPS is used up; try again after this many seconds.
    TooManyRequests { retry_after: u64 },
    /// 429: the account has this many requests in flight, its window (as a bind's
    /// window full over SMPP); try again when one is answered.
    WindowFull(usize),
    /// 503: the store failed; nothing was accepted.
    Unavailable(String),
}

impl ApiError {
    pub(crate) fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub(crate) const fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } | Self::WindowFull(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "idempotency_key_in_use",
            Self::TooLarge(_) => "body_too_large",
            Self::Unprocessable(_) => "idempotency_key_reused",
            Self::TooManyRequests { .. } => "throttled",
            Self::WindowFull(_) => "window_full",
            Self::Unavailable(_) => "unavailable",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::BadRequest { message, .. }
            | Self::Forbidden(message)
            | Self::NotFound(message)
            | Self::Conflict(message)
            | Self::Unprocessable(message)
            | Self::Unavailable(message) => message.clone(),
            Self::Unauthorized => {
                "send `Authorization: Bearer <key>` with a key of this gateway".to_owned()
            }
            Self::TooLarge(max) => format!("the body is over {max} bytes (http.max_body)"),
            Self::TooManyRequests { retry_after } => {
                format!("the account's TPS is used up; retry after {retry_after} s")
            }
            Self::WindowFull(window) => format!(
                "the account has {window} requests in flight (its window × max_binds); retry when one is answered"
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self == Self::Unauthorized {
            return static_json(
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED_BODY,
                &[(header::WWW_AUTHENTICATE, "Bearer")],
            );
        }
        let status = self.status();
        let mut body = json!({ "error": self.code(), "message": self.message() });
        if let Self::BadRequest {
            field: Some(field), ..
        } = &self
        {
            body["field"] = json!(field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            Self::WindowFull(_) => Some(1),
            _ => None,
        };
        if let Some(retry_after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}
