//! What Prelude's native SDKs' own tests pin down and the reference client matches: lowercase
//! `htu`, one `X-Device-Id` per install, the previous session ended on a second login, and no
//! decoding of oversized error bodies.

mod common;

use common::fixture;
use prelude_mock_server::{Fault, FaultAction, Route};

#[tokio::test]
async fn proofs_name_the_server_in_lower_case_whatever_the_configured_case() {
    let f = fixture().await;
    let shouted = f.server.url().replacen("http://", "HTTP://", 1);
    let client = prelude_session::SessionClient::builder(shouted)
        .clock(f.clock.clone())
        .store(f.store.clone())
        .build()
        .expect("a mixed-case URL is a valid base URL");
    f.login(&client).await;
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    let htu = f.journal(Route::Refresh).await[0]
        .dpop
        .as_ref()
        .and_then(|d| d.htu.clone())
        .expect("a proof");
    assert!(htu.starts_with("http://"), "htu {htu:?}");
}

#[tokio::test]
async fn every_request_carries_the_stores_device_id() {
    let f = fixture().await;
    let client = f.logged_in().await;
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    client.logout().await.expect("logout");
    let journal = f.server.control().journal(0, None).await.expect("journal");
    let ids: Vec<_> = journal.iter().map(|e| e.device_id.clone()).collect();
    assert!(ids.len() >= 3 && ids.iter().all(Option::is_some), "{ids:?}");
    assert!(ids.windows(2).all(|p| p[0] == p[1]), "one id: {ids:?}");
}

#[tokio::test]
async fn a_second_login_ends_the_previous_session() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let first = client.snapshot().session_id.expect("a session");
    f.login(&client).await;
    let sessions = f.server.control().sessions().await.expect("sessions");
    let previous = sessions
        .iter()
        .find(|s| s.id == first)
        .expect("the first session");
    assert!(
        previous.revoked.is_some(),
        "the previous session still active"
    );
    assert_eq!(sessions.iter().filter(|s| s.revoked.is_none()).count(), 1);
}

#[tokio::test]
async fn an_oversized_error_body_is_not_decoded_or_acted_on() {
    let f = fixture().await;
    let client = f.logged_in().await;
    // A nonce challenge the client would retry, were its 8 KiB body read.
    let challenge = FaultAction::error(400, "use_dpop_nonce")
        .with_header("dpop-nonce", "n-1")
        .padded_to(8 * 1024);
    f.fault(Fault::new(Route::Refresh, challenge)).await;
    client.invalidate_cache();
    assert!(client.refresh().await.is_err());
    assert_eq!(f.requests(Route::Refresh).await, 1, "no retry");
    assert!(f.stored_refresh_token().is_some(), "the session is kept");
}
