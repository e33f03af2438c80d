//! Conformance suite for Prelude session SDKs.
//!
//! Point it at an SDK and get a verdict, scenario by scenario:
//!
//! - **Scenarios** are plain Gherkin in `features/` (one file per area), tagged with their
//!   level (`@must`/`@should`), source and needed capabilities. Steps assert on what the SDK
//!   returned *and* on the mock server's journal and stats.
//! - **Drivers** reach the SDK: [`InProcess`] for the reference Rust client, [`Adapter`] for
//!   any program speaking the [adapter protocol](protocol) on stdin/stdout. [`serve`] turns
//!   any driver into such a program (the `reference-adapter` binary).
//! - **Runs** ([`Suite`]) go through cucumber-rs: the step library is `#[given]`/`#[when]`/
//!   `#[then]` functions over [`World`], a `before` hook gives each scenario a fresh mock
//!   server and a driver from [`Drivers`], and a conformance writer turns cucumber's events
//!   into outcomes (skipped with a reason, expected failure, unexpected pass, flaky) and a
//!   [`RunReport`]: console text, JUnit XML, JSON, and a Markdown [`compare`] table.
//! - **Your own steps**: a crate that depends on this one can add `#[given]`/`#[when]`/
//!   `#[then]` functions over [`World`] and run its own features with [`Suite`]; see
//!   `harness/examples/custom-steps`.
//! - **Server side**: `@server` scenarios attack a server over raw HTTP (forged, replayed,
//!   mis-bound and stale proofs, reused refresh tokens) with [`Suite::run_server`].
//!
//! ```no_run
//! # async fn run() -> Result<(), prelude_conformance::Error> {
//! use prelude_conformance::{Drivers, Suite};
//!
//! let adapters = Drivers::adapters("node sdk-under-test/js/adapter.mjs", 2)
//!     .await
//!     .expect("the adapter starts");
//! let report = Suite::bundled()?
//!     .jobs(2)
//!     .run_sdk(adapters)
//!     .await;
//! report.write("target/conformance".as_ref(), "web-sdk")?;
//! # Ok(()) }
//! ```

pub mod bench;
mod check;
mod driver;
mod error;
mod expectations;
mod features;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod protocol;
mod raw;
mod report;
mod runner;
mod steps;
mod world;
mod writer;

pub use check::{AdapterCheck, CheckVerdict, Finding, check_adapter};
pub use driver::{Adapter, Driver, Drivers, InProcess, serve, stop_adapters};
pub use error::{Error, ErrorKind};
pub use expectations::ExpectedFailures;
pub use features::{Filter, Scenario};
pub use protocol::{Capability, ClientConfig, Hello, Op, SdkError, SdkInfo};
pub use report::{
    Diagnostics, Outcome, RunReport, ScenarioResult, StepRecord, StepStatus, Summary,
    check_writable, compare, compare_html, file_stem, html, junit,
};
pub use runner::{ServerTarget, Suite};
pub use steps::{StepError, StepResult, Who, ensure};
pub use world::{Answer, World};

/// Cucumber's step attributes, for steps of your own over [`World`].
pub use cucumber::{given, then, when};

/// `n` random bytes as hex (ids for users and scratch directories).
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // A failing OS RNG leaves zeros: names then collide, which tests would notice.
    let _ignored = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
