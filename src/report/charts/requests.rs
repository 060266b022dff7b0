//! The request-rate chart (`checkout-rate`) with empty-event and failure marks.

use super::decor::Decor;
use super::groups::{add_group_curve, names_of, pool_groups};
use super::overlay::checkout_rate_overlay;
use super::series::{all_pools, any_reservoir, nonzero, rate_series, run_end};
use super::spec::{ChartSpec, Mark, Series, XAxis};
use super::style::{cause_color, GROUP_COLORS, RED};
use super::{Run, MAX_POOL_LINES};
use crate::model::world::{FailCause, Observations};

/// Failed requests by cause, summed over all pools, in words ("none").
pub(super) fn failures_in_words(obs: &Observations) -> String {
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
pub fn checkout_rate_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "checkout-rate",
        "Requests per second (per sample window)",
        String::new(),
        XAxis::Time,
        "requests per second",
    );
    spec.x_max = run_end(runs);
    decor.mark_time(&mut spec);
    if runs.len() > 1 {
        return checkout_rate_overlay(spec, runs);
    }
    let Some((_, obs)) = runs.first() else {
        return spec;
    };
    let groups = pool_groups(&names_of(obs), MAX_POOL_LINES);
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
