//! A fuzz harness that stays: scenarios generated across the whole schema,
//! values near the limits included. Whatever validation accepts must run to
//! its end (exit 0 or 1, never an engine stop), within the event count the
//! validation's estimate allows, deterministically, with every connection
//! accounted for; whatever it refuses must be refused with a located message.
//!
//! Cases: `POOLSIM_FUZZ_CASES` (default 64, under a second); for a long run,
//! e.g. `POOLSIM_FUZZ_CASES=5000 cargo test --release --test fuzz`.

mod common;

use poolsim::engine::SECOND;
use poolsim::model::world::simulate_checked;
use poolsim::scenario::{self, budget};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Runs whose estimate is above this many events are validated but not run
/// here (they are valid, just slow for a test).
const RUN_EVENT_CAP: f64 = 3.0e6;

fn cases() -> u32 {
    std::env::var("POOLSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A duration as YAML text, some of them at or past the limits.
fn dur(max_s: u64) -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (1..=max_s).prop_map(|s| format!("{s}s")),
        8 => (1u64..=999).prop_map(|ms| format!("{ms}ms")),
        1 => prop::sample::select(vec![
            "0".to_string(), "1ns".into(), "999us".into(), "1ms".into(), "720h".into(), "721h".into(), "61s".into()
        ]),
    ]
}

fn rate() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (1u32..400).prop_map(|r| r.to_string()),
        8 => (1u32..1000).prop_map(|r| format!("0.{r:03}")),
        1 => prop::sample::select(vec![
            "1e-12".to_string(), "0.0004".into(), "0.0005".into(), "0.001".into(), "1e6".into(),
            "1000001".into(), "0".into(), "-1".into(), ".nan".into(), ".inf".into(), "\"5\"".into()
        ]),
    ]
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![1 => Just(None), 2 => s.prop_map(Some)]
}

fn latency() -> impl Strategy<Value = String> {
    prop_oneof![
        dur(2),
        (1u64..80).prop_map(|m| format!("{{distribution: exponential, mean: {m}ms}}")),
        (1u64..40, 40u64..90)
            .prop_map(|(a, b)| format!("{{distribution: uniform, min: {a}ms, max: {b}ms}}")),
        (1u64..60, 0.0f64..3.5)
            .prop_map(|(m, s)| format!("{{distribution: lognormal, mean: {m}ms, sigma: {s:.2}}}")),
        Just("{distribution: fixed, value: 5ms}".to_string()),
    ]
}

fn workload() -> impl Strategy<Value = String> {
    let hold = prop_oneof![
        Just(String::new()),
        dur(3).prop_map(|d| format!(", hold_duration: {d}")),
        (
            1u64..500,
            prop::sample::select(vec!["fixed", "uniform", "exponential", "lognormal"])
        )
            .prop_map(|(ms, k)| format!(", hold_duration: {ms}ms, hold_distribution: {k}")),
    ];
    let arrival = prop::sample::select(vec!["", ", arrival: uniform", ", arrival: poisson"]);
    prop_oneof![
        (rate(), hold.clone(), arrival.clone()).prop_map(|(r, h, a)| format!(
            "{{type: constant, checkout_rate: {r}{h}{a}}}"
        )),
        (rate(), rate(), dur(3), (4u64..40).prop_map(|s| format!("{s}s")), opt(dur(20)), hold, arrival).prop_map(
            |(b, r, d, i, first, h, a)| format!(
                "{{type: burst, baseline_rate: {b}, burst_rate: {r}, burst_duration: {d}, burst_interval: {i}{}{h}{a}}}",
                first.map_or(String::new(), |f| format!(", first_burst_at: {f}"))
            )
        ),
    ]
}

fn pool() -> impl Strategy<Value = String> {
    let reservoir = (
        any::<bool>(),
        prop::sample::select(vec!["direct", "database_sql"]),
        opt(1u32..12),
        opt(0u32..12),
        opt((40u64..200).prop_map(|s| format!("{s}s"))),
        opt(dur(30)),
        opt(dur(2)),
    )
        .prop_map(|(en, st, tr, lw, bl, gw, ew)| {
            let mut r = format!("{{enabled: {en}, stack: {st}");
            if let Some(v) = tr {
                r += &format!(", target_ready: {v}");
            }
            if let Some(v) = lw {
                r += &format!(", low_watermark: {v}");
            }
            if let Some(v) = bl {
                r += &format!(", base_lifetime: {v}");
            }
            if let Some(v) = gw {
                r += &format!(", guard_window: {v}");
            }
            if let Some(v) = ew {
                r += &format!(", empty_wait: {v}");
            }
            r + "}"
        });
    let sql = (
        opt(0u32..3),
        opt(dur(60)),
        opt(dur(20)),
        any::<bool>(),
        any::<bool>(),
        opt(dur(5)),
    )
        .prop_map(|(mi, ml, mit, w, k, rt)| {
            let mut s = format!("{{warmup: {w}, keeper: {k}");
            if let Some(v) = mi {
                s += &format!(", max_idle: {v}");
            }
            if let Some(v) = ml {
                s += &format!(", max_lifetime: {v}");
            }
            if let Some(v) = mit {
                s += &format!(", max_idle_time: {v}");
            }
            if let Some(v) = rt {
                s += &format!(", request_timeout: {v}");
            }
            s + "}"
        });
    (
        prop_oneof![30 => 1u32..12, 1 => Just(0u32)],
        opt(reservoir),
        opt(workload()),
        opt(sql),
        opt(rate()),
        opt(any::<bool>()),
        opt(latency()),
    )
        .prop_map(|(ts, r, w, sql, lr, stagger, lat)| {
            let mut p = format!("target_size: {ts}");
            for (k, v) in [
                ("reservoir", r),
                ("workload", w),
                ("pool", sql),
                ("local_rate_limit", lr),
                ("staggered_startup", stagger.map(|b| b.to_string())),
                ("connect_latency", lat),
            ] {
                if let Some(v) = v {
                    p += &format!(", {k}: {v}");
                }
            }
            p
        })
}

fn assertion() -> impl Strategy<Value = String> {
    prop_oneof![
        (0.0f64..1.02).prop_map(|m| format!("{{type: reservoir_hits_ratio, min: {m:.2}}}")),
        (0u32..20).prop_map(|m| format!("{{type: reservoir_empty_events, max: {m}}}")),
        (0u32..200).prop_map(|m| format!("{{type: max_connects_per_sec, max: {m}}}")),
        (dur(60), opt(dur(10))).prop_map(|(d, s)| format!(
            "{{type: converge_within, duration: {d}{}}}",
            s.map_or(String::new(), |s| format!(", stable_for: {s}"))
        )),
        (0.01f64..100.2, dur(2))
            .prop_map(|(p, m)| format!("{{type: checkout_latency, percentile: {p:.1}, max: {m}}}")),
        (1.0f64..100.0, dur(2))
            .prop_map(|(p, m)| format!("{{type: wait_time, percentile: {p:.1}, max: {m}}}")),
        (0u32..10).prop_map(|m| format!("{{type: request_failures, max: {m}}}")),
        (0.01f64..1.02).prop_map(|f| format!("{{type: pool_at_size, min_fraction: {f:.2}}}")),
        (0u32..50).prop_map(|m| format!("{{type: max_physical_connections, max: {m}, pool: p0}}")),
    ]
}

fn scenario_yaml() -> impl Strategy<Value = String> {
    let top = (
        any::<u64>(),
        dur(90),
        opt(dur(2)),
        opt(prop::sample::select(vec![
            "\"2026-01-01T00:00:00Z\"",
            "\"2554-07-21T23:33:00Z\"",
            "\"2554-07-21T23:34:33Z\"",
            "\"1970-01-01T00:00:00Z\"",
        ])),
        opt((
            rate(),
            prop::sample::select(vec!["what_if_token_bucket", "per_second", "fixed_window"]),
        )),
        opt(latency()),
        opt(prop::sample::select(vec!["0", "0.1", "0.99", "1"])),
        opt((
            prop_oneof![20 => 1u32..30, 1 => Just(0u32)],
            rate(),
            prop_oneof![20 => 1u32..5, 1 => Just(0u32)],
            dur(120),
        )),
        opt(dur(3)),
        opt(workload()),
    );
    (
        top,
        prop::collection::vec(pool(), 1..4),
        prop::collection::vec(assertion(), 0..4),
        opt(prop_oneof![20 => 1u32..20, 1 => Just(0u32)]),
    )
        .prop_map(|((seed, d, se, st, gl, lat, tf, cl, ma, wl), pools, asserts, lease)| {
            let mut y = format!("seed: {seed}\nduration: {d}\n");
            if let Some(v) = se {
                y += &format!("sample_every: {v}\n");
            }
            if let Some(v) = st {
                y += &format!("start_time: {v}\n");
            }
            if let Some((r, k)) = gl {
                y += &format!("global_rate_limit: {r}\nglobal_rate_limiter: {k}\n");
            }
            if let Some(v) = lat {
                y += &format!("connect_latency: {v}\n");
            }
            if let Some(v) = tf {
                y += &format!("token_failure_rate: {v}\n");
            }
            if let Some((mc, cr, cb, age)) = cl {
                y += &format!("cluster: {{max_connections: {mc}, connect_rate: {cr}, connect_burst: {cb}, max_connection_age: {age}}}\n");
            }
            if let Some(v) = lease {
                y += &format!("lease_table: {{limit: {v}}}\n");
            }
            if let Some(v) = ma {
                y += &format!("measure_after: {v}\n");
            }
            if let Some(v) = wl {
                y += &format!("workload: {v}\n");
            }
            y += "pools:\n";
            for (i, p) in pools.iter().enumerate() {
                y += &format!("  - {{name: p{i}, {p}}}\n");
            }
            if !asserts.is_empty() {
                y += "assertions:\n";
                for a in asserts {
                    y += &format!("  - {a}\n");
                }
            }
            y
        })
}

proptest! {
    #![proptest_config(Config { cases: cases(), ..Config::default() })]

    #[test]
    fn accepted_scenarios_run_to_the_end_deterministically(yaml in scenario_yaml()) {
        match scenario::parse(&yaml, "s.yaml", "s") {
            Err(e) => {
                // Refused: every problem is located (file:line or file) and says something.
                let text = e.to_string();
                prop_assert!(!e.problems.is_empty());
                for line in text.lines() {
                    prop_assert!(line.starts_with("s.yaml"), "{}\n{}", text, yaml);
                    prop_assert!(line.len() > "s.yaml: ".len() + 5);
                }
            }
            Ok(sc) => {
                let w = &sc.world;
                let requests = budget::expected_requests(w);
                let estimate = budget::events(w, requests);
                prop_assert!(estimate <= w.limits.max_events as f64);
                prop_assert!(budget::memory(w, 0.0).run_total() <= budget::MEMORY_BUDGET);
                if estimate > RUN_EVENT_CAP {
                    return Ok(());
                }
                // Invariants checked every simulated second; no engine stop.
                let obs = simulate_checked(w, Some(SECOND))
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
                // Within the validation's event estimate (with room for the
                // randomness of a short run).
                let bound = 2.0 * estimate + 10_000.0;
                prop_assert!(obs.events_processed as f64 <= bound,
                    "{} events, estimate {}\n{}", obs.events_processed, estimate, yaml);
                // Requests within the expected count (Poisson slack).
                let arrived: u64 = obs.pools.iter()
                    .map(|p| p.counters.requests + p.counters.rejected_before_ready).sum();
                prop_assert!(arrived as f64 <= requests + 6.0 * requests.sqrt() + 10.0,
                    "{} arrivals, expected {}\n{}", arrived, requests, yaml);
                // Deterministic, through the whole summary; the exit code is 0 or 1.
                let a = poolsim::run::run(&sc).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let b = poolsim::run::run(&sc).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(a.summary.to_json(), b.summary.to_json());
                prop_assert_eq!(
                    poolsim::report::csv::timeseries_csv(&a.observations, sc.start_unix_ns),
                    poolsim::report::csv::timeseries_csv(&b.observations, sc.start_unix_ns)
                );
                prop_assert_eq!(a.observations.events_processed, obs.events_processed);
                // The exit code (0 or 1) is whether every assertion passed, and an
                // assertion with nothing observed never passes.
                prop_assert_eq!(a.passed(), a.assertions.iter().all(|r| r.passed));
                for r in &a.assertions {
                    prop_assert!(r.observed.is_some() || !r.passed, "{:?}", r);
                }
            }
        }
    }
}
