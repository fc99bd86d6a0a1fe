//! The accept loop of the HTTP API: bounded connections, a deadline for each request's
//! headers, a limit on failed authentications per source address, and a graceful stop.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use hyper::service::Service as _;
use tokio_util::sync::CancellationToken;

use super::auth_failures::{AuthFailures, Verdict};

/// What the connections serve: `POST /v1/messages` goes straight to `submit` (the same
/// handler and layers as in `app`, without the router's per-request work), everything
/// else through the router.
pub(super) struct Services<S> {
    pub(super) app: Router,
    pub(super) submit: S,
}

/// Whether `request` is the submit endpoint's.
fn is_submit<B>(request: &hyper::Request<B>) -> bool {
    request.method() == hyper::Method::POST && request.uri().path() == "/v1/messages"
}

/// What one client may hold.
pub(super) struct Limits {
    pub(super) connections: usize,
    pub(super) header_timeout: Duration,
}

/// The accept loop: at most `limits.connections` connections (more wait in the kernel's
/// accept queue until one closes), each closed when its request headers do not arrive
/// within `limits.header_timeout`. On `cancel`, stops accepting and lets each connection
/// finish the request it is serving. (`axum::serve` has neither bound.)
pub(super) async fn serve<S>(
    listener: tokio::net::TcpListener,
    services: Services<S>,
    limits: Limits,
    failures: Arc<AuthFailures>,
    cancel: CancellationToken,
) where
    S: tower::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = Response,
            Error = std::convert::Infallible,
            Future: Send,
        > + Clone
        + Send
        + 'static,
{
    use tower::ServiceExt as _;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = cancel.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!(%error, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let app = hyper_util::service::TowerToHyperService::new(services.app.clone());
        let submit = services.submit.clone();
        let (failures, address) = (Arc::clone(&failures), peer.ip());
        let service = hyper::service::service_fn(move |request| {
            let answer = if is_submit(&request) {
                futures::future::Either::Left(submit.clone().oneshot(request))
            } else {
                futures::future::Either::Right(app.call(request))
            };
            let failures = Arc::clone(&failures);
            async move {
                let response = answer.await?;
                Ok::<_, std::convert::Infallible>(counted(response, &failures, address))
            }
        });
        let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        // Bounded by the permits: one task per open connection, at most `connections`.
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A `401` is counted against its source address; over the address's limit it becomes a
/// `429` that closes the connection (the flooder pays a new connection for its next
/// tries). Every other answer passes untouched.
fn counted(response: Response, failures: &AuthFailures, address: IpAddr) -> Response {
    if response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    match failures.failed(address) {
        Verdict::Unauthorized => response,
        Verdict::Limited => super::errors::too_many_failures(),
    }
}
