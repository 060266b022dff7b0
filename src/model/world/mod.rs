//! The world: the pools of one deployment on one DSQL cluster, wired together
//! and driven by the [`Engine`].
//!
//! Each pool is one instance. How its requests get connections is its
//! [`Stack`]:
//!
//! - [`Stack::Direct`]: a request takes its connection straight from the
//!   reservoir (driver `Open()`: TryCheckout, then the brief wait) and gives it
//!   back (`Return`) when its hold ends: the model of the seed's Task 13 and of
//!   the old simulator. There is no layer above to retry: a request whose
//!   Open() fails, fails (`no_connection`).
//! - [`Stack::DatabaseSql`]: the production wiring: Go's database/sql
//!   ([`crate::model::sql_pool::SqlPool`], MaxOpen = `target_size`,
//!   ConnMaxLifetime and ConnMaxIdleTime 0) on top of the reservoir driver.
//!   database/sql keeps what it took from the reservoir; a connection goes
//!   back to the reservoir (`Return`) only when database/sql closes it
//!   (`max_idle`), or, bad, with lifetime 0 so that it is discarded. A failed
//!   `Open()` is `driver.ErrBadConn` to database/sql, which retries it.
//! - [`Stack::Plain`]: the plain pool: database/sql over the rate-limited
//!   driver, with the production warmup and keeper.
//!
//! The start: a reservoir instance waits until `len(buffer) >= low_watermark`,
//! checking every 100 ms, for at most `initial_fill_timeout`, then takes
//! traffic; a plain pool takes traffic when its warmup is done (production runs
//! the warmup synchronously at startup). Requests that arrive before are
//! refused (counted as `rejected_before_ready`, not as requests).
//!
//! The server closes every connection at 60 minutes (`max_connection_age`): the
//! cluster forgets it at that instant; the client finds out at its next use,
//! which fails as a bad connection: database/sql closes it and retries; in the
//! direct stack the reservoir gets it back with lifetime 0 (discarded
//! `expired_on_return`) and the request fails (`bad_conn`).
//!
//! `measure_after`: requests that arrive before it are left out of the request
//! counters and histograms; the other counters of [`PoolOutcome::counters`]
//! count from that instant (a snapshot is taken then).
//!
//! # Files, bottom to top
//!
//! | file | job |
//! |---|---|
//! | `config.rs` | what a world is built from ([`WorldConfig`], [`PoolConfig`], [`Stack`]) |
//! | `instance.rs` | the state of one instance and its construction |
//! | `opens.rs` | one physical connection: the open path through the driver, closing |
//! | `reservoir_side.rs` | the reservoir: `Open()`, `Return`, refiller, scanner, initial fill |
//! | `direct.rs` | the direct stack's requests |
//! | `sql_side.rs` | callers through database/sql: retries, waiters, opener, cleaner, deadlines |
//! | `plain.rs` | the plain pool's warmup and keeper |
//! | `observations.rs` | counters, samples and outcomes handed to [`crate::metrics`] |
//! | `invariants.rs` | consistency checks used by tests |
//! | `mod.rs` | the [`World`], its events and the router |
//!
//! Calls go downward only. A lower part finishes with a value it returns
//! (an open's outcome, a reservoir handoff) instead of calling the part
//! above; where the next step belongs to an owner the lower part does not
//! know, the router ([`World`]'s [`Handler`] implementation, in this file)
//! hands the outcome to that owner. A request's path: router (arrival) ->
//! `sql_side` -> `reservoir_side` -> `opens`, each left through a returned
//! value.

mod config;
mod direct;
mod instance;
mod invariants;
mod observations;
mod opens;
mod plain;
mod reservoir_side;
mod sql_side;

pub use config::{FailCause, LimiterConfig, PoolConfig, SqlSettings, Stack, WorldConfig};
pub use observations::{ClusterSample, Observations, PoolCounters, PoolOutcome, SampleRow};
pub use reservoir_side::{FILL_CHECK_EVERY, SCAN_EVERY};

use crate::engine::{Engine, EngineError, Handler, RngStreams, Scheduler, StreamId, Time};
use crate::model::conn::{ConnId, ConnTable};
use crate::model::driver::GlobalLimiter;
use crate::model::dsql_cluster::Cluster;
use crate::model::lease_table::LeaseTable;
use crate::model::limiter::{FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::stream_kind;
use instance::Pool;
use opens::{OpenOutcome, OpenSlot, Owner};
use reservoir_side::Handoff;
use sql_side::{CallerDone, Req};

/// Events of the world. Small and `Copy`: the queue stores them inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A request arrives at a pool.
    Arrival(u32),
    /// A request's hold ends: give the connection back.
    HoldEnd(u32, ConnId),
    /// A driver Open()'s brief wait runs out (pool, ticket).
    WaitTimeout(u32, u64),
    /// The refiller loop iterates.
    RefillerWake(u32),
    /// An open (slot) continues after a wait.
    OpenAdvance(u32),
    /// An open's connect completes.
    OpenDone(u32),
    /// An open failed.
    OpenFailed(u32, RefillFailure),
    /// The expiry scanner runs.
    Scan(u32),
    /// The initial fill is checked.
    FillCheck(u32),
    /// A waiting request's deadline (request, generation).
    Deadline(u32, u32),
    /// The warmup starts its next attempt.
    WarmupNext(u32),
    /// The keeper's ticker fires.
    KeeperTick(u32),
    /// database/sql's connection cleaner runs.
    Cleaner(u32),
    /// The server closes a connection at its maximum age (connection, created_at).
    ServerClose(ConnId, Time),
    /// `measure_after` is reached: snapshot the counters.
    Measure,
    /// Take a sample of every pool.
    Sample,
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
    measure_after: Time,
    max_age: Time,
    samples: Vec<SampleRow>,
    cluster_samples: Vec<ClusterSample>,
    snapshot: Vec<PoolCounters>,
    opens: Vec<OpenSlot>,
    free_opens: Vec<u32>,
    reqs: Vec<Req>,
    free_reqs: Vec<u32>,
    /// Warmup and keeper callers that are done, for the router to hand to
    /// [`plain`] (in order).
    callers_done: Vec<CallerDone>,
    scratch: Vec<(ConnId, Discard)>,
    scratch_sql: Vec<(ConnId, CloseCause)>,
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
            pools.push(Pool::new(p, i as u32, &streams)?);
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
            measure_after: cfg.measure_after,
            max_age: cfg.cluster.max_connection_age,
            samples: Vec::with_capacity(samples_expected * cfg.pools.len()),
            cluster_samples: Vec::with_capacity(samples_expected),
            snapshot: vec![PoolCounters::default(); cfg.pools.len()],
            opens: Vec::new(),
            free_opens: Vec::new(),
            reqs: Vec::new(),
            free_reqs: Vec::new(),
            callers_done: Vec::new(),
            scratch: Vec::new(),
            scratch_sql: Vec::new(),
        };
        for i in 0..w.pools.len() as u32 {
            if w.pools[i as usize].stack.has_reservoir() {
                sched.at(0, Ev::RefillerWake(i));
                sched.at(0, Ev::FillCheck(i));
                sched.at(SCAN_EVERY, Ev::Scan(i));
            } else {
                w.plain_start(i, sched);
            }
            let p = &mut w.pools[i as usize];
            if let Some(t) = p.workload.as_mut().and_then(|wl| wl.first_arrival(0)) {
                sched.at(t, Ev::Arrival(i));
            }
        }
        if cfg.measure_after > 0 && cfg.measure_after <= cfg.duration {
            sched.at(cfg.measure_after, Ev::Measure);
        }
        sched.at(0, Ev::Sample);
        Ok(w)
    }

    // ----- the router ----------------------------------------------------

    /// A request of the workload arrives: the next arrival is scheduled, and
    /// the request goes to its pool's stack (or is refused before the pool
    /// takes traffic).
    fn arrival(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let measure_after = self.measure_after;
        let p = &mut self.pools[pool as usize];
        let wl = p.workload.as_mut().expect("arrival without workload");
        let hold = wl.draw_hold();
        if let Some(next) = wl.next_arrival(now) {
            if next <= self.duration {
                s.at(next, Ev::Arrival(pool));
            }
        }
        let measured = now >= measure_after;
        if p.serving_since.is_none() {
            if measured {
                p.counters.rejected_before_ready += 1;
            }
            return;
        }
        if measured {
            p.counters.requests += 1;
        }
        if p.stack == Stack::Direct {
            self.direct_request(pool, hold, measured, s);
        } else {
            self.sql_request(pool, hold, measured, s);
        }
    }

    /// A request's hold ends: its stack takes the connection back.
    fn hold_end(&mut self, pool: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        p.in_use -= 1;
        p.counters.completed += 1;
        if p.stack == Stack::Direct {
            self.direct_hold_end(pool, id, s);
        } else {
            self.sql_hold_end(pool, id, s);
        }
    }

    /// A reservoir `Open()` that waited ended: to the stack that waited.
    fn route_handoff(&mut self, h: Handoff, s: &mut Scheduler<Ev>) {
        if self.pools[h.pool as usize].stack == Stack::Direct {
            self.direct_handoff(h, s);
        } else {
            self.sql_handoff(h, s);
        }
    }

    /// An open that ended in an event: to its owner.
    fn route_open(&mut self, o: OpenOutcome, s: &mut Scheduler<Ev>) {
        match (o.owner, o.result) {
            (Owner::Refiller, Ok(())) => {
                if let Some(h) = self.refill_opened(o.pool, s) {
                    self.route_handoff(h, s);
                }
                // On success the loop goes again at once.
                self.refiller_wake(o.pool, s);
            }
            (Owner::Refiller, Err(why)) => self.refill_failed(o.pool, why, s),
            _ => self.sql_opened(o, s),
        }
    }

    /// Hand every warmup or keeper caller that is done to the plain pool's
    /// side, in order (handing one over may finish more).
    fn drain_callers(&mut self, s: &mut Scheduler<Ev>) {
        let mut i = 0;
        while i < self.callers_done.len() {
            let d = self.callers_done[i];
            i += 1;
            self.plain_caller_done(d, s);
        }
        self.callers_done.clear();
    }
}

impl Handler<Ev> for World {
    #[inline]
    fn handle(&mut self, ev: Ev, s: &mut Scheduler<Ev>) {
        match ev {
            Ev::Arrival(p) => self.arrival(p, s),
            Ev::HoldEnd(p, c) => self.hold_end(p, c, s),
            Ev::WaitTimeout(p, t) => {
                if let Some(h) = self.wait_timeout(p, t) {
                    self.route_handoff(h, s);
                }
            }
            Ev::RefillerWake(p) => self.refiller_wake(p, s),
            Ev::OpenAdvance(o) => {
                if let Some(out) = self.open_advance(o, s) {
                    self.route_open(out, s);
                }
            }
            Ev::OpenDone(o) => {
                let out = self.open_done(o);
                self.route_open(out, s);
            }
            Ev::OpenFailed(o, why) => {
                let out = self.open_failed(o, why);
                self.route_open(out, s);
            }
            Ev::Scan(p) => self.scan(p, s),
            Ev::FillCheck(p) => self.fill_check(p, s),
            Ev::Deadline(r, gen) => self.deadline(r, gen, s),
            Ev::WarmupNext(p) => self.warmup_next(p, s),
            Ev::KeeperTick(p) => self.keeper_tick(p, s),
            Ev::Cleaner(p) => self.cleaner(p, s),
            Ev::ServerClose(c, at) => self.server_close(c, at),
            Ev::Measure => self.measure(),
            Ev::Sample => self.sample(s),
        }
        if !self.callers_done.is_empty() {
            self.drain_callers(s);
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
    /// The caller asked the run to stop (its progress callback returned false).
    Interrupted {
        /// Simulated time reached.
        at: Time,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Config(m) => write!(f, "{m}"),
            RunError::Engine(e) => write!(f, "{e}"),
            RunError::Interrupted { at } => write!(
                f,
                "interrupted at t={}",
                crate::engine::time::format_duration(*at)
            ),
        }
    }
}

impl std::error::Error for RunError {}

/// Run a world to its end.
pub fn simulate(cfg: &WorldConfig) -> Result<Observations, RunError> {
    simulate_checked(cfg, None)
}

/// Run a world to its end in slices of simulated time, calling `progress(now)`
/// after each slice (for a progress bar; it cannot change the run). When
/// `progress` returns false the run stops with [`RunError::Interrupted`].
pub fn simulate_with_progress(
    cfg: &WorldConfig,
    mut progress: impl FnMut(Time) -> bool,
) -> Result<Observations, RunError> {
    let mut engine = Engine::new(cfg.limits);
    let mut world = World::new(cfg, engine.scheduler()).map_err(RunError::Config)?;
    let slice = (cfg.duration / 200).max(1);
    let mut t = 0;
    while t < cfg.duration {
        t = (t + slice).min(cfg.duration);
        engine.run(&mut world, t).map_err(RunError::Engine)?;
        if !progress(t) {
            return Err(RunError::Interrupted { at: t });
        }
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
