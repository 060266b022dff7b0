//! The production paths of the connection design that earlier versions of
//! the model got wrong, one test each (the production code: iw/temporal,
//! `common/persistence/sql/sqlplugin/dsql/` and `sqlplugin/db_handle.go`).
//!
//! Every expected value is derived in the comment above its assertion.
//! Common facts: `staggered_startup: false` lets the first connect start at
//! 0; connects take a fixed 20 ms; the initial fill is checked every 100 ms.

mod common;
use common::{invalid, scenario};
use poolsim::engine::{RngStreams, StreamId, Time, MILLISECOND, SECOND};
use poolsim::metrics::PoolSummary;
use poolsim::model::stream_kind;
use poolsim::model::world::{simulate_checked, Observations};
use rand::Rng;

/// Run with invariants checked every 100 ms of simulated time.
fn checked(yaml: &str) -> Observations {
    let sc = scenario(yaml);
    simulate_checked(&sc.world, Some(100 * MILLISECOND)).expect("invariants hold")
}

fn pool(obs: &Observations, i: usize) -> PoolSummary {
    PoolSummary::new(obs, i)
}

/// The last sample of pool `i`.
fn last(obs: &Observations, i: u32) -> poolsim::model::world::SampleRow {
    *obs.samples.iter().rev().find(|r| r.pool == i).unwrap()
}

// ---------------------------------------------------------------------------
// One limiter per process
// ---------------------------------------------------------------------------

#[test]
fn the_distributed_limiter_replaces_the_local_bucket() {
    // 200 connections to fill, one open at a time (the refiller), 20 ms each.
    // With the distributed limiter at 1,000/s alone, nothing waits: the fill
    // ends when the 200th connect completes, at 200 x 20 ms = 4.0 s. The
    // check due at 4.0 s was scheduled (at 3.9 s) before that connect's
    // completion (at 3.98 s), so it runs first and sees 199; the one at
    // 4.1 s sees 200. With the local bucket (10/s, burst 100) in series, as
    // before, the last 100 would come at 10/s: 10 s more.
    let obs = checked(
        "duration: 10s
global_rate_limit: 1000
pools:
  - name: a
    target_size: 200
    staggered_startup: false
    reservoir: {enabled: true}
",
    );
    assert_eq!(obs.pools[0].serving_since, Some(4_100 * MILLISECOND));
    assert_eq!(pool(&obs, 0).limiter_waits, 0);
}

#[test]
fn a_local_bucket_beside_the_distributed_limiter_is_refused() {
    let e = invalid(
        "global_rate_limit: 100
local_rate_limit: 10
pools:
  - name: a
    target_size: 5
",
    );
    assert!(
        e.contains("local_rate_limit: does not apply when global_rate_limit is set"),
        "{e}"
    );
    let e = invalid(
        "global_rate_limit: 100
pools:
  - name: a
    target_size: 5
    local_rate_limit_burst: 3
",
    );
    assert!(e.contains("pools[0].local_rate_limit_burst"), "{e}");
}

#[test]
fn the_cluster_wide_token_bucket_is_only_a_named_what_if() {
    let e = invalid(
        "global_rate_limit: 100
global_rate_limiter: token_bucket
pools:
  - name: a
    target_size: 5
",
    );
    assert!(e.contains("what_if_token_bucket"), "{e}");
    // The what-if still runs: behind a cluster-wide bucket of 100/s with
    // burst 1, a token is due 10 ms after the previous one, and the refiller
    // asks for one every 20 ms (one open at a time): no open waits. The 50th
    // connect completes at 1.0 s, after the check due then (scheduled
    // first): serving at 1.1 s.
    let obs = checked(
        "duration: 5s
global_rate_limit: 100
global_rate_limiter: what_if_token_bucket
pools:
  - name: a
    target_size: 50
    staggered_startup: false
    reservoir: {enabled: true}
",
    );
    assert_eq!(obs.pools[0].serving_since, Some(1_100 * MILLISECOND));
    assert_eq!(pool(&obs, 0).limiter_waits, 0);
}

// ---------------------------------------------------------------------------
// Leases: reservoir mode only
// ---------------------------------------------------------------------------

#[test]
fn the_plain_pool_takes_no_lease() {
    // A lease limit of 3 caps the reservoir at 3 connections (the other
    // acquires are refused: lease_acquire), but the plain pool's
    // token-refreshing driver takes no lease: it opens all 10.
    let yaml = |reservoir: &str| {
        format!(
            "duration: 10s
lease_table: {{limit: 3}}
pools:
  - name: a
    target_size: 10
    staggered_startup: false
    reservoir: {reservoir}
"
        )
    };
    let obs = checked(&yaml("{enabled: true}"));
    let r = last(&obs, 0);
    assert_eq!(r.open, 3);
    assert!(pool(&obs, 0).refill_failures["lease_acquire"] > 0);
    assert_eq!(obs.cluster_samples.last().unwrap().leases, 3);

    let obs = checked(&yaml("{enabled: false}"));
    let p = pool(&obs, 0);
    // Ping (1) + warmup (9, the first reusing the pinged connection) = 9
    // open; no lease is ever taken.
    assert_eq!(last(&obs, 0).open, 9);
    assert_eq!(p.refill_failures["lease_acquire"], 0);
    assert!(obs.cluster_samples.iter().all(|c| c.leases == 0));
}

// ---------------------------------------------------------------------------
// Every open runs under the driver's own 30 s context
// ---------------------------------------------------------------------------

#[test]
fn a_plain_pool_open_outlives_the_requests_deadline() {
    // Plain pool of 3, no warmup: the ping opens the first connection at 0
    // (its token is the bucket's only one; done at 20 ms). The bucket then
    // gives one token per second. Requests arrive every 100 ms from 100 ms
    // and hold 10 s; each has a 250 ms deadline.
    // - 100 ms: takes the idle pinged connection.
    // - 200 ms: opens its own connection: the token is due at 1 s. Before,
    //   the limiter refused at once (the wait passed the request's
    //   deadline: open_failed). Now the open waits under its own 30 s
    //   context, connects at 1.02 s, and the request, whose deadline passed
    //   at 450 ms, fails then (deadline); the connection goes to the pool.
    // - 300 ms: MaxOpen 3 reached (1 held, 2 opening or open): it waits in
    //   database/sql's queue and gets the connection released at 1.02 s?
    //   No: at 1.02 s the 200 ms request fails and puts its connection back;
    //   the queued 300 ms request's deadline (550 ms) has passed and it was
    //   removed at 550 ms (deadline).
    let obs = checked(
        "duration: 1500ms
local_rate_limit: 1
local_rate_limit_burst: 1
pool: {warmup: false, keeper: false, request_timeout: 250ms}
workload:
  type: constant
  checkout_rate: 10
  arrival: uniform
  hold_duration: 10s
pools:
  - name: a
    target_size: 3
    staggered_startup: false
",
    );
    let p = pool(&obs, 0);
    assert_eq!(p.failures_by_cause["open_failed"], 0);
    assert_eq!(p.refill_failures["rate_limit"], 0);
    assert!(p.failures_by_cause["deadline"] >= 1);
    assert!(p.opens >= 2, "the late open still created its connection");
}

// ---------------------------------------------------------------------------
// Startup: the fill timeout follows the stagger; both modes ping
// ---------------------------------------------------------------------------

#[test]
fn the_initial_fill_timeout_counts_from_the_end_of_the_stagger() {
    // The instance sleeps its stagger U[0, 5 s) (drawn from the startup
    // stream of its first pool), then fills. One token per second after a
    // burst of 1 cannot reach a low watermark of 50 within the 1 s timeout,
    // so the fill gives up exactly 1 s after the stagger (checks every 100 ms
    // from its start). Before, the timeout counted from 0.
    let stagger: Time = RngStreams::new(4)
        .stream(StreamId::new(stream_kind::DRIVER, 0, 0))
        .random_range(0..5 * SECOND);
    assert!(stagger > SECOND, "seed 4 staggers by {stagger} ns");
    let obs = checked(
        "seed: 4
duration: 10s
local_rate_limit: 1
local_rate_limit_burst: 1
pools:
  - name: a
    target_size: 50
    reservoir: {enabled: true, initial_fill_timeout: 1s}
",
    );
    assert_eq!(obs.pools[0].serving_since, Some(stagger + SECOND));
    assert!(obs.pools[0].fill_timed_out);
}

#[test]
fn the_database_sql_stack_pings_at_startup() {
    // The ping takes one connection from the reservoir and leaves it idle in
    // database/sql; the refiller replaces it: 10 ready + 1 idle = 11.
    let obs = checked(
        "duration: 10s
pools:
  - name: a
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true, stack: database_sql}
",
    );
    let r = last(&obs, 0);
    assert_eq!((r.ready, r.idle, r.open), (10, 1, 11));
}

#[test]
fn the_plain_pool_pings_then_warms_up_max_open_minus_one() {
    // Ping: one open (20 ms), left idle. Warmup: needed = 10 - 1 = 9; its
    // first db.Conn takes the idle pinged connection, the other 8 open new
    // ones one after the other: 9 open at the end, ready at 20 + 8 x 20 =
    // 180 ms. The keeper (db.Conn + SELECT 1 + Close) reuses a free
    // connection and never grows the idle pool back to 10.
    let obs = checked(
        "duration: 10s
pools:
  - name: a
    target_size: 10
    staggered_startup: false
",
    );
    assert_eq!(obs.pools[0].serving_since, Some(180 * MILLISECOND));
    assert_eq!(obs.pools[0].counters.warmup.created, 9);
    assert_eq!(last(&obs, 0).open, 9);
}

// ---------------------------------------------------------------------------
// The rebuild after a lost connection
// ---------------------------------------------------------------------------

/// database/sql (MaxOpen 10) over a reservoir of 2 refilled at 1/s: requests
/// soon find it empty, database/sql's three `Open()`s fail (`ErrBadConn`),
/// the request fails `no_connection`, and the handle rebuilds.
fn rebuild_yaml(fix: bool) -> String {
    format!(
        "duration: 20s
local_rate_limit: 1
local_rate_limit_burst: 2
lease_table: {{limit: 1000}}
pool_rebuild: {{stop_old_refiller: {fix}}}
workload:
  type: constant
  checkout_rate: 20
  arrival: uniform
  hold_duration: 400ms
pools:
  - name: a
    target_size: 10
    staggered_startup: false
    reservoir: {{enabled: true, stack: database_sql, target_ready: 2, low_watermark: 2}}
"
    )
}

#[test]
fn a_lost_connection_rebuilds_the_pool_and_leaks_the_old_refiller() {
    let obs = checked(&rebuild_yaml(false));
    let p = pool(&obs, 0);
    assert!(p.failures_by_cause["no_connection"] > 0);
    assert!(p.lost_connections > 0);
    assert!(p.rebuilds > 0);
    // Every connect built a new reservoir and refiller; every sql.DB but
    // the serving one (if the handle ends with one) was closed, and their
    // refillers run on: one leaked refiller per connect after the first,
    // or per connect when the last one was closed too.
    let connects = p.rebuilds + 1;
    assert!(
        (connects - 1..=connects).contains(&u64::from(p.leaked_refillers)),
        "{} leaked refillers for {connects} connects",
        p.leaked_refillers
    );
    assert!(p.leaked_connections > 0);
    // Their connections hold leases: every leaked connection is counted in
    // the lease counter, which is also above the leased connections by the
    // opens under way (at most one per refiller), never released.
    let c = obs.cluster_samples.last().unwrap();
    assert!(c.leased_conns >= p.leaked_connections);
    assert!(c.leases >= c.leased_conns && c.leases <= c.leased_conns + p.leaked_refillers + 1);
    assert_eq!(obs.leases_lost, 0);
}

#[test]
fn the_fixed_rebuild_stops_the_old_refiller() {
    let obs = checked(&rebuild_yaml(true));
    let p = pool(&obs, 0);
    assert!(p.rebuilds > 0);
    assert_eq!(p.leaked_refillers, 0);
    assert_eq!(p.leaked_connections, 0);
    assert!(obs.samples.iter().all(|r| r.leaked == 0));
}

#[test]
fn rebuilds_are_throttled_to_one_a_second() {
    let obs = checked(&rebuild_yaml(false));
    let p = pool(&obs, 0);
    // Lost connections come in bursts (every request of the burst fails the
    // same way); only one connect per second may start.
    assert!(p.rebuilds_throttled > 0);
    assert!(p.rebuilds <= 20, "{} rebuilds in 20 s", p.rebuilds);
}

#[test]
fn without_the_rebuild_model_a_lost_connection_is_only_counted() {
    let yaml = rebuild_yaml(false).replace(
        "pool_rebuild: {stop_old_refiller: false}",
        "pool_rebuild: {enabled: false}",
    );
    let obs = checked(&yaml);
    let p = pool(&obs, 0);
    assert!(p.lost_connections > 0);
    assert_eq!((p.rebuilds, p.leaked_refillers), (0, 0));
}

// ---------------------------------------------------------------------------
// The checkout latency metric is the driver's Open()
// ---------------------------------------------------------------------------

#[test]
fn checkout_latency_is_the_reservoir_drivers_open_not_the_requests_wait() {
    // MaxOpen 2 with 10 requests/s holding 500 ms: requests queue in
    // database/sql (wait_ms > 0), but every Open() on the full reservoir is
    // an immediate TryCheckout hit: checkout latency 0.
    let obs = checked(
        "duration: 10s
pool: {request_timeout: 5s}
workload:
  type: constant
  checkout_rate: 10
  arrival: uniform
  hold_duration: 500ms
pools:
  - name: a
    target_size: 2
    staggered_startup: false
    reservoir: {enabled: true, stack: database_sql}
",
    );
    let p = pool(&obs, 0);
    assert!(p.wait_ms.p99 > 0.0);
    assert_eq!(p.checkout_latency_ms.max, 0.0);
    assert!(obs.pools[0].open_latency.len() >= 2);
}

// ---------------------------------------------------------------------------
// DynamoDB latency and failures
// ---------------------------------------------------------------------------

#[test]
fn lease_calls_take_dynamodb_latency() {
    // Each refill: lease acquire (50 ms) then connect (20 ms): 70 ms. The
    // 10th connection is ready at 700 ms, after the check due then
    // (scheduled first): serving at 800 ms.
    let obs = checked(
        "duration: 5s
lease_table: {limit: 100}
dynamodb: {latency: 50ms}
pools:
  - name: a
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true}
",
    );
    assert_eq!(obs.pools[0].serving_since, Some(800 * MILLISECOND));
}

#[test]
fn failed_dynamodb_calls_fail_acquires_and_leak_releases() {
    // A failed acquire is a lease_acquire refill failure; a failed release
    // leaves the counter one too high for good (leases_lost), so the
    // counter ends above the connections that hold a lease by exactly that.
    let obs = checked(
        "duration: 60s
lease_table: {limit: 100000}
dynamodb: {failure_rate: 0.3}
workload: {type: constant, checkout_rate: 50, hold_duration: 50ms}
pools:
  - name: a
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true}
",
    );
    let p = pool(&obs, 0);
    assert!(p.refill_failures["lease_acquire"] > 0);
    let c = obs.cluster_samples.last().unwrap();
    assert!(obs.leases_lost > 0);
    assert_eq!(
        u64::from(c.leases),
        u64::from(c.leased_conns) + obs.leases_lost
    );
}

#[test]
fn a_failed_limiter_call_fails_the_open_at_once() {
    let obs = checked(
        "duration: 20s
global_rate_limit: 1000
dynamodb: {failure_rate: 0.5}
pools:
  - name: a
    target_size: 20
    staggered_startup: false
    reservoir: {enabled: true}
",
    );
    let p = pool(&obs, 0);
    // Half the limiter calls fail (each a rate_limit refill failure), yet
    // the reservoir fills: the refiller retries after 250 ms.
    assert!(p.refill_failures["rate_limit"] > 0);
    assert_eq!(last(&obs, 0).ready, 20);
}

// ---------------------------------------------------------------------------
// Task 5's paced refiller
// ---------------------------------------------------------------------------

#[test]
fn the_paced_refiller_sleeps_50_ms_between_opens_below_the_watermark() {
    // Paced: each open (20 ms) is followed by a 50 ms sleep below the low
    // watermark: the k-th connection is ready at (k - 1) x 70 + 20 ms; the
    // 10th at 650 ms, seen by the check at 700 ms. Continuous: the 10th at
    // 200 ms, after the check due then (scheduled first): 300 ms.
    let yaml = |refill: &str| {
        format!(
            "duration: 5s
pools:
  - name: a
    target_size: 10
    staggered_startup: false
    reservoir: {{enabled: true, refill: {refill}}}
"
        )
    };
    let paced = checked(&yaml("paced"));
    assert_eq!(paced.pools[0].serving_since, Some(700 * MILLISECOND));
    let cont = checked(&yaml("continuous"));
    assert_eq!(cont.pools[0].serving_since, Some(300 * MILLISECOND));
}
