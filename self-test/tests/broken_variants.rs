//! Proof that the suite catches bugs: each deliberately broken variant of the reference
//! client, run through the `broken-adapter` binary, must make exactly the
//! scenarios that describe its bug fail, and no others. This table is the note's
//! mutation table.

use futures_util::StreamExt;
use prelude_conformance::{Drivers, Suite};
use prelude_self_test::BrokenVariant;

fn caught_by(variant: BrokenVariant) -> &'static [&'static str] {
    match variant {
        BrokenVariant::NoCoalescing => &[
            "auto_refresh: Concurrent 401s share one refresh",
            "coalescing: Callers arriving while the refresh is on the wire join it",
            "coalescing: Concurrent refresh callers share one request [2]",
            "coalescing: Concurrent refresh callers share one request [20]",
            "coalescing: Concurrent refresh callers share one request [200]",
            "coalescing: Concurrent callers share a failed refresh too",
            "coalescing: Two instances sharing storage refresh once between them",
            "coalescing: Two processes sharing storage refresh once between them",
            "refresh: Callers during a proactive refresh share its request",
        ],
        BrokenVariant::NoWipeOnLogout => &[
            "clock: Logout after the server's clock jumps ahead still revokes the session",
            "logout: Logout wipes local credentials and revokes the session on the server",
            "logout: Logout is idempotent",
            "logout: A second logout brings nothing back and spends nothing",
            "logout: Concurrent logouts send one revoke",
            "logout: Logout wipes local credentials even when the server call fails",
            "logout: A refresh racing a logout cannot bring the session back",
            "logout: After logout, refresh fails locally without network",
            "logout: After logout, refresh fails and nothing comes back",
            "logout: Logout moves the state to logged out",
            "state: A subscriber sees each transition once, in order",
        ],
        BrokenVariant::NoWipeOnRevokeMine => {
            &["revoke: Revoking a target that includes this session wipes it [mine]"]
        }
        BrokenVariant::NoNonceRetry => &[
            "dpop: A refresh on a server that starts requiring nonces carries the nonce",
            "login: A login on a server requiring DPoP nonces finalizes with the nonce",
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
        BrokenVariant::IgnoresClockSkew => &[
            "clock: A refresh after the server's clock jumps ahead succeeds",
            "clock: A client ahead of the server logs in and refreshes",
            "clock: Cache expiry is judged on the server's clock",
            "clock: Logout after the server's clock jumps ahead still revokes the session",
        ],
        BrokenVariant::NoResourceNonceRetry => &[
            "dpop_bound: A nonce challenge on a session route is answered [DPoP nonces]",
            "dpop_bound: A nonce challenge on a session route is answered [rotating DPoP nonces]",
        ],
        BrokenVariant::BoundTokenAsBearer | BrokenVariant::ProofWithoutAth => &[
            "dpop_bound: Sessions are listed with a DPoP-bound access token",
            "dpop_bound: An authorised request sends a DPoP-bound access token with a proof",
            "dpop_bound: A nonce challenge on a session route is answered [DPoP nonces]",
            "dpop_bound: A nonce challenge on a session route is answered [rotating DPoP nonces]",
            "dpop_bound: Other sessions are revoked with a DPoP-bound access token",
        ],
        BrokenVariant::HtuWithQuery => &[
            "dpop_bound: Sessions are listed with a DPoP-bound access token",
            "dpop_bound: A nonce challenge on a session route is answered [DPoP nonces]",
            "dpop_bound: A nonce challenge on a session route is answered [rotating DPoP nonces]",
            "dpop_bound: Other sessions are revoked with a DPoP-bound access token",
        ],
        BrokenVariant::StrictDeviceType => {
            &["sessions: A device type the SDK does not know is listed as unknown"]
        }
        BrokenVariant::CoalescesOnlySimultaneous => &[
            "coalescing: Callers arriving while the refresh is on the wire join it",
            "refresh: Callers during a proactive refresh share its request",
        ],
        BrokenVariant::NoBackoff => &[
            "faults: Retries of a failing server wait longer each time",
            "faults: A 429's Retry-After is honoured",
        ],
        BrokenVariant::IgnoresRetryAfter => &["faults: A 429's Retry-After is honoured"],
        BrokenVariant::ExpiryInMilliseconds => &[
            "refresh: An access token past its lifetime is refreshed, not reused",
            "refresh: The SDK refreshes before expiry without any caller",
            "refresh: Callers during a proactive refresh share its request",
        ],
        BrokenVariant::UnsubscribeIgnored => {
            &["state: After unsubscribing, a subscriber sees nothing more"]
        }
        _ => &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_variant_fails_exactly_the_scenarios_that_describe_its_bug() {
    // One scenario at a time too: with two at once, one run in five on a 2-core machine did
    // not match the table, cause not yet identified. The table must not flake.
    let suite = Suite::bundled().expect("features load");
    // One variant at a time: side by side on two cores, the cross-instance scenarios
    // ("two instances sharing storage") failed for variants that do not touch them.
    let runs = futures_util::stream::iter(BrokenVariant::ALL)
        .map(|variant| {
            let suite = &suite;
            async move {
                let command = format!(
                    "{} --variant {variant}",
                    env!("CARGO_BIN_EXE_broken-adapter")
                );
                let adapters = Drivers::adapters(&command, 1)
                    .await
                    .expect("the adapter starts");
                let report = suite.run_sdk(adapters).await;
                let failed: Vec<String> =
                    report.failed_ids().into_iter().map(str::to_owned).collect();
                (variant, failed)
            }
        })
        .buffered(1)
        .collect::<Vec<_>>()
        .await;
    let mut mismatches = Vec::new();
    for (variant, mut failed) in runs {
        failed.sort_unstable();
        let mut expected: Vec<String> =
            caught_by(variant).iter().map(|s| (*s).to_owned()).collect();
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
