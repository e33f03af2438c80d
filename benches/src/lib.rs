//! Shared pieces of the benchmarks: a minimal raw-HTTP session client that logs in and
//! refreshes with real DPoP proofs, so server throughput is measured over loopback HTTP.
//!
//! It is deliberately not an SDK (no cache, no coalescing): it measures the server.

use std::time::{SystemTime, UNIX_EPOCH};

use prelude_mock_server::MockServer;
use prelude_mock_server::proof::ProofKey;
use serde_json::json;

/// Unix seconds now (the benches run the server on the system clock).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// One client's session: its key and current refresh token.
#[derive(Debug)]
pub struct RawSession {
    key: ProofKey,
    refresh_token: String,
}

/// Errors of the raw client (benchmarks only report them).
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

impl RawSession {
    /// Creates a user and logs in with a fresh key.
    pub async fn login(
        server: &MockServer,
        http: &reqwest::Client,
        email: &str,
    ) -> Result<Self, BenchError> {
        let user = server.control().create_user(email, "pw").await?;
        let challenge = server.control().challenge_for(&user.id).await?;
        let key = ProofKey::generate();
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
        let response = http
            .post(url)
            .header("DPoP", self.key.proof("POST", url, now()))
            .header("X-Refresh-Token", &self.refresh_token)
            .send()
            .await?
            .error_for_status()?;
        self.refresh_token = next_token(&response)?;
        // Read the body so the connection goes back to the pool.
        response.bytes().await?;
        Ok(())
    }
}

fn next_token(response: &reqwest::Response) -> Result<String, BenchError> {
    let value = response
        .headers()
        .get("x-refresh-token")
        .ok_or("no X-Refresh-Token")?;
    Ok(value.to_str()?.to_owned())
}
