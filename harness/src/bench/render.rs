//! Markdown tables and SVG charts of bench reports. Several SDK reports render side by
//! side, so one page compares the reference client in process, through its adapter and the
//! web SDK. The chart is plain SVG text: it needs no dependency and no network to view.

use std::fmt::Write as _;

use super::sdk::SdkReport;
use super::server::ServerReport;

/// Line colours, one per series in order.
const COLOURS: [&str; 6] = [
    "#1b7f3b", "#2151a8", "#b3261e", "#c77c02", "#6a3d9a", "#555555",
];

/// The contention reports as Markdown: one table per report, then one comparison table at
/// the largest N they all ran, and the verdicts.
pub fn markdown(reports: &[SdkReport]) -> String {
    let mut md = String::new();
    if reports.len() > 1 {
        side_by_side(&mut md, reports);
    }
    for report in reports {
        let _ = writeln!(
            md,
            "### {} ({} {})\n\nOne caller's refresh: {:.2} ms (the floor's delay).{}\n",
            report.label,
            report.sdk.name,
            report.sdk.version,
            report.single_ms,
            match (report.max_in_flight, report.skipped_sizes.is_empty()) {
                (Some(cap), false) => format!(
                    " The adapter declares at most {cap} requests in flight: N = {:?} not run.",
                    report.skipped_sizes
                ),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            md,
            "| N | bursts | server refreshes per burst | reused tokens | failed callers | burst wall (ms) | p50 (ms) | p99 (ms) | floor p99 (ms) | µs per waiter | floor µs per waiter | over floor |"
        );
        let _ = writeln!(
            md,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for row in &report.sizes {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                thousands(row.callers),
                row.bursts,
                range(row.refreshes_min, row.refreshes_max),
                row.reused,
                row.failed,
                row.wall_ms,
                row.p50_ms,
                row.p99_ms,
                row.floor_p99_ms,
                row.us_per_waiter,
                row.floor_us_per_waiter,
                row.over_floor()
                    .map_or("–".to_owned(), |r| format!("{r:.2}×")),
            );
        }
        if let Some(s) = &report.stagger {
            let _ = writeln!(
                md,
                "\nStaggered arrivals: {} callers arriving evenly over {:.0} ms while the server \
                 holds the refresh {:.0} ms, {} bursts: server refreshes per burst {}, reused \
                 tokens {}, failed callers {}, latency from arrival p50 {:.2} ms, p99 {:.2} ms.",
                thousands(s.callers),
                s.hold_ms * 2.0,
                s.hold_ms,
                s.bursts,
                range(s.refreshes_min, s.refreshes_max),
                s.reused,
                s.failed,
                s.p50_ms,
                s.p99_ms
            );
        }
        let _ = writeln!(
            md,
            "\nCoalescing (one refresh per burst, no reuse, no failed caller): **{}**.\n",
            if report.coalesced() { "yes" } else { "no" }
        );
    }
    md
}

/// One row per report: p99 at every size, and the verdict.
fn side_by_side(md: &mut String, reports: &[SdkReport]) {
    let mut sizes: Vec<usize> = reports
        .iter()
        .flat_map(|r| r.sizes.iter().map(|s| s.callers))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let _ = write!(md, "| SDK, driver | one caller (ms) |");
    for n in &sizes {
        let _ = write!(md, " p99 at N = {} (ms) |", thousands(*n));
    }
    let _ = writeln!(md, " refreshes per burst | coalesced |");
    let _ = writeln!(md, "|---|---:|{}---:|---|", "---:|".repeat(sizes.len()));
    for report in reports {
        let _ = write!(md, "| {} | {:.2} |", report.label, report.single_ms);
        for n in &sizes {
            match report.sizes.iter().find(|s| s.callers == *n) {
                Some(row) => {
                    let _ = write!(md, " {:.2} |", row.p99_ms);
                }
                None => md.push_str(" not run |"),
            }
        }
        let (min, max) = report.sizes.iter().fold((u64::MAX, 0), |(lo, hi), s| {
            (lo.min(s.refreshes_min), hi.max(s.refreshes_max))
        });
        let _ = writeln!(
            md,
            " {} | {} |",
            range(min, max),
            if report.coalesced() { "yes" } else { "no" }
        );
    }
    md.push('\n');
}

fn range(min: u64, max: u64) -> String {
    if min == max {
        min.to_string()
    } else {
        format!("{min}–{max}")
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// p99 caller latency against N (log-log), one line per report and a dashed one for the
/// first report's floor.
pub fn svg(reports: &[SdkReport]) -> String {
    let mut series: Vec<Series> = reports
        .iter()
        .map(|r| Series {
            label: r.label.clone(),
            dashed: false,
            points: r
                .sizes
                .iter()
                .map(|s| (s.callers as f64, s.p99_ms))
                .collect(),
        })
        .collect();
    if let Some(first) = reports.first() {
        series.push(Series {
            label: "floor (bare shared future)".into(),
            dashed: true,
            points: first
                .sizes
                .iter()
                .map(|s| (s.callers as f64, s.floor_p99_ms))
                .collect(),
        });
    }
    loglog(
        "p99 caller latency vs concurrent callers (log-log)",
        "concurrent refresh() callers (N)",
        "ms",
        &series,
    )
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Drawn dashed (a reference line).
    pub dashed: bool,
    /// (x, y) points, both positive.
    pub points: Vec<(f64, f64)>,
}

/// A log-log line chart as SVG text.
pub fn loglog(title: &str, x_label: &str, y_unit: &str, series: &[Series]) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 400.0, 70.0, 50.0, 30.0, 230.0);
    let log = |(x, y): (f64, f64)| (x.max(1.0).log10(), y.max(0.001).log10());
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| log(*p)))
        .collect();
    let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max).ceil();
    let y_min = all
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .floor();
    let y_min = if y_min.is_finite() { y_min } else { 0.0 };
    let y_max = all
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max)
        .ceil()
        .max(y_min + 1.0);
    let sx = |x: f64| left + x / x_max * (w - left - right);
    let sy = |y: f64| h - bottom - (y - y_min) / (y_max - y_min) * (h - top - bottom);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        (w - right + left) / 2.0,
        escape(title)
    );
    for decade in 0..=(x_max as i32) {
        let x = sx(f64::from(decade));
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            sy(y_min),
            sy(y_max),
            h - bottom + 18.0,
            10f64.powi(decade)
        );
    }
    for decade in (y_min as i32)..=(y_max as i32) {
        let y = sy(f64::from(decade));
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} {y_unit}</text>",
            w - right,
            left - 6.0,
            y + 4.0,
            10f64.powi(decade)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        (w - right + left) / 2.0,
        h - 12.0,
        escape(x_label)
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let dash = if s.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let line: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|p| log(*p))
            .map(|(x, y)| (sx(x), sy(y)))
            .collect();
        let text: Vec<String> = line.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash} points=\"{}\"/>",
            text.join(" ")
        );
        for (x, y) in &line {
            let _ = writeln!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{colour}\"/>"
            );
        }
        let ly = top + 20.0 + i as f64 * 20.0;
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash}/><text x=\"{}\" y=\"{}\">{}</text>",
            w - right + 10.0,
            w - right + 30.0,
            w - right + 36.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A server load report as Markdown.
pub fn server_markdown(report: &ServerReport) -> String {
    let mut md = String::new();
    let c = &report.ceiling;
    let _ = writeln!(
        md,
        "Target: {}. {}. Crypto ceiling: one ES256 verify ({:.1} µs) + one ES256 sign ({:.1} µs) \
         = {:.0} refreshes/s per core, × {} core(s) ({}) = **{:.0}/s**. Each level: {:.0} s \
         closed loop, proofs signed before the window.\n",
        report.target,
        report.pinning.note,
        c.verify_us,
        c.sign_us,
        c.per_core_per_s,
        c.cores,
        report.ceiling_note,
        c.per_s,
        report.duration_s
    );
    let _ = writeln!(
        md,
        "| clients | refreshes/s | of ceiling | server CPU per refresh (µs) | server cores busy | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | rejected | 5xx | lost | reuse detected | signed in window |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for l in &report.levels {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0}% | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} of {} |",
            l.clients,
            l.per_s,
            l.of_ceiling * 100.0,
            l.server_cpu_us_per_refresh
                .map_or("–".to_owned(), |us| format!("{us:.0}")),
            l.server_busy
                .map_or("–".to_owned(), |b| format!("{:.0}%", b * 100.0)),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            l.rejections.values().sum::<u64>(),
            l.server_errors,
            l.transport_errors,
            l.reuse_detected.map_or("?".to_owned(), |n| n.to_string()),
            l.signed_in_window,
            l.refreshes,
        );
    }
    let _ = writeln!(
        md,
        "\nNothing broken (no reuse, rejection, 5xx or lost request): **{}**.",
        if report.clean() { "yes" } else { "no" }
    );
    md
}
