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

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

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
        let last = &o.observations.samples[o.observations.samples.len() - o.summary.pools.len()..];
        for (pool, row) in o.summary.pools.iter().zip(last) {
            let done = pool.hits + pool.hits_after_wait + pool.failures;
            prop_assert_eq!(pool.requests, done + row.waiting as u64);
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
