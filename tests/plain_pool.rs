//! End-to-end behaviour of the plain pool (DOMAIN.md section 7: Go's
//! database/sql over the rate-limited driver, with the production warmup and
//! keeper) and of the wiring around it (server 60-minute limit, the
//! `database_sql` and `direct` reservoir stacks, `measure_after`, determinism).
//!
//! Every expected value is derived from the model in the comment above the
//! assertion. Common facts used throughout:
//!
//! - `staggered_startup: false`: the first connect may start at 0.
//! - `connect_latency` defaults to a fixed 20 ms; the instance's own token
//!   bucket defaults to 10/s with burst 100 (starts full), so fewer than 100
//!   connects in a burst never wait on it.
//! - `arrival: uniform` at rate r puts arrivals at k/r for k = 1, 2, ... (the
//!   first one a full gap after 0), up to and including `duration`.
//! - Events at the same instant run in the order they were scheduled.

mod common;
use common::{run, scenario};
use poolsim::engine::{Time, MILLISECOND, SECOND};
use poolsim::metrics::PoolSummary;
use poolsim::model::refiller::RefillFailure;
use poolsim::model::world::{simulate_checked, Observations, SampleRow, Stack};
use poolsim::run::RunOutput;

fn pool0(o: &RunOutput) -> &PoolSummary {
    &o.summary.pools[0]
}

/// Run with invariants checked every `step` of simulated time; the summary of pool 0.
fn checked(yaml: &str, step: Time) -> (Observations, PoolSummary) {
    let sc = scenario(yaml);
    let obs = simulate_checked(&sc.world, Some(step)).expect("invariants hold");
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
fn warmup_creates_50_connections_sequentially_before_serving() {
    // target 50 <= 100: stagger 0, no pause between connections. Each one is a
    // request-like `db.Conn`: the free list is empty (warmed connections are
    // held until the warmup ends), numOpen < MaxOpen, so it opens: bucket
    // token at once (50 < burst 100), 20 ms connect, and the next starts at
    // that instant. Connection k (0-based) is done at (k+1) x 20 ms: the
    // pool serves from 50 x 20 ms = 1.0 s.
    //
    // Arrivals every 100 ms from 0.1 s. The one at 1.0 s was scheduled at
    // 0.9 s, the last connect's completion at 0.98 s, so the arrival runs
    // first and is refused: 10 refused (0.1 .. 1.0 s), 20 served (1.1 .. 3.0 s).
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
    assert_eq!(o.observations.pools[0].serving_since, Some(SECOND));
    assert_eq!(p.serving_since_s, Some(1.0));
    assert_eq!(p.rejected_before_ready, 10);
    assert_eq!(p.requests, 20);
    assert_eq!(p.opens, 50);
    assert_eq!(p.connects, 50);
    assert_eq!(p.limiter_waits, 0, "50 connects fit in the burst of 100");
    let w = o.observations.pools[0].counters.warmup;
    assert_eq!((w.created, w.failed, w.retries), (50, 0, 0));
    // The first sample (t = 0) sees no connection yet and no traffic.
    let s = sample_at(&o.observations, 0);
    assert_eq!((s.open, s.serving), (0, false));
    // All requests after warmup are served from the 50 idle connections.
    assert_eq!(p.hits, 20);
    assert_eq!(p.failures, 0);
}

#[test]
fn warmup_sample_shows_held_connections_before_serving() {
    // Same warmup, sampled every 100 ms. Sequential creation: connection j
    // is done at (j+1) x 20 ms, so 5k are done by k x 100 ms. The sample at
    // k x 100 ms was scheduled at (k-1) x 100 ms, the completion at that same
    // instant was scheduled when its connect started, 20 ms before: the
    // sample runs first and sees 5k - 1 connections, all in use (held by the
    // warmup until it ends), none idle, not serving.
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
    // At 1.0 s the sample (scheduled at 0.9 s) still runs before the last
    // completion (scheduled at 0.98 s); at 1.1 s all 50 are idle and serving.
    let s = sample_at(&o.observations, SECOND);
    assert_eq!((s.open, s.serving), (49, false));
    let s = sample_at(&o.observations, 1100 * MILLISECOND);
    assert_eq!((s.open, s.in_use, s.idle, s.serving), (50, 0, 50, true));
}

#[test]
fn warmup_through_a_1_per_100ms_token_bucket() {
    // local_rate_limit 10/s burst 1: the bucket starts with 1 token.
    // Connection 0 takes it at 0 and is done at 20 ms. Connection 1 asks at
    // 20 ms: balance 0 + 0.2 - 1 = -0.8 token, due in 80 ms -> 100 ms, done
    // 120 ms. Connection 2 asks at 120 ms: -0.8 + 1.0 - 1 = -0.8 again -> due
    // 200 ms, done 220 ms. So connection k >= 1 connects at k x 100 ms and is
    // done at k x 100 ms + 20 ms: the 50th (k = 49) at 4.92 s. 49 connects
    // waited on the limiter, 80 ms each.
    //
    // Arrivals every 100 ms: 0.1 .. 4.9 s refused (49), 5.0 .. 6.0 s served (11).
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
        Some(4920 * MILLISECOND)
    );
    assert_eq!(p.limiter_waits, 49);
    assert_eq!(
        o.observations.pools[0].counters.driver.limiter_wait_ns,
        49 * 80 * MILLISECOND
    );
    assert_eq!(p.rejected_before_ready, 49);
    assert_eq!(p.requests, 11);
    assert_eq!(p.hits, 11);
    // One connect per 100 ms: never more than 10 in any second.
    assert_eq!(o.summary.max_connects_per_sec, 10);
}

#[test]
fn warmup_of_200_connections_is_spread_over_2_minutes() {
    // 200 connections (100 < 200 <= 500): stagger 2 min, a pause of
    // 120 s / 199 = 603_015_075 ns (integer division) between one
    // connection's end and the next one's start. The bucket refills 6 tokens
    // per pause, so no connect waits. Connection k starts at k x (20 ms +
    // pause) and ends 20 ms later; the last (k = 199) ends at
    // 199 x (20 ms + pause) + 20 ms = 200 x 20 ms + 199 x pause
    // = 4 s + 119.999999925 s = 123.999999925 s.
    let pause: Time = 120 * SECOND / 199;
    assert_eq!(pause, 603_015_075);
    let end = 200 * 20 * MILLISECOND + 199 * pause;
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
    assert_eq!(p.opens, 200);
    assert_eq!(p.limiter_waits, 0);
    // At 60 s: connection k is done at k x 623.015075 ms + 20 ms <= 60 s for
    // k <= 96: 97 connections, all held by the warmup, not serving.
    let s = sample_at(&obs, 60 * SECOND);
    assert_eq!((s.open, s.in_use, s.idle, s.serving), (97, 97, 0, false));
    // Never more than 2 connects in one second (one per 623 ms).
    assert_eq!(obs.connects_per_second.iter().max(), Some(&2));
}

// ---------------------------------------------------------------------------
// 2. Warmup retries
// ---------------------------------------------------------------------------

#[test]
fn warmup_retries_5_times_then_gives_a_connection_up() {
    // target 10 on a cluster that accepts 7 connections; keeper off so only
    // the warmup connects. Connections 0..6 succeed (20 ms each, 140 ms).
    // Connections 7, 8, 9 are each refused by the cluster on every attempt
    // (the 7 warmed connections are held, the cluster stays full): 1 attempt
    // + 5 retries, then given up. Counters: created 7, failed 3, retries
    // 3 x 5 = 15; the cluster saw 7 + 3 x 6 = 25 connects and refused 18.
    //
    // Timing: a refused connect fails after its 20 ms latency. Back-offs of
    // retry 1..5 are b x U[0.5, 1.5) with b = 200, 400, 800, 1600, 3200 ms,
    // i.e. 3.1 s to 9.3 s in total per connection. The warmup ends between
    // 140 ms + 3 x (6 x 20 ms + 3.1 s) = 9.8 s and 140 ms + 3 x (120 ms
    // + 9.3 s) = 28.4 s (exclusive).
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
    assert_eq!((w.created, w.failed, w.retries), (7, 3, 15));
    assert_eq!(p.opens, 7);
    assert_eq!(p.connects, 25);
    assert_eq!(obs.cluster_refusals, (0, 18));
    assert_eq!(
        obs.pools[0].counters.open_failures[RefillFailure::ConnectionOpen as usize],
        18
    );
    assert_eq!(obs.pools[0].counters.sql.open_failures, 18);
    let since = obs.pools[0].serving_since.expect("warmup ends");
    assert!(
        (9800 * MILLISECOND..28_400 * MILLISECOND).contains(&since),
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
    // target 10, warmup: c0..c9 done at 20..200 ms, all released at 200 ms
    // in that order: free list [c0 .. c9], returnedAt 200 ms. Requests at
    // 1 s, 2 s, ... hold 10 ms: never two at once. LIFO: each one takes the
    // most recently returned connection, c9, and puts it back on top. c0..c8
    // stay idle since 200 ms.
    //
    // Cleaner: period = max_idle_time 5 s (ConnMaxLifetime 55 m is longer).
    // At 5 s nothing is idle > 5 s (200 ms + 5 s = 5.2 s); Go's next delay
    // is 0.2 s, raised to the 1 s minimum -> 6 s: c0..c8 idle since 200 ms
    // are closed (idle_time 9 = target - 1). c9 is back every second, never
    // idle 5 s. Keeper off, so nothing reopens them.
    //
    // (A FIFO list would rotate all ten, each idle 10 s, and close them all.)
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
    assert_eq!(closes(&p, "idle_time"), 9);
    assert_eq!(closes(&p, "lifetime"), 0);
    assert_eq!(p.opens, 10);
    assert_eq!(p.requests, 60);
    assert_eq!(p.hits, 60);
    assert_eq!(p.waited, 0);
    assert_eq!(p.wait_ms.max, 0.0);
    assert_eq!(p.failures, 0);
    // (Go starts its cleaner at the first put to the free list, 200 ms, and
    // would close them at 6.2 s; the world runs it from t = 0, a documented
    // simplification.)
    // The cleaner's first run (5 s) was scheduled when the world was built,
    // before any sample, so it runs first at 5 s and schedules its 6 s run
    // before the 5 s sample schedules the 6 s one: the 6 s sample sees the
    // closes.
    assert_eq!(sample_at(&obs, 5 * SECOND).open, 10);
    assert_eq!(sample_at(&obs, 6 * SECOND).open, 1);
    assert_eq!(obs.samples.last().unwrap().open, 1);
}

#[test]
fn release_above_max_idle_closes_the_connection() {
    // target 5, MaxIdle 2, keeper off, no workload. The warmup holds c0..c4
    // and releases them in order at 100 ms: c0 and c1 fill the free list,
    // c2, c3, c4 find it at MaxIdle and are closed (max_idle 3).
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
    assert_eq!(p.opens, 5);
    assert_eq!(closes(&p, "max_idle"), 3);
    assert_eq!(p.open_peak, 5);
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.idle), (2, 2));
}

// ---------------------------------------------------------------------------
// 4. ConnMaxLifetime
// ---------------------------------------------------------------------------

#[test]
fn max_lifetime_closes_connections_at_pick_and_by_the_cleaner() {
    // target 3, warmup: c0, c1, c2 created at 20, 40, 60 ms; free list
    // [c0, c1, c2]. Requests every 0.5 s (0.5 s, 1.0 s, ...), hold 10 ms:
    // LIFO, each takes c2. Keeper off. max_lifetime 1m: expired means
    // created + 60 s < now (strictly). Cleaner period 60 s.
    //
    // - 60.0 s: the cleaner (scheduled at 0, before the arrival) finds none
    //   expired (ends 60.02, 60.04, 60.06 s); next in max(20 ms, 1 s) = 1 s.
    //   The arrival takes c2 (not expired yet).
    // - 60.5 s: the arrival picks c2 (60.06 < 60.5): closed, ErrBadConn
    //   (lifetime 1); retry 1 (cached) picks c1, expired too (lifetime 2);
    //   retry 2 forces a new connection: numOpen 1 < 3, c3 created at
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
    target_size: 3
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
    // target 2 (warmed: c0, c1 by 40 ms), keeper off. Arrivals every 100 ms
    // from 0.1 s, each holding 1 s; request_timeout 250 ms.
    // - 0.1 s and 0.2 s take the two free connections at once (2 hits).
    // - Every later request waits (numOpen = MaxOpen = 2).
    // - A connection released at t goes to a random waiter; the waiters at t
    //   are the arrivals in (t - 250 ms, t): t - 200 ms and t - 100 ms (the
    //   hold end at t runs before the arrival at t, scheduled later). One of
    //   them is always still there (the other connection's release came
    //   100 ms earlier or later and took at most one). So each connection
    //   is busy without a gap: c1 serves arrivals near 0.1, 1.1, ..., 9.1 s,
    //   c0 near 0.2, ..., 9.2 s: 20 served, 18 of them after waiting.
    // - Arrivals 9.8, 9.9, 10.0 s have deadlines past the 10 s end and no
    //   release comes after 9.2 s: 3 still waiting at the end.
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
    assert_eq!(p.hits, 2);
    assert_eq!(p.hits_after_wait, 18);
    assert_eq!(p.failures, 77);
    assert_eq!(cause(&p, "deadline"), 77);
    assert_eq!(p.waited, 18 + 77);
    assert_eq!(p.wait_ms.max, 250.0);
    assert!(p.wait_ms.p99 <= 250.0);
    // Random, not FIFO, hand-off: a release at t chooses between the
    // arrivals at t - 200 ms and t - 100 ms (c0's release at x.2 s: x.0 s if
    // c1 left it, and x.1 s). FIFO would always serve the older one: every
    // hand-off 200 ms, mean wait (2 x 0 + 18 x 200 + 77 x 250) / 97
    // = 235.57 ms. Each hand-off to the younger waiter lowers the mean by
    // 100/97 = 1.03 ms (all 18: 217.0 ms). The histogram has 3 significant
    // digits (< 0.1 % error).
    // So 97 x mean - 77 x 250 = 3600 - 100 x (hand-offs to the younger).
    let fifo_mean = (18.0 * 200.0 + 77.0 * 250.0) / 97.0;
    assert!(p.wait_ms.mean < fifo_mean - 0.5, "{}", p.wait_ms.mean);
    let younger = (3600.0 - (97.0 * p.wait_ms.mean - 77.0 * 250.0)) / 100.0;
    assert!(
        (younger - younger.round()).abs() < 0.05 && (1.0..=18.0).contains(&younger.round()),
        "{younger}"
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

/// Requests at 0.1 s, 0.2 s, ... to a plain pool that serves at 0 with no
/// connection (warmup and keeper off), request_timeout 1 s, the default
/// staggered startup (seed 1: the first connect may not start before about
/// 2.06 s). `extra` is added at the top level.
fn stagger_vs_deadline(extra: &str) -> RunOutput {
    run(&format!(
        "
duration: 10s
{extra}
workload: {{type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 10ms}}
pool: {{warmup: false, keeper: false, request_timeout: 1s}}
pools:
  - name: p
    target_size: 5
"
    ))
}

#[test]
fn a_request_never_waits_past_its_deadline_during_the_startup_stagger() {
    // The requests at 0.1 .. 0.9 s open their own connections; their
    // deadlines (1.1 .. 1.9 s) pass before the first connect may start, so
    // they must fail at their deadline, after exactly 1 s (DOMAIN.md section
    // 7: "A request gives up at its deadline"). In the model they wait in the
    // driver's Startup stage until ~2.06 s, then the token bucket refuses
    // (deadline already past) and they fail `open_failed` after up to 1.96 s.
    let o = stagger_vs_deadline("");
    deadline_outcomes(pool0(&o));
}

/// The requests at 0.1 .. 0.5 s open their own connections (MaxOpen 5) and
/// fail `open_failed` at their deadlines; those at 0.6 .. 1.0 s queue and
/// fail `deadline`; those at 1.1 .. 2.0 s queue and are served once the
/// connects start (~2.06 s). Every failure waited exactly request_timeout.
fn deadline_outcomes(p: &PoolSummary) {
    assert_eq!(p.failures_by_cause["open_failed"], 5, "{p:?}");
    assert_eq!(p.failures_by_cause["deadline"], 5, "{p:?}");
    assert_eq!(p.failures, 10);
    assert_eq!(p.hits_after_wait, 10);
    assert_eq!(p.waited, 20);
    assert_eq!(p.wait_ms.max, 1000.0, "{:?}", p.wait_ms);
}

#[test]
fn a_request_never_waits_past_its_deadline_during_the_stagger_without_a_limiter() {
    let o = stagger_vs_deadline("local_rate_limit: 0");
    deadline_outcomes(pool0(&o));
}

// ---------------------------------------------------------------------------
// 6. Open counted at once, through the rate limiter
// ---------------------------------------------------------------------------

#[test]
fn opens_are_counted_at_once_and_paced_by_the_token_bucket() {
    // Warmup and keeper off: the pool serves at 0 with no connection.
    // Limiter 1/s burst 1, connect latency 0, target 10, requests every
    // 100 ms holding 1 min (so no connection is ever released), deadline 3 s.
    //
    // Each request below MaxOpen counts itself open at once and waits for a
    // token. Tokens are due at 0.1 s (the full bucket), then one per second
    // after the previous due time. A request at t gets the next token only
    // if it is due by t + 3 s; otherwise `Wait` fails at once (nothing
    // reserved) and the request fails `open_failed` without waiting.
    // - 0.1 s: due 0.1 s (hit: latency 0). 0.2, 0.3, 0.4 s: due 1.1, 2.1, 3.1 s.
    // - Next due 4.1 s: first reachable by the arrival at 1.1 s (deadline 4.1 s,
    //   inclusive), then 2.1 s -> 5.1 s, ..., 6.1 s -> 9.1 s: 10 opens.
    //   Arrivals 0.5 .. 1.0 (6) and x.2 .. (x+1).0 for x = 1..5 (5 x 9) fail:
    //   51 open_failed.
    // - From 6.2 s numOpen = 10 (3 of them still waiting for tokens): the
    //   requests queue, and fail at their deadline: arrivals 6.2 .. 9.0 s (29);
    //   9.1 .. 12.0 s (30) are still waiting at the end.
    // One connect per second: connections at 0.1, 1.1, ..., 9.1 s. Served
    // requests waited 0.9, 1.8, 2.7 s and then 3.0 s each: max 3 s.
    let (obs, p) = checked(
        "
duration: 12s
connect_latency: 0
local_rate_limit: 1
local_rate_limit_burst: 1
workload: {type: constant, checkout_rate: 10, arrival: uniform, hold_duration: 1m}
pool: {warmup: false, keeper: false, request_timeout: 3s}
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
    assert_eq!(cause(&p, "open_failed"), 51);
    assert_eq!(cause(&p, "deadline"), 29);
    assert_eq!(p.failures, 80);
    assert_eq!(
        p.waited,
        9 + 29,
        "refused reservations fail without waiting"
    );
    assert_eq!(p.wait_ms.max, 3000.0);
    assert_eq!(p.opens, 10);
    assert_eq!(p.connects, 10);
    assert_eq!(p.limiter_waits, 9);
    assert_eq!(
        obs.pools[0].counters.open_failures[RefillFailure::RateLimit as usize],
        51
    );
    assert_eq!(&obs.connects_per_second[..10], &[1; 10]);
    assert!(obs.connects_per_second[10..].iter().all(|&c| c == 0));
    // Counted at once: at 7 s only 7 connections exist (0.1 .. 6.1 s) but
    // requests already queue, since the 3 opens waiting for tokens count
    // toward MaxOpen. The 7 s sample runs before the 7 s arrival: arrivals
    // 6.2 .. 6.9 s (8) are queued, and the 3 requests whose opens wait for
    // their tokens (due 7.1, 8.1, 9.1 s) are waiting too: 11.
    let s = sample_at(&obs, 7 * SECOND);
    assert_eq!((s.open, s.in_use, s.waiting), (7, 7, 11));
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.waiting), (10, 29));
}

// ---------------------------------------------------------------------------
// 7. Keeper
// ---------------------------------------------------------------------------

#[test]
fn keeper_grows_the_pool_one_connection_per_second_ahead_of_demand() {
    // target 50: min(10, ceil(50 / 120)) = 1 creation per tick. Warmup off:
    // the pool serves at 0; the keeper's ticker fires at 1, 2, 3, ... s (a
    // time.Ticker's first tick comes one period after it starts). One
    // request per second (1 s, 2 s, ...) holds its connection for 10 min.
    //
    // At each instant k s the tick runs before the arrival (tick 1 was
    // scheduled when the world was built, before the first arrival; each
    // then schedules its successor in the same order), then the sample.
    // - k odd: the free list is empty; the tick opens K(k) (numOpen + 1,
    //   ready at k s + 20 ms, then put on the free list), and the arrival,
    //   finding no free connection, opens its own: it waits 20 ms.
    // - k even: the tick's db.Conn takes K(k-1) from the free list and gives
    //   it back (a top-up without a new connection); the arrival takes it
    //   at once (a hit).
    // So the sample at k s sees k - (k mod 2) connections, all in use.
    // Over 50 s: 50 connections (25 keeper, 25 own opens; at tick 50
    // numOpen = 50); 50 requests, 25 hits, 25 served after 20 ms;
    // 50 ticks, 49 top-ups (25 new + 24 reuses); at most 2 connects/s.
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
        let n = k - k % 2;
        assert_eq!((r.open, r.in_use, r.idle), (n, n, 0), "at {k} s");
    }
    assert_eq!(p.opens, 50);
    assert_eq!(p.requests, 50);
    assert_eq!((p.hits, p.hits_after_wait, p.waited), (25, 25, 25));
    assert_eq!(p.wait_ms.max, 20.0);
    let k = obs.pools[0].counters.keeper;
    assert_eq!(
        (k.ticks, k.topups, k.failures, k.busy_ticks),
        (50, 49, 0, 0)
    );
    assert_eq!(obs.connects_per_second.iter().max(), Some(&2));
    // Without the keeper every request opens its own connection and waits
    // 20 ms for it; the one arriving at the 50 s end is still connecting:
    // 49 hits after wait, 49 connections, of 50 requests.
    let (_, q) = checked(
        &yaml.replace("warmup: false", "warmup: false, keeper: false"),
        SECOND,
    );
    assert_eq!(q.requests, 50);
    assert_eq!((q.hits, q.hits_after_wait, q.opens), (0, 49, 49));
    assert_eq!(q.wait_ms.max, 20.0);
}

#[test]
fn keeper_reuses_the_idle_connection_and_never_grows_an_idle_pool() {
    // The keeper's creation is `db.Conn(ctx)`, `SELECT 1`, `Conn.Close()`
    // (production pool_keeper.go): it takes a free connection if there is
    // one. No workload, warmup off: the first tick opens c0 and puts it back
    // on the free list; every later creation takes c0 and gives it back. The pool
    // stays at 1 connection whatever the target, and every creation still
    // counts as a top-up.
    // The ticks come at 1, 2, ..., 60 s: tick 1 opens c0 (ready at
    // 1.02 s), every later creation reuses it.
    // - target 50: 1 per tick, 60 ticks: 60 top-ups, 1 open.
    // - target 600: 5 per tick, done one after the other: the first of tick
    //   1 opens c0 (20 ms), the other 4 reuse it; 60 x 5 = 300 top-ups.
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
        for r in o.observations.samples.iter().filter(|r| r.pool == 0) {
            assert_eq!(
                r.open,
                u32::from(r.t > SECOND),
                "target {target} at {}",
                r.t
            );
        }
        let k = o.observations.pools[0].counters.keeper;
        assert_eq!((k.ticks, k.topups), (60, 60 * per_tick), "target {target}");
        assert_eq!(pool0(&o).opens, 1, "target {target}");
    }
}

#[test]
fn keeper_first_tick_comes_one_period_after_start() {
    // Warmup off (serving at 0), no workload, target 5. Production: the
    // first tick at 1 s opens c0 at 1.02 s; samples every 100 ms see 0
    // connections up to and including 1.0 s, 1 from 1.1 s.
    let o = run("
duration: 2s
sample_every: 100ms
pool: {warmup: false}
pools:
  - name: p
    target_size: 5
    staggered_startup: false
");
    for r in o.observations.samples.iter().filter(|r| r.pool == 0) {
        let expected = u32::from(r.t > SECOND);
        assert_eq!(r.open, expected, "at {} ms", r.t / MILLISECOND);
    }
}

// ---------------------------------------------------------------------------
// 8. The server's 60-minute limit in the plain pool
// ---------------------------------------------------------------------------

#[test]
fn server_closes_every_connection_at_60_minutes_and_requests_retry() {
    // ConnMaxLifetime 0: database/sql never closes a connection itself (no
    // cleaner). Warmup: c0..c4 at 20..100 ms; free list [c0..c4]. Requests
    // every second, hold 10 ms: LIFO, all take c4. The server closes c0..c4
    // at 60 min + 20..100 ms (all 5 that reached 60 min in the 62 min run).
    // - 3601 s: the request takes c4: bad (bad_conns 1, closed bad 1);
    //   retry 1 (cached) takes c3: bad (2); retry 2 forces a new one:
    //   numOpen 3 < 5, c5 at 3601.02 s. Served after 20 ms, nothing fails.
    // - c0, c1, c2 (dead) stay under c5 on the free list, never used again.
    // - The keeper (ticks at 1.1 s + k) sees numOpen 4 < 5 from 3601.1 s on,
    //   and each tick's `db.Conn` takes c5 from the free list and gives it
    //   back: it counts a top-up but never opens a connection.
    let (obs, p) = checked(
        "
duration: 62m
workload: {type: constant, checkout_rate: 1, arrival: uniform, hold_duration: 10ms}
pool: {max_lifetime: 0}
pools:
  - name: p
    target_size: 5
    staggered_startup: false
",
        10 * SECOND,
    );
    assert_eq!(p.server_closed, 5);
    assert_eq!(p.bad_conns, 2);
    assert_eq!(closes(&p, "bad"), 2);
    assert_eq!(closes(&p, "lifetime"), 0);
    assert_eq!(p.opens, 6);
    assert_eq!(p.requests, 62 * 60);
    assert_eq!(p.failures, 0);
    assert_eq!(p.hits_after_wait, 1);
    assert_eq!(p.wait_ms.max, 20.0);
    // Ticks at 3601.1 .. 3719.1 s: 119 "top-ups" of a pool that stays at
    // numOpen 4, three of them dead.
    let k = obs.pools[0].counters.keeper;
    assert_eq!(k.topups, 119);
    // The last sample (62 min) runs after the arrival of that instant
    // (arrivals are always scheduled first): c5 in use, 3 dead ones idle.
    let last = obs.samples.last().unwrap();
    assert_eq!((last.open, last.idle, last.in_use), (4, 3, 1));
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
    // target 10: warmup done at 200 ms. Arrivals every 100 ms to 20 s (200).
    // Without measure_after: 0.1 s and 0.2 s (tie, arrival first) refused,
    // 198 served. With measure_after 5 s: only arrivals at >= 5 s count:
    // 5.0 .. 20.0 s = 151, none refused; the other counters count from 5 s,
    // after the warmup: 0 opens.
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
    assert_eq!((a.requests, a.rejected_before_ready, a.opens), (198, 2, 10));
    assert_eq!((l.requests, l.rejected_before_ready, l.opens), (151, 0, 0));
    assert_eq!(a.requests - l.requests, 47, "arrivals 0.3 .. 4.9 s");
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
