//! The Aurora DSQL cluster, server side (DOMAIN.md section 2).
//!
//! - New connections: a cluster-wide token bucket (100/s sustained, burst 1,000
//!   by default); a connect over it is refused (SQLSTATE 53400).
//! - Concurrent connections: at most `max_connections` (10,000 by default); a
//!   connect over it is refused.
//! - A connection lives at most `max_connection_age` (60 minutes): the server
//!   closes it then ([`Cluster::close`], called by the world at that instant);
//!   the client learns of it only at the connection's next use.
//!
//! The cluster counts every connection attempt that reaches it, per simulated
//! second, for the `max_connects_per_sec` assertion and the connects chart.

use crate::engine::{Time, SECOND};
use crate::model::limiter::TokenBucket;

/// Cluster settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterConfig {
    /// Most concurrent connections [10,000].
    pub max_connections: u32,
    /// Sustained new connections per second [100].
    pub connect_rate: f64,
    /// Burst capacity of new connections [1,000].
    pub connect_burst: u32,
    /// The server closes every connection at this age [60 min; 0 = never];
    /// the client finds out at its next use (a bad connection).
    pub max_connection_age: Time,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            max_connections: 10_000,
            connect_rate: 100.0,
            connect_burst: 1_000,
            max_connection_age: 60 * crate::engine::MINUTE,
        }
    }
}

/// Why the cluster refused a connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over the connection-rate limit (SQLSTATE 53400).
    RateExceeded,
    /// At the concurrent-connection limit.
    TooManyConnections,
}

/// The cluster's state.
pub struct Cluster {
    cfg: ClusterConfig,
    rate: TokenBucket,
    live: u32,
    peak_live: u32,
    /// Connects refused for the rate limit.
    pub refused_rate: u64,
    /// Connects refused for the connection limit.
    pub refused_limit: u64,
    /// Attempts that reached the cluster, by simulated second.
    attempts_by_second: Vec<u32>,
    attempts: u64,
}

impl Cluster {
    /// A cluster with no connections, for a run of `duration`.
    pub fn new(cfg: ClusterConfig, duration: Time) -> Result<Self, String> {
        let seconds = (duration / SECOND + 1) as usize;
        Ok(Cluster {
            rate: TokenBucket::new(cfg.connect_rate, cfg.connect_burst)?,
            cfg,
            live: 0,
            peak_live: 0,
            refused_rate: 0,
            refused_limit: 0,
            attempts_by_second: vec![0; seconds],
            attempts: 0,
        })
    }

    /// A connect reaches the cluster at `now`: admit it (it counts as live at
    /// once) or refuse it.
    pub fn connect(&mut self, now: Time) -> Result<(), Refusal> {
        self.attempts += 1;
        let s = (now / SECOND) as usize;
        if let Some(slot) = self.attempts_by_second.get_mut(s) {
            *slot += 1;
        }
        if self.live >= self.cfg.max_connections {
            self.refused_limit += 1;
            return Err(Refusal::TooManyConnections);
        }
        if !self.rate.try_take(now) {
            self.refused_rate += 1;
            return Err(Refusal::RateExceeded);
        }
        self.live += 1;
        self.peak_live = self.peak_live.max(self.live);
        Ok(())
    }

    /// A connection closed (or an admitted connect was abandoned).
    pub fn close(&mut self) {
        debug_assert!(self.live > 0);
        self.live -= 1;
    }

    /// Open connections now.
    pub fn live(&self) -> u32 {
        self.live
    }

    /// Most open connections at once.
    pub fn peak_live(&self) -> u32 {
        self.peak_live
    }

    /// Connection attempts that reached the cluster.
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// Attempts per simulated second, index = second.
    pub fn attempts_by_second(&self) -> &[u32] {
        &self.attempts_by_second
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MILLISECOND;

    #[test]
    fn refuses_over_connection_limit() {
        let mut c = Cluster::new(
            ClusterConfig {
                max_connections: 2,
                ..Default::default()
            },
            10 * SECOND,
        )
        .unwrap();
        assert!(c.connect(0).is_ok());
        assert!(c.connect(0).is_ok());
        assert_eq!(c.connect(0), Err(Refusal::TooManyConnections));
        c.close();
        assert!(c.connect(0).is_ok());
        assert_eq!((c.live(), c.peak_live(), c.attempts()), (2, 2, 4));
    }

    #[test]
    fn refuses_over_connect_rate_after_burst() {
        let mut c = Cluster::new(
            ClusterConfig {
                max_connections: 10_000,
                connect_rate: 100.0,
                connect_burst: 1000,
                ..Default::default()
            },
            10 * SECOND,
        )
        .unwrap();
        for _ in 0..1000 {
            assert!(c.connect(0).is_ok());
        }
        assert_eq!(c.connect(0), Err(Refusal::RateExceeded));
        assert!(c.connect(10 * MILLISECOND).is_ok(), "one token per 10 ms");
        assert_eq!(c.attempts_by_second()[0], 1002);
        assert_eq!(c.refused_rate, 1);
    }
}
