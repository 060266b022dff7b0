//! The configuration of a world: what [`super::World::new`] is built from.
//!
//! The scenario layer ([`crate::scenario`]) fills these in from a YAML file
//! with its defaults and validation; tests build them directly.

use crate::engine::{Limits, Time};
use crate::model::dist::DurationDist;
use crate::model::dsql_cluster::ClusterConfig;
use crate::model::lease_table::LeaseConfig;
use crate::model::reservoir::ReservoirConfig;
use crate::model::workload::WorkloadConfig;

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
