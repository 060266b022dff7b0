//! Connection charts: discards and closes against creations, failed opens,
//! connects per second against the rate limits, and cluster connections.

use super::decor::{Decor, Measure};
use super::groups::label;
use super::series::{
    all_pools, cluster_connections_series, connects_series, plain_pools, rate_series, run_end,
    total_closes, total_discards,
};
use super::spec::{ChartSpec, HLine, Mark, Series, XAxis};
use super::style::{
    close_color, discard_color, hue, run_color, run_mark, BLACK, BLUE, BROWN, DARK, GREEN, ORANGE,
    PURPLE, RED,
};
use super::{Points, Run};
use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::{LimiterConfig, WorldConfig};
use crate::report::text::fmt_num;

/// Connections removed per second by reason (stacked, all pools): reservoir
/// discards, and the database/sql closes of plain pools; and connections
/// created per second, per sample window. Several runs: one line of all
/// removals and one (dashed) of creations per run.
pub fn discards_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
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
    decor.mark_time(&mut spec);
    let (mut discards, mut closes, mut created) = (0u64, 0u64, 0u64);
    // Each run's own figures: a comparison's runs are never added up.
    let mut per_run = Vec::new();
    for (ri, (name, obs)) in runs.iter().enumerate() {
        let all = all_pools(obs);
        let plain = plain_pools(obs);
        let run_discards: u64 = obs.pools.iter().map(|p| total_discards(&p.counters)).sum();
        let run_closes: u64 = plain
            .iter()
            .map(|&i| total_closes(&obs.pools[i].counters))
            .sum();
        let run_created: u64 = obs.pools.iter().map(|p| p.counters.created).sum();
        discards += run_discards;
        closes += run_closes;
        created += run_created;
        per_run.push(format!(
            "{name}: {run_discards} discards, {run_closes} closes, {run_created} created"
        ));
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
    let totals = if runs.len() == 1 {
        format!("{discards} discards, {closes} closes, {created} connections created in total")
    } else {
        per_run.join("; ")
    };
    spec.caption = format!(
        "Connections that left in each sample window, {key}: reservoir discards, and the database/sql closes of plain pools. Creation above removal grows the pool; reservoir_full discards are returns that found the buffer full, max_idle closes returns that found MaxIdle connections idle, expiry and lifetime removals are turnover ({totals})."
    );
    spec
}

/// Failed opens per second by reason (stacked, all pools), per sample window:
/// every opener's (the refiller, database/sql, the warmup, the keeper).
/// Several runs: one line of all failed opens per run.
pub fn refill_failures_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
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
    decor.mark_time(&mut spec);
    let colors = [PURPLE, RED, ORANGE, BROWN];
    let mut total = 0u64;
    let mut per_run = Vec::new();
    for (ri, (name, obs)) in runs.iter().enumerate() {
        let all = all_pools(obs);
        let run_total: u64 = obs
            .pools
            .iter()
            .map(|p| p.counters.open_failures.iter().sum::<u64>())
            .sum();
        total += run_total;
        per_run.push(format!("{name}: {run_total}"));
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
        "Opens that failed in each sample window, {how}, whoever opened: the refiller, or database/sql, the warmup and the keeper of a plain pool. Any area or line here means opens are being refused ({})."
    ,
        if runs.len() == 1 {
            format!("{total} failures in total")
        } else {
            format!("failures per run: {}", per_run.join(", "))
        }
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

pub(super) fn fmt_rate(r: f64) -> String {
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
pub fn connects_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "connects-per-second",
        "Cluster-wide connects per second vs the rate limit",
        String::new(),
        XAxis::Time,
        "connect attempts per second",
    );
    spec.x_max = run_end(runs);
    decor.mark_time(&mut spec);
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
    for t in decor.of(|m| *m == Measure::ConnectsPerSec) {
        let shown = format!("{}/s in any second", fmt_num(t.value));
        spec.hlines.push(t.hline(t.value, &shown));
    }
    for (i, l) in decor.limits.iter().enumerate() {
        spec.hlines.push(HLine {
            name: l.name.clone(),
            y: l.per_second,
            color: if i == 0 { DARK } else { BROWN },
            threshold: false,
        });
    }
    spec.caption = format!(
        "Connect attempts that reached the cluster in each simulated second; above the dashed limit the cluster spends its burst and then refuses with 53400 (peak {}).",
        peaks.join(", ")
    );
    spec
}

/// Open connections on the cluster over time.
pub fn cluster_connections_chart(runs: &[Run], decor: &Decor) -> ChartSpec {
    let mut spec = ChartSpec::new(
        "cluster-connections",
        "Open connections on the cluster",
        String::new(),
        XAxis::Time,
        "open connections",
    );
    spec.x_max = run_end(runs);
    decor.mark_time(&mut spec);
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
    for t in decor.of(|m| *m == Measure::PhysicalConnections) {
        if t.pool.is_none() {
            let shown = format!("{} connections", fmt_num(t.value));
            spec.hlines.push(t.hline(t.value, &shown));
        }
    }
    spec.caption = format!(
        "Connections the cluster holds open at each sample, all pools together: ready + idle + in use + connecting; the cluster's max_connections bounds it (peak {}).",
        peaks.join(", ")
    );
    spec
}
