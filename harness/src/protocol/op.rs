//! Requests: one [`Op`] variant per operation, and what each op's result must look like.

use std::str::FromStr;

use prelude_mock_server::Secret;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::results::{
    AccessToken, Authorized, Done, Events, ListedSessions, Restarted, State, Stored, Subscription,
    UserInfo,
};
use super::session::{ClientConfig, Hello};

/// An operation on an SDK client instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Op {
    /// First request: answer with a [`Hello`].
    Hello,
    /// Forget every client instance (between scenarios).
    Reset,
    /// Create (or replace) the client instance with this configuration.
    Configure(ClientConfig),
    /// Email/password login.
    Login {
        /// The identifier (an email).
        email: String,
        /// The password.
        // A `Secret`, so that `Debug` prints `[redacted]`; a string on the wire.
        #[schemars(with = "String")]
        password: Secret,
    },
    /// `refresh()`: a fresh access token, from cache or one coalesced refresh.
    Refresh,
    /// The cached access token without network (may be expired or absent).
    AccessToken,
    /// Mark the cached access token expired, locally.
    Invalidate,
    /// `logout()`.
    Logout,
    /// One page of the user's sessions.
    ListSessions {
        /// Page size.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        /// Page offset.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u32>,
    },
    /// `revokeSessions(target, id)`.
    Revoke {
        /// Which sessions.
        target: RevokeKind,
        /// The id for `session` (passed verbatim, even when blank).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// A GET to a protected path through the SDK's auto-refreshing authorised request.
    AuthorizedGet {
        /// Path below the base URL, e.g. `/v1/session/me/list`.
        path: String,
    },
    /// The current session state and every state observed since `configure`.
    State,
    /// Whether any credential (refresh token, access token, key) is stored.
    Stored,
    /// Drop the instance and build a new one over the same storage.
    Restart,
    /// Release the instance; later calls must fail with kind `disposed`.
    Dispose,
    /// Start an OTP login: the server sends a code to `identifier`.
    OtpStart {
        /// An email address (or a phone number starting with `+`).
        identifier: String,
    },
    /// Check the pending OTP login's code; on success the client is logged in (the user).
    OtpCheck {
        /// The code the user typed.
        // A `Secret`, so that `Debug` prints `[redacted]`; a string on the wire.
        #[schemars(with = "String")]
        code: Secret,
    },
    /// Ask the server to send the pending OTP login's code again.
    OtpRetry,
    /// Subscribe to state transitions: `{"subscription": id}`.
    Subscribe,
    /// End a subscription.
    Unsubscribe {
        /// The id `subscribe` returned.
        subscription: u64,
    },
    /// The transitions a subscription has delivered so far: `{"events": ["logged_in", ...]}`.
    Events {
        /// The id `subscribe` returned.
        subscription: u64,
    },
}

impl Op {
    /// The op's wire name (`refresh`, `list_sessions`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Reset => "reset",
            Self::Configure(_) => "configure",
            Self::Login { .. } => "login",
            Self::Refresh => "refresh",
            Self::AccessToken => "access_token",
            Self::Invalidate => "invalidate",
            Self::Logout => "logout",
            Self::ListSessions { .. } => "list_sessions",
            Self::Revoke { .. } => "revoke",
            Self::AuthorizedGet { .. } => "authorized_get",
            Self::State => "state",
            Self::Stored => "stored",
            Self::Restart => "restart",
            Self::Dispose => "dispose",
            Self::OtpStart { .. } => "otp_start",
            Self::OtpCheck { .. } => "otp_check",
            Self::OtpRetry => "otp_retry",
            Self::Subscribe => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Events { .. } => "events",
        }
    }
}

/// Which sessions `revoke` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokeKind {
    /// Every session of the user, this one included.
    All,
    /// Every session but this one.
    Others,
    /// This session.
    Mine,
    /// The session named by `session_id`.
    Session,
}

impl FromStr for RevokeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(s.to_owned()))
            .map_err(|_| format!("unknown revoke target {s:?}"))
    }
}

impl Op {
    /// Checks an adapter's `ok` result for this op against the op's result type; the error
    /// says what is wrong.
    pub fn check_result(&self, result: &Value) -> Result<(), String> {
        fn check<T: DeserializeOwned>(result: &Value) -> Result<(), String> {
            T::deserialize(result).map(drop).map_err(|e| e.to_string())
        }
        match self {
            Self::Hello => check::<Hello>(result),
            Self::Login { .. } | Self::Refresh | Self::OtpCheck { .. } => check::<UserInfo>(result),
            Self::AccessToken => check::<AccessToken>(result),
            Self::ListSessions { .. } => check::<ListedSessions>(result),
            Self::AuthorizedGet { .. } => check::<Authorized>(result),
            Self::State => check::<State>(result),
            Self::Stored => check::<Stored>(result),
            Self::Restart => check::<Restarted>(result),
            Self::Subscribe => check::<Subscription>(result),
            Self::Events { .. } => check::<Events>(result),
            Self::Reset
            | Self::Configure(_)
            | Self::Invalidate
            | Self::Logout
            | Self::Revoke { .. }
            | Self::Dispose
            | Self::OtpStart { .. }
            | Self::OtpRetry
            | Self::Unsubscribe { .. } => check::<Done>(result),
        }
    }
}
