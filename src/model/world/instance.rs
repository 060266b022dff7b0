//! The state of the world's parts, and their construction: a [`Process`] (a
//! service instance), a [`Pool`] (one `DatabaseHandle` of a process: a row of
//! the reports) and a [`Db`] (one `sql.DB` a handle built, with its reservoir
//! and refiller in reservoir mode). A handle builds a new `Db` at startup and
//! at every rebuild; an old one may live on (its refiller is never stopped).
//! Plain data; the behaviour lives in the files of the world that drive it.
//!
//! Random streams: a process draws its startup stagger from
//! `(DRIVER, first pool, 0)`, its DynamoDB calls from `(PROCESS, process, 0)`
//! and its per-second limiter's jitter from `(LIMITER, process, 0)`; a pool's
//! arrivals, holds, connect latencies and token failures come from its own
//! streams; generation `g` of a pool's `Db` draws its lifetimes, database/sql
//! waiter choices and warmup jitter from purpose `g` of the pool's
//! `REFILLER`, `SQL_POOL` and `WARMUP` streams.

use super::config::{PoolConfig, ProcessConfig, ProcessLimiter, Stack};
use super::observations::PoolCounters;
use crate::engine::{RngStreams, SimRng, StreamId, Time, SECOND};
use crate::model::conn::ConnId;
use crate::model::driver::{self, Driver};
use crate::model::keeper::Keeper;
use crate::model::limiter::TokenBucket;
use crate::model::refiller::Refiller;
use crate::model::reservoir::Reservoir;
use crate::model::sql_pool::{SqlPool, SqlPoolConfig};
use crate::model::stream_kind;
use crate::model::workload::Workload;
use hdrhistogram::Histogram;

// Purposes of the per-pool random streams.
const P_ARRIVALS: u16 = 0;
const P_HOLDS: u16 = 1;
const P_STARTUP: u16 = 0;
const P_DRIVER: u16 = 1;

/// One process: a service instance running the plugin once, with one
/// limiter and one staggered startup for all its pools.
pub(super) struct Process {
    /// Its pools are `first_pool .. first_pool + pools`.
    pub(super) first_pool: u32,
    pub(super) pools: u32,
    /// When its first connect may start (staggered startup).
    pub(super) stagger_end: Time,
    pub(super) limiter: driver::ProcessLimiter,
    pub(super) dynamo_rng: SimRng,
    pub(super) jitter_rng: SimRng,
    /// Startup: how many of its pools have finished their first connect.
    pub(super) started: u32,
}

impl Process {
    /// Process `index`, owning the pools from `first_pool` on.
    pub(super) fn new(
        p: &ProcessConfig,
        index: u32,
        first_pool: u32,
        streams: &RngStreams,
    ) -> Result<Process, String> {
        let mut startup = streams.stream(StreamId::new(stream_kind::DRIVER, first_pool, P_STARTUP));
        let stagger_end = match p.startup_max_delay {
            Some(max) if max > 0 => {
                use rand::Rng;
                startup.random_range(0..max)
            }
            _ => 0,
        };
        let limiter = match p.limiter {
            ProcessLimiter::None => driver::ProcessLimiter::None,
            ProcessLimiter::Local { rate, burst } => {
                driver::ProcessLimiter::Local(TokenBucket::new(rate, burst)?)
            }
            ProcessLimiter::Shared => driver::ProcessLimiter::Shared,
        };
        Ok(Process {
            first_pool,
            pools: p.pools,
            stagger_end,
            limiter,
            dynamo_rng: streams.stream(StreamId::new(stream_kind::PROCESS, index, 0)),
            jitter_rng: streams.stream(StreamId::new(stream_kind::LIMITER, index, 0)),
            started: 0,
        })
    }
}

/// Where a handle's `sql.DB` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handle {
    /// Its process has not connected it yet.
    NotStarted,
    /// A connect (startup or rebuild) is building `Db` while holding the
    /// handle's lock.
    Connecting(u32),
    /// It serves with `Db`.
    Ready(u32),
    /// It has no `sql.DB` (a rebuild failed or was throttled); the next
    /// request reconnects, at most once a second.
    Down,
}

/// One pool: a `DatabaseHandle` of a process and everything counted for it.
pub(super) struct Pool {
    pub(super) process: u32,
    pub(super) target_size: u32,
    pub(super) stack: Stack,
    pub(super) handle: Handle,
    /// When the handle last started a connect (`lastRefresh`).
    pub(super) last_refresh: Option<Time>,
    /// Requests blocked on the handle's lock while it connects.
    pub(super) lock_waiters: Vec<u32>,
    /// Forced reconnects (lost connections) waiting for the lock.
    pub(super) pending_force: u32,
    /// Its `Db`s, oldest first.
    pub(super) dbs: Vec<u32>,
    pub(super) driver: Driver,
    pub(super) request_timeout: Time,
    pub(super) workload: Option<Workload>,
    pub(super) serving_since: Option<Time>,
    pub(super) fill_timed_out: bool,
    /// Connections held by callers (requests, and the warmup until it is done).
    pub(super) in_use: u32,
    /// Requests of the workload waiting for a connection (database/sql, or
    /// the handle's lock).
    pub(super) pending: u32,
    pub(super) physical: u32,
    pub(super) peak_physical: u32,
    pub(super) counters: PoolCounters,
    pub(super) latency: Histogram<u64>,
    pub(super) latency_max: u64,
    pub(super) req_latency: Histogram<u64>,
    pub(super) req_latency_max: u64,
    /// The reservoir driver's `Open()` calls: how long each took.
    pub(super) open_latency: Histogram<u64>,
    pub(super) open_latency_max: u64,
    /// Waits that ended in the current sample window, µs, 2 significant digits.
    pub(super) window: Histogram<u64>,
    pub(super) window_max: u64,
    /// Sum of the waits that ended in the current sample window, ns (exact).
    pub(super) window_sum: u64,
}

impl Pool {
    /// Pool `index` of the world, in process `process`.
    pub(super) fn new(p: &PoolConfig, index: u32, process: u32, streams: &RngStreams) -> Pool {
        let stream = |kind, purpose| streams.stream(StreamId::new(kind, index, purpose));
        let workload = p.workload.map(|w| {
            Workload::new(
                w,
                stream(stream_kind::WORKLOAD, P_ARRIVALS),
                stream(stream_kind::WORKLOAD, P_HOLDS),
            )
        });
        Pool {
            process,
            target_size: p.target_size,
            stack: p.stack,
            handle: Handle::NotStarted,
            last_refresh: None,
            lock_waiters: Vec::new(),
            pending_force: 0,
            dbs: Vec::new(),
            driver: Driver::new(
                p.connect_latency,
                p.token_failure_rate,
                stream(stream_kind::DRIVER, P_DRIVER),
            ),
            request_timeout: p.sql.request_timeout,
            workload,
            serving_since: None,
            fill_timed_out: false,
            in_use: 0,
            pending: 0,
            physical: 0,
            peak_physical: 0,
            counters: PoolCounters::default(),
            latency: latency_histogram(),
            latency_max: 0,
            req_latency: latency_histogram(),
            req_latency_max: 0,
            open_latency: latency_histogram(),
            open_latency_max: 0,
            window: window_histogram(),
            window_max: 0,
            window_sum: 0,
        }
    }

    /// A request that waited `wait`; `hold` if served.
    #[inline]
    pub(super) fn record(&mut self, wait: Time, hold: Option<Time>) {
        self.latency.saturating_record(wait);
        self.latency_max = self.latency_max.max(wait);
        self.window.saturating_record(wait / 1_000);
        self.window_max = self.window_max.max(wait);
        self.window_sum = self.window_sum.saturating_add(wait);
        if wait > 0 {
            self.counters.waited += 1;
        }
        if let Some(h) = hold {
            let l = wait.saturating_add(h);
            self.req_latency.saturating_record(l);
            self.req_latency_max = self.req_latency_max.max(l);
        }
    }

    /// One reservoir driver `Open()` took `d` (success or failure).
    #[inline]
    pub(super) fn record_open(&mut self, d: Time) {
        self.open_latency.saturating_record(d);
        self.open_latency_max = self.open_latency_max.max(d);
    }

    /// The `Db` it serves with, if it is ready.
    pub(super) fn ready_db(&self) -> Option<u32> {
        match self.handle {
            Handle::Ready(db) => Some(db),
            _ => None,
        }
    }
}

/// The life of a `Db`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DbState {
    /// Its connect is under way (initial fill, ping, warmup).
    Starting,
    /// Serving.
    Open,
    /// `sql.DB.Close()` was called: free connections were closed, waiters
    /// failed, connections put back later are closed.
    Closed,
}

/// One `sql.DB` of a handle, with its reservoir and refiller (reservoir
/// stacks) or its warmup and keeper (plain pool).
pub(super) struct Db {
    pub(super) pool: u32,
    pub(super) stack: Stack,
    pub(super) state: DbState,
    /// Reservoir stacks: the refiller and the expiry scanner run.
    pub(super) refiller_on: bool,
    pub(super) reservoir: Reservoir,
    pub(super) refiller: Refiller,
    /// The refiller has an open under way.
    pub(super) refilling: bool,
    /// The initial fill gives up at this instant.
    pub(super) fill_deadline: Time,
    pub(super) sql: Option<SqlPool>,
    pub(super) sql_rng: SimRng,
    pub(super) warmup: Option<crate::model::warmup::Warmup>,
    pub(super) warmup_deadline: Time,
    /// Connections the warmup holds until it is done.
    pub(super) warmed: Vec<ConnId>,
    pub(super) keeper: Option<Keeper>,
    /// Connections of this `Db` held by callers.
    pub(super) in_use: u32,
    /// Physical connections this `Db` owns.
    pub(super) physical: u32,
}

impl Db {
    /// Generation `gen` of pool `pool`'s `Db`, configured by `p`.
    pub(super) fn new(
        p: &PoolConfig,
        pool: u32,
        gen: u32,
        streams: &RngStreams,
    ) -> Result<Db, String> {
        let purpose = u16::try_from(gen).unwrap_or(u16::MAX);
        let stream = |kind| streams.stream(StreamId::new(kind, pool, purpose));
        let sql = match p.stack {
            Stack::Direct => None,
            // The reservoir's sql.DB: MaxOpen = max conns, lifetime and idle time 0.
            Stack::DatabaseSql => Some(SqlPool::new(SqlPoolConfig {
                max_open: p.target_size,
                max_idle: p.sql.max_idle,
                max_lifetime: 0,
                max_idle_time: 0,
            })?),
            Stack::Plain => Some(SqlPool::new(SqlPoolConfig {
                max_open: p.target_size,
                max_idle: p.sql.max_idle,
                max_lifetime: p.sql.max_lifetime,
                max_idle_time: p.sql.max_idle_time,
            })?),
        };
        let plain = p.stack == Stack::Plain;
        Ok(Db {
            pool,
            stack: p.stack,
            state: DbState::Starting,
            refiller_on: false,
            reservoir: Reservoir::new(p.reservoir),
            refiller: Refiller::with_pacing(
                p.reservoir.base_lifetime,
                p.reservoir.jitter,
                p.refill,
                stream(stream_kind::REFILLER),
            ),
            refilling: false,
            fill_deadline: 0,
            sql,
            sql_rng: stream(stream_kind::SQL_POOL),
            warmup: None,
            warmup_deadline: 0,
            warmed: Vec::new(),
            keeper: (plain && p.sql.keeper).then(|| Keeper::new(p.target_size)),
            in_use: 0,
            physical: 0,
        })
    }

    /// The database/sql pool (a database/sql stack).
    pub(super) fn sql(&mut self) -> &mut SqlPool {
        self.sql.as_mut().expect("a database/sql stack")
    }

    /// Whether this `Db` is closed but its refiller runs on, for good.
    pub(super) fn leaked(&self) -> bool {
        self.state == DbState::Closed && self.refiller_on
    }
}

/// The target a pool's samples are compared with: `target_ready` (reservoir
/// stacks) or `target_size` (plain pool).
pub(super) fn target_of(p: &PoolConfig) -> u32 {
    if p.stack.has_reservoir() {
        p.reservoir.target_ready
    } else {
        p.target_size
    }
}

fn window_histogram() -> Histogram<u64> {
    // 1 µs .. 1 hour at 2 significant digits: small, so the reset at every
    // sample is cheap.
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds")
}

fn latency_histogram() -> Histogram<u64> {
    // 1 ns .. 1 hour at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600 * SECOND, 3).expect("valid histogram bounds")
}
