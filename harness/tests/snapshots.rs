//! Wire snapshots (insta, redacted): every response the mock server sends on a full session
//! life cycle and its error paths, and every request the reference client sends, so protocol
//! drift shows up in review as a `.snap` diff.
//!
//! Volatile values (tokens, ids, keys, nonces, ports) are redacted; the server's clock is
//! frozen, so dates are stable.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prelude_mock_server::headers;
use prelude_mock_server::proof::ProofKey;
use prelude_mock_server::{MockServer, NonceMode, Route};
use prelude_session::{ManualClock, RevokeTarget, SessionClient};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

async fn recording_server() -> MockServer {
    let server = MockServer::builder()
        .frozen_clock(NOW)
        .record_requests(true)
        .start()
        .await
        .expect("server starts");
    server
        .control()
        .create_user("ada@example.com", "pw")
        .await
        .expect("user");
    server
}

/// A response as a snapshot value: status, headers and body (JWT claims decoded).
async fn exchange(request: reqwest::RequestBuilder) -> (Value, reqwest::header::HeaderMap) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &headers {
        let value = value.to_str().unwrap_or("<binary>").to_owned();
        let value = match name.as_str() {
            headers::REFRESH_TOKEN | headers::DPOP_NONCE => "[redacted]".to_owned(),
            "set-cookie" => match value.split_once(';') {
                Some((cookie, attributes)) => {
                    let name = cookie.split('=').next().unwrap_or_default();
                    format!("{name}=[redacted];{attributes}")
                }
                None => "[redacted]".to_owned(),
            },
            _ => value,
        };
        shown.insert(name.as_str().to_owned(), value);
    }
    let text = response.text().await.expect("body");
    let mut body = serde_json::from_str::<Value>(&text).unwrap_or(if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    });
    if let Some(jwt) = body["access_token"].as_str() {
        body["access_token_claims"] = claims(jwt);
    }
    (
        json!({"status": status, "headers": shown, "body": body}),
        headers,
    )
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
        .unwrap_or(Value::Null)
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".body.challenge_token" => "[token]",
            ".body.access_token" => "[jwt]",
            ".body.access_token_claims.jti" => "[jti]",
            ".body.access_token_claims.sid" => "[session id]",
            ".body.access_token_claims.sub" => "[user id]",
            ".body.sessions[].id" => "[session id]",
            ".body.keys[].x" => "[coordinate]",
            ".body.keys[].y" => "[coordinate]",
            ".body.keys[].kid" => "[kid]",
            ".**.host" => "[host]",
            ".**.origin" => "[origin]",
            ".**.jti" => "[jti]",
            ".**.jkt" => "[thumbprint]",
            ".**.nonce" => insta::dynamic_redaction(|value, _| if value.as_str().is_some() { "[nonce]".into() } else { value }),
            ".**[\"content-length\"]" => "[length]",
            ".**.session_id" => "[session id]",
            ".**.refresh_token" => "[fingerprint]",
            ".**.authorization" => "[fingerprint]",
            ".**[\"x-refresh-token\"]" => "[fingerprint]",
            ".**.challenge_token" => "[fingerprint]",
            ".**.htu" => "[url]",
        });
    };
}

#[tokio::test]
async fn every_response_of_a_session_life_cycle() {
    let server = recording_server().await;
    let api = server.api_url();
    let http = reqwest::Client::new();
    let key = ProofKey::generate();
    let proof = |method: &str, url: &str| key.proof(method, url, NOW);

    let (answer, _) = exchange(
        http.post(format!("{api}/login/email/password"))
            .json(&json!({"identifier": "ada@example.com", "password": "pw"})),
    )
    .await;
    let challenge = answer["body"]["challenge_token"]
        .as_str()
        .expect("challenge")
        .to_owned();
    snapshot!("server_login_password", answer);

    let url = format!("{api}/login/finalize");
    let (answer, headers) = exchange(
        http.post(&url)
            .header("DPoP", proof("POST", &url))
            .json(&json!({"challenge_token": challenge})),
    )
    .await;
    let mut refresh_token = header(&headers, headers::REFRESH_TOKEN);
    snapshot!("server_login_finalize", answer);

    let url = format!("{api}/refresh");
    let (answer, headers) = exchange(
        http.post(&url)
            .header("DPoP", proof("POST", &url))
            .header(headers::REFRESH_TOKEN, &refresh_token),
    )
    .await;
    refresh_token = header(&headers, headers::REFRESH_TOKEN);
    let access = answer["body"]["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    snapshot!("server_refresh", answer);

    let (answer, _) = exchange(http.get(format!("{api}/me/list")).bearer_auth(&access)).await;
    snapshot!("server_me_list", answer);

    let (answer, _) = exchange(
        http.post(format!("{api}/me/revoke?target=others"))
            .bearer_auth(&access),
    )
    .await;
    snapshot!("server_me_revoke", answer);

    let url = format!("{api}/revoke");
    let (answer, _) = exchange(
        http.post(&url)
            .header("DPoP", proof("POST", &url))
            .header(headers::REFRESH_TOKEN, &refresh_token),
    )
    .await;
    snapshot!("server_revoke", answer);

    let (answer, _) = exchange(http.get(format!("{}/.well-known/jwks.json", server.url()))).await;
    snapshot!("server_jwks", answer);
}

#[tokio::test]
async fn every_error_shape_the_server_sends() {
    let server = recording_server().await;
    let api = server.api_url();
    let http = reqwest::Client::new();
    let url = format!("{api}/refresh");
    let key = ProofKey::generate();

    let (answer, _) = exchange(http.post(&url).header(headers::REFRESH_TOKEN, "nope")).await;
    snapshot!("server_error_missing_proof", answer);

    let (answer, _) = exchange(
        http.post(&url)
            .header("DPoP", key.proof("POST", &url, NOW))
            .header(headers::REFRESH_TOKEN, "nope"),
    )
    .await;
    snapshot!("server_error_unknown_refresh_token", answer);

    let (answer, _) = exchange(
        http.post(&url)
            .header("DPoP", key.proof("POST", &url, NOW - 3600))
            .header(headers::REFRESH_TOKEN, "nope"),
    )
    .await;
    snapshot!("server_error_stale_proof", answer);

    let (answer, _) = exchange(http.get(format!("{api}/me/list"))).await;
    snapshot!("server_error_missing_bearer", answer);

    let (answer, _) = exchange(http.get(format!("{api}/nowhere"))).await;
    snapshot!("server_error_not_found", answer);

    let (answer, _) = exchange(http.get(&url)).await;
    snapshot!("server_error_method_not_allowed", answer);

    let (answer, _) = exchange(
        http.request(reqwest::Method::OPTIONS, &url)
            .header("Origin", "http://127.0.0.1:5173")
            .header("Access-Control-Request-Method", "POST"),
    )
    .await;
    snapshot!("server_cors_preflight", answer);

    server
        .control()
        .update_policy(|p| p.nonce_mode = NonceMode::Required)
        .await
        .expect("policy");
    let (answer, _) = exchange(
        http.post(&url)
            .header("DPoP", key.proof("POST", &url, NOW))
            .header(headers::REFRESH_TOKEN, "nope"),
    )
    .await;
    snapshot!("server_error_use_dpop_nonce", answer);
}

#[tokio::test]
async fn every_request_the_reference_client_sends() {
    let server = recording_server().await;
    // The client's clock agrees with the server's frozen one, so proof iats are stable.
    let client = SessionClient::builder(server.url())
        .clock(std::sync::Arc::new(ManualClock::new(NOW)))
        .build()
        .expect("client");
    client
        .login_with_password("ada@example.com", "pw")
        .await
        .expect("login");
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    client.list_sessions(Some(5), None).await.expect("list");
    client
        .revoke_sessions(RevokeTarget::Others)
        .await
        .expect("revoke others");
    client.logout().await.expect("logout");

    let journal = server.control().journal(0, None).await.expect("journal");
    let requests: Vec<Value> = journal
        .iter()
        .map(|e| {
            let route = e.route.map(Route::path);
            let mut request = serde_json::to_value(&e.request).expect("json");
            if let Some(headers) = request["headers"].as_object_mut() {
                // The client's own version is not wire drift.
                if let Some(ua) = headers.get_mut("user-agent") {
                    *ua = json!(ua.as_str().unwrap_or_default().split('/').next().unwrap_or_default());
                }
                // One random id per install: that it is sent is the wire's shape, not its value.
                if let Some(id) = headers.get_mut("x-device-id") {
                    *id = json!("[device id]");
                }
            }
            json!({
                "method": e.method,
                "route": route,
                "request": request,
                "dpop": e.dpop.as_ref().map(|d| json!({"htm": d.htm, "htu": d.htu, "iat": d.iat, "jti": d.jti, "nonce": d.nonce, "jkt": d.jkt})),
            })
        })
        .collect();
    snapshot!("reference_client_requests", requests);
}
