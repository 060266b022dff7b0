//! Assertions with `confidence`: the threshold must hold for a one-sided
//! confidence bound of the mean across seeds.
//!
//! For an assertion with a maximum (`<=`: a wait, failures, connects/s) the
//! bound is the **upper** bound `mean + t(c, n - 1) · s / √n`; for a minimum
//! (`>=`: a hit ratio, a fill fraction) the **lower** bound
//! `mean - t(c, n - 1) · s / √n`, with `c` the assertion's `confidence`, `n`
//! the seeds and `s` the standard deviation of the per-seed observed values.
//! The bound is one-sided because the claim is: "the mean is below (above)
//! the threshold, with confidence c". With confidence 0.95 a design whose
//! true mean sits exactly at the threshold passes in about 5% of checks.
//!
//! The per-seed verdicts are still reported, but for such an assertion the
//! bound decides: one unlucky seed above the threshold does not fail a gate
//! whose mean is clearly below it, and a mean below the threshold by luck of
//! few seeds does not pass one whose spread is too wide to say so. A seed
//! with nothing to measure (observed null) fails the assertion, as it does
//! without `confidence`.
//!
//! [`evaluate`] is what `poolsim check`, `run --seeds` and `compare --seeds`
//! call with the observed values of the seeds.

use super::{mean_sd, t_one_sided};
use serde::{Deserialize, Serialize};

/// How the bound is computed (in check.json and compare.json).
pub const METHOD: &str = "one-sided Student t bound of the mean of the per-seed observed values (n - 1 degrees of freedom): upper for a maximum, lower for a minimum";

/// An assertion's confidence bound across seeds and its verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfidenceBound {
    /// The assertion's `confidence`.
    pub confidence: f64,
    /// `upper` (the assertion is a maximum) or `lower` (a minimum).
    pub side: String,
    /// Seeds whose observed values it is computed from.
    pub seeds: usize,
    /// Mean of the observed values (null when a seed had nothing to measure).
    pub mean: Option<f64>,
    /// Their standard deviation (divisor n - 1).
    pub sd: Option<f64>,
    /// The bound (null when it cannot be computed).
    pub bound: Option<f64>,
    /// Whether the bound is on the right side of the threshold.
    pub passed: bool,
    /// A sentence for people.
    pub detail: String,
}

fn num(x: f64) -> String {
    crate::report::text::fmt_num(x)
}

/// The bound of `observed` (one value per seed, `None` where there was
/// nothing to measure) for an assertion compared with `comparison` (`<=` or
/// `>=`) against `threshold`, at `confidence` (in (0, 1)).
pub fn evaluate(
    comparison: &str,
    threshold: f64,
    confidence: f64,
    observed: &[Option<f64>],
) -> ConfidenceBound {
    let upper = comparison != ">=";
    let side = if upper { "upper" } else { "lower" };
    let n = observed.len();
    let fail = |detail: String| ConfidenceBound {
        confidence,
        side: side.to_string(),
        seeds: n,
        mean: None,
        sd: None,
        bound: None,
        passed: false,
        detail,
    };
    let missing = observed.iter().filter(|o| o.is_none()).count();
    if missing > 0 {
        return fail(format!(
            "{missing} of {n} seeds had nothing to measure: no {side} bound"
        ));
    }
    if n < 2 {
        return fail(format!(
            "a confidence bound needs at least 2 seeds (got {n}): run with --seeds, e.g. --seeds 1..20"
        ));
    }
    let xs: Vec<f64> = observed.iter().flatten().copied().collect();
    if xs.iter().any(|x| !x.is_finite()) {
        return fail("an observed value is not finite".into());
    }
    let (mean, sd) = mean_sd(&xs);
    let t = t_one_sided(confidence, (n - 1) as f64);
    let margin = if sd == 0.0 {
        0.0
    } else {
        t * sd / (n as f64).sqrt()
    };
    let bound = if upper { mean + margin } else { mean - margin };
    let passed = if upper {
        bound <= threshold
    } else {
        bound >= threshold
    };
    let op = match (upper, passed) {
        (true, true) => "<=",
        (true, false) => ">",
        (false, true) => ">=",
        (false, false) => "<",
    };
    ConfidenceBound {
        confidence,
        side: side.to_string(),
        seeds: n,
        mean: Some(mean),
        sd: Some(sd),
        bound: Some(bound),
        passed,
        detail: format!(
            "{side} {}% confidence bound over {n} seeds: {} {op} {} (mean {}, sd {}; one-sided Student t, {} df)",
            num(confidence * 100.0),
            num(bound),
            num(threshold),
            num(mean),
            num(sd),
            n - 1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bound_of_a_maximum() {
        // mean 10, sd sqrt(8/3) = 1.633 over 4 seeds: bound = 10 + 2.3534 *
        // 1.633 / 2 = 11.92.
        let obs = [Some(8.0), Some(10.0), Some(12.0), Some(10.0)];
        let sd = (8.0f64 / 3.0).sqrt();
        let b = evaluate("<=", 13.0, 0.95, &obs);
        let expect = 10.0 + 2.3534 * sd / 2.0;
        assert!((b.bound.unwrap() - expect).abs() < 1e-3, "{b:?}");
        assert!(b.passed);
        // 8, 12, 12, 8: mean 10, sd 2.309, bound 10 + 2.3534 * 2.309 / 2 =
        // 12.72: every seed is within 12.5, the bound is not.
        let spread = [Some(8.0), Some(12.0), Some(12.0), Some(8.0)];
        assert!(
            !evaluate("<=", 12.5, 0.95, &spread).passed,
            "every seed <= 12.5, the bound is not"
        );
        assert_eq!(b.side, "upper");
    }

    #[test]
    fn lower_bound_of_a_minimum() {
        let obs = [Some(0.96), Some(0.98), Some(0.97)];
        let b = evaluate(">=", 0.95, 0.95, &obs);
        assert_eq!(b.side, "lower");
        assert!(b.bound.unwrap() < 0.97 && b.passed, "{b:?}");
        assert!(!evaluate(">=", 0.96, 0.95, &obs).passed);
    }

    #[test]
    fn nothing_to_measure_or_one_seed_fails() {
        assert!(!evaluate("<=", 1.0, 0.95, &[Some(0.0), None]).passed);
        let one = evaluate("<=", 1.0, 0.95, &[Some(0.0)]);
        assert!(!one.passed && one.detail.contains("at least 2 seeds"));
    }

    #[test]
    fn identical_seeds_bound_at_the_mean() {
        let b = evaluate("<=", 0.0, 0.99, &[Some(0.0); 5]);
        assert_eq!(b.bound, Some(0.0));
        assert!(b.passed);
    }
}
