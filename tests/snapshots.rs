//! Pinned figures: every shipped scenario's `summary.json` (what `poolsim run`
//! writes) and `compare.json` (what `poolsim compare` writes) are golden files
//! under `tests/snapshots/`, so any change in results shows up as a failing
//! test and, once accepted, as a reviewed diff.
//!
//! After an intended change in results, regenerate and review:
//!
//! ```text
//! UPDATE_SNAPSHOTS=1 cargo test --release --test snapshots
//! git diff tests/snapshots/
//! ```
//!
//! The same runs are checked against Little's law (L = lambda W) in every
//! mode of every shipped scenario. docs/testing.md describes the workflow.

use poolsim::compare::{self, Comparison};
use poolsim::model::world::{SampleRow, Stack};
use poolsim::run::RunOutput;
use poolsim::theory::batch_means_half_width;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A shipped scenario, run as `poolsim run` and `poolsim compare` run it.
struct Shipped {
    stem: String,
    run: RunOutput,
    compare: Comparison,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stems of `scenarios/*.yaml`, sorted.
fn scenario_stems() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    stems.sort();
    assert!(stems.len() >= 5, "shipped scenarios: {stems:?}");
    stems
}

/// Every shipped scenario, run once per test binary (in parallel threads) and
/// shared by the tests below.
fn shipped() -> &'static [Shipped] {
    static CELL: OnceLock<Vec<Shipped>> = OnceLock::new();
    CELL.get_or_init(|| {
        let stems = scenario_stems();
        std::thread::scope(|s| {
            let jobs: Vec<_> = stems
                .iter()
                .map(|stem| {
                    // Relative, as a user types it (cargo runs tests from the
                    // package root): summary.json records the path as given,
                    // and the golden files must not depend on where the
                    // repository is checked out.
                    let path = PathBuf::from("scenarios").join(format!("{stem}.yaml"));
                    let sc = poolsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                    let sc2 = sc.clone();
                    let run = s.spawn(move || poolsim::run::run(&sc).expect("run completes"));
                    let cmp = s.spawn(move || {
                        compare::compare(&sc2, &Stack::ALL, |_, _| {}).expect("compare completes")
                    });
                    (stem.clone(), run, cmp)
                })
                .collect();
            jobs.into_iter()
                .map(|(stem, run, cmp)| Shipped {
                    stem,
                    run: run.join().expect("run thread"),
                    compare: cmp.join().expect("compare thread"),
                })
                .collect()
        })
    })
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| !v.is_empty() && v != "0")
}

fn snapshot_path(file: &str) -> PathBuf {
    root().join("tests/snapshots").join(file)
}

/// Up to `limit` differences between two JSON values, one line each:
/// `path: golden -> now`.
fn json_diff(path: &str, golden: &Value, now: &Value, out: &mut Vec<String>) {
    match (golden, now) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) => json_diff(&p, va, vb, out),
                    None => out.push(format!("{p}: removed (was {va})")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: added ({})", short(vb)));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                json_diff(&format!("{path}[{i}]"), va, vb, out);
            }
            if a.len() != b.len() {
                out.push(format!("{path}: {} entries -> {}", a.len(), b.len()));
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} -> {b}")),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..77])
    } else {
        s
    }
}

/// Compare `now` with the golden file `file` (or write it when updating).
/// Returns a readable description of the difference, if any.
fn check_snapshot(file: &str, now: &str) -> Option<String> {
    let path = snapshot_path(file);
    let golden = std::fs::read_to_string(&path).ok();
    if golden.as_deref() == Some(now) {
        return None;
    }
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, now).unwrap();
        eprintln!("updated {}", path.display());
        return None;
    }
    let Some(golden) = golden else {
        return Some(format!(
            "{file}: no golden file (run with UPDATE_SNAPSHOTS=1 to create it)"
        ));
    };
    let (a, b): (Value, Value) = (
        serde_json::from_str(&golden).expect("golden file is JSON"),
        serde_json::from_str(now).expect("output is JSON"),
    );
    let mut diffs = Vec::new();
    json_diff("", &a, &b, &mut diffs);
    if diffs.is_empty() {
        diffs.push("same values, different text (formatting or key order)".into());
    }
    let n = diffs.len();
    diffs.truncate(40);
    Some(format!(
        "{file}: {n} difference(s) (golden -> now):\n    {}{}",
        diffs.join("\n    "),
        if n > 40 { "\n    ..." } else { "" }
    ))
}

fn report(diffs: Vec<String>) {
    assert!(
        diffs.is_empty(),
        "results differ from the golden files in tests/snapshots/:\n\n{}\n\n\
         If the change is intended: UPDATE_SNAPSHOTS=1 cargo test --release --test snapshots, \
         then review `git diff tests/snapshots/` and update README figures that quote them.",
        diffs.join("\n\n")
    );
}

#[test]
fn summary_json_of_every_shipped_scenario_matches_its_snapshot() {
    let diffs = shipped()
        .iter()
        .filter_map(|s| {
            check_snapshot(
                &format!("{}.summary.json", s.stem),
                &s.run.summary.to_json(),
            )
        })
        .collect();
    report(diffs);
}

#[test]
fn compare_json_of_every_shipped_scenario_matches_its_snapshot() {
    let diffs = shipped()
        .iter()
        .filter_map(|s| {
            check_snapshot(
                &format!("{}.compare.json", s.stem),
                &s.compare.summary.to_json(),
            )
        })
        .collect();
    report(diffs);
}

#[test]
fn every_snapshot_belongs_to_a_shipped_scenario() {
    let stems = scenario_stems();
    let dir = root().join("tests/snapshots");
    let mut stale = Vec::new();
    for e in std::fs::read_dir(&dir).expect("tests/snapshots/") {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let ok = ["summary", "compare"]
            .iter()
            .any(|kind| stems.iter().any(|s| name == format!("{s}.{kind}.json")));
        if !ok {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "golden files without a shipped scenario (delete them): {stale:?} in {}",
        Path::new("tests/snapshots").display()
    );
}

#[test]
fn the_file_mode_of_compare_is_exactly_poolsim_run() {
    // compare.json's row for the file's own mode and `poolsim run` are the
    // same simulation: same requests, same verdicts.
    for s in shipped() {
        let Some(m) = s.compare.gating() else {
            continue;
        };
        assert_eq!(
            m.output.summary.to_json(),
            s.run.summary.to_json(),
            "{}: the {} mode of compare differs from run",
            s.stem,
            m.stack.name()
        );
    }
}

/// A sampled quantity of a pool.
type Field = fn(&SampleRow) -> u32;

/// Little's law, L = lambda W, for one pool of one run: the time-average of
/// the sampled `in_use` against arrival rate x mean hold, and of the sampled
/// `waiting` against arrival rate x mean wait. Returns the failures.
///
/// L is the mean over the samples once the pool serves and `measure_after`
/// has passed; lambda comes from the cumulative request counter of the same
/// samples. The tolerance is 5 standard errors of the residual
/// `x_k - lambda_k W` (lambda_k: the arrival rate of the sample's own
/// interval), estimated by batch means over 20 batches: comparing each sample
/// with its own interval's rate takes the bursts' changing rate out of the
/// noise, so a bursty scenario is checked as tightly as a steady one.
fn littles_law(label: &str, o: &RunOutput) -> Vec<String> {
    let obs = &o.observations;
    let mut bad = Vec::new();
    for (i, p) in o.summary.pools.iter().enumerate() {
        let Some(serving) = obs.pools[i].serving_since else {
            bad.push(format!("{label} {}: never served", p.name));
            continue;
        };
        // Requests are counted from max(serving, measure_after) to the end.
        let from = serving.max(obs.measure_after);
        let rows: Vec<_> = obs
            .samples
            .iter()
            .filter(|r| r.pool as usize == i && r.t >= from)
            .collect();
        let pairs: Vec<_> = rows.windows(2).map(|w| (w[0], w[1])).collect();
        let window_s = (obs.duration - from) as f64 / 1e9;
        assert!(
            pairs.len() as f64 >= 0.99 * window_s / (obs.sample_every as f64 / 1e9) - 2.0,
            "{label}: samples cover the window"
        );
        let rate = |a: &SampleRow, b: &SampleRow| {
            (b.counters.requests - a.counters.requests) as f64 / ((b.t - a.t) as f64 / 1e9)
        };
        // W of a hold: the mean hold of served requests is their request
        // latency minus their wait. The wait mean is over every request; the
        // failed ones (a handful at most) shift it by at most
        // failures x max wait / requests, added to the tolerance.
        assert!(
            p.failures * 1000 <= p.requests,
            "{label} {}: {} of {} requests failed",
            p.name,
            p.failures,
            p.requests
        );
        let served = (p.requests - p.failures) as f64 / p.requests as f64;
        let failed_ms = p.failures as f64 * p.wait_ms.max / p.requests as f64;
        let hold_ms = p.request_latency_ms.mean - p.wait_ms.mean;
        let checks: [(&str, Field, f64, f64); 2] = [
            ("in_use", |r| r.in_use, served, hold_ms),
            ("waiting", |r| r.waiting, 1.0, p.wait_ms.mean),
        ];
        for (what, x, share, w_ms) in checks {
            let n = pairs.len() as f64;
            let l = pairs.iter().map(|(_, b)| f64::from(x(b))).sum::<f64>() / n;
            let lambda = pairs.iter().map(|(a, b)| rate(a, b)).sum::<f64>() / n;
            let predicted = share * lambda * w_ms / 1e3;
            let residuals: Vec<f64> = pairs
                .iter()
                .map(|(a, b)| f64::from(x(b)) - share * rate(a, b) * w_ms / 1e3)
                .collect();
            // Plus the histograms' means (3 significant digits) and the
            // failed requests' share of the mean wait.
            let tol = batch_means_half_width(&residuals, 20, 5.0).unwrap()
                + 2e-3 * predicted
                + 1e-3
                + lambda * failed_ms / 1e3;
            eprintln!(
                "{label} {} {what}: L {l:.4}, lambda W {predicted:.4}, tolerance {tol:.4}",
                p.name
            );
            if (l - predicted).abs() > tol {
                bad.push(format!(
                    "{label} {}: mean {what} {l:.4} but lambda {lambda:.4}/s x W {w_ms:.4} ms = {predicted:.4} (tolerance {tol:.4})",
                    p.name
                ));
            }
        }
    }
    bad
}

#[test]
fn littles_law_holds_for_every_pool_in_every_mode_of_every_shipped_scenario() {
    let mut bad = Vec::new();
    let mut checked = 0;
    for s in shipped() {
        bad.extend(littles_law(&format!("{} run", s.stem), &s.run));
        for m in &s.compare.modes {
            let label = format!("{} compare {}", s.stem, m.stack.name());
            bad.extend(littles_law(&label, &m.output));
            checked += m.output.summary.pools.len();
        }
    }
    assert!(checked >= 5 * 3, "{checked} pools checked");
    assert!(bad.is_empty(), "Little's law fails:\n{}", bad.join("\n"));
}
