//! The CI gate: `poolsim check` runs many scenarios over many seeds in
//! parallel threads and reports every verdict at once; `poolsim merge` joins
//! the outputs of `check --shard I/N` run on several machines.
//!
//! The flow is [`find_scenarios`](select::find_scenarios) (paths, directories,
//! globs) → [`load_all`] (every file validated, every invalid one kept with
//! its problems) → [`plan`] (the points, scenario x seed, in a canonical
//! order; a shard keeps every N-th) → [`execute`] (worker threads; results
//! are stored by point, so they do not depend on the number of threads or on
//! which thread ran what) → [`assemble`] (a [`CheckReport`], from which the
//! printed lines, `check.json`, JUnit XML and GitHub annotations are all
//! rendered).

pub mod annotate;
pub mod baseline;
pub mod junit;
pub mod merge;
pub mod parallel;
pub mod record;
pub mod select;
pub mod text;

pub use record::CheckReport;

use crate::engine::Time;
use crate::metrics::{self, LatencyMs};
use crate::run::RunOutput;
use crate::scenario::locate::KeyLines;
use crate::scenario::{AssertionDef, Check, Scenario, ScenarioError};
use record::{AssertionEntry, Figures, ProblemEntry, RunEntry, ScenarioEntry, Verdict};
use select::{ScenarioFile, Shard};
use std::path::{Path, PathBuf};

/// Turns a scenario's text into a validated scenario: `(text, source, stem)`,
/// as [`crate::scenario::parse`]. Per-scenario changes to the document
/// before validation (overrides) go in here.
pub type Loader<'a> = &'a (dyn Fn(&str, &str, &str) -> Result<Scenario, ScenarioError> + Sync);

/// A scenario file, read and validated (or not).
pub struct Loaded {
    /// The file.
    pub file: ScenarioFile,
    /// The scenario, or everything wrong with the file.
    pub scenario: Result<Scenario, Vec<ProblemEntry>>,
    /// Line of each `assertions[i]` in the file.
    pub assertion_lines: Vec<Option<usize>>,
}

/// Read and validate every file (all of them, whatever fails).
pub fn load_all(files: &[ScenarioFile], loader: Loader) -> Vec<Loaded> {
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f.path);
            let stem = f
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
            let (scenario, lines) = match text {
                Err(e) => (
                    Err(vec![ProblemEntry {
                        line: None,
                        path: String::new(),
                        message: format!("cannot read the scenario: {e}"),
                    }]),
                    Vec::new(),
                ),
                Ok(text) => {
                    let sc = loader(&text, &f.display, &stem).map_err(|e| {
                        e.problems
                            .into_iter()
                            .map(|p| ProblemEntry {
                                line: p.line,
                                path: p.path,
                                message: p.message,
                            })
                            .collect()
                    });
                    let keys = KeyLines::parse(&text);
                    let n = sc.as_ref().map_or(0, |s: &Scenario| s.assertions.len());
                    let lines = (0..n)
                        .map(|i| keys.line_of(&format!("assertions[{i}]")))
                        .collect();
                    (sc, lines)
                }
            };
            Loaded {
                file: f.clone(),
                scenario,
                assertion_lines: lines,
            }
        })
        .collect()
}

/// One run to do: scenario `scenario` (an index into the loaded files) with `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Index of the scenario.
    pub scenario: usize,
    /// Seed.
    pub seed: u64,
}

/// The seeds scenario `l` runs with: `seeds`, or its own seed.
pub fn seeds_of(l: &Loaded, seeds: Option<&[u64]>) -> Vec<u64> {
    match (&l.scenario, seeds) {
        (Err(_), _) => Vec::new(),
        (Ok(_), Some(s)) => s.to_vec(),
        (Ok(sc), None) => vec![sc.world.seed],
    }
}

/// Every point, in the canonical order (files by name, then seeds
/// ascending), and the subset a shard runs: the k-th point belongs to shard
/// `k mod N + 1`. The files are sorted by name before this, so the order in
/// which they were named does not change which shard runs what.
pub fn plan(loaded: &[Loaded], seeds: Option<&[u64]>, shard: Option<Shard>) -> Vec<Point> {
    let mut all = Vec::new();
    for (i, l) in loaded.iter().enumerate() {
        for seed in seeds_of(l, seeds) {
            all.push(Point { scenario: i, seed });
        }
    }
    all.into_iter()
        .enumerate()
        .filter(|(k, _)| shard.is_none_or(|s| s.holds(*k)))
        .map(|(_, p)| p)
        .collect()
}

/// The key figures of a run.
pub fn figures(o: &RunOutput) -> Figures {
    let obs = &o.observations;
    let total = metrics::total(obs, None);
    let wait = LatencyMs::from_histogram(
        &metrics::merged_latency(obs, None),
        metrics::merged_latency_max(obs, None),
    );
    Figures {
        requests: total.requests,
        connects: total.driver.connects,
        peak_connects_per_sec: metrics::max_connects_per_sec(obs),
        hit_ratio: metrics::hit_ratio(&total),
        empty_events: total.reservoir.empty_events,
        wait_p99_ms: wait.p99,
        failures: total.failures,
        physical_peak: obs.peak_connections,
    }
}

/// The assertions that ask for a confidence bound when fewer than 2 seeds
/// run (`seeds`, or each file's own seed): one message each, naming the
/// file, the line and the key.
pub fn confidence_without_seeds(loaded: &[Loaded], seeds: Option<&[u64]>) -> Vec<String> {
    let n = seeds.map_or(1, <[u64]>::len);
    if n >= 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for l in loaded {
        let Ok(sc) = &l.scenario else { continue };
        for (i, d) in sc.assertions.iter().enumerate() {
            if let Some(c) = d.confidence {
                let at = match l.assertion_lines.get(i).copied().flatten() {
                    Some(line) => format!("{}:{line}", l.file.display),
                    None => l.file.display.clone(),
                };
                out.push(format!(
                    "--seeds: {at}: assertions[{i}].confidence: {c} asks for a confidence bound across seeds, which needs at least 2 seeds (got {n}): pass --seeds, e.g. --seeds 1..20"
                ));
            }
        }
    }
    out
}

/// Where `--reports DIR` puts the reports of one run: the file's display
/// path without its extension (`..` and the root dropped), then `seed-N`.
pub fn reports_dir(root: &Path, file: &ScenarioFile, seed: u64) -> PathBuf {
    let mut d = root.to_path_buf();
    let p = file.path.with_extension("");
    for c in p.components() {
        if let std::path::Component::Normal(s) = c {
            d.push(s);
        }
    }
    d.join(format!("seed-{seed}"))
}

/// A rough cost of running a scenario, to start the longest runs first.
pub fn cost(sc: &Scenario) -> f64 {
    let secs = sc.world.duration as f64 / 1e9;
    let requests: f64 = sc
        .world
        .pools
        .iter()
        .filter_map(|p| p.workload.as_ref())
        .map(|w| w.shape.mean_rate())
        .sum();
    let samples = sc.world.pools.len() as f64 * sc.world.duration as f64
        / sc.world.sample_every.max(1) as f64;
    secs + requests * secs + samples
}

/// Run one point: simulate, evaluate, and write its reports under `reports`.
fn run_point(l: &Loaded, seed: u64, reports: Option<&Path>) -> (RunEntry, Option<String>) {
    let sc = l
        .scenario
        .as_ref()
        .expect("only valid scenarios have points")
        .clone()
        .with_seed(seed);
    match crate::run::run(&sc) {
        Err(e) => (
            RunEntry {
                seed,
                passed: false,
                error: Some(format!("the run could not complete: {e}")),
                figures: None,
                assertions: Vec::new(),
            },
            None,
        ),
        Ok(o) => {
            let io = reports.and_then(|root| {
                let dir = reports_dir(root, &l.file, seed);
                crate::report::files::write_all(&dir, &sc, &o)
                    .err()
                    .map(|e| format!("{}: {e:#}", dir.display()))
            });
            let entry = RunEntry {
                seed,
                passed: o.passed(),
                error: None,
                figures: Some(figures(&o)),
                assertions: o
                    .assertions
                    .iter()
                    .map(|a| Verdict {
                        observed: a.observed,
                        passed: a.passed,
                        detail: a.detail.clone(),
                    })
                    .collect(),
            };
            (entry, io)
        }
    }
}

/// What [`execute`] returns: one entry per point (in the order of the
/// points) and the reports that could not be written.
pub struct Executed {
    /// The runs, by point.
    pub runs: Vec<RunEntry>,
    /// Errors writing `--reports`.
    pub io_errors: Vec<String>,
}

/// Run the points on `jobs` threads, calling `progress(done, total)` on the
/// calling thread after each run. The result is the same whatever `jobs`:
/// each run is a pure function of its scenario and seed, and results are
/// stored by point.
pub fn execute(
    loaded: &[Loaded],
    points: &[Point],
    jobs: usize,
    reports: Option<&Path>,
    mut progress: impl FnMut(usize, usize),
) -> Executed {
    // Longest runs first, so that no thread is left with a long run at the end.
    let costs: Vec<f64> = points
        .iter()
        .map(|p| loaded[p.scenario].scenario.as_ref().map_or(0.0, cost))
        .collect();
    let slots = parallel::run_parallel(
        &costs,
        jobs,
        |i| run_point(&loaded[points[i].scenario], points[i].seed, reports),
        &mut progress,
    );
    let mut runs = Vec::with_capacity(points.len());
    let mut io_errors = Vec::new();
    for (r, io) in slots {
        runs.push(r);
        io_errors.extend(io);
    }
    Executed { runs, io_errors }
}

fn seconds(t: Time) -> f64 {
    metrics::round6(t as f64 / 1e9)
}

/// The threshold, comparison and unit of an assertion, as the run's
/// verdicts report them (`assertions::evaluate`), known before any run.
pub fn threshold_of(check: &Check) -> (f64, &'static str, &'static str) {
    match *check {
        Check::HitsRatio { min } => (min, ">=", "ratio"),
        Check::EmptyEvents { max } => (max as f64, "<=", "events"),
        Check::MaxConnectsPerSec { max } => (max as f64, "<=", "connects/s"),
        Check::ConvergeWithin { within, .. } => (seconds(within), "<=", "s"),
        Check::CheckoutLatency { max, .. } | Check::WaitTime { max, .. } => {
            (metrics::ns_to_ms(max), "<=", "ms")
        }
        Check::RequestFailures { max } => (max as f64, "<=", "requests"),
        Check::PoolAtSize { min_fraction } => (min_fraction, ">=", "fraction of target_size"),
        Check::MaxPhysicalConnections { max } => (max as f64, "<=", "connections"),
    }
}

fn assertion_entry(
    sc: &Scenario,
    i: usize,
    d: &AssertionDef,
    line: Option<usize>,
) -> AssertionEntry {
    let (threshold, comparison, unit) = threshold_of(&d.check);
    let pool = d.pool.map(|p| sc.world.pools[p].name.clone());
    let mut label = d.type_name.to_string();
    if let Check::CheckoutLatency { percentile, .. } | Check::WaitTime { percentile, .. } = d.check
    {
        label.push_str(&format!(" p{percentile}"));
    }
    if let Some(p) = &pool {
        label.push_str(&format!(" [{p}]"));
    }
    AssertionEntry {
        index: i,
        line,
        type_name: d.type_name.to_string(),
        label,
        pool,
        comparison: comparison.to_string(),
        threshold,
        unit: unit.to_string(),
        passes: 0,
        evaluated: 0,
        pass_rate: None,
        worst: None,
        passed: true,
        confidence: d.confidence,
        bound: None,
    }
}

/// The record of a check: every loaded file with the runs done for it
/// (`runs[k]` is the run of `points[k]`), aggregated.
pub fn assemble(
    loaded: &[Loaded],
    seeds: Option<&[u64]>,
    min_pass_rate: f64,
    shard: Option<Shard>,
    points: &[Point],
    runs: Vec<RunEntry>,
) -> CheckReport {
    let mut scenarios: Vec<ScenarioEntry> = loaded
        .iter()
        .map(|l| {
            let (name, problems, assertions) = match &l.scenario {
                Err(p) => (None, p.clone(), Vec::new()),
                Ok(sc) => (
                    Some(sc.name.clone()),
                    Vec::new(),
                    sc.assertions
                        .iter()
                        .enumerate()
                        .map(|(i, d)| assertion_entry(sc, i, d, l.assertion_lines[i]))
                        .collect(),
                ),
            };
            ScenarioEntry {
                file: l.file.display.clone(),
                name,
                status: String::new(),
                problems,
                seeds: seeds_of(l, seeds),
                runs_passed: 0,
                runs: 0,
                assertions,
                results: Vec::new(),
            }
        })
        .collect();
    for (p, r) in points.iter().zip(runs) {
        scenarios[p.scenario].results.push(r);
    }
    let mut report = CheckReport {
        schema_version: record::SCHEMA_VERSION,
        seeds: seeds.map(|s| s.to_vec()),
        min_pass_rate,
        shard,
        verdict: String::new(),
        totals: Default::default(),
        scenarios,
        baseline: None,
    };
    report.finalize();
    report
}
