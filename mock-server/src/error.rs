//! The crate's public error type: start-up problems (configuration, TLS, binding) and control
//! client failures, with a kind to match on and the server's error code when there is one.

use std::fmt;

/// What went wrong, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Invalid configuration, policy or key material.
    Config,
    /// Binding or serving failed.
    Io,
    /// TLS setup failed.
    Tls,
    /// The control API could not be reached.
    Transport,
    /// The control API answered with an error (see [`Error::code`] and [`Error::status`]).
    Api,
    /// An answer could not be decoded.
    Decode,
}

/// Error of the mock server library and its control client.
#[derive(Debug)]
#[non_exhaustive]
pub struct Error {
    kind: ErrorKind,
    message: String,
    code: Option<String>,
    status: Option<u16>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            status: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn api(status: u16, code: String, message: String) -> Self {
        Self {
            kind: ErrorKind::Api,
            message,
            code: Some(code),
            status: Some(status),
        }
    }

    /// The broad kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The Prelude error code the server answered with, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The HTTP status the server answered with, if any.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{} ({status} {code})", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        let kind = if e.is_decode() {
            ErrorKind::Decode
        } else {
            ErrorKind::Transport
        };
        Self::new(kind, format!("control API request failed: {e}"))
    }
}
