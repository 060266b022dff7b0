//! `timeseries.csv`: one row per pool per sample.
//!
//! Counters are cumulative since the start of the run (like Prometheus
//! counters); gauges are the value at the sampling instant. Where a quantity is
//! the same as in the old Go simulator, the column has its name (`t_rfc3339`,
//! `service`, `size`, `target`, `in_use`, `checkouts`, `empty_events`,
//! `discards`, `discard_expired`, `discard_guard`, `discard_full`, `refills`,
//! `refill_failures`, `scan_evictions`, `work_started`, `work_completed`).
//! README.md and docs/reports.md document every column.
//!
//! Every row is one pool's, so summing a column over the rows of one
//! instant never counts a cluster-wide figure twice: the cluster's own
//! figures are in `cluster.csv` ([`cluster_csv`]), one row per sample.
//!
//! One type per column, whatever the run: counts and gauges are integers;
//! times and latencies (`t_s`, `wait_*_ms`) always have a decimal point
//! (`1.0`, `0.5`, `12.25`), so a tool that infers column types reads the
//! same types from every run. README.md and docs/reports.md give the columns.

use crate::engine::time::rfc3339_nano;
use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::{FailCause, Observations};
use std::fmt::Write;

/// The header row (without newline).
pub fn header() -> String {
    let mut h = String::from(
        "t_s,t_rfc3339,service,size,target,in_use,waiting,serving,requests,hits,hits_after_wait,failures,rejected_before_ready,checkouts,empty_events,discards,discard_expired,discard_guard,discard_full,scan_evictions",
    );
    for d in Discard::ALL {
        let _ = write!(h, ",discard_{}", d.name());
    }
    h.push_str(",refills,refill_failures");
    for f in RefillFailure::ALL {
        let _ = write!(h, ",refill_failure_{}", f.name());
    }
    h.push_str(",limiter_waits,connects,work_started,work_completed");
    h.push_str(",idle,open,waited,wait_count,wait_p50_ms,wait_p99_ms,wait_max_ms");
    for f in FailCause::ALL {
        let _ = write!(h, ",failures_{}", f.name());
    }
    h.push_str(",opens");
    for c in CloseCause::ALL {
        let _ = write!(h, ",closes_{}", c.name());
    }
    h.push_str(",server_closed,bad_conns");
    for f in RefillFailure::ALL {
        let _ = write!(h, ",open_failure_{}", f.name());
    }
    h
}

/// The whole file.
pub fn timeseries_csv(obs: &Observations, start_unix_ns: u64) -> String {
    let n = obs.pools.len();
    let mut out = String::with_capacity(obs.samples.len() * 200 + 1024);
    out.push_str(&header());
    out.push('\n');
    for chunk in obs.samples.chunks(n) {
        for r in chunk {
            let c = &r.counters;
            let d = &c.reservoir.discards;
            use Discard::*;
            let expired = d[ExpiredOnCheckout as usize]
                + d[ExpiredOnWait as usize]
                + d[ExpiredOnReturn as usize]
                + d[ExpiredOnScan as usize];
            let guard = d[InsufficientRemainingLifetime as usize]
                + d[InsufficientRemainingLifetimeOnWait as usize]
                + d[InsufficientRemainingLifetimeOnReturn as usize]
                + d[ExpiringSoonOnScan as usize];
            let total: u64 = d.iter().sum();
            let failures: u64 = c.refiller.failures.iter().sum();
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                fmt_seconds(r.t),
                rfc3339_nano(start_unix_ns + r.t),
                obs.pools[r.pool as usize].name,
                r.ready,
                r.target,
                r.in_use,
                r.waiting,
                r.serving as u8,
                c.requests,
                c.hits,
                c.hits_after_wait,
                c.failures,
                c.rejected_before_ready,
                c.reservoir.checkouts,
                c.reservoir.empty_events,
                total,
                expired,
                guard,
                d[ReservoirFull as usize],
                d[ExpiredOnScan as usize] + d[ExpiringSoonOnScan as usize],
            );
            for x in d {
                let _ = write!(out, ",{x}");
            }
            let _ = write!(out, ",{},{}", c.refiller.refills, failures);
            for x in &c.refiller.failures {
                let _ = write!(out, ",{x}");
            }
            let _ = write!(
                out,
                ",{},{},{},{}",
                c.driver.limiter_waits,
                c.driver.connects,
                c.hits + c.hits_after_wait,
                c.completed,
            );
            let _ = write!(
                out,
                ",{},{},{},{},{},{},{}",
                r.idle,
                r.open,
                c.waited,
                r.wait_count,
                fmt_ms(r.wait_p50_ns),
                fmt_ms(r.wait_p99_ns),
                fmt_ms(r.wait_max_ns)
            );
            for x in &c.failed {
                let _ = write!(out, ",{x}");
            }
            let _ = write!(out, ",{}", c.created);
            for x in &c.sql.closes {
                let _ = write!(out, ",{x}");
            }
            let _ = write!(out, ",{},{}", c.server_closed, c.bad_conns);
            for x in &c.open_failures {
                let _ = write!(out, ",{x}");
            }
            out.push('\n');
        }
    }
    out
}

/// The header row of `cluster.csv` (without newline).
pub const CLUSTER_HEADER: &str = "t_s,t_rfc3339,connections,connect_attempts,leases";

/// `cluster.csv`: the cluster-wide figures, one row per sample: connections
/// open on the cluster, connect attempts that reached it so far (cumulative),
/// leases held in the lease table.
pub fn cluster_csv(obs: &Observations, start_unix_ns: u64) -> String {
    let mut out = String::with_capacity(obs.cluster_samples.len() * 48 + 64);
    out.push_str(CLUSTER_HEADER);
    out.push('\n');
    for c in &obs.cluster_samples {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            fmt_seconds(c.t),
            rfc3339_nano(start_unix_ns + c.t),
            c.live,
            c.attempts,
            c.leases
        );
    }
    out
}

/// A fixed-point decimal `whole.frac` (frac of `digits` digits), trailing
/// zeros trimmed but one decimal always kept ("12.5", "0.0", "0.000001").
fn fmt_fixed(whole: u64, frac: u64, digits: usize) -> String {
    let f = format!("{frac:0digits$}");
    let f = f.trim_end_matches('0');
    format!("{whole}.{}", if f.is_empty() { "0" } else { f })
}

/// Nanoseconds as milliseconds, exactly, always with a decimal point
/// ("12.5", "0.0", "0.000001").
pub fn fmt_ms(ns: u64) -> String {
    fmt_fixed(ns / 1_000_000, ns % 1_000_000, 6)
}

/// Seconds, exactly, always with a decimal point ("1.0", "0.5").
pub fn fmt_seconds(t: u64) -> String {
    fmt_fixed(t / 1_000_000_000, t % 1_000_000_000, 9)
}
