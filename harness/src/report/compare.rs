//! The comparison table: several runs (one per SDK), scenario by scenario, as Markdown.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Outcome, RunReport};

/// A Markdown table with one row per scenario and one column per labelled run, then the
/// notes (skip reasons, expected-failure reasons, failure messages) keyed by footnote.
pub fn compare(runs: &[(String, RunReport)]) -> String {
    let mut rows: BTreeMap<&str, Vec<Option<&Outcome>>> = BTreeMap::new();
    let mut levels: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, (_, run)) in runs.iter().enumerate() {
        for s in &run.scenarios {
            let row = rows.entry(&s.id).or_insert_with(|| vec![None; runs.len()]);
            row[i] = Some(&s.outcome);
            levels.insert(&s.id, &s.level);
        }
    }
    let mut md = String::from("| scenario | level |");
    for (label, run) in runs {
        let _ = write!(md, " {label} ({}) |", run.sdk.name);
    }
    md.push_str("\n|---|---|");
    md.push_str(&"---|".repeat(runs.len()));
    md.push('\n');
    let mut notes = Vec::new();
    for (id, cells) in &rows {
        let _ = write!(
            md,
            "| {} | {} |",
            id.replace('|', "\\|"),
            levels.get(id).unwrap_or(&"")
        );
        for cell in cells {
            let text = match cell {
                None => "–".to_owned(),
                Some(Outcome::Passed) => "✅ passed".to_owned(),
                Some(outcome) => {
                    let note = match outcome {
                        Outcome::Failed { message, .. } | Outcome::Flaky { message, .. } => {
                            message.clone()
                        }
                        Outcome::Skipped { reason }
                        | Outcome::UnexpectedPass { reason }
                        | Outcome::ExpectedFailure { reason, .. } => reason.clone(),
                        Outcome::Passed => String::new(),
                    };
                    notes.push(note);
                    let icon = match outcome {
                        Outcome::Failed { .. } => "❌",
                        Outcome::Skipped { .. } => "⏭️",
                        Outcome::ExpectedFailure { .. } => "⚠️",
                        Outcome::Flaky { .. } => "🔁",
                        _ => "❗",
                    };
                    format!("{icon} {} [{}]", outcome.label(), notes.len())
                }
            };
            let _ = write!(md, " {text} |");
        }
        md.push('\n');
    }
    md.push_str("\n| run | passed | failed | skipped | expected failures | unexpected passes |\n|---|---:|---:|---:|---:|---:|\n");
    for (label, run) in runs {
        let s = run.summary;
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {} |",
            s.passed, s.failed, s.skipped, s.expected_failures, s.unexpected_passes
        );
    }
    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for (i, note) in notes.iter().enumerate() {
            let _ = writeln!(md, "{}. {}", i + 1, note.replace('\n', " "));
        }
    }
    md
}
