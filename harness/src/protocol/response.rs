//! Answers: one response line per request, with the op's result or how the SDK call failed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
                SdkErrorKind::Protocol,
                "response has neither `ok` nor `error`",
            )),
        }
    }
}

/// How an SDK call failed, as the adapter reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SdkError {
    /// The broad kind.
    pub kind: SdkErrorKind,
    /// The server's error code, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human text (must not contain tokens).
    #[serde(default)]
    pub message: String,
}

impl SdkError {
    /// An error of `kind` without a server code.
    pub fn new(kind: SdkErrorKind, message: impl Into<String>) -> Self {
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
pub enum SdkErrorKind {
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
    /// The SDK's credential storage failed.
    Storage,
    /// The DPoP key could not sign.
    Signing,
    /// The SDK cannot do this op (the scenario is skipped).
    Unsupported,
    /// The adapter broke the protocol (bad JSON, no answer in time, exited).
    Protocol,
    /// Anything else.
    #[serde(other)]
    Other,
}

impl SdkErrorKind {
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
            Self::Storage => "storage",
            Self::Signing => "signing",
            Self::Unsupported => "unsupported",
            Self::Protocol => "protocol",
            Self::Other => "other",
        }
    }
}
