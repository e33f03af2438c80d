//! The dashboard at `/__mock/ui` and its event stream: the page's files are public and
//! locked down (CSP, no framing), its data is the control API's (token, Host check), and
//! `/__mock/events` streams the journal and control changes live. What the page does with
//! them is tested in a real browser (`ui-tests/`).

mod common;

use std::time::Duration;

use common::{builder, expect_error, http, login, refresh_with, server};
use prelude_mock_server::Policy;

/// Reads the event stream until `wanted` shows up (the whole text so far), or panics.
async fn read_until(response: &mut reqwest::Response, seen: &mut String, wanted: &str) {
    while !seen.contains(wanted) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {wanted:?} in the stream; got {seen}"))
            .expect("stream reads")
            .unwrap_or_else(|| panic!("the stream ended before {wanted:?}; got {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_page_loads_without_the_control_token_but_its_data_needs_it() {
    let server = builder()
        .control_token("s3cret")
        .start()
        .await
        .expect("server starts");
    let page = http()
        .get(server.dashboard_url())
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    let csp = common::header(&page, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.text().await.expect("body").contains("app.js"));
    let script = http()
        .get(format!("{}app.js", server.dashboard_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(script.status(), 200);
    assert!(common::header(&script, "content-type").starts_with("text/javascript"));

    for path in ["/events", "/sessions"] {
        let denied = http()
            .get(format!("{}{path}", server.control_url()))
            .send()
            .await
            .expect("send");
        expect_error(denied, 401, "unauthorized").await;
    }
    let missing = http()
        .get(format!("{}nope.js", server.dashboard_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn every_answer_under_the_dashboard_is_locked_down_errors_and_redirects_included() {
    let server = builder()
        .control_token("s3cret-long-enough-token")
        .start()
        .await
        .expect("server starts");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = server.url();
    let answers = [
        (format!("{base}/__mock/ui/nope.js"), None, 404),
        (format!("{base}/__mock/ui"), None, 308),
        (format!("{base}/__mock/events"), None, 401),
        (format!("{base}/__mock/ui/"), Some("attacker.example"), 403),
    ];
    for (url, host, status) in answers {
        let mut request = no_redirects.get(&url);
        if let Some(host) = host {
            request = request.header("Host", host);
        }
        let answer = request.send().await.expect("send");
        assert_eq!(answer.status().as_u16(), status, "{url}");
        assert_eq!(common::header(&answer, "x-frame-options"), "DENY", "{url}");
        assert_eq!(
            common::header(&answer, "x-content-type-options"),
            "nosniff",
            "{url}"
        );
        let csp = common::header(&answer, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: {csp}");
    }
    let missing = http()
        .get(format!("{}nope.js", server.dashboard_url()))
        .send()
        .await
        .expect("send");
    expect_error(missing, 404, "not_found").await;
}

#[tokio::test]
async fn the_page_is_not_served_under_a_rebound_host_name() {
    let server = server().await;
    let response = http()
        .get(server.dashboard_url())
        .header("Host", "attacker.example")
        .send()
        .await
        .expect("send");
    expect_error(response, 403, "forbidden").await;
}

#[tokio::test]
async fn the_event_stream_sends_the_journal_so_far_then_each_request_and_control_change() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let mut events = http()
        .get(format!("{}/events", server.control_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(events.status(), 200);
    assert!(common::header(&events, "content-type").starts_with("text/event-stream"));
    let mut seen = String::new();
    let finalize = "\"path\":\"/v1/session/login/finalize\"";
    read_until(&mut events, &mut seen, finalize).await;

    let refreshed = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    read_until(&mut events, &mut seen, "\"path\":\"/v1/session/refresh\"").await;
    assert!(
        seen.contains("\"rotated\":true"),
        "the refresh's entry says it rotated: {seen}"
    );

    server
        .control()
        .set_policy(&Policy::default())
        .await
        .expect("policy");
    read_until(&mut events, &mut seen, "event: changed\ndata: policy").await;
    assert_eq!(seen.matches(finalize).count(), 1, "each entry is sent once");
}

#[tokio::test]
async fn a_stream_resumes_after_the_last_entry_it_saw() {
    let server = server().await;
    login(&server, "ada@example.com").await;
    let last = server.control().journal(0, None).await.expect("journal");
    let since = last.last().map_or(0, |e| e.seq);
    let mut events = http()
        .get(format!("{}/events?since={since}", server.control_url()))
        .send()
        .await
        .expect("send");
    server.control().clear_journal().await.expect("cleared");
    let mut seen = String::new();
    read_until(&mut events, &mut seen, "data: journal").await;
    assert!(!seen.contains("login/finalize"), "nothing old: {seen}");
}

#[tokio::test]
async fn shutting_the_server_down_ends_its_event_streams() {
    let server = server().await;
    let mut events = http()
        .get(format!("{}/events", server.control_url()))
        .send()
        .await
        .expect("send");
    server.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream ended");
}
