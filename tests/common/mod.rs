//! Helpers shared by the integration tests.
#![allow(dead_code)]

use poolsim::run::RunOutput;
use poolsim::scenario::{self, Scenario};

/// Parse a scenario from YAML text, panicking with the problems if invalid.
pub fn scenario(yaml: &str) -> Scenario {
    match scenario::parse(yaml, "<test>", "test") {
        Ok(s) => s,
        Err(e) => panic!("invalid test scenario:\n{e}"),
    }
}

/// Parse and run.
pub fn run(yaml: &str) -> RunOutput {
    poolsim::run::run(&scenario(yaml)).expect("run completes")
}

/// The validation error text of an invalid scenario.
pub fn invalid(yaml: &str) -> String {
    match scenario::parse(yaml, "s.yaml", "s") {
        Ok(_) => panic!("scenario unexpectedly valid:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}
