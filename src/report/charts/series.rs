//! Data preparation: the series a chart plots, taken from a run's
//! [`Observations`] (gauges at their sampling instant, counters as per-window
//! rates, latency percentiles, min/median/max bands). Every chart family
//! builds its points here, so a step that transforms long series (such as
//! downsampling) has one place to go.

use super::{Points, Run, WindowLatency};
use crate::model::world::{Observations, PoolCounters, SampleRow, Stack};
use hdrhistogram::Histogram;

/// Nanoseconds to seconds.
pub fn secs(t: u64) -> f64 {
    t as f64 / 1e9
}

/// The sample rows of every instant (time-major chunks, one row per pool).
pub(super) fn instants(obs: &Observations) -> std::slice::Chunks<'_, SampleRow> {
    obs.samples.chunks(obs.pools.len().max(1))
}

/// A gauge of one pool at every sample: (t seconds, value).
pub fn gauge_series(
    obs: &Observations,
    pool: usize,
    f: impl Fn(&SampleRow) -> f64,
) -> Vec<(f64, f64)> {
    instants(obs)
        .filter_map(|c| c.get(pool))
        .map(|r| (secs(r.t), f(r)))
        .collect()
}

/// The per-window rate (per second) of a cumulative counter, summed over
/// `pools`: `(t_k, (sum_k - sum_{k-1}) / (t_k - t_{k-1}))` for every sample k >= 1.
pub fn rate_series(
    obs: &Observations,
    pools: &[usize],
    f: impl Fn(&PoolCounters) -> u64,
) -> Vec<(f64, f64)> {
    let totals: Vec<(u64, u64)> = instants(obs)
        .map(|c| {
            let sum = pools
                .iter()
                .filter_map(|&p| c.get(p))
                .map(|r| f(&r.counters))
                .sum();
            (c[0].t, sum)
        })
        .collect();
    totals
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| {
            let dt = secs(w[1].0 - w[0].0);
            (secs(w[1].0), w[1].1.saturating_sub(w[0].1) as f64 / dt)
        })
        .collect()
}

/// Only the points with a non-zero value (events to mark).
pub fn nonzero(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points.iter().copied().filter(|p| p.1 != 0.0).collect()
}

/// Cluster-wide connect attempts in each simulated second:
/// `(i + 1, Observations::connects_per_second[i])` (plotted at the end of the second).
pub fn connects_series(obs: &Observations) -> Vec<(f64, f64)> {
    obs.connects_per_second
        .iter()
        .enumerate()
        .map(|(i, &c)| ((i + 1) as f64, c as f64))
        .collect()
}

/// Open connections on the cluster at every sample.
pub fn cluster_connections_series(obs: &Observations) -> Vec<(f64, f64)> {
    obs.cluster_samples
        .iter()
        .map(|c| (secs(c.t), c.live as f64))
        .collect()
}

/// A latency histogram (ns) as a percentile curve: `(nines, ms)` where
/// `nines = log10(1 / (1 - p))` in steps of 0.05 (p = 0, ..., 50% at 0.30,
/// 90% at 1, 99% at 2), up to the resolution the number of samples allows
/// (1 / count), then the maximum. Empty histogram: no points.
pub fn latency_percentiles(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let top = (h.len() as f64).log10().clamp(0.0, 6.0);
    let steps = (top * 20.0).floor() as u32;
    let mut out: Vec<(f64, f64)> = (0..=steps)
        .map(|k| {
            let nines = k as f64 / 20.0;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, h.value_at_quantile(q) as f64 / 1e6)
        })
        .collect();
    let last = out.last().map_or(0.0, |p| p.0);
    let end = if top > last { top } else { last + 0.05 };
    out.push((end, h.max() as f64 / 1e6));
    out
}

/// Pointwise min, median and max of several series sampled at the same x.
pub fn band_of(series: &[Points]) -> (Points, Points, Points) {
    let len = series.iter().map(Vec::len).min().unwrap_or(0);
    let (mut lo, mut med, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    let mut vals = Vec::with_capacity(series.len());
    for k in 0..len {
        vals.clear();
        vals.extend(series.iter().map(|s| s[k].1));
        vals.sort_by(f64::total_cmp);
        let x = series[0][k].0;
        let n = vals.len();
        let m = if n % 2 == 1 {
            vals[n / 2]
        } else {
            (vals[n / 2 - 1] + vals[n / 2]) / 2.0
        };
        lo.push((x, vals[0]));
        med.push((x, m));
        hi.push((x, vals[n - 1]));
    }
    (lo, med, hi)
}

/// A gauge summed over `pools` at every sample: (t seconds, sum).
pub fn gauge_sum_series(
    obs: &Observations,
    pools: &[usize],
    f: impl Fn(&SampleRow) -> f64,
) -> Vec<(f64, f64)> {
    instants(obs)
        .map(|c| {
            let sum = pools.iter().filter_map(|&p| c.get(p)).map(&f).sum();
            (secs(c[0].t), sum)
        })
        .collect()
}

/// The end of the longest run, seconds.
pub(super) fn run_end(runs: &[Run]) -> Option<f64> {
    runs.iter().map(|r| secs(r.1.duration)).reduce(f64::max)
}

pub(super) fn all_pools(obs: &Observations) -> Vec<usize> {
    (0..obs.pools.len()).collect()
}

pub(super) fn any_reservoir(obs: &Observations) -> bool {
    obs.pools.iter().any(|p| p.stack.has_reservoir())
}

pub(super) fn total_discards(c: &PoolCounters) -> u64 {
    c.reservoir.discards.iter().sum()
}

/// The plain pools of a run: their database/sql closes are physical closes
/// (in the `database_sql` stack a close hands the connection back to the
/// reservoir, whose discards count it).
pub(super) fn plain_pools(obs: &Observations) -> Vec<usize> {
    (0..obs.pools.len())
        .filter(|&i| obs.pools[i].stack == Stack::Plain)
        .collect()
}

pub(super) fn total_closes(c: &PoolCounters) -> u64 {
    c.sql.closes.iter().sum()
}

/// Nanoseconds to milliseconds.
pub(super) fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The waits that ended in each sample window of one pool:
/// `(t seconds, wait_p50_ns in ms, wait_p99_ns in ms)` at every sample.
pub fn window_latency(obs: &Observations, pool: usize) -> Vec<WindowLatency> {
    instants(obs)
        .filter_map(|c| c.get(pool))
        .map(|r| (secs(r.t), ms(r.wait_p50_ns), ms(r.wait_p99_ns)))
        .collect()
}
