//! Every RFC 9449 §4.3 rejection path, against a running server: each gets the right status and
//! code, and the journal names the reason.

mod common;

use common::{
    Key, NOW, b64, expect_error, header, http, login, post_with_proof, server, server_with,
};
use prelude_mock_server::{MockServer, NonceMode, Policy, Reason, Route};
use serde_json::json;

/// Sends `proof` to `/refresh` with a live session's token and checks the answer and reason.
async fn rejected(
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

async fn setup() -> (MockServer, common::Session, String) {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    (server, session, url)
}

#[tokio::test]
async fn a_refresh_without_a_proof_is_missing_dpop_proof() {
    let (server, session, url) = setup().await;
    let response = http()
        .post(&url)
        .header("X-Refresh-Token", &session.refresh_token)
        .send()
        .await
        .expect("send");
    expect_error(response, 401, "missing_dpop_proof").await;
    let _ = server;
}

#[tokio::test]
async fn two_dpop_headers_are_rejected() {
    let (_server, session, url) = setup().await;
    let response = http()
        .post(&url)
        .header("DPoP", session.key.proof("POST", &url))
        .header("DPoP", session.key.proof("POST", &url))
        .header("X-Refresh-Token", &session.refresh_token)
        .send()
        .await
        .expect("send");
    expect_error(response, 401, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_that_is_not_a_jwt_is_rejected() {
    let (server, session, _) = setup().await;
    rejected(
        &server,
        &session.refresh_token,
        "not-a-jwt",
        401,
        "invalid_dpop_proof",
        Reason::MalformedProof,
    )
    .await;
}

#[tokio::test]
async fn a_proof_with_bad_base64_is_rejected() {
    let (server, session, _) = setup().await;
    rejected(
        &server,
        &session.refresh_token,
        "e30.e3$$.AA",
        401,
        "invalid_dpop_proof",
        Reason::MalformedProof,
    )
    .await;
}

#[tokio::test]
async fn a_proof_with_the_wrong_typ_is_rejected() {
    let (server, session, url) = setup().await;
    let proof = session
        .key
        .proof_builder("POST", &url)
        .header("typ", json!("JWT"))
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &proof,
        401,
        "invalid_dpop_proof",
        Reason::WrongProofType,
    )
    .await;
}

#[tokio::test]
async fn proofs_with_alg_none_hs256_or_rs256_are_rejected() {
    let (server, session, url) = setup().await;
    for alg in ["none", "HS256", "RS256", "ES384"] {
        let proof = session
            .key
            .proof_builder("POST", &url)
            .header("alg", json!(alg))
            .build();
        rejected(
            &server,
            &session.refresh_token,
            &proof,
            401,
            "invalid_dpop_proof",
            Reason::UnsupportedAlgorithm,
        )
        .await;
    }
    // alg none with an empty signature, the classic form.
    let header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": session.key.jwk()});
    let claims = json!({"jti": "x", "htm": "POST", "htu": url, "iat": NOW});
    let unsigned = format!("{}.{}.", b64(header.to_string()), b64(claims.to_string()));
    rejected(
        &server,
        &session.refresh_token,
        &unsigned,
        401,
        "invalid_dpop_proof",
        Reason::UnsupportedAlgorithm,
    )
    .await;
}

#[tokio::test]
async fn a_proof_with_a_bad_signature_is_rejected() {
    let (server, session, url) = setup().await;
    let proof = session.key.proof("POST", &url);
    let (head, _) = proof.rsplit_once('.').expect("three parts");
    let forged = format!("{head}.{}", b64([7u8; 64]));
    rejected(
        &server,
        &session.refresh_token,
        &forged,
        401,
        "invalid_dpop_proof",
        Reason::BadSignature,
    )
    .await;
    // Signed by another key than the one in the header.
    let other = Key::new();
    let swapped = session
        .key
        .proof_builder("POST", &url)
        .header("jwk", other.jwk())
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &swapped,
        401,
        "invalid_dpop_proof",
        Reason::BadSignature,
    )
    .await;
}

#[tokio::test]
async fn a_proof_whose_jwk_has_private_members_is_rejected() {
    let (server, session, url) = setup().await;
    let mut jwk = session.key.jwk();
    jwk["d"] = json!(b64([1u8; 32]));
    let proof = session
        .key
        .proof_builder("POST", &url)
        .header("jwk", jwk)
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &proof,
        401,
        "invalid_dpop_proof",
        Reason::PrivateKeyInJwk,
    )
    .await;
}

#[tokio::test]
async fn a_proof_without_a_usable_jwk_is_rejected() {
    let (server, session, url) = setup().await;
    let missing = session
        .key
        .proof_builder("POST", &url)
        .without_header("jwk")
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &missing,
        401,
        "invalid_dpop_proof",
        Reason::InvalidJwk,
    )
    .await;
    let rsa = session
        .key
        .proof_builder("POST", &url)
        .header("jwk", json!({"kty": "RSA", "n": "AQ", "e": "AQAB"}))
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &rsa,
        401,
        "invalid_dpop_proof",
        Reason::InvalidJwk,
    )
    .await;
}

#[tokio::test]
async fn proofs_missing_a_required_claim_are_rejected() {
    let (server, session, url) = setup().await;
    for claim in ["jti", "htm", "htu", "iat"] {
        let proof = session
            .key
            .proof_builder("POST", &url)
            .without_claim(claim)
            .build();
        rejected(
            &server,
            &session.refresh_token,
            &proof,
            401,
            "invalid_dpop_proof",
            Reason::MissingClaim,
        )
        .await;
    }
    let string_iat = session
        .key
        .proof_builder("POST", &url)
        .claim("iat", json!("1800000000"))
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &string_iat,
        401,
        "invalid_dpop_proof",
        Reason::MissingClaim,
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_method_is_rejected() {
    let (server, session, url) = setup().await;
    let proof = session.key.proof("GET", &url);
    rejected(
        &server,
        &session.refresh_token,
        &proof,
        401,
        "invalid_dpop_proof",
        Reason::MethodMismatch,
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_url_is_rejected() {
    let (server, session, _) = setup().await;
    for htu in [
        format!("{}/revoke", server.api_url()),
        format!("https://{}/v1/session/refresh", server.addr()),
        "http://example.com/v1/session/refresh".to_owned(),
    ] {
        let proof = session.key.proof("POST", &htu);
        rejected(
            &server,
            &session.refresh_token,
            &proof,
            401,
            "invalid_dpop_proof",
            Reason::UrlMismatch,
        )
        .await;
    }
}

#[tokio::test]
async fn htu_is_compared_without_query_and_fragment_and_case_insensitively() {
    let (server, session, _) = setup().await;
    let htu = format!("HTTP://{}/v1/session/refresh?x=1#frag", server.addr());
    let url = format!("{}/refresh", server.api_url());
    let response = post_with_proof(
        &url,
        &session.key.proof("POST", &htu),
        &session.refresh_token,
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_proof_older_than_the_iat_window_is_rejected() {
    let (server, session, url) = setup().await;
    let edge = session
        .key
        .proof_builder("POST", &url)
        .claim("iat", json!(NOW - 60))
        .build();
    let ok = post_with_proof(&url, &edge, &session.refresh_token).await;
    assert_eq!(ok.status(), 200, "iat exactly at the window's edge passes");
    let token = header(&ok, "x-refresh-token");
    let old = session
        .key
        .proof_builder("POST", &url)
        .claim("iat", json!(NOW - 61))
        .build();
    rejected(
        &server,
        &token,
        &old,
        401,
        "invalid_dpop_proof",
        Reason::IatTooOld,
    )
    .await;
}

#[tokio::test]
async fn a_proof_from_the_future_is_rejected() {
    let (server, session, url) = setup().await;
    let future = session
        .key
        .proof_builder("POST", &url)
        .claim("iat", json!(NOW + 61))
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &future,
        401,
        "invalid_dpop_proof",
        Reason::IatInFuture,
    )
    .await;
}

#[tokio::test]
async fn a_replayed_proof_is_rejected() {
    let (server, session, url) = setup().await;
    let proof = session.key.proof("POST", &url);
    let first = post_with_proof(&url, &proof, &session.refresh_token).await;
    assert_eq!(first.status(), 200);
    let next = header(&first, "x-refresh-token");
    rejected(
        &server,
        &next,
        &proof,
        401,
        "invalid_dpop_proof",
        Reason::ReplayedProof,
    )
    .await;
    assert_eq!(
        server
            .control()
            .stats()
            .await
            .expect("stats")
            .replays_rejected,
        1
    );
    let fresh = post_with_proof(&url, &session.key.proof("POST", &url), &next).await;
    assert_eq!(fresh.status(), 200, "the replay did not spend the token");
}

#[tokio::test]
async fn a_rejected_proof_does_not_burn_its_jti() {
    let (server, session, url) = setup().await;
    let proof = session.key.proof("POST", &url);
    // Refused before the replay check: the client may retry with the same proof's jti.
    server
        .control()
        .update_policy(|p| p.nonce_mode = NonceMode::Required)
        .await
        .expect("policy");
    rejected(
        &server,
        &session.refresh_token,
        &proof,
        400,
        "use_dpop_nonce",
        Reason::NonceMissing,
    )
    .await;
    server
        .control()
        .update_policy(|p| p.nonce_mode = NonceMode::Off)
        .await
        .expect("policy");
    let response = post_with_proof(&url, &proof, &session.refresh_token).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_nonces_required_a_proof_without_one_gets_use_dpop_nonce_and_the_nonce() {
    let server = server_with(Policy {
        nonce_mode: NonceMode::Required,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    let response = post_with_proof(
        &url,
        &session.key.proof("POST", &url),
        &session.refresh_token,
    )
    .await;
    let nonce = header(&response, "dpop-nonce");
    expect_error(response, 400, "use_dpop_nonce").await;
    let retry = session
        .key
        .proof_builder("POST", &url)
        .claim("nonce", json!(nonce))
        .build();
    let ok = post_with_proof(&url, &retry, &session.refresh_token).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        header(&ok, "dpop-nonce"),
        nonce,
        "every answer carries the nonce"
    );
}

#[tokio::test]
async fn a_stale_nonce_gets_use_dpop_nonce() {
    let server = server_with(Policy {
        nonce_mode: NonceMode::Required,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    let proof = session
        .key
        .proof_builder("POST", &url)
        .claim("nonce", json!("stale"))
        .build();
    rejected(
        &server,
        &session.refresh_token,
        &proof,
        400,
        "use_dpop_nonce",
        Reason::NonceStale,
    )
    .await;
}

#[tokio::test]
async fn rotating_nonces_keep_recent_ones_valid_and_then_expire_them() {
    let policy = Policy {
        nonce_mode: NonceMode::Rotating,
        nonce_rotation_seconds: 30,
        nonce_history: 2,
        iat_window_seconds: 600,
        ..Policy::default()
    };
    let server = server_with(policy).await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    let first = post_with_proof(
        &url,
        &session.key.proof("POST", &url),
        &session.refresh_token,
    )
    .await;
    let old_nonce = header(&first, "dpop-nonce");
    server.control().advance_clock(30).await.expect("clock");
    let proof = session
        .key
        .proof_builder("POST", &url)
        .claim("nonce", json!(old_nonce))
        .build();
    let ok = post_with_proof(&url, &proof, &session.refresh_token).await;
    assert_eq!(ok.status(), 200, "the previous nonce is still accepted");
    assert_ne!(
        header(&ok, "dpop-nonce"),
        old_nonce,
        "a new nonce is handed out"
    );
    let token = header(&ok, "x-refresh-token");
    server.control().advance_clock(30).await.expect("clock");
    let proof = session
        .key
        .proof_builder("POST", &url)
        .claim("nonce", json!(old_nonce))
        .build();
    rejected(
        &server,
        &token,
        &proof,
        400,
        "use_dpop_nonce",
        Reason::NonceStale,
    )
    .await;
}
