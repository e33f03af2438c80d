//! Adapter protocol v1: the JSON-lines messages between the suite and an SDK adapter
//! (documented in `docs/adapter-protocol.md`). Both the [`Driver`](crate::Driver) trait and
//! the adapter wire use these types, so the in-process driver and an adapter are
//! interchangeable.
//!
//! Typed end to end: one request variant ([`Op`]) and one result type per op (see
//! [`Op::check_result`]). The JSON Schema in `docs/adapter-protocol.schema.json` is generated
//! from these types ([`schema`]); adapter answers are checked against the same types, so the
//! schema and the check cannot disagree.
//!
//! This module owns the message shapes only; transport lives in `driver::adapter` (client
//! side) and `driver::serve` (adapter side).

use std::path::PathBuf;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this suite speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The client instance a request addresses when it names none.
pub const MAIN_CLIENT: &str = "main";

/// One request line: `{"id":7,"client":"main","op":"refresh"}`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
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
        /// Which sessions.
        target: RevokeTarget,
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

/// Which sessions `revoke` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokeTarget {
    /// Every session of the user, this one included.
    All,
    /// Every session but this one.
    Others,
    /// This session.
    Mine,
    /// The session named by `session_id`.
    Session,
}

impl FromStr for RevokeTarget {
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

/// The result of ops that return nothing: `{}` (extra members are ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Done {}

/// `login`, `refresh`, `otp_check`: the logged-in user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserInfo {
    /// The access token.
    pub access_token: String,
    /// When it expires, Unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The token's `sub`.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The token's `sid`.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl std::fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfo")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// `access_token`: the cached token, without network (every member may be `null`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessToken {
    /// The cached access token.
    #[serde(default)]
    pub access_token: Option<String>,
    /// When it expires, Unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The session it belongs to.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// `list_sessions`: one page of the user's sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListedSessions {
    /// The page.
    pub sessions: Vec<ListedSession>,
    /// How many sessions the user has in all.
    pub total: u64,
    /// The page size the server applied.
    #[serde(default)]
    pub limit: Option<u64>,
    /// The page offset the server applied.
    #[serde(default)]
    pub offset: Option<u64>,
}

/// One listed session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListedSession {
    /// The session id.
    pub id: String,
    /// `ios`, `android`, `web`, ... as the SDK types it; values it does not know are `unknown`.
    pub device_type: String,
    /// Device model, if the server knows it.
    #[serde(default)]
    pub device_model: Option<String>,
    /// OS version, if the server knows it.
    #[serde(default)]
    pub os_version: Option<String>,
    /// Country, if the server knows it.
    #[serde(default)]
    pub country_code: Option<String>,
}

/// `authorized_get`: the final answer's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Authorized {
    /// HTTP status of the final answer.
    pub status: u16,
}

/// `state`: the SDK's session state now, and every state observed since `configure`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct State {
    /// `logged_out`, `logged_in`, `expired`, `terminated` (or `establishing`).
    pub state: String,
    /// The server's code for `terminated`.
    #[serde(default)]
    pub code: Option<String>,
    /// States observed since `configure`, in order.
    #[serde(default)]
    pub history: Vec<String>,
}

/// `stored`: whether any credential is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stored {
    /// A refresh token, access token or key is stored.
    pub credentials: bool,
}

/// `restart`: whether the new instance found a session in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Restarted {
    /// The rebuilt instance is logged in.
    pub logged_in: bool,
}

/// `subscribe`: the new subscription's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Subscription {
    /// Pass it to `unsubscribe` and `events`.
    pub subscription: u64,
}

/// `events`: the transitions a subscription delivered so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Events {
    /// State names, in order.
    pub events: Vec<String>,
}

/// The whole protocol, for the generated JSON Schema: what the suite sends, what an adapter
/// answers, and each op's `ok` result.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct AdapterProtocol {
    /// A request line.
    request: Request,
    /// A response line.
    response: Response,
    /// The `ok` result of each op.
    results: Results,
}

/// The `ok` result of each op, by op name.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Results {
    hello: Hello,
    reset: Done,
    configure: Done,
    login: UserInfo,
    refresh: UserInfo,
    access_token: AccessToken,
    invalidate: Done,
    logout: Done,
    list_sessions: ListedSessions,
    revoke: Done,
    authorized_get: Authorized,
    state: State,
    stored: Stored,
    restart: Restarted,
    dispose: Done,
    otp_start: Done,
    otp_check: UserInfo,
    otp_retry: Done,
    subscribe: Subscription,
    unsubscribe: Done,
    events: Events,
}

/// The adapter protocol's JSON Schema, pretty-printed (committed as
/// `docs/adapter-protocol.schema.json`).
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(AdapterProtocol);
    schema.insert(
        "title".to_owned(),
        Value::String(format!(
            "Prelude conformance adapter protocol v{PROTOCOL_VERSION}"
        )),
    );
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// How to build a client instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
                target: RevokeTarget::Session,
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
