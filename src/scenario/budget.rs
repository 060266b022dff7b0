//! What a run will cost, estimated before it starts: memory and events.
//!
//! Validation refuses a scenario whose estimate is above the budget, with the
//! estimate and its parts in the error, instead of letting the run abort on a
//! failed allocation hours in, or stop at the engine's event budget after
//! minutes. The figures are per unit of what a scenario chooses (time-series
//! rows, pools, requests in flight) and were measured on this code (peak RSS,
//! `VmHWM`, of `poolsim run` over scenarios that vary one of them; README
//! "Validation limits" has the commands). They are upper estimates: a run
//! uses less when its pools are idle.

use crate::engine::time::format_duration;
use crate::engine::{Limits, Time, SECOND};
use crate::model::world::WorldConfig;

/// The most memory a run (or a comparison) may be estimated to need.
pub const MEMORY_BUDGET: u64 = 4 << 30;

/// Bytes per time-series row (one pool at one sampling instant), over the
/// whole run: the sample kept in memory (about 500 bytes) and the reports
/// rendered from it, of which metrics.prom is the largest (about 2,650 bytes
/// per row, built in memory before it is written). Measured: 2.9 KB per row
/// (1 to 100 pools, 2 h to 40 h at 1 s sampling).
pub const BYTES_PER_ROW: u64 = 3_000;
/// Bytes of a row that a comparison keeps for every mode until it writes.
pub const BYTES_PER_ROW_KEPT: u64 = 520;
/// Bytes per pool, whatever the duration: three latency histograms (1 ns to
/// 1 h at 3 significant digits, 270 KB each), copied once into the
/// observations and merged for the reports. Measured: 0.95 MB per pool (1,000
/// and 3,000 pools for 60 s).
pub const BYTES_PER_POOL: u64 = 1_000_000;
/// Bytes per pool that a comparison keeps for every mode.
pub const BYTES_PER_POOL_KEPT: u64 = 560_000;
/// Bytes per request in flight (holding a connection or waiting): its slot,
/// its pending event, its waiter entry, doubled for the growth of vectors.
pub const BYTES_PER_IN_FLIGHT: u64 = 200;
/// Bytes per physical connection a pool can hold (its table entry and its
/// pending server-close event, doubled for growth).
pub const BYTES_PER_CONNECTION: u64 = 160;
/// Bytes per simulated second, whatever the sampling: the connects counted
/// in each second and the connects-per-second chart drawn from them.
/// Measured: 33 bytes per second (one idle pool, 720h at 10m sampling,
/// 110 MB in all).
pub const BYTES_PER_SECOND: u64 = 40;
/// The process itself: code, fonts for the charts, buffers.
pub const BASE_BYTES: u64 = 48 << 20;

/// Events per request, an upper estimate (arrival, hold end or deadline, and
/// the opens and wake-ups it causes; `poolsim bench` measures about 2).
pub const EVENTS_PER_REQUEST: f64 = 3.0;
/// Periodic events per pool per simulated second (the refiller's 100 ms
/// check, the 1 s scanner, the keeper's and the cleaner's ticks).
pub const EVENTS_PER_POOL_SECOND: f64 = 12.0;

/// A run's estimated memory, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Time-series rows (pools x sampling instants).
    pub rows: u64,
    /// Bytes for the rows and the reports rendered from them.
    pub rows_bytes: u64,
    /// Bytes for the pools' histograms.
    pub pools_bytes: u64,
    /// Requests in flight at once (the validation's rate x (hold + wait)).
    pub in_flight: u64,
    /// Bytes for them.
    pub in_flight_bytes: u64,
    /// Bytes for the connections the pools can hold.
    pub connections_bytes: u64,
    /// Bytes for the per-second series.
    pub seconds_bytes: u64,
    /// Bytes a comparison keeps per mode run before the last.
    pub kept_per_mode: u64,
}

impl MemoryEstimate {
    /// Peak bytes of one run with its reports.
    pub fn run_total(&self) -> u64 {
        BASE_BYTES
            .saturating_add(self.rows_bytes)
            .saturating_add(self.pools_bytes)
            .saturating_add(self.in_flight_bytes)
            .saturating_add(self.connections_bytes)
            .saturating_add(self.seconds_bytes)
    }

    /// Peak bytes of `poolsim compare` over `modes` modes: every mode's
    /// observations are kept until the reports are written.
    pub fn compare_total(&self, modes: usize) -> u64 {
        let extra = self
            .kept_per_mode
            .saturating_mul(modes.saturating_sub(1) as u64);
        self.run_total().saturating_add(extra)
    }

    /// The largest part: `rows`, `pools` or `in_flight`.
    pub fn largest(&self) -> &'static str {
        let parts = [
            (self.rows_bytes, "rows"),
            (self.pools_bytes, "pools"),
            (
                self.in_flight_bytes.max(self.connections_bytes),
                "in_flight",
            ),
        ];
        parts.iter().max_by_key(|p| p.0).map_or("rows", |p| p.1)
    }

    /// The parts, for an error message.
    pub fn describe(&self, pools: usize) -> String {
        format!(
            "{} time-series rows x {} = {}, {pools} pool{} x {} = {}, {} requests in flight x {} B = {}, connections {}, per-second series {}",
            self.rows,
            bytes(BYTES_PER_ROW),
            bytes(self.rows_bytes),
            if pools == 1 { "" } else { "s" },
            bytes(BYTES_PER_POOL),
            bytes(self.pools_bytes),
            self.in_flight,
            BYTES_PER_IN_FLIGHT,
            bytes(self.in_flight_bytes),
            bytes(self.connections_bytes),
            bytes(self.seconds_bytes)
        )
    }
}

/// A byte count for people: `512 B`, `2.9 KB`, `1.3 GB`, `4 GiB` for the budget.
pub fn bytes(b: u64) -> String {
    if b == MEMORY_BUDGET {
        return "4 GiB".into();
    }
    let b = b as f64;
    if b < 1e3 {
        format!("{b} B")
    } else if b < 1e6 {
        format!("{:.1} KB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

/// The time-series rows of a run: pools x sampling instants.
pub fn sample_rows(duration: Time, sample_every: Time, pools: usize) -> u64 {
    (duration / sample_every.max(1))
        .saturating_add(1)
        .saturating_mul(pools as u64)
}

/// Estimate the memory of a run of `w`, with `in_flight` requests at once.
pub fn memory(w: &WorldConfig, in_flight: f64) -> MemoryEstimate {
    let pools = w.pools.len() as u64;
    let rows = sample_rows(w.duration, w.sample_every, w.pools.len());
    let in_flight = if in_flight.is_finite() && in_flight > 0.0 {
        in_flight.ceil().min(u64::MAX as f64) as u64
    } else {
        0
    };
    // A pool holds at most target_size in database/sql plus a full reservoir.
    let connections: u64 = w
        .pools
        .iter()
        .map(|p| u64::from(p.target_size) + u64::from(p.reservoir.target_ready))
        .sum();
    MemoryEstimate {
        rows,
        rows_bytes: rows.saturating_mul(BYTES_PER_ROW),
        pools_bytes: pools.saturating_mul(BYTES_PER_POOL),
        in_flight,
        in_flight_bytes: in_flight.saturating_mul(BYTES_PER_IN_FLIGHT),
        connections_bytes: connections.saturating_mul(BYTES_PER_CONNECTION),
        seconds_bytes: (w.duration / SECOND + 1).saturating_mul(BYTES_PER_SECOND),
        kept_per_mode: rows
            .saturating_mul(BYTES_PER_ROW_KEPT)
            .saturating_add(pools.saturating_mul(BYTES_PER_POOL_KEPT)),
    }
}

/// Requests a run of `w` is expected to simulate (each pool's mean rate over
/// the whole duration).
pub fn expected_requests(w: &WorldConfig) -> f64 {
    w.pools
        .iter()
        .filter_map(|p| p.workload.as_ref())
        .map(|wl| wl.shape.expected_arrivals(w.duration))
        .sum()
}

/// Estimated events of a run of `w` that simulates `requests` requests.
pub fn events(w: &WorldConfig, requests: f64) -> f64 {
    let seconds = w.duration as f64 / SECOND as f64;
    requests * EVENTS_PER_REQUEST
        + w.pools.len() as f64 * seconds * EVENTS_PER_POOL_SECOND
        + (w.duration / w.sample_every.max(1)) as f64
}

/// The engine's event budget, as validation checks it.
pub fn event_budget(limits: &Limits) -> f64 {
    limits.max_events as f64
}

/// A short hint for a scenario whose rows are too many: the sampling period
/// that would fit the budget.
pub fn sampling_hint(w: &WorldConfig, est: &MemoryEstimate) -> String {
    let room = MEMORY_BUDGET
        .saturating_sub(est.run_total().saturating_sub(est.rows_bytes))
        .max(1);
    let rows_fit = (room / BYTES_PER_ROW).max(1);
    let per_pool = (rows_fit / (w.pools.len() as u64).max(1)).max(2);
    let every = w.duration / (per_pool - 1);
    // Round up to a whole second (or millisecond below one).
    let unit = if every >= SECOND { SECOND } else { 1_000_000 };
    let every = every.div_ceil(unit) * unit;
    format!("sample_every: {} or longer", format_duration(every))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2_900), "2.9 KB");
        assert_eq!(bytes(7_776_003_000), "7.8 GB");
        assert_eq!(bytes(MEMORY_BUDGET), "4 GiB");
    }

    #[test]
    fn rows_count_every_instant_of_every_pool() {
        assert_eq!(sample_rows(60 * SECOND, SECOND, 3), 61 * 3);
        assert_eq!(sample_rows(u64::MAX, 1, 10_000), u64::MAX);
    }
}
