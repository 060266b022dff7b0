//! Every assertion type, passing and failing, with its observed value derived
//! from the scenario, and each comparison tested at its boundary: a threshold
//! equal to the observed value passes (`>=` and `<=` are inclusive), the next
//! representable threshold beyond it fails.

mod common;
use common::run;
use poolsim::assertions::AssertionResult;

/// One connection (the cluster allows no second), requests every 100 ms
/// holding it 150 ms, no brief wait. The pool serves from 0.1 s; the arrival
/// at 0.1 s comes before that instant's gate check and is refused. From
/// 0.2 s on, requests alternate: a hit (the connection is back after 150 ms),
/// then a failure (it is still out, empty_wait 0). Up to 9.9 s: 98 requests,
/// 49 hits, 49 failures, 49 empty events, no wait.
const HALF: &str = "
duration: 9950ms
workload: {type: constant, checkout_rate: 10, hold_duration: 150ms, arrival: uniform}
cluster: {max_connections: 1}
pools:
  - {name: p, target_size: 1, staggered_startup: false, reservoir: {enabled: true, empty_wait: 0}}
";

/// One connection, 10 requests/s holding 1 s, empty_wait 100 ms: most
/// requests wait exactly 100 ms and fail.
const STRAINED: &str = "
duration: 1m
workload: {type: constant, checkout_rate: 10, hold_duration: 1s, arrival: uniform}
cluster: {max_connections: 1}
pools:
  - {name: p, target_size: 1, staggered_startup: false, reservoir: {enabled: true}}
";

fn with(base: &str, assertions: &[&str]) -> String {
    let mut y = format!("{base}assertions:\n");
    for a in assertions {
        y.push_str(&format!("  - {{{a}}}\n"));
    }
    y
}

fn verdicts(o: &poolsim::run::RunOutput) -> Vec<bool> {
    o.assertions.iter().map(|a| a.passed).collect()
}

fn expect(a: &AssertionResult, observed: Option<f64>, threshold: f64, cmp: &str, unit: &str) {
    assert_eq!(a.observed, observed, "{a:?}");
    assert_eq!(a.threshold, threshold, "{a:?}");
    assert_eq!(a.comparison, cmp, "{a:?}");
    assert_eq!(a.unit, unit, "{a:?}");
}

#[test]
fn the_half_scenario_is_what_its_comment_says() {
    let o = run(HALF);
    let p = &o.summary.pools[0];
    assert_eq!(p.serving_since_s, Some(0.1));
    assert_eq!(p.rejected_before_ready, 1);
    assert_eq!(
        (p.requests, p.hits, p.hits_after_wait, p.failures),
        (98, 49, 0, 49)
    );
    assert_eq!(p.failures_by_cause["no_connection"], 49);
    assert_eq!((p.empty_events, p.waited), (49, 0));
    assert_eq!(p.hit_ratio, Some(0.5));
    assert_eq!(p.wait_ms.max, 0.0);
    assert_eq!(p.request_latency_ms.max, 150.0);
}

#[test]
fn hits_ratio_is_inclusive_at_its_minimum() {
    let o = run(&with(
        HALF,
        &[
            "type: reservoir_hits_ratio, min: 0.5",
            "type: reservoir_hits_ratio, min: 0.500001",
            "type: reservoir_hits_ratio, min: 0.5, pool: p",
            "type: reservoir_hits_ratio, min: 0",
        ],
    ));
    expect(&o.assertions[0], Some(0.5), 0.5, ">=", "ratio");
    assert_eq!(verdicts(&o), [true, false, true, true]);
    assert_eq!(o.assertions[2].pool.as_deref(), Some("p"));
    assert_eq!(o.assertions[0].pool, None);
    assert_eq!(o.assertions[0].type_name, "reservoir_hits_ratio");
    assert!(
        o.assertions[0].detail.contains("49 of 98 requests"),
        "{}",
        o.assertions[0].detail
    );
}

#[test]
fn empty_events_and_request_failures_are_inclusive_at_their_maximum() {
    let o = run(&with(
        HALF,
        &[
            "type: reservoir_empty_events, max: 49",
            "type: reservoir_empty_events, max: 48",
            "type: request_failures, max: 49",
            "type: request_failures, max: 48",
            "type: request_failures, max: 49, pool: p",
        ],
    ));
    expect(&o.assertions[0], Some(49.0), 49.0, "<=", "events");
    expect(&o.assertions[2], Some(49.0), 49.0, "<=", "requests");
    assert_eq!(verdicts(&o), [true, false, true, false, true]);
    assert!(
        o.assertions[2]
            .detail
            .contains("49 of 98 requests got no connection")
            && o.assertions[2].detail.contains("49 no_connection"),
        "{}",
        o.assertions[2].detail
    );
}

#[test]
fn latency_assertions_are_inclusive_at_their_maximum_and_never_above_the_exact_max() {
    // STRAINED: every failed Open() waited exactly empty_wait (100 ms), and
    // no request waited longer; most requests fail, so p50 is 100 ms too.
    let o = run(&with(
        STRAINED,
        &[
            "type: checkout_latency, percentile: 99, max: 100ms",
            "type: checkout_latency, percentile: 99, max: 99999999ns",
            "type: wait_time, percentile: 100, max: 100ms",
            "type: wait_time, percentile: 50, max: 99999999ns",
            "type: wait_time, percentile: 50, max: 100ms, pool: p",
        ],
    ));
    expect(&o.assertions[0], Some(100.0), 100.0, "<=", "ms");
    expect(&o.assertions[1], Some(100.0), 99.999999, "<=", "ms");
    expect(&o.assertions[2], Some(100.0), 100.0, "<=", "ms");
    assert_eq!(o.assertions[3].type_name, "wait_time");
    assert_eq!(verdicts(&o), [true, false, true, false, true]);
    // 599 requests: 1 hit, 59 served after a wait, 538 failed, and the last
    // one still waiting at the end (no wait recorded yet).
    let p = &o.summary.pools[0];
    assert_eq!(
        (p.requests, p.hits, p.hits_after_wait, p.failures),
        (599, 1, 59, 538)
    );
    assert!(
        o.assertions[0]
            .detail
            .contains("p99 of 598 reservoir driver Open() calls"),
        "{}",
        o.assertions[0].detail
    );
    assert_eq!(
        (p.wait_ms.p50, p.wait_ms.p99, p.wait_ms.max),
        (100.0, 100.0, 100.0)
    );
}

#[test]
fn wait_time_passes_when_nothing_waits() {
    let o = run(&with(HALF, &["type: wait_time, percentile: 100, max: 0"]));
    expect(&o.assertions[0], Some(0.0), 0.0, "<=", "ms");
    assert!(o.assertions[0].passed);
}

#[test]
fn max_connects_per_sec_is_inclusive_and_counts_from_measure_after() {
    // 100 connections through a 20/s limiter (burst 1): 20 connects in each
    // of the seconds 0 to 4, none after.
    let base = "
duration: 10s
global_rate_limit: 20
pools:
  - {name: p, target_size: 100, staggered_startup: false, reservoir: {enabled: true}}
";
    let o = run(&with(
        base,
        &[
            "type: max_connects_per_sec, max: 20",
            "type: max_connects_per_sec, max: 19",
        ],
    ));
    expect(&o.assertions[0], Some(20.0), 20.0, "<=", "connects/s");
    assert_eq!(verdicts(&o), [true, false]);
    assert_eq!(
        &o.observations.connects_per_second[..6],
        &[20, 20, 20, 20, 20, 0]
    );
    // Ties: the first busiest second is reported.
    assert!(
        o.assertions[0].detail.contains("in second 0"),
        "{}",
        o.assertions[0].detail
    );
    // measure_after 4 s: seconds 4.. count (20 in second 4).
    let o = run(&with(
        &format!("measure_after: 4s\n{base}"),
        &["type: max_connects_per_sec, max: 19"],
    ));
    assert_eq!(o.assertions[0].observed, Some(20.0));
    assert!(
        o.assertions[0].detail.contains("in second 4"),
        "{}",
        o.assertions[0].detail
    );
    assert!(o.assertions[0].detail.contains("from measure_after on"));
    // measure_after 4.5 s: the first whole second from it is 5: none.
    let o = run(&with(
        &format!("measure_after: 4500ms\n{base}"),
        &["type: max_connects_per_sec, max: 0"],
    ));
    assert_eq!(o.assertions[0].observed, Some(0.0));
    assert!(o.assertions[0].passed);
    assert!(
        o.assertions[0].detail.contains("in second 5"),
        "{}",
        o.assertions[0].detail
    );
}

#[test]
fn converge_within_is_inclusive_at_the_limit_and_at_stable_for() {
    // 100 connections at 20/s: the pool holds its target from t = 5 s (the
    // samples are every second) to the end at 120 s: 115 s.
    let o = run(&with(
        "
duration: 2m
global_rate_limit: 20
pools:
  - {name: p, target_size: 100, staggered_startup: false, reservoir: {enabled: true}}
",
        &[
            "type: converge_within, duration: 5s",
            "type: converge_within, duration: 4999ms",
            "type: converge_within, duration: 10s, stable_for: 115s",
            "type: converge_within, duration: 10s, stable_for: 115000000001ns",
            "type: converge_within, duration: 10s, stable_for: 1m",
            "type: converge_within, duration: 5s, pool: p",
        ],
    ));
    let a = &o.assertions;
    expect(&a[0], Some(5.0), 5.0, "<=", "s");
    expect(&a[1], Some(5.0), 4.999, "<=", "s");
    assert_eq!(a[2].observed, Some(5.0));
    assert_eq!(
        a[3].observed, None,
        "never held its target for 115 s + 1 ns"
    );
    assert_eq!(verdicts(&o), [true, false, true, false, true, true]);
    assert!(
        a[2].detail.contains("from t=5s for at least 115s"),
        "{}",
        a[2].detail
    );
    assert!(a[0].detail.contains("from t=5s"), "{}", a[0].detail);
    assert!(a[3].detail.contains("never"), "{}", a[3].detail);
}

#[test]
fn converge_within_needs_every_selected_pool_and_an_unbroken_streak() {
    // Pool a (10 connections) is full at 1 s; pool b (100) at 10 s; both
    // share a 10/s limiter. Scoped to a: 1 s. All pools: when b is full.
    let o = run(&with(
        "
duration: 1m
global_rate_limit: 11
pools:
  - {name: a, target_size: 1, staggered_startup: false, reservoir: {enabled: true}}
  - {name: b, target_size: 100, staggered_startup: false, reservoir: {enabled: true}}
",
        &[
            "type: converge_within, duration: 1s, pool: a",
            "type: converge_within, duration: 1m, pool: b",
            "type: converge_within, duration: 1m",
        ],
    ));
    let a = &o.assertions;
    let b_at = a[1].observed.unwrap();
    assert_eq!(a[0].observed, Some(1.0), "{:?}", a[0]);
    assert!(b_at >= 9.0, "{b_at}");
    assert_eq!(a[2].observed, Some(b_at));
    assert_eq!(verdicts(&o), [true, true, true]);
}

#[test]
fn max_physical_connections_counts_the_cluster_or_one_pool() {
    // Two idle reservoirs of 3 and 5: 8 on the cluster, 3 in pool a.
    let o = run(&with(
        "
duration: 10s
pools:
  - {name: a, target_size: 3, staggered_startup: false, reservoir: {enabled: true}}
  - {name: b, target_size: 5, staggered_startup: false, reservoir: {enabled: true}}
",
        &[
            "type: max_physical_connections, max: 8",
            "type: max_physical_connections, max: 7",
            "type: max_physical_connections, max: 3, pool: a",
            "type: max_physical_connections, max: 2, pool: a",
            "type: max_physical_connections, max: 5, pool: b",
        ],
    ));
    expect(&o.assertions[0], Some(8.0), 8.0, "<=", "connections");
    expect(&o.assertions[2], Some(3.0), 3.0, "<=", "connections");
    assert_eq!(o.assertions[4].observed, Some(5.0));
    assert_eq!(verdicts(&o), [true, false, true, false, true]);
    assert!(o.assertions[0].detail.contains("the cluster had"));
    assert!(o.assertions[2].detail.contains("pool a held"));
    assert_eq!(o.summary.cluster.peak_connections, 8);
}

#[test]
fn pool_at_size_is_inclusive_and_finds_the_lowest_sample() {
    // steady: warmed to MaxOpen - 1 = 9 connections (production's
    // WarmupPool), never closed; with no requests the keeper never finds all
    // 9 busy, so the 10th is never opened. expiring: 9 connections past
    // ConnMaxLifetime (30 s) are closed by the cleaner and, with no keeper
    // and no requests, not replaced: 0 open at the end.
    let o = run(&with(
        "
duration: 2m
pools:
  - {name: steady, target_size: 10, staggered_startup: false, pool: {max_lifetime: 0}}
  - {name: expiring, target_size: 10, staggered_startup: false, pool: {max_lifetime: 30s, keeper: false}}
",
        &[
            "type: pool_at_size, min_fraction: 0.9, pool: steady",
            "type: pool_at_size, min_fraction: 0.1, pool: expiring",
            "type: pool_at_size, min_fraction: 0.1",
        ],
    ));
    let a = &o.assertions;
    expect(&a[0], Some(0.9), 0.9, ">=", "fraction of target_size");
    expect(&a[1], Some(0.0), 0.1, ">=", "fraction of target_size");
    assert_eq!(a[2].observed, Some(0.0));
    assert_eq!(verdicts(&o), [true, false, false]);
    assert!(
        a[1].detail
            .contains("0 of 10 connections open in pool expiring"),
        "{}",
        a[1].detail
    );
    assert!(
        a[0].detail
            .contains("9 of 10 connections open in pool steady"),
        "{}",
        a[0].detail
    );
}

#[test]
fn pool_at_size_fraction_is_open_over_target_size() {
    // A reservoir of 4 under database/sql: the startup ping takes one
    // connection from the buffer into database/sql, where it stays idle, and
    // the refiller puts a fourth back: 4 + 1 of target_size 8 = 0.625.
    let o = run(&with(
        "
duration: 5s
pools:
  - {name: p, target_size: 8, staggered_startup: false, reservoir: {enabled: true, stack: database_sql, target_ready: 4, low_watermark: 4}}
",
        &[
            "type: pool_at_size, min_fraction: 0.625",
            "type: pool_at_size, min_fraction: 0.625001",
        ],
    ));
    assert_eq!(o.assertions[0].observed, Some(0.625));
    assert_eq!(verdicts(&o), [true, false]);
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
    assert!(o.assertions[0].detail.contains("nothing to measure"));
    assert!(!o.summary.passed);
}

#[test]
fn the_run_passes_only_if_every_assertion_passes() {
    let o = run(&with(HALF, &["type: request_failures, max: 49"]));
    assert!(o.passed());
    let o = run(&with(
        HALF,
        &[
            "type: request_failures, max: 49",
            "type: reservoir_empty_events, max: 0",
        ],
    ));
    assert!(!o.passed());
    let o = run(HALF);
    assert!(o.passed(), "no assertions: passed");
}

#[test]
fn converge_within_counts_connections_in_use_toward_the_target() {
    // The cluster allows exactly the 10 connections the reservoir wants;
    // requests at 1, 2, ... s take one each and hold it past the end. From
    // the first sample after the fill, ready + in use = 10 = target_ready,
    // though ready alone falls to 3.
    let o = run(&with(
        "
duration: 7s
workload: {type: constant, checkout_rate: 1, hold_duration: 100s, arrival: uniform}
cluster: {max_connections: 10}
pools:
  - {name: p, target_size: 10, staggered_startup: false, reservoir: {enabled: true}}
",
        &["type: converge_within, duration: 1s, stable_for: 6s"],
    ));
    assert_eq!(o.assertions[0].observed, Some(1.0), "{:?}", o.assertions[0]);
    assert!(o.assertions[0].passed);
    let last = o.observations.samples.last().unwrap();
    assert_eq!((last.ready, last.in_use), (3, 7));
}

#[test]
fn the_plain_pool_note_follows_the_pools_the_assertion_selects() {
    let o = run(&with(
        "
duration: 10s
workload: {type: constant, checkout_rate: 5}
pools:
  - {name: plain, target_size: 5, staggered_startup: false}
  - {name: res, target_size: 5, staggered_startup: false, reservoir: {enabled: true}}
",
        &[
            "type: reservoir_hits_ratio, min: 0, pool: plain",
            "type: reservoir_hits_ratio, min: 0, pool: res",
            "type: reservoir_hits_ratio, min: 0",
            "type: reservoir_empty_events, max: 0, pool: plain",
            "type: reservoir_empty_events, max: 0, pool: res",
        ],
    ));
    let d: Vec<&str> = o.assertions.iter().map(|a| a.detail.as_str()).collect();
    assert!(d[0].contains("plain pool: a free connection"), "{}", d[0]);
    assert!(!d[1].contains("plain pool"), "{}", d[1]);
    assert!(!d[2].contains("plain pool"), "mixed pools: {}", d[2]);
    assert!(d[3].contains("a plain pool has no reservoir"), "{}", d[3]);
    assert!(!d[4].contains("plain pool"), "{}", d[4]);
    assert!(d[0].contains("(pool plain"), "{}", d[0]);
    assert!(d[2].contains("(all pools"), "{}", d[2]);
}
