//! Assertions: each scenario check evaluated against a run, reporting what was
//! observed against its threshold.

use crate::engine::Time;
use crate::metrics::{self, round6};
use crate::model::world::Observations;
use crate::scenario::{AssertionDef, Check};
use serde::Serialize;

/// The verdict of one assertion (an `assertions[]` entry of summary.json).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AssertionResult {
    /// The assertion's `type`.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// The pool it is restricted to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// What the run showed (null when it cannot be measured, e.g. no requests or never converged).
    pub observed: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// `>=` (a minimum) or `<=` (a maximum).
    pub comparison: &'static str,
    /// Unit of observed and threshold.
    pub unit: &'static str,
    /// Whether it holds.
    pub passed: bool,
    /// A sentence for people.
    pub detail: String,
    /// The assertion's `confidence`: this verdict is one seed's, and across
    /// seeds the confidence bound decides ([`across_seeds`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

fn seconds(t: Time) -> f64 {
    round6(t as f64 / 1e9)
}

/// When the selected pools first hold their target (ready + in use >= target)
/// at every sample over at least `stable_for`; None if never.
pub fn converged_at(obs: &Observations, only: Option<usize>, stable_for: Time) -> Option<Time> {
    let mut streak: Option<Time> = None;
    let n = obs.pools.len();
    for chunk in obs.samples.chunks(n) {
        let t = chunk[0].t;
        let ok = chunk
            .iter()
            .filter(|r| only.is_none_or(|o| o == r.pool as usize))
            .all(|r| r.ready + r.in_use >= r.target);
        if ok {
            let start = *streak.get_or_insert(t);
            if t - start >= stable_for {
                return Some(start);
            }
        } else {
            streak = None;
        }
    }
    None
}

/// Evaluate every assertion.
pub fn evaluate(defs: &[AssertionDef], obs: &Observations) -> Vec<AssertionResult> {
    defs.iter()
        .map(|d| {
            let mut r = evaluate_one(d, obs);
            if let Some(c) = d.confidence {
                r.confidence = Some(c);
                r.detail.push_str(&format!(
                    " (one seed's verdict; with confidence {c} the bound across seeds decides: --seeds)"
                ));
            }
            r
        })
        .collect()
}

/// An assertion judged over several seeds (`run --seeds`, `compare --seeds`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SeedsVerdict {
    /// The assertion's `type`.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// The pool it is restricted to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Short label: the type, with its percentile and pool when it has them.
    pub label: String,
    /// The threshold.
    pub threshold: f64,
    /// `>=` (a minimum) or `<=` (a maximum).
    pub comparison: &'static str,
    /// Unit of threshold and observed values.
    pub unit: &'static str,
    /// Seeds judged.
    pub seeds: usize,
    /// Seeds in which it held.
    pub passes: usize,
    /// The observed value of each seed, in seed order (null: nothing to measure).
    pub observed: Vec<Option<f64>>,
    /// The worst observed value and its seed (the largest for a maximum, the
    /// smallest for a minimum; nothing to measure is worst of all; the first
    /// seed on a tie).
    pub worst: Option<(u64, Option<f64>)>,
    /// With `confidence`: the bound across the seeds, which decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<crate::stats::bound::ConfidenceBound>,
    /// Whether it held: in every seed, or, with `confidence`, for its bound.
    pub passed: bool,
}

/// The label of an assertion: its type, with its percentile and pool.
pub fn label(d: &AssertionDef, pool: Option<&str>) -> String {
    let mut l = d.type_name.to_string();
    if let Check::CheckoutLatency { percentile, .. } | Check::WaitTime { percentile, .. } = d.check
    {
        l.push_str(&format!(" p{percentile}"));
    }
    if let Some(p) = pool {
        l.push_str(&format!(" [{p}]"));
    }
    l
}

/// Each assertion of `defs` over `seeds`, whose verdicts are `runs` (one
/// list per seed, in the order of `seeds`, as [`evaluate`] returns them).
/// Without `confidence` an assertion must hold in every seed; with it, its
/// one-sided confidence bound across the seeds must
/// ([`crate::stats::bound::evaluate`]).
pub fn across_seeds(
    defs: &[AssertionDef],
    seeds: &[u64],
    runs: &[&[AssertionResult]],
) -> Vec<SeedsVerdict> {
    defs.iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let first = runs.first()?.get(i)?;
            let results: Vec<&AssertionResult> = runs.iter().filter_map(|r| r.get(i)).collect();
            let observed: Vec<Option<f64>> = results.iter().map(|r| r.observed).collect();
            let upper = first.comparison != ">=";
            let mut worst: Option<(u64, Option<f64>)> = None;
            for (&seed, &o) in seeds.iter().zip(&observed) {
                let replace = match worst {
                    None => true,
                    Some((_, None)) => false,
                    Some((_, Some(w))) => match o {
                        None => true,
                        Some(x) => (upper && x > w) || (!upper && x < w),
                    },
                };
                if replace {
                    worst = Some((seed, o));
                }
            }
            let passes = results.iter().filter(|r| r.passed).count();
            let bound = d.confidence.map(|c| {
                crate::stats::bound::evaluate(first.comparison, first.threshold, c, &observed)
            });
            Some(SeedsVerdict {
                type_name: first.type_name,
                label: label(d, first.pool.as_deref()),
                pool: first.pool.clone(),
                worst,
                threshold: first.threshold,
                comparison: first.comparison,
                unit: first.unit,
                seeds: results.len(),
                passes,
                passed: bound.as_ref().map_or(passes == results.len(), |b| b.passed),
                observed,
                bound,
            })
        })
        .collect()
}

fn evaluate_one(d: &AssertionDef, obs: &Observations) -> AssertionResult {
    let pool = d.pool.map(|i| obs.pools[i].name.clone());
    let scope = pool
        .as_deref()
        .map_or("all pools".to_string(), |p| format!("pool {p}"));
    let total = metrics::total(obs, d.pool);
    let plain = obs
        .pools
        .iter()
        .enumerate()
        .filter(|(i, _)| d.pool.is_none_or(|o| o == *i))
        .all(|(_, p)| p.stack == crate::model::world::Stack::Plain);
    let at_most = |observed: f64, max: f64, unit: &'static str, what: String| AssertionResult {
        type_name: d.type_name,
        pool: pool.clone(),
        observed: Some(observed),
        threshold: max,
        comparison: "<=",
        unit,
        passed: observed <= max,
        detail: what,
        confidence: None,
    };
    // Nothing to measure: the verdict is FAIL with `observed: null`, never a
    // vacuous pass.
    let nothing = |max: f64, unit: &'static str, what: String| AssertionResult {
        type_name: d.type_name,
        pool: pool.clone(),
        observed: None,
        threshold: max,
        comparison: "<=",
        unit,
        passed: false,
        detail: what,
        confidence: None,
    };
    let no_requests = format!("no requests were served ({scope}): nothing to measure");
    match d.check {
        Check::HitsRatio { min } => {
            let observed = metrics::hit_ratio(&total);
            AssertionResult {
                type_name: d.type_name,
                pool: pool.clone(),
                observed,
                threshold: min,
                comparison: ">=",
                unit: "ratio",
                passed: observed.is_some_and(|o| o >= min),
                detail: match observed {
                    Some(_) => format!(
                        "{} of {} requests got a connection at once ({scope}{})",
                        total.hits,
                        total.requests,
                        if plain {
                            "; plain pool: a free connection"
                        } else {
                            ""
                        }
                    ),
                    None => format!("no requests were served ({scope}): nothing to measure"),
                },
                confidence: None,
            }
        }
        Check::EmptyEvents { max } if total.requests == 0 => {
            nothing(max as f64, "events", no_requests.clone())
        }
        Check::EmptyEvents { max } => at_most(
            total.reservoir.empty_events as f64,
            max as f64,
            "events",
            format!(
                "{} TryCheckouts found no usable connection ({scope}{})",
                total.reservoir.empty_events,
                if plain {
                    "; a plain pool has no reservoir: always 0"
                } else {
                    ""
                }
            ),
        ),
        Check::MaxConnectsPerSec { max } => {
            let Some((second, peak)) = metrics::busiest_second(obs) else {
                return nothing(
                    max as f64,
                    "connects/s",
                    "no simulated second to count connects in: nothing to measure".into(),
                );
            };
            at_most(
                peak as f64,
                max as f64,
                "connects/s",
                format!(
                    "busiest second: {peak} connects reached the cluster in second {second}{}",
                    if obs.measure_after > 0 {
                        " (seconds from measure_after on)"
                    } else {
                        ""
                    }
                ),
            )
        }
        Check::ConvergeWithin { within, stable_for } => {
            let at = converged_at(obs, d.pool, stable_for);
            AssertionResult {
                type_name: d.type_name,
                pool: pool.clone(),
                observed: at.map(seconds),
                threshold: seconds(within),
                comparison: "<=",
                unit: "s",
                passed: at.is_some_and(|t| t <= within),
                detail: match at {
                    Some(t) => format!(
                        "{scope} held their target (ready + in use >= target_ready) from t={}s{}",
                        seconds(t),
                        if stable_for > 0 {
                            format!(" for at least {}s", seconds(stable_for))
                        } else {
                            String::new()
                        }
                    ),
                    None => format!("{scope} never held their target for the required time"),
                },
                confidence: None,
            }
        }
        Check::CheckoutLatency { percentile, max } | Check::WaitTime { percentile, max } => {
            // checkout_latency: the reservoir driver's Open() (production's
            // metric); wait_time: the request's wait for a connection.
            let open = matches!(d.check, Check::CheckoutLatency { .. });
            let (h, exact_max) = if open {
                (
                    metrics::merged_open_latency(obs, d.pool),
                    metrics::merged_open_latency_max(obs, d.pool),
                )
            } else {
                (
                    metrics::merged_latency(obs, d.pool),
                    metrics::merged_latency_max(obs, d.pool),
                )
            };
            // hdrhistogram percentiles are exact to 3 significant digits and
            // rounded up to their bucket; never report more than the exact max.
            let observed = (!h.is_empty())
                .then(|| metrics::ns_to_ms(h.value_at_percentile(percentile).min(exact_max)));
            AssertionResult {
                type_name: d.type_name,
                pool: pool.clone(),
                observed,
                threshold: metrics::ns_to_ms(max),
                comparison: "<=",
                unit: "ms",
                passed: observed.is_some_and(|o| o <= metrics::ns_to_ms(max)),
                detail: match (observed, open) {
                    (Some(_), true) => format!(
                        "p{percentile} of {} reservoir driver Open() calls ({scope})",
                        h.len()
                    ),
                    (Some(_), false) => {
                        format!("p{percentile} of {} requests' waits ({scope})", h.len())
                    }
                    (None, true) => format!(
                        "no reservoir driver Open() calls ({scope}{}): nothing to measure",
                        if plain {
                            "; a plain pool has no reservoir"
                        } else {
                            ""
                        }
                    ),
                    (None, false) => format!("no requests ({scope}): nothing to measure"),
                },
                confidence: None,
            }
        }
        Check::RequestFailures { max } if total.requests == 0 => {
            nothing(max as f64, "requests", no_requests.clone())
        }
        Check::RequestFailures { max } => at_most(
            total.failures as f64,
            max as f64,
            "requests",
            format!(
                "{} of {} requests got no connection ({scope}): {}",
                total.failures,
                total.requests,
                metrics::failures_text(&total)
            ),
        ),
        Check::MaxPhysicalConnections { max } => {
            let (peak, what) = match d.pool {
                Some(i) => (
                    obs.pools[i].peak_open,
                    format!("pool {} held", obs.pools[i].name),
                ),
                None => (obs.peak_connections, "the cluster had".to_string()),
            };
            at_most(
                peak as f64,
                max as f64,
                "connections",
                format!("at most {peak} physical connections open at once ({what} them)"),
            )
        }
        Check::PoolAtSize { min_fraction } => {
            let low = metrics::lowest_fill(obs, d.pool);
            AssertionResult {
                type_name: d.type_name,
                pool: pool.clone(),
                observed: low.map(|l| round6(l.fraction)),
                threshold: min_fraction,
                comparison: ">=",
                unit: "fraction of target_size",
                passed: low.is_some_and(|l| l.fraction >= min_fraction),
                detail: match low {
                    Some(l) => format!(
                        "lowest: {} of {} connections open in pool {} at t={}s (samples once serving{})",
                        l.open,
                        l.target,
                        obs.pools[l.pool].name,
                        seconds(l.t),
                        if obs.measure_after > 0 { " and after measure_after" } else { "" }
                    ),
                    None => format!("no sample once serving ({scope}): nothing to measure"),
                },
                confidence: None,
            }
        }
    }
}
