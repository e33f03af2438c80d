//! When a DPoP proof is fresh, against a running server: the `iat` window, proofs from the
//! future, replayed `jti`s (and rejected proofs not burning theirs), and server nonces
//! (required, stale, rotating).

mod common;

use common::Session;
use common::{
    NOW, expect_error, header, login, post_with_proof, refresh_setup as setup, rejected,
    server_with,
};
use prelude_mock_server::{MockServer, NonceMode, Policy, Reason};
use serde_json::json;

fn nonces_required() -> Policy {
    Policy {
        nonce_mode: NonceMode::Required,
        ..Policy::default()
    }
}

/// A server with `policy`, a logged-in session and the refresh URL.
async fn setup_with(policy: Policy) -> (MockServer, Session, String) {
    let server = server_with(policy).await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    (server, session, url)
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
        400,
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
        400,
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
        400,
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
    let (_server, session, url) = setup_with(nonces_required()).await;
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
        .nonce(&nonce)
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
    let (server, session, url) = setup_with(nonces_required()).await;
    let proof = session
        .key
        .proof_builder("POST", &url)
        .nonce("stale")
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
    let (server, session, url) = setup_with(policy).await;
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
        .nonce(&old_nonce)
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
        .nonce(&old_nonce)
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
