//! Reports: `summary.json`, `timeseries.csv` and the printed summary.
//!
//! Everything here is a pure function of a run's observations; the CLI decides
//! where files go. Output is byte-for-byte deterministic: maps are ordered,
//! floats are printed by `ryu` (serde_json) or with fixed precision.

pub mod charts;
pub mod csv;
pub mod files;
pub mod html;
pub mod prom;
pub mod text;

use crate::assertions::AssertionResult;
use crate::metrics::{self, PoolSummary};
use crate::model::world::Observations;
use crate::scenario::Scenario;
use crate::stats::steady::{self, SteadyState, Warmup};
use serde::Serialize;

/// Cluster-wide figures of a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClusterSummary {
    /// Most connect attempts that reached the cluster in one simulated second.
    pub max_connects_per_sec: u64,
    /// Most open connections at once.
    pub peak_connections: u32,
    /// Connect attempts that reached the cluster.
    pub connects: u64,
    /// Connects refused by the cluster's rate limit (SQLSTATE 53400).
    pub refused_rate_limit: u64,
    /// Connects refused at the cluster's connection limit.
    pub refused_max_connections: u64,
    /// Lease acquisitions refused by the lease table.
    pub lease_denials: u64,
    /// Lease releases that failed: each leaves the lease counter one too
    /// high for good.
    pub leases_lost: u64,
    /// At the end: the lease counter, and the open connections holding a lease.
    pub lease_counter_end: u32,
    /// At the end: open connections holding a lease.
    pub leased_connections_end: u32,
}

/// The whole of `summary.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Schema version of this file.
    pub schema_version: u32,
    /// The version of poolsim that wrote it.
    pub poolsim_version: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// The scenario's path as given on the command line (null when it was
    /// not read from a file).
    pub scenario_path: Option<String>,
    /// SHA-256 of the scenario file's bytes (lowercase hex; null as above).
    pub scenario_sha256: Option<String>,
    /// Scenario description.
    pub description: String,
    /// Seed used.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Sampling period, seconds.
    pub sample_every_s: f64,
    /// Requests that arrived before this instant (seconds) are left out of
    /// every request figure and assertion; the other counters count from it.
    pub measure_after_s: f64,
    /// Events the engine processed.
    pub events_processed: u64,
    /// Most connect attempts in one second, cluster-wide (same as cluster.max_connects_per_sec).
    pub max_connects_per_sec: u64,
    /// Cluster-wide figures.
    pub cluster: ClusterSummary,
    /// Per pool.
    pub pools: Vec<PoolSummary>,
    /// Assertion verdicts.
    pub assertions: Vec<AssertionResult>,
    /// Whether every assertion passed.
    pub passed: bool,
    /// What the reader should know before trusting the figures (e.g. the
    /// scenario measures nothing, or `measure_after` is shorter than the
    /// detected warm-up).
    pub warnings: Vec<String>,
    /// Batch-means intervals for the mean wait and the hit ratio after
    /// `measure_after` ([`crate::stats::steady`]).
    pub steady_state: SteadyState,
    /// MSER-5 warm-up detection on the wait series ([`crate::stats::steady`]).
    pub warmup: Warmup,
}

/// Warnings about what a scenario can tell: a run with no workload and no
/// assertion measures nothing.
pub fn warnings(sc: &Scenario) -> Vec<String> {
    let mut w = Vec::new();
    let workload = sc.world.pools.iter().any(|p| p.workload.is_some());
    if !workload && sc.assertions.is_empty() {
        w.push(
            "this scenario has no workload and no assertion: it sends no requests and checks nothing, so it measures nothing"
                .to_string(),
        );
    } else if !workload {
        w.push(
            "this scenario has no workload: no requests are sent, so request figures are empty"
                .to_string(),
        );
    }
    w
}

impl Summary {
    /// Build the summary of a run.
    pub fn new(sc: &Scenario, obs: &Observations, assertions: Vec<AssertionResult>) -> Self {
        let total_connects = obs.connects_per_second.iter().map(|&c| c as u64).sum();
        let max_cps = metrics::max_connects_per_sec(obs);
        let warmup = steady::warmup(sc, obs);
        let mut warnings = warnings(sc);
        if warmup.measure_after_too_short {
            warnings.extend(warmup.note.clone());
        }
        Summary {
            schema_version: 1,
            poolsim_version: env!("CARGO_PKG_VERSION"),
            scenario: sc.name.clone(),
            scenario_path: sc.source.as_ref().map(|s| s.path.clone()),
            scenario_sha256: sc.source.as_ref().map(|s| s.sha256.clone()),
            description: sc.description.clone(),
            seed: sc.world.seed,
            duration_s: obs.duration as f64 / 1e9,
            sample_every_s: obs.sample_every as f64 / 1e9,
            measure_after_s: obs.measure_after as f64 / 1e9,
            events_processed: obs.events_processed,
            max_connects_per_sec: max_cps,
            cluster: ClusterSummary {
                max_connects_per_sec: max_cps,
                peak_connections: obs.peak_connections,
                connects: total_connects,
                refused_rate_limit: obs.cluster_refusals.0,
                refused_max_connections: obs.cluster_refusals.1,
                lease_denials: obs.lease_denials,
                leases_lost: obs.leases_lost,
                lease_counter_end: obs.cluster_samples.last().map_or(0, |c| c.leases),
                leased_connections_end: obs.cluster_samples.last().map_or(0, |c| c.leased_conns),
            },
            pools: (0..obs.pools.len())
                .map(|i| PoolSummary::new(obs, i))
                .collect(),
            passed: assertions.iter().all(|a| a.passed),
            assertions,
            warnings,
            steady_state: steady::steady_state(sc, obs),
            warmup,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("summary serialises");
        s.push('\n');
        s
    }
}
