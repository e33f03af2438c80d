//! Answers that are not what the protocol says, and canned transport failures (wiremock): each
//! gives a typed error and leaves the stored credentials exactly as they were.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prelude_session::{
    DpopSigner, ErrorKind, ManualClock, MemoryStore, RetryPolicy, SessionClient, SoftwareKey,
    Store, StoredSession,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: i64 = 1_800_000_000;

fn jwt(exp: i64) -> String {
    let claims = serde_json::json!({"sub": "usr_1", "sid": "ses_1", "exp": exp});
    format!(
        "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn seeded_store() -> (Arc<MemoryStore>, StoredSession) {
    let key = SoftwareKey::generate().expect("key");
    let session = StoredSession {
        refresh_token: "rt_seed".into(),
        access_token: Some(jwt(NOW - 10)),
        access_expires_at: Some(NOW - 10),
        dpop_key: key.export(),
        ..StoredSession::default()
    };
    let store = Arc::new(MemoryStore::new());
    store.save(&session).expect("seed");
    (store, session)
}

async fn client_against(
    answer: ResponseTemplate,
    timeout: Duration,
) -> (MockServer, SessionClient, Arc<MemoryStore>, StoredSession) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/session/refresh"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let (store, seeded) = seeded_store();
    let client = SessionClient::builder(server.uri())
        .store(store.clone())
        .clock(Arc::new(ManualClock::new(NOW)))
        .http_client(
            reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("http"),
        )
        .retry_policy(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        })
        .build()
        .expect("client");
    (server, client, store, seeded)
}

/// The server's `Date` must agree with the canned bodies: the client reads expiry through it.
const DATE_AT_NOW: &str = "Fri, 15 Jan 2027 08:00:00 GMT";

fn ok_pair(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("Date", DATE_AT_NOW)
        .insert_header("X-Refresh-Token", "rt_next")
        .set_body_string(body.to_owned())
}

#[tokio::test]
async fn malformed_token_answers_are_bad_responses_that_change_nothing() {
    let valid_body =
        serde_json::json!({"access_token": jwt(NOW + 900), "expires_at": NOW + 900}).to_string();
    let cases = [
        ("HTML", ok_pair("<html><body>Welcome</body></html>")),
        ("empty 200", ok_pair("")),
        (
            "truncated JSON",
            ok_pair(&valid_body[..valid_body.len() / 2]),
        ),
        (
            "no X-Refresh-Token",
            ResponseTemplate::new(200)
                .insert_header("Date", DATE_AT_NOW)
                .set_body_string(valid_body.clone()),
        ),
        (
            "not a JWT",
            ok_pair(
                &serde_json::json!({"access_token": "opaque", "expires_at": NOW + 900}).to_string(),
            ),
        ),
        (
            "expires_at in the past",
            ok_pair(
                &serde_json::json!({"access_token": jwt(NOW - 5), "expires_at": NOW - 5})
                    .to_string(),
            ),
        ),
    ];
    for (name, answer) in cases {
        let (_server, client, store, seeded) = client_against(answer, Duration::from_secs(5)).await;
        let error = client.refresh().await.expect_err(name);
        assert_eq!(error.kind(), ErrorKind::BadResponse, "{name}: {error}");
        assert_eq!(
            store.load().expect("load"),
            Some(seeded),
            "{name}: store untouched"
        );
        assert!(client.is_logged_in(), "{name}");
    }
}

#[tokio::test]
async fn a_server_error_with_an_html_body_is_retried_then_reported() {
    let answer = ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>");
    let (server, client, store, seeded) = client_against(answer, Duration::from_secs(5)).await;
    let error = client.refresh().await.expect_err("502");
    assert_eq!(
        (error.kind(), error.status(), error.code()),
        (ErrorKind::Server, Some(502), None)
    );
    assert_eq!(
        server.received_requests().await.map(|r| r.len()),
        Some(2),
        "retried once"
    );
    assert_eq!(store.load().expect("load"), Some(seeded));
}

#[tokio::test]
async fn a_timed_out_refresh_is_an_unknown_outcome_and_is_not_resent() {
    let valid_body =
        serde_json::json!({"access_token": jwt(NOW + 900), "expires_at": NOW + 900}).to_string();
    let slow = ok_pair(&valid_body).set_delay(Duration::from_secs(2));
    let (server, client, store, seeded) = client_against(slow, Duration::from_millis(200)).await;
    let error = client.refresh().await.expect_err("timeout");
    assert_eq!(error.kind(), ErrorKind::RefreshOutcomeUnknown);
    assert_eq!(
        server.received_requests().await.map(|r| r.len()),
        Some(1),
        "sent once, never re-spent"
    );
    assert_eq!(store.load().expect("load"), Some(seeded));
}

#[tokio::test]
async fn a_nonce_challenge_without_a_nonce_is_a_bad_response() {
    let challenge = ResponseTemplate::new(400)
        .set_body_json(serde_json::json!({"code": "use_dpop_nonce", "message": "nonce"}));
    let (server, client, store, seeded) = client_against(challenge, Duration::from_secs(5)).await;
    let error = client.refresh().await.expect_err("no nonce");
    assert_eq!(error.kind(), ErrorKind::BadResponse);
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
    assert_eq!(store.load().expect("load"), Some(seeded));
}
