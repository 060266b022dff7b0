//! Steady-state estimates within one run: batch means after `measure_after`
//! ([`steady_state`]) and warm-up detection with MSER-5 ([`warmup`]).
//!
//! Both read the per-window series of the samples, all pools together:
//! window `k` is `(t_{k-1}, t_k]` between two consecutive samples; its mean
//! wait is the sum of the waits that **ended** in it over their count
//! (`SampleRow::wait_sum_ns / wait_count`, exact), and its hit ratio is the
//! immediate hits over the requests counted in it (the differences of the
//! cumulative counters, which count requests that arrived after
//! `measure_after`).
//!
//! # Batch means
//!
//! Waits of successive requests are correlated (a queue that is long now is
//! long a moment later), so the i.i.d. standard error of a mean over one run
//! is far too small. The measured windows (those starting at or after
//! `measure_after` and once every pool takes traffic) are cut, in order,
//! into [`BATCHES`] contiguous batches of whole windows whose lengths differ
//! by at most one window. Each batch's value is its ratio of sums (total
//! wait / waits, hits / requests); the batch values are treated as
//! independent and the half-width is `t(0.975, b - 1) · s / √b`
//! (`theory::batch_means_half_width` over the batch values), `s` their
//! standard deviation. The estimate is the ratio of sums over all the
//! batched windows. With fewer than [`MIN_BATCHES`] windows there are too
//! few batches for an interval, and none is given (the `note` says so).
//!
//! The batches must be longer than the series' correlation time for the
//! interval to hold; the lag-1 autocorrelation of the batch values is
//! reported as a check: for independent batches it is near 0, within about
//! `2/√b` (0.45 for 20 batches); above that the batches are likely too
//! short and the interval too narrow, and a note says so. A workload with
//! bursts gets a note too: batches that hold different parts of the burst
//! cycle are not alike, so the interval is rough.
//!
//! # MSER-5 (warm-up)
//!
//! The mean wait per window from `t = 0` is averaged in groups of 5 windows,
//! `Z_1..Z_m`. For each truncation `d` (groups dropped from the start),
//! `MSER(d) = Σ_{j>d} (Z_j - Z̄_d)² / (m - d)²`, where `Z̄_d` is the mean of
//! the groups kept; the warm-up is the `d` that minimises it (the first, on a
//! tie), searched over the first half of the run (K. P. White, "An effective
//! truncation heuristic for bias reduction in simulation output",
//! Simulation 69(6), 1997; White, Cobb and Spratt, WSC 2000, for the batch
//! size of 5). The detected warm-up is `5 d` windows. MSER assumes the
//! workload is steady after the warm-up, so it is computed only when every
//! pool's workload is `constant`; a minimum at the end of the searched half
//! means the series did not settle within it. Windows in which no wait
//! ended (before a pool takes traffic) count as a mean wait of 0.

use super::{t_two_sided, COMPARE_CONFIDENCE};
use crate::engine::Time;
use crate::metrics::round6;
use crate::model::workload::RateShape;
use crate::model::world::Observations;
use crate::scenario::Scenario;
use serde::Serialize;

/// Batches of the batch-means interval (when there are at least as many windows).
pub const BATCHES: usize = 20;
/// Fewest batches (so fewest measured windows) for a batch-means interval.
pub const MIN_BATCHES: usize = 10;
/// Windows per MSER group.
pub const MSER_GROUP: usize = 5;
/// Fewest MSER groups for a warm-up estimate.
pub const MSER_MIN_GROUPS: usize = 10;
/// The lag-1 autocorrelation of `b` independent batch values is about
/// normal with standard deviation `1/√b`; above `2/√b` (0.45 for 20
/// batches) the batches are called too short.
pub fn max_lag1(batches: usize) -> f64 {
    2.0 / (batches as f64).sqrt()
}

/// One window of the series, all pools together.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// Start of the window.
    pub from: Time,
    /// End of the window (its sample instant).
    pub to: Time,
    /// Sum of the waits that ended in it, ns.
    pub wait_sum_ns: u64,
    /// Waits that ended in it.
    pub wait_count: u64,
    /// Requests counted in it.
    pub requests: u64,
    /// Of which got a connection at once.
    pub hits: u64,
}

/// The per-window series of a run (every window, from the first sample on).
pub fn windows(obs: &Observations) -> Vec<Window> {
    let n = obs.pools.len();
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut prev: Option<(Time, u64, u64)> = None;
    for chunk in obs.samples.chunks(n) {
        let t = chunk[0].t;
        let requests: u64 = chunk.iter().map(|r| r.counters.requests).sum();
        let hits: u64 = chunk.iter().map(|r| r.counters.hits).sum();
        if let Some((t0, r0, h0)) = prev {
            out.push(Window {
                from: t0,
                to: t,
                wait_sum_ns: chunk.iter().map(|r| r.wait_sum_ns).sum(),
                wait_count: chunk.iter().map(|r| r.wait_count).sum(),
                requests: requests.saturating_sub(r0),
                hits: hits.saturating_sub(h0),
            });
        }
        prev = Some((t, requests, hits));
    }
    out
}

/// A batch-means estimate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BatchEstimate {
    /// The ratio of sums over every batched window.
    pub estimate: f64,
    /// Half-width of the interval.
    pub half_width: f64,
    /// `estimate - half_width`.
    pub lo: f64,
    /// `estimate + half_width`.
    pub hi: f64,
    /// Lag-1 autocorrelation of the batch values (null when they do not vary).
    pub lag1_autocorrelation: Option<f64>,
}

/// summary.json `steady_state`: batch-means intervals after `measure_after`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SteadyState {
    /// How it is computed.
    pub method: &'static str,
    /// Confidence of the intervals.
    pub confidence: f64,
    /// Start of the first measured window, seconds (null: a pool never took traffic).
    pub from_s: Option<f64>,
    /// Measured windows.
    pub windows: usize,
    /// Batches used (0: too few windows for an interval).
    pub batches: usize,
    /// Shortest and longest batch, seconds.
    pub batch_s: Option<(f64, f64)>,
    /// Mean wait of the requests whose wait ended in the measured windows, ms.
    pub mean_wait_ms: Option<BatchEstimate>,
    /// Immediate hits / requests counted in the measured windows.
    pub hit_ratio: Option<BatchEstimate>,
    /// Why an interval is missing, or what to doubt.
    pub notes: Vec<String>,
}

/// What `steady_state.method` says.
pub const BATCH_METHOD: &str = "batch means: the measured sample windows cut into contiguous batches; per batch the ratio of sums; Student t interval of the batch values (batches - 1 degrees of freedom)";

fn lag1(xs: &[f64]) -> Option<f64> {
    let (mean, _) = super::mean_sd(xs);
    let den: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    if den == 0.0 || xs.len() < 3 {
        return None;
    }
    let num: f64 = xs.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
    Some(round6(num / den))
}

/// The batch-means estimate of `sum / count` over `ws` in `batches` batches;
/// `Err` says why there is none.
fn batch_estimate(
    ws: &[Window],
    batches: usize,
    scale: f64,
    part: impl Fn(&Window) -> (f64, f64),
    what: &str,
) -> Result<BatchEstimate, String> {
    let n = ws.len();
    let mut values = Vec::with_capacity(batches);
    let (mut sum, mut count) = (0.0, 0.0);
    for i in 0..batches {
        let (s, c) = ws[i * n / batches..(i + 1) * n / batches]
            .iter()
            .map(&part)
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        if c == 0.0 {
            return Err(format!(
                "{what}: batch {} of {batches} has none: no interval",
                i + 1
            ));
        }
        values.push(s / c * scale);
        sum += s;
        count += c;
    }
    let t = t_two_sided(COMPARE_CONFIDENCE, (batches - 1) as f64);
    // Each batch is one value here, so the helper's batches are the batches.
    let half_width = crate::theory::batch_means_half_width(&values, batches, t)
        .ok_or_else(|| format!("{what}: the batch values are not finite: no interval"))?;
    let estimate = sum / count * scale;
    Ok(BatchEstimate {
        estimate,
        half_width,
        lo: estimate - half_width,
        hi: estimate + half_width,
        lag1_autocorrelation: lag1(&values),
    })
}

/// The instant from which the run is measured: `measure_after`, or later
/// when a pool took traffic later (None: a pool never did).
pub fn measured_from(obs: &Observations) -> Option<Time> {
    let mut t = obs.measure_after;
    for p in &obs.pools {
        t = t.max(p.serving_since?);
    }
    Some(t)
}

/// Batch-means intervals for the mean wait and the hit ratio after
/// `measure_after` (see the module's notes).
pub fn steady_state(sc: &Scenario, obs: &Observations) -> SteadyState {
    let mut s = SteadyState {
        method: BATCH_METHOD,
        confidence: COMPARE_CONFIDENCE,
        from_s: None,
        windows: 0,
        batches: 0,
        batch_s: None,
        mean_wait_ms: None,
        hit_ratio: None,
        notes: Vec::new(),
    };
    let Some(from) = measured_from(obs) else {
        s.notes
            .push("a pool never took traffic: nothing steady to measure".into());
        return s;
    };
    let ws: Vec<Window> = windows(obs)
        .into_iter()
        .filter(|w| w.from >= from)
        .collect();
    s.windows = ws.len();
    s.from_s = ws.first().map(|w| round6(w.from as f64 / 1e9));
    if ws.len() < MIN_BATCHES {
        s.notes.push(format!(
            "too short for batch means: {} measured sample window{} after measure_after, and at least {MIN_BATCHES} batches (one window each at the least) are needed: no interval; lengthen the run or shorten sample_every",
            ws.len(),
            if ws.len() == 1 { "" } else { "s" }
        ));
        return s;
    }
    let b = BATCHES.min(ws.len());
    s.batches = b;
    let lens: Vec<f64> = (0..b)
        .map(|i| {
            let part = &ws[i * ws.len() / b..(i + 1) * ws.len() / b];
            (part[part.len() - 1].to - part[0].from) as f64 / 1e9
        })
        .collect();
    s.batch_s = Some((
        round6(lens.iter().copied().fold(f64::INFINITY, f64::min)),
        round6(lens.iter().copied().fold(0.0, f64::max)),
    ));
    let wait = batch_estimate(
        &ws,
        b,
        1e-6,
        |w| (w.wait_sum_ns as f64, w.wait_count as f64),
        "mean wait: no wait ended in a batch",
    );
    let hits = batch_estimate(
        &ws,
        b,
        1.0,
        |w| (w.hits as f64, w.requests as f64),
        "hit ratio: no request was counted in a batch",
    );
    for (name, r) in [("mean wait", &wait), ("hit ratio", &hits)] {
        match r {
            Err(e) => s.notes.push(e.clone()),
            Ok(e) => {
                let limit = max_lag1(b);
                if e.lag1_autocorrelation.is_some_and(|r| r > limit) {
                    s.notes.push(format!(
                        "{name}: the batch values are correlated (lag-1 autocorrelation {} > {}): the batches ({} s) may be shorter than the series' memory and the interval too narrow; a longer run helps",
                        e.lag1_autocorrelation.unwrap_or(0.0),
                        round6(limit),
                        crate::report::text::fmt_num(lens[0])
                    ));
                }
            }
        }
    }
    if !steady_workload(sc) && (wait.is_ok() || hits.is_ok()) {
        s.notes.push(
            "a workload has bursts: batches that hold different parts of the burst cycle are not alike, so these intervals are rough"
                .into(),
        );
    }
    s.mean_wait_ms = wait.ok();
    s.hit_ratio = hits.ok();
    s
}

/// Whether every pool's workload (if any) has a constant rate.
fn steady_workload(sc: &Scenario) -> bool {
    sc.world.pools.iter().all(|p| {
        p.workload
            .as_ref()
            .is_none_or(|wl| matches!(wl.shape, RateShape::Constant { .. }))
    })
}

/// summary.json `warmup`: MSER-5 on the mean wait per window.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Warmup {
    /// How it is computed.
    pub method: &'static str,
    /// The detected warm-up, seconds from the start (null: not computed or
    /// the series did not settle).
    pub detected_s: Option<f64>,
    /// The scenario's `measure_after`, seconds.
    pub measure_after_s: f64,
    /// Whether `measure_after` is shorter than the detected warm-up.
    pub measure_after_too_short: bool,
    /// Why there is no estimate, or what it means.
    pub note: Option<String>,
}

/// What `warmup.method` says.
pub const MSER_METHOD: &str = "MSER-5 on the mean wait per sample window, all pools (groups of 5 windows; the truncation that minimises the squared error of the mean over what is kept, searched over the first half of the run)";

/// The MSER truncation of `z` (group means): the `d` in `0..=m/2` that
/// minimises `Σ_{j>=d} (z_j - mean_d)² / (m - d)²`, the first on a tie.
pub fn mser(z: &[f64]) -> usize {
    let m = z.len();
    let mut best = (f64::INFINITY, 0);
    // Suffix sums from the end make each d O(1).
    let (mut s1, mut s2) = (0.0, 0.0);
    let mut by_d = vec![f64::INFINITY; m / 2 + 1];
    for d in (0..m).rev() {
        s1 += z[d];
        s2 += z[d] * z[d];
        if d <= m / 2 {
            let k = (m - d) as f64;
            let sse = (s2 - s1 * s1 / k).max(0.0);
            by_d[d] = sse / (k * k);
        }
    }
    for (d, &v) in by_d.iter().enumerate() {
        if v < best.0 {
            best = (v, d);
        }
    }
    best.1
}

/// MSER-5 warm-up detection on the wait series (see the module's notes).
pub fn warmup(sc: &Scenario, obs: &Observations) -> Warmup {
    let measure_after_s = round6(obs.measure_after as f64 / 1e9);
    let mut w = Warmup {
        method: MSER_METHOD,
        detected_s: None,
        measure_after_s,
        measure_after_too_short: false,
        note: None,
    };
    let steady = steady_workload(sc);
    if !sc.world.pools.iter().any(|p| p.workload.is_some()) {
        w.note = Some("no workload: no wait series".into());
        return w;
    }
    if !steady {
        w.note = Some(
            "not computed: a workload has bursts, so the wait series has no steady state to settle into"
                .into(),
        );
        return w;
    }
    let ws = windows(obs);
    let z: Vec<f64> = ws
        .chunks_exact(MSER_GROUP)
        .map(|g| {
            g.iter()
                .map(|w| {
                    if w.wait_count == 0 {
                        0.0
                    } else {
                        w.wait_sum_ns as f64 / w.wait_count as f64
                    }
                })
                .sum::<f64>()
                / MSER_GROUP as f64
        })
        .collect();
    if z.len() < MSER_MIN_GROUPS {
        w.note = Some(format!(
            "too few sample windows for MSER-5: {} (at least {} needed)",
            ws.len(),
            MSER_GROUP * MSER_MIN_GROUPS
        ));
        return w;
    }
    let d = mser(&z);
    if d == z.len() / 2 {
        w.note = Some(
            "the wait series did not settle within the first half of the run: lengthen the run"
                .into(),
        );
        return w;
    }
    let detected = ws[d * MSER_GROUP].from;
    w.detected_s = Some(round6(detected as f64 / 1e9));
    if detected > obs.measure_after {
        w.measure_after_too_short = true;
        w.note = Some(format!(
            "measure_after ({}) is shorter than the warm-up MSER-5 detects in the wait series ({}): the figures include part of the warm-up; consider measure_after: {}",
            crate::engine::time::format_duration(obs.measure_after),
            crate::engine::time::format_duration(detected),
            crate::engine::time::format_duration(detected)
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mser_cuts_a_transient_and_keeps_a_flat_series() {
        let flat = vec![1.0; 40];
        assert_eq!(mser(&flat), 0);
        // 6 high groups, then noise around 1.
        let mut z: Vec<f64> = (0..6).map(|i| 10.0 - i as f64).collect();
        z.extend((0..60).map(|i| 1.0 + if i % 2 == 0 { 0.1 } else { -0.1 }));
        assert_eq!(mser(&z), 6);
    }

    #[test]
    fn lag1_of_alternating_values_is_negative() {
        let xs: Vec<f64> = (0..20).map(|i| (i % 2) as f64).collect();
        assert!(lag1(&xs).unwrap() < -0.9);
        assert_eq!(lag1(&[1.0, 1.0, 1.0]), None);
    }
}
