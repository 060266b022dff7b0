//! `metrics.prom`: the run's series in the OpenMetrics text format, so a run
//! can be loaded into Prometheus (`promtool tsdb create-blocks-from
//! openmetrics metrics.prom <dir>`) and looked at on a dashboard
//! (`dashboards/poolsim.json`). The file also passes `promtool check metrics`
//! (Prometheus' own linter) but for one finding it cannot avoid: the
//! production histogram `dsql_reservoir_checkout_latency_milliseconds` keeps
//! its production name, unit included (see docs/reports.md).
//!
//! Every sample carries its timestamp: seconds since the epoch,
//! `Scenario::start_unix_ns + t`. Every series has the labels `scenario`
//! (the scenario's name), `seed` and `mode` (the stack of its pools:
//! `direct`, `database_sql`, `pool`, or `mixed`), which tell runs apart when
//! several are loaded into one Prometheus; per-pool series add `service`
//! (the pool's name) and `stack` (how that pool gets connections). A family's `# HELP` and `# TYPE` name the series
//! exactly as they are written, `_total` included for counters, as
//! Prometheus' text format (and so `promtool check metrics`) expects; the
//! file ends with `# EOF`.
//!
//! Families, in the order written:
//! - production reservoir metrics (iw/temporal
//!   `common/persistence/sql/sqlplugin/dsql/metrics.go`): `dsql_reservoir_size`,
//!   `dsql_reservoir_target` (gauges); `dsql_reservoir_checkouts_total`,
//!   `dsql_reservoir_empty_total`, `dsql_reservoir_discards_total{reason}`,
//!   `dsql_reservoir_refills_total`, `dsql_reservoir_refill_failures_total{reason}`
//!   (counters); `dsql_reservoir_checkout_latency_milliseconds` (histogram):
//!   only its final state, at the last sample, because the model keeps one
//!   histogram per pool for the whole run. Bucket counts come from that
//!   hdrhistogram (3 significant digits), `_sum` is the sum of each recorded
//!   value's bucket value;
//! - production database/sql pool metrics (the same file's pool collector,
//!   which samples `db.Stats()`): `dsql_pool_max_open`, `dsql_pool_open`,
//!   `dsql_pool_in_use`, `dsql_pool_idle` (gauges), and the close counts
//!   `dsql_db_closed_max_lifetime_total`, `dsql_db_closed_max_idle_time_total`,
//!   `dsql_db_closed_max_idle_total` (production records these cumulative
//!   counts as gauges; they are typed `counter` here, which is what they are
//!   and what the linter asks of a `_total` name);
//! - poolsim's own (no production counterpart): `poolsim_pool_physical_connections`,
//!   `poolsim_requests_waiting`, `poolsim_window_wait_p50_seconds`,
//!   `poolsim_window_wait_p99_seconds` (gauges: the waits that ended in the
//!   sample window, as in timeseries.csv), `poolsim_pool_opens_total`,
//!   `poolsim_pool_closes_total{cause}`, `poolsim_requests_total`,
//!   `poolsim_request_failures_total{cause}` (counters), and the cluster's
//!   `poolsim_cluster_connections` (gauge) and
//!   `poolsim_cluster_connect_attempts_total` (counter), without `service`.

use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::{ClusterSample, FailCause, Observations, PoolCounters, SampleRow};
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

/// A sample value: a count, or nanoseconds written as seconds.
enum Value {
    Int(u64),
    Seconds(u64),
}

impl Value {
    fn text(&self) -> String {
        match *self {
            Value::Int(v) => v.to_string(),
            Value::Seconds(ns) => fmt_timestamp(ns),
        }
    }
}

struct Writer<'a> {
    out: String,
    obs: &'a Observations,
    start: u64,
    /// `scenario="…",seed="…",mode="…"`: the labels of every series.
    run: String,
    /// `service="…",stack="…"` of each pool.
    services: Vec<String>,
}

impl Writer<'_> {
    /// `# HELP` and `# TYPE` of a family (its exact sample name; a
    /// histogram's base name).
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One series per pool (and per `extra` label value), all samples in time order.
    fn per_pool(
        &mut self,
        name: &str,
        extra: Option<(&str, &[&str])>,
        value: impl Fn(&SampleRow, usize) -> Value,
    ) {
        let n = self.obs.pools.len().max(1);
        let variants: Vec<Option<(&str, &str)>> = match extra {
            None => vec![None],
            Some((k, vs)) => vs.iter().map(|v| Some((k, *v))).collect(),
        };
        for pool in 0..self.obs.pools.len() {
            for (vi, variant) in variants.iter().enumerate() {
                let labels = match variant {
                    None => format!("{},{}", self.run, self.services[pool]),
                    Some((k, v)) => format!(
                        "{},{},{k}=\"{}\"",
                        self.run,
                        self.services[pool],
                        escape_label(v)
                    ),
                };
                for chunk in self.obs.samples.chunks(n) {
                    if let Some(r) = chunk.get(pool) {
                        let _ = writeln!(
                            self.out,
                            "{name}{{{labels}}} {} {}",
                            value(r, vi).text(),
                            fmt_timestamp(self.start + r.t)
                        );
                    }
                }
            }
        }
    }

    /// A counter family `name` (ending in `_total`), one series per pool.
    fn counter(&mut self, name: &str, help: &str, f: impl Fn(&PoolCounters) -> u64) {
        self.header(name, "counter", help);
        self.per_pool(name, None, |r, _| Value::Int(f(&r.counters)));
    }

    /// A counter family with one series per pool and label value.
    fn counter_by(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        values: &[&str],
        f: impl Fn(&PoolCounters, usize) -> u64,
    ) {
        self.header(name, "counter", help);
        self.per_pool(name, Some((label, values)), |r, i| {
            Value::Int(f(&r.counters, i))
        });
    }

    fn gauge(&mut self, name: &str, help: &str, f: impl Fn(&SampleRow) -> u64) {
        self.header(name, "gauge", help);
        self.per_pool(name, None, |r, _| Value::Int(f(r)));
    }

    /// A gauge in seconds, from nanoseconds.
    fn gauge_seconds(&mut self, name: &str, help: &str, f: impl Fn(&SampleRow) -> u64) {
        self.header(name, "gauge", help);
        self.per_pool(name, None, |r, _| Value::Seconds(f(r)));
    }

    /// A gauge or counter of the cluster (no `service` label).
    fn cluster(&mut self, name: &str, kind: &str, help: &str, f: impl Fn(&ClusterSample) -> u64) {
        self.header(name, kind, help);
        for c in &self.obs.cluster_samples {
            let _ = writeln!(
                self.out,
                "{name}{{{}}} {} {}",
                self.run,
                f(c),
                fmt_timestamp(self.start + c.t)
            );
        }
    }

    fn latency_histogram(&mut self) {
        let family = "dsql_reservoir_checkout_latency_milliseconds";
        self.header(
            family,
            "histogram",
            "Duration of every reservoir driver Open() (TryCheckout, then the brief wait; failures included), milliseconds (the production name and unit), final state of the run; empty for a plain pool.",
        );
        let Some(t) = self.obs.samples.last().map(|r| r.t) else {
            return;
        };
        let ts = fmt_timestamp(self.start + t);
        for (pool, p) in self.obs.pools.iter().enumerate() {
            let labels = format!("{},{}", self.run, self.services[pool]);
            let h = &p.open_latency;
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
                let _ = writeln!(self.out, "{family}_bucket{{{labels},le=\"{le}\"}} {b} {ts}");
            }
            let total = h.len();
            let _ = writeln!(
                self.out,
                "{family}_bucket{{{labels},le=\"+Inf\"}} {total} {ts}"
            );
            let _ = writeln!(self.out, "{family}_count{{{labels}}} {total} {ts}");
            let _ = writeln!(
                self.out,
                "{family}_sum{{{labels}}} {} {ts}",
                fmt_ns_as_ms(sum_ns)
            );
        }
    }
}

/// The labels that tell one run from another in a Prometheus holding several:
/// the scenario's name and the seed (`mode` comes from the run's pools).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLabels {
    /// The scenario's name (`scenario` label).
    pub scenario: String,
    /// The seed (`seed` label).
    pub seed: u64,
}

impl RunLabels {
    /// The labels of a scenario's run.
    pub fn of(sc: &crate::scenario::Scenario) -> Self {
        RunLabels {
            scenario: sc.name.clone(),
            seed: sc.world.seed,
        }
    }
}

/// The `mode` label of a run: the stack every pool runs, or `mixed`.
pub fn mode_label(obs: &Observations) -> &'static str {
    match obs.pools.first() {
        Some(p) if obs.pools.iter().all(|q| q.stack == p.stack) => p.stack.name(),
        Some(_) => "mixed",
        None => "none",
    }
}

/// The whole `metrics.prom`.
pub fn openmetrics(obs: &Observations, start_unix_ns: u64, run: &RunLabels) -> String {
    let mut w = Writer {
        out: String::with_capacity(obs.samples.len() * 1600 + 4096),
        obs,
        start: start_unix_ns,
        run: format!(
            "scenario=\"{}\",seed=\"{}\",mode=\"{}\"",
            escape_label(&run.scenario),
            run.seed,
            mode_label(obs)
        ),
        services: obs
            .pools
            .iter()
            .map(|p| {
                format!(
                    "service=\"{}\",stack=\"{}\"",
                    escape_label(&p.name),
                    p.stack.name()
                )
            })
            .collect(),
    };
    // Production reservoir metrics.
    w.gauge(
        "dsql_reservoir_size",
        "Connections ready in the reservoir buffer.",
        |r| r.ready as u64,
    );
    w.gauge(
        "dsql_reservoir_target",
        "The reservoir's target_ready (target_size for a plain pool).",
        |r| r.target as u64,
    );
    w.counter(
        "dsql_reservoir_checkouts_total",
        "Successful reservoir checkouts.",
        |c| c.reservoir.checkouts,
    );
    w.counter(
        "dsql_reservoir_empty_total",
        "TryCheckout calls that found no usable connection (empty events).",
        |c| c.reservoir.empty_events,
    );
    let discards: Vec<&str> = Discard::ALL.iter().map(|d| d.name()).collect();
    w.counter_by(
        "dsql_reservoir_discards_total",
        "Connections discarded by the reservoir, by reason.",
        "reason",
        &discards,
        |c, i| c.reservoir.discards[Discard::ALL[i] as usize],
    );
    w.counter(
        "dsql_reservoir_refills_total",
        "Connections the refiller created.",
        |c| c.refiller.refills,
    );
    let failures: Vec<&str> = RefillFailure::ALL.iter().map(|f| f.name()).collect();
    w.counter_by(
        "dsql_reservoir_refill_failures_total",
        "Failed refiller opens, by the step that failed.",
        "reason",
        &failures,
        |c, i| c.refiller.failures[RefillFailure::ALL[i] as usize],
    );
    w.latency_histogram();
    // Production database/sql pool metrics (db.Stats()).
    let max_open: Vec<u64> = obs.pools.iter().map(|p| p.target_size as u64).collect();
    w.gauge(
        "dsql_pool_max_open",
        "database/sql MaxOpenConns (target_size).",
        |r| max_open[r.pool as usize],
    );
    w.gauge(
        "dsql_pool_open",
        "Connections database/sql holds: idle + in use (direct stack: in use; opens in flight not counted).",
        |r| (r.idle + r.in_use) as u64,
    );
    w.gauge("dsql_pool_in_use", "Connections held by requests.", |r| {
        r.in_use as u64
    });
    w.gauge(
        "dsql_pool_idle",
        "Connections on database/sql's free list.",
        |r| r.idle as u64,
    );
    w.counter(
        "dsql_db_closed_max_lifetime_total",
        "database/sql closes at ConnMaxLifetime.",
        |c| c.sql.closes[CloseCause::Lifetime as usize],
    );
    w.counter(
        "dsql_db_closed_max_idle_time_total",
        "database/sql closes at ConnMaxIdleTime.",
        |c| c.sql.closes[CloseCause::IdleTime as usize],
    );
    w.counter(
        "dsql_db_closed_max_idle_total",
        "database/sql closes of returns that found MaxIdleConns connections idle.",
        |c| c.sql.closes[CloseCause::MaxIdle as usize],
    );
    // poolsim's own.
    w.gauge(
        "poolsim_pool_physical_connections",
        "Physical connections of the pool: ready + idle + in use (simulation only).",
        |r| r.open as u64,
    );
    w.gauge(
        "poolsim_requests_waiting",
        "Requests waiting for a connection (simulation only).",
        |r| r.waiting as u64,
    );
    w.gauge_seconds(
        "poolsim_window_wait_p50_seconds",
        "Median wait for a connection of the requests whose wait ended in the sample window ending here (0 without waits; simulation only).",
        |r| r.wait_p50_ns,
    );
    w.gauge_seconds(
        "poolsim_window_wait_p99_seconds",
        "99th percentile of the same waits (simulation only).",
        |r| r.wait_p99_ns,
    );
    w.counter(
        "poolsim_pool_opens_total",
        "Physical connections the pool created, whoever opened them (simulation only).",
        |c| c.created,
    );
    let closes: Vec<&str> = CloseCause::ALL.iter().map(|c| c.name()).collect();
    w.counter_by(
        "poolsim_pool_closes_total",
        "database/sql closes, by cause (simulation only).",
        "cause",
        &closes,
        |c, i| c.sql.closes[CloseCause::ALL[i] as usize],
    );
    w.counter(
        "poolsim_requests_total",
        "Requests the pool served after it took traffic (simulation only).",
        |c| c.requests,
    );
    let causes: Vec<&str> = FailCause::ALL.iter().map(|c| c.name()).collect();
    w.counter_by(
        "poolsim_request_failures_total",
        "Requests that got no connection, by cause (simulation only).",
        "cause",
        &causes,
        |c, i| c.failed[FailCause::ALL[i] as usize],
    );
    w.cluster(
        "poolsim_cluster_connections",
        "gauge",
        "Connections open on the cluster (simulation only).",
        |c| c.live as u64,
    );
    w.cluster(
        "poolsim_cluster_connect_attempts_total",
        "counter",
        "Connect attempts that reached the cluster (simulation only).",
        |c| c.attempts,
    );
    w.out.push_str("# EOF\n");
    w.out
}
