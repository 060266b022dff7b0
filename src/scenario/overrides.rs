//! Overrides of scenario keys from the command line (`--seed`, `--duration`,
//! `--set KEY=VALUE`), applied to the scenario document **before** it is
//! validated, so that an override meets exactly the limits a value written in
//! the file meets.
//!
//! A key is a dotted path into the document: mapping keys joined by `.`, a
//! sequence item as `[N]`, every item as `[*]`:
//!
//! ```text
//! duration=2h
//! pools[0].reservoir.target_ready=30
//! pools[*].pool.max_lifetime=30m
//! workload={type: constant, checkout_rate: 50}
//! ```
//!
//! The value is read as YAML, as if written in the file after the key (`30` is
//! a number, `30m` a string, `true` a boolean, `{...}` a mapping). Mappings
//! missing on the way are created (`pools[0].reservoir.stack=database_sql` on a
//! pool without `reservoir:`); a missing sequence item is an error, and so is
//! a path through a value that is not a mapping or a sequence. Whether the key
//! exists and the value has the right type is decided by the schema when the
//! document is read, so an unknown key or a wrong type is an error that names
//! the override ([`Override::label`]), never a file line.
//!
//! Use: build the overrides with [`Override::parse_assignment`] (or
//! [`Override::new`], [`Override::seed`], [`Override::duration`]) and pass them
//! to [`super::parse_with`] or [`super::load_with`].

use serde_yaml::{Mapping, Value};
use std::fmt;

/// One step of an override's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence item.
    Index(usize),
    /// Every item of a sequence (`[*]`).
    All,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Key(k) => write!(f, "{k}"),
            Step::Index(i) => write!(f, "[{i}]"),
            Step::All => write!(f, "[*]"),
        }
    }
}

/// One override: a key path and the value to put there.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    label: String,
    key: String,
    path: Vec<Step>,
    value: Value,
}

/// Parse a key path: `a.b[2].c`, `pools[*].name`.
pub fn parse_key(key: &str) -> Result<Vec<Step>, String> {
    let bad = |why: &str| {
        format!("'{key}' is not a key path ({why}); write e.g. pools[0].reservoir.target_ready")
    };
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() && steps.is_empty() {
            return Err(bad("it must start with a key"));
        }
        if !name.is_empty() {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad(&format!("'{name}' is not a key name")));
            }
            steps.push(Step::Key(name.to_string()));
        } else if rest.is_empty() {
            return Err(bad("an empty key between dots"));
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(|| bad("a '[' without ']'"))?;
            let inner = &rest[1..close];
            steps.push(if inner == "*" {
                Step::All
            } else {
                Step::Index(
                    inner
                        .parse()
                        .map_err(|_| bad(&format!("'[{inner}]' is not an index or [*]")))?,
                )
            });
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad("text after ']'"));
            }
        }
    }
    Ok(steps)
}

impl Override {
    /// Set `key` to `value`; `label` names the override in errors (as the user
    /// wrote it, e.g. `--set duration=2h`).
    pub fn new(label: impl Into<String>, key: &str, value: Value) -> Result<Override, String> {
        Ok(Override {
            label: label.into(),
            key: key.to_string(),
            path: parse_key(key)?,
            value,
        })
    }

    /// `KEY=VALUE` given to `option` (`--set`, or another command's own
    /// option such as `--param`); VALUE is read as YAML. The label is
    /// `OPTION KEY=VALUE`.
    pub fn parse_assignment(option: &str, arg: &str) -> Result<Override, String> {
        let label = format!("{option} {arg}");
        let (key, text) = arg
            .split_once('=')
            .ok_or_else(|| format!("{label}: expected KEY=VALUE, e.g. {option} duration=2h"))?;
        let key = key.trim();
        let value = parse_value(text).map_err(|e| format!("{label}: {e}"))?;
        Override::new(label.clone(), key, value).map_err(|e| format!("{label}: {e}"))
    }

    /// `--seed N`.
    pub fn seed(seed: u64) -> Override {
        Override {
            label: format!("--seed {seed}"),
            key: "seed".into(),
            path: vec![Step::Key("seed".into())],
            value: Value::Number(seed.into()),
        }
    }

    /// `--duration D` (D as written: `90s`, `2h`).
    pub fn duration(text: &str) -> Override {
        Override {
            label: format!("--duration {text}"),
            key: "duration".into(),
            path: vec![Step::Key("duration".into())],
            value: Value::String(text.to_string()),
        }
    }

    /// How errors name it (`--set pools[0].target_size=5`, `--duration 2h`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key path as written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The parsed key path.
    pub fn path(&self) -> &[Step] {
        &self.path
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Put the value into `doc` (the scenario's document). Returns the concrete
    /// paths it set (`[*]` expanded: `pools[0].x`, `pools[1].x`), or why the
    /// path does not fit the document.
    pub fn apply(&self, doc: &mut Value) -> Result<Vec<String>, String> {
        let mut set = Vec::new();
        apply_at(doc, &self.path, &self.value, String::new(), &mut set)?;
        Ok(set)
    }
}

/// Read an override's value as a YAML scalar or flow collection.
pub fn parse_value(text: &str) -> Result<Value, String> {
    if text.len() > 64 * 1024 {
        return Err("the value is longer than 64 KiB".into());
    }
    // The same first pass a scenario file gets (depth, aliases, tags).
    super::locate::scan(text).map_err(|p| format!("the value is not valid YAML: {}", p.message))?;
    serde_yaml::from_str(text).map_err(|e| format!("the value is not valid YAML: {e}"))
}

fn join(parent: &str, step: &Step) -> String {
    match step {
        Step::Key(k) if parent.is_empty() => k.clone(),
        Step::Key(k) => format!("{parent}.{k}"),
        other => format!("{parent}{other}"),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn apply_at(
    node: &mut Value,
    path: &[Step],
    value: &Value,
    here: String,
    set: &mut Vec<String>,
) -> Result<(), String> {
    let Some((step, rest)) = path.split_first() else {
        *node = value.clone();
        set.push(here);
        return Ok(());
    };
    let at = if here.is_empty() {
        "the scenario".to_string()
    } else {
        here.clone()
    };
    match step {
        Step::Key(k) => {
            if node.is_null() {
                *node = Value::Mapping(Mapping::new());
            }
            let Value::Mapping(m) = node else {
                return Err(format!(
                    "{at} is {} in the scenario, not a mapping: there is no {} under it (set {at} whole instead)",
                    kind(node),
                    join(&here, step)
                ));
            };
            let key = Value::String(k.clone());
            if !m.contains_key(&key) {
                m.insert(key.clone(), Value::Null);
            }
            let child = m.get_mut(&key).expect("just inserted");
            apply_at(child, rest, value, join(&here, step), set)
        }
        Step::Index(i) => {
            let Value::Sequence(items) = node else {
                return Err(format!(
                    "{at} is {} in the scenario, not a list",
                    kind(node)
                ));
            };
            let n = items.len();
            let item = items.get_mut(*i).ok_or_else(|| {
                format!(
                    "{at} has {n} item{}: there is no {at}[{i}]",
                    if n == 1 { "" } else { "s" }
                )
            })?;
            apply_at(item, rest, value, join(&here, step), set)
        }
        Step::All => {
            let Value::Sequence(items) = node else {
                return Err(format!(
                    "{at} is {} in the scenario, not a list",
                    kind(node)
                ));
            };
            if items.is_empty() {
                return Err(format!("{at} is an empty list: {at}[*] matches nothing"));
            }
            for (i, item) in items.iter_mut().enumerate() {
                apply_at(item, rest, value, format!("{here}[{i}]"), set)?;
            }
            Ok(())
        }
    }
}

/// Whether a problem at `problem` concerns the overridden `set` path: the same
/// key, or a key inside it.
pub fn concerns(set: &str, problem: &str) -> bool {
    problem == set
        || (problem.len() > set.len()
            && problem.starts_with(set)
            && matches!(problem.as_bytes()[set.len()], b'.' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(y: &str) -> Value {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn key_paths() {
        assert_eq!(
            parse_key("pools[0].reservoir.target_ready").unwrap(),
            vec![
                Step::Key("pools".into()),
                Step::Index(0),
                Step::Key("reservoir".into()),
                Step::Key("target_ready".into())
            ]
        );
        assert_eq!(
            parse_key("pools[*].pool.max_lifetime").unwrap()[1],
            Step::All
        );
        assert_eq!(parse_key("m[1][2]").unwrap().len(), 3);
        for bad in ["", ".a", "a..b", "a[", "a[x]", "a[1]b", "a b", "[0]"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_creates_missing_mappings_and_expands_stars() {
        let mut d = doc("pools: [{name: a, target_size: 1}, {name: b, target_size: 2}]");
        let o =
            Override::parse_assignment("--set", "pools[*].reservoir.stack=database_sql").unwrap();
        assert_eq!(
            o.apply(&mut d).unwrap(),
            vec!["pools[0].reservoir.stack", "pools[1].reservoir.stack"]
        );
        assert_eq!(
            d["pools"][1]["reservoir"]["stack"],
            Value::String("database_sql".into())
        );
        let o = Override::parse_assignment("--set", "duration=2h").unwrap();
        o.apply(&mut d).unwrap();
        assert_eq!(d["duration"], Value::String("2h".into()));
        let o = Override::parse_assignment("--set", "pools[1].target_size=30").unwrap();
        o.apply(&mut d).unwrap();
        assert_eq!(d["pools"][1]["target_size"], Value::Number(30.into()));
        let o = Override::parse_assignment("--set", "workload={type: constant, checkout_rate: 5}")
            .unwrap();
        o.apply(&mut d).unwrap();
        assert!(d["workload"].is_mapping());
    }

    #[test]
    fn paths_that_do_not_fit_are_errors() {
        let mut d = doc("connect_latency: 20ms\npools: [{name: a, target_size: 1}]");
        let e = Override::parse_assignment("--set", "pools[3].target_size=1")
            .unwrap()
            .apply(&mut d)
            .unwrap_err();
        assert_eq!(e, "pools has 1 item: there is no pools[3]");
        let e = Override::parse_assignment("--set", "connect_latency.mean=5ms")
            .unwrap()
            .apply(&mut d)
            .unwrap_err();
        assert!(e.contains("connect_latency is a string"), "{e}");
        let e = Override::parse_assignment("--set", "name").unwrap_err();
        assert!(e.contains("expected KEY=VALUE"), "{e}");
        let e = Override::parse_assignment("--set", "a=!tag x").unwrap_err();
        assert!(e.contains("tag"), "{e}");
    }

    #[test]
    fn concerns_matches_the_key_and_what_is_inside() {
        assert!(concerns("duration", "duration"));
        assert!(concerns("workload", "workload.checkout_rate"));
        assert!(concerns("pools[0]", "pools[0].name"));
        assert!(!concerns(
            "pools[0].reservoir.target_ready",
            "pools[0].reservoir"
        ));
        assert!(!concerns("duration", "sample_every"));
        assert!(!concerns("pools[1].name", "pools[10].name"));
        assert!(!concerns("pools[0].name", ""));
    }
}
