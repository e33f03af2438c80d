//! Single-flight refresh: any number of concurrent callers, one request, one shared outcome.

mod common;

use common::{fast_retries, fixture};
use prelude_mock_server::{Fault, FaultAction, Route};
use prelude_session::ErrorKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_refreshes_after_invalidation_make_one_server_refresh() {
    let f = fixture().await;
    let client = f.logged_in().await;
    client.invalidate_cache();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..10_000 {
        let client = client.clone();
        callers.spawn(async move { client.refresh().await.map(|u| u.access_token) });
    }
    let tokens = callers.join_all().await;
    let first = tokens[0].clone().expect("refresh");
    assert!(
        tokens.iter().all(|t| t.as_ref().ok() == Some(&first)),
        "everyone got the same token"
    );
    let stats = f.server.control().stats().await.expect("stats");
    assert_eq!(stats.requests_by_route.get(&Route::Refresh), Some(&1));
    assert_eq!(stats.reuse_detected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_is_shared_by_every_caller_of_the_flight_and_not_retried_by_each() {
    let f = fixture().await;
    let client = f
        .builder()
        .retry_policy(fast_retries(1))
        .build()
        .expect("client");
    f.login(&client).await;
    // A slow failure, so every caller joins the flight before it fails.
    f.fault(Fault::new(Route::Refresh, FaultAction::Delay { ms: 300 }))
        .await;
    f.fault(Fault::new(
        Route::Refresh,
        FaultAction::error(503, "internal"),
    ))
    .await;
    client.invalidate_cache();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let client = client.clone();
        callers.spawn(async move { client.refresh().await });
    }
    let results = callers.join_all().await;
    assert!(results.iter().all(|r| {
        r.as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Server && e.status() == Some(503))
    }));
    assert_eq!(f.requests(Route::Refresh).await, 1);
}

#[tokio::test]
async fn callers_after_a_flight_use_its_cached_result() {
    let f = fixture().await;
    let client = f.logged_in().await;
    client.invalidate_cache();
    client.refresh().await.expect("network");
    for _ in 0..10 {
        client.refresh().await.expect("cached");
    }
    assert_eq!(f.requests(Route::Refresh).await, 1);
}
