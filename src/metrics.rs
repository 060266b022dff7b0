//! Derived metrics: what a run's [`Observations`] mean, per pool and overall.
//!
//! This is the data behind `summary.json` (schema in README.md) and the
//! printed summary. Latencies are reported in milliseconds from an
//! hdrhistogram with nanosecond resolution (3 significant digits).

use crate::engine::Time;
use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::{FailCause, Observations, PoolCounters, PoolOutcome};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LatencyMs {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Nanoseconds to milliseconds.
pub fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl LatencyMs {
    /// From a histogram of nanoseconds and the exact maximum (all zeros when it is empty).
    pub fn from_histogram(h: &Histogram<u64>, max_ns: u64) -> Self {
        if h.is_empty() {
            return LatencyMs {
                mean: 0.0,
                p50: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        LatencyMs {
            mean: round6(h.mean() / 1e6),
            p50: ns_to_ms(h.value_at_quantile(0.5).min(max_ns)),
            p99: ns_to_ms(h.value_at_quantile(0.99).min(max_ns)),
            max: ns_to_ms(max_ns),
        }
    }
}

/// Round to 6 decimals (keeps JSON short and stable).
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// One pool's summary (a `pools[]` entry of summary.json).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PoolSummary {
    /// Pool name.
    pub name: String,
    /// How requests get connections: `direct`, `database_sql` or `pool`.
    pub stack: &'static str,
    /// target_size (MaxOpen).
    pub target_size: u32,
    /// Requests served (after the pool took traffic).
    pub requests: u64,
    /// Immediate hits.
    pub hits: u64,
    /// Hits during the brief wait.
    pub hits_after_wait: u64,
    /// Immediate hits / requests (null without requests).
    pub hit_ratio: Option<f64>,
    /// Failed TryCheckouts.
    pub empty_events: u64,
    /// Requests that got no connection.
    pub failures: u64,
    /// Failed requests by cause (`deadline`, `no_connection`, `open_failed`, `bad_conn`).
    pub failures_by_cause: BTreeMap<&'static str, u64>,
    /// Requests that waited at all (served or not).
    pub waited: u64,
    /// Wait of every request until it had a connection or gave up.
    pub wait_ms: LatencyMs,
    /// Latency of served requests: wait + hold.
    pub request_latency_ms: LatencyMs,
    /// Physical connections this pool created.
    pub opens: u64,
    /// database/sql closes by cause (`lifetime`, `idle_time`, `max_idle`, `bad`).
    pub closes: BTreeMap<&'static str, u64>,
    /// Connections the server closed at its age limit (60 min).
    pub server_closed: u64,
    /// Uses of a connection the server had closed (bad connections).
    pub bad_conns: u64,
    /// Fewest physical connections at a sample once serving (and after measure_after).
    pub open_min: Option<u32>,
    /// Most physical connections at a sample once serving (and after measure_after).
    pub open_max: Option<u32>,
    /// Most physical connections at once over the whole run (exact).
    pub open_peak: u32,
    /// Requests refused before the pool took traffic.
    pub rejected_before_ready: u64,
    /// Successful checkouts.
    pub checkouts: u64,
    /// Connect attempts this pool sent to the cluster.
    pub connects: u64,
    /// Connections created.
    pub refills: u64,
    /// Discards by reason (all reasons, zeros included).
    pub discards: BTreeMap<&'static str, u64>,
    /// Failed opens by reason (all reasons, zeros included).
    pub refill_failures: BTreeMap<&'static str, u64>,
    /// Opens that waited on the rate limiter.
    pub limiter_waits: u64,
    /// The reservoir driver's `Open()` calls, failures included: production's
    /// `dsql_reservoir_checkout_latency_milliseconds` (zeros for a plain pool,
    /// which has no reservoir). Not the request's wait: that is `wait_ms`.
    pub checkout_latency_ms: LatencyMs,
    /// target_ready.
    pub target_ready: u32,
    /// low_watermark.
    pub low_watermark: u32,
    /// When the pool took traffic, seconds (null: never).
    pub serving_since_s: Option<f64>,
    /// Whether the initial fill hit its timeout.
    pub initial_fill_timed_out: bool,
    /// Requests that failed with a lost connection (`driver.ErrBadConn`
    /// after every retry), each a forced reconnect of the handle.
    pub lost_connections: u64,
    /// Rebuilds of the handle's `sql.DB` (connects after the first).
    pub rebuilds: u64,
    /// Reconnects refused: the last connect started under 1 s before.
    pub rebuilds_throttled: u64,
    /// Connects that failed (the startup ping failed).
    pub connect_failures: u64,
    /// Initial fills that timed out (the first, or a rebuild's).
    pub fill_timeouts: u64,
    /// At the end: refillers of closed `sql.DB`s still running (leaked).
    pub leaked_refillers: u32,
    /// At the end: connections those leaked refillers hold.
    pub leaked_connections: u32,
    /// Connections closed because their reservoir was shut down (the rebuild fix).
    pub closed_by_shutdown: u64,
}

/// Discards by reason as a name -> count map.
pub fn discards_by_reason(c: &PoolCounters) -> BTreeMap<&'static str, u64> {
    Discard::ALL
        .iter()
        .map(|d| (d.name(), c.reservoir.discards[*d as usize]))
        .collect()
}

/// Failed opens by reason as a name -> count map: the refiller's (reservoir
/// stacks; identical to `refiller.failures`) or any opener's (plain pool).
pub fn refill_failures_by_reason(c: &PoolCounters) -> BTreeMap<&'static str, u64> {
    RefillFailure::ALL
        .iter()
        .map(|f| (f.name(), c.open_failures[*f as usize]))
        .collect()
}

/// Immediate hits / requests.
pub fn hit_ratio(c: &PoolCounters) -> Option<f64> {
    (c.requests > 0).then(|| round6(c.hits as f64 / c.requests as f64))
}

impl PoolSummary {
    /// Summarise pool `i` of a run.
    pub fn new(obs: &Observations, i: usize) -> Self {
        let p: &PoolOutcome = &obs.pools[i];
        let c = &p.counters;
        let wait = LatencyMs::from_histogram(&p.checkout_latency, p.checkout_latency_max_ns);
        let last = obs.samples.iter().rev().find(|r| r.pool as usize == i);
        let (open_min, open_max) = match open_range(obs, i) {
            Some((lo, hi)) => (Some(lo), Some(hi)),
            None => (None, None),
        };
        PoolSummary {
            name: p.name.clone(),
            stack: p.stack.name(),
            target_size: p.target_size,
            requests: c.requests,
            hits: c.hits,
            hits_after_wait: c.hits_after_wait,
            hit_ratio: hit_ratio(c),
            empty_events: c.reservoir.empty_events,
            failures: c.failures,
            failures_by_cause: failures_by_cause(c),
            waited: c.waited,
            wait_ms: wait.clone(),
            request_latency_ms: LatencyMs::from_histogram(
                &p.request_latency,
                p.request_latency_max_ns,
            ),
            opens: c.created,
            closes: closes_by_cause(c),
            server_closed: c.server_closed,
            bad_conns: c.bad_conns,
            open_min,
            open_max,
            open_peak: p.peak_open,
            rejected_before_ready: c.rejected_before_ready,
            checkouts: c.reservoir.checkouts,
            connects: c.driver.connects,
            refills: c.refiller.refills,
            discards: discards_by_reason(c),
            refill_failures: refill_failures_by_reason(c),
            limiter_waits: c.driver.limiter_waits,
            checkout_latency_ms: LatencyMs::from_histogram(&p.open_latency, p.open_latency_max_ns),
            target_ready: p.target,
            low_watermark: p.low_watermark,
            serving_since_s: p.serving_since.map(|t| t as f64 / 1e9),
            initial_fill_timed_out: p.fill_timed_out,
            lost_connections: c.lost_connections,
            rebuilds: c.rebuilds,
            rebuilds_throttled: c.rebuilds_throttled,
            connect_failures: c.connect_failures,
            fill_timeouts: c.fill_timeouts,
            leaked_refillers: last.map_or(0, |r| r.leaked_refillers),
            leaked_connections: last.map_or(0, |r| r.leaked),
            closed_by_shutdown: c.closed_by_shutdown,
        }
    }
}

/// Largest number of connect attempts in one simulated second, cluster-wide.
///
/// With `measure_after`, only the seconds that start at or after it count
/// (the startup burst is left out, like the requests before it).
pub fn max_connects_per_sec(obs: &Observations) -> u64 {
    busiest_second(obs).map_or(0, |(_, n)| n)
}

/// The first second with the most connects, among the measured seconds
/// (see [`max_connects_per_sec`]): (second, connects).
pub fn busiest_second(obs: &Observations) -> Option<(usize, u64)> {
    let first = obs.measure_after.div_ceil(crate::engine::SECOND) as usize;
    let mut best: Option<(usize, u64)> = None;
    for (i, &n) in obs.connects_per_second.iter().enumerate().skip(first) {
        if best.is_none_or(|(_, b)| u64::from(n) > b) {
            best = Some((i, u64::from(n)));
        }
    }
    best
}

/// All pools' counters added up.
pub fn total(obs: &Observations, only: Option<usize>) -> PoolCounters {
    let mut t = PoolCounters::default();
    for (i, p) in obs.pools.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let c = &p.counters;
        t.requests += c.requests;
        t.hits += c.hits;
        t.hits_after_wait += c.hits_after_wait;
        t.failures += c.failures;
        t.rejected_before_ready += c.rejected_before_ready;
        t.completed += c.completed;
        t.waited += c.waited;
        t.created += c.created;
        t.server_closed += c.server_closed;
        t.bad_conns += c.bad_conns;
        t.lost_connections += c.lost_connections;
        t.rebuilds += c.rebuilds;
        t.rebuilds_throttled += c.rebuilds_throttled;
        t.connect_failures += c.connect_failures;
        t.fill_timeouts += c.fill_timeouts;
        t.closed_by_shutdown += c.closed_by_shutdown;
        add(&mut t.failed, &c.failed);
        add(&mut t.open_failures, &c.open_failures);
        add(&mut t.sql.closes, &c.sql.closes);
        t.sql.opens += c.sql.opens;
        t.sql.waits += c.sql.waits;
        t.reservoir.checkouts += c.reservoir.checkouts;
        t.reservoir.empty_events += c.reservoir.empty_events;
        for k in 0..t.reservoir.discards.len() {
            t.reservoir.discards[k] += c.reservoir.discards[k];
        }
        t.refiller.refills += c.refiller.refills;
        for k in 0..t.refiller.failures.len() {
            t.refiller.failures[k] += c.refiller.failures[k];
        }
        t.driver.connects += c.driver.connects;
        t.driver.limiter_waits += c.driver.limiter_waits;
        t.driver.limiter_wait_ns += c.driver.limiter_wait_ns;
    }
    t
}

/// The exact largest checkout latency of the selected pools, ns.
pub fn merged_latency_max(obs: &Observations, only: Option<usize>) -> u64 {
    obs.pools
        .iter()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|o| o == *i))
        .map(|(_, p)| p.checkout_latency_max_ns)
        .max()
        .unwrap_or(0)
}

/// The exact longest reservoir driver `Open()` of the selected pools, ns.
pub fn merged_open_latency_max(obs: &Observations, only: Option<usize>) -> u64 {
    obs.pools
        .iter()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|o| o == *i))
        .map(|(_, p)| p.open_latency_max_ns)
        .max()
        .unwrap_or(0)
}

/// Merge the reservoir driver `Open()` histograms of the selected pools.
pub fn merged_open_latency(obs: &Observations, only: Option<usize>) -> Histogram<u64> {
    let mut h = obs.pools[0].open_latency.clone();
    h.reset();
    for (i, p) in obs.pools.iter().enumerate() {
        if only.is_none_or(|o| o == i) {
            h.add(&p.open_latency).expect("same bounds");
        }
    }
    h
}

/// Merge the checkout-latency histograms of the selected pools.
pub fn merged_latency(obs: &Observations, only: Option<usize>) -> Histogram<u64> {
    let mut h = obs.pools[0].checkout_latency.clone();
    h.reset();
    for (i, p) in obs.pools.iter().enumerate() {
        if only.is_none_or(|o| o == i) {
            h.add(&p.checkout_latency).expect("same bounds");
        }
    }
    h
}

fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for k in 0..N {
        a[k] += b[k];
    }
}

/// Failed requests by cause as a name -> count map.
pub fn failures_by_cause(c: &PoolCounters) -> BTreeMap<&'static str, u64> {
    FailCause::ALL
        .iter()
        .map(|f| (f.name(), c.failed[*f as usize]))
        .collect()
}

/// database/sql closes by cause as a name -> count map.
pub fn closes_by_cause(c: &PoolCounters) -> BTreeMap<&'static str, u64> {
    CloseCause::ALL
        .iter()
        .map(|f| (f.name(), c.sql.closes[*f as usize]))
        .collect()
}

/// The failures by cause in words, e.g. "3 deadline, 1 open_failed" ("none").
pub fn failures_text(c: &PoolCounters) -> String {
    let parts: Vec<String> = FailCause::ALL
        .iter()
        .filter(|f| c.failed[**f as usize] > 0)
        .map(|f| format!("{} {}", c.failed[*f as usize], f.name()))
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// Whether sample `t` of pool `i` counts as "after warmup": the pool takes
/// traffic and `measure_after` has passed.
fn settled(obs: &Observations, i: usize, t: Time) -> bool {
    obs.pools[i].serving_since.is_some_and(|s| t >= s) && t >= obs.measure_after
}

/// Fewest and most physical connections of pool `i` over the samples after
/// warmup (None without such a sample).
pub fn open_range(obs: &Observations, i: usize) -> Option<(u32, u32)> {
    obs.samples
        .iter()
        .filter(|r| r.pool as usize == i && settled(obs, i, r.t))
        .fold(None, |acc, r| match acc {
            None => Some((r.open, r.open)),
            Some((lo, hi)) => Some((lo.min(r.open), hi.max(r.open))),
        })
}

/// The lowest fill of a pool: open connections / target_size at one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fill {
    /// open / target_size.
    pub fraction: f64,
    /// Open connections.
    pub open: u32,
    /// target_size.
    pub target: u32,
    /// Pool index.
    pub pool: usize,
    /// Sample instant.
    pub t: Time,
}

/// The sample with the lowest open / target_size over the selected pools,
/// after warmup (the first such sample on ties).
pub fn lowest_fill(obs: &Observations, only: Option<usize>) -> Option<Fill> {
    let mut low: Option<Fill> = None;
    for r in &obs.samples {
        let i = r.pool as usize;
        if only.is_some_and(|o| o != i) || !settled(obs, i, r.t) {
            continue;
        }
        let target = obs.pools[i].target_size;
        let fraction = r.open as f64 / target as f64;
        if low.is_none_or(|l| fraction < l.fraction) {
            low = Some(Fill {
                fraction,
                open: r.open,
                target,
                pool: i,
                t: r.t,
            });
        }
    }
    low
}
