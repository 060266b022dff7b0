//! The statistics themselves (issue 15): intervals across seeds that cover
//! the truth as often as they claim, paired differences that are exactly
//! zero for a mode against itself and narrower than unpaired ones under
//! common random numbers, batch means, MSER-5, confidence bounds of
//! assertions, and the refusals (exit 2) of bad input.
//!
//! # The coverage test and its binomial tolerance
//!
//! On the M/M/c pool (scenarios/erlang-c.yaml's shape: 10 connections, all
//! warmed, none ever closed, Poisson arrivals at 90/s, exponential holds of
//! 100 ms; here 10 simulated minutes, measured after 1) each repetition runs
//! 10 seeds through `compare --seeds`'s code and takes the 95% interval of
//! the mean wait and of P(wait) = 1 - hit ratio. Erlang C gives the true
//! values. 40 repetitions use 400 distinct seeds. If the intervals cover
//! with probability 0.95, the number X of the 40 that cover the truth is
//! Binomial(40, 0.95): P(X <= 32) = 0.0007, so the test requires X >= 33
//! (a correct method fails it for 7 seed sets in 10,000). As a check that
//! the test can see a wrong width, the same runs' 50% intervals must cover
//! in 11 to 29 of the 40 (Binomial(40, 0.5): outside with probability 0.006).
//! The whole test is 400 runs of 10 simulated minutes: about 10 s of CPU.

mod common;

use poolsim::compare::seeds::compare_seeds;
use poolsim::model::world::Stack;
use poolsim::stats;
use poolsim::theory::mmc;
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

/// The M/M/c pool of scenarios/erlang-c.yaml, `duration` long.
fn mmc_yaml(rate: f64, duration: &str) -> String {
    let text = std::fs::read_to_string("scenarios/erlang-c.yaml").expect("shipped scenario");
    assert!(text.contains("checkout_rate: 90\n") && text.contains("duration: 2h1m\n"));
    text.replace("checkout_rate: 90\n", &format!("checkout_rate: {rate}\n"))
        .replace("duration: 2h1m\n", &format!("duration: {duration}\n"))
        .replace("sample_every: 10s\n", "sample_every: 5s\n")
}

fn poolsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .args(args)
        .output()
        .expect("poolsim runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Per repetition: whether the 95% and the 50% intervals of the mean wait
/// and of P(wait) cover Erlang C.
fn coverage(reps: u64, seeds_per_rep: u64) -> [(usize, usize); 2] {
    let sc = common::scenario(&mmc_yaml(90.0, "11m"));
    let pred = mmc(90.0, 0.1, 10).expect("stable");
    let truth_wait_ms = pred.mean_wait_s * 1e3;
    let truth_hit = 1.0 - pred.p_wait;
    let stop = AtomicBool::new(false);
    let mut covered = [(0, 0); 2];
    for r in 0..reps {
        let seeds: Vec<u64> = (1..=seeds_per_rep).map(|k| r * seeds_per_rep + k).collect();
        let cmp = compare_seeds(&sc, &[Stack::Plain], &seeds, jobs(), &stop, |_, _| {})
            .expect("runs complete");
        let rep = cmp.summary.replications.expect("replications");
        for (k, (key, truth)) in [("wait_ms.mean", truth_wait_ms), ("hit_ratio", truth_hit)]
            .into_iter()
            .enumerate()
        {
            let f = rep.figures.iter().find(|f| f.key == key).unwrap();
            let values: Vec<f64> = f.modes["pool"]
                .values
                .iter()
                .map(|v| v.expect("a value"))
                .collect();
            let i95 = f.modes["pool"].interval.clone().expect("an interval");
            assert_eq!(i95, stats::interval(&values, 0.95).unwrap());
            let i50 = stats::interval(&values, 0.50).unwrap();
            covered[k].0 += (i95.lo <= truth && truth <= i95.hi) as usize;
            covered[k].1 += (i50.lo <= truth && truth <= i50.hi) as usize;
        }
    }
    covered
}

#[test]
fn intervals_across_seeds_cover_erlang_c_about_95_percent_of_the_time() {
    let [wait, hit] = coverage(40, 10);
    for (what, (c95, c50)) in [("mean wait", wait), ("P(wait)", hit)] {
        assert!(
            c95 >= 33,
            "{what}: the 95% interval covered Erlang C in {c95} of 40 repetitions (Binomial(40, 0.95) is below 33 with probability 0.0007)"
        );
        assert!(
            (11..=29).contains(&c50),
            "{what}: the 50% interval covered Erlang C in {c50} of 40 repetitions (expected about 20)"
        );
    }
}

#[test]
fn batch_means_intervals_cover_erlang_c() {
    // 40 runs of 31 minutes (measured after 1): 20 batches of 90 s each.
    // Same binomial tolerance as above.
    let pred = mmc(90.0, 0.1, 10).expect("stable");
    let truth_ms = pred.mean_wait_s * 1e3;
    let yaml = mmc_yaml(90.0, "31m");
    let mut covered = (0, 0);
    for seed in 1..=40u64 {
        let o = poolsim::run::run(&common::scenario(&yaml).with_seed(1000 + seed)).unwrap();
        let st = &o.summary.steady_state;
        assert_eq!(st.batches, 20);
        assert_eq!(st.batch_s, Some((90.0, 90.0)));
        let w = st.mean_wait_ms.as_ref().expect("an interval");
        let h = st.hit_ratio.as_ref().expect("an interval");
        covered.0 += (w.lo <= truth_ms && truth_ms <= w.hi) as usize;
        covered.1 += (h.lo <= 1.0 - pred.p_wait && 1.0 - pred.p_wait <= h.hi) as usize;
        // The estimate is the run's own mean wait (exact sums; the summary's
        // comes from the histogram, to 3 significant digits).
        let hist = o.summary.pools[0].wait_ms.mean;
        assert!(
            (w.estimate - hist).abs() <= 1e-3 * hist,
            "{} vs {hist}",
            w.estimate
        );
    }
    assert!(covered.0 >= 33, "mean wait: covered in {} of 40", covered.0);
    assert!(covered.1 >= 33, "P(wait): covered in {} of 40", covered.1);
}

#[test]
fn a_mode_against_itself_differs_by_exactly_zero_and_threads_change_nothing() {
    let sc = common::scenario(&mmc_yaml(90.0, "3m"));
    let stop = AtomicBool::new(false);
    let seeds = [3, 4, 5, 6];
    let modes = [Stack::DatabaseSql, Stack::Plain];
    let serial = compare_seeds(&sc, &modes, &seeds, 1, &stop, |_, _| {}).unwrap();
    let parallel = compare_seeds(&sc, &modes, &seeds, 3, &stop, |_, _| {}).unwrap();
    assert_eq!(
        serial.summary.to_json(),
        parallel.summary.to_json(),
        "parallel = serial"
    );
    let (a, b) = (
        serial.summary.replications.unwrap(),
        parallel.summary.replications.unwrap(),
    );
    let mut checked = 0;
    for (fa, fb) in a.figures.iter().zip(&b.figures) {
        for mode in ["database_sql", "pool"] {
            let x: Vec<f64> = fa.modes[mode].values.iter().flatten().copied().collect();
            let y: Vec<f64> = fb.modes[mode].values.iter().flatten().copied().collect();
            assert_eq!(x.len(), seeds.len(), "{}", fa.key);
            let d = stats::paired(&x, &y, 0.95).unwrap();
            assert_eq!(d.difference.mean, 0.0, "{} {mode}", fa.key);
            assert_eq!((d.difference.lo, d.difference.hi), (0.0, 0.0));
            assert!(!d.excludes_zero);
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * a.figures.len());
}

#[test]
fn paired_differences_are_tighter_than_unpaired_under_common_random_numbers() {
    // database/sql on the reservoir and the plain pool serve the M/M/c
    // requests almost alike, seed by seed: the paired interval of their
    // difference in mean wait is far narrower than Welch's unpaired one.
    let sc = common::scenario(&mmc_yaml(90.0, "6m"));
    let stop = AtomicBool::new(false);
    let seeds: Vec<u64> = (1..=8).collect();
    let cmp = compare_seeds(
        &sc,
        &[Stack::DatabaseSql, Stack::Plain],
        &seeds,
        jobs(),
        &stop,
        |_, _| {},
    )
    .unwrap();
    let r = cmp.summary.replications.unwrap();
    let f = r.figures.iter().find(|f| f.key == "wait_ms.mean").unwrap();
    let p = f.paired[0].difference.as_ref().unwrap();
    let unpaired = p.unpaired_half_width.unwrap();
    assert!(
        p.difference.half_width * 5.0 < unpaired,
        "paired ± {} vs unpaired ± {unpaired}",
        p.difference.half_width
    );
    // The unpaired width is what the two modes' own intervals imply.
    let (ia, ib) = (
        f.modes["database_sql"].interval.as_ref().unwrap(),
        f.modes["pool"].interval.as_ref().unwrap(),
    );
    assert!(unpaired > ia.half_width.max(ib.half_width));
}

#[test]
fn a_short_run_gets_no_batch_means_interval_and_says_why() {
    let yaml = mmc_yaml(60.0, "40s").replace("measure_after: 1m\n", "measure_after: 10s\n");
    let o = common::run(&yaml);
    let st = &o.summary.steady_state;
    assert_eq!((st.windows, st.batches), (6, 0));
    assert!(st.mean_wait_ms.is_none() && st.hit_ratio.is_none());
    assert!(
        st.notes[0].contains("too short for batch means: 6 measured sample windows"),
        "{:?}",
        st.notes
    );
    let json: serde_json::Value = serde_json::from_str(&o.summary.to_json()).unwrap();
    assert_eq!(json["steady_state"]["batches"], 0);
    assert!(json["steady_state"]["mean_wait_ms"].is_null());
}

/// Ten pools that open their connections on demand under one shared client
/// rate limit: the first seconds wait for connections, then the waits settle.
const SLOW_START: &str = "
name: slow start
seed: 1
duration: 10m
measure_after: 0s
global_rate_limit: 20
workload:
  type: constant
  checkout_rate: 150
  hold_duration: 200ms
  hold_distribution: exponential
pool:
  warmup: false
  keeper: false
pools:
  - {name: a-0, target_size: 50, reservoir: {enabled: false}}
  - {name: a-1, target_size: 50, reservoir: {enabled: false}}
  - {name: a-2, target_size: 50, reservoir: {enabled: false}}
  - {name: a-3, target_size: 50, reservoir: {enabled: false}}
";

#[test]
fn mser5_finds_the_warm_up_and_hints_when_measure_after_is_shorter() {
    let o = common::run(SLOW_START);
    let w = &o.summary.warmup;
    let detected = w.detected_s.expect("a warm-up is detected");
    assert!(detected > 0.0, "{w:?}");
    assert!(w.measure_after_too_short);
    assert!(
        o.summary
            .warnings
            .iter()
            .any(|x| x.contains("is shorter than the warm-up MSER-5 detects")),
        "{:?}",
        o.summary.warnings
    );
    // measure_after at the detected warm-up: no hint.
    let after = SLOW_START.replace(
        "measure_after: 0s",
        &format!("measure_after: {}ms", (detected * 1e3).round() as u64),
    );
    let o = common::run(&after);
    assert!(
        !o.summary.warmup.measure_after_too_short,
        "{:?}",
        o.summary.warmup
    );
    assert!(o.summary.warnings.is_empty(), "{:?}", o.summary.warnings);
}

#[test]
fn mser5_is_not_computed_for_bursts() {
    let o = common::run(&std::fs::read_to_string("scenarios/reservoir-burst.yaml").unwrap());
    assert!(o.summary.warmup.detected_s.is_none());
    assert!(o.summary.warmup.note.as_ref().unwrap().contains("bursts"));
    assert!(o
        .summary
        .steady_state
        .notes
        .iter()
        .any(|n| n.contains("a workload has bursts")));
}

// ----- assertions with confidence ---------------------------------------------

fn with_wait_assertion(max_ms: f64, confidence: &str) -> String {
    mmc_yaml(90.0, "4m").replace(
        "assertions:\n",
        &format!(
            "assertions:\n  - type: wait_time\n    percentile: 99\n    max: {max_ms}ms\n    {confidence}\n"
        ),
    )
}

#[test]
fn confidence_outside_0_1_is_refused_naming_the_key_and_line() {
    for bad in ["1.5", "0", "1", "-0.2", ".nan"] {
        let e = common::invalid(&with_wait_assertion(100.0, &format!("confidence: {bad}")));
        assert!(
            e.contains("assertions[0].confidence: must be above 0 and below 1"),
            "{bad}: {e}"
        );
        let line = with_wait_assertion(100.0, "confidence: X")
            .lines()
            .position(|l| l.contains("confidence: X"))
            .unwrap()
            + 1;
        assert!(e.contains(&format!("s.yaml:{line}:")), "{bad}: {e}");
    }
    common::scenario(&with_wait_assertion(100.0, "confidence: 0.95"));
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("poolsim-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn fewer_than_two_seeds_where_an_interval_is_asked_exits_2() {
    let f = write_temp("conf.yaml", &with_wait_assertion(500.0, "confidence: 0.95"));
    let f = f.to_str().unwrap();
    // check: each file's own seed only, or one seed.
    for args in [vec!["check", f], vec!["check", f, "--seeds", "7"]] {
        let o = poolsim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("--seeds: ")
                && stderr(&o).contains("assertions[0].confidence: 0.95 asks for a confidence bound across seeds, which needs at least 2 seeds (got 1)"),
            "{}",
            stderr(&o)
        );
    }
    let o = poolsim(&["run", f, "--seeds", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--seeds: ") && stderr(&o).contains(".yaml:"));
    // compare --seeds asks for intervals: 2 seeds at least, whatever the file.
    let plain = write_temp("plain.yaml", &mmc_yaml(60.0, "2m"));
    let o = poolsim(&["compare", plain.to_str().unwrap(), "--seeds", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("--seeds: the intervals of compare --seeds need at least 2 seeds (got 1: 5)"),
        "{}",
        stderr(&o)
    );
    // And a plain run of the file judges its one seed, saying so.
    let out = std::env::temp_dir().join(format!("poolsim-stats-out-{}", std::process::id()));
    let o = poolsim(&["run", f, "--out", out.to_str().unwrap()]);
    assert!(stdout(&o).contains("with confidence 0.95 the bound across seeds decides"));
    let _ = std::fs::remove_dir_all(out);
}

/// The per-seed p99 waits of the scenario at `seeds`, and their 95% upper bound.
fn p99s(yaml: &str, seeds: &[u64]) -> (Vec<f64>, f64) {
    let sc = common::scenario(yaml);
    let v: Vec<f64> = seeds
        .iter()
        .map(|&s| {
            let o = poolsim::run::run(&sc.clone().with_seed(s)).unwrap();
            o.assertions[0].observed.unwrap()
        })
        .collect();
    let b = stats::bound::evaluate(
        "<=",
        0.0,
        0.95,
        &v.iter().map(|x| Some(*x)).collect::<Vec<_>>(),
    );
    (v, b.bound.unwrap())
}

#[test]
fn the_bound_decides_check_and_run_seeds() {
    let seeds: Vec<u64> = (1..=10).collect();
    let (values, bound) = p99s(&with_wait_assertion(1.0, "confidence: 0.95"), &seeds);
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(bound < max, "the test needs a seed above the bound");
    // Between the bound and the worst seed: a seed fails, the bound holds.
    let pass_at = ((bound + max) / 2.0 * 1e3).round() / 1e3;
    // Above every seed's value but below the bound: every seed holds, the bound does not.
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(min < bound && mean < bound);
    let f = write_temp(
        "bound.yaml",
        &with_wait_assertion(pass_at, "confidence: 0.95"),
    );
    let json = std::env::temp_dir().join(format!("poolsim-stats-{}.json", std::process::id()));
    let junit = std::env::temp_dir().join(format!("poolsim-stats-{}.xml", std::process::id()));
    let o = poolsim(&[
        "check",
        f.to_str().unwrap(),
        "--seeds",
        "1..10",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let a = &report["scenarios"][0]["assertions"][0];
    assert!(a["passes"].as_u64().unwrap() < 10, "a seed failed: {a}");
    assert_eq!(a["passed"], true);
    assert_eq!(a["confidence"], 0.95);
    assert_eq!(a["bound"]["side"], "upper");
    assert!((a["bound"]["bound"].as_f64().unwrap() - bound).abs() < 1e-6);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("wait_time p99, upper 95% confidence bound over 10 seeds"));
    assert!(xml.contains("<system-out>upper 95% confidence bound over 10 seeds"));
    // run --seeds agrees.
    let o = poolsim(&[
        "run",
        f.to_str().unwrap(),
        "--seeds",
        "1..10",
        "--jobs",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("upper 95% confidence bound over 10 seeds"));
    // Below the bound: the bound fails, exit 1, whatever the seeds.
    let fail_at = ((mean + bound) / 2.0 * 1e3).round() / 1e3;
    let f = write_temp(
        "bound-fail.yaml",
        &with_wait_assertion(fail_at, "confidence: 0.95"),
    );
    let o = poolsim(&["check", f.to_str().unwrap(), "--seeds", "1..10"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("upper 95% bound"), "{}", stdout(&o));
    let o = poolsim(&["run", f.to_str().unwrap(), "--seeds", "1..10"]);
    assert_eq!(o.status.code(), Some(1));
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(junit);
}

#[test]
fn compare_seeds_writes_intervals_and_the_charts() {
    let f = write_temp("cmp.yaml", &mmc_yaml(60.0, "3m"));
    let out = std::env::temp_dir().join(format!("poolsim-stats-cmp-{}", std::process::id()));
    let o = poolsim(&[
        "compare",
        f.to_str().unwrap(),
        "--seeds",
        "1..4",
        "--modes",
        "database_sql,pool",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("over 4 seeds (1..4)"), "{text}");
    assert!(text.contains("paired differences database_sql - pool"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let r = &json["replications"];
    assert_eq!(r["seeds"], serde_json::json!([1, 2, 3, 4]));
    assert!(r["methods"]["percentile"]
        .as_str()
        .unwrap()
        .contains("per-seed percentiles"));
    let p99 = r["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "wait_ms.p99")
        .unwrap();
    assert_eq!(p99["method"], "percentile");
    assert_eq!(p99["modes"]["pool"]["values"].as_array().unwrap().len(), 4);
    assert!(p99["paired"][0]["difference"]["excludes_zero"].is_boolean());
    for c in ["intervals", "paired-differences"] {
        assert!(out.join(format!("charts/{c}.png")).exists());
        assert!(out.join(format!("charts/{c}.svg")).exists());
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Across 4 seeds") && html.contains("Paired differences"));
    let _ = std::fs::remove_dir_all(out);
}
