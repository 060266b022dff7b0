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
//! Files, by job: [`spec`] (what a chart shows), [`series`] (data
//! preparation from the observations), [`groups`] (pools as lines or bands),
//! [`style`] (colours and dashes), one file per chart family
//! ([`pool_state`], [`requests`], [`connections`], [`latency`], and
//! [`intervals`]: the error bars of `compare --seeds`), [`overlay`]
//! (the layouts of compared runs), and the drawing: [`axes`], [`render`],
//! `text_bitmap`.
//!
//! Output is deterministic: no clocks, no hash-map iteration, integer pixel
//! coordinates, fixed-precision labels.

pub mod axes;
pub mod connections;
pub mod decor;
pub mod groups;
pub mod intervals;
pub mod latency;
pub mod overlay;
pub mod pool_state;
pub mod render;
pub mod requests;
pub mod series;
pub mod spec;
pub mod style;
mod text_bitmap;

pub use axes::nice_ceiling;
pub use connections::{
    cluster_connections_chart, connect_limits, connects_chart, discards_chart,
    refill_failures_chart, Limit,
};
pub use decor::{thresholds, Decor, EventMark, Measure, Threshold};
pub use groups::{pool_groups, service_of, PoolGroup};
pub use intervals::replication_charts;
pub use latency::{latency_distribution_chart, latency_over_time_chart};
pub use pool_state::{gauges_for, pool_state_charts, reservoir_gauges, Gauge};
pub use render::{register_fonts, render, render_all, render_png, render_svg, ChartFile};
pub use requests::checkout_rate_chart;
pub use series::{
    band_of, cluster_connections_series, connects_series, gauge_series, gauge_sum_series,
    latency_percentiles, nonzero, rate_series, secs, window_latency,
};
pub use spec::{Band, ChartSpec, HLine, Mark, Series, Shade, VLine, XAxis};
pub use style::{run_color, stem_part, PALETTE, RUN_COLORS};

use crate::model::world::Observations;

/// Most pools that get a chart of their own (`pool-NN-<pool>`, small
/// multiples) before pools are grouped into bands.
pub const MAX_LINES: usize = 8;
/// Most per-pool lines one chart draws: with more pools, a line chart shows
/// one min/median/max band per service instead (never a tangle of lines).
pub const MAX_POOL_LINES: usize = 4;
/// Image width, pixels.
pub const WIDTH: u32 = 1100;
/// Height of the plot (title, axes, data), pixels; the legend adds rows below.
pub const PLOT_HEIGHT: u32 = 460;

/// One run to chart: its label (e.g. the mode name) and its observations.
pub type Run<'a> = (&'a str, &'a Observations);

/// A series' points: (x, y), x ascending.
pub type Points = Vec<(f64, f64)>;

/// The checkout latency of one sample window: (t seconds, p50 ms, p99 ms).
pub type WindowLatency = (f64, f64, f64);

/// The standard set of charts of a run (or of runs compared), in report
/// order: pool state per pool, request rate, discards and closes, failed
/// opens, connects, cluster connections, wait over time, wait distribution.
/// `decor` gives what they draw besides the data (limits, thresholds,
/// the unmeasured span, event marks).
pub fn run_charts(runs: &[Run], decor: &Decor) -> Vec<ChartSpec> {
    let mut out = pool_state_charts(runs, decor);
    out.push(checkout_rate_chart(runs, decor));
    out.push(discards_chart(runs, decor));
    out.push(refill_failures_chart(runs, decor));
    out.push(connects_chart(runs, decor));
    out.push(cluster_connections_chart(runs, decor));
    out.push(latency_over_time_chart(runs, decor));
    out.push(latency_distribution_chart(runs, decor));
    for spec in &mut out {
        spec.mark_coincident();
    }
    out
}
