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
//!   which is exact for a Poisson process (memorylessness).
//! - `uniform`: evenly spaced arrivals, one every `1 / rate`; the first arrival of
//!   a new rate segment is at the segment's start. No randomness.

use crate::engine::{SimRng, Time, SECOND};
use crate::model::dist::DurationDist;
use rand::Rng;

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

    /// The next arrival strictly determined from the previous one at `now`.
    pub fn next_arrival(&mut self, now: Time) -> Option<Time> {
        let mut t = now;
        // A handful of iterations at most: each one crosses a rate change.
        loop {
            let (rate, change) = self.cfg.shape.rate_at(t);
            if rate > 0.0 {
                let gap = match self.cfg.arrival {
                    ArrivalProcess::Poisson => {
                        let u: f64 = 1.0 - self.arrivals.random::<f64>();
                        -u.ln() / rate * SECOND as f64 + 0.5
                    }
                    ArrivalProcess::Uniform => SECOND as f64 / rate + 0.5,
                };
                let candidate = t.saturating_add(gap as Time);
                if candidate < change {
                    return Some(candidate);
                }
                if self.cfg.arrival == ArrivalProcess::Uniform {
                    return Some(change).filter(|&c| c != Time::MAX);
                }
            }
            if change == Time::MAX {
                return None;
            }
            t = change;
        }
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
}
