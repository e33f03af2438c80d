//! Raw Prelude HTTP for the steps, over the mock crate's raw client
//! ([`prelude_mock_server::raw`], shared with the benchmarks): an HTTP client, the server's
//! time for proofs, one refresh presenting a given proof and token, and verifying an access
//! token against the JWKS as a backend would. Server-side attack steps use it, and client
//! scenarios use it for "another device of the same user".
//!
//! Proof `iat`s come from the server's clock (control API), so this works against a server
//! whose clock is virtual.

use prelude_mock_server::ControlClient;
use prelude_mock_server::raw::{self, RawRequest};
pub(crate) use prelude_mock_server::raw::{RawAnswer, RawSession};
use serde_json::Value;

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

/// Logs `user_id` in by raw HTTP at the server's time, as `user_agent` if given.
pub(crate) async fn login(
    http: &reqwest::Client,
    api_url: &str,
    control: &ControlClient,
    user_id: &str,
    user_agent: Option<&str>,
) -> Result<RawSession, String> {
    let now = server_now(control).await?;
    RawSession::login_as(http, api_url, control, user_id, now, user_agent)
        .await
        .map_err(|e| e.to_string())
}

/// `POST url` presenting `refresh_token` with `proof` (or none).
pub(crate) async fn refresh(
    http: &reqwest::Client,
    url: &str,
    proof: Option<&str>,
    refresh_token: &str,
) -> Result<RawAnswer, String> {
    let request = RawRequest {
        proof,
        refresh_token: Some(refresh_token),
        ..RawRequest::default()
    };
    raw::send(http, url, request)
        .await
        .map_err(|e| e.to_string())
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
