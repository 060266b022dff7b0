//! Defaults, validation, and the [`WorldConfig`] a scenario describes.

use super::budget;
use super::locate::KeyLines;
use super::schema::*;
use super::Problem;
use crate::engine::time::{format_duration, parse_duration, parse_rfc3339};
use crate::engine::{Limits, Time, HOUR, MILLISECOND, MINUTE, SECOND};
use crate::model::dist::DurationDist;
use crate::model::dsql_cluster::ClusterConfig;
use crate::model::dynamodb::DynamoConfig;
use crate::model::lease_table::LeaseConfig;
use crate::model::limiter::TokenBucket;
use crate::model::refiller::Pacing;
use crate::model::reservoir::ReservoirConfig;
use crate::model::workload::{ArrivalProcess, RateShape, WorkloadConfig};
use crate::model::world::{
    LimiterConfig, PoolConfig, ProcessConfig, ProcessLimiter, RebuildConfig, SqlSettings, Stack,
    WorldConfig,
};

/// The documented defaults (README.md has the same table).
pub struct Defaults;

impl Defaults {
    /// `seed`.
    pub const SEED: u64 = 1;
    /// `duration`.
    pub const DURATION: Time = 30 * MINUTE;
    /// `sample_every`.
    pub const SAMPLE_EVERY: Time = SECOND;
    /// `start_time`.
    pub const START_TIME: &'static str = "2026-01-01T00:00:00Z";
    /// `global_rate_limit_burst`.
    pub const GLOBAL_BURST: u32 = 1;
    /// `connect_latency`.
    pub const CONNECT_LATENCY: Time = 20 * MILLISECOND;
    /// `startup_max_delay`.
    pub const STARTUP_MAX_DELAY: Time = 5 * SECOND;
    /// `reservoir.base_lifetime`.
    pub const BASE_LIFETIME: Time = 11 * MINUTE;
    /// `reservoir.jitter`.
    pub const JITTER: Time = 2 * MINUTE;
    /// `reservoir.guard_window`.
    pub const GUARD_WINDOW: Time = 45 * SECOND;
    /// `reservoir.initial_fill_timeout`.
    pub const INITIAL_FILL_TIMEOUT: Time = 30 * SECOND;
    /// `reservoir.empty_wait`.
    pub const EMPTY_WAIT: Time = 100 * MILLISECOND;
    /// `workload.hold_duration`.
    pub const HOLD: Time = 100 * MILLISECOND;
    /// `workload.hold_spread`.
    pub const HOLD_SPREAD: f64 = 1.0;
    /// `workload.hold_sigma` and `connect_latency.sigma`.
    pub const SIGMA: f64 = 0.5;
    /// `lease_table.limit`.
    pub const LEASE_LIMIT: u32 = 10_000;
    /// `pool.max_lifetime` (production ConnMaxLifetime).
    pub const MAX_LIFETIME: Time = 55 * MINUTE;
    /// `pool.request_timeout` (production TEMPORAL_SQL_CONNECTION_TIMEOUT).
    pub const REQUEST_TIMEOUT: Time = 30 * SECOND;
    /// `local_rate_limit` (DOMAIN.md section 4).
    pub const LOCAL_RATE: f64 = 10.0;
    /// `local_rate_limit_burst`.
    pub const LOCAL_BURST: u32 = 100;
}

/// Most requests one run may simulate.
pub const MAX_REQUESTS: f64 = 2.0e9;
/// Most requests holding a connection or waiting at once (memory bound).
pub const MAX_CONCURRENT: f64 = 1.0e7;
/// Shortest `burst_duration` (and so `burst_interval`, which is longer).
pub const MIN_BURST: Time = MILLISECOND;
/// Most time-series rows.
pub const MAX_SAMPLE_ROWS: u64 = 20_000_000;

/// What an assertion checks, with its threshold.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// Immediate hits / requests >= min.
    HitsRatio { min: f64 },
    /// Empty events <= max.
    EmptyEvents { max: u64 },
    /// Cluster-wide connects in any one second <= max.
    MaxConnectsPerSec { max: u64 },
    /// The pools hold their target (ready + in use >= target_ready) from some
    /// instant <= `within` on, for at least `stable_for`.
    ConvergeWithin { within: Time, stable_for: Time },
    /// Checkout latency at `percentile` <= max.
    CheckoutLatency { percentile: f64, max: Time },
    /// Request wait at `percentile` <= max.
    WaitTime { percentile: f64, max: Time },
    /// Failed requests <= max.
    RequestFailures { max: u64 },
    /// Once serving (and after `measure_after`), sampled open connections
    /// never below `min_fraction` x target_size.
    PoolAtSize { min_fraction: f64 },
    /// Peak physical connections <= max (a pool's own, or cluster-wide).
    MaxPhysicalConnections { max: u64 },
}

/// One assertion of the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct AssertionDef {
    /// The check.
    pub check: Check,
    /// Pool index it is restricted to (None: all pools).
    pub pool: Option<usize>,
    /// Its `type` as written.
    pub type_name: &'static str,
    /// `confidence`: judged on the one-sided confidence bound of the mean
    /// across seeds ([`crate::stats::bound`]) instead of seed by seed.
    pub confidence: Option<f64>,
}

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unix nanoseconds that simulated time 0 stands for.
    pub start_unix_ns: u64,
    /// The world to simulate.
    pub world: WorldConfig,
    /// The assertions.
    pub assertions: Vec<AssertionDef>,
    /// Where it was read from (set by the loader, [`Scenario::with_source`]).
    pub source: Option<ScenarioSource>,
}

/// Where a scenario came from, so a result can be traced to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioSource {
    /// The path as given (`-` for standard input).
    pub path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

impl Scenario {
    /// The same scenario, recorded as read from `path` with these bytes.
    pub fn with_source(mut self, path: &str, bytes: &[u8]) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(bytes);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.source = Some(ScenarioSource {
            path: path.to_string(),
            sha256,
        });
        self
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.world.seed = seed;
        self
    }
}

/// Longest simulated duration.
pub const MAX_DURATION: Time = 30 * 24 * HOUR;

struct V<'a> {
    lines: &'a KeyLines,
    problems: Vec<Problem>,
}

impl V<'_> {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        self.problems.push(Problem {
            line: self.lines.line_of(&path),
            path,
            message: message.into(),
            option: None,
        });
    }

    /// Whether the file has the key at `path` (its own line is recorded).
    fn written(&self, path: &str) -> bool {
        self.lines.has(path)
    }

    /// A connection rate that feeds a token bucket: also refused when the
    /// bucket would refuse it (below 0.0005/s it rounds to 0 milli-tokens/s).
    fn bucket_rate(&mut self, path: &str, v: Option<f64>) -> Option<f64> {
        let v = self.rate(path, v, TokenBucket::MAX_RATE_PER_SEC)?;
        if TokenBucket::rate_milli_of(v).is_err() {
            self.err(
                path,
                format!("must be at least 0.001 connections per second (got {v}): token-bucket rates are kept in whole thousandths of a token per second, and this one rounds to 0"),
            );
            return None;
        }
        Some(v)
    }

    fn rate(&mut self, path: &str, v: Option<f64>, max: f64) -> Option<f64> {
        let v = v?;
        if !(v.is_finite() && v > 0.0) {
            self.err(path, format!("must be a number greater than 0 (got {v})"));
            None
        } else if v > max {
            self.err(path, format!("must be at most {max} (got {v})"));
            None
        } else {
            Some(v)
        }
    }

    fn required<T>(&mut self, path: &str, v: Option<T>, why: &str) -> Option<T> {
        if v.is_none() {
            self.err(path, format!("is required {why}"));
        }
        v
    }

    fn not_for(&mut self, path: &str, present: bool, why: &str) {
        if present {
            self.err(path, format!("does not apply {why}"));
        }
    }

    fn latency(&mut self, path: &str, spec: &LatencySpec) -> DurationDist {
        match spec {
            LatencySpec::Fixed(d) => {
                if d.0 > MINUTE {
                    self.err(path, "must be at most 1m");
                }
                DurationDist::Fixed(d.0)
            }
            LatencySpec::Dist(d) => {
                let p = |k: &str| format!("{path}.{k}");
                let kind = d.distribution;
                let what = format!("to a {kind:?} distribution").to_lowercase();
                self.not_for(
                    &p("value"),
                    d.value.is_some() && kind != DistKind::Fixed,
                    &what,
                );
                let uniform = kind == DistKind::Uniform;
                self.not_for(&p("min"), d.min.is_some() && !uniform, &what);
                self.not_for(&p("max"), d.max.is_some() && !uniform, &what);
                let has_mean = matches!(kind, DistKind::Exponential | DistKind::Lognormal);
                self.not_for(&p("mean"), d.mean.is_some() && !has_mean, &what);
                self.not_for(
                    &p("sigma"),
                    d.sigma.is_some() && kind != DistKind::Lognormal,
                    &what,
                );
                let dist = match kind {
                    DistKind::Fixed => DurationDist::Fixed(
                        self.required(&p("value"), d.value, "for a fixed distribution")
                            .map_or(0, |v| v.0),
                    ),
                    DistKind::Uniform => {
                        let min = self.required(&p("min"), d.min, "for a uniform distribution");
                        let max = self.required(&p("max"), d.max, "for a uniform distribution");
                        let (min, max) = (min.map_or(0, |v| v.0), max.map_or(0, |v| v.0));
                        if min > max {
                            self.err(p("min"), "must not be greater than max");
                        }
                        DurationDist::Uniform { min, max }
                    }
                    DistKind::Exponential => DurationDist::Exponential {
                        mean: self
                            .required(&p("mean"), d.mean, "for an exponential distribution")
                            .map_or(0, |v| v.0),
                    },
                    DistKind::Lognormal => {
                        let sigma = d.sigma.unwrap_or(Defaults::SIGMA);
                        if !(sigma.is_finite() && (0.0..=3.0).contains(&sigma)) {
                            self.err(p("sigma"), format!("must be between 0 and 3 (got {sigma})"));
                        }
                        DurationDist::LogNormal {
                            mean: self
                                .required(&p("mean"), d.mean, "for a lognormal distribution")
                                .map_or(0, |v| v.0),
                            sigma: sigma.clamp(0.0, 3.0),
                        }
                    }
                };
                if dist.mean() > MINUTE {
                    self.err(path, "mean must be at most 1m");
                }
                dist
            }
        }
    }

    fn workload(&mut self, path: &str, w: &WorkloadSpec) -> Option<WorkloadConfig> {
        let p = |k: &str| format!("{path}.{k}");
        const MAX_RATE: f64 = 1.0e6;
        let shape = match w.kind {
            WorkloadType::Constant => {
                let why = "to a constant workload (it is for type: burst)";
                self.not_for(&p("baseline_rate"), w.baseline_rate.is_some(), why);
                self.not_for(&p("burst_rate"), w.burst_rate.is_some(), why);
                self.not_for(&p("burst_duration"), w.burst_duration.is_some(), why);
                self.not_for(&p("burst_interval"), w.burst_interval.is_some(), why);
                self.not_for(&p("first_burst_at"), w.first_burst_at.is_some(), why);
                let rate =
                    self.required(&p("checkout_rate"), w.checkout_rate, "for type: constant");
                let rate = self.rate(&p("checkout_rate"), rate, MAX_RATE);
                RateShape::Constant { rate: rate? }
            }
            WorkloadType::Burst => {
                self.not_for(
                    &p("checkout_rate"),
                    w.checkout_rate.is_some(),
                    "to a burst workload (use baseline_rate and burst_rate)",
                );
                let why = "for type: burst";
                let b = self.required(&p("baseline_rate"), w.baseline_rate, why);
                let r = self.required(&p("burst_rate"), w.burst_rate, why);
                let d = self.required(&p("burst_duration"), w.burst_duration, why);
                let i = self.required(&p("burst_interval"), w.burst_interval, why);
                let baseline = self.rate(&p("baseline_rate"), b, MAX_RATE);
                let burst = self.rate(&p("burst_rate"), r, MAX_RATE);
                let (d, i) = (d?.0, i?.0);
                if d < MIN_BURST {
                    self.err(
                        p("burst_duration"),
                        format!("must be at least {} (got {}): shorter bursts model nothing a connect or a hold could see", format_duration(MIN_BURST), format_duration(d)),
                    );
                    return None;
                }
                if i < MIN_BURST {
                    self.err(
                        p("burst_interval"),
                        format!(
                            "must be at least {} (got {})",
                            format_duration(MIN_BURST),
                            format_duration(i)
                        ),
                    );
                    return None;
                }
                if d >= i {
                    self.err(
                        p("burst_duration"),
                        "must be shorter than burst_interval (a burst cannot outlast its interval)",
                    );
                    return None;
                }
                RateShape::Burst {
                    baseline: baseline?,
                    burst: burst?,
                    burst_duration: d,
                    interval: i,
                    first_at: w.first_burst_at.map_or(i, |f| f.0),
                }
            }
        };
        let mean = w.hold_duration.map_or(Defaults::HOLD, |d| d.0);
        if mean > 24 * HOUR {
            self.err(p("hold_duration"), "must be at most 24h");
        }
        let dist = w.hold_distribution.unwrap_or(HoldDistSpec::Fixed);
        self.not_for(
            &p("hold_spread"),
            w.hold_spread.is_some() && dist != HoldDistSpec::Uniform,
            "unless hold_distribution is uniform",
        );
        self.not_for(
            &p("hold_sigma"),
            w.hold_sigma.is_some() && dist != HoldDistSpec::Lognormal,
            "unless hold_distribution is lognormal",
        );
        let hold = match dist {
            HoldDistSpec::Fixed => DurationDist::Fixed(mean),
            HoldDistSpec::Uniform => {
                let s = w.hold_spread.unwrap_or(Defaults::HOLD_SPREAD);
                if !(s.is_finite() && (0.0..=1.0).contains(&s)) {
                    self.err(
                        p("hold_spread"),
                        format!("must be between 0 and 1 (got {s})"),
                    );
                }
                let half = (mean as f64 * s.clamp(0.0, 1.0)).round() as Time;
                DurationDist::Uniform {
                    min: mean - half,
                    max: mean + half,
                }
            }
            HoldDistSpec::Exponential => DurationDist::Exponential { mean },
            HoldDistSpec::Lognormal => {
                let s = w.hold_sigma.unwrap_or(Defaults::SIGMA);
                if !(s.is_finite() && (0.0..=3.0).contains(&s)) {
                    self.err(
                        p("hold_sigma"),
                        format!("must be between 0 and 3 (got {s})"),
                    );
                }
                DurationDist::LogNormal {
                    mean,
                    sigma: s.clamp(0.0, 3.0),
                }
            }
        };
        let arrival = match w.arrival.unwrap_or(ArrivalSpec::Poisson) {
            ArrivalSpec::Poisson => ArrivalProcess::Poisson,
            ArrivalSpec::Uniform => ArrivalProcess::Uniform,
        };
        Some(WorkloadConfig {
            shape,
            arrival,
            hold,
        })
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Validate a parsed file and build the scenario; all problems at once.
pub fn build(f: ScenarioFile, lines: &KeyLines, stem: &str) -> Result<Scenario, Vec<Problem>> {
    let mut v = V {
        lines,
        problems: Vec::new(),
    };
    let duration = f.duration.map_or(Defaults::DURATION, |d| d.0);
    if duration == 0 {
        v.err("duration", "must be greater than 0");
    } else if duration > MAX_DURATION {
        v.err("duration", "must be at most 720h (30 days)");
    }
    // The default period is 1 s, or the whole run if that is shorter.
    let sample_every = f
        .sample_every
        .map_or(Defaults::SAMPLE_EVERY.min(duration.max(1)), |d| d.0);
    // Problems of the sampling grid belong to the key the file wrote.
    let grid_key = if f.sample_every.is_some() {
        "sample_every"
    } else if v.written("duration") {
        "duration"
    } else {
        "pools"
    };
    if sample_every == 0 {
        v.err("sample_every", "must be greater than 0");
    } else if sample_every > duration.max(1) {
        v.err("sample_every", "must not be longer than duration");
    } else if (duration / sample_every + 1).saturating_mul(f.pools.len() as u64) > MAX_SAMPLE_ROWS {
        v.err(
            grid_key,
            format!(
                "sampling every {} over {} with {} pool{} makes more than {MAX_SAMPLE_ROWS} time-series rows (lengthen sample_every or shorten duration)",
                crate::engine::time::format_duration(sample_every),
                crate::engine::time::format_duration(duration),
                f.pools.len(),
                if f.pools.len() == 1 { "" } else { "s" }
            ),
        );
    }
    let measure_after = f.measure_after.map_or(0, |d| d.0);
    if measure_after >= duration && duration > 0 {
        v.err(
            "measure_after",
            "must be shorter than duration (nothing would be measured)",
        );
    }
    let start_unix_ns = match &f.start_time {
        None => parse_rfc3339(Defaults::START_TIME).expect("default start time parses"),
        Some(s) => match parse_rfc3339(s) {
            Ok(t) => {
                // Every timestamp of the run (start_time + t, t <= duration) must
                // be representable, or reports would wrap to 1970.
                if t.checked_add(duration).is_none() {
                    v.err(
                        "start_time",
                        format!(
                            "({s}) plus the duration ({}) passes {}, the last instant poolsim can represent (nanoseconds since 1970 in 64 bits); choose an earlier start_time",
                            crate::engine::time::format_duration(duration),
                            crate::engine::time::rfc3339_nano(u64::MAX)
                        ),
                    );
                }
                t
            }
            Err(e) => {
                v.err(
                    "start_time",
                    format!("must be an RFC 3339 time such as 2026-01-01T00:00:00Z: {e}"),
                );
                0
            }
        },
    };

    let kind = f.global_rate_limiter.unwrap_or(LimiterKind::PerSecond);
    let global_limiter = match f.global_rate_limit {
        None => {
            v.not_for(
                "global_rate_limit_burst",
                f.global_rate_limit_burst.is_some(),
                "without global_rate_limit",
            );
            v.not_for(
                "global_rate_limiter",
                f.global_rate_limiter.is_some(),
                "without global_rate_limit",
            );
            None
        }
        Some(r) => {
            let rate = if kind == LimiterKind::WhatIfTokenBucket {
                v.bucket_rate("global_rate_limit", Some(r))
            } else {
                v.rate("global_rate_limit", Some(r), 1.0e9)
            };
            let burst = f.global_rate_limit_burst.unwrap_or(Defaults::GLOBAL_BURST);
            if burst == 0 {
                v.err("global_rate_limit_burst", "must be at least 1");
            }
            match (kind, rate) {
                (LimiterKind::TokenBucket, _) => {
                    v.err(
                        "global_rate_limiter",
                        "token_bucket is now what_if_token_bucket: a cluster-wide token bucket has no production counterpart (production runs one limiter per process: its own token bucket, or the distributed per_second limiter); write what_if_token_bucket to keep it as a what-if",
                    );
                    None
                }
                (_, None) => None,
                (LimiterKind::WhatIfTokenBucket, Some(rate)) => Some(LimiterConfig::TokenBucket {
                    rate,
                    burst: burst.max(1),
                }),
                (k, Some(rate)) => {
                    v.not_for(
                        "global_rate_limit_burst",
                        f.global_rate_limit_burst.is_some(),
                        "to a per-second limiter",
                    );
                    if rate.fract() != 0.0 || rate > u32::MAX as f64 {
                        v.err(
                            "global_rate_limit",
                            "must be a whole number of connections per second for this limiter",
                        );
                    }
                    let limit = rate as u32;
                    Some(if k == LimiterKind::PerSecond {
                        LimiterConfig::PerSecond { limit }
                    } else {
                        LimiterConfig::FixedWindow { limit }
                    })
                }
            }
        }
    };

    let dynamodb = match &f.dynamodb {
        None => DynamoConfig::default(),
        Some(d) => {
            let latency = d
                .latency
                .as_ref()
                .map_or(DurationDist::Fixed(0), |l| v.latency("dynamodb.latency", l));
            let failure_rate = d.failure_rate.unwrap_or(0.0);
            if !(failure_rate.is_finite() && (0.0..=1.0).contains(&failure_rate)) {
                v.err(
                    "dynamodb.failure_rate",
                    format!("must be between 0 and 1 (got {failure_rate})"),
                );
            }
            DynamoConfig {
                latency,
                failure_rate: failure_rate.clamp(0.0, 1.0),
            }
        }
    };
    let rebuild = RebuildConfig {
        enabled: f
            .pool_rebuild
            .as_ref()
            .and_then(|r| r.enabled)
            .unwrap_or(true),
        stop_old_refiller: f
            .pool_rebuild
            .as_ref()
            .and_then(|r| r.stop_old_refiller)
            .unwrap_or(false),
    };

    let default_latency = match &f.connect_latency {
        Some(l) => v.latency("connect_latency", l),
        None => DurationDist::Fixed(Defaults::CONNECT_LATENCY),
    };
    let token_failure_rate = f.token_failure_rate.unwrap_or(0.0);
    if !(token_failure_rate.is_finite() && (0.0..1.0).contains(&token_failure_rate)) {
        v.err(
            "token_failure_rate",
            format!("must be at least 0 and below 1 (got {token_failure_rate})"),
        );
    }

    let mut cluster = ClusterConfig::default();
    if let Some(c) = &f.cluster {
        if let Some(m) = c.max_connections {
            if m == 0 {
                v.err("cluster.max_connections", "must be at least 1");
            }
            cluster.max_connections = m.max(1);
        }
        if let Some(r) = v.bucket_rate("cluster.connect_rate", c.connect_rate) {
            cluster.connect_rate = r;
        }
        if let Some(b) = c.connect_burst {
            if b == 0 {
                v.err("cluster.connect_burst", "must be at least 1");
            }
            cluster.connect_burst = b.max(1);
        }
        if let Some(a) = c.max_connection_age {
            cluster.max_connection_age = a.0;
        }
    }

    let leases = match &f.lease_table {
        Some(l) if l.enabled.unwrap_or(true) => {
            let limit = l.limit.unwrap_or(Defaults::LEASE_LIMIT);
            if limit == 0 {
                v.err("lease_table.limit", "must be at least 1");
            }
            Some(LeaseConfig {
                limit: limit.max(1),
            })
        }
        _ => None,
    };

    let top_workload = f.workload.as_ref().and_then(|w| v.workload("workload", w));

    if f.pools.is_empty() {
        v.err("pools", "must list at least one pool");
    } else if f.pools.len() > 10_000 {
        v.err("pools", "must list at most 10000 pools");
    }
    let mut pools = Vec::with_capacity(f.pools.len());
    let mut processes = Vec::with_capacity(f.pools.len());
    let mut requests = 0.0;
    let mut concurrent = 0.0;
    let mut names = std::collections::BTreeSet::new();
    for (i, p) in f.pools.iter().enumerate() {
        let at = |k: &str| format!("pools[{i}].{k}");
        if !valid_name(&p.name) {
            v.err(
                at("name"),
                "must be 1-64 characters of letters, digits, '-', '_' or '.'",
            );
        } else if !names.insert(p.name.as_str()) {
            v.err(at("name"), format!("'{}' is used by another pool", p.name));
        }
        if p.target_size == 0 || p.target_size > 100_000 {
            v.err(at("target_size"), "must be between 1 and 100000");
        }
        let r = p.reservoir.clone().unwrap_or(ReservoirSpec {
            enabled: None,
            target_ready: None,
            low_watermark: None,
            base_lifetime: None,
            jitter: None,
            guard_window: None,
            initial_fill_timeout: None,
            empty_wait: None,
            stack: None,
            refill: None,
        });
        let stack = if r.enabled.unwrap_or(false) {
            match r.stack.unwrap_or(StackKind::Direct) {
                StackKind::Direct => Stack::Direct,
                StackKind::DatabaseSql => Stack::DatabaseSql,
            }
        } else {
            Stack::Plain
        };
        let sql = sql_settings(
            &mut v,
            &at("pool"),
            f.pool.as_ref(),
            p.pool.as_ref(),
            p.target_size,
        );
        let limiter = if global_limiter.is_some() {
            // One limiter per process: the cluster-wide one replaces the local bucket.
            let why = "when global_rate_limit is set: production runs one limiter per process, the distributed one or its own token bucket, never both";
            v.not_for(&at("local_rate_limit"), p.local_rate_limit.is_some(), why);
            v.not_for(
                &at("local_rate_limit_burst"),
                p.local_rate_limit_burst.is_some(),
                why,
            );
            if i == 0 {
                v.not_for("local_rate_limit", f.local_rate_limit.is_some(), why);
                v.not_for(
                    "local_rate_limit_burst",
                    f.local_rate_limit_burst.is_some(),
                    why,
                );
            }
            ProcessLimiter::Shared
        } else {
            match local_limiter(&mut v, &f, p, i) {
                Some((rate, burst)) => ProcessLimiter::Local { rate, burst },
                None => ProcessLimiter::None,
            }
        };
        let low_watermark = r.low_watermark.unwrap_or(p.target_size);
        // DOMAIN.md section 6: target_ready is raised to low_watermark if lower.
        let target_ready = r.target_ready.unwrap_or(p.target_size).max(low_watermark);
        // Report it at the key that was written; a target_ready derived from
        // target_size alone is already covered by target_size's own check.
        let ready_key = if r.target_ready.is_some() && r.target_ready >= r.low_watermark {
            Some(at("reservoir.target_ready"))
        } else if r.low_watermark.is_some() {
            Some(at("reservoir.low_watermark"))
        } else {
            None
        };
        if let Some(key) = ready_key {
            if target_ready == 0 {
                v.err(key, "must be at least 1 (the reservoir's capacity)");
            } else if target_ready > 100_000 {
                v.err(key, "must be at most 100000");
            }
        }
        let base_lifetime = r.base_lifetime.map_or(Defaults::BASE_LIFETIME, |d| d.0);
        let guard_window = r.guard_window.map_or(Defaults::GUARD_WINDOW, |d| d.0);
        let empty_wait = r.empty_wait.map_or(Defaults::EMPTY_WAIT, |d| d.0);
        if base_lifetime == 0 {
            v.err(at("reservoir.base_lifetime"), "must be greater than 0");
        }
        if guard_window >= base_lifetime && base_lifetime > 0 && r.guard_window.is_none() {
            v.err(
                at("reservoir.base_lifetime"),
                format!(
                    "({}) must be longer than guard_window ({}, the default): every connection would be discarded",
                    crate::engine::time::format_duration(base_lifetime),
                    crate::engine::time::format_duration(guard_window)
                ),
            );
        } else if guard_window >= base_lifetime {
            v.err(
                at("reservoir.guard_window"),
                format!(
                    "({}) must be shorter than base_lifetime ({}): every connection would be discarded",
                    crate::engine::time::format_duration(guard_window),
                    crate::engine::time::format_duration(base_lifetime)
                ),
            );
        }
        if empty_wait > MINUTE {
            v.err(at("reservoir.empty_wait"), "must be at most 1m");
        }
        let reservoir = ReservoirConfig {
            target_ready: target_ready.max(1),
            low_watermark,
            base_lifetime,
            jitter: r.jitter.map_or(Defaults::JITTER, |d| d.0),
            guard_window,
            initial_fill_timeout: r
                .initial_fill_timeout
                .map_or(Defaults::INITIAL_FILL_TIMEOUT, |d| d.0),
            empty_wait,
        };
        let workload = match &p.workload {
            Some(w) => v.workload(&at("workload"), w),
            None => top_workload,
        };
        if let Some(w) = &workload {
            requests += w.shape.expected_arrivals(duration);
            let hold_s = w.hold.mean() as f64 / SECOND as f64;
            let wait_s = empty_wait.max(sql.request_timeout) as f64 / SECOND as f64;
            concurrent += w.shape.peak_rate() * (hold_s + wait_s);
        }
        let connect_latency = match &p.connect_latency {
            Some(l) => v.latency(&at("connect_latency"), l),
            None => default_latency,
        };
        let stagger = p.staggered_startup.unwrap_or(true);
        if !stagger && p.startup_max_delay.is_some() {
            v.err(
                at("startup_max_delay"),
                "does not apply when staggered_startup is false",
            );
        }
        let startup_max_delay = stagger.then(|| {
            p.startup_max_delay
                .map_or(Defaults::STARTUP_MAX_DELAY, |d| d.0)
        });
        let refill = match r.refill {
            None | Some(RefillSpec::Continuous) => Pacing::Continuous,
            Some(RefillSpec::Paced) => Pacing::Paced { low_watermark },
        };
        pools.push(PoolConfig {
            name: p.name.clone(),
            service: p.name.clone(),
            target_size: p.target_size,
            stack,
            sql,
            reservoir,
            refill,
            workload,
            connect_latency,
            token_failure_rate,
        });
        // Each pool of the list is one process of its own.
        processes.push(ProcessConfig {
            pools: 1,
            startup_max_delay,
            limiter,
        });
    }
    // The load estimates belong to a workload the file wrote.
    let workload_key = if f.workload.is_some() {
        "workload".to_string()
    } else {
        (0..f.pools.len())
            .find(|&i| f.pools[i].workload.is_some())
            .map_or_else(
                || "workload".to_string(),
                |i| format!("pools[{i}].workload"),
            )
    };
    let workload_key = workload_key.as_str();
    if requests > MAX_REQUESTS {
        v.err(
            workload_key,
            format!("the scenario would simulate about {requests:.3e} requests; the limit is {MAX_REQUESTS:.0e} (shorten duration or lower the rates)"),
        );
    }
    if concurrent > MAX_CONCURRENT {
        v.err(
            workload_key,
            format!("about {concurrent:.3e} requests would hold a connection at once (rate x hold); the limit is {MAX_CONCURRENT:.0e}"),
        );
    }

    let mut assertions = Vec::new();
    for (i, a) in f.assertions.iter().flatten().enumerate() {
        if let Some(def) = assertion(&mut v, i, a, &f.pools) {
            assertions.push(def);
        }
    }

    let world = WorldConfig {
        seed: f.seed.unwrap_or(Defaults::SEED),
        duration,
        sample_every,
        measure_after,
        pools,
        processes,
        global_limiter,
        leases,
        dynamodb,
        rebuild,
        cluster,
        limits: Limits::default(),
    };
    if v.problems.is_empty() {
        check_budget(&mut v, &world, requests, concurrent, grid_key, workload_key);
    }
    if !v.problems.is_empty() {
        v.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        return Err(v.problems);
    }
    Ok(Scenario {
        name: f.name.unwrap_or_else(|| stem.to_string()),
        description: f.description.unwrap_or_default(),
        start_unix_ns,
        world,
        assertions,
        source: None,
    })
}

/// Refuse a scenario whose estimated memory or event count is above what a
/// run may use ([`budget`]), naming the key that contributes most.
fn check_budget(
    v: &mut V,
    world: &WorldConfig,
    requests: f64,
    concurrent: f64,
    grid_key: &str,
    workload_key: &str,
) {
    let est = budget::memory(world, concurrent);
    if est.run_total() > budget::MEMORY_BUDGET {
        let (key, hint) = match est.largest() {
            "rows" => (grid_key, budget::sampling_hint(world, &est)),
            "pools" => {
                let rows_per_pool = budget::sample_rows(world.duration, world.sample_every, 1);
                let per_pool =
                    budget::BYTES_PER_POOL + rows_per_pool.saturating_mul(budget::BYTES_PER_ROW);
                (
                    "pools",
                    format!(
                        "at most about {} pools",
                        budget::MEMORY_BUDGET.saturating_sub(budget::BASE_BYTES) / per_pool
                    ),
                )
            }
            _ => (
                workload_key,
                "lower the rates or the hold times".to_string(),
            ),
        };
        v.err(
            key,
            format!(
                "the run would need about {} of memory ({}); the limit is {}: {hint}",
                budget::bytes(est.run_total()),
                est.describe(world.pools.len()),
                budget::bytes(budget::MEMORY_BUDGET)
            ),
        );
    }
    let events = budget::events(world, requests);
    let limit = budget::event_budget(&world.limits);
    if events > limit {
        let key = if requests * budget::EVENTS_PER_REQUEST >= events / 2.0 {
            workload_key
        } else if v.written("duration") {
            "duration"
        } else {
            "pools"
        };
        v.err(
            key,
            format!(
                "the run would process about {events:.2e} events (about {} per request and {} per pool per simulated second); the engine stops a run at {limit:.0e}: shorten duration, lower the rates or use fewer pools",
                budget::EVENTS_PER_REQUEST,
                budget::EVENTS_PER_POOL_SECOND
            ),
        );
    }
}

fn assertion(v: &mut V, i: usize, a: &AssertionSpec, pools: &[PoolSpec]) -> Option<AssertionDef> {
    let p = |k: &str| format!("assertions[{i}].{k}");
    let pool = match &a.pool {
        None => None,
        Some(name) => match pools.iter().position(|q| &q.name == name) {
            Some(idx) => Some(idx),
            None => {
                v.err(p("pool"), format!("names no pool ('{name}')"));
                return None;
            }
        },
    };
    let type_name = match a.kind {
        AssertionType::ReservoirHitsRatio => "reservoir_hits_ratio",
        AssertionType::ReservoirEmptyEvents => "reservoir_empty_events",
        AssertionType::MaxConnectsPerSec => "max_connects_per_sec",
        AssertionType::ConvergeWithin => "converge_within",
        AssertionType::CheckoutLatency => "checkout_latency",
        AssertionType::WaitTime => "wait_time",
        AssertionType::RequestFailures => "request_failures",
        AssertionType::PoolAtSize => "pool_at_size",
        AssertionType::MaxPhysicalConnections => "max_physical_connections",
    };
    let why = format!("to {type_name}");
    let uses_min = a.kind == AssertionType::ReservoirHitsRatio;
    let uses_max = matches!(
        a.kind,
        AssertionType::ReservoirEmptyEvents
            | AssertionType::MaxConnectsPerSec
            | AssertionType::CheckoutLatency
            | AssertionType::WaitTime
            | AssertionType::RequestFailures
            | AssertionType::MaxPhysicalConnections
    );
    let latency = matches!(
        a.kind,
        AssertionType::CheckoutLatency | AssertionType::WaitTime
    );
    v.not_for(&p("min"), a.min.is_some() && !uses_min, &why);
    v.not_for(&p("max"), a.max.is_some() && !uses_max, &why);
    let conv = a.kind == AssertionType::ConvergeWithin;
    v.not_for(&p("duration"), a.duration.is_some() && !conv, &why);
    v.not_for(&p("stable_for"), a.stable_for.is_some() && !conv, &why);
    v.not_for(&p("percentile"), a.percentile.is_some() && !latency, &why);
    v.not_for(
        &p("min_fraction"),
        a.min_fraction.is_some() && a.kind != AssertionType::PoolAtSize,
        &why,
    );
    if let Some(c) = a.confidence {
        if !(c > 0.0 && c < 1.0) {
            v.err(
                p("confidence"),
                format!("must be above 0 and below 1, e.g. 0.95 (got {c})"),
            );
        }
    }
    if a.pool.is_some() && a.kind == AssertionType::MaxConnectsPerSec {
        v.err(
            p("pool"),
            "does not apply to max_connects_per_sec (connects are counted cluster-wide)",
        );
    }
    let number = |v: &mut V, key: &str, t: &Option<Threshold>| -> Option<f64> {
        match v.required(&p(key), t.as_ref(), &why)? {
            Threshold::Number(x) if x.is_finite() && *x >= 0.0 => Some(*x),
            Threshold::Number(x) => {
                v.err(p(key), format!("must be a number of at least 0 (got {x})"));
                None
            }
            Threshold::Text(s) => {
                v.err(p(key), format!("must be a number (got '{s}')"));
                None
            }
        }
    };
    let count = |v: &mut V, key: &str, t: &Option<Threshold>| -> Option<u64> {
        let x = number(v, key, t)?;
        if x.fract() != 0.0 {
            v.err(p(key), format!("must be a whole number (got {x})"));
            return None;
        }
        Some(x as u64)
    };
    let check = match a.kind {
        AssertionType::ReservoirHitsRatio => {
            let min = number(v, "min", &a.min)?;
            if min > 1.0 {
                v.err(
                    p("min"),
                    format!("is a ratio and must be between 0 and 1 (got {min})"),
                );
                return None;
            }
            Check::HitsRatio { min }
        }
        AssertionType::ReservoirEmptyEvents => Check::EmptyEvents {
            max: count(v, "max", &a.max)?,
        },
        AssertionType::MaxConnectsPerSec => Check::MaxConnectsPerSec {
            max: count(v, "max", &a.max)?,
        },
        AssertionType::ConvergeWithin => Check::ConvergeWithin {
            within: v.required(&p("duration"), a.duration, &why)?.0,
            stable_for: a.stable_for.map_or(0, |d| d.0),
        },
        AssertionType::RequestFailures => Check::RequestFailures {
            max: count(v, "max", &a.max)?,
        },
        AssertionType::MaxPhysicalConnections => Check::MaxPhysicalConnections {
            max: count(v, "max", &a.max)?,
        },
        AssertionType::PoolAtSize => {
            let f = v.required(&p("min_fraction"), a.min_fraction, &why)?;
            if !(f > 0.0 && f <= 1.0) {
                v.err(
                    p("min_fraction"),
                    format!("must be above 0 and at most 1 (got {f})"),
                );
                return None;
            }
            Check::PoolAtSize { min_fraction: f }
        }
        AssertionType::CheckoutLatency | AssertionType::WaitTime => {
            let percentile = v.required(&p("percentile"), a.percentile, &why)?;
            if !(percentile > 0.0 && percentile <= 100.0) {
                v.err(
                    p("percentile"),
                    format!("must be above 0 and at most 100 (got {percentile})"),
                );
                return None;
            }
            let max = match v.required(&p("max"), a.max.as_ref(), &why)? {
                Threshold::Text(s) => match parse_duration(s) {
                    Ok(d) => d,
                    Err(e) => {
                        v.err(p("max"), e);
                        return None;
                    }
                },
                Threshold::Number(x) if *x == 0.0 => 0,
                Threshold::Number(x) => {
                    v.err(
                        p("max"),
                        format!("must be a duration such as 1ms (got {x})"),
                    );
                    return None;
                }
            };
            if a.kind == AssertionType::WaitTime {
                Check::WaitTime { percentile, max }
            } else {
                Check::CheckoutLatency { percentile, max }
            }
        }
    };
    Some(AssertionDef {
        check,
        pool,
        type_name,
        confidence: a.confidence.filter(|c| *c > 0.0 && *c < 1.0),
    })
}

/// The database/sql settings of pool `path` (`pools[i].pool`): its own keys,
/// else the top-level `pool:` keys, else the production defaults.
fn sql_settings(
    v: &mut V,
    path: &str,
    top: Option<&SqlPoolSpec>,
    own: Option<&SqlPoolSpec>,
    target_size: u32,
) -> SqlSettings {
    let none = SqlPoolSpec::default();
    let (top, own) = (top.unwrap_or(&none), own.unwrap_or(&none));
    // Report a problem at the key that was written: the pool's own, else the top level.
    let key = |k: &str, own_set: bool| {
        if own_set {
            format!("{path}.{k}")
        } else {
            format!("pool.{k}")
        }
    };
    let max_idle = own.max_idle.or(top.max_idle).unwrap_or(target_size);
    if max_idle > target_size {
        v.err(
            key("max_idle", own.max_idle.is_some()),
            format!(
                "({max_idle}) must not exceed the pool's target_size ({target_size}); database/sql would lower it silently"
            ),
        );
    }
    let dur = |o: Option<Dur>, t: Option<Dur>| o.or(t).map(|d| d.0);
    let max_lifetime = dur(own.max_lifetime, top.max_lifetime).unwrap_or(Defaults::MAX_LIFETIME);
    let max_idle_time = dur(own.max_idle_time, top.max_idle_time).unwrap_or(0);
    let request_timeout =
        dur(own.request_timeout, top.request_timeout).unwrap_or(Defaults::REQUEST_TIMEOUT);
    if request_timeout == 0 {
        v.err(
            key("request_timeout", own.request_timeout.is_some()),
            "must be greater than 0",
        );
    } else if request_timeout > HOUR {
        v.err(
            key("request_timeout", own.request_timeout.is_some()),
            "must be at most 1h",
        );
    }
    SqlSettings {
        max_idle: max_idle.min(target_size),
        max_lifetime,
        max_idle_time,
        warmup: own.warmup.or(top.warmup).unwrap_or(true),
        keeper: own.keeper.or(top.keeper).unwrap_or(true),
        request_timeout: request_timeout.clamp(1, HOUR),
    }
}

/// The instance's own token bucket of pool `i`: its keys, else the top-level
/// ones, else 10/s burst 100; a rate of 0 turns it off.
fn local_limiter(v: &mut V, f: &ScenarioFile, p: &PoolSpec, i: usize) -> Option<(f64, u32)> {
    let key = |k: &str, own: bool| {
        if own {
            format!("pools[{i}].{k}")
        } else {
            k.to_string()
        }
    };
    let rate = p
        .local_rate_limit
        .or(f.local_rate_limit)
        .unwrap_or(Defaults::LOCAL_RATE);
    let burst = p
        .local_rate_limit_burst
        .or(f.local_rate_limit_burst)
        .unwrap_or(Defaults::LOCAL_BURST);
    if rate == 0.0 {
        return None;
    }
    if !(rate.is_finite() && rate > 0.0 && rate <= 1.0e9) {
        v.err(
            key("local_rate_limit", p.local_rate_limit.is_some()),
            format!("must be 0 (no limiter) or connections per second above 0 and at most 1e9 (got {rate})"),
        );
        return None;
    }
    if TokenBucket::rate_milli_of(rate).is_err() {
        v.err(
            key("local_rate_limit", p.local_rate_limit.is_some()),
            format!("must be 0 (no limiter) or at least 0.001 connections per second (got {rate}): token-bucket rates are kept in whole thousandths of a token per second, and this one rounds to 0"),
        );
        return None;
    }
    if burst == 0 {
        v.err(
            key("local_rate_limit_burst", p.local_rate_limit_burst.is_some()),
            "must be at least 1",
        );
        return None;
    }
    Some((rate, burst))
}
