//! DynamoDB as the connection design uses it: the global lease table
//! ([`super::lease_table`]) and the distributed per-second limiter
//! ([`super::limiter::PerSecondLimiter`]) are tables in DynamoDB, and every
//! call to them is a network round trip that takes time and can fail.
//!
//! One call (a lease acquire or release, one attempt of the per-second
//! limiter) takes `latency` and fails, independently, with probability
//! `failure_rate`: a non-conditional error (throttling, a network error, an
//! outage), not a refused condition. How the caller reacts is the caller's
//! (production: a failed acquire is a `lease_acquire` refill failure, a failed
//! release leaves the lease counter one too high for good, a failed limiter
//! attempt fails the open at once).
//!
//! Simplified: the table applies a call's effect when the call is made (its
//! start); the caller learns the result `latency` later. Draws come from the
//! calling process's own stream.

use crate::engine::{SimRng, Time};
use crate::model::dist::DurationDist;
use rand::Rng;

/// Latency and failures of DynamoDB calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamoConfig {
    /// Time of one call.
    pub latency: DurationDist,
    /// Probability that a call fails with a non-conditional error.
    pub failure_rate: f64,
}

impl Default for DynamoConfig {
    /// Instant calls that never fail.
    fn default() -> Self {
        DynamoConfig {
            latency: DurationDist::Fixed(0),
            failure_rate: 0.0,
        }
    }
}

/// The outcome of one call made at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// When the caller learns the result.
    pub done_at: Time,
    /// False: the call failed (non-conditional error).
    pub ok: bool,
}

impl DynamoConfig {
    /// One call at `now`. Draws nothing when the latency is fixed and calls
    /// never fail, so the default configuration leaves every stream untouched.
    #[inline]
    pub fn call(&self, now: Time, rng: &mut SimRng) -> Call {
        let latency = self.latency.sample(rng);
        let ok = !(self.failure_rate > 0.0 && rng.random::<f64>() < self.failure_rate);
        Call {
            done_at: now.saturating_add(latency),
            ok,
        }
    }

    /// Whether calls are instant and never fail (the default).
    pub fn is_ideal(&self) -> bool {
        self.latency == DurationDist::Fixed(0) && self.failure_rate == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, StreamId, MILLISECOND};

    fn rng() -> SimRng {
        RngStreams::new(7).stream(StreamId::new(1, 0, 0))
    }

    #[test]
    fn the_default_is_instant_and_draws_nothing() {
        let d = DynamoConfig::default();
        assert!(d.is_ideal());
        let mut a = rng();
        let c = d.call(5, &mut a);
        assert_eq!(
            c,
            Call {
                done_at: 5,
                ok: true
            }
        );
        // The stream was not touched.
        assert_eq!(a.random::<u64>(), rng().random::<u64>());
    }

    #[test]
    fn latency_delays_the_result_and_failures_follow_the_rate() {
        let d = DynamoConfig {
            latency: DurationDist::Fixed(8 * MILLISECOND),
            failure_rate: 0.25,
        };
        let mut r = rng();
        let mut failed = 0;
        for i in 0..20_000u64 {
            let c = d.call(i, &mut r);
            assert_eq!(c.done_at, i + 8 * MILLISECOND);
            failed += u32::from(!c.ok);
        }
        // 5,000 expected; sd = sqrt(20,000 x 0.25 x 0.75) ~ 61: 5 sd = 306.
        assert!((4_694..=5_306).contains(&failed), "{failed}");
    }
}
