//! Raw Prelude HTTP without any SDK, for test tooling: a session logged in with a key of our
//! own, and requests carrying exactly the proof and refresh token a test chooses. The
//! conformance suite's attack steps and "other devices", the benchmarks' load clients and
//! strategies use it; an SDK under test never does.
//!
//! ```no_run
//! # async fn run() -> Result<(), prelude_mock_server::Error> {
//! use prelude_mock_server::MockServer;
//! use prelude_mock_server::raw::RawSession;
//!
//! let server = MockServer::start().await?;
//! let user = server.control().create_user("ada@example.com", "pw").await?;
//! let http = reqwest::Client::new();
//! let now = server.control().clock().await?.now;
//! let api = server.api_url();
//! let mut session = RawSession::login(&http, &api, server.control(), &user.id, now).await?;
//! let url = format!("{}/refresh", server.api_url());
//! let answer = session.refresh(&http, &url, now).await?;
//! assert_eq!(answer.status, 200);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use serde_json::{Value, json};

use crate::dpop::proof::{ProofBuilder, ProofKey};
use crate::headers;
use crate::{ControlClient, Error, ErrorKind};

/// An answer, read completely. `Debug` shows the status, code and nonce, never a token.
#[derive(Clone)]
#[non_exhaustive]
pub struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// The Prelude error `code`, if the body has one.
    pub code: Option<String>,
    /// `DPoP-Nonce`, if sent.
    pub nonce: Option<String>,
    /// `X-Refresh-Token`, if sent.
    pub refresh_token: Option<String>,
    /// The JSON body (`null` when it is not JSON).
    pub body: Value,
}

/// What one raw request carries besides its URL (always `POST`). `Debug` says which parts
/// are present, never their secrets.
#[derive(Clone, Copy, Default)]
pub struct RawRequest<'a> {
    /// The `DPoP` header.
    pub proof: Option<&'a str>,
    /// The `X-Refresh-Token` header.
    pub refresh_token: Option<&'a str>,
    /// A JSON body.
    pub body: Option<&'a Value>,
    /// A `User-Agent` other than the client's.
    pub user_agent: Option<&'a str>,
}

impl std::fmt::Debug for RawAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawAnswer")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RawRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("proof", &self.proof.map(|_| "[redacted]"))
            .field("refresh_token", &self.refresh_token.map(|_| "[redacted]"))
            .field("body", &self.body.map(|_| "[redacted]"))
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// Sends `POST url` with exactly what `request` says and reads the whole answer.
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    request: RawRequest<'_>,
) -> Result<RawAnswer, Error> {
    let mut builder = http.post(url);
    if let Some(proof) = request.proof {
        builder = builder.header(headers::DPOP, proof);
    }
    if let Some(token) = request.refresh_token {
        builder = builder.header(headers::REFRESH_TOKEN, token);
    }
    if let Some(body) = request.body {
        builder = builder.json(body);
    }
    if let Some(ua) = request.user_agent {
        builder = builder.header(reqwest::header::USER_AGENT, ua);
    }
    let response = builder.send().await.map_err(|e| {
        Error::new(
            ErrorKind::Transport,
            format!("request to {url} failed: {e}"),
        )
    })?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let nonce = header(headers::DPOP_NONCE);
    let refresh_token = header(headers::REFRESH_TOKEN);
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = body["code"].as_str().map(str::to_owned);
    Ok(RawAnswer {
        status,
        code,
        nonce,
        refresh_token,
        body,
    })
}

/// A session held by raw HTTP: its key, its current refresh token and what it has learnt.
/// `Debug` shows the key's thumbprint and the session id, never a token.
#[derive(Clone)]
#[non_exhaustive]
pub struct RawSession {
    /// The session's DPoP key (shared, so strategies can sign from several tasks).
    pub key: Arc<ProofKey>,
    /// The current refresh token.
    pub refresh_token: String,
    /// Every refresh token this session was issued, oldest first.
    pub spent: Vec<String>,
    /// `ses_…` id.
    pub session_id: String,
    /// The last `DPoP-Nonce` the server sent.
    pub nonce: Option<String>,
    /// The access token of the last successful login or refresh.
    pub access_token: String,
}

impl std::fmt::Debug for RawSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSession")
            .field("key", &self.key)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RawSession {
    /// Logs `user_id` in with a fresh key through a challenge from `control`, proofs issued
    /// at `now` (the server's time); retries once with a nonce, like an SDK.
    pub async fn login(
        http: &reqwest::Client,
        api_url: &str,
        control: &ControlClient,
        user_id: &str,
        now: i64,
    ) -> Result<Self, Error> {
        Self::login_as(http, api_url, control, user_id, now, None).await
    }

    /// [`login`](Self::login) with a `User-Agent` of its own (device data comes from it).
    pub async fn login_as(
        http: &reqwest::Client,
        api_url: &str,
        control: &ControlClient,
        user_id: &str,
        now: i64,
        user_agent: Option<&str>,
    ) -> Result<Self, Error> {
        let challenge = control.challenge_for(user_id).await?;
        let key = Arc::new(ProofKey::generate());
        let url = format!("{api_url}/login/finalize");
        let body = json!({"challenge_token": challenge});
        let finalize = RawRequest {
            body: Some(&body),
            user_agent,
            ..RawRequest::default()
        };
        let first = key.proof("POST", &url, now);
        let with = |proof| RawRequest {
            proof: Some(proof),
            ..finalize
        };
        let mut answer = send(http, &url, with(&first)).await?;
        if let (Some("use_dpop_nonce"), Some(nonce)) =
            (answer.code.as_deref(), answer.nonce.as_deref())
        {
            let again = key.builder("POST", &url, now).nonce(nonce).build();
            answer = send(http, &url, with(&again)).await?;
        }
        if answer.status != 200 {
            return Err(Error::new(
                ErrorKind::Api,
                format!("raw login failed: {} {:?}", answer.status, answer.code),
            ));
        }
        let refresh_token = answer
            .refresh_token
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::Decode, "finalize sent no X-Refresh-Token"))?;
        let access_token = answer.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let session_id = claim(&access_token, "sid")
            .ok_or_else(|| Error::new(ErrorKind::Decode, "finalize's access token has no sid"))?;
        Ok(Self {
            key,
            spent: vec![refresh_token.clone()],
            refresh_token,
            session_id,
            nonce: answer.nonce,
            access_token,
        })
    }

    /// A proof builder for `POST url` at `now`, with the last nonce the server sent.
    pub fn proof(&self, url: &str, now: i64) -> ProofBuilder<'_> {
        let builder = self.key.builder("POST", url, now);
        match &self.nonce {
            Some(nonce) => builder.nonce(nonce),
            None => builder,
        }
    }

    /// Presents the current refresh token to `url` (`…/refresh`) with a valid proof, and
    /// learns from the answer.
    pub async fn refresh(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        now: i64,
    ) -> Result<RawAnswer, Error> {
        let proof = self.proof(url, now).build();
        let request = RawRequest {
            proof: Some(&proof),
            refresh_token: Some(&self.refresh_token),
            ..RawRequest::default()
        };
        let answer = send(http, url, request).await?;
        self.learn(&answer);
        Ok(answer)
    }

    /// Remembers what an answer taught: a nonce, and after a success the rotated refresh
    /// token and the new access token.
    pub fn learn(&mut self, answer: &RawAnswer) {
        if answer.nonce.is_some() {
            self.nonce.clone_from(&answer.nonce);
        }
        if answer.status != 200 {
            return;
        }
        if let Some(token) = &answer.refresh_token {
            self.refresh_token.clone_from(token);
            self.spent.push(token.clone());
        }
        if let Some(access) = answer.body["access_token"].as_str() {
            access.clone_into(&mut self.access_token);
        }
    }
}

/// The journal's fingerprint of a refresh token (`JournalEntry::refresh_token`): how a test
/// recognises a token it meets elsewhere (an SDK's error message, say) without the journal
/// ever holding one.
pub fn token_fingerprint(token: &str) -> String {
    crate::jose::fingerprint(token)
}

/// A string claim of a JWT, read without verification (clients never verify).
pub fn claim(jwt: &str, name: &str) -> Option<String> {
    claims(jwt)?[name].as_str().map(str::to_owned)
}

/// All claims of a JWT, read without verification.
pub fn claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = crate::jose::unb64(payload)?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_token_or_proof() {
        let answer = RawAnswer {
            status: 200,
            code: None,
            nonce: Some("n1".into()),
            refresh_token: Some("rt_secret".into()),
            body: json!({"access_token": "at_secret"}),
        };
        let body = json!({"challenge_token": "ch_secret"});
        let request = RawRequest {
            proof: Some("proof_secret"),
            refresh_token: Some("rt_secret"),
            body: Some(&body),
            user_agent: None,
        };
        let session = RawSession {
            key: Arc::new(ProofKey::generate()),
            refresh_token: "rt_secret".into(),
            spent: vec!["rt_secret".into()],
            session_id: "ses_1".into(),
            nonce: None,
            access_token: "at_secret".into(),
        };
        let shown = format!("{answer:?} {request:?} {session:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("ses_1") && shown.contains("n1"), "{shown}");
    }
}
