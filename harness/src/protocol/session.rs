//! Setting up: how to build a client instance, and what an adapter says about its SDK in
//! answer to `hello` (name, version, protocol, capabilities).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// Protocol version the adapter speaks (must be the suite's `PROTOCOL_VERSION`, currently 1).
    pub protocol: u32,
    /// What SDK is under test.
    pub sdk: SdkInfo,
    /// Optional features the SDK supports (see [`Capability`]).
    pub capabilities: Vec<String>,
    /// What the SDK needs from the test servers: `https` (the SDK only speaks HTTPS; the
    /// suite then starts TLS servers with a self-signed certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// How many requests the adapter can have in flight at once, if it has a limit: the
    /// contention benchmark (`prelude-conformance bench`) sends no larger burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
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
