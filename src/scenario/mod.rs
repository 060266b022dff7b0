//! Scenarios: the YAML schema, its defaults and validation, and building the
//! world a scenario describes.
//!
//! [`load`] reads a file (or standard input, `-`) with a size cap,
//! [`parse`] a string; [`load_with`] and [`parse_with`] apply command-line
//! [`overrides`] to the document first. The text is scanned once in linear
//! time ([`locate::scan`]: nesting depth, aliases, tags, strings, syntax,
//! the line of every key) before serde reads it. Unknown keys and wrong types
//! come from serde with their line; impossible values are found by
//! validation, all of them at once, each with the key's path and line, and so
//! are scenarios whose estimated memory or event count is over the limits
//! ([`budget`]). Nothing runs until the whole scenario is valid.

pub mod budget;
pub mod build;
pub mod locate;
pub mod overrides;
pub mod schema;

pub use build::{AssertionDef, Check, Defaults, Scenario, ScenarioSource};
pub use overrides::Override;

use serde::Deserialize;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Most bytes of scenario text read (a scenario is a few kilobytes; 10,000
/// pools written out in full are about 2 MB).
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// One thing wrong with a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Key path, e.g. `pools[0].reservoir.guard_window`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The command-line override that caused it (`--duration 720h`), shown
    /// instead of the file and line.
    pub option: Option<String>,
}

impl Problem {
    fn at_file(message: impl Into<String>) -> Problem {
        Problem {
            line: None,
            path: String::new(),
            message: message.into(),
            option: None,
        }
    }
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
            let place = match (&p.option, p.line) {
                (Some(o), _) => o.clone(),
                (None, Some(l)) => format!("{}:{l}", self.source),
                (None, None) => self.source.clone(),
            };
            if p.path.is_empty() {
                write!(f, "{place}: {}", p.message)?;
            } else {
                write!(f, "{place}: {}: {}", p.path, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A scenario's text, read from a file or standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The text (a UTF-8 byte-order mark removed).
    pub text: String,
    /// How errors name it: the path, or `<stdin>`.
    pub name: String,
    /// The default scenario name: the file stem, or `stdin`.
    pub stem: String,
}

/// Read a scenario's text from `path` (`-` is standard input), at most
/// [`MAX_SCENARIO_BYTES`]: a larger or endless input (`/dev/zero`) is refused
/// after reading that much, and so is text that is not UTF-8.
pub fn read_source(path: &Path) -> Result<Source, ScenarioError> {
    let stdin = path.as_os_str() == "-";
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let fail = |message: String| ScenarioError {
        source: name.clone(),
        problems: vec![Problem::at_file(message)],
    };
    let mut bytes = Vec::new();
    let read = if stdin {
        std::io::stdin()
            .lock()
            .take(MAX_SCENARIO_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(fail("is a directory, not a scenario file".into())),
            _ => {}
        }
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| fail(format!("cannot read the scenario: {e}")))?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(fail(format!(
            "is larger than {} MiB; a scenario is a few kilobytes (is this the right file?)",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    let stem = if stdin {
        "stdin".to_string()
    } else {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    };
    Ok(Source { text, name, stem })
}

/// Read and validate a scenario file (`-`: standard input).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with(path, &[])
}

/// Read a scenario file, apply `overrides`, and validate the result.
pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let src = read_source(path)?;
    parse_with(&src.text, &src.name, &src.stem, overrides)
        .map(|sc| sc.with_source(&src.name, src.text.as_bytes()))
}

/// Parse and validate scenario text; `source` names it in errors, `stem` is
/// the default name.
pub fn parse(text: &str, source: &str, stem: &str) -> Result<Scenario, ScenarioError> {
    parse_with(text, source, stem, &[])
}

/// A serde_yaml error as a problem at its line.
fn yaml_problem(e: &serde_yaml::Error) -> Problem {
    let line = e.location().map(|l| l.line());
    // serde_yaml appends " at line L column C"; the line is already in front.
    let msg = e.to_string();
    let message = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    Problem {
        line,
        path: String::new(),
        message,
        option: None,
    }
}

/// [`parse`] with `overrides` applied to the document before validation. A
/// problem that an override caused names the override (`--duration 720h`)
/// instead of a line: at the key it set, in its place; elsewhere (a limit its
/// value breaks) with the override added to the message.
pub fn parse_with(
    text: &str,
    source: &str,
    stem: &str,
    overrides: &[Override],
) -> Result<Scenario, ScenarioError> {
    let fail = |problems: Vec<Problem>| ScenarioError {
        source: source.to_string(),
        problems,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = locate::scan(text).map_err(|p| fail(vec![p]))?;
    let base: Result<schema::ScenarioFile, Problem> =
        serde_yaml::from_str(text).map_err(|e| yaml_problem(&e));
    if overrides.is_empty() {
        return build::build(base.map_err(|p| fail(vec![p]))?, &lines, stem).map_err(fail);
    }
    // The file must be a scenario by itself; overrides change its values.
    let base = base.map_err(|p| fail(vec![p]))?;
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| fail(vec![yaml_problem(&e)]))?;
    let option_problem = |o: &Override, path: &str, message: String| Problem {
        line: None,
        path: path.to_string(),
        message,
        option: Some(o.label().to_string()),
    };
    let mut set: Vec<(usize, String)> = Vec::new();
    for (i, o) in overrides.iter().enumerate() {
        let paths = o
            .apply(&mut doc)
            .map_err(|m| fail(vec![option_problem(o, "", m)]))?;
        // The document must still read as a scenario: the first override
        // after which it does not is the one to blame.
        if let Err(e) = schema::ScenarioFile::deserialize(doc.clone()) {
            let m = e.to_string();
            let m = match m.rfind(" at line ") {
                Some(i) => m[..i].to_string(),
                None => m,
            };
            return Err(fail(vec![option_problem(o, o.key(), m)]));
        }
        set.extend(paths.into_iter().map(|p| (i, p)));
    }
    let file = schema::ScenarioFile::deserialize(doc).map_err(|e| fail(vec![yaml_problem(&e)]))?;
    match build::build(file, &lines, stem) {
        Ok(sc) => Ok(sc),
        Err(problems) => {
            let before = build::build(base, &lines, stem).err().unwrap_or_default();
            let all: Vec<&str> = overrides.iter().map(|o| o.label()).collect();
            let problems = problems
                .into_iter()
                .map(|mut p| {
                    if let Some((i, _)) = set.iter().find(|(_, s)| overrides::concerns(s, &p.path))
                    {
                        p.option = Some(overrides[*i].label().to_string());
                        p.line = None;
                    } else if !before
                        .iter()
                        .any(|b| b.path == p.path && b.message == p.message)
                    {
                        p.message = format!("{} (with {})", p.message, all.join(", "));
                    }
                    p
                })
                .collect();
            Err(fail(problems))
        }
    }
}
