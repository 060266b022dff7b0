//! `poolsim check` and `poolsim merge` as CI runs them: verdicts over seeds,
//! parallel runs identical to serial ones, JUnit that parses, GitHub
//! annotations on the assertion's line, baselines, shards, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn poolsim_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_poolsim"));
    c.args(args).current_dir(dir).env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("poolsim runs")
}

fn poolsim(args: &[&str]) -> Output {
    poolsim_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[])
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("poolsim-check-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap()
}

/// A short reservoir scenario (2 simulated minutes).
fn small(rate: u32, extra_assertions: &str) -> String {
    format!(
        "name: small
duration: 2m
workload: {{type: constant, checkout_rate: {rate}, hold_duration: 100ms, hold_distribution: exponential}}
pools:
  - name: h
    target_size: 20
    reservoir: {{enabled: true, target_ready: 20}}
assertions:
  - type: request_failures
    max: 0
{extra_assertions}"
    )
}

/// Line (1-based) of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn shipped_scenarios_in_parallel_equal_serial_and_the_junit_parses() {
    let d = tmp("shipped");
    let mut outs = Vec::new();
    for jobs in ["1", "2"] {
        let j = d.join(format!("j{jobs}.json"));
        let x = d.join(format!("j{jobs}.xml"));
        let o = poolsim(&[
            "check",
            "scenarios",
            "--seeds",
            "1..2",
            "--jobs",
            jobs,
            "--json",
            j.to_str().unwrap(),
            "--junit",
            x.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        outs.push((read(&j), read(&x), stdout(&o)));
    }
    assert_eq!(
        outs[0].0, outs[1].0,
        "--jobs 1 and --jobs 2 give other JSON"
    );
    assert_eq!(
        outs[0].1, outs[1].1,
        "--jobs 1 and --jobs 2 give other JUnit"
    );
    assert_eq!(
        outs[0].2, outs[1].2,
        "--jobs 1 and --jobs 2 print otherwise"
    );

    // One line per shipped scenario, then the total.
    let text = &outs[0].2;
    let files: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| format!("scenarios/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    for f in &files {
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("PASS") && l.contains(f.as_str()))
                .count(),
            1,
            "{f}: {text}"
        );
    }
    assert!(
        text.contains("| reservoir_hits_ratio 2/2 worst 1 (seed 1) >= 0.95"),
        "{text}"
    );
    assert!(
        text.contains(&format!("total: {0} of {0} scenarios passed", files.len())),
        "{text}"
    );

    // The JUnit parses: a testsuite per file, a testcase per assertion x seed.
    let x = &outs[0].1;
    let doc = roxmltree::Document::parse(x).expect("JUnit is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), files.len());
    let report = json(&d.join("j1.json"));
    let mut total = 0;
    for (s, js) in suites.iter().zip(report["scenarios"].as_array().unwrap()) {
        assert_eq!(s.attribute("name"), js["file"].as_str());
        let n = js["assertions"].as_array().unwrap().len().max(1) * 2;
        let cases = s.children().filter(|c| c.has_tag_name("testcase")).count();
        assert_eq!(cases, n, "{}", js["file"]);
        assert_eq!(s.attribute("tests"), Some(n.to_string().as_str()));
        assert_eq!(s.attribute("failures"), Some("0"));
        total += n;
    }
    assert_eq!(root.attribute("tests"), Some(total.to_string().as_str()));
    // Each testcase carries the file and the assertion's line.
    let basic = read(Path::new("scenarios/reservoir-basic.yaml"));
    let want = line_of(&basic, "type: reservoir_hits_ratio").to_string();
    assert!(doc.descendants().any(|n| n.has_tag_name("testcase")
        && n.attribute("file") == Some("scenarios/reservoir-basic.yaml")
        && n.attribute("line") == Some(want.as_str())
        && n.attribute("name")
            .unwrap()
            .contains("reservoir_hits_ratio, seed 2")));
    // Every run of the JSON has its key figures and a verdict per assertion.
    for s in report["scenarios"].as_array().unwrap() {
        for r in s["results"].as_array().unwrap() {
            assert!(r["figures"]["requests"].as_u64().unwrap() > 0, "{r}");
            assert_eq!(
                r["assertions"].as_array().unwrap().len(),
                s["assertions"].as_array().unwrap().len()
            );
        }
    }
}

#[test]
fn a_planted_failure_is_annotated_on_its_line() {
    let d = tmp("annotate");
    let body = small(
        10,
        "  - type: max_physical_connections   # planted: the reservoir holds 20\n    max: 5\n",
    );
    let f = write(&d, "planted.yaml", &body);
    let want_line = line_of(&body, "type: max_physical_connections");
    let xml = d.join("out.xml");
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..3",
        "--annotations",
        "github",
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let annotation = format!(
        "::error file={f},line={want_line},title=poolsim check%3A max_physical_connections::"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&annotation))
        .unwrap_or_else(|| panic!("no annotation {annotation} in\n{text}"));
    assert!(
        line.contains("held in 0 of 3 seeds (required: 3); worst"),
        "{line}"
    );
    assert!(line.contains("> 5"), "{line}");
    // Only the failing assertion is annotated.
    assert_eq!(
        text.lines().filter(|l| l.starts_with("::")).count(),
        1,
        "{text}"
    );
    // The plain text says the same with file:line.
    assert!(
        text.contains(&format!(
            "{f}:{want_line}: max_physical_connections held in 0 of 3 seeds"
        )),
        "{text}"
    );
    assert!(text.starts_with("FAIL "), "{text}");
    // GITHUB_ACTIONS=true turns them on by itself; without it, none.
    let o = poolsim_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["check", &f],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert!(stdout(&o).contains(&format!("::error file={f},line={want_line},")));
    let o = poolsim(&["check", &f]);
    assert!(!stdout(&o).contains("::error"));
    // The JUnit failure gives observed vs threshold.
    let x = read(&xml);
    let doc = roxmltree::Document::parse(&x).unwrap();
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 3, "one per seed");
    let msg = failures[0].attribute("message").unwrap();
    assert!(
        msg.starts_with("observed ") && msg.ends_with("> threshold 5 (connections)"),
        "{msg}"
    );
    assert_eq!(
        failures[0].parent().unwrap().attribute("line"),
        Some(want_line.to_string().as_str())
    );
}

#[test]
fn min_pass_rate_tolerates_a_fraction_of_seeds() {
    let d = tmp("rate");
    // A plain pool of 12 connections offered 10 Erlangs: requests queue,
    // and the tail of the wait varies from seed to seed.
    let queue = |max: &str| {
        format!(
            "duration: 2m
workload: {{type: constant, checkout_rate: 100, hold_duration: 100ms, hold_distribution: exponential}}
pools:
  - {{name: q, target_size: 12}}
assertions:
  - {{type: request_failures, max: 0}}
  - {{type: wait_time, percentile: 99.9, max: {max}}}
"
        )
    };
    let probe = write(&d, "probe.yaml", &queue("1h"));
    let j = d.join("probe.json");
    let o = poolsim(&[
        "check",
        &probe,
        "--seeds",
        "1..6",
        "--json",
        j.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = json(&j);
    let mut waits: Vec<f64> = report["scenarios"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["assertions"][1]["observed"].as_f64().unwrap())
        .collect();
    waits.sort_by(f64::total_cmp);
    assert!(waits[4] < waits[5], "the seeds must differ: {waits:?}");
    // A threshold that only the worst seed exceeds: 5 of 6 seeds hold.
    let threshold = format!(
        "{}us",
        ((waits[4] + waits[5]) / 2.0 * 1000.0).round() as u64
    );
    assert!(waits[4] * 1000.0 < threshold.trim_end_matches("us").parse::<f64>().unwrap());
    let f = write(&d, "s.yaml", &queue(&threshold));
    let o = poolsim(&["check", &f, "--seeds", "1..6"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("wait_time p99.9 5/6 worst"),
        "{}",
        stdout(&o)
    );
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..6",
        "--min-pass-rate",
        "80%",
        "--annotations",
        "github",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(
        text.contains("(each assertion must hold in 80% of seeds)"),
        "{text}"
    );
    // Still worth a warning on the line.
    assert!(text.contains("::warning file="), "{text}");
    let o = poolsim(&["check", &f, "--seeds", "1..6", "--min-pass-rate", "0.9"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_planted_regression_is_found_against_the_baseline() {
    let d = tmp("baseline");
    let f = write(&d, "s.yaml", &small(10, ""));
    let base = d.join("base.json");
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..3",
        "--json",
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The same scenario against itself: nothing regressed.
    let same = d.join("same.json");
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..3",
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on-regression",
        "--json",
        same.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let r = json(&same);
    assert_eq!(r["baseline"]["regressions"], 0);
    assert_eq!(r["baseline"]["scenarios"][0]["status"], "compared");
    assert_eq!(
        r["baseline"]["scenarios"][0]["seeds"],
        serde_json::json!([1, 2, 3])
    );
    // Plant a regression: 50% more requests, so the direct reservoir
    // (one connect per checkout) connects about 50% more.
    write(&d, "s.yaml", &small(15, ""));
    let now = d.join("now.json");
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..3",
        "--baseline",
        base.to_str().unwrap(),
        "--json",
        now.to_str().unwrap(),
        "--annotations",
        "github",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "reported, not failed, without --fail-on-regression"
    );
    let text = stdout(&o);
    assert!(
        text.contains(&format!("REGRESSION {f}: connects ")),
        "{text}"
    );
    assert!(text.contains("the limit is 10%, lower is better"), "{text}");
    assert!(
        text.contains(&format!(
            "::warning file={f},title=poolsim%3A connects regressed::"
        )),
        "{text}"
    );
    let r = json(&now);
    let figs = r["baseline"]["scenarios"][0]["figures"].as_array().unwrap();
    let connects = figs.iter().find(|x| x["figure"] == "connects").unwrap();
    assert_eq!(connects["regression"], true);
    assert!(connects["change"].as_f64().unwrap() > 0.3, "{connects}");
    assert!(r["baseline"]["regressions"].as_u64().unwrap() >= 1);
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..3",
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on-regression",
        "--annotations",
        "github",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(&format!(
        "::error file={f},title=poolsim%3A connects regressed::"
    )));
    // A tolerance above the change lets it through.
    let o = poolsim(&[
        "check",
        &f,
        "--seeds",
        "1..3",
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on-regression",
        "--max-regression",
        "1000%",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn three_shards_merge_into_the_single_run_byte_for_byte() {
    let d = tmp("shards");
    let a = write(&d, "s/a.yaml", &small(10, ""));
    let b = write(
        &d,
        "s/sub/b.yml",
        &small(20, "  - {type: max_physical_connections, max: 5}\n"),
    );
    let c = write(&d, "s/c.yaml", &small(5, ""));
    let dir = d.join("s").display().to_string();
    let out = |n: &str| d.join(n).display().to_string();
    let single = poolsim(&[
        "check",
        &dir,
        "--seeds",
        "1..4",
        "--json",
        &out("all.json"),
        "--junit",
        &out("all.xml"),
    ]);
    assert_eq!(single.status.code(), Some(1), "{}", stderr(&single));
    let mut shard_points = 0;
    for i in 1..=3 {
        // The files in another order: the same shard.
        let args_files: Vec<&str> = if i == 2 { vec![&c, &b, &a] } else { vec![&dir] };
        let mut args = vec!["check"];
        args.extend(args_files);
        let (j, x) = (out(&format!("s{i}.json")), out(&format!("s{i}.xml")));
        let shard = format!("{i}/3");
        args.extend([
            "--seeds", "1..4", "--shard", &shard, "--json", &j, "--junit", &x,
        ]);
        let o = poolsim(&args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        let r = json(Path::new(&j));
        assert_eq!(r["shard"], serde_json::json!({"index": i, "count": 3}));
        shard_points += r["totals"]["runs"].as_u64().unwrap();
        assert!(stdout(&o).contains(&format!("[shard {i}/3]")));
    }
    assert_eq!(shard_points, 12, "every point in exactly one shard");
    // Shard 2 run with the files in another order equals shard 2 run on the directory.
    let again = poolsim(&[
        "check",
        &dir,
        "--seeds",
        "1..4",
        "--shard",
        "2/3",
        "--json",
        &out("s2b.json"),
    ]);
    assert!(matches!(again.status.code(), Some(0 | 1)));
    assert_eq!(
        read(Path::new(&out("s2.json"))),
        read(Path::new(&out("s2b.json")))
    );

    let merged = poolsim(&[
        "merge",
        &out("s3.json"),
        &out("s1.json"),
        &out("s2.json"),
        "--json",
        &out("merged.json"),
        "--junit",
        &out("merged.xml"),
    ]);
    assert_eq!(
        merged.status.code(),
        single.status.code(),
        "{}",
        stderr(&merged)
    );
    assert_eq!(
        read(Path::new(&out("merged.json"))),
        read(Path::new(&out("all.json")))
    );
    assert_eq!(
        read(Path::new(&out("merged.xml"))),
        read(Path::new(&out("all.xml")))
    );
    assert_eq!(stdout(&merged), stdout(&single));

    // A missing shard, a shard given twice, a whole check: refused, named.
    let o = poolsim(&["merge", &out("s1.json"), &out("s2.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("shard 3/3 is missing"),
        "{}",
        stderr(&o)
    );
    let o = poolsim(&[
        "merge",
        &out("s1.json"),
        &out("s2.json"),
        &out("s2b.json"),
        &out("s3.json"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is given twice"), "{}", stderr(&o));
    let o = poolsim(&["merge", &out("all.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a shard"), "{}", stderr(&o));
    // A baseline must be a whole check.
    let o = poolsim(&["check", &a, "--baseline", &out("s1.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("merge the shards first"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn directories_globs_and_no_reports_unless_asked() {
    let d = tmp("paths");
    write(&d, "a/x.yaml", &small(5, ""));
    write(&d, "a/b/y.yml", &small(5, ""));
    write(&d, "a/notes.txt", "not a scenario");
    write(&d, "a/.hidden/z.yaml", "not: [valid");
    let o = poolsim_in(&d, &["check", "a"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PASS    a/b/y.yml"), "{text}");
    assert!(lines[1].starts_with("PASS    a/x.yaml"), "{text}");
    assert!(
        lines[2].starts_with("total: 2 of 2 scenarios passed"),
        "{text}"
    );
    // A quoted glob, and a file named twice, checked once.
    let o = poolsim_in(&d, &["check", "a/**/*.yml", "./a/b/y.yml"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("total: 1 of 1 scenarios passed"),
        "{}",
        stdout(&o)
    );
    // Nothing but stdout: no per-run reports.
    let mut entries: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["a"]);
    // --reports writes each run's reports.
    let o = poolsim_in(
        &d,
        &["check", "a/x.yaml", "--seeds", "3,5", "--reports", "rep"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    for seed in [3, 5] {
        let s = read(&d.join(format!("rep/a/x/seed-{seed}/summary.json")));
        assert!(s.contains(&format!("\"seed\": {seed}")));
    }
}

#[test]
fn every_invalid_file_is_reported_and_the_valid_ones_still_run() {
    let d = tmp("invalid");
    write(&d, "s/good.yaml", &small(5, ""));
    write(
        &d,
        "s/bad1.yaml",
        "duration: 1m\npools:\n  - {name: h, target_size: 5, colour: red}\n",
    );
    write(
        &d,
        "s/bad2.yaml",
        "duration: 1m\npools:\n  - name: h\n    target_size: 5\n    reservoir: {enabled: true, guard_window: 20m}\n",
    );
    let o = poolsim_in(
        &d,
        &[
            "check",
            "s",
            "--junit",
            "out.xml",
            "--json",
            "out.json",
            "--annotations",
            "github",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let text = stdout(&o);
    assert!(
        text.contains("INVALID s/bad1.yaml  invalid: 1 problem"),
        "{text}"
    );
    assert!(
        text.contains("s/bad1.yaml:3: pools[0]: unknown field `colour`"),
        "{text}"
    );
    assert!(text.contains("INVALID s/bad2.yaml"), "{text}");
    assert!(
        text.contains("s/bad2.yaml:5: pools[0].reservoir.guard_window: "),
        "{text}"
    );
    assert!(text.contains("PASS    s/good.yaml"), "{text}");
    assert!(
        text.contains("total: 1 of 3 scenarios passed, 2 invalid"),
        "{text}"
    );
    assert!(
        text.contains("::error file=s/bad2.yaml,line=5,title=poolsim%3A invalid scenario::pools[0].reservoir.guard_window: (20m0s) must be shorter"),
        "{text}"
    );
    let x = read(&d.join("out.xml"));
    let doc = roxmltree::Document::parse(&x).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("error"))
            .count(),
        2
    );
    let r = json(&d.join("out.json"));
    assert_eq!(r["verdict"], "invalid");
    assert_eq!(r["totals"]["invalid"], 2);
}

#[test]
fn bad_arguments_exit_2_naming_the_problem() {
    let d = tmp("badargs");
    let f = write(&d, "s.yaml", &small(5, ""));
    let dir = d.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![f.clone(), "--seeds".into(), "5..1".into()],
            "the range 5..1 is empty",
        ),
        (
            vec![f.clone(), "--seeds".into(), "1,x".into()],
            "'x' is not a seed",
        ),
        (
            vec![f.clone(), "--seeds".into(), "1,1".into()],
            "seed 1 is listed twice",
        ),
        (
            vec![format!("{dir}/*.nothing")],
            "the glob pattern matches no file",
        ),
        (
            vec![format!("{dir}/missing.yaml")],
            "no such file or directory",
        ),
        (
            vec![f.clone(), "--shard".into(), "3/2".into()],
            "shard 3 does not exist, there are only 2",
        ),
        (
            vec![f.clone(), "--shard".into(), "0/2".into()],
            "shard indexes start at 1",
        ),
        (
            vec![f.clone(), "--jobs".into(), "0".into()],
            "must be at least 1",
        ),
        (
            vec![f.clone(), "--min-pass-rate".into(), "1.5".into()],
            "must be between 0 and 1",
        ),
        (vec![f.clone(), "--max-regression=-5%".into()], "at least 0"),
        (
            vec![f.clone(), "--baseline".into(), format!("{dir}/none.json")],
            "--baseline",
        ),
        (
            vec![f.clone(), "--baseline".into(), f.clone()],
            "not a check.json",
        ),
        (vec![f.clone(), "--fail-on-regression".into()], "--baseline"),
    ];
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let mut cases = cases;
    cases.push((vec![format!("{dir}/empty")], "holds no .yaml or .yml file"));
    for (args, want) in cases {
        let mut all = vec!["check".to_string()];
        all.extend(args.iter().cloned());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = poolsim(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{args:?}: want '{want}' in: {}",
            stderr(&o)
        );
        assert!(
            o.stdout.is_empty(),
            "{args:?}: nothing runs: {}",
            stdout(&o)
        );
    }
}

#[test]
fn thresholds_known_before_the_run_match_the_verdicts() {
    // Every assertion type, one restricted to a pool: gate::threshold_of
    // (known without running) agrees with assertions::evaluate.
    let yaml = "
duration: 1m
workload: {type: constant, checkout_rate: 5}
pools:
  - {name: a, target_size: 5, reservoir: {enabled: true}}
  - {name: b, target_size: 5}
assertions:
  - {type: reservoir_hits_ratio, min: 0.5}
  - {type: reservoir_empty_events, max: 3}
  - {type: max_connects_per_sec, max: 40}
  - {type: converge_within, duration: 20s, stable_for: 5s}
  - {type: checkout_latency, percentile: 99, max: 250ms}
  - {type: wait_time, percentile: 50, max: 1.5s, pool: b}
  - {type: request_failures, max: 2}
  - {type: pool_at_size, min_fraction: 0.8, pool: a}
  - {type: max_physical_connections, max: 12}
";
    let sc = poolsim::scenario::parse(yaml, "t.yaml", "t").unwrap();
    let o = poolsim::run::run(&sc).unwrap();
    assert_eq!(o.assertions.len(), 9);
    for (d, r) in sc.assertions.iter().zip(&o.assertions) {
        let (threshold, comparison, unit) = poolsim::gate::threshold_of(&d.check);
        assert_eq!(
            (threshold, comparison, unit),
            (r.threshold, r.comparison, r.unit),
            "{}",
            d.type_name
        );
    }
}

#[test]
fn a_run_that_cannot_complete_is_an_error_in_every_output() {
    // The engine stops runs that would spin or exhaust memory; validation
    // refuses what it can foresee, so build the record through the library
    // and put such an outcome in it.
    use poolsim::gate::{self, select};
    let d = tmp("error");
    write(&d, "s.yaml", &small(5, ""));
    let files = select::find_scenarios(&[d.join("s.yaml")]).unwrap();
    let loaded = gate::load_all(&files, &poolsim::scenario::parse);
    let points = gate::plan(&loaded, Some(&[1, 2]), None);
    let mut ex = gate::execute(&loaded, &points, 2, None, |_, _| {});
    assert!(ex.io_errors.is_empty());
    ex.runs[1] = poolsim::gate::record::RunEntry {
        seed: 2,
        passed: false,
        error: Some("the run could not complete: more than 10000000 events at one instant".into()),
        figures: None,
        assertions: Vec::new(),
    };
    let r = gate::assemble(&loaded, Some(&[1, 2]), 1.0, None, &points, ex.runs);
    assert_eq!(r.verdict, "invalid", "exit 2");
    let s = &r.scenarios[0];
    assert_eq!(s.status, "error");
    assert_eq!((s.runs, s.runs_passed), (2, 1));
    assert_eq!(
        s.assertions[0].evaluated, 1,
        "only completed runs are evaluated"
    );
    let file = &s.file;
    let text = gate::text::render(&r);
    assert!(text.starts_with("ERROR "), "{text}");
    assert!(
        text.contains(&format!("{file}: seed 2: the run could not complete")),
        "{text}"
    );
    let x = gate::junit::render(&r);
    let doc = roxmltree::Document::parse(&x).unwrap();
    let err = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an error testcase");
    assert_eq!(err.attribute("type"), Some("run"));
    assert_eq!(err.parent().unwrap().attribute("name"), Some("run, seed 2"));
    let a = gate::annotate::render(&r, false);
    assert!(
        a.contains(&format!(
            "::error file={file},title=poolsim%3A run failed::seed 2: "
        )),
        "{a}"
    );
    // And it reads back as it was written (what merge and --baseline rely on).
    let back = gate::CheckReport::from_json(&r.to_json()).unwrap();
    assert_eq!(back, r);
}
