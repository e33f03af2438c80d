//! The client's one error type: a kind to match on, the server's code and status when the
//! server answered, and a message that never contains a token or key.

use std::fmt;
use std::sync::Arc;

/// What went wrong, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No session is stored: log in first.
    NotLoggedIn,
    /// The server refused the session (401): the refresh token is invalid, revoked or reused.
    Unauthorized,
    /// The user was blocked or deleted (403 `auth_blocked` and other account denials).
    Terminated,
    /// Any other error answer from the server (see [`Error::code`]).
    Server,
    /// The request could not be sent or its answer could not be read.
    Transport,
    /// A refresh was sent but its answer was lost, and re-sending the same single-use token
    /// could make the server revoke the session. The stored token is kept; see the crate docs.
    RefreshOutcomeUnknown,
    /// The server's answer was not what the protocol says (HTML, empty, missing headers, ...).
    /// Nothing stored was changed.
    BadResponse,
    /// A logout or revoke wiped the session while this call was in flight.
    LoggedOut,
    /// An argument was rejected before any request (e.g. a blank session id).
    InvalidArgument,
    /// The credential store failed.
    Store,
    /// The DPoP key could not sign.
    Signing,
    /// The client was disposed.
    Disposed,
}

#[derive(Debug)]
struct Repr {
    kind: ErrorKind,
    message: String,
    code: Option<String>,
    status: Option<u16>,
}

/// Error of the session client. Cheap to clone, so one failed refresh can be shared by every
/// caller of that flight.
#[derive(Clone)]
pub struct Error(Arc<Repr>);

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Arc::new(Repr {
            kind,
            message: message.into(),
            code: None,
            status: None,
        }))
    }

    pub(crate) fn server(
        kind: ErrorKind,
        status: u16,
        code: Option<String>,
        message: String,
    ) -> Self {
        Self(Arc::new(Repr {
            kind,
            message,
            code,
            status: Some(status),
        }))
    }

    pub(crate) fn bad_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadResponse, message)
    }

    /// The same error with `text` added to its message (for a broken variant that leaks).
    pub(crate) fn with_detail(&self, text: &str) -> Self {
        Self(Arc::new(Repr {
            kind: self.0.kind,
            message: format!("{} ({text})", self.0.message),
            code: self.0.code.clone(),
            status: self.0.status,
        }))
    }

    /// The broad kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The Prelude error code (`unauthorized`, `auth_blocked`, ...) when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The HTTP status when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("code", &self.0.code)
            .field("status", &self.0.status)
            .field("message", &self.0.message)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.code, self.0.status) {
            (Some(code), Some(status)) => write!(f, "{} ({status} {code})", self.0.message),
            (None, Some(status)) => write!(f, "{} ({status})", self.0.message),
            _ => f.write_str(&self.0.message),
        }
    }
}

impl std::error::Error for Error {}

/// Builds transport errors without echoing URLs with secrets (there are none in our URLs, but
/// reqwest errors can be verbose): keep the category and the source text.
pub(crate) fn transport(error: &reqwest::Error) -> Error {
    Error::new(ErrorKind::Transport, format!("request failed: {error}"))
}
