//! The pool keeper (DOMAIN.md section 7; production `pool_keeper.go`).
//!
//! Every 1 s, if the pool has fewer than `target` connections open, it creates
//! up to `min(10, ceil(target / 120))` of them (at least 1), one after the
//! other, each through the rate limiter. "Open" is Go's `DBStats.OpenConnections`
//! ([`SqlPool::num_open`](crate::model::sql_pool::SqlPool::num_open)), which
//! counts opens under way.
//!
//! Details from the production code that DOMAIN.md leaves out, modelled here:
//!
//! - The batch size is `min(deficit, per_tick)`, fixed at the tick; the batch
//!   is not re-checked against the pool while it runs.
//! - The batch runs inside the ticker loop, so a batch that outlasts the tick
//!   period delays the ticker: Go's `time.Ticker` keeps one tick buffered and
//!   drops the rest, so the keeper ticks again as soon as the batch ends if one
//!   or more ticks passed meanwhile (re-reading the pool), then on the next
//!   period boundary.
//!
//! For the world: one "creation" is `db.Conn(ctx)` with a 10 s timeout, a
//! `SELECT 1` and `Conn.Close()`, i.e. an acquire through the
//! [`SqlPool`](crate::model::sql_pool::SqlPool) (with its bad-connection
//! retries) followed by a release. If the pool has a free connection, the
//! keeper takes and returns it and no new connection is made.

use crate::engine::{Time, SECOND};

/// Keeper tick period.
pub const TICK: Time = SECOND;
/// Timeout of one creation.
pub const CONNECTION_TIMEOUT: Time = 10 * SECOND;
/// Cap of the batch size.
pub const MAX_PER_TICK: u32 = 10;
/// `ceil(target / TICKS_PER_STAGGER)`: production assumes a 2-minute stagger
/// checked every 1 s tick.
pub const TICKS_PER_STAGGER: u32 = 120;

/// Connections created per tick at most: `min(10, ceil(target / 120))`, at least 1.
pub fn per_tick_for(target: u32) -> u32 {
    target.div_ceil(TICKS_PER_STAGGER).clamp(1, MAX_PER_TICK)
}

/// Counters of the keeper (production metric names in parentheses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeeperStats {
    /// Ticks that looked at the pool (including a buffered tick run late).
    pub ticks: u64,
    /// Ticks that found a batch still running.
    pub busy_ticks: u64,
    /// Connections created (`dsql_pool_keeper_topup_total`).
    pub topups: u64,
    /// Creations that failed (`dsql_pool_keeper_topup_failures_total`).
    pub failures: u64,
}

/// One instance's pool keeper.
pub struct Keeper {
    target: u32,
    per_tick: u32,
    /// Creations left in the running batch (0 = no batch).
    remaining: u32,
    /// A tick arrived while a batch was running (the ticker's buffered tick).
    buffered_tick: bool,
    /// Counters.
    pub stats: KeeperStats,
}

impl Keeper {
    /// A keeper holding the pool at `target` open connections.
    pub fn new(target: u32) -> Self {
        Keeper {
            target,
            per_tick: per_tick_for(target),
            remaining: 0,
            buffered_tick: false,
            stats: KeeperStats::default(),
        }
    }

    /// The target pool size.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// The batch size cap.
    pub fn per_tick(&self) -> u32 {
        self.per_tick
    }

    /// Whether a batch is running.
    pub fn busy(&self) -> bool {
        self.remaining > 0
    }

    fn look(&mut self, open: u32) -> u32 {
        self.stats.ticks += 1;
        let n = self.target.saturating_sub(open).min(self.per_tick);
        self.remaining = n;
        n
    }

    /// The ticker fires at `now` with `open` connections open: returns the
    /// number of connections to create one after the other (start the first
    /// now if > 0; report each with [`Keeper::created`]) and the next tick.
    /// While a batch runs, the tick is buffered and 0 is returned.
    pub fn tick(&mut self, now: Time, open: u32) -> (u32, Time) {
        let next = now.saturating_add(TICK);
        if self.busy() {
            self.stats.busy_ticks += 1;
            self.buffered_tick = true;
            return (0, next);
        }
        (self.look(open), next)
    }

    /// One creation of the batch ended (`ok` = created) with `open`
    /// connections now open: returns how many more to create now, one after
    /// the other (the rest of the batch, or a new batch if a tick was buffered).
    pub fn created(&mut self, ok: bool, open: u32) -> u32 {
        if self.remaining == 0 {
            return 0;
        }
        if ok {
            self.stats.topups += 1;
        } else {
            self.stats.failures += 1;
        }
        self.remaining -= 1;
        if self.remaining == 0 && self.buffered_tick {
            self.buffered_tick = false;
            return self.look(open);
        }
        self.remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn batch_sizes() {
        assert_eq!(per_tick_for(0), 1);
        assert_eq!(per_tick_for(1), 1);
        assert_eq!(per_tick_for(50), 1);
        assert_eq!(per_tick_for(120), 1);
        assert_eq!(per_tick_for(121), 2);
        assert_eq!(per_tick_for(240), 2);
        assert_eq!(per_tick_for(500), 5);
        assert_eq!(per_tick_for(1200), 10);
        assert_eq!(per_tick_for(5000), 10);
        assert_eq!(per_tick_for(u32::MAX), 10);
    }

    #[test]
    fn ticks_every_second_and_creates_up_to_the_deficit() {
        let mut k = Keeper::new(50);
        assert_eq!(k.tick(0, 50), (0, SECOND));
        assert_eq!(k.tick(SECOND, 60), (0, 2 * SECOND));
        assert_eq!(k.tick(2 * SECOND, 10), (1, 3 * SECOND));
        assert_eq!(k.created(true, 11), 0);
        let mut k = Keeper::new(1200);
        assert_eq!(k.tick(0, 0).0, 10);
        let mut k = Keeper::new(1200);
        assert_eq!(k.tick(0, 1197).0, 3, "never more than the deficit");
        let mut k = Keeper::new(240);
        assert_eq!(k.tick(0, 0).0, 2);
        assert_eq!(k.stats.ticks, 1);
    }

    #[test]
    fn batch_is_sequential_and_counted() {
        let mut k = Keeper::new(240);
        assert_eq!(k.tick(0, 100), (2, SECOND));
        assert!(k.busy());
        assert_eq!(k.created(true, 101), 1);
        assert_eq!(k.created(false, 101), 0);
        assert!(!k.busy());
        assert_eq!((k.stats.topups, k.stats.failures), (1, 1));
        assert_eq!(k.created(true, 101), 0, "no batch running");
        assert_eq!(k.stats.topups, 1);
    }

    #[test]
    fn a_tick_during_a_batch_is_buffered_once() {
        let mut k = Keeper::new(240);
        assert_eq!(k.tick(0, 0).0, 2);
        // The batch outlasts two ticks: one is buffered, the other dropped.
        assert_eq!(k.tick(SECOND, 1), (0, 2 * SECOND));
        assert_eq!(k.tick(2 * SECOND, 1), (0, 3 * SECOND));
        assert_eq!(k.stats.busy_ticks, 2);
        assert_eq!(k.created(true, 1), 1);
        // The batch ends: the buffered tick runs at once with a fresh look.
        assert_eq!(k.created(true, 239), 1);
        assert_eq!(k.stats.ticks, 2);
        assert_eq!(k.created(true, 240), 0);
        assert!(!k.busy());
        // And nothing else was buffered.
        assert_eq!(k.tick(3 * SECOND, 240), (0, 4 * SECOND));
    }

    proptest! {
        #[test]
        fn prop_never_more_than_per_tick_or_deficit(target in 0u32..5000, open in 0u32..6000) {
            let mut k = Keeper::new(target);
            let (n, next) = k.tick(7, open);
            prop_assert_eq!(next, 7 + SECOND);
            prop_assert!(n <= k.per_tick() && n <= target.saturating_sub(open));
            prop_assert!(n >= 1 || open >= target);
            prop_assert!(k.per_tick() >= 1 && k.per_tick() <= MAX_PER_TICK);
        }
    }
}
