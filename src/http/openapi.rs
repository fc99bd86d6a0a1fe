//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations by the same router that serves them (`utoipa-axum`), so a
//! route cannot be served without being documented.

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's frame; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "smppgate HTTP API",
        description = "Submit messages through the gateway's intake (the same checks, policy, \
                       TPS and durability as SMPP) and read the send log."
    ),
    modifiers(&BearerKey),
    security(("bearer" = []))
)]
pub(crate) struct Frame;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// One destination's result.
#[derive(Serialize, ToSchema)]
pub(crate) struct MessageResult {
    /// The destination as given.
    to: String,
    /// `accepted` or `rejected`.
    status: String,
    /// Our message id (accepted), as the account's `id_style` writes it.
    id: Option<String>,
    /// Parts it goes as (accepted).
    parts: Option<u32>,
    /// Why not (rejected): an SMPP status name (`ESME_RINVDSTADR`) or a policy rule.
    code: Option<String>,
    /// The reason in words (rejected).
    reason: Option<String>,
    /// The request's `client_ref`, when it had one.
    client_ref: Option<String>,
}

/// The 202 answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct SubmitAnswer {
    /// One result per destination, in order.
    messages: Vec<MessageResult>,
}

/// A page of the send log.
#[derive(Serialize, ToSchema)]
pub(crate) struct MessagePage {
    /// Messages, newest first (each as `GET /v1/messages/{id}` shows it).
    #[schema(value_type = Vec<Object>)]
    messages: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; null at the end.
    next_cursor: Option<u64>,
}

/// Every error answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// A stable code (`bad_request`, `unauthorized`, `throttled`, …).
    error: String,
    /// What is wrong and what to do.
    message: String,
    /// The JSON path of the field to blame (400).
    field: Option<String>,
}
