//! Deliberately broken variants of this client, behind the `broken-variants` feature.
//!
//! The conformance suite proves that it catches real bugs by running itself against these
//! (issue #4's mutation table). Nothing here is reachable unless a builder opts in with
//! [`SessionClientBuilder::broken`](crate::SessionClientBuilder::broken); without the feature
//! the checks compile to `false`.

use std::fmt;
use std::str::FromStr;

/// One deliberate defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BrokenVariant {
    /// Every `refresh()` caller sends its own request: no single flight.
    NoCoalescing,
    /// `logout()` tells the server but keeps local credentials.
    NoWipeOnLogout,
    /// `revoke_sessions(Mine)` succeeds on the server but keeps local credentials.
    NoWipeOnRevokeMine,
    /// A `use_dpop_nonce` challenge is returned as an error instead of retried once.
    NoNonceRetry,
    /// A refresh whose answer was lost is re-sent with the same token, grace window or not.
    RetryRespendsToken,
    /// `logout()` wipes only after the server call succeeds (the web SDK 0.6.0 behaviour).
    LogoutKeepsOnServerFailure,
    /// `revoke_sessions(Session(""))` is sent to the server instead of being refused.
    RevokeBlankSessionSent,
    /// The server's `Date` is ignored: proofs carry the local `iat`, expiry is judged on the local
    /// clock, and a proof refused for its `iat` is not re-signed.
    IgnoresClockSkew,
    /// A `use_dpop_nonce` challenge on an authorised call (`/me/*`) is not retried.
    NoResourceNonceRetry,
    /// A DPoP-bound access token is sent as `Bearer`, without a proof (the web SDK 0.6.0 way).
    BoundTokenAsBearer,
    /// Proofs for DPoP-bound access tokens have no `ath` claim.
    ProofWithoutAth,
    /// Proof `htu` keeps the request's query string.
    HtuWithQuery,
    /// A session list with a device type the client does not know fails as a bad answer.
    StrictDeviceType,
    /// Callers join a refresh only within 20 ms of its start; later ones send their own.
    CoalescesOnlySimultaneous,
    /// Transient failures are retried at once, without waiting.
    NoBackoff,
    /// A 429's `Retry-After` is ignored.
    IgnoresRetryAfter,
    /// `expires_at` is read as milliseconds: the cached access token never expires locally.
    ExpiryInMilliseconds,
    /// Dropping a state subscription does not unsubscribe it.
    UnsubscribeIgnored,
}

impl BrokenVariant {
    /// Every variant, in a stable order.
    pub const ALL: [Self; 18] = [
        Self::NoCoalescing,
        Self::NoWipeOnLogout,
        Self::NoWipeOnRevokeMine,
        Self::NoNonceRetry,
        Self::RetryRespendsToken,
        Self::LogoutKeepsOnServerFailure,
        Self::RevokeBlankSessionSent,
        Self::IgnoresClockSkew,
        Self::NoResourceNonceRetry,
        Self::BoundTokenAsBearer,
        Self::ProofWithoutAth,
        Self::HtuWithQuery,
        Self::StrictDeviceType,
        Self::CoalescesOnlySimultaneous,
        Self::NoBackoff,
        Self::IgnoresRetryAfter,
        Self::ExpiryInMilliseconds,
        Self::UnsubscribeIgnored,
    ];

    /// The kebab-case name used on command lines (`no-coalescing`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::NoCoalescing => "no-coalescing",
            Self::NoWipeOnLogout => "no-wipe-on-logout",
            Self::NoWipeOnRevokeMine => "no-wipe-on-revoke-mine",
            Self::NoNonceRetry => "no-nonce-retry",
            Self::RetryRespendsToken => "retry-respends-token",
            Self::LogoutKeepsOnServerFailure => "logout-keeps-on-server-failure",
            Self::RevokeBlankSessionSent => "revoke-blank-session-sent",
            Self::IgnoresClockSkew => "ignores-clock-skew",
            Self::NoResourceNonceRetry => "no-nonce-retry-on-resource",
            Self::BoundTokenAsBearer => "bound-token-as-bearer",
            Self::ProofWithoutAth => "proof-without-ath",
            Self::HtuWithQuery => "htu-with-query",
            Self::StrictDeviceType => "strict-device-type",
            Self::CoalescesOnlySimultaneous => "coalesces-only-simultaneous",
            Self::NoBackoff => "no-backoff",
            Self::IgnoresRetryAfter => "ignores-retry-after",
            Self::ExpiryInMilliseconds => "expiry-in-milliseconds",
            Self::UnsubscribeIgnored => "unsubscribe-ignored",
        }
    }
}

impl fmt::Display for BrokenVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BrokenVariant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|v| v.name()).collect();
                format!(
                    "unknown variant {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Whether `variant` is switched on for a client configured with `chosen`.
pub(crate) fn is(chosen: Option<BrokenVariant>, variant: BrokenVariant) -> bool {
    cfg!(feature = "broken-variants") && chosen == Some(variant)
}
