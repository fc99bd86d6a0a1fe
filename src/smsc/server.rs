//! [`SmscServer`]: the listener, the connection limit, and the per-connection hooks that
//! call the [`SmscHandler`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, BindResp, Body, MessageIdResp, Pdu};
use smppgate_protocol::session::{BindKind, CloseReason, Role, Session, SessionStats, Violation};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::handler::{BindRequest, Reply, SessionInfo, SmscHandler};
use super::registry::{Registry, SessionHandle};
use crate::conn::driver::{self, Channels, Handling, Hooks, Setup};
use crate::conn::{ConnConfig, Link, TlsServerConfig, TlsSetupError, empty_response};
use crate::shutdown::{Shutdown, ShutdownSignal};

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Most connections at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// Per-connection settings (window for deliver_sm, timers, TCP_NODELAY).
    pub conn: ConnConfig,
    /// TLS, when wanted.
    pub tls: Option<TlsServerConfig>,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            conn: ConnConfig::default(),
            tls: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause (in the message, so not also a `source()`: printed once).
        cause: std::io::Error,
    },
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(#[from] TlsSetupError),
    /// A session setting cannot work.
    #[error("invalid session settings: {0}")]
    Config(#[from] smppgate_protocol::session::ConfigError),
}

/// A running SMSC server.
#[derive(Debug)]
pub struct SmscServer {
    local_addr: SocketAddr,
    registry: Arc<Registry>,
    shutdown: Shutdown,
    connections: Arc<Semaphore>,
    max_connections: u32,
    accept: JoinHandle<()>,
}

impl SmscServer {
    /// Listens on `addr` (port 0 picks one: see [`SmscServer::local_addr`]) and serves
    /// every connection with `handler`.
    ///
    /// # Errors
    /// [`ServerError`] when the socket cannot be bound or TLS files cannot be loaded.
    pub async fn bind<H: SmscHandler>(
        addr: &str,
        config: ServerConfig,
        handler: Arc<H>,
    ) -> Result<Self, ServerError> {
        config.conn.session.validate()?;
        let acceptor = config
            .tls
            .as_ref()
            .map(TlsServerConfig::acceptor)
            .transpose()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|cause| ServerError::Listen {
                addr: addr.to_owned(),
                cause,
            })?;
        let local_addr = listener.local_addr().map_err(|cause| ServerError::Listen {
            addr: addr.to_owned(),
            cause,
        })?;
        let shutdown = Shutdown::new();
        let registry = Arc::new(Registry::default());
        let max_connections =
            u32::try_from(config.max_connections.clamp(1, 1 << 20)).unwrap_or(1 << 20);
        let connections = Arc::new(Semaphore::new(max_connections as usize));
        let accept = tokio::spawn(accept_loop(
            listener,
            Arc::new(config),
            acceptor,
            handler,
            Arc::clone(&registry),
            Arc::clone(&connections),
            shutdown.signal(),
        ));
        Ok(Self {
            local_addr,
            registry,
            shutdown,
            connections,
            max_connections,
            accept,
        })
    }

    /// The address actually listened on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound sessions.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Connections open now.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.max_connections as usize - self.connections.available_permits()
    }

    /// Stops accepting, unbinds every session gracefully, and waits (up to `grace`) for
    /// all connections to close. Returns whether they all did. (Dropping the server also
    /// stops it, without waiting.)
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.shutdown.trigger();
        self.accept.abort();
        let all_closed = async {
            let _ = self.connections.acquire_many(self.max_connections).await;
        };
        tokio::time::timeout(grace, all_closed).await.is_ok()
    }
}

impl Drop for SmscServer {
    fn drop(&mut self) {
        self.shutdown.trigger();
        self.accept.abort();
    }
}

async fn accept_loop<H: SmscHandler>(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    acceptor: Option<TlsAcceptor>,
    handler: Arc<H>,
    registry: Arc<Registry>,
    connections: Arc<Semaphore>,
    mut shutdown: ShutdownSignal,
) {
    let next_id = AtomicU64::new(1);
    loop {
        let accepted = tokio::select! {
            () = shutdown.wait() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer_addr) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tracing::warn!(%peer_addr, "connection limit reached: closing");
            drop(tcp);
            continue;
        };
        let connection_id = next_id.fetch_add(1, Ordering::Relaxed);
        let config = Arc::clone(&config);
        let acceptor = acceptor.clone();
        let handler = Arc::clone(&handler);
        let registry = Arc::clone(&registry);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve(
                tcp,
                peer_addr,
                connection_id,
                &config,
                acceptor,
                handler,
                registry,
                shutdown,
            )
            .await;
            drop(permit);
        });
    }
}

// Everything one connection needs; a struct for them would only rename the arguments.
#[allow(clippy::too_many_arguments)]
async fn serve<H: SmscHandler>(
    tcp: TcpStream,
    peer_addr: SocketAddr,
    connection_id: u64,
    config: &ServerConfig,
    acceptor: Option<TlsAcceptor>,
    handler: Arc<H>,
    registry: Arc<Registry>,
    shutdown: ShutdownSignal,
) {
    if let Err(error) = tcp.set_nodelay(config.conn.nodelay) {
        tracing::debug!(%error, "TCP_NODELAY");
    }
    let origin = Instant::now();
    let session = Session::new(Role::Smsc, config.conn.session.clone(), 0);
    let channels = Channels::new(config.conn.session.window_size);
    let hooks = SmscHooks {
        handler,
        registry,
        link: channels.link(),
        peer_addr,
        connection_id,
        info: None,
        bound: false,
    };
    let setup = Setup {
        session,
        origin,
        channels,
        inbound: None,
        hooks,
        shutdown,
    };
    let task = if let Some(acceptor) = acceptor {
        let stream =
            match tokio::time::timeout(config.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%peer_addr, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer_addr, "TLS handshake timed out");
                    return;
                }
            };
        let (reader, writer) = tokio::io::split(stream);
        driver::spawn(reader, writer, &config.conn, setup)
    } else {
        let (reader, writer) = tcp.into_split();
        driver::spawn(reader, writer, &config.conn, setup)
    };
    let _ = task.await;
}

struct SmscHooks<H> {
    handler: Arc<H>,
    registry: Arc<Registry>,
    link: Link,
    peer_addr: SocketAddr,
    connection_id: u64,
    info: Option<Arc<SessionInfo>>,
    bound: bool,
}

/// `(status, body)` of a handler's result: the body on success, the empty `_resp` on error.
fn answer<T>(
    result: Result<T, CommandStatus>,
    ok: impl FnOnce(T) -> Body,
    empty: impl FnOnce() -> Body,
) -> (CommandStatus, Body) {
    match result {
        Ok(value) => (CommandStatus::ESME_ROK, ok(value)),
        Err(status) => (status, empty()),
    }
}

fn handling<T: Send + 'static>(
    reply: Reply<T>,
    ok: fn(T) -> Body,
    empty: fn() -> Body,
) -> Handling {
    match reply {
        Reply::Ready(result) => {
            let (status, body) = answer(result, ok, empty);
            Handling::Answer(status, body)
        }
        Reply::Later(future) => {
            Handling::Later(Box::pin(async move { answer(future.await, ok, empty) }))
        }
        Reply::Silence => Handling::Silence,
    }
}

impl<H: SmscHandler> Hooks for SmscHooks<H> {
    fn bind_requested(&mut self, kind: BindKind, bind: &Bind) -> Result<BindResp, CommandStatus> {
        let request = BindRequest {
            kind,
            bind: bind.clone(),
            peer_addr: self.peer_addr,
            connection_id: self.connection_id,
        };
        let system_id = self.handler.authenticate(&request)?;
        self.info = Some(Arc::new(SessionInfo {
            connection_id: self.connection_id,
            system_id: bind.system_id.clone(),
            kind,
            peer_addr: self.peer_addr,
        }));
        Ok(BindResp {
            system_id,
            ..BindResp::default()
        })
    }

    fn bound(&mut self, _kind: BindKind, _system_id: &Bytes) {
        if let Some(info) = &self.info {
            self.bound = true;
            let handle = SessionHandle::new(Arc::clone(info), self.link.clone());
            self.registry.insert(handle.clone());
            self.handler.on_bound(&handle);
        }
    }

    fn request(&mut self, pdu: &Pdu) -> Handling {
        let Some(info) = self.info.as_deref() else {
            // The session only hands requests over once bound.
            return Handling::Answer(
                CommandStatus::ESME_RINVBNDSTS,
                empty_response(pdu.command_id()),
            );
        };
        match &pdu.body {
            Body::SubmitSm(submit_sm) => handling(
                self.handler.submit_sm(info, pdu, submit_sm),
                |id| Body::SubmitSmResp(MessageIdResp::new(id)),
                || Body::SubmitSmResp(MessageIdResp::default()),
            ),
            Body::DataSm(data_sm) => handling(
                self.handler.data_sm(info, pdu, data_sm),
                |id| Body::DataSmResp(MessageIdResp::new(id)),
                || Body::DataSmResp(MessageIdResp::default()),
            ),
            Body::SubmitMulti(submit_multi) => handling(
                self.handler.submit_multi(info, pdu, submit_multi),
                Body::SubmitMultiResp,
                || Body::empty(smppgate_protocol::CommandId::SubmitMultiResp),
            ),
            Body::QuerySm(query_sm) => handling(
                self.handler.query_sm(info, query_sm),
                Body::QuerySmResp,
                || Body::empty(smppgate_protocol::CommandId::QuerySmResp),
            ),
            _ => {
                let empty = empty_response(pdu.command_id());
                match self.handler.other_request(info, pdu) {
                    Reply::Ready(Ok(body)) => Handling::Answer(CommandStatus::ESME_ROK, body),
                    Reply::Ready(Err(status)) => Handling::Answer(status, empty),
                    Reply::Later(future) => Handling::Later(Box::pin(async move {
                        match future.await {
                            Ok(body) => (CommandStatus::ESME_ROK, body),
                            Err(status) => (status, empty),
                        }
                    })),
                    Reply::Silence => Handling::Silence,
                }
            }
        }
    }

    fn violation(&mut self, violation: &Violation) {
        self.handler.on_violation(self.info.as_deref(), violation);
    }

    fn closed(&mut self, reason: CloseReason, stats: &SessionStats) {
        let bound = self.info.as_deref().filter(|_| self.bound);
        if let Some(info) = bound {
            self.registry.remove(info);
        } else if let Some(info) = self.info.as_deref() {
            self.handler.on_bind_abandoned(info);
        }
        self.handler.on_closed(bound, reason, stats);
    }
}
