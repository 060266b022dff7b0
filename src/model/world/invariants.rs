//! Invariants of the world, checked by tests (`simulate_checked`): every
//! connection is in exactly one place, and every count agrees with the
//! connections it counts. Slow; never called by a normal run.

use super::config::Stack;
use super::World;
use crate::model::conn::{ConnId, Place};
use crate::model::driver::{OpenAttempt, Stage};

impl World {
    /// Check that every connection is in exactly one place and every count agrees.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut live = 0;
        for (i, p) in self.pools.iter().enumerate() {
            let i = i as u32;
            let r = self.conns.count(i, Place::Ready);
            let idle = self.conns.count(i, Place::Idle);
            let u = self.conns.count(i, Place::InUse);
            if r != p.reservoir.len() {
                return Err(format!(
                    "pool {i}: {r} ready connections but buffer holds {}",
                    p.reservoir.len()
                ));
            }
            let sql_idle = p.sql.as_ref().map_or(0, |s| s.num_idle() as usize);
            if idle != sql_idle {
                return Err(format!(
                    "pool {i}: {idle} idle connections but database/sql's free list holds {sql_idle}"
                ));
            }
            if u != p.in_use as usize {
                return Err(format!(
                    "pool {i}: {u} in-use connections but {} holds",
                    p.in_use
                ));
            }
            if let Some(sql) = &p.sql {
                if sql.in_use() != p.in_use {
                    return Err(format!(
                        "pool {i}: database/sql counts {} in use, requests hold {}",
                        sql.in_use(),
                        p.in_use
                    ));
                }
                if sql.num_open() > sql.config().max_open {
                    return Err(format!("pool {i}: database/sql above MaxOpen"));
                }
                if p.stack == Stack::Plain
                    && sql.num_open() != sql.num_idle() + sql.in_use() + sql.opening()
                {
                    return Err(format!(
                        "pool {i}: numOpen {} != idle {} + in use {} + opening {}",
                        sql.num_open(),
                        sql.num_idle(),
                        sql.in_use(),
                        sql.opening()
                    ));
                }
            }
            if r + idle + u != p.physical as usize {
                return Err(format!(
                    "pool {i}: {} physical connections counted, {} found",
                    p.physical,
                    r + idle + u
                ));
            }
            if p.reservoir.len() > p.reservoir.config().target_ready as usize {
                return Err(format!("pool {i}: buffer over capacity"));
            }
            let mut seen: Vec<ConnId> = p.reservoir.buffered().collect();
            if let Some(sql) = &p.sql {
                seen.extend(sql.idle_conns());
            }
            let n = seen.len();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != n {
                return Err(format!("pool {i}: a connection is in two places"));
            }
            live += r + idle + u;
        }
        if live != self.conns.live() {
            return Err(format!(
                "{} live connections but pools account for {live}",
                self.conns.live()
            ));
        }
        // The cluster also counts connects in flight (admitted, not yet
        // complete) and does not count connections it closed itself.
        let connecting = self.connecting(|a| a.stage == Stage::Connect);
        let server_closed = self.server_closed_live();
        let client = self.conns.live() - server_closed;
        let cluster = self.cluster.live() as usize;
        if cluster < client || cluster > client + connecting {
            return Err(format!(
                "cluster counts {cluster} connections, client holds {client} live (+{connecting} connecting)"
            ));
        }
        if let Some(l) = &self.leases {
            let held = l.active() as usize;
            let leasing = self.connecting(|a| a.lease_held);
            if held < self.conns.live() || held > self.conns.live() + leasing {
                return Err(format!(
                    "{held} leases for {} live connections",
                    self.conns.live()
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

    fn server_closed_live(&self) -> usize {
        (0..self.pools.len() as u32)
            .map(|i| {
                self.conns
                    .count_where(i, |c| c.place != Place::Closed && c.server_closed)
            })
            .sum()
    }
}
