//! Creating one connection: the rate-limited, token-refreshing driver (DOMAIN.md section 3).
//!
//! In order: (staggered startup: an instance's first connect waits until
//! `U[0, startup_max_delay)`) -> acquire a global lease (if the lease table is
//! on) -> wait on the instance's own token bucket (DOMAIN.md section 4, 10/s
//! burst 100 by default) -> wait on the cluster-wide client limiter
//! (`global_rate_limit`, if any) -> get an IAM token -> connect. A failure at
//! any step after the lease releases the lease. The connect costs
//! `connect_latency` and reaches the [`Cluster`], which may refuse it.
//!
//! An [`OpenAttempt`] is advanced by [`Driver::advance`] until it is either
//! connecting (the world schedules its completion) or failed. Waits (stagger,
//! limiter) return [`Progress::WaitUntil`]; the world calls `advance` again then.
//!
//! Simplified: the IAM token takes no time; it fails with probability
//! `token_failure_rate` (failure injection, 0 by default).

use crate::engine::{SimRng, Time};
use crate::model::dist::DurationDist;
use crate::model::dsql_cluster::Cluster;
use crate::model::lease_table::LeaseTable;
use crate::model::limiter::{Attempt, FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use crate::model::refiller::RefillFailure;
use rand::Rng;

/// A client-side connect-rate limiter shared by every instance (DOMAIN.md section 4).
pub enum GlobalLimiter {
    /// `golang.org/x/time/rate` semantics: wait for a reserved token.
    TokenBucket(TokenBucket),
    /// The DynamoDB per-second counter with its retry rules.
    PerSecond(PerSecondLimiter, Box<SimRng>),
    /// The old simulator's fixed window: retry at the next second + 5 ms.
    FixedWindow(FixedWindowLimiter),
}

/// Stage an open has reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the instance's staggered start.
    Startup,
    /// About to acquire a lease.
    Lease,
    /// Waiting on the instance's own token bucket.
    LocalLimiter,
    /// Waiting on the cluster-wide client limiter.
    Limiter,
    /// About to get the IAM token and connect.
    Connect,
}

/// One connection being opened.
#[derive(Clone, Copy, Debug)]
pub struct OpenAttempt {
    /// When the caller asked for it.
    pub started: Time,
    /// The caller's deadline.
    pub deadline: Time,
    /// Where it is in the pipeline.
    pub stage: Stage,
    /// Whether it holds a lease.
    pub lease_held: bool,
    /// When it started waiting on the limiter.
    pub limiter_since: Time,
    /// Whether the limiter made it wait.
    pub limiter_waited: bool,
}

impl OpenAttempt {
    /// A new attempt at `now` with `deadline`.
    pub fn new(now: Time, deadline: Time) -> Self {
        OpenAttempt {
            started: now,
            deadline,
            stage: Stage::Startup,
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
    /// The cluster-wide client limiter, if any.
    pub limiter: &'a mut Option<GlobalLimiter>,
    /// The lease table, if enabled.
    pub leases: &'a mut Option<LeaseTable>,
    /// The cluster.
    pub cluster: &'a mut Cluster,
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

/// The driver of one instance.
pub struct Driver {
    first_connect_at: Time,
    local: Option<TokenBucket>,
    connect_latency: DurationDist,
    token_failure_rate: f64,
    rng: SimRng,
    /// Counters.
    pub stats: DriverStats,
}

impl Driver {
    /// A driver whose first connect may start at `first_connect_at`, with the
    /// instance's own token bucket `local` (x/time/rate), if any.
    pub fn new(
        first_connect_at: Time,
        local: Option<TokenBucket>,
        connect_latency: DurationDist,
        token_failure_rate: f64,
        rng: SimRng,
    ) -> Self {
        Driver {
            first_connect_at,
            local,
            connect_latency,
            token_failure_rate,
            rng,
            stats: DriverStats::default(),
        }
    }

    /// When this instance's first connect may start (staggered startup).
    pub fn first_connect_at(&self) -> Time {
        self.first_connect_at
    }

    fn fail(a: &mut OpenAttempt, sh: &mut Shared, why: RefillFailure, at: Time) -> Progress {
        if a.lease_held {
            if let Some(l) = sh.leases.as_mut() {
                l.release();
            }
            a.lease_held = false;
        }
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
                Stage::Startup => {
                    if now < self.first_connect_at {
                        if self.first_connect_at > a.deadline {
                            // The caller's context ends before the instance
                            // may connect: the open fails at the deadline.
                            return Self::fail(
                                a,
                                sh,
                                RefillFailure::ConnectionOpen,
                                a.deadline.max(now),
                            );
                        }
                        return Progress::WaitUntil(self.first_connect_at);
                    }
                    a.stage = Stage::Lease;
                }
                Stage::Lease => {
                    if let Some(l) = sh.leases.as_mut() {
                        if !l.acquire() {
                            return Self::fail(a, sh, RefillFailure::LeaseAcquire, now);
                        }
                        a.lease_held = true;
                    }
                    a.stage = Stage::LocalLimiter;
                    a.limiter_since = now;
                }
                Stage::LocalLimiter => {
                    a.stage = Stage::Limiter;
                    if let Some(b) = self.local.as_mut() {
                        match b.reserve(now, a.deadline) {
                            Ok(at) if at > now => {
                                // The token is ours; sleep until it is due.
                                a.limiter_waited = true;
                                return Progress::WaitUntil(at);
                            }
                            Ok(_) => {}
                            Err(_) => {
                                self.end_limiter_wait(a, now);
                                return Self::fail(a, sh, RefillFailure::RateLimit, now);
                            }
                        }
                    }
                }
                Stage::Limiter => {
                    let granted = match sh.limiter.as_mut() {
                        None => Ok(()),
                        Some(GlobalLimiter::TokenBucket(b)) => match b.reserve(now, a.deadline) {
                            Ok(at) if at > now => {
                                // The token is ours; sleep until it is due.
                                a.limiter_waited = true;
                                a.stage = Stage::Connect;
                                return Progress::WaitUntil(at);
                            }
                            Ok(_) => Ok(()),
                            Err(_) => Err(()),
                        },
                        Some(GlobalLimiter::PerSecond(l, rng)) => {
                            match l.attempt(now, a.limiter_since, a.deadline, rng.as_mut()) {
                                Attempt::Granted => Ok(()),
                                Attempt::Retry { at } => {
                                    a.limiter_waited = true;
                                    return Progress::WaitUntil(at);
                                }
                                Attempt::GiveUp => Err(()),
                            }
                        }
                        Some(GlobalLimiter::FixedWindow(l)) => match l.attempt(now) {
                            Ok(()) => Ok(()),
                            Err(at) if at <= a.deadline => {
                                a.limiter_waited = true;
                                return Progress::WaitUntil(at);
                            }
                            Err(_) => Err(()),
                        },
                    };
                    if granted.is_err() {
                        self.end_limiter_wait(a, now);
                        return Self::fail(a, sh, RefillFailure::RateLimit, now);
                    }
                    a.stage = Stage::Connect;
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
                            // The connect outlives the caller's deadline.
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
