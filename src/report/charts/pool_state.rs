//! The pool-state charts (`pool-NN-<pool>`): each pool's gauges over time.

use super::decor::Decor;
use super::groups::{add_group_curve, names_of, pool_groups, PoolGroup};
use super::overlay::pool_state_overlay;
use super::series::{gauge_series, secs};
use super::spec::{ChartSpec, Mark, XAxis};
use super::style::{stem_part, BLUE, GREEN, GREY, ORANGE, PURPLE};
use super::{Points, Run, MAX_LINES};
use crate::model::world::{Observations, SampleRow, Stack};

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

/// What the pool-state chart of pools on `stacks` shows (title part) and
/// how to read it (caption).
pub(super) fn pool_state_text(stacks: &[Stack]) -> (&'static str, &'static str) {
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
pub fn pool_state_charts(runs: &[Run], decor: &Decor) -> Vec<ChartSpec> {
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
        let mut spec = if runs.len() == 1 {
            pool_state_single(&stem, g, first.1)
        } else {
            pool_state_overlay(&stem, g, runs, &names)
        };
        let sizes: Vec<u32> = g
            .pools
            .iter()
            .map(|&i| first.1.pools[i].target_size)
            .collect();
        decor.mark_pools(&mut spec, &names, &sizes, runs.len() > 1 && names.len() > 1);
        decor.mark_time(&mut spec);
        out.push(spec);
    }
    out
}

pub(super) fn pool_state_single(stem: &str, g: &PoolGroup, obs: &Observations) -> ChartSpec {
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
