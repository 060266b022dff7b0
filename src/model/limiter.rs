//! Connection-rate limiters placed in front of the database.
//!
//! * [`TokenBucket`]: a per-instance limiter with the exact semantics of Go's
//!   `golang.org/x/time/rate` (`Wait` and `Allow`), in integer arithmetic.
//! * [`PerSecondLimiter`]: the distributed DynamoDB limiter, one counter per
//!   (endpoint, unix second) with jittered sleeps between attempts.
//! * [`FixedWindowLimiter`]: the old Go simulator's fixed one-second window.
//!
//! All of them expect calls at non-decreasing `now` (the simulator handles events
//! in time order). This is `debug_assert`ed; in release builds an earlier `now` is
//! treated conservatively (no tokens are refilled, counts stay in the later second).

use crate::engine::{Time, MILLISECOND, SECOND};
use rand::Rng;

/// Token state is kept in units of 1e-12 token: with the rate in milli-tokens per
/// second, one nanosecond adds exactly `rate_milli` units.
const UNITS_PER_TOKEN: i128 = 1_000 * SECOND as i128;

/// Local token bucket of one service instance, modelling Go's `rate.Limiter`
/// (`golang.org/x/time/rate`): `r` tokens/s, burst `b`, the bucket starts full.
///
/// [`reserve`](Self::reserve) is `Limiter.Wait(ctx)`: it takes a token now even if
/// the balance goes negative (later callers then queue behind) and tells the caller
/// when its token is due, unless that is after the caller's deadline, in which case
/// nothing is taken and `Wait` fails at once. [`try_take`](Self::try_take) is
/// `Limiter.Allow()`. Wait times are rounded up to whole nanoseconds, so a caller
/// never gets its token early.
///
/// Calls must be made at non-decreasing `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    rate_milli: u64,
    burst: u32,
    /// Balance at `last`, in `UNITS_PER_TOKEN`ths of a token; negative while callers queue.
    tokens: i128,
    /// Time of the last reservation that was made.
    last: Time,
}

impl TokenBucket {
    /// Default refill rate of the service's limiter: 10 tokens per second.
    pub const DEFAULT_RATE_PER_SEC: f64 = 10.0;
    /// Default burst (bucket size) of the service's limiter: 100 tokens.
    pub const DEFAULT_BURST: u32 = 100;
    /// Highest accepted rate, tokens per second (one token per nanosecond).
    pub const MAX_RATE_PER_SEC: f64 = 1e9;

    /// Smallest rate a bucket accepts, tokens per second: the rate is kept in
    /// whole milli-tokens per second, and anything below half of one rounds to 0.
    pub const MIN_RATE_PER_SEC: f64 = 0.0005;

    /// The rate in whole milli-tokens per second (`round(rate * 1000)`), or why
    /// the rate cannot be a bucket's: not finite, `<= 0`, above
    /// [`MAX_RATE_PER_SEC`](Self::MAX_RATE_PER_SEC), or rounding to 0 (below
    /// [`MIN_RATE_PER_SEC`](Self::MIN_RATE_PER_SEC)). Scenario validation asks
    /// this too, so a rate the bucket would refuse is refused with its key.
    pub fn rate_milli_of(rate_per_sec: f64) -> Result<u64, String> {
        if !rate_per_sec.is_finite() || rate_per_sec <= 0.0 {
            return Err(format!(
                "token bucket rate must be a finite number > 0 tokens/s, got {rate_per_sec}"
            ));
        }
        if rate_per_sec > Self::MAX_RATE_PER_SEC {
            return Err(format!(
                "token bucket rate must be at most 1e9 tokens/s, got {rate_per_sec}"
            ));
        }
        let rate_milli = (rate_per_sec * 1000.0).round() as u64;
        if rate_milli == 0 {
            return Err(format!(
                "token bucket rate {rate_per_sec}/s rounds to 0 milli-tokens/s; \
                 the smallest rate is 0.001 tokens/s"
            ));
        }
        Ok(rate_milli)
    }

    /// Creates a full bucket, like `rate.NewLimiter(rate_per_sec, burst)`.
    ///
    /// The rate is converted once to whole milli-tokens per second
    /// (`round(rate * 1000)`). Refuses non-finite rates, rates `<= 0` or above
    /// [`MAX_RATE_PER_SEC`](Self::MAX_RATE_PER_SEC), rates that round to zero, and
    /// `burst == 0` (Go's `Wait` would always fail).
    pub fn new(rate_per_sec: f64, burst: u32) -> Result<Self, String> {
        let rate_milli = Self::rate_milli_of(rate_per_sec)?;
        if burst == 0 {
            return Err(
                "token bucket burst must be at least 1 (with burst 0 every Wait fails)".into(),
            );
        }
        Ok(Self {
            rate_milli,
            burst,
            tokens: i128::from(burst) * UNITS_PER_TOKEN,
            last: 0,
        })
    }

    /// Go's `reserveN(now, 1, deadline - now)` as used by `Limiter.Wait`: refill up
    /// to `now` (capped at the burst) and take one token.
    ///
    /// Returns `Ok(ready_at)` (`ready_at >= now`; the caller sleeps until then) when
    /// the token is reserved, or `Err(would_be_ready_at)` when `ready_at > deadline`,
    /// in which case nothing is reserved and the bucket is unchanged (`Wait` fails at
    /// once). A deadline before `now` always fails. `Err` saturates at `Time::MAX`.
    pub fn reserve(&mut self, now: Time, deadline: Time) -> Result<Time, Time> {
        debug_assert!(now >= self.last, "TokenBucket: time went backwards");
        let elapsed = i128::from(now.saturating_sub(self.last));
        let full = i128::from(self.burst) * UNITS_PER_TOKEN;
        let tokens =
            (self.tokens + elapsed * i128::from(self.rate_milli)).min(full) - UNITS_PER_TOKEN;
        let wait = if tokens < 0 {
            tokens.unsigned_abs().div_ceil(u128::from(self.rate_milli))
        } else {
            0
        };
        let ready_at = u128::from(now) + wait;
        if ready_at > u128::from(deadline) {
            return Err(Time::try_from(ready_at).unwrap_or(Time::MAX));
        }
        self.tokens = tokens;
        self.last = self.last.max(now);
        // ready_at <= deadline, so it fits in a Time.
        Ok(ready_at as Time)
    }

    /// Go's `Limiter.Allow()`, for a server that refuses instead of waiting: takes a
    /// token at `now` if a whole one is available (no caller queued), else returns
    /// `false` and changes nothing.
    pub fn try_take(&mut self, now: Time) -> bool {
        self.reserve(now, now).is_ok()
    }

    /// The refill rate in milli-tokens per second (`round(rate * 1000)`).
    pub fn rate_milli(&self) -> u64 {
        self.rate_milli
    }

    /// The bucket size: tokens available at once after a quiet period.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// Outcome of one attempt at the distributed [`PerSecondLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The conditional increment succeeded: the caller may open its connection now.
    Granted,
    /// Denied: the caller sleeps and makes its next attempt at `at`.
    Retry {
        /// Time of the next attempt (another DynamoDB round trip).
        at: Time,
    },
    /// Denied, and the next attempt would come after the caller's give-up time.
    GiveUp,
}

/// Count of attempts in the current second `[k * SECOND, (k + 1) * SECOND)` of
/// simulation time. Earlier seconds can no longer be attempted, so no map is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SecondWindow {
    limit: u32,
    second: u64,
    count: u32,
    attempts: u64,
    denials: u64,
}

impl SecondWindow {
    fn new(limit: u32, who: &str) -> Result<Self, String> {
        if limit == 0 {
            return Err(format!("{who} limit must be at least 1 per second, got 0"));
        }
        Ok(Self {
            limit,
            second: 0,
            count: 0,
            attempts: 0,
            denials: 0,
        })
    }

    /// Counts one attempt at `now`; `true` when it fits under the limit.
    fn admit(&mut self, now: Time) -> bool {
        self.attempts = self.attempts.saturating_add(1);
        let second = now / SECOND;
        debug_assert!(second >= self.second, "limiter: time went backwards");
        if second > self.second {
            self.second = second;
            self.count = 0;
        }
        if self.count < self.limit {
            self.count += 1;
            true
        } else {
            self.denials = self.denials.saturating_add(1);
            false
        }
    }
}

/// Start of the second after the one containing `now`.
fn next_second(now: Time) -> Time {
    (now / SECOND + 1).saturating_mul(SECOND)
}

/// The distributed DynamoDB limiter shared by all instances: one counter per
/// (endpoint, unix second); an attempt is a conditional increment that succeeds
/// if `count + 1 <= limit`. Every attempt, granted or not, is a DynamoDB round trip.
///
/// On denial the caller sleeps: if the next second boundary is under 250 ms away,
/// until that boundary plus U[0, 50 ms); otherwise 25 ms + U[0, 25 ms), capped at
/// 200 ms. It gives up when the next attempt would come after
/// `min(started + 30 s, deadline)`. Seconds are counted from simulation time 0.
///
/// Calls must be made at non-decreasing `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerSecondLimiter {
    window: SecondWindow,
}

impl PerSecondLimiter {
    /// Default limit: 100 grants per endpoint per second.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// A caller gives up this long after it started waiting.
    pub const GIVE_UP_AFTER: Time = 30 * SECOND;
    const NEAR_BOUNDARY: Time = 250 * MILLISECOND;
    const BOUNDARY_JITTER: Time = 50 * MILLISECOND;
    const BACKOFF: Time = 25 * MILLISECOND;
    const BACKOFF_JITTER: Time = 25 * MILLISECOND;
    const BACKOFF_CAP: Time = 200 * MILLISECOND;

    /// Creates the limiter for one endpoint; refuses `limit_per_sec == 0`.
    pub fn new(limit_per_sec: u32) -> Result<Self, String> {
        Ok(Self {
            window: SecondWindow::new(limit_per_sec, "per-second limiter")?,
        })
    }

    /// One attempt at `now` by a caller that started waiting at `started` and must
    /// be done by `deadline`. Denied attempts return the time of the next attempt
    /// (jitter drawn from `rng`, one draw per denial), or [`Attempt::GiveUp`] when
    /// that would pass `min(started + 30 s, deadline)`.
    pub fn attempt<R: Rng + ?Sized>(
        &mut self,
        now: Time,
        started: Time,
        deadline: Time,
        rng: &mut R,
    ) -> Attempt {
        if self.admit(now) {
            return Attempt::Granted;
        }
        self.after_denial(now, started, deadline, rng)
    }

    /// The conditional increment of one attempt made at `now`, counted in the
    /// second containing `now`: `true` when granted.
    pub fn admit(&mut self, now: Time) -> bool {
        self.window.admit(now)
    }

    /// A denied caller learns of the denial at `now`: the time of its next
    /// attempt, or [`Attempt::GiveUp`] (see [`Self::attempt`]).
    pub fn after_denial<R: Rng + ?Sized>(
        &self,
        now: Time,
        started: Time,
        deadline: Time,
        rng: &mut R,
    ) -> Attempt {
        let boundary = next_second(now);
        let at = if boundary - now < Self::NEAR_BOUNDARY {
            boundary.saturating_add(rng.random_range(0..Self::BOUNDARY_JITTER))
        } else {
            let sleep = Self::BACKOFF + rng.random_range(0..Self::BACKOFF_JITTER);
            now.saturating_add(sleep.min(Self::BACKOFF_CAP))
        };
        if at > started.saturating_add(Self::GIVE_UP_AFTER).min(deadline) {
            Attempt::GiveUp
        } else {
            Attempt::Retry { at }
        }
    }

    /// Number of attempts so far; each one is a DynamoDB round trip.
    pub fn attempts(&self) -> u64 {
        self.window.attempts
    }

    /// Number of attempts that were denied.
    pub fn denials(&self) -> u64 {
        self.window.denials
    }
}

/// The old Go simulator's limiter: a fixed window per second of simulation time
/// allowing `limit` grants; a denied attempt retries at the next second boundary
/// + 5 ms. No jitter and no give-up.
///
/// Calls must be made at non-decreasing `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedWindowLimiter {
    window: SecondWindow,
}

impl FixedWindowLimiter {
    const RETRY_AFTER_BOUNDARY: Time = 5 * MILLISECOND;

    /// Creates the limiter; refuses `limit_per_sec == 0`.
    pub fn new(limit_per_sec: u32) -> Result<Self, String> {
        Ok(Self {
            window: SecondWindow::new(limit_per_sec, "fixed-window limiter")?,
        })
    }

    /// One attempt at `now`: `Ok(())` when granted, else `Err(retry_at)` with
    /// `retry_at` = next second boundary + 5 ms.
    pub fn attempt(&mut self, now: Time) -> Result<(), Time> {
        if self.window.admit(now) {
            Ok(())
        } else {
            Err(next_second(now).saturating_add(Self::RETRY_AFTER_BOUNDARY))
        }
    }

    /// Number of attempts so far.
    pub fn attempts(&self) -> u64 {
        self.window.attempts
    }

    /// Number of attempts that were denied.
    pub fn denials(&self) -> u64 {
        self.window.denials
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    const MS: Time = MILLISECOND;

    fn bucket(rate: f64, burst: u32) -> TokenBucket {
        TokenBucket::new(rate, burst).unwrap()
    }

    #[test]
    fn token_bucket_rejects_impossible_values() {
        for rate in [
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.1e9,
            0.0004,
        ] {
            assert!(TokenBucket::new(rate, 1).is_err(), "rate {rate}");
        }
        assert!(TokenBucket::new(10.0, 0).unwrap_err().contains("burst"));
        assert!(TokenBucket::new(1e9, u32::MAX).is_ok());
        assert!(TokenBucket::new(0.001, 1).is_ok());
    }

    #[test]
    fn token_bucket_rate_is_rounded_to_milli_tokens() {
        assert_eq!(bucket(10.0, 1).rate_milli(), 10_000);
        assert_eq!(bucket(0.5, 1).rate_milli(), 500);
        assert_eq!(bucket(0.0016, 1).rate_milli(), 2);
        assert_eq!(bucket(1e9, 1).rate_milli(), 1_000_000_000_000);
        assert_eq!(bucket(10.0, 7).burst(), 7);
    }

    #[test]
    fn full_bucket_grants_burst_at_once_then_one_per_interval() {
        let mut b = bucket(100.0, 5);
        let now = 3 * SECOND;
        for _ in 0..5 {
            assert_eq!(b.reserve(now, Time::MAX), Ok(now));
        }
        assert_eq!(b.reserve(now, Time::MAX), Ok(now + 10 * MS));
        assert_eq!(b.reserve(now, Time::MAX), Ok(now + 20 * MS));
    }

    #[test]
    fn defaults_grant_100_then_one_per_100ms() {
        let mut b = bucket(
            TokenBucket::DEFAULT_RATE_PER_SEC,
            TokenBucket::DEFAULT_BURST,
        );
        for _ in 0..100 {
            assert_eq!(b.reserve(0, 0), Ok(0));
        }
        assert_eq!(b.reserve(0, 0), Err(100 * MS));
        assert_eq!(b.reserve(0, SECOND), Ok(100 * MS));
    }

    #[test]
    fn short_deadline_fails_and_leaves_bucket_unchanged() {
        let mut b = bucket(100.0, 1);
        assert_eq!(b.reserve(0, 0), Ok(0));
        let before = b.clone();
        assert_eq!(b.reserve(0, 5 * MS), Err(10 * MS));
        assert_eq!(b.reserve(3 * MS, 10 * MS - 1), Err(10 * MS));
        assert_eq!(b, before);
        // The next caller gets the time the refused ones would have had;
        // a deadline equal to ready_at is still met.
        assert_eq!(b.reserve(3 * MS, 10 * MS), Ok(10 * MS));
        assert_eq!(b.reserve(4 * MS, SECOND), Ok(20 * MS));
    }

    #[test]
    fn deadline_already_passed_fails_even_with_tokens() {
        let mut b = bucket(10.0, 3);
        assert_eq!(b.reserve(SECOND, SECOND - 1), Err(SECOND));
        assert_eq!(b.reserve(SECOND, SECOND), Ok(SECOND));
    }

    #[test]
    fn fractional_rate_spaces_tokens_two_seconds_apart() {
        let mut b = bucket(0.5, 1);
        assert_eq!(b.reserve(0, Time::MAX), Ok(0));
        assert_eq!(b.reserve(0, Time::MAX), Ok(2 * SECOND));
        assert_eq!(b.reserve(SECOND, Time::MAX), Ok(4 * SECOND));
    }

    #[test]
    fn waits_are_rounded_up_never_early() {
        // 3 tokens/s: a token every 333_333_333.3.. ns.
        let mut b = bucket(3.0, 1);
        assert_eq!(b.reserve(0, Time::MAX), Ok(0));
        assert_eq!(b.reserve(0, Time::MAX), Ok(333_333_334));
        assert_eq!(b.reserve(0, Time::MAX), Ok(666_666_667));
        assert_eq!(b.reserve(0, Time::MAX), Ok(SECOND));
    }

    #[test]
    fn waiters_queue_behind_earlier_reservations() {
        let mut b = bucket(10.0, 1);
        assert_eq!(b.reserve(0, Time::MAX), Ok(0));
        assert_eq!(b.reserve(0, Time::MAX), Ok(100 * MS));
        assert_eq!(b.reserve(50 * MS, Time::MAX), Ok(200 * MS));
        // While callers are queued, Allow() refuses even after a token's worth of time.
        assert!(!b.try_take(150 * MS));
        assert!(b.try_take(300 * MS));
    }

    #[test]
    fn refill_is_capped_at_burst() {
        let mut b = bucket(10.0, 2);
        assert_eq!(b.reserve(0, 0), Ok(0));
        assert_eq!(b.reserve(0, 0), Ok(0));
        let t = 10 * SECOND;
        assert_eq!(b.reserve(t, t), Ok(t));
        assert_eq!(b.reserve(t, t), Ok(t));
        assert_eq!(b.reserve(t, Time::MAX), Ok(t + 100 * MS));
    }

    #[test]
    fn try_take_takes_only_whole_available_tokens() {
        let mut b = bucket(10.0, 2);
        assert!(b.try_take(0));
        assert!(b.try_take(0));
        assert!(!b.try_take(0));
        assert!(!b.try_take(100 * MS - 1));
        assert!(b.try_take(100 * MS));
        assert!(!b.try_take(100 * MS));
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let mut slow = bucket(0.001, 1);
        assert_eq!(slow.reserve(0, Time::MAX), Ok(0));
        assert_eq!(slow.reserve(0, Time::MAX), Ok(1_000 * SECOND));
        let late = Time::MAX - 10;
        assert_eq!(slow.reserve(late, Time::MAX), Ok(late));
        assert_eq!(slow.reserve(late, Time::MAX), Err(Time::MAX));
        assert!(!slow.try_take(Time::MAX));
        let mut fast = bucket(1e9, u32::MAX);
        assert_eq!(fast.reserve(Time::MAX, Time::MAX), Ok(Time::MAX));
        assert!(fast.try_take(Time::MAX));
    }

    #[derive(Debug, Clone)]
    enum Call {
        Reserve { dt: Time, patience: Time },
        TryTake { dt: Time },
    }

    fn call() -> impl Strategy<Value = Call> {
        let dt = prop_oneof![Just(0), 0..MS, 0..200 * MS, 0..3 * SECOND];
        let patience = prop_oneof![Just(0), 0..100 * MS, 0..10 * SECOND, Just(Time::MAX)];
        prop_oneof![
            3 => (dt.clone(), patience).prop_map(|(dt, patience)| Call::Reserve { dt, patience }),
            1 => dt.prop_map(|dt| Call::TryTake { dt }),
        ]
    }

    /// Runs `calls`, checking each result, and returns the ready times of granted tokens.
    fn run_bucket(b: &mut TokenBucket, calls: &[Call]) -> Vec<Time> {
        let mut now = 0;
        let mut ready = Vec::new();
        for c in calls {
            match *c {
                Call::Reserve { dt, patience } => {
                    now += dt;
                    let deadline = now.saturating_add(patience);
                    let before = b.clone();
                    match b.reserve(now, deadline) {
                        Ok(at) => {
                            assert!(now <= at && at <= deadline);
                            ready.push(at);
                        }
                        Err(at) => {
                            assert!(at > deadline);
                            assert_eq!(*b, before, "refused reservation changed the bucket");
                        }
                    }
                }
                Call::TryTake { dt } => {
                    now += dt;
                    if b.try_take(now) {
                        ready.push(now);
                    }
                }
            }
        }
        ready
    }

    proptest! {
        #[test]
        fn prop_token_bucket_never_exceeds_burst_plus_rate(
            rate_milli in prop_oneof![1..1_000u64, 1..1_000_000u64],
            burst in 1..20u32,
            window in prop_oneof![1..MS, 1..2 * SECOND, 1..100 * SECOND],
            calls in prop::collection::vec(call(), 0..300),
        ) {
            let mut b = TokenBucket::new(rate_milli as f64 / 1000.0, burst).unwrap();
            prop_assert_eq!(b.rate_milli(), rate_milli);
            let ready = run_bucket(&mut b, &calls);
            // Tokens are handed out in order (callers queue behind each other).
            prop_assert!(ready.windows(2).all(|w| w[0] <= w[1]));
            for w in [window, 1, SECOND] {
                let refill = (u128::from(w) * u128::from(rate_milli)).div_ceil(UNITS_PER_TOKEN as u128);
                let bound = u128::from(burst) + refill;
                let mut end = 0;
                for start in 0..ready.len() {
                    while end < ready.len() && ready[end] - ready[start] < w {
                        end += 1;
                    }
                    prop_assert!((end - start) as u128 <= bound,
                        "{} tokens in [{}, +{}) > {}", end - start, ready[start], w, bound);
                }
            }
        }

        #[test]
        fn prop_burst_one_at_100_per_sec_never_exceeds_100_per_calendar_second(
            calls in prop::collection::vec(call(), 0..600),
        ) {
            let mut b = bucket(100.0, 1);
            let ready = run_bucket(&mut b, &calls);
            let mut per_second = std::collections::BTreeMap::new();
            for at in ready {
                *per_second.entry(at / SECOND).or_insert(0u32) += 1;
            }
            for (second, n) in per_second {
                prop_assert!(n <= 100, "{} tokens in second {}", n, second);
            }
        }
    }

    #[test]
    fn saturated_bucket_fills_each_second_exactly() {
        // The calendar-second bound of 100 is reached, not just respected.
        let mut b = bucket(100.0, 1);
        let ready: Vec<_> = (0..300).map(|_| b.reserve(0, Time::MAX).unwrap()).collect();
        for k in 0..3 {
            assert_eq!(ready.iter().filter(|&&t| t / SECOND == k).count(), 100);
        }
    }

    #[test]
    fn limiters_reject_zero_limit() {
        assert!(PerSecondLimiter::new(0).is_err());
        assert!(FixedWindowLimiter::new(0).is_err());
        assert!(PerSecondLimiter::new(PerSecondLimiter::DEFAULT_LIMIT).is_ok());
    }

    #[test]
    fn per_second_grants_limit_then_denies_until_next_second() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut l = PerSecondLimiter::new(3).unwrap();
        for _ in 0..3 {
            assert_eq!(l.attempt(10 * MS, 0, Time::MAX, &mut rng), Attempt::Granted);
        }
        assert!(matches!(
            l.attempt(10 * MS, 0, Time::MAX, &mut rng),
            Attempt::Retry { .. }
        ));
        assert!(matches!(
            l.attempt(SECOND - 1, 0, Time::MAX, &mut rng),
            Attempt::Retry { .. }
        ));
        assert_eq!(l.attempt(SECOND, 0, Time::MAX, &mut rng), Attempt::Granted);
        assert_eq!((l.attempts(), l.denials()), (6, 2));
    }

    fn retry_at(l: &mut PerSecondLimiter, now: Time, rng: &mut ChaCha8Rng) -> Time {
        match l.attempt(now, now, Time::MAX, rng) {
            Attempt::Retry { at } => at,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn per_second_retry_near_boundary_lands_in_first_50ms_of_next_second() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut l = PerSecondLimiter::new(1).unwrap();
        assert_eq!(l.attempt(0, 0, Time::MAX, &mut rng), Attempt::Granted);
        for now in [750 * MS + 1, 800 * MS, SECOND - 1] {
            for _ in 0..50 {
                let at = retry_at(&mut l, now, &mut rng);
                assert!((SECOND..SECOND + 50 * MS).contains(&at), "{now} -> {at}");
            }
        }
    }

    #[test]
    fn per_second_retry_far_from_boundary_backs_off_25_to_50ms() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut l = PerSecondLimiter::new(1).unwrap();
        assert_eq!(l.attempt(0, 0, Time::MAX, &mut rng), Attempt::Granted);
        for now in [0, 100 * MS, 750 * MS] {
            for _ in 0..50 {
                let at = retry_at(&mut l, now, &mut rng);
                assert!(
                    (now + 25 * MS..now + 50 * MS).contains(&at),
                    "{now} -> {at}"
                );
            }
        }
    }

    #[test]
    fn per_second_gives_up_after_30s_or_at_deadline() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut l = PerSecondLimiter::new(1).unwrap();
        let started = 500 * MS;
        assert_eq!(
            l.attempt(30_000 * MS, started, Time::MAX, &mut rng),
            Attempt::Granted
        );
        // Give-up time 30.5 s; retries from 30.4 s land at <= 30.45 s, from 30.49 s at >= 30.515 s.
        assert!(matches!(
            l.attempt(30_400 * MS, started, Time::MAX, &mut rng),
            Attempt::Retry { .. }
        ));
        assert_eq!(
            l.attempt(30_490 * MS, started, Time::MAX, &mut rng),
            Attempt::GiveUp
        );
        // A caller deadline earlier than 30 s wins.
        let now = 30_100 * MS;
        assert_eq!(
            l.attempt(now, now, now + 20 * MS, &mut rng),
            Attempt::GiveUp
        );
        assert!(matches!(
            l.attempt(now, now, now + 50 * MS, &mut rng),
            Attempt::Retry { .. }
        ));
        assert_eq!((l.attempts(), l.denials()), (5, 4));
    }

    #[test]
    fn per_second_is_deterministic_for_a_seed() {
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut l = PerSecondLimiter::new(2).unwrap();
            (0..20)
                .map(|i| l.attempt(i * 37 * MS, 0, Time::MAX, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn per_second_crowd_is_served_100_per_second_just_after_boundaries() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut l = PerSecondLimiter::new(100).unwrap();
        let mut events: BinaryHeap<Reverse<(Time, usize)>> =
            (0..250).map(|id| Reverse((0, id))).collect();
        let mut granted = Vec::new();
        while let Some(Reverse((now, id))) = events.pop() {
            match l.attempt(now, 0, Time::MAX, &mut rng) {
                Attempt::Granted => granted.push(now),
                Attempt::Retry { at } => events.push(Reverse((at, id))),
                Attempt::GiveUp => panic!("caller {id} gave up at {now}"),
            }
        }
        assert_eq!(granted.len(), 250);
        assert!(granted[..100].iter().all(|&t| t == 0));
        assert!(granted[100..200]
            .iter()
            .all(|&t| (SECOND..SECOND + 50 * MS).contains(&t)));
        assert!(granted[200..]
            .iter()
            .all(|&t| (2 * SECOND..2 * SECOND + 50 * MS).contains(&t)));
    }

    proptest! {
        #[test]
        fn prop_per_second_never_exceeds_limit_and_follows_retry_rules(
            limit in 1..10u32,
            seed: u64,
            calls in prop::collection::vec((0..300 * MS, 0..40 * SECOND, 0..5 * SECOND), 0..300),
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut l = PerSecondLimiter::new(limit).unwrap();
            let mut now: Time = 0;
            let mut grants = 0u64;
            // (second, calls in it, grants in it)
            let mut cur = (0u64, 0u32, 0u32);
            for &(dt, waited, patience) in &calls {
                now += dt;
                let (started, deadline) = (now.saturating_sub(waited), now + patience);
                if now / SECOND != cur.0 {
                    prop_assert_eq!(cur.2, cur.1.min(limit));
                    cur = (now / SECOND, 0, 0);
                }
                cur.1 += 1;
                let boundary = (now / SECOND + 1) * SECOND;
                let allowed = if boundary - now < 250 * MS {
                    boundary..boundary + 50 * MS
                } else {
                    now + 25 * MS..now + 50 * MS
                };
                let give_up_at = (started + 30 * SECOND).min(deadline);
                match l.attempt(now, started, deadline, &mut rng) {
                    Attempt::Granted => { grants += 1; cur.2 += 1; }
                    Attempt::Retry { at } => {
                        prop_assert!(allowed.contains(&at), "{} -> {} not in {:?}", now, at, allowed);
                        prop_assert!(at <= give_up_at);
                    }
                    Attempt::GiveUp => prop_assert!(allowed.end - 1 > give_up_at),
                }
            }
            prop_assert_eq!(cur.2, cur.1.min(limit));
            prop_assert_eq!(l.attempts(), calls.len() as u64);
            prop_assert_eq!(l.denials(), calls.len() as u64 - grants);
        }
    }

    #[test]
    fn fixed_window_retries_at_next_boundary_plus_5ms() {
        let mut l = FixedWindowLimiter::new(2).unwrap();
        assert_eq!(l.attempt(300 * MS), Ok(()));
        assert_eq!(l.attempt(300 * MS), Ok(()));
        assert_eq!(l.attempt(300 * MS), Err(1_005 * MS));
        assert_eq!(l.attempt(SECOND - 1), Err(1_005 * MS));
        assert_eq!(l.attempt(1_005 * MS), Ok(()));
        assert_eq!(l.attempt(2_999 * MS), Ok(()));
        assert_eq!(l.attempt(2_999 * MS), Ok(()));
        assert_eq!(l.attempt(2_999 * MS), Err(3_005 * MS));
        assert_eq!((l.attempts(), l.denials()), (8, 3));
        assert_eq!(l.attempt(Time::MAX), Ok(()));
        assert_eq!(l.attempt(Time::MAX), Ok(()));
        assert_eq!(l.attempt(Time::MAX), Err(Time::MAX));
    }

    proptest! {
        #[test]
        fn prop_fixed_window_never_exceeds_limit(
            limit in 1..10u32,
            dts in prop::collection::vec(prop_oneof![Just(0), 0..300 * MS], 0..300),
        ) {
            let mut l = FixedWindowLimiter::new(limit).unwrap();
            let mut now: Time = 0;
            let mut cur = (0u64, 0u32, 0u32);
            for dt in dts {
                now += dt;
                if now / SECOND != cur.0 {
                    prop_assert_eq!(cur.2, cur.1.min(limit));
                    cur = (now / SECOND, 0, 0);
                }
                cur.1 += 1;
                match l.attempt(now) {
                    Ok(()) => cur.2 += 1,
                    Err(at) => prop_assert_eq!(at, (now / SECOND + 1) * SECOND + 5 * MS),
                }
            }
            prop_assert_eq!(cur.2, cur.1.min(limit));
        }
    }
}
