//! Authorised requests (Bearer, one coalesced refresh and one retry on 401) and the session
//! list built on them.

mod common;

use common::fixture;
use prelude_mock_server::{Route, Verdict};
use prelude_session::{DeviceType, ErrorKind};

#[tokio::test]
async fn a_401_triggers_one_refresh_and_one_retry() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let sid = client.session_id().expect("sid");
    f.server
        .control()
        .expire_access(&sid)
        .await
        .expect("expire");
    f.advance(1).await;
    let page = client
        .list_sessions(None, None)
        .await
        .expect("list after refresh");
    assert_eq!(page.total, 1);
    let journal = f.server.control().journal(0, None).await.expect("journal");
    let routes: Vec<_> = journal
        .iter()
        .skip(1)
        .map(|e| (e.route, e.status))
        .collect();
    assert_eq!(
        routes,
        [
            (Some(Route::MeList), Some(401)),
            (Some(Route::Refresh), Some(200)),
            (Some(Route::MeList), Some(200))
        ]
    );
}

#[tokio::test]
async fn when_the_refresh_fails_the_original_401_is_returned() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let sid = client.session_id().expect("sid");
    f.server
        .control()
        .revoke_session(&sid)
        .await
        .expect("revoke");
    let url = format!("{}/v1/session/me/list", f.server.url());
    let response = client
        .authorized(|http| http.get(&url))
        .await
        .expect("a response");
    assert_eq!(response.status(), 401);
    let journal = f.journal(Route::MeList).await;
    assert_eq!(journal.len(), 1, "no retry without a fresh token");
    assert!(journal.iter().all(|e| e.verdict == Verdict::Rejected));
}

#[tokio::test]
async fn list_sessions_returns_typed_sessions_and_paginates() {
    let f = fixture().await;
    let client = f.logged_in().await;
    // Other devices: stores of their own (a login over this client's store would be a
    // re-login, which ends the session it replaces).
    for _ in 0..2 {
        let device = f
            .builder()
            .store(std::sync::Arc::new(prelude_session::MemoryStore::new()))
            .build()
            .expect("client");
        f.login(&device).await;
    }
    let page = client.list_sessions(Some(2), Some(1)).await.expect("list");
    assert_eq!(
        (page.total, page.limit, page.offset, page.sessions.len()),
        (3, 2, 1, 2)
    );
    let session = &page.sessions[0];
    // The client's User-Agent names its OS, which the mock turns into a device type.
    let expected = if cfg!(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "windows"
    )) {
        DeviceType::Desktop
    } else {
        DeviceType::Unknown
    };
    assert_eq!(session.device_type, expected);
    assert_eq!(session.created_at.unix_timestamp(), common::NOW);
    let error = client
        .list_sessions(Some(0), None)
        .await
        .expect_err("bad limit");
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Server, Some("invalid_pagination_limit"))
    );
}
