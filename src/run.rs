//! One scenario, from configuration to verdict.

use crate::assertions::{self, AssertionResult};
use crate::model::world::{self, Observations, RunError};
use crate::report::Summary;
use crate::scenario::Scenario;

/// A finished run.
pub struct RunOutput {
    /// Raw observations.
    pub observations: Observations,
    /// Assertion verdicts.
    pub assertions: Vec<AssertionResult>,
    /// The summary (summary.json).
    pub summary: Summary,
}

impl RunOutput {
    /// Whether every assertion passed.
    pub fn passed(&self) -> bool {
        self.summary.passed
    }
}

/// Simulate a scenario and evaluate its assertions.
pub fn run(sc: &Scenario) -> Result<RunOutput, RunError> {
    run_with_progress(sc, |_| {})
}

/// [`run`], calling `progress(simulated time reached)` as the run advances.
pub fn run_with_progress(
    sc: &Scenario,
    mut progress: impl FnMut(crate::engine::Time),
) -> Result<RunOutput, RunError> {
    run_until(sc, |t| {
        progress(t);
        true
    })
}

/// [`run`], calling `progress(simulated time reached)` as the run advances
/// (every 1/200 of the duration); when it returns false the run stops with
/// [`RunError::Interrupted`] (Ctrl-C).
pub fn run_until(
    sc: &Scenario,
    progress: impl FnMut(crate::engine::Time) -> bool,
) -> Result<RunOutput, RunError> {
    let observations = world::simulate_with_progress(&sc.world, progress)?;
    let assertions = assertions::evaluate(&sc.assertions, &observations);
    let summary = Summary::new(sc, &observations, assertions.clone());
    Ok(RunOutput {
        observations,
        assertions,
        summary,
    })
}
