//! The whole SDK suite against the reference client, in process: every scenario must pass.

use std::sync::Arc;

use prelude_conformance::{InProcess, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_passes_every_scenario_in_process() {
    let suite = Suite::load(&Suite::bundled_features_dir()).expect("features load");
    let report = suite.run_sdk(Arc::new(InProcess::new())).await;
    println!("{}", report.console());
    assert_eq!(
        report.summary.skipped, 0,
        "the reference client supports every capability"
    );
    assert!(report.is_success(), "{}", report.summary_line());
}
