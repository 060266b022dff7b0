//! The database/sql side of an instance: its callers (requests of the
//! workload, and the plain pool's warmup and keeper, which go through the
//! pool like a request: `db.Conn(ctx)`) through Go's database/sql
//! ([`SqlPool`]): `db.conn` with `db.retry`, the waiters, `putConn`, the
//! connection opener, the cleaner and the request deadlines.
//!
//! Below it sits the driver: the reservoir's `Open()` (the `database_sql`
//! stack, via [`super::reservoir_side`]) or a physical open (the plain pool,
//! via [`super::opens`]); their outcomes come back as returned values or, for
//! those that end in an event, through the router. When a warmup or keeper
//! caller is done, this side records a [`CallerDone`] for the router to hand
//! to [`super::plain`]; it never calls upward.

use super::config::{FailCause, Stack};
use super::opens::{OpenOutcome, Owner};
use super::reservoir_side::{Handoff, ReservoirOpen};
use super::{Ev, World};
use crate::engine::{Scheduler, Time};
use crate::model::conn::{ConnId, Place};
use crate::model::refiller::RefillFailure;
use crate::model::sql_pool::{next_strategy, Acquire, CloseCause, Release};

/// The reservoir waiter tag of database/sql's own opener (not a request).
const OPENER_TAG: u64 = u64::MAX;

/// What a database/sql caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReqKind {
    /// A request of the workload.
    User,
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
}

/// One database/sql caller, in a slab whose slots are reused.
#[derive(Clone, Copy, Debug)]
pub(super) struct Req {
    pub(super) pool: u32,
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

/// A warmup or keeper caller of `pool` is done (`ok`: it got its connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CallerDone {
    pub(super) pool: u32,
    pub(super) kind: ReqKind,
    pub(super) ok: bool,
}

fn owner_of(tag: u64) -> Owner {
    if tag == OPENER_TAG {
        Owner::Opener
    } else {
        Owner::Req(tag as u32)
    }
}

impl World {
    /// A request of a database/sql pool arrives (the pool takes traffic).
    pub(super) fn sql_request(
        &mut self,
        pool: u32,
        hold: Time,
        measured: bool,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let deadline = now.saturating_add(p.request_timeout);
        p.pending += 1;
        let r = self.new_req(pool, ReqKind::User, now, hold, deadline, measured);
        self.sql_acquire(r, s);
    }

    /// A caller of `kind` (warmup or keeper) asks database/sql for a
    /// connection, with `deadline`.
    pub(super) fn sql_caller(
        &mut self,
        pool: u32,
        kind: ReqKind,
        deadline: Time,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let r = self.new_req(pool, kind, now, 0, deadline, false);
        self.sql_acquire(r, s);
    }

    /// A request's hold ended (`Ev::HoldEnd`): `putConn`.
    pub(super) fn sql_hold_end(&mut self, pool: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        self.put_back(pool, id, false, s);
    }

    /// A reservoir `Open()` that database/sql waited on ended.
    pub(super) fn sql_handoff(&mut self, h: Handoff, s: &mut Scheduler<Ev>) {
        let owner = owner_of(h.tag);
        match h.conn {
            Some(conn) => self.sql_conn_ready(h.pool, owner, conn, s),
            None => self.sql_conn_failed(h.pool, owner, None, s),
        }
    }

    /// A plain pool's physical open for database/sql ended.
    pub(super) fn sql_opened(&mut self, o: OpenOutcome, s: &mut Scheduler<Ev>) {
        match o.result {
            Ok(()) => {
                let conn = self.new_conn(o.pool, Time::MAX, s);
                self.sql_conn_ready(o.pool, o.owner, conn, s);
            }
            Err(why) => self.sql_conn_failed(o.pool, o.owner, Some(why), s),
        }
    }

    fn new_req(
        &mut self,
        pool: u32,
        kind: ReqKind,
        arrived: Time,
        hold: Time,
        deadline: Time,
        measured: bool,
    ) -> u32 {
        let mut r = Req {
            pool,
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
            let pool = req.pool;
            let Some(strategy) = next_strategy(req.attempt) else {
                self.fail_req(r, FailCause::NoConnection, s);
                return;
            };
            let p = &mut self.pools[pool as usize];
            match p.sql().acquire(now, r, strategy, &self.conns) {
                Acquire::Got(conn) => {
                    self.conns.get_mut(conn).place = Place::InUse;
                    if !self.deliver(r, conn, s) {
                        continue;
                    }
                    return;
                }
                Acquire::BadConn { conn, opens } => {
                    self.sql_closed(pool, conn, CloseCause::Lifetime, s);
                    self.start_opener_opens(pool, opens, s);
                    self.reqs[r as usize].attempt += 1;
                }
                Acquire::Open => {
                    self.reqs[r as usize].state = ReqState::Opening;
                    self.sql_connect(pool, Owner::Req(r), req.deadline, s);
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
    fn sql_connect(&mut self, pool: u32, owner: Owner, deadline: Time, s: &mut Scheduler<Ev>) {
        if self.pools[pool as usize].stack == Stack::Plain {
            if let Some(o) = self.start_open(pool, owner, deadline, s) {
                self.sql_opened(o, s);
            }
            return;
        }
        let tag = match owner {
            Owner::Req(r) => u64::from(r),
            _ => OPENER_TAG,
        };
        match self.reservoir_open(pool, tag, s) {
            ReservoirOpen::Got(id) => self.sql_conn_ready(pool, owner, id, s),
            ReservoirOpen::Waiting => {}
            ReservoirOpen::Failed => self.sql_conn_failed(pool, owner, None, s),
        }
    }

    /// database/sql's `owner` has a new connection `conn`.
    fn sql_conn_ready(&mut self, pool: u32, owner: Owner, conn: ConnId, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        match owner {
            Owner::Req(r) => {
                p.sql().open_done();
                self.deliver_or_retry(r, conn, s);
            }
            Owner::Opener => {
                let rel = {
                    let sql = p.sql.as_mut().expect("sql");
                    sql.opener_done(conn, now, &mut p.sql_rng)
                };
                self.apply_release(pool, conn, rel, s);
            }
            Owner::Refiller => unreachable!("refiller connections go to the reservoir"),
        }
    }

    /// database/sql's `owner` could not get a connection (`why`: the driver's
    /// failure; None: the reservoir's Open() failed, i.e. `driver.ErrBadConn`).
    fn sql_conn_failed(
        &mut self,
        pool: u32,
        owner: Owner,
        why: Option<RefillFailure>,
        s: &mut Scheduler<Ev>,
    ) {
        let p = &mut self.pools[pool as usize];
        match owner {
            Owner::Req(r) => {
                let opens = p.sql().open_failed();
                self.start_opener_opens(pool, opens, s);
                self.req_open_failed(r, why, s);
            }
            Owner::Opener => {
                let of = {
                    let sql = p.sql.as_mut().expect("sql");
                    sql.opener_failed(&mut p.sql_rng)
                };
                if let Some(r) = of.failed_waiter {
                    self.req_open_failed(r, why, s);
                }
                self.start_opener_opens(pool, of.opens, s);
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

    fn start_opener_opens(&mut self, pool: u32, n: u32, s: &mut Scheduler<Ev>) {
        for _ in 0..n {
            self.sql_connect(pool, Owner::Opener, Time::MAX, s);
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
        let pool = req.pool;
        if self.conns.get(conn).server_closed {
            let p = &mut self.pools[pool as usize];
            p.counters.bad_conns += 1;
            self.put_back(pool, conn, true, s);
            self.reqs[r as usize].attempt += 1;
            return false;
        }
        self.pools[pool as usize].in_use += 1;
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
                s.after(req.hold, Ev::HoldEnd(pool, conn));
            }
            ReqKind::Warmup => {
                // Held until the warmup is done.
                self.pools[pool as usize].warmed.push(conn);
                self.caller_done(pool, ReqKind::Warmup, true);
            }
            ReqKind::Keeper => {
                // SELECT 1, then Conn.Close(): back at once.
                self.pools[pool as usize].in_use -= 1;
                self.put_back(pool, conn, false, s);
                self.caller_done(pool, ReqKind::Keeper, true);
            }
        }
        true
    }

    fn caller_done(&mut self, pool: u32, kind: ReqKind, ok: bool) {
        self.callers_done.push(CallerDone { pool, kind, ok });
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
            }
            kind => self.caller_done(pool, kind, false),
        }
    }

    /// A holder puts `conn` back into database/sql (`putConn`; `bad`:
    /// `driver.ErrBadConn`), and the world carries out what the pool decides.
    pub(super) fn put_back(&mut self, pool: u32, conn: ConnId, bad: bool, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let sql = p.sql.as_mut().expect("a database/sql stack");
        let rel = sql.release(conn, now, bad, &self.conns, &mut p.sql_rng);
        self.apply_release(pool, conn, rel, s);
    }

    /// Carry out database/sql's decision about `conn`, put back.
    fn apply_release(&mut self, pool: u32, conn: ConnId, rel: Release, s: &mut Scheduler<Ev>) {
        match rel {
            Release::Idle => self.conns.get_mut(conn).place = Place::Idle,
            Release::ToWaiter { req, conn } => self.deliver_or_retry(req, conn, s),
            Release::Close { conn, cause, opens } => {
                self.sql_closed(pool, conn, cause, s);
                self.start_opener_opens(pool, opens, s);
            }
        }
    }

    /// database/sql closed `conn` (its driver connection's `Close`): the
    /// reservoir driver gives it back to the reservoir (a bad one with
    /// lifetime 0, so it is discarded); the plain driver closes it.
    fn sql_closed(&mut self, pool: u32, conn: ConnId, cause: CloseCause, s: &mut Scheduler<Ev>) {
        if self.pools[pool as usize].stack == Stack::Plain {
            self.close(conn);
            return;
        }
        let c = self.conns.get_mut(conn);
        c.place = Place::InUse;
        if cause == CloseCause::Bad {
            c.lifetime = 0;
        }
        if let Some(h) = self.offer(pool, conn, s) {
            self.sql_handoff(h, s);
        }
    }

    /// A waiting caller's deadline (`Ev::Deadline`).
    pub(super) fn deadline(&mut self, r: u32, gen: u32, s: &mut Scheduler<Ev>) {
        let req = self.reqs[r as usize];
        if req.gen != gen || req.state != ReqState::Queued {
            return;
        }
        if self.pools[req.pool as usize].sql().timeout(r) {
            self.fail_req(r, FailCause::Deadline, s);
        }
    }

    /// database/sql's connection cleaner (`Ev::Cleaner`).
    pub(super) fn cleaner(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let mut out = std::mem::take(&mut self.scratch_sql);
        out.clear();
        let cleaned = self.pools[pool as usize]
            .sql()
            .clean(now, &self.conns, &mut out);
        for &(id, _) in &out {
            self.close(id);
        }
        self.scratch_sql = out;
        self.start_opener_opens(pool, cleaned.opens, s);
        s.after(cleaned.next_in, Ev::Cleaner(pool));
    }
}
