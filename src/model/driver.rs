//! Creating one connection: the production drivers' open path (DOMAIN.md
//! sections 3, 4 and 10).
//!
//! In order: acquire a global lease (reservoir mode only, when the lease table
//! is on: the reservoir's refiller takes leases, the plain pool's
//! token-refreshing driver takes none) -> wait on the process's one
//! connection-rate limiter -> get an IAM token -> connect. A failure at any
//! step after the lease releases the lease (the world does, through
//! DynamoDB). The connect costs
//! `connect_latency` and reaches the [`Cluster`], which may refuse it.
//!
//! One limiter per process ([`ProcessLimiter`]), as the plugin creates it once
//! and shares it with every pool the process opens: the local token bucket
//! (`DSQL_CONNECTION_RATE_LIMIT`/`_BURST_LIMIT`, default 10/s burst 100), or
//! the distributed per-second limiter in DynamoDB (shared state, every
//! attempt a DynamoDB call), never both. (A cluster-wide token bucket or the
//! old simulator's fixed window can stand in the distributed limiter's place
//! as what-ifs; production has neither.)
//!
//! Every open runs under its own deadline, set by the caller: production's
//! drivers make a 30 s context for each open (the refiller's `openOne`, the
//! token-refreshing driver's `Open`); database/sql does not pass a request's
//! deadline down.
//!
//! An [`OpenAttempt`] is advanced by [`Driver::advance`] until it is either
//! connecting (the world schedules its completion) or failed. Waits (limiter,
//! DynamoDB round trips) return [`Progress::WaitUntil`]; the world calls
//! `advance` again then.
//!
//! Simplified: the IAM token takes no time (production caches it); it fails
//! with probability `token_failure_rate` (failure injection, 0 by default).
//! The staggered startup is not part of an open: it delays the process's
//! first connect ([`crate::model::world`]).

use crate::engine::{SimRng, Time};
use crate::model::dist::DurationDist;
use crate::model::dsql_cluster::Cluster;
use crate::model::dynamodb::DynamoConfig;
use crate::model::lease_table::LeaseTable;
use crate::model::limiter::{Attempt, FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use crate::model::refiller::RefillFailure;
use rand::Rng;

/// The limiter state shared by every process that uses the cluster-wide
/// limiter ([`ProcessLimiter::Shared`]).
pub enum GlobalLimiter {
    /// A what-if: one `golang.org/x/time/rate` bucket for the whole cluster
    /// (no production counterpart).
    TokenBucket(TokenBucket),
    /// The distributed DynamoDB per-second counter
    /// (`DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED`).
    PerSecond(PerSecondLimiter),
    /// The old simulator's fixed window: retry at the next second + 5 ms.
    FixedWindow(FixedWindowLimiter),
}

/// The one connection-rate limiter of a process.
pub enum ProcessLimiter {
    /// No client-side limiter.
    None,
    /// The process's own token bucket.
    Local(TokenBucket),
    /// The cluster-wide limiter ([`GlobalLimiter`]).
    Shared,
}

/// Stage an open has reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// About to acquire a lease.
    Lease,
    /// A lease acquire is in flight; `ok`: it was granted.
    LeaseReply {
        /// Whether the call succeeded and the lease was granted.
        ok: bool,
    },
    /// Waiting on the process's limiter.
    Limiter,
    /// A per-second limiter attempt is in flight.
    LimiterReply {
        /// False: the DynamoDB call failed (the open fails).
        ok: bool,
        /// Whether the attempt was granted.
        granted: bool,
    },
    /// About to get the IAM token and connect.
    Connect,
}

/// One connection being opened.
#[derive(Clone, Copy, Debug)]
pub struct OpenAttempt {
    /// When the caller asked for it.
    pub started: Time,
    /// The open's deadline (its own 30 s context).
    pub deadline: Time,
    /// Where it is in the pipeline.
    pub stage: Stage,
    /// Whether this open takes a lease (reservoir mode).
    pub takes_lease: bool,
    /// Whether it holds a lease.
    pub lease_held: bool,
    /// When it started waiting on the limiter.
    pub limiter_since: Time,
    /// Whether the limiter made it wait.
    pub limiter_waited: bool,
}

impl OpenAttempt {
    /// A new attempt at `now` with `deadline`; `takes_lease` in reservoir mode.
    pub fn new(now: Time, deadline: Time, takes_lease: bool) -> Self {
        OpenAttempt {
            started: now,
            deadline,
            stage: Stage::Lease,
            takes_lease,
            lease_held: false,
            limiter_since: now,
            limiter_waited: false,
        }
    }
}

/// Result of advancing an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Call `advance` again at this instant.
    WaitUntil(Time),
    /// The connect reached the cluster and was admitted; it completes at `done_at`.
    Connecting { done_at: Time },
    /// The open failed; the failure is known at `at` (>= now).
    Failed { why: RefillFailure, at: Time },
}

/// The shared things an open touches.
pub struct Shared<'a> {
    /// The opening process's limiter.
    pub limiter: &'a mut ProcessLimiter,
    /// The cluster-wide limiter state, for [`ProcessLimiter::Shared`].
    pub global: &'a mut Option<GlobalLimiter>,
    /// The lease table, if enabled.
    pub leases: &'a mut Option<LeaseTable>,
    /// The cluster.
    pub cluster: &'a mut Cluster,
    /// Latency and failures of DynamoDB calls.
    pub dynamo: &'a DynamoConfig,
    /// The process's stream for DynamoDB calls.
    pub dynamo_rng: &'a mut SimRng,
    /// The process's stream for the per-second limiter's back-off jitter.
    pub jitter_rng: &'a mut SimRng,
}

/// Counters of a driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Connect attempts that reached the cluster.
    pub connects: u64,
    /// Opens that had to wait on the limiter.
    pub limiter_waits: u64,
    /// Total time opens spent waiting on the limiter (ns).
    pub limiter_wait_ns: u64,
}

/// The driver of one pool: connect latency and IAM token failures.
pub struct Driver {
    connect_latency: DurationDist,
    token_failure_rate: f64,
    rng: SimRng,
    /// Counters.
    pub stats: DriverStats,
}

/// A token bucket's `Wait`: the token is taken now and due at the returned
/// instant, or the wait would pass the deadline.
fn bucket_wait(b: &mut TokenBucket, a: &mut OpenAttempt, now: Time) -> Result<Option<Time>, ()> {
    match b.reserve(now, a.deadline) {
        Ok(at) if at > now => {
            a.limiter_waited = true;
            Ok(Some(at))
        }
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}

impl Driver {
    /// A driver drawing connect latencies and token failures from `rng`.
    pub fn new(connect_latency: DurationDist, token_failure_rate: f64, rng: SimRng) -> Self {
        Driver {
            connect_latency,
            token_failure_rate,
            rng,
            stats: DriverStats::default(),
        }
    }

    /// The open fails. A lease it holds (`a.lease_held`) stays held: the
    /// caller releases it (a DynamoDB call of its own, which may fail).
    fn fail(a: &mut OpenAttempt, _sh: &mut Shared, why: RefillFailure, at: Time) -> Progress {
        let _ = a;
        Progress::Failed { why, at }
    }

    fn end_limiter_wait(&mut self, a: &OpenAttempt, now: Time) {
        if a.limiter_waited {
            self.stats.limiter_waits += 1;
            self.stats.limiter_wait_ns += now - a.limiter_since;
        }
    }

    /// Advance `a` at `now` as far as it can go.
    pub fn advance(&mut self, a: &mut OpenAttempt, now: Time, sh: &mut Shared) -> Progress {
        loop {
            match a.stage {
                Stage::Lease => {
                    let Some(l) = sh.leases.as_mut().filter(|_| a.takes_lease) else {
                        a.stage = Stage::Limiter;
                        a.limiter_since = now;
                        continue;
                    };
                    // One DynamoDB transaction: counter < limit, then + 1.
                    let call = sh.dynamo.call(now, sh.dynamo_rng);
                    let granted = call.ok && l.acquire();
                    a.lease_held = granted;
                    a.stage = Stage::LeaseReply { ok: granted };
                    if call.done_at > now {
                        return Progress::WaitUntil(call.done_at);
                    }
                }
                Stage::LeaseReply { ok } => {
                    if !ok {
                        return Self::fail(a, sh, RefillFailure::LeaseAcquire, now);
                    }
                    a.stage = Stage::Limiter;
                    a.limiter_since = now;
                }
                Stage::Limiter => {
                    let wait = match sh.limiter {
                        ProcessLimiter::None => Ok(None),
                        ProcessLimiter::Local(b) => bucket_wait(b, a, now),
                        ProcessLimiter::Shared => match sh.global.as_mut() {
                            None => Ok(None),
                            Some(GlobalLimiter::TokenBucket(b)) => bucket_wait(b, a, now),
                            Some(GlobalLimiter::FixedWindow(l)) => match l.attempt(now) {
                                Ok(()) => Ok(None),
                                Err(at) if at <= a.deadline => {
                                    // Retry at `at`: stay in this stage.
                                    a.limiter_waited = true;
                                    return Progress::WaitUntil(at);
                                }
                                Err(_) => Err(()),
                            },
                            Some(GlobalLimiter::PerSecond(l)) => {
                                // Every attempt is a DynamoDB round trip.
                                let call = sh.dynamo.call(now, sh.dynamo_rng);
                                let granted = call.ok && l.admit(now);
                                a.stage = Stage::LimiterReply {
                                    ok: call.ok,
                                    granted,
                                };
                                if call.done_at > now {
                                    return Progress::WaitUntil(call.done_at);
                                }
                                continue;
                            }
                        },
                    };
                    match wait {
                        Ok(Some(at)) => {
                            // The token is ours; sleep until it is due.
                            a.stage = Stage::Connect;
                            return Progress::WaitUntil(at);
                        }
                        Ok(None) => a.stage = Stage::Connect,
                        Err(()) => {
                            self.end_limiter_wait(a, now);
                            return Self::fail(a, sh, RefillFailure::RateLimit, now);
                        }
                    }
                }
                Stage::LimiterReply { ok, granted } => {
                    if !ok {
                        // A non-conditional error fails the open at once.
                        self.end_limiter_wait(a, now);
                        return Self::fail(a, sh, RefillFailure::RateLimit, now);
                    }
                    if granted {
                        a.stage = Stage::Connect;
                        continue;
                    }
                    let Some(GlobalLimiter::PerSecond(l)) = sh.global.as_ref() else {
                        unreachable!("a limiter reply comes from the per-second limiter");
                    };
                    match l.after_denial(now, a.limiter_since, a.deadline, sh.jitter_rng) {
                        Attempt::Retry { at } => {
                            a.limiter_waited = true;
                            a.stage = Stage::Limiter;
                            return Progress::WaitUntil(at);
                        }
                        Attempt::GiveUp | Attempt::Granted => {
                            self.end_limiter_wait(a, now);
                            return Self::fail(a, sh, RefillFailure::RateLimit, now);
                        }
                    }
                }
                Stage::Connect => {
                    self.end_limiter_wait(a, now);
                    if self.token_failure_rate > 0.0
                        && self.rng.random::<f64>() < self.token_failure_rate
                    {
                        return Self::fail(a, sh, RefillFailure::TokenProvider, now);
                    }
                    let latency = self.connect_latency.sample(&mut self.rng);
                    self.stats.connects += 1;
                    let done_at = now.saturating_add(latency);
                    return match sh.cluster.connect(now) {
                        Err(_) => Self::fail(
                            a,
                            sh,
                            RefillFailure::ConnectionOpen,
                            done_at.min(a.deadline).max(now),
                        ),
                        Ok(()) if done_at > a.deadline => {
                            // The connect outlives the open's deadline.
                            sh.cluster.close();
                            Self::fail(a, sh, RefillFailure::ConnectionOpen, a.deadline.max(now))
                        }
                        Ok(()) => Progress::Connecting { done_at },
                    };
                }
            }
        }
    }
}
