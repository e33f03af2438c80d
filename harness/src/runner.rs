//! Runs scenarios on cucumber-rs: one fresh mock server (random port), scratch directory and
//! driver per scenario (the `before` hook), handed back by the `after` hook. Scenarios whose
//! capabilities the SDK lacks are skipped before the run; the rest go to cucumber with the
//! selection, `--jobs`, `--retry` and `--fail-fast` applied, and the conformance writer
//! turns its events into the [`RunReport`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cucumber::event::Retries;
use cucumber::runner::basic::RetryOptions;
use cucumber::{World as _, gherkin};
use futures_util::FutureExt;
use prelude_mock_server::{ControlClient, MockServer};

use crate::driver::Drivers;
use crate::error::{Error, ErrorKind};
use crate::expectations::ExpectedFailures;
use crate::features::{self, Filter, Parsed, Scenario, id_of};
use crate::protocol::{Hello, SdkInfo};
use crate::report::{Outcome, RunReport, ScenarioResult};
use crate::world::World;
use crate::writer::{self, Conformance, Evidence, NotRun};

/// Which server a server-side run attacks.
#[derive(Debug)]
pub enum ServerTarget {
    /// A fresh in-process mock server per scenario.
    FreshMock,
    /// A running server with the control API; reset before each scenario (so scenarios
    /// run one at a time).
    Remote {
        /// Base URL (without `/v1/session`).
        base_url: String,
        /// Its control API.
        control: ControlClient,
        /// Its certificate, when it is self-signed.
        tls: Option<prelude_mock_server::TlsInfo>,
    },
}

/// A set of scenarios, how to run them, and the failures expected of the SDK under test.
///
/// ```no_run
/// # async fn run() -> Result<(), prelude_conformance::Error> {
/// use prelude_conformance::{Drivers, Filter, Suite};
///
/// let suite = Suite::bundled()?
///     .select(Filter::all().tags("@must and not @needs-multi_process")?)
///     .jobs(4);
/// let report = suite.run_sdk(Drivers::in_process()).await;
/// println!("{}", report.console());
/// assert!(report.is_success());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Suite {
    features: Vec<gherkin::Feature>,
    catalogue: Vec<Scenario>,
    filter: Filter,
    expected: ExpectedFailures,
    jobs: usize,
    retries: usize,
    fail_fast: bool,
    progress: bool,
}

impl Suite {
    /// Every scenario of the suite: the `.feature` files built into this crate.
    pub fn bundled() -> Result<Self, Error> {
        Ok(Self::new(features::load_bundled()?))
    }

    /// Every scenario in the `.feature` files of `dir` (your own, or an edited copy).
    pub fn load(dir: &Path) -> Result<Self, Error> {
        Ok(Self::new(features::load_dir(dir)?))
    }

    fn new(features: Vec<gherkin::Feature>) -> Self {
        Self {
            catalogue: features::catalogue(&features),
            features,
            filter: Filter::all(),
            expected: ExpectedFailures::none(),
            jobs: 1,
            retries: 0,
            fail_fast: false,
            progress: false,
        }
    }

    /// Runs only the scenarios `filter` selects.
    #[must_use]
    pub fn select(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Sets the failures expected of the SDK under test. An entry naming no scenario of the
    /// loaded features is an error: the list would be stale or mistyped.
    pub fn expected_failures(mut self, expected: ExpectedFailures) -> Result<Self, Error> {
        let known: HashSet<&str> = self.catalogue.iter().map(|s| s.id.as_str()).collect();
        let unknown: Vec<&str> = expected.ids().filter(|id| !known.contains(id)).collect();
        if !unknown.is_empty() {
            return Err(Error::new(
                ErrorKind::ExpectedFailures,
                format!("expected failures name no scenario: {}", unknown.join("; ")),
            ));
        }
        self.expected = expected;
        Ok(self)
    }

    /// Runs up to `n` scenarios at once (default 1). Each has its own server and driver;
    /// adapter runs are also bounded by the number of adapter copies.
    #[must_use]
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = n.max(1);
        self
    }

    /// Runs a failed scenario up to `n` more times; one that then passes is reported as
    /// flaky. Scenarios listed as expected failures are not retried.
    #[must_use]
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = n;
        self
    }

    /// Stops starting scenarios after the first unexpected failure.
    #[must_use]
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.fail_fast = on;
        self
    }

    /// Prints each scenario's result to stderr as it ends.
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Every loaded scenario, selected or not.
    pub fn catalogue(&self) -> &[Scenario] {
        &self.catalogue
    }

    /// What an SDK run would do with each selected SDK scenario: `None` runs it, `Some`
    /// says why it is skipped (a capability `hello` did not declare).
    pub fn plan_sdk(&self, hello: &Hello) -> Vec<(&Scenario, Option<String>)> {
        self.selected(false)
            .map(|s| (s, missing_capability(s, hello)))
            .collect()
    }

    /// The server scenarios a server run would run.
    pub fn plan_server(&self) -> Vec<&Scenario> {
        self.selected(true).collect()
    }

    fn selected(&self, server: bool) -> impl Iterator<Item = &Scenario> {
        self.catalogue
            .iter()
            .filter(move |s| s.is_server_side() == server && self.filter.matches(s))
    }

    /// Runs the SDK scenarios (all but `@server`), each with a driver from `drivers`.
    pub async fn run_sdk(&self, drivers: Drivers) -> RunReport {
        let started = Instant::now();
        let hello = drivers.hello().clone();
        let mut skipped = Vec::new();
        let mut run = HashSet::new();
        for (scenario, skip) in self.plan_sdk(&hello) {
            match skip {
                Some(reason) => {
                    skipped.push(writer::result(scenario, Outcome::Skipped { reason }, 0));
                }
                None => {
                    run.insert(scenario.id.clone());
                }
            }
        }
        let tls = hello.requires.iter().any(|r| r == "https");
        let jobs = drivers.capacity().map_or(self.jobs, |c| self.jobs.min(c));
        let target = Target::Sdk { drivers, tls };
        let results = self.run(target, run, jobs, skipped).await;
        RunReport::new(hello.sdk, "sdk", unix_now(), elapsed_ms(started), results)
    }

    /// Runs the `@server` scenarios against `target`.
    pub async fn run_server(&self, target: ServerTarget) -> RunReport {
        let started = Instant::now();
        let name = match &target {
            ServerTarget::FreshMock => "prelude-mock-server".to_owned(),
            ServerTarget::Remote { base_url, .. } => base_url.clone(),
        };
        let run = self
            .plan_server()
            .into_iter()
            .map(|s| s.id.clone())
            .collect();
        // A remote server is one shared server, reset before each scenario.
        let jobs = match target {
            ServerTarget::FreshMock => self.jobs,
            ServerTarget::Remote { .. } => 1,
        };
        let results = self
            .run(Target::Server(target), run, jobs, Vec::new())
            .await;
        let sdk = SdkInfo {
            name,
            version: String::new(),
            language: "server".to_owned(),
        };
        RunReport::new(sdk, "server", unix_now(), elapsed_ms(started), results)
    }

    async fn run(
        &self,
        target: Target,
        run: HashSet<String>,
        jobs: usize,
        mut results: Vec<ScenarioResult>,
    ) -> Vec<ScenarioResult> {
        let catalogue: Arc<HashMap<String, Scenario>> = Arc::new(
            self.catalogue
                .iter()
                .map(|s| (s.id.clone(), s.clone()))
                .collect(),
        );
        if self.progress {
            for r in &results {
                eprint!("{} {}\n{}", r.outcome.mark(), r.id, r.outcome.details());
            }
        }
        let stop = self.fail_fast.then(|| Arc::new(AtomicBool::new(false)));
        let evidence = Evidence::default();
        let writer = Conformance::new(
            catalogue,
            self.expected.clone(),
            stop.clone(),
            evidence.clone(),
            run.len(),
            self.progress,
        );
        let features = features::select(&self.features, |id| run.contains(id));
        let context = Rc::new(Context { target, stop });
        let retries = self.retries;
        let expected = self.expected.clone();
        let before = context;
        let writer = World::cucumber::<PathBuf>()
            .with_parser(Parsed)
            .with_writer(writer)
            .max_concurrent_scenarios(jobs)
            .retry_options(move |feature, _rule, scenario, _cli| {
                (retries > 0 && expected.reason(&id_of(feature, scenario)).is_none()).then(|| {
                    RetryOptions {
                        retries: Retries::initial(retries),
                        after: None,
                    }
                })
            })
            .before(move |_feature, _rule, _scenario, world| {
                let context = before.clone();
                async move { context.prepare(world).await }.boxed_local()
            })
            .after(move |feature, _rule, scenario, _finished, world| {
                let id = id_of(feature, scenario);
                let evidence = evidence.clone();
                async move {
                    if let Some(world) = world {
                        let diagnostics = world.gather_diagnostics().await;
                        evidence
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id, diagnostics);
                        world.teardown().await;
                    }
                }
                .boxed_local()
            })
            .with_default_cli()
            .run(features)
            .await;
        results.extend(writer.into_results());
        let order: HashMap<&str, usize> = self
            .catalogue
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        results.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
        results
    }
}

/// What a run's scenarios are pointed at.
enum Target {
    Sdk { drivers: Drivers, tls: bool },
    Server(ServerTarget),
}

/// What the hooks share.
struct Context {
    target: Target,
    stop: Option<Arc<AtomicBool>>,
}

impl Context {
    /// Gives `world` its server, scratch directory and driver. A panic here fails the
    /// scenario at "(setup)" with the panic's message.
    async fn prepare(&self, world: &mut World) {
        // Let the writer see the events of scenarios that just finished before deciding.
        tokio::task::yield_now().await;
        if self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            std::panic::panic_any(NotRun);
        }
        match &self.target {
            Target::Sdk { drivers, tls } => {
                let mut builder = MockServer::builder();
                if *tls {
                    builder = builder.tls_self_signed();
                }
                let server = start(builder).await;
                let workdir = scratch_dir();
                if let Err(e) = std::fs::create_dir_all(&workdir) {
                    panic!("cannot create {}: {e}", workdir.display());
                }
                world.target(
                    server.url().to_owned(),
                    server.control().clone(),
                    server.tls(),
                );
                world.server = Some(server);
                world.workdir = workdir;
                world.driver = Some(drivers.lend().await);
            }
            Target::Server(ServerTarget::FreshMock) => {
                let server = start(MockServer::builder()).await;
                world.target(server.url().to_owned(), server.control().clone(), None);
                world.server = Some(server);
            }
            Target::Server(ServerTarget::Remote {
                base_url,
                control,
                tls,
            }) => {
                if let Err(e) = control.reset().await {
                    panic!("cannot reset the server through its control API: {e}");
                }
                world.target(base_url.clone(), control.clone(), tls.as_ref());
            }
        }
    }
}

async fn start(builder: prelude_mock_server::MockServerBuilder) -> MockServer {
    match builder.start().await {
        Ok(server) => server,
        Err(e) => panic!("cannot start the mock server: {e}"),
    }
}

fn missing_capability(scenario: &Scenario, hello: &Hello) -> Option<String> {
    let missing: Vec<&str> = scenario.needs().filter(|c| !hello.supports(c)).collect();
    (!missing.is_empty()).then(|| format!("the SDK lacks capability {}", missing.join(", ")))
}

pub(crate) fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "prelude-conformance-{}-{}",
        std::process::id(),
        crate::random_hex(8)
    ))
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
