//! The printed result of `poolsim check` and `poolsim merge`: one line per
//! scenario (per assertion: passes/seeds and the worst observed value), a
//! `file:line:` line under it for each assertion that did not hold enough,
//! and the totals.

use super::record::{AssertionEntry, CheckReport, ScenarioEntry};

/// A number as people read it: whole numbers without decimals, others
/// with six significant digits (at most six decimals), trailing zeros cut.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let int_digits = if x.abs() >= 1.0 {
        x.abs().log10().floor() as i32 + 1
    } else {
        0
    };
    let decimals = (6 - int_digits).clamp(0, 6) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A value with its unit where the unit reads as a suffix (ms, s).
pub fn with_unit(x: f64, unit: &str) -> String {
    match unit {
        "ms" | "s" => format!("{} {unit}", num(x)),
        _ => num(x),
    }
}

/// `>` for a maximum that was exceeded, `<` for a minimum not reached.
fn violated(comparison: &str) -> &'static str {
    if comparison == ">=" {
        "<"
    } else {
        ">"
    }
}

/// The worst value of an assertion against its threshold, e.g.
/// `113.4 ms (seed 3) > 100 ms`, or `none (seed 2): nothing to measure`.
pub fn worst_text(a: &AssertionEntry) -> String {
    match &a.worst {
        None => "no completed run".into(),
        Some(w) => match w.observed {
            None => format!("nothing to measure (seed {})", w.seed),
            Some(o) => {
                let holds = if a.comparison == ">=" {
                    o >= a.threshold
                } else {
                    o <= a.threshold
                };
                format!(
                    "{} (seed {}) {} {}",
                    with_unit(o, &a.unit),
                    w.seed,
                    if holds {
                        a.comparison.as_str()
                    } else {
                        violated(&a.comparison)
                    },
                    with_unit(a.threshold, &a.unit)
                )
            }
        },
    }
}

/// What a failed assertion says: `wait_time p99.99 held in 5 of 8 seeds
/// (required: 8); worst 113.4 ms (seed 3) > 100 ms`, or, with
/// `confidence`, its bound: `wait_time p99.99: upper 95% confidence bound
/// over 8 seeds: 104.2 > 100 (...); held in 6 of 8 seeds`.
pub fn failure_text(a: &AssertionEntry, min_pass_rate: f64) -> String {
    if let Some(b) = &a.bound {
        return format!(
            "{}: {}; held in {} of {} seeds, worst {}",
            a.label,
            b.detail,
            a.passes,
            a.evaluated,
            worst_text(a)
        );
    }
    let required = (min_pass_rate * a.evaluated as f64 - 1e-9).ceil().max(0.0) as usize;
    format!(
        "{} held in {} of {} seeds (required: {}); worst {}",
        a.label,
        a.passes,
        a.evaluated,
        required,
        worst_text(a)
    )
}

/// An assertion's confidence bound in a few words:
/// `upper 95% bound 20.1 ms <= 100 ms`.
pub fn bound_text(a: &AssertionEntry, b: &crate::stats::bound::ConfidenceBound) -> String {
    match b.bound {
        Some(v) => format!(
            "{} {}% bound {} {} {}",
            b.side,
            num(b.confidence * 100.0),
            with_unit(v, &a.unit),
            if b.passed {
                a.comparison.as_str()
            } else {
                violated(&a.comparison)
            },
            with_unit(a.threshold, &a.unit)
        ),
        None => format!(
            "{} {}% bound: none ({})",
            b.side,
            num(b.confidence * 100.0),
            b.detail
        ),
    }
}

fn status_word(s: &ScenarioEntry) -> &'static str {
    match s.status.as_str() {
        "pass" => "PASS",
        "fail" => "FAIL",
        "invalid" => "INVALID",
        "error" => "ERROR",
        _ => "NOT RUN",
    }
}

fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_string(),
    }
}

/// The printed lines of a check.
pub fn render(r: &CheckReport) -> String {
    let mut out = String::new();
    let width = r.scenarios.iter().map(|s| s.file.len()).max().unwrap_or(0);
    for s in &r.scenarios {
        let mut line = format!("{:<7} {:<width$}", status_word(s), s.file);
        match s.status.as_str() {
            "invalid" => line.push_str(&format!(
                "  invalid: {} problem{}",
                s.problems.len(),
                if s.problems.len() == 1 { "" } else { "s" }
            )),
            "not_run" => line.push_str("  no run in this shard"),
            _ => {
                line.push_str(&format!("  {}/{} seeds", s.runs_passed, s.runs));
                if s.assertions.is_empty() {
                    line.push_str("  (no assertions)");
                }
                for a in &s.assertions {
                    line.push_str(&format!(
                        "  | {} {}/{} worst {}",
                        a.label,
                        a.passes,
                        a.evaluated,
                        worst_text(a)
                    ));
                    if let Some(b) = &a.bound {
                        line.push_str(&format!("; {}", bound_text(a, b)));
                    }
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for p in &s.problems {
            let key = if p.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", p.path)
            };
            out.push_str(&format!(
                "  {}: {key}{}\n",
                location(&s.file, p.line),
                p.message
            ));
        }
        for run in &s.results {
            if let Some(e) = &run.error {
                out.push_str(&format!("  {}: seed {}: {e}\n", s.file, run.seed));
            }
        }
        for a in s.assertions.iter().filter(|a| !a.passed) {
            out.push_str(&format!(
                "  {}: {}\n",
                location(&s.file, a.line),
                failure_text(a, r.min_pass_rate)
            ));
        }
    }
    let t = &r.totals;
    let mut total = format!("total: {} of {} scenarios passed", t.passed, t.scenarios);
    for (n, what) in [
        (t.failed, "failed"),
        (t.invalid, "invalid"),
        (t.errors, "with a run that could not complete"),
        (t.not_run, "not run in this shard"),
    ] {
        if n > 0 {
            total.push_str(&format!(", {n} {what}"));
        }
    }
    total.push_str(&format!(
        "; {} of {} runs passed every assertion; {} of {} assertion checks held",
        t.runs_passed, t.runs, t.checks_passed, t.checks
    ));
    if r.min_pass_rate < 1.0 {
        total.push_str(&format!(
            " (each assertion must hold in {}% of seeds)",
            num(r.min_pass_rate * 100.0)
        ));
    }
    if let Some(s) = r.shard {
        total.push_str(&format!(" [shard {s}]"));
    }
    out.push_str(&total);
    out.push('\n');
    if let Some(b) = &r.baseline {
        out.push_str(&super::baseline::render(b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(12268.0), "12268");
        assert_eq!(num(18.251775), "18.2518");
        assert_eq!(num(113.4), "113.4");
        assert_eq!(num(0.95), "0.95");
        assert_eq!(num(0.999961), "0.999961");
        assert_eq!(num(1234.5678), "1234.57");
        assert_eq!(num(-2.5), "-2.5");
    }
}
