//! One physical connection on the client side: opening it through the driver
//! (stagger, lease, limiters, IAM token, connect) and closing it.
//!
//! The lowest part of the world. The open path does not know who asked for
//! the connection: it ends with an [`OpenOutcome`], returned to the caller
//! when the open fails at once, or, when it ends in an event
//! (`OpenDone`/`OpenFailed`), returned to the router, which hands it to the
//! [`Owner`]'s side. Nothing here calls upward.

use super::{Ev, World};
use crate::engine::{Scheduler, Time};
use crate::model::conn::{ConnId, Place};
use crate::model::driver::{OpenAttempt, Progress, Shared};
use crate::model::refiller::RefillFailure;

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

/// One physical connection being opened through the driver.
#[derive(Clone, Copy, Debug)]
pub(super) struct OpenSlot {
    pub(super) pool: u32,
    pub(super) owner: Owner,
    pub(super) attempt: OpenAttempt,
}

/// How an open ended. On success the owner creates the connection
/// ([`World::new_conn`]) with the lifetime it gives connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OpenOutcome {
    pub(super) pool: u32,
    pub(super) owner: Owner,
    pub(super) result: Result<(), RefillFailure>,
}

impl World {
    /// A new physical connection of `pool`, held by whoever opened it.
    pub(super) fn new_conn(&mut self, pool: u32, lifetime: Time, s: &mut Scheduler<Ev>) -> ConnId {
        let now = s.now();
        let id = self.conns.open(pool, now, lifetime, Place::InUse);
        let p = &mut self.pools[pool as usize];
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

    /// Close a connection: the cluster forgets it (unless the server already
    /// closed it) and its lease is released.
    pub(super) fn close(&mut self, id: ConnId) {
        let c = *self.conns.get(id);
        self.conns.close(id);
        self.pools[c.pool as usize].physical -= 1;
        if !c.server_closed {
            self.cluster.close();
        }
        if let Some(l) = self.leases.as_mut() {
            l.release();
        }
    }

    /// The server closes `id` at its maximum age (if it is still the
    /// connection created at `created_at`); the client finds out at its next use.
    pub(super) fn server_close(&mut self, id: ConnId, created_at: Time) {
        let c = self.conns.get_mut(id);
        if c.place != Place::Closed && c.created_at == created_at && !c.server_closed {
            c.server_closed = true;
            let pool = c.pool;
            self.cluster.close();
            self.pools[pool as usize].counters.server_closed += 1;
        }
    }

    /// Start opening a physical connection for `owner`. Returns the outcome
    /// if the open failed at once; otherwise it goes on in events.
    pub(super) fn start_open(
        &mut self,
        pool: u32,
        owner: Owner,
        deadline: Time,
        s: &mut Scheduler<Ev>,
    ) -> Option<OpenOutcome> {
        let slot = OpenSlot {
            pool,
            owner,
            attempt: OpenAttempt::new(s.now(), deadline),
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
        let mut sh = Shared {
            limiter: &mut self.limiter,
            leases: &mut self.leases,
            cluster: &mut self.cluster,
        };
        let progress =
            self.pools[slot.pool as usize]
                .driver
                .advance(&mut slot.attempt, now, &mut sh);
        match progress {
            Progress::WaitUntil(t) => s.at(t, Ev::OpenAdvance(id)),
            Progress::Connecting { done_at } => s.at(done_at, Ev::OpenDone(id)),
            Progress::Failed { why, at } if at == now => return Some(self.open_failed(id, why)),
            Progress::Failed { why, at } => s.at(at, Ev::OpenFailed(id, why)),
        }
        None
    }

    /// Open `id`'s connect completed (`Ev::OpenDone`).
    pub(super) fn open_done(&mut self, id: u32) -> OpenOutcome {
        let OpenSlot { pool, owner, .. } = self.opens[id as usize];
        self.free_opens.push(id);
        OpenOutcome {
            pool,
            owner,
            result: Ok(()),
        }
    }

    /// Open `id` failed (`Ev::OpenFailed`, or at once): counted for its pool.
    pub(super) fn open_failed(&mut self, id: u32, why: RefillFailure) -> OpenOutcome {
        let OpenSlot { pool, owner, .. } = self.opens[id as usize];
        self.free_opens.push(id);
        self.pools[pool as usize].counters.open_failures[why as usize] += 1;
        OpenOutcome {
            pool,
            owner,
            result: Err(why),
        }
    }
}
