//! The `poolsim` command as a user (and CI) sees it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn poolsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("poolsim runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("poolsim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn shipped_scenarios_run_and_pass() {
    for f in [
        "scenarios/reservoir-basic.yaml",
        "scenarios/reservoir-burst.yaml",
        "scenarios/pool-expiry-burst.yaml",
        "scenarios/reservoir-churn.yaml",
        "scenarios/erlang-c.yaml",
    ] {
        let out = tmp(f.replace('/', "_").as_str());
        let o = poolsim(&["run", f, "--out", out.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("pool "), "{text}");
        assert!(out.join("summary.json").exists());
        assert!(out.join("timeseries.csv").exists());
    }
}

#[test]
fn same_seed_gives_byte_identical_outputs_and_another_seed_differs() {
    let f = "scenarios/reservoir-burst.yaml";
    let a = tmp("det-a");
    let b = tmp("det-b");
    let c = tmp("det-c");
    for (dir, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        let o = poolsim(&[
            "run",
            f,
            "--seed",
            seed,
            "--duration",
            "6m",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty(), "--quiet prints nothing");
    }
    for name in ["summary.json", "timeseries.csv"] {
        assert_eq!(
            read(&a.join(name)),
            read(&b.join(name)),
            "{name} differs between identical runs"
        );
        assert_ne!(
            read(&a.join(name)),
            read(&c.join(name)),
            "{name} ignores the seed"
        );
    }
    let s = String::from_utf8(read(&a.join("summary.json"))).unwrap();
    assert!(s.contains("\"seed\": 7"));
    assert!(s.contains("\"duration_s\": 360.0"));
}

#[test]
fn a_failed_assertion_exits_1_and_says_fail() {
    let d = tmp("fail");
    let f = write(
        &d,
        "s.yaml",
        "
duration: 1m
workload: {type: constant, checkout_rate: 50, hold_duration: 1s}
pools:
  - {name: h, target_size: 5, reservoir: {enabled: true}}
assertions:
  - {type: reservoir_hits_ratio, min: 0.99}
  - {type: reservoir_empty_events, max: 1000000}
",
    );
    let o = poolsim(&["run", &f, "--out", d.join("out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("FAIL  reservoir_hits_ratio"), "{text}");
    assert!(text.contains("PASS  reservoir_empty_events"), "{text}");
    let s = String::from_utf8(read(&d.join("out/summary.json"))).unwrap();
    assert!(s.contains("\"passed\": false"));
}

#[test]
fn invalid_scenarios_exit_2_naming_the_key_and_line() {
    let d = tmp("invalid");
    let cases = [
        ("pools:\n  - name: a\n    target_size: 5\n    reservoir:\n      enabled: true\n      bogus: 1\n", "bogus", ":6"),
        ("pools:\n  - name: a\n    target_size: 5\n    reservoir:\n      enabled: true\n      base_lifetime: 30s\n      guard_window: 45s\n", "pools[0].reservoir.guard_window", ":7"),
        ("duration: 10 minutes\npools: []\n", "duration", ":1"),
        ("workload:\n  type: constant\n  checkout_rate: -3\npools:\n  - {name: a, target_size: 1, reservoir: {enabled: true}}\n", "workload.checkout_rate", ":3"),
        ("workload:\n  type: burst\n  baseline_rate: 1\n  burst_rate: 5\n  burst_duration: 10m\n  burst_interval: 5m\npools:\n  - {name: a, target_size: 1, reservoir: {enabled: true}}\n", "workload.burst_duration", ":5"),
        ("pools:\n  - {name: a, target_size: 1, reservoir: {enabled: true}}\nassertions:\n  - type: reservoir_hits_ratio\n    min: 1.5\n", "assertions[0].min", ":5"),
        ("pools:\n  - {name: a, target_size: 1, reservoir: {enabled: true}}\nassertions:\n  - type: no_such_check\n", "no_such_check", ":4"),
    ];
    for (i, (yaml, key, line)) in cases.iter().enumerate() {
        let f = write(&d, &format!("bad{i}.yaml"), yaml);
        let o = poolsim(&["run", &f, "--out", d.join("o").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(
            err.contains(key),
            "case {i}: error does not name {key}: {err}"
        );
        assert!(
            err.contains(&format!("bad{i}.yaml{line}")),
            "case {i}: no line {line}: {err}"
        );
    }
}

#[test]
fn validate_counts_pools_and_assertions_in_words() {
    let d = tmp("counts");
    let one = write(
        &d,
        "one.yaml",
        "pools:\n  - {name: a, target_size: 1}\nassertions:\n  - {type: request_failures, max: 0}\n",
    );
    let o = poolsim(&["validate", &one]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stdout).ends_with("valid (1 pool, 1 assertion)\n"),
        "{o:?}"
    );
    let two = write(
        &d,
        "two.yaml",
        "pools:\n  - {name: a, target_size: 1}\n  - {name: b, target_size: 1}\n",
    );
    let o = poolsim(&["validate", &two]);
    assert!(
        String::from_utf8_lossy(&o.stdout).ends_with("valid (2 pools, 0 assertions)\n"),
        "{o:?}"
    );
}

#[test]
fn validation_reports_every_problem_at_once() {
    let d = tmp("many");
    let f = write(&d, "s.yaml", "duration: 0s\nsample_every: 0s\npools:\n  - {name: a, target_size: 0, reservoir: {enabled: true, guard_window: 20m}}\n");
    let o = poolsim(&["validate", &f]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for key in [
        "duration",
        "sample_every",
        "pools[0].target_size",
        "pools[0].reservoir.guard_window",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(poolsim(&["run"]).status.code(), Some(2));
    assert_eq!(
        poolsim(&["run", "scenarios/reservoir-basic.yaml", "--duration", "ten"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        poolsim(&["run", "scenarios/reservoir-basic.yaml", "--duration", "0s"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        poolsim(&["run", "no/such/file.yaml"]).status.code(),
        Some(2)
    );
    let help = poolsim(&["run", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes"));
}

#[test]
fn compare_prints_the_modes_side_by_side_and_gates_on_the_files_mode() {
    // reservoir-churn selects the plain pool; its assertions pass there and
    // fail in the direct stack (connect rate).
    let f = "scenarios/reservoir-churn.yaml";
    let out = tmp("compare");
    let o = poolsim(&[
        "compare",
        f,
        "--duration",
        "5m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in ["direct", "database_sql", "pool*", "churn discards", "FAIL"] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let json: serde_json::Value = serde_json::from_slice(&read(&out.join("compare.json"))).unwrap();
    assert_eq!(json["file_mode"], "pool");
    assert_eq!(json["modes"].as_array().unwrap().len(), 3);
    // Without the file's own mode the default gate cannot decide: refused
    // before running (it used to exit 0 with no assertion checked).
    let o = poolsim(&[
        "compare",
        f,
        "--duration",
        "5m",
        "--modes",
        "direct",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not among the modes run"));
    // Asked explicitly, no gate: exit 0 whatever the assertions say.
    let o = poolsim(&[
        "compare",
        f,
        "--duration",
        "5m",
        "--modes",
        "direct",
        "--gate",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--gate none"));
    // A file whose own mode fails exits 1: the same scenario as a direct reservoir.
    let dir = tmp("compare-direct");
    let body = std::fs::read_to_string(f).unwrap().replace(
        "target_size: 50}",
        "target_size: 50, reservoir: {enabled: true}}",
    );
    let g = write(&dir, "churn-direct.yaml", &body);
    let o = poolsim(&[
        "compare",
        &g,
        "--duration",
        "5m",
        "--modes",
        "direct,pool",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Bad --modes are refused.
    let o = poolsim(&["compare", f, "--modes", "plain"]);
    assert_eq!(o.status.code(), Some(2));
}
