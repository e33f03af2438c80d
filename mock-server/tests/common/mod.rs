//! Test support: a server per test with a frozen clock, a DPoP key that can sign valid and
//! deliberately broken proofs, and a logged-in session helper. Everything goes over real HTTP.
#![allow(dead_code, unreachable_pub)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prelude_mock_server::proof::{ProofBuilder, ProofKey};
use prelude_mock_server::{MockServer, MockServerBuilder, Policy, Reason, Route};
use serde_json::{Value, json};

/// Virtual "now" of every test server (2027-01-15).
pub const NOW: i64 = 1_800_000_000;

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn builder() -> MockServerBuilder {
    MockServer::builder().frozen_clock(NOW)
}

pub async fn server() -> MockServer {
    builder().start().await.expect("server starts")
}

pub async fn server_with(policy: Policy) -> MockServer {
    builder()
        .policy(policy)
        .start()
        .await
        .expect("server starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// A client-side P-256 key whose proofs are issued at the test clock's `NOW`.
pub struct Key(ProofKey);

impl Key {
    pub fn new() -> Self {
        Self(ProofKey::generate())
    }

    pub fn jwk(&self) -> Value {
        serde_json::to_value(self.0.jwk()).expect("jwk")
    }

    pub fn thumbprint(&self) -> String {
        self.0.thumbprint()
    }

    pub fn sign(&self, input: &str) -> String {
        self.0.sign(input)
    }

    /// A valid proof for `method url` at the test clock.
    pub fn proof(&self, method: &str, url: &str) -> String {
        self.0.proof(method, url, NOW)
    }

    pub fn proof_builder(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        self.0.builder(method, url, NOW)
    }
}

pub fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("rng");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A logged-in session: the client side of it.
pub struct Session {
    pub key: Key,
    pub refresh_token: String,
    pub access_token: String,
    pub session_id: String,
    pub user_id: String,
}

/// Creates a user (unless it exists) and finalizes a login for it with a fresh key.
pub async fn login(server: &MockServer, email: &str) -> Session {
    let control = server.control();
    let user = match control.create_user(email, "pw").await {
        Ok(user) => user,
        Err(_) => control
            .users()
            .await
            .expect("users")
            .into_iter()
            .find(|u| u.email == email)
            .expect("user exists"),
    };
    let challenge = control.challenge_for(&user.id).await.expect("challenge");
    let key = Key::new();
    let url = format!("{}/login/finalize", server.api_url());
    let finalize = |proof: String| {
        http()
            .post(&url)
            .header("DPoP", proof)
            .json(&json!({"challenge_token": challenge}))
            .send()
    };
    let mut response = finalize(key.proof("POST", &url)).await.expect("finalize");
    // Like an SDK: one retry with the server's nonce and a fresh jti.
    if response.status() == 400 {
        let nonce = header(&response, "dpop-nonce");
        let proof = key.proof_builder("POST", &url).nonce(&nonce).build();
        response = finalize(proof).await.expect("finalize with nonce");
    }
    assert_eq!(response.status(), 200, "finalize succeeds");
    let refresh_token = header(&response, "x-refresh-token");
    let body: Value = response.json().await.expect("json");
    let access_token = body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let claims = jwt_claims(&access_token);
    Session {
        key,
        refresh_token,
        access_token,
        session_id: claims["sid"].as_str().expect("sid").to_owned(),
        user_id: user.id,
    }
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_owned()
}

/// Decodes a JWT's claims without verifying (clients never verify).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

/// `POST /refresh` with the session's key and a given refresh token.
pub async fn refresh_with(server: &MockServer, key: &Key, token: &str) -> reqwest::Response {
    let url = format!("{}/refresh", server.api_url());
    http()
        .post(&url)
        .header("DPoP", key.proof("POST", &url))
        .header("X-Refresh-Token", token)
        .send()
        .await
        .expect("refresh request")
}

/// Sends `POST url` with exactly this DPoP header value (for rejection tests).
pub async fn post_with_proof(url: &str, proof: &str, refresh_token: &str) -> reqwest::Response {
    http()
        .post(url)
        .header("DPoP", proof)
        .header("X-Refresh-Token", refresh_token)
        .send()
        .await
        .expect("request")
}

/// Asserts a Prelude error answer and returns its body.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["code"], code, "code in {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    assert!(body["type"].as_str().is_some(), "type in {body}");
    body
}

/// Sends `proof` to `/refresh` with a live session's token and checks the answer and reason.
pub async fn rejected(
    server: &MockServer,
    token: &str,
    proof: &str,
    status: u16,
    code: &str,
    reason: Reason,
) {
    let url = format!("{}/refresh", server.api_url());
    let response = post_with_proof(&url, proof, token).await;
    expect_error(response, status, code).await;
    let journal = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .expect("journal");
    assert_eq!(journal.last().and_then(|e| e.reason), Some(reason));
}

/// A server, a logged-in session and the refresh URL.
pub async fn refresh_setup() -> (MockServer, Session, String) {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    (server, session, url)
}
