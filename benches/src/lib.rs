//! Shared pieces of the benchmarks: logging in and refreshing over the mock crate's raw client
//! ([`prelude_mock_server::raw`]: real DPoP proofs, no cache, no coalescing) to load the server
//! and to build the "naive" and "mutex" refresh strategies the reference client is compared
//! with; bench modes; result files.

pub mod contention;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use prelude_mock_server::MockServer;
use prelude_mock_server::proof::ProofKey;
use prelude_mock_server::raw::{self, RawAnswer, RawRequest};

pub use prelude_mock_server::raw::RawSession;

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

/// Creates a user (unless `email` exists) and logs in with a fresh key.
pub async fn login(
    server: &MockServer,
    http: &reqwest::Client,
    email: &str,
) -> Result<RawSession, BenchError> {
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
    Ok(RawSession::login(http, &server.api_url(), control, &user.id, now()).await?)
}

/// One refresh of `session`: sign a proof, send, keep the rotated token.
pub async fn refresh(
    session: &mut RawSession,
    http: &reqwest::Client,
    url: &str,
) -> Result<(), BenchError> {
    successor(session.refresh(http, url, now()).await?).map(drop)
}

/// Presents `token` to `/refresh` once and returns its successor.
pub async fn spend(
    http: &reqwest::Client,
    url: &str,
    key: &ProofKey,
    token: &str,
) -> Result<String, BenchError> {
    let proof = key.proof("POST", url, now());
    let request = RawRequest {
        proof: Some(&proof),
        refresh_token: Some(token),
        ..RawRequest::default()
    };
    successor(raw::send(http, url, request).await?)
}

/// The rotated token of a successful refresh answer.
fn successor(answer: RawAnswer) -> Result<String, BenchError> {
    if answer.status != 200 {
        return Err(format!("refresh answered {} {:?}", answer.status, answer.code).into());
    }
    answer
        .refresh_token
        .ok_or_else(|| "no X-Refresh-Token".into())
}
