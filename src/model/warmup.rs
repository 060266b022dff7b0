//! The production pool warmup (DOMAIN.md section 7; the ECS deployment guide,
//! "Pool Pre-Warming").
//!
//! At start an instance creates `target` connections one after the other
//! (never in parallel), each attempt bounded by a 10 s timeout and retried up
//! to 5 times with exponential back-off; a connection that still fails is given
//! up and the warmup moves on to the next one. Connections are spread over a
//! stagger window chosen from the pool size.
//!
//! From DOMAIN.md (and the guide): target = MaxOpen; sequential creation; the
//! stagger of 0 for at most 100 connections, 2 min for at most 500, else
//! `max(3, conns / 50 / 60 + 1)` minutes (integer divisions); up to 5 retries
//! per connection; back-off 200 ms doubling to at most 5 s, jittered by a
//! factor in `[0.5, 1.5)`; a 10 s timeout per connection.
//!
//! My reading, following the production `pool_warmup.go` where DOMAIN.md says
//! only "spread over a stagger":
//!
//! - The spread is a pause of `stagger / (target - 1)` between one
//!   connection's end (created or given up) and the next one's first attempt,
//!   not a fixed schedule: the warmup lasts the stagger plus the time the
//!   connects themselves take. No pause before the first connection; none at
//!   all when the stagger is 0 or `target` is 1.
//! - Retry `k` (1-based) waits `min(200 ms * 2^(k-1), 5 s) * U[0.5, 1.5)`
//!   after the failed attempt ends: 100-300 ms, 200-600 ms, 400-1200 ms,
//!   800-2400 ms, 1.6-4.8 s (the 5 s cap is never reached with 5 retries). The
//!   jitter is drawn as `b/2 + U[0, b)` nanoseconds.
//! - The 10 s timeout covers one attempt (production: `db.Conn` then
//!   `SELECT 1`), counted from the attempt's start: [`WarmupStep::OpenAt`]
//!   carries that deadline.
//! - Production holds every warmed connection (`db.Conn`) until the warmup is
//!   over, so the pool cannot hand the same free connection back to the next
//!   attempt; the world should do the same and release them all at
//!   [`WarmupStep::Done`].
//! - `target` is the number of connections to create: production's `needed`,
//!   MaxOpen minus the connections already open. The warmup runs after the
//!   startup ping has opened one, so it creates MaxOpen - 1
//!   ([`Warmup::for_pool`]); the stagger is chosen from the pool size
//!   (MaxOpen) and spread over the `needed - 1` pauses.

use crate::engine::{SimRng, Time, MILLISECOND, MINUTE, SECOND};
use rand::Rng;

/// Retries per connection after its first attempt.
pub const MAX_RETRIES: u32 = 5;
/// Back-off before the first retry.
pub const INITIAL_BACKOFF: Time = 200 * MILLISECOND;
/// Cap of the (un-jittered) back-off.
pub const MAX_BACKOFF: Time = 5 * SECOND;
/// Timeout of one attempt.
pub const CONNECTION_TIMEOUT: Time = 10 * SECOND;

/// The stagger window for a pool of `conns` connections: 0 up to 100, 2 min up
/// to 500, else `max(3, conns / 50 / 60 + 1)` minutes.
pub fn stagger_for(conns: u32) -> Time {
    if conns <= 100 {
        0
    } else if conns <= 500 {
        2 * MINUTE
    } else {
        MINUTE * u64::from((conns / 50 / 60 + 1).max(3))
    }
}

/// What the warmup does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmupStep {
    /// Start an attempt at `at`; it fails if not done by `deadline`.
    OpenAt {
        /// When the attempt starts.
        at: Time,
        /// `at + 10 s`.
        deadline: Time,
    },
    /// Every connection was created or given up.
    Done,
}

/// Counters of the warmup (the production log fields in parentheses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarmupStats {
    /// Connections created (`connections_created`).
    pub created: u32,
    /// Connections given up after all retries (`connections_failed`).
    pub failed: u32,
    /// Retries over all connections (`total_retries`).
    pub retries: u32,
}

/// One instance's warmup.
pub struct Warmup {
    target: u32,
    stagger: Time,
    delay_between: Time,
    /// Connections finished (created or given up).
    index: u32,
    /// Retries used by the current connection.
    retry: u32,
    /// Un-jittered back-off before the next retry.
    backoff: Time,
    /// The next attempt starts no earlier than this.
    not_before: Time,
    rng: SimRng,
    /// Counters.
    pub stats: WarmupStats,
}

impl Warmup {
    /// A warmup creating `target` connections, drawing back-off jitter from
    /// `rng`, with the stagger of a pool of `target` connections.
    pub fn new(target: u32, rng: SimRng) -> Self {
        Self::for_pool(target, target, rng)
    }

    /// The warmup production runs after the startup ping: it creates `needed`
    /// connections (MaxOpen minus those already open), spread over the
    /// stagger of a pool of `pool_size` (`CalculateStaggerDuration(targetPoolSize)`
    /// with `delayBetweenConns = stagger / (needed - 1)`).
    pub fn for_pool(pool_size: u32, needed: u32, rng: SimRng) -> Self {
        let target = needed;
        let stagger = stagger_for(pool_size);
        let delay_between = if stagger > 0 && target > 1 {
            stagger / u64::from(target - 1)
        } else {
            0
        };
        Warmup {
            target,
            stagger,
            delay_between,
            index: 0,
            retry: 0,
            backoff: INITIAL_BACKOFF,
            not_before: 0,
            rng,
            stats: WarmupStats::default(),
        }
    }

    /// Connections to create.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// The stagger window ([`stagger_for`] the pool size).
    pub fn stagger(&self) -> Time {
        self.stagger
    }

    /// The pause between one connection's end and the next one's start.
    pub fn delay_between(&self) -> Time {
        self.delay_between
    }

    /// Whether every connection was created or given up.
    pub fn is_done(&self) -> bool {
        self.index >= self.target
    }

    /// The next step at `now`: the next attempt (not before its pause or
    /// back-off has elapsed), or `Done`.
    pub fn next(&self, now: Time) -> WarmupStep {
        if self.is_done() {
            return WarmupStep::Done;
        }
        let at = now.max(self.not_before);
        WarmupStep::OpenAt {
            at,
            deadline: at.saturating_add(CONNECTION_TIMEOUT),
        }
    }

    /// The current attempt created its connection at `now`; returns the next step.
    pub fn succeeded(&mut self, now: Time) -> WarmupStep {
        if self.is_done() {
            return WarmupStep::Done;
        }
        self.stats.created += 1;
        self.advance(now)
    }

    /// The current attempt failed (or timed out) at `now`: retry after a
    /// jittered back-off, or give the connection up and move on.
    pub fn failed(&mut self, now: Time) -> WarmupStep {
        if self.is_done() {
            return WarmupStep::Done;
        }
        if self.retry >= MAX_RETRIES {
            self.stats.failed += 1;
            return self.advance(now);
        }
        self.retry += 1;
        self.stats.retries += 1;
        let b = self.backoff;
        let wait = b / 2
            + if b == 0 {
                0
            } else {
                self.rng.random_range(0..b)
            };
        self.backoff = b.saturating_mul(2).min(MAX_BACKOFF);
        self.not_before = now.saturating_add(wait);
        self.next(now)
    }

    fn advance(&mut self, now: Time) -> WarmupStep {
        self.index += 1;
        self.retry = 0;
        self.backoff = INITIAL_BACKOFF;
        self.not_before = now.saturating_add(self.delay_between);
        self.next(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, StreamId};
    use proptest::prelude::*;

    fn rng(seed: u64) -> SimRng {
        RngStreams::new(seed).stream(StreamId::new(9, 1, 0))
    }

    fn at(step: WarmupStep) -> Time {
        match step {
            WarmupStep::OpenAt { at, deadline } => {
                assert_eq!(deadline, at + CONNECTION_TIMEOUT);
                at
            }
            WarmupStep::Done => panic!("done"),
        }
    }

    #[test]
    fn stagger_rule() {
        assert_eq!(stagger_for(0), 0);
        assert_eq!(stagger_for(50), 0);
        assert_eq!(stagger_for(100), 0);
        assert_eq!(stagger_for(101), 2 * MINUTE);
        assert_eq!(stagger_for(500), 2 * MINUTE);
        assert_eq!(stagger_for(501), 3 * MINUTE);
        assert_eq!(stagger_for(6000), 3 * MINUTE);
        // 9000 / 50 = 180 s = 3 min -> 4 min; 12000 -> 240 s -> 5 min.
        assert_eq!(stagger_for(9000), 4 * MINUTE);
        assert_eq!(stagger_for(12000), 5 * MINUTE);
        assert_eq!(
            stagger_for(u32::MAX),
            MINUTE * u64::from(u32::MAX / 3000 + 1)
        );
    }

    #[test]
    fn connections_are_sequential_and_spread_over_the_stagger() {
        for (n, stagger) in [
            (50, 0),
            (100, 0),
            (101, 2 * MINUTE),
            (500, 2 * MINUTE),
            (501, 3 * MINUTE),
            (6000, 3 * MINUTE),
        ] {
            let mut w = Warmup::new(n, rng(1));
            assert_eq!(w.stagger(), stagger, "{n}");
            let gap = if stagger == 0 {
                0
            } else {
                stagger / u64::from(n - 1)
            };
            assert_eq!(w.delay_between(), gap, "{n}");
            // Each connection takes 20 ms; the next starts a gap after.
            let mut now = 7;
            let mut step = w.next(now);
            for i in 0..n {
                let start = at(step);
                let expected = if i == 0 { 7 } else { now + gap };
                assert_eq!(start, expected, "{n}: connection {i}");
                now = start + 20 * MILLISECOND;
                step = w.succeeded(now);
            }
            assert_eq!(step, WarmupStep::Done);
            assert!(w.is_done());
            assert_eq!(w.stats.created, n);
            // The whole warmup spans the stagger (within rounding) plus the connects.
            let span = now - 7 - u64::from(n) * 20 * MILLISECOND;
            assert!(stagger - span < u64::from(n), "{n}: {span}");
        }
    }

    #[test]
    fn a_late_caller_does_not_start_in_the_past() {
        let mut w = Warmup::new(200, rng(1));
        at(w.next(0));
        w.succeeded(SECOND);
        let gap = w.delay_between();
        assert_eq!(at(w.next(0)), SECOND + gap);
        assert_eq!(at(w.next(SECOND + gap + 5)), SECOND + gap + 5);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_gives_up_after_five_retries() {
        let mut w = Warmup::new(2, rng(3));
        let mut now = 0;
        at(w.next(now));
        let mut base = INITIAL_BACKOFF;
        for retry in 1..=MAX_RETRIES {
            now += 10 * SECOND; // the attempt timed out
            let start = at(w.failed(now));
            let wait = start - now;
            assert!(
                wait >= base / 2 && wait < base + base / 2,
                "retry {retry}: {wait} vs base {base}"
            );
            now = start;
            base = (base * 2).min(MAX_BACKOFF);
        }
        assert_eq!(w.stats.retries, MAX_RETRIES);
        // The sixth failure gives the connection up and moves on at once (no
        // stagger at 2 connections), with a fresh back-off.
        now += 10 * SECOND;
        assert_eq!(at(w.failed(now)), now);
        assert_eq!(w.stats.failed, 1);
        let start = at(w.failed(now + 1));
        assert!(start - (now + 1) < INITIAL_BACKOFF + INITIAL_BACKOFF / 2);
        assert_eq!(w.succeeded(start + 1), WarmupStep::Done);
        assert_eq!(
            w.stats,
            WarmupStats {
                created: 1,
                failed: 1,
                retries: MAX_RETRIES + 1
            }
        );
    }

    #[test]
    fn backoff_is_capped_at_5s() {
        let mut w = Warmup::new(1, rng(3));
        w.backoff = 4 * SECOND;
        w.retry = 0;
        let s = at(w.failed(0));
        assert!((2 * SECOND..6 * SECOND).contains(&s));
        assert_eq!(w.backoff, MAX_BACKOFF);
        let s = at(w.failed(0));
        assert!((MAX_BACKOFF / 2..MAX_BACKOFF * 3 / 2).contains(&s));
        assert_eq!(w.backoff, MAX_BACKOFF);
    }

    #[test]
    fn jitter_covers_its_range() {
        let mut lo = Time::MAX;
        let mut hi = 0;
        let mut w = Warmup::new(2000, rng(5));
        let mut now = at(w.next(0));
        for i in 0..2000 {
            let start = at(w.failed(now));
            let wait = start - now;
            lo = lo.min(wait);
            hi = hi.max(wait);
            now = start;
            w.succeeded(now);
            if i < 1999 {
                now = at(w.next(now));
            }
        }
        assert!(w.is_done());
        assert!((100 * MILLISECOND..105 * MILLISECOND).contains(&lo), "{lo}");
        assert!((295 * MILLISECOND..300 * MILLISECOND).contains(&hi), "{hi}");
    }

    #[test]
    fn empty_warmup_is_done() {
        let mut w = Warmup::new(0, rng(1));
        assert_eq!(w.next(0), WarmupStep::Done);
        assert_eq!(w.succeeded(0), WarmupStep::Done);
        assert_eq!(w.failed(0), WarmupStep::Done);
        assert_eq!(w.stats, WarmupStats::default());
    }

    proptest! {
        #[test]
        fn prop_every_connection_is_created_or_given_up(
            n in 0u32..40,
            seed in any::<u64>(),
            outcomes in prop::collection::vec(any::<bool>(), 0..400),
        ) {
            let mut w = Warmup::new(n, rng(seed));
            let mut now = 0;
            let mut step = w.next(now);
            let mut outcomes = outcomes.into_iter();
            let mut attempts = 0u32;
            while let WarmupStep::OpenAt { at, deadline } = step {
                prop_assert!(at >= now);
                prop_assert_eq!(deadline, at + CONNECTION_TIMEOUT);
                attempts += 1;
                now = at + 30 * MILLISECOND;
                step = if outcomes.next().unwrap_or(true) { w.succeeded(now) } else { w.failed(now) };
            }
            prop_assert_eq!(w.stats.created + w.stats.failed, n);
            prop_assert_eq!(attempts, w.stats.created + w.stats.failed + w.stats.retries);
            prop_assert!(w.stats.retries >= w.stats.failed * MAX_RETRIES);
        }
    }
}
