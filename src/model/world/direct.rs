//! The direct stack: a request takes its connection straight from the
//! reservoir (the driver's `Open()`) and gives it back (`Return`) when its
//! hold ends: the model of the seed's Task 13 and of the old simulator.
//!
//! Above the reservoir side: it calls `Open()` and `Return` and handles the
//! [`Handoff`]s they give back. There is no layer above to retry: a request
//! whose Open() fails, fails (`no_connection`); and no `DatabaseHandle`, so
//! no rebuild either.
//!
//! A direct request lives only in its events: while it waits, its reservoir
//! waiter's tag carries its hold (bits 0..63) and whether it is measured
//! (bit 63).

use super::config::FailCause;
use super::reservoir_side::{Handoff, ReservoirOpen};
use super::{Ev, World};
use crate::engine::{Scheduler, Time};
use crate::model::conn::ConnId;

/// Bit 63 of a direct waiter's tag: the request is measured (arrived after
/// `measure_after`). The other bits are its hold.
const MEASURED_BIT: u64 = 1 << 63;

impl World {
    /// A request arrives at a direct pool serving with `db`.
    pub(super) fn direct_request(
        &mut self,
        db: u32,
        hold: Time,
        measured: bool,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let tag = hold.min(!MEASURED_BIT) | if measured { MEASURED_BIT } else { 0 };
        match self.reservoir_open(db, tag, s) {
            ReservoirOpen::Got(id) => self.direct_got(db, now, tag, false, id, s),
            ReservoirOpen::Waiting => {}
            ReservoirOpen::Failed => self.direct_failed(db, now, tag, s),
        }
    }

    /// A waiting direct request's `Open()` ended.
    pub(super) fn direct_handoff(&mut self, h: Handoff, s: &mut Scheduler<Ev>) {
        match h.conn {
            Some(id) => self.direct_got(h.db, h.since, h.tag, true, id, s),
            None => self.direct_failed(h.db, h.since, h.tag, s),
        }
    }

    /// A direct request's hold ended (`Ev::HoldEnd`): `Return` the connection.
    pub(super) fn direct_hold_end(&mut self, db: u32, id: ConnId, s: &mut Scheduler<Ev>) {
        if let Some(h) = self.offer(db, id, s) {
            self.direct_handoff(h, s);
        }
    }

    /// A direct request (arrived `since`) got `id` from the reservoir.
    fn direct_got(
        &mut self,
        db: u32,
        since: Time,
        tag: u64,
        after_wait: bool,
        id: ConnId,
        s: &mut Scheduler<Ev>,
    ) {
        let now = s.now();
        let measured = tag & MEASURED_BIT != 0;
        let hold = tag & !MEASURED_BIT;
        let pool = self.dbs[db as usize].pool;
        if self.conns.get(id).server_closed {
            // Its use fails: returned with lifetime 0, so it is discarded.
            let p = &mut self.pools[pool as usize];
            p.counters.bad_conns += 1;
            if measured {
                p.counters.failures += 1;
                p.counters.failed[FailCause::BadConn as usize] += 1;
                p.record(now - since, None);
            }
            self.conns.get_mut(id).lifetime = 0;
            if let Some(h) = self.offer(db, id, s) {
                self.direct_handoff(h, s);
            }
            return;
        }
        let p = &mut self.pools[pool as usize];
        if measured {
            if after_wait {
                p.counters.hits_after_wait += 1;
            } else {
                p.counters.hits += 1;
            }
            p.record(now - since, Some(hold));
        }
        self.hold(db);
        s.after(hold, Ev::HoldEnd(db, id));
    }

    /// A direct request's `Open()` failed: the request fails.
    fn direct_failed(&mut self, db: u32, since: Time, tag: u64, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let pool = self.dbs[db as usize].pool;
        let p = &mut self.pools[pool as usize];
        if tag & MEASURED_BIT != 0 {
            p.counters.failures += 1;
            p.counters.failed[FailCause::NoConnection as usize] += 1;
            p.record(now - since, None);
        }
    }
}
