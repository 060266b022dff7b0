//! The YAML schema of a scenario file: snake_case keys, unknown keys refused.
//!
//! These types mirror the file one to one; defaults and validation live in
//! [`super::build`]. Every key is documented in README.md.

use crate::engine::time::parse_duration;
use crate::engine::Time;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A duration in Go syntax (`250us`, `100ms`, `1h30m`, `1.5s`); a bare `0` is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Time);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 250us, 100ms, 45s, 11m or 1h30m")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                parse_duration(s).map(Dur).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                if v == 0 {
                    Ok(Dur(0))
                } else {
                    Err(E::custom(format!(
                        "a duration needs a unit: write {v}s, {v}ms, ... (only 0 may stand alone)"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    Err(E::custom("a duration cannot be negative"))
                } else {
                    self.visit_u64(v as u64)
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write {v}s, {v}ms, ..."
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A threshold: a number, or a duration string (for latency assertions).
#[derive(Clone, Debug, PartialEq)]
pub enum Threshold {
    /// A plain number.
    Number(f64),
    /// A string, parsed as a duration where one is expected.
    Text(String),
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Threshold;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a duration")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Threshold, E> {
                Ok(Threshold::Text(s.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Threshold, E> {
                Ok(Threshold::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Threshold, E> {
                Ok(Threshold::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Threshold, E> {
                Ok(Threshold::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Kind of distribution for connect latency.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    /// Always `value`.
    Fixed,
    /// Uniform on [min, max].
    Uniform,
    /// Exponential with `mean`.
    Exponential,
    /// Log-normal with `mean` and `sigma`.
    Lognormal,
}

/// `connect_latency`: a duration, or a distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencySpec {
    /// A fixed duration.
    Fixed(Dur),
    /// A distribution.
    Dist(LatencyDist),
}

/// `connect_latency: {distribution: ..., ...}`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyDist {
    /// fixed | uniform | exponential | lognormal.
    pub distribution: DistKind,
    /// For fixed.
    pub value: Option<Dur>,
    /// For uniform.
    pub min: Option<Dur>,
    /// For uniform.
    pub max: Option<Dur>,
    /// For exponential and lognormal.
    pub mean: Option<Dur>,
    /// For lognormal (default 0.5).
    pub sigma: Option<f64>,
}

impl<'de> Deserialize<'de> for LatencySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LatencySpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration (20ms) or a map {distribution: lognormal, mean: 20ms, sigma: 0.5}",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<LatencySpec, E> {
                parse_duration(s)
                    .map(|t| LatencySpec::Fixed(Dur(t)))
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LatencySpec, E> {
                if v == 0 {
                    Ok(LatencySpec::Fixed(Dur(0)))
                } else {
                    Err(E::custom("a duration needs a unit, e.g. 20ms"))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<LatencySpec, A::Error> {
                LatencyDist::deserialize(de::value::MapAccessDeserializer::new(m))
                    .map(LatencySpec::Dist)
            }
        }
        d.deserialize_any(V)
    }
}

/// The top level of a scenario file.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Display name.
    pub name: Option<String>,
    /// One-line description.
    pub description: Option<String>,
    /// Seed of every random stream.
    pub seed: Option<u64>,
    /// Simulated duration.
    pub duration: Option<Dur>,
    /// Time-series sampling period.
    pub sample_every: Option<Dur>,
    /// Wall-clock instant that simulated time 0 stands for (RFC 3339).
    pub start_time: Option<String>,
    /// Cluster-wide client-side limit on new connections per second.
    pub global_rate_limit: Option<f64>,
    /// Burst of the token bucket behind `global_rate_limit`.
    pub global_rate_limit_burst: Option<u32>,
    /// token_bucket | per_second | fixed_window.
    pub global_rate_limiter: Option<LimiterKind>,
    /// Default connect latency of every pool.
    pub connect_latency: Option<LatencySpec>,
    /// Probability that getting an IAM token fails.
    pub token_failure_rate: Option<f64>,
    /// The DSQL cluster.
    pub cluster: Option<ClusterSpec>,
    /// The global lease table.
    pub lease_table: Option<LeaseSpec>,
    /// Default workload of every pool.
    pub workload: Option<WorkloadSpec>,
    /// Requests that arrive before this are left out of statistics and assertions.
    pub measure_after: Option<Dur>,
    /// database/sql settings of every pool (a pool's own `pool:` overrides key by key).
    pub pool: Option<SqlPoolSpec>,
    /// Each instance's own token bucket, connections/s (0 = none).
    pub local_rate_limit: Option<f64>,
    /// Its burst.
    pub local_rate_limit_burst: Option<u32>,
    /// Latency and failures of DynamoDB calls.
    pub dynamodb: Option<DynamoSpec>,
    /// The handle's rebuild on a lost connection.
    pub pool_rebuild: Option<RebuildSpec>,
    /// The pools.
    pub pools: Vec<PoolSpec>,
    /// Checks of the run.
    pub assertions: Option<Vec<AssertionSpec>>,
}

/// Which client-side limiter implements `global_rate_limit`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimiterKind {
    /// The name of the cluster-wide token bucket before it became a what-if:
    /// refused with a hint.
    TokenBucket,
    /// A what-if: one x/time/rate token bucket for the whole cluster.
    WhatIfTokenBucket,
    /// DynamoDB per-second counter (the distributed rate limiter).
    PerSecond,
    /// The old simulator's fixed window.
    FixedWindow,
}

/// `reservoir.refill`: how the refiller paces its opens.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefillSpec {
    /// Production: back to back while below target.
    Continuous,
    /// Task 5's paced design.
    Paced,
}

/// `dynamodb:`: latency and failures of DynamoDB calls.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DynamoSpec {
    /// Time of one call (a duration or a distribution).
    pub latency: Option<LatencySpec>,
    /// Probability that a call fails.
    pub failure_rate: Option<f64>,
}

/// `pool_rebuild:`: the handle's rebuild on a lost connection.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebuildSpec {
    /// Model the rebuild (production does it).
    pub enabled: Option<bool>,
    /// Model the fix: the old refiller is stopped.
    pub stop_old_refiller: Option<bool>,
}

/// `cluster:`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Most concurrent connections.
    pub max_connections: Option<u32>,
    /// Server-side sustained connects per second.
    pub connect_rate: Option<f64>,
    /// Server-side connect burst.
    pub connect_burst: Option<u32>,
    /// The server closes a connection at this age (0 = never).
    pub max_connection_age: Option<Dur>,
}

/// `lease_table:`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseSpec {
    /// Whether leases are taken.
    pub enabled: Option<bool>,
    /// Most leases at once.
    pub limit: Option<u32>,
}

/// `pools[i]`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Name (the service).
    pub name: String,
    /// MaxOpen / max_conns.
    pub target_size: u32,
    /// The reservoir.
    pub reservoir: Option<ReservoirSpec>,
    /// This pool's workload (overrides the top-level one).
    pub workload: Option<WorkloadSpec>,
    /// This pool's connect latency.
    pub connect_latency: Option<LatencySpec>,
    /// Delay the first connect by U[0, startup_max_delay).
    pub staggered_startup: Option<bool>,
    /// Upper bound of the stagger.
    pub startup_max_delay: Option<Dur>,
    /// database/sql settings of this pool.
    pub pool: Option<SqlPoolSpec>,
    /// This instance's own token bucket, connections/s (0 = none).
    pub local_rate_limit: Option<f64>,
    /// Its burst.
    pub local_rate_limit_burst: Option<u32>,
}

/// `pool:` (top level or `pools[i].pool`): database/sql settings of the plain
/// pool; `max_idle` and `request_timeout` also for `reservoir.stack: database_sql`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlPoolSpec {
    /// MaxIdleConns.
    pub max_idle: Option<u32>,
    /// ConnMaxLifetime (0 = none).
    pub max_lifetime: Option<Dur>,
    /// ConnMaxIdleTime (0 = none).
    pub max_idle_time: Option<Dur>,
    /// Run the production warmup at start.
    pub warmup: Option<bool>,
    /// Run the pool keeper.
    pub keeper: Option<bool>,
    /// A request's deadline from its arrival.
    pub request_timeout: Option<Dur>,
}

/// `reservoir.stack`: what sits between requests and the reservoir.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackKind {
    /// Requests take from the reservoir and give back after each use (Task 13).
    Direct,
    /// database/sql on top of the reservoir driver (production).
    DatabaseSql,
}

/// `pools[i].reservoir`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservoirSpec {
    /// Reservoir mode on.
    pub enabled: Option<bool>,
    /// Buffer capacity.
    pub target_ready: Option<u32>,
    /// Initial fill gate.
    pub low_watermark: Option<u32>,
    /// Base lifetime.
    pub base_lifetime: Option<Dur>,
    /// Lifetime jitter.
    pub jitter: Option<Dur>,
    /// Guard window.
    pub guard_window: Option<Dur>,
    /// Longest initial fill.
    pub initial_fill_timeout: Option<Dur>,
    /// Open()'s brief wait.
    pub empty_wait: Option<Dur>,
    /// `direct` or `database_sql`.
    pub stack: Option<StackKind>,
    /// `continuous` or `paced`.
    pub refill: Option<RefillSpec>,
}

/// Workload type.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadType {
    /// Constant rate.
    Constant,
    /// Baseline with periodic bursts.
    Burst,
}

/// Arrival process.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalSpec {
    /// Poisson arrivals.
    Poisson,
    /// Evenly spaced arrivals.
    Uniform,
}

/// Hold-time distribution.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldDistSpec {
    /// Always hold_duration.
    Fixed,
    /// Uniform around hold_duration.
    Uniform,
    /// Exponential with mean hold_duration.
    Exponential,
    /// Log-normal with mean hold_duration.
    Lognormal,
}

/// `workload:` (top level or per pool).
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// constant | burst.
    #[serde(rename = "type")]
    pub kind: WorkloadType,
    /// constant: requests per second.
    pub checkout_rate: Option<f64>,
    /// Mean hold time.
    pub hold_duration: Option<Dur>,
    /// fixed | uniform | exponential | lognormal.
    pub hold_distribution: Option<HoldDistSpec>,
    /// uniform: half-width as a fraction of the mean (default 1.0: U[0, 2 x mean]).
    pub hold_spread: Option<f64>,
    /// lognormal: sigma (default 0.5).
    pub hold_sigma: Option<f64>,
    /// poisson | uniform.
    pub arrival: Option<ArrivalSpec>,
    /// burst: rate outside bursts.
    pub baseline_rate: Option<f64>,
    /// burst: rate during bursts.
    pub burst_rate: Option<f64>,
    /// burst: length of a burst.
    pub burst_duration: Option<Dur>,
    /// burst: time between burst starts.
    pub burst_interval: Option<Dur>,
    /// burst: start of the first burst (default burst_interval).
    pub first_burst_at: Option<Dur>,
}

/// Assertion type.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssertionType {
    /// Immediate hits / requests >= min.
    ReservoirHitsRatio,
    /// Empty events <= max.
    ReservoirEmptyEvents,
    /// Peak cluster-wide connects in any second <= max.
    MaxConnectsPerSec,
    /// Every pool at target within `duration` (and stays for `stable_for`).
    ConvergeWithin,
    /// Checkout latency at `percentile` <= max.
    CheckoutLatency,
    /// Request wait at `percentile` <= max.
    WaitTime,
    /// Failed requests <= max.
    RequestFailures,
    /// Open connections never below min_fraction x target_size once serving.
    PoolAtSize,
    /// Peak physical connections <= max.
    MaxPhysicalConnections,
}

/// `assertions[i]`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertionSpec {
    /// Which check.
    #[serde(rename = "type")]
    pub kind: AssertionType,
    /// Lower bound.
    pub min: Option<Threshold>,
    /// Upper bound.
    pub max: Option<Threshold>,
    /// converge_within: the deadline.
    pub duration: Option<Dur>,
    /// converge_within: how long the pools must then stay at target.
    pub stable_for: Option<Dur>,
    /// checkout_latency: which percentile (0 < p <= 100).
    pub percentile: Option<f64>,
    /// pool_at_size: the fraction of target_size (0 < f <= 1).
    pub min_fraction: Option<f64>,
    /// Restrict the check to one pool (default: all pools together).
    pub pool: Option<String>,
    /// Judge the threshold on a one-sided confidence bound of the mean across
    /// seeds instead of seed by seed (0 < c < 1, e.g. 0.95): the upper bound
    /// for a maximum, the lower for a minimum. Needs at least 2 seeds
    /// (`check --seeds`, `run --seeds`, `compare --seeds`).
    pub confidence: Option<f64>,
}
