//! End-to-end behaviour of reservoir mode (DOMAIN.md section 6).

mod common;
use common::run;
use poolsim::engine::{MILLISECOND, SECOND};
use poolsim::model::world::simulate_checked;

fn failures(o: &poolsim::run::RunOutput, reason: &str) -> u64 {
    o.summary.pools[0].refill_failures[reason]
}

fn discards(o: &poolsim::run::RunOutput, reason: &str) -> u64 {
    o.summary.pools[0].discards[reason]
}

const ONE_POOL: &str = "
pools:
  - name: p
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true}
";

#[test]
fn refiller_fills_to_target_and_then_only_polls() {
    let o = run(&format!("duration: 1m\nconnect_latency: 10ms\n{ONE_POOL}"));
    let p = &o.summary.pools[0];
    assert_eq!(p.refills, 10, "fills exactly to target_ready with no load");
    assert_eq!(p.connects, 10);
    assert!(p.discards.values().all(|&n| n == 0));
    // The 10th sequential 10 ms connect completes at exactly 100 ms, but the gate
    // check due at that instant was scheduled earlier (ties run in insertion
    // order), sees 9, and the next check at 200 ms opens the gate.
    assert_eq!(p.serving_since_s, Some(0.2));
}

#[test]
fn lease_acquire_failures_when_the_lease_table_is_full() {
    let o = run(&format!(
        "duration: 10s\nlease_table: {{limit: 4}}\n{ONE_POOL}"
    ));
    assert_eq!(o.summary.pools[0].refills, 4);
    // After 4 leases every attempt is refused, retried every 250 ms.
    let f = failures(&o, "lease_acquire");
    assert!((38..=40).contains(&f), "{f}");
    assert_eq!(o.summary.cluster.lease_denials, f);
}

#[test]
fn rate_limit_failures_when_the_wait_would_pass_the_30s_deadline() {
    // 0.02/s: one token every 50 s, so the second open would wait past its 30 s deadline.
    let o = run(&format!(
        "duration: 20s\nglobal_rate_limit: 0.02\nglobal_rate_limiter: what_if_token_bucket\n{ONE_POOL}"
    ));
    assert_eq!(o.summary.pools[0].refills, 1);
    assert!(failures(&o, "rate_limit") > 0);
    // Refused reservations consume nothing: only the first open reached the cluster.
    assert_eq!(o.summary.pools[0].connects, 1);
}

#[test]
fn token_provider_failures_are_injected() {
    let o = run(&format!(
        "duration: 1m\ntoken_failure_rate: 0.5\n{ONE_POOL}"
    ));
    let f = failures(&o, "token_provider");
    assert!(f > 0);
    assert_eq!(
        o.summary.pools[0].refills, 10,
        "the refiller still reaches its target"
    );
}

#[test]
fn connection_open_failures_at_the_cluster_connection_limit() {
    let o = run(&format!(
        "duration: 5s\ncluster: {{max_connections: 3}}\n{ONE_POOL}"
    ));
    assert_eq!(o.summary.pools[0].refills, 3);
    assert!(failures(&o, "connection_open") > 0);
    assert_eq!(
        o.summary.cluster.refused_max_connections,
        failures(&o, "connection_open")
    );
    assert_eq!(o.summary.cluster.peak_connections, 3);
}

#[test]
fn connection_open_failures_over_the_cluster_connect_rate() {
    // Server allows a burst of 5 then 1/s; the client has no limiter.
    let o = run(&format!(
        "duration: 3s\nconnect_latency: 0\ncluster: {{connect_rate: 1, connect_burst: 5}}\n{ONE_POOL}"
    ));
    assert!(failures(&o, "connection_open") > 0);
    assert_eq!(
        o.summary.cluster.refused_rate_limit,
        failures(&o, "connection_open")
    );
    assert!(o.summary.pools[0].refills <= 5 + 3);
}

#[test]
fn scanner_discards_expired_and_expiring_connections() {
    // Lifetimes 10s + U[0,1s) with a 3 s guard: connections leave through the scanner.
    let o = run("
duration: 2m
pools:
  - name: p
    target_size: 5
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 10s, jitter: 1s, guard_window: 3s}
");
    assert!(discards(&o, "expiring_soon_on_scan") > 0);
    assert_eq!(
        discards(&o, "expired_on_scan"),
        0,
        "the guard catches them first"
    );
    let o = run("
duration: 2m
pools:
  - name: p
    target_size: 5
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 10s, jitter: 0s, guard_window: 1ns}
");
    assert!(discards(&o, "expired_on_scan") > 0);
}

#[test]
fn checkout_discards_a_connection_that_entered_the_guard_between_scans() {
    // Connections enter the 2 s guard window ~7.5 s after creation; at 400 checkouts/s
    // some checkout meets one before the 1 s scanner removes it.
    let o = run("
duration: 1m
workload: {type: constant, checkout_rate: 400, hold_duration: 1ms}
pools:
  - name: p
    target_size: 20
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 9500ms, jitter: 0s, guard_window: 2s}
");
    assert!(discards(&o, "insufficient_remaining_lifetime") > 0);
    let p = &o.summary.pools[0];
    assert!(p.empty_events >= discards(&o, "insufficient_remaining_lifetime"));
}

#[test]
fn returns_discard_as_reservoir_full_when_the_refiller_replaced_them() {
    let o = run("
duration: 5m
workload: {type: constant, checkout_rate: 10, hold_duration: 1s}
pools:
  - name: p
    target_size: 20
    staggered_startup: false
    reservoir: {enabled: true}
");
    let p = &o.summary.pools[0];
    assert!(discards(&o, "reservoir_full") > 0);
    // Every connection created is either still open (ready or in use) or was discarded.
    let last = o.observations.samples.last().unwrap();
    let discarded: u64 = p.discards.values().sum();
    assert_eq!(p.refills, (last.ready + last.in_use) as u64 + discarded);
    // With no expiry in 5 minutes, all discards are returns the refiller had replaced.
    assert_eq!(discarded, discards(&o, "reservoir_full"));
}

#[test]
fn returns_inside_the_guard_window_are_discarded() {
    // 30 s lifetimes, 10 s guard, 25 s holds: a connection taken late in life comes back inside the guard.
    let o = run("
duration: 5m
workload: {type: constant, checkout_rate: 1, hold_duration: 15s}
pools:
  - name: p
    target_size: 30
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 30s, jitter: 0s, guard_window: 10s}
");
    assert!(
        discards(&o, "insufficient_remaining_lifetime_on_return")
            + discards(&o, "expired_on_return")
            > 0
    );
    let o = run("
duration: 5m
workload: {type: constant, checkout_rate: 1, hold_duration: 40s}
pools:
  - name: p
    target_size: 60
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 30s, jitter: 0s, guard_window: 1s}
");
    assert!(discards(&o, "expired_on_return") > 0);
}

#[test]
fn an_empty_reservoir_makes_requests_wait_then_fail() {
    // One connection, 1 s holds, 10 requests/s: most requests find it out.
    let o = run("
duration: 1m
workload: {type: constant, checkout_rate: 10, hold_duration: 1s, arrival: uniform}
cluster: {max_connections: 1}
pools:
  - name: p
    target_size: 1
    staggered_startup: false
    reservoir: {enabled: true, empty_wait: 100ms}
");
    let p = &o.summary.pools[0];
    assert!(p.failures > 0);
    // Every request has an outcome, except one that may still be waiting at the end.
    let last = o.observations.samples.last().unwrap();
    assert_eq!(
        p.requests,
        p.hits + p.hits_after_wait + p.failures + last.waiting as u64
    );
    assert!(p.empty_events >= p.failures);
    // A failed Open() waited exactly empty_wait.
    assert_eq!(p.checkout_latency_ms.max, 100.0);
}

#[test]
fn hits_after_wait_when_a_connection_returns_during_the_wait() {
    // Holds of 50 ms, arrivals every 60 ms... with a single connection; every other
    // request lands while it is out and gets it back inside the 100 ms wait.
    let o = run("
duration: 30s
workload: {type: constant, checkout_rate: 20, hold_duration: 80ms, arrival: uniform}
cluster: {max_connections: 1}
pools:
  - name: p
    target_size: 1
    staggered_startup: false
    reservoir: {enabled: true}
");
    let p = &o.summary.pools[0];
    assert!(p.hits_after_wait > 0, "{p:?}");
    assert!(p.checkout_latency_ms.max > 0.0 && p.checkout_latency_ms.max <= 100.0);
}

#[test]
fn refiller_under_a_limiter_fills_200_connections_in_about_2s() {
    // 4 pools x 50 behind 100/s (burst 1): 200 connections take ~2 s, never >100 in a second.
    let mut y = String::from(
        "duration: 10s\nsample_every: 100ms\nglobal_rate_limit: 100\nglobal_rate_limiter: what_if_token_bucket\nconnect_latency: 1ms\npools:\n",
    );
    for i in 0..4 {
        y.push_str(&format!(
            "  - name: p{i}\n    target_size: 50\n    staggered_startup: false\n    reservoir: {{enabled: true}}\n"
        ));
    }
    let o = run(&y);
    let cps = &o.observations.connects_per_second;
    assert_eq!(cps[0], 100);
    assert_eq!(cps[1], 100);
    assert!(cps.iter().all(|&c| c <= 100), "{cps:?}");
    assert!(o.summary.pools.iter().all(|p| p.refills == 50));
    // Time at which all 200 are ready.
    let full = o
        .observations
        .samples
        .chunks(4)
        .find(|c| c.iter().all(|r| r.ready == 50))
        .expect("fills")
        .first()
        .unwrap()
        .t;
    assert!(
        (19 * SECOND / 10..=21 * SECOND / 10).contains(&full),
        "{full}"
    );
    assert_eq!(o.summary.max_connects_per_sec, 100);
    let waits: u64 = o.summary.pools.iter().map(|p| p.limiter_waits).sum();
    assert!(
        waits >= 190,
        "almost every open waited on the limiter: {waits}"
    );
}

#[test]
fn initial_fill_gate_holds_traffic_until_low_watermark() {
    let o = run("
duration: 20s
global_rate_limit: 10
global_rate_limiter: what_if_token_bucket
connect_latency: 0
workload: {type: constant, checkout_rate: 10, arrival: uniform}
pools:
  - name: p
    target_size: 50
    staggered_startup: false
    reservoir: {enabled: true, low_watermark: 30}
");
    let p = &o.summary.pools[0];
    // 30 connections at 10/s (burst 1): the 30th at 2.9 s, seen by the 100 ms check at 3.0 s.
    assert_eq!(p.serving_since_s, Some(3.0));
    assert!(!p.initial_fill_timed_out);
    // Requests every 100 ms from 0.1 s; those up to 3.0 s were refused (the
    // arrival at 3.0 s was scheduled before the gate check of that instant).
    assert_eq!(p.rejected_before_ready, 30);
    assert_eq!(p.target_ready, 50);
}

#[test]
fn initial_fill_times_out_after_30s_and_takes_traffic_anyway() {
    let o = run("
duration: 40s
cluster: {max_connections: 5}
workload: {type: constant, checkout_rate: 1, arrival: uniform}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true}
");
    let p = &o.summary.pools[0];
    assert_eq!(p.serving_since_s, Some(30.0));
    assert!(p.initial_fill_timed_out);
    assert!(p.requests > 0);
}

#[test]
fn target_ready_is_raised_to_low_watermark() {
    let sc = common::scenario(
        "pools:\n  - name: p\n    target_size: 50\n    reservoir: {enabled: true, target_ready: 10, low_watermark: 20}\n",
    );
    assert_eq!(sc.world.pools[0].reservoir.target_ready, 20);
}

#[test]
fn staggered_startup_delays_the_first_connect_by_up_to_5s() {
    let mut y = String::from("duration: 10s\nsample_every: 10ms\npools:\n");
    for i in 0..20 {
        y.push_str(&format!(
            "  - name: p{i}\n    target_size: 1\n    reservoir: {{enabled: true}}\n"
        ));
    }
    let o = run(&y);
    let starts: Vec<f64> = o
        .summary
        .pools
        .iter()
        .map(|p| p.serving_since_s.unwrap())
        .collect();
    assert!(starts.iter().all(|&s| s <= 5.2), "{starts:?}");
    let distinct = {
        let mut v = starts.clone();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v.len()
    };
    assert!(
        distinct > 10,
        "instances start at different times: {starts:?}"
    );
}

#[test]
fn invariants_hold_throughout_a_busy_run() {
    let sc = common::scenario("
duration: 3m
global_rate_limit: 50
lease_table: {limit: 120}
token_failure_rate: 0.05
workload: {type: burst, baseline_rate: 20, burst_rate: 300, burst_duration: 5s, burst_interval: 30s, first_burst_at: 10s, hold_distribution: exponential, hold_duration: 200ms}
pools:
  - {name: a, target_size: 40, reservoir: {enabled: true, base_lifetime: 40s, jitter: 10s, guard_window: 5s}}
  - {name: b, target_size: 60, reservoir: {enabled: true, base_lifetime: 30s, jitter: 5s, guard_window: 10s}}
");
    simulate_checked(&sc.world, Some(250 * MILLISECOND)).expect("invariants hold");
}
