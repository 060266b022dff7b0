//! Line numbers of keys in a scenario's YAML text.
//!
//! Serde deserializes a scenario without keeping positions, so when
//! validation later finds an impossible value it asks [`KeyLines`] for the
//! line of the offending key. Paths join mapping keys with `.` and append
//! sequence indexes as `[i]`, e.g. `pools[0].reservoir.guard_window`.
//!
//! Lines come from `yaml_rust2`'s marked event parser, whose markers are
//! already 1-based (the first line of the file is line 1).

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::Problem;

/// Deepest nesting of YAML collections a scenario may have (a scenario needs
/// five: the file, `pools`, a pool, its `reservoir`, a latency distribution).
pub const MAX_NESTING: usize = 32;

/// Most nodes a scenario may expand to once its aliases (`*name`) are
/// followed: aliases of aliases can otherwise multiply a small file into
/// billions of nodes.
pub const MAX_EXPANDED_NODES: u64 = 1_000_000;

/// Collections nested deeper than this are still parsed, but keys below it
/// are not recorded, so pathological input cannot build huge path strings.
const MAX_DEPTH: usize = 256;

/// Line numbers of every key in a YAML document, by path.
///
/// Paths are mapping keys joined by `.`, with sequence items written as
/// `[i]` after their parent key: `duration`, `pools[0]`,
/// `pools[0].reservoir.guard_window`, `assertions[1].min`, `matrix[1][0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLines {
    lines: BTreeMap<String, usize>,
}

/// One open collection while walking the event stream.
#[derive(Debug)]
enum Frame {
    /// A mapping; `path` is `None` inside ignored (complex-key or too deep)
    /// subtrees.
    Mapping {
        path: Option<String>,
        /// True when the next node is a key, false when it is a value.
        expect_key: bool,
        /// Path of the value that follows the current key.
        value_path: Option<String>,
    },
    /// A sequence and the index of its next item.
    Sequence { path: Option<String>, next: usize },
}

/// Event receiver that records the line of every key and sequence item.
#[derive(Debug, Default)]
struct Collector {
    stack: Vec<Frame>,
    lines: BTreeMap<String, usize>,
}

impl Collector {
    fn record(&mut self, path: &str, line: usize) {
        // The first occurrence wins for duplicate keys.
        self.lines.entry(path.to_string()).or_insert(line);
    }

    /// Called when a node (scalar, alias or collection) begins. Returns the
    /// path of the node itself, if it is a value worth tracking.
    fn begin_node(&mut self, key_text: Option<&str>, line: usize) -> Option<String> {
        let depth_ok = self.stack.len() < MAX_DEPTH;
        let mut record = None;
        let node_path = match self.stack.last_mut() {
            // The document's root node: keys below it have no prefix.
            None => Some(String::new()),
            Some(Frame::Mapping {
                path,
                expect_key: true,
                value_path,
            }) => {
                // A key. Only scalar keys name a path; complex keys (and
                // aliases used as keys) are skipped along with their values.
                *value_path = match (path.as_deref(), key_text) {
                    (Some(parent), Some(key)) if depth_ok => {
                        let p = if parent.is_empty() {
                            key.to_string()
                        } else {
                            format!("{parent}.{key}")
                        };
                        record = Some(p.clone());
                        Some(p)
                    }
                    _ => None,
                };
                // Nodes inside a key are never tracked.
                None
            }
            Some(Frame::Mapping {
                expect_key: false,
                value_path,
                ..
            }) => value_path.clone(),
            Some(Frame::Sequence { path, next }) => match path.as_deref() {
                Some(parent) if depth_ok => {
                    let p = format!("{parent}[{next}]");
                    record = Some(p.clone());
                    Some(p)
                }
                _ => None,
            },
        };
        if let Some(p) = record {
            self.record(&p, line);
        }
        node_path
    }

    /// Called when a node has been fully read.
    fn end_node(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { expect_key, .. }) => *expect_key = !*expect_key,
            Some(Frame::Sequence { next, .. }) => *next += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(text, ..) => {
                self.begin_node(Some(&text), line);
                self.end_node();
            }
            Event::Alias(_) => {
                self.begin_node(None, line);
                self.end_node();
            }
            Event::MappingStart(..) => {
                let path = self.begin_node(None, line);
                self.stack.push(Frame::Mapping {
                    path,
                    expect_key: true,
                    value_path: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.begin_node(None, line);
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.end_node();
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Keys whose values are strings: a plain scalar there that YAML reads as a
/// number or a boolean (`name: 123`, `name: true`) is refused, not converted.
const STRING_KEYS: [&str; 5] = [
    "name",
    "description",
    "start_time",
    "pools[].name",
    "assertions[].pool",
];

/// `pools[3].name` → `pools[].name`.
fn generic_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether a plain scalar is a number, a boolean or null in YAML 1.2's core
/// schema (what serde_yaml resolves it to).
fn plain_is_not_a_string(v: &str) -> Option<&'static str> {
    match v {
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Some("a boolean"),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Some("a number"),
        _ => {}
    }
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    if let Some(h) = body.strip_prefix("0x") {
        return (!h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit())).then_some("a number");
    }
    if let Some(o) = body.strip_prefix("0o") {
        return (!o.is_empty() && o.chars().all(|c| ('0'..='7').contains(&c)))
            .then_some("a number");
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = mantissa.chars().filter(|c| c.is_ascii_digit()).count();
    let dots = mantissa.chars().filter(|&c| c == '.').count();
    let mantissa_ok =
        digits > 0 && dots <= 1 && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.');
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    (mantissa_ok && exponent_ok).then_some("a number")
}

/// A tag serde_yaml understands: YAML's own (`!!str`, `!!int`, ...).
fn core_tag(tag: &Option<Tag>) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == "tag:yaml.org,2002:" => Ok(()),
        Some(t) => Err(format!(
            "YAML tag '{}{}' is not supported: a scenario is plain YAML (remove the tag)",
            if t.handle.is_empty() { "!" } else { &t.handle },
            t.suffix
        )),
    }
}

/// Read a scenario's YAML text once, in time linear in its length, before
/// anything else parses it: record the line of every key, and refuse what
/// would make a parser slow or misleading:
///
/// - collections nested deeper than [`MAX_NESTING`] (libyaml's work grows
///   with the square of the depth: 100,000 levels take minutes);
/// - aliases that expand to more than [`MAX_EXPANDED_NODES`] nodes;
/// - YAML tags other than the core ones (`!foo`);
/// - a number or boolean where a string is expected (`name: 123`);
/// - a second document (`---`);
/// - any YAML syntax error (with its line).
pub fn scan(text: &str) -> Result<KeyLines, Problem> {
    let fail = |line: usize, path: &str, message: String| Problem {
        line: Some(line),
        path: path.to_string(),
        message,
        option: None,
    };
    let mut collector = Collector::default();
    let mut parser = Parser::new_from_str(text);
    // Expanded size of each anchored node, and of every open collection.
    let mut anchored: BTreeMap<usize, u64> = BTreeMap::new();
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut expanded: u64 = 0;
    let mut documents = 0;
    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                if e.info().contains("recursion limit") {
                    return Err(fail(
                        m.line(),
                        "",
                        format!(
                            "YAML collections nested more than {MAX_NESTING} deep; a scenario needs at most 5"
                        ),
                    ));
                }
                return Err(fail(
                    m.line(),
                    "",
                    format!("YAML syntax error: {} (column {})", e.info(), m.col() + 1),
                ));
            }
        };
        let line = mark.line();
        // Size added by this event to the enclosing collections.
        let mut add = 0;
        match &ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(fail(
                        line,
                        "",
                        "a scenario is one YAML document; remove the second ('---')".into(),
                    ));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                core_tag(tag).map_err(|m| fail(line, "", m))?;
                add = 1;
                if *anchor > 0 {
                    anchored.insert(*anchor, 1);
                }
                let is_value = matches!(
                    collector.stack.last(),
                    Some(Frame::Mapping {
                        expect_key: false,
                        ..
                    })
                );
                if is_value && *style == TScalarStyle::Plain && tag.is_none() {
                    if let Some(Frame::Mapping {
                        value_path: Some(path),
                        ..
                    }) = collector.stack.last()
                    {
                        if STRING_KEYS.contains(&generic_path(path).as_str()) {
                            if let Some(what) = plain_is_not_a_string(value) {
                                return Err(fail(
                                    line,
                                    path,
                                    format!("must be a string, not {what}: quote it (\"{value}\")"),
                                ));
                            }
                        }
                    }
                }
            }
            Event::Alias(id) => {
                add = anchored.get(id).copied().unwrap_or(1);
            }
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) => {
                core_tag(tag).map_err(|m| fail(line, "", m))?;
                open.push((*anchor, 1));
                if open.len() > MAX_NESTING {
                    return Err(fail(
                        line,
                        "",
                        format!(
                            "YAML collections nested more than {MAX_NESTING} deep; a scenario needs at most 5"
                        ),
                    ));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some((anchor, size)) = open.pop() {
                    if anchor > 0 {
                        anchored.insert(anchor, size);
                    }
                    add = size;
                }
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
        if add > 0 {
            match open.last_mut() {
                Some((_, size)) => *size = size.saturating_add(add),
                None => expanded = expanded.saturating_add(add),
            }
            let total = open
                .iter()
                .fold(expanded, |acc, &(_, s)| acc.saturating_add(s));
            if total > MAX_EXPANDED_NODES {
                return Err(fail(
                    line,
                    "",
                    format!(
                        "the scenario's aliases expand to more than {MAX_EXPANDED_NODES} YAML nodes"
                    ),
                ));
            }
        }
        collector.on_event(ev, mark);
    }
    Ok(KeyLines {
        lines: collector.lines,
    })
}

/// The parent of a path: `a.b[2]` → `a.b`, `a.b` → `a`, `a` → `""`.
fn parent_path(path: &str) -> &str {
    if path.ends_with(']') {
        if let Some(open) = path.rfind('[') {
            return &path[..open];
        }
    }
    match path.rfind('.') {
        Some(dot) => &path[..dot],
        None => "",
    }
}

impl KeyLines {
    /// Collect the line of every key in the first document of `text`.
    ///
    /// Never fails: on a YAML syntax error it returns what it collected up
    /// to the error (serde reports syntax errors itself). Anchors and
    /// aliases are tolerated; an alias's contents are not expanded.
    pub fn parse(text: &str) -> KeyLines {
        let mut collector = Collector::default();
        // Driving the parser event by event (rather than `Parser::load`)
        // keeps the walk iterative, so deeply nested input cannot exhaust
        // the stack. Stop at the first error, the end of the first
        // document, or the end of the stream; the parser must not be asked
        // for events past the end of the stream.
        let mut parser = Parser::new_from_str(text);
        while let Ok((ev, mark)) = parser.next_token() {
            let last = matches!(ev, Event::StreamEnd | Event::DocumentEnd);
            collector.on_event(ev, mark);
            if last {
                break;
            }
        }
        KeyLines {
            lines: collector.lines,
        }
    }

    /// 1-based line of the key at `path`.
    ///
    /// `path` is like `"duration"`, `"pools[0].reservoir.guard_window"`,
    /// `"assertions[1].min"`, or `"pools[2]"` (the line where that sequence
    /// item starts). If the exact path is absent, the nearest existing
    /// ancestor's line is returned, so `"pools[0].reservoir.jitter"` with no
    /// `jitter` key gives the line of `"pools[0].reservoir"`. `None` only if
    /// neither the path nor any ancestor exists.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        if let Some(&line) = self.lines.get(path) {
            return Some(line);
        }
        let mut current = parent_path(path);
        while !current.is_empty() {
            if let Some(&line) = self.lines.get(current) {
                return Some(line);
            }
            current = parent_path(current);
        }
        None
    }

    /// Whether the exact path was written (a key or a sequence item).
    pub fn has(&self, path: &str) -> bool {
        self.lines.contains_key(path)
    }

    /// Number of recorded paths (keys and sequence items).
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when no key was recorded (empty, scalar-only or unparsable text).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Every recorded path with its 1-based line, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.lines.iter().map(|(p, &l)| (p.as_str(), l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SCENARIO: &str = r#"name: "Reservoir Basic"
pools:
  - name: history
    target_size: 50
    reservoir:
      enabled: true
      guard_window: 45s
workload:
  type: constant
assertions:
  - type: reservoir_hits_ratio
    min: 0.95
"#;

    #[test]
    fn realistic_scenario_lines() {
        let k = KeyLines::parse(SCENARIO);
        assert_eq!(k.line_of("name"), Some(1));
        assert_eq!(k.line_of("pools"), Some(2));
        assert_eq!(k.line_of("pools[0]"), Some(3));
        assert_eq!(k.line_of("pools[0].name"), Some(3));
        assert_eq!(k.line_of("pools[0].target_size"), Some(4));
        assert_eq!(k.line_of("pools[0].reservoir"), Some(5));
        assert_eq!(k.line_of("pools[0].reservoir.enabled"), Some(6));
        assert_eq!(k.line_of("pools[0].reservoir.guard_window"), Some(7));
        assert_eq!(k.line_of("workload"), Some(8));
        assert_eq!(k.line_of("workload.type"), Some(9));
        assert_eq!(k.line_of("assertions"), Some(10));
        assert_eq!(k.line_of("assertions[0]"), Some(11));
        assert_eq!(k.line_of("assertions[0].type"), Some(11));
        assert_eq!(k.line_of("assertions[0].min"), Some(12));
    }

    #[test]
    fn records_exactly_the_keys_and_items() {
        let k = KeyLines::parse(SCENARIO);
        let paths: Vec<&str> = k.iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "assertions",
                "assertions[0]",
                "assertions[0].min",
                "assertions[0].type",
                "name",
                "pools",
                "pools[0]",
                "pools[0].name",
                "pools[0].reservoir",
                "pools[0].reservoir.enabled",
                "pools[0].reservoir.guard_window",
                "pools[0].target_size",
                "workload",
                "workload.type",
            ]
        );
        assert_eq!(k.len(), 14);
        assert!(!k.is_empty());
    }

    #[test]
    fn missing_paths_fall_back_to_nearest_ancestor() {
        let k = KeyLines::parse(SCENARIO);
        assert_eq!(k.line_of("pools[0].reservoir.jitter"), Some(5));
        assert_eq!(k.line_of("pools[0].reservoir.jitter.max"), Some(5));
        assert_eq!(k.line_of("pools[3]"), Some(2));
        assert_eq!(k.line_of("pools[3].name"), Some(2));
        assert_eq!(k.line_of("assertions[0].max"), Some(11));
        assert_eq!(k.line_of("workload.rate[2]"), Some(8));
        assert_eq!(k.line_of("duration"), None);
        assert_eq!(k.line_of("seed.value"), None);
        assert_eq!(k.line_of(""), None);
        assert_eq!(k.line_of("[0]"), None);
        // An empty key is found exactly but is nobody's ancestor.
        let k = KeyLines::parse("\"\": 1\nb: 2\n");
        assert_eq!(k.line_of(""), Some(1));
        assert_eq!(k.line_of("c"), None);
        assert_eq!(k.line_of("b.c"), Some(2));
    }

    #[test]
    fn parent_path_steps() {
        assert_eq!(parent_path("a.b[2]"), "a.b");
        assert_eq!(parent_path("a.b"), "a");
        assert_eq!(parent_path("a[1][2]"), "a[1]");
        assert_eq!(parent_path("a"), "");
        assert_eq!(parent_path("]"), "");
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# Scenario header\n\
                    \n\
                    name: x   # trailing comment\n\
                    \n\
                    # pools below\n\
                    pools:\n\
                    \n\
                    \x20 # first pool\n\
                    \x20 - name: a\n\
                    \n\
                    \x20   target_size: 3\n\
                    duration: 10m\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("name"), Some(3));
        assert_eq!(k.line_of("pools"), Some(6));
        assert_eq!(k.line_of("pools[0]"), Some(9));
        assert_eq!(k.line_of("pools[0].name"), Some(9));
        assert_eq!(k.line_of("pools[0].target_size"), Some(11));
        assert_eq!(k.line_of("duration"), Some(12));
    }

    #[test]
    fn flow_style() {
        let text = "name: flow\n\
                    pools: [{name: a, target_size: 3},\n\
                    \x20       {name: b,\n\
                    \x20        target_size: 4}]\n\
                    ports: [1, 2,\n\
                    \x20 3]\n\
                    workload: {type: constant, rate: 5}\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("pools"), Some(2));
        assert_eq!(k.line_of("pools[0]"), Some(2));
        assert_eq!(k.line_of("pools[0].name"), Some(2));
        assert_eq!(k.line_of("pools[0].target_size"), Some(2));
        assert_eq!(k.line_of("pools[1]"), Some(3));
        assert_eq!(k.line_of("pools[1].name"), Some(3));
        assert_eq!(k.line_of("pools[1].target_size"), Some(4));
        assert_eq!(k.line_of("ports[1]"), Some(5));
        assert_eq!(k.line_of("ports[2]"), Some(6));
        assert_eq!(k.line_of("workload.type"), Some(7));
        assert_eq!(k.line_of("workload.rate"), Some(7));
    }

    #[test]
    fn nested_sequences_and_maps() {
        let text = "matrix:\n\
                    \x20 - - 1\n\
                    \x20   - 2\n\
                    \x20 - - a: 1\n\
                    \x20     b:\n\
                    \x20       - c: 2\n\
                    \x20         d: [x, {e: 3}]\n\
                    top:\n\
                    \x20 mid:\n\
                    \x20   leaf: 1\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("matrix"), Some(1));
        assert_eq!(k.line_of("matrix[0]"), Some(2));
        assert_eq!(k.line_of("matrix[0][0]"), Some(2));
        assert_eq!(k.line_of("matrix[0][1]"), Some(3));
        assert_eq!(k.line_of("matrix[1]"), Some(4));
        assert_eq!(k.line_of("matrix[1][0].a"), Some(4));
        assert_eq!(k.line_of("matrix[1][0].b"), Some(5));
        assert_eq!(k.line_of("matrix[1][0].b[0]"), Some(6));
        assert_eq!(k.line_of("matrix[1][0].b[0].c"), Some(6));
        assert_eq!(k.line_of("matrix[1][0].b[0].d"), Some(7));
        assert_eq!(k.line_of("matrix[1][0].b[0].d[1].e"), Some(7));
        assert_eq!(k.line_of("top.mid.leaf"), Some(10));
    }

    #[test]
    fn sequence_item_on_its_own_line() {
        let text = "pools:\n-\n  name: a\n- name: b\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("pools[0].name"), Some(3));
        assert_eq!(k.line_of("pools[1].name"), Some(4));
        assert!(k.line_of("pools[0]").is_some());
    }

    #[test]
    fn first_line_is_line_one() {
        let k = KeyLines::parse("a: 1\nb: 2\n");
        assert_eq!(k.line_of("a"), Some(1));
        assert_eq!(k.line_of("b"), Some(2));
        let k = KeyLines::parse("---\na: 1\n");
        assert_eq!(k.line_of("a"), Some(2));
    }

    #[test]
    fn complex_keys_are_ignored() {
        let text = "? [a, b]\n: {inner: 1}\n? {k: v}\n: 2\nplain: 3\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("plain"), Some(5));
        assert_eq!(k.line_of("inner"), None);
        assert_eq!(k.line_of("k"), None);
        assert_eq!(k.len(), 1);
    }

    #[test]
    fn non_string_scalar_keys_are_recorded_as_written() {
        let k = KeyLines::parse("1: one\ntrue: yes\n\"quoted key\": 2\n");
        assert_eq!(k.line_of("1"), Some(1));
        assert_eq!(k.line_of("true"), Some(2));
        assert_eq!(k.line_of("quoted key"), Some(3));
    }

    #[test]
    fn anchors_and_aliases_do_not_crash() {
        let text = "defaults: &d\n\
                    \x20 target_size: 5\n\
                    pools:\n\
                    \x20 - <<: *d\n\
                    \x20   name: a\n\
                    \x20 - *d\n\
                    \x20 - name: *d\n\
                    after: 1\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("defaults.target_size"), Some(2));
        assert_eq!(k.line_of("pools[0].<<"), Some(4));
        assert_eq!(k.line_of("pools[0].name"), Some(5));
        assert_eq!(k.line_of("pools[1]"), Some(6));
        assert_eq!(k.line_of("pools[2].name"), Some(7));
        assert_eq!(k.line_of("after"), Some(8));
        // Alias used as a key is skipped with its value.
        let k = KeyLines::parse("a: &x k\n*x : 1\nb: 2\n");
        assert_eq!(k.line_of("a"), Some(1));
        assert_eq!(k.line_of("b"), Some(3));
        assert_eq!(k.len(), 2);
    }

    #[test]
    fn syntax_error_keeps_what_came_before() {
        let text = "name: ok\nworkload:\n  type: constant\n  rate: [1, 2\nlater: 3\n";
        let k = KeyLines::parse(text);
        assert_eq!(k.line_of("name"), Some(1));
        assert_eq!(k.line_of("workload.type"), Some(3));
        assert_eq!(k.line_of("later"), None);
        let k = KeyLines::parse("a: 1\n b: 2\n\tc: [\n");
        assert!(k.len() <= 2);
    }

    #[test]
    fn degenerate_documents() {
        for text in [
            "",
            "\n\n",
            "# only a comment\n",
            "just a scalar",
            "- 1\n- 2\n",
            "~",
        ] {
            let k = KeyLines::parse(text);
            assert_eq!(k.line_of("anything"), None, "{text:?}");
        }
        let k = KeyLines::parse("- a: 1\n- b: 2\n");
        assert_eq!(k.line_of("[1].b"), Some(2));
        assert_eq!(k.line_of("[0]"), Some(1));
    }

    #[test]
    fn only_first_document_is_read() {
        let k = KeyLines::parse("a: 1\n---\nb: 2\n");
        assert_eq!(k.line_of("a"), Some(1));
        assert_eq!(k.line_of("b"), None);
    }

    #[test]
    fn duplicate_keys_keep_first_line() {
        let k = KeyLines::parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(k.line_of("a"), Some(1));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 20_000;
        let flow = format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let k = KeyLines::parse(&flow);
        assert_eq!(k.line_of("a"), Some(1));
        let block = format!("b: {}x\n", "- ".repeat(depth));
        let k = KeyLines::parse(&block);
        assert_eq!(k.line_of("b"), Some(1));
        assert_eq!(k.line_of("b[0][0]"), Some(1));
        let keys: String = (0..1_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let k = KeyLines::parse(&keys);
        assert_eq!(k.line_of("k.k"), Some(2));
        assert!(k.len() <= MAX_DEPTH);
    }

    #[test]
    fn crlf_line_endings() {
        let k = KeyLines::parse("a: 1\r\nb:\r\n  c: 2\r\n");
        assert_eq!(k.line_of("a"), Some(1));
        assert_eq!(k.line_of("b.c"), Some(3));
    }

    proptest! {
        #[test]
        fn prop_parse_never_panics(text in "\\PC{0,80}") {
            let k = KeyLines::parse(&text);
            for (path, line) in k.iter() {
                prop_assert!(line >= 1);
                prop_assert_eq!(k.line_of(path), Some(line));
            }
        }

        #[test]
        fn prop_parse_never_panics_yamlish(text in "[-:?&*!|>\\[\\]{},#'\" \na-c0-9\t]{0,120}") {
            let k = KeyLines::parse(&text);
            let lines = text.lines().count().max(1) + 1;
            for (_, line) in k.iter() {
                prop_assert!(line >= 1 && line <= lines);
            }
        }

        #[test]
        fn prop_generated_mapping_lines(
            keys in proptest::collection::btree_set("[a-z]{1,8}", 1..20),
            blanks in proptest::collection::vec(0usize..3, 20),
        ) {
            let mut text = String::new();
            let mut line = 1;
            let mut want = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                for _ in 0..blanks[i] {
                    text.push_str("# c\n");
                    line += 1;
                }
                text.push_str(&format!("{key}:\n  - x: {i}\n"));
                want.push((key.clone(), line));
                line += 2;
            }
            let k = KeyLines::parse(&text);
            for (key, l) in want {
                prop_assert_eq!(k.line_of(&key), Some(l));
                prop_assert_eq!(k.line_of(&format!("{key}[0]")), Some(l + 1));
                prop_assert_eq!(k.line_of(&format!("{key}[0].x")), Some(l + 1));
                prop_assert_eq!(k.line_of(&format!("{key}[0].y")), Some(l + 1));
            }
        }
    }
}
