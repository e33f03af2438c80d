//! `revoke_sessions`: every target, and the wipe rules (all, mine, own session wipe; others
//! never; failures never).

mod common;

use common::fixture;
use prelude_mock_server::{Fault, FaultAction, Route};
use prelude_session::{ErrorKind, RevokeTarget, SessionClient};

async fn two_sessions(f: &common::Fixture) -> (SessionClient, SessionClient) {
    let mine = f.logged_in().await;
    let other = SessionClient::builder(f.server.url())
        .clock(f.clock.clone())
        .build()
        .expect("client");
    f.login(&other).await;
    (mine, other)
}

#[tokio::test]
async fn revoke_all_wipes_local_state() {
    let f = fixture().await;
    let (mine, other) = two_sessions(&f).await;
    mine.revoke_sessions(RevokeTarget::All)
        .await
        .expect("revoke");
    assert!(!mine.is_logged_in());
    other.invalidate_cache();
    assert_eq!(
        other.refresh().await.expect_err("revoked").kind(),
        ErrorKind::Unauthorized
    );
}

#[tokio::test]
async fn revoke_mine_wipes_local_state_and_keeps_the_others() {
    let f = fixture().await;
    let (mine, other) = two_sessions(&f).await;
    mine.revoke_sessions(RevokeTarget::Mine)
        .await
        .expect("revoke");
    assert!(!mine.is_logged_in());
    other.invalidate_cache();
    other.refresh().await.expect("still alive");
}

#[tokio::test]
async fn revoke_others_never_wipes() {
    let f = fixture().await;
    let (mine, other) = two_sessions(&f).await;
    mine.revoke_sessions(RevokeTarget::Others)
        .await
        .expect("revoke");
    assert!(mine.is_logged_in());
    other.invalidate_cache();
    assert_eq!(
        other.refresh().await.expect_err("revoked").kind(),
        ErrorKind::Unauthorized
    );
}

#[tokio::test]
async fn revoking_the_own_session_by_id_wipes_and_another_id_does_not() {
    let f = fixture().await;
    let (mine, other) = two_sessions(&f).await;
    let other_sid = other.session_id().expect("sid");
    mine.revoke_sessions(RevokeTarget::session(other_sid).expect("id"))
        .await
        .expect("revoke");
    assert!(mine.is_logged_in());
    let own = mine.session_id().expect("sid");
    mine.revoke_sessions(RevokeTarget::session(own).expect("id"))
        .await
        .expect("revoke");
    assert!(!mine.is_logged_in());
}

#[tokio::test]
async fn a_blank_session_id_is_refused_before_any_request() {
    let f = fixture().await;
    let mine = f.logged_in().await;
    assert_eq!(
        RevokeTarget::session("   ").expect_err("blank").kind(),
        ErrorKind::InvalidArgument
    );
    let error = mine
        .revoke_sessions(RevokeTarget::Session(String::new()))
        .await
        .expect_err("blank");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert_eq!(f.requests(Route::MeRevoke).await, 0);
}

#[tokio::test]
async fn a_failed_revoke_wipes_nothing() {
    let f = fixture().await;
    let mine = f.logged_in().await;
    let fault = FaultAction::error(503, "internal");
    f.fault(Fault::new(Route::MeRevoke, fault)).await;
    let error = mine
        .revoke_sessions(RevokeTarget::Mine)
        .await
        .expect_err("failed");
    assert_eq!(error.status(), Some(503));
    assert!(mine.is_logged_in());
}

#[tokio::test]
async fn an_unknown_session_id_is_the_servers_not_found() {
    let f = fixture().await;
    let mine = f.logged_in().await;
    let error = mine
        .revoke_sessions(RevokeTarget::session("ses_nope").expect("id"))
        .await
        .expect_err("404");
    assert_eq!(
        (error.status(), error.code()),
        (Some(404), Some("not_found"))
    );
    assert!(mine.is_logged_in());
}
