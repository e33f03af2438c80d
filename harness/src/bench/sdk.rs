//! Refresh contention through a [`Driver`]: the reference client in process or any SDK behind
//! an adapter, measured the same way.
//!
//! A burst: the client instance is logged in, its cached access token is invalidated, N
//! callers are released at once (pipelined `refresh` requests, for an adapter), and the
//! mock's journal counts the refresh requests that reached it and the tokens presented more
//! than once. Latency is per caller, from the release. Each size is also run as the floor
//! (`floor`) with the single caller's latency as its delay. A staggered run spreads callers
//! over a window while one refresh is held in flight: callers that come during it must join
//! it, callers that come after it must find the fresh token.
//!
//! This module owns the procedure and the report's numbers; rendering lives in `render`.

use std::sync::Arc;
use std::time::Duration;

use prelude_mock_server::{Fault, FaultAction, MockServer, Route};
use serde::{Deserialize, Serialize};

use super::floor::{Finished, floor, release};
use super::{bench_error, machine, ms, progress, quantile, refreshes_and_reuse};
use crate::protocol::{ClientConfig, MAIN_CLIENT, Op, SdkInfo};
use crate::runner::{scratch_dir, unix_now};
use crate::{Driver, Error};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench-password";

/// The contention benchmark's settings (a builder); [`run`](Self::run) measures one SDK.
///
/// ```no_run
/// # async fn run() -> Result<(), prelude_conformance::Error> {
/// use std::sync::Arc;
/// use prelude_conformance::InProcess;
/// use prelude_conformance::bench::SdkBench;
///
/// let report = SdkBench::new()
///     .sizes(vec![1, 10, 100])
///     .bursts(5)
///     .run(Arc::new(InProcess::new()), "reference client")
///     .await?;
/// assert!(report.sizes.iter().all(|row| row.refreshes_max == 1));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SdkBench {
    sizes: Vec<usize>,
    bursts: usize,
    stagger: Option<usize>,
    hold: Duration,
    progress: bool,
}

impl Default for SdkBench {
    fn default() -> Self {
        Self::new()
    }
}

impl SdkBench {
    /// N = 1, 10, 100, 1,000 and 10,000; 10 bursts each (4 at 10,000); a staggered run of
    /// 1,000 callers over twice a 50 ms hold.
    pub fn new() -> Self {
        Self {
            sizes: vec![1, 10, 100, 1_000, 10_000],
            bursts: 10,
            stagger: Some(1_000),
            hold: Duration::from_millis(50),
            progress: false,
        }
    }

    /// The burst sizes (N = 1 is always measured too: it is the single caller's latency).
    pub fn sizes(mut self, sizes: Vec<usize>) -> Self {
        self.sizes = sizes;
        self
    }

    /// Bursts per size (sizes of 10,000 and more run a third as many, at least 1).
    pub fn bursts(mut self, bursts: usize) -> Self {
        self.bursts = bursts.max(1);
        self
    }

    /// Callers of the staggered run, or `None` to skip it.
    pub fn stagger(mut self, callers: Option<usize>) -> Self {
        self.stagger = callers;
        self
    }

    /// How long the server holds the staggered run's refresh (its callers arrive over twice
    /// that).
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Show a progress bar on stderr (when it is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    fn bursts_for(&self, callers: usize) -> usize {
        if callers >= 10_000 {
            self.bursts.div_ceil(3)
        } else {
            self.bursts
        }
    }

    /// Measures the SDK behind `driver` against a fresh mock server; `label` names it in
    /// reports (e.g. "prelude-session, in process").
    pub async fn run(&self, driver: Arc<dyn Driver>, label: &str) -> Result<SdkReport, Error> {
        let hello = driver.hello().clone();
        let cap = hello.max_in_flight.map(|c| c as usize);
        // Ascending, with N = 1 first: its latency is the floor's delay for every size.
        let mut sizes: Vec<usize> = self.sizes.clone();
        sizes.push(1);
        sizes.sort_unstable();
        sizes.dedup();
        let (sizes, skipped): (Vec<usize>, Vec<usize>) =
            sizes.into_iter().partition(|n| cap.is_none_or(|c| *n <= c));
        let stagger = self.stagger.map(|n| cap.map_or(n, |c| n.min(c)));
        let total = sizes
            .iter()
            .map(|n| self.bursts_for(*n) as u64)
            .sum::<u64>()
            + stagger.map_or(0, |_| self.bursts as u64);
        let bar = progress(total, self.progress);

        let mut builder = MockServer::builder();
        if hello.requires.iter().any(|r| r == "https") {
            builder = builder.tls_self_signed();
        }
        let server = builder.start().await.map_err(bench_error)?;
        server
            .control()
            .create_user(EMAIL, PASSWORD)
            .await
            .map_err(bench_error)?;
        let mut client = Client {
            driver,
            server: &server,
            workdir: scratch_dir(),
            logins: 0,
            logged_in: false,
        };
        // Warm the connections and the code paths.
        for _ in 0..3 {
            client.burst(10.min(cap.unwrap_or(10))).await?;
        }

        let mut rows = Vec::new();
        let mut single = None;
        for &callers in &sizes {
            bar.set_message(format!("N = {callers}"));
            let mut bursts = Vec::new();
            for _ in 0..self.bursts_for(callers) {
                bursts.push(client.burst(callers).await?);
                bar.inc(1);
            }
            let latencies = sorted(bursts.iter().flat_map(|b| b.latencies.iter().copied()));
            let single = *single.get_or_insert(quantile(&latencies, 0.5));
            let mut floors = Vec::new();
            for _ in 0..bursts.len() {
                let finished = floor(callers, single).await?;
                floors.extend(finished.into_iter().map(|(_, d)| d));
            }
            rows.push(SizeRow::new(
                callers,
                &bursts,
                &latencies,
                &sorted(floors.into_iter()),
                single,
            ));
        }
        let stagger = match stagger {
            Some(callers) => {
                bar.set_message(format!("staggered, N = {callers}"));
                let mut bursts = Vec::new();
                for _ in 0..self.bursts {
                    bursts.push(client.staggered(callers, self.hold).await?);
                    bar.inc(1);
                }
                Some(StaggerRow::new(callers, self.hold, &bursts))
            }
            None => None,
        };
        bar.finish_and_clear();
        let _removed = std::fs::remove_dir_all(&client.workdir);
        drop(client);
        server.shutdown().await;
        Ok(SdkReport {
            label: label.to_owned(),
            sdk: hello.sdk,
            machine: machine(),
            unix_time: unix_now(),
            max_in_flight: hello.max_in_flight,
            single_ms: single.map_or(0.0, ms),
            sizes: rows,
            skipped_sizes: skipped,
            stagger,
        })
    }
}

fn sorted(durations: impl Iterator<Item = Duration>) -> Vec<Duration> {
    let mut all: Vec<Duration> = durations.collect();
    all.sort_unstable();
    all
}

/// One SDK client instance under the bench, logged in again whenever a burst went wrong.
struct Client<'a> {
    driver: Arc<dyn Driver>,
    server: &'a MockServer,
    workdir: std::path::PathBuf,
    logins: usize,
    logged_in: bool,
}

impl Client<'_> {
    async fn call(&self, op: Op) -> Result<serde_json::Value, Error> {
        let name = op.name();
        self.driver
            .call(MAIN_CLIENT.to_owned(), op)
            .await
            .map_err(|e| bench_error(format!("`{name}` failed: {e}")))
    }

    /// A fresh instance (new storage) logged in, unless the last one is still good.
    async fn ensure_logged_in(&mut self) -> Result<(), Error> {
        if self.logged_in {
            return Ok(());
        }
        self.logins += 1;
        std::fs::create_dir_all(&self.workdir).map_err(bench_error)?;
        self.call(Op::Configure(ClientConfig {
            base_url: self.server.url().to_owned(),
            storage: format!("bench-{}", self.logins),
            workdir: self.workdir.clone(),
            separate_process: false,
            reuse_grace_seconds: None,
            retry_base_delay_ms: None,
        }))
        .await?;
        self.call(Op::Login {
            email: EMAIL.to_owned(),
            password: PASSWORD.into(),
        })
        .await?;
        self.logged_in = true;
        Ok(())
    }

    /// Invalidates the cached token and clears the journal: the next callers must refresh.
    async fn prepare(&mut self) -> Result<(), Error> {
        self.ensure_logged_in().await?;
        self.call(Op::Invalidate).await?;
        self.server
            .control()
            .clear_journal()
            .await
            .map_err(bench_error)
    }

    async fn burst(&mut self, callers: usize) -> Result<Burst, Error> {
        self.prepare().await?;
        self.run_callers(callers, |_| Duration::ZERO).await
    }

    /// `callers` arrive evenly over `2 × hold` while the server holds the refresh for `hold`.
    async fn staggered(&mut self, callers: usize, hold: Duration) -> Result<Burst, Error> {
        self.prepare().await?;
        let fault = Fault::new(
            Route::Refresh,
            FaultAction::Delay {
                ms: u64::try_from(hold.as_millis()).unwrap_or(u64::MAX),
            },
        );
        self.server
            .control()
            .add_fault(&fault)
            .await
            .map_err(bench_error)?;
        let burst = self
            .run_callers(callers, move |i| {
                (hold * 2).mul_f64(i as f64 / callers as f64)
            })
            .await;
        // A hold no refresh consumed must not delay the next burst.
        self.server
            .control()
            .clear_faults()
            .await
            .map_err(bench_error)?;
        burst
    }

    /// Releases `callers` refresh calls, caller `i` at `arrival(i)` after the release (at
    /// once when that is zero), and counts the outcome.
    async fn run_callers(
        &mut self,
        callers: usize,
        arrival: impl Fn(usize) -> Duration + Copy + Send + Sync + 'static,
    ) -> Result<Burst, Error> {
        let driver = self.driver.clone();
        let finished = release(callers, move |i, released| {
            let driver = driver.clone();
            async move {
                let offset = arrival(i);
                if !offset.is_zero() {
                    tokio::time::sleep_until((released + offset).into()).await;
                }
                driver
                    .call(MAIN_CLIENT.to_owned(), Op::Refresh)
                    .await
                    .is_ok()
            }
        })
        .await?;
        self.count(finished, arrival).await
    }

    /// The burst's outcome from the callers and the server's journal; a burst that failed a
    /// caller or reused a token leaves the session to be logged in again.
    async fn count(
        &mut self,
        finished: Finished,
        arrival: impl Fn(usize) -> Duration,
    ) -> Result<Burst, Error> {
        let succeeded = finished.iter().filter(|(ok, _)| *ok).count();
        let wall = finished.iter().map(|(_, d)| *d).max().unwrap_or_default();
        let latencies = sorted(
            finished
                .iter()
                .enumerate()
                .map(|(i, (_, d))| d.saturating_sub(arrival(i))),
        );
        let journal = self
            .server
            .control()
            .journal(0, Some(Route::Refresh))
            .await
            .map_err(bench_error)?;
        let (refreshes, reused) = refreshes_and_reuse(&journal);
        let burst = Burst {
            refreshes,
            reused,
            failed: (finished.len() - succeeded) as u64,
            wall,
            latencies,
        };
        if burst.failed > 0 || burst.reused > 0 {
            self.logged_in = false;
        }
        Ok(burst)
    }
}

/// What one burst did.
#[derive(Clone, Debug)]
struct Burst {
    /// Refresh requests the server received.
    refreshes: u64,
    /// Presentations of a token already presented in this burst.
    reused: u64,
    /// Callers that got an error.
    failed: u64,
    /// From the release to the last caller's answer.
    wall: Duration,
    /// Every caller's latency, sorted (from its own arrival in a staggered run).
    latencies: Vec<Duration>,
}

/// One benchmarked SDK: every size, the staggered run, and where it ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SdkReport {
    /// What the report calls this SDK and driver, e.g. "prelude-session, in process".
    pub label: String,
    /// The SDK, as its `hello` said.
    pub sdk: SdkInfo,
    /// Cores, CPU, memory, OS.
    pub machine: String,
    /// When it ran (unix seconds).
    pub unix_time: u64,
    /// The SDK's declared limit of requests in flight, if any.
    pub max_in_flight: Option<u32>,
    /// One caller's refresh latency (median of the N = 1 bursts), ms: the floor's delay.
    pub single_ms: f64,
    /// One row per burst size.
    pub sizes: Vec<SizeRow>,
    /// Sizes not run because the SDK declared a smaller `max_in_flight`.
    pub skipped_sizes: Vec<usize>,
    /// The staggered-arrival run.
    pub stagger: Option<StaggerRow>,
}

impl SdkReport {
    /// Whether every burst, staggered ones included, sent exactly one refresh, presented no
    /// token twice and failed no caller: the property a coalescing SDK must have.
    pub fn coalesced(&self) -> bool {
        self.sizes
            .iter()
            .all(|r| r.refreshes_min == 1 && r.refreshes_max == 1 && r.reused == 0 && r.failed == 0)
            && self.stagger.as_ref().is_none_or(|s| {
                s.refreshes_min == 1 && s.refreshes_max == 1 && s.reused == 0 && s.failed == 0
            })
    }
}

/// The bursts of one size.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SizeRow {
    /// Concurrent callers (N).
    pub callers: usize,
    /// Bursts measured.
    pub bursts: usize,
    /// Fewest refresh requests the server saw in a burst.
    pub refreshes_min: u64,
    /// Most refresh requests the server saw in a burst.
    pub refreshes_max: u64,
    /// Token presentations that repeated one (all bursts).
    pub reused: u64,
    /// Callers that got an error (all bursts).
    pub failed: u64,
    /// Median burst wall time, ms.
    pub wall_ms: f64,
    /// Caller latency percentiles over all bursts, ms.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// The floor's p99 at this size, ms.
    pub floor_p99_ms: f64,
    /// (p99 − one caller's latency) / N, µs: what each waiter adds.
    pub us_per_waiter: f64,
    /// The same for the floor.
    pub floor_us_per_waiter: f64,
}

impl SizeRow {
    fn new(
        callers: usize,
        bursts: &[Burst],
        latencies: &[Duration],
        floors: &[Duration],
        single: Duration,
    ) -> Self {
        let mut walls: Vec<Duration> = bursts.iter().map(|b| b.wall).collect();
        walls.sort_unstable();
        let (p99, floor_p99) = (quantile(latencies, 0.99), quantile(floors, 0.99));
        let per_waiter =
            |p99: Duration| p99.saturating_sub(single).as_secs_f64() * 1e6 / callers as f64;
        Self {
            callers,
            bursts: bursts.len(),
            refreshes_min: bursts.iter().map(|b| b.refreshes).min().unwrap_or(0),
            refreshes_max: bursts.iter().map(|b| b.refreshes).max().unwrap_or(0),
            reused: bursts.iter().map(|b| b.reused).sum(),
            failed: bursts.iter().map(|b| b.failed).sum(),
            wall_ms: ms(quantile(&walls, 0.5)),
            p50_ms: ms(quantile(latencies, 0.5)),
            p99_ms: ms(p99),
            floor_p99_ms: ms(floor_p99),
            us_per_waiter: per_waiter(p99),
            floor_us_per_waiter: per_waiter(floor_p99),
        }
    }

    /// Overhead per waiter over the floor's (`None` below 100 callers, where both are lost
    /// in the noise of one request).
    pub fn over_floor(&self) -> Option<f64> {
        (self.callers >= 100 && self.floor_us_per_waiter > 0.0)
            .then(|| self.us_per_waiter / self.floor_us_per_waiter)
    }
}

/// The staggered-arrival run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StaggerRow {
    /// Callers per burst.
    pub callers: usize,
    /// How long the server held the refresh, ms; callers arrived evenly over twice that.
    pub hold_ms: f64,
    /// Bursts measured.
    pub bursts: usize,
    /// Fewest refresh requests the server saw in a burst.
    pub refreshes_min: u64,
    /// Most refresh requests the server saw in a burst.
    pub refreshes_max: u64,
    /// Token presentations that repeated one.
    pub reused: u64,
    /// Callers that got an error.
    pub failed: u64,
    /// Latency from each caller's own arrival, ms.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
}

impl StaggerRow {
    fn new(callers: usize, hold: Duration, bursts: &[Burst]) -> Self {
        let latencies = sorted(bursts.iter().flat_map(|b| b.latencies.iter().copied()));
        Self {
            callers,
            hold_ms: ms(hold),
            bursts: bursts.len(),
            refreshes_min: bursts.iter().map(|b| b.refreshes).min().unwrap_or(0),
            refreshes_max: bursts.iter().map(|b| b.refreshes).max().unwrap_or(0),
            reused: bursts.iter().map(|b| b.reused).sum(),
            failed: bursts.iter().map(|b| b.failed).sum(),
            p50_ms: ms(quantile(&latencies, 0.5)),
            p99_ms: ms(quantile(&latencies, 0.99)),
        }
    }
}
