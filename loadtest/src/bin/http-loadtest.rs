//! `http-loadtest`: drives `POST /v1/messages` with a fixed number of keep-alive
//! connections and prints one JSON line: messages/s, requests/s, latency percentiles,
//! answers by status. Used by `scripts/bench-http` next to `smpp-loadtest` through the
//! same gateway.
//!
//! A plain hyper HTTP/1.1 client, one connection per task, one request in flight on
//! each: the load generator shares the machine's cores with the gateway, so it does as
//! little per request as it can (no connection pool, the body formatted into one
//! string). A connection the server closes (a `429` with `Connection: close`) is opened
//! again. `--rate` paces the requests (open loop) instead of sending as fast as answers
//! come; `--local-address` picks the source address (127.0.0.2 for a second client on
//! loopback).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::BodyExt as _;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};

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
    accepted: AtomicU64,
    errors: AtomicU64,
    /// Answers by status; 0: no answer (the connection failed).
    statuses: Mutex<BTreeMap<u16, u64>>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
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
        accepted: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        statuses: Mutex::new(BTreeMap::new()),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(Arc::clone(&shared))))
        .collect();
    let mut latency = Histogram::<u64>::new(3)?;
    for task in tasks {
        if let Ok(h) = task.await {
            latency.add(&h)?;
        }
    }
    let seconds = shared.started.elapsed().as_secs_f64();
    let accepted = shared.accepted.load(Ordering::Relaxed);
    let statuses = shared
        .statuses
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(status, n)| {
            let name = if *status == 0 {
                "failed".to_owned()
            } else {
                status.to_string()
            };
            (name, *n)
        })
        .collect::<BTreeMap<String, u64>>();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let report = serde_json::json!({
        "connections": args.connections,
        "batch": args.batch,
        "requests": args.requests,
        "accepted": accepted,
        "errors": shared.errors.load(Ordering::Relaxed),
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

/// One connection: takes the next request number until all are sent; opens the
/// connection again when the server closed it.
async fn connection(shared: Arc<Shared>) -> Histogram<u64> {
    let mut latency = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!("3 digits"));
    let mut sender: Option<SendRequest<String>> = None;
    loop {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        if n >= shared.total {
            return latency;
        }
        if shared.rate > 0.0 {
            #[allow(clippy::cast_precision_loss)] // request numbers far below 2^52
            let at = shared.started + Duration::from_secs_f64(n as f64 / shared.rate);
            tokio::time::sleep_until(at.into()).await;
        }
        let body = body(n, shared.batch);
        let sent = Instant::now();
        let status = match send(&shared, &mut sender, body).await {
            Ok((status, answer)) => {
                if status == 202 {
                    let ok = bytes_count(&answer, b"\"accepted\"");
                    shared.accepted.fetch_add(ok, Ordering::Relaxed);
                    if ok < shared.batch {
                        shared
                            .errors
                            .fetch_add(shared.batch - ok, Ordering::Relaxed);
                    }
                } else {
                    shared.errors.fetch_add(shared.batch, Ordering::Relaxed);
                }
                status
            }
            Err(_) => {
                sender = None;
                shared.errors.fetch_add(shared.batch, Ordering::Relaxed);
                0
            }
        };
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        let _ = latency.record(micros.max(1));
        *shared
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(status)
            .or_default() += 1;
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

/// Sends one request on the connection (opened first when there is none, or the server
/// closed it); the status and the body.
async fn send(
    shared: &Shared,
    sender: &mut Option<SendRequest<String>>,
    body: String,
) -> anyhow::Result<(u16, bytes::Bytes)> {
    if let Some(open) = sender.as_mut() {
        if open.ready().await.is_err() {
            *sender = None;
        }
    }
    let open = match sender {
        Some(open) => open,
        None => sender.insert(connect(shared).await?),
    };
    let request = hyper::Request::post("/v1/messages")
        .header(HOST, &shared.host)
        .header(AUTHORIZATION, &shared.authorization)
        .header(CONTENT_TYPE, "application/json")
        .body(body)?;
    let response = open.send_request(request).await?;
    let status = response.status().as_u16();
    let answer = response.into_body().collect().await?.to_bytes();
    Ok((status, answer))
}

async fn connect(shared: &Shared) -> anyhow::Result<SendRequest<String>> {
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
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    // Ends when the server closes the connection or `sender` is dropped: at most one per
    // connection task.
    tokio::spawn(connection);
    Ok(sender)
}

/// How often `needle` occurs in `haystack`.
fn bytes_count(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}
