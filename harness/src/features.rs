//! The catalogue of scenarios: every `.feature` file's scenarios with their ids, tags and
//! locations (outlines expanded one per example row, tags inherited from feature, rule and
//! examples), for selection, capability skips, `--list` and reports. Cucumber parses and runs
//! the same files; [`id_of`] names its scenarios the same way.
//!
//! Tags carry meaning: `@must`/`@should`/`@may` (level), `@needs-<capability>` (skipped without
//! it), `@server` (a server-side attack scenario); every other tag names a source
//! (`@rfc9449-4.3`, `@prelude-web`, `@seed-android`, ...).

use std::path::{Path, PathBuf};

use cucumber::feature::Ext as _;
use cucumber::gherkin;
use cucumber::tag::Ext as _;
use gherkin::tagexpr::TagOperation;
use regex::Regex;

use crate::error::{Error, ErrorKind};

/// A scenario of the catalogue (outlines expanded, one per example row).
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Stable id: `<feature file stem>: <scenario name>`, plus ` [<example row>]` for an
    /// outline; what expected-failure files name.
    pub id: String,
    /// The feature file's stem (`logout`, `server_dpop`, ...).
    pub feature: String,
    /// The scenario's name.
    pub name: String,
    /// Tags without `@`, feature tags first.
    pub tags: Vec<String>,
    /// Where it is defined (`file:line`).
    pub location: String,
}

impl Scenario {
    /// `must`, `should` or `may` (or `unspecified` when untagged).
    pub fn level(&self) -> &str {
        self.tags
            .iter()
            .find(|t| matches!(t.as_str(), "must" | "should" | "may"))
            .map_or("unspecified", String::as_str)
    }

    /// Capabilities the scenario needs.
    pub fn needs(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().filter_map(|t| t.strip_prefix("needs-"))
    }

    /// Whether it attacks a server instead of driving an SDK.
    pub fn is_server_side(&self) -> bool {
        self.has_tag("server")
    }

    /// Whether it carries `tag` (without `@`).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Source tags (everything that is not a level, capability or `server`).
    pub fn sources(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter(|t| {
                !matches!(t.as_str(), "must" | "should" | "may" | "server")
                    && !t.starts_with("needs-")
            })
            .cloned()
            .collect()
    }
}

/// The id of a scenario as cucumber runs it (an outline already expanded to one row).
pub(crate) fn id_of(feature: &gherkin::Feature, scenario: &gherkin::Scenario) -> String {
    let stem = feature
        .path
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{stem}: {}", display_name(scenario))
}

/// The scenario's name, with its example row for an expanded outline.
fn display_name(scenario: &gherkin::Scenario) -> String {
    let row = scenario
        .examples
        .first()
        .and_then(|e| e.table.as_ref())
        .and_then(|t| t.rows.get(1));
    match row {
        Some(row) => format!("{} [{}]", scenario.name, row.join(", ")),
        None => scenario.name.clone(),
    }
}

/// Every `.feature` file in `dir`, in name order, outlines expanded one scenario per
/// example row (as cucumber would; it leaves expanded scenarios as they are).
pub(crate) fn load_dir(dir: &Path) -> Result<Vec<gherkin::Feature>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::new(ErrorKind::Features, format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "feature"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::new(
            ErrorKind::Features,
            format!("{}: no .feature files here", dir.display()),
        ));
    }
    let features = files
        .iter()
        .map(|file| load_file(file))
        .collect::<Result<Vec<_>, _>>()?;
    unique_ids(&features)?;
    Ok(features)
}

/// Refuses two scenarios with one id (same file, same name): results, expected failures and
/// reports are keyed by it, so the second would silently share the first's verdict.
pub(crate) fn unique_ids(features: &[gherkin::Feature]) -> Result<(), Error> {
    let mut seen = std::collections::HashMap::new();
    for scenario in catalogue(features) {
        if let Some(first) = seen.insert(scenario.id.clone(), scenario.location.clone()) {
            return Err(Error::new(
                ErrorKind::Features,
                format!(
                    "two scenarios are named {:?} ({first} and {}): give each its own name",
                    scenario.id, scenario.location
                ),
            ));
        }
    }
    Ok(())
}

/// The `.feature` files built into the crate (from the repository's `features/`): file name
/// and text.
const BUNDLED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/features.rs"));

/// The bundled features, outlines expanded, each with the path `features/<file>`.
pub(crate) fn load_bundled() -> Result<Vec<gherkin::Feature>, Error> {
    let features = BUNDLED
        .iter()
        .map(|(name, text)| parse(&Path::new("features").join(name), text))
        .collect::<Result<Vec<_>, _>>()?;
    unique_ids(&features)?;
    Ok(features)
}

/// One `.feature` file, outlines expanded.
pub(crate) fn load_file(path: &Path) -> Result<gherkin::Feature, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(ErrorKind::Features, format!("{}: {e}", path.display())))?;
    parse(path, &text)
}

/// The feature `text`, known as `path` (in errors, and for its scenarios' ids), outlines
/// expanded.
pub(crate) fn parse(path: &Path, text: &str) -> Result<gherkin::Feature, Error> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::Features, format!("{}: {e}", path.display()))
    };
    let mut feature =
        gherkin::Feature::parse(text, gherkin::GherkinEnv::default()).map_err(|e| fail(&e))?;
    check_examples(&feature, text).map_err(|e| fail(&e))?;
    feature.path = Some(path.to_owned());
    feature.expand_examples().map_err(|e| fail(&e))
}

/// Refuses an Examples row whose cell count differs from its header's: the parser would
/// run it with cells dropped or missing, which is not what its author wrote.
fn check_examples(feature: &gherkin::Feature, text: &str) -> Result<(), String> {
    let scenarios = feature
        .scenarios
        .iter()
        .chain(feature.rules.iter().flat_map(|r| &r.scenarios));
    for table in scenarios
        .flat_map(|s| &s.examples)
        .filter_map(|e| e.table.as_ref())
    {
        let start = table.span.start.min(text.len());
        let end = table.span.end.clamp(start, text.len());
        let mut header = None;
        let mut offset = start;
        for line in text[start..end].split_inclusive('\n') {
            let row = line.trim();
            let at = offset;
            offset += line.len();
            if !row.starts_with('|') {
                continue;
            }
            let cells = row_cells(row);
            let expected = *header.get_or_insert(cells);
            if cells != expected {
                let line_no = text[..at].matches('\n').count() + 1;
                return Err(format!(
                    "line {line_no}: this Examples row has {cells} cells, its header {expected}"
                ));
            }
        }
    }
    Ok(())
}

/// The cells of a Gherkin table row (`| a | b \| c |` has two).
fn row_cells(row: &str) -> usize {
    let mut bars = 0usize;
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => bars += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    // A row written without its closing bar still has its last cell.
    if row.ends_with('|') && !row.ends_with("\\|") {
        bars.saturating_sub(1)
    } else {
        bars
    }
}

/// The catalogue of `features`' scenarios, in file order.
pub(crate) fn catalogue(features: &[gherkin::Feature]) -> Vec<Scenario> {
    let mut out = Vec::new();
    for feature in features {
        let stem = feature
            .path
            .as_deref()
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = feature
            .path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let groups = std::iter::once((None, &feature.scenarios)).chain(
            feature
                .rules
                .iter()
                .map(|rule| (Some(rule), &rule.scenarios)),
        );
        for (rule, scenarios) in groups {
            for scenario in scenarios {
                let tags = feature
                    .tags
                    .iter()
                    .chain(rule.iter().flat_map(|r| &r.tags))
                    .chain(&scenario.tags);
                out.push(Scenario {
                    id: id_of(feature, scenario),
                    feature: stem.clone(),
                    name: display_name(scenario),
                    tags: tags.map(|t| t.trim_start_matches('@').to_owned()).collect(),
                    location: format!("{path}:{}", scenario.position.line),
                });
            }
        }
    }
    out
}

/// `features` with only the scenarios whose id `keep` accepts.
pub(crate) fn select(
    features: &[gherkin::Feature],
    keep: impl Fn(&str) -> bool,
) -> Vec<gherkin::Feature> {
    features
        .iter()
        .map(|feature| {
            let mut feature = feature.clone();
            let scenarios = std::mem::take(&mut feature.scenarios);
            feature.scenarios = scenarios
                .into_iter()
                .filter(|s| keep(&id_of(&feature, s)))
                .collect();
            let mut rules = std::mem::take(&mut feature.rules);
            for rule in &mut rules {
                let scenarios = std::mem::take(&mut rule.scenarios);
                rule.scenarios = scenarios
                    .into_iter()
                    .filter(|s| keep(&id_of(&feature, s)))
                    .collect();
            }
            feature.rules = rules;
            feature
        })
        .collect()
}

/// Hands already parsed (and selected) features to cucumber.
pub(crate) struct Parsed;

impl cucumber::Parser<Vec<gherkin::Feature>> for Parsed {
    type Cli = cucumber::cli::Empty;
    type Output = futures_util::stream::Iter<
        std::iter::Map<
            std::vec::IntoIter<gherkin::Feature>,
            fn(gherkin::Feature) -> cucumber::parser::Result<gherkin::Feature>,
        >,
    >;

    fn parse(self, input: Vec<gherkin::Feature>, _: Self::Cli) -> Self::Output {
        futures_util::stream::iter(input.into_iter().map(Ok as fn(_) -> _))
    }
}

/// Which scenarios to run: a cucumber tag expression and a regex over scenario names, as
/// cucumber's own `--tags` and `--name` take them. The default selects everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    tags: Option<TagOperation>,
    name: Option<Regex>,
}

impl Filter {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Keeps scenarios whose tags satisfy `expression`
    /// (`@must and not @needs-multi_process`, `@clock or @dpop`); the `@` is optional.
    pub fn tags(mut self, expression: &str) -> Result<Self, Error> {
        let expression = expression.trim();
        if expression.is_empty() {
            return Ok(self);
        }
        let parsed = expression.parse::<TagOperation>().map_err(|e| {
            Error::new(
                ErrorKind::Filter,
                format!("tag expression {expression:?}: {e}"),
            )
        })?;
        self.tags = Some(parsed);
        Ok(self)
    }

    /// Keeps scenarios whose name (example row included) matches `pattern`.
    pub fn name(mut self, pattern: &str) -> Result<Self, Error> {
        let regex = Regex::new(pattern)
            .map_err(|e| Error::new(ErrorKind::Filter, format!("name pattern {pattern:?}: {e}")))?;
        self.name = Some(regex);
        Ok(self)
    }

    /// Whether `scenario` is selected.
    pub fn matches(&self, scenario: &Scenario) -> bool {
        self.tags
            .as_ref()
            .is_none_or(|t| t.eval(scenario.tags.iter().map(String::as_str)))
            && self
                .name
                .as_ref()
                .is_none_or(|re| re.is_match(&scenario.name) || re.is_match(&scenario.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURE: &str = "@area
Feature: Sample
  Background:
    Given a mock Prelude server

  @must @needs-revoke
  Scenario Outline: Revoking <target>
    When the client revokes \"<target>\" sessions
    Then the call succeeds

    Examples:
      | target |
      | all    |
      | mine   |

  @should
  Scenario: Plain
    When the client refreshes
";

    fn sample() -> Vec<Scenario> {
        // One directory per call: tests run in parallel threads of one process.
        let dir = std::env::temp_dir().join(format!(
            "features-test-{}-{}",
            std::process::id(),
            crate::random_hex(6)
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("sample.feature");
        std::fs::write(&path, FEATURE).expect("write");
        let scenarios = catalogue(&[load_file(&path).expect("parses")]);
        let _removed = std::fs::remove_dir_all(&dir);
        scenarios
    }

    #[test]
    fn outlines_expand_per_row_with_inherited_tags() {
        let scenarios = sample();
        let ids: Vec<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "sample: Revoking all [all]",
                "sample: Revoking mine [mine]",
                "sample: Plain"
            ]
        );
        let first = &scenarios[0];
        assert_eq!(first.level(), "must");
        assert_eq!(first.needs().collect::<Vec<_>>(), ["revoke"]);
        assert_eq!(first.sources(), ["area"]);
    }

    #[test]
    fn tag_expressions_select_like_cucumber() {
        let scenarios = sample();
        let kept = |expr: &str| {
            let filter = Filter::all().tags(expr).expect("valid expression");
            scenarios.iter().filter(|s| filter.matches(s)).count()
        };
        assert_eq!(kept(""), 3);
        assert_eq!(kept("@must"), 2);
        assert_eq!(kept("@area and not @needs-revoke"), 1);
        assert_eq!(kept("@should and @must"), 0);
        assert_eq!(kept("@should or (@must and not @area)"), 1);
        assert!(Filter::all().tags("@must and").is_err());
    }

    #[test]
    fn names_select_by_regex_over_the_name_and_its_example_row() {
        let scenarios = sample();
        let kept = |pattern: &str| {
            let filter = Filter::all().name(pattern).expect("valid regex");
            scenarios.iter().filter(|s| filter.matches(s)).count()
        };
        assert_eq!(kept("^Revoking"), 2);
        assert_eq!(kept(r"\[mine\]"), 1);
        assert!(Filter::all().name("(").is_err());
    }
}
