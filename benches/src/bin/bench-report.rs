//! `bench-report`: turns the results of `cargo bench -p prelude-benches` (criterion estimates
//! and `target/bench-results/*.json`) into `docs/benchmarks.md` and a latency chart
//! `docs/benchmarks-latency.svg`. Run by `scripts/bench-report.sh`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use prelude_benches::results_dir;
use serde_json::Value;

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Mean time of a criterion benchmark, nanoseconds.
fn criterion_ns(target: &Path, group: &str, bench: &str) -> Option<f64> {
    let estimates = read_json(
        &target
            .join("criterion")
            .join(group)
            .join(bench)
            .join("new/estimates.json"),
    )?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or("unknown".into(), |kb| {
            format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0)
        });
    format!(
        "{cpus} vCPU ({model}), {memory} RAM, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "missed" }
}

fn contention(md: &mut String, data: &Value) -> Option<String> {
    let rows = data["rows"].as_array()?;
    let single = number(&data["single_caller_ms"]);
    let _ = writeln!(md, "## Refresh contention\n");
    let _ = writeln!(
        md,
        "N callers ask for a token at the same instant after the cache was invalidated, against \
         the mock server over loopback. `single_flight` is the reference client, `mutex` a lock \
         around refresh-and-recheck, `naive` no coordination (its in-flight requests are capped at \
         {} connections). Requests and reuse are the server's counts (journal: presentations of \
         a token already presented in the burst). Latency is per caller, from the burst's start; \
         `p99/1` divides by one caller's refresh latency measured in the same run ({single:.2} ms).\n",
        data["pool"]
    );
    let _ = writeln!(
        md,
        "| strategy | N | server refreshes | reused tokens | burst wall (ms) | p50 (ms) | p99 (ms) | p99/1 |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
            row["strategy"].as_str().unwrap_or("?"),
            row["callers"],
            number(&row["server_refreshes"]),
            number(&row["reused"]),
            number(&row["wall_ms"]),
            number(&row["p50_ms"]),
            number(&row["p99_ms"]),
            number(&row["p99_over_single"]),
        );
    }
    let _ = writeln!(
        md,
        "\n![p99 caller latency against N](benchmarks-latency.svg)\n"
    );
    let top = rows
        .iter()
        .filter(|r| r["strategy"] == "single_flight")
        .max_by_key(|r| r["callers"].as_u64().unwrap_or(0))?;
    let ratio = number(&top["p99_over_single"]);
    let requests = number(&top["server_refreshes"]);
    let _ = writeln!(
        md,
        "Goal at N = {}: exactly one server refresh ({}: {requests:.1}) and p99 within 1.5x of one \
         caller ({}: {ratio:.2}x).\n",
        top["callers"],
        verdict((requests - 1.0).abs() < f64::EPSILON),
        verdict(ratio <= 1.5)
    );
    Some(svg(rows))
}

/// p99 against N, log-log, one line per strategy.
fn svg(rows: &[Value]) -> String {
    let (w, h, left, bottom, top, right) = (640.0, 380.0, 70.0, 50.0, 30.0, 150.0);
    let points = |strategy: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r["strategy"] == strategy)
            .map(|r| {
                (
                    number(&r["callers"]).max(1.0).log10(),
                    number(&r["p99_ms"]).max(0.01).log10(),
                )
            })
            .collect()
    };
    let all: Vec<(f64, f64)> = ["single_flight", "mutex", "naive"]
        .iter()
        .flat_map(|s| points(s))
        .collect();
    let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max).ceil();
    let y_min = all
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .floor();
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
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">p99 caller latency vs concurrent callers (log-log)</text>",
        (w - right + left) / 2.0
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
        let label = 10f64.powi(decade);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label} ms</text>",
            w - right,
            left - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">concurrent refresh() callers (N)</text>",
        (w - right + left) / 2.0,
        h - 12.0
    );
    for (i, (strategy, color)) in [
        ("single_flight", "#1b7f3b"),
        ("mutex", "#c77c02"),
        ("naive", "#b3261e"),
    ]
    .iter()
    .enumerate()
    {
        let line: Vec<String> = points(strategy)
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\" points=\"{}\"/>",
            line.join(" ")
        );
        for point in &line {
            let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                out,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/>"
            );
        }
        let ly = top + 20.0 + i as f64 * 20.0;
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2.5\"/><text x=\"{}\" y=\"{}\">{strategy}</text>",
            w - right + 10.0,
            w - right + 30.0,
            w - right + 36.0,
            ly + 4.0
        );
    }
    out.push_str("</svg>");
    out
}

fn main() {
    let results = results_dir();
    let target = results
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `scripts/bench-report.sh` ({}). Machine: {}. Shared, virtualised cores: \
         expect run-to-run noise of ±20%; compare ratios measured in the same run, not absolute \
         numbers across machines.\n",
        std::env::var("BENCH_MODE").unwrap_or_else(|_| "full".into()),
        machine()
    );
    let chart =
        read_json(&results.join("contention.json")).and_then(|data| contention(&mut md, &data));
    if let Some(cross) = read_json(&results.join("cross_process.json")) {
        let _ = writeln!(md, "## Cross-process contention\n");
        let _ = writeln!(
            md,
            "P processes share one file store and refresh at the same instant (each loaded the invalidated session first).\n"
        );
        let _ = writeln!(
            md,
            "| processes | server refreshes | reused tokens | burst wall (ms) |\n|---:|---:|---:|---:|"
        );
        for row in cross["rows"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} |",
                row["processes"],
                row["server_refreshes"],
                row["reused"],
                number(&row["wall_ms"])
            );
        }
        md.push('\n');
    }
    let sign_p256 = criterion_ns(&target, "dpop", "client_sign_p256");
    let sign_aws = criterion_ns(&target, "dpop", "client_sign_aws_lc_rs");
    let verify = criterion_ns(&target, "dpop", "server_verify");
    if let (Some(p256), Some(aws), Some(verify)) = (sign_p256, sign_aws, verify) {
        let _ = writeln!(
            md,
            "## DPoP cost per operation\n\n| operation | µs |\n|---|---:|"
        );
        let _ = writeln!(
            md,
            "| client signs a proof, p256 0.14 (pure Rust, the reference client's key) | {:.1} |",
            p256 / 1e3
        );
        let _ = writeln!(md, "| client signs a proof, aws-lc-rs | {:.1} |", aws / 1e3);
        let _ = writeln!(
            md,
            "| server verifies a proof (parse, ES256 verify, claims) | {:.1} |\n",
            verify / 1e3
        );
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    if let Some(pair) = criterion_ns(&target, "crypto_ceiling", "es256_verify_plus_sign") {
        let ceiling = cpus * 1e9 / pair;
        let _ = writeln!(md, "## Server throughput\n");
        let _ = writeln!(
            md,
            "Refreshes per second with full DPoP verification and access-token signing, each client \
             with its own session, closed loop over loopback HTTP. The clients (proof signing, HTTP) \
             run on the same {cpus} cores. Ceiling: {cpus} cores / (one ES256 verify + one ES256 \
             sign = {:.1} µs) = {ceiling:.0}/s, measured in the same run.\n",
            pair / 1e3
        );
        let _ = writeln!(
            md,
            "| clients | refreshes/s | of ceiling |\n|---:|---:|---:|"
        );
        let mut at_64 = None;
        for clients in [1u32, 8, 64, 256] {
            if let Some(ns) = criterion_ns(&target, "server_refresh", &format!("clients_{clients}"))
            {
                let rps = f64::from(clients) * 1e9 / ns;
                if clients == 64 {
                    at_64 = Some(rps / ceiling);
                }
                let _ = writeln!(
                    md,
                    "| {clients} | {rps:.0} | {:.0}% |",
                    rps / ceiling * 100.0
                );
            }
        }
        if let Some(share) = at_64 {
            let _ = writeln!(
                md,
                "\nGoal: at 64 clients, at least 70% of the ceiling ({}: {:.0}%).\n",
                verdict(share >= 0.7),
                share * 100.0
            );
        }
    }
    if let Some(memory) = read_json(&results.join("memory.json")) {
        let _ = writeln!(md, "## Memory\n\n| measure | value |\n|---|---:|");
        for row in memory["replay"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| replay cache, heap bytes per jti ({} live entries) | {:.1} |",
                row["entries"],
                number(&row["bytes_per_jti"])
            );
        }
        let sessions = &memory["sessions"];
        let _ = writeln!(
            md,
            "| heap bytes per session (store, spent challenge, replay entry; {sessions} sessions, journal cleared) | {:.0} |",
            number(&memory["heap_bytes_per_session"])
        );
        let rss = |v: &Value| {
            v.as_f64()
                .map_or("n/a".into(), |b| format!("{:.1} MiB", b / 1048576.0))
        };
        let _ = writeln!(
            md,
            "| resident memory before / after {sessions} sessions | {} / {} |\n",
            rss(&memory["rss_before_bytes"]),
            rss(&memory["rss_after_bytes"])
        );
        let worst = memory["replay"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| number(&r["bytes_per_jti"]))
            .fold(0.0, f64::max);
        let _ = writeln!(
            md,
            "Goal: under 200 bytes per jti ({}: at most {worst:.0}). Between sweeps the table may also hold expired entries, up to as many as live ones.\n",
            verdict(worst < 200.0)
        );
    }
    std::fs::write(docs.join("benchmarks.md"), &md).expect("write docs/benchmarks.md");
    if let Some(chart) = chart {
        std::fs::write(docs.join("benchmarks-latency.svg"), chart).expect("write svg");
    }
    println!("wrote {}", docs.join("benchmarks.md").display());
}
