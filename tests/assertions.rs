//! Every assertion, passing and failing, with observed values.

mod common;
use common::run;

/// A run with some empty events: 1 connection, 10 requests/s holding 1 s.
const STRAINED: &str = "
duration: 1m
workload: {type: constant, checkout_rate: 10, hold_duration: 1s, arrival: uniform}
cluster: {max_connections: 1}
pools:
  - {name: p, target_size: 1, staggered_startup: false, reservoir: {enabled: true}}
";

fn verdicts(yaml: &str) -> Vec<(bool, Option<f64>)> {
    run(yaml)
        .assertions
        .iter()
        .map(|a| (a.passed, a.observed))
        .collect()
}

#[test]
fn hits_ratio_passes_and_fails() {
    let v = verdicts(&format!(
        "{STRAINED}assertions:\n  - {{type: reservoir_hits_ratio, min: 0.001}}\n  - {{type: reservoir_hits_ratio, min: 0.5}}\n  - {{type: reservoir_hits_ratio, min: 0.5, pool: p}}\n"
    ));
    let ratio = v[0].1.unwrap();
    assert!(ratio > 0.001 && ratio < 0.5, "{ratio}");
    assert_eq!(
        v.iter().map(|x| x.0).collect::<Vec<_>>(),
        [true, false, false]
    );
}

#[test]
fn empty_events_passes_and_fails() {
    let o = run(&format!(
        "{STRAINED}assertions:\n  - {{type: reservoir_empty_events, max: 100000}}\n  - {{type: reservoir_empty_events, max: 0}}\n"
    ));
    let empty = o.summary.pools[0].empty_events as f64;
    assert!(empty > 0.0);
    assert_eq!(o.assertions[0].observed, Some(empty));
    assert!(o.assertions[0].passed);
    assert!(!o.assertions[1].passed);
}

#[test]
fn max_connects_per_sec_passes_and_fails() {
    let y = "
duration: 10s
global_rate_limit: 20
pools:
  - {name: p, target_size: 100, staggered_startup: false, reservoir: {enabled: true}}
assertions:
  - {type: max_connects_per_sec, max: 20}
  - {type: max_connects_per_sec, max: 19}
";
    let o = run(y);
    assert_eq!(o.assertions[0].observed, Some(20.0));
    assert!(o.assertions[0].passed);
    assert!(!o.assertions[1].passed);
}

#[test]
fn converge_within_passes_fails_and_needs_stability() {
    // 100 connections at 20/s take 5 s to fill.
    let y = "
duration: 2m
global_rate_limit: 20
pools:
  - {name: p, target_size: 100, staggered_startup: false, reservoir: {enabled: true}}
assertions:
  - {type: converge_within, duration: 10s}
  - {type: converge_within, duration: 4s}
  - {type: converge_within, duration: 10s, stable_for: 1m}
  - {type: converge_within, duration: 10s, stable_for: 5m}
";
    let o = run(y);
    let a = &o.assertions;
    assert_eq!(a[0].observed, Some(5.0));
    assert!(a[0].passed);
    assert!(!a[1].passed);
    assert!(a[2].passed, "{:?}", a[2]);
    assert!(
        !a[3].passed,
        "stable_for longer than the rest of the run cannot be shown"
    );
    assert_eq!(a[3].observed, None);
}

#[test]
fn checkout_latency_passes_and_fails() {
    let o = run(&format!(
        "{STRAINED}assertions:\n  - {{type: checkout_latency, percentile: 99, max: 100ms}}\n  - {{type: checkout_latency, percentile: 99, max: 1ms}}\n  - {{type: checkout_latency, percentile: 100, max: 100ms}}\n"
    ));
    let a = &o.assertions;
    assert_eq!(
        a[0].observed,
        Some(100.0),
        "failed Open()s wait exactly empty_wait"
    );
    assert!(a[0].passed);
    assert!(!a[1].passed);
    assert!(a[2].passed, "the exact maximum is 100 ms: {:?}", a[2]);
}

#[test]
fn assertions_without_data_fail_rather_than_pass_vacuously() {
    let o = run("
duration: 10s
pools:
  - {name: p, target_size: 1, reservoir: {enabled: true}}
assertions:
  - {type: reservoir_hits_ratio, min: 0.9}
  - {type: checkout_latency, percentile: 99, max: 1ms}
");
    assert!(o
        .assertions
        .iter()
        .all(|a| !a.passed && a.observed.is_none()));
}
