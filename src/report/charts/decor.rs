//! What the charts draw besides the data, so that they carry the verdict:
//! the connect-rate limits, each assertion's threshold on the chart of what
//! it measures (coloured by its verdict), the part of the run before
//! `measure_after` (shaded: it is not measured), and event marks (instants
//! with a label, e.g. the faults of a timeline), drawn when there are any.

use super::connections::Limit;
use super::spec::{ChartSpec, HLine, Shade, VLine, XAxis};
use super::style::{DARK, FAIL, PASS};
use crate::assertions::AssertionResult;
use crate::engine::time::format_duration;
use crate::report::text::fmt_num;
use crate::scenario::{AssertionDef, Check};

/// An instant to mark on the time charts: (seconds from the start, label).
pub type EventMark = (f64, String);

/// What an assertion measures, as far as a chart can show it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measure {
    /// Cluster-wide connects in one second (`max_connects_per_sec`).
    ConnectsPerSec,
    /// A percentile of the wait for a connection, ms (`wait_time`).
    WaitMs {
        /// The percentile, 0 < p <= 100.
        percentile: f64,
    },
    /// Open connections as a fraction of target_size (`pool_at_size`); the
    /// threshold value is the fraction.
    PoolAtSize,
    /// Physical connections at once (`max_physical_connections`): a pool's
    /// own, or the cluster's.
    PhysicalConnections,
    /// The instant by which the pools hold their target (`converge_within`), s.
    ConvergeWithin,
}

/// One assertion's threshold, with the verdict of every run charted.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// What it measures.
    pub measure: Measure,
    /// The threshold, in the measure's unit.
    pub value: f64,
    /// The pool it is restricted to (None: all pools).
    pub pool: Option<String>,
    /// The assertion's `type`.
    pub type_name: &'static str,
    /// `<=` or `>=`.
    pub comparison: &'static str,
    /// Per run charted (label, passed, observed); empty when no verdict is known.
    pub verdicts: Vec<(String, bool, Option<f64>)>,
}

impl Threshold {
    /// Whether every run passed (None: no verdict).
    pub fn passed(&self) -> Option<bool> {
        if self.verdicts.is_empty() {
            None
        } else {
            Some(self.verdicts.iter().all(|v| v.1))
        }
    }

    /// Palette index: the verdict's colour (dark grey without one).
    pub fn color(&self) -> usize {
        match self.passed() {
            Some(true) => PASS,
            Some(false) => FAIL,
            None => DARK,
        }
    }

    /// Legend name: the assertion, its threshold and the verdict(s).
    pub fn name(&self, shown: &str) -> String {
        let pool = self
            .pool
            .as_ref()
            .map_or(String::new(), |p| format!(" [{p}]"));
        let verdict = match self.verdicts.as_slice() {
            [] => String::new(),
            [(_, passed, observed)] => format!(
                ": {} (observed {})",
                if *passed { "PASS" } else { "FAIL" },
                observed.map_or("n/a".to_string(), fmt_num)
            ),
            many => format!(
                " ({})",
                many.iter()
                    .map(|(l, p, _)| format!("{l} {}", if *p { "pass" } else { "FAIL" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "assertion {}{pool} {} {shown}{verdict}",
            self.type_name,
            if self.comparison == "<=" {
                "≤"
            } else {
                "≥"
            }
        )
    }

    /// Whether it concerns a chart of these pools (a pool-restricted
    /// assertion only its pool's chart).
    pub fn concerns(&self, pools: &[&str]) -> bool {
        self.pool.as_deref().is_none_or(|p| pools.contains(&p))
    }

    /// A horizontal threshold line at `y`, labelled with `shown`.
    pub fn hline(&self, y: f64, shown: &str) -> HLine {
        HLine {
            name: self.name(shown),
            y,
            color: self.color(),
            threshold: true,
        }
    }
}

/// The thresholds of a scenario's assertions that a chart can show, with the
/// verdicts of the charted runs: `runs` gives each run's label and its
/// results, in the order of `defs`.
pub fn thresholds(
    defs: &[AssertionDef],
    pool_names: &[&str],
    runs: &[(&str, &[AssertionResult])],
) -> Vec<Threshold> {
    let ms = |t: u64| t as f64 / 1e6;
    let mut out = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        let (measure, value) = match d.check {
            Check::MaxConnectsPerSec { max } => (Measure::ConnectsPerSec, max as f64),
            Check::WaitTime { percentile, max } => (Measure::WaitMs { percentile }, ms(max)),
            Check::PoolAtSize { min_fraction } => (Measure::PoolAtSize, min_fraction),
            Check::MaxPhysicalConnections { max } => (Measure::PhysicalConnections, max as f64),
            Check::ConvergeWithin { within, .. } => (Measure::ConvergeWithin, within as f64 / 1e9),
            // checkout_latency measures the reservoir driver's Open(), which
            // no chart draws; the others are counts.
            Check::CheckoutLatency { .. }
            | Check::HitsRatio { .. }
            | Check::EmptyEvents { .. }
            | Check::RequestFailures { .. } => continue,
        };
        let verdicts = runs
            .iter()
            .filter_map(|(label, results)| {
                results
                    .get(i)
                    .map(|r| (label.to_string(), r.passed, r.observed))
            })
            .collect();
        out.push(Threshold {
            measure,
            value,
            pool: d
                .pool
                .and_then(|p| pool_names.get(p))
                .map(|s| s.to_string()),
            type_name: d.type_name,
            comparison: if matches!(measure, Measure::PoolAtSize) {
                ">="
            } else {
                "<="
            },
            verdicts,
        });
    }
    out
}

/// Everything the standard charts draw besides the data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decor {
    /// Connect-rate limits (the connects chart).
    pub limits: Vec<Limit>,
    /// The assertions' thresholds.
    pub thresholds: Vec<Threshold>,
    /// `measure_after`, seconds (0: nothing shaded).
    pub measure_after_s: f64,
    /// Event marks on every time chart (none: nothing drawn).
    pub events: Vec<EventMark>,
}

impl Decor {
    /// Only limits (no thresholds, shading or events).
    pub fn limits(limits: Vec<Limit>) -> Self {
        Decor {
            limits,
            ..Decor::default()
        }
    }

    /// The thresholds of one measure.
    pub fn of(&self, m: fn(&Measure) -> bool) -> impl Iterator<Item = &Threshold> {
        self.thresholds.iter().filter(move |t| m(&t.measure))
    }

    /// Shade the unmeasured start and mark the events on a time chart.
    pub fn mark_time(&self, spec: &mut ChartSpec) {
        if spec.x_axis != XAxis::Time {
            return;
        }
        if self.measure_after_s > 0.0 {
            spec.shade = Some(Shade {
                name: format!(
                    "before measure_after ({}): not measured",
                    format_duration((self.measure_after_s * 1e9).round() as u64)
                ),
                from: 0.0,
                to: self.measure_after_s,
            });
        }
        for (t, label) in &self.events {
            spec.vlines.push(VLine {
                label: label.clone(),
                x: *t,
                color: DARK,
            });
        }
    }
}

impl Decor {
    /// The thresholds of a pool-state chart of `pools` (their target_size
    /// each): `pool_at_size` as a line at fraction x target_size (when the
    /// pools share one target_size and are not summed), a pool's own
    /// `max_physical_connections`, and `converge_within` as a vertical line.
    pub fn mark_pools(
        &self,
        spec: &mut ChartSpec,
        pools: &[&str],
        target_sizes: &[u32],
        summed: bool,
    ) {
        for t in self.thresholds.iter().filter(|t| t.concerns(pools)) {
            match t.measure {
                Measure::PoolAtSize if !summed => {
                    if let Some(&size) = target_sizes.first() {
                        if target_sizes.iter().all(|&s| s == size) {
                            let y = t.value * size as f64;
                            let shown =
                                format!("{} × target_size = {} open", fmt_num(t.value), fmt_num(y));
                            spec.hlines.push(t.hline(y, &shown));
                        }
                    }
                }
                Measure::PhysicalConnections if t.pool.is_some() && !summed => {
                    let shown = format!("{} physical connections", fmt_num(t.value));
                    spec.hlines.push(t.hline(t.value, &shown));
                }
                Measure::ConvergeWithin => {
                    let shown = format_duration((t.value * 1e9).round() as u64);
                    let verdict = match t.passed() {
                        Some(true) => ": PASS",
                        Some(false) => ": FAIL",
                        None => "",
                    };
                    spec.vlines.push(VLine {
                        label: format!("converge_within {shown}{verdict}"),
                        x: t.value,
                        color: t.color(),
                    });
                }
                _ => {}
            }
        }
    }
}
