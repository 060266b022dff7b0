//! The event queue and the run loop.
//!
//! Events are ordered by `(time, insertion sequence)`: two events due at the same
//! nanosecond run in the order they were scheduled. The queue is a binary heap of
//! small `Copy` entries; scheduling an event does not allocate once the heap has
//! grown to its working size. The engine refuses to spin: a run that keeps
//! processing events without the clock moving, that schedules more events than
//! its queue bound, or that exceeds its event budget stops with an
//! [`EngineError`] instead of hanging or exhausting memory.

use super::time::{format_duration, Time};
use dary_heap::QuaternaryHeap as BinaryHeap;
use std::cmp::Ordering;
use std::fmt;

/// One scheduled event. `key` packs `(time, seq)` into one integer (time in
/// the high 64 bits) so that ordering is a single comparison; the
/// `BinaryHeap` (a max-heap) pops the earliest key first.
#[derive(Clone, Copy)]
struct Entry<E> {
    key: u128,
    ev: E,
}

impl<E> Entry<E> {
    #[inline]
    fn time(&self) -> Time {
        (self.key >> 64) as Time
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the smallest (time, seq) is the "greatest" for the max-heap.
        other.key.cmp(&self.key)
    }
}

/// What a handler uses to read the clock and schedule future events.
pub struct Scheduler<E> {
    now: Time,
    seq: u64,
    heap: BinaryHeap<Entry<E>>,
    max_queue: usize,
    overflowed: bool,
}

impl<E: Copy> Scheduler<E> {
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> Time {
        self.now
    }

    /// Schedule `ev` at absolute time `at`. A time in the past is treated as
    /// "now" (it runs after everything already scheduled for now).
    #[inline]
    pub fn at(&mut self, at: Time, ev: E) {
        debug_assert!(at >= self.now, "event scheduled in the past");
        if self.heap.len() >= self.max_queue {
            self.overflowed = true;
            return;
        }
        let time = at.max(self.now);
        self.seq += 1;
        self.heap.push(Entry {
            key: ((time as u128) << 64) | self.seq as u128,
            ev,
        });
    }

    /// Schedule `ev` after a delay from now (saturating at the end of time).
    #[inline]
    pub fn after(&mut self, delay: Time, ev: E) {
        self.at(self.now.saturating_add(delay), ev);
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.heap.len()
    }
}

/// A component (or a world of components) that reacts to events.
///
/// Implemented by the simulation world; the engine calls it with static dispatch.
pub trait Handler<E> {
    /// Handle one event at the scheduler's current time.
    fn handle(&mut self, ev: E, sched: &mut Scheduler<E>);
}

/// Bounds that keep a bad scenario from hanging the engine or eating memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events allowed at one instant before the run is declared stalled.
    pub max_events_same_instant: u64,
    /// Pending events allowed in the queue at once. An entry is 32 bytes and
    /// the heap doubles as it grows, so the default of 20 million bounds the
    /// queue at about 1.3 GB: validation keeps requests in flight to 10
    /// million (one pending event each), which leaves room for connections'
    /// and components' events.
    pub max_queue: usize,
    /// Events allowed in one run.
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events_same_instant: 10_000_000,
            max_queue: 20_000_000,
            max_events: 5_000_000_000,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// Too many events at one instant: the model is spinning without time advancing.
    Stalled { at: Time, events: u64 },
    /// More events pending at once than the queue bound allows.
    QueueOverflow { at: Time, limit: usize },
    /// The run processed more events than its budget.
    EventBudget { at: Time, limit: u64 },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Stalled { at, events } => write!(
                f,
                "the simulation stalled: {events} events ran at t={} without simulated time advancing",
                format_duration(*at)
            ),
            EngineError::QueueOverflow { at, limit } => write!(
                f,
                "the event queue exceeded {limit} pending events at t={}; the scenario is too large to simulate in memory",
                format_duration(*at)
            ),
            EngineError::EventBudget { at, limit } => write!(
                f,
                "the run exceeded its budget of {limit} events at t={}",
                format_duration(*at)
            ),
        }
    }
}

impl std::error::Error for EngineError {}

/// The discrete-event engine: a clock and a queue.
pub struct Engine<E> {
    sched: Scheduler<E>,
    limits: Limits,
    processed: u64,
}

impl<E: Copy> Engine<E> {
    /// A new engine at time 0 with the given bounds.
    pub fn new(limits: Limits) -> Self {
        Engine {
            sched: Scheduler {
                now: 0,
                seq: 0,
                heap: BinaryHeap::with_capacity(1024),
                max_queue: limits.max_queue,
                overflowed: false,
            },
            limits,
            processed: 0,
        }
    }

    /// The scheduler, to seed initial events before [`Engine::run`].
    pub fn scheduler(&mut self) -> &mut Scheduler<E> {
        &mut self.sched
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.processed
    }

    /// Current simulated time.
    pub fn now(&self) -> Time {
        self.sched.now
    }

    /// Run every event due at or before `until`, then set the clock to `until`.
    pub fn run<H: Handler<E>>(&mut self, handler: &mut H, until: Time) -> Result<(), EngineError> {
        let mut same_instant: u64 = 0;
        let mut last_time = self.sched.now;
        while let Some(top) = self.sched.heap.peek() {
            if top.time() > until {
                break;
            }
            let entry = self.sched.heap.pop().expect("peeked");
            let (time, ev) = (entry.time(), entry.ev);
            if time == last_time {
                same_instant += 1;
                if same_instant > self.limits.max_events_same_instant {
                    return Err(EngineError::Stalled {
                        at: time,
                        events: same_instant,
                    });
                }
            } else {
                same_instant = 1;
                last_time = time;
            }
            self.processed += 1;
            if self.processed > self.limits.max_events {
                return Err(EngineError::EventBudget {
                    at: time,
                    limit: self.limits.max_events,
                });
            }
            self.sched.now = time;
            handler.handle(ev, &mut self.sched);
            if self.sched.overflowed {
                return Err(EngineError::QueueOverflow {
                    at: time,
                    limit: self.limits.max_queue,
                });
            }
        }
        self.sched.now = self.sched.now.max(until);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Ev {
        Mark(u32),
        Spin,
        Fork,
    }

    #[derive(Default)]
    struct Recorder {
        seen: Vec<(Time, u32)>,
    }

    impl Handler<Ev> for Recorder {
        fn handle(&mut self, ev: Ev, s: &mut Scheduler<Ev>) {
            match ev {
                Ev::Mark(n) => self.seen.push((s.now(), n)),
                Ev::Spin => s.after(0, Ev::Spin),
                Ev::Fork => {
                    s.after(1, Ev::Fork);
                    s.after(1, Ev::Fork);
                }
            }
        }
    }

    #[test]
    fn orders_by_time_then_insertion() {
        let mut e = Engine::new(Limits::default());
        let s = e.scheduler();
        s.at(30, Ev::Mark(1));
        s.at(10, Ev::Mark(2));
        s.at(30, Ev::Mark(3));
        s.at(10, Ev::Mark(4));
        s.at(20, Ev::Mark(5));
        let mut r = Recorder::default();
        e.run(&mut r, 100).unwrap();
        assert_eq!(r.seen, vec![(10, 2), (10, 4), (20, 5), (30, 1), (30, 3)]);
        assert_eq!(e.events_processed(), 5);
        assert_eq!(e.now(), 100);
    }

    #[test]
    fn stops_at_until_inclusive() {
        let mut e = Engine::new(Limits::default());
        e.scheduler().at(100, Ev::Mark(1));
        e.scheduler().at(101, Ev::Mark(2));
        let mut r = Recorder::default();
        e.run(&mut r, 100).unwrap();
        assert_eq!(r.seen, vec![(100, 1)]);
    }

    #[test]
    fn a_spinning_model_is_stopped_with_an_error() {
        let mut e = Engine::new(Limits {
            max_events_same_instant: 1000,
            ..Limits::default()
        });
        e.scheduler().at(5, Ev::Spin);
        let err = e.run(&mut Recorder::default(), 10).unwrap_err();
        assert_eq!(
            err,
            EngineError::Stalled {
                at: 5,
                events: 1001
            }
        );
        assert!(err.to_string().contains("without simulated time advancing"));
    }

    #[test]
    fn an_exploding_queue_is_stopped_with_an_error() {
        let mut e = Engine::new(Limits {
            max_queue: 500,
            ..Limits::default()
        });
        e.scheduler().at(0, Ev::Fork);
        let err = e.run(&mut Recorder::default(), 1_000_000).unwrap_err();
        assert!(matches!(err, EngineError::QueueOverflow { limit: 500, .. }));
    }

    #[test]
    fn event_budget_is_enforced() {
        let mut e = Engine::new(Limits {
            max_events: 100,
            ..Limits::default()
        });
        for i in 0..200 {
            e.scheduler().at(i, Ev::Mark(0));
        }
        let err = e.run(&mut Recorder::default(), 1000).unwrap_err();
        assert!(matches!(err, EngineError::EventBudget { limit: 100, .. }));
    }
}
