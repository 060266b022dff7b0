//! `poolsim run --seeds`: one scenario over many seeds in parallel, judged
//! over them; and what `compare --seeds` shares with it. The work is the
//! library's (`gate::parallel`, `assertions::across_seeds`,
//! `stats::bound`).

use super::{
    interrupt_flag, overrides_of, EXIT_ASSERTION_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK,
};
use poolsim::assertions::{self, AssertionResult};
use poolsim::gate::parallel::run_parallel;
use poolsim::model::world::RunError;
use poolsim::report::text;
use poolsim::scenario::{self, budget, locate::KeyLines, Scenario};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;

/// The threads for `jobs` runs at once (default: the cores), fewer when
/// `need(threads)` bytes would be over the memory budget (at least 1).
pub fn jobs_within_budget(jobs: Option<usize>, need: impl Fn(usize) -> u64) -> usize {
    let mut j = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    while j > 1 && need(j) > budget::MEMORY_BUDGET {
        j -= 1;
    }
    j
}

/// The scenario with its overrides, and the line of each `assertions[i]`.
fn load_with_lines(file: &Path, a: &super::OverrideArgs) -> Result<(Scenario, KeyLines), i32> {
    let overrides = overrides_of(a).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_INVALID
    })?;
    let fail = |e: scenario::ScenarioError| {
        eprintln!("error: invalid scenario\n{e}");
        EXIT_INVALID
    };
    let src = scenario::read_source(file).map_err(fail)?;
    let sc = scenario::parse_with(&src.text, &src.name, &src.stem, &overrides)
        .map_err(fail)?
        .with_source(&src.name, src.text.as_bytes());
    Ok((sc, KeyLines::parse(&src.text)))
}

/// `poolsim run FILE --seeds ...`.
pub fn cmd_run_seeds(
    file: &Path,
    a: &super::OverrideArgs,
    seeds: &[u64],
    jobs: Option<usize>,
    quiet: bool,
) -> i32 {
    let (sc, lines) = match load_with_lines(file, a) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if seeds.len() < 2 {
        let source = sc.source.as_ref().map_or("-".into(), |s| s.path.clone());
        let mut bad = false;
        for (i, d) in sc.assertions.iter().enumerate() {
            if let Some(c) = d.confidence {
                let at = lines
                    .line_of(&format!("assertions[{i}]"))
                    .map_or(source.clone(), |l| format!("{source}:{l}"));
                eprintln!(
                    "error: --seeds: {at}: assertions[{i}].confidence: {c} asks for a confidence bound across seeds, which needs at least 2 seeds (got {}): pass --seeds, e.g. --seeds 1..20",
                    seeds.len()
                );
                bad = true;
            }
        }
        if bad {
            return EXIT_INVALID;
        }
    }
    let est = budget::memory(&sc.world, 0.0);
    let jobs = jobs_within_budget(jobs, |j| est.run_total().saturating_mul(j as u64));
    let stop = interrupt_flag();
    let show = !quiet && std::io::stderr().is_terminal();
    let costs = vec![1.0; seeds.len()];
    let results = run_parallel(
        &costs,
        jobs,
        |i| -> Result<Vec<AssertionResult>, RunError> {
            if stop.load(Ordering::SeqCst) {
                return Err(RunError::Interrupted { at: 0 });
            }
            let s = sc.clone().with_seed(seeds[i]);
            poolsim::run::run_until(&s, |_| !stop.load(Ordering::SeqCst)).map(|o| o.assertions)
        },
        |done, total| {
            if show {
                eprint!("\r[{done}/{total}] runs done");
                if done == total {
                    eprint!("\r{}\r", " ".repeat(40));
                }
            }
        },
    );
    let mut per_seed = Vec::with_capacity(seeds.len());
    for (&seed, r) in seeds.iter().zip(results) {
        match r {
            Ok(v) => per_seed.push((seed, v)),
            Err(RunError::Interrupted { .. }) => {
                eprintln!("interrupted: the runs stopped; nothing was written");
                return EXIT_INTERRUPTED;
            }
            Err(e) => {
                eprintln!("error: seed {seed}: the run could not complete: {e}");
                return EXIT_INVALID;
            }
        }
    }
    let runs: Vec<&[AssertionResult]> = per_seed.iter().map(|(_, v)| v.as_slice()).collect();
    let verdicts = assertions::across_seeds(&sc.assertions, seeds, &runs);
    if !quiet {
        print!("{}", text::render_seeds(&sc, jobs, &per_seed, &verdicts));
    }
    if verdicts.iter().all(|v| v.passed) {
        EXIT_OK
    } else {
        EXIT_ASSERTION_FAILED
    }
}
