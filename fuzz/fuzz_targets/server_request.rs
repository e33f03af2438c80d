//! Whole requests to the mock server's router (Prelude routes and control API): any method,
//! headers and body get an answer below 500, and every error answer is Prelude error JSON.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use prelude_mock_server::{ErrorBody, MockServer};
use tower::ServiceExt;

const PATHS: &[&str] = &[
    "/v1/session/refresh",
    "/v1/session/revoke",
    "/v1/session/login/otp/retry",
    "/v1/session/otp/retry",
    "/v1/session/me/list",
    "/v1/session/me/revoke",
    "/v1/session/login/finalize",
    "/v1/session/login/email/password",
    "/v1/session/login/otp",
    "/v1/session/login/otp/check",
    "/v1/session/otp",
    "/v1/session/otp/check",
    "/.well-known/jwks.json",
    "/__mock/reset",
    "/__mock/stats",
    "/__mock/users",
    "/__mock/challenges",
    "/__mock/policy",
    "/__mock/clock",
    "/__mock/clock/advance",
    "/__mock/faults",
    "/__mock/sessions",
    "/__mock/journal",
    "/__mock/signing-keys/rotate",
];

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    path: u8,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn rig() -> &'static (tokio::runtime::Runtime, Router) {
    static RIG: OnceLock<(tokio::runtime::Runtime, Router)> = OnceLock::new();
    RIG.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let router = MockServer::builder()
            .user("ada@example.com", "pw")
            .frozen_clock(1_800_000_000)
            .router()
            .expect("router");
        (runtime, router)
    })
}

fuzz_target!(|input: Input| {
    let (runtime, router) = rig();
    let methods = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    let method = methods[usize::from(input.method) % methods.len()].clone();
    let mut uri = PATHS[usize::from(input.path) % PATHS.len()].to_owned();
    if let Some(query) = &input.query {
        uri.push('?');
        uri.push_str(query);
    }
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in &input.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let Ok(request) = request.body(Body::from(input.body)) else {
        return; // not a request hyper would hand over (bad URI or header)
    };
    runtime.block_on(async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        // A fault the input queued (`/__mock/faults`) may answer anything; clear it.
        let clear = Request::delete("/__mock/faults").body(Body::empty()).expect("request");
        let _ = router.clone().oneshot(clear).await;
        assert!(status.as_u16() < 500, "{status}: {}", String::from_utf8_lossy(&bytes));
        if status.is_client_error() {
            let body: Result<ErrorBody, _> = serde_json::from_slice(&bytes);
            assert!(body.is_ok(), "{status} without Prelude JSON: {:?}", String::from_utf8_lossy(&bytes));
        }
    });
});
