//! The contention bench's verdict fails an SDK that does not coalesce: the broken variants
//! that send a refresh per caller are reported as such, with the server's reuse counted.

use std::sync::Arc;

use prelude_conformance::bench::SdkBench;
use prelude_self_test::{BrokenVariant, driver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_coalescing_is_reported_as_not_coalescing() {
    let report = SdkBench::new()
        .sizes(vec![20])
        .bursts(2)
        .stagger(None)
        .run(
            Arc::new(driver(BrokenVariant::NoCoalescing)),
            "no coalescing",
        )
        .await
        .expect("the bench runs");
    assert!(!report.coalesced());
    let burst = report
        .sizes
        .iter()
        .find(|r| r.callers == 20)
        .expect("N = 20");
    assert!(burst.refreshes_max > 1, "{burst:?}");
    assert!(
        burst.reused > 0,
        "the server saw one token presented twice: {burst:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_only_coalesces_simultaneous_callers_fails_the_staggered_run() {
    let report = SdkBench::new()
        .sizes(vec![1])
        .bursts(2)
        .stagger(Some(40))
        .run(
            Arc::new(driver(BrokenVariant::CoalescesOnlySimultaneous)),
            "coalesces only simultaneous callers",
        )
        .await
        .expect("the bench runs");
    let stagger = report.stagger.as_ref().expect("a staggered run");
    assert!(stagger.refreshes_max > 1, "{stagger:?}");
    assert!(!report.coalesced());
}
