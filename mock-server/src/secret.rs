//! [`Secret`]: a string that never prints. Passwords, control tokens and key material live in
//! it so that no `Debug`, log line or panic message can carry them (oauth2-rs's
//! `SecretString` pattern). It owns redaction only; what counts as a secret is decided where
//! the value is held.

use serde::{Deserialize, Serialize};

/// A secret string: `Debug` and `Display` print `[redacted]`; [`expose`](Self::expose) is
/// the one way to read it, so every use is greppable.
///
/// ```
/// use prelude_mock_server::Secret;
///
/// let password = Secret::new("correct horse");
/// assert_eq!(format!("{password:?}"), "[redacted]");
/// assert_eq!(password.expose(), "correct horse");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}
