//! Every RFC 9449 §4.3 rejection path of a proof's form, against a running server: each gets
//! the right status and code, and the journal names the reason. Time, replay and nonces are in
//! `dpop_freshness.rs`.

mod common;

use common::{
    Key, NOW, b64, expect_error, http, post_with_proof, refresh_setup as setup, rejected,
};
use prelude_mock_server::Reason;
use serde_json::json;

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
    expect_error(response, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_proof_that_is_not_a_jwt_is_rejected() {
    let (server, session, _) = setup().await;
    rejected(
        &server,
        &session.refresh_token,
        "not-a-jwt",
        400,
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
        400,
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
        400,
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
            400,
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
        400,
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
        400,
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
        400,
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
        400,
        "invalid_dpop_proof",
        Reason::PrivateKeyInJwk,
    )
    .await;
}

#[tokio::test]
async fn a_signed_proof_naming_a_critical_extension_is_rejected_and_spends_nothing() {
    let (server, session, url) = setup().await;
    for crit in [json!(["x-unknown"]), json!([]), json!("x-unknown")] {
        let proof = session
            .key
            .proof_builder("POST", &url)
            .header("crit", crit)
            .header("x-unknown", json!(true))
            .build();
        rejected(
            &server,
            &session.refresh_token,
            &proof,
            400,
            "invalid_dpop_proof",
            Reason::UnsupportedCriticalHeader,
        )
        .await;
    }
    let response = post_with_proof(
        &url,
        &session.key.proof("POST", &url),
        &session.refresh_token,
    )
    .await;
    assert_eq!(
        response.status(),
        200,
        "the refresh token was not spent by the rejected proofs"
    );
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
        400,
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
        400,
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
            400,
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
        400,
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
        400,
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
            400,
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
