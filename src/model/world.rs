//! The world: pools of one deployment on one DSQL cluster, wired together and
//! driven by the [`Engine`].
//!
//! Each pool is one instance with its own reservoir, refiller, driver and
//! workload. In this model a request takes its connection straight from the
//! reservoir (driver `Open()`) and gives it back (`Return`) when its hold ends:
//! the model of the seed's Task 13 and of the old simulator.
//!
//! The initial fill: at start the instance waits until `len(buffer) >=
//! low_watermark`, checking every 100 ms, for at most `initial_fill_timeout`,
//! then takes traffic. Requests that arrive before it takes traffic are refused
//! (counted as `rejected_before_ready`, not as requests): the service is not
//! serving yet.

use crate::engine::{
    Engine, EngineError, Handler, Limits, RngStreams, Scheduler, StreamId, Time, MILLISECOND,
    SECOND,
};
use crate::model::conn::{ConnId, ConnTable, Place};
use crate::model::dist::DurationDist;
use crate::model::driver::{Driver, DriverStats, GlobalLimiter, OpenAttempt, Progress, Shared};
use crate::model::dsql_cluster::{Cluster, ClusterConfig};
use crate::model::lease_table::{LeaseConfig, LeaseTable};
use crate::model::limiter::{FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use crate::model::refiller::{RefillFailure, Refiller, RefillerStats, Step};
use crate::model::reservoir::{
    Checkout, Discard, Offer, Reservoir, ReservoirConfig, ReservoirStats,
};
use crate::model::stream_kind;
use crate::model::workload::{Workload, WorkloadConfig};
use hdrhistogram::Histogram;

/// Period of the expiry scanner.
pub const SCAN_EVERY: Time = SECOND;
/// Period of the initial-fill check.
pub const FILL_CHECK_EVERY: Time = 100 * MILLISECOND;

// Purposes of the per-pool random streams.
const P_ARRIVALS: u16 = 0;
const P_HOLDS: u16 = 1;
const P_LIFETIMES: u16 = 0;
const P_STARTUP: u16 = 0;
const P_DRIVER: u16 = 1;

/// Which client-side limiter the cluster-wide `global_rate_limit` uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimiterConfig {
    /// Token bucket (x/time/rate): `rate`/s, `burst`.
    TokenBucket { rate: f64, burst: u32 },
    /// DynamoDB per-second counter: `limit` per second.
    PerSecond { limit: u32 },
    /// The old simulator's fixed window: `limit` per second.
    FixedWindow { limit: u32 },
}

/// One pool (one instance) of the world.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    /// Name (the service).
    pub name: String,
    /// `target_size` (MaxOpen / max_conns).
    pub target_size: u32,
    /// The reservoir.
    pub reservoir: ReservoirConfig,
    /// Its callers, if any.
    pub workload: Option<WorkloadConfig>,
    /// Connect latency.
    pub connect_latency: DurationDist,
    /// Staggered startup: the first connect waits `U[0, max)`; `None` = off.
    pub startup_max_delay: Option<Time>,
    /// Probability that getting an IAM token fails (failure injection).
    pub token_failure_rate: f64,
}

/// Everything a run needs.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    /// Seed of every random stream.
    pub seed: u64,
    /// Simulated duration.
    pub duration: Time,
    /// Sampling period of the time series.
    pub sample_every: Time,
    /// The pools.
    pub pools: Vec<PoolConfig>,
    /// The cluster-wide client limiter (`global_rate_limit`), if any.
    pub global_limiter: Option<LimiterConfig>,
    /// The lease table, if enabled.
    pub leases: Option<LeaseConfig>,
    /// The cluster.
    pub cluster: ClusterConfig,
    /// Engine bounds.
    pub limits: Limits,
}

/// Events of the world. Small and `Copy`: the queue stores them inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A request arrives at a pool.
    Arrival(u32),
    /// A request's hold ends: return the connection.
    HoldEnd(u32, ConnId),
    /// A driver Open()'s brief wait runs out (pool, ticket).
    WaitTimeout(u32, u64),
    /// The refiller loop iterates.
    RefillerWake(u32),
    /// The refiller's open continues after a wait.
    OpenAdvance(u32),
    /// The refiller's connect completes.
    OpenDone(u32),
    /// The refiller's open failed.
    OpenFailed(u32, RefillFailure),
    /// The expiry scanner runs.
    Scan(u32),
    /// The initial fill is checked.
    FillCheck(u32),
    /// Take a sample of every pool.
    Sample,
}

/// Request outcomes and other counters of one pool, cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolCounters {
    /// Requests served by the pool (after it took traffic).
    pub requests: u64,
    /// Requests whose TryCheckout succeeded at once.
    pub hits: u64,
    /// Requests that got a connection during the brief wait.
    pub hits_after_wait: u64,
    /// Requests that got no connection.
    pub failures: u64,
    /// Requests refused before the pool took traffic.
    pub rejected_before_ready: u64,
    /// Requests completed (hold ended).
    pub completed: u64,
    /// The reservoir's counters.
    pub reservoir: ReservoirStats,
    /// The refiller's counters.
    pub refiller: RefillerStats,
    /// The driver's counters.
    pub driver: DriverStats,
}

/// One pool at one sampling instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleRow {
    /// Sampling instant.
    pub t: Time,
    /// Pool index.
    pub pool: u32,
    /// Connections in the reservoir buffer.
    pub ready: u32,
    /// Connections held by requests.
    pub in_use: u32,
    /// The reservoir's target_ready.
    pub target: u32,
    /// Requests in the brief wait.
    pub waiting: u32,
    /// Whether the pool takes traffic.
    pub serving: bool,
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
    /// Active leases (0 without a lease table).
    pub leases: u32,
}

/// What one pool did over the run.
pub struct PoolOutcome {
    /// Name.
    pub name: String,
    /// target_ready.
    pub target: u32,
    /// low_watermark.
    pub low_watermark: u32,
    /// Final counters.
    pub counters: PoolCounters,
    /// Latency of every Open() (0 for an immediate hit), ns, to 3 significant digits.
    pub checkout_latency: Histogram<u64>,
    /// The exact largest Open() latency, ns (the histogram's max is rounded up to its bucket).
    pub checkout_latency_max_ns: u64,
    /// When the pool started taking traffic (None: never, within the run).
    pub serving_since: Option<Time>,
    /// Whether the initial fill timed out.
    pub fill_timed_out: bool,
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
    /// Events the engine processed.
    pub events_processed: u64,
    /// Simulated duration.
    pub duration: Time,
    /// Sampling period.
    pub sample_every: Time,
}

struct Pool {
    target_size: u32,
    reservoir: Reservoir,
    refiller: Refiller,
    driver: Driver,
    workload: Option<Workload>,
    open: Option<OpenAttempt>,
    serving_since: Option<Time>,
    fill_timed_out: bool,
    in_use: u32,
    counters: PoolCounters,
    latency: Histogram<u64>,
    latency_max: u64,
}

impl Pool {
    #[inline]
    fn record_latency(&mut self, ns: Time) {
        self.latency.saturating_record(ns);
        self.latency_max = self.latency_max.max(ns);
    }
}

/// The simulated deployment.
pub struct World {
    names: Vec<String>,
    pools: Vec<Pool>,
    conns: ConnTable,
    cluster: Cluster,
    limiter: Option<GlobalLimiter>,
    leases: Option<LeaseTable>,
    duration: Time,
    sample_every: Time,
    samples: Vec<SampleRow>,
    cluster_samples: Vec<ClusterSample>,
    scratch: Vec<(ConnId, Discard)>,
}

fn latency_histogram() -> Histogram<u64> {
    // 1 ns .. 1 hour at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600 * SECOND, 3).expect("valid histogram bounds")
}

impl World {
    /// Build the world and schedule its first events.
    pub fn new(cfg: &WorldConfig, sched: &mut Scheduler<Ev>) -> Result<World, String> {
        let streams = RngStreams::new(cfg.seed);
        let limiter = match cfg.global_limiter {
            None => None,
            Some(LimiterConfig::TokenBucket { rate, burst }) => {
                Some(GlobalLimiter::TokenBucket(TokenBucket::new(rate, burst)?))
            }
            Some(LimiterConfig::PerSecond { limit }) => Some(GlobalLimiter::PerSecond(
                PerSecondLimiter::new(limit)?,
                Box::new(streams.stream(StreamId::new(stream_kind::LIMITER, 0, 0))),
            )),
            Some(LimiterConfig::FixedWindow { limit }) => {
                Some(GlobalLimiter::FixedWindow(FixedWindowLimiter::new(limit)?))
            }
        };
        let mut pools = Vec::with_capacity(cfg.pools.len());
        for (i, p) in cfg.pools.iter().enumerate() {
            let i32_ = i as u32;
            let mut startup = streams.stream(StreamId::new(stream_kind::DRIVER, i32_, P_STARTUP));
            let first_connect_at = match p.startup_max_delay {
                Some(max) if max > 0 => {
                    use rand::Rng;
                    startup.random_range(0..max)
                }
                _ => 0,
            };
            let workload = p.workload.map(|w| {
                Workload::new(
                    w,
                    streams.stream(StreamId::new(stream_kind::WORKLOAD, i32_, P_ARRIVALS)),
                    streams.stream(StreamId::new(stream_kind::WORKLOAD, i32_, P_HOLDS)),
                )
            });
            pools.push(Pool {
                target_size: p.target_size,
                reservoir: Reservoir::new(p.reservoir),
                refiller: Refiller::new(
                    p.reservoir.base_lifetime,
                    p.reservoir.jitter,
                    streams.stream(StreamId::new(stream_kind::REFILLER, i32_, P_LIFETIMES)),
                ),
                driver: Driver::new(
                    first_connect_at,
                    p.connect_latency,
                    p.token_failure_rate,
                    streams.stream(StreamId::new(stream_kind::DRIVER, i32_, P_DRIVER)),
                ),
                workload,
                open: None,
                serving_since: None,
                fill_timed_out: false,
                in_use: 0,
                counters: PoolCounters::default(),
                latency: latency_histogram(),
                latency_max: 0,
            });
        }
        let samples_expected = (cfg.duration / cfg.sample_every + 1) as usize;
        let mut w = World {
            names: cfg.pools.iter().map(|p| p.name.clone()).collect(),
            pools,
            conns: ConnTable::default(),
            cluster: Cluster::new(cfg.cluster, cfg.duration)?,
            limiter,
            leases: cfg.leases.map(LeaseTable::new),
            duration: cfg.duration,
            sample_every: cfg.sample_every,
            samples: Vec::with_capacity(samples_expected * cfg.pools.len()),
            cluster_samples: Vec::with_capacity(samples_expected),
            scratch: Vec::new(),
        };
        for i in 0..w.pools.len() as u32 {
            sched.at(0, Ev::RefillerWake(i));
            sched.at(0, Ev::FillCheck(i));
            sched.at(SCAN_EVERY, Ev::Scan(i));
            let p = &mut w.pools[i as usize];
            if let Some(t) = p.workload.as_mut().and_then(|wl| wl.first_arrival(0)) {
                sched.at(t, Ev::Arrival(i));
            }
        }
        sched.at(0, Ev::Sample);
        Ok(w)
    }

    /// Close a connection: the cluster forgets it and its lease is released.
    fn close(&mut self, id: ConnId) {
        self.conns.close(id);
        self.cluster.close();
        if let Some(l) = self.leases.as_mut() {
            l.release();
        }
    }

    /// Begin a request's hold on connection `id`.
    fn start_hold(&mut self, pool: u32, id: ConnId, hold: Time, s: &mut Scheduler<Ev>) {
        self.pools[pool as usize].in_use += 1;
        s.after(hold, Ev::HoldEnd(pool, id));
    }

    /// Return path: a connection arrives at the reservoir (returned or new).
    fn offer(&mut self, pool: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        match p.reservoir.offer(id, now, &mut self.conns) {
            Offer::Buffered => {}
            Offer::Discarded(id, _) => self.close(id),
            Offer::ToWaiter(w, id) => {
                p.counters.hits_after_wait += 1;
                p.record_latency(now - w.since);
                self.start_hold(pool, id, w.tag, s);
            }
            Offer::WaiterDiscarded(w, id, _) => {
                p.counters.failures += 1;
                p.record_latency(now - w.since);
                self.close(id);
            }
        }
    }

    fn arrival(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let wl = p.workload.as_mut().expect("arrival without workload");
        let hold = wl.draw_hold();
        if let Some(next) = wl.next_arrival(now) {
            if next <= self.duration {
                s.at(next, Ev::Arrival(pool));
            }
        }
        if p.serving_since.is_none() {
            p.counters.rejected_before_ready += 1;
            return;
        }
        p.counters.requests += 1;
        match p.reservoir.try_checkout(now, &mut self.conns) {
            Checkout::Hit(id) => {
                p.counters.hits += 1;
                p.record_latency(0);
                self.start_hold(pool, id, hold, s);
            }
            other => {
                if let Checkout::Discarded(id, _) = other {
                    self.close(id);
                }
                let p = &mut self.pools[pool as usize];
                let wait = p.reservoir.config().empty_wait;
                if wait == 0 {
                    p.counters.failures += 1;
                    p.record_latency(0);
                } else {
                    let ticket = p.reservoir.enqueue_waiter(now, hold);
                    s.after(wait, Ev::WaitTimeout(pool, ticket));
                }
            }
        }
    }

    fn refiller_wake(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        debug_assert!(p.open.is_none());
        let target = p.reservoir.config().target_ready;
        match p.refiller.step(now, p.reservoir.len(), target) {
            Step::SleepUntil(t) => s.at(t, Ev::RefillerWake(pool)),
            Step::Open { deadline } => {
                p.open = Some(OpenAttempt::new(now, deadline));
                self.open_advance(pool, s);
            }
        }
    }

    fn open_advance(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let mut a = p.open.expect("open in progress");
        let mut sh = Shared {
            limiter: &mut self.limiter,
            leases: &mut self.leases,
            cluster: &mut self.cluster,
        };
        let progress = p.driver.advance(&mut a, now, &mut sh);
        p.open = Some(a);
        match progress {
            Progress::WaitUntil(t) => s.at(t, Ev::OpenAdvance(pool)),
            Progress::Connecting { done_at } => s.at(done_at, Ev::OpenDone(pool)),
            Progress::Failed { why, at } if at == now => self.open_failed(pool, why, s),
            Progress::Failed { why, at } => s.at(at, Ev::OpenFailed(pool, why)),
        }
    }

    fn open_done(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        p.open = None;
        let lifetime = p.refiller.created();
        let id = self.conns.open(pool, now, lifetime, Place::InUse);
        self.offer(pool, id, s);
        // On success the loop goes again at once.
        self.refiller_wake(pool, s);
    }

    fn open_failed(&mut self, pool: u32, why: RefillFailure, s: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        p.open = None;
        let t = p.refiller.failed(s.now(), why);
        s.at(t, Ev::RefillerWake(pool));
    }

    fn hold_end(&mut self, pool: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        p.in_use -= 1;
        p.counters.completed += 1;
        self.offer(pool, id, s);
    }

    fn wait_timeout(&mut self, pool: u32, ticket: u64, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        if let Some(w) = p.reservoir.timeout_waiter(ticket) {
            p.counters.failures += 1;
            p.record_latency(now - w.since);
        }
    }

    fn scan(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        self.pools[pool as usize]
            .reservoir
            .scan(now, &self.conns, &mut out);
        for &(id, _) in &out {
            self.close(id);
        }
        self.scratch = out;
        s.after(SCAN_EVERY, Ev::Scan(pool));
    }

    fn fill_check(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        let cfg = p.reservoir.config();
        if p.reservoir.len() >= cfg.low_watermark as usize {
            p.serving_since = Some(now);
        } else if now >= cfg.initial_fill_timeout {
            p.serving_since = Some(now);
            p.fill_timed_out = true;
        } else {
            s.after(FILL_CHECK_EVERY, Ev::FillCheck(pool));
        }
    }

    fn counters(p: &Pool) -> PoolCounters {
        PoolCounters {
            reservoir: p.reservoir.stats,
            refiller: p.refiller.stats,
            driver: p.driver.stats,
            ..p.counters
        }
    }

    fn sample(&mut self, s: &mut Scheduler<Ev>) {
        let t = s.now();
        for (i, p) in self.pools.iter().enumerate() {
            self.samples.push(SampleRow {
                t,
                pool: i as u32,
                ready: p.reservoir.len() as u32,
                in_use: p.in_use,
                target: p.reservoir.config().target_ready,
                waiting: p.reservoir.waiting() as u32,
                serving: p.serving_since.is_some(),
                counters: Self::counters(p),
            });
        }
        self.cluster_samples.push(ClusterSample {
            t,
            live: self.cluster.live(),
            attempts: self.cluster.attempts(),
            leases: self.leases.as_ref().map_or(0, |l| l.active()),
        });
        let next = t + self.sample_every;
        if next <= self.duration {
            s.at(next, Ev::Sample);
        }
    }

    /// Check that every connection is in exactly one place and every count agrees.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut ready = 0;
        let mut in_use = 0;
        for (i, p) in self.pools.iter().enumerate() {
            let i = i as u32;
            let r = self.conns.count(i, Place::Ready);
            let u = self.conns.count(i, Place::InUse);
            if r != p.reservoir.len() {
                return Err(format!(
                    "pool {i}: {r} ready connections but buffer holds {}",
                    p.reservoir.len()
                ));
            }
            if u != p.in_use as usize {
                return Err(format!(
                    "pool {i}: {u} in-use connections but {} holds",
                    p.in_use
                ));
            }
            if p.reservoir.len() > p.reservoir.config().target_ready as usize {
                return Err(format!("pool {i}: buffer over capacity"));
            }
            let mut seen: Vec<ConnId> = p.reservoir.buffered().collect();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != p.reservoir.len() {
                return Err(format!("pool {i}: a connection is buffered twice"));
            }
            ready += r;
            in_use += u;
        }
        if ready + in_use != self.conns.live() {
            return Err(format!(
                "{} live connections but {ready} ready + {in_use} in use",
                self.conns.live()
            ));
        }
        // The cluster also counts connects in flight (admitted, not yet complete).
        let connecting = self
            .pools
            .iter()
            .filter(
                |p| matches!(p.open, Some(a) if a.stage == crate::model::driver::Stage::Connect),
            )
            .count();
        let cluster = self.cluster.live() as usize;
        if cluster < self.conns.live() || cluster > self.conns.live() + connecting {
            return Err(format!(
                "cluster counts {cluster} connections, client holds {} (+{connecting} connecting)",
                self.conns.live()
            ));
        }
        if let Some(l) = &self.leases {
            let held = l.active() as usize;
            if held < self.conns.live()
                || held
                    > self.conns.live()
                        + self
                            .pools
                            .iter()
                            .filter(|p| p.open.is_some_and(|a| a.lease_held))
                            .count()
            {
                return Err(format!(
                    "{held} leases for {} live connections",
                    self.conns.live()
                ));
            }
        }
        Ok(())
    }

    /// The pools' target sizes (MaxOpen).
    pub fn target_sizes(&self) -> Vec<u32> {
        self.pools.iter().map(|p| p.target_size).collect()
    }

    fn into_observations(self, events_processed: u64) -> Observations {
        let pools = self
            .pools
            .iter()
            .zip(self.names.iter())
            .map(|(p, name)| PoolOutcome {
                name: name.clone(),
                target: p.reservoir.config().target_ready,
                low_watermark: p.reservoir.config().low_watermark,
                counters: Self::counters(p),
                checkout_latency: p.latency.clone(),
                checkout_latency_max_ns: p.latency_max,
                serving_since: p.serving_since,
                fill_timed_out: p.fill_timed_out,
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
            events_processed,
            duration: self.duration,
            sample_every: self.sample_every,
        }
    }
}

impl Handler<Ev> for World {
    #[inline]
    fn handle(&mut self, ev: Ev, s: &mut Scheduler<Ev>) {
        match ev {
            Ev::Arrival(p) => self.arrival(p, s),
            Ev::HoldEnd(p, c) => self.hold_end(p, c, s),
            Ev::WaitTimeout(p, t) => self.wait_timeout(p, t, s),
            Ev::RefillerWake(p) => self.refiller_wake(p, s),
            Ev::OpenAdvance(p) => self.open_advance(p, s),
            Ev::OpenDone(p) => self.open_done(p, s),
            Ev::OpenFailed(p, why) => self.open_failed(p, why, s),
            Ev::Scan(p) => self.scan(p, s),
            Ev::FillCheck(p) => self.fill_check(p, s),
            Ev::Sample => self.sample(s),
        }
    }
}

/// Why a run could not be completed.
#[derive(Debug)]
pub enum RunError {
    /// The configuration was refused by a model.
    Config(String),
    /// The engine stopped the run.
    Engine(EngineError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Config(m) => write!(f, "{m}"),
            RunError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Run a world to its end.
pub fn simulate(cfg: &WorldConfig) -> Result<Observations, RunError> {
    simulate_checked(cfg, None)
}

/// Run a world to its end in slices of simulated time, calling `progress(now)`
/// after each slice (for a progress bar; it cannot change the run).
pub fn simulate_with_progress(
    cfg: &WorldConfig,
    mut progress: impl FnMut(Time),
) -> Result<Observations, RunError> {
    let mut engine = Engine::new(cfg.limits);
    let mut world = World::new(cfg, engine.scheduler()).map_err(RunError::Config)?;
    let slice = (cfg.duration / 200).max(1);
    let mut t = 0;
    while t < cfg.duration {
        t = (t + slice).min(cfg.duration);
        engine.run(&mut world, t).map_err(RunError::Engine)?;
        progress(t);
    }
    Ok(world.into_observations(engine.events_processed()))
}

/// Run a world, checking invariants every `check_every` of simulated time
/// (tests use this; it is slow).
pub fn simulate_checked(
    cfg: &WorldConfig,
    check_every: Option<Time>,
) -> Result<Observations, RunError> {
    let mut engine = Engine::new(cfg.limits);
    let mut world = World::new(cfg, engine.scheduler()).map_err(RunError::Config)?;
    match check_every {
        None => engine
            .run(&mut world, cfg.duration)
            .map_err(RunError::Engine)?,
        Some(step) => {
            let mut t = 0;
            while t < cfg.duration {
                t = (t + step).min(cfg.duration);
                engine.run(&mut world, t).map_err(RunError::Engine)?;
                world
                    .check_invariants()
                    .map_err(|e| RunError::Config(format!("invariant broken at t={t}: {e}")))?;
            }
        }
    }
    Ok(world.into_observations(engine.events_processed()))
}
