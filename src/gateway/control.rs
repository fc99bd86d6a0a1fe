//! The control socket: `smppgate suppress` changes and reads the suppression list of a
//! running gateway through it (the protocol is in
//! `policy/suppression_control.rs`, the choice in docs/adr/0007-suppression-cli.md).
//!
//! At most [`CONNECTIONS`] connections are served at a time; one more is answered
//! "busy" and closed (never queued behind a spawned task). A change is committed
//! through the group commit first and then put in force in memory, so what the operator
//! is told was done is durable; a `list` streams from the store through a bounded queue
//! at the pace the client reads.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::operations::Operations;
use super::review::{Action, HeldEntry, scan_held};
use crate::policy::suppression_control::{MAX_LINE, MAX_OPS, Reply, Request, WireEntry, WireOp};
use crate::store::{ScopeKey, StoreError};

/// Connections served at once.
const CONNECTIONS: usize = 4;

/// What the control task needs.
pub(crate) struct ControlParts {
    pub(crate) path: PathBuf,
    /// The operator's actions (shared with the admin HTTP API).
    pub(crate) ops: Arc<Operations>,
    pub(crate) tracker: TaskTracker,
    pub(crate) cancel: CancellationToken,
}

/// Binds the socket (replacing a stale one: the caller holds the store's lock).
///
/// # Errors
/// The socket cannot be created.
pub(crate) fn bind(path: &std::path::Path) -> std::io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    // Only the gateway's user may change the list.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves connections until cancelled, then removes the socket.
pub(crate) async fn run(listener: UnixListener, parts: ControlParts) {
    let parts = Arc::new(parts);
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = parts.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let mut stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "control socket accept failed");
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            let _ = write_line(&mut stream, &Reply::Error("busy: try again".into())).await;
            continue;
        };
        let parts2 = Arc::clone(&parts);
        parts.tracker.spawn(async move {
            let cancel = parts2.cancel.clone();
            tokio::select! {
                () = cancel.cancelled() => {}
                () = serve(stream, &parts2) => {}
            }
            drop(slot);
        });
    }
    let _ = std::fs::remove_file(&parts.path);
}

/// What the next request line is.
enum Line {
    /// A whole line (any bytes: the JSON parser judges them).
    Request(Vec<u8>),
    /// [`MAX_LINE`] bytes without a newline.
    TooLong,
    /// The client closed (or the read failed).
    End,
}

async fn read_request<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Line {
    let mut line = Vec::new();
    match (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await
    {
        Ok(0) | Err(_) => Line::End,
        Ok(_) if line.ends_with(b"\n") => Line::Request(line),
        Ok(n) if n as u64 == MAX_LINE as u64 => Line::TooLong,
        // The last line without its newline: the client half-closed after it.
        Ok(_) => Line::Request(line),
    }
}

async fn serve(stream: UnixStream, parts: &ControlParts) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let line = match read_request(&mut reader).await {
            Line::Request(line) => line,
            Line::End => return,
            Line::TooLong => {
                let reply = Reply::Error(format!("request longer than {MAX_LINE} bytes"));
                let _ = write_line(&mut write, &reply).await;
                return;
            }
        };
        let request: Request = match serde_json::from_slice(&line) {
            Ok(request) => request,
            Err(error) => {
                let reply = Reply::Error(format!("bad request: {error}"));
                let _ = write_line(&mut write, &reply).await;
                return;
            }
        };
        let ok = match request {
            Request::Apply(ops) => {
                let reply = apply(parts, &ops).await;
                write_line(&mut write, &reply).await
            }
            Request::Get { scope, number } => {
                let reply = get(parts, &scope, number).await;
                write_line(&mut write, &reply).await
            }
            Request::List { scope } => list(parts, scope, &mut write).await,
            Request::Held { account } => held(parts, account, &mut write).await,
            Request::Review { id, action } => {
                let reply = review(parts, id, action).await;
                write_line(&mut write, &reply).await
            }
        };
        if !ok {
            return;
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(write: &mut W, reply: &Reply) -> bool {
    let Ok(mut line) = serde_json::to_vec(reply) else {
        return false;
    };
    line.push(b'\n');
    write.write_all(&line).await.is_ok()
}

async fn apply(parts: &ControlParts, wire: &[WireOp]) -> Reply {
    if wire.len() > MAX_OPS {
        return Reply::Error(format!(
            "{} ops in one request (most {MAX_OPS})",
            wire.len()
        ));
    }
    let mut ops = Vec::with_capacity(wire.len());
    for op in wire {
        match op.to_op() {
            Ok(op) => ops.push(op),
            Err(error) => return Reply::Error(error),
        }
    }
    match parts.ops.apply_suppressions(ops).await {
        Ok(n) => {
            tracing::info!(changes = n, "suppression list changed by the CLI");
            Reply::Ok(n)
        }
        Err(error) => Reply::Error(error.to_string()),
    }
}

async fn get(parts: &ControlParts, scope: &str, number: String) -> Reply {
    let scope: ScopeKey = match scope.parse() {
        Ok(scope) => scope,
        Err(error) => return Reply::Error(error),
    };
    let store = Arc::clone(&parts.ops.store);
    match tokio::task::spawn_blocking(move || store.suppression(&scope, &number)).await {
        Ok(Ok(entry)) => Reply::Entry(entry.as_ref().map(WireEntry::from)),
        Ok(Err(error)) => Reply::Error(error.to_string()),
        Err(error) => Reply::Error(error.to_string()),
    }
}

/// Streams the suppression list's entries (of `scope`).
async fn list(
    parts: &ControlParts,
    scope: Option<String>,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> bool {
    let scope: Option<ScopeKey> = match scope.map(|s| s.parse()).transpose() {
        Ok(scope) => scope,
        Err(error) => return write_line(write, &Reply::Error(error)).await,
    };
    let store = Arc::clone(&parts.ops.store);
    let scan = move |visit: &mut dyn FnMut(WireEntry) -> bool| {
        store.suppressions(scope.as_ref(), &mut |entry| visit(WireEntry::from(&entry)))
    };
    stream(write, scan, |entry| Reply::Entry(Some(entry))).await
}

/// Streams the held messages (of `account`).
async fn held(
    parts: &ControlParts,
    account: Option<String>,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> bool {
    let store = Arc::clone(&parts.ops.store);
    let scan = move |visit: &mut dyn FnMut(HeldEntry) -> bool| {
        scan_held(&*store, account.as_deref(), visit)
    };
    stream(write, scan, Reply::Held).await
}

/// Writes what `scan` visits as `reply` lines, then `end` with the count: a blocking task
/// scans the store into a bounded queue, this task writes it out; a client that stops
/// reading stops the scan.
async fn stream<T: Send + 'static>(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    scan: impl FnOnce(&mut dyn FnMut(T) -> bool) -> Result<(), StoreError> + Send + 'static,
    reply: fn(T) -> Reply,
) -> bool {
    let (tx, mut rx) = mpsc::channel::<T>(256);
    let scan =
        tokio::task::spawn_blocking(move || scan(&mut |item| tx.blocking_send(item).is_ok()));
    let mut count = 0;
    while let Some(item) = rx.recv().await {
        if !write_line(write, &reply(item)).await {
            return false;
        }
        count += 1;
    }
    match scan.await {
        Ok(Ok(())) => write_line(write, &Reply::End(count)).await,
        Ok(Err(error)) => write_line(write, &Reply::Error(error.to_string())).await,
        Err(error) => write_line(write, &Reply::Error(error.to_string())).await,
    }
}

/// Has the receipt writer release or refuse a held message; a released one then goes
/// to the dispatcher.
async fn review(parts: &ControlParts, id: u64, action: Action) -> Reply {
    match parts.ops.review(id, action, "the CLI").await {
        Ok(()) => Reply::Ok(1),
        Err(error) => Reply::Error(error.to_string()),
    }
}
