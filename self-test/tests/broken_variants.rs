//! Proof that the suite's verdicts can be trusted, both ways:
//!
//! - each deliberately broken variant of the reference client, run through the
//!   `broken-adapter` binary, must make exactly the scenarios that describe its bug fail
//!   (this table is the note's mutation table). A variant runs the feature files its
//!   scenarios are in, so a miss or an extra failure there shows;
//! - each correct but unusual variant (full jitter, an always-fresh token, refreshing early,
//!   no transient retry: what another well-written SDK may do) must fail no scenario of the
//!   whole suite: a false alarm teaches authors to ignore the suite.

use prelude_conformance::{Drivers, Filter, Suite};
use prelude_self_test::{BrokenVariant, UnusualVariant, Variant};

fn caught_by(variant: BrokenVariant) -> &'static [&'static str] {
    use BrokenVariant as B;
    match variant {
        B::NoCoalescing => &[
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
        B::NoWipeOnLogout => &[
            "clock: Logout after the server's clock jumps ahead wipes local credentials",
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
            "logout: Logout waits for a refresh on the wire and revokes what it returns",
            "logout: A login answer that arrives after logout is not stored",
            "refresh: Logout stops the proactive refresh",
            "state: A subscriber sees each transition once, in order",
            "state: Every subscriber sees every transition",
        ],
        B::NoWipeOnRevokeMine => &[
            "revoke: Revoking a target that includes this session wipes it [mine]",
            "state: Revoking this session tells subscribers it is logged out [mine]",
        ],
        B::NoNonceRetry => &[
            "dpop: A nonce from a challenge is kept even when the retry fails",
            "dpop: A nonce on a successful answer replaces the stored one",
            "dpop: A refresh on a server that starts requiring nonces carries the nonce",
            "login: A login on a server requiring DPoP nonces finalizes with the nonce",
        ],
        B::RetryRespendsToken => {
            &["rotation: A lost refresh answer is not re-sent without a grace window"]
        }
        B::LogoutKeepsOnServerFailure => &[
            "logout: A login answer that arrives after logout is not stored",
            "logout: Logout wipes local credentials even when the server call fails",
        ],
        B::RevokeBlankSessionSent => &[
            "revoke: An empty session id is refused before any request",
            "revoke: A whitespace-only session id is refused before any request",
        ],
        B::IgnoresClockSkew => &[
            "clock: A refresh after the server's clock jumps ahead succeeds",
            "clock: A client ahead of the server logs in and refreshes",
            "clock: Cache expiry is judged on the server's clock",
            "clock: Logout after the server's clock jumps ahead still revokes the session",
        ],
        B::NoResourceNonceRetry => &[
            "dpop_bound: A nonce challenge on a session route is answered [DPoP nonces]",
            "dpop_bound: A nonce challenge on a session route is answered [rotating DPoP nonces]",
            "dpop_bound: A nonce challenge in the RFC 9449 resource form is answered",
        ],
        B::BoundTokenAsBearer | B::ProofWithoutAth => &[
            "dpop_bound: Sessions are listed with a DPoP-bound access token",
            "dpop_bound: An authorised request sends a DPoP-bound access token with a proof",
            "dpop_bound: A nonce challenge on a session route is answered [DPoP nonces]",
            "dpop_bound: A nonce challenge on a session route is answered [rotating DPoP nonces]",
            "dpop_bound: A nonce challenge in the RFC 9449 resource form is answered",
            "dpop_bound: Other sessions are revoked with a DPoP-bound access token",
        ],
        B::HtuWithQuery => &[
            "dpop_bound: Sessions are listed with a DPoP-bound access token",
            "dpop_bound: A nonce challenge on a session route is answered [DPoP nonces]",
            "dpop_bound: A nonce challenge on a session route is answered [rotating DPoP nonces]",
            "dpop_bound: A nonce challenge in the RFC 9449 resource form is answered",
            "dpop_bound: Other sessions are revoked with a DPoP-bound access token",
        ],
        B::StrictDeviceType => {
            &["sessions: A device type the SDK does not know is listed as unknown"]
        }
        B::CoalescesOnlySimultaneous => &[
            "coalescing: Callers arriving while the refresh is on the wire join it",
            "refresh: Callers during a proactive refresh share its request",
        ],
        B::NoBackoff => &[
            "faults: Retries of a failing server back off",
            "faults: A 429's Retry-After is honoured",
        ],
        B::IgnoresRetryAfter => &["faults: A 429's Retry-After is honoured"],
        B::ExpiryInMilliseconds => &[
            "refresh: An access token past its lifetime is refreshed, not reused",
            "refresh: The SDK refreshes before expiry without any caller",
            "refresh: The proactive refresh is planned on the server's clock",
            "refresh: Callers during a proactive refresh share its request",
        ],
        B::UnsubscribeIgnored => &["state: After unsubscribing, a subscriber sees nothing more"],
        B::StuckEstablishing => &["state: A failed login leaves the state where it was"],
        B::SharedEventQueue => &["state: Every subscriber sees every transition"],
        B::NoExpiredEvent => &[
            "state: A session the server ended reaches subscribers [the server revokes the client's session, expired]",
            "state: A session the server ended reaches subscribers [the user is blocked, terminated]",
        ],
        B::SilentRevokeWipe => &[
            "state: Revoking this session tells subscribers it is logged out [all]",
            "state: Revoking this session tells subscribers it is logged out [mine]",
        ],
        B::ProactiveOutlivesWipe => &[
            "refresh: Logout stops the proactive refresh",
            "refresh: Dispose stops the proactive refresh",
        ],
        B::ProactiveOnDeviceClock => {
            &["refresh: The proactive refresh is planned on the server's clock"]
        }
        B::IgnoresSuccessNonce => &["dpop: A nonce on a successful answer replaces the stored one"],
        B::NonceRetryLoops => &[
            "dpop: A nonce challenge is answered at most once [refresh, refreshes]",
            "dpop: A nonce challenge is answered at most once [logout, logs out]",
        ],
        B::NonceKeptOnlyOnSuccess => {
            &["dpop: A nonce from a challenge is kept even when the retry fails"]
        }
        B::NonceNotPersisted => &[
            "dpop: A logout on a server requiring nonces carries the nonce",
            "dpop: A persisted nonce survives a restart",
        ],
        B::LogoutWithoutNonce => &["dpop: A logout on a server requiring nonces carries the nonce"],
        B::RetriesAnyInvalidProof => {
            &["dpop: A proof refused without clock drift is not re-signed"]
        }
        B::StickySkew => &["dpop: A clock skew that went away is corrected"],
        B::HtuKeepsUrlCase => {
            &["login: Proofs name the server in lower case whatever the configured URL's case"]
        }
        B::ReloginForgetsPreviousSession => &["login: A second login ends the previous session"],
        B::DeviceIdPerLaunch => {
            &["login: Every request carries one stable X-Device-Id, across restarts"]
        }
        B::WipesOnRefusedRefresh => &[
            "faults: An error answer leaves the stored session usable [bad_request]",
            "faults: An error answer leaves the stored session usable [invalid_dpop_proof]",
        ],
        B::RefreshesOnAnyError => &[
            "auto_refresh: Only a 401 makes the SDK refresh [403, forbidden]",
            "auto_refresh: Only a 401 makes the SDK refresh [429, rate_limited]",
        ],
        B::ReplaysAfterFailedRefresh => {
            &["auto_refresh: When the refresh fails, the original 401 is returned"]
        }
        B::LogoutDoesNotDrain => {
            &["logout: Logout waits for a refresh on the wire and revokes what it returns"]
        }
        B::LateAnswerIgnoresWipe => {
            &["logout: A login answer that arrives after logout is not stored"]
        }
        B::RevokeWipesOnFailure => &[
            "revoke: A failed revoke wipes nothing [all]",
            "revoke: A failed revoke wipes nothing [others]",
            "revoke: A failed revoke wipes nothing [mine]",
        ],
        B::RevokeWithoutAutoRefresh => {
            &["revoke: A revoke with an expired access token refreshes and retries"]
        }
        B::StrictListFields => {
            &["sessions: A list answer with members the SDK does not know is read"]
        }
        B::ErrorEchoesSecrets => &["login: No error message repeats a secret"],
        _ => &[],
    }
}

/// The scenarios of `suite` that the SDK behind `command` failed, sorted.
async fn failures(suite: &Suite, command: &str) -> Vec<String> {
    let adapters = Drivers::adapters(command, 1)
        .await
        .expect("the adapter starts");
    let report = suite.run_sdk(adapters).await;
    let mut failed: Vec<String> = report.failed_ids().into_iter().map(str::to_owned).collect();
    failed.sort_unstable();
    failed
}

/// One suite run at a time across both tests (cargo runs tests side by side): two at once
/// on two cores made timing-sensitive scenarios fail for variants that do not touch them.
static ONE_RUN_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn adapter(variant: Variant) -> String {
    format!(
        "{} --variant {variant}",
        env!("CARGO_BIN_EXE_broken-adapter")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_variant_fails_exactly_the_scenarios_that_describe_its_bug() {
    // One variant and one scenario at a time: side by side on two cores, the cross-instance
    // scenarios ("two instances sharing storage") failed for variants that do not touch them.
    let _one = ONE_RUN_AT_A_TIME.lock().await;
    let mut mismatches = Vec::new();
    for &variant in BrokenVariant::ALL {
        let mut expected: Vec<String> =
            caught_by(variant).iter().map(|s| (*s).to_owned()).collect();
        expected.sort_unstable();
        assert!(
            !expected.is_empty(),
            "{variant} has no catching scenario listed"
        );
        let mut features: Vec<&str> = expected
            .iter()
            .filter_map(|id| id.split_once(':').map(|(feature, _)| feature))
            .collect();
        features.dedup();
        let filter = Filter::all()
            .name(&format!("^({}): ", features.join("|")))
            .expect("a valid pattern");
        let suite = Suite::bundled().expect("features load").select(filter);
        let failed = failures(&suite, &adapter(Variant::Broken(variant))).await;
        if failed != expected {
            mismatches.push(format!(
                "{variant}:\n  failed:   {failed:#?}\n  expected: {expected:#?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_correct_but_unusual_variant_fails_any_scenario() {
    let _one = ONE_RUN_AT_A_TIME.lock().await;
    let suite = Suite::bundled().expect("features load");
    let mut false_alarms = Vec::new();
    for &variant in UnusualVariant::ALL {
        let failed = failures(&suite, &adapter(Variant::Unusual(variant))).await;
        if !failed.is_empty() {
            false_alarms.push(format!("{variant}: {failed:#?}"));
        }
    }
    assert!(false_alarms.is_empty(), "{}", false_alarms.join("\n"));
}
