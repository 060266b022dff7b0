//! What a run hands to [`crate::metrics`]: per-pool counters, samples of the
//! time series, and the outcome of each pool; and the World's methods that
//! take them (the `measure_after` snapshot, sampling, the final hand-over).
//!
//! This file only reads the world's state; it never changes what the
//! simulation does.

use super::config::Stack;
use super::instance::{target_of, Db};
use super::{Ev, World};
use crate::engine::{Scheduler, Time};
use crate::model::driver::DriverStats;
use crate::model::keeper::KeeperStats;
use crate::model::refiller::RefillerStats;
use crate::model::reservoir::ReservoirStats;
use crate::model::sql_pool::SqlPoolStats;
use crate::model::warmup::WarmupStats;
use hdrhistogram::Histogram;

///
/// The request counters (`requests` to `failed`) count only requests that
/// arrived at or after `measure_after`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolCounters {
    /// Requests served by the pool (after it took traffic).
    pub requests: u64,
    /// Requests that got a connection without waiting (direct: TryCheckout hit).
    pub hits: u64,
    /// Requests that got a connection after waiting.
    pub hits_after_wait: u64,
    /// Requests that got no connection.
    pub failures: u64,
    /// Requests refused before the pool took traffic.
    pub rejected_before_ready: u64,
    /// Requests that waited at all (served or not).
    pub waited: u64,
    /// Failed requests by [`super::FailCause`] index.
    pub failed: [u64; 5],
    /// Requests completed (hold ended).
    pub completed: u64,
    /// Physical connections this pool created.
    pub created: u64,
    /// Opens of this pool that failed, by [`RefillFailure`] index (any opener).
    pub open_failures: [u64; 4],
    /// Connections of this pool closed by the server at its age limit.
    pub server_closed: u64,
    /// Uses of a server-closed connection (each a bad connection).
    pub bad_conns: u64,
    /// Requests that failed with a lost connection (`ConvertError`'s
    /// `driver.ErrBadConn`), each a forced reconnect of the handle.
    pub lost_connections: u64,
    /// Connects of the handle after the first (rebuilds of its `sql.DB`).
    pub rebuilds: u64,
    /// Reconnects refused because the last connect started under 1 s before.
    pub rebuilds_throttled: u64,
    /// Connects that failed (the startup ping failed).
    pub connect_failures: u64,
    /// Initial fills that timed out (the first, or a rebuild's).
    pub fill_timeouts: u64,
    /// Connections closed because their reservoir was shut down (the
    /// rebuild fix) rather than discarded for a reason.
    pub closed_by_shutdown: u64,
    /// The reservoir's counters (every `Db` of the pool).
    pub reservoir: ReservoirStats,
    /// The refiller's counters.
    pub refiller: RefillerStats,
    /// The driver's counters.
    pub driver: DriverStats,
    /// database/sql's counters.
    pub sql: SqlPoolStats,
    /// The warmup's counters.
    pub warmup: WarmupStats,
    /// The keeper's counters.
    pub keeper: KeeperStats,
}

fn sub<const N: usize>(a: [u64; N], b: [u64; N]) -> [u64; N] {
    std::array::from_fn(|i| a[i] - b[i])
}

impl PoolCounters {
    /// These counters counted from the snapshot `at` on: every counter minus
    /// its value in `at`, except the request counters, which are already
    /// limited to requests that arrived after `measure_after`.
    pub fn since(&self, at: &PoolCounters) -> PoolCounters {
        let (c, a) = (self, at);
        PoolCounters {
            completed: c.completed - a.completed,
            created: c.created - a.created,
            open_failures: sub(c.open_failures, a.open_failures),
            server_closed: c.server_closed - a.server_closed,
            bad_conns: c.bad_conns - a.bad_conns,
            lost_connections: c.lost_connections - a.lost_connections,
            rebuilds: c.rebuilds - a.rebuilds,
            rebuilds_throttled: c.rebuilds_throttled - a.rebuilds_throttled,
            connect_failures: c.connect_failures - a.connect_failures,
            fill_timeouts: c.fill_timeouts - a.fill_timeouts,
            closed_by_shutdown: c.closed_by_shutdown - a.closed_by_shutdown,
            reservoir: ReservoirStats {
                checkouts: c.reservoir.checkouts - a.reservoir.checkouts,
                empty_events: c.reservoir.empty_events - a.reservoir.empty_events,
                discards: sub(c.reservoir.discards, a.reservoir.discards),
            },
            refiller: RefillerStats {
                refills: c.refiller.refills - a.refiller.refills,
                failures: sub(c.refiller.failures, a.refiller.failures),
            },
            driver: DriverStats {
                connects: c.driver.connects - a.driver.connects,
                limiter_waits: c.driver.limiter_waits - a.driver.limiter_waits,
                limiter_wait_ns: c.driver.limiter_wait_ns - a.driver.limiter_wait_ns,
            },
            sql: SqlPoolStats {
                opens: c.sql.opens - a.sql.opens,
                opener_opens: c.sql.opener_opens - a.sql.opener_opens,
                open_failures: c.sql.open_failures - a.sql.open_failures,
                closes: sub(c.sql.closes, a.sql.closes),
                waits: c.sql.waits - a.sql.waits,
                wait_timeouts: c.sql.wait_timeouts - a.sql.wait_timeouts,
                handoffs: c.sql.handoffs - a.sql.handoffs,
            },
            warmup: WarmupStats {
                created: c.warmup.created - a.warmup.created,
                failed: c.warmup.failed - a.warmup.failed,
                retries: c.warmup.retries - a.warmup.retries,
            },
            keeper: KeeperStats {
                ticks: c.keeper.ticks - a.keeper.ticks,
                busy_ticks: c.keeper.busy_ticks - a.keeper.busy_ticks,
                topups: c.keeper.topups - a.keeper.topups,
                failures: c.keeper.failures - a.keeper.failures,
            },
            ..*c
        }
    }

    /// Add the counters of one `Db`'s components.
    fn add_db(&mut self, d: &Db) {
        let add = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        let r = &d.reservoir.stats;
        self.reservoir.checkouts += r.checkouts;
        self.reservoir.empty_events += r.empty_events;
        add(&mut self.reservoir.discards, &r.discards);
        let f = &d.refiller.stats;
        self.refiller.refills += f.refills;
        add(&mut self.refiller.failures, &f.failures);
        if let Some(sql) = &d.sql {
            let q = &sql.stats;
            self.sql.opens += q.opens;
            self.sql.opener_opens += q.opener_opens;
            self.sql.open_failures += q.open_failures;
            add(&mut self.sql.closes, &q.closes);
            self.sql.waits += q.waits;
            self.sql.wait_timeouts += q.wait_timeouts;
            self.sql.handoffs += q.handoffs;
        }
        if let Some(w) = &d.warmup {
            self.warmup.created += w.stats.created;
            self.warmup.failed += w.stats.failed;
            self.warmup.retries += w.stats.retries;
        }
        if let Some(k) = &d.keeper {
            self.keeper.ticks += k.stats.ticks;
            self.keeper.busy_ticks += k.stats.busy_ticks;
            self.keeper.topups += k.stats.topups;
            self.keeper.failures += k.stats.failures;
        }
    }
}

/// One pool at one sampling instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleRow {
    /// Sampling instant.
    pub t: Time,
    /// Pool index.
    pub pool: u32,
    /// Connections in the serving reservoir's buffer (0 for a plain pool).
    pub ready: u32,
    /// Connections on the serving database/sql's free list (0 for the direct stack).
    pub idle: u32,
    /// Connections held by requests (and by the warmup until it is done).
    pub in_use: u32,
    /// Physical connections of the pool, every `sql.DB` it built included:
    /// ready + idle + in use + leaked.
    pub open: u32,
    /// Connections held by reservoirs of closed `sql.DB`s whose refiller
    /// runs on (leaked by rebuilds).
    pub leaked: u32,
    /// Refillers of closed `sql.DB`s that run on (leaked by rebuilds).
    pub leaked_refillers: u32,
    /// The target: target_ready (reservoir stacks) or target_size (plain pool).
    pub target: u32,
    /// Requests waiting for a connection: in the reservoir's brief wait
    /// (direct), or in database/sql's queue or their own open (database/sql
    /// stacks).
    pub waiting: u32,
    /// Whether the pool takes traffic.
    pub serving: bool,
    /// Requests whose wait ended (served or failed) in the window since the
    /// previous sample (the first sample: at t=0).
    pub wait_count: u64,
    /// Median of those waits, ns (µs resolution, 2 significant digits; 0 without any).
    pub wait_p50_ns: u64,
    /// 99th percentile of those waits, ns (same resolution, never above `wait_max_ns`).
    pub wait_p99_ns: u64,
    /// The largest of those waits, ns (exact).
    pub wait_max_ns: u64,
    /// The sum of those waits, ns (exact; their mean is `wait_sum_ns / wait_count`).
    pub wait_sum_ns: u64,
    /// Cumulative counters.
    pub counters: PoolCounters,
}

/// The cluster at one sampling instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterSample {
    /// Sampling instant.
    pub t: Time,
    /// Open connections.
    pub live: u32,
    /// Cumulative connect attempts.
    pub attempts: u64,
    /// The lease counter (0 without a lease table).
    pub leases: u32,
    /// Open connections that hold a lease.
    pub leased_conns: u32,
    /// Lease releases lost so far (each leaves the counter one too high).
    pub leases_lost: u64,
}

/// What one pool did over the run.
pub struct PoolOutcome {
    /// Name.
    pub name: String,
    /// How its requests got connections.
    pub stack: Stack,
    /// target_size (MaxOpen).
    pub target_size: u32,
    /// target_ready (target_size for a plain pool).
    pub target: u32,
    /// low_watermark (0 for a plain pool).
    pub low_watermark: u32,
    /// Counters from `measure_after` on (see [`PoolCounters::since`]).
    pub counters: PoolCounters,
    /// Wait of every request until it had a connection or gave up (0 for an
    /// immediate hit), ns, to 3 significant digits.
    pub checkout_latency: Histogram<u64>,
    /// The exact largest wait, ns (the histogram's max is rounded up to its bucket).
    pub checkout_latency_max_ns: u64,
    /// Duration of every reservoir driver `Open()` (production's
    /// `dsql_reservoir_checkout_latency_milliseconds`, failures included),
    /// ns; empty for a plain pool.
    pub open_latency: Histogram<u64>,
    /// The exact longest `Open()`, ns.
    pub open_latency_max_ns: u64,
    /// Latency of every served request: wait + hold, ns.
    pub request_latency: Histogram<u64>,
    /// The exact largest request latency, ns.
    pub request_latency_max_ns: u64,
    /// When the pool started taking traffic (None: never, within the run).
    pub serving_since: Option<Time>,
    /// Whether the initial fill timed out.
    pub fill_timed_out: bool,
    /// Most physical connections the pool held at once (exact).
    pub peak_open: u32,
}

/// Everything observed in a run; [`crate::metrics`] derives reports from it.
pub struct Observations {
    /// Per pool.
    pub pools: Vec<PoolOutcome>,
    /// Every sample of every pool, time-major.
    pub samples: Vec<SampleRow>,
    /// Cluster samples at the same instants.
    pub cluster_samples: Vec<ClusterSample>,
    /// Connect attempts that reached the cluster, per simulated second.
    pub connects_per_second: Vec<u32>,
    /// Most open connections at once.
    pub peak_connections: u32,
    /// Connects refused by the cluster: rate, connection limit.
    pub cluster_refusals: (u64, u64),
    /// Leases refused (0 without a lease table).
    pub lease_denials: u64,
    /// Lease releases that failed: the counter stays one too high for each.
    pub leases_lost: u64,
    /// Events the engine processed.
    pub events_processed: u64,
    /// Simulated duration.
    pub duration: Time,
    /// Sampling period.
    pub sample_every: Time,
    /// Requests that arrived before this are not in the statistics.
    pub measure_after: Time,
}

impl World {
    fn counters(&self, pool: usize) -> PoolCounters {
        let p = &self.pools[pool];
        let mut c = PoolCounters {
            driver: p.driver.stats,
            ..p.counters
        };
        for &db in &p.dbs {
            c.add_db(&self.dbs[db as usize]);
        }
        c
    }

    pub(super) fn measure(&mut self) {
        for i in 0..self.pools.len() {
            self.snapshot[i] = self.counters(i);
        }
    }

    pub(super) fn sample(&mut self, s: &mut Scheduler<Ev>) {
        let t = s.now();
        for i in 0..self.pools.len() {
            let counters = self.counters(i);
            let p = &self.pools[i];
            let (mut ready, mut idle, mut res_waiting) = (0, 0, 0);
            if let Some(db) = p.ready_db() {
                let d = &self.dbs[db as usize];
                ready = d.reservoir.len() as u32;
                res_waiting = d.reservoir.waiting() as u32;
                idle = d.sql.as_ref().map_or(0, |s| s.num_idle());
            }
            let (mut leaked, mut leaked_refillers) = (0, 0);
            for &db in &p.dbs {
                let d = &self.dbs[db as usize];
                if d.leaked() {
                    leaked += d.physical;
                    leaked_refillers += 1;
                }
            }
            let p = &mut self.pools[i];
            let (wait_count, wait_p50_ns, wait_p99_ns, wait_max_ns) = if p.window.is_empty() {
                (0, 0, 0, 0)
            } else {
                let q = |x: f64| (p.window.value_at_quantile(x) * 1_000).min(p.window_max);
                let r = (p.window.len(), q(0.5), q(0.99), p.window_max);
                p.window.reset();
                p.window_max = 0;
                r
            };
            let wait_sum_ns = std::mem::take(&mut p.window_sum);
            self.samples.push(SampleRow {
                t,
                pool: i as u32,
                ready,
                idle,
                in_use: p.in_use,
                open: p.physical,
                leaked,
                leaked_refillers,
                target: target_of(&self.cfgs[i]),
                waiting: if p.stack == Stack::Direct {
                    res_waiting
                } else {
                    p.pending
                },
                serving: p.serving_since.is_some(),
                wait_count,
                wait_p50_ns,
                wait_p99_ns,
                wait_max_ns,
                wait_sum_ns,
                counters,
            });
        }
        self.cluster_samples.push(ClusterSample {
            t,
            live: self.cluster.live(),
            attempts: self.cluster.attempts(),
            leases: self.leases.as_ref().map_or(0, |l| l.active()),
            leased_conns: self.leased_live,
            leases_lost: self.leases_lost,
        });
        let next = t + self.sample_every;
        if next <= self.duration {
            s.at(next, Ev::Sample);
        }
    }

    /// The pools' target sizes (MaxOpen).
    pub fn target_sizes(&self) -> Vec<u32> {
        self.pools.iter().map(|p| p.target_size).collect()
    }

    pub(super) fn into_observations(self, events_processed: u64) -> Observations {
        let pools = (0..self.pools.len())
            .map(|i| {
                let p = &self.pools[i];
                let cfg = &self.cfgs[i];
                PoolOutcome {
                    name: self.names[i].clone(),
                    stack: p.stack,
                    target_size: p.target_size,
                    target: target_of(cfg),
                    low_watermark: if p.stack.has_reservoir() {
                        cfg.reservoir.low_watermark
                    } else {
                        0
                    },
                    counters: self.counters(i).since(&self.snapshot[i]),
                    checkout_latency: p.latency.clone(),
                    checkout_latency_max_ns: p.latency_max,
                    open_latency: p.open_latency.clone(),
                    open_latency_max_ns: p.open_latency_max,
                    request_latency: p.req_latency.clone(),
                    request_latency_max_ns: p.req_latency_max,
                    serving_since: p.serving_since,
                    fill_timed_out: p.fill_timed_out,
                    peak_open: p.peak_physical,
                }
            })
            .collect();
        Observations {
            pools,
            samples: self.samples,
            cluster_samples: self.cluster_samples,
            connects_per_second: self.cluster.attempts_by_second().to_vec(),
            peak_connections: self.cluster.peak_live(),
            cluster_refusals: (self.cluster.refused_rate, self.cluster.refused_limit),
            lease_denials: self.leases.as_ref().map_or(0, |l| l.denied),
            leases_lost: self.leases_lost,
            events_processed,
            duration: self.duration,
            sample_every: self.sample_every,
            measure_after: self.measure_after,
        }
    }
}
