//! Fault actions beyond a plain error: failing only a retry (`after`), answering late after
//! the work is done, amending an answer (headers, merged JSON members), and error answers
//! with chosen headers or an oversized body.

mod common;

use std::time::{Duration, Instant};

use common::{expect_error, login, refresh_with, server, server_with};
use prelude_mock_server::{Fault, FaultAction, NonceMode, Policy, Route};
use serde_json::{Value, json};

#[tokio::test]
async fn a_fault_after_one_request_hits_only_the_second() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = Fault::new(Route::Refresh, FaultAction::error(500, "internal")).after(1);
    server.control().add_fault(&fault).await.expect("fault");
    let first = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(first.status(), 200, "the first request goes through");
    let next = common::header(&first, "x-refresh-token");
    expect_error(
        refresh_with(&server, &session.key, &next).await,
        500,
        "internal",
    )
    .await;
    assert_eq!(
        refresh_with(&server, &session.key, &next).await.status(),
        200,
        "the fault is used up and the token was not spent"
    );
}

#[tokio::test]
async fn commit_then_delay_rotates_before_it_answers() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = Fault::new(Route::Refresh, FaultAction::CommitThenDelay { ms: 400 });
    server.control().add_fault(&fault).await.expect("fault");
    let started = Instant::now();
    let held = tokio::spawn({
        let server_url = server.api_url();
        let token = session.refresh_token.clone();
        let proof = session.key.proof("POST", &format!("{server_url}/refresh"));
        async move {
            common::http()
                .post(format!("{server_url}/refresh"))
                .header("DPoP", proof)
                .header("X-Refresh-Token", token)
                .send()
                .await
                .expect("send")
        }
    });
    // While the answer is held, the rotation has already happened on the server.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let sessions = server.control().sessions().await.expect("sessions");
    assert_eq!(sessions[0].generation, 1, "rotated before answering");
    let answer = held.await.expect("task");
    assert_eq!(answer.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn an_error_fault_can_set_and_omit_headers() {
    let server = server_with(Policy {
        nonce_mode: NonceMode::Required,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    let fault = FaultAction::error(400, "invalid_dpop_proof")
        .omit_header("date")
        .with_header("dpop-nonce", "n-rotated");
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, fault))
        .await
        .expect("fault");
    let answer = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert!(answer.headers().get("date").is_none(), "Date left out");
    assert_eq!(common::header(&answer, "dpop-nonce"), "n-rotated");
    expect_error(answer, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn an_error_fault_can_pad_its_body() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = FaultAction::error(400, "use_dpop_nonce").padded_to(8 * 1024);
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, fault))
        .await
        .expect("fault");
    let answer = refresh_with(&server, &session.key, &session.refresh_token).await;
    let body = answer.bytes().await.expect("body");
    assert!(body.len() >= 8 * 1024, "{} bytes", body.len());
    let json: Value = serde_json::from_slice(&body).expect("still JSON");
    assert_eq!(json["code"], "use_dpop_nonce");
}

#[tokio::test]
async fn an_amend_fault_merges_members_into_the_answer_and_each_listed_session() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = FaultAction::amend()
        .merge(json!({"next_cursor": "abc"}))
        .merge_each(
            "sessions",
            json!({"trusted": true, "device_type": "headset"}),
        );
    server
        .control()
        .add_fault(&Fault::new(Route::MeList, fault))
        .await
        .expect("fault");
    let page: Value = common::http()
        .get(format!("{}/me/list", server.api_url()))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(page["next_cursor"], "abc");
    assert_eq!(page["total"], 1, "the rest of the answer is kept");
    assert_eq!(page["sessions"][0]["trusted"], true);
    assert_eq!(page["sessions"][0]["device_type"], "headset");
    assert_eq!(page["sessions"][0]["id"], session.session_id.as_str());
}

#[tokio::test]
async fn an_amend_fault_can_leave_out_a_success_header() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = FaultAction::amend().omit_header("x-refresh-token");
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, fault))
        .await
        .expect("fault");
    let answer = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().get("x-refresh-token").is_none());
    assert!(answer.headers().get("date").is_some(), "other headers stay");
}
