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
//! | `config.rs` | what a world is built from ([`WorldConfig`], [`PoolConfig`], [`ProcessConfig`], [`Stack`]) |
//! | `instance.rs` | the state of a process, a pool (its `DatabaseHandle`) and a `Db` (one `sql.DB` with its reservoir), and their construction |
//! | `opens.rs` | one physical connection: the open path through the driver, closing |
//! | `reservoir_side.rs` | the reservoir: `Open()`, `Return`, refiller, scanner, initial fill |
//! | `direct.rs` | the direct stack's requests |
//! | `sql_side.rs` | callers through database/sql: retries, waiters, opener, cleaner, deadlines |
//! | `plain.rs` | the plain pool's warmup and keeper |
//! | `handle.rs` | a pool's `DatabaseHandle`: connect, rebuild on a lost connection, the lock |
//! | `fleet.rs` | processes: staggered startup, pools connected one after the other |
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
//! value. What a lower part cannot return (a connect or a caller finished
//! several events later) it records as an `Up`, which the router hands to its
//! owner after the event.

mod config;
mod direct;
mod fleet;
mod handle;
mod instance;
mod invariants;
mod observations;
mod opens;
mod plain;
mod reservoir_side;
mod sql_side;

pub use config::{
    FailCause, LimiterConfig, PoolConfig, ProcessConfig, ProcessLimiter, RebuildConfig,
    SqlSettings, Stack, WorldConfig,
};
pub use handle::REFRESH_MIN_INTERVAL;
pub use observations::{ClusterSample, Observations, PoolCounters, PoolOutcome, SampleRow};
pub use reservoir_side::{FILL_CHECK_EVERY, SCAN_EVERY};

use crate::engine::{Engine, EngineError, Handler, RngStreams, Scheduler, Time};
use crate::model::conn::{ConnId, ConnTable};
use crate::model::driver::GlobalLimiter;
use crate::model::dsql_cluster::Cluster;
use crate::model::dynamodb::DynamoConfig;
use crate::model::lease_table::LeaseTable;
use crate::model::limiter::{FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use crate::model::refiller::RefillFailure;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use instance::{Db, Handle, Pool, Process};
use opens::{OpenOutcome, OpenSlot, Owner};
use reservoir_side::Handoff;
use sql_side::{Req, ReqKind};

/// Events of the world. Small and `Copy`: the queue stores them inline.
/// `db` is the index of a handle's `sql.DB` generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A request arrives at a pool.
    Arrival(u32),
    /// A request's hold ends: give the connection back (db, connection).
    HoldEnd(u32, ConnId),
    /// A driver Open()'s brief wait runs out (db, ticket).
    WaitTimeout(u32, u64),
    /// The refiller loop iterates (db).
    RefillerWake(u32),
    /// An open (slot) continues after a wait.
    OpenAdvance(u32),
    /// An open's connect completes.
    OpenDone(u32),
    /// An open failed.
    OpenFailed(u32, RefillFailure),
    /// The expiry scanner runs (db).
    Scan(u32),
    /// The initial fill is checked (db).
    FillCheck(u32),
    /// A waiting request's deadline (request, generation).
    Deadline(u32, u32),
    /// The warmup starts its next attempt (db).
    WarmupNext(u32),
    /// The keeper's ticker fires (db).
    KeeperTick(u32),
    /// database/sql's connection cleaner runs (db).
    Cleaner(u32),
    /// The server closes a connection at its maximum age (connection, created_at).
    ServerClose(ConnId, Time),
    /// A process's staggered startup delay is over: it connects its pools.
    ProcessStart(u32),
    /// `measure_after` is reached: snapshot the counters.
    Measure,
    /// Take a sample of every pool.
    Sample,
}

/// What a lower part of the world hands up to the router, which gives it to
/// its owner (in order, after the event that produced it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Up {
    /// A ping, warmup or keeper caller of `db` is done.
    CallerDone { db: u32, kind: ReqKind, ok: bool },
    /// The initial fill of `db`'s reservoir ended.
    FillDone { db: u32, timed_out: bool },
    /// The connect that built `db` ended.
    Connected { db: u32, ok: bool },
    /// A request of `pool` failed with a lost connection (`ConvertError`).
    LostConnection { pool: u32 },
}

/// The simulated deployment.
pub struct World {
    names: Vec<String>,
    cfgs: Vec<PoolConfig>,
    streams: RngStreams,
    processes: Vec<Process>,
    pools: Vec<Pool>,
    dbs: Vec<Db>,
    conns: ConnTable,
    cluster: Cluster,
    limiter: Option<GlobalLimiter>,
    leases: Option<LeaseTable>,
    /// Live connections that hold a lease.
    leased_live: u32,
    /// Lease releases that failed: the counter stays one too high for each.
    leases_lost: u64,
    dynamo: DynamoConfig,
    rebuild: RebuildConfig,
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
    ups: Vec<Up>,
    scratch: Vec<(ConnId, Discard)>,
    scratch_sql: Vec<(ConnId, CloseCause)>,
    scratch_ids: Vec<ConnId>,
}

impl World {
    /// Build the world and schedule its first events.
    pub fn new(cfg: &WorldConfig, sched: &mut Scheduler<Ev>) -> Result<World, String> {
        cfg.check()?;
        let streams = RngStreams::new(cfg.seed);
        let limiter = match cfg.global_limiter {
            None => None,
            Some(LimiterConfig::TokenBucket { rate, burst }) => {
                Some(GlobalLimiter::TokenBucket(TokenBucket::new(rate, burst)?))
            }
            Some(LimiterConfig::PerSecond { limit }) => {
                Some(GlobalLimiter::PerSecond(PerSecondLimiter::new(limit)?))
            }
            Some(LimiterConfig::FixedWindow { limit }) => {
                Some(GlobalLimiter::FixedWindow(FixedWindowLimiter::new(limit)?))
            }
        };
        let mut processes = Vec::with_capacity(cfg.processes.len());
        let mut pools = Vec::with_capacity(cfg.pools.len());
        let mut first = 0u32;
        for (i, pc) in cfg.processes.iter().enumerate() {
            processes.push(Process::new(pc, i as u32, first, &streams)?);
            for q in first..first + pc.pools {
                let p = &cfg.pools[q as usize];
                // Refuse what a model refuses now, not at the first connect.
                Db::new(p, q, 0, &streams)?;
                pools.push(Pool::new(p, q, i as u32, &streams));
            }
            first += pc.pools;
        }
        let samples_expected = (cfg.duration / cfg.sample_every + 1) as usize;
        let mut w = World {
            names: cfg.pools.iter().map(|p| p.name.clone()).collect(),
            cfgs: cfg.pools.clone(),
            streams,
            processes,
            pools,
            dbs: Vec::with_capacity(cfg.pools.len()),
            conns: ConnTable::default(),
            cluster: Cluster::new(cfg.cluster, cfg.duration)?,
            limiter,
            leases: cfg.leases.map(LeaseTable::new),
            leased_live: 0,
            leases_lost: 0,
            dynamo: cfg.dynamodb,
            rebuild: cfg.rebuild,
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
            ups: Vec::new(),
            scratch: Vec::new(),
            scratch_sql: Vec::new(),
            scratch_ids: Vec::new(),
        };
        for (i, p) in w.processes.iter().enumerate() {
            sched.at(p.stagger_end, Ev::ProcessStart(i as u32));
        }
        for (i, p) in w.pools.iter_mut().enumerate() {
            if let Some(t) = p.workload.as_mut().and_then(|wl| wl.first_arrival(0)) {
                sched.at(t, Ev::Arrival(i as u32));
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
    /// the request goes to its pool (or is refused before the pool takes
    /// traffic).
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
        match p.handle {
            Handle::Ready(db) if p.stack == Stack::Direct => {
                self.direct_request(db, hold, measured, s)
            }
            Handle::Ready(db) => self.sql_request(pool, db, hold, measured, s),
            Handle::Connecting(_) => self.sql_lock_wait(pool, hold, measured, now),
            Handle::Down | Handle::NotStarted => {
                if self.may_refresh(pool, now) && self.reconnect(pool, false, s) {
                    self.sql_lock_wait(pool, hold, measured, now);
                } else {
                    self.sql_unavailable(pool, measured);
                }
            }
        }
    }

    /// A request's hold ends: its stack takes the connection back.
    fn hold_end(&mut self, db: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        self.unhold(db);
        let pool = self.dbs[db as usize].pool;
        self.pools[pool as usize].counters.completed += 1;
        if self.dbs[db as usize].stack == Stack::Direct {
            self.direct_hold_end(db, id, s);
        } else {
            self.sql_hold_end(db, id, s);
        }
    }

    /// A reservoir `Open()` that waited ended: to the stack that waited.
    fn route_handoff(&mut self, h: Handoff, s: &mut Scheduler<Ev>) {
        if self.dbs[h.db as usize].stack == Stack::Direct {
            self.direct_handoff(h, s);
        } else {
            self.sql_handoff(h, s);
        }
    }

    /// An open that ended in an event: to its owner.
    fn route_open(&mut self, o: OpenOutcome, s: &mut Scheduler<Ev>) {
        match (o.owner, o.result) {
            (Owner::Refiller, Ok(())) => {
                if let Some(h) = self.refill_opened(o.db, o.leased, s) {
                    self.route_handoff(h, s);
                }
                self.refiller_next(o.db, s);
            }
            (Owner::Refiller, Err(why)) => self.refill_failed(o.db, why, s),
            _ => self.sql_opened(o, s),
        }
    }

    /// Hand what lower parts recorded to its owners, in order (handing one
    /// over may record more).
    fn drain_ups(&mut self, s: &mut Scheduler<Ev>) {
        let mut i = 0;
        while i < self.ups.len() {
            let u = self.ups[i];
            i += 1;
            match u {
                Up::CallerDone {
                    db,
                    kind: ReqKind::Ping,
                    ok,
                } => self.ping_done(db, ok, s),
                Up::CallerDone { db, kind, ok } => self.plain_caller_done(db, kind, ok, s),
                Up::FillDone { db, timed_out } => self.fill_done(db, timed_out, s),
                Up::Connected { db, ok } => self.db_up(db, ok, s),
                Up::LostConnection { pool } => {
                    self.pools[pool as usize].counters.lost_connections += 1;
                    if self.rebuild.enabled {
                        self.reconnect(pool, true, s);
                    }
                }
            }
        }
        self.ups.clear();
    }
}

impl Handler<Ev> for World {
    #[inline]
    fn handle(&mut self, ev: Ev, s: &mut Scheduler<Ev>) {
        match ev {
            Ev::Arrival(p) => self.arrival(p, s),
            Ev::HoldEnd(db, c) => self.hold_end(db, c, s),
            Ev::WaitTimeout(db, t) => {
                if let Some(h) = self.wait_timeout(db, t, s.now()) {
                    self.route_handoff(h, s);
                }
            }
            Ev::RefillerWake(db) => self.refiller_wake(db, s),
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
                let out = self.open_failed(o, why, s);
                self.route_open(out, s);
            }
            Ev::Scan(db) => self.scan(db, s),
            Ev::FillCheck(db) => self.fill_check(db, s),
            Ev::Deadline(r, gen) => self.deadline(r, gen, s),
            Ev::WarmupNext(db) => self.warmup_next(db, s),
            Ev::KeeperTick(db) => self.keeper_tick(db, s),
            Ev::Cleaner(db) => self.cleaner(db, s),
            Ev::ServerClose(c, at) => self.server_close(c, at),
            Ev::ProcessStart(p) => self.process_start(p, s),
            Ev::Measure => self.measure(),
            Ev::Sample => self.sample(s),
        }
        if !self.ups.is_empty() {
            self.drain_ups(s);
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
