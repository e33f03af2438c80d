//! Every conformance outcome the writer decides, from cucumber's events: passed, failed with
//! a message, skipped with a reason (an op the SDK does not support; a capability it lacks),
//! expected failure, unexpected pass, flaky, undefined and ambiguous steps, and fail-fast.
//! The steps here exist only in this test binary (cucumber collects them with the library's).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use prelude_conformance::{
    Drivers, ExpectedFailures, Outcome, StepError, StepResult, Suite, World, then,
};

const FEATURE: &str = r#"
Feature: Outcomes
  Scenario: passes
    Given a mock Prelude server

  Scenario: fails with a message
    Then the test step fails with "boom"

  Scenario: the SDK does not support an op
    Then the test step is unsupported

  Scenario: expected to fail
    Then the test step fails with "known"

  Scenario: expected to fail but passes
    Given a mock Prelude server

  Scenario: flaky
    Then the test step fails the first time

  Scenario: undefined step
    Then nobody defined this step

  Scenario: ambiguous step
    Then the test step is ambiguous

  @needs-teleport
  Scenario: needs a capability
    Given a mock Prelude server
"#;

#[then(regex = r#"^the test step fails with "([a-z]+)"$"#)]
async fn fails_with(_w: &mut World, message: String) -> StepResult {
    Err(StepError::failed(message))
}

#[then(regex = r"^the test step is unsupported$")]
async fn unsupported(_w: &mut World) -> StepResult {
    Err(StepError::Skipped(
        "the SDK does not support `teleport`".into(),
    ))
}

static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

/// Only the `flaky` scenario uses it, and only one test runs that scenario.
#[then(regex = r"^the test step fails the first time$")]
async fn fails_the_first_time(_w: &mut World) -> StepResult {
    if ATTEMPTS.fetch_add(1, Ordering::SeqCst) == 0 {
        Err(StepError::failed("first attempt fails"))
    } else {
        Ok(())
    }
}

#[then(regex = r"^the test step is ambiguous$")]
async fn ambiguous_one(_w: &mut World) {}

#[then(regex = r"^the test step is (?:ambiguous|vague)$")]
async fn ambiguous_two(_w: &mut World) {}

/// The feature in a directory of the test's own (tests run in parallel threads).
fn features(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("outcomes-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("outcomes.feature"), FEATURE).expect("feature");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_is_reported_with_its_reason() {
    let expected = ExpectedFailures::parse(
        r#"
"outcomes: expected to fail" = "a known bug"
"outcomes: expected to fail but passes" = "a fixed bug"
"#,
    )
    .expect("toml");
    let suite = Suite::load(&features("each"))
        .expect("features")
        .expected_failures(expected)
        .expect("known ids")
        .retries(1)
        .jobs(3);
    let report = suite.run_sdk(Drivers::in_process()).await;
    println!("{}", report.console());
    let outcome = |name: &str| {
        report
            .scenarios
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.outcome.clone())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(outcome("passes"), Outcome::Passed);
    assert_eq!(
        outcome("fails with a message"),
        Outcome::Failed {
            step: "the test step fails with \"boom\"".into(),
            message: "boom".into()
        }
    );
    assert_eq!(
        outcome("the SDK does not support an op"),
        Outcome::Skipped {
            reason: "the SDK does not support `teleport`".into()
        }
    );
    assert!(matches!(
        outcome("expected to fail"),
        Outcome::ExpectedFailure { reason, message, .. } if reason == "a known bug" && message == "known"
    ));
    assert_eq!(
        outcome("expected to fail but passes"),
        Outcome::UnexpectedPass {
            reason: "a fixed bug".into()
        }
    );
    assert_eq!(
        outcome("flaky"),
        Outcome::Flaky {
            attempts: 2,
            step: "the test step fails the first time".into(),
            message: "first attempt fails".into()
        }
    );
    assert!(
        matches!(outcome("undefined step"), Outcome::Failed { message, .. } if message.contains("undefined step"))
    );
    assert!(
        matches!(outcome("ambiguous step"), Outcome::Failed { message, .. } if message.contains("ambiguous"))
    );
    assert!(matches!(
        outcome("needs a capability"),
        Outcome::Skipped { reason } if reason.contains("teleport")
    ));
    let s = report.summary;
    assert_eq!(
        (
            s.passed,
            s.failed,
            s.skipped,
            s.expected_failures,
            s.unexpected_passes,
            s.flaky
        ),
        (1, 3, 2, 1, 1, 1)
    );
    assert!(!report.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_starts_nothing_after_the_first_unexpected_failure() {
    let suite = Suite::load(&features("fail-fast"))
        .expect("features")
        .select(
            prelude_conformance::Filter::all()
                .name("^(passes|fails with a message|undefined step)$")
                .expect("regex"),
        )
        .fail_fast(true)
        .jobs(1);
    let report = suite.run_sdk(Drivers::in_process()).await;
    println!("{}", report.console());
    let by_name: HashMap<&str, &Outcome> = report
        .scenarios
        .iter()
        .map(|s| (s.name.as_str(), &s.outcome))
        .collect();
    assert_eq!(by_name["passes"], &Outcome::Passed);
    assert!(matches!(
        by_name["fails with a message"],
        Outcome::Failed { .. }
    ));
    assert!(
        matches!(by_name["undefined step"], Outcome::Skipped { reason } if reason.contains("--fail-fast")),
        "{:?}",
        by_name["undefined step"]
    );
}
