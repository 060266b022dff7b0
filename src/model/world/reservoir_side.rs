//! The reservoir side of an instance: the buffer (the reservoir driver's
//! `Open()` and `Return`), the refiller loop, the expiry scanner and the
//! initial fill.
//!
//! Below the stacks that use it (the direct stack, database/sql): when a
//! connection reaches a waiting `Open()` or a wait fails, this side returns a
//! [`Handoff`] to its caller instead of calling the waiter's side. It calls
//! down only into the open path ([`super::opens`]).

use super::opens::{OpenOutcome, Owner};
use super::{Ev, World};
use crate::engine::{Scheduler, Time, MILLISECOND, SECOND};
use crate::model::conn::ConnId;
use crate::model::refiller::{RefillFailure, Step};
use crate::model::reservoir::{Checkout, Offer};

/// Period of the expiry scanner.
pub const SCAN_EVERY: Time = SECOND;
/// Period of the initial-fill check.
pub const FILL_CHECK_EVERY: Time = 100 * MILLISECOND;

/// A waiting `Open()` of `pool` (waiting since `since`, with its caller's
/// `tag`) got `conn`, or failed (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Handoff {
    pub(super) pool: u32,
    pub(super) since: Time,
    pub(super) tag: u64,
    pub(super) conn: Option<ConnId>,
}

/// What the reservoir driver's `Open()` did at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReservoirOpen {
    /// TryCheckout handed out a connection.
    Got(ConnId),
    /// The caller waits (up to `empty_wait`); a [`Handoff`] ends the wait.
    Waiting,
    /// Nothing to hand out and no wait (`empty_wait` 0): the Open() failed.
    Failed,
}

impl World {
    /// `Return(conn)` (also the entry of every new connection): into the
    /// buffer, to a waiting `Open()`, or discarded (closed).
    pub(super) fn offer(
        &mut self,
        pool: u32,
        id: ConnId,
        s: &mut Scheduler<Ev>,
    ) -> Option<Handoff> {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        match p.reservoir.offer(id, now, &mut self.conns) {
            Offer::Buffered => None,
            Offer::Discarded(id, _) => {
                self.close(id);
                None
            }
            Offer::ToWaiter(w, id) => Some(Handoff {
                pool,
                since: w.since,
                tag: w.tag,
                conn: Some(id),
            }),
            Offer::WaiterDiscarded(w, id, _) => {
                self.close(id);
                Some(Handoff {
                    pool,
                    since: w.since,
                    tag: w.tag,
                    conn: None,
                })
            }
        }
    }

    /// The reservoir driver's `Open()` for a caller tagged `tag`: TryCheckout,
    /// then the brief wait for the next connection.
    pub(super) fn reservoir_open(
        &mut self,
        pool: u32,
        tag: u64,
        s: &mut Scheduler<Ev>,
    ) -> ReservoirOpen {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        match p.reservoir.try_checkout(now, &mut self.conns) {
            Checkout::Hit(id) => ReservoirOpen::Got(id),
            other => {
                if let Checkout::Discarded(id, _) = other {
                    self.close(id);
                }
                let p = &mut self.pools[pool as usize];
                let wait = p.reservoir.config().empty_wait;
                if wait == 0 {
                    ReservoirOpen::Failed
                } else {
                    let ticket = p.reservoir.enqueue_waiter(now, tag);
                    s.after(wait, Ev::WaitTimeout(pool, ticket));
                    ReservoirOpen::Waiting
                }
            }
        }
    }

    /// An `Open()`'s brief wait ran out (`Ev::WaitTimeout`), if it still waits.
    pub(super) fn wait_timeout(&mut self, pool: u32, ticket: u64) -> Option<Handoff> {
        let w = self.pools[pool as usize].reservoir.timeout_waiter(ticket)?;
        Some(Handoff {
            pool,
            since: w.since,
            tag: w.tag,
            conn: None,
        })
    }

    /// One iteration of the refiller loop (`Ev::RefillerWake`).
    pub(super) fn refiller_wake(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let p = &mut self.pools[pool as usize];
        debug_assert!(!p.refilling);
        let target = p.reservoir.config().target_ready;
        match p.refiller.step(now, p.reservoir.len(), target) {
            Step::SleepUntil(t) => s.at(t, Ev::RefillerWake(pool)),
            Step::Open { deadline } => {
                p.refilling = true;
                if let Some(OpenOutcome {
                    result: Err(why), ..
                }) = self.start_open(pool, Owner::Refiller, deadline, s)
                {
                    self.refill_failed(pool, why, s);
                }
            }
        }
    }

    /// The refiller's open succeeded: the new connection goes in through
    /// `Return`. The caller routes the handoff, then runs the loop again
    /// ([`World::refiller_wake`]): on success it goes again at once.
    pub(super) fn refill_opened(&mut self, pool: u32, s: &mut Scheduler<Ev>) -> Option<Handoff> {
        let p = &mut self.pools[pool as usize];
        p.refilling = false;
        let lifetime = p.refiller.created();
        let conn = self.new_conn(pool, lifetime, s);
        self.offer(pool, conn, s)
    }

    /// The refiller's open failed: it sleeps, then tries again.
    pub(super) fn refill_failed(&mut self, pool: u32, why: RefillFailure, s: &mut Scheduler<Ev>) {
        let p = &mut self.pools[pool as usize];
        p.refilling = false;
        let t = p.refiller.failed(s.now(), why);
        s.at(t, Ev::RefillerWake(pool));
    }

    /// The expiry scanner (`Ev::Scan`): closes expired and inside-guard
    /// connections of the buffer.
    pub(super) fn scan(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
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

    /// The initial fill (`Ev::FillCheck`): the instance takes traffic once
    /// `low_watermark` connections are ready, or at `initial_fill_timeout`.
    pub(super) fn fill_check(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
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
}
