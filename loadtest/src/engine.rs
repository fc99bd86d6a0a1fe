//! The run: binds, per-bind senders with their window, rate control, figures.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use smppgate::conn::{RequestError, Response};
use smppgate::esme::{ConnectError, EsmeClient, EsmeConfig};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::session::BindKind;
use tokio::time::Instant;

use crate::args::{Args, BindArg, Rate};
use crate::mix::{Mix, Templates};
use crate::receipts::{self, ReceiptSummary, Tracker};
use crate::timeline::Timeline;

/// Live counters, read by the progress display.
#[derive(Debug, Default)]
pub struct Live {
    /// Messages started.
    pub messages: AtomicU64,
    /// submit_sm sent.
    pub sent: AtomicU64,
    /// Responses ESME_ROK.
    pub resp_ok: AtomicU64,
    /// Responses with another status, and requests that failed.
    pub resp_err: AtomicU64,
    /// Set once every sender has finished.
    pub done: AtomicBool,
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Messages sent (a long message is several submit_sm).
    pub messages: u64,
    /// submit_sm sent.
    pub sent: u64,
    /// Responses ESME_ROK.
    pub resp_ok: u64,
    /// Responses with another status, and requests that failed.
    pub resp_err: u64,
    /// Errors by status name (or `timeout`, `closed`, …).
    pub errors: HashMap<String, u64>,
    /// From the first submit to the last response.
    pub elapsed: Duration,
    /// submit→resp latency (µs), from the intended send time in open loop.
    pub latency: Histogram<u64>,
    /// Responses per second of the run.
    pub throughput: Vec<u64>,
    /// submit→resp latency by time slot of the run (the report's latency over time).
    pub timeline: Timeline,
    /// Receipt figures, with `--receipts`.
    pub receipts: Option<ReceiptSummary>,
}

/// Shared by the senders.
struct Plan {
    args: Args,
    templates: Templates,
    mix: Mix,
    next: AtomicU64,
    live: Arc<Live>,
    tracker: Option<Arc<Tracker>>,
    t0: Instant,
}

struct SenderFigures {
    errors: HashMap<String, u64>,
    latency: Histogram<u64>,
    throughput: Vec<u64>,
    timeline: Timeline,
    last: Instant,
}

fn status_name(status: CommandStatus) -> String {
    status
        .name()
        .map_or_else(|| format!("{:#010x}", status.0), str::to_owned)
}

fn error_name(error: &RequestError) -> &'static str {
    match error {
        RequestError::Timeout { .. } => "timeout",
        RequestError::Aborted { .. } => "aborted",
        RequestError::Closed => "closed",
        RequestError::Refused(_) => "refused",
        _ => "other",
    }
}

/// Connects and binds `args.binds` sessions.
///
/// # Errors
/// The first bind that failed.
pub async fn bind_all(
    args: &Args,
) -> Result<Vec<(EsmeClient, smppgate::esme::Inbound)>, ConnectError> {
    let mut config = EsmeConfig::new(args.system_id.clone(), args.password.clone());
    config.bind = match args.bind {
        BindArg::Trx => BindKind::Transceiver,
        BindArg::Tx => BindKind::Transmitter,
    };
    config.window = args.window as usize;
    config.inbound_capacity = 4096;
    let binds = (0..args.binds).map(|_| EsmeClient::connect(&args.connect, config.clone()));
    futures::future::join_all(binds).await.into_iter().collect()
}

/// Runs the load over bound sessions and waits for receipts.
pub async fn run(
    args: &Args,
    sessions: Vec<(EsmeClient, smppgate::esme::Inbound)>,
    live: Arc<Live>,
) -> anyhow::Result<Outcome> {
    let tracker = args.receipts.then(|| Arc::new(Tracker::default()));
    let mut clients = Vec::new();
    let mut collectors = Vec::new();
    for (client, inbound) in sessions {
        clients.push(client);
        if let Some(tracker) = &tracker {
            collectors.push(tokio::spawn(receipts::collect(
                inbound,
                Arc::clone(tracker),
            )));
        } else {
            // Keep reading so that the SMSC's deliver_sm never stall the session.
            collectors.push(tokio::spawn(async move {
                let mut inbound = inbound;
                while inbound.recv().await.is_some() {}
            }));
        }
    }
    let t0 = Instant::now();
    let plan = Arc::new(Plan {
        args: args.clone(),
        templates: Templates::new(args.receipts)?,
        mix: args.mix.clone(),
        next: AtomicU64::new(0),
        live: Arc::clone(&live),
        tracker: tracker.clone(),
        t0,
    });
    let senders: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| tokio::spawn(sender(client, Arc::clone(&plan))))
        .collect();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut latency = receipts::histogram();
    let mut throughput: Vec<u64> = Vec::new();
    let mut timeline = Timeline::new();
    let mut last = t0;
    for sender in senders {
        let figures = sender.await?;
        for (name, n) in figures.errors {
            *errors.entry(name).or_default() += n;
        }
        latency.add(&figures.latency)?;
        if throughput.len() < figures.throughput.len() {
            throughput.resize(figures.throughput.len(), 0);
        }
        for (total, n) in throughput.iter_mut().zip(&figures.throughput) {
            *total += n;
        }
        timeline.merge(&figures.timeline);
        last = last.max(figures.last);
    }
    let elapsed = last.saturating_duration_since(t0);
    live.done.store(true, Ordering::Relaxed);
    let receipts = if let Some(tracker) = &tracker {
        tracker.wait(Instant::now() + args.receipt_timeout).await;
        Some(tracker.summary())
    } else {
        None
    };
    let unbinds = clients.iter().map(|client| {
        let client = client.clone();
        async move { tokio::time::timeout(Duration::from_secs(5), client.unbind()).await }
    });
    futures::future::join_all(unbinds).await;
    for collector in collectors {
        collector.abort();
    }
    Ok(Outcome {
        messages: live.messages.load(Ordering::Relaxed),
        sent: live.sent.load(Ordering::Relaxed),
        resp_ok: live.resp_ok.load(Ordering::Relaxed),
        resp_err: live.resp_err.load(Ordering::Relaxed),
        errors,
        elapsed,
        latency,
        throughput,
        timeline,
        receipts,
    })
}

/// The intended start of message `index`, or `None` when the run has no more messages.
fn claim(plan: &Plan, now: Instant) -> Option<(u64, Instant)> {
    let index = plan.next.fetch_add(1, Ordering::Relaxed);
    if plan.args.count.is_some_and(|count| index >= count) {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let intended = match plan.args.rate {
        Rate::Max => now,
        Rate::PerSecond(rate) => plan.t0 + Duration::from_secs_f64(index as f64 / rate),
    };
    if plan
        .args
        .duration
        .is_some_and(|duration| intended >= plan.t0 + duration)
    {
        return None;
    }
    Some((index, intended))
}

type Done = (Instant, Result<Response, RequestError>);

async fn sender(client: EsmeClient, plan: Arc<Plan>) -> SenderFigures {
    let window = plan.args.window as usize;
    let live = &plan.live;
    let mut figures = SenderFigures {
        errors: HashMap::new(),
        latency: receipts::histogram(),
        throughput: Vec::new(),
        timeline: Timeline::new(),
        last: plan.t0,
    };
    let mut queue: VecDeque<(SubmitSm, Instant)> = VecDeque::new();
    let mut in_flight = FuturesUnordered::new();
    let client = &client;
    let mut stopped = false;
    loop {
        let now = Instant::now();
        if queue.is_empty() && !stopped {
            if let Some((index, intended)) = claim(&plan, now) {
                let kind = plan.mix.pick(index);
                queue.extend(plan.templates.message(kind, index).map(|p| (p, intended)));
                live.messages.fetch_add(1, Ordering::Relaxed);
            } else {
                stopped = true;
            }
        }
        if queue.is_empty() && in_flight.is_empty() {
            break;
        }
        let can_send = in_flight.len() < window && !queue.is_empty();
        let ready_at = queue.front().map_or(now, |(_, at)| *at);
        if can_send && ready_at <= now {
            if let Some((submit, intended)) = queue.pop_front() {
                live.sent.fetch_add(1, Ordering::Relaxed);
                in_flight.push(async move { (intended, client.submit(submit).await) });
            }
            continue;
        }
        tokio::select! {
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                if finish(&plan, &mut figures, done) {
                    stopped = true;
                    queue.clear();
                }
            }
            () = tokio::time::sleep_until(ready_at), if can_send => {}
        }
    }
    figures
}

/// Records one response; true when the connection is gone.
fn finish(plan: &Plan, figures: &mut SenderFigures, (intended, outcome): Done) -> bool {
    let now = Instant::now();
    let latency = now.saturating_duration_since(intended);
    receipts::record(&mut figures.latency, latency);
    let since_start = now.saturating_duration_since(plan.t0);
    figures.timeline.record(since_start, latency);
    let second = usize::try_from(since_start.as_secs()).unwrap_or(0);
    if figures.throughput.len() <= second {
        figures.throughput.resize(second + 1, 0);
    }
    figures.throughput[second] += 1;
    figures.last = now;
    match outcome {
        Ok(response) if response.is_ok() => {
            plan.live.resp_ok.fetch_add(1, Ordering::Relaxed);
            if let Some(tracker) = &plan.tracker {
                if let Some(id) = response.message_id().filter(|id| !id.is_empty()) {
                    tracker.submitted(&String::from_utf8_lossy(id), intended);
                }
            }
            false
        }
        Ok(response) => {
            plan.live.resp_err.fetch_add(1, Ordering::Relaxed);
            *figures
                .errors
                .entry(status_name(response.status()))
                .or_default() += 1;
            false
        }
        Err(error) => {
            plan.live.resp_err.fetch_add(1, Ordering::Relaxed);
            *figures
                .errors
                .entry(error_name(&error).to_owned())
                .or_default() += 1;
            matches!(error, RequestError::Closed | RequestError::Aborted { .. })
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn plan(extra: &[&str]) -> Plan {
        let mut argv = vec![
            "smpp-loadtest",
            "--connect",
            "x:1",
            "--system-id",
            "a",
            "--password",
            "b",
        ];
        argv.extend_from_slice(extra);
        let args = Args::parse_from(argv);
        Plan {
            templates: Templates::new(false).unwrap(),
            mix: args.mix.clone(),
            args,
            next: AtomicU64::new(0),
            live: Arc::new(Live::default()),
            tracker: None,
            t0: Instant::now(),
        }
    }

    #[tokio::test]
    async fn open_loop_schedules_message_i_at_t0_plus_i_over_r() {
        let plan = plan(&["--rate", "1000", "--duration", "2s"]);
        let late = plan.t0 + Duration::from_secs(5);
        let mut claimed = 0;
        while let Some((index, intended)) = claim(&plan, late) {
            // The intended time, not the (late) time of claiming: coordinated omission.
            assert_eq!(intended, plan.t0 + Duration::from_millis(index));
            claimed += 1;
        }
        assert_eq!(claimed, 2000);
    }

    #[tokio::test]
    async fn closed_loop_stops_at_count() {
        let plan = plan(&["--count", "3"]);
        let now = Instant::now();
        let claimed: Vec<_> = std::iter::from_fn(|| claim(&plan, now)).collect();
        assert_eq!(claimed, [(0, now), (1, now), (2, now)]);
    }
}
