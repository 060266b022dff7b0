//! A pool's `DatabaseHandle` (Temporal's `sqlplugin.DatabaseHandle`): the
//! connect that builds its `sql.DB`, the rebuild after a lost connection,
//! and the lock that requests block on meanwhile.
//!
//! The connect (production: the plugin's connect path, run while holding the
//! handle's lock):
//!
//! - reservoir mode: a new reservoir and refiller start, the initial fill
//!   waits for `low_watermark` ready connections (at most
//!   `initial_fill_timeout`, then it goes on with a warning); with
//!   database/sql on top (`database_sql`), `sql.Open` then `db.Ping()`, which
//!   takes one connection from the reservoir and leaves it idle;
//! - plain pool: `sql.Open`, `db.Ping()` (one physical open through the
//!   limiter), then the warmup of `MaxOpen - 1` more, then the keeper;
//! - the direct stack has no database/sql and no handle: it serves once the
//!   fill is done, and is never rebuilt.
//!
//! A failed ping fails the connect: the `sql.DB` is closed and the handle has
//! none. The reservoir and refiller the connect started are not stopped.
//!
//! The rebuild (`reconnect(force)`, called by `ConvertError` when a request
//! fails with `driver.ErrBadConn`, EOF, ECONNRESET...; in this model:
//! `no_connection`, database/sql's `ErrBadConn` retries exhausted): the
//! handle drops its `sql.DB` and closes it; if the last connect started less
//! than 1 s ago the rebuild is throttled and the handle stays without one;
//! else it connects again. Requests that find no `sql.DB` reconnect
//! themselves (not forced) when 1 s has passed, else fail "unavailable";
//! requests that arrive while a connect holds the lock block on it, whatever
//! their deadline, and go on with its result. Forced reconnects that queue
//! behind a connect run after it, in order: each closes the `sql.DB` just
//! built, and is then throttled.
//!
//! The old `sql.DB` is closed; in reservoir mode its reservoir and refiller
//! are not: the refiller keeps its reservoir full, with its connections and
//! leases, for good (a leaked refiller). `rebuild.stop_old_refiller` models
//! the fix: the old refiller and scanner stop and its connections are closed.

use super::instance::{Db, DbState, Handle};
use super::sql_side::ReqKind;
use super::{Ev, World};
use crate::engine::{Scheduler, Time, SECOND};

/// `sessionRefreshMinInternal`: at most one connect per second per handle.
pub const REFRESH_MIN_INTERVAL: Time = SECOND;

impl World {
    /// Start a connect of `pool`'s handle: a new `Db`, built while holding
    /// the handle's lock.
    pub(super) fn connect(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let gen = self.pools[pool as usize].dbs.len() as u32;
        let d = Db::new(&self.cfgs[pool as usize], pool, gen, &self.streams)
            .expect("the pool's configuration was validated when the world was built");
        let db = self.dbs.len() as u32;
        let stack = d.stack;
        let cleaner = d.sql.as_ref().and_then(|sql| sql.cleaner_period());
        self.dbs.push(d);
        let p = &mut self.pools[pool as usize];
        p.dbs.push(db);
        p.handle = Handle::Connecting(db);
        p.last_refresh = Some(now);
        if stack.has_reservoir() {
            self.start_reservoir(db, s);
        } else {
            if let Some(period) = cleaner {
                s.at(now + period, Ev::Cleaner(db));
            }
            self.ping(db, s);
        }
    }

    /// `db.Ping()`: one connection through database/sql, released at once.
    fn ping(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        self.sql_caller(db, ReqKind::Ping, Time::MAX, s);
    }

    /// The initial fill of `db`'s reservoir ended.
    pub(super) fn fill_done(&mut self, db: u32, timed_out: bool, s: &mut Scheduler<Ev>) {
        let pool = self.dbs[db as usize].pool;
        if timed_out {
            let p = &mut self.pools[pool as usize];
            p.counters.fill_timeouts += 1;
            if p.serving_since.is_none() {
                p.fill_timed_out = true;
            }
        }
        match self.dbs[db as usize].stack {
            super::Stack::Direct => self.db_up(db, true, s),
            _ => self.ping(db, s),
        }
    }

    /// The startup ping of `db` ended.
    pub(super) fn ping_done(&mut self, db: u32, ok: bool, s: &mut Scheduler<Ev>) {
        if !ok {
            self.db_up(db, false, s);
        } else if self.dbs[db as usize].stack == super::Stack::Plain {
            self.plain_warmup(db, s);
        } else {
            self.db_up(db, true, s);
        }
    }

    /// The connect that built `db` ended (`ok`: the handle serves with it).
    pub(super) fn db_up(&mut self, db: u32, ok: bool, s: &mut Scheduler<Ev>) {
        let pool = self.dbs[db as usize].pool;
        if ok {
            self.dbs[db as usize].state = DbState::Open;
            self.pools[pool as usize].handle = Handle::Ready(db);
        } else {
            self.pools[pool as usize].counters.connect_failures += 1;
            self.close_db(db, s);
            self.pools[pool as usize].handle = Handle::Down;
        }
        self.lock_released(pool, ok.then_some(db), s);
        let forced = std::mem::take(&mut self.pools[pool as usize].pending_force);
        for _ in 0..forced {
            self.reconnect(pool, true, s);
        }
        self.startup_progress(pool, s);
    }

    /// `DatabaseHandle.reconnect(force)`. Returns whether the handle is now
    /// connecting (the caller blocks on its lock).
    pub(super) fn reconnect(&mut self, pool: u32, force: bool, s: &mut Scheduler<Ev>) -> bool {
        let now = s.now();
        match self.pools[pool as usize].handle {
            Handle::NotStarted => return false,
            Handle::Connecting(_) => {
                if force {
                    // Blocks on the lock; runs when the connect is done.
                    self.pools[pool as usize].pending_force += 1;
                }
                return true;
            }
            Handle::Ready(db) => {
                if !force {
                    return false;
                }
                self.close_db(db, s);
                self.pools[pool as usize].handle = Handle::Down;
            }
            Handle::Down => {}
        }
        let p = &mut self.pools[pool as usize];
        if p.last_refresh
            .is_some_and(|t| now.saturating_sub(t) < REFRESH_MIN_INTERVAL)
        {
            p.counters.rebuilds_throttled += 1;
            return false;
        }
        p.counters.rebuilds += 1;
        self.connect(pool, s);
        true
    }

    /// Whether a request finding the handle without an `sql.DB` may
    /// reconnect now (1 s after the last connect started).
    pub(super) fn may_refresh(&self, pool: u32, now: Time) -> bool {
        self.pools[pool as usize]
            .last_refresh
            .is_none_or(|t| now.saturating_sub(t) >= REFRESH_MIN_INTERVAL)
    }

    /// Close `db` for good (`go prevConn.Close()`): its `sql.DB` closes; its
    /// reservoir and refiller live on, leaked, unless the fix is modelled.
    pub(super) fn close_db(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let stack = self.dbs[db as usize].stack;
        if self.dbs[db as usize].sql.is_some() {
            self.close_sql(db, s);
        } else {
            self.dbs[db as usize].state = DbState::Closed;
        }
        if stack.has_reservoir() && self.rebuild.stop_old_refiller {
            self.shut_reservoir(db, s);
        }
    }
}
