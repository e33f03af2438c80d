//! Logout: coalesced, idempotent, wipe first, server after; nothing resurrects the session.

mod common;

use common::fixture;
use prelude_mock_server::{Fault, FaultAction, Reason, Route};
use prelude_session::{ErrorKind, SessionState};

#[tokio::test]
async fn logout_wipes_local_state_and_revokes_the_server_session() {
    let f = fixture().await;
    let client = f.logged_in().await;
    client.logout().await.expect("logout");
    assert!(!client.is_logged_in());
    assert_eq!(client.access_token(), None);
    assert_eq!(f.stored_refresh_token(), None);
    assert_eq!(*client.state().borrow(), SessionState::LoggedOut);
    let sessions = f.server.control().sessions().await.expect("sessions");
    assert_eq!(sessions[0].revoked, Some(Reason::SessionRevoked));
    let journal = f.journal(Route::Revoke).await;
    assert_eq!(
        journal[0].dpop.as_ref().and_then(|d| d.jkt.clone()),
        Some(sessions[0].jkt.clone())
    );
}

#[tokio::test]
async fn a_second_logout_sends_nothing_and_succeeds() {
    let f = fixture().await;
    let client = f.logged_in().await;
    client.logout().await.expect("first");
    client.logout().await.expect("second");
    assert_eq!(f.requests(Route::Revoke).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logouts_share_one_revoke_request() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        callers.spawn(async move { client.logout().await });
    }
    assert!(callers.join_all().await.iter().all(Result::is_ok));
    assert_eq!(f.requests(Route::Revoke).await, 1);
}

#[tokio::test]
async fn logout_wipes_even_when_the_server_call_fails() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let fault = FaultAction::error(503, "internal");
    f.fault(Fault::new(Route::Revoke, fault)).await;
    let error = client.logout().await.expect_err("server failed");
    assert_eq!(error.status(), Some(503));
    assert!(!client.is_logged_in());
    assert_eq!(f.stored_refresh_token(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_racing_a_logout_does_not_resurrect_the_session() {
    let f = fixture().await;
    let client = f.logged_in().await;
    f.fault(Fault::new(Route::Refresh, FaultAction::Delay { ms: 200 }))
        .await;
    client.invalidate_cache();
    let refreshing = tokio::spawn({
        let client = client.clone();
        async move { client.refresh().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    client.logout().await.expect("logout");
    let _ = refreshing.await.expect("task");
    assert!(!client.is_logged_in());
    assert_eq!(f.stored_refresh_token(), None);
    let after = client.refresh().await.expect_err("nothing to refresh");
    assert_eq!(after.kind(), ErrorKind::NotLoggedIn);
    let stats = f.server.control().stats().await.expect("stats");
    assert_eq!(
        (stats.logouts, stats.reuse_detected),
        (1, 0),
        "revoked with the newest token"
    );
}
