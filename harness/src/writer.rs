//! The conformance writer: cucumber's events in, conformance outcomes out.
//!
//! Cucumber knows passed, failed and skipped steps; a conformance run needs more. This writer
//! follows every scenario through its attempts and decides its [`Outcome`]:
//!
//! - a step that failed with a [skip](crate::StepError::Skipped) (an op the SDK answered
//!   `unsupported`) makes the scenario *skipped*, with the reason;
//! - an undefined or ambiguous step, or a failed `before` hook, is a failure;
//! - a scenario that failed, then passed on a retry, is *flaky* (never a silent pass);
//! - the expected-failures file turns a failure into an *expected failure* and a pass into
//!   an *unexpected pass*;
//! - with fail-fast, the first unexpected failure stops scenarios that have not started.
//!
//! It prints one progress line per finished scenario (`[n/N]`) and keeps every result for the
//! [`RunReport`](crate::RunReport).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use cucumber::event::{self, HookType, Retries};
use cucumber::{Event, Writer, parser};

use crate::expectations::ExpectedFailures;
use crate::features::{Scenario, id_of};
use crate::report::{Diagnostics, Outcome, ScenarioResult, StepRecord, StepStatus};
use crate::steps::SKIP_MARK;
use crate::world::World;

/// What the `before` hook panics with when fail-fast has stopped the run.
pub(crate) struct NotRun;

/// Scenarios that did not start because `--fail-fast` stopped the run report this.
const NOT_RUN: &str = "not run: --fail-fast stopped the run after an unexpected failure";

/// Collects outcomes; see the module docs.
pub(crate) struct Conformance {
    catalogue: Arc<HashMap<String, Scenario>>,
    expected: ExpectedFailures,
    /// Set on the first unexpected failure when fail-fast is on.
    stop: Option<Arc<AtomicBool>>,
    running: HashMap<String, Attempts>,
    evidence: Evidence,
    results: Vec<ScenarioResult>,
    total: usize,
    progress: bool,
}

/// One scenario's attempts so far.
struct Attempts {
    began: Instant,
    /// The current attempt's failure: step text and message.
    failure: Option<(String, String)>,
    /// Whether cucumber will retry the current attempt's failure (a failed step or hook, not
    /// an undefined step).
    retryable: bool,
    /// The first failed attempt's failure, once an attempt failed and was retried.
    first_failure: Option<(String, String)>,
    /// The current attempt's steps, and when the running one started.
    steps: Vec<StepRecord>,
    step_began: Instant,
    /// When the last step or hook of the current attempt ended: the scenario's time ends
    /// there, so the teardown (an adapter's reset, a server stopping) is not counted in it.
    ended: Option<Instant>,
    attempts: usize,
}

/// What the runner's `after` hook leaves for the writer, per scenario id: the journal and the
/// adapter's stderr of its last attempt. (Cucumber's `Finished` event carries no world.)
pub(crate) type Evidence = Arc<std::sync::Mutex<HashMap<String, Diagnostics>>>;

impl Conformance {
    pub(crate) fn new(
        catalogue: Arc<HashMap<String, Scenario>>,
        expected: ExpectedFailures,
        stop: Option<Arc<AtomicBool>>,
        evidence: Evidence,
        total: usize,
        progress: bool,
    ) -> Self {
        Self {
            catalogue,
            expected,
            stop,
            running: HashMap::new(),
            evidence,
            results: Vec::new(),
            total,
            progress,
        }
    }

    /// Every finished scenario's result, in completion order.
    pub(crate) fn into_results(self) -> Vec<ScenarioResult> {
        self.results
    }

    fn scenario(
        &mut self,
        id: String,
        steps: impl FnOnce() -> Vec<StepRecord>,
        event: event::Scenario<World>,
        retries: Option<Retries>,
    ) {
        match event {
            event::Scenario::Started => {
                let attempts = self.running.entry(id).or_insert_with(|| Attempts {
                    began: Instant::now(),
                    failure: None,
                    retryable: false,
                    first_failure: None,
                    steps: Vec::new(),
                    step_began: Instant::now(),
                    ended: None,
                    attempts: 0,
                });
                attempts.attempts += 1;
                attempts.steps = steps();
            }
            event::Scenario::Background(_, event::Step::Started)
            | event::Scenario::Step(_, event::Step::Started) => {
                if let Some(attempts) = self.running.get_mut(&id) {
                    attempts.step_began = Instant::now();
                }
            }
            event::Scenario::Background(step, event::Step::Passed(..))
            | event::Scenario::Step(step, event::Step::Passed(..)) => {
                if let Some(attempts) = self.running.get_mut(&id) {
                    attempts.mark(&step.value, StepStatus::Passed);
                }
            }
            event::Scenario::Hook(kind, event::Hook::Failed(_, info)) => {
                let step = match kind {
                    HookType::Before => "(setup)",
                    HookType::After => "(teardown)",
                };
                let message = if info.downcast_ref::<NotRun>().is_some() {
                    format!("{SKIP_MARK}{NOT_RUN}")
                } else {
                    panic_text(&info)
                };
                self.fail(&id, step, message, true);
                if let Some(attempts) = self.running.get_mut(&id) {
                    attempts.ended = Some(Instant::now());
                }
            }
            event::Scenario::Background(step, event::Step::Failed(_, _, _, error))
            | event::Scenario::Step(step, event::Step::Failed(_, _, _, error)) => {
                // Cucumber retries every failed step, an ambiguous one too.
                self.fail(&id, &step.value, step_error_text(&error), true);
                if let Some(attempts) = self.running.get_mut(&id) {
                    attempts.mark(&step.value, StepStatus::Failed);
                }
            }
            event::Scenario::Background(step, event::Step::Skipped)
            | event::Scenario::Step(step, event::Step::Skipped) => {
                let message = "undefined step: no step definition matches it".to_owned();
                self.fail(&id, &step.value, message, false);
                if let Some(attempts) = self.running.get_mut(&id) {
                    attempts.mark(&step.value, StepStatus::Undefined);
                }
            }
            event::Scenario::Finished => self.finish(id, retries),
            _ => {}
        }
    }

    fn fail(&mut self, id: &str, step: &str, message: String, retryable: bool) {
        if let Some(attempts) = self.running.get_mut(id)
            && attempts.failure.is_none()
        {
            attempts.failure = Some((step.to_owned(), message));
            attempts.retryable = retryable;
        }
    }

    fn finish(&mut self, id: String, retries: Option<Retries>) {
        let Some(attempts) = self.running.get_mut(&id) else {
            return;
        };
        let will_retry = attempts.retryable && retries.is_some_and(|r| r.left > 0);
        if will_retry && let Some(failure) = attempts.failure.take() {
            // Cucumber runs the scenario again; only the first failure is kept.
            attempts.first_failure.get_or_insert(failure);
            return;
        }
        let Some(attempts) = self.running.remove(&id) else {
            return;
        };
        let diagnostics = self
            .evidence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let outcome = match (attempts.failure, attempts.first_failure) {
            (Some((_, message)), _) if message.starts_with(SKIP_MARK) => Outcome::Skipped {
                reason: message[SKIP_MARK.len()..].to_owned(),
            },
            (Some((step, message)), _) => Outcome::Failed { step, message },
            (None, Some((step, message))) => Outcome::Flaky {
                attempts: attempts.attempts,
                step,
                message,
            },
            (None, None) => Outcome::Passed,
        };
        let outcome = judge(outcome, self.expected.reason(&id));
        if outcome.is_unexpected()
            && let Some(stop) = &self.stop
        {
            stop.store(true, Ordering::SeqCst);
        }
        let ended = attempts.ended.unwrap_or_else(Instant::now);
        let duration_ms = u64::try_from((ended - attempts.began).as_millis()).unwrap_or(u64::MAX);
        let mut result = match self.catalogue.get(&id) {
            Some(scenario) => result(scenario, outcome, duration_ms),
            None => ScenarioResult {
                id: id.clone(),
                feature: String::new(),
                name: id,
                level: "unspecified".to_owned(),
                sources: Vec::new(),
                needs: Vec::new(),
                outcome,
                duration_ms,
                steps: Vec::new(),
                diagnostics: None,
            },
        };
        result.steps = attempts.steps;
        result.diagnostics = diagnostics;
        if self.progress {
            eprint!(
                "[{}/{}] {}",
                self.results.len() + 1,
                self.total,
                result.console()
            );
        }
        self.results.push(result);
    }
}

/// Applies the expected-failures file to a raw outcome.
fn judge(outcome: Outcome, expected: Option<&str>) -> Outcome {
    match (outcome, expected) {
        (Outcome::Passed | Outcome::Flaky { .. }, Some(reason)) => Outcome::UnexpectedPass {
            reason: reason.to_owned(),
        },
        (Outcome::Failed { step, message }, Some(reason)) => Outcome::ExpectedFailure {
            reason: reason.to_owned(),
            step,
            message,
        },
        (outcome, _) => outcome,
    }
}

/// The report line of a catalogued scenario.
pub(crate) fn result(scenario: &Scenario, outcome: Outcome, duration_ms: u64) -> ScenarioResult {
    ScenarioResult {
        id: scenario.id.clone(),
        feature: scenario.feature.clone(),
        name: scenario.name.clone(),
        level: scenario.level().to_owned(),
        sources: scenario.sources(),
        needs: scenario.needs().map(str::to_owned).collect(),
        outcome,
        duration_ms,
        steps: Vec::new(),
        diagnostics: None,
    }
}

impl Attempts {
    /// Records how a step ended. Steps are told apart by text, the first one not yet
    /// finished, so a repeated sentence marks its own line.
    fn mark(&mut self, text: &str, status: StepStatus) {
        let Some(step) = self
            .steps
            .iter_mut()
            .find(|s| s.text == text && s.duration_ms.is_none())
        else {
            return;
        };
        step.status = status;
        step.duration_ms =
            Some(u64::try_from(self.step_began.elapsed().as_millis()).unwrap_or(u64::MAX));
        self.ended = Some(Instant::now());
    }
}

/// A scenario's steps before it runs: the feature's and the rule's background, then its own,
/// all not run yet.
fn planned_steps(
    feature: &cucumber::gherkin::Feature,
    rule: Option<&cucumber::gherkin::Rule>,
    scenario: &cucumber::gherkin::Scenario,
) -> Vec<StepRecord> {
    let background =
        |b: Option<&cucumber::gherkin::Background>| b.map(|b| b.steps.clone()).unwrap_or_default();
    background(feature.background.as_ref())
        .into_iter()
        .chain(background(rule.and_then(|r| r.background.as_ref())))
        .chain(scenario.steps.iter().cloned())
        .map(|step| StepRecord {
            keyword: step.keyword.trim().to_owned(),
            text: step.value,
            status: StepStatus::NotRun,
            duration_ms: None,
        })
        .collect()
}

fn step_error_text(error: &event::StepError) -> String {
    match error {
        event::StepError::Panic(info) => panic_text(info),
        event::StepError::AmbiguousMatch(e) => format!("ambiguous step: {e}"),
        other => other.to_string(),
    }
}

fn panic_text(info: &event::Info) -> String {
    info.downcast_ref::<String>()
        .cloned()
        .or_else(|| info.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "the step panicked".to_owned())
}

impl Writer<World> for Conformance {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(
        &mut self,
        event: parser::Result<Event<event::Cucumber<World>>>,
        _cli: &Self::Cli,
    ) {
        let Ok(event) = event else {
            // The features were parsed before the run; cucumber parses nothing itself.
            return;
        };
        let (feature, rule, scenario, retryable) = match event.value {
            event::Cucumber::Feature(feature, event::Feature::Scenario(scenario, retryable)) => {
                (feature, None, scenario, retryable)
            }
            event::Cucumber::Feature(
                feature,
                event::Feature::Rule(rule, event::Rule::Scenario(scenario, retryable)),
            ) => (feature, Some(rule), scenario, retryable),
            _ => return,
        };
        let event::RetryableScenario { event, retries } = retryable;
        let id = id_of(&feature, &scenario);
        let steps = || planned_steps(&feature, rule.as_deref(), &scenario);
        self.scenario(id, steps, event, retries);
    }
}

impl cucumber::writer::Normalized for Conformance {}
