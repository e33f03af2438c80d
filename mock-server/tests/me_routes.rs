//! `GET /me/list` and `POST /me/revoke`: bearer auth, pagination, every target and its errors.

mod common;

use common::{Key, expect_error, http, login, refresh_with, server};
use prelude_mock_server::{DeviceType, MockServer, NonceMode, SessionView};
use serde_json::{Value, json};

async fn list(server: &MockServer, token: &str, query: &str) -> reqwest::Response {
    http()
        .get(format!("{}/me/list{query}", server.api_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
}

async fn revoke(server: &MockServer, token: &str, query: &str) -> reqwest::Response {
    http()
        .post(format!("{}/me/revoke{query}", server.api_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn list_shows_the_callers_active_sessions_with_device_data() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    login(&server, "ada@example.com").await;
    login(&server, "bob@example.com").await;
    let response = list(&server, &mine.access_token, "").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        (
            body["total"].as_u64(),
            body["limit"].as_u64(),
            body["offset"].as_u64()
        ),
        (Some(2), Some(10), Some(0))
    );
    let sessions: Vec<SessionView> =
        serde_json::from_value(body["sessions"].clone()).expect("session views");
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().any(|s| s.id == mine.session_id));
    let view = &sessions[0];
    assert_eq!(view.created_at, "2027-01-15T08:00:00Z");
    assert_eq!(view.country_code.len(), 2);
    assert!(matches!(
        view.device_type,
        DeviceType::Unknown | DeviceType::Desktop | DeviceType::Mobile
    ));
}

#[tokio::test]
async fn list_paginates_with_limit_and_offset() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    for _ in 0..4 {
        login(&server, "ada@example.com").await;
    }
    let page: Value = list(&server, &mine.access_token, "?limit=2&offset=3")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["sessions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (
            page["total"].as_u64(),
            page["limit"].as_u64(),
            page["offset"].as_u64()
        ),
        (Some(5), Some(2), Some(3))
    );
    let past_end: Value = list(&server, &mine.access_token, "?offset=10")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(past_end["sessions"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn list_rejects_bad_pagination() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    for query in ["?limit=0", "?limit=101", "?limit=ten", "?limit=-1"] {
        expect_error(
            list(&server, &session.access_token, query).await,
            400,
            "invalid_pagination_limit",
        )
        .await;
    }
    for query in ["?offset=-1", "?offset=x"] {
        expect_error(
            list(&server, &session.access_token, query).await,
            400,
            "invalid_pagination_offset",
        )
        .await;
    }
}

#[tokio::test]
async fn list_hides_revoked_and_expired_sessions() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let other = login(&server, "ada@example.com").await;
    server
        .control()
        .revoke_session(&other.session_id)
        .await
        .expect("revoke");
    let body: Value = list(&server, &mine.access_token, "")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["total"], 1);
}

#[tokio::test]
async fn bearer_routes_refuse_missing_forged_and_expired_tokens() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let no_auth = http()
        .get(format!("{}/me/list", server.api_url()))
        .send()
        .await
        .expect("send");
    expect_error(no_auth, 401, "unauthorized").await;
    expect_error(list(&server, "", "").await, 401, "unauthorized").await;
    expect_error(list(&server, "garbage", "").await, 401, "unauthorized").await;
    let mut forged = session.access_token.clone();
    forged.push('A');
    expect_error(list(&server, &forged, "").await, 401, "unauthorized").await;
    server.control().advance_clock(900).await.expect("clock");
    expect_error(
        list(&server, &session.access_token, "").await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn expiring_a_sessions_access_tokens_makes_the_next_call_unauthorized_until_refresh() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .expire_access(&session.session_id)
        .await
        .expect("expire");
    expect_error(
        list(&server, &session.access_token, "").await,
        401,
        "unauthorized",
    )
    .await;
    server.control().advance_clock(1).await.expect("clock");
    let refreshed = refresh_with(&server, &session.key, &session.refresh_token).await;
    let body: Value = refreshed.json().await.expect("json");
    let fresh = body["access_token"].as_str().expect("token");
    assert_eq!(list(&server, fresh, "").await.status(), 200);
}

#[tokio::test]
async fn a_dpop_proof_on_me_routes_is_optional_but_verified_and_bound() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let url = format!("{}/me/list", server.api_url());
    let send = |proof: String| {
        http()
            .get(&url)
            .bearer_auth(&session.access_token)
            .header("DPoP", proof)
            .send()
    };
    assert_eq!(
        send(session.key.proof("GET", &url))
            .await
            .expect("send")
            .status(),
        200
    );
    expect_error(
        send(session.key.proof("POST", &url)).await.expect("send"),
        400,
        "invalid_dpop_proof",
    )
    .await;
    expect_error(
        send(Key::new().proof("GET", &url)).await.expect("send"),
        401,
        "dpop_key_mismatch",
    )
    .await;
}

#[tokio::test]
async fn an_rfc9449_resource_server_challenges_for_a_nonce_with_401_and_www_authenticate() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .update_policy(|p| {
            p.nonce_mode = NonceMode::Required;
            p.rfc9449_resource_errors = true;
        })
        .await
        .expect("policy");
    let url = format!("{}/me/list", server.api_url());
    let answer = http()
        .get(&url)
        .bearer_auth(&session.access_token)
        .header("DPoP", session.key.proof("GET", &url))
        .send()
        .await
        .expect("send");
    let challenge = common::header(&answer, "www-authenticate");
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    let nonce = common::header(&answer, "dpop-nonce");
    expect_error(answer, 401, "use_dpop_nonce").await;
    let retried = http()
        .get(&url)
        .bearer_auth(&session.access_token)
        .header(
            "DPoP",
            session.key.proof_builder("GET", &url).nonce(&nonce).build(),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(retried.status(), 200);
}

#[tokio::test]
async fn prelude_resource_errors_keep_the_400_nonce_challenge() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .update_policy(|p| p.nonce_mode = NonceMode::Required)
        .await
        .expect("policy");
    let url = format!("{}/me/list", server.api_url());
    let answer = http()
        .get(&url)
        .bearer_auth(&session.access_token)
        .header("DPoP", session.key.proof("GET", &url))
        .send()
        .await
        .expect("send");
    assert!(answer.headers().get("www-authenticate").is_none());
    expect_error(answer, 400, "use_dpop_nonce").await;
}

#[tokio::test]
async fn revoke_all_ends_every_session_of_the_user_including_the_callers() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let other = login(&server, "ada@example.com").await;
    let stranger = login(&server, "bob@example.com").await;
    let response = revoke(&server, &mine.access_token, "?target=all").await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("body").is_empty());
    for session in [&mine, &other] {
        expect_error(
            refresh_with(&server, &session.key, &session.refresh_token).await,
            401,
            "unauthorized",
        )
        .await;
    }
    assert_eq!(
        refresh_with(&server, &stranger.key, &stranger.refresh_token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn revoke_others_keeps_the_callers_session() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let other = login(&server, "ada@example.com").await;
    assert_eq!(
        revoke(&server, &mine.access_token, "?target=others")
            .await
            .status(),
        204
    );
    assert_eq!(
        refresh_with(&server, &mine.key, &mine.refresh_token)
            .await
            .status(),
        200
    );
    expect_error(
        refresh_with(&server, &other.key, &other.refresh_token).await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn revoke_mine_ends_only_the_callers_session() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let other = login(&server, "ada@example.com").await;
    assert_eq!(
        revoke(&server, &mine.access_token, "?target=mine")
            .await
            .status(),
        204
    );
    expect_error(
        refresh_with(&server, &mine.key, &mine.refresh_token).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(
        refresh_with(&server, &other.key, &other.refresh_token)
            .await
            .status(),
        200
    );
    expect_error(
        list(&server, &mine.access_token, "").await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn revoke_session_ends_the_named_session_only() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let other = login(&server, "ada@example.com").await;
    let query = format!("?target=session&session_id={}", other.session_id);
    assert_eq!(
        revoke(&server, &mine.access_token, &query).await.status(),
        204
    );
    expect_error(
        refresh_with(&server, &other.key, &other.refresh_token).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(
        refresh_with(&server, &mine.key, &mine.refresh_token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn revoke_rejects_bad_targets_and_missing_or_unknown_session_ids() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let stranger = login(&server, "bob@example.com").await;
    for query in ["", "?target=everything", "?target="] {
        expect_error(
            revoke(&server, &mine.access_token, query).await,
            400,
            "bad_request",
        )
        .await;
    }
    for query in [
        "?target=session",
        "?target=session&session_id=",
        "?target=session&session_id=%20%20",
    ] {
        expect_error(
            revoke(&server, &mine.access_token, query).await,
            400,
            "bad_request",
        )
        .await;
    }
    let unknown = revoke(
        &server,
        &mine.access_token,
        "?target=session&session_id=ses_nope",
    )
    .await;
    expect_error(unknown, 404, "not_found").await;
    let foreign = format!("?target=session&session_id={}", stranger.session_id);
    expect_error(
        revoke(&server, &mine.access_token, &foreign).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        refresh_with(&server, &stranger.key, &stranger.refresh_token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn revoke_accepts_an_empty_json_object_body() {
    let server = server().await;
    let mine = login(&server, "ada@example.com").await;
    let response = http()
        .post(format!("{}/me/revoke?target=mine", server.api_url()))
        .bearer_auth(&mine.access_token)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 204);
}
