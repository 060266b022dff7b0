//! Nothing a user types can hang, abort or mislead poolsim, and no report is
//! ever half-written: one regression test per defect found, and the corpus
//! of reproducers in `tests/corpus/` run through the command.
//!
//! A corpus file says what it expects in its leading comments:
//!
//! ```text
//! # args: --duration 720h          extra arguments to `poolsim run`
//! # expect-exit: 2                  the exit code
//! # expect-stderr: TEXT             stderr contains TEXT (repeatable)
//! # expect-stdout: TEXT             stdout contains TEXT (repeatable)
//! # expect-no-stderr: TEXT          stderr does not contain TEXT
//! ```

mod common;

use poolsim::report::files::{self, WriteOptions};
use poolsim::scenario::{self, Override};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_poolsim");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("poolsim-robust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run poolsim; a run that has not ended after `limit` is killed and the test
/// fails (a hang guard, not a speed assertion).
fn poolsim_in(args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("poolsim starts");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = s.write_all(&input);
        });
    }
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "poolsim {args:?} did not end within {limit:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn poolsim(args: &[&str]) -> Output {
    poolsim_in(args, None, Duration::from_secs(300))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

/// Every file under `dir`, with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Names in `dir` that are poolsim staging directories.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("poolsim-tmp"))
        .collect()
}

// ----- the corpus ---------------------------------------------------------------

#[test]
fn corpus_of_reproducers_gets_documented_exit_codes_and_true_results() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus is missing files");
    let out = tmp("corpus");
    for f in files {
        let body = std::fs::read_to_string(&f).unwrap();
        let body = body.trim_start_matches('\u{feff}');
        let mut args: Vec<String> = Vec::new();
        let mut exit = None;
        let (mut stderr, mut stdout, mut not_stderr) = (vec![], vec![], vec![]);
        for line in body.lines().take_while(|l| l.starts_with('#')) {
            let line = line.trim_start_matches('#').trim();
            if let Some(v) = line.strip_prefix("args:") {
                args.extend(v.split_whitespace().map(String::from));
            } else if let Some(v) = line.strip_prefix("expect-exit:") {
                exit = Some(v.trim().parse::<i32>().unwrap());
            } else if let Some(v) = line.strip_prefix("expect-stderr:") {
                stderr.push(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("expect-stdout:") {
                stdout.push(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("expect-no-stderr:") {
                not_stderr.push(v.trim().to_string());
            }
        }
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let exit = exit.unwrap_or_else(|| panic!("{name}: no expect-exit"));
        let o_dir = out.join(&name);
        let mut a = vec!["run", f.to_str().unwrap(), "--out", o_dir.to_str().unwrap()];
        a.extend(args.iter().map(String::as_str));
        let o = poolsim_in(&a, None, Duration::from_secs(120));
        let (err, outp) = (text(&o.stderr), text(&o.stdout));
        assert_eq!(o.status.code(), Some(exit), "{name}:\n{err}\n{outp}");
        for s in &stderr {
            assert!(
                err.contains(s.as_str()),
                "{name}: stderr lacks {s:?}:\n{err}"
            );
        }
        for s in &stdout {
            assert!(
                outp.contains(s.as_str()),
                "{name}: stdout lacks {s:?}:\n{outp}"
            );
        }
        for s in &not_stderr {
            assert!(
                !err.contains(s.as_str()),
                "{name}: stderr has {s:?}:\n{err}"
            );
        }
        // validate agrees with run about validity.
        let v = poolsim_in(
            &[&["validate", f.to_str().unwrap()][..], &a[4..]].concat(),
            None,
            Duration::from_secs(60),
        );
        assert_eq!(v.status.code() == Some(2), exit == 2, "{name}: validate");
    }
}

// ----- 1. overrides are validated -----------------------------------------------

#[test]
fn overrides_meet_the_files_limits_and_errors_name_the_option() {
    let d = tmp("overrides");
    let f = write(
        &d,
        "s.yaml",
        "duration: 1s\nsample_every: 1ms\nmeasure_after: 500ms\nworkload: {type: constant, checkout_rate: 10}\npools: [{name: p, target_size: 1}]\n",
    );
    let cases: [(&[&str], &str); 7] = [
        (&["--duration", "720h"], "s.yaml:2: sample_every: sampling every 1ms over 720h0m0s with 1 pool makes more than 20000000 time-series rows (lengthen sample_every or shorten duration) (with --duration 720h)"),
        (&["--duration", "100ms"], "measure_after: must be shorter than duration (nothing would be measured) (with --duration 100ms)"),
        (&["--set", "pools[0].reservoir.targt_ready=3"], "--set pools[0].reservoir.targt_ready=3: pools[0].reservoir.targt_ready: unknown field `targt_ready`"),
        (&["--set", "pools[0].target_size=many"], "--set pools[0].target_size=many: pools[0].target_size: invalid type: string \"many\", expected u32"),
        (&["--set", "pools[1].target_size=3"], "--set pools[1].target_size=3: pools has 1 item: there is no pools[1]"),
        (&["--set", "pools[*].target_size=0"], "--set pools[*].target_size=0: pools[0].target_size: must be between 1 and 100000"),
        (&["--set", "duration=0s"], "--set duration=0s: duration: must be greater than 0"),
    ];
    for (args, want) in cases {
        for cmd in ["run", "validate", "compare"] {
            let mut a = vec![cmd, f.as_str()];
            a.extend_from_slice(args);
            let o = poolsim(&a);
            assert_eq!(o.status.code(), Some(2), "{cmd} {args:?}");
            let err = text(&o.stderr);
            assert!(err.contains(want), "{cmd} {args:?}:\n{err}");
        }
    }
    // Overrides that fit run with their values.
    let out = d.join("out");
    let o = poolsim(&[
        "run",
        &f,
        "--set",
        "sample_every=100ms",
        "--duration",
        "2s",
        "--set",
        "pools[*].pool.max_lifetime=30m",
        "--set",
        "workload={type: constant, checkout_rate: 7}",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let s = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(s.contains("\"duration_s\": 2.0"), "{s}");
    assert!(s.contains("\"sample_every_s\": 0.1"), "{s}");
}

#[test]
fn the_override_api_applies_before_validation() {
    let yaml = "duration: 1m\npools: [{name: a, target_size: 2}, {name: b, target_size: 3}]\n";
    let o = vec![
        Override::parse_assignment("--param", "pools[*].reservoir.enabled=true").unwrap(),
        Override::duration("2m"),
        Override::seed(9),
    ];
    let sc = scenario::parse_with(yaml, "x.yaml", "x", &o).unwrap();
    assert_eq!(sc.world.duration, 120 * poolsim::engine::SECOND);
    assert_eq!(sc.world.seed, 9);
    assert!(sc.world.pools.iter().all(|p| p.stack.has_reservoir()));
    let e = scenario::parse_with(
        yaml,
        "x.yaml",
        "x",
        &[Override::parse_assignment("--param", "pools[0].target_size=0").unwrap()],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "--param pools[0].target_size=0: pools[0].target_size: must be between 1 and 100000"
    );
}

// ----- 2. memory is bounded by validation ----------------------------------------

#[test]
fn memory_is_estimated_and_refused_over_budget_with_the_estimate() {
    // The documented maximum pool count: 10,000 pools for 60 s.
    let mut y = String::from("duration: 60s\npools:\n");
    for i in 0..10_000 {
        y.push_str(&format!("  - {{name: p{i}, target_size: 1}}\n"));
    }
    let e = common::invalid(&y);
    assert!(
        e.contains("s.yaml:2: pools: the run would need about 11.9 GB of memory"),
        "{e}"
    );
    assert!(
        e.contains("the limit is 4 GiB: at most about 3588 pools"),
        "{e}"
    );
    assert!(e.contains("10000 pools x 1.0 MB"), "{e}");
    // A month at 1 s sampling.
    let e = common::invalid(
        "duration: 720h\nworkload: {type: constant, checkout_rate: 10}\npools: [{name: p, target_size: 5}]\n",
    );
    assert!(
        e.contains("s.yaml:1: duration: the run would need about 7.9 GB"),
        "{e}"
    );
    assert!(e.contains("sample_every: 2s or longer"), "{e}");
    // compare keeps every mode: refused when the modes together are over.
    let d = tmp("compare-memory");
    let f = write(
        &d,
        "s.yaml",
        "duration: 720h\nsample_every: 2s\npools: [{name: p, target_size: 1, reservoir: {enabled: true}}]\n",
    );
    let o = poolsim(&["compare", &f, "--out", d.join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("comparing 3 modes would need about"));
}

#[test]
fn a_month_long_run_completes_within_the_memory_budget() {
    let d = tmp("month");
    let f = write(
        &d,
        "s.yaml",
        "duration: 720h\nsample_every: 10m\nworkload: {type: constant, checkout_rate: 0.01}\npools: [{name: p, target_size: 2, reservoir: {enabled: true}}]\n",
    );
    let o = poolsim(&["run", &f, "--quiet", "--out", d.join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Peak resident memory of the children this test process has waited for.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    let peak = ru.ru_maxrss as u64 * 1024;
    assert!(peak < poolsim::scenario::budget::MEMORY_BUDGET, "{peak}");
}

#[test]
fn an_allocation_failure_exits_2_never_aborts() {
    // A valid scenario under a memory limit far below what it needs (a
    // machine with less memory than the budget): a clear error and exit 2,
    // not SIGABRT (134).
    let d = tmp("oom");
    let f = write(
        &d,
        "s.yaml",
        "duration: 48h\nworkload: {type: constant, checkout_rate: 1}\npools: [{name: p, target_size: 1, reservoir: {enabled: true}}]\n",
    );
    let out = d.join("o");
    let script = format!(
        "ulimit -v 200000; exec {BIN} run {f} --quiet --out {}",
        out.display()
    );
    let o = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("error: out of memory"), "{err}");
    assert!(!out.exists(), "no report may appear");
}

// ----- 3, 4. arrivals ----------------------------------------------------------------

#[test]
fn uniform_bursts_count_the_configured_rate_and_tiny_rates_end() {
    let o = common::run(
        "duration: 60s\nworkload: {type: burst, baseline_rate: 1, burst_rate: 1, burst_duration: 1ms, burst_interval: 10ms, arrival: uniform}\npools: [{name: p, target_size: 5, reservoir: {enabled: true}, staggered_startup: false}]\n",
    );
    let c = &o.observations.pools[0].counters;
    let arrived = c.requests + c.rejected_before_ready;
    assert!((59..=61).contains(&arrived), "{arrived}");
    let o = common::run(
        "duration: 60s\nworkload: {type: burst, baseline_rate: 1e-12, burst_rate: 1e-12, burst_duration: 1ms, burst_interval: 2ms}\npools: [{name: p, target_size: 1}]\n",
    );
    assert_eq!(o.observations.pools[0].counters.requests, 0);
    let e = common::invalid(
        "workload: {type: burst, baseline_rate: 1, burst_rate: 2, burst_duration: 1ms, burst_interval: 999us}\npools: [{name: p, target_size: 1}]\n",
    );
    assert!(
        e.contains("workload.burst_duration: must be shorter than burst_interval")
            || e.contains("burst_interval: must be at least 1ms"),
        "{e}"
    );
}

// ----- 5. deadlines of a swamped plain pool ---------------------------------------

#[test]
fn a_swamped_plain_pool_fails_requests_at_their_deadline() {
    let o = common::run(
        "duration: 45s\nworkload: {type: constant, checkout_rate: 5000, hold_duration: 500ms}\npools: [{name: p, target_size: 20}]\n",
    );
    let c = &o.observations.pools[0].counters;
    // 20 connections x 2 requests/s each are served; the rest wait 30 s and fail.
    assert!(c.failed[0] > 50_000, "{:?}", c.failed);
    assert!(c.hits + c.hits_after_wait + c.failures <= c.requests);
    assert!(c.hits + c.hits_after_wait > 1_000, "{c:?}");
}

// ----- 6, 10, 11, 13. validation -------------------------------------------------------

#[test]
fn parsing_edges_are_refused_or_accepted_clearly() {
    // A byte-order mark is accepted.
    common::scenario("\u{feff}pools: [{name: p, target_size: 1}]\n");
    // Deep nesting: refused at once, naming the limit (it took minutes).
    let deep = format!(
        "pools: [{{name: p, target_size: 1}}]\ndescription: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = common::invalid(&deep);
    assert!(
        e.contains("s.yaml:2: YAML collections nested more than 32 deep"),
        "{e}"
    );
    let block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    assert!(common::invalid(&block).contains("nested more than 32 deep"));
    // Aliases that multiply.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    bomb.push_str("pools: [{name: p, target_size: 1}]\n");
    assert!(common::invalid(&bomb).contains("aliases expand to more than"));
    // Numbers and booleans where strings are expected; custom tags.
    for (y, want) in [
        ("name: 123\npools: [{name: p, target_size: 1}]\n", "s.yaml:1: name: must be a string, not a number: quote it (\"123\")"),
        ("pools: [{name: true, target_size: 1}]\n", "pools[0].name: must be a string, not a boolean"),
        ("pools: [{name: p, target_size: 1}]\nassertions: [{type: request_failures, max: 0, pool: 1e3}]\n", "assertions[0].pool: must be a string"),
        ("start_time: 20260101\npools: [{name: p, target_size: 1}]\n", "start_time: must be a string"),
        ("pools: [{name: !x p, target_size: 1}]\n", "YAML tag '!x' is not supported"),
        ("pools: [{name: p, target_size: 1}]\n---\nname: second\n", "a scenario is one YAML document"),
    ] {
        let e = common::invalid(y);
        assert!(e.contains(want), "{y}: {e}");
    }
    // Quoted, the same values are strings.
    common::scenario("name: \"123\"\npools: [{name: \"1\", target_size: 1}]\n");
    // Core tags are YAML's own.
    common::scenario("pools: [{name: !!str p, target_size: !!int 1}]\n");
}

#[test]
fn scenario_input_is_read_with_a_size_cap_and_from_stdin() {
    let o = poolsim(&["validate", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("/dev/zero: is larger than 16 MiB"),
        "{}",
        text(&o.stderr)
    );
    let d = tmp("stdin");
    let yaml = b"duration: 5s\npools: [{name: p, target_size: 1}]\n";
    let o = poolsim_in(&["validate", "-"], Some(yaml), Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("<stdin>: valid"));
    let out = d.join("o");
    let o = poolsim_in(
        &["run", "-", "--quiet", "--out", out.to_str().unwrap()],
        Some(yaml),
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(std::fs::read_to_string(out.join("summary.json"))
        .unwrap()
        .contains("\"scenario\": \"stdin\""));
    let o = poolsim_in(
        &["validate", "-"],
        Some(b"pools: [\n"),
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("<stdin>:"), "{}", text(&o.stderr));
    let o = poolsim(&["validate", d.to_str().unwrap()]);
    assert!(text(&o.stderr).contains("is a directory"));
    assert_eq!(poolsim(&["bench", "--rate", "nan"]).status.code(), Some(2));
    let o = poolsim(&["bench", "--rate", "nan"]);
    assert!(text(&o.stderr).contains("--rate"), "{}", text(&o.stderr));
    assert_eq!(
        poolsim(&["bench", "--duration", "0s"]).status.code(),
        Some(2)
    );
}

#[test]
fn validation_names_only_keys_the_file_wrote() {
    let e = common::invalid("pools:\n  - {name: p, target_size: 0}\n");
    assert_eq!(
        e,
        "s.yaml:2: pools[0].target_size: must be between 1 and 100000"
    );
    let e = common::invalid(
        "pools:\n  - name: p\n    target_size: 5\n    reservoir: {enabled: true, base_lifetime: 30s}\n",
    );
    assert!(e.contains("s.yaml:4: pools[0].reservoir.base_lifetime: (30s) must be longer than guard_window (45s, the default)"), "{e}");
    let e = common::invalid(
        "pools:\n  - name: p\n    target_size: 5\n    reservoir: {low_watermark: 200000}\n",
    );
    assert!(
        e.contains("pools[0].reservoir.low_watermark: must be at most 100000"),
        "{e}"
    );
    assert!(!e.contains("target_ready"), "{e}");
    // Token-bucket rates that round to zero, at their keys.
    let e = common::invalid("global_rate_limit: 0.0001\nglobal_rate_limiter: what_if_token_bucket\npools: [{name: p, target_size: 1}]\n");
    assert!(
        e.contains("s.yaml:1: global_rate_limit: must be at least 0.001"),
        "{e}"
    );
    // The smallest accepted rate runs.
    common::run("duration: 5s\nglobal_rate_limit: 0.001\nglobal_rate_limiter: what_if_token_bucket\ncluster: {connect_rate: 0.001}\npools: [{name: p, target_size: 1}]\n");
    common::run("duration: 5s\nlocal_rate_limit: 0.001\ncluster: {connect_rate: 0.001}\npools: [{name: p, target_size: 1}]\n");
}

#[test]
fn start_time_keeps_every_timestamp_representable() {
    let e = common::invalid(
        "start_time: \"2554-07-21T23:34:00Z\"\nduration: 60s\npools: [{name: p, target_size: 1}]\n",
    );
    assert!(e.contains("s.yaml:1: start_time: (2554-07-21T23:34:00Z) plus the duration (1m0s) passes 2554-07-21T23:34:33.709551615Z"), "{e}");
    // The latest start that fits: timestamps stay increasing to the end.
    let sc = common::scenario(
        "start_time: \"2554-07-21T23:33:33Z\"\nduration: 60s\nsample_every: 10s\npools: [{name: p, target_size: 1}]\n",
    );
    let o = poolsim::run::run(&sc).unwrap();
    let csv = poolsim::report::csv::timeseries_csv(&o.observations, sc.start_unix_ns);
    let stamps: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    assert!(stamps.last().unwrap().starts_with("2554-07-21T23:34:33"));
}

// ----- 7, 8. reports -------------------------------------------------------------------

fn small_run() -> (poolsim::scenario::Scenario, poolsim::run::RunOutput) {
    let sc = common::scenario(
        "duration: 20s\nworkload: {type: constant, checkout_rate: 5}\npools: [{name: p, target_size: 2, reservoir: {enabled: true}}]\n",
    );
    let o = poolsim::run::run(&sc).unwrap();
    (sc, o)
}

#[test]
fn a_full_disk_or_an_interrupt_leaves_the_previous_set_whole() {
    let (sc, o) = small_run();
    let d = tmp("atomic");
    let out = d.join("reports");
    files::write_all(&out, &sc, &o).unwrap();
    let before = snapshot(&out);
    let total: u64 = before.iter().map(|(_, b)| b.len() as u64).sum();
    // The disk fills at many points of the write, inside a file included.
    for k in 0..12u64 {
        let opts = WriteOptions {
            disk_full_after: Some(total * k / 12 + 7),
            ..WriteOptions::default()
        };
        let (sc2, o2) = {
            let sc2 = sc.clone().with_seed(100 + k);
            let o2 = poolsim::run::run(&sc2).unwrap();
            (sc2, o2)
        };
        let e = files::write_all_with(&out, &sc2, &o2, &opts).unwrap_err();
        assert!(
            format!("{e:#}").contains("No space left on device"),
            "{e:#}"
        );
        assert_eq!(snapshot(&out), before, "after a full disk at {k}/12");
        assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    }
    // Ctrl-C before the write.
    let opts = WriteOptions {
        cancel: Some(Arc::new(AtomicBool::new(true))),
        ..WriteOptions::default()
    };
    let e = files::write_all_with(&out, &sc.clone().with_seed(5), &o, &opts).unwrap_err();
    assert!(e.downcast_ref::<files::Interrupted>().is_some());
    assert_eq!(snapshot(&out), before);
    assert!(leftovers(&d).is_empty());
    // A comparison over the same directory is refused nothing and replaces it whole.
    let cmp =
        poolsim::compare::compare(&sc, &[poolsim::model::world::Stack::Direct], |_, _| {}).unwrap();
    let e = files::write_compare_with(
        &out,
        &cmp,
        &WriteOptions {
            disk_full_after: Some(1000),
            ..WriteOptions::default()
        },
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("No space left"));
    assert_eq!(snapshot(&out), before);
}

#[test]
fn stale_outputs_go_with_the_old_set_and_symlinks_are_replaced() {
    let d = tmp("stale");
    let f = write(
        &d,
        "s.yaml",
        "duration: 20s\nworkload: {type: constant, checkout_rate: 5}\npools: [{name: p, target_size: 2, reservoir: {enabled: true}}]\n",
    );
    let out = d.join("o");
    let o = poolsim(&["compare", &f, "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.join("compare.json").exists() && out.join("pool").is_dir());
    // A symlink inside --out pointing at a file elsewhere.
    let victim = d.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::remove_file(out.join("summary.json")).ok();
    std::os::unix::fs::symlink(&victim, out.join("summary.json")).unwrap();
    let o = poolsim(&["run", &f, "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        !out.join("compare.json").exists(),
        "a compare's file survived a run"
    );
    assert!(!out.join("pool").exists() && !out.join("direct").exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let meta = std::fs::symlink_metadata(out.join("summary.json")).unwrap();
    assert!(meta.file_type().is_file(), "the symlink was followed");
    // A compare with fewer modes leaves no folder of an unchosen mode.
    poolsim(&["compare", &f, "--quiet", "--out", out.to_str().unwrap()]);
    let o = poolsim(&[
        "compare",
        &f,
        "--quiet",
        "--modes",
        "direct",
        "--gate",
        "direct",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.join("direct").is_dir() && !out.join("pool").exists());
    // A directory holding someone else's file is refused before running.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = poolsim(&["run", &f, "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("holds 'notes.txt', which poolsim did not write"));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    // --out the current directory (it would be replaced under the shell).
    let o = Command::new(BIN)
        .args(["run", &f, "--quiet", "--out", "."])
        .current_dir(d.join("o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("is the current directory"),
        "{}",
        text(&o.stderr)
    );
    // --out a file.
    let o = poolsim(&["run", &f, "--quiet", "--out", victim.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn ctrl_c_stops_cleanly_with_130_and_keeps_the_previous_reports() {
    let d = tmp("sigint");
    let f = write(
        &d,
        "s.yaml",
        "duration: 24h\nsample_every: 1m\nworkload: {type: constant, checkout_rate: 400, hold_duration: 20ms}\npools: [{name: p, target_size: 20, reservoir: {enabled: true}}]\n",
    );
    let out = d.join("o");
    let o = poolsim(&[
        "run",
        &f,
        "--quiet",
        "--duration",
        "1m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let before = snapshot(&out);
    // Signals at several instants: into the run, or into the write phase.
    for delay_ms in [300u64, 900, 1500] {
        let mut child = Command::new(BIN)
            .args(["run", &f, "--quiet", "--out", out.to_str().unwrap()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "Ctrl-C did not stop the run"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        let err = text(&o.stderr);
        match o.status.code() {
            Some(130) => {
                assert_eq!(err.lines().count(), 1, "{err}");
                assert!(err.starts_with("interrupted: "), "{err}");
                assert_eq!(snapshot(&out), before, "the previous set changed");
            }
            // The whole run finished before the signal: the new set is whole.
            Some(0) => assert!(out.join("report.html").exists()),
            other => panic!("exit {other:?}: {err}"),
        }
        assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    }
}

// ----- 9. vacuous passes -----------------------------------------------------------------

#[test]
fn assertions_with_nothing_to_measure_fail_with_null() {
    let o = common::run(
        "duration: 20s\npools: [{name: p, target_size: 2, reservoir: {enabled: true}}]\nassertions:\n  - {type: request_failures, max: 0}\n  - {type: reservoir_empty_events, max: 0}\n  - {type: reservoir_hits_ratio, min: 0}\n  - {type: wait_time, percentile: 50, max: 1s}\n  - {type: max_physical_connections, max: 10}\n",
    );
    let v: Vec<(bool, Option<f64>)> = o
        .assertions
        .iter()
        .map(|a| (a.passed, a.observed))
        .collect();
    assert_eq!(
        v,
        vec![
            (false, None),
            (false, None),
            (false, None),
            (false, None),
            (true, Some(2.0))
        ]
    );
}

// ----- 12. compare as a CI gate ------------------------------------------------------------

#[test]
fn compare_gates_explicitly() {
    let d = tmp("gate");
    // Mixed modes: the default gate cannot decide, so it refuses.
    let f = write(
        &d,
        "mixed.yaml",
        "duration: 20s\nworkload: {type: constant, checkout_rate: 50, hold_duration: 1s}\npool: {request_timeout: 100ms}\npools:\n  - {name: a, target_size: 2, reservoir: {enabled: true}}\n  - {name: b, target_size: 2}\nassertions:\n  - {type: request_failures, max: 0}\n",
    );
    let out = d.join("o");
    let o = poolsim(&["compare", &f, "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("pools use different modes"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists(), "refused before running");
    // Every mode fails this assertion: all and each mode exit 1, none exits 0.
    for (gate, want) in [("all", 1), ("pool", 1), ("direct", 1), ("none", 0)] {
        let o = poolsim(&[
            "compare",
            &f,
            "--quiet",
            "--gate",
            gate,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(want),
            "--gate {gate}: {}",
            text(&o.stderr)
        );
    }
    let o = poolsim(&["compare", &f, "--modes", "direct", "--gate", "pool"]);
    assert_eq!(o.status.code(), Some(2));
    let o = poolsim(&["compare", &f, "--gate", "everything"]);
    assert_eq!(o.status.code(), Some(2));
}
