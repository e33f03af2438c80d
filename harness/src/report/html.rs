//! The HTML reports: one self-contained page per run (no script, style or font from the
//! network), and a scenario × run matrix for several runs. Both are rendered from the JSON
//! report's types with MiniJinja; the templates live in `harness/templates/` and are built
//! into the binary.
//!
//! This module shapes the data the templates show (areas, problems, anchors, outcome
//! classes); the journal's reading is [`super::timeline`]'s, the drawing the templates'.

use std::collections::BTreeMap;

use minijinja::Environment;
use serde::Serialize;

use super::timeline::Timeline;
use super::{Outcome, RunReport, ScenarioResult, StepRecord};
use crate::error::{Error, ErrorKind};

const TEMPLATES: [(&str, &str); 5] = [
    ("report.html", include_str!("../../templates/report.html")),
    ("head.html", include_str!("../../templates/head.html")),
    ("compare.html", include_str!("../../templates/compare.html")),
    ("style.css", include_str!("../../templates/style.css")),
    ("filters.js", include_str!("../../templates/filters.js")),
];

/// The levels the summary has a column for, in order.
const LEVELS: [&str; 4] = ["must", "should", "may", "unspecified"];

/// One run's report as a self-contained HTML page: a summary by area and level, the
/// scenarios that need a look, and every scenario expandable to its steps and its server
/// journal drawn as a timeline (requests per client key, the rotation chain, reuse and
/// rejections marked, each proof's claims).
///
/// ```no_run
/// # fn main() -> Result<(), prelude_conformance::Error> {
/// let report = prelude_conformance::RunReport::read("target/conformance/run.json".as_ref())?;
/// std::fs::write("run.html", prelude_conformance::html(&report)?).expect("written");
/// # Ok(()) }
/// ```
pub fn html(report: &RunReport) -> Result<String, Error> {
    let mut areas: Vec<Area> = Vec::new();
    for s in &report.scenarios {
        let area = match areas.iter_mut().find(|a| a.name == s.feature) {
            Some(area) => area,
            None => {
                areas.push(Area::new(&s.feature));
                let last = areas.len() - 1;
                &mut areas[last]
            }
        };
        area.add(s);
    }
    // A level none of the run's scenarios ran at gets no column (the suite's own scenarios
    // are all `must` or `should`; an SDK author's own may be untagged).
    let used: Vec<bool> = (0..LEVELS.len())
        .map(|i| areas.iter().any(|a| a.levels[i].run > 0))
        .collect();
    let levels = LEVELS
        .iter()
        .zip(&used)
        .filter_map(|(level, used)| used.then_some(*level))
        .collect();
    for area in &mut areas {
        area.keep_levels(&used);
    }
    let problems = report
        .scenarios
        .iter()
        .filter(|s| !matches!(s.outcome, Outcome::Passed | Outcome::Skipped { .. }))
        .map(|s| Problem {
            id: &s.id,
            anchor: anchor(&s.id),
            class: class(&s.outcome),
            label: s.outcome.label(),
            level: &s.level,
            step: failing_step(&s.outcome).unwrap_or_default(),
        })
        .collect::<Vec<_>>();
    let first = |wanted: fn(&Outcome) -> bool| {
        report
            .scenarios
            .iter()
            .find(|s| wanted(&s.outcome))
            .map_or_else(|| "#areas".to_owned(), |s| format!("#{}", anchor(&s.id)))
    };
    let s = report.summary;
    let counts = [
        (s.passed, "passed", first(|o| matches!(o, Outcome::Passed))),
        (
            s.failed,
            "failed",
            first(|o| matches!(o, Outcome::Failed { .. })),
        ),
        (
            s.unexpected_passes,
            "unexpected pass",
            first(|o| matches!(o, Outcome::UnexpectedPass { .. })),
        ),
        (
            s.expected_failures,
            "expected failure",
            first(|o| matches!(o, Outcome::ExpectedFailure { .. })),
        ),
        (
            s.flaky,
            "flaky",
            first(|o| matches!(o, Outcome::Flaky { .. })),
        ),
        (
            s.skipped,
            "skipped",
            first(|o| matches!(o, Outcome::Skipped { .. })),
        ),
    ]
    .into_iter()
    .filter(|(count, ..)| *count > 0)
    .map(|(count, label, href)| Count {
        count,
        class: label.replace(' ', "-"),
        label,
        href,
    })
    .collect::<Vec<_>>();
    let icons: BTreeMap<&str, &str> = [
        ("passed", "✓"),
        ("failed", "✗"),
        ("undefined", "?"),
        ("not_run", "·"),
    ]
    .into();
    render(
        "report.html",
        &Page {
            version: env!("CARGO_PKG_VERSION"),
            sdk: &report.sdk,
            target: &report.target,
            started: started(report.started_at),
            duration: format!("{:.1} s", report.duration_ms as f64 / 1000.0),
            summary_line: report.summary_line(),
            counts,
            problems,
            levels,
            areas,
            icons,
        },
    )
}

/// Several runs side by side, one row per scenario and one column per run, like the
/// Markdown [`compare`](super::compare). Each cell links to the scenario in that run's own
/// HTML report, `<label>.html`, so the matrix belongs beside the runs' reports.
pub fn compare_html(runs: &[(String, RunReport)]) -> Result<String, Error> {
    let mut ids: Vec<(&str, &str, &str, &str)> = Vec::new();
    for (_, run) in runs {
        for s in &run.scenarios {
            if !ids.iter().any(|(id, ..)| *id == s.id) {
                ids.push((&s.id, &s.feature, &s.name, &s.level));
            }
        }
    }
    // Areas in first-seen order, scenarios in run order within them.
    let area_order: Vec<&str> = ids.iter().fold(Vec::new(), |mut seen, (_, area, ..)| {
        if !seen.contains(area) {
            seen.push(area);
        }
        seen
    });
    ids.sort_by_key(|(_, area, ..)| area_order.iter().position(|a| a == area));
    let mut rows = Vec::new();
    let mut previous = None;
    for (id, area, name, level) in ids {
        let cells = runs
            .iter()
            .map(|(label, run)| {
                run.scenarios.iter().find(|s| s.id == id).map(|s| Cell {
                    class: class(&s.outcome),
                    label: s.outcome.label(),
                    note: note(&s.outcome),
                    href: format!("{}#{}", page_href(label), anchor(id)),
                })
            })
            .collect::<Vec<_>>();
        rows.push(MatrixRow {
            area,
            area_start: previous != Some(area),
            name,
            level,
            cells,
        });
        previous = Some(area);
    }
    let runs = runs
        .iter()
        .map(|(label, run)| MatrixRun {
            href: page_href(label),
            label,
            sdk: format!("{} {}", run.sdk.name, run.sdk.version)
                .trim()
                .to_owned(),
            summary: run.summary,
        })
        .collect::<Vec<_>>();
    render(
        "compare.html",
        &Matrix {
            version: env!("CARGO_PKG_VERSION"),
            runs,
            rows,
        },
    )
}

fn render(name: &str, context: &impl Serialize) -> Result<String, Error> {
    let mut env = Environment::new();
    for (template, source) in TEMPLATES {
        env.add_template(template, source)
            .map_err(|e| Error::new(ErrorKind::Report, format!("template {template}: {e}")))?;
    }
    env.get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(context)))
        .map_err(|e| Error::new(ErrorKind::Report, format!("rendering {name}: {e:#}")))
}

/// A scenario's element id in its run's page: stable across runs, so the matrix can link
/// into each run's report.
pub(crate) fn anchor(id: &str) -> String {
    let mut slug = String::from("s-");
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// The CSS class of an outcome: its label with dashes.
fn class(outcome: &Outcome) -> String {
    outcome.label().replace(' ', "-")
}

fn failing_step(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Failed { step, .. }
        | Outcome::ExpectedFailure { step, .. }
        | Outcome::Flaky { step, .. } => Some(step),
        _ => None,
    }
}

/// What the reader needs to know about an outcome: the failure's message, the skip's reason.
fn note(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed => String::new(),
        Outcome::Failed { message, .. } => message.clone(),
        Outcome::Skipped { reason } => reason.clone(),
        Outcome::ExpectedFailure {
            reason, message, ..
        } => format!("expected: {reason}\n\n{message}"),
        Outcome::UnexpectedPass { reason } => {
            format!("passed, but the expected-failures file says: {reason}")
        }
        Outcome::Flaky {
            attempts, message, ..
        } => format!("passed on attempt {attempts}; the first attempt failed:\n\n{message}"),
    }
}

fn started(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// What `report.html` is given.
#[derive(Serialize)]
struct Page<'a> {
    version: &'static str,
    sdk: &'a crate::protocol::SdkInfo,
    target: &'a str,
    started: String,
    duration: String,
    summary_line: String,
    counts: Vec<Count>,
    problems: Vec<Problem<'a>>,
    levels: Vec<&'static str>,
    areas: Vec<Area<'a>>,
    icons: BTreeMap<&'static str, &'static str>,
}

/// What `compare.html` is given.
#[derive(Serialize)]
struct Matrix<'a> {
    version: &'static str,
    runs: Vec<MatrixRun<'a>>,
    rows: Vec<MatrixRow<'a>>,
}

#[derive(Serialize)]
struct Count {
    count: usize,
    class: String,
    label: &'static str,
    href: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    id: &'a str,
    anchor: String,
    class: String,
    label: &'static str,
    level: &'a str,
    step: &'a str,
}

/// A feature file's scenarios and their counts per level.
#[derive(Serialize)]
struct Area<'a> {
    name: String,
    /// One cell per entry of [`LEVELS`], then only those of the page's columns.
    levels: Vec<LevelCell>,
    failed: usize,
    skipped: usize,
    scenarios: Vec<ScenarioView<'a>>,
}

#[derive(Default, Serialize)]
struct LevelCell {
    passed: usize,
    run: usize,
}

impl<'a> Area<'a> {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            levels: LEVELS.iter().map(|_| LevelCell::default()).collect(),
            failed: 0,
            skipped: 0,
            scenarios: Vec::new(),
        }
    }

    fn add(&mut self, s: &'a ScenarioResult) {
        let level = LEVELS
            .iter()
            .position(|l| *l == s.level)
            .unwrap_or(LEVELS.len() - 1);
        match &s.outcome {
            Outcome::Skipped { .. } => self.skipped += 1,
            outcome => {
                self.levels[level].run += 1;
                if matches!(outcome, Outcome::Passed | Outcome::Flaky { .. }) {
                    self.levels[level].passed += 1;
                }
                if outcome.is_unexpected() {
                    self.failed += 1;
                }
            }
        }
        self.scenarios.push(ScenarioView::of(s));
    }

    /// Keeps the cells of the levels the page has a column for.
    fn keep_levels(&mut self, used: &[bool]) {
        let mut used = used.iter();
        self.levels.retain(|_| used.next() == Some(&true));
    }
}

/// One scenario as the page shows it.
#[derive(Serialize)]
struct ScenarioView<'a> {
    anchor: String,
    name: &'a str,
    level: &'a str,
    class: String,
    label: &'static str,
    /// Open on load: whatever needs a look.
    open: bool,
    step: Option<&'a str>,
    why: String,
    sources: &'a [String],
    needs: &'a [String],
    duration_ms: u64,
    steps: &'a [StepRecord],
    timeline: Option<Timeline>,
    stderr: &'a [String],
}

impl<'a> ScenarioView<'a> {
    fn of(s: &'a ScenarioResult) -> Self {
        Self {
            anchor: anchor(&s.id),
            name: &s.name,
            level: &s.level,
            class: class(&s.outcome),
            label: s.outcome.label(),
            open: s.outcome.is_unexpected(),
            step: failing_step(&s.outcome),
            why: note(&s.outcome),
            sources: &s.sources,
            needs: &s.needs,
            duration_ms: s.duration_ms,
            steps: &s.steps,
            timeline: s.diagnostics.as_ref().map(|d| Timeline::of(&d.journal)),
            stderr: s
                .diagnostics
                .as_ref()
                .map_or(&[][..], |d| d.adapter_stderr.as_slice()),
        }
    }
}

#[derive(Serialize)]
struct MatrixRun<'a> {
    label: &'a str,
    href: String,
    sdk: String,
    summary: super::Summary,
}

#[derive(Serialize)]
struct MatrixRow<'a> {
    area: &'a str,
    area_start: bool,
    name: &'a str,
    level: &'a str,
    cells: Vec<Option<Cell>>,
}

#[derive(Serialize)]
struct Cell {
    class: String,
    label: &'static str,
    note: String,
    href: String,
}

/// The link to a run's page, `<label>.html` next to the matrix: always a relative file URL
/// (every byte but the unreserved ones percent-encoded, `:` and `/` included), so a label such
/// as `javascript:...` (a result file's name) can never become a scheme or leave the folder.
fn page_href(label: &str) -> String {
    let mut href = String::new();
    for byte in label.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            href.push(char::from(byte));
        } else {
            href.push_str(&format!("%{byte:02X}"));
        }
    }
    href.push_str(".html");
    href
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SdkInfo;

    fn result(feature: &str, name: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            id: format!("{feature}: {name}"),
            feature: feature.into(),
            name: name.into(),
            level: "must".into(),
            sources: Vec::new(),
            needs: Vec::new(),
            outcome,
            duration_ms: 3,
            steps: Vec::new(),
            diagnostics: None,
        }
    }

    fn report() -> RunReport {
        let sdk = SdkInfo {
            name: "sdk <b>".into(),
            version: "1".into(),
            language: "rust".into(),
        };
        RunReport::new(
            sdk,
            "sdk",
            0,
            10,
            vec![
                result("logout", "wipes", Outcome::Passed),
                result(
                    "coalescing",
                    "one refresh",
                    Outcome::Failed {
                        step: "exactly 1 refresh".into(),
                        message: "<script>alert(1)</script>".into(),
                    },
                ),
            ],
        )
    }

    #[test]
    fn failures_are_listed_first_and_nothing_from_the_run_is_markup() {
        let html = html(&report()).expect("renders");
        let listed = html.find("Needs a look").expect("the problems list");
        assert!(
            html[listed..].contains("href=\"#s-coalescing-one-refresh\""),
            "the list links to the failure"
        );
        assert!(
            html.contains("id=\"s-coalescing-one-refresh\" open"),
            "failures open"
        );
        assert!(!html.contains("<script>alert"), "messages are escaped");
        assert!(
            html.contains("must: passed / run") && !html.contains("should: passed / run"),
            "a column for each level the run has, and only those"
        );
        assert!(!html.contains("sdk <b>"), "names are escaped");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing from the network"
        );
    }

    #[test]
    fn the_matrix_links_each_cell_to_its_runs_page() {
        let runs = [("mine".to_owned(), report())];
        let html = compare_html(&runs).expect("renders");
        assert!(
            html.contains("href=\"mine.html#s-coalescing-one-refresh\""),
            "{html}"
        );
    }

    #[test]
    fn a_run_label_is_linked_as_a_relative_file_whatever_it_says() {
        let runs = [("javascript:alert(1)//".to_owned(), report())];
        let html = compare_html(&runs).expect("renders");
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert!(
            html.contains("href=\"javascript%3Aalert%281%29%2F%2F.html\""),
            "{html}"
        );
    }

    #[test]
    fn anchors_are_stable_slugs_of_the_scenario_id() {
        assert_eq!(
            anchor("logout: A logout wipes <everything> [row 2]"),
            "s-logout-a-logout-wipes-everything-row-2"
        );
    }
}
