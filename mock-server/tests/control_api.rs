//! The control API: policy, clock, faults, journal, stats, reset and its optional token.

mod common;

use std::time::{Duration, Instant};

use common::{NOW, expect_error, header, http, login, refresh_with, server};
use prelude_mock_server::{
    ErrorKind, Fault, FaultAction, MockServer, NonceMode, Policy, Reason, Route, Verdict,
};
use serde_json::{Value, json};

#[tokio::test]
async fn policy_can_be_read_replaced_and_patched() {
    let server = server().await;
    let control = server.control();
    assert_eq!(control.policy().await.expect("policy"), Policy::default());
    let replaced = Policy {
        reuse_grace_seconds: 7,
        ..Policy::default()
    };
    assert_eq!(control.set_policy(&replaced).await.expect("put"), replaced);
    let patched: Value = http()
        .patch(format!("{}/policy", server.control_url()))
        .json(&json!({"nonce_mode": "rotating", "iat_window_seconds": 30}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["nonce_mode"], "rotating");
    assert_eq!(
        patched["reuse_grace_seconds"], 7,
        "patch keeps other members"
    );
    assert_eq!(
        control.policy().await.expect("policy").nonce_mode,
        NonceMode::Rotating
    );
}

#[tokio::test]
async fn invalid_policy_changes_are_refused_and_change_nothing() {
    let server = server().await;
    let control = server.control();
    let bad = Policy {
        access_token_ttl_seconds: 0,
        ..Policy::default()
    };
    let error = control.set_policy(&bad).await.expect_err("refused");
    assert_eq!(
        (error.kind(), error.status(), error.code()),
        (ErrorKind::Api, Some(400), Some("bad_request"))
    );
    let typo = http()
        .patch(format!("{}/policy", server.control_url()))
        .json(&json!({"reuse_grace": 5}))
        .send()
        .await
        .expect("send");
    expect_error(typo, 400, "bad_request").await;
    assert_eq!(control.policy().await.expect("policy"), Policy::default());
}

#[tokio::test]
async fn the_clock_can_be_read_set_and_advanced() {
    let server = server().await;
    let control = server.control();
    let reading = control.clock().await.expect("clock");
    assert_eq!((reading.now, reading.frozen), (NOW, true));
    assert_eq!(
        control.advance_clock(90).await.expect("advance").now,
        NOW + 90
    );
    assert_eq!(
        control.set_clock(5_000, true).await.expect("set").now,
        5_000
    );
    let running = control.set_clock(NOW, false).await.expect("set");
    assert!(!running.frozen);
}

#[tokio::test]
async fn the_date_header_follows_the_virtual_clock() {
    let server = server().await;
    let response = http()
        .get(format!("{}/.well-known/jwks.json", server.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(header(&response, "date"), "Fri, 15 Jan 2027 08:00:00 GMT");
}

#[tokio::test]
async fn an_error_fault_answers_the_next_n_requests_then_stops() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = Fault::new(Route::Refresh, FaultAction::error(503, "internal"));
    server
        .control()
        .add_fault(&fault.times(2))
        .await
        .expect("fault");
    for _ in 0..2 {
        expect_error(
            refresh_with(&server, &session.key, &session.refresh_token).await,
            503,
            "internal",
        )
        .await;
    }
    assert_eq!(
        refresh_with(&server, &session.key, &session.refresh_token)
            .await
            .status(),
        200,
        "token unspent"
    );
    let stats = server.control().stats().await.expect("stats");
    assert_eq!((stats.faults_injected, stats.rotations), (2, 1));
    assert!(server.control().faults().await.expect("faults").is_empty());
}

#[tokio::test]
async fn a_delay_fault_holds_the_answer_then_handles_the_request() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let fault = Fault::new(Route::Refresh, FaultAction::Delay { ms: 300 });
    server.control().add_fault(&fault).await.expect("fault");
    let started = Instant::now();
    let response = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_reset_fault_closes_the_connection_without_spending_the_token() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, FaultAction::Reset))
        .await
        .expect("fault");
    let url = format!("{}/refresh", server.api_url());
    let result = http()
        .post(&url)
        .header("DPoP", session.key.proof("POST", &url))
        .header("X-Refresh-Token", &session.refresh_token)
        .send()
        .await;
    assert!(
        result.is_err(),
        "the client gets a transport error, not an answer"
    );
    assert_eq!(
        refresh_with(&server, &session.key, &session.refresh_token)
            .await
            .status(),
        200
    );
    let journal = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .expect("journal");
    assert_eq!(
        (journal[0].verdict, journal[0].status),
        (Verdict::Dropped, None)
    );
}

#[tokio::test]
async fn commit_then_drop_rotates_the_token_but_the_client_never_hears() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, FaultAction::CommitThenDrop))
        .await
        .expect("fault");
    let url = format!("{}/refresh", server.api_url());
    let lost = http()
        .post(&url)
        .header("DPoP", session.key.proof("POST", &url))
        .header("X-Refresh-Token", &session.refresh_token)
        .send()
        .await;
    assert!(lost.is_err());
    let stats = server.control().stats().await.expect("stats");
    assert_eq!((stats.rotations, stats.refresh_ok), (1, 0));
    // Without a grace window, retrying the spent token is reuse.
    expect_error(
        refresh_with(&server, &session.key, &session.refresh_token).await,
        401,
        "unauthorized",
    )
    .await;
    let journal = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .expect("journal");
    assert!(journal[0].rotated && journal[0].verdict == Verdict::Dropped);
    assert!(
        journal[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("commit_then_drop"))
    );
}

#[tokio::test]
async fn commit_then_drop_is_recoverable_inside_the_grace_window() {
    let server = common::server_with(Policy {
        reuse_grace_seconds: 5,
        ..Policy::default()
    })
    .await;
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, FaultAction::CommitThenDrop))
        .await
        .expect("fault");
    assert!(
        http()
            .post(format!("{}/refresh", server.api_url()))
            .header(
                "DPoP",
                session
                    .key
                    .proof("POST", &format!("{}/refresh", server.api_url()))
            )
            .header("X-Refresh-Token", &session.refresh_token)
            .send()
            .await
            .is_err()
    );
    let retry = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert_eq!(retry.status(), 200);
    let successor = server.control().sessions().await.expect("sessions")[0].generation;
    assert_eq!(
        successor, 1,
        "the retry got the committed successor, no second rotation"
    );
}

#[tokio::test]
async fn invalid_faults_are_refused() {
    let server = server().await;
    let url = format!("{}/faults", server.control_url());
    for body in [
        json!({"route": "refresh", "action": "error", "status": 200, "code": "x"}),
        json!({"route": "refresh", "action": "explode"}),
        json!({"route": "nowhere", "action": "reset"}),
        json!({"route": "refresh", "times": 0, "action": "reset"}),
    ] {
        let response = http().post(&url).json(&body).send().await.expect("send");
        expect_error(response, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn the_journal_can_be_filtered_and_cleared_and_control_calls_are_not_journaled() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    refresh_with(&server, &session.key, &session.refresh_token).await;
    let all = server.control().journal(0, None).await.expect("journal");
    assert_eq!(
        all.iter().map(|e| e.route).collect::<Vec<_>>(),
        [Some(Route::LoginFinalize), Some(Route::Refresh)]
    );
    let since = server
        .control()
        .journal(all[0].seq, None)
        .await
        .expect("journal");
    assert_eq!(since.len(), 1);
    server.control().clear_journal().await.expect("clear");
    assert!(
        server
            .control()
            .journal(0, None)
            .await
            .expect("journal")
            .is_empty()
    );
    assert_eq!(server.control().stats().await.expect("stats").requests, 0);
}

#[tokio::test]
async fn stats_count_per_route_and_per_rejection_reason() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    refresh_with(&server, &session.key, &session.refresh_token).await;
    refresh_with(&server, &session.key, "rt_unknown").await;
    let stats = server.control().stats().await.expect("stats");
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.requests_by_route.get(&Route::Refresh), Some(&2));
    assert_eq!(stats.refresh_ok, 1);
    assert_eq!(stats.rejections.get(&Reason::UnknownRefreshToken), Some(&1));
}

#[tokio::test]
async fn reset_returns_to_the_start_state_with_seed_users() {
    let server = common::builder()
        .user("seed@example.com", "pw")
        .start()
        .await
        .expect("server");
    let session = login(&server, "ada@example.com").await;
    server
        .control()
        .update_policy(|p| p.reuse_grace_seconds = 9)
        .await
        .expect("policy");
    server.control().reset().await.expect("reset");
    let users = server.control().users().await.expect("users");
    assert_eq!(
        users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        ["seed@example.com"]
    );
    assert!(
        server
            .control()
            .sessions()
            .await
            .expect("sessions")
            .is_empty()
    );
    assert_eq!(
        server
            .control()
            .policy()
            .await
            .expect("policy")
            .reuse_grace_seconds,
        0
    );
    expect_error(
        refresh_with(&server, &session.key, &session.refresh_token).await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_control_token_protects_the_control_api_only() {
    let server: MockServer = common::builder()
        .control_token("let-me-in")
        .start()
        .await
        .expect("server");
    assert!(
        server.control().users().await.is_ok(),
        "the handle's client sends the token"
    );
    let anonymous = http()
        .get(format!("{}/users", server.control_url()))
        .send()
        .await
        .expect("send");
    expect_error(anonymous, 401, "unauthorized").await;
    let wrong = http()
        .get(format!("{}/users", server.control_url()))
        .bearer_auth("nope")
        .send()
        .await
        .expect("send");
    expect_error(wrong, 401, "unauthorized").await;
    let jwks = http()
        .get(format!("{}/.well-known/jwks.json", server.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(jwks.status(), 200);
}

#[tokio::test]
async fn duplicate_users_and_challenges_for_unknown_users_are_refused() {
    let server = server().await;
    server
        .control()
        .create_user("ada@example.com", "pw")
        .await
        .expect("user");
    let duplicate = server
        .control()
        .create_user("ADA@example.com", "pw")
        .await
        .expect_err("duplicate");
    assert_eq!(duplicate.code(), Some("identifier_already_exists"));
    let unknown = server
        .control()
        .challenge_for("usr_nope")
        .await
        .expect_err("unknown");
    assert_eq!(unknown.status(), Some(404));
}

#[tokio::test]
async fn a_delay_composes_with_the_next_fault_for_the_route() {
    let server = server().await;
    let session = login(&server, "ada@example.com").await;
    let control = server.control();
    control
        .add_fault(&Fault::new(Route::Refresh, FaultAction::Delay { ms: 200 }))
        .await
        .expect("fault");
    let error = FaultAction::error(500, "internal");
    control
        .add_fault(&Fault::new(Route::Refresh, error))
        .await
        .expect("fault");
    let started = Instant::now();
    let response = refresh_with(&server, &session.key, &session.refresh_token).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    expect_error(response, 500, "internal").await;
    assert_eq!(
        refresh_with(&server, &session.key, &session.refresh_token)
            .await
            .status(),
        200
    );
}
