//! Login, the cached-token fast path, invalidation, proactive refresh and clock skew.

mod common;

use common::{NOW, fixture, fixture_with};
use prelude_mock_server::{Policy, Route};
use prelude_session::{ErrorKind, SessionState};

#[tokio::test]
async fn finalize_login_stores_a_session_pinned_to_the_clients_key() {
    let f = fixture().await;
    let client = f.logged_in().await;
    assert!(client.is_logged_in());
    assert_eq!(*client.state().borrow(), SessionState::LoggedIn);
    let sessions = f.server.control().sessions().await.expect("sessions");
    assert_eq!(
        client.session_id().as_deref(),
        Some(sessions[0].id.as_str())
    );
    let journal = f.journal(Route::LoginFinalize).await;
    assert_eq!(
        journal[0].dpop.as_ref().and_then(|d| d.jkt.clone()),
        Some(sessions[0].jkt.clone())
    );
    assert!(f.stored_refresh_token().is_some());
}

#[tokio::test]
async fn login_with_password_logs_in_and_a_wrong_password_does_not() {
    let f = fixture().await;
    let client = f.client();
    let error = client
        .login_with_password("ada@example.com", "wrong")
        .await
        .expect_err("refused");
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Unauthorized, Some("unauthorized"))
    );
    assert!(!client.is_logged_in());
    let user = client
        .login_with_password("ada@example.com", "pw")
        .await
        .expect("login");
    assert_eq!(user.user_id(), Some(f.user_id.as_str()));
}

#[tokio::test]
async fn refresh_returns_the_cached_token_without_a_request() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let first = client.refresh().await.expect("refresh");
    let second = client.refresh().await.expect("refresh");
    assert_eq!(first.access_token, second.access_token);
    assert_eq!(f.requests(Route::Refresh).await, 0);
}

#[tokio::test]
async fn invalidate_cache_forces_one_network_refresh_and_keeps_the_token_readable() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let before = client.access_token().expect("token");
    let token_before = f.stored_refresh_token();
    client.invalidate_cache();
    assert_eq!(
        client.access_token(),
        Some(before.clone()),
        "still readable"
    );
    assert!(client.session_id().is_some(), "profile still readable");
    assert_eq!(f.requests(Route::Refresh).await, 0, "invalidation is local");
    let user = client.refresh().await.expect("refresh");
    assert_ne!(user.access_token, before);
    assert_ne!(
        f.stored_refresh_token(),
        token_before,
        "the rotated token was stored"
    );
    assert_eq!(f.requests(Route::Refresh).await, 1);
}

#[tokio::test]
async fn the_profile_carries_every_claim_of_the_access_token() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let profile = client.profile().expect("profile");
    for claim in [
        "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "scope",
    ] {
        assert!(profile.contains_key(claim), "{claim}");
    }
    assert_eq!(client.access_token_expires_at(), Some(NOW + 900));
    let info = client.snapshot();
    assert!(info.logged_in && !info.refresh_in_flight);
    assert_eq!(info.user_id.as_deref(), Some(f.user_id.as_str()));
}

#[tokio::test]
async fn refresh_happens_proactively_inside_the_leeway() {
    let f = fixture().await;
    let client = f
        .builder()
        .refresh_leeway(std::time::Duration::from_secs(60))
        .build()
        .expect("client");
    f.login(&client).await;
    f.advance(900 - 61).await;
    client.refresh().await.expect("cached");
    assert_eq!(
        f.requests(Route::Refresh).await,
        0,
        "outside the leeway: cached"
    );
    f.advance(2).await;
    client.refresh().await.expect("refreshed");
    assert_eq!(
        f.requests(Route::Refresh).await,
        1,
        "inside the leeway: refreshed before expiry"
    );
}

#[tokio::test]
async fn clock_skew_from_the_date_header_corrects_expiry_and_proof_times() {
    // The server is an hour ahead of the client.
    let f = fixture_with(Policy {
        iat_window_seconds: 7200,
        ..Policy::default()
    })
    .await;
    f.server
        .control()
        .set_clock(NOW + 3600, true)
        .await
        .expect("clock");
    let client = f.logged_in().await;
    assert_eq!(
        client.access_token_expires_at(),
        Some(NOW + 900),
        "server exp minus the skew"
    );
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    let journal = f.journal(Route::Refresh).await;
    assert_eq!(
        journal[0].dpop.as_ref().and_then(|d| d.iat),
        Some(NOW + 3600),
        "iat in server time"
    );
}

#[tokio::test]
async fn refresh_without_a_session_is_not_logged_in() {
    let f = fixture().await;
    let error = f.client().refresh().await.expect_err("no session");
    assert_eq!(error.kind(), ErrorKind::NotLoggedIn);
    assert_eq!(f.requests(Route::Refresh).await, 0);
}
