//! Loads `.feature` files into runnable scenarios: backgrounds prepended, outlines expanded
//! one scenario per example row, tags inherited from feature, rule and examples.
//!
//! Tags carry meaning: `@must`/`@should` (level), `@needs-<capability>` (skipped without
//! it), `@server` (a server-side attack scenario); every other tag names a source
//! (`@rfc9449-4.3`, `@prelude-web`, `@seed-android`, ...).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

/// One step, ready to match against the step library.
#[derive(Clone, Debug)]
pub struct Step {
    /// `Given`, `When`, `Then` (an `And`/`But` takes the kind of the step before it).
    pub kind: StepKind,
    /// The step text after its keyword, outline placeholders substituted.
    pub text: String,
    /// A data table under the step, if any.
    pub table: Option<Vec<Vec<String>>>,
}

/// The kind of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Setup.
    Given,
    /// The action under test.
    When,
    /// An assertion.
    Then,
}

/// A runnable scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Stable id: `<feature file stem>: <scenario name>`; what expected-failure files name.
    pub id: String,
    /// The feature file's stem (`logout`, `server_dpop`, ...).
    pub feature: String,
    /// The scenario's name.
    pub name: String,
    /// Tags without `@`, feature tags first.
    pub tags: Vec<String>,
    /// Steps, background first.
    pub steps: Vec<Step>,
    /// Where it is defined.
    pub location: String,
}

impl Scenario {
    /// `must` or `should` (or `unspecified` when untagged).
    pub fn level(&self) -> &str {
        self.tags
            .iter()
            .find(|t| *t == "must" || *t == "should")
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
                !matches!(t.as_str(), "must" | "should" | "server") && !t.starts_with("needs-")
            })
            .cloned()
            .collect()
    }
}

/// Every scenario of every `.feature` file in `dir`, files in name order.
pub(crate) fn load_dir(dir: &Path) -> Result<Vec<Scenario>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::new(ErrorKind::Features, format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "feature"))
        .collect();
    files.sort();
    let mut scenarios = Vec::new();
    for file in files {
        scenarios.extend(load_file(&file)?);
    }
    Ok(scenarios)
}

/// The scenarios of one `.feature` file.
pub(crate) fn load_file(path: &Path) -> Result<Vec<Scenario>, Error> {
    let feature = gherkin::Feature::parse_path(path, gherkin::GherkinEnv::default())
        .map_err(|e| Error::new(ErrorKind::Features, format!("{}: {e}", path.display())))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    let background = feature.background.as_ref().map(|b| b.steps.clone());
    let groups = std::iter::once((Vec::new(), background.clone(), &feature.scenarios)).chain(
        feature.rules.iter().map(|rule| {
            let mut steps = background.clone().unwrap_or_default();
            steps.extend(rule.background.iter().flat_map(|b| b.steps.clone()));
            (rule.tags.clone(), Some(steps), &rule.scenarios)
        }),
    );
    for (rule_tags, background, scenarios) in groups {
        for scenario in scenarios {
            let mut tags = clean(&feature.tags);
            tags.extend(clean(&rule_tags));
            tags.extend(clean(&scenario.tags));
            let mut steps = background.clone().unwrap_or_default();
            steps.extend(scenario.steps.iter().cloned());
            let location = format!("{}:{}", path.display(), scenario.position.line);
            if scenario.examples.is_empty() {
                out.push(Scenario {
                    id: format!("{stem}: {}", scenario.name),
                    feature: stem.clone(),
                    name: scenario.name.clone(),
                    tags,
                    steps: convert(&steps, &[], &[]),
                    location,
                });
                continue;
            }
            for examples in &scenario.examples {
                let Some(table) = &examples.table else {
                    continue;
                };
                let Some((header, rows)) = table.rows.split_first() else {
                    continue;
                };
                let mut tags = tags.clone();
                tags.extend(clean(&examples.tags));
                for row in rows {
                    let name = format!("{} [{}]", scenario.name, row.join(", "));
                    out.push(Scenario {
                        id: format!("{stem}: {name}"),
                        feature: stem.clone(),
                        name,
                        tags: tags.clone(),
                        steps: convert(&steps, header, row),
                        location: location.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn clean(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|t| t.trim_start_matches('@').to_owned())
        .collect()
}

fn convert(steps: &[gherkin::Step], header: &[String], row: &[String]) -> Vec<Step> {
    let fill = |text: &str| {
        header
            .iter()
            .zip(row)
            .fold(text.to_owned(), |text, (k, v)| {
                text.replace(&format!("<{k}>"), v)
            })
    };
    steps
        .iter()
        .map(|step| {
            // gherkin resolves And/But to the kind of the step before.
            let kind = match step.ty {
                gherkin::StepType::Given => StepKind::Given,
                gherkin::StepType::When => StepKind::When,
                gherkin::StepType::Then => StepKind::Then,
            };
            Step {
                kind,
                text: fill(&step.value),
                table: step.table.as_ref().map(|t| {
                    t.rows
                        .iter()
                        .map(|r| r.iter().map(|c| fill(c)).collect())
                        .collect()
                }),
            }
        })
        .collect()
}

/// Selects scenarios by tag: `must,!needs-multi_process` keeps scenarios tagged `must` and
/// not tagged `needs-multi_process`. Empty selects everything.
#[derive(Clone, Debug, Default)]
pub struct TagFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl TagFilter {
    /// Parses a comma-separated list; `!tag` or `~tag` excludes, a leading `@` is optional.
    pub fn parse(expression: &str) -> Self {
        let mut filter = Self::default();
        for part in expression
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.strip_prefix('!').or_else(|| part.strip_prefix('~')) {
                Some(tag) => filter.exclude.push(tag.trim_start_matches('@').to_owned()),
                None => filter.include.push(part.trim_start_matches('@').to_owned()),
            }
        }
        filter
    }

    /// Whether `scenario` passes the filter.
    pub fn matches(&self, scenario: &Scenario) -> bool {
        self.include.iter().all(|t| scenario.has_tag(t))
            && !self.exclude.iter().any(|t| scenario.has_tag(t))
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
        let scenarios = load_file(&path).expect("parses");
        let _removed = std::fs::remove_dir_all(&dir);
        scenarios
    }

    #[test]
    fn outlines_expand_per_row_with_background_and_inherited_tags() {
        let scenarios = sample();
        let ids: Vec<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "sample: Revoking <target> [all]",
                "sample: Revoking <target> [mine]",
                "sample: Plain"
            ]
        );
        let first = &scenarios[0];
        assert_eq!(first.steps[0].text, "a mock Prelude server");
        assert_eq!(first.steps[1].text, "the client revokes \"all\" sessions");
        assert_eq!(first.steps[1].kind, StepKind::When);
        assert_eq!(first.level(), "must");
        assert_eq!(first.needs().collect::<Vec<_>>(), ["revoke"]);
        assert_eq!(first.sources(), ["area"]);
    }

    #[test]
    fn tag_filters_include_and_exclude() {
        let scenarios = sample();
        let kept = |expr: &str| {
            scenarios
                .iter()
                .filter(|s| TagFilter::parse(expr).matches(s))
                .count()
        };
        assert_eq!(kept(""), 3);
        assert_eq!(kept("must"), 2);
        assert_eq!(kept("@area,!needs-revoke"), 1);
        assert_eq!(kept("should,must"), 0);
    }
}
