//! Runs scenarios: one fresh mock server (random port) and one fresh set of SDK instances
//! per scenario, steps in order, the first failing step ends the scenario. Applies
//! capabilities (skip) and expected failures, and times everything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prelude_mock_server::{ControlClient, MockServer};

use crate::driver::Driver;
use crate::error::{Error, ErrorKind};
use crate::expectations::ExpectedFailures;
use crate::features::{self, Scenario, TagFilter};
use crate::protocol::{MAIN_CLIENT, Op, SdkInfo};
use crate::report::{Outcome, RunReport, ScenarioResult};
use crate::steps::{self, StepError};
use crate::world::World;

/// No step may take longer than this (a hung SDK fails the scenario, not the run).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which server a server-side run attacks.
#[derive(Debug)]
pub enum ServerTarget {
    /// A fresh in-process mock server per scenario.
    FreshMock,
    /// A running server with the control API; reset before each scenario.
    Remote {
        /// Base URL (without `/v1/session`).
        base_url: String,
        /// Its control API.
        control: ControlClient,
        /// Its certificate, when it is self-signed.
        tls: Option<prelude_mock_server::TlsInfo>,
    },
}

/// A set of scenarios and the failures expected of the SDK under test.
///
/// ```no_run
/// # async fn run() -> Result<(), prelude_conformance::Error> {
/// use std::sync::Arc;
/// use prelude_conformance::{InProcess, Suite, TagFilter};
///
/// let suite = Suite::load(&Suite::bundled_features_dir())?.filter(&TagFilter::parse("must"));
/// let report = suite.run_sdk(Arc::new(InProcess::new())).await;
/// println!("{}", report.console());
/// assert!(report.is_success());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Suite {
    scenarios: Vec<Scenario>,
    /// Ids of every loaded scenario, filtered out or not.
    all_ids: HashSet<String>,
    expected: ExpectedFailures,
    progress: bool,
}

impl Suite {
    /// Every scenario in the `.feature` files of `dir`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let scenarios = features::load_dir(dir)?;
        Ok(Self {
            all_ids: scenarios.iter().map(|s| s.id.clone()).collect(),
            scenarios,
            expected: ExpectedFailures::none(),
            progress: false,
        })
    }

    /// The `features/` directory of this repository.
    pub fn bundled_features_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../features")
    }

    /// Keeps the scenarios `filter` selects.
    #[must_use]
    pub fn filter(mut self, filter: &TagFilter) -> Self {
        self.scenarios.retain(|s| filter.matches(s));
        self
    }

    /// Sets the failures expected of the SDK under test. An entry naming no scenario of the
    /// loaded features is an error: the list would be stale or mistyped.
    pub fn expected_failures(mut self, expected: ExpectedFailures) -> Result<Self, Error> {
        let unknown: Vec<&str> = expected
            .ids()
            .filter(|id| !self.all_ids.contains(*id))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::new(
                ErrorKind::ExpectedFailures,
                format!("expected failures name no scenario: {}", unknown.join("; ")),
            ));
        }
        self.expected = expected;
        Ok(self)
    }

    /// Prints each scenario's result to stderr as it ends.
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The selected scenarios.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// Runs the SDK scenarios (all but `@server`) through `driver`.
    pub async fn run_sdk(&self, driver: Arc<dyn Driver>) -> RunReport {
        let started = Instant::now();
        let mut results = Vec::new();
        for scenario in self.scenarios.iter().filter(|s| !s.is_server_side()) {
            let began = Instant::now();
            let outcome = match missing_capability(scenario, driver.as_ref()) {
                Some(reason) => Outcome::Skipped { reason },
                None => run_sdk_scenario(scenario, driver.clone()).await,
            };
            results.push(self.finish(scenario, outcome, began));
        }
        RunReport::new(
            driver.hello().sdk.clone(),
            "sdk",
            unix_now(),
            elapsed_ms(started),
            results,
        )
    }

    /// Runs the `@server` scenarios against `target`.
    pub async fn run_server(&self, target: &ServerTarget) -> RunReport {
        let started = Instant::now();
        let mut results = Vec::new();
        for scenario in self.scenarios.iter().filter(|s| s.is_server_side()) {
            let began = Instant::now();
            let outcome = run_server_scenario(scenario, target).await;
            results.push(self.finish(scenario, outcome, began));
        }
        let name = match target {
            ServerTarget::FreshMock => "prelude-mock-server".to_owned(),
            ServerTarget::Remote { base_url, .. } => base_url.clone(),
        };
        let sdk = SdkInfo {
            name,
            version: String::new(),
            language: "server".to_owned(),
        };
        RunReport::new(sdk, "server", unix_now(), elapsed_ms(started), results)
    }

    fn finish(&self, scenario: &Scenario, outcome: Outcome, began: Instant) -> ScenarioResult {
        let outcome = match (outcome, self.expected.reason(&scenario.id)) {
            (Outcome::Passed, Some(reason)) => Outcome::UnexpectedPass {
                reason: reason.to_owned(),
            },
            (Outcome::Failed { step, message }, Some(reason)) => Outcome::ExpectedFailure {
                reason: reason.to_owned(),
                step,
                message,
            },
            (outcome, _) => outcome,
        };
        let result = ScenarioResult {
            id: scenario.id.clone(),
            feature: scenario.feature.clone(),
            name: scenario.name.clone(),
            level: scenario.level().to_owned(),
            sources: scenario.sources(),
            needs: scenario.needs().map(str::to_owned).collect(),
            outcome,
            duration_ms: elapsed_ms(began),
        };
        if self.progress {
            eprintln!(
                "{:<16} {} ({} ms)",
                result.outcome.label(),
                result.id,
                result.duration_ms
            );
        }
        result
    }
}

fn missing_capability(scenario: &Scenario, driver: &dyn Driver) -> Option<String> {
    let missing: Vec<&str> = scenario
        .needs()
        .filter(|c| !driver.hello().supports(c))
        .collect();
    (!missing.is_empty()).then(|| format!("the SDK lacks capability {}", missing.join(", ")))
}

async fn run_sdk_scenario(scenario: &Scenario, driver: Arc<dyn Driver>) -> Outcome {
    let mut builder = MockServer::builder();
    if driver.hello().requires.iter().any(|r| r == "https") {
        builder = builder.tls_self_signed();
    }
    let server = match builder.start().await {
        Ok(server) => server,
        Err(e) => return setup_failure(format!("cannot start the mock server: {e}")),
    };
    let workdir = scratch_dir();
    if let Err(e) = std::fs::create_dir_all(&workdir) {
        return setup_failure(format!("cannot create {}: {e}", workdir.display()));
    }
    let mut world = World::new(
        server.url().to_owned(),
        server.control().clone(),
        Some(driver.clone()),
        workdir.clone(),
    )
    .trusting(server.tls());
    let outcome = run_steps(scenario, &mut world).await;
    drop(world);
    let _forgotten = driver.call(MAIN_CLIENT.to_owned(), Op::Reset).await;
    let _removed = std::fs::remove_dir_all(&workdir);
    server.shutdown().await;
    outcome
}

async fn run_server_scenario(scenario: &Scenario, target: &ServerTarget) -> Outcome {
    let (server, base_url, control, tls) = match target {
        ServerTarget::FreshMock => match MockServer::start().await {
            Ok(server) => {
                let (url, control) = (server.url().to_owned(), server.control().clone());
                (Some(server), url, control, None)
            }
            Err(e) => return setup_failure(format!("cannot start the mock server: {e}")),
        },
        ServerTarget::Remote {
            base_url,
            control,
            tls,
        } => {
            if let Err(e) = control.reset().await {
                return setup_failure(format!(
                    "cannot reset the server through its control API: {e}"
                ));
            }
            (None, base_url.clone(), control.clone(), tls.as_ref())
        }
    };
    let mut world = World::new(base_url, control, None, scratch_dir()).trusting(tls);
    let outcome = run_steps(scenario, &mut world).await;
    if let Some(server) = server {
        server.shutdown().await;
    }
    outcome
}

async fn run_steps(scenario: &Scenario, world: &mut World) -> Outcome {
    for step in &scenario.steps {
        let result = tokio::time::timeout(STEP_TIMEOUT, steps::run(world, step))
            .await
            .unwrap_or_else(|_| {
                Err(StepError::failed(format!(
                    "the step took longer than {} s",
                    STEP_TIMEOUT.as_secs()
                )))
            });
        match result {
            Ok(()) => {}
            Err(StepError::Failed(message)) => {
                return Outcome::Failed {
                    step: step.text.clone(),
                    message,
                };
            }
            Err(StepError::Skipped(reason)) => return Outcome::Skipped { reason },
            Err(StepError::Undefined) => {
                return Outcome::Failed {
                    step: step.text.clone(),
                    message: format!(
                        "undefined step (no definition matches; see {})",
                        scenario.location
                    ),
                };
            }
        }
    }
    Outcome::Passed
}

fn setup_failure(message: String) -> Outcome {
    Outcome::Failed {
        step: "(setup)".to_owned(),
        message,
    }
}

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "prelude-conformance-{}-{}",
        std::process::id(),
        crate::random_hex(8)
    ))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
