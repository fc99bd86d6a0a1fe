//! `http-loadtest`: drives `POST /v1/messages` with a fixed number of keep-alive
//! connections and prints one JSON line: messages/s, requests/s, latency percentiles,
//! errors. Used by `scripts/bench-http` next to `smpp-loadtest` through the same gateway.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;

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
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(args.connections).unwrap_or(64))
        .timeout(Duration::from_secs(60))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let url = format!("{}/v1/messages", args.url.trim_end_matches('/'));
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (client, url, key) = (client.clone(), url.clone(), args.key.clone());
        let (next, accepted, errors) = (
            Arc::clone(&next),
            Arc::clone(&accepted),
            Arc::clone(&errors),
        );
        let (total, batch) = (args.requests, args.batch);
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return latency;
                }
                let to: Vec<String> = (0..batch)
                    .map(|i| format!("+86138{:08}", (n * batch + i) % 100_000_000))
                    .collect();
                let body = serde_json::json!({"to": to, "text": "Your code is 123456"}).to_string();
                let sent = Instant::now();
                let result = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match result {
                    Ok(response) if response.status().as_u16() == 202 => {
                        let text = response.bytes().await.unwrap_or_default();
                        let ok = bytes_count(&text, b"\"accepted\"");
                        accepted.fetch_add(ok, Ordering::Relaxed);
                        if ok < batch {
                            errors.fetch_add(batch - ok, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        errors.fetch_add(batch, Ordering::Relaxed);
                    }
                }
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                let _ = latency.record(micros.max(1));
            }
        }));
    }
    let mut latency = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    for task in tasks {
        if let Ok(h) = task.await {
            let _ = latency.add(&h);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let report = serde_json::json!({
        "connections": args.connections,
        "batch": args.batch,
        "requests": args.requests,
        "accepted": accepted,
        "errors": errors.load(Ordering::Relaxed),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "rate": (accepted as f64 / seconds).round(),
        "requests_rate": (args.requests as f64 / seconds).round(),
        "p50_ms": latency.value_at_quantile(0.5) as f64 / 1000.0,
        "p99_ms": latency.value_at_quantile(0.99) as f64 / 1000.0,
    });
    println!("{report}");
    ExitCode::SUCCESS
}

/// How often `needle` occurs in `haystack`.
fn bytes_count(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}
