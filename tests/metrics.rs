//! Derived metrics (src/metrics.rs) on observations whose answer is known:
//! a real run's observations with samples and counters set by hand, so that
//! each function's comparisons (ties, `measure_after` and serving edges,
//! pool selection) are checked exactly.

mod common;
use poolsim::engine::{MILLISECOND, SECOND};
use poolsim::metrics::{self, LatencyMs};
use poolsim::model::world::{Observations, PoolCounters, SampleRow};

/// Observations of two idle reservoir pools (a: 2 connections, b: 4), run
/// for 10 s with samples every second.
fn two_pools() -> Observations {
    common::run(
        "
duration: 10s
pools:
  - {name: a, target_size: 2, staggered_startup: false, reservoir: {enabled: true}}
  - {name: b, target_size: 4, staggered_startup: false, reservoir: {enabled: true}}
",
    )
    .observations
}

/// Replace the samples by rows (t in seconds, pool, open) built on the
/// run's first row.
fn set_samples(obs: &mut Observations, rows: &[(u64, u32, u32)]) {
    let base = obs.samples[0];
    obs.samples = rows
        .iter()
        .map(|&(t, pool, open)| SampleRow {
            t: t * SECOND,
            pool,
            open,
            ..base
        })
        .collect();
}

#[test]
fn lowest_fill_takes_the_first_lowest_settled_sample() {
    let mut obs = two_pools();
    obs.pools[0].serving_since = Some(2 * SECOND);
    obs.pools[1].serving_since = Some(0);
    obs.measure_after = 3 * SECOND;
    set_samples(
        &mut obs,
        &[
            (0, 0, 0), // before serving and measure_after: ignored
            (0, 1, 0), // before measure_after: ignored
            (2, 0, 0), // a serves, but before measure_after
            (3, 0, 1), // 1 of 2 = 0.5 (settled: t == measure_after)
            (3, 1, 2), // 2 of 4 = 0.5: a tie, the first one stays
            (4, 0, 2),
            (4, 1, 1), // 1 of 4 = 0.25: the lowest
            (5, 0, 2),
            (5, 1, 1), // a tie with the lowest: the first stays
        ],
    );
    let low = metrics::lowest_fill(&obs, None).unwrap();
    assert_eq!(
        (low.pool, low.t, low.open, low.target),
        (1, 4 * SECOND, 1, 4)
    );
    assert_eq!(low.fraction, 0.25);
    let a = metrics::lowest_fill(&obs, Some(0)).unwrap();
    assert_eq!(
        (a.pool, a.t, a.open, a.target, a.fraction),
        (0, 3 * SECOND, 1, 2, 0.5)
    );
    let b = metrics::lowest_fill(&obs, Some(1)).unwrap();
    assert_eq!(b.t, 4 * SECOND);
    // open_range: the same settled samples, per pool.
    assert_eq!(metrics::open_range(&obs, 0), Some((1, 2)));
    assert_eq!(metrics::open_range(&obs, 1), Some((1, 2)));
    // A pool that never serves has no settled sample.
    obs.pools[0].serving_since = None;
    assert_eq!(metrics::open_range(&obs, 0), None);
    assert_eq!(metrics::lowest_fill(&obs, Some(0)), None);
    // Serving from exactly a sample's instant counts that sample.
    obs.pools[0].serving_since = Some(5 * SECOND);
    assert_eq!(metrics::open_range(&obs, 0), Some((2, 2)));
    obs.pools[0].serving_since = Some(5 * SECOND + 1);
    assert_eq!(metrics::open_range(&obs, 0), None);
}

#[test]
fn open_range_is_min_and_max_of_the_settled_samples() {
    let mut obs = two_pools();
    obs.pools[0].serving_since = Some(0);
    obs.measure_after = 0;
    set_samples(
        &mut obs,
        &[(0, 0, 5), (1, 0, 3), (2, 0, 9), (3, 0, 4), (3, 1, 100)],
    );
    assert_eq!(metrics::open_range(&obs, 0), Some((3, 9)));
    obs.measure_after = 2 * SECOND;
    assert_eq!(metrics::open_range(&obs, 0), Some((4, 9)));
    obs.measure_after = 2 * SECOND + 1;
    assert_eq!(metrics::open_range(&obs, 0), Some((4, 4)));
}

#[test]
fn busiest_second_is_the_first_maximum_from_measure_after() {
    let mut obs = two_pools();
    obs.connects_per_second = vec![7, 3, 9, 2, 9, 1];
    obs.measure_after = 0;
    assert_eq!(metrics::busiest_second(&obs), Some((2, 9)));
    assert_eq!(metrics::max_connects_per_sec(&obs), 9);
    obs.measure_after = 2 * SECOND;
    assert_eq!(metrics::busiest_second(&obs), Some((2, 9)));
    obs.measure_after = 2 * SECOND + 1;
    assert_eq!(metrics::busiest_second(&obs), Some((4, 9)));
    obs.measure_after = 5 * SECOND;
    assert_eq!(metrics::busiest_second(&obs), Some((5, 1)));
    obs.connects_per_second = vec![0, 0];
    obs.measure_after = 0;
    assert_eq!(metrics::busiest_second(&obs), Some((0, 0)));
    obs.measure_after = 3 * SECOND;
    assert_eq!(metrics::busiest_second(&obs), None);
    assert_eq!(metrics::max_connects_per_sec(&obs), 0);
}

/// Distinct counters for pool `i` (every summed field a different number).
fn counters(i: u64) -> PoolCounters {
    let mut c = PoolCounters::default();
    let k = |n: u64| n * 100 + i;
    c.requests = k(1);
    c.hits = k(2);
    c.hits_after_wait = k(3);
    c.failures = k(4);
    c.rejected_before_ready = k(5);
    c.completed = k(6);
    c.waited = k(7);
    c.created = k(8);
    c.server_closed = k(9);
    c.bad_conns = k(10);
    c.failed = [k(11), k(12), k(13), k(14), k(48)];
    c.lost_connections = k(49);
    c.rebuilds = k(50);
    c.rebuilds_throttled = k(51);
    c.connect_failures = k(52);
    c.fill_timeouts = k(53);
    c.closed_by_shutdown = k(54);
    c.open_failures = [k(15), k(16), k(17), k(18)];
    c.sql.closes = [k(19), k(20), k(21), k(22)];
    c.sql.opens = k(23);
    c.sql.waits = k(24);
    c.reservoir.checkouts = k(25);
    c.reservoir.empty_events = k(26);
    for (j, d) in c.reservoir.discards.iter_mut().enumerate() {
        *d = k(27 + j as u64);
    }
    c.refiller.refills = k(40);
    c.refiller.failures = [k(41), k(42), k(43), k(44)];
    c.driver.connects = k(45);
    c.driver.limiter_waits = k(46);
    c.driver.limiter_wait_ns = k(47);
    c
}

#[test]
fn total_adds_up_the_selected_pools() {
    let mut obs = two_pools();
    obs.pools[0].counters = counters(1);
    obs.pools[1].counters = counters(2);
    let t = metrics::total(&obs, None);
    // Every summed field: (n*100 + 1) + (n*100 + 2) = n*200 + 3.
    let s = |n: u64| n * 200 + 3;
    assert_eq!(
        (
            t.requests,
            t.hits,
            t.hits_after_wait,
            t.failures,
            t.rejected_before_ready
        ),
        (s(1), s(2), s(3), s(4), s(5))
    );
    assert_eq!(
        (
            t.completed,
            t.waited,
            t.created,
            t.server_closed,
            t.bad_conns
        ),
        (s(6), s(7), s(8), s(9), s(10))
    );
    assert_eq!(t.failed, [s(11), s(12), s(13), s(14), s(48)]);
    assert_eq!(
        (
            t.lost_connections,
            t.rebuilds,
            t.rebuilds_throttled,
            t.connect_failures,
            t.fill_timeouts,
            t.closed_by_shutdown
        ),
        (s(49), s(50), s(51), s(52), s(53), s(54))
    );
    assert_eq!(t.open_failures, [s(15), s(16), s(17), s(18)]);
    assert_eq!(t.sql.closes, [s(19), s(20), s(21), s(22)]);
    assert_eq!((t.sql.opens, t.sql.waits), (s(23), s(24)));
    assert_eq!(
        (t.reservoir.checkouts, t.reservoir.empty_events),
        (s(25), s(26))
    );
    for (j, &d) in t.reservoir.discards.iter().enumerate() {
        assert_eq!(d, s(27 + j as u64), "discard {j}");
    }
    assert_eq!(t.refiller.refills, s(40));
    assert_eq!(t.refiller.failures, [s(41), s(42), s(43), s(44)]);
    assert_eq!(
        (
            t.driver.connects,
            t.driver.limiter_waits,
            t.driver.limiter_wait_ns
        ),
        (s(45), s(46), s(47))
    );
    // One pool: its own counters, field for field.
    for i in 0..2 {
        let one = metrics::total(&obs, Some(i));
        let c = counters(i as u64 + 1);
        assert_eq!(
            (
                one.requests,
                one.failed,
                one.driver.limiter_wait_ns,
                one.reservoir.discards
            ),
            (
                c.requests,
                c.failed,
                c.driver.limiter_wait_ns,
                c.reservoir.discards
            )
        );
    }
}

#[test]
fn counters_by_name_map_each_index_to_its_label() {
    let c = counters(1);
    let d = metrics::discards_by_reason(&c);
    let names = [
        "expired_on_checkout",
        "insufficient_remaining_lifetime",
        "expired_on_wait",
        "insufficient_remaining_lifetime_on_wait",
        "expired_on_return",
        "insufficient_remaining_lifetime_on_return",
        "reservoir_full",
        "expired_on_scan",
        "expiring_soon_on_scan",
    ];
    assert_eq!(d.len(), 9);
    for (j, n) in names.iter().enumerate() {
        assert_eq!(d[n], c.reservoir.discards[j], "{n}");
    }
    let f = metrics::refill_failures_by_reason(&c);
    for (j, n) in [
        "lease_acquire",
        "rate_limit",
        "token_provider",
        "connection_open",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(f[n], c.open_failures[j], "{n}");
    }
    let f = metrics::failures_by_cause(&c);
    for (j, n) in ["deadline", "no_connection", "open_failed", "bad_conn"]
        .iter()
        .enumerate()
    {
        assert_eq!(f[n], c.failed[j], "{n}");
    }
    let f = metrics::closes_by_cause(&c);
    for (j, n) in ["lifetime", "idle_time", "max_idle", "bad"]
        .iter()
        .enumerate()
    {
        assert_eq!(f[n], c.sql.closes[j], "{n}");
    }
}

#[test]
fn failures_text_lists_the_nonzero_causes_in_order() {
    let mut c = PoolCounters::default();
    assert_eq!(metrics::failures_text(&c), "none");
    c.failed = [3, 0, 1, 0, 0];
    assert_eq!(metrics::failures_text(&c), "3 deadline, 1 open_failed");
    c.failed = [0, 0, 0, 2, 0];
    assert_eq!(metrics::failures_text(&c), "2 bad_conn");
    c.failed = [1, 1, 1, 1, 1];
    assert_eq!(
        metrics::failures_text(&c),
        "1 deadline, 1 no_connection, 1 open_failed, 1 bad_conn, 1 unavailable"
    );
}

#[test]
fn hit_ratio_is_rounded_and_absent_without_requests() {
    let mut c = PoolCounters::default();
    assert_eq!(metrics::hit_ratio(&c), None);
    c.requests = 3;
    c.hits = 2;
    assert_eq!(metrics::hit_ratio(&c), Some(0.666667));
    c.hits = 3;
    assert_eq!(metrics::hit_ratio(&c), Some(1.0));
    c.hits = 0;
    assert_eq!(metrics::hit_ratio(&c), Some(0.0));
    assert_eq!(metrics::round6(0.1234565), 0.123457);
    assert_eq!(metrics::round6(-2.5e-7), -0.0);
    assert_eq!(metrics::round6(1234.0000004), 1234.0);
    assert_eq!(metrics::ns_to_ms(1_500_000), 1.5);
    assert_eq!(metrics::ns_to_ms(1), 1e-6);
}

#[test]
fn latency_from_a_histogram_never_reports_more_than_the_exact_max() {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
    assert_eq!(
        LatencyMs::from_histogram(&h, 0),
        LatencyMs {
            mean: 0.0,
            p50: 0.0,
            p99: 0.0,
            max: 0.0
        }
    );
    // 98 zeros, one 10 ms, one 123.456789 ms (rounded up to its bucket in
    // the histogram; the exact max caps it).
    for _ in 0..98 {
        h.record(0).unwrap();
    }
    h.record(10 * MILLISECOND).unwrap();
    h.record(123_456_789).unwrap();
    let l = LatencyMs::from_histogram(&h, 123_456_789);
    assert_eq!(l.p50, 0.0);
    assert_eq!(l.max, 123.456789);
    assert!(l.p99 >= 10.0 && l.p99 <= 10.01, "{l:?}");
    // The mean is the histogram's, in ms, to 6 decimals (3 significant
    // digits per value: within 0.1% of 1.3345679 ms).
    assert!((l.mean - 1.3345679).abs() < 0.0014, "{l:?}");
    assert_eq!(l.mean, metrics::round6(l.mean));
    // One value: every percentile is it, capped at the exact max.
    let mut one = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
    one.record(100_000_001).unwrap();
    let l = LatencyMs::from_histogram(&one, 100_000_001);
    assert_eq!((l.p50, l.p99, l.max), (100.000001, 100.000001, 100.000001));
}

#[test]
fn merged_latency_selects_pools() {
    let mut obs = two_pools();
    obs.pools[0]
        .checkout_latency
        .record(5 * MILLISECOND)
        .unwrap();
    obs.pools[0].checkout_latency_max_ns = 5 * MILLISECOND;
    obs.pools[1]
        .checkout_latency
        .record(7 * MILLISECOND)
        .unwrap();
    obs.pools[1]
        .checkout_latency
        .record(9 * MILLISECOND)
        .unwrap();
    obs.pools[1].checkout_latency_max_ns = 9 * MILLISECOND;
    assert_eq!(metrics::merged_latency(&obs, None).len(), 3);
    assert_eq!(metrics::merged_latency(&obs, Some(0)).len(), 1);
    assert_eq!(metrics::merged_latency(&obs, Some(1)).len(), 2);
    assert_eq!(metrics::merged_latency_max(&obs, None), 9 * MILLISECOND);
    assert_eq!(metrics::merged_latency_max(&obs, Some(0)), 5 * MILLISECOND);
    assert_eq!(metrics::merged_latency_max(&obs, Some(1)), 9 * MILLISECOND);
}

#[test]
fn pool_summary_reports_the_pools_own_figures() {
    let mut obs = two_pools();
    obs.pools[1].counters = counters(2);
    obs.pools[1].serving_since = Some(1_500_000_001);
    obs.pools[1].fill_timed_out = true;
    obs.pools[1].peak_open = 17;
    let s = metrics::PoolSummary::new(&obs, 1);
    let c = counters(2);
    assert_eq!(s.name, "b");
    assert_eq!(s.stack, "direct");
    assert_eq!((s.target_size, s.target_ready, s.low_watermark), (4, 4, 4));
    assert_eq!(
        (s.requests, s.hits, s.hits_after_wait, s.failures, s.waited),
        (c.requests, c.hits, c.hits_after_wait, c.failures, c.waited)
    );
    assert_eq!(s.empty_events, c.reservoir.empty_events);
    assert_eq!(s.checkouts, c.reservoir.checkouts);
    assert_eq!(s.opens, c.created);
    assert_eq!(
        (s.server_closed, s.bad_conns),
        (c.server_closed, c.bad_conns)
    );
    assert_eq!(s.rejected_before_ready, c.rejected_before_ready);
    assert_eq!(
        (s.connects, s.refills),
        (c.driver.connects, c.refiller.refills)
    );
    assert_eq!(s.limiter_waits, c.driver.limiter_waits);
    assert_eq!(s.serving_since_s, Some(1.500000001));
    assert!(s.initial_fill_timed_out);
    assert_eq!(s.open_peak, 17);
    assert_eq!(s.failures_by_cause["open_failed"], c.failed[2]);
    assert_eq!(s.closes["max_idle"], c.sql.closes[2]);
    assert_eq!(s.refill_failures["token_provider"], c.open_failures[2]);
    assert_eq!(s.hit_ratio, metrics::hit_ratio(&c));
    assert_eq!(s.wait_ms, s.checkout_latency_ms);
}
