//! The benchmarks' verdicts on real parts: the reference client in process against a fresh
//! mock, and a server load on the mock the bench starts. Timings are printed, never asserted.

use std::sync::Arc;
use std::time::Duration;

use prelude_conformance::InProcess;
use prelude_conformance::bench::{SdkBench, ServerBench, markdown, server_markdown, svg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_sends_one_refresh_per_burst_at_every_size() {
    let report = SdkBench::new()
        .sizes(vec![10, 200])
        .bursts(2)
        .stagger(Some(50))
        .hold(Duration::from_millis(30))
        .run(Arc::new(InProcess::new()), "reference")
        .await
        .expect("the bench runs");
    assert_eq!(
        report.sizes.iter().map(|r| r.callers).collect::<Vec<_>>(),
        [1, 10, 200],
        "one caller is always measured first"
    );
    for row in &report.sizes {
        assert_eq!(
            (row.refreshes_min, row.refreshes_max),
            (1, 1),
            "N = {}",
            row.callers
        );
        assert_eq!((row.reused, row.failed), (0, 0), "N = {}", row.callers);
        assert!(row.p99_ms >= row.p50_ms && row.floor_p99_ms > 0.0);
    }
    let stagger = report.stagger.as_ref().expect("a staggered run");
    assert_eq!(
        (stagger.refreshes_max, stagger.reused, stagger.failed),
        (1, 0, 0)
    );
    assert!(report.coalesced());
    let text = markdown(std::slice::from_ref(&report));
    assert!(text.contains("| 200 | 2 | 1 | 0 | 0 |"), "{text}");
    assert!(svg(std::slice::from_ref(&report)).starts_with("<svg"));
    let both = markdown(&[report.clone(), report.clone()]);
    assert!(
        both.contains("| p99 at N = 200 (ms) | refreshes per burst | coalesced |"),
        "several reports open with a side-by-side table: {both}"
    );
    assert!(both.contains(" 1 | yes |"), "{both}");
}

#[test]
fn a_load_on_the_pinned_mock_breaks_nothing_and_is_set_against_its_ceiling() {
    let report = ServerBench::new()
        .clients(vec![1, 4])
        .duration(Duration::from_millis(400))
        .warmup(Duration::from_millis(100))
        .run()
        .expect("the bench runs");
    assert!(report.clean(), "{}", server_markdown(&report));
    assert!(report.ceiling.per_s > 0.0);
    for level in &report.levels {
        assert!(level.refreshes > 0, "{} clients refreshed", level.clients);
        assert_eq!(level.reuse_detected, Some(0));
        assert!(level.presigned >= level.refreshes.saturating_sub(level.signed_in_window));
    }
    println!("{}", server_markdown(&report));
}
