//! JUnit XML, the format CI systems display, written with `quick-junit` (nextest's model):
//! one `<testsuite>` per feature, one `<testcase>` per scenario.
//!
//! - failed and unexpected pass: `<failure>` with the step (or reason) and the message; a
//!   failure's journal excerpt and adapter stderr in `<system-out>`;
//! - skipped: `<skipped>` with the reason;
//! - expected failure: a passing case with the reason and failure in `<system-out>`, so it
//!   shows without failing the build;
//! - flaky: a passing case with the failed attempt as a `<flakyFailure>`.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::{Outcome, RunReport, ScenarioResult};

/// The report as JUnit XML.
pub fn junit(report: &RunReport) -> String {
    let mut features: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for s in &report.scenarios {
        features.entry(&s.feature).or_default().push(s);
    }
    let mut xml = Report::new(format!("{} {}", report.sdk.name, report.sdk.version).trim());
    xml.set_time(Duration::from_millis(report.duration_ms));
    for (feature, scenarios) in features {
        let mut suite = TestSuite::new(feature);
        suite.set_time(Duration::from_millis(
            scenarios.iter().map(|s| s.duration_ms).sum(),
        ));
        suite.add_test_cases(scenarios.into_iter().map(|s| case(feature, s)));
        xml.add_test_suite(suite);
    }
    // Serializing an in-memory report only fails on I/O, which a String cannot have.
    xml.to_string().unwrap_or_default()
}

fn case(feature: &str, s: &ScenarioResult) -> TestCase {
    let status = match &s.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Failed { step, message } => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(format!("step: {step}"))
                .set_description(message.as_str());
            status
        }
        Outcome::UnexpectedPass { reason } => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message("passed, but listed as an expected failure")
                .set_description(reason.as_str());
            status
        }
        Outcome::Skipped { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            status
        }
        Outcome::ExpectedFailure { .. } => TestCaseStatus::success(),
        Outcome::Flaky { step, message, .. } => {
            let mut rerun = TestRerun::new(NonSuccessKind::Failure);
            rerun
                .set_message(format!("step: {step}"))
                .set_description(message.as_str());
            let mut status = TestCaseStatus::success();
            status.add_rerun(rerun);
            status
        }
    };
    let mut case = TestCase::new(s.name.as_str(), status);
    case.set_classname(feature)
        .set_time(Duration::from_millis(s.duration_ms));
    if let (Outcome::Failed { .. }, Some(diagnostics)) = (&s.outcome, &s.diagnostics) {
        // CI systems show a failure's output beside it: the journal excerpt belongs there.
        case.set_system_out(diagnostics.compact());
    }
    if let Outcome::ExpectedFailure {
        reason,
        step,
        message,
    } = &s.outcome
    {
        case.set_system_out(format!(
            "expected failure: {reason}\nstep: {step}\n{message}"
        ));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SdkInfo;

    fn result(name: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            id: format!("f: {name}"),
            feature: "f".into(),
            name: name.into(),
            level: "must".into(),
            sources: Vec::new(),
            needs: Vec::new(),
            outcome,
            duration_ms: 5,
            steps: Vec::new(),
            diagnostics: None,
        }
    }

    #[test]
    fn every_outcome_maps_to_its_junit_form() {
        let sdk = SdkInfo {
            name: "sdk".into(),
            version: "1".into(),
            language: "rust".into(),
        };
        let report = RunReport::new(
            sdk,
            "sdk",
            0,
            10,
            vec![
                result("pass", Outcome::Passed),
                result(
                    "fail <&>",
                    Outcome::Failed {
                        step: "the call succeeds".into(),
                        message: "got \"x\"\u{1}".into(),
                    },
                ),
                result(
                    "skip",
                    Outcome::Skipped {
                        reason: "no capability".into(),
                    },
                ),
                result(
                    "flaky",
                    Outcome::Flaky {
                        attempts: 2,
                        step: "s".into(),
                        message: "m".into(),
                    },
                ),
            ],
        );
        let xml = junit(&report);
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(xml.contains(r#"skipped="1""#), "{xml}");
        assert!(xml.contains("fail &lt;&amp;&gt;"), "{xml}");
        assert!(
            xml.contains(r#"<skipped message="no capability"/>"#),
            "{xml}"
        );
        assert!(xml.contains("<flakyFailure"), "{xml}");
        assert!(
            !xml.contains('\u{1}'),
            "control characters are dropped: {xml}"
        );
    }
}
