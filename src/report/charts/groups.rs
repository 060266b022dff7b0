//! Pool grouping: one line per pool while they fit, else one band per
//! service, else one band of all pools; legend labels of overlaid runs.

use super::series::band_of;
use super::spec::{Band, ChartSpec, Mark, Series};
use super::Run;
use crate::model::world::Observations;

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

pub(super) fn names_of(obs: &Observations) -> Vec<&str> {
    obs.pools.iter().map(|p| p.name.as_str()).collect()
}

/// The legend name of `what` in run `run` (the run label only when comparing).
pub(super) fn label(runs: &[Run], run: usize, what: &str) -> String {
    if runs.len() > 1 {
        format!("{}: {what}", runs[run].0)
    } else {
        what.to_string()
    }
}

/// Pool indices, in `obs`, of the pools of `group` (matched by name, so runs
/// of the same scenario line up even if pool order differs).
pub(super) fn pools_named(obs: &Observations, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .filter_map(|n| obs.pools.iter().position(|p| p.name == *n))
        .collect()
}

/// Add one group's curve to `spec`: a line for one pool, a band with its
/// median for several.
pub(super) fn add_group_curve(
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
