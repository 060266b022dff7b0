//! The reservoir side of a `Db`: the buffer (the reservoir driver's `Open()`
//! and `Return`), the refiller loop, the expiry scanner and the initial fill.
//!
//! Below the stacks that use it (the direct stack, database/sql): when a
//! connection reaches a waiting `Open()` or a wait fails, this side returns a
//! [`Handoff`] to its caller instead of calling the waiter's side; when the
//! initial fill ends it records [`Up::FillDone`] for the router. It calls down
//! only into the open path ([`super::opens`]).
//!
//! Every `Open()` is timed, from its call to its result (failures included):
//! that is production's `dsql_reservoir_checkout_latency_milliseconds`.

use super::instance::DbState;
use super::opens::{OpenOutcome, Owner};
use super::{Ev, Up, World};
use crate::engine::{Scheduler, Time, MILLISECOND, SECOND};
use crate::model::conn::ConnId;
use crate::model::refiller::{RefillFailure, Step};
use crate::model::reservoir::{Checkout, Offer};

/// Period of the expiry scanner.
pub const SCAN_EVERY: Time = SECOND;
/// Period of the initial-fill check.
pub const FILL_CHECK_EVERY: Time = 100 * MILLISECOND;

/// A waiting `Open()` on `db` (waiting since `since`, with its caller's
/// `tag`) got `conn`, or failed (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Handoff {
    pub(super) db: u32,
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
    fn record_open(&mut self, db: u32, took: Time) {
        let pool = self.dbs[db as usize].pool;
        self.pools[pool as usize].record_open(took);
    }

    /// `Return(conn)` (also the entry of every new connection): into the
    /// buffer, to a waiting `Open()`, or discarded (closed). A `Db` whose
    /// reservoir was shut down (the rebuild fix) closes it instead.
    pub(super) fn offer(&mut self, db: u32, id: ConnId, s: &mut Scheduler<Ev>) -> Option<Handoff> {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        if d.state == DbState::Closed && !d.refiller_on {
            let pool = d.pool;
            self.pools[pool as usize].counters.closed_by_shutdown += 1;
            self.close(id, s);
            return None;
        }
        let h = match d.reservoir.offer(id, now, &mut self.conns) {
            Offer::Buffered => None,
            Offer::Discarded(id, _) => {
                self.close(id, s);
                None
            }
            Offer::ToWaiter(w, id) => Some(Handoff {
                db,
                since: w.since,
                tag: w.tag,
                conn: Some(id),
            }),
            Offer::WaiterDiscarded(w, id, _) => {
                self.close(id, s);
                Some(Handoff {
                    db,
                    since: w.since,
                    tag: w.tag,
                    conn: None,
                })
            }
        };
        if let Some(h) = h {
            self.record_open(db, now - h.since);
        }
        h
    }

    /// The reservoir driver's `Open()` for a caller tagged `tag`: TryCheckout,
    /// then the brief wait for the next connection.
    pub(super) fn reservoir_open(
        &mut self,
        db: u32,
        tag: u64,
        s: &mut Scheduler<Ev>,
    ) -> ReservoirOpen {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        let r = match d.reservoir.try_checkout(now, &mut self.conns) {
            Checkout::Hit(id) => ReservoirOpen::Got(id),
            other => {
                if let Checkout::Discarded(id, _) = other {
                    self.close(id, s);
                }
                let d = &mut self.dbs[db as usize];
                let wait = d.reservoir.config().empty_wait;
                if wait == 0 {
                    ReservoirOpen::Failed
                } else {
                    let ticket = d.reservoir.enqueue_waiter(now, tag);
                    s.after(wait, Ev::WaitTimeout(db, ticket));
                    ReservoirOpen::Waiting
                }
            }
        };
        if r != ReservoirOpen::Waiting {
            self.record_open(db, 0);
        }
        r
    }

    /// An `Open()`'s brief wait ran out (`Ev::WaitTimeout`), if it still waits.
    pub(super) fn wait_timeout(&mut self, db: u32, ticket: u64, now: Time) -> Option<Handoff> {
        let w = self.dbs[db as usize].reservoir.timeout_waiter(ticket)?;
        self.record_open(db, now - w.since);
        Some(Handoff {
            db,
            since: w.since,
            tag: w.tag,
            conn: None,
        })
    }

    /// Start the reservoir of a new `Db`: its refiller and expiry scanner run
    /// from now on, and the initial fill waits for `low_watermark` ready
    /// connections for at most `initial_fill_timeout`.
    pub(super) fn start_reservoir(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        d.refiller_on = true;
        d.fill_deadline = now.saturating_add(d.reservoir.config().initial_fill_timeout);
        s.at(now, Ev::RefillerWake(db));
        s.at(now, Ev::FillCheck(db));
        s.at(now.saturating_add(SCAN_EVERY), Ev::Scan(db));
    }

    /// One iteration of the refiller loop (`Ev::RefillerWake`).
    pub(super) fn refiller_wake(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let d = &mut self.dbs[db as usize];
        if !d.refiller_on {
            return;
        }
        debug_assert!(!d.refilling);
        let target = d.reservoir.config().target_ready;
        match d.refiller.step(now, d.reservoir.len(), target) {
            Step::SleepUntil(t) => s.at(t, Ev::RefillerWake(db)),
            Step::Open { .. } => {
                d.refilling = true;
                if let Some(OpenOutcome {
                    result: Err(why), ..
                }) = self.start_open(db, Owner::Refiller, s)
                {
                    self.refill_failed(db, why, s);
                }
            }
        }
    }

    /// The refiller's open succeeded: the new connection goes in through
    /// `Return`. The caller routes the handoff, then calls
    /// [`World::refiller_next`].
    pub(super) fn refill_opened(
        &mut self,
        db: u32,
        leased: bool,
        s: &mut Scheduler<Ev>,
    ) -> Option<Handoff> {
        let d = &mut self.dbs[db as usize];
        d.refilling = false;
        let lifetime = d.refiller.created();
        let conn = self.new_conn(db, lifetime, leased, s);
        self.offer(db, conn, s)
    }

    /// After a successful open the loop goes again: at once (continuous),
    /// or after the paced interval.
    pub(super) fn refiller_next(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        match self.dbs[db as usize].refiller.next_after_success(s.now()) {
            None => self.refiller_wake(db, s),
            Some(t) => s.at(t, Ev::RefillerWake(db)),
        }
    }

    /// The refiller's open failed: it sleeps, then tries again.
    pub(super) fn refill_failed(&mut self, db: u32, why: RefillFailure, s: &mut Scheduler<Ev>) {
        let d = &mut self.dbs[db as usize];
        d.refilling = false;
        let t = d.refiller.failed(s.now(), why);
        s.at(t, Ev::RefillerWake(db));
    }

    /// The expiry scanner (`Ev::Scan`): closes expired and inside-guard
    /// connections of the buffer.
    pub(super) fn scan(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        if !self.dbs[db as usize].refiller_on {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        self.dbs[db as usize]
            .reservoir
            .scan(now, &self.conns, &mut out);
        for &(id, _) in &out {
            self.close(id, s);
        }
        self.scratch = out;
        s.after(SCAN_EVERY, Ev::Scan(db));
    }

    /// The initial fill (`Ev::FillCheck`): done once `low_watermark`
    /// connections are ready, or at the fill deadline.
    pub(super) fn fill_check(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let d = &self.dbs[db as usize];
        if d.state != DbState::Starting {
            return;
        }
        if d.reservoir.len() >= d.reservoir.config().low_watermark as usize {
            self.ups.push(Up::FillDone {
                db,
                timed_out: false,
            });
        } else if now >= d.fill_deadline {
            self.ups.push(Up::FillDone {
                db,
                timed_out: true,
            });
        } else {
            s.after(FILL_CHECK_EVERY, Ev::FillCheck(db));
        }
    }

    /// Shut a reservoir down (the rebuild fix, or a process's shutdown): the
    /// refiller and scanner stop and the buffered connections are closed.
    pub(super) fn shut_reservoir(&mut self, db: u32, s: &mut Scheduler<Ev>) {
        let d = &mut self.dbs[db as usize];
        d.refiller_on = false;
        let mut out = std::mem::take(&mut self.scratch_ids);
        out.clear();
        out.extend(d.reservoir.drain());
        let pool = d.pool;
        self.pools[pool as usize].counters.closed_by_shutdown += out.len() as u64;
        for &id in &out {
            self.close(id, s);
        }
        self.scratch_ids = out;
    }
}
