//! `poolsim merge`: join the `check.json` of every shard of a check
//! (`check --shard I/N --json`) into the record one unsharded check writes.
//! Every shard validated every file and ran every N-th point; the merge
//! checks that the shards belong to one check (same files, assertions,
//! seeds, pass rate, shard count), that each shard is there once, and that
//! every point ran exactly once; then it recomputes the aggregates.

use super::record::{AssertionEntry, CheckReport, ScenarioEntry};

/// The parts of a scenario entry every shard must agree on.
fn same_plan(a: &ScenarioEntry, b: &ScenarioEntry) -> bool {
    let static_part = |x: &AssertionEntry| {
        (
            x.index,
            x.line,
            x.type_name.clone(),
            x.label.clone(),
            x.pool.clone(),
            x.comparison.clone(),
            x.threshold.to_bits(),
            x.unit.clone(),
            x.confidence.map(f64::to_bits),
        )
    };
    a.file == b.file
        && a.name == b.name
        && a.problems == b.problems
        && a.seeds == b.seeds
        && a.assertions.len() == b.assertions.len()
        && a.assertions
            .iter()
            .zip(&b.assertions)
            .all(|(x, y)| static_part(x) == static_part(y))
}

/// Merge shard records (named by `names` in errors). Errors name every
/// inconsistency found.
pub fn merge(shards: Vec<(String, CheckReport)>) -> Result<CheckReport, Vec<String>> {
    let mut errors = Vec::new();
    if shards.is_empty() {
        return Err(vec!["no shard given".into()]);
    }
    let (first_name, first) = &shards[0];
    let Some(count) = first.shard.map(|s| s.count) else {
        return Err(vec![format!(
            "{first_name}: not a shard (written without --shard)"
        )]);
    };
    let mut seen = vec![None::<&str>; count as usize];
    for (name, r) in &shards {
        match r.shard {
            None => errors.push(format!("{name}: not a shard (written without --shard)")),
            Some(s) if s.count != count => errors.push(format!(
                "{name}: shard {s} is of a check in {} shards, {first_name} of one in {count}",
                s.count
            )),
            Some(s) => {
                let slot = &mut seen[(s.index - 1) as usize];
                match slot {
                    Some(other) => {
                        errors.push(format!("{name}: shard {s} is given twice (also {other})"))
                    }
                    None => *slot = Some(name),
                }
            }
        }
        if r.seeds != first.seeds {
            errors.push(format!("{name}: other --seeds than {first_name}"));
        }
        if r.min_pass_rate.to_bits() != first.min_pass_rate.to_bits() {
            errors.push(format!("{name}: another --min-pass-rate than {first_name}"));
        }
        let files = |r: &CheckReport| {
            r.scenarios
                .iter()
                .map(|s| s.file.clone())
                .collect::<Vec<_>>()
        };
        if files(r) != files(first) {
            errors.push(format!("{name}: other scenario files than {first_name}"));
        } else {
            for (a, b) in r.scenarios.iter().zip(&first.scenarios) {
                if !same_plan(a, b) {
                    errors.push(format!(
                        "{name}: {} differs from its copy in {first_name} (the file changed between shards?)",
                        a.file
                    ));
                }
            }
        }
    }
    for (i, s) in seen.iter().enumerate() {
        if s.is_none() {
            errors.push(format!("shard {}/{count} is missing", i + 1));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut merged = first.clone();
    merged.shard = None;
    merged.baseline = None;
    for s in &mut merged.scenarios {
        s.results.clear();
    }
    for (_, r) in &shards {
        for (m, s) in merged.scenarios.iter_mut().zip(&r.scenarios) {
            m.results.extend(s.results.iter().cloned());
        }
    }
    for s in &mut merged.scenarios {
        let mut got: Vec<u64> = s.results.iter().map(|r| r.seed).collect();
        got.sort_unstable();
        if got != s.seeds {
            let missing: Vec<String> = s
                .seeds
                .iter()
                .filter(|x| !got.contains(x))
                .map(|x| x.to_string())
                .collect();
            let mut twice: Vec<String> = got
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| w[0].to_string())
                .collect();
            twice.dedup();
            errors.push(format!(
                "{}: the shards do not hold each seed once (missing: [{}], twice: [{}])",
                s.file,
                missing.join(", "),
                twice.join(", ")
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    merged.finalize();
    Ok(merged)
}
