//! Raw Prelude HTTP, without any SDK: logs sessions in with a key of our own and sends
//! refreshes with exactly the proof a step asks for. Server-side attack steps use it, and
//! client scenarios use it for "another device of the same user".
//!
//! Proof `iat`s come from the server's clock (control API), so this works against a server
//! whose clock is virtual.

use prelude_mock_server::ControlClient;
use prelude_mock_server::proof::{ProofBuilder, ProofKey};
use serde_json::{Value, json};

/// An answer, read completely.
#[derive(Clone, Debug)]
pub(crate) struct RawAnswer {
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) body: Value,
}

/// A session held by raw HTTP.
pub(crate) struct RawSession {
    pub(crate) key: ProofKey,
    pub(crate) refresh_token: String,
    /// Every refresh token this session was issued, oldest first.
    pub(crate) spent: Vec<String>,
    pub(crate) session_id: String,
    pub(crate) nonce: Option<String>,
    /// The access token of the last successful login or refresh.
    pub(crate) access_token: String,
}

/// An HTTP client that trusts `tls`'s certificate, if given.
pub(crate) fn http(tls: Option<&prelude_mock_server::TlsInfo>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().user_agent("Prelude/0.3.0 (Apple; iOS 17.4)");
    if let Some(cert) = tls.and_then(|t| reqwest::Certificate::from_pem(t.cert_pem.as_bytes()).ok())
    {
        builder = builder.tls_certs_only([cert]);
    }
    builder.build().unwrap_or_default()
}

/// The server's current time.
pub(crate) async fn server_now(control: &ControlClient) -> Result<i64, String> {
    control
        .clock()
        .await
        .map(|c| c.now)
        .map_err(|e| format!("cannot read the server clock: {e}"))
}

pub(crate) async fn send(
    http: &reqwest::Client,
    url: &str,
    proof: Option<String>,
    refresh_token: Option<&str>,
    body: Option<&Value>,
    user_agent: Option<&str>,
) -> Result<RawAnswer, String> {
    let mut request = http.post(url);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    if let Some(token) = refresh_token {
        request = request.header("X-Refresh-Token", token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(ua) = user_agent {
        request = request.header("User-Agent", ua);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("request to {url} failed: {e}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let nonce = header("dpop-nonce");
    let refresh_token = header("x-refresh-token");
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

impl RawSession {
    /// Logs `user_id` in with a fresh key (retrying once with a nonce, like an SDK).
    pub(crate) async fn login(
        http: &reqwest::Client,
        api_url: &str,
        control: &ControlClient,
        user_id: &str,
        user_agent: Option<&str>,
    ) -> Result<Self, String> {
        let challenge = control
            .challenge_for(user_id)
            .await
            .map_err(|e| format!("cannot mint a challenge: {e}"))?;
        let key = ProofKey::generate();
        let url = format!("{api_url}/login/finalize");
        let body = json!({"challenge_token": challenge});
        let now = server_now(control).await?;
        let mut answer = send(
            http,
            &url,
            Some(key.proof("POST", &url, now)),
            None,
            Some(&body),
            user_agent,
        )
        .await?;
        if answer.code.as_deref() == Some("use_dpop_nonce") {
            let proof = key
                .builder("POST", &url, now)
                .claim("nonce", json!(answer.nonce))
                .build();
            answer = send(http, &url, Some(proof), None, Some(&body), user_agent).await?;
        }
        if answer.status != 200 {
            return Err(format!(
                "raw login failed: {} {:?}",
                answer.status, answer.code
            ));
        }
        let refresh_token = answer
            .refresh_token
            .clone()
            .ok_or_else(|| "finalize sent no X-Refresh-Token".to_owned())?;
        let session_id = answer.body["access_token"]
            .as_str()
            .and_then(sid_of)
            .ok_or_else(|| "finalize's access token has no sid".to_owned())?;
        Ok(Self {
            key,
            spent: vec![refresh_token.clone()],
            refresh_token,
            session_id,
            nonce: answer.nonce,
            access_token: answer.body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// A proof builder for `POST url` at the server's time, with the known nonce.
    pub(crate) fn proof<'k>(&'k self, url: &str, now: i64) -> ProofBuilder<'k> {
        let builder = self.key.builder("POST", url, now);
        match &self.nonce {
            Some(nonce) => builder.nonce(nonce),
            None => builder,
        }
    }

    /// Remembers what a refresh answer taught: a rotated token, a nonce.
    pub(crate) fn learn(&mut self, answer: &RawAnswer) {
        if answer.nonce.is_some() {
            self.nonce.clone_from(&answer.nonce);
        }
        if answer.status == 200
            && let Some(token) = &answer.refresh_token
        {
            self.refresh_token.clone_from(token);
            self.spent.push(token.clone());
        }
        if answer.status == 200
            && let Some(access) = answer.body["access_token"].as_str()
        {
            access.clone_into(&mut self.access_token);
        }
    }
}

/// The `sid` claim of a JWT, without verification.
pub(crate) fn sid_of(jwt: &str) -> Option<String> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sid"].as_str().map(str::to_owned)
}

/// Verifies an ES256 JWT against the server's JWKS (`/.well-known/jwks.json`) the way a
/// backend would, independently of the server's own code: the key is picked by `kid`.
pub(crate) async fn verify_with_jwks(
    http: &reqwest::Client,
    base_url: &str,
    jwt: &str,
) -> Result<(), String> {
    use base64::Engine;
    use p256::ecdsa::signature::Verifier;
    let b64 = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "the token is not base64url".to_owned())
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("the token is not a compact JWS".into());
    };
    let header: Value = serde_json::from_slice(&b64(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "ES256" {
        return Err(format!("alg {} is not ES256", header["alg"]));
    }
    let jwks: Value = http
        .get(format!(
            "{}/.well-known/jwks.json",
            base_url.trim_end_matches('/')
        ))
        .send()
        .await
        .map_err(|e| format!("cannot fetch the JWKS: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == header["kid"])
        .ok_or_else(|| format!("the JWKS has no key with kid {}", header["kid"]))?;
    let mut point = vec![4u8];
    point.extend(b64(key["x"].as_str().unwrap_or_default())?);
    point.extend(b64(key["y"].as_str().unwrap_or_default())?);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
        .map_err(|_| "the JWKS key is not a P-256 point".to_owned())?;
    let signature = p256::ecdsa::Signature::from_slice(&b64(signature)?)
        .map_err(|_| "the signature is not 64 bytes".to_owned())?;
    key.verify(format!("{}.{}", parts[0], payload).as_bytes(), &signature)
        .map_err(|_| "the signature does not verify with the published key".to_owned())
}
