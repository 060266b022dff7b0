//! # poolsim
//!
//! A deterministic discrete-event simulator of database connection pools and
//! connection reservoirs for Temporal services on Aurora DSQL.
//!
//! Layers, each depending only on those above it in this list:
//!
//! - [`engine`]: virtual time (integer nanoseconds), the event queue, seeded RNG streams;
//! - [`model`]: one file per real component (reservoir, refiller, database/sql
//!   pool, warmup, keeper, driver, limiters, lease table, DSQL cluster,
//!   workload) and the world that wires them;
//! - [`scenario`]: the YAML schema, defaults, validation, building the world;
//! - [`metrics`], [`assertions`], [`report`]: what a run means and how it is written;
//! - [`run`]: one scenario from configuration to verdict, for the CLI and tests;
//!   [`compare`]: one scenario in each mode (reservoir direct, reservoir under
//!   database/sql, plain pool) on identical requests;
//! - [`gate`]: `poolsim check`, many scenarios x seeds in parallel with
//!   JUnit, JSON, annotations, baselines and shards; [`schema_json`] and
//!   [`starter`]: the JSON Schema of the format and `poolsim init`'s files;
//! - [`theory`]: queueing formulas (Erlang C) the plain pool is validated against;
//!   [`stats`]: intervals across seeds, paired differences between modes,
//!   confidence bounds for assertions, batch means and warm-up detection.
//!
//! Same scenario + same seed = byte-identical outputs.

pub mod assertions;
pub mod compare;
pub mod engine;
pub mod gate;
pub mod metrics;
pub mod model;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schema_json;
pub mod starter;
pub mod stats;
pub mod theory;
