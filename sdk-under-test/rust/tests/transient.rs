//! Transient failures are retried with backoff, but a refresh whose answer was lost is never
//! re-sent blindly: only inside the server's reuse grace window.

mod common;

use std::time::Duration;

use common::{fast_retries, fixture, fixture_with};
use prelude_mock_server::{Fault, FaultAction, Policy, Route};
use prelude_session::{ErrorKind, SessionClient};

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_the_refresh_succeeds() {
    let f = fixture().await;
    let client = f.logged_in().await;
    f.fault(Fault::new(Route::Refresh, FaultAction::error(503, "internal")).times(2))
        .await;
    client.invalidate_cache();
    client.refresh().await.expect("third attempt succeeds");
    let stats = f.server.control().stats().await.expect("stats");
    assert_eq!(
        (
            stats.requests_by_route.get(&Route::Refresh),
            stats.refresh_ok,
            stats.reuse_detected
        ),
        (Some(&3), 1, 0)
    );
}

#[tokio::test]
async fn rate_limiting_is_retried_and_gives_up_after_the_attempts() {
    let f = fixture().await;
    let client = f.logged_in().await;
    f.fault(Fault::new(Route::Refresh, FaultAction::error(429, "rate_limited")).times(3))
        .await;
    client.invalidate_cache();
    let error = client.refresh().await.expect_err("three 429s");
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Server, Some("rate_limited"))
    );
    assert!(client.is_logged_in(), "a transient failure wipes nothing");
    client.refresh().await.expect("the token was never spent");
}

#[tokio::test]
async fn a_lost_answer_without_a_grace_window_is_not_resent() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let token = f.stored_refresh_token();
    f.fault(Fault::new(Route::Refresh, FaultAction::CommitThenDrop))
        .await;
    client.invalidate_cache();
    let error = client.refresh().await.expect_err("outcome unknown");
    assert_eq!(error.kind(), ErrorKind::RefreshOutcomeUnknown);
    assert_eq!(f.stored_refresh_token(), token, "the stored token is kept");
    let stats = f.server.control().stats().await.expect("stats");
    assert_eq!(
        (
            stats.requests_by_route.get(&Route::Refresh),
            stats.reuse_detected
        ),
        (Some(&1), 0)
    );
}

#[tokio::test]
async fn a_lost_answer_inside_the_grace_window_is_recovered_with_the_same_successor() {
    let f = fixture_with(Policy {
        reuse_grace_seconds: 10,
        ..Policy::default()
    })
    .await;
    let client = f
        .builder()
        .server_reuse_grace(Duration::from_secs(10))
        .build()
        .expect("client");
    f.login(&client).await;
    f.fault(Fault::new(Route::Refresh, FaultAction::CommitThenDrop))
        .await;
    client.invalidate_cache();
    client.refresh().await.expect("recovered");
    let stats = f.server.control().stats().await.expect("stats");
    assert_eq!(
        (stats.rotations, stats.grace_reissues, stats.reuse_detected),
        (1, 1, 0)
    );
    client.invalidate_cache();
    client
        .refresh()
        .await
        .expect("the recovered successor works");
}

#[tokio::test]
async fn a_connection_reset_before_handling_leaves_the_token_usable() {
    let f = fixture().await;
    let client = f.logged_in().await;
    f.fault(Fault::new(Route::Refresh, FaultAction::Reset))
        .await;
    client.invalidate_cache();
    assert_eq!(
        client.refresh().await.expect_err("lost").kind(),
        ErrorKind::RefreshOutcomeUnknown
    );
    client
        .refresh()
        .await
        .expect("the server never spent it, so the next try works");
    assert_eq!(
        f.server
            .control()
            .stats()
            .await
            .expect("stats")
            .reuse_detected,
        0
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported_as_transport() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let store = f.store.clone();
    let url = f.server.url().to_owned();
    f.server.shutdown().await;
    let offline = SessionClient::builder(url)
        .clock(f.clock.clone())
        .store(store)
        .retry_policy(fast_retries(3))
        .build()
        .expect("client");
    offline.invalidate_cache();
    let error = offline.refresh().await.expect_err("offline");
    assert_eq!(error.kind(), ErrorKind::Transport);
    assert!(offline.is_logged_in());
    drop(client);
}
