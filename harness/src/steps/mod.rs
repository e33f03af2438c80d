//! The step library: every sentence the `.feature` files may use, as cucumber
//! `#[given]`/`#[when]`/`#[then]` functions over the [`World`](crate::World). Split by what a
//! step touches:
//!
//! - `client`: drives the SDK through the driver;
//! - `verdict`: judges what the SDK returned, stored and reported;
//! - `oracle`: the server's journal and stats (what the server saw);
//! - `proofs`: the DPoP proofs in the journal (valid, bound, fresh, nonces answered);
//! - `attack`: raw HTTP against the server (server-side scenarios), no SDK involved;
//! - `setup`: users, policy, faults and other devices, through the control API.
//!
//! Every `#[when]` step first calls [`World::act`](crate::World::act), so request counts
//! start at the scenario's first action. Regexes are anchored; cucumber reports a sentence
//! two of them match as an ambiguous step.

mod attack;
mod client;
mod oracle;
mod proofs;
mod setup;
mod verdict;

use std::fmt;
use std::str::FromStr;

use crate::protocol::MAIN_CLIENT;

/// Why a step did not pass.
///
/// A step function returns it; cucumber turns it into the step's failure message, and the
/// conformance writer reads a [`Skipped`](StepError::Skipped) back out of that message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepError {
    /// An assertion failed or the step could not do its work.
    Failed(String),
    /// The SDK cannot do what the step needs: the scenario is skipped.
    Skipped(String),
}

/// The prefix that marks a skip inside cucumber's failure message.
pub(crate) const SKIP_MARK: &str = "[skip] ";

impl StepError {
    /// A failure with `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(message) => f.write_str(message),
            Self::Skipped(reason) => write!(f, "{SKIP_MARK}{reason}"),
        }
    }
}

impl std::error::Error for StepError {}

impl From<String> for StepError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

/// What a step function returns.
pub type StepResult = Result<(), StepError>;

/// Fails with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> StepResult {
    if condition {
        Ok(())
    } else {
        Err(StepError::Failed(message()))
    }
}

/// `the client` or `client "b"` in a step, captured by the group
/// `(?:the client|client "([a-z0-9_-]+)")`: empty (the main client) or the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Who(pub String);

impl FromStr for Who {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(if s.is_empty() { MAIN_CLIENT } else { s }.to_owned()))
    }
}

impl Who {
    /// The client's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// An optional regex group: cucumber passes a group that did not match as an empty string.
pub(crate) fn optional(capture: &str) -> Option<&str> {
    (!capture.is_empty()).then_some(capture)
}

/// An optional numeric group (the regexes only let digits through).
pub(crate) fn number<T: FromStr>(capture: &str) -> Option<T> {
    capture.parse().ok()
}
