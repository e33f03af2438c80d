//! The step library: every sentence the `.feature` files may use, matched by regular
//! expression. Split by what a step touches:
//!
//! - `client`: drives the SDK through the driver and judges what it returned;
//! - `oracle`: the server's journal and stats (what the server saw);
//! - `attack`: raw HTTP against the server (server-side scenarios), no SDK involved;
//! - `setup`: users, policy, faults and other devices, through the control API.

mod attack;
mod client;
mod oracle;
mod setup;

use regex::Captures;

use crate::features::{Step, StepKind};
use crate::world::World;

/// Why a step did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepError {
    /// An assertion failed or the step could not do its work.
    Failed(String),
    /// The SDK cannot do what the step needs: the scenario is skipped.
    Skipped(String),
    /// No step definition matches the text.
    Undefined,
}

impl StepError {
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

pub(crate) type StepResult = Result<(), StepError>;

/// Fails with `message` unless `condition` holds.
pub(crate) fn ensure(condition: bool, message: impl FnOnce() -> String) -> StepResult {
    if condition {
        Ok(())
    } else {
        Err(StepError::Failed(message()))
    }
}

/// A compiled, anchored step pattern, built once per call site.
macro_rules! pattern {
    ($re:expr) => {{
        static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(&format!("^(?:{})$", $re)).expect("step patterns are valid")
        });
        &*RE
    }};
}
pub(crate) use pattern;

/// `the client` or `client "b"`, captured as `who`.
pub(crate) const WHO: &str = r#"(?:the client|client "(?P<who>[a-z0-9_-]+)")"#;

/// The client a step names.
pub(crate) fn who(captures: &Captures<'_>) -> String {
    captures
        .name("who")
        .map_or(crate::world::MAIN, |m| m.as_str())
        .to_owned()
}

/// A numeric capture (the patterns only let digits through).
pub(crate) fn number<T: std::str::FromStr + Default>(captures: &Captures<'_>, name: &str) -> T {
    captures
        .name(name)
        .and_then(|m| m.as_str().parse().ok())
        .unwrap_or_default()
}

/// Runs one step.
pub(crate) async fn run(world: &mut World, step: &Step) -> StepResult {
    if step.kind == StepKind::When && world.mark.is_none() {
        world.set_mark().await?;
    }
    let text = step.text.trim();
    if let Some(result) = setup::run(world, text).await {
        return result;
    }
    if let Some(result) = client::run(world, text).await {
        return result;
    }
    if let Some(result) = oracle::run(world, text).await {
        return result;
    }
    if let Some(result) = attack::run(world, text).await {
        return result;
    }
    Err(StepError::Undefined)
}
