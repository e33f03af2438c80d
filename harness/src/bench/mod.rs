//! Benchmarks any SDK and any server can be put through, with the figures they are judged by.
//!
//! - [`SdkBench`] (`prelude-conformance bench`): refresh contention through a [`Driver`]: N
//!   callers ask one client instance for a token at the same instant after its cache was
//!   invalidated, and the mock's journal says how many refreshes reached it and whether a
//!   token was presented twice. Each burst is set against the *floor*: the same N tasks
//!   awaiting a bare shared future that resolves after the same delay (module `floor`).
//! - [`ServerBench`] (`prelude-conformance bench server`): closed-loop refresh load on a
//!   Prelude-compatible server with proofs signed before the timed window, next to the crypto
//!   ceiling of the cores the server has (module `ceiling`).
//! - [`markdown`] and [`svg`] render reports, one or several side by side.
//!
//! Timings are reported, never asserted: the verdicts a bench gives are properties (one
//! refresh per burst, no reuse, no rejection).

mod ceiling;
mod floor;
mod render;
mod sdk;
mod server;

use std::time::Duration;

use prelude_mock_server::JournalEntry;

pub use ceiling::{CryptoCeiling, Pinning};
pub use floor::{Finished, floor, release};
pub use render::{Series, loglog, markdown, server_markdown, svg};
pub use sdk::{SdkBench, SdkReport, SizeRow, StaggerRow};
pub use server::{LevelRow, ServerBench, ServerReport};

use crate::{Error, ErrorKind};

/// The `q` quantile (0..=1) of sorted durations (nearest rank).
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Refresh requests in `journal` (entries of the refresh route), and how many of them
/// presented a token an earlier one had already presented: the two counts a burst is
/// judged by.
pub fn refreshes_and_reuse(journal: &[JournalEntry]) -> (u64, u64) {
    let presented: Vec<&String> = journal
        .iter()
        .filter_map(|e| e.refresh_token.as_ref())
        .collect();
    let distinct: std::collections::HashSet<&&String> = presented.iter().collect();
    (
        journal.len() as u64,
        (presented.len() - distinct.len()) as u64,
    )
}

/// Milliseconds as a float, for reports.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn bench_error(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Bench, message.to_string())
}

/// The machine a report was measured on: cores, CPU model, memory, OS.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
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

/// A progress bar on stderr when it is a terminal, nothing otherwise.
pub(crate) fn progress(total: u64, on: bool) -> indicatif::ProgressBar {
    if !on {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
