//! Derived metrics: what a run's [`Observations`] mean, per pool and overall.
//!
//! This is the data behind `summary.json` (schema in README.md) and the
//! printed summary. Latencies are reported in milliseconds from an
//! hdrhistogram with nanosecond resolution (3 significant digits).

use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::world::{Observations, PoolCounters, PoolOutcome};
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
    /// Checkout latency (every Open(): 0 for an immediate hit, the wait otherwise).
    pub checkout_latency_ms: LatencyMs,
    /// target_ready.
    pub target_ready: u32,
    /// low_watermark.
    pub low_watermark: u32,
    /// When the pool took traffic, seconds (null: never).
    pub serving_since_s: Option<f64>,
    /// Whether the initial fill hit its timeout.
    pub initial_fill_timed_out: bool,
}

/// Discards by reason as a name -> count map.
pub fn discards_by_reason(c: &PoolCounters) -> BTreeMap<&'static str, u64> {
    Discard::ALL
        .iter()
        .map(|d| (d.name(), c.reservoir.discards[*d as usize]))
        .collect()
}

/// Refill failures by reason as a name -> count map.
pub fn refill_failures_by_reason(c: &PoolCounters) -> BTreeMap<&'static str, u64> {
    RefillFailure::ALL
        .iter()
        .map(|f| (f.name(), c.refiller.failures[*f as usize]))
        .collect()
}

/// Immediate hits / requests.
pub fn hit_ratio(c: &PoolCounters) -> Option<f64> {
    (c.requests > 0).then(|| round6(c.hits as f64 / c.requests as f64))
}

impl PoolSummary {
    /// Summarise one pool.
    pub fn new(p: &PoolOutcome) -> Self {
        let c = &p.counters;
        PoolSummary {
            name: p.name.clone(),
            requests: c.requests,
            hits: c.hits,
            hits_after_wait: c.hits_after_wait,
            hit_ratio: hit_ratio(c),
            empty_events: c.reservoir.empty_events,
            failures: c.failures,
            rejected_before_ready: c.rejected_before_ready,
            checkouts: c.reservoir.checkouts,
            connects: c.driver.connects,
            refills: c.refiller.refills,
            discards: discards_by_reason(c),
            refill_failures: refill_failures_by_reason(c),
            limiter_waits: c.driver.limiter_waits,
            checkout_latency_ms: LatencyMs::from_histogram(
                &p.checkout_latency,
                p.checkout_latency_max_ns,
            ),
            target_ready: p.target,
            low_watermark: p.low_watermark,
            serving_since_s: p.serving_since.map(|t| t as f64 / 1e9),
            initial_fill_timed_out: p.fill_timed_out,
        }
    }
}

/// Largest number of connect attempts in one simulated second, cluster-wide.
pub fn max_connects_per_sec(obs: &Observations) -> u64 {
    obs.connects_per_second.iter().copied().max().unwrap_or(0) as u64
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
