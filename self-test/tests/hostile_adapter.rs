//! The suite against a broken or hostile adapter (`hostile-adapter`): it ends within its
//! timeouts, keeps every other scenario's own verdict, bounds and escapes what the adapter
//! prints, and writes its reports.
//!
//! Each run has two scenarios: the adapter misbehaves in the first (once: `--once` marks
//! it), and the second must keep its own verdict.

use std::path::{Path, PathBuf};
use std::time::Duration;

use prelude_conformance::{Drivers, Outcome, RunReport, Suite};

const FEATURE: &str = "Feature: Hostile
  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  Scenario: First
    When 3000 callers refresh at once
    Then all 3000 callers succeed

  Scenario: Second
    When the client logs out
    Then the call succeeds
    And the client stores no credentials
";

/// Far beyond what a run needs (the call timeout is 30 s): it only keeps a hang from
/// hanging the test.
const HANG_GUARD: Duration = Duration::from_secs(180);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hostile-{}-{name}", std::process::id()));
    let _fresh = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("features")).expect("scratch dir");
    std::fs::write(dir.join("features/hostile.feature"), FEATURE).expect("feature");
    dir
}

/// Runs both scenarios against `hostile-adapter --behaviour <behaviour> <extra>`.
async fn run(dir: &Path, behaviour: &str, extra: &str) -> RunReport {
    // `exec`: the adapter itself holds the pipes, as an adapter that is no shell script does.
    let command = format!(
        "exec {} --behaviour {behaviour} --once {} {extra}",
        env!("CARGO_BIN_EXE_hostile-adapter"),
        dir.join("fired").display()
    );
    let suite = Suite::load(&dir.join("features")).expect("features");
    let drivers = Drivers::adapters(&command, 1)
        .await
        .expect("adapter starts");
    tokio::time::timeout(HANG_GUARD, suite.run_sdk(drivers))
        .await
        .expect("the run ends within its timeouts")
}

fn outcome<'a>(report: &'a RunReport, name: &str) -> &'a Outcome {
    &report
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} reported"))
        .outcome
}

/// The first scenario's failure message; the second must have passed, whatever the first did.
fn first_failed_second_passed(report: &RunReport) -> &str {
    assert_eq!(
        outcome(report, "Second"),
        &Outcome::Passed,
        "the second scenario keeps its own verdict: {}",
        report.console()
    );
    match outcome(report, "First") {
        Outcome::Failed { message, .. } => message,
        other => panic!("the first scenario failed, not {other:?}"),
    }
}

fn stderr_of(report: &RunReport, name: &str) -> String {
    report
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.diagnostics.as_ref())
        .map(|d| d.adapter_stderr.join("\n"))
        .unwrap_or_default()
}

#[tokio::test]
async fn an_adapter_that_stops_reading_during_a_burst_fails_that_scenario_and_the_run_goes_on() {
    let dir = scratch("stops-reading");
    let report = run(&dir, "stops-reading", "").await;
    // Within the call timeout; the calls whose lines were sent wait for answers, the rest
    // for the pipe.
    let message = first_failed_second_passed(&report);
    assert!(
        message.contains("stopped reading its stdin") || message.contains("did not answer"),
        "{message}"
    );
    assert!(
        stderr_of(&report, "First").contains("killed the adapter")
            || stderr_of(&report, "Second").contains("started it again"),
        "the wedged adapter is replaced"
    );
    report.write(&dir, "run").expect("reports written");
}

#[tokio::test]
async fn an_adapter_that_exits_mid_scenario_is_started_again_for_the_next_one() {
    let dir = scratch("exits");
    let report = run(&dir, "exits-at-login", "").await;
    first_failed_second_passed(&report);
    assert!(
        stderr_of(&report, "Second").contains("started it again"),
        "the report says the adapter was restarted: {}",
        stderr_of(&report, "Second")
    );
}

#[tokio::test]
async fn calls_to_an_adapter_that_closed_its_stdout_fail_at_once() {
    let dir = scratch("closes-stdout");
    let report = run(&dir, "closes-stdout-at-login", "").await;
    // Not "did not answer within 30s": the login waits for its answer, which cannot come
    // once stdout closed; every call after it fails without waiting.
    let message = first_failed_second_passed(&report);
    assert!(
        message.contains("exited before answering") || message.contains("closed its stdout"),
        "{message}"
    );
}

#[tokio::test]
async fn invalid_utf8_from_an_adapter_fails_nothing_and_its_log_goes_on() {
    let dir = scratch("utf8");
    let report = run(&dir, "invalid-utf8", "").await;
    assert_eq!(report.summary.passed, 2, "{}", report.console());
    let stderr = stderr_of(&report, "First");
    assert!(
        stderr.contains("stderr \u{fffd}( not utf-8"),
        "the invalid line is kept, replaced: {stderr}"
    );
    assert!(
        stderr.contains("handled refresh"),
        "capture goes on after it: {stderr}"
    );
}

#[tokio::test]
async fn endless_lines_are_cut_and_the_reports_stay_small() {
    let dir = scratch("endless");
    let report = run(&dir, "endless-lines", "").await;
    assert_eq!(report.summary.passed, 2, "{}", report.console());
    let stderr = stderr_of(&report, "First");
    assert!(stderr.contains("more bytes cut"), "says what was cut");
    assert!(stderr.contains("after the endless line"), "{stderr:.300}");
    report.write(&dir, "run").expect("reports written");
    for file in ["run.json", "run.html", "run.junit.xml"] {
        let size = std::fs::metadata(dir.join(file)).expect("written").len();
        assert!(size < 2 << 20, "{file} is {size} bytes");
    }
}

#[tokio::test]
async fn terminal_control_bytes_from_an_adapter_never_reach_the_console_or_reports() {
    let dir = scratch("control-bytes");
    let report = run(&dir, "control-bytes", "").await;
    first_failed_second_passed(&report);
    let console = report.console();
    assert!(
        !console.contains('\u{1b}') && console.contains("\\u{1b}]0;pwned"),
        "escaped on the console: {console}"
    );
    report.write(&dir, "run").expect("reports written");
    for file in ["run.json", "run.html", "run.junit.xml"] {
        let bytes = std::fs::read(dir.join(file)).expect("written");
        assert!(!bytes.contains(&0x1b), "{file} holds a raw ESC");
    }
}

#[tokio::test]
async fn a_reset_that_never_answers_is_not_counted_in_the_scenario_before_it() {
    let dir = scratch("ignores-reset");
    let report = run(&dir, "ignores-reset", "").await;
    assert_eq!(report.summary.passed, 2, "{}", report.console());
    let first = report
        .scenarios
        .iter()
        .find(|s| s.name == "First")
        .expect("reported");
    // The reset after it waited the whole call timeout (30 s); its own steps took far less.
    assert!(
        first.duration_ms < 30_000,
        "First took {} ms with the reset's wait",
        first.duration_ms
    );
}

#[tokio::test]
async fn an_sdk_name_unfit_for_a_file_name_still_gets_its_reports() {
    let dir = scratch("names");
    for name in ["x".repeat(300), "漢字 🙂".to_owned()] {
        let report = run(&dir, "none", &format!("--name '{name}'")).await;
        assert_eq!(report.summary.passed, 2, "{}", report.console());
        let stem = report.file_stem();
        assert!(
            !stem.is_empty() && !stem.starts_with('.') && stem.len() <= 64,
            "{stem:?}"
        );
        report.write(&dir, &stem).expect("reports written");
        assert!(dir.join(format!("{stem}.json")).is_file());
    }
}
