//! The driver (src/model/driver.rs) on its own: one open through every stage
//! (lease, the process's one limiter, IAM token, connect), with the instant
//! each step ends and what it leaves behind (leases, cluster connections,
//! counters). The startup stagger belongs to the process and is tested with
//! the pools (tests/plain_pool.rs, tests/fidelity.rs).

use poolsim::engine::{RngStreams, SimRng, StreamId, Time, MILLISECOND, SECOND};
use poolsim::model::dist::DurationDist;
use poolsim::model::driver::{
    Driver, GlobalLimiter, OpenAttempt, ProcessLimiter, Progress, Shared, Stage,
};
use poolsim::model::dsql_cluster::{Cluster, ClusterConfig};
use poolsim::model::dynamodb::DynamoConfig;
use poolsim::model::lease_table::{LeaseConfig, LeaseTable};
use poolsim::model::limiter::{FixedWindowLimiter, PerSecondLimiter, TokenBucket};
use poolsim::model::refiller::RefillFailure;

const MS: Time = MILLISECOND;

fn rng(k: u32) -> SimRng {
    RngStreams::new(1).stream(StreamId::new(3, k, 1))
}

fn driver(token_failure_rate: f64) -> Driver {
    Driver::new(DurationDist::Fixed(20 * MS), token_failure_rate, rng(0))
}

struct World {
    limiter: ProcessLimiter,
    global: Option<GlobalLimiter>,
    leases: Option<LeaseTable>,
    cluster: Cluster,
    dynamo: DynamoConfig,
    dynamo_rng: SimRng,
    jitter_rng: SimRng,
}

impl World {
    fn new() -> Self {
        World {
            limiter: ProcessLimiter::None,
            global: None,
            leases: None,
            cluster: Cluster::new(ClusterConfig::default(), 100 * SECOND).unwrap(),
            dynamo: DynamoConfig::default(),
            dynamo_rng: rng(7),
            jitter_rng: rng(9),
        }
    }
    /// The process uses the cluster-wide limiter `g`.
    fn shared_limiter(mut self, g: GlobalLimiter) -> Self {
        self.limiter = ProcessLimiter::Shared;
        self.global = Some(g);
        self
    }
    fn shared(&mut self) -> Shared<'_> {
        Shared {
            limiter: &mut self.limiter,
            global: &mut self.global,
            leases: &mut self.leases,
            cluster: &mut self.cluster,
            dynamo: &self.dynamo,
            dynamo_rng: &mut self.dynamo_rng,
            jitter_rng: &mut self.jitter_rng,
        }
    }
}

/// Advance `a` at `now`, then at every instant it asks to wait until, as
/// the world does; returns the final progress and the instants it waited at.
fn drive(d: &mut Driver, a: &mut OpenAttempt, w: &mut World, now: Time) -> (Progress, Vec<Time>) {
    let mut waits = vec![];
    let mut t = now;
    loop {
        match d.advance(a, t, &mut w.shared()) {
            Progress::WaitUntil(at) => {
                assert!(at >= t, "a wait never goes back in time");
                assert!(waits.len() < 1000, "no end");
                waits.push(at);
                t = at;
            }
            other => return (other, waits),
        }
    }
}

#[test]
fn an_open_with_nothing_in_the_way_connects_at_once() {
    let mut w = World::new();
    let mut d = driver(0.0);
    let mut a = OpenAttempt::new(5 * MS, 5 * MS + 30 * SECOND, false);
    assert_eq!(a.stage, Stage::Lease);
    let (p, waits) = drive(&mut d, &mut a, &mut w, 5 * MS);
    assert_eq!(p, Progress::Connecting { done_at: 25 * MS });
    assert!(waits.is_empty());
    assert_eq!(d.stats.connects, 1);
    assert_eq!((d.stats.limiter_waits, d.stats.limiter_wait_ns), (0, 0));
    assert_eq!(w.cluster.live(), 1, "admitted at once");
    assert_eq!(w.cluster.attempts(), 1);
}

#[test]
fn leases_are_taken_and_kept_on_failure_for_the_caller_to_give_back() {
    let mut w = World::new();
    w.leases = Some(LeaseTable::new(LeaseConfig { limit: 1 }));
    let mut d = driver(0.0);
    let mut a = OpenAttempt::new(0, 30 * SECOND, true);
    assert!(matches!(
        drive(&mut d, &mut a, &mut w, 0).0,
        Progress::Connecting { .. }
    ));
    assert!(a.lease_held);
    assert_eq!(w.leases.as_ref().unwrap().active(), 1);
    // The table is full: the next open fails at once, holding nothing.
    let mut b = OpenAttempt::new(0, 30 * SECOND, true);
    assert_eq!(
        drive(&mut d, &mut b, &mut w, 0).0,
        Progress::Failed {
            why: RefillFailure::LeaseAcquire,
            at: 0
        }
    );
    assert!(!b.lease_held);
    assert_eq!(w.leases.as_ref().unwrap().denied, 1);
    // A failure after the lease gives it back: the cluster refuses.
    let mut w = World::new();
    w.leases = Some(LeaseTable::new(LeaseConfig { limit: 5 }));
    w.cluster = Cluster::new(
        ClusterConfig {
            max_connections: 1,
            ..ClusterConfig::default()
        },
        100 * SECOND,
    )
    .unwrap();
    assert!(w.cluster.connect(0).is_ok());
    let mut c = OpenAttempt::new(0, 30 * SECOND, true);
    assert_eq!(
        drive(&mut d, &mut c, &mut w, 0).0,
        Progress::Failed {
            why: RefillFailure::ConnectionOpen,
            at: 20 * MS
        },
        "a refused connect is known when it would have completed"
    );
    // The lease stays held: giving it back is the caller's own DynamoDB
    // call (which may fail), not the driver's.
    assert!(c.lease_held);
    let l = w.leases.as_ref().unwrap();
    assert_eq!((l.active(), l.acquired, l.released), (1, 1, 0));
    // Plain-pool opens take no lease at all.
    let mut e = OpenAttempt::new(0, 30 * SECOND, false);
    drive(&mut d, &mut e, &mut w, 0);
    assert!(!e.lease_held);
    assert_eq!(w.leases.as_ref().unwrap().acquired, 1);
}

#[test]
fn the_processs_token_bucket_makes_opens_wait_and_counts_the_wait() {
    let mut w = World::new();
    // 10/s, burst 1: the second open waits 100 ms.
    w.limiter = ProcessLimiter::Local(TokenBucket::new(10.0, 1).unwrap());
    let mut d = driver(0.0);
    let mut a = OpenAttempt::new(0, 30 * SECOND, false);
    assert!(matches!(
        drive(&mut d, &mut a, &mut w, 0).0,
        Progress::Connecting { .. }
    ));
    assert_eq!(d.stats.limiter_waits, 0);
    let mut b = OpenAttempt::new(30 * MS, 30 * SECOND, false);
    let (p, waits) = drive(&mut d, &mut b, &mut w, 30 * MS);
    assert_eq!(waits, vec![100 * MS]);
    assert_eq!(p, Progress::Connecting { done_at: 120 * MS });
    assert_eq!(d.stats.limiter_waits, 1);
    assert_eq!(d.stats.limiter_wait_ns, 70 * MS);
    // A third that would wait past its deadline fails at once, and its
    // refused reservation costs the next caller nothing.
    let mut c = OpenAttempt::new(130 * MS, 150 * MS, false);
    assert_eq!(
        drive(&mut d, &mut c, &mut w, 130 * MS).0,
        Progress::Failed {
            why: RefillFailure::RateLimit,
            at: 130 * MS
        }
    );
    assert_eq!(d.stats.limiter_waits, 1, "a refusal is not a wait");
    let mut e = OpenAttempt::new(130 * MS, SECOND, false);
    let (_, waits) = drive(&mut d, &mut e, &mut w, 130 * MS);
    assert_eq!(waits, vec![200 * MS]);
    assert_eq!(d.stats.limiter_waits, 2);
    assert_eq!(d.stats.limiter_wait_ns, 70 * MS + 70 * MS);
    assert_eq!(d.stats.connects, 3);
}

#[test]
fn a_process_on_the_cluster_wide_what_if_bucket_waits_on_it_alone() {
    // One limiter per process: the shared bucket (5/s, burst 1) is the only
    // one; the process's own is not consulted.
    let mut w = World::new().shared_limiter(GlobalLimiter::TokenBucket(
        TokenBucket::new(5.0, 1).unwrap(),
    ));
    let mut d = driver(0.0);
    let mut a = OpenAttempt::new(0, 30 * SECOND, false);
    assert!(matches!(
        drive(&mut d, &mut a, &mut w, 0).0,
        Progress::Connecting { .. }
    ));
    let mut b = OpenAttempt::new(0, 30 * SECOND, false);
    let (p, waits) = drive(&mut d, &mut b, &mut w, 0);
    assert_eq!(waits, vec![200 * MS]);
    assert_eq!(p, Progress::Connecting { done_at: 220 * MS });
    assert_eq!(d.stats.limiter_waits, 1, "one open, one wait");
    assert_eq!(d.stats.limiter_wait_ns, 200 * MS);
    // The next token is due at 400 ms, after this deadline: refused at once.
    let mut c = OpenAttempt::new(200 * MS, 250 * MS, false);
    assert_eq!(
        drive(&mut d, &mut c, &mut w, 200 * MS).0,
        Progress::Failed {
            why: RefillFailure::RateLimit,
            at: 200 * MS
        }
    );
    assert_eq!(d.stats.limiter_waits, 1, "a refusal is not a wait");
    // A process with no limiter of its own does not touch the shared one.
    let mut w2 = World::new();
    w2.global = Some(GlobalLimiter::TokenBucket(
        TokenBucket::new(5.0, 1).unwrap(),
    ));
    for _ in 0..3 {
        let mut e = OpenAttempt::new(0, 30 * SECOND, false);
        assert_eq!(
            drive(&mut d, &mut e, &mut w2, 0),
            (Progress::Connecting { done_at: 20 * MS }, vec![])
        );
    }
}

#[test]
fn the_fixed_window_limiter_retries_after_the_boundary_until_the_deadline() {
    let mut w = World::new().shared_limiter(GlobalLimiter::FixedWindow(
        FixedWindowLimiter::new(1).unwrap(),
    ));
    let mut d = driver(0.0);
    let mut a = OpenAttempt::new(0, 30 * SECOND, false);
    assert!(matches!(
        drive(&mut d, &mut a, &mut w, 0).0,
        Progress::Connecting { .. }
    ));
    let mut b = OpenAttempt::new(10 * MS, 30 * SECOND, false);
    let (p, waits) = drive(&mut d, &mut b, &mut w, 10 * MS);
    assert_eq!(waits, vec![1005 * MS]);
    assert_eq!(p, Progress::Connecting { done_at: 1025 * MS });
    assert_eq!(d.stats.limiter_wait_ns, 995 * MS);
    // A retry instant exactly at the deadline is allowed; after it, not.
    let mut c = OpenAttempt::new(1100 * MS, 2005 * MS, false);
    assert_eq!(drive(&mut d, &mut c, &mut w, 1100 * MS).1, vec![2005 * MS]);
    let mut e = OpenAttempt::new(2100 * MS, 3005 * MS - 1, false);
    assert_eq!(
        drive(&mut d, &mut e, &mut w, 2100 * MS).0,
        Progress::Failed {
            why: RefillFailure::RateLimit,
            at: 2100 * MS
        }
    );
}

#[test]
fn the_per_second_limiter_retries_with_jitter_and_gives_up() {
    let mut w =
        World::new().shared_limiter(GlobalLimiter::PerSecond(PerSecondLimiter::new(1).unwrap()));
    let mut d = driver(0.0);
    let mut a = OpenAttempt::new(0, 30 * SECOND, false);
    assert!(matches!(
        drive(&mut d, &mut a, &mut w, 0).0,
        Progress::Connecting { .. }
    ));
    // Denied at 900 ms (under 250 ms from the boundary): retried in
    // [1 s, 1.05 s), granted there.
    let mut b = OpenAttempt::new(900 * MS, 30 * SECOND, false);
    let (p, waits) = drive(&mut d, &mut b, &mut w, 900 * MS);
    assert_eq!(waits.len(), 1);
    assert!((SECOND..1050 * MS).contains(&waits[0]), "{waits:?}");
    assert_eq!(
        p,
        Progress::Connecting {
            done_at: waits[0] + 20 * MS
        }
    );
    assert_eq!(d.stats.limiter_waits, 1);
    assert_eq!(d.stats.limiter_wait_ns, waits[0] - 900 * MS);
    // A caller whose deadline comes before any retry gives up at once.
    let mut c = OpenAttempt::new(1100 * MS, 1110 * MS, false);
    assert_eq!(
        drive(&mut d, &mut c, &mut w, 1100 * MS).0,
        Progress::Failed {
            why: RefillFailure::RateLimit,
            at: 1100 * MS
        }
    );
}

#[test]
fn token_failures_fail_before_the_connect_at_their_rate() {
    let mut w = World::new();
    w.cluster = Cluster::new(
        ClusterConfig {
            connect_burst: 100_000,
            ..ClusterConfig::default()
        },
        100 * SECOND,
    )
    .unwrap();
    let mut d = driver(0.25);
    let mut failed = 0;
    for i in 0..2000 {
        let mut a = OpenAttempt::new(i * MS, i * MS + SECOND, false);
        match d.advance(&mut a, i * MS, &mut w.shared()) {
            Progress::Failed { why, at } => {
                assert_eq!((why, at), (RefillFailure::TokenProvider, i * MS));
                failed += 1;
            }
            Progress::Connecting { done_at } => assert_eq!(done_at, i * MS + 20 * MS),
            other => panic!("{other:?}"),
        }
    }
    // 500 expected, sd 19.
    assert!((405..=595).contains(&failed), "{failed}");
    assert_eq!(
        d.stats.connects,
        2000 - failed,
        "a failed token never connects"
    );
    assert_eq!(w.cluster.attempts(), 2000 - failed);
}

#[test]
fn a_connect_that_outlives_the_deadline_fails_at_the_deadline_and_frees_the_cluster() {
    let mut w = World::new();
    let mut d = driver(0.0);
    // 20 ms connect, deadline 10 ms away.
    let mut a = OpenAttempt::new(0, 10 * MS, false);
    assert_eq!(
        drive(&mut d, &mut a, &mut w, 0).0,
        Progress::Failed {
            why: RefillFailure::ConnectionOpen,
            at: 10 * MS
        }
    );
    assert_eq!(w.cluster.live(), 0, "the admitted connect was abandoned");
    assert_eq!(d.stats.connects, 1, "it reached the cluster");
    // Exactly at the deadline is in time.
    let mut b = OpenAttempt::new(0, 20 * MS, false);
    assert_eq!(
        drive(&mut d, &mut b, &mut w, 0).0,
        Progress::Connecting { done_at: 20 * MS }
    );
    assert_eq!(w.cluster.live(), 1);
    // Refused by the cluster with a deadline before the connect would end:
    // known at the deadline.
    w.cluster = Cluster::new(
        ClusterConfig {
            max_connections: 1,
            ..ClusterConfig::default()
        },
        100 * SECOND,
    )
    .unwrap();
    assert!(w.cluster.connect(0).is_ok());
    let mut c = OpenAttempt::new(0, 5 * MS, false);
    assert_eq!(
        drive(&mut d, &mut c, &mut w, 0).0,
        Progress::Failed {
            why: RefillFailure::ConnectionOpen,
            at: 5 * MS
        }
    );
}

#[test]
fn connect_latencies_are_the_drivers_own_draws_and_no_token_draw_without_failures() {
    // With token_failure_rate 0 the driver draws only connect latencies,
    // one per connect, from its stream: the n-th connect takes the n-th draw.
    let dist = DurationDist::Exponential { mean: 20 * MS };
    let mut d = Driver::new(dist, 0.0, rng(4));
    let mut expected = rng(4);
    let mut w = World::new();
    for i in 0..50 {
        let now = i * SECOND;
        let mut a = OpenAttempt::new(now, now + 30 * SECOND, false);
        let want = dist.sample(&mut expected);
        assert_eq!(
            d.advance(&mut a, now, &mut w.shared()),
            Progress::Connecting {
                done_at: now + want
            },
            "connect {i}"
        );
    }
    // With failures on, each connect first draws its token.
    let mut d = Driver::new(dist, 0.5, rng(4));
    let mut a = OpenAttempt::new(0, 30 * SECOND, false);
    let p = d.advance(&mut a, 0, &mut w.shared());
    assert_ne!(
        p,
        Progress::Connecting {
            done_at: dist.sample(&mut rng(4))
        }
    );
}
