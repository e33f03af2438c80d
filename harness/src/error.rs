//! The crate's one error type, for failures of the suite itself (unreadable features, an
//! adapter that cannot start, a report that cannot be written). Scenario failures are not
//! errors: they are results.

use std::fmt;

/// What failed, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A `.feature` file could not be read or parsed.
    Features,
    /// The expected-failures file could not be read or parsed, or names no scenario.
    ExpectedFailures,
    /// A tag expression or name pattern is malformed.
    Filter,
    /// A report could not be read or written.
    Report,
    /// A benchmark could not run (the server, the SDK or the load failed).
    Bench,
}

/// Error of the conformance suite.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The broad kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
