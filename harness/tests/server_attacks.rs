//! The server-side scenarios against our own mock server: it must refuse every attack.

use prelude_conformance::{ServerTarget, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_server_withstands_every_server_side_scenario() {
    let suite = Suite::bundled().expect("features load").jobs(4);
    let report = suite.run_server(ServerTarget::FreshMock).await;
    println!("{}", report.console());
    assert!(
        report.scenarios.len() >= 20,
        "server scenarios ran: {}",
        report.scenarios.len()
    );
    assert!(report.is_success(), "{}", report.summary_line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_lax_iat_window_fails_exactly_the_stale_proof_scenarios() {
    let policy = prelude_mock_server::Policy {
        iat_window_seconds: 3600,
        ..prelude_mock_server::Policy::default()
    };
    let server = prelude_mock_server::MockServer::builder()
        .policy(policy)
        .start()
        .await
        .expect("server starts");
    let target = ServerTarget::Remote {
        base_url: server.url().to_owned(),
        control: server.control().clone(),
        tls: None,
    };
    let suite = Suite::bundled().expect("features load");
    let report = suite.run_server(target).await;
    let mut failed = report.failed_ids();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "server_dpop: A defective proof is refused and the token is not spent [a proof issued 10 minutes ago, 400 or 401, invalid_dpop_proof]",
            "server_dpop: A defective proof is refused and the token is not spent [a proof issued 10 minutes in the future, 400 or 401, invalid_dpop_proof]",
        ]
    );
}
