//! The state of one instance: the components of its stack (reservoir,
//! refiller, driver, database/sql, warmup, keeper), its workload, and what it
//! has counted so far. Plain data and its construction; the behaviour lives
//! in the files of the world that drive it.

use super::config::{PoolConfig, Stack};
use super::observations::PoolCounters;
use crate::engine::{RngStreams, SimRng, StreamId, Time, SECOND};
use crate::model::conn::ConnId;
use crate::model::driver::Driver;
use crate::model::keeper::Keeper;
use crate::model::limiter::TokenBucket;
use crate::model::refiller::Refiller;
use crate::model::reservoir::Reservoir;
use crate::model::sql_pool::{SqlPool, SqlPoolConfig};
use crate::model::stream_kind;
use crate::model::warmup::Warmup;
use crate::model::workload::Workload;
use hdrhistogram::Histogram;

// Purposes of the per-pool random streams.
const P_ARRIVALS: u16 = 0;
const P_HOLDS: u16 = 1;
const P_LIFETIMES: u16 = 0;
const P_STARTUP: u16 = 0;
const P_DRIVER: u16 = 1;

/// One instance (a pool of the scenario).
pub(super) struct Pool {
    pub(super) target_size: u32,
    pub(super) stack: Stack,
    pub(super) reservoir: Reservoir,
    pub(super) refiller: Refiller,
    pub(super) driver: Driver,
    pub(super) sql: Option<SqlPool>,
    pub(super) sql_rng: SimRng,
    pub(super) warmup: Option<Warmup>,
    pub(super) warmup_deadline: Time,
    /// Connections the warmup holds until it is done.
    pub(super) warmed: Vec<ConnId>,
    pub(super) keeper: Option<Keeper>,
    pub(super) request_timeout: Time,
    pub(super) workload: Option<Workload>,
    /// The refiller has an open under way.
    pub(super) refilling: bool,
    pub(super) serving_since: Option<Time>,
    pub(super) fill_timed_out: bool,
    pub(super) in_use: u32,
    /// Requests of the workload waiting for database/sql (queued or opening).
    pub(super) pending: u32,
    pub(super) physical: u32,
    pub(super) peak_physical: u32,
    pub(super) counters: PoolCounters,
    pub(super) latency: Histogram<u64>,
    pub(super) latency_max: u64,
    pub(super) req_latency: Histogram<u64>,
    pub(super) req_latency_max: u64,
    /// Waits that ended in the current sample window, µs, 2 significant digits.
    pub(super) window: Histogram<u64>,
    pub(super) window_max: u64,
    /// Sum of the waits that ended in the current sample window, ns (exact).
    pub(super) window_sum: u64,
}

impl Pool {
    /// Instance `index` of the world, configured by `p`, drawing from `streams`.
    pub(super) fn new(p: &PoolConfig, index: u32, streams: &RngStreams) -> Result<Pool, String> {
        let stream = |kind, purpose| streams.stream(StreamId::new(kind, index, purpose));
        let mut startup = stream(stream_kind::DRIVER, P_STARTUP);
        let first_connect_at = match p.startup_max_delay {
            Some(max) if max > 0 => {
                use rand::Rng;
                startup.random_range(0..max)
            }
            _ => 0,
        };
        let workload = p.workload.map(|w| {
            Workload::new(
                w,
                stream(stream_kind::WORKLOAD, P_ARRIVALS),
                stream(stream_kind::WORKLOAD, P_HOLDS),
            )
        });
        let local = match p.local_limiter {
            Some((rate, burst)) => Some(TokenBucket::new(rate, burst)?),
            None => None,
        };
        let sql = match p.stack {
            Stack::Direct => None,
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
        Ok(Pool {
            target_size: p.target_size,
            stack: p.stack,
            reservoir: Reservoir::new(p.reservoir),
            refiller: Refiller::new(
                p.reservoir.base_lifetime,
                p.reservoir.jitter,
                stream(stream_kind::REFILLER, P_LIFETIMES),
            ),
            driver: Driver::new(
                first_connect_at,
                local,
                p.connect_latency,
                p.token_failure_rate,
                stream(stream_kind::DRIVER, P_DRIVER),
            ),
            sql,
            sql_rng: stream(stream_kind::SQL_POOL, 0),
            warmup: (plain && p.sql.warmup)
                .then(|| Warmup::new(p.target_size, stream(stream_kind::WARMUP, 0))),
            warmup_deadline: 0,
            warmed: Vec::new(),
            keeper: (plain && p.sql.keeper).then(|| Keeper::new(p.target_size)),
            request_timeout: p.sql.request_timeout,
            workload,
            refilling: false,
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
            window: window_histogram(),
            window_max: 0,
            window_sum: 0,
        })
    }

    /// A request that arrived at `arrived` waited `wait`; `hold` if served.
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

    /// The database/sql pool (a database/sql stack).
    pub(super) fn sql(&mut self) -> &mut SqlPool {
        self.sql.as_mut().expect("a database/sql stack")
    }

    /// The target the pool's samples are compared with: `target_ready`
    /// (reservoir stacks) or `target_size` (plain pool).
    pub(super) fn target(&self) -> u32 {
        if self.stack.has_reservoir() {
            self.reservoir.config().target_ready
        } else {
            self.target_size
        }
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
