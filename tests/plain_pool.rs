//! End-to-end behaviour of the plain pool (DOMAIN.md section 7: Go's
//! database/sql over the rate-limited driver, with the production warmup and
//! keeper) and of the wiring around it (server 60-minute limit, the
//! `database_sql` and `direct` reservoir stacks, `measure_after`, determinism).
//!
//! Every expected value is derived from the model in the comment above the
//! assertion. Common facts used throughout:
//!
//! - `staggered_startup: false`: the process connects its pool at 0.
//! - `connect_latency` defaults to a fixed 20 ms; the instance's own token
//!   bucket defaults to 10/s with burst 100 (starts full), so fewer than 100
//!   connects in a burst never wait on it.
//! - The connect of a plain pool (production plugin.go): `db.Ping()` opens
//!   one connection (through the limiter) and leaves it idle; the warmup then
//!   makes `needed = MaxOpen - 1` `db.Conn` calls, the first of which takes
//!   the idle pinged connection: MaxOpen - 1 connections in all, MaxOpen - 2
//!   of them opened by the warmup. Then the keeper starts (first tick one
//!   period later) and the pool takes traffic. With `warmup: false` the ping
//!   still happens. Requests that arrive before are refused
//!   (`rejected_before_ready`).
//! - The keeper's creation is `db.Conn` + `SELECT 1` + `Conn.Close()`: with a
//!   free connection on the list it opens nothing, so a warmed, idle pool
//!   stays at MaxOpen - 1 connections.
//! - `arrival: uniform` at rate r puts arrivals at k/r for k = 1, 2, ... (the
//!   first one a full gap after 0), up to and including `duration`.
//! - Events at the same instant run in the order they were scheduled.

mod common;
use common::scenario;
use poolsim::engine::{RngStreams, StreamId, Time, MILLISECOND, SECOND};
use poolsim::metrics::PoolSummary;
use poolsim::model::refiller::RefillFailure;
use poolsim::model::stream_kind;
use poolsim::model::world::{simulate_checked, FailCause, Observations, SampleRow, Stack};
use poolsim::run::RunOutput;
use rand::Rng;

/// None of these scenarios loses a connection in a way that makes the
/// handle rebuild its `sql.DB` (`ConvertError` -> `reconnect`): every pool
/// connects once, and no request fails `unavailable`.
fn assert_no_rebuild(obs: &Observations) {
    for (i, p) in obs.pools.iter().enumerate() {
        let c = &p.counters;
        assert_eq!(
            (
                c.lost_connections,
                c.rebuilds,
                c.rebuilds_throttled,
                c.connect_failures,
                c.failed[FailCause::Unavailable as usize],
            ),
            (0, 0, 0, 0, 0),
            "pool {i} lost connections, rebuilt or was unavailable"
        );
    }
}

/// Parse and run (checking that nothing rebuilt).
fn run(yaml: &str) -> RunOutput {
    let o = common::run(yaml);
    assert_no_rebuild(&o.observations);
    o
}

fn pool0(o: &RunOutput) -> &PoolSummary {
    &o.summary.pools[0]
}

/// Run with invariants checked every `step` of simulated time; the summary of pool 0.
fn checked(yaml: &str, step: Time) -> (Observations, PoolSummary) {
    let sc = scenario(yaml);
    let obs = simulate_checked(&sc.world, Some(step)).expect("invariants hold");
    assert_no_rebuild(&obs);
    let p = PoolSummary::new(&obs, 0);
    (obs, p)
}

/// The sample of pool 0 at `t`.
fn sample_at(obs: &Observations, t: Time) -> SampleRow {
    *obs.samples
        .iter()
        .find(|r| r.pool == 0 && r.t == t)
        .unwrap_or_else(|| panic!("no sample at {t}"))
}

fn cause(p: &PoolSummary, c: &str) -> u64 {
    p.failures_by_cause[c]
}

fn closes(p: &PoolSummary, c: &str) -> u64 {
    p.closes[c]
}

// ---------------------------------------------------------------------------
// 1. Warmup
// ---------------------------------------------------------------------------

#[test]
fn warmup_creates_49_connections_sequentially_before_serving() {
    // target 50. The ping opens c0 at 0 (bucket token at once), done at
    // 20 ms, and leaves it idle. Warmup: needed = 50 - 1 = 49; 50 <= 100:
    // stagger 0, no pause between connections. Each one is a request-like
    // `db.Conn`: the first takes the idle c0 at 20 ms; the next 48 find the
    // free list empty (warmed connections are held until the warmup ends),
    // numOpen < MaxOpen, so each opens: bucket token at once (49 < burst
    // 100), 20 ms connect, and the next starts at that instant. Connection k
    // (0-based, c0 the pinged one) is done at (k+1) x 20 ms: the last (k =
    // 48) at 980 ms, when the pool serves.
    //
    // Arrivals every 100 ms from 0.1 s: 0.1 .. 0.9 s refused (9), 1.0 ..
    // 3.0 s served (21), all from the 49 idle connections.
    let o = run("
duration: 3s
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 10ms}
pools:
  - name: p
    target_size: 50
    staggered_startup: false
");
    let p = pool0(&o);
    assert_eq!(p.stack, "pool");
    assert_eq!(
        o.observations.pools[0].serving_since,
        Some(980 * MILLISECOND)
    );
    assert_eq!(p.serving_since_s, Some(0.98));
    assert_eq!(p.rejected_before_ready, 9);
    assert_eq!(p.requests, 21);
    assert_eq!(p.opens, 49);
    assert_eq!(p.connects, 49);
    assert_eq!(p.limiter_waits, 0, "49 connects fit in the burst of 100");
    // The warmup counts the reused pinged connection as created.
    let w = o.observations.pools[0].counters.warmup;
    assert_eq!((w.created, w.failed, w.retries), (49, 0, 0));
    // The first sample (t = 0) runs after the process started (scheduled
    // first) but before the ping's connect is done: no connection yet, no traffic.
    let s = sample_at(&o.observations, 0);
    assert_eq!((s.open, s.serving), (0, false));
    // The keeper (ticks at 1.98, 2.98 s) finds 49 < 50 open and takes an
    // idle connection: still 49 at the end, none opened after the warmup.
    let last = o.observations.samples.last().unwrap();
    assert_eq!((last.open, last.idle), (49, 49));
    assert_eq!(o.observations.pools[0].counters.keeper.topups, 2);
    assert_eq!(p.hits, 21);
    assert_eq!(p.failures, 0);
}

#[test]
fn warmup_sample_shows_held_connections_before_serving() {
    // Same warmup, sampled every 100 ms. Sequential creation: connection j
    // (c0 the pinged one) is done at (j+1) x 20 ms, so 5k are done by
    // k x 100 ms. The sample at k x 100 ms was scheduled at (k-1) x 100 ms,
    // the completion at that same instant was scheduled when its connect
    // started, 20 ms before: the sample runs first and sees 5k - 1
    // connections, all in use (held by the warmup until it ends; c0 left
    // the free list at 20 ms), none idle, not serving.
    let o = run("
duration: 2s
sample_every: 100ms
pools:
  - name: p
    target_size: 50
    staggered_startup: false
");
    for k in 1..=9u64 {
        let s = sample_at(&o.observations, k * 100 * MILLISECOND);
        assert_eq!(
            (s.open, s.in_use, s.idle, s.serving),
            (5 * k as u32 - 1, 5 * k as u32 - 1, 0, false),
            "sample at {k}00 ms"
        );
    }
    // The warmup ends at 980 ms with 49 connections: from the 1.0 s sample
    // on, all 49 are idle and the pool serves.
    for k in 10..=20u64 {
        let s = sample_at(&o.observations, k * 100 * MILLISECOND);
        assert_eq!(
            (s.open, s.in_use, s.idle, s.serving),
            (49, 0, 49, true),
            "sample at {k}00 ms"
        );
    }
}

#[test]
fn warmup_through_a_1_per_100ms_token_bucket() {
    // local_rate_limit 10/s burst 1: the bucket starts with 1 token. The
    // ping takes it at 0: c0 done at 20 ms. The warmup's first db.Conn
    // takes c0 at 20 ms; its second opens and asks at 20 ms: balance
    // 0 + 0.2 - 1 = -0.8 token, due in 80 ms -> 100 ms, done 120 ms. The
    // next asks at 120 ms: -0.8 + 1.0 - 1 = -0.8 again -> due 200 ms, done
    // 220 ms. So the k-th opened by the warmup (k = 1..48) connects at
    // k x 100 ms and is done at k x 100 ms + 20 ms: the last at 4.82 s.
    // 48 connects waited on the limiter, 80 ms each.
    //
    // Arrivals every 100 ms: 0.1 .. 4.8 s refused (48), 4.9 .. 6.0 s served (12).
    let o = run("
duration: 6s
local_rate_limit: 10
local_rate_limit_burst: 1
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 10ms}
pools:
  - name: p
    target_size: 50
    staggered_startup: false
");
    let p = pool0(&o);
    assert_eq!(
        o.observations.pools[0].serving_since,
        Some(4820 * MILLISECOND)
    );
    assert_eq!(p.opens, 49);
    assert_eq!(p.limiter_waits, 48);
    assert_eq!(
        o.observations.pools[0].counters.driver.limiter_wait_ns,
        48 * 80 * MILLISECOND
    );
    assert_eq!(p.rejected_before_ready, 48);
    assert_eq!(p.requests, 12);
    assert_eq!(p.hits, 12);
    // One connect per 100 ms (the ping's at 0): 10 in each of the first 4 seconds.
    assert_eq!(&o.observations.connects_per_second[..4], &[10; 4]);
    assert_eq!(o.summary.max_connects_per_sec, 10);
}

#[test]
fn warmup_of_200_connections_is_spread_over_2_minutes() {
    // target 200 (100 < 200 <= 500): stagger 2 min, chosen from the pool
    // size. The ping makes c0 (done at 20 ms); the warmup needs 199 and
    // spreads them over 198 pauses of 120 s / 198 = 606_060_606 ns (integer
    // division), each between one connection's end and the next one's
    // start. Connection 0 takes the idle c0 at 20 ms; connection i >= 1
    // starts at 20 ms + i x pause + (i - 1) x 20 ms and ends 20 ms later,
    // at 20 ms + i x (pause + 20 ms). The bucket refills 6 tokens per
    // pause, so no connect waits. The last (i = 198) ends at
    // 20 ms + 198 x 626_060_606 ns = 123.979999988 s.
    let pause: Time = 120 * SECOND / 198;
    assert_eq!(pause, 606_060_606);
    let end = 20 * MILLISECOND + 198 * (pause + 20 * MILLISECOND);
    assert_eq!(end, 123_979_999_988);
    let (obs, p) = checked(
        "
duration: 2m10s
pools:
  - name: p
    target_size: 200
    staggered_startup: false
",
        10 * SECOND,
    );
    assert_eq!(obs.pools[0].serving_since, Some(end));
    assert_eq!(p.serving_since_s, Some(end as f64 / 1e9));
    assert_eq!(p.opens, 199);
    assert_eq!(p.limiter_waits, 0);
    // At 60 s: connection i is done at 20 ms + i x 626.060606 ms <= 60 s
    // for i <= 95: 96 connections, all held by the warmup, not serving.
    let s = sample_at(&obs, 60 * SECOND);
    assert_eq!((s.open, s.in_use, s.idle, s.serving), (96, 96, 0, false));
    // Never more than 2 connects in one second (one per 626 ms; the first
    // second has the ping's at 0 and connection 1's at 626 ms).
    assert_eq!(obs.connects_per_second.iter().max(), Some(&2));
    assert_eq!(obs.connects_per_second[0], 2);
}

// ---------------------------------------------------------------------------
// 2. Warmup retries
// ---------------------------------------------------------------------------

#[test]
fn warmup_retries_5_times_then_gives_a_connection_up() {
    // target 10 on a cluster that accepts 7 connections; keeper off so only
    // the ping and the warmup connect. The ping makes c0 (20 ms); the warmup
    // needs 9: the first takes c0, the next 6 open c1..c6 (20 ms each, done
    // at 140 ms). Its connections 7 and 8 are each refused by the cluster on
    // every attempt (the 7 warmed connections are held, the cluster stays
    // full): 1 attempt + 5 retries, then given up. Counters: created 7,
    // failed 2, retries 2 x 5 = 10; the cluster saw 7 + 2 x 6 = 19 connects
    // and refused 12.
    //
    // Timing: a refused connect fails after its 20 ms latency. Back-offs of
    // retry 1..5 are b x U[0.5, 1.5) with b = 200, 400, 800, 1600, 3200 ms,
    // i.e. 3.1 s to 9.3 s in total per connection. The warmup ends between
    // 140 ms + 2 x (6 x 20 ms + 3.1 s) = 6.58 s and 140 ms + 2 x (120 ms
    // + 9.3 s) = 18.98 s (exclusive).
    let (obs, p) = checked(
        "
duration: 40s
cluster: {max_connections: 7}
pool: {keeper: false}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
",
        SECOND,
    );
    let w = obs.pools[0].counters.warmup;
    assert_eq!((w.created, w.failed, w.retries), (7, 2, 10));
    assert_eq!(p.opens, 7);
    assert_eq!(p.connects, 19);
    assert_eq!(obs.cluster_refusals, (0, 12));
    assert_eq!(
        obs.pools[0].counters.open_failures[RefillFailure::ConnectionOpen as usize],
        12
    );
    assert_eq!(obs.pools[0].counters.sql.open_failures, 12);
    let since = obs.pools[0].serving_since.expect("warmup ends");
    assert!(
        (6580 * MILLISECOND..18_980 * MILLISECOND).contains(&since),
        "{since}"
    );
    // After the warmup the 7 connections are idle on the free list.
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.idle, last.in_use), (7, 7, 0));
}

// ---------------------------------------------------------------------------
// 3. LIFO free list
// ---------------------------------------------------------------------------

#[test]
fn lifo_free_list_lets_all_but_one_idle_connection_expire() {
    // target 10. The ping makes c0 (20 ms), the warmup takes it and opens
    // c1..c8 (done at 40..180 ms); all 9 are released at 180 ms in that
    // order: free list [c0 .. c8], returnedAt 180 ms. Requests at 1 s,
    // 2 s, ... hold 10 ms: never two at once. LIFO: each one takes the
    // most recently returned connection, c8, and puts it back on top. c0..c7
    // stay idle since 180 ms.
    //
    // Cleaner: period = max_idle_time 5 s (ConnMaxLifetime 55 m is longer),
    // first run 5 s after the connect started at 0. At 5 s nothing is idle
    // > 5 s (180 ms + 5 s = 5.18 s); Go's next delay is 0.18 s, raised to
    // the 1 s minimum -> 6 s: c0..c7 idle since 180 ms are closed
    // (idle_time 8 = MaxOpen - 2). c8 is back every second, never idle 5 s.
    // Keeper off, so nothing reopens them.
    //
    // (A FIFO list would rotate all nine, each idle 9 s, and close them all.)
    let (obs, p) = checked(
        "
duration: 60s
workload: {type: constant, checkout_rate: 1, arrival: uniform, hold_duration: 10ms}
pool: {keeper: false, max_idle_time: 5s}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
",
        500 * MILLISECOND,
    );
    assert_eq!(closes(&p, "idle_time"), 8);
    assert_eq!(closes(&p, "lifetime"), 0);
    assert_eq!(p.opens, 9);
    assert_eq!(p.requests, 60);
    assert_eq!(p.hits, 60);
    assert_eq!(p.waited, 0);
    assert_eq!(p.wait_ms.max, 0.0);
    assert_eq!(p.failures, 0);
    // (Go starts its cleaner at the first put to the free list, the ping's
    // at 20 ms, and would close them at 6.02 s; the world runs it from the
    // connect's start, t = 0, a documented simplification.)
    // The cleaner's first run (5 s) was scheduled when the process started
    // at 0, before the 5 s sample was scheduled (at 4 s), so it runs first
    // at 5 s and schedules its 6 s run before the 5 s sample schedules the
    // 6 s one: the 6 s sample sees the closes.
    assert_eq!(sample_at(&obs, 5 * SECOND).open, 9);
    assert_eq!(sample_at(&obs, 6 * SECOND).open, 1);
    assert_eq!(obs.samples.last().unwrap().open, 1);
}

#[test]
fn release_above_max_idle_closes_the_connection() {
    // target 5, MaxIdle 2, keeper off, no workload. The ping puts c0 on the
    // free list at 20 ms (1 < MaxIdle). The warmup (needed 4) takes c0,
    // opens c1, c2, c3 (done at 40, 60, 80 ms), and releases the four in
    // order at 80 ms: c0 and c1 fill the free list, c2 and c3 find it at
    // MaxIdle and are closed (max_idle 2).
    let (obs, p) = checked(
        "
duration: 5s
pool: {keeper: false, max_idle: 2}
pools:
  - name: p
    target_size: 5
    staggered_startup: false
",
        100 * MILLISECOND,
    );
    assert_eq!(p.opens, 4);
    assert_eq!(closes(&p, "max_idle"), 2);
    assert_eq!(p.open_peak, 4);
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.idle), (2, 2));
}

// ---------------------------------------------------------------------------
// 4. ConnMaxLifetime
// ---------------------------------------------------------------------------

#[test]
fn max_lifetime_closes_connections_at_pick_and_by_the_cleaner() {
    // target 4 (MaxOpen 4, so that the ping and the warmup make three
    // connections: the ping's c0 at 20 ms, then c1, c2 opened by the warmup
    // at 40, 60 ms); free list [c0, c1, c2] at 60 ms. Requests every 0.5 s
    // (0.5 s, 1.0 s, ...), hold 10 ms: LIFO, each takes c2. Keeper off.
    // max_lifetime 1m: expired means created + 60 s < now (strictly).
    // Cleaner period 60 s, first run 60 s after the connect started at 0.
    //
    // - 60.0 s: the cleaner (scheduled at 0, before the arrival) finds none
    //   expired (ends 60.02, 60.04, 60.06 s); next in max(20 ms, 1 s) = 1 s.
    //   The arrival takes c2 (not expired yet).
    // - 60.5 s: the arrival picks c2 (60.06 < 60.5): closed, ErrBadConn
    //   (lifetime 1); retry 1 (cached) picks c1, expired too (lifetime 2);
    //   retry 2 forces a new connection: numOpen 1 < 4, c3 created at
    //   60.52 s. The request is served after 20 ms.
    // - 61.0 s: the cleaner (scheduled at 60 s, before the arrival scheduled
    //   at 60.5 s) closes c0 (lifetime 3); c3 ends at 120.52 s: next in 59.52 s.
    // - From then on one connection serves everything; each one expires
    //   60 s after creation and the first arrival strictly after that finds
    //   it expired (the cleaner, run exactly at the end instant, does not:
    //   `<` is strict), so a new one is made 20 ms later: c3 at 60.52 s is
    //   picked expired at 121.0 s -> c4 at 121.02 s -> picked at 181.5 s ->
    //   c5 at 181.52 s -> picked at 242.0 s -> c6 at 242.02 s (ends 302.02 s,
    //   after the 300 s run).
    //
    // Total: lifetime closes 6 (5 at pick, 1 by the cleaner), opens 3 + 4 = 7,
    // 600 requests, none failed; the 4 that opened waited 20 ms.
    let (_, p) = checked(
        "
duration: 5m
workload: {type: constant, checkout_rate: 2, arrival: uniform, hold_duration: 10ms}
pool: {keeper: false, max_lifetime: 1m}
pools:
  - name: p
    target_size: 4
    staggered_startup: false
",
        SECOND,
    );
    assert_eq!(closes(&p, "lifetime"), 6);
    assert_eq!(closes(&p, "bad"), 0);
    assert_eq!(p.opens, 7);
    assert!(p.opens > 3);
    assert_eq!(p.requests, 600);
    assert_eq!(p.failures, 0);
    assert_eq!(p.hits_after_wait, 4);
    assert_eq!(p.waited, 4);
    assert_eq!(p.hits, 596);
    assert_eq!(p.wait_ms.max, 20.0);
    assert_eq!(
        p.bad_conns, 0,
        "lifetime expiry is not a server-side bad conn"
    );
}

// ---------------------------------------------------------------------------
// 5. MaxOpen, waiting, deadline
// ---------------------------------------------------------------------------

#[test]
fn at_max_open_requests_wait_and_fail_at_their_deadline() {
    // target 2, keeper off. The ping makes c0 (20 ms); the warmup needs 1
    // and takes c0: one connection, idle from 20 ms, numOpen 1. Arrivals
    // every 100 ms from 0.1 s, each holding 1 s; request_timeout 250 ms.
    // - 0.1 s takes c0 at once (a hit; released at 1.1 s).
    // - 0.2 s finds no free connection, numOpen 1 < 2: opens c1, served at
    //   0.22 s after 20 ms (released at 1.22 s).
    // - Every later request waits (numOpen = MaxOpen = 2).
    // - A connection released at t goes to a random waiter. c0's releases
    //   come at x.1 s: the waiters are the arrivals in (t - 250 ms, t), i.e.
    //   (x-1).9 and x.0 s (the hold end at t runs before the arrival at t,
    //   scheduled later), both still there (c1's previous release, at
    //   (x-1).22 s, came before they arrived). c1's come at x.22 s: the
    //   waiters are among x.0, x.1, x.2 s (x.0 unless c0 took it), at least
    //   two. So each connection is busy without a gap: c0 serves 0.1 s and
    //   hand-offs at 1.1, ..., 9.1 s, c1 serves 0.2 s and hand-offs at 1.22,
    //   ..., 9.22 s: 20 served, 18 by hand-off, 19 after waiting.
    // - Arrivals 9.8, 9.9, 10.0 s have deadlines past the 10 s end and no
    //   release comes after 9.22 s: 3 still waiting at the end.
    // - All other 100 - 20 - 3 = 77 fail at their deadline, after exactly
    //   250 ms: wait_ms.max = 250.
    let (obs, p) = checked(
        "
duration: 10s
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 1s}
pool: {keeper: false, request_timeout: 250ms}
pools:
  - name: p
    target_size: 2
    staggered_startup: false
",
        50 * MILLISECOND,
    );
    assert_eq!(p.requests, 100);
    assert_eq!(p.hits, 1);
    assert_eq!(p.hits_after_wait, 19);
    assert_eq!(p.failures, 77);
    assert_eq!(cause(&p, "deadline"), 77);
    assert_eq!(p.waited, 19 + 77);
    assert_eq!(p.wait_ms.max, 250.0);
    assert!(p.wait_ms.p99 <= 250.0);
    // Random, not FIFO, hand-off. c0's hand-off at x.1 s waited 200 ms
    // ((x-1).9 s) or 100 ms (x.0 s); c1's at x.22 s waited 220 ms (x.0 s),
    // 120 ms (x.1 s) or 20 ms (x.2 s). FIFO would always serve the oldest:
    // c0 takes (x-1).9 s, then c1 takes x.0 s: mean wait (0 + 20 + 9 x 200 +
    // 9 x 220 + 77 x 250) / 97 = 237.63 ms. Each step to a younger waiter
    // (100 ms later) lowers the sum by 100 ms: c0's hand-offs can step once,
    // c1's twice, so 0 to 9 + 18 = 27 steps. The histogram has 3
    // significant digits (< 0.1 % error).
    // So 97 x mean - 20 - 77 x 250 = 3780 - 100 x steps.
    let fifo_mean = (20.0 + 9.0 * 200.0 + 9.0 * 220.0 + 77.0 * 250.0) / 97.0;
    assert!(p.wait_ms.mean < fifo_mean - 0.5, "{}", p.wait_ms.mean);
    let steps = (3780.0 - (97.0 * p.wait_ms.mean - 20.0 - 77.0 * 250.0)) / 100.0;
    assert!(
        (steps - steps.round()).abs() < 0.05 && (1.0..=27.0).contains(&steps.round()),
        "{steps}"
    );
    assert_eq!(p.opens, 2);
    let c = obs.pools[0].counters.sql;
    assert_eq!(c.handoffs, 18);
    assert_eq!(c.wait_timeouts, 77);
    assert_eq!(c.waits, 98);
    // The 10 s sample runs before the arrival at 10 s (scheduled at 9 s vs
    // 9.9 s): 2 waiting then; the 3rd arrives after it.
    let last = sample_at(&obs, 10 * SECOND);
    assert_eq!((last.waiting, last.in_use, last.open), (2, 2, 2));
}

/// Requests at 0.1 s, 0.2 s, ... (hold 10 ms, request_timeout 1 s) to a
/// plain pool of 5 with warmup and keeper off, under the default staggered
/// startup (seed 1). `extra` is added at the top level.
fn staggered(extra: &str) -> RunOutput {
    run(&format!(
        "
duration: 10s
seed: 1
{extra}
workload: {{type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 10ms}}
pool: {{warmup: false, keeper: false, request_timeout: 1s}}
pools:
  - name: p
    target_size: 5
"
    ))
}

/// What the staggered startup promises, whatever the process's limiter:
/// the process sleeps its stagger, opens nothing meanwhile, and refuses the
/// requests that arrive before it serves; none of them waits.
fn assert_stagger_refuses_requests(o: &RunOutput) {
    // The stagger is U[0, 5 s), drawn from the startup stream of the
    // process's first pool: about 2.06 s for seed 1.
    let stagger: Time = RngStreams::new(1)
        .stream(StreamId::new(stream_kind::DRIVER, 0, 0))
        .random_range(0..5 * SECOND);
    assert!(
        (2 * SECOND..2080 * MILLISECOND).contains(&stagger),
        "seed 1 staggers by {stagger} ns"
    );
    // At the end of the stagger the ping opens c0 (the limiter has a token
    // or there is none), done 20 ms later; warmup off: the pool serves then.
    let serving = stagger + 20 * MILLISECOND;
    assert_eq!(o.observations.pools[0].serving_since, Some(serving));
    // Nothing opens during the stagger: the only connect is the ping's, in
    // second 2.
    assert_eq!(&o.observations.connects_per_second[..4], &[0, 0, 1, 0]);
    for t in [SECOND, 2 * SECOND] {
        let s = sample_at(&o.observations, t);
        assert_eq!((s.open, s.waiting, s.serving), (0, 0, false), "at {t}");
    }
    // The arrivals at k x 100 ms <= serving (2.02 .. 2.1 s) are refused, not
    // queued: 0.1 .. 2.0 s, 20. (At a tie the arrival, scheduled 100 ms
    // before, runs before the ping's completion, scheduled at the stagger's
    // end: refused too.)
    let p = pool0(o);
    let refused = serving / (100 * MILLISECOND);
    assert_eq!(refused, 20);
    assert_eq!(p.rejected_before_ready, refused);
    // The other 80 (2.1 .. 10.0 s) each take c0 at once (10 ms holds never
    // overlap): no wait, no failure, no other connection.
    assert_eq!(p.requests, 80);
    assert_eq!((p.hits, p.waited, p.failures), (80, 0, 0));
    assert_eq!(p.wait_ms.max, 0.0);
    assert_eq!((p.opens, p.connects), (1, 1));
}

#[test]
fn requests_during_the_startup_stagger_are_refused_and_nothing_opens() {
    // The process's own token bucket (10/s, burst 100): the ping's token is
    // there at once.
    let o = staggered("");
    assert_stagger_refuses_requests(&o);
    assert_eq!(pool0(&o).limiter_waits, 0);
}

#[test]
fn requests_during_the_startup_stagger_are_refused_without_a_limiter_too() {
    // No limiter: the stagger, not the limiter, holds the connect back.
    assert_stagger_refuses_requests(&staggered("local_rate_limit: 0"));
}

// ---------------------------------------------------------------------------
// 6. Open counted at once, through the rate limiter
// ---------------------------------------------------------------------------

#[test]
fn opens_are_counted_at_once_and_paced_by_the_token_bucket() {
    // Warmup and keeper off. Limiter 1/s burst 1, connect latency 0, target
    // 10, requests every 100 ms holding 1 min (so no connection is ever
    // released), request_timeout 10 s.
    //
    // The ping takes the bucket's only token at 0: c0 at 0, idle; the pool
    // serves at 0. Tokens are then due one per second: 1.0, 2.0, ... s.
    // - 0.1 s takes c0 (a hit).
    // - 0.2 .. 1.0 s (9): each finds no free connection, counts itself open
    //   at once (numOpen 2 .. 10) and waits for a token: due 1.0, 2.0, ...,
    //   9.0 s, all within the open's own 30 s deadline. Their own deadlines
    //   (10.2 .. 11.0 s) come later: each is served when its connect is done,
    //   after 0.8, 1.7, ..., 8.0 s (39.6 s on the limiter in all).
    // - From 1.1 s numOpen = MaxOpen = 10 (7 connections exist at 7 s, 3
    //   more being opened): the requests queue. Nothing is ever released:
    //   arrivals 1.1 .. 2.0 s fail at their deadline after 10 s (10; the
    //   last at 12.0 s, the end, its deadline event scheduled at 2.0 s), and
    //   2.1 .. 12.0 s (100) are still waiting at the end.
    // One connect per second: connections at 0, 1.0, ..., 9.0 s.
    let (obs, p) = checked(
        "
duration: 12s
connect_latency: 0
local_rate_limit: 1
local_rate_limit_burst: 1
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 1m}
pool: {warmup: false, keeper: false, request_timeout: 10s}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
",
        100 * MILLISECOND,
    );
    assert_eq!(obs.pools[0].serving_since, Some(0));
    assert_eq!(p.requests, 120);
    assert_eq!(p.hits, 1);
    assert_eq!(p.hits_after_wait, 9);
    assert_eq!(cause(&p, "deadline"), 10);
    assert_eq!(cause(&p, "open_failed"), 0);
    assert_eq!(p.failures, 10);
    assert_eq!(p.waited, 9 + 10);
    assert_eq!(p.wait_ms.max, 10_000.0);
    assert_eq!(p.opens, 10);
    assert_eq!(p.connects, 10);
    assert_eq!(p.limiter_waits, 9, "the ping's token was there");
    assert_eq!(
        obs.pools[0].counters.driver.limiter_wait_ns,
        39_600 * MILLISECOND
    );
    assert_eq!(
        obs.pools[0].counters.open_failures[RefillFailure::RateLimit as usize],
        0
    );
    assert_eq!(&obs.connects_per_second[..10], &[1; 10]);
    assert!(obs.connects_per_second[10..].iter().all(|&c| c == 0));
    // Counted at once: at 7 s only 7 connections exist (0, 1.0 .. 6.0 s)
    // but requests already queue, since the 3 opens waiting for tokens
    // count toward MaxOpen. The 7 s sample runs after the open due at 7.0 s
    // got its token (scheduled at 0.8 s) but before its completion
    // (scheduled at 7.0 s) and before the 7 s arrival: the 3 requests whose
    // opens are under way (0.8, 0.9, 1.0 s) and the 59 queued (1.1 ..
    // 6.9 s) are waiting: 62.
    let s = sample_at(&obs, 7 * SECOND);
    assert_eq!((s.open, s.in_use, s.waiting), (7, 7, 62));
    // At 12 s the deadline of the 2.0 s arrival (scheduled at 2.0 s) runs
    // before the sample, the 12.0 s arrival after it: 2.1 .. 11.9 s wait.
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.waiting), (10, 99));
}

#[test]
fn a_requests_own_open_waits_on_the_bucket_under_the_opens_30_s_deadline() {
    // Every open runs under the driver's own 30 s context; database/sql does
    // not pass the request's deadline down. Warmup and keeper off, target
    // 50 (never reached: no request ever queues), connect latency 0, one
    // token per 10 s (burst 1), a request per second holding 10 min,
    // request_timeout 15 s.
    //
    // The ping takes the only token at 0: c0 at 0, idle; serving at 0. The
    // bucket is then at 0 tokens, refilling 0.1 per second.
    // - 1 s: takes c0 (a hit).
    // - 2 s: opens; token due 10 s (balance 0.2 - 1 = -0.8). Connected at
    //   10 s, before its deadline (17 s): served after 8 s.
    // - 3 s: token due 20 s (within 3 s + 30 s). Its deadline (18 s) passes
    //   while it waits, but it waits on: at 20 s its connection is done, the
    //   request fails then (`deadline`, after 17 s) and the connection goes
    //   to the free list.
    // - 4 s: token due 30 s: fails at 30 s (`deadline`, after 26 s); its
    //   connection goes to the free list.
    // - 5 .. 9 s: the next token (40 s) is past the open's own deadline
    //   (t + 30 s): `Wait` refuses at once, nothing reserved: `open_failed`
    //   (rate_limit) without waiting.
    // - 10 s: 40 s <= 10 s + 30 s (inclusive): reserved; still opening at
    //   the 32 s end. 11 .. 19 s: the next (50 s) is too far: 9 refused.
    // - 20 s: (the 3 s request's token, scheduled at 3 s, comes first; its
    //   completion, scheduled then, after the arrival) reserves 50 s. 21 s
    //   takes the connection the 3 s request left (a hit). 22 .. 29 s: 8
    //   refused (60 s).
    // - 30 s: reserves 60 s; 31 s takes the 4 s request's connection (a
    //   hit); 32 s: 70 s is too far: refused.
    // Requests 32: 3 hits, 1 served after waiting, 2 `deadline`, 23
    // `open_failed`, 3 still opening at the end (10, 20, 30 s).
    let (obs, p) = checked(
        "
duration: 32s
connect_latency: 0
local_rate_limit: 0.1
local_rate_limit_burst: 1
workload: {type: constant, checkout_rate: 1, arrival: uniform, hold_duration: 10m}
pool: {warmup: false, keeper: false, request_timeout: 15s}
pools:
  - name: p
    target_size: 50
    staggered_startup: false
",
        SECOND,
    );
    assert_eq!(p.requests, 32);
    assert_eq!((p.hits, p.hits_after_wait), (3, 1));
    assert_eq!(cause(&p, "deadline"), 2);
    assert_eq!(cause(&p, "open_failed"), 23);
    assert_eq!(p.failures, 25);
    assert_eq!(
        obs.pools[0].counters.open_failures[RefillFailure::RateLimit as usize],
        23
    );
    // Waits: 8 s (served), 17 s and 26 s (failed late); the refused and the
    // hits waited 0. A request waits past its 15 s deadline on its own open.
    assert_eq!(p.waited, 3);
    assert_eq!(p.wait_ms.max, 26_000.0);
    // Connections: c0 and those done at 10, 20, 30 s; each one held.
    assert_eq!((p.opens, p.connects, p.limiter_waits), (4, 4, 3));
    assert_eq!(
        obs.pools[0].counters.driver.limiter_wait_ns,
        (8 + 17 + 26) * SECOND
    );
    for (i, &c) in obs.connects_per_second.iter().enumerate() {
        assert_eq!(c, u32::from(i % 10 == 0 && i <= 30), "second {i}");
    }
    // At 26 s three requests are still waiting on their own opens (4, 10,
    // 20 s), two of them past their deadline (19 s, 25 s).
    let s = sample_at(&obs, 26 * SECOND);
    assert_eq!((s.open, s.in_use, s.waiting), (3, 3, 3));
    let last = obs.samples.last().unwrap();
    assert_eq!(
        (last.open, last.in_use, last.idle, last.waiting),
        (4, 4, 0, 3)
    );
}

// ---------------------------------------------------------------------------
// 7. Keeper
// ---------------------------------------------------------------------------

#[test]
fn keeper_grows_the_pool_one_connection_per_second_ahead_of_demand() {
    // target 50: min(10, ceil(50 / 120)) = 1 creation per tick. Warmup off:
    // the ping makes c0 (done at 20 ms, left idle), the keeper starts and the
    // pool serves at 20 ms; the keeper's ticker fires at 1.02, 2.02, ... s
    // (a time.Ticker's first tick comes one period after it starts). One
    // request per second (1 s, 2 s, ...) holds its connection for 10 min.
    //
    // - k s: the arrival takes the one idle connection (c0 at 1 s, then the
    //   keeper's K(k-1)): a hit, held.
    // - k.02 s: the tick finds numOpen k < 50 and the free list empty: its
    //   db.Conn opens K(k) (done at k.04 s), SELECT 1, Close: K(k) waits
    //   idle for the next arrival.
    // So the sample at k s (after the arrival of that instant, scheduled
    // first) sees k connections, all in use. Over 50 s: 50 connections (c0
    // and K1..K49), 50 requests, all hits; 49 ticks (1.02 .. 49.02 s), 49
    // top-ups, each a new connection; one connect per second.
    let yaml = "
duration: 50s
workload: {type: constant, checkout_rate: 1, arrival: uniform, hold_duration: 10m}
pool: {warmup: false}
pools:
  - name: p
    target_size: 50
    staggered_startup: false
";
    let (obs, p) = checked(yaml, SECOND);
    for r in obs.samples.iter().filter(|r| r.pool == 0) {
        let k = (r.t / SECOND) as u32;
        assert_eq!((r.open, r.in_use, r.idle), (k, k, 0), "at {k} s");
    }
    assert_eq!(p.opens, 50);
    assert_eq!(p.requests, 50);
    assert_eq!((p.hits, p.hits_after_wait, p.waited), (50, 0, 0));
    assert_eq!(p.wait_ms.max, 0.0);
    let k = obs.pools[0].counters.keeper;
    assert_eq!(
        (k.ticks, k.topups, k.failures, k.busy_ticks),
        (49, 49, 0, 0)
    );
    assert_eq!(obs.connects_per_second.iter().max(), Some(&1));
    // Without the keeper the first request takes c0 and every later one
    // opens its own connection and waits 20 ms for it; the one arriving at
    // the 50 s end is still connecting: 1 hit, 48 hits after wait, 49
    // connections (c0 and 48), of 50 requests.
    let (_, q) = checked(
        &yaml.replace("warmup: false", "warmup: false, keeper: false"),
        SECOND,
    );
    assert_eq!(q.requests, 50);
    assert_eq!((q.hits, q.hits_after_wait, q.opens), (1, 48, 49));
    assert_eq!(q.wait_ms.max, 20.0);
}

#[test]
fn keeper_reuses_the_idle_connection_and_never_grows_an_idle_pool() {
    // The keeper's creation is `db.Conn(ctx)`, `SELECT 1`, `Conn.Close()`
    // (production pool_keeper.go): it takes a free connection if there is
    // one. No workload, warmup off: the ping opens c0 (done at 20 ms) and
    // leaves it on the free list; every creation takes c0 and gives it back.
    // The pool stays at 1 connection whatever the target, and every creation
    // still counts as a top-up.
    // The ticks come at 1.02, 2.02, ..., 59.02 s (59 in the 60 s run).
    // - target 50: 1 per tick: 59 top-ups, 1 open.
    // - target 600: 5 per tick, done one after the other, each reusing c0:
    //   59 x 5 = 295 top-ups.
    for (target, per_tick) in [(50u64, 1u64), (600, 5)] {
        let o = run(&format!(
            "
duration: 60s
pool: {{warmup: false}}
pools:
  - name: p
    target_size: {target}
    staggered_startup: false
"
        ));
        // The sample at 0 runs before the ping's connect is done.
        for r in o.observations.samples.iter().filter(|r| r.pool == 0) {
            assert_eq!(r.open, u32::from(r.t > 0), "target {target} at {}", r.t);
        }
        let k = o.observations.pools[0].counters.keeper;
        assert_eq!((k.ticks, k.topups), (59, 59 * per_tick), "target {target}");
        assert_eq!(pool0(&o).opens, 1, "target {target}");
    }
}

#[test]
fn keeper_first_tick_comes_one_period_after_start() {
    // Warmup off, no workload, target 5, samples every 10 ms. The ping opens
    // c0 at 20 ms (its completion, scheduled at 0, runs before the 20 ms
    // sample, scheduled at 10 ms); the connect ends then and the keeper
    // starts: its first tick comes one period later, at 1.02 s (scheduled at
    // 20 ms, before the 1.02 s sample, scheduled at 1.01 s), and takes c0
    // from the free list (a top-up, no open). No second tick before 2.02 s.
    let o = run("
duration: 2s
sample_every: 10ms
pool: {warmup: false}
pools:
  - name: p
    target_size: 5
    staggered_startup: false
");
    for r in o.observations.samples.iter().filter(|r| r.pool == 0) {
        let ms = r.t / MILLISECOND;
        assert_eq!(r.open, u32::from(ms >= 20), "at {ms} ms");
        let ticked = u64::from(ms >= 1020);
        let k = r.counters.keeper;
        assert_eq!((k.ticks, k.topups), (ticked, ticked), "at {ms} ms");
    }
    assert_eq!(pool0(&o).opens, 1);
}

// ---------------------------------------------------------------------------
// 8. The server's 60-minute limit in the plain pool
// ---------------------------------------------------------------------------

#[test]
fn server_closes_every_connection_at_60_minutes_and_requests_retry() {
    // ConnMaxLifetime 0: database/sql never closes a connection itself (no
    // cleaner). The ping makes c0 (20 ms); the warmup (needed 4) takes it and
    // opens c1, c2, c3 (40, 60, 80 ms); free list [c0..c3] from 80 ms.
    // Requests every second, hold 10 ms: LIFO, all take c3. The server
    // closes c0..c3 at 60 min + 20..80 ms (all 4 reach 60 min in the 62 min
    // run).
    //
    // Keeper off, so that only requests meet the dead connections:
    // - 3601 s: the request takes c3: bad (bad_conns 1, closed bad 1);
    //   retry 1 (cached) takes c2: bad (2); retry 2 forces a new one:
    //   numOpen 2 < 5, c4 at 3601.02 s. Served after 20 ms, nothing fails.
    // - c0, c1 (dead) stay under c4 on the free list, never used again.
    let yaml = "
duration: 62m
workload: {type: constant, checkout_rate: 1, arrival: uniform, hold_duration: 10ms}
pool: {max_lifetime: 0, keeper: false}
pools:
  - name: p
    target_size: 5
    staggered_startup: false
";
    let (obs, p) = checked(yaml, 10 * SECOND);
    assert_eq!(p.server_closed, 4);
    assert_eq!(p.bad_conns, 2);
    assert_eq!(closes(&p, "bad"), 2);
    assert_eq!(closes(&p, "lifetime"), 0);
    assert_eq!(p.opens, 5);
    assert_eq!(p.requests, 62 * 60);
    assert_eq!(p.failures, 0);
    assert_eq!(p.hits_after_wait, 1);
    assert_eq!(p.wait_ms.max, 20.0);
    // The last sample (62 min) runs after the arrival of that instant
    // (arrivals are always scheduled first): c4 in use, 2 dead ones idle.
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.idle, last.in_use), (3, 2, 1));
    assert_eq!(obs.cluster_samples.last().unwrap().live, 1);

    // With the keeper (the default), it finds them first. It starts when
    // the warmup ends (80 ms) and ticks at 1.08 s + k: 3719 ticks. The pool
    // is at numOpen 4 < 5 from the start, so every tick makes 1 creation,
    // a db.Conn that takes the top free connection (c3; the 10 ms holds at
    // whole seconds never overlap a tick) and gives it back: 3719 top-ups.
    // - 3600.08 s: c3's server close (scheduled at its creation, 80 ms) runs
    //   before the tick (scheduled at 3599.08 s): the keeper's db.Conn takes
    //   c3: bad; c2: bad; forces a new one: c4 at 3600.10 s, given back.
    // - 3601 s: the request takes c4 at once. No request ever meets a dead
    //   connection or waits.
    let with_keeper = yaml.replace("max_lifetime: 0, keeper: false", "max_lifetime: 0");
    let (obs, p) = checked(&with_keeper, 10 * SECOND);
    assert_eq!(p.server_closed, 4);
    assert_eq!(p.bad_conns, 2);
    assert_eq!(closes(&p, "bad"), 2);
    assert_eq!(p.opens, 5);
    assert_eq!(p.requests, 62 * 60);
    assert_eq!((p.hits, p.hits_after_wait, p.failures), (62 * 60, 0, 0));
    assert_eq!(p.wait_ms.max, 0.0);
    let k = obs.pools[0].counters.keeper;
    assert_eq!((k.ticks, k.topups, k.failures), (3719, 3719, 0));
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.idle, last.in_use), (3, 2, 1));
    assert_eq!(obs.cluster_samples.last().unwrap().live, 1);
}

// ---------------------------------------------------------------------------
// 9. The database_sql stack
// ---------------------------------------------------------------------------

#[test]
fn database_sql_holds_connections_while_the_refiller_refills_them() {
    // target_size 10 = target_ready. 20 requests/s holding 1 s want 20
    // connections: database/sql opens up to MaxOpen = 10, each taken from
    // the reservoir, which refills what it handed out (it does not count
    // connections out in use). Physical peak: 10 held by database/sql + 10
    // in the buffer = target_size + target_ready = 20, never more
    // (database/sql <= MaxOpen, buffer <= target_ready).
    let (obs, p) = checked(
        "
duration: 30s
workload: {type: constant, checkout_rate: 20, arrival: uniform, hold_duration: 1s}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true, stack: database_sql}
",
        100 * MILLISECOND,
    );
    assert_eq!(p.stack, "database_sql");
    assert_eq!(p.open_peak, 20);
    assert_eq!(obs.pools[0].peak_open, 20);
    assert!(p.open_peak > p.target_size);
    let last = obs.samples.last().unwrap();
    assert_eq!((last.ready, last.idle + last.in_use), (10, 10));
}

#[test]
fn database_sql_bad_connections_go_back_to_the_reservoir_and_are_discarded() {
    // 10 requests/s holding 500 ms: exactly 5 at once (a hold ending at t
    // runs before the arrival at t). database/sql opens 5 connections from
    // the reservoir's initial fill (created at 20..200 ms) in the first
    // half-second and keeps them (MaxIdle 10, no lifetime): physical peak
    // 5 + 10 refilled = 15. The buffer's own connections leave at 11-13 min
    // (lifetime and guard), so only database/sql's 5 reach 60 min and are
    // closed by the server (server_closed 5). Each is found bad at its next
    // use (bad_conns 5), closed by database/sql (closes.bad 5), goes back to
    // the reservoir with lifetime 0 and is discarded `expired_on_return` (5);
    // the request retries with a fresh connection from the buffer: no failure.
    let o = run("
duration: 65m
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 500ms}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
    reservoir: {enabled: true, stack: database_sql}
");
    let p = pool0(&o);
    assert_eq!(p.open_peak, 15);
    assert_eq!(p.server_closed, 5);
    assert_eq!(p.bad_conns, 5);
    assert_eq!(closes(p, "bad"), 5);
    assert_eq!(p.discards["expired_on_return"], 5);
    assert_eq!(p.failures, 0);
}

// ---------------------------------------------------------------------------
// 10. The direct stack and the 60-minute limit
// ---------------------------------------------------------------------------

#[test]
fn direct_stack_hands_out_server_closed_connections_and_requests_fail() {
    // Reservoir lifetimes 70-72 min: the reservoir never retires a
    // connection before the 65 min end, but the server closes each at 60 min.
    // 5 connections (20..100 ms) rotate FIFO under 1 request/s holding 10 ms.
    // All 5 are server-closed by 3600.1 s. Requests at 3601..3605 s each get
    // one of them (head of the buffer): bad_conn failure, returned with
    // lifetime 0, discarded `expired_on_return`, refilled at the tail with a
    // fresh one; from 3606 s on the fresh ones come round. 5 failures.
    //
    // Opens: 5 + 5 replacements + 1. The refiller, full after its 5th
    // connect at 100 ms, polls every 100 ms: at 0.2, ..., 1.0 s. At 1.0 s the
    // arrival runs first (scheduled when the world was built) and takes a
    // connection out for 10 ms; the poll then sees 4 and opens one (done
    // 1.02 s): the returned connection had filled the buffer at 1.01 s, so
    // the new one is discarded `reservoir_full`. The poll phase is now
    // x.02 s, outside the [k s, k s + 10 ms) holds. Each bad-conn replacement
    // shifts it by another 20 ms (x.04 .. x.12 s), never back into a hold.
    let o = run("
duration: 65m
workload: {type: constant, checkout_rate: 1, arrival: uniform, hold_duration: 10ms}
pools:
  - name: p
    target_size: 5
    staggered_startup: false
    reservoir: {enabled: true, base_lifetime: 70m}
");
    let p = pool0(&o);
    assert_eq!(p.stack, "direct");
    assert_eq!(p.requests, 65 * 60);
    assert_eq!(p.server_closed, 5);
    assert_eq!(p.bad_conns, 5);
    assert_eq!(p.failures, 5);
    assert_eq!(cause(p, "bad_conn"), 5);
    assert_eq!(p.discards["expired_on_return"], 5);
    assert_eq!(p.discards["reservoir_full"], 1);
    assert_eq!(p.opens, 11);
}

// ---------------------------------------------------------------------------
// 11. measure_after
// ---------------------------------------------------------------------------

#[test]
fn measure_after_leaves_out_earlier_requests() {
    // target 10: the ping's c0 at 20 ms, the warmup's c1..c8 at 40..180 ms:
    // the pool serves from 180 ms with 9 connections. Arrivals every 100 ms
    // to 20 s (200). Without measure_after: 0.1 s refused, 199 served. With
    // measure_after 5 s: only arrivals at >= 5 s count: 5.0 .. 20.0 s = 151,
    // none refused; the other counters count from 5 s, after the warmup: 0
    // opens (the keeper's ticks find 9 < 10 open and take an idle
    // connection, opening none).
    let base = "
duration: 20s
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 10ms}
pools:
  - name: p
    target_size: 10
    staggered_startup: false
";
    let all = run(base);
    let late = run(&format!("measure_after: 5s\n{base}"));
    let (a, l) = (pool0(&all), pool0(&late));
    assert_eq!((a.requests, a.rejected_before_ready, a.opens), (199, 1, 9));
    assert_eq!((l.requests, l.rejected_before_ready, l.opens), (151, 0, 0));
    assert_eq!(a.requests - l.requests, 48, "arrivals 0.2 .. 4.9 s");
    assert_eq!(l.hits, 151);
}

// ---------------------------------------------------------------------------
// 12. Determinism and identical arrivals across stacks
// ---------------------------------------------------------------------------

const BUSY: &str = "
duration: 2m
seed: 7
local_rate_limit: 20
local_rate_limit_burst: 5
workload: {type: constant, checkout_rate: 80, hold_distribution: exponential, hold_duration: 150ms}
pool: {max_lifetime: 30s, max_idle: 6, request_timeout: 2s}
pools:
  - name: a
    target_size: 12
  - name: b
    target_size: 150
    reservoir: {enabled: false}
";

#[test]
fn same_seed_same_summary() {
    let a = run(BUSY).summary.to_json();
    let b = run(BUSY).summary.to_json();
    assert_eq!(a, b);
    let c = run(&BUSY.replace("seed: 7", "seed: 8")).summary.to_json();
    assert_ne!(a, c, "another seed gives another run");
}

#[test]
fn every_stack_sees_the_same_arrivals() {
    let sc = scenario(BUSY);
    let totals: Vec<Vec<u64>> = Stack::ALL
        .iter()
        .map(|&stack| {
            let mut s = sc.clone();
            s.world = s.world.with_stack(stack);
            let o = poolsim::run::run(&s).expect("run");
            assert_no_rebuild(&o.observations);
            assert!(o.summary.pools.iter().all(|p| p.stack == stack.name()));
            o.summary
                .pools
                .iter()
                .map(|p| p.requests + p.rejected_before_ready)
                .collect()
        })
        .collect();
    assert_eq!(totals[0], totals[1]);
    assert_eq!(totals[0], totals[2]);
    // ~80/s for 120 s each.
    assert!(totals[0].iter().all(|&n| (9000..10_200).contains(&n)));
}

#[test]
fn database_sql_keys_are_validated_with_their_place() {
    let e = common::invalid(
        "pool: {max_idle: 80, request_timeout: 0}\nmeasure_after: 30m\npools:\n  - name: p\n    target_size: 50\n    pool: {max_bogus: 1}\n",
    );
    assert!(e.contains("unknown field `max_bogus`"), "{e}");
    let e = common::invalid(
        "pool: {max_idle: 80, request_timeout: 0}\nmeasure_after: 30m\npools:\n  - name: p\n    target_size: 50\n",
    );
    assert!(
        e.contains("pool.max_idle: (80) must not exceed the pool's target_size (50)"),
        "{e}"
    );
    assert!(
        e.contains("pool.request_timeout: must be greater than 0"),
        "{e}"
    );
    assert!(
        e.contains("measure_after: must be shorter than duration"),
        "{e}"
    );
    let e = common::invalid(
        "pools:\n  - name: p\n    target_size: 5\n    local_rate_limit: -1\n    reservoir: {enabled: true, stack: pooled}\n",
    );
    assert!(e.contains("unknown variant `pooled`"), "{e}");
    let e = common::invalid("pools:\n  - name: p\n    target_size: 5\n    local_rate_limit: -1\n");
    assert!(
        e.contains("pools[0].local_rate_limit: must be 0 (no limiter)"),
        "{e}"
    );
    let e = common::invalid(
        "pools:\n  - name: p\n    target_size: 5\nassertions:\n  - {type: pool_at_size, min_fraction: 1.5}\n  - {type: wait_time, max: 1ms}\n  - {type: request_failures, min_fraction: 0.5, max: 1}\n",
    );
    assert!(
        e.contains("assertions[0].min_fraction: must be above 0 and at most 1"),
        "{e}"
    );
    assert!(e.contains("assertions[1].percentile: is required"), "{e}");
    assert!(
        e.contains("assertions[2].min_fraction: does not apply to request_failures"),
        "{e}"
    );
}
