//! Invariants over randomly generated scenarios.

mod common;
use poolsim::engine::SECOND;
use poolsim::model::world::simulate_checked;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Params {
    pools: Vec<(u32, u32, u64, u64)>, // target, low watermark, lifetime s, guard s
    rate: f64,
    hold_ms: u64,
    limit: u32,
    lease_limit: u32,
    max_conns: u32,
    token_fail: f64,
    seed: u64,
    limiter: &'static str,
    stack: &'static str,
    sql: (u32, u64, u64, u64, bool, bool, u64), // max_idle, lifetime s, idle s, timeout ms, warmup, keeper, server age s
}

fn params() -> impl Strategy<Value = Params> {
    (
        prop::collection::vec((1u32..40, 0u32..40, 5u64..120, 1u64..5), 1..4),
        1.0f64..300.0,
        1u64..2000,
        1u32..200,
        1u32..150,
        1u32..150,
        0.0f64..0.3,
        any::<u64>(),
        prop::sample::select(vec!["what_if_token_bucket", "per_second", "fixed_window"]),
        prop::sample::select(vec!["direct", "database_sql", "pool"]),
        (
            0u32..40,
            0u64..60,
            0u64..30,
            1u64..5000,
            any::<bool>(),
            any::<bool>(),
            0u64..80,
        ),
    )
        .prop_map(
            |(
                pools,
                rate,
                hold_ms,
                limit,
                lease_limit,
                max_conns,
                token_fail,
                seed,
                limiter,
                stack,
                sql,
            )| {
                Params {
                    pools,
                    rate,
                    hold_ms,
                    limit,
                    lease_limit,
                    max_conns,
                    token_fail,
                    seed,
                    limiter,
                    stack,
                    sql,
                }
            },
        )
}

fn yaml(p: &Params) -> String {
    let (max_idle, life, idle, timeout, warmup, keeper, age) = p.sql;
    let mut y = format!(
        "seed: {}\nduration: 90s\nglobal_rate_limit: {}\nglobal_rate_limiter: {}\nlease_table: {{limit: {}}}\ncluster: {{max_connections: {}, max_connection_age: {age}s}}\ntoken_failure_rate: {}\nworkload: {{type: constant, checkout_rate: {}, hold_duration: {}ms, hold_distribution: exponential}}\npool: {{max_lifetime: {life}s, max_idle_time: {idle}s, request_timeout: {timeout}ms, warmup: {warmup}, keeper: {keeper}}}\npools:\n",
        p.seed, p.limit, p.limiter, p.lease_limit, p.max_conns, p.token_fail, p.rate, p.hold_ms
    );
    for (i, (target, low, life, guard)) in p.pools.iter().enumerate() {
        let reservoir = match p.stack {
            "pool" => "enabled: false",
            "database_sql" => "enabled: true, stack: database_sql",
            _ => "enabled: true",
        };
        y.push_str(&format!(
            "  - {{name: p{i}, target_size: {target}, pool: {{max_idle: {}}}, reservoir: {{{reservoir}, low_watermark: {}, base_lifetime: {life}s, jitter: 3s, guard_window: {}s}}}}\n",
            max_idle.min(*target),
            low.min(target),
            guard.min(&(life - 1)).max(&1)
        ));
    }
    y
}

/// Cases per property: 256 by default (about 10 s for both in release on
/// 2 cores), `PROPTEST_CASES=N` for more (or fewer).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    /// Every connection is in exactly one place, the cluster and the lease
    /// table agree with the client, checked every 100 ms of simulated time.
    #[test]
    fn connections_are_always_accounted_for(p in params()) {
        let sc = common::scenario(&yaml(&p));
        let r = simulate_checked(&sc.world, Some(SECOND / 10));
        prop_assert!(r.is_ok(), "{}", r.err().unwrap());
    }

    /// The client limiter is never exceeded in any calendar second, and every
    /// request has exactly one outcome (or is still waiting at the end).
    #[test]
    fn limits_hold_and_requests_are_conserved(p in params()) {
        let o = common::run(&yaml(&p));
        for (s, &c) in o.observations.connects_per_second.iter().enumerate() {
            prop_assert!(c <= p.limit, "second {}: {} connects > {}", s, c, p.limit);
        }
        prop_assert!(o.summary.cluster.peak_connections <= p.max_conns);
        // Every connect attempt is some pool's; every refusal and every
        // denied lease is some pool's failed open.
        let cl = &o.summary.cluster;
        let pools = &o.summary.pools;
        let sum = |f: &dyn Fn(&poolsim::metrics::PoolSummary) -> u64| pools.iter().map(f).sum::<u64>();
        prop_assert_eq!(cl.connects, sum(&|q| q.connects));
        prop_assert_eq!(cl.lease_denials, sum(&|q| q.refill_failures["lease_acquire"]));
        // (A refused connect fails when its connect would have ended, which
        // can be after the run: at most one physical open in flight per
        // refiller, the current one and each a pool rebuild leaked, and
        // MaxOpen per sql.DB of a plain pool, the current one and each a
        // rebuild replaced.)
        let in_flight = sum(&|q| {
            if q.stack == "pool" {
                u64::from(q.target_size) * (1 + q.rebuilds)
            } else {
                1 + u64::from(q.leaked_refillers)
            }
        });
        prop_assert!(
            cl.refused_rate_limit + cl.refused_max_connections
                <= sum(&|q| q.refill_failures["connection_open"]) + in_flight,
            "refused {} + {}, connection_open failures {}, in flight {}; pools {:?}",
            cl.refused_rate_limit, cl.refused_max_connections,
            sum(&|q| q.refill_failures["connection_open"]), in_flight,
            pools.iter().map(|q| (q.rebuilds, q.leaked_refillers, q.connect_failures, q.fill_timeouts, &q.refill_failures)).collect::<Vec<_>>()
        );
        prop_assert!(sum(&|q| q.opens) + cl.refused_rate_limit + cl.refused_max_connections <= cl.connects);
        prop_assert_eq!(cl.max_connects_per_sec, o.summary.max_connects_per_sec);
        let last = &o.observations.samples[o.observations.samples.len() - o.summary.pools.len()..];
        for (pool, row) in o.summary.pools.iter().zip(last) {
            let done = pool.hits + pool.hits_after_wait + pool.failures;
            prop_assert_eq!(pool.requests, done + row.waiting as u64);
            let by_cause: u64 = pool.failures_by_cause.values().sum();
            prop_assert_eq!(by_cause, pool.failures);
            // Who waited: every request served after a wait, some failures
            // (and requests still waiting); an immediate hit never.
            prop_assert!(pool.waited >= pool.hits_after_wait);
            prop_assert!(pool.waited + pool.hits <= pool.requests);
            if let (Some(lo), Some(hi)) = (pool.open_min, pool.open_max) {
                prop_assert!(lo <= hi && hi <= pool.open_peak);
            }
            prop_assert!(pool.wait_ms.p50 <= pool.wait_ms.p99 && pool.wait_ms.p99 <= pool.wait_ms.max);
            if p.stack == "direct" {
                // One TryCheckout and at most one brief wait (100 ms).
                prop_assert!(pool.wait_ms.max <= 100.0, "{}", pool.wait_ms.max);
                prop_assert_eq!(pool.opens, pool.refills);
            }
            if p.stack == "direct" {
                // Every failure but a server-closed connection is an empty event.
                prop_assert!(
                    pool.empty_events >= pool.failures - pool.failures_by_cause["bad_conn"]
                );
            }
            // MaxOpen caps what each sql.DB holds; each reservoir holds at
            // most target_ready (direct mode has no cap on connections out).
            // A rebuild builds another of each, and the old reservoir lives on.
            let dbs = (pool.rebuilds + 1) as u32;
            match p.stack {
                "pool" => prop_assert!(pool.open_peak <= pool.target_size * dbs),
                "database_sql" => prop_assert!(
                    pool.open_peak <= (pool.target_size + pool.target_ready) * dbs
                ),
                _ => {}
            }
        }
    }
}
