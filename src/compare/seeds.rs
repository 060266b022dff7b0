//! `poolsim compare --seeds 1..N`: every mode x seed, in parallel on the
//! gate's worker pool ([`crate::gate::parallel`]), with the statistics of
//! [`crate::stats`]: per figure and mode the mean across seeds and its
//! Student t interval, and for each pair of modes the paired difference per
//! seed (same requests) with its interval and whether it excludes zero.
//!
//! Each run is a pure function of (mode, seed) and results are stored by
//! point, so the outcome is the same whatever the number of threads. Only
//! the first seed's runs are kept whole (for the per-mode reports and the
//! overlaid charts); of the others only their figures and verdicts are
//! kept, so memory does not grow with the seeds.

use super::{row, summary_of, CompareRow, Comparison, ModeOutput};
use crate::assertions::{self, AssertionResult, SeedsVerdict};
use crate::engine::Time;
use crate::gate::parallel::run_parallel;
use crate::metrics;
use crate::model::world::{RunError, Stack};
use crate::run;
use crate::scenario::Scenario;
use crate::stats::{self, Interval, PairedInterval};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a figure is summarised across seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A mean or a count of the run: [`stats::MEAN_METHOD`].
    Mean,
    /// A percentile (or the maximum) of the run's waits:
    /// [`stats::PERCENTILE_METHOD`].
    Percentile,
}

/// A figure compared across seeds.
pub struct Figure {
    /// Key in compare.json (`wait_ms.p99`).
    pub key: &'static str,
    /// Label in the printed table.
    pub label: &'static str,
    /// Unit (empty for counts and ratios).
    pub unit: &'static str,
    /// How it is summarised.
    pub method: Method,
}

const fn fig(key: &'static str, label: &'static str, unit: &'static str, method: Method) -> Figure {
    Figure {
        key,
        label,
        unit,
        method,
    }
}

/// The figures `compare --seeds` gives intervals for, in table order.
pub const FIGURES: &[Figure] = &[
    fig("hit_ratio", "hit ratio", "", Method::Mean),
    fig("empty_events", "empty events", "", Method::Mean),
    fig("waited", "waited", "", Method::Mean),
    fig("wait_ms.mean", "wait mean", "ms", Method::Mean),
    fig("wait_ms.p50", "wait p50", "ms", Method::Percentile),
    fig("wait_ms.p99", "wait p99", "ms", Method::Percentile),
    fig("wait_ms.p99.99", "wait p99.99", "ms", Method::Percentile),
    fig("wait_ms.max", "wait max", "ms", Method::Percentile),
    fig("failures", "request failures", "", Method::Mean),
    fig("peak_connects_per_sec", "peak connects/s", "", Method::Mean),
    fig("connects", "connects", "", Method::Mean),
    fig("opens", "opens", "", Method::Mean),
    fig("churn_discards", "churn discards", "", Method::Mean),
    fig("closes", "database/sql closes", "", Method::Mean),
    fig("physical_peak", "physical peak", "", Method::Mean),
];

/// Whether a figure means anything in a mode (a plain pool has no
/// reservoir; the direct stack has no database/sql): where it does not, it
/// is 0 in every seed and the table shows `-`.
pub fn applies(key: &str, mode: &str) -> bool {
    match key {
        "empty_events" | "churn_discards" => mode != "pool",
        "closes" => mode != "direct",
        _ => true,
    }
}

/// The figures of one run, by key (null where there is nothing to measure).
pub fn figures_of(
    r: &CompareRow,
    wait_p9999_ms: Option<f64>,
) -> BTreeMap<&'static str, Option<f64>> {
    let w = &r.wait_ms;
    let has_requests = r.requests > 0;
    let wait = |x: f64| has_requests.then_some(x);
    BTreeMap::from([
        ("hit_ratio", r.hit_ratio),
        ("empty_events", Some(r.empty_events as f64)),
        ("waited", Some(r.waited as f64)),
        ("wait_ms.mean", wait(w.mean)),
        ("wait_ms.p50", wait(w.p50)),
        ("wait_ms.p99", wait(w.p99)),
        ("wait_ms.p99.99", wait_p9999_ms),
        ("wait_ms.max", wait(w.max)),
        ("failures", Some(r.failures as f64)),
        (
            "peak_connects_per_sec",
            Some(r.peak_connects_per_sec as f64),
        ),
        ("connects", Some(r.connects as f64)),
        ("opens", Some(r.opens as f64)),
        ("churn_discards", Some(r.churn_discards as f64)),
        ("closes", Some(r.closes as f64)),
        ("physical_peak", Some(r.physical_peak as f64)),
    ])
}

/// One mode's values of a figure over the seeds and their interval.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModeFigure {
    /// One value per seed, in seed order (null: nothing to measure).
    pub values: Vec<Option<f64>>,
    /// The mean and its interval (null when a seed has no value).
    pub interval: Option<Interval>,
}

/// A paired difference `a - b` of a figure over the seeds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PairedFigure {
    /// The first mode.
    pub a: &'static str,
    /// The second mode.
    pub b: &'static str,
    /// The interval of the per-seed differences `a - b` (null when a seed
    /// has no value in either mode).
    pub difference: Option<PairedInterval>,
}

/// One figure across seeds, every mode and every pair of modes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FigureStats {
    /// Key (as in `modes[]`, nested keys joined with a dot).
    pub key: &'static str,
    /// Unit (empty for counts and ratios).
    pub unit: &'static str,
    /// How it is summarised (the `methods` entry of that name).
    pub method: Method,
    /// By mode.
    pub modes: BTreeMap<&'static str, ModeFigure>,
    /// Every pair of modes run, in the order of the modes.
    pub paired: Vec<PairedFigure>,
}

/// compare.json `replications`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Replications {
    /// The seeds, ascending.
    pub seeds: Vec<u64>,
    /// Confidence of every interval.
    pub confidence: f64,
    /// How each kind of figure and the paired differences are computed.
    pub methods: BTreeMap<&'static str, &'static str>,
    /// Every figure.
    pub figures: Vec<FigureStats>,
    /// Each mode's assertions judged over the seeds.
    pub assertions: BTreeMap<&'static str, Vec<SeedsVerdict>>,
    /// Whether each mode passed over the seeds (every assertion in every
    /// seed, or, with `confidence`, for its bound).
    pub passed: BTreeMap<&'static str, bool>,
}

/// What one mode x seed run leaves for the statistics.
struct SeedResult {
    figures: BTreeMap<&'static str, Option<f64>>,
    assertions: Vec<AssertionResult>,
    /// The whole run (first seed only).
    whole: Option<ModeOutput>,
}

/// The wait at the 99.99th percentile over all pools, ms (None: no requests).
fn wait_p9999_ms(o: &run::RunOutput) -> Option<f64> {
    let obs = &o.observations;
    let h = metrics::merged_latency(obs, None);
    (!h.is_empty()).then(|| {
        metrics::ns_to_ms(
            h.value_at_percentile(99.99)
                .min(metrics::merged_latency_max(obs, None)),
        )
    })
}

/// Run `sc` in each of `modes` with each of `seeds` on `jobs` threads.
/// `progress(done, total)` is called after each run; `stop` stops the runs
/// (Ctrl-C: [`RunError::Interrupted`]). Fewer than 2 seeds is an error of
/// the caller (an interval needs 2).
pub fn compare_seeds(
    sc: &Scenario,
    modes: &[Stack],
    seeds: &[u64],
    jobs: usize,
    stop: &AtomicBool,
    progress: impl FnMut(usize, usize),
) -> Result<Comparison, RunError> {
    let stacks: Vec<Stack> = Stack::ALL
        .into_iter()
        .filter(|s| modes.contains(s))
        .collect();
    let points: Vec<(Stack, u64)> = seeds
        .iter()
        .flat_map(|&seed| stacks.iter().map(move |&st| (st, seed)))
        .collect();
    let first = seeds.first().copied();
    let scenario_of = |(stack, seed): (Stack, u64)| {
        let mut msc = sc.clone().with_seed(seed);
        msc.world = msc.world.with_stack(stack);
        msc
    };
    let cost = crate::gate::cost(sc);
    let costs = vec![cost; points.len()];
    let results = run_parallel(
        &costs,
        jobs,
        |i| -> Result<SeedResult, RunError> {
            if stop.load(Ordering::SeqCst) {
                return Err(RunError::Interrupted { at: 0 });
            }
            let (stack, seed) = points[i];
            let msc = scenario_of(points[i]);
            let output = run::run_until(&msc, |_: Time| !stop.load(Ordering::SeqCst))?;
            let figures = figures_of(&row(stack, &output), wait_p9999_ms(&output));
            let assertions = output.assertions.clone();
            let whole = (Some(seed) == first).then_some(ModeOutput {
                stack,
                scenario: msc,
                output,
            });
            Ok(SeedResult {
                figures,
                assertions,
                whole,
            })
        },
        progress,
    );
    let mut ok = Vec::with_capacity(results.len());
    for r in results {
        ok.push(r?);
    }
    let names: Vec<&'static str> = stacks.iter().map(|s| s.name()).collect();
    // ok[k * modes + m] is seed k, mode m.
    let per = |m: usize| ok.iter().skip(m).step_by(stacks.len());
    let conf = stats::COMPARE_CONFIDENCE;
    let figures = FIGURES
        .iter()
        .map(|f| {
            let values: Vec<Vec<Option<f64>>> = (0..stacks.len())
                .map(|m| per(m).map(|r| r.figures[f.key]).collect())
                .collect();
            let all = |v: &[Option<f64>]| -> Option<Vec<f64>> { v.iter().copied().collect() };
            let modes = names
                .iter()
                .zip(&values)
                .map(|(&n, v)| {
                    let interval = all(v).and_then(|xs| stats::interval(&xs, conf));
                    (
                        n,
                        ModeFigure {
                            values: v.clone(),
                            interval,
                        },
                    )
                })
                .collect();
            let mut paired = Vec::new();
            for i in 0..stacks.len() {
                for j in i + 1..stacks.len() {
                    let difference = match (all(&values[i]), all(&values[j])) {
                        (Some(a), Some(b)) => stats::paired(&a, &b, conf),
                        _ => None,
                    };
                    paired.push(PairedFigure {
                        a: names[i],
                        b: names[j],
                        difference,
                    });
                }
            }
            FigureStats {
                key: f.key,
                unit: f.unit,
                method: f.method,
                modes,
                paired,
            }
        })
        .collect();
    let mut verdicts = BTreeMap::new();
    let mut passed = BTreeMap::new();
    for (m, &n) in names.iter().enumerate() {
        let runs: Vec<&[AssertionResult]> = per(m).map(|r| r.assertions.as_slice()).collect();
        let v = assertions::across_seeds(&sc.assertions, seeds, &runs);
        passed.insert(n, v.iter().all(|a| a.passed));
        verdicts.insert(n, v);
    }
    let replications = Replications {
        seeds: seeds.to_vec(),
        confidence: conf,
        methods: BTreeMap::from([
            ("mean", stats::MEAN_METHOD),
            ("percentile", stats::PERCENTILE_METHOD),
            ("paired", stats::PAIRED_METHOD),
            ("confidence_bound", stats::bound::METHOD),
        ]),
        figures,
        assertions: verdicts,
        passed,
    };
    let runs: Vec<ModeOutput> = ok.into_iter().filter_map(|r| r.whole).collect();
    let mut summary = summary_of(sc, &runs);
    summary.replications = Some(replications);
    Ok(Comparison {
        modes: runs,
        summary,
    })
}
