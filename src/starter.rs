//! `poolsim init`: commented starter scenarios, one per mode, that validate
//! and whose assertions hold (tests/schema.rs checks both).

/// Which kind of pool a starter scenario sets up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StarterMode {
    /// database/sql on the reservoir driver (the production wiring).
    Reservoir,
    /// The plain database/sql pool.
    Pool,
}

const HEADER: &str = "\
# yaml-language-server: $schema=poolsim.schema.json
# A poolsim scenario. Editors that speak the YAML language server complete
# and check its keys once the schema is beside it:
#     poolsim schema > poolsim.schema.json
# Run it:         poolsim run FILE          (summary, charts, report.html)
# Compare modes:  poolsim compare FILE      (reservoir vs plain pool, same requests)
# Gate it in CI:  poolsim check FILE --seeds 1..8
# Every key and its default: README.md, \"Scenario keys\". Durations use Go's
# syntax (250ms, 45s, 11m, 1h30m); rates are per second.
";

const COMMON: &str = "\
seed: 1                   # seed of every random stream (check --seeds overrides it)
duration: 30m             # simulated time
measure_after: 1m         # leave the startup out of statistics and assertions

# The requests: open-loop arrivals, each holding a connection for a while.
# Every pool gets this workload unless it has its own (pools[].workload).
workload:
  type: constant          # or burst: baseline_rate, burst_rate, burst_duration, burst_interval
  checkout_rate: 20       # requests per second, per pool
  hold_duration: 100ms    # mean time a request holds its connection
  hold_distribution: exponential   # fixed | uniform | exponential | lognormal
  arrival: poisson        # poisson | uniform

# Client-side limit on new connections, shared by every pool (default: none).
global_rate_limit: 100

# The DSQL cluster (these are its defaults).
cluster:
  max_connections: 10000  # connections it allows at once
  connect_rate: 100       # new connections per second it accepts
  max_connection_age: 60m # it closes every connection at this age
";

const RESERVOIR: &str = "\
name: \"My service (reservoir)\"
description: \"One history instance: database/sql on the connection reservoir\"
";

const RESERVOIR_POOLS: &str = "
pools:
  - name: history
    target_size: 50       # MaxOpen of database/sql
    reservoir:
      enabled: true
      stack: database_sql # the production wiring; direct: requests take from the reservoir and give back
      target_ready: 50    # connections the refiller keeps ready
      low_watermark: 25   # the initial fill waits for this many
      base_lifetime: 11m  # lifetime = base_lifetime + U[0, jitter)
      jitter: 2m
      guard_window: 45s   # a connection with less life left is discarded, never handed out
      empty_wait: 100ms   # how long Open() waits for the next connection when the buffer is empty

# Checks of the run: poolsim exits 1 if one fails (check: in too many seeds).
assertions:
  - type: request_failures      # every request got a connection
    max: 0
  - type: wait_time             # 99% of requests waited at most 5 ms
    percentile: 99
    max: 5ms
  - type: max_connects_per_sec  # never more than 50 connects in a second, cluster-wide
    max: 50
";

const POOL: &str = "\
name: \"My service (plain pool)\"
description: \"One history instance on a plain database/sql pool\"
";

const POOL_POOLS: &str = "
pools:
  - name: history
    target_size: 50       # MaxOpen
    pool:                 # database/sql settings (production defaults)
      max_idle: 50        # MaxIdleConns
      max_lifetime: 55m   # ConnMaxLifetime (0 = none)
      max_idle_time: 0    # ConnMaxIdleTime (0 = none)
      warmup: true        # open the connections before taking traffic
      keeper: true        # keep the pool at size once warmed up
      request_timeout: 30s

# Checks of the run: poolsim exits 1 if one fails (check: in too many seeds).
assertions:
  - type: request_failures      # every request got a connection
    max: 0
  - type: wait_time             # 99% of requests waited at most 5 ms
    percentile: 99
    max: 5ms
  - type: pool_at_size          # the pool never fell below 90% of target_size once serving
    min_fraction: 0.9
";

/// The starter scenario of `mode`.
pub fn starter(mode: StarterMode) -> String {
    let (head, pools) = match mode {
        StarterMode::Reservoir => (RESERVOIR, RESERVOIR_POOLS),
        StarterMode::Pool => (POOL, POOL_POOLS),
    };
    format!("{HEADER}\n{head}{COMMON}{pools}")
}
