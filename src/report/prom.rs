//! `metrics.prom`: the run's series in the OpenMetrics text format, under the
//! production metric names (DOMAIN.md section 8), so a run can be loaded into
//! Prometheus (`promtool tsdb create-blocks-from openmetrics metrics.prom <dir>`)
//! and looked at on the production dashboards.
//!
//! Every sample carries its timestamp: seconds since the epoch,
//! `Scenario::start_unix_ns + t`. Label `service` is the pool's name. Metric
//! families come one after the other (`# TYPE`, `# HELP`, then all samples of
//! the family); within a family one series after the other, each in time
//! order; the file ends with `# EOF`.
//!
//! Families:
//! - `dsql_reservoir_size`, `dsql_reservoir_target` (gauges);
//! - `dsql_reservoir_checkouts_total`, `dsql_reservoir_empty_total`,
//!   `dsql_reservoir_discards_total{reason}`, `dsql_reservoir_refills_total`,
//!   `dsql_reservoir_refill_failures_total{reason}` (counters);
//! - `dsql_reservoir_checkout_latency_milliseconds` (histogram): only its final
//!   state, at the last sample, because the model keeps one histogram per pool
//!   for the whole run. Bucket counts come from that hdrhistogram (3
//!   significant digits), `_sum` is the sum of each recorded value's bucket
//!   value;
//! - poolsim's own names in the `dsql_pool_` family (NOT production metrics;
//!   named like them so they sit next to them on a dashboard):
//!   `dsql_pool_open_connections`, `dsql_pool_idle_connections`,
//!   `dsql_pool_in_use_connections` (gauges: physical connections, the
//!   database/sql free list, connections held by requests),
//!   `dsql_pool_opens_total`, `dsql_pool_closes_total{cause}` (database/sql
//!   closes: `lifetime`, `idle_time`, `max_idle`, `bad`) and
//!   `dsql_pool_request_failures_total{cause}` (`deadline`, `no_connection`,
//!   `open_failed`, `bad_conn`) (counters);
//! - poolsim's own, for context: `poolsim_in_use`, `poolsim_requests_total`,
//!   `poolsim_request_failures_total`, `poolsim_cluster_connections`,
//!   `poolsim_cluster_connect_attempts_total`.

use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::{FailCause, Observations, PoolCounters, SampleRow};
use std::fmt::Write;

/// Upper bounds (ms) of the checkout-latency histogram buckets, before `+Inf`.
pub const LATENCY_BUCKETS_MS: [&str; 15] = [
    "0.1", "0.5", "1.0", "2.5", "5.0", "10.0", "25.0", "50.0", "100.0", "250.0", "500.0", "1000.0",
    "2500.0", "5000.0", "10000.0",
];

/// The same bounds in nanoseconds.
const LATENCY_BUCKETS_NS: [u64; 15] = [
    100_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// An OpenMetrics timestamp: seconds since the epoch with up to 9 decimals,
/// trailing zeros trimmed (exact: integer arithmetic).
pub fn fmt_timestamp(unix_ns: u64) -> String {
    let s = unix_ns / 1_000_000_000;
    let ns = unix_ns % 1_000_000_000;
    if ns == 0 {
        s.to_string()
    } else {
        let frac = format!("{ns:09}");
        format!("{s}.{}", frac.trim_end_matches('0'))
    }
}

/// Nanoseconds as milliseconds, exactly ("12.5", "0", "0.000001").
fn fmt_ns_as_ms(ns: u128) -> String {
    let ms = ns / 1_000_000;
    let rest = ns % 1_000_000;
    if rest == 0 {
        ms.to_string()
    } else {
        let frac = format!("{rest:06}");
        format!("{ms}.{}", frac.trim_end_matches('0'))
    }
}

/// A label value, escaped as OpenMetrics requires (`\\`, `\"`, `\n`).
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

struct Writer<'a> {
    out: String,
    obs: &'a Observations,
    start: u64,
    services: Vec<String>,
}

impl Writer<'_> {
    fn header(&mut self, family: &str, kind: &str, unit: Option<&str>, help: &str) {
        let _ = writeln!(self.out, "# TYPE {family} {kind}");
        if let Some(u) = unit {
            let _ = writeln!(self.out, "# UNIT {family} {u}");
        }
        let _ = writeln!(self.out, "# HELP {family} {help}");
    }

    /// One series per pool (and per `extra` label value), all samples in time order.
    fn per_pool(
        &mut self,
        sample: &str,
        extra: Option<(&str, &[&str])>,
        value: impl Fn(&SampleRow, usize) -> u64,
    ) {
        let n = self.obs.pools.len().max(1);
        let variants: Vec<Option<(&str, &str)>> = match extra {
            None => vec![None],
            Some((k, vs)) => vs.iter().map(|v| Some((k, *v))).collect(),
        };
        for pool in 0..self.obs.pools.len() {
            for (vi, variant) in variants.iter().enumerate() {
                let labels = match variant {
                    None => format!("service=\"{}\"", self.services[pool]),
                    Some((k, v)) => format!(
                        "service=\"{}\",{k}=\"{}\"",
                        self.services[pool],
                        escape_label(v)
                    ),
                };
                for chunk in self.obs.samples.chunks(n) {
                    if let Some(r) = chunk.get(pool) {
                        let _ = writeln!(
                            self.out,
                            "{sample}{{{labels}}} {} {}",
                            value(r, vi),
                            fmt_timestamp(self.start + r.t)
                        );
                    }
                }
            }
        }
    }

    fn counter(&mut self, family: &str, help: &str, f: impl Fn(&PoolCounters) -> u64) {
        self.header(family, "counter", None, help);
        self.per_pool(&format!("{family}_total"), None, |r, _| f(&r.counters));
    }

    fn gauge(&mut self, family: &str, help: &str, f: impl Fn(&SampleRow) -> u64) {
        self.header(family, "gauge", None, help);
        self.per_pool(family, None, |r, _| f(r));
    }

    fn latency_histogram(&mut self) {
        let family = "dsql_reservoir_checkout_latency_milliseconds";
        self.header(
            family,
            "histogram",
            Some("milliseconds"),
            "Latency of every checkout (driver Open(); 0 for an immediate hit), final state of the run.",
        );
        let Some(t) = self.obs.samples.last().map(|r| r.t) else {
            return;
        };
        let ts = fmt_timestamp(self.start + t);
        for (pool, p) in self.obs.pools.iter().enumerate() {
            let svc = &self.services[pool];
            let h = &p.checkout_latency;
            let mut buckets = [0u64; LATENCY_BUCKETS_NS.len()];
            let mut sum_ns: u128 = 0;
            for v in h.iter_recorded() {
                let value = h.highest_equivalent(v.value_iterated_to());
                let count = v.count_at_value();
                sum_ns += value as u128 * count as u128;
                for (b, &le) in buckets.iter_mut().zip(LATENCY_BUCKETS_NS.iter()) {
                    if value <= le {
                        *b += count;
                    }
                }
            }
            for (b, le) in buckets.iter().zip(LATENCY_BUCKETS_MS.iter()) {
                let _ = writeln!(
                    self.out,
                    "{family}_bucket{{service=\"{svc}\",le=\"{le}\"}} {b} {ts}"
                );
            }
            let total = h.len();
            let _ = writeln!(
                self.out,
                "{family}_bucket{{service=\"{svc}\",le=\"+Inf\"}} {total} {ts}"
            );
            let _ = writeln!(self.out, "{family}_count{{service=\"{svc}\"}} {total} {ts}");
            let _ = writeln!(
                self.out,
                "{family}_sum{{service=\"{svc}\"}} {} {ts}",
                fmt_ns_as_ms(sum_ns)
            );
        }
    }
}

/// The whole `metrics.prom`.
pub fn openmetrics(obs: &Observations, start_unix_ns: u64) -> String {
    let mut w = Writer {
        out: String::with_capacity(obs.samples.len() * 1200 + 4096),
        obs,
        start: start_unix_ns,
        services: obs.pools.iter().map(|p| escape_label(&p.name)).collect(),
    };
    w.gauge(
        "dsql_reservoir_size",
        "Connections ready in the reservoir buffer.",
        |r| r.ready as u64,
    );
    w.gauge(
        "dsql_reservoir_target",
        "The reservoir's target_ready.",
        |r| r.target as u64,
    );
    w.counter(
        "dsql_reservoir_checkouts",
        "Successful reservoir checkouts.",
        |c| c.reservoir.checkouts,
    );
    w.counter(
        "dsql_reservoir_empty",
        "TryCheckout calls that found no usable connection (empty events).",
        |c| c.reservoir.empty_events,
    );
    let discards: Vec<&str> = Discard::ALL.iter().map(|d| d.name()).collect();
    w.header(
        "dsql_reservoir_discards",
        "counter",
        None,
        "Connections discarded by the reservoir, by reason.",
    );
    w.per_pool(
        "dsql_reservoir_discards_total",
        Some(("reason", &discards)),
        |r, i| r.counters.reservoir.discards[Discard::ALL[i] as usize],
    );
    w.counter(
        "dsql_reservoir_refills",
        "Connections the refiller created.",
        |c| c.refiller.refills,
    );
    let failures: Vec<&str> = RefillFailure::ALL.iter().map(|f| f.name()).collect();
    w.header(
        "dsql_reservoir_refill_failures",
        "counter",
        None,
        "Failed refiller opens, by the step that failed.",
    );
    w.per_pool(
        "dsql_reservoir_refill_failures_total",
        Some(("reason", &failures)),
        |r, i| r.counters.refiller.failures[RefillFailure::ALL[i] as usize],
    );
    w.latency_histogram();
    w.gauge(
        "dsql_pool_open_connections",
        "Physical connections of the pool: ready + idle + in use (poolsim's name, not a production metric).",
        |r| r.open as u64,
    );
    w.gauge(
        "dsql_pool_idle_connections",
        "Connections on database/sql's free list (poolsim's name, not a production metric).",
        |r| r.idle as u64,
    );
    w.gauge(
        "dsql_pool_in_use_connections",
        "Connections held by requests (poolsim's name, not a production metric).",
        |r| r.in_use as u64,
    );
    w.counter(
        "dsql_pool_opens",
        "Physical connections the pool created (poolsim's name, not a production metric).",
        |c| c.created,
    );
    let closes: Vec<&str> = CloseCause::ALL.iter().map(|c| c.name()).collect();
    w.header(
        "dsql_pool_closes",
        "counter",
        None,
        "database/sql closes, by cause (poolsim's name, not a production metric).",
    );
    w.per_pool(
        "dsql_pool_closes_total",
        Some(("cause", &closes)),
        |r, i| r.counters.sql.closes[CloseCause::ALL[i] as usize],
    );
    let causes: Vec<&str> = FailCause::ALL.iter().map(|c| c.name()).collect();
    w.header(
        "dsql_pool_request_failures",
        "counter",
        None,
        "Requests that got no connection, by cause (poolsim's name, not a production metric).",
    );
    w.per_pool(
        "dsql_pool_request_failures_total",
        Some(("cause", &causes)),
        |r, i| r.counters.failed[FailCause::ALL[i] as usize],
    );
    w.gauge(
        "poolsim_in_use",
        "Connections held by requests (simulation only).",
        |r| r.in_use as u64,
    );
    w.counter(
        "poolsim_requests",
        "Requests the pool served after it took traffic (simulation only).",
        |c| c.requests,
    );
    w.counter(
        "poolsim_request_failures",
        "Requests that got no connection (simulation only).",
        |c| c.failures,
    );
    w.header(
        "poolsim_cluster_connections",
        "gauge",
        None,
        "Connections open on the cluster (simulation only).",
    );
    for c in &obs.cluster_samples {
        let _ = writeln!(
            w.out,
            "poolsim_cluster_connections {} {}",
            c.live,
            fmt_timestamp(start_unix_ns + c.t)
        );
    }
    w.header(
        "poolsim_cluster_connect_attempts",
        "counter",
        None,
        "Connect attempts that reached the cluster (simulation only).",
    );
    for c in &obs.cluster_samples {
        let _ = writeln!(
            w.out,
            "poolsim_cluster_connect_attempts_total {} {}",
            c.attempts,
            fmt_timestamp(start_unix_ns + c.t)
        );
    }
    w.out.push_str("# EOF\n");
    w.out
}
