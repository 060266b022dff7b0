//! One physical connection on the client side: opening it through the driver
//! (lease, the process's limiter, IAM token, connect), closing it, and the
//! lease that goes with it.
//!
//! The lowest part of the world. The open path does not know who asked for
//! the connection: it ends with an [`OpenOutcome`], returned to the caller
//! when the open fails at once, or, when it ends in an event
//! (`OpenDone`/`OpenFailed`), returned to the router, which hands it to the
//! [`Owner`]'s side. Nothing here calls upward.
//!
//! Every open has its own deadline of [`OPEN_DEADLINE`] from its start, the
//! production drivers' 30 s context: a request's own deadline is not passed
//! down (database/sql's connector ignores it).

use super::{Ev, World};
use crate::engine::{Scheduler, Time};
use crate::model::conn::{ConnId, Place};
use crate::model::driver::{OpenAttempt, Progress, Shared};
use crate::model::refiller::{RefillFailure, OPEN_DEADLINE};

/// Who an open is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// The reservoir's refiller.
    Refiller,
    /// A database/sql caller's own open (`Acquire::Open`), by slot.
    Req(u32),
    /// database/sql's connection opener (`maybeOpenNewConnections`).
    Opener,
}

/// One physical connection being opened through the driver for a `Db`.
#[derive(Clone, Copy, Debug)]
pub(super) struct OpenSlot {
    pub(super) db: u32,
    pub(super) owner: Owner,
    pub(super) attempt: OpenAttempt,
}

/// How an open ended. On success the owner creates the connection
/// ([`World::new_conn`]) with the lifetime it gives connections, and with
/// the lease the open holds (`leased`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OpenOutcome {
    pub(super) db: u32,
    pub(super) owner: Owner,
    pub(super) result: Result<(), RefillFailure>,
    pub(super) leased: bool,
}

impl World {
    /// A new physical connection of `db`, held by whoever opened it.
    pub(super) fn new_conn(
        &mut self,
        db: u32,
        lifetime: Time,
        leased: bool,
        s: &mut Scheduler<Ev>,
    ) -> ConnId {
        let now = s.now();
        let id = self.conns.open(db, now, lifetime, Place::InUse);
        self.conns.get_mut(id).leased = leased;
        if leased {
            self.leased_live += 1;
        }
        let d = &mut self.dbs[db as usize];
        d.physical += 1;
        let p = &mut self.pools[d.pool as usize];
        p.physical += 1;
        p.peak_physical = p.peak_physical.max(p.physical);
        p.counters.created += 1;
        if self.max_age > 0 {
            let at = now.saturating_add(self.max_age);
            if at <= self.duration {
                s.at(at, Ev::ServerClose(id, now));
            }
        }
        id
    }

    /// A caller now holds a connection of `db`.
    pub(super) fn hold(&mut self, db: u32) {
        let d = &mut self.dbs[db as usize];
        d.in_use += 1;
        self.pools[d.pool as usize].in_use += 1;
    }

    /// A caller gave a connection of `db` back.
    pub(super) fn unhold(&mut self, db: u32) {
        let d = &mut self.dbs[db as usize];
        d.in_use -= 1;
        self.pools[d.pool as usize].in_use -= 1;
    }

    /// Close a connection: the cluster forgets it (unless the server already
    /// closed it) and its lease is released.
    pub(super) fn close(&mut self, id: ConnId, s: &mut Scheduler<Ev>) {
        let c = *self.conns.get(id);
        self.conns.close(id);
        let d = &mut self.dbs[c.db as usize];
        d.physical -= 1;
        let pool = d.pool;
        self.pools[pool as usize].physical -= 1;
        if !c.server_closed {
            self.cluster.close();
        }
        if c.leased {
            self.leased_live -= 1;
            let process = self.pools[pool as usize].process;
            self.release_lease(process, s);
        }
    }

    /// Release one lease (a DynamoDB transaction of `process`): applied when
    /// the call is made; a failed call leaves the counter one too high for good.
    pub(super) fn release_lease(&mut self, process: u32, s: &mut Scheduler<Ev>) {
        let Some(table) = self.leases.as_mut() else {
            return;
        };
        let call = self
            .dynamo
            .call(s.now(), &mut self.processes[process as usize].dynamo_rng);
        if call.ok {
            table.release();
        } else {
            self.leases_lost += 1;
        }
    }

    /// The server closes `id` at its maximum age (if it is still the
    /// connection created at `created_at`); the client finds out at its next use.
    pub(super) fn server_close(&mut self, id: ConnId, created_at: Time) {
        let c = self.conns.get_mut(id);
        if c.place != Place::Closed && c.created_at == created_at && !c.server_closed {
            c.server_closed = true;
            let db = c.db;
            self.cluster.close();
            let pool = self.dbs[db as usize].pool;
            self.pools[pool as usize].counters.server_closed += 1;
        }
    }

    /// Start opening a physical connection for `db`'s `owner`, with its own
    /// 30 s deadline. Returns the outcome if the open failed at once;
    /// otherwise it goes on in events.
    pub(super) fn start_open(
        &mut self,
        db: u32,
        owner: Owner,
        s: &mut Scheduler<Ev>,
    ) -> Option<OpenOutcome> {
        let now = s.now();
        let takes_lease = self.dbs[db as usize].stack.has_reservoir();
        let slot = OpenSlot {
            db,
            owner,
            attempt: OpenAttempt::new(now, now.saturating_add(OPEN_DEADLINE), takes_lease),
        };
        let id = match self.free_opens.pop() {
            Some(id) => {
                self.opens[id as usize] = slot;
                id
            }
            None => {
                self.opens.push(slot);
                (self.opens.len() - 1) as u32
            }
        };
        self.open_advance(id, s)
    }

    /// Advance open `id` as far as it goes now (`Ev::OpenAdvance`). Returns
    /// the outcome if it failed now.
    pub(super) fn open_advance(&mut self, id: u32, s: &mut Scheduler<Ev>) -> Option<OpenOutcome> {
        let now = s.now();
        let slot = &mut self.opens[id as usize];
        let pool = &mut self.pools[self.dbs[slot.db as usize].pool as usize];
        let process = &mut self.processes[pool.process as usize];
        let mut sh = Shared {
            limiter: &mut process.limiter,
            global: &mut self.limiter,
            leases: &mut self.leases,
            cluster: &mut self.cluster,
            dynamo: &self.dynamo,
            dynamo_rng: &mut process.dynamo_rng,
            jitter_rng: &mut process.jitter_rng,
        };
        match pool.driver.advance(&mut slot.attempt, now, &mut sh) {
            Progress::WaitUntil(t) => s.at(t, Ev::OpenAdvance(id)),
            Progress::Connecting { done_at } => s.at(done_at, Ev::OpenDone(id)),
            Progress::Failed { why, at } if at == now => return Some(self.open_failed(id, why, s)),
            Progress::Failed { why, at } => s.at(at, Ev::OpenFailed(id, why)),
        }
        None
    }

    /// Open `id`'s connect completed (`Ev::OpenDone`).
    pub(super) fn open_done(&mut self, id: u32) -> OpenOutcome {
        let OpenSlot { db, owner, attempt } = self.opens[id as usize];
        self.free_opens.push(id);
        OpenOutcome {
            db,
            owner,
            result: Ok(()),
            leased: attempt.lease_held,
        }
    }

    /// Open `id` failed (`Ev::OpenFailed`, or at once): counted for its pool;
    /// a lease it took is released.
    pub(super) fn open_failed(
        &mut self,
        id: u32,
        why: RefillFailure,
        s: &mut Scheduler<Ev>,
    ) -> OpenOutcome {
        let OpenSlot { db, owner, attempt } = self.opens[id as usize];
        self.free_opens.push(id);
        let pool = self.dbs[db as usize].pool;
        let p = &mut self.pools[pool as usize];
        p.counters.open_failures[why as usize] += 1;
        if attempt.lease_held {
            let process = p.process;
            self.release_lease(process, s);
        }
        OpenOutcome {
            db,
            owner,
            result: Err(why),
            leased: false,
        }
    }
}
