//! The figures as JSON, as a human summary, and as the last stdout line.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::args::Args;
use crate::engine::Outcome;

/// The percentiles reported (label, quantile).
pub const PERCENTILES: [(&str, f64); 4] =
    [("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999)];

/// Milliseconds, 3 decimals, from µs.
#[allow(clippy::cast_precision_loss)]
fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// A histogram's percentiles in ms (`p50_ms`, …, `max_ms`, `mean_ms`, `count`).
#[must_use]
pub fn percentiles(histogram: &Histogram<u64>) -> Value {
    let mut object = serde_json::Map::new();
    for (label, quantile) in PERCENTILES {
        let value = if histogram.is_empty() {
            0.0
        } else {
            ms(histogram.value_at_quantile(quantile))
        };
        object.insert(format!("{label}_ms"), json!(value));
    }
    object.insert("max_ms".into(), json!(ms(histogram.max())));
    object.insert(
        "mean_ms".into(),
        json!((histogram.mean() / 1000.0 * 1000.0).round() / 1000.0),
    );
    object.insert("count".into(), json!(histogram.len()));
    Value::Object(object)
}

/// submit_sm per second over the run.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn rate(outcome: &Outcome) -> f64 {
    let elapsed = outcome.elapsed.as_secs_f64();
    if elapsed > 0.0 {
        (outcome.sent as f64 / elapsed).round()
    } else {
        0.0
    }
}

/// The run parameters.
#[must_use]
pub fn parameters(args: &Args) -> Value {
    json!({
        "connect": args.connect,
        "system_id": args.system_id,
        "binds": args.binds,
        "bind": format!("{:?}", args.bind).to_lowercase(),
        "window": args.window,
        "count": args.count,
        "duration_s": args.duration.map(|d| d.as_secs_f64()),
        "rate": args.rate.to_string(),
        "mix": args.mix.to_string(),
        "receipts": args.receipts,
        "receipt_timeout_s": args.receipt_timeout.as_secs_f64(),
    })
}

/// Every figure.
#[must_use]
pub fn document(args: &Args, outcome: &Outcome) -> Value {
    let receipts = outcome.receipts.as_ref().map(|r| {
        json!({
            "expected": r.expected,
            "matched": r.matched,
            "unmatched": r.unmatched,
            "missing": r.missing,
            "latency": percentiles(&r.latency),
        })
    });
    #[allow(clippy::cast_precision_loss)]
    let messages_rate = if outcome.elapsed.as_secs_f64() > 0.0 {
        (outcome.messages as f64 / outcome.elapsed.as_secs_f64()).round()
    } else {
        0.0
    };
    json!({
        "parameters": parameters(args),
        "messages": outcome.messages,
        "sent": outcome.sent,
        "resp_ok": outcome.resp_ok,
        "resp_err": outcome.resp_err,
        "errors": outcome.errors,
        "elapsed_s": (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "rate": rate(outcome),
        "messages_rate": messages_rate,
        "submit_resp": percentiles(&outcome.latency),
        "receipts": receipts,
        "throughput_per_s": outcome.throughput,
        "latency_over_time": latency_over_time(outcome),
    })
}

/// submit→resp percentiles of each time slot (`t_s`: the slot's start).
#[allow(clippy::cast_precision_loss)] // µs far below 2^52
fn latency_over_time(outcome: &Outcome) -> Value {
    let slot = outcome.timeline.slot().as_secs_f64();
    let slots = outcome.timeline.slots().iter().enumerate();
    let rows: Vec<Value> = slots
        .filter(|(_, histogram)| !histogram.is_empty())
        .map(|(i, histogram)| {
            json!({
                "t_s": i as f64 * slot,
                "count": histogram.len(),
                "p50_ms": ms(histogram.value_at_quantile(0.5)),
                "p99_ms": ms(histogram.value_at_quantile(0.99)),
                "max_ms": ms(histogram.max()),
            })
        })
        .collect();
    Value::Array(rows)
}

/// The one-line JSON object printed last on stdout.
#[must_use]
pub fn last_line(outcome: &Outcome) -> Value {
    let latency = percentiles(&outcome.latency);
    json!({
        "sent": outcome.sent,
        "resp_ok": outcome.resp_ok,
        "resp_err": outcome.resp_err,
        "receipts": outcome.receipts.as_ref().map_or(0, |r| r.matched),
        "elapsed_s": (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "rate": rate(outcome),
        "p50_ms": latency["p50_ms"],
        "p99_ms": latency["p99_ms"],
        "p999_ms": latency["p999_ms"],
    })
}

/// The human summary.
#[must_use]
pub fn summary(args: &Args, outcome: &Outcome) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let line = |h: &Histogram<u64>| {
        let p = percentiles(h);
        format!(
            "p50 {} ms  p90 {} ms  p99 {} ms  p99.9 {} ms  max {} ms",
            p["p50_ms"], p["p90_ms"], p["p99_ms"], p["p999_ms"], p["max_ms"]
        )
    };
    let _ = writeln!(
        out,
        "smpp-loadtest {} — {} bind(s) {:?} window {}, rate {}, mix {}",
        args.connect, args.binds, args.bind, args.window, args.rate, args.mix
    );
    let _ = writeln!(
        out,
        "messages {}  submit_sm {}  ok {}  errors {}  in {:.3} s  = {} submit_sm/s",
        outcome.messages,
        outcome.sent,
        outcome.resp_ok,
        outcome.resp_err,
        outcome.elapsed.as_secs_f64(),
        rate(outcome)
    );
    let _ = writeln!(out, "submit→resp    {}", line(&outcome.latency));
    if !outcome.errors.is_empty() {
        let mut errors: Vec<_> = outcome.errors.iter().collect();
        errors.sort();
        let text: Vec<String> = errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "errors         {}", text.join(", "));
    }
    if let Some(r) = &outcome.receipts {
        let _ = writeln!(
            out,
            "receipts       expected {}  matched {}  unmatched {}  missing {}",
            r.expected, r.matched, r.unmatched, r.missing
        );
        let _ = writeln!(out, "submit→receipt {}", line(&r.latency));
    }
    out
}
