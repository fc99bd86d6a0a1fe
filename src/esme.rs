//! The ESME side: [`EsmeClient::connect`] opens a connection, binds, and returns a client
//! to submit through the session's window plus the [`Inbound`] stream of deliver_sm /
//! data_sm the SMSC sends.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use smppgate::esme::{EsmeClient, EsmeConfig};
//! use smppgate_protocol::pdu::SubmitSm;
//! use smppgate_protocol::types::Address;
//!
//! let config = EsmeConfig::new("esme1", "secret");
//! let (client, mut inbound) = EsmeClient::connect("127.0.0.1:2775", config).await?;
//! let submit = SubmitSm {
//!     source_addr: Address::international("15550001"),
//!     destination_addr: Address::international("15550002"),
//!     short_message: "hello".into(),
//!     ..SubmitSm::default()
//! };
//! let response = client.submit(submit).await?;
//! println!("{}: {:?}", response.status(), response.message_id());
//! while let Some(request) = inbound.try_recv() {
//!     println!("delivered: {:?}", request.pdu);
//! }
//! client.unbind().await;
//! # Ok(()) }
//! ```
//!
//! A complete program: `examples/esme.rs` (`cargo run --example esme`).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, Body, DataSm, QuerySm, SubmitMulti, SubmitSm};
use smppgate_protocol::session::{
    BindKind, CloseReason, ConfigError, Role, Session, SessionConfig,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::conn::driver::{self, Channels, Handling, Hooks, Setup};
use crate::conn::{
    ConnConfig, InboundRequest, Link, RequestError, Response, TlsClientConfig, TlsSetupError,
};
use crate::shutdown::ShutdownSignal;

/// How to connect and bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsmeConfig {
    /// system_id of the bind.
    pub system_id: String,
    /// password of the bind.
    pub password: String,
    /// system_type of the bind.
    pub system_type: String,
    /// Which bind.
    pub bind: BindKind,
    /// Most requests outstanding at once (overrides `session.window_size`).
    pub window: usize,
    /// Timers (ms) and the remaining session settings.
    pub session: SessionConfig,
    /// TCP_NODELAY (default on).
    pub nodelay: bool,
    /// TLS, when the SMSC wants it.
    pub tls: Option<TlsClientConfig>,
    /// How long TCP connect plus TLS handshake may take (the bind has its own timer,
    /// `session.bind_timeout_ms`).
    pub connect_timeout: Duration,
    /// How many deliver_sm / data_sm may wait in [`Inbound`] before the socket is not read
    /// any more (the SMSC's window then holds further ones back).
    pub inbound_capacity: usize,
    /// Answer deliver_sm / data_sm with `ESME_ROK` as soon as they are handed to
    /// [`Inbound`] (default). When off, answer each with [`InboundRequest::respond`].
    pub auto_respond: bool,
}

impl EsmeConfig {
    /// A transceiver bind with these credentials and default settings (window 64).
    #[must_use]
    pub fn new(system_id: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            bind: BindKind::Transceiver,
            window: 64,
            session: SessionConfig::default(),
            nodelay: true,
            tls: None,
            connect_timeout: Duration::from_secs(10),
            inbound_capacity: 1024,
            auto_respond: true,
        }
    }
}

/// Why [`EsmeClient::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A setting cannot work.
    #[error("invalid session settings: {0}")]
    Config(#[from] ConfigError),
    /// TCP connect failed (refused, unreachable, timed out).
    #[error("cannot connect to {addr}: {cause}")]
    Connect {
        /// The address.
        addr: String,
        /// The cause (in the message, so not also a `source()`: printed once).
        cause: std::io::Error,
    },
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(#[from] TlsSetupError),
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr} failed: {cause}")]
    Handshake {
        /// The address.
        addr: String,
        /// The cause (in the message, so not also a `source()`: printed once).
        cause: std::io::Error,
    },
    /// The SMSC refused the bind.
    #[error("bind refused by {addr}: {status}")]
    BindRefused {
        /// The address.
        addr: String,
        /// The status of bind_resp (or generic_nack).
        status: CommandStatus,
    },
    /// The session closed before it was bound (no bind_resp in time, connection lost).
    #[error("bind to {addr} failed: {reason:?}")]
    Closed {
        /// The address.
        addr: String,
        /// Why it closed.
        reason: CloseReason,
    },
}

/// What the bind established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundInfo {
    /// Which bind.
    pub kind: BindKind,
    /// The SMSC's system_id from bind_resp.
    pub system_id: Bytes,
    /// The SMSC's address.
    pub peer_addr: SocketAddr,
}

/// A bound ESME session. Cheap to clone; every clone uses the same connection and window.
#[derive(Debug, Clone)]
pub struct EsmeClient {
    link: Link,
    bound: BoundInfo,
}

/// The deliver_sm / data_sm / alert_notification the SMSC sends, in order. Bounded:
/// while it is full the connection stops reading.
#[derive(Debug)]
pub struct Inbound {
    receiver: mpsc::Receiver<InboundRequest>,
}

impl Inbound {
    /// The stream of a connection task that is not an SMPP one (a CMPP/SMGP link
    /// translating to SMPP, [`crate::conn::china`]).
    pub(crate) const fn from_receiver(receiver: mpsc::Receiver<InboundRequest>) -> Self {
        Self { receiver }
    }

    /// The next request; `None` once the connection is closed and everything was taken.
    pub async fn recv(&mut self) -> Option<InboundRequest> {
        self.receiver.recv().await
    }

    /// The next request if one is waiting.
    pub fn try_recv(&mut self) -> Option<InboundRequest> {
        self.receiver.try_recv().ok()
    }
}

impl futures::Stream for Inbound {
    type Item = InboundRequest;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<InboundRequest>> {
        self.receiver.poll_recv(cx)
    }
}

struct EsmeHooks {
    bind_result: Option<oneshot::Sender<Result<Bytes, CommandStatus>>>,
    auto_respond: bool,
}

impl Hooks for EsmeHooks {
    fn bound(&mut self, _kind: BindKind, system_id: &Bytes) {
        if let Some(result) = self.bind_result.take() {
            let _ = result.send(Ok(system_id.clone()));
        }
    }

    fn bind_failed(&mut self, status: CommandStatus) {
        if let Some(result) = self.bind_result.take() {
            let _ = result.send(Err(status));
        }
    }

    fn request(&mut self, _pdu: &smppgate_protocol::pdu::Pdu) -> Handling {
        Handling::Forward {
            auto: self.auto_respond,
        }
    }
}

impl EsmeClient {
    /// Connects to `addr` (`host:port`), binds, and returns once bound.
    ///
    /// # Errors
    /// [`ConnectError`]: connection refused, TLS failure, bind refused (with the status),
    /// no bind response in time.
    pub async fn connect(addr: &str, config: EsmeConfig) -> Result<(Self, Inbound), ConnectError> {
        Self::connect_with_shutdown(addr, config, ShutdownSignal::never()).await
    }

    /// As [`EsmeClient::connect`]; the session unbinds when `shutdown` fires.
    ///
    /// # Errors
    /// As [`EsmeClient::connect`].
    pub async fn connect_with_shutdown(
        addr: &str,
        config: EsmeConfig,
        shutdown: ShutdownSignal,
    ) -> Result<(Self, Inbound), ConnectError> {
        let mut session_config = config.session.clone();
        session_config.window_size = config.window;
        session_config.validate()?;
        let connect_error = |cause| ConnectError::Connect {
            addr: addr.to_owned(),
            cause,
        };
        let connector = config
            .tls
            .as_ref()
            .map(TlsClientConfig::connector)
            .transpose()?;
        let tcp = tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| connect_error(std::io::ErrorKind::TimedOut.into()))?
            .map_err(connect_error)?;
        tcp.set_nodelay(config.nodelay).map_err(connect_error)?;
        let peer_addr = tcp.peer_addr().map_err(connect_error)?;

        let conn = ConnConfig {
            session: session_config,
            nodelay: config.nodelay,
            inbound_capacity: config.inbound_capacity,
            ..ConnConfig::default()
        };
        let origin = Instant::now();
        let mut session = Session::new(Role::Esme, conn.session.clone(), 0);
        let bind = Bind {
            system_id: Bytes::from(config.system_id.clone()),
            password: Bytes::from(config.password.clone()),
            system_type: Bytes::from(config.system_type.clone()),
            ..Bind::default()
        };
        session
            .bind(config.bind, bind, 0)
            .map_err(|error| ConnectError::Connect {
                addr: addr.to_owned(),
                cause: std::io::Error::other(error),
            })?;
        let (bind_tx, bind_rx) = oneshot::channel();
        let hooks = EsmeHooks {
            bind_result: Some(bind_tx),
            auto_respond: config.auto_respond,
        };
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_capacity.max(1));
        let channels = Channels::new(conn.session.window_size);
        let link = channels.link();
        let setup = Setup {
            session,
            origin,
            channels,
            inbound: Some(inbound_tx),
            hooks,
            shutdown,
        };
        if let Some(connector) = connector {
            let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = config
                .tls
                .as_ref()
                .map(|tls| tls.server_name(host))
                .transpose()?
                .ok_or(TlsSetupError::NoTrustAnchors)?;
            let stream = tokio::time::timeout(config.connect_timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| ConnectError::Handshake {
                    addr: addr.to_owned(),
                    cause: std::io::ErrorKind::TimedOut.into(),
                })?
                .map_err(|cause| ConnectError::Handshake {
                    addr: addr.to_owned(),
                    cause,
                })?;
            let (reader, writer) = tokio::io::split(stream);
            drop(driver::spawn(reader, writer, &conn, setup));
        } else {
            let (reader, writer) = tcp.into_split();
            drop(driver::spawn(reader, writer, &conn, setup));
        }
        match bind_rx.await {
            Ok(Ok(system_id)) => Ok((
                Self {
                    link,
                    bound: BoundInfo {
                        kind: config.bind,
                        system_id,
                        peer_addr,
                    },
                },
                Inbound {
                    receiver: inbound_rx,
                },
            )),
            Ok(Err(status)) => Err(ConnectError::BindRefused {
                addr: addr.to_owned(),
                status,
            }),
            Err(_) => Err(ConnectError::Closed {
                addr: addr.to_owned(),
                reason: link.closed().await,
            }),
        }
    }

    /// What the bind established.
    #[must_use]
    pub fn bound(&self) -> &BoundInfo {
        &self.bound
    }

    /// The handle on the connection (state, close).
    #[must_use]
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Sends a submit_sm and waits for its response, after waiting for window space.
    /// Any status comes back as a [`Response`] (throttling included: check
    /// [`Response::is_throttled`]).
    ///
    /// # Errors
    /// [`RequestError`]: see [`Link::request`].
    pub async fn submit(&self, submit_sm: SubmitSm) -> Result<Response, RequestError> {
        self.link.request(Body::SubmitSm(submit_sm)).await
    }

    /// Sends a submit_multi.
    ///
    /// # Errors
    /// As [`EsmeClient::submit`].
    pub async fn submit_multi(&self, submit_multi: SubmitMulti) -> Result<Response, RequestError> {
        self.link.request(Body::SubmitMulti(submit_multi)).await
    }

    /// Sends a data_sm.
    ///
    /// # Errors
    /// As [`EsmeClient::submit`].
    pub async fn data_sm(&self, data_sm: DataSm) -> Result<Response, RequestError> {
        self.link.request(Body::DataSm(data_sm)).await
    }

    /// Sends a query_sm.
    ///
    /// # Errors
    /// As [`EsmeClient::submit`].
    pub async fn query(&self, query_sm: QuerySm) -> Result<Response, RequestError> {
        self.link.request(Body::QuerySm(query_sm)).await
    }

    /// Sends any request the session allows (`Body` of a request).
    ///
    /// # Errors
    /// As [`EsmeClient::submit`].
    pub async fn request(&self, body: Body) -> Result<Response, RequestError> {
        self.link.request(body).await
    }

    /// Unbinds gracefully (outstanding requests get their responses first, up to the
    /// unbind timeout) and waits for the connection to close.
    pub async fn unbind(&self) -> CloseReason {
        self.link.unbind().await
    }
}
