//! The callers: an open-loop stream of requests for one pool.
//!
//! Requests arrive whether or not a connection is free (open loop). Each request
//! draws its hold time when it arrives, from the workload's own stream, whatever
//! then happens to it; so two runs with the same seed present the same requests
//! (arrival instants and hold times) to every mode of `poolsim compare`.
//!
//! Arrival processes:
//! - `poisson`: exponential inter-arrival gaps at the current rate. When the rate
//!   changes (a burst begins or ends) the pending gap is redrawn at the change,
//!   which is exact for a Poisson process (memorylessness). After
//!   [`REDRAW_CROSSINGS`] changes without an arrival (rates so low, or bursts so
//!   short, that a gap spans many of them), the generator draws one unit-rate
//!   exponential instead and finds the instant where the integrated rate reaches
//!   it, jumping whole burst periods in one step: also exact (a Poisson process
//!   is a unit-rate one run on the clock of its integrated rate), and bounded
//!   work whatever the rates.
//! - `uniform`: evenly spaced in the integrated rate: one arrival each time the
//!   expected count grows by one. Within one rate segment that is one every
//!   `1 / rate`; at a rate change the part of the gap already elapsed carries
//!   over, so the count over any span is the integrated rate to within one
//!   request. No randomness.
//!
//! Either way the work per arrival is bounded: a rate change is never an event,
//! and whole burst periods are skipped arithmetically.

use crate::engine::{SimRng, Time, SECOND};
use crate::model::dist::DurationDist;
use rand::Rng;

/// Rate changes a Poisson gap may cross, redrawn at each, before the generator
/// switches to the integrated rate (which jumps whole burst periods).
pub const REDRAW_CROSSINGS: u32 = 16;

/// How arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalProcess {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Evenly spaced arrivals.
    Uniform,
}

/// How the arrival rate varies over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateShape {
    /// `rate` requests per second throughout.
    Constant { rate: f64 },
    /// `baseline` requests per second, except during bursts of `burst_duration`
    /// at `burst` requests per second, starting at `first_at` and every
    /// `interval` after it.
    Burst {
        baseline: f64,
        burst: f64,
        burst_duration: Time,
        interval: Time,
        first_at: Time,
    },
}

impl RateShape {
    /// The rate in force at `t` and the instant it next changes (`Time::MAX` if never).
    pub fn rate_at(&self, t: Time) -> (f64, Time) {
        match *self {
            RateShape::Constant { rate } => (rate, Time::MAX),
            RateShape::Burst {
                baseline,
                burst,
                burst_duration,
                interval,
                first_at,
            } => {
                if t < first_at {
                    return (baseline, first_at);
                }
                let k = (t - first_at) / interval;
                let start = first_at + k * interval;
                if t < start + burst_duration {
                    (burst, start + burst_duration)
                } else {
                    (baseline, start.saturating_add(interval))
                }
            }
        }
    }

    /// Mean rate over a long run (requests per second).
    pub fn mean_rate(&self) -> f64 {
        match *self {
            RateShape::Constant { rate } => rate,
            RateShape::Burst {
                baseline,
                burst,
                burst_duration,
                interval,
                ..
            } => {
                let f = burst_duration as f64 / interval as f64;
                burst * f + baseline * (1.0 - f)
            }
        }
    }

    /// Expected arrivals over one whole burst period (`None` for a constant rate).
    fn arrivals_per_period(&self) -> Option<f64> {
        match *self {
            RateShape::Constant { .. } => None,
            RateShape::Burst {
                baseline,
                burst,
                burst_duration,
                interval,
                ..
            } => Some(
                (burst * burst_duration as f64 + baseline * (interval - burst_duration) as f64)
                    / SECOND as f64,
            ),
        }
    }

    /// The instant at which the integrated rate, counted from `t`, reaches
    /// `need` expected arrivals (rounded to the nearest nanosecond); `None` when
    /// that is past the end of representable time. Whole burst periods are
    /// skipped in one step, so the work is bounded whatever the rates.
    pub fn time_for(&self, mut t: Time, mut need: f64) -> Option<Time> {
        // Bounded: at most two segments reach a period start, one jump leaves
        // less than two periods' worth, and two periods are four segments.
        for _ in 0..64 {
            let (rate, change) = self.rate_at(t);
            if rate > 0.0 {
                let dt = need / rate * SECOND as f64 + 0.5;
                let candidate = t.saturating_add(dt as Time);
                if candidate < change {
                    return Some(candidate);
                }
                need = (need - rate * (change - t) as f64 / SECOND as f64).max(0.0);
            }
            if change == Time::MAX {
                return None;
            }
            t = change;
            if let RateShape::Burst {
                interval, first_at, ..
            } = *self
            {
                let per = self.arrivals_per_period().unwrap_or(0.0);
                if t >= first_at && (t - first_at).is_multiple_of(interval) && need > 2.0 * per {
                    if per.is_nan() || per <= 0.0 {
                        return None;
                    }
                    let k = (need / per).floor() - 1.0;
                    if k.is_nan() || k >= u64::MAX as f64 {
                        return None;
                    }
                    let periods = k as u64;
                    t = t.checked_add(periods.checked_mul(interval)?)?;
                    need = (need - periods as f64 * per).max(0.0);
                }
            }
        }
        debug_assert!(false, "time_for did not converge");
        None
    }

    /// Expected arrivals in `[0, end)`: the integrated rate (exact, in O(1)).
    pub fn expected_arrivals(&self, end: Time) -> f64 {
        let s = |ns: Time| ns as f64 / SECOND as f64;
        match *self {
            RateShape::Constant { rate } => rate * s(end),
            RateShape::Burst {
                baseline,
                burst,
                burst_duration,
                interval,
                first_at,
            } => {
                if end <= first_at {
                    return baseline * s(end);
                }
                let t = end - first_at;
                let (k, rem) = (t / interval, t % interval);
                baseline * s(first_at)
                    + k as f64 * self.arrivals_per_period().unwrap_or(0.0)
                    + burst * s(rem.min(burst_duration))
                    + baseline * s(rem.saturating_sub(burst_duration))
            }
        }
    }

    /// The highest rate the shape ever reaches.
    pub fn peak_rate(&self) -> f64 {
        match *self {
            RateShape::Constant { rate } => rate,
            RateShape::Burst {
                baseline, burst, ..
            } => baseline.max(burst),
        }
    }
}

/// A workload's configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// Rate over time.
    pub shape: RateShape,
    /// Spacing of arrivals.
    pub arrival: ArrivalProcess,
    /// How long a request holds its connection.
    pub hold: DurationDist,
}

/// A running workload with its two random streams.
pub struct Workload {
    cfg: WorkloadConfig,
    arrivals: SimRng,
    holds: SimRng,
}

impl Workload {
    /// A workload drawing arrivals and hold times from the given streams.
    pub fn new(cfg: WorkloadConfig, arrivals: SimRng, holds: SimRng) -> Self {
        Workload {
            cfg,
            arrivals,
            holds,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WorkloadConfig {
        &self.cfg
    }

    /// The first arrival instant at or after `start`, if any.
    pub fn first_arrival(&mut self, start: Time) -> Option<Time> {
        self.next_arrival(start)
    }

    /// The next arrival after the previous one at `now` (`None`: never, within
    /// representable time).
    pub fn next_arrival(&mut self, now: Time) -> Option<Time> {
        match self.cfg.arrival {
            ArrivalProcess::Poisson => self.next_poisson(now),
            ArrivalProcess::Uniform => self.next_uniform(now),
        }
    }

    fn next_poisson(&mut self, now: Time) -> Option<Time> {
        let mut t = now;
        for _ in 0..REDRAW_CROSSINGS {
            let (rate, change) = self.cfg.shape.rate_at(t);
            if rate > 0.0 {
                let u: f64 = 1.0 - self.arrivals.random::<f64>();
                let gap = -u.ln() / rate * SECOND as f64 + 0.5;
                let candidate = t.saturating_add(gap as Time);
                if candidate < change {
                    return Some(candidate);
                }
            }
            if change == Time::MAX {
                return None;
            }
            t = change;
        }
        // Many rate changes crossed without an arrival: one unit-rate
        // exponential against the integrated rate from here.
        let u: f64 = 1.0 - self.arrivals.random::<f64>();
        self.cfg.shape.time_for(t, -u.ln())
    }

    fn next_uniform(&mut self, now: Time) -> Option<Time> {
        let (rate, change) = self.cfg.shape.rate_at(now);
        if rate > 0.0 {
            let candidate = now.saturating_add((SECOND as f64 / rate + 0.5) as Time);
            if candidate < change {
                return Some(candidate);
            }
            if change == Time::MAX {
                return None;
            }
        }
        // The gap spans a rate change: what elapsed at this rate counts.
        self.cfg.shape.time_for(now, 1.0)
    }

    /// Draw the hold time of the request arriving now.
    #[inline]
    pub fn draw_hold(&mut self) -> Time {
        self.cfg.hold.sample(&mut self.holds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, StreamId, MILLISECOND, MINUTE};

    fn wl(shape: RateShape, arrival: ArrivalProcess) -> Workload {
        let s = RngStreams::new(3);
        Workload::new(
            WorkloadConfig {
                shape,
                arrival,
                hold: DurationDist::Fixed(100 * MILLISECOND),
            },
            s.stream(StreamId::new(1, 0, 0)),
            s.stream(StreamId::new(1, 0, 1)),
        )
    }

    fn arrivals_until(w: &mut Workload, end: Time) -> Vec<Time> {
        let mut out = vec![];
        let mut t = w.first_arrival(0);
        while let Some(x) = t {
            if x > end {
                break;
            }
            out.push(x);
            t = w.next_arrival(x);
        }
        out
    }

    #[test]
    fn uniform_constant_is_evenly_spaced() {
        let mut w = wl(RateShape::Constant { rate: 10.0 }, ArrivalProcess::Uniform);
        let a = arrivals_until(&mut w, SECOND);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|p| p[1] - p[0] == 100 * MILLISECOND));
    }

    #[test]
    fn poisson_count_matches_rate() {
        let mut w = wl(RateShape::Constant { rate: 50.0 }, ArrivalProcess::Poisson);
        let n = arrivals_until(&mut w, 1000 * SECOND).len() as f64;
        // 50,000 expected; sd = sqrt(50,000) ~ 224: 5 sd = 1,118.
        assert!((n - 50_000.0).abs() < 1_118.0, "{n}");
    }

    #[test]
    fn burst_rates_apply_in_their_windows() {
        let shape = RateShape::Burst {
            baseline: 5.0,
            burst: 100.0,
            burst_duration: 10 * SECOND,
            interval: 5 * MINUTE,
            first_at: 5 * MINUTE,
        };
        assert_eq!(shape.rate_at(0), (5.0, 5 * MINUTE));
        assert_eq!(shape.rate_at(5 * MINUTE), (100.0, 5 * MINUTE + 10 * SECOND));
        assert_eq!(shape.rate_at(5 * MINUTE + 10 * SECOND), (5.0, 10 * MINUTE));
        let mut w = wl(shape, ArrivalProcess::Poisson);
        let a = arrivals_until(&mut w, 20 * MINUTE);
        let in_burst = a
            .iter()
            .filter(|&&t| {
                (5 * MINUTE..5 * MINUTE + 10 * SECOND).contains(&t)
                    || (10 * MINUTE..10 * MINUTE + 10 * SECOND).contains(&t)
                    || (15 * MINUTE..15 * MINUTE + 10 * SECOND).contains(&t)
            })
            .count() as f64;
        // 3 bursts x 10 s x 100/s = 3,000 expected, sd ~ 55.
        assert!((in_burst - 3000.0).abs() < 275.0, "{in_burst}");
        assert!((shape.mean_rate() - (100.0 / 30.0 + 5.0 * 29.0 / 30.0)).abs() < 1e-9);
    }

    #[test]
    fn same_streams_same_requests() {
        let mut a = wl(RateShape::Constant { rate: 20.0 }, ArrivalProcess::Poisson);
        let mut b = wl(RateShape::Constant { rate: 20.0 }, ArrivalProcess::Poisson);
        assert_eq!(
            arrivals_until(&mut a, 60 * SECOND),
            arrivals_until(&mut b, 60 * SECOND)
        );
    }

    fn burst(baseline: f64, burst: f64, d: Time, interval: Time) -> RateShape {
        RateShape::Burst {
            baseline,
            burst,
            burst_duration: d,
            interval,
            first_at: interval,
        }
    }

    /// Expected arrivals in [0, end] of a shape, by walking its segments.
    fn integrated(shape: &RateShape, end: Time) -> f64 {
        let mut t = 0;
        let mut sum = 0.0;
        while t < end {
            let (rate, change) = shape.rate_at(t);
            let to = change.min(end);
            sum += rate * (to - t) as f64 / SECOND as f64;
            t = to;
        }
        sum
    }

    #[test]
    fn uniform_with_bursts_counts_the_configured_rate() {
        // Regression: uniform arrivals used to add one arrival at every rate
        // change (11,561 requests in 60 s for a 1 request/s workload).
        let shape = burst(1.0, 1.0, MILLISECOND, 10 * MILLISECOND);
        let mut w = wl(shape, ArrivalProcess::Uniform);
        let n = arrivals_until(&mut w, 60 * SECOND).len();
        assert!((59..=61).contains(&n), "{n}");
        // Different rates in and out of bursts: within one request of the
        // integrated rate over the whole span.
        let shape = burst(3.0, 250.0, 7 * MILLISECOND, 40 * MILLISECOND);
        let mut w = wl(shape, ArrivalProcess::Uniform);
        let n = arrivals_until(&mut w, 60 * SECOND).len() as f64;
        let want = integrated(&shape, 60 * SECOND);
        assert!((n - want).abs() <= 1.0, "{n} vs {want}");
    }

    #[test]
    fn uniform_is_exact_within_one_per_segment() {
        let shape = RateShape::Burst {
            baseline: 2.0,
            burst: 40.0,
            burst_duration: 5 * SECOND,
            interval: 20 * SECOND,
            first_at: 3 * SECOND,
        };
        let mut w = wl(shape, ArrivalProcess::Uniform);
        let a = arrivals_until(&mut w, 10 * MINUTE);
        let mut t = 0;
        while t < 10 * MINUTE {
            let (rate, change) = shape.rate_at(t);
            let to = change.min(10 * MINUTE);
            let n = a.iter().filter(|&&x| x >= t && x < to).count() as f64;
            let want = rate * (to - t) as f64 / SECOND as f64;
            assert!((n - want).abs() <= 1.0, "[{t}, {to}): {n} vs {want}");
            t = to;
        }
    }

    #[test]
    fn uniform_and_poisson_expect_the_same_count() {
        let shape = burst(4.0, 80.0, 2 * SECOND, 10 * SECOND);
        let end = 2_000 * SECOND;
        let want = integrated(&shape, end);
        let u = arrivals_until(&mut wl(shape, ArrivalProcess::Uniform), end).len() as f64;
        let p = arrivals_until(&mut wl(shape, ArrivalProcess::Poisson), end).len() as f64;
        assert!((u - want).abs() <= 1.0, "uniform {u} vs {want}");
        // Poisson: sd = sqrt(want) ~ 200; 5 sd.
        assert!(
            (p - want).abs() < 5.0 * want.sqrt(),
            "poisson {p} vs {want}"
        );
    }

    #[test]
    fn poisson_gaps_spanning_many_bursts_keep_the_rate() {
        // Every gap crosses hundreds of rate changes: the integrated-rate path.
        let shape = burst(0.5, 2.0, MILLISECOND, 4 * MILLISECOND);
        let end = 4_000 * SECOND;
        let want = integrated(&shape, end);
        let n = arrivals_until(&mut wl(shape, ArrivalProcess::Poisson), end).len() as f64;
        assert!((n - want).abs() < 5.0 * want.sqrt(), "{n} vs {want}");
    }

    #[test]
    fn tiny_rates_and_nanosecond_bursts_end_at_once() {
        // Regression: these walked every rate change until an arrival, far
        // past the end of any run (the run never ended).
        for arrival in [ArrivalProcess::Poisson, ArrivalProcess::Uniform] {
            let mut w = wl(burst(1e-12, 1e-12, 1, SECOND), arrival);
            let t = w.first_arrival(0);
            assert!(t.is_none_or(|t| t > 720 * crate::engine::HOUR), "{t:?}");
            let mut w = wl(burst(5.0, 100.0, 1, 2), arrival);
            let a = arrivals_until(&mut w, 60 * SECOND).len() as f64;
            // Mean rate (5 + 100) / 2 = 52.5/s.
            assert!(
                (a - 3150.0).abs() < 5.0 * 3150f64.sqrt(),
                "{arrival:?}: {a}"
            );
        }
    }

    #[test]
    fn expected_arrivals_integrate_the_rate() {
        let shape = RateShape::Burst {
            baseline: 3.0,
            burst: 500.0,
            burst_duration: 13 * MILLISECOND,
            interval: 700 * MILLISECOND,
            first_at: 50 * MILLISECOND,
        };
        for end in [
            0,
            10 * MILLISECOND,
            55 * MILLISECOND,
            SECOND,
            17 * SECOND + 3,
        ] {
            let want = integrated(&shape, end);
            let got = shape.expected_arrivals(end);
            assert!(
                (got - want).abs() < 1e-9 * want.max(1.0),
                "{end}: {got} vs {want}"
            );
        }
        // A run shorter than the first burst sees only the baseline.
        assert_eq!(
            burst(70.0, 0.001, 2 * SECOND, 4 * SECOND).expected_arrivals(2 * SECOND),
            140.0
        );
    }

    #[test]
    fn time_for_inverts_the_integrated_rate() {
        let shape = RateShape::Burst {
            baseline: 3.0,
            burst: 500.0,
            burst_duration: 13 * MILLISECOND,
            interval: 700 * MILLISECOND,
            first_at: 50 * MILLISECOND,
        };
        for (t0, need) in [
            (0, 0.5),
            (0, 1e4),
            (49 * MILLISECOND, 7.25),
            (SECOND, 123.0),
        ] {
            let t = shape.time_for(t0, need).expect("reachable");
            let mut got = 0.0;
            let mut x = t0;
            while x < t {
                let (rate, change) = shape.rate_at(x);
                let to = change.min(t);
                got += rate * (to - x) as f64 / SECOND as f64;
                x = to;
            }
            // Within the rate of one nanosecond of the largest rate.
            assert!(
                (got - need).abs() < 1e-6 * need.max(1.0),
                "{t0} {need}: {got}"
            );
        }
        assert_eq!(RateShape::Constant { rate: 1e-300 }.time_for(0, 1.0), None);
        assert_eq!(burst(1e-300, 1e-300, 1, 2).time_for(0, 1.0), None);
    }
}
