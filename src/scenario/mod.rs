//! Scenarios: the YAML schema, its defaults and validation, and building the
//! world a scenario describes.
//!
//! [`load`] reads a file, [`parse`] a string. Syntax errors, unknown keys and
//! wrong types come from serde with their line and column; impossible values
//! are found by validation, all of them at once, each with the key's path and
//! line. Nothing runs until the whole scenario is valid.

pub mod build;
pub mod locate;
pub mod schema;

pub use build::{AssertionDef, Check, Defaults, Scenario, ScenarioSource};

use std::fmt;
use std::path::Path;

/// One thing wrong with a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Key path, e.g. `pools[0].reservoir.guard_window`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A scenario that cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `<input>`).
    pub source: String,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match (p.line, p.path.is_empty()) {
                (Some(l), false) => write!(f, "{}:{}: {}: {}", self.source, l, p.path, p.message)?,
                (Some(l), true) => write!(f, "{}:{}: {}", self.source, l, p.message)?,
                (None, false) => write!(f, "{}: {}: {}", self.source, p.path, p.message)?,
                (None, true) => write!(f, "{}: {}", self.source, p.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Read and validate a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        source: source.clone(),
        problems: vec![Problem {
            line: None,
            path: String::new(),
            message: format!("cannot read the scenario: {e}"),
        }],
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    parse(&text, &source, &stem).map(|sc| sc.with_source(&source, text.as_bytes()))
}

/// Parse and validate scenario text; `source` names it in errors, `stem` is
/// the default name.
pub fn parse(text: &str, source: &str, stem: &str) -> Result<Scenario, ScenarioError> {
    let file: schema::ScenarioFile = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        // serde_yaml appends " at line L column C"; the line is already in front.
        let msg = e.to_string();
        let message = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        ScenarioError {
            source: source.to_string(),
            problems: vec![Problem {
                line,
                path: String::new(),
                message,
            }],
        }
    })?;
    let lines = locate::KeyLines::parse(text);
    build::build(file, &lines, stem).map_err(|problems| ScenarioError {
        source: source.to_string(),
        problems,
    })
}
