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
//! Several runs (a comparison of modes) are drawn one colour per run
//! ([`RUN_COLORS`]), the quantity told by the line style (solid, dashed,
//! dotted, × and ▲ marks); per-pool quantities are then shown as each run's
//! totals, so a chart keeps a handful of lines.
//!
//! Output is deterministic: no clocks, no hash-map iteration, integer pixel
//! coordinates, fixed-precision labels.

use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::{
    FailCause, LimiterConfig, Observations, PoolCounters, SampleRow, Stack, WorldConfig,
};
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
const PURPLE: usize = 4;
const BROWN: usize = 5;
const PINK: usize = 6;
const GREY: usize = 7;
const OLIVE: usize = 8;
const CYAN: usize = 9;
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
    /// A dotted line (a third quantity of one colour).
    Dotted,
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
    /// A logarithmic y axis (values at or below its floor, zeros included,
    /// are drawn on the bottom line). The points keep their values.
    pub y_log: bool,
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
            y_log: false,
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

/// The gauges of pools on `stacks` (one group of a chart): `open` (physical
/// connections) and `idle` (database/sql's free list) when one of them runs
/// database/sql, `ready` (reservoir size) when one has a reservoir, then `in
/// use` and the target (dashed): `target_ready` for reservoirs,
/// `target_size` for plain pools.
pub fn gauges_for(stacks: &[Stack]) -> Vec<Gauge> {
    let reservoir = stacks.iter().any(|s| s.has_reservoir());
    let sql = stacks.iter().any(|s| *s != Stack::Direct);
    let mut v = Vec::new();
    if sql {
        v.push(Gauge {
            name: "open (physical)",
            value: |r| r.open as f64,
            color: GREEN,
            mark: Mark::Line,
        });
    }
    if reservoir {
        v.push(Gauge {
            name: "ready (reservoir size)",
            value: |r| r.ready as f64,
            color: BLUE,
            mark: Mark::Line,
        });
    }
    if sql {
        v.push(Gauge {
            name: "idle (database/sql free list)",
            value: |r| r.idle as f64,
            color: PURPLE,
            mark: Mark::Line,
        });
    }
    v.push(Gauge {
        name: "in use",
        value: |r| r.in_use as f64,
        color: ORANGE,
        mark: Mark::Line,
    });
    let all_reservoir = stacks.iter().all(|s| s.has_reservoir());
    v.push(Gauge {
        name: if !reservoir {
            "target_size (MaxOpen)"
        } else if all_reservoir {
            "target_ready"
        } else {
            "target (target_ready; target_size for plain pools)"
        },
        value: |r| r.target as f64,
        color: GREY,
        mark: Mark::Dashed,
    });
    v
}

/// The gauges of a direct-stack reservoir: ready, in use, target_ready.
pub fn reservoir_gauges() -> Vec<Gauge> {
    gauges_for(&[Stack::Direct])
}

/// Colours of the runs of a comparison, in run order: every series of a run
/// has its run's colour (and the quantity is told by the line style).
pub const RUN_COLORS: [usize; 8] = [BLUE, ORANGE, GREEN, PURPLE, BROWN, PINK, CYAN, OLIVE];

/// Colours of the pools (or services) of one run's per-pool lines; red,
/// black and the failure colours are kept for event marks.
const GROUP_COLORS: [usize; 8] = [BLUE, ORANGE, GREEN, CYAN, OLIVE, GREY, DARK, PURPLE];

/// The colour of run `ri` of a comparison.
pub fn run_color(ri: usize) -> usize {
    RUN_COLORS[ri % RUN_COLORS.len()]
}

/// The colour of a quantity: `base` in a single run, the run's colour when
/// comparing.
fn hue(runs: &[Run], ri: usize, base: usize) -> usize {
    if runs.len() > 1 {
        run_color(ri)
    } else {
        base
    }
}

/// The line style of run `ri` in a chart that draws one quantity per run:
/// solid, dashed, dotted, so that runs whose lines coincide stay visible.
fn run_mark(runs: &[Run], ri: usize) -> Mark {
    if runs.len() > 1 {
        [Mark::Line, Mark::Dashed, Mark::Dotted][ri % 3]
    } else {
        Mark::Line
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

/// What the pool-state chart of pools on `stacks` shows (title part) and
/// how to read it (caption).
fn pool_state_text(stacks: &[Stack]) -> (&'static str, &'static str) {
    let reservoir = stacks.iter().any(|s| s.has_reservoir());
    let sql = stacks.iter().any(|s| *s != Stack::Direct);
    match (reservoir, sql) {
        (true, false) => (
            "reservoir ready vs target, in use",
            "Ready connections should sit on the dashed target_ready; a dip is demand draining the buffer and the climb back is the refiller's recovery; in use is what requests hold.",
        ),
        (true, true) => (
            "reservoir ready vs target, idle, open, in use",
            "Ready (the reservoir buffer) should sit on the dashed target_ready. database/sql keeps the connections it took from the reservoir on its free list (idle) and hands them back only when it closes them, so open = ready + idle + in use is what the cluster sees, and ready + idle is the reserve.",
        ),
        (false, _) => (
            "open vs target_size, idle, in use",
            "Open physical connections (ready + idle + in use) against the dashed target_size (MaxOpen): in use is what requests hold, idle is database/sql's free list. Requests queue once in use reaches target_size; open below the target means closed connections (max_idle, lifetime, server close) must be reopened on demand.",
        ),
    }
}

/// One chart per pool (or per service band, with many pools): the gauges of
/// the pool's stack over time ([`gauges_for`]), e.g. ready vs target with in
/// use on the same axis.
///
/// Several runs (a comparison): every run in its own colour, showing the
/// quantities every stack has: open physical connections (solid), in use
/// (dotted) and the target (dashed, one grey line when every run has the
/// same). A group of several pools is then drawn as the group's totals.
pub fn pool_state_charts(runs: &[Run]) -> Vec<ChartSpec> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let groups = pool_groups(&names_of(first.1), MAX_LINES);
    let mut out = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let names: Vec<&str> = g
            .pools
            .iter()
            .map(|&i| first.1.pools[i].name.as_str())
            .collect();
        let stem = format!("pool-{:02}-{}", gi + 1, stem_part(&g.name));
        let spec = if runs.len() == 1 {
            pool_state_single(&stem, g, first.1)
        } else {
            pool_state_overlay(&stem, g, runs, &names)
        };
        out.push(spec);
    }
    out
}

fn pool_state_single(stem: &str, g: &PoolGroup, obs: &Observations) -> ChartSpec {
    let stacks: Vec<Stack> = g.pools.iter().map(|&i| obs.pools[i].stack).collect();
    let (what, how) = pool_state_text(&stacks);
    let n = g.pools.len();
    let (title, caption) = if n > 1 {
        (
            format!("{} ({n} pools): {what}", g.name),
            format!(
                "Bands span the min–max over the {n} pools of {}, lines are their median. {how}",
                g.name
            ),
        )
    } else {
        (format!("Pool {}: {what}", g.name), how.to_string())
    };
    let mut spec = ChartSpec::new(stem, &title, caption, XAxis::Time, "connections");
    spec.x_max = Some(secs(obs.duration));
    for gauge in gauges_for(&stacks) {
        let per_pool: Vec<Points> = g
            .pools
            .iter()
            .map(|&p| gauge_series(obs, p, gauge.value))
            .collect();
        add_group_curve(&mut spec, gauge.name, per_pool, gauge.color, gauge.mark);
    }
    spec
}

fn pool_state_overlay(stem: &str, g: &PoolGroup, runs: &[Run], names: &[&str]) -> ChartSpec {
    let n = g.pools.len();
    let (title, caption) = if n > 1 {
        (
            format!("{} ({n} pools, summed): open and in-use connections", g.name),
            format!(
                "One colour per run; totals over the {n} pools of {}: open physical connections (solid; ready + idle + in use), connections held by requests (dotted) and the target (dashed). The gap between open and in use is the reserve each run keeps.",
                g.name
            ),
        )
    } else {
        (
            format!("Pool {}: open and in-use connections", g.name),
            "One colour per run: open physical connections (solid; ready + idle + in use), connections held by requests (dotted) and the target (dashed: target_ready, or target_size for a plain pool). The gap between open and in use is the reserve each run keeps.".to_string(),
        )
    };
    let mut spec = ChartSpec::new(stem, &title, caption, XAxis::Time, "connections");
    spec.x_max = run_end(runs);
    let mut targets: Vec<Points> = Vec::new();
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let idx = pools_named(obs, names);
        let c = run_color(ri);
        spec.lines.push(Series {
            name: label(runs, ri, "open (physical)"),
            points: gauge_sum_series(obs, &idx, |r| r.open as f64),
            color: c,
            mark: Mark::Line,
        });
        spec.lines.push(Series {
            name: label(runs, ri, "in use"),
            points: gauge_sum_series(obs, &idx, |r| r.in_use as f64),
            color: c,
            mark: Mark::Dotted,
        });
        targets.push(gauge_sum_series(obs, &idx, |r| r.target as f64));
    }
    if targets.windows(2).all(|w| w[0] == w[1]) {
        spec.lines.push(Series {
            name: "target (every run)".into(),
            points: targets.swap_remove(0),
            color: GREY,
            mark: Mark::Dashed,
        });
    } else {
        for (ri, points) in targets.into_iter().enumerate() {
            spec.lines.push(Series {
                name: label(runs, ri, "target"),
                points,
                color: run_color(ri),
                mark: Mark::Dashed,
            });
        }
    }
    spec
}

/// The end of the longest run, seconds.
fn run_end(runs: &[Run]) -> Option<f64> {
    runs.iter().map(|r| secs(r.1.duration)).reduce(f64::max)
}

fn all_pools(obs: &Observations) -> Vec<usize> {
    (0..obs.pools.len()).collect()
}

fn any_reservoir(obs: &Observations) -> bool {
    obs.pools.iter().any(|p| p.stack.has_reservoir())
}

/// Fixed colour of a request-failure cause.
fn cause_color(f: FailCause) -> usize {
    match f {
        FailCause::Deadline => BLACK,
        FailCause::NoConnection => PURPLE,
        FailCause::OpenFailed => BROWN,
        FailCause::BadConn => PINK,
        FailCause::Unavailable => OLIVE,
    }
}

/// Failed requests by cause, summed over all pools, in words ("none").
fn failures_in_words(obs: &Observations) -> String {
    let parts: Vec<String> = FailCause::ALL
        .iter()
        .filter_map(|&f| {
            let n: u64 = obs
                .pools
                .iter()
                .map(|p| p.counters.failed[f as usize])
                .sum();
            (n > 0).then(|| format!("{n} {}", f.name()))
        })
        .collect();
    if parts.is_empty() {
        "no failures".into()
    } else {
        format!("failures: {}", parts.join(", "))
    }
}

/// Requests per second per sample window, per pool (or service band), with
/// the windows that had empty events (×) or failed requests (▲, one colour
/// per cause) marked. Several runs: each run's total over all pools, with its
/// empty events and failures, in the run's colour.
pub fn checkout_rate_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-rate",
        "Requests per second (per sample window)",
        String::new(),
        XAxis::Time,
        "requests per second",
    );
    spec.x_max = run_end(runs);
    if runs.len() > 1 {
        let mut totals = Vec::new();
        for (ri, (name, obs)) in runs.iter().enumerate() {
            let all = all_pools(obs);
            let c = run_color(ri);
            spec.lines.push(Series {
                name: label(runs, ri, "requests/s (all pools)"),
                points: rate_series(obs, &all, |c| c.requests),
                color: c,
                mark: run_mark(runs, ri),
            });
            let empties: u64 = obs
                .pools
                .iter()
                .map(|p| p.counters.reservoir.empty_events)
                .sum();
            // Only the marks a run has (the caption gives every run's totals).
            let marks = [
                (
                    "empty events/s",
                    nonzero(&rate_series(obs, &all, |c| c.reservoir.empty_events)),
                    Mark::Cross,
                ),
                (
                    "failed requests/s",
                    nonzero(&rate_series(obs, &all, |c| c.failures)),
                    Mark::Triangle,
                ),
            ];
            for (what, points, mark) in marks {
                if !points.is_empty() {
                    spec.lines.push(Series {
                        name: label(runs, ri, what),
                        points,
                        color: c,
                        mark,
                    });
                }
            }
            totals.push(format!(
                "{name}: {empties} empty events, {}",
                failures_in_words(obs)
            ));
        }
        spec.caption = format!(
            "Requests per second over all pools in each sample window, one colour per run (runs of one scenario see the same arrivals, so their lines overlap); × marks windows with empty events (TryCheckout found no usable connection) and ▲ windows with failed requests, at their rate ({}).",
            totals.join("; ")
        );
        return spec;
    }
    let Some((_, obs)) = runs.first() else {
        return spec;
    };
    let groups = pool_groups(&names_of(obs), MAX_LINES);
    for (gi, g) in groups.iter().enumerate() {
        let per_pool = g
            .pools
            .iter()
            .map(|&p| rate_series(obs, &[p], |c| c.requests))
            .collect();
        add_group_curve(
            &mut spec,
            &g.name,
            per_pool,
            GROUP_COLORS[gi % GROUP_COLORS.len()],
            Mark::Line,
        );
    }
    let all = all_pools(obs);
    // Events on the same per-pool scale as the request lines.
    let per = all.len().max(1) as f64;
    let suffix = if all.len() > 1 {
        " (mean per pool)"
    } else {
        ""
    };
    let mean = |pts: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        pts.into_iter().map(|p| (p.0, p.1 / per)).collect()
    };
    let empties: u64 = obs
        .pools
        .iter()
        .map(|p| p.counters.reservoir.empty_events)
        .sum();
    if any_reservoir(obs) {
        spec.lines.push(Series {
            name: format!("empty events/s{suffix}"),
            points: mean(nonzero(&rate_series(obs, &all, |c| {
                c.reservoir.empty_events
            }))),
            color: RED,
            mark: Mark::Cross,
        });
    }
    for f in FailCause::ALL {
        let n: u64 = obs
            .pools
            .iter()
            .map(|p| p.counters.failed[f as usize])
            .sum();
        if n == 0 {
            continue;
        }
        spec.lines.push(Series {
            name: format!("failed requests/s, {}{suffix}", f.name()),
            points: mean(nonzero(&rate_series(obs, &all, |c| c.failed[f as usize]))),
            color: cause_color(f),
            mark: Mark::Triangle,
        });
    }
    spec.caption = format!(
        "Requests per second each pool served in every sample window; a red × marks a window with empty events (TryCheckout found no usable connection) and a ▲ one with failed requests, coloured by cause (deadline: the request timed out waiting; no_connection: the reservoir's Open() failed or database/sql's retries ran out; open_failed: its own open was refused; bad_conn: a server-closed connection), at their per-pool rate ({empties} empty events, {}).",
        failures_in_words(obs)
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

/// Fixed colour of a database/sql close cause.
fn close_color(c: CloseCause) -> usize {
    match c {
        CloseCause::Lifetime => PURPLE,
        CloseCause::IdleTime => CYAN,
        CloseCause::MaxIdle => GREY,
        CloseCause::Bad => RED,
    }
}

fn total_discards(c: &PoolCounters) -> u64 {
    c.reservoir.discards.iter().sum()
}

/// The plain pools of a run: their database/sql closes are physical closes
/// (in the `database_sql` stack a close hands the connection back to the
/// reservoir, whose discards count it).
fn plain_pools(obs: &Observations) -> Vec<usize> {
    (0..obs.pools.len())
        .filter(|&i| obs.pools[i].stack == Stack::Plain)
        .collect()
}

fn total_closes(c: &PoolCounters) -> u64 {
    c.sql.closes.iter().sum()
}

/// Connections removed per second by reason (stacked, all pools): reservoir
/// discards, and the database/sql closes of plain pools; and connections
/// created per second, per sample window. Several runs: one line of all
/// removals and one (dashed) of creations per run.
pub fn discards_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "discards-refills",
        if runs.len() > 1 {
            "Connections discarded or closed, and created"
        } else {
            "Connections discarded or closed by reason (stacked), and created"
        },
        String::new(),
        XAxis::Time,
        "connections per second",
    );
    spec.x_max = run_end(runs);
    let (mut discards, mut closes, mut created) = (0u64, 0u64, 0u64);
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let all = all_pools(obs);
        let plain = plain_pools(obs);
        let run_discards: u64 = obs.pools.iter().map(|p| total_discards(&p.counters)).sum();
        let run_closes: u64 = plain
            .iter()
            .map(|&i| total_closes(&obs.pools[i].counters))
            .sum();
        discards += run_discards;
        closes += run_closes;
        created += obs.pools.iter().map(|p| p.counters.created).sum::<u64>();
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
            for k in CloseCause::ALL {
                let n: u64 = plain
                    .iter()
                    .map(|&i| obs.pools[i].counters.sql.closes[k as usize])
                    .sum();
                if n > 0 {
                    spec.stacked.push(Series {
                        name: format!("closed: {}", k.name()),
                        points: rate_series(obs, &plain, |c| c.sql.closes[k as usize]),
                        color: close_color(k),
                        mark: Mark::Line,
                    });
                }
            }
        } else {
            let removed: Points = rate_series(obs, &all, total_discards)
                .into_iter()
                .zip(rate_series(obs, &plain, total_closes))
                .map(|(a, b)| (a.0, a.1 + b.1))
                .collect();
            spec.lines.push(Series {
                name: label(runs, ri, "discarded or closed/s"),
                points: removed,
                color: run_color(ri),
                mark: Mark::Line,
            });
        }
        spec.lines.push(Series {
            name: label(runs, ri, "connections created/s"),
            points: rate_series(obs, &all, |c| c.created),
            color: hue(runs, ri, BLACK),
            mark: if runs.len() == 1 {
                Mark::Line
            } else {
                Mark::Dashed
            },
        });
    }
    if discards == 0 && closes == 0 && created == 0 {
        spec.note = Some("no connections created, discarded or closed in this run".into());
    }
    let key = if runs.len() == 1 {
        "stacked by reason, against the connections created (black)"
    } else {
        "one colour per run: removed (solid) against created (dashed)"
    };
    spec.caption = format!(
        "Connections that left in each sample window, {key}: reservoir discards, and the database/sql closes of plain pools. Creation above removal grows the pool; reservoir_full discards are returns that found the buffer full, max_idle closes returns that found MaxIdle connections idle, expiry and lifetime removals are turnover ({discards} discards, {closes} closes, {created} connections created in total)."
    );
    spec
}

/// Failed opens per second by reason (stacked, all pools), per sample window:
/// every opener's (the refiller, database/sql, the warmup, the keeper).
/// Several runs: one line of all failed opens per run.
pub fn refill_failures_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "refill-failures",
        if runs.len() > 1 {
            "Failed opens, all pools"
        } else {
            "Failed opens by reason, all pools"
        },
        String::new(),
        XAxis::Time,
        "failed opens per second",
    );
    spec.x_max = run_end(runs);
    let colors = [PURPLE, RED, ORANGE, BROWN];
    let mut total = 0u64;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let all = all_pools(obs);
        let run_total: u64 = obs
            .pools
            .iter()
            .map(|p| p.counters.open_failures.iter().sum::<u64>())
            .sum();
        total += run_total;
        if runs.len() > 1 {
            spec.lines.push(Series {
                name: label(runs, ri, "failed opens/s"),
                points: rate_series(obs, &all, |c| c.open_failures.iter().sum()),
                color: run_color(ri),
                mark: run_mark(runs, ri),
            });
            continue;
        }
        for (fi, f) in RefillFailure::ALL.into_iter().enumerate() {
            let n: u64 = obs
                .pools
                .iter()
                .map(|p| p.counters.open_failures[f as usize])
                .sum();
            if n > 0 {
                spec.stacked.push(Series {
                    name: format!("failed: {}", f.name()),
                    points: rate_series(obs, &all, |c| c.open_failures[f as usize]),
                    color: colors[fi % colors.len()],
                    mark: Mark::Line,
                });
            }
        }
    }
    if total == 0 {
        spec.note = Some("no failed opens in this run".into());
    }
    let how = if runs.len() > 1 {
        "all reasons together, one colour and line style per run (each run's own report splits them by the step that failed: lease, rate limiter, IAM token, connect)"
    } else {
        "by the step that failed (lease, rate limiter, IAM token, connect)"
    };
    spec.caption = format!(
        "Opens that failed in each sample window, {how}, whoever opened: the refiller, or database/sql, the warmup and the keeper of a plain pool. Any area or line here means opens are being refused ({total} failures in total)."
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
    let mut peaks = Vec::new();
    for (ri, (name, obs)) in runs.iter().enumerate() {
        let peak = obs.connects_per_second.iter().copied().max().unwrap_or(0);
        peaks.push(if runs.len() > 1 {
            format!("{name} {peak}/s")
        } else {
            format!("{peak}/s")
        });
        spec.lines.push(Series {
            name: label(runs, ri, "connect attempts/s (cluster-wide)"),
            points: connects_series(obs),
            color: hue(runs, ri, BLUE),
            mark: run_mark(runs, ri),
        });
    }
    for (i, l) in limits.iter().enumerate() {
        spec.hlines.push(HLine {
            name: l.name.clone(),
            y: l.per_second,
            color: if i == 0 { RED } else { DARK },
        });
    }
    spec.caption = format!(
        "Connect attempts that reached the cluster in each simulated second; above the dashed limit the cluster spends its burst and then refuses with 53400 (peak {}).",
        peaks.join(", ")
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
    let mut peaks = Vec::new();
    for (ri, (name, obs)) in runs.iter().enumerate() {
        peaks.push(if runs.len() > 1 {
            format!("{name} {}", obs.peak_connections)
        } else {
            obs.peak_connections.to_string()
        });
        spec.lines.push(Series {
            name: label(runs, ri, "open connections (cluster)"),
            points: cluster_connections_series(obs),
            color: hue(runs, ri, GREEN),
            mark: run_mark(runs, ri),
        });
    }
    spec.caption = format!(
        "Connections the cluster holds open at each sample, all pools together: ready + idle + in use + connecting; the cluster's max_connections bounds it (peak {}).",
        peaks.join(", ")
    );
    spec
}

/// The wait-latency distribution (every request's wait for a connection, 0
/// for an immediate hit) as a percentile curve, per pool or per service.
/// Several runs: one curve per run, all pools merged.
pub fn latency_distribution_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-latency-distribution",
        "Wait for a connection, by percentile",
        String::new(),
        XAxis::Nines,
        "wait for a connection (ms)",
    );
    let mut any = false;
    let mut all_zero = true;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let groups = if runs.len() > 1 {
            pool_groups(&names_of(obs), 1)
        } else {
            pool_groups(&names_of(obs), MAX_LINES)
        };
        for (gi, g) in groups.iter().enumerate() {
            let Some(&p0) = g.pools.first() else {
                continue;
            };
            let mut h = obs.pools[p0].checkout_latency.clone();
            for &p in &g.pools[1..] {
                let _ = h.add(&obs.pools[p].checkout_latency);
            }
            any |= !h.is_empty();
            all_zero &= h.max() == 0;
            let name = if runs.len() > 1 {
                label(runs, ri, "all pools")
            } else if g.pools.len() > 1 {
                format!("{} ({} pools merged)", g.name, g.pools.len())
            } else {
                g.name.clone()
            };
            spec.lines.push(Series {
                name,
                points: latency_percentiles(&h),
                color: hue(runs, ri, GROUP_COLORS[gi % GROUP_COLORS.len()]),
                mark: run_mark(runs, ri),
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
    spec.y_log = any_positive(&spec);
    spec.caption = format!(
        "How long requests waited for a connection at each percentile (x: 50%, 90%, 99%, 99.9%, ..., then the maximum); immediate hits wait 0 ms, a reservoir miss up to empty_wait, a queued database/sql request up to its request_timeout; healthy is p99 below the dashed 1 ms line.{}",
        if spec.y_log {
            " Log scale: waits of 0 ms lie on the bottom line."
        } else {
            ""
        }
    );
    spec
}

/// Nanoseconds to milliseconds.
fn ms(ns: u64) -> f64 {
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

/// Whether a chart has a positive value: latencies are then drawn on a log
/// axis (they span decades: 0 for hits, µs to ms for a refill, seconds for a
/// request that times out; on a linear axis the small ones vanish).
fn any_positive(spec: &ChartSpec) -> bool {
    spec.lines
        .iter()
        .any(|s| s.points.iter().any(|p| p.1 > 0.0))
}

/// The wait for a connection over time: p50 (solid) and p99 (dashed) of the
/// waits that ended in each sample window (`wait_p50_ns`, `wait_p99_ns`), per
/// pool; with more than 4 pools, per service: the median of its pools' p50
/// and the worst of their p99. Several runs: one colour per run, all pools.
pub fn latency_over_time_chart(runs: &[Run]) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-latency-over-time",
        "Wait for a connection per sample window: p50 and p99",
        String::new(),
        XAxis::Time,
        "wait for a connection (ms)",
    );
    spec.x_max = run_end(runs);
    let single = runs.len() == 1;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let groups = if single {
            pool_groups(&names_of(obs), MAX_LINES / 2)
        } else {
            pool_groups(&names_of(obs), 1)
        };
        let named = groups.len() > 1;
        for (gi, g) in groups.iter().enumerate() {
            let c = hue(runs, ri, GROUP_COLORS[gi % GROUP_COLORS.len()]);
            let p50s: Vec<Points> = g
                .pools
                .iter()
                .map(|&p| gauge_series(obs, p, |r| ms(r.wait_p50_ns)))
                .collect();
            let p99s: Vec<Points> = g
                .pools
                .iter()
                .map(|&p| gauge_series(obs, p, |r| ms(r.wait_p99_ns)))
                .collect();
            let n = g.pools.len();
            let (what50, what99) = if n > 1 {
                (
                    format!("p50 (median of {n} pools)"),
                    format!("p99 (worst of {n} pools)"),
                )
            } else {
                ("p50".to_string(), "p99".to_string())
            };
            let (p50, p99) = if n > 1 {
                (band_of(&p50s).1, band_of(&p99s).2)
            } else {
                (
                    p50s.into_iter().next().unwrap_or_default(),
                    p99s.into_iter().next().unwrap_or_default(),
                )
            };
            let (n50, n99) = if named {
                (
                    format!("{}: {what50}", g.name),
                    format!("{}: {what99}", g.name),
                )
            } else {
                (label(runs, ri, &what50), label(runs, ri, &what99))
            };
            spec.lines.push(Series {
                name: n50,
                points: p50,
                color: c,
                mark: Mark::Line,
            });
            spec.lines.push(Series {
                name: n99,
                points: p99,
                color: if single && !named { ORANGE } else { c },
                mark: Mark::Dashed,
            });
        }
    }
    spec.hlines.push(HLine {
        name: "1 ms (healthy p99 bound)".into(),
        y: 1.0,
        color: GREY,
    });
    if spec
        .lines
        .iter()
        .all(|s| s.points.iter().all(|p| p.1 == 0.0))
    {
        spec.note = Some("no request waited in this run".into());
    }
    spec.y_log = any_positive(&spec);
    spec.caption = format!(
        "The median (solid) and 99th percentile (dashed) of the waits for a connection that ended in each sample window (immediate hits count as 0 ms, failed requests with the time they waited); p99 above the 1 ms line marks windows where requests waited.{}",
        if spec.y_log {
            " Log scale: windows where the value is 0 (no waits) lie on the bottom line."
        } else {
            ""
        }
    );
    spec
}

/// The standard set of charts of a run (or of runs compared), in report
/// order: pool state per pool, request rate, discards and closes, failed
/// opens, connects, cluster connections, wait over time, wait distribution.
pub fn run_charts(runs: &[Run], limits: &[Limit]) -> Vec<ChartSpec> {
    let mut out = pool_state_charts(runs);
    out.push(checkout_rate_chart(runs));
    out.push(discards_chart(runs));
    out.push(refill_failures_chart(runs));
    out.push(connects_chart(runs, limits));
    out.push(cluster_connections_chart(runs));
    out.push(latency_over_time_chart(runs));
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

/// Tick label of a log axis at `v` = log10(value): "0.01", "1", "100"; the
/// bottom tick `lo` reads "≤0.01" (it also carries zeros); blank between
/// decades.
fn fmt_decade(v: f64, lo: f64) -> String {
    let k = v.round();
    if (v - k).abs() > 1e-6 {
        return String::new();
    }
    let e = k as i32;
    let s = if e < 0 {
        format!("{:.*}", (-e) as usize, 10f64.powi(e))
    } else {
        format!("{}", 10u64.saturating_pow(e as u32))
    };
    if (k - lo).abs() < 1e-6 {
        format!("≤{s}")
    } else {
        s
    }
}

/// The y axis: linear from 0, or log10 between two powers of ten.
#[derive(Clone, Copy, Debug)]
struct YScale {
    log: bool,
    /// Axis bounds in axis coordinates (log10 of the value on a log axis).
    lo: f64,
    hi: f64,
}

impl YScale {
    /// A value in axis coordinates (on a log axis, at least the floor).
    fn at(&self, y: f64) -> f64 {
        if self.log {
            if y > 0.0 {
                y.log10().max(self.lo)
            } else {
                self.lo
            }
        } else {
            y
        }
    }

    /// Whether a reference line at value `y` is on the axis.
    fn shows(&self, y: f64) -> bool {
        let a = if self.log {
            if y > 0.0 {
                y.log10()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            y
        };
        a >= self.lo && a <= self.hi
    }
}

/// Smallest floor of a log axis, ms or whatever the unit: 10^-3.
const LOG_FLOOR_EXP: f64 = -3.0;

/// The y axis of a spec whose largest value (reference lines within reach
/// included) is `ymax` and smallest positive value `ymin_pos` (linear: from
/// 0 to a nice ceiling; log: whole decades around the positive values and
/// the reference lines, the bottom at least 10^-3).
fn y_scale(spec: &ChartSpec, ymax: f64, ymin_pos: f64) -> YScale {
    if spec.y_log && ymin_pos.is_finite() && ymin_pos > 0.0 {
        // The bottom decade strictly below the smallest positive value and
        // every reference line, so that zeros (drawn on the bottom line)
        // stay apart from them.
        let m = spec
            .hlines
            .iter()
            .map(|h| h.y)
            .filter(|&y| y > 0.0)
            .fold(ymin_pos, f64::min);
        let lo = (m.log10().ceil() - 1.0).max(LOG_FLOOR_EXP);
        let hi = (ymax.log10() + 0.02).ceil().max(lo + 1.0);
        YScale { log: true, lo, hi }
    } else {
        YScale {
            log: false,
            lo: 0.0,
            hi: nice_ceiling(ymax * 1.05),
        }
    }
}

/// The data ranges of a spec: (x min, x max, y max, smallest positive y);
/// y max includes the reference lines within reach.
fn ranges(spec: &ChartSpec) -> (f64, f64, f64, f64) {
    let mut xmin = f64::INFINITY;
    let mut xmax = f64::NEG_INFINITY;
    let mut ymax: f64 = 0.0;
    let mut ymin_pos = f64::INFINITY;
    let mut see = |pts: &[(f64, f64)]| {
        for p in pts {
            xmin = xmin.min(p.0);
            xmax = xmax.max(p.0);
            ymax = ymax.max(p.1);
            if p.1 > 0.0 {
                ymin_pos = ymin_pos.min(p.1);
            }
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
    (xmin, xmax, ymax, ymin_pos)
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
    let (xmin, xmax, ymax, ymin_pos) = ranges(spec);
    let ys = y_scale(spec, ymax, ymin_pos);
    // Time: seconds on the data, minutes on the axis of a long run.
    let (xs, xunit) = match spec.x_axis {
        XAxis::Time if xmax - xmin > 600.0 => (60.0, "simulated time (min)"),
        XAxis::Time => (1.0, "simulated time (s)"),
        XAxis::Nines => (1.0, "percentile of requests (log scale of 1 / (1 - p))"),
    };
    let (x0, x1) = match spec.x_axis {
        XAxis::Nines => (0.0, xmax.ceil().max(2.0)),
        XAxis::Time => (xmin / xs, xmax / xs),
    };
    let sc = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter().map(|p| (p.0 / xs, ys.at(p.1))).collect()
    };
    let y_desc = if ys.log {
        format!("{} (log scale)", spec.y_label)
    } else {
        spec.y_label.clone()
    };

    let title_font = (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&spec.title, title_font)
        .margin(14)
        .margin_right(56)
        .x_label_area_size(56)
        .y_label_area_size(86)
        .build_cartesian_2d(x0..x1, ys.lo..ys.hi)?;
    let xspan = x1 - x0;
    let x_fmt = |v: &f64| match spec.x_axis {
        XAxis::Nines => fmt_nines(*v),
        XAxis::Time => fmt_tick(*v, xspan),
    };
    let y_fmt = |v: &f64| {
        if ys.log {
            fmt_decade(*v, ys.lo)
        } else {
            fmt_tick(*v, ys.hi)
        }
    };
    let x_labels = match spec.x_axis {
        XAxis::Nines => (x1 - x0) as usize + 1,
        XAxis::Time => 12,
    };
    let y_labels = if ys.log {
        (ys.hi - ys.lo) as usize + 1
    } else {
        8
    };
    let light = if ys.log {
        // Plotters' minor lines would split decades evenly; the log minor
        // lines (2..9 x 10^k) are drawn below instead.
        WHITE
    } else {
        RGBColor(243, 243, 243)
    };
    chart
        .configure_mesh()
        .x_desc(xunit)
        .y_desc(y_desc.as_str())
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .x_labels(x_labels)
        .y_labels(y_labels)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(light)
        .axis_style(RGBColor(90, 90, 90))
        .draw()?;
    if ys.log {
        let mut k = ys.lo;
        while k < ys.hi {
            for m in 2..10 {
                let y = k + (m as f64).log10();
                let px = [chart.backend_coord(&(x0, y)), chart.backend_coord(&(x1, y))];
                root.draw(&PathElement::new(px.to_vec(), RGBColor(238, 238, 238)))?;
            }
            k += 1.0;
        }
    }

    // Stacked areas.
    if let Some(first) = spec.stacked.first() {
        let n = first.points.len();
        let mut base = vec![0.0f64; n];
        for s in &spec.stacked {
            let top: Vec<f64> = (0..n)
                .map(|k| base[k] + s.points.get(k).map_or(0.0, |p| p.1))
                .collect();
            let mut poly: Vec<(f64, f64)> = (0..n)
                .map(|k| (first.points[k].0 / xs, ys.at(top[k])))
                .collect();
            poly.extend(
                (0..n)
                    .rev()
                    .map(|k| (first.points[k].0 / xs, ys.at(base[k]))),
            );
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                color(s.color).mix(0.7).filled(),
            )))?;
            let edge: Vec<(f64, f64)> = (0..n)
                .map(|k| (first.points[k].0 / xs, ys.at(top[k])))
                .collect();
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
        if ys.shows(h.y) {
            let y = ys.at(h.y);
            let px = vec![chart.backend_coord(&(x0, y)), chart.backend_coord(&(x1, y))];
            for d in dashes(&px, 10, 6) {
                stroke(root, &d, color(h.color), 2, bitmap)?;
            }
        }
    }
    // Solid lines, then dashed and dotted lines (targets stay visible on top
    // of the quantity that tracks them), then markers.
    for s in spec.lines.iter().filter(|s| s.mark == Mark::Line) {
        let px = to_pixels(&chart, &sc(&s.points));
        stroke(root, &px, color(s.color), 2, bitmap)?;
    }
    for s in &spec.lines {
        let (on, off) = match s.mark {
            Mark::Dashed => (9, 6),
            Mark::Dotted => (3, 4),
            _ => continue,
        };
        let px = to_pixels(&chart, &sc(&s.points));
        for d in dashes(&px, on, off) {
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
            Mark::Line | Mark::Dashed | Mark::Dotted => {}
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
            ((x0 + x1) / 2.0, ys.lo + (ys.hi - ys.lo) * 0.55),
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
            LegendKind::Line(Mark::Dotted) => {
                for k in 0..5 {
                    let a = x + k * 7;
                    legend_area.draw(&PathElement::new(
                        vec![(a, y), (a + 3, y)],
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
