//! The configuration of a world: what [`super::World::new`] is built from.
//!
//! The scenario layer ([`crate::scenario`]) fills these in from a YAML file
//! with its defaults and validation; tests build them directly.

use crate::engine::{Limits, Time};
use crate::model::dist::DurationDist;
use crate::model::dsql_cluster::ClusterConfig;
use crate::model::dynamodb::DynamoConfig;
use crate::model::lease_table::LeaseConfig;
use crate::model::refiller::Pacing;
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
    /// The pool had no usable database: its `sql.DB` was being rebuilt and
    /// the rebuild failed or was throttled ("no usable database connection
    /// found"), or the `sql.DB` it waited in was closed by a rebuild
    /// (`sql: database is closed`).
    Unavailable,
}

impl FailCause {
    /// Every cause, in a fixed order.
    pub const ALL: [FailCause; 5] = [
        FailCause::Deadline,
        FailCause::NoConnection,
        FailCause::OpenFailed,
        FailCause::BadConn,
        FailCause::Unavailable,
    ];

    /// The label in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailCause::Deadline => "deadline",
            FailCause::NoConnection => "no_connection",
            FailCause::OpenFailed => "open_failed",
            FailCause::BadConn => "bad_conn",
            FailCause::Unavailable => "unavailable",
        }
    }
}

/// The cluster-wide client limiter (`global_rate_limit`): its state is shared
/// by every process whose limiter is [`ProcessLimiter::Shared`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimiterConfig {
    /// A what-if with no production counterpart: one token bucket
    /// (x/time/rate) for the whole cluster, `rate`/s, `burst`.
    TokenBucket { rate: f64, burst: u32 },
    /// The distributed per-second limiter (DynamoDB): `limit` per second.
    PerSecond { limit: u32 },
    /// The old simulator's fixed window: `limit` per second.
    FixedWindow { limit: u32 },
}

/// The one connection-rate limiter of a process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProcessLimiter {
    /// None.
    None,
    /// Its own token bucket (x/time/rate): `rate`/s, `burst`.
    Local { rate: f64, burst: u32 },
    /// The cluster-wide limiter of [`WorldConfig::global_limiter`].
    Shared,
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

/// One pool of the world: one `DatabaseHandle` of one process (a row of the
/// reports).
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    /// Name (unique).
    pub name: String,
    /// The service it belongs to (reports group pools by it).
    pub service: String,
    /// `target_size` (MaxOpen / max_conns).
    pub target_size: u32,
    /// How requests get connections.
    pub stack: Stack,
    /// The reservoir (used by the reservoir stacks).
    pub reservoir: ReservoirConfig,
    /// How the reservoir's refiller paces its opens.
    pub refill: Pacing,
    /// database/sql settings (used by the database/sql stacks).
    pub sql: SqlSettings,
    /// Its callers, if any.
    pub workload: Option<WorkloadConfig>,
    /// Connect latency.
    pub connect_latency: DurationDist,
    /// Probability that getting an IAM token fails (failure injection).
    pub token_failure_rate: f64,
}

/// One process (a Temporal service instance): it owns `pools` consecutive
/// pools of [`WorldConfig::pools`], which share its limiter and its
/// staggered startup, as the production plugin (one per process) does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessConfig {
    /// How many pools, following those of the previous processes.
    pub pools: u32,
    /// Staggered startup: the first connect waits `U[0, max)`; `None` = off.
    pub startup_max_delay: Option<Time>,
    /// Its connection-rate limiter.
    pub limiter: ProcessLimiter,
}

/// What happens when a request fails with an error production classifies as
/// a lost connection (`DatabaseHandle.ConvertError`): the handle closes its
/// `sql.DB` and builds a new one, at most once a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebuildConfig {
    /// Model the rebuild (production); off: the error is only counted.
    pub enabled: bool,
    /// Model the fix: a rebuild stops the old reservoir's refiller and
    /// closes its connections. Off (production as built): the old refiller
    /// goes on for good, with its connections and leases.
    pub stop_old_refiller: bool,
}

impl Default for RebuildConfig {
    fn default() -> Self {
        RebuildConfig {
            enabled: true,
            stop_old_refiller: false,
        }
    }
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
    /// The pools, process by process.
    pub pools: Vec<PoolConfig>,
    /// The processes; their `pools` add up to `pools.len()`.
    pub processes: Vec<ProcessConfig>,
    /// The cluster-wide client limiter (`global_rate_limit`), if any.
    pub global_limiter: Option<LimiterConfig>,
    /// The lease table, if enabled.
    pub leases: Option<LeaseConfig>,
    /// Latency and failures of DynamoDB calls (leases, per-second limiter).
    pub dynamodb: DynamoConfig,
    /// Pool rebuilds on lost connections.
    pub rebuild: RebuildConfig,
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

    /// Check the process layout: every pool in exactly one process, and a
    /// shared limiter where a process uses one.
    pub fn check(&self) -> Result<(), String> {
        let n: u64 = self.processes.iter().map(|p| u64::from(p.pools)).sum();
        if n != self.pools.len() as u64 {
            return Err(format!(
                "the processes own {n} pools, the world has {}",
                self.pools.len()
            ));
        }
        if self.processes.iter().any(|p| p.pools == 0) {
            return Err("a process owns no pool".into());
        }
        let shared = self
            .processes
            .iter()
            .any(|p| p.limiter == ProcessLimiter::Shared);
        if shared && self.global_limiter.is_none() {
            return Err("a process uses the cluster-wide limiter, but there is none".into());
        }
        Ok(())
    }
}
