//! Shared pieces of the benchmarks: a minimal raw-HTTP session client (real DPoP proofs, no
//! cache, no coalescing) to load the server and to build the "naive" and "mutex" refresh
//! strategies the reference client is compared with; bench modes; result files.

pub mod contention;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prelude_mock_server::MockServer;
use prelude_mock_server::proof::ProofKey;
use serde_json::json;

/// Errors of the raw client (benchmarks only report them).
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// How much work a bench binary does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cargo test` (no `--bench`): the smallest run that exercises every path, so benches
    /// cannot rot.
    Smoke,
    /// `cargo bench` with `BENCH_MODE=quick`: every configuration, few repetitions.
    Quick,
    /// `cargo bench`: every configuration, enough repetitions for stable percentiles.
    Full,
}

impl Mode {
    /// Reads the mode from the arguments cargo passes and `BENCH_MODE`.
    pub fn detect() -> Self {
        if !std::env::args().any(|a| a == "--bench") {
            return Self::Smoke;
        }
        match std::env::var("BENCH_MODE").as_deref() {
            Ok("quick") => Self::Quick,
            Ok("smoke") => Self::Smoke,
            _ => Self::Full,
        }
    }
}

/// Where bench binaries write machine-readable results (`target/bench-results/`).
pub fn results_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Unix seconds now (the benches run the server on the system clock).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// One session held by the raw client: its key and current refresh token.
#[derive(Debug, Clone)]
pub struct RawSession {
    /// The session's DPoP key.
    pub key: Arc<ProofKey>,
    /// The current refresh token.
    pub refresh_token: String,
}

impl RawSession {
    /// Creates a user (unless `email` exists) and logs in with a fresh key.
    pub async fn login(
        server: &MockServer,
        http: &reqwest::Client,
        email: &str,
    ) -> Result<Self, BenchError> {
        let control = server.control();
        let user = match control.create_user(email, "pw").await {
            Ok(user) => user,
            Err(_) => control
                .users()
                .await?
                .into_iter()
                .find(|u| u.email == email)
                .ok_or("no user")?,
        };
        let challenge = control.challenge_for(&user.id).await?;
        let key = Arc::new(ProofKey::generate());
        let url = format!("{}/login/finalize", server.api_url());
        let response = http
            .post(&url)
            .header("DPoP", key.proof("POST", &url, now()))
            .json(&json!({"challenge_token": challenge}))
            .send()
            .await?
            .error_for_status()?;
        let refresh_token = next_token(&response)?;
        Ok(Self { key, refresh_token })
    }

    /// One refresh: sign a proof, send, keep the rotated token.
    pub async fn refresh(&mut self, http: &reqwest::Client, url: &str) -> Result<(), BenchError> {
        self.refresh_token = spend(http, url, &self.key, &self.refresh_token).await?;
        Ok(())
    }
}

/// Presents `token` to `/refresh` once and returns its successor.
pub async fn spend(
    http: &reqwest::Client,
    url: &str,
    key: &ProofKey,
    token: &str,
) -> Result<String, BenchError> {
    let response = http
        .post(url)
        .header("DPoP", key.proof("POST", url, now()))
        .header("X-Refresh-Token", token)
        .send()
        .await?
        .error_for_status()?;
    let next = next_token(&response)?;
    // Read the body so the connection goes back to the pool.
    response.bytes().await?;
    Ok(next)
}

fn next_token(response: &reqwest::Response) -> Result<String, BenchError> {
    let value = response
        .headers()
        .get("x-refresh-token")
        .ok_or("no X-Refresh-Token")?;
    Ok(value.to_str()?.to_owned())
}
