//! Refresh contention: N callers ask for a token at the same instant after the cached one was
//! invalidated. Three strategies, measured side by side against the real mock server:
//!
//! - `single_flight`: the reference client (`prelude-session`): one request, shared outcome;
//! - `mutex`: callers queue on a lock; the holder refreshes, the others re-check the cache;
//! - `naive`: every caller refreshes on its own with the token it has (what a client without
//!   coalescing does); the server sees N requests with one token and N-1 reuses.
//!
//! The server's stats are the oracle for requests and reuse; latencies are per caller, from
//! the burst's start.

use std::sync::Arc;
use std::time::Duration;

use prelude_conformance::bench::{floor, refreshes_and_reuse, release};
use prelude_mock_server::{MockServer, Route};
use prelude_session::SessionClient;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

use crate::{BenchError, RawSession, login, refresh, spend};

/// Connections the raw clients may have open at once (the OS limits sockets).
pub const POOL: usize = 1024;

/// A refresh strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The reference client.
    SingleFlight,
    /// A lock around refresh-and-recheck.
    Mutex,
    /// No coordination.
    Naive,
}

impl Strategy {
    /// All strategies, in report order.
    pub const ALL: [Strategy; 3] = [Strategy::SingleFlight, Strategy::Mutex, Strategy::Naive];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::SingleFlight => "single_flight",
            Self::Mutex => "mutex",
            Self::Naive => "naive",
        }
    }
}

/// What one burst did.
#[derive(Clone, Debug, Serialize)]
pub struct Burst {
    /// Strategy measured.
    pub strategy: Strategy,
    /// Concurrent callers.
    pub callers: usize,
    /// Refresh requests the server counted.
    pub server_refreshes: u64,
    /// Refresh requests that presented a token already presented in this burst.
    pub reused: u64,
    /// Callers that got a token.
    pub succeeded: usize,
    /// From the start signal to the last caller's answer.
    pub wall: Duration,
    /// Every caller's latency from the start signal, sorted.
    pub latencies: Vec<Duration>,
}

/// Everything a burst needs, prepared before the clock starts.
pub struct Bench {
    server: MockServer,
    http: reqwest::Client,
    url: String,
    next_user: std::sync::atomic::AtomicUsize,
}

impl Bench {
    /// Starts a mock server on loopback (system clock) for the bursts.
    pub async fn start() -> Result<Self, BenchError> {
        let server = MockServer::start().await?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(POOL)
            .build()?;
        let url = format!("{}/refresh", server.api_url());
        Ok(Self {
            server,
            http,
            url,
            next_user: Default::default(),
        })
    }

    /// The server the bursts run against.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Refresh requests since the journal was cleared, and how many of them presented a token
    /// that an earlier request had already presented.
    async fn refresh_count(&self) -> Result<(u64, u64), BenchError> {
        let journal = self
            .server
            .control()
            .journal(0, Some(Route::Refresh))
            .await?;
        Ok(refreshes_and_reuse(&journal))
    }

    async fn fresh_session(&self) -> Result<RawSession, BenchError> {
        let n = self
            .next_user
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        login(&self.server, &self.http, &format!("bench-{n}@example.com")).await
    }

    /// One burst of `callers` concurrent refreshes with `strategy`, released at once through
    /// the same gate as the floor ([`prelude_conformance::bench::release`]).
    pub async fn burst(&self, strategy: Strategy, callers: usize) -> Result<Burst, BenchError> {
        let finished = match strategy {
            Strategy::SingleFlight => {
                let client = SessionClient::builder(self.server.url())
                    .http_client(self.http.clone())
                    .build()?;
                let n = self
                    .next_user
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let email = format!("bench-{n}@example.com");
                let user = self.server.control().create_user(&email, "pw").await?;
                let challenge = self.server.control().challenge_for(&user.id).await?;
                client.finalize_login(&challenge, None).await?;
                client.invalidate_cache();
                self.server.control().clear_journal().await?;
                release(callers, move |_, _| {
                    let client = client.clone();
                    async move { client.refresh().await.is_ok() }
                })
                .await?
            }
            Strategy::Mutex => {
                // (session, cache is fresh)
                let shared = Arc::new(Mutex::new((self.fresh_session().await?, false)));
                let (http, url) = (self.http.clone(), self.url.clone());
                self.server.control().clear_journal().await?;
                release(callers, move |_, _| {
                    let (shared, http, url) = (shared.clone(), http.clone(), url.clone());
                    async move {
                        let mut guard = shared.lock().await;
                        if !guard.1 {
                            guard.1 = refresh(&mut guard.0, &http, &url).await.is_ok();
                        }
                        guard.1
                    }
                })
                .await?
            }
            Strategy::Naive => {
                let session = self.fresh_session().await?;
                let pool = Arc::new(Semaphore::new(POOL));
                let (http, url) = (self.http.clone(), self.url.clone());
                self.server.control().clear_journal().await?;
                release(callers, move |_, _| {
                    let (session, pool) = (session.clone(), pool.clone());
                    let (http, url) = (http.clone(), url.clone());
                    async move {
                        let Ok(_permit) = pool.acquire().await else {
                            return false;
                        };
                        spend(&http, &url, &session.key, &session.refresh_token)
                            .await
                            .is_ok()
                    }
                })
                .await?
            }
        };
        let mut latencies: Vec<Duration> = finished.iter().map(|(_, d)| *d).collect();
        latencies.sort_unstable();
        let wall = latencies.last().copied().unwrap_or_default();
        let succeeded = finished.iter().filter(|(ok, _)| *ok).count();
        let (server_refreshes, reused) = self.refresh_count().await?;
        Ok(Burst {
            strategy,
            callers,
            server_refreshes,
            reused,
            succeeded,
            wall,
            latencies,
        })
    }

    /// The floor for `callers` with one caller's latency `delay`: every task's latency, sorted
    /// ([`prelude_conformance::bench::floor`]).
    pub async fn floor(callers: usize, delay: Duration) -> Result<Vec<Duration>, BenchError> {
        let mut latencies: Vec<Duration> = floor(callers, delay)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        latencies.sort_unstable();
        Ok(latencies)
    }
}
