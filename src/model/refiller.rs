//! The reservoir's refiller loop (DOMAIN.md section 6).
//!
//! ```text
//! forever:
//!     need = target_ready - len(buffer)      # connections out in use do not count
//!     if need <= 0: sleep 100 ms; continue
//!     open one (30 s deadline)               # lease -> limiter -> token -> connect
//!     on error: sleep 250 ms                 # the limiter is the only throttle
//!     on success: the new connection goes in through Return; loop at once
//! ```
//! A new connection's lifetime is `base_lifetime + U[0, jitter)`, drawn from the
//! refiller's own stream.
//!
//! [`Pacing::Paced`] is the paced design of Task 5 of the reservoir task list
//! (a variant to compare; production runs the continuous loop above):
//!
//! ```text
//! forever:
//!     need = target_ready - len(buffer)
//!     if need <= 0: sleep base_lifetime / target_ready; continue
//!     interval = 50 ms if len(buffer) < low_watermark else base_lifetime / target_ready
//!     open one (30 s deadline); then sleep interval, whatever the outcome
//! ```

use crate::engine::{SimRng, Time, MILLISECOND, SECOND};
use rand::Rng;

/// Sleep when the buffer is at target.
pub const IDLE_CHECK: Time = 100 * MILLISECOND;
/// Sleep after a failed open.
pub const FAILURE_BACKOFF: Time = 250 * MILLISECOND;
/// Deadline of one open.
pub const OPEN_DEADLINE: Time = 30 * SECOND;
/// The paced refiller's interval below the low watermark (Task 5).
pub const PACED_WARMUP_INTERVAL: Time = 50 * MILLISECOND;

/// How the refiller paces its opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// Production: open back to back while below target; the limiter is the
    /// only throttle.
    Continuous,
    /// Task 5's design: every 50 ms below the low watermark, else every
    /// `base_lifetime / target_ready`.
    Paced {
        /// The low watermark that switches between the two intervals.
        low_watermark: u32,
    },
}

/// Why opening a connection failed. Names are the production metric labels of
/// `dsql_reservoir_refill_failures_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefillFailure {
    /// The global lease table refused a lease.
    LeaseAcquire = 0,
    /// The rate limiter could not grant a token before the deadline.
    RateLimit,
    /// The IAM token could not be obtained.
    TokenProvider,
    /// The connect failed (refused by the cluster, or timed out).
    ConnectionOpen,
}

impl RefillFailure {
    /// Every reason, in a fixed order.
    pub const ALL: [RefillFailure; 4] = [
        RefillFailure::LeaseAcquire,
        RefillFailure::RateLimit,
        RefillFailure::TokenProvider,
        RefillFailure::ConnectionOpen,
    ];

    /// The production label.
    pub fn name(self) -> &'static str {
        match self {
            RefillFailure::LeaseAcquire => "lease_acquire",
            RefillFailure::RateLimit => "rate_limit",
            RefillFailure::TokenProvider => "token_provider",
            RefillFailure::ConnectionOpen => "connection_open",
        }
    }
}

/// What the refiller does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Sleep until the given instant, then step again.
    SleepUntil(Time),
    /// Open one connection with this deadline.
    Open { deadline: Time },
}

/// Counters of the refiller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefillerStats {
    /// Connections created [dsql_reservoir_refills_total].
    pub refills: u64,
    /// Failed opens by [`RefillFailure`] index [dsql_reservoir_refill_failures_total{reason}].
    pub failures: [u64; 4],
}

/// One reservoir's refiller.
pub struct Refiller {
    base_lifetime: Time,
    jitter: Time,
    lifetimes: SimRng,
    pacing: Pacing,
    /// Paced: the sleep after the open under way (chosen when it started).
    interval: Time,
    /// Counters.
    pub stats: RefillerStats,
}

impl Refiller {
    /// A continuous refiller drawing lifetimes from `lifetimes`.
    pub fn new(base_lifetime: Time, jitter: Time, lifetimes: SimRng) -> Self {
        Self::with_pacing(base_lifetime, jitter, Pacing::Continuous, lifetimes)
    }

    /// A refiller with the given pacing.
    pub fn with_pacing(
        base_lifetime: Time,
        jitter: Time,
        pacing: Pacing,
        lifetimes: SimRng,
    ) -> Self {
        Refiller {
            base_lifetime,
            jitter,
            lifetimes,
            pacing,
            interval: 0,
            stats: RefillerStats::default(),
        }
    }

    /// The paced refiller's steady interval: `base_lifetime / target_ready`.
    fn steady(&self, target_ready: u32) -> Time {
        self.base_lifetime / u64::from(target_ready.max(1))
    }

    /// One iteration of the loop at `now` given the buffer length and target.
    pub fn step(&mut self, now: Time, buffered: usize, target_ready: u32) -> Step {
        if buffered >= target_ready as usize {
            let idle = match self.pacing {
                Pacing::Continuous => IDLE_CHECK,
                Pacing::Paced { .. } => self.steady(target_ready),
            };
            return Step::SleepUntil(now + idle);
        }
        if let Pacing::Paced { low_watermark } = self.pacing {
            self.interval = if buffered < low_watermark as usize {
                PACED_WARMUP_INTERVAL
            } else {
                self.steady(target_ready)
            };
        }
        Step::Open {
            deadline: now + OPEN_DEADLINE,
        }
    }

    /// After a successful open at `now`: when the loop goes again (`None`: at
    /// once, the continuous loop).
    pub fn next_after_success(&self, now: Time) -> Option<Time> {
        match self.pacing {
            Pacing::Continuous => None,
            Pacing::Paced { .. } => Some(now + self.interval),
        }
    }

    /// A connection was created: count it and draw its lifetime.
    pub fn created(&mut self) -> Time {
        self.stats.refills += 1;
        let jitter = if self.jitter == 0 {
            0
        } else {
            self.lifetimes.random_range(0..self.jitter)
        };
        self.base_lifetime + jitter
    }

    /// An open failed at `now`: count it; the loop sleeps until the returned instant.
    pub fn failed(&mut self, now: Time, why: RefillFailure) -> Time {
        self.stats.failures[why as usize] += 1;
        match self.pacing {
            Pacing::Continuous => now + FAILURE_BACKOFF,
            Pacing::Paced { .. } => now + self.interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, StreamId, MINUTE};

    fn refiller() -> Refiller {
        Refiller::new(
            11 * MINUTE,
            2 * MINUTE,
            RngStreams::new(1).stream(StreamId::new(2, 0, 0)),
        )
    }

    #[test]
    fn paced_refiller_follows_task_5() {
        let mut r = Refiller::with_pacing(
            11 * MINUTE,
            0,
            Pacing::Paced { low_watermark: 25 },
            RngStreams::new(1).stream(StreamId::new(2, 0, 0)),
        );
        // At target: sleep base_lifetime / target_ready = 660 s / 50 = 13.2 s.
        assert_eq!(r.step(0, 50, 50), Step::SleepUntil(13_200 * MILLISECOND));
        // Below the low watermark: open, then 50 ms whatever the outcome.
        assert!(matches!(r.step(0, 24, 50), Step::Open { .. }));
        assert_eq!(r.next_after_success(7), Some(7 + 50 * MILLISECOND));
        assert_eq!(r.failed(7, RefillFailure::RateLimit), 7 + 50 * MILLISECOND);
        // At or above it (and below target): the steady interval.
        assert!(matches!(r.step(0, 25, 50), Step::Open { .. }));
        assert_eq!(r.next_after_success(0), Some(13_200 * MILLISECOND));
        // The continuous loop goes again at once after a success.
        assert_eq!(refiller().next_after_success(7), None);
    }

    #[test]
    fn sleeps_100ms_at_target_and_opens_below_it() {
        let mut r = refiller();
        assert_eq!(r.step(5, 50, 50), Step::SleepUntil(5 + 100 * MILLISECOND));
        assert_eq!(r.step(5, 60, 50), Step::SleepUntil(5 + 100 * MILLISECOND));
        assert_eq!(
            r.step(5, 49, 50),
            Step::Open {
                deadline: 5 + 30 * SECOND
            }
        );
    }

    #[test]
    fn lifetimes_are_base_plus_jitter() {
        let mut r = refiller();
        let mut lo = Time::MAX;
        let mut hi = 0;
        for _ in 0..10_000 {
            let l = r.created();
            lo = lo.min(l);
            hi = hi.max(l);
            assert!((11 * MINUTE..13 * MINUTE).contains(&l));
        }
        // The jitter is actually spread over its range.
        assert!(lo < 11 * MINUTE + 2 * SECOND && hi > 13 * MINUTE - 2 * SECOND);
        assert_eq!(r.stats.refills, 10_000);
    }

    #[test]
    fn failures_back_off_250ms_and_count_by_reason() {
        let mut r = refiller();
        assert_eq!(
            r.failed(10, RefillFailure::RateLimit),
            10 + 250 * MILLISECOND
        );
        assert_eq!(r.stats.failures, [0, 1, 0, 0]);
        let names: Vec<_> = RefillFailure::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "lease_acquire",
                "rate_limit",
                "token_provider",
                "connection_open"
            ]
        );
    }
}
