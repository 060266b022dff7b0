//! Invariants of the world, checked by tests (`simulate_checked`): every
//! connection is in exactly one place, and every count agrees with the
//! connections it counts. Slow; never called by a normal run.

use super::config::Stack;
use super::instance::DbState;
use super::World;
use crate::model::conn::{ConnId, Place};
use crate::model::driver::{OpenAttempt, Stage};

impl World {
    /// Check that every connection is in exactly one place and every count agrees.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut live = 0;
        for (i, d) in self.dbs.iter().enumerate() {
            let i = i as u32;
            let r = self.conns.count(i, Place::Ready);
            let idle = self.conns.count(i, Place::Idle);
            let u = self.conns.count(i, Place::InUse);
            if r != d.reservoir.len() {
                return Err(format!(
                    "db {i}: {r} ready connections but its buffer holds {}",
                    d.reservoir.len()
                ));
            }
            let open_sql = d.state != DbState::Closed;
            let sql_idle = d
                .sql
                .as_ref()
                .filter(|_| open_sql)
                .map_or(0, |s| s.num_idle() as usize);
            if idle != sql_idle {
                return Err(format!(
                    "db {i}: {idle} idle connections but database/sql's free list holds {sql_idle}"
                ));
            }
            if u != d.in_use as usize {
                return Err(format!(
                    "db {i}: {u} in-use connections but {} held",
                    d.in_use
                ));
            }
            if let Some(sql) = d.sql.as_ref().filter(|_| open_sql) {
                if sql.in_use() != d.in_use {
                    return Err(format!(
                        "db {i}: database/sql counts {} in use, callers hold {}",
                        sql.in_use(),
                        d.in_use
                    ));
                }
                if sql.num_open() > sql.config().max_open {
                    return Err(format!("db {i}: database/sql above MaxOpen"));
                }
                if d.stack == Stack::Plain
                    && sql.num_open() != sql.num_idle() + sql.in_use() + sql.opening()
                {
                    return Err(format!(
                        "db {i}: numOpen {} != idle {} + in use {} + opening {}",
                        sql.num_open(),
                        sql.num_idle(),
                        sql.in_use(),
                        sql.opening()
                    ));
                }
            }
            if r + idle + u != d.physical as usize {
                return Err(format!(
                    "db {i}: {} physical connections counted, {} found",
                    d.physical,
                    r + idle + u
                ));
            }
            if d.reservoir.len() > d.reservoir.config().target_ready as usize {
                return Err(format!("db {i}: buffer over capacity"));
            }
            if !d.refiller_on && d.state == DbState::Closed && !d.reservoir.is_empty() {
                return Err(format!("db {i}: a shut reservoir holds connections"));
            }
            let mut seen: Vec<ConnId> = d.reservoir.buffered().collect();
            if let Some(sql) = d.sql.as_ref().filter(|_| open_sql) {
                seen.extend(sql.idle_conns());
            }
            let n = seen.len();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != n {
                return Err(format!("db {i}: a connection is in two places"));
            }
            live += r + idle + u;
        }
        for (i, p) in self.pools.iter().enumerate() {
            let (phys, held) = p.dbs.iter().fold((0, 0), |(a, b), &db| {
                let d = &self.dbs[db as usize];
                (a + d.physical, b + d.in_use)
            });
            if phys != p.physical || held != p.in_use {
                return Err(format!(
                    "pool {i}: counts {} physical / {} in use, its dbs {phys} / {held}",
                    p.physical, p.in_use
                ));
            }
        }
        if live != self.conns.live() {
            return Err(format!(
                "{} live connections but the dbs account for {live}",
                self.conns.live()
            ));
        }
        // The cluster also counts connects in flight (admitted, not yet
        // complete) and does not count connections it closed itself.
        let connecting = self.connecting(|a| a.stage == Stage::Connect);
        let server_closed = self.conns.live_conns().filter(|c| c.server_closed).count();
        let client = self.conns.live() - server_closed;
        let cluster = self.cluster.live() as usize;
        if cluster < client || cluster > client + connecting {
            return Err(format!(
                "cluster counts {cluster} connections, client holds {client} live (+{connecting} connecting)"
            ));
        }
        let leased = self.conns.live_conns().filter(|c| c.leased).count();
        if leased != self.leased_live as usize {
            return Err(format!(
                "{leased} leased connections, {} counted",
                self.leased_live
            ));
        }
        if let Some(l) = &self.leases {
            // The counter holds the leases of live connections, of opens under
            // way, and those whose release failed.
            let held = l.active() as usize;
            let leasing = self.connecting(|a| a.lease_held);
            let expected = leased + leasing + self.leases_lost as usize;
            if held != expected {
                return Err(format!(
                    "lease counter {held}, expected {leased} leased + {leasing} opening + {} lost",
                    self.leases_lost
                ));
            }
        }
        Ok(())
    }

    fn connecting(&self, f: impl Fn(&OpenAttempt) -> bool) -> usize {
        let mut free = self.free_opens.clone();
        free.sort_unstable();
        (0..self.opens.len() as u32)
            .filter(|i| free.binary_search(i).is_err())
            .filter(|&i| f(&self.opens[i as usize].attempt))
            .count()
    }
}
