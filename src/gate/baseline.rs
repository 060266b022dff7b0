//! `check --baseline BASE.json`: each scenario's key figures against those
//! of a previous check (typically of the main branch), marking every figure
//! that got worse by more than `--max-regression`.
//!
//! A scenario is matched by its file name; its figures are averaged over the
//! seeds both checks completed, so the two sides are the same runs of two
//! versions of the code or the scenario. A figure that was 0 and is no longer
//! (failures, waits) has regressed by an unbounded amount (`change: null`).

use super::record::{CheckReport, Figures, RunEntry};
use super::text::num;
use crate::metrics::round6;
use serde::{Deserialize, Serialize};

/// The comparison with a baseline (the `baseline` object of check.json).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaselineReport {
    /// Largest tolerated worsening, as a fraction (0.1 = 10%).
    pub max_regression: f64,
    /// Figures that regressed, over all scenarios.
    pub regressions: usize,
    /// One entry per scenario of the check.
    pub scenarios: Vec<BaselineScenario>,
}

/// One scenario against its baseline.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaselineScenario {
    /// The file.
    pub file: String,
    /// `compared`, `new` (not in the baseline), `no_common_seeds` or `not_run`
    /// (no completed run in this check).
    pub status: String,
    /// The seeds both sides completed (the figures are means over them).
    pub seeds: Vec<u64>,
    /// The figures compared.
    pub figures: Vec<FigureChange>,
}

/// One key figure, before and after.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FigureChange {
    /// The figure's name in `figures` of check.json.
    pub figure: String,
    /// `lower` or `higher`: which way is better.
    pub better: String,
    /// Mean in the baseline.
    pub baseline: Option<f64>,
    /// Mean in this check.
    pub current: Option<f64>,
    /// Relative worsening (positive: worse; -0.05 is 5% better); null when
    /// the baseline is 0 and the figure is not, or a side has no value.
    pub change: Option<f64>,
    /// Worse by more than `max_regression`.
    pub regression: bool,
}

/// The compared figures: name, whether lower is better, and how to read it.
type Getter = fn(&Figures) -> Option<f64>;
const FIGURES: [(&str, bool, Getter); 6] = [
    ("connects", true, |f| Some(f.connects as f64)),
    ("peak_connects_per_sec", true, |f| {
        Some(f.peak_connects_per_sec as f64)
    }),
    ("hit_ratio", false, |f| f.hit_ratio),
    ("wait_p99_ms", true, |f| Some(f.wait_p99_ms)),
    ("failures", true, |f| Some(f.failures as f64)),
    ("physical_peak", true, |f| Some(f.physical_peak as f64)),
];

fn completed(runs: &[RunEntry]) -> impl Iterator<Item = (u64, &Figures)> {
    runs.iter()
        .filter_map(|r| r.figures.as_ref().map(|f| (r.seed, f)))
}

/// Check that a file is usable as a baseline.
pub fn usable(base: &CheckReport) -> Result<(), String> {
    match base.shard {
        Some(s) => Err(format!(
            "it is shard {s} of a check; merge the shards first (poolsim merge)"
        )),
        None => Ok(()),
    }
}

/// Compare `current` with `base`.
pub fn compare(current: &CheckReport, base: &CheckReport, max_regression: f64) -> BaselineReport {
    let mut scenarios = Vec::new();
    let mut regressions = 0;
    for s in &current.scenarios {
        let Some(b) = base.scenarios.iter().find(|b| b.file == s.file) else {
            scenarios.push(BaselineScenario {
                file: s.file.clone(),
                status: "new".into(),
                seeds: Vec::new(),
                figures: Vec::new(),
            });
            continue;
        };
        let mine: Vec<(u64, &Figures)> = completed(&s.results).collect();
        let theirs: Vec<(u64, &Figures)> = completed(&b.results).collect();
        let pairs: Vec<(u64, &Figures, &Figures)> = mine
            .iter()
            .filter_map(|&(seed, f)| {
                theirs
                    .iter()
                    .find(|(t, _)| *t == seed)
                    .map(|&(_, g)| (seed, f, g))
            })
            .collect();
        if pairs.is_empty() {
            scenarios.push(BaselineScenario {
                file: s.file.clone(),
                status: if mine.is_empty() {
                    "not_run"
                } else {
                    "no_common_seeds"
                }
                .into(),
                seeds: Vec::new(),
                figures: Vec::new(),
            });
            continue;
        }
        let figures: Vec<FigureChange> = FIGURES
            .iter()
            .map(|&(name, lower_better, get)| {
                let mean = |side: usize| -> Option<f64> {
                    let vals: Vec<f64> = pairs
                        .iter()
                        .map(|(_, f, g)| get(if side == 0 { f } else { g }))
                        .collect::<Option<Vec<f64>>>()?;
                    Some(round6(vals.iter().sum::<f64>() / vals.len() as f64))
                };
                let (cur, old) = (mean(0), mean(1));
                let (change, regression) = match (cur, old) {
                    (Some(c), Some(o)) => {
                        let worse_by = if lower_better { c - o } else { o - c };
                        if o == 0.0 {
                            if worse_by > 0.0 {
                                (None, true)
                            } else {
                                (Some(0.0), false)
                            }
                        } else {
                            let rel = round6(worse_by / o.abs());
                            (Some(rel), rel > max_regression + 1e-9)
                        }
                    }
                    _ => (None, false),
                };
                regressions += regression as usize;
                FigureChange {
                    figure: name.into(),
                    better: if lower_better { "lower" } else { "higher" }.into(),
                    baseline: old,
                    current: cur,
                    change,
                    regression,
                }
            })
            .collect();
        scenarios.push(BaselineScenario {
            file: s.file.clone(),
            status: "compared".into(),
            seeds: pairs.iter().map(|p| p.0).collect(),
            figures,
        });
    }
    BaselineReport {
        max_regression,
        regressions,
        scenarios,
    }
}

/// `connects 12268 -> 14000 (14.1% worse; the limit is 10%)`.
pub fn figure_text(f: &FigureChange, max_regression: f64) -> String {
    let v = |x: Option<f64>| x.map_or("none".to_string(), num);
    let how = match f.change {
        Some(c) if c > 0.0 => format!("{:.1}% worse", c * 100.0),
        Some(c) if c < 0.0 => format!("{:.1}% better", -c * 100.0),
        Some(_) => "unchanged".to_string(),
        None if f.regression => "up from 0".to_string(),
        None => "not comparable".to_string(),
    };
    let mut s = format!("{} {} -> {} ({how}", f.figure, v(f.baseline), v(f.current));
    if f.regression {
        s.push_str(&format!(
            "; the limit is {}%, {} is better",
            num(round6(max_regression * 100.0)),
            f.better
        ));
    }
    s.push(')');
    s
}

/// The printed part: one line per scenario with a regression or without a
/// baseline, then a count.
pub fn render(b: &BaselineReport) -> String {
    let mut out = format!(
        "baseline (max regression {}%):",
        num(round6(b.max_regression * 100.0))
    );
    let compared = b
        .scenarios
        .iter()
        .filter(|s| s.status == "compared")
        .count();
    let regressed = b
        .scenarios
        .iter()
        .filter(|s| s.figures.iter().any(|f| f.regression))
        .count();
    out.push_str(&format!(
        " {} regression{} in {regressed} of {compared} compared scenarios\n",
        b.regressions,
        if b.regressions == 1 { "" } else { "s" }
    ));
    for s in &b.scenarios {
        match s.status.as_str() {
            "compared" => {
                for f in s.figures.iter().filter(|f| f.regression) {
                    out.push_str(&format!(
                        "  REGRESSION {}: {}, mean over {} seed{}\n",
                        s.file,
                        figure_text(f, b.max_regression),
                        s.seeds.len(),
                        if s.seeds.len() == 1 { "" } else { "s" }
                    ));
                }
            }
            "new" => out.push_str(&format!("  {}: not in the baseline\n", s.file)),
            "no_common_seeds" => out.push_str(&format!(
                "  {}: no seed completed in both checks; not compared\n",
                s.file
            )),
            _ => {}
        }
    }
    out
}
