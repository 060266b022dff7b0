//! Wait-for-a-connection charts: the distribution by percentile and the
//! per-window p50/p99 over time.

use super::decor::{Decor, Measure};
use super::groups::{label, names_of, pool_groups};
use super::series::{band_of, gauge_series, latency_percentiles, ms, run_end};
use super::spec::VLine;
use super::spec::{ChartSpec, HLine, Mark, Series, XAxis};
use super::style::{hue, run_mark, BLACK, GREY, GROUP_COLORS, ORANGE};
use super::{Points, Run, MAX_POOL_LINES};
use crate::report::text::fmt_num;

/// The wait-latency distribution (every request's wait for a connection, 0
/// for an immediate hit) as a percentile curve, per pool or per service.
/// Several runs: one curve per run, all pools merged.
pub fn latency_distribution_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
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
            pool_groups(&names_of(obs), MAX_POOL_LINES)
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
        // A wait assertion over all pools judges their merged distribution:
        // draw it when the chart otherwise shows separate curves.
        let judged_merged = decor
            .of(|m| matches!(m, Measure::WaitMs { .. }))
            .any(|t| t.pool.is_none());
        if runs.len() == 1 && groups.len() > 1 && judged_merged {
            let mut h = obs.pools[0].checkout_latency.clone();
            for p in &obs.pools[1..] {
                let _ = h.add(&p.checkout_latency);
            }
            spec.lines.push(Series {
                name: "all pools merged (what the assertion judges)".into(),
                points: latency_percentiles(&h),
                color: BLACK,
                mark: Mark::Dotted,
            });
        }
    }
    spec.hlines.push(HLine {
        name: "1 ms (healthy p99 bound)".into(),
        y: 1.0,
        color: GREY,
        threshold: false,
    });
    for t in decor.of(|m| matches!(m, Measure::WaitMs { .. })) {
        let Measure::WaitMs { percentile } = t.measure else {
            continue;
        };
        let shown = format!("{} ms at p{}", fmt_num(t.value), fmt_num(percentile));
        spec.hlines.push(t.hline(t.value, &shown));
        if percentile < 100.0 {
            spec.vlines.push(VLine {
                label: format!("p{}", fmt_num(percentile)),
                x: (100.0 / (100.0 - percentile)).log10(),
                color: t.color(),
            });
        }
    }
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

/// Whether a chart has a positive value: latencies are then drawn on a log
/// axis (they span decades: 0 for hits, µs to ms for a refill, seconds for a
/// request that times out; on a linear axis the small ones vanish).
pub(super) fn any_positive(spec: &ChartSpec) -> bool {
    spec.lines
        .iter()
        .any(|s| s.points.iter().any(|p| p.1 > 0.0))
}

/// The wait for a connection over time: p50 (solid) and p99 (dashed) of the
/// waits that ended in each sample window (`wait_p50_ns`, `wait_p99_ns`), per
/// pool; with more than 4 pools, per service: the median of its pools' p50
/// and the worst of their p99. Several runs: one colour per run, all pools.
pub fn latency_over_time_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-latency-over-time",
        "Wait for a connection per sample window: p50 and p99",
        String::new(),
        XAxis::Time,
        "wait for a connection (ms)",
    );
    spec.x_max = run_end(runs);
    decor.mark_time(&mut spec);
    let single = runs.len() == 1;
    for (ri, (_, obs)) in runs.iter().enumerate() {
        let groups = if single {
            pool_groups(&names_of(obs), MAX_POOL_LINES)
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
        threshold: false,
    });
    for t in decor.of(|m| matches!(m, Measure::WaitMs { .. })) {
        let Measure::WaitMs { percentile } = t.measure else {
            continue;
        };
        let shown = format!(
            "{} ms at p{} of the run",
            fmt_num(t.value),
            fmt_num(percentile)
        );
        spec.hlines.push(t.hline(t.value, &shown));
    }
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
