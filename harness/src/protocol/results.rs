//! Each op's `ok` result, typed: what the in-process driver builds and what an adapter's
//! answer is checked against.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
