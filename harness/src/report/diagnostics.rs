//! What a scenario leaves behind for its author: the mock server's journal (every request,
//! what the server made of it) and the adapter's stderr. The JSON and HTML reports keep all of
//! it for every scenario; the console shows a compact excerpt of a failure's.

use std::fmt::Write as _;

use prelude_mock_server::{JournalEntry, Reason, Verdict};
use serde::{Deserialize, Serialize};

/// Journal entries and stderr lines the console shows; the JSON report has them all.
const CONSOLE_ENTRIES: usize = 20;
const CONSOLE_STDERR_LINES: usize = 10;

/// Evidence from a scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Every request the scenario's server saw, oldest first (tokens appear only as
    /// fingerprints).
    pub journal: Vec<JournalEntry>,
    /// The adapter's stderr during the scenario (its last lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapter_stderr: Vec<String>,
}

impl Diagnostics {
    /// The console excerpt, indented under the scenario's line: the last journal entries,
    /// one line each, and the last lines of the adapter's stderr.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        if !self.journal.is_empty() {
            let skipped = self.journal.len().saturating_sub(CONSOLE_ENTRIES);
            let _ = writeln!(
                out,
                "       server journal (seconds since the server started){}:",
                if skipped > 0 {
                    format!(", last {CONSOLE_ENTRIES} of {}", self.journal.len())
                } else {
                    String::new()
                }
            );
            for (i, entry) in self.journal.iter().enumerate().skip(skipped) {
                let _ = writeln!(out, "         {}", self.line(i, entry));
            }
        }
        if !self.adapter_stderr.is_empty() {
            let skipped = self
                .adapter_stderr
                .len()
                .saturating_sub(CONSOLE_STDERR_LINES);
            let _ = writeln!(out, "       adapter stderr:");
            for line in &self.adapter_stderr[skipped..] {
                let _ = writeln!(out, "         | {line}");
            }
        }
        out
    }

    /// One journal entry: when, what, the answer, and what the server made of the refresh
    /// token and the proof.
    fn line(&self, index: usize, e: &JournalEntry) -> String {
        let mut line = format!("{:>8} {} {}", seconds(e.received_ms), e.method, e.path);
        match (e.verdict, e.status) {
            (Verdict::Dropped, _) | (_, None) => line.push_str(" -> dropped (no answer)"),
            (_, Some(status)) => {
                let _ = write!(line, " -> {status}");
            }
        }
        if let Some(code) = &e.code {
            let _ = write!(line, " {code}");
        }
        if let Some(reason) = e.reason {
            let reason = reason_name(reason);
            if e.code.as_deref() != Some(reason.as_str()) {
                let _ = write!(line, " ({reason})");
            }
        }
        if let Some(generation) = e.generation {
            let _ = write!(line, "; refresh token generation {generation}");
            if e.rotated {
                line.push_str(", rotated");
            }
            if let Some(earlier) = rotated_before(&self.journal, index) {
                let _ = write!(
                    line,
                    ", already rotated at {}",
                    seconds(earlier.received_ms)
                );
            }
        }
        if let Some(proof) = &e.dpop {
            let short = |v: &Option<String>| {
                v.as_deref()
                    .map_or_else(|| "-".to_owned(), |s| s.chars().take(8).collect())
            };
            let _ = write!(
                line,
                "; proof jti {} iat {} htu {} nonce {}",
                short(&proof.jti),
                proof.iat.map_or_else(|| "-".to_owned(), |i| i.to_string()),
                proof.htu.as_deref().unwrap_or("-"),
                short(&proof.nonce)
            );
        }
        line
    }
}

/// The earlier entry that rotated the refresh token `journal[index]` presented, if any.
pub(crate) fn rotated_before(journal: &[JournalEntry], index: usize) -> Option<&JournalEntry> {
    let token = journal.get(index)?.refresh_token.as_ref()?;
    journal[..index]
        .iter()
        .rev()
        .find(|e| e.rotated && e.refresh_token.as_ref() == Some(token))
}

/// A rejection reason as the journal's JSON names it (`refresh_token_reused`).
pub(crate) fn reason_name(reason: Reason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}
