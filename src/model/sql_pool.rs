//! Go's `database/sql` connection pool (`sql.DB`), as Go implements it
//! (DOMAIN.md section 7).
//!
//! Like the [`reservoir`](crate::model::reservoir), this is a pure state
//! machine: it decides and returns outcomes; the [`world`](crate::model::world)
//! schedules events and carries out the consequences (starting a driver open,
//! closing a connection physically, handing a connection to a request). The
//! pool keeps only [`ConnId`]s; connections live in the world's [`ConnTable`],
//! whose `created_at` the pool reads to decide expiry. The pool never changes a
//! connection's [`Place`](crate::model::conn::Place): the world does.
//!
//! What is modelled, with the Go function it mirrors:
//!
//! - [`SqlPool::acquire`] is `db.conn(ctx, strategy)`. With
//!   [`Strategy::CachedOrNew`] and a free connection, it takes the **most
//!   recently returned** one (LIFO: Go takes `freeConn[len-1]`, "the lowest
//!   idle time connection"); one past `max_lifetime` is closed and the request
//!   gets `driver.ErrBadConn` ([`Acquire::BadConn`]). Otherwise, below
//!   `max_open`, `numOpen` is counted at once ("optimistically") and the
//!   request opens its own connection ([`Acquire::Open`]); at `max_open` it
//!   waits ([`Acquire::Queued`]). [`Strategy::AlwaysNew`] skips the free list.
//! - The waiters are Go's `connRequests` (a map, or a set taken at random in
//!   later Go versions): a connection put back goes to ONE waiting request
//!   chosen uniformly at random, never in FIFO order.
//! - [`SqlPool::release`] is `putConn`: a bad connection, or one past
//!   `max_lifetime`, is closed; else it goes to a random waiter, else to the
//!   free list below `max_idle`, else it is closed (`max_idle`).
//! - Every close decrements `numOpen` and runs `maybeOpenNewConnections`
//!   (Go's `finalClose`): while there are waiters and `numOpen < max_open`,
//!   `numOpen` is incremented and the pool's `connectionOpener` starts an open.
//!   Go counts *all* waiters there, not waiters minus opens already under way,
//!   so it can open more connections than there are waiters; the surplus goes
//!   to the free list. Each outcome that can trigger it carries `opens`: the
//!   number of opener opens the world must start. Their results come back
//!   through [`SqlPool::opener_done`] (`openNewConnection` then
//!   `putConnDBLocked`) and [`SqlPool::opener_failed`] (the error goes to one
//!   random waiter).
//! - A request's own open completes with [`SqlPool::open_done`] (Go returns the
//!   new connection directly to that request) or fails with
//!   [`SqlPool::open_failed`].
//! - [`SqlPool::clean`] is `connectionCleanerRunLocked`: free connections idle
//!   longer than `max_idle_time` (`idle_time`) or past `max_lifetime`
//!   (`lifetime`) are closed. Its period is [`SqlPool::cleaner_period`], and
//!   each run returns Go's next delay (earlier when a free connection will
//!   expire sooner), never below 1 s.
//! - [`next_strategy`] is `db.retry`: on `driver.ErrBadConn` a call is retried
//!   twice preferring cached connections, then once forcing a new one.
//!
//! Expiry is Go's `expired(timeout)`: `createdAt + max_lifetime < now`,
//! strictly, never when `max_lifetime` is 0; idle expiry is
//! `returnedAt + max_idle_time < now`.
//!
//! Simplified (on purpose):
//!
//! - No `Conn.Raw`, statements, transactions, session resets or
//!   `driver.Validator`: a connection turns bad only when the world says so
//!   (`release(.., bad = true, ..)`), which is also the path for a physical
//!   close decided elsewhere (e.g. the server's 60-minute limit found at use).
//! - No context cancellation during an open: an open started for a request that
//!   then times out still completes, and the world puts its connection back
//!   through [`SqlPool::release`] (in Go the request would return the new
//!   connection and its query would fail on the expired context, which also
//!   puts it back).
//! - A waiter that receives a connection does not check it for expiry again:
//!   Go does (for `cachedOrNewConn`), but a handoff is instantaneous here and
//!   the connection was checked at that very instant by `putConn` (or was just
//!   created), so the check could never fire.
//! - `max_open` is at least 1 (Go's 0 = unlimited is not offered). `max_idle`
//!   is taken literally, as Go's `SetMaxIdleConns(n)` does (0 keeps no idle
//!   connection; Go's default of 2 applies only when it is never set; the
//!   scenarios default it to `max_open`); above `max_open` it is reduced to
//!   `max_open`, as Go's `SetMaxOpenConns` does.
//! - Go starts the cleaner at the first put to the free list and stops it when
//!   no connection is open; the world may simply run it every period.
//! - The waiters are a vector taken from by `swap_remove` at a random index,
//!   with an index from request to position, so a deadline removes its request
//!   in O(1) (a plain pool swamped by tens of thousands of waiters stays fast)
//!   and the random choice is the same as a linear scan would give.

use crate::engine::{SimRng, Time, SECOND};
use crate::model::conn::{ConnId, ConnTable};
use rand::Rng;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for request ids (small integers): a multiplicative mix. Only
/// lookups use it; nothing iterates the map, so its order cannot affect a run.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap = HashMap<u32, u32, BuildHasherDefault<IdHasher>>;

/// The cleaner never runs more often than this (Go's `minInterval`).
pub const CLEANER_MIN_INTERVAL: Time = SECOND;

/// How many times a call is retried on `driver.ErrBadConn` with cached
/// connections before forcing a new one (Go's `maxBadConnRetries`).
pub const MAX_BAD_CONN_RETRIES: u32 = 2;

/// Pool settings (Go's `SetMaxOpenConns`, `SetMaxIdleConns`,
/// `SetConnMaxLifetime`, `SetConnMaxIdleTime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlPoolConfig {
    /// MaxOpen: connections open or being opened, at least 1.
    pub max_open: u32,
    /// MaxIdle: free connections kept; reduced to `max_open` if above it.
    pub max_idle: u32,
    /// ConnMaxLifetime, 0 = no limit (production: 55m).
    pub max_lifetime: Time,
    /// ConnMaxIdleTime, 0 = no limit (production: 0).
    pub max_idle_time: Time,
}

/// Go's `connReuseStrategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// `cachedOrNewConn`: a free connection if any, else a new one, else wait.
    CachedOrNew,
    /// `alwaysNewConn`: a new connection, else wait (the free list is skipped).
    AlwaysNew,
}

/// The retry policy of Go's `db.retry`: the strategy of attempt `attempt`
/// (0-based) after the previous ones failed with `driver.ErrBadConn`, or
/// `None` when the call fails with `driver.ErrBadConn`.
pub fn next_strategy(attempt: u32) -> Option<Strategy> {
    match attempt {
        a if a < MAX_BAD_CONN_RETRIES => Some(Strategy::CachedOrNew),
        a if a == MAX_BAD_CONN_RETRIES => Some(Strategy::AlwaysNew),
        _ => None,
    }
}

/// Why the pool closed a connection (Go's `DBStats` counters in parentheses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CloseCause {
    /// Past ConnMaxLifetime: at pick, at put or by the cleaner (`MaxLifetimeClosed`).
    Lifetime = 0,
    /// Idle longer than ConnMaxIdleTime, by the cleaner (`MaxIdleTimeClosed`).
    IdleTime,
    /// Put back while the free list held MaxIdle connections (`MaxIdleClosed`).
    MaxIdle,
    /// Put back bad (`driver.ErrBadConn` during use, or closed elsewhere).
    Bad,
}

impl CloseCause {
    /// Every cause, in a fixed order.
    pub const ALL: [CloseCause; 4] = [
        CloseCause::Lifetime,
        CloseCause::IdleTime,
        CloseCause::MaxIdle,
        CloseCause::Bad,
    ];

    /// A short label for reports.
    pub fn name(self) -> &'static str {
        match self {
            CloseCause::Lifetime => "lifetime",
            CloseCause::IdleTime => "idle_time",
            CloseCause::MaxIdle => "max_idle",
            CloseCause::Bad => "bad",
        }
    }
}

/// Outcome of [`SqlPool::acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// A free connection, now held by the request.
    Got(ConnId),
    /// The picked free connection was past its lifetime: the pool closed it
    /// (the world must close it physically) and the request gets
    /// `driver.ErrBadConn` (apply [`next_strategy`]). The world must start
    /// `opens` opener opens (see [`SqlPool::opener_done`]).
    BadConn {
        /// The expired connection.
        conn: ConnId,
        /// Opener opens to start (`maybeOpenNewConnections`).
        opens: u32,
    },
    /// Counted open: the world starts a driver open for this request, then
    /// calls [`SqlPool::open_done`] or [`SqlPool::open_failed`].
    Open,
    /// At `max_open`: the request waits. The world schedules its deadline and
    /// calls [`SqlPool::timeout`] then.
    Queued,
}

/// Outcome of putting a connection back ([`SqlPool::release`],
/// [`SqlPool::opener_done`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// On the free list.
    Idle,
    /// Handed to the waiting request `req`, which now holds `conn`.
    ToWaiter {
        /// The request, chosen at random among the waiters.
        req: u32,
        /// The connection it receives.
        conn: ConnId,
    },
    /// Closed by the pool: the world closes it physically and starts `opens`
    /// opener opens.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why.
        cause: CloseCause,
        /// Opener opens to start (`maybeOpenNewConnections`).
        opens: u32,
    },
}

/// Outcome of [`SqlPool::opener_failed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenerFailure {
    /// The waiting request that receives the open's error (Go's
    /// `putConnDBLocked(nil, err)`), if any was waiting. It stops waiting; it
    /// fails with the driver's error (retried if that is `driver.ErrBadConn`).
    pub failed_waiter: Option<u32>,
    /// Opener opens to start (`maybeOpenNewConnections`).
    pub opens: u32,
}

/// Outcome of [`SqlPool::clean`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleaned {
    /// Delay until the next run (Go's adaptive delay, at least 1 s).
    pub next_in: Time,
    /// Opener opens to start (`maybeOpenNewConnections`).
    pub opens: u32,
}

/// Counters of the pool (Go's `DBStats` names where there is one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SqlPoolStats {
    /// Opens started: requests' own opens plus opener opens.
    pub opens: u64,
    /// Of which opener opens (`maybeOpenNewConnections`).
    pub opener_opens: u64,
    /// Opens that failed (either kind).
    pub open_failures: u64,
    /// Closes by [`CloseCause`] index.
    pub closes: [u64; 4],
    /// Requests that had to wait (`WaitCount`).
    pub waits: u64,
    /// Requests whose deadline passed while waiting.
    pub wait_timeouts: u64,
    /// Connections handed to a waiter.
    pub handoffs: u64,
}

/// One instance's `sql.DB`.
pub struct SqlPool {
    cfg: SqlPoolConfig,
    /// Free connections with their `returnedAt`, oldest first (Go's
    /// `freeConn`); taken from the end.
    free: Vec<(ConnId, Time)>,
    /// Waiting request ids, unordered (Go's `connRequests`).
    waiters: Vec<u32>,
    /// Position of each waiting request in `waiters`.
    waiter_pos: IdMap,
    num_open: u32,
    in_use: u32,
    opening: u32,
    /// Counters.
    pub stats: SqlPoolStats,
}

impl SqlPool {
    /// A pool with no connection. Refuses `max_open == 0`; reduces `max_idle`
    /// to `max_open`.
    pub fn new(cfg: SqlPoolConfig) -> Result<Self, String> {
        if cfg.max_open == 0 {
            return Err("sql pool: max_open must be at least 1".to_string());
        }
        let cfg = SqlPoolConfig {
            max_idle: cfg.max_idle.min(cfg.max_open),
            ..cfg
        };
        Ok(SqlPool {
            cfg,
            free: Vec::with_capacity(cfg.max_idle as usize),
            waiters: Vec::new(),
            waiter_pos: IdMap::default(),
            num_open: 0,
            in_use: 0,
            opening: 0,
            stats: SqlPoolStats::default(),
        })
    }

    /// The configuration (with `max_idle` already reduced).
    pub fn config(&self) -> &SqlPoolConfig {
        &self.cfg
    }

    /// Go's `numOpen`: open connections plus opens under way.
    #[inline]
    pub fn num_open(&self) -> u32 {
        self.num_open
    }

    /// Free connections.
    #[inline]
    pub fn num_idle(&self) -> u32 {
        self.free.len() as u32
    }

    /// Requests waiting for a connection.
    #[inline]
    pub fn num_waiting(&self) -> u32 {
        self.waiters.len() as u32
    }

    /// Connections held by requests.
    #[inline]
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Opens under way (requests' own and the opener's).
    #[inline]
    pub fn opening(&self) -> u32 {
        self.opening
    }

    /// The free connections, least recently returned first.
    pub fn idle_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.free.iter().map(|&(id, _)| id)
    }

    /// The waiting requests (in no meaningful order).
    pub fn waiting_requests(&self) -> &[u32] {
        &self.waiters
    }

    /// The cleaner's interval: the smaller non-zero of `max_lifetime` and
    /// `max_idle_time`, at least 1 s; `None` when both are 0 (no cleaner).
    pub fn cleaner_period(&self) -> Option<Time> {
        self.shortest_idle_time()
            .map(|d| d.max(CLEANER_MIN_INTERVAL))
    }

    /// Go's `shortestIdleTimeLocked`, `None` for "no limit".
    fn shortest_idle_time(&self) -> Option<Time> {
        match (self.cfg.max_lifetime, self.cfg.max_idle_time) {
            (0, 0) => None,
            (l, 0) => Some(l),
            (0, i) => Some(i),
            (l, i) => Some(l.min(i)),
        }
    }

    /// Go's `expired(maxLifetime)`.
    #[inline]
    fn expired(&self, conns: &ConnTable, id: ConnId, now: Time) -> bool {
        let l = self.cfg.max_lifetime;
        l > 0 && conns.get(id).created_at.saturating_add(l) < now
    }

    /// Go's `maybeOpenNewConnections`: the number of opener opens to start.
    fn maybe_open_new(&mut self) -> u32 {
        let can = self.cfg.max_open.saturating_sub(self.num_open);
        let n = (self.waiters.len() as u32).min(can);
        self.num_open += n;
        self.opening += n;
        self.stats.opens += u64::from(n);
        self.stats.opener_opens += u64::from(n);
        n
    }

    /// A connection the pool closes: `numOpen--`, then `maybeOpenNewConnections`
    /// (Go's `finalClose`). Returns the opener opens to start.
    fn close(&mut self, cause: CloseCause) -> u32 {
        self.stats.closes[cause as usize] += 1;
        self.num_open = self.num_open.saturating_sub(1);
        self.maybe_open_new()
    }

    /// Take a random waiter (Go's `connRequests`: map iteration / `TakeRandom`).
    fn take_random_waiter(&mut self, rng: &mut SimRng) -> Option<u32> {
        match self.waiters.len() {
            0 => None,
            n => Some(self.remove_waiter_at(rng.random_range(0..n))),
        }
    }

    fn push_waiter(&mut self, req: u32) {
        let previous = self.waiter_pos.insert(req, self.waiters.len() as u32);
        debug_assert!(previous.is_none(), "request {req} waits twice");
        self.waiters.push(req);
    }

    /// `swap_remove` at `i`, keeping the positions right.
    fn remove_waiter_at(&mut self, i: usize) -> u32 {
        let req = self.waiters.swap_remove(i);
        self.waiter_pos.remove(&req);
        if let Some(&moved) = self.waiters.get(i) {
            self.waiter_pos.insert(moved, i as u32);
        }
        req
    }

    /// `db.conn(ctx, strategy)` for request `req` at `now`.
    pub fn acquire(
        &mut self,
        now: Time,
        req: u32,
        strategy: Strategy,
        conns: &ConnTable,
    ) -> Acquire {
        if strategy == Strategy::CachedOrNew {
            if let Some((id, _)) = self.free.pop() {
                if self.expired(conns, id, now) {
                    let opens = self.close(CloseCause::Lifetime);
                    return Acquire::BadConn { conn: id, opens };
                }
                self.in_use += 1;
                return Acquire::Got(id);
            }
        }
        if self.num_open >= self.cfg.max_open {
            self.push_waiter(req);
            self.stats.waits += 1;
            return Acquire::Queued;
        }
        self.num_open += 1;
        self.opening += 1;
        self.stats.opens += 1;
        Acquire::Open
    }

    /// The open started for a request ([`Acquire::Open`]) completed: the
    /// request holds the new connection.
    pub fn open_done(&mut self) {
        self.opening = self.opening.saturating_sub(1);
        self.in_use += 1;
    }

    /// The open started for a request failed: `numOpen--`, then
    /// `maybeOpenNewConnections`. Returns the opener opens to start. The
    /// request fails with the driver's error.
    pub fn open_failed(&mut self) -> u32 {
        self.opening = self.opening.saturating_sub(1);
        self.stats.open_failures += 1;
        self.num_open = self.num_open.saturating_sub(1);
        self.maybe_open_new()
    }

    /// An opener open completed with `conn` at `now` (`openNewConnection` then
    /// `putConnDBLocked`): to a random waiter, else the free list, else closed
    /// (`max_idle`, without `maybeOpenNewConnections`, as Go does).
    pub fn opener_done(&mut self, conn: ConnId, now: Time, rng: &mut SimRng) -> Release {
        self.opening = self.opening.saturating_sub(1);
        self.put_conn_locked(conn, now, rng, false)
    }

    /// Go's `putConnDBLocked` and what its caller does when it fails: hand
    /// `conn` to a random waiter, else put it on the free list below
    /// `max_idle`, else close it (`max_idle`). `putConn` then runs
    /// `maybeOpenNewConnections` (`reopen`); `openNewConnection` only
    /// decrements `numOpen`.
    fn put_conn_locked(
        &mut self,
        conn: ConnId,
        now: Time,
        rng: &mut SimRng,
        reopen: bool,
    ) -> Release {
        if let Some(req) = self.take_random_waiter(rng) {
            self.in_use += 1;
            self.stats.handoffs += 1;
            return Release::ToWaiter { req, conn };
        }
        if self.free.len() < self.cfg.max_idle as usize {
            self.free.push((conn, now));
            return Release::Idle;
        }
        let opens = if reopen {
            self.close(CloseCause::MaxIdle)
        } else {
            self.stats.closes[CloseCause::MaxIdle as usize] += 1;
            self.num_open = self.num_open.saturating_sub(1);
            0
        };
        Release::Close {
            conn,
            cause: CloseCause::MaxIdle,
            opens,
        }
    }

    /// An opener open failed: `numOpen--`, the error goes to one random waiter,
    /// then `maybeOpenNewConnections`.
    pub fn opener_failed(&mut self, rng: &mut SimRng) -> OpenerFailure {
        self.opening = self.opening.saturating_sub(1);
        self.stats.open_failures += 1;
        self.num_open = self.num_open.saturating_sub(1);
        let failed_waiter = self.take_random_waiter(rng);
        let opens = self.maybe_open_new();
        OpenerFailure {
            failed_waiter,
            opens,
        }
    }

    /// `putConn`: a request puts back the connection it held, at `now`.
    /// `bad` = `driver.ErrBadConn` during use (or a physical close decided
    /// elsewhere).
    pub fn release(
        &mut self,
        conn: ConnId,
        now: Time,
        bad: bool,
        conns: &ConnTable,
        rng: &mut SimRng,
    ) -> Release {
        debug_assert!(self.in_use > 0, "release of {conn} with nothing in use");
        self.in_use = self.in_use.saturating_sub(1);
        let cause = if bad {
            Some(CloseCause::Bad)
        } else if self.expired(conns, conn, now) {
            Some(CloseCause::Lifetime)
        } else {
            None
        };
        if let Some(cause) = cause {
            let opens = self.close(cause);
            return Release::Close { conn, cause, opens };
        }
        self.put_conn_locked(conn, now, rng, true)
    }

    /// The deadline of `req` passed: remove it from the waiters. `true` if it
    /// was waiting (it fails with the context's error), `false` if it had
    /// already been served or failed.
    pub fn timeout(&mut self, req: u32) -> bool {
        match self.waiter_pos.get(&req) {
            Some(&i) => {
                self.remove_waiter_at(i as usize);
                self.stats.wait_timeouts += 1;
                true
            }
            None => false,
        }
    }

    /// One run of the connection cleaner at `now`: closes free connections idle
    /// longer than `max_idle_time`, then those past `max_lifetime`, appending
    /// them to `out` (the world closes them physically). Keeps the free list's
    /// order. Returns the delay until the next run and the opener opens to
    /// start.
    pub fn clean(
        &mut self,
        now: Time,
        conns: &ConnTable,
        out: &mut Vec<(ConnId, CloseCause)>,
    ) -> Cleaned {
        let Some(mut d) = self.shortest_idle_time() else {
            return Cleaned {
                next_in: CLEANER_MIN_INTERVAL,
                opens: 0,
            };
        };
        let before = out.len();
        let idle_limit = self.cfg.max_idle_time;
        if idle_limit > 0 {
            self.free.retain(|&(id, returned_at)| {
                if returned_at.saturating_add(idle_limit) < now {
                    out.push((id, CloseCause::IdleTime));
                    false
                } else {
                    true
                }
            });
            if let Some(&(_, returned_at)) = self.free.first() {
                d = d.min(returned_at.saturating_add(idle_limit).saturating_sub(now));
            }
        }
        let lifetime = self.cfg.max_lifetime;
        if lifetime > 0 {
            self.free.retain(|&(id, _)| {
                let ends = conns.get(id).created_at.saturating_add(lifetime);
                if ends < now {
                    out.push((id, CloseCause::Lifetime));
                    false
                } else {
                    d = d.min(ends - now);
                    true
                }
            });
        }
        let mut opens = 0;
        for &(_, cause) in &out[before..] {
            opens += self.close(cause);
        }
        Cleaned {
            next_in: d.max(CLEANER_MIN_INTERVAL),
            opens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, StreamId, MINUTE};
    use crate::model::conn::Place;
    use proptest::prelude::{
        any, prop, prop_assert, prop_assert_eq, prop_assert_ne, prop_oneof, proptest, Just,
        TestCaseError,
    };
    use proptest::strategy::Strategy as _;

    fn rng(seed: u64) -> SimRng {
        RngStreams::new(seed).stream(StreamId::new(9, 0, 0))
    }

    fn cfg(max_open: u32, max_idle: u32) -> SqlPoolConfig {
        SqlPoolConfig {
            max_open,
            max_idle,
            max_lifetime: 55 * MINUTE,
            max_idle_time: 0,
        }
    }

    /// Open a connection for request `req` through the pool: acquire, then the
    /// open completes at `now`.
    fn open_one(p: &mut SqlPool, t: &mut ConnTable, req: u32, now: Time) -> ConnId {
        assert_eq!(p.acquire(now, req, Strategy::CachedOrNew, t), Acquire::Open);
        p.open_done();
        t.open(0, now, Time::MAX, Place::InUse)
    }

    #[test]
    fn new_validates_and_reduces_max_idle() {
        assert!(SqlPool::new(cfg(0, 0)).is_err());
        let p = SqlPool::new(cfg(5, 50)).unwrap();
        assert_eq!(p.config().max_idle, 5);
        let p = SqlPool::new(cfg(5, 0)).unwrap();
        assert_eq!(p.config().max_idle, 0);
    }

    #[test]
    fn pick_is_lifo() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(cfg(3, 3)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        let b = open_one(&mut p, &mut t, 2, 0);
        let c = open_one(&mut p, &mut t, 3, 0);
        for (id, at) in [(a, 10), (b, 20), (c, 30)] {
            assert_eq!(p.release(id, at, false, &t, &mut r), Release::Idle);
        }
        assert_eq!(p.idle_conns().collect::<Vec<_>>(), vec![a, b, c]);
        assert_eq!(p.acquire(40, 4, Strategy::CachedOrNew, &t), Acquire::Got(c));
        assert_eq!(p.acquire(40, 5, Strategy::CachedOrNew, &t), Acquire::Got(b));
        assert_eq!(p.release(c, 50, false, &t, &mut r), Release::Idle);
        assert_eq!(p.acquire(60, 6, Strategy::CachedOrNew, &t), Acquire::Got(c));
        assert_eq!((p.num_open(), p.num_idle(), p.in_use()), (3, 1, 2));
    }

    #[test]
    fn expired_pick_is_bad_conn_and_the_count_drops() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(cfg(2, 2)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        assert_eq!(p.release(a, 0, false, &t, &mut r), Release::Idle);
        // createdAt + lifetime == now is not yet expired (strictly before).
        assert_eq!(
            p.acquire(55 * MINUTE, 2, Strategy::CachedOrNew, &t),
            Acquire::Got(a)
        );
        assert_eq!(p.release(a, 55 * MINUTE, false, &t, &mut r), Release::Idle);
        assert_eq!(
            p.acquire(55 * MINUTE + 1, 3, Strategy::CachedOrNew, &t),
            Acquire::BadConn { conn: a, opens: 0 }
        );
        assert_eq!((p.num_open(), p.num_idle(), p.in_use()), (0, 0, 0));
        assert_eq!(p.stats.closes[CloseCause::Lifetime as usize], 1);
        // The retry opens a new one.
        assert_eq!(
            p.acquire(55 * MINUTE + 1, 3, Strategy::CachedOrNew, &t),
            Acquire::Open
        );
    }

    #[test]
    fn no_lifetime_limit_never_expires() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(SqlPoolConfig {
            max_lifetime: 0,
            ..cfg(1, 1)
        })
        .unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        assert_eq!(
            p.release(a, Time::MAX - 1, false, &t, &mut r),
            Release::Idle
        );
        assert_eq!(
            p.acquire(Time::MAX, 2, Strategy::CachedOrNew, &t),
            Acquire::Got(a)
        );
        assert_eq!(p.cleaner_period(), None);
    }

    #[test]
    fn at_max_open_requests_queue() {
        let mut t = ConnTable::default();
        let mut p = SqlPool::new(cfg(2, 2)).unwrap();
        assert_eq!(p.acquire(0, 1, Strategy::CachedOrNew, &t), Acquire::Open);
        assert_eq!(p.acquire(0, 2, Strategy::CachedOrNew, &t), Acquire::Open);
        assert_eq!(
            p.num_open(),
            2,
            "counted at once, before the opens complete"
        );
        assert_eq!(p.acquire(0, 3, Strategy::CachedOrNew, &t), Acquire::Queued);
        assert_eq!(p.acquire(0, 4, Strategy::AlwaysNew, &t), Acquire::Queued);
        assert_eq!((p.num_waiting(), p.stats.waits, p.opening()), (2, 2, 2));
        assert!(p.timeout(3));
        assert!(!p.timeout(3));
        assert_eq!((p.num_waiting(), p.stats.wait_timeouts), (1, 1));
        p.open_done();
        let _ = t.open(0, 0, Time::MAX, Place::InUse);
        assert_eq!((p.opening(), p.in_use()), (1, 1));
    }

    #[test]
    fn always_new_skips_the_free_list() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(cfg(2, 2)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        assert_eq!(p.release(a, 0, false, &t, &mut r), Release::Idle);
        assert_eq!(p.acquire(1, 2, Strategy::AlwaysNew, &t), Acquire::Open);
        // At max_open with a free connection: AlwaysNew still waits.
        assert_eq!(p.acquire(1, 3, Strategy::AlwaysNew, &t), Acquire::Queued);
        assert_eq!(p.num_idle(), 1);
    }

    #[test]
    fn release_goes_to_a_random_waiter_not_fifo() {
        const WAITERS: u32 = 5;
        let mut r = rng(7);
        let mut firsts = [0u32; WAITERS as usize];
        let mut fifo_runs = 0;
        for _ in 0..400 {
            let mut t = ConnTable::default();
            let mut p = SqlPool::new(cfg(1, 1)).unwrap();
            let c = open_one(&mut p, &mut t, 100, 0);
            for req in 0..WAITERS {
                assert_eq!(
                    p.acquire(0, req, Strategy::CachedOrNew, &t),
                    Acquire::Queued
                );
            }
            let mut order = Vec::new();
            for _ in 0..WAITERS {
                match p.release(c, 1, false, &t, &mut r) {
                    Release::ToWaiter { req, conn } => {
                        assert_eq!(conn, c);
                        order.push(req);
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(p.num_waiting(), 0);
            firsts[order[0] as usize] += 1;
            if order == (0..WAITERS).collect::<Vec<_>>() {
                fifo_runs += 1;
            }
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..WAITERS).collect::<Vec<_>>());
            assert_eq!(p.stats.handoffs, u64::from(WAITERS));
        }
        // Every waiter is picked first sometimes (uniform: ~80 each of 400).
        assert!(firsts.iter().all(|&n| n > 40), "{firsts:?}");
        // FIFO order has probability 1/120 per run.
        assert!(fifo_runs < 20, "{fifo_runs}");
    }

    #[test]
    fn release_to_idle_below_max_idle_and_close_above() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(cfg(3, 1)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        let b = open_one(&mut p, &mut t, 2, 0);
        assert_eq!(p.release(a, 1, false, &t, &mut r), Release::Idle);
        assert_eq!(
            p.release(b, 2, false, &t, &mut r),
            Release::Close {
                conn: b,
                cause: CloseCause::MaxIdle,
                opens: 0
            }
        );
        assert_eq!((p.num_open(), p.num_idle()), (1, 1));
        assert_eq!(p.stats.closes[CloseCause::MaxIdle as usize], 1);
    }

    #[test]
    fn release_closes_bad_and_expired() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(cfg(3, 3)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        let b = open_one(&mut p, &mut t, 2, 0);
        assert_eq!(
            p.release(a, 1, true, &t, &mut r),
            Release::Close {
                conn: a,
                cause: CloseCause::Bad,
                opens: 0
            }
        );
        assert_eq!(
            p.release(b, 56 * MINUTE, false, &t, &mut r),
            Release::Close {
                conn: b,
                cause: CloseCause::Lifetime,
                opens: 0
            }
        );
        assert_eq!(p.num_open(), 0);
        assert_eq!(p.stats.closes, [1, 0, 0, 1]);
    }

    #[test]
    fn bad_release_and_open_failure_open_for_waiters() {
        let mut t = ConnTable::default();
        let mut r = rng(3);
        let mut p = SqlPool::new(cfg(2, 2)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        assert_eq!(p.acquire(0, 2, Strategy::CachedOrNew, &t), Acquire::Open);
        for req in 10..13 {
            assert_eq!(
                p.acquire(0, req, Strategy::CachedOrNew, &t),
                Acquire::Queued
            );
        }
        // The request's own open fails: one slot frees, one opener open.
        assert_eq!(p.open_failed(), 1);
        assert_eq!((p.num_open(), p.opening(), p.stats.opener_opens), (2, 1, 1));
        // A bad connection comes back: closed, another opener open.
        assert_eq!(
            p.release(a, 1, true, &t, &mut r),
            Release::Close {
                conn: a,
                cause: CloseCause::Bad,
                opens: 1
            }
        );
        assert_eq!((p.num_open(), p.opening(), p.in_use()), (2, 2, 0));
        // One opener open completes: it goes to a waiter.
        let c = t.open(0, 2, Time::MAX, Place::InUse);
        match p.opener_done(c, 2, &mut r) {
            Release::ToWaiter { req, conn } => {
                assert!((10..13).contains(&req));
                assert_eq!(conn, c);
            }
            other => panic!("{other:?}"),
        }
        // The other fails: its error goes to a waiter and it is retried.
        let f = p.opener_failed(&mut r);
        assert!(f.failed_waiter.is_some_and(|w| (10..13).contains(&w)));
        // One waiter is left: the freed slot is opened again for it.
        assert_eq!(f.opens, 1);
        assert_eq!((p.num_waiting(), p.num_open(), p.opening()), (1, 2, 1));
    }

    #[test]
    fn maybe_open_new_counts_all_waiters_as_go_does() {
        let mut t = ConnTable::default();
        let mut r = rng(3);
        let mut p = SqlPool::new(cfg(3, 3)).unwrap();
        let conns: Vec<_> = (0..3).map(|i| open_one(&mut p, &mut t, i, 0)).collect();
        assert_eq!(p.acquire(0, 10, Strategy::CachedOrNew, &t), Acquire::Queued);
        // Two bad releases with one waiter: Go opens twice (it does not subtract
        // the open already under way).
        for (k, &c) in conns[..2].iter().enumerate() {
            assert_eq!(
                p.release(c, 1, true, &t, &mut r),
                Release::Close {
                    conn: c,
                    cause: CloseCause::Bad,
                    opens: 1
                },
                "{k}"
            );
        }
        assert_eq!((p.num_open(), p.opening()), (3, 2));
        let n1 = t.open(0, 2, Time::MAX, Place::InUse);
        assert_eq!(
            p.opener_done(n1, 2, &mut r),
            Release::ToWaiter { req: 10, conn: n1 }
        );
        let n2 = t.open(0, 2, Time::MAX, Place::InUse);
        assert_eq!(p.opener_done(n2, 2, &mut r), Release::Idle);
    }

    #[test]
    fn opener_surplus_above_max_idle_is_closed() {
        let mut t = ConnTable::default();
        let mut r = rng(3);
        let mut p = SqlPool::new(cfg(2, 0)).unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        let _b = open_one(&mut p, &mut t, 2, 0);
        assert_eq!(p.acquire(0, 3, Strategy::CachedOrNew, &t), Acquire::Queued);
        assert!(p.timeout(3));
        assert_eq!(p.acquire(0, 4, Strategy::CachedOrNew, &t), Acquire::Queued);
        assert!(matches!(
            p.release(a, 1, true, &t, &mut r),
            Release::Close { opens: 1, .. }
        ));
        assert!(p.timeout(4));
        let n = t.open(0, 2, Time::MAX, Place::InUse);
        assert_eq!(
            p.opener_done(n, 2, &mut r),
            Release::Close {
                conn: n,
                cause: CloseCause::MaxIdle,
                opens: 0
            }
        );
        assert_eq!((p.num_open(), p.opening(), p.in_use()), (1, 0, 1));
    }

    #[test]
    fn cleaner_closes_expired_and_idle_free_connections() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(SqlPoolConfig {
            max_open: 4,
            max_idle: 4,
            max_lifetime: 10 * MINUTE,
            max_idle_time: 3 * MINUTE,
        })
        .unwrap();
        let old = open_one(&mut p, &mut t, 1, 0); // created at 0
        let idle = open_one(&mut p, &mut t, 2, 5 * MINUTE);
        let fresh = open_one(&mut p, &mut t, 3, 8 * MINUTE);
        let held = open_one(&mut p, &mut t, 4, 0);
        p.release(idle, 6 * MINUTE, false, &t, &mut r);
        p.release(old, 9 * MINUTE, false, &t, &mut r);
        p.release(fresh, 9 * MINUTE + 30 * SECOND, false, &t, &mut r);
        let mut out = Vec::new();
        let now = 10 * MINUTE + SECOND;
        let c = p.clean(now, &t, &mut out);
        assert_eq!(
            out,
            vec![(idle, CloseCause::IdleTime), (old, CloseCause::Lifetime)]
        );
        assert_eq!(p.idle_conns().collect::<Vec<_>>(), vec![fresh]);
        assert_eq!((p.num_open(), p.in_use()), (2, 1));
        assert_eq!(p.stats.closes, [1, 1, 0, 0]);
        assert_eq!(c.opens, 0);
        // Next run, as Go computes it: from the oldest free connection left by
        // the idle pass (`old`, idle until 9m + 3m = 12m), although the
        // lifetime pass then closes it: 1m59s from now.
        assert_eq!(c.next_in, MINUTE + 59 * SECOND);
        // The held connection is not the cleaner's business.
        assert!(p.idle_conns().all(|id| id != held));
    }

    #[test]
    fn cleaner_period_is_the_smaller_nonzero_limit_at_least_1s() {
        let p = |l, i| {
            SqlPool::new(SqlPoolConfig {
                max_lifetime: l,
                max_idle_time: i,
                ..cfg(1, 1)
            })
            .unwrap()
            .cleaner_period()
        };
        assert_eq!(p(0, 0), None);
        assert_eq!(p(55 * MINUTE, 0), Some(55 * MINUTE));
        assert_eq!(p(0, 5 * MINUTE), Some(5 * MINUTE));
        assert_eq!(p(55 * MINUTE, 5 * MINUTE), Some(5 * MINUTE));
        assert_eq!(p(10 * MINUTE, 30 * MINUTE), Some(10 * MINUTE));
        assert_eq!(p(100, 0), Some(SECOND));
        // Next delay never below 1 s either.
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut pool = SqlPool::new(SqlPoolConfig {
            max_lifetime: 2 * SECOND,
            ..cfg(1, 1)
        })
        .unwrap();
        let a = open_one(&mut pool, &mut t, 1, 0);
        pool.release(a, 0, false, &t, &mut r);
        let c = pool.clean(2 * SECOND - 1, &t, &mut Vec::new());
        assert_eq!(c.next_in, SECOND);
    }

    #[test]
    fn cleaner_close_opens_for_an_always_new_waiter() {
        let mut t = ConnTable::default();
        let mut r = rng(1);
        let mut p = SqlPool::new(SqlPoolConfig {
            max_lifetime: MINUTE,
            ..cfg(1, 1)
        })
        .unwrap();
        let a = open_one(&mut p, &mut t, 1, 0);
        p.release(a, 0, false, &t, &mut r);
        assert_eq!(p.acquire(1, 2, Strategy::AlwaysNew, &t), Acquire::Queued);
        let mut out = Vec::new();
        let c = p.clean(2 * MINUTE, &t, &mut out);
        assert_eq!(out, vec![(a, CloseCause::Lifetime)]);
        assert_eq!(c.opens, 1);
        assert_eq!((p.num_open(), p.opening()), (1, 1));
    }

    #[test]
    fn retry_strategies_two_cached_then_one_new() {
        assert_eq!(next_strategy(0), Some(Strategy::CachedOrNew));
        assert_eq!(next_strategy(1), Some(Strategy::CachedOrNew));
        assert_eq!(next_strategy(2), Some(Strategy::AlwaysNew));
        assert_eq!(next_strategy(3), None);
        assert_eq!(next_strategy(u32::MAX), None);
    }

    #[test]
    fn close_cause_names() {
        let names: Vec<_> = CloseCause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["lifetime", "idle_time", "max_idle", "bad"]);
        for (i, c) in CloseCause::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
    }

    /// The waiters as they were kept before the position index (a linear
    /// scan on timeout): the order, and so every random choice, must match.
    #[derive(Default)]
    struct ScanWaiters(Vec<u32>);

    impl ScanWaiters {
        fn timeout(&mut self, req: u32) -> bool {
            match self.0.iter().position(|&r| r == req) {
                Some(i) => {
                    self.0.swap_remove(i);
                    true
                }
                None => false,
            }
        }
        fn take(&mut self, rng: &mut SimRng) -> Option<u32> {
            match self.0.len() {
                0 => None,
                n => Some(self.0.swap_remove(rng.random_range(0..n))),
            }
        }
    }

    proptest! {
        #[test]
        fn prop_indexed_waiters_match_the_linear_scan(
            ops in prop::collection::vec((0u8..3, 0u32..40), 1..400),
            seed in any::<u64>(),
        ) {
            let mut p = SqlPool::new(cfg(1, 1)).unwrap();
            let mut reference = ScanWaiters::default();
            let (mut r1, mut r2) = (rng(seed), rng(seed));
            let mut next = 0u32;
            for (kind, x) in ops {
                match kind {
                    0 => {
                        p.push_waiter(next);
                        reference.0.push(next);
                        next += 1;
                    }
                    1 => prop_assert_eq!(p.timeout(x), reference.timeout(x)),
                    _ => prop_assert_eq!(p.take_random_waiter(&mut r1), reference.take(&mut r2)),
                }
                prop_assert_eq!(p.waiting_requests(), &reference.0[..]);
                prop_assert_eq!(p.waiter_pos.len(), reference.0.len());
            }
        }
    }

    /// One step of the random-operations property test.
    #[derive(Clone, Debug)]
    enum Op {
        Acquire(bool),
        ReqOpen(bool),
        OpenerOpen(bool),
        Release { pick: usize, bad: bool },
        Timeout(usize),
        Clean,
        Advance(Time),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        prop_oneof![
            4 => any::<bool>().prop_map(Op::Acquire),
            2 => any::<bool>().prop_map(Op::ReqOpen),
            2 => any::<bool>().prop_map(Op::OpenerOpen),
            4 => (any::<usize>(), prop::bool::weighted(0.2))
                .prop_map(|(pick, bad)| Op::Release { pick, bad }),
            1 => any::<usize>().prop_map(Op::Timeout),
            1 => Just(Op::Clean),
            2 => (0..3 * MINUTE).prop_map(Op::Advance),
        ]
    }

    /// The test's model of the world around the pool.
    struct World {
        t: ConnTable,
        held: Vec<ConnId>,
        req_opens: Vec<u32>,
        opener_opens: u32,
        waiting: Vec<u32>,
        next_req: u32,
        now: Time,
    }

    impl World {
        fn close(&mut self, id: ConnId) {
            assert_ne!(self.t.get(id).place, Place::Closed);
            self.t.close(id);
        }

        fn handle_release(&mut self, rel: Release) {
            match rel {
                Release::Idle => {}
                Release::ToWaiter { req, conn } => {
                    let i = self.waiting.iter().position(|&r| r == req).unwrap();
                    self.waiting.swap_remove(i);
                    self.t.get_mut(conn).place = Place::InUse;
                    self.held.push(conn);
                }
                Release::Close { conn, opens, .. } => {
                    self.close(conn);
                    self.opener_opens += opens;
                }
            }
        }
    }

    fn check(p: &SqlPool, w: &World, max_open: u32) -> Result<(), TestCaseError> {
        let idle: Vec<ConnId> = p.idle_conns().collect();
        prop_assert_eq!(p.num_idle() as usize, idle.len());
        prop_assert_eq!(p.in_use() as usize, w.held.len());
        prop_assert_eq!(p.opening(), w.req_opens.len() as u32 + w.opener_opens);
        prop_assert_eq!(
            p.num_open() as usize,
            idle.len() + w.held.len() + p.opening() as usize
        );
        prop_assert!(p.num_open() <= max_open);
        prop_assert!(idle.len() <= p.config().max_idle as usize);
        // Go's invariant: nobody waits while a slot is free.
        prop_assert!(p.num_waiting() == 0 || p.num_open() == max_open);
        let mut pw = p.waiting_requests().to_vec();
        let mut ww = w.waiting.clone();
        pw.sort_unstable();
        ww.sort_unstable();
        prop_assert_eq!(pw, ww);
        // Every live connection is in exactly one place.
        prop_assert_eq!(w.t.live(), idle.len() + w.held.len());
        let mut all: Vec<ConnId> = idle.iter().chain(w.held.iter()).copied().collect();
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        prop_assert_eq!(before, all.len(), "a connection in two places");
        for &id in &all {
            prop_assert_ne!(w.t.get(id).place, Place::Closed);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn prop_pool_accounting(
            max_open in 1u32..6,
            max_idle in 0u32..8,
            lifetime_min in 0u64..12,
            idle_min in 0u64..12,
            seed in any::<u64>(),
            ops in prop::collection::vec(op(), 1..200),
        ) {
            let mut p = SqlPool::new(SqlPoolConfig {
                max_open,
                max_idle,
                max_lifetime: lifetime_min * MINUTE,
                max_idle_time: idle_min * MINUTE,
            }).unwrap();
            let mut r = rng(seed);
            let mut w = World {
                t: ConnTable::default(),
                held: vec![],
                req_opens: vec![],
                opener_opens: 0,
                waiting: vec![],
                next_req: 0,
                now: 0,
            };
            let mut out = Vec::new();
            for op in ops {
                match op {
                    Op::Acquire(always_new) => {
                        let req = w.next_req;
                        w.next_req += 1;
                        let s = if always_new { Strategy::AlwaysNew } else { Strategy::CachedOrNew };
                        match p.acquire(w.now, req, s, &w.t) {
                            Acquire::Got(c) => {
                                prop_assert_eq!(w.t.get(c).place, Place::Ready);
                                w.t.get_mut(c).place = Place::InUse;
                                w.held.push(c);
                            }
                            Acquire::BadConn { conn, opens } => {
                                w.close(conn);
                                w.opener_opens += opens;
                            }
                            Acquire::Open => w.req_opens.push(req),
                            Acquire::Queued => w.waiting.push(req),
                        }
                    }
                    Op::ReqOpen(ok) => {
                        if w.req_opens.pop().is_some() {
                            if ok {
                                p.open_done();
                                let c = w.t.open(0, w.now, Time::MAX, Place::InUse);
                                w.held.push(c);
                            } else {
                                w.opener_opens += p.open_failed();
                            }
                        }
                    }
                    Op::OpenerOpen(ok) => {
                        if w.opener_opens > 0 {
                            w.opener_opens -= 1;
                            if ok {
                                let c = w.t.open(0, w.now, Time::MAX, Place::Ready);
                                let rel = p.opener_done(c, w.now, &mut r);
                                w.handle_release(rel);
                            } else {
                                let f = p.opener_failed(&mut r);
                                if let Some(req) = f.failed_waiter {
                                    let i = w.waiting.iter().position(|&x| x == req).unwrap();
                                    w.waiting.swap_remove(i);
                                }
                                w.opener_opens += f.opens;
                            }
                        }
                    }
                    Op::Release { pick, bad } => {
                        if !w.held.is_empty() {
                            let c = w.held.swap_remove(pick % w.held.len());
                            w.t.get_mut(c).place = Place::Ready;
                            let rel = p.release(c, w.now, bad, &w.t, &mut r);
                            w.handle_release(rel);
                        }
                    }
                    Op::Timeout(pick) => {
                        if !w.waiting.is_empty() {
                            let req = w.waiting.swap_remove(pick % w.waiting.len());
                            prop_assert!(p.timeout(req));
                        }
                        prop_assert!(!p.timeout(u32::MAX));
                    }
                    Op::Clean => {
                        out.clear();
                        let c = p.clean(w.now, &w.t, &mut out);
                        prop_assert!(c.next_in >= SECOND);
                        for &(id, cause) in &out {
                            prop_assert!(matches!(cause, CloseCause::Lifetime | CloseCause::IdleTime));
                            w.close(id);
                        }
                        w.opener_opens += c.opens;
                    }
                    Op::Advance(d) => w.now += d,
                }
                check(&p, &w, max_open)?;
            }
            let s = p.stats;
            let closes: u64 = s.closes.iter().sum();
            prop_assert_eq!(
                s.opens,
                u64::from(p.num_open()) + closes + s.open_failures
            );
        }
    }
}
