//! Variants of this client for the conformance suite's self-test, behind the
//! `broken-variants` feature: deliberate defects ([`BrokenVariant`]), which the suite must
//! catch, and correct but unusual behaviours ([`UnusualVariant`]), which it must pass.
//!
//! The suite proves its verdicts with them: every defect fails exactly the scenarios that
//! describe it, and every unusual behaviour passes every scenario (the mutation table).
//! Nothing here is reachable unless a builder opts in with
//! [`SessionClientBuilder::broken`](crate::SessionClientBuilder::broken) or
//! [`SessionClientBuilder::unusual`](crate::SessionClientBuilder::unusual); without the
//! feature the checks compile to `false`.

use std::fmt;
use std::str::FromStr;

/// One enum of variants with a kebab-case name each, every variant in `ALL`, and the name
/// both ways (`Display`, `FromStr`).
macro_rules! variants {
    ($(#[$meta:meta])* $enum:ident { $($(#[$doc:meta])* $variant:ident = $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $enum {
            $($(#[$doc])* $variant,)*
        }

        impl $enum {
            /// Every variant, in a stable order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The kebab-case name used on command lines.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }

        impl fmt::Display for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $enum {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
                    let names: Vec<_> = Self::ALL.iter().map(|v| v.name()).collect();
                    format!("unknown variant {s:?}; expected one of {}", names.join(", "))
                })
            }
        }
    };
}

variants! {
    /// One deliberate defect.
    BrokenVariant {
        /// Every `refresh()` caller sends its own request: no single flight.
        NoCoalescing = "no-coalescing",
        /// `logout()` tells the server but keeps local credentials.
        NoWipeOnLogout = "no-wipe-on-logout",
        /// `revoke_sessions(Mine)` succeeds on the server but keeps local credentials.
        NoWipeOnRevokeMine = "no-wipe-on-revoke-mine",
        /// A `use_dpop_nonce` challenge is returned as an error instead of retried once.
        NoNonceRetry = "no-nonce-retry",
        /// A refresh whose answer was lost is re-sent with the same token, grace window or not.
        RetryRespendsToken = "retry-respends-token",
        /// `logout()` wipes only after the server call succeeds (the web SDK 0.6.0 behaviour).
        LogoutKeepsOnServerFailure = "logout-keeps-on-server-failure",
        /// `revoke_sessions(Session(""))` is sent to the server instead of being refused.
        RevokeBlankSessionSent = "revoke-blank-session-sent",
        /// The server's `Date` is ignored: proofs carry the local `iat`, expiry is judged on
        /// the local clock, and a proof refused for its `iat` is not re-signed.
        IgnoresClockSkew = "ignores-clock-skew",
        /// A `use_dpop_nonce` challenge on an authorised call (`/me/*`) is not retried.
        NoResourceNonceRetry = "no-nonce-retry-on-resource",
        /// A DPoP-bound access token is sent as `Bearer`, without a proof (the web SDK 0.6.0 way).
        BoundTokenAsBearer = "bound-token-as-bearer",
        /// Proofs for DPoP-bound access tokens have no `ath` claim.
        ProofWithoutAth = "proof-without-ath",
        /// Proof `htu` keeps the request's query string.
        HtuWithQuery = "htu-with-query",
        /// A session list with a device type the client does not know fails as a bad answer.
        StrictDeviceType = "strict-device-type",
        /// Callers join a refresh only within 20 ms of its start; later ones send their own.
        CoalescesOnlySimultaneous = "coalesces-only-simultaneous",
        /// Transient failures are retried at once, without waiting.
        NoBackoff = "no-backoff",
        /// A 429's `Retry-After` is ignored.
        IgnoresRetryAfter = "ignores-retry-after",
        /// `expires_at` is read as milliseconds: the cached access token never expires locally.
        ExpiryInMilliseconds = "expiry-in-milliseconds",
        /// Dropping a state subscription does not unsubscribe it.
        UnsubscribeIgnored = "unsubscribe-ignored",
        /// A login whose finalize fails leaves the state at `establishing`.
        StuckEstablishing = "stuck-establishing",
        /// Subscribers share one queue: each transition reaches only one of them.
        SharedEventQueue = "shared-event-queue",
        /// `expired` and `terminated` change the state but are not published to subscribers.
        NoExpiredEvent = "no-expired-event",
        /// A revoke that wipes this session publishes no `logged_out`.
        SilentRevokeWipe = "silent-revoke-wipe",
        /// The proactive refresh timer survives logout, wipes and dispose, and refreshes with
        /// the refresh token it captured when it was planned.
        ProactiveOutlivesWipe = "proactive-outlives-wipe",
        /// The proactive refresh is planned from the server's `exp` on the device clock.
        ProactiveOnDeviceClock = "proactive-on-device-clock",
        /// A `DPoP-Nonce` on a successful answer is not kept: only challenges teach nonces.
        IgnoresSuccessNonce = "ignores-success-nonce",
        /// Every `use_dpop_nonce` answer is retried, up to five times in a row.
        NonceRetryLoops = "nonce-retry-loops",
        /// A nonce learned during an exchange is kept only if the exchange succeeds.
        NonceKeptOnlyOnSuccess = "nonce-kept-only-on-success",
        /// The nonce lives in memory only: a restarted client has none.
        NonceNotPersisted = "nonce-not-persisted",
        /// The logout proof carries no nonce, even when one is known.
        LogoutWithoutNonce = "logout-without-nonce",
        /// Every `invalid_dpop_proof` answer is re-signed and retried once, whatever its `Date`.
        RetriesAnyInvalidProof = "retries-any-invalid-proof",
        /// A clock skew once learned is never corrected or cleared.
        StickySkew = "sticky-skew",
        /// Proof `htu` keeps the configured base URL's letter case.
        HtuKeepsUrlCase = "htu-keeps-url-case",
        /// A second login does not bring the previous session's refresh token along.
        ReloginForgetsPreviousSession = "relogin-forgets-previous-session",
        /// `X-Device-Id` is new for every client instance (a restart gets another).
        DeviceIdPerLaunch = "device-id-per-launch",
        /// A refused refresh (401, a DPoP error) wipes the stored session.
        WipesOnRefusedRefresh = "wipes-on-refused-refresh",
        /// An authorised request refreshes and retries on any 4xx answer, not only 401.
        RefreshesOnAnyError = "refreshes-on-any-error",
        /// When the refresh after a 401 fails, the request is sent again anyway.
        ReplaysAfterFailedRefresh = "replays-after-failed-refresh",
        /// Logout does not wait for a refresh on the wire; it revokes the token it has.
        LogoutDoesNotDrain = "logout-does-not-drain",
        /// A login or refresh answer that arrives after a logout is stored anyway.
        LateAnswerIgnoresWipe = "late-answer-ignores-wipe",
        /// A failed revoke wipes local credentials anyway.
        RevokeWipesOnFailure = "revoke-wipes-on-failure",
        /// Revoking sends the cached access token once, without the 401 → refresh → retry path.
        RevokeWithoutAutoRefresh = "revoke-without-auto-refresh",
        /// A session list with members the client does not know fails as a bad answer.
        StrictListFields = "strict-list-fields",
        /// Error messages repeat the secrets of the request (password, refresh token).
        ErrorEchoesSecrets = "error-echoes-secrets",
    }
}

variants! {
    /// One correct but unusual behaviour: what another well-written SDK may do instead.
    UnusualVariant {
        /// Full jitter: each backoff delay is drawn from `[0, base·2ⁿ]` (AWS's recommendation),
        /// so one delay may be shorter than the one before.
        FullJitter = "full-jitter",
        /// Keeps the access token always fresh: refreshes (callers and timer alike) once half
        /// of its lifetime is gone.
        AlwaysFresh = "always-fresh",
        /// The proactive refresh starts at half the token's lifetime while callers keep being
        /// served the still-valid cached token.
        RefreshesEarly = "refreshes-early",
        /// Like Prelude's native SDKs: a 5xx or 429 answer is given to the caller, not retried;
        /// only the next call goes to the server again.
        NoTransientRetry = "no-transient-retry",
    }
}

/// Whether `variant` is switched on for a client configured with `chosen`.
pub(crate) fn is(chosen: Option<BrokenVariant>, variant: BrokenVariant) -> bool {
    cfg!(feature = "broken-variants") && chosen == Some(variant)
}

/// Whether the unusual behaviour `variant` is switched on for a client configured with
/// `chosen`.
pub(crate) fn is_unusual(chosen: Option<UnusualVariant>, variant: UnusualVariant) -> bool {
    cfg!(feature = "broken-variants") && chosen == Some(variant)
}
