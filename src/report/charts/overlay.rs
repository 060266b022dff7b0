//! Comparison overlays: the charts that draw several runs (modes) on one
//! axis with a layout of their own rather than the single run's.

use super::groups::{label, pools_named, PoolGroup};
use super::requests::failures_in_words;
use super::series::{all_pools, gauge_sum_series, nonzero, rate_series, run_end};
use super::spec::{ChartSpec, Mark, Series, XAxis};
use super::style::{run_color, run_mark, GREY};
use super::{Points, Run};

pub(super) fn pool_state_overlay(
    stem: &str,
    g: &PoolGroup,
    runs: &[Run],
    names: &[&str],
) -> ChartSpec {
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

/// The request-rate chart of several runs: each run's requests per second
/// over all pools, with its empty events (×) and failed requests (▲), in the
/// run's colour; the caption gives every run's totals.
pub(super) fn checkout_rate_overlay(mut spec: ChartSpec, runs: &[Run]) -> ChartSpec {
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
    spec
}
