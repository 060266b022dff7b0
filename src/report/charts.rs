//! Charts of a run, or of several runs overlaid on one axis (a comparison).
//!
//! Two layers:
//!
//! - **What to plot** ([`ChartSpec`]): pure data built from [`Observations`] by
//!   the chart functions ([`pool_state_charts`], [`checkout_rate_chart`],
//!   [`discards_chart`], ...). Every function takes a list of runs
//!   (`&[(label, &Observations)]`); a single run is a one-element list. The
//!   extraction helpers ([`gauge_series`], [`rate_series`], ...) are public so
//!   tests can check that a chart plots exactly the values of the time series.
//! - **How it looks** ([`render`]): plotters draws a spec as SVG and as PNG with
//!   the DejaVu Sans font compiled into the binary (no system fonts needed).
//!
//! Conventions. Sample counters are cumulative, so a per-window value is the
//! delta between two consecutive samples divided by the time between them, and
//! is plotted at the END of its window (the value at `t` is the rate over
//! `(t - sample_every, t]`). Gauges are plotted at their sampling instant.
//! With more than [`MAX_LINES`] lines a chart would be a tangle, so pools are
//! then grouped by service (the name before a trailing `-<digits>`, or "all
//! pools") and drawn as a min–max band around the median (see [`pool_groups`]).
//!
//! Output is deterministic: no clocks, no hash-map iteration, integer pixel
//! coordinates, fixed-precision labels.

use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::world::{LimiterConfig, Observations, PoolCounters, SampleRow, WorldConfig};
use anyhow::anyhow;
use hdrhistogram::Histogram;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
use std::sync::Once;

/// A pixel on the backend.
type BackendCoord = (i32, i32);

/// Most lines (or bands) one chart draws before pools are grouped.
pub const MAX_LINES: usize = 8;
/// Image width, pixels.
pub const WIDTH: u32 = 1100;
/// Height of the plot (title, axes, data), pixels; the legend adds rows below.
pub const PLOT_HEIGHT: u32 = 460;
/// Height of one legend row, pixels.
const LEGEND_ROW: u32 = 24;

/// One run to chart: its label (e.g. the mode name) and its observations.
pub type Run<'a> = (&'a str, &'a Observations);

/// A series' points: (x, y), x ascending.
pub type Points = Vec<(f64, f64)>;

/// The checkout latency of one sample window: (t seconds, p50 ms, p99 ms).
pub type WindowLatency = (f64, f64, f64);

/// The colour palette (Tableau 10, then black and dark grey).
pub const PALETTE: [(u8, u8, u8); 12] = [
    (31, 119, 180),  // 0 blue
    (255, 127, 14),  // 1 orange
    (44, 160, 44),   // 2 green
    (214, 39, 40),   // 3 red
    (148, 103, 189), // 4 purple
    (140, 86, 75),   // 5 brown
    (227, 119, 194), // 6 pink
    (127, 127, 127), // 7 grey
    (188, 189, 34),  // 8 olive
    (23, 190, 207),  // 9 cyan
    (0, 0, 0),       // 10 black
    (80, 80, 80),    // 11 dark grey
];
const BLUE: usize = 0;
const ORANGE: usize = 1;
const GREEN: usize = 2;
const RED: usize = 3;
const GREY: usize = 7;
const BLACK: usize = 10;
const DARK: usize = 11;

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A solid line.
    Line,
    /// A dashed line (targets, limits, the second quantity of a pair).
    Dashed,
    /// A cross at each point (events: only the windows where they happened).
    Cross,
    /// A triangle at each point.
    Triangle,
}

/// One named series of (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points, x ascending.
    pub points: Vec<(f64, f64)>,
    /// Palette index.
    pub color: usize,
    /// How it is drawn.
    pub mark: Mark,
}

/// A min..max band (drawn translucent; its median goes in `lines`).
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// Legend name.
    pub name: String,
    /// Lower edge (min), x ascending.
    pub lower: Vec<(f64, f64)>,
    /// Upper edge (max), same x as `lower`.
    pub upper: Vec<(f64, f64)>,
    /// Palette index.
    pub color: usize,
}

/// A horizontal reference line (a limit or a threshold).
#[derive(Clone, Debug, PartialEq)]
pub struct HLine {
    /// Legend name.
    pub name: String,
    /// Its value.
    pub y: f64,
    /// Palette index.
    pub color: usize,
}

/// The x axis of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    /// Simulated seconds (labelled in minutes when the run is longer than 10 minutes).
    Time,
    /// Percentile, as "nines": x = log10(1 / (1 - p)), so 1 = 90%, 2 = 99%, 3 = 99.9%.
    Nines,
}

/// Everything one chart shows: pure data, rendered by [`render`].
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSpec {
    /// File stem under `charts/` (also the HTML anchor).
    pub stem: String,
    /// Title drawn on the chart.
    pub title: String,
    /// One line saying what to read in it (the HTML caption).
    pub caption: String,
    /// The x axis.
    pub x_axis: XAxis,
    /// Y axis description with its unit.
    pub y_label: String,
    /// Stacked areas, bottom first; all share the same x.
    pub stacked: Vec<Series>,
    /// Min..max bands.
    pub bands: Vec<Band>,
    /// Lines and markers, drawn over the areas.
    pub lines: Vec<Series>,
    /// Horizontal reference lines.
    pub hlines: Vec<HLine>,
    /// A remark drawn in the middle of the plot (e.g. "no refill failures").
    pub note: Option<String>,
    /// The end of the x axis in data units (a time chart spans the whole run
    /// even when it has nothing to draw); None: the data's extent.
    pub x_max: Option<f64>,
}

impl ChartSpec {
    fn new(stem: &str, title: &str, caption: String, x_axis: XAxis, y_label: &str) -> Self {
        ChartSpec {
            stem: stem.to_string(),
            title: title.to_string(),
            caption,
            x_axis,
            y_label: y_label.to_string(),
            stacked: Vec::new(),
            bands: Vec::new(),
            lines: Vec::new(),
            hlines: Vec::new(),
            note: None,
            x_max: None,
        }
    }

    /// The series (stacked layers first, then lines) with this legend name.
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.stacked
            .iter()
            .chain(self.lines.iter())
            .find(|s| s.name == name)
    }

    fn is_empty(&self) -> bool {
        self.stacked.iter().all(|s| s.points.is_empty())
            && self.lines.iter().all(|s| s.points.is_empty())
            && self.bands.iter().all(|b| b.upper.is_empty())
    }
}

// ---------------------------------------------------------------------------
// Data extraction
// ---------------------------------------------------------------------------

/// Nanoseconds to seconds.
pub fn secs(t: u64) -> f64 {
    t as f64 / 1e9
}

/// The sample rows of every instant (time-major chunks, one row per pool).
fn instants(obs: &Observations) -> std::slice::Chunks<'_, SampleRow> {
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

// ---------------------------------------------------------------------------
// Pool grouping
// ---------------------------------------------------------------------------

/// The service a pool belongs to: its name without a trailing `-<digits>`
/// (`history-3` -> `history`; `history` -> `history`).
pub fn service_of(name: &str) -> &str {
    match name.rfind('-') {
        Some(i)
            if i > 0 && i + 1 < name.len() && name[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &name[..i]
        }
        _ => name,
    }
}

/// A set of pools drawn as one line (one pool) or one band (several).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolGroup {
    /// The pool's name, the service's name, or "all pools".
    pub name: String,
    /// Pool indices, ascending.
    pub pools: Vec<usize>,
}

/// How to show `names` with at most `max` lines: one per pool if they fit,
/// else one per service (first-appearance order) if they fit, else one group
/// of all pools.
pub fn pool_groups<S: AsRef<str>>(names: &[S], max: usize) -> Vec<PoolGroup> {
    let max = max.max(1);
    if names.len() <= max {
        return names
            .iter()
            .enumerate()
            .map(|(i, n)| PoolGroup {
                name: n.as_ref().to_string(),
                pools: vec![i],
            })
            .collect();
    }
    let mut groups: Vec<PoolGroup> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let s = service_of(n.as_ref());
        match groups.iter_mut().find(|g| g.name == s) {
            Some(g) => g.pools.push(i),
            None => groups.push(PoolGroup {
                name: s.to_string(),
                pools: vec![i],
            }),
        }
    }
    if groups.len() <= max {
        return groups;
    }
    vec![PoolGroup {
        name: "all pools".into(),
        pools: (0..names.len()).collect(),
    }]
}

fn names_of(obs: &Observations) -> Vec<&str> {
    obs.pools.iter().map(|p| p.name.as_str()).collect()
}

/// The legend name of `what` in run `run` (the run label only when comparing).
fn label(runs: &[Run], run: usize, what: &str) -> String {
    if runs.len() > 1 {
        format!("{}: {what}", runs[run].0)
    } else {
        what.to_string()
    }
}

/// Pool indices, in `obs`, of the pools of `group` (matched by name, so runs
/// of the same scenario line up even if pool order differs).
fn pools_named(obs: &Observations, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .filter_map(|n| obs.pools.iter().position(|p| p.name == *n))
        .collect()
}

/// Add one group's curve to `spec`: a line for one pool, a band with its
/// median for several.
fn add_group_curve(
    spec: &mut ChartSpec,
    name: &str,
    per_pool: Vec<Vec<(f64, f64)>>,
    color: usize,
    mark: Mark,
) {
    if per_pool.len() == 1 {
        let points = per_pool.into_iter().next().unwrap_or_default();
        spec.lines.push(Series {
            name: name.to_string(),
            points,
            color,
            mark,
        });
    } else if !per_pool.is_empty() {
        let n = per_pool.len();
        let (lo, med, hi) = band_of(&per_pool);
        if lo == hi {
            // Every pool has the same value (e.g. the same target): one line.
            spec.lines.push(Series {
                name: format!("{name} (all {n} pools)"),
                points: med,
                color,
                mark,
            });
            return;
        }
        spec.bands.push(Band {
            name: format!("{name}: min–max of {n} pools"),
            lower: lo,
            upper: hi,
            color,
        });
        spec.lines.push(Series {
            name: format!("{name}: median"),
            points: med,
            color,
            mark,
        });
    }
}

// ---------------------------------------------------------------------------
// The charts
// ---------------------------------------------------------------------------

/// A per-sample quantity of one pool, drawn on the pool-state chart.
#[derive(Clone, Copy, Debug)]
pub struct Gauge {
    /// Legend name.
    pub name: &'static str,
    /// Its value in a sample row.
    pub value: fn(&SampleRow) -> f64,
    /// Palette index.
    pub color: usize,
    /// How it is drawn.
    pub mark: Mark,
}

/// The reservoir gauges: ready (buffer size), target (target_ready), in use.
/// A plain-pool mode adds e.g. `Gauge { name: "open", value: |r| r.open as f64, color: 2, mark: Mark::Line }`.
pub fn reservoir_gauges() -> Vec<Gauge> {
    vec![
        Gauge {
            name: "ready (reservoir size)",
            value: |r| r.ready as f64,
            color: BLUE,
            mark: Mark::Line,
        },
        Gauge {
            name: "target",
            value: |r| r.target as f64,
            color: GREY,
            mark: Mark::Dashed,
        },
        Gauge {
            name: "in use",
            value: |r| r.in_use as f64,
            color: ORANGE,
            mark: Mark::Line,
        },
    ]
}

/// A colour for gauge/quantity `base` of run `run` (the same colours for the
/// first run, shifted for the others so runs stay apart).
fn run_color(run: usize, base: usize) -> usize {
    // Where each palette colour goes in the second and third run: blue ->
    // purple, orange -> brown, grey -> dark grey, ... (no colour of the first
    // run's standard set is reused for another quantity).
    const ALT: [[usize; 12]; 2] = [
        [4, 5, 8, 6, 0, 1, 3, 11, 2, 0, 11, 7],
        [9, 8, 5, 4, 2, 3, 1, 10, 0, 4, 7, 10],
    ];
    if run == 0 {
        base
    } else {
        ALT[(run - 1) % 2][base % PALETTE.len()]
    }
}

/// Make a file-name-safe stem from a pool name.
pub fn stem_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "pool".into()
    } else {
        s
    }
}

/// One chart per pool (or per service band, with many pools): the gauges
/// over time, e.g. ready vs target with in use on the same axis.
pub fn pool_state_charts(runs: &[Run], gauges: &[Gauge]) -> Vec<ChartSpec> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let groups = pool_groups(&names_of(first.1), MAX_LINES);
    let grouped = groups.iter().any(|g| g.pools.len() > 1);
    let mut out = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let names: Vec<&str> = g
            .pools
            .iter()
            .map(|&i| first.1.pools[i].name.as_str())
            .collect();
        let (title, caption) = if grouped {
            (
                format!("Reservoir of {} ({} pools): ready vs target, in use", g.name, g.pools.len()),
                format!(
                    "Bands span the min–max over the {} pools of {}, lines are their median: ready should sit on the dashed target; dips are demand draining the buffer, the climb back is the refiller.",
                    g.pools.len(),
                    g.name
                ),
            )
        } else {
            (
                format!("Pool {}: reservoir ready vs target, in use", g.name),
                "Ready connections should sit on the dashed target; a dip is demand draining the buffer and the climb back is the refiller's recovery; in use is what requests hold.".to_string(),
            )
        };
        let mut spec = ChartSpec::new(
            &format!("pool-{:02}-{}", gi + 1, stem_part(&g.name)),
            &title,
            caption,
            XAxis::Time,
            "connections",
        );
        spec.x_max = run_end(runs);
        for (ri, (_, obs)) in runs.iter().enumerate() {
            let idx = pools_named(obs, &names);
            for gauge in gauges {
                let per_pool: Vec<Vec<(f64, f64)>> = idx
                    .iter()
                    .map(|&p| gauge_series(obs, p, gauge.value))
                    .collect();
                add_group_curve(
                    &mut spec,
                    &label(runs, ri, gauge.name),
                    per_pool,
                    run_color(ri, gauge.color),
                    gauge.mark,
                );
            }
        }
        out.push(spec);
    }
    out
}

/// The end of the longest run, seconds.
fn run_end(runs: &[Run]) -> Option<f64> {
    runs.iter().map(|r| secs(r.1.duration)).reduce(f64::max)
}

fn all_pools(obs: &Observations) -> Vec<usize> {
    (0..obs.pools.len()).collect()
}

/// Requests per second per sample window, per pool (or service band), with
/// windows that had empty events or failed requests marked.
pub fn checkout_rate_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-rate",
        "Checkout requests per second (per sample window)",
        String::new(),
        XAxis::Time,
        "requests per second",
    );
    spec.x_max = run_end(runs);
    let max = (MAX_LINES / runs.len().max(1)).max(1);
    let mut empties = 0u64;
    let mut failures = 0u64;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let groups = pool_groups(&names_of(obs), max);
        for (gi, g) in groups.iter().enumerate() {
            let per_pool = g
                .pools
                .iter()
                .map(|&p| rate_series(obs, &[p], |c| c.requests))
                .collect();
            let c = run_color(ri, gi);
            add_group_curve(
                &mut spec,
                &label(runs, ri, &g.name),
                per_pool,
                c,
                Mark::Line,
            );
        }
        let all = all_pools(obs);
        empties += obs
            .pools
            .iter()
            .map(|p| p.counters.reservoir.empty_events)
            .sum::<u64>();
        failures += obs.pools.iter().map(|p| p.counters.failures).sum::<u64>();
        // Events on the same per-pool scale as the request lines.
        let per = all.len().max(1) as f64;
        let (what_e, what_f) = if all.len() > 1 {
            (
                "empty events/s (mean per pool)",
                "failed requests/s (mean per pool)",
            )
        } else {
            ("empty events/s", "failed requests/s")
        };
        let mean = |pts: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            pts.into_iter().map(|p| (p.0, p.1 / per)).collect()
        };
        spec.lines.push(Series {
            name: label(runs, ri, what_e),
            points: mean(nonzero(&rate_series(obs, &all, |c| {
                c.reservoir.empty_events
            }))),
            color: run_color(ri, RED),
            mark: Mark::Cross,
        });
        spec.lines.push(Series {
            name: label(runs, ri, what_f),
            points: mean(nonzero(&rate_series(obs, &all, |c| c.failures))),
            color: if ri == 0 { BLACK } else { DARK },
            mark: Mark::Triangle,
        });
    }
    spec.caption = format!(
        "Requests per second each pool served in every sample window; a red × marks a window with empty events (TryCheckout found no usable connection) and a black ▲ one with failed requests, at their per-pool rate ({} empty events and {} failures in total).",
        empties, failures
    );
    spec
}

/// Fixed colour of a discard reason.
fn discard_color(d: Discard) -> usize {
    match d {
        Discard::ReservoirFull => 7,
        Discard::ExpiredOnCheckout => 3,
        Discard::InsufficientRemainingLifetime => 1,
        Discard::ExpiredOnWait => 6,
        Discard::InsufficientRemainingLifetimeOnWait => 8,
        Discard::ExpiredOnReturn => 5,
        Discard::InsufficientRemainingLifetimeOnReturn => 9,
        Discard::ExpiredOnScan => 4,
        Discard::ExpiringSoonOnScan => 0,
    }
}

fn total_discards(c: &PoolCounters) -> u64 {
    c.reservoir.discards.iter().sum()
}

/// Discards per second by reason (stacked, all pools) and refills per second,
/// per sample window. Comparing several runs: one line of all discards and
/// one of refills per run.
pub fn discards_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "discards-refills",
        "Discards by reason (stacked) and refills, all pools",
        String::new(),
        XAxis::Time,
        "connections per second",
    );
    spec.x_max = run_end(runs);
    let mut total = 0u64;
    let mut refills = 0u64;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let all = all_pools(obs);
        total += obs
            .pools
            .iter()
            .map(|p| total_discards(&p.counters))
            .sum::<u64>();
        refills += obs
            .pools
            .iter()
            .map(|p| p.counters.refiller.refills)
            .sum::<u64>();
        if runs.len() == 1 {
            for d in Discard::ALL {
                let n: u64 = obs
                    .pools
                    .iter()
                    .map(|p| p.counters.reservoir.discards[d as usize])
                    .sum();
                if n > 0 {
                    spec.stacked.push(Series {
                        name: format!("discarded: {}", d.name()),
                        points: rate_series(obs, &all, |c| c.reservoir.discards[d as usize]),
                        color: discard_color(d),
                        mark: Mark::Line,
                    });
                }
            }
        } else {
            spec.lines.push(Series {
                name: label(runs, ri, "discards/s"),
                points: rate_series(obs, &all, total_discards),
                color: run_color(ri, RED),
                mark: Mark::Line,
            });
        }
        spec.lines.push(Series {
            name: label(runs, ri, "refills/s (connections created)"),
            points: rate_series(obs, &all, |c| c.refiller.refills),
            color: if ri == 0 { BLACK } else { run_color(ri, BLUE) },
            mark: if runs.len() == 1 {
                Mark::Line
            } else {
                Mark::Dashed
            },
        });
    }
    if total == 0 && refills == 0 {
        spec.note = Some("no discards and no refills in this run".into());
    }
    spec.caption = format!(
        "Why connections left the reservoir in each sample window, stacked by reason, against the connections the refiller created (black): refills above discards grow the buffer; reservoir_full discards mean returns found the buffer already full ({total} discards, {refills} refills in total)."
    );
    spec
}

/// Failed refills per second by reason (stacked, all pools), per sample window.
pub fn refill_failures_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "refill-failures",
        "Refill failures by reason, all pools",
        String::new(),
        XAxis::Time,
        "failed opens per second",
    );
    spec.x_max = run_end(runs);
    let colors = [4, 3, 1, 5];
    let mut total = 0u64;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let all = all_pools(obs);
        for (fi, f) in RefillFailure::ALL.into_iter().enumerate() {
            let n: u64 = obs
                .pools
                .iter()
                .map(|p| p.counters.refiller.failures[f as usize])
                .sum();
            total += n;
            if n == 0 {
                continue;
            }
            let s = Series {
                name: label(runs, ri, &format!("failed: {}", f.name())),
                points: rate_series(obs, &all, |c| c.refiller.failures[f as usize]),
                color: run_color(ri, colors[fi]),
                mark: if ri == 0 { Mark::Line } else { Mark::Dashed },
            };
            if runs.len() == 1 {
                spec.stacked.push(s);
            } else {
                spec.lines.push(s);
            }
        }
    }
    if total == 0 {
        spec.note = Some("no refill failures in this run".into());
    }
    spec.caption = format!(
        "Opens that failed in each sample window, by the step that failed (lease, rate limiter, IAM token, connect); any area here means the refiller is being refused ({total} failures in total)."
    );
    spec
}

/// A connect-rate limit drawn on the connects chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// Legend name.
    pub name: String,
    /// Connects per second.
    pub per_second: f64,
}

fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r:.2}")
    }
}

/// The connect-rate limits of a world: the cluster's sustained rate and the
/// client-side `global_rate_limit`, if any.
pub fn connect_limits(w: &WorldConfig) -> Vec<Limit> {
    let mut out = vec![Limit {
        name: format!(
            "cluster limit {}/s sustained (burst {})",
            fmt_rate(w.cluster.connect_rate),
            w.cluster.connect_burst
        ),
        per_second: w.cluster.connect_rate,
    }];
    match w.global_limiter {
        Some(LimiterConfig::TokenBucket { rate, burst }) => out.push(Limit {
            name: format!(
                "global_rate_limit {}/s (token bucket, burst {burst})",
                fmt_rate(rate)
            ),
            per_second: rate,
        }),
        Some(LimiterConfig::PerSecond { limit }) => out.push(Limit {
            name: format!("global_rate_limit {limit}/s (per-second counter)"),
            per_second: limit as f64,
        }),
        Some(LimiterConfig::FixedWindow { limit }) => out.push(Limit {
            name: format!("global_rate_limit {limit}/s (fixed window)"),
            per_second: limit as f64,
        }),
        None => {}
    }
    out
}

/// Cluster-wide connect attempts per simulated second against the limits.
pub fn connects_chart(runs: &[Run], limits: &[Limit]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "connects-per-second",
        "Cluster-wide connects per second vs the rate limit",
        String::new(),
        XAxis::Time,
        "connect attempts per second",
    );
    spec.x_max = run_end(runs);
    let mut peak = 0u32;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        peak = peak.max(obs.connects_per_second.iter().copied().max().unwrap_or(0));
        spec.lines.push(Series {
            name: label(runs, ri, "connect attempts/s (cluster-wide)"),
            points: connects_series(obs),
            color: run_color(ri, BLUE),
            mark: Mark::Line,
        });
    }
    for (i, l) in limits.iter().enumerate() {
        spec.hlines.push(HLine {
            name: l.name.clone(),
            y: l.per_second,
            color: if i == 0 { RED } else { 4 },
        });
    }
    spec.caption = format!(
        "Connect attempts that reached the cluster in each simulated second; above the dashed limit the cluster spends its burst and then refuses with 53400 (peak {peak}/s)."
    );
    spec
}

/// Open connections on the cluster over time.
pub fn cluster_connections_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "cluster-connections",
        "Open connections on the cluster",
        String::new(),
        XAxis::Time,
        "open connections",
    );
    spec.x_max = run_end(runs);
    let mut peak = 0u32;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        peak = peak.max(obs.peak_connections);
        spec.lines.push(Series {
            name: label(runs, ri, "open connections (cluster)"),
            points: cluster_connections_series(obs),
            color: run_color(ri, GREEN),
            mark: Mark::Line,
        });
    }
    spec.caption = format!(
        "Connections the cluster holds open at each sample, all pools together: ready + in use + connecting; the cluster's max_connections bounds it (peak {peak})."
    );
    spec
}

/// The checkout-latency distribution (every Open(), 0 for an immediate hit)
/// as a percentile curve, per pool or per service.
pub fn latency_distribution_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-latency-distribution",
        "Checkout latency by percentile",
        String::new(),
        XAxis::Nines,
        "checkout latency (ms)",
    );
    let max = (MAX_LINES / runs.len().max(1)).max(1);
    let mut any = false;
    let mut all_zero = true;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        for (gi, g) in pool_groups(&names_of(obs), max).iter().enumerate() {
            let mut h = obs.pools[g.pools[0]].checkout_latency.clone();
            for &p in &g.pools[1..] {
                let _ = h.add(&obs.pools[p].checkout_latency);
            }
            any |= !h.is_empty();
            all_zero &= h.max() == 0;
            let name = if g.pools.len() > 1 {
                format!("{} ({} pools merged)", g.name, g.pools.len())
            } else {
                g.name.clone()
            };
            let c = run_color(ri, gi);
            spec.lines.push(Series {
                name: label(runs, ri, &name),
                points: latency_percentiles(&h),
                color: c,
                mark: Mark::Line,
            });
        }
    }
    spec.hlines.push(HLine {
        name: "1 ms (healthy p99 bound)".into(),
        y: 1.0,
        color: GREY,
    });
    if !any {
        spec.note = Some("no checkouts in this run".into());
    } else if all_zero {
        spec.note =
            Some("every checkout was immediate (0 ms): the curve lies on the x axis".into());
    }
    spec.caption = "How long Open() took at each percentile (x: 50%, 90%, 99%, 99.9%, ..., then the maximum); immediate hits take 0 ms, a miss waits up to empty_wait; healthy is p99 below the dashed 1 ms line.".to_string();
    spec
}

/// Checkout latency over time: p50 (solid) and p99 (dashed) per sample
/// window, from `(t seconds, p50 ms, p99 ms)` per run. Not part of
/// [`run_charts`] until the model records per-window latency percentiles.
pub fn latency_over_time_chart(runs: &[(&str, &[WindowLatency])]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-latency-over-time",
        "Checkout latency per sample window: p50 and p99",
        "The median (solid) and 99th percentile (dashed) of Open() latency in each sample window; p99 rising above the 1 ms line marks windows where requests waited for connections.".to_string(),
        XAxis::Time,
        "checkout latency (ms)",
    );
    for (ri, (name, pts)) in runs.iter().enumerate() {
        let l = |what: &str| {
            if runs.len() > 1 {
                format!("{name}: {what}")
            } else {
                what.to_string()
            }
        };
        spec.lines.push(Series {
            name: l("p50"),
            points: pts.iter().map(|p| (p.0, p.1)).collect(),
            color: run_color(ri, BLUE),
            mark: Mark::Line,
        });
        spec.lines.push(Series {
            name: l("p99"),
            points: pts.iter().map(|p| (p.0, p.2)).collect(),
            color: run_color(ri, ORANGE),
            mark: Mark::Dashed,
        });
    }
    spec.hlines.push(HLine {
        name: "1 ms (healthy p99 bound)".into(),
        y: 1.0,
        color: GREY,
    });
    spec
}

/// The standard set of charts of a run (or of runs compared), in report order.
pub fn run_charts(runs: &[Run], gauges: &[Gauge], limits: &[Limit]) -> Vec<ChartSpec> {
    let mut out = pool_state_charts(runs, gauges);
    out.push(checkout_rate_chart(runs));
    out.push(discards_chart(runs));
    out.push(refill_failures_chart(runs));
    out.push(connects_chart(runs, limits));
    out.push(cluster_connections_chart(runs));
    out.push(latency_distribution_chart(runs));
    out
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// A rendered chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartFile {
    /// File stem (`charts/<stem>.png`, `charts/<stem>.svg`).
    pub stem: String,
    /// Title.
    pub title: String,
    /// What to read in it.
    pub caption: String,
    /// SVG markup.
    pub svg: String,
    /// PNG bytes.
    pub png: Vec<u8>,
}

static FONTS: Once = Once::new();

/// Register the embedded DejaVu Sans under the families plotters asks for.
/// Called by [`render`]; idempotent.
pub fn register_fonts() {
    FONTS.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            let ok = register_font(family, FontStyle::Normal, dejavu::sans::regular()).is_ok()
                && register_font(family, FontStyle::Bold, dejavu::sans::bold()).is_ok();
            assert!(ok, "the embedded DejaVu Sans font is valid");
        }
    });
}

const FONT: &str = "sans-serif";
const TITLE_SIZE: u32 = 24;
const LABEL_SIZE: u32 = 15;
const DESC_SIZE: u32 = 16;
const LEGEND_SIZE: u32 = 15;

/// One legend entry.
struct LegendItem {
    name: String,
    color: usize,
    kind: LegendKind,
}

#[derive(Clone, Copy)]
enum LegendKind {
    Line(Mark),
    Area,
    Band,
}

struct Legend {
    /// Items with their position (row, x offset in pixels).
    items: Vec<(LegendItem, u32, u32)>,
    rows: u32,
}

const SWATCH: u32 = 30;

fn legend_items(spec: &ChartSpec) -> Vec<LegendItem> {
    let mut v = Vec::new();
    // Stacked areas are listed top layer first, as they appear.
    for s in spec.stacked.iter().rev() {
        v.push(LegendItem {
            name: s.name.clone(),
            color: s.color,
            kind: LegendKind::Area,
        });
    }
    for b in &spec.bands {
        v.push(LegendItem {
            name: b.name.clone(),
            color: b.color,
            kind: LegendKind::Band,
        });
    }
    for s in &spec.lines {
        v.push(LegendItem {
            name: s.name.clone(),
            color: s.color,
            kind: LegendKind::Line(s.mark),
        });
    }
    for h in &spec.hlines {
        v.push(LegendItem {
            name: h.name.clone(),
            color: h.color,
            kind: LegendKind::Line(Mark::Dashed),
        });
    }
    v
}

fn text_width(text: &str, size: u32) -> u32 {
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or(text.len() as u32 * size / 2)
}

fn layout_legend(spec: &ChartSpec) -> Legend {
    let avail = WIDTH - 2 * 20;
    let mut items = Vec::new();
    let (mut row, mut x) = (0u32, 0u32);
    for it in legend_items(spec) {
        let w = SWATCH + 8 + text_width(&it.name, LEGEND_SIZE) + 26;
        if x > 0 && x + w > avail {
            row += 1;
            x = 0;
        }
        items.push((it, row, x));
        x += w;
    }
    let rows = if items.is_empty() { 0 } else { row + 1 };
    Legend { items, rows }
}

/// The chart type every chart here uses.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Map data points to backend pixels, dropping repeated pixels and the
/// interior points of horizontal or vertical runs: the same picture with a
/// few vertices per pixel column at most (and no zero-length segments, which
/// plotters' thick-line rasteriser turns into spikes).
fn to_pixels<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    points: &[(f64, f64)],
) -> Vec<BackendCoord> {
    let mut out: Vec<BackendCoord> = Vec::with_capacity(points.len().min(4096));
    for p in points {
        let q = chart.backend_coord(p);
        if out.last() == Some(&q) {
            continue;
        }
        let n = out.len();
        if n >= 2 {
            let (a, b) = (out[n - 2], out[n - 1]);
            let same_row = a.1 == b.1 && b.1 == q.1 && (a.0 <= b.0) == (b.0 <= q.0);
            let same_col = a.0 == b.0 && b.0 == q.0 && (a.1 <= b.1) == (b.1 <= q.1);
            if same_row || same_col {
                out[n - 1] = q;
                continue;
            }
        }
        out.push(q);
    }
    out
}

/// Cut a pixel polyline into dashes `on` pixels long with `off`-pixel gaps.
fn dashes(px: &[BackendCoord], on: u32, off: u32) -> Vec<Vec<BackendCoord>> {
    let mut out = Vec::new();
    let mut cur: Vec<BackendCoord> = Vec::new();
    let (on, off) = (on as f64, off as f64);
    let mut drawing = true;
    let mut left = on;
    for w in px.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
        let len = (dx * dx + dy * dy).sqrt();
        let at = |d: f64| {
            (
                (a.0 as f64 + dx * d / len).round() as i32,
                (a.1 as f64 + dy * d / len).round() as i32,
            )
        };
        if drawing && cur.is_empty() {
            cur.push(a);
        }
        let mut pos = 0.0;
        while len - pos > left {
            pos += left;
            cur.push(at(pos));
            if drawing {
                out.push(std::mem::take(&mut cur));
                left = off;
            } else {
                cur.clear();
                cur.push(at(pos));
                left = on;
            }
            drawing = !drawing;
        }
        left -= len - pos;
        if drawing {
            cur.push(b);
        }
    }
    if drawing && cur.len() >= 2 {
        out.push(cur);
    }
    out.retain(|d| d.len() >= 2);
    out
}

/// Stroke a pixel polyline. On a bitmap a line wider than 1 px is drawn as
/// offset 1 px lines (a square brush): plotters' polygonised thick lines
/// spike at sharp turns.
fn stroke<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    px: &[BackendCoord],
    c: RGBColor,
    width: u32,
    bitmap: bool,
) -> DrawResult<DB> {
    if px.len() < 2 {
        return Ok(());
    }
    if bitmap && width > 1 {
        let w = width as i32;
        for dx in 0..w {
            for dy in 0..w {
                let shifted: Vec<BackendCoord> = px
                    .iter()
                    .map(|p| (p.0 + dx - w / 2, p.1 + dy - w / 2))
                    .collect();
                root.draw(&PathElement::new(shifted, c.stroke_width(1)))?;
            }
        }
        Ok(())
    } else {
        root.draw(&PathElement::new(px.to_vec(), c.stroke_width(width)))
    }
}

/// A "nice" upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten, above `v`.
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

/// Tick label of a value on an axis whose largest value is `span`.
fn fmt_tick(v: f64, span: f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span >= 0.2 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// "90%", "99.9%" for a nines value.
fn fmt_nines(v: f64) -> String {
    let n = v.round();
    let p = 100.0 * (1.0 - 10f64.powf(-v));
    let decimals = if (v - n).abs() < 1e-9 {
        (n as usize).saturating_sub(2)
    } else {
        1
    };
    format!("{p:.decimals$}%")
}

/// The data ranges of a spec: (x min, x max, y max).
fn ranges(spec: &ChartSpec) -> (f64, f64, f64) {
    let mut xmin = f64::INFINITY;
    let mut xmax = f64::NEG_INFINITY;
    let mut ymax: f64 = 0.0;
    let mut see = |pts: &[(f64, f64)]| {
        for p in pts {
            xmin = xmin.min(p.0);
            xmax = xmax.max(p.0);
            ymax = ymax.max(p.1);
        }
    };
    for s in &spec.lines {
        see(&s.points);
    }
    for b in &spec.bands {
        see(&b.upper);
    }
    if let Some(first) = spec.stacked.first() {
        let n = first.points.len();
        for k in 0..n {
            let y: f64 = spec
                .stacked
                .iter()
                .filter_map(|s| s.points.get(k))
                .map(|p| p.1)
                .sum();
            xmin = xmin.min(first.points[k].0);
            xmax = xmax.max(first.points[k].0);
            ymax = ymax.max(y);
        }
    }
    if !xmin.is_finite() {
        xmin = 0.0;
        xmax = 1.0;
    }
    if let Some(x) = spec.x_max {
        xmax = xmax.max(x);
    }
    if spec.x_axis == XAxis::Time {
        xmin = xmin.min(0.0);
    }
    // A reference line is shown when it is within reach of the data (no more
    // than 3x above it), so a far-away limit does not flatten the curves.
    for h in &spec.hlines {
        if h.y <= (ymax * 3.0).max(1.0) {
            ymax = ymax.max(h.y);
        }
    }
    if xmax <= xmin {
        xmax = xmin + 1.0;
    }
    (xmin, xmax, nice_ceiling(ymax * 1.05))
}

fn shape(c: usize, width: u32) -> ShapeStyle {
    color(c).stroke_width(width)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    legend: &Legend,
    bitmap: bool,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (plot, legend_area) = root.split_vertically(PLOT_HEIGHT);
    let (xmin, xmax, ymax) = ranges(spec);
    // Time: seconds on the data, minutes on the axis of a long run.
    let (xs, xunit) = match spec.x_axis {
        XAxis::Time if xmax - xmin > 600.0 => (60.0, "simulated time (min)"),
        XAxis::Time => (1.0, "simulated time (s)"),
        XAxis::Nines => (1.0, "percentile of checkouts (log scale of 1 / (1 - p))"),
    };
    let (x0, x1) = match spec.x_axis {
        XAxis::Nines => (0.0, xmax.ceil().max(2.0)),
        XAxis::Time => (xmin / xs, xmax / xs),
    };
    let sc =
        |pts: &[(f64, f64)]| -> Vec<(f64, f64)> { pts.iter().map(|p| (p.0 / xs, p.1)).collect() };

    let title_font = (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&spec.title, title_font)
        .margin(14)
        .margin_right(56)
        .x_label_area_size(56)
        .y_label_area_size(86)
        .build_cartesian_2d(x0..x1, 0f64..ymax)?;
    let xspan = x1 - x0;
    let x_fmt = |v: &f64| match spec.x_axis {
        XAxis::Nines => fmt_nines(*v),
        XAxis::Time => fmt_tick(*v, xspan),
    };
    let y_fmt = |v: &f64| fmt_tick(*v, ymax);
    let x_labels = match spec.x_axis {
        XAxis::Nines => (x1 - x0) as usize + 1,
        XAxis::Time => 12,
    };
    chart
        .configure_mesh()
        .x_desc(xunit)
        .y_desc(spec.y_label.as_str())
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .x_labels(x_labels)
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(RGBColor(243, 243, 243))
        .axis_style(RGBColor(90, 90, 90))
        .draw()?;

    // Stacked areas.
    if let Some(first) = spec.stacked.first() {
        let n = first.points.len();
        let mut base = vec![0.0f64; n];
        for s in &spec.stacked {
            let top: Vec<f64> = (0..n)
                .map(|k| base[k] + s.points.get(k).map_or(0.0, |p| p.1))
                .collect();
            let mut poly: Vec<(f64, f64)> =
                (0..n).map(|k| (first.points[k].0 / xs, top[k])).collect();
            poly.extend((0..n).rev().map(|k| (first.points[k].0 / xs, base[k])));
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                color(s.color).mix(0.7).filled(),
            )))?;
            let edge: Vec<(f64, f64)> = (0..n).map(|k| (first.points[k].0 / xs, top[k])).collect();
            stroke(root, &to_pixels(&chart, &edge), color(s.color), 1, bitmap)?;
            base = top;
        }
    }
    // Bands.
    for b in &spec.bands {
        let mut poly = sc(&b.upper);
        poly.extend(sc(&b.lower).into_iter().rev());
        chart.draw_series(std::iter::once(Polygon::new(
            poly,
            color(b.color).mix(0.22).filled(),
        )))?;
    }
    // Reference lines.
    for h in &spec.hlines {
        if h.y <= ymax {
            let px = vec![
                chart.backend_coord(&(x0, h.y)),
                chart.backend_coord(&(x1, h.y)),
            ];
            for d in dashes(&px, 10, 6) {
                stroke(root, &d, color(h.color), 2, bitmap)?;
            }
        }
    }
    // Solid lines, then dashed lines (targets stay visible on top of the
    // quantity that tracks them), then markers.
    for s in spec.lines.iter().filter(|s| s.mark == Mark::Line) {
        let px = to_pixels(&chart, &sc(&s.points));
        stroke(root, &px, color(s.color), 2, bitmap)?;
    }
    for s in spec.lines.iter().filter(|s| s.mark == Mark::Dashed) {
        let px = to_pixels(&chart, &sc(&s.points));
        for d in dashes(&px, 9, 6) {
            stroke(root, &d, color(s.color), 2, bitmap)?;
        }
    }
    for s in &spec.lines {
        let pts = sc(&s.points);
        match s.mark {
            Mark::Cross => {
                chart.draw_series(pts.iter().map(|&p| Cross::new(p, 5, shape(s.color, 2))))?;
            }
            Mark::Triangle => {
                chart.draw_series(
                    pts.iter()
                        .map(|&p| TriangleMarker::new(p, 5, color(s.color).filled())),
                )?;
            }
            Mark::Line | Mark::Dashed => {}
        }
    }
    let note = spec
        .note
        .clone()
        .or_else(|| spec.is_empty().then(|| "no data".to_string()));
    if let Some(note) = note {
        let style = (FONT, 20)
            .into_font()
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart.draw_series(std::iter::once(Text::new(
            note,
            ((x0 + x1) / 2.0, ymax * 0.55),
            style,
        )))?;
    }

    // Legend, below the plot.
    let text_style = (FONT, LEGEND_SIZE)
        .into_font()
        .color(&BLACK_TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (it, row, x) in &legend.items {
        let x = 20 + *x as i32;
        let y = (8 + row * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        let c = color(it.color);
        match it.kind {
            LegendKind::Area => {
                legend_area.draw(&Rectangle::new(
                    [(x, y - 7), (x + SWATCH as i32, y + 7)],
                    c.mix(0.7).filled(),
                ))?;
            }
            LegendKind::Band => {
                legend_area.draw(&Rectangle::new(
                    [(x, y - 7), (x + SWATCH as i32, y + 7)],
                    c.mix(0.22).filled(),
                ))?;
            }
            LegendKind::Line(Mark::Line) => {
                legend_area.draw(&PathElement::new(
                    vec![(x, y), (x + SWATCH as i32, y)],
                    c.stroke_width(3),
                ))?;
            }
            LegendKind::Line(Mark::Dashed) => {
                for k in 0..3 {
                    let a = x + k * 12;
                    legend_area.draw(&PathElement::new(
                        vec![(a, y), (a + 7, y)],
                        c.stroke_width(3),
                    ))?;
                }
            }
            LegendKind::Line(Mark::Cross) => {
                legend_area.draw(&Cross::new(
                    (x + SWATCH as i32 / 2, y),
                    5,
                    c.stroke_width(2),
                ))?;
            }
            LegendKind::Line(Mark::Triangle) => {
                legend_area.draw(&TriangleMarker::new(
                    (x + SWATCH as i32 / 2, y),
                    6,
                    c.filled(),
                ))?;
            }
        }
        legend_area.draw(&Text::new(
            it.name.clone(),
            (x + SWATCH as i32 + 8, y),
            text_style.clone(),
        ))?;
    }
    root.present()?;
    Ok(())
}

const BLACK_TEXT: RGBColor = RGBColor(30, 30, 30);

fn height(legend: &Legend) -> u32 {
    PLOT_HEIGHT
        + if legend.rows == 0 {
            0
        } else {
            16 + legend.rows * LEGEND_ROW
        }
}

/// Render a chart as SVG markup.
pub fn render_svg(spec: &ChartSpec) -> anyhow::Result<String> {
    register_fonts();
    let legend = layout_legend(spec);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height(&legend))).into_drawing_area();
        draw(&root, spec, &legend, false)
            .map_err(|e| anyhow!("cannot draw chart {}: {e}", spec.stem))?;
    }
    Ok(svg)
}

/// Render a chart as PNG bytes.
pub fn render_png(spec: &ChartSpec) -> anyhow::Result<Vec<u8>> {
    register_fonts();
    let legend = layout_legend(spec);
    let (w, h) = (WIDTH, height(&legend));
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = TextBitmap(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        draw(&root, spec, &legend, true)
            .map_err(|e| anyhow!("cannot draw chart {}: {e}", spec.stem))?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut wr = enc.write_header()?;
        wr.write_image_data(&rgb)?;
    }
    Ok(out)
}

/// Render a chart as both SVG and PNG.
pub fn render(spec: &ChartSpec) -> anyhow::Result<ChartFile> {
    Ok(ChartFile {
        stem: spec.stem.clone(),
        title: spec.title.clone(),
        caption: spec.caption.clone(),
        svg: render_svg(spec)?,
        png: render_png(spec)?,
    })
}

/// Render several charts, in order, on up to two threads.
pub fn render_all(specs: &[ChartSpec]) -> anyhow::Result<Vec<ChartFile>> {
    register_fonts();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    if threads == 1 || specs.len() < 2 {
        return specs.iter().map(render).collect();
    }
    let chunk = specs.len().div_ceil(threads);
    let parts: Vec<anyhow::Result<Vec<ChartFile>>> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(render).collect::<anyhow::Result<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("chart rendering panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(specs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Bitmap text
// ---------------------------------------------------------------------------

/// The bitmap backend with correct text.
mod text_bitmap {
    use plotters::backend::{BitMapBackend, DrawingBackend};
    use plotters_backend::text_anchor::{HPos, VPos};
    use plotters_backend::{
        BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
    };

    /// The embedded faces, parsed once.
    fn faces() -> &'static (ab_glyph::FontRef<'static>, ab_glyph::FontRef<'static>) {
        static FACES: std::sync::OnceLock<(
            ab_glyph::FontRef<'static>,
            ab_glyph::FontRef<'static>,
        )> = std::sync::OnceLock::new();
        FACES.get_or_init(|| {
            (
                ab_glyph::FontRef::try_from_slice(dejavu::sans::regular())
                    .expect("valid DejaVu Sans"),
                ab_glyph::FontRef::try_from_slice(dejavu::sans::bold())
                    .expect("valid DejaVu Sans Bold"),
            )
        })
    }

    /// A [`BitMapBackend`] whose text is rasterised with correct glyph
    /// positions. (plotters 0.3.7's ab_glyph text drops each glyph's left side
    /// bearing and truncates advances, so "connections" reads "connecti ons".)
    /// Layout (sizes, anchors, rotation) follows plotters' own conventions, so the
    /// picture matches the SVG.
    pub(super) struct TextBitmap<'a>(pub(super) BitMapBackend<'a>);

    impl TextBitmap<'_> {
        fn glyphs<F: FnMut(i32, i32, f32)>(text: &str, size: f64, bold: bool, mut put: F) {
            use ab_glyph::{point, Font, ScaleFont};
            let face = if bold { &faces().1 } else { &faces().0 };
            let font = face.as_scaled(size as f32);
            let mut caret = 0f32;
            let mut prev: Option<ab_glyph::GlyphId> = None;
            for c in text.chars() {
                let id = font.glyph_id(c);
                if let Some(p) = prev {
                    caret += font.kern(p, id);
                }
                let glyph = id.with_scale_and_position(size as f32, point(caret, 0.0));
                if let Some(q) = font.outline_glyph(glyph) {
                    let r = q.px_bounds();
                    // plotters' vertical convention: the glyph box top at size/2 + min.y.
                    let y0 = ((size as f32) / 2.0 + r.min.y) as i32;
                    let x0 = r.min.x.round() as i32;
                    q.draw(|x, y, cov| put(x0 + x as i32, y0 + y as i32, cov));
                }
                caret += font.h_advance(id);
                prev = Some(id);
            }
        }
    }

    impl DrawingBackend for TextBitmap<'_> {
        type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

        fn get_size(&self) -> (u32, u32) {
            self.0.get_size()
        }
        fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.ensure_prepared()
        }
        fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.present()
        }
        fn draw_pixel(
            &mut self,
            p: BackendCoord,
            c: BackendColor,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.draw_pixel(p, c)
        }
        fn draw_line<S: BackendStyle>(
            &mut self,
            a: BackendCoord,
            b: BackendCoord,
            s: &S,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.draw_line(a, b, s)
        }
        fn draw_rect<S: BackendStyle>(
            &mut self,
            a: BackendCoord,
            b: BackendCoord,
            s: &S,
            fill: bool,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.draw_rect(a, b, s, fill)
        }
        fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            path: I,
            s: &S,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.draw_path(path, s)
        }
        fn draw_circle<S: BackendStyle>(
            &mut self,
            c: BackendCoord,
            r: u32,
            s: &S,
            fill: bool,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.draw_circle(c, r, s, fill)
        }
        fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            vert: I,
            s: &S,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.fill_polygon(vert, s)
        }
        fn blit_bitmap(
            &mut self,
            pos: BackendCoord,
            size: (u32, u32),
            src: &[u8],
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.0.blit_bitmap(pos, size, src)
        }

        fn draw_text<S: BackendTextStyle>(
            &mut self,
            text: &str,
            style: &S,
            pos: BackendCoord,
        ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
            let color = style.color();
            if color.alpha == 0.0 {
                return Ok(());
            }
            let ((min_x, min_y), (max_x, max_y)) = style
                .layout_box(text)
                .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
            let (width, height) = (max_x - min_x, max_y - min_y);
            let dx = match style.anchor().h_pos {
                HPos::Left => 0,
                HPos::Right => -width,
                HPos::Center => -width / 2,
            };
            let dy = match style.anchor().v_pos {
                VPos::Top => 0,
                VPos::Center => -height / 2,
                VPos::Bottom => -height,
            };
            let trans = style.transform();
            let (w, h) = self.get_size();
            let bold = matches!(style.style(), plotters_backend::FontStyle::Bold);
            let mut result = Ok(());
            Self::glyphs(text, style.size(), bold, |x, y, cov| {
                if result.is_err() || cov <= 0.0 {
                    return;
                }
                let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                    let c = BackendColor {
                        alpha: color.alpha * cov.min(1.0) as f64,
                        rgb: color.rgb,
                    };
                    result = self.0.draw_pixel((x, y), c);
                }
            });
            result
        }
    }
}
use text_bitmap::TextBitmap;
