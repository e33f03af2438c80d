//! Proof that the suite catches bugs: each deliberately broken variant of the reference
//! client, run through the reference adapter (`--variant`), must make exactly the
//! scenarios that describe its bug fail, and no others. This table is the note's
//! mutation table.

use std::sync::Arc;

use prelude_conformance::{Adapter, BrokenVariant, Suite};

fn caught_by(variant: BrokenVariant) -> &'static [&'static str] {
    match variant {
        BrokenVariant::NoCoalescing => &[
            "auto_refresh: Concurrent 401s share one refresh",
            "coalescing: Concurrent refresh callers share one request [2]",
            "coalescing: Concurrent refresh callers share one request [20]",
            "coalescing: Concurrent refresh callers share one request [200]",
            "coalescing: Concurrent callers share a failed refresh too",
            "coalescing: Two instances sharing storage refresh once between them",
            "coalescing: Two processes sharing storage refresh once between them",
        ],
        BrokenVariant::NoWipeOnLogout => &[
            "logout: Logout wipes local credentials and revokes the session on the server",
            "logout: Logout is idempotent",
            "logout: Concurrent logouts send one revoke",
            "logout: Logout wipes local credentials even when the server call fails",
            "logout: A refresh racing a logout cannot bring the session back",
            "logout: After logout, refresh fails locally without network",
            "logout: Logout moves the state to logged out",
        ],
        BrokenVariant::NoWipeOnRevokeMine => {
            &["revoke: Revoking a target that includes this session wipes it [mine]"]
        }
        BrokenVariant::NoNonceRetry => &[
            "dpop: A nonce challenge on refresh is answered with one retry carrying the nonce",
            "login: A login challenged for a DPoP nonce is retried once with it",
        ],
        BrokenVariant::RetryRespendsToken => {
            &["rotation: A lost refresh answer is not re-sent without a grace window"]
        }
        BrokenVariant::LogoutKeepsOnServerFailure => {
            &["logout: Logout wipes local credentials even when the server call fails"]
        }
        BrokenVariant::RevokeBlankSessionSent => &[
            "revoke: An empty session id is refused before any request",
            "revoke: A whitespace-only session id is refused before any request",
        ],
        _ => &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_variant_fails_exactly_the_scenarios_that_describe_its_bug() {
    let suite = Suite::load(&Suite::bundled_features_dir()).expect("features load");
    let mut mismatches = Vec::new();
    for variant in BrokenVariant::ALL {
        let command = format!(
            "{} --variant {variant}",
            env!("CARGO_BIN_EXE_reference-adapter")
        );
        let adapter = Adapter::spawn(&command).await.expect("the adapter starts");
        let report = suite.run_sdk(Arc::new(adapter)).await;
        let mut failed = report.failed_ids();
        failed.sort_unstable();
        let mut expected = caught_by(variant).to_vec();
        expected.sort_unstable();
        assert!(
            !expected.is_empty(),
            "{variant} has no catching scenario listed"
        );
        if failed != expected {
            mismatches.push(format!(
                "{variant}:\n  failed:   {failed:#?}\n  expected: {expected:#?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
