//! The accept loop of the HTTP API: HTTP/1.1 and HTTP/2 (prior knowledge) on one port,
//! bounded connections (and streams on each), a deadline for each request's headers, a
//! limit on failed authentications per source address, and a graceful stop.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    let connections = tokio_util::task::TaskTracker::new();
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
        let app = hyper_util::service::TowerToHyperService::new(services.app.clone());
        let submit = services.submit.clone();
        let (failures, address) = (Arc::clone(&failures), peer.ip());
        // Ends this connection gracefully: the gateway stops, or its client is over the
        // failed-authentication limit.
        let closing = cancel.child_token();
        // In an Arc: a token's clone takes its tree's lock, an Arc's is one atomic add.
        let limited = Arc::new(closing.clone());
        // Requests started on this connection (HTTP/2's idle check reads it).
        let started = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&started);
        let service = hyper::service::service_fn(move |request| {
            counter.fetch_add(1, Ordering::Relaxed);
            let answer = if is_submit(&request) {
                futures::future::Either::Left(submit.clone().oneshot(request))
            } else {
                futures::future::Either::Right(app.call(request))
            };
            let (failures, limited) = (Arc::clone(&failures), Arc::clone(&limited));
            async move {
                let response = answer.await?;
                Ok::<_, std::convert::Infallible>(counted(response, &failures, address, &limited))
            }
        });
        let header_timeout = limits.header_timeout;
        // Bounded by the permits: one task per open connection, at most `connections`
        // (and, on HTTP/2, one per stream, at most `MAX_STREAMS` on each).
        connections.spawn(async move {
            let mut stream = Prefixed::new(stream);
            // A client that has not said anything yet does not hold the stop up.
            let version = tokio::select! {
                version = version(&mut stream, header_timeout) => version,
                () = closing.cancelled() => None,
            };
            match version {
                None => {}
                Some(Version::Http1) => {
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(header_timeout);
                    let io = hyper_util::rt::TokioIo::new(stream);
                    // hyper closes an idle one itself (its header timeout runs while it
                    // waits for the next request).
                    drive(builder.serve_connection(io, service), closing).await;
                }
                Some(Version::Http2) => {
                    let builder = http2_builder();
                    let io = hyper_util::rt::TokioIo::new(stream);
                    // A task of its own, so that its timer is not polled at each of the
                    // connection's many wake-ups; it ends with the connection.
                    let watch = tokio::spawn(idle(started, header_timeout, closing.clone()));
                    drive(builder.serve_connection(io, service), closing).await;
                    watch.abort();
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection's `closing` is a child of `cancel`: each finishes the requests it
    // is serving, then ends.
    connections.close();
    connections.wait().await;
}

/// Serves `connection` until it ends; once `closing` is cancelled, lets it finish what
/// it is serving and ends it (HTTP/1.1: after the answer under way; HTTP/2: a GOAWAY, the
/// open streams answered).
async fn drive<C>(connection: C, closing: CancellationToken)
where
    C: hyper_util::server::graceful::GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // The connection first: it is what wakes the task, nearly every time.
        biased;
        _ = connection.as_mut() => return,
        () = closing.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Http1,
    /// HTTP/2 with prior knowledge (h2c): what a TLS-terminating proxy (Envoy, nginx's
    /// `grpc_pass`, HAProxy `proto h2`) or a multiplexing client sends upstream.
    Http2,
}

/// The HTTP/2 connection preface (RFC 9113 §3.4), the first bytes an HTTP/2 client sends.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Streams one HTTP/2 connection may have open at once (nginx's default is 128).
const MAX_STREAMS: u32 = 128;

/// What a client may send ahead of the handlers on an HTTP/2 connection: a stream's
/// window and the whole connection's (a submit's body is a few KiB; a larger one flows
/// as the handler reads it). With `http.max_connections` they bound what the HTTP/2
/// connections hold in memory.
const STREAM_WINDOW: u32 = 256 * 1024;
const CONNECTION_WINDOW: u32 = 512 * 1024;

/// Which protocol the client speaks, from its first bytes (kept in `stream` for hyper to
/// read again): HTTP/2 when they are the preface, HTTP/1.1 as soon as they are not.
/// `None` when the connection closes first or the bytes do not come within `within` (a
/// client that connects and sends nothing is cut off like a slow header). hyper's header
/// timeout starts again once HTTP/1.1 is told: a client that sends "P", waits, then the
/// rest of its head slowly has at most twice `http.header_timeout`.
async fn version(stream: &mut Prefixed, within: Duration) -> Option<Version> {
    use tokio::io::AsyncReadExt as _;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let Prefixed {
            head, len, stream, ..
        } = stream;
        let n = tokio::time::timeout_at(deadline, stream.read(&mut head[*len..]))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        *len += n;
        if !PREFACE.starts_with(&head[..*len]) {
            return Some(Version::Http1);
        }
        if *len == PREFACE.len() {
            return Some(Version::Http2);
        }
    }
}

/// A connection whose first bytes were read to tell its protocol: they are read again
/// first, then the socket (a few octets, no copy of anything else).
struct Prefixed {
    head: [u8; PREFACE.len()],
    len: usize,
    /// How much of `head` was read again.
    at: usize,
    stream: tokio::net::TcpStream,
}

impl Prefixed {
    fn new(stream: tokio::net::TcpStream) -> Self {
        Self {
            head: [0; PREFACE.len()],
            len: 0,
            at: 0,
            stream,
        }
    }
}

impl tokio::io::AsyncRead for Prefixed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.at < this.len {
            let n = buf.remaining().min(this.len - this.at);
            buf.put_slice(&this.head[this.at..this.at + n]);
            this.at += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Prefixed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The HTTP/2 side's settings: bounded streams, windows and headers, the reset-flood
/// guards (CVE-2023-44487) at h2's defaults, and a ping that closes a connection whose
/// peer is gone.
fn http2_builder() -> hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor> {
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Cancels `closing` once no request started in a whole `period` (checked every
/// `period`): an idle HTTP/2 connection is closed as hyper closes an idle HTTP/1.1 one
/// after its header timeout, so that idle connections do not hold `http.max_connections`
/// for good.
async fn idle(started: Arc<AtomicU64>, period: Duration, closing: CancellationToken) {
    let mut seen = started.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(period).await;
        let now = started.load(Ordering::Relaxed);
        if now == seen {
            closing.cancel();
            return;
        }
        seen = now;
    }
}

/// The `status` label of `smppgate_http_responses_total`: the codes the API answers, each
/// a static string (no allocation per request); anything else is `other`.
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        202 => "202",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// A `401` is counted against its source address; over the address's limit it becomes a
/// `429` that closes the connection (the flooder pays a new connection for its next
/// tries: on HTTP/1.1 the answer says `Connection: close`; on HTTP/2, where that header
/// does not exist, `limited` ends the connection with a GOAWAY). Every other answer
/// passes untouched. Each answer is counted in `smppgate_http_responses_total{status}`.
fn counted(
    response: Response,
    failures: &AuthFailures,
    address: IpAddr,
    limited: &CancellationToken,
) -> Response {
    metrics::counter!("smppgate_http_responses_total", "status" => status_label(response.status()))
        .increment(1);
    if response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    match failures.failed(address) {
        Verdict::Unauthorized => response,
        Verdict::Limited => {
            limited.cancel();
            super::errors::too_many_failures()
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    /// A connection and the server's end of it.
    async fn pair() -> (tokio::net::TcpStream, Prefixed) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        (client, Prefixed::new(listener.accept().await.unwrap().0))
    }

    /// The first bytes decide, however they are split, and are read again whole: a
    /// request that starts like the preface ("P" of POST) is HTTP/1.1 once a byte differs;
    /// the whole preface is HTTP/2; part of the preface and nothing more, or nothing at
    /// all, is no protocol once the time is up.
    #[tokio::test]
    async fn the_first_bytes_tell_the_protocol() {
        use tokio::io::AsyncReadExt as _;

        let within = Duration::from_secs(5);
        let (mut client, mut server) = pair().await;
        client.write_all(b"P").await.unwrap();
        let told = tokio::spawn(async move {
            let told = version(&mut server, within).await;
            let mut again = [0; 20];
            server.read_exact(&mut again).await.unwrap();
            (told, again)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        client
            .write_all(b"OST /v1/messages HTTP/1.1\r\n")
            .await
            .unwrap();
        let (told, again) = told.await.unwrap();
        assert_eq!(told, Some(Version::Http1));
        assert_eq!(&again, b"POST /v1/messages HT", "read again from the start");

        let (mut client, mut server) = pair().await;
        client.write_all(&PREFACE[..10]).await.unwrap();
        let told = tokio::spawn(async move {
            let told = version(&mut server, within).await;
            let mut again = [0; PREFACE.len() + 3];
            server.read_exact(&mut again).await.unwrap();
            (told, again)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(&PREFACE[10..]).await.unwrap();
        client.write_all(b"abc").await.unwrap();
        let (told, again) = told.await.unwrap();
        assert_eq!(told, Some(Version::Http2));
        assert_eq!(&again[..PREFACE.len()], PREFACE);
        assert_eq!(&again[PREFACE.len()..], b"abc");

        let short = Duration::from_millis(100);
        let (mut client, mut server) = pair().await;
        client.write_all(&PREFACE[..10]).await.unwrap();
        assert_eq!(version(&mut server, short).await, None);
        let (_client, mut server) = pair().await;
        assert_eq!(version(&mut server, short).await, None);
        let (client, mut server) = pair().await;
        drop(client);
        assert_eq!(version(&mut server, within).await, None, "closed");
    }
}
