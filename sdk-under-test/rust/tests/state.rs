//! The session state stream and dispose.

mod common;

use common::fixture;
use prelude_session::{ErrorKind, RevokeTarget, SessionState};

#[tokio::test]
async fn the_state_stream_follows_login_expiry_and_logout() {
    let f = fixture().await;
    let client = f.client();
    let mut states = client.state();
    assert_eq!(*states.borrow_and_update(), SessionState::LoggedOut);
    f.login(&client).await;
    assert!(states.has_changed().expect("open"));
    assert_eq!(*states.borrow_and_update(), SessionState::LoggedIn);

    let sid = client.session_id().expect("sid");
    f.server
        .control()
        .revoke_session(&sid)
        .await
        .expect("revoke");
    client.invalidate_cache();
    let error = client.refresh().await.expect_err("revoked");
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Unauthorized, Some("unauthorized"))
    );
    assert_eq!(*states.borrow_and_update(), SessionState::Expired);
    assert!(client.is_logged_in(), "a refused refresh does not wipe");

    client.logout().await.ok();
    assert_eq!(*states.borrow_and_update(), SessionState::LoggedOut);
}

#[tokio::test]
async fn a_terminated_user_is_reported_with_the_servers_code() {
    let f = fixture().await;
    let client = f.logged_in().await;
    f.server
        .control()
        .terminate_user(&f.user_id)
        .await
        .expect("terminate");
    client.invalidate_cache();
    let error = client.refresh().await.expect_err("blocked");
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Terminated, Some("auth_blocked"))
    );
    assert_eq!(
        *client.state().borrow(),
        SessionState::Terminated {
            code: "auth_blocked".into()
        }
    );
}

#[tokio::test]
async fn a_dropped_receiver_is_an_unsubscribe_and_others_keep_receiving() {
    let f = fixture().await;
    let client = f.client();
    let gone = client.state();
    drop(gone);
    let mut kept = client.state();
    f.login(&client).await;
    assert!(kept.changed().await.is_ok());
    assert_eq!(*kept.borrow(), SessionState::LoggedIn);
}

#[tokio::test]
async fn after_dispose_every_call_is_a_disposed_error_and_nothing_is_wiped() {
    let f = fixture().await;
    let client = f.logged_in().await;
    client.dispose();
    client.dispose();
    assert_eq!(
        client.refresh().await.expect_err("disposed").kind(),
        ErrorKind::Disposed
    );
    assert_eq!(
        client.logout().await.expect_err("disposed").kind(),
        ErrorKind::Disposed
    );
    assert_eq!(
        client
            .list_sessions(None, None)
            .await
            .expect_err("disposed")
            .kind(),
        ErrorKind::Disposed
    );
    let revoke = client
        .revoke_sessions(RevokeTarget::Mine)
        .await
        .expect_err("disposed");
    assert_eq!(revoke.kind(), ErrorKind::Disposed);
    assert!(f.stored_refresh_token().is_some());
}
