//! The world: pools of one deployment on one DSQL cluster, wired together and
//! driven by the [`Engine`].
//!
//! Each pool is one instance. How its requests get connections is its
//! [`Stack`]:
//!
//! - [`Stack::Direct`]: a request takes its connection straight from the
//!   reservoir (driver `Open()`: TryCheckout, then the brief wait) and gives it
//!   back (`Return`) when its hold ends: the model of the seed's Task 13 and of
//!   the old simulator. There is no layer above to retry: a request whose
//!   Open() fails, fails (`no_connection`).
//! - [`Stack::DatabaseSql`]: the production wiring (DOMAIN.md section 6): Go's
//!   database/sql ([`SqlPool`], MaxOpen = `target_size`, ConnMaxLifetime and
//!   ConnMaxIdleTime 0) on top of the reservoir driver. database/sql keeps what
//!   it took from the reservoir; a connection goes back to the reservoir
//!   (`Return`) only when database/sql closes it (`max_idle`), or, bad, with
//!   lifetime 0 so that it is discarded. A failed `Open()` is
//!   `driver.ErrBadConn` to database/sql, which retries it.
//! - [`Stack::Plain`]: the plain pool (DOMAIN.md section 7): database/sql over
//!   the rate-limited driver, with the production warmup and keeper.
//!
//! Requests in the database/sql stacks live in a slab of [`Req`]s, with the
//! warmup's and the keeper's connection creations, which go through the pool
//! like a request (production: `db.Conn(ctx)` with a 10 s timeout).
//!
//! The start: a reservoir instance waits until `len(buffer) >= low_watermark`,
//! checking every 100 ms, for at most `initial_fill_timeout`, then takes
//! traffic; a plain pool takes traffic when its warmup is done (production runs
//! the warmup synchronously at startup). Requests that arrive before are
//! refused (counted as `rejected_before_ready`, not as requests).
//!
//! The server closes every connection at 60 minutes (`max_connection_age`): the
//! cluster forgets it at that instant; the client finds out at its next use,
//! which fails as a bad connection: database/sql closes it and retries; in the
//! direct stack the reservoir gets it back with lifetime 0 (discarded
//! `expired_on_return`) and the request fails (`bad_conn`).
//!
//! `measure_after`: requests that arrive before it are left out of the request
//! counters and histograms; the other counters of [`PoolOutcome::counters`]
//! count from that instant (a snapshot is taken then).

use crate::engine::{
    Engine, EngineError, Handler, Limits, RngStreams, Scheduler, SimRng, StreamId, Time,
    MILLISECOND, SECOND,
};
use crate::model::conn::{ConnId, ConnTable, Place};
use crate::model::dist::DurationDist;
use crate::model::driver::{Driver, DriverStats, GlobalLimiter, OpenAttempt, Progress, Shared};
use crate::model::dsql_cluster::{Cluster, ClusterConfig};
use crate::model::keeper::{self, Keeper, KeeperStats};
use crate::model::lease_table::{LeaseConfig, LeaseTable};
use crate::model::limiter::{FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use crate::model::refiller::{RefillFailure, Refiller, RefillerStats, Step};
use crate::model::reservoir::{
    Checkout, Discard, Offer, Reservoir, ReservoirConfig, ReservoirStats,
};
use crate::model::sql_pool::{
    next_strategy, Acquire, CloseCause, Release, SqlPool, SqlPoolConfig, SqlPoolStats,
};
use crate::model::stream_kind;
use crate::model::warmup::{Warmup, WarmupStats, WarmupStep};
use crate::model::workload::{Workload, WorkloadConfig};
use hdrhistogram::Histogram;

/// Period of the expiry scanner.
pub const SCAN_EVERY: Time = SECOND;
/// Period of the initial-fill check.
pub const FILL_CHECK_EVERY: Time = 100 * MILLISECOND;

// Purposes of the per-pool random streams.
const P_ARRIVALS: u16 = 0;
const P_HOLDS: u16 = 1;
const P_LIFETIMES: u16 = 0;
const P_STARTUP: u16 = 0;
const P_DRIVER: u16 = 1;

/// The reservoir waiter tag of database/sql's own opener (not a request).
const OPENER_TAG: u64 = u64::MAX;

/// How a pool's requests get connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stack {
    /// Requests take from the reservoir and give back after each use.
    Direct,
    /// database/sql on top of the reservoir driver (the production wiring).
    DatabaseSql,
    /// The plain pool: database/sql over the rate-limited driver.
    Plain,
}

impl Stack {
    /// Every stack, in the order `compare` shows them.
    pub const ALL: [Stack; 3] = [Stack::Direct, Stack::DatabaseSql, Stack::Plain];

    /// The name used in scenarios and reports (`direct`, `database_sql`, `pool`).
    pub fn name(self) -> &'static str {
        match self {
            Stack::Direct => "direct",
            Stack::DatabaseSql => "database_sql",
            Stack::Plain => "pool",
        }
    }

    /// Whether the pool has a reservoir.
    pub fn has_reservoir(self) -> bool {
        self != Stack::Plain
    }
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailCause {
    /// Its deadline (`request_timeout`) passed while it waited for a connection.
    Deadline = 0,
    /// No connection could be had: the reservoir's Open() failed (direct), or
    /// database/sql's `driver.ErrBadConn` retries ran out.
    NoConnection,
    /// Opening its connection failed (rate limit, lease, token, connect).
    OpenFailed,
    /// It got a connection the server had closed (direct stack only; the
    /// database/sql stacks retry).
    BadConn,
}

impl FailCause {
    /// Every cause, in a fixed order.
    pub const ALL: [FailCause; 4] = [
        FailCause::Deadline,
        FailCause::NoConnection,
        FailCause::OpenFailed,
        FailCause::BadConn,
    ];

    /// The label in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailCause::Deadline => "deadline",
            FailCause::NoConnection => "no_connection",
            FailCause::OpenFailed => "open_failed",
            FailCause::BadConn => "bad_conn",
        }
    }
}

/// Which client-side limiter the cluster-wide `global_rate_limit` uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimiterConfig {
    /// Token bucket (x/time/rate): `rate`/s, `burst`.
    TokenBucket { rate: f64, burst: u32 },
    /// DynamoDB per-second counter: `limit` per second.
    PerSecond { limit: u32 },
    /// The old simulator's fixed window: `limit` per second.
    FixedWindow { limit: u32 },
}

/// The database/sql settings of a pool (plain pool; MaxIdle and the request
/// deadline also for the `database_sql` reservoir stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlSettings {
    /// MaxIdle.
    pub max_idle: u32,
    /// ConnMaxLifetime, 0 = none (plain pool only).
    pub max_lifetime: Time,
    /// ConnMaxIdleTime, 0 = none (plain pool only).
    pub max_idle_time: Time,
    /// Run the production warmup at start (plain pool only).
    pub warmup: bool,
    /// Run the pool keeper (plain pool only).
    pub keeper: bool,
    /// A request's deadline, from its arrival.
    pub request_timeout: Time,
}

/// One pool (one instance) of the world.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    /// Name (the service).
    pub name: String,
    /// `target_size` (MaxOpen / max_conns).
    pub target_size: u32,
    /// How requests get connections.
    pub stack: Stack,
    /// The reservoir (used by the reservoir stacks).
    pub reservoir: ReservoirConfig,
    /// database/sql settings (used by the database/sql stacks).
    pub sql: SqlSettings,
    /// Its callers, if any.
    pub workload: Option<WorkloadConfig>,
    /// Connect latency.
    pub connect_latency: DurationDist,
    /// Staggered startup: the first connect waits `U[0, max)`; `None` = off.
    pub startup_max_delay: Option<Time>,
    /// Probability that getting an IAM token fails (failure injection).
    pub token_failure_rate: f64,
    /// The instance's own token bucket (rate/s, burst), if any.
    pub local_limiter: Option<(f64, u32)>,
}

/// Everything a run needs.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    /// Seed of every random stream.
    pub seed: u64,
    /// Simulated duration.
    pub duration: Time,
    /// Sampling period of the time series.
    pub sample_every: Time,
    /// Requests that arrive before this are left out of the statistics.
    pub measure_after: Time,
    /// The pools.
    pub pools: Vec<PoolConfig>,
    /// The cluster-wide client limiter (`global_rate_limit`), if any.
    pub global_limiter: Option<LimiterConfig>,
    /// The lease table, if enabled.
    pub leases: Option<LeaseConfig>,
    /// The cluster.
    pub cluster: ClusterConfig,
    /// Engine bounds.
    pub limits: Limits,
}

impl WorldConfig {
    /// The same world with every pool on `stack`.
    pub fn with_stack(mut self, stack: Stack) -> Self {
        for p in &mut self.pools {
            p.stack = stack;
        }
        self
    }
}

/// Events of the world. Small and `Copy`: the queue stores them inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A request arrives at a pool.
    Arrival(u32),
    /// A request's hold ends: give the connection back.
    HoldEnd(u32, ConnId),
    /// A driver Open()'s brief wait runs out (pool, ticket).
    WaitTimeout(u32, u64),
    /// The refiller loop iterates.
    RefillerWake(u32),
    /// An open (slot) continues after a wait.
    OpenAdvance(u32),
    /// An open's connect completes.
    OpenDone(u32),
    /// An open failed.
    OpenFailed(u32, RefillFailure),
    /// The expiry scanner runs.
    Scan(u32),
    /// The initial fill is checked.
    FillCheck(u32),
    /// A waiting request's deadline (request, generation).
    Deadline(u32, u32),
    /// The warmup starts its next attempt.
    WarmupNext(u32),
    /// The keeper's ticker fires.
    KeeperTick(u32),
    /// database/sql's connection cleaner runs.
    Cleaner(u32),
    /// The server closes a connection at its maximum age (connection, created_at).
    ServerClose(ConnId, Time),
    /// `measure_after` is reached: snapshot the counters.
    Measure,
    /// Take a sample of every pool.
    Sample,
}

/// Request outcomes and other counters of one pool, cumulative.
///
/// The request counters (`requests` to `failed`) count only requests that
/// arrived at or after `measure_after`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolCounters {
    /// Requests served by the pool (after it took traffic).
    pub requests: u64,
    /// Requests that got a connection without waiting (direct: TryCheckout hit).
    pub hits: u64,
    /// Requests that got a connection after waiting.
    pub hits_after_wait: u64,
    /// Requests that got no connection.
    pub failures: u64,
    /// Requests refused before the pool took traffic.
    pub rejected_before_ready: u64,
    /// Requests that waited at all (served or not).
    pub waited: u64,
    /// Failed requests by [`FailCause`] index.
    pub failed: [u64; 4],
    /// Requests completed (hold ended).
    pub completed: u64,
    /// Physical connections this pool created.
    pub created: u64,
    /// Opens of this pool that failed, by [`RefillFailure`] index (any opener).
    pub open_failures: [u64; 4],
    /// Connections of this pool closed by the server at its age limit.
    pub server_closed: u64,
    /// Uses of a server-closed connection (each a bad connection).
    pub bad_conns: u64,
    /// The reservoir's counters.
    pub reservoir: ReservoirStats,
    /// The refiller's counters.
    pub refiller: RefillerStats,
    /// The driver's counters.
    pub driver: DriverStats,
    /// database/sql's counters.
    pub sql: SqlPoolStats,
    /// The warmup's counters.
    pub warmup: WarmupStats,
    /// The keeper's counters.
    pub keeper: KeeperStats,
}

fn sub<const N: usize>(a: [u64; N], b: [u64; N]) -> [u64; N] {
    std::array::from_fn(|i| a[i] - b[i])
}

impl PoolCounters {
    /// These counters counted from the snapshot `at` on: every counter minus
    /// its value in `at`, except the request counters, which are already
    /// limited to requests that arrived after `measure_after`.
    pub fn since(&self, at: &PoolCounters) -> PoolCounters {
        let (c, a) = (self, at);
        PoolCounters {
            completed: c.completed - a.completed,
            created: c.created - a.created,
            open_failures: sub(c.open_failures, a.open_failures),
            server_closed: c.server_closed - a.server_closed,
            bad_conns: c.bad_conns - a.bad_conns,
            reservoir: ReservoirStats {
                checkouts: c.reservoir.checkouts - a.reservoir.checkouts,
                empty_events: c.reservoir.empty_events - a.reservoir.empty_events,
                discards: sub(c.reservoir.discards, a.reservoir.discards),
            },
            refiller: RefillerStats {
                refills: c.refiller.refills - a.refiller.refills,
                failures: sub(c.refiller.failures, a.refiller.failures),
            },
            driver: DriverStats {
                connects: c.driver.connects - a.driver.connects,
                limiter_waits: c.driver.limiter_waits - a.driver.limiter_waits,
                limiter_wait_ns: c.driver.limiter_wait_ns - a.driver.limiter_wait_ns,
            },
            sql: SqlPoolStats {
                opens: c.sql.opens - a.sql.opens,
                opener_opens: c.sql.opener_opens - a.sql.opener_opens,
                open_failures: c.sql.open_failures - a.sql.open_failures,
                closes: sub(c.sql.closes, a.sql.closes),
                waits: c.sql.waits - a.sql.waits,
                wait_timeouts: c.sql.wait_timeouts - a.sql.wait_timeouts,
                handoffs: c.sql.handoffs - a.sql.handoffs,
            },
            warmup: WarmupStats {
                created: c.warmup.created - a.warmup.created,
                failed: c.warmup.failed - a.warmup.failed,
                retries: c.warmup.retries - a.warmup.retries,
            },
            keeper: KeeperStats {
                ticks: c.keeper.ticks - a.keeper.ticks,
                busy_ticks: c.keeper.busy_ticks - a.keeper.busy_ticks,
                topups: c.keeper.topups - a.keeper.topups,
                failures: c.keeper.failures - a.keeper.failures,
            },
            ..*c
        }
    }
}

/// One pool at one sampling instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleRow {
    /// Sampling instant.
    pub t: Time,
    /// Pool index.
    pub pool: u32,
    /// Connections in the reservoir buffer (0 for a plain pool).
    pub ready: u32,
    /// Connections on database/sql's free list (0 for the direct stack).
    pub idle: u32,
    /// Connections held by requests (and by the warmup until it is done).
    pub in_use: u32,
    /// Physical connections of the pool: ready + idle + in use.
    pub open: u32,
    /// The target: target_ready (reservoir stacks) or target_size (plain pool).
    pub target: u32,
    /// Requests waiting for a connection: in the reservoir's brief wait
    /// (direct), or in database/sql's queue or their own open (database/sql
    /// stacks).
    pub waiting: u32,
    /// Whether the pool takes traffic.
    pub serving: bool,
    /// Requests whose wait ended (served or failed) in the window since the
    /// previous sample (the first sample: at t=0).
    pub wait_count: u64,
    /// Median of those waits, ns (µs resolution, 2 significant digits; 0 without any).
    pub wait_p50_ns: u64,
    /// 99th percentile of those waits, ns (same resolution, never above `wait_max_ns`).
    pub wait_p99_ns: u64,
    /// The largest of those waits, ns (exact).
    pub wait_max_ns: u64,
    /// Cumulative counters.
    pub counters: PoolCounters,
}

/// The cluster at one sampling instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterSample {
    /// Sampling instant.
    pub t: Time,
    /// Open connections.
    pub live: u32,
    /// Cumulative connect attempts.
    pub attempts: u64,
    /// Active leases (0 without a lease table).
    pub leases: u32,
}

/// What one pool did over the run.
pub struct PoolOutcome {
    /// Name.
    pub name: String,
    /// How its requests got connections.
    pub stack: Stack,
    /// target_size (MaxOpen).
    pub target_size: u32,
    /// target_ready (target_size for a plain pool).
    pub target: u32,
    /// low_watermark (0 for a plain pool).
    pub low_watermark: u32,
    /// Counters from `measure_after` on (see [`PoolCounters::since`]).
    pub counters: PoolCounters,
    /// Wait of every request until it had a connection or gave up (0 for an
    /// immediate hit), ns, to 3 significant digits.
    pub checkout_latency: Histogram<u64>,
    /// The exact largest wait, ns (the histogram's max is rounded up to its bucket).
    pub checkout_latency_max_ns: u64,
    /// Latency of every served request: wait + hold, ns.
    pub request_latency: Histogram<u64>,
    /// The exact largest request latency, ns.
    pub request_latency_max_ns: u64,
    /// When the pool started taking traffic (None: never, within the run).
    pub serving_since: Option<Time>,
    /// Whether the initial fill timed out.
    pub fill_timed_out: bool,
    /// Most physical connections the pool held at once (exact).
    pub peak_open: u32,
}

/// Everything observed in a run; [`crate::metrics`] derives reports from it.
pub struct Observations {
    /// Per pool.
    pub pools: Vec<PoolOutcome>,
    /// Every sample of every pool, time-major.
    pub samples: Vec<SampleRow>,
    /// Cluster samples at the same instants.
    pub cluster_samples: Vec<ClusterSample>,
    /// Connect attempts that reached the cluster, per simulated second.
    pub connects_per_second: Vec<u32>,
    /// Most open connections at once.
    pub peak_connections: u32,
    /// Connects refused by the cluster: rate, connection limit.
    pub cluster_refusals: (u64, u64),
    /// Leases refused (0 without a lease table).
    pub lease_denials: u64,
    /// Events the engine processed.
    pub events_processed: u64,
    /// Simulated duration.
    pub duration: Time,
    /// Sampling period.
    pub sample_every: Time,
    /// Requests that arrived before this are not in the statistics.
    pub measure_after: Time,
}

/// Who an open is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// The reservoir's refiller.
    Refiller,
    /// A request's own open (database/sql `Acquire::Open`).
    Req(u32),
    /// database/sql's connection opener (`maybeOpenNewConnections`).
    Opener,
}

/// One physical connection being opened through the driver.
#[derive(Clone, Copy, Debug)]
struct OpenSlot {
    pool: u32,
    owner: Owner,
    attempt: OpenAttempt,
}

/// What a database/sql caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqKind {
    /// A request of the workload.
    User,
    /// One connection of the warmup (held until the warmup is done).
    Warmup,
    /// One creation of the keeper (taken and given back at once).
    Keeper,
}

/// Where a database/sql caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    /// The slot is free.
    Free,
    /// Its own open is under way.
    Opening,
    /// Waiting in database/sql's queue.
    Queued,
}

#[derive(Clone, Copy, Debug)]
struct Req {
    pool: u32,
    kind: ReqKind,
    state: ReqState,
    arrived: Time,
    hold: Time,
    deadline: Time,
    /// `db.retry` attempt (0-based).
    attempt: u32,
    gen: u32,
    measured: bool,
}

struct Pool {
    target_size: u32,
    stack: Stack,
    reservoir: Reservoir,
    refiller: Refiller,
    driver: Driver,
    sql: Option<SqlPool>,
    sql_rng: SimRng,
    warmup: Option<Warmup>,
    warmup_deadline: Time,
    warmed: Vec<ConnId>,
    keeper: Option<Keeper>,
    request_timeout: Time,
    workload: Option<Workload>,
    refilling: bool,
    serving_since: Option<Time>,
    fill_timed_out: bool,
    in_use: u32,
    /// Requests of the workload waiting for database/sql (queued or opening).
    pending: u32,
    physical: u32,
    peak_physical: u32,
    counters: PoolCounters,
    latency: Histogram<u64>,
    latency_max: u64,
    req_latency: Histogram<u64>,
    req_latency_max: u64,
    /// Waits that ended in the current sample window, µs, 2 significant digits.
    window: Histogram<u64>,
    window_max: u64,
}

impl Pool {
    /// A request that arrived at `arrived` waited `wait`; `hold` if served.
    #[inline]
    fn record(&mut self, wait: Time, hold: Option<Time>) {
        self.latency.saturating_record(wait);
        self.latency_max = self.latency_max.max(wait);
        self.window.saturating_record(wait / 1_000);
        self.window_max = self.window_max.max(wait);
        if wait > 0 {
            self.counters.waited += 1;
        }
        if let Some(h) = hold {
            let l = wait.saturating_add(h);
            self.req_latency.saturating_record(l);
            self.req_latency_max = self.req_latency_max.max(l);
        }
    }

    fn sql(&mut self) -> &mut SqlPool {
        self.sql.as_mut().expect("a database/sql stack")
    }
}

/// The simulated deployment.
pub struct World {
    names: Vec<String>,
    pools: Vec<Pool>,
    conns: ConnTable,
    cluster: Cluster,
    limiter: Option<GlobalLimiter>,
    leases: Option<LeaseTable>,
    duration: Time,
    sample_every: Time,
    measure_after: Time,
    max_age: Time,
    samples: Vec<SampleRow>,
    cluster_samples: Vec<ClusterSample>,
    snapshot: Vec<PoolCounters>,
    opens: Vec<OpenSlot>,
    free_opens: Vec<u32>,
    reqs: Vec<Req>,
    free_reqs: Vec<u32>,
    scratch: Vec<(ConnId, Discard)>,
    scratch_sql: Vec<(ConnId, CloseCause)>,
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

impl World {
    /// Build the world and schedule its first events.
    pub fn new(cfg: &WorldConfig, sched: &mut Scheduler<Ev>) -> Result<World, String> {
        let streams = RngStreams::new(cfg.seed);
        let limiter = match cfg.global_limiter {
            None => None,
            Some(LimiterConfig::TokenBucket { rate, burst }) => {
                Some(GlobalLimiter::TokenBucket(TokenBucket::new(rate, burst)?))
            }
            Some(LimiterConfig::PerSecond { limit }) => Some(GlobalLimiter::PerSecond(
                PerSecondLimiter::new(limit)?,
                Box::new(streams.stream(StreamId::new(stream_kind::LIMITER, 0, 0))),
            )),
            Some(LimiterConfig::FixedWindow { limit }) => {
                Some(GlobalLimiter::FixedWindow(FixedWindowLimiter::new(limit)?))
            }
        };
        let mut pools = Vec::with_capacity(cfg.pools.len());
        for (i, p) in cfg.pools.iter().enumerate() {
            let i32_ = i as u32;
            let mut startup = streams.stream(StreamId::new(stream_kind::DRIVER, i32_, P_STARTUP));
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
                    streams.stream(StreamId::new(stream_kind::WORKLOAD, i32_, P_ARRIVALS)),
                    streams.stream(StreamId::new(stream_kind::WORKLOAD, i32_, P_HOLDS)),
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
            pools.push(Pool {
                target_size: p.target_size,
                stack: p.stack,
                reservoir: Reservoir::new(p.reservoir),
                refiller: Refiller::new(
                    p.reservoir.base_lifetime,
                    p.reservoir.jitter,
                    streams.stream(StreamId::new(stream_kind::REFILLER, i32_, P_LIFETIMES)),
                ),
                driver: Driver::new(
                    first_connect_at,
                    local,
                    p.connect_latency,
                    p.token_failure_rate,
                    streams.stream(StreamId::new(stream_kind::DRIVER, i32_, P_DRIVER)),
                ),
                sql,
                sql_rng: streams.stream(StreamId::new(stream_kind::SQL_POOL, i32_, 0)),
                warmup: (plain && p.sql.warmup).then(|| {
                    Warmup::new(
                        p.target_size,
                        streams.stream(StreamId::new(stream_kind::WARMUP, i32_, 0)),
                    )
                }),
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
            });
        }
        let samples_expected = (cfg.duration / cfg.sample_every + 1) as usize;
        let mut w = World {
            names: cfg.pools.iter().map(|p| p.name.clone()).collect(),
            pools,
            conns: ConnTable::default(),
            cluster: Cluster::new(cfg.cluster, cfg.duration)?,
            limiter,
            leases: cfg.leases.map(LeaseTable::new),
            duration: cfg.duration,
            sample_every: cfg.sample_every,
            measure_after: cfg.measure_after,
            max_age: cfg.cluster.max_connection_age,
            samples: Vec::with_capacity(samples_expected * cfg.pools.len()),
            cluster_samples: Vec::with_capacity(samples_expected),
            snapshot: vec![PoolCounters::default(); cfg.pools.len()],
            opens: Vec::new(),
            free_opens: Vec::new(),
            reqs: Vec::new(),
            free_reqs: Vec::new(),
            scratch: Vec::new(),
            scratch_sql: Vec::new(),
        };
        for i in 0..w.pools.len() as u32 {
            let p = &mut w.pools[i as usize];
            if p.stack.has_reservoir() {
                sched.at(0, Ev::RefillerWake(i));
                sched.at(0, Ev::FillCheck(i));
                sched.at(SCAN_EVERY, Ev::Scan(i));
            } else {
                match p.warmup.as_ref().map(|wu| wu.next(0)) {
                    Some(WarmupStep::OpenAt { at, deadline }) => {
                        p.warmup_deadline = deadline;
                        sched.at(at, Ev::WarmupNext(i));
                    }
                    Some(WarmupStep::Done) | None => {
                        p.warmup = None;
                        p.serving_since = Some(0);
                        if p.keeper.is_some() {
                            sched.at(keeper::TICK, Ev::KeeperTick(i));
                        }
                    }
                }
                if let Some(period) = p.sql.as_ref().and_then(|s| s.cleaner_period()) {
                    sched.at(period, Ev::Cleaner(i));
                }
            }
            if let Some(t) = p.workload.as_mut().and_then(|wl| wl.first_arrival(0)) {
                sched.at(t, Ev::Arrival(i));
            }
        }
        if cfg.measure_after > 0 && cfg.measure_after <= cfg.duration {
            sched.at(cfg.measure_after, Ev::Measure);
        }
        sched.at(0, Ev::Sample);
        Ok(w)
    }

    // ----- connections -------------------------------------------------

    /// A new physical connection of `pool`, held by whoever opened it.
    fn new_conn(&mut self, pool: u32, lifetime: Time, s: &mut Scheduler<Ev>) -> ConnId {
        let now = s.now();
        let id = self.conns.open(pool, now, lifetime, Place::InUse);
        let p = &mut self.pools[pool as usize];
        p.physical += 1;
        p.peak_physical = p.peak_physical.max(p.physical);
        p.counters.created += 1;
        if self.max_age > 0 {
            let at = now.saturating_add(self.max_age);
            if at <= self.duration {
                s.at(at, Ev::ServerClose(id, now));
            }
        }
        id
    }

    /// Close a connection: the cluster forgets it (unless the server already
    /// closed it) and its lease is released.
    fn close(&mut self, id: ConnId) {
        let c = *self.conns.get(id);
        self.conns.close(id);
        self.pools[c.pool as usize].physical -= 1;
        if !c.server_closed {
            self.cluster.close();
        }
        if let Some(l) = self.leases.as_mut() {
            l.release();
        }
    }

    fn server_close(&mut self, id: ConnId, created_at: Time) {
        let c = self.conns.get_mut(id);
        if c.place != Place::Closed && c.created_at == created_at && !c.server_closed {
            c.server_closed = true;
            let pool = c.pool;
            self.cluster.close();
            self.pools[pool as usize].counters.server_closed += 1;
        }
    }

    // ----- direct stack --------------------------------------------------

    /// Return path: a connection arrives at the reservoir (returned or new).
    fn offer(&mut self, pool: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        match p.reservoir.offer(id, now, &mut self.conns) {
            Offer::Buffered => {}
            Offer::Discarded(id, _) => self.close(id),
            Offer::ToWaiter(w, id) => self.waiter_got(pool, w.since, w.tag, id, s),
            Offer::WaiterDiscarded(w, id, _) => {
                self.close(id);
                self.waiter_failed(pool, w.since, w.tag, s);
            }
        }
    }

    /// A reservoir Open() that waited (since `since`, tag `tag`) got `id`.
    fn waiter_got(&mut self, pool: u32, since: Time, tag: u64, id: ConnId, s: &mut Scheduler<Ev>) {
        match self.pools[pool as usize].stack {
            Stack::Direct => self.direct_got(pool, since, tag, true, id, s),
            _ => self.sql_conn_ready(pool, owner_of(tag), id, s),
        }
    }

    /// A reservoir Open() that waited failed.
    fn waiter_failed(&mut self, pool: u32, since: Time, tag: u64, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        match p.stack {
            Stack::Direct => {
                // The tag of a direct waiter is its hold; bit 63 says "measured".
                if tag & MEASURED_BIT != 0 {
                    p.counters.failures += 1;
                    p.counters.failed[FailCause::NoConnection as usize] += 1;
                    p.record(now - since, None);
                }
            }
            _ => self.sql_conn_failed(pool, owner_of(tag), None, s),
        }
    }

    /// A direct request (arrived `since`) got `id` from the reservoir.
    fn direct_got(
        &mut self,
        pool: u32,
        since: Time,
        tag: u64,
        after_wait: bool,
        id: ConnId,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let measured = tag & MEASURED_BIT != 0;
        let hold = tag & !MEASURED_BIT;
        if self.conns.get(id).server_closed {
            // Its use fails: returned with lifetime 0, so it is discarded.
            let p = &mut self.pools[pool as usize];
            p.counters.bad_conns += 1;
            if measured {
                p.counters.failures += 1;
                p.counters.failed[FailCause::BadConn as usize] += 1;
                p.record(now - since, None);
            }
            self.conns.get_mut(id).lifetime = 0;
            self.offer(pool, id, s);
            return;
        }
        let p = &mut self.pools[pool as usize];
        if measured {
            if after_wait {
                p.counters.hits_after_wait += 1;
            } else {
                p.counters.hits += 1;
            }
            p.record(now - since, Some(hold));
        }
        p.in_use += 1;
        s.after(hold, Ev::HoldEnd(pool, id));
    }

    fn arrival(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let measure_after = self.measure_after;
        let p = &mut self.pools[pool as usize];
        let wl = p.workload.as_mut().expect("arrival without workload");
        let hold = wl.draw_hold();
        if let Some(next) = wl.next_arrival(now) {
            if next <= self.duration {
                s.at(next, Ev::Arrival(pool));
            }
        }
        let measured = now >= measure_after;
        if p.serving_since.is_none() {
            if measured {
                p.counters.rejected_before_ready += 1;
            }
            return;
        }
        if measured {
            p.counters.requests += 1;
        }
        if p.stack != Stack::Direct {
            let deadline = now.saturating_add(p.request_timeout);
            p.pending += 1;
            let r = self.new_req(pool, ReqKind::User, now, hold, deadline, measured);
            self.sql_acquire(r, s);
            return;
        }
        let tag = hold.min(!MEASURED_BIT) | if measured { MEASURED_BIT } else { 0 };
        match p.reservoir.try_checkout(now, &mut self.conns) {
            Checkout::Hit(id) => self.direct_got(pool, now, tag, false, id, s),
            other => {
                if let Checkout::Discarded(id, _) = other {
                    self.close(id);
                }
                self.reservoir_wait(pool, tag, s);
            }
        }
    }

    /// Driver Open()'s brief wait, after a failed TryCheckout.
    fn reservoir_wait(&mut self, pool: u32, tag: u64, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let wait = p.reservoir.config().empty_wait;
        if wait == 0 {
            self.waiter_failed(pool, now, tag, s);
        } else {
            let ticket = p.reservoir.enqueue_waiter(now, tag);
            s.after(wait, Ev::WaitTimeout(pool, ticket));
        }
    }

    fn wait_timeout(&mut self, pool: u32, ticket: u64, s: &mut Scheduler<Ev>) {
        if let Some(w) = self.pools[pool as usize].reservoir.timeout_waiter(ticket) {
            self.waiter_failed(pool, w.since, w.tag, s);
        }
    }

    fn hold_end(&mut self, pool: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        p.in_use -= 1;
        p.counters.completed += 1;
        if p.stack == Stack::Direct {
            self.offer(pool, id, s);
        } else {
            self.put_back(pool, id, false, s);
        }
    }

    // ----- the refiller and the driver -----------------------------------

    fn refiller_wake(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        debug_assert!(!p.refilling);
        let target = p.reservoir.config().target_ready;
        match p.refiller.step(now, p.reservoir.len(), target) {
            Step::SleepUntil(t) => s.at(t, Ev::RefillerWake(pool)),
            Step::Open { deadline } => {
                p.refilling = true;
                self.start_open(pool, Owner::Refiller, deadline, s);
            }
        }
    }

    /// Start opening a physical connection for `owner`.
    fn start_open(&mut self, pool: u32, owner: Owner, deadline: Time, s: &mut Scheduler<Ev>) {
        let slot = OpenSlot {
            pool,
            owner,
            attempt: OpenAttempt::new(s.now(), deadline),
        };
        let id = match self.free_opens.pop() {
            Some(id) => {
                self.opens[id as usize] = slot;
                id
            }
            None => {
                self.opens.push(slot);
                (self.opens.len() - 1) as u32
            }
        };
        self.open_advance(id, s);
    }

    fn open_advance(&mut self, id: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let slot = &mut self.opens[id as usize];
        let mut sh = Shared {
            limiter: &mut self.limiter,
            leases: &mut self.leases,
            cluster: &mut self.cluster,
        };
        let progress =
            self.pools[slot.pool as usize]
                .driver
                .advance(&mut slot.attempt, now, &mut sh);
        match progress {
            Progress::WaitUntil(t) => s.at(t, Ev::OpenAdvance(id)),
            Progress::Connecting { done_at } => s.at(done_at, Ev::OpenDone(id)),
            Progress::Failed { why, at } if at == now => self.open_failed(id, why, s),
            Progress::Failed { why, at } => s.at(at, Ev::OpenFailed(id, why)),
        }
    }

    fn open_done(&mut self, id: u32, s: &mut Scheduler<Ev>) {
        let OpenSlot { pool, owner, .. } = self.opens[id as usize];
        self.free_opens.push(id);
        match owner {
            Owner::Refiller => {
                let p = &mut self.pools[pool as usize];
                p.refilling = false;
                let lifetime = p.refiller.created();
                let conn = self.new_conn(pool, lifetime, s);
                self.offer(pool, conn, s);
                // On success the loop goes again at once.
                self.refiller_wake(pool, s);
            }
            owner => {
                let conn = self.new_conn(pool, Time::MAX, s);
                self.sql_conn_ready(pool, owner, conn, s);
            }
        }
    }

    fn open_failed(&mut self, id: u32, why: RefillFailure, s: &mut Scheduler<Ev>) {
        let OpenSlot { pool, owner, .. } = self.opens[id as usize];
        self.free_opens.push(id);
        let p = &mut self.pools[pool as usize];
        p.counters.open_failures[why as usize] += 1;
        match owner {
            Owner::Refiller => {
                p.refilling = false;
                let t = p.refiller.failed(s.now(), why);
                s.at(t, Ev::RefillerWake(pool));
            }
            owner => self.sql_conn_failed(pool, owner, Some(why), s),
        }
    }

    fn scan(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        self.pools[pool as usize]
            .reservoir
            .scan(now, &self.conns, &mut out);
        for &(id, _) in &out {
            self.close(id);
        }
        self.scratch = out;
        s.after(SCAN_EVERY, Ev::Scan(pool));
    }

    fn fill_check(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let cfg = p.reservoir.config();
        if p.reservoir.len() >= cfg.low_watermark as usize {
            p.serving_since = Some(now);
        } else if now >= cfg.initial_fill_timeout {
            p.serving_since = Some(now);
            p.fill_timed_out = true;
        } else {
            s.after(FILL_CHECK_EVERY, Ev::FillCheck(pool));
        }
    }

    // ----- database/sql stacks ---------------------------------------------

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
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        if p.stack == Stack::Plain {
            self.start_open(pool, owner, deadline, s);
            return;
        }
        let tag = match owner {
            Owner::Req(r) => u64::from(r),
            _ => OPENER_TAG,
        };
        match p.reservoir.try_checkout(now, &mut self.conns) {
            Checkout::Hit(id) => self.sql_conn_ready(pool, owner, id, s),
            other => {
                if let Checkout::Discarded(id, _) = other {
                    self.close(id);
                }
                self.reservoir_wait(pool, tag, s);
            }
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
                let p = &mut self.pools[pool as usize];
                p.warmed.push(conn);
                let step = p.warmup.as_mut().expect("warmup").succeeded(now);
                self.warmup_step(pool, step, s);
            }
            ReqKind::Keeper => {
                // SELECT 1, then Conn.Close(): back at once.
                let p = &mut self.pools[pool as usize];
                p.in_use -= 1;
                self.put_back(pool, conn, false, s);
                self.keeper_created(pool, true, s);
            }
        }
        true
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
            ReqKind::Warmup => {
                let step = self.pools[pool as usize]
                    .warmup
                    .as_mut()
                    .expect("warmup")
                    .failed(now);
                self.warmup_step(pool, step, s);
            }
            ReqKind::Keeper => self.keeper_created(pool, false, s),
        }
    }

    /// A holder puts `conn` back into database/sql (`putConn`; `bad`:
    /// `driver.ErrBadConn`), and the world carries out what the pool decides.
    fn put_back(&mut self, pool: u32, conn: ConnId, bad: bool, s: &mut Scheduler<Ev>) {
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
        self.offer(pool, conn, s);
    }

    fn deadline(&mut self, r: u32, gen: u32, s: &mut Scheduler<Ev>) {
        let req = self.reqs[r as usize];
        if req.gen != gen || req.state != ReqState::Queued {
            return;
        }
        if self.pools[req.pool as usize].sql().timeout(r) {
            self.fail_req(r, FailCause::Deadline, s);
        }
    }

    fn cleaner(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
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

    // ----- warmup and keeper -------------------------------------------------

    fn warmup_next(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let deadline = self.pools[pool as usize].warmup_deadline;
        let r = self.new_req(pool, ReqKind::Warmup, now, 0, deadline, false);
        self.sql_acquire(r, s);
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
                let p = &mut self.pools[pool as usize];
                let warmed = std::mem::take(&mut p.warmed);
                for conn in warmed {
                    let p = &mut self.pools[pool as usize];
                    p.in_use -= 1;
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

    fn keeper_tick(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let open = p.sql().num_open();
        let (n, next) = p.keeper.as_mut().expect("keeper").tick(now, open);
        s.at(next, Ev::KeeperTick(pool));
        if n > 0 {
            self.keeper_create(pool, s);
        }
    }

    fn keeper_create(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let r = self.new_req(
            pool,
            ReqKind::Keeper,
            now,
            0,
            now + keeper::CONNECTION_TIMEOUT,
            false,
        );
        self.sql_acquire(r, s);
    }

    fn keeper_created(&mut self, pool: u32, ok: bool, s: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        let open = p.sql().num_open();
        let more = p.keeper.as_mut().expect("keeper").created(ok, open);
        if more > 0 {
            self.keeper_create(pool, s);
        }
    }

    // ----- observation -------------------------------------------------------

    fn counters(p: &Pool) -> PoolCounters {
        PoolCounters {
            reservoir: p.reservoir.stats,
            refiller: p.refiller.stats,
            driver: p.driver.stats,
            sql: p.sql.as_ref().map(|s| s.stats).unwrap_or_default(),
            warmup: p.warmup.as_ref().map(|w| w.stats).unwrap_or_default(),
            keeper: p.keeper.as_ref().map(|k| k.stats).unwrap_or_default(),
            ..p.counters
        }
    }

    fn measure(&mut self) {
        for (i, p) in self.pools.iter().enumerate() {
            self.snapshot[i] = Self::counters(p);
        }
    }

    fn sample(&mut self, s: &mut Scheduler<Ev>) {
        let t = s.now();
        for (i, p) in self.pools.iter_mut().enumerate() {
            let (wait_count, wait_p50_ns, wait_p99_ns, wait_max_ns) = if p.window.is_empty() {
                (0, 0, 0, 0)
            } else {
                let q = |x: f64| (p.window.value_at_quantile(x) * 1_000).min(p.window_max);
                let r = (p.window.len(), q(0.5), q(0.99), p.window_max);
                p.window.reset();
                p.window_max = 0;
                r
            };
            let idle = p.sql.as_ref().map_or(0, |s| s.num_idle());
            self.samples.push(SampleRow {
                t,
                pool: i as u32,
                ready: p.reservoir.len() as u32,
                idle,
                in_use: p.in_use,
                open: p.physical,
                target: if p.stack.has_reservoir() {
                    p.reservoir.config().target_ready
                } else {
                    p.target_size
                },
                waiting: if p.stack == Stack::Direct {
                    p.reservoir.waiting() as u32
                } else {
                    p.pending
                },
                serving: p.serving_since.is_some(),
                wait_count,
                wait_p50_ns,
                wait_p99_ns,
                wait_max_ns,
                counters: Self::counters(p),
            });
        }
        self.cluster_samples.push(ClusterSample {
            t,
            live: self.cluster.live(),
            attempts: self.cluster.attempts(),
            leases: self.leases.as_ref().map_or(0, |l| l.active()),
        });
        let next = t + self.sample_every;
        if next <= self.duration {
            s.at(next, Ev::Sample);
        }
    }

    /// Check that every connection is in exactly one place and every count agrees.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut live = 0;
        for (i, p) in self.pools.iter().enumerate() {
            let i = i as u32;
            let r = self.conns.count(i, Place::Ready);
            let idle = self.conns.count(i, Place::Idle);
            let u = self.conns.count(i, Place::InUse);
            if r != p.reservoir.len() {
                return Err(format!(
                    "pool {i}: {r} ready connections but buffer holds {}",
                    p.reservoir.len()
                ));
            }
            let sql_idle = p.sql.as_ref().map_or(0, |s| s.num_idle() as usize);
            if idle != sql_idle {
                return Err(format!(
                    "pool {i}: {idle} idle connections but database/sql's free list holds {sql_idle}"
                ));
            }
            if u != p.in_use as usize {
                return Err(format!(
                    "pool {i}: {u} in-use connections but {} holds",
                    p.in_use
                ));
            }
            if let Some(sql) = &p.sql {
                if sql.in_use() != p.in_use {
                    return Err(format!(
                        "pool {i}: database/sql counts {} in use, requests hold {}",
                        sql.in_use(),
                        p.in_use
                    ));
                }
                if sql.num_open() > sql.config().max_open {
                    return Err(format!("pool {i}: database/sql above MaxOpen"));
                }
                if p.stack == Stack::Plain
                    && sql.num_open() != sql.num_idle() + sql.in_use() + sql.opening()
                {
                    return Err(format!(
                        "pool {i}: numOpen {} != idle {} + in use {} + opening {}",
                        sql.num_open(),
                        sql.num_idle(),
                        sql.in_use(),
                        sql.opening()
                    ));
                }
            }
            if r + idle + u != p.physical as usize {
                return Err(format!(
                    "pool {i}: {} physical connections counted, {} found",
                    p.physical,
                    r + idle + u
                ));
            }
            if p.reservoir.len() > p.reservoir.config().target_ready as usize {
                return Err(format!("pool {i}: buffer over capacity"));
            }
            let mut seen: Vec<ConnId> = p.reservoir.buffered().collect();
            if let Some(sql) = &p.sql {
                seen.extend(sql.idle_conns());
            }
            let n = seen.len();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != n {
                return Err(format!("pool {i}: a connection is in two places"));
            }
            live += r + idle + u;
        }
        if live != self.conns.live() {
            return Err(format!(
                "{} live connections but pools account for {live}",
                self.conns.live()
            ));
        }
        // The cluster also counts connects in flight (admitted, not yet
        // complete) and does not count connections it closed itself.
        let connecting = self.connecting(|a| a.stage == crate::model::driver::Stage::Connect);
        let server_closed = self.server_closed_live();
        let client = self.conns.live() - server_closed;
        let cluster = self.cluster.live() as usize;
        if cluster < client || cluster > client + connecting {
            return Err(format!(
                "cluster counts {cluster} connections, client holds {client} live (+{connecting} connecting)"
            ));
        }
        if let Some(l) = &self.leases {
            let held = l.active() as usize;
            let leasing = self.connecting(|a| a.lease_held);
            if held < self.conns.live() || held > self.conns.live() + leasing {
                return Err(format!(
                    "{held} leases for {} live connections",
                    self.conns.live()
                ));
            }
        }
        Ok(())
    }

    fn connecting(&self, f: impl Fn(&OpenAttempt) -> bool) -> usize {
        let mut free = self.free_opens.clone();
        free.sort_unstable();
        (0..self.opens.len() as u32)
            .filter(|i| free.binary_search(i).is_err())
            .filter(|&i| f(&self.opens[i as usize].attempt))
            .count()
    }

    fn server_closed_live(&self) -> usize {
        (0..self.pools.len() as u32)
            .map(|i| {
                self.conns
                    .count_where(i, |c| c.place != Place::Closed && c.server_closed)
            })
            .sum()
    }

    /// The pools' target sizes (MaxOpen).
    pub fn target_sizes(&self) -> Vec<u32> {
        self.pools.iter().map(|p| p.target_size).collect()
    }

    fn into_observations(self, events_processed: u64) -> Observations {
        let pools = self
            .pools
            .iter()
            .zip(self.names.iter())
            .zip(self.snapshot.iter())
            .map(|((p, name), snap)| PoolOutcome {
                name: name.clone(),
                stack: p.stack,
                target_size: p.target_size,
                target: if p.stack.has_reservoir() {
                    p.reservoir.config().target_ready
                } else {
                    p.target_size
                },
                low_watermark: if p.stack.has_reservoir() {
                    p.reservoir.config().low_watermark
                } else {
                    0
                },
                counters: Self::counters(p).since(snap),
                checkout_latency: p.latency.clone(),
                checkout_latency_max_ns: p.latency_max,
                request_latency: p.req_latency.clone(),
                request_latency_max_ns: p.req_latency_max,
                serving_since: p.serving_since,
                fill_timed_out: p.fill_timed_out,
                peak_open: p.peak_physical,
            })
            .collect();
        Observations {
            pools,
            samples: self.samples,
            cluster_samples: self.cluster_samples,
            connects_per_second: self.cluster.attempts_by_second().to_vec(),
            peak_connections: self.cluster.peak_live(),
            cluster_refusals: (self.cluster.refused_rate, self.cluster.refused_limit),
            lease_denials: self.leases.as_ref().map_or(0, |l| l.denied),
            events_processed,
            duration: self.duration,
            sample_every: self.sample_every,
            measure_after: self.measure_after,
        }
    }
}

/// Bit 63 of a direct waiter's tag: the request is measured (arrived after
/// `measure_after`). The other bits are its hold.
const MEASURED_BIT: u64 = 1 << 63;

fn owner_of(tag: u64) -> Owner {
    if tag == OPENER_TAG {
        Owner::Opener
    } else {
        Owner::Req(tag as u32)
    }
}

impl Handler<Ev> for World {
    #[inline]
    fn handle(&mut self, ev: Ev, s: &mut Scheduler<Ev>) {
        match ev {
            Ev::Arrival(p) => self.arrival(p, s),
            Ev::HoldEnd(p, c) => self.hold_end(p, c, s),
            Ev::WaitTimeout(p, t) => self.wait_timeout(p, t, s),
            Ev::RefillerWake(p) => self.refiller_wake(p, s),
            Ev::OpenAdvance(o) => self.open_advance(o, s),
            Ev::OpenDone(o) => self.open_done(o, s),
            Ev::OpenFailed(o, why) => self.open_failed(o, why, s),
            Ev::Scan(p) => self.scan(p, s),
            Ev::FillCheck(p) => self.fill_check(p, s),
            Ev::Deadline(r, gen) => self.deadline(r, gen, s),
            Ev::WarmupNext(p) => self.warmup_next(p, s),
            Ev::KeeperTick(p) => self.keeper_tick(p, s),
            Ev::Cleaner(p) => self.cleaner(p, s),
            Ev::ServerClose(c, at) => self.server_close(c, at),
            Ev::Measure => self.measure(),
            Ev::Sample => self.sample(s),
        }
    }
}

/// Why a run could not be completed.
#[derive(Debug)]
pub enum RunError {
    /// The configuration was refused by a model.
    Config(String),
    /// The engine stopped the run.
    Engine(EngineError),
    /// The caller asked the run to stop (its progress callback returned false).
    Interrupted {
        /// Simulated time reached.
        at: Time,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Config(m) => write!(f, "{m}"),
            RunError::Engine(e) => write!(f, "{e}"),
            RunError::Interrupted { at } => write!(
                f,
                "interrupted at t={}",
                crate::engine::time::format_duration(*at)
            ),
        }
    }
}

impl std::error::Error for RunError {}

/// Run a world to its end.
pub fn simulate(cfg: &WorldConfig) -> Result<Observations, RunError> {
    simulate_checked(cfg, None)
}

/// Run a world to its end in slices of simulated time, calling `progress(now)`
/// after each slice (for a progress bar; it cannot change the run). When
/// `progress` returns false the run stops with [`RunError::Interrupted`].
pub fn simulate_with_progress(
    cfg: &WorldConfig,
    mut progress: impl FnMut(Time) -> bool,
) -> Result<Observations, RunError> {
    let mut engine = Engine::new(cfg.limits);
    let mut world = World::new(cfg, engine.scheduler()).map_err(RunError::Config)?;
    let slice = (cfg.duration / 200).max(1);
    let mut t = 0;
    while t < cfg.duration {
        t = (t + slice).min(cfg.duration);
        engine.run(&mut world, t).map_err(RunError::Engine)?;
        if !progress(t) {
            return Err(RunError::Interrupted { at: t });
        }
    }
    Ok(world.into_observations(engine.events_processed()))
}

/// Run a world, checking invariants every `check_every` of simulated time
/// (tests use this; it is slow).
pub fn simulate_checked(
    cfg: &WorldConfig,
    check_every: Option<Time>,
) -> Result<Observations, RunError> {
    let mut engine = Engine::new(cfg.limits);
    let mut world = World::new(cfg, engine.scheduler()).map_err(RunError::Config)?;
    match check_every {
        None => engine
            .run(&mut world, cfg.duration)
            .map_err(RunError::Engine)?,
        Some(step) => {
            let mut t = 0;
            while t < cfg.duration {
                t = (t + step).min(cfg.duration);
                engine.run(&mut world, t).map_err(RunError::Engine)?;
                world
                    .check_invariants()
                    .map_err(|e| RunError::Config(format!("invariant broken at t={t}: {e}")))?;
            }
        }
    }
    Ok(world.into_observations(engine.events_processed()))
}
