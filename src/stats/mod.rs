//! Statistics of simulated figures: confidence intervals across independent
//! replications (seeds), paired differences between modes, confidence bounds
//! for assertions, and steady-state estimates within one run.
//!
//! # Across seeds
//!
//! Runs of one scenario with different seeds are independent replications,
//! so a figure's values over `n` seeds are an i.i.d. sample. Its mean gets
//! the Student t interval `mean ± t(1 - α/2, n - 1) · s / √n` ([`interval`]),
//! with `s` the sample standard deviation (divisor `n - 1`). The t interval
//! assumes the per-seed values are roughly normal; for means of many requests
//! that is close, for extremes (a maximum, p99.99) it is rougher, and 20 or
//! more seeds make it safer. `tests/stats.rs` measures the coverage on the
//! M/M/c pool against Erlang C.
//!
//! **Percentiles** (p50, p99 of the wait) are handled per seed: each seed's
//! percentile comes from that seed's wait histogram over all pools, and the
//! interval is for the mean of those per-seed percentiles ([`PERCENTILE_METHOD`]).
//! That is the expected p99 of one run of this length, not the p99 of all
//! seeds' requests pooled together (which would need the pooled histogram and
//! has no simple interval).
//!
//! # Paired differences (common random numbers)
//!
//! Every mode of `poolsim compare` sees the same requests for a given seed:
//! the arrivals and holds come from streams nothing else draws from. So the
//! difference of a figure between two modes is computed **per seed**,
//! `d_s = x_A(s) - x_B(s)`, and the interval is the t interval of the `d_s`
//! ([`paired`]). The seed-to-seed noise that both modes share (a seed with
//! more arrivals in a burst is worse in every mode) cancels in `d_s`, so the
//! interval is narrower than the unpaired (Welch) interval of the two
//! means ([`welch_half_width`]), which is reported beside it for comparison.
//! A mode compared with itself gives `d_s = 0` for every seed: exactly zero,
//! with a zero-width interval.
//!
//! # Within one run
//!
//! [`steady`]: batch means for the mean wait and the hit ratio after
//! `measure_after`, and MSER-5 warm-up detection on the wait series.
//!
//! # Assertions
//!
//! [`bound`]: an assertion with `confidence: 0.95` holds when the one-sided
//! confidence bound of its mean across seeds is on the right side of the
//! threshold.

pub mod bound;
pub mod steady;

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The confidence of the intervals `poolsim compare --seeds` reports.
pub const COMPARE_CONFIDENCE: f64 = 0.95;

/// How percentile figures are summarised across seeds (named in compare.json
/// and the printed table).
pub const PERCENTILE_METHOD: &str = "mean of per-seed percentiles: each seed's percentile from its own wait histogram over all pools (3 significant digits), then a Student t interval across seeds; an interval for the expected percentile of one run, not for the percentile of all seeds' requests pooled";

/// How means and counts are summarised across seeds.
pub const MEAN_METHOD: &str =
    "mean across seeds with a two-sided Student t interval (n - 1 degrees of freedom)";

/// How paired differences are computed.
pub const PAIRED_METHOD: &str = "per seed, the figure of the first mode minus that of the second on the same requests (common random numbers); Student t interval of those differences (n - 1 degrees of freedom); unpaired_half_width is Welch's interval of the two means, as if the modes had run on independent requests";

/// The `p` quantile of Student's t distribution with `df` degrees of freedom
/// (`P(T <= t) = p`). `df` must be at least 1 and `p` in (0, 1).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .expect("df >= 1")
        .inverse_cdf(p)
}

/// The critical value of a two-sided interval at `confidence` with `df`
/// degrees of freedom: `t(1 - (1 - confidence)/2, df)`; 2.093 for 95% and
/// 19 degrees of freedom.
pub fn t_two_sided(confidence: f64, df: f64) -> f64 {
    t_quantile(1.0 - (1.0 - confidence) / 2.0, df)
}

/// The critical value of a one-sided bound at `confidence`: `t(confidence, df)`;
/// 1.729 for 95% and 19 degrees of freedom.
pub fn t_one_sided(confidence: f64, df: f64) -> f64 {
    t_quantile(confidence, df)
}

/// Mean and sample standard deviation (divisor `n - 1`; 0 for one value).
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    (mean, (ss / (n - 1.0)).sqrt())
}

/// A confidence interval for a mean.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Interval {
    /// Values it is computed from.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation.
    pub sd: f64,
    /// Half the interval's width: `t · sd / √n`.
    pub half_width: f64,
    /// `mean - half_width`.
    pub lo: f64,
    /// `mean + half_width`.
    pub hi: f64,
}

/// The two-sided Student t interval at `confidence` for the mean of `xs`;
/// `None` with fewer than 2 values or a value that is not finite.
pub fn interval(xs: &[f64], confidence: f64) -> Option<Interval> {
    if xs.len() < 2 || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let (mean, sd) = mean_sd(xs);
    let n = xs.len();
    let half_width = if sd == 0.0 {
        0.0
    } else {
        t_two_sided(confidence, (n - 1) as f64) * sd / (n as f64).sqrt()
    };
    Some(Interval {
        n,
        mean,
        sd,
        half_width,
        lo: mean - half_width,
        hi: mean + half_width,
    })
}

/// A paired difference `a - b` and its interval.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PairedInterval {
    /// The interval of the per-seed differences.
    #[serde(flatten)]
    pub difference: Interval,
    /// Whether the interval lies wholly above or wholly below zero.
    pub excludes_zero: bool,
    /// The half-width of Welch's (unpaired) interval for the same difference
    /// of means: what two independent sets of runs would give.
    pub unpaired_half_width: Option<f64>,
}

/// The paired difference `a[s] - b[s]` over seeds `s` (`a` and `b` in the
/// same seed order), with its two-sided interval at `confidence`; `None`
/// with fewer than 2 pairs, unequal lengths or values that are not finite.
pub fn paired(a: &[f64], b: &[f64], confidence: f64) -> Option<PairedInterval> {
    if a.len() != b.len() {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let difference = interval(&d, confidence)?;
    Some(PairedInterval {
        excludes_zero: difference.lo > 0.0 || difference.hi < 0.0,
        unpaired_half_width: welch_half_width(a, b, confidence),
        difference,
    })
}

/// Half-width of Welch's two-sided interval at `confidence` for the
/// difference of the means of two independent samples:
/// `t(df) · √(s_a²/n_a + s_b²/n_b)`, with the Welch–Satterthwaite `df`.
/// `None` with fewer than 2 values in either.
pub fn welch_half_width(a: &[f64], b: &[f64], confidence: f64) -> Option<f64> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (_, sa) = mean_sd(a);
    let (_, sb) = mean_sd(b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (sa * sa / na, sb * sb / nb);
    let se2 = va + vb;
    if se2 == 0.0 {
        return Some(0.0);
    }
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let h = t_two_sided(confidence, df) * se2.sqrt();
    h.is_finite().then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95%: 12.706 (1 df), 2.093 (19), 2.010 (49); one-sided 95%: 1.729 (19).
        for (df, t) in [(1.0, 12.706), (19.0, 2.093), (49.0, 2.010), (1e6, 1.960)] {
            assert!((t_two_sided(0.95, df) - t).abs() < 5e-4, "df {df}");
        }
        assert!((t_one_sided(0.95, 19.0) - 1.729).abs() < 5e-4);
    }

    #[test]
    fn interval_of_known_values() {
        // 1..=5: mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776.
        let i = interval(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).unwrap();
        assert_eq!(i.mean, 3.0);
        assert!((i.sd - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((i.half_width - 2.776 * 2.5f64.sqrt() / 5f64.sqrt()).abs() < 1e-3);
        assert!(interval(&[1.0], 0.95).is_none());
        assert!(interval(&[1.0, f64::NAN], 0.95).is_none());
    }

    #[test]
    fn a_difference_with_itself_is_exactly_zero() {
        let a = [0.1, 0.7, 12.5, 3.25];
        let p = paired(&a, &a, 0.95).unwrap();
        assert_eq!((p.difference.mean, p.difference.half_width), (0.0, 0.0));
        assert!(!p.excludes_zero);
    }

    #[test]
    fn pairing_removes_the_shared_noise() {
        // b = a + 1 exactly: the paired interval is [1, 1]; Welch's is wide.
        let a = [1.0, 5.0, 2.0, 8.0, 3.0];
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let p = paired(&b, &a, 0.95).unwrap();
        assert_eq!((p.difference.mean, p.difference.half_width), (1.0, 0.0));
        assert!(p.excludes_zero);
        assert!(p.unpaired_half_width.unwrap() > 3.0);
    }
}
