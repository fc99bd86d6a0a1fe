//! Shared by the driver tests: a trivial SMSC handler, raw PDU I/O, timeouts.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionHandle, SessionInfo, SmscHandler,
    SmscServer,
};
use smppgate_protocol::codec::{FrameDecoder, encode};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use smppgate_protocol::types::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Fails the test when `future` takes longer than `seconds`.
pub async fn within<T>(seconds: u64, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {seconds}s: {what}"))
}

/// A handler issuing decimal ids; optionally answering after `delay`; counts what is
/// outstanding at the server (received, not answered) and its maximum.
#[derive(Debug, Default)]
pub struct Ids {
    pub next: AtomicU64,
    pub delay: Option<Duration>,
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    pub submits: AtomicU64,
    pub bound: Option<mpsc::Sender<SessionHandle>>,
}

impl SmscHandler for Ids {
    fn authenticate(&self, request: &BindRequest) -> Result<Bytes, CommandStatus> {
        if request.bind.password.as_ref() == b"wrong" {
            return Err(CommandStatus::ESME_RINVPASWD);
        }
        Ok(Bytes::from_static(b"test-smsc"))
    }

    fn on_bound(&self, session: &SessionHandle) {
        if let Some(bound) = &self.bound {
            let _ = bound.try_send(session.clone());
        }
    }

    fn submit_sm(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
        _submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        self.submits.fetch_add(1, Ordering::Relaxed);
        let id = Bytes::from(self.next.fetch_add(1, Ordering::Relaxed).to_string());
        match self.delay {
            None => Reply::Ready(Ok(id)),
            Some(delay) => {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let in_flight = Arc::clone(&self.in_flight);
                Reply::Later(Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok(id)
                }))
            }
        }
    }
}

/// A server with `handler` on 127.0.0.1, any port.
pub async fn server(handler: Ids, config: ServerConfig) -> (SmscServer, Arc<Ids>) {
    let handler = Arc::new(handler);
    let server = SmscServer::bind("127.0.0.1:0", config, Arc::clone(&handler))
        .await
        .expect("bind server");
    (server, handler)
}

/// A transceiver client bound to `addr`.
pub async fn client(
    addr: std::net::SocketAddr,
    configure: impl FnOnce(&mut EsmeConfig),
) -> (EsmeClient, Inbound) {
    let mut config = EsmeConfig::new("esme", "secret");
    configure(&mut config);
    within(
        10,
        "connect",
        EsmeClient::connect(&addr.to_string(), config),
    )
    .await
    .expect("connect and bind")
}

/// A submit_sm with this text.
pub fn submit(text: &str) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("15550001"),
        destination_addr: Address::international("15550002"),
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..SubmitSm::default()
    }
}

/// Raw PDU I/O over a TCP stream (for misbehaving peers).
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
    frames: FrameDecoder,
}

impl Raw {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            frames: FrameDecoder::default(),
        }
    }

    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self::new(TcpStream::connect(addr).await.expect("connect"))
    }

    /// Writes `pdus` in one write.
    pub async fn send(&mut self, pdus: &[Pdu]) {
        let mut out = BytesMut::new();
        for pdu in pdus {
            encode(pdu, &mut out).expect("encode");
        }
        self.stream.write_all(&out).await.expect("write");
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next PDU, or `None` at EOF.
    pub async fn recv(&mut self) -> Option<Pdu> {
        loop {
            if let Some(item) = self.frames.decode(&mut self.buf).expect("framing") {
                return Some(item.expect("decodable"));
            }
            let n = self.stream.read_buf(&mut self.buf).await.ok()?;
            if n == 0 {
                return None;
            }
        }
    }
}
