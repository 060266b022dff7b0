//! The plain pool's startup and upkeep: the production warmup (sequential,
//! staggered, retried) that follows the startup ping, and the pool keeper
//! (every second, tops the pool up through database/sql).
//!
//! Above the database/sql side: the warmup and the keeper are callers of
//! database/sql like a request (`db.Conn(ctx)`). When one is done, the
//! database/sql side records it and the router hands it here
//! ([`World::plain_caller_done`]). When the warmup is over this side records
//! [`Up::Connected`]: the connect of the handle is done.

use super::sql_side::ReqKind;
use super::{Ev, Up, World};
use crate::engine::{Scheduler, StreamId};
use crate::model::keeper;
use crate::model::stream_kind;
use crate::model::warmup::{Warmup, WarmupStep};

impl World {
    /// After a plain pool's startup ping: warm up `MaxOpen - open` more
    /// connections (production's `needed`), then start the keeper.
    pub(super) fn plain_warmup(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let pool = self.dbs[db as usize].pool;
        let cfg = &self.cfgs[pool as usize];
        let target = cfg.target_size;
        let open = self.dbs[db as usize].sql().num_open();
        let needed = target.saturating_sub(open);
        if cfg.sql.warmup && needed > 0 {
            let gen = (self.pools[pool as usize].dbs.len() - 1) as u16;
            let rng = self
                .streams
                .stream(StreamId::new(stream_kind::WARMUP, pool, gen));
            let w = Warmup::for_pool(target, needed, rng);
            let step = w.next(now);
            self.dbs[db as usize].warmup = Some(w);
            self.warmup_step(db, step, s);
        } else {
            self.warmup_done(db, s);
        }
    }

    /// The warmup's next connection (`Ev::WarmupNext`).
    pub(super) fn warmup_next(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let deadline = self.dbs[db as usize].warmup_deadline;
        self.sql_caller(db, ReqKind::Warmup, deadline, s);
    }

    /// The keeper's ticker (`Ev::KeeperTick`); it stops with its `sql.DB`.
    pub(super) fn keeper_tick(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        let open = match d.sql.as_ref() {
            Some(sql) => sql.num_open(),
            None => return,
        };
        let Some(k) = d.keeper.as_mut() else {
            return;
        };
        let (n, next) = k.tick(now, open);
        s.at(next, Ev::KeeperTick(db));
        if n > 0 {
            self.keeper_create(db, s);
        }
    }

    /// A warmup or keeper caller is done.
    pub(super) fn plain_caller_done(
        &mut self,
        db: u32,
        kind: ReqKind,
        ok: bool,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        match kind {
            ReqKind::Warmup => {
                let w = d.warmup.as_mut().expect("warmup");
                let step = if ok { w.succeeded(now) } else { w.failed(now) };
                self.warmup_step(db, step, s);
            }
            ReqKind::Keeper => {
                let open = d.sql().num_open();
                let Some(k) = d.keeper.as_mut() else {
                    return;
                };
                if k.created(ok, open) > 0 {
                    self.keeper_create(db, s);
                }
            }
            ReqKind::User | ReqKind::Ping => {
                unreachable!("requests and pings are not the plain pool's")
            }
        }
    }

    fn warmup_step(&mut self, db: u32, step: WarmupStep, s: &mut Scheduler<Ev>) {
        match step {
            WarmupStep::OpenAt { at, deadline } => {
                self.dbs[db as usize].warmup_deadline = deadline;
                s.at(at, Ev::WarmupNext(db));
            }
            WarmupStep::Done => self.warmup_done(db, s),
        }
    }

    /// Every warmed connection is released, the keeper starts, and the
    /// handle's connect is done.
    fn warmup_done(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let warmed = std::mem::take(&mut self.dbs[db as usize].warmed);
        for &conn in &warmed {
            self.unhold(db);
            self.put_back(db, conn, false, s);
        }
        if self.dbs[db as usize].keeper.is_some() {
            // A time.Ticker's first tick comes one period after it starts.
            s.at(now + keeper::TICK, Ev::KeeperTick(db));
        }
        self.ups.push(Up::Connected { db, ok: true });
    }

    fn keeper_create(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let deadline = s.now() + keeper::CONNECTION_TIMEOUT;
        self.sql_caller(db, ReqKind::Keeper, deadline, s);
    }
}
