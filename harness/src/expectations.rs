//! Expected failures: a per-SDK list of scenarios known to fail, each with the reason, so a
//! report can be honest about documented differences without turning CI red.
//!
//! The file is TOML, one `"<scenario id>" = "<reason>"` per line:
//!
//! ```toml
//! "logout: Logout wipes local credentials even when the server call fails" = "web SDK 0.6.0 wipes only after the server call succeeds"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, ErrorKind};

/// Scenario id → reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedFailures(BTreeMap<String, String>);

impl ExpectedFailures {
    /// No expected failures.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::ExpectedFailures,
                format!("{}: {e}", path.display()),
            )
        })?;
        Self::parse(&text).map_err(|e| {
            Error::new(
                ErrorKind::ExpectedFailures,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// Parses the TOML text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        toml::from_str(text)
            .map(Self)
            .map_err(|e| Error::new(ErrorKind::ExpectedFailures, e.to_string()))
    }

    /// The reason `id` is expected to fail, if it is.
    pub fn reason(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// Every listed id, for spotting entries that name no scenario.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The failures of `report` as a starting file: every scenario that failed (expected or
    /// not), with its reason from `self` when it has one, else a placeholder to fill in.
    /// Scenarios that now pass are left out, so their entries disappear.
    pub fn from_report(&self, report: &crate::RunReport) -> Self {
        Self(
            report
                .failed_ids()
                .into_iter()
                .map(|id| {
                    let reason = self.reason(id).unwrap_or(PLACEHOLDER);
                    (id.to_owned(), reason.to_owned())
                })
                .collect(),
        )
    }

    /// The TOML text, with a header saying how to use it.
    pub fn to_toml(&self, sdk: &crate::SdkInfo) -> String {
        let mut out = format!(
            "# Scenarios {} {} is known to fail, with why. Written by \
             `prelude-conformance --write-expected-failures`;\n# give each its reason and \
             remove an entry once its scenario passes.\n",
            sdk.name, sdk.version
        );
        for (id, reason) in &self.0 {
            // Both are TOML basic strings: the `Display` of a `toml::Value` quotes and escapes.
            out.push_str(&format!(
                "{} = {}\n",
                toml::Value::String(id.clone()),
                toml::Value::String(reason.clone())
            ));
        }
        out
    }
}

/// The reason written for a failure nobody has explained yet.
const PLACEHOLDER: &str = "TODO: why it fails";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_looked_up_by_scenario_id() {
        let expected = ExpectedFailures::parse(r#""logout: X" = "wipes late""#).expect("parses");
        assert_eq!(expected.reason("logout: X"), Some("wipes late"));
        assert_eq!(expected.reason("logout: Y"), None);
    }

    #[test]
    fn a_written_file_reads_back_with_its_reasons() {
        let sdk = crate::SdkInfo {
            name: "sdk".into(),
            version: "1".into(),
            language: "rust".into(),
        };
        let mut expected = ExpectedFailures::none();
        expected
            .0
            .insert("logout: \"quoted\" X".into(), "wipes late".into());
        let text = expected.to_toml(&sdk);
        assert_eq!(ExpectedFailures::parse(&text).expect("parses"), expected);
    }

    #[test]
    fn a_non_string_reason_is_an_error() {
        assert!(ExpectedFailures::parse(r#""logout: X" = 3"#).is_err());
    }
}
