//! Adapter protocol v1: the JSON-lines messages between the suite and an SDK adapter
//! (documented in `docs/adapter-protocol.md`). Both the [`Driver`](crate::Driver) trait and
//! the adapter wire use these types, so the in-process driver and an adapter are
//! interchangeable.
//!
//! This module owns the message shapes only; transport lives in `driver::adapter` (client
//! side) and `driver::serve` (adapter side).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this suite speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The client instance a request addresses when it names none.
pub const MAIN_CLIENT: &str = "main";

/// One request line: `{"id":7,"client":"main","op":"refresh"}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the suite, echoed in the response; requests may be answered out of order.
    pub id: u64,
    /// Which client instance (default `main`).
    #[serde(default = "main_client")]
    pub client: String,
    /// The operation and its arguments.
    #[serde(flatten)]
    pub op: Op,
}

fn main_client() -> String {
    MAIN_CLIENT.to_owned()
}

/// An operation on an SDK client instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        password: String,
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
        /// `all`, `others`, `mine` or `session`.
        target: String,
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
        code: String,
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

/// How to build a client instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Server base URL; the SDK appends `/v1/session`.
    pub base_url: String,
    /// Instances configured with the same storage name share credentials (same file, same
    /// browser profile). Default `default`.
    #[serde(default = "default_storage")]
    pub storage: String,
    /// A scratch directory the suite owns for this scenario (for file stores).
    pub workdir: PathBuf,
    /// Run this instance in a separate adapter process (needs capability `multi_process`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub separate_process: bool,
    /// The server's refresh-token reuse grace window, when the scenario configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_grace_seconds: Option<u64>,
    /// Base delay for transport retries; adapters should use it to keep scenarios fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_base_delay_ms: Option<u64>,
}

fn default_storage() -> String {
    "default".to_owned()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The adapter's answer to `hello`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version the adapter speaks (must be [`PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// What SDK is under test.
    pub sdk: SdkInfo,
    /// Optional features the SDK supports (see [`Capability`]).
    pub capabilities: Vec<String>,
    /// What the SDK needs from the test servers: `https` (the SDK only speaks HTTPS; the
    /// suite then starts TLS servers with a self-signed certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
}

impl Hello {
    /// Whether the adapter declared `capability`.
    pub fn supports(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// Name, version and language of the SDK under test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkInfo {
    /// Package name, e.g. `@prelude.so/js-sdk`.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Implementation language.
    pub language: String,
}

/// Capabilities the suite knows; scenarios tagged `@needs-<name>` are skipped without them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// `list_sessions`.
    ListSessions,
    /// `revoke`.
    Revoke,
    /// `authorized_get`.
    AuthorizedGet,
    /// `state` reports the SDK's own session-state stream.
    State,
    /// `restart` over persistent storage.
    Restart,
    /// `dispose`.
    Dispose,
    /// Two instances in one process share storage (two browser tabs).
    SharedStorage,
    /// Instances in separate processes share storage (files).
    MultiProcess,
    /// The SDK can be told the server's reuse grace window.
    ReuseGrace,
    /// `otp_start`, `otp_check`, `otp_retry`: Prelude's OTP login.
    OtpLogin,
    /// `subscribe`, `unsubscribe`, `events`: a stream of state transitions.
    StateEvents,
    /// The state is `establishing` while a login is being finalized.
    StateEstablishing,
    /// The SDK refreshes on its own before the access token expires.
    ProactiveRefresh,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Self; 13] = [
        Self::ListSessions,
        Self::Revoke,
        Self::AuthorizedGet,
        Self::State,
        Self::Restart,
        Self::Dispose,
        Self::SharedStorage,
        Self::MultiProcess,
        Self::ReuseGrace,
        Self::OtpLogin,
        Self::StateEvents,
        Self::StateEstablishing,
        Self::ProactiveRefresh,
    ];

    /// The name used in `hello` and in `@needs-<name>` tags.
    pub fn name(self) -> &'static str {
        match self {
            Self::ListSessions => "list_sessions",
            Self::Revoke => "revoke",
            Self::AuthorizedGet => "authorized_get",
            Self::State => "state",
            Self::Restart => "restart",
            Self::Dispose => "dispose",
            Self::SharedStorage => "shared_storage",
            Self::MultiProcess => "multi_process",
            Self::ReuseGrace => "reuse_grace",
            Self::OtpLogin => "otp_login",
            Self::StateEvents => "state_events",
            Self::StateEstablishing => "state_establishing",
            Self::ProactiveRefresh => "proactive_refresh",
        }
    }
}

/// One response line: `{"id":7,"ok":{...}}` or `{"id":7,"error":{...}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// The result on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<Value>,
    /// The error on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SdkError>,
}

impl Response {
    /// A response carrying `outcome`.
    pub fn new(id: u64, outcome: Result<Value, SdkError>) -> Self {
        match outcome {
            Ok(ok) => Self {
                id,
                ok: Some(ok),
                error: None,
            },
            Err(error) => Self {
                id,
                ok: None,
                error: Some(error),
            },
        }
    }

    /// The outcome it carries (`ok` wins if an adapter sent both; neither is a protocol error).
    pub fn into_outcome(self) -> Result<Value, SdkError> {
        match (self.ok, self.error) {
            (Some(ok), _) => Ok(ok),
            (None, Some(error)) => Err(error),
            (None, None) => Err(SdkError::new(
                ErrorKind::Protocol,
                "response has neither `ok` nor `error`",
            )),
        }
    }
}

/// How an SDK call failed, as the adapter reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkError {
    /// The broad kind.
    pub kind: ErrorKind,
    /// The server's error code, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human text (must not contain tokens).
    #[serde(default)]
    pub message: String,
}

impl SdkError {
    /// An error of `kind` without a server code.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SdkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind.name())?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Error kinds on the wire. Adapters map their SDK's errors onto these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// No session: log in first.
    NotLoggedIn,
    /// The server refused the session (401).
    Unauthorized,
    /// The account was blocked or deleted (403 account denial).
    Terminated,
    /// Any other error answer from the server (see `code`).
    Server,
    /// The request could not be sent or its answer read.
    Transport,
    /// A refresh was sent but its answer was lost; the SDK did not re-spend the token.
    OutcomeUnknown,
    /// The server's answer did not follow the protocol.
    BadResponse,
    /// A logout or revoke wiped the session while the call was in flight.
    LoggedOut,
    /// An argument was refused locally, before any request.
    InvalidArgument,
    /// The instance was disposed.
    Disposed,
    /// The SDK cannot do this op (the scenario is skipped).
    Unsupported,
    /// The adapter broke the protocol (bad JSON, no answer in time, exited).
    Protocol,
    /// Anything else.
    #[serde(other)]
    Other,
}

impl ErrorKind {
    /// The snake_case wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotLoggedIn => "not_logged_in",
            Self::Unauthorized => "unauthorized",
            Self::Terminated => "terminated",
            Self::Server => "server",
            Self::Transport => "transport",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::BadResponse => "bad_response",
            Self::LoggedOut => "logged_out",
            Self::InvalidArgument => "invalid_argument",
            Self::Disposed => "disposed",
            Self::Unsupported => "unsupported",
            Self::Protocol => "protocol",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_flat_ops_and_a_default_client() {
        let request: Request =
            serde_json::from_str(r#"{"id":3,"op":"revoke","target":"session","session_id":""}"#)
                .expect("parses");
        assert_eq!(request.client, MAIN_CLIENT);
        assert_eq!(
            request.op,
            Op::Revoke {
                target: "session".into(),
                session_id: Some(String::new())
            }
        );
        let line = serde_json::to_string(&Request {
            id: 4,
            client: "b".into(),
            op: Op::Refresh,
        })
        .expect("serializes");
        assert_eq!(line, r#"{"id":4,"client":"b","op":"refresh"}"#);
    }

    #[test]
    fn unknown_error_kinds_fold_to_other() {
        let error: SdkError =
            serde_json::from_str(r#"{"kind":"weird","message":"x"}"#).expect("parses");
        assert_eq!(error.kind, ErrorKind::Other);
    }
}
