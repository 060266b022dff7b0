//! Distributions of durations: request hold times and connect latencies.
//!
//! Parameters are integer nanoseconds; a draw is computed in floating point
//! and rounded once to whole nanoseconds, so simulated time stays integral.

use crate::engine::{SimRng, Time};
use rand::Rng;
use rand_distr::{Distribution, LogNormal};

/// A distribution of durations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DurationDist {
    /// Always the same value.
    Fixed(Time),
    /// Uniform on `[min, max]`.
    Uniform { min: Time, max: Time },
    /// Exponential with the given mean.
    Exponential { mean: Time },
    /// Log-normal with the given mean and shape `sigma` (the standard deviation of
    /// the underlying normal); `mu = ln(mean) - sigma^2 / 2`.
    LogNormal { mean: Time, sigma: f64 },
}

/// Largest multiple of the mean a single draw may take (keeps tails finite).
const TAIL_CAP: f64 = 1.0e4;

impl DurationDist {
    /// The mean of the distribution.
    pub fn mean(&self) -> Time {
        match *self {
            DurationDist::Fixed(v) => v,
            DurationDist::Uniform { min, max } => min + (max - min) / 2,
            DurationDist::Exponential { mean } | DurationDist::LogNormal { mean, .. } => mean,
        }
    }

    /// Draw one duration. Fixed distributions draw nothing from `rng`.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> Time {
        match *self {
            DurationDist::Fixed(v) => v,
            DurationDist::Uniform { min, max } => {
                if max <= min {
                    min
                } else {
                    rng.random_range(min..=max)
                }
            }
            DurationDist::Exponential { mean } => {
                // 1 - U is in (0, 1], so ln is finite.
                let u: f64 = 1.0 - rng.random::<f64>();
                let x = -u.ln() * mean as f64;
                clamp_draw(x, mean)
            }
            DurationDist::LogNormal { mean, sigma } => {
                if mean == 0 {
                    return 0;
                }
                let mu = (mean as f64).ln() - sigma * sigma / 2.0;
                let d = LogNormal::new(mu, sigma).expect("sigma validated as finite and >= 0");
                clamp_draw(d.sample(rng), mean)
            }
        }
    }
}

fn clamp_draw(x: f64, mean: Time) -> Time {
    let cap = (mean as f64 * TAIL_CAP).max(1.0);
    // x >= 0 after the clamp, so adding 0.5 and truncating rounds to nearest
    // (and avoids a libm call in the hot path).
    (x.clamp(0.0, cap) + 0.5) as Time
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, StreamId, MILLISECOND};

    fn rng() -> SimRng {
        RngStreams::new(7).stream(StreamId::new(0, 0, 0))
    }

    fn sample_mean(d: DurationDist, n: usize) -> f64 {
        let mut r = rng();
        (0..n).map(|_| d.sample(&mut r) as f64).sum::<f64>() / n as f64
    }

    #[test]
    fn fixed_is_fixed() {
        let mut r = rng();
        assert_eq!(DurationDist::Fixed(5).sample(&mut r), 5);
    }

    #[test]
    fn means_match_their_parameter() {
        let mean = 100 * MILLISECOND;
        for d in [
            DurationDist::Uniform {
                min: 0,
                max: 2 * mean,
            },
            DurationDist::Exponential { mean },
            DurationDist::LogNormal { mean, sigma: 0.5 },
        ] {
            let m = sample_mean(d, 200_000);
            assert!(
                (m / mean as f64 - 1.0).abs() < 0.01,
                "{d:?}: sample mean {m} vs {mean}"
            );
            assert_eq!(d.mean(), mean);
        }
    }

    #[test]
    fn uniform_stays_in_bounds() {
        let d = DurationDist::Uniform { min: 10, max: 20 };
        let mut r = rng();
        for _ in 0..10_000 {
            let x = d.sample(&mut r);
            assert!((10..=20).contains(&x));
        }
    }
}
