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
//! - **Runs** ([`Suite`]) start a fresh mock server per scenario, skip scenarios whose
//!   capabilities the SDK lacks, apply [`ExpectedFailures`], and produce a [`RunReport`]:
//!   console text, JUnit XML, JSON, and a Markdown [`compare`] table across SDKs.
//! - **Server side**: `@server` scenarios attack a server over raw HTTP (forged, replayed,
//!   mis-bound and stale proofs, reused refresh tokens) with [`Suite::run_server`].
//!
//! ```no_run
//! # async fn run() -> Result<(), prelude_conformance::Error> {
//! use std::sync::Arc;
//! use prelude_conformance::{Adapter, Suite};
//!
//! let adapter = Adapter::spawn("node sdk-under-test/js/adapter.mjs")
//!     .await
//!     .expect("the adapter starts");
//! let report = Suite::load(&Suite::bundled_features_dir())?.run_sdk(Arc::new(adapter)).await;
//! report.write("target/conformance".as_ref(), "web-sdk")?;
//! # Ok(()) }
//! ```

mod driver;
mod error;
mod expectations;
mod features;
pub mod protocol;
mod raw;
mod report;
mod runner;
mod steps;
mod world;

pub use driver::{Adapter, Driver, InProcess, serve};
pub use error::{Error, ErrorKind};
pub use expectations::ExpectedFailures;
pub use features::{Scenario, Step, StepKind, TagFilter};
pub use protocol::{Capability, ClientConfig, Hello, Op, SdkError, SdkInfo};
pub use report::{Outcome, RunReport, ScenarioResult, Summary, compare, junit};
pub use runner::{ServerTarget, Suite};

/// Re-exported so adapters and tests can name the reference client's broken variants.
pub use prelude_session::BrokenVariant;

/// `n` random bytes as hex (ids for users and scratch directories).
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // A failing OS RNG leaves zeros: names then collide, which tests would notice.
    let _ignored = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
