//! JUnit XML of a check: a `testsuite` per scenario file, a `testcase` per
//! assertion x seed (with the assertion's file and line, and observed vs
//! threshold in the failure message), an `error` for an invalid file or a
//! run that could not complete. No timestamps or wall-clock times: the file
//! is a function of the verdicts, so a merge of shards writes the same bytes.

use super::record::{AssertionEntry, CheckReport, ScenarioEntry, Verdict};
use super::text::with_unit;
use std::fmt::Write;

/// Escape text for an XML attribute or element; characters XML 1.0 cannot
/// hold are dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn failure_message(a: &AssertionEntry, v: &Verdict) -> String {
    match v.observed {
        Some(o) => format!(
            "observed {} {} threshold {} ({})",
            with_unit(o, &a.unit),
            if a.comparison == ">=" { "<" } else { ">" },
            with_unit(a.threshold, &a.unit),
            a.unit
        ),
        None => format!(
            "nothing to measure (observed null); threshold {} {}",
            a.comparison,
            with_unit(a.threshold, &a.unit)
        ),
    }
}

struct Case {
    name: String,
    line: Option<usize>,
    /// (element, type, message, body)
    outcome: Option<(&'static str, &'static str, String, String)>,
    /// Text for `<system-out>` (a confidence bound, whatever its verdict).
    out: Option<String>,
}

fn cases(s: &ScenarioEntry) -> Vec<Case> {
    let mut out = Vec::new();
    if !s.problems.is_empty() {
        let body: Vec<String> = s
            .problems
            .iter()
            .map(|p| {
                let at = p
                    .line
                    .map(|l| format!("{}:{l}: ", s.file))
                    .unwrap_or_default();
                let key = if p.path.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", p.path)
                };
                format!("{at}{key}{}", p.message)
            })
            .collect();
        out.push(Case {
            name: "validate".into(),
            line: s.problems.iter().find_map(|p| p.line),
            outcome: Some((
                "error",
                "invalid",
                format!("invalid scenario: {} problem(s)", s.problems.len()),
                body.join("\n"),
            )),
            out: None,
        });
        return out;
    }
    for r in &s.results {
        if let Some(e) = &r.error {
            out.push(Case {
                name: format!("run, seed {}", r.seed),
                line: None,
                outcome: Some(("error", "run", e.clone(), e.clone())),
                out: None,
            });
            continue;
        }
        if s.assertions.is_empty() {
            out.push(Case {
                name: format!("run, seed {}", r.seed),
                line: None,
                outcome: None,
                out: None,
            });
        }
        for (a, v) in s.assertions.iter().zip(&r.assertions) {
            out.push(Case {
                name: format!("assertions[{}] {}, seed {}", a.index, a.label, r.seed),
                line: a.line,
                outcome: (!v.passed).then(|| {
                    (
                        "failure",
                        "assertion",
                        failure_message(a, v),
                        v.detail.clone(),
                    )
                }),
                out: None,
            });
        }
    }
    // An assertion with `confidence`: one more case, its bound across the seeds.
    for a in &s.assertions {
        let Some(b) = &a.bound else { continue };
        out.push(Case {
            name: format!(
                "assertions[{}] {}, {} {}% confidence bound over {} seeds",
                a.index,
                a.label,
                b.side,
                super::text::num(b.confidence * 100.0),
                b.seeds
            ),
            line: a.line,
            outcome: (!b.passed).then(|| {
                (
                    "failure",
                    "confidence",
                    format!(
                        "{} bound {} {} threshold {} ({})",
                        b.side,
                        b.bound.map_or("none".into(), |v| with_unit(v, &a.unit)),
                        if b.bound.is_some() {
                            if a.comparison == ">=" {
                                "<"
                            } else {
                                ">"
                            }
                        } else {
                            "vs"
                        },
                        with_unit(a.threshold, &a.unit),
                        a.unit
                    ),
                    b.detail.clone(),
                )
            }),
            out: Some(b.detail.clone()),
        });
    }
    out
}

/// The JUnit XML document.
pub fn render(r: &CheckReport) -> String {
    let suites: Vec<(&ScenarioEntry, Vec<Case>)> =
        r.scenarios.iter().map(|s| (s, cases(s))).collect();
    let count = |cs: &[Case], kind: &str| {
        cs.iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|o| o.0 == kind))
            .count()
    };
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for (_, cs) in &suites {
        tests += cs.len();
        failures += count(cs, "failure");
        errors += count(cs, "error");
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"poolsim check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">"
    );
    for (s, cs) in &suites {
        let file = escape(&s.file);
        let _ = writeln!(
            x,
            "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">",
            cs.len(),
            count(cs, "failure"),
            count(cs, "error")
        );
        if let Some(n) = &s.name {
            let _ = writeln!(
                x,
                "    <properties>\n      <property name=\"scenario\" value=\"{}\"/>\n    </properties>",
                escape(n)
            );
        }
        for c in cs {
            let line = c.line.map(|l| format!(" line=\"{l}\"")).unwrap_or_default();
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{file}\" file=\"{file}\"{line}",
                escape(&c.name)
            );
            let sysout = c
                .out
                .as_ref()
                .map(|t| format!("\n      <system-out>{}</system-out>", escape(t)))
                .unwrap_or_default();
            match &c.outcome {
                None if sysout.is_empty() => {
                    let _ = writeln!(x, "{open}/>");
                }
                None => {
                    let _ = writeln!(x, "{open}>{sysout}\n    </testcase>");
                }
                Some((kind, ty, message, body)) => {
                    let _ = writeln!(
                        x,
                        "{open}>\n      <{kind} message=\"{}\" type=\"{ty}\">{}</{kind}>{sysout}\n    </testcase>",
                        escape(message),
                        escape(body)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("x\u{1}y\nz"), "xy&#10;z");
    }
}
