//! GitHub Actions workflow commands (`::error file=...,line=...::message`):
//! printed on stdout, they put each failure on the line of the YAML file
//! that declares it, in the pull request's diff and the run's summary.
//! See GitHub's "Workflow commands for GitHub Actions".

use super::record::CheckReport;
use super::text::{failure_text, num};

/// Escape a workflow command's message.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command.
pub fn command(level: &str, file: &str, line: Option<usize>, title: &str, message: &str) -> String {
    let line = line.map(|l| format!(",line={l}")).unwrap_or_default();
    format!(
        "::{level} file={}{line},title={}::{}\n",
        property(file),
        property(title),
        data(message)
    )
}

/// Every annotation of a check: an error on each problem of an invalid file,
/// each run that could not complete and each assertion that did not hold in
/// enough seeds (on the assertion's line); a warning on an assertion that
/// failed in some seeds but within `--min-pass-rate`; a warning on each
/// baseline regression (an error with `fail_on_regression`).
pub fn render(r: &CheckReport, fail_on_regression: bool) -> String {
    let mut out = String::new();
    for s in &r.scenarios {
        for p in &s.problems {
            let msg = if p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.path, p.message)
            };
            out.push_str(&command(
                "error",
                &s.file,
                p.line,
                "poolsim: invalid scenario",
                &msg,
            ));
        }
        for run in &s.results {
            if let Some(e) = &run.error {
                out.push_str(&command(
                    "error",
                    &s.file,
                    None,
                    "poolsim: run failed",
                    &format!("seed {}: {e}", run.seed),
                ));
            }
        }
        for a in &s.assertions {
            let title = format!("poolsim check: {}", a.label);
            if !a.passed {
                out.push_str(&command(
                    "error",
                    &s.file,
                    a.line,
                    &title,
                    &failure_text(a, r.min_pass_rate),
                ));
            } else if a.passes < a.evaluated && a.bound.is_some() {
                out.push_str(&command(
                    "warning",
                    &s.file,
                    a.line,
                    &title,
                    &format!(
                        "{} (the confidence bound decides, and it holds)",
                        failure_text(a, r.min_pass_rate)
                    ),
                ));
            } else if a.passes < a.evaluated {
                out.push_str(&command(
                    "warning",
                    &s.file,
                    a.line,
                    &title,
                    &format!(
                        "{} (within --min-pass-rate {}%)",
                        failure_text(a, r.min_pass_rate),
                        num(r.min_pass_rate * 100.0)
                    ),
                ));
            }
        }
    }
    if let Some(b) = &r.baseline {
        let level = if fail_on_regression {
            "error"
        } else {
            "warning"
        };
        for s in &b.scenarios {
            for f in s.figures.iter().filter(|f| f.regression) {
                out.push_str(&command(
                    level,
                    &s.file,
                    None,
                    &format!("poolsim: {} regressed", f.figure),
                    &super::baseline::figure_text(f, b.max_regression),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::command;

    #[test]
    fn escapes_as_github_documents() {
        assert_eq!(
            command("error", "a,b:c.yaml", Some(3), "t: x", "50% done\nnext"),
            "::error file=a%2Cb%3Ac.yaml,line=3,title=t%3A x::50%25 done%0Anext\n"
        );
        assert_eq!(
            command("warning", "f.yaml", None, "t", "m"),
            "::warning file=f.yaml,title=t::m\n"
        );
    }
}
