//! The fleet: processes and the startup of their pools.
//!
//! A process (a service instance) runs the plugin once: one limiter and one
//! staggered startup for all its pools. At start it sleeps its stagger
//! (`U[0, startup_max_delay)`), then connects its pools one after the other
//! (each `CreateDB` builds its handle and connects it synchronously); when
//! the last one's connect has ended, the process takes traffic, on every
//! pool, whether each connect succeeded or not (a handle without an
//! `sql.DB` reconnects at the next request).

use super::{Ev, World};
use crate::engine::Scheduler;

impl World {
    /// The process's stagger has passed (`Ev::ProcessStart`): connect its first pool.
    pub(super) fn process_start(&mut self, process: u32, s: &mut Scheduler<Ev>) {
        let first = self.processes[process as usize].first_pool;
        self.connect(first, s);
    }

    /// A connect of `pool` ended: during its process's startup, connect the
    /// next pool, or, after the last, take traffic.
    pub(super) fn startup_progress(&mut self, pool: u32, s: &mut Scheduler<Ev>) {
        let now = s.now();
        let process = self.pools[pool as usize].process;
        let p = &mut self.processes[process as usize];
        if p.started >= p.pools || p.first_pool + p.started != pool {
            return;
        }
        p.started += 1;
        if p.started < p.pools {
            let next = p.first_pool + p.started;
            self.connect(next, s);
            return;
        }
        let (first, n) = (p.first_pool, p.pools);
        for q in first..first + n {
            self.pools[q as usize].serving_since = Some(now);
        }
    }
}
