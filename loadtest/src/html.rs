//! A self-contained HTML report with inline SVG charts (no scripts, no external files).

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::args::Args;
use crate::engine::Outcome;
use crate::report;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Throughput over time: a polyline of submit_sm responses per second.
#[allow(clippy::cast_precision_loss)]
fn throughput_svg(series: &[u64]) -> String {
    let (width, height, pad) = (720.0, 240.0, 50.0);
    let top = series.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = series.len().max(2) as f64 - 1.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"throughput\">"
    );
    let x = |i: f64| pad + i / n * (width - 2.0 * pad);
    let y = |v: f64| height - pad - v / top * (height - 2.0 * pad);
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"#888\"/>\
         <text x=\"4\" y=\"{}\" font-size=\"11\">{top:.0}/s</text>\
         <text x=\"4\" y=\"{}\" font-size=\"11\">0</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\">{} s</text>",
        height - pad,
        width - pad,
        height - pad,
        height - pad,
        pad + 4.0,
        height - pad,
        width - pad - 20.0,
        height - pad + 16.0,
        series.len()
    );
    let points: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i as f64), y(*v as f64)))
        .collect();
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#2a6fdb\" stroke-width=\"2\" points=\"{}\"/></svg>",
        points.join(" ")
    );
    svg
}

/// Latency percentiles as bars (ms), one group per histogram.
#[allow(clippy::cast_precision_loss)]
fn latency_svg(series: &[(&str, &Histogram<u64>)]) -> String {
    let labels = ["p50", "p90", "p99", "p99.9", "max"];
    let quantiles = [0.5, 0.9, 0.99, 0.999, 1.0];
    let values: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, h)| {
            quantiles
                .iter()
                .map(|q| {
                    if h.is_empty() {
                        0.0
                    } else {
                        h.value_at_quantile(*q) as f64 / 1000.0
                    }
                })
                .collect()
        })
        .collect();
    let top = values.iter().flatten().copied().fold(0.001, f64::max);
    let (width, height, pad) = (720.0, 260.0, 50.0);
    let colours = ["#2a6fdb", "#db7a2a"];
    let group = (width - 2.0 * pad) / labels.len() as f64;
    let bar = group / (series.len() as f64 + 1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"latency percentiles\">\
         <line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#888\"/>",
        height - pad,
        width - pad
    );
    for (g, label) in labels.iter().enumerate() {
        let gx = pad + g as f64 * group;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{label}</text>",
            gx + group / 3.0,
            height - pad + 16.0
        );
        for (s, row) in values.iter().enumerate() {
            let v = row[g];
            let h = v / top * (height - 2.0 * pad);
            let bx = gx + bar * (s as f64 + 0.5);
            let _ = write!(
                svg,
                "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\">\
                 <title>{} {label}: {v:.3} ms</title></rect>\
                 <text x=\"{bx:.1}\" y=\"{:.1}\" font-size=\"10\">{v:.2}</text>",
                height - pad - h,
                bar * 0.9,
                colours[s % colours.len()],
                series[s].0,
                height - pad - h - 3.0
            );
        }
    }
    for (s, (name, _)) in series.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{name} (ms)</text>",
            pad + 10.0,
            10.0 + 16.0 * s as f64,
            colours[s % colours.len()],
            pad + 26.0,
            19.0 + 16.0 * s as f64
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The page.
#[must_use]
pub fn page(args: &Args, outcome: &Outcome) -> String {
    let document = report::document(args, outcome);
    let mut params = String::new();
    if let Some(object) = document["parameters"].as_object() {
        for (key, value) in object {
            let _ = write!(
                params,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(key),
                escape(&value.to_string())
            );
        }
    }
    let mut figures = String::new();
    for key in [
        "messages",
        "sent",
        "resp_ok",
        "resp_err",
        "elapsed_s",
        "rate",
    ] {
        let _ = write!(
            figures,
            "<tr><th>{key}</th><td>{}</td></tr>",
            escape(&document[key].to_string())
        );
    }
    let _ = write!(
        figures,
        "<tr><th>submit→resp</th><td>{}</td></tr>",
        escape(&document["submit_resp"].to_string())
    );
    if !document["receipts"].is_null() {
        let _ = write!(
            figures,
            "<tr><th>receipts</th><td>{}</td></tr>",
            escape(&document["receipts"].to_string())
        );
    }
    if !outcome.errors.is_empty() {
        let _ = write!(
            figures,
            "<tr><th>errors</th><td>{}</td></tr>",
            escape(&document["errors"].to_string())
        );
    }
    let mut latencies = vec![("submit→resp", &outcome.latency)];
    if let Some(r) = &outcome.receipts {
        latencies.push(("submit→receipt", &r.latency));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>smpp-loadtest report</title><style>\
         body{{font-family:sans-serif;margin:2em;max-width:60em}}\
         table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:3px 8px;\
         text-align:left;font-size:13px}}th{{background:#f4f4f4}}</style></head><body>\
         <h1>smpp-loadtest report</h1><h2>Parameters</h2><table>{params}</table>\
         <h2>Results</h2><table>{figures}</table>\
         <h2>Throughput (submit_sm responses per second)</h2>{}\
         <h2>Latency percentiles</h2>{}\
         <p>Open-loop runs measure latency from each message's intended send time \
         (coordinated-omission corrected).</p></body></html>\n",
        throughput_svg(&outcome.throughput),
        latency_svg(&latencies)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::receipts::histogram;

    #[test]
    fn page_is_self_contained_with_charts_and_parameters() {
        let args = Args::parse_from([
            "smpp-loadtest",
            "--connect",
            "h:1",
            "--system-id",
            "<a>",
            "--password",
            "b",
            "--count",
            "3",
        ]);
        let mut latency = histogram();
        latency.record(1500).unwrap();
        let outcome = Outcome {
            messages: 3,
            sent: 3,
            resp_ok: 3,
            resp_err: 0,
            errors: HashMap::new(),
            elapsed: Duration::from_millis(1500),
            latency,
            throughput: vec![2, 1],
            receipts: None,
        };
        let page = page(&args, &outcome);
        assert_eq!(page.matches("<svg").count(), 2);
        assert!(page.contains("polyline"));
        assert!(page.contains("&lt;a&gt;"), "system_id escaped");
        assert!(!page.contains("<script") && !page.contains("src=\"http"));
        let last = report::last_line(&outcome);
        assert_eq!(last["sent"], 3);
        assert!((last["p50_ms"].as_f64().unwrap() - 1.5).abs() < 0.01);
    }
}
