//! Exact queueing-theory formulas used to validate the simulator.
//!
//! The plain connection pool, driven by Poisson arrivals and exponential hold
//! times with no checkout timeout, is an **M/M/c queue**:
//!
//! - arrivals form a Poisson process of rate `λ` (per second);
//! - each checkout holds a connection for an exponential time of mean `1/μ`;
//! - there are `c` connections (servers) and an unbounded wait queue.
//!
//! The offered load is `a = λ/μ` Erlangs and the utilisation is `ρ = a/c`. The
//! queue is stable only when `a < c`; every function here returns `None` (or
//! documents what it returns) outside that region instead of a meaningless
//! number.
//!
//! # Service order
//!
//! The pool hands a released connection to a **random** waiter, not the oldest
//! one. For M/M/c this does not change:
//!
//! - the probability that an arrival waits (Erlang C): whether an arrival
//!   waits depends only on how many checkouts are in the system when it
//!   arrives, and that count evolves the same way under any work-conserving
//!   order that does not look at hold times;
//! - the mean wait `Wq`: the mean queue length `Lq` is the same for the same
//!   reason, and Little's law gives `Wq = Lq/λ`.
//!
//! It does change the *shape* of the wait distribution. While all `c` servers
//! are busy, departures are Poisson at rate `cμ`, so the wait of an arrival
//! that has to wait is that of an M/M/1 queue with service rate `cμ` and
//! utilisation `ρ`. Random order keeps the mean but raises the second moment:
//! `E[W²]_random = 2/(2 − ρ) · E[W²]_FIFO`, the classical M/G/1 result
//! (J. F. C. Kingman, 1962), which the synthetic check behind
//! `docs/erlang-c-validation.md` reproduces for M/M/c to within 0.3%. The tail
//! is different too (L. Flatto, "The waiting time distribution for the random
//! order service M/M/1 queue", Ann. Appl. Probab. 7(2), 1997). The tail
//! formula [`mmc_wait_exceeds`] is therefore exact only for FIFO, and a test
//! of the pool should compare `P(wait)` and the mean wait, not percentiles.
//!
//! # Sources
//!
//! These are the textbook M/M/c results, e.g. L. Kleinrock, *Queueing Systems,
//! Volume 1: Theory* (1975), §3.5 (M/M/m), and D. Gross, J. F. Shortle,
//! J. M. Thompson, C. M. Harris, *Fundamentals of Queueing Theory*, 4th ed.
//! (2008), §2.3 (M/M/c). The Erlang B recurrence and the Erlang C expression
//! through Erlang B are the standard numerically stable way to evaluate them
//! without factorials (see e.g. the ITU-T/ITC *Teletraffic Engineering
//! Handbook*). The unit tests below check both against the direct factorial
//! sums.
//!
//! # Tolerances
//!
//! [`binomial_tolerance`] and [`batch_means_half_width`] help a test state how
//! far a simulated estimate may sit from the prediction. Successive checkouts
//! in one run are positively correlated (a queue that is long now is long a
//! moment later), so the i.i.d. binomial error understates the real error; see
//! `docs/erlang-c-validation.md` for measured inflation factors and the
//! tolerances recommended for the validation tests.

/// Erlang B: the blocking probability of an M/M/c/c loss system with `c`
/// servers and offered load `a` Erlangs.
///
/// `B(c, a) = (a^c / c!) / Σ_{k=0..c} a^k / k!`, evaluated with the stable
/// recurrence
///
/// ```text
/// B(0) = 1,    B(k) = a·B(k-1) / (k + a·B(k-1))    for k = 1..c
/// ```
///
/// which needs no factorials or powers, so it neither overflows nor loses
/// precision for large `c` (every step stays in `[0, 1]`).
///
/// Returns `1` for `c = 0`, `0` for `a = 0` (and `c ≥ 1`), and `NaN` if `a` is
/// negative or not finite.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    if !a.is_finite() || a < 0.0 {
        return f64::NAN;
    }
    let mut b = 1.0_f64;
    for k in 1..=c {
        let ab = a * b;
        b = ab / (f64::from(k) + ab);
    }
    b
}

/// Erlang C: the probability that an arrival to an M/M/c queue has to wait
/// (finds all `c` servers busy), for offered load `a = λ/μ` Erlangs.
///
/// Computed from Erlang B ([`erlang_b`]) as
///
/// ```text
/// C(c, a) = B / (1 - ρ(1 - B)),    ρ = a/c
/// ```
///
/// which equals the direct form
/// `C = (a^c/c!)·(c/(c-a)) / (Σ_{k=0..c-1} a^k/k! + (a^c/c!)·(c/(c-a)))`.
///
/// Returns `None` if the queue is unstable (`a ≥ c`), if `c = 0`, or if `a` is
/// negative or not finite. Returns `Some(0.0)` for `a = 0`. By PASTA (Poisson
/// arrivals see time averages) this is also the long-run fraction of time all
/// `c` servers are busy.
pub fn erlang_c(c: u32, a: f64) -> Option<f64> {
    if c == 0 || !a.is_finite() || a < 0.0 || a >= f64::from(c) {
        return None;
    }
    if a == 0.0 {
        return Some(0.0);
    }
    let b = erlang_b(c, a);
    let rho = a / f64::from(c);
    // The denominator is 1 - ρ + ρB > 0 for ρ < 1. Mathematically C ≤ 1;
    // the clamp only guards against rounding as ρ → 1.
    Some((b / (1.0 - rho * (1.0 - b))).min(1.0))
}

/// The steady-state predictions for one M/M/c load point, from [`mmc`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmcPrediction {
    /// `a = λ/μ = λ · mean hold`, in Erlangs: the mean number of busy servers.
    pub offered_load: f64,
    /// `ρ = a/c`: the fraction of time an individual server is busy.
    pub utilisation: f64,
    /// Erlang C: the probability that an arrival waits at all.
    pub p_wait: f64,
    /// `Wq = C / (cμ - λ)`: the mean wait over all arrivals, in seconds
    /// (arrivals that do not wait count as 0).
    pub mean_wait_s: f64,
    /// `1 / (cμ - λ)`: the mean wait of those arrivals that do wait, in
    /// seconds. For FIFO the conditional wait is exponential with this mean.
    pub mean_wait_given_wait_s: f64,
}

/// Steady-state M/M/c predictions for arrival rate `lambda_per_s` (λ, per
/// second), exponential hold times of mean `mean_hold_s` (`1/μ`, seconds) and
/// `c` servers.
///
/// ```text
/// a  = λ/μ,   ρ = a/c,   C = erlang_c(c, a)
/// Wq = C / (cμ - λ)                     mean wait, all arrivals
/// E[Wq | Wq > 0] = 1 / (cμ - λ)         mean wait of those who wait
/// ```
///
/// While all servers are busy, departures form a Poisson process of rate
/// `cμ`, so a waiting arrival behaves like a customer of an M/M/1 queue with
/// service rate `cμ`; that is where `1/(cμ - λ)` comes from. Internally
/// `cμ - λ` is evaluated as `(c - a)/mean_hold` to avoid cancellation.
///
/// Returns `None` if `λ` is negative or not finite, `mean_hold_s` is not
/// positive and finite, `c = 0`, or the load is unstable (`a ≥ c`). Both means
/// hold for FIFO and random-order service alike.
pub fn mmc(lambda_per_s: f64, mean_hold_s: f64, c: u32) -> Option<MmcPrediction> {
    if !lambda_per_s.is_finite() || lambda_per_s < 0.0 {
        return None;
    }
    if !mean_hold_s.is_finite() || mean_hold_s <= 0.0 {
        return None;
    }
    let a = lambda_per_s * mean_hold_s;
    let p_wait = erlang_c(c, a)?;
    let cf = f64::from(c);
    // 1 / (cμ - λ) = mean_hold / (c - a).
    let mean_wait_given_wait_s = mean_hold_s / (cf - a);
    Some(MmcPrediction {
        offered_load: a,
        utilisation: a / cf,
        p_wait,
        mean_wait_s: p_wait * mean_wait_given_wait_s,
        mean_wait_given_wait_s,
    })
}

/// `P(Wq > t)`: the probability that an arrival waits longer than `t_s`
/// seconds, for **FIFO** service:
///
/// ```text
/// P(Wq > t) = C · exp(-(cμ - λ) t),    t ≥ 0
/// ```
///
/// (and `1` for `t < 0`). At `t = 0` this is `p_wait`, and its integral over
/// `t ≥ 0` is `mean_wait_s`.
///
/// **Random-order service** (what the pool does: a released connection goes
/// to a random waiter) has the same `P(Wq > 0)` and the same mean, but a
/// different tail: more arrivals are served quickly and some wait much
/// longer, so the variance is larger and the far tail is heavier. Do not use
/// this function to check the pool's wait percentiles.
pub fn mmc_wait_exceeds(pred: &MmcPrediction, t_s: f64) -> f64 {
    if t_s.is_nan() {
        return f64::NAN;
    }
    if t_s < 0.0 {
        return 1.0;
    }
    if pred.p_wait == 0.0 {
        return 0.0;
    }
    pred.p_wait * (-t_s / pred.mean_wait_given_wait_s).exp()
}

/// Normal-approximation half-width for an estimated proportion:
/// `z · sqrt(p(1 - p)/n)`.
///
/// This is the right error for `n` **independent** Bernoulli trials (e.g.
/// `z = 1.96` for a two-sided 95% interval). Whether consecutive arrivals in
/// one simulated run wait is **not** independent: they are positively
/// autocorrelated, so the real standard error of an observed `P(wait)` is
/// several times larger than this. A test must inflate it, either by a
/// batch-means estimate ([`batch_means_half_width`]) or by a stated factor
/// measured beforehand (see `docs/erlang-c-validation.md`).
///
/// Returns `+∞` for `n = 0` and `NaN` if `p` is outside `[0, 1]` or `z` is not
/// finite.
pub fn binomial_tolerance(p: f64, n: u64, z: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || !z.is_finite() {
        return f64::NAN;
    }
    if n == 0 {
        return f64::INFINITY;
    }
    // u64 → f64 rounds above 2^53, which is irrelevant here.
    z * (p * (1.0 - p) / n as f64).sqrt()
}

/// Batch-means half-width for the mean of an autocorrelated series.
///
/// `samples` is split, in order, into `batches` contiguous batches whose sizes
/// differ by at most one (batch `i` is `samples[i·n/b .. (i+1)·n/b]`). The
/// batch means are treated as independent, and the result is
///
/// ```text
/// z · s / sqrt(b)
/// ```
///
/// with `s` the sample standard deviation (divisor `b - 1`) of the `b` batch
/// means. Pass the samples in arrival order (e.g. 0/1 "waited" indicators for
/// `P(wait)`, or wait times for the mean wait), after deleting the warm-up.
///
/// The batch means are close to independent only when each batch is much
/// longer than the series' correlation time; 20–30 batches of a long run is
/// the usual choice. With few batches, pass a Student-t quantile with `b - 1`
/// degrees of freedom as `z` (e.g. 2.093 for 95% with 20 batches). The
/// estimate is itself noisy (relative error about `1/sqrt(2(b-1))`).
///
/// Returns `None` if `batches < 2`, there are fewer samples than batches, or
/// the result is not finite (e.g. a non-finite sample or `z`).
pub fn batch_means_half_width(samples: &[f64], batches: usize, z: f64) -> Option<f64> {
    let n = samples.len();
    if batches < 2 || n < batches {
        return None;
    }
    let means: Vec<f64> = (0..batches)
        .map(|i| {
            let batch = &samples[i * n / batches..(i + 1) * n / batches];
            batch.iter().sum::<f64>() / batch.len() as f64
        })
        .collect();
    let b = batches as f64;
    let grand = means.iter().sum::<f64>() / b;
    let var = means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (b - 1.0);
    let half = z * (var / b).sqrt();
    half.is_finite().then_some(half)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, rel: f64) -> bool {
        (x - y).abs() <= rel * y.abs().max(f64::MIN_POSITIVE)
    }

    /// Erlang C by the direct sum with f64 powers and factorials (fine for
    /// small c), independent of the recurrence under test.
    fn erlang_c_direct(c: u32, a: f64) -> f64 {
        let mut term = 1.0; // a^k / k!
        let mut sum = 0.0; // Σ_{k<c} a^k / k!
        for k in 0..c {
            sum += term;
            term *= a / f64::from(k + 1);
        }
        let top = term * f64::from(c) / (f64::from(c) - a);
        top / (sum + top)
    }

    /// Erlang C from log-space terms and log-sum-exp, safe for large c.
    fn erlang_c_log(c: u32, a: f64) -> f64 {
        let mut ln_terms = Vec::with_capacity(c as usize + 1);
        let mut ln_t = 0.0;
        for k in 0..c {
            ln_terms.push(ln_t);
            ln_t += a.ln() - f64::from(k + 1).ln();
        }
        let ln_top = ln_t + (f64::from(c) / (f64::from(c) - a)).ln();
        ln_terms.push(ln_top);
        let max = ln_terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let ln_sum = max + ln_terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
        (ln_top - ln_sum).exp()
    }

    #[test]
    fn erlang_b_matches_direct_sum() {
        for &(c, a) in &[(1u32, 0.5), (5, 3.0), (10, 8.0), (20, 25.0)] {
            let mut term = 1.0;
            let mut sum = 1.0;
            for k in 1..=c {
                term *= a / f64::from(k);
                sum += term;
            }
            assert!(close(erlang_b(c, a), term / sum, 1e-12), "c={c} a={a}");
        }
        assert_eq!(erlang_b(0, 3.0), 1.0);
        assert_eq!(erlang_b(4, 0.0), 0.0);
        assert!(erlang_b(4, -1.0).is_nan());
        assert!(erlang_b(4, f64::INFINITY).is_nan());
    }

    #[test]
    fn erlang_c_c10_a8_published_value() {
        let c = erlang_c(10, 8.0).unwrap();
        assert!(close(c, erlang_c_direct(10, 8.0), 1e-12));
        // Tables give 0.409 for 10 servers at 8 Erlangs.
        assert!((c - 0.409).abs() < 5e-4, "{c}");
    }

    #[test]
    fn erlang_c_matches_direct_sum_on_a_grid() {
        for c in 1..=30u32 {
            for i in 0..20 {
                let a = f64::from(c) * f64::from(i) / 20.0;
                if a == 0.0 {
                    continue;
                }
                let got = erlang_c(c, a).unwrap();
                assert!(close(got, erlang_c_direct(c, a), 1e-12), "c={c} a={a}");
            }
        }
    }

    #[test]
    fn erlang_c_single_server_is_rho() {
        for &a in &[0.01, 0.3, 0.5, 0.9, 0.999] {
            assert!(close(erlang_c(1, a).unwrap(), a, 1e-14), "a={a}");
        }
    }

    #[test]
    fn erlang_c_two_servers_one_erlang_is_one_third() {
        assert!(close(erlang_c(2, 1.0).unwrap(), 1.0 / 3.0, 1e-15));
    }

    #[test]
    fn erlang_c_rejects_unstable_and_invalid() {
        assert_eq!(erlang_c(10, 10.0), None);
        assert_eq!(erlang_c(10, 12.5), None);
        assert_eq!(erlang_c(0, 0.0), None);
        assert_eq!(erlang_c(0, 1.0), None);
        assert_eq!(erlang_c(3, -0.1), None);
        assert_eq!(erlang_c(3, f64::NAN), None);
        assert_eq!(erlang_c(3, f64::INFINITY), None);
        assert_eq!(erlang_c(3, 0.0), Some(0.0));
        assert_eq!(erlang_c(1, 0.0), Some(0.0));
    }

    #[test]
    fn erlang_c_large_c_is_finite_and_exact() {
        for &(c, a) in &[(500u32, 450.0), (500, 499.0), (2000, 1900.0), (300, 10.0)] {
            let got = erlang_c(c, a).unwrap();
            assert!(got.is_finite() && (0.0..=1.0).contains(&got), "c={c} a={a}");
            assert!(close(got, erlang_c_log(c, a), 1e-9), "c={c} a={a}: {got}");
        }
        // Close to saturation C → 1 but stays a probability.
        let near = erlang_c(500, 499.999_999).unwrap();
        assert!(near > 0.99 && near <= 1.0, "{near}");
    }

    #[test]
    fn erlang_c_increases_with_load_and_decreases_with_servers() {
        let mut prev = 0.0;
        for i in 1..100 {
            let cur = erlang_c(10, f64::from(i) / 10.0).unwrap();
            assert!(cur > prev);
            prev = cur;
        }
        assert!(erlang_c(11, 8.0).unwrap() < erlang_c(10, 8.0).unwrap());
    }

    #[test]
    fn mmc_little_law_and_closed_forms() {
        for &(lambda, hold, c) in &[
            (60.0, 0.1, 10u32),
            (90.0, 0.1, 10),
            (3.0, 0.25, 1),
            (450.0, 1.0, 500),
        ] {
            let p = mmc(lambda, hold, c).unwrap();
            let a = lambda * hold;
            let rho = a / f64::from(c);
            assert!(close(p.offered_load, a, 1e-15));
            assert!(close(p.utilisation, rho, 1e-15));
            assert_eq!(p.p_wait, erlang_c(c, a).unwrap());
            // Little's law: Lq = λ·Wq, and the closed form Lq = C·ρ/(1-ρ).
            let lq = lambda * p.mean_wait_s;
            assert!(
                close(lq, p.p_wait * rho / (1.0 - rho), 1e-12),
                "{lambda} {hold} {c}"
            );
            // Wq = C/(cμ - λ), E[Wq | wait] = 1/(cμ - λ).
            let theta = f64::from(c) / hold - lambda;
            assert!(close(p.mean_wait_s, p.p_wait / theta, 1e-12));
            assert!(close(p.mean_wait_given_wait_s, 1.0 / theta, 1e-12));
        }
        // M/M/1: Wq = ρ/(μ - λ).
        let p = mmc(3.0, 0.25, 1).unwrap();
        assert!(close(p.mean_wait_s, 0.75 / (4.0 - 3.0), 1e-14));
    }

    #[test]
    fn mmc_rejects_invalid() {
        assert_eq!(mmc(100.0, 0.1, 10), None); // a = c
        assert_eq!(mmc(-1.0, 0.1, 10), None);
        assert_eq!(mmc(f64::NAN, 0.1, 10), None);
        assert_eq!(mmc(10.0, 0.0, 10), None);
        assert_eq!(mmc(10.0, -0.1, 10), None);
        assert_eq!(mmc(10.0, f64::INFINITY, 10), None);
        assert_eq!(mmc(10.0, 0.1, 0), None);
        let idle = mmc(0.0, 0.1, 10).unwrap();
        assert_eq!((idle.p_wait, idle.mean_wait_s), (0.0, 0.0));
        assert!(close(idle.mean_wait_given_wait_s, 0.01, 1e-15));
    }

    #[test]
    fn wait_tail_starts_at_p_wait_and_integrates_to_mean() {
        let p = mmc(90.0, 0.1, 10).unwrap();
        assert_eq!(mmc_wait_exceeds(&p, 0.0), p.p_wait);
        assert_eq!(mmc_wait_exceeds(&p, -1.0), 1.0);
        assert!(mmc_wait_exceeds(&p, f64::NAN).is_nan());
        let theta = 100.0 - 90.0;
        assert!(close(
            mmc_wait_exceeds(&p, 0.2),
            p.p_wait * (-theta * 0.2f64).exp(),
            1e-14
        ));
        // ∫_0^∞ P(Wq > t) dt = E[Wq], by Simpson's rule over 40 conditional means.
        let (h, n) = (p.mean_wait_given_wait_s / 100.0, 4000);
        let f = |i: usize| mmc_wait_exceeds(&p, h * i as f64);
        let mut s = f(0) + f(n);
        for i in 1..n {
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(i);
        }
        assert!(close(s * h / 3.0, p.mean_wait_s, 1e-9));
        assert_eq!(mmc_wait_exceeds(&mmc(0.0, 0.1, 3).unwrap(), 0.0), 0.0);
    }

    #[test]
    fn binomial_tolerance_values() {
        assert!(close(binomial_tolerance(0.5, 100, 2.0), 0.1, 1e-15));
        assert!(close(binomial_tolerance(0.2, 400, 1.0), 0.02, 1e-14));
        assert_eq!(binomial_tolerance(0.0, 10, 3.0), 0.0);
        assert_eq!(binomial_tolerance(0.5, 0, 3.0), f64::INFINITY);
        assert!(binomial_tolerance(1.5, 10, 3.0).is_nan());
        assert!(binomial_tolerance(0.5, 10, f64::NAN).is_nan());
    }

    #[test]
    fn batch_means_half_width_values() {
        // Batch means 1, 2, 3, 4: s² = 5/3, se = sqrt(5/3 / 4).
        let xs = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0];
        let se = (5.0f64 / 3.0 / 4.0).sqrt();
        assert!(close(
            batch_means_half_width(&xs, 4, 1.0).unwrap(),
            se,
            1e-14
        ));
        assert!(close(
            batch_means_half_width(&xs, 4, 2.0).unwrap(),
            2.0 * se,
            1e-14
        ));
        // Uneven split: 5 samples in 2 batches → [0..2], [2..5].
        let ys = [0.0, 2.0, 4.0, 4.0, 4.0];
        // Means 1 and 4: s² = 4.5, se = sqrt(4.5 / 2) = 1.5.
        assert!(close(
            batch_means_half_width(&ys, 2, 1.0).unwrap(),
            1.5,
            1e-14
        ));
        // One sample per batch: the plain standard error, s² = 10/7 over 8.
        let se8 = (10.0f64 / 7.0 / 8.0).sqrt();
        assert!(close(
            batch_means_half_width(&xs, 8, 1.0).unwrap(),
            se8,
            1e-14
        ));
        assert_eq!(batch_means_half_width(&[1.0, 1.0, 1.0], 3, 1.0), Some(0.0));
        assert_eq!(batch_means_half_width(&xs, 1, 1.0), None);
        assert_eq!(batch_means_half_width(&xs[..3], 4, 1.0), None);
        assert_eq!(batch_means_half_width(&[1.0, f64::NAN], 2, 1.0), None);
    }

    /// SplitMix64: a tiny self-contained generator, so this throwaway check
    /// depends on nothing in the crate.
    struct SplitMix(u64);

    impl SplitMix {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        /// Uniform in (0, 1].
        fn unit(&mut self) -> f64 {
            ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
        }
        fn exp(&mut self, mean: f64) -> f64 {
            -mean * self.unit().ln()
        }
        fn below(&mut self, n: usize) -> usize {
            ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
        }
    }

    /// Event-driven M/M/c. Returns the waits (seconds) of the arrivals in
    /// `[warmup, warmup + duration)`, in arrival order. Arrivals stop at the
    /// end of that window and the queue drains, so every counted arrival has
    /// a wait. `random_order`: a freed server takes a uniformly random waiter
    /// (as the pool does); otherwise the oldest.
    fn simulate_mmc(
        lambda: f64,
        hold: f64,
        c: usize,
        warmup: f64,
        duration: f64,
        random_order: bool,
        seed: u64,
    ) -> Vec<f64> {
        let end = warmup + duration;
        let mut rng = SplitMix(seed);
        let mut next_arrival = rng.exp(1.0 / lambda);
        let mut busy: Vec<f64> = Vec::with_capacity(c); // departure times
        let mut queue: Vec<usize> = Vec::new(); // indices into arrivals
        let mut arrivals: Vec<f64> = Vec::new();
        let mut waits: Vec<f64> = Vec::new();
        loop {
            let next_dep = busy
                .iter()
                .enumerate()
                .min_by(|x, y| x.1.total_cmp(y.1))
                .map(|(i, &t)| (i, t));
            let arrival_first =
                next_arrival < end && next_dep.is_none_or(|(_, t)| next_arrival <= t);
            if arrival_first {
                let now = next_arrival;
                let i = arrivals.len();
                arrivals.push(now);
                waits.push(f64::NAN);
                if busy.len() < c {
                    waits[i] = 0.0;
                    busy.push(now + rng.exp(hold));
                } else {
                    queue.push(i);
                }
                next_arrival = now + rng.exp(1.0 / lambda);
            } else if let Some((k, now)) = next_dep {
                if queue.is_empty() {
                    busy.swap_remove(k);
                } else {
                    let j = if random_order {
                        queue.swap_remove(rng.below(queue.len()))
                    } else {
                        queue.remove(0)
                    };
                    waits[j] = now - arrivals[j];
                    busy[k] = now + rng.exp(hold);
                }
            } else {
                break;
            }
        }
        arrivals
            .iter()
            .zip(waits)
            .filter(|(&t, _)| t >= warmup)
            .map(|(_, w)| w)
            .collect()
    }

    fn mean_sd(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, v.sqrt())
    }

    /// Throwaway calibration behind `docs/erlang-c-validation.md`: the M/M/c
    /// predictions at the two load points, and, from many independent
    /// synthetic runs of 7200 s after a 60 s warm-up, the real across-seed
    /// standard error of the observed P(wait) and mean wait, compared with
    /// the binomial and 20-batch batch-means estimates.
    ///
    /// `cargo test --release --lib theory -- --ignored --nocapture`
    /// (`THEORY_REPS` sets the number of runs per case, default 200).
    #[test]
    #[ignore = "calibration, prints a table; ~1 min in release"]
    fn synthetic_mmc_standard_errors() {
        let reps: u64 = std::env::var("THEORY_REPS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        let (c, hold, warmup, duration, batches) = (10u32, 0.1, 60.0, 7200.0, 20usize);
        for &lambda in &[60.0, 90.0] {
            let p = mmc(lambda, hold, c).unwrap();
            println!(
                "\n== c={c} lambda={lambda}/s hold={hold}s: a={:.4} rho={:.4} P(wait)={:.6} Wq={:.6} ms E[W|W>0]={:.6} ms, P(Wq>100ms, FIFO)={:.6}",
                p.offered_load,
                p.utilisation,
                p.p_wait,
                1e3 * p.mean_wait_s,
                1e3 * p.mean_wait_given_wait_s,
                mmc_wait_exceeds(&p, 0.1),
            );
            for &random_order in &[true, false] {
                let (mut ps, mut ws, mut p_bm, mut w_bm, mut ns) =
                    (vec![], vec![], vec![], vec![], vec![]);
                let (mut var_w, mut tail) = (vec![], vec![]);
                let (mut p_out4, mut w_out4) = (0, 0);
                for r in 0..reps {
                    let seed = r * 4 + u64::from(random_order) * 2 + u64::from(lambda > 75.0);
                    let w = simulate_mmc(
                        lambda,
                        hold,
                        c as usize,
                        warmup,
                        duration,
                        random_order,
                        seed,
                    );
                    let ind: Vec<f64> = w.iter().map(|&x| f64::from(u8::from(x > 0.0))).collect();
                    let (ph, _) = mean_sd(&ind);
                    let (wh, wsd) = mean_sd(&w);
                    let pb = batch_means_half_width(&ind, batches, 1.0).unwrap();
                    let wb = batch_means_half_width(&w, batches, 1.0).unwrap();
                    if (ph - p.p_wait).abs() > 4.0 * pb {
                        p_out4 += 1;
                    }
                    if (wh - p.mean_wait_s).abs() > 4.0 * wb {
                        w_out4 += 1;
                    }
                    ps.push(ph);
                    ws.push(wh);
                    p_bm.push(pb);
                    w_bm.push(wb);
                    ns.push(w.len() as f64);
                    var_w.push(wsd * wsd);
                    tail.push(w.iter().filter(|&&x| x > 0.1).count() as f64 / w.len() as f64);
                }
                let (pm, psd) = mean_sd(&ps);
                let (wm, wsd) = mean_sd(&ws);
                let (pbm, pbsd) = mean_sd(&p_bm);
                let (wbm, wbsd) = mean_sd(&w_bm);
                let (nm, _) = mean_sd(&ns);
                let (vm, _) = mean_sd(&var_w);
                let (tm, tsd) = mean_sd(&tail);
                let binom = binomial_tolerance(p.p_wait, nm as u64, 1.0);
                let rf = reps as f64;
                println!(
                    "-- {} service, {reps} runs, mean n={nm:.0} arrivals/run",
                    if random_order { "random-order" } else { "FIFO" }
                );
                println!(
                    "   P(wait): mean {pm:.6} (bias {:+.2} se_of_mean), across-seed sd {psd:.6}; batch-means se mean {pbm:.6} (sd {pbsd:.6}); binomial se {binom:.6}; inflation sd/binomial {:.2}; |err|>4*own batch se in {p_out4}/{reps}; max |err|/sd {:.2}",
                    (pm - p.p_wait) / (psd / rf.sqrt()),
                    psd / binom,
                    ps.iter().map(|x| (x - p.p_wait).abs() / psd).fold(0.0, f64::max),
                );
                println!(
                    "   Wq ms:   mean {:.6} (bias {:+.2} se_of_mean), across-seed sd {:.6}; batch-means se mean {:.6} (sd {:.6}); rel sd {:.4}; |err|>4*own batch se in {w_out4}/{reps}; max |err|/sd {:.2}",
                    1e3 * wm,
                    (wm - p.mean_wait_s) / (wsd / rf.sqrt()),
                    1e3 * wsd,
                    1e3 * wbm,
                    1e3 * wbsd,
                    wsd / p.mean_wait_s,
                    ws.iter().map(|x| (x - p.mean_wait_s).abs() / wsd).fold(0.0, f64::max),
                );
                // FIFO: E[W²] = 2C/θ². Random order: Kingman's M/G/1 factor 2/(2 − ρ).
                let m2_fifo = 2.0 * p.p_wait * p.mean_wait_given_wait_s.powi(2);
                println!(
                    "   per-arrival wait variance {:.6} ms^2 (FIFO theory {:.6}); E[W^2]/E[W^2]_FIFO {:.4} (2/(2-rho) = {:.4}); P(W>100ms) {tm:.6} (sd {tsd:.6}; FIFO theory {:.6})",
                    1e6 * vm,
                    1e6 * (m2_fifo - p.mean_wait_s.powi(2)),
                    (vm + wm * wm) / m2_fifo,
                    2.0 / (2.0 - p.utilisation),
                    mmc_wait_exceeds(&p, 0.1),
                );
                let shape = |xs: &[f64], m: f64, sd: f64, truth: f64| {
                    let skew =
                        xs.iter().map(|x| ((x - m) / sd).powi(3)).sum::<f64>() / xs.len() as f64;
                    let beyond =
                        |k: f64| xs.iter().filter(|&&x| (x - truth).abs() > k * sd).count();
                    let (lo, hi) = (
                        xs.iter()
                            .map(|x| (x - truth) / sd)
                            .fold(f64::INFINITY, f64::min),
                        xs.iter()
                            .map(|x| (x - truth) / sd)
                            .fold(f64::NEG_INFINITY, f64::max),
                    );
                    format!(
                        "skew {skew:+.3}, beyond 3/4/5 sd: {}/{}/{}, range of err/sd [{lo:.2}, {hi:.2}]",
                        beyond(3.0),
                        beyond(4.0),
                        beyond(5.0)
                    )
                };
                println!("   P(wait) across runs: {}", shape(&ps, pm, psd, p.p_wait));
                println!(
                    "   Wq across runs:      {}",
                    shape(&ws, wm, wsd, p.mean_wait_s)
                );
            }
        }
    }
}
