//! `http-loadtest`: drives `POST /v1/messages` with a fixed number of keep-alive
//! connections and prints one JSON line: messages/s, requests/s, latency percentiles,
//! answers by status. Used by `scripts/bench-http` next to `smpp-loadtest` through the
//! same gateway.
//!
//! A minimal HTTP/1.1 client (httparse for the answers' heads), one connection per task,
//! one request in flight on each: the load generator shares the machine's cores with the
//! gateway, so it does as little per request as it can (no connection pool, no second
//! task per connection, the request formatted into one buffer and written with one
//! system call). A connection the server closes (a `429` with `Connection: close`) is opened
//! again. `--rate` paces the requests (open loop) instead of sending as fast as answers
//! come; `--local-address` picks the source address (127.0.0.2 for a second client on
//! loopback). `--http2` speaks HTTP/2 with prior knowledge instead (the `h2` crate, one
//! task per connection), with `--streams` requests in flight on each connection.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Arguments.
#[derive(Debug, Parser)]
#[command(name = "http-loadtest")]
struct Args {
    /// Base URL of the gateway's HTTP API (`http://127.0.0.1:8080`).
    #[arg(long)]
    url: String,
    /// The account's API key.
    #[arg(long)]
    key: String,
    /// Concurrent keep-alive connections (one request in flight on each).
    #[arg(long, default_value_t = 64)]
    connections: u64,
    /// Requests to send in all.
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Numbers per request (1: single messages; up to 1 000).
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Requests per second in all (paced: request n is sent at n / rate s); 0: as fast
    /// as the answers come.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// The source address of the connections (e.g. 127.0.0.2).
    #[arg(long)]
    local_address: Option<IpAddr>,
    /// HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    #[arg(long)]
    http2: bool,
    /// With `--http2`: requests in flight on each connection (its concurrent streams).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=128))]
    streams: u64,
}

/// What every connection task shares.
struct Shared {
    addr: SocketAddr,
    host: String,
    authorization: String,
    local: Option<IpAddr>,
    total: u64,
    batch: u64,
    rate: f64,
    started: Instant,
    next: AtomicU64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let host = args
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let addr = tokio::net::lookup_host(&host)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{host}: no address"))?;
    let shared = Arc::new(Shared {
        addr,
        host,
        authorization: format!("Bearer {}", args.key),
        local: args.local_address,
        total: args.requests,
        batch: args.batch.max(1),
        rate: args.rate,
        started: Instant::now(),
        next: AtomicU64::new(0),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            let shared = Arc::clone(&shared);
            if args.http2 {
                tokio::spawn(http2::connection(shared, args.streams))
            } else {
                tokio::spawn(connection(shared))
            }
        })
        .collect();
    let mut all = Counted::new();
    for task in tasks {
        if let Ok(counted) = task.await {
            all.merge(counted);
        }
    }
    let (latency, accepted, errors) = (&all.latency, all.accepted, all.errors);
    let statuses: BTreeMap<String, u64> = all
        .statuses
        .iter()
        .map(|(&status, &n)| {
            let name = if status == 0 {
                "failed".to_owned()
            } else {
                status.to_string()
            };
            (name, n)
        })
        .collect();
    let seconds = shared.started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let report = serde_json::json!({
        "protocol": if args.http2 { "HTTP/2" } else { "HTTP/1.1" },
        "streams": if args.http2 { args.streams } else { 1 },
        "connections": args.connections,
        "batch": args.batch,
        "requests": args.requests,
        "accepted": accepted,
        "errors": errors,
        "statuses": statuses,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "rate": (accepted as f64 / seconds).round(),
        "requests_rate": (args.requests as f64 / seconds).round(),
        "p50_ms": latency.value_at_quantile(0.5) as f64 / 1000.0,
        "p99_ms": latency.value_at_quantile(0.99) as f64 / 1000.0,
    });
    println!("{report}");
    Ok(())
}

/// What one connection task counted.
struct Counted {
    latency: Histogram<u64>,
    accepted: u64,
    errors: u64,
    /// Answers by status; 0: no answer (the connection failed).
    statuses: BTreeMap<u16, u64>,
}

impl Counted {
    fn new() -> Self {
        Self {
            latency: Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!("3 digits")),
            accepted: 0,
            errors: 0,
            statuses: BTreeMap::new(),
        }
    }

    /// Counts one request's answer (`None`: it failed without one), sent at `sent`.
    fn answer(&mut self, shared: &Shared, sent: Instant, answer: Option<(u16, &[u8])>) {
        let status = match answer {
            Some((202, body)) => {
                let ok = bytes_count(body, b"\"accepted\"");
                self.accepted += ok;
                self.errors += shared.batch.saturating_sub(ok);
                202
            }
            Some((status, _)) => {
                self.errors += shared.batch;
                status
            }
            None => {
                self.errors += shared.batch;
                0
            }
        };
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        let _ = self.latency.record(micros.max(1));
        *self.statuses.entry(status).or_default() += 1;
    }

    fn merge(&mut self, other: Self) {
        let _ = self.latency.add(&other.latency);
        self.accepted += other.accepted;
        self.errors += other.errors;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }
}

/// One connection: takes the next request number until all are sent; opens the
/// connection again when the server closed it.
async fn connection(shared: Arc<Shared>) -> Counted {
    let mut counted = Counted::new();
    let mut open: Option<Exchange> = None;
    let mut request = Vec::with_capacity(512);
    while let Some(n) = shared.take().await {
        shared.request(&mut request, n);
        let sent = Instant::now();
        match send(&shared, &mut open, &request).await {
            Ok(answer) => {
                if answer.close {
                    open = None;
                }
                counted.answer(&shared, sent, Some((answer.status, &answer.body)));
            }
            Err(_) => {
                open = None;
                counted.answer(&shared, sent, None);
            }
        }
    }
    counted
}

impl Shared {
    /// The next request's number, when it is due (`--rate`); `None` once all are taken.
    async fn take(&self) -> Option<u64> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if n >= self.total {
            return None;
        }
        if self.rate > 0.0 {
            #[allow(clippy::cast_precision_loss)] // request numbers far below 2^52
            let at = self.started + Duration::from_secs_f64(n as f64 / self.rate);
            tokio::time::sleep_until(at.into()).await;
        }
        Some(n)
    }

    /// Request `n` as it goes on the wire, written into `out`.
    fn request(&self, out: &mut Vec<u8>, n: u64) {
        let body = body(n, self.batch);
        out.clear();
        let _ = write!(
            out,
            "POST /v1/messages HTTP/1.1\r\nhost: {}\r\nauthorization: {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            self.host,
            self.authorization,
            body.len()
        );
    }
}

/// The request body of request `n`: one number, or `batch` of them.
fn body(n: u64, batch: u64) -> String {
    let number = |i: u64| format!("\"+86138{:08}\"", i % 100_000_000);
    if batch == 1 {
        format!(r#"{{"to":{},"text":"Your code is 123456"}}"#, number(n))
    } else {
        let to: Vec<String> = (0..batch).map(|i| number(n * batch + i)).collect();
        format!(
            r#"{{"to":[{}],"text":"Your code is 123456"}}"#,
            to.join(",")
        )
    }
}

/// The most an answer's head may take, and its body.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One keep-alive HTTP/1.1 connection, one request at a time: the request written with
/// one `write_all`, the answer's head parsed with httparse and its body read to its
/// `Content-Length` (the gateway's answers have one; a chunked answer is an error). One
/// task per connection and no copy of the request: the generator's cost per request is
/// the two system calls and one wake-up that any HTTP/1.1 client pays.
struct Exchange {
    stream: tokio::net::TcpStream,
    /// Bytes read and not yet taken.
    read: Vec<u8>,
}

/// An answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
    /// The server closes the connection after it (`Connection: close`).
    close: bool,
}

/// Sends one request on the connection (opened first when there is none, or the server
/// closed it); its answer.
async fn send(
    shared: &Shared,
    open: &mut Option<Exchange>,
    request: &[u8],
) -> anyhow::Result<Answer> {
    let exchange = match open {
        Some(exchange) => exchange,
        None => open.insert(Exchange {
            stream: connect(shared).await?,
            read: Vec::with_capacity(4096),
        }),
    };
    exchange.stream.write_all(request).await?;
    exchange.answer().await
}

impl Exchange {
    async fn answer(&mut self) -> anyhow::Result<Answer> {
        let (head, status, length, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.read)? {
                let mut length = 0;
                let mut close = false;
                for header in response.headers.iter() {
                    if header.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(header.value)?.trim().parse()?;
                    } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                        anyhow::bail!("a chunked answer (only Content-Length is read)");
                    } else if header.name.eq_ignore_ascii_case("connection") {
                        close = header.value.eq_ignore_ascii_case(b"close");
                    }
                }
                anyhow::ensure!(length <= MAX_BODY, "an answer of {length} bytes");
                break (head, response.code.unwrap_or(0), length, close);
            }
            anyhow::ensure!(
                self.read.len() < MAX_HEAD,
                "an answer head over {MAX_HEAD} bytes"
            );
            self.fill().await?;
        };
        while self.read.len() < head + length {
            self.fill().await?;
        }
        let body = self.read[head..head + length].to_vec();
        self.read.drain(..head + length);
        Ok(Answer {
            status,
            body,
            close,
        })
    }

    /// Reads what has arrived; an error at the end of the stream.
    async fn fill(&mut self) -> anyhow::Result<()> {
        self.read.reserve(4096);
        let n = self.stream.read_buf(&mut self.read).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        Ok(())
    }
}

async fn connect(shared: &Shared) -> anyhow::Result<tokio::net::TcpStream> {
    let stream = match shared.local {
        None => tokio::net::TcpStream::connect(shared.addr).await?,
        Some(local) => {
            let socket = if local.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(local, 0))?;
            socket.connect(shared.addr).await?
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The HTTP/2 client: one connection, `streams` request loops on it, all in one task.
mod http2 {
    use std::sync::Arc;
    use std::time::Instant;

    use bytes::Bytes;

    use super::{Counted, Shared, body, connect};

    pub(super) async fn connection(shared: Arc<Shared>, streams: u64) -> Counted {
        let mut counted = Counted::new();
        let Ok(client) = open(&shared).await else {
            // Every request this connection would have sent fails.
            while shared.take().await.is_some() {
                counted.answer(&shared, Instant::now(), None);
            }
            return counted;
        };
        let loops = (0..streams).map(|_| requests(&shared, client.clone()));
        for each in futures::future::join_all(loops).await {
            counted.merge(each);
        }
        counted
    }

    async fn open(shared: &Shared) -> anyhow::Result<h2::client::SendRequest<Bytes>> {
        let stream = connect(shared).await?;
        let (client, connection) = h2::client::handshake(stream).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// One stream at a time, one request on each, until all are taken.
    async fn requests(shared: &Shared, mut client: h2::client::SendRequest<Bytes>) -> Counted {
        let mut counted = Counted::new();
        let uri = format!("http://{}/v1/messages", shared.host);
        while let Some(n) = shared.take().await {
            let sent = Instant::now();
            match exchange(shared, &mut client, &uri, n).await {
                Ok((status, body)) => counted.answer(shared, sent, Some((status, &body))),
                Err(_) => counted.answer(shared, sent, None),
            }
        }
        counted
    }

    async fn exchange(
        shared: &Shared,
        client: &mut h2::client::SendRequest<Bytes>,
        uri: &str,
        n: u64,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let body = Bytes::from(body(n, shared.batch));
        let request = http::Request::post(uri)
            .header("authorization", &shared.authorization)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(())?;
        let ready = client.clone().ready().await?;
        *client = ready;
        let (response, mut send) = client.send_request(request, false)?;
        send.send_data(body, true)?;
        let response = response.await?;
        let status = response.status().as_u16();
        let mut answer = response.into_body();
        let mut read = Vec::new();
        while let Some(chunk) = answer.data().await {
            let chunk = chunk?;
            anyhow::ensure!(
                read.len() + chunk.len() <= super::MAX_BODY,
                "an answer over {} bytes",
                super::MAX_BODY
            );
            let _ = answer.flow_control().release_capacity(chunk.len());
            read.extend_from_slice(&chunk);
        }
        Ok((status, read))
    }
}

/// How often `needle` occurs in `haystack`.
fn bytes_count(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    /// Answers split anywhere (here inside a head) and two in one read are each read
    /// whole, with their status, body and `Connection: close`; a chunked answer and a
    /// connection closed mid-answer are errors.
    #[tokio::test]
    async fn answers_are_read_whole_however_they_arrive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-le")
                .await
                .unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            stream
                .write_all(
                    b"ngth: 5\r\n\r\nhelloHTTP/1.1 429 Too Many Requests\r\n\
                      Connection: close\r\nContent-Length: 2\r\n\r\nno\
                      HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                )
                .await
                .unwrap();
        });
        let mut exchange = Exchange {
            stream: tokio::net::TcpStream::connect(addr).await.unwrap(),
            read: Vec::new(),
        };
        let first = exchange.answer().await.unwrap();
        assert_eq!(
            (first.status, &first.body[..], first.close),
            (202, &b"hello"[..], false)
        );
        let second = exchange.answer().await.unwrap();
        assert_eq!(
            (second.status, &second.body[..], second.close),
            (429, &b"no"[..], true)
        );
        assert!(exchange.answer().await.is_err(), "chunked");
        server.await.unwrap();
        let mut closed = Exchange {
            stream: {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    let _ = stream
                        .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 9\r\n\r\nhal")
                        .await;
                });
                tokio::net::TcpStream::connect(addr).await.unwrap()
            },
            read: Vec::new(),
        };
        assert!(closed.answer().await.is_err(), "closed mid-body");
    }
}
