//! Inline SVG charts for the HTML report: line charts on a linear or logarithmic axis,
//! and horizontal bars. No scripts, nothing fetched: the page stays one file.

use std::fmt::Write as _;

/// Colours of successive series (readable in print and by most colour-blind readers).
pub const COLOURS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

/// XML-escapes text for an element or attribute.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend.
    pub name: String,
    /// (x, y) points in data units; y must be positive on a log axis.
    pub points: Vec<(f64, f64)>,
}

/// A vertical axis.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// From 0 to the largest value.
    Linear,
    /// Powers of ten around the values.
    Log,
}

/// Ticks on the x axis: where, and the label.
pub type Ticks = Vec<(f64, String)>;

/// A line chart.
pub struct LineChart<'a> {
    /// For screen readers and the tooltip of the frame.
    pub label: &'a str,
    /// Under the x axis.
    pub x_title: &'a str,
    /// The x range and its ticks.
    pub x_range: (f64, f64),
    /// The x ticks.
    pub x_ticks: Ticks,
    /// The y axis.
    pub scale: Scale,
    /// How a y value is written on the axis.
    pub y_format: &'a dyn Fn(f64) -> String,
    /// The lines.
    pub series: Vec<Series>,
}

/// Evenly spaced "nice" ticks (1, 2, 5 × 10^n) from 0 to at least `top`.
#[must_use]
pub fn linear_ticks(top: f64) -> Vec<f64> {
    let top = if top > 0.0 { top } else { 1.0 };
    let rough = top / 5.0;
    let magnitude = 10_f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| step * 5.0 >= top)
        .unwrap_or(10.0 * magnitude);
    let mut ticks = vec![0.0];
    let mut k = 1.0;
    while ticks[ticks.len() - 1] < top {
        ticks.push(k * step);
        k += 1.0;
    }
    ticks
}

/// Powers of ten from below the smallest to above the largest positive value.
#[must_use]
pub fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    let low = low.max(f64::MIN_POSITIVE);
    let high = high.max(low);
    let mut exponent = low.log10().floor();
    let last = high.log10().ceil().max(exponent + 1.0);
    let mut ticks = Vec::new();
    while exponent <= last {
        ticks.push(10_f64.powf(exponent));
        exponent += 1.0;
    }
    ticks
}

impl LineChart<'_> {
    /// The `<svg>` element.
    #[must_use]
    pub fn render(&self) -> String {
        let values = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite());
        let (low, high) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
            (if v > 0.0 { lo.min(v) } else { lo }, hi.max(v))
        });
        let y_ticks = match self.scale {
            Scale::Linear => linear_ticks(high),
            Scale::Log if high > 0.0 => log_ticks(low, high),
            Scale::Log => vec![1.0, 10.0],
        };
        let (y_min, y_max) = (y_ticks[0], y_ticks[y_ticks.len() - 1]);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let (x_min, x_max) = self.x_range;
        let x_span = if x_max > x_min { x_max - x_min } else { 1.0 };
        let x = |v: f64| LEFT + (v - x_min) / x_span * plot_w;
        let y = |v: f64| {
            let share = match self.scale {
                Scale::Linear => (v - y_min) / (y_max - y_min).max(f64::MIN_POSITIVE),
                Scale::Log => {
                    (v.max(y_min).log10() - y_min.log10())
                        / (y_max.log10() - y_min.log10()).max(f64::MIN_POSITIVE)
                }
            };
            TOP + plot_h - share.clamp(0.0, 1.0) * plot_h
        };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
             width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{}\" \
             font-family=\"sans-serif\" font-size=\"11\">",
            escape(self.label)
        );
        // Grid and y labels.
        for tick in &y_ticks {
            let ty = y(*tick);
            let _ = write!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#e3e3e3\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                ty + 4.0,
                escape(&(self.y_format)(*tick))
            );
        }
        for (at, label) in &self.x_ticks {
            let tx = x(*at);
            let _ = write!(
                svg,
                "<line x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#f0f0f0\"/>\
                 <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                TOP + plot_h,
                TOP + plot_h + 14.0,
                escape(label)
            );
        }
        let _ = write!(
            svg,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#999\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            LEFT + plot_w / 2.0,
            HEIGHT - 6.0,
            escape(self.x_title)
        );
        let mut legend_x = LEFT + 4.0;
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let points: Vec<String> = series
                .points
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
                .collect();
            if points.len() == 1 {
                let _ = write!(
                    svg,
                    "<circle cx=\"{}\" r=\"3\" fill=\"{colour}\"/>",
                    points[0].replace(',', "\" cy=\"")
                );
            } else {
                let _ = write!(
                    svg,
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\" \
                     stroke-linejoin=\"round\" points=\"{}\"><title>{}</title></polyline>",
                    points.join(" "),
                    escape(&series.name)
                );
            }
            // The legend, across the top (about 6.5 px a character at 11 px).
            let lx = legend_x;
            legend_x += 34.0 + 6.5 * series.name.chars().count() as f64;
            let _ = write!(
                svg,
                "<rect x=\"{lx:.1}\" y=\"8\" width=\"14\" height=\"4\" fill=\"{colour}\"/>\
                 <text x=\"{:.1}\" y=\"14\" fill=\"#333\">{}</text>",
                lx + 18.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Horizontal bars, one per (label, value, caption), longest first as given.
#[must_use]
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub fn bars(label: &str, rows: &[(String, u64, String)], colour: &str) -> String {
    let row_h = 22.0;
    let height = row_h * rows.len() as f64 + 8.0;
    let label_w = 170.0;
    let bar_w = WIDTH - label_w - 110.0;
    let top = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">",
        escape(label)
    );
    for (i, (name, value, caption)) in rows.iter().enumerate() {
        let ty = 4.0 + row_h * i as f64;
        let w = (*value as f64 / top * bar_w).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{}</text>\
             <rect x=\"{label_w}\" y=\"{ty:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">{}</text>",
            label_w - 8.0,
            ty + 14.0,
            escape(name),
            row_h - 6.0,
            label_w + w + 6.0,
            ty + 14.0,
            escape(caption)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_cover_the_values() {
        assert_eq!(
            linear_ticks(9_800.0),
            [0.0, 2_000.0, 4_000.0, 6_000.0, 8_000.0, 10_000.0]
        );
        assert_eq!(linear_ticks(0.0).last(), Some(&1.0));
        assert_eq!(
            log_ticks(230.0, 45_000.0),
            [100.0, 1_000.0, 10_000.0, 100_000.0]
        );
        assert_eq!(log_ticks(1_000.0, 1_000.0), [1_000.0, 10_000.0]);
    }

    #[test]
    fn a_log_chart_places_decades_evenly() {
        let format = |v: f64| format!("{v}");
        let chart = LineChart {
            label: "l",
            x_title: "x",
            x_range: (0.0, 1.0),
            x_ticks: vec![(0.0, "0".into())],
            scale: Scale::Log,
            y_format: &format,
            series: vec![Series {
                name: "s".into(),
                points: vec![(0.0, 100.0), (1.0, 10_000.0)],
            }],
        }
        .render();
        // 100 is the bottom of the plot, 10 000 the top.
        let bottom = TOP + HEIGHT - TOP - BOTTOM;
        assert!(
            chart.contains(&format!(
                "{LEFT:.1},{bottom:.1} {:.1},{TOP:.1}",
                WIDTH - RIGHT
            )),
            "{chart}"
        );
        assert!(chart.contains(">1000<"), "decade labels: {chart}");
    }
}
