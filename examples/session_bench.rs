//! In-process benchmark (issue #6 §6): our ESME against our SMSC on loopback, one
//! transceiver bind, a trivial handler returning ids; submit_sm throughput and
//! submit→submit_sm_resp latency per window size.
//!
//! `cargo run --release --example session_bench [-- COUNT [WINDOW...]]`
//! (default 500000 submits, windows 1 10 64 256; window 1 runs COUNT/10).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::smsc::{
    BindRequest, MessageId, Reply, ServerConfig, SessionInfo, SmscHandler, SmscServer,
};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Pdu, SubmitSm};
use smppgate_protocol::types::Address;

struct Ids(AtomicU64);

impl SmscHandler for Ids {
    fn authenticate(&self, _request: &BindRequest) -> Result<Bytes, CommandStatus> {
        Ok(Bytes::from_static(b"bench"))
    }

    fn submit_sm(
        &self,
        _session: &SessionInfo,
        _pdu: &Pdu,
        _submit_sm: &SubmitSm,
    ) -> Reply<MessageId> {
        let id = self.0.fetch_add(1, Ordering::Relaxed);
        Reply::Ready(Ok(Bytes::from(format!("{id:x}"))))
    }
}

struct Row {
    window: usize,
    count: u64,
    elapsed: Duration,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

async fn run(addr: &str, window: usize, count: u64) -> Row {
    let mut config = EsmeConfig::new("bench", "bench");
    config.window = window;
    let (client, _inbound) = EsmeClient::connect(addr, config).await.expect("bind");
    let submit = SubmitSm {
        source_addr: Address::international("15550001"),
        destination_addr: Address::international("15550002"),
        short_message: Bytes::from_static(
            b"benchmark message of a typical length, 60 characters long.",
        ),
        ..SubmitSm::default()
    };
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let one = |client: EsmeClient, submit: SubmitSm| async move {
        let started = Instant::now();
        let response = client.submit(submit).await.expect("response");
        assert!(response.is_ok());
        started.elapsed()
    };
    let started = Instant::now();
    let mut sent = 0_u64;
    let mut in_flight = FuturesUnordered::new();
    // Exactly `window` calls at a time: latency is the round trip, not queueing.
    while sent < count && in_flight.len() < window {
        in_flight.push(one(client.clone(), submit.clone()));
        sent += 1;
    }
    while let Some(latency) = in_flight.next().await {
        histogram.saturating_record(
            u64::try_from(latency.as_micros())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        if sent < count {
            in_flight.push(one(client.clone(), submit.clone()));
            sent += 1;
        }
    }
    let elapsed = started.elapsed();
    client.unbind().await;
    #[allow(clippy::cast_precision_loss)]
    Row {
        window,
        count,
        elapsed,
        p50_us: histogram.value_at_quantile(0.50) as f64,
        p99_us: histogram.value_at_quantile(0.99) as f64,
        max_us: histogram.max() as f64,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let windows: Vec<usize> = if args.len() > 1 {
        args[1..].iter().filter_map(|a| a.parse().ok()).collect()
    } else {
        vec![1, 10, 64, 256]
    };
    let workers = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = ServerConfig::default();
        config.conn.session.max_owed_responses = 4096;
        let server = SmscServer::bind("127.0.0.1:0", config, Arc::new(Ids(AtomicU64::new(1))))
            .await
            .expect("server");
        let addr = server.local_addr().to_string();
        // Warm-up.
        let _ = run(&addr, 64, 20_000).await;
        println!("| window | submits | elapsed (s) | submit/s | p50 (µs) | p99 (µs) | max (µs) |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for window in windows {
            let count = if window == 1 { count / 10 } else { count };
            let row = run(&addr, window, count).await;
            #[allow(clippy::cast_precision_loss)]
            let rate = row.count as f64 / row.elapsed.as_secs_f64();
            println!(
                "| {} | {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} |",
                row.window,
                row.count,
                row.elapsed.as_secs_f64(),
                rate,
                row.p50_us,
                row.p99_us,
                row.max_us
            );
        }
        server.shutdown(Duration::from_secs(5)).await;
    });
}
