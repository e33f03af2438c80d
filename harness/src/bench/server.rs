//! Closed-loop refresh load on any Prelude-compatible server.
//!
//! Sessions are logged in through the server's control API (the mock's, or any server
//! offering it). Before each timed window every client's proofs are signed, so the load
//! generator's own cryptography does not compete with the server's; a client that runs out,
//! or a server that demands DPoP nonces, has its proofs signed in the window, and the report
//! counts them. Each client refreshes its own session back to back and keeps the rotated
//! token. The load must break nothing: reuse detected, rejections, 5xx and transport errors
//! are counted per level.
//!
//! Started without a URL, the bench runs the mock itself, pinned to its own cores
//! ([`Pinning`]), and reports the crypto ceiling of exactly those cores.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use prelude_mock_server::proof::ProofKey;
use prelude_mock_server::raw::{self, RawRequest, RawSession};
use prelude_mock_server::{ControlClient, MockServer, Policy, Secret, Stats, TlsInfo};
use serde::{Deserialize, Serialize};

use super::ceiling::{CryptoCeiling, Pinning, pin_threads};
use super::{bench_error, machine, ms, progress, quantile};
use crate::Error;
use crate::runner::unix_now;

const EMAIL: &str = "bench-load@example.com";
/// Proofs signed before one timed window, all clients together, at most.
const MAX_PRESIGNED: usize = 2_000_000;

/// The server load benchmark's settings (a builder); [`run`](Self::run) measures.
///
/// ```no_run
/// use std::time::Duration;
/// use prelude_conformance::bench::ServerBench;
///
/// // The mock, on cores of its own, at 1 and 64 clients for 5 s each.
/// let report = ServerBench::new()
///     .clients(vec![1, 64])
///     .duration(Duration::from_secs(5))
///     .run()?;
/// assert!(report.clean());
/// # Ok::<(), prelude_conformance::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServerBench {
    remote: Option<Remote>,
    clients: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    server_cores: Option<usize>,
    pin: bool,
    progress: bool,
}

#[derive(Clone, Debug)]
struct Remote {
    url: String,
    token: Option<Secret>,
    tls: Option<TlsInfo>,
}

impl Default for ServerBench {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBench {
    /// A mock started by the bench, pinned; 1, 8, 64 and 256 clients; 10 s per level after
    /// a 1 s warm-up.
    pub fn new() -> Self {
        Self {
            remote: None,
            clients: vec![1, 8, 64, 256],
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            server_cores: None,
            pin: true,
            progress: false,
        }
    }

    /// Load the server at `url` (without `/v1/session`) instead; `token` is its control
    /// token, `tls` the certificate to trust.
    pub fn url(mut self, url: &str, token: Option<Secret>, tls: Option<TlsInfo>) -> Self {
        self.remote = Some(Remote {
            url: url.trim_end_matches('/').to_owned(),
            token,
            tls,
        });
        self
    }

    /// Concurrent clients per level.
    pub fn clients(mut self, clients: Vec<usize>) -> Self {
        self.clients = clients;
        self
    }

    /// Length of each timed window.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Length of each level's warm-up (which also sizes the proofs to sign).
    pub fn warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    /// The cores a remote server has, for its ceiling (default: as many as this machine).
    pub fn server_cores(mut self, cores: usize) -> Self {
        self.server_cores = Some(cores.max(1));
        self
    }

    /// Pin the bench's own mock and the load to separate cores (default on).
    pub fn pin(mut self, on: bool) -> Self {
        self.pin = on;
        self
    }

    /// Show a progress bar on stderr (when it is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Runs every level. Blocking: it builds its own runtimes (one per side, on the side's
    /// cores), so call it from a plain thread, not from inside an async runtime.
    pub fn run(&self) -> Result<ServerReport, Error> {
        let machine_cores = std::thread::available_parallelism().map_or(1, usize::from);
        let pinning = match (&self.remote, self.pin) {
            (Some(_), _) => Pinning::none("remote server: its cores are its own"),
            (None, true) => Pinning::split(),
            (None, false) => {
                Pinning::none("pinning switched off: the server and the load share the cores")
            }
        };
        let load = runtime("bench-load", &pinning.load_cores)?;
        let (mock_runtime, mock, target, control, tls) = match &self.remote {
            Some(remote) => {
                let control =
                    ControlClient::new(&remote.url, remote.token.clone(), remote.tls.as_ref())
                        .map_err(bench_error)?;
                (None, None, remote.url.clone(), control, remote.tls.clone())
            }
            None => {
                let rt = runtime("bench-server", &pinning.server_cores)?;
                // A wide iat window: proofs are signed a few seconds before they are sent.
                let policy = Policy {
                    iat_window_seconds: 300,
                    ..Policy::default()
                };
                let server = rt
                    .block_on(MockServer::builder().policy(policy).start())
                    .map_err(bench_error)?;
                let url = server.url().to_owned();
                // A client of the load's own, not the one made on the server's runtime.
                let control = ControlClient::new(&url, None, None).map_err(bench_error)?;
                (Some(rt), Some(server), url, control, None)
            }
        };
        let (cores, ceiling_note) = match (&self.remote, pinning.pinned()) {
            (None, true) => (
                pinning.server_cores.len(),
                "the server's pinned cores".to_owned(),
            ),
            (None, false) => (
                machine_cores,
                "all cores, shared with the load generator".to_owned(),
            ),
            (Some(_), _) => match self.server_cores {
                Some(n) => (
                    n,
                    format!("{n} server core(s), as given; measured on this machine's cores"),
                ),
                None => (
                    machine_cores,
                    "server cores unknown: this machine's core count assumed".to_owned(),
                ),
            },
        };
        let budget = (self.warmup * 2).min(Duration::from_secs(2));
        let ceiling = CryptoCeiling::measure(pinning.server_cores.first().copied(), cores, budget)?;
        let http = http_client(tls.as_ref())?;
        let levels = load.block_on(self.levels(&target, &control, &http, &ceiling));
        if let (Some(rt), Some(server)) = (mock_runtime, mock) {
            rt.block_on(server.shutdown());
        }
        Ok(ServerReport {
            target: match &self.remote {
                Some(r) => r.url.clone(),
                None => "prelude-mock (started by the bench)".to_owned(),
            },
            machine: machine(),
            unix_time: unix_now(),
            duration_s: self.duration.as_secs_f64(),
            pinning,
            ceiling,
            ceiling_note,
            levels: levels?,
        })
    }

    async fn levels(
        &self,
        base: &str,
        control: &ControlClient,
        http: &reqwest::Client,
        ceiling: &CryptoCeiling,
    ) -> Result<Vec<LevelRow>, Error> {
        let api = format!("{base}/v1/session");
        let url = format!("{api}/refresh");
        let user = match control.create_user(EMAIL, "pw").await {
            Ok(user) => user.id,
            Err(_) => {
                control
                    .users()
                    .await
                    .map_err(bench_error)?
                    .into_iter()
                    .find(|u| u.email == EMAIL)
                    .ok_or_else(|| bench_error(format!("cannot create or find {EMAIL}")))?
                    .id
            }
        };
        let most = self.clients.iter().copied().max().unwrap_or(1);
        let bar = progress(self.clients.len() as u64 * 2 + 1, self.progress);
        bar.set_message(format!("logging in {most} sessions"));
        let mut clients: Vec<LoadClient> = futures_util::stream::iter(0..most)
            .map(|_| RawSession::login(http, &api, control, &user, unix_seconds()))
            .buffer_unordered(32)
            .map_ok(LoadClient::from)
            .try_collect()
            .await
            .map_err(bench_error)?;
        bar.inc(1);
        let mut rows = Vec::new();
        for &n in &self.clients {
            bar.set_message(format!("{n} clients: warm-up and signing"));
            let active = &mut clients[..n];
            let warm = drive(active, Vec::new(), http, &url, self.warmup).await;
            let rate = warm.ok as f64 / self.warmup.as_secs_f64();
            let each = ((rate * self.duration.as_secs_f64() * 1.5 / n as f64) as usize + 8)
                .min(MAX_PRESIGNED / n);
            let proofs = presign(active, &url, each).await?;
            bar.inc(1);
            bar.set_message(format!("{n} clients: timed"));
            let before = stats(control).await;
            let cpu_before = server_cpu();
            let tally = drive(active, proofs, http, &url, self.duration).await;
            let cpu = server_cpu()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before))
                .filter(|_| self.remote.is_none());
            let after = stats(control).await;
            bar.inc(1);
            let elapsed = tally.elapsed;
            let mut row = LevelRow::new(n, tally, before.zip(after), ceiling, (each * n) as u64);
            if let Some(cpu) = cpu {
                let cpu = cpu.as_secs_f64();
                row.server_cpu_us_per_refresh = Some(cpu * 1e6 / row.refreshes.max(1) as f64);
                row.server_busy =
                    Some(cpu / elapsed.as_secs_f64().max(1e-9) / ceiling.cores as f64);
            }
            rows.push(row);
        }
        bar.finish_and_clear();
        Ok(rows)
    }
}

/// The server's stats, if its control API answers (once more after a failure).
async fn stats(control: &ControlClient) -> Option<Stats> {
    match control.stats().await {
        Ok(stats) => Some(stats),
        Err(_) => control.stats().await.ok(),
    }
}

fn runtime(name: &str, cores: &[usize]) -> Result<tokio::runtime::Runtime, Error> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Named, so a profile tells the server's time from the load's.
    builder.thread_name(name);
    if !cores.is_empty() {
        builder.worker_threads(cores.len());
    }
    builder
        .enable_all()
        .on_thread_start(pin_threads(cores.to_vec()))
        .build()
        .map_err(bench_error)
}

/// CPU time used so far by the threads of the bench's own mock (`bench-server`), from
/// `/proc` (Linux only; clock ticks of 10 ms).
fn server_cpu() -> Option<Duration> {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "bench-server" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis start at field 3: utime is 14, stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(11) + field(12);
    }
    Some(Duration::from_millis(ticks * 10))
}

fn http_client(tls: Option<&TlsInfo>) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder().pool_max_idle_per_host(4096);
    if let Some(tls) = tls {
        let cert = reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).map_err(bench_error)?;
        builder = builder.tls_certs_only([cert]);
    }
    builder.build().map_err(bench_error)
}

/// Unix seconds for proofs' `iat` (the server under load runs on the system clock).
fn unix_seconds() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

/// One session under load: its key, current token and the server's last nonce.
struct LoadClient {
    key: Arc<ProofKey>,
    token: String,
    nonce: Option<String>,
    alive: bool,
}

impl From<RawSession> for LoadClient {
    fn from(session: RawSession) -> Self {
        Self {
            key: session.key,
            token: session.refresh_token,
            nonce: session.nonce,
            alive: true,
        }
    }
}

/// Signs `each` proofs per client, on the load generator's threads, before the clock runs.
async fn presign(
    clients: &[LoadClient],
    url: &str,
    each: usize,
) -> Result<Vec<Vec<String>>, Error> {
    let now = unix_seconds();
    let jobs = clients.iter().map(|c| {
        let (key, url) = (c.key.clone(), url.to_owned());
        tokio::task::spawn_blocking(move || {
            (0..each)
                .map(|_| key.proof("POST", &url, now))
                .collect::<Vec<_>>()
        })
    });
    futures_util::future::try_join_all(jobs)
        .await
        .map_err(bench_error)
}

/// What the clients of one window did.
#[derive(Default)]
struct Tally {
    ok: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    rejections: BTreeMap<String, u64>,
    server_errors: u64,
    transport_errors: u64,
    signed_in_window: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.elapsed = self.elapsed.max(other.elapsed);
        self.latencies.extend(other.latencies);
        for (code, n) in other.rejections {
            *self.rejections.entry(code).or_default() += n;
        }
        self.server_errors += other.server_errors;
        self.transport_errors += other.transport_errors;
        self.signed_in_window += other.signed_in_window;
    }
}

/// Every live client refreshes back to back for `window`, with its pre-signed proofs first.
async fn drive(
    clients: &mut [LoadClient],
    proofs: Vec<Vec<String>>,
    http: &reqwest::Client,
    url: &str,
    window: Duration,
) -> Tally {
    let until = Instant::now() + window;
    let mut proofs = proofs.into_iter();
    let mut tasks = Vec::new();
    for client in clients.iter_mut() {
        let mine = proofs.next().unwrap_or_default();
        let taken = std::mem::replace(
            client,
            LoadClient {
                key: client.key.clone(),
                token: String::new(),
                nonce: None,
                alive: false,
            },
        );
        let (http, url) = (http.clone(), url.to_owned());
        tasks.push(tokio::spawn(one_client(taken, mine, http, url, until)));
    }
    let mut tally = Tally::default();
    for (slot, task) in clients.iter_mut().zip(tasks) {
        if let Ok((client, mine)) = task.await {
            *slot = client;
            tally.add(mine);
        }
    }
    tally
}

async fn one_client(
    mut client: LoadClient,
    proofs: Vec<String>,
    http: reqwest::Client,
    url: String,
    until: Instant,
) -> (LoadClient, Tally) {
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut proofs = proofs.into_iter();
    while client.alive && Instant::now() < until {
        let proof = match (&client.nonce, proofs.next()) {
            (None, Some(proof)) => proof,
            (nonce, _) => {
                tally.signed_in_window += 1;
                let builder = client.key.builder("POST", &url, unix_seconds());
                match nonce {
                    Some(nonce) => builder.nonce(nonce).build(),
                    None => builder.build(),
                }
            }
        };
        let request = RawRequest {
            proof: Some(&proof),
            refresh_token: Some(&client.token),
            ..RawRequest::default()
        };
        let sent = Instant::now();
        let answer = raw::send(&http, &url, request).await;
        tally.latencies.push(sent.elapsed());
        match answer {
            Err(_) => {
                // Whether the token rotated is unknown: this session is done.
                tally.transport_errors += 1;
                client.alive = false;
            }
            Ok(answer) => {
                if answer.nonce.is_some() {
                    client.nonce = answer.nonce.clone();
                }
                match (answer.status, answer.refresh_token) {
                    (200, Some(token)) => {
                        client.token = token;
                        tally.ok += 1;
                    }
                    (_, _) if answer.code.as_deref() == Some("use_dpop_nonce") => {}
                    (status, _) => {
                        if status >= 500 {
                            tally.server_errors += 1;
                        } else {
                            let code = answer.code.unwrap_or_else(|| status.to_string());
                            *tally.rejections.entry(code).or_default() += 1;
                        }
                        client.alive = status >= 500;
                    }
                }
            }
        }
    }
    tally.elapsed = started.elapsed();
    (client, tally)
}

/// One level of load: how fast, how slow, and what broke.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LevelRow {
    /// Concurrent clients, each with its own session.
    pub clients: usize,
    /// Successful refreshes in the window.
    pub refreshes: u64,
    /// Successful refreshes per second.
    pub per_s: f64,
    /// `per_s` over the crypto ceiling (0..1).
    pub of_ceiling: f64,
    /// Latency per request, ms.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p90_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// See `p50_ms`.
    pub max_ms: f64,
    /// Error answers below 500 by Prelude code (a session rejected stops its client).
    pub rejections: BTreeMap<String, u64>,
    /// 5xx answers.
    pub server_errors: u64,
    /// Requests that got no answer.
    pub transport_errors: u64,
    /// Reuse the server detected in the window (from its control API's stats).
    pub reuse_detected: Option<u64>,
    /// Proofs signed before the window.
    pub presigned: u64,
    /// Proofs signed inside the window (nonces, or pre-signed ones ran out).
    pub signed_in_window: u64,
    /// CPU time the bench's own mock spent per refresh, µs (Linux; `None` for a remote
    /// server).
    pub server_cpu_us_per_refresh: Option<f64>,
    /// How busy the mock's cores were in the window (0..1; `None` for a remote server).
    pub server_busy: Option<f64>,
}

impl LevelRow {
    fn new(
        clients: usize,
        mut tally: Tally,
        stats: Option<(Stats, Stats)>,
        ceiling: &CryptoCeiling,
        presigned: u64,
    ) -> Self {
        tally.latencies.sort_unstable();
        let seconds = tally.elapsed.as_secs_f64().max(1e-9);
        let per_s = tally.ok as f64 / seconds;
        let q = |p| ms(quantile(&tally.latencies, p));
        Self {
            clients,
            refreshes: tally.ok,
            per_s,
            of_ceiling: per_s / ceiling.per_s,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: q(1.0),
            rejections: tally.rejections,
            server_errors: tally.server_errors,
            transport_errors: tally.transport_errors,
            reuse_detected: stats.map(|(b, a)| a.reuse_detected.saturating_sub(b.reuse_detected)),
            presigned,
            signed_in_window: tally.signed_in_window,
            server_cpu_us_per_refresh: None,
            server_busy: None,
        }
    }

    /// Whether the load broke nothing at this level.
    pub fn clean(&self) -> bool {
        self.rejections.is_empty()
            && self.server_errors == 0
            && self.transport_errors == 0
            && self.reuse_detected.unwrap_or(0) == 0
    }
}

/// A server load run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerReport {
    /// The server's URL, or the mock the bench started.
    pub target: String,
    /// Cores, CPU, memory, OS of the load generator's machine.
    pub machine: String,
    /// When it ran (unix seconds).
    pub unix_time: u64,
    /// Each level's timed window, seconds.
    pub duration_s: f64,
    /// Which cores each side had.
    pub pinning: Pinning,
    /// The crypto ceiling of the server's cores.
    pub ceiling: CryptoCeiling,
    /// Which cores the ceiling counts, in words.
    pub ceiling_note: String,
    /// One row per client count.
    pub levels: Vec<LevelRow>,
}

impl ServerReport {
    /// Whether no level saw reuse, a rejection, a 5xx or a lost request.
    pub fn clean(&self) -> bool {
        self.levels.iter().all(LevelRow::clean)
    }
}
