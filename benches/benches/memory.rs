//! Memory: heap bytes per remembered DPoP `jti` in the replay cache, heap bytes per session the
//! server holds, and the process's resident memory after many sessions. Counted by an
//! instrumented global allocator; sessions are created through the real finalize route of an
//! in-process router (no sockets). Writes `target/bench-results/memory.json`.

use std::alloc::System;

use axum::body::Body;
use axum::http::Request;
use prelude_benches::{Mode, results_dir};
use prelude_mock_server::proof::ProofKey;
use prelude_mock_server::{MockServer, ReplayCache};
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes still held since `region` started. stats_alloc already books realloc growth
/// and shrinkage into `bytes_allocated` / `bytes_deallocated`.
fn held(region: &Region<'_, System>) -> i64 {
    let change = region.change();
    change.bytes_allocated as i64 - change.bytes_deallocated as i64
}

fn replay_bytes_per_jti(entries: usize) -> f64 {
    let region = Region::new(GLOBAL);
    let cache = ReplayCache::new();
    for n in 0..entries {
        // All live: no sweep removes anything.
        assert!(cache.insert_if_new("jkt", &format!("{n:032x}"), i64::MAX, 0));
    }
    let bytes = held(&region);
    drop(cache);
    bytes as f64 / entries as f64
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

async fn call(app: &axum::Router, request: Request<Body>) -> Value {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn post(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// Creates `count` sessions for one user through finalize; returns heap bytes per session
/// (journal cleared, so what remains is the store, spent challenges and replay entries).
async fn sessions(app: &axum::Router, count: usize) -> f64 {
    let user = call(
        app,
        post(
            "/__mock/users",
            &json!({"email": "mem@example.com", "password": "pw"}),
        ),
    )
    .await;
    let user_id = user["id"].as_str().expect("user id").to_owned();
    let key = ProofKey::generate();
    let url = "http://localhost/v1/session/login/finalize";
    let region = Region::new(GLOBAL);
    for _ in 0..count {
        let challenge = call(
            app,
            post("/__mock/challenges", &json!({"user_id": user_id})),
        )
        .await;
        let mut request = post(
            "/v1/session/login/finalize",
            &json!({"challenge_token": challenge["challenge_token"]}),
        );
        let proof = key.proof("POST", url, prelude_benches::now());
        request
            .headers_mut()
            .insert("dpop", proof.parse().expect("header"));
        request
            .headers_mut()
            .insert("host", "localhost".parse().expect("header"));
        let answer = call(app, request).await;
        assert!(
            answer["access_token"].is_string(),
            "finalize failed: {answer}"
        );
    }
    let request = Request::delete("/__mock/journal")
        .body(Body::empty())
        .expect("request");
    app.clone().oneshot(request).await.expect("infallible");
    held(&region) as f64 / count as f64
}

fn main() {
    let mode = Mode::detect();
    let (jtis, session_count): (&[usize], usize) = match mode {
        Mode::Smoke => (&[1_000], 200),
        Mode::Quick => (&[10_000, 100_000, 1_000_000], 100_000),
        Mode::Full => (&[10_000, 100_000, 300_000, 1_000_000], 100_000),
    };
    let per_jti: Vec<Value> = jtis
        .iter()
        .map(|&n| json!({"entries": n, "bytes_per_jti": replay_bytes_per_jti(n)}))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = MockServer::builder().router().expect("router");
    let rss_before = rss_bytes();
    let per_session = runtime.block_on(sessions(&app, session_count));
    let rss_after = rss_bytes();
    let report = json!({
        "mode": format!("{mode:?}"),
        "replay": per_jti,
        "sessions": session_count,
        "heap_bytes_per_session": per_session,
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    std::fs::write(
        results_dir().join("memory.json"),
        serde_json::to_vec_pretty(&report).expect("json"),
    )
    .expect("write");
    if mode == Mode::Smoke {
        println!("memory smoke: ok");
    }
}
