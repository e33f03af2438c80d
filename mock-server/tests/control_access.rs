//! Who may drive the control API: not a web page of another origin (no CORS, and its requests
//! are refused), not a request addressed to a rebound DNS name, and not the network at large
//! unless the operator says so. The Prelude API stays open to every origin.

mod common;

use common::{builder, expect_error, http, server};
use prelude_mock_server::MockServer;
use serde_json::json;

fn control(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.control_url())
}

#[tokio::test]
async fn a_page_of_another_origin_can_neither_read_nor_steer_the_control_api() {
    let server = server().await;
    server
        .control()
        .create_user("ada@example.com", "pw")
        .await
        .expect("user");
    let reset = http()
        .post(control(&server, "/reset"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "text/plain")
        .send()
        .await
        .expect("send");
    assert!(reset.headers().get("access-control-allow-origin").is_none());
    expect_error(reset, 403, "forbidden").await;
    let read = http()
        .get(control(&server, "/users"))
        .header("Origin", "null")
        .send()
        .await
        .expect("send");
    expect_error(read, 403, "forbidden").await;
    let users = server.control().users().await.expect("users");
    assert_eq!(users.len(), 1, "the refused reset changed nothing");
}

#[tokio::test]
async fn a_preflight_from_another_origin_is_not_allowed() {
    let server = server().await;
    let response = http()
        .request(reqwest::Method::OPTIONS, control(&server, "/policy"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .expect("send");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(
        response
            .headers()
            .get("access-control-allow-methods")
            .is_none()
    );
}

#[tokio::test]
async fn same_origin_pages_and_configured_origins_are_answered_with_cors() {
    let server = builder()
        .control_origin("https://dash.example:8443")
        .start()
        .await
        .expect("server");
    for origin in [server.url().to_owned(), "https://dash.example:8443".into()] {
        let response = http()
            .get(control(&server, "/stats"))
            .header("Origin", &origin)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{origin}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            origin.as_str()
        );
    }
    let preflight = http()
        .request(reqwest::Method::OPTIONS, control(&server, "/policy"))
        .header("Origin", "https://dash.example:8443")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .expect("send");
    assert_eq!(preflight.status(), 204);
}

#[tokio::test]
async fn the_prelude_api_still_answers_every_origin() {
    let server = server().await;
    let response = http()
        .get(format!("{}/.well-known/jwks.json", server.url()))
        .header("Origin", "https://app.example")
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[tokio::test]
async fn a_request_addressed_to_a_rebound_name_is_refused() {
    let server = server().await;
    let rebound = http()
        .get(control(&server, "/stats"))
        .header("Host", format!("attacker.example:{}", server.addr().port()))
        .send()
        .await
        .expect("send");
    let body = expect_error(rebound, 403, "forbidden").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--allowed-host")
    );
    for host in ["localhost", "app.localhost", "127.0.0.1", "[::1]"] {
        let response = http()
            .get(control(&server, "/stats"))
            .header("Host", format!("{host}:{}", server.addr().port()))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn an_allowed_host_name_is_answered() {
    let server = builder()
        .allowed_host("mock.internal")
        .start()
        .await
        .expect("server");
    let response = http()
        .get(control(&server, "/stats"))
        .header("Host", "MOCK.internal")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn listening_beyond_loopback_needs_a_control_token_or_an_explicit_allowance() {
    let open = builder().host([0, 0, 0, 0].into()).start().await;
    let error = open.expect_err("refused");
    assert!(error.to_string().contains("--control-token"), "{error}");
    let with_token = builder()
        .host([0, 0, 0, 0].into())
        .control_token("let-me-in")
        .start()
        .await;
    assert!(with_token.is_ok());
    let allowed = builder()
        .host([0, 0, 0, 0].into())
        .allow_remote_control(true)
        .start()
        .await;
    assert!(allowed.is_ok());
}

#[tokio::test]
async fn a_wrong_control_token_of_any_length_is_refused() {
    let server = builder()
        .control_token("let-me-in")
        .start()
        .await
        .expect("server");
    for given in ["", "let-me-i", "let-me-in-", "LET-ME-IN"] {
        let response = http()
            .get(control(&server, "/stats"))
            .bearer_auth(given)
            .send()
            .await
            .expect("send");
        expect_error(response, 401, "unauthorized").await;
    }
    let response = http()
        .post(control(&server, "/users"))
        .bearer_auth("let-me-in")
        .json(&json!({"email": "ada@example.com", "password": "pw"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 201);
}
