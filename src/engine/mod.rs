//! The deterministic engine: virtual time, the event queue and seeded RNG streams.
//!
//! Nothing in here knows about connections or pools. Models (in [`crate::model`])
//! are driven by an [`Engine`] through the [`Handler`] trait, which is static
//! dispatch: the hot loop never boxes or allocates per event.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{Engine, EngineError, Handler, Limits, Scheduler};
pub use rng::{RngStreams, SimRng, StreamId};
pub use time::{Time, HOUR, MICROSECOND, MILLISECOND, MINUTE, NANOSECOND, SECOND};
