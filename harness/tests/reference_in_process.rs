//! The whole SDK suite against the reference client, in process: every scenario must pass.

use prelude_conformance::{Drivers, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_passes_every_scenario_in_process() {
    let suite = Suite::bundled().expect("features load").jobs(4);
    let report = suite.run_sdk(Drivers::in_process()).await;
    println!("{}", report.console());
    assert_eq!(
        report.summary.skipped, 0,
        "the reference client supports every capability"
    );
    assert!(report.is_success(), "{}", report.summary_line());
}
