//! `check.json`: every verdict and key figure of a `poolsim check`, and the
//! aggregation (passes per assertion, worst observed value, status) derived
//! from the runs it holds.
//!
//! A check's outputs are all rendered from this one record, and the
//! aggregates are recomputed from the runs by [`CheckReport::finalize`], so
//! `poolsim merge` (which reads shard records back and joins their runs)
//! writes exactly what one unsharded check writes.

use super::select::Shard;
use serde::{Deserialize, Serialize};

/// Version of the `check.json` layout.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole of `check.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Seeds given with `--seeds`; null when each file ran its own `seed`.
    pub seeds: Option<Vec<u64>>,
    /// Fraction of seeds in which each assertion must hold.
    pub min_pass_rate: f64,
    /// The shard this record covers (null for a whole check or a merge).
    pub shard: Option<Shard>,
    /// `pass`, `fail` or `invalid` (an invalid file or a run that could not complete).
    pub verdict: String,
    /// Counts over every scenario and run.
    pub totals: Totals,
    /// One entry per scenario file, in file-name order.
    pub scenarios: Vec<ScenarioEntry>,
    /// The comparison with `--baseline`, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::baseline::BaselineReport>,
}

/// Counts of a check.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Scenario files.
    pub scenarios: usize,
    /// Scenarios whose every assertion held in enough seeds.
    pub passed: usize,
    /// Scenarios with an assertion that did not.
    pub failed: usize,
    /// Files that are not valid scenarios.
    pub invalid: usize,
    /// Scenarios with a run that could not complete.
    pub errors: usize,
    /// Scenarios with no run in this shard.
    pub not_run: usize,
    /// Runs (scenario x seed) done.
    pub runs: usize,
    /// Runs in which every assertion held.
    pub runs_passed: usize,
    /// Assertion verdicts (assertion x seed) of completed runs.
    pub checks: usize,
    /// Of which held.
    pub checks_passed: usize,
}

/// One scenario file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioEntry {
    /// The file, as named in every output.
    pub file: String,
    /// The scenario's name (null when the file is invalid).
    pub name: Option<String>,
    /// `pass`, `fail`, `invalid`, `error` or `not_run`.
    pub status: String,
    /// Why the file is invalid (each with its line and key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemEntry>,
    /// The seeds this scenario runs with (over all shards).
    pub seeds: Vec<u64>,
    /// Runs in which every assertion held / runs done.
    pub runs_passed: usize,
    /// Runs done.
    pub runs: usize,
    /// The assertions, in file order, with their verdict over the seeds.
    pub assertions: Vec<AssertionEntry>,
    /// One entry per run, by seed.
    pub results: Vec<RunEntry>,
}

/// A problem of an invalid file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProblemEntry {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Key path, e.g. `pools[0].reservoir.guard_window` (empty when none).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// One assertion of a scenario and its verdict over the seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssertionEntry {
    /// Position in the file's `assertions` list (0-based).
    pub index: usize,
    /// Line of the assertion (its `- type:` line) in the file.
    pub line: Option<usize>,
    /// The assertion's `type`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Short label: the type, with its percentile and pool when it has them.
    pub label: String,
    /// The pool it is restricted to, if any.
    pub pool: Option<String>,
    /// `>=` (a minimum) or `<=` (a maximum).
    pub comparison: String,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// Unit of threshold and observed values.
    pub unit: String,
    /// Seeds in which it held.
    pub passes: usize,
    /// Seeds in which it was evaluated (completed runs).
    pub evaluated: usize,
    /// passes / evaluated (null when no run completed).
    pub pass_rate: Option<f64>,
    /// The worst observed value and its seed (null when no run completed).
    pub worst: Option<Worst>,
    /// Whether it held: in at least `min_pass_rate` of the seeds, or, with
    /// `confidence`, for its confidence bound across the seeds.
    pub passed: bool,
    /// The assertion's `confidence` (absent: judged seed by seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// With `confidence`: the bound across the seeds that completed, which
    /// decides `passed` (in a shard, only `poolsim merge`'s bound over every
    /// seed decides; a shard's own is informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<crate::stats::bound::ConfidenceBound>,
}

/// The worst observed value of an assertion over the seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Worst {
    /// Seed of the run that showed it (the first, on a tie).
    pub seed: u64,
    /// The value (null: nothing to measure, which counts as worst).
    pub observed: Option<f64>,
}

/// One run: a scenario with one seed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunEntry {
    /// The seed.
    pub seed: u64,
    /// Whether every assertion held (false when the run did not complete).
    pub passed: bool,
    /// Why the run could not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Key figures (null when the run did not complete).
    pub figures: Option<Figures>,
    /// Verdict of each assertion, in file order.
    pub assertions: Vec<Verdict>,
}

/// An assertion's verdict in one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// What the run showed (null when there was nothing to measure).
    pub observed: Option<f64>,
    /// Whether it held.
    pub passed: bool,
    /// A sentence for people.
    pub detail: String,
}

/// The key figures of a run, over all pools (the figures `--baseline` compares).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// Requests served.
    pub requests: u64,
    /// Connect attempts that reached the cluster.
    pub connects: u64,
    /// Most connects in one simulated second, cluster-wide.
    pub peak_connects_per_sec: u64,
    /// Immediate hits / requests (null without requests).
    pub hit_ratio: Option<f64>,
    /// Failed TryCheckouts.
    pub empty_events: u64,
    /// 99th percentile of the requests' wait for a connection, ms.
    pub wait_p99_ms: f64,
    /// Requests that got no connection.
    pub failures: u64,
    /// Most physical connections open at once, cluster-wide (exact).
    pub physical_peak: u32,
}

/// Whether `observed` is worse than `than` for an assertion compared with `comparison`.
fn worse(comparison: &str, observed: Option<f64>, than: Option<f64>) -> bool {
    match (observed, than) {
        (None, Some(_)) => true,
        (_, None) => false,
        (Some(o), Some(t)) => {
            if comparison == ">=" {
                o < t
            } else {
                o > t
            }
        }
    }
}

/// Whether `passes` out of `n` meets `min_pass_rate` (with a margin for the
/// rounding of the rate as given, e.g. 0.9 x 10 seeds).
pub fn meets(passes: usize, n: usize, min_pass_rate: f64) -> bool {
    n == 0 || passes as f64 >= min_pass_rate * n as f64 - 1e-9
}

impl CheckReport {
    /// Recompute every aggregate (assertion verdicts over the seeds, statuses,
    /// totals, verdict) from the runs. Runs are put in seed order.
    pub fn finalize(&mut self) {
        let mut t = Totals {
            scenarios: self.scenarios.len(),
            ..Totals::default()
        };
        for s in &mut self.scenarios {
            s.results.sort_by_key(|r| r.seed);
            let done: Vec<&RunEntry> = s.results.iter().filter(|r| r.error.is_none()).collect();
            for a in &mut s.assertions {
                let mut passes = 0;
                let mut worst: Option<Worst> = None;
                for r in &done {
                    let Some(v) = r.assertions.get(a.index) else {
                        continue;
                    };
                    passes += v.passed as usize;
                    let replace = match &worst {
                        None => true,
                        Some(w) => worse(&a.comparison, v.observed, w.observed),
                    };
                    if replace {
                        worst = Some(Worst {
                            seed: r.seed,
                            observed: v.observed,
                        });
                    }
                }
                a.passes = passes;
                a.evaluated = done.len();
                a.pass_rate = (!done.is_empty()).then(|| passes as f64 / done.len() as f64);
                a.worst = worst;
                a.passed = meets(passes, done.len(), self.min_pass_rate);
                a.bound = None;
                if let (Some(c), false) = (a.confidence, done.is_empty()) {
                    let observed: Vec<Option<f64>> = done
                        .iter()
                        .filter_map(|r| r.assertions.get(a.index).map(|v| v.observed))
                        .collect();
                    let b = crate::stats::bound::evaluate(&a.comparison, a.threshold, c, &observed);
                    a.passed = b.passed || self.shard.is_some();
                    a.bound = Some(b);
                }
            }
            s.runs = s.results.len();
            s.runs_passed = s.results.iter().filter(|r| r.passed).count();
            s.status = if !s.problems.is_empty() {
                "invalid"
            } else if s.results.iter().any(|r| r.error.is_some()) {
                "error"
            } else if s.results.is_empty() {
                "not_run"
            } else if s.assertions.iter().all(|a| a.passed) {
                "pass"
            } else {
                "fail"
            }
            .to_string();
            match s.status.as_str() {
                "invalid" => t.invalid += 1,
                "error" => t.errors += 1,
                "not_run" => t.not_run += 1,
                "pass" => t.passed += 1,
                _ => t.failed += 1,
            }
            t.runs += s.runs;
            t.runs_passed += s.runs_passed;
            for r in &done {
                t.checks += r.assertions.len();
                t.checks_passed += r.assertions.iter().filter(|v| v.passed).count();
            }
        }
        self.verdict = if t.invalid > 0 || t.errors > 0 {
            "invalid"
        } else if t.failed > 0 {
            "fail"
        } else {
            "pass"
        }
        .to_string();
        self.totals = t;
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("check report serializes");
        s.push('\n');
        s
    }

    /// Read a `check.json` back.
    pub fn from_json(text: &str) -> Result<CheckReport, String> {
        let r: CheckReport = serde_json::from_str(text)
            .map_err(|e| format!("not a check.json written by poolsim check (--json): {e}"))?;
        if r.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "check.json layout version {} (this poolsim reads version {SCHEMA_VERSION})",
                r.schema_version
            ));
        }
        Ok(r)
    }
}
