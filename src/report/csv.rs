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
//! New columns are only ever appended, so scripts that address columns by
//! position keep working. After `cluster_connects` come the database/sql and
//! wait columns: `idle`, `open`, `waited`, `wait_count`, `wait_p50_ms`,
//! `wait_p99_ms`, `wait_max_ms` (the waits that ended in the window since the
//! previous sample), `failures_<cause>`, `opens`, `closes_<cause>`,
//! `server_closed`, `bad_conns`, `open_failure_<reason>`.

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
    h.push_str(
        ",limiter_waits,connects,work_started,work_completed,cluster_connections,cluster_connects",
    );
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
    for (k, chunk) in obs.samples.chunks(n).enumerate() {
        let cl = &obs.cluster_samples[k];
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
                ",{},{},{},{},{},{}",
                c.driver.limiter_waits,
                c.driver.connects,
                c.hits + c.hits_after_wait,
                c.completed,
                cl.live,
                cl.attempts
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

/// Nanoseconds as milliseconds, exactly, trailing zeros trimmed ("12.5",
/// "0", "0.000001").
pub fn fmt_ms(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let rest = ns % 1_000_000;
    if rest == 0 {
        ms.to_string()
    } else {
        let frac = format!("{rest:06}");
        format!("{ms}.{}", frac.trim_end_matches('0'))
    }
}

/// Seconds with up to 9 decimals, trailing zeros trimmed ("1", "0.5").
pub fn fmt_seconds(t: u64) -> String {
    let s = t / 1_000_000_000;
    let ns = t % 1_000_000_000;
    if ns == 0 {
        s.to_string()
    } else {
        let frac = format!("{ns:09}");
        format!("{s}.{}", frac.trim_end_matches('0'))
    }
}
