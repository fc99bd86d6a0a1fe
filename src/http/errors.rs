//! The API's error answers: one JSON shape, `{"error": code, "message": text, "field":
//! path}`, with the HTTP status each case gets.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
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
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = json!({ "error": self.code(), "message": self.message() });
        if let Self::BadRequest {
            field: Some(field), ..
        } = &self
        {
            body["field"] = json!(field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
