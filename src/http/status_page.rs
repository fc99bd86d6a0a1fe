//! `GET /`: the status page for people, server-rendered HTML with inline SVG (no script,
//! nothing fetched from elsewhere): binds up and down per carrier and per account,
//! submit and receipt counts and rates since the start, queue depths per route, and the
//! delivery rate per carrier over the last hour (from [`crate::stats::query`]).
//!
//! The admin token opens it, as `Authorization: Bearer` or as the password of HTTP Basic
//! (any user name), so a browser asks for it; there is no token in a URL. Every string
//! from the configuration or the network is escaped.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Shared;
use super::admin::stats_rows;
use super::auth::Caller;
use super::errors::ApiError;
use crate::store::HOUR_MS;

/// How often the submit and receipt counters are sampled for the rates.
pub(crate) const SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// Samples kept: ten minutes' worth.
const SAMPLES: usize = 61;

/// The last ten minutes of (time in ms, submits accepted, receipts matched) samples,
/// oldest first; bounded.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    samples: std::sync::Mutex<std::collections::VecDeque<(u64, u64, u64)>>,
}

impl Rates {
    /// Records the counters at `at_ms`, forgetting the oldest past [`SAMPLES`].
    pub(crate) fn push(&self, at_ms: u64, submits: u64, receipts: u64) {
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if samples.len() == SAMPLES {
            samples.pop_front();
        }
        samples.push_back((at_ms, submits, receipts));
    }

    /// Per second between successive samples: (seconds before the newest, submits/s,
    /// receipts/s), oldest first.
    pub(crate) fn series(&self) -> Vec<(f64, f64, f64)> {
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(&(newest, _, _)) = samples.back() else {
            return Vec::new();
        };
        samples
            .iter()
            .zip(samples.iter().skip(1))
            .filter(|(a, b)| b.0 > a.0)
            .map(|(a, b)| {
                #[allow(clippy::cast_precision_loss)]
                let (span, ago, submits, receipts) = (
                    (b.0 - a.0) as f64 / 1000.0,
                    (newest - b.0) as f64 / 1000.0,
                    b.1.saturating_sub(a.1) as f64,
                    b.2.saturating_sub(a.2) as f64,
                );
                (ago, submits / span, receipts / span)
            })
            .collect()
    }
}

/// Samples the gateway's counters every [`SAMPLE_EVERY`] until `cancel`.
pub(crate) async fn sample(
    rates: Arc<Rates>,
    stats: Arc<crate::gateway::Stats>,
    clock: crate::clock::Clock,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let counters = stats.counters();
        let get = |name: &str| {
            counters
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, v)| *v)
        };
        rates.push(clock.wall_ms(), get("accepted"), get("receipts_matched"));
    }
}

/// Submits and receipts per second over the last ten minutes, as two lines.
fn rate_chart(series: &[(f64, f64, f64)]) -> String {
    if series.is_empty() {
        return "<p class=\"muted\">Rates appear after the first 10 s.</p>".to_owned();
    }
    let (width, height, left, top) = (600.0_f64, 180.0_f64, 50.0_f64, 10.0_f64);
    let span = 600.0_f64;
    let top_rate = series
        .iter()
        .map(|(_, s, r)| s.max(*r))
        .fold(1.0_f64, f64::max);
    let x = |ago: f64| left + width - (ago.min(span) / span) * width;
    let y = |rate: f64| top + height - (rate / top_rate) * height;
    let line = |pick: &dyn Fn(&(f64, f64, f64)) -> f64| {
        series
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "<svg width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"submits and receipts per second, last 10 minutes\">\
         <line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#999\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#999\"/>\
         <text x=\"{lx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{top_rate:.0}/s</text>\
         <text x=\"{lx}\" y=\"{bottom}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{left}\" y=\"{below}\" font-size=\"11\">10 min ago</text>\
         <text x=\"{right}\" y=\"{below}\" font-size=\"11\" text-anchor=\"end\">now</text>\
         <polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{submits}\"/>\
         <polyline fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" points=\"{receipts}\"/>\
         <text x=\"{l1}\" y=\"{below}\" font-size=\"11\" fill=\"#1f77b4\">submits/s</text>\
         <text x=\"{l2}\" y=\"{below}\" font-size=\"11\" fill=\"#2ca02c\">receipts/s</text></svg>",
        w = left + width + 10.0,
        h = top + height + 24.0,
        bottom = top + height,
        right = left + width,
        lx = left - 4.0,
        ty = top + 10.0,
        below = top + height + 16.0,
        submits = line(&|p| p.1),
        receipts = line(&|p| p.2),
        l1 = left + 200.0,
        l2 = left + 300.0,
    )
}

/// Escapes text for an element or an attribute.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// 401 as every handler answers it, with a Basic challenge so a browser asks.
fn challenge() -> Response {
    let mut response = ApiError::Unauthorized.into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"smppgate\", charset=\"UTF-8\""),
    );
    response
}

/// The status page.
#[utoipa::path(
    get,
    path = "/",
    responses(
        (status = 200, description = "The status page (HTML)", content_type = "text/html"),
        (status = 401, description = "No admin token: a Basic challenge, so a browser asks for it"),
        (status = 403, description = "An account's key"),
    )
)]
pub(crate) async fn status_page(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match shared.keys.load().admin_or_basic(&headers) {
        Ok(Caller::Admin) => {}
        Ok(Caller::Account(_)) => {
            return ApiError::Forbidden(
                "the status page is for the admin token, not an account's key".to_owned(),
            )
            .into_response();
        }
        Err(_) => return challenge(),
    }
    let now = shared.clock.wall_ms();
    let delivery = stats_rows(
        &shared,
        now.saturating_sub(HOUR_MS),
        crate::stats::By::Carrier,
    )
    .await;
    let html = render(&shared, delivery.ok().as_deref());
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.3em .8em;border-bottom:1px solid #eee;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:#2ca02c}.down{color:#d62728}\
.muted{color:#777}";

fn u(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or(0)
}

/// One circle per bind: green when up, red when down.
fn bind_dots(up: &[bool]) -> String {
    let width = 14 * up.len().max(1) + 4;
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"16\" role=\"img\" aria-label=\"{} of {} binds up\">",
        up.iter().filter(|b| **b).count(),
        up.len()
    );
    for (index, live) in up.iter().enumerate() {
        let colour = if *live { "#2ca02c" } else { "#d62728" };
        let _ = write!(
            svg,
            "<circle cx=\"{}\" cy=\"8\" r=\"5\" fill=\"{colour}\"/>",
            9 + 14 * index
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of the delivery rate per carrier.
fn delivery_bars(rows: &[crate::stats::Row]) -> String {
    let rows: Vec<&crate::stats::Row> = rows.iter().filter(|r| r.group != "-").collect();
    if rows.is_empty() {
        return "<p class=\"muted\">No message ended in the last hour.</p>".to_owned();
    }
    let height = 28 * rows.len() + 10;
    let mut svg = format!(
        "<svg width=\"640\" height=\"{height}\" role=\"img\" aria-label=\"delivery rate per carrier, last hour\">"
    );
    for (index, row) in rows.iter().enumerate() {
        let y = 5 + 28 * index;
        let rate = row.delivery_rate.unwrap_or(0.0).clamp(0.0, 1.0);
        let colour = if rate >= 0.95 { "#2ca02c" } else { "#ff7f0e" };
        let label = row
            .delivery_rate
            .map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", r * 100.0));
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\" font-size=\"13\">{name}</text>\
             <rect x=\"160\" y=\"{y}\" width=\"400\" height=\"20\" fill=\"#eee\"/>\
             <rect x=\"160\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" fill=\"{colour}\"/>\
             <text x=\"568\" y=\"{ty}\" font-size=\"13\">{label}</text>",
            ty = y + 15,
            name = esc(&row.group),
            w = 400.0 * rate,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn render(shared: &Shared, delivery: Option<&[crate::stats::Row]>) -> String {
    let pool = shared.carriers.stats();
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>smppgate status</title><style>{STYLE}</style></head><body>\
         <h1>smppgate status</h1>"
    );

    // Traffic since the start.
    let counters = shared.stats.counters();
    let get = |name: &str| {
        counters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    };
    let uptime = shared.started.elapsed().as_secs_f64().max(1.0);
    #[allow(clippy::cast_precision_loss)]
    let rate = |n: u64| n as f64 / uptime;
    html.push_str("<h2>Traffic since the start</h2><table><tr><th></th><th>total</th><th>per second (mean)</th></tr>");
    for (label, name) in [
        ("Submits accepted", "accepted"),
        ("Submits rejected", "rejected"),
        ("Parts sent to carriers", "parts_sent"),
        ("Receipts matched", "receipts_matched"),
        ("Receipts and MO forwarded", "forwarded"),
        ("MO received", "mo_received"),
    ] {
        let n = get(name);
        let _ = write!(
            html,
            "<tr><td>{label}</td><td class=\"n\">{n}</td><td class=\"n\">{:.1}</td></tr>",
            rate(n)
        );
    }
    let _ = write!(
        html,
        "</table><p class=\"muted\">Up {:.0} s. Per second over the last ten minutes:</p>{}",
        shared.started.elapsed().as_secs_f64(),
        rate_chart(&shared.rates.series())
    );

    // Carriers and their binds.
    html.push_str(
        "<h2>Carriers</h2><table><tr><th>carrier</th><th>binds</th><th></th>\
         <th>window in use</th><th>TPS</th><th>allowed now</th><th>throttle</th></tr>",
    );
    for carrier in pool["carriers"].as_array().map_or(&[][..], Vec::as_slice) {
        let binds = carrier["binds"].as_array().map_or(&[][..], Vec::as_slice);
        let up: Vec<bool> = binds
            .iter()
            .map(|b| b["live"].as_bool().unwrap_or(false))
            .collect();
        let window: u64 = binds.iter().map(|b| u(b, "outstanding")).sum();
        let throttle = if carrier["paused_by_operator"].as_bool() == Some(true) {
            "<span class=\"down\">paused by operator</span>"
        } else if carrier["paused"].as_bool() == Some(true) {
            "<span class=\"down\">paused</span>"
        } else if carrier["refusing_by_throttle"].as_bool() == Some(true) {
            "<span class=\"down\">refusing</span>"
        } else {
            "<span class=\"up\">ok</span>"
        };
        let _ = write!(
            html,
            "<tr><td>{name}</td><td class=\"n\">{live}/{total}</td><td>{dots}</td>\
             <td class=\"n\">{window}</td><td class=\"n\">{tps}</td><td class=\"n\">{rate}</td>\
             <td>{throttle} <span class=\"muted\">({events} events)</span></td></tr>",
            name = esc(carrier["name"].as_str().unwrap_or("?")),
            live = up.iter().filter(|b| **b).count(),
            total = up.len(),
            dots = bind_dots(&up),
            tps = esc(&carrier["tps"].to_string()),
            rate = esc(&carrier["rate"].to_string()),
            events = u(carrier, "throttle_events"),
        );
    }
    html.push_str("</table>");

    // Accounts and their binds.
    html.push_str(
        "<h2>Accounts</h2><table><tr><th>account</th><th>binds</th><th></th><th>submits</th></tr>",
    );
    let mut accounts: Vec<_> = shared.intake.accounts().iter().collect();
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    for account in &accounts {
        let binds = account.binds.load(Ordering::Relaxed);
        let state = if binds > 0 {
            "<span class=\"up\">bound</span>"
        } else {
            "<span class=\"muted\">not bound</span>"
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{binds}</td><td>{state}</td><td class=\"n\">{}</td></tr>",
            esc(&account.name),
            account.submits.load(Ordering::Relaxed)
        );
    }
    html.push_str("</table>");

    // Queues per route.
    html.push_str("<h2>Queues</h2><table><tr><th>route</th><th>queued by class</th><th>held</th><th>waiting to retry</th><th>waiting on throttle</th></tr>");
    for route in pool["routes"].as_array().map_or(&[][..], Vec::as_slice) {
        let queued = route["queued"].as_object().map_or_else(String::new, |q| {
            q.iter()
                .map(|(class, n)| format!("{}: {}", esc(class), n.as_u64().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{queued}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(route["name"].as_str().unwrap_or("?")),
            u(route, "held"),
            u(route, "retry_waiting"),
            u(route, "throttle_waiting"),
        );
    }
    html.push_str("</table>");

    // Delivery rate per carrier over the last hour.
    html.push_str("<h2>Delivery rate per carrier, last hour</h2>");
    match delivery {
        Some(rows) => html.push_str(&delivery_bars(rows)),
        None => html.push_str("<p class=\"down\">The statistics could not be read.</p>"),
    }
    html.push_str("</body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn rates_are_per_second_between_samples_and_bounded() {
        let rates = super::Rates::default();
        assert!(rates.series().is_empty());
        rates.push(0, 0, 0);
        rates.push(10_000, 500, 100);
        rates.push(20_000, 1_500, 100);
        assert_eq!(rates.series(), vec![(10.0, 50.0, 10.0), (0.0, 100.0, 0.0)]);
        for n in 0..1_000 {
            rates.push(30_000 + n * 10_000, 0, 0);
        }
        assert_eq!(rates.series().len(), super::SAMPLES - 1);
        assert!(super::rate_chart(&rates.series()).contains("<polyline"));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>a&'\"</script>"),
            "&lt;script&gt;a&amp;&#39;&quot;&lt;/script&gt;"
        );
    }
}
