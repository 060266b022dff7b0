//! The database/sql side of a `Db`: its callers (requests of the workload,
//! the startup ping, and the plain pool's warmup and keeper, which go
//! through the pool like a request: `db.Conn(ctx)`) through Go's database/sql
//! ([`SqlPool`]): `db.conn` with `db.retry`, the waiters, `putConn`, the
//! connection opener, the cleaner, the request deadlines, and `DB.Close()`.
//!
//! Below it sits the driver: the reservoir's `Open()` (the `database_sql`
//! stack, via [`super::reservoir_side`]) or a physical open (the plain pool,
//! via [`super::opens`]); their outcomes come back as returned values or, for
//! those that end in an event, through the router. When a ping, warmup or
//! keeper caller is done, or a request fails with a lost connection
//! (`driver.ErrBadConn` after every retry, which the handle's `ConvertError`
//! answers with a rebuild), this side records an [`Up`] for the router; it
//! never calls upward.
//!
//! A caller's own open runs under the driver's 30 s deadline, not the
//! caller's (database/sql's connector ignores it): when it completes after
//! the caller's deadline, the caller fails (`deadline`) and the connection
//! goes back to the pool.

use super::config::{FailCause, Stack};
use super::instance::DbState;
use super::opens::{OpenOutcome, Owner};
use super::reservoir_side::{Handoff, ReservoirOpen};
use super::{Ev, Up, World};
use crate::engine::{Scheduler, Time};
use crate::model::conn::{ConnId, Place};
use crate::model::refiller::RefillFailure;
use crate::model::sql_pool::{next_strategy, Acquire, CloseCause, Release};

/// The reservoir waiter tag of database/sql's own opener (not a request).
const OPENER_TAG: u64 = u64::MAX;
/// A request blocked on its handle's lock is in no `Db` yet.
const NO_DB: u32 = u32::MAX;

/// What a database/sql caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReqKind {
    /// A request of the workload.
    User,
    /// The startup `db.Ping()`: one connection, released at once.
    Ping,
    /// One connection of the warmup (held until the warmup is done).
    Warmup,
    /// One creation of the keeper (taken and given back at once).
    Keeper,
}

/// Where a database/sql caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReqState {
    /// The slot is free.
    Free,
    /// Its own open is under way.
    Opening,
    /// Waiting in database/sql's queue.
    Queued,
    /// Blocked on its handle's lock while the handle connects.
    LockWait,
}

/// One database/sql caller, in a slab whose slots are reused.
#[derive(Clone, Copy, Debug)]
pub(super) struct Req {
    pub(super) pool: u32,
    pub(super) db: u32,
    pub(super) kind: ReqKind,
    pub(super) state: ReqState,
    pub(super) arrived: Time,
    pub(super) hold: Time,
    pub(super) deadline: Time,
    /// `db.retry` attempt (0-based).
    pub(super) attempt: u32,
    pub(super) gen: u32,
    pub(super) measured: bool,
}

fn owner_of(tag: u64) -> Owner {
    if tag == OPENER_TAG {
        Owner::Opener
    } else {
        Owner::Req(tag as u32)
    }
}

impl World {
    /// A request of pool `pool` arrives while it serves with `db`.
    pub(super) fn sql_request(
        &mut self,
        pool: u32,
        db: u32,
        hold: Time,
        measured: bool,
        s: &mut Scheduler<Ev>,
    ) {
        let r = self.new_user_req(pool, db, hold, measured, s.now());
        self.sql_acquire(r, s);
    }

    /// A request of pool `pool` arrives while its handle connects: it blocks
    /// on the handle's lock (not on its deadline) until the connect ends
    /// ([`World::lock_released`]).
    pub(super) fn sql_lock_wait(&mut self, pool: u32, hold: Time, measured: bool, now: Time) {
        let r = self.new_user_req(pool, NO_DB, hold, measured, now);
        self.reqs[r as usize].state = ReqState::LockWait;
        self.pools[pool as usize].lock_waiters.push(r);
    }

    /// A request of `pool` fails at once: the handle has no usable database.
    pub(super) fn sql_unavailable(&mut self, pool: u32, measured: bool) {
        if measured {
            let p = &mut self.pools[pool as usize];
            p.counters.failures += 1;
            p.counters.failed[FailCause::Unavailable as usize] += 1;
            p.record(0, None);
        }
    }

    fn new_user_req(&mut self, pool: u32, db: u32, hold: Time, measured: bool, now: Time) -> u32 {
        let p = &mut self.pools[pool as usize];
        let deadline = now.saturating_add(p.request_timeout);
        p.pending += 1;
        self.new_req(pool, db, ReqKind::User, now, hold, deadline, measured)
    }

    /// The handle's connect ended: every request blocked on its lock goes on
    /// with the new `Db`, or fails if there is none. A request whose deadline
    /// passed meanwhile fails at once (`db.conn` checks its context first).
    pub(super) fn lock_released(&mut self, pool: u32, db: Option<u32>, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let mut waiters = std::mem::take(&mut self.pools[pool as usize].lock_waiters);
        for &r in &waiters {
            match db {
                Some(db) if now <= self.reqs[r as usize].deadline => {
                    let rq = &mut self.reqs[r as usize];
                    rq.db = db;
                    rq.state = ReqState::Opening;
                    self.sql_acquire(r, s);
                }
                Some(_) => self.fail_req(r, FailCause::Deadline, s),
                None => self.fail_req(r, FailCause::Unavailable, s),
            }
        }
        waiters.clear();
        // Keep the allocation for the next time.
        let p = &mut self.pools[pool as usize];
        if p.lock_waiters.is_empty() {
            p.lock_waiters = waiters;
        }
    }

    /// A caller of `kind` (ping, warmup or keeper) asks `db` for a
    /// connection, with `deadline`.
    pub(super) fn sql_caller(
        &mut self,
        db: u32,
        kind: ReqKind,
        deadline: Time,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let pool = self.dbs[db as usize].pool;
        let r = self.new_req(pool, db, kind, now, 0, deadline, false);
        self.sql_acquire(r, s);
    }

    /// A request's hold ended (`Ev::HoldEnd`): `putConn`.
    pub(super) fn sql_hold_end(&mut self, db: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        self.put_back(db, id, false, s);
    }

    /// A reservoir `Open()` that database/sql waited on ended.
    pub(super) fn sql_handoff(&mut self, h: Handoff, s: &mut Scheduler<Ev>) {
        let owner = owner_of(h.tag);
        match h.conn {
            Some(conn) => self.sql_conn_ready(h.db, owner, conn, s),
            None => self.sql_conn_failed(h.db, owner, None, s),
        }
    }

    /// A plain pool's physical open for database/sql ended.
    pub(super) fn sql_opened(&mut self, o: OpenOutcome, s: &mut Scheduler<Ev>) {
        match o.result {
            Ok(()) => {
                let conn = self.new_conn(o.db, Time::MAX, o.leased, s);
                self.sql_conn_ready(o.db, o.owner, conn, s);
            }
            Err(why) => self.sql_conn_failed(o.db, o.owner, Some(why), s),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_req(
        &mut self,
        pool: u32,
        db: u32,
        kind: ReqKind,
        arrived: Time,
        hold: Time,
        deadline: Time,
        measured: bool,
    ) -> u32 {
        let mut r = Req {
            pool,
            db,
            kind,
            state: ReqState::Opening,
            arrived,
            hold,
            deadline,
            attempt: 0,
            gen: 0,
            measured,
        };
        match self.free_reqs.pop() {
            Some(id) => {
                r.gen = self.reqs[id as usize].gen.wrapping_add(1);
                self.reqs[id as usize] = r;
                id
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    fn free_req(&mut self, r: u32) {
        self.reqs[r as usize].state = ReqState::Free;
        self.free_reqs.push(r);
    }

    /// `db.conn` with `db.retry`: acquire for request `r` until it has a
    /// connection, waits, opens, or fails.
    fn sql_acquire(&mut self, r: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        loop {
            let req = self.reqs[r as usize];
            let db = req.db;
            if self.dbs[db as usize].state == DbState::Closed {
                // sql: database is closed.
                self.fail_req(r, FailCause::Unavailable, s);
                return;
            }
            let Some(strategy) = next_strategy(req.attempt) else {
                self.fail_req(r, FailCause::NoConnection, s);
                return;
            };
            let d = &mut self.dbs[db as usize];
            match d.sql().acquire(now, r, strategy, &self.conns) {
                Acquire::Got(conn) => {
                    self.conns.get_mut(conn).place = Place::InUse;
                    if !self.deliver(r, conn, s) {
                        continue;
                    }
                    return;
                }
                Acquire::BadConn { conn, opens } => {
                    self.sql_closed(db, conn, CloseCause::Lifetime, s);
                    self.start_opener_opens(db, opens, s);
                    self.reqs[r as usize].attempt += 1;
                }
                Acquire::Open => {
                    self.reqs[r as usize].state = ReqState::Opening;
                    self.sql_connect(db, Owner::Req(r), s);
                    return;
                }
                Acquire::Queued => {
                    let rq = &mut self.reqs[r as usize];
                    rq.state = ReqState::Queued;
                    s.at(rq.deadline.max(now), Ev::Deadline(r, rq.gen));
                    return;
                }
            }
        }
    }

    /// Get a connection for database/sql's `owner`: the reservoir's Open()
    /// (database_sql stack) or a physical open (plain pool).
    fn sql_connect(&mut self, db: u32, owner: Owner, s: &mut Scheduler<Ev>) {
        if self.dbs[db as usize].stack == Stack::Plain {
            if let Some(o) = self.start_open(db, owner, s) {
                self.sql_opened(o, s);
            }
            return;
        }
        let tag = match owner {
            Owner::Req(r) => u64::from(r),
            _ => OPENER_TAG,
        };
        match self.reservoir_open(db, tag, s) {
            ReservoirOpen::Got(id) => self.sql_conn_ready(db, owner, id, s),
            ReservoirOpen::Waiting => {}
            ReservoirOpen::Failed => self.sql_conn_failed(db, owner, None, s),
        }
    }

    /// database/sql's `owner` has a new connection `conn`.
    fn sql_conn_ready(&mut self, db: u32, owner: Owner, conn: ConnId, s: &mut Scheduler<Ev>) {
        let now = s.now();
        if self.dbs[db as usize].state == DbState::Closed {
            // The sql.DB was closed meanwhile: the new connection is closed,
            // and a caller waiting for it gets `sql: database is closed`.
            self.sql_closed(db, conn, CloseCause::Bad, s);
            if let Owner::Req(r) = owner {
                self.fail_req(r, FailCause::Unavailable, s);
            }
            return;
        }
        let d = &mut self.dbs[db as usize];
        match owner {
            Owner::Req(r) => {
                d.sql().open_done();
                self.deliver_or_retry(r, conn, s);
            }
            Owner::Opener => {
                let rel = {
                    let sql = d.sql.as_mut().expect("sql");
                    sql.opener_done(conn, now, &mut d.sql_rng)
                };
                self.apply_release(db, conn, rel, s);
            }
            Owner::Refiller => unreachable!("refiller connections go to the reservoir"),
        }
    }

    /// database/sql's `owner` could not get a connection (`why`: the driver's
    /// failure; None: the reservoir's Open() failed, i.e. `driver.ErrBadConn`).
    fn sql_conn_failed(
        &mut self,
        db: u32,
        owner: Owner,
        why: Option<RefillFailure>,
        s: &mut Scheduler<Ev>,
    ) {
        if self.dbs[db as usize].state == DbState::Closed {
            if let Owner::Req(r) = owner {
                self.fail_req(r, FailCause::Unavailable, s);
            }
            return;
        }
        let d = &mut self.dbs[db as usize];
        match owner {
            Owner::Req(r) => {
                let opens = d.sql().open_failed();
                self.start_opener_opens(db, opens, s);
                self.req_open_failed(r, why, s);
            }
            Owner::Opener => {
                let of = {
                    let sql = d.sql.as_mut().expect("sql");
                    sql.opener_failed(&mut d.sql_rng)
                };
                if let Some(r) = of.failed_waiter {
                    self.req_open_failed(r, why, s);
                }
                self.start_opener_opens(db, of.opens, s);
            }
            Owner::Refiller => unreachable!("refiller failures are handled by the refiller"),
        }
    }

    /// Request `r` received an open's error: `driver.ErrBadConn` (from the
    /// reservoir) is retried; a driver error fails it.
    fn req_open_failed(&mut self, r: u32, why: Option<RefillFailure>, s: &mut Scheduler<Ev>) {
        match why {
            None => {
                self.reqs[r as usize].attempt += 1;
                self.sql_acquire(r, s);
            }
            Some(_) => self.fail_req(r, FailCause::OpenFailed, s),
        }
    }

    fn start_opener_opens(&mut self, db: u32, n: u32, s: &mut Scheduler<Ev>) {
        for _ in 0..n {
            self.sql_connect(db, Owner::Opener, s);
        }
    }

    /// `conn` reached request `r`; if its use fails (server-closed), retry.
    fn deliver_or_retry(&mut self, r: u32, conn: ConnId, s: &mut Scheduler<Ev>) {
        if !self.deliver(r, conn, s) {
            self.sql_acquire(r, s);
        }
    }

    /// Request `r` holds `conn` (database/sql counts it in use). Returns
    /// false if the connection turned out bad (the server closed it): it is
    /// put back bad and the request's attempt advanced; the caller retries.
    fn deliver(&mut self, r: u32, conn: ConnId, s: &mut Scheduler<Ev>) -> bool {
        let now = s.now();
        let req = self.reqs[r as usize];
        let (pool, db) = (req.pool, req.db);
        if self.conns.get(conn).server_closed {
            self.pools[pool as usize].counters.bad_conns += 1;
            self.put_back(db, conn, true, s);
            self.reqs[r as usize].attempt += 1;
            return false;
        }
        self.hold(db);
        if now > req.deadline {
            // Its own open outlived its context: the caller's first use of
            // the connection fails, and the connection goes back to the pool.
            self.unhold(db);
            self.put_back(db, conn, false, s);
            self.fail_req(r, FailCause::Deadline, s);
            return true;
        }
        self.free_req(r);
        match req.kind {
            ReqKind::User => {
                let p = &mut self.pools[pool as usize];
                p.pending -= 1;
                if req.measured {
                    let wait = now - req.arrived;
                    if wait == 0 {
                        p.counters.hits += 1;
                    } else {
                        p.counters.hits_after_wait += 1;
                    }
                    p.record(wait, Some(req.hold));
                }
                s.after(req.hold, Ev::HoldEnd(db, conn));
            }
            ReqKind::Warmup => {
                // Held until the warmup is done.
                self.dbs[db as usize].warmed.push(conn);
                self.caller_done(db, ReqKind::Warmup, true);
            }
            ReqKind::Ping | ReqKind::Keeper => {
                // Ping / SELECT 1, then Conn.Close(): back at once.
                self.unhold(db);
                self.put_back(db, conn, false, s);
                self.caller_done(db, req.kind, true);
            }
        }
        true
    }

    fn caller_done(&mut self, db: u32, kind: ReqKind, ok: bool) {
        self.ups.push(Up::CallerDone { db, kind, ok });
    }

    fn fail_req(&mut self, r: u32, cause: FailCause, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let req = self.reqs[r as usize];
        let pool = req.pool;
        self.free_req(r);
        match req.kind {
            ReqKind::User => {
                let p = &mut self.pools[pool as usize];
                p.pending -= 1;
                if req.measured {
                    p.counters.failures += 1;
                    p.counters.failed[cause as usize] += 1;
                    p.record(now - req.arrived, None);
                }
                if cause == FailCause::NoConnection {
                    // driver.ErrBadConn reached the caller: ConvertError
                    // classifies it as a lost connection.
                    self.ups.push(Up::LostConnection { pool });
                }
            }
            kind => self.caller_done(req.db, kind, false),
        }
    }

    /// A holder puts `conn` back into `db`'s database/sql (`putConn`; `bad`:
    /// `driver.ErrBadConn`), and the world carries out what the pool
    /// decides. A closed `sql.DB` closes it.
    pub(super) fn put_back(&mut self, db: u32, conn: ConnId, bad: bool, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        if d.state == DbState::Closed {
            let cause = if bad {
                CloseCause::Bad
            } else {
                CloseCause::MaxIdle
            };
            self.sql_closed(db, conn, cause, s);
            return;
        }
        let sql = d.sql.as_mut().expect("a database/sql stack");
        let rel = sql.release(conn, now, bad, &self.conns, &mut d.sql_rng);
        self.apply_release(db, conn, rel, s);
    }

    /// Carry out database/sql's decision about `conn`, put back.
    fn apply_release(&mut self, db: u32, conn: ConnId, rel: Release, s: &mut Scheduler<Ev>) {
        match rel {
            Release::Idle => self.conns.get_mut(conn).place = Place::Idle,
            Release::ToWaiter { req, conn } => self.deliver_or_retry(req, conn, s),
            Release::Close { conn, cause, opens } => {
                self.sql_closed(db, conn, cause, s);
                self.start_opener_opens(db, opens, s);
            }
        }
    }

    /// database/sql closed `conn` (its driver connection's `Close`): the
    /// reservoir driver gives it back to the reservoir (a bad one with
    /// lifetime 0, so it is discarded); the plain driver closes it.
    fn sql_closed(&mut self, db: u32, conn: ConnId, cause: CloseCause, s: &mut Scheduler<Ev>) {
        if self.dbs[db as usize].stack == Stack::Plain {
            self.close(conn, s);
            return;
        }
        let c = self.conns.get_mut(conn);
        c.place = Place::InUse;
        if cause == CloseCause::Bad {
            c.lifetime = 0;
        }
        if let Some(h) = self.offer(db, conn, s) {
            self.sql_handoff(h, s);
        }
    }

    /// A waiting caller's deadline (`Ev::Deadline`).
    pub(super) fn deadline(&mut self, r: u32, gen: u32, s: &mut Scheduler<Ev>) {
        let req = self.reqs[r as usize];
        if req.gen != gen || req.state != ReqState::Queued {
            return;
        }
        if self.dbs[req.db as usize].sql().timeout(r) {
            self.fail_req(r, FailCause::Deadline, s);
        }
    }

    /// database/sql's connection cleaner (`Ev::Cleaner`).
    pub(super) fn cleaner(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        if self.dbs[db as usize].state == DbState::Closed {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch_sql);
        out.clear();
        let cleaned = self.dbs[db as usize]
            .sql()
            .clean(now, &self.conns, &mut out);
        for &(id, _) in &out {
            self.close(id, s);
        }
        self.scratch_sql = out;
        self.start_opener_opens(db, cleaned.opens, s);
        s.after(cleaned.next_in, Ev::Cleaner(db));
    }

    /// `DB.Close()`: the free connections are closed (through the driver:
    /// back to the reservoir in reservoir mode), every waiter fails
    /// (`sql: database is closed`), and from now on connections put back
    /// are closed. The keeper and the cleaner stop.
    pub(super) fn close_sql(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let d = &mut self.dbs[db as usize];
        d.state = DbState::Closed;
        d.keeper = None;
        let Some(sql) = d.sql.as_ref() else {
            return;
        };
        let mut ids = std::mem::take(&mut self.scratch_ids);
        ids.clear();
        ids.extend(sql.idle_conns());
        for &id in &ids {
            self.conns.get_mut(id).place = Place::InUse;
            self.sql_closed(db, id, CloseCause::MaxIdle, s);
        }
        ids.clear();
        let waiting: Vec<u32> = self.dbs[db as usize].sql().waiting_requests().to_vec();
        for r in waiting {
            self.fail_req(r, FailCause::Unavailable, s);
        }
        self.scratch_ids = ids;
    }
}
