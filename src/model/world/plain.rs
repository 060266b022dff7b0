//! The plain pool's startup and upkeep: the production warmup (sequential,
//! staggered, retried; the pool takes traffic when it is done) and the pool
//! keeper (every second, tops the pool up through database/sql).
//!
//! Above the database/sql side: the warmup and the keeper are callers of
//! database/sql like a request (`db.Conn(ctx)`). When one is done, the
//! database/sql side records it and the router hands it here
//! ([`World::plain_caller_done`]).

use super::sql_side::{CallerDone, ReqKind};
use super::{Ev, World};
use crate::engine::Scheduler;
use crate::model::keeper;
use crate::model::warmup::WarmupStep;

impl World {
    /// Schedule the first events of plain pool `pool` at start: the warmup
    /// (or, without one, traffic and the keeper at once) and the cleaner.
    pub(super) fn plain_start(&mut self, pool: u32, sched: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        match p.warmup.as_ref().map(|wu| wu.next(0)) {
            Some(WarmupStep::OpenAt { at, deadline }) => {
                p.warmup_deadline = deadline;
                sched.at(at, Ev::WarmupNext(pool));
            }
            Some(WarmupStep::Done) | None => {
                p.warmup = None;
                p.serving_since = Some(0);
                if p.keeper.is_some() {
                    sched.at(keeper::TICK, Ev::KeeperTick(pool));
                }
            }
        }
        if let Some(period) = p.sql.as_ref().and_then(|s| s.cleaner_period()) {
            sched.at(period, Ev::Cleaner(pool));
        }
    }

    /// The warmup's next connection (`Ev::WarmupNext`).
    pub(super) fn warmup_next(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let deadline = self.pools[pool as usize].warmup_deadline;
        self.sql_caller(pool, ReqKind::Warmup, deadline, s);
    }

    /// The keeper's ticker (`Ev::KeeperTick`).
    pub(super) fn keeper_tick(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let open = p.sql().num_open();
        let (n, next) = p.keeper.as_mut().expect("keeper").tick(now, open);
        s.at(next, Ev::KeeperTick(pool));
        if n > 0 {
            self.keeper_create(pool, s);
        }
    }

    /// A warmup or keeper caller is done.
    pub(super) fn plain_caller_done(&mut self, d: CallerDone, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[d.pool as usize];
        match d.kind {
            ReqKind::Warmup => {
                let w = p.warmup.as_mut().expect("warmup");
                let step = if d.ok {
                    w.succeeded(now)
                } else {
                    w.failed(now)
                };
                self.warmup_step(d.pool, step, s);
            }
            ReqKind::Keeper => {
                let open = p.sql().num_open();
                let more = p.keeper.as_mut().expect("keeper").created(d.ok, open);
                if more > 0 {
                    self.keeper_create(d.pool, s);
                }
            }
            ReqKind::User => unreachable!("requests are done in the database/sql side"),
        }
    }

    fn warmup_step(&mut self, pool: u32, step: WarmupStep, s: &mut Scheduler<Ev>) {
        let now = s.now();
        match step {
            WarmupStep::OpenAt { at, deadline } => {
                self.pools[pool as usize].warmup_deadline = deadline;
                s.at(at, Ev::WarmupNext(pool));
            }
            WarmupStep::Done => {
                // Every warmed connection is released; the service takes traffic.
                let warmed = std::mem::take(&mut self.pools[pool as usize].warmed);
                for conn in warmed {
                    self.pools[pool as usize].in_use -= 1;
                    self.put_back(pool, conn, false, s);
                }
                let p = &mut self.pools[pool as usize];
                p.serving_since = Some(now);
                if p.keeper.is_some() {
                    // A time.Ticker's first tick comes one period after it starts.
                    s.at(now + keeper::TICK, Ev::KeeperTick(pool));
                }
            }
        }
    }

    fn keeper_create(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let deadline = s.now() + keeper::CONNECTION_TIMEOUT;
        self.sql_caller(pool, ReqKind::Keeper, deadline, s);
    }
}
