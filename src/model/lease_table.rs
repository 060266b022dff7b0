//! The global connection lease table (DynamoDB), DOMAIN.md section 5.
//!
//! One counter per endpoint (`active`). Acquire succeeds while the counter is
//! below the limit and increments it; release decrements it. Every discard of a
//! reservoir connection releases its lease.
//!
//! Simplified here: DynamoDB calls take no time and never fail; lease items and
//! their TTL are not modelled (no instance crashes yet, so no lease is orphaned).

/// Lease table settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Most leases at once (`DSQL_DISTRIBUTED_CONN_LIMIT`, default 10,000).
    pub limit: u32,
}

/// The lease counter of one endpoint.
#[derive(Clone, Debug, Default)]
pub struct LeaseTable {
    limit: u32,
    active: u32,
    /// Successful acquires.
    pub acquired: u64,
    /// Acquires refused at the limit.
    pub denied: u64,
    /// Releases.
    pub released: u64,
}

impl LeaseTable {
    /// A table with no leases.
    pub fn new(cfg: LeaseConfig) -> Self {
        LeaseTable {
            limit: cfg.limit,
            ..Default::default()
        }
    }

    /// Acquire one lease: `counter < limit` then `counter + 1`.
    pub fn acquire(&mut self) -> bool {
        if self.active < self.limit {
            self.active += 1;
            self.acquired += 1;
            true
        } else {
            self.denied += 1;
            false
        }
    }

    /// Release one lease: `counter - 1`.
    pub fn release(&mut self) {
        debug_assert!(self.active > 0, "lease released twice");
        self.active = self.active.saturating_sub(1);
        self.released += 1;
    }

    /// The counter.
    pub fn active(&self) -> u32 {
        self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_fails_at_limit_and_release_frees() {
        let mut t = LeaseTable::new(LeaseConfig { limit: 2 });
        assert!(t.acquire());
        assert!(t.acquire());
        assert!(!t.acquire());
        assert_eq!((t.active(), t.denied), (2, 1));
        t.release();
        assert!(t.acquire());
        assert_eq!((t.acquired, t.released), (3, 1));
    }
}
