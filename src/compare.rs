//! `poolsim compare`: one scenario run in each mode on identical requests.
//!
//! The modes are the [`Stack`]s: `direct` (requests take from the reservoir),
//! `database_sql` (the production wiring: database/sql on the reservoir
//! driver) and `pool` (the plain pool). Every pool of the scenario is switched
//! to the mode; everything else (seed, workload, limits, cluster) is
//! unchanged. Arrivals and hold times come from each pool's workload streams,
//! which no other component draws from, so every mode sees the same requests
//! at the same instants with the same holds. (Requests that arrive before a
//! pool takes traffic are refused, and the modes take traffic at different
//! instants, so the *served* requests can differ by those few.)
//!
//! [`seeds`]: `compare --seeds`, every mode x seed in parallel, with
//! intervals across seeds and paired differences between modes.

pub mod seeds;

use crate::assertions::AssertionResult;
use crate::engine::Time;
use crate::metrics::{self, round6, LatencyMs};
use crate::model::reservoir::Discard;
use crate::model::world::{Observations, RunError, Stack};
use crate::run::{self, RunOutput};
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::BTreeMap;

/// One mode's run.
pub struct ModeOutput {
    /// The mode.
    pub stack: Stack,
    /// The scenario as run in this mode.
    pub scenario: Scenario,
    /// The run.
    pub output: RunOutput,
}

/// Every mode's run and the comparison table.
pub struct Comparison {
    /// The runs, in the order of [`Stack::ALL`] (with `--seeds`: those of
    /// the first seed).
    pub modes: Vec<ModeOutput>,
    /// compare.json.
    pub summary: CompareSummary,
}

impl Comparison {
    /// The exit verdict: the assertions of the file's own mode, if it was run.
    pub fn gating(&self) -> Option<&ModeOutput> {
        let m = self.summary.file_mode?;
        self.modes.iter().find(|o| o.stack.name() == m)
    }

    /// Whether the assertions that `gate` selects all passed (`None` gate:
    /// always). [`Gate::resolve`] has checked, before the runs, that the modes
    /// it names were run.
    /// With `--seeds` a mode passes when each assertion held in every seed,
    /// or, with `confidence`, for its bound across the seeds.
    pub fn passed(&self, gate: &Gate) -> bool {
        match gate.modes(self.summary.file_mode_stack(), &self.ran()) {
            Ok(modes) => {
                self.modes
                    .iter()
                    .filter(|m| modes.contains(&m.stack))
                    .all(|m| match &self.summary.replications {
                        Some(r) => r.passed.get(m.stack.name()).copied().unwrap_or(false),
                        None => m.output.passed(),
                    })
            }
            Err(_) => false,
        }
    }

    fn ran(&self) -> Vec<Stack> {
        self.modes.iter().map(|m| m.stack).collect()
    }
}

/// Which modes' assertions decide `poolsim compare`'s exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The mode the file itself selects (its pools' common stack). The
    /// default: a comparison gates exactly what `poolsim run` of the file
    /// gates. Refused when the pools use different modes or that mode is not
    /// among those run.
    File,
    /// One mode, which must be among those run.
    Mode(Stack),
    /// Every mode run.
    All,
    /// None: the exit code is 0 whatever the assertions say.
    None,
}

impl Gate {
    /// `file`, `all`, `none`, or a mode name (`direct`, `database_sql`, `pool`).
    pub fn parse(s: &str) -> Result<Gate, String> {
        match s {
            "file" => Ok(Gate::File),
            "all" => Ok(Gate::All),
            "none" => Ok(Gate::None),
            m => Stack::ALL
                .iter()
                .find(|st| st.name() == m)
                .map(|&st| Gate::Mode(st))
                .ok_or_else(|| {
                    format!(
                        "'{m}' is not a gate: use file, all, none, direct, database_sql or pool"
                    )
                }),
        }
    }

    /// The modes whose assertions gate, given the file's own mode and the
    /// modes run; an error says why this gate cannot decide (checked before
    /// running, so that no comparison passes without checking anything).
    pub fn modes(&self, file_mode: Option<Stack>, ran: &[Stack]) -> Result<Vec<Stack>, String> {
        let names = |v: &[Stack]| v.iter().map(|s| s.name()).collect::<Vec<_>>().join(",");
        match *self {
            Gate::File => match file_mode {
                None => Err("the file's pools use different modes, so it has no mode of its own to gate on: choose one with --gate MODE, or --gate all or --gate none".into()),
                Some(m) if !ran.contains(&m) => Err(format!(
                    "the file's own mode ({}) is not among the modes run ({}): add it to --modes, or choose --gate MODE, all or none",
                    m.name(),
                    names(ran)
                )),
                Some(m) => Ok(vec![m]),
            },
            Gate::Mode(m) if !ran.contains(&m) => Err(format!(
                "--gate {} names a mode that is not run ({}): add it to --modes",
                m.name(),
                names(ran)
            )),
            Gate::Mode(m) => Ok(vec![m]),
            Gate::All => Ok(ran.to_vec()),
            Gate::None => Ok(Vec::new()),
        }
    }
}

/// One column of the comparison (a `modes[]` entry of compare.json).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CompareRow {
    /// `direct`, `database_sql` or `pool`.
    pub mode: &'static str,
    /// Whether every assertion passed in this mode.
    pub passed: bool,
    /// Requests served (after the pools took traffic and `measure_after`).
    pub requests: u64,
    /// Requests refused before their pool took traffic.
    pub rejected_before_ready: u64,
    /// Requests that got a connection without waiting / requests.
    pub hit_ratio: Option<f64>,
    /// Failed TryCheckouts (reservoir modes; 0 for the plain pool).
    pub empty_events: u64,
    /// Requests that waited at all.
    pub waited: u64,
    /// Wait until a connection (or giving up).
    pub wait_ms: LatencyMs,
    /// Requests that got no connection.
    pub failures: u64,
    /// By cause.
    pub failures_by_cause: BTreeMap<&'static str, u64>,
    /// Most connects in one second, cluster-wide.
    pub peak_connects_per_sec: u64,
    /// Connect attempts that reached the cluster.
    pub connects: u64,
    /// Physical connections created.
    pub opens: u64,
    /// Connections discarded `reservoir_full` (refilled while out, surplus on return).
    pub churn_discards: u64,
    /// All reservoir discards.
    pub discards: u64,
    /// database/sql closes (all causes).
    pub closes: u64,
    /// Fewest physical connections at a sample once every pool served.
    pub physical_min: Option<u32>,
    /// Most physical connections at a sample once every pool served.
    pub physical_max: Option<u32>,
    /// Most physical connections at once over the whole run (exact).
    pub physical_peak: u32,
}

/// compare.json.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CompareSummary {
    /// Version of this layout.
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
    /// Seed of every mode.
    pub seed: u64,
    /// Simulated duration, seconds.
    pub duration_s: f64,
    /// Requests arriving before this (seconds) are not counted.
    pub measure_after_s: f64,
    /// The mode the file itself selects (null when its pools differ).
    pub file_mode: Option<&'static str>,
    /// One entry per mode run.
    pub modes: Vec<CompareRow>,
    /// Assertion verdicts per mode.
    pub assertions: BTreeMap<&'static str, Vec<AssertionResult>>,
    /// With `--seeds`: every seed's figures, intervals across seeds, paired
    /// differences between modes and the verdicts over the seeds (`seed`,
    /// `modes` and `assertions` above are then the first seed's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replications: Option<seeds::Replications>,
}

impl CompareSummary {
    /// The file's own mode as a stack.
    pub fn file_mode_stack(&self) -> Option<Stack> {
        let m = self.file_mode?;
        Stack::ALL.into_iter().find(|s| s.name() == m)
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("summary serializes");
        s.push('\n');
        s
    }
}

/// The mode a scenario selects: its pools' common stack.
pub fn file_mode(sc: &Scenario) -> Option<Stack> {
    let first = sc.world.pools.first()?.stack;
    sc.world
        .pools
        .iter()
        .all(|p| p.stack == first)
        .then_some(first)
}

/// The instant from which every pool serves and `measure_after` has passed.
fn settled_from(obs: &Observations) -> Option<Time> {
    let mut t = obs.measure_after;
    for p in &obs.pools {
        t = t.max(p.serving_since?);
    }
    Some(t)
}

/// The comparison row of one mode's run.
pub fn row(stack: Stack, o: &RunOutput) -> CompareRow {
    let obs = &o.observations;
    let total = metrics::total(obs, None);
    let wait = LatencyMs::from_histogram(
        &metrics::merged_latency(obs, None),
        metrics::merged_latency_max(obs, None),
    );
    let (physical_min, physical_max) = match settled_from(obs) {
        Some(from) => {
            let live = obs
                .cluster_samples
                .iter()
                .filter(|c| c.t >= from)
                .map(|c| c.live);
            (live.clone().min(), live.max())
        }
        None => (None, None),
    };
    CompareRow {
        mode: stack.name(),
        passed: o.passed(),
        requests: total.requests,
        rejected_before_ready: total.rejected_before_ready,
        hit_ratio: metrics::hit_ratio(&total),
        empty_events: total.reservoir.empty_events,
        waited: total.waited,
        wait_ms: wait,
        failures: total.failures,
        failures_by_cause: metrics::failures_by_cause(&total),
        peak_connects_per_sec: metrics::max_connects_per_sec(obs),
        connects: total.driver.connects,
        opens: total.created,
        churn_discards: total.reservoir.discards[Discard::ReservoirFull as usize],
        discards: total.reservoir.discards.iter().sum(),
        closes: total.sql.closes.iter().sum(),
        physical_min,
        physical_max,
        physical_peak: obs.peak_connections,
    }
}

/// Run `sc` in each of `modes` (in the order of [`Stack::ALL`]), calling
/// `progress(mode index, simulated time reached)` as each run advances.
pub fn compare(
    sc: &Scenario,
    modes: &[Stack],
    mut progress: impl FnMut(usize, Time),
) -> Result<Comparison, RunError> {
    compare_until(sc, modes, |k, t| {
        progress(k, t);
        true
    })
}

/// [`compare`] whose `progress` can stop it: when it returns false the
/// current mode's run stops with [`RunError::Interrupted`] (Ctrl-C).
pub fn compare_until(
    sc: &Scenario,
    modes: &[Stack],
    mut progress: impl FnMut(usize, Time) -> bool,
) -> Result<Comparison, RunError> {
    let mut runs = Vec::new();
    for (k, &stack) in Stack::ALL.iter().filter(|s| modes.contains(s)).enumerate() {
        let mut msc = sc.clone();
        msc.world = msc.world.with_stack(stack);
        let output = run::run_until(&msc, |t| progress(k, t))?;
        runs.push(ModeOutput {
            stack,
            scenario: msc,
            output,
        });
    }
    let summary = summary_of(sc, &runs);
    Ok(Comparison {
        modes: runs,
        summary,
    })
}

/// compare.json of the runs of one seed (`runs` in the order of [`Stack::ALL`]).
pub fn summary_of(sc: &Scenario, runs: &[ModeOutput]) -> CompareSummary {
    CompareSummary {
        schema_version: 1,
        poolsim_version: env!("CARGO_PKG_VERSION"),
        scenario: sc.name.clone(),
        scenario_path: sc.source.as_ref().map(|s| s.path.clone()),
        scenario_sha256: sc.source.as_ref().map(|s| s.sha256.clone()),
        seed: runs
            .first()
            .map_or(sc.world.seed, |m| m.scenario.world.seed),
        duration_s: round6(sc.world.duration as f64 / 1e9),
        measure_after_s: round6(sc.world.measure_after as f64 / 1e9),
        file_mode: file_mode(sc).map(Stack::name),
        modes: runs.iter().map(|m| row(m.stack, &m.output)).collect(),
        assertions: runs
            .iter()
            .map(|m| (m.stack.name(), m.output.assertions.clone()))
            .collect(),
        replications: None,
    }
}
