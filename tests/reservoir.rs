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
    // Four sequential 20 ms connects end at 80 ms; from then every attempt
    // is refused, retried every 250 ms: at 0.08 + 0.25 k s for k = 0..=39.
    let f = failures(&o, "lease_acquire");
    assert_eq!(f, 40);
    assert_eq!(o.summary.cluster.lease_denials, f);
    assert_eq!(
        o.summary.pools[0].connects, 4,
        "refused leases never connect"
    );
}

#[test]
fn rate_limit_failures_when_the_wait_would_pass_the_30s_deadline() {
    // 0.02/s: one token every 50 s, so the second open would wait past its 30 s deadline.
    let o = run(&format!(
        "duration: 20s\nglobal_rate_limit: 0.02\nglobal_rate_limiter: what_if_token_bucket\n{ONE_POOL}"
    ));
    assert_eq!(o.summary.pools[0].refills, 1);
    // The second open asks at 20 ms, is refused at once, and retries every
    // 250 ms: at 0.02 + 0.25 k s for k = 0..=79.
    assert_eq!(failures(&o, "rate_limit"), 80);
    assert_eq!(
        o.summary.pools[0].limiter_waits, 0,
        "a refused reservation is no wait"
    );
    // Refused reservations consume nothing: only the first open reached the cluster.
    assert_eq!(o.summary.pools[0].connects, 1);
}

#[test]
fn token_provider_failures_are_injected() {
    let o = run(&format!(
        "duration: 1m\ntoken_failure_rate: 0.5\n{ONE_POOL}"
    ));
    let f = failures(&o, "token_provider");
    assert_eq!(
        o.summary.pools[0].refills, 10,
        "the refiller still reaches its target"
    );
    // A failed token costs a 250 ms back-off, so the fill takes about
    // (10 + f) attempts; f is the failures before the 10th success.
    assert_eq!(
        o.summary.pools[0].connects, 10,
        "a failed token never connects"
    );
    assert!((1..=40).contains(&f), "{f}");
}

#[test]
fn token_failures_happen_at_the_configured_rate() {
    // With churn (every checkout is refilled), 30 minutes make about 8,000
    // token requests: half of them must fail (5 sd: +- 0.028).
    let o = run("
duration: 30m
token_failure_rate: 0.5
workload: {type: constant, checkout_rate: 10, hold_duration: 100ms}
pools:
  - {name: p, target_size: 50, staggered_startup: false, reservoir: {enabled: true}}
");
    let p = &o.summary.pools[0];
    let failed = failures(&o, "token_provider") as f64;
    let tried = failed + p.connects as f64;
    assert!(tried > 6000.0, "{tried}");
    let share = failed / tried;
    let tol = 5.0 * (0.25 / tried).sqrt();
    assert!(
        (share - 0.5).abs() < tol,
        "{failed} of {tried} token requests failed"
    );
    assert_eq!(
        p.connects, p.refills,
        "every connect that got a token succeeded"
    );
    // The other failure reasons never happen here.
    assert_eq!(p.refill_failures.values().sum::<u64>() as f64, failed);
}

#[test]
fn connection_open_failures_at_the_cluster_connection_limit() {
    let o = run(&format!(
        "duration: 5s\ncluster: {{max_connections: 3}}\n{ONE_POOL}"
    ));
    assert_eq!(o.summary.pools[0].refills, 3);
    // Three 20 ms connects end at 60 ms. Then every attempt reaches the
    // cluster, is refused, fails when its 20 ms connect would have ended,
    // and the refiller sleeps 250 ms: attempts at 0.06 + 0.27 k s, k = 0..=18.
    assert_eq!(failures(&o, "connection_open"), 19);
    assert_eq!(o.summary.cluster.refused_max_connections, 19);
    assert_eq!(o.summary.pools[0].connects, 3 + 19);
    assert_eq!(o.summary.cluster.peak_connections, 3);
}

#[test]
fn connection_open_failures_over_the_cluster_connect_rate() {
    // Server allows a burst of 5 then 1/s; the client has no limiter.
    let o = run(&format!(
        "duration: 3s\nconnect_latency: 0\ncluster: {{connect_rate: 1, connect_burst: 5}}\n{ONE_POOL}"
    ));
    // 5 at t = 0 from the burst, then one token per second: the refill at
    // 1, 2 and 3 s; every other attempt is refused at once and retried
    // 250 ms later: at 0, 0.25, ..., 3.0 s but 1, 2, 3 s, plus the attempt
    // right after each refill (0, 1, 2, 3 s): 13.
    assert_eq!(o.summary.pools[0].refills, 8);
    assert_eq!(failures(&o, "connection_open"), 13);
    assert_eq!(o.summary.cluster.refused_rate_limit, 13);
    assert_eq!(o.summary.cluster.connects, 8 + 13);
}

/// Every connection the refiller created is discarded or still open (ready
/// or in use) at the end: none is lost or counted twice (direct stack).
fn conserved(o: &poolsim::run::RunOutput) {
    let p = &o.summary.pools[0];
    let last = o.observations.samples.last().unwrap();
    let discarded: u64 = p.discards.values().sum();
    assert_eq!(
        p.refills,
        u64::from(last.ready + last.in_use) + discarded,
        "{p:?}"
    );
}

#[test]
fn scanner_discards_expired_and_expiring_connections() {
    // Lifetimes 10 s + U[0, 1 s) with a 3 s guard: a connection leaves at
    // the first whole-second scan with less than 3 s left, 7 to 9 s after
    // it was made, and its replacement comes within 120 ms (the refiller's
    // 100 ms poll, a 20 ms connect): each of the 5 slots turns over 13 to 17
    // times in 2 minutes.
    let o = run("
duration: 2m
pools:
  - name: p
    target_size: 5
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 10s, jitter: 1s, guard_window: 3s}
");
    let soon = discards(&o, "expiring_soon_on_scan");
    assert!((5 * 12..=5 * 17).contains(&soon), "{soon}");
    let total: u64 = o.summary.pools[0].discards.values().sum();
    assert_eq!(
        total, soon,
        "the guard catches them first, and nothing else discards"
    );
    conserved(&o);
    // A 1 ns guard and no jitter: the five connections made at 20, 40, ...,
    // 100 ms expire at 10.02..10.1 s; the scan at 11 s finds them expired
    // (0 left), the refiller replaces them by 11.2 s, and so on every 11 s:
    // 10 rounds of 5 in 2 minutes.
    let o = run("
duration: 2m
pools:
  - name: p
    target_size: 5
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 10s, jitter: 0s, guard_window: 1ns}
");
    assert_eq!(discards(&o, "expired_on_scan"), 50);
    assert_eq!(discards(&o, "expiring_soon_on_scan"), 0);
    assert_eq!(o.summary.pools[0].refills, 55);
    conserved(&o);
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
    let p = &o.summary.pools[0];
    let guard = discards(&o, "insufficient_remaining_lifetime");
    // Every connection made at t enters the guard at t + 7.5 s, half a
    // second before a scan would remove it: a checkout (every 2.5 ms) finds
    // it at the head in that half second. About 24,000 checkouts over ~330
    // connections: a third of them are met by a checkout first.
    assert!((50..=300).contains(&guard), "{guard}");
    // A discarded head is one empty event, and the request waits for the
    // next connection (the buffer is never empty here): no failure.
    assert_eq!(p.empty_events, guard);
    assert_eq!(p.hits_after_wait, guard);
    assert_eq!(p.failures, 0);
    conserved(&o);
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
    // With no expiry in 5 minutes, all discards are returns the refiller had
    // replaced while they were out: the refiller creates one connection per
    // checkout beyond the first 20 (no limiter wait: 10/s is exactly the
    // instance's token bucket), so discards = checkouts - 20 - (still out).
    let last = o.observations.samples.last().unwrap();
    let full = discards(&o, "reservoir_full");
    let discarded: u64 = p.discards.values().sum();
    assert_eq!(discarded, full);
    assert!(
        full * 10 >= p.checkouts * 6,
        "{full} of {} checkouts",
        p.checkouts
    );
    assert!(full <= p.checkouts - u64::from(last.in_use), "{full}");
    conserved(&o);
}

#[test]
fn returns_inside_the_guard_window_are_discarded() {
    // 30 s lifetimes, 10 s guard, 15 s holds: a connection taken with less
    // than 25 s left comes back inside the guard (or expired).
    let o = run("
duration: 5m
workload: {type: constant, checkout_rate: 1, hold_duration: 15s}
pools:
  - name: p
    target_size: 30
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 30s, jitter: 0s, guard_window: 10s}
");
    let on_return = discards(&o, "insufficient_remaining_lifetime_on_return")
        + discards(&o, "expired_on_return");
    let p = &o.summary.pools[0];
    assert!(
        on_return * 2 >= p.checkouts,
        "{on_return} of {}",
        p.checkouts
    );
    conserved(&o);
    // 40 s holds of 30 s connections: every connection comes back expired.
    let o = run("
duration: 5m
workload: {type: constant, checkout_rate: 1, hold_duration: 40s}
pools:
  - name: p
    target_size: 60
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 30s, jitter: 0s, guard_window: 1s}
");
    let p = &o.summary.pools[0];
    let last = o.observations.samples.last().unwrap();
    assert_eq!(
        discards(&o, "expired_on_return"),
        p.checkouts - u64::from(last.in_use),
        "{p:?}"
    );
    assert_eq!(discards(&o, "insufficient_remaining_lifetime_on_return"), 0);
    assert_eq!(discards(&o, "reservoir_full"), 0);
    conserved(&o);
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
    // Requests every 100 ms from 0.2 s (the one at 0.1 s is refused before
    // the pool serves) to 60 s: 599. The first takes the connection at
    // once; from then, each time it comes back (every second) the request
    // waiting for it takes it: 59 more. The rest wait 100 ms and fail,
    // but the last, still waiting at the end.
    assert_eq!(p.requests, 599);
    assert_eq!((p.hits, p.hits_after_wait), (1, 59));
    assert_eq!(p.failures, 599 - 60 - 1);
    assert_eq!(p.failures_by_cause["no_connection"], p.failures);
    let last = o.observations.samples.last().unwrap();
    assert_eq!(last.waiting, 1);
    assert_eq!(
        p.requests,
        p.hits + p.hits_after_wait + p.failures + last.waiting as u64
    );
    // Every request but the first found the buffer empty once.
    assert_eq!(p.empty_events, p.requests - 1);
    // A failed Open() waited exactly empty_wait.
    assert_eq!(p.checkout_latency_ms.max, 100.0);
    assert_eq!(p.waited, p.requests - 2);
}

#[test]
fn hits_after_wait_when_a_connection_returns_during_the_wait() {
    // Holds of 80 ms, arrivals every 50 ms, a single connection: the queue
    // of waiters grows by 30 ms per request until a wait would pass 100 ms.
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
    // The first request takes the connection at once (at 0.15 s: the one
    // at 0.1 s comes before the gate opens). From then on the connection is
    // never idle: with arrivals every 50 ms and waits of up to 100 ms, a
    // request is always waiting when it comes back, and takes it. Holds
    // start every 80 ms: 0.15 + 0.08 k <= 30 s for k = 1..=373.
    assert_eq!(p.hits, 1);
    assert_eq!(p.hits_after_wait, 373);
    let last = o.observations.samples.last().unwrap();
    assert_eq!(
        p.requests,
        p.hits + p.hits_after_wait + p.failures + last.waiting as u64
    );
    assert_eq!(p.checkout_latency_ms.max, 100.0);
    assert!(p.checkout_latency_ms.p50 > 0.0 && p.checkout_latency_ms.p50 < 100.0);
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
