//! Results of a run and the reports made from them: console text, JUnit XML, a JSON result
//! file per run (machine-comparable), a self-contained HTML page per run (steps and the
//! server's journal of every scenario), and a Markdown table or an HTML matrix comparing
//! several runs scenario by scenario.

mod compare;
mod diagnostics;
mod html;
mod junit;
mod timeline;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use compare::compare;
pub use diagnostics::Diagnostics;
pub use html::{compare_html, html};
pub use junit::junit;

use crate::error::{Error, ErrorKind};
use crate::protocol::SdkInfo;

/// How one scenario ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed.
    Passed,
    /// A step failed.
    Failed {
        /// The step's text.
        step: String,
        /// What went wrong.
        message: String,
    },
    /// Not run (a missing capability, an unsupported op).
    Skipped {
        /// Why.
        reason: String,
    },
    /// Failed, as the expected-failures file says it would.
    ExpectedFailure {
        /// The reason given in the file.
        reason: String,
        /// The failing step.
        step: String,
        /// What went wrong.
        message: String,
    },
    /// Listed as an expected failure but passed: the list is stale (counts as a failure).
    UnexpectedPass {
        /// The reason given in the file.
        reason: String,
    },
    /// Failed, then passed on a retry (`--retry`): not a failure, never a silent pass.
    Flaky {
        /// Runs it took, the passing one included.
        attempts: usize,
        /// The first failing step.
        step: String,
        /// What went wrong that time.
        message: String,
    },
}

impl Outcome {
    /// Short label: `passed`, `failed`, `skipped`, `expected failure`, `unexpected pass`,
    /// `flaky`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed { .. } => "failed",
            Self::Skipped { .. } => "skipped",
            Self::ExpectedFailure { .. } => "expected failure",
            Self::UnexpectedPass { .. } => "unexpected pass",
            Self::Flaky { .. } => "flaky",
        }
    }

    /// The console's five-column mark.
    pub fn mark(&self) -> &'static str {
        match self {
            Self::Passed => "ok   ",
            Self::Failed { .. } => "FAIL ",
            Self::Skipped { .. } => "skip ",
            Self::ExpectedFailure { .. } => "xfail",
            Self::UnexpectedPass { .. } => "XPASS",
            Self::Flaky { .. } => "flaky",
        }
    }

    /// The indented lines under a scenario's console line (empty for a pass).
    pub fn details(&self) -> String {
        match self {
            Self::Passed => String::new(),
            Self::Failed { step, message } => format!("       step: {step}\n       {message}\n"),
            Self::Skipped { reason } => format!("       {reason}\n"),
            Self::ExpectedFailure {
                reason,
                step,
                message,
            } => format!("       expected: {reason}\n       step: {step}\n       {message}\n"),
            Self::UnexpectedPass { reason } => {
                format!("       passed, but expected to fail: {reason}\n")
            }
            Self::Flaky {
                attempts,
                step,
                message,
            } => format!(
                "       passed on attempt {attempts}; first failed at step: {step}\n       {message}\n"
            ),
        }
    }

    /// Whether it should turn CI red.
    pub fn is_unexpected(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::UnexpectedPass { .. })
    }
}

/// One scenario's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// `<feature>: <scenario>`.
    pub id: String,
    /// Feature file stem.
    pub feature: String,
    /// Scenario name.
    pub name: String,
    /// `must`, `should`, `may` or `unspecified`.
    pub level: String,
    /// Source tags.
    pub sources: Vec<String>,
    /// Capabilities it needs.
    pub needs: Vec<String>,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Wall time.
    pub duration_ms: u64,
    /// Its steps, background first, with how each ended (the last attempt's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
    /// What the scenario's server saw (its journal) and the adapter's stderr; absent for a
    /// scenario that never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Diagnostics>,
}

/// One step of a scenario as it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// `Given`, `When`, `Then`, `And`, `But` or `*`.
    pub keyword: String,
    /// The step's text (an outline's placeholders filled in).
    pub text: String,
    /// How it ended.
    pub status: StepStatus,
    /// Wall time, for a step that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It ran and passed.
    Passed,
    /// It failed (the scenario's outcome says why), or it was skipped as unsupported.
    Failed,
    /// No step definition matches it.
    Undefined,
    /// An earlier step failed, so it never ran.
    NotRun,
}

impl ScenarioResult {
    /// Its console lines: the mark, id and time, what went wrong, and for an unexpected
    /// failure the diagnostics excerpt.
    pub fn console(&self) -> String {
        let mut out = format!(
            "{} {} ({} ms)\n{}",
            self.outcome.mark(),
            self.id,
            self.duration_ms,
            self.outcome.details()
        );
        if let (Outcome::Failed { .. }, Some(diagnostics)) = (&self.outcome, &self.diagnostics) {
            out.push_str(&diagnostics.compact());
        }
        out
    }
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed unexpectedly.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed as expected.
    pub expected_failures: usize,
    /// Passed although expected to fail.
    pub unexpected_passes: usize,
    /// Passed only on a retry.
    #[serde(default)]
    pub flaky: usize,
}

/// A whole run: which SDK (or server), when, and every scenario's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// The SDK under test (for server runs, the server's URL as name).
    pub sdk: SdkInfo,
    /// `sdk` or `server`.
    pub target: String,
    /// Unix seconds at the start.
    pub started_at: u64,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Counts.
    pub summary: Summary,
    /// Per scenario, in run order.
    pub scenarios: Vec<ScenarioResult>,
}

impl RunReport {
    pub(crate) fn new(
        sdk: SdkInfo,
        target: &str,
        started_at: u64,
        duration_ms: u64,
        scenarios: Vec<ScenarioResult>,
    ) -> Self {
        let mut summary = Summary::default();
        for s in &scenarios {
            match s.outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed { .. } => summary.failed += 1,
                Outcome::Skipped { .. } => summary.skipped += 1,
                Outcome::ExpectedFailure { .. } => summary.expected_failures += 1,
                Outcome::UnexpectedPass { .. } => summary.unexpected_passes += 1,
                Outcome::Flaky { .. } => summary.flaky += 1,
            }
        }
        Self {
            sdk,
            target: target.to_owned(),
            started_at,
            duration_ms,
            summary,
            scenarios,
        }
    }

    /// No unexpected failure and no unexpected pass.
    pub fn is_success(&self) -> bool {
        !self.scenarios.iter().any(|s| s.outcome.is_unexpected())
    }

    /// Ids of scenarios that failed (expected or not).
    pub fn failed_ids(&self) -> Vec<&str> {
        self.scenarios
            .iter()
            .filter(|s| {
                matches!(
                    s.outcome,
                    Outcome::Failed { .. } | Outcome::ExpectedFailure { .. }
                )
            })
            .map(|s| s.id.as_str())
            .collect()
    }

    /// One line per scenario plus a summary line, for terminals and logs.
    pub fn console(&self) -> String {
        let mut out = String::new();
        for s in &self.scenarios {
            out.push_str(&s.console());
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }

    /// `N passed, N failed, N skipped, N expected failures, N unexpected passes, N flaky`
    /// and timing: one line, stable wording, for CI log parsers.
    pub fn summary_line(&self) -> String {
        let s = self.summary;
        let sdk = format!("{} {}", self.sdk.name, self.sdk.version);
        format!(
            "{}: {} passed, {} failed, {} skipped, {} expected failures, {} unexpected passes, {} flaky ({} scenarios in {:.1} s)",
            sdk.trim(),
            s.passed,
            s.failed,
            s.skipped,
            s.expected_failures,
            s.unexpected_passes,
            s.flaky,
            self.scenarios.len(),
            self.duration_ms as f64 / 1000.0
        )
    }

    /// The file stem for this run's reports when none is given: the SDK's name made safe
    /// for any file system ([`file_stem`]).
    pub fn file_stem(&self) -> String {
        file_stem(&self.sdk.name)
    }

    /// Writes `<stem>.json`, `<stem>.junit.xml` and `<stem>.html` into `dir` (created if
    /// missing).
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), Error> {
        let io =
            |e: std::io::Error| Error::new(ErrorKind::Report, format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::new(ErrorKind::Report, e.to_string()))?;
        std::fs::write(dir.join(format!("{stem}.json")), json + "\n").map_err(io)?;
        std::fs::write(dir.join(format!("{stem}.junit.xml")), junit(self)).map_err(io)?;
        std::fs::write(dir.join(format!("{stem}.html")), html(self)?).map_err(io)?;
        Ok(())
    }

    /// Reads a JSON result file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Report, format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::new(ErrorKind::Report, format!("{}: {e}", path.display())))
    }
}
/// Characters of a derived file stem: well under every file system's name limit, with room
/// for `.junit.xml`.
const STEM_CHARS: usize = 64;

/// `name` as a file stem: lowercase ASCII letters and digits, runs of anything else as one
/// `-`, at most 64 characters, never empty or hidden (`sdk` when nothing is left).
///
/// ```
/// assert_eq!(prelude_conformance::file_stem("@prelude.so/js-sdk"), "prelude-so-js-sdk");
/// assert_eq!(prelude_conformance::file_stem("漢字"), "sdk");
/// ```
pub fn file_stem(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut stem = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    stem.truncate(STEM_CHARS);
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "sdk".to_owned()
    } else {
        stem.to_owned()
    }
}

/// Checks that reports can be written into `dir` (creating it), before a run that would
/// otherwise find out only at its end.
pub fn check_writable(dir: &Path) -> Result<(), Error> {
    let io = |e: std::io::Error| {
        Error::new(
            ErrorKind::Report,
            format!("cannot write reports into {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let probe = dir.join(format!(".prelude-conformance-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(io)?;
    std::fs::remove_file(&probe).map_err(io)
}
