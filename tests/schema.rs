//! `poolsim schema` and `poolsim init`: the JSON Schema is generated from the
//! parser's own types, so it accepts every shipped scenario, knows exactly
//! the keys and values the parser knows, and the starter scenarios validate.

use poolsim::schema_json::scenario_schema;
use poolsim::starter::{starter, StarterMode};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&scenario_schema()).expect("the schema is a valid JSON Schema")
}

/// A YAML scenario as the JSON value the schema describes.
fn yaml_to_json(text: &str) -> Value {
    serde_yaml::from_str(text).expect("YAML")
}

fn schema_errors(v: &jsonschema::Validator, text: &str) -> Vec<String> {
    v.iter_errors(&yaml_to_json(text))
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn shipped() -> Vec<(String, String)> {
    let mut files: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    files.sort();
    assert!(files.len() >= 5);
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_shipped_scenario_validates_against_the_schema() {
    let v = validator();
    for (name, text) in shipped() {
        assert!(
            poolsim::scenario::parse(&text, &name, "s").is_ok(),
            "{name}"
        );
        let errors = schema_errors(&v, &text);
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn the_schema_refuses_what_the_parser_refuses_while_reading() {
    let v = validator();
    for (bad, why) in [
        ("pools: []\ncolour: red\n", "unknown top-level key"),
        (
            "pools: [{name: a, target_size: 5, reservoir: {enable: true}}]\n",
            "unknown nested key",
        ),
        ("pools: [{name: a}]\n", "missing target_size"),
        ("duration: 30\npools: []\n", "a duration without unit"),
        ("duration: 5 minutes\npools: []\n", "not Go syntax"),
        ("pools: [{name: a, target_size: -1}]\n", "negative size"),
        (
            "workload: {type: steady}\npools: []\n",
            "unknown workload type",
        ),
        (
            "assertions: [{type: hit_ratio, min: 0.9}]\npools: []\n",
            "unknown assertion type",
        ),
        ("description: \"\"\n", "pools is required"),
    ] {
        assert!(!v.is_valid(&yaml_to_json(bad)), "{why}: {bad}");
        assert!(
            poolsim::scenario::parse(bad, "s.yaml", "s").is_err(),
            "{why}: {bad}"
        );
    }
}

// ---- The schema knows every key and value the parser knows. ----

#[derive(Clone, Debug)]
enum Seg {
    Prop(String),
    Item,
    Branch(usize),
}

fn resolve<'a>(root: &'a Value, mut n: &'a Value) -> &'a Value {
    while let Some(r) = n.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        n = &root["$defs"][name];
        assert!(!n.is_null(), "dangling {r}");
    }
    n
}

fn branches(n: &Value) -> Option<&Vec<Value>> {
    n.get("anyOf")
        .or_else(|| n.get("oneOf"))
        .and_then(Value::as_array)
}

/// The values of an enumeration (`enum`, or `oneOf` of `const`s).
fn enum_values(n: &Value) -> Option<Vec<String>> {
    if let Some(e) = n.get("enum").and_then(Value::as_array) {
        return Some(e.iter().map(|v| v.as_str().unwrap().to_string()).collect());
    }
    let b = branches(n)?;
    b.iter()
        .map(|x| x.get("const").and_then(Value::as_str).map(String::from))
        .collect()
}

/// The smallest instance of a schema node that deserializes.
fn minimal(root: &Value, n: &Value) -> Value {
    let n = resolve(root, n);
    if let Some(props) = n.get("properties").and_then(Value::as_object) {
        let mut o = serde_json::Map::new();
        for r in n
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = r.as_str().unwrap();
            o.insert(k.into(), minimal(root, &props[k]));
        }
        return Value::Object(o);
    }
    if let Some(v) = enum_values(n) {
        return json!(v[0]);
    }
    if let Some(c) = n.get("const") {
        return c.clone();
    }
    if let Some(b) = branches(n) {
        let pick = b
            .iter()
            .find(|x| x.get("type") != Some(&json!("null")))
            .unwrap();
        return minimal(root, pick);
    }
    let ty = match n.get("type") {
        Some(Value::Array(ts)) => ts.iter().find(|t| *t != "null").unwrap().as_str().unwrap(),
        Some(Value::String(t)) => t.as_str(),
        other => panic!("no type: {other:?} in {n}"),
    };
    match ty {
        "string" if n.get("pattern").is_some() => json!("1s"),
        "string" => json!("x"),
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "array" => json!([]),
        "object" => json!({}),
        t => panic!("type {t}"),
    }
}

/// The root instance with `leaf` put at `path` (containers on the way minimal).
fn build(root: &Value, n: &Value, path: &[Seg], leaf: &Value) -> Value {
    let Some((seg, rest)) = path.split_first() else {
        return leaf.clone();
    };
    let n = resolve(root, n);
    match seg {
        Seg::Prop(k) => {
            let mut o = minimal(root, n);
            o[k.as_str()] = build(root, &n["properties"][k.as_str()], rest, leaf);
            o
        }
        Seg::Item => json!([build(root, &n["items"], rest, leaf)]),
        Seg::Branch(i) => build(root, &branches(n).unwrap()[*i], rest, leaf),
    }
}

/// Every object (with properties) and every enumeration reachable from `n`.
fn walk(
    root: &Value,
    n: &Value,
    path: Vec<Seg>,
    objects: &mut Vec<Vec<Seg>>,
    enums: &mut Vec<Vec<Seg>>,
    names: &mut BTreeSet<String>,
) {
    assert!(path.len() < 20, "schema too deep: {path:?}");
    if let Some(r) = n.get("$ref").and_then(Value::as_str) {
        names.insert(r.to_string());
    }
    let n = resolve(root, n);
    if let Some(props) = n.get("properties").and_then(Value::as_object) {
        objects.push(path.clone());
        for (k, p) in props {
            let mut q = path.clone();
            q.push(Seg::Prop(k.clone()));
            walk(root, p, q, objects, enums, names);
        }
    } else if enum_values(n).is_some() {
        enums.push(path);
    } else if let Some(b) = branches(n) {
        for (i, x) in b.iter().enumerate() {
            let mut q = path.clone();
            q.push(Seg::Branch(i));
            walk(root, x, q, objects, enums, names);
        }
    } else if n.get("items").is_some() {
        let mut q = path;
        q.push(Seg::Item);
        walk(root, &n["items"], q, objects, enums, names);
    }
}

/// The backquoted names after "expected" in a serde error.
fn expected_names(err: &str) -> BTreeSet<String> {
    let tail = &err[err
        .find("expected")
        .unwrap_or_else(|| panic!("no 'expected' in {err}"))..];
    let tail = tail.lines().next().unwrap();
    tail.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

fn parse_error(doc: &Value) -> String {
    let text = serde_json::to_string(doc).unwrap();
    match poolsim::scenario::parse(&text, "s.yaml", "s") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_schema_knows_every_key_and_value_the_parser_knows() {
    let root = scenario_schema();
    let (mut objects, mut enums, mut names) = (Vec::new(), Vec::new(), BTreeSet::new());
    walk(
        &root,
        &root,
        Vec::new(),
        &mut objects,
        &mut enums,
        &mut names,
    );
    // Every struct and enum of the file format is reached.
    for def in root["$defs"].as_object().unwrap().keys() {
        assert!(
            names.contains(&format!("#/$defs/{def}")),
            "{def} is never used"
        );
    }
    assert!(objects.len() >= 9, "{objects:?}");
    assert!(enums.len() >= 8, "{enums:?}");
    for path in &objects {
        let mut node = &root;
        for s in path {
            node = resolve(&root, node);
            node = match s {
                Seg::Prop(k) => &node["properties"][k.as_str()],
                Seg::Item => &node["items"],
                Seg::Branch(i) => &branches(node).unwrap()[*i],
            };
        }
        let obj = resolve(&root, node);
        let schema_keys: BTreeSet<String> = obj["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            obj["additionalProperties"],
            json!(false),
            "{path:?} allows unknown keys"
        );
        let mut leaf = minimal(&root, obj);
        leaf["zz_not_a_key"] = json!(1);
        let err = parse_error(&build(&root, &root, path, &leaf));
        assert!(
            err.contains("unknown field `zz_not_a_key`"),
            "{path:?}: {err}"
        );
        assert_eq!(
            expected_names(&err),
            schema_keys,
            "{path:?}: the parser's keys differ from the schema's"
        );
    }
    for path in &enums {
        let mut node = &root;
        for s in path {
            node = resolve(&root, node);
            node = match s {
                Seg::Prop(k) => &node["properties"][k.as_str()],
                Seg::Item => &node["items"],
                Seg::Branch(i) => &branches(node).unwrap()[*i],
            };
        }
        let values: BTreeSet<String> = enum_values(resolve(&root, node))
            .unwrap()
            .into_iter()
            .collect();
        let err = parse_error(&build(&root, &root, path, &json!("zz_not_a_value")));
        assert!(
            err.contains("unknown variant `zz_not_a_value`"),
            "{path:?}: {err}"
        );
        assert_eq!(
            expected_names(&err),
            values,
            "{path:?}: the parser's values differ from the schema's"
        );
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario.schema.json"),
    )
    .unwrap();
    assert!(
        committed == poolsim::schema_json::render(),
        "docs/scenario.schema.json is stale: run `cargo run --release -- schema > docs/scenario.schema.json`"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), committed);
}

#[test]
fn starter_scenarios_validate_and_pass() {
    let v = validator();
    let d = std::env::temp_dir().join(format!("poolsim-init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (mode, m) in [
        ("reservoir", StarterMode::Reservoir),
        ("pool", StarterMode::Pool),
    ] {
        let f = d.join(format!("{mode}.yaml"));
        let run = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_poolsim"))
                .args(args)
                .output()
                .unwrap()
        };
        let o = run(&["init", f.to_str().unwrap(), "--mode", mode]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text, starter(m));
        assert!(text.starts_with("# yaml-language-server: $schema="));
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with('#') || l.contains(" # "))
                .count()
                > 20,
            "commented"
        );
        let sc = poolsim::scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let stack = sc.world.pools[0].stack;
        assert_eq!(stack == poolsim::model::world::Stack::Plain, mode == "pool");
        assert!(
            schema_errors(&v, &text).is_empty(),
            "{mode}: {:?}",
            schema_errors(&v, &text)
        );
        let o = run(&["check", f.to_str().unwrap(), "--seeds", "1..2"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        // It does not overwrite, unless asked.
        let o = run(&["init", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
        let o = run(&["init", f.to_str().unwrap(), "--force", "--mode", mode]);
        assert_eq!(o.status.code(), Some(0));
        let o = run(&["init", "-", "--mode", mode]);
        assert_eq!(String::from_utf8(o.stdout).unwrap(), starter(m));
    }
}

proptest! {
    /// The schema's duration pattern accepts exactly what the parser reads.
    #[test]
    fn duration_pattern_matches_the_parser(s in "([0-9]{0,3}(\\.[0-9]{0,2})?(ns|us|µs|ms|s|m|h|x|)){0,3}|[0-9a-z.µ ]{0,6}") {
        let root = scenario_schema();
        let dur = json!({"$defs": root["$defs"], "$ref": "#/$defs/Duration"});
        let v = jsonschema::validator_for(&dur).unwrap();
        let parsed = poolsim::engine::time::parse_duration(&s);
        if let Err(e) = &parsed {
            prop_assume!(!e.contains("too large"));
        }
        prop_assert_eq!(v.is_valid(&json!(s)), parsed.is_ok(), "{:?}: {:?}", s, parsed);
    }
}
