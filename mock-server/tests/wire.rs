//! Wire-level behaviour: CORS for browsers, JSON errors for every bad input (never a 500,
//! a panic or a hang), JWKS interoperability, TLS.

mod common;

use common::{Key, expect_error, header, http, login, server};
use prelude_mock_server::MockServer;
use serde_json::Value;

#[tokio::test]
async fn preflight_allows_the_sdk_headers() {
    let server = server().await;
    let response = http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/refresh", server.api_url()),
        )
        .header("Origin", "http://127.0.0.1:5173")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "dpop, x-sdk-user-agent, content-type",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        "http://127.0.0.1:5173"
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        "true"
    );
    let allowed = header(&response, "access-control-allow-headers").to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "dpop",
        "x-refresh-token",
        "x-sdk-user-agent",
    ] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    assert!(header(&response, "access-control-allow-methods").contains("POST"));
}

#[tokio::test]
async fn errors_carry_cors_headers_and_expose_what_sdks_read() {
    let server = server().await;
    let response = http()
        .post(format!("{}/refresh", server.api_url()))
        .header("Origin", "https://app.example")
        .send()
        .await
        .expect("send");
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        "https://app.example"
    );
    assert!(header(&response, "vary").contains("Origin"));
    let exposed = header(&response, "access-control-expose-headers");
    for name in [
        "DPoP-Nonce",
        "X-Refresh-Token",
        "X-Refresh-Token-Expires-At",
        "Date",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    expect_error(response, 401, "missing_dpop_proof").await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let server = server().await;
    let missing = http()
        .get(format!("{}/nope", server.api_url()))
        .send()
        .await
        .expect("send");
    expect_error(missing, 404, "not_found").await;
    let wrong = http()
        .get(format!("{}/refresh", server.api_url()))
        .send()
        .await
        .expect("send");
    expect_error(wrong, 405, "bad_request").await;
}

#[tokio::test]
async fn malformed_json_bodies_are_bad_requests() {
    let server = server().await;
    let api = server.api_url();
    for (path, body) in [
        ("/login/finalize", "{not json"),
        ("/login/finalize", "[]"),
        ("/login/finalize", "{\"challenge_token\": 5}"),
        ("/login/email/password", "{\"identifier\": \"a@b.c\"}"),
        ("/otp", "null"),
        ("/refresh", "{\"step_up_token\": "),
    ] {
        let response = http()
            .post(format!("{api}{path}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        expect_error(response, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn a_required_body_that_is_empty_is_a_bad_request() {
    let server = server().await;
    let response = http()
        .post(format!("{}/login/email/password", server.api_url()))
        .header("Content-Type", "application/json")
        .send()
        .await
        .expect("send");
    expect_error(response, 400, "bad_request").await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let server = server().await;
    let response = http()
        .post(format!("{}/login/email/password", server.api_url()))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .expect("send");
    expect_error(response, 413, "bad_request").await;
}

#[tokio::test]
async fn oversized_headers_are_refused_with_431() {
    let server = server().await;
    let response = http()
        .post(format!("{}/refresh", server.api_url()))
        .header("X-Refresh-Token", "a".repeat(32 * 1024))
        .send()
        .await
        .expect("send");
    expect_error(response, 431, "bad_request").await;
}

#[tokio::test]
async fn the_session_list_answers_200_with_a_body_never_an_empty_200() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let list = http()
        .get(format!("{}/me/list", server.api_url()))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .expect("send");
    assert_eq!(list.status(), 200);
    assert!(!list.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn access_tokens_verify_with_the_jwks_using_an_independent_jwt_library() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(format!("{}/.well-known/jwks.json", server.url()))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("jwks");
    let header = jsonwebtoken::decode_header(&session.access_token).expect("header");
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("key with the token's kid");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["app_mock"]);
    validation.set_issuer(&["https://app_mock.session.prelude.dev"]);
    validation.validate_exp = false; // the server's clock is virtual (2027)
    let data =
        jsonwebtoken::decode::<Value>(&session.access_token, &key, &validation).expect("verifies");
    for claim in [
        "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "scope",
    ] {
        assert!(data.claims.get(claim).is_some(), "claim {claim}");
    }
}

#[tokio::test]
async fn a_signing_key_from_pem_keeps_tokens_valid_across_restarts() {
    let dir = std::env::temp_dir().join(format!("prelude-mock-key-{}", common::uuid_like()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("signing.pem");
    let config = |path: &std::path::Path| prelude_mock_server::ServerConfig {
        signing_key: Some(path.to_owned()),
        ..Default::default()
    };
    let first = common::builder()
        .config(config(&path))
        .start()
        .await
        .expect("first");
    let jwks = |server: &MockServer| {
        let url = format!("{}/.well-known/jwks.json", server.url());
        async move {
            http()
                .get(url)
                .send()
                .await
                .expect("send")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let before = jwks(&first).await;
    first.shutdown().await;
    let second = common::builder()
        .config(config(&path))
        .start()
        .await
        .expect("second");
    assert_eq!(jwks(&second).await, before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tls_mode_serves_https_with_a_certificate_for_loopback() {
    let server = common::builder()
        .tls_self_signed()
        .start()
        .await
        .expect("server");
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let tls = server.tls().expect("tls info");
    assert!(tls.spki_sha256.as_deref().is_some_and(|s| s.len() == 44));
    assert!(tls.cert_path.exists());
    let cert = reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).expect("cert");
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .build()
        .expect("client");
    for host in [
        server.url().to_owned(),
        server.url().replace("127.0.0.1", "localhost"),
    ] {
        let jwks = client
            .get(format!("{host}/.well-known/jwks.json"))
            .send()
            .await
            .expect("https");
        assert_eq!(jwks.status(), 200);
    }
    // DPoP htu must say https now.
    let user = server
        .control()
        .create_user("ada@example.com", "pw")
        .await
        .expect("user");
    let challenge = server
        .control()
        .challenge_for(&user.id)
        .await
        .expect("challenge");
    let url = format!("{}/login/finalize", server.api_url());
    let key = Key::new();
    let response = client
        .post(&url)
        .header("DPoP", key.proof("POST", &url))
        .json(&serde_json::json!({"challenge_token": challenge}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}
