//! JUnit XML, the format CI systems display: one `<testsuite>` per feature, one
//! `<testcase>` per scenario; expected failures are reported as passing cases with the
//! reason in `<system-out>`, so they show without failing the build.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Outcome, RunReport, ScenarioResult};

/// The report as JUnit XML.
pub fn junit(report: &RunReport) -> String {
    let mut features: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for s in &report.scenarios {
        features.entry(&s.feature).or_default().push(s);
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = report
        .scenarios
        .iter()
        .filter(|s| s.outcome.is_unexpected())
        .count();
    let skipped = report.summary.skipped;
    let _ = writeln!(
        xml,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        escape(&format!("{} {}", report.sdk.name, report.sdk.version)),
        report.scenarios.len(),
        report.duration_ms as f64 / 1000.0
    );
    for (feature, scenarios) in features {
        let failures = scenarios
            .iter()
            .filter(|s| s.outcome.is_unexpected())
            .count();
        let skipped = scenarios
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Skipped { .. }))
            .count();
        let time: u64 = scenarios.iter().map(|s| s.duration_ms).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            escape(feature),
            scenarios.len(),
            time as f64 / 1000.0
        );
        for s in scenarios {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(feature),
                escape(&s.name),
                s.duration_ms as f64 / 1000.0
            );
            match &s.outcome {
                Outcome::Passed => xml.push_str("/>\n"),
                Outcome::Failed { step, message } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(step),
                        escape(message)
                    );
                }
                Outcome::UnexpectedPass { reason } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"passed, but listed as an expected failure\">{}</failure>\n    </testcase>",
                        escape(reason)
                    );
                }
                Outcome::Skipped { reason } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                Outcome::ExpectedFailure {
                    reason,
                    step,
                    message,
                } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <system-out>expected failure: {}\nstep: {}\n{}</system-out>\n    </testcase>",
                        escape(reason),
                        escape(step),
                        escape(message)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
    }
}
