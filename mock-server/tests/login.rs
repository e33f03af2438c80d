//! Login: finalize pins a session to the proof's key; challenges are single-use; password and
//! both OTP generations lead to a session.

mod common;

use common::{Key, b64, expect_error, header, http, jwt_claims, login, refresh_with, server};
use prelude_mock_server::{MockServer, Reason, Route};
use serde_json::{Value, json};

async fn finalize(server: &MockServer, key: &Key, body: Value) -> reqwest::Response {
    let url = format!("{}/login/finalize", server.api_url());
    http()
        .post(&url)
        .header("DPoP", key.proof("POST", &url))
        .json(&body)
        .send()
        .await
        .expect("send")
}

async fn user(server: &MockServer) -> String {
    server
        .control()
        .create_user("ada@example.com", "s3cret")
        .await
        .expect("user")
        .id
}

#[tokio::test]
async fn finalize_creates_a_session_pinned_to_the_proof_key() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let sessions = server.control().sessions().await.expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].jkt, session.key.thumbprint());
    assert_eq!(sessions[0].generation, 0);
    assert_eq!(
        server
            .control()
            .stats()
            .await
            .expect("stats")
            .sessions_created,
        1
    );
}

#[tokio::test]
async fn finalize_without_a_proof_is_missing_dpop_proof() {
    let server = server().await;
    let challenge = server
        .control()
        .challenge_for(&user(&server).await)
        .await
        .expect("challenge");
    let url = format!("{}/login/finalize", server.api_url());
    let response = http()
        .post(&url)
        .json(&json!({"challenge_token": challenge}))
        .send()
        .await
        .expect("send");
    expect_error(response, 401, "missing_dpop_proof").await;
}

#[tokio::test]
async fn a_challenge_token_can_be_finalized_only_once() {
    let server = server().await;
    let challenge = server
        .control()
        .challenge_for(&user(&server).await)
        .await
        .expect("challenge");
    let first = finalize(&server, &Key::new(), json!({"challenge_token": challenge})).await;
    assert_eq!(first.status(), 200);
    let again = finalize(&server, &Key::new(), json!({"challenge_token": challenge})).await;
    expect_error(again, 409, "token_reused").await;
}

#[tokio::test]
async fn an_expired_challenge_token_is_refused() {
    let server = server().await;
    let challenge = server
        .control()
        .challenge_for(&user(&server).await)
        .await
        .expect("challenge");
    server.control().advance_clock(601).await.expect("clock");
    server
        .control()
        .update_policy(|p| p.iat_window_seconds = 3600)
        .await
        .expect("policy");
    let response = finalize(&server, &Key::new(), json!({"challenge_token": challenge})).await;
    expect_error(response, 400, "expired_challenge_token").await;
}

#[tokio::test]
async fn a_forged_or_foreign_challenge_token_is_invalid() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    for token in ["nope".to_owned(), session.access_token.clone()] {
        let response = finalize(&server, &Key::new(), json!({"challenge_token": token})).await;
        expect_error(response, 400, "invalid_challenge_token").await;
    }
    let other = common::builder().start().await.expect("other server");
    let uid = other
        .control()
        .create_user("eve@example.com", "pw")
        .await
        .expect("user")
        .id;
    let foreign = other
        .control()
        .challenge_for(&uid)
        .await
        .expect("challenge");
    let response = finalize(&server, &Key::new(), json!({"challenge_token": foreign})).await;
    expect_error(response, 400, "invalid_challenge_token").await;
}

#[tokio::test]
async fn a_pkce_bound_challenge_needs_the_matching_verifier() {
    let server = server().await;
    let uid = user(&server).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge_hash = b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let challenge = server
        .control()
        .challenge_with_pkce(&uid, &challenge_hash)
        .await
        .expect("challenge");
    let missing = finalize(&server, &Key::new(), json!({"challenge_token": challenge})).await;
    expect_error(missing, 400, "token_mismatch").await;
    let wrong = finalize(
        &server,
        &Key::new(),
        json!({"challenge_token": challenge, "code_verifier": "nope"}),
    )
    .await;
    expect_error(wrong, 400, "token_mismatch").await;
    let right = finalize(
        &server,
        &Key::new(),
        json!({"challenge_token": challenge, "code_verifier": verifier}),
    )
    .await;
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn finalize_with_the_previous_refresh_token_ends_the_previous_session() {
    let server = server().await;
    let old = login(&server, "ada@example.com").await;
    let challenge = server
        .control()
        .challenge_for(&old.user_id)
        .await
        .expect("challenge");
    let url = format!("{}/login/finalize", server.api_url());
    let response = http()
        .post(&url)
        .header("DPoP", old.key.proof("POST", &url))
        .header("X-Refresh-Token", &old.refresh_token)
        .json(&json!({"challenge_token": challenge}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let stale = refresh_with(&server, &old.key, &old.refresh_token).await;
    expect_error(stale, 401, "unauthorized").await;
}

#[tokio::test]
async fn password_login_returns_a_challenge_token_for_finalize() {
    let server = server().await;
    let uid = user(&server).await;
    let url = format!("{}/login/email/password", server.api_url());
    let response = http()
        .post(&url)
        .json(&json!({"identifier": "ADA@example.com", "password": "s3cret"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let challenge = body["challenge_token"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let claims = jwt_claims(&challenge);
    assert_eq!(
        (claims["sub"].as_str(), claims["grant_mode"].as_str()),
        (Some(uid.as_str()), Some("session-start"))
    );
    let finalized = finalize(&server, &Key::new(), json!({"challenge_token": challenge})).await;
    assert_eq!(finalized.status(), 200);
}

#[tokio::test]
async fn a_wrong_password_is_unauthorized() {
    let server = server().await;
    user(&server).await;
    let url = format!("{}/login/email/password", server.api_url());
    for body in [
        json!({"identifier": "ada@example.com", "password": "wrong"}),
        json!({"identifier": "nobody@example.com", "password": "s3cret"}),
    ] {
        let response = http().post(&url).json(&body).send().await.expect("send");
        expect_error(response, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn seeded_users_can_log_in_with_their_password() {
    let server = common::builder()
        .user("seed@example.com", "pw")
        .start()
        .await
        .expect("server");
    let url = format!("{}/login/email/password", server.api_url());
    let response = http()
        .post(&url)
        .json(&json!({"identifier": "seed@example.com", "password": "pw"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn legacy_otp_login_sets_a_cookie_and_check_finalizes() {
    let server = server().await;
    let api = server.api_url();
    let start = http()
        .post(format!("{api}/login/otp"))
        .json(&json!({"identifier": {"type": "email_address", "value": "otp@example.com"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(start.status(), 204);
    let cookie = header(&start, "set-cookie");
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    assert!(cookie.starts_with("__verification-login_app_mock="));

    let retry = http()
        .post(format!("{api}/login/otp/retry"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(retry.status(), 204);

    let key = Key::new();
    let check_url = format!("{api}/login/otp/check");
    let check = |code: &'static str| {
        http()
            .post(&check_url)
            .header("Cookie", &cookie)
            .header("DPoP", key.proof("POST", &check_url))
            .json(&json!({"code": code}))
            .send()
    };
    expect_error(check("000000").await.expect("send"), 401, "bad_check_code").await;
    let ok = check("123456").await.expect("send");
    assert_eq!(ok.status(), 200, "token pair, finalize semantics");
    assert!(!header(&ok, "x-refresh-token").is_empty());
    let again = check("123456").await.expect("send");
    expect_error(again, 400, "invalid_verification_token").await;
}

#[tokio::test]
async fn current_otp_login_returns_a_pkce_bound_challenge() {
    let server = server().await;
    let api = server.api_url();
    let verifier = "a-verifier-of-the-client-with-enough-entropy-123";
    let code_challenge = b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let start = http()
        .post(format!("{api}/otp"))
        .json(&json!({
            "identifier": {"type": "phone_number", "value": "+33612345678"},
            "code_challenge": code_challenge,
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(start.status(), 204);
    let token = header(&start, "x-verification-token");
    let retry = http()
        .post(format!("{api}/otp/retry"))
        .header("X-Verification-Token", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(retry.status(), 204);
    let check = http()
        .post(format!("{api}/otp/check"))
        .header("X-Verification-Token", &token)
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .expect("send");
    assert_eq!(check.status(), 200);
    let body: Value = check.json().await.expect("json");
    let challenge = body["challenge_token"].as_str().expect("challenge");
    assert_eq!(
        jwt_claims(challenge)["pkce_challenge"],
        code_challenge.as_str()
    );
    let finalized = finalize(
        &server,
        &Key::new(),
        json!({"challenge_token": challenge, "code_verifier": verifier}),
    )
    .await;
    assert_eq!(finalized.status(), 200);
}

#[tokio::test]
async fn the_otp_code_is_configurable() {
    let server = server().await;
    server
        .control()
        .update_policy(|p| p.otp_code = "4242".into())
        .await
        .expect("policy");
    let api = server.api_url();
    let start = http()
        .post(format!("{api}/otp"))
        .json(&json!({"identifier": {"type": "email_address", "value": "x@example.com"}}))
        .send()
        .await
        .expect("send");
    let token = header(&start, "x-verification-token");
    let check = |code: &'static str| {
        http()
            .post(format!("{api}/otp/check"))
            .header("X-Verification-Token", &token)
            .json(&json!({"code": code}))
            .send()
    };
    expect_error(check("123456").await.expect("send"), 401, "bad_check_code").await;
    assert_eq!(check("4242").await.expect("send").status(), 200);
}

#[tokio::test]
async fn otp_with_a_bad_identifier_or_without_a_verification_is_refused() {
    let server = server().await;
    let api = server.api_url();
    let bad = http()
        .post(format!("{api}/otp"))
        .json(&json!({"identifier": {"type": "phone_number", "value": "call me"}}))
        .send()
        .await
        .expect("send");
    expect_error(bad, 400, "invalid_identifier").await;
    let unknown_type = http()
        .post(format!("{api}/login/otp"))
        .json(&json!({"identifier": {"type": "carrier_pigeon", "value": "x"}}))
        .send()
        .await
        .expect("send");
    expect_error(unknown_type, 400, "invalid_identifier").await;
    let no_verification = http()
        .post(format!("{api}/otp/check"))
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .expect("send");
    expect_error(no_verification, 400, "invalid_verification_token").await;
    let journal = server
        .control()
        .journal(0, Some(Route::OtpCheck))
        .await
        .expect("journal");
    assert_eq!(journal[0].reason, Some(Reason::InvalidVerification));
}

#[tokio::test]
async fn step_up_is_reported_as_not_configured() {
    let server = server().await;
    let response = http()
        .post(format!("{}/otp", server.api_url()))
        .json(&json!({"challenge_token": "x"}))
        .send()
        .await
        .expect("send");
    expect_error(response, 403, "not_configured").await;
}

#[tokio::test]
async fn a_re_login_with_a_new_key_ends_the_session_whose_token_it_brings() {
    let server = server().await;
    let old = login(&server, "ada@example.com").await;
    let challenge = server
        .control()
        .challenge_for(&old.user_id)
        .await
        .expect("challenge");
    let url = format!("{}/login/finalize", server.api_url());
    let response = http()
        .post(&url)
        .header("DPoP", Key::new().proof("POST", &url))
        .header("X-Refresh-Token", &old.refresh_token)
        .header("X-Device-Id", "3f1c2a9e-0000-4000-8000-000000000001")
        .json(&json!({"challenge_token": challenge}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let sessions = server.control().sessions().await.expect("sessions");
    let previous = sessions
        .iter()
        .find(|s| s.id == old.session_id)
        .expect("old");
    assert!(previous.revoked.is_some(), "the previous session ended");
    let new = sessions
        .iter()
        .find(|s| s.id != old.session_id)
        .expect("new");
    assert_eq!(
        new.device_id.as_deref(),
        Some("3f1c2a9e-0000-4000-8000-000000000001")
    );
    let finalize = server
        .control()
        .journal(0, Some(prelude_mock_server::Route::LoginFinalize))
        .await
        .expect("journal");
    let last = finalize.last().expect("entry");
    assert_eq!(
        last.replaced_session.as_deref(),
        Some(old.session_id.as_str())
    );
    assert!(
        last.previous_refresh_token.is_some(),
        "the forwarded token is journaled (fingerprint)"
    );
    assert_eq!(
        last.device_id.as_deref(),
        Some("3f1c2a9e-0000-4000-8000-000000000001")
    );
    assert!(finalize[0].replaced_session.is_none() && finalize[0].previous_refresh_token.is_none());
}

#[tokio::test]
async fn a_login_bringing_another_users_token_ends_nothing() {
    let server = server().await;
    let ada = login(&server, "ada@example.com").await;
    let bob = login(&server, "bob@example.com").await;
    let challenge = server
        .control()
        .challenge_for(&bob.user_id)
        .await
        .expect("challenge");
    let url = format!("{}/login/finalize", server.api_url());
    let response = http()
        .post(&url)
        .header("DPoP", Key::new().proof("POST", &url))
        .header("X-Refresh-Token", &ada.refresh_token)
        .json(&json!({"challenge_token": challenge}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let sessions = server.control().sessions().await.expect("sessions");
    let ada_session = sessions
        .iter()
        .find(|s| s.id == ada.session_id)
        .expect("ada");
    assert!(ada_session.revoked.is_none());
}
