//! Refresh contention, three strategies side by side in one run (see `prelude_benches::
//! contention`): for N = 1 … 10,000 concurrent callers after invalidation, the refresh requests
//! and reused tokens the server counted, burst wall time, p50/p99 caller latency, and p99 over
//! a single caller's refresh latency measured in the same run. Writes
//! `target/bench-results/contention.json` for `bench-report`.

use std::time::Duration;

use prelude_benches::contention::{Bench, Burst, Strategy};
use prelude_benches::{Mode, results_dir};
use prelude_conformance::bench::quantile;
use serde_json::json;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), prelude_benches::BenchError> {
    let mode = Mode::detect();
    let (sizes, reps): (&[usize], usize) = match mode {
        Mode::Smoke => (&[1, 10], 1),
        Mode::Quick => (&[1, 10, 100, 1_000, 10_000], 3),
        Mode::Full => (&[1, 10, 100, 1_000, 10_000], 10),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bench = runtime.block_on(Bench::start())?;
    // Warm the server, the connection pool and the code paths.
    for _ in 0..3 {
        for strategy in Strategy::ALL {
            runtime.block_on(bench.burst(strategy, 10))?;
        }
    }
    let mut rows = Vec::new();
    let mut single = None;
    println!(
        "{:<14}{:>7}{:>10}{:>8}{:>11}{:>10}{:>10}{:>9}{:>10}",
        "strategy", "N", "requests", "reused", "wall ms", "p50 ms", "p99 ms", "p99/1", "floor p99"
    );
    for &callers in sizes {
        for strategy in Strategy::ALL {
            let runs = if callers >= 10_000 {
                reps.div_ceil(3)
            } else {
                reps
            };
            let bursts: Vec<Burst> = (0..runs)
                .map(|_| runtime.block_on(bench.burst(strategy, callers)))
                .collect::<Result<_, _>>()?;
            let mut latencies: Vec<Duration> = bursts
                .iter()
                .flat_map(|b| b.latencies.iter().copied())
                .collect();
            latencies.sort();
            let mut walls: Vec<Duration> = bursts.iter().map(|b| b.wall).collect();
            walls.sort();
            let (p50, p99, wall) = (
                quantile(&latencies, 0.5),
                quantile(&latencies, 0.99),
                quantile(&walls, 0.5),
            );
            if strategy == Strategy::SingleFlight && callers == 1 {
                single = Some(p50);
            }
            let base = single.unwrap_or(p50);
            let requests =
                bursts.iter().map(|b| b.server_refreshes).sum::<u64>() as f64 / runs as f64;
            let reused = bursts.iter().map(|b| b.reused).sum::<u64>() as f64 / runs as f64;
            let ratio = p99.as_secs_f64() / base.as_secs_f64();
            // The floor: the same burst awaiting a bare shared future (reference client only).
            let floor_p99 = if strategy == Strategy::SingleFlight {
                let mut floors = Vec::new();
                for _ in 0..runs {
                    floors.extend(runtime.block_on(Bench::floor(callers, base))?);
                }
                floors.sort();
                Some(quantile(&floors, 0.99))
            } else {
                None
            };
            let per_waiter =
                |p99: Duration| p99.saturating_sub(base).as_secs_f64() * 1e6 / callers as f64;
            println!(
                "{:<14}{callers:>7}{requests:>10.1}{reused:>8.1}{:>11.2}{:>10.2}{:>10.2}{ratio:>9.2}{:>10}",
                strategy.name(),
                ms(wall),
                ms(p50),
                ms(p99),
                floor_p99.map_or(String::new(), |f| format!("{:.2}", ms(f)))
            );
            rows.push(json!({
                "strategy": strategy.name(), "callers": callers, "bursts": runs,
                "server_refreshes": requests, "reused": reused,
                "succeeded_min": bursts.iter().map(|b| b.succeeded).min(),
                "wall_ms": ms(wall), "p50_ms": ms(p50), "p99_ms": ms(p99), "p99_over_single": ratio,
                "floor_p99_ms": floor_p99.map(ms), "us_per_waiter": per_waiter(p99),
                "floor_us_per_waiter": floor_p99.map(per_waiter),
            }));
        }
    }
    let single_ms = single.map(ms).unwrap_or_default();
    let report = json!({"mode": format!("{mode:?}"), "single_caller_ms": single_ms, "pool": prelude_benches::contention::POOL, "rows": rows});
    std::fs::write(
        results_dir().join("contention.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    if mode == Mode::Smoke {
        // Smoke runs double as a check that the strategies behave as described.
        for row in &rows {
            if row["strategy"] == "single_flight" {
                assert_eq!(
                    row["server_refreshes"], 1.0,
                    "single flight: one request per burst"
                );
                assert_eq!(row["reused"], 0.0);
            }
        }
        println!("refresh_contention smoke: ok");
    }
    Ok(())
}
