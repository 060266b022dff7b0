//! Scenario building (src/scenario/build.rs): every default, every override
//! and its precedence, every validation rule with the key it names, and
//! every limit at its boundary (the largest valid value passes, the next
//! one is refused).

mod common;
use common::{invalid, scenario};
use poolsim::engine::{Time, HOUR, MILLISECOND, MINUTE, SECOND};
use poolsim::model::dist::DurationDist;
use poolsim::model::workload::{ArrivalProcess, RateShape};
use poolsim::model::world::{LimiterConfig, ProcessConfig, ProcessLimiter, Stack, WorldConfig};
use poolsim::scenario::overrides::Override;
use poolsim::scenario::{Check, Defaults};

const POOL: &str = "pools:\n  - {name: p, target_size: 5}\n";

/// `yaml` must be refused with a problem at `path` whose message contains
/// `fragment`.
fn refused(yaml: &str, path: &str, fragment: &str) {
    let e = invalid(yaml);
    let hit = e
        .lines()
        .any(|l| l.contains(&format!(": {path}: ")) && l.contains(fragment));
    assert!(
        hit,
        "expected '{path}: ...{fragment}...' in:\n{e}\n--- for:\n{yaml}"
    );
}

fn valid(yaml: &str) -> poolsim::scenario::Scenario {
    scenario(yaml)
}

/// The process that runs pool `pool` (processes hold consecutive pools).
fn process_of(w: &WorldConfig, pool: usize) -> &ProcessConfig {
    let mut first = 0;
    for p in &w.processes {
        if pool < first + p.pools as usize {
            return p;
        }
        first += p.pools as usize;
    }
    panic!("pool {pool} has no process")
}

/// The process's own token bucket as (rate per second, burst); `None` when
/// it has no limiter of its own.
fn local_limiter(w: &WorldConfig, pool: usize) -> Option<(f64, u32)> {
    match &process_of(w, pool).limiter {
        ProcessLimiter::Local { rate, burst } => Some((*rate, *burst)),
        ProcessLimiter::None => None,
        ProcessLimiter::Shared => panic!("pool {pool} uses the cluster-wide limiter"),
    }
}

// ------------------------------------------------------------------ defaults

#[test]
fn an_almost_empty_scenario_takes_the_documented_defaults() {
    let sc = valid("pools:\n  - {name: p, target_size: 7}\n");
    assert_eq!(sc.name, "test", "the file stem");
    assert_eq!(sc.description, "");
    // 2026-01-01T00:00:00Z.
    assert_eq!(sc.start_unix_ns, 1_767_225_600 * SECOND);
    let w = &sc.world;
    assert_eq!(w.seed, 1);
    assert_eq!(w.duration, 30 * MINUTE);
    assert_eq!(w.sample_every, SECOND);
    assert_eq!(w.measure_after, 0);
    assert!(w.global_limiter.is_none());
    assert!(w.leases.is_none());
    assert_eq!(w.cluster.max_connections, 10_000);
    assert_eq!(w.cluster.connect_rate, 100.0);
    assert_eq!(w.cluster.connect_burst, 1_000);
    assert_eq!(w.cluster.max_connection_age, 60 * MINUTE);
    let p = &w.pools[0];
    assert_eq!((p.name.as_str(), p.target_size), ("p", 7));
    assert_eq!(p.stack, Stack::Plain);
    assert!(p.workload.is_none());
    assert_eq!(p.connect_latency, DurationDist::Fixed(20 * MILLISECOND));
    assert_eq!(process_of(w, 0).startup_max_delay, Some(5 * SECOND));
    assert_eq!(p.token_failure_rate, 0.0);
    assert_eq!(local_limiter(w, 0), Some((10.0, 100)));
    let r = &p.reservoir;
    assert_eq!((r.target_ready, r.low_watermark), (7, 7));
    assert_eq!(r.base_lifetime, 11 * MINUTE);
    assert_eq!(r.jitter, 2 * MINUTE);
    assert_eq!(r.guard_window, 45 * SECOND);
    assert_eq!(r.initial_fill_timeout, 30 * SECOND);
    assert_eq!(r.empty_wait, 100 * MILLISECOND);
    let s = &p.sql;
    assert_eq!(s.max_idle, 7);
    assert_eq!(s.max_lifetime, 55 * MINUTE);
    assert_eq!(s.max_idle_time, 0);
    assert!(s.warmup && s.keeper);
    assert_eq!(s.request_timeout, 30 * SECOND);
    assert!(sc.assertions.is_empty());
    // The constants behind them.
    assert_eq!(Defaults::SEED, 1);
    assert_eq!(Defaults::HOLD, 100 * MILLISECOND);
    assert_eq!(Defaults::GLOBAL_BURST, 1);
}

#[test]
fn reservoir_stacks_and_their_defaults() {
    let sc = valid(
        "pools:
  - {name: a, target_size: 4, reservoir: {enabled: true}}
  - {name: b, target_size: 4, reservoir: {enabled: true, stack: direct}}
  - {name: c, target_size: 4, reservoir: {enabled: true, stack: database_sql}}
  - {name: d, target_size: 4, reservoir: {enabled: false, stack: database_sql}}
  - {name: e, target_size: 4, reservoir: {stack: database_sql}}
",
    );
    let stacks: Vec<Stack> = sc.world.pools.iter().map(|p| p.stack).collect();
    assert_eq!(
        stacks,
        [
            Stack::Direct,
            Stack::Direct,
            Stack::DatabaseSql,
            Stack::Plain,
            Stack::Plain
        ]
    );
}

#[test]
fn every_key_overrides_its_default() {
    let sc = valid(
        "
name: My run
description: one line
seed: 42
duration: 2h
sample_every: 250ms
start_time: 2030-06-01T12:00:00Z
measure_after: 10m
global_rate_limiter: what_if_token_bucket
global_rate_limit: 55.5
global_rate_limit_burst: 3
connect_latency: 7ms
token_failure_rate: 0.25
cluster: {max_connections: 77, connect_rate: 12.5, connect_burst: 9, max_connection_age: 0}
lease_table: {limit: 123}
pool: {max_idle: 2, max_lifetime: 0, max_idle_time: 3m, warmup: false, keeper: false, request_timeout: 2s}
pools:
  - name: p.1_x-y
    target_size: 9
    staggered_startup: true
    startup_max_delay: 2s
    reservoir: {enabled: true, target_ready: 6, low_watermark: 3, base_lifetime: 5m, jitter: 0s, guard_window: 10s, initial_fill_timeout: 4s, empty_wait: 0}
",
    );
    assert_eq!(sc.name, "My run");
    assert_eq!(sc.description, "one line");
    assert_eq!(sc.start_unix_ns, 1_906_545_600 * SECOND);
    let w = &sc.world;
    assert_eq!(w.seed, 42);
    assert_eq!(w.duration, 2 * HOUR);
    assert_eq!(w.sample_every, 250 * MILLISECOND);
    assert_eq!(w.measure_after, 10 * MINUTE);
    assert_eq!(
        w.global_limiter,
        Some(LimiterConfig::TokenBucket {
            rate: 55.5,
            burst: 3
        })
    );
    assert_eq!(w.leases.map(|l| l.limit), Some(123));
    assert_eq!(w.cluster.max_connections, 77);
    assert_eq!(w.cluster.connect_rate, 12.5);
    assert_eq!(w.cluster.connect_burst, 9);
    assert_eq!(w.cluster.max_connection_age, 0);
    let p = &w.pools[0];
    assert_eq!(p.name, "p.1_x-y");
    assert_eq!(p.connect_latency, DurationDist::Fixed(7 * MILLISECOND));
    assert_eq!(p.token_failure_rate, 0.25);
    // One limiter per process: the cluster-wide one, not its own bucket.
    assert_eq!(process_of(w, 0).limiter, ProcessLimiter::Shared);
    assert_eq!(process_of(w, 0).startup_max_delay, Some(2 * SECOND));
    let r = &p.reservoir;
    assert_eq!((r.target_ready, r.low_watermark), (6, 3));
    assert_eq!(
        (r.base_lifetime, r.jitter, r.guard_window),
        (5 * MINUTE, 0, 10 * SECOND)
    );
    assert_eq!((r.initial_fill_timeout, r.empty_wait), (4 * SECOND, 0));
    let s = &p.sql;
    assert_eq!(
        (s.max_idle, s.max_lifetime, s.max_idle_time),
        (2, 0, 3 * MINUTE)
    );
    assert!(!s.warmup && !s.keeper);
    assert_eq!(s.request_timeout, 2 * SECOND);
}

#[test]
fn a_pools_own_keys_win_over_the_top_level_ones_key_by_key() {
    let sc = valid(
        "
pool: {max_idle: 2, max_lifetime: 1m, request_timeout: 3s, warmup: false}
local_rate_limit: 4
local_rate_limit_burst: 8
connect_latency: 7ms
workload: {type: constant, checkout_rate: 5}
pools:
  - {name: a, target_size: 9}
  - name: b
    target_size: 9
    pool: {max_idle: 5, keeper: false, max_idle_time: 1s}
    local_rate_limit: 6
    connect_latency: 9ms
    workload: {type: constant, checkout_rate: 8}
  - {name: c, target_size: 9, local_rate_limit_burst: 2}
  - {name: d, target_size: 9, local_rate_limit: 0}
",
    );
    let [a, b, _, _] = &sc.world.pools[..] else {
        panic!()
    };
    assert_eq!(
        (a.sql.max_idle, a.sql.max_lifetime, a.sql.request_timeout),
        (2, MINUTE, 3 * SECOND)
    );
    assert!(!a.sql.warmup && a.sql.keeper);
    assert_eq!(
        (b.sql.max_idle, b.sql.max_lifetime, b.sql.max_idle_time),
        (5, MINUTE, SECOND)
    );
    assert!(!b.sql.warmup && !b.sql.keeper);
    let w = &sc.world;
    assert_eq!(local_limiter(w, 0), Some((4.0, 8)));
    assert_eq!(local_limiter(w, 1), Some((6.0, 8)));
    assert_eq!(local_limiter(w, 2), Some((4.0, 2)));
    assert_eq!(
        local_limiter(w, 3),
        None,
        "0 turns the process's limiter off"
    );
    assert_eq!(a.connect_latency, DurationDist::Fixed(7 * MILLISECOND));
    assert_eq!(b.connect_latency, DurationDist::Fixed(9 * MILLISECOND));
    let rate = |p: &poolsim::model::world::PoolConfig| p.workload.unwrap().shape;
    assert_eq!(rate(a), RateShape::Constant { rate: 5.0 });
    assert_eq!(rate(b), RateShape::Constant { rate: 8.0 });
}

#[test]
fn staggered_startup_false_means_no_delay() {
    let sc = valid("pools:\n  - {name: p, target_size: 1, staggered_startup: false}\n");
    assert_eq!(process_of(&sc.world, 0).startup_max_delay, None);
    refused(
        "pools:\n  - {name: p, target_size: 1, staggered_startup: false, startup_max_delay: 1s}\n",
        "pools[0].startup_max_delay",
        "does not apply when staggered_startup is false",
    );
}

#[test]
fn target_ready_is_raised_to_low_watermark_and_bounded() {
    let sc = valid(
        "pools:\n  - {name: p, target_size: 50, reservoir: {enabled: true, target_ready: 10, low_watermark: 20}}\n  - {name: q, target_size: 50, reservoir: {enabled: true, target_ready: 30, low_watermark: 20}}\n",
    );
    assert_eq!(sc.world.pools[0].reservoir.target_ready, 20);
    assert_eq!(sc.world.pools[1].reservoir.target_ready, 30);
    refused(
        "pools:\n  - {name: p, target_size: 5, reservoir: {enabled: true, target_ready: 0, low_watermark: 0}}\n",
        "pools[0].reservoir.target_ready",
        "at least 1",
    );
    valid(
        "pools:\n  - {name: p, target_size: 5, reservoir: {enabled: true, target_ready: 100000}}\n",
    );
    refused(
        "pools:\n  - {name: p, target_size: 5, reservoir: {enabled: true, target_ready: 100001}}\n",
        "pools[0].reservoir.target_ready",
        "at most 100000",
    );
}

// ------------------------------------------------------------ distributions

#[test]
fn connect_latency_distributions() {
    let lat = |spec: &str| {
        valid(&format!("connect_latency: {spec}\n{POOL}"))
            .world
            .pools[0]
            .connect_latency
    };
    assert_eq!(lat("1m"), DurationDist::Fixed(MINUTE));
    assert_eq!(
        lat("{distribution: fixed, value: 3ms}"),
        DurationDist::Fixed(3 * MILLISECOND)
    );
    assert_eq!(
        lat("{distribution: uniform, min: 1ms, max: 5ms}"),
        DurationDist::Uniform {
            min: MILLISECOND,
            max: 5 * MILLISECOND
        }
    );
    assert_eq!(
        lat("{distribution: uniform, min: 5ms, max: 5ms}"),
        DurationDist::Uniform {
            min: 5 * MILLISECOND,
            max: 5 * MILLISECOND
        }
    );
    assert_eq!(
        lat("{distribution: exponential, mean: 8ms}"),
        DurationDist::Exponential {
            mean: 8 * MILLISECOND
        }
    );
    assert_eq!(
        lat("{distribution: lognormal, mean: 8ms}"),
        DurationDist::LogNormal {
            mean: 8 * MILLISECOND,
            sigma: 0.5
        }
    );
    assert_eq!(
        lat("{distribution: lognormal, mean: 8ms, sigma: 3}"),
        DurationDist::LogNormal {
            mean: 8 * MILLISECOND,
            sigma: 3.0
        }
    );
    assert_eq!(
        lat("{distribution: lognormal, mean: 1m, sigma: 0}"),
        DurationDist::LogNormal {
            mean: MINUTE,
            sigma: 0.0
        }
    );
}

#[test]
fn connect_latency_problems_name_their_key() {
    let bad = |spec: &str, path: &str, frag: &str| {
        refused(&format!("connect_latency: {spec}\n{POOL}"), path, frag)
    };
    bad("61s", "connect_latency", "at most 1m");
    bad(
        "{distribution: fixed}",
        "connect_latency.value",
        "is required",
    );
    bad(
        "{distribution: uniform, max: 1ms}",
        "connect_latency.min",
        "is required",
    );
    bad(
        "{distribution: uniform, min: 1ms}",
        "connect_latency.max",
        "is required",
    );
    bad(
        "{distribution: uniform, min: 2ms, max: 1ms}",
        "connect_latency.min",
        "must not be greater than max",
    );
    bad(
        "{distribution: exponential}",
        "connect_latency.mean",
        "is required",
    );
    bad(
        "{distribution: lognormal}",
        "connect_latency.mean",
        "is required",
    );
    bad(
        "{distribution: lognormal, mean: 1ms, sigma: 3.01}",
        "connect_latency.sigma",
        "between 0 and 3",
    );
    bad(
        "{distribution: lognormal, mean: 1ms, sigma: -0.1}",
        "connect_latency.sigma",
        "between 0 and 3",
    );
    bad(
        "{distribution: exponential, mean: 61s}",
        "connect_latency",
        "mean must be at most 1m",
    );
    bad(
        "{distribution: uniform, min: 1m, max: 1m1s}",
        "connect_latency",
        "mean must be at most 1m",
    );
    // Keys of another distribution.
    bad(
        "{distribution: fixed, value: 1ms, mean: 1ms}",
        "connect_latency.mean",
        "does not apply to a fixed distribution",
    );
    bad(
        "{distribution: exponential, mean: 1ms, value: 1ms}",
        "connect_latency.value",
        "does not apply to a exponential distribution",
    );
    bad(
        "{distribution: exponential, mean: 1ms, min: 1ms}",
        "connect_latency.min",
        "does not apply",
    );
    bad(
        "{distribution: lognormal, mean: 1ms, max: 1ms}",
        "connect_latency.max",
        "does not apply",
    );
    bad(
        "{distribution: uniform, min: 1ms, max: 2ms, mean: 1ms}",
        "connect_latency.mean",
        "does not apply",
    );
    bad(
        "{distribution: exponential, mean: 1ms, sigma: 1}",
        "connect_latency.sigma",
        "does not apply",
    );
    // A pool's own latency is checked at its own key.
    refused(
        "pools:\n  - {name: p, target_size: 1, connect_latency: 2m}\n",
        "pools[0].connect_latency",
        "at most 1m",
    );
    // 1m exactly is the largest, as a value or as a mean.
    valid(&format!("connect_latency: 1m\n{POOL}"));
    valid(&format!(
        "connect_latency: {{distribution: uniform, min: 40s, max: 80s}}\n{POOL}"
    ));
    bad(
        "{distribution: uniform, min: 40s, max: 80000000002ns}",
        "connect_latency",
        "mean must be at most 1m",
    );
    valid(&format!(
        "connect_latency: {{distribution: exponential, mean: 1m}}\n{POOL}"
    ));
}

#[test]
fn hold_distributions() {
    let hold = |w: &str| {
        valid(&format!(
            "workload: {{type: constant, checkout_rate: 1, {w}}}\n{POOL}"
        ))
        .world
        .pools[0]
            .workload
            .unwrap()
            .hold
    };
    assert_eq!(hold("hold_duration: 3s"), DurationDist::Fixed(3 * SECOND));
    assert_eq!(
        hold("arrival: poisson"),
        DurationDist::Fixed(100 * MILLISECOND)
    );
    assert_eq!(
        hold("hold_duration: 100ms, hold_distribution: uniform"),
        DurationDist::Uniform {
            min: 0,
            max: 200 * MILLISECOND
        }
    );
    assert_eq!(
        hold("hold_duration: 100ms, hold_distribution: uniform, hold_spread: 0.25"),
        DurationDist::Uniform {
            min: 75 * MILLISECOND,
            max: 125 * MILLISECOND
        }
    );
    // The half-width is rounded to the nearest nanosecond: 3 ns x 0.5 = 1.5 -> 2.
    assert_eq!(
        hold("hold_duration: 3ns, hold_distribution: uniform, hold_spread: 0.5"),
        DurationDist::Uniform { min: 1, max: 5 }
    );
    assert_eq!(
        hold("hold_duration: 1s, hold_distribution: uniform, hold_spread: 0"),
        DurationDist::Uniform {
            min: SECOND,
            max: SECOND
        }
    );
    assert_eq!(
        hold("hold_duration: 1s, hold_distribution: exponential"),
        DurationDist::Exponential { mean: SECOND }
    );
    assert_eq!(
        hold("hold_duration: 1s, hold_distribution: lognormal"),
        DurationDist::LogNormal {
            mean: SECOND,
            sigma: 0.5
        }
    );
    assert_eq!(
        hold("hold_duration: 1s, hold_distribution: lognormal, hold_sigma: 2"),
        DurationDist::LogNormal {
            mean: SECOND,
            sigma: 2.0
        }
    );
    assert_eq!(hold("hold_duration: 24h"), DurationDist::Fixed(24 * HOUR));
}

#[test]
fn hold_problems_name_their_key() {
    let bad = |w: &str, path: &str, frag: &str| {
        refused(
            &format!("workload: {{type: constant, checkout_rate: 1, {w}}}\n{POOL}"),
            path,
            frag,
        )
    };
    bad(
        "hold_duration: 24h1ns",
        "workload.hold_duration",
        "at most 24h",
    );
    bad(
        "hold_spread: 0.5",
        "workload.hold_spread",
        "unless hold_distribution is uniform",
    );
    bad(
        "hold_distribution: exponential, hold_spread: 0.5",
        "workload.hold_spread",
        "unless",
    );
    bad(
        "hold_sigma: 1",
        "workload.hold_sigma",
        "unless hold_distribution is lognormal",
    );
    bad(
        "hold_distribution: uniform, hold_sigma: 1",
        "workload.hold_sigma",
        "unless",
    );
    bad(
        "hold_distribution: uniform, hold_spread: 1.01",
        "workload.hold_spread",
        "between 0 and 1",
    );
    bad(
        "hold_distribution: uniform, hold_spread: -0.01",
        "workload.hold_spread",
        "between 0 and 1",
    );
    bad(
        "hold_distribution: lognormal, hold_sigma: 3.5",
        "workload.hold_sigma",
        "between 0 and 3",
    );
    bad(
        "hold_distribution: lognormal, hold_sigma: -1",
        "workload.hold_sigma",
        "between 0 and 3",
    );
}

// ----------------------------------------------------------------- workloads

#[test]
fn workload_shapes_and_arrivals() {
    let wl = |w: &str| {
        valid(&format!("workload: {w}\n{POOL}")).world.pools[0]
            .workload
            .unwrap()
    };
    let c = wl("{type: constant, checkout_rate: 2.5}");
    assert_eq!(c.shape, RateShape::Constant { rate: 2.5 });
    assert_eq!(c.arrival, ArrivalProcess::Poisson);
    let u = valid(&format!(
        "duration: 1s\npool: {{request_timeout: 1ms}}\nworkload: {{type: constant, checkout_rate: 1000000, arrival: uniform}}\n{POOL}"
    ))
    .world
    .pools[0]
        .workload
        .unwrap();
    assert_eq!(u.shape, RateShape::Constant { rate: 1e6 });
    assert_eq!(u.arrival, ArrivalProcess::Uniform);
    let b = wl(
        "{type: burst, baseline_rate: 1, burst_rate: 9, burst_duration: 10s, burst_interval: 1m}",
    );
    assert_eq!(
        b.shape,
        RateShape::Burst {
            baseline: 1.0,
            burst: 9.0,
            burst_duration: 10 * SECOND,
            interval: MINUTE,
            first_at: MINUTE
        },
        "the first burst comes one interval in"
    );
    let b = wl("{type: burst, baseline_rate: 1, burst_rate: 9, burst_duration: 10s, burst_interval: 1m, first_burst_at: 0}");
    assert!(matches!(b.shape, RateShape::Burst { first_at: 0, .. }));
}

#[test]
fn workload_problems_name_their_key() {
    let bad =
        |w: &str, path: &str, frag: &str| refused(&format!("workload: {w}\n{POOL}"), path, frag);
    bad("{type: constant}", "workload.checkout_rate", "is required");
    bad(
        "{type: constant, checkout_rate: 0}",
        "workload.checkout_rate",
        "greater than 0",
    );
    bad(
        "{type: constant, checkout_rate: -1}",
        "workload.checkout_rate",
        "greater than 0",
    );
    bad(
        "{type: constant, checkout_rate: .nan}",
        "workload.checkout_rate",
        "greater than 0",
    );
    bad(
        "{type: constant, checkout_rate: .inf}",
        "workload.checkout_rate",
        "greater than 0",
    );
    bad(
        "{type: constant, checkout_rate: 1000000.5}",
        "workload.checkout_rate",
        "at most 1000000",
    );
    for key in [
        "baseline_rate: 1",
        "burst_rate: 1",
        "burst_duration: 1s",
        "burst_interval: 1s",
        "first_burst_at: 1s",
    ] {
        let k = key.split(':').next().unwrap();
        bad(
            &format!("{{type: constant, checkout_rate: 1, {key}}}"),
            &format!("workload.{k}"),
            "it is for type: burst",
        );
    }
    let burst =
        "type: burst, baseline_rate: 1, burst_rate: 9, burst_duration: 10s, burst_interval: 1m";
    bad(
        &format!("{{{burst}, checkout_rate: 1}}"),
        "workload.checkout_rate",
        "use baseline_rate and burst_rate",
    );
    for k in [
        "baseline_rate",
        "burst_rate",
        "burst_duration",
        "burst_interval",
    ] {
        let without: Vec<&str> = burst.split(", ").filter(|kv| !kv.starts_with(k)).collect();
        bad(
            &format!("{{{}}}", without.join(", ")),
            &format!("workload.{k}"),
            "is required for type: burst",
        );
    }
    bad(
        "{type: burst, baseline_rate: 0, burst_rate: 9, burst_duration: 10s, burst_interval: 1m}",
        "workload.baseline_rate",
        "greater than 0",
    );
    bad(
        "{type: burst, baseline_rate: 1, burst_rate: 2000000, burst_duration: 10s, burst_interval: 1m}",
        "workload.burst_rate",
        "at most",
    );
    bad(
        "{type: burst, baseline_rate: 1, burst_rate: 9, burst_duration: 0, burst_interval: 1m}",
        "workload.burst_duration",
        "must be at least 1ms",
    );
    bad(
        "{type: burst, baseline_rate: 1, burst_rate: 9, burst_duration: 1m, burst_interval: 1m}",
        "workload.burst_duration",
        "shorter than burst_interval",
    );
    valid(&format!(
        "workload: {{type: burst, baseline_rate: 1, burst_rate: 9, burst_duration: 59999999999ns, burst_interval: 1m}}\n{POOL}"
    ));
    // A pool's own workload is checked at its own key.
    refused(
        "pools:\n  - {name: p, target_size: 1, workload: {type: constant, checkout_rate: -1}}\n",
        "pools[0].workload.checkout_rate",
        "greater than 0",
    );
}

// ------------------------------------------------------------- limits, time

#[test]
fn duration_sample_every_and_measure_after_bounds() {
    valid(&format!("duration: 720h\nsample_every: 1h\n{POOL}"));
    refused(
        &format!("duration: 720h1ns\n{POOL}"),
        "duration",
        "at most 720h",
    );
    refused(
        &format!("duration: 0\n{POOL}"),
        "duration",
        "greater than 0",
    );
    refused(
        &format!("sample_every: 0\n{POOL}"),
        "sample_every",
        "greater than 0",
    );
    valid(&format!("duration: 1m\nsample_every: 1m\n{POOL}"));
    refused(
        &format!("duration: 1m\nsample_every: 60000000001ns\n{POOL}"),
        "sample_every",
        "not be longer than duration",
    );
    // At most 20,000,000 time-series rows: (duration / sample_every + 1) x
    // pools. (Below that, the memory budget of tests/robustness.rs is the
    // tighter limit, so the largest valid row count is not tested here.)
    refused(
        "duration: 20000000ns\nsample_every: 1ns\npools:\n  - {name: p, target_size: 1}\n",
        "sample_every",
        "time-series rows",
    );
    refused(
        "duration: 10000000ns\nsample_every: 1ns\npools:\n  - {name: p, target_size: 1}\n  - {name: q, target_size: 1}\n",
        "sample_every",
        "time-series rows",
    );
    valid(&format!(
        "duration: 1m\nmeasure_after: 59999999999ns\n{POOL}"
    ));
    refused(
        &format!("duration: 1m\nmeasure_after: 1m\n{POOL}"),
        "measure_after",
        "shorter than duration",
    );
    refused(
        &format!("start_time: yesterday\n{POOL}"),
        "start_time",
        "RFC 3339",
    );
}

#[test]
fn the_seed_and_duration_overrides_replace_the_files_values_and_are_validated() {
    let text = format!("sample_every: 10s\n{POOL}");
    let with = |o: Vec<Override>| poolsim::scenario::parse_with(&text, "t.yaml", "t", &o);
    let sc = valid(&text);
    assert_eq!(sc.clone().with_seed(9).world.seed, 9);
    assert_eq!(with(vec![Override::seed(9)]).unwrap().world.seed, 9);
    let d = |t: &str| with(vec![Override::duration(t)]);
    assert_eq!(d("1m").unwrap().world.duration, MINUTE);
    assert_eq!(d("1h").unwrap().world.sample_every, 10 * SECOND);
    assert_eq!(d("720h").unwrap().world.duration, 720 * HOUR);
    // The file's limits apply to the override, which the error names.
    for bad in ["0s", "720h1ns"] {
        let e = d(bad).unwrap_err().to_string();
        assert!(e.contains(&format!("--duration {bad}")), "{bad}: {e}");
    }
    // A duration shorter than the file's sample_every is refused (not
    // clipped), naming the option.
    let e = d("5s").unwrap_err().to_string();
    assert!(
        e.contains("sample_every: must not be longer than duration (with --duration 5s)"),
        "{e}"
    );
}

#[test]
fn request_and_concurrency_limits_at_their_boundaries() {
    // 2e9 requests at most (refused beyond); the engine's event limit (5e9
    // events, about 3 per request) refuses earlier, so the largest valid run
    // is about 1.6e9 requests.
    let w = |rate: &str, hold: &str| {
        format!("workload: {{type: constant, checkout_rate: {rate}, hold_duration: {hold}}}\n")
    };
    let pool = "pool: {request_timeout: 1ns}\npools:\n  - {name: p, target_size: 1, reservoir: {enabled: true, empty_wait: 0}}\n";
    valid(&format!("duration: 1600s\n{}{pool}", w("1000000", "1ns")));
    refused(
        &format!("duration: 1700s\n{}{pool}", w("1000000", "1ns")),
        "workload",
        "the engine stops a run at 5e9",
    );
    refused(
        &format!("duration: 2000000000001ns\n{}{pool}", w("1000000", "1ns")),
        "workload",
        "requests; the limit is 2e9",
    );
    // Two pools share the limit: 1e6/s each for 1000 s.
    let two = "pool: {request_timeout: 1ns}\npools:\n  - {name: p, target_size: 1}\n  - {name: q, target_size: 1}\n";
    valid(&format!("duration: 800s\n{}{two}", w("1000000", "1ns")));
    refused(
        &format!("duration: 1000000000001ns\n{}{two}", w("1000000", "1ns")),
        "workload",
        "limit is 2e9",
    );
    // A burst workload counts its mean rate: 1 s of 1e6/s and 1 s of 1/s
    // in every 2 s is 500,000.5/s: 1.5e9 requests in 3000 s, 2e9 in 4000 s.
    let burst = "workload: {type: burst, baseline_rate: 1, burst_rate: 1000000, burst_duration: 1s, burst_interval: 2s, hold_duration: 1ns}\n";
    valid(&format!("duration: 3000s\n{burst}{pool}"));
    refused(
        &format!("duration: 4000s\n{burst}{pool}"),
        "workload",
        "the engine stops a run at 5e9",
    );
    // 1e7 at once at most: peak rate x (mean hold + the longer of empty_wait
    // and request_timeout). 1e6/s x (9 s + 1 s) is the largest.
    let conc = |hold: &str, timeout: &str, empty_wait: &str| {
        format!(
            "duration: 1s\n{}pool: {{request_timeout: {timeout}}}\npools:\n  - {{name: p, target_size: 1, reservoir: {{enabled: true, empty_wait: {empty_wait}}}}}\n",
            w("1000000", hold)
        )
    };
    valid(&conc("9s", "1s", "0"));
    refused(&conc("9000000001ns", "1s", "0"), "workload", "at once");
    valid(&conc("9s", "1ns", "1s"));
    refused(&conc("9s", "1ns", "1000000001ns"), "workload", "at once");
    // The burst's peak rate counts, not its mean.
    let peak = "workload: {type: burst, baseline_rate: 1, burst_rate: 1000000, burst_duration: 1ms, burst_interval: 1h, hold_duration: 9s}\npool: {request_timeout: 1000000001ns}\npools:\n  - {name: p, target_size: 1}\n";
    refused(&format!("duration: 1s\n{peak}"), "workload", "at once");
    let peak_low = "workload: {type: burst, baseline_rate: 1000000, burst_rate: 1, burst_duration: 1ms, burst_interval: 1h, hold_duration: 9s}\npool: {request_timeout: 1000000001ns}\npools:\n  - {name: p, target_size: 1}\n";
    refused(&format!("duration: 1s\n{peak_low}"), "workload", "at once");
}

// ------------------------------------------------------------------ limiters

#[test]
fn global_limiter_kinds() {
    let lim = |y: &str| valid(&format!("{y}\n{POOL}")).world.global_limiter;
    // The default is production's distributed per-second limiter.
    assert_eq!(
        lim("global_rate_limit: 20"),
        Some(LimiterConfig::PerSecond { limit: 20 })
    );
    assert_eq!(
        lim("global_rate_limit: 20\nglobal_rate_limiter: per_second"),
        Some(LimiterConfig::PerSecond { limit: 20 })
    );
    assert_eq!(
        lim("global_rate_limit: 20\nglobal_rate_limiter: what_if_token_bucket"),
        Some(LimiterConfig::TokenBucket {
            rate: 20.0,
            burst: 1
        })
    );
    assert_eq!(
        lim("global_rate_limit: 20\nglobal_rate_limiter: what_if_token_bucket\nglobal_rate_limit_burst: 5"),
        Some(LimiterConfig::TokenBucket {
            rate: 20.0,
            burst: 5
        })
    );
    assert_eq!(
        lim("global_rate_limit: 1000000000\nglobal_rate_limiter: fixed_window"),
        Some(LimiterConfig::FixedWindow {
            limit: 1_000_000_000
        })
    );
    assert_eq!(
        lim("global_rate_limit: 1000000000"),
        Some(LimiterConfig::PerSecond {
            limit: 1_000_000_000
        })
    );
    // The old name of the what-if is refused with the new one.
    refused(
        &format!("global_rate_limit: 20\nglobal_rate_limiter: token_bucket\n{POOL}"),
        "global_rate_limiter",
        "what_if_token_bucket",
    );
}

#[test]
fn limiter_problems_name_their_key() {
    let bad = |y: &str, path: &str, frag: &str| refused(&format!("{y}\n{POOL}"), path, frag);
    bad(
        "global_rate_limit_burst: 2",
        "global_rate_limit_burst",
        "without global_rate_limit",
    );
    bad(
        "global_rate_limiter: per_second",
        "global_rate_limiter",
        "without global_rate_limit",
    );
    bad(
        "global_rate_limit: 0",
        "global_rate_limit",
        "greater than 0",
    );
    bad(
        "global_rate_limit: 1000000001",
        "global_rate_limit",
        "at most",
    );
    bad(
        "global_rate_limit: 5\nglobal_rate_limit_burst: 0",
        "global_rate_limit_burst",
        "at least 1",
    );
    bad(
        "global_rate_limit: 5\nglobal_rate_limiter: per_second\nglobal_rate_limit_burst: 2",
        "global_rate_limit_burst",
        "per-second limiter",
    );
    bad(
        "global_rate_limit: 5.5\nglobal_rate_limiter: per_second",
        "global_rate_limit",
        "whole number",
    );
    bad(
        "global_rate_limit: 0.5\nglobal_rate_limiter: fixed_window",
        "global_rate_limit",
        "whole number",
    );
    bad(
        "local_rate_limit: -1",
        "local_rate_limit",
        "must be 0 (no limiter)",
    );
    bad(
        "local_rate_limit: 1000000001",
        "local_rate_limit",
        "at most 1e9",
    );
    bad("local_rate_limit: .inf", "local_rate_limit", "must be 0");
    bad(
        "local_rate_limit_burst: 0",
        "local_rate_limit_burst",
        "at least 1",
    );
    valid(&format!("local_rate_limit: 1000000000\n{POOL}"));
    valid(&format!(
        "local_rate_limit: 0\nlocal_rate_limit_burst: 0\n{POOL}"
    ));
    refused(
        "pools:\n  - {name: p, target_size: 1, local_rate_limit: -2}\n",
        "pools[0].local_rate_limit",
        "must be 0",
    );
    refused(
        "pools:\n  - {name: p, target_size: 1, local_rate_limit_burst: 0}\n",
        "pools[0].local_rate_limit_burst",
        "at least 1",
    );
}

// -------------------------------------------------------- cluster and leases

#[test]
fn cluster_lease_and_failure_injection_problems() {
    let bad = |y: &str, path: &str, frag: &str| refused(&format!("{y}\n{POOL}"), path, frag);
    bad(
        "cluster: {max_connections: 0}",
        "cluster.max_connections",
        "at least 1",
    );
    bad(
        "cluster: {connect_rate: 0}",
        "cluster.connect_rate",
        "greater than 0",
    );
    bad(
        "cluster: {connect_rate: 1000000001}",
        "cluster.connect_rate",
        "at most",
    );
    bad(
        "cluster: {connect_burst: 0}",
        "cluster.connect_burst",
        "at least 1",
    );
    bad("lease_table: {limit: 0}", "lease_table.limit", "at least 1");
    bad("token_failure_rate: 1", "token_failure_rate", "below 1");
    bad(
        "token_failure_rate: -0.1",
        "token_failure_rate",
        "at least 0",
    );
    bad("token_failure_rate: .nan", "token_failure_rate", "below 1");
    let sc = valid(&format!(
        "token_failure_rate: 0.999\ncluster: {{connect_rate: 1000000000}}\n{POOL}"
    ));
    assert_eq!(sc.world.pools[0].token_failure_rate, 0.999);
    assert_eq!(sc.world.cluster.connect_rate, 1e9);
    // The lease table: on when the block is present, unless disabled.
    let leases = |y: &str| valid(&format!("{y}\n{POOL}")).world.leases.map(|l| l.limit);
    assert_eq!(leases("lease_table: {}"), Some(10_000));
    assert_eq!(leases("lease_table: {enabled: true}"), Some(10_000));
    assert_eq!(leases("lease_table: {enabled: false, limit: 5}"), None);
    assert_eq!(leases("lease_table: {limit: 1}"), Some(1));
}

// --------------------------------------------------------------------- pools

#[test]
fn pool_problems_name_their_key() {
    refused("pools: []\n", "pools", "at least one pool");
    for name in ["", "a b", "x/y", &"n".repeat(65)] {
        refused(
            &format!("pools:\n  - {{name: '{name}', target_size: 1}}\n"),
            "pools[0].name",
            "1-64 characters",
        );
    }
    valid(&format!(
        "pools:\n  - {{name: '{}', target_size: 1}}\n",
        "n".repeat(64)
    ));
    refused(
        "pools:\n  - {name: a, target_size: 1}\n  - {name: b, target_size: 1}\n  - {name: a, target_size: 1}\n",
        "pools[2].name",
        "'a' is used by another pool",
    );
    refused(
        "pools:\n  - {name: a, target_size: 0}\n",
        "pools[0].target_size",
        "between 1 and 100000",
    );
    refused(
        "pools:\n  - {name: a, target_size: 100001}\n",
        "pools[0].target_size",
        "between 1 and 100000",
    );
    valid("duration: 1s\npools:\n  - {name: a, target_size: 100000}\n");
    let r = |keys: &str, path: &str, frag: &str| {
        refused(
            &format!(
                "pools:\n  - {{name: a, target_size: 5, reservoir: {{enabled: true, {keys}}}}}\n"
            ),
            &format!("pools[0].reservoir.{path}"),
            frag,
        )
    };
    r("base_lifetime: 0", "base_lifetime", "greater than 0");
    r(
        "base_lifetime: 45s",
        "base_lifetime",
        "(45s) must be longer than guard_window (45s, the default)",
    );
    r("empty_wait: 60000000001ns", "empty_wait", "at most 1m");
    valid("pools:\n  - {name: a, target_size: 5, reservoir: {enabled: true, base_lifetime: 45000000001ns, empty_wait: 1m}}\n");
}

#[test]
fn database_sql_problems_name_their_key() {
    refused(
        "pool: {max_idle: 6}\npools:\n  - {name: a, target_size: 5}\n",
        "pool.max_idle",
        "(6) must not exceed the pool's target_size (5)",
    );
    refused(
        "pools:\n  - {name: a, target_size: 5, pool: {max_idle: 6}}\n",
        "pools[0].pool.max_idle",
        "must not exceed",
    );
    let sc = valid("pools:\n  - {name: a, target_size: 5, pool: {max_idle: 5}}\n");
    assert_eq!(sc.world.pools[0].sql.max_idle, 5);
    refused(
        "pool: {request_timeout: 0}\npools:\n  - {name: a, target_size: 5}\n",
        "pool.request_timeout",
        "greater than 0",
    );
    refused(
        "pools:\n  - {name: a, target_size: 5, pool: {request_timeout: 1h1ns}}\n",
        "pools[0].pool.request_timeout",
        "at most 1h",
    );
    let sc = valid("pool: {request_timeout: 1h}\npools:\n  - {name: a, target_size: 5}\n");
    assert_eq!(sc.world.pools[0].sql.request_timeout, HOUR);
}

// ---------------------------------------------------------------- assertions

fn checks(list: &str) -> Vec<(Check, Option<usize>, &'static str)> {
    valid(&format!(
        "pools:\n  - {{name: a, target_size: 1}}\n  - {{name: b, target_size: 1}}\nassertions:\n{list}"
    ))
    .assertions
    .into_iter()
    .map(|a| (a.check, a.pool, a.type_name))
    .collect()
}

#[test]
fn every_assertion_type_builds_its_check() {
    let got = checks(
        "  - {type: reservoir_hits_ratio, min: 0.95}
  - {type: reservoir_hits_ratio, min: 1, pool: b}
  - {type: reservoir_empty_events, max: 10}
  - {type: max_connects_per_sec, max: 50}
  - {type: converge_within, duration: 5s}
  - {type: converge_within, duration: 5s, stable_for: 1m, pool: a}
  - {type: checkout_latency, percentile: 99, max: 2ms}
  - {type: wait_time, percentile: 100, max: 0}
  - {type: request_failures, max: 0}
  - {type: pool_at_size, min_fraction: 1}
  - {type: max_physical_connections, max: 7}
",
    );
    let want: Vec<(Check, Option<usize>, &str)> = vec![
        (Check::HitsRatio { min: 0.95 }, None, "reservoir_hits_ratio"),
        (
            Check::HitsRatio { min: 1.0 },
            Some(1),
            "reservoir_hits_ratio",
        ),
        (
            Check::EmptyEvents { max: 10 },
            None,
            "reservoir_empty_events",
        ),
        (
            Check::MaxConnectsPerSec { max: 50 },
            None,
            "max_connects_per_sec",
        ),
        (
            Check::ConvergeWithin {
                within: 5 * SECOND,
                stable_for: 0,
            },
            None,
            "converge_within",
        ),
        (
            Check::ConvergeWithin {
                within: 5 * SECOND,
                stable_for: MINUTE,
            },
            Some(0),
            "converge_within",
        ),
        (
            Check::CheckoutLatency {
                percentile: 99.0,
                max: 2 * MILLISECOND,
            },
            None,
            "checkout_latency",
        ),
        (
            Check::WaitTime {
                percentile: 100.0,
                max: 0,
            },
            None,
            "wait_time",
        ),
        (Check::RequestFailures { max: 0 }, None, "request_failures"),
        (
            Check::PoolAtSize { min_fraction: 1.0 },
            None,
            "pool_at_size",
        ),
        (
            Check::MaxPhysicalConnections { max: 7 },
            None,
            "max_physical_connections",
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn assertion_problems_name_their_key() {
    let head = "pools:\n  - {name: a, target_size: 1}\nassertions:\n";
    let bad = |a: &str, path: &str, frag: &str| {
        refused(
            &format!("{head}  - {{{a}}}\n"),
            &format!("assertions[0].{path}"),
            frag,
        )
    };
    bad(
        "type: request_failures, max: 0, pool: zz",
        "pool",
        "names no pool ('zz')",
    );
    bad(
        "type: reservoir_hits_ratio",
        "min",
        "is required to reservoir_hits_ratio",
    );
    bad(
        "type: reservoir_hits_ratio, min: 1.01",
        "min",
        "between 0 and 1",
    );
    bad("type: reservoir_hits_ratio, min: -0.5", "min", "at least 0");
    bad(
        "type: reservoir_hits_ratio, min: many",
        "min",
        "must be a number (got 'many')",
    );
    bad(
        "type: reservoir_hits_ratio, min: 0.5, max: 1",
        "max",
        "does not apply to reservoir_hits_ratio",
    );
    bad(
        "type: reservoir_empty_events, max: 1, min: 1",
        "min",
        "does not apply",
    );
    bad(
        "type: reservoir_empty_events, max: 1.5",
        "max",
        "whole number",
    );
    bad("type: reservoir_empty_events", "max", "is required");
    bad("type: request_failures, max: .inf", "max", "at least 0");
    bad(
        "type: max_physical_connections, max: -1",
        "max",
        "at least 0",
    );
    bad(
        "type: max_connects_per_sec, max: 2, pool: a",
        "pool",
        "counted cluster-wide",
    );
    bad("type: converge_within", "duration", "is required");
    bad(
        "type: request_failures, max: 0, duration: 1s",
        "duration",
        "does not apply",
    );
    bad(
        "type: request_failures, max: 0, stable_for: 1s",
        "stable_for",
        "does not apply",
    );
    bad(
        "type: request_failures, max: 0, percentile: 5",
        "percentile",
        "does not apply",
    );
    bad(
        "type: request_failures, max: 0, min_fraction: 0.5",
        "min_fraction",
        "does not apply",
    );
    bad("type: pool_at_size", "min_fraction", "is required");
    bad(
        "type: pool_at_size, min_fraction: 0",
        "min_fraction",
        "above 0 and at most 1",
    );
    bad(
        "type: pool_at_size, min_fraction: 1.01",
        "min_fraction",
        "above 0 and at most 1",
    );
    bad("type: wait_time, max: 1ms", "percentile", "is required");
    bad(
        "type: wait_time, percentile: 0, max: 1ms",
        "percentile",
        "above 0 and at most 100",
    );
    bad(
        "type: checkout_latency, percentile: 100.5, max: 1ms",
        "percentile",
        "above 0",
    );
    bad(
        "type: checkout_latency, percentile: 50",
        "max",
        "is required",
    );
    bad(
        "type: checkout_latency, percentile: 50, max: 5",
        "max",
        "must be a duration such as 1ms",
    );
    bad(
        "type: checkout_latency, percentile: 50, max: soon",
        "max",
        "soon",
    );
    // Several problems in one list are all reported, each at its index.
    let e = invalid(&format!(
        "{head}  - {{type: pool_at_size, min_fraction: 2}}\n  - {{type: request_failures, max: -1}}\n"
    ));
    assert!(
        e.contains("assertions[0].min_fraction") && e.contains("assertions[1].max"),
        "{e}"
    );
    // The boundaries that are valid.
    let ok = checks(
        "  - {type: reservoir_hits_ratio, min: 0}
  - {type: pool_at_size, min_fraction: 0.000001}
  - {type: wait_time, percentile: 0.001, max: 1h}
  - {type: checkout_latency, percentile: 100, max: 1ns}
",
    );
    assert_eq!(ok.len(), 4);
}

#[test]
fn problems_are_sorted_by_line_and_all_reported() {
    let e = invalid(
        "duration: 0\nsample_every: 0\npools:\n  - {name: a, target_size: 0}\nassertions:\n  - {type: pool_at_size, min_fraction: 5}\n",
    );
    let lines: Vec<usize> = e
        .lines()
        .map(|l| l.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    // One problem per key: duration, sample_every, target_size (its
    // derived target_ready is not reported again), min_fraction.
    assert_eq!(lines.len(), 4, "{e}");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{e}");
    assert_eq!(lines[0], 1);
    assert_eq!(*lines.last().unwrap(), 6);
}

#[test]
fn time_constants_used_above() {
    // Guard against a Time unit changing under these tests.
    let t: Time = SECOND;
    assert_eq!(t, 1_000_000_000);
}
