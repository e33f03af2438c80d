//! Refresh tokens are single-use, rotate on every refresh, and reuse revokes the session.

mod common;

use common::{Key, expect_error, header, http, login, refresh_with, server, server_with};
use prelude_mock_server::{Policy, Reason, Route, Verdict};
use serde_json::Value;

#[tokio::test]
async fn a_refresh_returns_a_token_pair_and_a_rotated_refresh_token() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let response = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(response.status(), 200);
    let rotated = header(&response, "x-refresh-token");
    assert_ne!(rotated, session.refresh_token);
    assert!(header(&response, "x-refresh-token-expires-at").ends_with('Z'));
    assert!(header(&response, "set-cookie").starts_with(&format!("__refresh_app_mock={rotated};")));
    let body: Value = response.json().await.expect("json");
    let claims = common::jwt_claims(body["access_token"].as_str().expect("token"));
    assert_eq!(body["expires_at"], claims["exp"]);
    assert_eq!(claims["sid"], session.session_id.as_str());
    assert_eq!(claims["sub"], session.user_id.as_str());
}

#[tokio::test]
async fn a_rotated_token_presented_again_is_reuse_and_revokes_the_session() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let first = refresh_with(&server, &session.key, &session.refresh_token).await;
    let successor = header(&first, "x-refresh-token");

    let reuse = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(reuse, 401, "unauthorized").await;
    let after = refresh_with(&server, &session.key, &successor).await;
    expect_error(after, 401, "unauthorized").await;

    let stats = server.control().stats().await.expect("stats");
    assert_eq!(stats.reuse_detected, 1);
    assert_eq!(stats.rejections.get(&Reason::SessionRevoked), Some(&1));
    let sessions = server.control().sessions().await.expect("sessions");
    assert_eq!(sessions[0].revoked, Some(Reason::RefreshTokenReused));
}

#[tokio::test]
async fn of_many_concurrent_refreshes_with_one_token_exactly_one_wins() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let request = http()
            .post(&url)
            .header("DPoP", session.key.proof("POST", &url))
            .header("X-Refresh-Token", &session.refresh_token);
        tasks.spawn(async move { request.send().await.expect("send").status().as_u16() });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let stats = server.control().stats().await.expect("stats");
    assert_eq!(stats.rotations, 1);
    let revoked = stats
        .rejections
        .get(&Reason::SessionRevoked)
        .copied()
        .unwrap_or(0);
    assert_eq!(
        stats.reuse_detected + revoked,
        31,
        "every loser was refused"
    );
}

#[tokio::test]
async fn inside_the_grace_window_the_parent_gets_the_same_successor_back() {
    let server = server_with(Policy {
        reuse_grace_seconds: 10,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    let first = refresh_with(&server, &session.key, &session.refresh_token).await;
    let successor = header(&first, "x-refresh-token");
    server.control().advance_clock(10).await.expect("clock");

    let again = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "x-refresh-token"), successor);
    let stats = server.control().stats().await.expect("stats");
    assert_eq!(
        (stats.rotations, stats.grace_reissues, stats.reuse_detected),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn after_the_grace_window_the_parent_is_reuse() {
    let server = server_with(Policy {
        reuse_grace_seconds: 10,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    refresh_with(&server, &session.key, &session.refresh_token).await;
    server.control().advance_clock(11).await.expect("clock");
    // Proofs carry iat = the test's NOW; widen the window so only the grace window matters.
    server
        .control()
        .update_policy(|p| p.iat_window_seconds = 600)
        .await
        .expect("policy");
    let again = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(again, 401, "unauthorized").await;
    assert_eq!(
        server
            .control()
            .stats()
            .await
            .expect("stats")
            .reuse_detected,
        1
    );
}

#[tokio::test]
async fn a_grandparent_is_reuse_even_inside_the_grace_window() {
    let server = server_with(Policy {
        reuse_grace_seconds: 60,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    let first = refresh_with(&server, &session.key, &session.refresh_token).await;
    refresh_with(&server, &session.key, &header(&first, "x-refresh-token")).await;
    let grandparent = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(grandparent, 401, "unauthorized").await;
    assert_eq!(
        server
            .control()
            .stats()
            .await
            .expect("stats")
            .reuse_detected,
        1
    );
}

#[tokio::test]
async fn the_grace_window_does_not_extend_to_another_key() {
    let server = server_with(Policy {
        reuse_grace_seconds: 60,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    refresh_with(&server, &session.key, &session.refresh_token).await;
    let thief = refresh_with(&server, &Key::new(), &session.refresh_token).await;
    expect_error(thief, 401, "dpop_key_mismatch").await;
}

#[tokio::test]
async fn a_refresh_signed_by_another_key_is_a_key_mismatch_and_spends_nothing() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let other = refresh_with(&server, &Key::new(), &session.refresh_token).await;
    expect_error(other, 401, "dpop_key_mismatch").await;
    let mine = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(
        mine.status(),
        200,
        "the token was not spent by the mismatch"
    );
}

#[tokio::test]
async fn an_unknown_refresh_token_is_unauthorized() {
    let server = server().await;
    let response = refresh_with(&server, &Key::new(), "rt_not-a-token").await;
    expect_error(response, 401, "unauthorized").await;
    let journal = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .expect("journal");
    assert_eq!(journal[0].reason, Some(Reason::UnknownRefreshToken));
}

#[tokio::test]
async fn a_missing_refresh_token_is_unauthorized() {
    let server = server().await;
    let url = format!("{}/refresh", server.api_url());
    let key = Key::new();
    let response = http()
        .post(&url)
        .header("DPoP", key.proof("POST", &url))
        .send()
        .await
        .expect("send");
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn an_expired_session_cannot_refresh() {
    let server = server_with(Policy {
        refresh_token_ttl_seconds: 100,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    server.control().advance_clock(100).await.expect("clock");
    server
        .control()
        .update_policy(|p| p.iat_window_seconds = 600)
        .await
        .expect("policy");
    let response = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(response, 401, "unauthorized").await;
    let journal = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .expect("journal");
    assert_eq!(journal[0].reason, Some(Reason::SessionExpired));
}

#[tokio::test]
async fn a_session_revoked_through_the_control_api_cannot_refresh() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .revoke_session(&session.session_id)
        .await
        .expect("revoke");
    let response = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_terminated_user_gets_auth_blocked_on_refresh() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .terminate_user(&session.user_id)
        .await
        .expect("terminate");
    let response = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(response, 403, "auth_blocked").await;
}

#[tokio::test]
async fn the_refresh_cookie_works_like_the_header() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    let response = http()
        .post(&url)
        .header("DPoP", session.key.proof("POST", &url))
        .header(
            "Cookie",
            format!("other=1; __refresh_app_mock={}", session.refresh_token),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refresh_accepts_no_body_an_empty_json_body_and_an_empty_object() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/refresh", server.api_url());
    let mut token = session.refresh_token.clone();
    for body in ["", "", "{}"] {
        let mut request = http()
            .post(&url)
            .header("DPoP", session.key.proof("POST", &url))
            .header("X-Refresh-Token", &token);
        if body.is_empty() {
            request = request.header("Content-Type", "application/json");
        }
        let response = request.body(body).send().await.expect("send");
        assert_eq!(response.status(), 200, "body {body:?}");
        token = header(&response, "x-refresh-token");
    }
}

#[tokio::test]
async fn logout_revokes_the_session_and_expires_the_cookie() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/revoke", server.api_url());
    let response = common::post_with_proof(
        &url,
        &session.key.proof("POST", &url),
        &session.refresh_token,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert!(header(&response, "set-cookie").contains("Max-Age=0"));
    assert!(response.bytes().await.expect("body").is_empty());
    let after = refresh_with(&server, &session.key, &session.refresh_token).await;
    expect_error(after, 401, "unauthorized").await;
    assert_eq!(server.control().stats().await.expect("stats").logouts, 1);
}

#[tokio::test]
async fn logout_signed_by_another_key_is_refused_and_the_session_survives() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/revoke", server.api_url());
    let thief = Key::new();
    let response =
        common::post_with_proof(&url, &thief.proof("POST", &url), &session.refresh_token).await;
    expect_error(response, 401, "dpop_key_mismatch").await;
    let still = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(still.status(), 200);
}

#[tokio::test]
async fn the_journal_records_generation_fingerprint_and_proof_of_each_refresh() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let first = refresh_with(&server, &session.key, &session.refresh_token).await;
    refresh_with(&server, &session.key, &header(&first, "x-refresh-token")).await;
    let journal = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .expect("journal");
    assert_eq!(journal.len(), 2);
    assert_eq!(
        journal.iter().map(|e| e.generation).collect::<Vec<_>>(),
        [Some(0), Some(1)]
    );
    assert!(
        journal
            .iter()
            .all(|e| e.verdict == Verdict::Accepted && e.rotated)
    );
    assert_ne!(journal[0].refresh_token, journal[1].refresh_token);
    let fingerprint = journal[0].refresh_token.clone().expect("fingerprint");
    assert!(
        !session.refresh_token.contains(&fingerprint),
        "fingerprint is not the token"
    );
    let dpop = journal[0].dpop.clone().expect("proof");
    assert_eq!(dpop.jkt.as_deref(), Some(session.key.thumbprint().as_str()));
    assert_eq!(dpop.htm.as_deref(), Some("POST"));
    assert_eq!(
        journal[0].session_id.as_deref(),
        Some(session.session_id.as_str())
    );
}
