//! The store's rotation rules and user-agent sniffing, without a server.

use super::*;
use crate::http::api_error::Reason;

fn store_with_session() -> (Store, String) {
    let mut store = Store::default();
    let user = store
        .create_user("ada@example.com", "pw", None)
        .expect("user");
    let device = Device::from_user_agent("Prelude/0.3.0 (Apple; iOS 17.4)");
    let session = store
        .create_session(&user.id, "jkt1", device, 100, 1000)
        .expect("session");
    (store, session.refresh_token.expose().to_owned())
}

#[test]
fn a_refresh_rotates_and_the_old_token_is_then_reuse() {
    let (mut store, t0) = store_with_session();
    let spent = store
        .spend(&t0, "jkt1", 101, 0, Spend::Refresh)
        .expect("rotates");
    assert!(spent.rotated && spent.next_token.expose() != t0);
    let (reason, facts) = store
        .spend(&t0, "jkt1", 102, 0, Spend::Refresh)
        .expect_err("reuse");
    assert_eq!(reason, Reason::RefreshTokenReused);
    assert_eq!(facts.generation, Some(0));
    let (reason, _) = store
        .spend(spent.next_token.expose(), "jkt1", 103, 0, Spend::Refresh)
        .expect_err("revoked");
    assert_eq!(
        reason,
        Reason::SessionRevoked,
        "reuse revoked the whole family"
    );
}

#[test]
fn the_grace_window_returns_the_same_successor_to_the_parent_only() {
    let (mut store, t0) = store_with_session();
    let t1 = store
        .spend(&t0, "jkt1", 100, 5, Spend::Refresh)
        .expect("rotate")
        .next_token;
    let again = store
        .spend(&t0, "jkt1", 104, 5, Spend::Refresh)
        .expect("grace");
    assert!(again.grace_reissue && !again.rotated);
    assert_eq!(again.next_token, t1);
    let t2 = store
        .spend(t1.expose(), "jkt1", 104, 5, Spend::Refresh)
        .expect("rotate")
        .next_token;
    assert_ne!(t2, t1);
    let (reason, _) = store
        .spend(&t0, "jkt1", 104, 5, Spend::Refresh)
        .expect_err("grandparent");
    assert_eq!(reason, Reason::RefreshTokenReused);
}

#[test]
fn another_key_is_refused_without_revoking() {
    let (mut store, t0) = store_with_session();
    let (reason, _) = store
        .spend(&t0, "other", 101, 0, Spend::Refresh)
        .expect_err("mismatch");
    assert_eq!(reason, Reason::KeyMismatch);
    assert!(store.spend(&t0, "jkt1", 101, 0, Spend::Refresh).is_ok());
}

#[test]
fn device_data_is_guessed_from_the_sdk_user_agents() {
    let ios = Device::from_user_agent("Prelude/0.3.0 (Apple; iOS 17.4)");
    assert_eq!(
        (ios.kind.clone(), ios.os_version.as_str()),
        (DeviceType::Mobile, "17.4")
    );
    let web = Device::from_user_agent("Prelude/0.6.0 Core/0.1.9 (Web)");
    assert_eq!(web.kind, DeviceType::Desktop);
    assert_eq!(Device::from_user_agent("curl/8").kind, DeviceType::Unknown);
}

#[test]
fn only_the_newest_tokens_of_a_session_are_remembered() {
    let (store, t0) = store_with_session();
    let mut store = Store {
        token_history: 3,
        ..store
    };
    let mut tokens = vec![t0];
    for now in 101..105 {
        let last = tokens.last().cloned().unwrap_or_default();
        let spent = store
            .spend(&last, "jkt1", now, 0, Spend::Refresh)
            .expect("rotates");
        tokens.push(spent.next_token.expose().to_owned());
    }
    assert_eq!(store.tokens.len(), 3, "the current token and two parents");
    let (reason, _) = store
        .spend(&tokens[0], "jkt1", 106, 0, Spend::Refresh)
        .expect_err("forgotten");
    assert_eq!(
        reason,
        Reason::UnknownRefreshToken,
        "a forgotten token revokes nothing"
    );
    let (reason, _) = store
        .spend(&tokens[3], "jkt1", 106, 0, Spend::Refresh)
        .expect_err("remembered parent");
    assert_eq!(reason, Reason::RefreshTokenReused);
}
