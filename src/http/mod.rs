//! The HTTP API: `POST /v1/messages` submits through the same intake as SMPP (checks,
//! policy, per-account TPS, durable before the answer); `GET /v1/messages[/{id}]` reads
//! the send log while the gateway runs.
//!
//! One file per concept: [`auth`] (bearer keys), [`submit`] (JSON → submit_sm),
//! [`messages`] (the send log), [`idempotency`] (`Idempotency-Key`), [`errors`] (the
//! error answers), [`webhook`] (the signed webhook sink). The router is axum with
//! tower-http layers: a body limit (`http.max_body`, 413), a timeout per request
//! (`http.request_timeout`: a slow body is cut off, 408), tracing; the accept loop is
//! ours (hyper): HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port, told
//! apart by the client's first bytes; at most `http.max_connections` connections,
//! headers within `http.header_timeout`, and `POST /v1/messages` sent past the router to
//! the same handler behind the same layers.

mod admin;
mod admin_write;
mod auth;
mod auth_failures;
mod errors;
mod idempotency;
mod listener;
mod messages;
mod openapi;
mod status_page;
mod submit;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::auth::key_hash;
use self::auth::{Caller, Keys};
use self::errors::ApiError;
use self::idempotency::{Begin, Idempotency};
use self::submit::Outcome;
use crate::cli::messages::AccountStyles;
use crate::clock::Clock;
use crate::config::{Config, HttpConfig};
use crate::gateway::ids::format_id;
use crate::gateway::intake::Intake;
use crate::store::{GroupCommit, Store};

/// How often answers over 24 h old are removed from the store.
const IDEMPOTENCY_SWEEP: Duration = Duration::from_secs(600);

/// What the HTTP stage needs, handed over by the gateway's wiring.
pub(crate) struct HttpParts {
    pub(crate) config: Arc<Config>,
    pub(crate) http: HttpConfig,
    pub(crate) intake: Arc<Intake>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) group: Arc<GroupCommit>,
    pub(crate) clock: Clock,
    /// The carrier pool, read for `GET /v1/carriers` and the status page.
    pub(crate) carriers: Arc<crate::carrier::Carriers>,
    /// The gateway's counters, read by the status page.
    pub(crate) stats: Arc<crate::gateway::Stats>,
    /// The operator's actions (the admin write endpoints).
    pub(crate) ops: Arc<crate::gateway::operations::Operations>,
}

struct Shared {
    /// Swapped whole when a reload changes API keys or the admin token.
    keys: arc_swap::ArcSwap<Keys>,
    intake: Arc<Intake>,
    store: Arc<dyn Store>,
    idempotency: Arc<Idempotency>,
    styles: Arc<AccountStyles>,
    clock: Clock,
    max_body: u64,
    carriers: Arc<crate::carrier::Carriers>,
    stats: Arc<crate::gateway::Stats>,
    started: std::time::Instant,
    rates: Arc<status_page::Rates>,
    ops: Arc<crate::gateway::operations::Operations>,
}

/// The running HTTP listener.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    server: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    sampler: JoinHandle<()>,
    keys: JoinHandle<()>,
    idempotency: Arc<Idempotency>,
    clock: Clock,
}

impl HttpServer {
    /// Reads the remembered idempotent answers, binds `http.listen` and serves.
    ///
    /// # Errors
    /// The store cannot be read, or the address cannot be bound.
    pub(crate) async fn start(parts: HttpParts) -> anyhow::Result<Self> {
        let now = parts.clock.wall_ms();
        let (idempotency, stale) = {
            let store = Arc::clone(&parts.store);
            tokio::task::spawn_blocking(move || Idempotency::load(&*store, now))
                .await
                .context("reading idempotency keys")?
                .context("reading idempotency keys")?
        };
        if !stale.is_empty() {
            parts
                .group
                .commit(stale)
                .await
                .context("removing idempotency keys over 24 h old")?;
        }
        let rates: Arc<status_page::Rates> = Arc::default();
        let shared = Arc::new(Shared {
            keys: arc_swap::ArcSwap::from_pointee(Keys::new(
                parts.intake.accounts(),
                parts.http.admin_token_hash.as_deref(),
            )),
            intake: parts.intake,
            store: Arc::clone(&parts.store),
            idempotency: Arc::new(idempotency),
            styles: Arc::new(AccountStyles::of(Some(&parts.config))),
            clock: parts.clock,
            max_body: parts.http.max_body,
            carriers: parts.carriers,
            stats: Arc::clone(&parts.stats),
            started: std::time::Instant::now(),
            rates: Arc::clone(&rates),
            ops: parts.ops,
        });
        let listener = tokio::net::TcpListener::bind(&parts.http.listen)
            .await
            .with_context(|| format!("binding http.listen {}", parts.http.listen))?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let shared_for_keys = Arc::clone(&shared);
        let max_body = usize::try_from(parts.http.max_body).unwrap_or(usize::MAX);
        let layers = layers(max_body, parts.http.request_timeout);
        let submit = submit_service(Arc::clone(&shared), &layers);
        let app = router(shared, layers);
        let server = tokio::spawn(listener::serve(
            listener,
            listener::Services { app, submit },
            listener::Limits {
                connections: parts.http.max_connections.max(1),
                header_timeout: parts.http.header_timeout,
            },
            Arc::new(auth_failures::AuthFailures::new(
                parts.http.auth_failures_per_second,
                parts.http.auth_failure_burst,
            )),
            cancel.clone(),
        ));
        let sampler = tokio::spawn(status_page::sample(
            rates,
            parts.stats,
            parts.clock,
            cancel.clone(),
        ));
        let sweeper = tokio::spawn(sweep(parts.store, parts.group, parts.clock, cancel.clone()));
        let idempotency = Arc::clone(&shared_for_keys.idempotency);
        let keys = tokio::spawn(follow_keys(shared_for_keys, cancel.clone()));
        tracing::info!(%addr, "HTTP API listening");
        Ok(Self {
            addr,
            cancel,
            server,
            sweeper,
            sampler,
            keys,
            idempotency,
            clock: parts.clock,
        })
    }

    /// What a `[cluster]` node hands the shared outbox stream's follower
    /// (`store::watch_outbox`): the idempotent answers other nodes store, so that a retry
    /// that a load balancer sends to this node gets the first answer and sends nothing.
    #[must_use]
    pub fn idempotency_follower(&self) -> crate::store::OutboxFollower {
        let (idempotency, clock) = (Arc::clone(&self.idempotency), self.clock);
        crate::store::OutboxFollower {
            account: idempotency::IDEMPOTENCY.to_owned(),
            on_item: Box::new(move |item| idempotency.learn(&item.deliver_sm, clock.wall_ms())),
        }
    }

    /// The bound address.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking connections; requests in progress finish (their messages are
    /// durable before their answer) within `grace`.
    pub async fn shutdown(self, grace: Duration) {
        self.cancel.cancel();
        let mut server = self.server;
        if tokio::time::timeout(grace, &mut server).await.is_err() {
            tracing::warn!("HTTP requests still running after the grace period: cut off");
            server.abort();
        }
        let _ = self.sweeper.await;
        let _ = self.sampler.await;
        let _ = self.keys.await;
    }
}

/// Every route with its OpenAPI description: the router and the document come from one
/// list.
fn documented() -> (Router<Arc<Shared>>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi as _;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::Frame::openapi())
        .routes(utoipa_axum::routes!(submit, list))
        .routes(utoipa_axum::routes!(show))
        .routes(utoipa_axum::routes!(openapi_json))
        .routes(utoipa_axum::routes!(admin::stats))
        .routes(utoipa_axum::routes!(admin::carriers))
        .routes(utoipa_axum::routes!(admin::parked))
        .routes(utoipa_axum::routes!(admin::unmatched))
        .routes(utoipa_axum::routes!(
            admin_write::suppressions,
            admin_write::add_suppression
        ))
        .routes(utoipa_axum::routes!(admin_write::remove_suppression))
        .routes(utoipa_axum::routes!(admin_write::import))
        .routes(utoipa_axum::routes!(admin_write::export))
        .routes(utoipa_axum::routes!(admin_write::blacklisted))
        .routes(utoipa_axum::routes!(admin_write::reload_blacklists))
        .routes(utoipa_axum::routes!(admin_write::review_list))
        .routes(utoipa_axum::routes!(admin_write::review_release))
        .routes(utoipa_axum::routes!(admin_write::review_refuse))
        .routes(utoipa_axum::routes!(admin_write::replay))
        .routes(utoipa_axum::routes!(admin_write::pause_carrier))
        .routes(utoipa_axum::routes!(admin_write::resume_carrier))
        .routes(utoipa_axum::routes!(admin_write::reload))
        .routes(utoipa_axum::routes!(status_page::status_page))
        .split_for_parts()
}

/// Runs the store read `read` off the async threads; a store failure (or the read's task
/// gone) answers 503.
pub(crate) async fn store_read<T: Send + 'static>(
    store: &Arc<dyn Store>,
    read: impl FnOnce(&dyn Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || read(&*store))
        .await
        .map_err(|_| ApiError::Unavailable("the store read was cancelled".to_owned()))?
        .map_err(|error| ApiError::Unavailable(error.to_string()))
}

/// The OpenAPI document as served.
#[must_use]
pub fn openapi_document() -> String {
    static DOCUMENT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| documented().1.to_pretty_json().unwrap_or_default());
    DOCUMENT.clone()
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", security(()), responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    json_response(StatusCode::OK, Bytes::from(openapi_document()))
}

/// The layers every request goes through, outermost first: tracing, a timeout (408), a
/// body limit (413).
type Layers = tower::ServiceBuilder<
    tower::layer::util::Stack<
        DefaultBodyLimit,
        tower::layer::util::Stack<
            tower_http::timeout::TimeoutLayer,
            tower::layer::util::Stack<
                tower_http::trace::TraceLayer<
                    tower_http::classify::SharedClassifier<
                        tower_http::classify::ServerErrorsAsFailures,
                    >,
                >,
                tower::layer::util::Identity,
            >,
        >,
    >,
>;

fn layers(max_body: usize, request_timeout: Duration) -> Layers {
    tower::ServiceBuilder::new()
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(DefaultBodyLimit::max(max_body))
}

/// Every route, each behind [`layers`].
fn router(shared: Arc<Shared>, layers: Layers) -> Router {
    documented().0.with_state(shared).layer(layers)
}

/// `POST /v1/messages` as the router serves it (the same handler behind the same
/// [`layers`]), without the router: the listener sends the hot endpoint here and spares
/// each request the router's own work (matching, and cloning and boxing the route's
/// service stack: about a tenth of a single-message request's CPU, measured).
fn submit_service(
    shared: Arc<Shared>,
    layers: &Layers,
) -> impl tower::Service<
    axum::extract::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static {
    use axum::handler::Handler as _;
    use tower::ServiceExt;
    let service = tower::Layer::layer(layers, submit.with_state(shared));
    ServiceExt::<axum::extract::Request<hyper::body::Incoming>>::map_response(service, |response| {
        response.map(axum::body::Body::new)
    })
}

/// Swaps in the key table of each configuration a reload puts in force (API keys and the
/// admin token change without a restart).
async fn follow_keys(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut configs = shared.ops.reload.subscribe();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = configs.changed() => if changed.is_err() { return },
        }
        let config = Arc::clone(&configs.borrow_and_update());
        let admin = config
            .http
            .as_ref()
            .and_then(|h| h.admin_token_hash.as_deref());
        shared.keys.store(Arc::new(Keys::of_config(
            shared.intake.accounts(),
            &config.accounts,
            admin,
        )));
        tracing::info!("HTTP keys reloaded");
    }
}

/// Removes idempotent answers over 24 h old from the store, a page at a time.
async fn sweep(
    store: Arc<dyn Store>,
    group: Arc<GroupCommit>,
    clock: Clock,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(IDEMPOTENCY_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = clock.wall_ms();
        let store = Arc::clone(&store);
        let stale =
            tokio::task::spawn_blocking(move || idempotency::stale_in_store(&*store, now, 4096))
                .await;
        let result = match stale {
            Ok(Ok(ops)) if ops.is_empty() => Ok(()),
            Ok(Ok(ops)) => group.commit(ops).await,
            Ok(Err(error)) => Err(error),
            Err(_) => return,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "removing old idempotency keys failed; tried again later");
        }
    }
}

/// The query parameters, or a 400 naming what is wrong with them.
fn query_params<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|rejection| ApiError::BadRequest {
            field: None,
            message: rejection.body_text(),
        })
}

fn json_or_error(result: Result<serde_json::Value, ApiError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Sends a message to one number or up to 1 000; answered once the accepted ones are
/// durable.
#[utoipa::path(
    post,
    path = "/v1/messages",
    request_body = submit::SubmitRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key from the same account within 24 h gets the first answer again; nothing is sent again")),
    responses(
        (status = 202, description = "One result per destination", body = openapi::SubmitAnswer),
        (status = 400, description = "Malformed JSON, a wrong type, an unknown field (`field` names it)", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 403, description = "The admin token does not send", body = openapi::ErrorBody),
        (status = 409, description = "The Idempotency-Key is being served now", body = openapi::ErrorBody),
        (status = 413, description = "The body is over http.max_body", body = openapi::ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for another body", body = openapi::ErrorBody),
        (status = 429, description = "The account's TPS is used up, or it has `window` × `max_binds` requests in flight (Retry-After)", body = openapi::ErrorBody),
        (status = 503, description = "The store failed; nothing accepted", body = openapi::ErrorBody),
    )
)]
async fn submit(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    match submit_inner(&shared, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn submit_inner(
    shared: &Shared,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    // The key before the body: a wrong key is refused without reading (or waiting for) it.
    let Caller::Account(account) = shared.keys.load().caller(request.headers())? else {
        return Err(ApiError::Forbidden(
            "the admin token reads; messages are sent with an account's key".to_owned(),
        ));
    };
    // Held until the answer, through the commit (which goes on if the client goes).
    let Some(slot) = account.http_slot() else {
        return Err(ApiError::WindowFull(account.http_window()));
    };
    let started = std::time::Instant::now();
    let key_header = request.headers().get("idempotency-key").cloned();
    let body = Bytes::from_request(request, &()).await;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(shared.max_body)
        } else {
            ApiError::BadRequest {
                field: None,
                message: rejection.body_text(),
            }
        }
    })?;
    let key = match &key_header {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|key| !key.is_empty() && key.len() <= idempotency::MAX_KEY_LEN)
                .ok_or_else(|| {
                    ApiError::bad(
                        "Idempotency-Key",
                        "1 to 255 visible ASCII characters, e.g. a UUID",
                    )
                })?,
        ),
    };
    let now = shared.clock.wall_ms();
    let claim = match key {
        None => None,
        Some(key) => match shared.idempotency.begin(&account.name, key, &body, now) {
            Begin::New(claim) => Some(claim),
            Begin::Replay { status, answer } => {
                let mut response = json_response(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED),
                    Bytes::copy_from_slice(&answer),
                );
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok(response);
            }
            Begin::InFlight => {
                return Err(ApiError::Conflict(
                    "a request with this Idempotency-Key is being served; retry when it is answered"
                        .to_owned(),
                ));
            }
            Begin::Mismatch => {
                return Err(ApiError::Unprocessable(
                    "this Idempotency-Key was used for another request body".to_owned(),
                ));
            }
        },
    };
    let request = submit::parse(&body)?;
    let prepared = submit::prepare(request, &account, now)?;
    let intake = &shared.intake;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; prepared.submit_sm.len()];
    let mut checked = Vec::new();
    for (index, submit_sm) in prepared.submit_sm.iter().enumerate() {
        match intake.check(&account, submit_sm) {
            Ok(mut one) => {
                one.set_client_ref(prepared.client_ref.clone());
                checked.push((index, one));
            }
            Err(refusal) => {
                outcomes[index] = Some(Outcome::Rejected {
                    status: refusal.status,
                    rule: refusal.rule,
                });
            }
        }
    }
    if checked.is_empty()
        && outcomes
            .iter()
            .all(|outcome| outcome.as_ref().is_some_and(busy))
    {
        return Err(ApiError::TooManyRequests { retry_after: 1 });
    }
    // Written in one commit, with the answer kept for the Idempotency-Key when there is
    // one: a crash leaves the messages and their answer both or neither (on the embedded
    // store, whose commits are atomic). The answer is built from the ids before the
    // commit; used only if the commit holds. In a task of its own, awaited: a client that
    // goes (or the request timeout's 408) while the commit runs does not stop the answer
    // being remembered, so its retry with the same key gets it and sends nothing again.
    let landing = Landing {
        intake: Arc::clone(intake),
        idempotency: Arc::clone(&shared.idempotency),
        account,
        prepared,
        outcomes,
        checked,
        claim,
        now,
        started,
        _slot: slot,
    };
    tokio::spawn(landing.run()).await.unwrap_or_else(|_| {
        Err(ApiError::Unavailable(
            "the submit did not finish".to_owned(),
        ))
    })
}

/// What a submit leaves to be written and answered (see `submit_inner`).
struct Landing {
    intake: Arc<Intake>,
    idempotency: Arc<Idempotency>,
    account: Arc<crate::gateway::accounts::Account>,
    prepared: submit::Prepared,
    outcomes: Vec<Option<Outcome>>,
    checked: Vec<(usize, crate::gateway::intake::Checked)>,
    claim: Option<idempotency::Claim>,
    now: u64,
    started: std::time::Instant,
    /// The request's place in its account's window, given back with the answer.
    _slot: crate::gateway::accounts::HttpSlot,
}

impl Landing {
    async fn run(self) -> Result<Response, ApiError> {
        let (prepared, outcomes, claim, now) = (self.prepared, self.outcomes, self.claim, self.now);
        let (indices, checked): (Vec<usize>, Vec<_>) = self.checked.into_iter().unzip();
        let part_counts: Vec<usize> = checked
            .iter()
            .map(crate::gateway::intake::Checked::part_count)
            .collect();
        let style = self.account.config.id_style;
        let (_, (answer, kept, all_busy), stored) = self
            .intake
            .persist_with(checked, |ids| {
                let mut outcomes = outcomes;
                for ((index, parts), id) in indices.iter().zip(&part_counts).zip(ids) {
                    outcomes[*index] = Some(accepted_or_not(*id, *parts, style));
                }
                let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
                // Nothing stored, each destination refused for a full backlog or a rate:
                // 429, and nothing remembered for the key (its retry must be able to send).
                if outcomes.iter().all(busy) {
                    return (Vec::new(), (Bytes::new(), false, true));
                }
                let answer = Bytes::from(submit::answer(&prepared, &outcomes));
                let stored = claim.as_ref().and_then(|claim| {
                    Idempotency::stored(claim, StatusCode::ACCEPTED.as_u16(), &answer, now)
                        .inspect_err(|error| {
                            tracing::error!(%error, "encoding an idempotent answer failed");
                        })
                        .ok()
                });
                let kept = stored.is_some();
                (stored.into_iter().collect(), (answer, kept, false))
            })
            .await;
        if all_busy {
            return Err(ApiError::TooManyRequests { retry_after: 1 });
        }
        // Only a failed commit is "nothing accepted": a destination refused on its own
        // (even ESME_RSYSERR from the cluster's shared caps) is in the answer, and the
        // others were stored and are sent.
        if !stored {
            return Err(ApiError::Unavailable(
                "the store failed; retry later (with the same Idempotency-Key)".to_owned(),
            ));
        }
        if let (Some(claim), true) = (claim, kept) {
            self.idempotency
                .remember(claim, StatusCode::ACCEPTED.as_u16(), &answer, now);
        }
        self.account.submit_latency.record(self.started.elapsed());
        Ok(json_response(StatusCode::ACCEPTED, answer))
    }
}

/// Whether a destination was refused only for now (a rate, a full backlog): a request
/// refused so for every destination is answered 429, and its key keeps nothing.
fn busy(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Rejected { status, .. } if status.is_throttle())
}

/// A destination's entry in the answer: its id in the account's style, or why not.
fn accepted_or_not(
    result: Result<u64, &crate::gateway::intake::Refusal>,
    parts: usize,
    style: crate::config::IdStyle,
) -> Outcome {
    match result {
        Ok(id) => Outcome::Accepted {
            id: format_id(id, style),
            parts,
        },
        Err(refusal) => Outcome::Rejected {
            status: refusal.status,
            rule: refusal.rule.clone(),
        },
    }
}

/// One message's life (as `smppgate messages show --json`), by the id the client got.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    params(("id" = String, Path, description = "The message id as the client received it")),
    responses(
        (status = 200, description = "The message (an array when the id reads two ways)", body = Object),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
        (status = 404, description = "No such message this key may see", body = openapi::ErrorBody),
    )
)]
async fn show(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let caller = shared.keys.load().caller(&headers)?;
        messages::show(
            Arc::clone(&shared.store),
            Arc::clone(&shared.styles),
            caller,
            id,
        )
        .await
    }
    .await;
    json_or_error(result)
}

/// The send log, newest first; an account sees its own messages, the admin token all.
#[utoipa::path(
    get,
    path = "/v1/messages",
    params(
        ("since" = Option<String>, Query, description = "Accepted within this long (`10m`) or since this RFC 3339 time"),
        ("state" = Option<String>, Query, description = "accepted, sent, delivered, failed, expired, rejected, unknown, held"),
        ("to" = Option<String>, Query, description = "Only this destination"),
        ("account" = Option<String>, Query, description = "Only this account (admin token)"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 50, at most 1 000)"),
        ("cursor" = Option<u64>, Query, description = "The previous page's next_cursor. A request reads at most 10 000 messages: with a narrow filter a page may hold fewer than `limit`, even none, and still have a next_cursor; follow it until it is null"),
    ),
    responses(
        (status = 200, description = "A page", body = openapi::MessagePage),
        (status = 400, description = "A bad parameter", body = openapi::ErrorBody),
        (status = 401, description = "No key, or a wrong one", body = openapi::ErrorBody),
    )
)]
async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<messages::ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let caller = shared.keys.load().caller(&headers)?;
        let query = query_params(query)?;
        messages::list(
            Arc::clone(&shared.store),
            Arc::clone(&shared.styles),
            caller,
            query,
            shared.clock.wall_ms(),
        )
        .await
    }
    .await;
    json_or_error(result)
}
